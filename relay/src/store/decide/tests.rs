#![allow(clippy::unwrap_used)]

use super::*;
use crate::store::{MessageView, SendView, TenantSettings, ThreadView};
use proptest::prelude::*;
use protocol::{
    AgentId, ChannelId, Command, CommandKey, Customer, CustomerId, Direction, Millis, Seq,
    TenantId, ThreadId,
};

const HOUR: i64 = Millis::HOUR;

fn thread(channel: Channel) -> ThreadView {
    ThreadView {
        id: ThreadId::new("th_1"),
        tenant: TenantId::new("tn_a"),
        channel_id: ChannelId::new("ch_1"),
        channel,
        customer: Customer::new(CustomerId::Igsid("1".into())),
        last_inbound_at: Some(Millis(0)),
        last_message_at: Some(Millis(0)),
        comment_created_at: Some(Millis(0)),
        messages: 1,
        inbound: 1,
        unanswered: 1,
        last_preview: None,
        first_seq: Seq(1),
        last_seq: Seq(5),
        assignee: None,
        resolved: false,
        draft: None,
        draft_versions: 0,
        replies_queued: 0,
        private_reply_used: false,
        handoff: None,
        owner_replying: false,
        read: Vec::new(),
        snooze: None,
    }
}

/// Facts with credits to spare, so only the rule under test decides.
fn facts<'a>(
    thread: Option<&'a ThreadView>,
    comment: Option<&'a MessageView>,
    send: Option<&'a SendView>,
) -> Facts<'a> {
    Facts {
        thread,
        named: comment.map_or(&[], std::slice::from_ref),
        send,
        credits: 10,
        settings: &PERMISSIVE,
    }
}

/// Settings that let every rule under test decide on its own.
static PERMISSIVE: TenantSettings = TenantSettings {
    auto_send: false,
    hide_comments: true,
    rules: Vec::new(),
    default_reply: None,
    agents_assign: false,
};

#[test]
fn hiding_comments_needs_the_tenants_permission() {
    let t = thread(Channel::InstagramComment);
    let hide = Command::HideComment {
        thread: t.id.clone(),
        comment_id: "17900000000000001".into(),
        hidden: true,
    };
    let strict = TenantSettings::default();
    let facts = Facts {
        settings: &strict,
        ..facts(Some(&t), None, None)
    };
    assert!(matches!(
        decide(&facts, &req("a", Role::Owner, hide, 0)),
        Err(Rejection::Forbidden { .. })
    ));
}

#[test]
fn messages_need_a_credit_and_other_commands_do_not() {
    let t = thread(Channel::InstagramDm);
    let broke = Facts {
        credits: 0,
        ..facts(Some(&t), None, None)
    };
    let send = Command::SendReply {
        thread: t.id.clone(),
        text: "hi".into(),
    };
    assert_eq!(
        decide(&broke, &req("a", Role::Agent, send, 0)),
        Err(Rejection::NoCredits)
    );
    let typing = Command::SendMessage {
        thread: t.id.clone(),
        content: protocol::ReplyContent::SenderAction(protocol::SenderAction::TypingOn),
        reply_to: None,
    };
    assert!(decide(&broke, &req("a", Role::Agent, typing, 0)).is_ok());
    let claim = Command::Claim {
        thread: t.id.clone(),
    };
    assert!(decide(&broke, &req("a", Role::Agent, claim, 0)).is_ok());
}

fn req(agent: &str, role: Role, command: Command, at: i64) -> CommandRequest {
    CommandRequest {
        agent: AgentId::new(agent),
        role,
        key: CommandKey::new("k"),
        command,
        received_at: Millis(at),
        vetted: crate::store::Vetted::default(),
    }
}

fn th() -> ThreadId {
    ThreadId::new("th_1")
}

fn draft(version: u32, text: &str) -> Draft {
    Draft {
        version,
        text: text.into(),
        author: DraftAuthor::Agent(AgentId::new("ag_1")),
        basis: None,
    }
}

#[test]
fn an_unknown_thread_is_invalid_for_every_command() {
    let r = req("ag_1", Role::Owner, Command::Claim { thread: th() }, 0);
    assert!(matches!(
        decide(&facts(None, None, None), &r),
        Err(Rejection::Invalid { .. })
    ));
}

