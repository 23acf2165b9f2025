//! Meta's webhook endpoints: the subscription handshake and signed event delivery.
//!
//! A POST is answered 200 only after every routed item is durable (the store's group
//! commit); any failure before that answers 5xx so Meta retries. Order of checks: size
//! (413), signature (401), JSON (400), envelope (400), entry and item counts (413, see
//! `ingest::parse::limits`). Nothing is written before all of them passed. Large bodies
//! are parsed on the blocking pool so one cannot hold an async worker.
//!
//! Above capacity the relay refuses rather than queues: `admit` holds one of
//! `RELAY_MAX_INFLIGHT_WEBHOOKS` slots from before the body is read until the answer, and
//! a POST finding none is answered 503 with `Retry-After` at once, reading nothing. While
//! the disk guard (`crate::disk`) says the data directory is full, a POST is answered 503
//! `storage_full` with `Retry-After` after its signature is checked, writing nothing.

use super::AppState;
use super::client::ClientAddr;
use super::error::ApiError;
use crate::ingest::parse::{self, ParseError};
use crate::ingest::route;
use crate::principal::TenantScope;
use crate::secret::Secret;
use crate::store::{Appended, NewEvent, StoreError};
use crate::verify::{self, Verified};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use protocol::Event;
use std::collections::HashMap;

/// `GET /webhooks/{instagram,whatsapp}`: echo `hub.challenge` for a matching verify token.
pub async fn handshake(
    State(app): State<AppState>,
    client: ClientAddr,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mode = q.get("hub.mode").map(String::as_str);
    let token = q
        .get("hub.verify_token")
        .map(String::as_str)
        .unwrap_or_default();
    let challenge = q
        .get("hub.challenge")
        .map(String::as_str)
        .unwrap_or_default();
    if mode != Some("subscribe") || !app.config.meta_verify_token.matches(token) {
        tracing::warn!(%client, "webhook handshake refused");
        return (StatusCode::FORBIDDEN, "verification failed").into_response();
    }
    // Meta sends an integer; anything else is refused rather than reflected (no XSS).
    let plain = !challenge.is_empty()
        && challenge.len() <= 128
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plain {
        return (
            StatusCode::BAD_REQUEST,
            "hub.challenge must be alphanumeric",
        )
            .into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain")], challenge.to_owned()).into_response()
}

/// Seconds Meta (or any sender) is asked to wait after a 503. Meta retries on its own
/// schedule regardless; the header is for other senders and proxies.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Middleware of the webhook POSTs: one slot per request in flight, taken before the body
/// is read and held until the answer; none free → 503 `overloaded` with `Retry-After`.
pub async fn admit(
    State(app): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Ok(_slot) = app.webhook_slots.clone().try_acquire_owned() else {
        app.metrics
            .webhook_requests
            .with_label_values(&["overloaded"])
            .inc();
        return unavailable(
            "overloaded",
            "the relay is at its limit of webhooks in flight; try again shortly",
        );
    };
    app.metrics.webhooks_in_flight.inc();
    // Dropped with the request too (a sender that hangs up), so the gauge cannot drift.
    let _counted = InFlight(app.metrics.webhooks_in_flight.clone());
    next.run(request).await
}

/// Lowers the in-flight gauge when the request ends, however it ends.
struct InFlight(prometheus::IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A 503 in the JSON error shape with `Retry-After`.
fn unavailable(code: &'static str, message: &str) -> Response {
    let mut response =
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message.to_owned()).into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        axum::http::HeaderValue::from(RETRY_AFTER_SECS),
    );
    response
}

pub async fn instagram(
    State(app): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut secrets = vec![&app.config.meta_app_secret];
    if let Some(ig) = &app.config.instagram_app_secret {
        secrets.push(ig);
    }
    receive(&app, client, &secrets, &headers, body).await
}

pub async fn whatsapp(
    State(app): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    receive(&app, client, &[&app.config.meta_app_secret], &headers, body).await
}

async fn receive(
    app: &AppState,
    client: ClientAddr,
    secrets: &[&Secret],
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match ingest(app, secrets, headers, body).await {
        Ok(()) => {
            app.metrics
                .webhook_requests
                .with_label_values(&["accepted"])
                .inc();
            (StatusCode::OK, "EVENT_RECEIVED").into_response()
        }
        Err((outcome, error)) => {
            app.metrics
                .webhook_requests
                .with_label_values(&[outcome])
                .inc();
            tracing::warn!(%client, outcome, status = error.status.as_u16(), "webhook refused");
            let status = error.status;
            let mut response = error.into_response();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    axum::http::HeaderValue::from(RETRY_AFTER_SECS),
                );
            }
            response
        }
    }
}

