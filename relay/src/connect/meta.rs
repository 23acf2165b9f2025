//! The calls a connect flow makes to Meta, in Meta's shapes (meta-platform.md §12, §13.3):
//! code exchanges, the long-lived Instagram and Facebook user tokens, account identity, pages, phone numbers
//! and webhook subscriptions. Tokens travel in form bodies or `Authorization` headers where
//! Meta allows it; where Meta wants them in the query, the URL is dropped from any error
//! (`reqwest::Error::without_url`), so no token reaches a log or a page.

use crate::outbox::graph::VERSION;
use crate::secret::Secret;
use reqwest::Client;
use serde_json::Value;
use std::time::Duration;

/// The webhook fields an Instagram account is subscribed to (meta-platform.md §12.1).
pub const INSTAGRAM_FIELDS: &str = "messages,messaging_postbacks,messaging_seen,message_reactions,messaging_referral,messaging_optins,message_edit,comments,live_comments,mentions,story_insights";

/// The same for a Page of Facebook Login (the Messenger Platform's Instagram fields).
pub const PAGE_FIELDS: &str =
    "messages,messaging_postbacks,message_reads,message_reactions,messaging_referrals,feed";

const TIMEOUT: Duration = Duration::from_secs(20);

/// Why a call to Meta failed; the text names the step and Meta's message, never a token.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("{step}: no answer from Meta ({reason})")]
    Transport { step: &'static str, reason: String },
    #[error("{step}: Meta answered {status}: {message}")]
    Refused {
        step: &'static str,
        status: u16,
        message: String,
    },
    #[error("{step}: unexpected answer ({reason})")]
    Shape { step: &'static str, reason: String },
}

/// A client for connect calls.
///
/// # Errors
/// The TLS backend cannot start.
pub fn client() -> Result<Client, MetaError> {
    Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| MetaError::Transport {
            step: "client",
            reason: e.without_url().to_string(),
        })
}

async fn call(step: &'static str, req: reqwest::RequestBuilder) -> Result<Value, MetaError> {
    let transport = |e: reqwest::Error| MetaError::Transport {
        step,
        reason: e.without_url().to_string(),
    };
    let resp = req.send().await.map_err(transport)?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = body
            .pointer("/error/message")
            .or_else(|| body.get("error_message"))
            .and_then(Value::as_str)
            .unwrap_or("no error message")
            .chars()
            .take(300)
            .collect();
        return Err(MetaError::Refused {
            step,
            status: status.as_u16(),
            message,
        });
    }
    Ok(body)
}

/// `base/VERSION/segments…`, each segment encoded as one (`crate::graph_url`).
fn graph(base: &str, segments: &[&str]) -> Result<reqwest::Url, MetaError> {
    let mut all = vec![VERSION];
    all.extend_from_slice(segments);
    crate::graph_url::build(base, &all).map_err(|e| MetaError::Transport {
        step: "Graph URL",
        reason: e.to_string(),
    })
}

/// A string or number field as text (Meta sends ids both ways).
fn id_field(v: &Value, name: &str) -> Option<String> {
    match v.get(name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn shape(step: &'static str, reason: &str) -> MetaError {
    MetaError::Shape {
        step,
        reason: reason.into(),
    }
}

/// A token Meta issued, with its lifetime when Meta said.
pub struct Issued {
    pub token: Secret,
    pub user_id: Option<String>,
    pub expires_in: Option<i64>,
}

/// Instagram Login step 3: `POST {oauth}/oauth/access_token` (form). Accepts the documented
/// `{"data":[{…}]}` shape and the flat one, `user_id` as string or number.
///
/// # Errors
/// Meta refused the code (used, expired, wrong redirect) or answered something else.
pub async fn instagram_code(
    http: &Client,
    oauth_base: &str,
    app_id: &str,
    secret: &Secret,
    redirect_uri: &str,
    code: &str,
) -> Result<Issued, MetaError> {
    const STEP: &str = "Instagram code exchange";
    let form = [
        ("client_id", app_id),
        ("client_secret", secret.expose()),
        ("grant_type", "authorization_code"),
        ("redirect_uri", redirect_uri),
        ("code", code),
    ];
    let body = call(
        STEP,
        http.post(format!("{oauth_base}/oauth/access_token"))
            .form(&form),
    )
    .await?;
    let item = body
        .get("data")
        .and_then(Value::as_array)
        .and_then(|d| d.first())
        .unwrap_or(&body);
    let token = item
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| shape(STEP, "no access_token"))?;
    Ok(Issued {
        token: Secret::new(token.to_owned()),
        user_id: id_field(item, "user_id"),
        expires_in: None,
    })
}

fn issued_from(step: &'static str, body: &Value) -> Result<Issued, MetaError> {
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| shape(step, "no access_token"))?;
    Ok(Issued {
        token: Secret::new(token.to_owned()),
        user_id: None,
        expires_in: body.get("expires_in").and_then(Value::as_i64),
    })
}

