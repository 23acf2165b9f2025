//! Sending: one outbox per tenant that takes queued replies to Meta, inside Meta's rules.
//!
//! A send is: window check (`protocol::window`) → credit check → the account's send rate
//! (`limits`) → `Sending` recorded durably with its credit taken → the Graph call
//! (`graph`) → `Sent` with Meta's id, or `Failed` with a class (`crate::meta_errors`) and the credit
//! given back. Transient and rate-limit failures are retried with jittered exponential
//! back-off, a bounded number of times; the others wait for a person.
//!
//! Per thread the queue is strict: a reply waits while an earlier one of the same thread
//! is unsent or failed ("blocked behind a failed reply"); other threads go on. A channel
//! whose token Meta refused stops sending until a person retries after reconnecting.
//!
//! Nothing is sent twice: `Sending` is durable before the call, so after a crash a send
//! found in that state is *in doubt*. For Instagram the outbox asks Meta's Conversations
//! API whether a business message with that text reached the customer since the attempt
//! began, records it as sent if so, and only otherwise sends again. Calls that got no
//! answer (timeouts) are settled the same way before their retry.
//!
//! Start at `worker` (the loop of one tenant), then `graph`; Meta's error codes are sorted by `crate::meta_errors`.
//!
//! Access tokens are opened (made plaintext) only by [`open_token`], at call time: the
//! worker before a send, and the few other Graph calls made with a channel's own token
//! (settings at Meta, token refresh, unsubscribing on disconnect) through
//! [`Outbox::token`]. The keyring that opens them lives here too.

pub mod graph;
pub mod limits;
pub mod worker;

use crate::clock::Clock;
use crate::desk::hub::Hub;
use crate::principal::TenantScope;
use crate::principal::{Access, Principal};
use crate::secret::Secret;
use crate::store::ChannelRecord;
use crate::store::cluster::Leases;
use crate::store::{SendState, Store, StoreError};
use crate::vault::{Keyring, VaultError};
use graph::Graph;
use limits::SendLimits;
use protocol::TenantId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Everything a tenant's worker needs; shared by all workers.
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub hub: Arc<Hub>,
    pub graph: Graph,
    /// Seals and opens access tokens; rotations change it while serving.
    pub keys: Arc<Keyring>,
    pub clock: Arc<dyn Clock>,
    pub limits: SendLimits,
    /// Workers finish the send in hand and stop when the relay does.
    pub shutdown: crate::shutdown::Shutdown,
    /// A tenant's worker sends only while it holds the tenant's lease, so one relay sends
    /// for a tenant however many share the database (`worker::LEASE_MS`).
    pub leases: Leases,
}

/// The relay's outboxes: starts a tenant's worker on its first queued reply.
#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
    workers: Arc<Mutex<HashMap<TenantId, Worker>>>,
}

/// One tenant's worker: how to wake it, what it tells `/readyz`, and its supervising task,
/// which restarts the worker after a panic and ends only when the relay stops.
struct Worker {
    notify: Arc<Notify>,
    health: Arc<WorkerHealth>,
    task: tokio::task::JoinHandle<()>,
}

/// What a tenant's worker and its supervisor record for `/readyz`.
#[derive(Default)]
pub struct WorkerHealth {
    /// Panics since the worker last came round its loop; 0 while it is healthy. A restart
    /// alone does not clear it, so a worker that dies in every round stays counted dead.
    failing: AtomicU32,
    /// Restarts after a panic since the relay started.
    restarts: AtomicU64,
}

impl WorkerHealth {
    /// The worker came round its loop (a round done, or waiting for the lease): it lives.
    pub fn alive(&self) {
        self.failing.store(0, Ordering::Relaxed);
    }
}

/// How the outbox workers are doing, for `/readyz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkersHealth {
    pub running: usize,
    /// Workers that panicked and have not come round their loop since (waiting for their
    /// restart, or restarted and not yet through a round).
    pub dead: usize,
    /// Restarts after a panic since the relay started, all tenants together.
    pub restarts: u64,
}

/// The first wait before a worker that panicked is started again; it doubles with each
/// panic in a row up to [`RESTART_CAP_MS`], so a worker that keeps dying does not spin.
pub const RESTART_BASE_MS: i64 = 1000;
const RESTART_CAP_MS: i64 = 60_000;

impl Outbox {
    #[must_use]
    pub fn new(shared: Shared) -> Outbox {
        Outbox {
            shared: Arc::new(shared),
            workers: Arc::default(),
        }
    }

    /// The Graph client, for the admin calls that read or change settings at Meta.
    #[must_use]
    pub fn graph(&self) -> &Graph {
        &self.shared.graph
    }

    /// The keyring that seals access tokens (new seals use its current key).
    #[must_use]
    pub fn keys(&self) -> &Arc<Keyring> {
        &self.shared.keys
    }

