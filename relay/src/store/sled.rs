//! The sled backend: one tree for the registry, one for all tenants' data under
//! `t/<tenant>/…` prefixes, so one tenant's append is a single atomic `apply_batch`.
//!
//! Key layout (tenant ids are minted from `[a-z0-9_]`, so `/` cannot occur inside them):
//!
//! | key | value |
//! |---|---|
//! | `t/<tenant>/e/<seq be8>` | `Event` and its audit record (`crate::audit`) |
//! | `t/<tenant>/d/<dedup key>` | sequence of the first delivery |
//! | `t/<tenant>/t/<thread>` | `ThreadView` |
//! | `t/<tenant>/m/<thread>/<meta time be8><seq be8>` | `MessageView` (ordered by Meta's time) |
//! | `t/<tenant>/i/<mid>` | key of the message with that Meta id |
//! | `t/<tenant>/a/<channel>` | arrival time of the channel's newest event |
//! | `t/<tenant>/k/<agent>/<command key>` | the first `Answer` to that agent's command |
//! | `t/<tenant>/o/<send seq be8>` | `SendView` (a queued reply and its progress) |
//! | `t/<tenant>/s/<thread>/<send seq be8>` | (empty) a thread's sends |
//! | `t/<tenant>/q/<send seq be8>` | (empty) present while the send is unfinished |
//! | `t/<tenant>/c/` | credit balance (i64, big-endian) |
//! | `t/<tenant>/g/` | `TenantSettings` |
//! | `t/<tenant>/n/` | the knowledge file (TOML text) |
//! | registry `p/`, `n/`, `g/`, `k/`, `c/<tenant>/`, `r/` | partners, tenants, agents, token hashes, channels, routes |
//! | registry `x/<confirmation code>` | a data-deletion request's status (counts only) |
//! | registry `dt/<tenant>` | a deleted tenant's `TenantDeletion` record (counts, chain head) |
//!
//! Sequence numbers are gap-free because events are numbered under a per-tenant lock from
//! the head, which is the newest event key (kept in memory once read). A channel's arrival
//! time is kept in memory exactly and written to sled at most once a second per channel:
//! after a crash it may read up to a second early, which is fine for noticing a silent
//! subscription and saves a write per event. A step reads no dedup key or thread view from
//! sled in the common case: each tenant's dedup keys are known in memory as hashes (a miss
//! is certain, a hit is checked in sled) and thread views are written through to a cache
//! (`DedupFilter`, `ThreadCache`). Values are encoded by
//! `protocol::codec` (bincode); nothing outside this file imports sled.
//!
//! Every write goes through [`SledStore::write`]: logged in the write-ahead log (`wal`)
//! first, then applied to sled. Durability is the log's `fdatasync` (group commit); sled
//! is flushed only by the checkpointer (`checkpoint`), and the log is replayed at open.

