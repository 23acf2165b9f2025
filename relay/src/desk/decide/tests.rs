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
        comment,
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
};

#[test]
fn hiding_comments_needs_the_tenants_permission() {
    let t = thread(Channel::InstagramComment);
    let hide = Command::HideComment {
        thread: t.id.clone(),
        comment_id: "c1".into(),
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
        comment_id: "c1".into(),
        hidden: true,
    };
    let comment = MessageView {
        id: protocol::MessageId::new("ms_1"),
        tenant: TenantId::new("tn_a"),
        thread: th(),
        mid: "c1".into(),
        direction: Direction::Inbound,
        occurred_at: Millis(0),
        received_at: Millis(0),
        seq: Seq(1),
        content: MessageContent::Comment {
            text: Some("spam".into()),
            media_id: None,
            parent_id: None,
        },
        edits: 0,
        deleted: false,
        reactions: Vec::new(),
        status: None,
        status_errors: Vec::new(),
        seen: false,
        hidden: false,
    };
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
