//! Master-key rotation while serving (`relay admin keys rotate`, `POST /v1/keys/rotate`)
//! and the sealed tokens on disk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::desk::RawDesk;
use harness::sim::{Sim, SimWorld, eventually};
use harness::{IG_A, IG_B, MASTER_KEY, OPERATOR_TOKEN, Tenant, WA_A, WA_B, World, relay_bin};
use protocol::{Answer, Command, Event, EventBody, SendStatus, ThreadId};
use relay::vault::MasterKey;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// Whether the relay's storage holds `needle` in the clear: any file of the sled directory,
/// or any row of any table of its PostgreSQL database.
async fn stored(w: &World, needle: &str) -> bool {
    match &w.db {
        Some(db) => harness::db_contains(db.url(), needle).await.unwrap(),
        None => files_contain(&w.options.data_dir, needle.as_bytes()),
    }
}

fn files_contain(dir: &std::path::Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                return true;
            }
        }
    }
    false
}

#[tokio::test]
async fn rotation_reseals_every_token_and_a_restart_with_only_the_new_key_opens_them() {
    // The tokens are saved once the simulator confirms them; the simulator plays no part
    // in the rotation itself.
    let SimWorld {
        mut w,
        sim: _sim,
        dir: _dir,
    } = SimWorld::start().await.unwrap();
    // The search finds what is stored (a tenant's name), so its "not found" below counts.
    assert!(
        stored(&w, "Boutique A").await,
        "the storage search finds nothing"
    );
    // No plaintext token anywhere in the data directory.
    for t in [
        "EAAG-secret-access-token-Boutique A",
        "EAAG-secret-access-token-Bakery B",
    ] {
        assert!(!stored(&w, t).await, "{t} on disk");
    }
    let refused = w
        .api
        .call(
            Method::POST,
            "/v1/keys/rotate",
            Some(&w.a.owner_token),
            Some(&json!({"key": MASTER_KEY})),
        )
        .await
        .unwrap();
    assert_eq!(refused.0, 403, "operator only");
    let bad = w
        .api
        .call(
            Method::POST,
            "/v1/keys/rotate",
            Some(OPERATOR_TOKEN),
            Some(&json!({"key": "c2hvcnQ="})),
        )
        .await
        .unwrap();
    assert_eq!(bad.0, 400);
    // The CLI makes the key, asks the relay, prints the key once.
    let (answer, new_key) = rotate_with_cli(&w.api.url).await;
    assert_eq!(answer["channels"], 4, "{answer}");
    assert_eq!(answer["resealed"], 4, "{answer}");
    assert_eq!(answer["failed"], 0, "{answer}");
    assert_ne!(answer["key_id"], answer["previous_key_id"]);
    assert!(
        !answer.to_string().contains(&new_key),
        "the answer never holds the key"
    );
    // A second rotation to the same key has nothing left to re-seal.
    let again = rotate_to(&w, &new_key).await;
    assert_eq!(again["resealed"], 0, "{again}");
    let log = std::fs::read_to_string(&w.options.log).unwrap();
    assert!(!log.contains(&new_key), "the new key is never logged");
    // Restart with only the new key: every token opens (a rotation to it re-seals nothing
    // and fails nothing), and the old key is gone from the ring.
    w.stop().await.unwrap();
    w.options
        .extra_env
        .push(("RELAY_MASTER_KEY".into(), new_key.clone()));
    w.options
        .extra_env
        .push(("RELAY_OLD_MASTER_KEYS".into(), String::new()));
    w.start_again().await.unwrap();
    let after = rotate_to(&w, &new_key).await;
    assert_eq!(
        (after["resealed"].clone(), after["failed"].clone()),
        (json!(0), json!(0)),
        "{after}"
    );
    for t in [
        "EAAG-secret-access-token-Boutique A",
        "EAAG-secret-access-token-Bakery B",
    ] {
        assert!(!stored(&w, t).await, "{t} on disk");
    }
    w.secrets.push(new_key);
    w.assert_log_has_no_secrets().unwrap();
}

/// `relay admin keys rotate` against a running relay; answers its JSON and the new key.
async fn rotate_with_cli(url: &str) -> (Value, String) {
    let out = tokio::process::Command::new(relay_bin().unwrap())
        .args(["admin", "--url", url, "--json", "keys", "rotate"])
        .env("RELAY_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let at = stdout.find("RELAY_MASTER_KEY=").unwrap();
    let key = stdout[at..]
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("RELAY_MASTER_KEY="))
        .unwrap()
        .to_owned();
    (serde_json::from_str(&stdout[..at]).unwrap(), key)
}

