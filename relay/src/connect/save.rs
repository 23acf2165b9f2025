//! Writing a connected account, in the one order that cannot hand an account to the wrong
//! business: the routes it needs are checked against every tenant **before** any call to
//! Meta that changes state, then the account is subscribed to the webhook fields, then the
//! channel is created or updated with its sealed token and profile, and a
//! `channel_connected` evidence record (an `Account` event of the tenant's log, so desks and
//! the evidence chain see it) is made durable before the page says so.
//!
//! A route another tenant holds is a conflict, reported to the operator (a log line naming
//! both tenants, `relay_connect_conflicts_total`) and never resolved here. When that holder
//! never proved the account (a channel an owner created by raw id before such channels were
//! refused), the proven connect is kept as a **claim** (`claim.rs`) that the operator
//! confirms; otherwise it is refused.

use super::Grant;
use super::meta::{self, MetaError};
use crate::ids;
use crate::ingest::parse::RouteKey;
use crate::principal::TenantScope;
use crate::secret::Secret;
use crate::state::AppState;
use crate::store::{ChannelKind, ChannelRecord, StoreError};
use protocol::{ChannelId, Millis, TenantId};
use serde::{Deserialize, Serialize};

/// What Meta is asked to send webhooks for once the routes are known to be free.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subscription {
    /// Instagram Login: `me/subscribed_apps` on the Instagram Graph host.
    InstagramMe,
    /// Facebook Login: the Page's `subscribed_apps` on the Facebook Graph host.
    Page(String),
    /// Embedded Signup: the WhatsApp Business Account's `subscribed_apps`.
    Waba(String),
}

/// An account a flow resolved, ready to be stored.
pub struct Connected {
    pub kind: ChannelKind,
    /// `instagram`, `facebook` or `whatsapp_embedded_signup`.
    pub login: &'static str,
    /// IG id (webhook `entry.id`) or WhatsApp `phone_number_id`.
    pub account_id: String,
    pub page_id: Option<String>,
    pub waba_id: Option<String>,
    pub username: Option<String>,
    pub app_user_id: Option<String>,
    pub profile_picture_url: Option<String>,
    pub followers_count: Option<i64>,
    pub token: Secret,
    pub token_expires_at: Option<Millis>,
    pub subscription: Subscription,
}

/// Why nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Another tenant (or another channel of this one) holds the account, and proved it.
    #[error("the account is connected elsewhere")]
    Taken,
    /// A tenant holds the account without having proved it; the operator must confirm.
    #[error("the account waits for the operator's confirmation")]
    Claimed,
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether the channel is new.
#[derive(Debug)]
pub enum Saved {
    Created(ChannelRecord),
    Updated(ChannelRecord),
}

impl Saved {
    #[must_use]
    pub fn record(&self) -> &ChannelRecord {
        match self {
            Saved::Created(r) | Saved::Updated(r) => r,
        }
    }
}

fn route_keys(c: &Connected) -> Vec<RouteKey> {
    match c.kind {
        ChannelKind::Instagram => std::iter::once(&c.account_id)
            .chain(c.page_id.as_ref())
            .map(|id| RouteKey::Instagram(id.clone()))
            .collect(),
        ChannelKind::Whatsapp => vec![RouteKey::WhatsApp(c.account_id.clone())],
    }
}

/// Who holds the routes an account needs, as far as connecting is concerned.
#[derive(Debug)]
pub enum Holder {
    /// Nobody: a new channel.
    Free,
    /// This tenant's own channel of the same kind: it is updated.
    Own(ChannelRecord),
    /// Another tenant's (or another channel's) channel that Meta or the operator vouched for.
    Proven(ChannelRecord),
    /// Another tenant's channel made by raw id, with no proof of ownership.
    Unproven(ChannelRecord),
}

/// Where `c`'s routes stand for `tenant` (reads only).
///
/// # Errors
/// Storage failed.
pub async fn holder(
    app: &AppState,
    tenant: &TenantId,
    c: &Connected,
) -> Result<Holder, StoreError> {
    let mut own: Option<ChannelRecord> = None;
    for key in route_keys(c) {
        let Some(ch) = app.store.channel_by_route(&key).await? else {
            continue;
        };
        let foreign = &ch.tenant != tenant
            || ch.kind != c.kind
            || own.as_ref().is_some_and(|o| o.id != ch.id);
        if foreign {
            return Ok(if ch.is_proven() {
                Holder::Proven(ch)
            } else {
                Holder::Unproven(ch)
            });
        }
        own = Some(ch);
    }
    Ok(own.map_or(Holder::Free, Holder::Own))
}

