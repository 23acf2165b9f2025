//! Customers by name: Instagram's User Profile API (meta-platform.md §6.3) asked off the
//! ingest path.
//!
//! Ingest hands stored events over after the webhook is durable (a channel send; the
//! acknowledgement never waits). For each Instagram DM from a customer, `due` decides —
//! purely, from when this thread's customer was last asked — whether to ask now: on the
//! first message, then at most once a day by the relay's clock. One task asks Meta with the
//! channel's token and records the answer as an `Account` event
//! (`AccountEventKind::CustomerProfile`), durable and published, so every desk learns it and
//! the thread view names the customer. A refusal (no consent, blocked, token trouble) is
//! recorded with no profile and is not asked again within the day, so it cannot loop.
//!
//! A channel without a usable token, or a Meta that does not answer, records nothing (no
//! answer is not a refusal) but still counts as the day's attempt. Attempt times are kept in
//! memory: after a restart a customer may be asked once more.

use crate::clock::Clock;
use crate::desk::hub::Hub;
use crate::ids;
use crate::outbox::Outbox;
use crate::principal::TenantScope;
use crate::store::{Appended, NewEvent, Store};
use protocol::inbound::InboundKind;
use protocol::{
    AccountEvent, AccountEventKind, Channel, ChannelId, CustomerId, Direction, Event, EventBody,
    Millis, TenantId, ThreadId,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// How long after an attempt (answered or refused) a customer is not asked again.
pub const ASK_EVERY_MS: i64 = 24 * 60 * 60 * 1000;

/// One profile to ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub thread: ThreadId,
    pub channel: ChannelId,
    pub igsid: String,
}

/// The customers among `events` to ask about now: Instagram DMs from customers whose thread
/// was never asked, or asked at least a day before `now`; each thread once.
#[must_use]
pub fn due(
    events: &[Event],
    last_asked: impl Fn(&ThreadId) -> Option<Millis>,
    now: Millis,
) -> Vec<Lookup> {
    let mut out: Vec<Lookup> = Vec::new();
    for e in events {
        let EventBody::Inbound(i) = &e.body else {
            continue;
        };
        let (
            Channel::InstagramDm,
            Direction::Inbound,
            InboundKind::Message(_),
            CustomerId::Igsid(igsid),
        ) = (i.channel, i.direction, &i.kind, &i.customer.id)
        else {
            continue;
        };
        if out.iter().any(|l| l.thread == i.thread) {
            continue;
        }
        let fresh = last_asked(&i.thread).is_none_or(|at| now.0 - at.0 >= ASK_EVERY_MS);
        if fresh {
            out.push(Lookup {
                thread: i.thread.clone(),
                channel: i.channel_id.clone(),
                igsid: igsid.clone(),
            });
        }
    }
    out
}

struct Job {
    scope: TenantScope,
    lookups: Vec<Lookup>,
}

/// The profile asker: `submit` from ingest, one task doing the calls.
#[derive(Clone)]
pub struct Profiles {
    tx: mpsc::UnboundedSender<Job>,
    asked: Arc<Mutex<HashMap<(TenantId, ThreadId), Millis>>>,
    clock: Arc<dyn Clock>,
}

impl Profiles {
    /// Starts the task (it lives until the relay stops).
    pub fn spawn(
        store: Arc<dyn Store>,
        hub: Arc<Hub>,
        clock: Arc<dyn Clock>,
        outbox: Outbox,
        shutdown: &crate::shutdown::Shutdown,
    ) -> Profiles {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let task_clock = clock.clone();
        let stop = shutdown.clone();
        shutdown.spawn(async move {
            // A lookup not made now is made after the restart, at the customer's next message.
            while let Some(Some(job)) = stop.unless_stopping(rx.recv()).await {
                for lookup in job.lookups {
                    if stop.is_stopping() {
                        return;
                    }
                    if let Err(e) =
                        ask(&*store, &hub, &*task_clock, &outbox, &job.scope, lookup).await
                    {
                        tracing::warn!(tenant = %job.scope.tenant(), error = %e, "customer profile not recorded");
                    }
                }
            }
        });
        Profiles {
            tx,
            asked: Arc::default(),
            clock,
        }
    }

