//! Admin calls that read or change a channel's settings at Meta, through the channel's own
//! access token: the WhatsApp templates the desk may send outside the 24 h window, and the
//! ice breakers an Instagram account shows before a conversation starts.
//!
//! Meta's failures are answered as 502 with the outbox's sentence for their class; tokens
//! and Meta's raw error texts never reach the answer.

use super::AppState;
use super::admin::ApiJson;
use super::admin::tenant_scope;
use super::error::ApiError;
use crate::meta_errors::{CallFailure, classify};
use crate::principal::{Access, Principal};
use crate::store::{ChannelKind, ChannelRecord};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

/// Ice breakers Meta allows per account.
pub const MAX_ICE_BREAKERS: usize = 4;

/// The tenant's channel `channel` (of `kind`, when given) and its opened access token.
pub(super) async fn channel_and_token(
    app: &AppState,
    principal: &Principal,
    tenant: &str,
    channel: &str,
    access: Access,
    kind: Option<ChannelKind>,
) -> Result<(ChannelRecord, String), ApiError> {
    let scope = tenant_scope(app, principal, tenant, access).await?;
    let record = app
        .store
        .channels(&scope)
        .await?
        .into_iter()
        .find(|c| c.id.as_str() == channel)
        .ok_or_else(|| ApiError::not_found("channel"))?;
    if let Some(kind) = kind
        && record.kind != kind
    {
        let wanted = match kind {
            ChannelKind::Instagram => "an Instagram",
            ChannelKind::Whatsapp => "a WhatsApp",
        };
        return Err(ApiError::bad_request(
            "wrong_channel_kind",
            format!("this call needs {wanted} channel"),
        ));
    }
    // Opened through the outbox, the one place tokens become plaintext.
    let token = app.outbox.token(&scope, &record).map_err(|_| {
        ApiError::new(
            StatusCode::CONFLICT,
            "not_connected",
            "the channel has no usable access token; reconnect it",
        )
    })?;
    Ok((record, token.expose().to_owned()))
}

pub(super) fn meta_failed(failure: &CallFailure) -> ApiError {
    if let CallFailure::Answered {
        status: 409,
        error: None,
    } = failure
    {
        return ApiError::new(
            StatusCode::CONFLICT,
            "no_waba",
            "the WhatsApp channel has no waba_id; reconnect it through Embedded Signup",
        );
    }
    let f = classify(failure);
    ApiError::new(StatusCode::BAD_GATEWAY, "meta_error", f.message)
}

pub async fn list_templates(
    State(app): State<AppState>,
    principal: Principal,
    Path((tenant, channel)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (record, token) = channel_and_token(
        &app,
        &principal,
        &tenant,
        &channel,
        Access::Read,
        Some(ChannelKind::Whatsapp),
    )
    .await?;
    let templates = app
        .outbox
        .graph()
        .templates(&record, &token)
        .await
        .map_err(|e| meta_failed(&e))?;
    let templates: Vec<Value> = templates
        .iter()
        .map(|t| {
            json!({
                "name": t["name"], "language": t["language"], "status": t["status"],
                "category": t["category"], "components": t["components"],
                "sendable": t["status"] == "APPROVED",
            })
        })
        .collect();
    Ok(axum::Json(json!({ "templates": templates })).into_response())
}

pub async fn get_ice_breakers(
    State(app): State<AppState>,
    principal: Principal,
    Path((tenant, channel)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (record, token) = channel_and_token(
        &app,
        &principal,
        &tenant,
        &channel,
        Access::Read,
        Some(ChannelKind::Instagram),
    )
    .await?;
    let list = app
        .outbox
        .graph()
        .ice_breakers(&record, &token)
        .await
        .map_err(|e| meta_failed(&e))?;
    Ok(axum::Json(json!({ "ice_breakers": list })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceBreakers {
    ice_breakers: Vec<IceBreaker>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceBreaker {
    question: String,
    payload: String,
}

pub async fn put_ice_breakers(
    State(app): State<AppState>,
    principal: Principal,
    Path((tenant, channel)): Path<(String, String)>,
    ApiJson(input): ApiJson<IceBreakers>,
) -> Result<Response, ApiError> {
    let (record, token) = channel_and_token(
        &app,
        &principal,
        &tenant,
        &channel,
        Access::Manage,
        Some(ChannelKind::Instagram),
    )
    .await?;
    if input.ice_breakers.is_empty() || input.ice_breakers.len() > MAX_ICE_BREAKERS {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("give 1 to {MAX_ICE_BREAKERS} ice breakers"),
        ));
    }
    let mut list = Vec::new();
    for ib in &input.ice_breakers {
        let question = ib.question.trim();
        let payload = ib.payload.trim();
        if question.is_empty() || payload.is_empty() || question.chars().count() > 80 {
            return Err(ApiError::bad_request(
                "invalid_field",
                "each ice breaker needs a question (up to 80 characters) and a payload",
            ));
        }
        list.push(json!({"question": question, "payload": payload}));
    }
    app.outbox
        .graph()
        .set_ice_breakers(&record, &token, &list)
        .await
        .map_err(|e| meta_failed(&e))?;
    Ok(axum::Json(json!({ "ice_breakers": list })).into_response())
}
