//! Meta's send rate per account (meta-platform.md §11: 100 calls/s for text, links,
//! reactions and stickers), kept before the call with a tenth of headroom, so the outbox
//! neither earns rate-limit errors nor drives Meta's usage headers to 100 % (which makes
//! `graph` hold the channel off). Meta's own throttling answers are honoured on top: the
//! retry back-off, and the hold Meta's usage headers ask for.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Text sends per second per account: Meta's 100, less a tenth of headroom.
pub const TEXT_PER_SECOND: u32 = 90;

/// A sliding one-second window of send times per account.
#[derive(Default)]
pub struct SendLimits {
    sent: Mutex<HashMap<String, Vec<Instant>>>,
}

impl SendLimits {
    /// How long to wait before `account` may send again (zero: now), counting this send
    /// when it may go at once.
    pub fn reserve(&self, account: &str, now: Instant) -> Duration {
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let times = sent.entry(account.to_owned()).or_default();
        times.retain(|t| now.duration_since(*t) < Duration::from_secs(1));
        if times.len() < TEXT_PER_SECOND as usize {
            times.push(now);
            return Duration::ZERO;
        }
        Duration::from_secs(1).saturating_sub(now.duration_since(times[0]))
    }

    /// Waits until `account` may send, then counts the send.
    pub async fn acquire(&self, account: &str) {
        loop {
            let wait = self.reserve(account, Instant::now());
            if wait.is_zero() {
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hundred_and_first_send_in_a_second_waits_for_the_first_to_age_out() {
        let limits = SendLimits::default();
        let start = Instant::now();
        for i in 0..TEXT_PER_SECOND {
            let at = start + Duration::from_millis(u64::from(i));
            assert_eq!(limits.reserve("ig1", at), Duration::ZERO);
        }
        let at = start + Duration::from_millis(500);
        assert_eq!(limits.reserve("ig1", at), Duration::from_millis(500));
        // Other accounts are not affected, and the window slides.
        assert_eq!(limits.reserve("ig2", at), Duration::ZERO);
        assert_eq!(
            limits.reserve("ig1", start + Duration::from_millis(1000)),
            Duration::ZERO
        );
    }
}
