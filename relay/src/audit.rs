//! The evidence chain: per tenant, one audit record for every event of its log, each
//! holding the SHA-256 of the one before, so changing, inserting or removing a record in
//! the middle shows when the chain is re-hashed.
//!
//! Records are derived from events as they are appended (inbound webhooks, which are
//! stored only once their signature verified; drafts, edits, approvals with the agent;
//! send attempts, results with Meta's id, failures; statuses) and hold ids and SHA-256
//! digests of contents, never message texts, so a record stays meaningful (and the chain
//! intact) after a deletion request removes the texts.
//!
//! `audit/verify.rs` checks a log against its records (and an exported file of them).

use protocol::inbound::InboundKind;
use protocol::{DeskAction, DraftAuthor, Event, EventBody, Millis, SendStatus, Seq};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod verify;

pub use verify::{Entry, ExportError, ExportHeader, Verdict, Verifier, verify_export, verify_log};

pub type Hash = [u8; 32];

/// The `prev` of a tenant's first record.
pub const GENESIS: Hash = [0; 32];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The sequence number of the event it records.
    pub n: Seq,
    pub at: Millis,
    /// What happened, e.g. `inbound_message`, `reply_approved`, `send_sent`.
    pub kind: String,
    /// The ids it is about (thread, Meta message id, reply).
    pub subject: String,
    /// SHA-256 of the text involved, if any.
    pub content: Option<Hash>,
    /// Non-content facts: signature result, agent, draft version, provider id, error code.
    pub detail: String,
    pub prev: Hash,
    pub hash: Hash,
}

fn digest(text: &str) -> Hash {
    Sha256::digest(text.as_bytes()).into()
}

fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// The hash of a record's fields (everything but `hash` itself), length-prefixed so no
/// two different records hash alike by shifting bytes between fields.
#[must_use]
pub fn hash_of(r: &AuditRecord) -> Hash {
    let mut h = Sha256::new();
    h.update(r.n.0.to_be_bytes());
    h.update(r.at.0.to_be_bytes());
    field(&mut h, r.kind.as_bytes());
    field(&mut h, r.subject.as_bytes());
    field(&mut h, r.content.as_ref().map_or(&[][..], |c| &c[..]));
    field(&mut h, r.detail.as_bytes());
    h.update(r.prev);
    h.finalize().into()
}

/// The record for `event`, chained to `prev`.
#[must_use]
pub fn record(event: &Event, prev: Hash) -> AuditRecord {
    let (kind, subject, content, detail) = describe(event);
    let mut r = AuditRecord {
        n: event.seq,
        at: event.received_at,
        kind,
        subject,
        content,
        detail,
        prev,
        hash: [0; 32],
    };
    r.hash = hash_of(&r);
    r
}

type Described = (String, String, Option<Hash>, String);

