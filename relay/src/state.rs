//! `AppState`: what the relay built at start and every request handler and flow reaches —
//! configuration, storage, the clock, the hub, the outbox, drafting and the rest. It sits
//! above the engines (it holds them) and below the flows and HTTP (they take it), so a flow
//! like `refresh` or `connect` can take the whole state without importing the router.

use crate::clock::Clock;
use crate::config::Config;
use crate::desk::hub::Hub;
use crate::drafting::Drafting;
use crate::metrics::Metrics;
use crate::outbox::Outbox;
use crate::store::Store;
use std::sync::Arc;

/// Everything a handler may reach, behind one reference count: axum clones the state for
/// every request and for each extractor and middleware that takes it, so a clone must not
/// touch each part's own count (it cost a webhook about 12k instructions when it did).
#[derive(Clone)]
pub struct AppState(Arc<Parts>);

impl AppState {
    #[must_use]
    pub fn new(parts: Parts) -> AppState {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Parts {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub metrics: Metrics,
    pub clock: Arc<dyn Clock>,
    /// Fan-out of durable events to connected desks.
    pub hub: Arc<Hub>,
    /// Takes queued replies to Meta.
    pub outbox: Outbox,
    /// Drafts replies to customer messages.
    pub drafting: Drafting,
    /// Each agent's command budget, across all its desks.
    pub command_limits: Arc<crate::desk::limit::CommandLimits>,
    /// The clock `POST /_test/clock` moves, when `RELAY_TEST_CLOCK=1` (the same one as
    /// `clock`); `None` otherwise, and the route answers 404.
    pub test_clock: Option<Arc<crate::clock::TestClock>>,
    /// Downloads attachments for the media route (`crate::media`).
    pub media: Arc<crate::media::Fetcher>,
    /// Asks Instagram for customers' names after their messages are stored.
    pub profiles: crate::profiles::Profiles,
    /// Wakes threads snoozed until a time.
    pub snoozes: crate::snooze::Snoozes,
    /// The one shutdown every background task and desk session watches.
    pub shutdown: crate::shutdown::Shutdown,
    /// Webhook POSTs handled at once (`RELAY_MAX_INFLIGHT_WEBHOOKS`); see `webhook::admit`.
    pub webhook_slots: Arc<tokio::sync::Semaphore>,
    /// Whether the data directory has room (`crate::disk`).
    pub disk: crate::disk::DiskGuard,
    /// Scheduled work runs on one relay of those sharing a database (`store::cluster`).
    pub leases: crate::store::cluster::Leases,
    /// Whether the keyring opens the stored channel tokens (`crate::key_check`).
    pub key_check: crate::key_check::KeyCheck,
}
