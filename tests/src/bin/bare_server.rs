//! `bare-server`: the baseline for `ingest-bench`.
//!
//! It serves the same route as the relay (`POST /webhooks/instagram`) with the same HTTP
//! stack (axum 0.8 on hyper 1, tokio multi-thread runtime) but does no work beyond reading
//! the body, so the ratio relay/bare isolates what the relay itself costs: signature check,
//! parsing, routing, storage and the group-commit fsync.
//!
//! Like the relay it binds `127.0.0.1:0` and prints one stdout line,
//! `bare listening on http://127.0.0.1:PORT`, so the bench can find it. SIGTERM ends it.

use anyhow::Context;
use axum::Router;
use axum::routing::post;
use bytes::Bytes;
use std::io::Write;

fn main() -> anyhow::Result<()> {
    // Same runtime flavour as the relay; under `taskset -c 0` tokio sees one core and starts
    // one worker, which is exactly the comparison we want.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start runtime")?
        .block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    let app = Router::new().route("/webhooks/instagram", post(receive));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind 127.0.0.1:0")?;
    let addr = listener.local_addr().context("no local address")?;
    println!("bare listening on http://{addr}");
    // stdout is a pipe when the bench runs us, so it is block-buffered: flush or the bench
    // waits forever for the line.
    std::io::stdout().flush().context("cannot flush stdout")?;
    // No graceful shutdown: the bench ends the baseline with SIGTERM, whose default action
    // is all a server without state needs.
    axum::serve(listener, app).await.context("serve")?;
    Ok(())
}

/// Takes the body as `Bytes` so the whole request is read, as the relay must do too.
async fn receive(body: Bytes) -> &'static str {
    drop(body);
    "EVENT_RECEIVED"
}
