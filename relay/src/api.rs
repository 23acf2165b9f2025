//! What every API route shares, below the routes and the flows that serve some of them
//! (`connect`): the one error type, `{"error": {"code", "message"}}` with a fitting status,
//! the JSON extractor whose rejections use it, and the tenant scope a tenant route starts
//! with. Server-side failures answer a generic message and are logged once here; their
//! details (which may name paths or backends) never reach the client.

use crate::principal::{Access, Denied, Principal, TenantScope};
use crate::state::AppState;
use crate::store::StoreError;
use axum::Json;
use axum::extract::FromRequest;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::TenantId;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the relay log",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} already exists"),
            ),
            other => {
                tracing::error!(error = %other, "storage failure");
                ApiError::internal()
            }
        }
    }
}

impl From<Denied> for ApiError {
    fn from(d: Denied) -> Self {
        match d {
            // Another tenant's resources are answered as absent, never as forbidden.
            Denied::OtherTenant => ApiError::not_found("tenant"),
            Denied::Role => ApiError::forbidden(d.to_string()),
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::new(r.status(), "invalid_json", r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

/// Largest plain-text rejection body carried over into the JSON message.
const MAX_REJECTION_TEXT: usize = 300;

/// Puts every plain-text error into the JSON error shape: axum's own rejections (a body
/// over the limit before a handler runs, an unreadable query or form) answer `text/plain`,
/// and no client should need a second parser for them. HTML pages (the connect flows)
/// and JSON answers pass through.
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let plain = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return resp;
    }
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        s if s.is_server_error() => "internal",
        _ => "invalid_request",
    };
    let bytes = axum::body::to_bytes(resp.into_body(), MAX_REJECTION_TEXT * 4)
        .await
        .unwrap_or_default();
    let text: String = String::from_utf8_lossy(&bytes)
        .chars()
        .take(MAX_REJECTION_TEXT)
        .collect();
    let message = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    ApiError::new(status, code, message).into_response()
}

/// `Json` whose rejections use our error shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Scope for a tenant that must also exist.
///
/// # Errors
/// The principal may not act there (as `Denied` answers), or the tenant does not exist.
pub async fn tenant_scope(
    app: &AppState,
    principal: &Principal,
    tenant: &str,
    access: Access,
) -> Result<TenantScope, ApiError> {
    let id = TenantId::new(tenant);
    let scope = principal.scope(&id, access)?;
    if app.store.tenant(&id).await?.is_none() {
        return Err(ApiError::not_found("tenant"));
    }
    Ok(scope)
}
