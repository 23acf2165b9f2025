//! How an appended event changes the thread and message views: pure logic over a small
//! read/write interface, shared by every storage backend.
//!
//! Views are derived data: the event log is the truth, and the same events projected in
//! the same order always give the same views.

use super::backend::Reads;
use super::{MessageContent, MessageView, SendState, SendView, Snooze, StoreError, ThreadView};
use crate::ids;
use protocol::inbound::{DeliveryStatus, InboundKind, MessageBody, ReactionAction, StatusKind};
use protocol::outbox::credit_change;
use protocol::window::ReplyKind;
use protocol::{
    DeskAction, DeskEvent, Direction, Event, EventBody, InboundEvent, OutboxEvent, ReplyContent,
    SendStatus, Seq, TenantId, ThreadId,
};

/// What projection needs from storage, within one atomic append.
pub trait Views {
    fn thread(&mut self, id: &ThreadId) -> Result<Option<ThreadView>, StoreError>;
    fn put_thread(&mut self, view: ThreadView);
    fn message_by_mid(&mut self, mid: &str) -> Result<Option<MessageView>, StoreError>;
    /// Inserts or replaces a message (keyed by thread, Meta time and sequence).
    fn put_message(&mut self, view: MessageView);
    fn send(&mut self, send: Seq) -> Result<Option<SendView>, StoreError>;
    fn put_send(&mut self, view: SendView);
    /// Changes the tenant's credit balance by `delta`.
    fn add_credits(&mut self, delta: i64);
    /// Whether one of our sends on the thread is between `Sending` and its answer.
    fn send_in_flight(&mut self, thread: &ThreadId) -> Result<bool, StoreError>;
}

/// A customer profile names the thread's customer; a refusal changes nothing (the IGSID
/// stays what the desk shows).
fn project_account(
    account: &protocol::AccountEvent,
    views: &mut impl Views,
) -> Result<(), StoreError> {
    let protocol::AccountEventKind::CustomerProfile {
        thread,
        profile: Some(profile),
        ..
    } = &account.kind
    else {
        return Ok(());
    };
    let Some(mut view) = views.thread(thread)? else {
        return Ok(());
    };
    view.customer.name.clone_from(&profile.name);
    view.customer.username.clone_from(&profile.username);
    views.put_thread(view);
    Ok(())
}

/// Adds to `reads` the views [`project`] will read for an event of `body` (inbound events
/// only: the webhook's path; a read missing here is still made, only later).
pub fn reads(body: &EventBody, reads: &mut Reads) {
    let EventBody::Inbound(inbound) = body else {
        return;
    };
    let mid = match &inbound.kind {
        InboundKind::Message(body) => {
            reads.threads.push(inbound.thread.clone());
            Some(&body.mid)
        }
        InboundKind::Comment(comment) => {
            reads.threads.push(inbound.thread.clone());
            Some(&comment.id)
        }
        InboundKind::Postback(_) => {
            reads.threads.push(inbound.thread.clone());
            None
        }
        InboundKind::Reaction(reaction) => return reads.mids.push(reaction.mid.clone()),
        InboundKind::Edit(edit) => return reads.mids.push(edit.mid.clone()),
        InboundKind::Deleted { mid } | InboundKind::Read { mid: Some(mid), .. } => {
            return reads.mids.push(mid.clone());
        }
        InboundKind::Status(status) => return reads.mids.push(status.message_id.clone()),
        InboundKind::Read { mid: None, .. }
        | InboundKind::Referral(_)
        | InboundKind::OptIn { .. } => None,
    };
    // Only an echo looks its message up (see `add_message`).
    if inbound.direction == Direction::Outbound
        && let Some(mid) = mid
    {
        reads.mids.push(mid.clone());
    }
}

