//! Changing the registry over the years (operator only): renaming partners and tenants,
//! deleting a tenant (`lifecycle::delete_tenant` does the work) and a partner with no
//! tenants, and the deletion records tenants leave behind.
//!
//! `PATCH /v1/partners/{p}` `{name?, brand?}`, `PATCH /v1/tenants/{t}` `{name}`,
//! `DELETE /v1/tenants/{t}`, `DELETE /v1/partners/{p}` (409 while it has tenants),
//! `GET /v1/tenant-deletions` (each with its `stage`: `started`, `removing`, `finished`;
//! a relay finishes unfinished ones at its next start).

use super::AppState;
use super::admin::{ApiJson, name_field, require_operator, tenant_scope};
use super::error::ApiError;
use crate::principal::{Access, Principal};
use crate::store::{StoreError, TenantDeletion};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::{PartnerId, TenantId};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerChange {
    name: Option<String>,
    brand: Option<String>,
}

/// `PATCH /v1/partners/{partner}` → the partner as it is now.
///
/// # Errors
/// Not the operator; nothing to change or a bad name; unknown partner; storage.
pub async fn rename_partner(
    State(app): State<AppState>,
    principal: Principal,
    Path(partner): Path<String>,
    ApiJson(input): ApiJson<PartnerChange>,
) -> Result<Response, ApiError> {
    require_operator(&principal)?;
    if input.name.is_none() && input.brand.is_none() {
        return Err(ApiError::bad_request(
            "nothing_to_change",
            "give `name`, `brand` or both",
        ));
    }
    let name = input
        .name
        .as_deref()
        .map(|n| name_field(n, "name"))
        .transpose()?;
    let brand = input
        .brand
        .as_deref()
        .map(|b| name_field(b, "brand"))
        .transpose()?;
    let Some(record) = app
        .store
        .rename_partner(&PartnerId::new(partner), name, brand)
        .await?
    else {
        return Err(ApiError::not_found("partner"));
    };
    app.store.sync().await?;
    Ok(
        axum::Json(json!({"id": record.id, "name": record.name, "brand": record.brand}))
            .into_response(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantChange {
    name: String,
}

/// `PATCH /v1/tenants/{tenant}` → the tenant as it is now. Desks show the new name from
/// their next welcome.
///
/// # Errors
/// Not the operator; a bad name; unknown tenant; storage.
pub async fn rename_tenant(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    ApiJson(input): ApiJson<TenantChange>,
) -> Result<Response, ApiError> {
    require_operator(&principal)?;
    let name = name_field(&input.name, "name")?;
    let Some(record) = app
        .store
        .rename_tenant(&TenantId::new(tenant), name)
        .await?
    else {
        return Err(ApiError::not_found("tenant"));
    };
    app.store.sync().await?;
    Ok(
        axum::Json(json!({"id": record.id, "partner": record.partner, "name": record.name}))
            .into_response(),
    )
}

/// `DELETE /v1/tenants/{tenant}` → the deletion record (counts, unsubscribe outcomes, the
/// chain's last head).
///
/// # Errors
/// Not the operator; unknown tenant; storage.
pub async fn delete_tenant(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    require_operator(&principal)?;
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    let Some(record) = app.store.tenant(scope.tenant()).await? else {
        return Err(ApiError::not_found("tenant"));
    };
    let deletion = crate::lifecycle::delete_tenant(&app, &scope, &record, "operator").await?;
    Ok(axum::Json(json!({ "deleted": deletion_json(&deletion) })).into_response())
}

/// `DELETE /v1/partners/{partner}` → `{id, viewers}`; 409 `has_tenants` while it has any.
///
/// # Errors
/// Not the operator; unknown partner; tenants left; storage.
pub async fn delete_partner(
    State(app): State<AppState>,
    principal: Principal,
    Path(partner): Path<String>,
) -> Result<Response, ApiError> {
    require_operator(&principal)?;
    let id = PartnerId::new(partner);
    match app.store.delete_partner(&id).await {
        Ok(Some(viewers)) => {
            app.store.sync().await?;
            Ok(axum::Json(json!({"id": id, "deleted": true, "viewers": viewers})).into_response())
        }
        Ok(None) => Err(ApiError::not_found("partner")),
        Err(StoreError::Conflict(message)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "has_tenants",
            format!("{message}: delete them first"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// `GET /v1/tenant-deletions` → `{"deletions": [...]}`, oldest first.
///
/// # Errors
/// Not the operator; storage.
pub async fn deletions(
    State(app): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    require_operator(&principal)?;
    let all: Vec<Value> = app
        .store
        .tenant_deletions()
        .await?
        .iter()
        .map(deletion_json)
        .collect();
    Ok(axum::Json(json!({ "deletions": all })).into_response())
}

/// A deletion record as answered: everything but the token hashes (never shown, like the
/// listings never show a token's hash).
fn deletion_json(deletion: &TenantDeletion) -> Value {
    let mut value = serde_json::to_value(deletion).unwrap_or(Value::Null);
    if let Some(fields) = value.as_object_mut() {
        fields.remove("token_hashes");
    }
    value
}
