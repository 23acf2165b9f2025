//! Validation of Instagram Send API bodies (meta-platform.md §6.2), pure: a JSON body in, a
//! typed request or Meta's code-100 error out. What is checked: recipient (IGSID or
//! comment id), `messaging_type` / `tag`, exactly one of `message` and `sender_action`,
//! exactly one of text / attachment / attachments, text at most 1000 UTF-8 bytes, quick
//! replies, every attachment type's payload, generic and button templates, and the
//! reaction payloads.

use crate::errors::GraphError;
use crate::ratelimit::Bucket;
use serde_json::Value;

/// The text limit, in bytes of UTF-8.
pub const TEXT_MAX_BYTES: usize = 1000;
const QUICK_REPLIES_MAX: usize = 13;
const QUICK_REPLY_TITLE_MAX: usize = 20;
const IMAGES_MAX: usize = 10;
const BUTTONS_MAX: usize = 3;
const ELEMENTS_MAX: usize = 10;

/// Who a send goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// A customer's IGSID.
    Id(String),
    /// A comment: a private reply.
    Comment(String),
}

/// A sender action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SenderAction {
    TypingOn,
    TypingOff,
    MarkSeen,
    React { mid: String, reaction: String },
    Unreact { mid: String },
}

impl SenderAction {
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            SenderAction::TypingOn => "typing_on",
            SenderAction::TypingOff => "typing_off",
            SenderAction::MarkSeen => "mark_seen",
            SenderAction::React { .. } => "react",
            SenderAction::Unreact { .. } => "unreact",
        }
    }
}

/// A valid Instagram send.
#[derive(Clone, Debug, PartialEq)]
pub enum IgRequest {
    Message {
        recipient: Recipient,
        /// The `message` object as sent.
        message: Value,
        text: Option<String>,
        /// The `HUMAN_AGENT` tag was given.
        human_agent: bool,
        bucket: Bucket,
    },
    Action {
        recipient: String,
        action: SenderAction,
    },
}

impl IgRequest {
    /// The rate-limit bucket of this request.
    #[must_use]
    pub fn bucket(&self) -> Bucket {
        match self {
            IgRequest::Message {
                recipient: Recipient::Comment(_),
                ..
            } => Bucket::PrivateReplies,
            IgRequest::Message { bucket, .. } => *bucket,
            IgRequest::Action { .. } => Bucket::Text,
        }
    }
}

fn bad(what: impl Into<String>) -> GraphError {
    GraphError::invalid_parameter(what)
}

fn nonempty_str<'a>(v: &'a Value, name: &str) -> Result<&'a str, GraphError> {
    match v.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(bad(format!("param {name} must be a non-empty string."))),
    }
}

/// A URL Meta would fetch: http(s), a host, no whitespace.
#[must_use]
pub fn valid_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !s.chars().any(char::is_whitespace)
    })
}

/// Validates an Instagram send body.
///
/// # Errors
/// Meta's code-100 error naming what is wrong.
pub fn parse(body: &Value) -> Result<IgRequest, GraphError> {
    if !body.is_object() {
        return Err(bad("param recipient must be non-empty."));
    }
    let recipient = recipient(&body["recipient"])?;
    let messaging_type = body.get("messaging_type").and_then(Value::as_str);
    if let Some(t) = messaging_type
        && !["RESPONSE", "UPDATE", "MESSAGE_TAG"].contains(&t)
    {
        return Err(bad(
            "param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}",
        ));
    }
    let tag = match body.get("tag") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t == "HUMAN_AGENT" => Some(t.as_str()),
        Some(_) => {
            return Err(bad(
                "param tag must be HUMAN_AGENT (the only tag Instagram supports)",
            ));
        }
    };
    if messaging_type == Some("MESSAGE_TAG") && tag.is_none() {
        return Err(bad(
            "param tag is required when messaging_type is MESSAGE_TAG",
        ));
    }
    let message = body.get("message").filter(|m| !m.is_null());
    let action = body.get("sender_action").filter(|a| !a.is_null());
    match (message, action) {
        (Some(_), Some(_)) => Err(bad("only one of message and sender_action may be set")),
        (None, None) => Err(bad("must send either message or sender_action")),
        (None, Some(a)) => {
            let Recipient::Id(id) = recipient else {
                return Err(bad("sender actions need recipient.id, not a comment_id"));
            };
            Ok(IgRequest::Action {
                recipient: id,
                action: sender_action(a, &body["payload"])?,
            })
        }
        (Some(m), None) => {
            let (text, bucket) = message_body(m)?;
            if matches!(recipient, Recipient::Comment(_)) && tag.is_some() {
                return Err(bad("private replies cannot be tagged"));
            }
            Ok(IgRequest::Message {
                recipient,
                message: m.clone(),
                text,
                human_agent: tag.is_some(),
                bucket,
            })
        }
    }
}

