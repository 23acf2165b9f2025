//! A channel's life after connecting: disconnecting it (owner, operator, Meta's deauthorize
//! and data-deletion callbacks) and the evidence record of every such change.
//!
//! Disconnecting asks Meta to stop sending the account's webhooks (best effort: a failure
//! is recorded, never fatal), then clears in one registry step the sealed token, the
//! webhook-routing ids (later webhooks for the account count as unknown-account and are
//! not stored) and the cached identifiers, and marks the channel disconnected. Threads stay
//! as the tenant's history. The outbox then fails the channel's sends with a sentence
//! saying it was disconnected.
//!
//! Deleting a tenant (`delete_tenant`) is the end of that life for all its channels at once:
//! each is disconnected as above (unsubscribed at Meta, best effort, the answer recorded),
//! then the store removes every way in (tokens, routes, links) and every key of its data,
//! the connected desks are told to erase their copy (close code `TENANT_DELETED`), and a
//! `TenantDeletion` record with the counts and the chain's last head stays in the registry.

use crate::http::AppState;
use crate::ids;
use crate::outbox::classify::classify;
use crate::principal::TenantScope;
use crate::store::cluster::{Signal, tell};
use crate::store::{NewEvent, Reconnect, StoreError};
use protocol::{AccountEvent, AccountEventKind, ChannelId, EventBody, Millis};

/// Appends an evidence record (a `ChannelChanged` account event) for `channel`, waits
/// until it is durable, and shows it to the tenant's desks. `detail` holds non-content
/// facts only.
///
/// # Errors
/// Storage failed.
pub async fn record_change(
    app: &AppState,
    scope: &TenantScope,
    channel: &ChannelId,
    change: &str,
    detail: String,
) -> Result<(), StoreError> {
    let kind = AccountEventKind::ChannelChanged {
        change: change.to_owned(),
        detail,
    };
    record_account(app, scope, channel, change, kind).await
}

/// Appends one account event of the channel, makes it durable and publishes it to desks.
pub async fn record_account(
    app: &AppState,
    scope: &TenantScope,
    channel: &ChannelId,
    dedup: &str,
    kind: AccountEventKind,
) -> Result<(), StoreError> {
    let at = app.clock.now();
    let stored = app
        .store
        .append(
            scope,
            vec![NewEvent {
                dedup_key: format!("channel:{channel}:{dedup}:{}", ids::random("ev")),
                received_at: at,
                body: EventBody::Account(AccountEvent {
                    channel_id: channel.clone(),
                    occurred_at: at,
                    kind,
                }),
            }],
        )
        .await?;
    app.store.sync().await?;
    app.hub.publish(
        scope,
        stored.into_iter().filter_map(|a| match a {
            crate::store::Appended::Stored(e) => Some(e),
            crate::store::Appended::Duplicate(_) => None,
        }),
    );
    Ok(())
}

/// What a disconnect did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disconnected {
    /// `ok`, `skipped` (no token or nothing to unsubscribe) or `failed <class>`.
    pub unsubscribe: String,
    /// It was already disconnected; nothing changed.
    pub already: bool,
}

