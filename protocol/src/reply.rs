//! What a reply can carry beyond plain text, per channel (meta-platform.md §6.2, §7, §13.2):
//! media by URL, Instagram's heart sticker, quick replies, buttons, cards (Instagram's
//! generic template), WhatsApp templates, comment replies and sender actions.
//!
//! [`ReplyContent::check`] says whether a content can go on a channel at all and whether its
//! parts are within Meta's limits, so the desk gets a clear refusal instead of Meta's error.

use crate::customer::Channel;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    /// A PDF on Instagram, a document on WhatsApp.
    File,
}

/// A tappable option: quick reply, button.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Choice {
    pub title: String,
    pub payload: String,
}

/// One card of an Instagram generic template.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Card {
    pub title: String,
    pub subtitle: Option<String>,
    pub image_url: Option<String>,
    pub buttons: Vec<Choice>,
}

/// A typing indicator, read mark or reaction: no message, no credit.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderAction {
    TypingOn,
    TypingOff,
    MarkSeen,
    React { mid: String, emoji: String },
    Unreact { mid: String },
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyContent {
    Media {
        kind: MediaKind,
        url: String,
        /// WhatsApp only.
        caption: Option<String>,
    },
    /// Instagram's heart sticker.
    Heart,
    /// Instagram text with quick-reply chips.
    QuickReplies {
        text: String,
        options: Vec<Choice>,
    },
    /// Text with up to three buttons: Instagram button template, WhatsApp interactive buttons.
    Buttons {
        text: String,
        buttons: Vec<Choice>,
    },
    /// Instagram generic template: up to ten cards in a carousel.
    Cards {
        cards: Vec<Card>,
    },
    /// An approved WhatsApp template (the only thing that may go outside the 24 h window).
    Template {
        name: String,
        language: String,
        params: Vec<String>,
    },
    /// The one private DM answering a comment (7 days after it, once per comment).
    PrivateReply {
        text: String,
    },
    SenderAction(SenderAction),
    /// Hide or unhide a comment: moderation, not a message, but it travels the outbox for
    /// its retries and record.
    HideComment {
        comment_id: String,
        hidden: bool,
    },
    /// Plain text as a rich send, so it can quote a message (`reply_to`). (The variants
    /// from here on are appended, so older binary encodings keep their tags.)
    Text {
        text: String,
    },
    /// WhatsApp interactive list: a button that opens up to ten rows to pick from.
    List {
        text: String,
        /// The label of the button that opens the list.
        button: String,
        rows: Vec<Choice>,
    },
    /// Media the relay uploaded to Meta first (`crate::upload`): a WhatsApp media id or
    /// an Instagram `attachment_id`.
    Uploaded {
        kind: MediaKind,
        id: String,
        /// WhatsApp only.
        caption: Option<String>,
    },
}

/// Instagram's button template and WhatsApp's reply buttons hold at most three.
pub const MAX_BUTTONS: usize = 3;
/// Instagram quick replies ("up to 13", third-party docs; see meta-platform.md §6.2).
pub const MAX_QUICK_REPLIES: usize = 13;
/// Instagram generic template cards.
pub const MAX_CARDS: usize = 10;
/// Rows of a WhatsApp interactive list.
pub const MAX_LIST_ROWS: usize = 10;
/// WhatsApp's limits on a list's button label and a row's title, in characters.
pub const LIST_BUTTON_CHARS: usize = 20;
pub const LIST_ROW_CHARS: usize = 24;

impl ReplyContent {
    /// Whether this content is a message to the customer (and so costs a credit and needs
    /// the window); sender actions are not.
    #[must_use]
    pub fn is_message(&self) -> bool {
        !matches!(
            self,
            ReplyContent::SenderAction(_) | ReplyContent::HideComment { .. }
        )
    }

    /// A short text for lists and previews.
    #[must_use]
    pub fn preview(&self) -> String {
        match self {
            ReplyContent::Media { kind, caption, .. }
            | ReplyContent::Uploaded { kind, caption, .. } => caption
                .clone()
                .unwrap_or_else(|| format!("[{kind:?}]").to_lowercase()),
            ReplyContent::Text { text } | ReplyContent::List { text, .. } => text.clone(),
            ReplyContent::Heart => "❤".into(),
            ReplyContent::QuickReplies { text, .. }
            | ReplyContent::Buttons { text, .. }
            | ReplyContent::PrivateReply { text } => text.clone(),
            ReplyContent::Cards { cards } => cards
                .first()
                .map_or_else(|| "[cards]".into(), |c| c.title.clone()),
            ReplyContent::Template { name, .. } => format!("[template {name}]"),
            ReplyContent::SenderAction(a) => format!("[{a:?}]").to_lowercase(),
            ReplyContent::HideComment { hidden: true, .. } => "[hide comment]".into(),
            ReplyContent::HideComment { hidden: false, .. } => "[unhide comment]".into(),
        }
    }

