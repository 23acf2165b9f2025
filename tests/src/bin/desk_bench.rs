//! `desk-bench`: how long does an event take from Meta's webhook to the replicas of the
//! desks that are connected to its tenant, and what does fanning events out to many desks
//! cost the relay?
//!
//! Build and run from the workspace root:
//!
//! ```text
//! cargo build --release -p relay -p chatdesk-tests --bins && target/release/desk-bench
//! ```
//!
//! Two phases, each against its own fresh release relay (so that its memory figures start
//! from a clean process), each with one partner and 10 tenants that have an Instagram
//! channel apiece:
//!
//! 1. **Latency.** 50 desks, 5 per tenant, each a real `desk_tui::SyncHandle` with its own
//!    sled replica, speaking bincode. Signed DM webhooks go out round-robin over the tenants
//!    on a fixed open-loop schedule (500/s by default): every POST is sent at its due time
//!    on its own task, never waiting for an earlier answer, so a slow relay cannot slow the
//!    offered load down. The latency of one (event, desk) pair runs from just before its
//!    POST to the moment that desk's engine announces an `Update::Applied` covering it. The
//!    event is recognised by reading its `mid` back from the desk's replica, so nothing here
//!    assumes in which order the relay appended concurrent webhooks.
//! 2. **Fan-out.** 2,000 raw WebSocket desks, 200 per tenant, say hello at the head and then
//!    read and count every event. A few closed-loop HTTP clients post webhooks as fast as the
//!    relay answers them for a fixed time. Reported: webhooks/s, event deliveries/s over all
//!    desks, whether every desk received every event of its tenant exactly once (waiting a
//!    bounded time for stragglers), and the relay's RSS before the desks, with them idle,
//!    after the burst, and its peak (`VmHWM`).
//!
//! Pinning: the relay runs on one core (`taskset`, one tokio worker), and this program, i.e.
//! the HTTP clients, the desk engines with their replicas and the raw desks, on another on
//! a single-threaded runtime, so neither steals CPU from the other. All desks share that
//! core, so phase 1's figure includes desks waiting for each other, which real desks (one
//! per machine) do not; the CPU use of both sides is printed so that a saturated generator
//! can be told apart from a saturated relay.
//!
//! Storage: the relay's data directory is on disk (the system's temporary directory), since
//! a webhook is answered, and its event published to desks, only after its group-commit
//! fsync, which belongs in the figure. The desks' replicas go to tmpfs (`/dev/shm`) unless
//! `--replica-dir` says otherwise: real desks keep them on their own machines, and 50 sled
//! replicas flushing every 500 ms on the relay's disk would lengthen the relay's fsyncs.
//! `TMPDIR=/dev/shm` moves the relay's data to tmpfs as well, which shows what the path
//! costs without the disk.
//!
//! 2,000 desks need more open files than the common default of 1,024: the soft limit is
//! raised to the hard one (with util-linux's `prlimit`, as the workspace forbids `unsafe`)
//! before the relay is started, so that it inherits the limit too.
//!
//! TLS: `--tls` runs the latency phase twice in one run, first against a plain relay and
//! then against one serving TLS (a private CA and a certificate made here with rcgen; the
//! desks trust it through `ca_file`, the webhooks go over https), and prints both figures
//! and their difference.
//!
//! Timings are figures, not assertions: targets are printed as PASS/MISS, and the exit code
//! is 0 whenever the run itself completed.

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use desk_tui::{ConnectionState, Replica, SyncConfig, SyncHandle, Token, Update};
use futures_util::{SinkExt, StreamExt};
use harness::bench::figures::{CpuMark, CpuUse, max_ms, merge, micros, ms, new_histogram};
use harness::bench::machine::{Cores, pin_pid, taskset_available};
use harness::bench::procfs::{clock_ticks, cpus_allowed, status_kib};
use harness::desk::BINARY;
use harness::{APP_SECRET, Api, OPERATOR_TOKEN, RelayOptions, ig_dm, now_ms, sign};
use hdrhistogram::Histogram;
use protocol::codec::{decode_binary, encode_binary};
use protocol::inbound::InboundKind;
use protocol::{ClientFrame, Event, EventBody, PROTOCOL_VERSION, Seq, ServerFrame, TenantId};
use relay::store::pg::testdb::TestDb;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, broadcast, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Targets from the issue.
const TARGET_P99_MS: f64 = 5.0;
const TARGET_RSS_MB: f64 = 200.0;
/// The fan-out target is stated for this many desks; other counts are printed without it.
const TARGET_RSS_DESKS: usize = 2_000;
/// Distinct customers per tenant, so the relay projects a realistic number of threads.
const CUSTOMERS: u64 = 50;
/// Every bench mid starts with this (shaped like Meta's long base64 mids); the global index
/// of the webhook follows, which is how an event read from a replica is matched to its send.
const MID_PREFIX: &str = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx.bench.";
const TEXT: &str = "Halo kak, ukuran M masih ada? \u{1f60a}";
/// Raw desks connecting at once; more only fills the relay's accept queue.
const CONNECT_CONCURRENCY: usize = 64;
/// A raw desk that cannot (re)connect this many times in a row gives up.
const CONNECT_ATTEMPTS: u32 = 10;
/// Read buffer of each raw desk's socket (see `open_desk`).
const DESK_READ_BUFFER: usize = 16 * 1024;
/// Open files this program and the relay need beyond one socket per desk.
const FD_SLACK: u64 = 1_024;

#[derive(Parser, Debug)]
#[command(
    name = "desk-bench",
    about = "Webhook-to-desk latency and desk fan-out cost of the relay"
)]
struct Args {
    /// Measured length of the latency phase, in seconds (after the warm-up).
    #[arg(long, default_value_t = 20)]
    duration_secs: u64,
    /// Warm-up of the latency phase, in seconds: sent at the same rate, not counted.
    #[arg(long, default_value_t = 2)]
    warmup_secs: u64,
    /// Webhooks per second in the latency phase (open loop, round-robin over tenants).
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// Sync-engine desks in the latency phase, spread evenly over the tenants.
    #[arg(long, default_value_t = 50)]
    desks: usize,
    /// Tenants (each with its own Instagram account), in both phases.
    #[arg(long, default_value_t = 10)]
    tenants: usize,
    /// Raw WebSocket desks in the fan-out phase, spread evenly over the tenants.
    #[arg(long, default_value_t = 2_000)]
    fanout_desks: usize,
    /// Length of the fan-out burst, in seconds.
    #[arg(long, default_value_t = 10)]
    fanout_secs: u64,
    /// Closed-loop HTTP clients posting webhooks during the fan-out burst.
    #[arg(long, default_value_t = 8)]
    fanout_clients: usize,
    /// Also run the latency phase against a relay serving TLS, and compare.
    #[arg(long)]
    tls: bool,
    /// Skip phase 1 (latency).
    #[arg(long)]
    skip_latency: bool,
    /// Skip phase 2 (fan-out).
    #[arg(long)]
    skip_fanout: bool,
    /// Do not pin the relay and this program to separate cores.
    #[arg(long)]
    no_pin: bool,
    /// Where the latency phase's desk replicas are kept; default: /dev/shm if it exists,
    /// else the temporary directory that also holds the relay's data.
    #[arg(long)]
    replica_dir: Option<PathBuf>,
    /// Keep each phase's relay data in a fresh PostgreSQL database (on the server
    /// `CHATDESK_TEST_PG` names, default the local one) instead of sled.
    #[arg(long)]
    postgres: bool,
    /// With `--postgres`: the latency phase runs two relays on its database, posts the
    /// webhooks to the first and connects the desks to the second, so every event travels
    /// commit → NOTIFY → the second relay's read → its desks.
    #[arg(long)]
    desk_on_other_relay: bool,
}

