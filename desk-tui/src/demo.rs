//! `desk demo`: starts `relay demo` (a relay on a temporary sled directory with the Meta
//! simulator playing the demo shop) as a child process, waits for its one line of JSON,
//! and opens the desk on it with the first-keys hint. Quitting the desk stops the relay,
//! which removes its temporary directory.

use crate::Token;
use crate::app::keymap::Keymap;
use crate::profiles::read_token;
use crate::run::{self, ProfileSpec, RunOptions};
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Who the demo desk signs in as.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum DemoRole {
    /// The shop's owner: conversations and the settings screen (S).
    Owner,
    /// An agent of the shop.
    Agent,
    /// The agency's partner viewer: the report.
    Partner,
}

#[derive(Clone, Debug, clap::Args)]
pub struct DemoArgs {
    /// Sign in as the owner (default), an agent, or the partner viewer.
    #[arg(long = "as", value_enum, default_value = "owner")]
    pub role: DemoRole,
    /// The relay binary (default: `relay` next to this `desk`, else on PATH).
    #[arg(long, env = "CHATDESK_RELAY_BIN")]
    pub relay_bin: Option<PathBuf>,
    /// Extra arguments for `relay demo` (e.g. `--scenario FILE`).
    #[arg(last = true)]
    pub relay_args: Vec<String>,
}

/// The line `relay demo` prints when it is ready.
#[derive(Clone, Debug, Deserialize)]
pub struct Ready {
    pub relay_url: String,
    pub owner_token_file: PathBuf,
    pub agent_token_file: PathBuf,
    pub viewer_token_file: PathBuf,
    pub data_dir: PathBuf,
}

fn relay_binary(args: &DemoArgs) -> PathBuf {
    if let Some(bin) = &args.relay_bin {
        return bin.clone();
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("relay")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("relay"))
}

/// Starts `relay demo` and reads its ready line. Its logs go to `log`.
///
/// # Errors
/// The binary cannot start, exits early, or says nothing within 60 s.
pub async fn start_relay(args: &DemoArgs, log: std::fs::File) -> Result<(Child, Ready)> {
    let bin = relay_binary(args);
    let mut child = Command::new(&bin)
        .arg("demo")
        .args(&args.relay_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| {
            format!(
                "cannot start {} (build it with `cargo build --release -p relay`, or pass --relay-bin)",
                bin.display()
            )
        })?;
    let stdout = child.stdout.take().context("relay demo has no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .context("relay demo did not get ready within 60 s")??;
    let Some(line) = line else {
        let status = child.wait().await?;
        bail!("relay demo exited ({status}) before it was ready");
    };
    let ready: Ready = serde_json::from_str(&line)
        .with_context(|| "relay demo's ready line is not the expected JSON".to_owned())?;
    Ok((child, ready))
}

/// Runs the demo until the desk quits, then stops the relay.
///
/// # Errors
/// The relay could not start, or the desk failed.
pub async fn run(args: DemoArgs, keymap: Keymap, bell: bool) -> Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("chatdesk-demo-desk-")
        .tempdir()?;
    let log_path = scratch.path().join("relay.log");
    let log = std::fs::File::create(&log_path)?;
    let _desk_log = crate::logging::to_file(Some(scratch.path()));
    eprintln!("starting the demo relay and the Meta simulator…");
    let (mut child, ready) = start_relay(&args, log).await?;
    let token_file = match args.role {
        DemoRole::Owner => &ready.owner_token_file,
        DemoRole::Agent => &ready.agent_token_file,
        DemoRole::Partner => &ready.viewer_token_file,
    };
    let token = Token::new(read_token(token_file)?);
    let result = run::run(RunOptions {
        profiles: vec![ProfileSpec {
            name: "demo".into(),
            relay: ready.relay_url.clone(),
            token,
            ca_file: None,
        }],
        keymap,
        bell,
        data_dir: Some(scratch.path().join("replicas")),
        hint: true,
        images: true,
    })
    .await;
    stop(&mut child).await;
    result
}

/// SIGTERM, then up to 10 s for a clean shutdown (it removes its temporary data), then kill.
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // `unsafe` is forbidden in this workspace, so the signal goes through kill(1).
        let _ = send_term(pid);
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

fn send_term(pid: i32) -> std::io::Result<()> {
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other("kill failed"))
    }
}
