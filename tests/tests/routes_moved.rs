//! Routing from memory across relays (PostgreSQL only; issue 22): relay Y answers which
//! tenant an account routes to from memory, and relay X moves the account to another tenant
//! and later removes it. Y's next webhook for the account is stored in the new tenant, never
//! in the old one, and after the removal it is stored nowhere: the append that relied on
//! Y's remembered answer finds routes changed, stores nothing, and the webhook is routed
//! again from the database.
//!
//! On sled (one process per data directory) there is nothing to test: it says so and passes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::{Api, IG_A, OPERATOR_TOKEN, Relay, RelayOptions, World, ig_dm, now_ms, on_postgres};
use serde_json::json;

/// Events stored for `tenant`, read directly (the test logs in as a superuser).
async fn events_of(db_url: &str, tenant: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(db_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query_one(
            "SELECT count(*) FROM events WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0)
}

/// Deletes `tenant` through relay X's admin API.
async fn delete_tenant(api: &Api, tenant: &str) {
    api.expect(
        reqwest::Method::DELETE,
        &format!("/v1/tenants/{tenant}"),
        OPERATOR_TOKEN,
        None,
        200,
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_follows_an_account_moved_on_another_relay() {
    if !on_postgres() {
        eprintln!(
            "skipped: several relays share a PostgreSQL database only; \
             run with CHATDESK_TEST_STORAGE=postgres"
        );
        return;
    }
    let w = World::new().await.unwrap();
    let db_url = w.db.as_ref().unwrap().url().to_owned();
    let y_opts = RelayOptions {
        data_dir: w.dir.path().join("data-y"),
        log: w.dir.path().join("relay-y.log"),
        extra_env: w.options.extra_env.clone(),
    };
    let y = Relay::start(&y_opts).await.unwrap();
    let y_api = Api::new(&y.url);
    let dm = |mid: &str| ig_dm(IG_A, mid, "5310000000001", "hello", now_ms());

    // Y learns where IG_A routes (tenant A); the second and third webhooks use its memory.
    for i in 0..3 {
        let status = y_api
            .webhook("instagram", &dm(&format!("before-{i}")))
            .await
            .unwrap();
        assert_eq!(status, 200);
    }
    assert_eq!(w.api.head(&w.a.id).await.unwrap(), 3);

    // On X: tenant A goes, and its account is connected to tenant B.
    delete_tenant(&w.api, &w.a.id).await;
    w.api
        .expect(
            reqwest::Method::POST,
            &format!("/v1/tenants/{}/channels", w.b.id),
            OPERATOR_TOKEN,
            Some(json!({"kind": "instagram", "account_id": IG_A})),
            201,
        )
        .await
        .unwrap();
    let b_before = w.api.head(&w.b.id).await.unwrap();

    // Y still remembers A; the webhook is stored in B, and nothing in A.
    assert_eq!(y_api.webhook("instagram", &dm("moved")).await.unwrap(), 200);
    assert_eq!(w.api.head(&w.b.id).await.unwrap(), b_before + 1);
    assert_eq!(
        events_of(&db_url, &w.a.id).await,
        0,
        "stored in the old tenant"
    );
    let y_log = std::fs::read_to_string(&y_opts.log).unwrap();
    assert!(!y_log.contains("webhook not stored"), "{y_log}");
    // Y did use its memory, and found it stale in the append.
    assert_eq!(y_log.matches("routing again").count(), 1, "{y_log}");

    // On X: tenant B goes too; Y remembers B, and the webhook is stored nowhere.
    delete_tenant(&w.api, &w.b.id).await;
    assert_eq!(
        y_api.webhook("instagram", &dm("removed")).await.unwrap(),
        200
    );
    assert_eq!(
        events_of(&db_url, &w.b.id).await,
        0,
        "stored in a deleted tenant"
    );
    assert_eq!(events_of(&db_url, &w.a.id).await, 0);
    let y_log = std::fs::read_to_string(&y_opts.log).unwrap();
    assert_eq!(y_log.matches("routing again").count(), 2, "{y_log}");
    y.stop().await.unwrap();
}
