//! Meta's login flows, played for the connect flows (meta-platform.md §12, §13.3).
//!
//! | route | what |
//! |---|---|
//! | `GET /oauth/authorize` | Instagram Login consent page (base `INSTAGRAM_OAUTH_URL`): one Allow button per Instagram-Login account of the consenting user, and Deny; validates `client_id`, `response_type=code`, the three `instagram_business_*` scopes |
//! | `POST /oauth/authorize` | the page's buttons: 302 to `redirect_uri?code=…&state=…#_`, or `?error=access_denied&error_reason=user_denied&error_description=…&state=…` |
//! | `POST /oauth/access_token` | code (single-use, 1 h) → short-lived token (1 h): `{"data":[{access_token,user_id,permissions}]}`, or the flat shape |
//! | `GET /access_token?grant_type=ig_exchange_token` | → long-lived `{access_token, token_type, expires_in}` |
//! | `GET /refresh_access_token?grant_type=ig_refresh_token` | a long-lived token at least 24 h old and unexpired → a new one |
//! | `GET /v{N}/dialog/oauth`, `POST` | Facebook Login consent page: the user's Pages with their linked Instagram accounts |
//! | `GET /v{N}/oauth/access_token` | Facebook Login or Embedded Signup code → short-lived user token (1 h) / business token |
//! | `GET /v{N}/oauth/access_token?grant_type=fb_exchange_token` | `client_id`, `client_secret`, `fb_exchange_token` (a user token) → long-lived user token `{access_token, token_type, expires_in}` (`long_lived_expires_in`) |
//! | `GET /v{N}/me` (user token) | `{id, name}` of the consenting Facebook user |
//! | `GET /v{N}/me/accounts` | the user's Pages: `{data:[{id,name,access_token,tasks,instagram_business_account}]}`; the Page tokens expire with a short-lived user token and never with a long-lived one |
//! | `GET /v{N}/{WABA_ID}/phone_numbers` | the WABA's numbers |
//! | `GET /sdk.js` | a stand-in of Meta's JS SDK: `FB.init`, `FB.login(cb, opts)` opening `/embedded-signup/dialog` in an iframe |
//! | `GET /embedded-signup/dialog`, `POST /embedded-signup/finish` | the signup dialog: Finish posts the session info (`WA_EMBEDDED_SIGNUP` / `FINISH`) and the code (30 s) to the parent; Cancel posts `CANCEL` |
//!
//! Tokens minted here are accepted by the Graph endpoints for their account (`State::issued_for`),
//! with their own expiry on the simulator's clock (wall clock + `clock_offset_ms`).
//! `/me` and `subscribed_apps` for account tokens are served by `graph/account.rs`.
//!
//! Control API: `GET /_sim/oauth` (settings), `PUT /_sim/oauth` (merge settings: `instagram_app_id`,
//! `meta_app_id`, `instagram_accounts`, `pages`, `whatsapp`, `user_id`, `user_name`, `token_shape`
//! `"data"|"flat"`, `fail_exchange`, `fail_user_exchange`, `long_lived_expires_in`, `refreshed_expires_in`,
//! `min_refresh_age_secs`, `clock_offset_ms`, `signup_code_ttl_secs`), `POST /_sim/oauth/embedded-signup`
//! (what Finish does → `{code, waba_id, phone_number_id, business_id}`), `GET /_sim/oauth/tokens`
//! (issued tokens without their text), `POST /_sim/oauth/expire {account}` (expires every
//! token issued for it). Every call is in the call log (`path_kind: "oauth"`), tokens,
//! codes and secrets replaced.

use super::Sim;
use super::accounts::Login;
use super::errors::GraphError;
use super::faults::PathKind;
use super::graph::{self, parse_form, segments};
use super::record::CallRecord;
use super::state::State;
use super::time::now_ms;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chatdesk_base::graph_url::with_params as with_query;
use chatdesk_base::html::escape as esc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const HOUR_MS: i64 = 3_600_000;

/// The knobs tests turn (`PUT /_sim/oauth`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthConfig {
    /// When set, Instagram Login's `client_id` must be this.
    pub instagram_app_id: Option<String>,
    /// When set, Facebook Login's `client_id` must be this.
    pub meta_app_id: Option<String>,
    /// IG ids the consenting user may pick (Instagram Login); `None`: every Instagram-Login account.
    pub instagram_accounts: Option<Vec<String>>,
    /// IG ids of Facebook-Login accounts whose Pages the user manages; `None`: all of them.
    pub pages: Option<Vec<String>>,
    /// The phone number id Embedded Signup hands over; `None`: the first number.
    pub whatsapp: Option<String>,
    pub user_id: String,
    pub user_name: String,
    /// `data` (documented) or `flat` answer of the Instagram code exchange.
    pub token_shape: String,
    /// Code exchanges answer an error.
    pub fail_exchange: bool,
    /// Facebook Login's `fb_exchange_token` (long-lived user token) answers an error.
    pub fail_user_exchange: bool,
    pub long_lived_expires_in: i64,
    pub refreshed_expires_in: i64,
    pub min_refresh_age_secs: i64,
    /// Added to the wall clock for token ages and expiries.
    pub clock_offset_ms: i64,
    pub signup_code_ttl_secs: i64,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            instagram_app_id: None,
            meta_app_id: None,
            instagram_accounts: None,
            pages: None,
            whatsapp: None,
            user_id: "10150000000000001".into(),
            user_name: "Sim Owner".into(),
            token_shape: "data".into(),
            fail_exchange: false,
            fail_user_exchange: false,
            long_lived_expires_in: 5_183_944,
            refreshed_expires_in: 5_183_944,
            min_refresh_age_secs: 86_400,
            clock_offset_ms: 0,
            signup_code_ttl_secs: 30,
        }
    }
}

