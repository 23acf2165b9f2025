//! Customers by name: after an Instagram customer's message the relay asks the User Profile
//! API (here the simulator) off the ingest path, records the answer as an event, and the
//! threads API names the customer; a refusal is asked again only a day later (relay clock);
//! a data deletion removes the name.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use harness::sim::{SimWorld, eventually};
use harness::{APP_SECRET, IG_A};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

async fn writes(s: &SimWorld, customer: &str, text: &str, extra: Value) {
    let mut action = json!({"account": IG_A, "customer": customer, "type": "text", "text": text});
    if let (Some(a), Some(e)) = (action.as_object_mut(), extra.as_object()) {
        a.extend(e.clone());
    }
    let ans = s.sim.api.inbound(&action).await.unwrap();
    assert_eq!(ans["status"], 200, "{ans}");
}

/// The simulator's User Profile API calls about `customer`.
async fn profile_calls(s: &SimWorld, customer: &str) -> usize {
    s.sim
        .api
        .calls()
        .await
        .unwrap()
        .iter()
        .filter(|c| {
            c["method"] == "GET"
                && c["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with(&format!("/{customer}")))
        })
        .count()
}

async fn customer_of(s: &SimWorld, customer: &str) -> Value {
    let t =
        s.w.thread_when(&s.w.a, customer, WAIT, |_| true)
            .await
            .unwrap();
    t["customer"].clone()
}

fn signed_request(payload: &Value) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let encoded = b64(payload.to_string().as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(encoded.as_bytes());
    format!("{}.{encoded}", b64(&mac.finalize().into_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_get_their_names_and_lose_them_on_deletion() {
    let s = SimWorld::start().await.unwrap();
    let igsid = "5550000000000101";
    // The simulator's profile of this customer (an IG DM webhook carries no name).
    writes(
        &s,
        igsid,
        "hi, is the blue dress in stock?",
        json!({"name": "Sari Wijaya", "username": "sari.wijaya"}),
    )
    .await;
    let t =
        s.w.thread_when(&s.w.a, igsid, WAIT, |t| {
            t["customer"]["name"] == "Sari Wijaya"
        })
        .await
        .unwrap();
    assert_eq!(t["customer"]["username"], "sari.wijaya");
    assert_eq!(t["customer"]["id"], igsid);
    assert_eq!(profile_calls(&s, igsid).await, 1);
    // The answer is an event every desk receives, follower count and follow flags included.
    let events =
        s.w.api
            .all_events(&s.w.a.id, &s.w.a.agent_token)
            .await
            .unwrap();
    let profile = events
        .iter()
        .find(|e| e.to_string().contains("CustomerProfile"))
        .expect("a customer profile event");
    let text = profile.to_string();
    assert!(
        text.contains("follower_count") && text.contains("Sari Wijaya"),
        "{text}"
    );

    // The customer asks Meta to delete their data: the name goes with it.
    let form = signed_request(&json!({"user_id": igsid, "algorithm": "HMAC-SHA256",
        "issued_at": 1_291_836_800, "expires": 1_291_840_400}));
    let resp =
        s.w.api
            .http
            .post(format!("{}/meta/data-deletion", s.w.api.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("signed_request={form}"))
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let c = customer_of(&s, igsid).await;
    assert!(c["name"].is_null() && c["username"].is_null(), "{c}");
    let events =
        s.w.api
            .all_events(&s.w.a.id, &s.w.a.agent_token)
            .await
            .unwrap();
    for e in &events {
        let text = e.to_string();
        assert!(
            !text.contains("Sari") && !text.contains("sari.wijaya"),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_profile_is_asked_again_only_a_day_later() {
    let s = SimWorld::start().await.unwrap();
    let igsid = "5550000000000102";
    // Blocked the business: Meta refuses the profile.
    s.sim
        .api
        .customers(&json!([{"account": IG_A, "id": igsid, "unavailable": true}]))
        .await
        .unwrap();
    writes(&s, igsid, "hello", json!({})).await;
    eventually("one profile call", WAIT, || async {
        Ok((profile_calls(&s, igsid).await == 1).then_some(()))
    })
    .await
    .unwrap();
    let c = customer_of(&s, igsid).await;
    assert!(c["name"].is_null(), "{c}");
    assert_eq!(c["handle"], igsid, "{c}");

    // Within the day: more messages, no new call.
    writes(&s, igsid, "anyone there?", json!({})).await;
    s.w.advance_clock(DAY_MS - 60_000).await.unwrap();
    writes(&s, igsid, "hello again", json!({})).await;
    // A day after the attempt: one more call. Calls are made in the order messages were
    // handed over, so had either earlier message asked, its call would be counted here too.
    s.w.advance_clock(120_000).await.unwrap();
    writes(&s, igsid, "still waiting", json!({})).await;
    eventually("a second profile call", WAIT, || async {
        Ok((profile_calls(&s, igsid).await >= 2).then_some(()))
    })
    .await
    .unwrap();
    assert_eq!(profile_calls(&s, igsid).await, 2);
}
