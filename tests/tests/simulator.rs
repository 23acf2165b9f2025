//! End to end through the Meta simulator: a real relay (`World`) and a real `relay simulate`
//! process over loopback. Customers act through `/_sim/inbound` and the relay stores what the
//! simulator signed and posted; the tests then play the relay's outbox against the Graph
//! endpoints and check what Meta would answer, what the customer received, and which
//! follow-up webhooks reached the relay. Every wait polls a condition with a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::sim::{Sim, SimOptions, TOKEN_A, TOKEN_B, WABA_A, eventually, world_accounts};
use harness::{
    APP_SECRET, IG_A, IG_APP_SECRET, IG_B, PAGE_A, Tenant, WA_A, WA_B, World, now_ms, sign,
};
use protocol::inbound::{InboundEvent, InboundKind, StatusKind};
use protocol::{Direction, Event, EventBody};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);

struct Fixture {
    w: World,
    sim: Sim,
}

async fn setup() -> Fixture {
    let w = World::new().await.unwrap();
    let sim = Sim::start(&w.api.url, w.dir.path()).await.unwrap();
    sim.api.accounts(&world_accounts()).await.unwrap();
    Fixture { w, sim }
}

impl Fixture {
    /// The tenant's inbound events (messages, statuses, reads, comments…), parsed.
    async fn inbound(&self, t: &Tenant) -> Vec<InboundEvent> {
        self.w
            .api
            .all_events(&t.id, &t.agent_token)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|e| match serde_json::from_value::<Event>(e).unwrap().body {
                EventBody::Inbound(i) => Some(i),
                _ => None,
            })
            .collect()
    }

    /// Messages with `mid` in the tenant's log, in the given direction.
    async fn messages(&self, t: &Tenant, mid: &str, dir: Direction) -> usize {
        self.inbound(t)
            .await
            .iter()
            .filter(|e| {
                e.direction == dir && matches!(&e.kind, InboundKind::Message(m) if m.mid == mid)
            })
            .count()
    }

    /// Waits until the tenant's log holds an event matching `pred`.
    async fn wait_for(&self, t: &Tenant, what: &str, pred: impl Fn(&InboundEvent) -> bool) {
        eventually(what, WAIT, || async {
            Ok(self.inbound(t).await.iter().any(&pred).then_some(()))
        })
        .await
        .unwrap();
    }

    async fn send(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> harness::sim::GraphAnswer {
        self.sim
            .api
            .graph(Method::POST, path, token, Some(&body))
            .await
            .unwrap()
    }

    async fn dm(&self, account: &str, customer: &str, extra: Value) -> Value {
        let mut action = json!({"account": account, "customer": customer, "type": "text",
                                "text": "Halo kak, ready? ✨"});
        if let (Some(a), Some(e)) = (action.as_object_mut(), extra.as_object()) {
            a.extend(e.clone());
        }
        let ans = self.sim.api.inbound(&action).await.unwrap();
        assert_eq!(ans["status"], 200, "{ans}");
        ans
    }

    fn assert_sim_log_clean(&self) {
        let log = std::fs::read_to_string(&self.sim.log).unwrap();
        for s in [TOKEN_A, TOKEN_B, APP_SECRET, IG_APP_SECRET] {
            assert!(!log.contains(s), "a secret leaked into the simulator log");
        }
    }
}

fn text(customer: &str, t: &str) -> Value {
    json!({"recipient": {"id": customer}, "messaging_type": "RESPONSE", "message": {"text": t}})
}

fn tagged(customer: &str, t: &str) -> Value {
    json!({"recipient": {"id": customer}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT",
           "message": {"text": t}})
}

fn wa_text(to: &str, body: &str) -> Value {
    json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
           "type": "text", "text": {"preview_url": false, "body": body}})
}

fn wa_template(to: &str, name: &str, lang: &str, params: &[&str]) -> Value {
    let params: Vec<Value> = params
        .iter()
        .map(|p| json!({"type": "text", "text": p}))
        .collect();
    json!({"messaging_product": "whatsapp", "to": to, "type": "template",
           "template": {"name": name, "language": {"code": lang},
                        "components": [{"type": "body", "parameters": params}]}})
}

fn ig_messages(account: &str) -> String {
    format!("/v23.0/{account}/messages")
}

