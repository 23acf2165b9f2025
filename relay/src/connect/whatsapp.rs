//! WhatsApp Embedded Signup (meta-platform.md §13.3). `GET /whatsapp/connect?link=…`
//! consumes the link and serves a page that loads Meta's JS SDK from `WHATSAPP_SDK_URL`,
//! calls `FB.login` with `WHATSAPP_CONFIG_ID`, listens for the session-info message (only
//! from a `facebook.com` origin or the SDK's own origin), and posts `{code, waba_id,
//! phone_number_id, state}` to `POST /whatsapp/embedded-signup` as a form, so the browser
//! lands on the result page. That handler takes the state, exchanges the code at once (it
//! lives 30 s), checks the number belongs to the WABA, subscribes the app to the WABA and
//! saves the channel. A cancelled signup posts nothing; a stale state or code writes nothing.

use super::Kind;
use super::instagram::{meta_failed, not_configured, saved_page, take_state};
use super::links;
use super::meta::{self, MetaError};
use super::pages;
use super::save::{self, Connected, Subscription};
use crate::outbox::graph::VERSION;
use crate::state::AppState;
use crate::store::ChannelKind;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    link: String,
}

/// JSON for a `<script type="application/json">` block: `<` escaped so no text can close it.
fn script_json(v: &serde_json::Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

const PAGE_SCRIPT: &str = r#"
(function () {
  var cfg = JSON.parse(document.getElementById('es-config').textContent);
  var status = document.getElementById('status');
  var session = null, code = null, done = false;
  function say(t) { status.textContent = t; }
  function allowed(origin) {
    try {
      var host = new URL(origin).hostname;
      return origin === cfg.sdkOrigin || host === 'facebook.com' || host.endsWith('.facebook.com');
    } catch (e) { return false; }
  }
  function submit() {
    if (done || !session || !code) return;
    done = true;
    var f = document.getElementById('es-form');
    f.elements.code.value = code;
    f.elements.waba_id.value = session.waba_id || '';
    f.elements.phone_number_id.value = session.phone_number_id || '';
    say('Finishing…');
    f.submit();
  }
  window.addEventListener('message', function (event) {
    if (!allowed(event.origin)) return;
    var data;
    try { data = typeof event.data === 'string' ? JSON.parse(event.data) : event.data; } catch (e) { return; }
    if (!data || data.type !== 'WA_EMBEDDED_SIGNUP') return;
    if (typeof data.event === 'string' && data.event.indexOf('FINISH') === 0) {
      session = data.data || {};
      submit();
    } else if (data.event === 'CANCEL' || data.event === 'ERROR') {
      say('Signup was cancelled. Nothing was changed; ask for a new link to try again.');
    }
  });
  window.fbAsyncInit = function () {
    FB.init({ appId: cfg.appId, autoLogAppEvents: true, xfbml: false, version: cfg.version });
    document.getElementById('start').disabled = false;
  };
  document.getElementById('start').addEventListener('click', function () {
    say('Waiting for Meta…');
    FB.login(function (response) {
      if (response && response.authResponse && response.authResponse.code) {
        code = response.authResponse.code;
        submit();
      } else {
        say('Signup was cancelled. Nothing was changed; ask for a new link to try again.');
      }
    }, { config_id: cfg.configId, response_type: 'code', override_default_response_type: true,
         extras: { setup: {}, sessionInfoVersion: '3' } });
  });
})();
"#;

/// `GET /whatsapp/connect?link=…`: the Embedded Signup page.
pub async fn connect_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Response {
    let brand = pages::brand_of(&app, links::claimed_tenant(&q.link).as_ref()).await;
    let brand = brand.as_deref();
    let Some(config_id) = app.config.whatsapp_config_id.clone() else {
        return not_configured(brand, "WHATSAPP_CONFIG_ID");
    };
    let (browser, new) = links::Browser::of_or_new(&headers);
    let state = match links::state_for_link(&app, &q.link, Kind::Whatsapp, brand, &browser).await {
        Ok(state) => state,
        Err(page) => return page,
    };
    let sdk = &app.config.whatsapp_sdk_url;
    let sdk_origin = reqwest::Url::parse(sdk)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let cfg = json!({
        "appId": app.config.meta_app_id, "configId": config_id, "version": VERSION,
        "sdkOrigin": sdk_origin,
    });
    let business = brand.map_or_else(String::new, |b| format!(" for {}", crate::html::escape(b)));
    let body = format!(
        "<p>Connect your WhatsApp Business number{business}. Meta will ask you to choose or create a WhatsApp Business Account and a phone number.</p>\
<p><button id=\"start\" type=\"button\" disabled>Connect WhatsApp</button></p>\
<p id=\"status\" role=\"status\"></p>\
<form id=\"es-form\" method=\"post\" action=\"/whatsapp/embedded-signup\">\
<input type=\"hidden\" name=\"state\" value=\"{}\"><input type=\"hidden\" name=\"code\">\
<input type=\"hidden\" name=\"waba_id\"><input type=\"hidden\" name=\"phone_number_id\"></form>\
<script type=\"application/json\" id=\"es-config\">{}</script>\
<script>{PAGE_SCRIPT}</script>\
<script async defer crossorigin=\"anonymous\" src=\"{}\"></script>",
        crate::html::escape(&state),
        script_json(&cfg),
        crate::html::escape(sdk),
    );
    let page = pages::page(StatusCode::OK, brand, "Connect WhatsApp", &body, "");
    links::with_browser(&app, page, &browser, new)
}

/// What the page (or any client) posts.
#[derive(Deserialize, Default)]
pub struct Signup {
    #[serde(default)]
    code: String,
    #[serde(default)]
    waba_id: String,
    #[serde(default)]
    phone_number_id: String,
    #[serde(default)]
    state: String,
}

fn numeric(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_digit())
}

