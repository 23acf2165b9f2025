//! The applier: tenant writes reach sled on a thread of their own, after the step that made
//! them has answered.
//!
//! A step's writes are durable once the write-ahead log holds them (the group commit's
//! `fdatasync`); sled is only the log's index, flushed by the checkpointer and rebuilt from
//! the log at open. So a step need not wait for sled's inserts (about a third of a
//! webhook's instructions): it hands its logged writes over and goes on to the commit,
//! and the inserts run while the core would otherwise wait for the disk.
//!
//! The one rule that keeps readers right: every read of the tenants' tree first
//! [`Applier::settle`]s, which waits until every write handed over before it is applied.
//! Handing over keeps log order where it matters: one tenant's writes are handed over under
//! its lock, in the order they were logged, and different tenants' keys never overlap.
//! The queue is bounded, so a writer that outruns the thread waits for it instead of
//! growing memory. A failed insert stops the thread: the write is in the log (replayed at
//! the next open) and every later settle and hand-over answers the error.

use super::super::StoreError;
use super::super::wal::Writes;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Inserts and removals handed over but not applied, past which handing over waits. It
/// bounds memory and how long a read (or, under overload, a writer) waits for the thread:
/// an insert costs a few µs to tens of µs, so a full queue drains in a few milliseconds.
const QUEUE_LIMIT: usize = 1024;

pub struct Applier {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when the queue gains work or the applier is asked to stop.
    work: Condvar,
    /// Signalled when `applied` moves, room frees up, or applying failed.
    progress: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Writes>,
    /// Operations in `queue`.
    queued_ops: usize,
    /// How many writes were ever handed over, and how many of them are applied.
    handed: u64,
    applied: u64,
    failed: Option<String>,
    stopping: bool,
    /// Readers waiting in `settle`: the thread wakes them only when there are some.
    settling: usize,
    /// Writers waiting for room (tests watch it).
    waiting: usize,
    /// Tests hold the thread back to see who waits for it.
    #[cfg(test)]
    paused: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // Only counters and the queue change under the lock, each in one statement.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, cv: &Condvar, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        cv.wait(guard).unwrap_or_else(PoisonError::into_inner)
    }
}

fn failed(reason: &str) -> StoreError {
    StoreError::Backend(format!(
        "sled refused a logged write ({reason}); it is replayed at the next start"
    ))
}

impl Applier {
    /// Starts the thread that applies handed-over writes with `apply`.
    ///
    /// # Errors
    /// If the OS refuses to start a thread.
    pub fn spawn(
        apply: impl Fn(Writes) -> Result<(), StoreError> + Send + 'static,
    ) -> std::io::Result<Applier> {
        let shared = Arc::new(Shared::default());
        let inner = shared.clone();
        let thread = std::thread::Builder::new()
            .name("sled-apply".into())
            .spawn(move || run(&inner, &apply))?;
        Ok(Applier {
            shared,
            thread: Some(thread),
        })
    }

    /// Queues logged `writes` for sled; waits only while the queue is full.
    ///
    /// # Errors
    /// Applying has failed (the writes stay in the log).
    pub fn hand_over(&self, writes: Writes) -> Result<(), StoreError> {
        let mut state = self.shared.state();
        // A step larger than the whole limit still goes in, alone.
        while state.queued_ops > 0
            && state.queued_ops + writes.ops.len() > QUEUE_LIMIT
            && state.failed.is_none()
        {
            state.waiting += 1;
            state = self.shared.wait(&self.shared.progress, state);
            state.waiting -= 1;
        }
        if let Some(reason) = &state.failed {
            return Err(failed(reason));
        }
        let idle = state.queue.is_empty();
        state.queued_ops += writes.ops.len();
        state.queue.push_back(writes);
        state.handed += 1;
        drop(state);
        // The thread sleeps only with an empty queue, so only the first write wakes it.
        if idle {
            self.shared.work.notify_one();
        }
        Ok(())
    }

