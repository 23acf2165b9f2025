//! Uploading a file to Meta before sending it, so a desk can send media that has no public
//! URL: WhatsApp's media upload (`POST /<PHONE_NUMBER_ID>/media`, answers `{id}`) and
//! Instagram's attachment upload (`POST /<PAGE_ID|IG_ID>/message_attachments` with
//! `is_reusable`, answers `{attachment_id}`; meta-platform.md §6.2). Both take
//! `multipart/form-data`, built here by hand: two or three parts do not need a crate.
//!
//! Limits are not checked here; the upload route checks them first (`protocol::upload`).

use super::{CallFailure, Graph, Track, url};
use crate::store::{ChannelKind, ChannelRecord};
use protocol::MediaKind;
use serde_json::json;

/// One file to upload.
pub struct Upload<'a> {
    pub kind: MediaKind,
    pub mime: &'a str,
    pub file_name: &'a str,
    pub bytes: &'a [u8],
}

impl Graph {
    /// Uploads `file` for `channel`; answers the id a send then names (WhatsApp media id,
    /// Instagram `attachment_id`).
    ///
    /// # Errors
    /// Meta's error answer, no answer, or an answer without an id.
    pub async fn upload(
        &self,
        channel: &ChannelRecord,
        token: &str,
        file: &Upload<'_>,
    ) -> Result<String, CallFailure> {
        let boundary = format!("chatdesk-{}", hex::encode(rand::random::<[u8; 12]>()));
        let mut form = Form::new(&boundary);
        let (target, id_field) = match channel.kind {
            ChannelKind::Whatsapp => {
                form.field("messaging_product", "whatsapp");
                form.field("type", file.mime);
                form.file("file", file.file_name, file.mime, file.bytes);
                (url(&self.meta_base, &[&channel.account_id, "media"])?, "id")
            }
            ChannelKind::Instagram => {
                let kind = match file.kind {
                    MediaKind::Image => "image",
                    MediaKind::Video => "video",
                    MediaKind::Audio => "audio",
                    MediaKind::File => "file",
                };
                let message =
                    json!({"attachment": {"type": kind, "payload": {"is_reusable": true}}});
                form.field("platform", "instagram");
                form.field("message", &message.to_string());
                form.file("filedata", file.file_name, file.mime, file.bytes);
                let target = url(
                    self.base(channel),
                    &[Self::sender(channel), "message_attachments"],
                )?;
                (target, "attachment_id")
            }
        };
        let request = self
            .http
            .post(target)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(form.finish());
        let answer = self.call(channel, request, token, Track::Usage).await?;
        answer[id_field]
            .as_str()
            .or_else(|| answer["id"].as_str())
            .map(str::to_owned)
            .ok_or(CallFailure::Answered {
                status: 200,
                error: None,
            })
    }
}

/// A `multipart/form-data` body (RFC 7578).
struct Form<'a> {
    boundary: &'a str,
    body: Vec<u8>,
}

impl<'a> Form<'a> {
    fn new(boundary: &'a str) -> Self {
        Form {
            boundary,
            body: Vec::new(),
        }
    }

    fn field(&mut self, name: &str, value: &str) {
        self.head(&format!(
            "Content-Disposition: form-data; name=\"{name}\"\r\n"
        ));
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
    }

    fn file(&mut self, name: &str, file_name: &str, mime: &str, bytes: &[u8]) {
        // A quote or line break in a file name would end the header early.
        let file_name: String = file_name
            .chars()
            .map(|c| if c == '"' || c.is_control() { '_' } else { c })
            .collect();
        self.head(&format!(
            "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
             Content-Type: {mime}\r\n"
        ));
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
    }

    fn head(&mut self, headers: &str) {
        self.body
            .extend_from_slice(format!("--{}\r\n{headers}\r\n", self.boundary).as_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_has_its_parts_between_boundaries() {
        let mut form = Form::new("b0");
        form.field("type", "image/png");
        form.file("file", "a\"b.png", "image/png", b"\x89PNG");
        let body = form.finish();
        let text = String::from_utf8_lossy(&body);
        assert_eq!(
            text,
            "--b0\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nimage/png\r\n\
             --b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a_b.png\"\r\n\
             Content-Type: image/png\r\n\r\n\u{fffd}PNG\r\n--b0--\r\n"
        );
    }
}