/// `POST /v1/keys/rotate` to `key` as the operator; answers the relay's tally.
async fn rotate_to(w: &World, key: &str) -> Value {
    w.api
        .expect(
            Method::POST,
            "/v1/keys/rotate",
            OPERATOR_TOKEN,
            Some(json!({ "key": key })),
            200,
        )
        .await
        .unwrap()
}

/// A rotation's `(channels, resealed, failed)`.
fn tally(answer: &Value) -> (Value, Value, Value) {
    (
        answer["channels"].clone(),
        answer["resealed"].clone(),
        answer["failed"].clone(),
    )
}

/// One conversation the load runs on: a tenant's channel and a customer of it.
#[derive(Clone)]
struct Lane {
    tenant: Tenant,
    account: &'static str,
    customer: &'static str,
    thread: Option<ThreadId>,
}

/// The simulator's recorded send calls (`POST …/messages`).
async fn send_calls(sim: &Sim) -> Vec<Value> {
    sim.api.send_calls().await.unwrap()
}

/// Waits until the thread has `count` replies and every one is `sent`; any failure fails
/// the test at once.
async fn all_sent(w: &World, t: &Tenant, thread: &ThreadId, count: usize) {
    let path = format!("/v1/tenants/{}/threads/{thread}/messages", t.id);
    eventually(
        &format!("{count} replies sent on {thread}"),
        WAIT,
        || async {
            let v = w
                .api
                .expect(Method::GET, &path, &t.agent_token, None, 200)
                .await?;
            let sends = v["sends"].as_array().cloned().unwrap_or_default();
            for s in &sends {
                assert_ne!(s["state"], "failed", "a send failed: {s}");
            }
            Ok((sends.len() == count && sends.iter().all(|s| s["state"] == "sent")).then_some(()))
        },
    )
    .await
    .unwrap();
}

/// A desk of `t` that replies on its lanes' threads, round after round, until `stop` is
/// set (and at least one full round is done); answers how many replies each thread got.
async fn reply_until(
    url: String,
    t: Tenant,
    threads: Vec<ThreadId>,
    stop: Arc<AtomicBool>,
) -> Vec<usize> {
    let mut desk = RawDesk::caught_up(&url, &t.agent_token).await.unwrap();
    let mut counts = vec![0; threads.len()];
    let mut n = 0u32;
    loop {
        for (i, thread) in threads.iter().enumerate() {
            n += 1;
            let (answer, _) = desk
                .command(
                    &format!("load-{n}"),
                    Command::SendReply {
                        thread: thread.clone(),
                        text: format!("reply {n}"),
                    },
                )
                .await
                .unwrap();
            assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
            counts[i] += 1;
        }
        if stop.load(Ordering::SeqCst) || n > 2000 {
            return counts;
        }
    }
}

