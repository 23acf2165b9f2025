//! `relay demo`: a relay, the Meta simulator and a provisioned demo tenant in one process,
//! for a first look at chatdesk and for `desk demo`, which starts it as a child process.
//!
//! # Running
//!
//! `relay demo [--listen 127.0.0.1:0] [--sim-listen 127.0.0.1:0] [--data-dir DIR]
//! [--scenario assets/scenarios/demo.toml] [--knowledge assets/knowledge/boutique.toml]
//! [--no-play]`
//!
//! 1. Reads and checks the scenario and the knowledge file (default paths are relative to
//!    the repository this binary was built from, else to `./`; an error names the file).
//! 2. Makes a random operator token, master key, Meta app secret and verify token, held in
//!    memory only, and builds the relay's configuration from them: storage in `DIR/relay`,
//!    Graph hosts pointing at the in-process simulator. Other settings (`LLM_*`, desk
//!    timers) are read from the environment as `relay serve` reads them.
//! 3. Serves the relay exactly as `relay serve` does ([`crate::Relay`]) and the simulator as
//!    `relay simulate` does ([`crate::simulate::serve`]), pointed at each other.
//! 4. Provisions through the relay's own admin API over loopback (`provision`): partner
//!    "Nusantara Digital" (brand "Nusantara Desk") with a viewer, tenant "Sari Batik" with
//!    owner "Ayu (owner)" and agent "Rizky", one channel per scenario account, the
//!    knowledge, auto-send off, 500 credits. The three tokens go to `owner.token`,
//!    `agent.token`, `viewer.token` in DIR (mode 0600).
//! 5. Prints exactly one line to stdout and flushes it:
//!    `{"relay_url","simulator_url","partner","tenant","owner_token_file","agent_token_file",
//!    "viewer_token_file","data_dir"}` (absolute paths; never a token). Logs go to stderr.
//! 6. Plays the scenario's steps (unless `--no-play`) and serves until SIGTERM or Ctrl-C;
//!    then stops both servers, flushes storage, and removes DIR unless `--data-dir` named it.
//!
//! Without `--data-dir` the directory is a fresh one under the system's temporary directory.
//! A named directory must not hold an earlier demo: its access tokens were sealed under a
//! master key that only lived in that run's memory.

pub mod data_dir;
pub mod provision;

use crate::config::{Config, ConfigError};
use crate::knowledge::{Knowledge, KnowledgeError};
use crate::principal::new_token;
use crate::secret::Secret;
use crate::simulate::scenario::{self, Scenario, ScenarioError};
use crate::simulate::{self, Sim, SimConfig, SimError};
use crate::{Relay, RunError};
use data_dir::DataDir;
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The relay's sled store inside the data directory.
pub const STORE_DIR: &str = "relay";
/// Token files inside the data directory: owner, agent, partner viewer.
pub const TOKEN_FILES: [&str; 3] = ["owner.token", "agent.token", "viewer.token"];
/// Default scenario and knowledge, relative to the repository root (or to `./`).
pub const DEFAULT_SCENARIO: &str = "assets/scenarios/demo.toml";
pub const DEFAULT_KNOWLEDGE: &str = "assets/knowledge/boutique.toml";
/// Pause before each simulated follow-up (echo, read receipt, WhatsApp status): long enough
/// that a person sees a send go sent → delivered → read, short enough to feel live.
const FOLLOWUP_DELAY_MS: u64 = 300;
/// The demo's Meta app id (any digits do; nothing checks it against Meta).
const DEMO_APP_ID: &str = "1000000000000";
/// The demo's Instagram app id (Instagram Login's `client_id`, not the Meta app id).
const DEMO_INSTAGRAM_APP_ID: &str = "990000000000002";
/// The demo's Embedded Signup configuration id.
const DEMO_WHATSAPP_CONFIG_ID: &str = "demo-embedded-signup-config";

/// `relay demo`'s options.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Address the relay serves on (port 0: a free port, named in the JSON line).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Address the Meta simulator serves on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub sim_listen: SocketAddr,
    /// Keep the store and token files in DIR (kept at exit; must not hold an earlier demo).
    /// Default: a fresh temporary directory, removed at exit.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Scenario file: the simulator's accounts (and so the tenant's channels), customers and
    /// timeline. Default: assets/scenarios/demo.toml.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// The tenant's knowledge file. Default: assets/knowledge/boutique.toml.
    #[arg(long)]
    pub knowledge: Option<PathBuf>,
    /// Provision and serve, but leave the scenario's steps unplayed.
    #[arg(long)]
    pub no_play: bool,
}

