//! What a local file may be to go out as media, per channel: its type (from the file name's
//! extension, the same rule on both sides) and its size. The desk checks a file before it
//! uploads anything, and the relay's upload route checks again before it calls Meta, so an
//! over-size or wrong-type file gets one clear refusal instead of Meta's error.
//!
//! Instagram's figures are meta-platform.md §6.2 ([IG-SEND]). WhatsApp's are not in that
//! reference; they are Meta's published Cloud API media limits (image 5 MB, video and audio
//! 16 MB, document 100 MB), and Meta's own upload refusal stays the final word.

use crate::customer::Channel;
use crate::reply::MediaKind;

const MB: u64 = 1024 * 1024;

/// The largest file any channel takes (a WhatsApp document): the upload route's body cap.
pub const MAX_UPLOAD_BYTES: u64 = 100 * MB;

/// The MIME type for a file name, by its extension; `None` for types no channel takes.
#[must_use]
pub fn mime_of(file_name: &str) -> Option<&'static str> {
    let ext = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "3gp" => "video/3gpp",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "avi" => "video/x-msvideo",
        "ogv" => "video/ogg",
        "aac" => "audio/aac",
        "m4a" => "audio/mp4",
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "amr" => "audio/amr",
        "ogg" | "opus" => "audio/ogg",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => return None,
    })
}

/// The types and the size cap of `kind` on `channel`.
fn allowed(channel: Channel, kind: MediaKind) -> (&'static [&'static str], u64) {
    match (channel, kind) {
        (Channel::WhatsApp, MediaKind::Image) => (&["image/jpeg", "image/png"], 5 * MB),
        (Channel::WhatsApp, MediaKind::Video) => (&["video/mp4", "video/3gpp"], 16 * MB),
        (Channel::WhatsApp, MediaKind::Audio) => (
            &[
                "audio/aac",
                "audio/amr",
                "audio/mpeg",
                "audio/mp4",
                "audio/ogg",
            ],
            16 * MB,
        ),
        (Channel::WhatsApp, MediaKind::File) => (
            &[
                "application/pdf",
                "text/plain",
                "application/msword",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.ms-excel",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.ms-powerpoint",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ],
            100 * MB,
        ),
        (_, MediaKind::Image) => (&["image/png", "image/jpeg", "image/gif"], 8 * MB),
        (_, MediaKind::Video) => (
            &[
                "video/mp4",
                "video/ogg",
                "video/x-msvideo",
                "video/quicktime",
                "video/webm",
            ],
            25 * MB,
        ),
        (_, MediaKind::Audio) => (&["audio/aac", "audio/mp4", "audio/wav"], 25 * MB),
        (_, MediaKind::File) => (&["application/pdf"], 25 * MB),
    }
}

/// Whether a file of `mime` and `bytes` may go out as `kind` on `channel`.
///
/// # Errors
/// A sentence for the agent: what the channel takes, or how much too large the file is.
pub fn check(channel: Channel, kind: MediaKind, mime: &str, bytes: u64) -> Result<(), String> {
    let name = kind_name(kind);
    if channel == Channel::InstagramComment {
        return Err("media cannot be sent on a comment thread".into());
    }
    let (types, cap) = allowed(channel, kind);
    if !types.contains(&mime) {
        return Err(format!(
            "{} sends {name} only as {}, not {mime}",
            channel_name(channel),
            types
                .iter()
                .map(|t| t.rsplit('/').next().unwrap_or(t))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if bytes == 0 {
        return Err("the file is empty".into());
    }
    if bytes > cap {
        return Err(format!(
            "the file has {:.1} MB; {} takes {name} files up to {} MB",
            bytes as f64 / MB as f64,
            channel_name(channel),
            cap / MB
        ));
    }
    Ok(())
}

/// The word for a kind, as commands and refusals name it.
#[must_use]
pub fn kind_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        MediaKind::File => "file",
    }
}

/// The kind a word names (`image`, `video`, `audio`, `file`, `document`).
#[must_use]
pub fn kind_named(word: &str) -> Option<MediaKind> {
    Some(match word {
        "image" => MediaKind::Image,
        "video" => MediaKind::Video,
        "audio" => MediaKind::Audio,
        "file" | "document" => MediaKind::File,
        _ => return None,
    })
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::WhatsApp => "WhatsApp",
        Channel::InstagramDm | Channel::InstagramComment => "Instagram",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[track_caller]
    fn check_case(channel: Channel, kind: MediaKind, file: &str, bytes: u64, ok: bool) {
        let mime = mime_of(file).unwrap_or("application/octet-stream");
        assert_eq!(
            check(channel, kind, mime, bytes).is_ok(),
            ok,
            "{channel:?} {kind:?} {file} {bytes}: {:?}",
            check(channel, kind, mime, bytes)
        );
    }

    #[test]
    fn limits_at_their_edges() {
        use Channel::{InstagramDm as Ig, WhatsApp as Wa};
        use MediaKind::{Audio, File, Image, Video};
        check_case(Ig, Image, "a.PNG", 8 * MB, true);
        check_case(Ig, Image, "a.png", 8 * MB + 1, false);
        check_case(Ig, Image, "a.gif", 1, true);
        check_case(Ig, Image, "a.webp", 1, false);
        check_case(Ig, Video, "a.mov", 25 * MB, true);
        check_case(Ig, Video, "a.mov", 25 * MB + 1, false);
        check_case(Ig, Audio, "a.m4a", 1, true);
        check_case(Ig, Audio, "a.mp3", 1, false);
        check_case(Ig, File, "a.pdf", 25 * MB, true);
        check_case(Ig, File, "a.docx", 1, false);
        check_case(Wa, Image, "a.jpg", 5 * MB, true);
        check_case(Wa, Image, "a.jpg", 5 * MB + 1, false);
        check_case(Wa, Image, "a.gif", 1, false);
        check_case(Wa, Video, "a.3gp", 16 * MB, true);
        check_case(Wa, Audio, "a.ogg", 16 * MB + 1, false);
        check_case(Wa, File, "a.xlsx", 100 * MB, true);
        check_case(Wa, File, "a.xlsx", 100 * MB + 1, false);
        check_case(Wa, File, "noext", 1, false);
        check_case(Wa, Image, "empty.png", 0, false);
        check_case(Channel::InstagramComment, Image, "a.png", 1, false);
    }

    #[test]
    fn refusals_say_what_fits() {
        let e = check(Channel::WhatsApp, MediaKind::Image, "image/png", 6 * MB).unwrap_err();
        assert_eq!(
            e,
            "the file has 6.0 MB; WhatsApp takes image files up to 5 MB"
        );
        let e = check(Channel::InstagramDm, MediaKind::File, "text/plain", 10).unwrap_err();
        assert_eq!(e, "Instagram sends file only as pdf, not text/plain");
    }
}
