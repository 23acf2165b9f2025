//! The HTTP surface: one router, the shared state, and the layers around it.
//!
//! Layers, outermost first: plain-text errors rewritten into the JSON error shape
//! (`error::json_errors`), request body limit (413 before anything reads an oversized
//! body), then the routes. No request-logging layer: URIs of the webhook handshake carry
//! the verify token, so handlers log what is safe themselves.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod client;
pub mod desk;
pub mod disconnect;
pub mod error;
pub mod health;
pub mod keys;
pub mod knowledge;
pub mod listings;
pub mod manage;
pub mod media;
pub mod meta_callbacks;
pub mod meta_settings;
pub mod moving;
pub mod report;
pub mod test_clock;
pub mod webhook;

use crate::clock::Clock;
use crate::config::Config;
use crate::desk::hub::Hub;
use crate::drafting::Drafting;
use crate::metrics::Metrics;
use crate::outbox::Outbox;
use crate::store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{any, delete, get, patch, post};
use std::sync::Arc;

/// Everything a handler may reach; cheap to clone.
#[derive(Clone)]
pub struct AppState {
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
    /// The one shutdown every background task and desk session watches.
    pub shutdown: crate::shutdown::Shutdown,
    /// Webhook POSTs handled at once (`RELAY_MAX_INFLIGHT_WEBHOOKS`); see `webhook::admit`.
    pub webhook_slots: Arc<tokio::sync::Semaphore>,
    /// Whether the data directory has room (`crate::disk`).
    pub disk: crate::disk::DiskGuard,
    /// Scheduled work runs on one relay of those sharing a database (`store::cluster`).
    pub leases: crate::store::cluster::Leases,
}

/// The relay's routes.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    // Only the POSTs take a slot: the handshake is cheap and Meta needs it answered.
    let admit = axum::middleware::from_fn_with_state(state.clone(), webhook::admit);
    Router::new()
        .route(
            "/webhooks/instagram",
            get(webhook::handshake).post(webhook::instagram.layer(admit.clone())),
        )
        .route(
            "/webhooks/whatsapp",
            get(webhook::handshake).post(webhook::whatsapp.layer(admit)),
        )
        .route("/meta/deauthorize", post(meta_callbacks::deauthorize))
        .route("/meta/data-deletion", post(meta_callbacks::data_deletion))
        .route(
            "/meta/data-deletion/status/{code}",
            get(meta_callbacks::deletion_status),
        )
        .route("/v1/keys/rotate", post(keys::rotate))
        .route(
            "/v1/tenants/{tenant}/channels/{channel}",
            delete(disconnect::disconnect_channel),
        )
        .route("/v1/me", get(report::me))
        .route(
            "/v1/partners",
            post(admin::create_partner).get(listings::partners),
        )
        .route(
            "/v1/partners/{partner}",
            patch(manage::rename_partner).delete(manage::delete_partner),
        )
        .route(
            "/v1/tenants/{tenant}",
            patch(manage::rename_tenant).delete(manage::delete_tenant),
        )
        .route("/v1/tenant-deletions", get(manage::deletions))
        .route("/v1/partners/{partner}/report", get(report::partner_report))
        .route(
            "/v1/partners/{partner}/tenants",
            post(admin::create_tenant).get(listings::tenants),
        )
        .route("/v1/partners/{partner}/viewers", post(admin::create_viewer))
        .route(
            "/v1/tenants/{tenant}/agents",
            post(admin::create_agent).get(listings::agents),
        )
        .route(
            "/v1/tenants/{tenant}/agents/{agent}",
            delete(admin::revoke_agent),
        )
        // `any`: HTTP/1.1 upgrades with GET, HTTP/2 with an extended CONNECT (RFC 8441); the
        // extractor refuses every other request as not a WebSocket.
        .route("/v1/desk", any(desk::upgrade))
        .route(
            "/v1/tenants/{tenant}/connect-links",
            post(crate::connect::links::create_link).get(crate::connect::links::list_links),
        )
        .route(
            "/v1/connect-claims/{claim}/confirm",
            post(crate::connect::claim::confirm),
        )
        .route(
            "/oauth/instagram/start",
            get(crate::connect::instagram::start),
        )
        .route(
            "/oauth/instagram/callback",
            get(crate::connect::instagram::callback),
        )
        .route(
            "/oauth/facebook/start",
            get(crate::connect::facebook::start),
        )
        .route(
            "/oauth/facebook/callback",
            get(crate::connect::facebook::callback),
        )
        .route(
            "/oauth/facebook/choose",
            post(crate::connect::facebook::choose),
        )
        .route(
            "/whatsapp/connect",
            get(crate::connect::whatsapp::connect_page),
        )
        .route(
            "/whatsapp/embedded-signup",
            post(crate::connect::whatsapp::finish),
        )
        .route(
            "/v1/tenants/{tenant}/channels",
            post(admin::create_channel).get(admin::list_channels),
        )
        .route("/v1/tenants/{tenant}/threads", get(admin::list_threads))
        .route(
            "/v1/tenants/{tenant}/channels/{channel}/templates",
            get(meta_settings::list_templates),
        )
        .route(
            "/v1/tenants/{tenant}/channels/{channel}/ice-breakers",
            get(meta_settings::get_ice_breakers).put(meta_settings::put_ice_breakers),
        )
        .route(
            "/v1/tenants/{tenant}/audit/verify",
            get(admin::verify_audit),
        )
        .route("/v1/tenants/{tenant}/audit/export", get(audit::export))
        .route("/v1/tenants/{tenant}/export", get(moving::export))
        .route("/v1/tenants/import", post(moving::import))
        .route(
            "/v1/tenants/{tenant}/import/entries",
            post(moving::import_entries),
        )
        .route(
            "/v1/tenants/{tenant}/knowledge",
            get(knowledge::get_knowledge).put(knowledge::put_knowledge),
        )
        .route(
            "/v1/tenants/{tenant}/settings",
            get(admin::get_settings).put(admin::put_settings),
        )
        .route(
            "/v1/tenants/{tenant}/credits",
            get(admin::get_credits).post(admin::add_credits),
        )
        .route(
            "/v1/tenants/{tenant}/threads/{thread}/messages",
            get(admin::list_messages),
        )
        .route("/v1/tenants/{tenant}/events", get(admin::list_events))
        .route(
            "/v1/tenants/{tenant}/media/{message}/{n}",
            get(media::attachment),
        )
        .route("/_test/clock", post(test_clock::advance))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(error::json_errors))
        .with_state(state)
}
