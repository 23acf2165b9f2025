//! The chatdesk relay: receives and verifies Meta's webhooks, keeps every event durably and
//! strictly per tenant, serves the admin API and the desks, and sends replies through Meta.
//!
//! Start reading at [`Relay`] (what `relay serve` does), then `http::webhook` (the ingest
//! path) and `store` (the storage trait and its invariants).

// The crates under relay/ (ARCHITECTURE.md, "Crates"), re-exported under the module names
// the relay's code and tests have always used.
pub use chatdesk_base::{clock, graph_url, html, ids, meta_id, secret};
pub use chatdesk_drafting::{draft, knowledge, lang, llm, rules, safety};
pub use chatdesk_simulator as simulate;

pub mod api;
pub mod audit;
pub mod chain_heads;
pub mod cli;
pub mod config;
pub mod connect;
pub mod crash_point;
pub mod demo;
pub mod desk;
pub mod disk;
pub mod drafting;
pub mod housekeeping;
pub mod http;
pub mod ingest;
pub mod key_check;
pub mod lifecycle;
pub mod listener;
pub mod media;
pub mod meta_errors;
pub mod metrics;
pub mod outbox;
pub mod peers;
pub mod principal;
pub mod profiles;
pub mod proxies;
pub mod refresh;
pub mod report;
pub mod shutdown;
pub mod snooze;
pub mod state;
pub mod store;
pub mod tls;
pub mod vault;
pub mod verify;

use crate::clock::{Clock, SystemClock, TestClock};
use crate::config::{Config, StorageKind};
use crate::desk::hub::Hub;
use crate::drafting::Drafting;
use crate::metrics::Metrics;
use crate::outbox::Outbox;
use crate::outbox::graph::Graph;
use crate::outbox::limits::SendLimits;
use crate::state::AppState;
use crate::store::Store;
use crate::store::pg::PgStore;
use crate::store::sled::SledStore;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Why the relay could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Store(#[from] store::StoreError),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
}

/// Opens the configured storage, with flush metrics wired in.
///
/// # Errors
/// The storage cannot be opened.
pub async fn open_store(config: &Config, metrics: &Metrics) -> Result<Arc<dyn Store>, RunError> {
    match config.storage {
        StorageKind::Sled => {
            let m = metrics.clone();
            let observe = Box::new(move |took: std::time::Duration, waiters: usize| {
                m.flush_seconds.observe(took.as_secs_f64());
                #[allow(clippy::cast_precision_loss)]
                m.flush_batch.observe(waiters as f64);
            });
            Ok(Arc::new(SledStore::open_with(
                &config.data_dir,
                observe,
                config.wal_segment_bytes,
            )?))
        }
        StorageKind::Postgres => {
            // Config refuses `postgres` without a URL; this only keeps the match total.
            let url = config.database_url.as_ref().ok_or_else(|| {
                store::StoreError::Backend("RELAY_STORAGE=postgres needs DATABASE_URL".into())
            })?;
            Ok(Arc::new(PgStore::open(url.expose()).await?))
        }
    }
}

/// A relay whose storage is open and whose state is built, not yet serving.
pub struct Relay {
    state: AppState,
    /// Set when the relay terminates TLS itself (`RELAY_TLS_CERT`/`RELAY_TLS_KEY`).
    tls: Option<Arc<tls::Tls>>,
}

