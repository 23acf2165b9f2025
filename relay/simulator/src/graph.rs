//! The Graph API as the relay meets it: one fallback handler that takes any
//! `/{version}/…` path (the version prefix is optional and not checked), reads the token
//! from `Authorization: Bearer`, `access_token` in the query or in the body, reads JSON or
//! form bodies, routes to the operation, applies fault modes, adds the usage headers and
//! records the call.
//!
//! Order of work for every call: route → fault scope → slow / terminal faults → the
//! operation (authenticate, rate limit, validate, enforce policy, deliver) → a fault that
//! strikes after delivery (`deliver: true`) → record → answer.

mod account;
mod comments;
mod conversations;
pub mod ig_body;
mod instagram;
pub mod media;
mod profile;
mod upload;
mod user_profile;
pub mod wa_body;
mod whatsapp;

use super::Sim;
use super::errors::{GraphError, Surface};
use super::faults::{PathKind, Terminal};
use super::ratelimit::Usage;
use super::record::{CallRecord, HeldCall, redact_body, redact_query};
use super::state::{AccountRef, State};
use super::time::now_ms;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A Graph request, parsed once.
#[derive(Clone, Debug)]
pub struct GraphRequest {
    pub method: Method,
    /// The full path, version included.
    pub path: String,
    /// Path segments after the version.
    pub segments: Vec<String>,
    pub query: BTreeMap<String, String>,
    /// JSON body, or a form body as an object (JSON-valued fields decoded); Null when empty.
    pub body: Value,
    /// The body could not be read as JSON or form.
    pub body_error: Option<String>,
    pub token: Option<String>,
    pub proof: Option<String>,
}

impl GraphRequest {
    /// A parameter from the query or, failing that, the body (Graph accepts both).
    #[must_use]
    pub fn param(&self, name: &str) -> Option<String> {
        if let Some(v) = self.query.get(name) {
            return Some(v.clone());
        }
        match self.body.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// A parameter as JSON: the body's value, or the query's text decoded when it is JSON.
    #[must_use]
    pub fn json_param(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.body.get(name) {
            return Some(v.clone());
        }
        let raw = self.query.get(name)?;
        Some(serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.clone())))
    }
}

/// What an operation answers.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    /// For the usage headers: the business id, the BUC type and this call's usage.
    pub usage: Option<(String, &'static str, Usage)>,
}

impl Answer {
    #[must_use]
    pub fn ok(body: Value) -> Answer {
        Answer {
            status: StatusCode::OK,
            body,
            usage: None,
        }
    }

    #[must_use]
    pub fn with_usage(mut self, id: &str, kind: &'static str, usage: Usage) -> Answer {
        self.usage = Some((id.to_owned(), kind, usage));
        self
    }
}

impl From<GraphError> for Answer {
    fn from(e: GraphError) -> Answer {
        Answer {
            status: e.status,
            body: e.body(),
            usage: None,
        }
    }
}

/// The operation a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// POST `/{IG_ID|PAGE_ID|PHONE_NUMBER_ID|me}/messages`.
    Messages(String),
    /// POST `/{COMMENT_ID}/replies`.
    Replies(String),
    /// GET `/{COMMENT_ID}/replies`.
    ListReplies(String),
    /// POST `/{COMMENT_ID}?hide=…`.
    Hide(String),
    /// GET `/{WABA_ID}/message_templates`.
    Templates(String),
    /// GET `/{IG_ID|PAGE_ID|me}/conversations`.
    Conversations(String),
    /// GET `/{CONVERSATION_ID}` and `/{CONVERSATION_ID}/messages`.
    Conversation { id: String, edge: bool },
    /// `/{IG_ID|me}/messenger_profile`.
    Profile(String),
    /// GET `/me`.
    Me,
    /// GET `/{PAGE_ID|IG_ID|PHONE_NUMBER_ID}`: the account node as its token sees it.
    Node(String),
    /// `/{id|me}/subscribed_apps`.
    SubscribedApps(String),
    /// GET `/{MEDIA_ID}`: a WhatsApp media node (`media::node`).
    Media(String),
    /// GET `/{IGSID}?fields=…`: Instagram's User Profile API (`user_profile::get`).
    UserProfile(String),
    /// POST `/{PHONE_NUMBER_ID}/media`, `/{IG_ID|PAGE_ID|me}/message_attachments`
    /// (`upload::upload`).
    Upload(String),
    /// Anything else.
    Unknown,
}

