//! The command line of the `relay` binary: `serve`, `admin …` which mirrors the admin
//! API over HTTP for operators (sled allows one process per data directory, so the CLI
//! talks to the running relay instead of opening its storage), `simulate` (Meta's
//! stand-in, see `simulate`), `demo` (both plus a demo tenant, see `demo`) and `draft`
//! (the drafting dry run over a knowledge file, see `drafting::dry_run`).
//!
//! `audit verify-file` checks an exported evidence file offline (`cli/audit.rs`);
//! `knowledge upgrade` rewrites a v1 knowledge file as v2 (`knowledge::upgrade`).
//! `relay admin` prints tables for people and, with `--json`, the relay's JSON for scripts
//! (`cli/output.rs`); long operations show their progress on stderr (`cli/progress.rs`).
//!
//! Errors end here as one line on stderr and a non-zero exit status.

mod audit;
mod channel_settings;
mod media;
mod moving;
mod output;
mod progress;
mod settings;

use crate::config::Config;
use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "relay",
    version,
    about = "chatdesk relay: Meta webhooks in, tenant-scoped events out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve webhooks and the admin API.
    Serve {
        /// TOML configuration; environment variables override its keys.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Operator commands against a running relay (needs RELAY_OPERATOR_TOKEN).
    Admin(AdminArgs),
    /// Play Meta: Graph endpoints, signed webhooks to a relay, scenarios (needs META_APP_SECRET).
    Simulate(SimulateArgs),
    /// A relay, the Meta simulator and a demo tenant in one process; prints one JSON line.
    Demo(crate::demo::DemoArgs),
    /// Evidence checks that need no running relay.
    Audit {
        #[command(subcommand)]
        command: OfflineAuditCommand,
    },
    /// Applies the PostgreSQL migrations this database lacks (`relay serve` also does at
    /// start-up) and says how many ran.
    Migrate {
        /// The database (`postgres://…` or `host=… dbname=…`).
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
    },
    /// Dry run: JSON lines {"id","text","channel"} on stdin, one JSON line of draft,
    /// hand-off, reason, language, facts and verdict per input on stdout. Stores nothing.
    Draft {
        /// The knowledge file to draft from (TOML, v1 or v2).
        #[arg(long)]
        knowledge: PathBuf,
    },
    /// Knowledge files offline.
    Knowledge {
        #[command(subcommand)]
        command: OfflineKnowledgeCommand,
    },
}

