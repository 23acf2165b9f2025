//! Builders for realistic tenant events, numbered like the relay numbers them: for the
//! desk's tests, snapshots and benchmark (not used by the desk itself).

mod stored;
pub use stored::everything_stored;

use protocol::inbound::{
    Attachment, AttachmentKind, Comment, CommentMedia, DeliveryStatus, InboundKind, MessageBody,
    Reaction, ReactionAction, ReplyTo, StatusKind,
};
use protocol::outbox::{FailureClass, SendFailure};
use protocol::window::ReplyKind;
use protocol::{
    AgentId, Channel, ChannelId, CreditsEvent, Customer, CustomerId, DeskAction, DeskEvent,
    Direction, Draft, DraftAuthor, DraftBasis, Event, EventBody, InboundEvent, Millis, OutboxEvent,
    SendStatus, Seq, TenantId, ThreadId,
};

/// A fixed moment for deterministic screens: 2026-11-22 10:00:00 UTC.
pub const NOW: Millis = Millis(1_795_341_600_000);

/// Makes events of one tenant with consecutive seqs.
#[derive(Debug)]
pub struct Events {
    pub tenant: TenantId,
    next: u64,
    pub events: Vec<Event>,
}

impl Events {
    #[must_use]
    pub fn new(tenant: &str) -> Events {
        Events {
            tenant: TenantId::new(tenant),
            next: 1,
            events: Vec::new(),
        }
    }

    /// The seq the next event gets.
    #[must_use]
    pub fn next_seq(&self) -> Seq {
        Seq(self.next)
    }

    fn push(&mut self, at: Millis, body: EventBody) -> Seq {
        let seq = Seq(self.next);
        self.next += 1;
        self.events.push(Event {
            tenant: self.tenant.clone(),
            seq,
            received_at: at,
            body,
        });
        seq
    }

