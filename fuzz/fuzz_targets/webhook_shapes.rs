//! Structure-aware webhook bodies: `arbitrary` builds valid Meta envelopes (Instagram and
//! Page messaging and comments, WhatsApp values with contacts, messages, statuses and
//! value-level errors) so the fuzzer reaches large, well-formed shapes that random bytes
//! almost never do, with ids drawn from small pools so contacts, senders and phone numbers
//! match each other.
//!
//! Checks: a valid envelope parses unless a limit refuses it; it yields no more items than
//! the limits allow; and no `errors[]` element is copied (the parser's output holds at most
//! as many provider errors as the body did), which is what made issue 21's 100 KB body cost
//! 4 GB.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use protocol::inbound::InboundKind;
use relay::ingest::parse::{self, ItemBody, ParseError, limits};
use serde_json::{Value, json};

#[derive(Arbitrary, Debug)]
struct Body {
    /// The array-wrapped form Meta's docs print.
    wrapped: bool,
    envelopes: Vec<Envelope>,
}

#[derive(Arbitrary, Debug)]
struct Envelope {
    object: Object,
    entries: Vec<Entry>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Object {
    Instagram,
    Page,
    WhatsApp,
    User,
}

#[derive(Arbitrary, Debug)]
struct Entry {
    id: Id,
    time: Option<Time>,
    messaging: Vec<Messaging>,
    standby: Vec<Messaging>,
    changes: Vec<Change>,
    flat: Option<Change>,
}

/// Ids from a small pool (so they collide and match), or anything.
#[derive(Arbitrary, Debug, Clone)]
enum Id {
    Pool(u8),
    Number(u64),
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum Time {
    Seconds(u32),
    Millis(u64),
    Text(String),
    Float(f64),
}

#[derive(Arbitrary, Debug)]
struct Messaging {
    sender: Id,
    recipient: Id,
    timestamp: Option<Time>,
    event: IgEvent,
}

#[derive(Arbitrary, Debug)]
enum IgEvent {
    Text {
        mid: Id,
        text: String,
        echo: bool,
    },
    Attachments {
        mid: Id,
        kinds: Vec<AttachmentKind>,
    },
    Reaction {
        mid: Id,
        emoji: Option<String>,
        react: bool,
    },
    Read {
        mid: Id,
    },
    Postback {
        mid: Option<Id>,
        title: String,
        payload: String,
    },
    Raw(Raw),
}

#[derive(Arbitrary, Debug)]
enum AttachmentKind {
    Image,
    Video,
    Audio,
    File,
    Share,
    StoryMention,
    Other(String),
}

#[derive(Arbitrary, Debug)]
struct Change {
    field: Field,
    value: ChangeValue,
}

#[derive(Arbitrary, Debug)]
enum Field {
    Messages,
    Comments,
    Mentions,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum ChangeValue {
    WhatsApp(WaValue),
    Comment {
        id: Id,
        text: String,
        from: Id,
        parent: Option<Id>,
    },
    Raw(Raw),
}

#[derive(Arbitrary, Debug)]
struct WaValue {
    phone_number_id: Option<Id>,
    contacts: Vec<(Id, Option<String>)>,
    messages: Vec<WaMessage>,
    statuses: Vec<WaStatus>,
    errors: Vec<ProviderError>,
}

#[derive(Arbitrary, Debug)]
struct WaMessage {
    from: Id,
    id: Id,
    timestamp: Option<Time>,
    content: WaContent,
    errors: Vec<ProviderError>,
    context: Option<Id>,
}

#[derive(Arbitrary, Debug)]
enum WaContent {
    Text(String),
    Media {
        kind: u8,
        id: Id,
        caption: Option<String>,
    },
    Reaction {
        mid: Id,
        emoji: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
    },
    Contacts(Vec<(String, Vec<String>)>),
    Interactive {
        kind: String,
        id: Id,
        title: String,
    },
    Order {
        items: Vec<(Id, i64, f64)>,
    },
    System {
        body: String,
    },
    Unsupported(String),
    Other(String),
}

#[derive(Arbitrary, Debug)]
struct WaStatus {
    id: Id,
    status: u8,
    recipient: Id,
    timestamp: Option<Time>,
    errors: Vec<ProviderError>,
}

#[derive(Arbitrary, Debug)]
struct ProviderError {
    code: i64,
    title: String,
    message: String,
}

/// Any JSON, at most a few levels deep.
#[derive(Debug)]
struct Raw(Value);

impl<'a> Arbitrary<'a> for Raw {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        fn value(u: &mut arbitrary::Unstructured<'_>, depth: u8) -> arbitrary::Result<Value> {
            let pick = if depth == 0 {
                u.int_in_range(0..=4)?
            } else {
                u.int_in_range(0..=6)?
            };
            Ok(match pick {
                0 => Value::Null,
                1 => Value::Bool(u.arbitrary()?),
                2 => json!(u.arbitrary::<i64>()?),
                3 => json!(u.arbitrary::<f64>()?),
                4 => Value::String(u.arbitrary()?),
                5 => {
                    let n = u.int_in_range(0..=4)?;
                    Value::Array(
                        (0..n)
                            .map(|_| value(u, depth - 1))
                            .collect::<Result<_, _>>()?,
                    )
                }
                _ => {
                    let n = u.int_in_range(0..=4)?;
                    let mut map = serde_json::Map::new();
                    for _ in 0..n {
                        let key = *u.choose(KEYS)?;
                        map.insert(key.to_owned(), value(u, depth - 1)?);
                    }
                    Value::Object(map)
                }
            })
        }
        Ok(Raw(value(u, 3)?))
    }
}

const KEYS: &[&str] = &[
    "id",
    "mid",
    "text",
    "message",
    "messages",
    "statuses",
    "contacts",
    "errors",
    "field",
    "value",
    "from",
    "sender",
    "recipient",
    "timestamp",
    "type",
    "attachments",
    "payload",
    "reaction",
    "emoji",
    "wa_id",
    "metadata",
    "phone_number_id",
    "is_echo",
    "read",
];

impl Id {
    fn json(&self) -> Value {
        match self {
            Id::Pool(n) => json!(format!("1784140000000{}", n % 16)),
            Id::Number(n) => json!(n),
            Id::Text(s) => json!(s),
        }
    }
}

impl Time {
    fn json(&self) -> Value {
        match self {
            Time::Seconds(s) => json!(s.to_string()),
            Time::Millis(ms) => json!(ms),
            Time::Text(s) => json!(s),
            Time::Float(f) => json!(f),
        }
    }
}

fn put_time(map: &mut Value, key: &str, t: &Option<Time>) {
    if let (Some(t), Value::Object(m)) = (t, map) {
        m.insert(key.to_owned(), t.json());
    }
}

impl ProviderError {
    fn json(&self) -> Value {
        json!({"code": self.code, "title": self.title, "message": self.message,
               "error_data": {"details": self.message}})
    }
}

impl Messaging {
    fn json(&self) -> Value {
        let mut out = json!({"sender": {"id": self.sender.json()},
                             "recipient": {"id": self.recipient.json()}});
        put_time(&mut out, "timestamp", &self.timestamp);
        let (key, event) = match &self.event {
            IgEvent::Text { mid, text, echo } => (
                "message",
                json!({"mid": mid.json(), "text": text, "is_echo": echo}),
            ),
            IgEvent::Attachments { mid, kinds } => {
                let attachments: Vec<Value> = kinds
                    .iter()
                    .map(|k| {
                        let ty = match k {
                            AttachmentKind::Image => "image",
                            AttachmentKind::Video => "video",
                            AttachmentKind::Audio => "audio",
                            AttachmentKind::File => "file",
                            AttachmentKind::Share => "share",
                            AttachmentKind::StoryMention => "story_mention",
                            AttachmentKind::Other(s) => s,
                        };
                        json!({"type": ty, "payload": {"url": "https://lookaside.example/x"}})
                    })
                    .collect();
                (
                    "message",
                    json!({"mid": mid.json(), "attachments": attachments}),
                )
            }
            IgEvent::Reaction { mid, emoji, react } => (
                "reaction",
                json!({"mid": mid.json(), "action": if *react { "react" } else { "unreact" },
                       "reaction": "love", "emoji": emoji}),
            ),
            IgEvent::Read { mid } => ("read", json!({"mid": mid.json()})),
            IgEvent::Postback {
                mid,
                title,
                payload,
            } => (
                "postback",
                json!({"mid": mid.as_ref().map(Id::json), "title": title, "payload": payload}),
            ),
            IgEvent::Raw(raw) => ("message", raw.0.clone()),
        };
        if let Value::Object(m) = &mut out {
            m.insert(key.to_owned(), event);
        }
        out
    }
}

impl WaMessage {
    fn json(&self) -> Value {
        let (ty, content) = match &self.content {
            WaContent::Text(body) => ("text", json!({"body": body})),
            WaContent::Media { kind, id, caption } => {
                let ty = ["image", "video", "audio", "document", "sticker"][usize::from(kind % 5)];
                (
                    ty,
                    json!({"id": id.json(), "caption": caption, "mime_type": "image/jpeg"}),
                )
            }
            WaContent::Reaction { mid, emoji } => (
                "reaction",
                json!({"message_id": mid.json(), "emoji": emoji}),
            ),
            WaContent::Location {
                latitude,
                longitude,
            } => (
                "location",
                json!({"latitude": latitude, "longitude": longitude}),
            ),
            WaContent::Contacts(list) => (
                "contacts",
                Value::Array(
                    list.iter()
                        .map(|(name, phones)| {
                            let phones: Vec<Value> =
                                phones.iter().map(|p| json!({"phone": p})).collect();
                            json!({"name": {"formatted_name": name}, "phones": phones})
                        })
                        .collect(),
                ),
            ),
            WaContent::Interactive { kind, id, title } => (
                "interactive",
                json!({"type": kind, kind.clone(): {"id": id.json(), "title": title}}),
            ),
            WaContent::Order { items } => {
                let items: Vec<Value> = items
                    .iter()
                    .map(|(id, q, p)| {
                        json!({"product_retailer_id": id.json(), "quantity": q,
                               "item_price": p, "currency": "IDR"})
                    })
                    .collect();
                ("order", json!({"catalog_id": "1", "product_items": items}))
            }
            WaContent::System { body } => (
                "system",
                json!({"type": "user_changed_number", "body": body}),
            ),
            WaContent::Unsupported(inner) => ("unsupported", json!({"type": inner})),
            WaContent::Other(ty) => (ty.as_str(), json!({})),
        };
        let mut out = json!({"from": self.from.json(), "id": self.id.json(), "type": ty});
        if let Value::Object(m) = &mut out {
            m.insert(ty.to_owned(), content);
            if !self.errors.is_empty() {
                m.insert(
                    "errors".into(),
                    self.errors.iter().map(ProviderError::json).collect(),
                );
            }
            if let Some(ctx) = &self.context {
                m.insert("context".into(), json!({"id": ctx.json()}));
            }
        }
        put_time(&mut out, "timestamp", &self.timestamp);
        out
    }
}

impl WaStatus {
    fn json(&self) -> Value {
        let status = ["sent", "delivered", "read", "failed", "played", "deleted"]
            [usize::from(self.status % 6)];
        let mut out = json!({"id": self.id.json(), "status": status,
                             "recipient_id": self.recipient.json()});
        put_time(&mut out, "timestamp", &self.timestamp);
        if let Value::Object(m) = &mut out
            && !self.errors.is_empty()
        {
            m.insert(
                "errors".into(),
                self.errors.iter().map(ProviderError::json).collect(),
            );
        }
        out
    }
}

impl Change {
    fn json(&self) -> (String, Value) {
        let field = match &self.field {
            Field::Messages => "messages".to_owned(),
            Field::Comments => "comments".to_owned(),
            Field::Mentions => "mentions".to_owned(),
            Field::Other(s) => s.clone(),
        };
        let value = match &self.value {
            ChangeValue::WhatsApp(v) => {
                let contacts: Vec<Value> = v
                    .contacts
                    .iter()
                    .map(|(id, name)| json!({"wa_id": id.json(), "profile": {"name": name}}))
                    .collect();
                json!({
                    "messaging_product": "whatsapp",
                    "metadata": {"phone_number_id": v.phone_number_id.as_ref().map(Id::json)},
                    "contacts": contacts,
                    "messages": v.messages.iter().map(WaMessage::json).collect::<Vec<_>>(),
                    "statuses": v.statuses.iter().map(WaStatus::json).collect::<Vec<_>>(),
                    "errors": v.errors.iter().map(ProviderError::json).collect::<Vec<_>>(),
                })
            }
            ChangeValue::Comment {
                id,
                text,
                from,
                parent,
            } => json!({
                "id": id.json(), "text": text, "from": {"id": from.json(), "username": "u"},
                "parent_id": parent.as_ref().map(Id::json), "media": {"id": "1"}
            }),
            ChangeValue::Raw(raw) => raw.0.clone(),
        };
        (field, value)
    }

