//! Moving a tenant between relays and backends (operator only), behind `relay admin export`
//! and `relay admin import`:
//!
//! - `GET /v1/tenants/{t}/export`: the tenant's records as one [`TenantFile`] header — its
//!   record and partner, channels (tokens sealed, as stored: the target needs the same master
//!   key), people (token hashes only, so their tokens keep working), settings, knowledge and
//!   the head. The log itself is paged through `GET …/audit/export`, as the evidence export.
//! - `POST /v1/tenants/import`: a header; creates the partner if missing, the tenant under
//!   the same id, its people, channels (routes checked first: an account another tenant
//!   holds here refuses the import before anything is written), settings and knowledge.
//!   A tenant that exists already is refused.
//! - `POST /v1/tenants/{t}/import/entries` `{"entries": [...]}`: the next page of the log,
//!   stored exactly as exported (`Store::import_entries`); a page that does not continue the
//!   chain is refused whole.
//!
//! Command answers (desk idempotency) and Meta's dedup keys are not carried: a desk
//! replaying a command answered before the move has it decided again, and a webhook Meta
//! redelivers from before the move is stored again.

use super::AppState;
use super::admin::{ApiJson, require_operator};
use super::error::ApiError;
use crate::audit::Entry;
use crate::principal::{Access, Principal};
use crate::store::{AgentRecord, ChannelRecord, PartnerRecord, TenantRecord, TenantSettings};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::{Seq, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The file's format, first on its header line.
pub const FORMAT: &str = "chatdesk.tenant.v1";

/// The header line of a tenant file. `tenant` and `head` are also an
/// [`crate::audit::ExportHeader`]'s, so `relay audit verify-file` checks the file as it is.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    pub format: String,
    pub tenant: TenantId,
    pub head: u64,
    pub record: TenantRecord,
    pub partner: PartnerRecord,
    pub channels: Vec<ChannelRecord>,
    pub agents: Vec<Person>,
    pub settings: TenantSettings,
    pub knowledge: Option<String>,
}

/// A person of the tenant and whether their token still works.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub record: AgentRecord,
    pub active: bool,
}

/// `GET /v1/tenants/{t}/export`.
pub async fn export(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    require_operator(&principal)?;
    let id = TenantId::new(tenant);
    let record = app
        .store
        .tenant(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let scope = principal
        .scope(&id, Access::Manage)
        .map_err(|_| ApiError::not_found("tenant"))?;
    let partner = app
        .store
        .partner(&record.partner)
        .await?
        .ok_or_else(|| ApiError::not_found("partner"))?;
    let file = TenantFile {
        format: FORMAT.to_owned(),
        tenant: id,
        head: app.store.head(&scope).await?.0,
        record,
        partner,
        channels: app.store.channels(&scope).await?,
        agents: app
            .store
            .agents(&scope)
            .await?
            .into_iter()
            .map(|(record, active)| Person { record, active })
            .collect(),
        settings: app.store.settings(&scope).await?,
        knowledge: app.store.knowledge(&scope).await?,
    };
    Ok(axum::Json(file).into_response())
}

/// `POST /v1/tenants/import`: answers `201 {"tenant", "head"}`, the head the entries must
/// reach.
pub async fn import(
    State(app): State<AppState>,
    principal: Principal,
    ApiJson(file): ApiJson<TenantFile>,
) -> Result<Response, ApiError> {
    require_operator(&principal)?;
    if file.format != FORMAT {
        return Err(ApiError::bad_request(
            "invalid",
            format!("not a tenant file of format {FORMAT}"),
        ));
    }
    if file.record.id != file.tenant || file.record.partner != file.partner.id {
        return Err(ApiError::bad_request(
            "invalid",
            "the header's tenant, record and partner do not agree",
        ));
    }
    if app.store.tenant(&file.tenant).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "exists",
            format!("tenant {} exists on this relay", file.tenant),
        ));
    }
    // Every route free (or nobody's) before anything is written.
    for channel in &file.channels {
        if channel.tenant != file.tenant {
            return Err(ApiError::bad_request(
                "invalid",
                format!("channel {} belongs to another tenant", channel.id),
            ));
        }
        for key in channel.route_keys() {
            if app.store.channel_by_route(&key).await?.is_some() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "route_taken",
                    format!(
                        "an account of channel {} is connected here already",
                        channel.id
                    ),
                ));
            }
        }
    }
    let scope = principal
        .scope(&file.tenant, Access::Manage)
        .map_err(|_| ApiError::not_found("tenant"))?;
    if app.store.partner(&file.partner.id).await?.is_none() {
        app.store.insert_partner(file.partner).await?;
    }
    app.store.insert_tenant(file.record).await?;
    for person in file.agents {
        let id = person.record.id.clone();
        app.store.insert_agent(person.record).await?;
        if !person.active {
            app.store.revoke_agent(&scope, &id).await?;
        }
    }
    for channel in file.channels {
        app.store.insert_channel(&scope, channel).await?;
    }
    app.store.put_settings(&scope, &file.settings).await?;
    if let Some(knowledge) = &file.knowledge {
        app.store.put_knowledge(&scope, knowledge).await?;
    }
    app.store.sync().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "tenant": file.tenant, "head": file.head })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entries {
    entries: Vec<Entry>,
}

/// `POST /v1/tenants/{t}/import/entries`: answers `{"head"}` after the page is durable.
pub async fn import_entries(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    ApiJson(page): ApiJson<Entries>,
) -> Result<Response, ApiError> {
    require_operator(&principal)?;
    let id = TenantId::new(tenant);
    if app.store.tenant(&id).await?.is_none() {
        return Err(ApiError::not_found("tenant"));
    }
    let scope = principal
        .scope(&id, Access::Manage)
        .map_err(|_| ApiError::not_found("tenant"))?;
    let events: Vec<_> = page.entries.iter().map(|e| e.event.clone()).collect();
    let head: Seq = app.store.import_entries(&scope, page.entries).await?;
    app.store.sync().await?;
    // Durable now: desks of the tenant here (if any) learn of it like of any event.
    app.hub.publish(&scope, events);
    app.outbox.kick(scope.tenant());
    Ok(axum::Json(json!({ "head": head.0 })).into_response())
}
