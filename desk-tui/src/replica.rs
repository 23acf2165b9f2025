//! The desk's local copy of its tenant's event log, in sled: what the desk renders from,
//! online or not.
//!
//! One sled database per relay + token (see [`SyncConfig::replica_dir`]) with seven trees:
//! `events` (seq, big-endian → bincode `Event`), `meta` (cursor, identity, header, head,
//! credits), `threads` (the inbox rows), `thread_seqs` (each thread's seqs), `mentions` (the
//! @mention rows, by seq), and the outbox's `outbox` and `answers` (see [`crate::outbox`]).
//! A replica from before `thread_seqs` has a `by_thread` tree instead, carried over and
//! dropped on open; one from before `mentions` has its mentions indexed on open. The cursor is the highest
//! seq applied, and the events tree always holds exactly `1..=cursor`: events and the new
//! cursor are written in one transaction, duplicates are skipped and a gap stops the
//! batch. This module knows nothing about sockets; the engine feeds it.

use crate::config::{ConfigError, SyncConfig};
use crate::model::mention::MentionRow;
use crate::model::summary::{SendState, ThreadSummary, thread_of};
use crate::outbox::{Outbox, OutboxError};
use protocol::codec;
use protocol::outbox::credit_change;
use protocol::{
    AccountEventKind, AgentId, CodecError, Event, EventBody, Role, Seq, TenantId, ThreadId,
};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Transactional, Tree};
use std::fmt;
use std::path::{Path, PathBuf};

const CURSOR: &[u8] = b"cursor";
const HEAD: &[u8] = b"head";
const IDENTITY: &[u8] = b"identity";
const HEADER: &[u8] = b"header";
const CREDITS: &[u8] = b"credits";
/// Present once every mention the events tree holds has its row in `mentions`.
const MENTIONS_INDEXED: &[u8] = b"mentions-indexed";
/// How long opening waits for a lock a just-dropped handle of this process still holds.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Who this replica belongs to, as the relay's welcome said.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Identity {
    pub tenant: TenantId,
    pub agent: AgentId,
    pub role: Role,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tenant {} as agent {} ({})",
            self.tenant,
            self.agent,
            self.role.as_str()
        )
    }
}

/// What the desk's header shows, as the relay's latest welcome said: the partner's brand
/// (its name when it has none) and the tenant's name. Kept so an offline start shows it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Header {
    pub brand: String,
    pub tenant_name: String,
}

/// Why the replica could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Also what a second desk on the same relay and token gets: sled locks its directory.
    #[error("cannot open the replica at {path}: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error("replica storage failed: {0}")]
    Storage(#[from] sled::Error),
    #[error("replica holds an undecodable value: {0}")]
    Codec(#[from] CodecError),
    #[error("replica holds a malformed {what}")]
    Corrupt { what: &'static str },
    #[error("this replica belongs to {stored}, but the relay says {got}")]
    IdentityMismatch { stored: Identity, got: Identity },
    #[error("the relay sent event {seq} of tenant {got}, but this desk is tenant {expected}")]
    ForeignTenant {
        expected: TenantId,
        got: TenantId,
        seq: Seq,
    },
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// A missing event: the batch jumped from `expected` to `got`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Gap {
    pub expected: Seq,
    pub got: Seq,
}

/// What [`Replica::apply`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Applied {
    /// The cursor after the batch.
    pub cursor: Seq,
    /// How many events were new.
    pub applied: usize,
    /// Set when the batch skipped a seq; nothing from the gap on was applied.
    pub gap: Option<Gap>,
}

/// The events of a batch that may be applied on top of `cursor`.
#[derive(Debug)]
pub struct Admission<'a> {
    /// Exactly `cursor+1, cursor+2, …`, in order.
    pub fresh: Vec<&'a Event>,
    pub gap: Option<Gap>,
}

/// The apply rule, as a pure function: events at or below the cursor (or repeated within
/// the batch) are skipped, the next seq is taken, and anything further ahead is a gap that
/// stops the batch, because the events in between were lost and must be fetched again.
#[must_use]
pub fn admit(cursor: Seq, batch: &[Event]) -> Admission<'_> {
    let mut next = cursor.next();
    let mut fresh = Vec::new();
    for event in batch {
        if event.seq < next {
            continue;
        }
        if event.seq > next {
            return Admission {
                fresh,
                gap: Some(Gap {
                    expected: next,
                    got: event.seq,
                }),
            };
        }
        fresh.push(event);
        next = next.next();
    }
    Admission { fresh, gap: None }
}

/// The replica of one relay + token. Cheap to clone; all clones share one database.
#[derive(Clone)]
pub struct Replica {
    db: sled::Db,
    events: Tree,
    meta: Tree,
    /// Thread id → bincode [`ThreadSummary`]: the inbox, read at start without a replay.
    threads: Tree,
    /// Thread id → its events' seqs (big-endian u64s, ascending). One entry per thread, not
    /// per event: sled keeps per-entry state in memory, and a desk holds few threads open.
    by_thread: Tree,
    /// Seq (big-endian) → bincode [`MentionRow`]: the @mentions, which have no thread.
    mentions: Tree,
    outbox: Outbox,
}