fn recipient(r: &Value) -> Result<Recipient, GraphError> {
    let id = r.get("id").filter(|v| !v.is_null());
    let comment = r.get("comment_id").filter(|v| !v.is_null());
    match (id, comment) {
        (Some(id), None) => Ok(Recipient::Id(id_string(id, "recipient[id]")?)),
        (None, Some(c)) => Ok(Recipient::Comment(id_string(c, "recipient[comment_id]")?)),
        (Some(_), Some(_)) => Err(bad("recipient takes one of id and comment_id")),
        (None, None) => Err(bad("param recipient must be non-empty.")),
    }
}

/// Ids may come as strings or numbers; both mean the same id.
fn id_string(v: &Value, name: &str) -> Result<String, GraphError> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(bad(format!("param {name} must be a non-empty id."))),
    }
}

fn sender_action(a: &Value, payload: &Value) -> Result<SenderAction, GraphError> {
    let name = a.as_str().unwrap_or_default();
    let mid = || nonempty_str(&payload["message_id"], "payload[message_id]").map(str::to_owned);
    match name {
        "typing_on" => Ok(SenderAction::TypingOn),
        "typing_off" => Ok(SenderAction::TypingOff),
        "mark_seen" => Ok(SenderAction::MarkSeen),
        "react" => Ok(SenderAction::React {
            mid: mid()?,
            reaction: nonempty_str(&payload["reaction"], "payload[reaction]")?.to_owned(),
        }),
        "unreact" => Ok(SenderAction::Unreact { mid: mid()? }),
        _ => Err(bad(
            "param sender_action must be one of {typing_on, typing_off, mark_seen, react, unreact}",
        )),
    }
}

fn message_body(m: &Value) -> Result<(Option<String>, Bucket), GraphError> {
    let Some(obj) = m.as_object() else {
        return Err(bad("param message must be an object"));
    };
    for key in obj.keys() {
        if ![
            "text",
            "attachment",
            "attachments",
            "quick_replies",
            "metadata",
        ]
        .contains(&key.as_str())
        {
            return Err(bad(format!("unexpected key \"{key}\" in param message")));
        }
    }
    let text = obj.get("text").filter(|v| !v.is_null());
    let one = obj.get("attachment").filter(|v| !v.is_null());
    let many = obj.get("attachments").filter(|v| !v.is_null());
    let present = [text.is_some(), one.is_some(), many.is_some()]
        .iter()
        .filter(|p| **p)
        .count();
    if present != 1 {
        return Err(bad(
            "message must have exactly one of text, attachment or attachments",
        ));
    }
    if let Some(q) = obj.get("quick_replies").filter(|v| !v.is_null()) {
        if text.is_none() {
            return Err(bad("quick_replies can only accompany text"));
        }
        quick_replies(q)?;
    }
    if let Some(t) = text {
        let t = t
            .as_str()
            .ok_or_else(|| bad("param message[text] must be a string"))?;
        if t.is_empty() {
            return Err(bad("param message[text] must be non-empty."));
        }
        if t.len() > TEXT_MAX_BYTES {
            return Err(bad(format!(
                "Length of param message[text] must be less than or equal to {TEXT_MAX_BYTES}"
            )));
        }
        return Ok((Some(t.to_owned()), Bucket::Text));
    }
    if let Some(a) = one {
        return attachment(a).map(|b| (None, b));
    }
    let list: Vec<&Value> = match many {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => return Err(bad("param message[attachments] must be an array")),
    };
    if list.is_empty() || list.len() > IMAGES_MAX {
        return Err(bad(format!(
            "param message[attachments] must hold 1 to {IMAGES_MAX} images"
        )));
    }
    for a in list {
        if a["type"] != "image" {
            return Err(bad(
                "message[attachments] takes images only; send audio, video and files as message[attachment]",
            ));
        }
        media_payload(&a["payload"], "message[attachments][payload]")?;
    }
    Ok((None, Bucket::Text))
}

