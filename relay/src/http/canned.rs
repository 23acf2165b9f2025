//! `GET /v1/tenants/{t}/canned`, `PUT|DELETE /v1/tenants/{t}/canned/{shortcut}`: a
//! tenant's canned replies. Every person of the tenant lists them (the desk's picker and
//! `/shortcut`); operators and owners change them.
//!
//! A listed reply carries its `text` as written and `filled`: the text with the business's
//! fields (from its knowledge file) and the asking agent's name put in, leaving
//! `{{customer.name}}` and any unknown variable for the desk. Nothing here checks a text
//! with the safety classifier: it is checked, like any person's reply, when it is sent.

use super::AppState;
use super::admin::ApiJson;
use super::admin::tenant_scope;
use super::error::ApiError;
use crate::knowledge::Knowledge;
use crate::principal::{Access, Principal};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::canned::{self, CannedReply, MAX_TITLE};
use serde::Deserialize;
use serde_json::{Value, json};

/// The body of a PUT.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedInput {
    title: String,
    text: String,
}

pub async fn list(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Read).await?;
    let replies = app.store.canned(&scope).await?;
    let agent_name = match &principal {
        Principal::TenantAgent { agent, .. } => app
            .store
            .agents(&scope)
            .await?
            .into_iter()
            .find(|(a, _)| &a.id == agent)
            .map(|(a, _)| a.name),
        _ => None,
    };
    let business = match app.store.knowledge(&scope).await? {
        // A file that no longer loads fills nothing; the reply still lists.
        Some(text) => tokio::task::spawn_blocking(move || Knowledge::from_toml(&text).ok())
            .await
            .ok()
            .flatten()
            .map(|k| business_fields(&k))
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let mut values: Vec<(&str, &str)> = business
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some(name) = &agent_name {
        values.push(("agent.name", name));
    }
    let items: Vec<Value> = replies
        .iter()
        .map(|r| {
            json!({
                "shortcut": r.shortcut, "title": r.title, "text": r.text,
                "filled": canned::fill(&r.text, &values),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "canned": items })).into_response())
}

pub async fn put(
    State(app): State<AppState>,
    principal: Principal,
    Path((tenant, shortcut)): Path<(String, String)>,
    ApiJson(input): ApiJson<CannedInput>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    if let Some(problem) = canned::shortcut_problem(&shortcut) {
        return Err(ApiError::bad_request("invalid_shortcut", problem));
    }
    let title = input.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(ApiError::bad_request(
            "invalid_title",
            format!("a title is 1 to {MAX_TITLE} characters"),
        ));
    }
    let text = input.text.trim().to_owned();
    let chars = text.chars().count();
    if text.is_empty() || chars > crate::store::decide::MAX_TEXT_CHARS {
        return Err(ApiError::bad_request(
            "invalid_text",
            format!(
                "a canned text is 1 to {} characters",
                crate::store::decide::MAX_TEXT_CHARS
            ),
        ));
    }
    let reply = CannedReply {
        shortcut,
        title,
        text,
    };
    let created = app.store.put_canned(&scope, reply.clone()).await?;
    app.store.sync().await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(reply)).into_response())
}

pub async fn remove(
    State(app): State<AppState>,
    principal: Principal,
    Path((tenant, shortcut)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    if !app.store.remove_canned(&scope, &shortcut).await? {
        return Err(ApiError::not_found("canned reply"));
    }
    app.store.sync().await?;
    Ok(axum::Json(json!({ "removed": shortcut })).into_response())
}

/// The business's fields a canned text may name, as `business.<field>`.
fn business_fields(k: &Knowledge) -> Vec<(String, String)> {
    let b = &k.business;
    let c = &b.contact;
    let fields = [
        ("name", Some(&b.name)),
        ("address", b.address.as_ref()),
        ("booking_url", b.booking_url.as_ref()),
        ("hours_note", b.hours_note.as_ref()),
        ("phone", c.phone.as_ref()),
        ("whatsapp", c.whatsapp.as_ref()),
        ("email", c.email.as_ref()),
        ("website", c.website.as_ref()),
        ("instagram", c.instagram.as_ref()),
    ];
    fields
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (format!("business.{name}"), v.clone())))
        .collect()
}
