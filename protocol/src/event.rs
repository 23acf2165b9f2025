//! The tenant event log's entries: what the relay stores and the desk replays.

use crate::desk::DeskEvent;
use crate::ids::{ChannelId, Seq, TenantId};
use crate::inbound::InboundEvent;
use crate::outbox::OutboxEvent;
use crate::time::Millis;
use serde::{Deserialize, Serialize};

/// One entry of a tenant's event log.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Event {
    pub tenant: TenantId,
    /// Tenant-local, gap-free position in the log.
    pub seq: Seq,
    /// When the relay accepted it (Meta's own time is inside the body).
    pub received_at: Millis,
    pub body: EventBody,
}

/// What an event is about.
// Events are built once and moved a few times; boxing the large variant would only add an
// allocation and noise to every constructor and pattern.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub enum EventBody {
    /// A conversation event from Meta.
    Inbound(InboundEvent),
    /// An account-level notification (mentions, story insights).
    Account(AccountEvent),
    /// A webhook item of a kind the relay does not understand yet, kept verbatim.
    Unknown(UnknownEvent),
    /// Something an agent did in the desk.
    Desk(DeskEvent),
    Outbox(OutboxEvent),
    /// The operator changed the tenant's credits.
    Credits(CreditsEvent),
}

/// A credit top-up (or correction) and the balance after it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CreditsEvent {
    pub added: i64,
    pub balance: i64,
}

/// Notifications about the business's account rather than one conversation.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct AccountEvent {
    pub channel_id: ChannelId,
    pub occurred_at: Millis,
    pub kind: AccountEventKind,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub enum AccountEventKind {
    /// The business was @mentioned in a caption (no comment id) or a comment.
    Mention {
        media_id: Option<String>,
        comment_id: Option<String>,
    },
    /// A story expired; its first-24-hour metrics (Meta may send -1 for small values).
    StoryInsights {
        media_id: Option<String>,
        impressions: Option<i64>,
        reach: Option<i64>,
        taps_forward: Option<i64>,
        taps_back: Option<i64>,
        exits: Option<i64>,
        replies: Option<i64>,
    },
    /// The relay changed the channel's connection: token refreshed, refresh failed,
    /// disconnected, deauthorized, a customer's data removed. Evidence only: `change` is a
    /// short name (`refreshed`, `disconnected`, `customer_redacted`, …) and `detail` holds
    /// non-content facts (counts, failure classes), never tokens, texts or personal data.
    ChannelChanged { change: String, detail: String },
    /// A customer's data was removed from this thread at their request (Meta's
    /// data-deletion callback): every desk rewrites the thread's events it holds with
    /// [`crate::redact::event`] and rebuilds the thread from them.
    CustomerRemoved { thread: crate::ThreadId },
    /// What Instagram's User Profile API said about a thread's customer (meta-platform.md
    /// §6.3), asked by the relay after the customer's first message and at most once a day
    /// after. `profile` is `None` when Meta refused (no consent, blocked, token trouble):
    /// the thread keeps showing the IGSID, and the event's time is when it was last asked.
    /// Added at the end of the enum so older encodings still decode.
    CustomerProfile {
        thread: crate::ThreadId,
        /// The IGSID asked about.
        customer: String,
        profile: Option<CustomerProfile>,
    },
}

/// A customer's Instagram profile as the User Profile API gives it.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct CustomerProfile {
    pub name: Option<String>,
    pub username: Option<String>,
    pub follower_count: Option<u64>,
    /// The customer follows the business (`is_user_follow_business`).
    pub follows_business: Option<bool>,
    /// The business follows the customer (`is_business_follow_user`).
    pub followed_by_business: Option<bool>,
}

/// A webhook item the relay could route to a channel but not interpret.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct UnknownEvent {
    pub channel_id: ChannelId,
    /// The envelope's `object` (`instagram`, `page`, `whatsapp_business_account`, …).
    pub object: String,
    /// The item's field or event key (`messaging_handover`, `account_update`, …).
    pub kind: String,
    /// The item exactly as Meta sent it, as JSON text.
    pub raw: String,
}

impl Event {
    /// The channel an event belongs to.
    /// The channel the event is about; `None` for tenant-wide events (credits).
    #[must_use]
    pub fn channel_id(&self) -> Option<&ChannelId> {
        match &self.body {
            EventBody::Inbound(e) => Some(&e.channel_id),
            EventBody::Account(e) => Some(&e.channel_id),
            EventBody::Unknown(e) => Some(&e.channel_id),
            EventBody::Desk(e) => Some(&e.channel_id),
            EventBody::Outbox(e) => Some(&e.channel_id),
            EventBody::Credits(_) => None,
        }
    }
}

impl EventBody {
    /// A short, stable name of the event's kind, for metrics, logs and tests.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        use crate::inbound::InboundKind as K;
        match self {
            EventBody::Inbound(e) => match &e.kind {
                K::Message(_) => "message",
                K::Reaction(_) => "reaction",
                K::Edit(_) => "edit",
                K::Deleted { .. } => "deleted",
                K::Read { .. } => "read",
                K::Postback(_) => "postback",
                K::Referral(_) => "referral",
                K::Comment(_) => "comment",
                K::Status(_) => "status",
                K::OptIn { .. } => "opt_in",
            },
            EventBody::Account(e) => match &e.kind {
                AccountEventKind::Mention { .. } => "mention",
                AccountEventKind::StoryInsights { .. } => "story_insights",
                AccountEventKind::ChannelChanged { .. } => "channel_changed",
                AccountEventKind::CustomerRemoved { .. } => "customer_removed",
                AccountEventKind::CustomerProfile { .. } => "customer_profile",
            },
            EventBody::Unknown(_) => "unknown",
            EventBody::Desk(_) => "desk",
            EventBody::Outbox(_) => "outbox",
            EventBody::Credits(_) => "credits",
        }
    }
}
