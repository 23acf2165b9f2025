//! How long to wait before the next connection attempt: exponential growth with full
//! jitter, so that many desks cut off by one relay restart do not reconnect in lockstep.
//!
//! Pure arithmetic over an injected random source; the engine does the sleeping.

use rand::Rng;
use std::time::Duration;

/// The bounds of the backoff; tests shrink them to milliseconds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BackoffConfig {
    /// The ceiling of the first delay.
    pub initial: Duration,
    /// The ceiling never grows past this.
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(30),
        }
    }
}

/// Attempts since the last successful welcome, and the delays they earn.
#[derive(Clone, Debug)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
}

impl Backoff {
    #[must_use]
    pub fn new(config: BackoffConfig) -> Self {
        Self { config, attempt: 0 }
    }

    /// The delay before the next attempt: uniform in `0..=min(max, initial * 2^attempt)`.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rng.gen_range(0..=ceiling_ms))
    }

    /// A welcome proves the relay is reachable again; the next outage starts small.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    fn ceiling(&self) -> Duration {
        // 2^31 times anything we configure is far past any cap, so clamp the shift.
        let factor = 1u32 << self.attempt.min(31);
        self.config
            .initial
            .checked_mul(factor)
            .map_or(self.config.max, |d| d.min(self.config.max))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn ceiling_doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(BackoffConfig::default());
        let mut rng = StdRng::seed_from_u64(7);
        let ceilings: Vec<u128> = (0..10)
            .map(|_| {
                let ceiling = backoff.ceiling().as_millis();
                let delay = backoff.next_delay(&mut rng).as_millis();
                assert!(delay <= ceiling, "{delay} > {ceiling}");
                ceiling
            })
            .collect();
        assert_eq!(
            ceilings,
            [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        backoff.reset();
        assert_eq!(backoff.ceiling(), Duration::from_millis(250));
    }

    #[test]
    fn many_attempts_never_overflow() {
        let mut backoff = Backoff::new(BackoffConfig::default());
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..200 {
            assert!(backoff.next_delay(&mut rng) <= Duration::from_secs(30));
        }
    }

    #[test]
    fn jitter_spreads_delays() {
        let mut rng = StdRng::seed_from_u64(3);
        let delays: std::collections::HashSet<Duration> = (0..20)
            .map(|_| Backoff::new(BackoffConfig::default()).next_delay(&mut rng))
            .collect();
        assert!(delays.len() > 10, "{delays:?}");
    }
}