impl Args {
    fn check(&self) -> Result<()> {
        if self.desk_on_other_relay && !self.postgres {
            bail!("--desk-on-other-relay needs --postgres (relays share only PostgreSQL)");
        }
        if self.skip_latency && self.skip_fanout {
            bail!("--skip-latency and --skip-fanout together leave nothing to measure");
        }
        if self.tenants == 0 {
            bail!("--tenants must be at least 1");
        }
        if !self.skip_latency
            && (self.desks == 0 || self.duration_secs == 0 || self.rate.is_nan() || self.rate < 1.0)
        {
            bail!("--desks and --duration-secs must be at least 1, --rate at least 1/s");
        }
        if !self.skip_fanout
            && (self.fanout_desks == 0 || self.fanout_secs == 0 || self.fanout_clients == 0)
        {
            bail!("--fanout-desks, --fanout-secs and --fanout-clients must be at least 1");
        }
        Ok(())
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    args.check()?;
    if !args.skip_fanout {
        // Children inherit the limit, so raising it here covers the relay too.
        let desks = args.fanout_desks as u64;
        ensure_open_files(desks + FD_SLACK, desks)?;
    }
    let cores = if args.no_pin {
        Cores::default()
    } else {
        Cores::choose()
    };
    // One thread runs everything of this program (see the module doc); threads it starts
    // (sled's flushers, the blocking pool) inherit its affinity or are pinned here.
    let runtime = cores.runtime()?;
    runtime.block_on(run(args, cores))
}

async fn run(args: Args, cores: Cores) -> Result<()> {
    let started = Instant::now();
    let relay_bin = release_relay()?;
    let taskset = taskset_available().await;
    let relay_core = if taskset {
        cores.server
    } else {
        if cores.server.is_some() {
            eprintln!("WARNING: `taskset` not found; the relay is not pinned to a core");
        }
        None
    };
    let clk_tck = clock_ticks().await;
    let tmp = tempfile::Builder::new()
        .prefix("desk-bench-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let command: Vec<String> = std::env::args().collect();
    println!("desk-bench: {}", command.join(" "));
    println!(
        "relay binary {}; relay on core {}, bench on core {}",
        relay_bin.display(),
        Cores::name(relay_core),
        cores
            .bench
            .map_or_else(|| "(unpinned)".to_owned(), |c| c.id.to_string()),
    );
    // Real desks keep their replicas on their own machines. Here 50 sled replicas, each
    // flushing every 500 ms, would share the relay's disk and slow its fsyncs, so they go to
    // tmpfs unless told otherwise; the relay's data stays on disk.
    let shm = Path::new("/dev/shm");
    let replica_base = match &args.replica_dir {
        Some(dir) => dir.clone(),
        None if shm.is_dir() => shm.to_path_buf(),
        None => tmp.path().to_path_buf(),
    };
    let replicas = tempfile::Builder::new()
        .prefix("desk-bench-replicas-")
        .tempdir_in(&replica_base)
        .with_context(|| format!("cannot create a directory in {}", replica_base.display()))?;
    println!("relay data in {}", tmp.path().display());
    if !args.skip_latency {
        println!("desk replicas in {}", replicas.path().display());
    }
    let tls = if args.tls && !args.skip_latency {
        Some(BenchTls::make(tmp.path())?)
    } else {
        None
    };
    let env = Env {
        dir: tmp.path().to_path_buf(),
        replicas: replicas.path().to_path_buf(),
        relay_core,
        clk_tck,
        tls,
    };
    let mut latency = Vec::new();
    if !args.skip_latency {
        latency.push(latency_phase(&args, &env, false).await?);
        if env.tls.is_some() {
            latency.push(latency_phase(&args, &env, true).await?);
        }
    }
    let fanout = if args.skip_fanout {
        None
    } else {
        Some(fanout_phase(&args, &env).await?)
    };
    print_figures(&args, &latency, fanout.as_ref(), started.elapsed());
    // Explicit so that a failure to delete (a file still held open) is reported.
    for dir in [replicas, tmp] {
        if let Err(e) = dir.close() {
            eprintln!("WARNING: could not remove a temporary directory: {e}");
        }
    }
    Ok(())
}

/// What both phases need to know about the machine.
struct Env {
    /// The relay's data directories and logs.
    dir: PathBuf,
    /// The desks' replicas.
    replicas: PathBuf,
    relay_core: Option<usize>,
    clk_tck: f64,
    /// The CA and certificate of `--tls`.
    tls: Option<BenchTls>,
}

/// A private CA and a server certificate for `localhost`/`127.0.0.1`, for `--tls`.
struct BenchTls {
    ca_pem: String,
    ca_file: PathBuf,
    pair: harness::tls::PemPair,
}

impl BenchTls {
    fn make(dir: &Path) -> Result<BenchTls> {
        let ca = harness::tls::TestCa::new("desk-bench CA")?;
        let ca_file = ca.write_pem(&dir.join("bench-ca.pem"))?;
        let pair = ca.issue(dir, "bench-relay", harness::tls::Leaf::Valid)?;
        Ok(BenchTls {
            ca_pem: ca.pem(),
            ca_file,
            pair,
        })
    }
}

/// The relay binary the harness would start, which must be a release build: a debug relay
/// would make every figure meaningless.
fn release_relay() -> Result<PathBuf> {
    const BUILD: &str = "cargo build --release -p relay -p chatdesk-tests --bins";
    let path = harness::relay_bin()
        .map_err(|e| anyhow!("the release relay is not built; run `{BUILD}` ({e})"))?;
    if !path.is_file() {
        bail!("{} does not exist; run `{BUILD}`", path.display());
    }
    let release = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "release");
    if !release && std::env::var_os("RELAY_BIN").is_none() {
        bail!(
            "{} is not a release build; run `{BUILD}` and then target/release/desk-bench",
            path.display()
        );
    }
    Ok(path)
}

// ---------------------------------------------------------------------------------------
// Machine: cores, open files, process figures
// ---------------------------------------------------------------------------------------

/// Makes sure this process (and so the relay it starts) may open `needed` files. The
/// workspace forbids `unsafe`, so `setrlimit` is reached through util-linux's `prlimit`
/// on our own pid rather than through libc.
fn ensure_open_files(needed: u64, desks: u64) -> Result<()> {
    let (soft, hard) = open_file_limits()?;
    if soft >= needed {
        return Ok(());
    }
    let advice = format!(
        "{desks} fan-out desks need about {needed} open files in this program and in the \
         relay; raise the limit (`ulimit -n {needed}`, as root if the hard limit is lower) \
         or pass a smaller --fanout-desks"
    );
    if hard < needed {
        bail!("the hard limit on open files is {hard}: {advice}");
    }
    let status = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={hard}:{hard}"))
        .stdout(Stdio::null())
        .status();
    let (now, _) = open_file_limits()?;
    match status {
        Ok(s) if s.success() && now >= needed => {
            println!("raised the open-file limit from {soft} to {now}");
            Ok(())
        }
        Ok(s) => bail!("`prlimit` failed ({s}); the open-file limit is {now}: {advice}"),
        Err(e) => bail!("cannot run `prlimit` ({e}); the open-file limit is {soft}: {advice}"),
    }
}

/// The soft and hard `RLIMIT_NOFILE` of this process, from `/proc/self/limits`.
fn open_file_limits() -> Result<(u64, u64)> {
    let limits =
        std::fs::read_to_string("/proc/self/limits").context("cannot read /proc/self/limits")?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .context("/proc/self/limits has no `Max open files` line")?;
    let mut fields = line["Max open files".len()..].split_whitespace();
    let mut next = || -> Result<u64> {
        match fields.next() {
            Some("unlimited") => Ok(u64::MAX),
            Some(v) => v
                .parse()
                .with_context(|| format!("unreadable limit in {line:?}")),
            None => bail!("unreadable limit in {line:?}"),
        }
    };
    Ok((next()?, next()?))
}

// ---------------------------------------------------------------------------------------
// The relay and its tenants
// ---------------------------------------------------------------------------------------

/// One running relay of one phase.
struct RelayProc {
    relay: harness::Relay,
    pid: u32,
    api: Api,
    log: PathBuf,
}

impl RelayProc {
    /// Starts the relay through the harness (its secrets, a fresh data directory, port 0)
    /// and pins all its threads to `core`.
    async fn start(env: &Env, name: &str, tls: bool, db: Option<&TestDb>) -> Result<RelayProc> {
        let log = env.dir.join(format!("relay-{name}.log"));
        // Per-request logs would cost the relay CPU the figures should not include.
        let mut extra_env = vec![("RUST_LOG".to_owned(), "warn".to_owned())];
        if env.relay_core.is_some() {
            // The runtime sizes itself before it is pinned: give it one worker per core.
            extra_env.push(("TOKIO_WORKER_THREADS".to_owned(), "1".to_owned()));
        }
        let tls = if tls { env.tls.as_ref() } else { None };
        if let Some(tls) = tls {
            extra_env.extend(tls.pair.env());
        }
        if let Some(db) = db {
            extra_env.push(("RELAY_STORAGE".to_owned(), "postgres".to_owned()));
            extra_env.push(("DATABASE_URL".to_owned(), db.url().to_owned()));
        }
        let options = RelayOptions {
            data_dir: env.dir.join(format!("relay-{name}")),
            log: log.clone(),
            extra_env,
        };
        let relay = harness::Relay::start(&options)
            .await
            .context("cannot start the relay")?;
        let pid = relay.pid().context("the relay exited at once")?;
        if let Some(core) = env.relay_core {
            // Every thread that exists now; threads started later inherit it.
            pin_pid(pid, core).await;
        }
        println!(
            "relay pid {pid} on cpus {}, {}",
            cpus_allowed(pid).unwrap_or_else(|| "?".to_owned()),
            relay.url
        );
        let api = Api::with_ca(&relay.url, tls.map(|t| t.ca_pem.as_str()))?;
        Ok(RelayProc {
            relay,
            pid,
            api,
            log,
        })
    }

