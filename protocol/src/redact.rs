//! What removing a customer's data (Meta's data-deletion request) does to an event of
//! their thread: texts, attachments, names and free-form payloads go; ids, times,
//! directions, statuses and counts stay, so threads keep their shape and sends their
//! outcome. The relay applies it to its log; desks apply the same rule to their replicas
//! when a [`crate::AccountEventKind::CustomerRemoved`] event reaches them.

use crate::inbound::{InboundKind, Referral};
use crate::{AccountEventKind, DeskAction, Event, EventBody, ReplyContent};

/// The text a removed reply or draft shows instead of its words.
pub const TOMBSTONE: &str = "[removed at the customer's request]";

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
            DeskAction::NoteAdded { text } => TOMBSTONE.clone_into(text),
            DeskAction::ReplyQueued { text, content, .. } => {
                TOMBSTONE.clone_into(text);
                if !matches!(content, Some(ReplyContent::HideComment { .. })) {
                    *content = None;
                }
            }
            _ => {}
        },
        EventBody::Account(a) => {
            if let AccountEventKind::CustomerProfile { profile, .. } = &mut a.kind {
                *profile = None;
            }
        }
        EventBody::Outbox(_) | EventBody::Credits(_) => {}
        // Raw items carry no thread; the caller removes those that name the customer.
        EventBody::Unknown(u) => "{\"removed\":true}".clone_into(&mut u.raw),
    }
    *e != before
}
