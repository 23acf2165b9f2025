//! The inbox: every thread of every open profile, its filters, search and order.
//!
//! Rows are keyed by (profile, thread), so two tenants' threads never mix even when their
//! ids collide, and every action on a row goes through that row's own profile.

use super::status::{RowStatus, WindowInfo};
use super::summary::ThreadSummary;
use protocol::{AgentId, Channel, Millis, ThreadId};
use std::collections::HashMap;

/// Which rows the inbox lists.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Filter {
    /// Everything not resolved.
    #[default]
    Open,
    NeedsApproval,
    Mine,
    Unassigned,
    Comments,
    InstagramDm,
    WhatsApp,
    Resolved,
    All,
    /// Put aside until a time or the customer's next message (the other filters but `all`
    /// leave these out).
    Snoozed,
}

impl Filter {
    pub const ALL: [Filter; 10] = [
        Filter::Open,
        Filter::NeedsApproval,
        Filter::Mine,
        Filter::Unassigned,
        Filter::Comments,
        Filter::InstagramDm,
        Filter::WhatsApp,
        Filter::Resolved,
        Filter::All,
        Filter::Snoozed,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Filter::Open => "open",
            Filter::NeedsApproval => "needs approval",
            Filter::Mine => "mine",
            Filter::Unassigned => "unassigned",
            Filter::Comments => "comments",
            Filter::InstagramDm => "instagram dm",
            Filter::WhatsApp => "whatsapp",
            Filter::Resolved => "resolved",
            Filter::All => "all",
            Filter::Snoozed => "snoozed",
        }
    }

    /// The filter named `name` (as `:filter NAME` takes it; `-` and `_` for spaces).
    #[must_use]
    pub fn parse(name: &str) -> Option<Filter> {
        let name = name.trim().replace(['-', '_'], " ").to_lowercase();
        Filter::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The next filter in the `f` cycle.
    #[must_use]
    pub fn next(self) -> Filter {
        let i = Filter::ALL.iter().position(|f| *f == self).unwrap_or(0);
        Filter::ALL[(i + 1) % Filter::ALL.len()]
    }

    fn admits(self, row: &ThreadSummary, status: &RowStatus, me: &AgentId) -> bool {
        let awake = row.snoozed.is_none();
        match self {
            Filter::Snoozed => !awake && !row.resolved,
            Filter::All => true,
            _ if !awake => false,
            Filter::Open => !row.resolved,
            Filter::NeedsApproval => status.awaits_approval(),
            Filter::Mine => row.assignee.as_ref() == Some(me) && !row.resolved,
            Filter::Unassigned => row.assignee.is_none() && !row.resolved,
            Filter::Comments => row.channel == Channel::InstagramComment && !row.resolved,
            Filter::InstagramDm => row.channel == Channel::InstagramDm && !row.resolved,
            Filter::WhatsApp => row.channel == Channel::WhatsApp && !row.resolved,
            Filter::Resolved => row.resolved,
        }
    }
}

/// How the list is ordered.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Sort {
    /// Nearest window deadline first.
    #[default]
    Urgency,
    /// Newest message first.
    Newest,
}

/// One listed thread and the profile it belongs to.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entry {
    pub profile: usize,
    pub row: ThreadSummary,
}

/// What the list is computed for.
#[derive(Clone, Debug)]
pub struct Query<'a> {
    pub filter: Filter,
    pub sort: Sort,
    pub search: &'a str,
    /// Who "mine" means, per profile.
    pub me: &'a [AgentId],
    pub now: Millis,
}

/// The query the listed order was last computed for, kept so that a changed row can be
/// put in its place without sorting everything again.
#[derive(Clone, Debug)]
struct Current {
    filter: Filter,
    sort: Sort,
    search: String,
    me: Vec<AgentId>,
    now: Millis,
}

/// Where a row sorts: its order class and times, then profile and thread as tie-breaks so
/// that every row has one place.
type SortKey = ((u8, i64, i64), usize, ThreadId);

/// All rows, and the order the current filter lists them in.
///
/// A full [`Inbox::refresh`] sorts every row (when the query changes, or when a window
/// deadline passes and classes move); a row that changes is moved to its new place by
/// binary search, so a busy tenant does not resort 50,000 rows per event.
#[derive(Debug, Default)]
pub struct Inbox {
    entries: Vec<Entry>,
    /// Per entry: its sort key when the current query lists it.
    keys: Vec<Option<SortKey>>,
    index: HashMap<(usize, ThreadId), usize>,
    /// Indexes into `entries` in display order.
    visible: Vec<usize>,
    current: Option<Current>,
    /// The earliest window deadline after which the order may change.
    next_change: Option<i64>,
    /// Rows awaiting approval, rows with a failed reply.
    counts: (usize, usize),
    dirty: bool,
}

fn flags(row: &ThreadSummary) -> (usize, usize) {
    match RowStatus::of(row) {
        s if s.awaits_approval() => (1, 0),
        RowStatus::Failed { .. } => (0, 1),
        _ => (0, 0),
    }
}

