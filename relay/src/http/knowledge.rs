//! `PUT|GET /v1/tenants/{t}/knowledge`: the tenant's knowledge file (catalog, policies,
//! persona, link rules; format in `crate::knowledge`). A PUT is validated whole before
//! anything is stored, and a refusal names where in the file the problem is.

use super::AppState;
use super::admin::tenant_scope;
use super::error::ApiError;
use crate::knowledge::Knowledge;
use crate::principal::{Access, Principal};
use crate::store::cluster::{Signal, tell};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Largest knowledge file accepted (a catalog of a few thousand items fits).
pub const MAX_KNOWLEDGE_BYTES: usize = 2 * 1024 * 1024;

pub async fn put_knowledge(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    if body.len() > MAX_KNOWLEDGE_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a knowledge file may be at most {MAX_KNOWLEDGE_BYTES} bytes"),
        ));
    }
    let text = String::from_utf8(Vec::from(body))
        .map_err(|_| ApiError::bad_request("invalid_knowledge", "the file is not UTF-8 text"))?;
    // A file near the size limit takes tens of milliseconds to parse and validate, so it is
    // done on the blocking pool, never on an async worker.
    let (text, loaded) = tokio::task::spawn_blocking(move || {
        let loaded = Knowledge::from_toml(&text);
        (text, loaded)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "knowledge validation failed");
        ApiError::internal()
    })?;
    let knowledge =
        loaded.map_err(|e| ApiError::bad_request("invalid_knowledge", e.to_string()))?;
    app.store.put_knowledge(&scope, &text).await?;
    app.store.sync().await?;
    app.drafting.forget(scope.tenant());
    tell(
        app.store.as_ref(),
        Signal::Knowledge(scope.tenant().clone()),
    )
    .await;
    Ok(axum::Json(json!({
        "business": knowledge.business.name,
        "items": knowledge.items.len(),
        "policies": knowledge.policies.len(),
    }))
    .into_response())
}

pub async fn get_knowledge(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Read).await?;
    match app.store.knowledge(&scope).await? {
        Some(text) => Ok(([(header::CONTENT_TYPE, "application/toml")], text).into_response()),
        None => Err(ApiError::not_found("knowledge")),
    }
}
