//! The sync engine: one tokio task that keeps the replica in step with the relay and
//! delivers the outbox.
//!
//! Each connection goes: upgrade → `hello(cursor)` → `welcome` (identity checked against
//! the replica) → every pending command, oldest first → then frames as they come: events
//! are applied to the replica (consecutive ones in one transaction), answers recorded,
//! newly submitted commands sent. Any failure ends the connection and, unless the relay
//! refused the desk for good, a new one starts after a jittered backoff, from the
//! replica's cursor and with the same command keys. The engine writes the replica first
//! and only then tells the desk (`Update`), so whatever an update announces can be read.

use crate::backoff::Backoff;
use crate::config::{ConfigError, SyncConfig};
use crate::net::{self, Connection, Incoming, NetError, Verdict, close};
use crate::outbox::OutboxError;
use crate::replica::{Header, Identity, Replica, ReplicaError};
use crate::state::{ConnectionState, Update};
use protocol::{
    Answer, ClientFrame, Command, CommandKey, Event, PROTOCOL_VERSION, Rejection, Seq, ServerFrame,
};
use std::fmt;
use std::mem;
use std::sync::Arc;
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until, timeout};

/// Events applied in one replica transaction at most; bounds the latency of a big backlog.
const MAX_BATCH: usize = 512;
/// Room for bursts; a desk that lags behind rereads the replica anyway.
const UPDATE_CAPACITY: usize = 1024;

/// Why the engine could not start or a submission failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("the sync engine needs a tokio runtime")]
    NoRuntime,
    #[error("the sync engine stopped unexpectedly: {0}")]
    Task(String),
}

/// The desk's side of a running engine.
///
/// Dropping it stops the engine too (without waiting for it; use [`SyncHandle::shutdown`]
/// to wait).
pub struct SyncHandle {
    replica: Replica,
    state: watch::Receiver<ConnectionState>,
    updates: broadcast::Sender<Update>,
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for SyncHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHandle")
            .field("state", &*self.state.borrow())
            .finish_non_exhaustive()
    }
}

impl SyncHandle {
    /// Starts the engine on the current tokio runtime. The replica stays usable through
    /// [`SyncHandle::replica`], online or not.
    ///
    /// # Errors
    /// An unusable configuration, or no tokio runtime.
    pub fn spawn(config: SyncConfig, replica: Replica) -> Result<Self, SyncError> {
        config.validate()?;
        // Built once: a broken CA file fails the start instead of every connection.
        let tls = if config.is_tls() {
            Some(crate::tls::client_config(config.ca_file.as_deref())?)
        } else {
            None
        };
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SyncError::NoRuntime)?;
        let (state_tx, state) = watch::channel(ConnectionState::initial());
        let (updates, _) = broadcast::channel(UPDATE_CAPACITY);
        let wake = Arc::new(Notify::new());
        let (stop, stop_rx) = watch::channel(false);
        let engine = Engine {
            backoff: Backoff::new(config.backoff),
            tls,
            certificate_problem: None,
            config,
            replica: replica.clone(),
            state: state_tx,
            updates: updates.clone(),
            wake: Arc::clone(&wake),
            stop: stop_rx,
        };
        let task = runtime.spawn(engine.run());
        Ok(Self {
            replica,
            state,
            updates,
            wake,
            stop,
            task,
        })
    }

    /// Queues a command: it is durable in the outbox when this returns, and is sent now if
    /// the relay is connected, otherwise after the next welcome.
    ///
    /// # Errors
    /// The outbox could not store it (nothing was queued then).
    pub async fn submit(&self, command: Command) -> Result<CommandKey, SyncError> {
        self.submitter().submit(command).await
    }

    /// A cloneable handle that can only submit commands, for tasks that outlive a borrow.
    #[must_use]
    pub fn submitter(&self) -> Submitter {
        Submitter {
            replica: self.replica.clone(),
            wake: Arc::clone(&self.wake),
            updates: self.updates.clone(),
        }
    }

    /// The connection's state right now.
    #[must_use]
    pub fn state(&self) -> ConnectionState {
        self.state.borrow().clone()
    }

    /// A receiver that sees every new connection state (the latest, not every step).
    #[must_use]
    pub fn watch_state(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// Every update from now on, in order (see [`Update`]).
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.updates.subscribe()
    }

    /// The replica this engine writes to.
    #[must_use]
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// Stops the engine: closes the connection (code 1000), waits for the task, flushes.
    ///
    /// # Errors
    /// The task panicked, or the final flush failed.
    pub async fn shutdown(self) -> Result<(), SyncError> {
        // The receiver lives in the task; if it is gone, the task has ended already.
        let _ = self.stop.send(true);
        self.task
            .await
            .map_err(|e| SyncError::Task(e.to_string()))?;
        self.replica.flush()?;
        Ok(())
    }
}

