//! The sled backend: one tree for the registry, one for all tenants' data under
//! `t/<tenant>/…` prefixes, so one tenant's append is a single atomic `apply_batch`.
//!
//! Key layout (tenant ids are minted from `[a-z0-9_]`, so `/` cannot occur inside them):
//!
//! | key | value |
//! |---|---|
//! | `t/<tenant>/h` | head sequence (u64, big-endian) |
//! | `t/<tenant>/e/<seq be8>` | `Event` |
//! | `t/<tenant>/d/<dedup key>` | sequence of the first delivery |
//! | `t/<tenant>/t/<thread>` | `ThreadView` |
//! | `t/<tenant>/m/<thread>/<meta time be8><seq be8>` | `MessageView` (ordered by Meta's time) |
//! | `t/<tenant>/i/<mid>` | key of the message with that Meta id |
//! | `t/<tenant>/a/<channel>` | arrival time of the channel's newest event |
//! | `t/<tenant>/k/<agent>/<command key>` | the first `Answer` to that agent's command |
//! | registry `p/`, `n/`, `g/`, `k/`, `c/<tenant>/`, `r/` | partners, tenants, agents, token hashes, channels, routes |
//!
//! Sequence numbers are gap-free because the head and the events that advance it are
//! written in the same batch, under a per-tenant lock. Values are encoded by
//! `protocol::codec` (bincode); nothing outside this file imports sled.