#[tokio::test]
async fn instagram_dm_round_trip_through_relay_and_simulator() {
    let f = setup().await;
    let customer = "5300000000000101";
    let words = "Halo kak, batik biru masih ada? ✨ ¿Sí? 日本語 👋🏽";
    let ans = f
        .dm(
            IG_B,
            customer,
            json!({"text": words, "username": "rina.putri"}),
        )
        .await;
    let mid = ans["ids"]["mid"].as_str().unwrap().to_owned();
    assert!(mid.starts_with("aWdf"), "{mid}");

    // The relay stored it under tenant A, in a thread for that customer (the signature over
    // Meta's escaped non-ASCII bytes verified).
    let threads =
        f.w.api
            .expect(
                Method::GET,
                &format!("/v1/tenants/{}/threads", f.w.b.id),
                &f.w.b.agent_token,
                None,
                200,
            )
            .await
            .unwrap();
    let thread = threads["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["customer"]["id"] == customer)
        .unwrap_or_else(|| panic!("no thread for the customer: {threads}"))
        .clone();
    let msgs =
        f.w.api
            .expect(
                Method::GET,
                &format!(
                    "/v1/tenants/{}/threads/{}/messages",
                    f.w.b.id,
                    thread["id"].as_str().unwrap()
                ),
                &f.w.b.agent_token,
                None,
                200,
            )
            .await
            .unwrap();
    assert!(
        msgs["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mid"] == mid.as_str()),
        "{msgs}"
    );
    let hooks = f.sim.api.webhooks().await.unwrap();
    assert_eq!(
        hooks[0]["signed_with"], "instagram",
        "Instagram-Login accounts sign with the IG app secret"
    );
    assert_eq!(hooks[0]["deliveries"][0]["status"], 200);

    // The outbox's send: accepted, recorded with the token replaced by its account.
    let sent = f
        .send(
            &ig_messages(IG_B),
            Some(TOKEN_B),
            text(customer, "Masih ada kak 😊 Rp 350.000"),
        )
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    assert_eq!(sent.body["recipient_id"], customer);
    let message_id = sent.body["message_id"].as_str().unwrap().to_owned();
    assert!(message_id.starts_with("aWdf") && message_id != mid);
    let buc = sent.usage("x-business-use-case-usage").unwrap();
    assert_eq!(buc[IG_B][0]["type"], "instagram");
    assert!(sent.usage("x-app-usage").unwrap()["call_count"].is_number());
    let calls = f.sim.api.calls().await.unwrap();
    let call = calls.last().unwrap();
    assert_eq!(call["method"], "POST");
    assert_eq!(call["path"], ig_messages(IG_B));
    assert_eq!(call["path_kind"], "messages");
    assert_eq!(call["token"], format!("account:{IG_B}"));
    assert_eq!(
        call["body"]["message"]["text"],
        "Masih ada kak 😊 Rp 350.000"
    );
    assert_eq!(call["status"], 200);
    assert_eq!(call["response"]["message_id"], message_id.as_str());

    // The customer received it exactly once.
    let inbox = f.sim.api.inbox(customer).await.unwrap();
    let received: Vec<&Value> = inbox
        .iter()
        .filter(|e| e["message_id"] == message_id.as_str())
        .collect();
    assert_eq!(received.len(), 1, "{inbox:?}");
    assert_eq!(received[0]["kind"], "message");
    assert_eq!(received[0]["text"], "Masih ada kak 😊 Rp 350.000");

    // Meta's follow-ups reach the relay: the echo (business → customer) and the read receipt.
    f.wait_for(&f.w.b, "the echo", |e| {
        e.direction == Direction::Outbound
            && matches!(&e.kind, InboundKind::Message(m) if m.mid == message_id)
    })
    .await;
    f.wait_for(
        &f.w.b,
        "the read receipt",
        |e| matches!(&e.kind, InboundKind::Read { mid: Some(m), .. } if *m == message_id),
    )
    .await;
    assert_eq!(
        f.messages(&f.w.b, &message_id, Direction::Outbound).await,
        1
    );

    // The other shape: a form body with the token in the query, addressed to `me`.
    let form = f
        .sim
        .api
        .http
        .post(format!("{}/v23.0/me/messages", f.sim.url))
        .query(&[("access_token", TOKEN_B)])
        .form(&[
            ("recipient", format!("{{\"id\":\"{customer}\"}}")),
            ("message", "{\"text\":\"form body\"}".to_owned()),
        ]);
    let sent = f.sim.api.answer(form).await.unwrap();
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let calls = f.sim.api.calls().await.unwrap();
    let call = calls.last().unwrap();
    assert_eq!(call["query"]["access_token"], format!("account:{IG_B}"));
    assert_eq!(call["body"]["message"]["text"], "form body");
    let all = serde_json::to_string(&calls).unwrap();
    assert!(!all.contains(TOKEN_B), "tokens never appear in records");

    // Sender actions and reactions reach the inbox, not the conversation.
    for body in [
        json!({"recipient": {"id": customer}, "sender_action": "typing_on"}),
        json!({"recipient": {"id": customer}, "sender_action": "react",
               "payload": {"message_id": mid, "reaction": "love"}}),
    ] {
        let a = f.send(&ig_messages(IG_B), Some(TOKEN_B), body).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        assert_eq!(a.body, json!({"recipient_id": customer}));
    }
    let bad = f
        .send(
            &ig_messages(IG_B),
            Some(TOKEN_B),
            json!({"recipient": {"id": customer}, "sender_action": "react",
              "payload": {"message_id": "aWdfnot-here", "reaction": "love"}}),
        )
        .await;
    assert_eq!(bad.error(), Some((100, None)));
    let kinds: Vec<String> = f
        .sim
        .api
        .inbox(customer)
        .await
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["message", "message", "action", "reaction"]);

    // Malformed bodies: Meta's code 100.
    for body in [
        json!({"message": {"text": "no recipient"}}),
        text(customer, &"é".repeat(501)),
        json!({"recipient": {"id": customer}, "message": {"attachment": {"type": "image", "payload": {"url": "nope"}}}}),
    ] {
        let a = f.send(&ig_messages(IG_B), Some(TOKEN_B), body).await;
        assert_eq!(
            (a.status, a.error()),
            (400, Some((100, None))),
            "{:?}",
            a.body
        );
        assert!(a.body["error"]["fbtrace_id"].is_string());
    }
    f.w.assert_log_has_no_secrets().unwrap();
    f.assert_sim_log_clean();
}