impl Relay {
    /// Opens storage and builds the shared state, so a caller announces readiness only
    /// once requests can really be served.
    ///
    /// # Errors
    /// Storage cannot be opened.
    pub async fn open(config: Config) -> Result<Relay, RunError> {
        // First, so a bad certificate stops the start before storage is touched.
        let tls = match &config.tls {
            Some(files) => Some(Arc::new(tls::Tls::new(files.clone())?)),
            None => None,
        };
        if let Some(point) = &config.test_crash_at {
            tracing::warn!(
                point,
                "RELAY_TEST_CRASH_AT is set: the relay aborts at that point"
            );
            let _ = crash_point::arm(point);
        }
        if let Some(point) = &config.test_fault_at {
            tracing::warn!(
                point,
                "RELAY_TEST_FAULT_AT is set: that part of the relay fails on purpose"
            );
            let _ = crash_point::arm_fault(point);
        }
        let metrics = Metrics::new();
        let store = open_store(&config, &metrics).await?;
        let shutdown = shutdown::Shutdown::default();
        let test_clock = config.test_clock.then(|| Arc::new(TestClock::default()));
        let clock: Arc<dyn Clock> = match &test_clock {
            Some(t) => {
                tracing::warn!(
                    "RELAY_TEST_CLOCK is set: POST /_test/clock moves this relay's time"
                );
                t.clone()
            }
            None => Arc::new(SystemClock),
        };
        // Everything on disk at open is durable; later events reach the hub as they are.
        let hub = Arc::new(Hub::new(store.heads().await?));
        let media = Arc::new(media::Fetcher::new().map_err(|e| RunError::Http(e.to_string()))?);
        let leases = store::cluster::Leases::new(store.clone(), clock.clone(), &holder_id(&config));
        tracing::info!(holder = leases.holder(), "this relay's lease holder id");
        let graph = Graph::new(&config.meta_graph_url, &config.instagram_graph_url)
            .map_err(|e| RunError::Http(e.to_string()))?
            .with_clock(clock.clone());
        let keys = Arc::new(vault::Keyring::new(
            config.master_key.clone(),
            config.old_master_keys.clone(),
        ));
        let outbox = Outbox::new(outbox::Shared {
            store: store.clone(),
            hub: hub.clone(),
            graph,
            keys: keys.clone(),
            clock: clock.clone(),
            limits: SendLimits::default(),
            shutdown: shutdown.clone(),
            leases: leases.clone(),
        });
        let llm = match (&config.llm_base_url, &config.llm_model) {
            (Some(base), Some(model)) => Some(
                llm::Llm::new(base, model, config.llm_api_key.clone())
                    .map_err(|e| RunError::Http(e.to_string()))?,
            ),
            _ => None,
        };
        let drafting = Drafting::spawn(
            store.clone(),
            hub.clone(),
            clock.clone(),
            outbox.clone(),
            llm,
            &shutdown,
        );
        let profiles = profiles::Profiles::spawn(
            store.clone(),
            hub.clone(),
            clock.clone(),
            outbox.clone(),
            &shutdown,
        );
        let snoozes = snooze::Snoozes::spawn(store.clone(), hub.clone(), clock.clone(), &shutdown);
        // Other relays' commits reach this relay's desks and outboxes (PostgreSQL only).
        peers::spawn(
            peers::Peers {
                store: store.clone(),
                hub: hub.clone(),
                outbox: outbox.clone(),
                drafting: drafting.clone(),
            },
            &shutdown,
        );
        let resumed = outbox.resume().await?;
        if resumed > 0 {
            tracing::info!(tenants = resumed, "outboxes resumed");
        }
        // Before serving, so the first `/readyz` already knows whether the stored tokens
        // open; a wrong key is logged (with channel ids) but does not stop the start, so
        // the operator can still reach the relay to reconnect or fix it.
        let key_check = key_check::KeyCheck::new(store.clone(), keys, clock.clone());
        let sample = key_check.sample().await?;
        tracing::info!(
            sampled = sample.sampled,
            not_opening = sample.failed.len(),
            "stored channel tokens tried with the master keys"
        );
        let config_slots = config.max_inflight_webhooks;
        let disk = disk::DiskGuard::new(
            &config.data_dir,
            config.min_free_bytes,
            config.data_max_bytes,
        );
        // Measured once before serving, so the first webhook already knows.
        disk.measure_async().await;
        Ok(Relay {
            state: AppState::new(state::Parts {
                command_limits: Arc::new(desk::limit::CommandLimits::new(desk::limit::Budget {
                    per_sec: u32::try_from(config.desk.commands_per_sec).unwrap_or(u32::MAX),
                    burst: u32::try_from(config.desk.command_burst).unwrap_or(u32::MAX),
                })),
                config: Arc::new(config),
                store,
                metrics,
                clock,
                hub,
                outbox,
                drafting,
                test_clock,
                media,
                profiles,
                snoozes,
                shutdown,
                webhook_slots: Arc::new(tokio::sync::Semaphore::new(config_slots)),
                disk,
                leases,
                key_check,
            }),
            tls,
        })
    }

