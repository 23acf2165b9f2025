//! One inbox row's worth of a thread, kept up to date event by event.
//!
//! The replica stores a [`ThreadSummary`] per thread and updates it in the same transaction
//! that applies an event, so the inbox of a 50,000-thread replica is read at start-up
//! without replaying the log. [`ThreadSummary::apply`] is the only rule for how an event
//! changes a row; it is pure so the same events always give the same inbox.

use protocol::inbound::{InboundKind, StatusKind};
use protocol::outbox::FailureClass;
use protocol::{
    AgentId, Channel, ChannelId, Customer, DeskAction, Direction, DraftAuthor, Event, EventBody,
    Millis, SendStatus, Seq, ThreadId,
};
use serde::{Deserialize, Serialize};

/// How many of a thread's replies a row remembers: the newest few (their echoes and
/// statuses still arrive), plus the failed and unfinished ones a person has to see.
const SENDS_KEPT: usize = 3;
/// Longest preview kept per row, in characters.
const PREVIEW_CHARS: usize = 120;

/// Where one of our replies stands, as the desk shows it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum SendState {
    Queued,
    Sending {
        attempt: u32,
    },
    Sent,
    Delivered,
    Read,
    Failed {
        class: FailureClass,
        message: String,
        retry_at: Option<Millis>,
    },
    Discarded,
}

impl SendState {
    /// A failure a person has to act on (retry or discard); retried-by-itself ones are not.
    #[must_use]
    pub fn needs_person(&self) -> bool {
        matches!(self, SendState::Failed { retry_at: None, .. })
    }

    /// Still on its way to Meta.
    #[must_use]
    pub fn in_flight(&self) -> bool {
        matches!(
            self,
            SendState::Queued
                | SendState::Sending { .. }
                | SendState::Failed {
                    retry_at: Some(_),
                    ..
                }
        )
    }
}

/// One of our replies, as much as a row needs.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SendSummary {
    /// The seq of the `ReplyQueued` event: the reply's id.
    pub send: Seq,
    pub provider_id: Option<String>,
    pub state: SendState,
    /// A message to the customer (costs a credit), not a hide or a sender action.
    pub is_message: bool,
}

/// The draft under review, without its facts (the thread view loads those).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DraftSummary {
    pub version: u32,
    pub by_drafter: bool,
    /// Why the classifier held it (empty: it passed).
    pub held: Vec<String>,
    pub text: String,
}

/// The newest message's first line.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Preview {
    pub text: String,
    pub outbound: bool,
}

/// A thread as the inbox lists it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ThreadSummary {
    pub id: ThreadId,
    pub channel_id: ChannelId,
    pub channel: Channel,
    pub customer: Customer,
    /// Meta's time of the customer's newest message: the messaging window starts here.
    pub last_inbound_at: Option<Millis>,
    pub last_inbound_seq: Seq,
    pub last_message_at: Option<Millis>,
    pub comment_created_at: Option<Millis>,
    /// The newest comment's id (what `h` hides and a private reply answers).
    pub comment_id: Option<String>,
    pub comment_hidden: bool,
    pub private_reply_used: bool,
    pub preview: Option<Preview>,
    pub messages: u32,
    /// Customer messages this agent has not read.
    pub unread: u32,
    pub assignee: Option<AgentId>,
    pub resolved: bool,
    pub draft: Option<DraftSummary>,
    /// The highest draft version ever given here: an edit becomes the next one.
    pub draft_versions: u32,
    /// Why the drafter left the newest message to a person.
    pub handoff: Option<String>,
    /// Someone answered from Meta's own app; drafting pauses here.
    pub owner_replying: bool,
    pub sends: Vec<SendSummary>,
    pub last_seq: Seq,
    /// Put aside (`z`): `Some(None)` until the customer writes, `Some(Some(t))` until `t`
    /// of the relay's clock (the relay then records the wake-up).
    pub snoozed: Option<Option<Millis>>,
}

