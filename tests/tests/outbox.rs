//! Sending, end to end: a real relay whose Graph URLs point at a real `relay simulate`.
//! Customers write through the simulator, agents reply through a desk WebSocket, and the
//! tests check what the simulator received (every Graph call is recorded), what the
//! customer got (the simulator's inbox), and what the relay recorded and told the desk.
//! Every wait polls a condition with a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::desk::RawDesk;
use harness::sim::{SimWorld, eventually};
use harness::{IG_A, IG_B, OPERATOR_TOKEN, Tenant, WA_B};
use protocol::{
    Answer, Card, Choice, Command, EventBody, MediaKind, Rejection, ReplyContent, SendStatus,
    SenderAction, Seq, ThreadId,
};
use reqwest::Method;
use serde_json::{Value, json};
use std::ops::Deref;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// A relay calling a simulator, with this file's steps and reads on top.
struct Fx(SimWorld);

impl Deref for Fx {
    type Target = SimWorld;
    fn deref(&self) -> &SimWorld {
        &self.0
    }
}

async fn setup() -> Fx {
    Fx(SimWorld::start().await.unwrap())
}

impl Fx {
    /// Kills the relay with SIGKILL, starts it again on its data and repoints the simulator.
    async fn kill9_and_restart(&mut self) {
        self.0.w.relay.take().unwrap().kill9().await.unwrap();
        self.0.start_again().await.unwrap();
    }

    /// Waits for the tenant's (only) comment thread.
    async fn comment_thread(&self, tenant: &str, token: &str) -> ThreadId {
        let path = format!("/v1/tenants/{tenant}/threads");
        eventually("the comment thread", WAIT, || async {
            let v = self
                .w
                .api
                .expect(Method::GET, &path, token, None, 200)
                .await?;
            Ok(v["threads"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|th| th["kind"] == "comment")
                .and_then(|th| th["id"].as_str())
                .map(ThreadId::new))
        })
        .await
        .unwrap()
    }

    async fn customer_writes(&self, account: &str, customer: &str, text: &str, ago: Option<&str>) {
        let mut action =
            json!({"account": account, "customer": customer, "type": "text", "text": text});
        if let Some(ago) = ago {
            action["ago"] = json!(ago);
        }
        let ans = self.sim.api.inbound(&action).await.unwrap();
        assert_eq!(ans["status"], 200, "{ans}");
    }

    async fn thread_of(&self, t: &Tenant, customer: &str) -> ThreadId {
        self.w.thread_of(t, customer, WAIT).await.unwrap()
    }

    async fn top_up(&self, t: &Tenant, add: i64) -> i64 {
        self.w.top_up(t, add).await.unwrap()
    }

    async fn balance(&self, t: &Tenant) -> i64 {
        let path = format!("/v1/tenants/{}/credits", t.id);
        let v = self
            .w
            .api
            .expect(Method::GET, &path, &t.agent_token, None, 200)
            .await
            .unwrap();
        v["balance"].as_i64().unwrap()
    }

    async fn desk(&self, t: &Tenant) -> RawDesk {
        RawDesk::caught_up(&self.w.api.url, &t.agent_token)
            .await
            .unwrap()
    }

    async fn thread_json(&self, t: &Tenant, thread: &ThreadId) -> Value {
        let path = format!("/v1/tenants/{}/threads/{thread}/messages", t.id);
        self.w
            .api
            .expect(Method::GET, &path, &t.agent_token, None, 200)
            .await
            .unwrap()
    }

    /// Waits until the thread's reply number `i` is in `state`; answers the reply.
    async fn send_in(&self, t: &Tenant, thread: &ThreadId, i: usize, state: &str) -> Value {
        let what = format!("reply {i} {state}");
        eventually(&what, WAIT, || async {
            let v = self.thread_json(t, thread).await;
            let send = v["sends"][i].clone();
            Ok((send["state"] == state).then_some(send))
        })
        .await
        .unwrap()
    }

    /// Graph send calls (`/…/messages`) the simulator received.
    async fn send_calls(&self) -> Vec<Value> {
        self.sim.api.send_calls().await.unwrap()
    }

    async fn inbox_texts(&self, customer: &str) -> Vec<String> {
        self.sim
            .api
            .inbox(customer)
            .await
            .unwrap()
            .iter()
            .filter_map(|m| m["text"].as_str().map(str::to_owned))
            .collect()
    }
}

async fn reply(desk: &mut RawDesk, key: &str, thread: &ThreadId, text: &str) -> Answer {
    let command = Command::SendReply {
        thread: thread.clone(),
        text: text.into(),
    };
    desk.command(key, command).await.unwrap().0
}