/// Applies `event` to the views.
///
/// # Errors
/// Only storage read failures.
pub fn project(event: &Event, views: &mut impl Views) -> Result<(), StoreError> {
    let inbound = match &event.body {
        EventBody::Inbound(inbound) => inbound,
        EventBody::Desk(desk) => return project_desk(event, desk, views),
        EventBody::Outbox(outbox) => return project_outbox(event, outbox, views),
        EventBody::Credits(credits) => {
            views.add_credits(credits.added);
            return Ok(());
        }
        EventBody::Account(account) => return project_account(account, views),
        EventBody::Unknown(_) => return Ok(()),
    };
    match &inbound.kind {
        InboundKind::Message(body) => {
            let content = message_content(body);
            let preview = preview(body);
            add_message(event, inbound, &body.mid, content, preview, views)
        }
        InboundKind::Comment(comment) => {
            let content = MessageContent::Comment {
                text: comment.text.clone(),
                media_id: comment.media.id.clone(),
                parent_id: comment.parent_id.clone(),
            };
            add_message(
                event,
                inbound,
                &comment.id,
                content,
                comment.text.clone(),
                views,
            )
        }
        InboundKind::Postback(postback) => {
            let mid = postback
                .mid
                .clone()
                .unwrap_or_else(|| format!("postback:{}", event.seq));
            let content = MessageContent::Postback {
                title: postback.title.clone(),
                payload: postback.payload.clone(),
            };
            add_message(event, inbound, &mid, content, postback.title.clone(), views)
        }
        InboundKind::Reaction(reaction) => {
            update_message(views, &reaction.mid, |m| match reaction.action {
                ReactionAction::React => {
                    let shown = reaction.emoji.clone().or_else(|| reaction.reaction.clone());
                    m.reactions = shown.into_iter().collect();
                }
                ReactionAction::Unreact => m.reactions.clear(),
            })
        }
        InboundKind::Edit(edit) => update_message(views, &edit.mid, |m| {
            if let MessageContent::Message { text, .. } = &mut m.content {
                text.clone_from(&edit.text);
            }
            m.edits = edit.num_edit.unwrap_or(m.edits + 1).max(m.edits + 1);
        }),
        InboundKind::Deleted { mid } => update_message(views, mid, |m| m.deleted = true),
        InboundKind::Read { mid: Some(mid), .. } => update_message(views, mid, |m| m.seen = true),
        InboundKind::Status(status) => {
            note_send_seen(event, status, views)?;
            update_message(views, &status.message_id, |m| {
                m.status = Some(status.status.as_str().to_owned());
                m.status_errors.clone_from(&status.errors);
            })
        }
        InboundKind::Read { mid: None, .. }
        | InboundKind::Referral(_)
        | InboundKind::OptIn { .. } => Ok(()),
    }
}

fn message_content(body: &MessageBody) -> MessageContent {
    MessageContent::Message {
        text: body.text.clone(),
        attachments: body.attachments.clone(),
        reply_to: body.reply_to.clone(),
        quick_reply: body.quick_reply.clone(),
        structured: body.structured.clone(),
        unsupported: body.is_unsupported,
    }
}

fn preview(body: &MessageBody) -> Option<String> {
    if let Some(text) = &body.text {
        return Some(text.clone());
    }
    if let Some(a) = body.attachments.first() {
        return Some(format!("[{:?}]", a.kind).to_lowercase());
    }
    body.structured
        .as_ref()
        .map(|_| "[structured message]".to_owned())
}

fn add_message(
    event: &Event,
    inbound: &InboundEvent,
    mid: &str,
    content: MessageContent,
    preview: Option<String>,
    views: &mut impl Views,
) -> Result<(), StoreError> {
    let at = inbound.occurred_at;
    // The echo of a reply the outbox sent: the message is already there from `Sent`.
    if inbound.direction == Direction::Outbound && views.message_by_mid(mid)?.is_some() {
        return Ok(());
    }
    let mut thread = views
        .thread(&inbound.thread)?
        .unwrap_or_else(|| ThreadView {
            id: inbound.thread.clone(),
            tenant: event.tenant.clone(),
            channel_id: inbound.channel_id.clone(),
            channel: inbound.channel,
            customer: inbound.customer.clone(),
            last_inbound_at: None,
            last_message_at: None,
            comment_created_at: None,
            messages: 0,
            inbound: 0,
            unanswered: 0,
            last_preview: None,
            first_seq: event.seq,
            last_seq: event.seq,
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
        });
    thread.messages += 1;
    thread.last_seq = event.seq;
    if thread.last_message_at.is_none_or(|t| at >= t) {
        thread.last_message_at = Some(at);
        thread.last_preview = preview;
    }
    match inbound.direction {
        Direction::Inbound => {
            thread.inbound += 1;
            thread.unanswered += 1;
            thread.last_inbound_at = Some(thread.last_inbound_at.map_or(at, |t| t.max(at)));
            // Meta may give a username only on later events; keep the richest identity.
            if inbound.customer.username.is_some() || inbound.customer.name.is_some() {
                thread.customer = inbound.customer.clone();
            }
            // A customer writing again reopens a resolved conversation and wakes a
            // snoozed one.
            thread.resolved = false;
            thread.snooze = None;
            if let InboundKind::Comment(c) = &inbound.kind
                && c.parent_id.is_none()
            {
                thread.comment_created_at =
                    Some(thread.comment_created_at.map_or(at, |t| t.min(at)));
            }
        }
        Direction::Outbound => {
            thread.unanswered = 0;
            // An echo none of our sends explains (none is in flight on this thread) was
            // written in Meta's own app: someone at the business is handling it.
            if !views.send_in_flight(&thread.id)? {
                thread.owner_replying = true;
            }
        }
    }
    views.put_thread(thread);
    views.put_message(MessageView {
        id: ids::message(&event.tenant, mid),
        tenant: event.tenant.clone(),
        thread: inbound.thread.clone(),
        mid: mid.to_owned(),
        direction: inbound.direction,
        occurred_at: at,
        received_at: event.received_at,
        seq: event.seq,
        content,
        edits: 0,
        deleted: false,
        reactions: Vec::new(),
        status: None,
        status_errors: Vec::new(),
        seen: false,
        hidden: false,
    });
    Ok(())
}

