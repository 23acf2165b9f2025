//! Instagram Login (meta-platform.md §12.1): `GET /oauth/instagram/start?link=…` consumes
//! the link and sends the browser to Meta's consent page with a fresh state;
//! `GET /oauth/instagram/callback` takes the state, exchanges the code for a short-lived
//! then a long-lived token, identifies the account, subscribes it to the webhook fields
//! and saves the channel.

use super::links::{self, Browser, Purpose};
use super::meta::{self, MetaError};
use super::pages;
use super::save::{self, Connected, SaveError, Saved, Subscription};
use super::{Grant, Kind};
use crate::state::AppState;
use crate::store::ChannelKind;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use protocol::Millis;
use serde::Deserialize;

/// The scopes Instagram Login asks for.
pub const SCOPES: &str = "instagram_business_basic,instagram_business_manage_messages,instagram_business_manage_comments";

#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    link: String,
}

/// `GET /oauth/instagram/start?link=…`.
pub async fn start(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Response {
    let brand = pages::brand_of(&app, links::claimed_tenant(&q.link).as_ref()).await;
    let brand = brand.as_deref();
    // Checked before the link is consumed, so a misconfigured server does not burn it.
    let Some(app_id) = app.config.instagram_app_id.clone() else {
        return not_configured(brand, "INSTAGRAM_APP_ID");
    };
    let (browser, new) = Browser::of_or_new(&headers);
    let state = match links::state_for_link(&app, &q.link, Kind::Instagram, brand, &browser).await {
        Ok(state) => state,
        Err(page) => return page,
    };
    let url = crate::graph_url::with_params(
        &format!("{}/oauth/authorize", app.config.instagram_oauth_url),
        &[
            ("client_id", &app_id),
            ("redirect_uri", &redirect_uri(&app)),
            ("response_type", "code"),
            ("scope", SCOPES),
            ("state", &state),
        ],
    );
    links::with_browser(&app, Redirect::to(&url).into_response(), &browser, new)
}

/// The page for a flow the server is not configured for.
pub fn not_configured(brand: Option<&str>, variable: &str) -> Response {
    pages::message(
        StatusCode::SERVICE_UNAVAILABLE,
        brand,
        "Connecting is not set up yet",
        &[
            "This server is not configured to connect this kind of account yet.",
            &format!("Its operator needs to set {variable}. Your link was not used."),
        ],
    )
}

#[must_use]
pub fn redirect_uri(app: &AppState) -> String {
    format!("{}/oauth/instagram/callback", app.config.public_url)
}

/// What Meta's redirect carries.
#[derive(Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_reason: Option<String>,
}

/// The page for a person who said no at Meta.
pub fn denied(brand: Option<&str>, reason: Option<&str>) -> Response {
    let why = match reason {
        Some("user_denied") | None => "You chose not to allow access.".to_owned(),
        Some(other) => format!("Meta reported: {other}."),
    };
    pages::message(
        StatusCode::OK,
        brand,
        "Not connected",
        &[
            &why,
            "Nothing was changed. Ask for a new connect link to try again.",
        ],
    )
}

/// The page for a failed call to Meta (logged without tokens).
pub fn meta_failed(brand: Option<&str>, e: &MetaError) -> Response {
    tracing::warn!(error = %e, "connect: Meta call failed");
    pages::message(
        StatusCode::BAD_GATEWAY,
        brand,
        "Could not finish connecting",
        &[
            "Meta did not accept the sign-in, or did not answer. Nothing was changed.",
            "Ask for a new connect link and try again.",
        ],
    )
}

/// The page after a save attempt.
pub fn saved_page(
    brand: Option<&str>,
    what: &str,
    result: Result<Saved, SaveError>,
    note: Option<&str>,
) -> Response {
    match result {
        Ok(saved) => {
            let r = saved.record();
            let name = r
                .username
                .as_deref()
                .map_or_else(|| r.account_id.clone(), |u| format!("@{u}"));
            let verb = match saved {
                Saved::Created(_) => "is now connected",
                Saved::Updated(_) => "was reconnected",
            };
            let to = brand.map_or_else(String::new, |b| format!(" to {b}"));
            pages::message(
                StatusCode::OK,
                brand,
                "Connected",
                &[
                    &format!("Your {what} account {name} {verb}{to}."),
                    note.unwrap_or(""),
                    "Messages will arrive in the desk. You can close this page.",
                ],
            )
        }
        Err(SaveError::Claimed) => pages::message(
            StatusCode::ACCEPTED,
            brand,
            "Waiting for confirmation",
            &[
                &format!(
                    "This {what} account is registered to another business here, which never proved it owns it."
                ),
                "You proved you do. The operator of this server was notified and must confirm before the account connects here; nothing changes until then.",
            ],
        ),
        Err(SaveError::Meta(e)) => meta_failed(brand, &e),
        Err(SaveError::Taken) => pages::message(
            StatusCode::CONFLICT,
            brand,
            "Already connected elsewhere",
            &[
                &format!("This {what} account is already connected to another business here."),
                "It has to be disconnected there first. Nothing was changed.",
            ],
        ),
        Err(SaveError::Store(e)) => {
            tracing::error!(error = %e, "connect: storage failure");
            pages::unavailable(brand)
        }
    }
}

