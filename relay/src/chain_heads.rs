//! Publishing each tenant's evidence-chain head outside the relay, so a later rewrite of
//! history shows against a head somebody kept: in `/metrics` (scraped and stored by
//! Prometheus) and in one log line per tenant each day of the relay's clock.
//!
//! A head is the newest event's seq and its audit record's hash; an export's or a
//! verify's chain must reach the same hash at that seq. Tenant ids appear as labels here,
//! the one exception to `metrics.rs`'s rule of fixed label sets: the head *is* per tenant,
//! and ids carry no customer data. The hash label changes with every event, so a scraper
//! keeps one series per (tenant, head) it saw, which is the record we want.

use crate::clock::Clock;
use crate::store::Store;
use crate::store::cluster::{Lease, Leases};
use protocol::{Millis, Seq, TenantId};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The Prometheus text of the heads: `relay_audit_chain_head{tenant,hash} seq`.
#[must_use]
pub fn render(heads: &[(TenantId, Seq, crate::audit::Hash)]) -> String {
    let mut out = String::from(
        "# HELP relay_audit_chain_head Newest event seq of each tenant's evidence chain, \
         labelled with that event's audit hash\n# TYPE relay_audit_chain_head gauge\n",
    );
    for (tenant, seq, hash) in heads {
        // Tenant ids are minted from [a-z0-9_] and hashes are hex: nothing to escape.
        let _ = writeln!(
            out,
            "relay_audit_chain_head{{tenant=\"{tenant}\",hash=\"{}\"}} {}",
            hex::encode(hash),
            seq.0
        );
    }
    out
}

/// The UTC day number of a relay time.
fn day_of(t: Millis) -> i64 {
    t.0.div_euclid(DAY_MS)
}

/// Logs every tenant's head once per UTC day of the relay's clock (and once at start),
/// checking every `every` whether the day changed; runs until the process ends.
///
/// Relays sharing a database log by turns: each day's lines come from the relay that took
/// that day's lease (`chain_heads/<day>`, kept two days).
pub fn spawn_daily_log(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    leases: Leases,
    every: Duration,
) {
    tokio::spawn(async move {
        let mut logged: Option<i64> = None;
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let day = day_of(clock.now());
            if logged == Some(day) {
                continue;
            }
            match leases.hold(&format!("chain_heads/{day}"), 2 * DAY_MS).await {
                Ok(Lease::Held) => {}
                Ok(Lease::Busy { .. }) => {
                    // Another relay logs this day.
                    logged = Some(day);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "evidence chain heads not logged; retrying");
                    continue;
                }
            }
            match log_heads(store.as_ref(), day).await {
                Ok(()) => logged = Some(day),
                Err(e) => tracing::warn!(error = %e, "evidence chain heads not logged; retrying"),
            }
        }
    });
}

async fn log_heads(store: &dyn Store, day: i64) -> Result<(), crate::store::StoreError> {
    let heads = store.chain_heads().await?;
    for (tenant, seq, hash) in &heads {
        tracing::info!(
            day,
            tenant = %tenant,
            seq = seq.0,
            head = %hex::encode(hash),
            "evidence chain head"
        );
    }
    tracing::info!(day, tenants = heads.len(), "evidence chain heads logged");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_line_per_tenant() {
        let text = render(&[(TenantId::new("tn_a"), Seq(3), [0xab; 32])]);
        assert!(text.contains(&format!(
            "relay_audit_chain_head{{tenant=\"tn_a\",hash=\"{}\"}} 3\n",
            "ab".repeat(32)
        )));
    }

    #[test]
    fn days_turn_at_utc_midnight() {
        assert_eq!(day_of(Millis(DAY_MS - 1)), 0);
        assert_eq!(day_of(Millis(DAY_MS)), 1);
        assert_eq!(day_of(Millis(-1)), -1);
    }
}