/// `POST /whatsapp/embedded-signup` (form or JSON) → the result page.
pub async fn finish(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let input: Option<Signup> = if is_json {
        serde_json::from_slice(&body).ok()
    } else {
        serde_urlencoded::from_bytes(&body).ok()
    };
    let input = input.unwrap_or_default();
    let (grant, brand) = match take_state(&app, &headers, &input.state, Kind::Whatsapp).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let brand = brand.as_deref();
    if input.code.is_empty() || !numeric(&input.waba_id) || !numeric(&input.phone_number_id) {
        return pages::message(
            StatusCode::BAD_REQUEST,
            brand,
            "Signup was not finished",
            &[
                "Meta did not hand over a finished signup (a number and a business account).",
                "Nothing was changed; ask for a new link to try again.",
            ],
        );
    }
    match connect(&app, &input).await {
        Ok(c) => saved_page(brand, "WhatsApp", save::finish(&app, &grant, c).await, None),
        Err(e) => meta_failed(brand, &e),
    }
}

async fn connect(app: &AppState, input: &Signup) -> Result<Connected, MetaError> {
    let cfg = &app.config;
    let http = meta::client()?;
    let issued = meta::facebook_code(
        &http,
        &cfg.meta_graph_url,
        &cfg.meta_app_id,
        &cfg.meta_app_secret,
        None,
        &input.code,
    )
    .await?;
    let numbers =
        meta::phone_numbers(&http, &cfg.meta_graph_url, &input.waba_id, &issued.token).await?;
    let number = numbers
        .into_iter()
        .find(|n| n.id == input.phone_number_id)
        .ok_or(MetaError::Shape {
            step: "WhatsApp numbers lookup",
            reason: "the number is not in the business account".into(),
        })?;
    let now = app.clock.now();
    Ok(Connected {
        kind: ChannelKind::Whatsapp,
        login: "whatsapp_embedded_signup",
        account_id: number.id,
        page_id: None,
        waba_id: Some(input.waba_id.clone()),
        // The handle a WhatsApp channel is known by in lists: its number as Meta shows it.
        username: number.display_phone_number.or(number.verified_name),
        app_user_id: None,
        profile_picture_url: None,
        followers_count: None,
        token: issued.token,
        subscription: Subscription::Waba(input.waba_id.clone()),
        token_expires_at: issued
            .expires_in
            .map(|s| now.plus(s.saturating_mul(protocol::Millis::SECOND))),
    })
}
