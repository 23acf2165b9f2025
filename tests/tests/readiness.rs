//! `/readyz` against the real relay binary (issue 21): each check it reports — storage,
//! keys, outbox workers — is made to fail, and the answer is 503 with that check named
//! `failing` and the others `ok`; where the cause can go away, the answer is 200 again.
//!
//! Storage fails for real: the relay's PostgreSQL database is made read-only under it, or
//! (sled) its write-ahead log's files are made immutable while the relay holds them open.
//! An outbox worker's panic and a master key gone bad have no real input that causes them,
//! so those come from the relay's test-only fault points (`RELAY_TEST_FAULT_AT`). The full
//! disk is `faults.rs`'s.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::sim::SimWorld;
use harness::{MASTER_KEY, OPERATOR_TOKEN, WA_A, World, eventually};
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// `GET /readyz`: the status and the JSON.
async fn readyz(w: &World) -> (u16, Value) {
    let response = w
        .api
        .http
        .get(format!("{}/readyz", w.api.url))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Polls `/readyz` until `done` holds for its answer; answers it.
async fn readyz_until(w: &World, what: &str, done: impl Fn(u16, &Value) -> bool) -> Value {
    eventually(what, WAIT, || async {
        let (status, body) = readyz(w).await;
        Ok(done(status, &body).then_some(body))
    })
    .await
    .unwrap()
}

/// Every check but `failing` says `ok`.
#[track_caller]
fn only_failing(body: &Value, failing: &str) {
    assert_eq!(body["ready"], false, "{body}");
    for check in ["storage", "keys"] {
        let want = if check == failing { "failing" } else { "ok" };
        assert_eq!(body[check], want, "{check}: {body}");
    }
    let outbox = if failing == "outbox" { "failing" } else { "ok" };
    assert_eq!(body["outbox"]["state"], outbox, "{body}");
    assert_eq!(body["disk"]["state"], "ok", "{body}");
}

/// Posts a signed WhatsApp text to tenant A's number; answers the status and the JSON.
async fn post_text(w: &World, id: &str, text: &str) -> (u16, Value) {
    let body = harness::wa_text(WA_A, id, "16505551234", text);
    let response = w.api.webhook_response("whatsapp", body).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// How many of tenant A's events carry Meta's message id `id`.
async fn stored(w: &World, id: &str) -> usize {
    let events = w.api.all_events(&w.a.id, OPERATOR_TOKEN).await.unwrap();
    let needle = format!("\"{id}\"");
    events
        .iter()
        .filter(|e| e.to_string().contains(&needle))
        .count()
}

/// Runs SQL as the server's administrator, outside the relay's database.
async fn admin_sql(sql: &str) {
    let url = relay::store::pg::testdb::admin_url();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap();
}

/// Ends every connection to `db` (the relay's pool and listener), so the relay reconnects
/// under the database's current settings.
async fn terminate_connections(db: &str) {
    admin_sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = '{db}' AND pid <> pg_backend_pid()"
    ))
    .await;
}

/// What makes the relay's storage refuse writes, for real, and undoes it.
enum Refusal {
    /// PostgreSQL: the relay's database made read-only, its connections cut, so the pool
    /// reconnects into read-only sessions (as after a fail-over onto a standby).
    ReadOnlyDatabase(String),
    /// Sled: the write-ahead log's segment files made immutable (`chattr +i`), so the
    /// relay's writes through the handles it holds open fail (`EPERM`), as a file system
    /// that turned read-only under it would make them.
    ImmutableLog(Vec<std::path::PathBuf>),
}

impl Refusal {
    /// Answers `None` (and says why) when this machine cannot make storage refuse writes.
    async fn apply(w: &World) -> Option<Refusal> {
        if let Some(db) = &w.db {
            let db = db.name().to_owned();
            admin_sql(&format!(
                "ALTER DATABASE {db} SET default_transaction_read_only = on"
            ))
            .await;
            terminate_connections(&db).await;
            return Some(Refusal::ReadOnlyDatabase(db));
        }
        let segments = wal_segments(&w.options.data_dir);
        assert!(!segments.is_empty(), "no write-ahead log segment found");
        let mut made = Vec::new();
        for path in segments {
            if let Err(why) = chattr("+i", &path) {
                // Needs CAP_LINUX_IMMUTABLE (root) and a file system with the flag (ext4,
                // xfs, btrfs). Dropped, the refusal undoes what was done.
                drop(Refusal::ImmutableLog(made));
                eprintln!("cannot make the log immutable here ({why}); skipped");
                return None;
            }
            made.push(path);
        }
        Some(Refusal::ImmutableLog(made))
    }

