//! One conversation in full, rebuilt from that thread's events when it is opened: the
//! messages either way (with attachments, story replies, reactions, edits and deletions),
//! our replies with their send state, what people did, and the draft with its basis.

use super::attachment_label;
use super::summary::{SendState, ThreadSummary};
use protocol::inbound::{
    AttachmentKind, InboundKind, MessageBody, ReactionAction, ReplyTo, StatusKind, Structured,
};
use protocol::{
    AgentId, Channel, DeskAction, Direction, Draft, DraftAuthor, Event, EventBody, Millis,
    ReplyContent, SendStatus, Seq,
};

/// Who wrote a line of the conversation.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Author {
    Customer,
    /// Someone at the business, from Meta's own app.
    Business,
    /// One of our replies, queued by this agent (or `drafter` for automation).
    Desk(AgentId),
}

/// One message of the conversation.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Line {
    pub seq: Seq,
    pub at: Millis,
    pub author: Author,
    pub mid: Option<String>,
    pub text: String,
    /// Placeholders: "[image] https://…", "↩ story: https://…", "on post 1790…".
    pub notes: Vec<String>,
    pub reactions: Vec<String>,
    pub edits: u32,
    pub deleted: bool,
    pub hidden: bool,
    /// For our replies: where it stands.
    pub send: Option<SendState>,
    /// The attachments the relay can fetch (`o` opens them); the others stay notes.
    pub media: Vec<Media>,
    /// The texts before each of the customer's edits, oldest first (shown on demand).
    pub previous: Vec<String>,
    /// The story this message replies to or mentions the business in: its link works only
    /// while the story lives, so the view decides by the time whether to show it.
    pub story: Option<Story>,
}

/// A story a message is about.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Story {
    pub url: Option<String>,
    /// The customer mentioned the business in their own story (else: replied to the
    /// business's story).
    pub mention: bool,
}

/// How long a story (and so Meta's link to it) lives.
pub const STORY_LIFETIME: i64 = Millis::DAY;

/// Instagram's named reactions as the emoji the customer saw.
fn reaction_emoji(name: &str) -> &str {
    match name {
        "love" => "❤",
        "like" => "👍",
        "laugh" => "😆",
        "wow" => "😮",
        "sad" => "😢",
        "angry" => "😠",
        other => other,
    }
}

/// The first words of a quoted message.
fn snippet(text: &str) -> String {
    const WORDS: usize = 40;
    let mut out: String = text.chars().take(WORDS).collect();
    if text.chars().count() > WORDS {
        out.push('…');
    }
    format!("«{out}»")
}

/// An attachment with bytes behind it, as a line of the thread lists it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Media {
    /// Its index in the message's attachments: the `{n}` of the relay's media route.
    pub n: usize,
    /// "image · photo.jpg".
    pub label: String,
    /// An image (shown inline where the terminal can draw images).
    pub image: bool,
}

/// An attachment numbered across the thread (1-based), as the agent picks it with `o`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Numbered<'a> {
    pub number: usize,
    /// The message's Meta id (`{message}` of the media route).
    pub message: &'a str,
    pub media: &'a Media,
}

/// What someone did, shown between messages in a quieter style.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Note {
    pub seq: Seq,
    pub text: String,
}

/// A private note a person of the tenant wrote on the thread: never sent to the customer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PrivateNote {
    pub seq: Seq,
    pub at: Millis,
    pub agent: AgentId,
    pub text: String,
}

// Items are built once per event and most are lines; boxing them would add an allocation
// per message for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Item {
    Line(Line),
    Note(Note),
    Private(PrivateNote),
}

/// A thread opened in the thread view.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ThreadDetail {
    pub items: Vec<Item>,
    pub draft: Option<Draft>,
    pub handoff: Option<String>,
    /// The newest customer message's seq, for read receipts.
    pub last_seq: Seq,
    /// What Instagram's User Profile API last said about the customer (context pane).
    pub profile: Option<protocol::CustomerProfile>,
}