fn quick_replies(q: &Value) -> Result<(), GraphError> {
    let Some(list) = q.as_array() else {
        return Err(bad("param message[quick_replies] must be an array"));
    };
    if list.is_empty() || list.len() > QUICK_REPLIES_MAX {
        return Err(bad(format!(
            "param message[quick_replies] must hold 1 to {QUICK_REPLIES_MAX} items"
        )));
    }
    for (i, r) in list.iter().enumerate() {
        match r["content_type"].as_str() {
            Some("text") => {
                let title =
                    nonempty_str(&r["title"], &format!("message[quick_replies][{i}][title]"))?;
                if title.chars().count() > QUICK_REPLY_TITLE_MAX {
                    return Err(bad(format!(
                        "param message[quick_replies][{i}][title] must be at most {QUICK_REPLY_TITLE_MAX} characters"
                    )));
                }
                nonempty_str(
                    &r["payload"],
                    &format!("message[quick_replies][{i}][payload]"),
                )?;
            }
            Some("user_phone_number" | "user_email") => {}
            _ => {
                return Err(bad(format!(
                    "param message[quick_replies][{i}][content_type] must be text, user_phone_number or user_email"
                )));
            }
        }
    }
    Ok(())
}

fn media_payload(p: &Value, name: &str) -> Result<(), GraphError> {
    if let Some(url) = p.get("url").and_then(Value::as_str) {
        if valid_url(url) {
            return Ok(());
        }
        return Err(bad(format!("param {name}[url] must be a valid URL")));
    }
    if p.get("attachment_id")
        .is_some_and(|v| v.is_string() || v.is_number())
    {
        return Ok(());
    }
    Err(bad(format!("param {name} must have url or attachment_id")))
}

fn attachment(a: &Value) -> Result<Bucket, GraphError> {
    let kind = a["type"].as_str().unwrap_or_default();
    let payload = &a["payload"];
    match kind {
        "audio" | "video" => {
            media_payload(payload, "message[attachment][payload]")?;
            Ok(Bucket::Media)
        }
        "image" | "file" => {
            media_payload(payload, "message[attachment][payload]")?;
            Ok(Bucket::Text)
        }
        "like_heart" => Ok(Bucket::Text),
        "MEDIA_SHARE" => {
            id_string(&payload["id"], "message[attachment][payload][id]")?;
            Ok(Bucket::Text)
        }
        "template" => {
            template(payload)?;
            Ok(Bucket::Text)
        }
        _ => Err(bad(
            "param message[attachment][type] must be one of {image, audio, video, file, like_heart, MEDIA_SHARE, template}",
        )),
    }
}

fn template(p: &Value) -> Result<(), GraphError> {
    match p["template_type"].as_str() {
        Some("generic") => {
            let Some(elements) = p["elements"].as_array() else {
                return Err(bad(
                    "param message[attachment][payload][elements] must be an array",
                ));
            };
            if elements.is_empty() || elements.len() > ELEMENTS_MAX {
                return Err(bad(format!(
                    "a generic template holds 1 to {ELEMENTS_MAX} elements"
                )));
            }
            for (i, e) in elements.iter().enumerate() {
                let title = nonempty_str(&e["title"], &format!("elements[{i}][title]"))?;
                if title.chars().count() > 80 {
                    return Err(bad(format!(
                        "param elements[{i}][title] must be at most 80 characters"
                    )));
                }
                if let Some(url) = e.get("image_url").and_then(Value::as_str)
                    && !valid_url(url)
                {
                    return Err(bad(format!(
                        "param elements[{i}][image_url] must be a valid URL"
                    )));
                }
                if let Some(b) = e.get("buttons") {
                    buttons(b, 0)?;
                }
            }
            Ok(())
        }
        Some("button") => {
            let text = nonempty_str(&p["text"], "message[attachment][payload][text]")?;
            if text.chars().count() > 640 {
                return Err(bad(
                    "param message[attachment][payload][text] must be at most 640 characters",
                ));
            }
            buttons(&p["buttons"], 1)
        }
        _ => Err(bad("param template_type must be generic or button")),
    }
}

