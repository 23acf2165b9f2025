//! The admin API of DESIGN.md: partners, tenants, viewers, agents, channels, threads,
//! messages (plus the raw event log for operators and agents).
//!
//! Every tenant route derives its `TenantScope` from the principal first; a tenant that is
//! not the caller's answers 404 exactly like one that does not exist. Tokens are shown
//! once at creation and stored only as hashes; access tokens are sealed at once and no
//! answer ever contains one. Writes answer only after they are durable.

use super::AppState;
use super::error::ApiError;
use crate::connect::meta::MetaError;
use crate::connect::vouch::{Claimed, VouchError, vouch};
use crate::ids;
use crate::principal::{Access, Principal, new_token, token_hash};
use crate::secret::Secret;
use crate::store::cluster::{Signal, tell};
use crate::store::{
    AgentKind, AgentRecord, ChannelKind, ChannelRecord, MessageView, PartnerRecord, SendView,
    TenantRecord, TenantSettings, ThreadView,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::window::{WindowState, state};
use protocol::{AgentId, ChannelId, PartnerId, Role, Seq, TenantId, ThreadId};
use serde::Deserialize;
use serde_json::{Value, json};

// Every route module names these through here, as it always has.
pub use crate::api::{ApiJson, tenant_scope};

fn created(body: Value) -> Response {
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

pub(crate) fn require_operator(principal: &Principal) -> Result<(), ApiError> {
    if principal.is_operator() {
        Ok(())
    } else {
        Err(ApiError::forbidden("operator only"))
    }
}

pub(crate) fn name_field(name: &str, what: &str) -> Result<String, ApiError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("{what} must be 1 to 200 characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

async fn existing_partner(app: &AppState, id: String) -> Result<PartnerId, ApiError> {
    let id = PartnerId::new(id);
    match app.store.partner(&id).await? {
        Some(_) => Ok(id),
        None => Err(ApiError::not_found("partner")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPartner {
    name: String,
    brand: Option<String>,
}

pub async fn create_partner(
    State(app): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<NewPartner>,
) -> Result<Response, ApiError> {
    require_operator(&principal)?;
    let record = PartnerRecord {
        id: PartnerId(ids::random("pa")),
        name: name_field(&input.name, "name")?,
        brand: input
            .brand
            .as_deref()
            .map(|b| name_field(b, "brand"))
            .transpose()?,
        created_at: app.clock.now(),
    };
    let id = record.id.clone();
    app.store.insert_partner(record).await?;
    app.store.sync().await?;
    Ok(created(json!({"id": id})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNamed {
    name: String,
}

pub async fn create_tenant(
    State(app): State<AppState>,
    principal: Principal,
    Path(partner): Path<String>,
    ApiJson(input): ApiJson<NewNamed>,
) -> Result<Response, ApiError> {
    require_operator(&principal)?;
    let partner = existing_partner(&app, partner).await?;
    let record = TenantRecord {
        id: TenantId(ids::random("tn")),
        partner,
        name: name_field(&input.name, "name")?,
        created_at: app.clock.now(),
    };
    let id = record.id.clone();
    app.store.insert_tenant(record).await?;
    app.store.sync().await?;
    Ok(created(json!({"id": id})))
}

pub async fn create_viewer(
    State(app): State<AppState>,
    principal: Principal,
    Path(partner): Path<String>,
    ApiJson(input): ApiJson<NewNamed>,
) -> Result<Response, ApiError> {
    require_operator(&principal)?;
    let partner = existing_partner(&app, partner).await?;
    let name = name_field(&input.name, "name")?;
    issue_token(&app, name, AgentKind::PartnerViewer { partner }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    name: String,
    role: String,
}

pub async fn create_agent(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    ApiJson(input): ApiJson<NewAgent>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    let role = match input.role.as_str() {
        "agent" => Role::Agent,
        "owner" => Role::Owner,
        other => {
            return Err(ApiError::bad_request(
                "invalid_field",
                format!("role must be `agent` or `owner`, not `{other}`"),
            ));
        }
    };
    let name = name_field(&input.name, "name")?;
    issue_token(
        &app,
        name,
        AgentKind::Tenant {
            tenant: scope.tenant().clone(),
            role,
        },
    )
    .await
}

/// `DELETE /v1/tenants/{tenant}/agents/{agent}`: the token stops working at once, and the
/// agent's connected desks are closed.
pub async fn revoke_agent(
    State(app): State<AppState>,
    principal: Principal,
    Path((tenant, agent)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    let agent = AgentId(agent);
    if !app.store.revoke_agent(&scope, &agent).await? {
        return Err(ApiError::not_found("agent"));
    }
    app.store.sync().await?;
    app.hub.revoke(agent.clone());
    tell(app.store.as_ref(), Signal::AgentRevoked(agent.clone())).await;
    Ok(axum::Json(json!({ "id": agent, "revoked": true })).into_response())
}

async fn issue_token(app: &AppState, name: String, kind: AgentKind) -> Result<Response, ApiError> {
    let token = new_token();
    let prefix = if matches!(kind, AgentKind::PartnerViewer { .. }) {
        "vw"
    } else {
        "ag"
    };
    let record = AgentRecord {
        id: AgentId(ids::random(prefix)),
        name,
        kind,
        token_hash: token_hash(&token),
        created_at: app.clock.now(),
    };
    let id = record.id.clone();
    app.store.insert_agent(record).await?;
    app.store.sync().await?;
    Ok(created(json!({"id": id, "token": token})))
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NewChannel {
    Instagram {
        account_id: String,
        page_id: Option<String>,
        username: Option<String>,
        access_token: Option<String>,
    },
    Whatsapp {
        phone_number_id: String,
        waba_id: Option<String>,
        access_token: Option<String>,
    },
}

fn meta_id(value: &str, field: &str) -> Result<String, ApiError> {
    let ok = !value.is_empty() && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("{field} must be Meta's numeric id (1 to 64 digits)"),
        ));
    }
    Ok(value.to_owned())
}

/// `POST /v1/tenants/{tenant}/channels` (operator only): a channel configured by hand, e.g.
/// with a system-user token. Routing ids decide which tenant reads an account's messages,
/// so they come only from proof: the operator's word, and an access token Meta confirms
/// belongs to the claimed ids (`connect::vouch`) before anything is saved. Owners connect
/// their accounts through a connect link, where Meta vouches for the account.
pub async fn create_channel(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    ApiJson(input): ApiJson<NewChannel>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    if !principal.is_operator() {
        return Err(ApiError::forbidden(
            "owners connect accounts through a connect link (POST /v1/tenants/{tenant}/connect-links), \
             where Meta confirms the account is theirs; channels by raw id are for the operator",
        ));
    }
    let id = ChannelId(ids::random("ch"));
    let (kind, account_id, page_id, username, waba_id, token) = match input {
        NewChannel::Instagram {
            account_id,
            page_id,
            username,
            access_token,
        } => (
            ChannelKind::Instagram,
            meta_id(&account_id, "account_id")?,
            page_id
                .as_deref()
                .map(|p| meta_id(p, "page_id"))
                .transpose()?,
            username,
            None,
            access_token,
        ),
        NewChannel::Whatsapp {
            phone_number_id,
            waba_id,
            access_token,
        } => (
            ChannelKind::Whatsapp,
            meta_id(&phone_number_id, "phone_number_id")?,
            None,
            None,
            waba_id
                .as_deref()
                .map(|w| meta_id(w, "waba_id"))
                .transpose()?,
            access_token,
        ),
    };
    let token = token.filter(|t| !t.is_empty()).map(Secret::new);
    if let Some(token) = &token {
        let claimed = match kind {
            ChannelKind::Instagram => Claimed::Instagram {
                account_id: &account_id,
                page_id: page_id.as_deref(),
            },
            ChannelKind::Whatsapp => Claimed::Whatsapp {
                phone_number_id: &account_id,
                waba_id: waba_id.as_deref(),
            },
        };
        vouch(&app.config, claimed, token)
            .await
            .map_err(|e| match e {
                VouchError::Mismatch(_) => ApiError::bad_request("token_mismatch", e.to_string()),
                // Meta answered and refused: the token cannot see these ids.
                VouchError::Meta(MetaError::Refused { status, .. }) if status < 500 => {
                    ApiError::bad_request(
                        "token_mismatch",
                        "Meta refused the access token for these ids; nothing was saved",
                    )
                }
                VouchError::Meta(m) => {
                    tracing::warn!(error = %m, tenant = %scope.tenant(), "channel token check failed");
                    ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "token_unverified",
                        "Meta did not confirm the access token for these ids; nothing was saved",
                    )
                }
            })?;
    }
    let sealed_token = token.map(|t| app.outbox.keys().seal(scope.tenant(), &id, t.expose()));
    let record = ChannelRecord {
        id: id.clone(),
        tenant: scope.tenant().clone(),
        kind,
        account_id,
        page_id,
        username,
        waba_id,
        sealed_token,
        created_at: app.clock.now(),
        token_expires_at: None,
        login: Some("operator".into()),
        app_user_id: None,
        profile_picture_url: None,
        followers_count: None,
        needs_reconnect: None,
    };
    app.store.insert_channel(&scope, record).await?;
    app.store.sync().await?;
    Ok(created(json!({"id": id})))
}

pub async fn list_channels(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Read).await?;
    let activity = app.store.channel_activity(&scope).await?;
    // A channel whose token Meta refused has a failed send waiting on a reconnection.
    let refused: std::collections::HashSet<ChannelId> = app
        .store
        .unfinished_sends(&scope)
        .await?
        .into_iter()
        .filter(SendView::waits_for_reconnection)
        .map(|s| s.channel_id)
        .collect();
    let channels: Vec<Value> = app
        .store
        .channels(&scope)
        .await?
        .into_iter()
        .map(|c| {
            let last = activity
                .iter()
                .find(|(id, _)| *id == c.id)
                .map(|(_, at)| at.0);
            let refused_now = refused.contains(&c.id);
            let reason = c
                .needs_reconnect
                .as_ref()
                .map(|r| r.reason.clone())
                .or_else(|| {
                    if c.sealed_token.is_none() {
                        Some("The channel has no access token: connect it.".to_owned())
                    } else if refused_now {
                        Some("Meta refused the access token: connect the account again.".to_owned())
                    } else {
                        None
                    }
                });
            json!({
                "id": c.id, "kind": c.kind, "account_id": c.account_id, "page_id": c.page_id,
                "username": c.username, "waba_id": c.waba_id,
                "has_token": c.sealed_token.is_some(), "last_event_at": last,
                "needs_reconnect": reason.is_some(), "reason": reason,
                "disconnected": c.is_disconnected(),
                "token_expires_at": c.token_expires_at.map(|m| m.0),
                "login": c.login, "profile_picture_url": c.profile_picture_url,
                "followers_count": c.followers_count,
            })
        })
        .collect();
    Ok(axum::Json(json!({"channels": channels})).into_response())
}

fn window_json(w: WindowState) -> Value {
    match w {
        WindowState::Open { until } => json!({"state": "open", "until": until.map(|m| m.0)}),
        WindowState::HumanAgentOnly { until } => json!({"state": "human_agent", "until": until.0}),
        WindowState::TemplateOnly => json!({"state": "template_only", "until": null}),
        WindowState::Closed => json!({"state": "closed", "until": null}),
    }
}

fn thread_json(t: &ThreadView, now: protocol::Millis) -> Value {
    json!({
        "id": t.id,
        "channel_id": t.channel_id,
        "channel": t.channel.as_str(),
        "kind": t.kind(),
        "customer": {
            "handle": t.customer.handle(),
            "id": t.customer.id.as_str(),
            "username": t.customer.username,
            "name": t.customer.name,
        },
        "last_inbound_at": t.last_inbound_at.map(|m| m.0),
        "last_message_at": t.last_message_at.map(|m| m.0),
        "window": window_json(state(&t.window(), now)),
        "counts": {
            "messages": t.messages, "inbound": t.inbound, "unanswered": t.unanswered,
            "replies_queued": t.replies_queued,
        },
        "preview": t.last_preview,
        "assignee": t.assignee,
        "resolved": t.resolved,
        "draft": t.draft.as_ref().map(|d| json!({
            "version": d.version, "text": d.text, "author": d.author,
            "basis": d.basis.as_ref().map(|b| json!({
                "intents": b.intents, "facts": b.facts, "held": b.held, "source": b.source,
            })),
        })),
        "handoff": t.handoff,
        "owner_replying": t.owner_replying,
    })
}

pub async fn list_threads(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Read).await?;
    let now = app.clock.now();
    let threads: Vec<Value> = app
        .store
        .threads(&scope)
        .await?
        .iter()
        .map(|t| thread_json(t, now))
        .collect();
    Ok(axum::Json(json!({"threads": threads})).into_response())
}

fn message_json(m: &MessageView) -> Value {
    json!({
        "id": m.id, "mid": m.mid, "direction": m.direction, "occurred_at": m.occurred_at.0,
        "received_at": m.received_at.0, "seq": m.seq.0, "content": m.content,
        "edits": m.edits, "deleted": m.deleted, "reactions": m.reactions, "status": m.status,
        "status_errors": m.status_errors, "seen": m.seen, "hidden": m.hidden,
    })
}

pub async fn list_messages(
    State(app): State<AppState>,
    principal: Principal,
    Path((tenant, thread)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Read).await?;
    let thread = ThreadId::new(thread);
    let Some(view) = app.store.thread(&scope, &thread).await? else {
        return Err(ApiError::not_found("thread"));
    };
    let messages: Vec<Value> = app
        .store
        .messages(&scope, &thread)
        .await?
        .iter()
        .map(message_json)
        .collect();
    let sends: Vec<Value> = app
        .store
        .sends_of(&scope, &thread)
        .await?
        .iter()
        .map(send_json)
        .collect();
    Ok(axum::Json(json!({
        "thread": thread_json(&view, app.clock.now()),
        "messages": messages,
        "sends": sends,
    }))
    .into_response())
}

fn send_json(s: &SendView) -> Value {
    json!({
        "send": s.send.0, "text": s.text, "from_draft": s.from_draft, "agent": s.agent,
        "queued_at": s.queued_at.0, "state": s.state.name(), "attempts": s.attempts,
        "kind": s.kind, "provider_id": s.provider_id,
        "failure": s.failure.as_ref().map(|f| json!({
            "class": f.class.name(), "code": f.code, "subcode": f.subcode, "message": f.message,
        })),
        "retry_at": s.retry_at.map(|m| m.0),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditsInput {
    add: i64,
}

/// Operator top-up (or correction, when negative) of a tenant's credits.
pub async fn add_credits(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    ApiJson(input): ApiJson<CreditsInput>,
) -> Result<Response, ApiError> {
    require_operator(&principal)?;
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    if input.add == 0 || input.add.unsigned_abs() > 1_000_000_000 {
        return Err(ApiError::bad_request(
            "invalid_field",
            "`add` must be a non-zero number of credits up to 1000000000",
        ));
    }
    let (balance, event) = app
        .store
        .add_credits(&scope, input.add, app.clock.now())
        .await?;
    app.store.sync().await?;
    app.hub.publish(&scope, [event]);
    // Sends waiting for credits may go now.
    app.outbox.kick(scope.tenant());
    Ok(axum::Json(json!({"balance": balance})).into_response())
}

pub async fn get_credits(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Read).await?;
    let balance = app.store.credits(&scope).await?;
    Ok(axum::Json(json!({"balance": balance})).into_response())
}

#[derive(Deserialize)]
pub struct EventsQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

pub async fn list_events(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Read).await?;
    let limit = q.limit.unwrap_or(500).clamp(1, 5000);
    let events = app
        .store
        .events_after(&scope, Seq(q.after.unwrap_or(0)), limit)
        .await?;
    let head = app.store.head(&scope).await?;
    Ok(axum::Json(json!({"head": head.0, "events": events})).into_response())
}

/// Recomputes every audit record from its event, re-hashes the chain, and names the first
/// event that does not match (and what does not).
pub async fn verify_audit(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    let verdict = app.store.verify_audit(&scope).await?;
    Ok(axum::Json(verdict).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    auto_send: Option<bool>,
    hide_comments: Option<bool>,
    /// Replaces the whole ordered list when given.
    rules: Option<Vec<crate::rules::ReplyRule>>,
    /// An empty text removes it.
    default_reply: Option<String>,
    /// Agents (not only owners) may assign threads to one another.
    agents_assign: Option<bool>,
}

fn settings_json(s: &TenantSettings) -> Value {
    json!({
        "auto_send": s.auto_send, "hide_comments": s.hide_comments, "rules": s.rules,
        "default_reply": s.default_reply, "agents_assign": s.agents_assign,
    })
}

pub async fn get_settings(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Read).await?;
    let settings = app.store.settings(&scope).await?;
    Ok(axum::Json(settings_json(&settings)).into_response())
}

/// Changes only the fields given.
pub async fn put_settings(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    ApiJson(input): ApiJson<SettingsInput>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    let mut settings = app.store.settings(&scope).await?;
    if let Some(v) = input.auto_send {
        settings.auto_send = v;
    }
    if let Some(v) = input.hide_comments {
        settings.hide_comments = v;
    }
    if let Some(rules) = input.rules {
        crate::rules::validate(&rules)
            .map_err(|e| ApiError::bad_request("invalid_rules", e.to_string()))?;
        settings.rules = rules;
    }
    if let Some(text) = input.default_reply {
        settings.default_reply = Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    }
    if let Some(v) = input.agents_assign {
        settings.agents_assign = v;
    }
    app.store.put_settings(&scope, &settings).await?;
    app.store.sync().await?;
    Ok(axum::Json(settings_json(&settings)).into_response())
}
