//! The relay's notion of "now", injectable so time-dependent code is testable without sleeping.

use protocol::Millis;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Millis;
}

/// Wall-clock time moved forward on request (`RELAY_TEST_CLOCK=1`, `POST /_test/clock`),
/// so end-to-end tests see links, states and windows expire without sleeping. It never
/// moves back, so every rule that holds for real time holds for it.
#[derive(Default)]
pub struct TestClock {
    offset_ms: std::sync::atomic::AtomicI64,
}

impl TestClock {
    /// Moves the clock `ms` forward; answers the new now.
    pub fn advance(&self, ms: i64) -> Millis {
        self.offset_ms
            .fetch_add(ms.max(0), std::sync::atomic::Ordering::SeqCst);
        self.now()
    }
}

impl Clock for TestClock {
    fn now(&self) -> Millis {
        let offset = self.offset_ms.load(std::sync::atomic::Ordering::SeqCst);
        Millis(SystemClock.now().0.saturating_add(offset))
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