#[derive(Subcommand)]
enum OfflineKnowledgeCommand {
    /// Rewrite a version 1 knowledge file as version 2 (comments kept): to stdout, or --out.
    Upgrade {
        file: PathBuf,
        /// Write here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum OfflineAuditCommand {
    /// Check a file written by `relay admin audit export`: every record recomputed from
    /// its event, the chain re-hashed, every event up to the header's head present.
    VerifyFile { file: PathBuf },
}

#[derive(Args)]
struct SimulateArgs {
    /// Address to serve the Graph endpoints and the /_sim control API on.
    #[arg(long, env = "SIM_LISTEN", default_value = "127.0.0.1:9090")]
    listen: std::net::SocketAddr,
    /// Base URL of the relay that receives the webhooks.
    #[arg(
        long,
        env = "RELAY_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    relay_url: String,
    /// Scenario files to play once listening, in order.
    #[arg(long)]
    scenario: Vec<PathBuf>,
    /// Accounts to register at start (TOML like a scenario without steps, or a JSON array).
    #[arg(long)]
    accounts: Option<PathBuf>,
    /// Pause before each follow-up webhook (echo, read receipt, status).
    #[arg(long, env = "SIM_FOLLOWUP_DELAY_MS", default_value_t = 50)]
    followup_delay_ms: u64,
}

#[derive(Args)]
struct AdminArgs {
    /// Base URL of the relay.
    #[arg(
        long,
        env = "RELAY_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    url: String,
    /// Extra CA certificate(s), PEM, to trust for an https relay with a private CA (the
    /// platform's roots are trusted too).
    #[arg(long, env = "RELAY_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Print the relay's JSON answer (for scripts) instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Partners (agencies).
    Partners {
        #[command(subcommand)]
        command: PartnerCommand,
    },
    /// Tenants (client businesses) of a partner.
    Tenants {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Partner viewers (report-only tokens).
    Viewers {
        #[command(subcommand)]
        command: ViewerCommand,
    },
    /// People of a tenant.
    Agents {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Connected Instagram accounts and WhatsApp numbers.
    Channels {
        #[command(subcommand)]
        command: ChannelCommand,
    },
    /// Conversations of a tenant.
    Threads {
        #[command(subcommand)]
        command: ThreadCommand,
    },
    /// Messages of one thread.
    Messages {
        #[command(subcommand)]
        command: MessageCommand,
    },
    /// The tenant's raw event log.
    Events {
        #[command(subcommand)]
        command: EventCommand,
    },
    /// A tenant's credits (one per reply sent).
    Credits {
        #[command(subcommand)]
        command: CreditCommand,
    },
    /// Connects waiting for the operator: an account proved through a connect flow while
    /// another tenant held it without proof (the relay logs each with its claim).
    Claims {
        #[command(subcommand)]
        command: ClaimCommand,
    },
    /// A tenant's evidence chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write a tenant's whole history and records as one file (JSON lines; tokens stay
    /// sealed, so the relay it is imported into needs the same master key).
    Export {
        #[arg(long)]
        tenant: String,
        /// File to write; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Create a tenant from a file `relay admin export` wrote (on sled or PostgreSQL).
    Import {
        /// File to read; standard input when absent.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// A tenant's knowledge file (catalog, policies, persona).
    Knowledge {
        #[command(subcommand)]
        command: KnowledgeCommand,
    },
    /// A tenant's canned replies (agents insert them by `/shortcut` in the desk).
    Canned {
        #[command(subcommand)]
        command: CannedCommand,
    },
    /// The master key that seals access tokens.
    Keys {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// A partner's report: per tenant volume, replies, first response, held drafts,
    /// failures and credits over the last 14 days (counts only, never contents); or, with
    /// `--tenant`, that business's own figures with a row per agent (its owners and the
    /// operator).
    Report {
        #[arg(long, required_unless_present = "tenant", conflicts_with = "tenant")]
        partner: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Upload a local file to Meta through a channel (WhatsApp's media upload, Instagram's
    /// attachment upload); prints the id a reply then names. Meta's type and size limits
    /// are checked by the relay before anything is sent.
    Upload {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        channel: String,
        /// image, video, audio or file.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Who the token is (the operator, a partner viewer, or a tenant's person).
    Me,
    /// A tenant's settings: auto-send, hiding comments, the default reply.
    Settings {
        #[command(subcommand)]
        command: settings::SettingsCommand,
    },
    /// A tenant's ordered reply rules (keyword or intent → canned reply or instruction).
    Rules {
        #[command(subcommand)]
        command: settings::RulesCommand,
    },
    /// A WhatsApp channel's message templates (from Meta, with their approval status).
    Templates {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        channel: String,
    },
    /// An Instagram channel's ice breakers (at Meta).
    IceBreakers {
        #[command(subcommand)]
        command: channel_settings::IceBreakerCommand,
    },
    /// One attachment of a stored message, fetched through the relay, into a file.
    Media {
        #[arg(long)]
        tenant: String,
        /// The message's Meta id (`mid` or WhatsApp message id).
        #[arg(long)]
        message: String,
        /// Which attachment, from 0.
        #[arg(long, default_value_t = 0)]
        n: u32,
        #[arg(long)]
        out: PathBuf,
    },
    /// The tenant's connect links not used yet (minted by the operator or an owner).
    ConnectLinks {
        #[arg(long)]
        tenant: String,
    },
    /// A single-use, expiring link the business opens in a browser to connect an account;
    /// prints the URL.
    ConnectLink {
        #[arg(long)]
        tenant: String,
        /// `instagram`, `facebook` or `whatsapp`.
        #[arg(long)]
        kind: String,
    },
}

#[derive(Subcommand)]
enum ClaimCommand {
    /// Give the account to the tenant that proved it: the unproven holder's channel is
    /// disconnected (its history stays), then the account is subscribed and saved.
    Confirm {
        /// The claim named in the relay's `connect conflict` log line.
        claim: String,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Rotate the master key while the relay serves: the relay makes the new key current
    /// and re-seals every channel's token under it (the old key keeps opening meanwhile).
    ///
    /// This prints the new key ONCE on stdout (the only command that shows a secret):
    /// store it as RELAY_MASTER_KEY before the next restart. It is never logged and the
    /// relay's answer never contains it. If the answer reports `failed` > 0, keep the old
    /// key in RELAY_OLD_MASTER_KEYS until those channels are reconnected.
    Rotate {
        /// The new key (base64 of 32 bytes); without it a random key is made. Prefer the
        /// environment variable, which stays out of shell history and `ps`.
        #[arg(long, env = "RELAY_NEW_MASTER_KEY", hide_env_values = true)]
        new_key: Option<String>,
    },
}

#[derive(Subcommand)]
enum CannedCommand {
    /// List them, with the text as written and as filled for the business.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Add one, or replace the one with the same shortcut. The text may use
    /// `{{customer.name}}`, `{{agent.name}}` and `{{business.name}}` (also `address`,
    /// `booking_url`, `hours_note`, `phone`, `whatsapp`, `email`, `website`, `instagram`).
    Set {
        #[arg(long)]
        tenant: String,
        /// Lowercase letters, digits, `-` and `_`: typed as `/shortcut` in the composer.
        #[arg(long)]
        shortcut: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        text: String,
    },
    Remove {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        shortcut: String,
    },
}

#[derive(Subcommand)]
enum KnowledgeCommand {
    /// Validate and load a knowledge file (TOML) for the tenant.
    Load {
        #[arg(long)]
        tenant: String,
        file: PathBuf,
    },
    /// Print the tenant's knowledge file.
    Show {
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Subcommand)]
enum CreditCommand {
    /// Show the balance.
    Show {
        #[arg(long)]
        tenant: String,
    },
    /// Top up (or, negative, take away).
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long, allow_negative_numbers = true)]
        add: i64,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute every record from its event, re-hash the chain, name the first event
    /// that does not match.
    Verify {
        #[arg(long)]
        tenant: String,
    },
    /// Write the tenant's events and audit records as JSON lines (check the file with
    /// `relay audit verify-file`).
    Export {
        #[arg(long)]
        tenant: String,
        /// File to write; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PartnerCommand {
    Create {
        #[arg(long)]
        name: String,
        /// Name shown to the partner's tenants.
        #[arg(long)]
        brand: Option<String>,
    },
    /// Every partner, with how many tenants each has.
    List,
    /// Change a partner's name and/or the brand its tenants see.
    Rename {
        #[arg(long)]
        partner: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        brand: Option<String>,
    },
    /// Delete a partner that has no tenants left (its viewers' tokens stop working).
    Delete {
        #[arg(long)]
        partner: String,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    Create {
        #[arg(long)]
        partner: String,
        #[arg(long)]
        name: String,
    },
    /// A partner's tenants.
    List {
        #[arg(long)]
        partner: String,
    },
    Rename {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
    },
    /// Delete a tenant for good: its channels are unsubscribed at Meta, its tokens, data
    /// and connected desks' copies erased; a deletion record stays.
    Delete {
        #[arg(long)]
        tenant: String,
        /// Required: there is no undo.
        #[arg(long)]
        yes: bool,
    },
    /// The records deleted tenants left (counts and the evidence chain's last head).
    Deletions,
}

#[derive(Subcommand)]
enum ViewerCommand {
    Create {
        #[arg(long)]
        partner: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum AgentCommand {
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["agent", "owner"], default_value = "agent")]
        role: String,
    },
    /// A tenant's people, with whether each token still works.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Stop a person's token at once (their desks are closed); the record stays.
    Revoke {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        agent: String,
    },
}

#[derive(Subcommand)]
enum ChannelCommand {
    /// Register an Instagram professional account.
    Instagram {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        account_id: String,
        #[arg(long)]
        page_id: Option<String>,
        #[arg(long)]
        username: Option<String>,
        /// File holding the access token (never pass tokens as arguments).
        #[arg(long)]
        access_token_file: Option<PathBuf>,
    },
    /// Register a WhatsApp Cloud API number.
    Whatsapp {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        phone_number_id: String,
        #[arg(long)]
        waba_id: Option<String>,
        #[arg(long)]
        access_token_file: Option<PathBuf>,
    },
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Disconnect a channel: unsubscribe at Meta, clear its token and account ids; its
    /// threads stay as history.
    Disconnect {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        channel: String,
    },
}

#[derive(Subcommand)]
enum ThreadCommand {
    List {
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Subcommand)]
enum MessageCommand {
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        thread: String,
    },
}

#[derive(Subcommand)]
enum EventCommand {
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 0)]
        after: u64,
    },
}

/// Entry point of the binary.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config } => serve(config),
        Command::Admin(args) => admin(args),
        Command::Simulate(args) => simulate(args),
        Command::Demo(args) => demo(args),
        Command::Audit {
            command: OfflineAuditCommand::VerifyFile { file },
        } => audit::verify_file(&file),
        Command::Draft { knowledge } => draft(&knowledge),
        Command::Knowledge {
            command: OfflineKnowledgeCommand::Upgrade { file, out },
        } => knowledge_upgrade(&file, out.as_deref()),
        Command::Migrate { database_url } => migrate(&database_url),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relay: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs to stderr at `RUST_LOG`, or at `default` without it.
fn log_to_stderr(default: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// `relay knowledge upgrade`: the v2 text, or the loader's error with its line or key.
fn knowledge_upgrade(path: &std::path::Path, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v2 =
        crate::knowledge::upgrade::upgrade(&text).with_context(|| format!("{}", path.display()))?;
    match out {
        Some(o) => {
            std::fs::write(o, v2).with_context(|| format!("cannot write {}", o.display()))?;
        }
        None => std::io::stdout()
            .write_all(v2.as_bytes())
            .context("cannot write stdout")?,
    }
    Ok(())
}

/// `relay draft`: reads stdin to its end, answering each non-empty line at once.
fn draft(path: &std::path::Path) -> anyhow::Result<()> {
    use std::io::BufRead as _;
    // Warnings (a language file of RELAY_LANG_DIR refused) go to stderr; stdout is JSON.
    log_to_stderr("warn");
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let knowledge = crate::knowledge::Knowledge::from_toml(&text)
        .with_context(|| format!("{}", path.display()))?;
    // The model is used as `relay serve` would, when configured; nothing else leaves.
    let llm = match std::env::var("LLM_BASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(base) => {
            let model = std::env::var("LLM_MODEL").context("LLM_BASE_URL needs LLM_MODEL")?;
            let key = std::env::var("LLM_API_KEY")
                .ok()
                .map(crate::secret::Secret::new);
            Some(crate::llm::Llm::new(&base, &model, key).context("cannot build HTTP client")?)
        }
        None => None,
    };
    let dry = crate::drafting::dry_run::DryRun::new(&knowledge);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start runtime")?;
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line.context("cannot read stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = rt.block_on(dry.answer(i + 1, &line, llm.as_ref()));
        writeln!(out, "{answer}").context("cannot write stdout")?;
        out.flush().context("cannot write stdout")?;
    }
    Ok(())
}

/// `relay migrate`: one line saying how many migrations ran.
fn migrate(url: &str) -> anyhow::Result<()> {
    let rt = runtime()?;
    let progress = progress::Progress::start("applying PostgreSQL migrations", None);
    let ran = rt.block_on(async {
        let store = crate::store::pg::PgStore::open(url).await?;
        // Open applied them; a second look answers 0 unless another relay raced it.
        let again = store.migrate().await?;
        Ok::<_, crate::store::StoreError>(store.applied_at_open() + again)
    });
    let ran = match ran {
        Ok(ran) => {
            progress.finish(&format!("migrations done: {ran} applied"));
            ran
        }
        Err(e) => {
            progress.finish("migrations not applied");
            return Err(e.into());
        }
    };
    println!(
        "{ran} migration(s) applied; schema at version {}",
        crate::store::pg::SCHEMA_VERSION
    );
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start runtime")
}

fn serve(config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let config = Config::load(config_path.as_deref(), |k| std::env::var(k).ok())?;
    log_to_stderr("info");
    let runtime = runtime()?;
    let served = runtime.block_on(async move {
        let (listen, data_dir) = (config.listen, config.data_dir.clone());
        let relay = crate::Relay::open(config).await?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let scheme = relay.scheme();
        tracing::info!(%addr, scheme, data_dir = %data_dir.display(), "relay serving");
        // One line on stdout tells scripts (and tests binding port 0) where we are; it is
        // printed only once storage is open, so it also means "ready".
        println!("relay listening on {scheme}://{addr}");
        let _ = std::io::stdout().flush();
        relay.serve(listener, shutdown_signal()).await?;
        Ok(())
    });
    // Storage is flushed by now; a blocking call still running must not hold the exit past
    // `RELAY_SHUTDOWN_SECS` (dropping the runtime would wait for it).
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    served
}

fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    use crate::secret::Secret;
    use crate::simulate::{self, Sim, SimConfig};
    let secret = |k: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .map(Secret::new)
    };
    let meta_app_secret =
        secret("META_APP_SECRET").context("META_APP_SECRET is required to sign webhooks")?;
    let sim = Sim::new(SimConfig {
        relay_url: args.relay_url,
        meta_app_secret,
        instagram_app_secret: secret("INSTAGRAM_APP_SECRET"),
        followup_delay_ms: args.followup_delay_ms,
    });
    if let Some(path) = &args.accounts {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let json = path.extension().is_some_and(|e| e == "json");
        simulate::load_accounts(&sim, &text, json)
            .with_context(|| format!("{}", path.display()))?;
    }
    // Scenarios are read before listening so a broken file fails the start, not later.
    let mut scenarios = Vec::new();
    for path in &args.scenario {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let parsed = simulate::scenario::parse(&text, |k| std::env::var(k).ok())
            .with_context(|| format!("{}", path.display()))?;
        scenarios.push(parsed);
    }
    log_to_stderr("info");
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, relay = %sim.relay_url(), "simulator serving");
        println!("relay simulate listening on http://{addr}");
        let _ = std::io::stdout().flush();
        let player = std::sync::Arc::clone(&sim);
        tokio::spawn(async move {
            for s in scenarios {
                match simulate::scenario::run(&player, s).await {
                    Ok(r) => tracing::info!(name = %r["name"], ok = %r["ok"], "scenario finished"),
                    Err(e) => tracing::warn!(error = %e, "scenario failed"),
                }
            }
        });
        simulate::serve(sim, listener, shutdown_signal()).await?;
        Ok(())
    })
}