/// Tells the operator that `tenant` proved an account `holder` holds; `outcome` is what
/// became of the connect (`refused` or `claimed`).
pub fn report_conflict(
    app: &AppState,
    tenant: &TenantId,
    holder: &ChannelRecord,
    c: &Connected,
    outcome: &str,
    claim: Option<&str>,
) {
    app.metrics
        .connect_conflicts
        .with_label_values(&[outcome])
        .inc();
    tracing::warn!(
        connecting_tenant = %tenant,
        holding_tenant = %holder.tenant,
        holding_channel = %holder.id,
        holder_proven = holder.is_proven(),
        account = %c.account_id,
        login = c.login,
        outcome,
        claim = claim.unwrap_or("-"),
        "connect conflict: the account is held by another channel (a claim is confirmed with `relay admin claims confirm <claim>`)"
    );
}

/// Finishes a flow for the grant's tenant: conflict check, subscription, save.
///
/// # Errors
/// The account is held elsewhere (refused, or kept as a claim for the operator); Meta
/// refused the subscription; storage failed. Nothing is written on any error.
pub async fn finish(app: &AppState, grant: &Grant, c: Connected) -> Result<Saved, SaveError> {
    let tenant = grant.tenant().clone();
    match holder(app, &tenant, &c).await? {
        Holder::Free | Holder::Own(_) => {}
        Holder::Proven(h) => {
            report_conflict(app, &tenant, &h, &c, "refused", None);
            return Err(SaveError::Taken);
        }
        Holder::Unproven(h) => {
            let claim = super::claim::keep(app, grant, &c).await?;
            report_conflict(app, &tenant, &h, &c, "claimed", Some(&claim));
            return Err(SaveError::Claimed);
        }
    }
    subscribe(app, &c).await?;
    save(app, &TenantScope::for_connect(grant.tenant()), c).await
}

/// Asks Meta to send the account's webhook fields to this app: the first call of a connect
/// that changes anything at Meta, made only once the routes are known to be free.
///
/// # Errors
/// Meta refused or did not answer.
pub async fn subscribe(app: &AppState, c: &Connected) -> Result<(), MetaError> {
    let cfg = &app.config;
    let http = meta::client()?;
    let (base, object, fields) = match &c.subscription {
        Subscription::InstagramMe => (&cfg.instagram_graph_url, "me", Some(meta::INSTAGRAM_FIELDS)),
        Subscription::Page(page) => (&cfg.meta_graph_url, page.as_str(), Some(meta::PAGE_FIELDS)),
        Subscription::Waba(waba) => (&cfg.meta_graph_url, waba.as_str(), None),
    };
    meta::subscribe(&http, base, object, fields, &c.token).await
}

/// Creates or updates the channel for `c` on `scope`'s tenant (the routes re-checked under
/// the registry's lock, so a concurrent connect of the same account loses cleanly).
///
/// # Errors
/// The account belongs to another tenant or channel; storage failed.
pub async fn save(app: &AppState, scope: &TenantScope, c: Connected) -> Result<Saved, SaveError> {
    let existing = match holder(app, scope.tenant(), &c).await? {
        Holder::Free => None,
        Holder::Own(ch) => Some(ch),
        Holder::Proven(_) | Holder::Unproven(_) => return Err(SaveError::Taken),
    };
    let now = app.clock.now();
    let id = existing
        .as_ref()
        .map_or_else(|| ChannelId(ids::random("ch")), |e| e.id.clone());
    let sealed = app
        .outbox
        .keys()
        .seal(scope.tenant(), &id, c.token.expose());
    let record = ChannelRecord {
        id: id.clone(),
        tenant: scope.tenant().clone(),
        kind: c.kind,
        account_id: c.account_id.clone(),
        page_id: c.page_id,
        username: c.username,
        waba_id: c.waba_id,
        sealed_token: Some(sealed),
        created_at: existing.as_ref().map_or(now, |e| e.created_at),
        token_expires_at: c.token_expires_at,
        login: Some(c.login.to_owned()),
        app_user_id: c.app_user_id.clone(),
        profile_picture_url: c.profile_picture_url,
        followers_count: c.followers_count,
        needs_reconnect: None,
    };
    let result = if existing.is_some() {
        app.store.update_channel(scope, record.clone()).await
    } else {
        app.store.insert_channel(scope, record.clone()).await
    };
    match result {
        Ok(()) => {}
        // Someone connected the same account between our lookup and our write.
        Err(StoreError::Conflict(_)) => return Err(SaveError::Taken),
        Err(e) => return Err(e.into()),
    }
    let detail = format!(
        "login={} account={} updated={} token_expires_at={}",
        c.login,
        c.account_id,
        existing.is_some(),
        c.token_expires_at
            .map_or("-".to_owned(), |m| m.0.to_string()),
    );
    crate::lifecycle::record_change(app, scope, &id, "connected", detail).await?;
    // Sends that waited for a reconnection may go now.
    app.outbox.kick(scope.tenant());
    tracing::info!(tenant = %scope.tenant(), channel = %id, login = c.login, "channel connected");
    Ok(if existing.is_some() {
        Saved::Updated(record)
    } else {
        Saved::Created(record)
    })
}