impl ThreadDetail {
    /// Builds the conversation from its events, in log order.
    #[must_use]
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> ThreadDetail {
        let mut detail = ThreadDetail::default();
        for event in events {
            detail.apply(event);
        }
        detail
    }

    /// The thread's fetchable attachments in the order they are shown, numbered from 1.
    #[must_use]
    pub fn media(&self) -> Vec<Numbered<'_>> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Line(l) if !l.deleted => l.mid.as_deref().map(|mid| (mid, &l.media)),
                _ => None,
            })
            .flat_map(|(message, media)| media.iter().map(move |media| (message, media)))
            .enumerate()
            .map(|(i, (message, media))| Numbered {
                number: i + 1,
                message,
                media,
            })
            .collect()
    }

    fn line_by_mid(&mut self, mid: &str) -> Option<&mut Line> {
        self.items.iter_mut().rev().find_map(|i| match i {
            Item::Line(l) if l.mid.as_deref() == Some(mid) => Some(l),
            _ => None,
        })
    }

    fn line_by_send(&mut self, send: Seq) -> Option<&mut Line> {
        self.items.iter_mut().rev().find_map(|i| match i {
            Item::Line(l) if l.seq == send && matches!(l.author, Author::Desk(_)) => Some(l),
            _ => None,
        })
    }

    /// "↩ in reply to «…»": the quoted message's first words, when the thread holds it.
    fn quoting(&self, mid: &str) -> String {
        let quoted = self.items.iter().rev().find_map(|i| match i {
            Item::Line(l) if l.mid.as_deref() == Some(mid) => Some(l),
            _ => None,
        });
        match quoted {
            Some(l) if l.deleted => "↩ in reply to a message the customer unsent".into(),
            Some(l) if !l.text.is_empty() => format!("↩ in reply to {}", snippet(&l.text)),
            _ => "↩ in reply to an earlier message".into(),
        }
    }

    fn note(&mut self, seq: Seq, text: String) {
        self.items.push(Item::Note(Note { seq, text }));
    }

    /// Adds one event of this thread.
    pub fn apply(&mut self, event: &Event) {
        self.last_seq = event.seq;
        match &event.body {
            EventBody::Inbound(inbound) => {
                let customer = inbound.direction == Direction::Inbound;
                let at = inbound.occurred_at;
                match &inbound.kind {
                    InboundKind::Message(body) => {
                        if !customer && self.line_by_mid(&body.mid).is_some() {
                            return; // the echo of our own reply
                        }
                        let author = if customer {
                            Author::Customer
                        } else {
                            Author::Business
                        };
                        self.push_message(event.seq, at, author, inbound.channel, body);
                    }
                    InboundKind::Comment(c) => {
                        let mut notes = Vec::new();
                        if let Some(media) = &c.media.id {
                            notes.push(format!("on post {media}"));
                        }
                        if c.parent_id.is_some() {
                            notes.push("reply in a comment thread".into());
                        }
                        self.items.push(Item::Line(Line {
                            seq: event.seq,
                            at,
                            author: if customer {
                                Author::Customer
                            } else {
                                Author::Business
                            },
                            mid: Some(c.id.clone()),
                            text: c.text.clone().unwrap_or_default(),
                            notes,
                            reactions: Vec::new(),
                            edits: 0,
                            deleted: false,
                            hidden: false,
                            send: None,
                            media: Vec::new(),
                            previous: Vec::new(),
                            story: None,
                        }));
                    }
                    InboundKind::Postback(p) => self.items.push(Item::Line(Line {
                        seq: event.seq,
                        at,
                        author: Author::Customer,
                        mid: p.mid.clone(),
                        text: p.title.clone().unwrap_or_default(),
                        notes: vec![format!(
                            "tapped a button{}",
                            p.payload
                                .as_deref()
                                .map(|x| format!(" ({x})"))
                                .unwrap_or_default()
                        )],
                        reactions: Vec::new(),
                        edits: 0,
                        deleted: false,
                        hidden: false,
                        send: None,
                        media: Vec::new(),
                        previous: Vec::new(),
                        story: None,
                    })),
                    InboundKind::Reaction(r) => {
                        let emoji = r
                            .emoji
                            .clone()
                            .filter(|e| !e.is_empty())
                            .or_else(|| r.reaction.as_deref().map(|n| reaction_emoji(n).into()))
                            .unwrap_or_else(|| "❤".into());
                        if let Some(line) = self.line_by_mid(&r.mid) {
                            match r.action {
                                ReactionAction::React => line.reactions.push(emoji),
                                ReactionAction::Unreact => line.reactions.clear(),
                            }
                        }
                    }
                    InboundKind::Edit(e) => {
                        if let Some(line) = self.line_by_mid(&e.mid) {
                            if let Some(text) = &e.text {
                                let before = std::mem::replace(&mut line.text, text.clone());
                                line.previous.push(before);
                            }
                            line.edits = e.num_edit.unwrap_or(line.edits + 1);
                        }
                    }
                    InboundKind::Deleted { mid } => {
                        if let Some(line) = self.line_by_mid(mid) {
                            line.deleted = true;
                        }
                    }
                    InboundKind::Status(status) => {
                        let state = match status.status {
                            StatusKind::Delivered => Some(SendState::Delivered),
                            StatusKind::Read | StatusKind::Played => Some(SendState::Read),
                            _ => None,
                        };
                        if let (Some(state), Some(line)) =
                            (state, self.line_by_mid(&status.message_id))
                            && matches!(line.send, Some(SendState::Sent | SendState::Delivered))
                            && !(state == SendState::Delivered
                                && line.send == Some(SendState::Delivered))
                        {
                            line.send = Some(state);
                        }
                    }
                    InboundKind::Read { .. } => {
                        for item in self.items.iter_mut().rev() {
                            if let Item::Line(l) = item
                                && matches!(l.send, Some(SendState::Sent | SendState::Delivered))
                            {
                                l.send = Some(SendState::Read);
                            }
                        }
                    }
                    InboundKind::Referral(r) => {
                        self.note(event.seq, format!("came {}", referral_words(r)));
                    }
                    InboundKind::OptIn { .. } => self.note(event.seq, "opted in".into()),
                }
            }
            EventBody::Desk(desk) => {
                self.apply_desk(event.seq, event.received_at, &desk.agent, &desk.action)
            }
            EventBody::Outbox(outbox) => {
                let state = match &outbox.status {
                    SendStatus::Sending { attempt, .. } => SendState::Sending { attempt: *attempt },
                    SendStatus::Sent { .. } => SendState::Sent,
                    SendStatus::Failed { failure, retry_at } => SendState::Failed {
                        class: failure.class,
                        message: failure.message.clone(),
                        retry_at: *retry_at,
                    },
                };
                if let Some(line) = self.line_by_send(outbox.send) {
                    if let SendStatus::Sent { provider_id, .. } = &outbox.status {
                        line.mid = Some(provider_id.clone());
                    }
                    line.send = Some(state);
                }
            }
            EventBody::Account(a) => {
                if let protocol::AccountEventKind::CustomerProfile {
                    profile: Some(p), ..
                } = &a.kind
                {
                    self.profile = Some(p.clone());
                }
            }
            EventBody::Unknown(_) | EventBody::Credits(_) => {}
        }
    }

    fn push_message(
        &mut self,
        seq: Seq,
        at: Millis,
        author: Author,
        channel: Channel,
        body: &MessageBody,
    ) {
        let mut notes = Vec::new();
        let mut media = Vec::new();
        let mut story = None;
        for (n, a) in body.attachments.iter().enumerate() {
            if a.kind == AttachmentKind::StoryMention {
                story = Some(Story {
                    url: a.url.clone(),
                    mention: true,
                });
                continue;
            }
            let title = a
                .title
                .as_ref()
                .or(a.caption.as_ref())
                .or(a.filename.as_ref());
            if a.media_ref(channel).is_some() {
                let mut label = attachment_label(&a.kind);
                if let Some(title) = title {
                    label.push_str(" · ");
                    label.push_str(title);
                }
                media.push(Media {
                    n,
                    label,
                    image: matches!(a.kind, AttachmentKind::Image | AttachmentKind::Sticker),
                });
                continue;
            }
            let mut note = format!("[{}]", attachment_label(&a.kind));
            if let Some(title) = title {
                note.push(' ');
                note.push_str(title);
            }
            if let Some(url) = &a.url {
                note.push(' ');
                note.push_str(url);
            }
            notes.push(note);
        }
        match &body.reply_to {
            Some(ReplyTo::Story { url, .. }) => {
                story = Some(Story {
                    url: url.clone(),
                    mention: false,
                });
            }
            Some(ReplyTo::Message { mid }) => notes.push(self.quoting(mid)),
            None => {}
        }
        if let Some(r) = &body.referral {
            notes.push(format!("↪ came {}", referral_words(r)));
        }
        if let Some(payload) = &body.quick_reply {
            notes.push(format!("quick reply: {payload}"));
        }
        if let Some(s) = &body.structured {
            notes.push(match s {
                Structured::Location { name, .. } => {
                    format!("[location] {}", name.as_deref().unwrap_or(""))
                }
                Structured::Contacts { contacts } => format!("[{} contact(s)]", contacts.len()),
                Structured::Interactive { title, .. } => {
                    format!("[choice] {}", title.as_deref().unwrap_or(""))
                }
                Structured::Button { text, .. } => {
                    format!("[button] {}", text.as_deref().unwrap_or(""))
                }
                Structured::Order { items, .. } => format!("[order] {} item(s)", items.len()),
                Structured::System { body, .. } => {
                    format!("[system] {}", body.as_deref().unwrap_or(""))
                }
            });
        }
        if body.is_unsupported {
            notes.push("[a message type Meta does not deliver to apps]".into());
        }
        self.items.push(Item::Line(Line {
            seq,
            at,
            author,
            mid: Some(body.mid.clone()),
            text: body.text.clone().unwrap_or_default(),
            notes,
            reactions: Vec::new(),
            edits: 0,
            deleted: false,
            hidden: false,
            send: None,
            media,
            previous: Vec::new(),
            story,
        }));
    }

    fn apply_desk(&mut self, seq: Seq, at: Millis, agent: &AgentId, action: &DeskAction) {
        let who = agent.as_str().to_owned();
        match action {
            DeskAction::Claimed => self.note(seq, format!("{who} claimed this conversation")),
            DeskAction::Released => self.note(seq, format!("{who} released it")),
            DeskAction::DraftEdited { draft } => {
                self.draft = Some(draft.clone());
                self.handoff = None;
                if let DraftAuthor::Agent(_) = draft.author {
                    self.note(seq, format!("{who} edited the draft (v{})", draft.version));
                }
            }
            DeskAction::DraftDiscarded { version } => {
                self.draft = None;
                self.note(seq, format!("{who} discarded draft v{version}"));
            }
            DeskAction::ReplyQueued {
                text,
                from_draft,
                content,
                reply_to,
            } => {
                if from_draft.is_some() {
                    self.draft = None;
                }
                self.handoff = None;
                let mut notes = Vec::new();
                if let Some(c) = content
                    .as_ref()
                    .filter(|c| !matches!(c, ReplyContent::Text { .. }))
                {
                    notes.push(format!("[{}]", c.name().replace('_', " ")));
                }
                if let Some(mid) = reply_to {
                    notes.push(self.quoting(mid));
                }
                self.items.push(Item::Line(Line {
                    seq,
                    at,
                    author: Author::Desk(agent.clone()),
                    mid: None,
                    text: if text.is_empty() {
                        content
                            .as_ref()
                            .map(protocol::ReplyContent::preview)
                            .unwrap_or_default()
                    } else {
                        text.clone()
                    },
                    notes,
                    reactions: Vec::new(),
                    edits: 0,
                    deleted: false,
                    hidden: false,
                    send: Some(SendState::Queued),
                    media: Vec::new(),
                    previous: Vec::new(),
                    story: None,
                }));
            }
            DeskAction::SendRetried { send } => {
                if let Some(line) = self.line_by_send(*send) {
                    line.send = Some(SendState::Queued);
                }
            }
            DeskAction::SendDiscarded { send } => {
                if let Some(line) = self.line_by_send(*send) {
                    line.send = Some(SendState::Discarded);
                }
            }
            DeskAction::HandedOff { reason, .. } => {
                self.handoff = Some(reason.clone());
                self.note(seq, format!("the drafter left this to a person: {reason}"));
            }
            DeskAction::DraftingResumed => self.note(seq, format!("{who} resumed drafting")),
            DeskAction::Resolved => self.note(seq, format!("{who} resolved it")),
            DeskAction::Reopened => self.note(seq, format!("{who} reopened it")),
            DeskAction::Read { .. } => {}
            DeskAction::CommentHidden { comment_id, hidden } => {
                if let Some(line) = self.line_by_mid(comment_id) {
                    line.hidden = *hidden;
                }
                let verb = if *hidden { "hid" } else { "unhid" };
                self.note(seq, format!("{who} {verb} the comment"));
            }
            DeskAction::NoteAdded { text } => self.items.push(Item::Private(PrivateNote {
                seq,
                at,
                agent: agent.clone(),
                text: text.clone(),
            })),
            DeskAction::Assigned { to } => self.note(seq, format!("{who} assigned it to {to}")),
            DeskAction::Snoozed { until: None } => {
                self.note(seq, format!("{who} snoozed it until the customer writes"));
            }
            DeskAction::Snoozed { until: Some(t) } => {
                let minutes = (t.0.saturating_sub(at.0) + 59_999) / 60_000;
                self.note(seq, format!("{who} snoozed it for {minutes} min"));
            }
            DeskAction::Unsnoozed => self.note(seq, format!("{who} woke it up")),
        }
    }

    /// The draft, if it is the one the row says is current.
    #[must_use]
    pub fn current_draft(&self, row: &ThreadSummary) -> Option<&Draft> {
        self.draft
            .as_ref()
            .filter(|d| row.draft.as_ref().is_some_and(|r| r.version == d.version))
    }
}

/// Where a conversation came from, in words: "from the ad «Promo» (https://…)", "from an
/// ig.me link (ref summer)", "from a click-to-WhatsApp ad «Headline»".
fn referral_words(r: &protocol::inbound::Referral) -> String {
    let title = r
        .ad_title
        .as_deref()
        .or(r.headline.as_deref())
        .map(|t| format!(" «{t}»"))
        .unwrap_or_default();
    let link = r
        .source_url
        .as_deref()
        .map(|u| format!(" ({u})"))
        .unwrap_or_default();
    let source = r.source.as_deref().unwrap_or_default().to_ascii_uppercase();
    if r.click_id.is_some() || source == "AD" && r.source_url.is_some() {
        format!("from a click-to-WhatsApp ad{title}{link}")
    } else if source == "ADS" || r.ad_id.is_some() {
        format!("from the ad{title}{link}")
    } else if let Some(product) = &r.product_id {
        format!("from the shop product {product}")
    } else if let Some(reference) = &r.reference {
        format!("from an ig.me link (ref {reference}){link}")
    } else if !source.is_empty() {
        format!("from {}{title}{link}", source.to_lowercase())
    } else {
        format!("from a referral{title}{link}")
    }
}