    /// Whether it can go on `channel`, and its parts are within Meta's limits.
    ///
    /// # Errors
    /// A sentence saying what is wrong.
    pub fn check(&self, channel: Channel) -> Result<(), String> {
        use Channel::{InstagramComment as Comment, InstagramDm as Dm, WhatsApp as Wa};
        let fits = match self {
            ReplyContent::Media { .. }
            | ReplyContent::Buttons { .. }
            | ReplyContent::Text { .. }
            | ReplyContent::Uploaded { .. } => matches!(channel, Dm | Wa),
            ReplyContent::List { .. } => channel == Wa,
            ReplyContent::Heart
            | ReplyContent::QuickReplies { .. }
            | ReplyContent::Cards { .. }
            | ReplyContent::SenderAction(_) => channel == Dm,
            ReplyContent::Template { .. } => channel == Wa,
            ReplyContent::PrivateReply { .. } | ReplyContent::HideComment { .. } => {
                channel == Comment
            }
        };
        if !fits {
            return Err(format!(
                "{} cannot be sent on {}",
                self.name(),
                channel.as_str()
            ));
        }
        match self {
            ReplyContent::Media { url, .. } if !is_url(url) => {
                Err("the media URL must start with https:// or http://".into())
            }
            ReplyContent::Media {
                caption: Some(_), ..
            }
            | ReplyContent::Uploaded {
                caption: Some(_), ..
            } if channel != Wa => Err("captions are only sent on WhatsApp".into()),
            ReplyContent::Uploaded { id, .. } if id.trim().is_empty() => {
                Err("the uploaded media has no id".into())
            }
            ReplyContent::List { rows, .. } if rows.is_empty() || rows.len() > MAX_LIST_ROWS => {
                Err(format!("give 1 to {MAX_LIST_ROWS} list rows"))
            }
            ReplyContent::List { button, .. }
                if button.trim().is_empty() || button.chars().count() > LIST_BUTTON_CHARS =>
            {
                Err(format!(
                    "the list's button needs a label of 1 to {LIST_BUTTON_CHARS} characters"
                ))
            }
            ReplyContent::List { rows, .. }
                if rows
                    .iter()
                    .any(|r| r.title.chars().count() > LIST_ROW_CHARS) =>
            {
                Err(format!(
                    "a list row's title holds at most {LIST_ROW_CHARS} characters"
                ))
            }
            ReplyContent::QuickReplies { options, .. }
                if options.is_empty() || options.len() > MAX_QUICK_REPLIES =>
            {
                Err(format!("give 1 to {MAX_QUICK_REPLIES} quick replies"))
            }
            ReplyContent::Buttons { buttons, .. }
                if buttons.is_empty() || buttons.len() > MAX_BUTTONS =>
            {
                Err(format!("give 1 to {MAX_BUTTONS} buttons"))
            }
            ReplyContent::Cards { cards } if cards.is_empty() || cards.len() > MAX_CARDS => {
                Err(format!("give 1 to {MAX_CARDS} cards"))
            }
            ReplyContent::Cards { cards }
                if cards.iter().any(|c| c.buttons.len() > MAX_BUTTONS) =>
            {
                Err(format!("a card holds at most {MAX_BUTTONS} buttons"))
            }
            ReplyContent::Template { name, language, .. }
                if name.is_empty() || language.is_empty() =>
            {
                Err("a template needs its name and language".into())
            }
            _ => Ok(()),
        }
    }

    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            ReplyContent::Media { .. } => "media",
            ReplyContent::Heart => "a heart",
            ReplyContent::QuickReplies { .. } => "quick replies",
            ReplyContent::Buttons { .. } => "buttons",
            ReplyContent::Cards { .. } => "cards",
            ReplyContent::Template { .. } => "a template",
            ReplyContent::PrivateReply { .. } => "a private reply",
            ReplyContent::SenderAction(_) => "a sender action",
            ReplyContent::HideComment { .. } => "a comment moderation",
            ReplyContent::Text { .. } => "a text",
            ReplyContent::List { .. } => "a list",
            ReplyContent::Uploaded { .. } => "uploaded media",
        }
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn contents_go_only_where_meta_takes_them() {
        let heart = ReplyContent::Heart;
        assert!(heart.check(Channel::InstagramDm).is_ok());
        assert!(heart.check(Channel::WhatsApp).is_err());
        let template = ReplyContent::Template {
            name: "order_update".into(),
            language: "en_US".into(),
            params: vec![],
        };
        assert!(template.check(Channel::WhatsApp).is_ok());
        assert!(template.check(Channel::InstagramDm).is_err());
        let private = ReplyContent::PrivateReply { text: "hi".into() };
        assert!(private.check(Channel::InstagramComment).is_ok());
        assert!(private.check(Channel::InstagramDm).is_err());
        let four = ReplyContent::Buttons {
            text: "pick".into(),
            buttons: vec![
                Choice {
                    title: "a".into(),
                    payload: "a".into()
                };
                4
            ],
        };
        assert!(
            four.check(Channel::WhatsApp)
                .unwrap_err()
                .contains("1 to 3")
        );
        let media = ReplyContent::Media {
            kind: MediaKind::Image,
            url: "ftp://x".into(),
            caption: None,
        };
        assert!(media.check(Channel::InstagramDm).is_err());
        assert!(!ReplyContent::SenderAction(SenderAction::TypingOn).is_message());
    }
}
