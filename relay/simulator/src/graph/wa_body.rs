//! Validation of WhatsApp Cloud API send bodies (meta-platform.md §13.2), pure: text (at
//! most 4096 characters), media by link or id, interactive buttons and lists, templates
//! (name, language, body parameters), reactions, and mark-as-read. Errors are code 100 with
//! `error_data.details` naming the problem, as the Cloud API answers.

use super::ig_body::valid_url;
use crate::errors::GraphError;
use serde_json::Value;

const TEXT_MAX_CHARS: usize = 4096;
const OPAQUE_MAX: usize = 512;

/// What a valid send is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaKind {
    Text,
    Media(String),
    Interactive,
    Template {
        name: String,
        language: String,
        body_params: usize,
    },
    Reaction {
        message_id: String,
    },
    Other(String),
}

/// A valid WhatsApp request.
#[derive(Clone, Debug, PartialEq)]
pub enum WaRequest {
    /// `{"status": "read", "message_id"}`.
    MarkRead { message_id: String },
    Send {
        /// Digits only.
        to: String,
        kind: WaKind,
        text: Option<String>,
        context: Option<String>,
        biz_opaque_callback_data: Option<String>,
    },
}

fn bad(what: impl Into<String>) -> GraphError {
    GraphError::wa_invalid(what)
}

fn nonempty<'a>(v: &'a Value, name: &str) -> Result<&'a str, GraphError> {
    match v.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(bad(format!(
            "Parameter '{name}' is required and must be a non-empty string"
        ))),
    }
}

fn max_chars(s: &str, max: usize, name: &str) -> Result<(), GraphError> {
    if s.chars().count() > max {
        return Err(bad(format!(
            "Parameter '{name}' must be at most {max} characters long"
        )));
    }
    Ok(())
}

/// Validates a WhatsApp send body.
///
/// # Errors
/// Code 100 naming the problem.
pub fn parse(body: &Value) -> Result<WaRequest, GraphError> {
    if body["messaging_product"] != "whatsapp" {
        return Err(bad(
            "Parameter 'messaging_product' is required and must be 'whatsapp'",
        ));
    }
    if body.get("status").is_some() {
        if body["status"] != "read" {
            return Err(bad("Parameter 'status' must be 'read'"));
        }
        return Ok(WaRequest::MarkRead {
            message_id: nonempty(&body["message_id"], "message_id")?.to_owned(),
        });
    }
    let to = nonempty(&body["to"], "to")?;
    let digits = to.strip_prefix('+').unwrap_or(to);
    if !(6..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("Parameter 'to' is not a valid WhatsApp phone number"));
    }
    if let Some(rt) = body.get("recipient_type")
        && rt != "individual"
    {
        return Err(bad("Parameter 'recipient_type' must be 'individual'"));
    }
    let kind_name = body.get("type").and_then(Value::as_str).unwrap_or("text");
    let content = &body[kind_name];
    if !content.is_object() {
        return Err(bad(format!(
            "Parameter '{kind_name}' is required for type {kind_name}"
        )));
    }
    let mut text = None;
    let kind = match kind_name {
        "text" => {
            let b = nonempty(&content["body"], "text.body")?;
            max_chars(b, TEXT_MAX_CHARS, "text.body")?;
            text = Some(b.to_owned());
            WaKind::Text
        }
        "image" | "video" | "audio" | "document" | "sticker" => {
            media(kind_name, content)?;
            text = content["caption"].as_str().map(str::to_owned);
            WaKind::Media(kind_name.to_owned())
        }
        "interactive" => {
            text = interactive(content)?;
            WaKind::Interactive
        }
        "template" => template(content)?,
        "reaction" => {
            let id = nonempty(&content["message_id"], "reaction.message_id")?;
            if !content["emoji"].is_string() {
                return Err(bad(
                    "Parameter 'reaction.emoji' is required (empty removes the reaction)",
                ));
            }
            WaKind::Reaction {
                message_id: id.to_owned(),
            }
        }
        "location" | "contacts" => WaKind::Other(kind_name.to_owned()),
        other => {
            return Err(bad(format!(
                "Parameter 'type' has unsupported value '{other}'"
            )));
        }
    };
    let context = match body.get("context") {
        None | Some(Value::Null) => None,
        Some(c) => Some(nonempty(&c["message_id"], "context.message_id")?.to_owned()),
    };
    let opaque = match body.get("biz_opaque_callback_data") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            max_chars(s, OPAQUE_MAX, "biz_opaque_callback_data")?;
            Some(s.clone())
        }
        Some(_) => return Err(bad("Parameter 'biz_opaque_callback_data' must be a string")),
    };
    Ok(WaRequest::Send {
        to: digits.to_owned(),
        kind,
        text,
        context,
        biz_opaque_callback_data: opaque,
    })
}