    /// The channel's access token in plaintext, for one Graph call made now.
    ///
    /// # Errors
    /// The channel has no token, was disconnected, or its sealed token does not open.
    pub fn token(
        &self,
        scope: &TenantScope,
        channel: &ChannelRecord,
    ) -> Result<Secret, TokenError> {
        open_token(&self.shared.keys, scope, channel)
    }

    /// Tells the tenant's outbox to look at its queue (starting it if needed; a worker that
    /// panicked is restarted by its supervisor, after a back-off in relay time).
    pub fn kick(&self, tenant: &TenantId) {
        let mut workers = self
            .workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match workers.get(tenant) {
            Some(w) if !w.task.is_finished() => {
                w.notify.notify_one();
                return;
            }
            Some(_) => {
                tracing::error!(tenant = %tenant, "outbox worker had stopped; starting it again");
            }
            None => {}
        }
        if self.shared.shutdown.is_stopping() {
            // Queued sends stay durable; the next start resumes them.
            return;
        }
        let notify = Arc::new(Notify::new());
        let health = Arc::new(WorkerHealth::default());
        let task = {
            let (shared, tenant) = (self.shared.clone(), tenant.clone());
            let (notify, health) = (notify.clone(), health.clone());
            let tasks = self.shared.shutdown.clone();
            tasks.spawn(supervise(shared, tenant, notify, health))
        };
        workers.insert(
            tenant.clone(),
            Worker {
                notify,
                health,
                task,
            },
        );
    }

    /// How many workers run, how many are dead (see [`WorkersHealth::dead`]) and how often
    /// they were restarted.
    #[must_use]
    pub fn health(&self) -> WorkersHealth {
        let workers = self
            .workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dead = workers
            .values()
            .filter(|w| w.task.is_finished() || w.health.failing.load(Ordering::Relaxed) > 0)
            .count();
        WorkersHealth {
            running: workers.len() - dead,
            dead,
            restarts: workers
                .values()
                .map(|w| w.health.restarts.load(Ordering::Relaxed))
                .sum(),
        }
    }

    /// Starts the outboxes of tenants with unfinished sends (after a restart).
    ///
    /// # Errors
    /// Storage failed.
    pub async fn resume(&self) -> Result<usize, StoreError> {
        let mut started = 0;
        for (tenant, _) in self.shared.store.heads().await? {
            let Ok(scope) = Principal::Operator.scope(&tenant, Access::Manage) else {
                continue;
            };
            let sends = self.shared.store.unfinished_sends(&scope).await?;
            if sends.iter().any(|s| {
                matches!(s.state, SendState::Queued | SendState::Sending)
                    || (s.state == SendState::Failed && s.retry_at.is_some())
            }) {
                self.kick(&tenant);
                started += 1;
            }
        }
        Ok(started)
    }
}

/// Runs a tenant's worker, and again after each panic (a bug: the send in hand, if any, is
/// durable as `Sending` and is settled by the restarted worker as in doubt), waiting
/// longer after each panic in a row. Returns when the worker returns: the relay stops.
async fn supervise(
    shared: Arc<Shared>,
    tenant: TenantId,
    notify: Arc<Notify>,
    health: Arc<WorkerHealth>,
) {
    loop {
        let run = tokio::spawn(worker::run(
            shared.clone(),
            tenant.clone(),
            notify.clone(),
            health.clone(),
        ));
        match run.await {
            Ok(()) => return,
            Err(e) if e.is_panic() => {}
            // Cancelled: the runtime is going away.
            Err(_) => return,
        }
        let failing = health.failing.load(Ordering::Relaxed) + 1;
        let wait = RESTART_BASE_MS
            .saturating_mul(1 << failing.saturating_sub(1).min(16))
            .min(RESTART_CAP_MS);
        // The moment is fixed before the death is shown, so a clock moved by someone who
        // saw it (a test) always reaches the restart.
        let at = shared.clock.now().plus(wait);
        health.failing.store(failing, Ordering::Relaxed);
        tracing::error!(
            tenant = %tenant,
            panics_in_a_row = failing,
            restart_in_ms = wait,
            "outbox worker panicked; restarting it"
        );
        tokio::select! {
            () = shared.clock.sleep_until(at) => {}
            () = shared.shutdown.stopping() => return,
        }
        health.restarts.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why a channel's token cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the channel was disconnected; connect it again")]
    Disconnected,
    #[error("the channel has no access token; reconnect it")]
    Missing,
    #[error("the channel's access token cannot be opened: {0}")]
    Vault(#[from] VaultError),
}

/// Opens a channel's sealed token: the one place a token becomes plaintext.
///
/// # Errors
/// See [`TokenError`].
pub fn open_token(
    keys: &Keyring,
    scope: &TenantScope,
    channel: &ChannelRecord,
) -> Result<Secret, TokenError> {
    if channel.is_disconnected() {
        return Err(TokenError::Disconnected);
    }
    let sealed = channel.sealed_token.as_deref().ok_or(TokenError::Missing)?;
    Ok(Secret::new(keys.open(
        scope.tenant(),
        &channel.id,
        sealed,
    )?))
}
