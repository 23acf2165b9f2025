//! Liveness and readiness (open: they say nothing about tenants), and the Prometheus scrape
//! (operator or metrics token).

use super::AppState;
use super::error::ApiError;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use protocol::{ChannelId, TenantId};
use serde_json::json;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when each check passes, each reported by name: storage takes a write and makes it
/// durable (a single-use probe record written, synced, taken back), the master key seals
/// and opens a test value and the keyring opens the stored channel tokens (a sample,
/// `crate::key_check`, re-taken at most once a minute; `keys_reason` counts the ones that
/// do not open, naming none), no outbox worker is dead (one that panicked counts until its
/// restart has come round its loop; `restarts` says how often that happened), and the
/// data directory has room
/// (`crate::disk`, measured afresh; its reason says which limit was passed, in sizes only).
/// 503 when any fails; a storage failure's detail goes to the log only.
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    let disk = app.disk.measure_async().await;
    // A full disk is not probed with a write: the probe itself could be what fails.
    let storage = if disk.full.is_some() {
        "not_checked"
    } else {
        match storage_writable(&app).await {
            Ok(()) => "ok",
            Err(e) => {
                tracing::error!(error = %e, "readiness: storage is not writable");
                "failing"
            }
        }
    };
    let (keys, keys_reason, keys_sampled) = keys_check(&app, storage == "ok").await;
    let workers = app.outbox.health();
    let outbox = if workers.dead == 0 { "ok" } else { "failing" };
    let disk_state = if disk.full.is_none() { "ok" } else { "full" };
    let ready = [storage, keys, outbox, disk_state]
        .iter()
        .all(|c| *c == "ok");
    if let Some(why) = &disk.full {
        tracing::warn!(reason = %why, "readiness: the data directory is full");
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({
            "ready": ready, "storage": storage, "keys": keys, "keys_reason": keys_reason,
            "keys_sampled": keys_sampled,
            "outbox": {"state": outbox, "running": workers.running, "dead": workers.dead,
                       "restarts": workers.restarts},
            "disk": {"state": disk_state, "reason": disk.full, "free_bytes": disk.free_bytes,
                     "data_bytes": disk.used_bytes},
        })),
    )
}

async fn storage_writable(app: &AppState) -> Result<(), crate::store::StoreError> {
    let probe = TenantId::new("readyz-probe");
    let key = format!("readyz-probe-{}", crate::ids::random("rp"));
    let record = crate::store::OnceRecord {
        tenant: probe,
        purpose: "readyz".into(),
        kind: "probe".into(),
        expires_at: app.clock.now(),
        sealed: None,
    };
    app.store.put_once(&key, record).await?;
    app.store.sync().await?;
    app.store.take_once(&key).await?;
    Ok(())
}

/// The keys check: a fresh value round-trips, and the stored tokens sampled open. Storage
/// that just failed is not listed again; the last sample stands.
async fn keys_check(app: &AppState, storage_ok: bool) -> (&'static str, Option<String>, usize) {
    let sample = if storage_ok {
        match app.key_check.current().await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "readiness: cannot list the stored channel tokens");
                app.key_check.last().await
            }
        }
    } else {
        app.key_check.last().await
    };
    let sampled = sample.as_ref().map_or(0, |s| s.sampled);
    if !keys_open(app) {
        let why = "the master key does not open a value it has just sealed";
        return ("failing", Some(why.to_owned()), sampled);
    }
    match sample.and_then(|s| s.reason()) {
        Some(why) => ("failing", Some(why), sampled),
        None => ("ok", None, sampled),
    }
}

fn keys_open(app: &AppState) -> bool {
    let (tenant, channel) = (TenantId::new("readyz-probe"), ChannelId::new("readyz"));
    let sealed = app.outbox.keys().seal(&tenant, &channel, "readyz");
    app.outbox
        .keys()
        .open(&tenant, &channel, &sealed)
        .is_ok_and(|v| v == "readyz")
}

/// `GET /metrics`: the operator's token or `RELAY_METRICS_TOKEN`, as a bearer header. The
/// figures name no tenant except the evidence-chain heads (`audit::heads`); volumes and
/// conflicts are still the operator's business.
///
/// # Errors
/// 401 in the JSON error shape without a token that may read them.
pub async fn metrics(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = super::auth::bearer(&headers).is_some_and(|t| {
        app.config.operator_token.matches(t)
            || app
                .config
                .metrics_token
                .as_ref()
                .is_some_and(|m| m.matches(t))
    });
    if !allowed {
        return Err(ApiError::unauthorized(
            "/metrics needs the operator token or RELAY_METRICS_TOKEN as a bearer token",
        ));
    }
    let mut text = app.metrics.render();
    // Read at scrape time rather than registered, so a deleted tenant leaves no series.
    text.push_str(&crate::chain_heads::render(&app.store.chain_heads().await?));
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