fn media(kind: &str, c: &Value) -> Result<(), GraphError> {
    match (c.get("link").and_then(Value::as_str), c.get("id")) {
        (Some(link), None) if valid_url(link) => {}
        (Some(_), None) => return Err(bad(format!("Parameter '{kind}.link' must be a valid URL"))),
        (None, Some(id)) if id.is_string() => {}
        _ => {
            return Err(bad(format!(
                "Parameter '{kind}' needs exactly one of link and id"
            )));
        }
    }
    if c.get("caption").is_some() && !["image", "video", "document"].contains(&kind) {
        return Err(bad(format!(
            "Parameter '{kind}.caption' is not allowed for {kind}"
        )));
    }
    if c.get("filename").is_some() && kind != "document" {
        return Err(bad("Parameter 'filename' is only allowed for documents"));
    }
    Ok(())
}

fn interactive(c: &Value) -> Result<Option<String>, GraphError> {
    let body = nonempty(&c["body"]["text"], "interactive.body.text")?;
    max_chars(body, 1024, "interactive.body.text")?;
    match c["type"].as_str() {
        Some("button") => {
            let Some(buttons) = c["action"]["buttons"].as_array() else {
                return Err(bad("Parameter 'interactive.action.buttons' is required"));
            };
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(bad("interactive.action.buttons must hold 1 to 3 buttons"));
            }
            let mut ids = std::collections::BTreeSet::new();
            for b in buttons {
                if b["type"] != "reply" {
                    return Err(bad("interactive buttons must be of type 'reply'"));
                }
                let id = nonempty(&b["reply"]["id"], "reply.id")?;
                max_chars(id, 256, "reply.id")?;
                let title = nonempty(&b["reply"]["title"], "reply.title")?;
                max_chars(title, 20, "reply.title")?;
                if !ids.insert(id) {
                    return Err(bad("interactive button ids must be unique"));
                }
            }
        }
        Some("list") => {
            let button = nonempty(&c["action"]["button"], "interactive.action.button")?;
            max_chars(button, 20, "interactive.action.button")?;
            let Some(sections) = c["action"]["sections"].as_array() else {
                return Err(bad("Parameter 'interactive.action.sections' is required"));
            };
            let rows: usize = sections
                .iter()
                .map(|s| s["rows"].as_array().map_or(0, Vec::len))
                .sum();
            if sections.is_empty() || sections.len() > 10 || rows == 0 || rows > 10 {
                return Err(bad(
                    "an interactive list holds 1 to 10 sections with 1 to 10 rows in all",
                ));
            }
            for s in sections {
                for r in s["rows"].as_array().into_iter().flatten() {
                    nonempty(&r["id"], "row.id")?;
                    let title = nonempty(&r["title"], "row.title")?;
                    max_chars(title, 24, "row.title")?;
                }
            }
        }
        Some("cta_url") => {
            nonempty(
                &c["action"]["parameters"]["display_text"],
                "parameters.display_text",
            )?;
            if !c["action"]["parameters"]["url"]
                .as_str()
                .is_some_and(valid_url)
            {
                return Err(bad("Parameter 'parameters.url' must be a valid URL"));
            }
        }
        _ => {
            return Err(bad(
                "Parameter 'interactive.type' must be button, list or cta_url",
            ));
        }
    }
    Ok(Some(body.to_owned()))
}

