//! End-to-end ingest: the real relay binary over loopback, Meta's example payloads signed
//! as Meta signs them, and the admin API reading back what was stored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::{
    APP_SECRET, Api, IG_A, IG_APP_SECRET, OPERATOR_TOKEN, VERIFY_TOKEN, WA_A, World, kind_of, sign,
};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/meta/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn manifest() -> Vec<Value> {
    serde_json::from_slice::<Vec<Value>>(&fixture("manifest.json")).unwrap()
}

async fn kinds(api: &Api, tenant: &str, token: &str) -> Vec<String> {
    let events = api.all_events(tenant, token).await.unwrap();
    events
        .iter()
        .map(|e| kind_of(e).unwrap().to_owned())
        .collect()
}

async fn head(api: &Api, tenant: &str) -> u64 {
    api.head(tenant).await.unwrap()
}

#[tokio::test]
async fn every_meta_example_lands_as_the_right_event_under_the_right_tenant() {
    let w = World::new().await.unwrap();
    let mut expected: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let manifest = manifest();
    assert!(
        manifest.len() >= 60,
        "the fixture set looks incomplete: {}",
        manifest.len()
    );
    for entry in &manifest {
        let file = entry["file"].as_str().unwrap();
        let endpoint = entry["endpoint"].as_str().unwrap();
        let status = w.api.webhook(endpoint, &fixture(file)).await.unwrap();
        assert_eq!(status, 200, "{file}");
        for item in entry["expect"].as_array().unwrap() {
            let tenant = if item["tenant"] == "a" { "a" } else { "b" };
            expected
                .entry(tenant)
                .or_default()
                .push(item["kind"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        kinds(&w.api, &w.a.id, &w.a.agent_token).await,
        expected["a"],
        "tenant A"
    );
    assert_eq!(
        kinds(&w.api, &w.b.id, &w.b.agent_token).await,
        expected["b"],
        "tenant B"
    );

    // Every event carries its own tenant, sequences are gap-free, and unknown kinds keep
    // Meta's raw JSON.
    for t in [&w.a, &w.b] {
        let events = w.api.all_events(&t.id, &t.agent_token).await.unwrap();
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e["tenant"], t.id.as_str());
            assert_eq!(e["seq"].as_u64().unwrap(), i as u64 + 1);
            if let Some(unknown) = e["body"].get("Unknown") {
                let raw: Value = serde_json::from_str(unknown["raw"].as_str().unwrap()).unwrap();
                assert!(raw.is_object(), "raw item kept as JSON: {raw}");
            }
        }
    }
    let metrics = w
        .api
        .http
        .get(format!("{}/metrics", w.api.url))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("relay_ingest_items_total{outcome=\"unknown_account\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("relay_flush_seconds_count"), "{metrics}");
    w.assert_log_has_no_secrets().unwrap();
}

/// A body above the inline-parse threshold is parsed on the blocking pool and stored whole.
#[tokio::test]
async fn a_large_whatsapp_body_is_parsed_off_the_workers_and_stored() {
    let w = World::new().await.unwrap();
    let messages: Vec<Value> = (0..400)
        .map(|i| {
            json!({"from": format!("6281{i:08}"), "id": format!("wamid.large.{i}"),
                   "timestamp": "1749416383", "type": "text",
                   "text": {"body": format!("pesan nomor {i} {}", "x".repeat(150))}})
        })
        .collect();
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [
        {"field": "messages", "value": {"messaging_product": "whatsapp",
         "metadata": {"phone_number_id": WA_A}, "messages": messages}}]}]})
    .to_string()
    .into_bytes();
    assert!(body.len() > 64 * 1024, "{} bytes", body.len());
    assert_eq!(w.api.webhook("whatsapp", &body).await.unwrap(), 200);
    assert_eq!(head(&w.api, &w.a.id).await, 400);
}

