#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::collections::HashMap;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn full_env() -> HashMap<&'static str, String> {
    HashMap::from([
        ("RELAY_OPERATOR_TOKEN", "op-token-0123456789".to_owned()),
        ("RELAY_MASTER_KEY", KEY.to_owned()),
        ("META_APP_ID", "1234".to_owned()),
        ("META_APP_SECRET", "app-secret".to_owned()),
        ("META_VERIFY_TOKEN", "verify-me".to_owned()),
    ])
}

fn load(file: Option<&Path>, env: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
    Config::load(file, |k| env.get(k).cloned())
}

#[track_caller]
fn check_error(remove: &str, expected: &str) {
    let mut env = full_env();
    env.remove(remove);
    let err = load(None, &env).unwrap_err().to_string();
    assert_eq!(err, expected);
}

#[test]
fn missing_required_values_are_named_in_one_line() {
    check_error(
        "RELAY_OPERATOR_TOKEN",
        "RELAY_OPERATOR_TOKEN is required (set it in the environment or as `operator_token` in the config file)",
    );
    check_error(
        "RELAY_MASTER_KEY",
        "RELAY_MASTER_KEY is required (set it in the environment or as `master_key` in the config file)",
    );
    check_error(
        "META_APP_SECRET",
        "META_APP_SECRET is required (set it in the environment or as `meta_app_secret` in the config file)",
    );
    check_error(
        "META_VERIFY_TOKEN",
        "META_VERIFY_TOKEN is required (set it in the environment or as `meta_verify_token` in the config file)",
    );
    check_error(
        "META_APP_ID",
        "META_APP_ID is required (set it in the environment or as `meta_app_id` in the config file)",
    );
}

#[test]
fn defaults_follow_the_design() {
    let c = load(None, &full_env()).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.public_url, "http://127.0.0.1:8080");
    assert_eq!(c.data_dir, PathBuf::from("./relay-data"));
    assert_eq!(c.storage, StorageKind::Sled);
    assert!(!format!("{:?}", c.master_key).contains("31"));
    assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY);
    assert_eq!(c.media_max_bytes, 25_000_000);
    assert!(c.instagram_app_secret.is_none());
    assert_eq!(c.shutdown_bound, std::time::Duration::from_secs(10));
}

#[test]
fn the_shutdown_bound_is_a_positive_number_of_seconds() {
    let mut env = full_env();
    env.insert("RELAY_SHUTDOWN_SECS", "3".into());
    assert_eq!(
        load(None, &env).unwrap().shutdown_bound,
        std::time::Duration::from_secs(3)
    );
    env.insert("RELAY_SHUTDOWN_SECS", "0".into());
    let err = load(None, &env).unwrap_err().to_string();
    assert!(err.contains("RELAY_SHUTDOWN_SECS"), "{err}");
}

#[test]
fn environment_wins_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:9000\"\ndata_dir = \"/tmp/from-file\"\n",
    )
    .unwrap();
    let mut env = full_env();
    let c = load(Some(&path), &env).unwrap();
    assert_eq!(c.listen.port(), 9000);
    assert_eq!(c.data_dir, PathBuf::from("/tmp/from-file"));
    env.insert("RELAY_LISTEN", "127.0.0.1:9100".into());
    let c = load(Some(&path), &env).unwrap();
    assert_eq!(c.listen.port(), 9100);
    assert_eq!(c.data_dir, PathBuf::from("/tmp/from-file"));
}

#[test]
fn bad_values_are_explained() {
    let mut env = full_env();
    env.insert("RELAY_MASTER_KEY", "c2hvcnQ=".into());
    assert_eq!(
        load(None, &env).unwrap_err().to_string(),
        "RELAY_MASTER_KEY is invalid: must decode to 32 bytes, got 5"
    );
    let mut env = full_env();
    env.insert("RELAY_STORAGE", "mongo".into());
    assert!(
        load(None, &env)
            .unwrap_err()
            .to_string()
            .contains("neither `sled` nor `postgres`")
    );
    let mut env = full_env();
    env.insert("RELAY_STORAGE", "postgres".into());
    assert!(
        load(None, &env)
            .unwrap_err()
            .to_string()
            .starts_with("DATABASE_URL is required")
    );
}

#[test]
fn unknown_file_keys_are_rejected_and_secrets_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.toml");
    std::fs::write(&path, "listne = \"x\"\n").unwrap();
    let err = load(Some(&path), &full_env()).unwrap_err().to_string();
    assert!(err.contains("listne"), "{err}");
    let shown = format!("{:?}", load(None, &full_env()).unwrap());
    for secret in ["op-token-0123456789", "app-secret", "verify-me", KEY] {
        assert!(!shown.contains(secret), "{secret} leaked in {shown}");
    }
}

#[test]
fn tls_needs_both_files() {
    let mut env = full_env();
    env.insert("RELAY_TLS_CERT", "/etc/relay/cert.pem".into());
    let err = load(None, &env).unwrap_err().to_string();
    assert!(
        err.starts_with("RELAY_TLS_KEY is required when RELAY_TLS_CERT is set"),
        "{err}"
    );
    assert!(!err.contains('\n'));
    env.remove("RELAY_TLS_CERT");
    env.insert("RELAY_TLS_KEY", "/etc/relay/key.pem".into());
    let err = load(None, &env).unwrap_err().to_string();
    assert!(
        err.starts_with("RELAY_TLS_CERT is required when RELAY_TLS_KEY is set"),
        "{err}"
    );
    env.insert("RELAY_TLS_CERT", "/etc/relay/cert.pem".into());
    let config = load(None, &env).unwrap();
    let tls = config.tls.unwrap();
    assert_eq!(tls.cert, PathBuf::from("/etc/relay/cert.pem"));
    assert!(config.public_url.starts_with("https://"));
    assert!(load(None, &full_env()).unwrap().tls.is_none());
}

#[test]
fn trusted_proxies_are_checked_at_start() {
    let mut env = full_env();
    env.insert("RELAY_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16".into());
    let config = load(None, &env).unwrap();
    assert!(
        config
            .trusted_proxies
            .trusts("192.168.4.4".parse().unwrap())
    );
    env.insert("RELAY_TRUSTED_PROXIES", "10.0.0.1, nginx".into());
    let err = load(None, &env).unwrap_err().to_string();
    assert_eq!(
        err,
        "RELAY_TRUSTED_PROXIES is invalid: `nginx` is neither an IP address nor a CIDR like 10.0.0.0/8"
    );
}
