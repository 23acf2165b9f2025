//! Per-tenant group append: concurrent appends of one tenant joined into one step.
//!
//! Every step of a tenant holds the tenant's lock until its commit is durable, so without
//! this one tenant commits one webhook per flush however many arrive together. While one
//! append step of a key (backend, tenant) is in flight, later appends of that key queue;
//! when it ends, the first queued caller leads the next step with the queued callers' items
//! concatenated (at most [`MAX_ITEMS`], but never fewer than one caller's), and each caller
//! gets exactly its own results, or the step's error. There is no timer and nothing waits
//! when nothing is in flight: a batch is whatever queued during the step before it.
//!
//! Callers that go away (a dropped HTTP request) never strand the others:
//! - a queued caller that is gone is skipped, its items are not stored;
//! - a caller told to lead that is gone before it starts hands the lead on;
//! - a leader that is gone mid-step puts its followers back at the head of the queue and
//!   hands the lead on. The abandoned step may have committed, so what it computed for them
//!   is kept and the re-run reconciles with it ([`Outcome::after_abandoned`]): a retried
//!   item its own abandoned step stored is still reported as stored, not as a duplicate.

use super::StoreError;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;

/// The most items one step takes from several callers (a single caller's are never split).
pub const MAX_ITEMS: usize = 256;

/// A per-item result that can be reconciled with what an abandoned step computed for it.
pub trait Outcome: Clone {
    /// `self`, from a re-run, given `earlier`, what an abandoned (maybe committed) step
    /// computed for the same item.
    #[must_use]
    fn after_abandoned(self, earlier: &Self) -> Self;
}

/// What a step computed, recorded by the step before it commits; kept only while the step
/// has followers that would be re-run if it were abandoned.
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
    /// What an abandoned step computed for these items.
    prior: Option<Vec<O>>,
    reply: Reply<K, T, O>,
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
}

