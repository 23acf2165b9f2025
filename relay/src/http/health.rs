//! Liveness and readiness (open: they say nothing about tenants), and the Prometheus scrape
//! (operator or metrics token).

use super::AppState;
use super::error::ApiError;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::json;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when storage answers; keys are validated before the listener opens.
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    let probe = app
        .store
        .partner(&protocol::PartnerId::new("readyz-probe"))
        .await;
    match probe {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(json!({"storage": "ok", "keys": "loaded"})),
        ),
        Err(e) => {
            tracing::error!(error = %e, "readiness probe failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"storage": "failing", "keys": "loaded"})),
            )
        }
    }
}

/// `GET /metrics`: the operator's token or `RELAY_METRICS_TOKEN`, as a bearer header. The
/// figures name no tenant, but volumes and conflicts are still the operator's business.
///
/// # Errors
/// 401 in the JSON error shape without a token that may read them.
pub async fn metrics(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = super::auth::bearer(&headers).is_some_and(|t| {
        app.config.operator_token.matches(t)
            || app
                .config
                .metrics_token
                .as_ref()
                .is_some_and(|m| m.matches(t))
    });
    if !allowed {
        return Err(ApiError::unauthorized(
            "/metrics needs the operator token or RELAY_METRICS_TOKEN as a bearer token",
        ));
    }
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    ))
}
