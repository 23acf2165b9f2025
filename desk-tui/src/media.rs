//! Attachments for the desk, in memory only (Meta forbids keeping story media, and nothing
//! needs to outlive the run): fetched through the relay's media route with the profile's own
//! token, kept in a bounded cache, served to the system opener and to terminal hyperlinks by
//! a loopback HTTP server under a random path, and encoded into inline images for the
//! terminal's graphics protocol.
//!
//! The loopback server is why an agent's browser can open a WhatsApp voice note without ever
//! holding a token: the browser asks `http://127.0.0.1:<port>/<secret>/<profile>/<mid>/<n>`,
//! the desk asks the relay with its bearer token, the relay asks Meta with the channel's.

mod opener;

pub use opener::{Os, candidates};

use crate::app::{InlineImage, MediaKey};
use crate::remote::{Fetched, Remote};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ratatui::layout::Size;
use ratatui_image::Resize;
use ratatui_image::picker::{Picker, ProtocolType};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

/// Bytes of attachments kept for this run; the oldest go first.
const CACHE_BYTES: usize = 64 * 1024 * 1024;
/// Inline images fit in this many rows, and never wider than this many columns.
const IMAGE_ROWS: u16 = 12;
const IMAGE_COLS: u16 = 48;
/// Decoding refuses images larger than this (a small file can claim a huge canvas).
const MAX_PIXELS_SIDE: u32 = 8192;
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

/// Why an attachment could not be had.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("profile {0} has no relay to ask")]
    NoProfile(usize),
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    #[error("not an image the desk can draw: {0}")]
    Image(String),
    #[error("the system opener failed: {0}")]
    Opener(String),
    #[error("the desk's attachment server could not start: {0}")]
    Server(String),
}

/// Where one profile's attachments come from.
#[derive(Clone, Debug)]
pub struct Source {
    pub remote: Remote,
    pub tenant: String,
}

/// The attachments of every profile of this desk.
pub struct Media {
    sources: Vec<Option<Source>>,
    cache: Mutex<Cache>,
    /// `Some` only when the terminal answered for a real graphics protocol.
    picker: Option<Picker>,
    /// `http://127.0.0.1:<port>/<secret>`, once the server runs.
    base: Mutex<Option<String>>,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media")
            .field("profiles", &self.sources.len())
            .field("inline_images", &self.picker.is_some())
            .finish_non_exhaustive()
    }
}

impl Media {
    /// `picker` is the terminal's graphics protocol as detected at start; halfblocks count
    /// as none (they would turn every photo into coloured blocks on any terminal).
    #[must_use]
    pub fn new(sources: Vec<Option<Source>>, picker: Option<Picker>) -> Arc<Media> {
        let picker = picker.filter(|p| p.protocol_type() != ProtocolType::Halfblocks);
        Arc::new(Media {
            sources,
            cache: Mutex::new(Cache::default()),
            picker,
            base: Mutex::new(None),
        })
    }

    /// Whether images are drawn inline.
    #[must_use]
    pub fn inline_images(&self) -> bool {
        self.picker.is_some()
    }

