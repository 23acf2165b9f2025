//! What the screens show, derived from the replica's events: inbox rows
//! ([`summary::ThreadSummary`], kept up to date as events apply), a row's status and window
//! in words ([`status`]), the inbox's filters and order ([`inbox`]), and one conversation
//! in full ([`detail`], rebuilt from that thread's events when it is opened), and the
//! account-level @mentions listed beside the threads ([`mention`]).
//!
//! Everything here is pure: events in, values out, `now` passed in. The same events give
//! the same screens on every desk.

pub mod detail;
pub mod inbox;
pub mod mention;
pub mod status;
pub mod summary;

use protocol::inbound::AttachmentKind;

/// A word for an attachment's type, as placeholders show it.
#[must_use]
pub fn attachment_label(kind: &AttachmentKind) -> String {
    match kind {
        AttachmentKind::Image => "image".into(),
        AttachmentKind::Video => "video".into(),
        AttachmentKind::Audio => "audio".into(),
        AttachmentKind::File => "file".into(),
        AttachmentKind::Sticker => "sticker".into(),
        AttachmentKind::Share => "share".into(),
        AttachmentKind::StoryMention => "story mention".into(),
        AttachmentKind::Story => "story".into(),
        AttachmentKind::Reel => "reel".into(),
        AttachmentKind::Post => "post".into(),
        AttachmentKind::Product => "product".into(),
        AttachmentKind::Ephemeral => "disappearing media".into(),
        AttachmentKind::LikeHeart => "❤".into(),
        AttachmentKind::Unsupported(what) => format!("unsupported {what}"),
    }
}
