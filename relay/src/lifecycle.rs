//! A channel's life after connecting: disconnecting it (owner, operator, Meta's deauthorize
//! and data-deletion callbacks) and the evidence record of every such change.
//!
//! Disconnecting asks Meta to stop sending the account's webhooks (best effort: a failure
//! is recorded, never fatal), then clears in one registry step the sealed token, the
//! webhook-routing ids (later webhooks for the account count as unknown-account and are
//! not stored) and the cached identifiers, and marks the channel disconnected. Threads stay
//! as the tenant's history. The outbox then fails the channel's sends with a sentence
//! saying it was disconnected.

use crate::http::AppState;
use crate::ids;
use crate::outbox::classify::classify;
use crate::principal::TenantScope;
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
