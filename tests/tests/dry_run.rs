//! The offline commands of the `relay` binary for knowledge files, run as an owner would:
//! `relay draft --knowledge FILE` (JSON lines in, one JSON line out per input, exit 2 with
//! line and key on a bad file), `RELAY_LANG_DIR` (a partner's replaced language file is
//! used, one missing a phrase is refused and logged) and `relay knowledge upgrade`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn asset(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../assets")
        .join(path)
}

/// Runs `relay` with `args` and `envs`, `stdin` written in full and closed.
fn relay(args: &[&str], envs: &[(&str, &Path)], stdin: &str) -> Output {
    let mut cmd = Command::new(harness::relay_bin().unwrap());
    cmd.args(args)
        .env_remove("LLM_BASE_URL")
        .env_remove("RELAY_LANG_DIR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn draft(v: &Value) -> &str {
    v["draft"].as_str().unwrap_or_default()
}

#[test]
fn draft_answers_one_json_line_per_input_line_and_a_bad_line_is_an_error() {
    let knowledge = asset("knowledge/boutique.toml");
    let input = concat!(
        r#"{"id": "a1", "text": "how much is the wrap dress?", "channel": "whatsapp"}"#,
        "\n",
        "this is not json\n",
        "\n",
        r#"{"id": 7, "text": "my lawyer will call you about the dress", "channel": "instagram"}"#,
        "\n",
    );
    let out = relay(
        &["draft", "--knowledge", knowledge.to_str().unwrap()],
        &[],
        input,
    );
    assert!(out.status.success(), "{out:?}");
    let got = lines(&out);
    assert_eq!(got.len(), 3, "one line per non-empty input: {got:?}");
    let keys = [
        "draft", "facts", "handoff", "id", "language", "reason", "verdict",
    ];
    for v in &got {
        let mut have: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        have.sort_unstable();
        assert_eq!(have, keys, "{v}");
    }
    assert_eq!(got[0]["id"], "a1");
    assert_eq!(got[0]["handoff"], false, "{}", got[0]);
    assert!(draft(&got[0]).contains("Rp"), "{}", got[0]);
    assert!(
        !got[0]["facts"].as_array().unwrap().is_empty(),
        "{}",
        got[0]
    );
    assert_eq!(got[0]["language"], "en");
    assert_eq!(got[1]["verdict"], "error", "{}", got[1]);
    assert!(got[1]["draft"].is_null());
    assert!(
        got[1]["reason"].as_str().unwrap().contains("line 2"),
        "{}",
        got[1]
    );
    assert_eq!(got[2]["id"], 7);
    assert_eq!(got[2]["handoff"], true, "{}", got[2]);
    assert_eq!(got[2]["verdict"], "handoff");
    assert!(got[2]["draft"].is_null());
}

#[test]
fn draft_refuses_a_bad_knowledge_file_with_line_and_key_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[business]\nname = \"Shop\"\ncurrency = \"USD\"\ncolour = \"red\"\n",
    )
    .unwrap();
    let out = relay(&["draft", "--knowledge", bad.to_str().unwrap()], &[], "");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 4") && err.contains("colour"), "{err}");
    assert!(out.stdout.is_empty());
}

/// `file` of the shipped language files with `phrase` re-worded and, if `drop` is given,
/// that phrase removed.
fn language_file(dir: &Path, code: &str, phrase: &str, text: &str, drop: Option<&str>) {
    let shipped = std::fs::read_to_string(asset(&format!("lang/{code}.toml"))).unwrap();
    let mut out = String::new();
    for line in shipped.lines() {
        if drop.is_some_and(|d| line.starts_with(&format!("{d} = "))) {
            continue;
        }
        if line.starts_with(&format!("{phrase} = ")) {
            out.push_str(&format!("{phrase} = \"{text}\"\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(dir.join(format!("{code}.toml")), out).unwrap();
}

#[test]
fn a_partners_language_file_replaces_the_shipped_one_unless_a_phrase_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    // Spanish re-worded in full: used. Portuguese re-worded but lacking a phrase: refused.
    language_file(
        dir.path(),
        "es",
        "price_one",
        "Precio de socio: {item}{label}, {price}.",
        None,
    );
    language_file(
        dir.path(),
        "pt",
        "price_one",
        "Preço de parceiro: {item}{label}, {price}.",
        Some("greeting"),
    );
    let knowledge = asset("eval/dev/knowledge/pedalea.toml");
    let input = concat!(
        r#"{"id": 1, "text": "cuánto cuesta el candado?", "channel": "whatsapp"}"#,
        "\n",
        r#"{"id": 2, "text": "quanto custa o cadeado?", "channel": "whatsapp"}"#,
        "\n",
    );
    let args = ["draft", "--knowledge", knowledge.to_str().unwrap()];
    let out = relay(&args, &[("RELAY_LANG_DIR", dir.path())], input);
    assert!(out.status.success(), "{out:?}");
    let got = lines(&out);
    assert!(draft(&got[0]).contains("Precio de socio"), "{}", got[0]);
    assert_eq!(got[1]["language"], "pt", "{}", got[1]);
    assert!(!draft(&got[1]).contains("parceiro"), "{}", got[1]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("language file refused") && err.contains("greeting"),
        "{err}"
    );
    // Without the directory both answer with the shipped phrases.
    let plain = lines(&relay(&args, &[], input));
    assert!(!draft(&plain[0]).contains("socio"), "{}", plain[0]);
    assert_eq!(draft(&plain[1]), draft(&got[1]));
}

#[test]
fn knowledge_upgrade_writes_v2_that_loads_and_refuses_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = asset("knowledge/bakery.toml");
    let out = relay(&["knowledge", "upgrade", v1.to_str().unwrap()], &[], "");
    assert!(out.status.success(), "{out:?}");
    let v2 = String::from_utf8(out.stdout).unwrap();
    assert!(v2.contains("version = 2\n"), "{v2}");
    assert!(v2.contains("languages = [\"en\", \"id\"]"), "{v2}");
    assert!(v2.starts_with("# Sourdough Lane"), "comments are kept");
    // --out writes the same text, which `relay draft` loads.
    let file = dir.path().join("bakery-v2.toml");
    let out = relay(
        &[
            "knowledge",
            "upgrade",
            v1.to_str().unwrap(),
            "--out",
            file.to_str().unwrap(),
        ],
        &[],
        "",
    );
    assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), v2);
    let ok = relay(
        &["draft", "--knowledge", file.to_str().unwrap()],
        &[],
        "{\"id\": 1, \"text\": \"hi\", \"channel\": \"whatsapp\"}\n",
    );
    assert!(ok.status.success(), "{ok:?}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[business]\nname = \"Shop\"\ncurrency = \"USD\"\n\n[[items]]\nsku = \"A\"\nname = \"Cup\"\nprice = \"cheap\"\n").unwrap();
    let out = relay(&["knowledge", "upgrade", bad.to_str().unwrap()], &[], "");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 8") && err.contains("price"), "{err}");
    assert!(out.stdout.is_empty());
}
