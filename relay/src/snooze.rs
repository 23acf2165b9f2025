//! Snoozed threads wake by the relay's clock: a thread snoozed until a time gets an
//! `Unsnoozed` desk event (of the reserved agent [`WAKER_AGENT`]) once that time has come.
//!
//! Snoozes until the customer writes need nothing here: the projection wakes the thread on
//! the customer's next message. The waker keeps the pending times in memory, learns new ones
//! from the desk sessions that applied them ([`Snoozes::wake_at`]) and, at start, from every
//! tenant's thread views; it waits with [`Clock::sleep_until`], so a test clock moved
//! forward wakes it at once. It decides nothing itself: the wake is an ordinary
//! `Unsnooze` command through the store (idempotent by its key), applied only while the
//! thread is still snoozed until that same time.

use crate::clock::Clock;
use crate::desk::hub::Hub;
use crate::principal::{Access, Principal, TenantScope};
use crate::shutdown::Shutdown;
use crate::store::{CommandRequest, Snooze, Store, StoreError, Vetted};
use protocol::{AgentId, Command, CommandKey, Millis, Role, TenantId, ThreadId};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Notify;

/// The agent that `Unsnoozed` events of a snooze that ran out carry.
pub const WAKER_AGENT: &str = "relay";

type Due = BTreeSet<(Millis, TenantId, ThreadId)>;

/// The waker's inbox: snoozes with a time, soonest first.
#[derive(Clone)]
pub struct Snoozes {
    due: Arc<Mutex<Due>>,
    changed: Arc<Notify>,
}

impl Snoozes {
    /// Starts the waker, which first reads every tenant's snoozed threads.
    #[must_use]
    pub fn spawn(
        store: Arc<dyn Store>,
        hub: Arc<Hub>,
        clock: Arc<dyn Clock>,
        shutdown: &Shutdown,
    ) -> Snoozes {
        let snoozes = Snoozes {
            due: Arc::default(),
            changed: Arc::new(Notify::new()),
        };
        let waker = Waker {
            store,
            hub,
            clock,
            snoozes: snoozes.clone(),
        };
        shutdown.spawn(waker.run(shutdown.clone()));
        snoozes
    }

    /// `thread` of `tenant` was snoozed until `at`.
    pub fn wake_at(&self, tenant: &TenantId, thread: &ThreadId, at: Millis) {
        self.lock().insert((at, tenant.clone(), thread.clone()));
        self.changed.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Due> {
        self.due.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes and answers every entry due at `now`.
    fn take_due(&self, now: Millis) -> Vec<(Millis, TenantId, ThreadId)> {
        let mut due = self.lock();
        let mut out = Vec::new();
        while let Some(first) = due.first() {
            if first.0 > now {
                break;
            }
            out.extend(due.pop_first());
        }
        out
    }

    fn next(&self) -> Option<Millis> {
        self.lock().first().map(|e| e.0)
    }
}

struct Waker {
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    clock: Arc<dyn Clock>,
    snoozes: Snoozes,
}

impl Waker {
    async fn run(self, shutdown: Shutdown) {
        if let Err(e) = self.load().await {
            tracing::error!(error = %e, "snoozed threads not read; they wake when customers write");
        }
        loop {
            let changed = self.snoozes.changed.notified();
            let sleep = async {
                match self.snoozes.next() {
                    Some(at) => self.clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = shutdown.stopping() => return,
                () = changed => {}
                () = sleep => {}
            }
            for (at, tenant, thread) in self.snoozes.take_due(self.clock.now()) {
                if let Err(e) = self.wake(&tenant, &thread, at).await {
                    tracing::error!(tenant = %tenant, error = %e, "snoozed thread not woken");
                }
            }
        }
    }

    /// Every tenant's threads snoozed until a time.
    async fn load(&self) -> Result<(), StoreError> {
        for (tenant, _) in self.store.heads().await? {
            let Some(scope) = scope(&tenant) else {
                continue;
            };
            for thread in self.store.threads(&scope).await? {
                if let Some(Snooze { until: Some(at) }) = thread.snooze {
                    self.snoozes.wake_at(&tenant, &thread.id, at);
                }
            }
        }
        Ok(())
    }

    async fn wake(
        &self,
        tenant: &TenantId,
        thread: &ThreadId,
        at: Millis,
    ) -> Result<(), StoreError> {
        let Some(scope) = scope(tenant) else {
            return Ok(());
        };
        // Snoozed again since, woken by hand or by the customer: this time is not the one.
        let current = self.store.thread(&scope, thread).await?;
        if current.and_then(|t| t.snooze) != Some(Snooze { until: Some(at) }) {
            return Ok(());
        }
        let outcome = self
            .store
            .apply_command(
                &scope,
                CommandRequest {
                    agent: AgentId::new(WAKER_AGENT),
                    role: Role::Owner,
                    key: CommandKey::new(format!("wake:{thread}:{}", at.0)),
                    command: Command::Unsnooze {
                        thread: thread.clone(),
                    },
                    received_at: self.clock.now(),
                    vetted: Vetted::default(),
                },
            )
            .await?;
        self.store.sync().await?;
        if let Some(event) = outcome.event {
            self.hub.publish(&scope, [event]);
        }
        Ok(())
    }
}

/// The relay's own scope over a tenant, for the waker (like the token refresher's).
fn scope(tenant: &TenantId) -> Option<TenantScope> {
    Principal::Operator.scope(tenant, Access::Manage).ok()
}
