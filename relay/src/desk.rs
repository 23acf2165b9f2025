//! The desks' side of the relay below HTTP: fanning each tenant's events out to that
//! tenant's connected desks (`hub`) and each agent's command budget (`limit`). The WebSocket
//! session that ties them to a socket is `http::desk::session`. Whether a command may happen is a storage rule
//! (`crate::store::decide`), decided under the tenant's write lock.

pub mod hub;
pub mod limit;
