//! The durable outbox: commands the agent gave that the relay has not answered yet, and
//! the answers it gave.
//!
//! A command is on disk (inserted and flushed) before [`Outbox::push`] returns, with a fresh
//! [`CommandKey`]; the engine sends it after every (re)connect, with the same key, until an
//! answer arrives, and the relay's idempotency makes the repeats harmless. Recording an
//! answer removes the command and stores the answer in one transaction, so a command is
//! always either pending or answered, never both or neither.
//!
//! Trees: `outbox` holds `q` + order (big-endian) → [`PendingCommand`] and `k` + key →
//! order, so the queue reads in creation order and an answer finds its command by key;
//! `answers` holds key → [`AnsweredCommand`]. This module does not send anything.

use protocol::codec;
use protocol::{Answer, CodecError, Command, CommandKey, Millis};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::{Transactional, Tree};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

const QUEUE: u8 = b'q';
const KEY_INDEX: u8 = b'k';

/// Why the outbox could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox storage failed: {0}")]
    Storage(#[from] sled::Error),
    #[error("outbox holds an undecodable value: {0}")]
    Codec(#[from] CodecError),
    #[error("outbox holds a malformed {what}")]
    Corrupt { what: &'static str },
}

/// A command waiting for its answer; the desk shows it as pending.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PendingCommand {
    pub key: CommandKey,
    pub command: Command,
    pub created_at: Millis,
    /// Position in the queue (from 1); the engine remembers how far it has sent.
    pub(crate) order: u64,
}

/// A command and the relay's answer to it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AnsweredCommand {
    pub key: CommandKey,
    pub command: Command,
    pub created_at: Millis,
    pub answer: Answer,
    pub answered_at: Millis,
}

/// The outbox of one replica. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    db: sled::Db,
    queue: Tree,
    answers: Tree,
    /// Held from taking a queue position to writing it, so positions become visible in
    /// order: the engine remembers the last position it sent and must not skip one that a
    /// concurrent `push` wrote late.
    order: Arc<Mutex<()>>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

impl Outbox {
    pub(crate) fn open(db: &sled::Db) -> Result<Self, sled::Error> {
        Ok(Self {
            db: db.clone(),
            queue: db.open_tree("outbox")?,
            answers: db.open_tree("answers")?,
            order: Arc::new(Mutex::new(())),
        })
    }

    /// Drops every queued command and stored answer (the tenant was deleted).
    ///
    /// # Errors
    /// sled failed.
    pub(crate) fn clear(&self) -> Result<(), sled::Error> {
        let _order = self
            .order
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.queue.clear()?;
        self.answers.clear()
    }

    /// Queues a command under a fresh key and makes it durable before returning.
    ///
    /// This blocks on an fsync; async callers use [`crate::SyncHandle::submit`].
    ///
    /// # Errors
    /// Storage failure; the command is then not queued.
    pub fn push(&self, command: Command) -> Result<PendingCommand, OutboxError> {
        let now = now();
        let pending = {
            // The lock guards no data, so a panic elsewhere cannot leave anything half done.
            let _order = self.order.lock().unwrap_or_else(PoisonError::into_inner);
            let pending = PendingCommand {
                key: new_key(now),
                command,
                created_at: now,
                // Position 0 stands for "nothing sent yet" in the engine.
                order: self.db.generate_id()?.saturating_add(1),
            };
            let mut batch = sled::Batch::default();
            batch.insert(queue_key(pending.order), codec::encode_binary(&pending)?);
            batch.insert(index_key(&pending.key), &pending.order.to_be_bytes()[..]);
            self.queue.apply_batch(batch)?;
            pending
        };
        self.db.flush()?;
        Ok(pending)
    }

    /// Every command without an answer, oldest first.
    ///
    /// # Errors
    /// Storage failure or an undecodable entry.
    pub fn pending(&self) -> Result<Vec<PendingCommand>, OutboxError> {
        self.pending_after(0)
    }

