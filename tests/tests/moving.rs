//! Moving a tenant (issue 19): `relay admin export --tenant T > file` on one relay and
//! `relay admin import < file` on another relay on the other backend (sled → PostgreSQL in
//! the default pass, PostgreSQL → sled in the PostgreSQL pass). The moved tenant has the
//! same log, entry for entry, an evidence chain that verifies there and in the file, the
//! same threads and credits, people whose tokens still work, and channels that route Meta's
//! next webhook to it; an import into a relay that has the tenant already is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::{
    Api, IG_A, OPERATOR_TOKEN, Relay, RelayOptions, World, ig_dm, now_ms, on_postgres, relay_bin,
};
use relay::store::pg::testdb::TestDb;
use serde_json::json;
use std::process::Output;

async fn cli(url: &str, args: &[&str], stdin: Option<&std::path::Path>) -> Output {
    let mut cmd = tokio::process::Command::new(relay_bin().unwrap());
    cmd.args(["admin", "--url", url])
        .args(args)
        .env_clear()
        .env("RELAY_OPERATOR_TOKEN", OPERATOR_TOKEN);
    if let Some(path) = stdin {
        cmd.stdin(std::fs::File::open(path).unwrap());
    }
    cmd.output().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_moves_between_backends_with_its_history_and_evidence() {
    let w = World::new().await.unwrap();
    let t = w.a.clone();
    // History: messages (one with non-ASCII text), credits, settings, a reply queued.
    for i in 0..5 {
        let body = ig_dm(
            IG_A,
            &format!("mv-{i}"),
            "5310000000001",
            "olá, ¿precio? 🌸",
            now_ms(),
        );
        assert_eq!(w.api.webhook("instagram", &body).await.unwrap(), 200);
    }
    w.top_up(&t, 7).await.unwrap();
    w.api
        .expect(
            reqwest::Method::PUT,
            &format!("/v1/tenants/{}/settings", t.id),
            OPERATOR_TOKEN,
            Some(json!({"auto_send": false})),
            200,
        )
        .await
        .unwrap();

    let file = w.dir.path().join("tenant.jsonl");
    let out = cli(
        &w.api.url,
        &["export", "--tenant", &t.id, "--out", file.to_str().unwrap()],
        None,
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("exported events 1..="), "{said}");
    // The file is an evidence export as it is.
    let verify = tokio::process::Command::new(relay_bin().unwrap())
        .args(["audit", "verify-file", file.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in &w.secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret in the tenant file"
        );
    }

    // The other backend, on a relay that has never seen the tenant.
    let db = if on_postgres() {
        None
    } else {
        Some(TestDb::create().await.unwrap())
    };
    let mut env = vec![];
    if let Some(db) = &db {
        env.push(("RELAY_STORAGE".to_owned(), "postgres".to_owned()));
        env.push(("DATABASE_URL".to_owned(), db.url().to_owned()));
    }
    let target = Relay::start(&RelayOptions {
        data_dir: w.dir.path().join("target-data"),
        log: w.dir.path().join("target.log"),
        extra_env: env,
    })
    .await
    .unwrap();
    let api = Api::new(&target.url);
    let out = cli(&target.url, &["import"], Some(&file)).await;
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("evidence chain verified"), "{said}");

    let before = w.api.all_events(&t.id, OPERATOR_TOKEN).await.unwrap();
    let after = api.all_events(&t.id, OPERATOR_TOKEN).await.unwrap();
    assert_eq!(before, after, "the same log, entry for entry");
    api.audit_ok(&t.id, &t.owner_token).await.unwrap();
    let threads = |api: Api| {
        let t = t.clone();
        async move {
            let list = api
                .expect(
                    reqwest::Method::GET,
                    &format!("/v1/tenants/{}/threads", t.id),
                    &t.agent_token,
                    None,
                    200,
                )
                .await
                .unwrap();
            // Window countdowns are each relay's "now": compare what the log decides.
            let mut ids: Vec<(String, String)> = list["threads"]
                .as_array()
                .unwrap()
                .iter()
                .map(|th| (th["id"].to_string(), th["customer"]["id"].to_string()))
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(threads(w.api.clone()).await, threads(api.clone()).await);
    let credits = |api: Api| {
        let t = t.clone();
        async move {
            api.expect(
                reqwest::Method::GET,
                &format!("/v1/tenants/{}/credits", t.id),
                OPERATOR_TOKEN,
                None,
                200,
            )
            .await
            .unwrap()
        }
    };
    assert_eq!(credits(w.api.clone()).await, credits(api.clone()).await);

    // Meta's next webhook for the account reaches the moved tenant.
    let head = api.head(&t.id).await.unwrap();
    let body = ig_dm(IG_A, "mv-after", "5310000000001", "still there?", now_ms());
    assert_eq!(api.webhook("instagram", &body).await.unwrap(), 200);
    assert_eq!(api.head(&t.id).await.unwrap(), head + 1);

    // Once is enough: the tenant exists there now.
    let again = cli(&target.url, &["import"], Some(&file)).await;
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("exists"),
        "{again:?}"
    );
    target.stop().await.unwrap();
}
