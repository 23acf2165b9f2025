//! The narrow trait a storage backend implements: registry records, and per tenant one
//! atomic step that reads what the rules need and writes what they decided.
//!
//! The rules themselves (de-duplication, sequence numbers, the evidence chain, command
//! idempotency and decisions, the drafter's auto-send policy, redaction) live once in
//! [`super::domain`], which turns any [`Backend`] into a [`super::Store`]. A backend only
//! keeps records and makes a step's [`Changes`] atomic; it decides nothing.

use super::cluster::{Lease, Notice, Signal};
use super::{
    AgentRecord, ChannelChange, ChannelRecord, DeletionRecord, MessageView, Modified, OnceRecord,
    PartnerRecord, SendView, StoreError, TenantDeletion, TenantRecord, TenantRemoved,
    TenantSettings, ThreadView,
};
use crate::audit::{AuditRecord, Entry, Hash};
use crate::principal::TenantScope;
use crate::store::RouteKey;
use async_trait::async_trait;
use protocol::canned::CannedReply;
use protocol::{
    AgentId, Answer, ChannelId, CommandKey, Event, Millis, PartnerId, Seq, TenantId, ThreadId,
};
use tokio::sync::mpsc;

/// A backend's listening loop (see [`Backend::watch`]).
pub type Watch = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>>;

/// One event to add to a tenant's log, with its link in the evidence chain.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRecord {
    pub event: Event,
    pub audit: AuditRecord,
    /// Meta's identity of the item, refused a second time (commands have none: their
    /// idempotency is the answer record).
    pub dedup_key: Option<String>,
}

/// Everything one tenant step writes; a backend makes it all visible at once or not at all.
///
/// Views are whole records (the rules compute them), so a backend upserts them by their
/// identity and keeps whatever indexes it needs (a message's Meta id, a thread's sends, the
/// unfinished sends) in step with them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// New events, in sequence order, continuing the head the step read.
    pub events: Vec<NewRecord>,
    /// Stored events replaced in place with their unchanged audit record (redaction).
    pub rewritten: Vec<Entry>,
    pub threads: Vec<ThreadView>,
    pub messages: Vec<MessageView>,
    pub sends: Vec<SendView>,
    /// Added to the stored credit balance.
    pub credit_delta: i64,
    /// The first answer to an agent's command key.
    pub answer: Option<(AgentId, CommandKey, Answer)>,
    pub settings: Option<TenantSettings>,
    pub knowledge: Option<String>,
    /// Canned replies added, replaced (by shortcut) or removed.
    pub canned: Vec<CannedChange>,
}

/// One change to a tenant's canned replies.
#[derive(Clone, Debug, PartialEq)]
pub enum CannedChange {
    /// Insert or replace the reply under its shortcut.
    Put(CannedReply),
    Remove(String),
}

impl Changes {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }
}

/// One tenant's stored state inside one step. Reads answer what was stored when the step
/// began; [`TenantTx::write`] is called at most once, at the end of a step that changes
/// something.
pub trait TenantTx {
    /// The newest sequence number and its audit hash (`Seq(0)` and `audit::GENESIS` for an
    /// empty log).
    fn chain(&mut self) -> Result<(Seq, Hash), StoreError>;
    /// The sequence number of the event first stored under `key`.
    fn dedup(&mut self, key: &str) -> Result<Option<Seq>, StoreError>;
    fn answer(&mut self, agent: &AgentId, key: &CommandKey) -> Result<Option<Answer>, StoreError>;
    fn thread(&mut self, id: &ThreadId) -> Result<Option<ThreadView>, StoreError>;
    /// Every thread of the tenant, in any order.
    fn threads(&mut self) -> Result<Vec<ThreadView>, StoreError>;
    fn message_by_mid(&mut self, mid: &str) -> Result<Option<MessageView>, StoreError>;
    /// A thread's messages ordered by Meta's time, then sequence.
    fn messages(&mut self, thread: &ThreadId) -> Result<Vec<MessageView>, StoreError>;
    fn send(&mut self, send: Seq) -> Result<Option<SendView>, StoreError>;
    /// A thread's sends, oldest first.
    fn sends_of(&mut self, thread: &ThreadId) -> Result<Vec<SendView>, StoreError>;
    /// Sends neither sent nor abandoned, oldest first (found by index, not by a scan of
    /// every send).
    fn unfinished_sends(&mut self) -> Result<Vec<SendView>, StoreError>;
    fn credits(&mut self) -> Result<i64, StoreError>;
    fn settings(&mut self) -> Result<TenantSettings, StoreError>;
    fn knowledge(&mut self) -> Result<Option<String>, StoreError>;
    /// The tenant's canned replies, by shortcut.
    fn canned(&mut self) -> Result<Vec<CannedReply>, StoreError>;
    /// When the newest event of each channel arrived.
    fn channel_activity(&mut self) -> Result<Vec<(ChannelId, Millis)>, StoreError>;
    /// Events with their audit records after `after`, in sequence order, at most `limit`.
    fn logged_after(&mut self, after: Seq, limit: usize) -> Result<Vec<Entry>, StoreError>;
    /// Writes the step's changes; they become visible together when the step ends well.
    fn write(&mut self, changes: Changes) -> Result<(), StoreError>;
}