    /// Provider errors the body holds in this change.
    fn errors(&self) -> usize {
        match &self.value {
            ChangeValue::WhatsApp(v) => {
                v.errors.len()
                    + v.messages.iter().map(|m| m.errors.len()).sum::<usize>()
                    + v.statuses.iter().map(|s| s.errors.len()).sum::<usize>()
            }
            _ => 0,
        }
    }
}

impl Entry {
    fn json(&self) -> Value {
        let mut out = json!({"id": self.id.json()});
        put_time(&mut out, "time", &self.time);
        if let Value::Object(m) = &mut out {
            if !self.messaging.is_empty() {
                m.insert(
                    "messaging".into(),
                    self.messaging.iter().map(Messaging::json).collect(),
                );
            }
            if !self.standby.is_empty() {
                m.insert(
                    "standby".into(),
                    self.standby.iter().map(Messaging::json).collect(),
                );
            }
            if !self.changes.is_empty() {
                let changes: Vec<Value> = self
                    .changes
                    .iter()
                    .map(|c| {
                        let (field, value) = c.json();
                        json!({"field": field, "value": value})
                    })
                    .collect();
                m.insert("changes".into(), Value::Array(changes));
            }
            if let Some(flat) = &self.flat {
                let (field, value) = flat.json();
                m.insert("field".into(), json!(field));
                m.insert("value".into(), value);
            }
        }
        out
    }