fn demo(args: crate::demo::DemoArgs) -> anyhow::Result<()> {
    // Files are read and checked before anything listens, so a missing asset fails at once.
    let demo = crate::demo::Demo::prepare(args)?;
    log_to_stderr("info");
    let served = runtime()?.block_on(demo.run(shutdown_signal()));
    // The runtime is gone by now, and with it every task that held the store: only then
    // may the temporary directory go.
    let removed = demo.close();
    served?;
    Ok(removed?)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

fn read_token(path: Option<&PathBuf>) -> anyhow::Result<Option<String>> {
    path.map(|p| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_owned())
            .with_context(|| format!("cannot read {}", p.display()))
    })
    .transpose()
}

fn admin(args: AdminArgs) -> anyhow::Result<()> {
    let token = std::env::var("RELAY_OPERATOR_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .context("RELAY_OPERATOR_TOKEN is required for admin commands")?;
    let base = args.url.trim_end_matches('/').to_owned();
    let client = admin_client(args.ca_file.as_deref())?;
    let (method, path, body): (reqwest::Method, String, Option<Value>) = match args.command {
        AdminCommand::Partners {
            command: PartnerCommand::Create { name, brand },
        } => (
            reqwest::Method::POST,
            "/v1/partners".into(),
            Some(json!({"name": name, "brand": brand})),
        ),
        AdminCommand::Partners {
            command: PartnerCommand::List,
        } => (reqwest::Method::GET, "/v1/partners".into(), None),
        AdminCommand::Me => (reqwest::Method::GET, "/v1/me".into(), None),
        AdminCommand::Settings { command } => settings::settings(command),
        AdminCommand::Rules { command } => {
            let (method, path, body) = settings::rules(command)?;
            let json = args.json;
            return runtime()?.block_on(async move {
                let value = call_admin(&client, &base, &token, method, &path, body).await?;
                output::print(&settings::rules_of(&value), json)
            });
        }
        AdminCommand::Templates { tenant, channel } => {
            channel_settings::templates(&tenant, &channel)
        }
        AdminCommand::IceBreakers { command } => channel_settings::ice_breakers(command)?,
        AdminCommand::Media {
            tenant,
            message,
            n,
            out,
        } => {
            let path = format!("/v1/tenants/{tenant}/media/{message}/{n}");
            return runtime()?.block_on(async move {
                media::download(&client, &base, &token, &path, &out).await
            });
        }
        AdminCommand::ConnectLinks { tenant } => (
            reqwest::Method::GET,
            format!("/v1/tenants/{tenant}/connect-links"),
            None,
        ),
        AdminCommand::Tenants {
            command: TenantCommand::List { partner },
        } => (
            reqwest::Method::GET,
            format!("/v1/partners/{partner}/tenants"),
            None,
        ),
        AdminCommand::Agents {
            command: AgentCommand::List { tenant },
        } => (
            reqwest::Method::GET,
            format!("/v1/tenants/{tenant}/agents"),
            None,
        ),
        AdminCommand::Agents {
            command: AgentCommand::Revoke { tenant, agent },
        } => (
            reqwest::Method::DELETE,
            format!("/v1/tenants/{tenant}/agents/{agent}"),
            None,
        ),
        AdminCommand::Partners {
            command:
                PartnerCommand::Rename {
                    partner,
                    name,
                    brand,
                },
        } => (
            reqwest::Method::PATCH,
            format!("/v1/partners/{partner}"),
            Some(json!({"name": name, "brand": brand})),
        ),
        AdminCommand::Partners {
            command: PartnerCommand::Delete { partner },
        } => (
            reqwest::Method::DELETE,
            format!("/v1/partners/{partner}"),
            None,
        ),
        AdminCommand::Tenants {
            command: TenantCommand::Rename { tenant, name },
        } => (
            reqwest::Method::PATCH,
            format!("/v1/tenants/{tenant}"),
            Some(json!({ "name": name })),
        ),
        AdminCommand::Tenants {
            command: TenantCommand::Delete { tenant, yes },
        } => {
            if !yes {
                bail!("deleting tenant {tenant} cannot be undone: add --yes to go ahead");
            }
            return delete_tenant(&client, &base, &token, &tenant, args.json);
        }
        AdminCommand::Tenants {
            command: TenantCommand::Deletions,
        } => (reqwest::Method::GET, "/v1/tenant-deletions".into(), None),
        AdminCommand::Tenants {
            command: TenantCommand::Create { partner, name },
        } => (
            reqwest::Method::POST,
            format!("/v1/partners/{partner}/tenants"),
            Some(json!({"name": name})),
        ),
        AdminCommand::Viewers {
            command: ViewerCommand::Create { partner, name },
        } => (
            reqwest::Method::POST,
            format!("/v1/partners/{partner}/viewers"),
            Some(json!({"name": name})),
        ),
        AdminCommand::Agents {
            command: AgentCommand::Create { tenant, name, role },
        } => (
            reqwest::Method::POST,
            format!("/v1/tenants/{tenant}/agents"),
            Some(json!({"name": name, "role": role})),
        ),
        AdminCommand::Channels { command } => match command {
            ChannelCommand::Instagram {
                tenant,
                account_id,
                page_id,
                username,
                access_token_file,
            } => {
                let token = read_token(access_token_file.as_ref())?;
                (
                    reqwest::Method::POST,
                    format!("/v1/tenants/{tenant}/channels"),
                    Some(
                        json!({"kind": "instagram", "account_id": account_id, "page_id": page_id,
                                "username": username, "access_token": token}),
                    ),
                )
            }
            ChannelCommand::Whatsapp {
                tenant,
                phone_number_id,
                waba_id,
                access_token_file,
            } => {
                let token = read_token(access_token_file.as_ref())?;
                (
                    reqwest::Method::POST,
                    format!("/v1/tenants/{tenant}/channels"),
                    Some(
                        json!({"kind": "whatsapp", "phone_number_id": phone_number_id,
                                "waba_id": waba_id, "access_token": token}),
                    ),
                )
            }
            ChannelCommand::List { tenant } => (
                reqwest::Method::GET,
                format!("/v1/tenants/{tenant}/channels"),
                None,
            ),
            ChannelCommand::Disconnect { tenant, channel } => (
                reqwest::Method::DELETE,
                format!("/v1/tenants/{tenant}/channels/{channel}"),
                None,
            ),
        },
        AdminCommand::Threads {
            command: ThreadCommand::List { tenant },
        } => (
            reqwest::Method::GET,
            format!("/v1/tenants/{tenant}/threads"),
            None,
        ),
        AdminCommand::Messages {
            command: MessageCommand::List { tenant, thread },
        } => (
            reqwest::Method::GET,
            format!("/v1/tenants/{tenant}/threads/{thread}/messages"),
            None,
        ),
        AdminCommand::Events {
            command: EventCommand::List { tenant, after },
        } => (
            reqwest::Method::GET,
            format!("/v1/tenants/{tenant}/events?after={after}"),
            None,
        ),
        AdminCommand::Credits {
            command: CreditCommand::Show { tenant },
        } => (
            reqwest::Method::GET,
            format!("/v1/tenants/{tenant}/credits"),
            None,
        ),
        AdminCommand::Credits {
            command: CreditCommand::Add { tenant, add },
        } => (
            reqwest::Method::POST,
            format!("/v1/tenants/{tenant}/credits"),
            Some(json!({ "add": add })),
        ),
        AdminCommand::Audit {
            command: AuditCommand::Export { tenant, out },
        } => return export_audit(&client, &base, &token, &tenant, out.as_deref(), false),
        AdminCommand::Export { tenant, out } => {
            return export_audit(&client, &base, &token, &tenant, out.as_deref(), true);
        }
        AdminCommand::Import { file } => {
            return moving::import(&client, &base, &token, file.as_deref());
        }
        AdminCommand::Audit {
            command: AuditCommand::Verify { tenant },
        } => (
            reqwest::Method::GET,
            format!("/v1/tenants/{tenant}/audit/verify"),
            None,
        ),
        AdminCommand::Report { partner, tenant } => (
            reqwest::Method::GET,
            match (partner, tenant) {
                (Some(partner), _) => format!("/v1/partners/{partner}/report"),
                (None, Some(tenant)) => format!("/v1/tenants/{tenant}/report"),
                (None, None) => bail!("name --partner or --tenant"),
            },
            None,
        ),
        AdminCommand::Upload {
            tenant,
            channel,
            kind,
            file,
        } => {
            let path = format!("/v1/tenants/{tenant}/channels/{channel}/media");
            return runtime()?.block_on(async move {
                media::upload(&client, &base, &token, &path, &kind, &file).await
            });
        }
        AdminCommand::Claims {
            command: ClaimCommand::Confirm { claim },
        } => (
            reqwest::Method::POST,
            format!("/v1/connect-claims/{claim}/confirm"),
            None,
        ),
        AdminCommand::Canned { command } => match command {
            CannedCommand::List { tenant } => (
                reqwest::Method::GET,
                format!("/v1/tenants/{tenant}/canned"),
                None,
            ),
            CannedCommand::Set {
                tenant,
                shortcut,
                title,
                text,
            } => (
                reqwest::Method::PUT,
                format!("/v1/tenants/{tenant}/canned/{shortcut}"),
                Some(json!({"title": title, "text": text})),
            ),
            CannedCommand::Remove { tenant, shortcut } => (
                reqwest::Method::DELETE,
                format!("/v1/tenants/{tenant}/canned/{shortcut}"),
                None,
            ),
        },
        AdminCommand::Keys {
            command: KeyCommand::Rotate { new_key },
        } => return rotate_key(&client, &base, &token, new_key.as_deref(), args.json),
        AdminCommand::ConnectLink { tenant, kind } => {
            return connect_link(&client, &base, &token, &tenant, &kind, args.json);
        }
        // Knowledge travels as TOML text, not JSON.
        AdminCommand::Knowledge { command } => {
            return knowledge(&client, &base, &token, command, args.json);
        }
    };
    let json = args.json;
    runtime()?.block_on(async move {
        let value = call_admin(&client, &base, &token, method, &path, body).await?;
        output::print(&value, json)?;
        // A broken evidence chain must fail scripts that check it.
        audit::broken(&value)
    })
}

/// `relay admin tenants delete`: a spinner while the relay works, then the deletion
/// record and a final count.
fn delete_tenant(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    tenant: &str,
    json: bool,
) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let progress = progress::Progress::start(&format!("deleting tenant {tenant}"), None);
        let path = format!("/v1/tenants/{tenant}");
        let value = call_admin(client, base, token, reqwest::Method::DELETE, &path, None).await;
        let value = match value {
            Ok(v) => v,
            Err(e) => {
                progress.finish(&format!("tenant {tenant} not deleted"));
                return Err(e);
            }
        };
        let removed = &value["deleted"]["removed"];
        progress.finish(&format!(
            "deleted tenant {tenant}: {} events, {} keys, {} people, {} channels",
            removed["events"], removed["keys"], removed["agents"], removed["channels"]
        ));
        output::print(&value["deleted"], json)
    })
}

