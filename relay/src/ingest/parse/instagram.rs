//! Instagram (and Facebook Page) webhook items: `messaging[]`/`standby[]` events and the
//! `changes` fields `comments`, `live_comments`, `mentions`, `story_insights`, plus the App
//! Dashboard "Test" form that wraps a messaging event in a `messages` change.
//!
//! Shapes follow `meta-platform.md` §4 and §5. Facebook-Login payloads may put a Page
//! id where Instagram-Login payloads put the IG account id, so route keys carry both the
//! entry id and the business side of the event and the router matches either.

use super::json::{at, flag, id, int, list, millis, sha256_hex, string, text};
use super::{Conversation, Entry, Item, ItemBody, RouteKey, dedupe_keys};
use protocol::inbound::{
    Attachment, AttachmentKind, Comment, CommentMedia, Edit, InboundKind, MessageBody, Postback,
    Reaction, ReactionAction, Referral, ReplyTo,
};
use protocol::{AccountEventKind, Channel, Customer, CustomerId, Direction, Millis};
use serde_json::Value;

/// Keys of a messaging item that describe it rather than name its event.
const ENVELOPE_KEYS: &[&str] = &["sender", "recipient", "timestamp", "is_self"];

/// Event keys this module understands, in the order they are tried.
const KNOWN_EVENTS: &[&str] = &[
    "message",
    "message_edit",
    "reaction",
    "postback",
    "referral",
    "read",
    "optin",
    "optins",
    "messaging_optins",
];

/// The key naming a messaging item's event (`message`, `reaction`, `pass_thread_control`, …).
pub(super) fn event_key(item: &Value) -> Option<&str> {
    let map = item.as_object()?;
    KNOWN_EVENTS
        .iter()
        .copied()
        .find(|k| map.contains_key(*k))
        .or_else(|| {
            map.keys()
                .map(String::as_str)
                .find(|k| !ENVELOPE_KEYS.contains(k))
        })
}

/// Who an event is with, and which account ids may own it.
struct Parties {
    customer: String,
    direction: Direction,
    route_keys: Vec<RouteKey>,
}

impl Parties {
    /// `echo` events are the business speaking: the customer is the recipient and the
    /// business is the sender.
    fn new(entry: &Entry<'_>, sender: String, recipient: String, echo: bool) -> Parties {
        let (customer, business, direction) = if echo {
            (recipient, sender, Direction::Outbound)
        } else {
            (sender, recipient, Direction::Inbound)
        };
        let route_keys = dedupe_keys(
            entry
                .instagram_key()
                .into_iter()
                .chain([RouteKey::Instagram(business)]),
        );
        Parties {
            customer,
            direction,
            route_keys,
        }
    }
}

/// One `messaging[]`/`standby[]` element. `container` names the list, for items that name
/// no event at all.
pub(super) fn messaging(entry: &Entry<'_>, item: &Value, standby: bool, container: &str) -> Item {
    let sender = id(at(at(item, "sender"), "id"));
    let recipient = id(at(at(item, "recipient"), "id"));
    let fallback_keys = || {
        dedupe_keys(
            entry
                .instagram_key()
                .into_iter()
                .chain(recipient.clone().map(RouteKey::Instagram)),
        )
    };
    let Some(key) = event_key(item) else {
        return entry.unknown(fallback_keys(), container, item);
    };
    let (Some(sender), Some(recipient)) = (sender.clone(), recipient.clone()) else {
        return entry.unknown(fallback_keys(), key, item);
    };
    // The item's own timestamp is what Meta resends on a retry; `entry.time` is when the
    // notification was sent, so it may be shown but never hashed into a dedup key.
    let own_time = millis(at(item, "timestamp"));
    let event = at(item, key);
    // Only messages carry `is_echo`; any other event sent by the account itself is the
    // business speaking too. A self-message (sender = recipient) stays as Meta marks it.
    let business_spoke = sender == entry.id && recipient != entry.id;
    let echo = business_spoke || (key == "message" && flag(at(event, "is_echo")));

    let parsed: Option<(String, InboundKind)> = match key {
        "message" => message(event, item),
        "message_edit" => edit(event),
        "reaction" => reaction(event, own_time),
        "postback" => Some(postback(event, &sender, own_time)),
        "referral" => Some(referral_event(event, &sender, own_time)),
        "read" => read(event, &sender),
        "optin" | "optins" | "messaging_optins" => {
            let raw = super::json::to_text(item);
            let dedup = format!("raw:{}", sha256_hex(&[&entry.id, &raw]));
            Some((dedup, InboundKind::OptIn { raw }))
        }
        _ => None,
    };
    let Some((dedup_key, kind)) = parsed else {
        return entry.unknown(fallback_keys(), key, item);
    };
    let parties = Parties::new(entry, sender, recipient, echo);
    Item {
        route_keys: parties.route_keys,
        dedup_key,
        body: ItemBody::Conversation(Conversation {
            channel: Channel::InstagramDm,
            thread_key: format!("dm:{}", parties.customer),
            customer: Customer::new(CustomerId::Igsid(parties.customer)),
            direction: parties.direction,
            occurred_at: own_time.or(entry.time),
            standby,
            kind,
        }),
    }
}

