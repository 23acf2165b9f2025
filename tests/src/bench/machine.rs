//! Cores for a benchmark: the measured server on one, the program itself on another, so
//! neither steals the other's time; the program's own runtime pinned to its core.

use anyhow::{Context, Result};
use std::process::Stdio;

/// Which core the measured server gets and which this program gets (`None`: unpinned).
#[derive(Clone, Copy, Default)]
pub struct Cores {
    pub server: Option<usize>,
    pub bench: Option<core_affinity::CoreId>,
}

impl Cores {
    /// The first two cores of this process's affinity mask (which in a container need not
    /// start at 0); with fewer, nothing is pinned and a warning says so.
    #[must_use]
    pub fn choose() -> Cores {
        let ids = core_affinity::get_core_ids().unwrap_or_default();
        match ids.as_slice() {
            [server, bench, ..] => Cores {
                server: Some(server.id),
                bench: Some(*bench),
            },
            [_] => {
                eprintln!(
                    "WARNING: only one CPU core is available; the server and the benchmark \
                     share it, so nothing is pinned and the figures understate the server"
                );
                Cores::default()
            }
            [] => {
                eprintln!("WARNING: cannot read the CPU affinity mask; nothing is pinned");
                Cores::default()
            }
        }
    }

    /// A core number for a line of output.
    #[must_use]
    pub fn name(core: Option<usize>) -> String {
        core.map_or_else(|| "(unpinned)".to_owned(), |c| c.to_string())
    }

    /// A single-threaded runtime pinned (with this thread) to the benchmark's core: the
    /// work per request or frame is small, and one core is all the program is given, so
    /// more threads would only add context switches.
    ///
    /// # Errors
    /// The runtime cannot start.
    pub fn runtime(&self) -> Result<tokio::runtime::Runtime> {
        let pin = self.bench;
        if let Some(core) = pin
            && !core_affinity::set_for_current(core)
        {
            eprintln!("WARNING: could not pin this program to core {}", core.id);
        }
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_start(move || {
                if let Some(core) = pin {
                    core_affinity::set_for_current(core);
                }
            })
            .build()
            .context("cannot start the tokio runtime")
    }
}

/// Whether `taskset` (util-linux) can pin the processes this program starts.
pub async fn taskset_available() -> bool {
    tokio::process::Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// Pins every thread of a running process to `core` (`taskset -a -p`; threads started
/// later inherit it); a warning when that fails.
pub async fn pin_pid(pid: u32, core: usize) {
    let pinned = tokio::process::Command::new("taskset")
        .args(["-a", "-p", "-c", &core.to_string(), &pid.to_string()])
        .stdout(Stdio::null())
        .status()
        .await;
    if !pinned.is_ok_and(|s| s.success()) {
        eprintln!("WARNING: could not pin pid {pid} to core {core}");
    }
}
