//! `GET /v1/me` (who a token is, so the desk knows which screens to offer) and
//! `GET /v1/partners/{partner}/report` (the partner's per-tenant figures).
//!
//! Neither answer ever holds a token, a message text or a customer's identity: `/v1/me`
//! names only the caller's own ids and display names, and the report only counts
//! (`crate::report`).

use super::AppState;
use super::error::ApiError;
use crate::principal::Principal;
use crate::report::{DAYS, Figures, Tally};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use protocol::{PartnerId, Seq};
use serde_json::{Value, json};

/// Events read from a tenant's log per step while its figures are computed.
const PAGE: usize = 1000;

/// `GET /v1/me`: `{role, partner, brand, tenant, tenant_name, agent}` for any valid token.
///
/// `role` is `operator`, `partner` (a partner viewer), `owner` or `agent`; the ids and names
/// that do not apply to the role are `null` (the operator's are all `null`). `brand` is the
/// partner's brand, or its name when it has none.
pub async fn me(State(app): State<AppState>, principal: Principal) -> Result<Response, ApiError> {
    let (role, partner, tenant, agent) = match &principal {
        Principal::Operator => ("operator", None, None, None),
        Principal::PartnerViewer { partner, viewer } => {
            ("partner", Some(partner.clone()), None, Some(viewer))
        }
        Principal::TenantAgent {
            tenant,
            agent,
            role,
        } => (role.as_str(), None, Some(tenant), Some(agent)),
    };
    let tenant_record = match tenant {
        Some(id) => app.store.tenant(id).await?,
        None => None,
    };
    let partner = partner.or_else(|| tenant_record.as_ref().map(|t| t.partner.clone()));
    let partner_record = match &partner {
        Some(id) => app.store.partner(id).await?,
        None => None,
    };
    Ok(axum::Json(json!({
        "role": role,
        "partner": partner,
        "brand": partner_record.as_ref().map(|p| p.brand_or_name()),
        "tenant": tenant,
        "tenant_name": tenant_record.as_ref().map(|t| t.name.as_str()),
        "agent": agent,
    }))
    .into_response())
}

/// `GET /v1/partners/{partner}/report`: for the operator and that partner's viewers; anyone
/// else (another partner's viewer, any tenant agent) gets the same 404 as a partner that
/// does not exist.
///
/// ```json
/// {"partner": "pa_…", "brand": "…", "generated_at": 1700000000000, "days": 14,
///  "tenants": [{"tenant": "tn_…", "name": "…",
///    "volume": {"inbound_messages": 12, "daily": [0, …, 5]},
///    "replies": {"auto": 1, "approved": 4, "edited": 2, "own": 3},
///    "first_response_ms": {"median": 95000, "samples": 9},
///    "held_drafts": 1, "failures": 0, "credits": 40}]}
/// ```
///
/// Over the 14 UTC days ending today (`daily` oldest first, the last element today), by the
/// relay's arrival time of each event (`received_at`), never Meta's timestamps:
/// `volume` counts inbound customer messages, comments and postbacks (no echoes, statuses,
/// reactions); `replies` counts message sends that reached `Sent`, as `auto` (queued by the
/// drafter's auto-send or a reply rule: the reserved agent `drafter`), `approved` (a person
/// approved the drafter's draft and the text sent is the drafter's, unchanged), `edited` (a
/// person approved a drafter's draft a person changed) or `own` (a person's reply without a
/// draft, or a draft a person started); `first_response_ms` runs per thread from a customer
/// message that arrived while none was waiting to the next outbound message (a send reaching
/// `Sent`, or an echo of a reply written in Meta's app), median of the samples;
/// `failures` counts message sends whose last outcome is `Failed` with no automatic retry
/// pending (or failed and then discarded). `held_drafts` (threads whose current draft the
/// classifier held, or whose message the drafter handed off, not yet dealt with) and
/// `credits` (the balance) are as of now. Definitions in full: `crate::report`.
pub async fn partner_report(
    State(app): State<AppState>,
    principal: Principal,
    Path(partner): Path<String>,
) -> Result<Response, ApiError> {
    let id = PartnerId::new(partner);
    principal
        .may_report(&id)
        .map_err(|_| ApiError::not_found("partner"))?;
    let Some(record) = app.store.partner(&id).await? else {
        return Err(ApiError::not_found("partner"));
    };
    let now = app.clock.now();
    let mut tenants: Vec<Value> = Vec::new();
    for tenant in app.store.tenants_of(&id).await? {
        let scope = principal
            .report_scope(&tenant.id, &tenant.partner)
            .map_err(|_| ApiError::not_found("partner"))?;
        let figures = tenant_figures(&app, &scope, now).await?;
        let credits = app.store.credits(&scope).await?;
        let mut line = figures_json(&figures, credits);
        line["tenant"] = json!(tenant.id);
        line["name"] = json!(tenant.name);
        tenants.push(line);
    }
    Ok(axum::Json(json!({
        "partner": record.id,
        "brand": record.brand_or_name(),
        "generated_at": now.0,
        "days": DAYS,
        "tenants": tenants,
    }))
    .into_response())
}