fn message(msg: &Value, item: &Value) -> Option<(String, InboundKind)> {
    let mid = id(at(msg, "mid"))?;
    if flag(at(msg, "is_deleted")) {
        return Some((format!("del:{mid}"), InboundKind::Deleted { mid }));
    }
    let body = MessageBody {
        text: string(at(msg, "text")),
        attachments: attachments(msg),
        reply_to: reply_to(at(msg, "reply_to")),
        quick_reply: string(at(at(msg, "quick_reply"), "payload")),
        referral: msg.get("referral").filter(|r| r.is_object()).map(referral),
        is_self: flag(at(msg, "is_self")) || flag(at(item, "is_self")),
        is_unsupported: flag(at(msg, "is_unsupported")),
        mid: mid.clone(),
        ..MessageBody::default()
    };
    Some((format!("m:{mid}"), InboundKind::Message(body)))
}

/// `attachments` is an array in webhooks; a lone object and the singular `attachment` of
/// the Send API are accepted too, since test tools copy either.
fn attachments(msg: &Value) -> Vec<Attachment> {
    let source = match msg.get("attachments") {
        Some(v) if !v.is_null() => v,
        _ => at(msg, "attachment"),
    };
    list(source).iter().map(attachment).collect()
}

fn attachment(a: &Value) -> Attachment {
    let ty = at(a, "type").as_str().unwrap_or_default();
    let payload = at(a, "payload");
    let sticker_id = id(at(payload, "sticker_id"));
    let kind = match ty {
        // Messenger marks stickers as images carrying a sticker id.
        "image" if sticker_id.is_some() => AttachmentKind::Sticker,
        "image" => AttachmentKind::Image,
        "video" => AttachmentKind::Video,
        "audio" => AttachmentKind::Audio,
        "file" => AttachmentKind::File,
        "sticker" => AttachmentKind::Sticker,
        "share" | "fallback" => AttachmentKind::Share,
        "story_mention" => AttachmentKind::StoryMention,
        "ig_story" | "story" => AttachmentKind::Story,
        "ig_reel" | "reel" => AttachmentKind::Reel,
        "ig_post" => AttachmentKind::Post,
        "product" => AttachmentKind::Product,
        "ephemeral" => AttachmentKind::Ephemeral,
        "like_heart" => AttachmentKind::LikeHeart,
        other => AttachmentKind::Unsupported(other.to_owned()),
    };
    let mut att = Attachment::new(kind);
    // `fallback` puts title and url beside `payload`, which may be null.
    att.url = text(at(payload, "url"))
        .or_else(|| text(at(payload, "story_media_url")))
        .or_else(|| text(at(a, "url")));
    att.title = text(at(payload, "title")).or_else(|| text(at(a, "title")));
    att.reference_id = [
        "reel_video_id",
        "ig_post_media_id",
        "story_media_id",
        "attachment_id",
        "id",
    ]
    .iter()
    .find_map(|k| id(at(payload, k)))
    .or(sticker_id)
    .or_else(|| id(at(at(payload, "product"), "id")));
    att
}