#[test]
fn claims_block_other_agents_but_not_owners() {
    let mut t = thread(Channel::InstagramDm);
    t.assignee = Some(AgentId::new("ag_1"));
    let claim = Command::Claim { thread: th() };
    let release = Command::Release { thread: th() };
    assert!(matches!(
        decide(
            &facts(Some(&t), None, None),
            &req("ag_2", Role::Agent, claim.clone(), 0)
        ),
        Err(Rejection::Forbidden { .. })
    ));
    assert!(matches!(
        decide(
            &facts(Some(&t), None, None),
            &req("ag_2", Role::Agent, release.clone(), 0)
        ),
        Err(Rejection::Forbidden { .. })
    ));
    assert_eq!(
        decide(
            &facts(Some(&t), None, None),
            &req("ow", Role::Owner, claim, 0)
        ),
        Ok(DeskAction::Claimed)
    );
    assert_eq!(
        decide(
            &facts(Some(&t), None, None),
            &req("ag_1", Role::Agent, release.clone(), 0)
        ),
        Ok(DeskAction::Released)
    );
    t.assignee = None;
    assert!(matches!(
        decide(
            &facts(Some(&t), None, None),
            &req("ag_1", Role::Agent, release, 0)
        ),
        Err(Rejection::Invalid { .. })
    ));
}

#[test]
fn edits_need_the_current_version_and_conflicts_carry_the_current_draft() {
    let mut t = thread(Channel::InstagramDm);
    let edit = |base, text: &str| Command::EditDraft {
        thread: th(),
        base_version: base,
        text: text.into(),
    };
    let first = decide(
        &facts(Some(&t), None, None),
        &req("ag_1", Role::Agent, edit(0, "hi"), 0),
    )
    .unwrap();
    assert_eq!(
        first,
        DeskAction::DraftEdited {
            draft: draft(1, "hi")
        }
    );
    t.draft = Some(draft(1, "hi"));
    t.draft_versions = 1;
    let stale = decide(
        &facts(Some(&t), None, None),
        &req("ag_2", Role::Agent, edit(0, "yo"), 0),
    );
    assert_eq!(
        stale,
        Err(Rejection::Conflict {
            current: Some(draft(1, "hi"))
        })
    );
    let next = decide(
        &facts(Some(&t), None, None),
        &req("ag_2", Role::Agent, edit(1, "yo"), 0),
    )
    .unwrap();
    let DeskAction::DraftEdited { draft: d } = next else {
        panic!("not an edit: {next:?}")
    };
    assert_eq!(
        (d.version, d.author),
        (2, DraftAuthor::Agent(AgentId::new("ag_2")))
    );
    // After a discard, versions keep growing, so an old base can never match again.
    t.draft = None;
    t.draft_versions = 3;
    let d = decide(
        &facts(Some(&t), None, None),
        &req("ag_1", Role::Agent, edit(0, "x"), 0),
    )
    .unwrap();
    assert!(matches!(d, DeskAction::DraftEdited { draft } if draft.version == 4));
    assert_eq!(
        decide(
            &facts(Some(&t), None, None),
            &req("ag_1", Role::Agent, edit(3, "x"), 0)
        ),
        Err(Rejection::Conflict { current: None })
    );
}

#[test]
fn empty_and_overlong_texts_are_invalid() {
    let t = thread(Channel::InstagramDm);
    for text in ["", "  \n ", &"x".repeat(MAX_TEXT_CHARS + 1)] {
        let c = Command::SendReply {
            thread: th(),
            text: text.to_owned(),
        };
        assert!(matches!(
            decide(&facts(Some(&t), None, None), &req("a", Role::Agent, c, 0)),
            Err(Rejection::Invalid { .. })
        ));
    }
    let c = Command::SendReply {
        thread: th(),
        text: "é".repeat(MAX_TEXT_CHARS),
    };
    assert!(decide(&facts(Some(&t), None, None), &req("a", Role::Agent, c, 0)).is_ok());
}

