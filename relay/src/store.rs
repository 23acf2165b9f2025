//! Storage behind one trait: the registry (partners, tenants, agents, channels) and, per
//! tenant, the event log with its thread and message views.
//!
//! Tenant data is reachable only through a [`TenantScope`]; the registry lookups that need
//! no scope (token hash → agent, account id → channel) are what *derive* scopes. Appends are
//! atomic per call (event, de-duplication key, head, views) and become durable at the next
//! [`Store::sync`], which concurrent callers share (group commit).

pub mod backend;
pub mod checkpoint;
pub mod cluster;
pub mod commit;
#[cfg(test)]
mod conformance;
pub mod decide;
pub mod domain;
pub mod group;
pub mod pg;
pub mod project;
pub mod redact;
pub mod sled;
pub mod wal;

use crate::principal::TenantScope;
use async_trait::async_trait;
use protocol::canned::CannedReply;
use protocol::inbound::{Attachment, ProviderError, ReplyTo, Structured};
use protocol::window::{ReplyKind, ThreadWindow};
use protocol::{
    AgentId, Answer, Channel, ChannelId, Command, CommandKey, Customer, Direction, Draft,
    DraftBasis, Event, EventBody, MessageId, Millis, PartnerId, ReplyContent, Role, SendFailure,
    Seq, TenantId, ThreadId,
};
use serde::{Deserialize, Serialize};

/// Where an item may be routed: Meta's id of the business account it concerns.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum RouteKey {
    /// An Instagram professional account id (`17841…`) or a Facebook Page id.
    Instagram(String),
    /// A WhatsApp `phone_number_id`.
    WhatsApp(String),
}

// Clone: one group append step's error answers each of its callers.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(String),
    #[error("storage failed: {0}")]
    Backend(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    /// Routes changed after the webhook's items were routed from a remembered answer
    /// ([`Store::route`]): nothing was stored; route them again.
    #[error("routes changed since the items were routed")]
    RoutesChanged,
}

