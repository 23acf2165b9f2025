//! The token refresher end to end (`relay/src/refresh.rs`): an Instagram account connected
//! through the simulator's Instagram Login, so its channel holds a real long-lived token
//! with a real `token_expires_at`; the simulator's token lifetime and clock (`PUT
//! /_sim/oauth`) make that token due and old enough to refresh, or expire it at Meta.
//!
//! The relay is first run with an hour between refresh rounds, so nothing is refreshed
//! while the account connects (a token minutes old is too young for Meta to refresh);
//! once the simulator's clock is set, it restarts with `RELAY_REFRESH_INTERVAL_SECS=1`,
//! and the round at start (then every second) does the work the test waits for.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::Tenant;
use harness::connect::{ConnectSetup, ConnectWorld, IG_APP_ID, IG_NEW, MINTED, ig_new_account};
use harness::desk::RawDesk;
use harness::sim::eventually;
use protocol::{AccountEventKind, Answer, Command, Event, EventBody};
use reqwest::Method;
use serde_json::{Value, json};
use std::ops::{Deref, DerefMut};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const DAY_MS: i64 = 86_400_000;
/// The long-lived token the connection gets lives 3 days: inside the 7-day refresh window.
const SHORT_LIFETIME_SECS: i64 = 3 * 86_400;

/// The connect world, with this file's reads and restarts on top.
struct Fx(ConnectWorld);

impl Deref for Fx {
    type Target = ConnectWorld;
    fn deref(&self) -> &ConnectWorld {
        &self.0
    }
}

impl DerefMut for Fx {
    fn deref_mut(&mut self) -> &mut ConnectWorld {
        &mut self.0
    }
}

/// A simulator with the World's accounts and `IG_NEW`, and a relay (refresh rounds an hour
/// apart) whose Meta URLs point at it.
async fn setup() -> Fx {
    let c = ConnectWorld::start(ConnectSetup {
        accounts: vec![ig_new_account()],
        oauth: json!({"instagram_app_id": IG_APP_ID, "instagram_accounts": [IG_NEW],
                      "long_lived_expires_in": SHORT_LIFETIME_SECS}),
        instagram: true,
        env: vec![("RELAY_REFRESH_INTERVAL_SECS".into(), "3600".into())],
        ..ConnectSetup::default()
    })
    .await
    .unwrap();
    Fx(c)
}

impl Fx {
    /// Connects `IG_NEW` to `t` through Instagram Login: link, consent, Allow, callback.
    async fn connect(&self, t: &Tenant) {
        let page = self.connect_instagram(t, IG_NEW).await.unwrap();
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(
            page.body.contains("is now connected") || page.body.contains("was reconnected"),
            "{}",
            page.body
        );
    }

    async fn channel(&self, t: &Tenant) -> Value {
        self.channel_of(t, IG_NEW)
            .await
            .unwrap()
            .expect("the connected channel")
    }

    async fn set_oauth(&self, patch: Value) {
        self.sim
            .api
            .expect(Method::PUT, "/_sim/oauth", Some(&patch), 200)
            .await
            .unwrap();
    }

    /// Restarts the relay on its data with a refresh round every second (the first at start).
    async fn restart_refreshing_every_second(&mut self) {
        self.w.stop().await.unwrap();
        self.w
            .options
            .extra_env
            .push(("RELAY_REFRESH_INTERVAL_SECS".into(), "1".into()));
        harness::sim::start_again(&mut self.0.w, &self.0.sim)
            .await
            .unwrap();
    }

    /// Restarts the relay on its data with a refresh round every second and
    /// `INSTAGRAM_GRAPH_URL` at `instagram_graph` (where the refresh call goes).
    async fn restart_refreshing_through(&mut self, instagram_graph: &str) {
        self.w
            .options
            .extra_env
            .push(("INSTAGRAM_GRAPH_URL".into(), instagram_graph.to_owned()));
        self.restart_refreshing_every_second().await;
    }