#[test]
fn approval_sends_exactly_the_approved_version_inside_the_window() {
    let mut t = thread(Channel::InstagramDm);
    t.draft = Some(draft(2, "hello"));
    let approve = |v| Command::ApproveDraft {
        thread: th(),
        version: v,
    };
    assert_eq!(
        decide(
            &facts(Some(&t), None, None),
            &req("a", Role::Agent, approve(2), 23 * HOUR)
        ),
        Ok(DeskAction::ReplyQueued {
            text: "hello".into(),
            from_draft: Some(2),
            content: None,
            reply_to: None,
        })
    );
    assert!(matches!(
        decide(
            &facts(Some(&t), None, None),
            &req("a", Role::Agent, approve(1), 0)
        ),
        Err(Rejection::Conflict { .. })
    ));
    // A person may still answer with the human-agent tag until 7 days; then nothing goes.
    assert!(
        decide(
            &facts(Some(&t), None, None),
            &req("a", Role::Agent, approve(2), 6 * 24 * HOUR)
        )
        .is_ok()
    );
    assert!(matches!(
        decide(
            &facts(Some(&t), None, None),
            &req("a", Role::Agent, approve(2), 7 * 24 * HOUR + 1)
        ),
        Err(Rejection::OutsideWindow { .. })
    ));
}

#[test]
fn whatsapp_free_text_stops_after_24_hours_but_comments_never_close() {
    let send = Command::SendReply {
        thread: th(),
        text: "ok".into(),
    };
    let wa = thread(Channel::WhatsApp);
    assert!(
        decide(
            &facts(Some(&wa), None, None),
            &req("a", Role::Agent, send.clone(), 24 * HOUR)
        )
        .is_ok()
    );
    let late = decide(
        &facts(Some(&wa), None, None),
        &req("a", Role::Agent, send.clone(), 24 * HOUR + 1),
    );
    assert!(
        matches!(late, Err(Rejection::OutsideWindow { reason }) if reason.contains("template"))
    );
    let comment = thread(Channel::InstagramComment);
    assert!(
        decide(
            &facts(Some(&comment), None, None),
            &req("a", Role::Agent, send, 400 * 24 * HOUR)
        )
        .is_ok()
    );
}

#[test]
fn resolve_reopen_and_read_marks_follow_the_thread() {
    let mut t = thread(Channel::InstagramDm);
    let resolve = Command::Resolve { thread: th() };
    let reopen = Command::Reopen { thread: th() };
    assert!(
        decide(
            &facts(Some(&t), None, None),
            &req("a", Role::Agent, reopen.clone(), 0)
        )
        .is_err()
    );
    assert_eq!(
        decide(
            &facts(Some(&t), None, None),
            &req("a", Role::Agent, resolve.clone(), 0)
        ),
        Ok(DeskAction::Resolved)
    );
    t.resolved = true;
    assert!(
        decide(
            &facts(Some(&t), None, None),
            &req("a", Role::Agent, resolve, 0)
        )
        .is_err()
    );
    assert_eq!(
        decide(
            &facts(Some(&t), None, None),
            &req("a", Role::Agent, reopen, 0)
        ),
        Ok(DeskAction::Reopened)
    );
    let read = |s| Command::MarkRead {
        thread: th(),
        up_to: Seq(s),
    };
    assert!(
        decide(
            &facts(Some(&t), None, None),
            &req("a", Role::Agent, read(5), 0)
        )
        .is_ok()
    );
    assert!(
        decide(
            &facts(Some(&t), None, None),
            &req("a", Role::Agent, read(6), 0)
        )
        .is_err()
    );
}

#[test]
fn only_comments_of_this_thread_can_be_hidden() {
    let t = thread(Channel::InstagramComment);
    let hide = Command::HideComment {
        thread: th(),
        comment_id: "17900000000000001".into(),
        hidden: true,
    };
    let comment = message(
        "th_1",
        "17900000000000001",
        MessageContent::Comment {
            text: Some("spam".into()),
            media_id: None,
            parent_id: None,
        },
    );
    assert!(
        decide(
            &facts(Some(&t), Some(&comment), None),
            &req("a", Role::Agent, hide.clone(), 0)
        )
        .is_ok()
    );
    assert!(
        decide(
            &facts(Some(&t), None, None),
            &req("a", Role::Agent, hide.clone(), 0)
        )
        .is_err()
    );
    let mut elsewhere = comment.clone();
    elsewhere.thread = ThreadId::new("th_other");
    assert!(
        decide(
            &facts(Some(&t), Some(&elsewhere), None),
            &req("a", Role::Agent, hide.clone(), 0)
        )
        .is_err()
    );
    let dm = thread(Channel::InstagramDm);
    assert!(
        decide(
            &facts(Some(&dm), Some(&comment), None),
            &req("a", Role::Agent, hide, 0)
        )
        .is_err()
    );
}

