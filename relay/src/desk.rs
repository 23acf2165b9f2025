//! The desks' side of the relay: deciding agents' commands, fanning each tenant's events
//! out to that tenant's connected desks, and the WebSocket session that ties them together.
//!
//! Start at `session` (one connected desk), then `hub` (who receives what) and `decide`
//! (whether a command may happen, as a pure function of the thread); `limit` says how many
//! commands an agent may send.

pub mod decide;
pub mod hub;
pub mod limit;
pub mod session;
