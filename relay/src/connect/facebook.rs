//! Facebook Login for Business (meta-platform.md §12.2): the Page the person manages and
//! its linked Instagram professional account. `GET /oauth/facebook/start?link=…` sends the
//! browser to `FACEBOOK_OAUTH_URL/v{N}/dialog/oauth`; the callback exchanges the code at
//! `META_GRAPH_URL`, exchanges that user token for a long-lived one (a Page token read with
//! a short-lived user token would expire with it), lists the Pages (`me/accounts`) with the
//! long-lived token and keeps those with a linked Instagram account the person may message
//! from. One such Page is connected at once: the Page subscribed, the channel saved with
//! the Page token. Several get a chooser page (one button per Page) whose form posts to
//! `POST /oauth/facebook/choose` with a fresh single-use `choice` (`links::mint_sealed`):
//! the candidates, Page tokens included, stay in that one-time record, sealed with the
//! vault, and never reach the page. Choosing connects that Page as above; a replayed or
//! expired choice ends on a refusal page with nothing written.

use super::Grant;
use super::Kind;
use super::instagram::{CallbackQuery, consented, meta_failed, saved_page};
use super::links;
use super::meta::{self, MetaError};
use super::pages;
use super::save::{self, Connected, Subscription};
use crate::html::escape;
use crate::outbox::graph::VERSION;
use crate::secret::Secret;
use crate::state::AppState;
use crate::store::ChannelKind;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use protocol::Millis;
use serde::{Deserialize, Serialize};

/// The permissions Facebook Login asks for.
pub const SCOPES: &str = "instagram_basic,instagram_manage_messages,instagram_manage_comments,pages_show_list,pages_read_engagement,pages_manage_metadata,pages_messaging";

#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    link: String,
}

fn redirect_uri(app: &AppState) -> String {
    format!("{}/oauth/facebook/callback", app.config.public_url)
}

/// `GET /oauth/facebook/start?link=…`.
pub async fn start(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Response {
    let brand = pages::brand_of(&app, links::claimed_tenant(&q.link).as_ref()).await;
    let brand = brand.as_deref();
    let (browser, new) = links::Browser::of_or_new(&headers);
    let state = match links::state_for_link(&app, &q.link, Kind::Facebook, brand, &browser).await {
        Ok(state) => state,
        Err(page) => return page,
    };
    let url = crate::graph_url::with_params(
        &format!("{}/{VERSION}/dialog/oauth", app.config.facebook_oauth_url),
        &[
            ("client_id", &app.config.meta_app_id),
            ("redirect_uri", &redirect_uri(&app)),
            ("response_type", "code"),
            ("scope", SCOPES),
            ("state", &state),
        ],
    );
    links::with_browser(&app, Redirect::to(&url).into_response(), &browser, new)
}

/// A Page the person may connect, as the chooser's sealed record holds it. No `Debug`: it
/// carries the Page token in clear.
#[derive(Serialize, Deserialize)]
struct Candidate {
    page_id: String,
    page_name: String,
    token: String,
    /// Unix milliseconds, only when Meta stated the Page token's lifetime.
    token_expires_at: Option<i64>,
    ig_id: String,
    username: Option<String>,
    profile_picture_url: Option<String>,
    followers_count: Option<i64>,
}

impl Candidate {
    /// How the person knows the linked account: `@username`, else its id.
    fn account_label(&self) -> String {
        self.username
            .as_deref()
            .map_or_else(|| self.ig_id.clone(), |u| format!("@{u}"))
    }
}

/// What the callback found, and what a chooser keeps until the person chooses.
#[derive(Serialize, Deserialize)]
struct Found {
    /// The consenting Facebook user (evidence of who connected).
    user_id: Option<String>,
    pages: Vec<Candidate>,
}

/// `GET /oauth/facebook/callback?code=…&state=…` (or `error=…`).
pub async fn callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let (grant, brand, code) = match consented(&app, &headers, &q, Kind::Facebook).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let brand = brand.as_deref();
    let mut found = match find_pages(&app, code).await {
        Ok(f) => f,
        Err(e) => return meta_failed(brand, &e),
    };
    match found.pages.len() {
        0 => pages::message(
            StatusCode::OK,
            brand,
            "No Instagram account found",
            &[
                "None of the Facebook Pages you allowed has a linked Instagram professional account you may message from.",
                "Link one in the Instagram app (Settings › Business tools), then ask for a new connect link. Nothing was changed.",
            ],
        ),
        1 => match found.pages.pop() {
            Some(page) => connect_page(&app, &grant, brand, found.user_id, page).await,
            None => pages::unavailable(brand),
        },
        _ => chooser(&app, &headers, &grant, brand, &found).await,
    }
}

