//! Prometheus metrics of the relay: what arrived, what became of it, how long flushes took.
//!
//! Labels are fixed, small sets (outcomes), never tenant ids or account ids, so the metric
//! set stays bounded and carries no customer data.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Webhook POSTs by outcome: accepted, bad_signature, too_large (bytes or items),
    /// malformed, not_envelope, parser_failed, storage_error.
    pub webhook_requests: IntCounterVec,
    /// Webhook items by outcome: stored, duplicate, unknown_account.
    pub ingest_items: IntCounterVec,
    pub flush_seconds: Histogram,
    pub flush_batch: Histogram,
    /// Connected desk sessions.
    pub desk_sessions: IntGauge,
    /// Desk sessions ended, by reason: closed, idle, slow, revoked, protocol, error.
    pub desk_closed: IntCounterVec,
    /// Desk commands by outcome: applied, rejected, replayed, limited.
    pub desk_commands: IntCounterVec,
    /// Times a session fell out of its tenant's live ring and re-read from storage.
    pub desk_catch_ups: IntCounterVec,
    /// Connects of an account another channel holds, by outcome: refused (the holder proved
    /// it), claimed (kept for the operator), confirmed (the operator moved it).
    pub connect_conflicts: IntCounterVec,
    /// Expired single-use records removed by housekeeping.
    pub swept_records: IntCounter,
    /// Webhook POSTs holding a slot now (`RELAY_MAX_INFLIGHT_WEBHOOKS` caps it).
    pub webhooks_in_flight: IntGauge,
}

impl Metrics {
    /// # Panics
    /// Never in practice: the metric names are static and registered once.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let webhook_requests = IntCounterVec::new(
            Opts::new("relay_webhook_requests_total", "Webhook POSTs by outcome"),
            &["outcome"],
        )
        .expect("static metric");
        let ingest_items = IntCounterVec::new(
            Opts::new("relay_ingest_items_total", "Webhook items by outcome"),
            &["outcome"],
        )
        .expect("static metric");
        let flush_seconds = Histogram::with_opts(
            HistogramOpts::new("relay_flush_seconds", "Duration of group-commit flushes").buckets(
                vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
                ],
            ),
        )
        .expect("static metric");
        let flush_batch = Histogram::with_opts(
            HistogramOpts::new("relay_flush_batch_size", "Waiters answered by one flush")
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
        )
        .expect("static metric");
        let desk_sessions =
            IntGauge::new("relay_desk_sessions", "Connected desk sessions").expect("static metric");
        let desk_closed = IntCounterVec::new(
            Opts::new("relay_desk_closed_total", "Desk sessions ended, by reason"),
            &["reason"],
        )
        .expect("static metric");
        let desk_commands = IntCounterVec::new(
            Opts::new("relay_desk_commands_total", "Desk commands by outcome"),
            &["outcome"],
        )
        .expect("static metric");
        let desk_catch_ups = IntCounterVec::new(
            Opts::new(
                "relay_desk_catch_ups_total",
                "Sessions that re-read events from storage, by cause",
            ),
            &["cause"],
        )
        .expect("static metric");
        let connect_conflicts = IntCounterVec::new(
            Opts::new(
                "relay_connect_conflicts_total",
                "Connects of an account another channel holds, by outcome",
            ),
            &["outcome"],
        )
        .expect("static metric");
        let swept_records = IntCounter::new(
            "relay_swept_records_total",
            "Expired single-use records (links, states, choices, claims) removed",
        )
        .expect("static metric");
        let webhooks_in_flight = IntGauge::new(
            "relay_webhooks_in_flight",
            "Webhook POSTs being handled now",
        )
        .expect("static metric");
        registry
            .register(Box::new(swept_records.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(webhooks_in_flight.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(desk_sessions.clone()))
            .expect("unique metric");
        for c in [
            &webhook_requests,
            &ingest_items,
            &desk_closed,
            &desk_commands,
            &desk_catch_ups,
            &connect_conflicts,
        ] {
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
        }
        registry
            .register(Box::new(flush_seconds.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(flush_batch.clone()))
            .expect("unique metric");
        Metrics {
            registry,
            webhook_requests,
            ingest_items,
            flush_seconds,
            flush_batch,
            desk_sessions,
            desk_closed,
            desk_commands,
            desk_catch_ups,
            connect_conflicts,
            swept_records,
            webhooks_in_flight,
        }
    }

    /// The Prometheus text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding our own registry into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
