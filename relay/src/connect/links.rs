//! Connect links and OAuth states: single-use, expiring secrets bound to a tenant and a
//! flow. Each is `<tenant>.<random>`; only its SHA-256 is stored, so a copy of the database
//! cannot start a flow. Taking one removes it in the same step (`Store::take_once`), so a
//! replayed link or state finds nothing.
//!
//! States and choices are also bound to the **browser** that started the flow: the start
//! page sets an `HttpOnly`, `SameSite=Lax` cookie ([`BROWSER_COOKIE`], a random nonce kept
//! for as long as a state lives) and the nonce is part of the stored hash, so a state or a
//! code carried to another browser, or fed into another flow, finds nothing.
//!
//! A flow that must remember something between two browser requests (Facebook Login's Page
//! chooser keeps its candidates, Page tokens included) mints a `choice` with
//! [`mint_sealed`]: the value is sealed with the vault's current key, with the tenant and
//! the record's key as associated data, and lives only in the record; [`take_sealed`]
//! removes the record and opens the value once.
//!
//! A connect link's record also carries the link's own secret, sealed the same way, so the
//! tenant's owners can see their unused links again (`GET …/connect-links`, the desk's
//! settings screen) instead of minting new ones each time; a copy of the database alone
//! still cannot open them.

use super::{Grant, Kind};
use crate::api::{ApiError, ApiJson, tenant_scope};
use crate::principal::{Access, Principal};
use crate::secret::Secret;
use crate::state::AppState;
use crate::store::{OnceRecord, StoreError};
use crate::vault::VaultError;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::{ChannelId, Millis, TenantId};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// What a secret is for; a link cannot be used as a state or the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Link,
    State,
    /// A second step inside a flow (a Page chooser's form), carrying a sealed value.
    Choice,
    /// A proven connect waiting for the operator (`claim.rs`), carrying a sealed value.
    Claim,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Link => "link",
            Purpose::State => "state",
            Purpose::Choice => "choice",
            Purpose::Claim => "claim",
        }
    }
}