use super::backend::{Backend, CannedChange, Changes, Step, TenantTx};
use super::checkpoint::Checkpointer;
use super::commit::{Committer, FlushObserver};
use super::wal::{self, Tree, Wal, Writes};
use super::{
    AgentKind, AgentRecord, ChannelChange, ChannelRecord, DeletionRecord, MessageView, Modified,
    OnceRecord, PartnerRecord, SendView, StoreError, TenantDeletion, TenantRecord, TenantRemoved,
    TenantSettings, ThreadView,
};
use crate::audit::{self, AuditRecord, Hash};
use crate::principal::TenantScope;
use crate::store::RouteKey;
use async_trait::async_trait;
use protocol::canned::CannedReply;
use protocol::codec::{decode_binary, encode_binary};
use protocol::{
    AgentId, Answer, ChannelId, CommandKey, Event, Millis, PartnerId, Seq, TenantId, ThreadId,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

const STRIPES: usize = 64;

/// Keys removed per logged step when a tenant is deleted.
const DELETE_STEP: usize = 5_000;

/// Log segment size at which the committer seals it and a checkpoint follows, unless
/// `RELAY_WAL_SEGMENT_BYTES` says otherwise.
pub const SEGMENT_BYTES: u64 = crate::config::DEFAULT_WAL_SEGMENT_BYTES;

pub struct SledStore {
    registry: sled::Tree,
    data: sled::Tree,
    registry_lock: Mutex<()>,
    tenant_locks: Vec<Mutex<()>>,
    wal: Arc<Wal>,
    /// Head per tenant, once known; changed only under the tenant lock after a write.
    heads: Mutex<HashMap<TenantId, (Seq, Hash)>>,
    /// Per channel: newest arrival, and the one last written to sled.
    activity: Mutex<HashMap<ChannelId, (Millis, Millis)>>,
    /// Webhook routing answers, so ingest reads no registry keys per item.
    routes: Mutex<RouteCache>,
    /// Per tenant, which de-duplication keys sled may hold, so a new item costs no read.
    dedup: Mutex<DedupFilter>,
    /// Thread views as last written, so projecting an event reads none from sled.
    threads: Mutex<ThreadCache>,
    /// Key prefixes of tenants deleted since open: a task still holding such a tenant's
    /// scope (a draft, a send) must not write its data back.
    deleted: Mutex<Vec<Vec<u8>>>,
    // Field order is drop order: the committer's last flush before the checkpointer stops.
    committer: Committer,
    checkpointer: Arc<Checkpointer>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    encode_binary(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn dec<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    decode_binary(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A single-use record as stored before it could carry a sealed value.
#[derive(Deserialize)]
struct LegacyOnce {
    tenant: TenantId,
    purpose: String,
    kind: String,
    expires_at: Millis,
}

impl LegacyOnce {
    fn upgrade(self) -> OnceRecord {
        OnceRecord {
            tenant: self.tenant,
            purpose: self.purpose,
            kind: self.kind,
            expires_at: self.expires_at,
            sealed: None,
        }
    }
}

fn be(seq: Seq) -> [u8; 8] {
    seq.0.to_be_bytes()
}

/// Big-endian with the sign bit flipped, so negative times still sort first.
fn time_key(t: Millis) -> [u8; 8] {
    (t.0.cast_unsigned() ^ (1 << 63)).to_be_bytes()
}

fn read_seq(bytes: &[u8]) -> Result<Seq, StoreError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("sequence".into()))?;
    Ok(Seq(u64::from_be_bytes(arr)))
}

/// What a route key holds: the tenant and channel it routes to.
fn route_target(record: &ChannelRecord) -> String {
    format!("{}/{}", record.tenant, record.id)
}

fn route_key(key: &RouteKey) -> Vec<u8> {
    match key {
        RouteKey::Instagram(id) => format!("r/ig:{id}").into_bytes(),
        RouteKey::WhatsApp(id) => format!("r/wa:{id}").into_bytes(),
    }
}

/// Applies one logged step to sled, op by op in order.
///
/// Not as a sled batch: `apply_batch` pins sled's log, which writes out its IO buffer on
/// every call (a job on sled's IO pool each time), and that cost most of a core under
/// ingest. Atomicity comes from the log instead: a step cut short by a crash is replayed
/// whole at open. Concurrent readers outside the writer's lock may glimpse a step half
/// applied, so steps order their ops referent first (a message before its index, a channel
/// record before its routes); the head is in memory and moves only after the step applied.
fn apply(registry: &sled::Tree, data: &sled::Tree, writes: Writes) -> Result<(), StoreError> {
    for op in writes.ops {
        let tree = match op.tree {
            Tree::Registry => registry,
            Tree::Data => data,
        };
        match op.value {
            Some(v) => tree.insert(op.key, v).map_err(backend)?,
            None => tree.remove(op.key).map_err(backend)?,
        };
    }
    Ok(())
}

fn read_credits(data: &sled::Tree, prefix: &Prefix) -> Result<i64, StoreError> {
    match data.get(prefix.credits()).map_err(backend)? {
        Some(v) => Ok(i64::from_be_bytes(
            v.as_ref()
                .try_into()
                .map_err(|_| StoreError::Corrupt("credits".into()))?,
        )),
        None => Ok(0),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The maps hold caches of what sled holds; a panic elsewhere leaves them usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What an event key holds: the event and its link in the evidence chain.
#[derive(Deserialize)]
struct Logged {
    event: Event,
    audit: AuditRecord,
}

/// `Logged` for encoding without moving the event (bincode encodes both alike).
#[derive(Serialize)]
struct LoggedRef<'a> {
    event: &'a Event,
    audit: &'a AuditRecord,
}

struct Prefix(String);

/// Route key → channel (or none), valid for one generation: every write of a route or a
/// channel record clears it, and an answer read from sled is kept only if no such write
/// happened meanwhile.
#[derive(Default)]
struct RouteCache {
    generation: u64,
    channels: HashMap<Vec<u8>, Option<ChannelRecord>>,
}

/// Bounds the cache: unknown accounts are cached too, and a partner's relay may see many.
const ROUTE_CACHE_MAX: usize = 10_000;

/// Hashes of the de-duplication keys each tenant has in sled, so the question "was this
/// item stored before?" is answered from memory when the answer is no (nearly always: Meta
/// redelivers rarely). A hash that is present only means "maybe": sled is read then, so a
/// collision costs a read, never a wrong answer.
///
/// A tenant's set is built from a scan of its keys the first time a step asks, under the
/// tenant's lock, and every key written afterwards is added before it reaches sled (also
/// when the write fails: it may still be replayed from the log). Sets are bounded in sum;
/// a tenant whose set would pass the bound is answered from sled until the next start.
struct DedupFilter {
    hasher: std::hash::RandomState,
    tenants: HashMap<TenantId, Option<HashSet<u64>>>,
    /// Hashes held over all tenants.
    held: usize,
    max: usize,
}

impl Default for DedupFilter {
    fn default() -> Self {
        DedupFilter {
            hasher: std::hash::RandomState::new(),
            tenants: HashMap::new(),
            held: 0,
            max: DEDUP_FILTER_MAX,
        }
    }
}

/// The most de-duplication key hashes kept (some 16 bytes each with the table's overhead).
const DEDUP_FILTER_MAX: usize = 4_000_000;

impl DedupFilter {
    fn hash(&self, key: &[u8]) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, key)
    }

    /// Adds `hashes` to `tenant`'s set if it has one, giving it up past the bound.
    fn add(&mut self, tenant: &TenantId, hashes: impl IntoIterator<Item = u64>) {
        let Some(Some(set)) = self.tenants.get_mut(tenant) else {
            return;
        };
        let before = set.len();
        set.extend(hashes);
        self.held += set.len() - before;
        if self.held > self.max {
            self.held -= set.len();
            self.tenants.insert(tenant.clone(), None);
        }
    }

    fn forget(&mut self, tenant: &TenantId) {
        if let Some(Some(set)) = self.tenants.remove(tenant) {
            self.held -= set.len();
        }
    }
}

/// Thread views by sled key, written through by every step that writes one; cleared
/// whole when full (a miss is one sled read).
#[derive(Default)]
struct ThreadCache {
    views: HashMap<Vec<u8>, ThreadView>,
}

const THREAD_CACHE_MAX: usize = 20_000;

impl ThreadCache {
    fn put(&mut self, key: Vec<u8>, view: ThreadView) {
        if self.views.len() >= THREAD_CACHE_MAX && !self.views.contains_key(&key) {
            self.views.clear();
        }
        self.views.insert(key, view);
    }
}

impl Prefix {
    fn of(tenant: &TenantId) -> Prefix {
        Prefix(format!("t/{tenant}/"))
    }
    fn key(&self, kind: &str, rest: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.0.len() + kind.len() + 1 + rest.len());
        k.extend_from_slice(self.0.as_bytes());
        k.extend_from_slice(kind.as_bytes());
        k.push(b'/');
        k.extend_from_slice(rest);
        k
    }
    fn event(&self, seq: Seq) -> Vec<u8> {
        self.key("e", &be(seq))
    }
    fn dedup(&self, key: &str) -> Vec<u8> {
        self.key("d", key.as_bytes())
    }
    fn thread(&self, id: &ThreadId) -> Vec<u8> {
        self.key("t", id.as_str().as_bytes())
    }
    fn messages_of(&self, thread: &ThreadId) -> Vec<u8> {
        let mut k = self.key("m", thread.as_str().as_bytes());
        k.push(b'/');
        k
    }
    fn message(&self, m: &MessageView) -> Vec<u8> {
        let mut k = self.messages_of(&m.thread);
        k.extend_from_slice(&time_key(m.occurred_at));
        k.extend_from_slice(&be(m.seq));
        k
    }
    fn mid(&self, mid: &str) -> Vec<u8> {
        self.key("i", mid.as_bytes())
    }
    fn activity(&self, channel: &ChannelId) -> Vec<u8> {
        self.key("a", channel.as_str().as_bytes())
    }
    fn send(&self, send: Seq) -> Vec<u8> {
        self.key("o", &be(send))
    }
    fn sends_of(&self, thread: &ThreadId) -> Vec<u8> {
        let mut k = self.key("s", thread.as_str().as_bytes());
        k.push(b'/');
        k
    }
    fn unfinished(&self, send: Seq) -> Vec<u8> {
        self.key("q", &be(send))
    }
    fn credits(&self) -> Vec<u8> {
        self.key("c", b"")
    }
    fn settings(&self) -> Vec<u8> {
        self.key("g", b"")
    }
    fn knowledge(&self) -> Vec<u8> {
        self.key("n", b"")
    }
    fn canned(&self, shortcut: &str) -> Vec<u8> {
        self.key("r", shortcut.as_bytes())
    }
    fn answer(&self, agent: &AgentId, key: &CommandKey) -> Vec<u8> {
        let mut k = self.key("k", agent.as_str().as_bytes());
        k.push(b'/');
        k.extend_from_slice(key.as_str().as_bytes());
        k
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, replays its write-ahead log and starts its
    /// group committer.
    ///
    /// # Errors
    /// The directory cannot be opened (for example, another relay holds it), or the log
    /// is damaged.
    pub fn open(dir: &Path, observe: FlushObserver) -> Result<SledStore, StoreError> {
        Self::open_with(dir, observe, SEGMENT_BYTES)
    }

    /// [`SledStore::open`] with a chosen log segment size (tests use tiny ones).
    ///
    /// # Errors
    /// As [`SledStore::open`].
    pub fn open_with(
        dir: &Path,
        observe: FlushObserver,
        segment_bytes: u64,
    ) -> Result<SledStore, StoreError> {
        let config = sled::Config::new()
            .path(dir)
            // Durability comes from the write-ahead log; sled is flushed at checkpoints.
            .flush_every_ms(None);
        // sled's IO threads of a store just closed in this process can hold the directory
        // lock a moment after the handle is gone; sled offers nothing to wait on, so retry
        // (bounded). A second relay on the same directory still fails, a second later.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        let db = loop {
            match config.open() {
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => {
                    break other.map_err(|e| {
                        StoreError::Backend(format!("cannot open {}: {e}", dir.display()))
                    })?;
                }
            }
        };
        let registry = db.open_tree("registry").map_err(backend)?;
        let data = db.open_tree("tenants").map_err(backend)?;
        let flush_db = db.clone();
        let flush = move || flush_db.flush().map(|_| ()).map_err(backend);
        let (wal, replayed) = wal::open(
            &dir.join("wal"),
            segment_bytes,
            |writes| apply(&registry, &data, writes),
            &flush,
        )?;
        if replayed > 0 {
            tracing::info!(records = replayed, "replayed the write-ahead log");
        }
        let wal = Arc::new(wal);
        let checkpointer =
            Arc::new(Checkpointer::spawn(wal.clone(), Box::new(flush)).map_err(backend)?);
        let (log, seal) = (wal.clone(), checkpointer.clone());
        let committer = Committer::spawn(
            move || {
                log.sync().map_err(|e| e.to_string())?;
                if log.wants_rotation() {
                    let sealed = log.rotate().map_err(|e| e.to_string())?;
                    seal.sealed(sealed);
                }
                Ok(())
            },
            observe,
        )
        .map_err(backend)?;
        Ok(SledStore {
            registry,
            data,
            registry_lock: Mutex::new(()),
            tenant_locks: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            wal,
            heads: Mutex::default(),
            activity: Mutex::default(),
            routes: Mutex::default(),
            dedup: Mutex::default(),
            threads: Mutex::default(),
            deleted: Mutex::default(),
            committer,
            checkpointer,
        })
    }

    /// Logs `writes`, then applies them; callers hold the lock that orders them.
    fn write(&self, writes: Writes) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        {
            let deleted = lock(&self.deleted);
            if !deleted.is_empty()
                && writes.ops.iter().any(|op| {
                    op.tree == Tree::Data
                        && op.value.is_some()
                        && deleted.iter().any(|p| op.key.starts_with(p))
                })
            {
                return Err(StoreError::Backend("the tenant was deleted".into()));
            }
        }
        // Routing answers read only routes and channel records; connect states, tokens and
        // deletion records come and go during connect flows without touching them.
        let routing = writes.ops.iter().any(|op| {
            op.tree == Tree::Registry && (op.key.starts_with(b"r/") || op.key.starts_with(b"c/"))
        });
        let pending = self.wal.append(&writes)?;
        let applied = apply(&self.registry, &self.data, writes);
        drop(pending);
        if routing {
            let mut routes = lock(&self.routes);
            routes.generation += 1;
            routes.channels.clear();
        }
        applied
    }

    /// The route keys of `record` that no channel holds yet; a conflict if another channel
    /// holds one. Call under the registry lock.
    fn unclaimed_routes(&self, record: &ChannelRecord) -> Result<Vec<Vec<u8>>, StoreError> {
        let target = route_target(record);
        let mut unclaimed = Vec::new();
        for key in record.route_keys() {
            let k = route_key(&key);
            match self.registry.get(&k).map_err(backend)? {
                Some(v) if v.as_ref() == target.as_bytes() => {}
                Some(_) => {
                    let (RouteKey::Instagram(id) | RouteKey::WhatsApp(id)) = key;
                    return Err(StoreError::Conflict(format!("a channel for account {id}")));
                }
                None => unclaimed.push(k),
            }
        }
        Ok(unclaimed)
    }

    fn tenant_lock(&self, tenant: &TenantId) -> std::sync::MutexGuard<'_, ()> {
        let h = tenant
            .as_str()
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
        // A poisoned lock only means another writer panicked; its step is in the log whole
        // or not at all, and replay completes a step cut short.
        lock(&self.tenant_locks[h % STRIPES])
    }

    fn get<T: DeserializeOwned>(tree: &sled::Tree, key: &[u8]) -> Result<Option<T>, StoreError> {
        tree.get(key).map_err(backend)?.map(|v| dec(&v)).transpose()
    }

    fn insert_new<T: Serialize>(
        &self,
        key: String,
        value: &T,
        what: &str,
    ) -> Result<(), StoreError> {
        let _g = lock(&self.registry_lock);
        if self
            .registry
            .contains_key(key.as_bytes())
            .map_err(backend)?
        {
            return Err(StoreError::Conflict(what.to_owned()));
        }
        let mut writes = Writes::default();
        writes.insert(Tree::Registry, key.into_bytes(), enc(value)?);
        self.write(writes)
    }

    fn read_head(&self, tenant: &TenantId) -> Result<Seq, StoreError> {
        Ok(self.read_chain(tenant)?.0)
    }

    /// The tenant's newest sequence number and audit hash.
    fn read_chain(&self, tenant: &TenantId) -> Result<(Seq, Hash), StoreError> {
        if let Some(head) = lock(&self.heads).get(tenant) {
            return Ok(*head);
        }
        let prefix = Prefix::of(tenant);
        let newest = self
            .data
            .range(prefix.event(Seq(0))..=prefix.event(Seq(u64::MAX)))
            .next_back()
            .transpose()
            .map_err(backend)?;
        let head = match newest {
            Some((_, value)) => {
                let logged: Logged = dec(&value)?;
                (logged.event.seq, logged.audit.hash)
            }
            None => (Seq(0), audit::GENESIS),
        };
        lock(&self.heads).insert(tenant.clone(), head);
        Ok(head)
    }

    /// Records arrivals; answers the channels whose sled value is a second or more behind.
    fn note_activity(&self, seen: HashMap<ChannelId, Millis>) -> Vec<(ChannelId, Millis)> {
        let mut activity = lock(&self.activity);
        let mut due = Vec::new();
        for (channel, at) in seen {
            let entry = activity
                .entry(channel.clone())
                .or_insert((at, Millis(i64::MIN)));
            entry.0 = entry.0.max(at);
            if entry.0.0.saturating_sub(entry.1.0) >= 1000 {
                entry.1 = entry.0;
                due.push((channel, entry.0));
            }
        }
        due
    }

    /// The sends named by an index whose keys end in a send's sequence number.
    fn sends_by_index(&self, prefix: &Prefix, index: &[u8]) -> Result<Vec<SendView>, StoreError> {
        let mut out = Vec::new();
        for key in self.data.scan_prefix(index).keys() {
            let key = key.map_err(backend)?;
            let seq = read_seq(&key[key.len().saturating_sub(8)..])?;
            match Self::get(&self.data, &prefix.send(seq))? {
                Some(send) => out.push(send),
                None => return Err(StoreError::Corrupt("a send index names no send".into())),
            }
        }
        Ok(out)
    }

    fn scan<T: DeserializeOwned>(tree: &sled::Tree, prefix: &[u8]) -> Result<Vec<T>, StoreError> {
        tree.scan_prefix(prefix)
            .values()
            .map(|v| dec(&v.map_err(backend)?))
            .collect()
    }
}

