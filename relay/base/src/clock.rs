//! The relay's notion of "now", injectable so time-dependent code is testable without sleeping.
//!
//! Every rule that reads time (link, state and claim expiry, windows, rate limits, token
//! refresh, usage holds, outbox back-off) reads [`Clock::now`], and every wait for a moment
//! in relay time goes through [`Clock::sleep_until`], so a [`TestClock`] moved forward wakes
//! those waits at once. Timeouts that guard IO (a desk's idle or send timeout, HTTP client
//! timeouts) stay on tokio's timer: they measure the peer, not the relay's rules.

use protocol::Millis;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// A wait that a clock resolves; boxed so `Clock` stays object-safe.
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Millis;

    /// Resolves once `now() >= at`. The default waits on tokio's timer for the distance
    /// measured now, which is exact for a clock that only moves with real time.
    fn sleep_until(&self, at: Millis) -> Sleep<'_> {
        let left = self.now().until(at);
        Box::pin(tokio::time::sleep(millis(left)))
    }

    /// Resolves after `ms` of this clock's time.
    fn sleep(&self, ms: i64) -> Sleep<'_> {
        self.sleep_until(self.now().plus(ms))
    }
}

/// A non-negative distance in milliseconds as a `Duration`.
fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Wall-clock time moved forward on request (`RELAY_TEST_CLOCK=1`, `POST /_test/clock`),
/// so end-to-end tests see links, states and windows expire, and back-offs and refresh
/// rounds come due, without sleeping. It never moves back, so every rule that holds for
/// real time holds for it.
#[derive(Default)]
pub struct TestClock {
    offset_ms: AtomicI64,
    /// Woken on every advance, so sleepers re-read the time.
    moved: Notify,
}

impl TestClock {
    /// Moves the clock `ms` forward; answers the new now.
    pub fn advance(&self, ms: i64) -> Millis {
        self.offset_ms.fetch_add(ms.max(0), Ordering::SeqCst);
        self.moved.notify_waiters();
        self.now()
    }
}

impl Clock for TestClock {
    fn now(&self) -> Millis {
        let offset = self.offset_ms.load(Ordering::SeqCst);
        Millis(SystemClock.now().0.saturating_add(offset))
    }

    fn sleep_until(&self, at: Millis) -> Sleep<'_> {
        Box::pin(async move {
            loop {
                // Registered before the time is read: an advance in between still wakes us.
                let moved = self.moved.notified();
                tokio::pin!(moved);
                moved.as_mut().enable();
                let left = self.now().until(at);
                if left <= 0 {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(millis(left)) => {}
                    () = moved => {}
                }
            }
        })
    }
}

/// Wall-clock time.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Millis(ms)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn an_advance_wakes_a_sleeper_at_once() {
        let clock = Arc::new(TestClock::default());
        let at = clock.now().plus(Millis::HOUR);
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(at).await })
        };
        // Too short an advance leaves it asleep...
        clock.advance(Millis::MINUTE);
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        // ...past the moment it wakes, without an hour of real time.
        clock.advance(Millis::HOUR);
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_moment_already_past_resolves_at_once() {
        let clock = TestClock::default();
        let past = clock.now().plus(-1);
        tokio::time::timeout(Duration::from_secs(5), clock.sleep_until(past))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), SystemClock.sleep(0))
            .await
            .unwrap();
    }
}
