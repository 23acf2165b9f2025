//! Attachments on the thread screen: `o` opens one with the system opener (asking for its
//! number when the thread has several), and images are asked for to be shown inline when
//! the terminal can draw them. The bytes never pass through here: the runtime fetches them
//! (`crate::media`) and answers with [`Msg::MediaOpened`](super::Msg) and
//! [`Msg::Image`](super::Msg).

use super::{App, Effect, Input};
use crossterm::event::KeyCode;
use std::fmt;
use std::sync::Arc;

/// At most this many images of a thread (the newest) are fetched to be shown inline, so a
/// long thread full of photos does not fill memory.
const INLINE_IMAGES_PER_THREAD: usize = 6;

/// One attachment of one message of one profile: the `{message}/{n}` of the media route.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MediaKey {
    pub profile: usize,
    pub message: String,
    pub n: usize,
}

impl MediaKey {
    /// The URL the desk's loopback server (`crate::media`) answers for this attachment,
    /// under its `base` (`http://127.0.0.1:<port>/<secret>`).
    #[must_use]
    pub fn url(&self, base: &str) -> String {
        format!(
            "{base}/{}/{}/{}",
            self.profile,
            percent_encode(&self.message),
            self.n
        )
    }
}

/// Meta's message ids are base64-ish (`aWdf…==`, `wamid.HBg…`): only path-safe bytes are
/// kept as they are.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An image ready to draw: encoded for the terminal's protocol at a size in cells.
#[derive(Clone)]
pub struct InlineImage {
    pub protocol: Arc<ratatui_image::protocol::Protocol>,
    pub cols: u16,
    pub rows: u16,
}

impl fmt::Debug for InlineImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InlineImage({}x{})", self.cols, self.rows)
    }
}

/// Where an inline image stands.
#[derive(Clone, Debug)]
pub enum ImageSlot {
    Loading,
    Ready(InlineImage),
    /// Not an image the desk can decode, too large, or the relay refused: nothing is drawn
    /// and nothing is asked again this run.
    Failed,
}

impl App {
    /// `o`: opens the thread's only attachment, or asks which one.
    pub(super) fn open_attachment(&mut self, effects: &mut Vec<Effect>) {
        let Some(open) = &self.open else {
            self.flash = Some("open a conversation to open its attachments".into());
            return;
        };
        let count = open.detail.media().len();
        match count {
            0 => self.flash = Some("this conversation has no attachment to open".into()),
            1 => self.open_numbered(1, effects),
            _ => self.input = Input::PickMedia(String::new()),
        }
    }

    /// Opens attachment `number` (1-based, as the thread lists them).
    pub(super) fn open_numbered(&mut self, number: usize, effects: &mut Vec<Effect>) {
        let Some(open) = &self.open else {
            return;
        };
        let media = open.detail.media();
        let Some(item) = number.checked_sub(1).and_then(|i| media.get(i)) else {
            self.flash = Some(format!(
                "there is no attachment {number} here (1–{})",
                media.len()
            ));
            return;
        };
        let key = MediaKey {
            profile: open.profile,
            message: item.message.to_owned(),
            n: item.media.n,
        };
        self.flash = Some(format!("opening attachment {number}…"));
        effects.push(Effect::OpenMedia { key, number });
    }

    /// A key while the status bar asks for an attachment's number: digits build it, and it
    /// opens as soon as no further digit could name another attachment (or on Enter).
    pub(super) fn pick_media_key(&mut self, code: KeyCode, effects: &mut Vec<Effect>) {
        let Input::PickMedia(typed) = &mut self.input else {
            return;
        };
        let count = self.open.as_ref().map_or(0, |o| o.detail.media().len());
        match code {
            KeyCode::Esc => self.input = Input::Normal,
            KeyCode::Backspace if typed.pop().is_none() => self.input = Input::Normal,
            KeyCode::Enter => {
                let number = typed.parse::<usize>().unwrap_or(0);
                self.input = Input::Normal;
                self.open_numbered(number, effects);
            }
            KeyCode::Char(c) if c.is_ascii_digit() => {
                typed.push(c);
                let number = typed.parse::<usize>().unwrap_or(usize::MAX);
                // A wrong number is said at once; a right one opens when no further digit
                // could make it another attachment's.
                if number == 0 || number > count || number.saturating_mul(10) > count {
                    self.input = Input::Normal;
                    self.open_numbered(number, effects);
                }
            }
            _ => {}
        }
    }

    /// Asks for the open thread's newest images that are not fetched yet, when the terminal
    /// can draw images.
    pub(super) fn want_images(&mut self, effects: &mut Vec<Effect>) {
        if !self.inline_images {
            return;
        }
        let Some(open) = &self.open else {
            return;
        };
        let images: Vec<MediaKey> = open
            .detail
            .media()
            .iter()
            .filter(|m| m.media.image)
            .map(|m| MediaKey {
                profile: open.profile,
                message: m.message.to_owned(),
                n: m.media.n,
            })
            .collect();
        let skip = images.len().saturating_sub(INLINE_IMAGES_PER_THREAD);
        let keys: Vec<MediaKey> = images
            .into_iter()
            .skip(skip)
            .filter(|k| !self.images.contains_key(k))
            .collect();
        if keys.is_empty() {
            return;
        }
        for k in &keys {
            self.images.insert(k.clone(), ImageSlot::Loading);
        }
        effects.push(Effect::FetchImages { keys });
    }

    /// The window changed size: images are fitted again to the new pane.
    pub(super) fn refit_images(&mut self) {
        self.images
            .retain(|_, slot| !matches!(slot, ImageSlot::Ready(_)));
    }
}

#[cfg(test)]
mod tests {
    use super::MediaKey;

    #[test]
    fn message_ids_are_escaped_in_links() {
        let key = |message: &str, n| MediaKey {
            profile: 1,
            message: message.into(),
            n,
        };
        assert_eq!(
            key("aWdf/ab+c==", 2).url("http://127.0.0.1:1/k"),
            "http://127.0.0.1:1/k/1/aWdf%2Fab%2Bc%3D%3D/2"
        );
        assert_eq!(
            key("wamid.HBg_x-1", 0).url("http://h/k"),
            "http://h/k/1/wamid.HBg_x-1/0"
        );
    }
}
