//! The partner report's figures for one tenant, as a pure fold over the tenant's event log:
//! what `GET /v1/partners/{partner}/report` answers per tenant. Only counts and durations
//! leave this module — never a text, a customer id, a handle or a message id — because a
//! partner may see volume, outcomes and quality, never contents or contact lists.
//!
//! The report covers the [`DAYS`] UTC days ending today (the day of the `now` given to
//! [`Tally::new`]); every time used is the relay's own `received_at` of an event, never
//! Meta's timestamps, so all figures share one clock (sends have no Meta time at all).
//!
//! Definitions, counted when their deciding event falls inside the period:
//!
//! - **volume**: inbound customer messages, comments and postbacks (button taps), by the
//!   day they arrived; not echoes of the business's own messages, statuses, reactions,
//!   edits, deletions or reads. `inbound_messages` is the sum of `daily`.
//! - **replies**, counted once per message send when it reached `Sent` (sender actions and
//!   comment moderation are not replies), by who wrote the text:
//!   - `auto`: queued by automation — a `ReplyQueued` of the reserved agent `drafter`,
//!     which `Store::propose_draft` records for an auto-sent draft or reply rule;
//!   - `approved`: a person approved a draft (`from_draft`) that the drafter wrote, and the
//!     text sent is the drafter's text unchanged (an edit undone still counts as approved);
//!   - `edited`: a person approved a draft that started as the drafter's but whose text a
//!     person changed;
//!   - `own`: a person's reply with no draft (`send_reply`, `send_message`), or a draft a
//!     person started without a drafter's draft before it.
//! - **first response**: per thread, the clock starts at a customer message that arrives
//!   while the thread has none waiting (later messages before an answer do not restart it)
//!   and stops at the next outbound message: one of our sends reaching `Sent`, or an echo of
//!   a message the business wrote in Meta's own app. Each stop is one sample, in the period
//!   by its stop time; `median` is the middle sample (the lower of the two middle ones for
//!   an even count), `null` without samples.
//! - **held_drafts** (now, not per period): threads whose current draft the classifier held
//!   (`DraftBasis.held` not empty) or whose newest customer message the drafter handed off,
//!   until the draft is sent or discarded, a person drafts, or a reply is queued — the same
//!   rules by which the thread view shows a draft and a hand-off.
//! - **failures**: message sends whose last outcome is a failure — `Failed` with no
//!   automatic retry pending (a person must retry or discard), given up afterwards, or
//!   failed by a WhatsApp status after Meta accepted it — by the time of that failure. A
//!   send still waiting for an automatic retry is not counted yet.
//!
//! Cost: the report reads each tenant's whole log on every request (about one sled range
//! read and one decode per event, plus a few bytes of state per thread and send). That is
//! fine for an occasional dashboard; a partner with millions of events would want these
//! figures maintained per day alongside the thread views instead.

use crate::store::DRAFTER_AGENT;
use protocol::inbound::{InboundKind, StatusKind};
use protocol::{
    DeskAction, DeskEvent, Direction, DraftAuthor, Event, EventBody, InboundEvent, Millis,
    OutboxEvent, SendStatus, Seq, ThreadId,
};
use serde::Serialize;
use std::collections::HashMap;

mod agents;
pub use agents::{AgentFigures, AgentTally};

/// How many UTC days the report covers, today included.
pub const DAYS: usize = 14;