/// The records a step is expected to read, named before it runs so a backend whose reads are
/// round trips can fetch them together with the step's start. Only a hint: the step may read
/// anything else, and a backend may ignore it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reads {
    pub dedup: Vec<String>,
    pub threads: Vec<ThreadId>,
    /// Messages by Meta's id.
    pub mids: Vec<String>,
    /// Not a hint: the routing generations the step's events were routed at by
    /// [`Backend::route`] answering from memory. A backend that does so must fail the step
    /// with [`StoreError::RoutesChanged`] (writing nothing) unless they are all current.
    pub routed: Vec<i64>,
}

/// A writing step that may run more than once ([`Backend::tenant_append`]); its flag says
/// whether this is its last run (so it may use up what it holds instead of copying it).
pub trait Retryable<R>:
    Fn(&mut dyn TenantTx, bool) -> Result<R, StoreError> + Send + Sync + 'static
{
}
impl<R, F: Fn(&mut dyn TenantTx, bool) -> Result<R, StoreError> + Send + Sync + 'static>
    Retryable<R> for F
{
}

/// A step run by [`Backend::tenant_step`]: owned, so a backend may run it on another thread.
pub trait Step<R>: FnOnce(&mut dyn TenantTx) -> Result<R, StoreError> + Send + 'static {}
impl<R, F: FnOnce(&mut dyn TenantTx) -> Result<R, StoreError> + Send + 'static> Step<R> for F {}