/// Why a link or state was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("unknown or already used")]
    Unknown,
    #[error("expired")]
    Expired,
    #[error("made for {0}")]
    OtherKind(&'static str),
    /// The request does not come from the browser that started the flow (no cookie).
    #[error("another browser")]
    OtherBrowser,
    /// The sealed value did not open (its key is no longer loaded, or it was tampered with).
    #[error("sealed value: {0}")]
    Sealed(#[from] VaultError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The cookie naming the browser a flow runs in.
pub const BROWSER_COOKIE: &str = "chatdesk_connect";

/// The browser a flow runs in: the nonce of its [`BROWSER_COOKIE`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Browser(String);

impl Browser {
    /// The browser named by a request's cookies, if it carries a well-formed nonce.
    #[must_use]
    pub fn of(headers: &HeaderMap) -> Option<Browser> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == BROWSER_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| {
                v.len() == 43
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .map(Browser)
    }

    /// The request's browser, or a new one (then the answer must set its cookie).
    #[must_use]
    pub fn of_or_new(headers: &HeaderMap) -> (Browser, bool) {
        match Browser::of(headers) {
            Some(b) => (b, false),
            None => (Browser(random_secret()), true),
        }
    }

    /// The `Set-Cookie` value that names this browser for `ttl`; `Secure` when the relay's
    /// public URL is https.
    #[must_use]
    pub fn cookie(&self, public_url: &str, ttl: Duration) -> String {
        let secure = public_url.starts_with("https://");
        cookie::Cookie::build((BROWSER_COOKIE, self.0.clone()))
            .path("/")
            .http_only(true)
            .same_site(cookie::SameSite::Lax)
            .secure(secure)
            .max_age(cookie::time::Duration::seconds(
                i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
            ))
            .build()
            .to_string()
    }
}

fn random_secret() -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn key(purpose: Purpose, secret: &str, browser: Option<&Browser>) -> String {
    let text = match browser {
        Some(b) => format!("{}\0{secret}\0{}", purpose.as_str(), b.0),
        None => format!("{}\0{secret}", purpose.as_str()),
    };
    hex::encode(Sha256::digest(text))
}

/// The tenant a link or state names (before it is checked), for the brand of the page.
#[must_use]
pub fn claimed_tenant(secret: &str) -> Option<TenantId> {
    let (tenant, rest) = secret.split_once('.')?;
    let ok = !tenant.is_empty()
        && !rest.is_empty()
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then(|| TenantId::new(tenant))
}

/// The associated data a sealed value is bound to besides the tenant: its record's key, so
/// a sealed value copied into another record does not open.
fn sealed_binding(key: &str) -> ChannelId {
    ChannelId(format!("once.{key}"))
}

/// Mints a secret for `tenant`; answers it and when it expires.
///
/// # Errors
/// Storage failed.
pub async fn mint(
    app: &AppState,
    tenant: &TenantId,
    purpose: Purpose,
    kind: Kind,
    ttl: Duration,
    browser: Option<&Browser>,
) -> Result<(String, Millis), StoreError> {
    mint_with(app, tenant, purpose, kind, ttl, None, browser).await
}

/// Mints a `choice` or `claim` for `tenant` whose record carries `value`, sealed (see the
/// module doc).
///
/// # Errors
/// Storage failed.
pub async fn mint_sealed(
    app: &AppState,
    tenant: &TenantId,
    purpose: Purpose,
    kind: Kind,
    ttl: Duration,
    value: &Secret,
    browser: Option<&Browser>,
) -> Result<(String, Millis), StoreError> {
    mint_with(app, tenant, purpose, kind, ttl, Some(value), browser).await
}

async fn mint_with(
    app: &AppState,
    tenant: &TenantId,
    purpose: Purpose,
    kind: Kind,
    ttl: Duration,
    value: Option<&Secret>,
    browser: Option<&Browser>,
) -> Result<(String, Millis), StoreError> {
    let secret = format!("{tenant}.{}", random_secret());
    let key = key(purpose, &secret, browser);
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let expires_at = app.clock.now().plus(ttl_ms);
    let keys = app.outbox.keys();
    let sealed = match (value, purpose) {
        (Some(v), _) => Some(keys.seal(tenant, &sealed_binding(&key), v.expose())),
        (None, Purpose::Link) => Some(keys.seal(tenant, &sealed_binding(&key), &secret)),
        (None, _) => None,
    };
    let record = OnceRecord {
        tenant: tenant.clone(),
        purpose: purpose.as_str().into(),
        kind: kind.as_str().into(),
        expires_at,
        sealed,
    };
    app.store.put_once(&key, record).await?;
    app.store.sync().await?;
    Ok((secret, expires_at))
}

/// Takes a secret: it works once, before it expires, for the flow it was made for.
///
/// # Errors
/// Unknown (never minted, or used), expired, another flow's, or storage failed.
pub async fn take(
    app: &AppState,
    purpose: Purpose,
    secret: &str,
    kinds: &[Kind],
    browser: Option<&Browser>,
) -> Result<Grant, Refusal> {
    take_record(app, purpose, secret, kinds, browser)
        .await
        .map(|(grant, _)| grant)
}

/// Takes a `choice` as [`take`] does and opens the value its record carries (`None` when
/// it carries none).
///
/// # Errors
/// As [`take`]; `Sealed` when the value does not open.
pub async fn take_sealed(
    app: &AppState,
    purpose: Purpose,
    secret: &str,
    kinds: &[Kind],
    browser: Option<&Browser>,
) -> Result<(Grant, Option<Secret>), Refusal> {
    let (grant, sealed) = take_record(app, purpose, secret, kinds, browser).await?;
    let value = match sealed {
        Some((key, sealed)) => Some(Secret::new(app.outbox.keys().open(
            grant.tenant(),
            &sealed_binding(&key),
            &sealed,
        )?)),
        None => None,
    };
    Ok((grant, value))
}

/// The grant, and the record's key with its sealed value when it has one.
async fn take_record(
    app: &AppState,
    purpose: Purpose,
    secret: &str,
    kinds: &[Kind],
    browser: Option<&Browser>,
) -> Result<(Grant, Option<(String, String)>), Refusal> {
    if secret.is_empty() || secret.len() > 200 {
        return Err(Refusal::Unknown);
    }
    let key = key(purpose, secret, browser);
    let Some(record) = app.store.take_once(&key).await? else {
        return Err(Refusal::Unknown);
    };
    // Durable before the flow goes on, so a crash cannot give the secret a second life.
    app.store.sync().await?;
    if record.purpose != purpose.as_str() {
        return Err(Refusal::Unknown);
    }
    if record.expires_at <= app.clock.now() {
        return Err(Refusal::Expired);
    }
    let kind = Kind::parse(&record.kind).ok_or(Refusal::Unknown)?;
    if !kinds.contains(&kind) {
        return Err(Refusal::OtherKind(kind.label()));
    }
    Ok((
        Grant {
            tenant: record.tenant,
            kind,
        },
        record.sealed.map(|s| (key, s)),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    kind: String,
}

/// The browser URL a link of `kind` opens.
#[must_use]
pub fn url(public: &str, kind: Kind, secret: &str) -> String {
    let path = match kind {
        Kind::Instagram => "/oauth/instagram/start",
        Kind::Facebook => "/oauth/facebook/start",
        Kind::Whatsapp => "/whatsapp/connect",
    };
    crate::graph_url::with_params(&format!("{public}{path}"), &[("link", secret)])
}

/// `POST /v1/tenants/{tenant}/connect-links` `{kind}` (operator, owner) → `201 {url,
/// expires_at}` (`expires_at` in Unix milliseconds).
///
/// # Errors
/// Not allowed, unknown tenant, bad kind, storage.
pub async fn create_link(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    ApiJson(input): ApiJson<NewLink>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    let kind = Kind::parse(&input.kind).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_field",
            "`kind` must be instagram, facebook or whatsapp",
        )
    })?;
    let (secret, expires_at) = mint(
        &app,
        scope.tenant(),
        Purpose::Link,
        kind,
        app.config.connect_link_ttl,
        None,
    )
    .await?;
    let url = url(&app.config.public_url, kind, &secret);
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"url": url, "expires_at": expires_at.0})),
    )
        .into_response())
}