/// Which flow a code came from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Flow {
    Instagram { ig_id: String },
    Facebook,
    Signup { phone_number_id: String },
}

#[derive(Clone, Debug)]
struct Code {
    flow: Flow,
    redirect_uri: Option<String>,
    expires_at: i64,
}

/// What a minted token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Instagram Login, 1 h.
    ShortLived,
    /// Instagram Login, about 60 days.
    LongLived,
    /// Facebook Login user token from the code exchange, 1 h: only `me`, `me/accounts`.
    User,
    /// Facebook Login long-lived user token (`fb_exchange_token`): the same calls.
    UserLongLived,
    /// A Page token of Facebook Login.
    Page,
    /// Embedded Signup's business token.
    Business,
}

impl TokenKind {
    /// A Facebook user's token, which acts for no account.
    fn is_user(self) -> bool {
        matches!(self, TokenKind::User | TokenKind::UserLongLived)
    }
}

/// A token the simulator minted (its text is the map key, never shown).
#[derive(Clone, Debug, Serialize)]
pub struct Issued {
    /// IG id or phone number id; the user id for user tokens.
    pub account: String,
    pub kind: TokenKind,
    pub issued_at_ms: i64,
    pub expires_at_ms: Option<i64>,
}

/// The login flows' memory.
#[derive(Default, Debug)]
pub struct OAuthState {
    pub config: OAuthConfig,
    codes: HashMap<String, Code>,
    pub tokens: HashMap<String, Issued>,
}

impl OAuthState {
    fn now(&self) -> i64 {
        now_ms().saturating_add(self.config.clock_offset_ms)
    }
}

impl State {
    /// A minted token that may act for `account` (its own, or a business token of a number
    /// of the same WABA), with its expiry moved onto the wall clock.
    #[must_use]
    pub fn issued_for(&self, token: &str, account: &str) -> Option<Option<i64>> {
        let i = self.oauth.tokens.get(token)?;
        if i.kind.is_user() {
            return None;
        }
        let serves = i.account == account
            || (i.kind == TokenKind::Business
                && match (self.whatsapp.get(&i.account), self.whatsapp.get(account)) {
                    (Some(a), Some(b)) => a.waba_id == b.waba_id,
                    _ => false,
                });
        serves.then(|| {
            i.expires_at_ms
                .map(|e| e.saturating_sub(self.oauth.config.clock_offset_ms))
        })
    }

    /// The account a minted (non-user) token acts for.
    #[must_use]
    pub fn issued_account(&self, token: &str) -> Option<&str> {
        self.oauth
            .tokens
            .get(token)
            .filter(|i| !i.kind.is_user())
            .map(|i| i.account.as_str())
    }
}

fn random(prefix: &str, n: usize) -> String {
    let tail = chatdesk_base::ids::random_text(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        n,
    );
    format!("{prefix}{tail}")
}

fn mint(st: &mut State, account: &str, kind: TokenKind, lifetime_ms: Option<i64>) -> String {
    let prefix = match kind {
        TokenKind::ShortLived => "IGQVsim",
        TokenKind::LongLived => "IGAAsim",
        // Both user kinds share a prefix, so leak scans looking for it catch either.
        TokenKind::User | TokenKind::UserLongLived => "EAAUsim",
        TokenKind::Page => "EAAPsim",
        TokenKind::Business => "EAABsim",
    };
    let token = random(prefix, 48);
    let now = st.oauth.now();
    st.oauth.tokens.insert(
        token.clone(),
        Issued {
            account: account.to_owned(),
            kind,
            issued_at_ms: now,
            expires_at_ms: lifetime_ms.map(|l| now.saturating_add(l)),
        },
    );
    token
}

// ---- dispatch ----

