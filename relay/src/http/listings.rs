//! What the relay holds, for the people who run it: partners and their tenants (operator),
//! a tenant's people (operator, owner). Names, ids, roles and dates only: never a token, a
//! token hash or a tenant's contents.

use super::AppState;
use super::admin::{require_operator, tenant_scope};
use super::error::ApiError;
use crate::principal::{Access, Principal};
use crate::store::AgentKind;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use protocol::PartnerId;
use serde_json::json;

/// `GET /v1/partners` (operator) → `{"partners": [{id, name, brand, created_at, tenants}]}`.
///
/// # Errors
/// Not the operator; storage.
pub async fn partners(
    State(app): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    require_operator(&principal)?;
    let mut out = Vec::new();
    for p in app.store.partners().await? {
        let tenants = app.store.tenants_of(&p.id).await?.len();
        out.push(json!({
            "id": p.id, "name": p.name, "brand": p.brand, "created_at": p.created_at.0,
            "tenants": tenants,
        }));
    }
    Ok(axum::Json(json!({ "partners": out })).into_response())
}

/// `GET /v1/partners/{partner}/tenants` (operator) → `{"tenants": [{id, name, created_at}]}`.
///
/// # Errors
/// Not the operator; unknown partner; storage.
pub async fn tenants(
    State(app): State<AppState>,
    principal: Principal,
    Path(partner): Path<String>,
) -> Result<Response, ApiError> {
    require_operator(&principal)?;
    let partner = PartnerId::new(partner);
    if app.store.partner(&partner).await?.is_none() {
        return Err(ApiError::not_found("partner"));
    }
    let tenants: Vec<_> = app
        .store
        .tenants_of(&partner)
        .await?
        .into_iter()
        .map(|t| json!({"id": t.id, "name": t.name, "created_at": t.created_at.0}))
        .collect();
    Ok(axum::Json(json!({ "tenants": tenants })).into_response())
}

/// `GET /v1/tenants/{tenant}/agents` (operator, owner) → `{"agents": [{id, name, role,
/// created_at, active}]}`; `active` is false once revoked.
///
/// # Errors
/// Not allowed; unknown tenant; storage.
pub async fn agents(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    let agents: Vec<_> = app
        .store
        .agents(&scope)
        .await?
        .into_iter()
        .map(|(a, active)| {
            let role = match a.kind {
                AgentKind::Tenant { role, .. } => role.as_str(),
                AgentKind::PartnerViewer { .. } => "partner",
            };
            json!({
                "id": a.id, "name": a.name, "role": role, "created_at": a.created_at.0,
                "active": active,
            })
        })
        .collect();
    Ok(axum::Json(json!({ "agents": agents })).into_response())
}