/// `GET /v1/tenants/{tenant}/connect-links` (operator, owner) → `{"links": [{kind, url,
/// expires_at}]}`: the tenant's links not used and not expired, soonest to expire first.
/// Links minted before links were kept sealed cannot be shown and are left out.
///
/// # Errors
/// Not allowed, unknown tenant, storage.
pub async fn list_links(
    State(app): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Manage).await?;
    let now = app.clock.now();
    let mut links = Vec::new();
    for (key, record) in app.store.once_records(scope.tenant()).await? {
        if record.purpose != Purpose::Link.as_str() || record.expires_at <= now {
            continue;
        }
        let (Some(kind), Some(sealed)) = (Kind::parse(&record.kind), record.sealed) else {
            continue;
        };
        let Ok(secret) = app
            .outbox
            .keys()
            .open(scope.tenant(), &sealed_binding(&key), &sealed)
        else {
            tracing::warn!(tenant = %scope.tenant(), "a connect link's sealed secret does not open; left out");
            continue;
        };
        links.push((
            record.expires_at,
            kind,
            url(&app.config.public_url, kind, &secret),
        ));
    }
    links.sort_by_key(|(at, _, _)| *at);
    let links: Vec<_> = links
        .into_iter()
        .map(|(at, kind, url)| json!({"kind": kind.as_str(), "url": url, "expires_at": at.0}))
        .collect();
    Ok(axum::Json(json!({ "links": links })).into_response())
}

/// The first step of every connect flow: spends the connect link of `kind` and mints the
/// single-use `state` bound to its tenant and to `browser`, that the provider hands back.
/// `Err` is the page to show instead (a refused link, or storage unavailable); nothing is
/// minted then.
pub async fn state_for_link(
    app: &AppState,
    link: &str,
    kind: Kind,
    brand: Option<&str>,
    browser: &Browser,
) -> Result<String, axum::response::Response> {
    let grant = take(app, Purpose::Link, link, &[kind], None)
        .await
        .map_err(|r| super::pages::refused(brand, &r, "connect link"))?;
    mint(
        app,
        grant.tenant(),
        Purpose::State,
        kind,
        app.config.connect_state_ttl,
        Some(browser),
    )
    .await
    .map(|(state, _)| state)
    .map_err(|_| super::pages::unavailable(brand))
}

/// Adds the browser's cookie to a start page's answer when the browser is new to us.
pub fn with_browser(
    app: &AppState,
    mut resp: axum::response::Response,
    browser: &Browser,
    new: bool,
) -> axum::response::Response {
    // The nonce names a browser, not a flow: it outlives any one state, so a state that
    // expired is reported as expired rather than as another browser's.
    let lifetime = (app.config.connect_link_ttl + app.config.connect_state_ttl)
        .max(Duration::from_secs(24 * 3600));
    if new
        && let Ok(v) =
            axum::http::HeaderValue::from_str(&browser.cookie(&app.config.public_url, lifetime))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
