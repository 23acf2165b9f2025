//! Master-key rotation while serving (`relay admin keys rotate`, `POST /v1/keys/rotate`)
//! and the sealed tokens on disk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::{MASTER_KEY, OPERATOR_TOKEN, World, relay_bin};
use reqwest::Method;
use serde_json::{Value, json};

fn files_contain(dir: &std::path::Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                return true;
            }
        }
    }
    false
}

#[tokio::test]
async fn rotation_reseals_every_token_and_a_restart_with_only_the_new_key_opens_them() {
    let mut w = World::new().await.unwrap();
    // No plaintext token anywhere in the data directory.
    for t in [
        "EAAG-secret-access-token-Boutique A",
        "EAAG-secret-access-token-Bakery B",
    ] {
        assert!(
            !files_contain(&w.options.data_dir, t.as_bytes()),
            "{t} on disk"
        );
    }
    let refused = w
        .api
        .call(
            Method::POST,
            "/v1/keys/rotate",
            Some(&w.a.owner_token),
            Some(&json!({"key": MASTER_KEY})),
        )
        .await
        .unwrap();
    assert_eq!(refused.0, 403, "operator only");
    let bad = w
        .api
        .call(
            Method::POST,
            "/v1/keys/rotate",
            Some(OPERATOR_TOKEN),
            Some(&json!({"key": "c2hvcnQ="})),
        )
        .await
        .unwrap();
    assert_eq!(bad.0, 400);
    // The CLI makes the key, asks the relay, prints the key once.
    let out = tokio::process::Command::new(relay_bin().unwrap())
        .args(["admin", "--url", &w.api.url, "keys", "rotate"])
        .env("RELAY_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RELAY_MASTER_KEY="))
        .unwrap()
        .to_owned();
    let answer: Value =
        serde_json::from_str(&stdout[..stdout.find("RELAY_MASTER_KEY=").unwrap()]).unwrap();
    assert_eq!(answer["channels"], 4, "{answer}");
    assert_eq!(answer["resealed"], 4, "{answer}");
    assert_eq!(answer["failed"], 0, "{answer}");
    assert_ne!(answer["key_id"], answer["previous_key_id"]);
    assert!(
        !answer.to_string().contains(&new_key),
        "the answer never holds the key"
    );
    // A second rotation to the same key has nothing left to re-seal.
    let again = w
        .api
        .expect(
            Method::POST,
            "/v1/keys/rotate",
            OPERATOR_TOKEN,
            Some(json!({"key": new_key})),
            200,
        )
        .await
        .unwrap();
    assert_eq!(again["resealed"], 0, "{again}");
    let log = std::fs::read_to_string(&w.options.log).unwrap();
    assert!(!log.contains(&new_key), "the new key is never logged");
    // Restart with only the new key: every token opens (a rotation to it re-seals nothing
    // and fails nothing), and the old key is gone from the ring.
    w.stop().await.unwrap();
    w.options
        .extra_env
        .push(("RELAY_MASTER_KEY".into(), new_key.clone()));
    w.options
        .extra_env
        .push(("RELAY_OLD_MASTER_KEYS".into(), String::new()));
    w.start_again().await.unwrap();
    let after = w
        .api
        .expect(
            Method::POST,
            "/v1/keys/rotate",
            OPERATOR_TOKEN,
            Some(json!({"key": new_key})),
            200,
        )
        .await
        .unwrap();
    assert_eq!(
        (after["resealed"].clone(), after["failed"].clone()),
        (json!(0), json!(0)),
        "{after}"
    );
    for t in [
        "EAAG-secret-access-token-Boutique A",
        "EAAG-secret-access-token-Bakery B",
    ] {
        assert!(
            !files_contain(&w.options.data_dir, t.as_bytes()),
            "{t} on disk"
        );
    }
    w.secrets.push(new_key);
    w.assert_log_has_no_secrets().unwrap();
}
