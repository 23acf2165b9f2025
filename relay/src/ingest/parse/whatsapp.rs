//! WhatsApp Cloud API webhook items (`object: "whatsapp_business_account"`): every
//! `messages[]` element and every `statuses[]` element of a `messages` change becomes one
//! item; other fields are kept as Unknown.
//!
//! Shapes follow `meta-platform.md` §13.1. Items route on
//! `value.metadata.phone_number_id`, because one WABA can hold several numbers. Changes
//! without it (`account_update`, `message_template_status_update`, …) fall back to the WABA
//! id (`entry.id`) as a WhatsApp route key: it is not a phone number id and matches only a
//! tenant that registered its WABA id under that key, which is the best that can be done.
//!
//! Work is linear in the value: `contacts[]` is indexed once by `wa_id` (a message or status
//! looks its sender up in that index instead of scanning the list), and value-level
//! `errors[]` are attached to one message only, so no input makes the parser copy one list
//! once per element of another.

use super::instagram::{action_name, time_part};
use super::json::{at, boolean, errors, flag, float, id, int, list, millis, string, text};
use super::{Conversation, Entry, Item, ItemBody, RouteKey};
use protocol::inbound::{
    Attachment, AttachmentKind, DeliveryStatus, Forwarded, InboundKind, MessageBody, OrderItem,
    ProviderError, Reaction, ReactionAction, Referral, ReplyTo, SharedContact, StatusKind,
    Structured,
};
use protocol::{Channel, Customer, CustomerId, Direction};
use serde_json::Value;
use std::collections::HashMap;

/// The last-resort route key of a change that names no phone number (see the module doc).
pub(super) fn entry_route_keys(entry: &Entry<'_>) -> Vec<RouteKey> {
    if entry.id.is_empty() {
        Vec::new()
    } else {
        vec![RouteKey::WhatsApp(entry.id.clone())]
    }
}

fn route_keys(entry: &Entry<'_>, value: &Value) -> Vec<RouteKey> {
    match id(at(at(value, "metadata"), "phone_number_id")) {
        Some(phone_number_id) => vec![RouteKey::WhatsApp(phone_number_id)],
        None => entry_route_keys(entry),
    }
}

/// One change. Pushes one item per message and status, or one Unknown for anything else
/// (other fields, and `messages` values that carry only value-level `errors[]`).
pub(super) fn change(
    entry: &Entry<'_>,
    field: &str,
    value: &Value,
    raw: &Value,
    out: &mut Vec<Item>,
) {
    let keys = route_keys(entry, value);
    let messages = list(at(value, "messages"));
    let statuses = list(at(value, "statuses"));
    if field != "messages" || (messages.is_empty() && statuses.is_empty()) {
        out.push(entry.unknown(keys, field, raw));
        return;
    }
    let contacts = Contacts::index(at(value, "contacts"));
    // Value-level errors explain why Meta could not render a message beside them
    // (meta-platform.md §13.1; the usual value holds one message). They are attached once,
    // to the value's first message, because copying them onto every message made the work
    // and the stored size grow with messages × errors (issue 21).
    let mut value_errors = Some(errors(at(value, "errors")));
    for m in messages {
        out.push(message(entry, &keys, &contacts, &mut value_errors, m));
    }
    for s in statuses {
        out.push(status(entry, &keys, &contacts, s));
    }
}

/// A value's `contacts[]` by `wa_id`, built once per value.
struct Contacts<'a> {
    by_wa_id: HashMap<String, &'a Value>,
}

impl<'a> Contacts<'a> {
    fn index(contacts: &'a Value) -> Self {
        let mut by_wa_id = HashMap::new();
        for c in list(contacts) {
            if let Some(wa_id) = id(at(c, "wa_id")) {
                // The first contact with an id wins, as a scan from the front would find it.
                by_wa_id.entry(wa_id).or_insert(c);
            }
        }
        Contacts { by_wa_id }
    }

    fn customer(&self, wa_id: String) -> Customer {
        let name = self
            .by_wa_id
            .get(&wa_id)
            .and_then(|c| text(at(at(c, "profile"), "name")));
        Customer {
            id: CustomerId::WhatsApp(wa_id),
            username: None,
            name,
        }
    }
}

