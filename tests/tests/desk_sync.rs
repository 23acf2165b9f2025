//! End-to-end desk sync over the real relay binary: tenant scoping of the live stream,
//! backlog/live ordering under concurrent webhooks, command idempotency and conflicts,
//! refusal of bad tokens and bad frames, and back-pressure from a desk that stops reading.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::desk::{BINARY, JSON, RawDesk, Refused};
use harness::{IG_A, IG_B, OPERATOR_TOKEN, World, ig_dm, now_ms};
use protocol::inbound::InboundKind;
use protocol::{
    Answer, ClientFrame, Command, CommandKey, DeskAction, Event, EventBody, Rejection, Role, Seq,
    ThreadId,
};
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeSet;
use tokio_tungstenite::tungstenite::Message;

async fn head(w: &World, tenant: &str) -> Seq {
    Seq(w.api.head(tenant).await.unwrap())
}

fn mid_of(e: &Event) -> Option<&str> {
    match &e.body {
        EventBody::Inbound(i) => match &i.kind {
            InboundKind::Message(m) => Some(&m.mid),
            _ => None,
        },
        _ => None,
    }
}

/// Posts `n` DMs for the tenant with `account`, `parallel` at a time; returns their mids.
async fn post_dms(w: &World, account: &str, tag: &str, n: usize, parallel: usize) -> Vec<String> {
    let mids: Vec<String> = (0..n).map(|i| format!("m_{tag}_{i}")).collect();
    for chunk in mids.chunks(parallel) {
        let mut tasks = Vec::new();
        for (i, mid) in chunk.iter().enumerate() {
            let api = w.api.clone();
            let body = ig_dm(
                account,
                mid,
                &format!("9{i}"),
                &format!("hello {mid} ✨"),
                now_ms(),
            );
            tasks.push(tokio::spawn(async move {
                api.webhook("instagram", &body).await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 200);
        }
    }
    mids
}

async fn thread_of(w: &World, tenant: &str) -> ThreadId {
    let v = w
        .api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{tenant}/threads"),
            OPERATOR_TOKEN,
            None,
            200,
        )
        .await
        .unwrap();
    ThreadId::new(v["threads"][0]["id"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_desk_sees_exactly_its_tenants_events_in_order() {
    let w = World::new().await.unwrap();
    let url = w.relay.as_ref().unwrap().url.clone();
    let (a, b) = (w.a.clone(), w.b.clone());
    // Three desks on A (both subprotocols, both roles), two on B.
    let mut desks = Vec::new();
    for (tenant, name, token, proto, role) in [
        (&a, "Boutique A", &a.agent_token, Some(BINARY), Role::Agent),
        (&a, "Boutique A", &a.owner_token, None, Role::Owner),
        (&a, "Boutique A", &a.agent_token, Some(JSON), Role::Agent),
        (&b, "Bakery B", &b.agent_token, Some(BINARY), Role::Agent),
        (&b, "Bakery B", &b.owner_token, Some(JSON), Role::Owner),
    ] {
        let mut desk = RawDesk::connect(&url, token, proto).await.unwrap();
        let welcome = desk.hello(0).await.unwrap();
        assert_eq!(welcome.tenant.as_str(), tenant.id);
        assert_eq!((welcome.role, welcome.head), (role, Seq(0)));
        // The header: the partner's brand and the tenant's own name.
        assert_eq!(
            (welcome.brand.as_str(), welcome.tenant_name.as_str()),
            ("Agency Desk", name)
        );
        desks.push((tenant.id.clone(), desk));
    }
    // Webhooks for both tenants race each other; a late desk joins in the middle, so its
    // backlog and the live stream meet while events keep arriving.
    let (wa, wb) = (&w, &w);
    let first = tokio::join!(
        post_dms(wa, IG_A, "a1", 60, 8),
        post_dms(wb, IG_B, "b1", 60, 8)
    );
    let mut late = RawDesk::connect(&url, &a.agent_token, Some(JSON))
        .await
        .unwrap();
    let (second, late_welcome) = tokio::join!(
        async {
            tokio::join!(
                post_dms(wa, IG_A, "a2", 60, 8),
                post_dms(wb, IG_B, "b2", 60, 8)
            )
        },
        late.hello(0)
    );
    assert!(late_welcome.unwrap().head >= Seq(60));
    desks.push((a.id.clone(), late));
    let expected_a: BTreeSet<String> = first.0.into_iter().chain(second.0).collect();
    let expected_b: BTreeSet<String> = first.1.into_iter().chain(second.1).collect();
    let (head_a, head_b) = (head(&w, &a.id).await, head(&w, &b.id).await);
    assert_eq!((head_a, head_b), (Seq(120), Seq(120)));
    for (tenant, mut desk) in desks {
        let (want_head, want_mids) = if tenant == a.id {
            (head_a, &expected_a)
        } else {
            (head_b, &expected_b)
        };
        let (events, _) = desk.events_until(want_head).await.unwrap();
        let seqs: Vec<u64> = events.iter().map(|e| e.seq.0).collect();
        assert_eq!(
            seqs,
            (1..=want_head.0).collect::<Vec<_>>(),
            "gap-free, in order, once"
        );
        assert!(
            events.iter().all(|e| e.tenant.as_str() == tenant),
            "only its own tenant"
        );
        let mids: BTreeSet<String> = events
            .iter()
            .filter_map(mid_of)
            .map(str::to_owned)
            .collect();
        assert_eq!(&mids, want_mids);
    }
    w.assert_log_has_no_secrets().unwrap();
}

#[tokio::test]
async fn commands_apply_once_and_a_stale_edit_gets_the_current_draft() {
    let w = World::new().await.unwrap();
    let url = w.relay.as_ref().unwrap().url.clone();
    post_dms(&w, IG_A, "c", 1, 1).await;
    let thread = thread_of(&w, &w.a.id).await;
    let mut one = RawDesk::connect(&url, &w.a.agent_token, Some(BINARY))
        .await
        .unwrap();
    let mut two = RawDesk::connect(&url, &w.a.owner_token, Some(JSON))
        .await
        .unwrap();
    one.hello(1).await.unwrap();
    two.hello(1).await.unwrap();
    let edit = |base, text: &str| Command::EditDraft {
        thread: thread.clone(),
        base_version: base,
        text: text.into(),
    };
    // Both start from "no draft": the first wins, the second learns the current text.
    let (first, _) = one.command("k-edit-1", edit(0, "Hi there")).await.unwrap();
    assert_eq!(first, Answer::Applied { seq: Seq(2) });
    let (second, _) = two.command("k-edit-2", edit(0, "Hello!")).await.unwrap();
    let Answer::Rejected {
        rejection: Rejection::Conflict {
            current: Some(current),
        },
    } = second
    else {
        panic!("expected a conflict, got {second:?}")
    };
    assert_eq!((current.version, current.text.as_str()), (1, "Hi there"));
    // Replaying a key returns the first answer and records nothing new.
    let (again, _) = one.command("k-edit-1", edit(0, "Hi there")).await.unwrap();
    assert_eq!(again, first);
    // A rejection is not stored (it changed nothing): the same command is decided again,
    // refused again, and the log does not grow.
    let (again, _) = two.command("k-edit-2", edit(0, "Hello!")).await.unwrap();
    assert!(matches!(
        again,
        Answer::Rejected {
            rejection: Rejection::Conflict { .. }
        }
    ));
    assert_eq!(head(&w, &w.a.id).await, Seq(2));
    // Keys are per agent: the same key from another agent is a new command.
    let (other, _) = two.command("k-edit-1", edit(1, "Hello!")).await.unwrap();
    assert_eq!(other, Answer::Applied { seq: Seq(3) });
    // Racing edits on the same base: exactly one wins.
    let (r1, r2) = tokio::join!(
        one.command("k-race-1", edit(2, "from one")),
        two.command("k-race-2", edit(2, "from two"))
    );
    let answers = [r1.unwrap().0, r2.unwrap().0];
    let wins = answers
        .iter()
        .filter(|a| matches!(a, Answer::Applied { .. }))
        .count();
    assert_eq!(wins, 1, "{answers:?}");
    // Approving the current version queues exactly that text; the draft is gone after.
    let threads = w
        .api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{}/threads", w.a.id),
            &w.a.agent_token,
            None,
            200,
        )
        .await
        .unwrap();
    let draft = &threads["threads"][0]["draft"];
    let version = u32::try_from(draft["version"].as_u64().unwrap()).unwrap();
    let text = draft["text"].as_str().unwrap().to_owned();
    assert_eq!(version, 3);
    let approve = Command::ApproveDraft {
        thread: thread.clone(),
        version,
    };
    // Sending costs a credit: with none, the approval is refused and the draft stays.
    let (broke, _) = one.command("k-approve-0", approve.clone()).await.unwrap();
    assert_eq!(
        broke,
        Answer::Rejected {
            rejection: Rejection::NoCredits
        }
    );
    w.api
        .expect(
            Method::POST,
            &format!("/v1/tenants/{}/credits", w.a.id),
            OPERATOR_TOKEN,
            Some(serde_json::json!({"add": 1})),
            200,
        )
        .await
        .unwrap();
    let (approved, _) = one.command("k-approve", approve).await.unwrap();
    let Answer::Applied { seq } = approved else {
        panic!("approve: {approved:?}")
    };
    let (events, _) = two.events_until(seq).await.unwrap();
    let queued = events.iter().find(|e| e.seq == seq).unwrap();
    let EventBody::Desk(desk) = &queued.body else {
        panic!("{queued:?}")
    };
    assert_eq!(
        desk.action,
        DeskAction::ReplyQueued {
            text,
            from_draft: Some(3),
            content: None,
            reply_to: None,
        }
    );
    assert_eq!(desk.key, Some(CommandKey::new("k-approve")));
    let threads = w
        .api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{}/threads", w.a.id),
            &w.a.agent_token,
            None,
            200,
        )
        .await
        .unwrap();
    assert!(threads["threads"][0]["draft"].is_null());
    assert_eq!(threads["threads"][0]["counts"]["replies_queued"], 1);
    // Claims: the agent holds the thread; the owner may take it over.
    let claim = Command::Claim {
        thread: thread.clone(),
    };
    let (c1, _) = one.command("k-claim", claim.clone()).await.unwrap();
    let Answer::Applied { seq: claimed } = c1 else {
        panic!("claim: {c1:?}")
    };
    let mut three = RawDesk::connect(&url, &w.a.agent_token, None)
        .await
        .unwrap();
    // The claim's own seq, not the admin API's head: the outbox may be appending the
    // approved reply's attempts meanwhile, and the log's newest entry can be ahead of what
    // has been made durable and published to desks.
    three.hello(claimed.0).await.unwrap();
    let (c2, _) = two.command("k-claim-owner", claim).await.unwrap();
    assert!(
        matches!(c2, Answer::Applied { .. }),
        "owners may reassign: {c2:?}"
    );
    // Another tenant's thread does not exist for this desk.
    post_dms(&w, IG_B, "other", 1, 1).await;
    let b_thread = thread_of(&w, &w.b.id).await;
    let (foreign, _) = one
        .command("k-foreign", Command::Resolve { thread: b_thread })
        .await
        .unwrap();
    assert!(
        matches!(&foreign, Answer::Rejected { rejection: Rejection::Invalid { reason } } if reason.contains("no such thread")),
        "{foreign:?}"
    );
    let b_events = w.api.all_events(&w.b.id, OPERATOR_TOKEN).await.unwrap();
    assert_eq!(b_events.len(), 1, "nothing was written to tenant B");
}

#[tokio::test]
async fn bad_tokens_and_bad_frames_are_refused_clearly_and_others_keep_being_served() {
    let w = World::with_env(vec![("RELAY_DESK_MAX_FRAME_BYTES".into(), "65536".into())])
        .await
        .unwrap();
    let url = w.relay.as_ref().unwrap().url.clone();
    let mut healthy = RawDesk::connect(&url, &w.a.agent_token, Some(BINARY))
        .await
        .unwrap();
    healthy.hello(0).await.unwrap();

    // Before the upgrade: plain HTTP statuses.
    let refused = |token: Option<&'static str>, proto: Option<&'static str>| {
        let url = url.clone();
        async move {
            match RawDesk::try_connect(&url, token, proto).await.unwrap() {
                Ok(_) => panic!("upgrade accepted for {token:?} {proto:?}"),
                Err(r) => r,
            }
        }
    };
    assert_eq!(refused(None, None).await, Refused::Http(401));
    assert_eq!(
        refused(Some("cdt_not-a-real-token"), None).await,
        Refused::Http(401)
    );
    assert_eq!(
        refused(Some(OPERATOR_TOKEN), None).await,
        Refused::Http(403)
    );
    let a_token: &'static str = Box::leak(w.a.agent_token.clone().into_boxed_str());
    assert_eq!(
        refused(Some(a_token), Some("chatdesk.v9.xml")).await,
        Refused::Http(400)
    );

    // After the upgrade: close codes with reasons.
    async fn closes_with(
        url: &str,
        token: &str,
        proto: &str,
        frames: Vec<Message>,
    ) -> (u16, String) {
        let mut desk = RawDesk::connect(url, token, Some(proto)).await.unwrap();
        for f in frames {
            desk.send_raw(f).await.unwrap();
        }
        desk.closed().await.unwrap()
    }
    let b_id = w.b.id.clone();
    let forged_hello = format!(r#"{{"type":"hello","cursor":0,"tenant":"{b_id}"}}"#);
    let (code, reason) = closes_with(
        &url,
        a_token,
        JSON,
        vec![Message::Text(forged_hello.into())],
    )
    .await;
    assert_eq!(code, 1007, "{reason}");
    assert!(reason.contains("tenant"), "{reason}");
    let forged_command = format!(
        r#"{{"type":"command","key":"k","command":{{"resolve":{{"thread":"th_x","tenant":"{b_id}"}}}}}}"#
    );
    let (code, reason) = closes_with(
        &url,
        a_token,
        JSON,
        vec![
            Message::Text(r#"{"type":"hello","cursor":0}"#.into()),
            Message::Text(forged_command.into()),
        ],
    )
    .await;
    assert_eq!(code, 1007, "{reason}");
    let (code, reason) = closes_with(
        &url,
        a_token,
        BINARY,
        vec![Message::Binary(vec![0xff, 0x00, 0x13, 0x37].into())],
    )
    .await;
    assert_eq!(code, 1007, "garbage bytes: {reason}");
    let (code, reason) =
        closes_with(&url, a_token, BINARY, vec![Message::Text("hello".into())]).await;
    assert_eq!(code, 1003, "{reason}");
    let (code, reason) = closes_with(
        &url,
        a_token,
        BINARY,
        vec![Message::Binary(vec![0u8; 70_000].into())],
    )
    .await;
    assert_eq!(code, 1009, "oversized frame: {reason}");
    let command_first = protocol::codec::encode_binary(&ClientFrame::Command {
        key: CommandKey::new("k"),
        command: Command::Claim {
            thread: ThreadId::new("th_x"),
        },
    })
    .unwrap();
    let (code, reason) = closes_with(
        &url,
        a_token,
        BINARY,
        vec![Message::Binary(command_first.into())],
    )
    .await;
    assert_eq!(
        (code, reason.as_str()),
        (1002, "the first frame must be hello")
    );
    let (code, reason) = closes_with(
        &url,
        a_token,
        JSON,
        vec![Message::Text(
            r#"{"type":"hello","cursor":0,"protocol":99}"#.into(),
        )],
    )
    .await;
    assert_eq!(code, 4002, "{reason}");
    let (code, reason) = closes_with(
        &url,
        a_token,
        JSON,
        vec![Message::Text(r#"{"type":"hello","cursor":5000}"#.into())],
    )
    .await;
    assert_eq!(code, 1008, "a cursor ahead of the log: {reason}");

    // A revoked token: its live session is closed, and it cannot connect again.
    let agent = w
        .api
        .expect(
            Method::POST,
            &format!("/v1/tenants/{}/agents", w.a.id),
            &w.a.owner_token,
            Some(json!({"name": "temp", "role": "agent"})),
            201,
        )
        .await
        .unwrap();
    let token = agent["token"].as_str().unwrap().to_owned();
    let mut doomed = RawDesk::connect(&url, &token, None).await.unwrap();
    doomed.hello(0).await.unwrap();
    w.api
        .expect(
            Method::DELETE,
            &format!(
                "/v1/tenants/{}/agents/{}",
                w.a.id,
                agent["id"].as_str().unwrap()
            ),
            &w.a.owner_token,
            None,
            200,
        )
        .await
        .unwrap();
    assert_eq!(
        doomed.closed().await.unwrap(),
        (1008, "token revoked".to_owned())
    );
    let token: &'static str = Box::leak(token.into_boxed_str());
    assert_eq!(refused(Some(token), None).await, Refused::Http(401));
    // Tenant B's owner cannot revoke A's agents (answered as not found).
    w.api
        .expect(
            Method::DELETE,
            &format!(
                "/v1/tenants/{}/agents/{}",
                w.a.id,
                agent["id"].as_str().unwrap()
            ),
            &w.b.owner_token,
            None,
            404,
        )
        .await
        .unwrap();

    // Through all of that, the healthy desk kept its session and still gets events.
    post_dms(&w, IG_A, "after", 3, 3).await;
    let (events, _) = healthy.events_until(Seq(3)).await.unwrap();
    assert_eq!(events.len(), 3);
    w.assert_log_has_no_secrets().unwrap();
}

/// The value of one metric sample (`name` includes labels, e.g. `x{reason="slow"}`).
async fn metric(w: &World, name: &str) -> f64 {
    w.metric(name).await.unwrap()
}

/// Waits (bounded) until a metric reaches `at_least`.
async fn wait_metric(w: &World, name: &str, at_least: f64) -> f64 {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let v = metric(w, name).await;
        if v >= at_least || tokio::time::Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Big DMs fill a stuck desk's socket buffers quickly.
async fn post_big_dms(w: &World, n: usize) -> std::time::Duration {
    let filler = "x".repeat(8 * 1024);
    let start = std::time::Instant::now();
    let mids: Vec<String> = (0..n).map(|i| format!("big_{i}")).collect();
    for chunk in mids.chunks(8) {
        let mut tasks = Vec::new();
        for mid in chunk {
            let api = w.api.clone();
            let body = ig_dm(IG_A, mid, "77", &format!("{mid} {filler}"), now_ms());
            tasks.push(tokio::spawn(async move {
                api.webhook("instagram", &body).await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 200);
        }
    }
    start.elapsed()
}

const BIG: usize = 2000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_desk_that_stops_reading_slows_neither_ingest_nor_a_healthy_desk() {
    // A long send timeout and idle limit keep the stuck desk connected through the whole
    // run, however slowly a loaded machine ingests (it answers no pings while it does not
    // read), so ingest finishing proves it never waited for that desk.
    let w = World::with_env(vec![
        ("RELAY_DESK_SEND_TIMEOUT_MS".into(), "600000".into()),
        ("RELAY_DESK_IDLE_MS".into(), "600000".into()),
    ])
    .await
    .unwrap();
    let url = w.relay.as_ref().unwrap().url.clone();
    let mut stuck = RawDesk::connect(&url, &w.a.agent_token, None)
        .await
        .unwrap();
    stuck.hello(0).await.unwrap();
    let mut healthy = RawDesk::connect(&url, &w.a.owner_token, None)
        .await
        .unwrap();
    healthy.hello(0).await.unwrap();
    let reader = tokio::spawn(async move {
        let (events, _) = healthy.events_until(Seq(BIG as u64)).await.unwrap();
        (healthy, events.iter().map(|e| e.seq.0).collect::<Vec<_>>())
    });
    let took = post_big_dms(&w, BIG).await;
    let (_healthy, seqs) = reader.await.unwrap();
    assert_eq!(seqs, (1..=BIG as u64).collect::<Vec<_>>());
    // The stuck desk is still connected and its session fell out of the live ring: the
    // relay kept nothing per event for it beyond the shared ring.
    assert_eq!(metric(&w, "relay_desk_sessions").await, 2.0);
    assert!(
        metric(&w, "relay_desk_catch_ups_total{cause=\"lagged\"}").await == 0.0,
        "the stuck session cannot notice lag while its send is blocked"
    );
    println!(
        "{BIG} webhooks of 8 KiB acknowledged in {took:?} with a stuck desk connected ({:.0}/s)",
        BIG as f64 / took.as_secs_f64()
    );
    // When it reads again, it catches up from storage: everything, in order, once.
    let (events, _) = stuck.events_until(Seq(BIG as u64)).await.unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq.0).collect();
    assert_eq!(seqs, (1..=BIG as u64).collect::<Vec<_>>());
    assert!(metric(&w, "relay_desk_catch_ups_total{cause=\"lagged\"}").await >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_desk_stuck_past_the_send_timeout_is_dropped_and_catches_up_from_its_cursor() {
    let w = World::with_env(vec![("RELAY_DESK_SEND_TIMEOUT_MS".into(), "300".into())])
        .await
        .unwrap();
    let url = w.relay.as_ref().unwrap().url.clone();
    let mut stuck = RawDesk::connect(&url, &w.a.agent_token, Some(BINARY))
        .await
        .unwrap();
    stuck.hello(0).await.unwrap();
    post_big_dms(&w, BIG).await;
    let slow = wait_metric(&w, "relay_desk_closed_total{reason=\"slow\"}", 1.0).await;
    assert_eq!(slow, 1.0, "the stuck desk was disconnected");
    assert_eq!(metric(&w, "relay_desk_sessions").await, 0.0);
    // What was already in flight still arrives; then the socket ends.
    let mut seen = Vec::new();
    while let Ok(frame) = stuck.next().await {
        if let protocol::ServerFrame::Event { event } = frame {
            seen.push(event.seq.0);
        }
    }
    assert!(seen.len() < BIG, "the desk was cut off before the end");
    let cursor = seen.last().copied().unwrap_or(0);
    let mut again = RawDesk::connect(&url, &w.a.agent_token, Some(BINARY))
        .await
        .unwrap();
    assert_eq!(again.hello(cursor).await.unwrap().head, Seq(BIG as u64));
    let (rest, _) = again.events_until(Seq(BIG as u64)).await.unwrap();
    seen.extend(rest.iter().map(|e| e.seq.0));
    assert_eq!(seen, (1..=BIG as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_relay_pings_and_closes_a_silent_desk() {
    let w = World::with_env(vec![
        ("RELAY_DESK_PING_MS".into(), "100".into()),
        ("RELAY_DESK_IDLE_MS".into(), "600".into()),
    ])
    .await
    .unwrap();
    let url = w.relay.as_ref().unwrap().url.clone();
    // Reading answers pings (tungstenite pongs automatically), so this desk stays.
    let mut alive = RawDesk::connect(&url, &w.a.agent_token, None)
        .await
        .unwrap();
    alive.hello(0).await.unwrap();
    let pings = alive.count_pings(8).await.unwrap();
    assert_eq!(
        pings, 8,
        "pinged regularly and never closed while answering"
    );
    // A desk that answers nothing, not even pings, is closed as idle.
    let code = harness::desk::silent_desk_close_code(&url, &w.a.agent_token)
        .await
        .unwrap();
    assert_eq!(code, 4001);
    assert!(wait_metric(&w, "relay_desk_closed_total{reason=\"idle\"}", 1.0).await >= 1.0);
}