/// The channel a webhook item routes to ([`Store::route`]), with the routing generation
/// it was answered at when the answer came from memory (PostgreSQL); pass it to
/// [`Store::append_routed`], which refuses to store if routes changed since.
#[derive(Clone, Debug)]
pub struct Routed {
    /// Routing (tenant, channel id) is current as of `generation`; the rest of the record
    /// may be older (ingest uses only the ids).
    pub channel: std::sync::Arc<ChannelRecord>,
    pub generation: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerRecord {
    pub id: PartnerId,
    pub name: String,
    /// The name tenants see (desk header, browser pages); falls back to `name`.
    pub brand: Option<String>,
    pub created_at: Millis,
}

impl PartnerRecord {
    /// What tenants and the partner's viewers are shown: the brand, else the name.
    #[must_use]
    pub fn brand_or_name(&self) -> &str {
        self.brand.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub id: TenantId,
    pub partner: PartnerId,
    pub name: String,
    pub created_at: Millis,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentKind {
    Tenant { tenant: TenantId, role: Role },
    PartnerViewer { partner: PartnerId },
}

/// A person with a bearer token. The token itself is never stored, only its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    pub id: AgentId,
    pub name: String,
    pub kind: AgentKind,
    pub token_hash: String,
    pub created_at: Millis,
}

impl AgentRecord {
    /// The principal this agent record stands for.
    #[must_use]
    pub fn principal(&self) -> crate::principal::Principal {
        use crate::principal::Principal;
        match &self.kind {
            AgentKind::Tenant { tenant, role } => Principal::TenantAgent {
                tenant: tenant.clone(),
                agent: self.id.clone(),
                role: *role,
            },
            AgentKind::PartnerViewer { partner } => Principal::PartnerViewer {
                partner: partner.clone(),
                viewer: self.id.clone(),
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Instagram,
    Whatsapp,
}

/// A connected account of a tenant. `sealed_token` is a vault value, never plaintext.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRecord {
    pub id: ChannelId,
    pub tenant: TenantId,
    pub kind: ChannelKind,
    /// Instagram professional account id, or the WhatsApp `phone_number_id`.
    pub account_id: String,
    pub page_id: Option<String>,
    pub username: Option<String>,
    pub waba_id: Option<String>,
    pub sealed_token: Option<String>,
    pub created_at: Millis,
    /// When Meta said the sealed token expires (`None`: never, or not known).
    pub token_expires_at: Option<Millis>,
    /// How it was connected: "instagram", "facebook", "whatsapp_embedded_signup", "operator"
    /// (configured by the operator, its token checked with Meta), or "manual" (created by raw
    /// id before owners were refused that; unproven).
    pub login: Option<String>,
    /// The Instagram app-scoped user id, or the Facebook user id who connected it.
    pub app_user_id: Option<String>,
    pub profile_picture_url: Option<String>,
    pub followers_count: Option<i64>,
    /// Why a person must reconnect the channel (refresh failed, token near expiry,
    /// disconnected); `None` while it works. A new connection replaces the record.
    pub needs_reconnect: Option<Reconnect>,
}

/// Why and since when a channel waits for a person to connect it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconnect {
    /// A sentence for the owner, without tokens or Meta's raw error text.
    pub reason: String,
    pub since: Millis,
    /// Disconnected on purpose (owner, operator, Meta's deauthorize): no token, no routes.
    pub disconnected: bool,
}

/// A change to one channel record, run under the registry's lock: it gets the stored
/// record and answers the new one, or `None` to leave it as it is.
pub type ChannelChange = Box<dyn FnOnce(&ChannelRecord) -> Option<ChannelRecord> + Send>;

/// What [`Store::modify_channel`] left: the record as stored afterwards, and whether the
/// change wrote it (`false` when it declined), so callers record evidence only of changes.
#[derive(Clone, Debug)]
pub struct Modified {
    pub record: ChannelRecord,
    pub changed: bool,
}

/// A data-deletion request from Meta and how far it got (its status page reads this).
/// Counts only: no user id, no contents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionRecord {
    /// `received`, `in_progress` or `done`.
    pub state: String,
    /// The name the status page shows (a partner's brand, else its name).
    pub brand: String,
    pub received_at: Millis,
    pub finished_at: Option<Millis>,
    pub channels_disconnected: u64,
    pub threads: u64,
    pub messages: u64,
}

/// What deleting a tenant removed (`Store::delete_tenant`): counts only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRemoved {
    /// Events of its log (and their audit records).
    pub events: u64,
    /// Every stored key of its data (events, views, indexes, settings, knowledge, credits).
    pub keys: u64,
    /// People whose tokens were destroyed.
    pub agents: u64,
    /// Channel records and their routes.
    pub channels: u64,
    /// Unused connect links, OAuth states and choices of the tenant.
    pub single_use: u64,
}

/// The record a tenant's deletion leaves, kept in the registry outside the tenant's data
/// (so it survives it): who, when, what was removed, and the evidence chain's last head,
/// against which an export taken earlier can still be checked. No contents, no tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantDeletion {
    pub tenant: TenantId,
    pub partner: PartnerId,
    pub name: String,
    pub deleted_at: Millis,
    /// The chain head before deletion: seq and hex hash of its newest audit record.
    pub head_seq: u64,
    pub head_hash: String,
    /// Per channel: its kind, and what Meta answered to the unsubscribe (`ok`,
    /// `skipped`, `failed <class>`).
    pub unsubscribed: Vec<(ChannelId, String)>,
    pub removed: TenantRemoved,
    /// How far the deletion got; kept first, so a relay that stops in the middle finishes
    /// it at its next start (`lifecycle::resume_deletions`).
    pub stage: DeletionStage,
    /// Hashes of the tenant's people's tokens when it was deleted, so a desk that was
    /// offline then is told at its next connect that the tenant is gone (and erases its
    /// copy) rather than that its token is wrong. Never part of an answer.
    pub token_hashes: Vec<String>,
    /// How many starts of the relay took up this deletion after it was cut short.
    pub resumed: u32,
}

/// The steps of a tenant deletion, in order; each is recorded before the next begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletionStage {
    /// The record exists; channels may still be connected, nothing is removed.
    Started,
    /// Channels disconnected and the chain head recorded; the data is being removed.
    Removing,
    /// Everything is removed; desks were told.
    Finished,
}