/// The simulator's fallback: login-flow paths here, everything else to the Graph handler.
pub async fn handle(
    AxumState(sim): AxumState<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let segs = segments(uri.path());
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let query: BTreeMap<String, String> = uri.query().map(parse_form).unwrap_or_default();
    let form = || -> BTreeMap<String, String> { parse_form(&String::from_utf8_lossy(&body)) };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("OAuth "))
        })
        .map(|t| t.trim().to_owned())
        .or_else(|| query.get("access_token").cloned());
    let is_user_token = |t: &Option<String>| {
        t.as_deref().is_some_and(|t| {
            sim.lock()
                .oauth
                .tokens
                .get(t)
                .is_some_and(|i| i.kind.is_user())
        })
    };
    let m = &method;
    let (params, answer) = match segs.as_slice() {
        ["oauth", "authorize"] if *m == Method::GET => (query.clone(), ig_consent(&sim, &query)),
        ["oauth", "authorize"] if *m == Method::POST => {
            let f = form();
            (f.clone(), ig_decide(&sim, &f))
        }
        ["oauth", "access_token"] if *m == Method::POST => {
            let f = form();
            (f.clone(), ig_code(&sim, &f))
        }
        ["access_token"] if *m == Method::GET => (query.clone(), ig_long_lived(&sim, &query)),
        ["refresh_access_token"] if *m == Method::GET => (query.clone(), ig_refresh(&sim, &query)),
        ["dialog", "oauth"] if *m == Method::GET => (query.clone(), fb_consent(&sim, &query)),
        ["dialog", "oauth"] if *m == Method::POST => {
            let f = form();
            (f.clone(), fb_decide(&sim, &f))
        }
        ["oauth", "access_token"]
            if *m == Method::GET
                && query.get("grant_type").map(String::as_str) == Some("fb_exchange_token") =>
        {
            (query.clone(), fb_exchange(&sim, &query))
        }
        ["oauth", "access_token"] if *m == Method::GET => (query.clone(), fb_code(&sim, &query)),
        ["me"] if *m == Method::GET && is_user_token(&bearer) => {
            (query.clone(), fb_me(&sim, bearer.as_deref()))
        }
        ["me", "accounts"] if *m == Method::GET => {
            (query.clone(), fb_pages(&sim, bearer.as_deref()))
        }
        [waba, "phone_numbers"] if *m == Method::GET && is_waba(&sim, waba) => {
            (query.clone(), phone_numbers(&sim, waba, bearer.as_deref()))
        }
        ["sdk.js"] if *m == Method::GET => return sdk_js(),
        ["embedded-signup", "dialog"] if *m == Method::GET => {
            (query.clone(), signup_dialog(&sim, &query))
        }
        ["embedded-signup", "finish"] if *m == Method::POST => (
            BTreeMap::new(),
            signup_finish(&sim).map_or_else(|e| e, |v| Out::Json(StatusCode::OK, v)),
        ),
        _ => return graph::handle(AxumState(sim), method, uri, headers, body).await,
    };
    // The exchange carries its user token as `fb_exchange_token`; the log names its owner
    // like any other token's.
    let shown = match (
        segs.as_slice(),
        params.get("grant_type").map(String::as_str),
    ) {
        (["oauth", "access_token"], Some("fb_exchange_token")) => {
            params.get("fb_exchange_token").cloned()
        }
        _ => bearer,
    };
    record(&sim, &method, uri.path(), params, shown.as_deref(), &answer);
    answer.into_response()
}

fn is_waba(sim: &Sim, id: &str) -> bool {
    sim.lock().whatsapp.values().any(|n| n.waba_id == id)
}

/// What a login-flow route answers.
enum Out {
    Json(StatusCode, Value),
    Html(StatusCode, String),
    Redirect(String),
}

impl Out {
    fn status(&self) -> u16 {
        match self {
            Out::Json(s, _) | Out::Html(s, _) => s.as_u16(),
            Out::Redirect(_) => 302,
        }
    }
}

impl IntoResponse for Out {
    fn into_response(self) -> Response {
        match self {
            Out::Json(s, v) => (s, Json(v)).into_response(),
            Out::Html(s, h) => {
                (s, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], h).into_response()
            }
            Out::Redirect(to) => {
                let mut r = StatusCode::FOUND.into_response();
                if let Ok(v) = HeaderValue::from_str(&to) {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                r
            }
        }
    }
}

impl From<GraphError> for Out {
    fn from(e: GraphError) -> Out {
        Out::Json(e.status, e.body())
    }
}

/// Instagram's OAuth endpoints answer errors in their own flat shape.
fn ig_error(message: &str) -> Out {
    Out::Json(
        StatusCode::BAD_REQUEST,
        json!({"error_type": "OAuthException", "code": 400, "error_message": message}),
    )
}

fn record(
    sim: &Sim,
    method: &Method,
    path: &str,
    mut params: BTreeMap<String, String>,
    token: Option<&str>,
    answer: &Out,
) {
    let mut st = sim.lock();
    let shown = token.map(|t| match st.oauth.tokens.get(t) {
        Some(i) if i.kind.is_user() => format!("user:{}", i.account),
        Some(i) => format!("account:{}", i.account),
        None => st
            .token_owner(t)
            .map_or_else(|| "invalid".to_owned(), |a| format!("account:{}", a.id())),
    });
    for k in ["access_token", "client_secret", "code", "fb_exchange_token"] {
        if params.contains_key(k) {
            params.insert(k.into(), "[redacted]".into());
        }
    }
    let response = match answer {
        Out::Json(_, v) => {
            let mut v = v.clone();
            redact_tokens(&mut v);
            v
        }
        Out::Html(..) => json!("[html]"),
        // The location carries the code; only its shape is kept.
        Out::Redirect(to) => json!({"location": to.split('?').next().unwrap_or_default()}),
    };
    let seq = st.records.seq();
    st.records.calls.push(CallRecord {
        seq,
        at_ms: now_ms(),
        method: method.to_string(),
        path: path.to_owned(),
        path_kind: PathKind::Oauth,
        account: None,
        token: shown,
        query: params,
        body: Value::Null,
        status: answer.status(),
        response,
        faults: Vec::new(),
    });
}

fn redact_tokens(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k == "access_token" || k == "code" {
                    *x = json!("[redacted]");
                } else {
                    redact_tokens(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_tokens),
        _ => {}
    }
}

// ---- pages ----

fn html_page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
<body style=\"font-family:sans-serif;max-width:32rem;margin:2rem auto\"><h1>{}</h1>{body}</body></html>",
        esc(title),
        esc(title)
    )
}

fn bad_page(message: &str) -> Out {
    Out::Html(
        StatusCode::BAD_REQUEST,
        html_page(
            "Invalid request",
            &format!("<p id=\"error\">{}</p>", esc(message)),
        ),
    )
}