#[tokio::test]
async fn instagram_windows_are_enforced_at_their_edges() {
    let f = setup().await;
    for (c, ago) in [
        ("5300000000000201", "23h59m"),
        ("5300000000000202", "24h1m"),
        ("5300000000000203", "6d"),
        ("5300000000000204", "8d"),
    ] {
        f.dm(IG_B, c, json!({"ago": ago})).await;
    }
    let path = ig_messages(IG_B);
    let a = f
        .send(
            &path,
            Some(TOKEN_B),
            text("5300000000000201", "just inside"),
        )
        .await;
    assert_eq!(a.status, 200, "23 h 59 m: {:?}", a.body);
    let a = f
        .send(
            &path,
            Some(TOKEN_B),
            text("5300000000000202", "just outside"),
        )
        .await;
    assert_eq!(
        (a.status, a.error()),
        (400, Some((10, Some(2_534_022)))),
        "24 h 1 m: {:?}",
        a.body
    );
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("outside of allowed window")
    );
    let a = f
        .send(
            &path,
            Some(TOKEN_B),
            tagged("5300000000000202", "human agent"),
        )
        .await;
    assert_eq!(a.status, 200, "tag at 24 h 1 m: {:?}", a.body);
    let a = f
        .send(
            &path,
            Some(TOKEN_B),
            tagged("5300000000000203", "human agent"),
        )
        .await;
    assert_eq!(a.status, 200, "tag at 6 days: {:?}", a.body);
    let a = f
        .send(
            &path,
            Some(TOKEN_B),
            tagged("5300000000000204", "human agent"),
        )
        .await;
    assert_eq!(
        (a.status, a.error()),
        (400, Some((10, Some(2_534_022)))),
        "tag at 8 days"
    );
    let a = f
        .send(&path, Some(TOKEN_B), text("5300000000000204", "untagged"))
        .await;
    assert_eq!(a.error(), Some((10, Some(2_534_022))));
    let inbox = f.sim.api.inbox("5300000000000202").await.unwrap();
    assert_eq!(
        inbox.len(),
        1,
        "the refused reply never reached the customer: {inbox:?}"
    );
    assert_eq!(inbox[0]["tag"], "HUMAN_AGENT");
    assert!(
        f.sim
            .api
            .inbox("5300000000000204")
            .await
            .unwrap()
            .is_empty()
    );

    // A reaction does not reopen the window; a new message does.
    f.sim
        .api
        .inbound(&json!({"account": IG_B, "customer": "5300000000000202", "type": "reaction"}))
        .await
        .unwrap();
    let a = f
        .send(
            &path,
            Some(TOKEN_B),
            text("5300000000000202", "still outside"),
        )
        .await;
    assert_eq!(a.error(), Some((10, Some(2_534_022))));
    f.dm(IG_B, "5300000000000202", json!({})).await;
    let a = f
        .send(&path, Some(TOKEN_B), text("5300000000000202", "open again"))
        .await;
    assert_eq!(a.status, 200);

    // Unknown and unavailable recipients.
    let a = f
        .send(&path, Some(TOKEN_B), text("5300000000000299", "who?"))
        .await;
    assert_eq!((a.status, a.error()), (400, Some((100, Some(2_018_001)))));
    f.sim
        .api
        .customers(&json!({"account": IG_B, "id": "5300000000000201", "unavailable": true}))
        .await
        .unwrap();
    let a = f
        .send(&path, Some(TOKEN_B), text("5300000000000201", "blocked?"))
        .await;
    assert_eq!(a.error(), Some((551, Some(1_545_041))));

    // Facebook Login (tenant A's channel has a Page): Page path, Page token,
    // appsecret_proof, Messenger's window subcode; the IG id path is not this login's.
    f.dm(IG_A, "5300000000000301", json!({})).await;
    f.dm(IG_A, "5300000000000302", json!({"ago": "24h1m"}))
        .await;
    let hooks = f.sim.api.webhooks().await.unwrap();
    let a_hook = hooks.iter().rev().find(|h| h["account"] == IG_A).unwrap();
    assert_eq!(
        a_hook["signed_with"], "meta",
        "Facebook Login signs with the Meta app secret"
    );
    let proof = sign(TOKEN_A.as_bytes(), APP_SECRET)
        .trim_start_matches("sha256=")
        .to_owned();
    let page = format!("/v23.0/{PAGE_A}/messages?appsecret_proof={proof}");
    let a = f
        .send(
            &page,
            Some(TOKEN_A),
            text("5300000000000301", "via the page"),
        )
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(
        a.usage("x-business-use-case-usage").unwrap()[IG_A][0]["type"],
        "messenger"
    );
    let a = f
        .send(&page, Some(TOKEN_A), text("5300000000000302", "late"))
        .await;
    assert_eq!(
        a.error(),
        Some((10, Some(2_018_278))),
        "Facebook Login's outside-window subcode"
    );
    let a = f
        .send(
            &ig_messages(IG_A),
            Some(TOKEN_A),
            text("5300000000000301", "wrong path"),
        )
        .await;
    assert_eq!(a.error(), Some((100, Some(33))));
    let wrong = format!(
        "/v23.0/{PAGE_A}/messages?appsecret_proof={}",
        "0".repeat(64)
    );
    let a = f
        .send(&wrong, Some(TOKEN_A), text("5300000000000301", "bad proof"))
        .await;
    assert_eq!(a.error(), Some((100, None)));
    f.w.assert_log_has_no_secrets().unwrap();
}