    /// `https` when the relay terminates TLS itself, else `http`.
    #[must_use]
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves on `listener` (with TLS when configured) until `shutdown` resolves, then
    /// stops within `RELAY_SHUTDOWN_SECS`: no new connections, in-flight requests answered,
    /// desks closed with "going away", background tasks ended (a send in hand finishes),
    /// then storage flushed. Whatever has not ended by the bound is dropped: nothing it did
    /// was acknowledged before it was durable, and a send cut off is settled by the in-doubt
    /// rules at the next start.
    ///
    /// # Errors
    /// The listener fails or the final flush fails.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RunError> {
        let store = self.state.store.clone();
        let stop = self.state.shutdown.clone();
        let bound = self.state.config.shutdown_bound;
        refresh::spawn(self.state.clone());
        housekeeping::spawn(self.state.clone());
        self.state.disk.spawn(self.state.config.disk_check);
        // The day is read from the relay's clock each second, so a moved test clock shows.
        chain_heads::spawn_daily_log(
            self.state.store.clone(),
            self.state.clock.clone(),
            self.state.leases.clone(),
            std::time::Duration::from_secs(1),
        );
        // Before serving: a tenant whose deletion a crash cut short must not be reachable.
        match lifecycle::resume_deletions(&self.state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tenants = n, "unfinished tenant deletions finished"),
            Err(e) => tracing::error!(error = %e, "unfinished tenant deletions not read"),
        }
        let app =
            http::router(self.state).into_make_service_with_connect_info::<http::client::Peer>();
        let graceful = {
            let stop = stop.clone();
            async move { stop.stopping().await }
        };
        let served = async {
            match self.tls {
                Some(tls) => {
                    let watcher = Arc::clone(&tls).watch();
                    let served = axum::serve(tls.listener(listener), app)
                        .with_graceful_shutdown(graceful)
                        .await;
                    watcher.abort();
                    served
                }
                None => {
                    axum::serve(listener::PlainListener(listener), app)
                        .with_graceful_shutdown(graceful)
                        .await
                }
            }
        };
        tokio::pin!(served);
        let early = tokio::select! {
            served = &mut served => Some(served),
            () = shutdown => None,
        };
        stop.begin();
        let served = match early {
            Some(served) => served,
            None => {
                // The flush and the exit need a moment of the bound too.
                let wait = bound.saturating_sub(FLUSH_ALLOWANCE).max(bound / 2);
                tracing::info!(
                    bound_secs = bound.as_secs(),
                    "stopping: finishing requests, closing desks, ending tasks"
                );
                let finished = async {
                    let served = served.await;
                    stop.finished().await;
                    served
                };
                match tokio::time::timeout(wait, finished).await {
                    Ok(served) => served,
                    Err(_) => {
                        tracing::warn!(
                            waited_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                            "shutdown bound reached; dropping what has not finished"
                        );
                        Ok(())
                    }
                }
            }
        };
        tracing::info!("stopped accepting; flushing storage");
        store.close().await?;
        tracing::info!("storage flushed; bye");
        Ok(served?)
    }
}

/// The relay's lease holder id: the same for a relay restarted on its host and data
/// directory, so after a crash it takes its own leases back at once (its sends in doubt are
/// settled as on sled) instead of waiting for them to lapse; different for every other
/// relay sharing the database, since each has its own host or directory.
fn holder_id(config: &Config) -> String {
    use sha2::Digest as _;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let dir = std::fs::canonicalize(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
    let digest = sha2::Sha256::digest(format!("{}\n{}", host.trim(), dir.display()));
    format!("relay-{}", hex::encode(&digest[..8]))
}

/// Of `RELAY_SHUTDOWN_SECS`, what is kept for the final flush and the process's exit.
const FLUSH_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(1);
