//! Test-only crash points: `RELAY_TEST_CRASH_AT=<name>` makes the relay abort the moment
//! it reaches the point of that name, as a `kill -9` there would, so tests can prove that a
//! long operation cut short is finished at the next start (tenant deletion: see
//! `lifecycle::delete_tenant`).
//!
//! An abort skips every destructor and flush: what was written to the write-ahead log is in
//! the operating system's hands (as after a process kill), what was not is lost. Unset, a
//! point costs one atomic read. Nothing else about the relay changes.

use std::sync::OnceLock;

/// The points there are, so a misspelt name fails the start instead of never firing.
pub const POINTS: &[&str] = &[
    // The deletion record is durable; no channel disconnected yet.
    "tenant-deletion-recorded",
    // Channels disconnected and the chain head recorded; no data removed yet.
    "tenant-deletion-unsubscribed",
    // Inside the store: the registry step done (sled) or the transaction not yet
    // committed (PostgreSQL); the tenant's data still there.
    "tenant-deletion-registry",
];

static ARMED: OnceLock<&'static str> = OnceLock::new();

/// Arms the named point for the life of the process (the first call wins).
///
/// # Errors
/// `name` is not one of [`POINTS`].
pub fn arm(name: &str) -> Result<(), String> {
    let point = POINTS
        .iter()
        .find(|p| **p == name)
        .ok_or_else(|| format!("`{name}` is not a crash point ({})", POINTS.join(", ")))?;
    let _ = ARMED.set(point);
    Ok(())
}

/// Aborts the process when `name` is the armed point.
pub fn reached(name: &str) {
    if ARMED.get().is_some_and(|p| *p == name) {
        eprintln!("relay: crash point {name} reached; aborting (RELAY_TEST_CRASH_AT)");
        std::process::abort();
    }
}
