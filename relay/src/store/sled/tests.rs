#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::principal::{Access, Principal};
use crate::store::{ChannelKind, MessageContent, SendState};
use protocol::inbound::{InboundKind, MessageBody, Reaction, ReactionAction};
use protocol::{Channel, Customer, CustomerId, Direction, EventBody, InboundEvent};

fn scope(t: &str) -> TenantScope {
    Principal::Operator
        .scope(&TenantId::new(t), Access::Manage)
        .unwrap()
}

fn open(dir: &Path) -> SledStore {
    SledStore::open(dir, Box::new(|_, _| {})).unwrap()
}

fn text(tenant: &str, mid: &str, body: &str, at: i64) -> NewEvent {
    let tenant = TenantId::new(tenant);
    let channel = ChannelId::new("ch_1");
    NewEvent {
        dedup_key: format!("m:{mid}"),
        received_at: Millis(at + 5),
        body: EventBody::Inbound(InboundEvent {
            channel_id: channel.clone(),
            channel: Channel::InstagramDm,
            thread: crate::ids::thread(&tenant, &channel, "dm:igsid-1"),
            customer: Customer::new(CustomerId::Igsid("igsid-1".into())),
            direction: Direction::Inbound,
            occurred_at: Millis(at),
            standby: false,
            kind: InboundKind::Message(MessageBody {
                mid: mid.into(),
                text: Some(body.into()),
                ..MessageBody::default()
            }),
        }),
    }
}

fn seqs(out: &[Appended]) -> Vec<String> {
    out.iter()
        .map(|a| match a {
            Appended::Stored(e) => format!("stored {}", e.seq),
            Appended::Duplicate(s) => format!("dup {s}"),
        })
        .collect()
}