impl Current {
    /// The row's key when this query lists it, and the deadline at which that may change.
    fn key(&self, profile: usize, row: &ThreadSummary) -> (Option<SortKey>, Option<i64>) {
        let status = RowStatus::of(row);
        let nobody = AgentId::new("");
        let me = self.me.get(profile).unwrap_or(&nobody);
        if !self.filter.admits(row, &status, me) || !matches(row, &self.search) {
            return (None, None);
        }
        let last = row.last_message_at.map_or(0, |t| t.0);
        let (class, deadline) = WindowInfo::of(row, self.now).urgency();
        let change = (class <= 1).then_some(deadline);
        let order = match self.sort {
            Sort::Urgency => (class, deadline, -last),
            Sort::Newest => (0, -last, 0),
        };
        (Some((order, profile, row.id.clone())), change)
    }
}

impl Inbox {
    /// Inserts or replaces a row, moving it to its place in the listed order.
    pub fn upsert(&mut self, profile: usize, row: ThreadSummary) {
        let key = (profile, row.id.clone());
        let (approval, failed) = flags(&row);
        let i = match self.index.get(&key) {
            Some(&i) => {
                let (a, f) = flags(&self.entries[i].row);
                self.counts.0 -= a;
                self.counts.1 -= f;
                self.unlist(i);
                self.entries[i].row = row;
                i
            }
            None => {
                let i = self.entries.len();
                self.index.insert(key, i);
                self.entries.push(Entry { profile, row });
                self.keys.push(None);
                i
            }
        };
        self.counts.0 += approval;
        self.counts.1 += failed;
        self.list(i);
    }

    fn unlist(&mut self, i: usize) {
        if self.dirty {
            return;
        }
        if let Some(old) = self.keys[i].take() {
            let keys = &self.keys;
            if let Ok(pos) = self.visible.binary_search_by(|&v| {
                keys[v]
                    .as_ref()
                    .map_or(std::cmp::Ordering::Greater, |k| k.cmp(&old))
            }) {
                self.visible.remove(pos);
            } else if let Some(pos) = self.visible.iter().position(|&v| v == i) {
                self.visible.remove(pos);
            }
        }
    }

    fn list(&mut self, i: usize) {
        let Some(current) = self.current.as_ref().filter(|_| !self.dirty) else {
            self.dirty = true;
            return;
        };
        let (key, change) = current.key(self.entries[i].profile, &self.entries[i].row);
        if let Some(change) = change {
            self.next_change = Some(self.next_change.map_or(change, |c| c.min(change)));
        }
        if let Some(key) = key {
            let keys = &self.keys;
            let pos = self
                .visible
                .binary_search_by(|&v| {
                    keys[v]
                        .as_ref()
                        .map_or(std::cmp::Ordering::Greater, |k| k.cmp(&key))
                })
                .unwrap_or_else(|p| p);
            self.visible.insert(pos, i);
            self.keys[i] = Some(key);
        }
    }

    #[must_use]
    pub fn get(&self, profile: usize, thread: &ThreadId) -> Option<&Entry> {
        self.index
            .get(&(profile, thread.clone()))
            .map(|&i| &self.entries[i])
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Marks the order stale (the query changed).
    /// Removes every row of `profile` (its tenant was deleted from the relay).
    pub fn drop_profile(&mut self, profile: usize) {
        let entries = std::mem::take(&mut self.entries);
        self.keys.clear();
        self.index.clear();
        self.visible.clear();
        self.counts = (0, 0);
        // Everything is re-listed at the next refresh.
        self.dirty = true;
        for e in entries.into_iter().filter(|e| e.profile != profile) {
            self.upsert(e.profile, e.row);
        }
    }

    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// The clock moved: the order is stale only when a window deadline has passed.
    pub fn tick(&mut self, now: Millis) {
        if self.next_change.is_some_and(|t| now.0 > t) {
            self.dirty = true;
        }
    }

    #[must_use]
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Recomputes the listed order for `query` from scratch.
    pub fn refresh(&mut self, query: &Query<'_>) {
        let current = Current {
            filter: query.filter,
            sort: query.sort,
            search: query.search.trim().to_lowercase(),
            me: query.me.to_vec(),
            now: query.now,
        };
        let mut next_change: Option<i64> = None;
        let mut listed: Vec<usize> = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            let (key, change) = current.key(entry.profile, &entry.row);
            if let Some(change) = change.filter(|c| *c >= query.now.0) {
                next_change = Some(next_change.map_or(change, |n| n.min(change)));
            }
            if key.is_some() {
                listed.push(i);
            }
            self.keys[i] = key;
        }
        let keys = &self.keys;
        listed.sort_unstable_by(|a, b| keys[*a].cmp(&keys[*b]));
        self.visible = listed;
        self.next_change = next_change;
        self.current = Some(current);
        self.dirty = false;
    }