#[tokio::test]
async fn a_mention_in_a_caption_and_in_a_comment_reach_the_tenant_as_account_events() {
    let f = setup().await;
    let post = f
        .sim
        .api
        .inbound(
            &json!({"account": IG_B, "customer": "5300000000000411", "type": "mention",
        "media_id": "18040000000000777"}),
        )
        .await
        .unwrap();
    assert_eq!(post["status"], 200, "{post}");
    assert_eq!(post["ids"]["media_id"], "18040000000000777");
    let comment = f
        .sim
        .api
        .inbound(
            &json!({"account": IG_B, "customer": "5300000000000411", "type": "mention",
        "media_id": "18040000000000778", "id": "17920000000000999"}),
        )
        .await
        .unwrap();
    assert_eq!(
        comment["ids"]["comment_id"], "17920000000000999",
        "{comment}"
    );
    let mentions = || async {
        let events = f.w.api.all_events(&f.w.b.id, &f.w.b.agent_token).await?;
        let found: Vec<(Option<String>, Option<String>)> = events
            .into_iter()
            .filter_map(|e| match serde_json::from_value::<Event>(e).ok()?.body {
                EventBody::Account(a) => match a.kind {
                    protocol::AccountEventKind::Mention {
                        media_id,
                        comment_id,
                    } => Some((media_id, comment_id)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        Ok((found.len() == 2).then_some(found))
    };
    let found = eventually("both mentions stored", WAIT, mentions)
        .await
        .unwrap();
    assert_eq!(
        found,
        vec![
            (Some("18040000000000777".to_owned()), None),
            (
                Some("18040000000000778".to_owned()),
                Some("17920000000000999".to_owned())
            ),
        ]
    );
    // Tenant A's log has no mention of B's account.
    let a =
        f.w.api
            .all_events(&f.w.a.id, &f.w.a.agent_token)
            .await
            .unwrap();
    assert!(
        !a.iter()
            .any(|e| e.to_string().contains("18040000000000777"))
    );
}

#[tokio::test]
async fn comments_private_reply_once_public_reply_and_hide() {
    let f = setup().await;
    let who = "5300000000000401";
    let c = f
        .sim
        .api
        .inbound(&json!({"account": IG_B, "customer": who, "type": "comment",
        "text": "Harganya berapa kak? 🙏", "media_id": "18040000000000101", "username": "budi"}))
        .await
        .unwrap();
    assert_eq!(c["status"], 200);
    let comment = c["ids"]["comment_id"].as_str().unwrap().to_owned();
    f.wait_for(
        &f.w.b,
        "the comment",
        |e| matches!(&e.kind, InboundKind::Comment(x) if x.id == comment),
    )
    .await;

    let private =
        json!({"recipient": {"comment_id": comment}, "message": {"text": "Sudah kami DM ya kak"}});
    let a = f
        .send(&ig_messages(IG_B), Some(TOKEN_B), private.clone())
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["recipient_id"], who);
    let a = f.send(&ig_messages(IG_B), Some(TOKEN_B), private).await;
    assert_eq!(
        (a.status, a.error()),
        (400, Some((10, Some(2_534_025)))),
        "second private reply"
    );

    let old = f
        .sim
        .api
        .inbound(&json!({"account": IG_B, "customer": who, "type": "comment",
        "text": "old comment", "ago": "8d"}))
        .await
        .unwrap();
    let a = f.send(&ig_messages(IG_B), Some(TOKEN_B),
        json!({"recipient": {"comment_id": old["ids"]["comment_id"]}, "message": {"text": "late"}})).await;
    assert_eq!(
        a.error(),
        Some((10, Some(2_534_022))),
        "private reply after 7 days"
    );
    let a = f
        .send(
            &ig_messages(IG_B),
            Some(TOKEN_B),
            json!({"recipient": {"comment_id": "17899999999999999"}, "message": {"text": "?"}}),
        )
        .await;
    assert_eq!(a.error(), Some((100, Some(33))));

    let a = f
        .send(
            &format!("/v23.0/{comment}/replies"),
            Some(TOKEN_B),
            json!({"message": "Rp 350.000 kak, cek DM 😊"}),
        )
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let reply_id = a.body["id"].as_str().unwrap().to_owned();
    let hidden = f
        .sim
        .api
        .graph(
            Method::POST,
            &format!("/v23.0/{comment}?hide=true"),
            Some(TOKEN_B),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (hidden.status, hidden.body.clone()),
        (200, json!({"success": true}))
    );
    let bad = f
        .sim
        .api
        .graph(
            Method::POST,
            &format!("/v23.0/{comment}?hide=maybe"),
            Some(TOKEN_B),
            None,
        )
        .await
        .unwrap();
    assert_eq!(bad.error(), Some((100, None)));
    let state = f.sim.api.comment(&comment).await.unwrap();
    assert_eq!(state["hidden"], true);
    assert_eq!(state["replies"], json!([reply_id]));
    assert!(state["private_reply"].is_string());

    let kinds: Vec<String> = f
        .sim
        .api
        .inbox(who)
        .await
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["private_reply", "public_reply"]);
    // The business's own reply comes back as a comment from the business.
    f.wait_for(&f.w.b, "the business's public reply", |e| {
        matches!(&e.kind, InboundKind::Comment(x) if x.id == reply_id && x.parent_id.as_deref() == Some(comment.as_str()))
    })
    .await;
}

#[tokio::test]
async fn tokens_expired_invalid_missing_and_foreign() {
    let f = setup().await;
    f.dm(IG_B, "5300000000000501", json!({})).await;
    let path = ig_messages(IG_B);
    let body = text("5300000000000501", "hi");
    let a = f.send(&path, Some("EAAG-not-a-token"), body.clone()).await;
    assert_eq!((a.status, a.error()), (400, Some((190, Some(467)))));
    assert_eq!(a.body["error"]["type"], "OAuthException");
    let a = f.send(&path, None, body.clone()).await;
    assert_eq!(a.error(), Some((104, None)));
    let a = f.send(&path, Some(TOKEN_A), body.clone()).await;
    assert_eq!(a.error(), Some((100, Some(33))), "another account's token");
    let a = f
        .send(
            &format!("/v23.0/{WA_A}/messages"),
            Some("nope"),
            wa_text("6281234567890", "x"),
        )
        .await;
    assert_eq!(
        (a.status, a.error()),
        (401, Some((190, Some(467)))),
        "the Cloud API answers 401"
    );
    assert!(a.headers.get("www-authenticate").is_some());

    // Fault: the token reads as expired for one call.
    f.sim
        .api
        .fault(&json!({"kind": "token_expired", "account": IG_B, "count": 1}))
        .await
        .unwrap();
    let a = f.send(&path, Some(TOKEN_B), body.clone()).await;
    assert_eq!((a.status, a.error()), (400, Some((190, Some(463)))));
    assert_eq!(f.send(&path, Some(TOKEN_B), body.clone()).await.status, 200);

    // A token past its expiry.
    f.sim
        .api
        .accounts(
            &json!({"kind": "instagram", "ig_id": IG_B, "username": "boutique_a",
        "token": TOKEN_B, "token_expires_at_ms": now_ms() - 1000}),
        )
        .await
        .unwrap();
    let a = f.send(&path, Some(TOKEN_B), body).await;
    assert_eq!(a.error(), Some((190, Some(463))));
    let calls = f.sim.api.calls().await.unwrap();
    assert!(calls.iter().any(|c| c["token"] == "invalid"));
    f.assert_sim_log_clean();
}

#[tokio::test]
async fn whatsapp_window_templates_and_statuses() {
    let f = setup().await;
    let path = format!("/v23.0/{WA_A}/messages");
    let customer = "6281234567001";
    let ans = f
        .sim
        .api
        .inbound(
            &json!({"account": WA_A, "customer": customer, "type": "text",
        "text": "Selamat siang, ongkir ke Medan berapa? 🚚", "name": "Siti"}),
        )
        .await
        .unwrap();
    assert_eq!(ans["status"], 200);
    let inbound_id = ans["ids"]["mid"].as_str().unwrap().to_owned();
    assert!(inbound_id.starts_with("wamid."));
    f.wait_for(
        &f.w.a,
        "the WhatsApp message",
        |e| matches!(&e.kind, InboundKind::Message(m) if m.mid == inbound_id),
    )
    .await;
    assert_eq!(
        f.sim.api.webhooks().await.unwrap()[0]["signed_with"],
        "meta"
    );

    let mut body = wa_text(customer, "Ongkir ke Medan Rp 45.000 kak");
    body["context"] = json!({"message_id": inbound_id});
    body["biz_opaque_callback_data"] = json!("reply-42");
    let a = f.send(&path, Some(TOKEN_A), body).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["messaging_product"], "whatsapp");
    assert_eq!(
        a.body["contacts"][0],
        json!({"input": customer, "wa_id": customer})
    );
    assert_eq!(a.body["messages"][0]["message_status"], "accepted");
    let wamid = a.body["messages"][0]["id"].as_str().unwrap().to_owned();
    for want in [StatusKind::Sent, StatusKind::Delivered, StatusKind::Read] {
        f.wait_for(&f.w.a, &format!("status {want:?}"), |e| {
            matches!(&e.kind, InboundKind::Status(s) if s.message_id == wamid && s.status == want
                && s.biz_opaque_callback_data.as_deref() == Some("reply-42"))
        })
        .await;
    }
    let read = f
        .send(
            &path,
            Some(TOKEN_A),
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": inbound_id}),
        )
        .await;
    assert_eq!(
        (read.status, read.body.clone()),
        (200, json!({"success": true}))
    );

    // Outside the 24 h window: free-form refused with 131047, approved templates go.
    let late = "6281234567002";
    f.sim.api.inbound(&json!({"account": WA_A, "customer": late, "type": "text", "text": "halo", "ago": "24h1m"}))
        .await.unwrap();
    let a = f
        .send(&path, Some(TOKEN_A), wa_text(late, "free-form"))
        .await;
    assert_eq!(
        (a.status, a.error()),
        (400, Some((131_047, None))),
        "{:?}",
        a.body
    );
    assert!(
        a.body["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("24 hours")
    );
    let a = f
        .send(
            &path,
            Some(TOKEN_A),
            wa_template(late, "order_update", "id", &["Siti", "#SB-1042"]),
        )
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let template_id = a.body["messages"][0]["id"].as_str().unwrap().to_owned();
    f.wait_for(&f.w.a, "the template's sent status", |e| {
        matches!(&e.kind, InboundKind::Status(s) if s.message_id == template_id && s.status == StatusKind::Sent
            && s.pricing_category.as_deref() == Some("utility"))
    }).await;
    for (body, code) in [
        (
            wa_template(late, "order_update", "fr", &["a", "b"]),
            132_001,
        ),
        (wa_template(late, "spring_sale", "en_US", &[]), 132_001),
        (wa_template(late, "no_such_template", "en_US", &[]), 132_001),
        (
            wa_template(late, "order_update", "en_US", &["only one"]),
            132_000,
        ),
    ] {
        let a = f.send(&path, Some(TOKEN_A), body).await;
        assert_eq!(
            (a.status, a.error()),
            (400, Some((code, None))),
            "{:?}",
            a.body
        );
    }
    let fresh = f
        .send(
            &path,
            Some(TOKEN_A),
            wa_template("6289999999999", "order_update", "en_US", &["A", "B"]),
        )
        .await;
    assert_eq!(fresh.status, 200, "templates may open a conversation");
    let inbox = f.sim.api.inbox(late).await.unwrap();
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0]["kind"], "template");

    let templates = f
        .sim
        .api
        .graph(
            Method::GET,
            &format!("/v23.0/{WABA_A}/message_templates?status=APPROVED"),
            Some(TOKEN_A),
            None,
        )
        .await
        .unwrap();
    let names: Vec<(&str, &str)> = templates.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["language"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("order_update", "en_US"), ("order_update", "id")]);
    assert_eq!(templates.body["data"][0]["components"][0]["type"], "BODY");

    // A number whose re-engagement errors arrive as failed statuses instead.
    let mut b = world_accounts()[3].clone();
    b["reengagement"] = json!("status");
    f.sim.api.accounts(&b).await.unwrap();
    f.sim.api.inbound(&json!({"account": WA_B, "customer": late, "type": "text", "text": "halo", "ago": "2d"}))
        .await.unwrap();
    let a = f
        .send(
            &format!("/v23.0/{WA_B}/messages"),
            Some(TOKEN_B),
            wa_text(late, "free-form"),
        )
        .await;
    assert_eq!(a.status, 200, "accepted first: {:?}", a.body);
    let failed = a.body["messages"][0]["id"].as_str().unwrap().to_owned();
    f.wait_for(&f.w.b, "the failed status", |e| {
        matches!(&e.kind, InboundKind::Status(s) if s.message_id == failed && s.status == StatusKind::Failed
            && s.errors.iter().any(|x| x.code == Some(131_047)))
    }).await;
}