impl Op {
    fn kind(&self) -> PathKind {
        match self {
            Op::Messages(_) => PathKind::Messages,
            Op::Replies(_) | Op::ListReplies(_) => PathKind::Replies,
            Op::Hide(_) => PathKind::Hide,
            Op::Templates(_) => PathKind::Templates,
            Op::Conversations(_) | Op::Conversation { .. } => PathKind::Conversations,
            Op::Profile(_) => PathKind::MessengerProfile,
            Op::Me | Op::Node(_) | Op::SubscribedApps(_) => PathKind::Account,
            Op::Media(_) | Op::UserProfile(_) | Op::Upload(_) => PathKind::Other,
            Op::Unknown => PathKind::Other,
        }
    }
}

fn is_version(seg: &str) -> bool {
    let Some(rest) = seg.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.splitn(2, '.');
    let major_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let minor_ok = parts
        .next()
        .is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    major_ok && minor_ok
}

/// Path segments after an optional `v{N}.{M}` prefix.
#[must_use]
pub fn segments(path: &str) -> Vec<String> {
    let mut segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    if segs.first().is_some_and(|s| is_version(s)) {
        segs.remove(0);
    }
    segs
}

/// The operation for a method and path, looking ids up where the path alone is ambiguous.
#[must_use]
pub fn route(st: &State, req: &GraphRequest) -> Op {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let m = &req.method;
    match segs.as_slice() {
        ["me"] if *m == Method::GET => Op::Me,
        [id] if *m == Method::GET && st.conversation_ids.contains_key(*id) => Op::Conversation {
            id: (*id).to_owned(),
            edge: false,
        },
        [id] if *m == Method::GET && st.account(id).is_some() => Op::Node((*id).to_owned()),
        [id] if *m == Method::GET && st.media.contains_key(*id) => Op::Media((*id).to_owned()),
        [id] if *m == Method::GET
            && req
                .query
                .get("fields")
                .is_some_and(|f| f.contains("follower_count")) =>
        {
            Op::UserProfile((*id).to_owned())
        }
        [id] if *m == Method::POST && req.param("hide").is_some() => Op::Hide((*id).to_owned()),
        [id, "messages"] if *m == Method::POST => Op::Messages((*id).to_owned()),
        [id, "messages"] if *m == Method::GET => Op::Conversation {
            id: (*id).to_owned(),
            edge: true,
        },
        [id, "replies"] if *m == Method::POST => Op::Replies((*id).to_owned()),
        [id, "replies"] if *m == Method::GET => Op::ListReplies((*id).to_owned()),
        [id, "message_templates"] if *m == Method::GET => Op::Templates((*id).to_owned()),
        [id, "conversations"] if *m == Method::GET => Op::Conversations((*id).to_owned()),
        [id, "messenger_profile"] => Op::Profile((*id).to_owned()),
        [id, "media" | "message_attachments"] if *m == Method::POST => Op::Upload((*id).to_owned()),
        [id, "subscribed_apps"] => Op::SubscribedApps((*id).to_owned()),
        _ => Op::Unknown,
    }
}

/// The account a path addresses, when the simulator can tell before authenticating.
fn addressed_account(st: &State, req: &GraphRequest, op: &Op) -> Option<String> {
    let by_id = |id: &str| -> Option<String> {
        if id == "me" {
            return req
                .token
                .as_deref()
                .and_then(|t| st.token_owner(t))
                .map(|a| a.id().to_owned());
        }
        st.account(id).map(|a| a.id().to_owned())
    };
    match op {
        Op::Messages(id)
        | Op::Conversations(id)
        | Op::Profile(id)
        | Op::SubscribedApps(id)
        | Op::Upload(id)
        | Op::Node(id) => by_id(id),
        Op::Replies(c) | Op::ListReplies(c) | Op::Hide(c) => {
            st.comments.get(c).map(|c| c.account.clone())
        }
        Op::Conversation { id, .. } => st.conversation_ids.get(id).map(|(a, _)| a.clone()),
        Op::Media(id) => st.media.get(id).map(|m| m.account.clone()),
        Op::UserProfile(_) => by_id("me"),
        Op::Templates(waba) => st
            .whatsapp
            .values()
            .find(|n| &n.waba_id == waba)
            .map(|n| n.phone_number_id.clone()),
        Op::Me => by_id("me"),
        Op::Unknown => None,
    }
}

