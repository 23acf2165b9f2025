//! Checking a tenant's evidence: every audit record is recomputed from the event it is
//! stored with (kind, ids, text digests, facts) and the chain is re-hashed, in sequence
//! order, so a changed body, a missing, repeated or reordered event, and a changed,
//! inserted or removed record are each named by the first event where they show.
//!
//! One exception is by design: a data-deletion request removes texts from the customer's
//! events (`protocol::redact`) after their records were made, so a record's text digest
//! can no longer be recomputed. Such an event is accepted when it is already in its
//! redacted form *and* a later `CustomerRemoved` event of the log names its thread (or,
//! for a raw item, which has no thread, its channel); every other field is still checked.
//!
//! The same check ([`Verifier`], fed one entry at a time, so memory does not grow with the
//! log) serves the store (`Store::verify_audit`) and an exported file (`relay audit
//! verify-file`), so a file can be checked with no relay running. This module reads
//! nothing itself; the export's line format lives here so both ends agree.

use super::{AuditRecord, GENESIS, hash_of, record};
use protocol::{AccountEventKind, ChannelId, Event, EventBody, Seq, TenantId, ThreadId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;

/// One line of an export after the header: an event and the audit record stored with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub event: Event,
    pub audit: AuditRecord,
}

/// The first line of an export: whose log it is and how far it goes, so a file cut short
/// is told from a whole one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportHeader {
    pub tenant: TenantId,
    /// The newest sequence number exported; the file holds events `1..=head`.
    pub head: u64,
}

/// The outcome of checking a log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub ok: bool,
    /// Entries checked, up to and including the first bad one.
    pub records: u64,
    /// The sequence number of the first event that does not match.
    pub first_bad: Option<u64>,
    /// What does not match there, in words.
    pub problem: Option<String>,
}

impl Verdict {
    fn whole(records: u64) -> Verdict {
        Verdict {
            ok: true,
            records,
            first_bad: None,
            problem: None,
        }
    }

    fn broken(records: u64, at: u64, problem: String) -> Verdict {
        Verdict {
            ok: false,
            records,
            first_bad: Some(at),
            problem: Some(problem),
        }
    }
}

/// What a `CustomerRemoved` event covers: an event of its thread, or a raw item (which
/// has no thread) of its channel.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Cover {
    Thread(ThreadId),
    Channel(ChannelId),
}

fn cover_of(event: &Event) -> Option<Cover> {
    match &event.body {
        EventBody::Inbound(e) => Some(Cover::Thread(e.thread.clone())),
        EventBody::Desk(d) => Some(Cover::Thread(d.thread.clone())),
        EventBody::Outbox(o) => Some(Cover::Thread(o.thread.clone())),
        EventBody::Unknown(u) => Some(Cover::Channel(u.channel_id.clone())),
        EventBody::Account(_) | EventBody::Credits(_) => None,
    }
}

/// Whether redaction would change nothing more in `event`: it holds no removable content.
fn already_redacted(event: &Event) -> bool {
    let mut copy = event.clone();
    !protocol::redact::event(&mut copy)
}

/// Checks a log one entry at a time, in sequence order from event 1, holding only what
/// is still open: redacted events waiting for the removal that excuses them, and, once
/// something failed, what could still change the answer (a later removal, or the missing
/// event turning up out of order). Memory does not grow with the log.
#[derive(Default)]
pub struct Verifier {
    /// Entries seen so far.
    seen: u64,
    prev: super::Hash,
    tenant: Option<TenantId>,
    /// Redacted events whose text digest no longer matches, by what would excuse them.
    waiting: HashMap<Cover, Vec<u64>>,
    /// The same events, in order, so the first one still unexcused is at hand.
    unexcused: BTreeSet<u64>,
    /// The first failure that no later entry can excuse: (event, problem).
    failure: Option<(u64, String)>,
    /// The event a failure reported missing, in case it turns up later.
    missing: Option<u64>,
}

impl Verifier {
    #[must_use]
    pub fn new() -> Self {
        Verifier {
            prev: GENESIS,
            ..Verifier::default()
        }
    }

    pub fn push(&mut self, entry: &Entry) {
        self.seen += 1;
        let expected = self.seen;
        self.excuse(&entry.event);
        if self.failure.is_some() {
            if self.missing == Some(entry.event.seq.0) {
                let at = entry.event.seq.0;
                self.failure = Some((at, format!("event {at} is out of order: it comes later")));
                self.missing = None;
            }
            return;
        }
        let tenant = self
            .tenant
            .get_or_insert_with(|| entry.event.tenant.clone());
        let mut redacted = false;
        let result = check(entry, expected, tenant, self.prev, || {
            redacted = already_redacted(&entry.event) && cover_of(&entry.event).is_some();
            redacted
        });
        match result {
            Ok(()) => {
                if redacted && let Some(cover) = cover_of(&entry.event) {
                    self.waiting.entry(cover).or_default().push(expected);
                    self.unexcused.insert(expected);
                }
                self.prev = entry.audit.hash;
            }
            Err(problem) => {
                if entry.event.seq.0 > expected {
                    self.missing = Some(expected);
                }
                self.failure = Some((expected, problem));
            }
        }
    }

    /// A removal excuses every redacted event before it of its thread or channel.
    fn excuse(&mut self, event: &Event) {
        if let EventBody::Account(a) = &event.body
            && let AccountEventKind::CustomerRemoved { thread } = &a.kind
        {
            for cover in [
                Cover::Thread(thread.clone()),
                Cover::Channel(a.channel_id.clone()),
            ] {
                for seq in self.waiting.remove(&cover).unwrap_or_default() {
                    self.unexcused.remove(&seq);
                }
            }
        }
    }

