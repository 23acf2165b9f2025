//! The storage conformance suite: one set of cases every backend must pass, run through
//! the [`Store`] the relay uses (so the rules of [`super::domain`] are exercised together
//! with the backend's records).
//!
//! A backend's test module calls [`conformance_suite!`](crate::conformance_suite) with an
//! async factory answering a fresh, empty [`Opened`] store; each case becomes its own
//! `#[tokio::test]` named after it. Backend-only behaviour (sled's reopen and checkpoints,
//! PostgreSQL's row-level security) is tested beside each backend, not here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{
    AgentKind, AgentRecord, Appended, ChannelKind, ChannelRecord, CommandRequest, DeletionRecord,
    MessageContent, NewEvent, OnceRecord, PartnerRecord, Proposal, ProposalOutcome, SendState,
    Store, StoreError, TenantRecord, TenantSettings,
};
use crate::principal::{Access, Principal, TenantScope};
use crate::store::RouteKey;
use protocol::inbound::{InboundKind, MessageBody, Reaction, ReactionAction};
use protocol::{
    AgentId, Answer, Channel, ChannelId, Command, CommandKey, Customer, CustomerId, DeskAction,
    Direction, DraftBasis, EventBody, InboundEvent, Millis, PartnerId, Role, Seq, TenantId,
    ThreadId,
};
use std::sync::Arc;

/// A fresh store for one case, with whatever must live as long as it (a directory, a
/// database dropped at the end).
pub struct Opened {
    pub store: Arc<dyn Store>,
    /// Kept only to be dropped after the case.
    #[allow(dead_code)]
    pub guard: Box<dyn std::any::Any + Send>,
}

/// Generates one `#[tokio::test]` per conformance case, each on a store from `$open`
/// (an async fn answering [`Opened`]).
#[macro_export]
macro_rules! conformance_suite {
    ($open:path) => {
        $crate::conformance_suite!(@cases $open;
            sequences_are_gap_free_per_tenant_and_duplicates_stored_once,
            views_follow_meta_time_and_later_updates,
            channel_routes_are_unique_and_resolve_to_their_tenant,
            a_send_takes_and_restores_credits_and_becomes_one_outbound_message,
            concurrent_appends_stay_gap_free_and_chained,
            concurrent_retries_of_one_delivery_are_stored_once,
            commands_answer_once_per_key_and_rejections_write_nothing,
            the_drafter_auto_sends_only_when_allowed_and_never_over_a_person,
            redacting_a_customer_keeps_the_evidence_chain,
            registry_records_round_trip,
            once_records_are_taken_once,
            tenant_records_and_settings_stay_with_their_tenant,
            canned_replies_are_per_tenant_by_shortcut,
            snoozes_and_assignments_show_in_the_thread_view,
        );
    };
    (@cases $open:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let opened = $open().await;
                $crate::store::conformance::$case(&*opened.store).await;
                opened.store.close().await.unwrap();
                drop(opened);
            }
        )*
    };
}

pub fn scope(t: &str) -> TenantScope {
    Principal::Operator
        .scope(&TenantId::new(t), Access::Manage)
        .unwrap()
}

