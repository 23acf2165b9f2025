//! Each tenant's evidence-chain head is published outside the relay (issue 21): in
//! `/metrics` as `relay_audit_chain_head{tenant,hash} seq`, matching the newest audit
//! record an export holds, and in one log line per tenant each day of the relay's clock
//! (moved a day with the test clock, never slept for).

#![allow(clippy::unwrap_used)]

use harness::{OPERATOR_TOKEN, WA_A, World, eventually, wa_text};
use reqwest::Method;
use std::time::Duration;

/// The (hash, seq) `/metrics` shows for `tenant`.
async fn metric_head(w: &World, tenant: &str) -> Option<(String, u64)> {
    let text = w.metrics_text().await.unwrap();
    let prefix = format!("relay_audit_chain_head{{tenant=\"{tenant}\",hash=\"");
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(&prefix)?;
        let (hash, seq) = rest.split_once("\"} ")?;
        Some((hash.to_owned(), seq.trim().parse().ok()?))
    })
}

/// The hex hash of the newest audit record in the tenant's export.
async fn exported_head(w: &World, tenant: &str) -> (String, u64) {
    let page = w
        .api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{tenant}/audit/export?after=0"),
            OPERATOR_TOKEN,
            None,
            200,
        )
        .await
        .unwrap();
    let last = page["entries"].as_array().unwrap().last().unwrap().clone();
    let bytes: Vec<u8> = last["audit"]["hash"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| u8::try_from(b.as_u64().unwrap()).unwrap())
        .collect();
    (hex::encode(bytes), last["event"]["seq"].as_u64().unwrap())
}

#[tokio::test]
async fn chain_heads_are_in_metrics_and_logged_daily() {
    let w = World::new().await.unwrap();
    // WhatsApp: no profile lookup appends events behind the test's back.
    for (i, text) in ["hello", "price?"].iter().enumerate() {
        let body = wa_text(WA_A, &format!("wamid.head{i}"), "16505551234", text);
        assert_eq!(w.api.webhook("whatsapp", &body).await.unwrap(), 200);
    }
    let (hash, seq) = exported_head(&w, &w.a.id).await;
    let head = w.api.head(&w.a.id).await.unwrap();
    assert_eq!(seq, head);
    assert_eq!(
        metric_head(&w, &w.a.id).await,
        Some((hash.clone(), head)),
        "the metric names the export's newest record"
    );
    // Every tenant has a line, an empty log at seq 0 with the genesis hash.
    let (b_hash, b_seq) = metric_head(&w, &w.b.id).await.unwrap();
    if b_seq == 0 {
        assert_eq!(b_hash, "0".repeat(64));
    }

    // A day of the relay's clock later, every tenant's head is logged.
    let log_path = w.options.log.clone();
    let lines_for = |hash: String| {
        let log_path = log_path.clone();
        async move {
            let log = std::fs::read_to_string(&log_path)?;
            Ok(log
                .lines()
                .any(|l| l.contains("evidence chain head") && l.contains(&hash))
                .then_some(()))
        }
    };
    // The start-of-day line was logged before these events: the next day's names them.
    w.advance_clock(24 * 60 * 60 * 1000).await.unwrap();
    eventually(
        "tenant A's head in the daily log line",
        Duration::from_secs(10),
        || lines_for(hash.clone()),
    )
    .await
    .unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let rounds = log.lines().filter(|l| l.contains("heads logged")).count();
    assert!(rounds >= 2, "one round at start, one a day later");
    assert!(
        log.lines()
            .any(|l| l.contains("evidence chain head") && l.contains(w.b.id.as_str())),
        "every tenant is logged"
    );
}

/// The verdict of the relay's own verify for `tenant`: (ok, first_bad).
async fn verdict(w: &World, tenant: &str) -> (bool, Option<u64>) {
    let v = w
        .api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{tenant}/audit/verify"),
            OPERATOR_TOKEN,
            None,
            200,
        )
        .await
        .unwrap();
    (v["ok"] == true, v["first_bad"].as_u64())
}

/// On PostgreSQL, rows changed behind the relay's back (as the tables' owner, past row
/// security) are named by verify at their first event: a changed message, a missing
/// event, a reordered pair. (The sled backend's own tests rewrite its values.)
#[tokio::test]
async fn tampering_with_postgres_rows_is_named_by_verify() {
    let w = World::new().await.unwrap();
    let Some(db) = &w.db else {
        return; // sled: `relay/src/store/sled/tests.rs` tampers with its values.
    };
    for (id, text) in [
        ("wamid.t1", "first"),
        ("wamid.t2", "second words"),
        ("wamid.t3", "third"),
    ] {
        let body = wa_text(WA_A, id, "16505551234", text);
        assert_eq!(w.api.webhook("whatsapp", &body).await.unwrap(), 200);
    }
    assert_eq!(verdict(&w, &w.a.id).await, (true, None));
    let (client, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let tenant = w.a.id.as_str();

    // A changed message text (same length, so only its digest can tell).
    let row = client
        .query_one(
            "UPDATE events SET body = overlay(body placing convert_to('SECOND', 'UTF8')
                 from position(convert_to('second', 'UTF8') in body) for 6)
             WHERE tenant_id = $1 AND position(convert_to('second words', 'UTF8') in body) > 0
             RETURNING seq",
            &[&tenant],
        )
        .await
        .unwrap();
    let changed: i64 = row.get(0);
    assert_eq!(
        verdict(&w, tenant).await,
        (false, Some(u64::try_from(changed).unwrap()))
    );
    client
        .execute(
            "UPDATE events SET body = overlay(body placing convert_to('second', 'UTF8')
                 from position(convert_to('SECOND', 'UTF8') in body) for 6)
             WHERE tenant_id = $1 AND seq = $2",
            &[&tenant, &changed],
        )
        .await
        .unwrap();
    assert_eq!(verdict(&w, tenant).await, (true, None));

    // A missing event, then the same two rows' places exchanged.
    let first: Vec<u8> = client
        .query_one(
            "DELETE FROM events WHERE tenant_id = $1 AND seq = 1 RETURNING body",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(verdict(&w, tenant).await, (false, Some(1)));
    client
        .execute(
            "INSERT INTO events (tenant_id, seq, body) VALUES ($1, 1, $2)",
            &[&tenant, &first],
        )
        .await
        .unwrap();
    assert_eq!(verdict(&w, tenant).await, (true, None));
    for sql in [
        "UPDATE events SET seq = -1 WHERE tenant_id = $1 AND seq = 1",
        "UPDATE events SET seq = 1 WHERE tenant_id = $1 AND seq = 2",
        "UPDATE events SET seq = 2 WHERE tenant_id = $1 AND seq = -1",
    ] {
        client.execute(sql, &[&tenant]).await.unwrap();
    }
    assert_eq!(verdict(&w, tenant).await, (false, Some(1)));
}
