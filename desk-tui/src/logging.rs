//! Logs go to a file (`desk.log` in the data directory), never to the terminal the desk
//! draws on. `RUST_LOG` sets the level (default `info`).

use std::path::Path;
use tracing_subscriber::EnvFilter;

/// Starts logging to `dir/desk.log` (the platform data directory when `None`); returns the
/// path, or `None` when no file could be opened (the desk then runs without logs).
pub fn to_file(dir: Option<&Path>) -> Option<std::path::PathBuf> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => directories::ProjectDirs::from("", "", "chatdesk")?
            .data_dir()
            .to_path_buf(),
    };
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join("desk.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init()
        .ok()?;
    Some(path)
}
