//! `GET /v1/tenants/{t}/media/{message}/{n}`: attachment `n` (0-based) of the message whose
//! Meta id is `{message}`, fetched by the relay and streamed through (`crate::media`).
//!
//! Who may: the tenant's agents and owners, and the operator (`Access::Read`). Another
//! tenant's message, an unknown message and an unknown attachment all answer the same 404.
//! Over `RELAY_MEDIA_MAX_BYTES` the answer is a 413 JSON error and reading stops. The
//! channel's token is used only towards Meta: never in the answer, never in a log line.

use super::AppState;
use super::admin::tenant_scope;
use super::error::ApiError;
use crate::media::{self, FetchError, Source, TooLarge, Unavailable};
use crate::meta_errors::classify;
use crate::principal::{Access, Principal};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

fn too_large(e: TooLarge) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "media_too_large",
        e.to_string(),
    )
}

fn fetch_failed(e: FetchError) -> ApiError {
    match e {
        FetchError::TooLarge(t) => too_large(t),
        FetchError::Refused(status) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "media_unavailable",
            format!(
                "Meta did not serve the attachment (it answered {status}); it may have expired"
            ),
        ),
        FetchError::BadUrl | FetchError::NoAnswer(_) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "media_unavailable",
            "Meta's media host did not answer",
        ),
    }
}

pub async fn attachment(
    State(app): State<AppState>,
    principal: Principal,
    Path((tenant, message, n)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let scope = tenant_scope(&app, &principal, &tenant, Access::Read).await?;
    let absent = || ApiError::not_found("attachment");
    // A number that is not one names no attachment, like one past the end.
    let n: usize = n.parse().map_err(|_| absent())?;
    let message = app
        .store
        .message_by_mid(&scope, &message)
        .await?
        .ok_or_else(absent)?;
    let thread = app
        .store
        .thread(&scope, &message.thread)
        .await?
        .ok_or_else(absent)?;
    let source = media::source(thread.channel, &message, n).map_err(|e| match e {
        Unavailable::NoAttachment => absent(),
        Unavailable::NothingToFetch => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing_to_fetch",
            e.to_string(),
        ),
    })?;
    let cap = app.config.media_max_bytes;
    let (response, stored_type) = match source {
        Source::Url { url, mime_type } => {
            // A CDN URL is signed on its own; no token goes to it.
            let r = app
                .media
                .open(&url, None, cap)
                .await
                .map_err(fetch_failed)?;
            (r, mime_type)
        }
        Source::WhatsAppMedia { id, mime_type } => {
            let channel = app
                .store
                .channels(&scope)
                .await?
                .into_iter()
                .find(|c| c.id == thread.channel_id)
                .ok_or_else(absent)?;
            let token = app.outbox.token(&scope, &channel).map_err(|_| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "not_connected",
                    "the channel has no usable access token; reconnect it",
                )
            })?;
            let node = app
                .outbox
                .graph()
                .media_node(&channel, token.expose(), &id)
                .await
                .map_err(|f| {
                    ApiError::new(StatusCode::BAD_GATEWAY, "meta_error", classify(&f).message)
                })?;
            media::admit(node.file_size, cap).map_err(too_large)?;
            let r = app
                .media
                .open(&node.url, Some(token.expose()), cap)
                .await
                .map_err(fetch_failed)?;
            (r, node.mime_type.or(mime_type))
        }
    };
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .cloned()
        .or_else(|| stored_type.and_then(|t| HeaderValue::from_str(&t).ok()))
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let length = response.content_length();
    let body = match length {
        Some(_) => Body::from_stream(media::capped_stream(response, cap)),
        // No declared length: read it whole (bounded by the cap, in memory only) so an
        // oversize answer is still a 413 and not a download cut short.
        None => Body::from(
            media::read_capped(response, cap)
                .await
                .map_err(fetch_failed)?,
        ),
    };
    tracing::info!(tenant = %scope.tenant(), message = %message.id, n, "attachment served");
    let mut answer = body.into_response();
    let headers = answer.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Some(len) = length
        && let Ok(v) = HeaderValue::from_str(&len.to_string())
    {
        headers.insert(header::CONTENT_LENGTH, v);
    }
    // Attachments are customer content: no shared cache may keep them.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(answer)
}