fn hidden(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                esc(k),
                esc(v)
            )
        })
        .collect()
}

// ---- Instagram Login ----

const IG_SCOPES: [&str; 3] = [
    "instagram_business_basic",
    "instagram_business_manage_messages",
    "instagram_business_manage_comments",
];

/// Checks an authorize request; answers the consenting user's account ids.
fn ig_check(st: &State, q: &BTreeMap<String, String>) -> Result<Vec<String>, String> {
    let client_id = q.get("client_id").map(String::as_str).unwrap_or_default();
    if client_id.is_empty() {
        return Err("Missing client_id".into());
    }
    if let Some(expected) = &st.oauth.config.instagram_app_id
        && expected != client_id
    {
        return Err("Invalid platform app".into());
    }
    if q.get("response_type").map(String::as_str) != Some("code") {
        return Err("response_type must be code".into());
    }
    if q.get("redirect_uri").is_none_or(String::is_empty) {
        return Err("Missing redirect_uri".into());
    }
    let scope = q.get("scope").map(String::as_str).unwrap_or_default();
    let given: Vec<&str> = scope.split([',', ' ']).filter(|s| !s.is_empty()).collect();
    for s in IG_SCOPES {
        if !given.contains(&s) {
            return Err(format!("Invalid scope: {s} is required"));
        }
    }
    let accounts: Vec<String> = st
        .instagram
        .values()
        .filter(|a| a.login == Login::Instagram)
        .filter(|a| {
            st.oauth
                .config
                .instagram_accounts
                .as_ref()
                .is_none_or(|l| l.contains(&a.ig_id))
        })
        .map(|a| a.ig_id.clone())
        .collect();
    Ok(accounts)
}

/// The authorize request's parameters that a consent form sends back when submitted.
fn carried(q: &BTreeMap<String, String>) -> Vec<(&'static str, &str)> {
    [
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
    ]
    .into_iter()
    .map(|k| (k, q.get(k).map_or("", String::as_str)))
    .collect()
}

fn ig_consent(sim: &Sim, q: &BTreeMap<String, String>) -> Out {
    let st = sim.lock();
    let accounts = match ig_check(&st, q) {
        Ok(a) => a,
        Err(e) => return bad_page(&e),
    };
    let carry = carried(q);
    let mut body = String::from("<p>Choose the Instagram professional account to connect.</p><ul>");
    for id in &accounts {
        let username = st
            .instagram
            .get(id)
            .map(|a| a.username.clone())
            .unwrap_or_default();
        body.push_str(&format!(
            "<li><form method=\"post\" action=\"/oauth/authorize\">{}{}<span>@{}</span> \
<button type=\"submit\" id=\"allow-{}\" name=\"allow\" value=\"1\">Allow</button></form></li>",
            hidden(&carry),
            hidden(&[("account", id)]),
            esc(&username),
            esc(id),
        ));
    }
    body.push_str(&format!(
        "</ul><form method=\"post\" action=\"/oauth/authorize\">{}<button type=\"submit\" id=\"deny\" name=\"deny\" value=\"1\">Deny</button></form>",
        hidden(&carry)
    ));
    Out::Html(
        StatusCode::OK,
        html_page("Allow access to Instagram", &body),
    )
}

fn ig_decide(sim: &Sim, f: &BTreeMap<String, String>) -> Out {
    let mut st = sim.lock();
    let accounts = match ig_check(&st, f) {
        Ok(a) => a,
        Err(e) => return bad_page(&e),
    };
    let redirect = f.get("redirect_uri").cloned().unwrap_or_default();
    let state = f.get("state").cloned().unwrap_or_default();
    if f.contains_key("deny") {
        return Out::Redirect(with_query(
            &redirect,
            &[
                ("error", "access_denied"),
                ("error_reason", "user_denied"),
                ("error_description", "The user denied your request."),
                ("state", &state),
            ],
        ));
    }
    let Some(account) = f.get("account").filter(|a| accounts.contains(a)).cloned() else {
        return bad_page("Choose one of your accounts");
    };
    let code = random("AQ", 64);
    let expires_at = st.oauth.now() + HOUR_MS;
    st.oauth.codes.insert(
        code.clone(),
        Code {
            flow: Flow::Instagram { ig_id: account },
            redirect_uri: Some(redirect.clone()),
            expires_at,
        },
    );
    Out::Redirect(format!(
        "{}#_",
        with_query(&redirect, &[("code", &code), ("state", &state)])
    ))
}

fn app_secret_ok(sim: &Sim, secret: Option<&String>) -> bool {
    let Some(s) = secret else { return false };
    s == sim.config.meta_app_secret.expose()
        || sim
            .config
            .instagram_app_secret
            .as_ref()
            .is_some_and(|i| s == i.expose())
}

/// Takes a code of the expected flow: single-use, unexpired, same `redirect_uri`.
fn take_code(
    st: &mut State,
    code: Option<&String>,
    redirect_uri: Option<&String>,
) -> Result<Flow, &'static str> {
    let code = code.ok_or("Missing code")?;
    // Removed whatever happens next: a code is spent by its first use.
    let c = st
        .oauth
        .codes
        .remove(code)
        .ok_or("This authorization code has been used")?;
    if c.expires_at <= st.oauth.now() {
        return Err("This authorization code has expired");
    }
    if let Some(expected) = &c.redirect_uri
        && redirect_uri != Some(expected)
    {
        return Err(
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        );
    }
    Ok(c.flow)
}