    /// The listed rows, in order.
    pub fn visible(&self) -> impl ExactSizeIterator<Item = &Entry> {
        self.visible.iter().map(|&i| &self.entries[i])
    }

    #[must_use]
    pub fn visible_len(&self) -> usize {
        self.visible.len()
    }

    #[must_use]
    pub fn visible_at(&self, position: usize) -> Option<&Entry> {
        self.visible.get(position).map(|&i| &self.entries[i])
    }

    /// Where (profile, thread) is listed now.
    #[must_use]
    pub fn position(&self, profile: usize, thread: &ThreadId) -> Option<usize> {
        let i = *self.index.get(&(profile, thread.clone()))?;
        let key = self.keys.get(i)?.as_ref()?;
        let keys = &self.keys;
        self.visible
            .binary_search_by(|&v| {
                keys[v]
                    .as_ref()
                    .map_or(std::cmp::Ordering::Greater, |k| k.cmp(key))
            })
            .ok()
    }

    /// The thread that needs this desk next, after list position `after` (wrapping): drafts
    /// awaiting approval first, then anything else waiting for a person; within each, the
    /// nearest window deadline first. Looks at every row, not only the filtered ones.
    #[must_use]
    pub fn next_needing_me(
        &self,
        now: Millis,
        current: Option<(usize, &ThreadId)>,
    ) -> Option<(usize, ThreadId)> {
        let mut candidates: Vec<((u8, u8, i64), usize)> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.row.resolved)
            .filter_map(|(i, e)| {
                let status = RowStatus::of(&e.row);
                if !status.needs_me() {
                    return None;
                }
                let tier = u8::from(!status.awaits_approval());
                let (class, deadline) = WindowInfo::of(&e.row, now).urgency();
                Some(((tier, class, deadline), i))
            })
            .collect();
        candidates.sort_unstable_by_key(|c| c.0);
        let pick = match current {
            // Skip the one on screen so `n` always moves on when there is anywhere to go.
            Some((profile, thread)) => candidates
                .iter()
                .find(|(_, i)| {
                    let e = &self.entries[*i];
                    !(e.profile == profile && &e.row.id == thread)
                })
                .map(|c| c.1),
            None => candidates.first().map(|c| c.1),
        }?;
        let e = &self.entries[pick];
        Some((e.profile, e.row.id.clone()))
    }

    /// Counts for the header: (awaiting approval, failed).
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        self.counts
    }
}

fn matches(row: &ThreadSummary, search: &str) -> bool {
    if search.is_empty() {
        return true;
    }
    let hay = |s: &str| s.to_lowercase().contains(search);
    hay(&row.customer.handle())
        || row.customer.name.as_deref().is_some_and(hay)
        || row.preview.as_ref().is_some_and(|p| hay(&p.text))
        || row.draft.as_ref().is_some_and(|d| hay(&d.text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::fixtures::{Events, NOW};
    use proptest::prelude::*;

    fn query(me: &[AgentId]) -> Query<'_> {
        Query {
            filter: Filter::Open,
            sort: Sort::Urgency,
            search: "",
            me,
            now: NOW,
        }
    }

    fn order(inbox: &Inbox) -> Vec<String> {
        inbox
            .visible()
            .map(|e| e.row.id.as_str().to_owned())
            .collect()
    }

    proptest! {
        /// Moving changed rows into place gives exactly the order a full sort gives.
        #[test]
        fn incremental_upserts_match_a_full_sort(
            steps in proptest::collection::vec((0usize..12, 0i64..3000, 0u8..4), 1..60)
        ) {
            let me = vec![AgentId::new("ayu")];
            let me_id = me[0].clone();
            let mut e = Events::new("t");
            let mut rows: HashMap<ThreadId, ThreadSummary> = HashMap::new();
            let mut live = Inbox::default();
            live.refresh(&query(&me));
            for (thread, minutes, what) in steps {
                let id = format!("th-{thread}");
                let at = NOW.plus(-minutes * Millis::MINUTE);
                match what {
                    0 => { e.message(&id, protocol::Channel::InstagramDm, "x", "hi", at); }
                    1 => { e.message(&id, protocol::Channel::WhatsApp, "y", "hi", at); }
                    2 => { e.draft(&id, 1, "draft", &[], &[], at); }
                    _ => { e.resolved(&id, "ayu", at); }
                }
                for ev in e.take() {
                    let t = ThreadId::new(&id);
                    if let Some(row) = ThreadSummary::apply(rows.remove(&t), &ev, &me_id) {
                        rows.insert(t, row.clone());
                        live.upsert(0, row);
                    }
                }
            }
            let mut full = Inbox::default();
            for row in rows.values() {
                full.upsert(0, row.clone());
            }
            full.refresh(&query(&me));
            prop_assert_eq!(order(&live), order(&full));
            prop_assert_eq!(live.counts(), full.counts());
            for (i, entry) in live.visible().enumerate() {
                prop_assert_eq!(live.position(0, &entry.row.id), Some(i));
            }
        }
    }
}
