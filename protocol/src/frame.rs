//! Frames of the desk WebSocket and the handshake's version number.
//!
//! Every variant is a struct variant so the JSON form can always be an object with a
//! `"type"` tag (see `codec`); bincode frames carry the variant index instead.

use crate::command::{Answer, Command, CommandKey};
use crate::event::Event;
use crate::ids::{AgentId, Seq, TenantId};
use serde::{Deserialize, Serialize};

/// Bumped on any change that an older peer would decode wrongly.
pub const PROTOCOL_VERSION: u16 = 5;

/// WebSocket subprotocol of binary frames carrying bincode (the default).
pub const SUBPROTOCOL_BINARY: &str = "chatdesk.v1.bincode";
/// WebSocket subprotocol of text frames carrying `"type"`-tagged JSON.
pub const SUBPROTOCOL_JSON: &str = "chatdesk.v1.json";

/// The close codes of a desk session: RFC 6455's, plus the relay's own 4xxx codes. Both
/// sides read them from here, so what the relay sends and what the desk concludes agree.
pub mod close {
    pub const NORMAL: u16 = 1000;
    /// The relay is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// Frames out of order (no hello first, a second hello).
    pub const PROTOCOL: u16 = 1002;
    /// A text frame on the binary subprotocol or the reverse.
    pub const UNSUPPORTED: u16 = 1003;
    /// A frame that does not decode (including unknown fields).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// Refused for good: token revoked, cursor ahead of the log.
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const INTERNAL: u16 = 1011;
    /// The desk fell behind; reconnect and catch up from the cursor.
    pub const TOO_SLOW: u16 = 4000;
    pub const IDLE: u16 = 4001;
    /// The desk's protocol version is not supported.
    pub const VERSION: u16 = 4002;
    /// The tenant was deleted from the relay: its tokens are gone and the desk must erase
    /// its local copy (replica, outbox, snapshot) of the tenant's data. Final.
    pub const TENANT_DELETED: u16 = 4003;
}

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
        /// The partner's brand (its name when it has none): the desk's header.
        brand: String,
        /// The tenant's name, shown beside the brand.
        tenant_name: String,
        head: Seq,
        /// The tenant's credit balance as of `head`; later `Credits` events and sends
        /// change it (see `protocol::outbox::credit_change`).
        credits: i64,
    },
    /// One event of the tenant's log, backlog or live.
    Event { event: Event },
    /// The answer to the command with this key (the first answer, if it was replayed).
    Answer { key: CommandKey, answer: Answer },
}