/// Desk events change only the desk state of an existing thread; the decision that they
/// are allowed was made before they were appended (`super::decide`).
fn project_desk(event: &Event, desk: &DeskEvent, views: &mut impl Views) -> Result<(), StoreError> {
    if let DeskAction::CommentHidden { comment_id, hidden } = &desk.action {
        // Shown at once; the outbox carries it to Meta (and records a failure if Meta refuses).
        let content = ReplyContent::HideComment {
            comment_id: comment_id.clone(),
            hidden: *hidden,
        };
        views.put_send(new_send(
            event,
            desk,
            content.preview(),
            Some(content),
            None,
            None,
        ));
        return update_message(views, comment_id, |m| m.hidden = *hidden);
    }
    let Some(mut thread) = views.thread(&desk.thread)? else {
        return Ok(());
    };
    match &desk.action {
        DeskAction::Claimed => thread.assignee = Some(desk.agent.clone()),
        DeskAction::Released => thread.assignee = None,
        DeskAction::DraftEdited { draft } => {
            thread.draft_versions = thread.draft_versions.max(draft.version);
            thread.draft = Some(draft.clone());
            thread.handoff = None;
        }
        DeskAction::HandedOff { reason, .. } => thread.handoff = Some(reason.clone()),
        DeskAction::DraftingResumed => thread.owner_replying = false,
        DeskAction::DraftDiscarded { .. } => thread.draft = None,
        DeskAction::ReplyQueued {
            text,
            from_draft,
            content,
            reply_to,
        } => {
            if from_draft.is_some() {
                thread.draft = None;
            }
            thread.handoff = None;
            thread.replies_queued += 1;
            views.put_send(new_send(
                event,
                desk,
                text.clone(),
                content.clone(),
                reply_to.clone(),
                *from_draft,
            ));
        }
        DeskAction::SendRetried { send } => {
            if let Some(mut view) = views.send(*send)? {
                view.state = SendState::Queued;
                view.retry_at = None;
                views.put_send(view);
            }
        }
        DeskAction::SendDiscarded { send } => {
            if let Some(mut view) = views.send(*send)? {
                view.state = SendState::Abandoned;
                // A reply Meta accepted and later failed was already counted out when sent.
                if view.is_queued_reply() && view.provider_id.is_none() {
                    thread.replies_queued = thread.replies_queued.saturating_sub(1);
                }
                views.put_send(view);
            }
        }
        DeskAction::Resolved => thread.resolved = true,
        DeskAction::Reopened => thread.resolved = false,
        DeskAction::Read { up_to } => {
            match thread.read.iter_mut().find(|(a, _)| *a == desk.agent) {
                Some((_, seen)) => *seen = (*seen).max(*up_to),
                None => thread.read.push((desk.agent.clone(), *up_to)),
            }
        }
        DeskAction::CommentHidden { .. } | DeskAction::NoteAdded { .. } => {}
        DeskAction::Assigned { to } => thread.assignee = Some(to.clone()),
        DeskAction::Snoozed { until } => thread.snooze = Some(Snooze { until: *until }),
        DeskAction::Unsnoozed => thread.snooze = None,
    }
    thread.last_seq = event.seq;
    views.put_thread(thread);
    Ok(())
}

fn new_send(
    event: &Event,
    desk: &DeskEvent,
    text: String,
    content: Option<ReplyContent>,
    reply_to: Option<String>,
    from_draft: Option<u32>,
) -> SendView {
    SendView {
        send: event.seq,
        thread: desk.thread.clone(),
        channel_id: desk.channel_id.clone(),
        text,
        content,
        reply_to,
        from_draft,
        agent: desk.agent.clone(),
        queued_at: event.received_at,
        state: SendState::Queued,
        attempts: 0,
        kind: None,
        provider_id: None,
        failure: None,
        retry_at: None,
        sending_since: None,
        provider_seen: None,
    }
}

/// The callback data the outbox puts on WhatsApp sends: `<tenant>:<send seq>`.
#[must_use]
pub fn send_callback(tenant: &TenantId, send: Seq) -> String {
    format!("{tenant}:{send}")
}