fn ig_code(sim: &Sim, f: &BTreeMap<String, String>) -> Out {
    let mut st = sim.lock();
    if st.oauth.config.fail_exchange {
        return ig_error("The authorization code exchange failed (simulated)");
    }
    if f.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return ig_error("Invalid grant_type");
    }
    if !app_secret_ok(sim, f.get("client_secret")) {
        return ig_error("Error validating client secret.");
    }
    if let Some(expected) = &st.oauth.config.instagram_app_id
        && f.get("client_id") != Some(expected)
    {
        return ig_error("Invalid platform app");
    }
    let ig_id = match take_code(&mut st, f.get("code"), f.get("redirect_uri")) {
        Ok(Flow::Instagram { ig_id }) => ig_id,
        Ok(_) => return ig_error("Invalid authorization code"),
        Err(e) => return ig_error(e),
    };
    let token = mint(&mut st, &ig_id, TokenKind::ShortLived, Some(HOUR_MS));
    let item = json!({
        "access_token": token, "user_id": ig_id.parse::<u64>().map_or(json!(ig_id), |n| json!(n)),
        "permissions": IG_SCOPES.join(","),
    });
    let body = if st.oauth.config.token_shape == "flat" {
        item
    } else {
        json!({"data": [item]})
    };
    Out::Json(StatusCode::OK, body)
}

fn ig_long_lived(sim: &Sim, q: &BTreeMap<String, String>) -> Out {
    let mut st = sim.lock();
    if q.get("grant_type").map(String::as_str) != Some("ig_exchange_token") {
        return GraphError::invalid_parameter("grant_type must be ig_exchange_token").into();
    }
    if !app_secret_ok(sim, q.get("client_secret")) {
        return GraphError::invalid_parameter("Error validating client secret.").into();
    }
    let short = match live_ig_token(&st, q, TokenKind::ShortLived, "short-lived") {
        Ok(token) => token,
        Err(refused) => return refused,
    };
    let secs = st.oauth.config.long_lived_expires_in;
    long_lived_answer(&mut st, &short.account, secs)
}

/// The unexpired Instagram Login token of `kind` named by `access_token`, or Meta's refusal.
fn live_ig_token(
    st: &State,
    q: &BTreeMap<String, String>,
    kind: TokenKind,
    kind_name: &str,
) -> Result<Issued, Out> {
    let Some(token) = q
        .get("access_token")
        .and_then(|t| st.oauth.tokens.get(t))
        .cloned()
    else {
        return Err(GraphError::token_invalid(super::errors::Surface::InstagramLogin).into());
    };
    if token.kind != kind {
        let msg = format!("access_token must be a {kind_name} token");
        return Err(GraphError::invalid_parameter(msg).into());
    }
    if token.expires_at_ms.is_some_and(|e| e <= st.oauth.now()) {
        return Err(GraphError::token_expired(super::errors::Surface::InstagramLogin).into());
    }
    Ok(token)
}

/// Mints a long-lived token for `account` valid `secs` and answers it as Meta does.
fn long_lived_answer(st: &mut State, account: &str, secs: i64) -> Out {
    let token = mint(st, account, TokenKind::LongLived, Some(secs * 1000));
    Out::Json(
        StatusCode::OK,
        json!({"access_token": token, "token_type": "bearer", "expires_in": secs}),
    )
}

fn ig_refresh(sim: &Sim, q: &BTreeMap<String, String>) -> Out {
    let mut st = sim.lock();
    if q.get("grant_type").map(String::as_str) != Some("ig_refresh_token") {
        return GraphError::invalid_parameter("grant_type must be ig_refresh_token").into();
    }
    let long = match live_ig_token(&st, q, TokenKind::LongLived, "long-lived") {
        Ok(token) => token,
        Err(refused) => return refused,
    };
    if st.oauth.now() - long.issued_at_ms < st.oauth.config.min_refresh_age_secs * 1000 {
        return GraphError::invalid_parameter(
            "The access token must be at least 24 hours old to be refreshed",
        )
        .into();
    }
    let secs = st.oauth.config.refreshed_expires_in;
    long_lived_answer(&mut st, &long.account, secs)
}

// ---- Facebook Login ----

/// The Facebook-Login accounts (IG id, Page id) whose Pages the consenting user manages.
fn user_pages(st: &State) -> Vec<(String, String)> {
    st.instagram
        .values()
        .filter(|a| a.login == Login::Facebook)
        .filter(|a| {
            st.oauth
                .config
                .pages
                .as_ref()
                .is_none_or(|l| l.contains(&a.ig_id))
        })
        .filter_map(|a| Some((a.ig_id.clone(), a.page_id.clone()?)))
        .collect()
}

fn fb_check(st: &State, q: &BTreeMap<String, String>) -> Result<(), String> {
    let client_id = q.get("client_id").map(String::as_str).unwrap_or_default();
    if client_id.is_empty() {
        return Err("Missing client_id".into());
    }
    if let Some(expected) = &st.oauth.config.meta_app_id
        && expected != client_id
    {
        return Err("Invalid App ID".into());
    }
    if q.get("redirect_uri").is_none_or(String::is_empty) {
        return Err("Missing redirect_uri".into());
    }
    Ok(())
}

