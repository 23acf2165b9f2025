//! The `relay` binary's command line. Being an integration test of this package, it also
//! makes `cargo test --workspace` build `target/<profile>/relay`, which the workspace's
//! end-to-end tests run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn relay() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_relay"));
    c.env_clear();
    c
}

#[test]
fn help_lists_the_subcommands() {
    let out = relay().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for sub in ["serve", "admin", "audit"] {
        assert!(text.contains(sub), "{text}");
    }
    let out = relay().args(["admin", "--help"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for sub in [
        "partners", "tenants", "viewers", "agents", "channels", "threads", "messages",
    ] {
        assert!(text.contains(sub), "{text}");
    }
}

#[test]
fn each_missing_required_value_is_named_in_one_line() {
    let all = [
        ("RELAY_OPERATOR_TOKEN", "op-token-0123456789"),
        (
            "RELAY_MASTER_KEY",
            "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
        ),
        ("META_APP_ID", "1"),
        ("META_APP_SECRET", "s"),
        ("META_VERIFY_TOKEN", "v"),
    ];
    for (missing, _) in all {
        let mut cmd = relay();
        cmd.arg("serve").env("RELAY_LISTEN", "127.0.0.1:0");
        for (k, v) in all.iter().filter(|(k, _)| *k != missing) {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("relay: {missing} is required")),
            "{stderr}"
        );
        for (_, secret) in all {
            if secret.len() > 2 {
                assert!(!stderr.contains(secret), "{stderr}");
            }
        }
    }
}

#[test]
fn admin_without_operator_token_says_so() {
    let out = relay()
        .args(["admin", "threads", "list", "--tenant", "tn_x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.trim(),
        "relay: RELAY_OPERATOR_TOKEN is required for admin commands"
    );
}

#[test]
fn an_unreachable_database_stops_start_up_without_showing_its_password() {
    // Port 1 on loopback: nothing listens, so the connection is refused at once (and no
    // real database is ever touched by this test).
    let out = relay()
        .arg("serve")
        .env("RELAY_LISTEN", "127.0.0.1:0")
        .env("RELAY_STORAGE", "postgres")
        .env(
            "DATABASE_URL",
            "postgres://root:hunter2-db-pass@127.0.0.1:1/nowhere",
        )
        .env("RELAY_OPERATOR_TOKEN", "op-token-0123456789")
        .env(
            "RELAY_MASTER_KEY",
            "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
        )
        .env("META_APP_ID", "1")
        .env("META_APP_SECRET", "s")
        .env("META_VERIFY_TOKEN", "v")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("storage failed"), "{stderr}");
    assert!(!stderr.contains("hunter2-db-pass"), "{stderr}");
}
