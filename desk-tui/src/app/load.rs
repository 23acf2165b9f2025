//! Reading the replica into the desk's state: rows and unanswered commands at start-up,
//! rows from an inbox snapshot, and the rows (and open thread) each sync update touched.

use super::update::label;
use super::{App, Effect, Pending};
use crate::model::detail::ThreadDetail;
use crate::model::mention::MentionRow;
use crate::model::summary::thread_of;
use protocol::inbound::InboundKind;
use protocol::{Direction, EventBody, Seq, ThreadId};
use std::collections::HashSet;

/// How many events one sync update reads from the replica at most; the rest come with the
/// next update (the engine sends one per batch anyway).
const READ_BATCH: usize = 10_000;

impl App {
    /// Reads every profile's rows and outbox from its replica (start-up).
    pub(super) fn load_all(&mut self) {
        for index in 0..self.profiles.len() {
            if self.profiles[index].replica.is_some() {
                self.load_profile(index);
            }
        }
        self.refresh();
    }

    /// Reads one profile's rows, cursor, credits and unanswered commands from its replica.
    pub(super) fn load_profile(&mut self, index: usize) {
        let Some(replica) = self.profiles[index].replica.clone() else {
            return;
        };
        match replica.summaries() {
            Ok(rows) => {
                self.inbox.touch();
                for row in rows {
                    self.inbox.upsert(index, row);
                }
            }
            Err(e) => self.flash = Some(format!("cannot read the local replica: {e}")),
        }
        match replica.mentions() {
            Ok(rows) => {
                for row in rows {
                    self.inbox.upsert(index, row);
                }
            }
            Err(e) => self.flash = Some(format!("cannot read the local replica: {e}")),
        }
        if let Ok(cursor) = replica.cursor() {
            self.profiles[index].cursor = cursor;
        }
        self.load_outbox(index, &replica);
    }

    pub(super) fn load_outbox(&mut self, index: usize, replica: &crate::Replica) {
        if let Ok(Some(credits)) = replica.credits() {
            self.profiles[index].credits = Some(credits);
        }
        // Commands queued in an earlier session are still on their way: show them.
        if let Ok(pending) = replica.outbox().pending() {
            for p in pending {
                if self.pending.iter().any(|q| q.key.as_ref() == Some(&p.key)) {
                    continue;
                }
                let local = self.next_local();
                self.pending.push(Pending {
                    local,
                    profile: index,
                    thread: p.command.thread().clone(),
                    label: label(&p.command).into(),
                    key: Some(p.key),
                    command: p.command,
                });
            }
        }
    }

    /// Shows rows read from an inbox snapshot before the profile's replica is open; the
    /// events after `cursor` are applied once it is (see [`Msg::ReplicaReady`]).
    pub fn preload(
        &mut self,
        index: usize,
        rows: Vec<crate::model::summary::ThreadSummary>,
        mentions: Vec<crate::model::mention::MentionRow>,
        cursor: Seq,
    ) {
        // One sort for the lot rather than one insertion each.
        self.inbox.touch();
        for row in rows {
            self.inbox.upsert(index, row);
        }
        for row in mentions {
            self.inbox.upsert(index, row);
        }
        if let Some(p) = self.profiles.get_mut(index) {
            p.cursor = cursor;
        }
        self.refresh();
    }

    /// The relay deleted the profile's tenant and its replica was erased: its rows, open
    /// thread and pending commands go too.
    pub(super) fn erased(&mut self, profile: usize) {
        self.inbox.drop_profile(profile);
        if self.open.as_ref().is_some_and(|o| o.profile == profile) {
            self.open = None;
        }
        self.flash =
            Some("this business was deleted from the relay; its local copy was erased".into());
        self.refresh();
    }

    pub(super) fn applied(&mut self, profile: usize, cursor: Seq, effects: &mut Vec<Effect>) {
        let Some(p) = self.profiles.get(profile) else {
            return;
        };
        let Some(replica) = p.replica.clone() else {
            return;
        };
        let from = p.cursor;
        if cursor <= from {
            return;
        }
        let events = match replica.events_after(from, READ_BATCH) {
            Ok(events) => events,
            Err(e) => {
                self.flash = Some(format!("cannot read the local replica: {e}"));
                return;
            }
        };
        let mut touched: HashSet<ThreadId> = HashSet::new();
        let mut mentions = Vec::new();
        let mut ring = false;
        let open = self
            .open
            .as_ref()
            .filter(|o| o.profile == profile)
            .map(|o| o.thread.clone());
        let mut reload_open = false;
        for event in &events {
            // A customer's data was removed: the replica rewrote that thread's events.
            if let EventBody::Account(a) = &event.body
                && let protocol::AccountEventKind::CustomerRemoved { thread } = &a.kind
            {
                touched.insert(thread.clone());
                reload_open |= open.as_ref() == Some(thread);
            }
            // An @mention is a row of its own; the replica wrote it with the event.
            if let Some(row) = MentionRow::of(event) {
                mentions.push(row);
            }
            if let Some(thread) = thread_of(event) {
                touched.insert(thread.clone());
                if open.as_ref() == Some(thread)
                    && let Some(o) = &mut self.open
                {
                    o.detail.apply(event);
                }
            }
            if let EventBody::Inbound(i) = &event.body
                && i.direction == Direction::Inbound
                && matches!(i.kind, InboundKind::Message(_) | InboundKind::Comment(_))
            {
                ring = true;
            }
            // Given to this desk's agent by someone else: ring and say so.
            if let EventBody::Desk(d) = &event.body
                && let protocol::DeskAction::Assigned { to } = &d.action
                && self
                    .profiles
                    .get(profile)
                    .is_some_and(|p| &p.me == to && d.agent != *to)
            {
                ring = true;
                self.flash = Some(format!("{} assigned you a conversation", d.agent));
            }
        }
        let last = events.last().map_or(from, |e| e.seq);
        if let Some(p) = self.profiles.get_mut(profile) {
            p.cursor = last;
            if let Ok(Some(credits)) = replica.credits() {
                p.credits = Some(credits);
            }
        }
        if reload_open
            && let Some(o) = &mut self.open
            && let Ok(events) = replica.thread_events(&o.thread)
        {
            o.detail = ThreadDetail::from_events(&events);
        }
        let keep = self.selected_thread();
        for thread in touched {
            if let Ok(Some(row)) = replica.summary(&thread) {
                self.inbox.upsert(profile, row);
            }
        }
        for row in mentions {
            self.inbox.upsert(profile, row);
        }
        // Rows moved around the cursor: keep it on its thread.
        if let Some((p, thread)) = keep
            && let Some(position) = self.inbox.position(p, &thread)
        {
            self.selected = position;
        }
        self.clamp_selection();
        if ring && self.bell {
            effects.push(Effect::Bell);
        }
        // More than one read's worth arrived: read the rest now rather than wait.
        if last < cursor && last > from {
            self.applied(profile, cursor, effects);
        }
    }
}