/// Why the demo could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo {what} is missing: looked for {}", list(.tried))]
    MissingAsset {
        what: &'static str,
        tried: Vec<PathBuf>,
    },
    // The causes are part of each message (not `source`s), so `{:#}` at the binary's edge
    // prints every sentence once.
    #[error("cannot read {}: {error}", .path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: {error}", .path.display())]
    Scenario { path: PathBuf, error: ScenarioError },
    #[error("{}: the scenario declares no accounts, so the demo tenant would have no channels", .0.display())]
    NoAccounts(PathBuf),
    #[error("{}: {error}", .path.display())]
    Knowledge {
        path: PathBuf,
        error: KnowledgeError,
    },
    #[error("data directory {}: {reason}", .path.display())]
    DataDir { path: PathBuf, reason: String },
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("demo configuration: {0}")]
    Config(ConfigError),
    #[error(transparent)]
    Relay(#[from] RunError),
    #[error("simulator: {0}")]
    Simulator(String),
    #[error("provisioning the demo tenant: {call}: {reason}")]
    Provision { call: String, reason: String },
    #[error("cannot write the demo's line to stdout: {0}")]
    Stdout(std::io::Error),
    #[error("a demo task failed: {0}")]
    Task(String),
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The repository `relay` was built from: assets are found there when running from a
/// checkout, wherever the working directory is.
fn repo_root() -> Option<&'static Path> {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent()
}

/// `given` as is, or `relative` under the repository root, else under `./`.
fn asset(given: Option<PathBuf>, relative: &str, what: &'static str) -> Result<PathBuf, DemoError> {
    let tried: Vec<PathBuf> = match given {
        Some(p) => vec![p],
        None => repo_root()
            .map(|root| root.join(relative))
            .into_iter()
            .chain([Path::new(".").join(relative)])
            .collect(),
    };
    tried
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or(DemoError::MissingAsset { what, tried })
}

fn read(path: &Path) -> Result<String, DemoError> {
    std::fs::read_to_string(path).map_err(|error| DemoError::Read {
        path: path.to_owned(),
        error,
    })
}

/// A demo whose files are read and checked and whose directory exists; nothing listens yet.
/// (No `Debug`: the scenario holds the accounts' access tokens.)
pub struct Demo {
    dir: DataDir,
    listen: SocketAddr,
    sim_listen: SocketAddr,
    scenario: Scenario,
    knowledge: String,
    play: bool,
}

/// The one line on stdout: where everything is. Paths only, never a token.
#[derive(Debug, serde::Serialize)]
pub struct Announcement {
    pub relay_url: String,
    pub simulator_url: String,
    pub partner: String,
    pub tenant: String,
    pub owner_token_file: PathBuf,
    pub agent_token_file: PathBuf,
    pub viewer_token_file: PathBuf,
    pub data_dir: PathBuf,
}

/// The secrets of one demo run. They live in memory only: the relay's configuration and the
/// simulator are built from them in this process, so nothing needs to print or store them.
struct DemoSecrets {
    operator_token: Secret,
    master_key: Secret,
    app_secret: Secret,
    verify_token: Secret,
}

impl DemoSecrets {
    fn generate() -> DemoSecrets {
        use base64::Engine as _;
        use rand::RngCore as _;
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        DemoSecrets {
            operator_token: Secret::new(new_token()),
            master_key: Secret::new(base64::engine::general_purpose::STANDARD.encode(key)),
            app_secret: Secret::new(new_token()),
            verify_token: Secret::new(new_token()),
        }
    }
}

impl Demo {
    /// Reads and checks the scenario and the knowledge file and makes the data directory, so
    /// a missing or broken file fails before anything listens.
    ///
    /// # Errors
    /// A missing or invalid file, or a data directory that cannot be used.
    pub fn prepare(args: DemoArgs) -> Result<Demo, DemoError> {
        let scenario_path = asset(args.scenario, DEFAULT_SCENARIO, "scenario")?;
        let knowledge_path = asset(args.knowledge, DEFAULT_KNOWLEDGE, "knowledge file")?;
        let scenario = scenario::parse(&read(&scenario_path)?, |k| std::env::var(k).ok()).map_err(
            |error| DemoError::Scenario {
                path: scenario_path.clone(),
                error,
            },
        )?;
        if scenario.accounts.is_empty() {
            return Err(DemoError::NoAccounts(scenario_path));
        }
        let knowledge = read(&knowledge_path)?;
        Knowledge::from_toml(&knowledge).map_err(|error| DemoError::Knowledge {
            path: knowledge_path,
            error,
        })?;
        let dir = match &args.data_dir {
            Some(path) => DataDir::given(path)?,
            None => DataDir::temporary()?,
        };
        Ok(Demo {
            dir,
            listen: args.listen,
            sim_listen: args.sim_listen,
            scenario,
            knowledge,
            play: !args.no_play,
        })
    }