fn reply_to(r: &Value) -> Option<ReplyTo> {
    let story = at(r, "story");
    if story.is_object() {
        return Some(ReplyTo::Story {
            id: id(at(story, "id")),
            url: text(at(story, "url")),
        });
    }
    id(at(r, "mid")).map(|mid| ReplyTo::Message { mid })
}

/// An ig.me, ad or Shops referral; `ads_context_data` carries the ad's creative.
fn referral(r: &Value) -> Referral {
    let ads = at(r, "ads_context_data");
    Referral {
        reference: text(at(r, "ref")),
        source: text(at(r, "source")),
        kind: text(at(r, "type")),
        ad_id: id(at(r, "ad_id")).or_else(|| id(at(ads, "ad_id"))),
        ad_title: text(at(ads, "ad_title")),
        product_id: id(at(at(r, "product"), "id")),
        source_url: text(at(r, "source_url")).or_else(|| text(at(r, "referer_uri"))),
        image_url: text(at(ads, "photo_url")),
        video_url: text(at(ads, "video_url")),
        ..Referral::default()
    }
}

fn edit(e: &Value) -> Option<(String, InboundKind)> {
    let mid = id(at(e, "mid"))?;
    let text = string(at(e, "text"));
    let num_edit = int(at(e, "num_edit")).and_then(|n| u32::try_from(n).ok());
    // Without a counter the text is what tells two edits of one message apart.
    let version = match num_edit {
        Some(n) => n.to_string(),
        None => sha256_hex(&[text.as_deref().unwrap_or_default()]),
    };
    Some((
        format!("ed:{mid}:{version}"),
        InboundKind::Edit(Edit {
            mid,
            text,
            num_edit,
        }),
    ))
}

fn reaction(r: &Value, own_time: Option<Millis>) -> Option<(String, InboundKind)> {
    let mid = id(at(r, "mid"))?;
    let action = match at(r, "action").as_str() {
        Some(a) if a.eq_ignore_ascii_case("unreact") => ReactionAction::Unreact,
        _ => ReactionAction::React,
    };
    let reaction = text(at(r, "reaction"));
    let emoji = text(at(r, "emoji"));
    let dedup = format!(
        "rx:{mid}:{}:{}:{}",
        action_name(action),
        reaction.as_deref().or(emoji.as_deref()).unwrap_or("-"),
        time_part(own_time)
    );
    Some((
        dedup,
        InboundKind::Reaction(Reaction {
            mid,
            action,
            reaction,
            emoji,
        }),
    ))
}

pub(super) fn action_name(action: ReactionAction) -> &'static str {
    match action {
        ReactionAction::React => "react",
        ReactionAction::Unreact => "unreact",
    }
}

pub(super) fn time_part(t: Option<Millis>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.0.to_string())
}

fn postback(p: &Value, sender: &str, own_time: Option<Millis>) -> (String, InboundKind) {
    let mid = id(at(p, "mid"));
    let payload = string(at(p, "payload"));
    let dedup = match &mid {
        Some(mid) => format!("pb:{mid}"),
        None => format!(
            "pb:{sender}:{}:{}",
            time_part(own_time),
            payload.as_deref().unwrap_or_default()
        ),
    };
    let body = Postback {
        mid,
        title: text(at(p, "title")),
        payload,
        referral: p.get("referral").filter(|r| r.is_object()).map(referral),
    };
    (dedup, InboundKind::Postback(body))
}

fn referral_event(r: &Value, sender: &str, own_time: Option<Millis>) -> (String, InboundKind) {
    let body = referral(r);
    let dedup = format!(
        "ref:{sender}:{}:{}",
        time_part(own_time),
        body.reference.as_deref().unwrap_or_default()
    );
    (dedup, InboundKind::Referral(body))
}

fn read(r: &Value, sender: &str) -> Option<(String, InboundKind)> {
    let mid = id(at(r, "mid"));
    let watermark = millis(at(r, "watermark"));
    let marker = match (&mid, watermark) {
        (Some(mid), _) => mid.clone(),
        (None, Some(w)) => w.0.to_string(),
        // A read of nothing in particular has no identity; keep it as Unknown.
        (None, None) => return None,
    };
    Some((
        format!("rd:{sender}:{marker}"),
        InboundKind::Read { mid, watermark },
    ))
}

