//! `DELETE /v1/tenants/{tenant}/channels/{channel}` (operator, owner): disconnects a channel
//! (`crate::lifecycle::disconnect`); history stays. Agents get 403, other tenants 404.

use super::AppState;
use super::admin::tenant_scope;
use super::error::ApiError;
use crate::lifecycle;
use crate::principal::{Access, Principal};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use protocol::ChannelId;
use serde_json::json;

pub async fn disconnect_channel(
    State(app): State<AppState>,
    principal: Principal,
    Path((tenant, channel)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    let by = if principal.is_operator() {
        "operator"
    } else {
        "owner"
    };
    let channel = ChannelId(channel);
    let Some(done) = lifecycle::disconnect(&app, &scope, &channel, by).await? else {
        return Err(ApiError::not_found("channel"));
    };
    Ok(axum::Json(json!({
        "id": channel, "disconnected": true, "already": done.already,
        "unsubscribe": done.unsubscribe,
    }))
    .into_response())
}