#[tokio::test]
async fn rate_limits_answer_613_and_recover_after_the_window() {
    let f = setup().await;
    f.sim
        .api
        .accounts(
            &json!({"kind": "instagram", "ig_id": IG_B, "username": "bakery_b", "token": TOKEN_B,
        "limits": {"text_per_second": 3, "media_per_second": 1}}),
        )
        .await
        .unwrap();
    f.dm(IG_B, "5300000000000601", json!({})).await;
    let path = ig_messages(IG_B);
    let mut counts = Vec::new();
    for i in 0..3 {
        let a = f
            .send(
                &path,
                Some(TOKEN_B),
                text("5300000000000601", &format!("burst {i}")),
            )
            .await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        counts.push(
            a.usage("x-business-use-case-usage").unwrap()[IG_B][0]["call_count"]
                .as_u64()
                .unwrap(),
        );
    }
    assert_eq!(counts, [33, 66, 100]);
    let a = f
        .send(
            &path,
            Some(TOKEN_B),
            text("5300000000000601", "one too many"),
        )
        .await;
    assert_eq!(
        (a.status, a.error()),
        (400, Some((613, None))),
        "{:?}",
        a.body
    );
    assert!(
        a.usage("x-business-use-case-usage").unwrap()[IG_B][0]["estimated_time_to_regain_access"]
            .is_number()
    );
    // Audio has its own, smaller budget.
    let audio = json!({"recipient": {"id": "5300000000000601"},
        "message": {"attachment": {"type": "audio", "payload": {"url": "https://cdn.example.com/a.m4a"}}}});
    assert_eq!(
        f.send(&path, Some(TOKEN_B), audio.clone()).await.status,
        200
    );
    assert_eq!(
        f.send(&path, Some(TOKEN_B), audio).await.error(),
        Some((613, None))
    );
    // A client that backs off gets through again once the window slid.
    eventually(
        "the budget to come back",
        Duration::from_secs(5),
        || async {
            let a = f
                .send(&path, Some(TOKEN_B), text("5300000000000601", "later"))
                .await;
            Ok((a.status == 200).then_some(()))
        },
    )
    .await
    .unwrap();

    // The rate_limit fault answers code 4 (app level) once.
    f.sim
        .api
        .fault(&json!({"kind": "rate_limit", "path": "messages", "count": 1}))
        .await
        .unwrap();
    f.dm(IG_A, "5300000000000602", json!({})).await;
    let a = f
        .send(
            &ig_messages(PAGE_A),
            Some(TOKEN_A),
            text("5300000000000602", "x"),
        )
        .await;
    assert_eq!(a.error(), Some((4, None)));
    assert_eq!(
        f.send(
            &ig_messages(PAGE_A),
            Some(TOKEN_A),
            text("5300000000000602", "y")
        )
        .await
        .status,
        200
    );

    // WhatsApp throughput: 130429.
    let mut wa = world_accounts()[3].clone();
    wa["limits"] = json!({"whatsapp_per_second": 2});
    f.sim.api.accounts(&wa).await.unwrap();
    f.sim
        .api
        .inbound(
            &json!({"account": WA_B, "customer": "6281200000001", "type": "text", "text": "hi"}),
        )
        .await
        .unwrap();
    let wa_path = format!("/v23.0/{WA_B}/messages");
    let mut errors = Vec::new();
    for _ in 0..3 {
        errors.push(
            f.send(&wa_path, Some(TOKEN_B), wa_text("6281200000001", "hi"))
                .await
                .error(),
        );
    }
    assert_eq!(errors, [None, None, Some((130_429, None))]);

    // The Conversations API: 2 calls per second.
    let conv = format!("/v23.0/{PAGE_A}/conversations?platform=instagram&user_id=5300000000000602");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            f.sim
                .api
                .graph(Method::GET, &conv, Some(TOKEN_A), None)
                .await
                .unwrap()
                .error(),
        );
    }
    assert_eq!(statuses, [None, None, Some((613, None))]);
}