    fn errors(&self) -> usize {
        self.changes
            .iter()
            .chain(&self.flat)
            .map(Change::errors)
            .sum()
    }
}

impl Envelope {
    fn json(&self) -> Value {
        let object = match self.object {
            Object::Instagram => "instagram",
            Object::Page => "page",
            Object::WhatsApp => "whatsapp_business_account",
            Object::User => "user",
        };
        json!({"object": object, "entry": self.entries.iter().map(Entry::json).collect::<Vec<_>>()})
    }
}

/// Provider errors in the parser's output.
fn output_errors(envelope: &parse::Envelope) -> usize {
    envelope
        .items
        .iter()
        .map(|item| match &item.body {
            ItemBody::Conversation(c) => match &c.kind {
                InboundKind::Message(m) => m.errors.len(),
                InboundKind::Status(s) => s.errors.len(),
                _ => 0,
            },
            _ => 0,
        })
        .sum()
}

fuzz_target!(|body: Body| {
    if body.envelopes.is_empty() {
        return;
    }
    let json = if body.wrapped || body.envelopes.len() > 1 {
        Value::Array(body.envelopes.iter().map(Envelope::json).collect())
    } else {
        body.envelopes[0].json()
    };
    let bytes = json.to_string().into_bytes();
    match parse::parse(&bytes) {
        Ok(envelope) => {
            assert!(envelope.items.len() <= limits::MAX_ITEMS);
            let input_errors: usize = body
                .envelopes
                .iter()
                .flat_map(|e| &e.entries)
                .map(Entry::errors)
                .sum();
            assert!(
                output_errors(&envelope) <= input_errors,
                "errors were copied: {} out of {input_errors}",
                output_errors(&envelope)
            );
        }
        Err(ParseError::TooLarge(_)) => {}
        Err(e) => panic!("a valid envelope was refused: {e}"),
    }
});
