//! Every kind of reply Meta allows beyond plain text, composed on the `:` line of a thread:
//! media by URL or from a local file, Instagram's heart, quick replies, buttons, WhatsApp
//! lists, Instagram cards, and a text quoting one of the customer's messages. Parts are
//! separated by `|`; a choice is `Title` or `Title=PAYLOAD`.
//!
//! [`parse`] is pure: the words in, the content (checked against the channel with
//! [`ReplyContent::check`]) or a sentence saying what is wrong. A local file is not read
//! here: the runtime reads it, checks its size and type (`protocol::upload`) and uploads it
//! through the relay ([`Effect::Upload`]); the answer ([`Msg::Uploaded`]) is then sent as
//! [`ReplyContent::Uploaded`].

use super::{App, Effect};
use crate::model::detail::{Author, Item, ThreadDetail};
use protocol::{Card, Channel, Choice, Command, MediaKind, ReplyContent, ThreadId};
use std::path::PathBuf;

/// The `:` verbs, with what each takes, for help and refusals.
pub const KINDS: &[(&str, &str)] = &[
    ("image", "URL or file [| caption]"),
    ("video", "URL or file [| caption]"),
    ("audio", "URL or file"),
    ("file", "URL or file [| caption]"),
    ("heart", "(Instagram)"),
    ("quick", "TEXT | choice | choice… (Instagram)"),
    ("buttons", "TEXT | button | button [| button]"),
    ("list", "TEXT | BUTTON | row | row… (WhatsApp)"),
    (
        "card",
        "TITLE | SUBTITLE | IMAGE URL | button… [|| next card] (Instagram)",
    ),
    ("reply-to", "N TEXT: quote the Nth newest customer message"),
];

/// The kinds in one line, for `:kinds`.
#[must_use]
pub fn menu() -> String {
    let verbs: Vec<String> = KINDS.iter().map(|(v, _)| format!(":{v}")).collect();
    format!("reply kinds: {} (? lists what each takes)", verbs.join(" "))
}

/// What a `:` kind line asks for.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Composed {
    Send {
        content: ReplyContent,
        reply_to: Option<String>,
    },
    /// A local file: upload it, then send it.
    Upload {
        kind: MediaKind,
        path: PathBuf,
        caption: Option<String>,
    },
}

/// Whether `verb` is one of [`KINDS`].
#[must_use]
pub fn is_kind(verb: &str) -> bool {
    KINDS.iter().any(|(v, _)| *v == verb)
}

fn usage(verb: &str) -> String {
    let what = KINDS
        .iter()
        .find(|(v, _)| *v == verb)
        .map_or("", |(_, w)| w);
    format!(":{verb} {what}")
}

/// `|`-separated parts, trimmed.
fn parts(rest: &str) -> Vec<String> {
    rest.split('|').map(|p| p.trim().to_owned()).collect()
}

/// `Title` or `Title=PAYLOAD`; a bare title's payload is the title in capitals with `_`
/// for spaces, so the business can tell taps apart without typing payloads.
fn choice(part: &str) -> Choice {
    match part.split_once('=') {
        Some((title, payload)) if !payload.trim().is_empty() => Choice {
            title: title.trim().to_owned(),
            payload: payload.trim().to_owned(),
        },
        _ => Choice {
            title: part.trim_end_matches('=').trim().to_owned(),
            payload: part
                .trim_end_matches('=')
                .trim()
                .to_uppercase()
                .replace(' ', "_"),
        },
    }
}

fn choices(parts: &[String]) -> Vec<Choice> {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| choice(p))
        .collect()
}