#[tokio::test]
async fn sequences_are_gap_free_per_tenant_and_duplicates_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b) = (scope("tn_a"), scope("tn_b"));
    let out = store
        .append(
            &a,
            vec![
                text("tn_a", "m1", "hi", 1000),
                text("tn_a", "m1", "hi", 1000),
            ],
        )
        .await
        .unwrap();
    assert_eq!(seqs(&out), ["stored 1", "dup 1"]);
    let out = store
        .append(&b, vec![text("tn_b", "m1", "hello", 1000)])
        .await
        .unwrap();
    assert_eq!(
        seqs(&out),
        ["stored 1"],
        "tenant b has its own sequence and dedup space"
    );
    let out = store
        .append(
            &a,
            vec![
                text("tn_a", "m2", "more", 2000),
                text("tn_a", "m1", "hi", 1000),
            ],
        )
        .await
        .unwrap();
    assert_eq!(seqs(&out), ["stored 2", "dup 1"]);
    assert_eq!(store.head(&a).await.unwrap(), Seq(2));
    let events = store.events_after(&a, Seq(0), 10).await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq.0).collect::<Vec<_>>(), [1, 2]);
    assert!(events.iter().all(|e| e.tenant.as_str() == "tn_a"));
    assert_eq!(store.events_after(&a, Seq(1), 10).await.unwrap().len(), 1);
    assert_eq!(store.events_after(&b, Seq(0), 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn views_follow_meta_time_and_later_updates() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = scope("tn_a");
    // Arrives out of order: the later-written message has the earlier Meta time.
    store
        .append(&a, vec![text("tn_a", "m2", "second", 2000)])
        .await
        .unwrap();
    store
        .append(&a, vec![text("tn_a", "m1", "first", 1000)])
        .await
        .unwrap();
    let mut reaction = text("tn_a", "x", "", 3000);
    reaction.dedup_key = "rx:m1".into();
    if let EventBody::Inbound(e) = &mut reaction.body {
        e.kind = InboundKind::Reaction(Reaction {
            mid: "m1".into(),
            action: ReactionAction::React,
            reaction: Some("love".into()),
            emoji: Some("❤️".into()),
        });
    }
    store.append(&a, vec![reaction]).await.unwrap();
    let threads = store.threads(&a).await.unwrap();
    assert_eq!(threads.len(), 1);
    let t = &threads[0];
    assert_eq!((t.messages, t.inbound, t.unanswered), (2, 2, 2));
    assert_eq!(t.last_inbound_at, Some(Millis(2000)));
    assert_eq!(t.last_preview.as_deref(), Some("second"));
    let messages = store.messages(&a, &t.id).await.unwrap();
    let texts: Vec<_> = messages
        .iter()
        .map(|m| match &m.content {
            MessageContent::Message { text, .. } => text.clone().unwrap_or_default(),
            _ => String::new(),
        })
        .collect();
    assert_eq!(texts, ["first", "second"]);
    assert_eq!(messages[0].reactions, ["❤️"]);
    assert!(store.threads(&scope("tn_b")).await.unwrap().is_empty());
    assert!(
        store
            .messages(&scope("tn_b"), &t.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn synced_data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store
            .append(&scope("tn_a"), vec![text("tn_a", "m1", "kept", 1000)])
            .await
            .unwrap();
        store.sync().await.unwrap();
        store.close().await.unwrap();
    }
    let store = open(dir.path());
    assert_eq!(store.head(&scope("tn_a")).await.unwrap(), Seq(1));
    let out = store
        .append(&scope("tn_a"), vec![text("tn_a", "m1", "kept", 1000)])
        .await
        .unwrap();
    assert_eq!(seqs(&out), ["dup 1"]);
}

#[tokio::test]
async fn channel_routes_are_unique_and_resolve_to_their_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let channel = |id: &str, account: &str| ChannelRecord {
        id: ChannelId::new(id),
        tenant: TenantId::new("ignored"),
        kind: ChannelKind::Instagram,
        account_id: account.into(),
        page_id: Some(format!("9{account}")),
        username: None,
        waba_id: None,
        sealed_token: None,
        created_at: Millis(0),
        token_expires_at: None,
        login: Some("manual".into()),
        app_user_id: None,
        profile_picture_url: None,
        followers_count: None,
        needs_reconnect: None,
    };
    store
        .insert_channel(&scope("tn_a"), channel("ch_a", "111"))
        .await
        .unwrap();
    let err = store
        .insert_channel(&scope("tn_b"), channel("ch_b", "111"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)));
    let found = store
        .channel_by_route(&RouteKey::Instagram("9111".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id.as_str(), found.tenant.as_str()), ("ch_a", "tn_a"));
    assert!(
        store
            .channel_by_route(&RouteKey::WhatsApp("111".into()))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.channels(&scope("tn_a")).await.unwrap().len(), 1);
    assert!(store.channels(&scope("tn_b")).await.unwrap().is_empty());

    // Routing answers are cached; a change of the channel must still show at once.
    let route = |key: &str| {
        let store = &store;
        let key = RouteKey::Instagram(key.into());
        async move { store.channel_by_route(&key).await.unwrap() }
    };
    assert!(route("222").await.is_none());
    assert!(route("111").await.is_some());
    let changed = store
        .modify_channel(
            &scope("tn_a"),
            &ChannelId::new("ch_a"),
            Box::new(|old| {
                Some(ChannelRecord {
                    account_id: "222".into(),
                    page_id: None,
                    username: Some("renamed".into()),
                    ..old.clone()
                })
            }),
        )
        .await
        .unwrap();
    assert!(changed.is_some_and(|m| m.changed));
    assert!(route("111").await.is_none());
    assert!(route("9111").await.is_none());
    let now = route("222").await.unwrap();
    assert_eq!(now.username.as_deref(), Some("renamed"));
}

