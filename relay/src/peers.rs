//! Several relays as one: what this relay does with what the others did on the same
//! database (PostgreSQL; on sled nothing can share the storage and nothing runs here).
//!
//! The store hears commits of every relay ([`crate::store::cluster::Notice`]). For each
//! tenant whose head moved past what this relay's hub has delivered, the feeder reads the
//! rows after the hub's durable head, in order, and publishes them, so desks here see events
//! ingested, sent or commanded elsewhere with no gap (the hub's head is where the next read
//! starts) and no duplicate (sessions skip what they sent; this relay's own commits are not
//! notified back to it, since it published them itself, and an event below the hub's head
//! is not read again). After the listener (re)connects, every
//! tenant's head is compared the same way, so a relay that lost its connection catches up
//! from the tables. Notices arriving together are merged per tenant, so a burst costs one
//! read per tenant.
//!
//! A notice whose commit gave the tenant's outbox work (desk commands, credits, channel
//! changes: the committing relay says so in the notice) kicks the local outbox, whether or
//! not the hub had already passed that head (this relay's own later commit of the tenant
//! can publish past a notice that has not arrived yet; its desks then catch up from
//! storage, but the outbox would have slept until its idle wake-up). The relay holding
//! the tenant's lease sends, wherever the reply was
//! queued. Signals drop what this relay keeps in memory: a drafter built from old knowledge,
//! desks of a revoked agent or a deleted tenant. Drafting and profile lookups are not
//! repeated here: they happen once, on the relay that stored the customer's message.

use crate::desk::hub::Hub;
use crate::drafting::Drafting;
use crate::outbox::Outbox;
use crate::principal::{Access, Principal};
use crate::shutdown::Shutdown;
use crate::store::cluster::{Notice, Signal, gives_outbox_work};
use crate::store::{Store, StoreError};
use protocol::{Seq, TenantId};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Events read per storage call while catching up.
const PAGE: usize = 500;
/// Notices waiting for the feeder; the listener waits when it is full (nothing is lost:
/// the database keeps notifications for a listener that reads slowly).
const BACKLOG: usize = 4096;

/// What the feeder acts on.
pub struct Peers {
    pub store: Arc<dyn Store>,
    pub hub: Arc<Hub>,
    pub outbox: Outbox,
    pub drafting: Drafting,
}

/// Starts listening and feeding, when the store can be shared with other relays.
pub fn spawn(peers: Peers, shutdown: &Shutdown) {
    let (tx, rx) = mpsc::channel(BACKLOG);
    let Some(watch) = peers.store.watch(tx) else {
        return;
    };
    let stop = shutdown.clone();
    shutdown.spawn(async move { stop.unless_stopping(watch).await });
    let stop = shutdown.clone();
    shutdown.spawn(async move { peers.feed(rx, &stop).await });
}

