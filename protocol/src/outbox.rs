//! What happened to a queued reply on its way to Meta, as events of the tenant's log.
//!
//! A reply is identified by the sequence number of the `ReplyQueued` desk event that queued
//! it (`send`). Its life is `Sending` (recorded, with its credit taken, *before* the Graph
//! call) → `Sent` (Meta's message id) or `Failed` (a typed class and a sentence for people);
//! a transient failure names when it is retried. Delivery and read statuses arrive later as
//! inbound status events about the provider id. [`credit_change`] is how each status moves
//! the tenant's credit balance. A person retries or gives up a failed reply
//! with desk commands (`SendRetried`, `SendDiscarded` desk events).

use crate::ids::{ChannelId, Seq, ThreadId};
use crate::time::Millis;
use crate::window::ReplyKind;
use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OutboxEvent {
    pub channel_id: ChannelId,
    pub thread: ThreadId,
    /// Sequence number of the `ReplyQueued` event this is about.
    pub send: Seq,
    pub status: SendStatus,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    /// The Graph call is about to be made; one credit is taken.
    Sending { attempt: u32, kind: ReplyKind },
    /// Meta accepted it (`provider_id` is the `mid` / `wamid`). `reconciled`: found in
    /// Meta's records after a restart rather than from the call's answer.
    Sent {
        provider_id: String,
        kind: ReplyKind,
        reconciled: bool,
    },
    /// The attempt failed and its credit was given back. `retry_at`: when the outbox tries
    /// again on its own; `None`: it waits for a person (retry or discard).
    Failed {
        failure: SendFailure,
        retry_at: Option<Millis>,
    },
}

/// Why a send failed, and what a person can do about it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SendFailure {
    pub class: FailureClass,
    /// Meta's error code and subcode, when Meta answered with one.
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    /// A sentence for the desk saying what happened and what to do.
    pub message: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// Meta's messaging window is closed for this kind of reply.
    OutsideWindow,
    /// The customer cannot receive messages (blocked, deleted, unavailable).
    RecipientUnavailable,
    /// Meta throttled the account; retried after the back-off.
    RateLimited,
    /// The access token is expired or revoked: the channel needs reconnecting.
    TokenInvalid,
    /// The app lacks a permission or feature for this send.
    Permission,
    /// A temporary failure (5xx, timeouts, Meta's "try again"): retried with back-off.
    Transient,
    /// Meta refused the message itself; sending it again would fail again.
    Permanent,
    /// The tenant has no credits left.
    NoCredits,
}

/// How a send's status changes the tenant's credit balance — the one rule the relay's
/// projection and a desk's display share. A message takes one credit when its attempt is
/// recorded (`Sending`) and gives it back when that attempt fails; sender actions and
/// moderation cost nothing. `was_sending`: the send's state before this status.
#[must_use]
pub fn credit_change(status: &SendStatus, was_sending: bool, is_message: bool) -> i64 {
    match status {
        _ if !is_message => 0,
        SendStatus::Sending { .. } => -1,
        SendStatus::Failed { .. } if was_sending => 1,
        SendStatus::Failed { .. } | SendStatus::Sent { .. } => 0,
    }
}

impl FailureClass {
    /// Whether the outbox retries on its own.
    #[must_use]
    pub fn retried(self) -> bool {
        matches!(self, FailureClass::RateLimited | FailureClass::Transient)
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FailureClass::OutsideWindow => "outside_window",
            FailureClass::RecipientUnavailable => "recipient_unavailable",
            FailureClass::RateLimited => "rate_limited",
            FailureClass::TokenInvalid => "token_invalid",
            FailureClass::Permission => "permission",
            FailureClass::Transient => "transient",
            FailureClass::Permanent => "permanent",
            FailureClass::NoCredits => "no_credits",
        }
    }
}