    /// Serves the relay and the simulator, provisions, prints the line, plays the scenario,
    /// and serves until `shutdown` resolves; then stops both servers and flushes storage.
    /// Call [`Demo::close`] afterwards, once the runtime is gone, to remove the directory.
    ///
    /// # Errors
    /// Listening, storage, provisioning or stdout fail, or a server stops badly.
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), DemoError> {
        // One stop signal for everything. The signal future is polled from the start, so a
        // SIGTERM while starting or provisioning is a clean stop (the directory is removed),
        // not the default instant death.
        let (stop, _) = watch::channel(false);
        let stopped = |stop: &watch::Sender<bool>| {
            let mut rx = stop.subscribe();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let signal = {
            let stop = stop.clone();
            tokio::spawn(async move {
                shutdown.await;
                stop.send_replace(true);
            })
        };
        let relay_listener = bind(self.listen).await?;
        let sim_listener = bind(self.sim_listen).await?;
        let relay_url = url(&relay_listener, self.listen)?;
        let sim_url = url(&sim_listener, self.sim_listen)?;
        let secrets = DemoSecrets::generate();
        let config = self.config(&secrets, &relay_listener, &relay_url, &sim_url)?;
        let relay = Relay::open(config).await?;
        let sim = Sim::new(SimConfig {
            relay_url: relay_url.clone(),
            meta_app_secret: secrets.app_secret.clone(),
            instagram_app_secret: None,
            followup_delay_ms: FOLLOWUP_DELAY_MS,
        });
        // Accounts and customers exist at once, so Graph calls work even with `--no-play`.
        for spec in &self.scenario.accounts {
            sim.register(spec.clone()).map_err(DemoError::Simulator)?;
        }
        for c in &self.scenario.customers {
            simulate::inbound::declare_customer(&sim, c)
                .map_err(|e| DemoError::Simulator(e.to_string()))?;
        }

        let relay_task = tokio::spawn(relay.serve(relay_listener, stopped(&stop)));
        let sim_task = tokio::spawn(simulate::serve(
            Arc::clone(&sim),
            sim_listener,
            stopped(&stop),
        ));

        let started = tokio::select! {
            r = self.announce(&relay_url, &sim_url, secrets.operator_token.clone()) => r.map(Some),
            () = stopped(&stop) => Ok(None),
        };
        let mut player = None;
        if let Ok(Some(_)) = &started {
            tracing::info!(relay = %relay_url, simulator = %sim_url, "demo ready");
            if self.play {
                let scenario = self.scenario.clone();
                let sim = Arc::clone(&sim);
                player = Some(tokio::spawn(async move { play(&sim, scenario).await }));
            }
            stopped(&stop).await;
        }
        tracing::info!("demo stopping");
        // No more customer actions while the servers drain.
        if let Some(p) = player {
            p.abort();
        }
        stop.send_replace(true);
        signal.abort();
        let relay_end = relay_task.await;
        let sim_end = sim_task.await;
        started?;
        relay_end.map_err(|e| DemoError::Task(e.to_string()))??;
        sim_end
            .map_err(|e| DemoError::Task(e.to_string()))?
            .map_err(|e: SimError| DemoError::Simulator(e.to_string()))?;
        Ok(())
    }

    /// Removes the data directory if it is temporary. Call it after the runtime that ran
    /// [`Demo::run`] is dropped: only then has every task holding the store let go of it.
    ///
    /// # Errors
    /// The directory cannot be removed.
    pub fn close(self) -> Result<(), DemoError> {
        let temporary = self.dir.is_temporary();
        let path = self.dir.path().to_owned();
        self.dir.close()?;
        if temporary {
            tracing::info!(dir = %path.display(), "demo directory removed");
        }
        Ok(())
    }

    /// The relay's configuration, through the same validation as `relay serve`'s: the demo
    /// decides every address, secret and the storage; anything else comes from the
    /// environment as it would for `relay serve`.
    fn config(
        &self,
        secrets: &DemoSecrets,
        listener: &TcpListener,
        relay_url: &str,
        sim_url: &str,
    ) -> Result<Config, DemoError> {
        let listen = listener
            .local_addr()
            .map_err(|error| DemoError::Listen {
                addr: self.listen,
                error,
            })?
            .to_string();
        let store = self.dir.path().join(STORE_DIR).display().to_string();
        let decided = |key: &str| -> Option<Option<String>> {
            let v = |s: &str| Some(Some(s.to_owned()));
            match key {
                "RELAY_LISTEN" => v(&listen),
                "RELAY_DATA_DIR" => v(&store),
                "RELAY_STORAGE" => v("sled"),
                "RELAY_PUBLIC_URL" => v(relay_url),
                "RELAY_OPERATOR_TOKEN" => v(secrets.operator_token.expose()),
                "RELAY_MASTER_KEY" => v(secrets.master_key.expose()),
                "META_APP_ID" => v(DEMO_APP_ID),
                "META_APP_SECRET" => v(secrets.app_secret.expose()),
                "META_VERIFY_TOKEN" => v(secrets.verify_token.expose()),
                "META_GRAPH_URL"
                | "INSTAGRAM_GRAPH_URL"
                | "INSTAGRAM_OAUTH_URL"
                | "FACEBOOK_OAUTH_URL" => v(sim_url),
                // Connect links work in the demo too: the simulator plays Meta's consent
                // pages and Embedded Signup.
                "INSTAGRAM_APP_ID" => v(DEMO_INSTAGRAM_APP_ID),
                "WHATSAPP_SDK_URL" => v(&format!("{sim_url}/sdk.js")),
                "WHATSAPP_CONFIG_ID" => v(DEMO_WHATSAPP_CONFIG_ID),
                // The simulator signs everything with the Meta app secret.
                "INSTAGRAM_APP_SECRET" | "DATABASE_URL" => Some(None),
                _ => None,
            }
        };
        Config::load(None, |key| {
            decided(key).unwrap_or_else(|| std::env::var(key).ok())
        })
        .map_err(DemoError::Config)
    }

    /// Provisions, writes the token files and prints the line.
    async fn announce(
        &self,
        relay_url: &str,
        sim_url: &str,
        operator: Secret,
    ) -> Result<Announcement, DemoError> {
        let made = provision::provision(
            relay_url,
            operator,
            &self.scenario.accounts,
            &self.knowledge,
        )
        .await?;
        let [owner, agent, viewer] = TOKEN_FILES;
        let announcement = Announcement {
            relay_url: relay_url.to_owned(),
            simulator_url: sim_url.to_owned(),
            owner_token_file: self.dir.write_secret(owner, made.owner_token.expose())?,
            agent_token_file: self.dir.write_secret(agent, made.agent_token.expose())?,
            viewer_token_file: self.dir.write_secret(viewer, made.viewer_token.expose())?,
            partner: made.partner,
            tenant: made.tenant,
            data_dir: self.dir.path().to_owned(),
        };
        let line = serde_json::to_string(&announcement)
            .map_err(|e| DemoError::Stdout(std::io::Error::other(e)))?;
        // One line, flushed at once: a parent process reads it and connects.
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(DemoError::Stdout)?;
        Ok(announcement)
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, DemoError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| DemoError::Listen { addr, error })
}

