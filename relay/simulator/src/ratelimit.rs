//! Meta's per-account messaging limits (meta-platform.md §11) as sliding windows: a call is
//! allowed when fewer than `limit` calls of its bucket were allowed in the last window.
//! Refused calls do not count, so a client that backs off regains access after one window.
//!
//! Also computes what the usage headers report (`X-Business-Use-Case-Usage`,
//! `X-App-Usage`): the bucket's use as a percentage of its limit.

use std::collections::{HashMap, VecDeque};

/// What a call is counted against.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Bucket {
    /// Instagram text, links, reactions, stickers, images, templates, sender actions: per second.
    Text,
    /// Instagram audio or video: per second.
    Media,
    /// Private replies to comments: per hour.
    PrivateReplies,
    /// Conversations API: per second.
    Conversations,
    /// WhatsApp messages per number: per second.
    WhatsApp,
}

impl Bucket {
    #[must_use]
    pub fn window_ms(self) -> i64 {
        match self {
            Bucket::PrivateReplies => 3_600_000,
            _ => 1000,
        }
    }
}

/// The outcome of one counted call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Usage {
    /// Whether the call may proceed.
    pub allowed: bool,
    /// Percent of the bucket's limit used in the current window (100 when refused).
    pub percent: u32,
    /// Milliseconds until one more call would be allowed (0 when allowed).
    pub regain_ms: i64,
}

/// Sliding-window counters per (account, bucket).
#[derive(Default, Debug)]
pub struct RateLimiter {
    windows: HashMap<(String, Bucket), VecDeque<i64>>,
}

impl RateLimiter {
    /// Counts one call of `bucket` for `account` at `now` against `limit` per window.
    pub fn take(&mut self, account: &str, bucket: Bucket, limit: u32, now: i64) -> Usage {
        let window = bucket.window_ms();
        let q = self
            .windows
            .entry((account.to_owned(), bucket))
            .or_default();
        while q.front().is_some_and(|&t| t <= now - window) {
            q.pop_front();
        }
        let limit_n = usize::try_from(limit).unwrap_or(usize::MAX);
        if q.len() >= limit_n {
            let regain_ms = q.front().map_or(0, |&t| (t + window - now).max(1));
            return Usage {
                allowed: false,
                percent: 100,
                regain_ms,
            };
        }
        q.push_back(now);
        Usage {
            allowed: true,
            percent: percent(q.len(), limit),
            regain_ms: 0,
        }
    }

    /// Forgets every window (control API reset).
    pub fn clear(&mut self) {
        self.windows.clear();
    }
}

fn percent(used: usize, limit: u32) -> u32 {
    if limit == 0 {
        return 100;
    }
    let used = u64::try_from(used).unwrap_or(u64::MAX);
    u32::try_from(used.saturating_mul(100) / u64::from(limit)).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_budget_then_refuses_until_the_window_slides() {
        let mut r = RateLimiter::default();
        for i in 0..3 {
            let u = r.take("a", Bucket::Text, 3, 1000 + i);
            assert!(u.allowed);
        }
        let refused = r.take("a", Bucket::Text, 3, 1500);
        assert!(!refused.allowed);
        assert_eq!(refused.percent, 100);
        assert_eq!(refused.regain_ms, 500);
        // Other accounts and buckets have their own budget.
        assert!(r.take("b", Bucket::Text, 3, 1500).allowed);
        assert!(r.take("a", Bucket::Media, 3, 1500).allowed);
        // One window after the first call, one call is allowed again.
        assert!(r.take("a", Bucket::Text, 3, 2000).allowed);
        assert!(!r.take("a", Bucket::Text, 3, 2000).allowed);
    }

    #[test]
    fn usage_is_a_percentage() {
        let mut r = RateLimiter::default();
        assert_eq!(r.take("a", Bucket::Text, 4, 0).percent, 25);
        assert_eq!(r.take("a", Bucket::Text, 4, 0).percent, 50);
        assert_eq!(Bucket::PrivateReplies.window_ms(), 3_600_000);
    }
}
