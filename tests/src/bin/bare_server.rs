//! `bare-server`: the baselines for `ingest-bench`.
//!
//! It serves the same route as the relay (`POST /webhooks/instagram`) with the same HTTP
//! stack (axum 0.8 on hyper 1, tokio multi-thread runtime). Without arguments it does no
//! work beyond reading the body, so the ratio relay/bare isolates what the relay itself
//! costs: signature check, parsing, routing, storage and the group-commit fsync.
//!
//! With `--durable DIR` it is the durability floor: each body is appended to the relay's own
//! write-ahead log (`relay::store::wal`) and answered only after the relay's group committer
//! (`relay::store::commit`) has synced it, and nothing else. No server that acknowledges
//! after an `fdatasync` on this disk can be faster with the same connections, so the ratio
//! floor/bare says how much of the gap is the disk and how much is the relay's own work.
//!
//! With `--postgres URL` it is the floor on PostgreSQL: each body is INSERTed into a table
//! of its own (`floor_bodies`, created if missing) and COMMITted, through the relay's own
//! pool (`relay::store::pg::pool`: same driver, size and recycling), and answered after
//! the commit (`synchronous_commit` on), nothing else.
//!
//! Like the relay it binds `127.0.0.1:0` and prints one stdout line,
//! `bare listening on http://127.0.0.1:PORT`, so the bench can find it. SIGTERM ends it.

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use bytes::Bytes;
use relay::store::commit::Committer;
use relay::store::wal::{self, Tree, Wal, Writes};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Segment size of the floor's log; sealed segments are deleted at once (nothing to apply).
const SEGMENT_BYTES: u64 = 32 << 20;

fn main() -> anyhow::Result<()> {
    let durable = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => None,
        [flag, dir] if flag == "--durable" => Some(Durable::Log(PathBuf::from(dir))),
        [flag, url] if flag == "--postgres" => Some(Durable::Postgres(url.clone())),
        other => bail!("usage: bare-server [--durable DIR | --postgres URL] (got {other:?})"),
    };
    // Same runtime flavour as the relay; under `taskset -c 0` tokio sees one core and starts
    // one worker, which is exactly the comparison we want.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start runtime")?
        .block_on(serve(durable))
}

/// Which floor, if any.
enum Durable {
    Log(PathBuf),
    Postgres(String),
}

/// The floor's log and the committer that owns its one sync in flight.
struct Floor {
    wal: Arc<Wal>,
    committer: Committer,
}

fn open_floor(dir: &std::path::Path) -> anyhow::Result<Floor> {
    let (wal, _) = wal::open(dir, SEGMENT_BYTES, |_| Ok(()), || Ok(()))
        .context("cannot open the floor's log")?;
    let wal = Arc::new(wal);
    let log = wal.clone();
    let committer = Committer::spawn(
        move || {
            log.sync().map_err(|e| e.to_string())?;
            if log.wants_rotation() {
                let sealed = log.rotate().map_err(|e| e.to_string())?;
                log.remove_through(sealed).map_err(|e| e.to_string())?;
            }
            Ok(())
        },
        Box::new(|_, _| {}),
    )
    .context("cannot start the committer")?;
    Ok(Floor { wal, committer })
}

async fn serve(durable: Option<Durable>) -> anyhow::Result<()> {
    let app = match durable {
        None => Router::new().route("/webhooks/instagram", post(receive)),
        Some(Durable::Log(dir)) => Router::new()
            .route("/webhooks/instagram", post(receive_durably))
            .with_state(Arc::new(open_floor(&dir)?)),
        Some(Durable::Postgres(url)) => {
            let (pool, _) = relay::store::pg::pool(&url).context("the floor's pool")?;
            pool.get()
                .await
                .context("cannot connect to PostgreSQL")?
                .batch_execute(
                    "CREATE TABLE IF NOT EXISTS floor_bodies (id bigserial PRIMARY KEY, body bytea NOT NULL)",
                )
                .await
                .context("cannot create floor_bodies")?;
            Router::new()
                .route("/webhooks/instagram", post(receive_into_postgres))
                .with_state(pool)
        }
    };
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

/// Appends the body to the log and answers once the group commit has synced it.
async fn receive_durably(
    State(floor): State<Arc<Floor>>,
    body: Bytes,
) -> Result<&'static str, (StatusCode, String)> {
    let mut writes = Writes::default();
    writes.insert(Tree::Data, b"body".to_vec(), body.to_vec());
    let failed = |e: relay::store::StoreError| (StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    drop(floor.wal.append(&writes).map_err(failed)?);
    floor.committer.wait().await.map_err(failed)?;
    Ok("EVENT_RECEIVED")
}

/// INSERTs the body and answers once it is committed (one statement: its own transaction).
async fn receive_into_postgres(
    State(pool): State<deadpool_postgres::Pool>,
    body: Bytes,
) -> Result<&'static str, (StatusCode, String)> {
    let failed = |e: String| (StatusCode::SERVICE_UNAVAILABLE, e);
    let client = pool.get().await.map_err(|e| failed(e.to_string()))?;
    let insert = client
        .prepare_cached("INSERT INTO floor_bodies (body) VALUES ($1)")
        .await
        .map_err(|e| failed(e.to_string()))?;
    client
        .execute(&insert, &[&body.as_ref()])
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok("EVENT_RECEIVED")
}