fn is_web(source: &str) -> bool {
    let lower = source.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

fn nonempty(part: Option<&String>) -> Option<String> {
    part.filter(|p| !p.is_empty()).cloned()
}

/// The `n`th newest customer message of `detail` (1 = the newest), by its Meta id.
fn customer_message(detail: &ThreadDetail, n: usize) -> Option<String> {
    detail
        .items
        .iter()
        .rev()
        .filter_map(|i| match i {
            Item::Line(l) if l.author == Author::Customer && !l.deleted => l.mid.clone(),
            _ => None,
        })
        .nth(n.checked_sub(1)?)
}

/// A `:` kind line on a thread of `channel` (`detail`: the open conversation, for
/// `reply-to`).
///
/// # Errors
/// What is wrong, in words: the usage when parts are missing, or why the channel refuses it.
pub fn parse(
    verb: &str,
    rest: &str,
    channel: Channel,
    detail: Option<&ThreadDetail>,
) -> Result<Composed, String> {
    let p = parts(rest);
    let first = p.first().cloned().unwrap_or_default();
    let missing = || format!("usage: {}", usage(verb));
    let (content, reply_to) = match verb {
        "image" | "video" | "audio" | "file" => {
            let kind = protocol::upload::kind_named(verb).ok_or_else(missing)?;
            if first.is_empty() {
                return Err(missing());
            }
            let caption = nonempty(p.get(1));
            if !is_web(&first) {
                if caption.is_some() && channel != Channel::WhatsApp {
                    return Err("captions are only sent on WhatsApp".into());
                }
                let path = PathBuf::from(shellish(&first));
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                let mime = name.as_deref().and_then(protocol::upload::mime_of);
                // The type is known from the name now; the size when the file is read.
                protocol::upload::check(channel, kind, mime.unwrap_or("unknown type"), 1)?;
                return Ok(Composed::Upload {
                    kind,
                    path,
                    caption,
                });
            }
            (
                ReplyContent::Media {
                    kind,
                    url: first,
                    caption,
                },
                None,
            )
        }
        "heart" => (ReplyContent::Heart, None),
        "quick" if p.len() >= 2 && !first.is_empty() => (
            ReplyContent::QuickReplies {
                text: first,
                options: choices(&p[1..]),
            },
            None,
        ),
        "buttons" if p.len() >= 2 && !first.is_empty() => (
            ReplyContent::Buttons {
                text: first,
                buttons: choices(&p[1..]),
            },
            None,
        ),
        "list" if p.len() >= 3 && !first.is_empty() => (
            ReplyContent::List {
                text: first,
                button: p[1].clone(),
                rows: choices(&p[2..]),
            },
            None,
        ),
        "card" if !first.is_empty() => {
            let cards = rest
                .split("||")
                .map(|card| {
                    let c = parts(card);
                    Card {
                        title: c.first().cloned().unwrap_or_default(),
                        subtitle: nonempty(c.get(1)),
                        image_url: nonempty(c.get(2)),
                        buttons: choices(c.get(3..).unwrap_or_default()),
                    }
                })
                .collect::<Vec<_>>();
            if cards.iter().any(|c| c.title.is_empty()) {
                return Err("every card needs a title".into());
            }
            (ReplyContent::Cards { cards }, None)
        }
        "reply-to" => {
            let mut words = rest.trim().splitn(2, char::is_whitespace);
            let n = words.next().and_then(|w| w.parse::<usize>().ok());
            let text = words.next().unwrap_or_default().trim().to_owned();
            let (Some(n), false) = (n, text.is_empty()) else {
                return Err(missing());
            };
            let detail = detail.ok_or("open the thread to quote one of its messages")?;
            let mid = customer_message(detail, n)
                .ok_or_else(|| format!("the customer has no message number {n} (1 = newest)"))?;
            (ReplyContent::Text { text }, Some(mid))
        }
        _ => return Err(missing()),
    };
    content.check(channel)?;
    Ok(Composed::Send { content, reply_to })
}

/// `~/` expanded, so a path can be typed as in a shell.
fn shellish(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => format!("{}/{rest}", home.to_string_lossy()),
        _ => path.to_owned(),
    }
}

impl App {
    /// `:VERB …` of [`KINDS`] on the thread being worked: sends it, or starts its upload.
    pub(super) fn compose_kind(&mut self, verb: &str, rest: &str, effects: &mut Vec<Effect>) {
        let Some((profile, row)) = self.target() else {
            self.flash = Some("no thread selected".into());
            return;
        };
        let detail = self
            .open
            .as_ref()
            .filter(|o| o.profile == profile && o.thread == row.id)
            .map(|o| &o.detail);
        match parse(verb, rest, row.channel, detail) {
            Err(why) => self.flash = Some(why),
            Ok(Composed::Send { content, reply_to }) => {
                let thread = row.id.clone();
                effects.push(self.submit(
                    profile,
                    &thread,
                    Command::SendMessage {
                        thread: thread.clone(),
                        content,
                        reply_to,
                    },
                ));
            }
            Ok(Composed::Upload {
                kind,
                path,
                caption,
            }) => {
                self.flash = Some(format!("uploading {}…", path.display()));
                effects.push(Effect::Upload {
                    profile,
                    thread: row.id.clone(),
                    channel: row.channel_id.as_str().to_owned(),
                    on: row.channel,
                    kind,
                    path,
                    caption,
                });
            }
        }
    }

