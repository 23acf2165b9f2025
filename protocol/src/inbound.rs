//! Normalized inbound events: everything Meta's webhooks can tell about a conversation.
//!
//! One `InboundEvent` is one item of one webhook (one `messaging[]` entry, one comment
//! change, one WhatsApp message or status), already routed to a tenant's channel and a
//! thread. The shapes here are ours, not Meta's: Instagram DMs, comments and WhatsApp map
//! onto the same message, attachment, reaction and status types so the desk draws one model.
//! Kinds the relay does not understand yet never land here; they are `UnknownEvent`s.

use crate::customer::{Channel, Customer, Direction};
use crate::ids::{ChannelId, ThreadId};
use crate::time::Millis;
use serde::{Deserialize, Serialize};

/// One conversation event of one tenant's channel.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct InboundEvent {
    pub channel_id: ChannelId,
    pub channel: Channel,
    pub thread: ThreadId,
    pub customer: Customer,
    /// `Outbound` for echoes: the business answered from Meta's own apps (or it is our send).
    pub direction: Direction,
    /// Meta's own timestamp of the event (threads order by it).
    pub occurred_at: Millis,
    /// Delivered through `standby`: another app owns the thread (handover protocol).
    pub standby: bool,
    pub kind: InboundKind,
}

/// What happened.
// Events are built once and moved a few times; boxing the large variant would only add an
// allocation and noise to every constructor and pattern.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub enum InboundKind {
    /// A DM, an echo, or a WhatsApp message of any type.
    Message(MessageBody),
    /// A reaction added or removed on a message.
    Reaction(Reaction),
    /// The customer edited a message.
    Edit(Edit),
    /// The customer unsent a message.
    Deleted { mid: String },
    /// The customer saw messages (`messaging_seen`).
    Read {
        mid: Option<String>,
        watermark: Option<Millis>,
    },
    /// An ice-breaker, persistent-menu or template-button tap.
    Postback(Postback),
    /// An ig.me / ad referral inside an existing conversation.
    Referral(Referral),
    /// A comment or live comment on the business's media (or the business's own reply).
    Comment(Comment),
    /// Delivery state of a message the business sent (WhatsApp statuses).
    Status(DeliveryStatus),
    /// `messaging_optins`: no confirmed payload shape, so it is kept raw.
    OptIn { raw: String },
}

/// A message with text and/or attachments.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct MessageBody {
    /// Meta's message id (`mid`, or `wamid…` on WhatsApp).
    pub mid: String,
    pub text: Option<String>,
    pub attachments: Vec<Attachment>,
    pub reply_to: Option<ReplyTo>,
    /// Payload of a tapped quick reply.
    pub quick_reply: Option<String>,
    pub referral: Option<Referral>,
    /// The business messaging itself (`is_self`): no window applies.
    pub is_self: bool,
    /// Meta could not render it (`is_unsupported`, or WhatsApp `unsupported`).
    pub is_unsupported: bool,
    pub forwarded: Forwarded,
    /// WhatsApp types that are neither text nor media.
    pub structured: Option<Structured>,
    /// Errors Meta attached to the message (WhatsApp `errors[]`).
    pub errors: Vec<ProviderError>,
}

/// What a message answers.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum ReplyTo {
    /// An inline reply to an earlier message (`reply_to.mid`, WhatsApp `context.id`).
    Message { mid: String },
    /// A reply to one of the business's stories.
    Story {
        id: Option<String>,
        url: Option<String>,
    },
}

/// Forwarding marks (WhatsApp).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub enum Forwarded {
    #[default]
    No,
    Forwarded,
    FrequentlyForwarded,
}

/// One attachment of a message, with every reference Meta gives for it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Attachment {
    pub kind: AttachmentKind,
    /// CDN or share URL (Instagram; newer WhatsApp payloads).
    pub url: Option<String>,
    /// Meta's id of the referenced object: WhatsApp media id, reel video id, post media id,
    /// story media id, product id.
    pub reference_id: Option<String>,
    pub title: Option<String>,
    pub caption: Option<String>,
    pub filename: Option<String>,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    /// A WhatsApp voice note.
    pub voice: bool,
    /// An animated WhatsApp sticker.
    pub animated: bool,
}

