//! What relays sharing one database tell each other, and who does a job when several could.
//!
//! - [`Notice`]: what a relay learns from the others. On PostgreSQL every tenant step that
//!   appends events sends `NOTIFY chatdesk_events` with the tenant and its new head in the
//!   same transaction (so it is delivered only on commit, in commit order); changes that
//!   other relays keep in memory (knowledge, a revoked agent, a deleted tenant) are sent as a
//!   [`Signal`] on `chatdesk_signals`. Each relay listens on one connection of its own
//!   ([`crate::store::Store::watch`]); after that connection is (re)made it gets
//!   [`Notice::Resync`], since notices sent meanwhile are lost, and catches up from the tables.
//! - [`Lease`]: scheduled work (a tenant's outbox, the token refresher, the sweeps) runs on one
//!   relay at a time. A lease row names its holder and an expiry in relay time; the holder
//!   renews it, anyone takes it once it expired ([`Leases`]).
//!
//! On sled there is one process per data directory: nothing to hear, and every lease is held.

use super::{Store, StoreError};
use crate::clock::Clock;
use protocol::{AgentId, EventBody, Millis, Seq, TenantId};
use std::sync::Arc;

/// What another relay (or this one, through the database) did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The tenant's log reached `head` (committed). `outbox_work`: the commit held an event
    /// that may queue, unblock or stop a send, so the relay holding the tenant's outbox
    /// lease must look at its queue, even if its own desks have already been sent the
    /// events up to `head` (its own later commit may have overtaken this notice).
    Appended {
        tenant: TenantId,
        head: Seq,
        outbox_work: bool,
    },
    Signal(Signal),
    /// The listening connection was (re)made: notices may have been missed; compare every
    /// tenant's head with what was delivered.
    Resync,
}

/// A change that relays keep in memory, announced to all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    /// The tenant's knowledge or settings changed: drafters built from them are stale.
    Knowledge(TenantId),
    /// The agent's token was revoked: close its desks.
    AgentRevoked(AgentId),
    /// The tenant was deleted: close its desks with `TENANT_DELETED`.
    TenantDeleted(TenantId),
}

impl Signal {
    /// The notification payload: a word and an id (ids never hold spaces).
    #[must_use]
    pub fn payload(&self) -> String {
        match self {
            Signal::Knowledge(t) => format!("knowledge {t}"),
            Signal::AgentRevoked(a) => format!("revoked {a}"),
            Signal::TenantDeleted(t) => format!("deleted {t}"),
        }
    }

    /// The signal a payload names; `None` for anything else (a newer relay's signal).
    #[must_use]
    pub fn parse(payload: &str) -> Option<Signal> {
        let (word, id) = payload.split_once(' ')?;
        match word {
            "knowledge" => Some(Signal::Knowledge(TenantId::new(id))),
            "revoked" => Some(Signal::AgentRevoked(AgentId::new(id))),
            "deleted" => Some(Signal::TenantDeleted(TenantId::new(id))),
            _ => None,
        }
    }
}

/// Announces `signal` to the other relays; a failure is logged, not returned: the change
/// itself is durable, and only other relays' memory stays stale (until they restart).
pub async fn tell(store: &dyn Store, signal: Signal) {
    if let Err(e) = store.announce(&signal).await {
        tracing::warn!(signal = %signal.payload(), error = %e, "other relays not told");
    }
}

/// The payload of an `Appended` notice: the head, the tenant, the store that committed it
/// (`origin`, random per process), so a relay skips its own commits: it published those
/// itself; and `outbox` when the commit gives the tenant's outbox work.
#[must_use]
pub fn appended_payload(tenant: &TenantId, head: Seq, origin: &str, outbox_work: bool) -> String {
    let work = if outbox_work { " outbox" } else { "" };
    format!("{} {tenant} {origin}{work}", head.0)
}

/// Whether an event may queue, unblock or stop a send: desk commands, credits and
/// account changes.
#[must_use]
pub fn gives_outbox_work(body: &EventBody) -> bool {
    matches!(
        body,
        EventBody::Desk(_) | EventBody::Credits(_) | EventBody::Account(_)
    )
}

/// The notice a `chatdesk_events` payload names, unless it came from `own` origin.
#[must_use]
pub fn parse_appended(payload: &str, own: &str) -> Option<Notice> {
    let mut parts = payload.split(' ');
    let (head, tenant, origin) = (parts.next()?, parts.next()?, parts.next()?);
    if origin == own {
        return None;
    }
    Some(Notice::Appended {
        tenant: TenantId::new(tenant),
        head: Seq(head.parse().ok()?),
        outbox_work: parts.next() == Some("outbox"),
    })
}

/// Whether a lease was had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// This holder has it until the expiry it asked for.
    Held,
    /// Another holder has it until `until` (relay time).
    Busy { until: Millis },
}

/// The relay's side of leases: its holder id, its clock and its store.
#[derive(Clone)]
pub struct Leases {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    holder: Arc<str>,
}

impl Leases {
    /// Leases held as `holder` (unique per relay process).
    #[must_use]
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, holder: &str) -> Leases {
        Leases {
            store,
            clock,
            holder: Arc::from(holder),
        }
    }

    /// Takes `job`, or renews it if this relay holds it, for `ttl_ms` from now.
    ///
    /// # Errors
    /// Storage failed (the caller treats that as not held).
    pub async fn hold(&self, job: &str, ttl_ms: i64) -> Result<Lease, StoreError> {
        self.store
            .take_lease(job, &self.holder, self.clock.now(), ttl_ms)
            .await
    }

    /// Gives `job` up at once (a graceful stop), so another relay need not wait for it to
    /// expire.
    pub async fn release(&self, job: &str) {
        if let Err(e) = self.store.release_lease(job, &self.holder).await {
            tracing::warn!(job, error = %e, "lease not released; it will expire");
        }
    }

    /// This relay's holder id.
    #[must_use]
    pub fn holder(&self) -> &str {
        &self.holder
    }
}

/// Whether this relay runs this round of a periodic `job` done every `every_ms`: it holds
/// (or renews) the job's lease for two periods, so when its holder dies another relay takes
/// the rounds over within two periods. A storage failure counts as not this relay's turn.
pub async fn has_turn(leases: &Leases, job: &str, every_ms: i64) -> bool {
    match leases.hold(job, every_ms.saturating_mul(2)).await {
        Ok(lease) => lease == Lease::Held,
        Err(e) => {
            tracing::warn!(job, error = %e, "lease not read; skipping this round");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_read_back() {
        for s in [
            Signal::Knowledge(TenantId::new("t_1")),
            Signal::AgentRevoked(AgentId::new("ag_2")),
            Signal::TenantDeleted(TenantId::new("t_3")),
        ] {
            assert_eq!(Signal::parse(&s.payload()), Some(s));
        }
        assert_eq!(Signal::parse("newer t_1"), None);
        let payload = appended_payload(&TenantId::new("t_1"), Seq(42), "o_1", false);
        assert_eq!(
            parse_appended(&payload, "o_2"),
            Some(Notice::Appended {
                tenant: TenantId::new("t_1"),
                head: Seq(42),
                outbox_work: false,
            })
        );
        let payload = appended_payload(&TenantId::new("t_1"), Seq(43), "o_1", true);
        assert_eq!(
            parse_appended(&payload, "o_2"),
            Some(Notice::Appended {
                tenant: TenantId::new("t_1"),
                head: Seq(43),
                outbox_work: true,
            })
        );
        assert_eq!(parse_appended(&payload, "o_1"), None, "its own commit");
        assert_eq!(parse_appended("x t_1 o_1", "o_2"), None);
    }
}
