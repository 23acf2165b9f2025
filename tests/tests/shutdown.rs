//! One shutdown, end to end (`relay/src/shutdown.rs`, `Relay::serve`): SIGTERM to a real
//! relay while signed webhooks pour in and the outbox is sending (each Graph send held
//! 300 ms by the simulator). The relay must exit within `RELAY_SHUTDOWN_SECS`, close the
//! desk with "going away", keep every webhook it acknowledged, and — once started again —
//! send every queued reply exactly once (the simulator's call log).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::desk::RawDesk;
use harness::sim::{SimWorld, eventually};
use harness::{IG_A, OPERATOR_TOKEN, ig_dm, now_ms};
use protocol::frame::close;
use protocol::{Answer, Command};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);
const BOUND_SECS: u64 = 4;
const WRITERS: usize = 8;
const REPLIES: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_keeps_what_it_acknowledged_sends_once_and_exits_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimWorld::simulator(dir.path()).await.unwrap();
    let env = vec![("RELAY_SHUTDOWN_SECS".into(), BOUND_SECS.to_string())];
    let mut fx = SimWorld::relay_for(sim, dir, env).await.unwrap();
    let t = fx.w.a.clone();

    // Customers with open threads, and a reply queued to each (durable once answered).
    let mut threads = Vec::new();
    for i in 0..REPLIES {
        let customer = format!("53000000009{i:05}");
        fx.sim
            .api
            .customer_writes(IG_A, &customer, "hello")
            .await
            .unwrap();
        threads.push(fx.w.thread_of(&t, &customer, WAIT).await.unwrap());
    }
    fx.w.top_up(&t, i64::try_from(REPLIES).unwrap())
        .await
        .unwrap();
    fx.sim
        .api
        .fault(&json!({"kind": "slow", "ms": 300, "path": "messages"}))
        .await
        .unwrap();
    let mut desk = RawDesk::caught_up(&fx.w.api.url, &t.agent_token)
        .await
        .unwrap();
    for (i, thread) in threads.iter().enumerate() {
        let command = Command::SendReply {
            thread: thread.clone(),
            text: format!("reply number {i}"),
        };
        let (answer, _) = desk.command(&format!("k{i}"), command).await.unwrap();
        assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    }

    // Signed webhooks from several writers; a 200 means "durable", so it must survive.
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let (acks, mut acks_seen) = tokio::sync::watch::channel(0u64);
    let acks = Arc::new(acks);
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (acked, acks, next, stop) = (acked.clone(), acks.clone(), next.clone(), stop.clone());
        let api = fx.w.api.clone();
        writers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let mid = format!("term-{}", next.fetch_add(1, Ordering::SeqCst));
                let customer = format!("54{writer:014}");
                let body = ig_dm(IG_A, &mid, &customer, "are you open?", now_ms());
                let sent = api.webhook("instagram", &body).await;
                match sent {
                    Ok(200) => {
                        acked.lock().unwrap().insert(mid);
                        acks.send_modify(|n| *n += 1);
                    }
                    // Refused or cut off: not acknowledged, so Meta would deliver it again.
                    Ok(_) => {}
                    Err(_) => {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        // The relay is gone; nothing more to acknowledge until it is back.
                        tokio::task::yield_now().await;
                    }
                }
            }
        }));
    }

    // Under load, with a send in flight: SIGTERM.
    acks_seen.wait_for(|n| *n >= 100).await.unwrap();
    eventually("a send to be under way", WAIT, || async {
        Ok((!fx.sim.api.send_calls().await?.is_empty()).then_some(()))
    })
    .await
    .unwrap();
    let closing = tokio::spawn(async move { desk.closed().await });
    let relay = fx.w.relay.take().unwrap();
    let started = Instant::now();
    relay.stop().await.unwrap();
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    let (code, reason) = closing.await.unwrap().unwrap();
    assert_eq!(code, close::GOING_AWAY, "{reason}");
    let sends_before = fx.sim.api.send_calls().await.unwrap().len();
    let acknowledged = acked.lock().unwrap().len();
    eprintln!(
        "SIGTERM to exit: {} ms (bound {BOUND_SECS} s); {acknowledged} webhooks acknowledged; \
         {sends_before} sends before the stop",
        took.as_millis(),
    );
    assert!(
        took < Duration::from_secs(BOUND_SECS),
        "exit took {took:?}, over RELAY_SHUTDOWN_SECS={BOUND_SECS}"
    );

    // Started again: the outbox finishes the queue.
    fx.start_again().await.unwrap();
    let calls = eventually("every reply sent", WAIT, || async {
        let calls = fx.sim.api.send_calls().await?;
        let texts: HashSet<String> = calls
            .iter()
            .filter_map(|c| c["body"]["message"]["text"].as_str().map(str::to_owned))
            .collect();
        Ok((texts.len() == REPLIES).then_some(calls))
    })
    .await
    .unwrap();
    let mut per_text: HashMap<String, usize> = HashMap::new();
    for c in &calls {
        if let Some(text) = c["body"]["message"]["text"].as_str() {
            *per_text.entry(text.to_owned()).or_default() += 1;
        }
    }
    let twice: Vec<_> = per_text.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");

    let events = fx.w.api.all_events(&t.id, OPERATOR_TOKEN).await.unwrap();
    let mut stored: HashMap<String, usize> = HashMap::new();
    for e in &events {
        if let Some(mid) = e["body"]["Inbound"]["kind"]["Message"]["mid"].as_str() {
            *stored.entry(mid.to_owned()).or_default() += 1;
        }
    }
    for mid in acked.lock().unwrap().iter() {
        assert_eq!(stored.get(mid), Some(&1), "{mid} was acknowledged");
    }
}