/// `relay admin audit export`: JSON lines to `out` or standard output; the count on stderr.
///
/// `whole`: `relay admin export`, the tenant file (its records as the header line, from
/// `GET /v1/tenants/{t}/export`, then the log up to that header's head).
fn export_audit(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    tenant: &str,
    out: Option<&std::path::Path>,
    whole: bool,
) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let header = if whole {
            let path = format!("/v1/tenants/{tenant}/export");
            Some(call_admin(client, base, token, reqwest::Method::GET, &path, None).await?)
        } else {
            None
        };
        let header = header.as_ref();
        let mut progress: Option<progress::Progress> = None;
        let mut on_page = |head: u64, n: u64| {
            progress
                .get_or_insert_with(|| {
                    progress::Progress::start(&format!("exporting tenant {tenant}"), Some(head))
                })
                .advance(n);
        };
        let written = match out {
            Some(path) => {
                let mut file = std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                let n = audit::export(client, base, token, tenant, header, &mut file, &mut on_page)
                    .await?;
                file.sync_all()?;
                n
            }
            None => {
                let mut stdout = std::io::stdout().lock();
                audit::export(
                    client,
                    base,
                    token,
                    tenant,
                    header,
                    &mut stdout,
                    &mut on_page,
                )
                .await?
            }
        };
        let line = format!("exported events 1..={written} of tenant {tenant}");
        match progress {
            Some(p) => p.finish(&line),
            None => eprintln!("{line}"),
        }
        Ok(())
    })
}