/// Authenticates a request for `account` (IG id or phone number id).
///
/// A token of another account gets 100 / 33 (Graph hides objects a token may not see); an
/// unknown token 190 / 467; an expired one 190 / 463; a wrong `appsecret_proof` 100.
///
/// # Errors
/// The matching Graph error.
pub fn authenticate(
    sim: &Sim,
    st: &State,
    req: &GraphRequest,
    account: &str,
    shown_id: &str,
    now: i64,
) -> Result<Surface, GraphError> {
    let target = st
        .account(account)
        .ok_or_else(|| GraphError::unknown_object(shown_id))?;
    let surface = surface(&target);
    let token = req.token.as_deref().ok_or_else(GraphError::token_missing)?;
    let (expected, expires) = match target {
        AccountRef::Instagram(a) => (a.token.as_str(), a.token_expires_at_ms),
        AccountRef::WhatsApp(n) => (n.token.as_str(), n.token_expires_at_ms),
    };
    // A token a login flow minted for this account has its own expiry.
    let issued = st.issued_for(token, target.id());
    let expires = issued.unwrap_or(expires);
    if token != expected && issued.is_none() {
        // A system-user token may serve every number of its WABA.
        let same_waba = match (target, st.token_owner(token)) {
            (AccountRef::WhatsApp(n), Some(AccountRef::WhatsApp(o))) => n.waba_id == o.waba_id,
            _ => false,
        };
        if !same_waba {
            return Err(if st.token_owner(token).is_some() {
                GraphError::unknown_object(shown_id)
            } else {
                GraphError::token_invalid(surface)
            });
        }
    }
    if expires.is_some_and(|e| e <= now) {
        return Err(GraphError::token_expired(surface));
    }
    if let Some(proof) = &req.proof
        && !proof_matches(sim, token, proof)
    {
        return Err(GraphError::bad_appsecret_proof());
    }
    Ok(surface)
}

/// Instagram accounts are addressed the way their login works (meta-platform.md §6.1):
/// Instagram Login by IG id (graph.instagram.com), Facebook Login by Page id
/// (graph.facebook.com); `me` works for both. Anything else is an object the token cannot
/// see, so a sender that mixes the two paths up is told so, as Meta would.
///
/// # Errors
/// 100 / 33 for the other login's id.
pub fn check_addressing(st: &State, account: &str, shown_id: &str) -> Result<(), GraphError> {
    let Some(a) = st.instagram.get(account) else {
        return Ok(());
    };
    let ok = shown_id == "me"
        || match a.login {
            super::accounts::Login::Instagram => shown_id == a.ig_id,
            super::accounts::Login::Facebook => a.page_id.as_deref() == Some(shown_id),
        };
    if ok {
        Ok(())
    } else {
        Err(GraphError::unknown_object(shown_id))
    }
}

/// Which surface answers for an account.
#[must_use]
pub fn surface(account: &AccountRef<'_>) -> Surface {
    match account {
        AccountRef::Instagram(a) if a.login == super::accounts::Login::Facebook => {
            Surface::FacebookLogin
        }
        AccountRef::Instagram(_) => Surface::InstagramLogin,
        AccountRef::WhatsApp(_) => Surface::WhatsApp,
    }
}

