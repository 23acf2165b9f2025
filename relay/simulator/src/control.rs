//! The control API under `/_sim` (JSON in, JSON out), for tests, demos and staging: register
//! accounts and customers, make customers act, read what the simulator received and what each
//! customer received, switch faults, run scenarios. Errors are
//! `{"error": {"code", "message"}}` with 400 / 404, like the relay's admin API (these are not
//! Meta's answers, so they do not use Meta's error shape).
//!
//! Answers never contain tokens or secrets.

use super::Sim;
use super::accounts::AccountSpec;
use super::faults::FaultSpec;
use super::inbound::{self, CustomerSpec, InboundError, InboundSpec};
use super::scenario;
use super::time::now_ms;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// A control-API refusal.
#[derive(Debug)]
pub struct ControlError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ControlError {
    fn bad(message: impl Into<String>) -> Self {
        ControlError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        ControlError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }
}

impl From<InboundError> for ControlError {
    fn from(e: InboundError) -> Self {
        match e {
            InboundError::UnknownAccount(_) => ControlError::not_found(e.to_string()),
            InboundError::Invalid(_) => ControlError::bad(e.to_string()),
        }
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
}

type Answer = Result<Response, ControlError>;

/// Reads one object or an array of them.
fn one_or_many<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<Vec<T>, ControlError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| ControlError::bad(format!("not JSON: {e}")))?;
    let items = match v {
        Value::Array(items) => items,
        one => vec![one],
    };
    items
        .into_iter()
        .map(|i| serde_json::from_value(i).map_err(|e| ControlError::bad(e.to_string())))
        .collect()
}

/// The `/_sim` routes.
pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/healthz", get(healthz))
        .route("/_sim/accounts", post(add_accounts).get(list_accounts))
        .route("/_sim/customers", post(add_customers))
        .route("/_sim/customers/{id}/inbox", get(inbox))
        .route("/_sim/comments/{id}", get(comment))
        .route("/_sim/inbound", post(inbound_action))
        .route("/_sim/calls", get(calls).delete(clear_calls))
        .route("/_sim/webhooks", get(webhooks).delete(clear_webhooks))
        .route(
            "/_sim/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route("/_sim/faults/{id}", delete(remove_fault))
        .route("/_sim/scenario", post(run_scenario))
        .route("/_sim/reset", post(reset))
        .route("/_sim/relay", get(relay).put(set_relay))
}

async fn healthz() -> Json<Value> {
    Json(json!({"ok": true}))
}

async fn add_accounts(State(sim): State<Arc<Sim>>, body: Bytes) -> Answer {
    let specs: Vec<AccountSpec> = one_or_many(&body)?;
    let mut added = Vec::new();
    for spec in specs {
        let kind = match spec {
            AccountSpec::Instagram(_) => "instagram",
            AccountSpec::WhatsApp(_) => "whatsapp",
        };
        let id = spec.id().to_owned();
        sim.register(spec).map_err(ControlError::bad)?;
        added.push(json!({"kind": kind, "id": id}));
    }
    Ok((StatusCode::CREATED, Json(json!({ "accounts": added }))).into_response())
}

async fn list_accounts(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let st = sim.lock();
    let mut out: Vec<Value> = st
        .instagram
        .values()
        .map(|a| {
            json!({"kind": "instagram", "id": a.ig_id, "page_id": a.page_id, "username": a.username,
                   "login": a.login, "token_expires_at_ms": a.token_expires_at_ms, "limits": a.limits})
        })
        .collect();
    out.extend(st.whatsapp.values().map(|n| {
        json!({"kind": "whatsapp", "id": n.phone_number_id, "waba_id": n.waba_id,
               "display_phone_number": n.display_phone_number,
               "templates": n.templates.iter().map(|t| json!({"name": t.name, "language": t.language, "status": t.status})).collect::<Vec<_>>(),
               "limits": n.limits})
    }));
    Json(json!({ "accounts": out }))
}

async fn add_customers(State(sim): State<Arc<Sim>>, body: Bytes) -> Answer {
    let specs: Vec<CustomerSpec> = one_or_many(&body)?;
    let mut out = Vec::new();
    for spec in &specs {
        out.push(inbound::declare_customer(&sim, spec)?);
    }
    Ok(Json(json!({ "customers": out })).into_response())
}

async fn inbox(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let st = sim.lock();
    let entries: Vec<&super::record::InboxEntry> = st
        .records
        .inbox
        .iter()
        .filter(|e| e.customer == id && q.get("account").is_none_or(|a| a == &e.account))
        .collect();
    Json(json!({"customer": id, "inbox": entries}))
}