/// How a connection ended.
enum Ending {
    Stop,
    Retry(String),
    Refuse(String),
    /// The tenant was deleted: erase the replica and its outbox, then stop like `Refuse`.
    Erase(String),
    /// The relay's TLS certificate was refused: retried only slowly, since it changes
    /// only when someone fixes the relay or the desk's `ca_file`.
    Certificate(String),
}

impl From<Verdict> for Ending {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Reconnect(reason) => Ending::Retry(reason),
            Verdict::Refused(reason) => Ending::Refuse(reason),
            Verdict::Erase(reason) => Ending::Erase(reason),
        }
    }
}

struct Engine {
    config: SyncConfig,
    /// The TLS client configuration of a `wss://` relay.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The last certificate problem logged, so a slow retry loop logs it once.
    certificate_problem: Option<String>,
    replica: Replica,
    backoff: Backoff,
    state: watch::Sender<ConnectionState>,
    updates: broadcast::Sender<Update>,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
}

/// Resolves once a stop was asked for, or the handle is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender (the handle) was dropped: stop as well.
    let _ = stop.wait_for(|stop| *stop).await;
}

impl Engine {
    async fn run(mut self) {
        loop {
            self.set_state(ConnectionState::Connecting);
            match self.connection().await {
                Ending::Stop => break,
                Ending::Erase(reason) => {
                    // The relay deleted the tenant: keep nothing of it here.
                    match self.replica.erase() {
                        Ok(()) => tracing::warn!(%reason, "tenant deleted; local copy erased"),
                        Err(e) => {
                            tracing::error!(error = %e, "tenant deleted; erasing the local copy failed")
                        }
                    }
                    let _ = self.updates.send(Update::Erased);
                    self.set_state(ConnectionState::Refused { reason });
                    stopped(&mut self.stop).await;
                    return;
                }
                Ending::Refuse(reason) => {
                    tracing::warn!(%reason, "relay refused the desk; not retrying");
                    self.set_state(ConnectionState::Refused { reason });
                    stopped(&mut self.stop).await;
                    return;
                }
                Ending::Certificate(problem) => {
                    let delay = self.config.backoff.max;
                    if self.certificate_problem.as_deref() != Some(problem.as_str()) {
                        tracing::warn!(%problem, ?delay, "relay certificate refused; retrying slowly");
                        self.certificate_problem = Some(problem.clone());
                    }
                    self.set_state(ConnectionState::Offline {
                        retry_in: Some(delay),
                        last_error: Some(problem),
                    });
                    tokio::select! {
                        biased;
                        () = stopped(&mut self.stop) => break,
                        () = sleep(delay) => {}
                    }
                }
                Ending::Retry(error) => {
                    let delay = self.backoff.next_delay(&mut rand::thread_rng());
                    tracing::info!(%error, ?delay, "relay connection lost; retrying");
                    self.set_state(ConnectionState::Offline {
                        retry_in: Some(delay),
                        last_error: Some(error),
                    });
                    tokio::select! {
                        biased;
                        () = stopped(&mut self.stop) => break,
                        () = sleep(delay) => {}
                    }
                }
            }
        }
        self.set_state(ConnectionState::initial());
    }

