//! Test-only crash points: `RELAY_TEST_CRASH_AT=<name>` makes the relay abort the moment
//! it reaches the point of that name, as a `kill -9` there would, so tests can prove that a
//! long operation cut short is finished at the next start (tenant deletion: see
//! `lifecycle::delete_tenant`).
//!
//! An abort skips every destructor and flush: what was written to the write-ahead log is in
//! the operating system's hands (as after a process kill), what was not is lost. Unset, a
//! point costs one atomic read. Nothing else about the relay changes.
//!
//! Fault points (`RELAY_TEST_FAULT_AT=<name>`) are the same idea for failures the relay
//! must live through rather than die of: where no real input can make a part fail (an
//! outbox worker's panic is a bug; a key held in memory does not go bad), the armed point
//! makes it fail there, so tests can prove `/readyz` notices and the relay recovers.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// The fault points there are; each says what fails while it is armed.
pub const FAULTS: &[&str] = &[
    // Every outbox worker panics at the start of each round: a worker that keeps dying.
    "outbox-worker-panic",
    // The first outbox round of the process panics, the ones after run: a worker that
    // died once and is restarted.
    "outbox-worker-panic-once",
    // Every value the keyring seals comes out damaged, so it no longer opens: a master key
    // gone bad in memory.
    "keyring-seal-damaged",
];

static FAULT: OnceLock<&'static str> = OnceLock::new();
static FIRED_ONCE: AtomicBool = AtomicBool::new(false);

/// Arms the named fault point for the life of the process (the first call wins).
///
/// # Errors
/// `name` is not one of [`FAULTS`].
pub fn arm_fault(name: &str) -> Result<(), String> {
    let point = FAULTS
        .iter()
        .find(|p| **p == name)
        .ok_or_else(|| format!("`{name}` is not a fault point ({})", FAULTS.join(", ")))?;
    let _ = FAULT.set(point);
    Ok(())
}

/// Whether the fault point `name` is armed.
#[must_use]
pub fn fault(name: &str) -> bool {
    FAULT.get().is_some_and(|p| *p == name)
}

/// Whether the fault point `name` is armed and this is the first time it is asked.
#[must_use]
pub fn fault_once(name: &str) -> bool {
    fault(name) && !FIRED_ONCE.swap(true, Ordering::SeqCst)
}