    /// Undoes the refusal: storage takes writes again.
    async fn undo(mut self) {
        match &mut self {
            Refusal::ReadOnlyDatabase(db) => {
                admin_sql(&format!(
                    "ALTER DATABASE {db} RESET default_transaction_read_only"
                ))
                .await;
                // New sessions take writes; the read-only ones are cut.
                terminate_connections(db).await;
            }
            Refusal::ImmutableLog(paths) => {
                for path in std::mem::take(paths) {
                    chattr("-i", &path).unwrap();
                }
            }
        }
    }
}

impl Drop for Refusal {
    /// A failed test leaves no immutable file behind (its directory could not be removed).
    fn drop(&mut self) {
        if let Refusal::ImmutableLog(paths) = self {
            for path in paths.iter() {
                let _ = chattr("-i", path);
            }
        }
    }
}

fn chattr(flag: &str, path: &std::path::Path) -> Result<(), String> {
    let out = std::process::Command::new("chattr")
        .arg(flag)
        .arg(path)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// The write-ahead log's segment files under the sled data directory.
fn wal_segments(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "wal") {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn storage_that_refuses_writes_fails_readiness_and_acknowledges_nothing_until_it_recovers() {
    let w = World::new().await.unwrap();
    let (status, body) = readyz(&w).await;
    assert_eq!(
        (status, &body["ready"]),
        (200, &Value::Bool(true)),
        "{body}"
    );

    let Some(refusal) = Refusal::apply(&w).await else {
        return;
    };
    let body = readyz_until(&w, "storage failing", |s, b| {
        s == 503 && b["storage"] == "failing"
    })
    .await;
    only_failing(&body, "storage");
    // The answer names the check, never the reason: no SQL or OS error, URL, path or
    // secret.
    let text = body.to_string();
    let data_dir = w.options.data_dir.display().to_string();
    let mut leaks = vec![
        "read-only",
        "transaction",
        "postgres",
        "INSERT",
        "not permitted",
        "cannot write",
        data_dir.as_str(),
        MASTER_KEY,
        OPERATOR_TOKEN,
    ];
    if let Some(db) = &w.db {
        leaks.extend([db.name(), db.url()]);
    }
    for leak in leaks {
        assert!(!text.contains(leak), "`{leak}` in {text}");
    }
    // The log has the reason, for the operator.
    let log = std::fs::read_to_string(&w.options.log).unwrap();
    assert!(
        log.contains("readiness: storage is not writable"),
        "no log line for the failing probe"
    );

    // A webhook meanwhile is not acknowledged, so Meta keeps it and retries.
    let (status, answer) = post_text(&w, "wamid.refused", "are you open?").await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "storage_unavailable", "{answer}");
    assert_eq!(stored(&w, "wamid.refused").await, 0);

    refusal.undo().await;
    let body = readyz_until(&w, "ready again", |s, _| s == 200).await;
    assert_eq!(body["storage"], "ok", "{body}");
    assert_eq!(body["ready"], true, "{body}");

    // Meta's retries: the first is stored, a second one is a duplicate; one event.
    for _ in 0..2 {
        let (status, answer) = post_text(&w, "wamid.refused", "are you open?").await;
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(stored(&w, "wamid.refused").await, 1);
    w.api.audit_ok(&w.a.id, OPERATOR_TOKEN).await.unwrap();
    w.assert_log_has_no_secrets().unwrap();
}

/// How many times the relay logged a worker's panic.
fn panics_logged(w: &World) -> usize {
    std::fs::read_to_string(&w.options.log)
        .unwrap()
        .matches("outbox worker panicked; restarting it")
        .count()
}

#[tokio::test]
async fn an_outbox_worker_that_died_is_restarted_and_ready_again_once_it_runs() {
    let w = World::with_env(vec![(
        "RELAY_TEST_FAULT_AT".into(),
        "outbox-worker-panic-once".into(),
    )])
    .await
    .unwrap();
    let (status, body) = readyz(&w).await;
    assert_eq!(status, 200, "{body}");

    // A top-up starts tenant A's worker, whose first round panics.
    w.top_up(&w.a, 5).await.unwrap();
    let body = readyz_until(&w, "a dead worker", |s, b| {
        s == 503 && b["outbox"]["dead"] == 1
    })
    .await;
    only_failing(&body, "outbox");
    assert_eq!(body["outbox"]["running"], 0, "{body}");
    assert_eq!(body["outbox"]["restarts"], 0, "{body}");
    assert_eq!(panics_logged(&w), 1);

    // The restart waits a second of relay time; then the worker comes round its loop.
    w.advance_clock(relay::outbox::RESTART_BASE_MS)
        .await
        .unwrap();
    let body = readyz_until(&w, "the worker restarted", |s, _| s == 200).await;
    assert_eq!(body["outbox"]["state"], "ok", "{body}");
    assert_eq!(body["outbox"]["running"], 1, "{body}");
    assert_eq!(body["outbox"]["dead"], 0, "{body}");
    assert_eq!(body["outbox"]["restarts"], 1, "{body}");
    assert_eq!(panics_logged(&w), 1);
}

#[tokio::test]
async fn an_outbox_worker_that_keeps_dying_stays_not_ready_across_its_restarts() {
    let w = World::with_env(vec![(
        "RELAY_TEST_FAULT_AT".into(),
        "outbox-worker-panic".into(),
    )])
    .await
    .unwrap();
    w.top_up(&w.a, 5).await.unwrap();
    readyz_until(&w, "a dead worker", |s, b| {
        s == 503 && b["outbox"]["dead"] == 1
    })
    .await;

    // Each restart dies again; the back-off doubles (1 s, 2 s, 4 s of relay time), and
    // at no point in between is the relay ready.
    let mut wait = relay::outbox::RESTART_BASE_MS;
    for restarts in 1usize..=3 {
        w.advance_clock(wait).await.unwrap();
        eventually("the restarted worker to die again", WAIT, || async {
            let (status, body) = readyz(&w).await;
            assert_eq!(status, 503, "ready while the worker keeps dying: {body}");
            only_failing(&body, "outbox");
            assert_eq!(body["outbox"]["dead"], 1, "{body}");
            Ok(
                (body["outbox"]["restarts"] == restarts && panics_logged(&w) == restarts + 1)
                    .then_some(()),
            )
        })
        .await
        .unwrap();
        wait *= 2;
    }
    // A kick (another top-up) starts no second worker beside the dying one.
    w.top_up(&w.a, 1).await.unwrap();
    let (status, body) = readyz(&w).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["outbox"]["dead"], 1, "{body}");
    assert_eq!(body["outbox"]["running"], 0, "{body}");
}

#[tokio::test]
async fn a_master_key_whose_seals_do_not_open_fails_keys_until_the_relay_has_a_good_one() {
    let mut w = World::with_env(vec![(
        "RELAY_TEST_FAULT_AT".into(),
        "keyring-seal-damaged".into(),
    )])
    .await
    .unwrap();
    let (status, body) = readyz(&w).await;
    assert_eq!(status, 503, "{body}");
    only_failing(&body, "keys");
    assert!(!body.to_string().contains(MASTER_KEY), "{body}");

    // The key in memory cannot heal; a relay started with a good one is ready.
    w.stop().await.unwrap();
    w.options
        .extra_env
        .retain(|(k, _)| k != "RELAY_TEST_FAULT_AT");
    w.start_again().await.unwrap();
    let (status, body) = readyz(&w).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["keys"], "ok", "{body}");
    w.assert_log_has_no_secrets().unwrap();
}

