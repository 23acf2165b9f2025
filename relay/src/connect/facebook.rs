//! Facebook Login for Business (meta-platform.md §12.2): the Page the person manages and
//! its linked Instagram professional account. `GET /oauth/facebook/start?link=…` sends the
//! browser to `FACEBOOK_OAUTH_URL/v{N}/dialog/oauth`; the callback exchanges the code at
//! `META_GRAPH_URL`, lists the Pages (`me/accounts`), takes the first Page with a linked
//! Instagram account (naming any others on the result page), subscribes the Page and saves
//! the channel with the Page token.

use super::Kind;
use super::instagram::{denied, meta_failed, not_configured, saved_page, take_state};
use super::links::{self, Purpose};
use super::meta::{self, MetaError};
use super::pages;
use super::save::{self, Connected};
use crate::http::AppState;
use crate::outbox::graph::VERSION;
use crate::store::ChannelKind;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

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
pub async fn start(State(app): State<AppState>, Query(q): Query<StartQuery>) -> Response {
    let brand = pages::brand_of(&app, links::claimed_tenant(&q.link).as_ref()).await;
    let brand = brand.as_deref();
    let grant = match links::take(&app, Purpose::Link, &q.link, &[Kind::Facebook]).await {
        Ok(g) => g,
        Err(r) => return pages::refused(brand, &r, "connect link"),
    };
    let Ok((state, _)) = links::mint(
        &app,
        grant.tenant(),
        Purpose::State,
        Kind::Facebook,
        app.config.connect_state_ttl,
    )
    .await
    else {
        return pages::unavailable(brand);
    };
    let url = links::with_params(
        &format!("{}/{VERSION}/dialog/oauth", app.config.facebook_oauth_url),
        &[
            ("client_id", &app.config.meta_app_id),
            ("redirect_uri", &redirect_uri(&app)),
            ("response_type", "code"),
            ("scope", SCOPES),
            ("state", &state),
        ],
    );
    Redirect::to(&url).into_response()
}

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

/// `GET /oauth/facebook/callback?code=…&state=…` (or `error=…`).
pub async fn callback(State(app): State<AppState>, Query(q): Query<CallbackQuery>) -> Response {
    let (grant, brand) = match take_state(&app, &q.state, Kind::Facebook).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let brand = brand.as_deref();
    if q.error.is_some() {
        return denied(brand, q.error_reason.as_deref());
    }
    let Some(code) = q
        .code
        .as_deref()
        .map(|c| c.trim_end_matches("#_"))
        .filter(|c| !c.is_empty())
    else {
        return denied(brand, Some("no authorization code"));
    };
    if app.config.meta_app_id.is_empty() {
        return not_configured(brand, "META_APP_ID");
    }
    let (connected, others) = match connect(&app, code).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            return pages::message(
                StatusCode::OK,
                brand,
                "No Instagram account found",
                &[
                    "None of the Facebook Pages you allowed has a linked Instagram professional account you may message from.",
                    "Link one in the Instagram app (Settings › Business tools), then ask for a new connect link. Nothing was changed.",
                ],
            );
        }
        Err(e) => return meta_failed(brand, &e),
    };
    // One account per link; the others are named so the person knows to ask again.
    let note = (!others.is_empty()).then(|| {
        format!(
            "Your other Pages with Instagram accounts ({}) were not connected; ask for another link for each.",
            others.join(", ")
        )
    });
    saved_page(
        brand,
        "Instagram",
        save::save(&app, &grant, connected).await,
        note.as_deref(),
    )
}

async fn connect(
    app: &AppState,
    code: &str,
) -> Result<Option<(Connected, Vec<String>)>, MetaError> {
    let cfg = &app.config;
    let http = meta::client().map_err(|e| MetaError::Transport {
        step: "client",
        reason: e.to_string(),
    })?;
    let user = meta::facebook_code(
        &http,
        &cfg.meta_graph_url,
        &cfg.meta_app_id,
        &cfg.meta_app_secret,
        Some(&redirect_uri(app)),
        code,
    )
    .await?;
    let user_id = meta::facebook_user(&http, &cfg.meta_graph_url, &user.token).await?;
    let pages = meta::facebook_pages(&http, &cfg.meta_graph_url, &user.token).await?;
    // Sending needs the MESSAGING task on the Page (meta-platform.md §12.2); Meta omits
    // `tasks` for some tokens, so an empty list is not held against a Page.
    let mut usable = pages.into_iter().filter(|p| {
        p.instagram.is_some() && (p.tasks.is_empty() || p.tasks.iter().any(|t| t == "MESSAGING"))
    });
    let Some(page) = usable.next() else {
        return Ok(None);
    };
    let others: Vec<String> = usable
        .map(|p| {
            p.instagram
                .and_then(|i| i.username.map(|u| format!("@{u}")))
                .unwrap_or(p.name)
        })
        .collect();
    meta::subscribe(
        &http,
        &cfg.meta_graph_url,
        &page.id,
        Some(meta::PAGE_FIELDS),
        &page.token,
    )
    .await?;
    let ig = page.instagram.unwrap_or_default();
    Ok(Some((
        Connected {
            kind: ChannelKind::Instagram,
            login: "facebook",
            account_id: ig.ig_id,
            page_id: Some(page.id),
            waba_id: None,
            username: ig.username,
            app_user_id: user_id,
            profile_picture_url: ig.profile_picture_url,
            followers_count: ig.followers_count,
            token: page.token,
            // A Page token from Facebook Login carries no expiry here (meta-platform.md
            // §12.2 leaves it UNCONFIRMED); a refused token shows as "needs reconnect".
            token_expires_at: None,
        },
        others,
    )))
}
