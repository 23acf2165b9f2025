//! The relay's notion of "now", injectable so time-dependent code is testable without sleeping.

use protocol::Millis;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Millis;
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
