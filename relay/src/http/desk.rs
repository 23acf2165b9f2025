//! `GET /v1/desk`: authenticates the agent and negotiates the subprotocol *before* the
//! upgrade, so a wrong token is a plain 401 and an unknown subprotocol a plain 400, and
//! only a tenant agent ever reaches a session. The token of a deleted tenant's person is a
//! 410 `tenant_deleted`, so a desk that was offline at the deletion erases its copy.

pub mod session;

use super::AppState;
use super::client::ClientAddr;
use super::error::ApiError;
use crate::principal::{Access, Principal, token_hash};
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use session::{Codec, Session};

pub async fn upgrade(
    State(app): State<AppState>,
    principal: Result<Principal, ApiError>,
    client: ClientAddr,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let principal = match principal {
        Ok(principal) => principal,
        Err(refused) => return refused_token(&app, &headers, refused).await,
    };
    let Principal::TenantAgent {
        tenant,
        agent,
        role,
    } = &principal
    else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the desk needs a tenant agent's token",
        )
        .into_response();
    };
    let codec = match negotiate(&headers) {
        Ok(codec) => codec,
        Err(error) => return error.into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return ApiError::bad_request("not_a_websocket", rejection.body_text()).into_response();
        }
    };
    let scope = match principal.scope(tenant, Access::Read) {
        Ok(scope) => scope,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let limits = app.config.desk;
    let session = Session {
        app,
        scope,
        agent: agent.clone(),
        role: *role,
        codec,
        token_hash: token_hash(super::auth::bearer(&headers).unwrap_or_default()),
        client: client.to_string(),
    };
    let ws = ws
        .max_message_size(limits.max_frame_bytes)
        .max_frame_size(limits.max_frame_bytes)
        // tungstenite's default 128 KiB read buffer is zero-filled and so stays resident per
        // desk; desks send small frames, and the buffer still grows for a large one.
        .read_buffer_size(16 * 1024);
    let ws = if headers.contains_key("sec-websocket-protocol") {
        ws.protocols([codec.name()])
    } else {
        ws
    };
    // The session counts as a task of the shutdown from here, so the relay waits for its
    // going-away close before it exits.
    let held = session.app.shutdown.hold();
    ws.on_upgrade(move |socket| async move {
        session.run(socket).await;
        drop(held);
    })
}

/// A refused token: 410 `tenant_deleted` when it belonged to a deleted tenant (a desk that
/// was offline at the deletion then erases its copy, as a connected one does on close code
/// `TENANT_DELETED`), otherwise the refusal as it was.
async fn refused_token(app: &AppState, headers: &HeaderMap, refused: ApiError) -> Response {
    let Some(token) =
        super::auth::bearer(headers).filter(|_| refused.status == StatusCode::UNAUTHORIZED)
    else {
        return refused.into_response();
    };
    match crate::lifecycle::deleted_by_token(app, &token_hash(token)).await {
        Ok(Some(_)) => ApiError::new(
            StatusCode::GONE,
            "tenant_deleted",
            "this business was deleted from the relay",
        )
        .into_response(),
        Ok(None) => refused.into_response(),
        // The refusal stands: a desk must not be told to retry a token that is wrong.
        Err(e) => {
            tracing::warn!(error = %e, "tenant deletion records not read for a refused desk token");
            refused.into_response()
        }
    }
}

/// The first subprotocol the desk offers that the relay speaks; bincode when none is offered.
fn negotiate(headers: &HeaderMap) -> Result<Codec, ApiError> {
    let offered: Vec<&str> = headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if offered.is_empty() {
        return Ok(Codec::Binary);
    }
    offered
        .iter()
        .find_map(|name| Codec::from_name(name))
        .ok_or_else(|| {
            ApiError::bad_request(
                "unsupported_subprotocol",
                format!(
                    "offer {} or {}",
                    protocol::frame::SUBPROTOCOL_BINARY,
                    protocol::frame::SUBPROTOCOL_JSON
                ),
            )
        })
}