fn fb_consent(sim: &Sim, q: &BTreeMap<String, String>) -> Out {
    let st = sim.lock();
    if let Err(e) = fb_check(&st, q) {
        return bad_page(&e);
    }
    let carry = carried(q);
    let mut body = format!(
        "<p>{} — allow access to these Pages and their Instagram accounts?</p><ul>",
        esc(&st.oauth.config.user_name)
    );
    for (ig, page) in user_pages(&st) {
        let username = st
            .instagram
            .get(&ig)
            .map(|a| a.username.clone())
            .unwrap_or_default();
        body.push_str(&format!(
            "<li>Page {} · Instagram @{}</li>",
            esc(&page),
            esc(&username)
        ));
    }
    body.push_str(&format!(
        "</ul><form method=\"post\">{}<button type=\"submit\" id=\"allow\" name=\"allow\" value=\"1\">Allow</button></form>\
<form method=\"post\">{}<button type=\"submit\" id=\"deny\" name=\"deny\" value=\"1\">Deny</button></form>",
        hidden(&carry),
        hidden(&carry)
    ));
    Out::Html(StatusCode::OK, html_page("Log in with Facebook", &body))
}

fn fb_decide(sim: &Sim, f: &BTreeMap<String, String>) -> Out {
    let mut st = sim.lock();
    if let Err(e) = fb_check(&st, f) {
        return bad_page(&e);
    }
    let redirect = f.get("redirect_uri").cloned().unwrap_or_default();
    let state = f.get("state").cloned().unwrap_or_default();
    if f.contains_key("deny") {
        return Out::Redirect(with_query(
            &redirect,
            &[
                ("error", "access_denied"),
                ("error_code", "200"),
                ("error_description", "Permissions error"),
                ("error_reason", "user_denied"),
                ("state", &state),
            ],
        ));
    }
    let code = random("AQD", 64);
    let expires_at = st.oauth.now() + HOUR_MS;
    st.oauth.codes.insert(
        code.clone(),
        Code {
            flow: Flow::Facebook,
            redirect_uri: Some(redirect.clone()),
            expires_at,
        },
    );
    Out::Redirect(format!(
        "{}#_=_",
        with_query(&redirect, &[("code", &code), ("state", &state)])
    ))
}

fn fb_code(sim: &Sim, q: &BTreeMap<String, String>) -> Out {
    let mut st = sim.lock();
    if st.oauth.config.fail_exchange {
        return GraphError::invalid_parameter("The code exchange failed (simulated)").into();
    }
    if !app_secret_ok(sim, q.get("client_secret")) {
        return GraphError::invalid_parameter("Error validating client secret.").into();
    }
    if let Some(expected) = &st.oauth.config.meta_app_id
        && q.get("client_id") != Some(expected)
    {
        return GraphError::invalid_parameter(
            "Error validating application. Invalid application ID.",
        )
        .into();
    }
    match take_code(&mut st, q.get("code"), q.get("redirect_uri")) {
        Ok(Flow::Facebook) => {
            // Short-lived, as a browser login's token is; `fb_exchange_token` makes it last.
            let user = st.oauth.config.user_id.clone();
            let token = mint(&mut st, &user, TokenKind::User, Some(HOUR_MS));
            Out::Json(
                StatusCode::OK,
                json!({"access_token": token, "token_type": "bearer", "expires_in": HOUR_MS / 1000}),
            )
        }
        Ok(Flow::Signup { phone_number_id }) => {
            // A business system-user token, documented to default to never expire.
            let token = mint(&mut st, &phone_number_id, TokenKind::Business, None);
            Out::Json(
                StatusCode::OK,
                json!({"access_token": token, "token_type": "bearer"}),
            )
        }
        Ok(Flow::Instagram { .. }) => {
            GraphError::invalid_parameter("Invalid verification code format.").into()
        }
        Err(e) => GraphError::invalid_parameter(e).into(),
    }
}

/// `fb_exchange_token`: a live user token of either kind → a long-lived user token.
fn fb_exchange(sim: &Sim, q: &BTreeMap<String, String>) -> Out {
    let mut st = sim.lock();
    if st.oauth.config.fail_user_exchange {
        return GraphError::invalid_parameter("The token exchange failed (simulated)").into();
    }
    if !app_secret_ok(sim, q.get("client_secret")) {
        return GraphError::invalid_parameter("Error validating client secret.").into();
    }
    if q.get("client_id").is_none_or(String::is_empty) {
        return GraphError::invalid_parameter("Missing client_id parameter.").into();
    }
    if let Some(expected) = &st.oauth.config.meta_app_id
        && q.get("client_id") != Some(expected)
    {
        return GraphError::invalid_parameter(
            "Error validating application. Invalid application ID.",
        )
        .into();
    }
    let user = match user_token(&st, q.get("fb_exchange_token").map(String::as_str)) {
        Ok(i) => i,
        Err(e) => return e.into(),
    };
    let secs = st.oauth.config.long_lived_expires_in;
    let token = mint(
        &mut st,
        &user.account,
        TokenKind::UserLongLived,
        Some(secs * 1000),
    );
    Out::Json(
        StatusCode::OK,
        json!({"access_token": token, "token_type": "bearer", "expires_in": secs}),
    )
}

fn user_token(st: &State, token: Option<&str>) -> Result<Issued, GraphError> {
    let token = token.ok_or_else(GraphError::token_missing)?;
    let i = st
        .oauth
        .tokens
        .get(token)
        .filter(|i| i.kind.is_user())
        .ok_or(GraphError::token_invalid(super::errors::Surface::Graph))?;
    if i.expires_at_ms.is_some_and(|e| e <= st.oauth.now()) {
        return Err(GraphError::token_expired(super::errors::Surface::Graph));
    }
    Ok(i.clone())
}