    fn url(&self) -> &str {
        &self.relay.url
    }

    /// SIGTERM and a clean exit, or a warning; the phase's figures stand either way.
    async fn stop(self) {
        if let Err(e) = self.relay.stop().await {
            eprintln!("WARNING: the relay did not stop cleanly: {e:#}");
        }
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        if !lines.is_empty() {
            println!(
                "-- relay log: {} lines at warn level or above, the first ones: --\n{}",
                lines.len(),
                lines[..lines.len().min(8)].join("\n")
            );
        }
    }
}

/// A tenant as the bench uses it.
struct TenantSetup {
    id: TenantId,
    /// The Instagram business account its channel is registered for.
    account: String,
    /// Agent tokens, one per agent created.
    tokens: Vec<String>,
}

/// One partner, `tenants` tenants with an Instagram channel each, and `agents` agent tokens
/// per tenant, all through the admin API as the operator.
async fn provision(api: &Api, tenants: usize, agents: usize) -> Result<Vec<TenantSetup>> {
    let post = reqwest::Method::POST;
    let partner = api
        .expect(
            post.clone(),
            "/v1/partners",
            OPERATOR_TOKEN,
            Some(json!({"name": "Bench Agency", "brand": "Bench Desk"})),
            201,
        )
        .await
        .context("creating the partner")?["id"]
        .as_str()
        .context("the new partner has no id")?
        .to_owned();
    let mut out = Vec::with_capacity(tenants);
    for t in 0..tenants {
        let id = api
            .expect(
                post.clone(),
                &format!("/v1/partners/{partner}/tenants"),
                OPERATOR_TOKEN,
                Some(json!({"name": format!("Shop {t}")})),
                201,
            )
            .await
            .with_context(|| format!("creating tenant {t}"))?["id"]
            .as_str()
            .context("the new tenant has no id")?
            .to_owned();
        let account = (17_841_400_000_100_000u64 + t as u64).to_string();
        api.expect(
            post.clone(),
            &format!("/v1/tenants/{id}/channels"),
            OPERATOR_TOKEN,
            Some(
                json!({"kind": "instagram", "account_id": account, "username": format!("shop{t}")}),
            ),
            201,
        )
        .await
        .with_context(|| format!("creating tenant {t}'s Instagram channel"))?;
        let mut tokens = Vec::with_capacity(agents);
        for a in 0..agents {
            let agent = api
                .expect(
                    post.clone(),
                    &format!("/v1/tenants/{id}/agents"),
                    OPERATOR_TOKEN,
                    Some(json!({"name": format!("agent {a}"), "role": "agent"})),
                    201,
                )
                .await
                .with_context(|| format!("creating an agent of tenant {t}"))?;
            tokens.push(
                agent["token"]
                    .as_str()
                    .context("the new agent has no token")?
                    .to_owned(),
            );
        }
        out.push(TenantSetup {
            id: TenantId::new(id),
            account,
            tokens,
        });
    }
    println!(
        "provisioned 1 partner, {tenants} tenants with an Instagram channel each, \
         {agents} agent(s) per tenant"
    );
    Ok(out)
}

/// The signed webhook for global index `j`, addressed to tenant `j mod tenants`.
fn webhook(tenants: &[TenantSetup], j: u64) -> (Vec<u8>, String) {
    let n = tenants.len() as u64;
    let tenant = &tenants[(j % n) as usize];
    // Customers rotate within each tenant, so every tenant sees CUSTOMERS threads.
    let customer = (990_000_000_000_000 + (j / n) % CUSTOMERS).to_string();
    let body = ig_dm(
        &tenant.account,
        &format!("{MID_PREFIX}{j}"),
        &customer,
        TEXT,
        now_ms(),
    );
    let signature = sign(&body, APP_SECRET);
    (body, signature)
}

/// The global index of a bench webhook's event, from the `mid` it carries.
fn index_of(event: &Event) -> Option<u64> {
    let EventBody::Inbound(inbound) = &event.body else {
        return None;
    };
    let InboundKind::Message(message) = &inbound.kind else {
        return None;
    };
    message.mid.strip_prefix(MID_PREFIX)?.parse().ok()
}

/// The webhook sender's client; `ca_pem` for a TLS relay. HTTP/1.1 only, over TLS too, so
/// the comparison with plain HTTP differs in TLS alone (a real Meta sends HTTP/1.1).
fn http_client(ca_pem: Option<&str>) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        // Requests are single small writes; Nagle would hold them back waiting for ACKs.
        .tcp_nodelay(true)
        .http1_only();
    if let Some(pem) = ca_pem {
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes())?);
    }
    builder.build().context("cannot build the HTTP client")
}

/// Counts of things that went wrong, by description.
#[derive(Default)]
struct Tally(BTreeMap<String, u64>);

impl Tally {
    fn add(&mut self, what: impl Into<String>, n: u64) {
        *self.0.entry(what.into()).or_default() += n;
    }

    fn total(&self) -> u64 {
        self.0.values().sum()
    }

    fn merge(&mut self, other: Tally) {
        for (what, n) in other.0 {
            self.add(what, n);
        }
    }

