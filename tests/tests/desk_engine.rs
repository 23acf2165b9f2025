//! The desk's sync engine against the real relay binary: catching up after an absence, and
//! a desk process killed between sending a command and receiving its answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use desk_tui::{ConnectionState, Replica, SyncConfig, SyncHandle, Token, Update};
use harness::desk::wait_cursor;
use harness::proxy::Proxy;
use harness::{IG_A, OPERATOR_TOKEN, World, ig_dm, now_ms};
use protocol::inbound::InboundKind;
use protocol::{Command, EventBody, Seq, ThreadId};
use reqwest::Method;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(20);

fn engine_config(relay: &str, token: &str, data: &Path) -> SyncConfig {
    let mut config = SyncConfig::new(relay, Token::new(token));
    config.data_dir = Some(data.to_owned());
    config
}

async fn wait_state(engine: &SyncHandle, want: impl Fn(&ConnectionState) -> bool) {
    let mut rx = engine.watch_state();
    tokio::time::timeout(WAIT, rx.wait_for(|s| want(s)))
        .await
        .expect("state in time")
        .expect("engine alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_desk_offline_while_500_events_arrive_catches_up_with_no_gap_and_no_duplicate() {
    let w = World::new().await.unwrap();
    let url = w.relay.as_ref().unwrap().url.clone();
    let data = w.dir.path().join("desk");
    let first = ig_dm(IG_A, "m_first", "91", "before", now_ms());
    assert_eq!(w.api.webhook("instagram", &first).await.unwrap(), 200);
    let config = engine_config(&url, &w.a.agent_token, &data);
    let engine = SyncHandle::spawn(config.clone(), Replica::open(&config).unwrap()).unwrap();
    wait_state(&engine, |s| *s == ConnectionState::Live).await;
    wait_cursor(&engine, Seq(1)).await.unwrap();
    engine.shutdown().await.unwrap();

    let mut mids = BTreeSet::from(["m_first".to_owned()]);
    for chunk in (0..500).collect::<Vec<_>>().chunks(10) {
        let mut tasks = Vec::new();
        for i in chunk {
            let mid = format!("m_off_{i}");
            mids.insert(mid.clone());
            let api = w.api.clone();
            let body = ig_dm(IG_A, &mid, &format!("8{}", i % 7), "while away", now_ms());
            tasks.push(tokio::spawn(async move {
                api.webhook("instagram", &body).await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 200);
        }
    }

    // Offline, the replica still reads as it was left.
    let replica = Replica::open(&config).unwrap();
    assert_eq!(replica.cursor().unwrap(), Seq(1));
    assert_eq!(replica.events_after(Seq(0), 10).unwrap().len(), 1);
    let engine = SyncHandle::spawn(config, replica).unwrap();
    wait_cursor(&engine, Seq(501)).await.unwrap();
    wait_state(&engine, |s| *s == ConnectionState::Live).await;
    let events = engine.replica().events_after(Seq(0), 10_000).unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq.0).collect();
    assert_eq!(seqs, (1..=501).collect::<Vec<_>>());
    let got: BTreeSet<String> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Inbound(i) => match &i.kind {
                InboundKind::Message(m) => Some(m.mid.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(got, mids);
    engine.shutdown().await.unwrap();
}

/// A `desk-probe` process and the lines it printed.
struct Probe {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl Probe {
    fn spawn(relay: &str, token: &str, data: &Path) -> Probe {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_desk-probe"))
            .args(["--relay", relay, "--data"])
            .arg(data)
            .env("DESK_TOKEN", token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = out.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Probe {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    async fn wait_for(&mut self, prefix: &str) -> String {
        tokio::time::timeout(WAIT, async {
            loop {
                let line = self.lines.recv().await.expect("probe exited");
                self.seen.push(line.clone());
                if line.starts_with(prefix) {
                    return line;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no `{prefix}` line; saw {:?}", self.seen))
    }

    async fn submit(&mut self, command: &Command) -> String {
        let line = serde_json::to_string(command).unwrap() + "\n";
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        let queued = self.wait_for("queued ").await;
        queued["queued ".len()..].to_owned()
    }
}

async fn desk_events_with_key(w: &World, tenant: &str, key: &str) -> Vec<serde_json::Value> {
    w.api
        .all_events(tenant, OPERATOR_TOKEN)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.to_string().contains(key))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_desk_killed_before_its_answer_resends_on_restart_and_the_relay_applies_once() {
    let w = World::new().await.unwrap();
    let url = w.relay.as_ref().unwrap().url.clone();
    let dm = ig_dm(IG_A, "m_kill", "93", "is this in stock?", now_ms());
    assert_eq!(w.api.webhook("instagram", &dm).await.unwrap(), 200);
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
    let thread = ThreadId::new(threads["threads"][0]["id"].as_str().unwrap());
    let relay_addr = url.trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(relay_addr).await.unwrap();
    let data = w.dir.path().join("probe");

    // The desk's answers are cut off after it went live: the command reaches the relay,
    // the answer never reaches the desk.
    let mut probe = Probe::spawn(&format!("http://{}", proxy.addr), &w.a.agent_token, &data);
    probe.wait_for("state live").await;
    proxy.cut_downstream();
    let command = Command::EditDraft {
        thread,
        base_version: 0,
        text: "Yes, size M is in stock.".into(),
    };
    let key = probe.submit(&command).await;
    harness::eventually("the relay applying the command", WAIT, || async {
        Ok((!desk_events_with_key(&w, &w.a.id, &key).await.is_empty()).then_some(()))
    })
    .await
    .unwrap();
    probe.child.kill().await.unwrap();
    assert!(
        !probe
            .seen
            .iter()
            .any(|l| l.starts_with(&format!("answer {key}"))),
        "the answer must not have arrived before the kill: {:?}",
        probe.seen
    );

    // Restarted (the replica belongs to the relay URL it was made for, so through the same
    // proxy, now forwarding again), it replays the same key and gets the first answer.
    proxy.restore_downstream();
    let mut again = Probe::spawn(&format!("http://{}", proxy.addr), &w.a.agent_token, &data);
    let answer = again.wait_for(&format!("answer {key}")).await;
    assert!(answer.contains(r#""applied""#), "{answer}");
    let stored = desk_events_with_key(&w, &w.a.id, &key).await;
    assert_eq!(stored.len(), 1, "applied exactly once: {stored:?}");
    let seq = stored[0]["seq"].as_u64().unwrap();
    assert!(
        answer.contains(&format!(r#""seq":{seq}"#)),
        "{answer} vs seq {seq}"
    );
    let applied = format!("cursor {seq}");
    if !again.seen.contains(&applied) {
        again.wait_for(&applied).await;
    }
}

/// Tenant A with one WhatsApp message per text, and an engine of its agent live and caught
/// up: (its configuration, the engine).
async fn live_engine_of_a(w: &World, texts: &[&str]) -> (SyncConfig, SyncHandle) {
    let url = w.relay.as_ref().unwrap().url.clone();
    for (i, text) in texts.iter().enumerate() {
        let body = harness::wa_text(harness::WA_A, &format!("wamid.e{i}"), "16505551234", text);
        assert_eq!(w.api.webhook("whatsapp", &body).await.unwrap(), 200);
    }
    let head = Seq(w.api.head(&w.a.id).await.unwrap());
    let config = engine_config(&url, &w.a.agent_token, &w.dir.path().join("desk"));
    let engine = SyncHandle::spawn(config.clone(), Replica::open(&config).unwrap()).unwrap();
    wait_state(&engine, |s| *s == ConnectionState::Live).await;
    wait_cursor(&engine, head).await.unwrap();
    (config, engine)
}

async fn delete_tenant_a(w: &World) {
    w.api
        .expect(
            Method::DELETE,
            &format!("/v1/tenants/{}", w.a.id),
            OPERATOR_TOKEN,
            None,
            200,
        )
        .await
        .unwrap();
}

/// The engine stopped for good saying the tenant was deleted, and its replica and outbox
/// hold nothing.
async fn assert_erased(engine: &SyncHandle) {
    wait_state(
        engine,
        |s| matches!(s, ConnectionState::Refused { reason } if reason.contains("deleted")),
    )
    .await;
    let replica = engine.replica();
    assert_eq!(replica.cursor().unwrap(), Seq(0));
    assert!(replica.summaries().unwrap().is_empty());
    assert!(replica.events_after(Seq(0), 10).unwrap().is_empty());
    assert!(replica.outbox().pending().unwrap().is_empty());
    assert!(replica.identity().unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_tenant_is_erased_from_the_connected_desks_replica() {
    let w = World::new().await.unwrap();
    let (_, engine) = live_engine_of_a(&w, &["hi", "hi", "hi"]).await;
    assert!(!engine.replica().summaries().unwrap().is_empty());

    let mut updates = engine.subscribe();
    delete_tenant_a(&w).await;
    // The relay's close code makes the engine erase its copy and stop for good.
    tokio::time::timeout(WAIT, async {
        while !matches!(updates.recv().await, Ok(Update::Erased)) {}
    })
    .await
    .expect("erased in time");
    assert_erased(&engine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_desk_offline_when_its_tenant_is_deleted_erases_its_copy_at_its_next_start() {
    let w = World::new().await.unwrap();
    let (config, engine) = live_engine_of_a(&w, &["hi"]).await;
    let thread = engine.replica().summaries().unwrap()[0].id.clone();
    engine.shutdown().await.unwrap();

    // Offline: a command waits in the outbox, then the tenant is deleted.
    {
        let replica = Replica::open(&config).unwrap();
        replica
            .outbox()
            .push(Command::EditDraft {
                thread,
                base_version: 0,
                text: "queued while offline".into(),
            })
            .unwrap();
        assert_eq!(replica.outbox().pending().unwrap().len(), 1);
    }
    delete_tenant_a(&w).await;

    // The next start learns it from the relay (410 to the upgrade) and keeps nothing.
    let engine = SyncHandle::spawn(config.clone(), Replica::open(&config).unwrap()).unwrap();
    assert_erased(&engine).await;
}