/// The HTTP client of `relay admin`: the platform's root certificates plus, for a relay
/// with a private CA, the certificates in `ca_file`.
fn admin_client(ca_file: Option<&std::path::Path>) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read the CA file {}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .ok()
            .filter(|c| !c.is_empty())
            .with_context(|| format!("{} holds no PEM certificate", path.display()))?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().context("cannot build the HTTP client")
}

/// Why a request did not reach the relay, in one line; a certificate problem says so first.
fn unreachable(base: &str, error: &reqwest::Error) -> anyhow::Error {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        causes.push(e.to_string());
        source = e.source();
    }
    let detail = causes.join(": ");
    if detail.contains("certificate") {
        anyhow::anyhow!("cannot reach {base}: TLS certificate refused: {detail}")
    } else {
        anyhow::anyhow!("cannot reach {base}: {detail}")
    }
}

/// One admin API call with the operator token: the answer's JSON, or the relay's error code
/// and message as the error.
async fn call_admin(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut request = client
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(|e| unreachable(base, &e))?;
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(refused(status, &value));
    }
    Ok(value)
}

/// The relay's refusal in one line: status, error code and message.
fn refused(status: reqwest::StatusCode, answer: &Value) -> anyhow::Error {
    let code = answer["error"]["code"].as_str().unwrap_or("error");
    let message = answer["error"]["message"].as_str().unwrap_or("no details");
    anyhow::anyhow!("{status}: {code}: {message}")
}