    fn print(&self, indent: &str) {
        for (what, n) in &self.0 {
            println!("{indent}{n:>8} x {what}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Phase 1: webhook-to-replica latency with sync engines
// ---------------------------------------------------------------------------------------

struct LatencyFigures {
    /// Measured against a relay serving TLS.
    tls: bool,
    sent: u64,
    measured_sent: u64,
    measured_acked: u64,
    errors: Tally,
    elapsed: Duration,
    /// (event, desk) pairs of measured events: expected from the acks, and applied.
    pairs_expected: u64,
    pairs_applied: u64,
    /// Desks short of some acknowledged event of their tenant, and how many they miss.
    desks_missing: usize,
    pairs_missing: u64,
    /// Events of another tenant in a replica: a scoping failure.
    foreign: u64,
    /// Update broadcasts the watcher missed (it then read the replica's cursor instead).
    lagged: u64,
    apply: Histogram<u64>,
    /// For each event, the time until its *last* desk had it.
    all_desks: Histogram<u64>,
    ack: Histogram<u64>,
    slip: Histogram<u64>,
    cpu: CpuUse,
    rss_end_kib: Option<u64>,
    metrics: RelayMetrics,
}

/// When each webhook was sent, readable by every desk's watcher.
struct SendLog {
    base: Instant,
    /// Nanoseconds after `base`, plus one; 0 = not sent (yet).
    sent_at: Vec<AtomicU64>,
    warmup: u64,
    tenants: u64,
}

impl SendLog {
    fn mark(&self, j: u64, at: Instant) {
        if let Some(slot) = self.sent_at.get(j as usize) {
            let nanos = u64::try_from(at.duration_since(self.base).as_nanos()).unwrap_or(u64::MAX);
            slot.store(nanos.saturating_add(1), Ordering::Release);
        }
    }

    fn sent(&self, j: u64) -> Option<Instant> {
        let nanos = self.sent_at.get(j as usize)?.load(Ordering::Acquire);
        (nanos > 0).then(|| self.base + Duration::from_nanos(nanos - 1))
    }
}

async fn latency_phase(args: &Args, env: &Env, tls: bool) -> Result<LatencyFigures> {
    println!(
        "\n== phase 1: latency{}, {} desks over {} tenants, {}/s for {} s after {} s warm-up ==",
        if tls { " over TLS" } else { "" },
        args.desks,
        args.tenants,
        args.rate,
        args.duration_secs,
        args.warmup_secs
    );
    let name = if tls { "latency-tls" } else { "latency" };
    let db = fresh_db(args).await?;
    let relay = RelayProc::start(env, name, tls, db.as_ref()).await?;
    let other = if args.desk_on_other_relay {
        println!("desks on a second relay sharing the database");
        Some(RelayProc::start(env, &format!("{name}-desks"), tls, db.as_ref()).await?)
    } else {
        None
    };
    let ca = if tls { env.tls.as_ref() } else { None };
    let desk_url = other.as_ref().unwrap_or(&relay).url().to_owned();
    let result = latency_run(args, env, &relay, &desk_url, ca).await;
    if let Some(other) = other {
        other.stop().await;
    }
    relay.stop().await;
    result
}

/// What one desk's watcher saw.
struct DeskOutcome {
    tenant: usize,
    /// Latency of each measured event, µs.
    latency: Histogram<u64>,
    /// Apply instants of the measured events, by global index.
    applied_at: Vec<(u64, Instant)>,
    measured: u64,
    foreign: u64,
    lagged: u64,
}

/// A fresh database for one phase's relays, with `--postgres` (dropped after the phase).
async fn fresh_db(args: &Args) -> Result<Option<TestDb>> {
    if !args.postgres {
        return Ok(None);
    }
    Ok(Some(
        TestDb::create()
            .await
            .context("cannot create a PostgreSQL database")?,
    ))
}

async fn latency_run(
    args: &Args,
    env: &Env,
    relay: &RelayProc,
    desk_url: &str,
    tls: Option<&BenchTls>,
) -> Result<LatencyFigures> {
    let tenants = provision(&relay.api, args.tenants, args.desks.div_ceil(args.tenants)).await?;
    let total = (args.rate * (args.warmup_secs + args.duration_secs) as f64).round() as u64;
    let warmup = (args.rate * args.warmup_secs as f64).round() as u64;
    let log = Arc::new(SendLog {
        base: Instant::now(),
        sent_at: (0..total).map(|_| AtomicU64::new(0)).collect(),
        warmup,
        tenants: tenants.len() as u64,
    });

    let (stop, stop_rx) = watch::channel(false);
    let mut engines = Vec::with_capacity(args.desks);
    let mut watchers = Vec::with_capacity(args.desks);
    let mut progress = Vec::with_capacity(args.desks);
    for d in 0..args.desks {
        let t = d % tenants.len();
        let token = &tenants[t].tokens[d / tenants.len()];
        let mut config = SyncConfig::new(desk_url, Token::new(token.clone()));
        let name = if tls.is_some() { "desk-tls" } else { "desk" };
        config.data_dir = Some(env.replicas.join(format!("{name}-{d}")));
        config.ca_file = tls.map(|t| t.ca_file.clone());
        let replica = Replica::open(&config).with_context(|| format!("desk {d}'s replica"))?;
        let engine = SyncHandle::spawn(config, replica.clone())
            .with_context(|| format!("starting desk {d}'s engine"))?;
        // Subscribed before the first webhook, so no update is missed.
        let updates = engine.subscribe();
        let seen = Arc::new(AtomicU64::new(0));
        watchers.push(tokio::spawn(watch_desk(Watcher {
            tenant: t,
            replica,
            updates,
            log: Arc::clone(&log),
            seen: Arc::clone(&seen),
            stop: stop_rx.clone(),
        })));
        progress.push((t, seen));
        engines.push(engine);
    }
    let connecting = Instant::now();
    for (d, engine) in engines.iter().enumerate() {
        let mut state = engine.watch_state();
        let live = tokio::time::timeout(
            Duration::from_secs(30),
            state
                .wait_for(|s| matches!(s, ConnectionState::Live | ConnectionState::Refused { .. })),
        )
        .await
        .with_context(|| format!("desk {d} was not live within 30 s: {}", engine.state()))?
        .map(|s| s.clone())
        .map_err(|_| anyhow!("desk {d}'s engine stopped"))?;
        if let ConnectionState::Refused { reason } = live {
            bail!("the relay refused desk {d}: {reason}");
        }
    }
    println!(
        "{} desks live in {:.2} s",
        engines.len(),
        connecting.elapsed().as_secs_f64()
    );

    let mark = CpuMark::take(&[("relay", Some(relay.pid))]);
    let client = http_client(tls.map(|t| t.ca_pem.as_str()))?;
    let sends = send_schedule(args, &client, relay.url(), &tenants, &log).await?;
    let cpu = mark.since(env.clk_tck);

    // Every acknowledged event is durable and published; give the desks a bounded time to
    // apply the last ones.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let behind = progress
            .iter()
            .filter(|(t, seen)| seen.load(Ordering::Acquire) < sends.acked[*t])
            .count();
        if behind == 0 {
            break;
        }
        if Instant::now() >= deadline {
            println!("WARNING: {behind} desks still behind 10 s after the last answer");
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A send_replace keeps the value even if every watcher is already gone.
    stop.send_replace(true);
    let mut outcomes = Vec::with_capacity(watchers.len());
    for (d, watcher) in watchers.into_iter().enumerate() {
        outcomes.push(
            watcher
                .await
                .with_context(|| format!("desk {d}'s watcher panicked"))?
                .with_context(|| format!("desk {d}'s watcher failed"))?,
        );
    }
    for (d, engine) in engines.into_iter().enumerate() {
        if let Err(e) = engine.shutdown().await {
            eprintln!("WARNING: desk {d}'s engine did not shut down cleanly: {e}");
        }
    }
    let rss_end_kib = status_kib(relay.pid, "VmRSS");
    let metrics = RelayMetrics::scrape(&client, relay.url()).await;

    let mut apply = new_histogram()?;
    let (mut pairs_applied, mut foreign, mut lagged) = (0, 0, 0);
    let (mut desks_missing, mut pairs_missing) = (0, 0);
    // Per measured event: the instant its last desk applied it.
    let mut last_apply: BTreeMap<u64, Instant> = BTreeMap::new();
    for o in &outcomes {
        merge(&mut apply, &o.latency)?;
        pairs_applied += o.measured;
        foreign += o.foreign;
        lagged += o.lagged;
        let expected = sends.acked_measured[o.tenant];
        if o.measured < expected {
            desks_missing += 1;
            pairs_missing += expected - o.measured;
        }
        for &(j, at) in &o.applied_at {
            let slot = last_apply.entry(j).or_insert(at);
            *slot = (*slot).max(at);
        }
    }
    let desks_of = |t: usize| (0..args.desks).filter(|d| d % tenants.len() == t).count() as u64;
    let pairs_expected = (0..tenants.len())
        .map(|t| sends.acked_measured[t] * desks_of(t))
        .sum();
    let mut all_desks = new_histogram()?;
    for (j, at) in last_apply {
        if let Some(sent) = log.sent(j) {
            all_desks.saturating_record(micros(at.saturating_duration_since(sent)));
        }
    }
    Ok(LatencyFigures {
        tls: tls.is_some(),
        sent: sends.sent,
        measured_sent: sends.sent.saturating_sub(warmup),
        measured_acked: sends.acked_measured.iter().sum(),
        errors: sends.errors,
        elapsed: sends.elapsed,
        pairs_expected,
        pairs_applied,
        desks_missing,
        pairs_missing,
        foreign,
        lagged,
        apply,
        all_desks,
        ack: sends.ack,
        slip: sends.slip,
        cpu,
        rss_end_kib,
        metrics,
    })
}

struct Watcher {
    tenant: usize,
    replica: Replica,
    updates: broadcast::Receiver<Update>,
    log: Arc<SendLog>,
    /// The highest seq this watcher has accounted for.
    seen: Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
}

/// Turns one desk's `Applied` updates into latencies: the clock is read as the update
/// arrives, then every newly applied event is read back from the replica to learn which
/// webhook it was.
async fn watch_desk(mut w: Watcher) -> Result<DeskOutcome> {
    let mut out = DeskOutcome {
        tenant: w.tenant,
        latency: new_histogram()?,
        applied_at: Vec::new(),
        measured: 0,
        foreign: 0,
        lagged: 0,
    };
    let mut last = Seq(0);
    loop {
        let cursor = tokio::select! {
            biased;
            _ = w.stop.wait_for(|stop| *stop) => break,
            update = w.updates.recv() => match update {
                Ok(Update::Applied { cursor }) => cursor,
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // Missed updates: the replica's cursor says how far it got.
                    out.lagged += n;
                    w.replica.cursor().context("reading the replica cursor")?
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        };
        let now = Instant::now();
        while last < cursor {
            last = last.next();
            let event = w
                .replica
                .event(last)
                .context("reading the replica")?
                .with_context(|| {
                    format!("seq {last} is below the cursor but not in the replica")
                })?;
            let Some(j) = index_of(&event) else {
                continue;
            };
            if j % w.log.tenants != w.tenant as u64 {
                out.foreign += 1;
                continue;
            }
            if j < w.log.warmup {
                continue;
            }
            let sent = w
                .log
                .sent(j)
                .with_context(|| format!("event {j} was applied before it was sent"))?;
            out.latency
                .saturating_record(micros(now.saturating_duration_since(sent)));
            out.applied_at.push((j, now));
            out.measured += 1;
        }
        w.seen.store(last.0, Ordering::Release);
    }
    Ok(out)
}

/// What the open-loop sender saw.
struct Sends {
    sent: u64,
    /// Acknowledged (200) webhooks per tenant: all, and those after the warm-up.
    acked: Vec<u64>,
    acked_measured: Vec<u64>,
    errors: Tally,
    /// Webhook answer latency of measured events, µs.
    ack: Histogram<u64>,
    /// How far each send was behind its due time, µs.
    slip: Histogram<u64>,
    elapsed: Duration,
}

/// One finished POST.
struct Answered {
    j: u64,
    outcome: Result<u16, String>,
    took: Duration,
}

/// Sends webhook `j` at `start + j / rate`, each on its own task, so that a slow answer
/// never delays a later send (open loop). The tokio timer ticks in whole milliseconds, so
/// sends slip by up to a millisecond from the ideal schedule; latency is measured from the
/// actual send, and the slip is reported.
async fn send_schedule(
    args: &Args,
    client: &reqwest::Client,
    url: &str,
    tenants: &[TenantSetup],
    log: &SendLog,
) -> Result<Sends> {
    let url = format!("{url}/webhooks/instagram");
    let total = log.sent_at.len() as u64;
    let mut out = Sends {
        sent: 0,
        acked: vec![0; tenants.len()],
        acked_measured: vec![0; tenants.len()],
        errors: Tally::default(),
        ack: new_histogram()?,
        slip: new_histogram()?,
        elapsed: Duration::ZERO,
    };
    let n = tenants.len() as u64;
    let tally = |answered: Answered, out: &mut Sends| {
        let t = (answered.j % n) as usize;
        match answered.outcome {
            Ok(200) => {
                out.acked[t] += 1;
                if answered.j >= log.warmup {
                    out.acked_measured[t] += 1;
                    out.ack.saturating_record(micros(answered.took));
                }
            }
            Ok(status) => out.errors.add(format!("HTTP {status}"), 1),
            Err(e) => out.errors.add(e, 1),
        }
    };
    let mut in_flight: JoinSet<Answered> = JoinSet::new();
    let start = Instant::now() + Duration::from_millis(20);
    for j in 0..total {
        let due = start + Duration::from_secs_f64(j as f64 / args.rate);
        // Answers are tallied between sends, so the set stays small.
        while let Some(done) = in_flight.try_join_next() {
            tally(done.context("a webhook task panicked")?, &mut out);
        }
        tokio::time::sleep_until(due).await;
        let (body, signature) = webhook(tenants, j);
        let request = client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body);
        let sent = Instant::now();
        if j >= log.warmup {
            out.slip.saturating_record(micros(sent.duration_since(due)));
        }
        log.mark(j, sent);
        in_flight.spawn(async move {
            let outcome = match request.send().await {
                // The answer counts from its status line; the body is read only to keep
                // the connection reusable.
                Ok(response) => {
                    let took = sent.elapsed();
                    let status = response.status().as_u16();
                    let _ = response.bytes().await;
                    return Answered {
                        j,
                        outcome: Ok(status),
                        took,
                    };
                }
                Err(e) => Err(format!("transport: {e}")),
            };
            Answered {
                j,
                outcome,
                took: sent.elapsed(),
            }
        });
        out.sent += 1;
    }
    while let Some(done) = in_flight.join_next().await {
        tally(done.context("a webhook task panicked")?, &mut out);
    }
    out.elapsed = start.elapsed();
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Phase 2: fan-out to many raw desks
// ---------------------------------------------------------------------------------------

struct FanoutFigures {
    desks: usize,
    connect: Duration,
    acked: u64,
    errors: Tally,
    burst: Duration,
    ack: Histogram<u64>,
    /// Deliveries while the burst ran, and in all until every desk had everything (or the
    /// wait gave up).
    delivered_in_burst: u64,
    delivered: u64,
    expected: u64,
    /// From the burst's start to the last desk complete; `None`: not all completed.
    drained: Option<Duration>,
    incomplete_desks: usize,
    gaps: u64,
    duplicates: u64,
    foreign: u64,
    reconnects: u64,
    endings: Tally,
    heads_note: Option<String>,
    rss_before_kib: Option<u64>,
    rss_idle_kib: Option<u64>,
    rss_after_kib: Option<u64>,
    rss_peak_kib: Option<u64>,
    bench_peak_kib: Option<u64>,
    cpu: CpuUse,
    metrics: RelayMetrics,
}

async fn fanout_phase(args: &Args, env: &Env) -> Result<FanoutFigures> {
    println!(
        "\n== phase 2: fan-out, {} raw desks over {} tenants, {} clients for {} s ==",
        args.fanout_desks, args.tenants, args.fanout_clients, args.fanout_secs
    );
    let db = fresh_db(args).await?;
    let relay = RelayProc::start(env, "fanout", false, db.as_ref()).await?;
    let mut desks = Vec::new();
    let result = fanout_run(args, env, &relay, &mut desks).await;
    // Closing the desks first lets the relay shut down without 2,000 sessions to end.
    for desk in &desks {
        desk.abort();
    }
    for desk in desks {
        let _ = desk.await;
    }
    relay.stop().await;
    result
}

/// One raw desk's counters (one thread touches them; atomics only make them shareable).
#[derive(Default)]
struct DeskStat {
    last: AtomicU64,
    received: AtomicU64,
    gaps: AtomicU64,
    duplicates: AtomicU64,
    foreign: AtomicU64,
    reconnects: AtomicU64,
}

/// What all raw desks share.
#[derive(Default)]
struct FanShared {
    deliveries: AtomicU64,
    welcomed: AtomicUsize,
    failed: AtomicUsize,
    first_failure: Mutex<Option<String>>,
    /// Why connections ended, with counts.
    endings: Mutex<Tally>,
}

impl FanShared {
    fn ended(&self, why: String) {
        self.endings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .add(why, 1);
    }
}

struct FanDesk {
    url: String,
    token: String,
    tenant: TenantId,
    stat: Arc<DeskStat>,
    shared: Arc<FanShared>,
    gate: Arc<Semaphore>,
}

async fn fanout_run(
    args: &Args,
    env: &Env,
    relay: &RelayProc,
    desks: &mut Vec<JoinHandle<()>>,
) -> Result<FanoutFigures> {
    // One agent per tenant: the relay keeps nothing per agent that would change the figures,
    // and 2,000 agents would only lengthen the set-up.
    let tenants = provision(&relay.api, args.tenants, 1).await?;
    let rss_before_kib = status_kib(relay.pid, "VmRSS");
    let shared = Arc::new(FanShared::default());
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let ws_url = format!("{}/v1/desk", relay.url().replacen("http", "ws", 1));
    let mut stats = Vec::with_capacity(args.fanout_desks);
    let connecting = Instant::now();
    for d in 0..args.fanout_desks {
        let t = d % tenants.len();
        let stat = Arc::new(DeskStat::default());
        stats.push((t, Arc::clone(&stat)));
        desks.push(tokio::spawn(fan_desk(FanDesk {
            url: ws_url.clone(),
            token: tenants[t].tokens[0].clone(),
            tenant: tenants[t].id.clone(),
            stat,
            shared: Arc::clone(&shared),
            gate: Arc::clone(&gate),
        })));
    }
    loop {
        let welcomed = shared.welcomed.load(Ordering::Acquire);
        let failed = shared.failed.load(Ordering::Acquire);
        if failed > 0 {
            let first = shared
                .first_failure
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
                .unwrap_or_default();
            bail!(
                "{failed} of {} desks could not connect (first error: {first})",
                args.fanout_desks
            );
        }
        if welcomed == args.fanout_desks {
            break;
        }
        if connecting.elapsed() > Duration::from_secs(120) {
            bail!(
                "only {welcomed} of {} desks were welcomed within 120 s",
                args.fanout_desks
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect = connecting.elapsed();
    println!(
        "{} desks welcomed in {:.2} s",
        args.fanout_desks,
        connect.as_secs_f64()
    );
    // Let allocations made while connecting settle before reading the idle figure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle_kib = status_kib(relay.pid, "VmRSS");

    let mark = CpuMark::take(&[("relay", Some(relay.pid))]);
    let burst_start = Instant::now();
    let burst = run_burst(args, relay.url(), &tenants).await?;
    let burst_elapsed = burst_start.elapsed();
    let delivered_in_burst = shared.deliveries.load(Ordering::Acquire);
    println!(
        "burst done: {} webhooks acknowledged in {:.2} s; desks still draining",
        burst.acked.iter().sum::<u64>(),
        burst_elapsed.as_secs_f64()
    );

    // The relay's head per tenant, as a new desk's welcome reports it; a hello at the
    // acknowledged count also proves that count is not ahead of the log.
    let mut heads = Vec::with_capacity(tenants.len());
    let mut heads_note = None;
    for (t, tenant) in tenants.iter().enumerate() {
        let (mut probe, head) = open_desk(&ws_url, &tenant.tokens[0], burst.acked[t])
            .await
            .with_context(|| format!("reading tenant {t}'s head"))?;
        // A polite close, so the relay counts it as a normal end, not a protocol error.
        let _ = probe.close(None).await;
        if head.0 != burst.acked[t] {
            heads_note = Some(format!(
                "tenant {t}: head {head} but {} webhooks acknowledged (some failed after storing)",
                burst.acked[t]
            ));
        }
        heads.push(head.0);
    }
    let desks_of = |t: usize| {
        (0..args.fanout_desks)
            .filter(|d| d % tenants.len() == t)
            .count() as u64
    };
    let expected: u64 = (0..tenants.len()).map(|t| heads[t] * desks_of(t)).sum();
    let drain_limit = Duration::from_secs((3 * args.fanout_secs).max(30));
    let drain_deadline = Instant::now() + drain_limit;
    let drained = loop {
        let complete = stats
            .iter()
            .all(|(t, s)| s.last.load(Ordering::Acquire) >= heads[*t]);
        if complete {
            break Some(burst_start.elapsed());
        }
        if Instant::now() >= drain_deadline {
            println!(
                "WARNING: not every desk had every event {} s after the burst",
                drain_limit.as_secs()
            );
            break None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let cpu = mark.since(env.clk_tck);
    let rss_after_kib = status_kib(relay.pid, "VmRSS");
    let rss_peak_kib = status_kib(relay.pid, "VmHWM");
    let metrics = RelayMetrics::scrape(&http_client(None)?, relay.url()).await;

    let sum = |f: fn(&DeskStat) -> &AtomicU64| -> u64 {
        stats
            .iter()
            .map(|(_, s)| f(s).load(Ordering::Acquire))
            .sum()
    };
    let incomplete_desks = stats
        .iter()
        .filter(|(t, s)| {
            s.last.load(Ordering::Acquire) != heads[*t]
                || s.received.load(Ordering::Acquire) != heads[*t]
        })
        .count();
    let endings = std::mem::take(
        &mut *shared
            .endings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    Ok(FanoutFigures {
        desks: args.fanout_desks,
        connect,
        acked: burst.acked.iter().sum(),
        errors: burst.errors,
        burst: burst_elapsed,
        ack: burst.ack,
        delivered_in_burst,
        delivered: shared.deliveries.load(Ordering::Acquire),
        expected,
        drained,
        incomplete_desks,
        gaps: sum(|s| &s.gaps),
        duplicates: sum(|s| &s.duplicates),
        foreign: sum(|s| &s.foreign),
        reconnects: sum(|s| &s.reconnects),
        endings,
        heads_note,
        rss_before_kib,
        rss_idle_kib,
        rss_after_kib,
        rss_peak_kib,
        bench_peak_kib: status_kib(std::process::id(), "VmHWM"),
        cpu,
        metrics,
    })
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Upgrades, says hello at `cursor` and returns the socket with the welcome's head.
async fn open_desk(url: &str, token: &str, cursor: u64) -> Result<(Ws, Seq)> {
    let mut request = url.into_client_request().context("desk URL")?;
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).context("token header")?,
    );
    request
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static(BINARY));
    // tungstenite zero-fills its whole read buffer (128 KiB by default) before each read, so
    // every connection keeps that much resident; desks here receive small frames, and 2,000
    // of them would otherwise spend a quarter of a GiB of the bench's memory on buffers.
    let config = WebSocketConfig::default().read_buffer_size(DESK_READ_BUFFER);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .context("upgrade")?;
    let hello = encode_binary(&ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        cursor,
    })?;
    ws.send(Message::Binary(hello.into()))
        .await
        .context("sending hello")?;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .context("no welcome within 30 s")?
            .context("the connection ended before the welcome")?
            .context("reading the welcome")?;
        match message {
            Message::Binary(bytes) => match decode_binary(&bytes)? {
                ServerFrame::Welcome { head, .. } => return Ok((ws, head)),
                other => bail!("expected a welcome, got {other:?}"),
            },
            Message::Close(frame) => bail!("closed before the welcome: {frame:?}"),
            _ => {}
        }
    }
}

/// One raw desk: connects (reconnecting from its last seq, as a real desk would, if the
/// relay drops it), then counts every event until it is aborted.
async fn fan_desk(desk: FanDesk) {
    let mut welcomed = false;
    let mut attempts = 0;
    loop {
        let opened = {
            // The gate only spaces out connection attempts; it is never closed.
            let _permit = desk.gate.acquire().await;
            open_desk(
                &desk.url,
                &desk.token,
                desk.stat.last.load(Ordering::Acquire),
            )
            .await
        };
        let mut ws = match opened {
            Ok((ws, _)) => ws,
            Err(e) => {
                attempts += 1;
                if attempts < CONNECT_ATTEMPTS {
                    tokio::time::sleep(Duration::from_millis(50) * attempts).await;
                    continue;
                }
                if welcomed {
                    desk.shared.ended(format!("gave up reconnecting: {e:#}"));
                } else {
                    desk.shared
                        .first_failure
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .get_or_insert_with(|| format!("{e:#}"));
                    desk.shared.failed.fetch_add(1, Ordering::AcqRel);
                }
                return;
            }
        };
        attempts = 0;
        if welcomed {
            desk.stat.reconnects.fetch_add(1, Ordering::AcqRel);
        } else {
            welcomed = true;
            desk.shared.welcomed.fetch_add(1, Ordering::AcqRel);
        }
        let why = read_events(&mut ws, &desk).await;
        desk.shared.ended(why);
    }
}

/// Reads until the connection ends; returns why it did.
async fn read_events(ws: &mut Ws, desk: &FanDesk) -> String {
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(bytes))) => match decode_binary::<ServerFrame>(&bytes) {
                Ok(ServerFrame::Event { event }) => count(desk, &event),
                // No commands are sent, so no answers are expected; a stray one is harmless.
                Ok(ServerFrame::Answer { .. }) => {}
                Ok(ServerFrame::Welcome { .. }) => return "a second welcome".into(),
                Err(e) => return format!("undecodable frame: {e}"),
            },
            Some(Ok(Message::Close(frame))) => {
                return match frame {
                    Some(f) => format!("closed by the relay: {} {}", u16::from(f.code), f.reason),
                    None => "closed by the relay".into(),
                };
            }
            // Pings are answered by tungstenite on the next read.
            Some(Ok(_)) => {}
            Some(Err(e)) => return format!("socket error: {e}"),
            None => return "the connection ended".into(),
        }
    }
}

fn count(desk: &FanDesk, event: &Event) {
    let stat = &desk.stat;
    if event.tenant != desk.tenant {
        stat.foreign.fetch_add(1, Ordering::AcqRel);
        return;
    }
    let last = stat.last.load(Ordering::Acquire);
    if event.seq.0 <= last {
        stat.duplicates.fetch_add(1, Ordering::AcqRel);
        return;
    }
    if event.seq.0 != last + 1 {
        stat.gaps
            .fetch_add(event.seq.0 - last - 1, Ordering::AcqRel);
    }
    stat.last.store(event.seq.0, Ordering::Release);
    stat.received.fetch_add(1, Ordering::AcqRel);
    desk.shared.deliveries.fetch_add(1, Ordering::AcqRel);
}

/// What the closed-loop clients achieved.
struct Burst {
    acked: Vec<u64>,
    errors: Tally,
    ack: Histogram<u64>,
}

/// `fanout_clients` clients, each posting its next webhook as soon as the previous one is
/// answered, until the burst's time is up.
async fn run_burst(args: &Args, url: &str, tenants: &[TenantSetup]) -> Result<Burst> {
    let client = http_client(None)?;
    let url = Arc::new(format!("{url}/webhooks/instagram"));
    let deadline = Instant::now() + Duration::from_secs(args.fanout_secs);
    let next = Arc::new(AtomicU64::new(0));
    let tenants: Arc<Vec<(String, usize)>> = Arc::new(
        tenants
            .iter()
            .enumerate()
            .map(|(t, s)| (s.account.clone(), t))
            .collect(),
    );
    let mut clients = Vec::with_capacity(args.fanout_clients);
    for _ in 0..args.fanout_clients {
        let (client, url, next, tenants) = (
            client.clone(),
            Arc::clone(&url),
            Arc::clone(&next),
            Arc::clone(&tenants),
        );
        clients.push(tokio::spawn(async move {
            let mut out = Burst {
                acked: vec![0; tenants.len()],
                errors: Tally::default(),
                ack: new_histogram()?,
            };
            let n = tenants.len() as u64;
            while Instant::now() < deadline {
                let j = next.fetch_add(1, Ordering::AcqRel);
                let t = (j % n) as usize;
                let customer = (990_000_000_000_000 + (j / n) % CUSTOMERS).to_string();
                let body = ig_dm(
                    &tenants[t].0,
                    &format!("{MID_PREFIX}{j}"),
                    &customer,
                    TEXT,
                    now_ms(),
                );
                let signature = sign(&body, APP_SECRET);
                let sent = Instant::now();
                let answer = client
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", signature)
                    .body(body)
                    .send()
                    .await;
                match answer {
                    Ok(response) => {
                        let took = sent.elapsed();
                        let status = response.status().as_u16();
                        let _ = response.bytes().await;
                        if status == 200 {
                            out.acked[t] += 1;
                            out.ack.saturating_record(micros(took));
                        } else {
                            out.errors.add(format!("HTTP {status}"), 1);
                        }
                    }
                    Err(e) => {
                        out.errors.add(format!("transport: {e}"), 1);
                        // A dead relay must not turn into a busy loop of errors.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    let mut total = Burst {
        acked: vec![0; tenants.len()],
        errors: Tally::default(),
        ack: new_histogram()?,
    };
    for client in clients {
        let part = client.await.context("a webhook client panicked")??;
        for (sum, n) in total.acked.iter_mut().zip(&part.acked) {
            *sum += n;
        }
        total.errors.merge(part.errors);
        merge(&mut total.ack, &part.ack)?;
    }
    Ok(total)
}

/// The relay's own view: its desk counters and its group commit.
#[derive(Default)]
struct RelayMetrics {
    /// `relay_desk_*` lines, verbatim: sessions, why they closed, catch-ups from storage.
    desk: Vec<String>,
    flushes: f64,
    flush_seconds: f64,
    waiters: f64,
    /// Cumulative flush counts by upper bound, in seconds.
    flush_buckets: Vec<(f64, f64)>,
}

impl RelayMetrics {
    /// Scrapes `/metrics`; empty, with a warning, if that fails.
    async fn scrape(client: &reqwest::Client, base: &str) -> RelayMetrics {
        let fetched = async {
            client
                .get(format!("{base}/metrics"))
                .bearer_auth(OPERATOR_TOKEN)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await
        }
        .await;
        let text = match fetched {
            Ok(text) => text,
            Err(e) => {
                eprintln!("WARNING: cannot scrape {base}/metrics: {e}");
                return RelayMetrics::default();
            }
        };
        let mut out = RelayMetrics::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            if name.starts_with("relay_desk_") {
                out.desk.push(line.to_owned());
            } else if name == "relay_flush_seconds_count" {
                out.flushes = value;
            } else if name == "relay_flush_seconds_sum" {
                out.flush_seconds = value;
            } else if name == "relay_flush_batch_size_sum" {
                out.waiters = value;
            } else if let Some(le) = name
                .strip_prefix("relay_flush_seconds_bucket{le=\"")
                .and_then(|rest| rest.strip_suffix("\"}"))
                .and_then(|le| le.parse::<f64>().ok())
            {
                out.flush_buckets.push((le, value));
            }
        }
        out
    }

    /// One line about the group commit, which every acknowledgement waits for.
    fn flush_summary(&self) -> Option<String> {
        if self.flushes <= 0.0 {
            return None;
        }
        let slower_than = |secs: f64| {
            self.flush_buckets
                .iter()
                .find(|(le, _)| (*le - secs).abs() < 1e-9)
                .map_or_else(
                    || "?".to_owned(),
                    |(_, n)| format!("{:.0}", self.flushes - n),
                )
        };
        Some(format!(
            "{:.0} flushes, avg {:.3} ms, {:.2} waiters each; slower than 5 ms: {}, \
             25 ms: {}, 100 ms: {}",
            self.flushes,
            self.flush_seconds / self.flushes * 1000.0,
            self.waiters / self.flushes,
            slower_than(0.005),
            slower_than(0.025),
            slower_than(0.1),
        ))
    }
}

// ---------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "?".to_owned(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

fn print_figures(
    args: &Args,
    latency: &[LatencyFigures],
    fanout: Option<&FanoutFigures>,
    took: Duration,
) {
    println!("\n== desk-bench figures ==");
    let command: Vec<String> = std::env::args().collect();
    println!("command: {}", command.join(" "));
    let mut valid = true;
    for l in latency {
        println!(
            "\nlatency{}: webhook POST -> event applied in a desk's replica; {} sync-engine desks \
             over {} tenants, open loop at {}/s, {} s measured after {} s warm-up",
            if l.tls {
                " over TLS (https webhooks, wss desks)"
            } else {
                " over plain HTTP"
            },
            args.desks,
            args.tenants,
            args.rate,
            args.duration_secs,
            args.warmup_secs
        );
        println!(
            "  webhooks: {} sent ({} measured), {} measured acknowledged, {} errors, \
             achieved {:.0}/s",
            l.sent,
            l.measured_sent,
            l.measured_acked,
            l.errors.total(),
            l.sent as f64 / l.elapsed.as_secs_f64().max(1e-9)
        );
        l.errors.print("    ");
        println!(
            "  (event, desk) pairs: {} expected, {} applied, {} missing on {} desks",
            l.pairs_expected, l.pairs_applied, l.pairs_missing, l.desks_missing
        );
        let row = |name: &str, h: &Histogram<u64>| {
            println!(
                "  {name:<26} p50 {:>8.3} ms  p99 {:>8.3} ms  p99.9 {:>8.3} ms  max {:>8.3} ms  (n={})",
                ms(h, 0.50),
                ms(h, 0.99),
                ms(h, 0.999),
                max_ms(h),
                h.len()
            );
        };
        row("POST -> in desk replica", &l.apply);
        row("POST -> in all its desks", &l.all_desks);
        row("POST -> webhook answered", &l.ack);
        row("send slip vs schedule", &l.slip);
        let p99 = ms(&l.apply, 0.99);
        println!(
            "  target: p99 < {TARGET_P99_MS} ms on loopback: p99 = {p99:.3} ms  {}",
            verdict(p99 < TARGET_P99_MS)
        );
        println!(
            "  cpu during the run: {}; relay RSS at the end {}",
            l.cpu,
            mib(l.rss_end_kib)
        );
        if let Some(flushes) = l.metrics.flush_summary() {
            println!("  relay group commit: {flushes}");
        }
        if !l.metrics.desk.is_empty() {
            println!("  relay desk counters: {}", l.metrics.desk.join(", "));
        }
        if l.lagged > 0 {
            println!(
                "  note: watchers missed {} update broadcasts (read the cursor instead)",
                l.lagged
            );
        }
        if l.foreign > 0 {
            println!(
                "  !!!!! {} EVENTS OF ANOTHER TENANT IN A REPLICA !!!!!",
                l.foreign
            );
            valid = false;
        }
        if l.pairs_missing > 0 || l.errors.total() > 0 {
            valid = false;
        }
    }
    if let [plain, tls] = latency {
        let diff = |q: f64| ms(&tls.apply, q) - ms(&plain.apply, q);
        println!(
            "\nTLS vs plain, POST -> in desk replica (same run): p50 {:.3} vs {:.3} ms ({:+.3}), \
             p99 {:.3} vs {:.3} ms ({:+.3}); relay cpu {} vs {}",
            ms(&tls.apply, 0.50),
            ms(&plain.apply, 0.50),
            diff(0.50),
            ms(&tls.apply, 0.99),
            ms(&plain.apply, 0.99),
            diff(0.99),
            tls.cpu,
            plain.cpu
        );
    }
    if let Some(f) = fanout {
        println!(
            "\nfan-out: {} raw desks over {} tenants, {} closed-loop webhook clients for {} s",
            f.desks, args.tenants, args.fanout_clients, args.fanout_secs
        );
        let secs = f.burst.as_secs_f64().max(1e-9);
        println!(
            "  desks connected and welcomed in {:.2} s",
            f.connect.as_secs_f64()
        );
        println!(
            "  webhooks: {} acknowledged in {:.2} s = {:.0}/s, answer p50 {:.3} ms  p99 {:.3} ms, \
             {} errors",
            f.acked,
            secs,
            f.acked as f64 / secs,
            ms(&f.ack, 0.50),
            ms(&f.ack, 0.99),
            f.errors.total()
        );
        f.errors.print("    ");
        println!(
            "  deliveries: {:.0}/s while the burst ran ({} events to desks)",
            f.delivered_in_burst as f64 / secs,
            f.delivered_in_burst
        );
        match f.drained {
            Some(d) => println!(
                "  deliveries: {} of {} expected, all delivered {:.2} s after the burst \
                 started = {:.0}/s overall ({:.2} s after it ended)",
                f.delivered,
                f.expected,
                d.as_secs_f64(),
                f.delivered as f64 / d.as_secs_f64().max(1e-9),
                d.saturating_sub(f.burst).as_secs_f64()
            ),
            None => println!(
                "  deliveries: {} of {} expected; NOT all delivered in the time allowed",
                f.delivered, f.expected
            ),
        }
        let complete = f.incomplete_desks == 0 && f.gaps == 0 && f.duplicates == 0;
        println!(
            "  every desk got every event of its tenant exactly once: {} ({} desks incomplete, \
             {} gaps, {} duplicates, {} reconnects)",
            if complete { "yes" } else { "NO" },
            f.incomplete_desks,
            f.gaps,
            f.duplicates,
            f.reconnects
        );
        if f.foreign > 0 {
            println!(
                "  !!!!! {} EVENTS OF ANOTHER TENANT DELIVERED !!!!!",
                f.foreign
            );
        }
        if f.endings.total() > 0 {
            println!("  desk connections that ended during the run:");
            f.endings.print("    ");
        }
        if let Some(note) = &f.heads_note {
            println!("  note: {note}");
        }
        let per_desk = match (f.rss_before_kib, f.rss_idle_kib) {
            (Some(b), Some(i)) => format!(
                " ({:.1} KiB per desk)",
                i.saturating_sub(b) as f64 / f.desks as f64
            ),
            _ => String::new(),
        };
        println!(
            "  relay RSS: {} before desks, {} with {} idle desks{per_desk}, {} after the \
             burst, peak {}",
            mib(f.rss_before_kib),
            mib(f.rss_idle_kib),
            f.desks,
            mib(f.rss_after_kib),
            mib(f.rss_peak_kib)
        );
        if f.desks == TARGET_RSS_DESKS {
            let peak = f.rss_peak_kib.map(|k| k as f64 / 1024.0);
            println!(
                "  target: {TARGET_RSS_DESKS} desks under {TARGET_RSS_MB} MB relay RSS: peak {}  {}",
                mib(f.rss_peak_kib),
                verdict(peak.is_some_and(|p| p * 1.048_576 < TARGET_RSS_MB))
            );
        }
        println!(
            "  cpu from the burst's start until drained: {}; bench peak RSS {}",
            f.cpu,
            mib(f.bench_peak_kib)
        );
        if let Some(flushes) = f.metrics.flush_summary() {
            println!("  relay group commit: {flushes}");
        }
        if !f.metrics.desk.is_empty() {
            println!("  relay desk counters: {}", f.metrics.desk.join(", "));
        }
        if !complete || f.foreign > 0 || f.errors.total() > 0 {
            valid = false;
        }
    }
    println!("\nrun took {:.1} s", took.as_secs_f64());
    if !valid {
        println!(
            "\n!!!!! SOME EVENTS OR REQUESTS WENT WRONG: the figures above are NOT a valid \
             measurement !!!!!"
        );
    }
}
