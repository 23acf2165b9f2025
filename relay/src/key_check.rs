//! Whether the keyring opens the channel tokens already stored (issue 21), for `/readyz`.
//!
//! A relay started with the wrong `RELAY_MASTER_KEY`, or with an old key dropped from
//! `RELAY_OLD_MASTER_KEYS` before its values were re-sealed, seals and opens new values
//! fine, yet no stored token opens and every send fails. So the relay samples stored
//! sealed tokens — every channel's, tenant by tenant through the operator's listings
//! (`partners`, `tenants_of`, `channels`), at most [`MAX_SAMPLED`] — and tries each with
//! the keyring: once at start (before serving) and again when `/readyz` finds the last
//! sample older than [`RESAMPLE_MS`] of relay time.
//!
//! Why at most once a minute rather than on every call: `/readyz` is open to anyone and
//! polled every few seconds by load balancers, and a sample lists every tenant's channels;
//! a minute bounds that cost while a reconnected channel (a new token sealed under the
//! current key) still turns the check green within a minute. What is kept is counts and
//! channel ids; the ids go to the log only, never a token or key.

use crate::clock::Clock;
use crate::principal::{Access, Principal};
use crate::store::{Store, StoreError};
use crate::vault::Keyring;
use protocol::{ChannelId, Millis};
use std::sync::Arc;

/// How old a sample may be before `/readyz` takes a new one (relay time).
pub const RESAMPLE_MS: i64 = Millis::MINUTE;

/// At most this many tokens per sample, so a large registry bounds the work; a wrong
/// master key fails every token, so the first ones already show it.
pub const MAX_SAMPLED: usize = 500;

/// One sample: how many stored tokens were tried, which did not open, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    pub sampled: usize,
    /// Channels whose sealed token did not open with any key on the ring.
    pub failed: Vec<ChannelId>,
    pub at: Millis,
}

impl Sample {
    /// The non-secret sentence `/readyz` answers when some did not open (counts only: no
    /// tenant or channel id, no key id).
    #[must_use]
    pub fn reason(&self) -> Option<String> {
        if self.failed.is_empty() {
            return None;
        }
        let verb = if self.sampled == 1 { "does" } else { "do" };
        Some(format!(
            "{} of {} stored channel tokens {verb} not open with the configured master keys",
            self.failed.len(),
            self.sampled
        ))
    }
}

/// The last sample and what takes the next one.
pub struct KeyCheck {
    store: Arc<dyn Store>,
    keys: Arc<Keyring>,
    clock: Arc<dyn Clock>,
    /// Held across a sample, so concurrent `/readyz` calls take one sample, not one each.
    last: tokio::sync::Mutex<Option<Sample>>,
}

impl KeyCheck {
    #[must_use]
    pub fn new(store: Arc<dyn Store>, keys: Arc<Keyring>, clock: Arc<dyn Clock>) -> KeyCheck {
        KeyCheck {
            store,
            keys,
            clock,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Takes a sample now and keeps it; logs an error naming the channels that did not open
    /// when they differ from the previous sample's (so a minute's re-sample does not repeat
    /// the same line forever).
    ///
    /// # Errors
    /// Storage failed while listing; the previous sample is kept.
    pub async fn sample(&self) -> Result<Sample, StoreError> {
        let mut last = self.last.lock().await;
        self.sample_locked(&mut last).await
    }

    /// The last sample, re-taken first when it is older than [`RESAMPLE_MS`] (or missing).
    ///
    /// # Errors
    /// Storage failed while re-sampling; the previous sample is kept.
    pub async fn current(&self) -> Result<Sample, StoreError> {
        let mut last = self.last.lock().await;
        if let Some(s) = last.as_ref()
            && s.at.until(self.clock.now()) < RESAMPLE_MS
        {
            return Ok(s.clone());
        }
        self.sample_locked(&mut last).await
    }

    /// The last sample as kept, without re-sampling (`None` before the first).
    pub async fn last(&self) -> Option<Sample> {
        self.last.lock().await.clone()
    }

    async fn sample_locked(&self, last: &mut Option<Sample>) -> Result<Sample, StoreError> {
        let (sampled, failed) = self.try_stored().await?;
        let sample = Sample {
            sampled,
            failed,
            at: self.clock.now(),
        };
        let before = last.as_ref().map(|s| &s.failed);
        if !sample.failed.is_empty() && before != Some(&sample.failed) {
            let ids: Vec<&str> = sample.failed.iter().map(ChannelId::as_str).collect();
            tracing::error!(
                channels = ?ids,
                sampled,
                "stored channel tokens do not open with the configured master keys \
                 (RELAY_MASTER_KEY / RELAY_OLD_MASTER_KEYS); sends on them will fail"
            );
        } else if sample.failed.is_empty() && before.is_some_and(|f| !f.is_empty()) {
            tracing::info!(sampled, "stored channel tokens open again");
        }
        *last = Some(sample.clone());
        Ok(sample)
    }

    /// Tries every stored sealed token, tenant by tenant, up to [`MAX_SAMPLED`].
    async fn try_stored(&self) -> Result<(usize, Vec<ChannelId>), StoreError> {
        let (mut sampled, mut failed) = (0usize, Vec::new());
        for partner in self.store.partners().await? {
            for tenant in self.store.tenants_of(&partner.id).await? {
                let Ok(scope) = Principal::Operator.scope(&tenant.id, Access::Read) else {
                    continue;
                };
                for channel in self.store.channels(&scope).await? {
                    let Some(sealed) = &channel.sealed_token else {
                        continue;
                    };
                    if sampled == MAX_SAMPLED {
                        return Ok((sampled, failed));
                    }
                    sampled += 1;
                    if self.keys.open(&tenant.id, &channel.id, sealed).is_err() {
                        failed.push(channel.id.clone());
                    }
                }
            }
        }
        Ok((sampled, failed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_counts_without_naming_anything() {
        let mut s = Sample {
            sampled: 3,
            failed: Vec::new(),
            at: Millis(0),
        };
        assert_eq!(s.reason(), None);
        s.failed.push(ChannelId::new("ch_secretive"));
        assert_eq!(
            s.reason().as_deref(),
            Some("1 of 3 stored channel tokens do not open with the configured master keys")
        );
        s.sampled = 1;
        assert!(
            s.reason()
                .is_some_and(|r| r.starts_with("1 of 1 stored channel tokens does not"))
        );
    }
}