/// `appsecret_proof` = hex HMAC-SHA256 of the token keyed with an app secret.
fn proof_matches(sim: &Sim, token: &str, proof: &str) -> bool {
    let secrets = std::iter::once(&sim.config.meta_app_secret)
        .chain(sim.config.instagram_app_secret.as_ref());
    for secret in secrets {
        let Ok(mut mac) = <Hmac<Sha256>>::new_from_slice(secret.expose().as_bytes()) else {
            continue;
        };
        mac.update(token.as_bytes());
        let Ok(bytes) = hex::decode(proof) else {
            return false;
        };
        if mac.verify_slice(&bytes).is_ok() {
            return true;
        }
    }
    false
}

/// Resolves `me` or an id to the account it names (for operations addressed by account).
///
/// # Errors
/// 100 / 33 when nothing is known by that id; token errors for `me` without a good token.
pub fn resolve_account(st: &State, req: &GraphRequest, id: &str) -> Result<String, GraphError> {
    if id == "me" {
        let token = req.token.as_deref().ok_or_else(GraphError::token_missing)?;
        return st
            .token_owner(token)
            .map(|a| a.id().to_owned())
            .ok_or(GraphError::token_invalid(Surface::Graph));
    }
    st.account(id)
        .map(|a| a.id().to_owned())
        .ok_or_else(|| GraphError::unknown_object(id))
}

/// The fallback handler: every path that is not `/_sim/…`.
///
/// The work runs in its own task: a client that gives up (the `timeout` fault) closes the
/// connection, which would cancel the handler; Meta, like this task, finishes and records
/// the call anyway.
pub async fn handle(
    AxumState(sim): AxumState<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = parse_request(method, &uri, &headers, &body);
    match tokio::spawn(serve_call(sim, req)).await {
        Ok(answer) => respond(answer),
        Err(e) => {
            tracing::error!(error = %e, "graph call task failed");
            respond(GraphError::transient(StatusCode::INTERNAL_SERVER_ERROR).into())
        }
    }
}

/// A call received and not yet answered: in [`super::record::Records::in_flight`] until
/// [`record`] takes it out, or until its task ends any other way.
struct Held<'a> {
    sim: &'a Sim,
    /// `None` once taken out.
    key: Option<u64>,
    /// When the call arrived.
    started: i64,
}

impl Held<'_> {
    /// Takes the call out of flight under `st`, the lock its record is pushed under, so
    /// whoever sees the call recorded sees it answered.
    fn answered(mut self, st: &mut State) {
        if let Some(key) = self.key.take() {
            st.records.in_flight.remove(&key);
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.sim.lock().records.in_flight.remove(&key);
        }
    }
}

async fn serve_call(sim: Arc<Sim>, req: GraphRequest) -> Answer {
    let (op, account, scope, held) = {
        let mut st = sim.lock();
        let op = route(&st, &req);
        let account = addressed_account(&st, &req, &op);
        let scope = account
            .as_deref()
            .map(|a| st.scope_ids(a))
            .unwrap_or_default();
        let key = st.records.hold(HeldCall {
            method: req.method.to_string(),
            path_kind: op.kind(),
            account: account.clone(),
        });
        let held = Held {
            sim: &sim,
            key: Some(key),
            started: now_ms(),
        };
        (op, account, scope, held)
    };
    let started = held.started;
    let faults = {
        let refs: Vec<&str> = scope.iter().map(String::as_str).collect();
        sim.lock().faults.for_call(op.kind(), &refs, started)
    };
    if faults.slow_ms > 0 {
        sim.sleep(faults.slow_ms).await;
    }
    let fault_surface = if op.kind() == PathKind::Messages
        && account
            .as_deref()
            .is_some_and(|a| sim.lock().whatsapp.contains_key(a))
    {
        Surface::WhatsApp
    } else {
        Surface::Graph
    };
    let before = match faults.terminal {
        Some(Terminal::ServerError {
            deliver: false,
            status,
        }) => Some(Answer::from(GraphError::transient(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        ))),
        Some(Terminal::Timeout { deliver: false, ms }) => {
            sim.sleep(ms).await;
            Some(Answer::from(GraphError::transient(
                StatusCode::SERVICE_UNAVAILABLE,
            )))
        }
        Some(Terminal::RateLimit { code }) => Some(Answer::from(GraphError::throttled(code))),
        Some(Terminal::TokenExpired) => {
            Some(Answer::from(GraphError::token_expired(fault_surface)))
        }
        _ => None,
    };
    let answer = match before {
        Some(a) => a,
        None => {
            let a = dispatch(&sim, &req, &op, now_ms());
            match faults.terminal {
                Some(Terminal::ServerError {
                    deliver: true,
                    status,
                }) => Answer::from(GraphError::transient(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                )),
                Some(Terminal::Timeout { deliver: true, ms }) => {
                    sim.sleep(ms).await;
                    Answer::from(GraphError::transient(StatusCode::SERVICE_UNAVAILABLE))
                }
                _ => a,
            }
        }
    };
    record(&sim, &req, &op, account, &answer, faults.names, held);
    answer
}

