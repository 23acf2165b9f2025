//! The report's fold over hand-built logs: one behaviour per test, edge cases included.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use protocol::inbound::{Comment, CommentMedia, DeliveryStatus, MessageBody, Reaction};
use protocol::window::ReplyKind;
use protocol::{
    AgentId, Channel, ChannelId, CreditsEvent, Customer, CustomerId, Draft, DraftBasis,
    FailureClass, ReplyContent, SendFailure, SenderAction, TenantId,
};

const TENANT: &str = "tn_a";
const HOUR: i64 = Millis::HOUR;
/// Noon of a day far from the epoch.
const NOW: Millis = Millis(20_000 * Millis::DAY + 12 * HOUR);

/// `days` before today (0: today), at `ms` past NOW's time of day.
fn at(days: i64, ms: i64) -> Millis {
    Millis(NOW.0 - days * Millis::DAY + ms)
}

fn thread(n: u8) -> ThreadId {
    ThreadId::new(format!("th_{n}"))
}

/// A tenant log written in order, with the seqs the store would give.
#[derive(Default)]
struct Log {
    events: Vec<Event>,
}

impl Log {
    fn push(&mut self, at: Millis, body: EventBody) -> Seq {
        let seq = Seq(self.events.len() as u64 + 1);
        self.events.push(Event {
            tenant: TenantId::new(TENANT),
            seq,
            received_at: at,
            body,
        });
        seq
    }

    fn inbound(&mut self, th: u8, at: Millis, direction: Direction, kind: InboundKind) -> Seq {
        self.push(
            at,
            EventBody::Inbound(InboundEvent {
                channel_id: ChannelId::new("ch_ig"),
                channel: Channel::InstagramDm,
                thread: thread(th),
                customer: Customer::new(CustomerId::Igsid("7100000000000001".into())),
                direction,
                // Meta's clock is deliberately far off: the report must not use it.
                occurred_at: Millis(at.0 - 5 * Millis::DAY),
                standby: false,
                kind,
            }),
        )
    }

    fn customer(&mut self, th: u8, at: Millis) -> Seq {
        let body = MessageBody {
            mid: format!("m_{}", self.events.len()),
            text: Some("harga dress berapa?".into()),
            ..MessageBody::default()
        };
        self.inbound(th, at, Direction::Inbound, InboundKind::Message(body))
    }

    fn echo(&mut self, th: u8, at: Millis) -> Seq {
        let body = MessageBody {
            mid: format!("m_{}", self.events.len()),
            text: Some("answered from the app".into()),
            ..MessageBody::default()
        };
        self.inbound(th, at, Direction::Outbound, InboundKind::Message(body))
    }

    fn desk(&mut self, th: u8, at: Millis, agent: &str, action: DeskAction) -> Seq {
        self.push(
            at,
            EventBody::Desk(DeskEvent {
                channel_id: ChannelId::new("ch_ig"),
                thread: thread(th),
                agent: AgentId::new(agent),
                key: None,
                action,
            }),
        )
    }

    fn drafter_draft(&mut self, th: u8, at: Millis, version: u32, text: &str, held: &[&str]) {
        let draft = Draft {
            version,
            text: text.into(),
            author: DraftAuthor::Drafter,
            basis: Some(Box::new(DraftBasis {
                intents: vec!["price".into()],
                facts: vec!["sku:KB-DR-001".into()],
                held: held.iter().map(|h| (*h).to_owned()).collect(),
                source: "grounded".into(),
            })),
        };
        self.desk(th, at, DRAFTER_AGENT, DeskAction::DraftEdited { draft });
    }

    fn agent_draft(&mut self, th: u8, at: Millis, version: u32, text: &str) {
        let draft = Draft {
            version,
            text: text.into(),
            author: DraftAuthor::Agent(AgentId::new("ag_1")),
            basis: None,
        };
        self.desk(th, at, "ag_1", DeskAction::DraftEdited { draft });
    }

    fn queue(&mut self, th: u8, at: Millis, agent: &str, text: &str, draft: Option<u32>) -> Seq {
        let action = DeskAction::ReplyQueued {
            text: text.into(),
            from_draft: draft,
            content: None,
            reply_to: None,
        };
        self.desk(th, at, agent, action)
    }