#[tokio::test]
async fn rotation_under_load_fails_no_send_and_a_restart_with_only_the_new_key_still_sends() {
    let SimWorld {
        mut w,
        sim,
        dir: _dir,
    } = SimWorld::start().await.unwrap();
    // Both tenants, both kinds of channel: Instagram (Facebook Login for A, Instagram Login
    // for B) and WhatsApp, one customer each.
    let mut lanes = vec![
        Lane {
            tenant: w.a.clone(),
            account: IG_A,
            customer: "5300000000000901",
            thread: None,
        },
        Lane {
            tenant: w.a.clone(),
            account: WA_A,
            customer: "6281234500901",
            thread: None,
        },
        Lane {
            tenant: w.b.clone(),
            account: IG_B,
            customer: "5300000000000902",
            thread: None,
        },
        Lane {
            tenant: w.b.clone(),
            account: WA_B,
            customer: "6281234500902",
            thread: None,
        },
    ];
    for lane in &mut lanes {
        let ans = sim
            .api
            .inbound(&json!({"account": lane.account, "customer": lane.customer,
                             "type": "text", "text": "halo"}))
            .await
            .unwrap();
        assert_eq!(ans["status"], 200, "{ans}");
        lane.thread = Some(
            w.thread_of(&lane.tenant, lane.customer, WAIT)
                .await
                .unwrap(),
        );
    }
    for t in [&w.a, &w.b] {
        w.top_up(t, 5000).await.unwrap();
    }

    // Replies flow from both tenants' desks…
    let stop = Arc::new(AtomicBool::new(false));
    let drivers: Vec<_> = [&w.a, &w.b]
        .into_iter()
        .map(|t| {
            let threads = lanes
                .iter()
                .filter(|l| l.tenant.id == t.id)
                .map(|l| l.thread.clone().unwrap())
                .collect();
            tokio::spawn(reply_until(
                w.api.url.clone(),
                t.clone(),
                threads,
                stop.clone(),
            ))
        })
        .collect();
    eventually("sends under way", WAIT, || async {
        Ok((send_calls(&sim).await.len() >= 8).then_some(()))
    })
    .await
    .unwrap();
    // …while the key is rotated…
    let (answer, new_key) = rotate_with_cli(&w.api.url).await;
    let at_rotation = send_calls(&sim).await.len();
    assert_eq!(answer["channels"], 4, "{answer}");
    assert_eq!(answer["resealed"], 4, "{answer}");
    assert_eq!(answer["failed"], 0, "{answer}");
    let old_id = MasterKey::from_base64(MASTER_KEY).unwrap().id();
    let new_id = MasterKey::from_base64(&new_key).unwrap().id();
    assert_ne!(old_id, new_id);
    assert_eq!(answer["previous_key_id"], old_id.as_str(), "{answer}");
    assert_eq!(answer["key_id"], new_id.as_str(), "{answer}");
    // …and keep flowing after it.
    eventually("sends after the rotation", WAIT, || async {
        Ok((send_calls(&sim).await.len() >= at_rotation + 8).then_some(()))
    })
    .await
    .unwrap();
    stop.store(true, Ordering::SeqCst);
    let mut counts = Vec::new();
    for d in drivers {
        counts.extend(d.await.unwrap());
    }
    // Driver order: A's lanes then B's, as `lanes` lists them.
    for (lane, count) in lanes.iter().zip(&counts) {
        all_sent(&w, &lane.tenant, lane.thread.as_ref().unwrap(), *count).await;
    }
    let total: usize = counts.iter().sum();
    let calls = send_calls(&sim).await;
    assert_eq!(calls.len(), total, "one Graph call per reply, no retries");
    for c in &calls {
        assert_eq!(c["status"], 200, "{c}");
        assert!(c["token"].as_str().unwrap().starts_with("account:"), "{c}");
    }
    // No send failed at any point (not even one retried later).
    for t in [&w.a, &w.b] {
        for e in w.api.all_events(&t.id, &t.owner_token).await.unwrap() {
            let e: Event = serde_json::from_value(e).unwrap();
            if let EventBody::Outbox(o) = &e.body {
                assert!(
                    !matches!(o.status, SendStatus::Failed { .. }),
                    "a failed attempt: {o:?}"
                );
            }
        }
    }
    // Every sealed token now names the new key: rotating to it again re-seals none.
    let again = rotate_to(&w, &new_key).await;
    assert_eq!(tally(&again), (json!(4), json!(0), json!(0)), "{again}");

    // Restart with only the new key: every token is sealed under it (none needs the old
    // key, none fails), and every channel still sends.
    w.stop().await.unwrap();
    w.options
        .extra_env
        .push(("RELAY_MASTER_KEY".into(), new_key.clone()));
    w.options
        .extra_env
        .push(("RELAY_OLD_MASTER_KEYS".into(), String::new()));
    harness::sim::start_again(&mut w, &sim).await.unwrap();
    let after = rotate_to(&w, &new_key).await;
    assert_eq!(tally(&after), (json!(4), json!(0), json!(0)), "{after}");
    assert_eq!(after["key_id"], new_id.as_str());
    for (i, lane) in lanes.iter().enumerate() {
        let mut desk = RawDesk::caught_up(&w.api.url, &lane.tenant.agent_token)
            .await
            .unwrap();
        let thread = lane.thread.clone().unwrap();
        let (answer, _) = desk
            .command(
                &format!("after-restart-{i}"),
                Command::SendReply {
                    thread: thread.clone(),
                    text: "after the restart".into(),
                },
            )
            .await
            .unwrap();
        assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
        all_sent(&w, &lane.tenant, &thread, counts[i] + 1).await;
    }
    let calls = send_calls(&sim).await;
    assert_eq!(calls.len(), total + lanes.len());
    assert!(calls.iter().all(|c| c["status"] == 200));
    w.secrets.push(new_key);
    w.assert_log_has_no_secrets().unwrap();
}
