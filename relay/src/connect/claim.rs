//! Claims: a connect that proved an account (Meta vouched for it in a login flow) while
//! another tenant holds the account's routes without proof. Neither side wins by itself:
//! the proven connect is kept, its token sealed, in a single-use record
//! (`links::mint_sealed`, purpose `claim`, seven days) whose secret the operator reads from
//! the conflict log line, and the operator confirms it with
//! `POST /v1/connect-claims/{claim}/confirm` (`relay admin claims confirm`). Confirming
//! disconnects the unproven holder (its history stays), then subscribes and saves the
//! account for the tenant that proved it, in that order, so no call that changes anything
//! at Meta happens while the routes point at the holder.

use super::links::{self, Purpose};
use super::save::{self, Connected, Holder, SaveError, Subscription};
use super::{Grant, Kind};
use crate::api::ApiError;
use crate::principal::{Access, Principal, TenantScope};
use crate::secret::Secret;
use crate::state::AppState;
use crate::store::{ChannelKind, StoreError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::Millis;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

/// How long the operator has to confirm a claim.
pub const CLAIM_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a claim keeps of a [`Connected`]: everything, the token only inside the sealed value.
#[derive(Serialize, Deserialize)]
struct Kept {
    whatsapp: bool,
    login: String,
    account_id: String,
    page_id: Option<String>,
    waba_id: Option<String>,
    username: Option<String>,
    app_user_id: Option<String>,
    profile_picture_url: Option<String>,
    followers_count: Option<i64>,
    token: String,
    token_expires_at: Option<i64>,
    subscription: Subscription,
}

fn flow_of(c: &Connected) -> Kind {
    match (c.kind, &c.subscription) {
        (ChannelKind::Whatsapp, _) => Kind::Whatsapp,
        (_, Subscription::Page(_)) => Kind::Facebook,
        _ => Kind::Instagram,
    }
}

/// Keeps `c` for the grant's tenant as a claim; answers the claim's secret.
///
/// # Errors
/// Storage failed.
pub async fn keep(app: &AppState, grant: &Grant, c: &Connected) -> Result<String, StoreError> {
    let kept = Kept {
        whatsapp: c.kind == ChannelKind::Whatsapp,
        login: c.login.to_owned(),
        account_id: c.account_id.clone(),
        page_id: c.page_id.clone(),
        waba_id: c.waba_id.clone(),
        username: c.username.clone(),
        app_user_id: c.app_user_id.clone(),
        profile_picture_url: c.profile_picture_url.clone(),
        followers_count: c.followers_count,
        token: c.token.expose().to_owned(),
        token_expires_at: c.token_expires_at.map(|m| m.0),
        subscription: c.subscription.clone(),
    };
    let value = serde_json::to_string(&kept)
        .map_err(|e| StoreError::Corrupt(format!("claim encoding: {e}")))?;
    let (secret, _) = links::mint_sealed(
        app,
        grant.tenant(),
        Purpose::Claim,
        flow_of(c),
        CLAIM_TTL,
        &Secret::new(value),
        None,
    )
    .await?;
    Ok(secret)
}

fn login_name(login: &str) -> &'static str {
    match login {
        "facebook" => "facebook",
        "whatsapp_embedded_signup" => "whatsapp_embedded_signup",
        _ => "instagram",
    }
}

fn restore(kept: Kept) -> Connected {
    Connected {
        kind: if kept.whatsapp {
            ChannelKind::Whatsapp
        } else {
            ChannelKind::Instagram
        },
        login: login_name(&kept.login),
        account_id: kept.account_id,
        page_id: kept.page_id,
        waba_id: kept.waba_id,
        username: kept.username,
        app_user_id: kept.app_user_id,
        profile_picture_url: kept.profile_picture_url,
        followers_count: kept.followers_count,
        token: Secret::new(kept.token),
        token_expires_at: kept.token_expires_at.map(Millis),
        subscription: kept.subscription,
    }
}

/// `POST /v1/connect-claims/{claim}/confirm` (operator) → `200 {tenant, channel,
/// moved_from}`: the unproven holder disconnected, the account subscribed and saved for the
/// tenant that proved it. The claim is spent either way.
///
/// # Errors
/// Not the operator; unknown, used or expired claim (404); a proven holder appeared since
/// (409); Meta refused the subscription (502); storage.
pub async fn confirm(
    State(app): State<AppState>,
    principal: Principal,
    Path(claim): Path<String>,
) -> Result<Response, ApiError> {
    if !principal.is_operator() {
        return Err(ApiError::forbidden("operator only"));
    }
    let kinds = [Kind::Instagram, Kind::Facebook, Kind::Whatsapp];
    let (grant, value) = match links::take_sealed(&app, Purpose::Claim, &claim, &kinds, None).await
    {
        Ok(v) => v,
        Err(links::Refusal::Store(e)) => return Err(e.into()),
        Err(_) => return Err(ApiError::not_found("claim")),
    };
    let kept: Kept = value
        .and_then(|v| serde_json::from_str(v.expose()).ok())
        .ok_or_else(|| {
            tracing::error!("claim: the sealed record holds no readable account");
            ApiError::internal()
        })?;
    let c = restore(kept);
    let tenant = grant.tenant().clone();
    let moved_from = match save::holder(&app, &tenant, &c).await? {
        Holder::Proven(h) => {
            save::report_conflict(&app, &tenant, &h, &c, "refused", None);
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "account_taken",
                format!(
                    "tenant {} has since proved this account; nothing was changed",
                    h.tenant
                ),
            ));
        }
        Holder::Unproven(h) => {
            let scope = principal.scope(&h.tenant, Access::Manage)?;
            crate::lifecycle::disconnect(&app, &scope, &h.id, "operator_confirmed_claim").await?;
            Some(h.tenant)
        }
        Holder::Free | Holder::Own(_) => None,
    };
    if let Err(e) = save::subscribe(&app, &c).await {
        tracing::warn!(error = %e, tenant = %tenant, "claim: Meta refused the subscription");
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "meta_refused",
            "Meta refused the webhook subscription; the owner must connect again",
        ));
    }
    let scope = TenantScope::for_connect(grant.tenant());
    let saved = match save::save(&app, &scope, c).await {
        Ok(s) => s,
        Err(SaveError::Store(e)) => return Err(e.into()),
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "account_taken",
                "another channel took the account meanwhile; nothing was changed",
            ));
        }
    };
    app.metrics
        .connect_conflicts
        .with_label_values(&["confirmed"])
        .inc();
    Ok(axum::Json(json!({
        "tenant": tenant, "channel": saved.record().id, "moved_from": moved_from,
    }))
    .into_response())
}