/// One tenant's step on sled: reads straight from the tree (the tenant lock, when held,
/// keeps other writers out), and one write of the step's changes through the log.
struct SledTx<'a> {
    store: &'a SledStore,
    tenant: &'a TenantId,
    prefix: Prefix,
    /// Whether the step holds the tenant's lock: only then may it fill the in-memory
    /// dedup filter and thread cache from sled (a reader could race a writer's update).
    locked: bool,
}

impl SledTx<'_> {
    /// Whether sled may hold `key` as a de-duplication key of this tenant; `false` is
    /// certain, `true` means "read it".
    fn maybe_deduped(&self, key: &str) -> Result<bool, StoreError> {
        let (hash, hasher, room) = {
            let filter = lock(&self.store.dedup);
            let hash = filter.hash(key.as_bytes());
            match filter.tenants.get(self.tenant) {
                Some(Some(set)) => return Ok(set.contains(&hash)),
                Some(None) => return Ok(true),
                None if !self.locked => return Ok(true),
                None => (
                    hash,
                    filter.hasher.clone(),
                    filter.max.saturating_sub(filter.held),
                ),
            }
        };
        // First use since open: every key this tenant has, scanned without the filter's
        // lock (other tenants go on). The tenant's lock keeps its writers out meanwhile, so
        // none is missed.
        let dedup = self.prefix.key("d", b"");
        let mut set = HashSet::new();
        for key in self.store.data.scan_prefix(&dedup).keys() {
            let key = key.map_err(backend)?;
            set.insert(std::hash::BuildHasher::hash_one(
                &hasher,
                &key[dedup.len()..],
            ));
            if set.len() > room {
                lock(&self.store.dedup)
                    .tenants
                    .insert(self.tenant.clone(), None);
                return Ok(true);
            }
        }
        let found = set.contains(&hash);
        let mut filter = lock(&self.store.dedup);
        if filter.held + set.len() > filter.max {
            filter.tenants.insert(self.tenant.clone(), None);
            return Ok(true);
        }
        filter.held += set.len();
        filter.tenants.insert(self.tenant.clone(), Some(set));
        Ok(found)
    }

    /// Adds the changes' records and their indexes to `writes`, referent first (a message
    /// before its Meta id index), as `apply` expects.
    fn stage(&self, changes: &Changes, writes: &mut Writes) -> Result<(), StoreError> {
        let prefix = &self.prefix;
        for new in &changes.events {
            let bytes = enc(&LoggedRef {
                event: &new.event,
                audit: &new.audit,
            })?;
            writes.insert(Tree::Data, prefix.event(new.event.seq), bytes);
            if let Some(key) = &new.dedup_key {
                writes.insert(Tree::Data, prefix.dedup(key), be(new.event.seq));
            }
        }
        for entry in &changes.rewritten {
            let bytes = enc(&LoggedRef {
                event: &entry.event,
                audit: &entry.audit,
            })?;
            writes.insert(Tree::Data, prefix.event(entry.event.seq), bytes);
        }
        for thread in &changes.threads {
            writes.insert(Tree::Data, prefix.thread(&thread.id), enc(thread)?);
        }
        for message in &changes.messages {
            let key = prefix.message(message);
            writes.insert(Tree::Data, key.clone(), enc(message)?);
            writes.insert(Tree::Data, prefix.mid(&message.mid), key);
        }
        for send in &changes.sends {
            writes.insert(Tree::Data, prefix.send(send.send), enc(send)?);
            let mut by_thread = prefix.sends_of(&send.thread);
            by_thread.extend_from_slice(&be(send.send));
            writes.insert(Tree::Data, by_thread, Vec::new());
            let unfinished = prefix.unfinished(send.send);
            if send.is_finished() {
                writes.remove(Tree::Data, unfinished);
            } else {
                writes.insert(Tree::Data, unfinished, Vec::new());
            }
        }
        if changes.credit_delta != 0 {
            let balance = read_credits(&self.store.data, prefix)? + changes.credit_delta;
            writes.insert(Tree::Data, prefix.credits(), balance.to_be_bytes());
        }
        if let Some((agent, key, answer)) = &changes.answer {
            writes.insert(Tree::Data, prefix.answer(agent, key), enc(answer)?);
        }
        if let Some(settings) = &changes.settings {
            writes.insert(Tree::Data, prefix.settings(), enc(settings)?);
        }
        if let Some(knowledge) = &changes.knowledge {
            writes.insert(Tree::Data, prefix.knowledge(), enc(knowledge)?);
        }
        for change in &changes.canned {
            match change {
                CannedChange::Put(reply) => {
                    writes.insert(Tree::Data, prefix.canned(&reply.shortcut), enc(reply)?);
                }
                CannedChange::Remove(shortcut) => {
                    writes.remove(Tree::Data, prefix.canned(shortcut));
                }
            }
        }
        Ok(())
    }
}

