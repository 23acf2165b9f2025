//! What removing a customer's data does to each stored thing, as pure functions shared by
//! backends (`Store::redact_customer`).
//!
//! Texts, attachments, names and free-form payloads go; ids, times, directions, statuses
//! and counts stay, so threads keep their shape, sends their outcome and the evidence chain
//! its records (which hold only SHA-256 digests of the texts, never the texts).

use super::{MessageContent, MessageView, SendState, SendView, ThreadView};
use protocol::{Event, EventBody, ReplyContent};

/// The text a removed reply or draft shows instead of its words.
pub use protocol::redact::TOMBSTONE;

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

/// An event of the customer's thread loses texts, attachments and names (the rule lives
/// in `protocol`, so desks apply it to their replicas too).
pub use protocol::redact::event;

/// The thread an event belongs to, if any.
#[must_use]
pub fn thread_of(e: &Event) -> Option<&protocol::ThreadId> {
    match &e.body {
        EventBody::Inbound(i) => Some(&i.thread),
        EventBody::Desk(d) => Some(&d.thread),
        EventBody::Outbox(o) => Some(&o.thread),
        // A profile answer names its thread, so deleting the customer removes it too.
        EventBody::Account(a) => match &a.kind {
            protocol::AccountEventKind::CustomerProfile { thread, .. } => Some(thread),
            _ => None,
        },
        EventBody::Unknown(_) | EventBody::Credits(_) => None,
    }
}