    fn status(&mut self, th: u8, at: Millis, send: Seq, status: SendStatus) {
        self.push(
            at,
            EventBody::Outbox(OutboxEvent {
                channel_id: ChannelId::new("ch_ig"),
                thread: thread(th),
                send,
                status,
            }),
        );
    }

    /// `Sending` then `Sent` at `at`.
    fn deliver(&mut self, th: u8, at: Millis, send: Seq) {
        let kind = ReplyKind::Standard;
        self.status(th, at, send, SendStatus::Sending { attempt: 1, kind });
        let sent = SendStatus::Sent {
            provider_id: format!("mid_{send}"),
            kind,
            reconciled: false,
        };
        self.status(th, at, send, sent);
    }

    fn fail(&mut self, th: u8, at: Millis, send: Seq, retry_at: Option<Millis>) {
        let failure = SendFailure {
            class: FailureClass::Permanent,
            code: Some(100),
            subcode: None,
            message: "Meta refused the message".into(),
        };
        let kind = ReplyKind::Standard;
        self.status(th, at, send, SendStatus::Sending { attempt: 1, kind });
        self.status(th, at, send, SendStatus::Failed { failure, retry_at });
    }

    fn figures(&self) -> Figures {
        figures(&self.events, NOW)
    }
}

#[test]
fn an_empty_log_has_zero_figures_and_no_median() {
    let f = Log::default().figures();
    assert_eq!(f, Figures::default());
    assert_eq!(f.first_response_ms.median, None);
    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "volume": {"inbound_messages": 0, "daily": vec![0u64; DAYS]},
            "replies": {"auto": 0, "approved": 0, "edited": 0, "own": 0},
            "first_response_ms": {"median": null, "samples": 0},
            "held_drafts": 0,
            "failures": 0,
        })
    );
}

#[test]
fn volume_counts_customer_messages_comments_and_taps_per_utc_day_by_arrival() {
    let mut log = Log::default();
    log.customer(1, at(0, 0));
    log.customer(1, at(0, 1));
    log.customer(2, at(13, 0)); // the oldest day of the period
    log.customer(2, at(14, 0)); // the day before it: outside
    // Midnight UTC starts a day: the last millisecond of yesterday, then today's first.
    let midnight = Millis(NOW.0 - 12 * HOUR);
    log.customer(3, Millis(midnight.0 - 1));
    log.customer(3, midnight);
    let comment = Comment {
        id: "c_1".into(),
        text: Some("price?".into()),
        media: CommentMedia::default(),
        parent_id: None,
        live: false,
    };
    log.inbound(
        4,
        at(2, 0),
        Direction::Inbound,
        InboundKind::Comment(comment),
    );
    let tap = protocol::inbound::Postback {
        mid: None,
        title: Some("Prices".into()),
        payload: Some("PRICES".into()),
        referral: None,
    };
    log.inbound(5, at(2, 0), Direction::Inbound, InboundKind::Postback(tap));
    // Not volume: echoes, reactions, reads, statuses, self-messages, desk and credit events.
    log.echo(1, at(0, 2));
    let reaction = Reaction {
        mid: "m_0".into(),
        action: protocol::inbound::ReactionAction::React,
        reaction: Some("love".into()),
        emoji: None,
    };
    log.inbound(
        1,
        at(0, 3),
        Direction::Inbound,
        InboundKind::Reaction(reaction),
    );
    let read = InboundKind::Read {
        mid: Some("m_0".into()),
        watermark: None,
    };
    log.inbound(1, at(0, 4), Direction::Inbound, read);
    let own = MessageBody {
        mid: "m_self".into(),
        is_self: true,
        ..MessageBody::default()
    };
    log.inbound(1, at(0, 5), Direction::Inbound, InboundKind::Message(own));
    log.push(
        at(0, 6),
        EventBody::Credits(CreditsEvent {
            added: 5,
            balance: 5,
        }),
    );
    let f = log.figures();
    let mut daily = [0; DAYS];
    daily[DAYS - 1] = 3; // two on thread 1, midnight on thread 3
    daily[DAYS - 2] = 1;
    daily[DAYS - 3] = 2; // the comment and the tap
    daily[0] = 1;
    assert_eq!(f.volume.daily, daily);
    assert_eq!(f.volume.inbound_messages, 7);
    assert_eq!(f.volume.inbound_messages, daily.iter().sum::<u64>());
}