    /// One connection, from upgrade to its end.
    async fn connection(&mut self) -> Ending {
        let cursor = match self.replica.cursor() {
            Ok(cursor) => cursor,
            Err(e) => return Ending::Retry(e.to_string()),
        };
        let idle = self.config.idle_timeout;
        let handshake = tokio::select! {
            biased;
            () = stopped(&mut self.stop) => return Ending::Stop,
            result = timeout(idle, handshake(&self.config, self.tls.as_ref(), cursor)) => result,
        };
        let (mut conn, welcome) = match handshake {
            Ok(Ok(welcomed)) => welcomed,
            Ok(Err(ending)) => return ending,
            Err(_) => {
                return Ending::Retry(format!("no welcome from the relay within {idle:?}"));
            }
        };
        let mut session = match self.welcomed(&welcome, cursor) {
            Ok(session) => session,
            Err(ending) => {
                let code = match ending {
                    Ending::Refuse(_) => close::POLICY,
                    _ => close::NORMAL,
                };
                conn.close(code, "desk refused the welcome").await;
                return ending;
            }
        };
        match self.serve(&mut conn, &mut session).await {
            Served::Closed(ending) => ending,
            Served::HangUp { code, ending } => {
                conn.close(code, "").await;
                ending
            }
        }
    }

    /// Checks the welcome against the replica and starts the session's bookkeeping.
    fn welcomed(&mut self, welcome: &Welcome, cursor: Seq) -> Result<Session, Ending> {
        if welcome.protocol != PROTOCOL_VERSION {
            return Err(Ending::Refuse(format!(
                "the relay speaks desk protocol {}, this desk {PROTOCOL_VERSION}; update the desk",
                welcome.protocol
            )));
        }
        match self
            .replica
            .accept_welcome(&welcome.identity, &welcome.header, welcome.head)
        {
            // The balance as of `head`; events up to it do not move it again (see apply).
            Ok(()) => {
                if let Err(e) = self.replica.set_credits(welcome.credits) {
                    return Err(Ending::Retry(e.to_string()));
                }
            }
            Err(e @ ReplicaError::IdentityMismatch { .. }) => {
                return Err(Ending::Refuse(e.to_string()));
            }
            Err(e) => return Err(Ending::Retry(e.to_string())),
        }
        if welcome.head < cursor {
            return Err(Ending::Refuse(format!(
                "the relay's log ends at seq {}, but this replica holds events up to {cursor}: \
                 it was made against other relay data; move the replica away to start afresh",
                welcome.head
            )));
        }
        tracing::info!(identity = %welcome.identity, %cursor, head = %welcome.head, "welcomed by the relay");
        self.backoff.reset();
        self.certificate_problem = None;
        let session = Session {
            head: welcome.head,
            sent_through: 0,
        };
        self.set_state(session.progress(cursor));
        Ok(session)
    }

    /// Sends the outbox, then handles frames until the connection ends.
    async fn serve(&mut self, conn: &mut Connection, session: &mut Session) -> Served {
        if let Err(served) = self.send_pending(conn, session).await {
            return served;
        }
        let idle = self.config.idle_timeout;
        let mut deadline = Instant::now() + idle;
        loop {
            tokio::select! {
                biased;
                () = stopped(&mut self.stop) => {
                    return Served::HangUp { code: close::NORMAL, ending: Ending::Stop };
                }
                incoming = conn.recv() => {
                    deadline = Instant::now() + idle;
                    if let Err(served) = self.receive(conn, session, incoming) {
                        return served;
                    }
                }
                () = self.wake.notified() => {
                    if let Err(served) = self.send_pending(conn, session).await {
                        return served;
                    }
                }
                () = sleep_until(deadline) => {
                    return Served::HangUp {
                        code: close::NORMAL,
                        ending: Ending::Retry(format!("nothing from the relay for {idle:?}")),
                    };
                }
            }
        }
    }

    /// Handles what arrived, plus whatever else is already waiting on the socket, so that
    /// a burst of events becomes one replica transaction.
    fn receive(
        &mut self,
        conn: &mut Connection,
        session: &mut Session,
        first: Result<Incoming, NetError>,
    ) -> Result<(), Served> {
        let mut next = Some(first);
        let mut batch: Vec<Event> = Vec::new();
        while let Some(item) = next.take() {
            let incoming = match item {
                Ok(incoming) => incoming,
                Err(e) => {
                    self.apply(session, &mut batch)?;
                    return Err(hang_up_on(&e));
                }
            };
            match incoming {
                Incoming::Frame(ServerFrame::Event { event }) => {
                    batch.push(event);
                    if batch.len() >= MAX_BATCH {
                        self.apply(session, &mut batch)?;
                    }
                }
                // Everything else is handled in order: the events before it go first.
                other => {
                    self.apply(session, &mut batch)?;
                    self.handle(other)?;
                }
            }
            next = conn.recv_ready();
        }
        self.apply(session, &mut batch)
    }