/// What a burst of notices asks of this relay: per tenant the highest head heard and
/// whether any of its commits gave the outbox work; whether to compare every head (the
/// listener reconnected); the signals, in order.
#[derive(Debug, Default, PartialEq)]
struct Burst {
    heads: HashMap<TenantId, Wanted>,
    resync: bool,
    signals: Vec<Signal>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Wanted {
    head: Seq,
    outbox_work: bool,
}

impl Burst {
    fn merge(notices: impl IntoIterator<Item = Notice>) -> Burst {
        let mut burst = Burst::default();
        for notice in notices {
            match notice {
                Notice::Appended {
                    tenant,
                    head,
                    outbox_work,
                } => {
                    let wanted = burst.heads.entry(tenant).or_default();
                    wanted.head = wanted.head.max(head);
                    wanted.outbox_work |= outbox_work;
                }
                Notice::Signal(signal) => burst.signals.push(signal),
                Notice::Resync => burst.resync = true,
            }
        }
        burst
    }
}

impl Peers {
    async fn feed(self, mut rx: mpsc::Receiver<Notice>, stop: &Shutdown) {
        while let Some(Some(first)) = stop.unless_stopping(rx.recv()).await {
            let mut burst = vec![first];
            while let Ok(notice) = rx.try_recv() {
                burst.push(notice);
            }
            let Burst {
                mut heads,
                resync,
                signals,
            } = Burst::merge(burst);
            for signal in signals {
                self.apply(signal);
            }
            if resync {
                match self.store.heads().await {
                    Ok(all) => {
                        for (tenant, head) in all {
                            let wanted = heads.entry(tenant).or_default();
                            wanted.head = wanted.head.max(head);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "heads not read after reconnecting"),
                }
            }
            for (tenant, Wanted { head, outbox_work }) in heads {
                if outbox_work {
                    // Whatever the desks were already sent: this relay's own later commit
                    // may have published past this notice before it arrived.
                    self.outbox.kick(&tenant);
                }
                if let Err(e) = self.deliver(&tenant, head).await {
                    // The next notice of this tenant (or a resync) reads from the same head.
                    tracing::warn!(tenant = %tenant, error = %e, "other relays' events not delivered yet");
                }
            }
        }
    }

    /// Publishes the tenant's events after the hub's durable head up to `head`.
    async fn deliver(&self, tenant: &TenantId, head: Seq) -> Result<(), StoreError> {
        let Ok(scope) = Principal::Operator.scope(tenant, Access::Read) else {
            return Ok(());
        };
        // After a resync the notices' flags are lost: what is read here says instead.
        let mut wake = false;
        loop {
            let from = self.hub.durable(&scope);
            if from >= head {
                break;
            }
            let events = self.store.events_after(&scope, from, PAGE).await?;
            if events.is_empty() {
                break;
            }
            wake |= events.iter().any(|e| gives_outbox_work(&e.body));
            self.hub.publish(&scope, events);
        }
        if wake {
            self.outbox.kick(tenant);
        }
        Ok(())
    }

    fn apply(&self, signal: Signal) {
        match signal {
            Signal::Knowledge(tenant) => self.drafting.forget(&tenant),
            Signal::AgentRevoked(agent) => self.hub.revoke(agent),
            Signal::TenantDeleted(tenant) => self.hub.delete_tenant(&tenant),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::AgentId;

    fn appended(tenant: &str, head: u64, outbox_work: bool) -> Notice {
        Notice::Appended {
            tenant: TenantId::new(tenant),
            head: Seq(head),
            outbox_work,
        }
    }

    #[test]
    fn a_burst_keeps_each_tenants_highest_head_and_any_outbox_work() {
        let revoked = Signal::AgentRevoked(AgentId::new("ag_1"));
        // Notices; each tenant's (head, outbox work) wanted; whether to resync.
        type Case = (Vec<Notice>, Vec<(&'static str, u64, bool)>, bool);
        let cases: Vec<Case> = vec![
            (
                vec![appended("t1", 3, false)],
                vec![("t1", 3, false)],
                false,
            ),
            // A command (work) overtaken by a later message of the same tenant: the work
            // is kept although the later head says nothing of it.
            (
                vec![appended("t1", 4, true), appended("t1", 5, false)],
                vec![("t1", 5, true)],
                false,
            ),
            // Notices may arrive out of order across relays: the highest head wins.
            (
                vec![appended("t1", 9, false), appended("t1", 7, true)],
                vec![("t1", 9, true)],
                false,
            ),
            (
                vec![
                    appended("t1", 2, false),
                    Notice::Resync,
                    appended("t2", 1, true),
                ],
                vec![("t1", 2, false), ("t2", 1, true)],
                true,
            ),
        ];
        for (notices, want, resync) in cases {
            let burst = Burst::merge(notices.clone());
            let want: HashMap<TenantId, Wanted> = want
                .into_iter()
                .map(|(t, head, outbox_work)| {
                    (
                        TenantId::new(t),
                        Wanted {
                            head: Seq(head),
                            outbox_work,
                        },
                    )
                })
                .collect();
            assert_eq!(burst.heads, want, "{notices:?}");
            assert_eq!(burst.resync, resync, "{notices:?}");
        }
        let burst = Burst::merge(vec![
            Notice::Signal(revoked.clone()),
            appended("t1", 1, false),
        ]);
        assert_eq!(burst.signals, vec![revoked]);
    }
}