/// Where an attachment's bytes can be fetched, as the relay's media route fetches them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MediaRef<'a> {
    /// A WhatsApp media id, resolved with the channel's token.
    WhatsAppMedia(&'a str),
    /// A web URL the webhook carried (Instagram's CDN), fetched without a token.
    Url(&'a str),
}

impl Attachment {
    /// What there is to fetch for this attachment on `channel`, if anything (a like, a
    /// disappearing photo or a share without a URL has nothing). The relay's media route
    /// serves exactly these, and the desk numbers exactly these, so both follow this rule.
    #[must_use]
    pub fn media_ref(&self, channel: Channel) -> Option<MediaRef<'_>> {
        match channel {
            // The media id is the documented way; a lookaside URL on newer payloads needs
            // the same token and is reached through the id anyway.
            Channel::WhatsApp => self
                .reference_id
                .as_deref()
                .filter(|id| !id.is_empty())
                .map(MediaRef::WhatsAppMedia),
            Channel::InstagramDm | Channel::InstagramComment => self
                .url
                .as_deref()
                .filter(|url| is_web_url(url))
                .map(MediaRef::Url),
        }
    }

    #[must_use]
    pub fn new(kind: AttachmentKind) -> Self {
        Attachment {
            kind,
            url: None,
            reference_id: None,
            title: None,
            caption: None,
            filename: None,
            mime_type: None,
            sha256: None,
            voice: false,
            animated: false,
        }
    }
}

/// `http(s)://` and a host: never `javascript:`, `file:` or a path.
fn is_web_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return false;
    };
    rest.split(['/', '?', '#'])
        .next()
        .is_some_and(|host| !host.is_empty() && !host.contains(char::is_whitespace))
}

/// The attachment types Meta sends; a type we have not seen is kept by name.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum AttachmentKind {
    Image,
    Video,
    Audio,
    /// A file / WhatsApp document.
    File,
    Sticker,
    /// A shared link or post (`share`, `fallback`).
    Share,
    StoryMention,
    /// A story attachment (`ig_story`).
    Story,
    /// A shared reel (`ig_reel`, `reel`).
    Reel,
    /// A shared post (`ig_post`).
    Post,
    /// A shared product.
    Product,
    /// Disappearing media: no URL is given.
    Ephemeral,
    LikeHeart,
    /// Meta's `unsupported` type, or any type name we do not know yet.
    Unsupported(String),
}

/// WhatsApp message content that is neither text nor media.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub enum Structured {
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
        url: Option<String>,
    },
    Contacts {
        contacts: Vec<SharedContact>,
    },
    /// A tap on an interactive message (`button_reply`, `list_reply`, `nfm_reply`).
    Interactive {
        kind: String,
        id: Option<String>,
        title: Option<String>,
        description: Option<String>,
        /// The raw `response_json` of a Flow reply.
        response_json: Option<String>,
    },
    /// A template quick-reply button (`type: "button"`).
    Button {
        text: Option<String>,
        payload: Option<String>,
    },
    Order {
        catalog_id: Option<String>,
        text: Option<String>,
        items: Vec<OrderItem>,
    },
    System {
        kind: Option<String>,
        body: Option<String>,
        new_wa_id: Option<String>,
    },
}

/// A contact card shared in WhatsApp.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SharedContact {
    pub name: Option<String>,
    pub phones: Vec<String>,
}

/// One line of a WhatsApp order.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct OrderItem {
    pub product_retailer_id: Option<String>,
    pub quantity: Option<u32>,
    pub item_price: Option<f64>,
    pub currency: Option<String>,
}

/// A reaction on a message.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Reaction {
    pub mid: String,
    pub action: ReactionAction,
    /// Instagram's named reaction (`love`, `like`, …).
    pub reaction: Option<String>,
    pub emoji: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum ReactionAction {
    React,
    Unreact,
}

/// A customer's edit of an earlier message.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Edit {
    pub mid: String,
    pub text: Option<String>,
    pub num_edit: Option<u32>,
}

