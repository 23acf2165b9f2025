//! The desk's library: its local replica of the tenant's event log, the durable outbox of
//! commands, and the sync engine that keeps both in step with the relay over the desk
//! WebSocket. Nothing here touches a terminal: the TUI (and tests) render from the
//! [`Replica`] and redraw on [`Update`]s.
//!
//! Start-up order: open the replica ([`Replica::open`]) and draw from it at once, then
//! start the engine ([`SyncHandle::spawn`]) with that replica; the desk works the same
//! offline, its commands waiting in the outbox.
//!
//! **Invariants:** the replica holds exactly the events `1..=cursor`, written together with
//! the cursor; a command is durable before `submit` returns and is replayed with its key
//! until answered; only `net` touches the socket; the agent token appears in no log, path
//! or error text.

pub mod app;
pub mod backoff;
pub mod config;
pub mod demo;
pub mod fixtures;
pub mod logging;
pub mod media;
pub mod model;
mod net;
pub mod outbox;
pub mod profiles;
pub mod remote;
pub mod replica;
pub mod run;
pub mod snapshot;
pub mod state;
pub mod sync;
pub mod tls;
pub mod ui;

pub use backoff::BackoffConfig;
pub use config::{ConfigError, Subprotocol, SyncConfig, Token};
pub use outbox::{AnsweredCommand, Outbox, OutboxError, PendingCommand};
pub use replica::Header;
pub use replica::{Applied, Gap, Identity, Replica, ReplicaError};
pub use state::{ConnectionState, Update};
pub use sync::{SyncError, SyncHandle};