/// One tenant's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Per agent: the owner's report only, so never serialized with the rest (a partner
    /// sees tenants, not the people working in them).
    #[serde(skip)]
    pub agents: Vec<AgentFigures>,
    pub volume: Volume,
    pub replies: Replies,
    pub first_response_ms: FirstResponse,
    pub held_drafts: u64,
    pub failures: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Volume {
    pub inbound_messages: u64,
    /// Oldest day first; the last element is today.
    pub daily: [u64; DAYS],
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Replies {
    pub auto: u64,
    pub approved: u64,
    pub edited: u64,
    pub own: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FirstResponse {
    pub median: Option<i64>,
    pub samples: u64,
}

/// Who wrote a reply's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Auto,
    Approved,
    Edited,
    Own,
}

/// The thread's current draft, as far as the report needs it.
#[derive(Debug)]
struct DraftTrack {
    version: u32,
    /// The drafter's text this draft descends from; `None` when a person started it.
    drafter_text: Option<String>,
    /// Held by the classifier (only the drafter's drafts carry a verdict).
    held: bool,
}

#[derive(Debug, Default)]
struct ThreadTrack {
    draft: Option<DraftTrack>,
    handed_off: bool,
    /// Since when a customer message has waited for an answer.
    waiting_since: Option<Millis>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Pending,
    Sent,
    /// Failed; `retrying`: the outbox will try again by itself.
    Failed {
        retrying: bool,
    },
    /// Given up by a person after it failed.
    Discarded,
}

#[derive(Debug)]
struct SendTrack {
    thread: ThreadId,
    agent: protocol::AgentId,
    /// `None` for sender actions and moderation: not replies.
    origin: Option<Origin>,
    outcome: Outcome,
    counted: bool,
    failed_at: Option<Millis>,
}

/// The report's fold: feed every event of one tenant in log order, then [`Tally::finish`].
#[derive(Debug)]
pub struct Tally {
    first_day: i64,
    figures: Figures,
    samples: Vec<i64>,
    threads: HashMap<ThreadId, ThreadTrack>,
    sends: HashMap<Seq, SendTrack>,
    agents: AgentTally,
}

fn day_of(at: Millis) -> i64 {
    at.0.div_euclid(Millis::DAY)
}

impl Tally {
    /// A fold for the [`DAYS`] UTC days ending with the day of `now`.
    #[must_use]
    pub fn new(now: Millis) -> Tally {
        Tally {
            first_day: day_of(now) - (DAYS as i64 - 1),
            figures: Figures::default(),
            samples: Vec::new(),
            threads: HashMap::new(),
            sends: HashMap::new(),
            agents: AgentTally::new(day_of(now) - (DAYS as i64 - 1)),
        }
    }

    /// The period's day index of `at`, if it falls inside.
    fn day_index(&self, at: Millis) -> Option<usize> {
        usize::try_from(day_of(at) - self.first_day)
            .ok()
            .filter(|i| *i < DAYS)
    }

    fn in_period(&self, at: Millis) -> bool {
        self.day_index(at).is_some()
    }

    /// Takes the next event of the tenant's log.
    pub fn add(&mut self, event: &Event) {
        match &event.body {
            EventBody::Inbound(inbound) => self.inbound(event, inbound),
            EventBody::Desk(desk) => self.desk(event, desk),
            EventBody::Outbox(outbox) => self.outbox(event, outbox),
            EventBody::Account(_) | EventBody::Unknown(_) | EventBody::Credits(_) => {}
        }
    }

    fn inbound(&mut self, event: &Event, inbound: &InboundEvent) {
        let is_message = match &inbound.kind {
            InboundKind::Message(m) => !m.is_self,
            InboundKind::Comment(_) | InboundKind::Postback(_) => true,
            InboundKind::Status(status) => {
                self.failed_status(event, status);
                false
            }
            _ => false,
        };
        if !is_message {
            return;
        }
        let at = event.received_at;
        match inbound.direction {
            Direction::Inbound => {
                if let Some(i) = self.day_index(at) {
                    self.figures.volume.daily[i] += 1;
                    self.figures.volume.inbound_messages += 1;
                }
                let thread = self.threads.entry(inbound.thread.clone()).or_default();
                thread.waiting_since.get_or_insert(at);
                self.agents.customer_wrote(&inbound.thread, at);
            }
            // Written in Meta's app (or the echo of our own send, whose `Sent` came first
            // and already stopped the clock).
            Direction::Outbound => {
                self.answered(&inbound.thread, at);
            }
        }
    }

    /// A WhatsApp `failed` status carrying our callback data fails that send, even after
    /// `Sent` (the store's projection does the same).
    fn failed_status(&mut self, event: &Event, status: &protocol::inbound::DeliveryStatus) {
        if status.status != StatusKind::Failed {
            return;
        }
        let seq = status
            .biz_opaque_callback_data
            .as_deref()
            .and_then(|cb| cb.strip_prefix(event.tenant.as_str()))
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(send) = seq.and_then(|s| self.sends.get_mut(&Seq(s))) {
            send.outcome = Outcome::Failed { retrying: false };
            send.failed_at = Some(event.received_at);
        }
    }

    /// The thread got an answer at `at`: the first-response sample it stopped, if any.
    fn answered(&mut self, thread: &ThreadId, at: Millis) -> Option<i64> {
        let since = self
            .threads
            .get_mut(thread)
            .and_then(|t| t.waiting_since.take())?;
        if !self.in_period(at) {
            return None;
        }
        let sample = since.until(at).max(0);
        self.samples.push(sample);
        Some(sample)
    }

    fn desk(&mut self, event: &Event, desk: &DeskEvent) {
        let thread = self.threads.entry(desk.thread.clone()).or_default();
        match &desk.action {
            DeskAction::DraftEdited { draft } => {
                thread.handed_off = false;
                let track = match &draft.author {
                    DraftAuthor::Drafter => DraftTrack {
                        version: draft.version,
                        drafter_text: Some(draft.text.clone()),
                        held: draft.basis.as_ref().is_some_and(|b| !b.held.is_empty()),
                    },
                    // A person's edit keeps the lineage of the draft it replaced.
                    DraftAuthor::Agent(_) => DraftTrack {
                        version: draft.version,
                        drafter_text: thread.draft.take().and_then(|d| d.drafter_text),
                        held: false,
                    },
                };
                thread.draft = Some(track);
            }
            DeskAction::DraftDiscarded { .. } => thread.draft = None,
            DeskAction::HandedOff { .. } => thread.handed_off = true,
            DeskAction::ReplyQueued {
                text,
                from_draft,
                content,
                ..
            } => {
                thread.handed_off = false;
                let is_message = content
                    .as_ref()
                    .is_none_or(protocol::ReplyContent::is_message);
                let draft = match from_draft {
                    Some(_) => thread.draft.take(),
                    None => None,
                };
                let origin = if desk.agent.as_str() == DRAFTER_AGENT {
                    Origin::Auto
                } else {
                    match draft {
                        Some(DraftTrack {
                            version,
                            drafter_text: Some(original),
                            ..
                        }) if Some(version) == *from_draft => {
                            if original == *text {
                                Origin::Approved
                            } else {
                                Origin::Edited
                            }
                        }
                        _ => Origin::Own,
                    }
                };
                self.sends.insert(
                    event.seq,
                    SendTrack {
                        thread: desk.thread.clone(),
                        agent: desk.agent.clone(),
                        origin: is_message.then_some(origin),
                        outcome: Outcome::Pending,
                        counted: false,
                        failed_at: None,
                    },
                );
            }
            DeskAction::SendRetried { send } => {
                if let Some(s) = self.sends.get_mut(send) {
                    s.outcome = Outcome::Pending;
                }
            }
            DeskAction::SendDiscarded { send } => {
                if let Some(s) = self.sends.get_mut(send) {
                    s.outcome = Outcome::Discarded;
                }
            }
            DeskAction::Resolved => {
                self.agents
                    .resolved(&desk.agent, &desk.thread, event.received_at);
            }
            DeskAction::Reopened => self.agents.reopened(&desk.thread, event.received_at),
            DeskAction::Claimed
            | DeskAction::Released
            | DeskAction::DraftingResumed
            | DeskAction::Read { .. }
            | DeskAction::CommentHidden { .. }
            | DeskAction::NoteAdded { .. }
            | DeskAction::Assigned { .. }
            | DeskAction::Snoozed { .. }
            | DeskAction::Unsnoozed => {}
        }
    }

    fn outbox(&mut self, event: &Event, outbox: &OutboxEvent) {
        let at = event.received_at;
        let in_period = self.in_period(at);
        let Some(send) = self.sends.get_mut(&outbox.send) else {
            return;
        };
        match &outbox.status {
            SendStatus::Sending { .. } => send.outcome = Outcome::Pending,
            SendStatus::Failed { retry_at, .. } => {
                send.outcome = Outcome::Failed {
                    retrying: retry_at.is_some(),
                };
                send.failed_at = Some(at);
            }
            SendStatus::Sent { .. } => {
                send.outcome = Outcome::Sent;
                let Some(origin) = send.origin else {
                    return;
                };
                if !send.counted && in_period {
                    let replies = &mut self.figures.replies;
                    *match origin {
                        Origin::Auto => &mut replies.auto,
                        Origin::Approved => &mut replies.approved,
                        Origin::Edited => &mut replies.edited,
                        Origin::Own => &mut replies.own,
                    } += 1;
                }
                let first = !send.counted;
                send.counted = true;
                let (thread, agent) = (send.thread.clone(), send.agent.clone());
                let waited = self.answered(&thread, at);
                if first {
                    self.agents.sent(&agent, at, waited);
                }
            }
        }
    }

    /// The figures of everything added.
    #[must_use]
    pub fn finish(self) -> Figures {
        let first_day = self.first_day;
        let in_period = |at: Millis| (first_day..first_day + DAYS as i64).contains(&day_of(at));
        let mut figures = self.figures;
        figures.agents = self.agents.finish();
        figures.held_drafts = self
            .threads
            .values()
            .filter(|t| t.handed_off || t.draft.as_ref().is_some_and(|d| d.held))
            .count() as u64;
        figures.failures = self
            .sends
            .values()
            .filter(|s| s.origin.is_some())
            .filter(|s| {
                matches!(
                    s.outcome,
                    Outcome::Failed { retrying: false } | Outcome::Discarded
                )
            })
            .filter(|s| s.failed_at.is_some_and(in_period))
            .count() as u64;
        let mut samples = self.samples;
        samples.sort_unstable();
        figures.first_response_ms = FirstResponse {
            median: match samples.len() {
                0 => None,
                n => Some(samples[(n - 1) / 2]),
            },
            samples: samples.len() as u64,
        };
        figures
    }
}

/// The figures of a whole log at `now`.
#[must_use]
pub fn figures<'a>(events: impl IntoIterator<Item = &'a Event>, now: Millis) -> Figures {
    let mut tally = Tally::new(now);
    for event in events {
        tally.add(event);
    }
    tally.finish()
}

#[cfg(test)]
mod tests;
