//! Writing a connected account: the channel created or updated with its sealed token and
//! profile, then a `channel_connected` evidence record (an `Account` event of the tenant's
//! log, so desks and the evidence chain see it), made durable before the page says so.

use super::Grant;
use crate::http::AppState;
use crate::ids;
use crate::ingest::parse::RouteKey;
use crate::principal::TenantScope;
use crate::secret::Secret;
use crate::store::{ChannelKind, ChannelRecord, StoreError};
use protocol::{ChannelId, Millis};

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
}

/// Why nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Another tenant (or another channel of this one) has the account.
    #[error("the account is connected elsewhere")]
    Taken,
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

/// Creates or updates the channel for `c` on the grant's tenant.
///
/// # Errors
/// The account belongs to another tenant or channel; storage failed.
pub async fn save(app: &AppState, grant: &Grant, c: Connected) -> Result<Saved, SaveError> {
    let scope = TenantScope::for_connect(grant);
    let mut existing: Option<ChannelRecord> = None;
    for key in route_keys(&c) {
        if let Some(ch) = app.store.channel_by_route(&key).await? {
            if &ch.tenant != scope.tenant() || ch.kind != c.kind {
                return Err(SaveError::Taken);
            }
            match &existing {
                Some(e) if e.id != ch.id => return Err(SaveError::Taken),
                _ => existing = Some(ch),
            }
        }
    }
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
        app.store.update_channel(&scope, record.clone()).await
    } else {
        app.store.insert_channel(&scope, record.clone()).await
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
    crate::lifecycle::record_change(app, &scope, &id, "connected", detail).await?;
    // Sends that waited for a reconnection may go now.
    app.outbox.kick(scope.tenant());
    tracing::info!(tenant = %scope.tenant(), channel = %id, login = c.login, "channel connected");
    Ok(if existing.is_some() {
        Saved::Updated(record)
    } else {
        Saved::Created(record)
    })
}