fn buttons(b: &Value, min: usize) -> Result<(), GraphError> {
    let Some(list) = b.as_array() else {
        return Err(bad("param buttons must be an array"));
    };
    if list.len() < min || list.len() > BUTTONS_MAX {
        return Err(bad(format!(
            "a template holds {min} to {BUTTONS_MAX} buttons"
        )));
    }
    for (i, btn) in list.iter().enumerate() {
        nonempty_str(&btn["title"], &format!("buttons[{i}][title]"))?;
        match btn["type"].as_str() {
            Some("web_url") => {
                if !btn["url"].as_str().is_some_and(valid_url) {
                    return Err(bad(format!("param buttons[{i}][url] must be a valid URL")));
                }
            }
            Some("postback") => {
                nonempty_str(&btn["payload"], &format!("buttons[{i}][payload]"))?;
            }
            _ => {
                return Err(bad(format!(
                    "param buttons[{i}][type] must be web_url or postback"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn ok(body: Value) -> IgRequest {
        parse(&body).unwrap_or_else(|e| panic!("{body} refused: {}", e.message))
    }

    #[track_caller]
    fn refused(body: Value, contains: &str) {
        match parse(&body) {
            Ok(r) => panic!("{body} accepted as {r:?}"),
            Err(e) => {
                assert_eq!(e.code, 100, "{body}");
                assert!(e.message.contains(contains), "{body}: {}", e.message);
            }
        }
    }

    const R: &str = "1234567890";

    #[test]
    fn every_documented_body_is_accepted() {
        let url = "https://cdn.example.com/a.jpg";
        for (body, bucket) in [
            (
                json!({"recipient": {"id": R}, "message": {"text": "Hello"}}),
                Bucket::Text,
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachments": [{"type": "image", "payload": {"url": url}}]}}),
                Bucket::Text,
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachments": {"type": "image", "payload": {"url": url}}}}),
                Bucket::Text,
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachment": {"type": "audio", "payload": {"url": url}}}}),
                Bucket::Media,
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachment": {"type": "video", "payload": {"attachment_id": "99"}}}}),
                Bucket::Media,
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachment": {"type": "file", "payload": {"url": url}}}}),
                Bucket::Text,
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachment": {"type": "like_heart"}}}),
                Bucket::Text,
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachment": {"type": "MEDIA_SHARE", "payload": {"id": "1790"}}}}),
                Bucket::Text,
            ),
            (
                json!({"recipient": {"id": R}, "messaging_type": "RESPONSE", "message": {"text": "Pick", "quick_replies": [{"content_type": "text", "title": "Red", "payload": "RED"}]}}),
                Bucket::Text,
            ),
            (
                json!({"recipient": {"id": R}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT", "message": {"text": "Sorry for the wait"}}),
                Bucket::Text,
            ),
            (
                json!({"recipient": {"id": R}, "tag": "HUMAN_AGENT", "message": {"text": "top-level tag only"}}),
                Bucket::Text,
            ),
            (
                json!({"recipient": {"comment_id": "17890"}, "message": {"text": "DM about your comment"}}),
                Bucket::PrivateReplies,
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachment": {"type": "template", "payload": {"template_type": "button", "text": "Shop?", "buttons": [{"type": "web_url", "url": "https://shop.example", "title": "Open"}, {"type": "postback", "title": "Talk", "payload": "TALK"}]}}}}),
                Bucket::Text,
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": [{"title": "Batik shirt", "image_url": url, "subtitle": "Rp 250.000", "buttons": [{"type": "postback", "title": "Buy", "payload": "BUY"}]}]}}}}),
                Bucket::Text,
            ),
        ] {
            assert_eq!(ok(body.clone()).bucket(), bucket, "{body}");
        }
        let text = ok(json!({"recipient": {"id": 1234}, "message": {"text": "numeric id"}}));
        assert!(
            matches!(text, IgRequest::Message { recipient: Recipient::Id(ref id), .. } if id == "1234")
        );
        let tagged = ok(
            json!({"recipient": {"id": R}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT", "message": {"text": "x"}}),
        );
        assert!(matches!(
            tagged,
            IgRequest::Message {
                human_agent: true,
                ..
            }
        ));
    }

    #[test]
    fn sender_actions() {
        for (action, payload, expected) in [
            ("typing_on", json!(null), SenderAction::TypingOn),
            ("typing_off", json!(null), SenderAction::TypingOff),
            ("mark_seen", json!(null), SenderAction::MarkSeen),
            (
                "react",
                json!({"message_id": "m1", "reaction": "love"}),
                SenderAction::React {
                    mid: "m1".into(),
                    reaction: "love".into(),
                },
            ),
            (
                "unreact",
                json!({"message_id": "m1"}),
                SenderAction::Unreact { mid: "m1".into() },
            ),
        ] {
            let r =
                ok(json!({"recipient": {"id": R}, "sender_action": action, "payload": payload}));
            assert_eq!(
                r,
                IgRequest::Action {
                    recipient: R.into(),
                    action: expected
                }
            );
        }
        refused(
            json!({"recipient": {"id": R}, "sender_action": "react", "payload": {"message_id": "m1"}}),
            "payload[reaction]",
        );
        refused(
            json!({"recipient": {"id": R}, "sender_action": "dance"}),
            "sender_action",
        );
        refused(
            json!({"recipient": {"comment_id": "1"}, "sender_action": "typing_on"}),
            "recipient.id",
        );
    }

    #[test]
    fn malformed_bodies_are_refused_with_code_100() {
        let long_ascii = "a".repeat(1001);
        // 334 × 3-byte characters = 1002 bytes but only 334 characters.
        let long_utf8 = "\u{2728}".repeat(334);
        for (body, contains) in [
            (json!({"message": {"text": "hi"}}), "recipient"),
            (
                json!({"recipient": {}, "message": {"text": "hi"}}),
                "recipient",
            ),
            (
                json!({"recipient": {"id": ""}, "message": {"text": "hi"}}),
                "recipient[id]",
            ),
            (
                json!({"recipient": {"id": R}}),
                "either message or sender_action",
            ),
            (
                json!({"recipient": {"id": R}, "message": {"text": "hi"}, "sender_action": "typing_on"}),
                "only one",
            ),
            (
                json!({"recipient": {"id": R}, "message": {"text": long_ascii}}),
                "1000",
            ),
            (
                json!({"recipient": {"id": R}, "message": {"text": long_utf8}}),
                "1000",
            ),
            (
                json!({"recipient": {"id": R}, "message": {"text": ""}}),
                "non-empty",
            ),
            (
                json!({"recipient": {"id": R}, "message": {}}),
                "exactly one",
            ),
            (
                json!({"recipient": {"id": R}, "message": {"text": "a", "attachment": {"type": "like_heart"}}}),
                "exactly one",
            ),
            (
                json!({"recipient": {"id": R}, "message": {"txt": "a"}}),
                "unexpected key",
            ),
            (
                json!({"recipient": {"id": R}, "messaging_type": "MESSAGE_TAG", "message": {"text": "a"}}),
                "tag is required",
            ),
            (
                json!({"recipient": {"id": R}, "tag": "CONFIRMED_EVENT_UPDATE", "message": {"text": "a"}}),
                "HUMAN_AGENT",
            ),
            (
                json!({"recipient": {"id": R}, "messaging_type": "PROMO", "message": {"text": "a"}}),
                "messaging_type",
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachments": [{"type": "video", "payload": {"url": "https://x.y/v.mp4"}}]}}),
                "images only",
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachment": {"type": "image", "payload": {"url": "not a url"}}}}),
                "valid URL",
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachment": {"type": "audio", "payload": {}}}}),
                "url or attachment_id",
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachment": {"type": "sticker"}}}),
                "attachment][type]",
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachment": {"type": "template", "payload": {"template_type": "button", "text": "x", "buttons": []}}}}),
                "buttons",
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": [{"subtitle": "no title"}]}}}}),
                "title",
            ),
            (
                json!({"recipient": {"id": R}, "message": {"text": "a", "quick_replies": [{"content_type": "text", "title": "this title is far too long", "payload": "P"}]}}),
                "20",
            ),
            (
                json!({"recipient": {"id": R}, "message": {"attachment": {"type": "like_heart"}, "quick_replies": [{"content_type": "text", "title": "t", "payload": "p"}]}}),
                "quick_replies",
            ),
            (
                json!({"recipient": {"comment_id": "1"}, "tag": "HUMAN_AGENT", "message": {"text": "a"}}),
                "private replies",
            ),
            (json!("not an object"), "recipient"),
        ] {
            refused(body, contains);
        }
        // Exactly 1000 bytes is fine.
        ok(json!({"recipient": {"id": R}, "message": {"text": "a".repeat(1000)}}));
    }
}
