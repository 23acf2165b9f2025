//! Crash safety: under sustained concurrent signed load the relay is killed with SIGKILL
//! several times; after each restart every webhook that had been answered 200 must be in
//! the log exactly once, and the sequence must stay gap-free. The write-ahead log runs with
//! tiny segments so the kills also hit checkpoints.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::{IG_A, OPERATOR_TOKEN, World};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WRITERS: usize = 16;
const KILLS: usize = 4;
/// Acknowledged webhooks to wait for before each kill, so every round kills under load.
const ACKS_PER_ROUND: u64 = 150;

fn body(mid: &str, customer: usize) -> Vec<u8> {
    format!(
        r#"{{"object":"instagram","entry":[{{"id":"{IG_A}","time":1750000000000,"messaging":[{{"sender":{{"id":"92{customer:014}"}},"recipient":{{"id":"{IG_A}"}},"timestamp":1750000000000,"message":{{"mid":"{mid}","text":"crash test \u00e9 {mid}"}}}}]}}]}}"#
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_webhook_survives_kill_minus_nine_exactly_once() {
    // Small log segments, so checkpoints (sled flush, segment deletion) run all the time and
    // some kills land in the middle of one.
    let mut w = World::with_env(vec![("RELAY_WAL_SEGMENT_BYTES".into(), "65536".into())])
        .await
        .unwrap();
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    // Acknowledged count; the kill loop waits on it instead of polling.
    let (acks, mut acks_seen) = tokio::sync::watch::channel(0u64);
    let acks = Arc::new(acks);
    let next = Arc::new(AtomicU64::new(0));
    let url: Arc<Mutex<String>> = Arc::new(Mutex::new(w.api.url.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (acked, acks, next, url, stop) = (
            acked.clone(),
            acks.clone(),
            next.clone(),
            url.clone(),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            while !stop.load(Ordering::SeqCst) {
                let n = next.fetch_add(1, Ordering::SeqCst);
                let mid = format!("crash-{n}");
                let payload = body(&mid, writer);
                // Like Meta: retry the same delivery until it is acknowledged.
                loop {
                    let base = url.lock().unwrap().clone();
                    let sent = http
                        .post(format!("{base}/webhooks/instagram"))
                        .header(
                            "x-hub-signature-256",
                            harness::sign(&payload, harness::APP_SECRET),
                        )
                        .body(payload.clone())
                        .send()
                        .await;
                    if matches!(&sent, Ok(r) if r.status().as_u16() == 200) {
                        acked.lock().unwrap().insert(mid.clone());
                        acks.send_modify(|n| *n += 1);
                        break;
                    }
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    // Pacing between retries while the relay restarts, as Meta backs off.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }));
    }
    for round in 0..KILLS {
        let target = *acks_seen.borrow() + ACKS_PER_ROUND;
        acks_seen.wait_for(|n| *n >= target).await.unwrap();
        w.relay.take().unwrap().kill9().await.unwrap();
        w.start_again().await.unwrap();
        *url.lock().unwrap() = w.api.url.clone();
        eprintln!(
            "round {round}: killed after {} acknowledged webhooks",
            *acks_seen.borrow()
        );
    }
    let target = *acks_seen.borrow() + ACKS_PER_ROUND;
    acks_seen.wait_for(|n| *n >= target).await.unwrap();
    stop.store(true, Ordering::SeqCst);
    for t in writers {
        t.await.unwrap();
    }

    let events = w.api.all_events(&w.a.id, OPERATOR_TOKEN).await.unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(
            e["seq"].as_u64().unwrap(),
            i as u64 + 1,
            "sequence has a gap or reorder"
        );
        let mid = e["body"]["Inbound"]["kind"]["Message"]["mid"]
            .as_str()
            .unwrap()
            .to_owned();
        *seen.entry(mid).or_default() += 1;
    }
    let acked = acked.lock().unwrap();
    assert!(acked.len() as u64 >= ACKS_PER_ROUND * (KILLS as u64 + 1));
    for mid in acked.iter() {
        assert_eq!(
            seen.get(mid),
            Some(&1),
            "{mid} was acknowledged but is stored {:?} times",
            seen.get(mid)
        );
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "stored twice: {dupes:?}");
    eprintln!(
        "{} acknowledged, {} stored, {} kills",
        acked.len(),
        events.len(),
        KILLS
    );
}
