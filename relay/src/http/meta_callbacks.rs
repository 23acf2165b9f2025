//! Meta's deauthorize and data-deletion callbacks (meta-platform.md §12.3) and the
//! deletion status page.
//!
//! Both callbacks carry a form field `signed_request` = `<base64url(sig)>.<base64url(payload)>`.
//! The signature is HMAC-SHA256 over the *still-encoded* payload segment with the app
//! secret (`META_APP_SECRET`, or `INSTAGRAM_APP_SECRET` when set), compared in constant time;
//! the payload's `algorithm` must be `HMAC-SHA256`. Anything else is refused before
//! anything changes: 400 for a missing or malformed request, 401 for a wrong signature.
//!
//! Deauthorize disconnects every channel (of every tenant) whose account id or
//! app-scoped user id is the payload's `user_id`. Data deletion does the same and also
//! removes that person's conversation contents wherever they were a customer
//! (`Store::redact_customer`), with an evidence record per step. The work is done
//! synchronously, before the answer (a few registry steps and one pass over each affected
//! tenant's log); the status page reads the stored counts.

use super::AppState;
use super::error::ApiError;
use crate::connect::pages;
use crate::html::escape;
use crate::lifecycle;
use crate::principal::{Access, Principal};
use crate::secret::Secret;
use crate::store::DeletionRecord;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

#[derive(Deserialize)]
pub struct SignedForm {
    signed_request: Option<String>,
}

/// Why a `signed_request` was refused; the texts never hold the secret or the digest.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignedRequestError {
    #[error("signed_request is missing")]
    Missing,
    #[error("signed_request is malformed")]
    Malformed,
    #[error("signed_request's algorithm is not HMAC-SHA256")]
    Algorithm,
    #[error("signed_request's signature does not match")]
    Signature,
}

fn b64url(segment: &str) -> Result<Vec<u8>, SignedRequestError> {
    // Meta leaves the padding off; accept it too, as if it had been added back.
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| SignedRequestError::Malformed)
}

/// Verifies `signed` against each secret and answers the payload's `user_id`.
///
/// # Errors
/// See [`SignedRequestError`].
pub fn verify_signed_request(
    signed: &str,
    secrets: &[&Secret],
) -> Result<String, SignedRequestError> {
    let (sig, payload) = signed
        .split_once('.')
        .ok_or(SignedRequestError::Malformed)?;
    let sig = b64url(sig)?;
    let decoded = b64url(payload)?;
    let ok = secrets.iter().any(|secret| {
        Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).is_ok_and(|mut mac| {
            mac.update(payload.as_bytes());
            // `verify_slice` compares in constant time.
            mac.verify_slice(&sig).is_ok()
        })
    });
    if !ok {
        return Err(SignedRequestError::Signature);
    }
    let body: Value =
        serde_json::from_slice(&decoded).map_err(|_| SignedRequestError::Malformed)?;
    if !body["algorithm"]
        .as_str()
        .is_some_and(|a| a.eq_ignore_ascii_case("HMAC-SHA256"))
    {
        return Err(SignedRequestError::Algorithm);
    }
    let user = match &body["user_id"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(SignedRequestError::Malformed),
    };
    if user.is_empty() || user.len() > 64 || !user.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignedRequestError::Malformed);
    }
    Ok(user)
}

fn user_of(app: &AppState, form: &SignedForm) -> Result<String, ApiError> {
    let signed = form
        .signed_request
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_signed_request",
                SignedRequestError::Missing.to_string(),
            )
        })?;
    let mut secrets = vec![&app.config.meta_app_secret];
    secrets.extend(app.config.instagram_app_secret.as_ref());
    verify_signed_request(signed, &secrets).map_err(|e| match e {
        SignedRequestError::Signature => ApiError::unauthorized(e.to_string()),
        _ => ApiError::bad_request("invalid_signed_request", e.to_string()),
    })
}

/// What one callback did, in counts.
#[derive(Default)]
struct Done {
    channels: u64,
    threads: u64,
    messages: u64,
    /// The first affected tenant's partner, for the status page.
    brand: Option<String>,
}

async fn brand_of(app: &AppState, tenant: &protocol::TenantId) -> Result<Option<String>, ApiError> {
    let Some(t) = app.store.tenant(tenant).await? else {
        return Ok(None);
    };
    Ok(match app.store.partner(&t.partner).await? {
        Some(p) => Some(p.brand_or_name().to_owned()),
        None => Some(t.name),
    })
}

/// Disconnects every channel whose account or app-scoped user is `user`; with `redact`,
/// also removes the conversations where `user` is the customer.
async fn act(app: &AppState, user: &str, redact: bool) -> Result<Done, ApiError> {
    let by = if redact {
        "meta_data_deletion"
    } else {
        "meta_deauthorize"
    };
    let mut done = Done::default();
    for (tenant, _) in app.store.heads().await? {
        // A verified signed_request from Meta acts like the operator, as webhooks do.
        let scope = Principal::Operator.scope(&tenant, Access::Manage)?;
        let mut touched = false;
        for channel in app.store.channels(&scope).await? {
            let matches = channel.account_id == user
                || channel.page_id.as_deref() == Some(user)
                || channel.app_user_id.as_deref() == Some(user);
            if matches
                && lifecycle::disconnect(app, &scope, &channel.id, by)
                    .await?
                    .is_some_and(|d| !d.already)
            {
                done.channels += 1;
                touched = true;
            }
        }
        if redact {
            // Durable once it returns something (the store checkpoints a redaction), and
            // the evidence records below sync again.
            let redacted = app.store.redact_customer(&scope, user).await?;
            for r in &redacted {
                done.threads += 1;
                done.messages += r.messages;
                touched = true;
                // Desks rewrite their copies of the thread when this reaches them.
                lifecycle::record_account(
                    app,
                    &scope,
                    &r.channel_id,
                    "customer_removed",
                    protocol::AccountEventKind::CustomerRemoved {
                        thread: r.thread.clone(),
                    },
                )
                .await?;
                lifecycle::record_change(
                    app,
                    &scope,
                    &r.channel_id,
                    "customer_redacted",
                    format!(
                        "thread={} messages={} events={} sends={}",
                        r.thread, r.messages, r.events, r.sends
                    ),
                )
                .await?;
            }
        }
        if touched && done.brand.is_none() {
            done.brand = brand_of(app, &tenant).await?;
        }
    }
    Ok(done)
}