/// Reads desk frames until an outbox event matching `pred` arrives.
async fn desk_sees(desk: &mut RawDesk, what: &str, pred: impl Fn(&SendStatus) -> bool) {
    tokio::time::timeout(WAIT, async {
        loop {
            if let protocol::ServerFrame::Event { event } = desk.next().await.unwrap()
                && let EventBody::Outbox(o) = &event.body
                && pred(&o.status)
            {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the desk never saw {what}"));
}

#[tokio::test]
async fn an_approved_reply_is_sent_once_and_its_statuses_reach_the_desk() {
    let fx = setup().await;
    let (t, customer) = (&fx.w.b, "5300000000000101");
    fx.customer_writes(IG_B, customer, "Is the rye loaf in stock?", None)
        .await;
    let thread = fx.thread_of(t, customer).await;
    assert_eq!(fx.top_up(t, 3).await, 3);
    let mut desk = fx.desk(t).await;
    let answer = reply(&mut desk, "k1", &thread, "Yes, baked this morning 🍞").await;
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    desk_sees(&mut desk, "the reply sent", |s| {
        matches!(s, SendStatus::Sent { .. })
    })
    .await;

    let send = fx.send_in(t, &thread, 0, "sent").await;
    let calls = fx.send_calls().await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["path"], format!("/v23.0/{IG_B}/messages"));
    assert_eq!(calls[0]["body"]["recipient"]["id"], customer);
    assert_eq!(
        calls[0]["body"]["message"]["text"],
        "Yes, baked this morning 🍞"
    );
    assert_eq!(calls[0]["body"]["messaging_type"], "RESPONSE");
    assert!(calls[0]["body"].get("tag").is_none());
    assert_eq!(calls[0]["token"], format!("account:{IG_B}"));
    assert_eq!(
        fx.inbox_texts(customer).await,
        ["Yes, baked this morning 🍞"]
    );
    assert_eq!(fx.balance(t).await, 2, "one credit per reply sent");

    // Meta's echo and the customer's read receipt come back as webhooks: the one outbound
    // message is marked seen, and no second copy appears.
    let mid = send["provider_id"].as_str().unwrap().to_owned();
    let outbound = eventually("the read receipt", WAIT, || async {
        let v = fx.thread_json(t, &thread).await;
        let outbound: Vec<Value> = v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "Outbound")
            .cloned()
            .collect();
        Ok(outbound
            .iter()
            .any(|m| m["seen"] == true)
            .then_some(outbound))
    })
    .await
    .unwrap();
    assert_eq!(outbound.len(), 1, "{outbound:#?}");
    assert_eq!(outbound[0]["mid"], mid.as_str());
    let v = fx.thread_json(t, &thread).await;
    assert_eq!(v["thread"]["counts"]["replies_queued"], 0);
    assert_eq!(v["thread"]["counts"]["unanswered"], 0);
}

#[tokio::test]
async fn whatsapp_statuses_follow_a_send_and_reach_the_message() {
    let fx = setup().await;
    let (t, customer) = (&fx.w.b, "6281234500101");
    fx.customer_writes(WA_B, customer, "Buka jam berapa?", None)
        .await;
    let thread = fx.thread_of(t, customer).await;
    fx.top_up(t, 1).await;
    let mut desk = fx.desk(t).await;
    let answer = reply(&mut desk, "k1", &thread, "Jam 7 pagi, kak").await;
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    fx.send_in(t, &thread, 0, "sent").await;
    let calls = fx.send_calls().await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["body"]["to"], customer);
    assert_eq!(calls[0]["body"]["text"]["body"], "Jam 7 pagi, kak");
    let callback = calls[0]["body"]["biz_opaque_callback_data"]
        .as_str()
        .unwrap();
    assert!(callback.starts_with(&t.id), "{callback}");
    eventually("the read status", WAIT, || async {
        let v = fx.thread_json(t, &thread).await;
        Ok(v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["direction"] == "Outbound" && m["status"] == "read")
            .then_some(()))
    })
    .await
    .unwrap();
    assert_eq!(fx.inbox_texts(customer).await, ["Jam 7 pagi, kak"]);
}

#[tokio::test]
async fn the_window_decides_between_standard_human_agent_and_refusal() {
    let fx = setup().await;
    let t = &fx.w.b;
    fx.top_up(t, 5).await;
    let cases = [
        ("5300000000000201", "23h59m"),
        ("5300000000000202", "24h1m"),
        ("5300000000000203", "7d1m"),
    ];
    let mut threads = Vec::new();
    for (customer, ago) in cases {
        fx.customer_writes(IG_B, customer, "hello?", Some(ago))
            .await;
        threads.push(fx.thread_of(t, customer).await);
    }
    let mut desk = fx.desk(t).await;
    assert!(matches!(
        reply(&mut desk, "k1", &threads[0], "inside the day").await,
        Answer::Applied { .. }
    ));
    assert!(matches!(
        reply(&mut desk, "k2", &threads[1], "a person answers late").await,
        Answer::Applied { .. }
    ));
    // Past 7 days not even a person may write: refused before anything is queued.
    let late = reply(&mut desk, "k3", &threads[2], "too late").await;
    assert!(
        matches!(
            late,
            Answer::Rejected {
                rejection: Rejection::OutsideWindow { .. }
            }
        ),
        "{late:?}"
    );
    let standard = fx.send_in(t, &threads[0], 0, "sent").await;
    let tagged = fx.send_in(t, &threads[1], 0, "sent").await;
    assert_eq!(standard["kind"], "Standard");
    assert_eq!(tagged["kind"], "HumanAgent");
    let calls = fx.send_calls().await;
    let body_for = |customer: &str| {
        calls
            .iter()
            .find(|c| c["body"]["recipient"]["id"] == customer)
            .map(|c| c["body"].clone())
            .unwrap()
    };
    assert!(body_for(cases[0].0).get("tag").is_none());
    assert_eq!(body_for(cases[1].0)["tag"], "HUMAN_AGENT");
    assert_eq!(body_for(cases[1].0)["messaging_type"], "MESSAGE_TAG");
    assert_eq!(calls.len(), 2);
    assert!(fx.inbox_texts(cases[2].0).await.is_empty());
    assert_eq!(fx.balance(t).await, 3);
}

#[tokio::test]
async fn transient_errors_are_retried_and_permanent_ones_wait_for_a_person() {
    let fx = setup().await;
    let (t, customer) = (&fx.w.b, "5300000000000301");
    fx.customer_writes(IG_B, customer, "hi", None).await;
    let thread = fx.thread_of(t, customer).await;
    fx.top_up(t, 10).await;
    fx.sim
        .api
        .fault(&json!({"kind": "server_error", "status": 500, "path": "messages", "count": 2}))
        .await
        .unwrap();
    let mut desk = fx.desk(t).await;
    reply(&mut desk, "k1", &thread, "third time lucky").await;
    let sent = fx.send_in(t, &thread, 0, "sent").await;
    assert_eq!(sent["attempts"], 3);
    assert_eq!(fx.send_calls().await.len(), 3);
    assert_eq!(fx.inbox_texts(customer).await, ["third time lucky"]);
    assert_eq!(
        fx.balance(t).await,
        9,
        "failed attempts gave their credits back"
    );

    // Over Instagram's 1000-byte limit: Meta refuses it, and retrying would not help.
    let long = "é".repeat(600);
    reply(&mut desk, "k2", &thread, &long).await;
    let failed = fx.send_in(t, &thread, 1, "failed").await;
    assert_eq!(failed["failure"]["class"], "permanent");
    assert_eq!(failed["failure"]["code"], 100);
    assert!(failed["retry_at"].is_null());
    assert_eq!(
        fx.send_calls().await.len(),
        4,
        "a permanent error is not retried"
    );
    assert_eq!(fx.balance(t).await, 9);
    // A later reply of the same thread waits behind the failed one…
    reply(&mut desk, "k3", &thread, "after the long one").await;
    // …until a person gives the failed one up.
    let discard = Command::DiscardSend {
        thread: thread.clone(),
        send: Seq(failed["send"].as_u64().unwrap()),
    };
    let (answer, _) = desk.command("k4", discard).await.unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    fx.send_in(t, &thread, 2, "sent").await;
    assert_eq!(
        fx.inbox_texts(customer).await,
        ["third time lucky", "after the long one"]
    );
}

