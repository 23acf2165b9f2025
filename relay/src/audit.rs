//! The evidence chain: per tenant, one audit record for every event of its log, each
//! holding the SHA-256 of the one before, so changing, inserting or removing a record in
//! the middle shows when the chain is re-hashed.
//!
//! Records are derived from events as they are appended (inbound webhooks, which are
//! stored only once their signature verified; drafts, edits, approvals with the agent;
//! send attempts, results with Meta's id, failures; statuses) and hold ids and SHA-256
//! digests of contents, never message texts, so a record stays meaningful (and the chain
//! intact) after a deletion request removes the texts.

use protocol::inbound::InboundKind;
use protocol::{DeskAction, DraftAuthor, Event, EventBody, Millis, SendStatus, Seq};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

/// The outcome of re-hashing a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub ok: bool,
    pub records: u64,
    /// The first record whose hash or link does not hold.
    pub first_bad: Option<u64>,
}

/// Re-hashes `records` (in order) and names the first one that does not hold.
pub fn verify(records: impl IntoIterator<Item = AuditRecord>) -> Verdict {
    let mut prev = GENESIS;
    let mut count = 0;
    for r in records {
        count += 1;
        if r.prev != prev || hash_of(&r) != r.hash {
            return Verdict {
                ok: false,
                records: count,
                first_bad: Some(r.n.0),
            };
        }
        prev = r.hash;
    }
    Verdict {
        ok: true,
        records: count,
        first_bad: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use protocol::{ChannelId, TenantId, UnknownEvent};

    fn event(seq: u64, raw: &str) -> Event {
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

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|i| {
                let r = record(&event(i, &format!("secret text {i}")), prev);
                prev = r.hash;
                r
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_and_holds_no_texts() {
        let records = chain(5);
        assert_eq!(
            verify(records.clone()),
            Verdict {
                ok: true,
                records: 5,
                first_bad: None
            }
        );
        let dump = format!("{records:?}");
        assert!(!dump.contains("secret text"));
    }

    #[test]
    fn any_change_names_the_first_broken_record() {
        let mut records = chain(5);
        records[2].detail.push('!');
        assert_eq!(verify(records).first_bad, Some(3));
        // A consistent rewrite of one record still breaks the next one's link.
        let mut records = chain(5);
        records[1].content = Some([7; 32]);
        records[1].hash = hash_of(&records[1]);
        assert_eq!(verify(records).first_bad, Some(3));
        // Removing a record breaks the link of the one after it.
        let mut records = chain(5);
        records.remove(1);
        assert_eq!(verify(records).first_bad, Some(3));
    }
}