impl TenantTx for SledTx<'_> {
    fn chain(&mut self) -> Result<(Seq, Hash), StoreError> {
        self.store.read_chain(self.tenant)
    }

    fn dedup(&mut self, key: &str) -> Result<Option<Seq>, StoreError> {
        if !self.maybe_deduped(key)? {
            return Ok(None);
        }
        self.store
            .data
            .get(self.prefix.dedup(key))
            .map_err(backend)?
            .map(|v| read_seq(&v))
            .transpose()
    }

    fn answer(&mut self, agent: &AgentId, key: &CommandKey) -> Result<Option<Answer>, StoreError> {
        SledStore::get(&self.store.data, &self.prefix.answer(agent, key))
    }

    fn thread(&mut self, id: &ThreadId) -> Result<Option<ThreadView>, StoreError> {
        let key = self.prefix.thread(id);
        if let Some(view) = lock(&self.store.threads).views.get(&key) {
            return Ok(Some(view.clone()));
        }
        let view: Option<ThreadView> = SledStore::get(&self.store.data, &key)?;
        if self.locked
            && let Some(view) = &view
        {
            lock(&self.store.threads).put(key, view.clone());
        }
        Ok(view)
    }

    fn threads(&mut self) -> Result<Vec<ThreadView>, StoreError> {
        SledStore::scan(&self.store.data, &self.prefix.key("t", b""))
    }

    fn message_by_mid(&mut self, mid: &str) -> Result<Option<MessageView>, StoreError> {
        let Some(key) = self.store.data.get(self.prefix.mid(mid)).map_err(backend)? else {
            return Ok(None);
        };
        SledStore::get(&self.store.data, &key)
    }

    fn messages(&mut self, thread: &ThreadId) -> Result<Vec<MessageView>, StoreError> {
        SledStore::scan(&self.store.data, &self.prefix.messages_of(thread))
    }

    fn send(&mut self, send: Seq) -> Result<Option<SendView>, StoreError> {
        SledStore::get(&self.store.data, &self.prefix.send(send))
    }

    fn sends_of(&mut self, thread: &ThreadId) -> Result<Vec<SendView>, StoreError> {
        self.store
            .sends_by_index(&self.prefix, &self.prefix.sends_of(thread))
    }

    fn unfinished_sends(&mut self) -> Result<Vec<SendView>, StoreError> {
        self.store
            .sends_by_index(&self.prefix, &self.prefix.key("q", b""))
    }

    fn credits(&mut self) -> Result<i64, StoreError> {
        read_credits(&self.store.data, &self.prefix)
    }

    fn settings(&mut self) -> Result<TenantSettings, StoreError> {
        Ok(SledStore::get(&self.store.data, &self.prefix.settings())?.unwrap_or_default())
    }

    fn knowledge(&mut self) -> Result<Option<String>, StoreError> {
        SledStore::get(&self.store.data, &self.prefix.knowledge())
    }

    fn canned(&mut self) -> Result<Vec<CannedReply>, StoreError> {
        SledStore::scan(&self.store.data, &self.prefix.canned(""))
    }

    fn channel_activity(&mut self) -> Result<Vec<(ChannelId, Millis)>, StoreError> {
        let prefix = self.prefix.key("a", b"");
        // Every channel in memory was written once, so sled names them all; memory has the
        // exact time where sled lags.
        let memory = lock(&self.store.activity).clone();
        self.store
            .data
            .scan_prefix(&prefix)
            .map(|kv| {
                let (k, v) = kv.map_err(backend)?;
                let id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                let at = i64::from_be_bytes(
                    v.as_ref()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("activity".into()))?,
                );
                let id = ChannelId(id);
                let newest = memory.get(&id).map_or(at, |m| m.0.0.max(at));
                Ok((id, Millis(newest)))
            })
            .collect()
    }

    fn logged_after(&mut self, after: Seq, limit: usize) -> Result<Vec<audit::Entry>, StoreError> {
        self.store
            .data
            .range(self.prefix.event(after.next())..=self.prefix.event(Seq(u64::MAX)))
            .values()
            .take(limit)
            .map(|v| {
                let Logged { event, audit } = dec(&v.map_err(backend)?)?;
                Ok(audit::Entry { event, audit })
            })
            .collect()
    }

    fn write(&mut self, changes: Changes) -> Result<(), StoreError> {
        let mut writes = Writes::default();
        self.stage(&changes, &mut writes)?;
        if changes.events.iter().any(|new| new.dedup_key.is_some()) {
            // Before the write: a failed one may still be replayed from the log at open.
            let mut filter = lock(&self.store.dedup);
            let hashes: Vec<u64> = changes
                .events
                .iter()
                .filter_map(|new| new.dedup_key.as_deref())
                .map(|key| filter.hash(key.as_bytes()))
                .collect();
            filter.add(self.tenant, hashes);
        }
        let mut arrivals: HashMap<ChannelId, Millis> = HashMap::new();
        for new in &changes.events {
            if let Some(channel) = new.event.channel_id() {
                let at = arrivals
                    .entry(channel.clone())
                    .or_insert(new.event.received_at);
                *at = (*at).max(new.event.received_at);
            }
        }
        for (channel, at) in self.store.note_activity(arrivals) {
            writes.insert(
                Tree::Data,
                self.prefix.activity(&channel),
                at.0.to_be_bytes(),
            );
        }
        let written = self.store.write(writes);
        {
            let mut cache = lock(&self.store.threads);
            for view in changes.threads {
                let key = self.prefix.thread(&view.id);
                if written.is_ok() {
                    cache.put(key, view);
                } else {
                    // sled may hold the old view or the new one until the log is replayed.
                    cache.views.remove(&key);
                }
            }
        }
        written?;
        // The head moves only once the step is applied: readers never see a head whose
        // event is not there yet.
        if let Some(last) = changes.events.last() {
            lock(&self.store.heads).insert(self.tenant.clone(), (last.event.seq, last.audit.hash));
        }
        Ok(())
    }
}

