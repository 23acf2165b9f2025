//! Group commit: one committer thread owns the only flush in flight; every caller that
//! needs durability registers and waits, and all callers registered before a flush starts
//! are answered by that one flush.
//!
//! When to flush: a caller registers, lets every other task that is ready run first (one
//! `yield_now`), then kicks the committer. So a flush starts as soon as someone waits and
//! the runtime has nothing else ready, and every request that was ready by then shares it.
//! Kicking at once (the first design) made the committer thread, woken on the same core,
//! flush for one or two waiters at a time; each flush costs tens of microseconds of CPU in
//! the kernel and the hypervisor, so batches of two made the flush most of a request's cost.
//! There is still no timer: a lone caller waits only for its own yield. Callers that arrive
//! while a flush runs are batched into the next one. The flush is whatever the store gives
//! it: the sled store's is an `fdatasync` of its write-ahead log (and a segment rotation
//! when one is full), never sled's own flush, which only the checkpointer calls.
//!
//! Correctness rests on one ordering: a caller registers only after its writes returned,
//! and the committer takes the registrations after the kick it woke for, and before it
//! starts the flush, so every answered caller's writes precede the flush that answers it.
//! Every registration is followed by a kick (also when the waiting future is dropped), so
//! none is left behind.

use super::StoreError;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

type Reply = oneshot::Sender<Result<(), String>>;

/// Called after every flush with its duration and how many waiters it answered.
pub type FlushObserver = Box<dyn Fn(Duration, usize) + Send + 'static>;

/// Registrations not yet taken by a flush.
type Pending = Arc<Mutex<Vec<Reply>>>;

pub struct Committer {
    pending: Pending,
    kick: mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Committer {
    /// Starts the committer thread around `flush`.
    ///
    /// # Errors
    /// If the OS refuses to start a thread.
    pub fn spawn(
        flush: impl Fn() -> Result<(), String> + Send + 'static,
        observe: FlushObserver,
    ) -> std::io::Result<Committer> {
        let (kick, kicks) = mpsc::channel::<()>();
        let pending = Pending::default();
        let taken = pending.clone();
        let thread = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || run(&kicks, &taken, &flush, &observe))?;
        Ok(Committer {
            pending,
            kick,
            thread: Some(thread),
        })
    }

    /// Waits until everything written before this call is durable.
    ///
    /// # Errors
    /// The flush failed, or the committer has stopped.
    pub async fn wait(&self) -> Result<(), StoreError> {
        let ticket = self.register();
        let kick = Kick(self);
        // Let every other ready task (other requests) write and register first, so they
        // share this flush instead of each starting one.
        tokio::task::yield_now().await;
        drop(kick);
        ticket.durable().await
    }

    /// Registers for the next flush; it starts only after a [`Committer::kick`].
    pub fn register(&self) -> Ticket {
        let (reply, done) = oneshot::channel();
        lock(&self.pending).push(reply);
        Ticket(done)
    }

    /// Asks for a flush of everything registered so far (a no-op once the committer has
    /// stopped: its tickets then resolve as stopped).
    pub fn kick(&self) {
        let _ = self.kick.send(());
    }
}

/// Kicks when dropped, so a waiter cancelled during its yield still starts the flush that
/// the others registered with it may be waiting for.
struct Kick<'a>(&'a Committer);

impl Drop for Kick<'_> {
    fn drop(&mut self) {
        self.0.kick();
    }
}

fn lock(pending: &Mutex<Vec<Reply>>) -> std::sync::MutexGuard<'_, Vec<Reply>> {
    // Only pushes and takes happen under the lock; a panic cannot leave it half done.
    pending.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A registration for the next flush.
pub struct Ticket(oneshot::Receiver<Result<(), String>>);

impl Ticket {
    /// Resolves when the flush covering this ticket has finished.
    ///
    /// # Errors
    /// The flush failed, or the committer stopped before flushing.
    pub async fn durable(self) -> Result<(), StoreError> {
        match self.0.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Backend(format!("flush failed: {e}"))),
            Err(_) => Err(StoreError::Backend("the committer has stopped".into())),
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        // Closing the channel ends the thread after it answers everyone already registered.
        let (dead, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.kick, dead));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    kicks: &mpsc::Receiver<()>,
    pending: &Mutex<Vec<Reply>>,
    flush: &dyn Fn() -> Result<(), String>,
    observe: &FlushObserver,
) {
    let flush_pending = || {
        let waiters = std::mem::take(&mut *lock(pending));
        if waiters.is_empty() {
            // An earlier flush already took this kick's registrations.
            return;
        }
        let started = Instant::now();
        let result = flush();
        observe(started.elapsed(), waiters.len());
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
    };
    while kicks.recv().is_ok() {
        // Kicks that queued up during the last flush are all answered by this one.
        kicks.try_iter().for_each(drop);
        flush_pending();
    }
    flush_pending();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use futures_util::FutureExt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn waiters_queued_during_a_flush_share_the_next_one() {
        // The first flush blocks until the test has queued 63 more waiters, so exactly two
        // flushes must answer all 64: no timing assumptions.
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let gate = std::sync::Mutex::new(gate_rx);
        let flushes = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let (f, a) = (flushes.clone(), answered.clone());
        let committer = Committer::spawn(
            move || {
                if f.fetch_add(1, Ordering::SeqCst) == 0 {
                    gate.lock().unwrap().recv().unwrap();
                }
                Ok(())
            },
            Box::new(move |_, n| {
                a.fetch_add(n, Ordering::SeqCst);
            }),
        )
        .unwrap();
        let first = committer.register();
        committer.kick();
        while flushes.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let rest: Vec<Ticket> = (0..63).map(|_| committer.register()).collect();
        committer.kick();
        gate_tx.send(()).unwrap();
        first.durable().await.unwrap();
        for t in rest {
            t.durable().await.unwrap();
        }
        assert_eq!(answered.load(Ordering::SeqCst), 64);
        assert_eq!(flushes.load(Ordering::SeqCst), 2);
    }

    /// A committer that counts its flushes and the waiters they answered.
    fn counting() -> (Arc<Committer>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let flushes = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let (f, a) = (flushes.clone(), answered.clone());
        let committer = Committer::spawn(
            move || {
                f.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
            Box::new(move |_, n| {
                a.fetch_add(n, Ordering::SeqCst);
            }),
        )
        .unwrap();
        (Arc::new(committer), flushes, answered)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn waiters_that_are_ready_together_share_one_flush() {
        // On one thread, all 16 tasks register before the first of them is polled again
        // after its yield, so the first kick finds all 16 registered.
        let (committer, flushes, answered) = counting();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let c = committer.clone();
                tokio::spawn(async move { c.wait().await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(answered.load(Ordering::SeqCst), 16);
        assert_eq!(flushes.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_waiter_dropped_during_its_yield_still_kicks() {
        let (committer, flushes, _) = counting();
        let earlier = committer.register();
        // One poll registers it and stops at the yield; then it is dropped.
        assert!(committer.wait().now_or_never().is_none());
        earlier.durable().await.unwrap();
        assert_eq!(flushes.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn registrations_left_at_shutdown_are_flushed() {
        let (committer, flushes, _) = counting();
        let ticket = committer.register();
        drop(Arc::into_inner(committer).unwrap());
        ticket.durable().await.unwrap();
        assert_eq!(flushes.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn flush_errors_reach_every_waiter() {
        let c = Committer::spawn(|| Err("disk full".into()), Box::new(|_, _| {})).unwrap();
        let err = c.wait().await.unwrap_err().to_string();
        assert!(err.contains("disk full"), "{err}");
    }
}