/// The thread an event belongs to, if any.
#[must_use]
pub fn thread_of(event: &Event) -> Option<&ThreadId> {
    match &event.body {
        EventBody::Inbound(e) => Some(&e.thread),
        EventBody::Desk(e) => Some(&e.thread),
        EventBody::Outbox(e) => Some(&e.thread),
        // A profile answer belongs to its thread (and goes with it on a data deletion).
        EventBody::Account(a) => match &a.kind {
            protocol::AccountEventKind::CustomerProfile { thread, .. } => Some(thread),
            _ => None,
        },
        EventBody::Unknown(_) | EventBody::Credits(_) => None,
    }
}

/// The first line of `text`, cut to [`PREVIEW_CHARS`].
#[must_use]
pub fn clip(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut out: String = line.chars().take(PREVIEW_CHARS).collect();
    if line.chars().count() > PREVIEW_CHARS || text.lines().nth(1).is_some() {
        out.push('…');
    }
    out
}

impl ThreadSummary {
    /// The row after `event`, given the row before it (`None`: not seen yet) and who this
    /// desk is (`me`: read receipts are per agent). Events of other threads, and desk or
    /// outbox events for a thread never seen, leave the row as it was.
    #[must_use]
    pub fn apply(row: Option<ThreadSummary>, event: &Event, me: &AgentId) -> Option<ThreadSummary> {
        match &event.body {
            EventBody::Inbound(inbound) => {
                let mut row = row.unwrap_or_else(|| ThreadSummary {
                    id: inbound.thread.clone(),
                    channel_id: inbound.channel_id.clone(),
                    channel: inbound.channel,
                    customer: inbound.customer.clone(),
                    last_inbound_at: None,
                    last_inbound_seq: Seq(0),
                    last_message_at: None,
                    comment_created_at: None,
                    comment_id: None,
                    comment_hidden: false,
                    private_reply_used: false,
                    preview: None,
                    messages: 0,
                    unread: 0,
                    assignee: None,
                    resolved: false,
                    draft: None,
                    draft_versions: 0,
                    handoff: None,
                    owner_replying: false,
                    sends: Vec::new(),
                    last_seq: event.seq,
                    snoozed: None,
                });
                row.inbound(event.seq, inbound);
                row.last_seq = event.seq;
                Some(row)
            }
            EventBody::Desk(desk) => {
                let mut row = row?;
                row.desk(event.seq, &desk.agent, &desk.action, me);
                row.last_seq = event.seq;
                Some(row)
            }
            EventBody::Outbox(outbox) => {
                let mut row = row?;
                if let Some(send) = row.sends.iter_mut().find(|s| s.send == outbox.send) {
                    send.state = match &outbox.status {
                        SendStatus::Sending { attempt, .. } => {
                            SendState::Sending { attempt: *attempt }
                        }
                        SendStatus::Sent {
                            provider_id, kind, ..
                        } => {
                            send.provider_id = Some(provider_id.clone());
                            if *kind == protocol::window::ReplyKind::PrivateReply {
                                row.private_reply_used = true;
                            }
                            SendState::Sent
                        }
                        SendStatus::Failed { failure, retry_at } => SendState::Failed {
                            class: failure.class,
                            message: failure.message.clone(),
                            retry_at: *retry_at,
                        },
                    };
                }
                row.last_seq = event.seq;
                Some(row)
            }
            EventBody::Account(a) => match &a.kind {
                // Instagram's profile names the customer; a refusal leaves the IGSID.
                protocol::AccountEventKind::CustomerProfile {
                    profile: Some(p), ..
                } => {
                    let mut row = row?;
                    row.customer.name.clone_from(&p.name);
                    row.customer.username.clone_from(&p.username);
                    Some(row)
                }
                _ => row,
            },
            EventBody::Unknown(_) | EventBody::Credits(_) => row,
        }
    }

