//! The PostgreSQL backend (`RELAY_STORAGE=postgres`): the same [`Backend`] as sled, so the
//! rules of [`super::domain`] run unchanged, with tenancy enforced again by the database.
//!
//! Every tenant step is one transaction that runs `SET LOCAL ROLE chatdesk_tenant` and sets
//! `app.tenant_id` locally, so row-level security (enabled and forced on every tenant table,
//! see `pg/0001_schema.sql`) hides every other tenant's rows even when the relay logs in as
//! a superuser. A writing step first locks its tenant's head row, so sequence numbers stay
//! gap-free however many relays write; a step's writes commit together, and a webhook is
//! answered only after that commit (`synchronous_commit` stays on, so [`Backend::sync`]
//! has nothing left to do). Cross-tenant reads (routing by account id, heads at start-up)
//! run as `chatdesk_ops`, which may only read routes, channels and heads.
//!
//! The rules are synchronous, so a step fetches what they will read before they run (one
//! pipelined round trip with BEGIN, role, setting and head lock; see [`begin`]), runs them
//! on the async worker, and sends their writes with the COMMIT (see [`commit`]): a webhook's
//! step is two round trips and no thread hand-off. A read the rules make that was not
//! fetched waits for its query in place ([`Blocking`]). Values are the same bincode
//! records sled keeps, beside the columns that key and order them.
//!
//! An append usually takes one round trip instead ([`PgStore::fast_append`]): the relay
//! remembers each tenant as of its own last commit ([`Known`]: the head, the random stamp
//! that commit wrote into the head row, the views it read or wrote), runs the rules on
//! that, and sends BEGIN, role, setting, a head update that fails unless the row still
//! carries that stamp, the writes and COMMIT together; when the database refuses any of it
//! the usual step runs. Webhook routing is answered from memory too ([`RouteCache`]),
//! checked inside the same transaction against the database's routing generation.

use super::backend::{Backend, CannedChange, Changes, Reads, Retryable, Step, TenantTx, Watch};
use super::cluster::{Lease, Notice, Signal, appended_payload, gives_outbox_work};
use super::{
    AgentKind, AgentRecord, ChannelChange, ChannelRecord, DeletionRecord, MessageView, Modified,
    OnceRecord, PartnerRecord, Routed, SendView, StoreError, TenantDeletion, TenantRecord,
    TenantRemoved, TenantSettings, ThreadView,
};
use crate::audit::{self, AuditRecord, Entry, Hash};
use crate::principal::TenantScope;
use crate::store::RouteKey;
use async_trait::async_trait;
use deadpool_postgres::{
    ClientWrapper, Manager, ManagerConfig, Pool, RecyclingMethod, Transaction,
};
use futures_util::future::{try_join, try_join_all, try_join3, try_join5};
use protocol::canned::CannedReply;
use protocol::codec::{decode_binary, encode_binary};
use protocol::{
    AgentId, Answer, ChannelId, CommandKey, Event, Millis, PartnerId, Seq, TenantId, ThreadId,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio_postgres::NoTls;

/// The migrations, in order; a database records the versions it has applied.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("pg/0001_schema.sql")),
    (2, include_str!("pg/0002_tenant_deletions.sql")),
    (3, include_str!("pg/0003_canned_replies.sql")),
    (4, include_str!("pg/0004_leases.sql")),
    (5, include_str!("pg/0005_fast_ingest.sql")),
];

/// Connections per relay process.
const POOL_SIZE: usize = 16;

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i32 = 5;

pub struct PgStore {
    pool: Pool,
    /// For the listening connection, which is not the pool's (see [`listen`]).
    config: tokio_postgres::Config,
    /// Names this process's commits in their notifications, so its listener skips them.
    origin: Arc<str>,
    /// How many migrations `open` applied.
    migrated: usize,
    /// Routing answers kept in memory (see [`RouteCache`]).
    routes: Mutex<RouteCache>,
    /// What this relay knows of tenants it wrote last (see [`Known`]).
    known: Mutex<HashMap<TenantId, Known>>,
    /// Appends committed by the fast path, and fast attempts the database refused.
    fast_committed: AtomicU64,
    fast_refused: AtomicU64,
}

/// Route text → channel (or none), all answered at one routing generation (the database's
/// `route_generation`, raised by every change of routes or channels). A webhook routed from
/// here carries the generation into its append, whose transaction fails (SQLSTATE CDR01,
/// [`StoreError::RoutesChanged`]) unless it is still current: no stale answer is ever
/// stored by, whichever relay changed the routes. An item that routes nowhere is always
/// asked again (no step would notice a route added meanwhile).
#[derive(Default)]
struct RouteCache {
    generation: Option<i64>,
    channels: HashMap<String, Option<Arc<ChannelRecord>>>,
}

/// Bounds the route cache (unknown accounts are kept too).
const ROUTE_CACHE_MAX: usize = 10_000;

/// One tenant as of this relay's last commit to it: the head, the random `stamp` that
/// commit wrote into the head row, and the views the commit read (under the head lock) or
/// wrote. While the row still carries `stamp`, nobody else wrote the tenant since, so a
/// step whose reads are all here can run on them and send its writes with BEGIN and COMMIT
/// in one round trip, guarded by the stamp (the fast path, [`PgStore::fast_append`]).
struct Known {
    stamp: i64,
    head: (Seq, Hash),
    threads: HashMap<String, Option<ThreadView>>,
    messages: HashMap<String, Option<MessageView>>,
}

/// Bounds: tenants remembered, and views of each kind per tenant (a kind is forgotten
/// whole when it would pass its bound; at most some 100 MB however many tenants write).
const KNOWN_TENANTS_MAX: usize = 256;
const KNOWN_THREADS_MAX: usize = 512;
const KNOWN_MESSAGES_MAX: usize = 256;

fn lock<V>(m: &Mutex<V>) -> MutexGuard<'_, V> {
    // Every critical section replaces whole entries: a panic leaves nothing half done.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// SQLSTATEs raised by the functions of `pg/0005_fast_ingest.sql`.
const ROUTES_CHANGED: &str = "CDR01";

fn has_code(e: &tokio_postgres::Error, code: &str) -> bool {
    e.code().is_some_and(|c| c.code() == code)
}

const ROUTES_AT: &str = "SELECT chatdesk_routes_at($1)";

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A database error as a storage failure: the server's own message (never the URL or
/// the statement's parameters, which may hold tenant data).
fn db(e: &tokio_postgres::Error) -> StoreError {
    StoreError::Backend(format!(
        "postgres: {}",
        e.as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_owned())
    ))
}

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    encode_binary(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn dec<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    decode_binary(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn seq_col(seq: Seq) -> Result<i64, StoreError> {
    i64::try_from(seq.0).map_err(|_| StoreError::Corrupt("sequence out of range".into()))
}

fn seq_of(v: i64) -> Result<Seq, StoreError> {
    u64::try_from(v)
        .map(Seq)
        .map_err(|_| StoreError::Corrupt("negative sequence".into()))
}

fn route_text(key: &RouteKey) -> String {
    match key {
        RouteKey::Instagram(id) => format!("ig:{id}"),
        RouteKey::WhatsApp(id) => format!("wa:{id}"),
    }
}

/// What an event row holds: the event and its link in the evidence chain.
#[derive(Deserialize)]
struct Logged {
    event: Event,
    audit: AuditRecord,
}

#[derive(Serialize)]
struct LoggedRef<'a> {
    event: &'a Event,
    audit: &'a AuditRecord,
}

fn logged_bytes(event: &Event, audit: &AuditRecord) -> Result<Vec<u8>, StoreError> {
    enc(&LoggedRef { event, audit })
}

/// Makes `tx` act for `tenant` only: the tenant role and its setting, both local to it.
async fn enter_tenant(tx: &Transaction<'_>, tenant: &TenantId) -> Result<(), StoreError> {
    let setting = tx.prepare_cached(SET_TENANT).await.map_err(|e| db(&e))?;
    // Sent together: one round trip.
    futures_util::future::try_join(
        tx.batch_execute("SET LOCAL ROLE chatdesk_tenant"),
        tx.execute(&setting, &[&tenant.as_str()]),
    )
    .await
    .map_err(|e| db(&e))?;
    Ok(())
}

const SET_TENANT: &str = "SELECT set_config('app.tenant_id', $1, true)";

/// Creates the head row on a tenant's first step; either way it is locked until commit,
/// which serialises this tenant's writers across relays.
const LOCK_HEAD: &str = "INSERT INTO tenant_heads (tenant_id) VALUES ($1)
     ON CONFLICT (tenant_id) DO UPDATE SET seq = tenant_heads.seq
     RETURNING seq, hash, stamp";

const READ_DEDUP: &str = "SELECT key, seq FROM dedup WHERE tenant_id = $1 AND key = ANY($2)";
const READ_THREADS: &str =
    "SELECT thread_id, body FROM threads WHERE tenant_id = $1 AND thread_id = ANY($2)";
const READ_MESSAGES: &str = "SELECT mid, body FROM messages WHERE tenant_id = $1 AND mid = ANY($2)";

/// What a step's first round trip fetched for the reads it named (see [`Reads`]): `None`
/// for a record asked for and absent.
#[derive(Default)]
struct Fetched {
    /// The head row's stamp as locked (a writing step).
    stamp: Option<i64>,
    dedup: HashMap<String, Option<Seq>>,
    threads: HashMap<String, Option<ThreadView>>,
    messages: HashMap<String, Option<MessageView>>,
}

/// Rows of `(key, body)` keyed by key, every asked-for key present.
fn keyed<V>(
    asked: &[&str],
    rows: &[tokio_postgres::Row],
    value: impl Fn(&tokio_postgres::Row) -> Result<V, StoreError>,
) -> Result<HashMap<String, Option<V>>, StoreError> {
    let mut out: HashMap<String, Option<V>> =
        asked.iter().map(|k| ((*k).to_owned(), None)).collect();
    for row in rows {
        out.insert(row.get::<_, String>(0), Some(value(row)?));
    }
    Ok(out)
}

/// The rows of `stmt` for `asked` (none asked, no request).
async fn fetch(
    client: &ClientWrapper,
    stmt: &tokio_postgres::Statement,
    tenant: &str,
    asked: &[&str],
) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    if asked.is_empty() {
        return Ok(Vec::new());
    }
    client.query(stmt, &[&tenant, &asked]).await
}