/// Instagram Login step 4: the long-lived token (about 60 days).
///
/// # Errors
/// Meta refused the short-lived token or the secret.
pub async fn instagram_long_lived(
    http: &Client,
    graph_base: &str,
    secret: &Secret,
    short: &Secret,
) -> Result<Issued, MetaError> {
    const STEP: &str = "Instagram long-lived token";
    let query = [
        ("grant_type", "ig_exchange_token"),
        ("client_secret", secret.expose()),
        ("access_token", short.expose()),
    ];
    let body = call(
        STEP,
        http.get(format!("{graph_base}/access_token")).query(&query),
    )
    .await?;
    issued_from(STEP, &body)
}

/// The Instagram professional account behind a token.
#[derive(Clone, Debug, Default)]
pub struct InstagramAccount {
    /// The IG id webhooks carry (`user_id` of `/me`).
    pub ig_id: String,
    /// The app-scoped id (`id` of `/me`).
    pub app_user_id: Option<String>,
    pub username: Option<String>,
    pub profile_picture_url: Option<String>,
    pub followers_count: Option<i64>,
}

/// Instagram Login step 6: `GET /me`.
///
/// # Errors
/// Meta refused the token, or the answer has no `user_id`.
pub async fn instagram_me(
    http: &Client,
    graph_base: &str,
    token: &Secret,
) -> Result<InstagramAccount, MetaError> {
    const STEP: &str = "Instagram account lookup";
    let body = call(
        STEP,
        http.get(format!("{graph_base}/{VERSION}/me"))
            .query(&[(
                "fields",
                "user_id,username,name,account_type,profile_picture_url,followers_count",
            )])
            .bearer_auth(token.expose()),
    )
    .await?;
    Ok(InstagramAccount {
        ig_id: id_field(&body, "user_id").ok_or_else(|| shape(STEP, "no user_id"))?,
        app_user_id: id_field(&body, "id"),
        username: body
            .get("username")
            .and_then(Value::as_str)
            .map(str::to_owned),
        profile_picture_url: body
            .get("profile_picture_url")
            .and_then(Value::as_str)
            .map(str::to_owned),
        followers_count: body.get("followers_count").and_then(Value::as_i64),
    })
}

/// `POST /{object}/subscribed_apps?subscribed_fields=…` → `{"success": true}`.
///
/// # Errors
/// Meta refused, or did not say success.
pub async fn subscribe(
    http: &Client,
    graph_base: &str,
    object: &str,
    fields: Option<&str>,
    token: &Secret,
) -> Result<(), MetaError> {
    const STEP: &str = "webhook subscription";
    let mut req = http
        .post(graph(graph_base, &[object, "subscribed_apps"])?)
        .bearer_auth(token.expose());
    if let Some(f) = fields {
        req = req.query(&[("subscribed_fields", f)]);
    }
    let body = call(STEP, req).await?;
    if body.get("success").and_then(Value::as_bool) == Some(true) {
        Ok(())
    } else {
        Err(shape(STEP, "no success"))
    }
}