#[test]
fn replies_are_told_apart_by_who_wrote_the_text_and_counted_once_sent() {
    let mut log = Log::default();
    // Auto: the drafter's own queued reply.
    log.customer(1, at(0, 0));
    log.drafter_draft(1, at(0, 10), 1, "Rp 389.000", &[]);
    let auto = log.queue(1, at(0, 10), DRAFTER_AGENT, "Rp 389.000", Some(1));
    log.deliver(1, at(0, 20), auto);
    // Approved: a person approves the drafter's text as it is.
    log.customer(2, at(0, 0));
    log.drafter_draft(2, at(0, 10), 1, "Ready kak", &[]);
    let approved = log.queue(2, at(0, 30), "ag_1", "Ready kak", Some(1));
    log.deliver(2, at(0, 40), approved);
    // Edited: a person changes the drafter's text, twice, then approves.
    log.customer(3, at(0, 0));
    log.drafter_draft(3, at(0, 10), 1, "Ready kak", &[]);
    log.agent_draft(3, at(0, 20), 2, "Ready kak, size M");
    log.agent_draft(3, at(0, 21), 3, "Ready kak, size M & L");
    let edited = log.queue(3, at(0, 30), "ag_1", "Ready kak, size M & L", Some(3));
    log.deliver(3, at(0, 40), edited);
    // An edit undone: the text sent is the drafter's, so it counts as approved.
    log.customer(4, at(0, 0));
    log.drafter_draft(4, at(0, 10), 1, "Ready kak", &[]);
    log.agent_draft(4, at(0, 20), 2, "Ready");
    log.agent_draft(4, at(0, 21), 3, "Ready kak");
    let undone = log.queue(4, at(0, 30), "ag_1", "Ready kak", Some(3));
    log.deliver(4, at(0, 40), undone);
    // Own: typed without a draft, a rich message, and a draft a person started from nothing.
    log.customer(5, at(0, 0));
    let typed = log.queue(5, at(0, 30), "ag_1", "Hi!", None);
    log.deliver(5, at(0, 40), typed);
    let media = log.desk(
        5,
        at(0, 41),
        "ag_1",
        DeskAction::ReplyQueued {
            text: "[image]".into(),
            from_draft: None,
            content: Some(ReplyContent::Media {
                kind: protocol::MediaKind::Image,
                url: "https://example.com/a.jpg".into(),
                caption: None,
            }),
            reply_to: None,
        },
    );
    log.deliver(5, at(0, 42), media);
    log.customer(6, at(0, 0));
    log.agent_draft(6, at(0, 20), 1, "Hello from me");
    let started = log.queue(6, at(0, 30), "ag_1", "Hello from me", Some(1));
    log.deliver(6, at(0, 40), started);
    // Not replies: a sender action and a queued reply that never reached Sent.
    let typing = log.desk(
        5,
        at(0, 43),
        "ag_1",
        DeskAction::ReplyQueued {
            text: "typing".into(),
            from_draft: None,
            content: Some(ReplyContent::SenderAction(SenderAction::TypingOn)),
            reply_to: None,
        },
    );
    log.deliver(5, at(0, 44), typing);
    log.queue(5, at(0, 45), "ag_1", "still queued", None);
    let f = log.figures();
    assert_eq!(
        f.replies,
        Replies {
            auto: 1,
            approved: 2,
            edited: 1,
            own: 3,
        }
    );
}

#[test]
fn a_reply_sent_twice_counts_once_and_only_inside_the_period() {
    let mut log = Log::default();
    log.customer(1, at(20, 0));
    let old = log.queue(1, at(20, 1), "ag_1", "long ago", None);
    log.deliver(1, at(20, 2), old);
    // Queued before the period, sent inside it: counted.
    let late = log.queue(1, at(15, 0), "ag_1", "queued long ago", None);
    log.deliver(1, at(1, 0), late);
    // A WhatsApp failure after Sent, a retry and a second Sent: still one reply.
    log.customer(2, at(0, 0));
    let again = log.queue(2, at(0, 1), "ag_1", "hi", None);
    log.deliver(2, at(0, 2), again);
    log.desk(2, at(0, 3), "ag_1", DeskAction::SendRetried { send: again });
    log.deliver(2, at(0, 4), again);
    let f = log.figures();
    assert_eq!(f.replies.own, 2);
}