    /// The simulator's recorded `refresh_access_token` calls.
    async fn refresh_calls(&self) -> Vec<Value> {
        self.sim
            .api
            .calls()
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c["path_kind"] == "oauth" && c["path"] == "/refresh_access_token")
            .collect()
    }

    /// The simulator's long-lived tokens for `IG_NEW` (without their text), oldest first.
    async fn long_lived_tokens(&self) -> Vec<Value> {
        let v = self
            .sim
            .api
            .expect(Method::GET, "/_sim/oauth/tokens", None, 200)
            .await
            .unwrap();
        v["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["account"] == IG_NEW && i["kind"] == "long_lived")
            .cloned()
            .collect()
    }

    /// The `ChannelChanged` evidence records of a channel: `(change, detail)`.
    async fn changes(&self, t: &Tenant, channel: &str) -> Vec<(String, String)> {
        let events = self.w.api.all_events(&t.id, &t.owner_token).await.unwrap();
        events
            .into_iter()
            .filter_map(|e| {
                let e: Event = serde_json::from_value(e).unwrap();
                match e.body {
                    EventBody::Account(a) if a.channel_id.as_str() == channel => match a.kind {
                        AccountEventKind::ChannelChanged { change, detail } => {
                            Some((change, detail))
                        }
                        _ => None,
                    },
                    _ => None,
                }
            })
            .collect()
    }

    async fn audit_ok(&self, t: &Tenant) {
        self.w.api.audit_ok(&t.id, &t.owner_token).await.unwrap();
    }

    /// No minted token and no harness secret in the relay's log, the call log or the events.
    async fn check_no_tokens_leaked(&self, t: &Tenant) {
        self.w.assert_log_has_no_secrets().unwrap();
        let log = std::fs::read_to_string(&self.w.options.log).unwrap();
        let calls = serde_json::to_string(&self.sim.api.calls().await.unwrap()).unwrap();
        let events =
            serde_json::to_string(&self.w.api.all_events(&t.id, &t.owner_token).await.unwrap())
                .unwrap();
        for marker in MINTED {
            assert!(!log.contains(marker), "a minted token in the relay log");
            assert!(!calls.contains(marker), "a minted token in the call log");
            assert!(!events.contains(marker), "a minted token in the events");
        }
    }
}

