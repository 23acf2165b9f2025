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
//! That record is written first and advanced step by step, so a deletion cut short by a
//! crash is finished at the next start (`resume_deletions`); it also keeps the hashes of
//! the tenant's tokens, so a desk offline at the time learns of the deletion when it next
//! connects (`deleted_by_token`) and erases its copy too.

use crate::crash_point;
use crate::ids;
use crate::meta_errors::classify;
use crate::principal::TenantScope;
use crate::state::AppState;
use crate::store::cluster::{Signal, tell};
use crate::store::{DeletionStage, NewEvent, Reconnect, StoreError, TenantDeletion, TenantRemoved};
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
/// The record is written (and made durable) first, then advanced stage by stage
/// (`DeletionStage`), so a relay that stops anywhere in between finishes the deletion at
/// its next start (`resume_deletions`); every step removes only what is still there.
///
/// # Errors
/// Storage failed; the record stays unfinished and the next start finishes it.
pub async fn delete_tenant(
    app: &AppState,
    scope: &TenantScope,
    record: &crate::store::TenantRecord,
    by: &str,
) -> Result<TenantDeletion, StoreError> {
    let token_hashes = app
        .store
        .agents(scope)
        .await?
        .into_iter()
        .map(|(agent, _)| agent.token_hash)
        .collect();
    let deletion = TenantDeletion {
        tenant: scope.tenant().clone(),
        partner: record.partner.clone(),
        name: record.name.clone(),
        deleted_at: app.clock.now(),
        head_seq: 0,
        head_hash: String::new(),
        unsubscribed: Vec::new(),
        removed: TenantRemoved::default(),
        stage: DeletionStage::Started,
        token_hashes,
        resumed: 0,
    };
    app.store.put_tenant_deletion(&deletion).await?;
    app.store.sync().await?;
    crash_point::reached("tenant-deletion-recorded");
    finish_deletion(app, scope, deletion, by).await
}

/// Takes a deletion from the stage its record names to the end.
async fn finish_deletion(
    app: &AppState,
    scope: &TenantScope,
    mut deletion: TenantDeletion,
    by: &str,
) -> Result<TenantDeletion, StoreError> {
    if deletion.stage == DeletionStage::Started {
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
        // Read before any data is removed, so a resumed removal cannot change it.
        let (head_seq, head_hash) = app
            .store
            .chain_heads()
            .await?
            .into_iter()
            .find(|(t, _, _)| t == scope.tenant())
            .map_or((0, String::new()), |(_, seq, hash)| {
                (seq.0, hex::encode(hash))
            });
        deletion.head_seq = head_seq;
        deletion.head_hash = head_hash;
        deletion.unsubscribed = unsubscribed;
        deletion.stage = DeletionStage::Removing;
        app.store.put_tenant_deletion(&deletion).await?;
        app.store.sync().await?;
        crash_point::reached("tenant-deletion-unsubscribed");
    }
    if deletion.stage == DeletionStage::Removing {
        let removed = app.store.delete_tenant(scope).await?;
        deletion.removed.add(&removed);
        deletion.stage = DeletionStage::Finished;
        app.store.put_tenant_deletion(&deletion).await?;
        app.store.sync().await?;
    }
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
        resumed = deletion.resumed,
        "tenant deleted"
    );
    Ok(deletion)
}

/// Finishes every tenant deletion a stopped relay left unfinished (at start, before the
/// relay serves; see `Relay::serve`). Answers how many it finished; one that fails again
/// is logged and left for the next start.
///
/// # Errors
/// The deletion records cannot be read.
pub async fn resume_deletions(app: &AppState) -> Result<usize, StoreError> {
    let mut finished = 0;
    for mut deletion in app.store.tenant_deletions().await? {
        if deletion.stage == DeletionStage::Finished {
            continue;
        }
        deletion.resumed += 1;
        let scope = TenantScope::for_deletion(&deletion.tenant);
        tracing::warn!(tenant = %deletion.tenant, stage = ?deletion.stage, "finishing a tenant deletion cut short");
        match finish_deletion(app, &scope, deletion, "operator").await {
            Ok(_) => finished += 1,
            Err(e) => {
                tracing::error!(error = %e, "tenant deletion not finished; tried again at the next start")
            }
        }
    }
    Ok(finished)
}

/// The tenant whose deletion destroyed the token with this hash, if any: a desk offline
/// at the deletion is told so (and erases its copy) instead of hearing "wrong token".
///
/// # Errors
/// Storage failed.
pub async fn deleted_by_token(
    app: &AppState,
    token_hash: &str,
) -> Result<Option<TenantDeletion>, StoreError> {
    Ok(app
        .store
        .tenant_deletions()
        .await?
        .into_iter()
        .find(|d| d.token_hashes.iter().any(|h| h == token_hash)))
}
