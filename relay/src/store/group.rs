//! Per-tenant group append: concurrent appends of one tenant joined into one step.
//!
//! Every step of a tenant holds the tenant's lock until its commit is durable, so without
//! this one tenant commits one webhook per flush however many arrive together. While one
//! append step of a key (backend, tenant) is in flight, later appends of that key queue;
//! when it ends, the first queued caller leads the next step with the queued callers' items
//! concatenated (at most [`MAX_ITEMS`], but never fewer than one caller's), and each caller
//! gets exactly its own results. There is no timer and nothing waits when nothing is in
//! flight: a batch is whatever queued during the step before it.
//!
//! A step of several callers that fails is not their answer: one caller's items may be what
//! cannot be stored (PostgreSQL refuses a NUL in a `text` column, say), and the others must
//! not be refused for it. Each caller's items then run once more in a step of their own, and
//! a caller is answered an error only when its own step fails. When storage itself is down
//! that is two attempts per caller, not more. The failed step may have committed (a lost
//! connection at COMMIT), so the re-runs reconcile with what it computed, as below.
//!
//! Gathering (a backend whose step includes its commit, PostgreSQL): with a steady number
//! of callers, a step that starts at once carries only those who queued during the step
//! before, so the callers split into two cohorts that commit in turn, two commits per
//! round. A backend that asks for it ([`Gather`]) has a step of a busy key wait, before it
//! takes its followers, until as many callers are there as were around the step before it
//! (its callers and those queued when it ended), or until [`Gather::most`] has passed: the
//! cohorts merge into one commit per round. A key that was idle (no step ended within
//! [`Gather::recent`]), had one caller around, or whose last step waited in vain waits for
//! nothing.
//!
//! Callers that go away (a dropped HTTP request) never strand the others:
//! - a queued caller that is gone is skipped, its items are not stored;
//! - a caller told to lead that is gone before it starts hands the lead on;
//! - a leader that is gone mid-step puts its followers back at the head of the queue and
//!   hands the lead on. The abandoned step may have committed, so what it computed for them
//!   is kept (with what any earlier abandoned or failed step computed, should they be
//!   re-queued twice) and the re-run reconciles with it ([`Outcome::after_abandoned`]): an
//!   item an abandoned step stored is still reported as stored, not as its own duplicate.

use super::StoreError;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

/// How a busy key's next step gathers its callers (see the module comment).
#[derive(Clone, Copy, Debug)]
pub struct Gather {
    /// The longest a step waits for callers.
    pub most: Duration,
    /// A step that ended longer ago than this says nothing about who is coming.
    pub recent: Duration,
}

/// Keys whose last step is remembered, past which the oldest are forgotten.
const RECENT_KEYS: usize = 1024;

/// When a key's last step ended, how many callers were around it, and whether it had
/// waited for callers that did not come.
#[derive(Clone, Copy)]
struct Recent {
    ended: Instant,
    around: usize,
    missed: bool,
}

/// The most items one step takes from several callers (a single caller's are never split).
pub const MAX_ITEMS: usize = 256;

/// A per-item result that can be reconciled with what an abandoned or failed step computed
/// for it.
pub trait Outcome: Clone {
    /// `self`, from a re-run, given `earlier`, what an abandoned or failed (maybe committed)
    /// step computed for the same item.
    #[must_use]
    fn after_abandoned(self, earlier: &Self) -> Self;
}

/// What a step computed, recorded by the step before it commits; kept only while the step
/// has followers that would be re-run if it were abandoned or failed.
pub struct Computed<O>(Option<Arc<Mutex<Option<Vec<O>>>>>);

impl<O: Clone> Computed<O> {
    pub fn record(&self, out: &[O]) {
        if let Some(slot) = &self.0 {
            *lock(slot) = Some(out.to_vec());
        }
    }
}

type Reply<K, T, O> = oneshot::Sender<Turn<K, T, O>>;

struct Waiter<K: Clone + Eq + Hash, T, O: Clone> {
    items: Vec<T>,
    /// What an abandoned or failed step computed for these items.
    prior: Option<Vec<O>>,
    /// These items were in a step of several callers that failed: they run alone now.
    alone: bool,
    reply: Reply<K, T, O>,
}

/// A caller's items with what earlier steps computed for them, and whether they run alone.
struct Own<T, O> {
    items: Vec<T>,
    prior: Option<Vec<O>>,
    alone: bool,
}

enum Turn<K: Clone + Eq + Hash, T, O: Clone> {
    Done(Result<Vec<O>, StoreError>),
    Lead(Lead<K, T, O>),
}