/// A step's first round trip: BEGIN, the tenant role and setting, for a writing step the
/// head lock, and the records `reads` names, all sent together (tokio-postgres writes the
/// requests of futures polled together before it reads an answer, in poll order, so the
/// reads run under the role and setting). Statements are prepared once per connection.
async fn begin(
    client: &ClientWrapper,
    tenant: &TenantId,
    lock: bool,
    reads: &Reads,
) -> Result<(Option<(Seq, Hash)>, Fetched), StoreError> {
    let t = tenant.as_str();
    let (setting, head, dedup, threads, messages) = try_join5(
        client.prepare_cached(SET_TENANT),
        client.prepare_cached(LOCK_HEAD),
        client.prepare_cached(READ_DEDUP),
        client.prepare_cached(READ_THREADS),
        client.prepare_cached(READ_MESSAGES),
    )
    .await
    .map_err(|e| db(&e))?;
    let guard = if reads.routed.is_empty() {
        None
    } else {
        Some(client.prepare_cached(ROUTES_AT).await.map_err(|e| db(&e))?)
    };
    let keys: Vec<&str> = reads.dedup.iter().map(String::as_str).collect();
    let thread_ids: Vec<&str> = reads.threads.iter().map(ThreadId::as_str).collect();
    let mids: Vec<&str> = reads.mids.iter().map(String::as_str).collect();
    let ((_, _, (), head_row), (dedup_rows, thread_rows, message_rows)) = try_join(
        futures_util::future::try_join4(
            client.batch_execute("BEGIN; SET LOCAL ROLE chatdesk_tenant"),
            client.execute(&setting, &[&t]),
            async {
                match &guard {
                    Some(guard) => client.execute(guard, &[&reads.routed]).await.map(|_| ()),
                    None => Ok(()),
                }
            },
            async {
                if lock {
                    client.query_one(&head, &[&t]).await.map(Some)
                } else {
                    Ok(None)
                }
            },
        ),
        try_join3(
            fetch(client, &dedup, t, &keys),
            fetch(client, &threads, t, &thread_ids),
            fetch(client, &messages, t, &mids),
        ),
    )
    .await
    .map_err(|e| {
        if has_code(&e, ROUTES_CHANGED) {
            StoreError::RoutesChanged
        } else {
            db(&e)
        }
    })?;
    let stamp = head_row
        .as_ref()
        .and_then(|row| row.get::<_, Option<i64>>(2));
    let head = head_row
        .map(|row| head_of(row.get(0), row.get(1)))
        .transpose()?;
    let fetched = Fetched {
        stamp,
        dedup: keyed(&keys, &dedup_rows, |r| seq_of(r.get(1)))?,
        threads: keyed(&thread_ids, &thread_rows, |r| dec(r.get::<_, &[u8]>(1)))?,
        messages: keyed(&mids, &message_rows, |r| dec(r.get::<_, &[u8]>(1)))?,
    };
    Ok((head, fetched))
}

/// A transaction opened by [`begin`] on a pooled connection. Left without
/// [`Open::committed`] (a failed, refused, read-only, cancelled or panicking step), it queues
/// a ROLLBACK on the connection before the connection goes back to the pool, so whoever
/// takes it next finds no transaction open (what tokio-postgres's `Transaction` does when
/// dropped).
struct Open<'a> {
    client: &'a ClientWrapper,
    done: bool,
}

impl Open<'_> {
    fn committed(mut self) {
        self.done = true;
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.done {
            // One poll sends the request; its answer is read and dropped by the connection.
            let _ = futures_util::FutureExt::now_or_never(self.client.batch_execute("ROLLBACK"));
        }
    }
}

/// Where a step's rules wait for a read its [`Reads`] did not name.
#[derive(Clone)]
enum Blocking {
    /// On the async worker the step runs on, handing its other tasks to another thread.
    InPlace,
    /// On a blocking thread of this runtime (a current-thread runtime, which cannot block
    /// in place).
    Thread(Handle),
}

impl Blocking {
    fn on<F: std::future::Future>(&self, future: F) -> F::Output {
        match self {
            Blocking::InPlace => tokio::task::block_in_place(|| Handle::current().block_on(future)),
            Blocking::Thread(handle) => handle.block_on(future),
        }
    }
}

/// The step's last round trip: its writes and the COMMIT, sent together. A failed write
/// turns the COMMIT into a rollback and fails the step; acknowledged means committed.
async fn commit(
    client: &ClientWrapper,
    changes: &Changes,
    tenant: &TenantId,
    origin: &str,
    stamp: i64,
) -> Result<(), StoreError> {
    let batch = batch_of(changes, tenant, origin, None, stamp)?;
    run_batch(client, &batch, true).await
}

/// The fast path's only round trip: BEGIN, the tenant role and setting, the routing check,
/// the writes (led by the head moved only if it still carries the stamp `batch` expects)
/// and the COMMIT, all sent together. Any statement that fails (the head moved, a dedup
/// key stored meanwhile, routes changed) makes the COMMIT a rollback.
async fn run_fast(
    client: &ClientWrapper,
    tenant: &TenantId,
    routed: &[i64],
    batch: &Batch<'_>,
) -> Result<(), tokio_postgres::Error> {
    let t = tenant.as_str();
    let setting = client.prepare_cached(SET_TENANT).await?;
    let guard = if routed.is_empty() {
        None
    } else {
        Some(client.prepare_cached(ROUTES_AT).await?)
    };
    let prepared = prepare_all(client, batch).await?;
    let runs = execute_all(client, batch, &prepared);
    futures_util::future::try_join5(
        client.batch_execute("BEGIN; SET LOCAL ROLE chatdesk_tenant"),
        client.execute(&setting, &[&t]),
        async {
            match &guard {
                Some(guard) => client.execute(guard, &[&routed]).await.map(|_| ()),
                None => Ok(()),
            }
        },
        runs,
        client.batch_execute("COMMIT"),
    )
    .await
    .map(|_| ())
}

/// `batch`'s statements, prepared (once per connection: the cache is the connection's).
async fn prepare_all(
    client: &ClientWrapper,
    batch: &Batch<'_>,
) -> Result<Vec<tokio_postgres::Statement>, tokio_postgres::Error> {
    try_join_all(
        batch
            .statements
            .iter()
            .map(|(sql, _)| client.prepare_cached(sql)),
    )
    .await
}

/// `batch`'s statements run in order; polled together with other requests they are sent
/// in the same round trip.
async fn execute_all(
    client: &ClientWrapper,
    batch: &Batch<'_>,
    prepared: &[tokio_postgres::Statement],
) -> Result<Vec<u64>, tokio_postgres::Error> {
    let runs = batch
        .statements
        .iter()
        .zip(prepared)
        .map(|((_, params), stmt)| {
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                params.iter().map(|p| p.as_ref() as _).collect();
            async move { client.execute(stmt, &refs).await }
        });
    try_join_all(runs).await
}

/// Runs `batch` pipelined, with a COMMIT after it if `commit`; the first failure fails the
/// step, and the transaction with it.
async fn run_batch(
    client: &ClientWrapper,
    batch: &Batch<'_>,
    commit: bool,
) -> Result<(), StoreError> {
    let prepared = prepare_all(client, batch).await.map_err(|e| db(&e))?;
    let runs = execute_all(client, batch, &prepared);
    try_join(runs, async {
        if commit {
            client.batch_execute("COMMIT").await
        } else {
            Ok(())
        }
    })
    .await
    .map(|_| ())
    .map_err(|e| db(&e))
}