use super::commit::{Committer, FlushObserver};
use super::project::{Views, project};
use super::{
    AgentKind, AgentRecord, Appended, ChannelRecord, CommandOutcome, CommandRequest, MessageView,
    NewEvent, PartnerRecord, Store, StoreError, TenantRecord, ThreadView,
};
use crate::desk::decide::decide;
use crate::ingest::parse::RouteKey;
use crate::principal::TenantScope;
use async_trait::async_trait;
use protocol::codec::{decode_binary, encode_binary};
use protocol::{
    AgentId, Answer, ChannelId, Command, CommandKey, DeskEvent, Event, EventBody, Millis,
    PartnerId, Seq, TenantId, ThreadId,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

const STRIPES: usize = 64;

pub struct SledStore {
    registry: sled::Tree,
    data: sled::Tree,
    registry_lock: Mutex<()>,
    tenant_locks: Vec<Mutex<()>>,
    committer: Committer,
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

fn route_key(key: &RouteKey) -> Vec<u8> {
    match key {
        RouteKey::Instagram(id) => format!("r/ig:{id}").into_bytes(),
        RouteKey::WhatsApp(id) => format!("r/wa:{id}").into_bytes(),
    }
}

struct Prefix(String);

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
    fn head(&self) -> Vec<u8> {
        format!("{}h", self.0).into_bytes()
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
    fn answer(&self, agent: &AgentId, key: &CommandKey) -> Vec<u8> {
        let mut k = self.key("k", agent.as_str().as_bytes());
        k.push(b'/');
        k.extend_from_slice(key.as_str().as_bytes());
        k
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir` and starts its group committer.
    ///
    /// # Errors
    /// The directory cannot be opened (for example, another relay holds it).
    pub fn open(dir: &Path, observe: FlushObserver) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            // Durability comes from our explicit flushes; sled's own background flush
            // timer would only add fsyncs.
            .flush_every_ms(None)
            .open()
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", dir.display())))?;
        let registry = db.open_tree("registry").map_err(backend)?;
        let data = db.open_tree("tenants").map_err(backend)?;
        let flusher = db.clone();
        let committer = Committer::spawn(
            move || flusher.flush().map(|_| ()).map_err(|e| e.to_string()),
            observe,
        )
        .map_err(backend)?;
        Ok(SledStore {
            registry,
            data,
            registry_lock: Mutex::new(()),
            tenant_locks: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            committer,
        })
    }

    fn tenant_lock(&self, tenant: &TenantId) -> std::sync::MutexGuard<'_, ()> {
        let h = tenant
            .as_str()
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
        // A poisoned lock only means another append panicked; the data is still consistent
        // because sled batches are atomic.
        self.tenant_locks[h % STRIPES]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let _g = self
            .registry_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self
            .registry
            .contains_key(key.as_bytes())
            .map_err(backend)?
        {
            return Err(StoreError::Conflict(what.to_owned()));
        }
        self.registry
            .insert(key.as_bytes(), enc(value)?)
            .map_err(backend)?;
        Ok(())
    }

    fn read_head(&self, prefix: &Prefix) -> Result<Seq, StoreError> {
        match self.data.get(prefix.head()).map_err(backend)? {
            Some(v) => read_seq(&v),
            None => Ok(Seq(0)),
        }
    }

    fn scan<T: DeserializeOwned>(tree: &sled::Tree, prefix: &[u8]) -> Result<Vec<T>, StoreError> {
        tree.scan_prefix(prefix)
            .values()
            .map(|v| dec(&v.map_err(backend)?))
            .collect()
    }
}

/// Reads through to sled and collects writes for the append's batch; later events of the
/// same append see earlier ones' changes.
struct Overlay<'a> {
    data: &'a sled::Tree,
    prefix: &'a Prefix,
    threads: HashMap<ThreadId, ThreadView>,
    messages: HashMap<String, MessageView>,
}

impl Views for Overlay<'_> {
    fn thread(&mut self, id: &ThreadId) -> Result<Option<ThreadView>, StoreError> {
        if let Some(t) = self.threads.get(id) {
            return Ok(Some(t.clone()));
        }
        SledStore::get(self.data, &self.prefix.thread(id))
    }
    fn put_thread(&mut self, view: ThreadView) {
        self.threads.insert(view.id.clone(), view);
    }
    fn message_by_mid(&mut self, mid: &str) -> Result<Option<MessageView>, StoreError> {
        if let Some(m) = self.messages.get(mid) {
            return Ok(Some(m.clone()));
        }
        let Some(key) = self.data.get(self.prefix.mid(mid)).map_err(backend)? else {
            return Ok(None);
        };
        SledStore::get(self.data, &key)
    }
    fn put_message(&mut self, view: MessageView) {
        self.messages.insert(view.mid.clone(), view);
    }
}

impl<'a> Overlay<'a> {
    fn new(data: &'a sled::Tree, prefix: &'a Prefix) -> Overlay<'a> {
        Overlay {
            data,
            prefix,
            threads: HashMap::new(),
            messages: HashMap::new(),
        }
    }

    /// Adds the changed views to `batch`.
    fn stage(&self, batch: &mut sled::Batch) -> Result<(), StoreError> {
        for thread in self.threads.values() {
            batch.insert(self.prefix.thread(&thread.id), enc(thread)?);
        }
        for message in self.messages.values() {
            let key = self.prefix.message(message);
            batch.insert(self.prefix.mid(&message.mid), key.as_slice());
            batch.insert(key, enc(message)?);
        }
        Ok(())
    }
}

#[async_trait]
impl Store for SledStore {
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

    async fn insert_agent(&self, agent: AgentRecord) -> Result<(), StoreError> {
        let _g = self
            .registry_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut batch = sled::Batch::default();
        batch.insert(format!("g/{}", agent.id).as_bytes(), enc(&agent)?);
        batch.insert(
            format!("k/{}", agent.token_hash).as_bytes(),
            agent.id.as_str().as_bytes(),
        );
        self.registry.apply_batch(batch).map_err(backend)
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
        let _g = self
            .registry_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
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
        self.registry
            .remove(format!("k/{}", record.token_hash))
            .map_err(backend)?;
        Ok(true)
    }

    async fn insert_channel(
        &self,
        scope: &TenantScope,
        channel: ChannelRecord,
    ) -> Result<(), StoreError> {
        let _g = self
            .registry_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut batch = sled::Batch::default();
        for key in channel.route_keys() {
            let k = route_key(&key);
            if self.registry.contains_key(&k).map_err(backend)? {
                let (RouteKey::Instagram(id) | RouteKey::WhatsApp(id)) = key;
                return Err(StoreError::Conflict(format!("a channel for account {id}")));
            }
            batch.insert(k, format!("{}/{}", scope.tenant(), channel.id).as_bytes());
        }
        let mut record = channel;
        record.tenant = scope.tenant().clone();
        batch.insert(
            format!("c/{}/{}", record.tenant, record.id).as_bytes(),
            enc(&record)?,
        );
        self.registry.apply_batch(batch).map_err(backend)
    }

    async fn channels(&self, scope: &TenantScope) -> Result<Vec<ChannelRecord>, StoreError> {
        Self::scan(&self.registry, format!("c/{}/", scope.tenant()).as_bytes())
    }

    async fn channel_by_route(&self, key: &RouteKey) -> Result<Option<ChannelRecord>, StoreError> {
        let Some(target) = self.registry.get(route_key(key)).map_err(backend)? else {
            return Ok(None);
        };
        let mut k = b"c/".to_vec();
        k.extend_from_slice(&target);
        Self::get(&self.registry, &k)
    }

    async fn channel_activity(
        &self,
        scope: &TenantScope,
    ) -> Result<Vec<(ChannelId, Millis)>, StoreError> {
        let prefix = Prefix::of(scope.tenant()).key("a", b"");
        self.data
            .scan_prefix(&prefix)
            .map(|kv| {
                let (k, v) = kv.map_err(backend)?;
                let id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                let at = i64::from_be_bytes(
                    v.as_ref()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("activity".into()))?,
                );
                Ok((ChannelId(id), Millis(at)))
            })
            .collect()
    }

    async fn append(
        &self,
        scope: &TenantScope,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Appended>, StoreError> {
        let tenant = scope.tenant();
        let prefix = Prefix::of(tenant);
        let _g = self.tenant_lock(tenant);
        let mut head = self.read_head(&prefix)?;
        let mut batch = sled::Batch::default();
        let mut seen_here: HashMap<String, Seq> = HashMap::new();
        let mut overlay = Overlay::new(&self.data, &prefix);
        let mut out = Vec::with_capacity(events.len());
        for new in events {
            let dkey = prefix.dedup(&new.dedup_key);
            let earlier = match seen_here.get(&new.dedup_key) {
                Some(seq) => Some(*seq),
                None => self
                    .data
                    .get(&dkey)
                    .map_err(backend)?
                    .map(|v| read_seq(&v))
                    .transpose()?,
            };
            if let Some(seq) = earlier {
                out.push(Appended::Duplicate(seq));
                continue;
            }
            head = head.next();
            let event = Event {
                tenant: tenant.clone(),
                seq: head,
                received_at: new.received_at,
                body: new.body,
            };
            batch.insert(prefix.event(head), enc(&event)?);
            batch.insert(dkey, &be(head));
            batch.insert(
                prefix.activity(event.channel_id()),
                &event.received_at.0.to_be_bytes(),
            );
            project(&event, &mut overlay)?;
            seen_here.insert(new.dedup_key, head);
            out.push(Appended::Stored(event));
        }
        if seen_here.is_empty() {
            return Ok(out);
        }
        overlay.stage(&mut batch)?;
        batch.insert(prefix.head(), &be(head));
        self.data.apply_batch(batch).map_err(backend)?;
        Ok(out)
    }

    async fn apply_command(
        &self,
        scope: &TenantScope,
        request: CommandRequest,
    ) -> Result<CommandOutcome, StoreError> {
        let tenant = scope.tenant();
        let prefix = Prefix::of(tenant);
        let _g = self.tenant_lock(tenant);
        let answer_key = prefix.answer(&request.agent, &request.key);
        if let Some(answer) = Self::get::<Answer>(&self.data, &answer_key)? {
            return Ok(CommandOutcome {
                answer,
                event: None,
            });
        }
        let mut overlay = Overlay::new(&self.data, &prefix);
        let thread = overlay.thread(request.command.thread())?;
        let comment = match &request.command {
            Command::HideComment { comment_id, .. } => overlay.message_by_mid(comment_id)?,
            _ => None,
        };
        let mut batch = sled::Batch::default();
        let (answer, event) = match (decide(thread.as_ref(), comment.as_ref(), &request), thread) {
            (Err(rejection), _) => (Answer::Rejected { rejection }, None),
            (Ok(_), None) => {
                return Err(StoreError::Corrupt(
                    "a command was allowed on a missing thread".into(),
                ));
            }
            (Ok(action), Some(thread)) => {
                let head = self.read_head(&prefix)?.next();
                let event = Event {
                    tenant: tenant.clone(),
                    seq: head,
                    received_at: request.received_at,
                    body: EventBody::Desk(DeskEvent {
                        channel_id: thread.channel_id.clone(),
                        thread: thread.id.clone(),
                        agent: request.agent.clone(),
                        key: Some(request.key.clone()),
                        action,
                    }),
                };
                batch.insert(prefix.event(head), enc(&event)?);
                project(&event, &mut overlay)?;
                overlay.stage(&mut batch)?;
                batch.insert(prefix.head(), &be(head));
                (Answer::Applied { seq: head }, Some(event))
            }
        };
        batch.insert(answer_key, enc(&answer)?);
        self.data.apply_batch(batch).map_err(backend)?;
        Ok(CommandOutcome { answer, event })
    }

    async fn head(&self, scope: &TenantScope) -> Result<Seq, StoreError> {
        self.read_head(&Prefix::of(scope.tenant()))
    }

    async fn heads(&self) -> Result<Vec<(TenantId, Seq)>, StoreError> {
        let tenants: Vec<TenantRecord> = Self::scan(&self.registry, b"n/")?;
        tenants
            .into_iter()
            .map(|t| {
                let head = self.read_head(&Prefix::of(&t.id))?;
                Ok((t.id, head))
            })
            .collect()
    }

    async fn events_after(
        &self,
        scope: &TenantScope,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let prefix = Prefix::of(scope.tenant());
        let start = prefix.event(after.next());
        let end = prefix.key("e", &[0xff; 9]);
        self.data
            .range(start..end)
            .values()
            .take(limit)
            .map(|v| dec(&v.map_err(backend)?))
            .collect()
    }

    async fn threads(&self, scope: &TenantScope) -> Result<Vec<ThreadView>, StoreError> {
        let mut threads: Vec<ThreadView> =
            Self::scan(&self.data, &Prefix::of(scope.tenant()).key("t", b""))?;
        threads.sort_by(|a, b| {
            b.last_message_at
                .cmp(&a.last_message_at)
                .then(a.id.cmp(&b.id))
        });
        Ok(threads)
    }

    async fn thread(
        &self,
        scope: &TenantScope,
        id: &ThreadId,
    ) -> Result<Option<ThreadView>, StoreError> {
        Self::get(&self.data, &Prefix::of(scope.tenant()).thread(id))
    }

    async fn messages(
        &self,
        scope: &TenantScope,
        thread: &ThreadId,
    ) -> Result<Vec<MessageView>, StoreError> {
        Self::scan(&self.data, &Prefix::of(scope.tenant()).messages_of(thread))
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.committer.wait().await
    }

    async fn close(&self) -> Result<(), StoreError> {
        // The committer's flush is a full `Db::flush`; going through it keeps the one-flush-
        // in-flight rule even at shutdown.
        self.committer.wait().await
    }
}

#[cfg(test)]
mod tests;
