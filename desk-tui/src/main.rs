//! The `desk` binary: the agents' terminal client (`desk`), and `desk demo`, which starts
//! a relay with the Meta simulator and opens the desk on it.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use desk_tui::app::keymap::Keymap;
use desk_tui::profiles::{self, FileConfig};
use desk_tui::run::{self, ProfileSpec, RunOptions};
use desk_tui::{Token, demo};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "desk",
    version,
    about = "chatdesk: answer Instagram and WhatsApp customers from the terminal"
)]
struct Cli {
    /// The relay's base URL (with --token-file; otherwise the config file's profiles).
    #[arg(long, env = "DESK_RELAY")]
    relay: Option<String>,
    /// A file holding the agent token (first line).
    #[arg(long, env = "DESK_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Profiles of the config file to open together (default: all of them).
    #[arg(long = "profile", value_name = "NAME")]
    profiles: Vec<String>,
    /// The config file (profiles, keys, bell).
    #[arg(long, env = "DESK_CONFIG")]
    config: Option<PathBuf>,
    /// Extra CA certificates (PEM) for an https:// relay with a private CA; overrides the
    /// profiles' `ca_file`.
    #[arg(long, env = "DESK_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Where replicas are kept (default: the platform data directory).
    #[arg(long, env = "DESK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Never draw images inline, even where the terminal could (kitty, iTerm2, sixel).
    #[arg(long, env = "DESK_NO_IMAGES")]
    no_images: bool,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Subcommand)]
enum Sub {
    /// Start a relay with the Meta simulator playing a demo shop, and open the desk on it.
    Demo(demo::DemoArgs),
}

fn main() -> std::process::ExitCode {
    match main_inner() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("desk: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn main_inner() -> Result<()> {
    let cli = Cli::parse();
    let (config_path, required) = match &cli.config {
        Some(path) => (path.clone(), true),
        None => (
            profiles::default_path().unwrap_or_else(|| PathBuf::from("desk.toml")),
            false,
        ),
    };
    let file = profiles::load(&config_path, required)?;
    let keymap = Keymap::with_overrides(&file.keys)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("in {}", config_path.display()))?;
    let runtime = tokio::runtime::Runtime::new()?;
    if let Some(Sub::Demo(args)) = cli.command {
        return runtime.block_on(demo::run(args, keymap, file.bell));
    }
    let specs = specs(&cli, &file, &config_path)?;
    let _log = desk_tui::logging::to_file(cli.data_dir.as_deref().or(file.data_dir.as_deref()));
    runtime.block_on(run::run(RunOptions {
        profiles: specs,
        keymap,
        bell: file.bell,
        data_dir: cli.data_dir.or(file.data_dir),
        hint: false,
        images: !cli.no_images,
    }))
}

fn specs(cli: &Cli, file: &FileConfig, path: &std::path::Path) -> Result<Vec<ProfileSpec>> {
    match (&cli.relay, &cli.token_file) {
        (Some(relay), Some(token_file)) => Ok(vec![ProfileSpec {
            name: "desk".into(),
            relay: relay.clone(),
            token: Token::new(profiles::read_token(token_file)?),
            ca_file: cli.ca_file.as_deref().map(profiles::expand),
        }]),
        (Some(_), None) => bail!("--relay needs --token-file (or DESK_TOKEN_FILE)"),
        (None, Some(_)) => bail!("--token-file needs --relay (or DESK_RELAY)"),
        (None, None) => {
            let chosen = file.select(&cli.profiles, path)?;
            if chosen.is_empty() {
                bail!(
                    "nothing to open: pass --relay URL --token-file FILE, or add [[profile]] \
                     entries to {} (or try `desk demo`)",
                    path.display()
                );
            }
            chosen
                .into_iter()
                .map(|p| {
                    Ok(ProfileSpec {
                        token: Token::new(profiles::read_token(&p.token_file)?),
                        ca_file: cli
                            .ca_file
                            .as_deref()
                            .or(p.ca_file.as_deref())
                            .map(profiles::expand),
                        name: p.name,
                        relay: p.relay,
                    })
                })
                .collect()
        }
    }
}