/// The relay's connection pool for `url` (and the parsed configuration), also what the
/// ingest benchmark's PostgreSQL floor writes through.
///
/// # Errors
/// The URL is malformed.
pub fn pool(url: &str) -> Result<(Pool, tokio_postgres::Config), StoreError> {
    let config = tokio_postgres::Config::from_str(url)
        // The driver's message may quote the URL, password included: say only what.
        .map_err(|_| StoreError::Backend("DATABASE_URL is not a valid PostgreSQL URL".into()))?;
    let manager = Manager::from_config(
        config.clone(),
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(POOL_SIZE)
        .build()
        .map_err(backend)?;
    Ok((pool, config))
}

impl PgStore {
    /// Connects to `url`, applies pending migrations and answers the store.
    ///
    /// # Errors
    /// The URL is malformed, the database cannot be reached, or a migration fails.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let (pool, config) = pool(url)?;
        let mut store = PgStore {
            pool,
            config,
            origin: Arc::from(crate::ids::random("st")),
            migrated: 0,
            routes: Mutex::new(RouteCache::default()),
            known: Mutex::new(HashMap::new()),
            fast_committed: AtomicU64::new(0),
            fast_refused: AtomicU64::new(0),
        };
        store.migrated = store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations this database lacks, one transaction each, under an
    /// advisory lock so relays starting together apply each once. Answers how many ran.
    ///
    /// # Errors
    /// The database refused a migration (nothing of that migration stays).
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let mut client = self.pool.get().await.map_err(backend)?;
        let tx = client.transaction().await.map_err(|e| db(&e))?;
        // Any fixed number: it names "chatdesk migrations" among this database's locks.
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(7236011);
             CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );",
        )
        .await
        .map_err(|e| db(&e))?;
        let applied: Vec<i32> = tx
            .query("SELECT version FROM schema_migrations", &[])
            .await
            .map_err(|e| db(&e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        // A newer relay's schema may rely on every writer doing what this build does not
        // (schema 5: stamping the head): refuse rather than write beside it.
        if let Some(newer) = applied
            .iter()
            .copied()
            .filter(|v| *v > SCHEMA_VERSION)
            .max()
        {
            return Err(StoreError::Backend(format!(
                "the database's schema is at version {newer}, newer than this relay's \
                 {SCHEMA_VERSION}: upgrade the relay"
            )));
        }
        let mut ran = 0;
        for (version, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            tx.batch_execute(sql).await.map_err(|e| {
                StoreError::Backend(format!("migration {version} failed: {}", db(&e)))
            })?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[version],
            )
            .await
            .map_err(|e| db(&e))?;
            ran += 1;
        }
        tx.commit().await.map_err(|e| db(&e))?;
        if ran > 0 {
            tracing::info!(migrations = ran, "applied PostgreSQL migrations");
        }
        Ok(ran)
    }

    /// Appends committed in one round trip (the fast path), and fast attempts the database
    /// refused (the head moved, a key stored before) that ran the usual step instead.
    #[must_use]
    pub fn fast_appends(&self) -> (u64, u64) {
        (
            self.fast_committed.load(Ordering::Relaxed),
            self.fast_refused.load(Ordering::Relaxed),
        )
    }

    /// How many migrations [`PgStore::open`] applied (0: the schema was current).
    #[must_use]
    pub fn applied_at_open(&self) -> usize {
        self.migrated
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(backend)
    }

    /// Runs `step` inside one tenant transaction (`lock`: a writing step, which first locks
    /// the tenant's head row) in two round trips: [`begin`] with the reads `reads` names,
    /// then [`commit`] with the step's writes (none for a read: its transaction is just
    /// dropped). On a multi-thread runtime the rules run right here, on the async worker;
    /// only a read the hint missed blocks, in place. A writing step that commits leaves
    /// what it read and wrote in [`Known`], for the fast path.
    async fn run_step<R: Send + 'static>(
        &self,
        tenant: &TenantId,
        lock: bool,
        reads: Reads,
        step: impl Step<R>,
    ) -> Result<R, StoreError> {
        let result = self.run_step_inner(tenant, lock, reads, step).await;
        match result {
            Ok((out, Some(learned))) => {
                self.learn(tenant, learned);
                Ok(out)
            }
            Ok((out, None)) => Ok(out),
            Err(e) => {
                if lock {
                    self.forget(tenant);
                }
                if matches!(e, StoreError::RoutesChanged) {
                    self.forget_routes();
                }
                Err(e)
            }
        }
    }

    async fn run_step_inner<R: Send + 'static>(
        &self,
        tenant: &TenantId,
        lock: bool,
        reads: Reads,
        step: impl Step<R>,
    ) -> Result<(R, Option<Learned>), StoreError> {
        let client = self.client().await?;
        let handle = Handle::current();
        if handle.runtime_flavor() == RuntimeFlavor::MultiThread {
            let open = Open {
                client: &client,
                done: false,
            };
            let (head, fetched) = begin(&client, tenant, lock, &reads).await?;
            let mut pg = PgTx::new(
                &client,
                Blocking::InPlace,
                tenant,
                &self.origin,
                head,
                fetched,
            );
            let out = step(&mut pg)?;
            let mut learned = None;
            if let Some(changes) = pg.pending.take() {
                let stamp = rand::random::<i64>();
                commit(&client, &changes, tenant, &self.origin, stamp).await?;
                open.committed();
                learned = pg.learned(stamp, changes);
            }
            return Ok((out, learned));
        }
        let tenant = tenant.clone();
        let origin = self.origin.clone();
        tokio::task::spawn_blocking(move || {
            let open = Open {
                client: &client,
                done: false,
            };
            let (head, fetched) = handle.block_on(begin(&client, &tenant, lock, &reads))?;
            let blocking = Blocking::Thread(handle.clone());
            let mut pg = PgTx::new(&client, blocking, &tenant, &origin, head, fetched);
            let out = step(&mut pg)?;
            let mut learned = None;
            if let Some(changes) = pg.pending.take() {
                let stamp = rand::random::<i64>();
                handle.block_on(commit(&client, &changes, &tenant, &origin, stamp))?;
                open.committed();
                learned = pg.learned(stamp, changes);
            }
            Ok((out, learned))
        })
        .await
        .map_err(backend)?
    }

    /// Keeps what a committed step of `tenant` read and wrote (see [`Known`]).
    fn learn(&self, tenant: &TenantId, learned: Learned) {
        let mut known = lock(&self.known);
        if known.len() >= KNOWN_TENANTS_MAX && !known.contains_key(tenant) {
            known.clear();
        }
        // Nobody wrote the tenant between the commit this relay knew and this one (the
        // stamp it locked is that commit's): what it knew still holds, with this step's
        // reads and writes on top.
        if let Some(k) = known.get_mut(tenant)
            && learned.fetched.stamp == Some(k.stamp)
        {
            k.stamp = learned.stamp;
            k.head = learned.head;
            merge(&mut k.threads, learned.fetched.threads, KNOWN_THREADS_MAX);
            merge(
                &mut k.messages,
                learned.fetched.messages,
                KNOWN_MESSAGES_MAX,
            );
            overlay(k, learned.changes);
            return;
        }
        known.insert(tenant.clone(), learned.into_known());
    }

    fn forget(&self, tenant: &TenantId) {
        lock(&self.known).remove(tenant);
    }

    fn forget_routes(&self) {
        let mut routes = lock(&self.routes);
        routes.generation = None;
        routes.channels.clear();
    }

    /// The fast path of an append: when this relay wrote the tenant last and knows every
    /// view the step reads, the rules run on that and the writes go with BEGIN and COMMIT
    /// in one round trip, guarded by the head's stamp. Answers `None` (nothing stored) when
    /// it does not apply or the guard failed: the caller runs the usual step then.
    async fn fast_append<R: Send + 'static>(
        &self,
        tenant: &TenantId,
        reads: &Reads,
        step: &impl Retryable<R>,
    ) -> Result<Option<R>, StoreError> {
        let (expected, head, fetched) = {
            let known = lock(&self.known);
            let Some(k) = known.get(tenant) else {
                return Ok(None);
            };
            let mut fetched = Fetched::default();
            for id in &reads.threads {
                let Some(view) = k.threads.get(id.as_str()) else {
                    return Ok(None);
                };
                fetched.threads.insert(id.as_str().to_owned(), view.clone());
            }
            for mid in &reads.mids {
                let Some(view) = k.messages.get(mid) else {
                    return Ok(None);
                };
                fetched.messages.insert(mid.clone(), view.clone());
            }
            // Assumed new: a key stored before fails the dedup insert, and the usual step
            // then finds it.
            for key in &reads.dedup {
                fetched.dedup.insert(key.clone(), None);
            }
            (k.stamp, k.head, fetched)
        };
        let client = self.client().await?;
        let mut pg = PgTx::new(
            &client,
            Blocking::InPlace,
            tenant,
            &self.origin,
            Some(head),
            fetched,
        );
        pg.fast = true;
        let out = match step(&mut pg, false) {
            Ok(out) if !pg.missed => out,
            // A read not known here, or rules refusing what may be stale: the usual step.
            _ => return Ok(None),
        };
        let Some(changes) = pg.pending.take() else {
            return Ok(None);
        };
        let stamp = rand::random::<i64>();
        let open = Open {
            client: &client,
            done: false,
        };
        let batch = batch_of(&changes, tenant, &self.origin, Some(expected), stamp)?;
        match run_fast(&client, tenant, &reads.routed, &batch).await {
            Ok(()) => {
                open.committed();
                drop(batch);
                self.fast_committed.fetch_add(1, Ordering::Relaxed);
                let mut known = lock(&self.known);
                match known.get_mut(tenant) {
                    // Still the entry the step ran on: the commit moved it on.
                    Some(k) if k.stamp == expected => {
                        k.stamp = stamp;
                        if let Some(last) = changes.events.last() {
                            k.head = (last.event.seq, last.audit.hash);
                        }
                        overlay(k, changes);
                    }
                    _ => {
                        known.remove(tenant);
                    }
                }
                Ok(Some(out))
            }
            Err(e) if has_code(&e, ROUTES_CHANGED) => {
                drop(open);
                self.forget_routes();
                self.forget(tenant);
                Err(StoreError::RoutesChanged)
            }
            // The server refused a statement: the transaction rolled back. The head moved
            // (another relay or step wrote) or a key was stored before: the usual step.
            Err(e) if e.as_db_error().is_some() => {
                drop(open);
                self.fast_refused.fetch_add(1, Ordering::Relaxed);
                self.forget(tenant);
                Ok(None)
            }
            // The connection failed: the COMMIT may have happened; not known, not retried.
            Err(e) => {
                self.forget(tenant);
                Err(db(&e))
            }
        }
    }

    /// A transaction acting for one tenant, for the registry records that live in tenant
    /// tables (channels and their routes).
    async fn with_tenant<'c>(
        client: &'c mut deadpool_postgres::Object,
        tenant: &TenantId,
    ) -> Result<Transaction<'c>, StoreError> {
        let tx = client.transaction().await.map_err(|e| db(&e))?;
        enter_tenant(&tx, tenant).await?;
        Ok(tx)
    }

    /// Adds `record`'s routes that it does not hold yet; a conflict if another channel
    /// (of any tenant) holds one. Runs inside a tenant transaction.
    async fn claim_routes(tx: &Transaction<'_>, record: &ChannelRecord) -> Result<(), StoreError> {
        for key in record.route_keys() {
            let route = route_text(&key);
            let inserted = tx
                .execute(
                    "INSERT INTO routes (tenant_id, route, channel_id) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&record.tenant.as_str(), &route, &record.id.as_str()],
                )
                .await
                .map_err(|e| db(&e))?;
            if inserted == 1 {
                continue;
            }
            // Held already: by this channel is fine; by anything else (possibly another
            // tenant's row, invisible here) is a conflict.
            let holder = tx
                .query_opt(
                    "SELECT channel_id FROM routes WHERE tenant_id = $1 AND route = $2",
                    &[&record.tenant.as_str(), &route],
                )
                .await
                .map_err(|e| db(&e))?;
            if holder.is_none_or(|r| r.get::<_, &str>(0) != record.id.as_str()) {
                let (RouteKey::Instagram(id) | RouteKey::WhatsApp(id)) = key;
                return Err(StoreError::Conflict(format!("a channel for account {id}")));
            }
        }
        Ok(())
    }

    async fn insert_registry(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        what: &str,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let n = client.execute(sql, params).await.map_err(|e| db(&e))?;
        if n == 0 {
            return Err(StoreError::Conflict(what.to_owned()));
        }
        Ok(())
    }

    async fn read_body<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<T>, StoreError> {
        let client = self.client().await?;
        let row = client.query_opt(sql, params).await.map_err(|e| db(&e))?;
        row.map(|r| dec(r.get::<_, &[u8]>(0))).transpose()
    }

    async fn read_bodies<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<T>, StoreError> {
        let client = self.client().await?;
        let rows = client.query(sql, params).await.map_err(|e| db(&e))?;
        rows.iter().map(|r| dec(r.get::<_, &[u8]>(0))).collect()
    }
}

