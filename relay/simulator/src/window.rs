//! The windows Meta enforces on business messages (meta-platform.md §9), as pure functions of
//! the times the simulator knows from the webhooks it posted. Deliberately written apart
//! from `protocol::window` (only its constants are shared): the simulator is the independent
//! check of the relay's own window rules, so a bug there must not be copied here.
//!
//! Deadlines are inclusive: a message at exactly 24 h after the customer's last message is
//! still inside, like the relay assumes.

use protocol::window::{
    HUMAN_AGENT_WINDOW_MS, PRIVATE_REPLY_WINDOW_MS, STANDARD_WINDOW_MS, WHATSAPP_WINDOW_MS,
};

/// Why Meta refuses a message in time.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Refusal {
    /// Outside the standard window (untagged) or the human-agent tag's 7 days.
    OutsideWindow,
    /// The comment's one private reply is used.
    PrivateReplyUsed,
}

fn within(start: Option<i64>, length: i64, now: i64) -> bool {
    start.is_some_and(|s| now <= s.saturating_add(length))
}

/// An Instagram DM (or sender action) to a customer whose last message was at `last`.
///
/// # Errors
/// `OutsideWindow` after 24 h untagged, or after 7 days with the `HUMAN_AGENT` tag.
pub fn instagram_dm(last: Option<i64>, human_agent_tag: bool, now: i64) -> Result<(), Refusal> {
    let length = if human_agent_tag {
        HUMAN_AGENT_WINDOW_MS
    } else {
        STANDARD_WINDOW_MS
    };
    if within(last, length, now) {
        Ok(())
    } else {
        Err(Refusal::OutsideWindow)
    }
}

/// A private reply to a comment created at `created`.
///
/// # Errors
/// `PrivateReplyUsed` when one was already sent; `OutsideWindow` after 7 days.
pub fn private_reply(created: i64, used: bool, now: i64) -> Result<(), Refusal> {
    if used {
        return Err(Refusal::PrivateReplyUsed);
    }
    if within(Some(created), PRIVATE_REPLY_WINDOW_MS, now) {
        Ok(())
    } else {
        Err(Refusal::OutsideWindow)
    }
}

/// Whether a free-form WhatsApp message may go to a customer whose last message was at `last`.
#[must_use]
pub fn whatsapp_free_form(last: Option<i64>, now: i64) -> bool {
    within(last, WHATSAPP_WINDOW_MS, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    const DAY: i64 = 24 * HOUR;

    #[test]
    fn standard_window_edges() {
        let now = 100 * DAY;
        assert_eq!(
            instagram_dm(Some(now - 24 * HOUR + MIN), false, now),
            Ok(())
        );
        assert_eq!(
            instagram_dm(Some(now - 24 * HOUR), false, now),
            Ok(()),
            "inclusive"
        );
        assert_eq!(
            instagram_dm(Some(now - 24 * HOUR - MIN), false, now),
            Err(Refusal::OutsideWindow)
        );
        assert_eq!(instagram_dm(None, false, now), Err(Refusal::OutsideWindow));
    }

    #[test]
    fn human_agent_tag_reaches_seven_days() {
        let now = 100 * DAY;
        assert_eq!(instagram_dm(Some(now - 6 * DAY), true, now), Ok(()));
        assert_eq!(instagram_dm(Some(now - HOUR), true, now), Ok(()));
        assert_eq!(
            instagram_dm(Some(now - 8 * DAY), true, now),
            Err(Refusal::OutsideWindow)
        );
    }

    #[test]
    fn private_replies_once_within_seven_days() {
        let now = 100 * DAY;
        assert_eq!(private_reply(now - 6 * DAY, false, now), Ok(()));
        assert_eq!(
            private_reply(now - DAY, true, now),
            Err(Refusal::PrivateReplyUsed)
        );
        assert_eq!(
            private_reply(now - 7 * DAY - 1, false, now),
            Err(Refusal::OutsideWindow)
        );
    }

    #[test]
    fn whatsapp_service_window() {
        let now = 100 * DAY;
        assert!(whatsapp_free_form(Some(now - 23 * HOUR), now));
        assert!(!whatsapp_free_form(Some(now - 25 * HOUR), now));
        assert!(!whatsapp_free_form(None, now));
    }
}