/// A WhatsApp status carrying our callback data proves which send Meta accepted, even when
/// the call's own answer was lost; a `failed` status (e.g. 131047 outside the window, which
/// Meta may report this way instead of refusing the call) fails the send with its class. The
/// credit stays spent: Meta accepted the message.
fn note_send_seen(
    event: &Event,
    status: &DeliveryStatus,
    views: &mut impl Views,
) -> Result<(), StoreError> {
    let Some(seq) = status
        .biz_opaque_callback_data
        .as_deref()
        .and_then(|cb| cb.strip_prefix(event.tenant.as_str()))
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|n| n.parse::<u64>().ok())
    else {
        return Ok(());
    };
    let Some(mut send) = views.send(Seq(seq))? else {
        return Ok(());
    };
    if status.status == StatusKind::Failed {
        let code = status.errors.first().and_then(|e| e.code);
        send.state = SendState::Failed;
        send.failure = Some(crate::meta_errors::classify_status(code));
        send.retry_at = None;
        send.provider_seen
            .get_or_insert_with(|| status.message_id.clone());
        views.put_send(send);
    } else if send.provider_id.is_none() && send.provider_seen.is_none() {
        send.provider_seen = Some(status.message_id.clone());
        views.put_send(send);
    }
    Ok(())
}

/// A send's progress: its own view, the credit it holds, and once sent, the outbound
/// message in the thread.
fn project_outbox(
    event: &Event,
    outbox: &OutboxEvent,
    views: &mut impl Views,
) -> Result<(), StoreError> {
    let Some(mut send) = views.send(outbox.send)? else {
        return Ok(());
    };
    let mut done = false;
    let was_sending = send.state == SendState::Sending;
    match &outbox.status {
        SendStatus::Sending { attempt, kind } => {
            send.state = SendState::Sending;
            send.attempts = *attempt;
            send.kind = Some(*kind);
            send.sending_since = Some(event.received_at);
            send.retry_at = None;
            views.add_credits(credit_change(
                &outbox.status,
                was_sending,
                send.is_message(),
            ));
        }
        SendStatus::Sent {
            provider_id, kind, ..
        } => {
            send.state = SendState::Sent;
            send.kind = Some(*kind);
            send.provider_id = Some(provider_id.clone());
            send.failure = None;
            done = true;
            if send.is_message() {
                add_sent_message(event, &send, provider_id, views)?;
            }
            if *kind == ReplyKind::PrivateReply
                && let Some(mut thread) = views.thread(&send.thread)?
            {
                thread.private_reply_used = true;
                views.put_thread(thread);
            }
        }
        SendStatus::Failed { failure, retry_at } => {
            views.add_credits(credit_change(
                &outbox.status,
                was_sending,
                send.is_message(),
            ));
            send.state = SendState::Failed;
            send.failure = Some(failure.clone());
            send.retry_at = *retry_at;
        }
    }
    if done && let Some(mut thread) = views.thread(&send.thread)? {
        if send.is_queued_reply() {
            thread.replies_queued = thread.replies_queued.saturating_sub(1);
        }
        thread.last_seq = event.seq;
        views.put_thread(thread);
    }
    views.put_send(send);
    Ok(())
}

fn add_sent_message(
    event: &Event,
    send: &SendView,
    provider_id: &str,
    views: &mut impl Views,
) -> Result<(), StoreError> {
    let Some(mut thread) = views.thread(&send.thread)? else {
        return Ok(());
    };
    let at = event.received_at;
    thread.messages += 1;
    thread.unanswered = 0;
    if thread.last_message_at.is_none_or(|t| at >= t) {
        thread.last_message_at = Some(at);
        thread.last_preview = Some(send.text.clone());
    }
    views.put_thread(thread);
    views.put_message(MessageView {
        id: ids::message(&event.tenant, provider_id),
        tenant: event.tenant.clone(),
        thread: send.thread.clone(),
        mid: provider_id.to_owned(),
        direction: Direction::Outbound,
        occurred_at: at,
        received_at: at,
        seq: event.seq,
        content: MessageContent::Message {
            text: Some(send.text.clone()),
            attachments: Vec::new(),
            reply_to: None,
            quick_reply: None,
            structured: None,
            unsupported: false,
        },
        edits: 0,
        deleted: false,
        reactions: Vec::new(),
        status: Some("sent".into()),
        status_errors: Vec::new(),
        seen: false,
        hidden: false,
    });
    Ok(())
}

fn update_message(
    views: &mut impl Views,
    mid: &str,
    change: impl FnOnce(&mut MessageView),
) -> Result<(), StoreError> {
    // An update about a message we never saw (sent before the channel was connected) only
    // stays in the event log.
    if let Some(mut message) = views.message_by_mid(mid)? {
        change(&mut message);
        views.put_message(message);
    }
    Ok(())
}