fn short_lifetime_expiry_ok(expires: i64) {
    let left = expires - harness::now_ms();
    assert!(
        (left - SHORT_LIFETIME_SECS * 1000).abs() < 120_000,
        "the token expires in {left} ms"
    );
    assert!(left < 7 * DAY_MS, "inside the refresh window");
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_and_the_new_one_sends() {
    let mut fx = setup().await;
    let t = fx.w.a.clone();
    fx.connect(&t).await;
    let before = fx.channel(&t).await;
    assert_eq!(before["login"], "instagram");
    assert_eq!(before["needs_reconnect"], false, "{before}");
    let old_expiry = before["token_expires_at"].as_i64().expect("an expiry");
    short_lifetime_expiry_ok(old_expiry);
    assert!(fx.refresh_calls().await.is_empty());

    // A customer's thread on the new channel, and credits to reply with later.
    let customer = "5300000000000777";
    fx.sim
        .api
        .customer_writes(IG_NEW, customer, "Halo, ready stock?")
        .await
        .unwrap();
    let thread = fx.w.thread_of(&t, customer, WAIT).await.unwrap();
    fx.w.top_up(&t, 2).await.unwrap();

    // Two days later at Meta: the token is old enough to refresh, and still valid.
    fx.set_oauth(json!({"clock_offset_ms": 2 * DAY_MS})).await;
    fx.restart_refreshing_every_second().await;
    let after = eventually("the refreshed expiry", WAIT, || async {
        let c = fx.channel(&t).await;
        let later = c["token_expires_at"]
            .as_i64()
            .is_some_and(|e| e > old_expiry + 30 * DAY_MS);
        Ok(later.then_some(c))
    })
    .await
    .unwrap();
    assert_eq!(after["needs_reconnect"], false, "{after}");
    assert!(after["reason"].is_null(), "{after}");
    assert_eq!(after["has_token"], true);
    let new_expiry = after["token_expires_at"].as_i64().unwrap();
    let sixty_days = 5_183_944_000;
    assert!(
        (new_expiry - harness::now_ms() - sixty_days).abs() < 120_000,
        "{new_expiry}"
    );

    // Meta saw one refresh, with the token in the query as documented, and answered it.
    let refreshes = fx.refresh_calls().await;
    assert_eq!(refreshes.len(), 1, "{refreshes:#?}");
    let r = &refreshes[0];
    assert_eq!(r["method"], "GET");
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["query"]["grant_type"], "ig_refresh_token");
    assert_eq!(r["query"]["access_token"], "[redacted]");
    assert_eq!(r["token"], format!("account:{IG_NEW}"));
    let tokens = fx.long_lived_tokens().await;
    assert_eq!(
        tokens.len(),
        2,
        "the connection's token and the refreshed one"
    );
    assert!(tokens[1]["issued_at_ms"].as_i64() > tokens[0]["issued_at_ms"].as_i64());

    // Two more days: the old token has expired at Meta, the refreshed one has not. A reply
    // goes out, so the outbox opened the refreshed token.
    fx.set_oauth(json!({"clock_offset_ms": 4 * DAY_MS})).await;
    let meta_now = harness::now_ms() + 4 * DAY_MS;
    let tokens = fx.long_lived_tokens().await;
    assert!(tokens[0]["expires_at_ms"].as_i64().unwrap() < meta_now);
    assert!(tokens[1]["expires_at_ms"].as_i64().unwrap() > meta_now);
    let mut desk = RawDesk::caught_up(&fx.w.api.url, &t.agent_token)
        .await
        .unwrap();
    let (answer, _) = desk
        .command(
            "r1",
            Command::SendReply {
                thread: thread.clone(),
                text: "Ready, kak!".into(),
            },
        )
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    let messages = format!("/v1/tenants/{}/threads/{thread}/messages", t.id);
    let send = eventually("the reply sent", WAIT, || async {
        let v =
            fx.w.api
                .expect(Method::GET, &messages, &t.agent_token, None, 200)
                .await?;
        let send = v["sends"][0].clone();
        assert_ne!(send["state"], "failed", "{send}");
        Ok((send["state"] == "sent").then_some(send))
    })
    .await
    .unwrap();
    assert!(send["provider_id"].as_str().is_some(), "{send}");
    let sends = fx.sim.api.send_calls().await.unwrap();
    assert_eq!(sends.len(), 1, "{sends:#?}");
    assert_eq!(sends[0]["status"], 200, "{}", sends[0]);
    assert_eq!(sends[0]["path"], format!("/v23.0/{IG_NEW}/messages"));
    assert_eq!(sends[0]["token"], format!("account:{IG_NEW}"));

    // Evidence: the refresh is on the chain, naming the new expiry, and the chain verifies.
    let changes = fx.changes(&t, after["id"].as_str().unwrap()).await;
    let refreshed: Vec<&(String, String)> = changes
        .iter()
        .filter(|(c, _)| c == "token_refreshed")
        .collect();
    assert_eq!(refreshed.len(), 1, "{changes:?}");
    assert_eq!(refreshed[0].1, format!("expires_at={new_expiry}"));
    assert!(
        !changes.iter().any(|(c, _)| c == "refresh_failed"),
        "{changes:?}"
    );
    fx.audit_ok(&t).await;
    fx.check_no_tokens_leaked(&t).await;
}