async fn comment(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Answer {
    let st = sim.lock();
    let c = st
        .comments
        .get(&id)
        .ok_or_else(|| ControlError::not_found(format!("no comment {id}")))?;
    Ok(Json(json!(c)).into_response())
}

async fn inbound_action(State(sim): State<Arc<Sim>>, body: Bytes) -> Answer {
    let specs: Vec<InboundSpec> = one_or_many(&body)?;
    if specs.is_empty() {
        return Err(ControlError::bad("no actions"));
    }
    let answer = inbound::play(&sim, &specs).await?;
    Ok(Json(answer).into_response())
}

async fn calls(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let st = sim.lock();
    let wanted = |c: &Value| {
        q.iter()
            .filter(|(k, _)| matches!(k.as_str(), "path_kind" | "account" | "method"))
            .all(|(k, v)| c[k.as_str()].as_str() == Some(v.as_str()))
    };
    let list: Vec<Value> = st
        .records
        .calls
        .iter()
        .map(|c| json!(c))
        .filter(|c| wanted(c))
        .collect();
    let in_flight = st
        .records
        .in_flight
        .values()
        .filter(|c| wanted(&json!(c)))
        .count();
    Json(json!({ "calls": list, "in_flight": in_flight }))
}

async fn clear_calls(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let mut st = sim.lock();
    let n = st.records.calls.len();
    st.records.calls.clear();
    Json(json!({ "cleared": n }))
}

async fn webhooks(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let st = sim.lock();
    Json(json!({ "webhooks": st.records.webhooks }))
}

async fn clear_webhooks(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let mut st = sim.lock();
    let n = st.records.webhooks.len();
    st.records.webhooks.clear();
    Json(json!({ "cleared": n }))
}

async fn add_fault(State(sim): State<Arc<Sim>>, body: Bytes) -> Answer {
    let specs: Vec<FaultSpec> = one_or_many(&body)?;
    let mut ids = Vec::new();
    let mut st = sim.lock();
    for spec in specs {
        ids.push(st.faults.add(spec, now_ms()).map_err(ControlError::bad)?);
    }
    let body = if ids.len() == 1 {
        json!({"id": ids[0]})
    } else {
        json!({ "ids": ids })
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn list_faults(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let mut st = sim.lock();
    Json(json!({ "faults": st.faults.list(now_ms()) }))
}

async fn clear_faults(State(sim): State<Arc<Sim>>) -> Json<Value> {
    sim.lock().faults.clear();
    Json(json!({ "cleared": true }))
}

async fn remove_fault(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Answer {
    if sim.lock().faults.remove(&id) {
        Ok(Json(json!({ "removed": id })).into_response())
    } else {
        Err(ControlError::not_found(format!("no fault {id}")))
    }
}

/// `POST /_sim/scenario`: the body is a scenario file's TOML text. Waits for the run to end
/// and answers its results, unless `?wait=false` (then it answers 202 at once).
async fn run_scenario(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Answer {
    let text =
        std::str::from_utf8(&body).map_err(|_| ControlError::bad("scenario is not UTF-8"))?;
    let parsed = scenario::parse(text, |k| std::env::var(k).ok())
        .map_err(|e| ControlError::bad(e.to_string()))?;
    if q.get("wait").is_some_and(|w| w == "false") {
        let name = parsed.name.clone();
        let sim = Arc::clone(&sim);
        tokio::spawn(async move {
            match scenario::run(&sim, parsed).await {
                Ok(r) => tracing::info!(name = %r["name"], ok = %r["ok"], "scenario finished"),
                Err(e) => tracing::warn!(error = %e, "scenario failed"),
            }
        });
        return Ok((StatusCode::ACCEPTED, Json(json!({"started": name}))).into_response());
    }
    let result = scenario::run(&sim, parsed)
        .await
        .map_err(|e| ControlError::bad(e.to_string()))?;
    Ok(Json(result).into_response())
}

/// Forgets customers, conversations, records, faults and rate windows; keeps accounts.
async fn reset(State(sim): State<Arc<Sim>>) -> Json<Value> {
    sim.lock().reset();
    Json(json!({ "reset": true }))
}

async fn relay(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({ "url": sim.relay_url() }))
}

/// `PUT /_sim/relay {"url"}`: where webhooks go from now on.
async fn set_relay(State(sim): State<Arc<Sim>>, body: Bytes) -> Answer {
    let v: Value =
        serde_json::from_slice(&body).map_err(|e| ControlError::bad(format!("not JSON: {e}")))?;
    let url = v["url"]
        .as_str()
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .ok_or_else(|| ControlError::bad("url must be an http(s) URL"))?;
    sim.set_relay_url(url);
    tracing::info!(relay = %sim.relay_url(), "webhooks now go to another relay");
    Ok(Json(json!({ "url": sim.relay_url() })).into_response())
}