/// The first step of a login callback: takes its state, then answers the authorization
/// code; the page to show when the state is not good or the person said no.
///
/// # Errors
/// The page to show.
pub async fn consented<'q>(
    app: &AppState,
    headers: &HeaderMap,
    q: &'q CallbackQuery,
    kind: Kind,
) -> Result<(Grant, Option<String>, &'q str), Response> {
    let (grant, brand) = take_state(app, headers, &q.state, kind).await?;
    if q.error.is_some() {
        return Err(denied(brand.as_deref(), q.error_reason.as_deref()));
    }
    // Meta appends `#_` to the redirect; a browser drops fragments, a copied URL may not.
    match q
        .code
        .as_deref()
        .map(|c| c.trim_end_matches("#_"))
        .filter(|c| !c.is_empty())
    {
        Some(code) => Ok((grant, brand, code)),
        None => Err(denied(brand.as_deref(), Some("no authorization code"))),
    }
}

/// Takes the state of a callback in the browser that started the flow, answering the
/// refusal page when it is not good (a browser without the flow's cookie is told to finish
/// where it started; the state is not spent then).
///
/// # Errors
/// The page to show.
pub async fn take_state(
    app: &AppState,
    headers: &HeaderMap,
    state: &str,
    kind: Kind,
) -> Result<(Grant, Option<String>), Response> {
    let Some(browser) = Browser::of(headers) else {
        return Err(pages::refused(
            None,
            &links::Refusal::OtherBrowser,
            "sign-in",
        ));
    };
    let brand = pages::brand_of(app, links::claimed_tenant(state).as_ref()).await;
    match links::take(app, Purpose::State, state, &[kind], Some(&browser)).await {
        Ok(g) => Ok((g, brand)),
        Err(r) => Err(pages::refused(brand.as_deref(), &r, "sign-in")),
    }
}

/// `GET /oauth/instagram/callback?code=…&state=…` (or `error=…`).
pub async fn callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let (grant, brand, code) = match consented(&app, &headers, &q, Kind::Instagram).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let brand = brand.as_deref();
    let Some(app_id) = app.config.instagram_app_id.clone() else {
        return not_configured(brand, "INSTAGRAM_APP_ID");
    };
    match connect(&app, &app_id, code).await {
        Ok(c) => saved_page(
            brand,
            "Instagram",
            save::finish(&app, &grant, c).await,
            None,
        ),
        Err(e) => meta_failed(brand, &e),
    }
}

async fn connect(app: &AppState, app_id: &str, code: &str) -> Result<Connected, MetaError> {
    let cfg = &app.config;
    let http = meta::client()?;
    // Instagram-Login apps have their own secret; without one, the Meta app's is used.
    let secret = cfg
        .instagram_app_secret
        .clone()
        .unwrap_or_else(|| cfg.meta_app_secret.clone());
    let short = meta::instagram_code(
        &http,
        &cfg.instagram_oauth_url,
        app_id,
        &secret,
        &redirect_uri(app),
        code,
    )
    .await?;
    let long =
        meta::instagram_long_lived(&http, &cfg.instagram_graph_url, &secret, &short.token).await?;
    let account = meta::instagram_me(&http, &cfg.instagram_graph_url, &long.token).await?;
    let now = app.clock.now();
    Ok(Connected {
        kind: ChannelKind::Instagram,
        login: "instagram",
        account_id: account.ig_id,
        page_id: None,
        waba_id: None,
        username: account.username,
        app_user_id: account.app_user_id.or(short.user_id),
        profile_picture_url: account.profile_picture_url,
        followers_count: account.followers_count,
        token: long.token,
        subscription: Subscription::InstagramMe,
        token_expires_at: long
            .expires_in
            .map(|s| now.plus(s.saturating_mul(Millis::SECOND))),
    })
}