#[tokio::test]
async fn bad_input_gets_the_right_status_and_writes_nothing() {
    let w = World::with_env(vec![("RELAY_MAX_BODY_BYTES".into(), "65536".into())])
        .await
        .unwrap();
    let good = fixture("ig_text.json");
    let truncated = good[..good.len() / 2].to_vec();
    let mut oversized = br#"{"object":"instagram","entry":[],"pad":""#.to_vec();
    oversized.extend(std::iter::repeat_n(b'x', 70_000));
    oversized.extend(br#""}"#);
    let not_json = b"object=instagram".to_vec();
    let no_envelope = br#"{"hello":"world"}"#.to_vec();
    // Meta batches at most 1000 updates, so 1001 entries is not a body Meta sends.
    let too_many = json!({"object": "instagram", "entry": vec![json!({}); 1001]})
        .to_string()
        .into_bytes();
    // (case, body, signature header, status, error code)
    type Case = (&'static str, Vec<u8>, Option<String>, u16, &'static str);
    let cases: Vec<Case> = vec![
        (
            "bad signature",
            good.clone(),
            Some(sign(b"other body", APP_SECRET)),
            401,
            "bad_signature",
        ),
        (
            "wrong secret",
            good.clone(),
            Some(sign(&good, "not-the-secret")),
            401,
            "bad_signature",
        ),
        (
            "missing signature",
            good.clone(),
            None,
            401,
            "bad_signature",
        ),
        (
            "malformed signature",
            good.clone(),
            Some("sha256=zz".into()),
            401,
            "bad_signature",
        ),
        (
            "truncated body",
            truncated.clone(),
            Some(sign(&truncated, APP_SECRET)),
            400,
            "malformed_json",
        ),
        (
            "oversized body",
            oversized.clone(),
            Some(sign(&oversized, APP_SECRET)),
            413,
            "payload_too_large",
        ),
        (
            "non-JSON",
            not_json.clone(),
            Some(sign(&not_json, APP_SECRET)),
            400,
            "malformed_json",
        ),
        (
            "JSON without envelope",
            no_envelope.clone(),
            Some(sign(&no_envelope, APP_SECRET)),
            400,
            "not_an_envelope",
        ),
        (
            "more entries than a batch",
            too_many.clone(),
            Some(sign(&too_many, APP_SECRET)),
            413,
            "too_many_items",
        ),
    ];
    for (name, body, signature, status, code) in cases {
        let mut req = w
            .api
            .http
            .post(format!("{}/webhooks/instagram", w.api.url))
            .body(body);
        if let Some(s) = signature {
            req = req.header("x-hub-signature-256", s);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{name}");
        let text = resp.text().await.unwrap();
        let json: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{name}: {text}"));
        assert_eq!(json["error"]["code"], code, "{name}: {json}");
        assert!(!text.contains(APP_SECRET), "{name}");
    }
    assert_eq!(head(&w.api, &w.a.id).await, 0);
    assert_eq!(head(&w.api, &w.b.id).await, 0);
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
    assert_eq!(threads["threads"], json!([]));
    // The same good body, correctly signed, is then accepted.
    assert_eq!(w.api.webhook("instagram", &good).await.unwrap(), 200);
    assert_eq!(head(&w.api, &w.a.id).await, 1);
    w.assert_log_has_no_secrets().unwrap();
}

#[tokio::test]
async fn instagram_app_secret_signs_instagram_only() {
    let w = World::new().await.unwrap();
    let ig = fixture("ig_text.json");
    assert_eq!(
        w.api
            .webhook_raw("instagram", ig.clone(), Some(sign(&ig, IG_APP_SECRET)))
            .await
            .unwrap(),
        200
    );
    let wa = fixture("wa_image.json");
    assert_eq!(
        w.api
            .webhook_raw("whatsapp", wa.clone(), Some(sign(&wa, IG_APP_SECRET)))
            .await
            .unwrap(),
        401
    );
    assert_eq!(
        w.api
            .webhook_raw("whatsapp", wa.clone(), Some(sign(&wa, APP_SECRET)))
            .await
            .unwrap(),
        200
    );
}

fn dm(mid: &str, customer: &str, text: &str, echo: bool) -> Vec<u8> {
    let (sender, recipient) = if echo {
        (IG_A, customer)
    } else {
        (customer, IG_A)
    };
    let echo_field = if echo { r#","is_echo":true"# } else { "" };
    format!(
        r#"{{"object":"instagram","entry":[{{"id":"{IG_A}","time":1750000000123,"messaging":[{{"sender":{{"id":"{sender}"}},"recipient":{{"id":"{recipient}"}},"timestamp":1750000000000,"message":{{"mid":"{mid}","text":"{text}"{echo_field}}}}}]}}]}}"#
    )
    .into_bytes()
}

#[tokio::test]
async fn non_ascii_text_verifies_and_round_trips_exactly() {
    let w = World::new().await.unwrap();
    // Meta escapes non-ASCII; the relay must hash those bytes, and store the decoded text.
    let body = dm(
        "mid-unicode-1",
        "9100000000000001",
        r"Halo kak \ud83d\ude0a \u00e4\u00f6\u00e5 \u65e5\u672c \u0645\u0631\u062d\u0628\u0627",
        false,
    );
    assert_eq!(w.api.webhook("instagram", &body).await.unwrap(), 200);
    let raw_utf8 = dm(
        "mid-unicode-2",
        "9100000000000001",
        "Terima kasih 🙏 ñandú",
        false,
    );
    assert_eq!(w.api.webhook("instagram", &raw_utf8).await.unwrap(), 200);
    let threads = w
        .api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{}/threads", w.a.id),
            &w.a.agent_token,
            None,
            200,
        )
        .await
        .unwrap();
    let thread = threads["threads"][0]["id"].as_str().unwrap().to_owned();
    let messages = w
        .api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{}/threads/{thread}/messages", w.a.id),
            &w.a.agent_token,
            None,
            200,
        )
        .await
        .unwrap();
    let texts: Vec<&str> = messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"]["Message"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["Halo kak 😊 äöå 日本 مرحبا", "Terima kasih 🙏 ñandú"]
    );
}