pub fn text(tenant: &str, mid: &str, body: &str, at: i64) -> NewEvent {
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

fn thread_of(tenant: &str) -> ThreadId {
    crate::ids::thread(
        &TenantId::new(tenant),
        &ChannelId::new("ch_1"),
        "dm:igsid-1",
    )
}

pub fn seqs(out: &[Appended]) -> Vec<String> {
    out.iter()
        .map(|a| match a {
            Appended::Stored(e) => format!("stored {}", e.seq),
            Appended::Duplicate(s) => format!("dup {s}"),
        })
        .collect()
}

pub async fn sequences_are_gap_free_per_tenant_and_duplicates_stored_once(store: &dyn Store) {
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

pub async fn views_follow_meta_time_and_later_updates(store: &dyn Store) {
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

pub async fn channel_routes_are_unique_and_resolve_to_their_tenant(store: &dyn Store) {
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

pub async fn a_send_takes_and_restores_credits_and_becomes_one_outbound_message(store: &dyn Store) {
    use protocol::window::ReplyKind;
    use protocol::{DeskAction, DeskEvent, FailureClass, OutboxEvent, SendFailure, SendStatus};
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

pub async fn concurrent_appends_stay_gap_free_and_chained(store: &dyn Store) {
    let s = scope("tn_a");
    let writers = (0..8).map(|w| {
        let s = s.clone();
        async move {
            for i in 0..6 {
                let at = 1000 + w * 100 + i;
                store
                    .append(&s, vec![text("tn_a", &format!("w{w}-{i}"), "hi", at)])
                    .await
                    .unwrap();
            }
        }
    });
    futures_util::future::join_all(writers).await;
    assert_eq!(store.head(&s).await.unwrap(), Seq(48));
    let events = store.events_after(&s, Seq(0), 100).await.unwrap();
    let numbers: Vec<u64> = events.iter().map(|e| e.seq.0).collect();
    assert_eq!(numbers, (1..=48).collect::<Vec<_>>());
    let verdict = store.verify_audit(&s).await.unwrap();
    assert_eq!((verdict.ok, verdict.records), (true, 48));
    let thread = store.thread(&s, &thread_of("tn_a")).await.unwrap().unwrap();
    assert_eq!(thread.messages, 48);
    assert_eq!(
        store.heads().await.unwrap(),
        Vec::new(),
        "heads list registered tenants only"
    );
}

/// Meta retries a delivery while the first attempt is still being stored, and appends of
/// one tenant are joined into one step: however the copies meet, each delivery is stored
/// once, every other copy is told which sequence holds it, and the log stays gap-free.
pub async fn concurrent_retries_of_one_delivery_are_stored_once(store: &dyn Store) {
    let s = scope("tn_r");
    let writers = (0..8).map(|w| {
        let s = s.clone();
        async move {
            let mut out = Vec::new();
            for i in 0..6 {
                let copy = text("tn_r", &format!("same-{i}"), "hi", 1000 + i);
                let own = text("tn_r", &format!("own-{w}-{i}"), "hey", 2000 + w * 10 + i);
                let got = store.append(&s, vec![copy, own]).await.unwrap();
                out.push((format!("same-{i}"), got[0].clone()));
                out.push((format!("own-{w}-{i}"), got[1].clone()));
            }
            out
        }
    });
    let answers: Vec<(String, Appended)> = futures_util::future::join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect();
    // 6 shared deliveries and 48 writers' own, each stored exactly once.
    let mut stored: std::collections::HashMap<String, Seq> = std::collections::HashMap::new();
    for (mid, answer) in &answers {
        if let Appended::Stored(e) = answer {
            assert!(
                stored.insert(mid.clone(), e.seq).is_none(),
                "{mid} stored twice"
            );
        }
    }
    assert_eq!(stored.len(), 54, "{answers:?}");
    for (mid, answer) in &answers {
        if let Appended::Duplicate(seq) = answer {
            assert_eq!(
                stored.get(mid),
                Some(seq),
                "{mid}: a duplicate names its copy"
            );
        }
    }
    assert_eq!(store.head(&s).await.unwrap(), Seq(54));
    let events = store.events_after(&s, Seq(0), 100).await.unwrap();
    let numbers: Vec<u64> = events.iter().map(|e| e.seq.0).collect();
    assert_eq!(numbers, (1..=54).collect::<Vec<_>>());
    let verdict = store.verify_audit(&s).await.unwrap();
    assert_eq!((verdict.ok, verdict.records), (true, 54));
    let thread = store.thread(&s, &thread_of("tn_r")).await.unwrap().unwrap();
    assert_eq!(thread.messages, 54);
}

fn command(agent: &str, key: &str, command: Command) -> CommandRequest {
    CommandRequest {
        agent: AgentId::new(agent),
        role: Role::Agent,
        key: CommandKey::new(key),
        command,
        received_at: Millis(5000),
        vetted: crate::store::Vetted::default(),
    }
}

pub async fn commands_answer_once_per_key_and_rejections_write_nothing(store: &dyn Store) {
    let s = scope("tn_a");
    store
        .append(&s, vec![text("tn_a", "m1", "hi", 1000)])
        .await
        .unwrap();
    let thread = thread_of("tn_a");
    let claim = command(
        "ag_1",
        "k1",
        Command::Claim {
            thread: thread.clone(),
        },
    );
    let first = store.apply_command(&s, claim.clone()).await.unwrap();
    assert_eq!(first.answer, Answer::Applied { seq: Seq(2) });
    assert!(first.event.is_some());
    let again = store.apply_command(&s, claim).await.unwrap();
    assert_eq!(
        (again.answer, again.event),
        (Answer::Applied { seq: Seq(2) }, None)
    );
    assert_eq!(
        store.head(&s).await.unwrap(),
        Seq(2),
        "a replay writes nothing"
    );
    let view = store.thread(&s, &thread).await.unwrap().unwrap();
    assert_eq!(view.assignee, Some(AgentId::new("ag_1")));
    // Another agent's claim is refused, and a refusal writes nothing.
    let other = command(
        "ag_2",
        "k1",
        Command::Claim {
            thread: thread.clone(),
        },
    );
    let refused = store.apply_command(&s, other).await.unwrap();
    assert!(
        matches!(refused.answer, Answer::Rejected { .. }),
        "{refused:?}"
    );
    let missing = command(
        "ag_1",
        "k2",
        Command::Claim {
            thread: ThreadId::new("th_nowhere"),
        },
    );
    let refused = store.apply_command(&s, missing).await.unwrap();
    assert!(matches!(refused.answer, Answer::Rejected { .. }));
    assert_eq!(store.head(&s).await.unwrap(), Seq(2));
    // An edit of a draft is decided against the stored version.
    let edit = |key: &str, base| {
        command(
            "ag_1",
            key,
            Command::EditDraft {
                thread: thread.clone(),
                base_version: base,
                text: "Hello".into(),
            },
        )
    };
    let edited = store.apply_command(&s, edit("k3", 0)).await.unwrap();
    assert_eq!(edited.answer, Answer::Applied { seq: Seq(3) });
    let stale = store.apply_command(&s, edit("k4", 0)).await.unwrap();
    assert!(matches!(stale.answer, Answer::Rejected { .. }), "{stale:?}");
    let view = store.thread(&s, &thread).await.unwrap().unwrap();
    assert_eq!(
        view.draft.map(|d| (d.version, d.text)),
        Some((1, "Hello".into()))
    );
}

fn proposal(answering: u64, at: i64, held: &[&str]) -> Proposal {
    Proposal {
        thread: thread_of("tn_a"),
        answering: Seq(answering),
        at: Millis(at),
        outcome: ProposalOutcome::Draft {
            text: "It costs 10".into(),
            basis: DraftBasis {
                intents: vec!["price".into()],
                facts: vec!["sku:a".into()],
                held: held.iter().map(|h| (*h).to_owned()).collect(),
                source: "grounded".into(),
            },
        },
        auto_send: None,
        hide_comment: None,
    }
}

fn actions(events: &[protocol::Event]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| match &e.body {
            EventBody::Desk(d) => match d.action {
                DeskAction::DraftEdited { .. } => "draft",
                DeskAction::ReplyQueued { .. } => "queued",
                DeskAction::HandedOff { .. } => "handoff",
                DeskAction::CommentHidden { .. } => "hidden",
                _ => "other desk",
            },
            _ => "not desk",
        })
        .collect()
}

pub async fn the_drafter_auto_sends_only_when_allowed_and_never_over_a_person(store: &dyn Store) {
    let s = scope("tn_a");
    store
        .append(&s, vec![text("tn_a", "m1", "price?", 1000)])
        .await
        .unwrap();
    // Auto-send off: a draft only.
    let out = store
        .propose_draft(&s, proposal(1, 2000, &[]))
        .await
        .unwrap();
    assert_eq!(actions(&out), ["draft"]);
    assert!(
        store
            .propose_draft(&s, proposal(1, 2000, &[]))
            .await
            .unwrap()
            .is_empty(),
        "the same proposal again is a duplicate"
    );
    store
        .put_settings(
            &s,
            &TenantSettings {
                auto_send: true,
                ..TenantSettings::default()
            },
        )
        .await
        .unwrap();
    store
        .append(&s, vec![text("tn_a", "m2", "and shipping?", 3000)])
        .await
        .unwrap();
    // Auto-send on but no credits: the draft waits.
    let out = store
        .propose_draft(&s, proposal(3, 4000, &[]))
        .await
        .unwrap();
    assert_eq!(actions(&out), ["draft"]);
    store.add_credits(&s, 1, Millis(4500)).await.unwrap();
    store
        .append(&s, vec![text("tn_a", "m3", "hello?", 5000)])
        .await
        .unwrap();
    // Held by the classifier: the draft waits.
    let out = store
        .propose_draft(&s, proposal(6, 6000, &["ungrounded price"]))
        .await
        .unwrap();
    assert_eq!(actions(&out), ["draft"]);
    store
        .append(&s, vec![text("tn_a", "m4", "well?", 7000)])
        .await
        .unwrap();
    // Outside the window (over 24 h after the customer wrote): the draft waits.
    let day = 24 * 3600 * 1000;
    let out = store
        .propose_draft(&s, proposal(80, 7000 + day + 1, &[]))
        .await
        .unwrap();
    assert_eq!(actions(&out), ["draft"]);
    // Passed, enabled, funded and open: queued at once.
    let out = store
        .propose_draft(&s, proposal(8, 8000, &[]))
        .await
        .unwrap();
    assert_eq!(actions(&out), ["draft", "queued"]);
    let unfinished = store.unfinished_sends(&s).await.unwrap();
    assert_eq!(unfinished.len(), 1);
    assert!(unfinished[0].is_automated());
    // A person's draft is never overwritten.
    let edit = command(
        "ag_1",
        "k1",
        Command::EditDraft {
            thread: thread_of("tn_a"),
            base_version: 0,
            text: "Mine".into(),
        },
    );
    assert!(matches!(
        store.apply_command(&s, edit).await.unwrap().answer,
        Answer::Applied { .. }
    ));
    let head = store.head(&s).await.unwrap();
    assert!(
        store
            .propose_draft(&s, proposal(head.0, 9000, &[]))
            .await
            .unwrap()
            .is_empty()
    );
    let view = store.thread(&s, &thread_of("tn_a")).await.unwrap().unwrap();
    assert_eq!(view.draft.map(|d| d.text), Some("Mine".into()));
}

pub async fn redacting_a_customer_keeps_the_evidence_chain(store: &dyn Store) {
    let s = scope("tn_a");
    store
        .append(
            &s,
            vec![
                text("tn_a", "m1", "my address is secret", 1000),
                text("tn_a", "m2", "and my phone", 2000),
            ],
        )
        .await
        .unwrap();
    store
        .append(
            &scope("tn_b"),
            vec![text("tn_b", "m1", "other tenant", 1000)],
        )
        .await
        .unwrap();
    assert!(
        store
            .redact_customer(&s, "nobody")
            .await
            .unwrap()
            .is_empty()
    );
    let done = store.redact_customer(&s, "igsid-1").await.unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].messages, done[0].events), (2, 2));
    let messages = store.messages(&s, &thread_of("tn_a")).await.unwrap();
    assert!(
        messages
            .iter()
            .all(|m| m.content == MessageContent::Removed)
    );
    assert_eq!(
        store.head(&s).await.unwrap(),
        Seq(2),
        "redaction appends nothing"
    );
    let events = store.events_after(&s, Seq(0), 10).await.unwrap();
    let shown = format!("{events:?}");
    assert!(
        !shown.contains("secret") && !shown.contains("my phone"),
        "{shown}"
    );
    assert!(
        !store.verify_audit(&s).await.unwrap().ok,
        "a redaction no removal explains yet is named"
    );
    // The data-deletion flow records the removal, which explains the changed texts.
    let removed = NewEvent {
        dedup_key: "removed:1".into(),
        received_at: Millis(3000),
        body: EventBody::Account(protocol::AccountEvent {
            channel_id: ChannelId::new("ch_1"),
            occurred_at: Millis(3000),
            kind: protocol::AccountEventKind::CustomerRemoved {
                thread: thread_of("tn_a"),
            },
        }),
    };
    store.append(&s, vec![removed]).await.unwrap();
    let verdict = store.verify_audit(&s).await.unwrap();
    assert!(verdict.ok, "{verdict:?}");
    // Another tenant's customer with the same id is not touched.
    let theirs = store
        .messages(&scope("tn_b"), &thread_of("tn_b"))
        .await
        .unwrap();
    assert!(matches!(theirs[0].content, MessageContent::Message { .. }));
    assert_eq!(store.head(&s).await.unwrap(), Seq(3));
}

pub async fn registry_records_round_trip(store: &dyn Store) {
    let partner = PartnerRecord {
        id: PartnerId::new("pt_1"),
        name: "Agency".into(),
        brand: Some("Brand".into()),
        created_at: Millis(1),
    };
    store.insert_partner(partner.clone()).await.unwrap();
    assert!(matches!(
        store.insert_partner(partner.clone()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.partner(&partner.id).await.unwrap(),
        Some(partner.clone())
    );
    assert_eq!(store.partners().await.unwrap(), vec![partner.clone()]);
    let tenant = |id: &str, at| TenantRecord {
        id: TenantId::new(id),
        partner: partner.id.clone(),
        name: format!("Shop {id}"),
        created_at: Millis(at),
    };
    store.insert_tenant(tenant("tn_b", 3)).await.unwrap();
    store.insert_tenant(tenant("tn_a", 2)).await.unwrap();
    assert!(matches!(
        store.insert_tenant(tenant("tn_a", 9)).await,
        Err(StoreError::Conflict(_))
    ));
    let listed: Vec<_> = store
        .tenants_of(&partner.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id.as_str().to_owned())
        .collect();
    assert_eq!(listed, ["tn_a", "tn_b"]);
    assert!(
        store
            .tenants_of(&PartnerId::new("pt_x"))
            .await
            .unwrap()
            .is_empty()
    );
    store
        .append(&scope("tn_a"), vec![text("tn_a", "m1", "hi", 1000)])
        .await
        .unwrap();
    let mut heads = store.heads().await.unwrap();
    heads.sort();
    assert_eq!(
        heads,
        [
            (TenantId::new("tn_a"), Seq(1)),
            (TenantId::new("tn_b"), Seq(0))
        ]
    );
    let agent = AgentRecord {
        id: AgentId::new("ag_1"),
        name: "Ana".into(),
        kind: AgentKind::Tenant {
            tenant: TenantId::new("tn_a"),
            role: Role::Owner,
        },
        token_hash: "hash-1".into(),
        created_at: Millis(4),
    };
    let viewer = AgentRecord {
        id: AgentId::new("ag_2"),
        name: "Viewer".into(),
        kind: AgentKind::PartnerViewer {
            partner: partner.id.clone(),
        },
        token_hash: "hash-2".into(),
        created_at: Millis(5),
    };
    store.insert_agent(agent.clone()).await.unwrap();
    store.insert_agent(viewer.clone()).await.unwrap();
    assert_eq!(
        store.agent_by_token_hash("hash-1").await.unwrap(),
        Some(agent.clone())
    );
    assert_eq!(
        store.agent_by_token_hash("hash-2").await.unwrap(),
        Some(viewer)
    );
    assert_eq!(
        store.agents(&scope("tn_a")).await.unwrap(),
        vec![(agent.clone(), true)]
    );
    assert!(store.agents(&scope("tn_b")).await.unwrap().is_empty());
    assert!(!store.revoke_agent(&scope("tn_b"), &agent.id).await.unwrap());
    assert!(store.revoke_agent(&scope("tn_a"), &agent.id).await.unwrap());
    assert_eq!(store.agent_by_token_hash("hash-1").await.unwrap(), None);
    assert_eq!(
        store.agents(&scope("tn_a")).await.unwrap(),
        vec![(agent, false)]
    );
    let deletion = DeletionRecord {
        state: "done".into(),
        brand: "Brand".into(),
        received_at: Millis(1),
        finished_at: Some(Millis(2)),
        channels_disconnected: 1,
        threads: 2,
        messages: 3,
    };
    store.put_deletion("code1", &deletion).await.unwrap();
    assert_eq!(store.deletion("code1").await.unwrap(), Some(deletion));
    assert_eq!(store.deletion("code2").await.unwrap(), None);
}

pub async fn once_records_are_taken_once(store: &dyn Store) {
    let record = |expires| OnceRecord {
        tenant: TenantId::new("tn_a"),
        purpose: "choice".into(),
        kind: "facebook".into(),
        expires_at: Millis(expires),
        sealed: Some("v1.k.sealed".into()),
    };
    store.put_once("k1", record(5000)).await.unwrap();
    let takers = (0..4).map(|_| store.take_once("k1"));
    let taken: Vec<_> = futures_util::future::join_all(takers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(taken.iter().filter(|t| t.is_some()).count(), 1, "{taken:?}");
    assert_eq!(taken.into_iter().flatten().next(), Some(record(5000)));
    store.put_once("k2", record(1000)).await.unwrap();
    store.put_once("k3", record(3000)).await.unwrap();
    assert_eq!(store.sweep_once(Millis(2000)).await.unwrap(), 1);
    assert_eq!(store.take_once("k2").await.unwrap(), None);
    assert_eq!(store.take_once("k3").await.unwrap(), Some(record(3000)));
}

pub async fn tenant_records_and_settings_stay_with_their_tenant(store: &dyn Store) {
    let (a, b) = (scope("tn_a"), scope("tn_b"));
    assert_eq!(store.settings(&a).await.unwrap(), TenantSettings::default());
    let settings = TenantSettings {
        auto_send: true,
        hide_comments: true,
        rules: Vec::new(),
        default_reply: Some("A colleague will answer".into()),
        agents_assign: true,
    };
    store.put_settings(&a, &settings).await.unwrap();
    assert_eq!(store.settings(&a).await.unwrap(), settings);
    assert_eq!(store.settings(&b).await.unwrap(), TenantSettings::default());
    assert_eq!(store.knowledge(&a).await.unwrap(), None);
    store
        .put_knowledge(&a, "[business]\nname = \"A\"\n")
        .await
        .unwrap();
    assert_eq!(
        store.knowledge(&a).await.unwrap().as_deref(),
        Some("[business]\nname = \"A\"\n")
    );
    assert_eq!(store.knowledge(&b).await.unwrap(), None);
    let (balance, _) = store.add_credits(&a, 5, Millis(1)).await.unwrap();
    assert_eq!(balance, 5);
    let (balance, _) = store.add_credits(&a, -2, Millis(2)).await.unwrap();
    assert_eq!(balance, 3);
    assert_eq!(store.credits(&a).await.unwrap(), 3);
    assert_eq!(store.credits(&b).await.unwrap(), 0);
    store
        .append(&a, vec![text("tn_a", "m1", "hi", 1000)])
        .await
        .unwrap();
    let activity = store.channel_activity(&a).await.unwrap();
    assert_eq!(activity, [(ChannelId::new("ch_1"), Millis(1005))]);
    assert!(store.channel_activity(&b).await.unwrap().is_empty());
    let mid = store.message_by_mid(&a, "m1").await.unwrap().unwrap();
    assert_eq!(mid.seq, Seq(3));
    assert_eq!(store.message_by_mid(&b, "m1").await.unwrap(), None);
    let entries = store.audit_entries(&a, Seq(1), 10).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.event.seq.0).collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(entries[1].audit.prev, entries[0].audit.hash);
}

pub async fn canned_replies_are_per_tenant_by_shortcut(store: &dyn Store) {
    use protocol::canned::CannedReply;
    let (a, b) = (scope("tn_a"), scope("tn_b"));
    let reply = |shortcut: &str, text: &str| CannedReply {
        shortcut: shortcut.into(),
        title: format!("{shortcut} title"),
        text: text.into(),
    };
    assert!(store.canned(&a).await.unwrap().is_empty());
    assert!(
        store
            .put_canned(&a, reply("thanks", "Terima kasih, {{customer.name}} 🙏"))
            .await
            .unwrap()
    );
    assert!(
        store
            .put_canned(&a, reply("hours", "Open 9–17"))
            .await
            .unwrap()
    );
    // The same shortcut replaces, and says it was not new.
    assert!(
        !store
            .put_canned(&a, reply("hours", "Open 10–18"))
            .await
            .unwrap()
    );
    assert!(
        store
            .put_canned(&b, reply("hours", "B's hours"))
            .await
            .unwrap()
    );
    let listed = store.canned(&a).await.unwrap();
    assert_eq!(
        listed,
        [
            reply("hours", "Open 10–18"),
            reply("thanks", "Terima kasih, {{customer.name}} 🙏")
        ]
    );
    assert!(store.remove_canned(&a, "hours").await.unwrap());
    assert!(!store.remove_canned(&a, "hours").await.unwrap());
    assert_eq!(store.canned(&a).await.unwrap().len(), 1);
    assert_eq!(
        store.canned(&b).await.unwrap(),
        [reply("hours", "B's hours")]
    );
}

pub async fn snoozes_and_assignments_show_in_the_thread_view(store: &dyn Store) {
    let a = scope("tn_a");
    store
        .append(&a, vec![text("tn_a", "m1", "hi", 1000)])
        .await
        .unwrap();
    let thread = store.threads(&a).await.unwrap()[0].id.clone();
    let run = |key: &str, command: Command| {
        let mut request = self::command("ag_owner", key, command);
        request.role = Role::Owner;
        request.vetted.assignee_known = true;
        request
    };
    let out = store
        .apply_command(
            &a,
            run(
                "k1",
                Command::Assign {
                    thread: thread.clone(),
                    to: AgentId::new("ag_2"),
                },
            ),
        )
        .await
        .unwrap();
    assert!(matches!(out.answer, Answer::Applied { .. }), "{out:?}");
    let out = store
        .apply_command(
            &a,
            run(
                "k2",
                Command::Snooze {
                    thread: thread.clone(),
                    for_ms: Some(8_995_000),
                },
            ),
        )
        .await
        .unwrap();
    assert!(matches!(out.answer, Answer::Applied { .. }), "{out:?}");
    let view = store.thread(&a, &thread).await.unwrap().unwrap();
    assert_eq!(view.assignee, Some(AgentId::new("ag_2")));
    assert_eq!(
        view.snooze,
        Some(super::Snooze {
            until: Some(Millis(9_000_000))
        })
    );
    // The customer writing again wakes it.
    store
        .append(&a, vec![text("tn_a", "m2", "still there?", 2000)])
        .await
        .unwrap();
    let view = store.thread(&a, &thread).await.unwrap().unwrap();
    assert_eq!(view.snooze, None);
}
