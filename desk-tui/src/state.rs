//! What the engine tells the desk: the connection's state (a `watch`, latest value only)
//! and a stream of updates (a `broadcast`, every change in order).
//!
//! Updates only say *that* something changed; the data itself is read from the replica,
//! which is written before the update is sent.

use protocol::{Answer, CommandKey, Seq};
use std::fmt;
use std::time::Duration;

/// Where the connection to the relay stands.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ConnectionState {
    /// Not connected. `retry_in` is the wait before the next attempt (`None`: not trying,
    /// e.g. after shutdown); `last_error` says why the last connection ended.
    Offline {
        retry_in: Option<Duration>,
        last_error: Option<String>,
    },
    /// Connecting, upgrading and waiting for the welcome.
    Connecting,
    /// Welcomed; catching up on the backlog from `cursor` to the relay's `head`.
    Syncing { cursor: Seq, head: Seq },
    /// Caught up; events arrive as they happen.
    Live,
    /// The relay refused this desk (token revoked, protocol unsupported, another tenant…);
    /// the engine stopped trying. Only a new token or a new desk version helps.
    Refused { reason: String },
}

/// How every certificate refusal's text begins (see `net::NetError::Certificate`).
pub(crate) const CERTIFICATE_REFUSED: &str = "TLS certificate of ";

impl ConnectionState {
    /// Why the relay's TLS certificate was refused, when that is why the desk is offline.
    #[must_use]
    pub fn certificate_problem(&self) -> Option<&str> {
        match self {
            ConnectionState::Offline {
                last_error: Some(error),
                ..
            } if error.starts_with(CERTIFICATE_REFUSED) => Some(error),
            _ => None,
        }
    }

    /// The state before the engine's first attempt.
    #[must_use]
    pub fn initial() -> Self {
        ConnectionState::Offline {
            retry_in: None,
            last_error: None,
        }
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionState::Offline {
                retry_in,
                last_error,
            } => {
                f.write_str("offline")?;
                if let Some(error) = last_error {
                    write!(f, " ({error})")?;
                }
                if let Some(wait) = retry_in {
                    write!(f, ", retrying in {:.1} s", wait.as_secs_f64())?;
                }
                Ok(())
            }
            ConnectionState::Connecting => f.write_str("connecting"),
            ConnectionState::Syncing { cursor, head } => write!(f, "syncing {cursor}/{head}"),
            ConnectionState::Live => f.write_str("live"),
            ConnectionState::Refused { reason } => write!(f, "refused: {reason}"),
        }
    }
}

/// One change the desk may want to redraw for.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Update {
    /// The replica now holds every event up to `cursor`.
    Applied {
        cursor: Seq,
    },
    /// The relay answered the command with this key; it has left the outbox.
    Answered {
        key: CommandKey,
        answer: Answer,
    },
    /// A command entered the outbox.
    Queued {
        key: CommandKey,
    },
    State(ConnectionState),
    /// The relay deleted the tenant and the replica was erased: drop its rows.
    Erased,
}