impl fmt::Debug for Replica {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replica").finish_non_exhaustive()
    }
}

impl Replica {
    /// Opens (or creates) the replica for `config`'s relay and token.
    ///
    /// # Errors
    /// No data directory, or sled cannot open it (for example another desk holds it).
    pub fn open(config: &SyncConfig) -> Result<Self, ReplicaError> {
        Self::open_dir(&config.replica_dir()?)
    }

    /// Opens (or creates) a replica in exactly this directory.
    ///
    /// # Errors
    /// sled cannot open the directory.
    pub fn open_dir(path: &Path) -> Result<Self, ReplicaError> {
        let open_error = |source| ReplicaError::Open {
            path: path.to_path_buf(),
            source,
        };
        // sled's default page cache is 1 GiB; the desk reads little at a time, and its
        // memory budget (150 MB with 50,000 threads) matters more than re-reads.
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(16 * 1024 * 1024);
        // sled's background threads of a handle just dropped in this process can hold the
        // directory lock a moment longer: wait (bounded) for it to be released. Another
        // desk holding the replica still gets the lock error once the wait is over.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let db = loop {
            match config.open() {
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other.map_err(open_error)?,
            }
        };
        let events = db.open_tree("events").map_err(open_error)?;
        let meta = db.open_tree("meta").map_err(open_error)?;
        let threads = db.open_tree("threads").map_err(open_error)?;
        let by_thread = db.open_tree("thread_seqs").map_err(open_error)?;
        migrate_thread_index(&db, &by_thread)?;
        let mentions = db.open_tree("mentions").map_err(open_error)?;
        index_mentions(&db, &events, &meta, &mentions)?;
        let outbox = Outbox::open(&db).map_err(open_error)?;
        Ok(Self {
            db,
            events,
            meta,
            threads,
            by_thread,
            mentions,
            outbox,
        })
    }

    /// Erases everything the replica holds (events, threads, identity, header, credits,
    /// the outbox) and flushes, because the relay deleted the tenant. The directory stays,
    /// empty, until the profile is removed; sled may keep old page images in its files
    /// until it reuses them.
    ///
    /// # Errors
    /// sled failed.
    pub fn erase(&self) -> Result<(), ReplicaError> {
        for tree in [
            &self.events,
            &self.meta,
            &self.threads,
            &self.by_thread,
            &self.mentions,
        ] {
            tree.clear()?;
        }
        self.outbox.clear()?;
        self.db.flush()?;
        Ok(())
    }

    /// The commands waiting for an answer, and the answers received.
    #[must_use]
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The highest seq applied (0: none).
    ///
    /// # Errors
    /// Storage failure or a malformed stored cursor.
    pub fn cursor(&self) -> Result<Seq, ReplicaError> {
        read_seq(self.meta.get(CURSOR)?.as_deref(), "cursor")
    }

    /// The relay's newest seq at the last welcome (0: never connected).
    ///
    /// # Errors
    /// Storage failure or a malformed stored head.
    pub fn head(&self) -> Result<Seq, ReplicaError> {
        read_seq(self.meta.get(HEAD)?.as_deref(), "head")
    }

    /// Who this replica belongs to (`None` until the first welcome).
    ///
    /// # Errors
    /// Storage failure or a malformed stored identity.
    pub fn identity(&self) -> Result<Option<Identity>, ReplicaError> {
        match self.meta.get(IDENTITY)? {
            Some(bytes) => Ok(Some(codec::decode_binary(&bytes)?)),
            None => Ok(None),
        }
    }

    /// The desk's header from the latest welcome (`None` until the first one).
    ///
    /// # Errors
    /// Storage failure or a malformed stored header.
    pub fn header(&self) -> Result<Option<Header>, ReplicaError> {
        match self.meta.get(HEADER)? {
            Some(bytes) => Ok(Some(codec::decode_binary(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Records a welcome: the first one fixes tenant and agent, later ones must name the
    /// same (the role may change, an agent can be promoted; brand and tenant name may be
    /// renamed). The head is kept so the desk can show how far behind it is.
    ///
    /// # Errors
    /// [`ReplicaError::IdentityMismatch`] when the relay names another tenant or agent;
    /// nothing is written then.
    pub fn accept_welcome(
        &self,
        identity: &Identity,
        header: &Header,
        head: Seq,
    ) -> Result<(), ReplicaError> {
        if let Some(stored) = self.identity()?
            && (stored.tenant != identity.tenant || stored.agent != identity.agent)
        {
            return Err(ReplicaError::IdentityMismatch {
                stored,
                got: identity.clone(),
            });
        }
        let mut batch = sled::Batch::default();
        batch.insert(IDENTITY, codec::encode_binary(identity)?);
        batch.insert(HEADER, codec::encode_binary(header)?);
        batch.insert(HEAD, &head.0.to_be_bytes()[..]);
        self.meta.apply_batch(batch)?;
        Ok(())
    }

    /// Applies a batch by the rule of [`admit`]: the new events and the new cursor are one
    /// transaction, so a crash leaves either both or neither. Re-applying is a no-op.
    ///
    /// # Errors
    /// [`ReplicaError::ForeignTenant`] (nothing applied) when an event names another tenant
    /// than the welcome did; storage failures.
    pub fn apply(&self, batch: &[Event]) -> Result<Applied, ReplicaError> {
        if let Some(identity) = self.identity()?
            && let Some(foreign) = batch.iter().find(|e| e.tenant != identity.tenant)
        {
            return Err(ReplicaError::ForeignTenant {
                expected: identity.tenant,
                got: foreign.tenant.clone(),
                seq: foreign.seq,
            });
        }
        let me = self
            .identity()?
            .map_or_else(|| AgentId::new(""), |i| i.agent);
        let abort = ConflictableTransactionError::Abort;
        let trees = (
            &self.events,
            &self.meta,
            &self.threads,
            &self.by_thread,
            &self.mentions,
        );
        let outcome = trees.transaction(|(events, meta, threads, by_thread, mentions)| {
            let cursor = read_seq(meta.get(CURSOR)?.as_deref(), "cursor").map_err(abort)?;
            let admission = admit(cursor, batch);
            let mut credits = read_credits(meta.get(CREDITS)?.as_deref()).map_err(abort)?;
            // The welcome's balance already counts everything up to the relay's head.
            let head = read_seq(meta.get(HEAD)?.as_deref(), "head").map_err(abort)?;
            for event in &admission.fresh {
                let bytes =
                    codec::encode_binary(*event).map_err(|e| abort(ReplicaError::Codec(e)))?;
                // Written at once (not batched) so a removal later in the same batch sees it.
                events.insert(&event.seq.0.to_be_bytes()[..], bytes)?;
                if let EventBody::Account(account) = &event.body
                    && let AccountEventKind::CustomerRemoved { thread } = &account.kind
                {
                    remove_customer(events, threads, by_thread, thread, &me)?;
                    continue;
                }
                if let EventBody::Credits(c) = &event.body
                    && event.seq > head
                {
                    credits = Some(c.balance);
                }
                if let Some(row) = MentionRow::of(event) {
                    let bytes =
                        codec::encode_binary(&row).map_err(|e| abort(ReplicaError::Codec(e)))?;
                    mentions.insert(&event.seq.0.to_be_bytes()[..], bytes)?;
                    continue;
                }
                let Some(thread) = thread_of(event) else {
                    continue;
                };
                let before: Option<ThreadSummary> = match threads.get(thread.as_str())? {
                    Some(b) => {
                        Some(codec::decode_binary(&b).map_err(|e| abort(ReplicaError::Codec(e)))?)
                    }
                    None => None,
                };
                if let (Some(balance), Some(row), EventBody::Outbox(o)) =
                    (credits.as_mut(), &before, &event.body)
                    && event.seq > head
                    && let Some(send) = row.sends.iter().find(|s| s.send == o.send)
                {
                    let was_sending = matches!(send.state, SendState::Sending { .. });
                    *balance += credit_change(&o.status, was_sending, send.is_message);
                }
                if let Some(after) = ThreadSummary::apply(before, event, &me) {
                    let bytes =
                        codec::encode_binary(&after).map_err(|e| abort(ReplicaError::Codec(e)))?;
                    threads.insert(thread.as_str(), bytes)?;
                    let mut seqs = by_thread
                        .get(thread.as_str())?
                        .map_or_else(Vec::new, |v| v.to_vec());
                    seqs.extend_from_slice(&event.seq.0.to_be_bytes());
                    by_thread.insert(thread.as_str(), seqs)?;
                }
            }
            let new_cursor = admission.fresh.last().map_or(cursor, |e| e.seq);
            if new_cursor != cursor {
                meta.insert(CURSOR, &new_cursor.0.to_be_bytes()[..])?;
                if let Some(balance) = credits {
                    meta.insert(CREDITS, &balance.to_be_bytes()[..])?;
                }
            }
            Ok(Applied {
                cursor: new_cursor,
                applied: admission.fresh.len(),
                gap: admission.gap,
            })
        });
        outcome.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => ReplicaError::Storage(e),
        })
    }

    /// Up to `limit` events with seq greater than `after`, in order.
    ///
    /// # Errors
    /// Storage failure or an undecodable stored event.
    pub fn events_after(&self, after: Seq, limit: usize) -> Result<Vec<Event>, ReplicaError> {
        let Some(first) = after.0.checked_add(1) else {
            return Ok(Vec::new());
        };
        self.events
            .range(&first.to_be_bytes()[..]..)
            .values()
            .take(limit)
            .map(|bytes| Ok(codec::decode_binary(&bytes?)?))
            .collect()
    }

    /// One event by seq.
    ///
    /// # Errors
    /// Storage failure or an undecodable stored event.
    pub fn event(&self, seq: Seq) -> Result<Option<Event>, ReplicaError> {
        match self.events.get(seq.0.to_be_bytes())? {
            Some(bytes) => Ok(Some(codec::decode_binary(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Every thread's inbox row.
    ///
    /// # Errors
    /// Storage failure or an undecodable row.
    pub fn summaries(&self) -> Result<Vec<ThreadSummary>, ReplicaError> {
        self.threads
            .iter()
            .values()
            .map(|bytes| Ok(codec::decode_binary(&bytes?)?))
            .collect()
    }

    /// Every @mention's inbox row, oldest first.
    ///
    /// # Errors
    /// Storage failure or an undecodable row.
    pub fn mentions(&self) -> Result<Vec<MentionRow>, ReplicaError> {
        self.mentions
            .iter()
            .values()
            .map(|bytes| Ok(codec::decode_binary(&bytes?)?))
            .collect()
    }

    /// The @mention stored at `seq`, if it is one.
    ///
    /// # Errors
    /// Storage failure or an undecodable row.
    pub fn mention(&self, seq: Seq) -> Result<Option<MentionRow>, ReplicaError> {
        match self.mentions.get(seq.0.to_be_bytes())? {
            Some(bytes) => Ok(Some(codec::decode_binary(&bytes)?)),
            None => Ok(None),
        }
    }

    /// One thread's inbox row.
    ///
    /// # Errors
    /// Storage failure or an undecodable row.
    pub fn summary(&self, thread: &ThreadId) -> Result<Option<ThreadSummary>, ReplicaError> {
        match self.threads.get(thread.as_str())? {
            Some(bytes) => Ok(Some(codec::decode_binary(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Every event of one thread, in log order.
    ///
    /// # Errors
    /// Storage failure, an undecodable event, or an index entry without its event.
    pub fn thread_events(&self, thread: &ThreadId) -> Result<Vec<Event>, ReplicaError> {
        let Some(seqs) = self.by_thread.get(thread.as_str())? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(seqs.len() / 8);
        for chunk in seqs.chunks(8) {
            let seq: [u8; 8] = chunk.try_into().map_err(|_| ReplicaError::Corrupt {
                what: "thread index",
            })?;
            let event = self
                .event(Seq(u64::from_be_bytes(seq)))?
                .ok_or(ReplicaError::Corrupt {
                    what: "thread index",
                })?;
            out.push(event);
        }
        Ok(out)
    }

    /// The tenant's reply credits as last known: the welcome's balance, then top-ups and
    /// sends applied since (`None` before the first welcome).
    ///
    /// # Errors
    /// Storage failure or a malformed stored balance.
    pub fn credits(&self) -> Result<Option<i64>, ReplicaError> {
        read_credits(self.meta.get(CREDITS)?.as_deref())
    }

    /// Records the balance a welcome announced.
    ///
    /// # Errors
    /// Storage failure.
    pub fn set_credits(&self, balance: i64) -> Result<(), ReplicaError> {
        self.meta.insert(CREDITS, &balance.to_be_bytes()[..])?;
        Ok(())
    }

    /// Makes everything written so far durable (fsync).
    ///
    /// # Errors
    /// The flush failed.
    pub fn flush(&self) -> Result<(), ReplicaError> {
        self.db.flush()?;
        Ok(())
    }
}

/// The tree replicas written before `thread_seqs` indexed threads in: one empty entry per
/// event, keyed thread, [`OLD_SEPARATOR`], seq big-endian.
const OLD_THREAD_INDEX: &[u8] = b"by_thread";
/// Never occurs in UTF-8, so one thread's keys are never a prefix of another's.
const OLD_SEPARATOR: u8 = 0xFF;

/// Rebuilds `thread_seqs` from an old `by_thread` tree, then drops it. Without this an old
/// replica shows its threads empty and a customer removal redacts nothing there.
///
/// Rebuilding overwrites whole entries, so a crash before the drop just repeats it; the
/// flush keeps the drop from becoming durable ahead of the new entries.
fn migrate_thread_index(db: &sled::Db, thread_seqs: &Tree) -> Result<(), ReplicaError> {
    if !db
        .tree_names()
        .iter()
        .any(|name| name.as_ref() == OLD_THREAD_INDEX)
    {
        return Ok(());
    }
    let corrupt = || ReplicaError::Corrupt {
        what: "old thread index",
    };
    let old = db.open_tree(OLD_THREAD_INDEX)?;
    let mut batch = sled::Batch::default();
    // Keys sort by thread then seq, so each thread's keys are one ascending run.
    let mut current: Option<(Vec<u8>, Vec<u8>)> = None;
    for key in old.iter().keys() {
        let key = key?;
        let split = key.len().checked_sub(9).ok_or_else(corrupt)?;
        let (thread, rest) = key.split_at(split);
        let (separator, seq) = rest.split_at(1);
        if separator != [OLD_SEPARATOR] {
            return Err(corrupt());
        }
        match &mut current {
            Some((t, seqs)) if t.as_slice() == thread => seqs.extend_from_slice(seq),
            _ => {
                if let Some((t, seqs)) = current.replace((thread.to_vec(), seq.to_vec())) {
                    batch.insert(t, seqs);
                }
            }
        }
    }
    if let Some((t, seqs)) = current {
        batch.insert(t, seqs);
    }
    thread_seqs.apply_batch(batch)?;
    db.flush()?;
    db.drop_tree(OLD_THREAD_INDEX)?;
    Ok(())
}

/// Gives every mention already in `events` its row, once: replicas written before the
/// `mentions` tree hold mentions no row lists. Rows are keyed by seq, so a crash before the
/// marker is written just repeats the pass.
fn index_mentions(
    db: &sled::Db,
    events: &Tree,
    meta: &Tree,
    mentions: &Tree,
) -> Result<(), ReplicaError> {
    if meta.contains_key(MENTIONS_INDEXED)? {
        return Ok(());
    }
    let mut batch = sled::Batch::default();
    for entry in events.iter() {
        let (key, bytes) = entry?;
        let event: Event = codec::decode_binary(&bytes)?;
        if let Some(row) = MentionRow::of(&event) {
            batch.insert(key, codec::encode_binary(&row)?);
        }
    }
    mentions.apply_batch(batch)?;
    db.flush()?;
    meta.insert(MENTIONS_INDEXED, &[1u8][..])?;
    Ok(())
}

type TxResult<T> = Result<T, ConflictableTransactionError<ReplicaError>>;

/// A customer's data was removed at the relay: every event of the thread held here is
/// rewritten by the same rule (`protocol::redact::event`), and the row rebuilt from them.
fn remove_customer(
    events: &TransactionalTree,
    threads: &TransactionalTree,
    by_thread: &TransactionalTree,
    thread: &ThreadId,
    me: &AgentId,
) -> TxResult<()> {
    let abort = ConflictableTransactionError::Abort;
    let Some(seqs) = by_thread.get(thread.as_str())? else {
        return Ok(());
    };
    let mut row: Option<ThreadSummary> = None;
    for chunk in seqs.chunks(8) {
        let key: [u8; 8] = chunk.try_into().map_err(|_| {
            abort(ReplicaError::Corrupt {
                what: "thread index",
            })
        })?;
        let Some(bytes) = events.get(key)? else {
            return Err(abort(ReplicaError::Corrupt {
                what: "thread index",
            }));
        };
        let mut event: Event =
            codec::decode_binary(&bytes).map_err(|e| abort(ReplicaError::Codec(e)))?;
        if protocol::redact::event(&mut event) {
            let bytes = codec::encode_binary(&event).map_err(|e| abort(ReplicaError::Codec(e)))?;
            events.insert(&key[..], bytes)?;
        }
        row = ThreadSummary::apply(row, &event, me);
    }
    if let Some(row) = row {
        let bytes = codec::encode_binary(&row).map_err(|e| abort(ReplicaError::Codec(e)))?;
        threads.insert(thread.as_str(), bytes)?;
    }
    Ok(())
}

fn read_credits(bytes: Option<&[u8]>) -> Result<Option<i64>, ReplicaError> {
    match bytes {
        None => Ok(None),
        Some(bytes) => {
            let array: [u8; 8] = bytes
                .try_into()
                .map_err(|_| ReplicaError::Corrupt { what: "credits" })?;
            Ok(Some(i64::from_be_bytes(array)))
        }
    }
}

fn read_seq(bytes: Option<&[u8]>, what: &'static str) -> Result<Seq, ReplicaError> {
    match bytes {
        None => Ok(Seq(0)),
        Some(bytes) => {
            let array: [u8; 8] = bytes
                .try_into()
                .map_err(|_| ReplicaError::Corrupt { what })?;
            Ok(Seq(u64::from_be_bytes(array)))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use protocol::{ChannelId, EventBody, Millis, UnknownEvent};

    pub(crate) fn event(tenant: &str, seq: u64) -> Event {
        Event {
            tenant: TenantId::new(tenant),
            seq: Seq(seq),
            received_at: Millis(1_700_000_000_000 + i64::try_from(seq).unwrap_or(0)),
            body: EventBody::Unknown(UnknownEvent {
                channel_id: ChannelId::new("ch-1"),
                object: "instagram".into(),
                kind: "test".into(),
                raw: format!("{{\"n\":{seq}}}"),
            }),
        }
    }

    fn events(seqs: &[u64]) -> Vec<Event> {
        seqs.iter().map(|&s| event("t-a", s)).collect()
    }

    fn seqs(replica: &Replica) -> Vec<u64> {
        replica
            .events_after(Seq(0), usize::MAX)
            .unwrap()
            .iter()
            .map(|e| e.seq.0)
            .collect()
    }

    fn header(brand: &str, tenant_name: &str) -> Header {
        Header {
            brand: brand.into(),
            tenant_name: tenant_name.into(),
        }
    }

    fn identity(tenant: &str, agent: &str, role: Role) -> Identity {
        Identity {
            tenant: TenantId::new(tenant),
            agent: AgentId::new(agent),
            role,
        }
    }

    #[test]
    fn apply_writes_events_and_cursor_together_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let replica = Replica::open_dir(dir.path()).unwrap();
            assert_eq!(replica.cursor().unwrap(), Seq(0));
            let applied = replica.apply(&events(&[1, 2, 3])).unwrap();
            assert_eq!(
                applied,
                Applied {
                    cursor: Seq(3),
                    applied: 3,
                    gap: None
                }
            );
            replica.flush().unwrap();
        }
        let replica = Replica::open_dir(dir.path()).unwrap();
        assert_eq!(replica.cursor().unwrap(), Seq(3));
        assert_eq!(seqs(&replica), [1, 2, 3]);
        assert_eq!(replica.event(Seq(2)).unwrap(), Some(event("t-a", 2)));
        assert_eq!(replica.events_after(Seq(1), 1).unwrap(), [event("t-a", 2)]);
        assert!(replica.events_after(Seq(u64::MAX), 5).unwrap().is_empty());
    }

    #[test]
    fn reapplying_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let replica = Replica::open_dir(dir.path()).unwrap();
        replica.apply(&events(&[1, 2])).unwrap();
        let mut changed = event("t-a", 2);
        changed.received_at = Millis(0);
        let again = replica.apply(&[event("t-a", 1), changed]).unwrap();
        assert_eq!(again.applied, 0);
        assert_eq!(again.cursor, Seq(2));
        // The first copy stays: a seq names one event forever.
        assert_eq!(replica.event(Seq(2)).unwrap(), Some(event("t-a", 2)));
        let overlap = replica.apply(&events(&[2, 2, 3, 3])).unwrap();
        assert_eq!((overlap.applied, overlap.cursor), (1, Seq(3)));
        assert_eq!(seqs(&replica), [1, 2, 3]);
    }

    #[test]
    fn a_gap_is_refused_and_the_prefix_kept() {
        let dir = tempfile::tempdir().unwrap();
        let replica = Replica::open_dir(dir.path()).unwrap();
        replica.apply(&events(&[1, 2])).unwrap();
        let gap = replica.apply(&events(&[4])).unwrap();
        assert_eq!(
            gap,
            Applied {
                cursor: Seq(2),
                applied: 0,
                gap: Some(Gap {
                    expected: Seq(3),
                    got: Seq(4)
                })
            }
        );
        let partial = replica.apply(&events(&[3, 5, 4])).unwrap();
        assert_eq!(partial.cursor, Seq(3));
        assert_eq!(
            partial.gap,
            Some(Gap {
                expected: Seq(4),
                got: Seq(5)
            })
        );
        assert_eq!(seqs(&replica), [1, 2, 3]);
        assert_eq!(replica.cursor().unwrap(), Seq(3));
    }

    #[test]
    fn identity_is_fixed_by_the_first_welcome() {
        let dir = tempfile::tempdir().unwrap();
        let replica = Replica::open_dir(dir.path()).unwrap();
        assert_eq!(replica.identity().unwrap(), None);
        assert_eq!(replica.header().unwrap(), None);
        let first = identity("t-a", "ag-1", Role::Agent);
        let shown = header("Agency Desk", "Boutique A");
        replica.accept_welcome(&first, &shown, Seq(9)).unwrap();
        assert_eq!(replica.identity().unwrap(), Some(first.clone()));
        assert_eq!(replica.header().unwrap(), Some(shown.clone()));
        assert_eq!(replica.head().unwrap(), Seq(9));

        // A promotion is fine, and so is a renamed business.
        let promoted = identity("t-a", "ag-1", Role::Owner);
        let renamed = header("Agency Desk", "Boutique A+");
        replica
            .accept_welcome(&promoted, &renamed, Seq(10))
            .unwrap();
        assert_eq!(replica.identity().unwrap(), Some(promoted.clone()));
        assert_eq!(replica.header().unwrap(), Some(renamed.clone()));

        for other in [
            identity("t-b", "ag-1", Role::Owner),
            identity("t-a", "ag-2", Role::Owner),
        ] {
            let foreign = header("Other Agency", "Bakery B");
            let err = replica
                .accept_welcome(&other, &foreign, Seq(11))
                .unwrap_err();
            assert!(
                matches!(&err, ReplicaError::IdentityMismatch { stored, got } if *stored == promoted && *got == other),
                "{err:?}"
            );
            assert!(err.to_string().contains("belongs to tenant t-a"), "{err}");
        }
        assert_eq!(replica.identity().unwrap(), Some(promoted));
        assert_eq!(replica.header().unwrap(), Some(renamed.clone()));
        assert_eq!(replica.head().unwrap(), Seq(10));
        drop(replica);
        // The header is there for an offline start.
        let reopened = Replica::open_dir(dir.path()).unwrap();
        assert_eq!(reopened.header().unwrap(), Some(renamed));
    }

    #[test]
    fn events_of_another_tenant_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let replica = Replica::open_dir(dir.path()).unwrap();
        replica
            .accept_welcome(
                &identity("t-a", "ag-1", Role::Agent),
                &header("Agency Desk", "Boutique A"),
                Seq(2),
            )
            .unwrap();
        let err = replica
            .apply(&[event("t-a", 1), event("t-b", 2)])
            .unwrap_err();
        assert!(matches!(
            err,
            ReplicaError::ForeignTenant { seq: Seq(2), .. }
        ));
        assert_eq!(replica.cursor().unwrap(), Seq(0));
    }

    #[test]
    fn a_second_open_of_the_same_directory_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Replica::open_dir(dir.path()).unwrap();
        let err = Replica::open_dir(dir.path()).unwrap_err();
        assert!(matches!(err, ReplicaError::Open { .. }), "{err:?}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// `n` events, and deliveries made of them: any seqs of `1..=n`, repeated and in
        /// any order, cut into batches of any size.
        fn deliveries() -> impl Strategy<Value = (u64, Vec<Vec<u64>>)> {
            (1u64..30).prop_flat_map(|n| {
                let batch = proptest::collection::vec(1..=n, 0..8);
                (Just(n), proptest::collection::vec(batch, 0..12))
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Whatever the relay (or a broken network) delivers, the replica holds exactly
            /// `1..=cursor` after every batch, each event as sent; and once the engine's
            /// reconnect delivers the rest from the cursor, exactly `1..=n`.
            #[test]
            fn any_delivery_yields_a_gap_free_log((n, batches) in deliveries()) {
                let dir = tempfile::tempdir().unwrap();
                let replica = Replica::open_dir(dir.path()).unwrap();
                for batch in &batches {
                    let applied = replica.apply(&events(batch)).unwrap();
                    let held = seqs(&replica);
                    let expected: Vec<u64> = (1..=applied.cursor.0).collect();
                    prop_assert_eq!(&held, &expected);
                    prop_assert_eq!(replica.cursor().unwrap(), applied.cursor);
                    if let Some(gap) = applied.gap {
                        prop_assert_eq!(gap.expected, applied.cursor.next());
                        prop_assert!(gap.got > gap.expected);
                    }
                }
                // What a reconnect from the cursor brings: the rest, in order.
                let cursor = replica.cursor().unwrap().0;
                let rest: Vec<u64> = (cursor + 1..=n).collect();
                let applied = replica.apply(&events(&rest)).unwrap();
                prop_assert_eq!(applied.gap, None);
                let all: Vec<u64> = (1..=n).collect();
                prop_assert_eq!(seqs(&replica), all);
                for e in replica.events_after(Seq(0), usize::MAX).unwrap() {
                    prop_assert_eq!(&e, &event("t-a", e.seq.0));
                }
            }
        }
    }

    /// A replica written before the thread index moved to `thread_seqs`: events, cursor and
    /// the old `by_thread` tree (thread, 0xFF, seq big-endian → empty), built by hand.
    fn old_format_replica(path: &Path, batch: &[Event]) {
        let db = sled::Config::new().path(path).open().unwrap();
        let events = db.open_tree("events").unwrap();
        let by_thread = db.open_tree("by_thread").unwrap();
        for e in batch {
            events
                .insert(e.seq.0.to_be_bytes(), codec::encode_binary(e).unwrap())
                .unwrap();
            if let Some(thread) = thread_of(e) {
                let mut key = thread.as_str().as_bytes().to_vec();
                key.push(0xFF);
                key.extend_from_slice(&e.seq.0.to_be_bytes());
                by_thread.insert(key, &[][..]).unwrap();
            }
        }
        let cursor = batch.last().map_or(0, |e| e.seq.0);
        db.open_tree("meta")
            .unwrap()
            .insert(CURSOR, &cursor.to_be_bytes()[..])
            .unwrap();
        db.flush().unwrap();
    }

    #[test]
    fn an_old_thread_index_is_carried_over_on_open_and_dropped() {
        use crate::fixtures::{Events, NOW};
        use protocol::Channel;
        let dir = tempfile::tempdir().unwrap();
        let mut e = Events::new("t-sari");
        // Interleaved, so each thread's seqs are not one run; "th" is a prefix of "th2".
        e.message(
            "th",
            Channel::InstagramDm,
            "rina",
            "alamat Jl. Mawar 5",
            NOW,
        );
        e.message("th2", Channel::InstagramDm, "budi", "keep me", NOW);
        e.message("th", Channel::InstagramDm, "rina", "ukuran M", NOW);
        let batch = e.take();
        old_format_replica(dir.path(), &batch);

        let replica = Replica::open_dir(dir.path()).unwrap();
        let th = replica.thread_events(&ThreadId::new("th")).unwrap();
        assert_eq!(th, [batch[0].clone(), batch[2].clone()]);
        let th2 = replica.thread_events(&ThreadId::new("th2")).unwrap();
        assert_eq!(th2, [batch[1].clone()]);
        assert!(
            !replica
                .db
                .tree_names()
                .iter()
                .any(|n| n.as_ref() == b"by_thread"),
            "the old tree is gone"
        );
        // What the missing index broke: a data deletion must reach the old thread's events.
        e.customer_removed("th", NOW);
        replica.apply(&e.take()).unwrap();
        let text = format!("{:?}", replica.thread_events(&ThreadId::new("th")).unwrap());
        assert!(!text.contains("Mawar"), "{text}");
        drop(replica);
        // Opening again finds nothing to carry over and keeps the index.
        let replica = Replica::open_dir(dir.path()).unwrap();
        assert_eq!(
            replica.thread_events(&ThreadId::new("th")).unwrap().len(),
            2
        );
    }

    #[test]
    fn mentions_are_rows_of_their_own_kept_across_reopen_and_erased_with_the_tenant() {
        use crate::fixtures::{Events, NOW};
        use protocol::Channel;
        let dir = tempfile::tempdir().unwrap();
        let mut e = Events::new("t-sari");
        e.message("th", Channel::InstagramDm, "rina", "halo", NOW);
        let seq = e.mention(Some("17920000000000003"), Some("17920000000000002"), NOW);
        let batch = e.take();
        let replica = Replica::open_dir(dir.path()).unwrap();
        replica.apply(&batch).unwrap();
        let expected = MentionRow::of(&batch[1]).unwrap();
        assert_eq!(replica.mentions().unwrap(), std::slice::from_ref(&expected));
        assert_eq!(replica.mention(seq).unwrap(), Some(expected.clone()));
        assert_eq!(
            replica.mention(Seq(1)).unwrap(),
            None,
            "a message is no mention"
        );
        assert_eq!(replica.summaries().unwrap().len(), 1, "and no thread");
        // A data deletion is about a thread's customer; a mention names none.
        e.customer_removed("th", NOW);
        replica.apply(&e.take()).unwrap();
        assert_eq!(replica.mentions().unwrap(), std::slice::from_ref(&expected));
        drop(replica);
        let replica = Replica::open_dir(dir.path()).unwrap();
        assert_eq!(
            replica.mentions().unwrap(),
            [expected],
            "kept across a restart"
        );
        replica.erase().unwrap();
        assert_eq!(replica.mentions().unwrap(), []);
    }

    #[test]
    fn a_replica_from_before_the_mention_rows_indexes_its_mentions_on_open() {
        use crate::fixtures::{Events, NOW};
        use protocol::Channel;
        let dir = tempfile::tempdir().unwrap();
        let mut e = Events::new("t-sari");
        e.mention(Some("17920000000000001"), None, NOW);
        e.message("th", Channel::InstagramDm, "rina", "halo", NOW);
        let batch = e.take();
        old_format_replica(dir.path(), &batch);
        let replica = Replica::open_dir(dir.path()).unwrap();
        assert_eq!(
            replica.mentions().unwrap(),
            [MentionRow::of(&batch[0]).unwrap()]
        );
        drop(replica);
        // Indexed once: the marker keeps a second open from scanning again.
        let replica = Replica::open_dir(dir.path()).unwrap();
        assert!(replica.meta.contains_key(MENTIONS_INDEXED).unwrap());
        assert_eq!(replica.mentions().unwrap().len(), 1);
    }

    #[test]
    fn a_customer_removal_rewrites_the_threads_events_and_row() {
        use crate::fixtures::{Events, NOW};
        use protocol::Channel;
        let dir = tempfile::tempdir().unwrap();
        let mut e = Events::new("t-sari");
        e.message(
            "th",
            Channel::InstagramDm,
            "rina",
            "my address is Jl. Mawar 5",
            NOW,
        );
        e.draft("th", 1, "Noted, Jl. Mawar 5", &["fact"], &[], NOW);
        e.message("other", Channel::InstagramDm, "budi", "keep me", NOW);
        let replica = crate::fixtures::replica(dir.path(), &e.take()).unwrap();
        e.customer_removed("th", NOW);
        replica.apply(&e.take()).unwrap();
        let events = replica.thread_events(&ThreadId::new("th")).unwrap();
        let text = format!("{events:?}");
        // Meta's pseudonymous id stays (new messages still find the thread); names go.
        assert!(
            !text.contains("Mawar") && !text.contains("Some(\"rina\")"),
            "{text}"
        );
        let row = replica.summary(&ThreadId::new("th")).unwrap().unwrap();
        assert!(!format!("{row:?}").contains("Mawar"), "{row:?}");
        assert_eq!(row.draft.unwrap().text, protocol::redact::TOMBSTONE);
        let other = replica.thread_events(&ThreadId::new("other")).unwrap();
        assert!(
            format!("{other:?}").contains("keep me"),
            "other threads are untouched"
        );
    }
}