#[test]
fn first_response_runs_from_the_first_waiting_message_to_the_next_outbound_one() {
    let mut log = Log::default();
    // Thread 1: two customer messages, one answer 90 s after the first.
    log.customer(1, at(0, 0));
    log.customer(1, at(0, 30_000));
    let s = log.queue(1, at(0, 60_000), "ag_1", "hi", None);
    log.deliver(1, at(0, 90_000), s);
    // A second reply with no customer message waiting: no sample.
    let s2 = log.queue(1, at(0, 100_000), "ag_1", "anything else?", None);
    log.deliver(1, at(0, 110_000), s2);
    // The customer writes again: a new clock, stopped after 10 s.
    log.customer(1, at(0, 200_000));
    let s3 = log.queue(1, at(0, 205_000), "ag_1", "sure", None);
    log.deliver(1, at(0, 210_000), s3);
    // Thread 2: answered from Meta's app after 30 s; the echo stops the clock.
    log.customer(2, at(0, 0));
    log.echo(2, at(0, 30_000));
    // Thread 3: a failed send does not stop the clock; the retry that is sent does.
    log.customer(3, at(0, 0));
    let s4 = log.queue(3, at(0, 1_000), "ag_1", "é".repeat(600).as_str(), None);
    log.fail(3, at(0, 2_000), s4, None);
    let s5 = log.queue(3, at(0, 3_000), "ag_1", "short", None);
    log.deliver(3, at(0, 400_000), s5);
    // Thread 4: still waiting, no sample.
    log.customer(4, at(0, 0));
    // Thread 5: answered before the period: no sample.
    log.customer(5, at(16, 0));
    log.echo(5, at(15, 0));
    let f = log.figures();
    // Samples: 90 s, 10 s, 30 s, 400 s → the lower middle of four is 30 s.
    assert_eq!(f.first_response_ms.samples, 4);
    assert_eq!(f.first_response_ms.median, Some(30_000));
}

#[test]
fn the_median_of_an_odd_count_is_the_middle_sample() {
    let mut log = Log::default();
    for (th, after) in [(1, 5_000), (2, 1_000), (3, 9_000)] {
        log.customer(th, at(0, 0));
        let s = log.queue(th, at(0, after), "ag_1", "hi", None);
        log.deliver(th, at(0, after), s);
    }
    let f = log.figures();
    assert_eq!(
        f.first_response_ms,
        FirstResponse {
            median: Some(5_000),
            samples: 3,
        }
    );
}

#[test]
fn held_drafts_and_hand_offs_count_until_someone_deals_with_them() {
    let mut log = Log::default();
    // 1: held by the classifier and untouched: counted.
    log.customer(1, at(0, 0));
    log.drafter_draft(1, at(0, 1), 1, "50% off!", &["ungrounded amount: 50%"]);
    // 2: handed off: counted.
    log.customer(2, at(0, 0));
    log.desk(
        2,
        at(0, 1),
        DRAFTER_AGENT,
        DeskAction::HandedOff {
            reason: "off-domain".into(),
            intents: Vec::new(),
        },
    );
    // 3: held, then a person edits it: their draft is not held.
    log.customer(3, at(0, 0));
    log.drafter_draft(3, at(0, 1), 1, "50% off!", &["ungrounded amount: 50%"]);
    log.agent_draft(3, at(0, 2), 2, "No discount today, sorry");
    // 4: held, then discarded.
    log.customer(4, at(0, 0));
    log.drafter_draft(4, at(0, 1), 1, "50% off!", &["ungrounded amount: 50%"]);
    log.desk(
        4,
        at(0, 2),
        "ag_1",
        DeskAction::DraftDiscarded { version: 1 },
    );
    // 5: handed off, then a person replies: the hand-off is settled.
    log.customer(5, at(0, 0));
    log.desk(
        5,
        at(0, 1),
        DRAFTER_AGENT,
        DeskAction::HandedOff {
            reason: "complaint".into(),
            intents: Vec::new(),
        },
    );
    log.queue(5, at(0, 2), "ag_1", "So sorry!", None);
    // 6: held, then a newer passed draft replaces it.
    log.customer(6, at(0, 0));
    log.drafter_draft(6, at(0, 1), 1, "50% off!", &["ungrounded amount: 50%"]);
    log.drafter_draft(6, at(0, 2), 2, "Rp 389.000", &[]);
    // 7: held and approved anyway (sent as is).
    log.customer(7, at(0, 0));
    log.drafter_draft(7, at(0, 1), 1, "See you 12 May", &["date"]);
    log.queue(7, at(0, 2), "ag_1", "See you 12 May", Some(1));
    // 8: a held default reply (hand-off with a holding text): counted once.
    log.customer(8, at(0, 0));
    log.drafter_draft(8, at(0, 1), 1, "A colleague will answer", &["hand-off"]);
    assert_eq!(log.figures().held_drafts, 3);
}