    /// Takes the events made so far.
    pub fn take(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    fn inbound(
        &mut self,
        thread: &str,
        channel: Channel,
        who: &str,
        direction: Direction,
        at: Millis,
        kind: InboundKind,
    ) -> Seq {
        let id = match channel {
            Channel::WhatsApp => CustomerId::WhatsApp(who.trim_start_matches('+').into()),
            _ => CustomerId::Igsid(format!("igsid-{who}")),
        };
        let customer = Customer {
            id,
            username: (channel != Channel::WhatsApp).then(|| who.to_owned()),
            name: (channel == Channel::WhatsApp).then(|| who.to_owned()),
        };
        self.push(
            at,
            EventBody::Inbound(InboundEvent {
                channel_id: ChannelId::new(match channel {
                    Channel::WhatsApp => "ch-wa",
                    _ => "ch-ig",
                }),
                channel,
                thread: ThreadId::new(thread),
                customer,
                direction,
                occurred_at: at,
                standby: false,
                kind,
            }),
        )
    }

    /// A customer's text message.
    pub fn message(
        &mut self,
        thread: &str,
        channel: Channel,
        who: &str,
        text: &str,
        at: Millis,
    ) -> Seq {
        let mid = format!("m-{}", self.next);
        self.inbound(
            thread,
            channel,
            who,
            Direction::Inbound,
            at,
            InboundKind::Message(MessageBody {
                mid,
                text: Some(text.into()),
                ..MessageBody::default()
            }),
        )
    }

    /// A customer's image with an optional caption.
    pub fn image(
        &mut self,
        thread: &str,
        channel: Channel,
        who: &str,
        url: &str,
        at: Millis,
    ) -> Seq {
        let mut attachment = Attachment::new(AttachmentKind::Image);
        attachment.url = Some(url.into());
        self.inbound(
            thread,
            channel,
            who,
            Direction::Inbound,
            at,
            InboundKind::Message(MessageBody {
                mid: format!("m-{}", self.next),
                attachments: vec![attachment],
                ..MessageBody::default()
            }),
        )
    }

    /// A customer's message carrying `attachments` (and no text).
    pub fn attachments(
        &mut self,
        thread: &str,
        channel: Channel,
        who: &str,
        attachments: Vec<Attachment>,
        at: Millis,
    ) -> Seq {
        self.inbound(
            thread,
            channel,
            who,
            Direction::Inbound,
            at,
            InboundKind::Message(MessageBody {
                mid: format!("m-{}", self.next),
                attachments,
                ..MessageBody::default()
            }),
        )
    }

    /// A customer's reply to the business's story.
    pub fn story_reply(
        &mut self,
        thread: &str,
        who: &str,
        text: &str,
        story: &str,
        at: Millis,
    ) -> Seq {
        self.inbound(
            thread,
            Channel::InstagramDm,
            who,
            Direction::Inbound,
            at,
            InboundKind::Message(MessageBody {
                mid: format!("m-{}", self.next),
                text: Some(text.into()),
                reply_to: Some(ReplyTo::Story {
                    id: Some("story-1".into()),
                    url: Some(story.into()),
                }),
                ..MessageBody::default()
            }),
        )
    }

    /// A reaction to message `mid`.
    pub fn reaction(&mut self, thread: &str, who: &str, mid: &str, emoji: &str, at: Millis) -> Seq {
        self.inbound(
            thread,
            Channel::InstagramDm,
            who,
            Direction::Inbound,
            at,
            InboundKind::Reaction(Reaction {
                mid: mid.into(),
                action: ReactionAction::React,
                reaction: Some("love".into()),
                emoji: Some(emoji.into()),
            }),
        )
    }

    /// A comment on post `media`.
    pub fn comment(
        &mut self,
        thread: &str,
        who: &str,
        id: &str,
        text: &str,
        media: &str,
        at: Millis,
    ) -> Seq {
        self.inbound(
            thread,
            Channel::InstagramComment,
            who,
            Direction::Inbound,
            at,
            InboundKind::Comment(Comment {
                id: id.into(),
                text: Some(text.into()),
                media: CommentMedia {
                    id: Some(media.into()),
                    ..CommentMedia::default()
                },
                parent_id: None,
                live: false,
            }),
        )
    }

    /// A reply the business wrote in Meta's own app.
    pub fn echo(
        &mut self,
        thread: &str,
        channel: Channel,
        who: &str,
        text: &str,
        at: Millis,
    ) -> Seq {
        self.inbound(
            thread,
            channel,
            who,
            Direction::Outbound,
            at,
            InboundKind::Message(MessageBody {
                mid: format!("echo-{}", self.next),
                text: Some(text.into()),
                ..MessageBody::default()
            }),
        )
    }

    fn desk(&mut self, thread: &str, agent: &str, at: Millis, action: DeskAction) -> Seq {
        let channel = if thread.starts_with("wa") {
            "ch-wa"
        } else {
            "ch-ig"
        };
        self.push(
            at,
            EventBody::Desk(DeskEvent {
                channel_id: ChannelId::new(channel),
                thread: ThreadId::new(thread),
                agent: AgentId::new(agent),
                key: None,
                action,
            }),
        )
    }

    /// A draft by the drafter; `held` non-empty means the classifier held it.
    pub fn draft(
        &mut self,
        thread: &str,
        version: u32,
        text: &str,
        facts: &[&str],
        held: &[&str],
        at: Millis,
    ) -> Seq {
        self.desk(
            thread,
            "drafter",
            at,
            DeskAction::DraftEdited {
                draft: Draft {
                    version,
                    text: text.into(),
                    author: DraftAuthor::Drafter,
                    basis: Some(Box::new(DraftBasis {
                        intents: vec!["price".into()],
                        facts: facts.iter().map(|f| (*f).to_owned()).collect(),
                        held: held.iter().map(|h| (*h).to_owned()).collect(),
                        source: "grounded drafter".into(),
                    })),
                },
            },
        )
    }

    /// An agent approved draft `version` (or, with `None`, wrote their own reply).
    pub fn reply(
        &mut self,
        thread: &str,
        agent: &str,
        text: &str,
        from_draft: Option<u32>,
        at: Millis,
    ) -> Seq {
        self.desk(
            thread,
            agent,
            at,
            DeskAction::ReplyQueued {
                text: text.into(),
                from_draft,
                content: None,
                reply_to: None,
            },
        )
    }

    /// A private note by `agent`.
    pub fn note(&mut self, thread: &str, agent: &str, text: &str, at: Millis) -> Seq {
        self.desk(
            thread,
            agent,
            at,
            DeskAction::NoteAdded { text: text.into() },
        )
    }

    /// `agent` gave the thread to `to`.
    pub fn assigned(&mut self, thread: &str, agent: &str, to: &str, at: Millis) -> Seq {
        let to = AgentId::new(to);
        self.desk(thread, agent, at, DeskAction::Assigned { to })
    }

    /// `agent` snoozed the thread (`until: None`: until the customer writes).
    pub fn snoozed(&mut self, thread: &str, agent: &str, until: Option<Millis>, at: Millis) -> Seq {
        self.desk(thread, agent, at, DeskAction::Snoozed { until })
    }

    pub fn handed_off(&mut self, thread: &str, reason: &str, at: Millis) -> Seq {
        self.desk(
            thread,
            "drafter",
            at,
            DeskAction::HandedOff {
                reason: reason.into(),
                intents: Vec::new(),
            },
        )
    }

    pub fn claimed(&mut self, thread: &str, agent: &str, at: Millis) -> Seq {
        self.desk(thread, agent, at, DeskAction::Claimed)
    }

    pub fn resolved(&mut self, thread: &str, agent: &str, at: Millis) -> Seq {
        self.desk(thread, agent, at, DeskAction::Resolved)
    }

    pub fn read(&mut self, thread: &str, agent: &str, up_to: Seq, at: Millis) -> Seq {
        self.desk(thread, agent, at, DeskAction::Read { up_to })
    }

    fn outbox(&mut self, thread: &str, send: Seq, at: Millis, status: SendStatus) -> Seq {
        let channel = if thread.starts_with("wa") {
            "ch-wa"
        } else {
            "ch-ig"
        };
        self.push(
            at,
            EventBody::Outbox(OutboxEvent {
                channel_id: ChannelId::new(channel),
                thread: ThreadId::new(thread),
                send,
                status,
            }),
        )
    }

    pub fn sending(&mut self, thread: &str, send: Seq, at: Millis) -> Seq {
        self.outbox(
            thread,
            send,
            at,
            SendStatus::Sending {
                attempt: 1,
                kind: ReplyKind::Standard,
            },
        )
    }

    /// Meta accepted reply `send` as message `provider_id`.
    pub fn sent(&mut self, thread: &str, send: Seq, provider_id: &str, at: Millis) -> Seq {
        self.sending(thread, send, at);
        self.outbox(
            thread,
            send,
            at,
            SendStatus::Sent {
                provider_id: provider_id.into(),
                kind: ReplyKind::Standard,
                reconciled: false,
            },
        )
    }

    /// Reply `send` failed for good.
    pub fn failed(
        &mut self,
        thread: &str,
        send: Seq,
        class: FailureClass,
        message: &str,
        at: Millis,
    ) -> Seq {
        self.sending(thread, send, at);
        self.outbox(
            thread,
            send,
            at,
            SendStatus::Failed {
                failure: SendFailure {
                    class,
                    code: Some(10),
                    subcode: Some(2_018_278),
                    message: message.into(),
                },
                retry_at: None,
            },
        )
    }

    /// A delivery (or read) status for `provider_id`.
    pub fn status(
        &mut self,
        thread: &str,
        channel: Channel,
        who: &str,
        provider_id: &str,
        read: bool,
        at: Millis,
    ) -> Seq {
        self.inbound(
            thread,
            channel,
            who,
            Direction::Outbound,
            at,
            InboundKind::Status(DeliveryStatus {
                message_id: provider_id.into(),
                status: if read {
                    StatusKind::Read
                } else {
                    StatusKind::Delivered
                },
                errors: Vec::new(),
                conversation_id: None,
                conversation_expires_at: None,
                conversation_origin: None,
                pricing_category: None,
                pricing_model: None,
                billable: None,
                biz_opaque_callback_data: None,
            }),
        )
    }

    pub fn credits(&mut self, added: i64, balance: i64, at: Millis) -> Seq {
        self.push(at, EventBody::Credits(CreditsEvent { added, balance }))
    }

    /// Instagram's User Profile API answered (or, with `None`, refused) for the thread's
    /// customer.
    pub fn customer_profile(
        &mut self,
        thread: &str,
        customer: &str,
        profile: Option<protocol::CustomerProfile>,
        at: Millis,
    ) -> Seq {
        self.push(
            at,
            EventBody::Account(protocol::AccountEvent {
                channel_id: ChannelId::new("ch-ig"),
                occurred_at: at,
                kind: protocol::AccountEventKind::CustomerProfile {
                    thread: ThreadId::new(thread),
                    customer: customer.to_owned(),
                    profile,
                },
            }),
        )
    }

    /// Instagram's `mentions` change: the business @mentioned in a post's caption
    /// (`comment: None`) or in a comment on it.
    pub fn mention(&mut self, media: Option<&str>, comment: Option<&str>, at: Millis) -> Seq {
        self.push(
            at,
            EventBody::Account(protocol::AccountEvent {
                channel_id: ChannelId::new("ch-ig"),
                occurred_at: at,
                kind: protocol::AccountEventKind::Mention {
                    media_id: media.map(str::to_owned),
                    comment_id: comment.map(str::to_owned),
                },
            }),
        )
    }

    /// Meta's data deletion reached the relay: the thread's customer was removed.
    pub fn customer_removed(&mut self, thread: &str, at: Millis) -> Seq {
        self.push(
            at,
            EventBody::Account(protocol::AccountEvent {
                channel_id: ChannelId::new("ch-ig"),
                occurred_at: at,
                kind: protocol::AccountEventKind::CustomerRemoved {
                    thread: ThreadId::new(thread),
                },
            }),
        )
    }
}

/// A lively inbox for screens: every row state once, as the snapshots show them.
#[must_use]
pub fn showcase() -> Vec<Event> {
    let mut e = Events::new("t-sari");
    fill_showcase(&mut e);
    e.take()
}

/// [`showcase`] and two account-level @mentions after it: one in a comment 30 minutes
/// ago (between the comment thread and the unread image), one in a post's caption three
/// hours ago.
#[must_use]
pub fn showcase_with_mentions() -> Vec<Event> {
    let mut e = Events::new("t-sari");
    fill_showcase(&mut e);
    let m = |minutes: i64| NOW.plus(-minutes * Millis::MINUTE);
    e.mention(Some("17920000000000003"), Some("17920000000000002"), m(30));
    e.mention(Some("17920000000000001"), None, m(180));
    e.take()
}

fn fill_showcase(e: &mut Events) {
    let m = |minutes: i64| NOW.plus(-minutes * Millis::MINUTE);
    e.credits(500, 500, m(600));
    // Needs approval, window closing in ~1h.
    e.message(
        "ig-rina",
        Channel::InstagramDm,
        "rina.putri",
        "Kak, batik tulis parang masih ada ukuran M?",
        m(23 * 60),
    );
    e.draft(
        "ig-rina",
        1,
        "Halo kak Rina! Batik Tulis Parang ukuran M masih ready, harganya Rp 385.000. Mau dipesan?",
        &[
            "Batik Tulis Parang (BT-PRG-01): Rp 385.000, sizes S M L",
            "stock M: 4",
        ],
        &[],
        m(23 * 60 - 1),
    );
    // Held draft on WhatsApp.
    e.message(
        "wa-siti",
        Channel::WhatsApp,
        "Siti Aminah",
        "Bisa kirim ke Makassar besok sampai?",
        m(90),
    );
    e.draft(
        "wa-siti",
        1,
        "Bisa kak, sampai besok.",
        &[],
        &["a delivery date no policy states"],
        m(89),
    );
    // Failed reply.
    e.message(
        "ig-budi",
        Channel::InstagramDm,
        "budi_santoso88",
        "Ready kemeja batik pria XL?",
        m(300),
    );
    let send = e.reply("ig-budi", "ayu", "Ready kak, Rp 275.000", None, m(299));
    e.failed(
        "ig-budi",
        send,
        FailureClass::RecipientUnavailable,
        "the customer cannot receive messages",
        m(298),
    );
    // Delivered reply, claimed.
    e.story_reply(
        "ig-dewi",
        "dewi.lestari",
        "Cantik banget! Ini motif apa?",
        "https://cdn.example/story/1.jpg",
        m(120),
    );
    e.claimed("ig-dewi", "ayu", m(119));
    let send = e.reply("ig-dewi", "ayu", "Itu motif Kawung kak 😊", None, m(118));
    e.sent("ig-dewi", send, "mid-dewi-1", m(118));
    e.status(
        "ig-dewi",
        Channel::InstagramDm,
        "dewi.lestari",
        "mid-dewi-1",
        false,
        m(117),
    );
    // A comment on a post, handed off.
    e.comment(
        "cmt-1",
        "mei.tan.sg",
        "c-1",
        "Do you ship to Singapore? How long?",
        "post-1790",
        m(45),
    );
    e.handed_off("cmt-1", "shipping abroad is not in the knowledge", m(44));
    // Window closed.
    e.message(
        "ig-quiet",
        Channel::InstagramDm,
        "quiet.customer",
        "ok nanti saya kabari",
        m(26 * 60),
    );
    // Quiet for eight days: even the human-agent tag is over.
    e.message(
        "ig-old",
        Channel::InstagramDm,
        "old.friend",
        "masih buka?",
        m(8 * 24 * 60),
    );
    // Unread image.
    e.image(
        "ig-img",
        Channel::InstagramDm,
        "andi.w",
        "https://cdn.example/img/2.jpg",
        m(5),
    );
    // Resolved.
    e.message(
        "ig-done",
        Channel::InstagramDm,
        "lia",
        "makasih kak!",
        m(400),
    );
    e.resolved("ig-done", "ayu", m(399));
}

/// A replica in `dir` welcomed as owner `ayu` of "Sari Batik" under "Nusantara Desk",
/// holding `events`.
///
/// # Errors
/// The replica cannot be opened or written.
pub fn replica(
    dir: &std::path::Path,
    events: &[Event],
) -> Result<crate::Replica, crate::ReplicaError> {
    let replica = crate::Replica::open_dir(dir)?;
    let tenant = events
        .first()
        .map_or_else(|| TenantId::new("t-sari"), |e| e.tenant.clone());
    replica.accept_welcome(
        &crate::Identity {
            tenant,
            agent: AgentId::new("ayu"),
            role: protocol::Role::Owner,
        },
        &crate::Header {
            brand: "Nusantara Desk".into(),
            tenant_name: "Sari Batik".into(),
        },
        Seq(0),
    )?;
    replica.set_credits(0)?;
    replica.apply(events)?;
    Ok(replica)
}

/// The profile of [`replica`], as the runtime would build it, connected.
#[must_use]
pub fn profile(name: &str, replica: crate::Replica) -> crate::app::Profile {
    let identity = replica.identity().ok().flatten();
    let header = replica.header().ok().flatten();
    crate::app::Profile {
        name: name.into(),
        me: identity
            .as_ref()
            .map_or_else(|| AgentId::new("ayu"), |i| i.agent.clone()),
        role: identity
            .as_ref()
            .map_or(crate::app::ProfileRole::Agent, |i| i.role.into()),
        tenant: identity.as_ref().map(|i| i.tenant.as_str().to_owned()),
        partner: None,
        brand: header
            .as_ref()
            .map_or_else(String::new, |h| h.brand.clone()),
        tenant_name: header.map_or_else(String::new, |h| h.tenant_name),
        connection: crate::ConnectionState::Live,
        retry_at: None,
        cursor: Seq(0),
        credits: None,
        unencrypted: false,
        replica: Some(replica),
    }
}
