//! The sync engine against a scripted fake relay over loopback: backlog and live events,
//! replay of unanswered commands, refusals, reconnects from the cursor, both subprotocols.
//!
//! Every wait is on the engine's own channels (state watch, update broadcast) or on the
//! fake's, each bounded by `PATIENCE`; nothing sleeps and hopes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_relay;

use desk_tui::{BackoffConfig, ConnectionState, Replica, Subprotocol, SyncConfig, SyncHandle};
use desk_tui::{Token, Update};
use fake_relay::{AGENT, BRAND, FakeRelay, PATIENCE, TENANT, TENANT_NAME, event};
use protocol::{Answer, Command, Rejection, Seq, ServerFrame, ThreadId};
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::broadcast;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::http::StatusCode;

const TOKEN: &str = "tok-very-secret-4242";

/// A running engine, with everything it announced so far.
struct Desk {
    handle: SyncHandle,
    updates: broadcast::Receiver<Update>,
    seen: Vec<Update>,
}

impl Desk {
    fn start(config: &SyncConfig) -> Self {
        let replica = Replica::open(config).unwrap();
        let handle = SyncHandle::spawn(config.clone(), replica).unwrap();
        let updates = handle.subscribe();
        Self {
            handle,
            updates,
            seen: Vec::new(),
        }
    }

    /// Waits for an update matching `wanted`, remembering every update on the way.
    async fn until(&mut self, what: &str, wanted: impl Fn(&Update) -> bool) -> Update {
        let wait = async {
            loop {
                let update = self.updates.recv().await.unwrap();
                self.seen.push(update.clone());
                if wanted(&update) {
                    return update;
                }
            }
        };
        match timeout(PATIENCE, wait).await {
            Ok(update) => update,
            Err(_) => panic!("no {what}; saw {:?}", self.seen),
        }
    }

    async fn until_applied(&mut self, cursor: u64) {
        self.until(
            &format!("events up to {cursor}"),
            |u| matches!(u, Update::Applied { cursor: c } if *c == Seq(cursor)),
        )
        .await;
    }

    async fn until_state(&self, what: &str, wanted: impl Fn(&ConnectionState) -> bool) {
        let mut state = self.handle.watch_state();
        match timeout(PATIENCE, state.wait_for(|s| wanted(s))).await {
            Ok(Ok(_)) => {}
            _ => panic!("never {what}; state is {}", self.handle.state()),
        }
    }

    async fn until_refused(&self) -> String {
        self.until_state("refused", |s| matches!(s, ConnectionState::Refused { .. }))
            .await;
        match self.handle.state() {
            ConnectionState::Refused { reason } => reason,
            other => panic!("{other:?}"),
        }
    }

    fn answers_seen(&self) -> usize {
        self.seen
            .iter()
            .filter(|u| matches!(u, Update::Answered { .. }))
            .count()
    }
}

fn config(relay: &FakeRelay, dir: &TempDir) -> SyncConfig {
    let mut config = SyncConfig::new(relay.url(), Token::new(TOKEN));
    config.data_dir = Some(dir.path().to_path_buf());
    config.backoff = BackoffConfig {
        initial: Duration::from_millis(5),
        max: Duration::from_millis(50),
    };
    config
}

fn claim(thread: &str) -> Command {
    Command::Claim {
        thread: ThreadId::new(thread),
    }
}

fn seqs(replica: &Replica) -> Vec<u64> {
    replica
        .events_after(Seq(0), usize::MAX)
        .unwrap()
        .iter()
        .map(|e| e.seq.0)
        .collect()
}

#[tokio::test]
async fn backlog_then_live_events_land_in_the_replica_and_stay_readable_offline() {
    let mut relay = FakeRelay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&relay, &dir);
    let mut desk = Desk::start(&config);

    let upgrade = relay.next_upgrade().await;
    assert_eq!(
        upgrade.authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(upgrade.subprotocol.as_deref(), Some("chatdesk.v1.bincode"));
    let mut conn = upgrade.conn.unwrap();
    assert_eq!(conn.expect_hello().await, 0);
    conn.welcome(3).await;
    desk.until("syncing", |u| {
        *u == Update::State(ConnectionState::Syncing {
            cursor: Seq(0),
            head: Seq(3),
        })
    })
    .await;
    conn.events(1..=3).await;
    desk.until_applied(3).await;
    desk.until_state("live", |s| *s == ConnectionState::Live)
        .await;

    conn.events([4]).await;
    desk.until_applied(4).await;
    assert_eq!(desk.handle.replica().cursor().unwrap(), Seq(4));

    desk.handle.shutdown().await.unwrap();
    assert_eq!(conn.expect_close().await, Some(1000));

    // A later start, before any network: everything is there.
    let replica = Replica::open(&config).unwrap();
    assert_eq!(replica.cursor().unwrap(), Seq(4));
    let events = replica.events_after(Seq(0), 100).unwrap();
    assert_eq!(events, (1..=4).map(event).collect::<Vec<_>>());
    let identity = replica.identity().unwrap().unwrap();
    assert_eq!(
        (identity.tenant.as_str(), identity.agent.as_str()),
        (TENANT, AGENT)
    );
    let header = replica.header().unwrap().unwrap();
    assert_eq!(
        (header.brand.as_str(), header.tenant_name.as_str()),
        (BRAND, TENANT_NAME)
    );
    assert_eq!(replica.head().unwrap(), Seq(3));
}

