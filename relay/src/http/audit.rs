//! `GET /v1/tenants/{t}/audit/export`: a page of the tenant's events with the audit records
//! stored with them, exactly as stored, so `relay admin audit export` can write them to a
//! file that `relay audit verify-file` checks with no relay running. Verifying in place is
//! `GET /v1/tenants/{t}/audit/verify` (`admin::verify_audit`).

use super::AppState;
use super::admin::tenant_scope;
use super::error::ApiError;
use crate::principal::{Access, Principal};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use protocol::Seq;
use serde::Deserialize;
use serde_json::json;

/// Entries per page: records are small, events at most a webhook item each.
const MAX_PAGE: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

/// One page: `{"tenant", "head", "entries": [{"event", "audit"}…]}`, events after `after`.
pub async fn export(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    let limit = q.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    // The head is read first, so a page never claims less than it holds.
    let head = app.store.head(&scope).await?;
    let entries = app
        .store
        .audit_entries(&scope, Seq(q.after.unwrap_or(0)), limit)
        .await?;
    Ok(axum::Json(json!({
        "tenant": scope.tenant(),
        "head": head.0,
        "entries": entries,
    }))
    .into_response())
}