#[tokio::test]
async fn fault_modes_are_observable() {
    let f = setup().await;
    let who = "5300000000000701";
    f.dm(IG_A, who, json!({})).await;
    let path = ig_messages(PAGE_A);

    // 5xx before delivery: nothing reached the customer.
    f.sim
        .api
        .fault(&json!({"kind": "server_error", "path": "messages", "count": 1}))
        .await
        .unwrap();
    let a = f.send(&path, Some(TOKEN_A), text(who, "first try")).await;
    assert_eq!((a.status, a.error()), (500, Some((1, None))));
    assert!(f.sim.api.inbox(who).await.unwrap().is_empty());
    assert_eq!(
        f.send(&path, Some(TOKEN_A), text(who, "retried"))
            .await
            .status,
        200
    );
    assert_eq!(f.sim.api.inbox(who).await.unwrap().len(), 1);
    let calls = f.sim.api.calls().await.unwrap();
    assert_eq!(calls[calls.len() - 2]["faults"], json!(["server_error"]));

    // 503 after delivery: the customer has it although the sender saw a failure; the
    // Conversations API tells the sender so (reconciliation after a lost answer).
    f.sim
        .api
        .fault(&json!({"kind": "server_error", "status": 503, "deliver": true, "count": 1}))
        .await
        .unwrap();
    let a = f
        .send(&path, Some(TOKEN_A), text(who, "answer lost ⚡"))
        .await;
    assert_eq!((a.status, a.error()), (503, Some((2, Some(1_545_133)))));
    assert_eq!(f.sim.api.inbox(who).await.unwrap().len(), 2);
    let list = f
        .sim
        .api
        .graph(
            Method::GET,
            &format!("/v23.0/me/conversations?platform=instagram&user_id={who}"),
            Some(TOKEN_A),
            None,
        )
        .await
        .unwrap();
    let conv = list.body["data"][0]["id"].as_str().unwrap().to_owned();
    let msgs = f
        .sim
        .api
        .graph(
            Method::GET,
            &format!("/v23.0/{conv}?fields=messages{{id,created_time,from,to,message}}"),
            Some(TOKEN_A),
            None,
        )
        .await
        .unwrap();
    assert_eq!(msgs.body["id"], conv.as_str());
    let newest = &msgs.body["messages"]["data"][0];
    assert_eq!(newest["message"], "answer lost ⚡");
    assert_eq!(newest["from"]["id"], IG_A);
    assert_eq!(newest["to"]["data"][0]["id"], who);
    assert!(newest["created_time"].as_str().unwrap().ends_with("+0000"));
    assert_eq!(
        msgs.body["messages"]["data"].as_array().unwrap().len(),
        3,
        "customer's and business's"
    );

    // Slow answers.
    f.sim
        .api
        .fault(&json!({"kind": "slow", "ms": 400, "count": 1}))
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(
        f.send(&path, Some(TOKEN_A), text(who, "slow")).await.status,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(400));

    // Timeouts: the request is held longer than the client waits, and nothing is delivered.
    f.sim
        .api
        .fault(&json!({"kind": "timeout", "ms": 2000, "count": 1}))
        .await
        .unwrap();
    let before = f.sim.api.inbox(who).await.unwrap().len();
    let held = f
        .sim
        .api
        .http
        .post(format!("{}{path}", f.sim.url))
        .bearer_auth(TOKEN_A)
        .json(&text(who, "never answered"))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(held.unwrap_err().is_timeout());
    // The sender gave up; Meta still holds the call, unrecorded, until it answers.
    assert_eq!(f.sim.api.sends_in_flight().await.unwrap(), 1);
    eventually("the held call to be recorded", WAIT, || async {
        let calls = f.sim.api.calls().await?;
        Ok(calls
            .iter()
            .any(|c| c["faults"] == json!(["timeout"]))
            .then_some(()))
    })
    .await
    .unwrap();
    assert_eq!(
        f.sim.api.sends_in_flight().await.unwrap(),
        0,
        "recorded, so answered"
    );
    assert_eq!(f.sim.api.inbox(who).await.unwrap().len(), before);

    // Duplicate deliveries: Meta posts twice, the relay stores once.
    f.sim
        .api
        .fault(&json!({"kind": "duplicate_webhooks", "webhook": "inbound", "count": 1}))
        .await
        .unwrap();
    let dup = f.dm(IG_A, who, json!({"text": "sent twice?"})).await;
    assert_eq!(dup["posts"][0]["statuses"], json!([200, 200]));
    let dup_mid = dup["ids"]["mid"].as_str().unwrap();
    assert_eq!(f.messages(&f.w.a, dup_mid, Direction::Inbound).await, 1);

    // Dropped webhooks never arrive: a later message is stored, the dropped one is not.
    f.sim
        .api
        .fault(&json!({"kind": "drop_webhooks", "webhook": "inbound", "count": 1}))
        .await
        .unwrap();
    let lost = f
        .sim
        .api
        .inbound(&json!({"account": IG_A, "customer": who, "type": "text", "text": "lost"}))
        .await
        .unwrap();
    assert_eq!(
        (lost["status"].clone(), lost["dropped"].clone()),
        (Value::Null, json!(true))
    );
    let lost_mid = lost["ids"]["mid"].as_str().unwrap().to_owned();
    let later = f.dm(IG_A, who, json!({"text": "after the lost one"})).await;
    assert_eq!(
        f.messages(
            &f.w.a,
            later["ids"]["mid"].as_str().unwrap(),
            Direction::Inbound
        )
        .await,
        1
    );
    assert_eq!(f.messages(&f.w.a, &lost_mid, Direction::Inbound).await, 0);

    // A dropped echo: the simulator records that it dropped it; the relay never sees it.
    f.sim
        .api
        .fault(&json!({"kind": "drop_webhooks", "webhook": "echo", "account": IG_A, "count": 1}))
        .await
        .unwrap();
    let a = f.send(&path, Some(TOKEN_A), text(who, "echo lost")).await;
    let echo_mid = a.body["message_id"].as_str().unwrap().to_owned();
    eventually("the echo to be dropped", WAIT, || async {
        let hooks = f.sim.api.webhooks().await?;
        Ok(hooks
            .iter()
            .any(|h| {
                h["kind"] == "echo"
                    && h["dropped"] == true
                    && h["body"].to_string().contains(&echo_mid)
            })
            .then_some(()))
    })
    .await
    .unwrap();
    assert_eq!(f.messages(&f.w.a, &echo_mid, Direction::Outbound).await, 0);
    f.w.assert_log_has_no_secrets().unwrap();
    f.assert_sim_log_clean();
}