#[tokio::test]
async fn an_unanswered_command_is_replayed_with_its_key_and_answered_once() {
    let mut relay = FakeRelay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Desk::start(&config(&relay, &dir));

    let key = desk.handle.submit(claim("th-1")).await.unwrap();
    let pending = desk.handle.replica().outbox().pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].key, key);

    let mut first = relay.accept().await;
    assert_eq!(first.expect_hello().await, 0);
    first.welcome(0).await;
    assert_eq!(first.expect_command().await, (key.clone(), claim("th-1")));
    // The relay goes away before answering.
    drop(first);

    let mut second = relay.accept().await;
    assert_eq!(second.expect_hello().await, 0);
    second.welcome(0).await;
    assert_eq!(second.expect_command().await, (key.clone(), claim("th-1")));
    let answer = Answer::Applied { seq: Seq(1) };
    second
        .send(&ServerFrame::Answer {
            key: key.clone(),
            answer: answer.clone(),
        })
        .await;
    // A relay replaying its first answer must not be recorded twice; the event after it
    // shows the engine has read past both.
    second
        .send(&ServerFrame::Answer {
            key: key.clone(),
            answer: answer.clone(),
        })
        .await;
    second.events([1]).await;
    desk.until_applied(1).await;

    assert_eq!(desk.answers_seen(), 1);
    assert!(desk.seen.contains(&Update::Answered {
        key: key.clone(),
        answer: answer.clone()
    }));
    let outbox = desk.handle.replica().outbox();
    assert!(outbox.pending().unwrap().is_empty());
    assert_eq!(outbox.answer(&key).unwrap().unwrap().answer, answer);
    desk.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn pending_commands_survive_a_restart_and_are_replayed() {
    let mut relay = FakeRelay::start().await;
    relay.refuse_upgrades(StatusCode::SERVICE_UNAVAILABLE);
    let dir = tempfile::tempdir().unwrap();
    let config = config(&relay, &dir);

    let desk = Desk::start(&config);
    assert!(relay.next_upgrade().await.conn.is_none());
    desk.until_state(
        "offline after a 503",
        |s| matches!(s, ConnectionState::Offline { last_error: Some(e), .. } if e.contains("503")),
    )
    .await;
    let key = desk.handle.submit(claim("th-9")).await.unwrap();
    desk.handle.shutdown().await.unwrap();

    relay.accept_upgrades();
    let mut desk = Desk::start(&config);
    // Attempts the first engine made while the relay refused may still be queued.
    let mut conn = loop {
        if let Some(conn) = relay.next_upgrade().await.conn {
            break conn;
        }
    };
    assert_eq!(conn.expect_hello().await, 0);
    conn.welcome(0).await;
    assert_eq!(conn.expect_command().await, (key.clone(), claim("th-9")));
    let rejected = Answer::Rejected {
        rejection: Rejection::Forbidden {
            reason: "another agent holds the thread".into(),
        },
    };
    conn.send(&ServerFrame::Answer {
        key: key.clone(),
        answer: rejected.clone(),
    })
    .await;
    desk.until("the answer", |u| matches!(u, Update::Answered { .. }))
        .await;
    let answered = desk
        .handle
        .replica()
        .outbox()
        .answer(&key)
        .unwrap()
        .unwrap();
    assert_eq!(answered.answer, rejected);
    desk.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_refused_token_stops_the_engine_for_good() {
    let mut relay = FakeRelay::start().await;
    relay.refuse_upgrades(StatusCode::UNAUTHORIZED);
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::start(&config(&relay, &dir));

    let upgrade = relay.next_upgrade().await;
    assert!(upgrade.conn.is_none());
    let reason = desk.until_refused().await;
    assert!(reason.contains("token"), "{reason}");
    assert!(!reason.contains(TOKEN), "{reason}");
    // With a 5 ms backoff a retrying engine would be back many times over.
    relay
        .assert_no_upgrade_within(Duration::from_millis(300))
        .await;
    assert!(matches!(
        desk.handle.state(),
        ConnectionState::Refused { .. }
    ));
    desk.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_policy_close_stops_the_engine_for_good() {
    let mut relay = FakeRelay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::start(&config(&relay, &dir));

    let mut conn = relay.accept().await;
    conn.expect_hello().await;
    conn.welcome(0).await;
    desk.until_state("live", |s| *s == ConnectionState::Live)
        .await;
    conn.close(1008, "token revoked").await;
    let reason = desk.until_refused().await;
    assert!(reason.contains("token revoked"), "{reason}");
    relay
        .assert_no_upgrade_within(Duration::from_millis(300))
        .await;
    desk.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn fell_behind_reconnects_from_the_cursor() {
    let mut relay = FakeRelay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Desk::start(&config(&relay, &dir));

    let mut first = relay.accept().await;
    assert_eq!(first.expect_hello().await, 0);
    first.welcome(3).await;
    first.events(1..=3).await;
    desk.until_applied(3).await;
    first.close(4000, "fell behind").await;

    let mut second = relay.accept().await;
    assert_eq!(second.expect_hello().await, 3);
    second.welcome(5).await;
    second.events(4..=5).await;
    desk.until_applied(5).await;
    desk.until_state("live", |s| *s == ConnectionState::Live)
        .await;
    assert!(desk.seen.iter().any(|u| matches!(
        u,
        Update::State(ConnectionState::Offline { last_error: Some(e), .. }) if e.contains("fell behind")
    )));
    assert_eq!(seqs(desk.handle.replica()), [1, 2, 3, 4, 5]);
    desk.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_gap_is_not_applied_and_the_engine_resyncs_from_the_cursor() {
    let mut relay = FakeRelay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Desk::start(&config(&relay, &dir));

    let mut first = relay.accept().await;
    first.expect_hello().await;
    first.welcome(3).await;
    first.events([1, 1, 3]).await;
    assert_eq!(first.expect_close().await, Some(1002));
    assert_eq!(seqs(desk.handle.replica()), [1]);

    let mut second = relay.accept().await;
    assert_eq!(second.expect_hello().await, 1);
    second.welcome(3).await;
    second.events(2..=3).await;
    desk.until_applied(3).await;
    assert_eq!(seqs(desk.handle.replica()), [1, 2, 3]);
    desk.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_welcome_for_another_tenant_is_refused() {
    let mut relay = FakeRelay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Desk::start(&config(&relay, &dir));

    let mut first = relay.accept().await;
    first.expect_hello().await;
    first.welcome(1).await;
    first.events([1]).await;
    desk.until_applied(1).await;
    drop(first);

    let mut second = relay.accept().await;
    assert_eq!(second.expect_hello().await, 1);
    second.welcome_as("t-b", AGENT, 1).await;
    let reason = desk.until_refused().await;
    assert!(reason.contains("t-a") && reason.contains("t-b"), "{reason}");
    assert_eq!(second.expect_close().await, Some(1008));
    relay
        .assert_no_upgrade_within(Duration::from_millis(300))
        .await;
    // The replica still belongs to tenant t-a, untouched.
    let identity = desk.handle.replica().identity().unwrap().unwrap();
    assert_eq!(identity.tenant.as_str(), TENANT);
    assert_eq!(seqs(desk.handle.replica()), [1]);
    desk.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_silent_connection_is_declared_dead_and_replaced() {
    let mut relay = FakeRelay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&relay, &dir);
    config.idle_timeout = Duration::from_millis(300);
    let mut desk = Desk::start(&config);

    let mut first = relay.accept().await;
    first.expect_hello().await;
    first.welcome(0).await;
    // The fake now says nothing, not even pings.
    assert_eq!(first.expect_close().await, Some(1000));
    desk.until("the idle verdict", |u| {
        matches!(u, Update::State(ConnectionState::Offline { last_error: Some(e), .. })
            if e.contains("nothing from the relay for 300ms"))
    })
    .await;
    let mut second = relay.accept().await;
    second.expect_hello().await;
    second.welcome(0).await;
    desk.until_state("live again", |s| *s == ConnectionState::Live)
        .await;
    desk.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn pings_keep_a_quiet_connection_alive() {
    let mut relay = FakeRelay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&relay, &dir);
    config.idle_timeout = Duration::from_millis(400);
    let mut desk = Desk::start(&config);

    let mut conn = relay.accept().await;
    conn.expect_hello().await;
    conn.welcome(0).await;
    // Twice the idle timeout with nothing but pings, as a relay with no traffic behaves.
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        conn.ping().await;
    }
    conn.events([1]).await;
    desk.until_applied(1).await;
    assert!(
        !desk
            .seen
            .iter()
            .any(|u| matches!(u, Update::State(ConnectionState::Offline { .. }))),
        "{:?}",
        desk.seen
    );
    desk.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_json_subprotocol_works_too() {
    let mut relay = FakeRelay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&relay, &dir);
    config.subprotocol = Subprotocol::Json;
    let mut desk = Desk::start(&config);

    let upgrade = relay.next_upgrade().await;
    assert_eq!(upgrade.subprotocol.as_deref(), Some("chatdesk.v1.json"));
    let mut conn = upgrade.conn.unwrap();
    assert_eq!(conn.expect_hello().await, 0);
    conn.welcome(2).await;
    conn.events(1..=2).await;
    desk.until_applied(2).await;

    let key = desk.handle.submit(claim("th-2")).await.unwrap();
    assert_eq!(conn.expect_command().await, (key.clone(), claim("th-2")));
    let answer = Answer::Applied { seq: Seq(3) };
    conn.send(&ServerFrame::Answer {
        key: key.clone(),
        answer: answer.clone(),
    })
    .await;
    conn.events([3]).await;
    desk.until_applied(3).await;
    assert!(desk.seen.contains(&Update::Answered { key, answer }));
    assert_eq!(seqs(desk.handle.replica()), [1, 2, 3]);
    desk.handle.shutdown().await.unwrap();
}
