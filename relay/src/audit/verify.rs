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
//! The same check serves the store (`Store::verify_audit`) and an exported file
//! (`relay audit verify-file`), so a file can be checked with no relay running. This
//! module reads nothing itself; the export's line format lives here so both ends agree.

use super::{AuditRecord, GENESIS, hash_of, record};
use protocol::{AccountEventKind, ChannelId, Event, EventBody, Seq, TenantId, ThreadId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
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

/// Where a `CustomerRemoved` event was last seen, by thread and by channel.
struct Removals<'a> {
    threads: HashMap<&'a ThreadId, usize>,
    channels: HashMap<&'a ChannelId, usize>,
}

impl<'a> Removals<'a> {
    fn of(entries: &'a [Entry]) -> Self {
        let mut threads = HashMap::new();
        let mut channels = HashMap::new();
        for (i, entry) in entries.iter().enumerate() {
            if let EventBody::Account(a) = &entry.event.body
                && let AccountEventKind::CustomerRemoved { thread } = &a.kind
            {
                threads.insert(thread, i);
                channels.insert(&a.channel_id, i);
            }
        }
        Removals { threads, channels }
    }

    /// Whether a removal recorded after position `i` covers `event`.
    fn covers(&self, event: &Event, i: usize) -> bool {
        let later = |at: Option<&usize>| at.is_some_and(|&at| at > i);
        match &event.body {
            EventBody::Inbound(e) => later(self.threads.get(&e.thread)),
            EventBody::Desk(d) => later(self.threads.get(&d.thread)),
            EventBody::Outbox(o) => later(self.threads.get(&o.thread)),
            EventBody::Unknown(u) => later(self.channels.get(&u.channel_id)),
            EventBody::Account(_) | EventBody::Credits(_) => false,
        }
    }
}

/// Whether redaction would change nothing more in `event`: it holds no removable content.
fn already_redacted(event: &Event) -> bool {
    let mut copy = event.clone();
    !protocol::redact::event(&mut copy)
}

/// Checks `entries`, which must be the whole log in sequence order from event 1.
#[must_use]
pub fn verify_log(entries: &[Entry]) -> Verdict {
    let removals = Removals::of(entries);
    // Where each sequence number first appears, to tell a reordered event from a lost one.
    let mut positions: HashMap<u64, usize> = HashMap::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        positions.entry(entry.event.seq.0).or_insert(i);
    }
    let tenant = entries.first().map(|e| &e.event.tenant);
    let mut prev = GENESIS;
    for (i, entry) in entries.iter().enumerate() {
        let expected = i as u64 + 1;
        let seq = entry.event.seq.0;
        if seq > expected && positions.get(&expected).is_some_and(|&at| at > i) {
            let problem = format!("event {expected} is out of order: event {seq} comes before it");
            return Verdict::broken(expected, expected, problem);
        }
        if let Err(problem) = check(entry, expected, tenant, prev, || {
            already_redacted(&entry.event) && removals.covers(&entry.event, i)
        }) {
            return Verdict::broken(expected, expected, problem);
        }
        prev = entry.audit.hash;
    }
    Verdict::whole(entries.len() as u64)
}

fn check(
    entry: &Entry,
    expected: u64,
    tenant: Option<&TenantId>,
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
    if let Some(tenant) = tenant.filter(|t| **t != event.tenant) {
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
    let mut entries = Vec::new();
    for (i, line) in lines {
        let line = line?;
        if !line.trim().is_empty() {
            entries.push(parse_line::<Entry>(i + 1, &line, "an export entry")?);
        }
    }
    let verdict = verify_log(&entries);
    if !verdict.ok {
        return Ok(verdict);
    }
    if let Some(other) = entries.iter().find(|e| e.event.tenant != header.tenant) {
        return Ok(Verdict::broken(
            other.event.seq.0,
            other.event.seq.0,
            format!(
                "event {} belongs to tenant {}, not the header's {}",
                other.event.seq, other.event.tenant, header.tenant
            ),
        ));
    }
    let count = entries.len() as u64;
    if count != header.head {
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