impl TenantRemoved {
    /// Adds what a later (resumed) removal step found to what an earlier one removed.
    pub fn add(&mut self, more: &TenantRemoved) {
        self.events += more.events;
        self.keys += more.keys;
        self.agents += more.agents;
        self.channels += more.channels;
        self.single_use += more.single_use;
    }
}

/// What removing one customer's data changed in one thread (`Store::redact_customer`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redacted {
    pub thread: ThreadId,
    pub channel_id: ChannelId,
    /// Message views whose content became a tombstone.
    pub messages: u64,
    /// Logged events whose texts were removed (their audit records are unchanged).
    pub events: u64,
    /// Replies whose text was removed; unfinished ones are abandoned.
    pub sends: u64,
}

impl ChannelRecord {
    /// The account ids webhooks for this channel are routed by.
    #[must_use]
    pub fn route_keys(&self) -> Vec<RouteKey> {
        // A disconnected channel's ids are cleared (empty), so nothing routes to it.
        let ids = std::iter::once(&self.account_id)
            .chain(self.page_id.as_ref())
            .filter(|id| !id.is_empty());
        match self.kind {
            ChannelKind::Instagram => ids.map(|id| RouteKey::Instagram(id.clone())).collect(),
            ChannelKind::Whatsapp => ids
                .take(1)
                .map(|id| RouteKey::WhatsApp(id.clone()))
                .collect(),
        }
    }

    /// Disconnected on purpose (see [`Reconnect::disconnected`]).
    /// Whether Meta or the operator vouched for the account: a connect flow made it, or the
    /// operator did. Channels an owner once created by raw id (`manual`) did not.
    #[must_use]
    pub fn is_proven(&self) -> bool {
        matches!(
            self.login.as_deref(),
            Some("instagram" | "facebook" | "whatsapp_embedded_signup" | "operator")
        )
    }

    #[must_use]
    pub fn is_disconnected(&self) -> bool {
        self.needs_reconnect
            .as_ref()
            .is_some_and(|r| r.disconnected)
    }
}

/// A single-use record (a connect link or an OAuth `state`), stored under a hash of its
/// secret so the secret itself is never on disk; see `crate::connect`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnceRecord {
    pub tenant: TenantId,
    /// What the secret is for: `link`, `state` or `choice`.
    pub purpose: String,
    /// `instagram`, `facebook` or `whatsapp`.
    pub kind: String,
    pub expires_at: Millis,
    /// What the flow keeps between two requests (a Page chooser's candidates, tokens
    /// included), sealed with the vault and bound to this record's key; never in a page.
    pub sealed: Option<String>,
}

/// An event to append; the store assigns the tenant and the sequence number.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// Meta's identity of the item; a second append with the same key is a duplicate.
    pub dedup_key: String,
    pub received_at: Millis,
    pub body: EventBody,
}

/// What became of one appended event.
// Appends return a handful of these per request; boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Appended {
    Stored(Event),
    /// Already in the log at this position (a retried delivery).
    Duplicate(Seq),
}

/// One conversation as the admin API and the desk list it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThreadView {
    pub id: ThreadId,
    pub tenant: TenantId,
    pub channel_id: ChannelId,
    pub channel: Channel,
    pub customer: Customer,
    /// Meta's time of the customer's last message (opens the messaging window).
    pub last_inbound_at: Option<Millis>,
    /// Meta's time of the newest message either way (threads order by it).
    pub last_message_at: Option<Millis>,
    /// When the comment that started a comment thread was made (private-reply window).
    pub comment_created_at: Option<Millis>,
    pub messages: u64,
    pub inbound: u64,
    /// Customer messages since the business last wrote.
    pub unanswered: u64,
    pub last_preview: Option<String>,
    pub first_seq: Seq,
    pub last_seq: Seq,
    /// The agent working the thread (advisory: it blocks other agents' claims and releases).
    pub assignee: Option<AgentId>,
    pub resolved: bool,
    /// The reply under review, if any.
    pub draft: Option<Draft>,
    /// The highest draft version ever given on this thread, so versions never repeat even
    /// after a discard or send.
    pub draft_versions: u32,
    /// Replies queued for sending from the desk.
    pub replies_queued: u64,
    /// The comment's one private reply has been sent.
    pub private_reply_used: bool,
    /// Why the drafter left the newest message to a person, until someone drafts or replies.
    pub handoff: Option<String>,
    /// Someone at the business answered from the native app: drafting and auto-send pause
    /// here until an agent resumes them.
    pub owner_replying: bool,
    /// How far each agent has read (seq of the tenant's log).
    pub read: Vec<(AgentId, Seq)>,
    /// Put aside by an agent until a time or the customer's next message.
    pub snooze: Option<Snooze>,
}

