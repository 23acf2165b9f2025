//! The relay's lowest layer, shared by the relay, the drafting crate and the Meta simulator:
//! secrets that never print, ids, Meta's id shapes, the one clock, and the URL and HTML
//! helpers. It depends on nothing of ours but `protocol`.

pub mod clock;
pub mod graph_url;
pub mod html;
pub mod ids;
pub mod meta_id;
pub mod secret;