fn head_of(seq: i64, hash: Option<Vec<u8>>) -> Result<(Seq, Hash), StoreError> {
    let hash = match hash {
        None => audit::GENESIS,
        Some(bytes) => bytes
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt("head hash".into()))?,
    };
    Ok((seq_of(seq)?, hash))
}

/// One tenant step's transaction, driven synchronously by the rules: reads come from what
/// [`begin`] fetched, or else from a query waited for (see [`Blocking`]); the write waits
/// for [`commit`].
struct PgTx<'a> {
    client: &'a ClientWrapper,
    blocking: Blocking,
    tenant: &'a TenantId,
    origin: &'a str,
    /// The head as locked at the step's start (writing steps only).
    head: Option<(Seq, Hash)>,
    fetched: Fetched,
    /// The step's write, sent with the COMMIT.
    pending: Option<Changes>,
    /// What was fetched, kept aside by the write (for [`Known`]); `None` once a second
    /// write was sent ahead, when it would be older than the data.
    before_write: Option<Fetched>,
    writes: usize,
    /// The fast path: no query may be sent; a read not fetched sets `missed` and fails.
    fast: bool,
    missed: bool,
}

/// What a committed writing step leaves for [`Known`].
struct Learned {
    stamp: i64,
    head: (Seq, Hash),
    fetched: Fetched,
    changes: Changes,
}

impl Learned {
    fn into_known(self) -> Known {
        let mut known = Known {
            stamp: self.stamp,
            head: self.head,
            threads: self.fetched.threads,
            messages: self.fetched.messages,
        };
        overlay(&mut known, self.changes);
        known
    }
}

/// `into` with the views read in `from` (as new as any it holds), within `max`.
fn merge<V>(into: &mut HashMap<String, Option<V>>, from: HashMap<String, Option<V>>, max: usize) {
    if into.len() + from.len() > max {
        into.clear();
    }
    into.extend(from);
}

/// `known` with the views `changes` wrote, within bounds.
fn overlay(known: &mut Known, changes: Changes) {
    if known.threads.len() + changes.threads.len() > KNOWN_THREADS_MAX {
        known.threads.clear();
    }
    if known.messages.len() + changes.messages.len() > KNOWN_MESSAGES_MAX {
        known.messages.clear();
    }
    for thread in changes.threads {
        known
            .threads
            .insert(thread.id.as_str().to_owned(), Some(thread));
    }
    for message in changes.messages {
        known.messages.insert(message.mid.clone(), Some(message));
    }
}

/// A statement's parameter, owned or borrowed from the step's changes.
type Param<'a> = Box<dyn tokio_postgres::types::ToSql + Sync + Send + 'a>;

fn param<'a, T: tokio_postgres::types::ToSql + Sync + Send + 'a>(value: T) -> Param<'a> {
    Box::new(value)
}

/// The statements of one step's write. They read nothing back, so they go down the
/// connection together, in order, and their answers come back together: one round trip
/// for a webhook's event, dedup key, activity, head, notice and views instead of one each.
#[derive(Default)]
struct Batch<'a> {
    statements: Vec<(&'static str, Vec<Param<'a>>)>,
}

impl<'a> Batch<'a> {
    fn push(&mut self, sql: &'static str, params: Vec<Param<'a>>) {
        self.statements.push((sql, params));
    }
}

impl<'a> PgTx<'a> {
    fn new(
        client: &'a ClientWrapper,
        blocking: Blocking,
        tenant: &'a TenantId,
        origin: &'a str,
        head: Option<(Seq, Hash)>,
        fetched: Fetched,
    ) -> PgTx<'a> {
        PgTx {
            client,
            blocking,
            tenant,
            origin,
            head,
            fetched,
            pending: None,
            before_write: None,
            writes: 0,
            fast: false,
            missed: false,
        }
    }

    /// What the committed step leaves for [`Known`] (stamped `stamp`): nothing for a read,
    /// or when a write was sent ahead of a later read.
    fn learned(&mut self, stamp: i64, changes: Changes) -> Option<Learned> {
        let locked = self.head?;
        let fetched = self.before_write.take()?;
        if self.writes != 1 {
            return None;
        }
        let head = changes
            .events
            .last()
            .map_or(locked, |last| (last.event.seq, last.audit.hash));
        Some(Learned {
            stamp,
            head,
            fetched,
            changes,
        })
    }

    /// Fails a fast step's read that was not fetched (see [`PgTx::fast`]).
    fn not_known(&mut self) -> StoreError {
        self.missed = true;
        StoreError::Backend("not known in memory".into())
    }

    /// Sends a write made before a later read (the rules write last, so this is rare), so
    /// the read sees it.
    fn flush(&mut self) -> Result<(), StoreError> {
        if self.fast && self.pending.is_some() {
            return Err(self.not_known());
        }
        let Some(changes) = self.pending.take() else {
            return Ok(());
        };
        // A stamp of its own: the COMMIT's write stamps the head again.
        let batch = batch_of(&changes, self.tenant, self.origin, None, rand::random())?;
        self.blocking.on(run_batch(self.client, &batch, false))
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        if self.fast {
            return Err(self.not_known());
        }
        self.flush()?;
        let client = self.client;
        self.blocking
            .on(async {
                let stmt = client.prepare_cached(sql).await?;
                client.query(&stmt, params).await
            })
            .map_err(|e| db(&e))
    }

    fn body<T: DeserializeOwned>(
        &mut self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<T>, StoreError> {
        self.query(sql, params)?
            .first()
            .map(|r| dec(r.get::<_, &[u8]>(0)))
            .transpose()
    }

    fn bodies<T: DeserializeOwned>(
        &mut self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<T>, StoreError> {
        self.query(sql, params)?
            .iter()
            .map(|r| dec(r.get::<_, &[u8]>(0)))
            .collect()
    }

    fn t(&self) -> &'a str {
        self.tenant.as_str()
    }
}

