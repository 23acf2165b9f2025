//! `POST /v1/keys/rotate` (operator only): makes a new master key current while serving
//! and re-seals every tenant's channel tokens under it.
//!
//! The body is `{"key": "<base64 of 32 bytes>"}`; the answer names only key ids and counts,
//! never a key. The previous key stays on the running relay's keyring, so tokens not yet
//! re-sealed (or sealed by a racing refresh) keep opening; after a restart with the new key
//! as `RELAY_MASTER_KEY`, `RELAY_OLD_MASTER_KEYS` may stay empty once this answered
//! `failed: 0`.

use super::AppState;
use super::admin::ApiJson;
use super::error::ApiError;
use crate::principal::{Access, Principal};
use crate::vault::MasterKey;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateInput {
    key: String,
}

pub async fn rotate(
    State(app): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<RotateInput>,
) -> Result<Response, ApiError> {
    if !principal.is_operator() {
        return Err(ApiError::forbidden("operator only"));
    }
    let key = MasterKey::from_base64(&input.key)
        .map_err(|reason| ApiError::bad_request("invalid_field", format!("key {reason}")))?;
    let keys = app.outbox.keys().clone();
    let previous = keys.current_id();
    let current = keys.rotate(key);
    let (mut channels, mut resealed, mut failed) = (0u64, 0u64, 0u64);
    for (tenant, _) in app.store.heads().await? {
        let scope = principal.scope(&tenant, Access::Manage)?;
        for channel in app.store.channels(&scope).await? {
            if channel.sealed_token.is_none() {
                continue;
            }
            channels += 1;
            let ring = keys.clone();
            let tenant = tenant.clone();
            let outcome = std::sync::Arc::new(std::sync::Mutex::new(None));
            let seen = outcome.clone();
            // Re-sealed from the record as stored at that moment, so a refresh that just
            // wrote a new token is re-sealed, not overwritten.
            app.store
                .modify_channel(
                    &scope,
                    &channel.id,
                    Box::new(move |c| {
                        let sealed = c.sealed_token.as_deref()?;
                        let result = ring.reseal(&tenant, &c.id, sealed);
                        let new = match &result {
                            Ok(Some(new)) => Some(new.clone()),
                            _ => None,
                        };
                        // Some(true): re-sealed; Some(false): did not open; None: current.
                        *seen
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = match &result {
                            Ok(Some(_)) => Some(true),
                            Ok(None) => None,
                            Err(_) => Some(false),
                        };
                        let mut c = c.clone();
                        c.sealed_token = Some(new?);
                        Some(c)
                    }),
                )
                .await?;
            match *outcome
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
            {
                Some(true) => resealed += 1,
                Some(false) => {
                    failed += 1;
                    tracing::warn!(channel = %channel.id, "a sealed token did not open with any loaded key");
                }
                None => {}
            }
        }
    }
    app.store.sync().await?;
    tracing::info!(previous = %previous, current = %current, resealed, failed, "master key rotated");
    Ok(axum::Json(json!({
        "key_id": current, "previous_key_id": previous,
        "channels": channels, "resealed": resealed, "failed": failed,
    }))
    .into_response())
}