    /// The relay's answer to [`Effect::Upload`]: the media id is sent at once.
    pub(super) fn uploaded(
        &mut self,
        profile: usize,
        thread: &ThreadId,
        kind: MediaKind,
        caption: Option<String>,
        result: Result<String, String>,
        effects: &mut Vec<Effect>,
    ) {
        match result {
            Err(why) => {
                self.flash = Some(format!("not sent: {why}"));
            }
            Ok(id) => {
                self.flash = None;
                effects.push(self.submit(
                    profile,
                    thread,
                    Command::SendMessage {
                        thread: thread.clone(),
                        content: ReplyContent::Uploaded { kind, id, caption },
                        reply_to: None,
                    },
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[track_caller]
    fn check(line: &str, channel: Channel, expected: Result<Composed, &str>) {
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        let got = parse(verb, rest, channel, None);
        assert_eq!(got, expected.map_err(str::to_owned), "{line}");
    }

    fn send(content: ReplyContent) -> Result<Composed, &'static str> {
        Ok(Composed::Send {
            content,
            reply_to: None,
        })
    }

    fn c(title: &str, payload: &str) -> Choice {
        Choice {
            title: title.into(),
            payload: payload.into(),
        }
    }

    #[test]
    fn every_kind_parses_or_says_why_not() {
        use Channel::{InstagramComment as Comment, InstagramDm as Ig, WhatsApp as Wa};
        check(
            "image https://cdn.example/a.jpg",
            Ig,
            send(ReplyContent::Media {
                kind: MediaKind::Image,
                url: "https://cdn.example/a.jpg".into(),
                caption: None,
            }),
        );
        check(
            "file https://cdn.example/menu.pdf | Our menu",
            Wa,
            send(ReplyContent::Media {
                kind: MediaKind::File,
                url: "https://cdn.example/menu.pdf".into(),
                caption: Some("Our menu".into()),
            }),
        );
        check(
            "image https://cdn.example/a.jpg | caption",
            Ig,
            Err("captions are only sent on WhatsApp"),
        );
        check(
            "video /tmp/clip.mp4",
            Wa,
            Ok(Composed::Upload {
                kind: MediaKind::Video,
                path: "/tmp/clip.mp4".into(),
                caption: None,
            }),
        );
        check(
            "image /tmp/a.webp",
            Wa,
            Err("WhatsApp sends image only as jpeg, png, not image/webp"),
        );
        check("image", Wa, Err("usage: :image URL or file [| caption]"));
        check("heart", Ig, send(ReplyContent::Heart));
        check("heart", Wa, Err("a heart cannot be sent on whatsapp"));
        check(
            "quick Which size? | Small | Large=BIG",
            Ig,
            send(ReplyContent::QuickReplies {
                text: "Which size?".into(),
                options: vec![c("Small", "SMALL"), c("Large", "BIG")],
            }),
        );
        check(
            "buttons Order now? | Yes please | Later",
            Wa,
            send(ReplyContent::Buttons {
                text: "Order now?".into(),
                buttons: vec![c("Yes please", "YES_PLEASE"), c("Later", "LATER")],
            }),
        );
        check(
            "buttons Pick | a | b | c | d",
            Wa,
            Err("give 1 to 3 buttons"),
        );
        check(
            "list Pick a cake | Cakes | Rye=R1 | Sourdough",
            Wa,
            send(ReplyContent::List {
                text: "Pick a cake".into(),
                button: "Cakes".into(),
                rows: vec![c("Rye", "R1"), c("Sourdough", "SOURDOUGH")],
            }),
        );
        check(
            "list Pick | Cakes",
            Wa,
            Err("usage: :list TEXT | BUTTON | row | row… (WhatsApp)"),
        );
        check(
            "card Rye | Rp 45.000 | https://cdn.example/rye.jpg | Buy || Sourdough",
            Ig,
            send(ReplyContent::Cards {
                cards: vec![
                    Card {
                        title: "Rye".into(),
                        subtitle: Some("Rp 45.000".into()),
                        image_url: Some("https://cdn.example/rye.jpg".into()),
                        buttons: vec![c("Buy", "BUY")],
                    },
                    Card {
                        title: "Sourdough".into(),
                        subtitle: None,
                        image_url: None,
                        buttons: vec![],
                    },
                ],
            }),
        );
        check(
            "card Rye",
            Comment,
            Err("cards cannot be sent on instagram_comment"),
        );
        check(
            "reply-to 1 yes",
            Wa,
            Err("open the thread to quote one of its messages"),
        );
        check(
            "reply-to x",
            Wa,
            Err("usage: :reply-to N TEXT: quote the Nth newest customer message"),
        );
    }
}