impl TenantTx for PgTx<'_> {
    fn chain(&mut self) -> Result<(Seq, Hash), StoreError> {
        if let Some(head) = self.head {
            return Ok(head);
        }
        let rows = self.query(
            "SELECT seq, hash FROM tenant_heads WHERE tenant_id = $1",
            &[&self.t()],
        )?;
        match rows.first() {
            Some(r) => head_of(r.get(0), r.get(1)),
            None => Ok((Seq(0), audit::GENESIS)),
        }
    }

    fn dedup(&mut self, key: &str) -> Result<Option<Seq>, StoreError> {
        if let Some(seq) = self.fetched.dedup.get(key) {
            return Ok(*seq);
        }
        self.query(
            "SELECT seq FROM dedup WHERE tenant_id = $1 AND key = $2",
            &[&self.t(), &key],
        )?
        .first()
        .map(|r| seq_of(r.get(0)))
        .transpose()
    }

    fn answer(&mut self, agent: &AgentId, key: &CommandKey) -> Result<Option<Answer>, StoreError> {
        self.body(
            "SELECT body FROM answers WHERE tenant_id = $1 AND agent_id = $2 AND key = $3",
            &[&self.t(), &agent.as_str(), &key.as_str()],
        )
    }

    fn thread(&mut self, id: &ThreadId) -> Result<Option<ThreadView>, StoreError> {
        if let Some(view) = self.fetched.threads.get(id.as_str()) {
            return Ok(view.clone());
        }
        self.body(
            "SELECT body FROM threads WHERE tenant_id = $1 AND thread_id = $2",
            &[&self.t(), &id.as_str()],
        )
    }

    fn threads(&mut self) -> Result<Vec<ThreadView>, StoreError> {
        self.bodies(
            "SELECT body FROM threads WHERE tenant_id = $1",
            &[&self.t()],
        )
    }

    fn message_by_mid(&mut self, mid: &str) -> Result<Option<MessageView>, StoreError> {
        if let Some(view) = self.fetched.messages.get(mid) {
            return Ok(view.clone());
        }
        self.body(
            "SELECT body FROM messages WHERE tenant_id = $1 AND mid = $2",
            &[&self.t(), &mid],
        )
    }

    fn messages(&mut self, thread: &ThreadId) -> Result<Vec<MessageView>, StoreError> {
        self.bodies(
            "SELECT body FROM messages WHERE tenant_id = $1 AND thread_id = $2
             ORDER BY occurred_at, seq",
            &[&self.t(), &thread.as_str()],
        )
    }

    fn send(&mut self, send: Seq) -> Result<Option<SendView>, StoreError> {
        self.body(
            "SELECT body FROM sends WHERE tenant_id = $1 AND send_seq = $2",
            &[&self.t(), &seq_col(send)?],
        )
    }

    fn sends_of(&mut self, thread: &ThreadId) -> Result<Vec<SendView>, StoreError> {
        self.bodies(
            "SELECT body FROM sends WHERE tenant_id = $1 AND thread_id = $2 ORDER BY send_seq",
            &[&self.t(), &thread.as_str()],
        )
    }

    fn unfinished_sends(&mut self) -> Result<Vec<SendView>, StoreError> {
        self.bodies(
            "SELECT body FROM sends WHERE tenant_id = $1 AND NOT finished ORDER BY send_seq",
            &[&self.t()],
        )
    }

    fn credits(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .query(
                "SELECT credits FROM tenant_heads WHERE tenant_id = $1",
                &[&self.t()],
            )?
            .first()
            .map_or(0, |r| r.get(0)))
    }

    fn settings(&mut self) -> Result<TenantSettings, StoreError> {
        let rows = self.query(
            "SELECT settings FROM tenant_heads WHERE tenant_id = $1",
            &[&self.t()],
        )?;
        match rows.first().and_then(|r| r.get::<_, Option<&[u8]>>(0)) {
            Some(bytes) => dec(bytes),
            None => Ok(TenantSettings::default()),
        }
    }

    fn knowledge(&mut self) -> Result<Option<String>, StoreError> {
        Ok(self
            .query(
                "SELECT knowledge FROM tenant_heads WHERE tenant_id = $1",
                &[&self.t()],
            )?
            .first()
            .and_then(|r| r.get(0)))
    }

    fn canned(&mut self) -> Result<Vec<CannedReply>, StoreError> {
        self.query(
            "SELECT body FROM canned_replies WHERE tenant_id = $1 ORDER BY shortcut",
            &[&self.t()],
        )?
        .iter()
        .map(|r| dec(r.get::<_, &[u8]>(0)))
        .collect()
    }

    fn channel_activity(&mut self) -> Result<Vec<(ChannelId, Millis)>, StoreError> {
        Ok(self
            .query(
                "SELECT channel_id, at FROM channel_activity WHERE tenant_id = $1
                 ORDER BY channel_id",
                &[&self.t()],
            )?
            .iter()
            .map(|r| (ChannelId(r.get(0)), Millis(r.get(1))))
            .collect())
    }

    fn logged_after(&mut self, after: Seq, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.query(
            "SELECT body FROM events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[&self.t(), &seq_col(after)?, &limit],
        )?
        .iter()
        .map(|r| {
            let Logged { event, audit } = dec(r.get::<_, &[u8]>(0))?;
            Ok(Entry { event, audit })
        })
        .collect()
    }

    fn write(&mut self, changes: Changes) -> Result<(), StoreError> {
        // A second write (none of the rules makes one) goes after the first.
        self.flush()?;
        // What was fetched may be older than this write now.
        let fetched = std::mem::take(&mut self.fetched);
        if self.writes == 0 {
            self.before_write = Some(fetched);
        }
        self.writes += 1;
        self.pending = Some(changes);
        Ok(())
    }
}

