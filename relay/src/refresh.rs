//! The token refresher: every `RELAY_REFRESH_INTERVAL_SECS` (first round at start) it looks
//! at every tenant's channels and handles tokens that expire within [`REFRESH_WITHIN_MS`].
//!
//! - Instagram-Login tokens (an Instagram channel without a page) are refreshed through
//!   `GET {INSTAGRAM_GRAPH_URL}/refresh_access_token` (meta-platform.md §12.1 step 5): the
//!   new token is sealed under the keyring's current key and its expiry recorded.
//! - Facebook Page tokens (from a long-lived user token) and WhatsApp system-user tokens
//!   do not expire, so they normally have no expiry; one that has an expiry cannot be
//!   refreshed by the relay and is marked as needing a reconnection when it is close.
//! - A refresh Meta refuses marks the channel as needing a reconnection, with a reason.
//!   A refresh that failed for now (no answer, a 5xx, throttling) is only logged: the next
//!   round tries again, since the token keeps working until it expires.
//!
//! Every other outcome is an evidence record (`crate::lifecycle::record_change`). The token is
//! opened through the outbox (`Outbox::token`), the one place tokens become plaintext.

use crate::lifecycle::record_change;
use crate::meta_errors::classify;
use crate::principal::{Access, Principal, TenantScope};
use crate::state::AppState;
use crate::store::{ChannelKind, ChannelRecord, Reconnect, StoreError};
use protocol::Millis;

/// Tokens that expire within this long are refreshed (DESIGN.md: 7 days).
pub const REFRESH_WITHIN_MS: i64 = 7 * Millis::DAY;

/// Starts the refresher; it runs until the relay stops. Rounds are spaced in relay time, so
/// a test clock moved forward brings the next one at once.
pub fn spawn(app: AppState) {
    let every = i64::try_from(app.config.refresh_interval.as_millis()).unwrap_or(i64::MAX);
    let stop = app.shutdown.clone();
    stop.clone().spawn(async move {
        loop {
            // Relays sharing a database refresh by turns: one holds the `refresh` lease.
            if crate::store::cluster::has_turn(&app.leases, "refresh", every).await
                && let Err(e) = round(&app).await
            {
                tracing::warn!(error = %e, "token refresh round failed");
            }
            if stop.unless_stopping(app.clock.sleep(every)).await.is_none() {
                return;
            }
        }
    });
}

/// One pass over every tenant's channels.
///
/// # Errors
/// Storage failed.
pub async fn round(app: &AppState) -> Result<(), StoreError> {
    for (tenant, _) in app.store.heads().await? {
        let Ok(scope) = Principal::Operator.scope(&tenant, Access::Manage) else {
            continue;
        };
        let now = app.clock.now();
        for channel in app.store.channels(&scope).await? {
            let due = channel.needs_reconnect.is_none()
                && channel.sealed_token.is_some()
                && channel
                    .token_expires_at
                    .is_some_and(|at| now.until(at) <= REFRESH_WITHIN_MS);
            if due {
                one(app, &scope, &channel).await?;
            }
        }
    }
    Ok(())
}

/// Instagram Login: an Instagram channel addressed without a page.
fn refreshable(channel: &ChannelRecord) -> bool {
    channel.kind == ChannelKind::Instagram
        && channel.page_id.is_none()
        && channel.login.as_deref() != Some("facebook")
}

async fn one(
    app: &AppState,
    scope: &TenantScope,
    channel: &ChannelRecord,
) -> Result<(), StoreError> {
    if !refreshable(channel) {
        let reason = "The access token expires soon and Meta offers no refresh for it: \
                      connect the account again."
            .to_owned();
        return mark(
            app,
            scope,
            channel,
            reason,
            "expiring",
            "refreshable=false".into(),
        )
        .await;
    }
    let token = match app.outbox.token(scope, channel) {
        Ok(t) => t,
        Err(e) => {
            let reason = format!("The access token could not be refreshed ({e}).");
            return mark(
                app,
                scope,
                channel,
                reason,
                "refresh_failed",
                "class=vault".into(),
            )
            .await;
        }
    };
    match app
        .outbox
        .graph()
        .refresh_instagram_token(token.expose())
        .await
    {
        Ok((new, expires_in)) => {
            let now = app.clock.now();
            let expires_at = now.plus(expires_in.saturating_mul(Millis::SECOND));
            let keys = app.outbox.keys().clone();
            let tenant = scope.tenant().clone();
            let changed = app
                .store
                .modify_channel(
                    scope,
                    &channel.id,
                    Box::new(move |c| {
                        // Only the token this refresh started from is replaced: a reconnect
                        // or disconnect meanwhile wins. Compared opened, not sealed: a key
                        // rotation meanwhile re-seals the same token under another key.
                        let same = c
                            .sealed_token
                            .as_deref()
                            .and_then(|s| keys.open(&tenant, &c.id, s).ok())
                            .is_some_and(|t| token.matches(&t));
                        if !same || c.is_disconnected() {
                            return None;
                        }
                        let mut c = c.clone();
                        c.sealed_token = Some(keys.seal(&tenant, &c.id, new.expose()));
                        c.token_expires_at = Some(expires_at);
                        c.needs_reconnect = None;
                        Some(c)
                    }),
                )
                .await?;
            // Unchanged when a reconnect, disconnect or refresh got there first; `record_change`
            // makes the new token durable with its evidence record.
            if changed.is_some_and(|m| m.changed) {
                tracing::info!(channel = %channel.id, "access token refreshed");
                record_change(
                    app,
                    scope,
                    &channel.id,
                    "token_refreshed",
                    format!("expires_at={}", expires_at.0),
                )
                .await?;
            }
            Ok(())
        }
        Err(e) => {
            let f = classify(&e);
            if f.class.retried() {
                // No answer, a 5xx or throttling says nothing about the token: the next
                // round tries again (the token stays usable until it expires).
                tracing::warn!(
                    channel = %channel.id,
                    class = f.class.name(),
                    "token refresh failed for now; the next round tries again"
                );
                return Ok(());
            }
            let reason = format!(
                "Meta refused to refresh the access token ({}): connect the account again.",
                f.class.name()
            );
            mark(
                app,
                scope,
                channel,
                reason,
                "refresh_failed",
                format!("class={} code={:?}", f.class.name(), f.code),
            )
            .await
        }
    }
}

/// Marks the channel as needing a reconnection and records why.
async fn mark(
    app: &AppState,
    scope: &TenantScope,
    channel: &ChannelRecord,
    reason: String,
    change: &str,
    detail: String,
) -> Result<(), StoreError> {
    let since = app.clock.now();
    let marked = app
        .store
        .modify_channel(
            scope,
            &channel.id,
            Box::new(move |c| {
                if c.needs_reconnect.is_some() {
                    return None;
                }
                let mut c = c.clone();
                c.needs_reconnect = Some(Reconnect {
                    reason,
                    since,
                    disconnected: false,
                });
                Some(c)
            }),
        )
        .await?;
    // Already marked (or gone) meanwhile: nothing changed, so no evidence record.
    if !marked.is_some_and(|m| m.changed) {
        return Ok(());
    }
    tracing::warn!(channel = %channel.id, change, "channel needs a reconnection");
    record_change(app, scope, &channel.id, change, detail).await
}
