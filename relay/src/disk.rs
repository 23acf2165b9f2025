//! The disk guard: whether the data directory still has room, so the relay stops
//! acknowledging webhooks *before* a write can fail half-way, and `/readyz` says why.
//!
//! Two limits, measured every `RELAY_DISK_CHECK_MS` on the blocking pool (a directory walk
//! must not hold an async worker): the free space of the data directory's file system
//! (`RELAY_MIN_FREE_BYTES`) and, when set, the size of the data directory itself
//! (`RELAY_DATA_MAX_BYTES`, a quota for relays that share a disk, and how the "disk fills
//! up" case is tested without a privileged tmpfs). While either is passed, webhooks are
//! answered 503 `storage_full` with `Retry-After` and nothing is written, so Meta keeps the
//! events and delivers them again once space is made; nothing already acknowledged is
//! touched. A write that still fails (the disk filled between two measurements) is a store
//! error, also answered 503: the write-ahead log record is refused whole, never half-kept.
//!
//! It does not delete or compact anything: making room is the operator's call.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the guard last measured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskState {
    /// Free bytes on the data directory's file system.
    pub free_bytes: u64,
    /// Bytes under the data directory.
    pub used_bytes: u64,
    /// Why writes are refused, in one sentence for the operator; `None` while there is room.
    pub full: Option<String>,
}

/// The limits and the latest measurement; cheap to clone.
#[derive(Clone)]
pub struct DiskGuard {
    dir: PathBuf,
    min_free: u64,
    max_data: Option<u64>,
    state: Arc<Mutex<DiskState>>,
}

impl DiskGuard {
    #[must_use]
    pub fn new(dir: &Path, min_free: u64, max_data: Option<u64>) -> DiskGuard {
        DiskGuard {
            dir: dir.to_path_buf(),
            min_free,
            max_data,
            state: Arc::new(Mutex::new(DiskState::default())),
        }
    }

    /// Why writes are refused now, or `None` while there is room.
    #[must_use]
    pub fn full(&self) -> Option<String> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .full
            .clone()
    }

    /// The latest measurement.
    #[must_use]
    pub fn state(&self) -> DiskState {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Measures now (blocking: a statvfs and a walk of the data directory) and keeps the
    /// result.
    pub fn measure(&self) -> DiskState {
        let free_bytes = fs2::available_space(&self.dir).unwrap_or(u64::MAX);
        let used_bytes = dir_size(&self.dir);
        let full = verdict(free_bytes, used_bytes, self.min_free, self.max_data);
        let state = DiskState {
            free_bytes,
            used_bytes,
            full,
        };
        let mut slot = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.full != state.full {
            match &state.full {
                Some(why) => {
                    tracing::error!(reason = %why, "disk full: webhooks are refused with 503 until there is room")
                }
                None if slot.full.is_some() => {
                    tracing::info!("disk has room again: webhooks are acknowledged")
                }
                None => {}
            }
        }
        *slot = state.clone();
        state
    }

    /// Measures on the blocking pool.
    pub async fn measure_async(&self) -> DiskState {
        let guard = self.clone();
        tokio::task::spawn_blocking(move || guard.measure())
            .await
            .unwrap_or_else(|_| self.state())
    }

    /// Measures every `every` until the process ends.
    pub fn spawn(&self, every: Duration) {
        let guard = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                guard.measure_async().await;
            }
        });
    }
}

/// The rule, pure: full when free space is under `min_free` or the data passed `max_data`.
#[must_use]
pub fn verdict(free: u64, used: u64, min_free: u64, max_data: Option<u64>) -> Option<String> {
    if free < min_free {
        return Some(format!(
            "the data directory's disk has {free} bytes free, under RELAY_MIN_FREE_BYTES ({min_free})"
        ));
    }
    match max_data {
        Some(max) if used >= max => Some(format!(
            "the data directory holds {used} bytes, at or over RELAY_DATA_MAX_BYTES ({max})"
        )),
        _ => None,
    }
}

/// Bytes allocated under `dir` (files' lengths; unreadable entries count as 0).
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total = total.saturating_add(meta.len());
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::verdict;

    #[track_caller]
    fn check(free: u64, used: u64, min_free: u64, max: Option<u64>, full: bool) {
        assert_eq!(verdict(free, used, min_free, max).is_some(), full);
    }

    #[test]
    fn full_at_the_edges() {
        check(100, 0, 100, None, false);
        check(99, 0, 100, None, true);
        check(1000, 49, 10, Some(50), false);
        check(1000, 50, 10, Some(50), true);
        check(1000, u64::MAX, 10, None, false);
    }
}
