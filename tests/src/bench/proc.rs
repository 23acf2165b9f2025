//! The processes a benchmark measures: found as release builds, started clean (nothing
//! from the caller's environment but `PATH`), optionally pinned with `taskset`, ready once
//! they print their listening line, stopped with SIGTERM (SIGKILL after 10 s), and their
//! stderr summarized at the end.

use super::procfs::{cpus_allowed, pid_cpu_ticks, read_head};
use anyhow::{Context, Result, anyhow, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a process may take to print its listening line.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// Locates a binary of the workspace's release build under any of `names` (Cargo names an
/// auto-discovered binary after its file, `bare_server`, unless Cargo.toml declares
/// `bare-server`): `$CARGO_TARGET_DIR/release`, beside this program, `target/release`.
///
/// # Errors
/// None found; the message says how to build it.
pub fn find_release_bin(names: &[&str]) -> Result<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        dirs.push(PathBuf::from(target).join("release"));
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        // target/release/x-bench → target/release; from a debug build → ../release.
        if let Some(target) = exe_dir.parent() {
            dirs.push(target.join("release"));
        }
        dirs.push(exe_dir);
    }
    dirs.push(PathBuf::from("target/release"));
    let tried: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .collect();
    match tried.iter().find(|p| p.is_file()) {
        Some(found) => Ok(found.clone()),
        None => bail!(
            "cannot find {}; build with `cargo build --release -p relay -p chatdesk-tests \
             --bins` or pass its path (tried: {})",
            names.join(" / "),
            tried
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// How to start one process.
pub struct Spawn<'a> {
    pub label: &'static str,
    pub bin: &'a Path,
    pub args: &'a [&'a str],
    pub envs: &'a [(&'a str, &'a str)],
    /// What its first stdout line starts with, before the URL.
    pub ready_prefix: &'a str,
    /// `taskset -c` to this core.
    pub core: Option<usize>,
    pub stderr_path: &'a Path,
}

/// A started process that printed its listening line.
pub struct Proc {
    pub label: &'static str,
    child: Child,
    pub pid: Option<u32>,
    /// The URL it printed, without a trailing slash.
    pub url: String,
    stderr_path: PathBuf,
}

impl Proc {
    /// Starts the process and waits for its listening line.
    ///
    /// # Errors
    /// It cannot start, exits first, or prints something else.
    pub async fn spawn(spec: Spawn<'_>) -> Result<Proc> {
        let mut cmd = match spec.core {
            Some(core) => {
                // taskset execs the program, so the child's pid is the program's pid.
                let mut c = Command::new("taskset");
                c.arg("-c").arg(core.to_string()).arg(spec.bin);
                c
            }
            None => Command::new(spec.bin),
        };
        // Nothing from the caller's shell (a real RELAY_STORAGE, a config file, an LLM key,
        // real Meta secrets) may reach the benchmark's processes; the log goes to a file
        // shown as plain text, where colour codes would garble it.
        cmd.args(spec.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NO_COLOR", "1");
        for (k, v) in spec.envs {
            cmd.env(k, v);
        }
        let stderr = std::fs::File::create(spec.stderr_path)
            .with_context(|| format!("cannot create {}", spec.stderr_path.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", spec.bin.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take().context("child stdout not captured")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(READY_WITHIN, lines.next_line())
            .await
            .map_err(|_| {
                anyhow!(
                    "{} printed no listening line within {} s",
                    spec.label,
                    READY_WITHIN.as_secs()
                )
            })?
            .with_context(|| format!("reading {} stdout", spec.label))?;
        let Some(line) = line else {
            let status = child.wait().await.ok();
            bail!(
                "{} exited before listening ({status:?}); stderr:\n{}",
                spec.label,
                read_head(spec.stderr_path, 20)
            );
        };
        let url = line
            .trim()
            .strip_prefix(spec.ready_prefix)
            .with_context(|| {
                format!(
                    "{} printed {line:?}, expected `{}http://…`",
                    spec.label, spec.ready_prefix
                )
            })?
            .trim_end_matches('/')
            .to_owned();
        // Nothing more is expected on stdout, but a full pipe would block the process.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let cpus = pid.and_then(cpus_allowed).unwrap_or_else(|| "?".to_owned());
        println!(
            "{}: pid {}, cpus {cpus}, {url}",
            spec.label,
            pid.map_or_else(|| "?".to_owned(), |p| p.to_string()),
        );
        Ok(Proc {
            label: spec.label,
            child,
            pid,
            url,
            stderr_path: spec.stderr_path.to_path_buf(),
        })
    }

    /// The address it listens on (from an `http://` URL).
    ///
    /// # Errors
    /// The URL it printed holds no socket address.
    pub fn addr(&self) -> Result<std::net::SocketAddr> {
        self.url
            .strip_prefix("http://")
            .unwrap_or(&self.url)
            .parse()
            .with_context(|| format!("cannot parse the address in {:?}", self.url))
    }

    /// utime + stime so far, in clock ticks.
    #[must_use]
    pub fn cpu_ticks(&self) -> Option<u64> {
        self.pid.and_then(pid_cpu_ticks)
    }

    /// SIGTERM for a graceful stop, then SIGKILL if it lingers.
    pub async fn stop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => eprintln!("WARNING: {} exited with {status}", self.label),
            Ok(Err(e)) => eprintln!("WARNING: waiting for {}: {e}", self.label),
            Err(_) => {
                eprintln!(
                    "WARNING: {} ignored SIGTERM for 10 s; killing it",
                    self.label
                );
                let _ = self.child.kill().await;
            }
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub async fn kill(&mut self) {
        if let Err(e) = self.child.kill().await {
            eprintln!("WARNING: killing {}: {e}", self.label);
        }
    }

    /// How many lines it wrote to stderr, and the first ones.
    pub fn report_stderr(&self) {
        let total = std::fs::read_to_string(&self.stderr_path).map_or(0, |s| s.lines().count());
        if total > 0 {
            println!(
                "-- {} stderr: {total} lines, the first ones: --\n{}",
                self.label,
                read_head(&self.stderr_path, 10)
            );
        }
    }
}