    fn handle(&mut self, incoming: Incoming) -> Result<(), Served> {
        match incoming {
            // Events never get here: `receive` batches them.
            Incoming::Heartbeat | Incoming::Frame(ServerFrame::Event { .. }) => Ok(()),
            Incoming::Closed { code, reason } => {
                Err(Served::Closed(net::verdict_on_close(code, &reason).into()))
            }
            // Nothing was recorded for it: the command stays in the outbox, and the session
            // is restarted after the back-off, which replays it with its key.
            Incoming::Frame(ServerFrame::Answer {
                key,
                answer:
                    Answer::Rejected {
                        rejection: Rejection::RateLimited { retry_after_ms },
                    },
            }) => {
                tracing::info!(%key, retry_after_ms, "the relay asked to slow down");
                Err(Served::HangUp {
                    code: close::NORMAL,
                    ending: Ending::Retry(format!(
                        "the relay asked to slow down for {retry_after_ms} ms"
                    )),
                })
            }
            Incoming::Frame(ServerFrame::Answer { key, answer }) => {
                match self.replica.outbox().record_answer(&key, &answer) {
                    Ok(true) => {
                        tracing::debug!(%key, "command answered");
                        let _ = self.updates.send(Update::Answered { key, answer });
                        Ok(())
                    }
                    Ok(false) => {
                        tracing::debug!(%key, "answer for a command not pending; ignored");
                        Ok(())
                    }
                    Err(e) => Err(Served::HangUp {
                        code: close::NORMAL,
                        ending: Ending::Retry(e.to_string()),
                    }),
                }
            }
            Incoming::Frame(ServerFrame::Welcome { .. }) => Err(Served::HangUp {
                code: close::PROTOCOL,
                ending: Ending::Retry("the relay sent a second welcome".into()),
            }),
        }
    }

    /// Writes a batch to the replica, then announces it.
    fn apply(&mut self, session: &Session, batch: &mut Vec<Event>) -> Result<(), Served> {
        if batch.is_empty() {
            return Ok(());
        }
        let events = mem::take(batch);
        let applied = match self.replica.apply(&events) {
            Ok(applied) => applied,
            Err(e @ ReplicaError::ForeignTenant { .. }) => {
                return Err(Served::HangUp {
                    code: close::POLICY,
                    ending: Ending::Refuse(e.to_string()),
                });
            }
            Err(e) => {
                return Err(Served::HangUp {
                    code: close::NORMAL,
                    ending: Ending::Retry(e.to_string()),
                });
            }
        };
        if applied.applied > 0 {
            let _ = self.updates.send(Update::Applied {
                cursor: applied.cursor,
            });
            self.set_state(session.progress(applied.cursor));
        }
        match applied.gap {
            None => Ok(()),
            Some(gap) => Err(Served::HangUp {
                code: close::PROTOCOL,
                ending: Ending::Retry(format!(
                    "the relay skipped from seq {} to {}; resyncing from {}",
                    gap.expected, gap.got, applied.cursor
                )),
            }),
        }
    }

    /// Sends the outbox entries this connection has not sent yet.
    async fn send_pending(
        &mut self,
        conn: &mut Connection,
        session: &mut Session,
    ) -> Result<(), Served> {
        let pending = self
            .replica
            .outbox()
            .pending_after(session.sent_through)
            .map_err(|e| Served::HangUp {
                code: close::NORMAL,
                ending: Ending::Retry(e.to_string()),
            })?;
        for command in pending {
            let frame = ClientFrame::Command {
                key: command.key,
                command: command.command,
            };
            conn.send(&frame).await.map_err(|e| hang_up_on(&e))?;
            session.sent_through = command.order;
        }
        Ok(())
    }

    /// Publishes a state; the broadcast skips backlog progress, which `Applied` conveys.
    fn set_state(&self, state: ConnectionState) {
        let previous = self.state.send_replace(state.clone());
        let progress_only = matches!(
            (&previous, &state),
            (
                ConnectionState::Syncing { .. },
                ConnectionState::Syncing { .. }
            )
        );
        if previous != state && !progress_only {
            let _ = self.updates.send(Update::State(state));
        }
    }
}

