//! `desk-probe`: a headless desk process for end-to-end tests. It runs the real sync
//! engine on a replica directory, reads commands (JSON, one per line) from stdin and
//! submits them, and prints one line per happening on stdout, so a test can drive it and
//! `kill -9` it at a chosen moment:
//!
//! `queued <key>` · `answer <key> <answer json>` · `cursor <seq>` · `state <state>`

use anyhow::Context as _;
use clap::Parser;
use desk_tui::{BackoffConfig, Replica, SyncConfig, SyncHandle, Token, Update};
use protocol::Command;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Parser)]
struct Args {
    /// Relay base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    relay: String,
    /// Replica base directory.
    #[arg(long)]
    data: PathBuf,
    /// Agent token (from the environment, so it is not visible in `ps`).
    #[arg(long, env = "DESK_TOKEN", hide_env_values = true)]
    token: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config = SyncConfig::new(args.relay, Token::new(args.token));
    config.data_dir = Some(args.data);
    config.backoff = BackoffConfig {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
    };
    let replica = Replica::open(&config).context("replica")?;
    println!("cursor {}", replica.cursor()?);
    let engine = SyncHandle::spawn(config, replica)?;
    let mut updates = engine.subscribe();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    println!("state {}", engine.state());
    loop {
        tokio::select! {
            line = lines.next_line() => match line? {
                Some(line) if !line.trim().is_empty() => {
                    let command: Command = serde_json::from_str(&line).context("command")?;
                    let key = engine.submit(command).await?;
                    println!("queued {key}");
                }
                Some(_) => {}
                None => break,
            },
            update = updates.recv() => match update {
                Ok(Update::Applied { cursor }) => println!("cursor {cursor}"),
                Ok(Update::Answered { key, answer }) => {
                    println!("answer {key} {}", serde_json::to_string(&answer)?);
                }
                Ok(Update::Queued { .. }) => {}
                Ok(Update::State(state)) => println!("state {state}"),
                Ok(Update::Erased) => println!("erased"),
                Err(e) => println!("lagged {e}"),
            },
        }
    }
    engine.shutdown().await?;
    Ok(())
}