/// A button tap that Meta delivers as a postback.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Postback {
    pub mid: Option<String>,
    pub title: Option<String>,
    pub payload: Option<String>,
    pub referral: Option<Referral>,
}

/// Where a conversation came from: an ig.me link, an ad, a shop product, a
/// Click-to-WhatsApp ad. Every field is optional because each source sends a different set.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Referral {
    pub reference: Option<String>,
    pub source: Option<String>,
    pub kind: Option<String>,
    pub ad_id: Option<String>,
    pub ad_title: Option<String>,
    pub product_id: Option<String>,
    pub source_url: Option<String>,
    pub source_id: Option<String>,
    pub headline: Option<String>,
    pub body: Option<String>,
    pub media_type: Option<String>,
    pub image_url: Option<String>,
    pub video_url: Option<String>,
    pub thumbnail_url: Option<String>,
    pub click_id: Option<String>,
}

/// A comment on the business's media.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Comment {
    pub id: String,
    pub text: Option<String>,
    pub media: CommentMedia,
    /// Set on replies to another comment.
    pub parent_id: Option<String>,
    /// Arrived as `live_comments` (only during a live broadcast).
    pub live: bool,
}

/// The media a comment was left on.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct CommentMedia {
    pub id: Option<String>,
    /// `FEED`, `REELS`, `STORY`, `AD`.
    pub product_type: Option<String>,
    pub ad_id: Option<String>,
    pub ad_title: Option<String>,
    pub original_media_id: Option<String>,
}

/// A delivery status of a message the business sent.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DeliveryStatus {
    pub message_id: String,
    pub status: StatusKind,
    pub errors: Vec<ProviderError>,
    pub conversation_id: Option<String>,
    pub conversation_expires_at: Option<Millis>,
    pub conversation_origin: Option<String>,
    pub pricing_category: Option<String>,
    pub pricing_model: Option<String>,
    pub billable: Option<bool>,
    pub biz_opaque_callback_data: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum StatusKind {
    Sent,
    Delivered,
    Read,
    Failed,
    /// A voice message was played.
    Played,
    /// A status name we do not know yet.
    Other(String),
}

impl StatusKind {
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            StatusKind::Sent => "sent",
            StatusKind::Delivered => "delivered",
            StatusKind::Read => "read",
            StatusKind::Failed => "failed",
            StatusKind::Played => "played",
            StatusKind::Other(s) => s,
        }
    }
}

/// An error Meta attached to a message or status.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ProviderError {
    pub code: Option<i64>,
    pub title: Option<String>,
    pub message: Option<String>,
    pub details: Option<String>,
}

#[cfg(test)]
mod media_ref_tests {
    use super::*;

    #[test]
    fn only_web_urls_and_whatsapp_ids_have_media() {
        let with_url = |url: &str| {
            let mut a = Attachment::new(AttachmentKind::Image);
            a.url = Some(url.into());
            a
        };
        for (url, ok) in [
            ("https://cdn.example/p.jpg", true),
            ("HTTP://cdn.example/p.jpg", true),
            ("http://host", true),
            ("https:///no-host", false),
            ("javascript:alert(1)", false),
            ("file:///etc/passwd", false),
            ("/relative/path", false),
            ("https://bad host/x", false),
            ("", false),
        ] {
            let a = with_url(url);
            assert_eq!(a.media_ref(Channel::InstagramDm).is_some(), ok, "{url}");
        }
        // WhatsApp goes by media id only: a URL alone is nothing the relay may fetch.
        assert_eq!(
            with_url("https://cdn.example/p.jpg").media_ref(Channel::WhatsApp),
            None
        );
        let mut wa = Attachment::new(AttachmentKind::Audio);
        wa.reference_id = Some("1234".into());
        assert_eq!(
            wa.media_ref(Channel::WhatsApp),
            Some(MediaRef::WhatsAppMedia("1234"))
        );
        wa.reference_id = Some(String::new());
        assert_eq!(wa.media_ref(Channel::WhatsApp), None);
    }
}