    /// Starts the loopback server (once) and answers its base URL.
    ///
    /// # Errors
    /// No loopback port could be bound.
    pub async fn serve(self: &Arc<Media>) -> Result<String, MediaError> {
        if let Some(base) = self
            .base
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Ok(base);
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| MediaError::Server(e.to_string()))?;
        let port = listener
            .local_addr()
            .map_err(|e| MediaError::Server(e.to_string()))?
            .port();
        let secret = hex::encode(rand::random::<[u8; 16]>());
        let app = axum::Router::new()
            .route(
                "/{secret}/{profile}/{message}/{n}",
                axum::routing::get(serve_one),
            )
            .fallback(|| async { StatusCode::NOT_FOUND })
            .with_state((self.clone(), secret.clone()));
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "the attachment server stopped");
            }
        });
        let base = format!("http://127.0.0.1:{port}/{secret}");
        *self.base.lock().unwrap_or_else(PoisonError::into_inner) = Some(base.clone());
        Ok(base)
    }

    /// The attachment's bytes, from this run's cache or the relay.
    ///
    /// # Errors
    /// Unknown profile, or the relay refused or could not be reached.
    pub async fn fetch(&self, key: &MediaKey) -> Result<Arc<Fetched>, MediaError> {
        if let Some(hit) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            return Ok(hit);
        }
        let source = self
            .sources
            .get(key.profile)
            .and_then(Option::as_ref)
            .ok_or(MediaError::NoProfile(key.profile))?;
        let fetched = Arc::new(
            source
                .remote
                .media(&source.tenant, &key.message, key.n)
                .await?,
        );
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .put(key.clone(), fetched.clone());
        Ok(fetched)
    }

    /// Hands the attachment to the system opener, through the loopback server.
    ///
    /// # Errors
    /// The server cannot start, or no opener could be started.
    pub async fn open(self: &Arc<Media>, key: &MediaKey) -> Result<(), MediaError> {
        // Fetched first, so a refusal (gone, too large) is said here rather than in a
        // browser tab.
        self.fetch(key).await?;
        let base = self.serve().await?;
        open_url(&key.url(&base), std::env::var("BROWSER").ok().as_deref()).await
    }

    /// The image encoded for the terminal, at most `room` columns wide.
    ///
    /// # Errors
    /// The terminal draws no images, the fetch failed, or the bytes are not an image.
    pub async fn image(&self, key: &MediaKey, room: u16) -> Result<InlineImage, MediaError> {
        let picker = self
            .picker
            .clone()
            .ok_or_else(|| MediaError::Image("this terminal draws no images".into()))?;
        let fetched = self.fetch(key).await?;
        let cols = room.min(IMAGE_COLS);
        tokio::task::spawn_blocking(move || encode(&picker, &fetched.bytes, cols, IMAGE_ROWS))
            .await
            .map_err(|e| MediaError::Image(e.to_string()))?
    }
}

/// Whether the terminal is one that may draw images (kitty, iTerm2, WezTerm, Ghostty,
/// foot, mlterm, Konsole, Contour, VS Code, Rio, or `DESK_IMAGES=1`), judged from the
/// environment alone. Only then is the terminal asked: the query reads the answer from
/// stdin, and keys typed while it waits would be lost, so a terminal that cannot answer is
/// never made to wait (tmux and plain xterms included).
#[must_use]
pub fn may_draw_images(env: impl Fn(&str) -> Option<String>) -> bool {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    if let Some(forced) = env("DESK_IMAGES") {
        return matches!(forced.as_str(), "1" | "on" | "yes" | "true");
    }
    let term = env("TERM").unwrap_or_default().to_ascii_lowercase();
    let program = env("TERM_PROGRAM").unwrap_or_default().to_ascii_lowercase();
    set("KITTY_WINDOW_ID")
        || set("WEZTERM_EXECUTABLE")
        || set("KONSOLE_VERSION")
        || [
            "kitty", "ghostty", "wezterm", "foot", "mlterm", "contour", "rio",
        ]
        .iter()
        .any(|t| term.contains(t))
        || ["iterm.app", "wezterm", "ghostty", "vscode", "rio"]
            .iter()
            .any(|p| program == *p)
}

/// The terminal's graphics protocol, asked with a short wait (see [`may_draw_images`]).
#[must_use]
pub fn ask_terminal() -> Option<Picker> {
    let options = ratatui_image::picker::cap_parser::QueryStdioOptions {
        timeout: std::time::Duration::from_millis(400),
        ..Default::default()
    };
    Picker::from_query_stdio_with_options(options).ok()
}

/// Hands `url` to the system opener, `browser` being `$BROWSER`'s value.
///
/// # Errors
/// No opener could be started.
pub async fn open_url(url: &str, browser: Option<&str>) -> Result<(), MediaError> {
    let (url, browser) = (url.to_owned(), browser.map(str::to_owned));
    tokio::task::spawn_blocking(move || opener::open(&url, browser.as_deref(), Os::current()))
        .await
        .map_err(|e| MediaError::Opener(e.to_string()))?
        .map_err(MediaError::Opener)
}