fn dispatch(sim: &Arc<Sim>, req: &GraphRequest, op: &Op, now: i64) -> Answer {
    if let Some(e) = &req.body_error {
        return GraphError::invalid_parameter(e.clone()).into();
    }
    let result = match op {
        Op::Messages(id) => {
            let target = {
                let st = sim.lock();
                resolve_account(&st, req, id).map(|a| {
                    let whatsapp = st.whatsapp.contains_key(&a);
                    (a, whatsapp)
                })
            };
            match target {
                Ok((account, true)) => whatsapp::send(sim, req, &account, id, now),
                Ok((account, false)) => instagram::send(sim, req, &account, id, now),
                Err(e) => Err(e),
            }
        }
        Op::Replies(c) => comments::reply(sim, req, c, now),
        Op::ListReplies(c) => comments::list_replies(sim, req, c, now),
        Op::Hide(c) => comments::hide(sim, req, c, now),
        Op::Templates(waba) => whatsapp::templates(sim, req, waba, now),
        Op::Conversations(id) => conversations::list(sim, req, id, now),
        Op::Conversation { id, edge } => conversations::messages(sim, req, id, *edge, now),
        Op::Profile(id) => profile::handle(sim, req, id, now),
        Op::Me => account::me(sim, req, now),
        Op::Node(id) => account::node(sim, req, id, now),
        Op::SubscribedApps(id) => account::subscribed_apps(sim, req, id, now),
        Op::Media(id) => media::node(sim, req, id, now),
        Op::UserProfile(id) => user_profile::get(sim, req, id, now),
        Op::Upload(id) => upload::upload(sim, req, id, now),
        Op::Unknown => Err(match req.segments.first() {
            Some(id) if req.segments.len() == 1 => GraphError::unknown_object(id),
            _ => GraphError::unknown_path(&req.path),
        }),
    };
    result.unwrap_or_else(Answer::from)
}

fn record(
    sim: &Sim,
    req: &GraphRequest,
    op: &Op,
    account: Option<String>,
    answer: &Answer,
    faults: Vec<&'static str>,
    held: Held<'_>,
) {
    let at_ms = held.started;
    let mut st = sim.lock();
    let token = st.token_match(req.token.as_deref(), account.as_deref());
    let proof_ok = req
        .proof
        .as_deref()
        .zip(req.token.as_deref())
        .map(|(p, t)| proof_matches(sim, t, p));
    let mut query = req.query.clone();
    redact_query(&mut query, &token, proof_ok);
    let mut body = req.body.clone();
    redact_body(&mut body, &token, proof_ok);
    let seq = st.records.seq();
    // The path never holds a token (the query might, so it is not logged).
    tracing::debug!(method = %req.method, path = %req.path, status = answer.status.as_u16(), "graph call");
    st.records.calls.push(CallRecord {
        seq,
        at_ms,
        method: req.method.to_string(),
        path: req.path.clone(),
        path_kind: op.kind(),
        account,
        token: token.shown(),
        query,
        body,
        status: answer.status.as_u16(),
        response: answer.body.clone(),
        faults,
    });
    held.answered(&mut st);
}

