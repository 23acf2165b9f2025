//! Load and faults against the real relay binary (issue 21): above its capacity of webhooks
//! in flight the relay answers 503 with `Retry-After` at once and stores nothing for it; a
//! data directory that fills up (a size cap stands in for a full disk, which an
//! unprivileged test cannot make) stops acknowledging, `/readyz` says why, and nothing
//! acknowledged before is lost or changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::{APP_SECRET, OPERATOR_TOKEN, WA_A, World, eventually, sign};
use serde_json::Value;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A WhatsApp text message to tenant A's number, as Meta posts it.
fn wa_text(id: &str, text: &str) -> Vec<u8> {
    harness::wa_text(WA_A, id, "16505551234", text)
}

/// Posts a signed webhook; answers the status, the `Retry-After` header and the JSON.
async fn post(w: &World, body: Vec<u8>) -> (u16, Option<String>, Value) {
    let response = w.api.webhook_response("whatsapp", body).await.unwrap();
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let json = response.json().await.unwrap_or(Value::Null);
    (status, retry, json)
}

async fn event_count(w: &World) -> usize {
    w.api
        .all_events(&w.a.id, OPERATOR_TOKEN)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn above_capacity_webhooks_get_503_with_retry_after_and_nothing_is_stored() {
    let w = World::with_env(vec![("RELAY_MAX_INFLIGHT_WEBHOOKS".into(), "1".into())])
        .await
        .unwrap();
    let before = event_count(&w).await;

    // A sender that sent its headers and half its body holds the only slot.
    let held = wa_text("wamid.held", "first");
    let addr = w.api.url.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /webhooks/whatsapp HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         x-hub-signature-256: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        sign(&held, APP_SECRET),
        held.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let (first_half, rest) = held.split_at(held.len() / 2);
    slow.write_all(first_half).await.unwrap();
    eventually(
        "the slow request to hold its slot",
        Duration::from_secs(10),
        || async { Ok((w.metric("relay_webhooks_in_flight").await? >= 1.0).then_some(())) },
    )
    .await
    .unwrap();

    // Over capacity: refused at once, with Retry-After, in the JSON error shape.
    let (status, retry, json) = post(&w, wa_text("wamid.refused", "second")).await;
    assert_eq!(status, 503, "{json}");
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(json["error"]["code"], "overloaded", "{json}");
    assert_eq!(
        w.metric("relay_webhook_requests_total{outcome=\"overloaded\"}")
            .await
            .unwrap(),
        1.0
    );
    assert_eq!(
        event_count(&w).await,
        before,
        "nothing stored for the refused POST"
    );

    // The held request finishes and is acknowledged; the slot is free again.
    slow.write_all(rest).await.unwrap();
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut slow, &mut answer)
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (status, _, json) = post(&w, wa_text("wamid.after", "third")).await;
    assert_eq!(status, 200, "{json}");
    let events = w.api.all_events(&w.a.id, OPERATOR_TOKEN).await.unwrap();
    let text = serde_json::to_string(&events).unwrap();
    assert_eq!(events.len(), before + 2, "{text}");
    assert!(text.contains("wamid.held") && text.contains("wamid.after"));
    assert!(
        !text.contains("wamid.refused"),
        "the refused POST left nothing"
    );
    assert_eq!(w.metric("relay_webhooks_in_flight").await.unwrap(), 0.0);
}

#[tokio::test]
async fn a_full_data_directory_stops_acknowledging_and_loses_nothing() {
    // The guard watches the relay's own data directory, which holds the events only on
    // sled; on PostgreSQL the database's disk is the server's, and a full one fails the
    // commit (the webhook is then not acknowledged). Sled's run of this test is the one.
    if harness::on_postgres() {
        eprintln!("sled only: the data directory holds no events on PostgreSQL");
        return;
    }
    let mut w = World::new().await.unwrap();
    w.stop().await.unwrap();
    let size = dir_size(&w.options.data_dir);
    // Room for a few MiB more: the write-ahead log grows a MiB at a time.
    let cap = size + 3 * 1024 * 1024;
    w.options.extra_env.extend([
        ("RELAY_DATA_MAX_BYTES".into(), cap.to_string()),
        ("RELAY_DISK_CHECK_MS".into(), "20".into()),
    ]);
    w.start_again().await.unwrap();
    let before = event_count(&w).await;

    // Fill it: every acknowledged message is remembered, until the first refusal.
    let filler = "x".repeat(60_000);
    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..2000 {
        let id = format!("wamid.fill{i}");
        let (status, retry, json) = post(&w, wa_text(&id, &filler)).await;
        match status {
            200 => acked.push(id),
            503 => {
                assert_eq!(json["error"]["code"], "storage_full", "{json}");
                assert_eq!(retry.as_deref(), Some("1"));
                refused = Some(id);
                break;
            }
            other => panic!("unexpected {other}: {json}"),
        }
    }
    let refused = refused.expect("the cap was never reached");
    assert!(!acked.is_empty());
    // The figure README's "Load and faults" quotes (`-- --nocapture`).
    eprintln!(
        "data directory {size} bytes at start, cap {cap}: {} messages of {} bytes \
         acknowledged, then 503 storage_full",
        acked.len(),
        filler.len()
    );

    // /readyz says why, in sizes, and is not ready.
    let ready = w
        .api
        .http
        .get(format!("{}/readyz", w.api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["disk"]["state"], "full", "{body}");
    assert!(
        body["disk"]["reason"]
            .as_str()
            .unwrap()
            .contains("RELAY_DATA_MAX_BYTES"),
        "{body}"
    );
    assert_eq!(body["storage"], "not_checked", "{body}");

    // What was acknowledged is all there, the refused one is not, and the evidence chain
    // holds.
    let check = |w: &World, acked: Vec<String>, refused: String| {
        let api = w.api.clone();
        let tenant = w.a.id.clone();
        async move {
            let events = api.all_events(&tenant, OPERATOR_TOKEN).await.unwrap();
            let text = serde_json::to_string(&events).unwrap();
            assert_eq!(events.len(), before + acked.len());
            for id in &acked {
                assert!(text.contains(&format!("\"{id}\"")), "{id} missing");
            }
            assert!(!text.contains(&format!("\"{refused}\"")));
            api.audit_ok(&tenant, OPERATOR_TOKEN).await.unwrap();
        }
    };
    check(&w, acked.clone(), refused.clone()).await;

    // Room made (here: the cap lifted), the relay restarts on the same data, everything
    // is intact, and Meta's redelivery of the refused message is acknowledged.
    w.stop().await.unwrap();
    w.options
        .extra_env
        .retain(|(k, _)| k != "RELAY_DATA_MAX_BYTES");
    w.start_again().await.unwrap();
    check(&w, acked.clone(), refused.clone()).await;
    let (status, _, json) = post(&w, wa_text(&refused, &filler)).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(event_count(&w).await, before + acked.len() + 1);
}

fn dir_size(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            dir_size(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}
