//! Liveness, readiness and the Prometheus scrape.

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
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

pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}
