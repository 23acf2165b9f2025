//! Group commit: one committer thread owns the only flush in flight; every caller that
//! needs durability registers and waits, and all callers registered before a flush starts
//! are answered by that one flush.
//!
//! The committer flushes as soon as someone waits and no flush is running (no timer): on
//! fast disks that beats both per-request flushing and a tick. Callers that arrive while a
//! flush runs are batched into the next one. The flush is whatever the store gives it: the
//! sled store's is an `fdatasync` of its write-ahead log (and a segment rotation when one is
//! full), never sled's own flush, which only the checkpointer calls.
//!
//! Correctness rests on one ordering: a caller registers only after its writes returned,
//! and the committer drains registrations before it starts the flush, so every drained
//! caller's writes precede the flush that answers it.

use super::StoreError;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

type Reply = oneshot::Sender<Result<(), String>>;

/// Called after every flush with its duration and how many waiters it answered.
pub type FlushObserver = Box<dyn Fn(Duration, usize) + Send + 'static>;

pub struct Committer {
    tx: mpsc::Sender<Reply>,
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
        let (tx, rx) = mpsc::channel::<Reply>();
        let thread = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || run(&rx, &flush, &observe))?;
        Ok(Committer {
            tx,
            thread: Some(thread),
        })
    }

    /// Waits until everything written before this call is durable.
    ///
    /// # Errors
    /// The flush failed, or the committer has stopped.
    pub async fn wait(&self) -> Result<(), StoreError> {
        self.register()?.durable().await
    }

    /// Registers for the next flush now; the ticket resolves when that flush is done.
    ///
    /// # Errors
    /// The committer has stopped.
    pub fn register(&self) -> Result<Ticket, StoreError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send(reply)
            .map_err(|_| StoreError::Backend("the committer has stopped".into()))?;
        Ok(Ticket(done))
    }
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
        // Closing the channel ends the thread after it answers everyone already waiting.
        let (dead, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.tx, dead));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    rx: &mpsc::Receiver<Reply>,
    flush: &dyn Fn() -> Result<(), String>,
    observe: &FlushObserver,
) {
    while let Ok(first) = rx.recv() {
        let mut waiters = vec![first];
        waiters.extend(rx.try_iter());
        let started = Instant::now();
        let result = flush();
        observe(started.elapsed(), waiters.len());
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Arc;
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
        let first = committer.register().unwrap();
        while flushes.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let rest: Vec<Ticket> = (0..63).map(|_| committer.register().unwrap()).collect();
        gate_tx.send(()).unwrap();
        first.durable().await.unwrap();
        for t in rest {
            t.durable().await.unwrap();
        }
        assert_eq!(answered.load(Ordering::SeqCst), 64);
        assert_eq!(flushes.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn flush_errors_reach_every_waiter() {
        let c = Committer::spawn(|| Err("disk full".into()), Box::new(|_, _| {})).unwrap();
        let err = c.wait().await.unwrap_err().to_string();
        assert!(err.contains("disk full"), "{err}");
    }
}