fn message(
    entry: &Entry<'_>,
    keys: &[RouteKey],
    contacts: &Contacts<'_>,
    value_errors: &mut Option<Vec<ProviderError>>,
    m: &Value,
) -> Item {
    let (Some(from), Some(wamid)) = (id(at(m, "from")), id(at(m, "id"))) else {
        return entry.unknown(keys.to_vec(), "messages", m);
    };
    let ty = at(m, "type").as_str().unwrap_or_default();
    let own_time = millis(at(m, "timestamp"));
    let (dedup_key, kind) = if ty == "reaction" {
        match reaction(at(m, "reaction"), own_time) {
            Some(parsed) => parsed,
            None => return entry.unknown(keys.to_vec(), "messages", m),
        }
    } else {
        let mut body = body(ty, m);
        body.mid = wamid.clone();
        if let Some(value_errors) = value_errors.take() {
            body.errors.extend(value_errors);
        }
        (format!("m:{wamid}"), InboundKind::Message(body))
    };
    Item {
        route_keys: keys.to_vec(),
        dedup_key,
        body: ItemBody::Conversation(Conversation {
            channel: Channel::WhatsApp,
            thread_key: format!("wa:{from}"),
            customer: contacts.customer(from),
            direction: Direction::Inbound,
            occurred_at: own_time.or(entry.time),
            standby: false,
            kind,
        }),
    }
}

/// An empty or missing emoji means the customer removed their reaction.
fn reaction(r: &Value, own_time: Option<protocol::Millis>) -> Option<(String, InboundKind)> {
    let mid = id(at(r, "message_id"))?;
    let emoji = text(at(r, "emoji"));
    let action = if emoji.is_some() {
        ReactionAction::React
    } else {
        ReactionAction::Unreact
    };
    let dedup = format!(
        "rx:{mid}:{}:{}:{}",
        action_name(action),
        emoji.as_deref().unwrap_or("-"),
        time_part(own_time)
    );
    Some((
        dedup,
        InboundKind::Reaction(Reaction {
            mid,
            action,
            reaction: None,
            emoji,
        }),
    ))
}

fn body(ty: &str, m: &Value) -> MessageBody {
    let content = at(m, ty);
    let mut body = MessageBody::default();
    match ty {
        "text" => body.text = string(at(content, "body")),
        "image" | "video" | "audio" | "document" | "sticker" => {
            body.attachments.push(media(ty, content));
        }
        "location" => match location(content) {
            Some(location) => body.structured = Some(location),
            None => unsupported(&mut body, ty),
        },
        "contacts" => {
            body.structured = Some(Structured::Contacts {
                contacts: list(content).iter().map(shared_contact).collect(),
            });
        }
        "interactive" => body.structured = Some(interactive(content)),
        "button" => {
            body.structured = Some(Structured::Button {
                text: text(at(content, "text")),
                payload: string(at(content, "payload")),
            });
        }
        "order" => body.structured = Some(order(content)),
        "system" => {
            body.structured = Some(Structured::System {
                kind: text(at(content, "type")),
                body: text(at(content, "body")),
                new_wa_id: id(at(content, "new_wa_id")).or_else(|| id(at(content, "wa_id"))),
            });
        }
        "unsupported" => {
            body.is_unsupported = true;
            // Newer payloads name what was not rendered (`poll`, `edit`, …).
            if let Some(inner) = text(at(content, "type")) {
                body.attachments
                    .push(Attachment::new(AttachmentKind::Unsupported(inner)));
            }
        }
        // A type this relay does not know yet: shown as unsupported, by name, in the thread.
        other => unsupported(&mut body, other),
    }
    body.errors = errors(at(m, "errors"));

    let context = at(m, "context");
    body.reply_to = id(at(context, "id")).map(|mid| ReplyTo::Message { mid });
    body.forwarded = if flag(at(context, "frequently_forwarded")) {
        Forwarded::FrequentlyForwarded
    } else if flag(at(context, "forwarded")) {
        Forwarded::Forwarded
    } else {
        Forwarded::No
    };
    // "Message business about this product" enquiries name the product in the context.
    let product = at(context, "referred_product");
    if product.is_object() {
        let mut att = Attachment::new(AttachmentKind::Product);
        att.reference_id = id(at(product, "product_retailer_id"));
        body.attachments.push(att);
    }
    body.referral = m.get("referral").filter(|r| r.is_object()).map(referral);
    body
}

fn unsupported(body: &mut MessageBody, ty: &str) {
    body.is_unsupported = true;
    body.attachments
        .push(Attachment::new(AttachmentKind::Unsupported(ty.to_owned())));
}

fn media(ty: &str, c: &Value) -> Attachment {
    let kind = match ty {
        "image" => AttachmentKind::Image,
        "video" => AttachmentKind::Video,
        "audio" => AttachmentKind::Audio,
        "sticker" => AttachmentKind::Sticker,
        _ => AttachmentKind::File,
    };
    let mut att = Attachment::new(kind);
    att.reference_id = id(at(c, "id"));
    att.url = text(at(c, "url")).or_else(|| text(at(c, "link")));
    att.caption = text(at(c, "caption"));
    att.filename = text(at(c, "filename"));
    att.mime_type = text(at(c, "mime_type"));
    att.sha256 = text(at(c, "sha256"));
    att.voice = flag(at(c, "voice"));
    att.animated = flag(at(c, "animated"));
    att
}

