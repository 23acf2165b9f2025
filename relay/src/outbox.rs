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

/// One tenant's running worker: how to wake it, and its task, whose end means it died (the
/// loop returns by itself only when the relay stops).
struct Worker {
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

/// How the outbox workers are doing, for `/readyz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkersHealth {
    pub running: usize,
    /// Workers whose task ended (a panic); the next kick of their tenant starts a new one.
    pub dead: usize,
}

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

    /// Tells the tenant's outbox to look at its queue (starting it if needed, and again if
    /// its worker died).
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
                tracing::error!(tenant = %tenant, "outbox worker had stopped; starting it again")
            }
            None => {}
        }
        if self.shared.shutdown.is_stopping() {
            // Queued sends stay durable; the next start resumes them.
            return;
        }
        let notify = Arc::new(Notify::new());
        let shared = self.shared.clone();
        let task = {
            let tenant = tenant.clone();
            let notify = notify.clone();
            let tasks = self.shared.shutdown.clone();
            tasks.spawn(async move { worker::run(shared, tenant, notify).await })
        };
        workers.insert(tenant.clone(), Worker { notify, task });
    }

    /// How many workers run, and how many died since their tenant was last kicked.
    #[must_use]
    pub fn health(&self) -> WorkersHealth {
        let workers = self
            .workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dead = workers.values().filter(|w| w.task.is_finished()).count();
        WorkersHealth {
            running: workers.len() - dead,
            dead,
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