#[tokio::test]
async fn the_demo_scenario_plays_and_the_profile_endpoints_answer() {
    let f = setup().await;
    let demo = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/scenarios/demo.toml"
    ))
    .unwrap();
    // Same accounts as the World's tenant A, without the demo's pacing (every pause, the
    // scenario's default and each step's own, becomes 10 ms).
    let demo: String = demo
        .lines()
        .map(|l| {
            if l.starts_with("delay_ms") {
                "delay_ms = 10"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let run = f.sim.api.scenario(&demo).await.unwrap();
    assert_eq!(run["ok"], true, "{run}");
    let steps = run["steps"].as_array().unwrap();
    assert!(steps.len() >= 10);
    assert!(steps.iter().all(|s| s["status"] == 200), "{run}");
    let threads =
        f.w.api
            .expect(
                Method::GET,
                &format!("/v1/tenants/{}/threads", f.w.a.id),
                &f.w.a.agent_token,
                None,
                200,
            )
            .await
            .unwrap();
    let kinds: Vec<&str> = threads["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.len() >= 7, "{threads}");
    assert!(
        kinds.contains(&"comment") && kinds.contains(&"dm"),
        "{kinds:?}"
    );

    let ig = "demo-instagram-user-token";
    let profile = "/v23.0/me/messenger_profile";
    let set = f
        .sim
        .api
        .graph(
            Method::POST,
            profile,
            Some(ig),
            Some(&json!({"platform": "instagram",
        "ice_breakers": [{"question": "Berapa ongkirnya?", "payload": "SHIPPING"},
                         {"question": "Ready stock?", "payload": "STOCK"}]})),
        )
        .await
        .unwrap();
    assert_eq!(
        (set.status, set.body.clone()),
        (200, json!({"result": "success"}))
    );
    let got = f
        .sim
        .api
        .graph(
            Method::GET,
            &format!("{profile}?fields=ice_breakers&platform=instagram"),
            Some(ig),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        got.body["data"][0]["call_to_actions"][1]["payload"],
        "STOCK"
    );
    assert_eq!(got.body["data"][0]["locale"], "default");
    let five: Vec<Value> = (0..5)
        .map(|i| json!({"question": format!("Q{i}"), "payload": "P"}))
        .collect();
    let bad = f
        .sim
        .api
        .graph(
            Method::POST,
            profile,
            Some(ig),
            Some(&json!({"platform": "instagram", "ice_breakers": five})),
        )
        .await
        .unwrap();
    assert_eq!(bad.error(), Some((100, None)));
    let del = f
        .sim
        .api
        .graph(
            Method::DELETE,
            &format!("{profile}?fields=[\"ice_breakers\"]"),
            Some(ig),
            None,
        )
        .await
        .unwrap();
    assert_eq!(del.body, json!({"result": "success"}));
    let got = f
        .sim
        .api
        .graph(
            Method::GET,
            &format!("{profile}?fields=ice_breakers"),
            Some(ig),
            None,
        )
        .await
        .unwrap();
    assert_eq!(got.body, json!({"data": []}));

    let me = f
        .sim
        .api
        .graph(
            Method::GET,
            "/v23.0/me?fields=user_id,username",
            Some(ig),
            None,
        )
        .await
        .unwrap();
    assert_eq!(me.body["user_id"], IG_A);
    assert_ne!(
        me.body["id"], IG_A,
        "the app-scoped id is not the webhook id"
    );
    let templates = f
        .sim
        .api
        .graph(
            Method::GET,
            "/v23.0/102290129340398/message_templates",
            Some("demo-whatsapp-system-user-token"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(templates.body["data"].as_array().unwrap().len(), 4);
    let unknown = f
        .sim
        .api
        .graph(Method::GET, "/v23.0/me/not_an_edge", Some(ig), None)
        .await
        .unwrap();
    assert_eq!(unknown.status, 400);
}

#[tokio::test]
async fn the_simulator_refuses_to_start_without_its_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(harness::relay_bin().unwrap())
        .arg("simulate")
        .env_clear()
        .env("SIM_LISTEN", "127.0.0.1:0")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("META_APP_SECRET"), "{err}");

    // A broken scenario stops the start, naming the file and the step.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[steps]]\ncustomer = \"1\"\ntype = \"teleport\"\naccount = \"1\"\n",
    )
    .unwrap();
    let mut opts = SimOptions::new("http://127.0.0.1:9", dir.path());
    opts.args = vec!["--scenario".into(), bad.display().to_string()];
    let started = Sim::start_with(&opts).await;
    let msg = format!(
        "{:#}",
        started.err().expect("a broken scenario must not start")
    );
    assert!(msg.contains("bad.toml") && msg.contains("step 0"), "{msg}");
}

#[tokio::test]
async fn the_simulator_follows_a_relay_started_later_and_restarted() {
    // The outbox's tests need the simulator's URL before the relay starts, and the relay
    // comes back on another port after a restart: the simulator is repointed each time.
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start("http://127.0.0.1:9", dir.path()).await.unwrap();
    sim.api.accounts(&world_accounts()).await.unwrap();
    let mut w = World::with_env(sim.graph_env()).await.unwrap();
    sim.api.set_relay(&w.api.url).await.unwrap();
    let first = sim
        .api
        .inbound(&json!({"account": IG_B, "customer": "5300000000000801", "type": "text", "text": "one"}))
        .await
        .unwrap();
    assert_eq!(first["status"], 200, "{first}");
    w.stop().await.unwrap();
    w.start_again().await.unwrap();
    sim.api.set_relay(&w.api.url).await.unwrap();
    let second = sim
        .api
        .inbound(&json!({"account": IG_B, "customer": "5300000000000801", "type": "text", "text": "two"}))
        .await
        .unwrap();
    assert_eq!(second["status"], 200, "{second}");
    let events = w.api.all_events(&w.b.id, &w.b.agent_token).await.unwrap();
    assert_eq!(events.len(), 2);
    let (status, _) = sim
        .api
        .call(Method::PUT, "/_sim/relay", Some(&json!({"url": "ftp://x"})))
        .await
        .unwrap();
    assert_eq!(status, 400);
}