    fn inbound(&mut self, seq: Seq, inbound: &protocol::InboundEvent) {
        let at = inbound.occurred_at;
        let customer_wrote = |row: &mut Self| {
            row.last_inbound_at = Some(row.last_inbound_at.map_or(at, |t| t.max(at)));
            row.last_inbound_seq = seq;
            row.unread += 1;
            row.resolved = false;
            row.snoozed = None;
            if inbound.customer.username.is_some() || inbound.customer.name.is_some() {
                row.customer = inbound.customer.clone();
            }
        };
        match &inbound.kind {
            InboundKind::Message(body) => {
                if inbound.direction == Direction::Outbound && self.is_ours(&body.mid) {
                    return; // the echo of a reply we sent: already shown as that reply
                }
                self.messages += 1;
                let text = body.text.clone().unwrap_or_else(|| {
                    body.attachments
                        .first()
                        .map(|a| format!("[{}]", crate::model::attachment_label(&a.kind)))
                        .unwrap_or_else(|| "[message]".into())
                });
                self.set_preview(at, &text, inbound.direction == Direction::Outbound);
                match inbound.direction {
                    Direction::Inbound if !body.is_self => customer_wrote(self),
                    Direction::Inbound => {}
                    Direction::Outbound => {
                        if !self.sends.iter().any(|s| s.state.in_flight()) {
                            self.owner_replying = true;
                        }
                    }
                }
            }
            InboundKind::Comment(comment) => {
                self.messages += 1;
                self.set_preview(at, comment.text.as_deref().unwrap_or("[comment]"), false);
                if inbound.direction == Direction::Inbound {
                    customer_wrote(self);
                    self.comment_id = Some(comment.id.clone());
                    self.comment_hidden = false;
                    if comment.parent_id.is_none() {
                        self.comment_created_at =
                            Some(self.comment_created_at.map_or(at, |t| t.min(at)));
                    }
                }
            }
            InboundKind::Postback(postback) => {
                self.messages += 1;
                self.set_preview(at, postback.title.as_deref().unwrap_or("[button]"), false);
                customer_wrote(self);
            }
            InboundKind::Status(status) => {
                let state = match status.status {
                    StatusKind::Delivered => SendState::Delivered,
                    StatusKind::Read | StatusKind::Played => SendState::Read,
                    _ => return,
                };
                self.advance_send(&status.message_id, state);
            }
            InboundKind::Read { mid, .. } => {
                // Instagram's read receipt covers everything up to it: the newest sent reply.
                if let Some(mid) = mid {
                    self.advance_send(mid, SendState::Read);
                } else if let Some(send) = self
                    .sends
                    .iter_mut()
                    .rev()
                    .find(|s| s.provider_id.is_some())
                    && matches!(send.state, SendState::Sent | SendState::Delivered)
                {
                    send.state = SendState::Read;
                }
            }
            InboundKind::Reaction(_)
            | InboundKind::Edit(_)
            | InboundKind::Deleted { .. }
            | InboundKind::Referral(_)
            | InboundKind::OptIn { .. } => {}
        }
    }

    fn desk(&mut self, seq: Seq, agent: &AgentId, action: &DeskAction, me: &AgentId) {
        match action {
            DeskAction::Claimed => self.assignee = Some(agent.clone()),
            DeskAction::Released => self.assignee = None,
            DeskAction::DraftEdited { draft } => {
                self.draft_versions = self.draft_versions.max(draft.version);
                self.draft = Some(DraftSummary {
                    version: draft.version,
                    by_drafter: draft.author == DraftAuthor::Drafter,
                    held: draft
                        .basis
                        .as_ref()
                        .map(|b| b.held.clone())
                        .unwrap_or_default(),
                    text: draft.text.clone(),
                });
                self.handoff = None;
            }
            DeskAction::DraftDiscarded { .. } => self.draft = None,
            DeskAction::ReplyQueued {
                from_draft,
                content,
                ..
            } => {
                if from_draft.is_some() {
                    self.draft = None;
                }
                self.handoff = None;
                self.sends.push(SendSummary {
                    send: seq,
                    provider_id: None,
                    state: SendState::Queued,
                    is_message: content
                        .as_ref()
                        .is_none_or(protocol::ReplyContent::is_message),
                });
                self.trim_sends();
            }
            DeskAction::SendRetried { send } => self.set_send(*send, SendState::Queued),
            DeskAction::SendDiscarded { send } => self.set_send(*send, SendState::Discarded),
            DeskAction::HandedOff { reason, .. } => self.handoff = Some(reason.clone()),
            DeskAction::DraftingResumed => self.owner_replying = false,
            DeskAction::Resolved => self.resolved = true,
            DeskAction::Reopened => self.resolved = false,
            DeskAction::Read { up_to } => {
                if agent == me && *up_to >= self.last_inbound_seq {
                    self.unread = 0;
                }
            }
            DeskAction::CommentHidden { comment_id, hidden } => {
                if self.comment_id.as_deref() == Some(comment_id.as_str()) {
                    self.comment_hidden = *hidden;
                }
            }
            // A note changes nothing a row shows: it is not a message and needs no one.
            DeskAction::NoteAdded { .. } => {}
            DeskAction::Assigned { to } => self.assignee = Some(to.clone()),
            DeskAction::Snoozed { until } => self.snoozed = Some(*until),
            DeskAction::Unsnoozed => self.snoozed = None,
        }
    }