/// `relay admin connect-link`: only the URL on stdout (scripts pass it on), the expiry on
/// stderr.
fn connect_link(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    tenant: &str,
    kind: &str,
    json: bool,
) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let path = format!("/v1/tenants/{tenant}/connect-links");
        let body = json!({ "kind": kind });
        let value = call_admin(
            client,
            base,
            token,
            reqwest::Method::POST,
            &path,
            Some(body),
        )
        .await?;
        if json {
            return output::print(&value, true);
        }
        let url = value["url"].as_str().context("the relay answered no url")?;
        println!("{url}");
        eprintln!(
            "single use; expires at {} (Unix ms)",
            value["expires_at"].as_i64().unwrap_or_default()
        );
        Ok(())
    })
}

fn rotate_key(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    given: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    use crate::vault::MasterKey;
    let key = match given.filter(|k| !k.trim().is_empty()) {
        Some(text) => MasterKey::from_base64(text)
            .map_err(|reason| anyhow::anyhow!("the new key {reason}"))?,
        None => MasterKey::generate(),
    };
    runtime()?.block_on(async move {
        let body = json!({ "key": key.to_base64() });
        let progress = progress::Progress::start("re-sealing every channel token", None);
        let value = call_admin(
            client,
            base,
            token,
            reqwest::Method::POST,
            "/v1/keys/rotate",
            Some(body),
        )
        .await;
        let value = match value {
            Ok(v) => v,
            Err(e) => {
                progress.finish("key not rotated");
                return Err(e);
            }
        };
        progress.finish(&format!(
            "key rotated: {} channel tokens re-sealed, {} failed",
            value["resealed"], value["failed"]
        ));
        output::print(&value, json)?;
        // The one place a secret is shown: the operator must store it before a restart.
        println!("RELAY_MASTER_KEY={}", key.to_base64());
        eprintln!(
            "Store the RELAY_MASTER_KEY line above (shown only now) in the relay's environment \
             before its next restart; keep the previous key in RELAY_OLD_MASTER_KEYS if \
             `failed` is not 0."
        );
        if value["failed"].as_u64().unwrap_or(0) > 0 {
            bail!("{} channel tokens could not be re-sealed", value["failed"]);
        }
        Ok(())
    })
}

fn knowledge(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    command: KnowledgeCommand,
    json: bool,
) -> anyhow::Result<()> {
    let (request, shows_file) = {
        match command {
            KnowledgeCommand::Load { tenant, file } => {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                let request = client
                    .put(format!("{base}/v1/tenants/{tenant}/knowledge"))
                    .header("content-type", "application/toml")
                    .body(text);
                (request, false)
            }
            KnowledgeCommand::Show { tenant } => (
                client.get(format!("{base}/v1/tenants/{tenant}/knowledge")),
                true,
            ),
        }
    };
    runtime()?.block_on(async move {
        let response = request
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| unreachable(base, &e))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Err(refused(status, &value));
        }
        if shows_file {
            print!("{text}");
        } else {
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            output::print(&value, json)?;
        }
        Ok(())
    })
}