#[tokio::test]
async fn rate_limits_are_honoured_with_a_back_off() {
    let fx = setup().await;
    let (t, customer) = (&fx.w.b, "5300000000000401");
    fx.customer_writes(IG_B, customer, "hi", None).await;
    let thread = fx.thread_of(t, customer).await;
    fx.top_up(t, 2).await;
    fx.sim
        .api
        .fault(&json!({"kind": "rate_limit", "code": 4, "path": "messages", "count": 1}))
        .await
        .unwrap();
    let mut desk = fx.desk(t).await;
    reply(&mut desk, "k1", &thread, "patience").await;
    let retry = std::cell::Cell::new(None);
    desk_sees(&mut desk, "the rate-limit failure", |s| match s {
        SendStatus::Failed {
            failure,
            retry_at: Some(at),
        } if failure.class == protocol::FailureClass::RateLimited => {
            retry.set(Some(at.0));
            true
        }
        _ => false,
    })
    .await;
    let retry_at = retry.get().unwrap();
    let calls = fx.send_calls().await;
    assert_eq!(calls.len(), 1, "retried before its time: {calls:?}");
    // The relay's clock has not been moved yet, so it still reads the system's time, as
    // the simulator's call log does.
    let first = calls[0]["at_ms"].as_i64().unwrap();
    assert!(
        retry_at - first >= 400,
        "retry planned {} ms after the refused call, without backing off",
        retry_at - first
    );
    // Time moves to the planned retry instead of the test waiting for it.
    let now = fx.w.advance_clock(0).await.unwrap();
    fx.w.advance_clock((retry_at - now).max(0) + 1)
        .await
        .unwrap();
    let sent = fx.send_in(t, &thread, 0, "sent").await;
    assert_eq!(sent["attempts"], 2);
    assert_eq!(fx.send_calls().await.len(), 2);
    assert_eq!(fx.balance(t).await, 1);
}