/// The base URL of what `listener` (bound to `asked`) really listens on: port 0 became a
/// real port, which the JSON line must name.
fn url(listener: &TcpListener, asked: SocketAddr) -> Result<String, DemoError> {
    let addr = listener
        .local_addr()
        .map_err(|error| DemoError::Listen { addr: asked, error })?;
    Ok(format!("http://{addr}"))
}

/// Plays the scenario's timeline; failed steps are logged and the run goes on (a step that
/// needs something the demo's viewer has not done yet must not end the show).
async fn play(sim: &Arc<Sim>, scenario: Scenario) {
    match scenario::run(sim, scenario).await {
        Ok(report) => {
            let failed = report["steps"]
                .as_array()
                .map_or(0, |s| s.iter().filter(|s| s.get("error").is_some()).count());
            tracing::info!(name = %report["name"], ok = %report["ok"], failed, "demo scenario finished");
        }
        Err(e) => tracing::warn!(error = %e, "demo scenario could not start"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_asset_names_every_place_looked() {
        let e = asset(None, "assets/nope.toml", "scenario")
            .map(|_| ())
            .map_err(|e| e.to_string());
        let e = e.err().unwrap_or_default();
        assert!(e.starts_with("the demo scenario is missing"), "{e}");
        assert!(e.contains("assets/nope.toml and ./assets/nope.toml"), "{e}");
        let given = asset(Some("x/y.toml".into()), "unused", "knowledge file")
            .map_err(|e| e.to_string())
            .err()
            .unwrap_or_default();
        assert_eq!(
            given,
            "the demo knowledge file is missing: looked for x/y.toml"
        );
    }

    #[test]
    fn the_shipped_demo_assets_are_found_and_valid() {
        let args = DemoArgs {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            sim_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: None,
            scenario: None,
            knowledge: None,
            no_play: true,
        };
        let demo = Demo::prepare(args).unwrap_or_else(|e| panic!("{e}"));
        assert!(demo.scenario.accounts.len() >= 2);
        let dir = demo.dir.path().to_owned();
        assert!(dir.is_dir());
        demo.close().unwrap_or_else(|e| panic!("{e}"));
        assert!(!dir.exists());
    }
}