/// What a storage backend provides. Every method is record keeping; the rules are in
/// [`super::domain`].
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Runs `step` as one atomic unit of `tenant`'s data, serialised with every other step
    /// of that tenant (so heads are gap-free); its write is kept only if it answers `Ok`.
    async fn tenant_step<R: Send + 'static>(
        &self,
        tenant: &TenantId,
        step: impl Step<R>,
    ) -> Result<R, StoreError>;
    /// [`Backend::tenant_step`], told what the step will probably read.
    async fn tenant_step_reading<R: Send + 'static>(
        &self,
        tenant: &TenantId,
        _reads: Reads,
        step: impl Step<R>,
    ) -> Result<R, StoreError> {
        self.tenant_step(tenant, step).await
    }
    /// [`Backend::tenant_step_reading`] for a step that may be run more than once: a
    /// backend may first run it against what it remembers of the tenant and, if that turns
    /// out stale when it writes (nothing is then kept), run it again as usual.
    async fn tenant_append<R: Send + 'static>(
        &self,
        tenant: &TenantId,
        reads: Reads,
        step: impl Retryable<R>,
    ) -> Result<R, StoreError> {
        self.tenant_step_reading(tenant, reads, move |tx| step(tx, true))
            .await
    }
    /// Whether a busy tenant's next append gathers its callers first (`group::Gather`):
    /// worth it where a step holds the tenant until its commit is durable (PostgreSQL), not
    /// where the commit is a separate group flush (sled).
    fn gathers(&self) -> Option<super::group::Gather> {
        None
    }
    /// Runs a read-only `step` (it must not call `write`); it need not wait for writers.
    async fn tenant_read<R: Send + 'static>(
        &self,
        tenant: &TenantId,
        step: impl Step<R>,
    ) -> Result<R, StoreError>;
    /// After a redaction: makes sure no older copy of the rewritten records stays on disk
    /// (a write-ahead log, say). Nothing to do where the database forgets on its own.
    async fn purge_history(&self) -> Result<(), StoreError>;

    async fn insert_partner(&self, partner: PartnerRecord) -> Result<(), StoreError>;
    async fn partner(&self, id: &PartnerId) -> Result<Option<PartnerRecord>, StoreError>;
    async fn partners(&self) -> Result<Vec<PartnerRecord>, StoreError>;
    async fn insert_tenant(&self, tenant: TenantRecord) -> Result<(), StoreError>;
    async fn tenant(&self, id: &TenantId) -> Result<Option<TenantRecord>, StoreError>;
    async fn tenants_of(&self, partner: &PartnerId) -> Result<Vec<TenantRecord>, StoreError>;
    async fn insert_agent(&self, agent: AgentRecord) -> Result<(), StoreError>;
    async fn agent_by_token_hash(&self, hash: &str) -> Result<Option<AgentRecord>, StoreError>;
    async fn revoke_agent(&self, scope: &TenantScope, agent: &AgentId) -> Result<bool, StoreError>;
    async fn agents(&self, scope: &TenantScope) -> Result<Vec<(AgentRecord, bool)>, StoreError>;
    async fn insert_channel(
        &self,
        scope: &TenantScope,
        channel: ChannelRecord,
    ) -> Result<(), StoreError>;
    async fn channels(&self, scope: &TenantScope) -> Result<Vec<ChannelRecord>, StoreError>;
    async fn channel_by_route(&self, key: &RouteKey) -> Result<Option<ChannelRecord>, StoreError>;
    /// `Store::route`: by default [`Backend::channel_by_route`] of each key in turn, read
    /// fresh (no generation).
    async fn route(&self, keys: &[RouteKey]) -> Result<Option<super::Routed>, StoreError> {
        for key in keys {
            if let Some(channel) = self.channel_by_route(key).await? {
                return Ok(Some(super::Routed {
                    channel: std::sync::Arc::new(channel),
                    generation: None,
                }));
            }
        }
        Ok(None)
    }
    async fn modify_channel(
        &self,
        scope: &TenantScope,
        id: &ChannelId,
        change: ChannelChange,
    ) -> Result<Option<Modified>, StoreError>;
    async fn put_once(&self, key: &str, record: OnceRecord) -> Result<(), StoreError>;
    async fn take_once(&self, key: &str) -> Result<Option<OnceRecord>, StoreError>;
    async fn sweep_once(&self, now: Millis) -> Result<usize, StoreError>;
    async fn put_deletion(&self, code: &str, record: &DeletionRecord) -> Result<(), StoreError>;
    async fn deletion(&self, code: &str) -> Result<Option<DeletionRecord>, StoreError>;
    /// Every tenant's head (cross-tenant, read at start-up).
    async fn heads(&self) -> Result<Vec<(TenantId, Seq)>, StoreError>;
    /// The tenant's single-use records with their keys (no expiry check).
    async fn once_records(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(String, OnceRecord)>, StoreError>;
    async fn rename_partner(
        &self,
        id: &PartnerId,
        name: Option<String>,
        brand: Option<String>,
    ) -> Result<Option<PartnerRecord>, StoreError>;
    async fn rename_tenant(
        &self,
        id: &TenantId,
        name: String,
    ) -> Result<Option<TenantRecord>, StoreError>;
    /// `Ok(None)` if unknown, `Conflict` while it has tenants; else how many viewers went.
    async fn delete_partner(&self, id: &PartnerId) -> Result<Option<u64>, StoreError>;
    /// Everything that reaches the tenant (record, tokens, channels, routes, single-use
    /// records) first, then its data.
    async fn delete_tenant(&self, scope: &TenantScope) -> Result<TenantRemoved, StoreError>;
    async fn put_tenant_deletion(&self, record: &TenantDeletion) -> Result<(), StoreError>;
    /// Oldest first.
    async fn tenant_deletions(&self) -> Result<Vec<TenantDeletion>, StoreError>;
    async fn sync(&self) -> Result<(), StoreError>;
    async fn close(&self) -> Result<(), StoreError>;

    /// Takes `job` for `holder` until `now + ttl_ms` if it is free, expired or already
    /// `holder`'s. A backend one process owns holds every lease.
    async fn take_lease(
        &self,
        _job: &str,
        _holder: &str,
        _now: Millis,
        _ttl_ms: i64,
    ) -> Result<Lease, StoreError> {
        Ok(Lease::Held)
    }
    /// Gives `job` up if `holder` has it.
    async fn release_lease(&self, _job: &str, _holder: &str) -> Result<(), StoreError> {
        Ok(())
    }
    /// Tells every relay on this storage about `signal` (nobody else, on a private one).
    async fn announce(&self, _signal: &Signal) -> Result<(), StoreError> {
        Ok(())
    }
    /// The loop that hears other relays, sending what it hears to `notices` until that
    /// closes; `None` where no other relay can share the storage.
    fn watch(&self, _notices: mpsc::Sender<Notice>) -> Option<Watch> {
        None
    }
}