/// Queued callers per key; a key is present exactly while it has a leader (running, or
/// told to lead and not yet started).
type Queues<K, T, O> = Mutex<HashMap<K, VecDeque<Waiter<K, T, O>>>>;

/// The group appends of any number of keys.
pub struct Groups<K: Clone + Eq + Hash, T, O: Clone> {
    queues: Arc<Queues<K, T, O>>,
    recent: Mutex<HashMap<K, Recent>>,
    /// Woken whenever a caller queues behind a gathering backend's step.
    queued: Notify,
    /// Leaders waiting to gather (tests watch it).
    gathering: std::sync::atomic::AtomicUsize,
}

impl<K: Clone + Eq + Hash, T, O: Clone> Default for Groups<K, T, O> {
    fn default() -> Self {
        Groups {
            queues: Arc::new(Mutex::new(HashMap::new())),
            recent: Mutex::new(HashMap::new()),
            queued: Notify::new(),
            gathering: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

fn lock<V>(m: &Mutex<V>) -> MutexGuard<'_, V> {
    // Every critical section only moves queue entries, so a panic cannot leave one half
    // done; the data stays usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K, T, O> Groups<K, T, O>
where
    K: Clone + Eq + Hash + Send + 'static,
    T: Clone + Send + 'static,
    O: Outcome + Send + 'static,
{
    /// Runs `items` for `key`: in a step of their own when none is in flight, else in a
    /// later step with whatever else queued. `step` gets the batch and answers one result
    /// per item, in order (it should [`Computed::record`] them before committing).
    ///
    /// # Errors
    /// The error of the step that ran this caller's items alone (see the module comment).
    pub async fn run<F, Fut>(
        &self,
        key: K,
        items: Vec<T>,
        gather: Option<Gather>,
        step: F,
    ) -> Result<Vec<O>, StoreError>
    where
        F: Fn(Vec<T>, Computed<O>) -> Fut,
        Fut: Future<Output = Result<Vec<O>, StoreError>>,
    {
        let queued = {
            let mut queues = lock(&self.queues);
            if let Some(queue) = queues.get_mut(&key) {
                let (reply, turn) = oneshot::channel();
                queue.push_back(Waiter {
                    items,
                    prior: None,
                    alone: false,
                    reply,
                });
                if gather.is_some() {
                    // Only a gathering leader waits on it; sled's appends skip the wake-up.
                    self.queued.notify_waiters();
                }
                Err(turn)
            } else {
                queues.insert(key.clone(), VecDeque::new());
                Ok(items)
            }
        };
        let own = match queued {
            Ok(items) => Own {
                items,
                prior: None,
                alone: false,
            },
            Err(turn) => match turn.await {
                Ok(Turn::Done(result)) => return result,
                Ok(Turn::Lead(mut lead)) => lead.take(),
                // Senders are dropped unsent only for callers already gone.
                Err(_) => return Err(StoreError::Backend("an append step was lost".into())),
            },
        };
        self.lead(key, own, gather, step).await
    }

    /// Waits, while this key is busy, until as many callers as were around its last step
    /// are here (this one and those queued), or until `gather.most` has passed; answers
    /// whether it waited in vain. After a wait in vain the next step does not wait: callers
    /// that arrive at random (not each right after its answer) rarely come on cue, and each
    /// wait would only add to their latency.
    async fn gather(&self, key: &K, gather: Gather) -> bool {
        let expected = {
            let recent = lock(&self.recent);
            match recent.get(key) {
                Some(r) if r.ended.elapsed() <= gather.recent && !r.missed => r.around,
                _ => return false,
            }
        };
        if expected <= 1 {
            return false;
        }
        let deadline = Instant::now() + gather.most;
        loop {
            // Made before the count, so a caller queueing in between still wakes it.
            let arrival = self.queued.notified();
            let here = 1 + lock(&self.queues)
                .get(key)
                .map_or(0, |q| q.iter().filter(|w| !w.reply.is_closed()).count());
            if here >= expected {
                return false;
            }
            self.gathering.fetch_add(1, Ordering::SeqCst);
            let timed_out = tokio::time::timeout_at(deadline, arrival).await.is_err();
            self.gathering.fetch_sub(1, Ordering::SeqCst);
            if timed_out {
                return true;
            }
        }
    }

    /// Remembers who was around a step of `key` that just ended with `callers` callers,
    /// and whether it had waited in vain.
    fn ended(&self, key: &K, callers: usize, missed: bool) {
        let waiting = lock(&self.queues).get(key).map_or(0, VecDeque::len);
        let mut recent = lock(&self.recent);
        if recent.len() >= RECENT_KEYS && !recent.contains_key(key) {
            let oldest = recent
                .iter()
                .min_by_key(|(_, r)| r.ended)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                recent.remove(&k);
            }
        }
        recent.insert(
            key.clone(),
            Recent {
                ended: Instant::now(),
                around: callers + waiting,
                missed,
            },
        );
    }

    async fn lead<F, Fut>(
        &self,
        key: K,
        own: Own<T, O>,
        gather: Option<Gather>,
        step: F,
    ) -> Result<Vec<O>, StoreError>
    where
        F: Fn(Vec<T>, Computed<O>) -> Fut,
        Fut: Future<Output = Result<Vec<O>, StoreError>>,
    {
        let Own {
            items,
            mut prior,
            alone,
        } = own;
        // Made before any wait: a leader dropped while it gathers passes the lead on.
        let mut leading = Leading {
            queues: Arc::clone(&self.queues),
            key,
            followers: Vec::new(),
            computed: None,
            own: items.len(),
            finished: false,
        };
        let mut missed = false;
        if let Some(g) = gather
            && !alone
        {
            missed = self.gather(&leading.key, g).await;
        }
        if !alone {
            let mut queues = lock(&self.queues);
            let queue = queues.entry(leading.key.clone()).or_default();
            let mut total = items.len();
            while let Some(next) = queue.front() {
                if next.reply.is_closed() {
                    queue.pop_front();
                    continue;
                }
                if next.alone || total + next.items.len() > MAX_ITEMS {
                    break;
                }
                total += next.items.len();
                leading.followers.extend(queue.pop_front());
            }
        }
        if leading.followers.is_empty() {
            let total = items.len();
            let outs = step(items, Computed(None)).await?;
            if gather.is_some() {
                self.ended(&leading.key, 1, missed);
            }
            return answered(outs, total).map(|outs| reconcile(outs, prior.as_deref()));
        }
        // Kept for a re-run of the leader's own items alone, should the joint step fail.
        let mut batch = items.clone();
        for f in &leading.followers {
            batch.extend(f.items.iter().cloned());
        }
        leading.computed = Some(Arc::new(Mutex::new(None)));
        let total = batch.len();
        let result = step(batch, Computed(leading.computed.clone())).await;
        leading.finished = true;
        let mut outs = match result {
            Ok(outs) if outs.len() == total => outs,
            Ok(outs) => {
                // A bug, not an item that cannot be stored: a re-run would repeat it.
                let e = miscounted(outs.len(), total);
                leading.answer_all(&e);
                return Err(e);
            }
            Err(_) => {
                // Every caller runs alone now: the followers first in the queue, in their
                // order, the leader's own items here (it holds the key meanwhile).
                let computed = leading.take_computed();
                prior = merge(
                    computed.as_deref().and_then(|c| c.get(..leading.own)),
                    prior,
                );
                leading.requeue(computed.as_deref(), true);
                let total = items.len();
                let outs = step(items, Computed(None)).await?;
                return answered(outs, total).map(|outs| reconcile(outs, prior.as_deref()));
            }
        };
        if gather.is_some() {
            self.ended(&leading.key, 1 + leading.followers.len(), missed);
        }
        // Answer from the back so each caller's results split off the end.
        for f in leading.followers.drain(..).rev() {
            let mine = outs.split_off(outs.len() - f.items.len());
            // A follower gone after it was batched: its items are stored, nobody to tell.
            let _ = f
                .reply
                .send(Turn::Done(Ok(reconcile(mine, f.prior.as_deref()))));
        }
        Ok(reconcile(outs, prior.as_deref()))
    }
}

/// The step's results when there is one per item.
fn answered<O>(outs: Vec<O>, total: usize) -> Result<Vec<O>, StoreError> {
    if outs.len() == total {
        Ok(outs)
    } else {
        Err(miscounted(outs.len(), total))
    }
}

fn miscounted(got: usize, total: usize) -> StoreError {
    StoreError::Corrupt(format!(
        "an append step answered {got} results for {total} items"
    ))
}

/// What two abandoned or failed steps computed for the same items, as one: the later one's,
/// except where the earlier one stored what the later one found there.
fn merge<O: Outcome>(later: Option<&[O]>, earlier: Option<Vec<O>>) -> Option<Vec<O>> {
    match (later, earlier) {
        (Some(later), Some(earlier)) if later.len() == earlier.len() => Some(
            later
                .iter()
                .cloned()
                .zip(&earlier)
                .map(|(l, e)| l.after_abandoned(e))
                .collect(),
        ),
        (Some(later), _) => Some(later.to_vec()),
        (None, earlier) => earlier,
    }
}

fn reconcile<O: Outcome>(outs: Vec<O>, prior: Option<&[O]>) -> Vec<O> {
    match prior {
        Some(prior) if prior.len() == outs.len() => outs
            .into_iter()
            .zip(prior)
            .map(|(o, p)| o.after_abandoned(p))
            .collect(),
        _ => outs,
    }
}

/// A step in flight, with its followers; dropped, it hands the lead on (re-queueing the
/// followers first if the step did not finish).
struct Leading<K: Clone + Eq + Hash, T, O: Outcome> {
    queues: Arc<Queues<K, T, O>>,
    key: K,
    followers: Vec<Waiter<K, T, O>>,
    computed: Option<Arc<Mutex<Option<Vec<O>>>>>,
    /// How many of the batch's items are the leader's own (they come first).
    own: usize,
    finished: bool,
}

impl<K: Clone + Eq + Hash, T, O: Outcome> Leading<K, T, O> {
    fn answer_all(&mut self, e: &StoreError) {
        for f in self.followers.drain(..) {
            let _ = f.reply.send(Turn::Done(Err(e.clone())));
        }
    }

    /// What the step recorded before it ended, if it got that far.
    fn take_computed(&mut self) -> Option<Vec<O>> {
        self.computed.take().and_then(|c| lock(&c).take())
    }

    /// Puts the followers back at the head of the queue, in their order, each with what
    /// `computed` (the whole batch's, the leader's first) says the step did with its items.
    fn requeue(&mut self, computed: Option<&[O]>, alone: bool) {
        let mut followers = std::mem::take(&mut self.followers);
        let mut at = self.own;
        for f in &mut followers {
            let n = f.items.len();
            let mine = computed.and_then(|c| c.get(at..at + n));
            f.prior = merge(mine, f.prior.take());
            f.alone = alone;
            at += n;
        }
        let mut queues = lock(&self.queues);
        let queue = queues.entry(self.key.clone()).or_default();
        for f in followers.into_iter().rev() {
            queue.push_front(f);
        }
    }
}

impl<K: Clone + Eq + Hash, T, O: Outcome> Drop for Leading<K, T, O> {
    fn drop(&mut self) {
        if !self.finished && !self.followers.is_empty() {
            let computed = self.take_computed();
            self.requeue(computed.as_deref(), false);
        }
        pass_on(&self.queues, &self.key);
    }
}

/// The lead, sent to a queued caller; dropped unused (its caller gone), it passes on.
struct Lead<K: Clone + Eq + Hash, T, O: Clone> {
    queues: Arc<Queues<K, T, O>>,
    key: K,
    items: Option<Own<T, O>>,
}

impl<K: Clone + Eq + Hash, T, O: Clone> Lead<K, T, O> {
    fn take(&mut self) -> Own<T, O> {
        self.items.take().unwrap_or(Own {
            items: Vec::new(),
            prior: None,
            alone: false,
        })
    }
}

impl<K: Clone + Eq + Hash, T, O: Clone> Drop for Lead<K, T, O> {
    fn drop(&mut self) {
        if self.items.is_some() {
            pass_on(&self.queues, &self.key);
        }
    }
}

/// Makes the first live queued caller of `key` the leader, or forgets `key` when none is
/// left. Sends happen outside the lock: a lead dropped inside `send` passes on itself.
fn pass_on<K: Clone + Eq + Hash, T, O: Clone>(queues: &Arc<Queues<K, T, O>>, key: &K) {
    loop {
        let next = {
            let mut map = lock(queues);
            let Some(queue) = map.get_mut(key) else {
                return;
            };
            match queue.pop_front() {
                Some(w) => w,
                None => {
                    map.remove(key);
                    return;
                }
            }
        };
        if next.reply.is_closed() {
            continue;
        }
        let lead = Lead {
            queues: Arc::clone(queues),
            key: key.clone(),
            items: Some(Own {
                items: next.items,
                prior: next.prior,
                alone: next.alone,
            }),
        };
        match next.reply.send(Turn::Lead(lead)) {
            Ok(()) => return,
            Err(Turn::Lead(mut lead)) => {
                // Gone between the check and the send: defuse, try the next one.
                lead.items = None;
            }
            Err(Turn::Done(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use tokio::sync::Semaphore;

    /// A position in the fake log: stored there now, or found there from before.
    #[derive(Clone, Debug, PartialEq)]
    enum Out {
        Stored(usize),
        Dup(usize),
    }

    impl Outcome for Out {
        fn after_abandoned(self, earlier: &Self) -> Self {
            match (self, earlier) {
                (Out::Dup(at), Out::Stored(was)) if at == *was => Out::Stored(at),
                (now, _) => now,
            }
        }
    }

    /// A fake backend: items are stored once (a second copy is a duplicate), each step's
    /// batch is recorded, and steps wait for a permit when `gate` has none. Items 600–699
    /// cannot be stored (the step fails, storing nothing); a step with 777 that stores
    /// something commits and then fails (its answer lost with the connection).
    #[derive(Default)]
    struct Fake {
        log: Mutex<Vec<u32>>,
        batches: Mutex<Vec<Vec<u32>>>,
    }

    type G = Groups<&'static str, u32, Out>;

    async fn step(
        fake: &Fake,
        gate: &Semaphore,
        batch: Vec<u32>,
        computed: Computed<Out>,
    ) -> Result<Vec<Out>, StoreError> {
        lock(&fake.batches).push(batch.clone());
        if batch.iter().any(|i| (600..700).contains(i)) {
            return Err(StoreError::Backend("refused".into()));
        }
        let out: Vec<Out> = {
            let mut log = lock(&fake.log);
            batch
                .iter()
                .map(|i| match log.iter().position(|x| x == i) {
                    Some(at) => Out::Dup(at),
                    None => {
                        log.push(*i);
                        Out::Stored(log.len() - 1)
                    }
                })
                .collect()
        };
        computed.record(&out);
        if batch.contains(&777) && out.iter().any(|o| matches!(o, Out::Stored(_))) {
            return Err(StoreError::Backend("connection lost at COMMIT".into()));
        }
        // "Committed"; the answer waits for the gate.
        gate.acquire().await.unwrap().forget();
        Ok(out)
    }

    fn queued(g: &G, key: &str) -> usize {
        lock(&g.queues).get(key).map_or(0, VecDeque::len)
    }

    async fn until_queued(g: &G, key: &str, n: usize) {
        while queued(g, key) != n {
            tokio::task::yield_now().await;
        }
    }

    /// Waits until the fake store has seen `n` steps begin.
    async fn until_batches(w: &World, n: usize) {
        while lock(&w.fake.batches).len() < n {
            tokio::task::yield_now().await;
        }
    }

    struct World {
        g: G,
        fake: Fake,
        gate: Semaphore,
    }

    fn world() -> &'static World {
        Box::leak(Box::new(World {
            g: G::default(),
            fake: Fake::default(),
            gate: Semaphore::new(0),
        }))
    }

    fn spawn(
        w: &'static World,
        key: &'static str,
        items: Vec<u32>,
    ) -> tokio::task::JoinHandle<Result<Vec<Out>, StoreError>> {
        tokio::spawn(w.g.run(key, items, None, |b, c| step(&w.fake, &w.gate, b, c)))
    }

    const LONG: Gather = Gather {
        most: std::time::Duration::from_secs(3600),
        recent: std::time::Duration::from_secs(3600),
    };

    fn spawn_gathering(
        w: &'static World,
        items: Vec<u32>,
        gather: Gather,
    ) -> tokio::task::JoinHandle<Result<Vec<Out>, StoreError>> {
        tokio::spawn(w.g.run("t", items, Some(gather), |b, c| {
            step(&w.fake, &w.gate, b, c)
        }))
    }

    /// A step of item 1 with 2 and 3 queued behind it, then the gate opened for it alone:
    /// three callers were around it.
    async fn round_of_three(w: &'static World, gather: Gather) -> Vec<JoinHandle> {
        let first = spawn_gathering(w, vec![1], gather);
        until_batches(w, 1).await;
        let b = spawn_gathering(w, vec![2], gather);
        until_queued(&w.g, "t", 1).await;
        let c = spawn_gathering(w, vec![3], gather);
        until_queued(&w.g, "t", 2).await;
        w.gate.add_permits(1);
        assert_eq!(first.await.unwrap().unwrap(), [Out::Stored(0)]);
        vec![b, c]
    }

    type JoinHandle = tokio::task::JoinHandle<Result<Vec<Out>, StoreError>>;

    #[tokio::test]
    async fn a_busy_key_waits_for_the_callers_of_its_last_round() {
        let w = world();
        let mut handles = round_of_three(w, LONG).await;
        // 2 leads now, with 3 behind it: it waits for a third caller instead of starting.
        while w.g.gathering.load(Ordering::SeqCst) == 0 && batches(w).len() == 1 {
            tokio::task::yield_now().await;
        }
        assert_eq!(batches(w).len(), 1, "started without waiting");
        handles.push(spawn_gathering(w, vec![4], LONG));
        w.gate.add_permits(1);
        for h in handles {
            h.await.unwrap().unwrap();
        }
        assert_eq!(batches(w), [vec![1], vec![2, 3, 4]]);
    }

    #[tokio::test]
    async fn a_leader_gone_while_it_gathers_passes_the_lead_on() {
        let w = world();
        let mut handles = round_of_three(w, LONG).await;
        while w.g.gathering.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // 2 is gathering; its caller goes away. 3 leads and gathers in turn.
        let gone = handles.remove(0);
        gone.abort();
        assert!(gone.await.unwrap_err().is_cancelled());
        handles.push(spawn_gathering(w, vec![4], LONG));
        handles.push(spawn_gathering(w, vec![5], LONG));
        w.gate.add_permits(1);
        for h in handles {
            let out = tokio::time::timeout(std::time::Duration::from_secs(10), h).await;
            out.expect("the key was left without a leader")
                .unwrap()
                .unwrap();
        }
        assert_eq!(batches(w), [vec![1], vec![3, 4, 5]]);
        assert!(lock(&w.g.queues).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_gathering_step_goes_on_without_callers_that_do_not_come() {
        let w = world();
        let short = Gather {
            most: std::time::Duration::from_millis(5),
            recent: std::time::Duration::from_secs(3600),
        };
        let handles = round_of_three(w, short).await;
        w.gate.add_permits(1);
        for h in handles {
            h.await.unwrap().unwrap();
        }
        assert_eq!(batches(w), [vec![1], vec![2, 3]]);
        // That step waited in vain, so the next one starts at once.
        w.gate.add_permits(1);
        let started = Instant::now();
        let next = w.g.run("t", vec![9], Some(short), |b, c| {
            step(&w.fake, &w.gate, b, c)
        });
        assert_eq!(next.await.unwrap(), [Out::Stored(3)]);
        assert_eq!(started.elapsed(), std::time::Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_or_lone_key_does_not_wait() {
        let w = world();
        w.gate.add_permits(2);
        let started = Instant::now();
        // No step before it: nothing to wait for.
        let one = w.g.run("t", vec![1], Some(LONG), |b, c| {
            step(&w.fake, &w.gate, b, c)
        });
        assert_eq!(one.await.unwrap(), [Out::Stored(0)]);
        // Its last step had one caller around: still nothing to wait for.
        let two = w.g.run("t", vec![2], Some(LONG), |b, c| {
            step(&w.fake, &w.gate, b, c)
        });
        assert_eq!(two.await.unwrap(), [Out::Stored(1)]);
        assert_eq!(started.elapsed(), std::time::Duration::ZERO);
    }

    #[tokio::test]
    async fn nothing_in_flight_runs_at_once_alone() {
        let w = world();
        w.gate.add_permits(1);
        let out =
            w.g.run("t", vec![1, 2, 1], None, |b, c| {
                step(&w.fake, &w.gate, b, c)
            })
            .await
            .unwrap();
        assert_eq!(out, [Out::Stored(0), Out::Stored(1), Out::Dup(0)]);
        assert_eq!(queued(&w.g, "t"), 0);
        assert!(lock(&w.g.queues).is_empty(), "an idle key is forgotten");
    }

    #[tokio::test]
    async fn queued_callers_share_the_next_step_bounded_each_told_its_own() {
        let w = world();
        let first = spawn(w, "t", vec![1]);
        until_queued(&w.g, "t", 0).await;
        until_batches(w, 1).await;
        let big: Vec<u32> = (1000..1300).collect();
        let a = spawn(w, "t", vec![2, 3]);
        until_queued(&w.g, "t", 1).await;
        let b = spawn(w, "t", vec![4, 2]);
        until_queued(&w.g, "t", 2).await;
        let c = spawn(w, "t", big.clone());
        until_queued(&w.g, "t", 3).await;
        let d = spawn(w, "t", vec![5]);
        until_queued(&w.g, "t", 4).await;
        // Another tenant is not held up by this one's step.
        let open: &'static Semaphore = Box::leak(Box::new(Semaphore::new(1)));
        let u =
            w.g.run("u", vec![9], None, |b, c| step(&w.fake, open, b, c));
        assert_eq!(u.await.unwrap(), [Out::Stored(1)]);
        w.gate.add_permits(10);
        assert_eq!(first.await.unwrap().unwrap(), [Out::Stored(0)]);
        assert_eq!(a.await.unwrap().unwrap(), [Out::Stored(2), Out::Stored(3)]);
        // The second copy of 2 in the same step is a duplicate of the first.
        assert_eq!(b.await.unwrap().unwrap(), [Out::Stored(4), Out::Dup(2)]);
        let c = c.await.unwrap().unwrap();
        assert_eq!(c.len(), 300);
        assert_eq!(c[0], Out::Stored(5));
        assert_eq!(d.await.unwrap().unwrap(), [Out::Stored(305)]);
        let sizes: Vec<usize> = lock(&w.fake.batches).iter().map(Vec::len).collect();
        // first; u's; a + b; c alone (over the bound with anyone); d.
        assert_eq!(sizes, [1, 1, 4, 300, 1]);
        assert!(lock(&w.g.queues).is_empty());
    }

    /// Runs a step of item 1 up to its gate, queues `callers` behind it in order, then
    /// opens the gate for `permits` steps; each caller's answer.
    async fn behind_one_step(
        w: &'static World,
        callers: &[Vec<u32>],
        permits: usize,
    ) -> Vec<Result<Vec<Out>, StoreError>> {
        let first = spawn(w, "t", vec![1]);
        until_batches(w, 1).await;
        let mut handles = Vec::new();
        for (n, items) in callers.iter().enumerate() {
            handles.push(spawn(w, "t", items.clone()));
            until_queued(&w.g, "t", n + 1).await;
        }
        w.gate.add_permits(permits);
        first.await.unwrap().unwrap();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    }

    fn batches(w: &World) -> Vec<Vec<u32>> {
        lock(&w.fake.batches).clone()
    }

    #[tokio::test]
    async fn a_failed_joint_step_fails_only_the_caller_that_cannot_be_stored() {
        let w = world();
        let out = behind_one_step(w, &[vec![2], vec![666], vec![3, 2]], 3).await;
        assert_eq!(out[0].as_ref().unwrap(), &[Out::Stored(1)]);
        assert!(out[1].is_err());
        assert_eq!(out[2].as_ref().unwrap(), &[Out::Stored(2), Out::Dup(1)]);
        // The joint step, then each caller alone: the leader's own, the followers in order.
        assert_eq!(
            batches(w),
            [vec![1], vec![2, 666, 3, 2], vec![2], vec![666], vec![3, 2]]
        );
        assert!(lock(&w.g.queues).is_empty());
        // Nothing stays alone: the next callers are joined again.
        let out = behind_one_step(w, &[vec![4], vec![5]], 2).await;
        assert_eq!(out[0].as_ref().unwrap(), &[Out::Stored(3)]);
        assert_eq!(out[1].as_ref().unwrap(), &[Out::Stored(4)]);
        assert_eq!(batches(w)[5..], [vec![1], vec![4, 5]]);
    }

    #[tokio::test]
    async fn a_leader_that_cannot_be_stored_fails_alone() {
        let w = world();
        let out = behind_one_step(w, &[vec![601], vec![2]], 2).await;
        assert!(out[0].is_err());
        assert_eq!(out[1].as_ref().unwrap(), &[Out::Stored(1)]);
        assert_eq!(batches(w), [vec![1], vec![601, 2], vec![601], vec![2]]);
    }

    #[tokio::test]
    async fn when_nothing_can_be_stored_each_caller_is_tried_twice_at_most() {
        let w = world();
        let out = behind_one_step(w, &[vec![601], vec![602], vec![603]], 1).await;
        assert!(out.iter().all(Result::is_err), "{out:?}");
        assert_eq!(
            batches(w),
            [
                vec![1],
                vec![601, 602, 603],
                vec![601],
                vec![602],
                vec![603]
            ]
        );
    }

    #[tokio::test]
    async fn a_joint_step_that_failed_after_committing_reports_its_items_stored_once() {
        let w = world();
        // The joint step stores 2, 777 and 3, then its answer is lost; each caller alone
        // finds its items where that step put them, which only that step can have done.
        let out = behind_one_step(w, &[vec![2], vec![777], vec![3, 1]], 4).await;
        assert_eq!(out[0].as_ref().unwrap(), &[Out::Stored(1)]);
        assert_eq!(out[1].as_ref().unwrap(), &[Out::Stored(2)]);
        assert_eq!(out[2].as_ref().unwrap(), &[Out::Stored(3), Out::Dup(0)]);
        assert_eq!(*lock(&w.fake.log), [1, 2, 777, 3]);
    }

    #[tokio::test]
    async fn a_queued_caller_gone_is_skipped() {
        let w = world();
        let first = spawn(w, "t", vec![1]);
        until_batches(w, 1).await;
        let gone = spawn(w, "t", vec![7]);
        until_queued(&w.g, "t", 1).await;
        let b = spawn(w, "t", vec![2]);
        until_queued(&w.g, "t", 2).await;
        gone.abort();
        assert!(gone.await.unwrap_err().is_cancelled());
        w.gate.add_permits(2);
        first.await.unwrap().unwrap();
        assert_eq!(b.await.unwrap().unwrap(), [Out::Stored(1)]);
        assert_eq!(*lock(&w.fake.log), [1, 2]);
    }

    #[tokio::test]
    async fn a_leader_gone_mid_step_leaves_its_followers_stored_once_and_told_so() {
        let w = world();
        let first = spawn(w, "t", vec![1]);
        until_batches(w, 1).await;
        let leader = spawn(w, "t", vec![2]);
        until_queued(&w.g, "t", 1).await;
        let follower = spawn(w, "t", vec![3, 1]);
        until_queued(&w.g, "t", 2).await;
        w.gate.add_permits(1);
        first.await.unwrap().unwrap();
        // The leader's step (2, 3, 1) has "committed" and waits for its answer; cancel it.
        until_batches(w, 2).await;
        leader.abort();
        assert!(leader.await.unwrap_err().is_cancelled());
        w.gate.add_permits(1);
        // Re-run: 3 is found where the abandoned step put it, so it is still "stored"; 1 was
        // a duplicate all along.
        assert_eq!(
            follower.await.unwrap().unwrap(),
            [Out::Stored(2), Out::Dup(0)]
        );
        assert_eq!(*lock(&w.fake.log), [1, 2, 3]);
        assert!(lock(&w.g.queues).is_empty());
    }

    #[tokio::test]
    async fn a_follower_abandoned_twice_is_still_told_what_the_first_step_stored() {
        let w = world();
        let first = spawn(w, "t", vec![1]);
        until_batches(w, 1).await;
        let leader = spawn(w, "t", vec![2]);
        until_queued(&w.g, "t", 1).await;
        let second = spawn(w, "t", vec![4]);
        until_queued(&w.g, "t", 2).await;
        let follower = spawn(w, "t", vec![3]);
        until_queued(&w.g, "t", 3).await;
        w.gate.add_permits(1);
        first.await.unwrap().unwrap();
        // (2, 4, 3) "committed"; its leader goes away.
        until_batches(w, 2).await;
        leader.abort();
        assert!(leader.await.unwrap_err().is_cancelled());
        // (4, 3) finds both where the first step put them; its leader goes away too.
        while lock(&w.fake.batches).len() < 3 {
            tokio::task::yield_now().await;
        }
        second.abort();
        assert!(second.await.unwrap_err().is_cancelled());
        w.gate.add_permits(1);
        assert_eq!(follower.await.unwrap().unwrap(), [Out::Stored(3)]);
        assert_eq!(batches(w), [vec![1], vec![2, 4, 3], vec![4, 3], vec![3]]);
        assert!(lock(&w.g.queues).is_empty());
    }

    #[tokio::test]
    async fn a_lead_dropped_unused_passes_on() {
        let g = G::default();
        let (tx1, rx1) = oneshot::channel();
        let (tx2, rx2) = oneshot::channel();
        lock(&g.queues).insert(
            "t",
            VecDeque::from([
                Waiter {
                    items: vec![1],
                    prior: None,
                    alone: false,
                    reply: tx1,
                },
                Waiter {
                    items: vec![2],
                    prior: None,
                    alone: false,
                    reply: tx2,
                },
            ]),
        );
        pass_on(&g.queues, &"t");
        // The first is told to lead but is gone before it starts.
        drop(rx1);
        let Ok(Turn::Lead(mut lead)) = rx2.await else {
            panic!("the second caller was not told to lead");
        };
        assert_eq!(lead.take().items, [2]);
        // Taken, it is the new leader's to pass on when its step ends.
        drop(lead);
        assert_eq!(queued(&g, "t"), 0);
        assert!(lock(&g.queues).contains_key("t"));
    }
}