#[test]
fn failures_are_sends_that_ended_failed() {
    let mut log = Log::default();
    log.customer(1, at(0, 0));
    // Waiting for a person: a failure.
    let permanent = log.queue(1, at(0, 1), "ag_1", "too long", None);
    log.fail(1, at(0, 2), permanent, None);
    // Failed, then given up: still a failure.
    let discarded = log.queue(1, at(0, 3), "ag_1", "too long too", None);
    log.fail(1, at(0, 4), discarded, None);
    log.desk(
        1,
        at(0, 5),
        "ag_1",
        DeskAction::SendDiscarded { send: discarded },
    );
    // Failed, retried by a person, sent: not a failure.
    let recovered = log.queue(1, at(0, 6), "ag_1", "retry me", None);
    log.fail(1, at(0, 7), recovered, None);
    log.desk(
        1,
        at(0, 8),
        "ag_1",
        DeskAction::SendRetried { send: recovered },
    );
    log.deliver(1, at(0, 9), recovered);
    // Failed with an automatic retry pending: not (yet) a failure.
    let retrying = log.queue(1, at(0, 10), "ag_1", "transient", None);
    log.fail(1, at(0, 11), retrying, Some(at(0, 60_000)));
    // Failed before the period: not counted.
    let old = log.queue(1, at(20, 0), "ag_1", "old", None);
    log.fail(1, at(20, 1), old, None);
    // A sender action that failed is not a reply, so not a failed one either.
    let typing = log.desk(
        1,
        at(0, 12),
        "ag_1",
        DeskAction::ReplyQueued {
            text: "typing".into(),
            from_draft: None,
            content: Some(ReplyContent::SenderAction(SenderAction::TypingOn)),
            reply_to: None,
        },
    );
    log.fail(1, at(0, 13), typing, None);
    // Sent, then a WhatsApp `failed` status with our callback data: a reply and a failure.
    let wa = log.queue(2, at(0, 14), "ag_1", "hi", None);
    log.deliver(2, at(0, 15), wa);
    let status = DeliveryStatus {
        message_id: "wamid.1".into(),
        status: StatusKind::Failed,
        errors: Vec::new(),
        conversation_id: None,
        conversation_expires_at: None,
        conversation_origin: None,
        pricing_category: None,
        pricing_model: None,
        billable: None,
        biz_opaque_callback_data: Some(format!("{TENANT}:{wa}")),
    };
    log.inbound(
        2,
        at(0, 16),
        Direction::Outbound,
        InboundKind::Status(status.clone()),
    );
    // The same status naming another tenant's send changes nothing here.
    let other = DeliveryStatus {
        biz_opaque_callback_data: Some(format!("tn_b:{recovered}")),
        ..status
    };
    log.inbound(
        1,
        at(0, 17),
        Direction::Outbound,
        InboundKind::Status(other),
    );
    let f = log.figures();
    assert_eq!(f.failures, 3);
    assert_eq!(f.replies.own, 2);
}

