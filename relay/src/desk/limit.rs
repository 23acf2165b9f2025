//! How many commands one agent may send: a token bucket per (tenant, agent), shared by
//! every desk session of that agent, so opening more desks buys no more. A command over
//! the budget is answered `rate_limited` with the time until one fits, and nothing is
//! stored for it. The bucket is a pure value ([`Bucket::take`]); [`CommandLimits`] only
//! keeps one per agent.

use protocol::{AgentId, Millis, TenantId};
use std::collections::HashMap;
use std::sync::Mutex;

/// Sustained rate and burst of one agent's commands.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub per_sec: u32,
    pub burst: u32,
}

/// One agent's tokens, in thousandths of a command so refills need no floats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    milli_tokens: u64,
    at: Millis,
}

impl Bucket {
    /// A full bucket at `now`.
    #[must_use]
    pub fn full(budget: Budget, now: Millis) -> Bucket {
        Bucket {
            milli_tokens: u64::from(budget.burst) * 1000,
            at: now,
        }
    }

    /// Takes one command's token at `now`, refilling for the time passed; `Err` carries the
    /// milliseconds until one is available.
    ///
    /// # Errors
    /// The bucket is empty.
    pub fn take(&mut self, budget: Budget, now: Millis) -> Result<(), u64> {
        let rate = u64::from(budget.per_sec.max(1));
        let cap = u64::from(budget.burst.max(1)) * 1000;
        // A clock that went back refills nothing.
        let elapsed = u64::try_from(now.0.saturating_sub(self.at.0)).unwrap_or(0);
        self.milli_tokens = self
            .milli_tokens
            .saturating_add(elapsed.saturating_mul(rate))
            .min(cap);
        self.at = self.at.max(now);
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            Ok(())
        } else {
            Err((1000 - self.milli_tokens).div_ceil(rate))
        }
    }
}

impl Bucket {
    /// Whether the bucket is full again at `now` (and so no different from a new one).
    fn refilled_by(&self, budget: Budget, now: Millis) -> bool {
        let elapsed = u64::try_from(now.0.saturating_sub(self.at.0)).unwrap_or(0);
        self.milli_tokens
            .saturating_add(elapsed.saturating_mul(u64::from(budget.per_sec.max(1))))
            >= u64::from(budget.burst.max(1)) * 1000
    }
}

/// The buckets of every agent that sent a command.
pub struct CommandLimits {
    budget: Budget,
    buckets: Mutex<HashMap<(TenantId, AgentId), Bucket>>,
}

/// Past this many buckets, full ones are dropped (a full bucket is the default anyway).
const PRUNE_AT: usize = 10_000;

impl CommandLimits {
    #[must_use]
    pub fn new(budget: Budget) -> CommandLimits {
        CommandLimits {
            budget,
            buckets: Mutex::default(),
        }
    }

    /// Whether `agent` of `tenant` may send a command at `now`.
    ///
    /// # Errors
    /// Milliseconds until the next command fits.
    pub fn check(&self, tenant: &TenantId, agent: &AgentId, now: Millis) -> Result<(), u64> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= PRUNE_AT {
            let budget = self.budget;
            buckets.retain(|_, b| !b.refilled_by(budget, now));
        }
        buckets
            .entry((tenant.clone(), agent.clone()))
            .or_insert_with(|| Bucket::full(self.budget, now))
            .take(self.budget, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Budget = Budget {
        per_sec: 10,
        burst: 3,
    };

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let mut b = Bucket::full(B, Millis(0));
        for _ in 0..3 {
            assert_eq!(b.take(B, Millis(0)), Ok(()));
        }
        // Empty: one token takes 100 ms at 10/s.
        assert_eq!(b.take(B, Millis(0)), Err(100));
        assert_eq!(b.take(B, Millis(40)), Err(60));
        assert_eq!(b.take(B, Millis(100)), Ok(()));
        assert_eq!(b.take(B, Millis(100)), Err(100));
        // A long pause refills to the burst, not beyond.
        let mut got = 0;
        while b.take(B, Millis(1_000_000)).is_ok() {
            got += 1;
        }
        assert_eq!(got, 3);
    }

    #[test]
    fn a_clock_that_goes_back_refills_nothing() {
        let mut b = Bucket::full(B, Millis(10_000));
        for _ in 0..3 {
            b.take(B, Millis(10_000)).unwrap_or_default();
        }
        assert!(b.take(B, Millis(0)).is_err());
    }

    #[test]
    fn agents_have_their_own_buckets_across_sessions() {
        let limits = CommandLimits::new(B);
        let (t, a, b) = (
            TenantId::new("tn_a"),
            AgentId::new("ag_1"),
            AgentId::new("ag_2"),
        );
        for _ in 0..3 {
            assert!(limits.check(&t, &a, Millis(0)).is_ok());
        }
        assert!(limits.check(&t, &a, Millis(0)).is_err());
        assert!(limits.check(&t, &b, Millis(0)).is_ok());
        assert!(limits.check(&TenantId::new("tn_b"), &a, Millis(0)).is_ok());
    }
}