/// A key that is not the World's (`MASTER_KEY` is 32 bytes of 7): base64 of 32 bytes of 9.
const OTHER_KEY: &str = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=";

/// The tenant's channels as the operator lists them.
async fn channels_of(w: &World, tenant: &str) -> Vec<Value> {
    let list = w
        .api
        .expect(
            reqwest::Method::GET,
            &format!("/v1/tenants/{tenant}/channels"),
            OPERATOR_TOKEN,
            None,
            200,
        )
        .await
        .unwrap();
    list["channels"].as_array().unwrap().clone()
}

/// Restarts the relay with `RELAY_MASTER_KEY` and `RELAY_OLD_MASTER_KEYS` set as given
/// (`None`: the World's own key, no old ones).
async fn restart_with_keys(w: &mut World, key: Option<&str>, old: &str) {
    w.stop().await.unwrap();
    w.options
        .extra_env
        .retain(|(k, _)| k != "RELAY_MASTER_KEY" && k != "RELAY_OLD_MASTER_KEYS");
    if let Some(key) = key {
        w.options
            .extra_env
            .push(("RELAY_MASTER_KEY".into(), key.into()));
    }
    w.options
        .extra_env
        .push(("RELAY_OLD_MASTER_KEYS".into(), old.into()));
    w.start_again().await.unwrap();
}