#[tokio::test]
async fn checkpoints_delete_sealed_segments_and_reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    {
        // One-byte segments: every sync seals a segment and queues a checkpoint.
        let store = SledStore::open_with(dir.path(), Box::new(|_, _| {}), 1).unwrap();
        for i in 0..20 {
            store
                .append(&scope("tn_a"), vec![text("tn_a", &format!("m{i}"), "x", i)])
                .await
                .unwrap();
            store.sync().await.unwrap();
        }
        store.close().await.unwrap();
    }
    // The final checkpoint left only the fresh, empty segment.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("wal"))
        .unwrap()
        .map(|e| std::fs::metadata(e.unwrap().path()).unwrap().len())
        .collect();
    assert_eq!(left, [0]);
    let store = open(dir.path());
    assert_eq!(store.head(&scope("tn_a")).await.unwrap(), Seq(20));
    let out = store
        .append(&scope("tn_a"), vec![text("tn_a", "m7", "x", 7)])
        .await
        .unwrap();
    assert_eq!(seqs(&out), ["dup 8"]);
}

#[tokio::test]
async fn a_send_takes_and_restores_credits_and_becomes_one_outbound_message() {
    use protocol::window::ReplyKind;
    use protocol::{DeskAction, DeskEvent, FailureClass, OutboxEvent, SendFailure, SendStatus};
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let s = scope("tn_a");
    store
        .append(&s, vec![text("tn_a", "m1", "hi", 1000)])
        .await
        .unwrap();
    let thread = crate::ids::thread(
        &TenantId::new("tn_a"),
        &ChannelId::new("ch_1"),
        "dm:igsid-1",
    );
    let (balance, topped) = store.add_credits(&s, 2, Millis(1500)).await.unwrap();
    assert_eq!(balance, 2);
    assert_eq!(
        topped.body,
        EventBody::Credits(protocol::CreditsEvent {
            added: 2,
            balance: 2
        })
    );
    assert_eq!(topped.seq, Seq(2), "a top-up is an event of the log");
    let event = |key: &str, body: EventBody| NewEvent {
        dedup_key: key.into(),
        received_at: Millis(2000),
        body,
    };
    let desk = |action| {
        EventBody::Desk(DeskEvent {
            channel_id: ChannelId::new("ch_1"),
            thread: thread.clone(),
            agent: AgentId::new("ag_1"),
            key: None,
            action,
        })
    };
    let outbox = |status| {
        EventBody::Outbox(OutboxEvent {
            channel_id: ChannelId::new("ch_1"),
            thread: thread.clone(),
            send: Seq(3),
            status,
        })
    };
    let queued = DeskAction::ReplyQueued {
        text: "On its way".into(),
        from_draft: None,
        content: None,
        reply_to: None,
    };
    store
        .append(&s, vec![event("q", desk(queued))])
        .await
        .unwrap();
    let sending = |attempt| SendStatus::Sending {
        attempt,
        kind: ReplyKind::Standard,
    };
    store
        .append(&s, vec![event("s1", outbox(sending(1)))])
        .await
        .unwrap();
    assert_eq!(store.credits(&s).await.unwrap(), 1);
    let failure = SendStatus::Failed {
        failure: SendFailure {
            class: FailureClass::Permanent,
            code: Some(100),
            subcode: None,
            message: "refused".into(),
        },
        retry_at: None,
    };
    store
        .append(&s, vec![event("f1", outbox(failure))])
        .await
        .unwrap();
    assert_eq!(
        store.credits(&s).await.unwrap(),
        2,
        "a failure gives the credit back"
    );
    let sends = store.sends_of(&s, &thread).await.unwrap();
    assert_eq!(store.unfinished_sends(&s).await.unwrap().len(), 1);
    assert_eq!((sends.len(), sends[0].state), (1, SendState::Failed));
    store
        .append(
            &s,
            vec![event("r", desk(DeskAction::SendRetried { send: Seq(3) }))],
        )
        .await
        .unwrap();
    assert_eq!(
        store.sends_of(&s, &thread).await.unwrap()[0].state,
        SendState::Queued
    );
    let sent = SendStatus::Sent {
        provider_id: "mid.out".into(),
        kind: ReplyKind::Standard,
        reconciled: false,
    };
    store
        .append(
            &s,
            vec![event("s2", outbox(sending(2))), event("ok", outbox(sent))],
        )
        .await
        .unwrap();
    assert_eq!(store.credits(&s).await.unwrap(), 1);
    assert!(
        store.unfinished_sends(&s).await.unwrap().is_empty(),
        "a sent reply leaves the outbox's work list"
    );
    assert_eq!(store.sends_of(&s, &thread).await.unwrap().len(), 1);
    let view = store.thread(&s, &thread).await.unwrap().unwrap();
    assert_eq!((view.replies_queued, view.unanswered), (0, 0));
    // Meta's echo of the same message adds nothing.
    let mut echo = text("tn_a", "mid.out", "On its way", 2500);
    if let EventBody::Inbound(e) = &mut echo.body {
        e.direction = Direction::Outbound;
    }
    store.append(&s, vec![echo]).await.unwrap();
    let messages = store.messages(&s, &thread).await.unwrap();
    let outbound: Vec<_> = messages
        .iter()
        .filter(|m| m.direction == Direction::Outbound)
        .map(|m| m.mid.as_str())
        .collect();
    assert_eq!(outbound, ["mid.out"]);
}