/// Decodes `bytes` (bounded) and encodes them for `picker`'s protocol within
/// `cols`×`rows` cells, keeping the aspect ratio.
///
/// # Errors
/// Not a decodable image, over the decoding limits, or no room.
pub fn encode(
    picker: &Picker,
    bytes: &[u8],
    cols: u16,
    rows: u16,
) -> Result<InlineImage, MediaError> {
    if cols == 0 || rows == 0 {
        return Err(MediaError::Image("no room in the pane".into()));
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| MediaError::Image(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_PIXELS_SIDE);
    limits.max_image_height = Some(MAX_PIXELS_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| MediaError::Image(e.to_string()))?;
    let protocol = picker
        .new_protocol(decoded, Size::new(cols, rows), Resize::Fit(None))
        .map_err(|e| MediaError::Image(e.to_string()))?;
    let size = protocol.size();
    Ok(InlineImage {
        protocol: Arc::new(protocol),
        cols: size.width,
        rows: size.height,
    })
}

async fn serve_one(
    State((media, secret)): State<(Arc<Media>, String)>,
    Path((given, profile, message, n)): Path<(String, String, String, String)>,
) -> Response {
    // Anything but the exact secret and two numbers is simply not there.
    let (Ok(profile), Ok(n)) = (profile.parse::<usize>(), n.parse::<usize>()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if given != secret {
        return StatusCode::NOT_FOUND.into_response();
    }
    let key = MediaKey {
        profile,
        message,
        n,
    };
    match media.fetch(&key).await {
        Ok(fetched) => (
            [
                (header::CONTENT_TYPE, fetched.content_type.clone()),
                (header::CACHE_CONTROL, "private, no-store".to_owned()),
            ],
            fetched.bytes.clone(),
        )
            .into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// Recently fetched attachments, up to [`CACHE_BYTES`] in all.
#[derive(Default)]
struct Cache {
    entries: VecDeque<(MediaKey, Arc<Fetched>)>,
    bytes: usize,
}

impl Cache {
    fn get(&self, key: &MediaKey) -> Option<Arc<Fetched>> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, f)| f.clone())
    }

    fn put(&mut self, key: MediaKey, fetched: Arc<Fetched>) {
        if self.get(&key).is_some() || fetched.bytes.len() > CACHE_BYTES {
            return;
        }
        self.bytes += fetched.bytes.len();
        self.entries.push_back((key, fetched));
        while self.bytes > CACHE_BYTES {
            let Some((_, old)) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= old.bytes.len();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fetched(len: usize) -> Arc<Fetched> {
        Arc::new(Fetched {
            content_type: "image/png".into(),
            bytes: bytes::Bytes::from(vec![0u8; len]),
        })
    }

    fn key(n: usize) -> MediaKey {
        MediaKey {
            profile: 0,
            message: "m".into(),
            n,
        }
    }

    #[test]
    fn only_terminals_that_may_draw_images_are_asked() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert!(may_draw_images(env(&[("TERM", "xterm-kitty")])));
        assert!(may_draw_images(env(&[("TERM_PROGRAM", "iTerm.app")])));
        assert!(may_draw_images(env(&[("KITTY_WINDOW_ID", "3")])));
        assert!(!may_draw_images(env(&[("TERM", "tmux-256color")])));
        assert!(!may_draw_images(env(&[("TERM", "xterm-256color")])));
        assert!(!may_draw_images(env(&[])));
        assert!(may_draw_images(env(&[
            ("TERM", "xterm"),
            ("DESK_IMAGES", "1")
        ])));
        assert!(!may_draw_images(env(&[
            ("TERM", "xterm-kitty"),
            ("DESK_IMAGES", "0")
        ])));
    }

    #[test]
    fn the_cache_drops_the_oldest_beyond_its_bytes() {
        let mut cache = Cache::default();
        let third = CACHE_BYTES / 3 + 1;
        cache.put(key(0), fetched(third));
        cache.put(key(1), fetched(third));
        assert!(cache.get(&key(0)).is_some());
        cache.put(key(2), fetched(third));
        assert!(cache.get(&key(0)).is_none(), "the oldest went");
        assert!(cache.get(&key(1)).is_some() && cache.get(&key(2)).is_some());
        assert!(cache.bytes <= CACHE_BYTES);
        cache.put(key(3), fetched(CACHE_BYTES + 1));
        assert!(
            cache.get(&key(3)).is_none(),
            "larger than the cache: not kept"
        );
    }

    #[test]
    fn images_fit_the_box_and_keep_their_shape() {
        let mut png = Vec::new();
        let img = image::RgbImage::from_fn(800, 400, |x, _| image::Rgb([(x % 256) as u8, 0, 0]));
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let picker = Picker::halfblocks();
        let got = encode(&picker, &png, 40, 12).unwrap();
        assert!(got.cols <= 40 && got.rows <= 12, "{got:?}");
        // 2:1 pixels on 10×20-pixel cells: four times as many columns as rows, scaled
        // down to the box's width.
        assert_eq!(got.cols, 40);
        assert_eq!(got.rows, 10);
        assert!(matches!(
            encode(&picker, b"not an image", 40, 12),
            Err(MediaError::Image(_))
        ));
    }
}