/// The code exchanged for a user token, that for a long-lived one, then the user and the
/// Pages that could be connected.
async fn find_pages(app: &AppState, code: &str) -> Result<Found, MetaError> {
    let cfg = &app.config;
    let http = meta::client()?;
    let short = meta::facebook_code(
        &http,
        &cfg.meta_graph_url,
        &cfg.meta_app_id,
        &cfg.meta_app_secret,
        Some(&redirect_uri(app)),
        code,
    )
    .await?;
    // Before `me/accounts`: Page tokens inherit the lifetime of the user token they were
    // read with, and only those read with a long-lived one outlast the session.
    let user = meta::facebook_long_lived(
        &http,
        &cfg.meta_graph_url,
        &cfg.meta_app_id,
        &cfg.meta_app_secret,
        &short.token,
    )
    .await?;
    let user_id = meta::facebook_user(&http, &cfg.meta_graph_url, &user.token).await?;
    let listed = meta::facebook_pages(&http, &cfg.meta_graph_url, &user.token).await?;
    let now = app.clock.now();
    // Sending needs the MESSAGING task on the Page (meta-platform.md §12.2); Meta omits
    // `tasks` for some tokens, so an empty list is not held against a Page.
    let pages = listed
        .into_iter()
        .filter(|p| p.tasks.is_empty() || p.tasks.iter().any(|t| t == "MESSAGING"))
        .filter_map(|p| {
            let ig = p.instagram?;
            Some(Candidate {
                page_id: p.id,
                page_name: p.name,
                token: p.token.expose().to_owned(),
                token_expires_at: p
                    .expires_in
                    .map(|s| now.plus(s.saturating_mul(Millis::SECOND)).0),
                ig_id: ig.ig_id,
                username: ig.username,
                profile_picture_url: ig.profile_picture_url,
                followers_count: ig.followers_count,
            })
        })
        .collect();
    Ok(Found { user_id, pages })
}

/// The chooser: the candidates sealed into a fresh `choice`, and a page with one button per
/// Page (its name and the linked account) posting that choice back. No token in the page.
async fn chooser(
    app: &AppState,
    headers: &HeaderMap,
    grant: &Grant,
    brand: Option<&str>,
    found: &Found,
) -> Response {
    // The callback only got here with the flow's cookie.
    let Some(browser) = links::Browser::of(headers) else {
        return pages::unavailable(brand);
    };
    let Ok(value) = serde_json::to_string(found) else {
        return pages::unavailable(brand);
    };
    let Ok((choice, _)) = links::mint_sealed(
        app,
        grant.tenant(),
        links::Purpose::Choice,
        Kind::Facebook,
        app.config.connect_state_ttl,
        &Secret::new(value),
        Some(&browser),
    )
    .await
    else {
        return pages::unavailable(brand);
    };
    let buttons: String = found
        .pages
        .iter()
        .map(|p| {
            format!(
                "<p><button type=\"submit\" name=\"page\" value=\"{id}\" id=\"page-{id}\">{name} · Instagram {account}</button></p>",
                id = escape(&p.page_id),
                name = escape(&p.page_name),
                account = escape(&p.account_label()),
            )
        })
        .collect();
    let body = format!(
        "<p>You manage several Facebook Pages with a linked Instagram professional account. Choose the one to connect; ask for another link for each of the others.</p>\
<form method=\"post\" action=\"/oauth/facebook/choose\"><input type=\"hidden\" name=\"state\" value=\"{}\">{buttons}</form>",
        escape(&choice)
    );
    pages::page(StatusCode::OK, brand, "Choose a Page", &body, "")
}

/// What the chooser's form posts.
#[derive(Default, Deserialize)]
pub struct ChooseForm {
    #[serde(default)]
    state: String,
    #[serde(default)]
    page: String,
}

/// `POST /oauth/facebook/choose` (form: `state`, `page`) → the result page.
pub async fn choose(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    // A body that does not parse is an empty choice, refused below like a used one.
    let input: ChooseForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let brand = pages::brand_of(&app, links::claimed_tenant(&input.state).as_ref()).await;
    let brand = brand.as_deref();
    let Some(browser) = links::Browser::of(&headers) else {
        return pages::refused(None, &links::Refusal::OtherBrowser, "choice of Page");
    };
    let (grant, value) = match links::take_sealed(
        &app,
        links::Purpose::Choice,
        &input.state,
        &[Kind::Facebook],
        Some(&browser),
    )
    .await
    {
        Ok(v) => v,
        Err(r) => return pages::refused(brand, &r, "choice of Page"),
    };
    // The parse error is not logged: it could quote part of the sealed value.
    let Some(found) = value.and_then(|v| serde_json::from_str::<Found>(v.expose()).ok()) else {
        tracing::error!("connect: a Page choice held no readable candidates");
        return pages::unavailable(brand);
    };
    let Some(page) = found.pages.into_iter().find(|p| p.page_id == input.page) else {
        return pages::message(
            StatusCode::BAD_REQUEST,
            brand,
            "That Page was not offered",
            &[
                "The Page chosen is not one of those you were shown. Nothing was changed.",
                "Ask for a new connect link and start again.",
            ],
        );
    };
    connect_page(&app, &grant, brand, found.user_id, page).await
}

/// Connects one Page: its routes checked, the Page subscribed to the webhook fields, then
/// saved with its token (`save::finish`); answers the result page.
async fn connect_page(
    app: &AppState,
    grant: &Grant,
    brand: Option<&str>,
    user_id: Option<String>,
    page: Candidate,
) -> Response {
    let connected = Connected {
        kind: ChannelKind::Instagram,
        login: "facebook",
        account_id: page.ig_id,
        subscription: Subscription::Page(page.page_id.clone()),
        page_id: Some(page.page_id),
        waba_id: None,
        username: page.username,
        app_user_id: user_id,
        profile_picture_url: page.profile_picture_url,
        followers_count: page.followers_count,
        token: Secret::new(page.token),
        // Only what Meta stated; a Page token read with a long-lived user token has no
        // expiry, and one Meta refuses later shows as "needs reconnect".
        token_expires_at: page.token_expires_at.map(Millis),
    };
    saved_page(
        brand,
        "Instagram",
        save::finish(app, grant, connected).await,
        None,
    )
}