#[async_trait]
impl Backend for SledStore {
    async fn insert_partner(&self, partner: PartnerRecord) -> Result<(), StoreError> {
        self.insert_new(format!("p/{}", partner.id), &partner, "partner")
    }

    async fn partner(&self, id: &PartnerId) -> Result<Option<PartnerRecord>, StoreError> {
        Self::get(&self.registry, format!("p/{id}").as_bytes())
    }

    async fn insert_tenant(&self, tenant: TenantRecord) -> Result<(), StoreError> {
        self.insert_new(format!("n/{}", tenant.id), &tenant, "tenant")
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<TenantRecord>, StoreError> {
        Self::get(&self.registry, format!("n/{id}").as_bytes())
    }

    async fn tenants_of(&self, partner: &PartnerId) -> Result<Vec<TenantRecord>, StoreError> {
        // A scan of every tenant record: the registry is small (one record per business),
        // and a partner index would be one more key to keep in step.
        let mut tenants: Vec<TenantRecord> = Self::scan(&self.registry, b"n/")?;
        tenants.retain(|t| t.partner == *partner);
        tenants.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(tenants)
    }

    async fn insert_agent(&self, agent: AgentRecord) -> Result<(), StoreError> {
        let _g = lock(&self.registry_lock);
        let mut writes = Writes::default();
        writes.insert(Tree::Registry, format!("g/{}", agent.id), enc(&agent)?);
        writes.insert(
            Tree::Registry,
            format!("k/{}", agent.token_hash),
            agent.id.as_str(),
        );
        self.write(writes)
    }

    async fn agent_by_token_hash(&self, hash: &str) -> Result<Option<AgentRecord>, StoreError> {
        let Some(id) = self.registry.get(format!("k/{hash}")).map_err(backend)? else {
            return Ok(None);
        };
        let mut key = b"g/".to_vec();
        key.extend_from_slice(&id);
        Self::get(&self.registry, &key)
    }

    async fn revoke_agent(&self, scope: &TenantScope, agent: &AgentId) -> Result<bool, StoreError> {
        let _g = lock(&self.registry_lock);
        let Some(record) =
            Self::get::<AgentRecord>(&self.registry, format!("g/{agent}").as_bytes())?
        else {
            return Ok(false);
        };
        match &record.kind {
            AgentKind::Tenant { tenant, .. } if tenant == scope.tenant() => {}
            _ => return Ok(false),
        }
        // The record stays (history names agents); only the token stops resolving.
        let mut writes = Writes::default();
        writes.remove(Tree::Registry, format!("k/{}", record.token_hash));
        self.write(writes)?;
        Ok(true)
    }

    async fn agents(&self, scope: &TenantScope) -> Result<Vec<(AgentRecord, bool)>, StoreError> {
        // A scan of every person record: one per person of the relay, like tenants.
        let mut agents: Vec<AgentRecord> = Self::scan(&self.registry, b"g/")?;
        agents.retain(
            |a| matches!(&a.kind, AgentKind::Tenant { tenant, .. } if tenant == scope.tenant()),
        );
        agents.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        agents
            .into_iter()
            .map(|a| {
                let active = self
                    .registry
                    .contains_key(format!("k/{}", a.token_hash).as_bytes())
                    .map_err(backend)?;
                Ok((a, active))
            })
            .collect()
    }

    async fn insert_channel(
        &self,
        scope: &TenantScope,
        channel: ChannelRecord,
    ) -> Result<(), StoreError> {
        let _g = lock(&self.registry_lock);
        let mut record = channel;
        record.tenant = scope.tenant().clone();
        let routes = self.unclaimed_routes(&record)?;
        let mut writes = Writes::default();
        // The record before the routes to it: a webhook routed meanwhile must find it.
        writes.insert(
            Tree::Registry,
            format!("c/{}/{}", record.tenant, record.id),
            enc(&record)?,
        );
        for k in routes {
            writes.insert(Tree::Registry, k, route_target(&record));
        }
        self.write(writes)
    }

    async fn put_once(&self, key: &str, record: OnceRecord) -> Result<(), StoreError> {
        let mut writes = Writes::default();
        writes.insert(Tree::Registry, format!("o/{key}"), enc(&record)?);
        self.write(writes)
    }

    async fn take_once(&self, key: &str) -> Result<Option<OnceRecord>, StoreError> {
        // Under the registry lock, so two callers cannot both read it before the removal.
        let _g = lock(&self.registry_lock);
        let k = format!("o/{key}");
        let Some(bytes) = self.registry.get(k.as_bytes()).map_err(backend)? else {
            return Ok(None);
        };
        // Records minted before `sealed` existed still work once, until they expire.
        let record = dec::<OnceRecord>(&bytes).or_else(|e| {
            dec::<LegacyOnce>(&bytes)
                .map(LegacyOnce::upgrade)
                .map_err(|_| e)
        })?;
        let mut writes = Writes::default();
        writes.remove(Tree::Registry, k);
        self.write(writes)?;
        Ok(Some(record))
    }

    async fn once_records(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(String, OnceRecord)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.registry.scan_prefix(b"o/") {
            let (key, bytes) = entry.map_err(backend)?;
            // Unreadable and pre-`sealed` records are skipped: neither can be shown again.
            let Ok(record) = dec::<OnceRecord>(&bytes) else {
                continue;
            };
            if record.tenant == *tenant
                && let Some(k) = key.strip_prefix(b"o/")
            {
                out.push((String::from_utf8_lossy(k).into_owned(), record));
            }
        }
        Ok(out)
    }

    async fn sweep_once(&self, now: Millis) -> Result<usize, StoreError> {
        let _g = lock(&self.registry_lock);
        let mut writes = Writes::default();
        let mut swept = 0;
        for entry in self.registry.scan_prefix(b"o/") {
            let (key, bytes) = entry.map_err(backend)?;
            let expires_at = dec::<OnceRecord>(&bytes)
                .map(|r| r.expires_at)
                .or_else(|_| dec::<LegacyOnce>(&bytes).map(|r| r.expires_at));
            if expires_at.is_ok_and(|at| at <= now) {
                writes.remove(Tree::Registry, key.to_vec());
                swept += 1;
            }
        }
        if swept > 0 {
            self.write(writes)?;
        }
        Ok(swept)
    }

    async fn channels(&self, scope: &TenantScope) -> Result<Vec<ChannelRecord>, StoreError> {
        Self::scan(&self.registry, format!("c/{}/", scope.tenant()).as_bytes())
    }

    async fn channel_by_route(&self, key: &RouteKey) -> Result<Option<ChannelRecord>, StoreError> {
        let route = route_key(key);
        let generation = {
            let routes = lock(&self.routes);
            if let Some(known) = routes.channels.get(&route) {
                return Ok(known.clone());
            }
            routes.generation
        };
        let channel = match self.registry.get(&route).map_err(backend)? {
            None => None,
            Some(target) => {
                let mut k = b"c/".to_vec();
                k.extend_from_slice(&target);
                Self::get(&self.registry, &k)?
            }
        };
        let mut routes = lock(&self.routes);
        if routes.generation == generation {
            if routes.channels.len() >= ROUTE_CACHE_MAX {
                routes.channels.clear();
            }
            routes.channels.insert(route, channel.clone());
        }
        Ok(channel)
    }

    async fn modify_channel(
        &self,
        scope: &TenantScope,
        id: &ChannelId,
        change: ChannelChange,
    ) -> Result<Option<Modified>, StoreError> {
        let _g = lock(&self.registry_lock);
        let key = format!("c/{}/{}", scope.tenant(), id);
        let Some(old) = Self::get::<ChannelRecord>(&self.registry, key.as_bytes())? else {
            return Ok(None);
        };
        let Some(mut new) = change(&old) else {
            return Ok(Some(Modified {
                record: old,
                changed: false,
            }));
        };
        // The change may not move the record to another tenant or id.
        new.tenant = old.tenant.clone();
        new.id = old.id.clone();
        let gained = self.unclaimed_routes(&new)?;
        let new_routes: Vec<Vec<u8>> = new.route_keys().iter().map(route_key).collect();
        let mut writes = Writes::default();
        // Routes that go are removed first, so no webhook is routed by an id the record
        // no longer has; new routes follow the record, as in `insert_channel`.
        for k in old.route_keys().iter().map(route_key) {
            if !new_routes.contains(&k) {
                writes.remove(Tree::Registry, k);
            }
        }
        writes.insert(Tree::Registry, key, enc(&new)?);
        for k in gained {
            writes.insert(Tree::Registry, k, route_target(&new));
        }
        self.write(writes)?;
        Ok(Some(Modified {
            record: new,
            changed: true,
        }))
    }

    async fn put_deletion(&self, code: &str, record: &DeletionRecord) -> Result<(), StoreError> {
        let mut writes = Writes::default();
        writes.insert(Tree::Registry, format!("x/{code}"), enc(record)?);
        self.write(writes)
    }

    async fn deletion(&self, code: &str) -> Result<Option<DeletionRecord>, StoreError> {
        Self::get(&self.registry, format!("x/{code}").as_bytes())
    }

    async fn partners(&self) -> Result<Vec<PartnerRecord>, StoreError> {
        let mut partners: Vec<PartnerRecord> = Self::scan(&self.registry, b"p/")?;
        partners.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(partners)
    }

    async fn tenant_step<R: Send + 'static>(
        &self,
        tenant: &TenantId,
        step: impl Step<R>,
    ) -> Result<R, StoreError> {
        let _g = self.tenant_lock(tenant);
        step(&mut SledTx {
            store: self,
            tenant,
            prefix: Prefix::of(tenant),
            locked: true,
        })
    }