/// The statements that write `changes` for `tenant` (`origin` names this relay in the
/// notice). The head goes first, stamped `stamp`: with `expected` (the fast path, no lock
/// taken before) only if it still carries that stamp, else the transaction fails.
fn batch_of<'c>(
    changes: &'c Changes,
    tenant: &'c TenantId,
    origin: &str,
    expected: Option<i64>,
    stamp: i64,
) -> Result<Batch<'c>, StoreError> {
    let t = tenant.as_str();
    let mut batch = Batch::default();
    // The head the events continue (checked with the stamp on the fast path).
    let from = changes
        .events
        .first()
        .map(|first| seq_col(first.event.seq).map(|s| s - 1))
        .transpose()?;
    let (seq, hash, notice) = match changes.events.last() {
        Some(last) => (
            Some(seq_col(last.event.seq)?),
            Some(last.audit.hash.as_slice()),
            // Delivered to every listening relay only if, and when, this step commits.
            Some(appended_payload(
                tenant,
                last.event.seq,
                origin,
                changes
                    .events
                    .iter()
                    .any(|new| gives_outbox_work(&new.event.body)),
            )),
        ),
        None => (None, None, None),
    };
    batch.push(
        "SELECT chatdesk_advance($1, $2, $3, $4, $5, $6, $7)",
        vec![
            param(t),
            param(expected),
            param(from),
            param(seq),
            param(hash),
            param(stamp),
            param(notice),
        ],
    );
    // One statement per kind of row, whatever the number of events (a group append's
    // step holds many): the rows travel as arrays and are unnested by the server.
    if !changes.events.is_empty() {
        let mut seqs = Vec::with_capacity(changes.events.len());
        let mut bodies = Vec::with_capacity(changes.events.len());
        let mut keys: Vec<&str> = Vec::new();
        let mut key_seqs = Vec::new();
        // Newest arrival per channel (one row each: a statement may not update a row twice).
        let mut activity: Vec<(&str, i64)> = Vec::new();
        for new in &changes.events {
            let seq = seq_col(new.event.seq)?;
            seqs.push(seq);
            bodies.push(logged_bytes(&new.event, &new.audit)?);
            if let Some(key) = &new.dedup_key {
                keys.push(key);
                key_seqs.push(seq);
            }
            if let Some(channel) = new.event.channel_id() {
                let at = new.event.received_at.0;
                match activity.iter_mut().find(|(c, _)| *c == channel.as_str()) {
                    Some((_, newest)) => *newest = (*newest).max(at),
                    None => activity.push((channel.as_str(), at)),
                }
            }
        }
        batch.push(
            "INSERT INTO events (tenant_id, seq, body)
             SELECT $1, * FROM unnest($2::bigint[], $3::bytea[])",
            vec![param(t), param(seqs), param(bodies)],
        );
        if !keys.is_empty() {
            batch.push(
                "INSERT INTO dedup (tenant_id, key, seq)
                 SELECT $1, * FROM unnest($2::text[], $3::bigint[])",
                vec![param(t), param(keys), param(key_seqs)],
            );
        }
        if !activity.is_empty() {
            let (channels, ats): (Vec<&str>, Vec<i64>) = activity.into_iter().unzip();
            batch.push(
                "INSERT INTO channel_activity (tenant_id, channel_id, at)
                 SELECT $1, * FROM unnest($2::text[], $3::bigint[])
                 ON CONFLICT (tenant_id, channel_id)
                 DO UPDATE SET at = GREATEST(channel_activity.at, EXCLUDED.at)",
                vec![param(t), param(channels), param(ats)],
            );
        }
    }
    for entry in &changes.rewritten {
        batch.push(
            "UPDATE events SET body = $3 WHERE tenant_id = $1 AND seq = $2",
            vec![
                param(t),
                param(seq_col(entry.event.seq)?),
                param(logged_bytes(&entry.event, &entry.audit)?),
            ],
        );
    }
    if !changes.threads.is_empty() {
        let ids: Vec<&str> = changes.threads.iter().map(|v| v.id.as_str()).collect();
        let bodies = changes
            .threads
            .iter()
            .map(enc)
            .collect::<Result<Vec<_>, _>>()?;
        batch.push(
            "INSERT INTO threads (tenant_id, thread_id, body)
             SELECT $1, * FROM unnest($2::text[], $3::bytea[])
             ON CONFLICT (tenant_id, thread_id) DO UPDATE SET body = EXCLUDED.body",
            vec![param(t), param(ids), param(bodies)],
        );
    }
    if !changes.messages.is_empty() {
        let n = changes.messages.len();
        let (mut mids, mut threads, mut ats, mut seqs, mut bodies) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for m in &changes.messages {
            mids.push(m.mid.as_str());
            threads.push(m.thread.as_str());
            ats.push(m.occurred_at.0);
            seqs.push(seq_col(m.seq)?);
            bodies.push(enc(m)?);
        }
        batch.push(
            "INSERT INTO messages (tenant_id, mid, thread_id, occurred_at, seq, body)
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[],
                                      $6::bytea[])
             ON CONFLICT (tenant_id, mid) DO UPDATE SET thread_id = EXCLUDED.thread_id,
                 occurred_at = EXCLUDED.occurred_at, seq = EXCLUDED.seq, body = EXCLUDED.body",
            vec![
                param(t),
                param(mids),
                param(threads),
                param(ats),
                param(seqs),
                param(bodies),
            ],
        );
    }
    for s in &changes.sends {
        batch.push(
            "INSERT INTO sends (tenant_id, send_seq, thread_id, finished, body)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, send_seq)
             DO UPDATE SET finished = EXCLUDED.finished, body = EXCLUDED.body",
            vec![
                param(t),
                param(seq_col(s.send)?),
                param(s.thread.as_str()),
                param(s.is_finished()),
                param(enc(s)?),
            ],
        );
    }
    if changes.credit_delta != 0 {
        batch.push(
            "UPDATE tenant_heads SET credits = credits + $2 WHERE tenant_id = $1",
            vec![param(t), param(changes.credit_delta)],
        );
    }
    if let Some((agent, key, answer)) = &changes.answer {
        batch.push(
            "INSERT INTO answers (tenant_id, agent_id, key, body) VALUES ($1, $2, $3, $4)",
            vec![
                param(t),
                param(agent.as_str()),
                param(key.as_str()),
                param(enc(answer)?),
            ],
        );
    }
    if let Some(settings) = &changes.settings {
        batch.push(
            "UPDATE tenant_heads SET settings = $2 WHERE tenant_id = $1",
            vec![param(t), param(enc(settings)?)],
        );
    }
    if let Some(knowledge) = &changes.knowledge {
        batch.push(
            "UPDATE tenant_heads SET knowledge = $2 WHERE tenant_id = $1",
            vec![param(t), param(knowledge)],
        );
    }
    for change in &changes.canned {
        match change {
            CannedChange::Put(reply) => batch.push(
                "INSERT INTO canned_replies (tenant_id, shortcut, body) VALUES ($1, $2, $3)
                 ON CONFLICT (tenant_id, shortcut) DO UPDATE SET body = EXCLUDED.body",
                vec![param(t), param(&reply.shortcut), param(enc(reply)?)],
            ),
            CannedChange::Remove(shortcut) => batch.push(
                "DELETE FROM canned_replies WHERE tenant_id = $1 AND shortcut = $2",
                vec![param(t), param(shortcut)],
            ),
        };
    }
    Ok(batch)
}

/// How long a busy tenant's append waits for the callers of its last round: a step holds
/// the tenant's head row until its COMMIT is flushed, so callers that miss a step wait for
/// the whole next one; tokio's timer has millisecond steps, so this is one to two of them.
const GATHER: super::group::Gather = super::group::Gather {
    most: std::time::Duration::from_millis(1),
    recent: std::time::Duration::from_millis(20),
};

#[async_trait]
impl Backend for PgStore {
    fn gathers(&self) -> Option<super::group::Gather> {
        Some(GATHER)
    }