fn describe(event: &Event) -> Described {
    match &event.body {
        EventBody::Inbound(e) => {
            let thread = &e.thread;
            let (subject, text) = match &e.kind {
                InboundKind::Message(m) => (m.mid.clone(), m.text.as_deref()),
                InboundKind::Comment(c) => (c.id.clone(), c.text.as_deref()),
                InboundKind::Edit(x) => (x.mid.clone(), x.text.as_deref()),
                InboundKind::Reaction(x) => (x.mid.clone(), None),
                InboundKind::Deleted { mid } => (mid.clone(), None),
                InboundKind::Read { mid, .. } => (mid.clone().unwrap_or_default(), None),
                InboundKind::Status(s) => (format!("{} {}", s.message_id, s.status.as_str()), None),
                InboundKind::Postback(p) => {
                    (p.mid.clone().unwrap_or_default(), p.payload.as_deref())
                }
                InboundKind::Referral(_) | InboundKind::OptIn { .. } => (String::new(), None),
            };
            (
                format!("inbound_{}", event.body.kind_name()),
                format!("{thread} {subject}"),
                text.map(digest),
                format!("signature=verified direction={:?}", e.direction).to_lowercase(),
            )
        }
        EventBody::Desk(d) => {
            let subject = d.thread.to_string();
            let agent = format!("agent={}", d.agent);
            match &d.action {
                DeskAction::DraftEdited { draft } => {
                    let by = match &draft.author {
                        DraftAuthor::Agent(a) => format!("agent={a}"),
                        DraftAuthor::Drafter => "drafter".to_owned(),
                    };
                    (
                        "draft_edited".into(),
                        subject,
                        Some(digest(&draft.text)),
                        format!("{by} version={}", draft.version),
                    )
                }
                DeskAction::ReplyQueued {
                    text,
                    from_draft: Some(v),
                    ..
                } => (
                    "reply_approved".into(),
                    format!("{subject} send={}", event.seq),
                    Some(digest(text)),
                    format!("{agent} draft_version={v}"),
                ),
                DeskAction::ReplyQueued {
                    text,
                    from_draft: None,
                    ..
                } => (
                    "reply_written".into(),
                    format!("{subject} send={}", event.seq),
                    Some(digest(text)),
                    agent,
                ),
                // Like a message: the evidence holds the note's digest, never its text.
                DeskAction::NoteAdded { text } => {
                    ("note_added".into(), subject, Some(digest(text)), agent)
                }
                other => (format!("desk_{}", other.name()), subject, None, agent),
            }
        }
        EventBody::Outbox(o) => {
            let subject = format!("{} send={}", o.thread, o.send);
            match &o.status {
                SendStatus::Sending { attempt, kind } => (
                    "send_attempt".into(),
                    subject,
                    None,
                    format!("attempt={attempt} kind={kind:?}"),
                ),
                SendStatus::Sent {
                    provider_id,
                    reconciled,
                    ..
                } => (
                    "send_sent".into(),
                    subject,
                    None,
                    format!("provider_id={provider_id} reconciled={reconciled}"),
                ),
                SendStatus::Failed { failure, retry_at } => (
                    "send_failed".into(),
                    subject,
                    None,
                    format!(
                        "class={} code={:?} subcode={:?} retry={}",
                        failure.class.name(),
                        failure.code,
                        failure.subcode,
                        retry_at.is_some()
                    ),
                ),
            }
        }
        EventBody::Account(a) => match &a.kind {
            protocol::AccountEventKind::ChannelChanged { change, detail } => (
                format!("channel_{change}"),
                a.channel_id.to_string(),
                None,
                detail.clone(),
            ),
            _ => (
                format!("account_{}", event.body.kind_name()),
                a.channel_id.to_string(),
                None,
                String::new(),
            ),
        },
        EventBody::Credits(c) => (
            "credits_changed".into(),
            String::new(),
            None,
            format!("added={} balance={}", c.added, c.balance),
        ),
        EventBody::Unknown(u) => (
            "inbound_unknown".into(),
            format!("{} {}", u.object, u.kind),
            Some(digest(&u.raw)),
            "signature=verified".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use protocol::inbound::{InboundEvent, MessageBody};
    use protocol::{
        AccountEvent, ChannelId, Customer, CustomerId, Direction, TenantId, ThreadId, UnknownEvent,
    };

    fn unknown(seq: u64, raw: &str) -> Event {
        Event {
            tenant: TenantId::new("tn_a"),
            seq: Seq(seq),
            received_at: Millis(1000 + i64::try_from(seq).unwrap()),
            body: EventBody::Unknown(UnknownEvent {
                channel_id: ChannelId::new("ch_1"),
                object: "instagram".into(),
                kind: "new_kind".into(),
                raw: raw.into(),
            }),
        }
    }

    fn message(seq: u64, text: &str) -> Event {
        let body = MessageBody {
            mid: format!("mid.{seq}"),
            text: Some(text.into()),
            ..MessageBody::default()
        };
        Event {
            tenant: TenantId::new("tn_a"),
            seq: Seq(seq),
            received_at: Millis(1000 + i64::try_from(seq).unwrap()),
            body: EventBody::Inbound(InboundEvent {
                channel_id: ChannelId::new("ch_1"),
                channel: protocol::Channel::InstagramDm,
                thread: ThreadId::new("th_1"),
                customer: Customer {
                    id: CustomerId::Igsid("42".into()),
                    username: None,
                    name: Some("Sari".into()),
                },
                direction: Direction::Inbound,
                occurred_at: Millis(900),
                standby: false,
                kind: InboundKind::Message(body),
            }),
        }
    }

    fn removed(seq: u64) -> Event {
        Event {
            tenant: TenantId::new("tn_a"),
            seq: Seq(seq),
            received_at: Millis(5000),
            body: EventBody::Account(AccountEvent {
                channel_id: ChannelId::new("ch_1"),
                occurred_at: Millis(5000),
                kind: protocol::AccountEventKind::CustomerRemoved {
                    thread: ThreadId::new("th_1"),
                },
            }),
        }
    }

    /// Chains records over `events` as the store does on append.
    fn log(events: Vec<Event>) -> Vec<Entry> {
        let mut prev = GENESIS;
        events
            .into_iter()
            .map(|event| {
                let audit = record(&event, prev);
                prev = audit.hash;
                Entry { event, audit }
            })
            .collect()
    }

    fn five() -> Vec<Entry> {
        log((1..=5)
            .map(|i| {
                if i % 2 == 0 {
                    message(i, &format!("secret text {i}"))
                } else {
                    unknown(i, &format!("secret raw {i}"))
                }
            })
            .collect())
    }

    fn verify(entries: &[Entry]) -> Verdict {
        verify_log(
            entries
                .iter()
                .cloned()
                .map(Ok::<_, std::convert::Infallible>),
        )
        .unwrap()
    }

    #[track_caller]
    fn check(entries: &[Entry], first_bad: Option<u64>, problem: &str) {
        let verdict = verify(entries);
        assert_eq!(verdict.first_bad, first_bad, "{verdict:?}");
        assert_eq!(verdict.ok, first_bad.is_none());
        let text = verdict.problem.unwrap_or_default();
        assert!(text.contains(problem), "{text:?} should say {problem:?}");
    }

    #[test]
    fn an_intact_log_verifies_and_its_records_hold_no_texts() {
        let entries = five();
        assert_eq!(verify(&entries).records, 5);
        check(&entries, None, "");
        let records: Vec<&AuditRecord> = entries.iter().map(|e| &e.audit).collect();
        assert!(!format!("{records:?}").contains("secret"));
    }

    #[test]
    fn each_kind_of_tampering_is_named_at_its_first_event() {
        // A changed body: the record's digest no longer matches the text.
        let mut e = five();
        if let EventBody::Inbound(i) = &mut e[3].event.body
            && let InboundKind::Message(m) = &mut i.kind
        {
            m.text = Some("a different text".into());
        }
        check(&e, Some(4), "text digest");
        // A changed id.
        let mut e = five();
        if let EventBody::Unknown(u) = &mut e[2].event.body {
            u.kind = "other".into();
        }
        check(&e, Some(3), "ids");
        // A missing event.
        let mut e = five();
        e.remove(1);
        check(&e, Some(2), "event 2 is missing");
        // Two events swapped.
        let mut e = five();
        e.swap(1, 2);
        check(&e, Some(2), "event 2 is out of order");
        // A changed record, its own hash recomputed or not.
        let mut e = five();
        e[2].audit.detail.push('!');
        check(&e, Some(3), "facts");
        let mut e = five();
        e[1].audit.content = Some([7; 32]);
        e[1].audit.hash = hash_of(&e[1].audit);
        check(&e, Some(2), "text digest");
        // A record rewritten consistently with a changed event still breaks the link after.
        let mut e = five();
        e[0].event.received_at = Millis(1);
        e[0].audit = record(&e[0].event, GENESIS);
        check(&e, Some(2), "does not link");
        // The hash alone changed.
        let mut e = five();
        e[4].audit.hash = [1; 32];
        check(&e, Some(5), "does not hash");
        // Another tenant's event inside the log.
        let mut e = five();
        e[4].event.tenant = TenantId::new("tn_b");
        check(&e, Some(5), "belongs to tenant tn_b");
    }

    #[test]
    fn redacted_texts_pass_only_when_a_later_removal_covers_them() {
        let mut e = log(vec![message(1, "private words"), unknown(2, "raw +62812")]);
        for entry in &mut e {
            protocol::redact::event(&mut entry.event);
        }
        // Without the removal event, a text gone is a changed body.
        check(&e, Some(1), "text digest");
        // With it (appended after the redaction, chained to the last record) all is well.
        let last = e[1].audit.hash;
        let event = removed(3);
        let audit = record(&event, last);
        e.push(Entry { event, audit });
        check(&e, None, "");
        // A break after the redaction is named, whether or not the removal came after it.
        let mut broken = e.clone();
        broken[1].audit.detail.push('!');
        check(&broken, Some(2), "facts");
        let mut unexcused = e.clone();
        unexcused.pop();
        unexcused[1].audit.hash = [0; 32];
        check(&unexcused, Some(1), "no later removal");
        // Redaction excuses only the digest: a changed id is still found.
        e[0].event.body = match e[0].event.body.clone() {
            EventBody::Inbound(mut i) => {
                i.thread = ThreadId::new("th_1");
                if let InboundKind::Message(m) = &mut i.kind {
                    m.mid = "mid.forged".into();
                }
                EventBody::Inbound(i)
            }
            other => other,
        };
        check(&e, Some(1), "ids");
    }

    #[test]
    fn an_export_file_is_checked_against_its_header() {
        let entries = five();
        let header = ExportHeader {
            tenant: TenantId::new("tn_a"),
            head: 5,
        };
        let file = |header: &ExportHeader, entries: &[Entry]| {
            let mut text = serde_json::to_string(header).unwrap();
            for e in entries {
                text.push('\n');
                text.push_str(&serde_json::to_string(e).unwrap());
            }
            text
        };
        let ok = verify_export(file(&header, &entries).as_bytes()).unwrap();
        assert!(ok.ok, "{ok:?}");
        // The tail cut off.
        let cut = verify_export(file(&header, &entries[..3]).as_bytes()).unwrap();
        assert_eq!(cut.first_bad, Some(4), "{cut:?}");
        // A text changed in the file itself.
        let text = file(&header, &entries).replace("secret text 2", "secret text X");
        let changed = verify_export(text.as_bytes()).unwrap();
        assert_eq!(changed.first_bad, Some(2), "{changed:?}");
        // The checked-in sample (the fuzz target's seed) is this same log.
        let sample = include_str!("../../tests/fixtures/audit/export.jsonl");
        assert_eq!(sample, file(&header, &entries));
        // Not an export at all.
        assert!(verify_export(&b"{}\n"[..]).is_err());
        assert!(verify_export(&b""[..]).is_err());
    }
}