#[tokio::test]
async fn a_master_key_that_does_not_open_the_stored_tokens_fails_keys_until_the_right_one_is_back()
{
    // Four channels (two per tenant) with tokens the simulator vouched for, sealed under
    // the World's key.
    let SimWorld {
        mut w,
        sim,
        dir: _dir,
    } = SimWorld::start().await.unwrap();
    // The relay sampled at start, before the channels existed; a minute on it samples again.
    let (status, body) = readyz(&w).await;
    assert_eq!((status, &body["keys_sampled"]), (200, &0.into()), "{body}");
    w.advance_clock(relay::key_check::RESAMPLE_MS)
        .await
        .unwrap();
    let (status, body) = readyz(&w).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["keys"], "ok", "{body}");
    assert_eq!(body["keys_sampled"], 4, "{body}");
    assert_eq!(body["keys_reason"], Value::Null, "{body}");

    // The wrong key: it seals and opens its own values, but none of the stored tokens.
    restart_with_keys(&mut w, Some(OTHER_KEY), "").await;
    let (status, body) = readyz(&w).await;
    assert_eq!(status, 503, "{body}");
    only_failing(&body, "keys");
    assert_eq!(
        body["keys_reason"],
        "4 of 4 stored channel tokens do not open with the configured master keys",
        "{body}"
    );
    // The answer names no tenant, channel, key or token.
    let text = body.to_string();
    let mut leaks = vec![
        w.a.id.clone(),
        w.b.id.clone(),
        MASTER_KEY.to_owned(),
        OTHER_KEY.to_owned(),
        "EAAG".to_owned(),
        "v1.".to_owned(),
    ];
    let mut ids = Vec::new();
    for t in [&w.a.id, &w.b.id] {
        for c in channels_of(&w, t).await {
            ids.push(c["id"].as_str().unwrap().to_owned());
        }
    }
    leaks.extend(ids.iter().cloned());
    for leak in &leaks {
        assert!(!text.contains(leak.as_str()), "`{leak}` in {text}");
    }
    // The log names the channels, for the operator (tokens never: checked below).
    let log = std::fs::read_to_string(&w.options.log).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("stored channel tokens do not open"))
        .expect("no log line naming the channels whose tokens do not open");
    for id in &ids {
        assert!(line.contains(id.as_str()), "{id} not in {line}");
    }

    // A rotation in progress: the new key current, the old one still on the ring.
    restart_with_keys(&mut w, Some(OTHER_KEY), MASTER_KEY).await;
    let (status, body) = readyz(&w).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["keys"], "ok", "{body}");
    assert_eq!(body["keys_sampled"], 4, "{body}");

    // The right key again.
    restart_with_keys(&mut w, None, "").await;
    let (status, body) = readyz(&w).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["keys"], "ok", "{body}");
    w.assert_log_has_no_secrets().unwrap();
    drop(sim);
}

#[tokio::test]
async fn reconnecting_under_the_configured_key_turns_keys_ok_at_the_next_sample() {
    let SimWorld {
        mut w,
        sim,
        dir: _dir,
    } = SimWorld::start().await.unwrap();
    restart_with_keys(&mut w, Some(OTHER_KEY), "").await;
    sim.api.set_relay(&w.api.url).await.unwrap();
    let (status, body) = readyz(&w).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["keys"], "failing", "{body}");

    // Every channel disconnected (its unopenable token dropped), and tenant A's WhatsApp
    // number connected again with a token the relay seals under the key it now has.
    for t in [w.a.id.clone(), w.b.id.clone()] {
        for c in channels_of(&w, &t).await {
            let id = c["id"].as_str().unwrap();
            w.api
                .expect(
                    reqwest::Method::DELETE,
                    &format!("/v1/tenants/{t}/channels/{id}"),
                    OPERATOR_TOKEN,
                    None,
                    200,
                )
                .await
                .unwrap();
        }
    }
    w.api
        .expect(
            reqwest::Method::POST,
            &format!("/v1/tenants/{}/channels", w.a.id),
            OPERATOR_TOKEN,
            Some(
                serde_json::json!({"kind": "whatsapp", "phone_number_id": WA_A,
                "waba_id": harness::sim::WABA_A,
                "access_token": "EAAG-secret-access-token-Boutique A"}),
            ),
            201,
        )
        .await
        .unwrap();
    // The sample is a minute's: until it is re-taken the answer stands.
    let (status, body) = readyz(&w).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["keys_sampled"], 4, "{body}");

    w.advance_clock(relay::key_check::RESAMPLE_MS)
        .await
        .unwrap();
    let (status, body) = readyz(&w).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["keys"], "ok", "{body}");
    assert_eq!(body["keys_sampled"], 1, "{body}");
    assert_eq!(body["keys_reason"], Value::Null, "{body}");
}