/// Facebook Login and Embedded Signup code exchange: `GET /v{N}/oauth/access_token`
/// (`redirect_uri` only for the redirect flow; the JS SDK flow has none).
///
/// # Errors
/// Meta refused the code.
pub async fn facebook_code(
    http: &Client,
    graph_base: &str,
    app_id: &str,
    secret: &Secret,
    redirect_uri: Option<&str>,
    code: &str,
) -> Result<Issued, MetaError> {
    const STEP: &str = "Facebook code exchange";
    let mut query = vec![
        ("client_id", app_id),
        ("client_secret", secret.expose()),
        ("code", code),
    ];
    if let Some(r) = redirect_uri {
        query.push(("redirect_uri", r));
    }
    facebook_access_token(http, graph_base, STEP, &query).await
}

/// `GET /v{N}/oauth/access_token` with `query`: both Facebook exchanges answer there.
async fn facebook_access_token(
    http: &Client,
    graph_base: &str,
    step: &'static str,
    query: &[(&str, &str)],
) -> Result<Issued, MetaError> {
    let body = call(
        step,
        http.get(format!("{graph_base}/{VERSION}/oauth/access_token"))
            .query(query),
    )
    .await?;
    issued_from(step, &body)
}

/// Facebook Login: a user token exchanged for a long-lived one
/// (`GET /v{N}/oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret&fb_exchange_token`
/// → `{access_token, token_type, expires_in?}`). Page tokens read with a short-lived user
/// token expire with it; read with a long-lived one they last (meta-platform.md §12.2 leaves
/// Facebook Login's details UNCONFIRMED, so the flow always exchanges; a token that is
/// already long-lived is accepted too).
///
/// # Errors
/// Meta refused the token, the app id or the secret.
pub async fn facebook_long_lived(
    http: &Client,
    graph_base: &str,
    app_id: &str,
    secret: &Secret,
    short: &Secret,
) -> Result<Issued, MetaError> {
    const STEP: &str = "Facebook long-lived user token";
    let query = [
        ("grant_type", "fb_exchange_token"),
        ("client_id", app_id),
        ("client_secret", secret.expose()),
        ("fb_exchange_token", short.expose()),
    ];
    facebook_access_token(http, graph_base, STEP, &query).await
}

/// The Facebook user behind a user token (`GET /me` → `{id, name}`).
///
/// # Errors
/// Meta refused the token.
pub async fn facebook_user(
    http: &Client,
    graph_base: &str,
    token: &Secret,
) -> Result<Option<String>, MetaError> {
    let body = call(
        "Facebook user lookup",
        http.get(format!("{graph_base}/{VERSION}/me"))
            .query(&[("fields", "id,name")])
            .bearer_auth(token.expose()),
    )
    .await?;
    Ok(id_field(&body, "id"))
}

/// A Page the user manages, with its token and linked Instagram account.
pub struct Page {
    pub id: String,
    pub name: String,
    pub token: Secret,
    /// The Page token's lifetime in seconds, only when the entry states one (`expires_in`).
    /// Meta documents none for `me/accounts`: a Page token read with a long-lived user
    /// token does not expire, so nothing is made up here.
    pub expires_in: Option<i64>,
    pub tasks: Vec<String>,
    pub instagram: Option<InstagramAccount>,
}

/// `GET /me/accounts?fields=…` (meta-platform.md §12.2).
///
/// # Errors
/// Meta refused the token.
pub async fn facebook_pages(
    http: &Client,
    graph_base: &str,
    token: &Secret,
) -> Result<Vec<Page>, MetaError> {
    const STEP: &str = "Facebook pages lookup";
    let body = call(
        STEP,
        http.get(format!("{graph_base}/{VERSION}/me/accounts"))
            .query(&[(
                "fields",
                "id,name,access_token,tasks,instagram_business_account{id,username,profile_picture_url,followers_count}",
            )])
            .bearer_auth(token.expose()),
    )
    .await?;
    pages_from(&body).ok_or_else(|| shape(STEP, "no data"))
}