    /// Pending commands queued after position `order`, oldest first.
    pub(crate) fn pending_after(&self, order: u64) -> Result<Vec<PendingCommand>, OutboxError> {
        let Some(first) = order.checked_add(1) else {
            return Ok(Vec::new());
        };
        // The queue's key space ends where the next prefix byte begins.
        self.queue
            .range(queue_key(first)..vec![QUEUE + 1])
            .values()
            .map(|bytes| Ok(codec::decode_binary(&bytes?)?))
            .collect()
    }

    /// The answer to one command, if it came.
    ///
    /// # Errors
    /// Storage failure or an undecodable entry.
    pub fn answer(&self, key: &CommandKey) -> Result<Option<AnsweredCommand>, OutboxError> {
        match self.answers.get(key.as_str())? {
            Some(bytes) => Ok(Some(codec::decode_binary(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Every answered command, oldest first (keys begin with their creation time).
    ///
    /// # Errors
    /// Storage failure or an undecodable entry.
    pub fn answers(&self) -> Result<Vec<AnsweredCommand>, OutboxError> {
        self.answers
            .iter()
            .values()
            .map(|bytes| Ok(codec::decode_binary(&bytes?)?))
            .collect()
    }

    /// Records the relay's answer: the command leaves the queue and the answer is stored,
    /// in one transaction. Returns `false` (and changes nothing) when the key is not
    /// pending, i.e. the answer was recorded before or the key is not this desk's.
    ///
    /// Not flushed: if it is lost in a crash the command is simply replayed, and the relay
    /// answers the same again.
    ///
    /// # Errors
    /// Storage failure or an undecodable entry.
    pub fn record_answer(&self, key: &CommandKey, answer: &Answer) -> Result<bool, OutboxError> {
        let abort = ConflictableTransactionError::Abort;
        let answered_at = now();
        let outcome = (&self.queue, &self.answers).transaction(|(queue, answers)| {
            let index = index_key(key);
            let Some(order) = queue.get(&index)? else {
                return Ok(false);
            };
            let order: [u8; 8] = order
                .as_ref()
                .try_into()
                .map_err(|_| abort(OutboxError::Corrupt { what: "key index" }))?;
            let slot = queue_key(u64::from_be_bytes(order));
            let Some(bytes) = queue.get(&slot)? else {
                return Err(abort(OutboxError::Corrupt {
                    what: "queue entry",
                }));
            };
            let pending: PendingCommand =
                codec::decode_binary(&bytes).map_err(|e| abort(OutboxError::Codec(e)))?;
            let answered = AnsweredCommand {
                key: pending.key,
                command: pending.command,
                created_at: pending.created_at,
                answer: answer.clone(),
                answered_at,
            };
            let encoded =
                codec::encode_binary(&answered).map_err(|e| abort(OutboxError::Codec(e)))?;
            queue.remove(index)?;
            queue.remove(slot)?;
            answers.insert(key.as_str(), encoded)?;
            Ok(true)
        });
        outcome.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => OutboxError::Storage(e),
        })
    }
}

fn queue_key(order: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(QUEUE);
    key.extend_from_slice(&order.to_be_bytes());
    key
}

fn index_key(key: &CommandKey) -> Vec<u8> {
    let mut index = Vec::with_capacity(1 + key.as_str().len());
    index.push(KEY_INDEX);
    index.extend_from_slice(key.as_str().as_bytes());
    index
}

/// `c-<unix ms, 13 digits>-<16 random alphanumerics>`: printable, 32 bytes, and sorting
/// by key sorts by creation time; the random part makes collisions between desks and
/// restarts practically impossible.
fn new_key(now: Millis) -> CommandKey {
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    CommandKey::new(format!("c-{:013}-{random}", now.0.max(0)))
}

fn now() -> Millis {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Millis(ms)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::replica::Replica;
    use protocol::{Rejection, Seq, ThreadId};

    fn claim(thread: &str) -> Command {
        Command::Claim {
            thread: ThreadId::new(thread),
        }
    }

    fn keys(pending: &[PendingCommand]) -> Vec<CommandKey> {
        pending.iter().map(|p| p.key.clone()).collect()
    }

    #[test]
    fn keys_are_valid_unique_and_ordered_by_time() {
        let a = new_key(Millis(1_700_000_000_000));
        let b = new_key(Millis(1_700_000_000_000));
        let later = new_key(Millis(1_700_000_000_001));
        for key in [&a, &b, &later] {
            assert!(key.is_valid(), "{key}");
            assert_eq!(key.as_str().len(), 32);
            assert!(key.as_str().starts_with("c-1700000000"));
        }
        assert_ne!(a, b);
        assert!(a < later && b < later);
    }

    #[test]
    fn pending_commands_survive_reopen_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let pushed: Vec<PendingCommand> = {
            let replica = Replica::open_dir(dir.path()).unwrap();
            let outbox = replica.outbox();
            (0..5)
                .map(|i| outbox.push(claim(&format!("th-{i}"))).unwrap())
                .collect()
            // No explicit flush here: `push` itself must have made them durable.
        };
        let replica = Replica::open_dir(dir.path()).unwrap();
        let pending = replica.outbox().pending().unwrap();
        assert_eq!(pending, pushed);
        let threads: Vec<String> = pending
            .iter()
            .map(|p| p.command.thread().to_string())
            .collect();
        assert_eq!(threads, ["th-0", "th-1", "th-2", "th-3", "th-4"]);
        assert_eq!(
            keys(&replica.outbox().pending_after(pushed[2].order).unwrap()),
            keys(&pushed[3..])
        );
        // Keys made after a restart still sort after the ones made before it.
        let after_restart = replica.outbox().push(claim("th-5")).unwrap();
        assert!(after_restart.order > pushed[4].order);
        assert_eq!(replica.outbox().pending().unwrap().len(), 6);
    }

    #[test]
    fn an_answer_moves_the_command_out_of_the_queue_once() {
        let dir = tempfile::tempdir().unwrap();
        let replica = Replica::open_dir(dir.path()).unwrap();
        let outbox = replica.outbox();
        let first = outbox.push(claim("th-1")).unwrap();
        let second = outbox.push(claim("th-2")).unwrap();
        let applied = Answer::Applied { seq: Seq(7) };

        assert!(outbox.record_answer(&first.key, &applied).unwrap());
        assert_eq!(
            keys(&outbox.pending().unwrap()),
            std::slice::from_ref(&second.key)
        );
        let answered = outbox.answer(&first.key).unwrap().unwrap();
        assert_eq!(answered.command, first.command);
        assert_eq!(answered.answer, applied);

        // A repeated answer (the relay replays the first) changes nothing.
        let other = Answer::Rejected {
            rejection: Rejection::NoCredits,
        };
        assert!(!outbox.record_answer(&first.key, &other).unwrap());
        assert_eq!(outbox.answer(&first.key).unwrap().unwrap().answer, applied);
        // An answer for a key this desk never made is ignored.
        assert!(
            !outbox
                .record_answer(&CommandKey::new("c-unknown"), &applied)
                .unwrap()
        );

        assert!(outbox.record_answer(&second.key, &other).unwrap());
        assert!(outbox.pending().unwrap().is_empty());
        // Both answered; keys made in the same millisecond order by their random part, so
        // the answers' order is not asserted.
        let mut all: Vec<String> = outbox
            .answers()
            .unwrap()
            .into_iter()
            .map(|a| a.key.to_string())
            .collect();
        all.sort();
        let mut expected = vec![first.key.to_string(), second.key.to_string()];
        expected.sort();
        assert_eq!(all, expected);
    }

    #[test]
    fn answers_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let key = {
            let replica = Replica::open_dir(dir.path()).unwrap();
            let pending = replica.outbox().push(claim("th-1")).unwrap();
            replica
                .outbox()
                .record_answer(&pending.key, &Answer::Applied { seq: Seq(1) })
                .unwrap();
            replica.flush().unwrap();
            pending.key
        };
        let replica = Replica::open_dir(dir.path()).unwrap();
        assert!(replica.outbox().pending().unwrap().is_empty());
        assert!(replica.outbox().answer(&key).unwrap().is_some());
    }
}
