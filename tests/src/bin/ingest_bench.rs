//! `ingest-bench`: how fast does the relay take Instagram webhooks, compared with a bare
//! axum server on the same route?
//!
//! Build and run from the workspace root:
//!
//! ```text
//! cargo build --release -p relay -p chatdesk-tests --bins && target/release/ingest-bench
//! ```
//!
//! Four servers are measured: `bare` (answers 200, nothing else), `floor` (`bare-server
//! --durable`: appends the body to the relay's write-ahead log and answers after the relay's
//! group commit, nothing else; the ceiling of any durable server on this disk), `checked`
//! (`bare-server --durable … --checked SECRET`: the floor after the relay's own signature
//! check and parser, the most a relay that verifies and parses this way can reach) and the
//! relay. With `--relay-env RELAY_STORAGE=postgres --relay-env DATABASE_URL=…` the relay
//! keeps its data in PostgreSQL and the floor is `bare-server --postgres` instead: an INSERT
//! of the body and its COMMIT through the relay's own pool, nothing else (and `checked` the
//! same after the check). All run under `taskset` on one core (the "server core"); the load
//! generator pins
//! itself to another core, so neither steals CPU from the other. Each server gets, in turn and
//! with the same generator:
//!
//! 1. a closed-loop warm-up (results discarded),
//! 2. a closed-loop peak run: N keep-alive HTTP/1.1 connections, each sending its next
//!    request as soon as the previous answer arrived,
//! 3. an open-loop run at half that peak: requests follow a fixed schedule and latency is
//!    measured from the *scheduled* send time, so a stall in the server shows up as latency
//!    of every request that should have been sent during it (no coordinated omission).
//!
//! Every webhook carries a unique `mid`, so the relay really stores each one (a repeated mid
//! would be a cheap duplicate) and answers only after the group-commit fsync. The targets
//! (relay peak >= 0.8 x floor peak, relay p99 at half-peak < 5 ms) are reported as PASS/MISS,
//! but the exit code is 0 either way: this is a measurement, not a test.

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use clap::Parser;
use harness::bench::figures::{CpuMark, micros, ms, new_histogram};
use harness::bench::machine::{Cores, taskset_available};
use harness::bench::proc::{Proc, Spawn, find_release_bin};
use harness::bench::procfs::clock_ticks;
use hdrhistogram::Histogram;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Instagram account the channel is registered for; every webhook is addressed to it.
const ACCOUNT_ID: &str = "17841400000000001";
/// Distinct senders (IGSIDs), so the relay sees ~100 customer threads, not one.
const CUSTOMERS: u64 = 100;
const OPERATOR_TOKEN: &str = "bench-operator-token-0123456789";
/// base64 of `[7u8; 32]`.
const MASTER_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
const APP_SECRET: &str = "bench-app-secret";
/// Issue 22's targets: the relay's peak against the durability floor of the same run, and
/// its p99 at half its peak.
const TARGET_OF_FLOOR: f64 = 0.8;
const TARGET_HALF_P99_MS: f64 = 5.0;

#[derive(Parser, Debug)]
#[command(
    name = "ingest-bench",
    about = "Relay webhook ingest vs a bare axum server"
)]
struct Args {
    /// Length of each measured run (closed-loop peak and open-loop half-peak), in seconds.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Concurrent keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Closed-loop warm-up before each peak run, in seconds.
    #[arg(long, default_value_t = 2)]
    warmup_secs: u64,
    /// The relay binary; default: target/release/relay next to this program.
    #[arg(long)]
    relay_bin: Option<PathBuf>,
    /// The baseline binary; default: target/release/bare-server next to this program.
    #[arg(long)]
    bare_bin: Option<PathBuf>,
    /// Extra `KEY=VALUE` environment for the relay (repeatable), e.g. to try another
    /// `RELAY_WAL_SEGMENT_BYTES`.
    #[arg(long = "relay-env", value_name = "KEY=VALUE")]
    relay_env: Vec<String>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.connections == 0 || args.duration_secs == 0 {
        bail!("--connections and --duration-secs must be at least 1");
    }
    let cores = Cores::choose();
    // The runtime is current-thread and pinned to the generator's core (shared with its
    // blocking pool), so the servers' core stays theirs.
    let runtime = cores.runtime()?;
    runtime.block_on(run(args, cores))
}

