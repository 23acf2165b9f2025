//! Attachments fetched on demand for `GET /v1/tenants/{t}/media/{message}/{n}`.
//!
//! The relay stores what a webhook said about an attachment (`protocol::Attachment`), never
//! its bytes. When an agent opens one, the relay fetches it and streams it through, so a
//! desk never holds a channel token and nothing lands on the relay's disk:
//!
//! - WhatsApp attachments are media ids: `GET /{media-id}` on the Graph API with the
//!   channel's token answers `{url, mime_type, file_size}`, and that URL is downloaded
//!   with the same token as a bearer header (meta-platform.md §13.1).
//! - Instagram attachments carry a signed CDN URL, fetched as is and without any token.
//!   Only a URL a verified webhook put on that very message can be fetched, never one from
//!   the request.
//!
//! Deciding (which source, whether a declared size fits the cap) is pure; `Fetcher` does
//! the IO. Attachment numbers are 0-based: `n` is the index in the message's
//! `attachments` list as the messages API shows it.

use crate::store::MessageContent;
use crate::store::MessageView;
use bytes::Bytes;
use protocol::Channel;
use protocol::inbound::MediaRef;
use std::time::Duration;

/// Connecting to Meta or its CDN must not take longer than this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Nor may the stream stall longer than this between reads (a whole video may take longer
/// than any total timeout that would suit a JSON call).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Where an attachment's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A WhatsApp media id, resolved with the channel's token.
    WhatsAppMedia {
        id: String,
        mime_type: Option<String>,
    },
    /// A URL the webhook carried (Instagram CDN), fetched without a token.
    Url {
        url: String,
        mime_type: Option<String>,
    },
}

/// Why an attachment cannot be fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The message has no attachment `n` (or was removed at the customer's request).
    #[error("no such attachment")]
    NoAttachment,
    /// The attachment exists but Meta gave nothing to fetch (ephemeral media, a like).
    #[error("this attachment has no media to fetch")]
    NothingToFetch,
}

/// The source of attachment `n` (0-based) of `message`, received on `channel`.
///
/// # Errors
/// No such attachment, or one without fetchable media.
pub fn source(channel: Channel, message: &MessageView, n: usize) -> Result<Source, Unavailable> {
    let MessageContent::Message { attachments, .. } = &message.content else {
        return Err(Unavailable::NoAttachment);
    };
    let a = attachments.get(n).ok_or(Unavailable::NoAttachment)?;
    let mime_type = a.mime_type.clone();
    match a.media_ref(channel) {
        Some(MediaRef::WhatsAppMedia(id)) => Ok(Source::WhatsAppMedia {
            id: id.to_owned(),
            mime_type,
        }),
        Some(MediaRef::Url(url)) => Ok(Source::Url {
            url: url.to_owned(),
            mime_type,
        }),
        None => Err(Unavailable::NothingToFetch),
    }
}

/// The size is over the cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the attachment is larger than {cap} bytes")]
pub struct TooLarge {
    pub cap: u64,
}

/// Whether a declared size (Meta's `file_size`, a `Content-Length`) may be fetched.
///
/// # Errors
/// Over the cap.
pub fn admit(declared: Option<u64>, cap: u64) -> Result<(), TooLarge> {
    match declared {
        Some(size) if size > cap => Err(TooLarge { cap }),
        _ => Ok(()),
    }
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the media URL is not usable")]
    BadUrl,
    /// No answer; the text never names the URL (a CDN URL carries its signature).
    #[error("no answer from the media host: {0}")]
    NoAnswer(String),
    #[error("the media host answered {0}")]
    Refused(u16),
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
}

/// Downloads media, streaming.
pub struct Fetcher {
    http: reqwest::Client,
}

impl Fetcher {
    /// # Errors
    /// The HTTP client cannot be built (no TLS roots).
    pub fn new() -> reqwest::Result<Fetcher> {
        Ok(Fetcher {
            http: reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(READ_TIMEOUT)
                // reqwest drops the Authorization header on a redirect to another host, so
                // a redirect cannot carry the token off Meta's host.
                .redirect(reqwest::redirect::Policy::limited(5))
                .build()?,
        })
    }