proptest! {
    /// Whatever the order of edits from two agents, at most one edit per base version wins,
    /// and versions given out are strictly increasing.
    #[test]
    fn concurrent_edits_never_both_win(bases in proptest::collection::vec(0u32..4, 1..30)) {
        let mut t = thread(Channel::InstagramDm);
        let mut last = 0;
        for (i, base) in bases.into_iter().enumerate() {
            let agent = if i % 2 == 0 { "ag_1" } else { "ag_2" };
            let c = Command::EditDraft { thread: th(), base_version: base, text: format!("t{i}") };
            let current = t.draft.as_ref().map_or(0, |d| d.version);
            match decide(&facts(Some(&t), None, None), &req(agent, Role::Agent, c, 0)) {
                Ok(DeskAction::DraftEdited { draft }) => {
                    prop_assert_eq!(base, current);
                    prop_assert!(draft.version > last);
                    last = draft.version;
                    t.draft_versions = draft.version;
                    t.draft = Some(draft);
                }
                Err(Rejection::Conflict { current: shown }) => {
                    prop_assert_ne!(base, current);
                    prop_assert_eq!(shown, t.draft.clone());
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}

fn text_content() -> MessageContent {
    MessageContent::Message {
        text: Some("hi".into()),
        attachments: Vec::new(),
        reply_to: None,
        quick_reply: None,
        structured: None,
        unsupported: false,
    }
}

/// A stored message of thread `thread` with Meta id `mid`.
fn message(thread: &str, mid: &str, content: MessageContent) -> MessageView {
    MessageView {
        id: protocol::MessageId::new("ms_x"),
        tenant: TenantId::new("tn_a"),
        thread: ThreadId::new(thread),
        mid: mid.into(),
        direction: Direction::Inbound,
        occurred_at: Millis(0),
        received_at: Millis(0),
        seq: Seq(1),
        content,
        edits: 0,
        deleted: false,
        reactions: Vec::new(),
        status: None,
        status_errors: Vec::new(),
        seen: false,
        hidden: false,
    }
}

/// What a decision came to, coarsely, for tables.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Ok,
    Forbidden,
    Invalid,
    Window,
}

fn verdict(r: &Result<DeskAction, Rejection>) -> Verdict {
    match r {
        Ok(_) => Verdict::Ok,
        Err(Rejection::Forbidden { .. }) => Verdict::Forbidden,
        Err(Rejection::OutsideWindow { .. }) => Verdict::Window,
        Err(_) => Verdict::Invalid,
    }
}

/// Every content a `send_message` can carry, on the channel it belongs to, for each role,
/// with the hide-comments setting on and off, naming ids of this thread, of another thread,
/// of nothing stored, or not shaped like Meta's: the same verdict as the dedicated command
/// where there is one, and foreign or malformed ids always refused.
#[test]
fn every_send_content_passes_the_checks_of_its_own_command() {
    use protocol::{Card, Choice, MediaKind, SenderAction as A};
    const COMMENT: &str = "17900000000000001";
    const MID: &str = "aWdfZAG1faXRlbToxOklHTWVzc2FnZA";
    let comment_content = || MessageContent::Comment {
        text: Some("hi".into()),
        media_id: None,
        parent_id: None,
    };
    let dm_content = text_content;
    let choice = || Choice {
        title: "Yes".into(),
        payload: "YES".into(),
    };
    // (channel, content, the id it names, whether it is hiding a comment)
    let cases: Vec<(Channel, ReplyContent, Option<&str>)> = vec![
        (
            Channel::InstagramDm,
            ReplyContent::Media {
                kind: MediaKind::Image,
                url: "https://x.example/a.jpg".into(),
                caption: None,
            },
            None,
        ),
        (Channel::InstagramDm, ReplyContent::Heart, None),
        (
            Channel::InstagramDm,
            ReplyContent::QuickReplies {
                text: "Pick".into(),
                options: vec![choice()],
            },
            None,
        ),
        (
            Channel::WhatsApp,
            ReplyContent::Buttons {
                text: "Pick".into(),
                buttons: vec![choice()],
            },
            None,
        ),
        (
            Channel::InstagramDm,
            ReplyContent::Cards {
                cards: vec![Card {
                    title: "Kebaya".into(),
                    subtitle: None,
                    image_url: None,
                    buttons: vec![],
                }],
            },
            None,
        ),
        (
            Channel::WhatsApp,
            ReplyContent::Template {
                name: "order_update".into(),
                language: "en_US".into(),
                params: vec![],
            },
            None,
        ),
        (
            Channel::InstagramComment,
            ReplyContent::PrivateReply { text: "Hi".into() },
            None,
        ),
        (
            Channel::InstagramDm,
            ReplyContent::SenderAction(A::TypingOn),
            None,
        ),
        (
            Channel::InstagramDm,
            ReplyContent::SenderAction(A::React {
                mid: MID.into(),
                emoji: "love".into(),
            }),
            Some(MID),
        ),
        (
            Channel::InstagramDm,
            ReplyContent::SenderAction(A::Unreact { mid: MID.into() }),
            Some(MID),
        ),
        (
            Channel::InstagramComment,
            ReplyContent::HideComment {
                comment_id: COMMENT.into(),
                hidden: true,
            },
            Some(COMMENT),
        ),
    ];
    for (channel, content, named_id) in cases {
        let t = thread(channel);
        let hiding = matches!(content, ReplyContent::HideComment { .. });
        let stored = |thread: &str| {
            let body = if channel == Channel::InstagramComment {
                comment_content()
            } else {
                dm_content()
            };
            message(thread, named_id.unwrap_or(MID), body)
        };
        // Where the named id points: this thread, another thread, nowhere.
        let here = [stored("th_1")];
        let there = [stored("th_other")];
        let placements: [(&str, &[MessageView]); 3] =
            [("here", &here), ("elsewhere", &there), ("missing", &[])];
        for role in [Role::Agent, Role::Owner] {
            for allowed in [true, false] {
                let settings = TenantSettings {
                    hide_comments: allowed,
                    ..TenantSettings::default()
                };
                for (place, named) in placements {
                    let facts = Facts {
                        thread: Some(&t),
                        named,
                        send: None,
                        credits: 10,
                        settings: &settings,
                    };
                    let send = Command::SendMessage {
                        thread: th(),
                        content: content.clone(),
                        reply_to: None,
                    };
                    let got = verdict(&decide(&facts, &req("a", role, send, HOUR)));
                    let expected = match (named_id, place) {
                        _ if hiding && !allowed => Verdict::Forbidden,
                        (Some(_), "elsewhere" | "missing") => Verdict::Invalid,
                        _ => Verdict::Ok,
                    };
                    assert_eq!(
                        got,
                        expected,
                        "{} on {channel:?} as {role:?}, hide_comments={allowed}, id {place}",
                        content.name()
                    );
                    if let ReplyContent::HideComment { comment_id, hidden } = &content {
                        let own = Command::HideComment {
                            thread: th(),
                            comment_id: comment_id.clone(),
                            hidden: *hidden,
                        };
                        let dedicated = verdict(&decide(&facts, &req("a", role, own, HOUR)));
                        assert_eq!(dedicated, got, "hide_comment and its send content differ");
                    }
                }
            }
        }
    }
}

/// Replying to a message: only to one of this thread's, by a message id of Meta's shape.
#[test]
fn a_reply_to_names_a_message_of_this_thread() {
    let t = thread(Channel::WhatsApp);
    let mid = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTND";
    let here = [message("th_1", mid, text_content())];
    let there = [message("th_other", mid, text_content())];
    for (named, reply_to, expected) in [
        (&here[..], mid, Verdict::Ok),
        (&there[..], mid, Verdict::Invalid),
        (&[][..], mid, Verdict::Invalid),
        (&here[..], "wamid.x?y#z", Verdict::Invalid),
    ] {
        let facts = Facts {
            named,
            ..facts(Some(&t), None, None)
        };
        let send = Command::SendMessage {
            thread: th(),
            content: ReplyContent::Media {
                kind: protocol::MediaKind::Image,
                url: "https://x.example/a.jpg".into(),
                caption: Some("look".into()),
            },
            reply_to: Some(reply_to.into()),
        };
        assert_eq!(
            verdict(&decide(&facts, &req("a", Role::Agent, send, HOUR))),
            expected,
            "reply to {reply_to} with {} stored",
            named.len()
        );
    }
}

/// Comment ids that could steer a Graph path are refused before anything is recorded.
#[test]
fn hostile_comment_ids_are_refused() {
    let t = thread(Channel::InstagramComment);
    for id in [
        "me/subscribed_apps",
        "../../_sim/x?y=1#",
        "me/messages?recipient=1&message=x",
        "1%2F2",
        "1 2",
        "１２",
        "",
    ] {
        let stored = [message(
            "th_1",
            id,
            MessageContent::Comment {
                text: None,
                media_id: None,
                parent_id: None,
            },
        )];
        let facts = Facts {
            named: &stored,
            ..facts(Some(&t), None, None)
        };
        for command in [
            Command::HideComment {
                thread: th(),
                comment_id: id.into(),
                hidden: true,
            },
            Command::SendMessage {
                thread: th(),
                content: ReplyContent::HideComment {
                    comment_id: id.into(),
                    hidden: true,
                },
                reply_to: None,
            },
        ] {
            assert_eq!(
                verdict(&decide(&facts, &req("a", Role::Owner, command, 0))),
                Verdict::Invalid,
                "{id:?}"
            );
        }
    }
}

#[test]
fn notes_need_no_credit_window_or_claim_but_a_text() {
    let mut t = thread(Channel::WhatsApp);
    t.assignee = Some(AgentId::new("b"));
    let broke = Facts {
        credits: 0,
        ..facts(Some(&t), None, None)
    };
    let note = |text: &str| Command::AddNote {
        thread: t.id.clone(),
        text: text.into(),
    };
    // A week after the customer wrote, on a thread another agent holds, with no credits.
    let late = 7 * 24 * HOUR;
    assert_eq!(
        decide(
            &broke,
            &req("a", Role::Agent, note("called her, she pays Friday"), late)
        ),
        Ok(DeskAction::NoteAdded {
            text: "called her, she pays Friday".into()
        })
    );
    assert!(matches!(
        decide(&broke, &req("a", Role::Agent, note("  "), 0)),
        Err(Rejection::Invalid { reason }) if reason.contains("empty")
    ));
    let long = "x".repeat(MAX_TEXT_CHARS + 1);
    assert!(matches!(
        decide(&broke, &req("a", Role::Agent, note(&long), 0)),
        Err(Rejection::Invalid { .. })
    ));
}

#[test]
fn a_held_text_needs_a_confirmation_and_only_replies_can_be_confirmed() {
    let mut t = thread(Channel::WhatsApp);
    t.last_inbound_at = Some(Millis(0));
    let reply = Command::SendReply {
        thread: th(),
        text: "Rp 999.000, call 0812 7777 1234".into(),
    };
    let mut held = req("ag_1", Role::Agent, reply.clone(), 10);
    held.vetted.held = vec!["ungrounded_amount: `Rp 999.000`".into()];
    assert_eq!(
        decide(&facts(Some(&t), None, None), &held),
        Err(Rejection::Unconfirmed {
            reasons: vec!["ungrounded_amount: `Rp 999.000`".into()]
        })
    );
    // Nothing held: it goes as it is.
    let plain = req("ag_1", Role::Agent, reply.clone(), 10);
    assert!(decide(&facts(Some(&t), None, None), &plain).is_ok());
    // Confirmed: the same reply goes despite the reasons.
    held.command = Command::Confirm {
        command: Box::new(reply),
    };
    assert!(matches!(
        decide(&facts(Some(&t), None, None), &held),
        Ok(DeskAction::ReplyQueued { .. })
    ));
    for command in [
        Command::Claim { thread: th() },
        Command::Confirm {
            command: Box::new(Command::Confirm {
                command: Box::new(Command::Resolve { thread: th() }),
            }),
        },
    ] {
        let r = req(
            "ag_1",
            Role::Agent,
            Command::Confirm {
                command: Box::new(command),
            },
            10,
        );
        assert!(matches!(
            decide(&facts(Some(&t), None, None), &r),
            Err(Rejection::Invalid { .. })
        ));
    }
}

#[test]
fn approving_a_draft_the_classifier_held_needs_a_confirmation() {
    let mut t = thread(Channel::WhatsApp);
    t.last_inbound_at = Some(Millis(0));
    let mut d = draft(1, "Free shipping everywhere!");
    d.author = DraftAuthor::Drafter;
    d.basis = Some(Box::new(protocol::DraftBasis {
        intents: Vec::new(),
        facts: Vec::new(),
        held: vec!["off_domain: …".into()],
        source: "grounded".into(),
    }));
    t.draft = Some(d);
    t.draft_versions = 1;
    let approve = Command::ApproveDraft {
        thread: th(),
        version: 1,
    };
    let r = req("ag_1", Role::Agent, approve.clone(), 10);
    assert!(matches!(
        decide(&facts(Some(&t), None, None), &r),
        Err(Rejection::Unconfirmed { .. })
    ));
    let r = req(
        "ag_1",
        Role::Agent,
        Command::Confirm {
            command: Box::new(approve),
        },
        10,
    );
    assert!(decide(&facts(Some(&t), None, None), &r).is_ok());
}

#[test]
fn assigning_needs_an_owner_or_the_tenants_leave_and_a_known_agent() {
    let t = thread(Channel::InstagramDm);
    let assign = Command::Assign {
        thread: th(),
        to: AgentId::new("ag_2"),
    };
    let mut r = req("ag_1", Role::Agent, assign.clone(), 0);
    r.vetted.assignee_known = true;
    assert!(matches!(
        decide(&facts(Some(&t), None, None), &r),
        Err(Rejection::Forbidden { .. })
    ));
    let allowing = TenantSettings {
        agents_assign: true,
        ..PERMISSIVE.clone()
    };
    let f = Facts {
        settings: &allowing,
        ..facts(Some(&t), None, None)
    };
    assert_eq!(
        decide(&f, &r),
        Ok(DeskAction::Assigned {
            to: AgentId::new("ag_2")
        })
    );
    let mut owner = req("ag_1", Role::Owner, assign, 0);
    assert!(matches!(
        decide(&facts(Some(&t), None, None), &owner),
        Err(Rejection::Invalid { .. })
    ));
    owner.vetted.assignee_known = true;
    assert!(decide(&facts(Some(&t), None, None), &owner).is_ok());
}

#[test]
fn a_snooze_ends_at_the_relays_time_or_when_the_customer_writes() {
    let mut t = thread(Channel::InstagramDm);
    let snooze = |for_ms| {
        req(
            "ag_1",
            Role::Agent,
            Command::Snooze {
                thread: th(),
                for_ms,
            },
            1_000,
        )
    };
    assert_eq!(
        decide(&facts(Some(&t), None, None), &snooze(Some(60_000))),
        Ok(DeskAction::Snoozed {
            until: Some(Millis(61_000))
        })
    );
    assert_eq!(
        decide(&facts(Some(&t), None, None), &snooze(None)),
        Ok(DeskAction::Snoozed { until: None })
    );
    assert!(decide(&facts(Some(&t), None, None), &snooze(Some(0))).is_err());
    let wake = req("ag_1", Role::Agent, Command::Unsnooze { thread: th() }, 0);
    assert!(decide(&facts(Some(&t), None, None), &wake).is_err());
    t.snooze = Some(crate::store::Snooze { until: None });
    assert_eq!(
        decide(&facts(Some(&t), None, None), &wake),
        Ok(DeskAction::Unsnoozed)
    );
    t.resolved = true;
    assert!(decide(&facts(Some(&t), None, None), &snooze(None)).is_err());
}
