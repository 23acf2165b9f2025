//! Webhook ingest: from Meta's verified bytes to durable, routed, de-duplicated events.
//!
//! `parse` turns Meta's envelope into platform-neutral items without knowing any tenant;
//! `route` maps each item's account id to a channel and so a tenant; the store appends.

pub mod parse;
pub mod route;
