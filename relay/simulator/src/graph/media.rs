//! Media the simulator serves, in the two ways Meta hands attachments to a business:
//!
//! - WhatsApp: the webhook carries a media id; `GET /{MEDIA_ID}` with the number's token
//!   answers `{messaging_product, url, mime_type, sha256, file_size, id}`, and that `url`
//!   (here `/_sim/lookaside/{id}`, Meta's `lookaside.fbsbx.com`) serves the bytes only to a
//!   request with `Authorization: Bearer <the same token>` (meta-platform.md §13.1).
//! - Instagram: the webhook carries a signed CDN URL (here `/_sim/cdn/{id}`) that serves the
//!   bytes to anyone. It refuses a request that carries an `Authorization` header, because a
//!   relay sending its token to a CDN would be leaking it.
//!
//! `POST /_sim/media {account, mime_type, size, declare_length?}` makes one: `size` bytes of
//! the pattern [`pattern`] (so a test can compute what it should receive), served with a
//! `Content-Length` unless `declare_length` is false (then chunked, length unknown until
//! the end). It answers `{id, cdn_url, lookaside_url, sha256}`.

use super::{Answer, GraphRequest, authenticate};
use crate::Sim;
use crate::errors::GraphError;
use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Largest medium a test may ask for (the relay's cap is what is under test, not memory).
const MAX_SIZE: usize = 64 * 1024 * 1024;

/// One stored medium.
#[derive(Clone, Debug)]
pub struct SimMedia {
    /// The account (IG id or phone number id) whose customer sent it.
    pub account: String,
    pub mime_type: String,
    pub bytes: Bytes,
    pub declare_length: bool,
}

/// The bytes of a medium of `size` bytes: a fixed, non-repeating-looking pattern a test can
/// recompute.
#[must_use]
pub fn pattern(size: usize) -> Vec<u8> {
    (0..size).map(|i| ((i * 31 + 7) % 251) as u8).collect()
}

/// A small real picture (PNG, 320×200: a batik-like pattern of stripes and dots), for the
/// photos customers send in the demo without a medium made beforehand.
#[must_use]
pub fn sample_picture() -> Vec<u8> {
    let img = image::RgbImage::from_fn(320, 200, |x, y| {
        let band = (y / 25) % 2 == 0;
        let dot = (x % 40 < 12) && (y % 25 < 12);
        match (band, dot) {
            (_, true) => image::Rgb([232, 196, 112]),
            (true, false) => image::Rgb([38, 58, 112]),
            (false, false) => image::Rgb([120, 62, 40]),
        }
    });
    let mut png = Vec::new();
    // Encoding an in-memory RGB image as PNG into a Vec cannot fail.
    let _ = image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png);
    png
}

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/media", post(create))
        .route("/_sim/lookaside/{id}", get(lookaside))
        .route("/_sim/cdn/{id}", get(cdn))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMedia {
    account: String,
    mime_type: String,
    size: usize,
    #[serde(default = "yes")]
    declare_length: bool,
}

fn yes() -> bool {
    true
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": {"message": message}}))).into_response()
}

async fn create(State(sim): State<Arc<Sim>>, Json(new): Json<NewMedia>) -> Response {
    if new.size > MAX_SIZE {
        return error(StatusCode::BAD_REQUEST, "size is larger than 64 MiB");
    }
    let bytes = Bytes::from(pattern(new.size));
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let base = sim.own_url().to_owned();
    let mut st = sim.lock();
    if st.account(&new.account).is_none() {
        return error(StatusCode::BAD_REQUEST, "unknown account");
    }
    // Media ids are digit strings, like Meta's.
    let id = format!("{}", 1_055_000_000_000_000u64 + st.media.len() as u64 + 1);
    st.media.insert(
        id.clone(),
        SimMedia {
            account: new.account,
            mime_type: new.mime_type,
            bytes,
            declare_length: new.declare_length,
        },
    );
    (
        StatusCode::CREATED,
        Json(json!({
            "id": id,
            "cdn_url": format!("{base}/_sim/cdn/{id}?oh=sig&oe=expiry"),
            "lookaside_url": format!("{base}/_sim/lookaside/{id}"),
            "sha256": sha256,
        })),
    )
        .into_response()
}

/// GET `/{MEDIA_ID}`: the WhatsApp media node, for the number's token only.
///
/// # Errors
/// Token errors; an Instagram medium is not a Graph node.
pub fn node(sim: &Arc<Sim>, req: &GraphRequest, id: &str, now: i64) -> Result<Answer, GraphError> {
    let st = sim.lock();
    let media = st
        .media
        .get(id)
        .ok_or_else(|| GraphError::unknown_object(id))?;
    if !st.whatsapp.contains_key(&media.account) {
        return Err(GraphError::unknown_object(id));
    }
    authenticate(sim, &st, req, &media.account, id, now)?;
    Ok(Answer::ok(json!({
        "messaging_product": "whatsapp",
        "url": format!("{}/_sim/lookaside/{id}?ext=1&hash=sig", sim.own_url()),
        "mime_type": media.mime_type,
        "sha256": hex::encode(Sha256::digest(&media.bytes)),
        "file_size": media.bytes.len(),
        "id": id,
    })))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn serve(media: &SimMedia) -> Response {
    let body = if media.declare_length {
        Body::from(media.bytes.clone())
    } else {
        // A stream has no length up front, so the answer is chunked.
        let chunks: Vec<Result<Bytes, std::io::Error>> = media
            .bytes
            .chunks(16 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    };
    let mut resp = body.into_response();
    if let Ok(v) = media.mime_type.parse() {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

/// Meta's lookaside download: the bytes for a bearer of the owning number's token.
async fn lookaside(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let st = sim.lock();
    let Some(media) = st.media.get(&id) else {
        return error(StatusCode::NOT_FOUND, "no such media");
    };
    let allowed = bearer(&headers).is_some_and(|t| {
        st.whatsapp
            .get(&media.account)
            .is_some_and(|n| n.token == t || st.issued_for(t, &media.account).is_some())
    });
    if !allowed {
        return error(StatusCode::UNAUTHORIZED, "a valid access token is required");
    }
    serve(media)
}

/// An Instagram CDN URL: public, and never to be sent a token.
async fn cdn(State(sim): State<Arc<Sim>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if headers.contains_key(header::AUTHORIZATION) {
        return error(
            StatusCode::BAD_REQUEST,
            "a CDN URL must not be sent an Authorization header",
        );
    }
    let st = sim.lock();
    match st.media.get(&id) {
        Some(media) => serve(media),
        None => error(StatusCode::NOT_FOUND, "no such media"),
    }
}

#[cfg(test)]
mod tests {
    use super::pattern;

    #[test]
    fn pattern_is_what_tests_recompute() {
        let p = pattern(300);
        assert_eq!(p[0], 7);
        assert_eq!(p[1], 38);
        assert_eq!(p.len(), 300);
    }
}