    fn set_preview(&mut self, at: Millis, text: &str, outbound: bool) {
        if self.last_message_at.is_none_or(|t| at >= t) {
            self.last_message_at = Some(at);
            self.preview = Some(Preview {
                text: clip(text),
                outbound,
            });
        }
    }

    fn is_ours(&self, mid: &str) -> bool {
        self.sends
            .iter()
            .any(|s| s.provider_id.as_deref() == Some(mid))
    }

    fn set_send(&mut self, send: Seq, state: SendState) {
        if let Some(s) = self.sends.iter_mut().find(|s| s.send == send) {
            s.state = state;
        }
    }

    /// Statuses only move forward: a late "delivered" never undoes "read".
    fn advance_send(&mut self, provider_id: &str, state: SendState) {
        let rank = |s: &SendState| match s {
            SendState::Sent => 1,
            SendState::Delivered => 2,
            SendState::Read => 3,
            _ => 0,
        };
        if let Some(s) = self
            .sends
            .iter_mut()
            .find(|s| s.provider_id.as_deref() == Some(provider_id))
            && rank(&s.state) > 0
            && rank(&state) > rank(&s.state)
        {
            s.state = state;
        }
    }

    /// Keeps the newest reply and the failures a person must see; finished older ones go.
    fn trim_sends(&mut self) {
        while self.sends.len() > SENDS_KEPT {
            let newest = self.sends.len() - 1;
            let victim = self
                .sends
                .iter()
                .take(newest)
                .position(|s| !s.state.needs_person() && !s.state.in_flight())
                .unwrap_or(0);
            self.sends.remove(victim);
        }
    }

    /// The reply a row reports: a failure needing a person first, else the newest.
    #[must_use]
    pub fn headline_send(&self) -> Option<&SendSummary> {
        self.sends
            .iter()
            .rev()
            .find(|s| s.state.needs_person())
            .or_else(|| {
                self.sends
                    .iter()
                    .rev()
                    .find(|s| s.state != SendState::Discarded)
            })
    }

    /// The messaging-window facts of this thread.
    #[must_use]
    pub fn window(&self) -> protocol::window::ThreadWindow {
        protocol::window::ThreadWindow {
            channel: Some(self.channel),
            last_customer_message_at: self.last_inbound_at,
            comment_created_at: self.comment_created_at,
            private_reply_used: self.private_reply_used,
            self_messaging: false,
        }
    }
}

#[cfg(test)]
mod tests;

/// Length left for a reply on `channel`: Instagram counts UTF-8 bytes (1000), WhatsApp
/// characters (4096). Negative when over.
#[must_use]
pub fn length_left(channel: Channel, text: &str) -> i64 {
    let (limit, used) = match channel {
        Channel::InstagramDm | Channel::InstagramComment => (1000, text.len()),
        Channel::WhatsApp => (4096, text.chars().count()),
    };
    limit - i64::try_from(used).unwrap_or(i64::MAX)
}