#[tokio::test]
async fn tampering_with_a_stored_audit_record_is_named_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let s = scope("tn_a");
    for i in 0..4 {
        store
            .append(&s, vec![text("tn_a", &format!("m{i}"), "private words", i)])
            .await
            .unwrap();
    }
    let verdict = store.verify_audit(&s).await.unwrap();
    assert_eq!(
        (verdict.ok, verdict.records, verdict.first_bad),
        (true, 4, None)
    );
    // Rewrite record 2 in place, as someone with disk access would.
    let key = Prefix::of(&TenantId::new("tn_a")).event(Seq(2));
    let mut logged: Logged = dec(&store.data.get(&key).unwrap().unwrap()).unwrap();
    logged.audit.detail = "signature=forged".into();
    let bytes = enc(&LoggedRef {
        event: &logged.event,
        audit: &logged.audit,
    })
    .unwrap();
    store.data.insert(&key, bytes).unwrap();
    let verdict = store.verify_audit(&s).await.unwrap();
    assert_eq!((verdict.ok, verdict.first_bad), (false, Some(2)));
    // Other tenants' chains are their own.
    assert!(store.verify_audit(&scope("tn_b")).await.unwrap().ok);
}

/// Rewrites the stored `Logged` value of `seq` in place, as someone with disk access would.
fn rewrite(store: &SledStore, seq: u64, change: impl FnOnce(&mut Logged)) {
    let key = Prefix::of(&TenantId::new("tn_a")).event(Seq(seq));
    let mut logged: Logged = dec(&store.data.get(&key).unwrap().unwrap()).unwrap();
    change(&mut logged);
    let bytes = enc(&LoggedRef {
        event: &logged.event,
        audit: &logged.audit,
    })
    .unwrap();
    store.data.insert(&key, bytes).unwrap();
}

#[tokio::test]
async fn tampering_with_stored_events_is_named_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let s = scope("tn_a");
    for i in 0..5 {
        store
            .append(&s, vec![text("tn_a", &format!("m{i}"), "private words", i)])
            .await
            .unwrap();
    }
    assert!(store.verify_audit(&s).await.unwrap().ok);
    let verdict = |store: &SledStore| {
        let v = futures_util::FutureExt::now_or_never(store.verify_audit(&s))
            .unwrap()
            .unwrap();
        (v.first_bad, v.problem.unwrap_or_default())
    };

    // A changed body: the text of event 2, its record untouched.
    let key2 = Prefix::of(&TenantId::new("tn_a")).event(Seq(2));
    let original = store.data.get(&key2).unwrap().unwrap();
    rewrite(&store, 2, |l| {
        if let EventBody::Inbound(i) = &mut l.event.body
            && let InboundKind::Message(m) = &mut i.kind
        {
            m.text = Some("words never said".into());
        }
    });
    let (bad, problem) = verdict(&store);
    assert_eq!(bad, Some(2), "{problem}");
    assert!(problem.contains("text digest"), "{problem}");
    store.data.insert(&key2, original.clone()).unwrap();
    assert!(store.verify_audit(&s).await.unwrap().ok);

    // A missing event: event 3's key removed.
    let key3 = Prefix::of(&TenantId::new("tn_a")).event(Seq(3));
    let third = store.data.remove(&key3).unwrap().unwrap();
    let (bad, problem) = verdict(&store);
    assert_eq!(bad, Some(3), "{problem}");
    assert!(problem.contains("event 3 is missing"), "{problem}");

    // Reordered: event 3 stored under key 2 and event 2 under key 3.
    store.data.insert(&key2, third).unwrap();
    store.data.insert(&key3, original).unwrap();
    let (bad, problem) = verdict(&store);
    assert_eq!(bad, Some(2), "{problem}");
    assert!(problem.contains("out of order"), "{problem}");
}

