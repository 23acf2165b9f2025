//! The inbox: every thread of every open profile, and its account-level @mentions, with
//! filters, search and order.
//!
//! Rows are keyed by (profile, thread), so two tenants' threads never mix even when their
//! ids collide, and every action on a row goes through that row's own profile. A mention
//! row ([`Row::Mention`]) is keyed by its desk-local id ([`super::mention::row_id`]) and
//! sorts by its time among the comment threads, which have no window deadline either.

use super::mention::MentionRow;
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
    /// Account-level @mentions only.
    Mentions,
}

impl Filter {
    pub const ALL: [Filter; 11] = [
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
        Filter::Mentions,
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
            Filter::Mentions => "mentions",
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

    /// Mentions cannot be marked handled, so they stay under the filters that list what
    /// is not done and is Instagram's public side (`open`, `comments`), and `mentions`.
    fn admits_mention(self) -> bool {
        matches!(
            self,
            Filter::Open | Filter::Comments | Filter::All | Filter::Mentions
        )
    }

    fn admits(self, row: &ThreadSummary, status: &RowStatus, me: &AgentId) -> bool {
        let awake = row.snoozed.is_none();
        match self {
            Filter::Snoozed => !awake && !row.resolved,
            Filter::All => true,
            Filter::Mentions => false,
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

/// What one inbox row is.
// Almost every row is a thread: boxing it would add an allocation per row (50,000 of them
// in a large replica) to save space on the rare mention.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Row {
    Thread(ThreadSummary),
    Mention(MentionRow),
}

impl Row {
    /// The row's key within its profile.
    #[must_use]
    pub fn id(&self) -> &ThreadId {
        match self {
            Row::Thread(t) => &t.id,
            Row::Mention(m) => &m.id,
        }
    }
}

impl From<ThreadSummary> for Row {
    fn from(row: ThreadSummary) -> Row {
        Row::Thread(row)
    }
}

impl From<MentionRow> for Row {
    fn from(row: MentionRow) -> Row {
        Row::Mention(row)
    }
}

/// One listed row and the profile it belongs to.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entry {
    pub profile: usize,
    pub row: Row,
}

impl Entry {
    /// The conversation, when the row is one (not a mention).
    #[must_use]
    pub fn thread(&self) -> Option<&ThreadSummary> {
        match &self.row {
            Row::Thread(t) => Some(t),
            Row::Mention(_) => None,
        }
    }

    /// The mention, when the row is one.
    #[must_use]
    pub fn mention(&self) -> Option<&MentionRow> {
        match &self.row {
            Row::Thread(_) => None,
            Row::Mention(m) => Some(m),
        }
    }

    #[must_use]
    pub fn id(&self) -> &ThreadId {
        self.row.id()
    }
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
    /// Mention rows.
    mentions: usize,
    dirty: bool,
}

fn flags(row: &Row) -> (usize, usize) {
    let Row::Thread(row) = row else {
        return (0, 0);
    };
    match RowStatus::of(row) {
        s if s.awaits_approval() => (1, 0),
        RowStatus::Failed { .. } => (0, 1),
        _ => (0, 0),
    }
}

impl Current {
    /// The row's key when this query lists it, and the deadline at which that may change.
    fn key(&self, profile: usize, row: &Row) -> (Option<SortKey>, Option<i64>) {
        let row = match row {
            Row::Thread(t) => t,
            Row::Mention(m) => return (self.mention_key(profile, m), None),
        };
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

    /// A mention has no window: it sorts by its time in the class of rows without a
    /// deadline (comment threads), so it lands among them by when it happened.
    fn mention_key(&self, profile: usize, row: &MentionRow) -> Option<SortKey> {
        if !self.filter.admits_mention() || !row.matches(&self.search) {
            return None;
        }
        let last = row.occurred_at.0;
        let order = match self.sort {
            Sort::Urgency => (2, 0, -last),
            Sort::Newest => (0, -last, 0),
        };
        Some((order, profile, row.id.clone()))
    }
}

impl Inbox {
    /// Inserts or replaces a row (a thread's or a mention's), moving it to its place in
    /// the listed order.
    pub fn upsert(&mut self, profile: usize, row: impl Into<Row>) {
        let row = row.into();
        let key = (profile, row.id().clone());
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
                self.mentions += usize::from(matches!(row, Row::Mention(_)));
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
        self.mentions = 0;
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
            .filter_map(|(i, e)| Some((i, e.thread()?)))
            .filter(|(_, row)| !row.resolved)
            .filter_map(|(i, row)| {
                let status = RowStatus::of(row);
                if !status.needs_me() {
                    return None;
                }
                let tier = u8::from(!status.awaits_approval());
                let (class, deadline) = WindowInfo::of(row, now).urgency();
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
                    !(e.profile == profile && e.id() == thread)
                })
                .map(|c| c.1),
            None => candidates.first().map(|c| c.1),
        }?;
        let e = &self.entries[pick];
        Some((e.profile, e.id().clone()))
    }

    /// Counts for the header: (awaiting approval, failed).
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        self.counts
    }

    /// How many @mentions the inbox holds, listed or not.
    #[must_use]
    pub fn mentions(&self) -> usize {
        self.mentions
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
            .map(|e| e.id().as_str().to_owned())
            .collect()
    }

    /// The inbox of `events` (one profile), listed for `filter` and `sort`.
    fn listed(events: &[protocol::Event], filter: Filter, sort: Sort) -> Inbox {
        let me = [AgentId::new("ayu")];
        let mut rows: HashMap<ThreadId, ThreadSummary> = HashMap::new();
        let mut inbox = Inbox::default();
        for ev in events {
            if let Some(m) = MentionRow::of(ev) {
                inbox.upsert(0, m);
            }
            if let Some(t) = crate::model::summary::thread_of(ev).cloned()
                && let Some(row) = ThreadSummary::apply(rows.remove(&t), ev, &me[0])
            {
                rows.insert(t, row.clone());
                inbox.upsert(0, row);
            }
        }
        inbox.refresh(&Query {
            filter,
            sort,
            ..query(&me)
        });
        inbox
    }

    #[test]
    fn mentions_are_listed_by_time_among_comment_threads_and_counted_apart() {
        let m = |minutes: i64| NOW.plus(-minutes * Millis::MINUTE);
        let mut e = Events::new("t");
        e.comment("cmt-new", "mei", "c-1", "ship to SG?", "post-1", m(10));
        let older = e.mention(Some("17920000000000001"), None, m(60));
        e.comment("cmt-old", "tan", "c-2", "nice", "post-1", m(120));
        let newer = e.mention(Some("17920000000000003"), Some("c-9"), m(5));
        e.message(
            "ig-dm",
            protocol::Channel::InstagramDm,
            "rina",
            "halo",
            m(30),
        );
        let events = e.take();
        let inbox = listed(&events, Filter::Open, Sort::Urgency);
        let newer = crate::model::mention::row_id(newer);
        let older = crate::model::mention::row_id(older);
        // The DM's window deadline comes first; then rows without one, newest first.
        assert_eq!(
            order(&inbox),
            [
                "ig-dm",
                newer.as_str(),
                "cmt-new",
                older.as_str(),
                "cmt-old"
            ]
        );
        assert_eq!(inbox.mentions(), 2);
        assert_eq!(inbox.counts(), (0, 0), "a mention awaits no approval");
        assert_eq!(inbox.position(0, &newer), Some(1));
        assert!(inbox.get(0, &newer).unwrap().thread().is_none());
        let inbox = listed(&events, Filter::Open, Sort::Newest);
        assert_eq!(
            order(&inbox),
            [
                newer.as_str(),
                "cmt-new",
                "ig-dm",
                older.as_str(),
                "cmt-old"
            ]
        );
        assert_eq!(
            inbox.next_needing_me(NOW, None).map(|(_, t)| t),
            Some(ThreadId::new("ig-dm")),
            "n never lands on a mention"
        );
    }

    #[test]
    fn filters_and_search_list_mentions_where_they_belong() {
        #[track_caller]
        fn check(filter: Filter, search: &str, expected: &[&str]) {
            let mut e = Events::new("t");
            e.message(
                "ig-dm",
                protocol::Channel::InstagramDm,
                "rina",
                "halo",
                NOW.plus(-Millis::MINUTE),
            );
            e.mention(Some("17920000000000003"), Some("17920000000000002"), NOW);
            let me = [AgentId::new("ayu")];
            let mut inbox = listed(&e.take(), filter, Sort::Newest);
            inbox.refresh(&Query {
                filter,
                sort: Sort::Newest,
                search,
                ..query(&me)
            });
            assert_eq!(order(&inbox), expected, "{filter:?} {search:?}");
        }
        check(Filter::Open, "", &["mention:2", "ig-dm"]);
        check(Filter::Comments, "", &["mention:2"]);
        check(Filter::Mentions, "", &["mention:2"]);
        check(Filter::All, "", &["mention:2", "ig-dm"]);
        check(Filter::Unassigned, "", &["ig-dm"]);
        check(Filter::InstagramDm, "", &["ig-dm"]);
        check(Filter::Resolved, "", &[]);
        check(Filter::Open, "17920000000000002", &["mention:2"]);
        check(Filter::Open, "mention", &["mention:2"]);
        check(Filter::Open, "rina", &["ig-dm"]);
        assert_eq!(Filter::parse("mentions"), Some(Filter::Mentions));
    }

    #[test]
    fn dropping_a_profile_drops_its_mentions_and_their_count() {
        let mut e = Events::new("t");
        e.mention(Some("17920000000000001"), None, NOW);
        let mut inbox = listed(&e.take(), Filter::Open, Sort::Urgency);
        assert_eq!(inbox.mentions(), 1);
        inbox.drop_profile(0);
        assert_eq!(inbox.mentions(), 0);
        assert!(inbox.is_empty());
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
                prop_assert_eq!(live.position(0, entry.id()), Some(i));
            }
        }
    }
}
