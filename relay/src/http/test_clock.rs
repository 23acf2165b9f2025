//! `POST /_test/clock {"advance_ms": n}` (operator): moves the relay's clock forward, for
//! end-to-end tests that need links, states, windows or refreshes to come due without
//! sleeping. Answers 404, exactly like an unknown route, unless the relay was started with
//! `RELAY_TEST_CLOCK=1`.

use super::AppState;
use super::error::ApiError;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// The most one call may move the clock: a year.
const MAX_ADVANCE_MS: i64 = 366 * 24 * 3600 * 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    advance_ms: i64,
}

/// # Errors
/// 404 without the test clock; not the operator; a negative or huge step.
pub async fn advance(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let Some(clock) = app.test_clock.as_ref() else {
        return Err(ApiError::not_found("route"));
    };
    if !super::auth::bearer(&headers).is_some_and(|t| app.config.operator_token.matches(t)) {
        return Err(ApiError::unauthorized("the operator token is required"));
    }
    let input: Advance = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    if !(0..=MAX_ADVANCE_MS).contains(&input.advance_ms) {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("advance_ms must be 0 to {MAX_ADVANCE_MS}"),
        ));
    }
    let now = clock.advance(input.advance_ms);
    Ok(axum::Json(json!({"now": now.0})).into_response())
}