/// Disconnects one channel of the tenant; `by` says who asked (`owner`, `operator`,
/// `meta_deauthorize`, `meta_data_deletion`). `None` when the tenant has no such channel.
///
/// # Errors
/// Storage failed (Meta's failures are recorded, not returned).
pub async fn disconnect(
    app: &AppState,
    scope: &TenantScope,
    channel: &ChannelId,
    by: &str,
) -> Result<Option<Disconnected>, StoreError> {
    let Some(record) = app
        .store
        .channels(scope)
        .await?
        .into_iter()
        .find(|c| c.id == *channel)
    else {
        return Ok(None);
    };
    if record.is_disconnected() {
        return Ok(Some(Disconnected {
            unsubscribe: "skipped".into(),
            already: true,
        }));
    }
    let unsubscribe = match app.outbox.token(scope, &record) {
        Err(_) => "skipped".to_owned(),
        Ok(token) => match app
            .outbox
            .graph()
            .unsubscribe(&record, token.expose())
            .await
        {
            Ok(true) => "ok".to_owned(),
            Ok(false) => "skipped".to_owned(),
            Err(e) => format!("failed {}", classify(&e).class.name()),
        },
    };
    let since: Millis = app.clock.now();
    let reason = format!("Disconnected ({by}); connect it again to use it.");
    let modified = app
        .store
        .modify_channel(
            scope,
            channel,
            Box::new(move |c| {
                // A concurrent disconnect got there first: one record of it is enough.
                if c.is_disconnected() {
                    return None;
                }
                let mut c = c.clone();
                c.sealed_token = None;
                c.token_expires_at = None;
                // Routing ids: cleared, so nothing routes to this channel any more.
                c.account_id = String::new();
                c.page_id = None;
                c.waba_id = None;
                // Cached identifiers of the account.
                c.username = None;
                c.app_user_id = None;
                c.profile_picture_url = None;
                c.followers_count = None;
                c.needs_reconnect = Some(Reconnect {
                    reason,
                    since,
                    disconnected: true,
                });
                Some(c)
            }),
        )
        .await?;
    if !modified.is_some_and(|m| m.changed) {
        return Ok(Some(Disconnected {
            unsubscribe,
            already: true,
        }));
    }
    record_change(
        app,
        scope,
        channel,
        "disconnected",
        format!("by={by} unsubscribe={unsubscribe}"),
    )
    .await?;
    // Queued replies of the channel now fail with the disconnected sentence.
    app.outbox.kick(scope.tenant());
    Ok(Some(Disconnected {
        unsubscribe,
        already: false,
    }))
}

/// Deletes a tenant for good; answers the deletion record it kept. `by` says who asked.
///
/// # Errors
/// Storage failed; a deletion cut short is finished by calling it again (every step
/// removes what is still there).
pub async fn delete_tenant(
    app: &AppState,
    scope: &TenantScope,
    record: &crate::store::TenantRecord,
    by: &str,
) -> Result<crate::store::TenantDeletion, StoreError> {
    let mut unsubscribed = Vec::new();
    for channel in app.store.channels(scope).await? {
        let outcome = match disconnect(app, scope, &channel.id, by).await? {
            Some(d) if d.already => "already disconnected".to_owned(),
            Some(d) => d.unsubscribe,
            None => "skipped".to_owned(),
        };
        tracing::info!(tenant = %scope.tenant(), channel = %channel.id, unsubscribe = %outcome, "tenant deletion: channel disconnected");
        unsubscribed.push((channel.id, outcome));
    }
    // The head after the disconnect records: the last thing the tenant's chain says.
    let (head_seq, head_hash) = app
        .store
        .chain_heads()
        .await?
        .into_iter()
        .find(|(t, _, _)| t == scope.tenant())
        .map_or((0, String::new()), |(_, seq, hash)| {
            (seq.0, hex::encode(hash))
        });
    let removed = app.store.delete_tenant(scope).await?;
    let deletion = crate::store::TenantDeletion {
        tenant: scope.tenant().clone(),
        partner: record.partner.clone(),
        name: record.name.clone(),
        deleted_at: app.clock.now(),
        head_seq,
        head_hash,
        unsubscribed,
        removed,
    };
    app.store.put_tenant_deletion(&deletion).await?;
    app.store.sync().await?;
    // After the sync: a desk told to erase its copy can never find the data again.
    app.hub.delete_tenant(scope.tenant());
    tell(
        app.store.as_ref(),
        Signal::TenantDeleted(scope.tenant().clone()),
    )
    .await;
    tracing::info!(
        tenant = %scope.tenant(),
        by,
        events = deletion.removed.events,
        keys = deletion.removed.keys,
        agents = deletion.removed.agents,
        channels = deletion.removed.channels,
        "tenant deleted"
    );
    Ok(deletion)
}