/// `None` without both coordinates: a pin nowhere is not a location.
fn location(c: &Value) -> Option<Structured> {
    Some(Structured::Location {
        latitude: float(at(c, "latitude"))?,
        longitude: float(at(c, "longitude"))?,
        name: text(at(c, "name")),
        address: text(at(c, "address")),
        url: text(at(c, "url")),
    })
}

fn shared_contact(c: &Value) -> SharedContact {
    let name = at(c, "name");
    let name = text(at(name, "formatted_name")).or_else(|| {
        let parts: Vec<String> = ["first_name", "last_name"]
            .iter()
            .filter_map(|k| text(at(name, k)))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    let phones = list(at(c, "phones"))
        .iter()
        .filter_map(|p| text(at(p, "phone")).or_else(|| id(at(p, "wa_id"))))
        .collect();
    SharedContact { name, phones }
}

fn interactive(c: &Value) -> Structured {
    let kind = text(at(c, "type")).unwrap_or_else(|| "interactive".to_owned());
    let reply = at(c, &kind);
    Structured::Interactive {
        // Flow replies (`nfm_reply`) carry `name` and `body` instead of `title`/`description`.
        id: id(at(reply, "id")),
        title: text(at(reply, "title")).or_else(|| text(at(reply, "name"))),
        description: text(at(reply, "description")).or_else(|| text(at(reply, "body"))),
        response_json: string(at(reply, "response_json")),
        kind,
    }
}

fn order(c: &Value) -> Structured {
    Structured::Order {
        catalog_id: id(at(c, "catalog_id")),
        text: text(at(c, "text")),
        items: list(at(c, "product_items"))
            .iter()
            .map(|i| OrderItem {
                product_retailer_id: id(at(i, "product_retailer_id")),
                quantity: int(at(i, "quantity")).and_then(|q| u32::try_from(q).ok()),
                item_price: float(at(i, "item_price")),
                currency: text(at(i, "currency")),
            })
            .collect(),
    }
}

/// Click-to-WhatsApp ad referral; `source_type` (`ad`, `post`) is where it came from.
fn referral(r: &Value) -> Referral {
    Referral {
        source: text(at(r, "source_type")),
        source_url: text(at(r, "source_url")),
        source_id: id(at(r, "source_id")),
        headline: text(at(r, "headline")),
        body: text(at(r, "body")),
        media_type: text(at(r, "media_type")),
        image_url: text(at(r, "image_url")),
        video_url: text(at(r, "video_url")),
        thumbnail_url: text(at(r, "thumbnail_url")),
        click_id: text(at(r, "ctwa_clid")),
        ..Referral::default()
    }
}

fn status(entry: &Entry<'_>, keys: &[RouteKey], contacts: &Contacts<'_>, s: &Value) -> Item {
    let (Some(wamid), Some(status), Some(recipient)) = (
        id(at(s, "id")),
        text(at(s, "status")),
        id(at(s, "recipient_id")),
    ) else {
        return entry.unknown(keys.to_vec(), "statuses", s);
    };
    let kind = match status.as_str() {
        "sent" => StatusKind::Sent,
        "delivered" => StatusKind::Delivered,
        "read" => StatusKind::Read,
        "failed" => StatusKind::Failed,
        "played" => StatusKind::Played,
        other => StatusKind::Other(other.to_owned()),
    };
    let conversation = at(s, "conversation");
    let pricing = at(s, "pricing");
    let delivery = DeliveryStatus {
        message_id: wamid.clone(),
        status: kind,
        errors: errors(at(s, "errors")),
        conversation_id: id(at(conversation, "id")),
        // A string in pywa's fixtures, an integer in courier's.
        conversation_expires_at: millis(at(conversation, "expiration_timestamp")),
        conversation_origin: text(at(at(conversation, "origin"), "type")),
        pricing_category: text(at(pricing, "category")),
        pricing_model: text(at(pricing, "pricing_model")),
        billable: boolean(at(pricing, "billable")),
        biz_opaque_callback_data: string(at(s, "biz_opaque_callback_data")),
    };
    Item {
        route_keys: keys.to_vec(),
        dedup_key: format!("st:{wamid}:{status}"),
        body: ItemBody::Conversation(Conversation {
            channel: Channel::WhatsApp,
            thread_key: format!("wa:{recipient}"),
            customer: contacts.customer(recipient),
            direction: Direction::Outbound,
            occurred_at: millis(at(s, "timestamp")).or(entry.time),
            standby: false,
            kind: InboundKind::Status(delivery),
        }),
    }
}
