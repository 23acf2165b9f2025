//! Drafting on arrival, end to end: a tenant with knowledge gets a grounded draft (with its
//! facts and the classifier's verdict) for a customer's question and a hand-off for an
//! off-domain one; a person's draft is never overwritten; a tenant without knowledge gets
//! nothing. Real relay over loopback; every wait polls with a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::desk::RawDesk;
use harness::sim::{SimWorld, eventually};
use harness::{IG_A, IG_B, World, ig_dm, now_ms};
use protocol::{Answer, Command, ThreadId};
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

async fn load_boutique(w: &World) {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/knowledge/boutique.toml"),
    )
    .unwrap();
    let resp = reqwest::Client::new()
        .put(format!("{}/v1/tenants/{}/knowledge", w.api.url, w.a.id))
        .bearer_auth(&w.a.owner_token)
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

/// Posts a DM and waits until its thread satisfies `done`; answers the thread JSON.
async fn dm_then(
    w: &World,
    tenant: &harness::Tenant,
    account: &str,
    customer: &str,
    text: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mid = format!("m-{customer}-{}", now_ms());
    let status = w
        .api
        .webhook("instagram", &ig_dm(account, &mid, customer, text, now_ms()))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let path = format!("/v1/tenants/{}/threads", tenant.id);
    eventually("the thread", WAIT, || async {
        let v = w
            .api
            .expect(Method::GET, &path, &tenant.agent_token, None, 200)
            .await?;
        Ok(v["threads"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["customer"]["id"] == customer && done(t))
            .cloned())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn customer_questions_get_grounded_drafts_or_a_hand_off() {
    let w = World::new().await.unwrap();
    load_boutique(&w).await;
    let thread = dm_then(
        &w,
        &w.a,
        IG_A,
        "7100000000000001",
        "kak Linen Wrap Dress harganya berapa?",
        |t| !t["draft"].is_null(),
    )
    .await;
    let draft = &thread["draft"];
    assert_eq!(draft["author"], "drafter", "{draft}");
    assert!(
        draft["text"].as_str().unwrap().contains("389.000"),
        "{draft}"
    );
    let facts: Vec<&str> = draft["basis"]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(facts.contains(&"sku:KB-DR-001"), "{draft}");
    assert!(
        draft["basis"]["held"].as_array().unwrap().is_empty(),
        "{draft}"
    );
    assert!(
        draft["basis"]["intents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "price")
    );

    // A size question: the draft names the right stock per colour in that size (M: Sage 0,
    // Terracotta 4) and the price.
    let sized = dm_then(
        &w,
        &w.a,
        IG_A,
        "7100000000000009",
        "Linen Wrap Dress size M ready kak? harganya?",
        |t| !t["draft"].is_null(),
    )
    .await;
    let text = sized["draft"]["text"].as_str().unwrap();
    assert!(text.contains("389.000"), "{text}");
    assert!(text.contains("Terracotta") && text.contains('4'), "{text}");
    assert!(
        sized["draft"]["basis"]["held"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{sized}"
    );

    let weather = dm_then(
        &w,
        &w.a,
        IG_A,
        "7100000000000002",
        "besok cuaca jakarta hujan ga ya",
        |t| !t["handoff"].is_null(),
    )
    .await;
    assert!(weather["draft"].is_null(), "{weather}");
    assert!(
        weather["handoff"].as_str().unwrap().contains("off-domain"),
        "{weather}"
    );

    // Tenant B has no knowledge: its customers' messages are stored, and nothing is drafted.
    let b = dm_then(
        &w,
        &w.b,
        IG_B,
        "7100000000000003",
        "harga dress berapa?",
        |_| true,
    )
    .await;
    // Drafting runs in arrival order across tenants: once a later message of tenant A has
    // its draft, B's message was seen and left alone.
    dm_then(
        &w,
        &w.a,
        IG_A,
        "7100000000000008",
        "Floral Midi Dress harganya?",
        |t| !t["draft"].is_null(),
    )
    .await;
    let path = format!("/v1/tenants/{}/threads", w.b.id);
    let v = w
        .api
        .expect(Method::GET, &path, &w.b.agent_token, None, 200)
        .await
        .unwrap();
    let b = v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == b["id"])
        .unwrap();
    assert!(b["draft"].is_null() && b["handoff"].is_null(), "{b}");
    // Once B loads knowledge, its next message is drafted.
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/knowledge/bakery.toml"),
    )
    .unwrap();
    let resp = reqwest::Client::new()
        .put(format!("{}/v1/tenants/{}/knowledge", w.api.url, w.b.id))
        .bearer_auth(&w.b.owner_token)
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    dm_then(
        &w,
        &w.b,
        IG_B,
        "7100000000000010",
        "How much is a croissant?",
        |t| !t["draft"].is_null(),
    )
    .await;
}

#[tokio::test]
async fn a_persons_draft_is_never_overwritten_by_the_drafter() {
    let w = World::new().await.unwrap();
    load_boutique(&w).await;
    let customer = "7100000000000004";
    let thread = dm_then(&w, &w.a, IG_A, customer, "Floral Midi Dress ready?", |t| {
        !t["draft"].is_null()
    })
    .await;
    let id = ThreadId::new(thread["id"].as_str().unwrap());
    let version = u32::try_from(thread["draft"]["version"].as_u64().unwrap()).unwrap();
    let mut desk = RawDesk::connect(&w.api.url, &w.a.agent_token, None)
        .await
        .unwrap();
    desk.hello(0).await.unwrap();
    let edit = Command::EditDraft {
        thread: id.clone(),
        base_version: version,
        text: "Ready kak, mau ukuran apa?".into(),
    };
    let (answer, _) = desk.command("k1", edit).await.unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    // The customer writes again: the drafter leaves the agent's draft alone.
    let after = dm_then(&w, &w.a, IG_A, customer, "harganya berapa kak?", |t| {
        t["counts"]["inbound"] == 2
    })
    .await;
    // Drafting runs in arrival order: once a later customer's draft exists, the drafter has
    // been through this message too.
    dm_then(
        &w,
        &w.a,
        IG_A,
        "7100000000000005",
        "Linen Wrap Dress harganya?",
        |t| !t["draft"].is_null(),
    )
    .await;
    let path = format!("/v1/tenants/{}/threads/{}/messages", w.a.id, id);
    let v = w
        .api
        .expect(Method::GET, &path, &w.a.agent_token, None, 200)
        .await
        .unwrap();
    assert_eq!(
        v["thread"]["draft"]["text"], "Ready kak, mau ukuran apa?",
        "{after}"
    );
    assert_ne!(v["thread"]["draft"]["author"], "drafter");
}

#[tokio::test]
async fn auto_send_sends_passed_drafts_only_inside_the_window_and_with_credits() {
    let SimWorld { w, sim, dir: _dir } = SimWorld::start().await.unwrap();
    load_boutique(&w).await;
    let settings = format!("/v1/tenants/{}/settings", w.a.id);
    w.api
        .expect(
            Method::PUT,
            &settings,
            &w.a.owner_token,
            Some(serde_json::json!({"auto_send": true})),
            200,
        )
        .await
        .unwrap();
    w.api
        .expect(
            Method::POST,
            &format!("/v1/tenants/{}/credits", w.a.id),
            harness::OPERATOR_TOKEN,
            Some(serde_json::json!({"add": 1})),
            200,
        )
        .await
        .unwrap();
    let write = |customer: &str, text: &str, ago: Option<&str>| {
        let mut action = serde_json::json!({"account": IG_A, "customer": customer,
                                            "type": "text", "text": text});
        if let Some(ago) = ago {
            action["ago"] = serde_json::json!(ago);
        }
        let api = sim.api.clone();
        async move { api.inbound(&action).await.unwrap() }
    };
    // Inside the window, with a credit: the passed draft goes out by itself.
    write(
        "7200000000000001",
        "kak Linen Wrap Dress harganya berapa?",
        None,
    )
    .await;
    let inbox = eventually("the auto-sent reply", WAIT, || async {
        let inbox = sim.api.inbox("7200000000000001").await?;
        Ok((!inbox.is_empty()).then_some(inbox))
    })
    .await
    .unwrap();
    assert_eq!(inbox.len(), 1);
    assert!(
        inbox[0]["text"].as_str().unwrap().contains("389.000"),
        "{inbox:?}"
    );
    assert!(
        inbox[0]["tag"].is_null(),
        "automation never uses the human-agent tag"
    );

    // 25 hours later only a person could still answer (with the tag): the draft waits.
    write(
        "7200000000000002",
        "Linen Wrap Dress masih ada?",
        Some("25h"),
    )
    .await;
    let waiting = dm_thread_with_draft(&w, "7200000000000002").await;
    assert_eq!(waiting["counts"]["replies_queued"], 0, "{waiting}");
    // No credits left (the first reply took the only one): the draft waits too.
    write("7200000000000003", "Linen Wrap Dress harganya?", None).await;
    let broke = dm_thread_with_draft(&w, "7200000000000003").await;
    assert_eq!(broke["counts"]["replies_queued"], 0, "{broke}");
    // Off-domain: a hand-off, nothing sent.
    write("7200000000000004", "besok cuaca jakarta hujan ga ya", None).await;
    let path = format!("/v1/tenants/{}/threads", w.a.id);
    eventually("the hand-off", WAIT, || async {
        let v = w
            .api
            .expect(Method::GET, &path, &w.a.agent_token, None, 200)
            .await?;
        Ok(v["threads"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["customer"]["id"] == "7200000000000004" && !t["handoff"].is_null())
            .then_some(()))
    })
    .await
    .unwrap();
    let sends: Vec<_> = sim
        .api
        .calls()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c["path_kind"] == "messages")
        .collect();
    assert_eq!(sends.len(), 1, "only the first draft was sent: {sends:#?}");
}

async fn dm_thread_with_draft(w: &World, customer: &str) -> Value {
    let path = format!("/v1/tenants/{}/threads", w.a.id);
    eventually("the draft", WAIT, || async {
        let v = w
            .api
            .expect(Method::GET, &path, &w.a.agent_token, None, 200)
            .await?;
        Ok(v["threads"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["customer"]["id"] == customer && !t["draft"].is_null())
            .cloned())
    })
    .await
    .unwrap()
}

fn ig_echo(account: &str, mid: &str, customer: &str, text: &str, at: i64) -> Vec<u8> {
    serde_json::json!({
        "object": "instagram",
        "entry": [{"id": account, "time": at, "messaging": [{
            "sender": {"id": account}, "recipient": {"id": customer}, "timestamp": at,
            "message": {"mid": mid, "text": text, "is_echo": true},
        }]}],
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn drafting_pauses_when_the_business_answers_from_the_app_until_resumed() {
    let w = World::new().await.unwrap();
    load_boutique(&w).await;
    let customer = "7100000000000006";
    let thread = dm_then(
        &w,
        &w.a,
        IG_A,
        customer,
        "Linen Wrap Dress harganya?",
        |t| !t["draft"].is_null(),
    )
    .await;
    let id = ThreadId::new(thread["id"].as_str().unwrap());
    let first_version = thread["draft"]["version"].clone();
    // The owner answers in Instagram's own app; Meta echoes it.
    let status = w
        .api
        .webhook(
            "instagram",
            &ig_echo(
                IG_A,
                "m-app-1",
                customer,
                "Halo kak, aku bantu ya",
                now_ms(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let paused = dm_then(&w, &w.a, IG_A, customer, "ukuran M ada?", |t| {
        t["owner_replying"] == true && t["counts"]["inbound"] == 2
    })
    .await;
    // Drafting runs in arrival order: another customer's draft proves this message was seen.
    dm_then(
        &w,
        &w.a,
        IG_A,
        "7100000000000007",
        "Floral Midi Dress harganya?",
        |t| !t["draft"].is_null(),
    )
    .await;
    let path = format!("/v1/tenants/{}/threads", w.a.id);
    let v = w
        .api
        .expect(Method::GET, &path, &w.a.agent_token, None, 200)
        .await
        .unwrap();
    let now = v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        now["draft"]["version"], first_version,
        "no new draft while paused: {paused}"
    );
    // An agent resumes; the next message is drafted again.
    let mut desk = RawDesk::connect(&w.api.url, &w.a.agent_token, None)
        .await
        .unwrap();
    desk.hello(0).await.unwrap();
    let (answer, _) = desk
        .command("k1", Command::ResumeDrafting { thread: id.clone() })
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    let resumed = dm_then(&w, &w.a, IG_A, customer, "Linen Wrap Dress ready?", |t| {
        t["owner_replying"] == false && t["draft"]["version"] != first_version
    })
    .await;
    assert_eq!(resumed["draft"]["author"], "drafter");
}

/// A stand-in for an OpenAI-compatible endpoint: answers with `reply`, or fails with
/// `status`; records every request body and authorization header.
async fn fake_llm(
    reply: &'static str,
    status: u16,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(Value, String)>>>,
) {
    use axum::routing::post;
    let seen: std::sync::Arc<std::sync::Mutex<Vec<(Value, String)>>> = Default::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
            let log = log.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                log.lock().unwrap().push((body.0, auth));
                let code = axum::http::StatusCode::from_u16(status).unwrap();
                let answer = serde_json::json!({"choices": [{"message": {"role": "assistant", "content": reply}}]});
                (code, axum::Json(answer))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

const LLM_KEY: &str = "sk-test-llm-key-0123456789";

async fn world_with_llm(url: &str) -> World {
    World::with_env(vec![
        ("LLM_BASE_URL".into(), url.into()),
        ("LLM_MODEL".into(), "test-model".into()),
        ("LLM_API_KEY".into(), LLM_KEY.into()),
    ])
    .await
    .unwrap()
}

#[tokio::test]
async fn the_model_words_drafts_from_retrieved_facts_and_is_checked_like_any_draft() {
    let (url, seen) = fake_llm("Halo kak! Linen Wrap Dress harganya Rp 389.000 ya.", 200).await;
    let mut w = world_with_llm(&url).await;
    w.secrets.push(LLM_KEY.into());
    load_boutique(&w).await;
    let thread = dm_then(
        &w,
        &w.a,
        IG_A,
        "7300000000000001",
        "Linen Wrap Dress harganya?",
        |t| !t["draft"].is_null(),
    )
    .await;
    let draft = &thread["draft"];
    assert_eq!(
        draft["text"],
        "Halo kak! Linen Wrap Dress harganya Rp 389.000 ya."
    );
    assert_eq!(draft["basis"]["source"], "llm");
    assert!(
        draft["basis"]["held"].as_array().unwrap().is_empty(),
        "{draft}"
    );
    let (body, auth) = seen.lock().unwrap()[0].clone();
    assert_eq!(auth, format!("Bearer {LLM_KEY}"));
    assert_eq!(body["model"], "test-model");
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("Kirana Boutique") && system.contains("KB-DR-001"),
        "{system}"
    );
    assert_eq!(
        body["messages"].as_array().unwrap().last().unwrap()["content"],
        "Linen Wrap Dress harganya?"
    );
    // Off-domain questions never reach the model.
    dm_then(
        &w,
        &w.a,
        IG_A,
        "7300000000000002",
        "besok cuaca jakarta hujan ga ya",
        |t| !t["handoff"].is_null(),
    )
    .await;
    assert_eq!(seen.lock().unwrap().len(), 1);
    w.assert_log_has_no_secrets().unwrap();
}

#[tokio::test]
async fn a_made_up_discount_from_the_model_is_held_and_a_failing_model_falls_back() {
    let (url, _) = fake_llm(
        "Linen Wrap Dress cuma Rp 123.456 hari ini, diskon 37%!",
        200,
    )
    .await;
    let w = world_with_llm(&url).await;
    load_boutique(&w).await;
    let thread = dm_then(
        &w,
        &w.a,
        IG_A,
        "7300000000000003",
        "Linen Wrap Dress harganya?",
        |t| !t["draft"].is_null(),
    )
    .await;
    let held = thread["draft"]["basis"]["held"].as_array().unwrap();
    assert!(!held.is_empty(), "{thread}");
    assert!(
        held.iter().any(|r| r.as_str().unwrap().contains("123.456")),
        "{held:?}"
    );

    let (down, _) = fake_llm("", 500).await;
    let w = world_with_llm(&down).await;
    load_boutique(&w).await;
    let thread = dm_then(
        &w,
        &w.a,
        IG_A,
        "7300000000000004",
        "Linen Wrap Dress harganya?",
        |t| !t["draft"].is_null(),
    )
    .await;
    let draft = &thread["draft"];
    assert!(
        draft["text"].as_str().unwrap().contains("389.000"),
        "{draft}"
    );
    let source = draft["basis"]["source"].as_str().unwrap();
    assert!(
        source.starts_with("grounded (") && source.contains("500"),
        "{source}"
    );
}

#[tokio::test]
async fn reply_rules_answer_first_and_a_spam_rule_hides_the_comment() {
    let SimWorld { w, sim, dir: _dir } = SimWorld::start().await.unwrap();
    load_boutique(&w).await;
    w.api
        .expect(
            Method::POST,
            &format!("/v1/tenants/{}/credits", w.a.id),
            harness::OPERATOR_TOKEN,
            Some(serde_json::json!({"add": 2})),
            200,
        )
        .await
        .unwrap();
    let settings = format!("/v1/tenants/{}/settings", w.a.id);
    let rules = serde_json::json!({"rules": [
        {"name": "spam", "channels": ["instagram_comment"],
         "keywords": ["giveaway", "follow back"], "hide_comment": true},
        {"name": "cod", "keywords": ["cod"], "reply": "Bisa COD kak, di {business} bayar di tempat ya.",
         "auto_send": true},
    ]});
    // A broken rule set is refused whole.
    let broken = serde_json::json!({"rules": [{"name": "x", "keywords": ["a"]}]});
    w.api
        .expect(Method::PUT, &settings, &w.a.owner_token, Some(broken), 400)
        .await
        .unwrap();
    let v = w
        .api
        .expect(Method::PUT, &settings, &w.a.owner_token, Some(rules), 200)
        .await
        .unwrap();
    assert_eq!(v["rules"].as_array().unwrap().len(), 2);
    assert_eq!(v["auto_send"], false, "the cod rule auto-sends on its own");

    let c = sim
        .api
        .inbound(
            &serde_json::json!({"account": IG_A, "customer": "7400000000000001",
            "type": "comment", "text": "Ikut giveaway di akun aku kak, follow back ya",
            "media_id": "18040000000007401"}),
        )
        .await
        .unwrap();
    let comment = c["ids"]["comment_id"].as_str().unwrap().to_owned();
    eventually("the spam comment hidden", WAIT, || async {
        let state = sim.api.comment(&comment).await?;
        Ok((state["hidden"] == true).then_some(state))
    })
    .await
    .unwrap();

    sim.api
        .inbound(
            &serde_json::json!({"account": IG_A, "customer": "7400000000000002",
            "type": "text", "text": "kak bisa COD ga?"}),
        )
        .await
        .unwrap();
    let inbox = eventually("the rule's reply", WAIT, || async {
        let inbox = sim.api.inbox("7400000000000002").await?;
        Ok((!inbox.is_empty()).then_some(inbox))
    })
    .await
    .unwrap();
    assert_eq!(
        inbox[0]["text"],
        "Bisa COD kak, di Kirana Boutique bayar di tempat ya."
    );
    // The spam comment got no reply at all.
    let state = sim.api.comment(&comment).await.unwrap();
    assert!(state["replies"].as_array().unwrap().is_empty(), "{state}");
}

#[tokio::test]
async fn a_prompt_rule_instructs_the_model_and_a_default_reply_holds_a_hand_off() {
    let (url, seen) = fake_llm("Halo kak, pesanan custom bisa, tim kami hubungi ya.", 200).await;
    let w = world_with_llm(&url).await;
    load_boutique(&w).await;
    let settings = format!("/v1/tenants/{}/settings", w.a.id);
    let body = serde_json::json!({
        "auto_send": true,
        "default_reply": "Terima kasih kak, pesan kakak kami teruskan ke tim {business} ya.",
        // The rule keeps its drafts for review even though the tenant auto-sends.
        "rules": [{"name": "custom", "keywords": ["custom"], "auto_send": false,
                   "prompt": "Say a colleague will follow up about custom orders."}],
    });
    w.api
        .expect(Method::PUT, &settings, &w.a.owner_token, Some(body), 200)
        .await
        .unwrap();
    // Credits to spare, so only the hold can keep the default reply from going out.
    w.api
        .expect(
            Method::POST,
            &format!("/v1/tenants/{}/credits", w.a.id),
            harness::OPERATOR_TOKEN,
            Some(serde_json::json!({"add": 5})),
            200,
        )
        .await
        .unwrap();
    let custom = dm_then(
        &w,
        &w.a,
        IG_A,
        "7500000000000001",
        "bisa pesan custom kebaya?",
        |t| !t["draft"].is_null(),
    )
    .await;
    assert_eq!(
        custom["draft"]["basis"]["source"], "rule:custom llm",
        "{custom}"
    );
    let (request, _) = seen.lock().unwrap()[0].clone();
    let system = request["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("custom orders"), "{system}");

    // Off-domain: the default reply is drafted for a person to approve, never auto-sent.
    let weather = dm_then(
        &w,
        &w.a,
        IG_A,
        "7500000000000002",
        "besok cuaca jakarta hujan ga ya",
        |t| !t["draft"].is_null(),
    )
    .await;
    let draft = &weather["draft"];
    assert_eq!(
        draft["text"],
        "Terima kasih kak, pesan kakak kami teruskan ke tim Kirana Boutique ya."
    );
    assert_eq!(draft["basis"]["source"], "default reply");
    assert!(
        draft["basis"]["held"][0]
            .as_str()
            .unwrap()
            .starts_with("hand-off"),
        "{draft}"
    );
    assert_eq!(weather["counts"]["replies_queued"], 0);
}
