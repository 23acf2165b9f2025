//! Routing: which tenant's channel a webhook item belongs to, and the event it becomes.
//!
//! The first route key that names a registered channel wins. Items for accounts no tenant
//! has connected are reported as unrouted so the caller can count them; their content is
//! never kept.

use super::parse::{Conversation, Item, ItemBody};
use crate::ids;
use crate::store::{ChannelRecord, NewEvent, Routed, Store, StoreError};
use protocol::{AccountEvent, EventBody, InboundEvent, Millis, UnknownEvent};

/// Finds the channel of `item`, if any (maybe from memory: see [`Store::route`]).
///
/// # Errors
/// Storage failures only.
pub async fn channel_for(store: &dyn Store, item: &Item) -> Result<Option<Routed>, StoreError> {
    store.route(&item.route_keys).await
}

/// The event `item` becomes on `channel`, arrived at `now`.
#[must_use]
pub fn to_event(object: &str, item: Item, channel: &ChannelRecord, now: Millis) -> NewEvent {
    let body = match item.body {
        ItemBody::Conversation(Conversation {
            channel: surface,
            thread_key,
            customer,
            direction,
            occurred_at,
            standby,
            kind,
        }) => EventBody::Inbound(InboundEvent {
            channel_id: channel.id.clone(),
            channel: surface,
            thread: ids::thread(&channel.tenant, &channel.id, &thread_key),
            customer,
            direction,
            occurred_at: occurred_at.unwrap_or(now),
            standby,
            kind,
        }),
        ItemBody::Account { occurred_at, kind } => EventBody::Account(AccountEvent {
            channel_id: channel.id.clone(),
            occurred_at: occurred_at.unwrap_or(now),
            kind,
        }),
        ItemBody::Unknown { kind, raw } => EventBody::Unknown(UnknownEvent {
            channel_id: channel.id.clone(),
            object: object.to_owned(),
            kind,
            raw,
        }),
    };
    NewEvent {
        dedup_key: item.dedup_key,
        received_at: now,
        body,
    }
}
