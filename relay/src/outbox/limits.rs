//! Meta's send rates per account (meta-platform.md §11: 100 calls/s for text, links,
//! reactions and stickers, 10/s for audio or video, 750/h for private replies to comments),
//! kept before the call with a tenth of headroom, so the outbox neither earns rate-limit
//! errors nor drives Meta's usage headers to 100 % (which makes `graph` hold the channel
//! off). Meta's own throttling answers are honoured on top: the retry back-off, and the hold
//! Meta's usage headers ask for.

use protocol::{MediaKind, Millis, ReplyContent};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Which of Meta's budgets a send draws on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Lane {
    /// Text, links, reactions, stickers, images, templates: 100/s.
    Text,
    /// Audio or video: 10/s.
    AudioVideo,
    /// Private replies to comments on posts and reels: 750/h.
    PrivateReply,
}

impl Lane {
    #[must_use]
    pub fn of(content: Option<&ReplyContent>) -> Lane {
        match content {
            Some(
                ReplyContent::Media {
                    kind: MediaKind::Audio | MediaKind::Video,
                    ..
                }
                | ReplyContent::Uploaded {
                    kind: MediaKind::Audio | MediaKind::Video,
                    ..
                },
            ) => Lane::AudioVideo,
            Some(ReplyContent::PrivateReply { .. }) => Lane::PrivateReply,
            _ => Lane::Text,
        }
    }

    /// (sends, per window in ms): Meta's figure less a tenth.
    fn budget(self) -> (usize, i64) {
        match self {
            Lane::Text => (TEXT_PER_SECOND as usize, Millis::SECOND),
            Lane::AudioVideo => (9, Millis::SECOND),
            Lane::PrivateReply => (675, Millis::HOUR),
        }
    }
}

/// Text sends per second per account: Meta's 100, less a tenth of headroom.
pub const TEXT_PER_SECOND: u32 = 90;

/// A sliding window of send times per account and lane, in the relay's clock (so a test
/// clock moved forward empties it).
#[derive(Default)]
pub struct SendLimits {
    sent: Mutex<HashMap<(String, Lane), Vec<Millis>>>,
}

impl SendLimits {
    /// How long to wait before `account` may send on `lane` again (zero: now), counting
    /// this send when it may go at once.
    pub fn reserve(&self, account: &str, lane: Lane, now: Millis) -> Duration {
        let (max, window) = lane.budget();
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let times = sent.entry((account.to_owned(), lane)).or_default();
        // A clock that went back counts as no time passed.
        times.retain(|t| t.until(now).max(0) < window);
        if times.len() < max {
            times.push(now);
            return Duration::ZERO;
        }
        let left = window - times[0].until(now).max(0);
        Duration::from_millis(u64::try_from(left).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_over_the_per_second_budget_waits_for_the_first_to_age_out() {
        let limits = SendLimits::default();
        let start = Millis(1_700_000_000_000);
        for i in 0..TEXT_PER_SECOND {
            let at = start.plus(i64::from(i));
            assert_eq!(limits.reserve("ig1", Lane::Text, at), Duration::ZERO);
        }
        let at = start.plus(500);
        assert_eq!(
            limits.reserve("ig1", Lane::Text, at),
            Duration::from_millis(500)
        );
        // Other accounts and lanes are not affected, and the window slides.
        assert_eq!(limits.reserve("ig2", Lane::Text, at), Duration::ZERO);
        assert_eq!(limits.reserve("ig1", Lane::AudioVideo, at), Duration::ZERO);
        assert_eq!(
            limits.reserve("ig1", Lane::Text, start.plus(1000)),
            Duration::ZERO
        );
    }

    #[test]
    fn private_replies_are_counted_per_hour() {
        let limits = SendLimits::default();
        let start = Millis(1_700_000_000_000);
        for _ in 0..675 {
            assert_eq!(
                limits.reserve("ig1", Lane::PrivateReply, start),
                Duration::ZERO
            );
        }
        let later = start.plus(600_000);
        assert_eq!(
            limits.reserve("ig1", Lane::PrivateReply, later),
            Duration::from_secs(3000)
        );
        assert_eq!(
            Lane::of(Some(&ReplyContent::Media {
                kind: MediaKind::Video,
                url: "https://x/v.mp4".into(),
                caption: None
            })),
            Lane::AudioVideo
        );
    }
}