#[tokio::test]
async fn an_expired_token_stops_the_channel_until_a_person_retries() {
    let fx = setup().await;
    let t = &fx.w.a;
    let (c1, c2) = ("5300000000000501", "5300000000000502");
    fx.customer_writes(IG_A, c1, "hi", None).await;
    fx.customer_writes(IG_A, c2, "hello", None).await;
    let (t1, t2) = (fx.thread_of(t, c1).await, fx.thread_of(t, c2).await);
    fx.top_up(t, 5).await;
    let fault = fx
        .sim
        .api
        .fault(&json!({"kind": "token_expired", "path": "messages"}))
        .await
        .unwrap();
    let mut desk = fx.desk(t).await;
    reply(&mut desk, "k1", &t1, "first").await;
    let failed = fx.send_in(t, &t1, 0, "failed").await;
    assert_eq!(failed["failure"]["class"], "token_invalid");
    assert_eq!(failed["failure"]["code"], 190);
    assert!(
        failed["failure"]["message"]
            .as_str()
            .unwrap()
            .contains("reconnect")
    );
    // Facebook Login: the page path.
    assert_eq!(
        fx.send_calls().await[0]["path"],
        format!("/v23.0/{}/messages", harness::PAGE_A)
    );
    // Another thread on the same channel does not even try while the token is refused.
    reply(&mut desk, "k2", &t2, "second").await;
    let v = fx.thread_json(t, &t2).await;
    assert_eq!(v["sends"][0]["state"], "queued");
    assert_eq!(fx.send_calls().await.len(), 1);
    assert_eq!(fx.balance(t).await, 5);
    let channels =
        fx.w.api
            .expect(
                Method::GET,
                &format!("/v1/tenants/{}/channels", t.id),
                &t.owner_token,
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
    assert_eq!(ig["needs_reconnect"], true, "{channels}");
    // Reconnected (here: the fault is gone); a person retries and both go.
    fx.sim
        .api
        .call(Method::DELETE, &format!("/_sim/faults/{fault}"), None)
        .await
        .unwrap();
    let retry = Command::RetrySend {
        thread: t1.clone(),
        send: Seq(failed["send"].as_u64().unwrap()),
    };
    let (answer, _) = desk.command("k3", retry).await.unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    fx.send_in(t, &t1, 0, "sent").await;
    fx.send_in(t, &t2, 0, "sent").await;
    assert_eq!(fx.inbox_texts(c1).await, ["first"]);
    assert_eq!(fx.inbox_texts(c2).await, ["second"]);
    assert_eq!(fx.balance(t).await, 3);
}

#[tokio::test]
async fn no_credits_means_no_send_until_a_top_up_and_a_retry() {
    let fx = setup().await;
    let (t, customer) = (&fx.w.b, "5300000000000601");
    fx.customer_writes(IG_B, customer, "hi", None).await;
    let thread = fx.thread_of(t, customer).await;
    let mut desk = fx.desk(t).await;
    // At zero the desk is told at once, and nothing is queued.
    let refused = reply(&mut desk, "k0", &thread, "on credit").await;
    assert_eq!(
        refused,
        Answer::Rejected {
            rejection: Rejection::NoCredits
        }
    );
    assert!(
        fx.thread_json(t, &thread).await["sends"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // One credit, two replies queued before either went (both wait behind a reply Meta
    // refused, which gave its credit back): the second finds none left.
    fx.top_up(t, 1).await;
    reply(&mut desk, "k1", &thread, &"é".repeat(600)).await;
    let refused = fx.send_in(t, &thread, 0, "failed").await;
    assert_eq!(refused["failure"]["class"], "permanent");
    reply(&mut desk, "k2", &thread, "first").await;
    reply(&mut desk, "k3", &thread, "second").await;
    let discard = Command::DiscardSend {
        thread: thread.clone(),
        send: Seq(refused["send"].as_u64().unwrap()),
    };
    desk.command("k4", discard).await.unwrap();
    fx.send_in(t, &thread, 1, "sent").await;
    let failed = fx.send_in(t, &thread, 2, "failed").await;
    assert_eq!(failed["failure"]["class"], "no_credits");
    assert_eq!(fx.send_calls().await.len(), 2);
    fx.top_up(t, 1).await;
    let retry = Command::RetrySend {
        thread: thread.clone(),
        send: Seq(failed["send"].as_u64().unwrap()),
    };
    let (answer, _) = desk.command("k5", retry).await.unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    fx.send_in(t, &thread, 2, "sent").await;
    assert_eq!(fx.inbox_texts(customer).await, ["first", "second"]);
    assert_eq!(fx.balance(t).await, 0);
}

#[tokio::test]
async fn a_relay_killed_mid_send_delivers_the_reply_exactly_once() {
    let mut fx = setup().await;
    let (t, customer) = (fx.w.b.clone(), "5300000000000701");
    fx.customer_writes(IG_B, customer, "hi", None).await;
    let thread = fx.thread_of(&t, customer).await;
    fx.top_up(&t, 3).await;
    // Meta takes the message, then the answer never comes back in time.
    fx.sim
        .api
        .fault(&json!({"kind": "timeout", "ms": 5000, "deliver": true, "path": "messages", "count": 1}))
        .await
        .unwrap();
    let mut desk = fx.desk(&t).await;
    reply(&mut desk, "k1", &thread, "only once, please").await;
    eventually("the customer got it", WAIT, || async {
        Ok((!fx.inbox_texts(customer).await.is_empty()).then_some(()))
    })
    .await
    .unwrap();
    // The call is still waiting for Meta's answer: kill the relay now.
    fx.kill9_and_restart().await;
    let sent = fx.send_in(&t, &thread, 0, "sent").await;
    assert_eq!(fx.inbox_texts(customer).await, ["only once, please"]);
    let v = fx.thread_json(&t, &thread).await;
    let events = fx.w.api.all_events(&t.id, &t.agent_token).await.unwrap();
    let reconciled = events
        .iter()
        .any(|e| e["body"]["Outbox"]["status"]["sent"]["reconciled"] == true);
    assert!(
        reconciled,
        "the send was settled through Meta's records: {v}"
    );
    assert_eq!(sent["attempts"], 1, "no second attempt was made");
    // The killed call was never answered, so the simulator recorded no call at all; a
    // resend by the restarted relay would show here.
    assert!(fx.send_calls().await.is_empty());
    assert_eq!(fx.balance(&t).await, 2);
}

#[tokio::test]
async fn an_answer_lost_after_delivery_is_not_sent_twice() {
    let fx = setup().await;
    let (t, customer) = (&fx.w.b, "5300000000000702");
    fx.customer_writes(IG_B, customer, "hi", None).await;
    let thread = fx.thread_of(t, customer).await;
    fx.top_up(t, 3).await;
    fx.sim
        .api
        .fault(&json!({"kind": "server_error", "status": 503, "deliver": true, "path": "messages", "count": 1}))
        .await
        .unwrap();
    let mut desk = fx.desk(t).await;
    reply(&mut desk, "k1", &thread, "did it arrive?").await;
    fx.send_in(t, &thread, 0, "sent").await;
    assert_eq!(fx.inbox_texts(customer).await, ["did it arrive?"]);
    assert_eq!(fx.send_calls().await.len(), 1);
    assert_eq!(fx.balance(t).await, 2);
}

#[tokio::test]
async fn the_evidence_chain_of_a_conversation_verifies() {
    let fx = setup().await;
    let (t, customer) = (&fx.w.b, "5300000000000801");
    fx.customer_writes(IG_B, customer, "hi", None).await;
    let thread = fx.thread_of(t, customer).await;
    fx.top_up(t, 1).await;
    let mut desk = fx.desk(t).await;
    reply(&mut desk, "k1", &thread, "hello back").await;
    fx.send_in(t, &thread, 0, "sent").await;
    let path = format!("/v1/tenants/{}/audit/verify", t.id);
    let head = fx.w.api.head(&t.id).await.unwrap();
    let v = fx.w.api.audit_ok(&t.id, &t.owner_token).await.unwrap();
    assert!(v["records"].as_u64().unwrap() >= head.min(4), "{v}");
    // The operator's CLI says the same and exits 0; a credit top-up through it shows.
    let cli = |args: &[&str]| {
        std::process::Command::new(harness::relay_bin().unwrap())
            .arg("admin")
            .arg("--url")
            .arg(&fx.w.api.url)
            .arg("--json")
            .args(args)
            .env("RELAY_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .output()
            .unwrap()
    };
    let out = cli(&["audit", "verify", "--tenant", &t.id]);
    assert!(out.status.success(), "{out:?}");
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["ok"], true);
    // Exported, the log checks offline; a text changed in the file is named by its event.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evidence.jsonl");
    let out = cli(&[
        "audit",
        "export",
        "--tenant",
        &t.id,
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let verify_file = |path: &std::path::Path| {
        std::process::Command::new(harness::relay_bin().unwrap())
            .args(["audit", "verify-file"])
            .arg(path)
            .output()
            .unwrap()
    };
    let out = verify_file(&file);
    assert!(out.status.success(), "{out:?}");
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Later statuses may have come in since `head` was read.
    assert!(printed["records"].as_u64().unwrap() >= head, "{printed}");
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("hello back"))
        .expect("the reply's text is in the export");
    std::fs::write(&file, text.replacen("hello back", "hello hack", 1)).unwrap();
    let out = verify_file(&file);
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Line 0 is the header, so line n holds event n.
    assert!(stderr.contains(&format!("at event {line}:")), "{stderr}");
    let out = cli(&["credits", "add", "--tenant", &t.id, "--add", "7"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fx.balance(t).await, 7);
    // Agents may not read the chain; other tenants' owners do not see this tenant.
    fx.w.api
        .expect(Method::GET, &path, &t.agent_token, None, 403)
        .await
        .unwrap();
    fx.w.api
        .expect(Method::GET, &path, &fx.w.a.owner_token, None, 404)
        .await
        .unwrap();
}

async fn message(
    desk: &mut RawDesk,
    key: &str,
    thread: &ThreadId,
    content: ReplyContent,
    reply_to: Option<&str>,
) -> Answer {
    let command = Command::SendMessage {
        thread: thread.clone(),
        content,
        reply_to: reply_to.map(str::to_owned),
    };
    desk.command(key, command).await.unwrap().0
}

fn choice(title: &str) -> Choice {
    Choice {
        title: title.into(),
        payload: title.to_uppercase(),
    }
}

#[tokio::test]
async fn every_instagram_message_type_reaches_meta_in_its_shape() {
    let fx = setup().await;
    let (t, customer) = (&fx.w.b, "5300000000000901");
    fx.customer_writes(IG_B, customer, "show me the cakes", None)
        .await;
    let thread = fx.thread_of(t, customer).await;
    let customer_mid = fx.thread_json(t, &thread).await["messages"][0]["mid"]
        .as_str()
        .unwrap()
        .to_owned();
    fx.top_up(t, 10).await;
    let mut desk = fx.desk(t).await;
    let contents = [
        ReplyContent::SenderAction(SenderAction::TypingOn),
        ReplyContent::Media {
            kind: MediaKind::Image,
            url: "https://cdn.example/cake.jpg".into(),
            caption: None,
        },
        ReplyContent::Media {
            kind: MediaKind::Video,
            url: "https://cdn.example/cake.mp4".into(),
            caption: None,
        },
        ReplyContent::Heart,
        ReplyContent::QuickReplies {
            text: "Which size?".into(),
            options: vec![choice("Small"), choice("Large")],
        },
        ReplyContent::Buttons {
            text: "Order now?".into(),
            buttons: vec![choice("Yes"), choice("Later")],
        },
        ReplyContent::Cards {
            cards: vec![Card {
                title: "Rye loaf".into(),
                subtitle: Some("Rp 45.000".into()),
                image_url: Some("https://cdn.example/rye.jpg".into()),
                buttons: vec![choice("Buy")],
            }],
        },
        ReplyContent::SenderAction(SenderAction::React {
            mid: customer_mid.clone(),
            emoji: "love".into(),
        }),
    ];
    for (i, content) in contents.iter().enumerate() {
        let answer = message(&mut desk, &format!("k{i}"), &thread, content.clone(), None).await;
        assert!(
            matches!(answer, Answer::Applied { .. }),
            "{content:?}: {answer:?}"
        );
    }
    // One send queue per thread: they go in order, the last one last.
    fx.send_in(t, &thread, contents.len() - 1, "sent").await;
    let calls = fx.send_calls().await;
    let bodies: Vec<&Value> = calls.iter().map(|c| &c["body"]).collect();
    assert_eq!(bodies.len(), contents.len(), "{bodies:#?}");
    assert_eq!(bodies[0]["sender_action"], "typing_on");
    assert_eq!(
        bodies[1]["message"]["attachments"][0],
        json!({"type": "image", "payload": {"url": "https://cdn.example/cake.jpg"}})
    );
    assert_eq!(bodies[2]["message"]["attachment"]["type"], "video");
    assert_eq!(
        bodies[3]["message"]["attachment"],
        json!({"type": "like_heart"})
    );
    assert_eq!(bodies[4]["message"]["quick_replies"][1]["payload"], "LARGE");
    let button = &bodies[5]["message"]["attachment"]["payload"];
    assert_eq!(button["template_type"], "button");
    assert_eq!(button["buttons"][0]["type"], "postback");
    let generic = &bodies[6]["message"]["attachment"]["payload"];
    assert_eq!(generic["template_type"], "generic");
    assert_eq!(generic["elements"][0]["subtitle"], "Rp 45.000");
    assert_eq!(bodies[7]["sender_action"], "react");
    assert_eq!(bodies[7]["payload"]["message_id"], customer_mid.as_str());
    for c in &calls {
        assert_eq!(c["status"], 200, "{c}");
    }
    // Six messages cost six credits; typing and the reaction are free.
    assert_eq!(fx.balance(t).await, 4);
    // A WhatsApp-only content is refused on Instagram before anything is queued.
    let wrong = ReplyContent::Template {
        name: "order_update".into(),
        language: "en_US".into(),
        params: vec![],
    };
    let answer = message(&mut desk, "kx", &thread, wrong, None).await;
    assert!(
        matches!(
            answer,
            Answer::Rejected {
                rejection: Rejection::Invalid { .. }
            }
        ),
        "{answer:?}"
    );
}

#[tokio::test]
async fn whatsapp_templates_go_outside_the_window_and_media_quotes_inside() {
    let fx = setup().await;
    let (t, customer) = (&fx.w.b, "6281234500901");
    fx.customer_writes(WA_B, customer, "pesanan saya?", Some("25h"))
        .await;
    let thread = fx.thread_of(t, customer).await;
    fx.top_up(t, 10).await;
    let mut desk = fx.desk(t).await;
    let free_form = reply(&mut desk, "k1", &thread, "sudah dikirim").await;
    assert!(
        matches!(
            free_form,
            Answer::Rejected {
                rejection: Rejection::OutsideWindow { .. }
            }
        ),
        "{free_form:?}"
    );
    let template = |name: &str| ReplyContent::Template {
        name: name.into(),
        language: "en_US".into(),
        params: vec!["Ana".into(), "#123".into()],
    };
    assert!(matches!(
        message(&mut desk, "k2", &thread, template("order_update"), None).await,
        Answer::Applied { .. }
    ));
    let sent = fx.send_in(t, &thread, 0, "sent").await;
    assert_eq!(sent["kind"], "WhatsAppTemplate");
    // A template Meta has not approved is refused by Meta, and not retried.
    message(&mut desk, "k3", &thread, template("spring_sale"), None).await;
    let failed = fx.send_in(t, &thread, 1, "failed").await;
    assert_eq!(failed["failure"]["class"], "permanent");
    assert_eq!(failed["failure"]["code"], 132_001);
    let discard = Command::DiscardSend {
        thread: thread.clone(),
        send: Seq(failed["send"].as_u64().unwrap()),
    };
    desk.command("k4", discard).await.unwrap();

    // The customer writes again: the window opens for media and buttons, quoting them.
    fx.customer_writes(WA_B, customer, "boleh lihat fotonya?", None)
        .await;
    let quoted = eventually("the new message", WAIT, || async {
        let v = fx.thread_json(t, &thread).await;
        Ok(v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .rfind(|m| m["direction"] == "Inbound")
            .filter(|m| m["content"]["Message"]["text"] == "boleh lihat fotonya?")
            .and_then(|m| m["mid"].as_str().map(str::to_owned)))
    })
    .await
    .unwrap();
    let photo = ReplyContent::Media {
        kind: MediaKind::Image,
        url: "https://cdn.example/box.jpg".into(),
        caption: Some("Ini paketnya".into()),
    };
    message(&mut desk, "k5", &thread, photo, Some(&quoted)).await;
    let buttons = ReplyContent::Buttons {
        text: "Sudah diterima?".into(),
        buttons: vec![choice("Sudah"), choice("Belum")],
    };
    message(&mut desk, "k6", &thread, buttons, None).await;
    fx.send_in(t, &thread, 3, "sent").await;
    let calls = fx.send_calls().await;
    let template_call = &calls[0]["body"];
    assert_eq!(template_call["type"], "template");
    assert_eq!(template_call["template"]["language"]["code"], "en_US");
    assert_eq!(
        template_call["template"]["components"][0]["parameters"][1]["text"],
        "#123"
    );
    let photo_call = &calls[calls.len() - 2]["body"];
    assert_eq!(photo_call["type"], "image");
    assert_eq!(photo_call["image"]["caption"], "Ini paketnya");
    assert_eq!(photo_call["context"]["message_id"], quoted.as_str());
    let buttons_call = &calls[calls.len() - 1]["body"];
    assert_eq!(buttons_call["interactive"]["type"], "button");
    assert_eq!(
        buttons_call["interactive"]["action"]["buttons"][1]["reply"]["id"],
        "BELUM"
    );
    // Three sent messages, three credits; the refused template gave its credit back.
    assert_eq!(fx.balance(t).await, 7);
}

#[tokio::test]
async fn comments_get_a_public_reply_one_private_reply_and_can_be_hidden() {
    let fx = setup().await;
    let (t, customer) = (&fx.w.b, "5300000000000902");
    let c = fx
        .sim
        .api
        .inbound(
            &json!({"account": IG_B, "customer": customer, "type": "comment",
            "text": "Harganya berapa kak?", "media_id": "18040000000000901", "username": "budi"}),
        )
        .await
        .unwrap();
    let comment = c["ids"]["comment_id"].as_str().unwrap().to_owned();
    let thread = fx.comment_thread(&t.id, &t.agent_token).await;
    fx.top_up(t, 5).await;
    let mut desk = fx.desk(t).await;
    assert!(matches!(
        reply(&mut desk, "k1", &thread, "Rp 350.000 kak, cek DM ya").await,
        Answer::Applied { .. }
    ));
    let private = |text: &str| ReplyContent::PrivateReply { text: text.into() };
    assert!(matches!(
        message(
            &mut desk,
            "k2",
            &thread,
            private("Halo kak, ini detailnya"),
            None
        )
        .await,
        Answer::Applied { .. }
    ));
    let public = fx.send_in(t, &thread, 0, "sent").await;
    assert_eq!(public["kind"], "PublicReply");
    let dm = fx.send_in(t, &thread, 1, "sent").await;
    assert_eq!(dm["kind"], "PrivateReply");
    // The one private reply is used: a second is refused before it is queued.
    let again = message(&mut desk, "k3", &thread, private("again"), None).await;
    assert!(
        matches!(
            again,
            Answer::Rejected {
                rejection: Rejection::OutsideWindow { .. }
            }
        ),
        "{again:?}"
    );
    let hide = Command::HideComment {
        thread: thread.clone(),
        comment_id: comment.clone(),
        hidden: true,
    };
    // Hiding is the business's call: refused until an owner allows it.
    let (refused, _) = desk.command("k4-0", hide.clone()).await.unwrap();
    assert!(
        matches!(
            refused,
            Answer::Rejected {
                rejection: Rejection::Forbidden { .. }
            }
        ),
        "{refused:?}"
    );
    let settings = format!("/v1/tenants/{}/settings", t.id);
    fx.w.api
        .expect(
            Method::PUT,
            &settings,
            &t.agent_token,
            Some(json!({"hide_comments": true})),
            403,
        )
        .await
        .unwrap();
    let v =
        fx.w.api
            .expect(
                Method::PUT,
                &settings,
                &t.owner_token,
                Some(json!({"hide_comments": true})),
                200,
            )
            .await
            .unwrap();
    assert_eq!(
        v,
        json!({"auto_send": false, "hide_comments": true, "rules": [], "default_reply": null,
               "agents_assign": false})
    );
    fx.w.api
        .expect(
            Method::PUT,
            &settings,
            &t.owner_token,
            Some(json!({"hide": true})),
            422,
        )
        .await
        .unwrap();
    let (answer, _) = desk.command("k4", hide).await.unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    fx.send_in(t, &thread, 2, "sent").await;
    let state = fx.sim.api.comment(&comment).await.unwrap();
    assert_eq!(state["hidden"], true, "{state}");
    assert_eq!(state["replies"].as_array().unwrap().len(), 1, "{state}");
    assert!(state["private_reply"].is_string(), "{state}");
    let calls = fx.sim.api.calls().await.unwrap();
    assert!(
        calls
            .iter()
            .any(|c| c["path"] == format!("/v23.0/{comment}/replies"))
    );
    assert!(
        calls
            .iter()
            .any(|c| c["body"]["recipient"]["comment_id"] == comment.as_str())
    );
    // Two messages cost two credits; hiding is free.
    assert_eq!(fx.balance(t).await, 3);
}

#[tokio::test]
async fn templates_are_listed_from_the_waba_and_ice_breakers_read_and_set() {
    let fx = setup().await;
    let t = &fx.w.b;
    let channels =
        fx.w.api
            .expect(
                Method::GET,
                &format!("/v1/tenants/{}/channels", t.id),
                &t.owner_token,
                None,
                200,
            )
            .await
            .unwrap();
    let id_of = |kind: &str| {
        channels["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == kind)
            .and_then(|c| c["id"].as_str())
            .unwrap()
            .to_owned()
    };
    let (ig, wa) = (id_of("instagram"), id_of("whatsapp"));
    let base = format!("/v1/tenants/{}/channels", t.id);
    let v =
        fx.w.api
            .expect(
                Method::GET,
                &format!("{base}/{wa}/templates"),
                &t.agent_token,
                None,
                200,
            )
            .await
            .unwrap();
    let sendable: Vec<(String, String)> = v["templates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["sendable"] == true)
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["language"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        sendable.contains(&("order_update".into(), "en_US".into())),
        "{v}"
    );
    assert!(!sendable.iter().any(|(n, _)| n == "spring_sale"), "{v}");
    // The call went to the channel's WABA with its own token.
    let calls = fx.sim.api.calls().await.unwrap();
    let call = calls
        .iter()
        .find(|c| c["path_kind"] == "templates")
        .unwrap();
    assert_eq!(
        call["path"],
        format!("/v23.0/{}/message_templates", harness::sim::WABA_B)
    );

    let path = format!("{base}/{ig}/ice-breakers");
    let set = json!({"ice_breakers": [
        {"question": "Do you deliver?", "payload": "DELIVERY"},
        {"question": "Opening hours?", "payload": "HOURS"},
    ]});
    fx.w.api
        .expect(Method::PUT, &path, &t.owner_token, Some(set), 200)
        .await
        .unwrap();
    let v =
        fx.w.api
            .expect(Method::GET, &path, &t.agent_token, None, 200)
            .await
            .unwrap();
    let questions: Vec<&str> = v["ice_breakers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["question"].as_str().unwrap())
        .collect();
    assert_eq!(questions, ["Do you deliver?", "Opening hours?"]);
    // Bad input changes nothing; agents may read but not set; kinds must match.
    let five = json!({"ice_breakers": vec![json!({"question": "q", "payload": "p"}); 5]});
    fx.w.api
        .expect(Method::PUT, &path, &t.owner_token, Some(five), 400)
        .await
        .unwrap();
    let one = json!({"ice_breakers": [{"question": "q", "payload": "p"}]});
    fx.w.api
        .expect(Method::PUT, &path, &t.agent_token, Some(one), 403)
        .await
        .unwrap();
    fx.w.api
        .expect(
            Method::GET,
            &format!("{base}/{wa}/ice-breakers"),
            &t.agent_token,
            None,
            400,
        )
        .await
        .unwrap();
    let v =
        fx.w.api
            .expect(Method::GET, &path, &t.agent_token, None, 200)
            .await
            .unwrap();
    assert_eq!(v["ice_breakers"].as_array().unwrap().len(), 2);
    // Meta refusing the token reaches the caller as a sentence, never as the token.
    fx.sim
        .api
        .fault(&json!({"kind": "token_expired", "path": "messenger_profile"}))
        .await
        .unwrap();
    let (status, body) =
        fx.w.api
            .call(Method::GET, &path, Some(&t.agent_token), None)
            .await
            .unwrap();
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reconnect"),
        "{body}"
    );
    assert!(!body.to_string().contains("EAAG"), "{body}");
}

#[tokio::test]
async fn a_whatsapp_send_in_doubt_is_settled_by_its_status_webhook() {
    let mut fx = setup().await;
    let (t, customer) = (fx.w.b.clone(), "6281234500701");
    fx.customer_writes(WA_B, customer, "halo", None).await;
    let thread = fx.thread_of(&t, customer).await;
    fx.top_up(&t, 3).await;
    fx.sim
        .api
        .fault(&json!({"kind": "timeout", "ms": 5000, "deliver": true, "path": "messages", "count": 1}))
        .await
        .unwrap();
    let mut desk = fx.desk(&t).await;
    reply(&mut desk, "k1", &thread, "sekali saja").await;
    // Meta took it and said so in a status webhook carrying our callback data; the call's
    // own answer is still pending when the relay dies.
    eventually("the sent status reached the relay", WAIT, || async {
        let events = fx.w.api.all_events(&t.id, &t.agent_token).await?;
        Ok(events
            .iter()
            .any(|e| e["body"]["Inbound"]["kind"]["Status"]["biz_opaque_callback_data"].is_string())
            .then_some(()))
    })
    .await
    .unwrap();
    fx.kill9_and_restart().await;
    let sent = fx.send_in(&t, &thread, 0, "sent").await;
    assert_eq!(fx.inbox_texts(customer).await, ["sekali saja"]);
    assert_eq!(sent["attempts"], 1, "no second attempt was made");
    assert!(sent["provider_id"].as_str().unwrap().starts_with("wamid."));
    let events = fx.w.api.all_events(&t.id, &t.agent_token).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["body"]["Outbox"]["status"]["sent"]["reconciled"] == true),
        "settled from the status webhook, not from the call's answer"
    );
    assert!(
        fx.send_calls().await.is_empty(),
        "the restarted relay did not send again"
    );
    assert_eq!(fx.balance(&t).await, 2);
}

#[tokio::test]
async fn desks_see_the_credit_balance_and_every_change_to_it() {
    let fx = setup().await;
    let (t, customer) = (&fx.w.b, "5300000000000903");
    fx.customer_writes(IG_B, customer, "hi", None).await;
    let thread = fx.thread_of(t, customer).await;
    fx.top_up(t, 2).await;
    let mut desk = RawDesk::connect(&fx.w.api.url, &t.agent_token, None)
        .await
        .unwrap();
    let welcome = desk.hello(0).await.unwrap();
    assert_eq!(welcome.credits, 2);
    let (backlog, _) = desk.events_until(welcome.head).await.unwrap();
    // The top-up that made the balance is in the log too.
    assert!(backlog.iter().any(|e| matches!(
        &e.body,
        EventBody::Credits(c) if c.added == 2 && c.balance == 2
    )));
    // A live top-up, then a send: the desk follows the balance from events alone, with the
    // same rule the relay uses.
    fx.top_up(t, 3).await;
    let mut balance = welcome.credits;
    let mut sending = std::collections::HashSet::new();
    let top_up = tokio::time::timeout(WAIT, async {
        loop {
            if let protocol::ServerFrame::Event { event } = desk.next().await.unwrap()
                && let EventBody::Credits(c) = event.body
            {
                return c;
            }
        }
    })
    .await
    .expect("the top-up reached the desk");
    assert_eq!((top_up.added, top_up.balance), (3, balance + 3));
    balance = top_up.balance;
    // Apply one outbox event to the desk's balance; true once the reply is sent.
    let mut apply = |event: &protocol::Event| {
        let EventBody::Outbox(o) = &event.body else {
            return false;
        };
        let was_sending = sending.contains(&o.send);
        balance += protocol::outbox::credit_change(&o.status, was_sending, true);
        if matches!(o.status, SendStatus::Sending { .. }) {
            sending.insert(o.send);
        } else {
            sending.remove(&o.send);
        }
        matches!(o.status, SendStatus::Sent { .. })
    };
    let command = Command::SendReply {
        thread: thread.clone(),
        text: "thanks".into(),
    };
    // Events that arrive before the answer count too.
    let (_, early) = desk.command("k1", command).await.unwrap();
    let mut sent = false;
    for event in &early {
        sent |= apply(event);
    }
    tokio::time::timeout(WAIT, async {
        while !sent {
            if let protocol::ServerFrame::Event { event } = desk.next().await.unwrap() {
                sent = apply(&event);
            }
        }
    })
    .await
    .expect("the reply was sent");
    assert_eq!(balance, 4);
    assert_eq!(fx.balance(t).await, 4);
}

#[tokio::test]
async fn a_whatsapp_failure_reported_by_status_webhook_fails_the_send() {
    let fx = setup().await;
    let (t, customer) = (&fx.w.b, "6281234500904");
    fx.customer_writes(WA_B, customer, "halo", None).await;
    // Meta accepts sends to this customer, then reports them undeliverable (131026).
    fx.sim
        .api
        .customers(&json!({"account": WA_B, "id": customer, "unavailable": true}))
        .await
        .unwrap();
    let thread = fx.thread_of(t, customer).await;
    fx.top_up(t, 2).await;
    let mut desk = fx.desk(t).await;
    reply(&mut desk, "k1", &thread, "pesanan sudah dikirim").await;
    let failed = fx.send_in(t, &thread, 0, "failed").await;
    assert_eq!(failed["failure"]["class"], "recipient_unavailable");
    assert_eq!(failed["failure"]["code"], 131_026);
    assert!(
        failed["provider_id"]
            .as_str()
            .unwrap()
            .starts_with("wamid.")
    );
    let v = fx.thread_json(t, &thread).await;
    let outbound = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["direction"] == "Outbound")
        .unwrap();
    assert_eq!(outbound["status"], "failed");
    // Meta took the message, so its credit stays spent.
    assert_eq!(fx.balance(t).await, 1);
}

#[tokio::test]
async fn a_rich_reply_in_doubt_after_a_crash_is_not_sent_twice() {
    let mut fx = setup().await;
    let (t, customer) = (fx.w.b.clone(), "5300000000000905");
    fx.customer_writes(IG_B, customer, "foto dong", None).await;
    let thread = fx.thread_of(&t, customer).await;
    fx.top_up(&t, 5).await;
    let mut desk = fx.desk(&t).await;
    // An earlier reply of ours is in the same conversation: it must not be mistaken for the
    // one in doubt.
    reply(&mut desk, "k0", &thread, "sebentar ya").await;
    fx.send_in(&t, &thread, 0, "sent").await;
    fx.sim
        .api
        .fault(&json!({"kind": "timeout", "ms": 5000, "deliver": true, "path": "messages", "count": 1}))
        .await
        .unwrap();
    let photo = ReplyContent::Media {
        kind: MediaKind::Image,
        url: "https://cdn.example/dress.jpg".into(),
        caption: None,
    };
    message(&mut desk, "k1", &thread, photo, None).await;
    eventually("the customer got the photo", WAIT, || async {
        Ok((fx.sim.api.inbox(customer).await?.len() >= 2).then_some(()))
    })
    .await
    .unwrap();
    fx.kill9_and_restart().await;
    let sent = fx.send_in(&t, &thread, 1, "sent").await;
    assert_eq!(sent["attempts"], 1, "no second attempt was made");
    let inbox = fx.sim.api.inbox(customer).await.unwrap();
    assert_eq!(inbox.len(), 2, "{inbox:#?}");
    let events = fx.w.api.all_events(&t.id, &t.agent_token).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["body"]["Outbox"]["status"]["sent"]["reconciled"] == true)
    );
    assert_eq!(fx.balance(&t).await, 3);
}

#[tokio::test]
async fn a_public_comment_reply_in_doubt_after_a_crash_is_not_posted_twice() {
    let mut fx = setup().await;
    let t = fx.w.b.clone();
    let c = fx
        .sim
        .api
        .inbound(
            &json!({"account": IG_B, "customer": "5300000000000906", "type": "comment",
            "text": "ada warna lain?", "media_id": "18040000000000906"}),
        )
        .await
        .unwrap();
    let comment = c["ids"]["comment_id"].as_str().unwrap().to_owned();
    let thread = fx.comment_thread(&t.id, &t.agent_token).await;
    fx.top_up(&t, 2).await;
    fx.sim
        .api
        .fault(
            &json!({"kind": "timeout", "ms": 5000, "deliver": true, "path": "replies", "count": 1}),
        )
        .await
        .unwrap();
    let mut desk = fx.desk(&t).await;
    reply(&mut desk, "k1", &thread, "Ada hitam dan krem kak").await;
    eventually("the reply is under the comment", WAIT, || async {
        let state = fx.sim.api.comment(&comment).await?;
        Ok((state["replies"].as_array().map_or(0, Vec::len) == 1).then_some(()))
    })
    .await
    .unwrap();
    fx.kill9_and_restart().await;
    let sent = fx.send_in(&t, &thread, 0, "sent").await;
    assert_eq!(sent["attempts"], 1, "no second attempt was made");
    assert_eq!(sent["kind"], "PublicReply");
    let state = fx.sim.api.comment(&comment).await.unwrap();
    assert_eq!(state["replies"].as_array().unwrap().len(), 1, "{state}");
    assert_eq!(sent["provider_id"], state["replies"][0]);
}
