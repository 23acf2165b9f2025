//! Every admin route has a `relay admin` command. The routes are read from the router's
//! source (`src/http.rs`: every `/v1/…` route and method but the desk's WebSocket); each
//! command of the table below is run by the real binary against a stand-in relay that
//! records what it was asked; the recorded requests must cover every route. A route added
//! without a command fails here, naming it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

const ROUTER: &str = include_str!("../src/http.rs");

type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// (METHOD, path pattern) of every admin route in the router.
fn admin_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for chunk in ROUTER.split(".route(").skip(1) {
        let Some(rest) = chunk.trim_start().strip_prefix('"') else {
            continue;
        };
        let (path, handlers) = rest.split_once('"').unwrap();
        if !path.starts_with("/v1/") || path == "/v1/desk" {
            continue;
        }
        for method in ["get", "post", "put", "patch", "delete"] {
            if calls(handlers, method) {
                routes.insert((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    routes
}

/// Whether `text` calls the routing function `name` (`get(…)`, `.post(…)`), not a
/// handler whose name merely starts with it.
fn calls(text: &str, name: &str) -> bool {
    let call = format!("{name}(");
    text.match_indices(&call).any(|(at, _)| {
        text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'))
    })
}

/// Whether a concrete path is an instance of a route pattern (`{…}` is one segment).
fn matches(pattern: &str, path: &str) -> bool {
    let (p, q): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == q.len()
        && p.iter()
            .zip(&q)
            .all(|(p, q)| (p.starts_with('{') && !q.is_empty()) || p == q)
}

/// A stand-in relay answering `{}` to everything, recording each request.
fn recorder() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
                let record = Arc::clone(&record);
                async move {
                    let path = req.uri().path().to_owned();
                    record
                        .lock()
                        .unwrap()
                        .push((req.method().to_string(), path.clone()));
                    // An import goes on with the tenant the relay names; everything else
                    // is content with an empty object.
                    if path == "/v1/tenants/import" {
                        axum::Json(serde_json::json!({"tenant": "t1", "head": 1}))
                    } else {
                        axum::Json(serde_json::json!({}))
                    }
                }
            });
            axum::serve(listener, app).await.unwrap();
        });
    });
    (url, seen)
}

#[test]
fn every_admin_route_has_a_relay_admin_command() {
    let routes = admin_routes();
    assert!(
        routes.len() > 30,
        "the router's routes were not found: {routes:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let knowledge = file("k.toml", "[business]\nname = \"x\"\n");
    let exported = dir.path().join("export.jsonl").display().to_string();
    // A header and one entry: the entry is what reaches `…/import/entries`.
    let import = file("import.jsonl", "{\"tenant\": \"t0\"}\n{\"seq\": 1}\n");
    let picture = file("p.png", "not really a png");
    let rules = file(
        "rules.toml",
        "[[rules]]\nname = \"hi\"\nkeywords = [\"hi\"]\nreply = \"Hello\"\n",
    );
    let breakers = file("ib.json", r#"[{"question": "Open?", "payload": "OPEN"}]"#);
    let out = dir.path().join("out").display().to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["partners", "create", "--name", "P"],
        vec!["partners", "list"],
        vec!["partners", "rename", "--partner", "p1", "--name", "Q"],
        vec!["partners", "delete", "--partner", "p1"],
        vec!["tenants", "create", "--partner", "p1", "--name", "T"],
        vec!["tenants", "list", "--partner", "p1"],
        vec!["tenants", "rename", "--tenant", "t1", "--name", "U"],
        vec!["tenants", "delete", "--tenant", "t1", "--yes"],
        vec!["tenants", "deletions"],
        vec!["viewers", "create", "--partner", "p1", "--name", "V"],
        vec!["agents", "create", "--tenant", "t1", "--name", "A"],
        vec!["agents", "list", "--tenant", "t1"],
        vec!["agents", "revoke", "--tenant", "t1", "--agent", "a1"],
        vec![
            "channels",
            "instagram",
            "--tenant",
            "t1",
            "--account-id",
            "17841400000000001",
        ],
        vec!["channels", "list", "--tenant", "t1"],
        vec![
            "channels",
            "disconnect",
            "--tenant",
            "t1",
            "--channel",
            "c1",
        ],
        vec!["threads", "list", "--tenant", "t1"],
        vec!["messages", "list", "--tenant", "t1", "--thread", "th1"],
        vec!["events", "list", "--tenant", "t1"],
        vec!["credits", "show", "--tenant", "t1"],
        vec!["credits", "add", "--tenant", "t1", "--add", "5"],
        vec!["claims", "confirm", "c1"],
        vec!["audit", "verify", "--tenant", "t1"],
        vec!["audit", "export", "--tenant", "t1", "--out", &out],
        vec!["knowledge", "load", "--tenant", "t1", &knowledge],
        vec!["knowledge", "show", "--tenant", "t1"],
        vec!["keys", "rotate"],
        vec!["report", "--partner", "p1"],
        vec!["connect-link", "--tenant", "t1", "--kind", "instagram"],
        vec!["connect-links", "--tenant", "t1"],
        vec!["me"],
        vec!["report", "--tenant", "t1"],
        vec!["export", "--tenant", "t1", "--out", &exported],
        vec!["import", "--file", &import],
        vec![
            "upload",
            "--tenant",
            "t1",
            "--channel",
            "c1",
            "--kind",
            "image",
            "--file",
            &picture,
        ],
        vec!["canned", "list", "--tenant", "t1"],
        vec![
            "canned",
            "set",
            "--tenant",
            "t1",
            "--shortcut",
            "thanks",
            "--title",
            "Thanks",
            "--text",
            "Thank you!",
        ],
        vec!["canned", "remove", "--tenant", "t1", "--shortcut", "thanks"],
        vec!["settings", "show", "--tenant", "t1"],
        vec!["settings", "set", "--tenant", "t1", "--auto-send", "true"],
        vec!["rules", "show", "--tenant", "t1"],
        vec!["rules", "set", "--tenant", "t1", &rules],
        vec!["templates", "--tenant", "t1", "--channel", "c1"],
        vec!["ice-breakers", "show", "--tenant", "t1", "--channel", "c1"],
        vec![
            "ice-breakers",
            "set",
            "--tenant",
            "t1",
            "--channel",
            "c1",
            &breakers,
        ],
        vec![
            "media",
            "--tenant",
            "t1",
            "--message",
            "m1",
            "--n",
            "0",
            "--out",
            &out,
        ],
    ];
    let (url, seen) = recorder();
    let mut covered = BTreeSet::new();
    for args in &commands {
        seen.lock().unwrap().clear();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_relay"))
            .env_clear()
            .env("RELAY_OPERATOR_TOKEN", "op-token-0123456789")
            .args(["admin", "--url", &url])
            .args(args)
            .output()
            .unwrap();
        // Usage errors are clap's exit status 2 with "Usage" in the text: the table is wrong.
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("Usage:"), "{args:?}: {stderr}");
        let requests = seen.lock().unwrap().clone();
        assert!(!requests.is_empty(), "{args:?} asked nothing: {stderr}");
        for (method, path) in requests {
            let route = routes
                .iter()
                .find(|(m, p)| *m == method && matches(p, &path))
                .unwrap_or_else(|| {
                    panic!("{args:?} asked {method} {path}, which is no admin route")
                });
            covered.insert(route.clone());
        }
    }
    let missing: Vec<_> = routes.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "admin routes without a `relay admin` command: {missing:?}"
    );
}