/// One change (`changes[]` element or flat `field`/`value` entry). `raw` is what Meta sent
/// for it, kept for Unknown items.
pub(super) fn change(entry: &Entry<'_>, field: &str, value: &Value, raw: &Value) -> Item {
    let keys: Vec<RouteKey> = entry.instagram_key().into_iter().collect();
    let parsed = match field {
        "comments" | "live_comments" => comment(entry, field, value, &keys),
        "mentions" => mention(entry, value, &keys),
        "story_insights" => story_insights(entry, value, &keys),
        // The Dashboard "Test" button wraps one messaging event in a change.
        "messages" if value.get("sender").is_some() => {
            Some(messaging(entry, value, false, "messages"))
        }
        _ => None,
    };
    parsed.unwrap_or_else(|| entry.unknown(keys, field, raw))
}

fn comment(entry: &Entry<'_>, field: &str, v: &Value, keys: &[RouteKey]) -> Option<Item> {
    // Real payloads use `id`; Meta's template writes `comment_id`.
    let comment_id = id(at(v, "id")).or_else(|| id(at(v, "comment_id")))?;
    let from = at(v, "from");
    let username = text(at(from, "username"));
    let customer = match (id(at(from, "id")), username) {
        (Some(igsid), username) => Customer {
            id: CustomerId::Igsid(igsid),
            username,
            name: None,
        },
        (None, Some(username)) => Customer::new(CustomerId::InstagramUsername(username)),
        (None, None) => return None,
    };
    // The business's own replies come back as comments too.
    let own = id(at(from, "self_ig_scoped_id")).is_some()
        || (!entry.id.is_empty() && id(at(from, "id")).as_deref() == Some(entry.id.as_str()));
    let media = at(v, "media");
    let parent_id = id(at(v, "parent_id"));
    let root = parent_id.clone().unwrap_or_else(|| comment_id.clone());
    Some(Item {
        route_keys: keys.to_vec(),
        dedup_key: format!("c:{comment_id}"),
        body: ItemBody::Conversation(Conversation {
            channel: Channel::InstagramComment,
            thread_key: format!("comment:{root}"),
            customer,
            direction: if own {
                Direction::Outbound
            } else {
                Direction::Inbound
            },
            occurred_at: millis(at(v, "timestamp")).or(entry.time),
            standby: false,
            kind: InboundKind::Comment(Comment {
                id: comment_id,
                text: string(at(v, "text")),
                media: CommentMedia {
                    id: id(at(media, "id")),
                    product_type: text(at(media, "media_product_type")),
                    ad_id: id(at(media, "ad_id")),
                    ad_title: text(at(media, "ad_title")),
                    original_media_id: id(at(media, "original_media_id")),
                },
                parent_id,
                live: field == "live_comments",
            }),
        }),
    })
}

fn mention(entry: &Entry<'_>, v: &Value, keys: &[RouteKey]) -> Option<Item> {
    let media_id = id(at(v, "media_id"));
    let comment_id = id(at(v, "comment_id"));
    if media_id.is_none() && comment_id.is_none() {
        return None;
    }
    Some(Item {
        route_keys: keys.to_vec(),
        dedup_key: format!(
            "men:{}:{}",
            media_id.as_deref().unwrap_or("-"),
            comment_id.as_deref().unwrap_or("-")
        ),
        body: ItemBody::Account {
            occurred_at: millis(at(v, "timestamp")).or(entry.time),
            kind: AccountEventKind::Mention {
                media_id,
                comment_id,
            },
        },
    })
}

fn story_insights(entry: &Entry<'_>, v: &Value, keys: &[RouteKey]) -> Option<Item> {
    let media_id = id(at(v, "media_id"))?;
    Some(Item {
        route_keys: keys.to_vec(),
        dedup_key: format!("si:{media_id}"),
        body: ItemBody::Account {
            occurred_at: millis(at(v, "timestamp")).or(entry.time),
            kind: AccountEventKind::StoryInsights {
                media_id: Some(media_id),
                impressions: int(at(v, "impressions")),
                reach: int(at(v, "reach")),
                taps_forward: int(at(v, "taps_forward")),
                taps_back: int(at(v, "taps_back")),
                exits: int(at(v, "exits")),
                replies: int(at(v, "replies")),
            },
        },
    })
}