    async fn tenant_step<R: Send + 'static>(
        &self,
        tenant: &TenantId,
        step: impl Step<R>,
    ) -> Result<R, StoreError> {
        self.run_step(tenant, true, Reads::default(), step).await
    }

    async fn tenant_step_reading<R: Send + 'static>(
        &self,
        tenant: &TenantId,
        reads: Reads,
        step: impl Step<R>,
    ) -> Result<R, StoreError> {
        self.run_step(tenant, true, reads, step).await
    }

    async fn tenant_append<R: Send + 'static>(
        &self,
        tenant: &TenantId,
        reads: Reads,
        step: impl Retryable<R>,
    ) -> Result<R, StoreError> {
        if let Some(out) = self.fast_append(tenant, &reads, &step).await? {
            return Ok(out);
        }
        self.run_step(tenant, true, reads, move |tx| step(tx, true))
            .await
    }

    async fn tenant_read<R: Send + 'static>(
        &self,
        tenant: &TenantId,
        step: impl Step<R>,
    ) -> Result<R, StoreError> {
        self.run_step(tenant, false, Reads::default(), step).await
    }

    async fn purge_history(&self) -> Result<(), StoreError> {
        // The rows were rewritten, but their old versions stay in the table files until a
        // vacuum reclaims them: do it now for the tables a redaction rewrites, rather than
        // whenever autovacuum comes by. (VACUUM cannot run in a transaction; the relay's
        // login owns the tables.)
        let client = self.client().await?;
        client
            .batch_execute("VACUUM events, messages, threads, sends")
            .await
            .map_err(|e| db(&e))
    }

    async fn insert_partner(&self, partner: PartnerRecord) -> Result<(), StoreError> {
        self.insert_registry(
            "INSERT INTO partners (id, created_at, body) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&partner.id.as_str(), &partner.created_at.0, &enc(&partner)?],
            "partner",
        )
        .await
    }

    async fn partner(&self, id: &PartnerId) -> Result<Option<PartnerRecord>, StoreError> {
        self.read_body("SELECT body FROM partners WHERE id = $1", &[&id.as_str()])
            .await
    }

    async fn partners(&self) -> Result<Vec<PartnerRecord>, StoreError> {
        self.read_bodies("SELECT body FROM partners ORDER BY created_at, id", &[])
            .await
    }

    async fn insert_tenant(&self, tenant: TenantRecord) -> Result<(), StoreError> {
        self.insert_registry(
            "INSERT INTO tenants (id, partner_id, created_at, body) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[
                &tenant.id.as_str(),
                &tenant.partner.as_str(),
                &tenant.created_at.0,
                &enc(&tenant)?,
            ],
            "tenant",
        )
        .await
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<TenantRecord>, StoreError> {
        self.read_body("SELECT body FROM tenants WHERE id = $1", &[&id.as_str()])
            .await
    }

    async fn tenants_of(&self, partner: &PartnerId) -> Result<Vec<TenantRecord>, StoreError> {
        self.read_bodies(
            "SELECT body FROM tenants WHERE partner_id = $1 ORDER BY created_at, id",
            &[&partner.as_str()],
        )
        .await
    }

    async fn insert_agent(&self, agent: AgentRecord) -> Result<(), StoreError> {
        let tenant = match &agent.kind {
            AgentKind::Tenant { tenant, .. } => Some(tenant.as_str()),
            AgentKind::PartnerViewer { .. } => None,
        };
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO agents (id, tenant, created_at, token_hash, body)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET tenant = EXCLUDED.tenant,
                     token_hash = EXCLUDED.token_hash, revoked = false, body = EXCLUDED.body",
                &[
                    &agent.id.as_str(),
                    &tenant,
                    &agent.created_at.0,
                    &agent.token_hash,
                    &enc(&agent)?,
                ],
            )
            .await
            .map_err(|e| db(&e))?;
        Ok(())
    }

    async fn agent_by_token_hash(&self, hash: &str) -> Result<Option<AgentRecord>, StoreError> {
        self.read_body(
            "SELECT body FROM agents WHERE token_hash = $1 AND NOT revoked",
            &[&hash],
        )
        .await
    }

    async fn revoke_agent(&self, scope: &TenantScope, agent: &AgentId) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE agents SET revoked = true WHERE id = $1 AND tenant = $2",
                &[&agent.as_str(), &scope.tenant().as_str()],
            )
            .await
            .map_err(|e| db(&e))?;
        Ok(n > 0)
    }

    async fn agents(&self, scope: &TenantScope) -> Result<Vec<(AgentRecord, bool)>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT body, NOT revoked FROM agents WHERE tenant = $1 ORDER BY created_at, id",
                &[&scope.tenant().as_str()],
            )
            .await
            .map_err(|e| db(&e))?
            .iter()
            .map(|r| Ok((dec(r.get::<_, &[u8]>(0))?, r.get(1))))
            .collect()
    }

    async fn insert_channel(
        &self,
        scope: &TenantScope,
        channel: ChannelRecord,
    ) -> Result<(), StoreError> {
        let mut record = channel;
        record.tenant = scope.tenant().clone();
        let mut client = self.client().await?;
        let tx = Self::with_tenant(&mut client, scope.tenant()).await?;
        tx.execute(
            "INSERT INTO channels (tenant_id, channel_id, body) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id, channel_id) DO UPDATE SET body = EXCLUDED.body",
            &[&record.tenant.as_str(), &record.id.as_str(), &enc(&record)?],
        )
        .await
        .map_err(|e| db(&e))?;
        Self::claim_routes(&tx, &record).await?;
        let committed = tx.commit().await.map_err(|e| db(&e));
        self.forget_routes();
        committed
    }

    async fn channels(&self, scope: &TenantScope) -> Result<Vec<ChannelRecord>, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::with_tenant(&mut client, scope.tenant()).await?;
        let rows = tx
            .query(
                "SELECT body FROM channels WHERE tenant_id = $1 ORDER BY channel_id",
                &[&scope.tenant().as_str()],
            )
            .await
            .map_err(|e| db(&e))?;
        let out = rows
            .iter()
            .map(|r| dec(r.get::<_, &[u8]>(0)))
            .collect::<Result<_, _>>()?;
        tx.commit().await.map_err(|e| db(&e))?;
        Ok(out)
    }

    async fn channel_by_route(&self, key: &RouteKey) -> Result<Option<ChannelRecord>, StoreError> {
        // Not cached (connect flows and moves ask this; webhooks ask `route`, which may
        // answer from memory under a generation their append checks).
        let client = self.client().await?;
        let lookup = client
            .prepare_cached(
                "SELECT c.body FROM routes r
                 JOIN channels c ON c.tenant_id = r.tenant_id AND c.channel_id = r.channel_id
                 WHERE r.route = $1",
            )
            .await
            .map_err(|e| db(&e))?;
        // The transaction, the role, the lookup and the end, sent together: one round
        // trip. All four are written in the first poll, so the transaction ends even if
        // this future is dropped; a failed lookup turns the COMMIT into a rollback.
        let route = route_text(key);
        let (_, row, _) = try_join3(
            client.batch_execute("BEGIN; SET LOCAL ROLE chatdesk_ops"),
            client.query_opt(&lookup, &[&route]),
            client.batch_execute("COMMIT"),
        )
        .await
        .map_err(|e| db(&e))?;
        row.map(|r| dec(r.get::<_, &[u8]>(0))).transpose()
    }

    async fn route(&self, keys: &[RouteKey]) -> Result<Option<Routed>, StoreError> {
        let texts: Vec<String> = keys.iter().map(route_text).collect();
        {
            let routes = lock(&self.routes);
            if let Some(generation) = routes.generation {
                for text in &texts {
                    match routes.channels.get(text) {
                        Some(Some(channel)) => {
                            return Ok(Some(Routed {
                                channel: channel.clone(),
                                generation: Some(generation),
                            }));
                        }
                        Some(None) => {}
                        None => break,
                    }
                }
            }
        }
        // Asked of the database: every key, with the generation, in one snapshot (the
        // transaction, the role, the lookups and the end sent together: one round trip).
        let client = self.client().await?;
        let lookup = client
            .prepare_cached(
                "SELECT g.gen, c.body FROM route_generation g
                 LEFT JOIN (routes r JOIN channels c
                            ON c.tenant_id = r.tenant_id AND c.channel_id = r.channel_id)
                        ON r.route = $1",
            )
            .await
            .map_err(|e| db(&e))?;
        let (_, rows, _) = try_join3(
            client.batch_execute(
                "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL ROLE chatdesk_ops",
            ),
            try_join_all(texts.iter().map(|text| {
                let (client, lookup) = (&client, &lookup);
                async move { client.query_one(lookup, &[text]).await }
            })),
            client.batch_execute("COMMIT"),
        )
        .await
        .map_err(|e| db(&e))?;
        let mut answers = Vec::with_capacity(rows.len());
        let mut generation = None;
        for row in &rows {
            generation = Some(row.get::<_, i64>(0));
            let channel = row
                .get::<_, Option<&[u8]>>(1)
                .map(dec::<ChannelRecord>)
                .transpose()?
                .map(Arc::new);
            answers.push(channel);
        }
        let Some(generation) = generation else {
            return Ok(None);
        };
        let found = answers.iter().flatten().next().cloned();
        {
            let mut routes = lock(&self.routes);
            if routes.generation.is_none_or(|g| g < generation)
                || routes.channels.len() >= ROUTE_CACHE_MAX
            {
                routes.generation = Some(generation);
                routes.channels.clear();
            }
            // Kept only at the cache's own generation (an older answer is dropped). An
            // item routed nowhere is asked again next time, so its keys' answers only
            // help items with other keys.
            if routes.generation == Some(generation) {
                for (text, channel) in texts.into_iter().zip(answers) {
                    routes.channels.insert(text, channel);
                }
            }
        }
        Ok(found.map(|channel| Routed {
            channel,
            generation: Some(generation),
        }))
    }

    async fn modify_channel(
        &self,
        scope: &TenantScope,
        id: &ChannelId,
        change: ChannelChange,
    ) -> Result<Option<Modified>, StoreError> {
        let tenant = scope.tenant();
        let mut client = self.client().await?;
        let tx = Self::with_tenant(&mut client, tenant).await?;
        let Some(row) = tx
            .query_opt(
                "SELECT body FROM channels WHERE tenant_id = $1 AND channel_id = $2 FOR UPDATE",
                &[&tenant.as_str(), &id.as_str()],
            )
            .await
            .map_err(|e| db(&e))?
        else {
            return Ok(None);
        };
        let old: ChannelRecord = dec(row.get::<_, &[u8]>(0))?;
        let Some(mut new) = change(&old) else {
            return Ok(Some(Modified {
                record: old,
                changed: false,
            }));
        };
        // The change may not move the record to another tenant or id.
        new.tenant = old.tenant.clone();
        new.id = old.id.clone();
        let kept: Vec<String> = new.route_keys().iter().map(route_text).collect();
        for route in old.route_keys().iter().map(route_text) {
            if !kept.contains(&route) {
                tx.execute(
                    "DELETE FROM routes WHERE tenant_id = $1 AND route = $2",
                    &[&tenant.as_str(), &route],
                )
                .await
                .map_err(|e| db(&e))?;
            }
        }
        tx.execute(
            "UPDATE channels SET body = $3 WHERE tenant_id = $1 AND channel_id = $2",
            &[&tenant.as_str(), &id.as_str(), &enc(&new)?],
        )
        .await
        .map_err(|e| db(&e))?;
        Self::claim_routes(&tx, &new).await?;
        let committed = tx.commit().await.map_err(|e| db(&e));
        // This relay's cached routes are stale now (other relays find out in their steps).
        self.forget_routes();
        committed?;
        Ok(Some(Modified {
            record: new,
            changed: true,
        }))
    }

    async fn put_once(&self, key: &str, record: OnceRecord) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO once_records (key, expires_at, body) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at,
                     body = EXCLUDED.body",
                &[&key, &record.expires_at.0, &enc(&record)?],
            )
            .await
            .map_err(|e| db(&e))?;
        Ok(())
    }

    async fn take_once(&self, key: &str) -> Result<Option<OnceRecord>, StoreError> {
        // One statement: of concurrent callers exactly one gets the deleted row.
        self.read_body(
            "DELETE FROM once_records WHERE key = $1 RETURNING body",
            &[&key],
        )
        .await
    }

    async fn once_records(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(String, OnceRecord)>, StoreError> {
        // Single-use records carry their tenant inside the sealed body only; they are few
        // (unused links and states of the last days).
        let client = self.client().await?;
        let rows = client
            .query("SELECT key, body FROM once_records ORDER BY key", &[])
            .await
            .map_err(|e| db(&e))?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let record: OnceRecord = dec(r.get::<_, &[u8]>(1)).ok()?;
                (record.tenant == *tenant).then(|| (r.get::<_, String>(0), record))
            })
            .collect())
    }

    async fn rename_partner(
        &self,
        id: &PartnerId,
        name: Option<String>,
        brand: Option<String>,
    ) -> Result<Option<PartnerRecord>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| db(&e))?;
        let Some(row) = tx
            .query_opt(
                "SELECT body FROM partners WHERE id = $1 FOR UPDATE",
                &[&id.as_str()],
            )
            .await
            .map_err(|e| db(&e))?
        else {
            return Ok(None);
        };
        let mut record: PartnerRecord = dec(row.get::<_, &[u8]>(0))?;
        if let Some(name) = name {
            record.name = name;
        }
        if let Some(brand) = brand {
            record.brand = Some(brand);
        }
        tx.execute(
            "UPDATE partners SET body = $2 WHERE id = $1",
            &[&id.as_str(), &enc(&record)?],
        )
        .await
        .map_err(|e| db(&e))?;
        tx.commit().await.map_err(|e| db(&e))?;
        Ok(Some(record))
    }

    async fn rename_tenant(
        &self,
        id: &TenantId,
        name: String,
    ) -> Result<Option<TenantRecord>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| db(&e))?;
        let Some(row) = tx
            .query_opt(
                "SELECT body FROM tenants WHERE id = $1 FOR UPDATE",
                &[&id.as_str()],
            )
            .await
            .map_err(|e| db(&e))?
        else {
            return Ok(None);
        };
        let mut record: TenantRecord = dec(row.get::<_, &[u8]>(0))?;
        record.name = name;
        tx.execute(
            "UPDATE tenants SET body = $2 WHERE id = $1",
            &[&id.as_str(), &enc(&record)?],
        )
        .await
        .map_err(|e| db(&e))?;
        tx.commit().await.map_err(|e| db(&e))?;
        Ok(Some(record))
    }

    async fn delete_partner(&self, id: &PartnerId) -> Result<Option<u64>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| db(&e))?;
        // The partner's row locked first: a tenant made for it meanwhile waits for this.
        if tx
            .query_opt(
                "SELECT 1 FROM partners WHERE id = $1 FOR UPDATE",
                &[&id.as_str()],
            )
            .await
            .map_err(|e| db(&e))?
            .is_none()
        {
            return Ok(None);
        }
        let held: i64 = tx
            .query_one(
                "SELECT count(*) FROM tenants WHERE partner_id = $1",
                &[&id.as_str()],
            )
            .await
            .map_err(|e| db(&e))?
            .get(0);
        if held > 0 {
            return Err(StoreError::Conflict(format!(
                "partner {id} still has {held} tenant(s)"
            )));
        }
        let mut viewers = 0;
        for row in tx
            .query("SELECT id, body FROM agents WHERE tenant IS NULL", &[])
            .await
            .map_err(|e| db(&e))?
        {
            let agent: AgentRecord = dec(row.get::<_, &[u8]>(1))?;
            if matches!(&agent.kind, AgentKind::PartnerViewer { partner } if partner == id) {
                tx.execute(
                    "DELETE FROM agents WHERE id = $1",
                    &[&row.get::<_, &str>(0)],
                )
                .await
                .map_err(|e| db(&e))?;
                viewers += 1;
            }
        }
        tx.execute("DELETE FROM partners WHERE id = $1", &[&id.as_str()])
            .await
            .map_err(|e| db(&e))?;
        tx.commit().await.map_err(|e| db(&e))?;
        Ok(Some(viewers))
    }

    async fn delete_tenant(&self, scope: &TenantScope) -> Result<TenantRemoved, StoreError> {
        let tenant = scope.tenant();
        let mut removed = TenantRemoved::default();
        let mut client = self.client().await?;
        // One transaction: the registry first (as the relay's own role), then the tenant's
        // rows under its role and setting, so row security bounds the deletes too.
        let tx = client.transaction().await.map_err(|e| db(&e))?;
        removed.agents = tx
            .execute("DELETE FROM agents WHERE tenant = $1", &[&tenant.as_str()])
            .await
            .map_err(|e| db(&e))?;
        for row in tx
            .query("SELECT key, body FROM once_records", &[])
            .await
            .map_err(|e| db(&e))?
        {
            if dec::<OnceRecord>(row.get::<_, &[u8]>(1)).is_ok_and(|r| r.tenant == *tenant) {
                tx.execute(
                    "DELETE FROM once_records WHERE key = $1",
                    &[&row.get::<_, &str>(0)],
                )
                .await
                .map_err(|e| db(&e))?;
                removed.single_use += 1;
            }
        }
        tx.execute("DELETE FROM tenants WHERE id = $1", &[&tenant.as_str()])
            .await
            .map_err(|e| db(&e))?;
        enter_tenant(&tx, tenant).await?;
        for table in [
            "events",
            "dedup",
            "threads",
            "messages",
            "sends",
            "answers",
            "canned_replies",
            "channel_activity",
            "channels",
            "routes",
            "tenant_heads",
        ] {
            // Table names come from this fixed list, never from input.
            let n = tx
                .execute(&format!("DELETE FROM {table}"), &[])
                .await
                .map_err(|e| db(&e))?;
            match table {
                "events" => removed.events = n,
                "channels" => removed.channels = n,
                _ => {}
            }
            removed.keys += n;
        }
        // Uncommitted: a crash here leaves everything as it was, for the resume to redo.
        crate::crash_point::reached("tenant-deletion-registry");
        let committed = tx.commit().await.map_err(|e| db(&e));
        self.forget_routes();
        self.forget(tenant);
        committed?;
        Ok(removed)
    }

    async fn put_tenant_deletion(&self, record: &TenantDeletion) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO tenant_deletions (tenant, deleted_at, body) VALUES ($1, $2, $3)
                 ON CONFLICT (tenant) DO UPDATE SET deleted_at = EXCLUDED.deleted_at,
                     body = EXCLUDED.body",
                &[&record.tenant.as_str(), &record.deleted_at.0, &enc(record)?],
            )
            .await
            .map_err(|e| db(&e))?;
        Ok(())
    }

    async fn tenant_deletions(&self) -> Result<Vec<TenantDeletion>, StoreError> {
        self.read_bodies(
            "SELECT body FROM tenant_deletions ORDER BY deleted_at, tenant",
            &[],
        )
        .await
    }

    async fn sweep_once(&self, now: Millis) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute("DELETE FROM once_records WHERE expires_at <= $1", &[&now.0])
            .await
            .map_err(|e| db(&e))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    async fn put_deletion(&self, code: &str, record: &DeletionRecord) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO deletions (code, body) VALUES ($1, $2)
                 ON CONFLICT (code) DO UPDATE SET body = EXCLUDED.body",
                &[&code, &enc(record)?],
            )
            .await
            .map_err(|e| db(&e))?;
        Ok(())
    }

    async fn deletion(&self, code: &str) -> Result<Option<DeletionRecord>, StoreError> {
        self.read_body("SELECT body FROM deletions WHERE code = $1", &[&code])
            .await
    }

    async fn heads(&self) -> Result<Vec<(TenantId, Seq)>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| db(&e))?;
        tx.batch_execute("SET LOCAL ROLE chatdesk_ops")
            .await
            .map_err(|e| db(&e))?;
        let rows = tx
            .query(
                "SELECT t.id, COALESCE(h.seq, 0) FROM tenants t
                 LEFT JOIN tenant_heads h ON h.tenant_id = t.id ORDER BY t.id",
                &[],
            )
            .await
            .map_err(|e| db(&e))?;
        tx.commit().await.map_err(|e| db(&e))?;
        rows.iter()
            .map(|r| Ok((TenantId::new(r.get::<_, &str>(0)), seq_of(r.get(1))?)))
            .collect()
    }

    async fn sync(&self) -> Result<(), StoreError> {
        // Every step committed before it returned, with synchronous_commit on.
        Ok(())
    }

    async fn take_lease(
        &self,
        job: &str,
        holder: &str,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<Lease, StoreError> {
        let client = self.client().await?;
        let until = now.plus(ttl_ms).0;
        // One statement: of relays racing for a free or lapsed lease exactly one updates it.
        let taken = client
            .execute(
                "INSERT INTO leases (job, holder, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (job) DO UPDATE SET holder = EXCLUDED.holder,
                     expires_at = EXCLUDED.expires_at
                 WHERE leases.holder = EXCLUDED.holder OR leases.expires_at <= $4",
                &[&job, &holder, &until, &now.0],
            )
            .await
            .map_err(|e| db(&e))?;
        if taken == 1 {
            return Ok(Lease::Held);
        }
        let row = client
            .query_opt("SELECT expires_at FROM leases WHERE job = $1", &[&job])
            .await
            .map_err(|e| db(&e))?;
        // Released between the two statements: free now, taken next time.
        Ok(Lease::Busy {
            until: row.map_or(now, |r| Millis(r.get(0))),
        })
    }

    async fn release_lease(&self, job: &str, holder: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM leases WHERE job = $1 AND holder = $2",
                &[&job, &holder],
            )
            .await
            .map_err(|e| db(&e))?;
        Ok(())
    }

    async fn announce(&self, signal: &Signal) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "SELECT pg_notify($1, $2)",
                &[&listen::SIGNALS, &signal.payload()],
            )
            .await
            .map_err(|e| db(&e))?;
        Ok(())
    }

    fn watch(&self, notices: tokio::sync::mpsc::Sender<Notice>) -> Option<Watch> {
        Some(Box::pin(listen::run(
            self.config.clone(),
            self.origin.to_string(),
            notices,
        )))
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.pool.close();
        Ok(())
    }
}

pub mod listen;
pub mod testdb;

#[cfg(test)]
mod tests;