/// A thread put aside (`Command::Snooze`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snooze {
    /// When it wakes by the relay's clock; `None`: only when the customer writes.
    pub until: Option<Millis>,
}

impl ThreadView {
    /// `dm` or `comment`, as the admin API names thread kinds.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self.channel {
            Channel::InstagramComment => "comment",
            Channel::InstagramDm | Channel::WhatsApp => "dm",
        }
    }

    /// The inputs of the window rules for this thread.
    #[must_use]
    pub fn window(&self) -> ThreadWindow {
        ThreadWindow {
            channel: Some(self.channel),
            last_customer_message_at: self.last_inbound_at,
            comment_created_at: self.comment_created_at,
            private_reply_used: self.private_reply_used,
            self_messaging: false,
        }
    }
}

/// What a stored message holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MessageContent {
    Message {
        text: Option<String>,
        attachments: Vec<Attachment>,
        reply_to: Option<ReplyTo>,
        quick_reply: Option<String>,
        structured: Option<Structured>,
        unsupported: bool,
    },
    Comment {
        text: Option<String>,
        media_id: Option<String>,
        parent_id: Option<String>,
    },
    Postback {
        title: Option<String>,
        payload: Option<String>,
    },
    /// Removed at the customer's request (Meta's data-deletion callback): a tombstone.
    Removed,
}

/// One message of a thread, with everything later events said about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    pub id: MessageId,
    pub tenant: TenantId,
    pub thread: ThreadId,
    /// Meta's id (`mid`, comment id, `wamid`).
    pub mid: String,
    pub direction: Direction,
    pub occurred_at: Millis,
    pub received_at: Millis,
    pub seq: Seq,
    pub content: MessageContent,
    pub edits: u32,
    pub deleted: bool,
    /// Current reactions (emoji or Instagram's reaction name).
    pub reactions: Vec<String>,
    /// Latest delivery status of an outbound message.
    pub status: Option<String>,
    pub status_errors: Vec<ProviderError>,
    pub seen: bool,
    /// A comment hidden by an agent.
    pub hidden: bool,
}

/// The agent id the relay's drafter acts as in `Desk` events.
pub const DRAFTER_AGENT: &str = "drafter";

/// What the drafter proposes for a thread's newest customer message.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    pub thread: ThreadId,
    /// The event of the customer message it answers.
    pub answering: Seq,
    pub at: Millis,
    pub outcome: ProposalOutcome,
    /// A rule's own auto-send choice, overriding the tenant's.
    pub auto_send: Option<bool>,
    /// A rule asks to hide this comment (spam).
    pub hide_comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ProposalOutcome {
    Draft {
        text: String,
        basis: DraftBasis,
    },
    HandOff {
        reason: String,
        intents: Vec<String>,
    },
    /// Nothing to say (a rule that only hides a comment).
    Quiet,
}

/// A tenant's own rules for the relay (`PUT /v1/tenants/{t}/settings`). Drafting adds its
/// reply rules and classifier options here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    /// Send drafts that pass the classifier without waiting for approval.
    pub auto_send: bool,
    /// Agents may hide and unhide comments on the business's media.
    pub hide_comments: bool,
    /// Ordered reply rules, tried before the drafter (`crate::rules`).
    pub rules: Vec<crate::rules::ReplyRule>,
    /// A holding reply drafted (never auto-sent) when the drafter hands a message to a
    /// person, e.g. "Thanks, a colleague will answer shortly".
    pub default_reply: Option<String>,
    /// Agents (not only owners) may assign threads to one another.
    #[serde(default)]
    pub agents_assign: bool,
}