impl<K: Clone + Eq + Hash, T, O: Clone> Default for Groups<K, T, O> {
    fn default() -> Self {
        Groups {
            queues: Arc::new(Mutex::new(HashMap::new())),
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
    /// The step's error, for every caller of that step.
    pub async fn run<F, Fut>(&self, key: K, items: Vec<T>, step: F) -> Result<Vec<O>, StoreError>
    where
        F: FnOnce(Vec<T>, Computed<O>) -> Fut,
        Fut: Future<Output = Result<Vec<O>, StoreError>>,
    {
        let queued = {
            let mut queues = lock(&self.queues);
            if let Some(queue) = queues.get_mut(&key) {
                let (reply, turn) = oneshot::channel();
                queue.push_back(Waiter {
                    items,
                    prior: None,
                    reply,
                });
                Err(turn)
            } else {
                queues.insert(key.clone(), VecDeque::new());
                Ok(items)
            }
        };
        let (items, prior) = match queued {
            Ok(items) => (items, None),
            Err(turn) => match turn.await {
                Ok(Turn::Done(result)) => return result,
                Ok(Turn::Lead(mut lead)) => lead.take(),
                // Senders are dropped unsent only for callers already gone.
                Err(_) => return Err(StoreError::Backend("an append step was lost".into())),
            },
        };
        self.lead(key, items, prior, step).await
    }

    async fn lead<F, Fut>(
        &self,
        key: K,
        items: Vec<T>,
        prior: Option<Vec<O>>,
        step: F,
    ) -> Result<Vec<O>, StoreError>
    where
        F: FnOnce(Vec<T>, Computed<O>) -> Fut,
        Fut: Future<Output = Result<Vec<O>, StoreError>>,
    {
        let mut leading = Leading {
            queues: Arc::clone(&self.queues),
            key,
            followers: Vec::new(),
            computed: None,
            own: items.len(),
            finished: false,
        };
        {
            let mut queues = lock(&self.queues);
            let queue = queues.entry(leading.key.clone()).or_default();
            let mut total = items.len();
            while let Some(next) = queue.front() {
                if next.reply.is_closed() {
                    queue.pop_front();
                    continue;
                }
                if total + next.items.len() > MAX_ITEMS {
                    break;
                }
                total += next.items.len();
                leading.followers.extend(queue.pop_front());
            }
        }
        let mut batch = items;
        if !leading.followers.is_empty() {
            for f in &leading.followers {
                batch.extend(f.items.iter().cloned());
            }
            leading.computed = Some(Arc::new(Mutex::new(None)));
        }
        let total = batch.len();
        let result = step(batch, Computed(leading.computed.clone())).await;
        leading.finished = true;
        let mut outs = match result {
            Ok(outs) if outs.len() == total => outs,
            Ok(outs) => {
                let e = StoreError::Corrupt(format!(
                    "an append step answered {} results for {total} items",
                    outs.len()
                ));
                leading.answer_all(&e);
                return Err(e);
            }
            Err(e) => {
                leading.answer_all(&e);
                return Err(e);
            }
        };
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
struct Leading<K: Clone + Eq + Hash, T, O: Clone> {
    queues: Arc<Queues<K, T, O>>,
    key: K,
    followers: Vec<Waiter<K, T, O>>,
    computed: Option<Arc<Mutex<Option<Vec<O>>>>>,
    /// How many of the batch's items are the leader's own (they come first).
    own: usize,
    finished: bool,
}

impl<K: Clone + Eq + Hash, T, O: Clone> Leading<K, T, O> {
    fn answer_all(&mut self, e: &StoreError) {
        for f in self.followers.drain(..) {
            let _ = f.reply.send(Turn::Done(Err(e.clone())));
        }
    }
}

impl<K: Clone + Eq + Hash, T, O: Clone> Drop for Leading<K, T, O> {
    fn drop(&mut self) {
        if !self.finished && !self.followers.is_empty() {
            let computed = self.computed.as_ref().and_then(|c| lock(c).take());
            let mut followers = std::mem::take(&mut self.followers);
            if let Some(computed) = computed {
                let mut at = self.own;
                for f in &mut followers {
                    let n = f.items.len();
                    let Some(mine) = computed.get(at..at + n) else {
                        break;
                    };
                    f.prior = Some(mine.to_vec());
                    at += n;
                }
            }
            let mut queues = lock(&self.queues);
            let queue = queues.entry(self.key.clone()).or_default();
            // Back at the head, in their order.
            for f in followers.into_iter().rev() {
                queue.push_front(f);
            }
        }
        pass_on(&self.queues, &self.key);
    }
}

/// The lead, sent to a queued caller; dropped unused (its caller gone), it passes on.
struct Lead<K: Clone + Eq + Hash, T, O: Clone> {
    queues: Arc<Queues<K, T, O>>,
    key: K,
    items: Option<(Vec<T>, Option<Vec<O>>)>,
}

impl<K: Clone + Eq + Hash, T, O: Clone> Lead<K, T, O> {
    fn take(&mut self) -> (Vec<T>, Option<Vec<O>>) {
        self.items.take().unwrap_or_default()
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
            items: Some((next.items, next.prior)),
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
    /// batch is recorded, and steps wait for a permit when `gate` has none.
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
        if batch.contains(&666) {
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
        tokio::spawn(w.g.run(key, items, |b, c| step(&w.fake, &w.gate, b, c)))
    }

    #[tokio::test]
    async fn nothing_in_flight_runs_at_once_alone() {
        let w = world();
        w.gate.add_permits(1);
        let out =
            w.g.run("t", vec![1, 2, 1], |b, c| step(&w.fake, &w.gate, b, c))
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
        while lock(&w.fake.batches).is_empty() {
            tokio::task::yield_now().await;
        }
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
        let u = w.g.run("u", vec![9], |b, c| step(&w.fake, open, b, c));
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

    #[tokio::test]
    async fn a_step_error_answers_its_callers_only() {
        let w = world();
        let first = spawn(w, "t", vec![1]);
        while lock(&w.fake.batches).is_empty() {
            tokio::task::yield_now().await;
        }
        let a = spawn(w, "t", vec![666]);
        until_queued(&w.g, "t", 1).await;
        let b = spawn(w, "t", vec![2]);
        until_queued(&w.g, "t", 2).await;
        w.gate.add_permits(1);
        first.await.unwrap().unwrap();
        assert!(a.await.unwrap().is_err());
        assert!(b.await.unwrap().is_err());
        w.gate.add_permits(1);
        let after = spawn(w, "t", vec![2]).await.unwrap().unwrap();
        assert_eq!(after, [Out::Stored(1)]);
    }

    #[tokio::test]
    async fn a_queued_caller_gone_is_skipped() {
        let w = world();
        let first = spawn(w, "t", vec![1]);
        while lock(&w.fake.batches).is_empty() {
            tokio::task::yield_now().await;
        }
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
        while lock(&w.fake.batches).is_empty() {
            tokio::task::yield_now().await;
        }
        let leader = spawn(w, "t", vec![2]);
        until_queued(&w.g, "t", 1).await;
        let follower = spawn(w, "t", vec![3, 1]);
        until_queued(&w.g, "t", 2).await;
        w.gate.add_permits(1);
        first.await.unwrap().unwrap();
        // The leader's step (2, 3, 1) has "committed" and waits for its answer; cancel it.
        while lock(&w.fake.batches).len() < 2 {
            tokio::task::yield_now().await;
        }
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
                    reply: tx1,
                },
                Waiter {
                    items: vec![2],
                    prior: None,
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
        assert_eq!(lead.take().0, [2]);
        // Taken, it is the new leader's to pass on when its step ends.
        drop(lead);
        assert_eq!(queued(&g, "t"), 0);
        assert!(lock(&g.queues).contains_key("t"));
    }
}
