#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn pair(dir: &Path, name: &str) -> TlsFiles {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let files = TlsFiles {
        cert: dir.join(format!("{name}.crt")),
        key: dir.join(format!("{name}.key")),
        poll: Duration::from_secs(60),
    };
    std::fs::write(&files.cert, made.cert.pem()).unwrap();
    std::fs::write(&files.key, made.signing_key.serialize_pem()).unwrap();
    files
}

#[test]
fn a_good_pair_loads() {
    let dir = tempfile::tempdir().unwrap();
    let files = pair(dir.path(), "a");
    assert_eq!(load(&files).unwrap().cert.len(), 1);
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = pair(dir.path(), "a");
    let b = pair(dir.path(), "b");
    let mixed = TlsFiles {
        key: b.key.clone(),
        ..a
    };
    let err = load(&mixed).unwrap_err().to_string();
    assert!(err.contains("does not belong to the certificate"), "{err}");
}

#[test]
fn errors_name_the_file_and_never_quote_it() {
    let dir = tempfile::tempdir().unwrap();
    let files = pair(dir.path(), "a");
    // A damaged key file: its lines are key material and must not be echoed.
    let key = std::fs::read_to_string(&files.key).unwrap();
    let secret_line = key.lines().nth(1).unwrap().to_owned();
    let cut: String = key.lines().take(3).collect::<Vec<_>>().join("\n");
    std::fs::write(&files.key, &cut).unwrap();
    let err = load(&files).unwrap_err().to_string();
    assert!(err.contains("a.key"), "{err}");
    assert!(!err.contains(&secret_line[..20]), "{err}");
    let mut bad_begin = String::from("-----BEGIN PRIVATE KEY");
    bad_begin.push_str(&secret_line);
    std::fs::write(&files.key, bad_begin).unwrap();
    let err = load(&files).unwrap_err().to_string();
    assert!(!err.contains(&secret_line[..20]), "{err}");

    std::fs::write(&files.key, "no pem here").unwrap();
    let err = load(&files).unwrap_err().to_string();
    assert!(err.contains("holds no PEM private key"), "{err}");
    std::fs::write(&files.cert, "").unwrap();
    let err = load(&files).unwrap_err().to_string();
    assert!(err.contains("holds no PEM certificate"), "{err}");
    let missing = TlsFiles {
        cert: dir.path().join("missing.crt"),
        ..files
    };
    let err = load(&missing).unwrap_err().to_string();
    assert!(
        err.contains("missing.crt") && err.contains("not found"),
        "{err}"
    );
}

#[test]
fn a_bad_reload_keeps_the_current_pair() {
    let dir = tempfile::tempdir().unwrap();
    let files = pair(dir.path(), "a");
    let tls = Tls::new(files.clone()).unwrap();
    let before = tls.slot.get();
    std::fs::write(&files.key, "garbage").unwrap();
    assert!(!tls.reload("test"));
    assert!(Arc::ptr_eq(&before, &tls.slot.get()));
    let fresh = pair(dir.path(), "a");
    assert!(tls.reload("test"));
    assert!(!Arc::ptr_eq(&before, &tls.slot.get()));
    assert_eq!(fresh, files);
}