/// `POST /meta/deauthorize`.
pub async fn deauthorize(
    State(app): State<AppState>,
    Form(form): Form<SignedForm>,
) -> Result<Response, ApiError> {
    let user = user_of(&app, &form)?;
    let done = act(&app, &user, false).await?;
    tracing::info!(channels = done.channels, "meta deauthorize handled");
    Ok(axum::Json(json!({"ok": true})).into_response())
}

/// An unguessable alphanumeric confirmation code (about 119 bits).
fn confirmation_code() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..21)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// `POST /meta/data-deletion`: answers `{"url", "confirmation_code"}` as Meta asks.
pub async fn data_deletion(
    State(app): State<AppState>,
    Form(form): Form<SignedForm>,
) -> Result<Response, ApiError> {
    let user = user_of(&app, &form)?;
    let code = confirmation_code();
    let fallback = match app.store.partners().await?.first() {
        Some(p) => p.brand_or_name().to_owned(),
        None => "the business".to_owned(),
    };
    let mut record = DeletionRecord {
        state: "in_progress".into(),
        brand: fallback,
        received_at: app.clock.now(),
        finished_at: None,
        channels_disconnected: 0,
        threads: 0,
        messages: 0,
    };
    app.store.put_deletion(&code, &record).await?;
    app.store.sync().await?;
    let done = act(&app, &user, true).await?;
    record.state = "done".into();
    record.finished_at = Some(app.clock.now());
    record.channels_disconnected = done.channels;
    record.threads = done.threads;
    record.messages = done.messages;
    if let Some(brand) = done.brand {
        record.brand = brand;
    }
    app.store.put_deletion(&code, &record).await?;
    app.store.sync().await?;
    tracing::info!(
        channels = done.channels,
        threads = done.threads,
        "meta data deletion handled"
    );
    let url = format!("{}/meta/data-deletion/status/{code}", app.config.public_url);
    Ok(axum::Json(json!({"url": url, "confirmation_code": code})).into_response())
}

/// `GET /meta/data-deletion/status/{code}`: a small page in the partner's name.
pub async fn deletion_status(
    State(app): State<AppState>,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let valid =
        !code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric());
    let record = if valid {
        app.store.deletion(&code).await?
    } else {
        None
    };
    let Some(r) = record else {
        return Ok(pages::page(
            StatusCode::NOT_FOUND,
            None,
            "Deletion request not found",
            "<p>No data-deletion request has this confirmation code. Check the link you were \
             given.</p>",
            "",
        ));
    };
    let state = match r.state.as_str() {
        "done" => "Done: your data has been deleted.",
        "in_progress" => "In progress: your data is being deleted.",
        _ => "Received: your request will be handled within minutes.",
    };
    let body = format!(
        "<p><strong>{state}</strong></p>\n\
         <p>Confirmation code: <code>{code}</code></p>\n<ul>\n\
         <li>Connected accounts disconnected: {channels}</li>\n\
         <li>Conversations cleared: {threads}</li>\n\
         <li>Messages removed: {messages}</li>\n</ul>",
        code = escape(&code),
        channels = r.channels_disconnected,
        threads = r.threads,
        messages = r.messages,
    );
    Ok(pages::page(
        StatusCode::OK,
        Some(&r.brand),
        "Data deletion",
        &body,
        "",
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn signed(secret: &str, payload: &str) -> String {
        let p = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload);
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(p.as_bytes());
        let sig =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{sig}.{p}")
    }

    #[test]
    fn verifies_metas_example_and_refuses_the_rest() {
        let s = Secret::new("app-secret");
        let good = r#"{"user_id":"218471","algorithm":"HMAC-SHA256","issued_at":1291836800,"expires":1291840400}"#;
        assert_eq!(
            verify_signed_request(&signed("app-secret", good), &[&s]).unwrap(),
            "218471"
        );
        assert_eq!(
            verify_signed_request(&signed("other", good), &[&s]),
            Err(SignedRequestError::Signature)
        );
        let wrong_alg = r#"{"user_id":"218471","algorithm":"HMAC-SHA1"}"#;
        assert_eq!(
            verify_signed_request(&signed("app-secret", wrong_alg), &[&s]),
            Err(SignedRequestError::Algorithm)
        );
        assert_eq!(
            verify_signed_request("no-dot", &[&s]),
            Err(SignedRequestError::Malformed)
        );
        assert_eq!(
            verify_signed_request(&signed("app-secret", "not json"), &[&s]),
            Err(SignedRequestError::Malformed)
        );
        let code = confirmation_code();
        assert!(code.len() == 21 && code.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