fn fb_me(sim: &Sim, token: Option<&str>) -> Out {
    let st = sim.lock();
    match user_token(&st, token) {
        Ok(i) => Out::Json(
            StatusCode::OK,
            json!({"id": i.account, "name": st.oauth.config.user_name}),
        ),
        Err(e) => e.into(),
    }
}

/// A stable picture URL and follower count for an account (Meta's fields, made up).
#[must_use]
pub fn profile_of(ig_id: &str) -> (String, i64) {
    let n: i64 = ig_id.bytes().map(|b| i64::from(b - b'0'.min(b))).sum();
    (
        format!("https://scontent.sim.example/v/{ig_id}/profile.jpg"),
        1000 + n * 37,
    )
}

fn fb_pages(sim: &Sim, token: Option<&str>) -> Out {
    let mut st = sim.lock();
    let user = match user_token(&st, token) {
        Ok(i) => i,
        Err(e) => return e.into(),
    };
    // Meta's rule: a Page token read with a short-lived user token lapses with it; one
    // read with a long-lived user token does not expire. Neither answer states a lifetime.
    let now = st.oauth.now();
    let page_lifetime = match user.kind {
        TokenKind::User => user.expires_at_ms.map(|e| e.saturating_sub(now)),
        _ => None,
    };
    let mut data = Vec::new();
    for (ig, page) in user_pages(&st) {
        let username = st
            .instagram
            .get(&ig)
            .map(|a| a.username.clone())
            .unwrap_or_default();
        let page_token = mint(&mut st, &ig, TokenKind::Page, page_lifetime);
        let (picture, followers) = profile_of(&ig);
        data.push(json!({
            "id": page, "name": format!("{username} Page"), "access_token": page_token,
            "category": "Shopping & retail",
            "tasks": ["ANALYZE", "ADVERTISE", "MESSAGING", "MODERATE", "CREATE_CONTENT", "MANAGE"],
            "instagram_business_account": {"id": ig, "username": username,
                "profile_picture_url": picture, "followers_count": followers},
        }));
    }
    Out::Json(
        StatusCode::OK,
        json!({"data": data, "paging": {"cursors": {"before": "QVFI", "after": "QVFI"}}}),
    )
}

fn phone_numbers(sim: &Sim, waba: &str, token: Option<&str>) -> Out {
    let st = sim.lock();
    let Some(token) = token else {
        return GraphError::token_missing().into();
    };
    let numbers: Vec<_> = st.whatsapp.values().filter(|n| n.waba_id == waba).collect();
    let ok = numbers.iter().any(|n| {
        n.token == token
            || st
                .issued_for(token, &n.phone_number_id)
                .is_some_and(|e| e.is_none_or(|e| e > now_ms()))
    });
    if !ok {
        return GraphError::unknown_object(waba).into();
    }
    let data: Vec<Value> = numbers
        .iter()
        .map(|n| {
            json!({"id": n.phone_number_id, "display_phone_number": n.display_phone_number,
                   "verified_name": format!("Business {}", n.display_phone_number),
                   "code_verification_status": "VERIFIED", "quality_rating": "GREEN"})
        })
        .collect();
    Out::Json(StatusCode::OK, json!({ "data": data }))
}

// ---- Embedded Signup ----

const SDK_JS: &str = r#"(function () {
  var script = document.currentScript;
  var origin = new URL(script ? script.src : location.href).origin;
  var pending = null, frame = null;
  function close() { if (frame && frame.parentNode) frame.parentNode.removeChild(frame); frame = null; }
  window.addEventListener('message', function (event) {
    if (event.origin !== origin || !pending) return;
    var d = event.data;
    if (d && d.type === 'SIM_ES_CODE') {
      var cb = pending; pending = null; close();
      cb({ authResponse: { code: d.code }, status: 'connected' });
    } else if (d && d.type === 'SIM_ES_CANCEL') {
      var cb2 = pending; pending = null; close();
      cb2({ authResponse: null, status: 'unknown' });
    }
  });
  window.FB = {
    _appId: null,
    init: function (opts) { this._appId = (opts && opts.appId) || null; },
    login: function (cb, opts) {
      pending = cb;
      close();
      frame = document.createElement('iframe');
      frame.id = 'sim-embedded-signup';
      frame.title = 'WhatsApp Embedded Signup';
      frame.style.cssText = 'position:fixed;top:10%;left:10%;width:80%;height:70%;border:1px solid #888;background:#fff;z-index:1000';
      frame.src = origin + '/embedded-signup/dialog?app_id=' + encodeURIComponent(this._appId || '') +
        '&config_id=' + encodeURIComponent((opts && opts.config_id) || '');
      document.body.appendChild(frame);
    }
  };
  if (typeof window.fbAsyncInit === 'function') { window.fbAsyncInit(); }
})();
"#;

fn sdk_js() -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            // Pages load the SDK with `crossorigin="anonymous"`, as Meta's snippet does.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        SDK_JS,
    )
        .into_response()
}

