//! The types both sides of chatdesk speak, and nothing else.
//!
//! `protocol` does no IO and knows no runtime, web framework or database: it holds the ids,
//! the normalized events the relay stores and the desk shows, the frames of the desk
//! WebSocket, the one codec module (bincode 2 and JSON), and the messaging-window rules as
//! pure functions of a thread and a moment.

pub mod canned;
pub mod codec;
pub mod command;
pub mod customer;
pub mod desk;
pub mod error;
pub mod event;
pub mod frame;
pub mod ids;
pub mod inbound;
pub mod outbox;
pub mod redact;
pub mod reply;
pub mod template;
pub mod time;
pub mod upload;
pub mod window;

pub use command::{Answer, Command, CommandKey, Rejection};
pub use customer::{Channel, Customer, CustomerId, Direction};
pub use desk::{DeskAction, DeskEvent, Draft, DraftAuthor, DraftBasis};
pub use error::CodecError;
pub use event::{
    AccountEvent, AccountEventKind, CreditsEvent, CustomerProfile, Event, EventBody, UnknownEvent,
};
pub use frame::{ClientFrame, PROTOCOL_VERSION, Role, ServerFrame};
pub use ids::{AgentId, ChannelId, DraftId, MessageId, PartnerId, Seq, TenantId, ThreadId};
pub use inbound::InboundEvent;
pub use outbox::{FailureClass, OutboxEvent, SendFailure, SendStatus};
pub use reply::{Card, Choice, MediaKind, ReplyContent, SenderAction};
pub use time::Millis;
