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
//! With `--checked SECRET` after either of those, each body is first checked as the relay
//! checks it — the relay's own signature check (`relay::verify`) against SECRET and the
//! relay's own parser (`relay::ingest::parse`) — and refused with 401/400 as the relay would,
//! then stored as above. That is the least any relay built on this parser must do per
//! webhook besides its storage, so relay/checked says what the relay's storage and
//! projection cost, and checked/floor what the check itself costs.
//!
//! Like the relay it binds `127.0.0.1:0` and prints one stdout line,
//! `bare listening on http://127.0.0.1:PORT`, so the bench can find it. SIGTERM ends it.

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::routing::post;
use bytes::Bytes;
use relay::secret::Secret;
use relay::store::commit::Committer;
use relay::store::wal::{self, Tree, Wal, Writes};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Segment size of the floor's log; sealed segments are deleted at once (nothing to apply).
const SEGMENT_BYTES: u64 = 32 << 20;

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let checked = match args.iter().position(|a| a == "--checked") {
        Some(at) if at + 1 < args.len() => {
            let secret = args.remove(at + 1);
            args.remove(at);
            Some(Secret::new(secret))
        }
        Some(_) => bail!("--checked needs the app secret"),
        None => None,
    };
    let durable = match args.as_slice() {
        [] => None,
        [flag, dir] if flag == "--durable" => Some(Durable::Log(PathBuf::from(dir))),
        [flag, url] if flag == "--postgres" => Some(Durable::Postgres(url.clone())),
        other => bail!(
            "usage: bare-server [--durable DIR | --postgres URL] [--checked SECRET] (got {other:?})"
        ),
    };
    if checked.is_some() && durable.is_none() {
        bail!("--checked goes with --durable or --postgres");
    }
    // Same runtime flavour as the relay; under `taskset -c 0` tokio sees one core and starts
    // one worker, which is exactly the comparison we want.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start runtime")?
        .block_on(serve(durable, checked.map(Arc::new)))
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
    checked: Option<Arc<Secret>>,
}

/// The PostgreSQL floor's pool, and the secret when bodies are checked first.
#[derive(Clone)]
struct PgFloor {
    pool: deadpool_postgres::Pool,
    checked: Option<Arc<Secret>>,
}

/// With `--checked`: the relay's signature check and parser, refused as the relay refuses.
fn check(
    secret: Option<&Secret>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Bytes, (StatusCode, String)> {
    let Some(secret) = secret else {
        return Ok(body);
    };
    let signature = headers.get("x-hub-signature-256").map(|v| v.as_bytes());
    let verified = relay::verify::verify(body, signature, &[secret])
        .map_err(|e| (StatusCode::UNAUTHORIZED, e.to_string()))?;
    let envelope = relay::ingest::parse::parse(verified.body())
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    // The items are what the relay would route; the floor stores the body either way.
    drop(envelope);
    Ok(verified.shared_body())
}

fn open_floor(dir: &std::path::Path, checked: Option<Arc<Secret>>) -> anyhow::Result<Floor> {
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
    Ok(Floor {
        wal,
        committer,
        checked,
    })
}

async fn serve(durable: Option<Durable>, checked: Option<Arc<Secret>>) -> anyhow::Result<()> {
    let app = match durable {
        None => Router::new().route("/webhooks/instagram", post(receive)),
        Some(Durable::Log(dir)) => Router::new()
            .route("/webhooks/instagram", post(receive_durably))
            .with_state(Arc::new(open_floor(&dir, checked)?)),
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
                .with_state(PgFloor { pool, checked })
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
    headers: HeaderMap,
    body: Bytes,
) -> Result<&'static str, (StatusCode, String)> {
    let body = check(floor.checked.as_deref(), &headers, body)?;
    let mut writes = Writes::default();
    writes.insert(Tree::Data, b"body".to_vec(), body.to_vec());
    let failed = |e: relay::store::StoreError| (StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    drop(floor.wal.append(&writes).map_err(failed)?);
    floor.committer.wait().await.map_err(failed)?;
    Ok("EVENT_RECEIVED")
}

/// INSERTs the body and answers once it is committed (one statement: its own transaction).
async fn receive_into_postgres(
    State(floor): State<PgFloor>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<&'static str, (StatusCode, String)> {
    let body = check(floor.checked.as_deref(), &headers, body)?;
    let pool = floor.pool;
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
