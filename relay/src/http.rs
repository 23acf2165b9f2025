//! The HTTP surface: one router, the shared state, and the layers around it.
//!
//! Layers, outermost first: plain-text errors rewritten into the JSON error shape
//! (`error::json_errors`), request body limit (413 before anything reads an oversized
//! body), then the routes. No request-logging layer: URIs of the webhook handshake carry
//! the verify token, so handlers log what is safe themselves.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod canned;
pub mod client;
pub mod desk;
pub mod disconnect;
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
pub mod upload;
pub mod webhook;

// Handlers and flows name it through here as they always have; it lives below the flows.
/// The routes' error shape lives below them (`crate::api`), so the flows can answer in it.
pub use crate::api as error;
pub use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{any, delete, get, patch, post, put};

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
        .route("/v1/tenants/{tenant}/report", get(report::tenant_report))
        .route(
            "/v1/tenants/{tenant}/channels/{channel}/templates",
            get(meta_settings::list_templates),
        )
        .route(
            "/v1/tenants/{tenant}/channels/{channel}/media",
            // The one route that takes files: its own cap, the largest any channel takes.
            post(upload::upload).layer(DefaultBodyLimit::max(
                usize::try_from(protocol::upload::MAX_UPLOAD_BYTES).unwrap_or(usize::MAX),
            )),
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
        .route("/v1/tenants/{tenant}/canned", get(canned::list))
        .route(
            "/v1/tenants/{tenant}/canned/{shortcut}",
            put(canned::put).delete(canned::remove),
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