async fn run(args: Args, cores: Cores) -> Result<()> {
    let relay_bin = match &args.relay_bin {
        Some(p) => p.clone(),
        None => find_release_bin(&["relay"])?,
    };
    // Cargo names an auto-discovered binary after its file (`bare_server`) unless
    // Cargo.toml declares `bare-server`; accept either.
    let bare_bin = match &args.bare_bin {
        Some(p) => p.clone(),
        None => find_release_bin(&["bare-server", "bare_server"])?,
    };
    let taskset = taskset_available().await;
    if !taskset {
        eprintln!("WARNING: `taskset` not found; the servers are not pinned to a core");
    }
    let server_core = if taskset { cores.server } else { None };
    let clk_tck = clock_ticks().await;
    let tmp = tempfile::Builder::new()
        .prefix("ingest-bench-")
        .tempdir()
        .context("cannot create a temporary directory")?;

    let plan = Plan {
        duration: Duration::from_secs(args.duration_secs),
        warmup: Duration::from_secs(args.warmup_secs),
        connections: args.connections,
        clk_tck,
    };
    println!(
        "ingest-bench: {} connections, {} s warm-up, {} s per run; servers on core {}, \
         generator on core {}",
        plan.connections,
        args.warmup_secs,
        args.duration_secs,
        Cores::name(server_core),
        Cores::name(cores.bench.map(|c| c.id)),
    );
    println!("relay binary: {}", relay_bin.display());
    println!("bare binary:  {}", bare_bin.display());

    // The bare baseline and the durability floor: the same binary, measured the same way.
    let baseline = |label: &'static str, args: Vec<String>| {
        let (plan, bare_bin, stderr) =
            (&plan, &bare_bin, tmp.path().join(format!("{label}.stderr")));
        async move {
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut server = Proc::spawn(Spawn {
                label,
                bin: bare_bin,
                args: &argv,
                envs: &[("RUST_LOG", "warn")],
                ready_prefix: "bare listening on ",
                core: server_core,
                stderr_path: &stderr,
            })
            .await?;
            let result = measure(plan, &server).await;
            server.stop().await;
            server.report_stderr();
            result
        }
    };
    let bare = baseline("bare", Vec::new()).await?;
    // On PostgreSQL the floor is an INSERT and COMMIT through the relay's pool; on sled the
    // relay's log and group commit.
    let database_url = args
        .relay_env
        .iter()
        .find_map(|pair| pair.strip_prefix("DATABASE_URL="));
    let floor_dir = tmp.path().join("floor-log");
    let floor_args = match database_url {
        Some(url) => vec!["--postgres".into(), url.to_owned()],
        None => vec!["--durable".into(), floor_dir.display().to_string()],
    };
    let floor = baseline("floor", floor_args.clone()).await?;
    // The floor plus the relay's own signature check and parser: the least any relay built
    // on them does per webhook besides storing it.
    let mut checked_args = floor_args;
    checked_args.extend(["--checked".to_owned(), APP_SECRET.to_owned()]);
    let checked = baseline("checked", checked_args).await?;

    let data_dir = tmp.path().join("relay-data");
    std::fs::create_dir_all(&data_dir).context("cannot create the relay data directory")?;
    let mut relay_env = vec![
        ("RELAY_LISTEN", "127.0.0.1:0".to_owned()),
        ("RELAY_DATA_DIR", data_dir.display().to_string()),
        ("RELAY_OPERATOR_TOKEN", OPERATOR_TOKEN.to_owned()),
        ("RELAY_MASTER_KEY", MASTER_KEY.to_owned()),
        ("META_APP_ID", "1234567890".to_owned()),
        ("META_APP_SECRET", APP_SECRET.to_owned()),
        ("META_VERIFY_TOKEN", "bench-verify-token".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    for pair in &args.relay_env {
        let (k, v) = pair
            .split_once('=')
            .with_context(|| format!("--relay-env {pair:?} is not KEY=VALUE"))?;
        relay_env.push((k, v.to_owned()));
    }
    let relay_env: Vec<(&str, &str)> = relay_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (relay, metrics) = {
        let mut server = Proc::spawn(Spawn {
            label: "relay",
            bin: &relay_bin,
            args: &["serve"],
            envs: &relay_env,
            ready_prefix: "relay listening on ",
            core: server_core,
            stderr_path: &tmp.path().join("relay.stderr"),
        })
        .await?;
        let result = async {
            provision_relay(&server.url).await?;
            let figures = measure(&plan, &server).await?;
            let metrics = scrape_metrics(&server.url).await;
            Ok::<_, anyhow::Error>((figures, metrics))
        }
        .await;
        server.stop().await;
        server.report_stderr();
        result?
    };

    print_summary(&bare, &floor, &checked, &relay, &metrics);
    // Explicit so a failure to delete (e.g. a file still held open) is reported.
    if let Err(e) = tmp.close() {
        eprintln!("WARNING: could not remove the temporary directory: {e}");
    }
    Ok(())
}

async fn provision_relay(base: &str) -> Result<()> {
    let client = reqwest::Client::new();
    let partner = admin_post(
        &client,
        &format!("{base}/v1/partners"),
        r#"{"name":"bench"}"#,
    )
    .await
    .context("creating the partner")?;
    let tenant = admin_post(
        &client,
        &format!("{base}/v1/partners/{partner}/tenants"),
        r#"{"name":"t"}"#,
    )
    .await
    .context("creating the tenant")?;
    let channel = format!(r#"{{"kind":"instagram","account_id":"{ACCOUNT_ID}"}}"#);
    admin_post(
        &client,
        &format!("{base}/v1/tenants/{tenant}/channels"),
        &channel,
    )
    .await
    .context("creating the channel")?;
    println!("provisioned partner {partner}, tenant {tenant}, instagram {ACCOUNT_ID}");
    Ok(())
}

/// POSTs JSON as the operator, expects 201, returns the answer's `id` (or "" if none).
async fn admin_post(client: &reqwest::Client, url: &str, body: &str) -> Result<String> {
    let resp = client
        .post(url)
        .bearer_auth(OPERATOR_TOKEN)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status != reqwest::StatusCode::CREATED {
        bail!("POST {url} answered {status}: {text}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("POST {url} answered {text:?}"))?;
    Ok(json
        .get("id")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned())
}

/// The relay's own view of the group commit: how long flushes take and how many waiters
/// each one answers. `None` (with a warning) if the scrape fails; the bench goes on.
async fn scrape_metrics(base: &str) -> Option<String> {
    let fetched = async {
        let resp = reqwest::Client::new()
            .get(format!("{base}/metrics"))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await?
            .error_for_status()?;
        resp.text().await
    }
    .await;
    match fetched {
        Ok(text) => Some(text),
        Err(e) => {
            eprintln!("WARNING: cannot scrape {base}/metrics: {e}");
            None
        }
    }
}

// ---------------------------------------------------------------------------------------
// Load generation
// ---------------------------------------------------------------------------------------

struct Plan {
    duration: Duration,
    warmup: Duration,
    connections: usize,
    clk_tck: f64,
}

/// One server's figures.
struct Figures {
    peak: Phase,
    half: Option<Phase>,
}

/// Outcome of one run (all connections merged).
struct Phase {
    ok: u64,
    errors: BTreeMap<String, u64>,
    elapsed: Duration,
    /// Latency of 200 answers, µs.
    latency: Histogram<u64>,
    /// Open loop only: how the send time missed the schedule, µs.
    lag: Option<Lag>,
    server_cpu: Option<f64>,
    generator_cpu: Option<f64>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Microseconds of the server's core spent per answered request.
    fn cpu_us_per_request(&self) -> Option<f64> {
        let busy = self.server_cpu? / 100.0 * self.elapsed.as_secs_f64();
        (self.ok > 0).then(|| busy * 1e6 / self.ok as f64)
    }

    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn ms(&self, q: f64) -> f64 {
        ms(&self.latency, q)
    }

    fn print(&self, title: &str) {
        println!(
            "{title}: {:>9.0} req/s ({} ok in {:.2} s)  p50 {:.3} ms  p99 {:.3} ms  \
             p99.9 {:.3} ms  max {:.3} ms",
            self.rate(),
            self.ok,
            self.elapsed.as_secs_f64(),
            self.ms(0.50),
            self.ms(0.99),
            self.ms(0.999),
            self.latency.max() as f64 / 1000.0,
        );
        let cpu = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |c| format!("{c:.0}%"));
        let mut extra = format!(
            "    cpu: server {}, generator {}",
            cpu(self.server_cpu),
            cpu(self.generator_cpu)
        );
        if let Some(lag) = &self.lag {
            extra.push_str(&format!(
                " (incl. spin-waiting for due times); sends behind schedule: waiting for the previous answer p99 {:.3} ms, \
                 generator lateness p99 {:.3} ms",
                ms(&lag.queued, 0.99),
                ms(&lag.late, 0.99)
            ));
        }
        println!("{extra}");
        let errors = self.error_count();
        if errors > 0 {
            println!("    !!!!! {errors} ERRORS (not counted in req/s or latency) !!!!!");
            for (what, n) in &self.errors {
                println!("    !!!!!   {n:>8} x {what}");
            }
        }
    }
}

async fn measure(plan: &Plan, server: &Proc) -> Result<Figures> {
    let warm = run_closed(plan, server, "warm", plan.warmup).await?;
    warm.print("warm-up          ");
    let peak = run_closed(plan, server, "peak", plan.duration).await?;
    peak.print(&format!("peak (closed, {:>2}c)", plan.connections));
    let target = peak.rate() / 2.0;
    let half = if target >= 1.0 {
        let half = run_open(plan, server, target).await?;
        half.print(&format!("half (open {target:.0}/s)"));
        Some(half)
    } else {
        println!("half-peak run skipped: no successful requests at peak");
        None
    };
    Ok(Figures { peak, half })
}

/// Per-connection result, merged into a `Phase`.
struct ConnResult {
    ok: u64,
    errors: BTreeMap<String, u64>,
    latency: Histogram<u64>,
    lag: Lag,
}

/// Why an open-loop send happened after its due time. `queued` is the server's doing (the
/// connection still waited for the previous answer, and that wait is part of the measured
/// latency, as it should be); `late` is the generator's own delay (timer, CPU) and should
/// stay near zero, or the generator is the bottleneck and the run says little.
struct Lag {
    queued: Histogram<u64>,
    late: Histogram<u64>,
}

impl ConnResult {
    fn new() -> Result<Self> {
        Ok(Self {
            ok: 0,
            errors: BTreeMap::new(),
            latency: new_histogram()?,
            lag: Lag {
                queued: new_histogram()?,
                late: new_histogram()?,
            },
        })
    }

    fn error(&mut self, what: String) {
        *self.errors.entry(what).or_default() += 1;
    }
}

/// Connects every connection before the clock starts, so set-up is not measured.
async fn connect_all(plan: &Plan, addr: SocketAddr) -> Result<Vec<Sender>> {
    let mut senders = Vec::with_capacity(plan.connections);
    for _ in 0..plan.connections {
        senders.push(connect(addr).await?);
    }
    Ok(senders)
}

async fn run_closed(plan: &Plan, server: &Proc, tag: &str, run_for: Duration) -> Result<Phase> {
    let server_addr = server.addr()?;
    let senders = connect_all(plan, server_addr).await?;
    let mark = CpuMark::take(&[("server", server.pid)]);
    let start = Instant::now();
    let deadline = start + run_for;
    let mut tasks = Vec::with_capacity(senders.len());
    for (conn, sender) in senders.into_iter().enumerate() {
        let mut bodies = WebhookMaker::new(server_addr, tag, conn, plan.connections)?;
        let addr = server_addr;
        tasks.push(tokio::spawn(async move {
            let mut out = ConnResult::new()?;
            let mut sender = Some(sender);
            while Instant::now() < deadline {
                let request = bodies.next()?;
                let sent = Instant::now();
                exchange(addr, &mut sender, request, sent, &mut out).await;
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    collect(tasks, start, &mark, false, plan.clk_tck).await
}

/// Fixed-rate schedule: request j (over all connections) is due at `start + j / rate`, and
/// connection c sends j = c, c + N, c + 2N, … With HTTP/1.1 one request is in flight per
/// connection, so if the server stalls, requests queue behind it and their latency (counted
/// from the due time) includes the wait, as it would for a real sender.
async fn run_open(plan: &Plan, server: &Proc, rate: f64) -> Result<Phase> {
    let server_addr = server.addr()?;
    let senders = connect_all(plan, server_addr).await?;
    let mark = CpuMark::take(&[("server", server.pid)]);
    // A small lead so the first due times are not already in the past.
    let start = Instant::now() + Duration::from_millis(5);
    let end = start + plan.duration;
    let n = plan.connections as u64;
    let mut tasks = Vec::with_capacity(senders.len());
    for (conn, sender) in senders.into_iter().enumerate() {
        let mut bodies = WebhookMaker::new(server_addr, "half", conn, plan.connections)?;
        let addr = server_addr;
        tasks.push(tokio::spawn(async move {
            let mut out = ConnResult::new()?;
            let mut sender = Some(sender);
            let mut j = conn as u64;
            // When this connection could next send: after the previous answer arrived.
            let mut free_at = start;
            loop {
                // From the index, not by adding intervals, so rounding cannot drift.
                let due = start + Duration::from_secs_f64(j as f64 / rate);
                if due >= end {
                    break;
                }
                let request = bodies.next()?;
                wait_until(due).await;
                let could_send = due.max(free_at);
                out.lag
                    .queued
                    .saturating_record(micros(could_send.duration_since(due)));
                out.lag
                    .late
                    .saturating_record(micros(Instant::now().duration_since(could_send)));
                exchange(addr, &mut sender, request, due, &mut out).await;
                free_at = Instant::now();
                j += n;
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    collect(tasks, start, &mark, true, plan.clk_tck).await
}

/// tokio's timer has 1 ms granularity, which would smear every send by up to a
/// millisecond (and that would count as latency). Sleep coarsely, then yield until due.
async fn wait_until(due: Instant) {
    loop {
        let now = Instant::now();
        if now >= due {
            return;
        }
        if due - now > Duration::from_micros(2500) {
            tokio::time::sleep_until(due - Duration::from_micros(1500)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
}

async fn collect(
    tasks: Vec<tokio::task::JoinHandle<Result<ConnResult>>>,
    start: Instant,
    mark: &CpuMark,
    open_loop: bool,
    clk_tck: f64,
) -> Result<Phase> {
    let mut merged = ConnResult::new()?;
    for task in tasks {
        let r = task.await.context("a load task panicked")??;
        merged.ok += r.ok;
        for (what, n) in r.errors {
            *merged.errors.entry(what).or_default() += n;
        }
        merged
            .latency
            .add(&r.latency)
            .map_err(|e| anyhow!("histogram: {e:?}"))?;
        for (into, from) in [
            (&mut merged.lag.queued, &r.lag.queued),
            (&mut merged.lag.late, &r.lag.late),
        ] {
            into.add(from).map_err(|e| anyhow!("histogram: {e:?}"))?;
        }
    }
    let elapsed = Instant::now().saturating_duration_since(start);
    let used = mark.since(clk_tck);
    let (server_cpu, generator_cpu) = (used.of("server"), used.of("bench"));
    Ok(Phase {
        ok: merged.ok,
        errors: merged.errors,
        elapsed,
        latency: merged.latency,
        lag: open_loop.then_some(merged.lag),
        server_cpu,
        generator_cpu,
    })
}

type Sender = SendRequest<Full<Bytes>>;

/// One HTTP/1.1 keep-alive connection, driven by its own task; no pool, so each load task
/// owns exactly one socket and requests on it are strictly sequential.
async fn connect(addr: SocketAddr) -> Result<Sender> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    // Requests are small single writes; Nagle would hold them back waiting for ACKs.
    stream.set_nodelay(true).context("TCP_NODELAY")?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP/1.1 handshake")?;
    tokio::spawn(async move {
        // Errors surface on the sender side too, where they are counted.
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request and records its outcome; latency counts from `since` (the send time
/// in a closed loop, the due time in an open loop). A broken connection is counted as an
/// error and replaced, so one hiccup does not silence a whole connection for the run.
async fn exchange(
    addr: SocketAddr,
    sender: &mut Option<Sender>,
    request: Request<Full<Bytes>>,
    since: Instant,
    out: &mut ConnResult,
) {
    let live = match sender.take() {
        Some(s) => Some(s),
        None => match connect(addr).await {
            Ok(s) => Some(s),
            Err(e) => {
                out.error(format!("reconnect failed: {e:#}"));
                // Back off so a dead server does not turn into a busy loop of errors.
                tokio::time::sleep(Duration::from_millis(50)).await;
                None
            }
        },
    };
    let Some(mut live) = live else { return };
    let outcome = async {
        live.ready().await?;
        let response = live.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, body))
    }
    .await;
    match outcome {
        Ok((StatusCode::OK, _)) => {
            out.ok += 1;
            out.latency
                .saturating_record(micros(Instant::now().duration_since(since)));
            *sender = Some(live);
        }
        Ok((status, body)) => {
            let text = String::from_utf8_lossy(&body);
            let text: String = text.chars().take(160).collect();
            out.error(format!("HTTP {status}: {text}"));
            *sender = Some(live);
        }
        // The connection is unusable after a transport error; the next call reconnects.
        Err(e) => out.error(format!("transport: {e}")),
    }
}

/// Builds signed webhook requests on the fly: unique mid per request, sender rotating over
/// `CUSTOMERS`. Building costs the generator (about a microsecond for the HMAC), not the
/// server, and it is the same for both servers.
struct WebhookMaker {
    host: String,
    mac: Hmac<Sha256>,
    tag: String,
    conn: usize,
    connections: usize,
    seq: u64,
}

impl WebhookMaker {
    fn new(addr: SocketAddr, tag: &str, conn: usize, connections: usize) -> Result<Self> {
        let mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes())
            .map_err(|e| anyhow!("HMAC key: {e}"))?;
        Ok(Self {
            host: addr.to_string(),
            mac,
            tag: tag.to_owned(),
            conn,
            connections,
            seq: 0,
        })
    }

    fn next(&mut self) -> Result<Request<Full<Bytes>>> {
        let seq = self.seq;
        self.seq += 1;
        // Interleave connections so every connection cycles through all customers.
        let global = seq * self.connections as u64 + self.conn as u64;
        let igsid = 990_000_000_000_000 + global % CUSTOMERS;
        let ts = 1_750_000_000_000 + global;
        let (tag, conn) = (&self.tag, self.conn);
        // Shaped like a real Instagram mid (long base64), made unique by tag/conn/seq.
        let body = format!(
            r#"{{"object":"instagram","entry":[{{"id":"{ACCOUNT_ID}","time":{ts},"messaging":[{{"sender":{{"id":"{igsid}"}},"recipient":{{"id":"{ACCOUNT_ID}"}},"timestamp":{ts},"message":{{"mid":"aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAx.{tag}.{conn}.{seq}","text":"Halo kak, ukuran M masih ada? \ud83d\ude0a"}}}}]}}]}}"#
        );
        let mut mac = self.mac.clone();
        mac.update(body.as_bytes());
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        Request::post("/webhooks/instagram")
            .header("host", &self.host)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(Full::new(Bytes::from(body)))
            .context("building the webhook request")
    }
}

// ---------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------

fn print_summary(
    bare: &Figures,
    floor: &Figures,
    checked: &Figures,
    relay: &Figures,
    metrics: &Option<String>,
) {
    println!("\n== summary ==");
    println!(
        "{:<7} {:>11} {:>11} {:>9} {:>9} {:>9} {:>14} {:>12} {:>8}",
        "server",
        "peak req/s",
        "core µs/req",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "half: req/s",
        "half: p99 ms",
        "errors"
    );
    let servers = [
        ("bare", bare),
        ("floor", floor),
        ("checked", checked),
        ("relay", relay),
    ];
    for (name, f) in servers {
        let errors = f.peak.error_count() + f.half.as_ref().map_or(0, Phase::error_count);
        let (half_rate, half_p99) = match &f.half {
            Some(h) => (format!("{:.0}", h.rate()), format!("{:.3}", h.ms(0.99))),
            None => ("-".to_owned(), "-".to_owned()),
        };
        println!(
            "{:<7} {:>11.0} {:>11} {:>9.3} {:>9.3} {:>9.3} {:>14} {:>12} {:>8}",
            name,
            f.peak.rate(),
            f.peak
                .cpu_us_per_request()
                .map_or_else(|| "?".to_owned(), |us| format!("{us:.1}")),
            f.peak.ms(0.50),
            f.peak.ms(0.99),
            f.peak.ms(0.999),
            half_rate,
            half_p99,
            errors
        );
    }
    let bare_peak = bare.peak.rate();
    let of_bare = |f: &Figures| {
        if bare_peak > 0.0 {
            f.peak.rate() / bare_peak
        } else {
            0.0
        }
    };
    let ratio = of_bare(relay);
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    let floor_ratio = of_bare(floor);
    let of = |a: &Figures, b: &Figures| {
        if b.peak.rate() > 0.0 {
            a.peak.rate() / b.peak.rate()
        } else {
            0.0
        }
    };
    println!(
        "\nfloor peak / bare peak = {floor_ratio:.2}   (append + group-commit fdatasync only: \
         the most any durable server reaches here with these connections)"
    );
    println!("relay peak / bare peak = {ratio:.2}");
    println!(
        "checked peak / floor peak = {:.2}   (the floor after the relay's own signature check \
         and parser: the most a relay that verifies and parses this way reaches)",
        of(checked, floor)
    );
    println!(
        "relay peak / checked peak = {:.2}   (what storing and projecting costs beyond that)",
        of(relay, checked)
    );
    let of_floor = of(relay, floor);
    println!(
        "\nrelay peak / floor peak = {of_floor:.2}   (target >= {TARGET_OF_FLOOR:.2})  {}",
        verdict(of_floor >= TARGET_OF_FLOOR)
    );
    match &relay.half {
        Some(h) => {
            let p99 = h.ms(0.99);
            println!(
                "relay p99 at half-peak = {p99:.3} ms   (target < {TARGET_HALF_P99_MS} ms)  {}",
                verdict(p99 < TARGET_HALF_P99_MS)
            );
        }
        None => println!(
            "relay p99 at half-peak: not measured   (target < {TARGET_HALF_P99_MS} ms)  MISS"
        ),
    }
    let total_errors = [bare, floor, checked, relay]
        .iter()
        .map(|f| f.peak.error_count() + f.half.as_ref().map_or(0, Phase::error_count))
        .sum::<u64>();
    if total_errors > 0 {
        println!(
            "\n!!!!! {total_errors} REQUESTS FAILED: the figures above are NOT a valid \
             measurement !!!!!"
        );
    }
    if let Some(bare_cpu) = bare.peak.generator_cpu.filter(|c| *c >= 90.0) {
        println!(
            "note: the generator used {bare_cpu:.0}% of its core during the bare peak run, so \
             the bare peak may be the generator's limit (which flatters the ratio)"
        );
    }

    println!("\n== relay /metrics (whole relay run, warm-up included) ==");
    let Some(text) = metrics else {
        println!("(not available)");
        return;
    };
    const WANTED: [&str; 5] = [
        "relay_flush_seconds_count",
        "relay_flush_seconds_sum",
        "relay_flush_batch_size_sum",
        "relay_flush_batch_size_count",
        "relay_ingest_items_total",
    ];
    let mut values: BTreeMap<&str, f64> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(name) = WANTED.iter().find(|w| {
            line.strip_prefix(**w)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        }) else {
            continue;
        };
        println!("{line}");
        if let Some(v) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            *values.entry(name).or_default() += v;
        }
    }
    if values.is_empty() {
        println!("(none of {} found)", WANTED.join(", "));
        return;
    }
    let get = |k: &str| values.get(k).copied().unwrap_or(0.0);
    if get("relay_flush_seconds_count") > 0.0 {
        println!(
            "average flush: {:.3} ms over {:.0} flushes",
            get("relay_flush_seconds_sum") / get("relay_flush_seconds_count") * 1000.0,
            get("relay_flush_seconds_count")
        );
    }
    if get("relay_flush_batch_size_count") > 0.0 {
        println!(
            "average waiters per flush: {:.2}",
            get("relay_flush_batch_size_sum") / get("relay_flush_batch_size_count")
        );
    }
}