const DIALOG_JS: &str = r#"
document.getElementById('finish').addEventListener('click', function () {
  fetch('/embedded-signup/finish', { method: 'POST' }).then(function (r) { return r.json(); }).then(function (d) {
    parent.postMessage(JSON.stringify({ type: 'WA_EMBEDDED_SIGNUP', event: 'FINISH', version: '3',
      data: { phone_number_id: d.phone_number_id, waba_id: d.waba_id, business_id: d.business_id } }), '*');
    parent.postMessage({ type: 'SIM_ES_CODE', code: d.code }, '*');
  });
});
document.getElementById('cancel').addEventListener('click', function () {
  parent.postMessage(JSON.stringify({ type: 'WA_EMBEDDED_SIGNUP', event: 'CANCEL', version: '3',
    data: { current_step: 'PHONE_NUMBER_SETUP' } }), '*');
  parent.postMessage({ type: 'SIM_ES_CANCEL' }, '*');
});
"#;

fn signup_number(st: &State) -> Option<super::accounts::WhatsAppNumber> {
    match &st.oauth.config.whatsapp {
        Some(id) => st.whatsapp.get(id).cloned(),
        None => st.whatsapp.values().next().cloned(),
    }
}

fn signup_dialog(sim: &Sim, q: &BTreeMap<String, String>) -> Out {
    let st = sim.lock();
    if q.get("config_id").is_none_or(String::is_empty) {
        return bad_page("Missing config_id");
    }
    let Some(n) = signup_number(&st) else {
        return bad_page("No WhatsApp number to offer");
    };
    let body = format!(
        "<p>Business account {} · number {}</p>\
<button type=\"button\" id=\"finish\">Finish</button> <button type=\"button\" id=\"cancel\">Cancel</button>\
<script>{DIALOG_JS}</script>",
        esc(&n.waba_id),
        esc(&n.display_phone_number)
    );
    Out::Html(StatusCode::OK, html_page("WhatsApp Business signup", &body))
}

/// Mints a signup code as Finish does: `{code, waba_id, phone_number_id, business_id}`.
fn signup_finish(sim: &Sim) -> Result<Value, Out> {
    let mut st = sim.lock();
    let n = signup_number(&st).ok_or_else(|| {
        Out::Json(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "not_found", "message": "no WhatsApp number to sign up"}}),
        )
    })?;
    let code = random("AQB", 64);
    let expires_at = st.oauth.now() + st.oauth.config.signup_code_ttl_secs * 1000;
    st.oauth.codes.insert(
        code.clone(),
        Code {
            flow: Flow::Signup {
                phone_number_id: n.phone_number_id.clone(),
            },
            redirect_uri: None,
            expires_at,
        },
    );
    Ok(json!({
        "code": code, "waba_id": n.waba_id, "phone_number_id": n.phone_number_id,
        "business_id": format!("9{}", n.waba_id),
    }))
}

// ---- control API ----

/// `/_sim/oauth…`.
pub fn control_routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/oauth", get(get_config).put(put_config))
        .route("/_sim/oauth/embedded-signup", post(control_signup))
        .route("/_sim/oauth/tokens", get(list_tokens))
        .route("/_sim/oauth/expire", post(expire))
}

fn control_error(status: StatusCode, message: String) -> Response {
    (
        status,
        Json(json!({"error": {"code": "invalid", "message": message}})),
    )
        .into_response()
}

async fn get_config(AxumState(sim): AxumState<Arc<Sim>>) -> Json<Value> {
    let st = sim.lock();
    Json(
        json!({"config": st.oauth.config, "codes": st.oauth.codes.len(), "tokens": st.oauth.tokens.len()}),
    )
}

async fn put_config(AxumState(sim): AxumState<Arc<Sim>>, body: Bytes) -> Response {
    let patch: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(o)) => Value::Object(o),
        _ => return control_error(StatusCode::BAD_REQUEST, "a JSON object".into()),
    };
    let mut st = sim.lock();
    let mut current = serde_json::to_value(&st.oauth.config).unwrap_or_else(|_| json!({}));
    if let (Some(c), Value::Object(p)) = (current.as_object_mut(), patch) {
        c.extend(p);
    }
    match serde_json::from_value::<OAuthConfig>(current) {
        Ok(cfg) => {
            st.oauth.config = cfg;
            Json(json!({"config": st.oauth.config})).into_response()
        }
        Err(e) => control_error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn control_signup(AxumState(sim): AxumState<Arc<Sim>>) -> Response {
    match signup_finish(&sim) {
        Ok(v) => (StatusCode::CREATED, Json(v)).into_response(),
        Err(out) => out.into_response(),
    }
}

async fn list_tokens(AxumState(sim): AxumState<Arc<Sim>>) -> Json<Value> {
    let st = sim.lock();
    let mut tokens: Vec<&Issued> = st.oauth.tokens.values().collect();
    tokens.sort_by_key(|i| i.issued_at_ms);
    Json(json!({ "tokens": tokens }))
}

#[derive(Deserialize)]
struct ExpireBody {
    account: String,
}

async fn expire(AxumState(sim): AxumState<Arc<Sim>>, body: Bytes) -> Response {
    let Ok(b) = serde_json::from_slice::<ExpireBody>(&body) else {
        return control_error(StatusCode::BAD_REQUEST, "`{\"account\"}` expected".into());
    };
    let mut st = sim.lock();
    let now = st.oauth.now();
    let mut n = 0;
    for i in st.oauth.tokens.values_mut() {
        if i.account == b.account {
            i.expires_at_ms = Some(now - 1);
            n += 1;
        }
    }
    Json(json!({ "expired": n })).into_response()
}
