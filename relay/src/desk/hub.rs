//! Who receives what: one bounded broadcast ring per tenant, fed only with durable events.
//!
//! The hub also knows each tenant's *durable head*: the highest seq published since start,
//! or the head on disk at start. A session serves backlog only up to that head, so a desk
//! never sees an event that a crash could still take back (and whose seq another event
//! would then reuse). Publishing never waits for desks: a ring that overflows only makes
//! slow sessions re-read from storage.

use crate::principal::TenantScope;
use bytes::Bytes;
use protocol::codec::{encode_binary, encode_json_frame};
use protocol::{AgentId, Event, Seq, ServerFrame, TenantId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::broadcast;

/// Live events kept per tenant for sessions that are momentarily behind.
pub const RING: usize = 1024;

/// A published event with its frame encodings, made once and shared by every desk.
#[derive(Debug)]
pub struct Published {
    pub event: Event,
    binary: OnceLock<Result<Bytes, String>>,
    json: OnceLock<Result<Arc<str>, String>>,
}

impl Published {
    #[must_use]
    pub fn new(event: Event) -> Published {
        Published {
            event,
            binary: OnceLock::new(),
            json: OnceLock::new(),
        }
    }

    fn frame(&self) -> ServerFrame {
        ServerFrame::Event {
            event: self.event.clone(),
        }
    }

    /// The bincode `event` frame (a cheap clone of the shared bytes).
    ///
    /// # Errors
    /// Encoding failed (it does not for protocol types).
    pub fn binary(&self) -> Result<Bytes, String> {
        self.binary
            .get_or_init(|| {
                encode_binary(&self.frame())
                    .map(Bytes::from)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }

    /// The JSON `event` frame.
    ///
    /// # Errors
    /// Encoding failed (it does not for protocol types).
    pub fn json(&self) -> Result<Arc<str>, String> {
        self.json
            .get_or_init(|| {
                encode_json_frame(&self.frame())
                    .map(Arc::from)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }
}

struct Feed {
    tx: broadcast::Sender<Arc<Published>>,
    durable: Seq,
}

/// A session's view of its tenant's feed.
pub struct Subscription {
    pub live: broadcast::Receiver<Arc<Published>>,
    /// Everything up to here is durable and can be read from storage.
    pub durable: Seq,
}

pub struct Hub {
    feeds: Mutex<HashMap<TenantId, Feed>>,
    revoked: broadcast::Sender<Revocation>,
}

/// What stops sessions at once: one agent's token revoked, or a whole tenant deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    Agent(AgentId),
    Tenant(TenantId),
}

impl Hub {
    /// A hub knowing the heads that were on disk when storage opened.
    #[must_use]
    pub fn new(heads: impl IntoIterator<Item = (TenantId, Seq)>) -> Hub {
        let feeds = heads
            .into_iter()
            .map(|(tenant, durable)| (tenant, Feed::new(durable)))
            .collect();
        Hub {
            feeds: Mutex::new(feeds),
            revoked: broadcast::channel(64).0,
        }
    }

    fn feeds(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, Feed>> {
        // The map stays consistent even if a holder panicked: every change is one insert.
        self.feeds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Hands durable events to the tenant's sessions. Call only after the store's sync
    /// returned for them. Publishers may race; sessions fill any gap from storage.
    pub fn publish(&self, scope: &TenantScope, events: impl IntoIterator<Item = Event>) {
        let mut feeds = self.feeds();
        let feed = feeds
            .entry(scope.tenant().clone())
            .or_insert_with(|| Feed::new(Seq(0)));
        for event in events {
            feed.durable = feed.durable.max(event.seq);
            // No receivers is fine: nobody is connected.
            let _ = feed.tx.send(Arc::new(Published::new(event)));
        }
    }

    /// Subscribes to the tenant's live events and reads its durable head in one step, so
    /// every event after that head arrives on `live` (or, if the ring overflows, is durable
    /// in storage by the time a later one arrives).
    #[must_use]
    pub fn subscribe(&self, scope: &TenantScope) -> Subscription {
        let mut feeds = self.feeds();
        // A tenant absent at start-up has had all its events published since.
        let feed = feeds
            .entry(scope.tenant().clone())
            .or_insert_with(|| Feed::new(Seq(0)));
        Subscription {
            live: feed.tx.subscribe(),
            durable: feed.durable,
        }
    }

    /// The tenant's durable head now.
    #[must_use]
    pub fn durable(&self, scope: &TenantScope) -> Seq {
        self.feeds()
            .get(scope.tenant())
            .map_or(Seq(0), |f| f.durable)
    }

    /// Tells every session of `agent` that its token no longer works.
    pub fn revoke(&self, agent: AgentId) {
        let _ = self.revoked.send(Revocation::Agent(agent));
    }

    /// Tells every session of `tenant` that the tenant was deleted. Its feed stays (a few
    /// bytes until restart): dropping it would end those sessions as "shutting down"
    /// before they read why.
    pub fn delete_tenant(&self, tenant: &TenantId) {
        let _ = self.revoked.send(Revocation::Tenant(tenant.clone()));
    }

    #[must_use]
    pub fn revocations(&self) -> broadcast::Receiver<Revocation> {
        self.revoked.subscribe()
    }
}

impl Feed {
    fn new(durable: Seq) -> Feed {
        Feed {
            tx: broadcast::channel(RING).0,
            durable,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::principal::{Access, Principal};
    use protocol::{ChannelId, EventBody, Millis, UnknownEvent};

    fn scope(t: &str) -> TenantScope {
        Principal::Operator
            .scope(&TenantId::new(t), Access::Read)
            .unwrap()
    }

    fn event(t: &str, seq: u64) -> Event {
        Event {
            tenant: TenantId::new(t),
            seq: Seq(seq),
            received_at: Millis(0),
            body: EventBody::Unknown(UnknownEvent {
                channel_id: ChannelId::new("ch"),
                object: "x".into(),
                kind: "y".into(),
                raw: "{}".into(),
            }),
        }
    }

    #[test]
    fn tenants_receive_only_their_own_events_and_heads_only_grow() {
        let hub = Hub::new([(TenantId::new("a"), Seq(7))]);
        let (a, b) = (scope("a"), scope("b"));
        let mut sub_a = hub.subscribe(&a);
        let mut sub_b = hub.subscribe(&b);
        assert_eq!((sub_a.durable, sub_b.durable), (Seq(7), Seq(0)));
        hub.publish(&a, [event("a", 9), event("a", 8)]);
        hub.publish(&b, [event("b", 1)]);
        assert_eq!(sub_a.live.try_recv().unwrap().event.seq, Seq(9));
        assert_eq!(sub_a.live.try_recv().unwrap().event.seq, Seq(8));
        assert!(sub_a.live.try_recv().is_err());
        assert_eq!(
            sub_b.live.try_recv().unwrap().event.tenant,
            TenantId::new("b")
        );
        assert_eq!(
            hub.durable(&a),
            Seq(9),
            "a late publisher never lowers the head"
        );
    }

    #[test]
    fn encodings_are_made_once_and_decode_back() {
        let p = Published::new(event("a", 1));
        let bin = p.binary().unwrap();
        assert_eq!(
            bin.as_ptr(),
            p.binary().unwrap().as_ptr(),
            "encoded once, shared"
        );
        let frame: ServerFrame = protocol::codec::decode_binary(&bin).unwrap();
        assert_eq!(
            frame,
            ServerFrame::Event {
                event: event("a", 1)
            }
        );
        let json: ServerFrame = protocol::codec::decode_json_frame(&p.json().unwrap()).unwrap();
        assert_eq!(
            json,
            ServerFrame::Event {
                event: event("a", 1)
            }
        );
    }
}
