//! The `Principal` extractor: `Authorization: Bearer <token>` → operator, partner viewer or
//! tenant agent. Unknown tokens and missing headers are both 401, with no hint which.

use super::AppState;
use super::error::ApiError;
use crate::principal::{Principal, token_hash};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers)
            .ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer <token>`"))?;
        if app.config.operator_token.matches(token) {
            return Ok(Principal::Operator);
        }
        match app.store.agent_by_token_hash(&token_hash(token)).await? {
            Some(agent) => Ok(agent.principal()),
            None => Err(ApiError::unauthorized("unknown or revoked token")),
        }
    }
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}