/// Where a queued reply stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SendState {
    Queued,
    /// Recorded before the Graph call; after a crash this means "in doubt".
    Sending,
    Sent,
    Failed,
    Abandoned,
}

impl SendState {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            SendState::Queued => "queued",
            SendState::Sending => "sending",
            SendState::Sent => "sent",
            SendState::Failed => "failed",
            SendState::Abandoned => "abandoned",
        }
    }
}

/// One queued reply and what became of it, keyed by the sequence number of the
/// `ReplyQueued` event that created it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SendView {
    pub send: Seq,
    pub thread: ThreadId,
    pub channel_id: ChannelId,
    pub text: String,
    /// What is sent when it is more than `text` alone.
    pub content: Option<ReplyContent>,
    pub reply_to: Option<String>,
    pub from_draft: Option<u32>,
    pub agent: AgentId,
    pub queued_at: Millis,
    pub state: SendState,
    pub attempts: u32,
    pub kind: Option<ReplyKind>,
    pub provider_id: Option<String>,
    pub failure: Option<SendFailure>,
    /// When the outbox retries a failed send on its own.
    pub retry_at: Option<Millis>,
    /// When the current attempt was recorded (for reconciliation after a crash).
    pub sending_since: Option<Millis>,
    /// The message id a WhatsApp status webhook reported for this send (matched by our
    /// `biz_opaque_callback_data`): proof it reached Meta even if the call's answer did not.
    pub provider_seen: Option<String>,
}

impl SendView {
    /// Queued by auto-send, without a person: never sent with the human-agent tag.
    #[must_use]
    pub fn is_automated(&self) -> bool {
        self.agent.as_str() == DRAFTER_AGENT
    }

    /// Sent or given up: the outbox has nothing more to do with it.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(self.state, SendState::Sent | SendState::Abandoned)
    }

    /// A message to the customer (costs a credit, shows in the thread), not a sender action
    /// or moderation.
    #[must_use]
    pub fn is_message(&self) -> bool {
        self.content.as_ref().is_none_or(ReplyContent::is_message)
    }

    /// Failed because Meta refused the channel's token, and waiting for a person to
    /// reconnect and retry: the outbox stops sending on that channel meanwhile.
    #[must_use]
    pub fn waits_for_reconnection(&self) -> bool {
        self.state == SendState::Failed
            && self.retry_at.is_none()
            && self
                .failure
                .as_ref()
                .is_some_and(|f| f.class == protocol::FailureClass::TokenInvalid)
    }

    /// Queued as a reply (counted in the thread's `replies_queued`), not as moderation.
    #[must_use]
    pub fn is_queued_reply(&self) -> bool {
        !matches!(self.content, Some(ReplyContent::HideComment { .. }))
    }
}

/// A desk command to apply atomically with its idempotency record.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandRequest {
    pub agent: AgentId,
    pub role: Role,
    pub key: CommandKey,
    pub command: Command,
    pub received_at: Millis,
    /// What the caller checked outside the tenant's lock, for the decision.
    pub vetted: Vetted,
}

/// Checks of a command that need more than the thread (the knowledge's classifier, the
/// tenant's people), made by the desk session before the command is applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vetted {
    /// Why the safety classifier holds the person's text this command would send (a
    /// reply's text, or the agent-written draft version it approves; versions never
    /// repeat, so a draft changed meanwhile is a conflict first). Empty: it passed.
    pub held: Vec<String>,
    /// The agent an `Assign` names is an active agent of the tenant.
    pub assignee_known: bool,
}

/// What became of a command.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandOutcome {
    pub answer: Answer,
    /// The event that recorded it, when this call applied it (not on replays or rejections).
    pub event: Option<Event>,
}

