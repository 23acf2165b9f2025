//! Account-level @mentions from a signed Instagram `mentions` change to the desk's inbox,
//! over the real relay binary: the desk's own sync engine and `App` show each mention as a
//! row of its own (also after a restart from the replica alone), and the other tenant's
//! desk never receives it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use desk_tui::app::keymap::Keymap;
use desk_tui::app::{App, Effect, Msg};
use desk_tui::model::mention::MentionRow;
use desk_tui::{ConnectionState, Replica, SyncConfig, SyncHandle, Token, fixtures};
use harness::desk::{RawDesk, wait_cursor};
use harness::{IG_A, IG_B, World, ig_dm, now_ms};
use protocol::{AccountEventKind, EventBody, Millis, Seq};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// Meta's `mentions` change for `account` (meta-platform.md §5: Facebook Login), `time`
/// in seconds as Meta sends it: a caption mention and a comment mention in one entry.
fn mentions(account: &str, at_ms: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "instagram",
        "entry": [{
            "id": account,
            "time": at_ms / 1000,
            "changes": [
                {"field": "mentions", "value": {"media_id": "17920000000000001"}},
                {"field": "mentions",
                 "value": {"comment_id": "17920000000000002", "media_id": "17920000000000003"}},
            ],
        }],
    }))
    .unwrap()
}

/// The desk's `App` over `replica`, as `desk` builds it at start.
fn app_over(replica: Replica) -> App {
    App::new(
        vec![fixtures::profile("a", replica)],
        Keymap::default(),
        Millis(now_ms()),
    )
}

fn listed_mentions(app: &App) -> Vec<MentionRow> {
    app.inbox
        .visible()
        .filter_map(|e| e.mention().cloned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mention_webhook_becomes_an_inbox_row_on_its_tenants_desk_only() {
    let w = World::new().await.unwrap();
    let url = w.relay.as_ref().unwrap().url.clone();
    let data = w.dir.path().join("desk-a");
    let mut config = SyncConfig::new(&url, Token::new(&w.a.agent_token));
    config.data_dir = Some(data);
    let engine = SyncHandle::spawn(config.clone(), Replica::open(&config).unwrap()).unwrap();
    let mut state = engine.watch_state();
    tokio::time::timeout(WAIT, state.wait_for(|s| *s == ConnectionState::Live))
        .await
        .expect("live in time")
        .unwrap();

    // A customer thread of A, then the mentions, then a thread of B: B's head moves too.
    let dm = ig_dm(IG_A, "m_mention_dm", "91", "halo kak", now_ms());
    assert_eq!(w.api.webhook("instagram", &dm).await.unwrap(), 200);
    let at = now_ms();
    assert_eq!(
        w.api
            .webhook("instagram", &mentions(IG_A, at))
            .await
            .unwrap(),
        200
    );
    let dm_b = ig_dm(IG_B, "m_mention_b", "92", "hi", now_ms());
    assert_eq!(w.api.webhook("instagram", &dm_b).await.unwrap(), 200);
    let head_a = Seq(w.api.head(&w.a.id).await.unwrap());
    wait_cursor(&engine, head_a).await.unwrap();

    let mut app = app_over(engine.replica().clone());
    let rows = listed_mentions(&app);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(app.inbox.mentions(), 2);
    let caption = rows.iter().find(|m| !m.in_comment()).unwrap();
    assert_eq!(caption.media_id.as_deref(), Some("17920000000000001"));
    let comment = rows.iter().find(|m| m.in_comment()).unwrap();
    assert_eq!(comment.media_id.as_deref(), Some("17920000000000003"));
    assert_eq!(comment.comment_id.as_deref(), Some("17920000000000002"));
    // Meta's entry time, in seconds, is the mention's time.
    assert_eq!(comment.occurred_at, Millis(at / 1000 * 1000));
    assert_eq!(
        app.inbox.visible_len(),
        3,
        "the DM's thread and the two mentions"
    );

    // The same keys as threads reach it; a thread action goes nowhere.
    app.selected = app.inbox.position(0, &comment.id).unwrap();
    app.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    assert_eq!(app.open.as_ref().map(|o| &o.thread), Some(&comment.id));
    let effects = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('x'),
        KeyModifiers::NONE,
    )));
    assert!(
        effects.iter().all(|e| !matches!(e, Effect::Submit { .. })),
        "{effects:?}"
    );
    drop(app);
    engine.shutdown().await.unwrap();

    // Restarted offline: the rows come from the replica alone.
    let replica = Replica::open(&config).unwrap();
    let app = app_over(replica);
    assert_eq!(listed_mentions(&app).len(), 2, "kept across a restart");
    drop(app);

    // Tenant B's desk receives its own event and no mention of A's.
    let mut b = RawDesk::connect(&url, &w.b.agent_token, None)
        .await
        .unwrap();
    let welcome = b.hello(0).await.unwrap();
    let (events, _) = b.events_until(welcome.head).await.unwrap();
    assert!(!events.is_empty(), "B's own DM arrived");
    assert!(
        events.iter().all(|e| e.tenant.as_str() == w.b.id
            && !matches!(&e.body, EventBody::Account(a)
                if matches!(a.kind, AccountEventKind::Mention { .. }))),
        "{events:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let app_b = app_over(fixtures::replica(dir.path(), &events).unwrap());
    assert_eq!(app_b.inbox.mentions(), 0);
    assert!(listed_mentions(&app_b).is_empty());
}