/// One tenant's figures at `now`, paging through its whole log.
async fn tenant_figures(
    app: &AppState,
    scope: &crate::principal::TenantScope,
    now: protocol::Millis,
) -> Result<Figures, ApiError> {
    let mut tally = Tally::new(now);
    let mut after = Seq(0);
    loop {
        let page = app.store.events_after(scope, after, PAGE).await?;
        for event in &page {
            tally.add(event);
        }
        match page.last() {
            Some(last) if page.len() == PAGE => after = last.seq,
            _ => break,
        }
    }
    Ok(tally.finish())
}

/// `GET /v1/tenants/{tenant}/report`: the business's own figures, for its owners (and the
/// operator): the partner report's figures for this tenant plus, per agent (the drafter's
/// automation as `drafter`), the replies sent, first responses and resolutions with their
/// medians. Agents never see it; another tenant's owner gets 404.
///
/// ```json
/// {"tenant": "tn_…", "name": "…", "generated_at": 1700000000000, "days": 14,
///  "volume": {…}, "replies": {…}, "first_response_ms": {…}, "held_drafts": 1,
///  "failures": 0, "credits": 40,
///  "agents": [{"agent": "ag_…", "name": "Ayu", "replies": 5,
///              "first_response_ms": {"median": 60000, "samples": 4},
///              "resolved": 3, "resolution_ms": {"median": 900000, "samples": 3}}]}
/// ```
///
/// Resolution time runs per thread from a customer message while the thread was not
/// already open (or from a reopen) to a person resolving it (`crate::report::agents`).
pub async fn tenant_report(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let scope =
        super::admin::tenant_scope(&app, &principal, &tenant, crate::principal::Access::Manage)
            .await?;
    let now = app.clock.now();
    let figures = tenant_figures(&app, &scope, now).await?;
    let credits = app.store.credits(&scope).await?;
    let record = app.store.tenant(scope.tenant()).await?;
    let names: std::collections::HashMap<_, _> = app
        .store
        .agents(&scope)
        .await?
        .into_iter()
        .map(|(a, _)| (a.id, a.name))
        .collect();
    let agents: Vec<Value> = figures
        .agents
        .iter()
        .map(|a| {
            let name = names.get(&a.agent).map_or_else(
                || {
                    if a.agent.as_str() == crate::store::DRAFTER_AGENT {
                        "automation".to_owned()
                    } else {
                        a.agent.as_str().to_owned()
                    }
                },
                Clone::clone,
            );
            json!({
                "agent": a.agent, "name": name, "replies": a.replies,
                "first_response_ms": a.first_response_ms,
                "resolved": a.resolved, "resolution_ms": a.resolution_ms,
            })
        })
        .collect();
    let mut answer = figures_json(&figures, credits);
    answer["tenant"] = json!(scope.tenant());
    answer["name"] = json!(record.as_ref().map(|t| t.name.as_str()));
    answer["generated_at"] = json!(now.0);
    answer["days"] = json!(DAYS);
    answer["agents"] = json!(agents);
    Ok(axum::Json(answer).into_response())
}

/// A tenant's figures as both reports answer them (never the per-agent rows).
fn figures_json(figures: &Figures, credits: i64) -> Value {
    json!({
        "volume": figures.volume,
        "replies": figures.replies,
        "first_response_ms": figures.first_response_ms,
        "held_drafts": figures.held_drafts,
        "failures": figures.failures,
        "credits": credits,
    })
}