#[tokio::test]
async fn a_refused_refresh_asks_for_a_reconnection_with_a_reason() {
    let mut fx = setup().await;
    let t = fx.w.a.clone();
    fx.connect(&t).await;
    let before = fx.channel(&t).await;
    short_lifetime_expiry_ok(before["token_expires_at"].as_i64().unwrap());
    assert_eq!(before["needs_reconnect"], false);

    // Meta expires every token of the account: the refresh is refused.
    fx.set_oauth(json!({"clock_offset_ms": 2 * DAY_MS})).await;
    let expired = fx
        .sim
        .api
        .expect(
            Method::POST,
            "/_sim/oauth/expire",
            Some(&json!({"account": IG_NEW})),
            200,
        )
        .await
        .unwrap();
    assert!(expired["expired"].as_u64().unwrap() >= 1, "{expired}");
    fx.restart_refreshing_every_second().await;
    let after = eventually("the channel marked for reconnection", WAIT, || async {
        let c = fx.channel(&t).await;
        Ok((c["needs_reconnect"] == true).then_some(c))
    })
    .await
    .unwrap();
    let reason = after["reason"].as_str().expect("a reason");
    assert!(reason.contains("refresh"), "{reason}");
    assert!(reason.contains("connect the account again"), "{reason}");
    assert!(reason.contains("token_invalid"), "{reason}");
    assert_eq!(
        after["token_expires_at"], before["token_expires_at"],
        "the expiry is unchanged"
    );
    assert_eq!(after["disconnected"], false);

    // Meta saw the refresh attempt and refused it as an expired token.
    let refreshes = fx.refresh_calls().await;
    assert!(!refreshes.is_empty());
    assert_eq!(refreshes[0]["status"], 400, "{}", refreshes[0]);
    assert_eq!(
        refreshes[0]["response"]["error"]["error_subcode"], 463,
        "{}",
        refreshes[0]
    );

    // Evidence of the failure, with its class and code and nothing else; the chain verifies.
    let channel = after["id"].as_str().unwrap();
    let changes = eventually("the refresh_failed record", WAIT, || async {
        let changes = fx.changes(&t, channel).await;
        Ok(changes
            .iter()
            .any(|(c, _)| c == "refresh_failed")
            .then_some(changes))
    })
    .await
    .unwrap();
    let failed: Vec<&(String, String)> = changes
        .iter()
        .filter(|(c, _)| c == "refresh_failed")
        .collect();
    assert_eq!(failed.len(), 1, "{changes:?}");
    assert!(failed[0].1.contains("class=token_invalid"), "{failed:?}");
    assert!(failed[0].1.contains("190"), "{failed:?}");
    assert!(
        !changes.iter().any(|(c, _)| c == "token_refreshed"),
        "{changes:?}"
    );
    fx.audit_ok(&t).await;
    fx.check_no_tokens_leaked(&t).await;

    // Connecting the account again (a fresh 60-day token) clears the mark.
    fx.set_oauth(json!({"clock_offset_ms": 0, "long_lived_expires_in": 5_183_944}))
        .await;
    fx.connect(&t).await;
    let again = fx.channel(&t).await;
    assert_eq!(again["id"], after["id"], "the same channel");
    assert_eq!(again["needs_reconnect"], false, "{again}");
    assert!(again["reason"].is_null(), "{again}");
    assert!(
        again["token_expires_at"].as_i64().unwrap() > harness::now_ms() + 30 * DAY_MS,
        "{again}"
    );
    fx.audit_ok(&t).await;
    fx.check_no_tokens_leaked(&t).await;
}

#[tokio::test]
async fn a_refresh_meta_does_not_answer_is_tried_again_and_marks_nothing() {
    let mut fx = setup().await;
    let t = fx.w.a.clone();
    fx.connect(&t).await;
    let before = fx.channel(&t).await;
    let old_expiry = before["token_expires_at"].as_i64().unwrap();
    short_lifetime_expiry_ok(old_expiry);
    fx.set_oauth(json!({"clock_offset_ms": 2 * DAY_MS})).await;

    // Meta unreachable (nothing listens on the discard port): every round's refresh gets
    // no answer. Two rounds try, and the channel is not marked.
    fx.restart_refreshing_through("http://127.0.0.1:9").await;
    let log = fx.w.options.log.clone();
    eventually("two refresh rounds that got no answer", WAIT, || async {
        let text = std::fs::read_to_string(&log)?;
        Ok((text.matches("token refresh failed for now").count() >= 2).then_some(()))
    })
    .await
    .unwrap();
    let during = fx.channel(&t).await;
    assert_eq!(during["needs_reconnect"], false, "{during}");
    assert!(during["reason"].is_null(), "{during}");
    assert_eq!(during["token_expires_at"], before["token_expires_at"]);
    let channel = during["id"].as_str().unwrap().to_owned();
    let changes: Vec<String> = fx
        .changes(&t, &channel)
        .await
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(
        changes,
        ["connected"],
        "only the connection is on the chain"
    );
    assert!(fx.refresh_calls().await.is_empty());

    // Meta answers again: the next round refreshes.
    let sim_url = fx.sim.url.clone();
    fx.restart_refreshing_through(&sim_url).await;
    eventually("the refreshed expiry", WAIT, || async {
        let c = fx.channel(&t).await;
        Ok(c["token_expires_at"]
            .as_i64()
            .is_some_and(|e| e > old_expiry + 30 * DAY_MS)
            .then_some(()))
    })
    .await
    .unwrap();
    let changes = fx.changes(&t, &channel).await;
    assert_eq!(
        changes
            .iter()
            .filter(|(c, _)| c == "token_refreshed")
            .count(),
        1,
        "{changes:?}"
    );
    assert!(!changes.iter().any(|(c, _)| c == "refresh_failed"));
    fx.audit_ok(&t).await;
    fx.check_no_tokens_leaked(&t).await;
}