    async fn tenant_read<R: Send + 'static>(
        &self,
        tenant: &TenantId,
        step: impl Step<R>,
    ) -> Result<R, StoreError> {
        // Readers take no lock: steps order their ops referent first and move the head
        // last, so a reader sees a consistent enough tenant without waiting for writers.
        step(&mut SledTx {
            store: self,
            tenant,
            prefix: Prefix::of(tenant),
            locked: false,
        })
    }

    async fn purge_history(&self) -> Result<(), StoreError> {
        // The write-ahead log still holds the records as they were: a checkpoint makes sled
        // complete on disk and deletes those segments, so removed texts leave the log now
        // rather than when the segment fills.
        self.committer.wait().await?;
        self.checkpointer.checkpoint_all().await
    }

    async fn heads(&self) -> Result<Vec<(TenantId, Seq)>, StoreError> {
        let tenants: Vec<TenantRecord> = Self::scan(&self.registry, b"n/")?;
        tenants
            .into_iter()
            .map(|t| {
                let head = self.read_head(&t.id)?;
                Ok((t.id, head))
            })
            .collect()
    }

    async fn rename_partner(
        &self,
        id: &PartnerId,
        name: Option<String>,
        brand: Option<String>,
    ) -> Result<Option<PartnerRecord>, StoreError> {
        let _g = lock(&self.registry_lock);
        let key = format!("p/{id}");
        let Some(mut record) = Self::get::<PartnerRecord>(&self.registry, key.as_bytes())? else {
            return Ok(None);
        };
        if let Some(name) = name {
            record.name = name;
        }
        if let Some(brand) = brand {
            record.brand = Some(brand);
        }
        let mut writes = Writes::default();
        writes.insert(Tree::Registry, key.into_bytes(), enc(&record)?);
        self.write(writes)?;
        Ok(Some(record))
    }

    async fn rename_tenant(
        &self,
        id: &TenantId,
        name: String,
    ) -> Result<Option<TenantRecord>, StoreError> {
        let _g = lock(&self.registry_lock);
        let key = format!("n/{id}");
        let Some(mut record) = Self::get::<TenantRecord>(&self.registry, key.as_bytes())? else {
            return Ok(None);
        };
        record.name = name;
        let mut writes = Writes::default();
        writes.insert(Tree::Registry, key.into_bytes(), enc(&record)?);
        self.write(writes)?;
        Ok(Some(record))
    }

    async fn delete_partner(&self, id: &PartnerId) -> Result<Option<u64>, StoreError> {
        let _g = lock(&self.registry_lock);
        let key = format!("p/{id}");
        if !self
            .registry
            .contains_key(key.as_bytes())
            .map_err(backend)?
        {
            return Ok(None);
        }
        let tenants: Vec<TenantRecord> = Self::scan(&self.registry, b"n/")?;
        let held = tenants.iter().filter(|t| t.partner == *id).count();
        if held > 0 {
            return Err(StoreError::Conflict(format!(
                "partner {id} still has {held} tenant(s)"
            )));
        }
        let mut writes = Writes::default();
        let mut viewers = 0;
        for agent in Self::scan::<AgentRecord>(&self.registry, b"g/")? {
            if matches!(&agent.kind, AgentKind::PartnerViewer { partner } if partner == id) {
                writes.remove(Tree::Registry, format!("k/{}", agent.token_hash));
                writes.remove(Tree::Registry, format!("g/{}", agent.id));
                viewers += 1;
            }
        }
        writes.remove(Tree::Registry, key.into_bytes());
        self.write(writes)?;
        Ok(Some(viewers))
    }

    async fn delete_tenant(&self, scope: &TenantScope) -> Result<TenantRemoved, StoreError> {
        let tenant = scope.tenant();
        let mut removed = TenantRemoved::default();
        {
            // One step for everything that reaches the tenant: after it, no token, route
            // or link leads to its data.
            let _g = lock(&self.registry_lock);
            let mut writes = Writes::default();
            for agent in Self::scan::<AgentRecord>(&self.registry, b"g/")? {
                if matches!(&agent.kind, AgentKind::Tenant { tenant: t, .. } if t == tenant) {
                    writes.remove(Tree::Registry, format!("k/{}", agent.token_hash));
                    writes.remove(Tree::Registry, format!("g/{}", agent.id));
                    removed.agents += 1;
                }
            }
            let channels: Vec<ChannelRecord> =
                Self::scan(&self.registry, format!("c/{tenant}/").as_bytes())?;
            for channel in &channels {
                let target = route_target(channel);
                for key in channel.route_keys() {
                    let k = route_key(&key);
                    // Only routes that still lead here (a disconnect cleared the others).
                    if self
                        .registry
                        .get(&k)
                        .map_err(backend)?
                        .is_some_and(|v| v.as_ref() == target.as_bytes())
                    {
                        writes.remove(Tree::Registry, k);
                    }
                }
                writes.remove(
                    Tree::Registry,
                    format!("c/{tenant}/{}", channel.id).into_bytes(),
                );
                removed.channels += 1;
            }
            for entry in self.registry.scan_prefix(b"o/") {
                let (key, bytes) = entry.map_err(backend)?;
                if dec::<OnceRecord>(&bytes)
                    .map(|r| r.tenant)
                    .or_else(|_| dec::<LegacyOnce>(&bytes).map(|r| r.tenant))
                    .is_ok_and(|t| t == *tenant)
                {
                    writes.remove(Tree::Registry, key.to_vec());
                    removed.single_use += 1;
                }
            }
            writes.remove(Tree::Registry, format!("n/{tenant}").into_bytes());
            self.write(writes)?;
        }
        crate::crash_point::reached("tenant-deletion-registry");
        // Then the data, in bounded steps under the tenant's lock, so one deletion never
        // makes a write-ahead log record of the whole tenant.
        let prefix = Prefix::of(tenant);
        lock(&self.deleted).push(prefix.0.as_bytes().to_vec());
        let events = prefix.key("e", b"");
        let _g = self.tenant_lock(tenant);
        loop {
            let mut writes = Writes::default();
            for key in self
                .data
                .scan_prefix(prefix.0.as_bytes())
                .keys()
                .take(DELETE_STEP)
            {
                let key = key.map_err(backend)?;
                if key.starts_with(&events) {
                    removed.events += 1;
                }
                removed.keys += 1;
                writes.remove(Tree::Data, key.to_vec());
            }
            if writes.is_empty() {
                break;
            }
            self.write(writes)?;
        }
        lock(&self.heads).remove(tenant);
        lock(&self.dedup).forget(tenant);
        lock(&self.threads)
            .views
            .retain(|key, _| !key.starts_with(prefix.0.as_bytes()));
        Ok(removed)
    }

    async fn put_tenant_deletion(&self, record: &TenantDeletion) -> Result<(), StoreError> {
        let _g = lock(&self.registry_lock);
        let mut writes = Writes::default();
        writes.insert(
            Tree::Registry,
            format!("dt/{}", record.tenant).into_bytes(),
            enc(record)?,
        );
        self.write(writes)
    }

    async fn tenant_deletions(&self) -> Result<Vec<TenantDeletion>, StoreError> {
        let mut all: Vec<TenantDeletion> = Self::scan(&self.registry, b"dt/")?;
        all.sort_by(|a, b| (a.deleted_at, &a.tenant).cmp(&(b.deleted_at, &b.tenant)));
        Ok(all)
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.committer.wait().await
    }

    async fn close(&self) -> Result<(), StoreError> {
        // A final checkpoint leaves sled complete on disk, so the next open replays nothing.
        self.committer.wait().await?;
        self.checkpointer.checkpoint_all().await
    }
}

#[cfg(test)]
mod tests;