    /// The verdict on everything pushed.
    #[must_use]
    pub fn finish(self) -> Verdict {
        let unexcused = self.unexcused.first().copied();
        match (unexcused, self.failure) {
            (Some(at), failure) if failure.as_ref().is_none_or(|(f, _)| at < *f) => {
                Verdict::broken(
                    at,
                    at,
                    format!(
                        "event {at} does not match its record's text digest (the event's body \
                         or its record was changed; no later removal of the customer explains \
                         it)"
                    ),
                )
            }
            (_, Some((at, problem))) => Verdict::broken(at, at, problem),
            _ => Verdict::whole(self.seen),
        }
    }

    /// The tenant of the first entry.
    #[must_use]
    pub fn tenant(&self) -> Option<&TenantId> {
        self.tenant.as_ref()
    }

    /// Entries pushed.
    #[must_use]
    pub fn seen(&self) -> u64 {
        self.seen
    }
}

/// Checks `entries`, which must be the whole log in sequence order from event 1.
///
/// # Errors
/// The first error the entries' source gave (a record that cannot be read).
pub fn verify_log<E>(entries: impl IntoIterator<Item = Result<Entry, E>>) -> Result<Verdict, E> {
    let mut verifier = Verifier::new();
    for entry in entries {
        verifier.push(&entry?);
    }
    Ok(verifier.finish())
}

/// Checks one entry; `redacted` says whether a text digest that no longer matches may
/// still be excused by a later removal (the caller then keeps it waiting).
fn check(
    entry: &Entry,
    expected: u64,
    tenant: &TenantId,
    prev: super::Hash,
    redacted: impl FnOnce() -> bool,
) -> Result<(), String> {
    let (event, audit) = (&entry.event, &entry.audit);
    let seq = event.seq.0;
    if seq > expected {
        return Err(format!(
            "event {expected} is missing (the next one is event {seq})"
        ));
    }
    if seq < expected {
        return Err(format!(
            "event {seq} appears again, or out of order, where event {expected} belongs"
        ));
    }
    if *tenant != event.tenant {
        return Err(format!(
            "event {seq} belongs to tenant {}, not {tenant}",
            event.tenant
        ));
    }
    if audit.n != Seq(seq) {
        return Err(format!(
            "event {seq} is stored with the record of event {}",
            audit.n
        ));
    }
    let want = record(event, audit.prev);
    let field = if want.at != audit.at {
        Some("time")
    } else if want.kind != audit.kind {
        Some("kind")
    } else if want.subject != audit.subject {
        Some("ids")
    } else if want.detail != audit.detail {
        Some("facts")
    } else if want.content != audit.content && !redacted() {
        Some("text digest")
    } else {
        None
    };
    if let Some(field) = field {
        return Err(format!(
            "event {seq} does not match its record's {field} (the event's body or its record \
             was changed)"
        ));
    }
    if audit.prev != prev {
        return Err(format!(
            "the record of event {seq} does not link to the record before it (a record was \
             removed, inserted or rewritten)"
        ));
    }
    if hash_of(audit) != audit.hash {
        return Err(format!(
            "the record of event {seq} does not hash to its stored hash (the record was \
             changed)"
        ));
    }
    Ok(())
}

/// Why an export file could not be read as one.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the file is empty; an export starts with a header line")]
    Empty,
    #[error("line {line} is not {what}: {reason}")]
    Line {
        line: usize,
        what: &'static str,
        reason: String,
    },
}

/// Checks an export (JSON lines: an [`ExportHeader`], then one [`Entry`] per event) with the
/// same rules as the store, and that it holds every event up to its header's head.
///
/// # Errors
/// The file cannot be read, or a line is not a header or an entry.
pub fn verify_export(reader: impl BufRead) -> Result<Verdict, ExportError> {
    let mut lines = reader.lines().enumerate();
    let header: ExportHeader = loop {
        let Some((i, line)) = lines.next() else {
            return Err(ExportError::Empty);
        };
        let line = line?;
        if !line.trim().is_empty() {
            break parse_line(i + 1, &line, "an export header")?;
        }
    };
    let mut verifier = Verifier::new();
    for (i, line) in lines {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = parse_line(i + 1, &line, "an export entry")?;
        if verifier.seen() == 0 && entry.event.tenant != header.tenant {
            let seq = entry.event.seq.0;
            return Ok(Verdict::broken(
                seq,
                seq,
                format!(
                    "event {seq} belongs to tenant {}, not the header's {}",
                    entry.event.tenant, header.tenant
                ),
            ));
        }
        verifier.push(&entry);
    }
    let count = verifier.seen();
    let verdict = verifier.finish();
    if verdict.ok && count != header.head {
        let at = count.min(header.head) + 1;
        return Ok(Verdict::broken(
            count,
            at,
            format!(
                "the file holds events 1..={count} but its header says the log goes to {}",
                header.head
            ),
        ));
    }
    Ok(verdict)
}

fn parse_line<T: serde::de::DeserializeOwned>(
    line: usize,
    text: &str,
    what: &'static str,
) -> Result<T, ExportError> {
    serde_json::from_str(text).map_err(|e| ExportError::Line {
        line,
        what,
        reason: e.to_string(),
    })
}