#[tokio::test]
async fn echoes_are_outbound_messages_of_the_customer_thread() {
    let w = World::new().await.unwrap();
    let customer = "9100000000000077";
    assert_eq!(
        w.api
            .webhook(
                "instagram",
                &dm("mid-in-1", customer, "Ada ukuran M?", false)
            )
            .await
            .unwrap(),
        200
    );
    assert_eq!(
        w.api
            .webhook("instagram", &dm("mid-echo-1", customer, "Ada kak!", true))
            .await
            .unwrap(),
        200
    );
    let threads = w
        .api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{}/threads", w.a.id),
            &w.a.agent_token,
            None,
            200,
        )
        .await
        .unwrap();
    let threads = threads["threads"].as_array().unwrap();
    assert_eq!(
        threads.len(),
        1,
        "the echo must not create a new customer: {threads:?}"
    );
    let t = &threads[0];
    assert_eq!(t["customer"]["id"], customer);
    assert_eq!(
        t["counts"],
        json!({"messages": 2, "inbound": 1, "unanswered": 0, "replies_queued": 0})
    );
    assert_eq!(t["kind"], "dm");
    assert_eq!(t["last_inbound_at"], 1_750_000_000_000_i64);
    let messages = w
        .api
        .expect(
            Method::GET,
            &format!(
                "/v1/tenants/{}/threads/{}/messages",
                w.a.id,
                t["id"].as_str().unwrap()
            ),
            &w.a.agent_token,
            None,
            200,
        )
        .await
        .unwrap();
    let directions: Vec<&str> = messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["direction"].as_str().unwrap())
        .collect();
    assert_eq!(directions, ["Inbound", "Outbound"]);
    for m in messages["messages"].as_array().unwrap() {
        assert_eq!(
            m["occurred_at"], 1_750_000_000_000_i64,
            "Meta's own time is kept"
        );
        assert!(
            m["received_at"].as_i64().unwrap() > 1_750_000_000_000,
            "arrival time is separate"
        );
    }
    let channels = w
        .api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{}/channels", w.a.id),
            &w.a.owner_token,
            None,
            200,
        )
        .await
        .unwrap();
    let ig = channels["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "instagram")
        .unwrap();
    assert!(
        ig["last_event_at"].as_i64().is_some(),
        "the channel records its last arrival: {ig}"
    );
    let wa = channels["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "whatsapp")
        .unwrap();
    assert!(wa["last_event_at"].is_null());
}

#[tokio::test]
async fn replays_are_stored_once_and_a_clean_restart_keeps_everything() {
    let mut w = World::new().await.unwrap();
    let body = fixture("ig_batched.json");
    let first = w.api.webhook("instagram", &body).await.unwrap();
    assert_eq!(first, 200);
    let stored_a = head(&w.api, &w.a.id).await;
    let stored_b = head(&w.api, &w.b.id).await;
    assert!(stored_a > 0);
    // Meta retries, sometimes concurrently.
    let retries: Vec<_> = (0..16)
        .map(|_| {
            let api = w.api.clone();
            let body = body.clone();
            tokio::spawn(async move { api.webhook("instagram", &body).await.unwrap() })
        })
        .collect();
    for r in retries {
        assert_eq!(r.await.unwrap(), 200);
    }
    assert_eq!(head(&w.api, &w.a.id).await, stored_a);
    assert_eq!(head(&w.api, &w.b.id).await, stored_b);
    let before = w.api.all_events(&w.a.id, OPERATOR_TOKEN).await.unwrap();
    let threads_before = w
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
    w.stop().await.unwrap();
    w.start_again().await.unwrap();
    assert_eq!(
        w.api.all_events(&w.a.id, OPERATOR_TOKEN).await.unwrap(),
        before
    );
    let threads_after = w
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
    assert_eq!(
        threads_after["threads"].as_array().unwrap().len(),
        threads_before["threads"].as_array().unwrap().len()
    );
    assert_eq!(w.api.webhook("instagram", &body).await.unwrap(), 200);
    assert_eq!(
        head(&w.api, &w.a.id).await,
        stored_a,
        "dedup survives a restart"
    );
    // Tokens made before the restart still work.
    w.api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{}/threads", w.a.id),
            &w.a.agent_token,
            None,
            200,
        )
        .await
        .unwrap();
    w.assert_log_has_no_secrets().unwrap();
}