    /// Starts a download: the answer's headers are in, the body is not read yet. A
    /// successful answer whose declared length is over `cap` is refused here.
    ///
    /// # Errors
    /// A bad URL, no answer, an error status, or a declared size over the cap.
    pub async fn open(
        &self,
        url: &str,
        bearer: Option<&str>,
        cap: u64,
    ) -> Result<reqwest::Response, FetchError> {
        let url = reqwest::Url::parse(url).map_err(|_| FetchError::BadUrl)?;
        let mut request = self.http.get(url);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| FetchError::NoAnswer(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        if status >= 300 {
            return Err(FetchError::Refused(status));
        }
        admit(response.content_length(), cap)?;
        Ok(response)
    }
}

/// Reads a whole body of unknown length, up to `cap` bytes: used when the host declared no
/// length, so the over-the-cap answer can still be a 413 rather than a cut stream.
///
/// # Errors
/// No answer mid-body, or more than `cap` bytes.
pub async fn read_capped(mut response: reqwest::Response, cap: u64) -> Result<Bytes, FetchError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| FetchError::NoAnswer(e.without_url().to_string()))?
    {
        if body.len() as u64 + chunk.len() as u64 > cap {
            // Dropping the response stops reading and closes the connection.
            return Err(TooLarge { cap }.into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// The body of an answer with a declared length, as a stream that ends with an error
/// (cutting the client's download short) if the host sends more than `cap` bytes after all.
pub fn capped_stream(
    response: reqwest::Response,
    cap: u64,
) -> impl futures_util::Stream<Item = Result<Bytes, FetchError>> + Send + 'static {
    futures_util::stream::unfold(Some((response, 0u64)), move |state| async move {
        let (mut response, seen) = state?;
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let seen = seen + chunk.len() as u64;
                if seen > cap {
                    Some((Err(TooLarge { cap }.into()), None))
                } else {
                    Some((Ok(chunk), Some((response, seen))))
                }
            }
            Ok(None) => None,
            Err(e) => Some((Err(FetchError::NoAnswer(e.without_url().to_string())), None)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MessageContent;
    use protocol::inbound::{Attachment, AttachmentKind};
    use protocol::{Direction, MessageId, Millis, Seq, TenantId, ThreadId};

    fn message(attachments: Vec<Attachment>) -> MessageView {
        MessageView {
            id: MessageId::new("ms_1"),
            tenant: TenantId::new("t"),
            thread: ThreadId::new("th"),
            mid: "m1".into(),
            direction: Direction::Inbound,
            occurred_at: Millis(0),
            received_at: Millis(0),
            seq: Seq(1),
            content: MessageContent::Message {
                text: None,
                attachments,
                reply_to: None,
                quick_reply: None,
                structured: None,
                unsupported: false,
            },
            edits: 0,
            deleted: false,
            reactions: Vec::new(),
            status: None,
            status_errors: Vec::new(),
            seen: false,
            hidden: false,
        }
    }

    #[test]
    fn whatsapp_uses_the_media_id_and_instagram_the_stored_url() {
        let mut wa = Attachment::new(AttachmentKind::Image);
        wa.reference_id = Some("1055".into());
        wa.url = Some("https://lookaside.example/x".into());
        let mut ig = Attachment::new(AttachmentKind::Image);
        ig.url = Some("https://cdn.example/a.jpg?sig=1".into());
        let m = message(vec![wa, ig]);
        assert_eq!(
            source(Channel::WhatsApp, &m, 0),
            Ok(Source::WhatsAppMedia {
                id: "1055".into(),
                mime_type: None
            })
        );
        assert_eq!(
            source(Channel::InstagramDm, &m, 1),
            Ok(Source::Url {
                url: "https://cdn.example/a.jpg?sig=1".into(),
                mime_type: None
            })
        );
        assert_eq!(
            source(Channel::InstagramDm, &m, 2),
            Err(Unavailable::NoAttachment)
        );
    }

    #[test]
    fn attachments_without_media_and_removed_messages_are_refused() {
        let mut ephemeral = Attachment::new(AttachmentKind::Ephemeral);
        ephemeral.url = None;
        let mut file = Attachment::new(AttachmentKind::File);
        file.url = Some("file:///etc/passwd".into());
        let m = message(vec![ephemeral, file]);
        assert_eq!(
            source(Channel::InstagramDm, &m, 0),
            Err(Unavailable::NothingToFetch)
        );
        assert_eq!(
            source(Channel::InstagramDm, &m, 1),
            Err(Unavailable::NothingToFetch)
        );
        let mut removed = m;
        removed.content = MessageContent::Removed;
        assert_eq!(
            source(Channel::InstagramDm, &removed, 0),
            Err(Unavailable::NoAttachment)
        );
    }

    #[test]
    fn declared_sizes_over_the_cap_are_refused() {
        assert_eq!(admit(Some(10), 10), Ok(()));
        assert_eq!(admit(None, 10), Ok(()));
        assert_eq!(admit(Some(11), 10), Err(TooLarge { cap: 10 }));
    }
}
