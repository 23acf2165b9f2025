//! Meta's webhook JSON → normalized items, with no knowledge of tenants or storage.
//!
//! Meta changes payload shapes without notice and documents several of them wrongly
//! (`meta-platform.md` §3–§5, §13.1), so this module reads everything through
//! `serde_json::Value` and never lets one odd item fail a whole body: an item it cannot
//! interpret becomes [`ItemBody::Unknown`] with the item's JSON text, so nothing is dropped.
//! Only a body that is not JSON, or JSON that is not an `{object, entry[]}` envelope, is an
//! error.
//!
//! The platform-specific readers live in `parse/instagram.rs` (Instagram and Page
//! messaging, comments, mentions, story insights) and `parse/whatsapp.rs` (WhatsApp Cloud
//! API messages and statuses); `parse/json.rs` holds the lenient accessors, the time
//! normalization and the hashing both share; `parse/limits.rs` refuses bodies larger than
//! any Meta sends before an item is built.
//!
//! Parsing is linear in the body: no list is scanned or copied once per element of another.

mod instagram;
mod json;
pub mod limits;
mod whatsapp;

use protocol::inbound::InboundKind;
use protocol::{AccountEventKind, Channel, Customer, Direction, Millis};
use serde_json::Value;

// Routing is the store's record (a channel's keys); parsing only produces them.
pub use crate::store::RouteKey;

/// One parsed POST body.
#[derive(Clone, PartialEq, Debug)]
pub struct Envelope {
    /// The envelope's `object` (`instagram`, `page`, `whatsapp_business_account`, …).
    pub object: String,
    pub items: Vec<Item>,
}

/// One item of one entry (one `messaging[]`/`standby[]` element, one change, one
/// WhatsApp message or status).
#[derive(Clone, PartialEq, Debug)]
pub struct Item {
    /// Account ids to try, most specific first; the first that names a channel wins.
    pub route_keys: Vec<RouteKey>,
    /// Meta's own identity of the item, so a retried delivery is stored once.
    pub dedup_key: String,
    pub body: ItemBody,
}

// Items live only between parse and store, and most are conversations, so boxing the big
// variant would cost an allocation per item to save space nobody keeps.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Debug)]
pub enum ItemBody {
    Conversation(Conversation),
    Account {
        occurred_at: Option<Millis>,
        kind: AccountEventKind,
    },
    /// An item kind we do not understand yet: kept verbatim, never dropped.
    Unknown {
        kind: String,
        raw: String,
    },
}

/// A conversation event, before it is bound to a tenant's channel and thread id.
#[derive(Clone, PartialEq, Debug)]
pub struct Conversation {
    pub channel: Channel,
    /// Stable key of the thread within one channel: `dm:<customer id>`,
    /// `comment:<root comment id>`, `wa:<wa_id>`.
    pub thread_key: String,
    pub customer: Customer,
    pub direction: Direction,
    /// Meta's timestamp of the event, when it carried a usable one.
    pub occurred_at: Option<Millis>,
    pub standby: bool,
    pub kind: InboundKind,
}

/// Why a body is not a Meta webhook.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("body is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("body is not a Meta webhook envelope: {0}")]
    NotEnvelope(String),
    #[error("body holds more than a webhook may: {0}")]
    TooLarge(#[from] limits::Exceeded),
}

/// Parses a webhook body exactly as received.
///
/// Items come out in body order: entry by entry, and within an entry `messaging[]`, then
/// `standby[]`, then `changes[]`, then a flat `field`/`value` pair; within a WhatsApp change,
/// `messages[]` before `statuses[]`.
///
/// # Errors
/// `Json` for bytes that are not JSON, `NotEnvelope` for JSON without `object` + `entry[]`,
/// `TooLarge` for an envelope with more entries or items than [`limits`] accept.
pub fn parse(body: &[u8]) -> Result<Envelope, ParseError> {
    let value: Value = serde_json::from_slice(body)?;
    let envelopes = envelopes(&value)?;
    limits::check(&envelopes)?;
    let object = envelopes
        .first()
        .map(|(object, _)| (*object).to_owned())
        .unwrap_or_default();
    let mut items = Vec::new();
    for (object, entries) in envelopes {
        for entry in entries {
            parse_entry(object, entry, &mut items);
        }
    }
    Ok(Envelope { object, items })
}

/// The `(object, entry[])` pairs of a body: one for a real POST, several for the
/// array-wrapped form Meta's docs print.
fn envelopes(value: &Value) -> Result<Vec<(&str, &[Value])>, ParseError> {
    match value {
        Value::Object(_) => Ok(vec![envelope(value)?]),
        Value::Array(list) if list.is_empty() => Err(ParseError::NotEnvelope("empty array".into())),
        Value::Array(list) => list.iter().map(envelope).collect(),
        other => Err(ParseError::NotEnvelope(format!(
            "top level is {}",
            json::type_name(other)
        ))),
    }
}