    /// Hands over freshly stored (durable) events; customers due for a lookup are asked.
    pub fn submit(&self, scope: &TenantScope, events: &[Event]) {
        let now = self.clock.now();
        let lookups = {
            let mut asked = self.asked.lock().unwrap_or_else(PoisonError::into_inner);
            let tenant = scope.tenant().clone();
            let lookups = due(
                events,
                |t| asked.get(&(tenant.clone(), t.clone())).copied(),
                now,
            );
            // Marked before the call, so a burst of messages asks once.
            for l in &lookups {
                asked.insert((tenant.clone(), l.thread.clone()), now);
            }
            lookups
        };
        if lookups.is_empty() {
            return;
        }
        // A closed channel means shutdown.
        let _ = self.tx.send(Job {
            scope: scope.clone(),
            lookups,
        });
    }
}

async fn ask(
    store: &dyn Store,
    hub: &Hub,
    clock: &dyn Clock,
    outbox: &Outbox,
    scope: &TenantScope,
    lookup: Lookup,
) -> Result<(), crate::store::StoreError> {
    let Some(channel) = store
        .channels(scope)
        .await?
        .into_iter()
        .find(|c| c.id == lookup.channel)
    else {
        return Ok(());
    };
    // No usable token: nothing was asked, so there is nothing to record (the attempt time
    // kept in memory still spaces the next try a day apart).
    let Ok(token) = outbox.token(scope, &channel) else {
        return Ok(());
    };
    let profile = match outbox
        .graph()
        .user_profile(&channel, token.expose(), &lookup.igsid)
        .await
    {
        Ok(p) => Some(p),
        // Meta did not answer: not a refusal to record, and not retried before the day is
        // over either.
        Err(crate::meta_errors::CallFailure::NoAnswer(_)) => return Ok(()),
        Err(f) => {
            // The class only: Meta's texts may quote the request.
            let class = crate::meta_errors::classify(&f).class;
            tracing::info!(tenant = %scope.tenant(), thread = %lookup.thread, ?class, "customer profile refused");
            None
        }
    };
    let at = clock.now();
    let stored = store
        .append(
            scope,
            vec![NewEvent {
                dedup_key: format!("profile:{}:{}", lookup.thread, ids::random("ev")),
                received_at: at,
                body: EventBody::Account(AccountEvent {
                    channel_id: lookup.channel,
                    occurred_at: at,
                    kind: AccountEventKind::CustomerProfile {
                        thread: lookup.thread,
                        customer: lookup.igsid,
                        profile,
                    },
                }),
            }],
        )
        .await?;
    store.sync().await?;
    hub.publish(
        scope,
        stored.into_iter().filter_map(|a| match a {
            Appended::Stored(e) => Some(e),
            Appended::Duplicate(_) => None,
        }),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::inbound::{InboundEvent, MessageBody};
    use protocol::{Customer, Seq};

    fn dm(thread: &str, channel: Channel, direction: Direction) -> Event {
        let body = MessageBody {
            mid: format!("m-{thread}"),
            ..MessageBody::default()
        };
        Event {
            tenant: TenantId::new("t"),
            seq: Seq(1),
            received_at: Millis(0),
            body: EventBody::Inbound(InboundEvent {
                channel_id: ChannelId::new("ch"),
                channel,
                thread: ThreadId::new(thread),
                customer: Customer::new(CustomerId::Igsid(format!("{thread}-igsid"))),
                direction,
                occurred_at: Millis(0),
                standby: false,
                kind: InboundKind::Message(body),
            }),
        }
    }

    #[test]
    fn first_message_then_once_a_day() {
        let events = vec![
            dm("a", Channel::InstagramDm, Direction::Inbound),
            dm("a", Channel::InstagramDm, Direction::Inbound),
            dm("b", Channel::InstagramDm, Direction::Outbound),
            dm("c", Channel::WhatsApp, Direction::Inbound),
        ];
        let never = due(&events, |_| None, Millis(1000));
        assert_eq!(never.len(), 1);
        assert_eq!(never[0].igsid, "a-igsid");
        let asked_at = Millis(1000);
        assert!(due(&events, |_| Some(asked_at), Millis(1000 + ASK_EVERY_MS - 1)).is_empty());
        assert_eq!(
            due(&events, |_| Some(asked_at), Millis(1000 + ASK_EVERY_MS)).len(),
            1
        );
    }
}
