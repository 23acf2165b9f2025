//! Moments as Unix milliseconds.
//!
//! Meta sends times as milliseconds, seconds, or strings of seconds; the relay normalizes
//! them all to `Millis` at the edge, so everything past ingest compares one unit.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A moment in Unix milliseconds (UTC).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Millis {
    pub const SECOND: i64 = 1_000;
    pub const MINUTE: i64 = 60 * Self::SECOND;
    pub const HOUR: i64 = 60 * Self::MINUTE;
    pub const DAY: i64 = 24 * Self::HOUR;

    #[must_use]
    pub fn plus(self, ms: i64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }

    /// Milliseconds from `self` until `later` (negative when `later` is in the past).
    #[must_use]
    pub fn until(self, later: Millis) -> i64 {
        later.0.saturating_sub(self.0)
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}
