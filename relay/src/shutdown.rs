//! The relay's one shutdown: a cancellation token every background task watches, and a
//! tracker of those tasks, so `Relay::serve` can wait for them before it flushes storage.
//!
//! What stops where: desk sessions close with `close::GOING_AWAY` (the desk reconnects);
//! outbox workers finish the send in hand and take no new one (a send cut off by the bound
//! is settled by the in-doubt rules after the restart); drafting, profile lookups, the token
//! refresher and the housekeeping sweep finish the job in hand and take no new one. This
//! module holds no policy of its own: it does not know the bound (`RELAY_SHUTDOWN_SECS`,
//! applied by `Relay::serve`) nor what any task does.

use std::future::Future;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// Cheap to clone; every clone is the same shutdown.
#[derive(Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tasks: TaskTracker,
}

impl Shutdown {
    /// Asks every task to stop (idempotent).
    pub fn begin(&self) {
        self.token.cancel();
    }

    #[must_use]
    pub fn is_stopping(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once the shutdown began.
    pub fn stopping(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// `work`'s output, or `None` once the shutdown began (checked first, so a task in a
    /// loop never starts another round after it).
    pub async fn unless_stopping<F: Future>(&self, work: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            () = self.token.cancelled() => None,
            out = work => Some(out),
        }
    }

    /// Spawns a background task the shutdown waits for.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(task)
    }

    /// Counts the caller as a task until the returned guard drops (for work spawned by
    /// others, such as a WebSocket session axum spawns after an upgrade).
    pub fn hold(&self) -> TaskTrackerToken {
        self.tasks.token()
    }

    /// Resolves once every tracked task has ended. Call after [`Shutdown::begin`].
    pub async fn finished(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn finished_waits_for_every_task_to_hear_the_stop() {
        let shutdown = Shutdown::default();
        let heard = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for _ in 0..3 {
            let (s, heard) = (shutdown.clone(), heard.clone());
            shutdown.spawn(async move {
                s.stopping().await;
                heard.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        let held = shutdown.hold();
        shutdown.begin();
        tokio::time::timeout(Duration::from_secs(5), async {
            while heard.load(std::sync::atomic::Ordering::SeqCst) < 3 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
        // Every spawned task heard it, but the held guard still counts.
        assert!(futures_util::FutureExt::now_or_never(shutdown.finished()).is_none());
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), shutdown.finished())
            .await
            .unwrap();
        assert_eq!(heard.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert!(shutdown.is_stopping());
    }
}