#[test]
fn no_text_or_customer_identity_reaches_the_figures() {
    let mut log = Log::default();
    log.customer(1, at(0, 0));
    log.drafter_draft(1, at(0, 1), 1, "Rp 389.000 kak", &[]);
    let s = log.queue(1, at(0, 2), "ag_1", "Rp 389.000 kak", Some(1));
    log.deliver(1, at(0, 3), s);
    let json = serde_json::to_string(&log.figures()).unwrap();
    for secret in [
        "harga",
        "389",
        "7100000000000001",
        "th_1",
        "ag_1",
        "mid_",
        "m_0",
    ] {
        assert!(!json.contains(secret), "{secret} in {json}");
    }
}

#[test]
fn feeding_in_pages_gives_the_same_figures() {
    let mut log = Log::default();
    for th in 0..5 {
        log.customer(th, at(i64::from(th), 0));
        log.drafter_draft(th, at(i64::from(th), 1), 1, "ok", &[]);
        let s = log.queue(th, at(i64::from(th), 2), "ag_1", "ok", Some(1));
        log.deliver(th, at(i64::from(th), 3_000), s);
    }
    let whole = log.figures();
    let mut tally = Tally::new(NOW);
    for page in log.events.chunks(3) {
        for event in page {
            tally.add(event);
        }
    }
    assert_eq!(tally.finish(), whole);
    assert_eq!(whole.replies.approved, 5);
    assert_eq!(whole.first_response_ms.median, Some(3_000));
}

#[test]
fn per_agent_replies_first_responses_and_resolutions() {
    let mut log = Log::default();
    let minute = Millis::MINUTE;
    // Thread 1: the customer waits 10 min for ag_ayu, who resolves it 30 min after it opened.
    log.customer(1, at(0, 0));
    log.customer(1, at(0, minute)); // still the same wait and the same opening
    let s = log.queue(1, at(0, 10 * minute), "ag_ayu", "ada kak", None);
    log.deliver(1, at(0, 10 * minute), s);
    log.desk(1, at(0, 30 * minute), "ag_ayu", DeskAction::Resolved);
    // The customer writes again: a new opening, resolved by ag_budi after 5 min; a reopen
    // starts the clock again, and ag_budi resolves it 20 min later.
    log.customer(1, at(0, HOUR));
    log.desk(1, at(0, HOUR + 5 * minute), "ag_budi", DeskAction::Resolved);
    log.desk(1, at(0, 2 * HOUR), "ag_ayu", DeskAction::Reopened);
    log.desk(
        1,
        at(0, 2 * HOUR + 20 * minute),
        "ag_budi",
        DeskAction::Resolved,
    );
    // Thread 2: the drafter answers in 1 min; a second send stops no clock.
    log.customer(2, at(1, 0));
    let s = log.queue(2, at(1, minute), DRAFTER_AGENT, "halo", None);
    log.deliver(2, at(1, minute), s);
    let s = log.queue(2, at(1, 2 * minute), DRAFTER_AGENT, "ada lagi?", None);
    log.deliver(2, at(1, 2 * minute), s);
    // Outside the period: counted nowhere.
    log.customer(3, at(20, 0));
    log.desk(3, at(20, minute), "ag_old", DeskAction::Resolved);
    let agents = log.figures().agents;
    let by = |id: &str| agents.iter().find(|a| a.agent.as_str() == id).unwrap();
    assert_eq!(agents.len(), 3, "{agents:?}");
    let ayu = by("ag_ayu");
    assert_eq!((ayu.replies, ayu.resolved), (1, 1));
    assert_eq!(ayu.first_response_ms.median, Some(10 * minute));
    assert_eq!(ayu.resolution_ms.median, Some(30 * minute));
    let budi = by("ag_budi");
    assert_eq!((budi.replies, budi.resolved), (0, 2));
    assert_eq!(budi.first_response_ms.samples, 0);
    // Samples 5 and 20 minutes: the lower middle one.
    assert_eq!(budi.resolution_ms.median, Some(5 * minute));
    let drafter = by(DRAFTER_AGENT);
    assert_eq!((drafter.replies, drafter.resolved), (2, 0));
    assert_eq!(drafter.first_response_ms.median, Some(minute));
    assert_eq!(drafter.first_response_ms.samples, 1);
}
