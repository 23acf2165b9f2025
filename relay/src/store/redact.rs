//! What removing a customer's data does to each stored thing, as pure functions shared by
//! backends (`Store::redact_customer`).
//!
//! Texts, attachments, names and free-form payloads go; ids, times, directions, statuses
//! and counts stay, so threads keep their shape, sends their outcome and the evidence chain
//! its records (which hold only SHA-256 digests of the texts, never the texts).

use super::{MessageContent, MessageView, SendState, SendView, ThreadView};
use protocol::inbound::{InboundKind, Referral};
use protocol::{DeskAction, Event, EventBody, ReplyContent};

/// The text a removed reply or draft shows instead of its words.
pub const TOMBSTONE: &str = "[removed at the customer's request]";

/// The customer's names and the thread's copies of texts (preview, draft).
pub fn thread(t: &mut ThreadView) {
    t.customer.name = None;
    t.customer.username = None;
    t.last_preview = None;
    if let Some(d) = &mut t.draft {
        TOMBSTONE.clone_into(&mut d.text);
        d.basis = None;
    }
}

/// A message view becomes a tombstone; reactions' emoji and error texts go too.
pub fn message(m: &mut MessageView) {
    m.content = MessageContent::Removed;
    m.reactions.clear();
    for e in &mut m.status_errors {
        e.message = None;
        e.details = None;
    }
}

/// A reply loses its words; an unfinished one is abandoned so the outbox never sends the
/// tombstone. Answers whether anything changed.
pub fn send(s: &mut SendView) -> bool {
    let before = s.clone();
    TOMBSTONE.clone_into(&mut s.text);
    if !matches!(s.content, Some(ReplyContent::HideComment { .. })) {
        s.content = None;
    }
    if !s.is_finished() {
        s.state = SendState::Abandoned;
        s.retry_at = None;
    }
    *s != before
}

/// An event of the customer's thread loses texts, attachments and names. Answers whether
/// anything changed.
pub fn event(e: &mut Event) -> bool {
    let before = e.clone();
    match &mut e.body {
        EventBody::Inbound(i) => {
            i.customer.name = None;
            i.customer.username = None;
            match &mut i.kind {
                InboundKind::Message(m) => {
                    m.text = None;
                    m.attachments.clear();
                    m.quick_reply = None;
                    m.referral = None;
                    m.structured = None;
                    for err in &mut m.errors {
                        err.message = None;
                        err.details = None;
                    }
                }
                InboundKind::Edit(x) => x.text = None,
                InboundKind::Comment(c) => c.text = None,
                InboundKind::Postback(p) => {
                    p.title = None;
                    p.payload = None;
                    p.referral = None;
                }
                InboundKind::Referral(r) => *r = Referral::default(),
                InboundKind::Reaction(r) => {
                    r.reaction = None;
                    r.emoji = None;
                }
                InboundKind::OptIn { raw } => raw.clear(),
                InboundKind::Deleted { .. } | InboundKind::Read { .. } | InboundKind::Status(_) => {
                }
            }
        }
        EventBody::Desk(d) => match &mut d.action {
            DeskAction::DraftEdited { draft } => {
                TOMBSTONE.clone_into(&mut draft.text);
                draft.basis = None;
            }
            DeskAction::ReplyQueued { text, content, .. } => {
                TOMBSTONE.clone_into(text);
                if !matches!(content, Some(ReplyContent::HideComment { .. })) {
                    *content = None;
                }
            }
            _ => {}
        },
        EventBody::Outbox(_) | EventBody::Account(_) | EventBody::Credits(_) => {}
        // Raw items carry no thread; the caller removes those that name the customer.
        EventBody::Unknown(u) => "{\"removed\":true}".clone_into(&mut u.raw),
    }
    *e != before
}

/// The thread an event belongs to, if any.
#[must_use]
pub fn thread_of(e: &Event) -> Option<&protocol::ThreadId> {
    match &e.body {
        EventBody::Inbound(i) => Some(&i.thread),
        EventBody::Desk(d) => Some(&d.thread),
        EventBody::Outbox(o) => Some(&o.thread),
        EventBody::Account(_) | EventBody::Unknown(_) | EventBody::Credits(_) => None,
    }
}