fn respond(answer: Answer) -> Response {
    let mut resp = (answer.status, axum::Json(answer.body)).into_response();
    if let Some((id, kind, usage)) = &answer.usage {
        let pct = usage.percent;
        let regain_min = (usage.regain_ms + 59_999) / 60_000;
        let buc = json!({ id.as_str(): [{
            "type": kind, "call_count": pct, "total_cputime": pct / 4, "total_time": pct / 4,
            "estimated_time_to_regain_access": regain_min,
        }]});
        let app = json!({"call_count": pct, "total_cputime": pct / 4, "total_time": pct / 4});
        for (name, value) in [
            ("x-business-use-case-usage", buc.to_string()),
            ("x-app-usage", app.to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
    }
    if answer.status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("OAuth \"Facebook Platform\" \"invalid_token\""),
        );
    }
    resp
}

// ---- request parsing ----

fn parse_request(method: Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> GraphRequest {
    let path = uri.path().to_owned();
    let query: BTreeMap<String, String> = uri.query().map(parse_form).unwrap_or_default();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // The boundary is case-sensitive, so multipart is read before lowercasing.
    let (body, body_error) = if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        match upload::parse_multipart(content_type, body) {
            Ok(v) => (v, None),
            Err(e) => (Value::Null, Some(e)),
        }
    } else {
        parse_body(&content_type.to_ascii_lowercase(), body)
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .or_else(|| v.strip_prefix("OAuth "))
        })
        .map(|t| t.trim().to_owned());
    let from_body = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let token = bearer
        .or_else(|| query.get("access_token").cloned())
        .or_else(|| from_body("access_token"))
        .filter(|t| !t.is_empty());
    let proof = query
        .get("appsecret_proof")
        .cloned()
        .or_else(|| from_body("appsecret_proof"));
    GraphRequest {
        method,
        segments: segments(&path),
        path,
        query,
        body,
        body_error,
        token,
        proof,
    }
}

fn parse_body(content_type: &str, bytes: &[u8]) -> (Value, Option<String>) {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return (Value::Null, None);
    }
    let looks_json = content_type.contains("json")
        || bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{' || *b == b'[');
    if looks_json {
        return match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => (v, None),
            Err(_) => (Value::Null, Some("Invalid JSON in the request body".into())),
        };
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return (Value::Null, Some("body is not UTF-8".into()));
    };
    let map = parse_form(text);
    let obj: serde_json::Map<String, Value> = map
        .into_iter()
        .map(|(k, v)| {
            let trimmed = v.trim_start();
            let decoded = if trimmed.starts_with('{') || trimmed.starts_with('[') {
                serde_json::from_str(&v).unwrap_or(Value::String(v))
            } else {
                Value::String(v)
            };
            (k, decoded)
        })
        .collect();
    (Value::Object(obj), None)
}

/// `a=1&b=x%20y` → map; `+` is a space.
#[must_use]
pub fn parse_form(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_optional_and_any() {
        assert_eq!(segments("/v23.0/178/messages"), vec!["178", "messages"]);
        assert_eq!(segments("/v7/me"), vec!["me"]);
        assert_eq!(segments("/me/messages"), vec!["me", "messages"]);
        assert_eq!(segments("/vx.1/me"), vec!["vx.1", "me"]);
    }

    #[test]
    fn forms_decode() {
        let m = parse_form("a=1&b=x%20y+z&recipient=%7B%22id%22%3A%2212%22%7D&c");
        assert_eq!(m["a"], "1");
        assert_eq!(m["b"], "x y z");
        assert_eq!(m["recipient"], "{\"id\":\"12\"}");
        assert_eq!(m["c"], "");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%e2%9c%a8"), "\u{2728}");
    }

    #[test]
    fn form_bodies_decode_json_fields() {
        let (v, err) = parse_body(
            "application/x-www-form-urlencoded",
            b"recipient=%7B%22id%22%3A%2212%22%7D&message=%7B%22text%22%3A%22hi%22%7D&access_token=t",
        );
        assert!(err.is_none());
        assert_eq!(v["recipient"]["id"], "12");
        assert_eq!(v["message"]["text"], "hi");
        assert_eq!(v["access_token"], "t");
        let (_, err) = parse_body("application/json", b"{not json");
        assert!(err.is_some());
    }
}