fn envelope(value: &Value) -> Result<(&str, &[Value]), ParseError> {
    if !value.is_object() {
        return Err(ParseError::NotEnvelope(format!(
            "array element is {}, not an object",
            json::type_name(value)
        )));
    }
    let object = value
        .get("object")
        .and_then(Value::as_str)
        .ok_or_else(|| ParseError::NotEnvelope("no string `object`".into()))?;
    let entry = value
        .get("entry")
        .and_then(Value::as_array)
        .ok_or_else(|| ParseError::NotEnvelope("no array `entry`".into()))?;
    Ok((object, entry.as_slice()))
}

/// What every item of one entry shares.
struct Entry<'a> {
    /// `entry.id`; empty when absent, so hashes and comparisons need no `Option`.
    id: String,
    /// `entry.time`: the moment Meta *sent* the notification, a fallback only.
    time: Option<Millis>,
    value: &'a Value,
}

impl Entry<'_> {
    fn instagram_key(&self) -> Option<RouteKey> {
        (!self.id.is_empty()).then(|| RouteKey::Instagram(self.id.clone()))
    }

    /// An item kept verbatim. The dedup key hashes the entry id with the item because the
    /// same item text under two accounts is two events.
    fn unknown(&self, route_keys: Vec<RouteKey>, kind: &str, raw: &Value) -> Item {
        let raw = json::to_text(raw);
        Item {
            route_keys,
            dedup_key: format!("raw:{}", json::sha256_hex(&[&self.id, &raw])),
            body: ItemBody::Unknown {
                kind: kind.to_owned(),
                raw,
            },
        }
    }
}

/// Entry keys that either carry items or are metadata; anything else on an entry that
/// produced no item is kept as an `entry` Unknown.
const ENTRY_KEYS: &[&str] = &[
    "id",
    "time",
    "messaging",
    "standby",
    "changes",
    "field",
    "value",
];

fn parse_entry(object: &str, value: &Value, out: &mut Vec<Item>) {
    let Some(map) = value.as_object() else {
        // Nothing identifies an account here, so the item can only be kept, not routed.
        let entry = Entry {
            id: String::new(),
            time: None,
            value,
        };
        out.push(entry.unknown(Vec::new(), "entry", value));
        return;
    };
    let entry = Entry {
        id: json::id(json::at(value, "id")).unwrap_or_default(),
        time: json::millis(json::at(value, "time")),
        value,
    };
    let before = out.len();
    match object {
        "instagram" | "page" => {
            for item in json::list(json::at(value, "messaging")) {
                out.push(instagram::messaging(&entry, item, false, "messaging"));
            }
            for item in json::list(json::at(value, "standby")) {
                out.push(instagram::messaging(&entry, item, true, "standby"));
            }
            for_each_change(&entry, |field, change_value, raw| {
                out.push(instagram::change(&entry, field, change_value, raw));
            });
        }
        "whatsapp_business_account" => {
            let fallback = whatsapp::entry_route_keys(&entry);
            for item in json::list(json::at(value, "messaging")) {
                out.push(entry.unknown(fallback.clone(), "messaging", item));
            }
            for item in json::list(json::at(value, "standby")) {
                out.push(entry.unknown(fallback.clone(), "standby", item));
            }
            for_each_change(&entry, |field, change_value, raw| {
                whatsapp::change(&entry, field, change_value, raw, out);
            });
        }
        _ => {
            let keys: Vec<RouteKey> = entry.instagram_key().into_iter().collect();
            for item in json::list(json::at(value, "messaging")) {
                let kind = instagram::event_key(item).unwrap_or("messaging");
                out.push(entry.unknown(keys.clone(), kind, item));
            }
            for item in json::list(json::at(value, "standby")) {
                let kind = instagram::event_key(item).unwrap_or("standby");
                out.push(entry.unknown(keys.clone(), kind, item));
            }
            for_each_change(&entry, |field, _, raw| {
                out.push(entry.unknown(keys.clone(), field, raw));
            });
        }
    }
    if out.len() == before && map.keys().any(|k| !ENTRY_KEYS.contains(&k.as_str())) {
        let keys = match object {
            "whatsapp_business_account" => whatsapp::entry_route_keys(&entry),
            _ => entry.instagram_key().into_iter().collect(),
        };
        out.push(entry.unknown(keys, "entry", value));
    }
}

/// Calls `f(field, value, raw item)` for every change of an entry, in both shapes Meta
/// uses: `changes[]` (real payloads) and `field`/`value` directly on the entry (Instagram
/// Login docs). For the flat shape the raw item is the whole entry, which is what Meta sent.
fn for_each_change<'a>(entry: &Entry<'a>, mut f: impl FnMut(&str, &'a Value, &'a Value)) {
    for change in json::list(json::at(entry.value, "changes")) {
        let field = json::at(change, "field").as_str().unwrap_or("changes");
        f(field, json::at(change, "value"), change);
    }
    if let Some(field) = json::at(entry.value, "field").as_str() {
        f(field, json::at(entry.value, "value"), entry.value);
    }
}

/// Keeps the first of equal keys: a Page-style payload names the same id twice.
fn dedupe_keys(keys: impl IntoIterator<Item = RouteKey>) -> Vec<RouteKey> {
    let mut out: Vec<RouteKey> = Vec::new();
    for key in keys {
        if !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

#[cfg(test)]
mod tests;
