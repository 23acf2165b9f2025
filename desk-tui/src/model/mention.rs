//! Account-level @mentions as inbox rows of their own.
//!
//! Instagram's `mentions` change (Facebook Login) says only that the business was
//! @mentioned in a post's caption (`media_id`) or in a comment (`comment_id` with its
//! `media_id`): no author, no text, and no conversation. The relay stores it as an
//! `Account` event without a thread, so the desk lists it beside the threads as a
//! [`MentionRow`], keyed by a desk-local id made from the event's seq ([`row_id`]).
//!
//! Rows are read-only: no desk command is about a mention (the relay keeps no view of
//! one a command could be decided against), so nothing here marks one handled, and the
//! business answers a mention on Instagram itself.

use protocol::{AccountEventKind, ChannelId, Event, EventBody, Millis, Seq, ThreadId};
use serde::{Deserialize, Serialize};

/// Prefix of a mention row's id; Meta-made thread ids are hashes, so no thread has it.
const ID_PREFIX: &str = "mention:";

/// One @mention as the inbox lists it and its detail pane shows it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MentionRow {
    /// The row's key in the inbox ([`row_id`] of `seq`).
    pub id: ThreadId,
    /// The `Account` event's seq in the tenant's log.
    pub seq: Seq,
    pub channel_id: ChannelId,
    /// Meta's time (the value's `timestamp`, else the entry's time).
    pub occurred_at: Millis,
    /// When the relay accepted it.
    pub received_at: Millis,
    /// The post (or the post the mentioning comment is on).
    pub media_id: Option<String>,
    /// The comment that mentions the business; `None` for a caption mention.
    pub comment_id: Option<String>,
}

/// The inbox id of the mention stored at `seq`.
#[must_use]
pub fn row_id(seq: Seq) -> ThreadId {
    ThreadId::new(format!("{ID_PREFIX}{}", seq.0))
}

/// Whether an inbox id names a mention row rather than a thread.
#[must_use]
pub fn is_mention_id(id: &ThreadId) -> bool {
    id.as_str().starts_with(ID_PREFIX)
}

impl MentionRow {
    /// The row an event makes, when it is an @mention.
    #[must_use]
    pub fn of(event: &Event) -> Option<MentionRow> {
        let EventBody::Account(account) = &event.body else {
            return None;
        };
        let AccountEventKind::Mention {
            media_id,
            comment_id,
        } = &account.kind
        else {
            return None;
        };
        Some(MentionRow {
            id: row_id(event.seq),
            seq: event.seq,
            channel_id: account.channel_id.clone(),
            occurred_at: account.occurred_at,
            received_at: event.received_at,
            media_id: media_id.clone(),
            comment_id: comment_id.clone(),
        })
    }

    /// In a comment (else in a post's caption).
    #[must_use]
    pub fn in_comment(&self) -> bool {
        self.comment_id.is_some()
    }

    /// Where the business was mentioned, in a few words.
    #[must_use]
    pub fn place(&self) -> &'static str {
        if self.in_comment() {
            "in a comment"
        } else {
            "in a post"
        }
    }

    /// The ids Meta gave, as one line: "post 1792…, comment 1790…".
    #[must_use]
    pub fn ids(&self) -> String {
        let mut parts = Vec::new();
        if let Some(media) = &self.media_id {
            parts.push(format!("post {media}"));
        }
        if let Some(comment) = &self.comment_id {
            parts.push(format!("comment {comment}"));
        }
        parts.join(", ")
    }

    /// Whether a search (lower-cased) finds this row: by "mention", the place or an id.
    #[must_use]
    pub fn matches(&self, search: &str) -> bool {
        search.is_empty()
            || "@mention".contains(search)
            || self.place().contains(search)
            || self.ids().contains(search)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::fixtures::{Events, NOW};

    #[test]
    fn a_mention_event_becomes_a_row_and_nothing_else_does() {
        let mut e = Events::new("t");
        e.message("th-1", protocol::Channel::InstagramDm, "x", "hi", NOW);
        let caption = e.mention(Some("17920000000000001"), None, NOW.plus(-5_000));
        let comment = e.mention(
            Some("17920000000000003"),
            Some("17920000000000002"),
            NOW.plus(-1_000),
        );
        let events = e.take();
        assert_eq!(MentionRow::of(&events[0]), None, "a message is no mention");
        let row = MentionRow::of(&events[1]).unwrap();
        assert_eq!(row.id, row_id(caption));
        assert!(is_mention_id(&row.id));
        assert!(!is_mention_id(&ThreadId::new("th-1")));
        assert_eq!(row.occurred_at, NOW.plus(-5_000));
        assert_eq!(row.place(), "in a post");
        assert_eq!(row.ids(), "post 17920000000000001");
        let row = MentionRow::of(&events[2]).unwrap();
        assert_eq!(row.seq, comment);
        assert_eq!(row.place(), "in a comment");
        assert_eq!(
            row.ids(),
            "post 17920000000000003, comment 17920000000000002"
        );
    }

    #[test]
    fn search_finds_a_mention_by_word_place_and_id() {
        let mut e = Events::new("t");
        e.mention(Some("17920000000000003"), Some("17920000000000002"), NOW);
        let row = MentionRow::of(&e.take()[0]).unwrap();
        for hit in [
            "",
            "mention",
            "@",
            "comment",
            "17920000000000002",
            "post 1792",
        ] {
            assert!(row.matches(hit), "{hit:?} finds it");
        }
        for miss in ["rina", "caption", "17920000000000009"] {
            assert!(!row.matches(miss), "{miss:?} does not");
        }
    }
}