#[tokio::test]
async fn once_records_are_taken_once_with_their_sealed_value_and_old_records_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let record = OnceRecord {
        tenant: TenantId::new("tn_a"),
        purpose: "choice".into(),
        kind: "facebook".into(),
        expires_at: Millis(5000),
        sealed: Some("v1.k.sealed".into()),
    };
    store.put_once("k1", record.clone()).await.unwrap();
    assert_eq!(store.take_once("k1").await.unwrap(), Some(record));
    assert_eq!(store.take_once("k1").await.unwrap(), None);

    // A record written before `sealed` existed (its bincode layout has four fields).
    #[derive(Serialize)]
    struct Old {
        tenant: TenantId,
        purpose: String,
        kind: String,
        expires_at: Millis,
    }
    let old = Old {
        tenant: TenantId::new("tn_a"),
        purpose: "link".into(),
        kind: "instagram".into(),
        expires_at: Millis(7000),
    };
    let mut writes = Writes::default();
    writes.insert(Tree::Registry, "o/k2".to_owned(), enc(&old).unwrap());
    store.write(writes).unwrap();
    let taken = store
        .take_once("k2")
        .await
        .unwrap()
        .expect("the old record");
    assert_eq!(taken.purpose, "link");
    assert_eq!(taken.expires_at, Millis(7000));
    assert_eq!(taken.sealed, None);
    assert_eq!(store.take_once("k2").await.unwrap(), None);
}

#[tokio::test]
async fn deleting_a_tenant_removes_every_key_and_refuses_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b) = (scope("tn_a"), scope("tn_b"));
    for (s, t) in [(&a, "tn_a"), (&b, "tn_b")] {
        store
            .insert_tenant(TenantRecord {
                id: TenantId::new(t),
                partner: PartnerId::new("pa_1"),
                name: t.into(),
                created_at: Millis(0),
            })
            .await
            .unwrap();
        let events = (0..12)
            .map(|i| text(t, &format!("m{i}"), "hello", 1000 + i))
            .collect();
        store.append(s, events).await.unwrap();
    }
    store.put_knowledge(&a, "x = 1").await.unwrap();
    let removed = store.delete_tenant(&a).await.unwrap();
    assert_eq!(removed.events, 12);
    assert!(removed.keys > 12, "views and indexes too: {removed:?}");
    assert_eq!(store.data.scan_prefix(b"t/tn_a/").count(), 0);
    assert!(
        store
            .tenant(&TenantId::new("tn_a"))
            .await
            .unwrap()
            .is_none()
    );
    // A task still holding the scope cannot write the tenant back.
    assert!(
        store
            .append(&a, vec![text("tn_a", "late", "late", 9000)])
            .await
            .is_err()
    );
    assert!(store.data.scan_prefix(b"t/tn_a/").next().is_none());
    // The other tenant is untouched.
    assert_eq!(store.head(&b).await.unwrap(), Seq(12));
    assert!(store.verify_audit(&b).await.unwrap().ok);
    // Removed for good: after a restart too (the write-ahead log replays the removals).
    store.sync().await.unwrap();
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.data.scan_prefix(b"t/tn_a/").count(), 0);
    assert_eq!(store.head(&b).await.unwrap(), Seq(12));
}