#[tokio::test]
async fn concurrent_webhooks_for_two_tenants_are_all_durable_and_never_mix() {
    let mut w = World::new().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..48 {
        let api = w.api.clone();
        tasks.push(tokio::spawn(async move {
            let (account, prefix) = if i % 2 == 0 { (IG_A, "a") } else { (harness::IG_B, "b") };
            let body = format!(
                r#"{{"object":"instagram","entry":[{{"id":"{account}","time":1750000000000,"messaging":[{{"sender":{{"id":"91000000{i:08}"}},"recipient":{{"id":"{account}"}},"timestamp":1750000000000,"message":{{"mid":"mid-{prefix}-{i}","text":"msg {i}"}}}}]}}]}}"#
            );
            api.webhook("instagram", body.as_bytes()).await.unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    // Durable, not merely stored: no chance to flush after the last 200.
    w.relay.take().unwrap().kill9().await.unwrap();
    w.start_again().await.unwrap();
    for (t, prefix) in [(&w.a, "mid-a-"), (&w.b, "mid-b-")] {
        let events = w.api.all_events(&t.id, &t.agent_token).await.unwrap();
        assert_eq!(events.len(), 24);
        let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, (1..=24).collect::<Vec<_>>());
        for e in &events {
            let mid = e["body"]["Inbound"]["kind"]["Message"]["mid"]
                .as_str()
                .unwrap();
            assert!(mid.starts_with(prefix), "{mid} under the wrong tenant");
        }
    }
}

#[tokio::test]
async fn subscription_handshake_echoes_only_for_the_verify_token() {
    let w = World::new().await.unwrap();
    for endpoint in ["instagram", "whatsapp"] {
        let get = |q: String| {
            let api = w.api.clone();
            async move {
                let r = api
                    .http
                    .get(format!("{}/webhooks/{endpoint}?{q}", api.url))
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        assert_eq!(
            get(format!(
                "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}"
            ))
            .await,
            (200, "1158201444".into())
        );
        assert_eq!(
            get("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=nope".into())
                .await
                .0,
            403
        );
        assert_eq!(
            get(format!(
                "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}"
            ))
            .await
            .0,
            403
        );
        assert_eq!(
            get(format!(
                "hub.mode=subscribe&hub.challenge=%3Cscript%3E&hub.verify_token={VERIFY_TOKEN}"
            ))
            .await
            .0,
            400
        );
    }
    w.assert_log_has_no_secrets().unwrap();
}

#[tokio::test]
async fn admin_api_is_scoped_by_the_bearer_token() {
    // With a simulator, so the channels hold tokens that answers must never show.
    let fx = harness::sim::SimWorld::start().await.unwrap();
    let w = &fx.w;
    let (a, b, p) = (&w.a, &w.b, &w.partner);
    let (viewer_status, viewer) = w
        .api
        .call(
            Method::POST,
            &format!("/v1/partners/{p}/viewers"),
            Some(OPERATOR_TOKEN),
            Some(&json!({"name": "analyst"})),
        )
        .await
        .unwrap();
    assert_eq!(viewer_status, 201);
    let viewer = viewer["token"].as_str().unwrap();
    let agent_body = json!({"name": "x", "role": "agent"});
    let (get, post) = (Method::GET, Method::POST);
    // (what, method, path, token, body, status, error code)
    type Case<'a> = (
        &'a str,
        Method,
        String,
        Option<&'a str>,
        Option<Value>,
        u16,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "agent reads own tenant",
            get.clone(),
            format!("/v1/tenants/{}/threads", a.id),
            Some(&a.agent_token),
            None,
            200,
            None,
        ),
        (
            "agent reads other tenant",
            get.clone(),
            format!("/v1/tenants/{}/threads", b.id),
            Some(&a.agent_token),
            None,
            404,
            Some("not_found"),
        ),
        (
            "owner reads other tenant",
            get.clone(),
            format!("/v1/tenants/{}/threads", b.id),
            Some(&a.owner_token),
            None,
            404,
            Some("not_found"),
        ),
        (
            "operator, no such tenant",
            get.clone(),
            "/v1/tenants/tn_doesnotexist/threads".into(),
            Some(OPERATOR_TOKEN),
            None,
            404,
            Some("not_found"),
        ),
        (
            "no token",
            get.clone(),
            format!("/v1/tenants/{}/threads", a.id),
            None,
            None,
            401,
            Some("unauthorized"),
        ),
        (
            "forged token",
            get.clone(),
            format!("/v1/tenants/{}/threads", a.id),
            Some("cdt_forged"),
            None,
            401,
            Some("unauthorized"),
        ),
        (
            "partner viewer never sees contents",
            get.clone(),
            format!("/v1/tenants/{}/threads", a.id),
            Some(viewer),
            None,
            404,
            Some("not_found"),
        ),
        (
            "agent cannot add agents",
            post.clone(),
            format!("/v1/tenants/{}/agents", a.id),
            Some(&a.agent_token),
            Some(agent_body.clone()),
            403,
            Some("forbidden"),
        ),
        (
            "owner adds agents",
            post.clone(),
            format!("/v1/tenants/{}/agents", a.id),
            Some(&a.owner_token),
            Some(agent_body.clone()),
            201,
            None,
        ),
        (
            "unknown role",
            post.clone(),
            format!("/v1/tenants/{}/agents", a.id),
            Some(&a.owner_token),
            Some(json!({"name": "x", "role": "admin"})),
            400,
            Some("invalid_field"),
        ),
        (
            "owner of other tenant",
            post.clone(),
            format!("/v1/tenants/{}/agents", b.id),
            Some(&a.owner_token),
            Some(agent_body.clone()),
            404,
            Some("not_found"),
        ),
        (
            "only the operator adds partners",
            post.clone(),
            "/v1/partners".into(),
            Some(&a.owner_token),
            Some(json!({"name": "p"})),
            403,
            Some("forbidden"),
        ),
        (
            "one account, one tenant",
            post.clone(),
            format!("/v1/tenants/{}/channels", b.id),
            Some(OPERATOR_TOKEN),
            Some(json!({"kind": "instagram", "account_id": IG_A})),
            409,
            Some("conflict"),
        ),
        (
            "account ids are numeric",
            post.clone(),
            format!("/v1/tenants/{}/channels", b.id),
            Some(OPERATOR_TOKEN),
            Some(json!({"kind": "instagram", "account_id": "abc"})),
            400,
            Some("invalid_field"),
        ),
    ];
    for (what, method, path, token, body, status, code) in cases {
        let (got, json) = w
            .api
            .call(method, &path, token, body.as_ref())
            .await
            .unwrap();
        assert_eq!(got, status, "{what}: {json}");
        if let Some(code) = code {
            assert_eq!(json["error"]["code"], code, "{what}: {json}");
        }
    }
    let raw = w
        .api
        .http
        .post(format!("{}/v1/partners", w.api.url))
        .bearer_auth(OPERATOR_TOKEN)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");
    // Channel answers never carry the access token.
    let (status, channels) = w
        .api
        .call(
            Method::GET,
            &format!("/v1/tenants/{}/channels", a.id),
            Some(&a.owner_token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let text = channels.to_string();
    assert!(channels["channels"][0]["has_token"].as_bool().unwrap());
    assert!(!text.contains("EAAG"), "{text}");
    for s in &w.secrets {
        assert!(!text.contains(s.as_str()));
    }
    w.assert_log_has_no_secrets().unwrap();
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let w = World::new().await.unwrap();
    let get = |p: &str| w.api.http.get(format!("{}{p}", w.api.url)).send();
    assert_eq!(get("/healthz").await.unwrap().status().as_u16(), 200);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let body: Value = ready.json().await.unwrap();
    // Each check by name: storage took a durable write, the key sealed and opened a test
    // value, no outbox worker died, the data directory has room.
    assert_eq!(body["disk"]["state"], "ok", "{body}");
    // The data directory holds the events on sled only (PostgreSQL's disk is the server's).
    if !harness::on_postgres() {
        assert!(body["disk"]["data_bytes"].as_u64().unwrap() > 0, "{body}");
    }
    let mut checks = body.clone();
    checks.as_object_mut().unwrap().remove("disk");
    assert_eq!(
        checks,
        json!({"ready": true, "storage": "ok", "keys": "ok", "keys_reason": null,
               "keys_sampled": 0,
               "outbox": {"state": "ok", "running": 0, "dead": 0, "restarts": 0}})
    );
    // The probe leaves nothing behind that a tenant could see.
    assert_eq!(w.api.head(&w.a.id).await.unwrap(), 0);
}