/// The Pages of a `me/accounts` answer; entries without an id or a token are skipped.
fn pages_from(body: &Value) -> Option<Vec<Page>> {
    let data = body.get("data").and_then(Value::as_array)?;
    Some(
        data.iter()
            .filter_map(|p| {
                let id = id_field(p, "id")?;
                let token = p
                    .get("access_token")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())?;
                let instagram = p.get("instagram_business_account").and_then(|ig| {
                    Some(InstagramAccount {
                        ig_id: id_field(ig, "id")?,
                        app_user_id: None,
                        username: ig
                            .get("username")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        profile_picture_url: ig
                            .get("profile_picture_url")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        followers_count: ig.get("followers_count").and_then(Value::as_i64),
                    })
                });
                Some(Page {
                    name: p
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or(&id)
                        .to_owned(),
                    id,
                    token: Secret::new(token.to_owned()),
                    expires_in: p.get("expires_in").and_then(Value::as_i64),
                    tasks: p
                        .get("tasks")
                        .and_then(Value::as_array)
                        .map(|t| {
                            t.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                    instagram,
                })
            })
            .collect(),
    )
}

/// A WhatsApp number of a WABA.
pub struct PhoneNumber {
    pub id: String,
    pub display_phone_number: Option<String>,
    pub verified_name: Option<String>,
}

/// `GET /{WABA_ID}/phone_numbers`.
///
/// # Errors
/// Meta refused the token or the WABA.
pub async fn phone_numbers(
    http: &Client,
    graph_base: &str,
    waba: &str,
    token: &Secret,
) -> Result<Vec<PhoneNumber>, MetaError> {
    const STEP: &str = "WhatsApp numbers lookup";
    let body = call(
        STEP,
        http.get(graph(graph_base, &[waba, "phone_numbers"])?)
            .bearer_auth(token.expose()),
    )
    .await?;
    let data = body
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| shape(STEP, "no data"))?;
    Ok(data.iter().filter_map(phone_number_of).collect())
}

/// A number node as Meta answers it (`None` without an id).
fn phone_number_of(n: &Value) -> Option<PhoneNumber> {
    let text = |name: &str| n.get(name).and_then(Value::as_str).map(str::to_owned);
    Some(PhoneNumber {
        id: id_field(n, "id")?,
        display_phone_number: text("display_phone_number"),
        verified_name: text("verified_name"),
    })
}

/// `GET /{PAGE_ID}?fields=instagram_business_account`: the IG id linked to a Page the
/// token can see (`None` when it has none).
///
/// # Errors
/// Meta refused the token or the Page.
pub async fn page_instagram(
    http: &Client,
    graph_base: &str,
    page: &str,
    token: &Secret,
) -> Result<Option<String>, MetaError> {
    const STEP: &str = "Page lookup";
    let body = call(
        STEP,
        http.get(graph(graph_base, &[page])?)
            .query(&[("fields", "id,name,instagram_business_account")])
            .bearer_auth(token.expose()),
    )
    .await?;
    Ok(body
        .get("instagram_business_account")
        .and_then(|a| id_field(a, "id")))
}

/// `GET /{PHONE_NUMBER_ID}?fields=id,display_phone_number,verified_name`: the number as
/// the token sees it.
///
/// # Errors
/// Meta refused the token or the number, or the answer has no id.
pub async fn phone_number(
    http: &Client,
    graph_base: &str,
    number: &str,
    token: &Secret,
) -> Result<PhoneNumber, MetaError> {
    const STEP: &str = "WhatsApp number lookup";
    let body = call(
        STEP,
        http.get(graph(graph_base, &[number])?)
            .query(&[("fields", "id,display_phone_number,verified_name")])
            .bearer_auth(token.expose()),
    )
    .await?;
    phone_number_of(&body).ok_or_else(|| shape(STEP, "no id"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_keep_an_expiry_only_when_meta_states_one() {
        let body = json!({"data": [
            {"id": "1", "name": "A", "access_token": "t1", "tasks": ["MESSAGING"],
             "instagram_business_account": {"id": 17, "username": "a"}},
            {"id": "2", "access_token": "t2", "expires_in": 3600},
            {"id": "3", "access_token": ""},
            {"name": "no id", "access_token": "t4"},
        ]});
        let pages = pages_from(&body).unwrap();
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].expires_in, None);
        assert_eq!(pages[0].instagram.as_ref().unwrap().ig_id, "17");
        assert_eq!(pages[1].name, "2");
        assert_eq!(pages[1].expires_in, Some(3600));
        assert!(pages_from(&json!({})).is_none());
    }
}
