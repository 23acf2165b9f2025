//! Housekeeping: every `RELAY_SWEEP_INTERVAL_SECS` (first round at start) the single-use
//! records nobody used and that have expired — connect links, OAuth states, Page choices,
//! claims — are removed, so they do not pile up for the life of the relay. Each round is
//! made durable and counted (`relay_swept_records_total`). Relays sharing a database sweep
//! by turns: a round runs on the holder of the `housekeeping` lease.

use crate::state::AppState;

/// Starts the sweeper; it runs until the relay stops. Rounds are spaced in relay time, so a
/// test clock moved forward brings the next one at once.
pub fn spawn(app: AppState) {
    let every = i64::try_from(app.config.sweep_interval.as_millis()).unwrap_or(i64::MAX);
    let stop = app.shutdown.clone();
    stop.clone().spawn(async move {
        loop {
            if !crate::store::cluster::has_turn(&app.leases, "housekeeping", every).await {
                if stop.unless_stopping(app.clock.sleep(every)).await.is_none() {
                    return;
                }
                continue;
            }
            match round(&app).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(swept = n, "expired single-use records removed"),
                Err(e) => tracing::warn!(error = %e, "housekeeping round failed"),
            }
            if stop.unless_stopping(app.clock.sleep(every)).await.is_none() {
                return;
            }
        }
    });
}

/// One sweep; answers how many records it removed.
///
/// # Errors
/// Storage failed.
pub async fn round(app: &AppState) -> Result<usize, crate::store::StoreError> {
    let swept = app.store.sweep_once(app.clock.now()).await?;
    if swept > 0 {
        app.store.sync().await?;
        app.metrics
            .swept_records
            .inc_by(u64::try_from(swept).unwrap_or(u64::MAX));
    }
    Ok(swept)
}
