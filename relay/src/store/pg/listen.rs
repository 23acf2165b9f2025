//! The listening connection: one per relay, outside the pool (a pooled connection is
//! reset and shared; a `LISTEN` must stay on one session). It hears `chatdesk_events` (a
//! tenant's new head, sent by the step that appended, on commit) and `chatdesk_signals`
//! ([`Signal`]s), and turns them into [`Notice`]s.
//!
//! Notifications sent while no connection listens are lost, so every (re)connection is
//! followed by [`Notice::Resync`]: the relay then compares heads with what it delivered.
//! It does not read rows itself; the relay's feeder does that through the store.

use super::super::cluster::{Notice, Signal, parse_appended};
use futures_util::StreamExt as _;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

/// The channel tenant steps notify with `<head> <tenant>`.
pub const EVENTS: &str = "chatdesk_events";
/// The channel [`Signal`]s travel on.
pub const SIGNALS: &str = "chatdesk_signals";

/// Bounds of the wait before connecting again (doubling from the first).
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Listens until `out` closes, connecting again whenever the connection fails. Commits of
/// the store whose origin is `own` are not passed on: that relay published them itself.
pub async fn run(config: tokio_postgres::Config, own: String, out: mpsc::Sender<Notice>) {
    let mut pause = RETRY_FIRST;
    while !out.is_closed() {
        match session(&config, &own, &out).await {
            // Heard something before it ended: a fresh failure, retry soon.
            Ok(true) => pause = RETRY_FIRST,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "PostgreSQL listener connection failed"),
        }
        if out.is_closed() {
            return;
        }
        // Measures the database, not relay rules: tokio's timer.
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RETRY_MAX);
    }
}

/// One connection's life; answers whether it got as far as listening.
async fn session(
    config: &tokio_postgres::Config,
    own: &str,
    out: &mpsc::Sender<Notice>,
) -> Result<bool, String> {
    // The driver's messages never carry the password.
    let (client, mut connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let sql = format!("LISTEN {EVENTS}; LISTEN {SIGNALS}");
    let listen = client.batch_execute(&sql);
    tokio::pin!(listen);
    // The connection is driven by polling `messages`, also while LISTEN runs.
    loop {
        tokio::select! {
            done = &mut listen => {
                done.map_err(|e| e.to_string())?;
                break;
            }
            message = messages.next() => match message {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("connection closed".into()),
            },
        }
    }
    tracing::info!("listening for other relays' events");
    if out.send(Notice::Resync).await.is_err() {
        return Ok(true);
    }
    while let Some(message) = messages.next().await {
        let notice = match message.map_err(|e| e.to_string())? {
            AsyncMessage::Notification(n) if n.channel() == EVENTS => {
                parse_appended(n.payload(), own)
            }
            AsyncMessage::Notification(n) if n.channel() == SIGNALS => {
                Signal::parse(n.payload()).map(Notice::Signal)
            }
            _ => None,
        };
        if let Some(notice) = notice
            && out.send(notice).await.is_err()
        {
            return Ok(true);
        }
    }
    // `client` lived until here (borrowed by `listen`): dropping it would end the session.
    Ok(true)
}