/// How [`Engine::serve`] ended: the relay closed, or the desk hangs up with a code.
enum Served {
    Closed(Ending),
    HangUp { code: u16, ending: Ending },
}

fn hang_up_on(error: &NetError) -> Served {
    Served::HangUp {
        code: error.close_code(),
        ending: Ending::Retry(error.to_string()),
    }
}

/// Per-connection bookkeeping.
struct Session {
    /// The relay's head at the welcome: below it the desk is syncing, from it on live.
    head: Seq,
    /// The outbox position up to which this connection has sent commands.
    sent_through: u64,
}

impl Session {
    fn progress(&self, cursor: Seq) -> ConnectionState {
        if cursor >= self.head {
            ConnectionState::Live
        } else {
            ConnectionState::Syncing {
                cursor,
                head: self.head,
            }
        }
    }
}

struct Welcome {
    protocol: u16,
    identity: Identity,
    header: Header,
    head: Seq,
    credits: i64,
}

/// Upgrade, hello, and the welcome (pings before it are fine, anything else is not).
async fn handshake(
    config: &SyncConfig,
    tls: Option<&Arc<rustls::ClientConfig>>,
    cursor: Seq,
) -> Result<(Connection, Welcome), Ending> {
    let mut conn = match net::connect(config, tls).await {
        Ok(conn) => conn,
        Err(e @ NetError::Certificate { .. }) => return Err(Ending::Certificate(e.to_string())),
        Err(NetError::Status(status)) => {
            return Err(net::verdict_on_status(status, config.subprotocol).into());
        }
        Err(e @ NetError::Config(_)) => return Err(Ending::Refuse(e.to_string())),
        Err(e) => return Err(Ending::Retry(e.to_string())),
    };
    let hello = ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        cursor: cursor.0,
    };
    if let Err(e) = conn.send(&hello).await {
        return Err(Ending::Retry(e.to_string()));
    }
    loop {
        match conn.recv().await {
            Ok(Incoming::Heartbeat) => {}
            Ok(Incoming::Frame(ServerFrame::Welcome {
                protocol,
                tenant,
                agent,
                role,
                brand,
                tenant_name,
                head,
                credits,
                ..
            })) => {
                let identity = Identity {
                    tenant,
                    agent,
                    role,
                };
                let header = Header { brand, tenant_name };
                return Ok((
                    conn,
                    Welcome {
                        protocol,
                        identity,
                        header,
                        head,
                        credits,
                    },
                ));
            }
            Ok(Incoming::Frame(_)) => {
                conn.close(close::PROTOCOL, "expected welcome").await;
                return Err(Ending::Retry(
                    "the relay sent a frame before its welcome".into(),
                ));
            }
            Ok(Incoming::Closed { code, reason }) => {
                return Err(net::verdict_on_close(code, &reason).into());
            }
            Err(e) => {
                conn.close(e.close_code(), "").await;
                return Err(Ending::Retry(e.to_string()));
            }
        }
    }
}

/// Submits commands to one engine's outbox; cheap to clone (see [`SyncHandle::submitter`]).
#[derive(Clone)]
pub struct Submitter {
    replica: Replica,
    wake: Arc<Notify>,
    updates: broadcast::Sender<Update>,
}

impl fmt::Debug for Submitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Submitter").finish_non_exhaustive()
    }
}

impl Submitter {
    /// As [`SyncHandle::submit`].
    ///
    /// # Errors
    /// The outbox could not store it (nothing was queued then).
    pub async fn submit(&self, command: Command) -> Result<CommandKey, SyncError> {
        let outbox = self.replica.outbox().clone();
        // The push ends in an fsync, which must not stall the runtime's worker.
        let pending = tokio::task::spawn_blocking(move || outbox.push(command))
            .await
            .map_err(|e| SyncError::Task(e.to_string()))??;
        self.wake.notify_one();
        // Nobody listening is fine: the desk reads the outbox when it draws.
        let _ = self.updates.send(Update::Queued {
            key: pending.key.clone(),
        });
        Ok(pending.key)
    }
}