fn template(c: &Value) -> Result<WaKind, GraphError> {
    let name = nonempty(&c["name"], "template.name")?;
    let language = nonempty(&c["language"]["code"], "template.language.code")?;
    let body_params = match c.get("components") {
        None | Some(Value::Null) => 0,
        Some(Value::Array(list)) => list
            .iter()
            .filter(|comp| {
                comp["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case("body"))
            })
            .map(|comp| comp["parameters"].as_array().map_or(0, Vec::len))
            .sum(),
        Some(_) => return Err(bad("Parameter 'template.components' must be an array")),
    };
    Ok(WaKind::Template {
        name: name.to_owned(),
        language: language.to_owned(),
        body_params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base(extra: Value) -> Value {
        let mut b = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234"});
        if let (Some(o), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        b
    }

    #[track_caller]
    fn ok(body: Value) -> WaRequest {
        parse(&body).unwrap_or_else(|e| panic!("{body} refused: {:?}", e.details))
    }

    #[test]
    fn documented_bodies_are_accepted() {
        let r = ok(base(
            json!({"type": "text", "text": {"preview_url": false, "body": "Halo 👋"}, "context": {"message_id": "wamid.X"}, "biz_opaque_callback_data": "order-7"}),
        ));
        assert_eq!(
            r,
            WaRequest::Send {
                to: "16505551234".into(),
                kind: WaKind::Text,
                text: Some("Halo 👋".into()),
                context: Some("wamid.X".into()),
                biz_opaque_callback_data: Some("order-7".into()),
            }
        );
        ok(base(json!({"text": {"body": "type defaults to text"}})));
        ok(base(
            json!({"type": "image", "image": {"link": "https://x.example/a.jpg", "caption": "c"}}),
        ));
        ok(base(
            json!({"type": "document", "document": {"id": "123", "filename": "price-list.pdf"}}),
        ));
        ok(base(
            json!({"type": "audio", "audio": {"link": "https://x.example/a.ogg"}}),
        ));
        ok(base(
            json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": "Size?"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "s", "title": "S"}}, {"type": "reply", "reply": {"id": "m", "title": "M"}}]}}}),
        ));
        let t = ok(base(
            json!({"type": "template", "template": {"name": "order_update", "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "#7"}]}]}}),
        ));
        assert!(matches!(
            t,
            WaRequest::Send {
                kind: WaKind::Template { body_params: 2, .. },
                ..
            }
        ));
        ok(base(
            json!({"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}}),
        ));
        assert_eq!(
            ok(json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.Y"})),
            WaRequest::MarkRead {
                message_id: "wamid.Y".into()
            }
        );
        let plus = ok(base(json!({"to": "+6281234567890", "text": {"body": "x"}})));
        assert!(matches!(plus, WaRequest::Send { ref to, .. } if to == "6281234567890"));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for body in [
            json!({"to": "16505551234", "text": {"body": "no product"}}),
            base(json!({"to": "not-a-number", "text": {"body": "x"}})),
            base(json!({"type": "text"})),
            base(json!({"type": "text", "text": {"body": ""}})),
            base(json!({"type": "text", "text": {"body": "x".repeat(4097)}})),
            base(json!({"type": "image", "image": {"link": "nope"}})),
            base(json!({"type": "image", "image": {}})),
            base(
                json!({"type": "audio", "audio": {"link": "https://x.example/a.ogg", "caption": "no"}}),
            ),
            base(
                json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": "x"}, "action": {"buttons": []}}}),
            ),
            base(
                json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": "x"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "this title is much too long"}}]}}}),
            ),
            base(json!({"type": "template", "template": {"name": "x"}})),
            base(json!({"type": "reaction", "reaction": {"message_id": "w"}})),
            base(json!({"type": "hologram", "hologram": {}})),
            base(json!({"text": {"body": "x"}, "biz_opaque_callback_data": 5})),
            json!({"messaging_product": "whatsapp", "status": "delivered", "message_id": "w"}),
        ] {
            let e = parse(&body)
                .err()
                .unwrap_or_else(|| panic!("{body} accepted"));
            assert_eq!(e.code, 100, "{body}");
            assert!(e.details.is_some(), "{body}");
        }
    }
}
