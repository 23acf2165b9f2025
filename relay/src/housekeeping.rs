//! Housekeeping: every `RELAY_SWEEP_INTERVAL_SECS` (first round at start) the single-use
//! records nobody used and that have expired — connect links, OAuth states, Page choices,
//! claims — are removed, so they do not pile up for the life of the relay. Each round is
//! made durable and counted (`relay_swept_records_total`).

use crate::http::AppState;

/// Starts the sweeper; it runs until the process ends.
pub fn spawn(app: AppState) {
    let every = app.config.sweep_interval;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match round(&app).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(swept = n, "expired single-use records removed"),
                Err(e) => tracing::warn!(error = %e, "housekeeping round failed"),
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
