//! `POST /v1/tenants/{t}/channels/{c}/media?kind=…&name=…`: a desk's local file, uploaded
//! to Meta through the channel's token so it can be sent by id (`ReplyContent::Uploaded`).
//! The body is the file's bytes. Its type (by the name's extension) and size are checked
//! against the channel's limits (`protocol::upload`) before anything reaches Meta; nothing
//! is kept on disk. Answers `201 {"id": "…", "kind": "image"}`.

use super::AppState;
use super::error::ApiError;
use super::meta_settings::{channel_and_token, meta_failed};
use crate::outbox::graph::Upload;
use crate::principal::{Access, Principal};
use crate::store::ChannelKind;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::Channel;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// `image`, `video`, `audio` or `file`.
    kind: String,
    /// The file's name; its extension decides its type.
    name: String,
}

pub async fn upload(
    State(app): State<AppState>,
    principal: Principal,
    Path((tenant, channel)): Path<(String, String)>,
    Query(query): Query<UploadQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let kind = protocol::upload::kind_named(&query.kind).ok_or_else(|| {
        ApiError::bad_request("invalid_kind", "kind is image, video, audio or file")
    })?;
    let (record, token) =
        channel_and_token(&app, &principal, &tenant, &channel, Access::Read, None).await?;
    let on = match record.kind {
        ChannelKind::Instagram => Channel::InstagramDm,
        ChannelKind::Whatsapp => Channel::WhatsApp,
    };
    let mime = protocol::upload::mime_of(&query.name).unwrap_or("application/octet-stream");
    protocol::upload::check(on, kind, mime, body.len() as u64).map_err(|why| {
        let status = if body.len() as u64 > protocol::upload::MAX_UPLOAD_BYTES {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        ApiError::new(status, "media_refused", why)
    })?;
    let file = Upload {
        kind,
        mime,
        file_name: &query.name,
        bytes: &body,
    };
    let id = app
        .outbox
        .graph()
        .upload(&record, &token, &file)
        .await
        .map_err(|e| meta_failed(&e))?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "id": id, "kind": protocol::upload::kind_name(kind) })),
    )
        .into_response())
}