/// Storage as the rest of the relay uses it. Every [`backend::Backend`] is one, through
/// [`domain`], which holds the rules; `sled` is the default backend.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn insert_partner(&self, partner: PartnerRecord) -> Result<(), StoreError>;
    async fn partner(&self, id: &PartnerId) -> Result<Option<PartnerRecord>, StoreError>;
    async fn insert_tenant(&self, tenant: TenantRecord) -> Result<(), StoreError>;
    async fn tenant(&self, id: &TenantId) -> Result<Option<TenantRecord>, StoreError>;
    /// A partner's tenants, oldest first (registry records only: no tenant data).
    async fn tenants_of(&self, partner: &PartnerId) -> Result<Vec<TenantRecord>, StoreError>;
    async fn insert_agent(&self, agent: AgentRecord) -> Result<(), StoreError>;
    async fn agent_by_token_hash(&self, hash: &str) -> Result<Option<AgentRecord>, StoreError>;
    /// Revokes an agent of this tenant: its token stops working at once. `false` if the
    /// tenant has no such agent.
    async fn revoke_agent(&self, scope: &TenantScope, agent: &AgentId) -> Result<bool, StoreError>;
    /// The tenant's people, each with whether its token still works (not revoked).
    async fn agents(&self, scope: &TenantScope) -> Result<Vec<(AgentRecord, bool)>, StoreError>;
    /// Registers a channel and its route keys; `Conflict` if an account is already routed.
    async fn insert_channel(
        &self,
        scope: &TenantScope,
        channel: ChannelRecord,
    ) -> Result<(), StoreError>;
    /// Replaces one of this tenant's channels (same id), e.g. on a reconnect: routes the new
    /// record has are added (`Conflict` if another channel holds one), routes it lost removed.
    async fn update_channel(
        &self,
        scope: &TenantScope,
        channel: ChannelRecord,
    ) -> Result<(), StoreError>;
    /// Stores a single-use record under `key` (a hash of the secret, never the secret).
    async fn put_once(&self, key: &str, record: OnceRecord) -> Result<(), StoreError>;
    /// Removes and answers the record under `key`; of concurrent callers at most one gets it.
    async fn take_once(&self, key: &str) -> Result<Option<OnceRecord>, StoreError>;
    /// The tenant's single-use records with their keys (no expiry check), for listing its
    /// unused connect links.
    async fn once_records(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(String, OnceRecord)>, StoreError>;
    /// Removes every single-use record that expired at or before `now` (links, states,
    /// choices, claims nobody used); answers how many. Unreadable records are kept.
    async fn sweep_once(&self, now: Millis) -> Result<usize, StoreError>;
    async fn channels(&self, scope: &TenantScope) -> Result<Vec<ChannelRecord>, StoreError>;
    /// The channel a webhook account id belongs to (this is what derives webhook scopes).
    async fn channel_by_route(&self, key: &RouteKey) -> Result<Option<ChannelRecord>, StoreError>;
    /// The channel of a webhook item: the first of `keys` that names one. May be answered
    /// from memory; then [`Routed::generation`] says as of when, and the append that
    /// stores the item must be [`Store::append_routed`] with it.
    async fn route(&self, keys: &[RouteKey]) -> Result<Option<Routed>, StoreError>;
    /// Changes one channel of this tenant atomically (`change` sees the stored record, so
    /// a refresh and a key rotation cannot undo each other). Its routes follow the new
    /// record like `update_channel`'s. Answers the record as it is afterwards and whether
    /// `change` wrote it, `None` when the tenant has no such channel.
    async fn modify_channel(
        &self,
        scope: &TenantScope,
        id: &ChannelId,
        change: ChannelChange,
    ) -> Result<Option<Modified>, StoreError>;
    /// Removes one customer's conversation contents (Meta's data-deletion callback): in
    /// every thread of the tenant whose customer id is `customer`, message views become
    /// tombstones, logged events lose their texts, attachments and names, replies lose
    /// their text (unfinished ones are abandoned). Audit records hold only digests and
    /// stay as they are, so the chain still verifies. One atomic step under the tenant's
    /// lock; not yet durable, like `append`.
    async fn redact_customer(
        &self,
        scope: &TenantScope,
        customer: &str,
    ) -> Result<Vec<Redacted>, StoreError>;
    /// Stores (or replaces) a data-deletion request's status under its confirmation code.
    async fn put_deletion(&self, code: &str, record: &DeletionRecord) -> Result<(), StoreError>;
    async fn deletion(&self, code: &str) -> Result<Option<DeletionRecord>, StoreError>;
    /// Every partner, oldest first (registry records only).
    async fn partners(&self) -> Result<Vec<PartnerRecord>, StoreError>;
    /// Renames a partner (and sets its brand when `brand` is given); `None` if unknown.
    async fn rename_partner(
        &self,
        id: &PartnerId,
        name: Option<String>,
        brand: Option<String>,
    ) -> Result<Option<PartnerRecord>, StoreError>;
    /// Renames a tenant; `None` if unknown.
    async fn rename_tenant(
        &self,
        id: &TenantId,
        name: String,
    ) -> Result<Option<TenantRecord>, StoreError>;
    /// Deletes a partner that has no tenants, with its viewers' tokens: `Ok(None)` if
    /// unknown, `Conflict` while it has tenants.
    async fn delete_partner(&self, id: &PartnerId) -> Result<Option<u64>, StoreError>;
    /// Deletes a tenant: first, in one step, its registry record, its people's tokens,
    /// its channels and routes and its single-use records (so nothing can reach it any
    /// more), then every key of its data, in steps. Not yet durable, like `append`.
    /// Idempotent: called again after a crash it removes what is left and counts only that.
    async fn delete_tenant(&self, scope: &TenantScope) -> Result<TenantRemoved, StoreError>;
    /// Keeps a tenant's deletion record (outside the tenant's data).
    async fn put_tenant_deletion(&self, record: &TenantDeletion) -> Result<(), StoreError>;
    /// Every tenant deletion record, oldest first.
    async fn tenant_deletions(&self) -> Result<Vec<TenantDeletion>, StoreError>;
    /// When the newest event of each of the tenant's channels arrived.
    async fn channel_activity(
        &self,
        scope: &TenantScope,
    ) -> Result<Vec<(ChannelId, Millis)>, StoreError>;

    /// Appends events atomically (all or none), skipping duplicates. Not yet durable.
    async fn append(
        &self,
        scope: &TenantScope,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Appended>, StoreError>;
    /// [`Store::append`] of items routed by [`Store::route`] at `routed` (the oldest
    /// generation among them, `None` when none came from memory): fails with
    /// [`StoreError::RoutesChanged`], storing nothing, if routes changed since.
    async fn append_routed(
        &self,
        scope: &TenantScope,
        events: Vec<NewEvent>,
        routed: Option<i64>,
    ) -> Result<Vec<Appended>, StoreError>;
    /// Applies a desk command: a key this agent used before returns the first answer and
    /// changes nothing; otherwise the command is decided against the thread as it is now
    /// (`decide`) and its event and answer are written in one atomic batch.
    /// Not yet durable, like `append`.
    async fn apply_command(
        &self,
        scope: &TenantScope,
        request: CommandRequest,
    ) -> Result<CommandOutcome, StoreError>;
    async fn head(&self, scope: &TenantScope) -> Result<Seq, StoreError>;
    /// Every tenant's head, read once at start-up so desks are only ever served events
    /// that were durable (everything on disk at open is).
    async fn heads(&self) -> Result<Vec<(TenantId, Seq)>, StoreError>;
    /// Every tenant's evidence-chain head: the newest event's seq and its audit record's
    /// hash (`audit::GENESIS` for an empty log), for `/metrics` and the daily log line.
    async fn chain_heads(&self) -> Result<Vec<(TenantId, Seq, crate::audit::Hash)>, StoreError>;
    async fn events_after(
        &self,
        scope: &TenantScope,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError>;
    async fn threads(&self, scope: &TenantScope) -> Result<Vec<ThreadView>, StoreError>;
    async fn thread(
        &self,
        scope: &TenantScope,
        id: &ThreadId,
    ) -> Result<Option<ThreadView>, StoreError>;
    async fn messages(
        &self,
        scope: &TenantScope,
        thread: &ThreadId,
    ) -> Result<Vec<MessageView>, StoreError>;
    /// One message of the tenant by Meta's id (`mid`, comment id, `wamid`).
    async fn message_by_mid(
        &self,
        scope: &TenantScope,
        mid: &str,
    ) -> Result<Option<MessageView>, StoreError>;
    /// Recomputes every audit record of the tenant from its event and re-hashes the chain
    /// (`crate::audit::verify_log`).
    async fn verify_audit(&self, scope: &TenantScope) -> Result<crate::audit::Verdict, StoreError>;
    /// Events with the audit records stored with them, after `after`, in sequence order,
    /// exactly as stored (for the evidence export).
    async fn audit_entries(
        &self,
        scope: &TenantScope,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<crate::audit::Entry>, StoreError>;
    /// Records the drafter's proposal as `Desk` events of the reserved agent `drafter`,
    /// unless a person's draft is in progress on the thread (theirs is never overwritten).
    /// A draft the classifier passed is also queued for sending at once when the tenant
    /// enabled auto-send, has credits, and the window is open to automation. Answers the
    /// events appended.
    async fn propose_draft(
        &self,
        scope: &TenantScope,
        proposal: Proposal,
    ) -> Result<Vec<Event>, StoreError>;
    /// The tenant's knowledge file as loaded (TOML text), if any.
    async fn knowledge(&self, scope: &TenantScope) -> Result<Option<String>, StoreError>;
    /// Replaces the tenant's knowledge file; the caller has validated it.
    async fn put_knowledge(&self, scope: &TenantScope, toml: &str) -> Result<(), StoreError>;
    async fn settings(&self, scope: &TenantScope) -> Result<TenantSettings, StoreError>;
    async fn put_settings(
        &self,
        scope: &TenantScope,
        settings: &TenantSettings,
    ) -> Result<(), StoreError>;
    /// One thread's replies, oldest first.
    /// The tenant's canned replies, by shortcut.
    async fn canned(&self, scope: &TenantScope) -> Result<Vec<CannedReply>, StoreError>;
    /// Adds or replaces the reply under its shortcut; `true` when it is new.
    async fn put_canned(&self, scope: &TenantScope, reply: CannedReply)
    -> Result<bool, StoreError>;
    /// `false` when no reply has that shortcut.
    async fn remove_canned(&self, scope: &TenantScope, shortcut: &str) -> Result<bool, StoreError>;
    async fn sends_of(
        &self,
        scope: &TenantScope,
        thread: &ThreadId,
    ) -> Result<Vec<SendView>, StoreError>;
    /// The tenant's replies not yet sent or given up (queued, sending, failed), oldest first:
    /// the outbox's work, found without reading the tenant's whole history.
    async fn unfinished_sends(&self, scope: &TenantScope) -> Result<Vec<SendView>, StoreError>;
    /// The tenant's credit balance (one per reply sent).
    async fn credits(&self, scope: &TenantScope) -> Result<i64, StoreError>;
    /// Adds (or, negative, removes) credits as a `Credits` event of the tenant's log;
    /// answers the new balance and the event (for the desks).
    async fn add_credits(
        &self,
        scope: &TenantScope,
        add: i64,
        at: Millis,
    ) -> Result<(i64, Event), StoreError>;

    /// Returns once everything written before the call is on disk. Concurrent callers share
    /// one flush.
    async fn sync(&self) -> Result<(), StoreError>;
    /// Final flush at shutdown.
    async fn close(&self) -> Result<(), StoreError>;

    /// Appends entries exported from another relay exactly as they were (events with their
    /// audit records), projecting the views as the events do; each must continue the log
    /// (the next seq, chained to the head's hash) or nothing is written. Answers the head.
    async fn import_entries(
        &self,
        scope: &TenantScope,
        entries: Vec<crate::audit::Entry>,
    ) -> Result<Seq, StoreError>;
    /// Takes or renews the lease on `job` for `holder` (see [`cluster::Lease`]).
    async fn take_lease(
        &self,
        job: &str,
        holder: &str,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<cluster::Lease, StoreError>;
    async fn release_lease(&self, job: &str, holder: &str) -> Result<(), StoreError>;
    /// Tells the other relays on this storage about a change they keep in memory.
    async fn announce(&self, signal: &cluster::Signal) -> Result<(), StoreError>;
    /// The loop hearing other relays (see [`backend::Backend::watch`]).
    fn watch(&self, notices: tokio::sync::mpsc::Sender<cluster::Notice>) -> Option<backend::Watch>;
}
