//! Meta's messaging windows as pure functions of a thread and a moment.
//!
//! [`allowed`] says what Meta permits; [`choose`] says what the relay should use, which is
//! stricter: the human-agent tag only after the standard window closed, and never for
//! automation. Deadlines are inclusive: a reply at exactly `until` is still inside.
//!
//! Sources (meta-platform.md §9): Instagram standard window 24 h after the customer's last
//! message; HUMAN_AGENT tag 7 days, human replies only; one private reply per comment within
//! 7 days of the comment; public comment replies have no window; WhatsApp free-form 24 h
//! after the last inbound message, templates at any time; self-messaging has no window.

use crate::customer::Channel;
use crate::time::Millis;
use serde::{Deserialize, Serialize};

pub const STANDARD_WINDOW_MS: i64 = 24 * Millis::HOUR;
pub const HUMAN_AGENT_WINDOW_MS: i64 = 7 * Millis::DAY;
pub const PRIVATE_REPLY_WINDOW_MS: i64 = 7 * Millis::DAY;
pub const WHATSAPP_WINDOW_MS: i64 = 24 * Millis::HOUR;

/// The ways a reply can leave.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum ReplyKind {
    /// An Instagram DM inside the 24 h window.
    Standard,
    /// An Instagram DM tagged `HUMAN_AGENT` (7 days, human-sent only).
    HumanAgent,
    /// A DM answering a comment (once per comment, 7 days).
    PrivateReply,
    /// A public reply under a comment.
    PublicReply,
    /// A free-form WhatsApp message inside the 24 h customer-service window.
    WhatsAppFreeForm,
    /// An approved WhatsApp template, allowed at any time.
    WhatsAppTemplate,
}

/// Who is sending: the tag rules differ for people and for automation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Sender {
    /// Written or approved by a person in the desk.
    Human,
    /// Sent by auto-send without a person.
    Automation,
}

/// What the window rules need to know about a thread.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ThreadWindow {
    pub channel: Option<Channel>,
    /// The customer's last message (DMs and WhatsApp).
    pub last_customer_message_at: Option<Millis>,
    /// When the comment being answered was created (comment threads).
    pub comment_created_at: Option<Millis>,
    /// The comment's single private reply has been used.
    pub private_reply_used: bool,
    /// The business is messaging itself: no window applies.
    pub self_messaging: bool,
}

/// One permitted way to reply, and the last moment it is permitted (`None`: no deadline).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Allowance {
    pub kind: ReplyKind,
    pub until: Option<Millis>,
}

fn open_until(start: Option<Millis>, length: i64, now: Millis) -> Option<Millis> {
    let deadline = start?.plus(length);
    (now <= deadline).then_some(deadline)
}

/// Everything Meta permits for `sender` on this thread at `now`.
#[must_use]
pub fn allowed(thread: &ThreadWindow, sender: Sender, now: Millis) -> Vec<Allowance> {
    let mut out = Vec::new();
    let Some(channel) = thread.channel else {
        return out;
    };
    match channel {
        Channel::InstagramDm => {
            if thread.self_messaging {
                out.push(Allowance {
                    kind: ReplyKind::Standard,
                    until: None,
                });
                return out;
            }
            let last = thread.last_customer_message_at;
            if let Some(until) = open_until(last, STANDARD_WINDOW_MS, now) {
                out.push(Allowance {
                    kind: ReplyKind::Standard,
                    until: Some(until),
                });
            }
            if sender == Sender::Human
                && let Some(until) = open_until(last, HUMAN_AGENT_WINDOW_MS, now)
            {
                out.push(Allowance {
                    kind: ReplyKind::HumanAgent,
                    until: Some(until),
                });
            }
        }
        Channel::InstagramComment => {
            out.push(Allowance {
                kind: ReplyKind::PublicReply,
                until: None,
            });
            if !thread.private_reply_used {
                let created = thread.comment_created_at;
                if let Some(until) = open_until(created, PRIVATE_REPLY_WINDOW_MS, now) {
                    out.push(Allowance {
                        kind: ReplyKind::PrivateReply,
                        until: Some(until),
                    });
                }
            }
        }
        Channel::WhatsApp => {
            let last = thread.last_customer_message_at;
            if let Some(until) = open_until(last, WHATSAPP_WINDOW_MS, now) {
                out.push(Allowance {
                    kind: ReplyKind::WhatsAppFreeForm,
                    until: Some(until),
                });
            }
            out.push(Allowance {
                kind: ReplyKind::WhatsAppTemplate,
                until: None,
            });
        }
    }
    out
}

/// Whether Meta permits `kind` from `sender` at `now`.
#[must_use]
pub fn permits(thread: &ThreadWindow, sender: Sender, kind: ReplyKind, now: Millis) -> bool {
    allowed(thread, sender, now).iter().any(|a| a.kind == kind)
}

/// The kind a free-text conversational reply should use now, if any: the standard window
/// while it is open, the human-agent tag only after it closed and only for people. Comment
/// threads and templates are chosen explicitly by the sender, so they are not answered here.
#[must_use]
pub fn choose(thread: &ThreadWindow, sender: Sender, now: Millis) -> Option<Allowance> {
    let options = allowed(thread, sender, now);
    let pick = |kind| options.iter().copied().find(|a| a.kind == kind);
    match thread.channel? {
        Channel::InstagramDm => pick(ReplyKind::Standard).or_else(|| pick(ReplyKind::HumanAgent)),
        Channel::InstagramComment => None,
        Channel::WhatsApp => pick(ReplyKind::WhatsAppFreeForm),
    }
}

/// A thread's window as the desk shows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum WindowState {
    /// Free replies until the deadline (`None`: no deadline, e.g. comments or self-messaging).
    Open { until: Option<Millis> },
    /// Only a person can still reply, with the human-agent tag.
    HumanAgentOnly { until: Millis },
    /// Only a WhatsApp template can reach the customer.
    TemplateOnly,
    /// Nothing can be sent.
    Closed,
}

/// The state of a thread's conversational window for a human sender at `now`.
#[must_use]
pub fn state(thread: &ThreadWindow, now: Millis) -> WindowState {
    match (thread.channel, choose(thread, Sender::Human, now)) {
        (Some(Channel::InstagramComment), _) => WindowState::Open { until: None },
        (
            _,
            Some(Allowance {
                kind: ReplyKind::HumanAgent,
                until: Some(until),
            }),
        ) => WindowState::HumanAgentOnly { until },
        (_, Some(a)) => WindowState::Open { until: a.until },
        (Some(Channel::WhatsApp), None) => WindowState::TemplateOnly,
        _ => WindowState::Closed,
    }
}

#[cfg(test)]
mod tests;
