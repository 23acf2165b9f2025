//! Meta's upload calls, as the relay makes them before sending a local file:
//! WhatsApp's `POST /{PHONE_NUMBER_ID}/media` (parts `messaging_product=whatsapp`, `type`,
//! `file`; answers `{id}`) and Instagram's `POST /{IG_ID|PAGE_ID|me}/message_attachments`
//! (parts `platform=instagram`, `message` with `attachment.type` and `is_reusable`,
//! `filedata`; answers `{attachment_id}`), both `multipart/form-data`.
//!
//! The call log keeps each file part as its name, type, size and SHA-256, never its bytes,
//! so a test can check what arrived. Uploaded ids are not remembered: a send naming one is
//! accepted as Meta accepts any well-formed id.

use super::{Answer, GraphRequest, authenticate, resolve_account};
use crate::Sim;
use crate::errors::GraphError;
use crate::ids;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// POST `/{id}/media` or `/{id}/message_attachments`.
///
/// # Errors
/// Authentication, an unknown account, or a missing or malformed part, as Meta answers.
pub fn upload(
    sim: &Arc<Sim>,
    req: &GraphRequest,
    id: &str,
    now: i64,
) -> Result<Answer, GraphError> {
    let st = sim.lock();
    let account = resolve_account(&st, req, id)?;
    authenticate(sim, &st, req, &account, id, now)?;
    let whatsapp = st.whatsapp.contains_key(&account);
    let edge = req.segments.get(1).map(String::as_str);
    let file = |name: &str| {
        req.body[name]["size"]
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or_else(|| GraphError::invalid_parameter(format!("param {name} must be a file")))
    };
    if whatsapp {
        if edge != Some("media") {
            return Err(GraphError::unknown_path(&req.path));
        }
        if req.body["messaging_product"] != "whatsapp" {
            return Err(GraphError::wa_invalid(
                "Parameter 'messaging_product' is required and must be 'whatsapp'",
            ));
        }
        if !req.body["type"].as_str().is_some_and(|t| t.contains('/')) {
            return Err(GraphError::wa_invalid(
                "Parameter 'type' must be a MIME type",
            ));
        }
        file("file")?;
        return Ok(Answer::ok(json!({ "id": ids::numeric("1056") })));
    }
    if edge != Some("message_attachments") {
        return Err(GraphError::unknown_path(&req.path));
    }
    let attachment = &req.body["message"]["attachment"];
    if !["image", "video", "audio", "file"].contains(&attachment["type"].as_str().unwrap_or("")) {
        return Err(GraphError::invalid_parameter(
            "param message[attachment][type] must be one of {image, audio, video, file}",
        ));
    }
    if attachment["payload"]["is_reusable"] != true {
        return Err(GraphError::invalid_parameter(
            "param message[attachment][payload][is_reusable] must be true",
        ));
    }
    file("filedata")?;
    Ok(Answer::ok(json!({ "attachment_id": ids::numeric("1057") })))
}

/// A `multipart/form-data` body as an object: text parts by name (JSON-valued ones
/// decoded), file parts as `{filename, content_type, size, sha256}`.
///
/// # Errors
/// No boundary in `content_type`, or a body that is not made of its parts.
pub fn parse_multipart(content_type: &str, bytes: &[u8]) -> Result<Value, String> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or("multipart body without a boundary")?;
    let delimiter = format!("--{boundary}");
    let mut parts = Map::new();
    let mut rest = bytes;
    let start = find(rest, delimiter.as_bytes()).ok_or("multipart body without parts")?;
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Ok(Value::Object(parts));
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("malformed multipart body")?;
        let end = find(rest, format!("\r\n{delimiter}").as_bytes())
            .ok_or("unterminated multipart part")?;
        let part = &rest[..end];
        rest = &rest[end + 2 + delimiter.len()..];
        let split = find(part, b"\r\n\r\n").ok_or("multipart part without headers")?;
        let head = String::from_utf8_lossy(&part[..split]);
        let content = &part[split + 4..];
        let param = |name: &str| {
            head.split(['\r', '\n', ';'])
                .find_map(|h| h.trim().strip_prefix(&format!("{name}=\"")))
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_owned)
        };
        let Some(name) = param("name") else {
            return Err("multipart part without a name".into());
        };
        let value = match param("filename") {
            Some(filename) => {
                let content_type = head
                    .lines()
                    .find_map(|l| {
                        l.split_once(':')
                            .filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-type"))
                            .map(|(_, v)| v.trim().to_owned())
                    })
                    .unwrap_or_default();
                json!({"filename": filename, "content_type": content_type,
                       "size": content.len(), "sha256": hex::encode(Sha256::digest(content))})
            }
            None => {
                let text = String::from_utf8_lossy(content).into_owned();
                let t = text.trim_start();
                if t.starts_with('{') || t.starts_with('[') {
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                } else {
                    Value::String(text)
                }
            }
        };
        parts.insert(name, value);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn multipart_parts_are_read_and_files_summarised() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n{\"a\":1}\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\nContent-Type: image/png\r\n\r\nab\r\ncd\r\n--XyZ--\r\n";
        let v = parse_multipart("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(v["messaging_product"], "whatsapp");
        assert_eq!(v["message"]["a"], 1);
        assert_eq!(v["file"]["filename"], "p.png");
        assert_eq!(v["file"]["content_type"], "image/png");
        assert_eq!(v["file"]["size"], 6);
        assert!(parse_multipart("multipart/form-data", body).is_err());
        assert!(parse_multipart("multipart/form-data; boundary=XyZ", b"--XyZ\r\nno end").is_err());
    }
}