    /// Returns once every write handed over before this call is in sled.
    ///
    /// # Errors
    /// Applying has failed, so sled lacks writes the log holds.
    pub fn settle(&self) -> Result<(), StoreError> {
        let mut state = self.shared.state();
        let target = state.handed;
        while state.applied < target && state.failed.is_none() {
            state.settling += 1;
            state = self.shared.wait(&self.shared.progress, state);
            state.settling -= 1;
        }
        match &state.failed {
            Some(reason) => Err(failed(reason)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
impl Applier {
    /// Holds the thread back (before its next batch) or lets it go on.
    pub fn hold(&self, held: bool) {
        self.shared.state().paused = held;
        self.shared.work.notify_one();
    }

    /// Forgets the queued writes, as a crash before they were applied would.
    pub fn discard(&self) {
        let mut state = self.shared.state();
        state.queue.clear();
        state.queued_ops = 0;
        state.applied = state.handed;
    }

    /// Writes handed over and not yet applied.
    pub fn backlog(&self) -> u64 {
        let state = self.shared.state();
        state.handed - state.applied
    }
}

impl Drop for Applier {
    fn drop(&mut self) {
        // The thread applies what is queued before it stops, so a store dropped without
        // `close` leaves sled as complete as the log (replay would redo it anyway).
        self.shared.state().stopping = true;
        self.shared.work.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
fn held_back(state: &State) -> bool {
    state.paused
}

#[cfg(not(test))]
fn held_back(_: &State) -> bool {
    false
}

fn run(shared: &Shared, apply: &dyn Fn(Writes) -> Result<(), StoreError>) {
    loop {
        let batch: Vec<Writes> = {
            let mut state = shared.state();
            while (state.queue.is_empty() || held_back(&state)) && !state.stopping {
                state = shared.wait(&shared.work, state);
            }
            if state.queue.is_empty() {
                return;
            }
            state.queued_ops = 0;
            state.queue.drain(..).collect()
        };
        // Counted one by one, so a settle waits only for the writes it follows.
        for writes in batch {
            let outcome = apply(writes);
            let mut state = shared.state();
            // A futex wake per write costs more than the write's share of the thread; wake
            // only when someone waits (a reader, or a writer for room).
            let waiters = state.settling + state.waiting;
            match outcome {
                Ok(()) => state.applied += 1,
                Err(e) => {
                    tracing::error!(error = %e, "sled refused a logged write; stopping the applier");
                    state.failed = Some(e.to_string());
                    state.queue.clear();
                    state.queued_ops = 0;
                    drop(state);
                    shared.progress.notify_all();
                    return;
                }
            }
            drop(state);
            if waiters > 0 {
                shared.progress.notify_all();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::wal::Tree;
    use std::sync::mpsc;

    fn one(key: &str) -> Writes {
        let mut w = Writes::default();
        w.insert(Tree::Data, key.as_bytes().to_vec(), b"v".to_vec());
        w
    }

    fn keys(w: &Writes) -> Vec<Vec<u8>> {
        w.ops.iter().map(|op| op.key.clone()).collect()
    }

    #[test]
    fn settle_returns_only_after_everything_handed_over_before_it_is_applied() {
        // The apply blocks on a gate, so settle must wait for it: no timing assumptions.
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let gate = Mutex::new(gate_rx);
        let applied = Arc::new(Mutex::new(Vec::new()));
        let seen = applied.clone();
        let applier = Applier::spawn(move |w| {
            gate.lock().unwrap().recv().unwrap();
            seen.lock().unwrap().extend(keys(&w));
            Ok(())
        })
        .unwrap();
        for k in ["a", "b", "c"] {
            applier.hand_over(one(k)).unwrap();
        }
        let settled = std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                applier.settle().unwrap();
                applied.lock().unwrap().clone()
            });
            for _ in 0..3 {
                gate_tx.send(()).unwrap();
            }
            waiter.join().unwrap()
        });
        assert_eq!(settled, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn a_failed_apply_fails_every_later_settle_and_hand_over() {
        let applier = Applier::spawn(|w| {
            if keys(&w) == vec![b"bad".to_vec()] {
                Err(StoreError::Backend("disk gone".into()))
            } else {
                Ok(())
            }
        })
        .unwrap();
        applier.hand_over(one("fine")).unwrap();
        applier.settle().unwrap();
        applier.hand_over(one("bad")).unwrap();
        let err = applier.settle().unwrap_err().to_string();
        assert!(
            err.contains("disk gone") && err.contains("replayed"),
            "{err}"
        );
        assert!(applier.hand_over(one("later")).is_err());
    }

    #[test]
    fn a_full_queue_makes_the_writer_wait_for_the_applier() {
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let gate = Mutex::new(gate_rx);
        let applier = Applier::spawn(move |_| {
            gate.lock().unwrap().recv().unwrap();
            Ok(())
        })
        .unwrap();
        // One write in the thread's hands (blocked), QUEUE_LIMIT queued: the next waits.
        applier.hand_over(one("first")).unwrap();
        while applier.shared.state().queue.len() == 1 {
            std::thread::yield_now();
        }
        for _ in 0..QUEUE_LIMIT {
            applier.hand_over(one("k")).unwrap();
        }
        std::thread::scope(|s| {
            let writer = s.spawn(|| applier.hand_over(one("over")));
            while applier.shared.state().waiting == 0 {
                std::thread::yield_now();
            }
            // Waiting, not queued: the queue stays at its limit until the applier moves.
            assert_eq!(applier.shared.state().queue.len(), QUEUE_LIMIT);
            assert!(!writer.is_finished());
            for _ in 0..=QUEUE_LIMIT + 1 {
                gate_tx.send(()).unwrap();
            }
            writer.join().unwrap().unwrap();
        });
        applier.settle().unwrap();
        assert_eq!(applier.shared.state().applied, QUEUE_LIMIT as u64 + 2);
    }

    #[test]
    fn dropping_applies_what_was_queued() {
        let count = Arc::new(Mutex::new(0));
        let c = count.clone();
        let applier = Applier::spawn(move |_| {
            *c.lock().unwrap() += 1;
            Ok(())
        })
        .unwrap();
        for k in ["a", "b", "c", "d"] {
            applier.hand_over(one(k)).unwrap();
        }
        drop(applier);
        assert_eq!(*count.lock().unwrap(), 4);
    }
}
