//! Meta's deauthorize and data-deletion callbacks against the real relay, with a
//! `signed_request` made here independently of the relay's code (HMAC-SHA256 over the
//! base64url-encoded payload, base64url without padding), and disconnecting from the
//! admin API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use harness::{APP_SECRET, Api, IG_A, OPERATOR_TOKEN, World, ig_dm, now_ms};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

const KEEP: &str = "5550000000000002";
const GONE: &str = "5550000000000001";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `<base64url(HMAC-SHA256(secret, encoded payload))>.<base64url(payload)>`.
fn signed_request(secret: &str, payload: &Value) -> String {
    let encoded = b64(payload.to_string().as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(encoded.as_bytes());
    format!("{}.{encoded}", b64(&mac.finalize().into_bytes()))
}

fn payload(user: &str) -> Value {
    json!({"user_id": user, "algorithm": "HMAC-SHA256", "issued_at": 1_291_836_800, "expires": 1_291_840_400})
}

async fn post_form(api: &Api, path: &str, form: Option<&str>) -> (u16, String) {
    let mut req = api
        .http
        .post(format!("{}{path}", api.url))
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(f) = form {
        req = req.body(format!("signed_request={f}"));
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn channels(w: &World) -> Vec<Value> {
    let v = w
        .api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{}/channels", w.a.id),
            OPERATOR_TOKEN,
            None,
            200,
        )
        .await
        .unwrap();
    v["channels"].as_array().unwrap().clone()
}

fn ig_channel(list: &[Value]) -> Value {
    list.iter()
        .find(|c| c["kind"] == "instagram")
        .unwrap()
        .clone()
}

async fn dm(w: &World, mid: &str, customer: &str, text: &str) {
    let body = ig_dm(IG_A, mid, customer, text, now_ms());
    assert_eq!(w.api.webhook("instagram", &body).await.unwrap(), 200);
}

#[tokio::test]
async fn bad_signed_requests_are_refused_and_change_nothing() {
    let w = World::new().await.unwrap();
    let before = channels(&w).await;
    let head = w.api.head(&w.a.id).await.unwrap();
    let forged = signed_request("not-the-app-secret", &payload(IG_A));
    let wrong_alg = signed_request(
        APP_SECRET,
        &json!({"user_id": IG_A, "algorithm": "HMAC-SHA1"}),
    );
    let good = signed_request(APP_SECRET, &payload(IG_A));
    let (sig, body) = good.split_once('.').unwrap();
    // The signature of another payload, and a payload whose bytes were changed.
    let swapped = format!("{sig}.{}", b64(payload("1").to_string().as_bytes()));
    let cases: Vec<(Option<String>, u16)> = vec![
        (Some(forged), 401),
        (Some(swapped), 401),
        (Some(wrong_alg), 400),
        (Some("no-dot-here".into()), 400),
        (Some(format!("!!!.{body}")), 400),
        (Some(String::new()), 400),
        (None, 400),
    ];
    for path in ["/meta/deauthorize", "/meta/data-deletion"] {
        for (form, status) in &cases {
            let (got, text) = post_form(&w.api, path, form.as_deref()).await;
            assert_eq!(got, *status, "{path} {form:?}: {text}");
            assert!(!text.contains(APP_SECRET));
        }
    }
    assert_eq!(channels(&w).await, before);
    assert_eq!(w.api.head(&w.a.id).await.unwrap(), head);
    w.assert_log_has_no_secrets().unwrap();
}

#[tokio::test]
async fn deauthorize_disconnects_the_account_and_later_webhooks_are_not_stored() {
    let w = World::new().await.unwrap();
    dm(&w, "m_before", KEEP, "hello before").await;
    let form = signed_request(APP_SECRET, &payload(IG_A));
    let (status, text) = post_form(&w.api, "/meta/deauthorize", Some(&form)).await;
    assert_eq!(status, 200, "{text}");
    let list = channels(&w).await;
    let ig = ig_channel(&list);
    assert_eq!(ig["disconnected"], true, "{ig}");
    assert_eq!(ig["needs_reconnect"], true);
    assert_eq!(ig["has_token"], false);
    assert_eq!(ig["account_id"], "");
    assert_eq!(ig["username"], Value::Null);
    assert_eq!(ig["page_id"], Value::Null);
    assert!(
        ig["reason"].as_str().unwrap().contains("Disconnected"),
        "{ig}"
    );
    let wa = list.iter().find(|c| c["kind"] == "whatsapp").unwrap();
    assert_eq!(wa["disconnected"], false, "other channels stay");
    // History stays; a later webhook for the account is unknown-account and not stored.
    let head = w.api.head(&w.a.id).await.unwrap();
    dm(&w, "m_after", KEEP, "hello after").await;
    assert_eq!(w.api.head(&w.a.id).await.unwrap(), head);
    let events = w.api.all_events(&w.a.id, OPERATOR_TOKEN).await.unwrap();
    let dump = serde_json::to_string(&events).unwrap();
    assert!(dump.contains("hello before") && !dump.contains("hello after"));
    assert!(
        dump.contains("channel_changed") || dump.contains("ChannelChanged"),
        "evidence event"
    );
    w.api.audit_ok(&w.a.id, OPERATOR_TOKEN).await.unwrap();
    // Tenant B is untouched.
    let b = w
        .api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{}/channels", w.b.id),
            OPERATOR_TOKEN,
            None,
            200,
        )
        .await
        .unwrap();
    assert!(
        b["channels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["disconnected"] == false)
    );
    w.assert_log_has_no_secrets().unwrap();
}

#[tokio::test]
async fn disconnect_from_the_admin_api_is_for_operators_and_owners_of_the_tenant() {
    let w = World::new().await.unwrap();
    let id = ig_channel(&channels(&w).await)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/tenants/{}/channels/{id}", w.a.id);
    let (s, _) = w
        .api
        .call(Method::DELETE, &path, Some(&w.a.agent_token), None)
        .await
        .unwrap();
    assert_eq!(s, 403, "agents may not disconnect");
    let (s, _) = w
        .api
        .call(Method::DELETE, &path, Some(&w.b.owner_token), None)
        .await
        .unwrap();
    assert_eq!(s, 404, "another tenant's owner sees nothing");
    let missing = format!("/v1/tenants/{}/channels/ch_nope", w.a.id);
    let (s, _) = w
        .api
        .call(Method::DELETE, &missing, Some(&w.a.owner_token), None)
        .await
        .unwrap();
    assert_eq!(s, 404);
    let v = w
        .api
        .expect(Method::DELETE, &path, &w.a.owner_token, None, 200)
        .await
        .unwrap();
    assert_eq!(v["disconnected"], true);
    assert_eq!(v["already"], false);
    // Without a simulator the World's channels hold no token (the relay saves one only
    // once Meta confirms it): nothing to unsubscribe with, which is recorded, not fatal.
    assert!(v["unsubscribe"].as_str().unwrap() == "skipped", "{v}");
    let again = w
        .api
        .expect(Method::DELETE, &path, OPERATOR_TOKEN, None, 200)
        .await
        .unwrap();
    assert_eq!(again["already"], true);
    assert_eq!(ig_channel(&channels(&w).await)["disconnected"], true);
}

#[tokio::test]
async fn data_deletion_removes_one_customers_texts_and_keeps_the_chain() {
    let w = World::new().await.unwrap();
    dm(&w, "m_gone_1", GONE, "my secret address is 12 Elm Street").await;
    dm(&w, "m_gone_2", GONE, "and my phone is 0812-777").await;
    dm(&w, "m_keep_1", KEEP, "do you ship to Bali").await;
    let form = signed_request(APP_SECRET, &payload(GONE));
    let (status, text) = post_form(&w.api, "/meta/data-deletion", Some(&form)).await;
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    let code = answer["confirmation_code"].as_str().unwrap();
    assert!(
        code.len() >= 16 && code.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{code}"
    );
    let url = answer["url"].as_str().unwrap();
    assert!(
        url.ends_with(&format!("/meta/data-deletion/status/{code}")),
        "{url}"
    );

    let threads = w
        .api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{}/threads", w.a.id),
            OPERATOR_TOKEN,
            None,
            200,
        )
        .await
        .unwrap();
    let threads = threads["threads"].as_array().unwrap();
    let messages_of = |customer: &str| {
        let t = threads
            .iter()
            .find(|t| t["customer"]["id"] == customer)
            .unwrap();
        let path = format!(
            "/v1/tenants/{}/threads/{}/messages",
            w.a.id,
            t["id"].as_str().unwrap()
        );
        let api = w.api.clone();
        async move {
            api.expect(Method::GET, &path, OPERATOR_TOKEN, None, 200)
                .await
                .unwrap()
        }
    };
    let gone = messages_of(GONE).await;
    let gone_dump = gone.to_string();
    assert!(
        !gone_dump.contains("Elm Street") && !gone_dump.contains("0812-777"),
        "{gone}"
    );
    let msgs = gone["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "the thread keeps its shape");
    assert!(msgs.iter().all(|m| m["content"] == "Removed"), "{gone}");
    let kept = messages_of(KEEP).await;
    assert!(kept.to_string().contains("do you ship to Bali"), "{kept}");
    if let Some(db) = &w.db {
        // No row of any table holds the text (read as the tables' owner, past row security).
        let (client, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        for table in ["events", "messages", "threads", "sends"] {
            let sql = format!(
                "SELECT count(*) FROM {table} WHERE position('Elm Street'::bytea in body) > 0"
            );
            let n: i64 = client.query_one(&sql, &[]).await.unwrap().get(0);
            assert_eq!(n, 0, "a row of {table} still holds the removed text");
        }
    } else {
        // Nor does the write-ahead log keep the old records: its segments were checkpointed
        // away.
        let wal = w.options.data_dir.join("wal");
        for entry in std::fs::read_dir(&wal).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(
                !bytes.windows(10).any(|b| b == b"Elm Street"),
                "a WAL segment still holds the removed text"
            );
        }
    }

    let events = w.api.all_events(&w.a.id, OPERATOR_TOKEN).await.unwrap();
    let dump = serde_json::to_string(&events).unwrap();
    assert!(!dump.contains("Elm Street") && !dump.contains("0812-777"));
    assert!(dump.contains("do you ship to Bali"));
    assert!(
        dump.contains("customer_redacted"),
        "an evidence record per step"
    );
    w.api.audit_ok(&w.a.id, OPERATOR_TOKEN).await.unwrap();

    // RELAY_PUBLIC_URL is not set here (the relay listens on port 0): the path is what counts.
    let path = &url[url.find("/meta/").unwrap()..];
    let page = w
        .api
        .http
        .get(format!("{}{path}", w.api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Agency Desk"), "the partner's brand: {html}");
    assert!(html.contains("Done"), "{html}");
    assert!(html.contains("Messages removed: 2"), "{html}");
    assert!(!html.to_lowercase().contains("relay"), "{html}");
    assert!(!html.contains(GONE), "no personal data: {html}");
    let missing = w
        .api
        .http
        .get(format!(
            "{}/meta/data-deletion/status/NoSuchCode123",
            w.api.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    assert!(missing.text().await.unwrap().contains("not found"));
    w.assert_log_has_no_secrets().unwrap();
}

/// A desk that was online when the deletion happened ends up without the texts as well: the
/// relay's `CustomerRemoved` event makes its replica rewrite the thread.
#[tokio::test]
async fn a_connected_desk_drops_the_removed_customers_texts_from_its_replica() {
    use desk_tui::{ConnectionState, Replica, SyncConfig, SyncHandle, Token};
    use protocol::{AccountEventKind, EventBody};
    use std::time::Duration;

    let w = World::new().await.unwrap();
    dm(&w, "m_gone_desk", GONE, "deliver to 12 Elm Street please").await;
    dm(&w, "m_keep_desk", KEEP, "is the blue one in stock").await;
    let mut config = SyncConfig::new(
        w.relay.as_ref().unwrap().url.clone(),
        Token::new(w.a.agent_token.clone()),
    );
    config.data_dir = Some(w.dir.path().join("desk"));
    let replica = Replica::open(&config).unwrap();
    let engine = SyncHandle::spawn(config, replica.clone()).unwrap();
    let holds = |needle: &'static str| {
        let replica = replica.clone();
        move || {
            let all = replica.events_after(protocol::Seq(0), 10_000).unwrap();
            format!("{all:?}").contains(needle)
        }
    };
    harness::eventually(
        "the desk to hold the message",
        Duration::from_secs(20),
        || {
            let holds = holds("Elm Street");
            async move { Ok(holds().then_some(())) }
        },
    )
    .await
    .unwrap();

    let form = signed_request(APP_SECRET, &payload(GONE));
    let (status, text) = post_form(&w.api, "/meta/data-deletion", Some(&form)).await;
    assert_eq!(status, 200, "{text}");
    harness::eventually(
        "the removal to reach the desk",
        Duration::from_secs(20),
        || {
            let replica = replica.clone();
            async move {
                let all = replica.events_after(protocol::Seq(0), 10_000).unwrap();
                Ok(all
                    .iter()
                    .any(|e| {
                        matches!(&e.body, EventBody::Account(a)
                        if matches!(a.kind, AccountEventKind::CustomerRemoved { .. }))
                    })
                    .then_some(()))
            }
        },
    )
    .await
    .unwrap();
    assert!(
        !holds("Elm Street")(),
        "the replica still holds the removed text"
    );
    assert!(
        holds("is the blue one in stock")(),
        "other customers' messages stay"
    );
    let rows = format!("{:?}", replica.summaries().unwrap());
    assert!(!rows.contains("Elm Street"), "{rows}");
    assert_eq!(engine.state(), ConnectionState::Live);
    engine.shutdown().await.unwrap();
}
