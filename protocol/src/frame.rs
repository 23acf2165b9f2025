//! Frames of the desk WebSocket and the handshake's version number.
//!
//! Every variant is a struct variant so the JSON form can always be an object with a
//! `"type"` tag (see `codec`); bincode frames carry the variant index instead.

use crate::command::{Answer, Command, CommandKey};
use crate::event::Event;
use crate::ids::{AgentId, Seq, TenantId};
use serde::{Deserialize, Serialize};

/// Bumped on any change that an older peer would decode wrongly.
pub const PROTOCOL_VERSION: u16 = 1;

fn current_version() -> u16 {
    PROTOCOL_VERSION
}

/// What a person may do within their tenant.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Owner,
}

impl Role {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Owner => "owner",
        }
    }
}

/// Frames a desk sends.
///
/// Unknown fields are refused (a frame naming a tenant is an error, never ignored).
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// First frame: the last sequence number this desk has applied (0 for none).
    Hello {
        #[serde(default = "current_version")]
        protocol: u16,
        cursor: u64,
    },
    /// An action; answered by exactly one `answer` with the same key.
    Command { key: CommandKey, command: Command },
}

/// Frames the relay sends.
// Events are built once and moved a few times; boxing the large variant would only add an
// allocation and noise to every constructor and pattern.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerFrame {
    /// Answer to `hello`: who the desk is, and the tenant's newest sequence number.
    Welcome {
        protocol: u16,
        tenant: TenantId,
        agent: AgentId,
        role: Role,
        head: Seq,
    },
    /// One event of the tenant's log, backlog or live.
    Event { event: Event },
    /// The answer to the command with this key (the first answer, if it was replayed).
    Answer { key: CommandKey, answer: Answer },
}
