//! The checkpointer: flushes sled off the commit path, then deletes the log segments the
//! flush made redundant.
//!
//! It is the only caller of sled's flush while the store is open (sled 0.34's flushes must
//! not run concurrently, see `commit`), so even the final checkpoint at close goes through
//! its queue.

use super::StoreError;
use super::wal::Wal;
use std::sync::Arc;
use std::sync::mpsc;
use tokio::sync::oneshot;

enum Job {
    /// A segment was sealed; flush sled and delete it.
    Sealed(u64),
    /// Seal the current segment too, flush, delete, and report.
    Final(oneshot::Sender<Result<(), StoreError>>),
}

pub struct Checkpointer {
    tx: mpsc::Sender<Job>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Flush = Box<dyn Fn() -> Result<(), StoreError> + Send>;

impl Checkpointer {
    /// Starts the checkpoint thread.
    ///
    /// # Errors
    /// If the OS refuses to start a thread.
    pub fn spawn(wal: Arc<Wal>, flush: Flush) -> std::io::Result<Checkpointer> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn(move || run(&rx, &wal, &*flush))?;
        Ok(Checkpointer {
            tx,
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint covering `sealed`; returns at once.
    pub fn sealed(&self, sealed: u64) {
        // If the thread is gone the segment simply stays and is replayed at open.
        let _ = self.tx.send(Job::Sealed(sealed));
    }

    /// Checkpoints everything written so far and waits for it.
    ///
    /// # Errors
    /// The rotation, the flush or the deletion failed, or the thread has stopped.
    pub async fn checkpoint_all(&self) -> Result<(), StoreError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send(Job::Final(reply))
            .map_err(|_| StoreError::Backend("the checkpointer has stopped".into()))?;
        done.await
            .map_err(|_| StoreError::Backend("the checkpointer has stopped".into()))?
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (dead, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.tx, dead));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(rx: &mpsc::Receiver<Job>, wal: &Wal, flush: &dyn Fn() -> Result<(), StoreError>) {
    while let Ok(job) = rx.recv() {
        match job {
            Job::Sealed(sealed) => {
                // Later seals cover earlier ones: one flush answers all queued.
                let mut newest = sealed;
                let mut finals = Vec::new();
                for more in rx.try_iter() {
                    match more {
                        Job::Sealed(n) => newest = newest.max(n),
                        Job::Final(reply) => finals.push(reply),
                    }
                }
                if let Err(e) = flush().and_then(|()| wal.remove_through(newest)) {
                    tracing::error!(error = %e, "checkpoint failed; the log keeps its segments");
                }
                for reply in finals {
                    let _ = reply.send(checkpoint_all(wal, flush));
                }
            }
            Job::Final(reply) => {
                let _ = reply.send(checkpoint_all(wal, flush));
            }
        }
    }
}

fn checkpoint_all(wal: &Wal, flush: &dyn Fn() -> Result<(), StoreError>) -> Result<(), StoreError> {
    let sealed = wal.rotate()?;
    flush()?;
    wal.remove_through(sealed)
}