type Refusal = (&'static str, ApiError);

async fn ingest(
    app: &AppState,
    secrets: &[&Secret],
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(), Refusal> {
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            let limit = app.config.max_body_bytes;
            let msg = format!("webhook body is larger than {limit} bytes");
            (
                "too_large",
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", msg),
            )
        } else {
            (
                "malformed",
                ApiError::bad_request("unreadable_body", r.body_text()),
            )
        }
    })?;
    let signature = headers
        .get("x-hub-signature-256")
        .map(axum::http::HeaderValue::as_bytes);
    let verified = verify::verify(body, signature, secrets).map_err(|e| {
        (
            "bad_signature",
            ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string()),
        )
    })?;
    // After the signature (noise gets its 401), before anything is parsed or written.
    // The reason (sizes) is for the operator: `/readyz` and the log say it.
    if app.disk.full().is_some() {
        return Err((
            "storage_full",
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_full",
                "the relay's storage is full; not stored, try again later",
            ),
        ));
    }
    let mut stored = Vec::new();
    // Routing answered from memory is checked by the append that stores the items: when
    // routes changed meanwhile nothing is stored and the body is routed again (batches
    // stored before that are found as duplicates then).
    for attempt in 1..=ROUTE_ATTEMPTS {
        let envelope = parse_body(&verified).await?.map_err(parse_refusal)?;
        let batches = route_items(app, &verified, envelope).await?;
        match store_batches(app, batches, &mut stored).await {
            Err(StoreError::RoutesChanged) if attempt < ROUTE_ATTEMPTS => {
                tracing::info!(
                    attempt,
                    "routes changed while storing a webhook; routing again"
                );
            }
            result => {
                result.map_err(storage_failed)?;
                break;
            }
        }
    }
    if stored.is_empty() {
        return Ok(());
    }
    // Duplicates wait too: their first delivery may still be in an unflushed batch.
    app.store.sync().await.map_err(storage_failed)?;
    for (scope, events) in stored {
        app.drafting.submit(&scope, &events);
        app.profiles.submit(&scope, &events);
        app.hub.publish(&scope, events);
    }
    Ok(())
}

/// How many times a webhook is routed when routes keep changing under it.
const ROUTE_ATTEMPTS: u32 = 3;

fn parse_refusal(e: ParseError) -> Refusal {
    match e {
        ParseError::Json(_) => (
            "malformed",
            ApiError::bad_request("malformed_json", e.to_string()),
        ),
        ParseError::NotEnvelope(_) => (
            "not_envelope",
            ApiError::bad_request("not_an_envelope", e.to_string()),
        ),
        ParseError::TooLarge(_) => (
            "too_large",
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_items",
                e.to_string(),
            ),
        ),
    }
}

/// Appends each tenant's batch, adding its stored events to `stored`.
async fn store_batches(
    app: &AppState,
    batches: Vec<(TenantScope, Vec<NewEvent>, Option<i64>)>,
    stored: &mut Vec<(TenantScope, Vec<Event>)>,
) -> Result<(), StoreError> {
    for (scope, events, routed) in batches {
        let appended = app.store.append_routed(&scope, events, routed).await?;
        let mut fresh = Vec::with_capacity(appended.len());
        for a in appended {
            let outcome = match a {
                Appended::Stored(event) => {
                    fresh.push(event);
                    "stored"
                }
                Appended::Duplicate(_) => "duplicate",
            };
            app.metrics.ingest_items.with_label_values(&[outcome]).inc();
        }
        match stored.iter_mut().find(|(s, _)| *s == scope) {
            Some((_, events)) => events.extend(fresh),
            None => stored.push((scope, fresh)),
        }
    }
    Ok(())
}

/// Bodies up to this size are parsed on the async worker; larger ones on the blocking pool.
///
/// Parsing is linear: at most about 30 ms per MiB (measured with the fuzz build, which is
/// instrumented and so slower than a release relay; README "Bounded work"). A body of this
/// size holds a worker for about 2 ms at most, which most webhooks (a few KiB) never come
/// near; a 4 MiB body would hold it for ~100 ms, so those go to the blocking pool.
pub const PARSE_INLINE_MAX: usize = 64 * 1024;

/// Parses a verified body, off the async workers when it is large. The outer error is a
/// parser that panicked (a bug, answered 500 so Meta retries); the inner one is the body's.
async fn parse_body(verified: &Verified) -> Result<Result<parse::Envelope, ParseError>, Refusal> {
    if verified.body().len() <= PARSE_INLINE_MAX {
        return Ok(parse::parse(verified.body()));
    }
    let body = verified.shared_body();
    tokio::task::spawn_blocking(move || parse::parse(&body))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "webhook parser failed; Meta will retry");
            ("parser_failed", ApiError::internal())
        })
}

/// Groups the envelope's items by tenant, in arrival order, dropping unroutable ones; each
/// batch with the oldest routing generation its items were routed at from memory.
async fn route_items(
    app: &AppState,
    verified: &Verified,
    envelope: parse::Envelope,
) -> Result<Vec<(TenantScope, Vec<NewEvent>, Option<i64>)>, Refusal> {
    let now = app.clock.now();
    let mut batches: Vec<(TenantScope, Vec<NewEvent>, Option<i64>)> = Vec::new();
    for item in envelope.items {
        let Some(routed) = route::channel_for(app.store.as_ref(), &item)
            .await
            .map_err(storage_failed)?
        else {
            app.metrics
                .ingest_items
                .with_label_values(&["unknown_account"])
                .inc();
            continue;
        };
        let channel = &routed.channel;
        let event = route::to_event(&envelope.object, item, channel, now);
        let scope = TenantScope::for_webhook(verified, &channel.tenant);
        match batches.iter_mut().find(|(s, _, _)| *s == scope) {
            Some((_, events, generation)) => {
                events.push(event);
                *generation = match (*generation, routed.generation) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            None => batches.push((scope, vec![event], routed.generation)),
        }
    }
    Ok(batches)
}

fn storage_failed(e: crate::store::StoreError) -> Refusal {
    tracing::error!(error = %e, "webhook not stored; Meta will retry");
    (
        "storage_error",
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "try again later",
        ),
    )
}
