//! The write-ahead log that makes sled writes durable without flushing sled.
//!
//! Flushing sled 0.34 per group commit costs most of a core: every flush spawns work on
//! sled's IO pool, whose queue wakes all of its threads. So durability comes from here
//! instead: every sled write is first appended to a segment file of this log (one `write`
//! while the caller holds its tenant lock, so the log's order is each tenant's order), the
//! group committer `fdatasync`s the current segment, and sled itself is flushed only at
//! checkpoints, after which older segments are deleted. On open, the segments left behind
//! are replayed into sled in order; records hold absolute key values, so replaying one that
//! sled already holds changes nothing.
//!
//! A record is `len u32 LE | crc32 u32 LE | ops`, each op `tree u8 | kind u8 | key len u32 |
//! key | value len u32 | value` (kind 1 = insert, 0 = remove, which has no value). A torn
//! or mismatching record can only be the unacknowledged tail of the newest segment: older
//! segments are synced before the next one starts, so damage there is reported, not skipped.
//!
//! Segments are zero-filled ahead of the writes, a chunk at a time, and records are written
//! in place: an `fdatasync` that changes the file's size must also write the inode (on this
//! machine's ext4 that is a second, serial disk write), so only the rare chunk extension
//! pays it. A zero length therefore ends a segment's records.

use super::StoreError;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};

/// Which sled tree an op belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tree {
    Registry = 0,
    Data = 1,
}

/// One key's new value (`None` removes it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub tree: Tree,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// The writes of one atomic step, logged as one record.
#[derive(Default, Debug)]
pub struct Writes {
    pub ops: Vec<Op>,
}

impl Writes {
    pub fn insert(&mut self, tree: Tree, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(Op {
            tree,
            key: key.into(),
            value: Some(value.into()),
        });
    }

    pub fn remove(&mut self, tree: Tree, key: impl Into<Vec<u8>>) {
        self.ops.push(Op {
            tree,
            key: key.into(),
            value: None,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        let body_len: usize = self
            .ops
            .iter()
            .map(|op| 10 + op.key.len() + op.value.as_ref().map_or(0, |v| 4 + v.len()))
            .sum();
        let mut out = Vec::with_capacity(8 + body_len);
        out.extend_from_slice(&[0; 8]);
        for op in &self.ops {
            out.push(op.tree as u8);
            out.push(u8::from(op.value.is_some()));
            put_bytes(&mut out, &op.key)?;
            if let Some(v) = &op.value {
                put_bytes(&mut out, v)?;
            }
        }
        let len = u32::try_from(out.len() - 8).map_err(|_| too_big())?;
        let crc = crc32fast::hash(&out[8..]);
        out[..4].copy_from_slice(&len.to_le_bytes());
        out[4..8].copy_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    fn decode(mut body: &[u8]) -> Option<Writes> {
        let mut ops = Vec::new();
        while !body.is_empty() {
            let (&tree, rest) = body.split_first()?;
            let (&kind, rest) = rest.split_first()?;
            let tree = match tree {
                0 => Tree::Registry,
                1 => Tree::Data,
                _ => return None,
            };
            let (key, rest) = take_bytes(rest)?;
            let (value, rest) = match kind {
                1 => {
                    let (v, rest) = take_bytes(rest)?;
                    (Some(v.to_vec()), rest)
                }
                0 => (None, rest),
                _ => return None,
            };
            ops.push(Op {
                tree,
                key: key.to_vec(),
                value,
            });
            body = rest;
        }
        Some(Writes { ops })
    }
}

fn too_big() -> StoreError {
    StoreError::Backend("a write is larger than 4 GiB".into())
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), StoreError> {
    let len = u32::try_from(bytes.len()).map_err(|_| too_big())?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn take_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<4>()?;
    Some((u32::from_le_bytes(*head), rest))
}

fn take_bytes(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = take_u32(bytes)?;
    let len = usize::try_from(len).ok()?;
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// The records of one segment, and whether it ended cleanly.
struct Segment {
    records: Vec<Writes>,
    torn: bool,
}

fn read_segment(path: &Path) -> Result<Segment, StoreError> {
    let bytes = fs::read(path).map_err(|e| io_error("read", path, &e))?;
    let mut rest = bytes.as_slice();
    let mut records = Vec::new();
    while !rest.is_empty() {
        if rest.len() >= 4 && rest[..4] == [0; 4] {
            // The zero fill after the last record; anything else there is a torn write.
            return Ok(Segment {
                records,
                torn: rest.iter().any(|&b| b != 0),
            });
        }
        let parsed = take_u32(rest).and_then(|(len, r)| {
            let (crc, r) = take_u32(r)?;
            let (body, r) = r.split_at_checked(usize::try_from(len).ok()?)?;
            (crc32fast::hash(body) == crc).then_some(())?;
            Some((Writes::decode(body)?, r))
        });
        match parsed {
            Some((w, r)) => {
                records.push(w);
                rest = r;
            }
            None => {
                return Ok(Segment {
                    records,
                    torn: true,
                });
            }
        }
    }
    Ok(Segment {
        records,
        torn: false,
    })
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Backend(format!("cannot {what} {}: {e}", path.display()))
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:020}.wal"))
}

/// Segment numbers present in `dir`, oldest first.
fn segments(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let mut numbers = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_error("list", dir, &e))? {
        let entry = entry.map_err(|e| io_error("list", dir, &e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".wal")) else {
            continue;
        };
        if let Ok(n) = stem.parse::<u64>() {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("sync", dir, &e))
}

/// How far ahead of the writes a segment is zero-filled; each extension is one
/// size-changing `fdatasync`.
const ZERO_CHUNK: u64 = 1 << 20;

struct Current {
    number: u64,
    file: File,
    /// A second handle to the same file, so `fdatasync` runs without blocking appends.
    syncer: Arc<File>,
    /// Where the next record goes.
    len: u64,
    /// The file's size: zeros from `len` up to here.
    filled: u64,
}

impl Current {
    /// Writes `record` at the end of the records, zero-filling another chunk first when
    /// the record would not fit in the filled part.
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        let end = self.len + record.len() as u64;
        if end > self.filled {
            let grown = end.div_ceil(ZERO_CHUNK) * ZERO_CHUNK;
            let zeros =
                vec![0; usize::try_from(grown - self.filled).map_err(std::io::Error::other)?];
            self.file.write_all_at(&zeros, self.filled)?;
            self.filled = grown;
        }
        self.file.write_all_at(record, self.len)?;
        self.len = end;
        Ok(())
    }
}

/// The log. Appends, syncs and rotations may come from any thread.
pub struct Wal {
    dir: PathBuf,
    segment_bytes: u64,
    /// Held shared from an append's log write until its sled apply returns, and exclusively
    /// by a rotation: a sealed segment's records are therefore all in sled before sled is
    /// flushed for the checkpoint that deletes the segment.
    gate: RwLock<()>,
    current: Mutex<Current>,
}

/// Replays leftover segments through `apply`, then starts a fresh log in `dir`.
///
/// `checkpoint` must make everything applied so far durable (sled's flush); it runs only if
/// something was replayed, before the old segments are deleted.
///
/// # Errors
/// A segment other than the newest is damaged, or the file system refuses.
pub fn open(
    dir: &Path,
    segment_bytes: u64,
    mut apply: impl FnMut(Writes) -> Result<(), StoreError>,
    checkpoint: impl FnOnce() -> Result<(), StoreError>,
) -> Result<(Wal, usize), StoreError> {
    fs::create_dir_all(dir).map_err(|e| io_error("create", dir, &e))?;
    let numbers = segments(dir)?;
    let mut replayed = 0;
    for (i, &number) in numbers.iter().enumerate() {
        let path = segment_path(dir, number);
        let segment = read_segment(&path)?;
        if segment.torn && i + 1 < numbers.len() {
            return Err(StoreError::Corrupt(format!(
                "write-ahead log segment {} is damaged before its end",
                path.display()
            )));
        }
        for record in segment.records {
            apply(record)?;
            replayed += 1;
        }
    }
    if replayed > 0 {
        checkpoint()?;
    }
    let next = numbers.last().map_or(1, |n| n + 1);
    // Removed before the next segment is created, whose directory sync makes the removals
    // durable too: a torn old segment that outlived a crash beside a newer one would read
    // as damage in the middle of the log and stop the next start.
    for &number in &numbers {
        let path = segment_path(dir, number);
        fs::remove_file(&path).map_err(|e| io_error("remove", &path, &e))?;
    }
    let current = create_segment(dir, next)?;
    Ok((
        Wal {
            dir: dir.to_owned(),
            segment_bytes,
            gate: RwLock::new(()),
            current: Mutex::new(current),
        },
        replayed,
    ))
}

fn create_segment(dir: &Path, number: u64) -> Result<Current, StoreError> {
    let path = segment_path(dir, number);
    let file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&path)
        .map_err(|e| io_error("create", &path, &e))?;
    let syncer = file.try_clone().map_err(|e| io_error("open", &path, &e))?;
    // The new file's directory entry must be durable before anything in it is acknowledged.
    sync_dir(dir)?;
    Ok(Current {
        number,
        file,
        syncer: Arc::new(syncer),
        len: 0,
        filled: 0,
    })
}

/// An appended record whose sled apply is still running; rotation waits for it.
pub struct Pending<'a> {
    _gate: RwLockReadGuard<'a, ()>,
}

impl Wal {
    fn current(&self) -> MutexGuard<'_, Current> {
        // A panic while holding the lock leaves at worst a torn tail, which replay treats
        // as unacknowledged.
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends one record; keep the returned guard until the writes are applied to sled.
    ///
    /// # Errors
    /// The write failed; nothing of it may be applied then.
    pub fn append(&self, writes: &Writes) -> Result<Pending<'_>, StoreError> {
        let gate = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        if writes.is_empty() {
            // An empty record would encode as zeros, which replay reads as the segment's end.
            return Ok(Pending { _gate: gate });
        }
        let record = writes.encode()?;
        self.current()
            .write(&record)
            .map_err(|e| StoreError::Backend(format!("cannot write the log: {e}")))?;
        Ok(Pending { _gate: gate })
    }

    /// Makes every record appended before this call durable.
    ///
    /// # Errors
    /// `fdatasync` failed.
    pub fn sync(&self) -> Result<(), StoreError> {
        let syncer = Arc::clone(&self.current().syncer);
        syncer
            .sync_data()
            .map_err(|e| StoreError::Backend(format!("cannot sync the log: {e}")))
    }

    /// Whether the current segment has grown past its size.
    pub fn wants_rotation(&self) -> bool {
        self.current().len >= self.segment_bytes
    }

    /// Seals the current segment (synced, all its records applied) and starts the next;
    /// answers the sealed segment's number, which [`Wal::remove_through`] may delete once
    /// sled has been flushed.
    ///
    /// # Errors
    /// The sync or the new file failed; the current segment stays in use then.
    pub fn rotate(&self) -> Result<u64, StoreError> {
        let _exclusive = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        let mut current = self.current();
        current
            .syncer
            .sync_data()
            .map_err(|e| StoreError::Backend(format!("cannot sync the log: {e}")))?;
        let next = create_segment(&self.dir, current.number + 1)?;
        let sealed = std::mem::replace(&mut *current, next);
        Ok(sealed.number)
    }

    /// Deletes sealed segments up to `number`; call only after sled holds their records
    /// durably.
    ///
    /// # Errors
    /// The file system refused; the segments stay and are replayed harmlessly at open.
    pub fn remove_through(&self, number: u64) -> Result<(), StoreError> {
        let current = self.current().number;
        for n in segments(&self.dir)? {
            if n <= number && n < current {
                let path = segment_path(&self.dir, n);
                fs::remove_file(&path).map_err(|e| io_error("remove", &path, &e))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn writes(n: u8) -> Writes {
        let mut w = Writes::default();
        w.insert(Tree::Data, vec![n], vec![n; usize::from(n)]);
        w.remove(Tree::Registry, vec![n, n]);
        w
    }

    fn replay(dir: &Path) -> Vec<Vec<Op>> {
        let mut seen = Vec::new();
        let (_wal, _) = open(
            dir,
            1 << 20,
            |w| {
                seen.push(w.ops);
                Ok(())
            },
            || Ok(()),
        )
        .unwrap();
        seen
    }

    #[test]
    fn records_survive_reopen_in_order_and_are_replayed_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (wal, replayed) = open(dir.path(), 1 << 20, |_| Ok(()), || Ok(())).unwrap();
            assert_eq!(replayed, 0);
            for n in 1..=3 {
                drop(wal.append(&writes(n)).unwrap());
            }
            wal.sync().unwrap();
        }
        let seen = replay(dir.path());
        assert_eq!(seen, (1..=3).map(|n| writes(n).ops).collect::<Vec<_>>());
        // The replay was checkpointed: the next open has nothing left to apply.
        assert!(replay(dir.path()).is_empty());
    }

    #[test]
    fn an_empty_step_does_not_end_the_segment() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (wal, _) = open(dir.path(), 1 << 20, |_| Ok(()), || Ok(())).unwrap();
            drop(wal.append(&writes(1)).unwrap());
            drop(wal.append(&Writes::default()).unwrap());
            drop(wal.append(&writes(2)).unwrap());
            wal.sync().unwrap();
        }
        assert_eq!(replay(dir.path()), vec![writes(1).ops, writes(2).ops]);
    }

    #[test]
    fn a_torn_tail_of_the_newest_segment_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (wal, _) = open(dir.path(), 1 << 20, |_| Ok(()), || Ok(())).unwrap();
            drop(wal.append(&writes(1)).unwrap());
            drop(wal.append(&writes(2)).unwrap());
        }
        // A crash mid-write leaves part of the last record unwritten: zeros.
        let path = segment_path(dir.path(), segments(dir.path()).unwrap()[0]);
        let end = writes(1).encode().unwrap().len() + writes(2).encode().unwrap().len();
        let mut bytes = fs::read(&path).unwrap();
        bytes[end - 3..end].fill(0);
        fs::write(&path, bytes).unwrap();
        assert_eq!(replay(dir.path()), vec![writes(1).ops]);
    }

    #[test]
    fn segments_are_zero_filled_ahead_so_syncs_keep_their_size() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = open(dir.path(), 1 << 30, |_| Ok(()), || Ok(())).unwrap();
        let path = segment_path(dir.path(), segments(dir.path()).unwrap()[0]);
        drop(wal.append(&writes(1)).unwrap());
        assert_eq!(fs::metadata(&path).unwrap().len(), ZERO_CHUNK);
        let one = writes(200).encode().unwrap().len() as u64;
        let fits = (ZERO_CHUNK - writes(1).encode().unwrap().len() as u64) / one;
        for _ in 0..fits {
            drop(wal.append(&writes(200)).unwrap());
        }
        assert_eq!(fs::metadata(&path).unwrap().len(), ZERO_CHUNK);
        drop(wal.append(&writes(200)).unwrap());
        assert_eq!(fs::metadata(&path).unwrap().len(), 2 * ZERO_CHUNK);
        wal.sync().unwrap();
        drop(wal);
        assert_eq!(
            replay(dir.path()).len(),
            1 + usize::try_from(fits).unwrap() + 1
        );
    }

    #[test]
    fn bytes_after_the_zero_fill_are_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (wal, _) = open(dir.path(), 1, |_| Ok(()), || Ok(())).unwrap();
            drop(wal.append(&writes(1)).unwrap());
            wal.rotate().unwrap();
            drop(wal.append(&writes(2)).unwrap());
        }
        let numbers = segments(dir.path()).unwrap();
        let end = writes(1).encode().unwrap().len();
        // In the newest segment: an unacknowledged record whose header never landed.
        let newest = segment_path(dir.path(), numbers[1]);
        let mut bytes = fs::read(&newest).unwrap();
        bytes[writes(2).encode().unwrap().len() + 100] = 7;
        fs::write(&newest, bytes).unwrap();
        // Replay keeps what precedes it and reports nothing.
        let mut seen = Vec::new();
        let sealed = segment_path(dir.path(), numbers[0]);
        let sealed_bytes = fs::read(&sealed).unwrap();
        let record = |w: Writes| {
            seen.push(w.ops);
            Ok(())
        };
        open(dir.path(), 1, record, || Ok(())).unwrap();
        assert_eq!(seen, vec![writes(1).ops, writes(2).ops]);
        // In a sealed segment the same is damage.
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = sealed_bytes;
        bytes[end + 100] = 7;
        fs::write(segment_path(dir.path(), 1), bytes).unwrap();
        fs::write(segment_path(dir.path(), 2), [0; 16]).unwrap();
        let err = open(dir.path(), 1, |_| Ok(()), || Ok(())).err().unwrap();
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    #[test]
    fn damage_in_a_sealed_segment_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (wal, _) = open(dir.path(), 1, |_| Ok(()), || Ok(())).unwrap();
            drop(wal.append(&writes(1)).unwrap());
            wal.rotate().unwrap();
            drop(wal.append(&writes(2)).unwrap());
        }
        let first = segment_path(dir.path(), segments(dir.path()).unwrap()[0]);
        let mut bytes = fs::read(&first).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&first, bytes).unwrap();
        let err = open(dir.path(), 1, |_| Ok(()), || Ok(())).err().unwrap();
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    #[test]
    fn rotation_and_removal_keep_only_unflushed_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = open(dir.path(), 1, |_| Ok(()), || Ok(())).unwrap();
        drop(wal.append(&writes(1)).unwrap());
        assert!(wal.wants_rotation());
        let sealed = wal.rotate().unwrap();
        drop(wal.append(&writes(2)).unwrap());
        wal.remove_through(sealed).unwrap();
        assert_eq!(segments(dir.path()).unwrap().len(), 1);
        drop(wal);
        assert_eq!(replay(dir.path()), vec![writes(2).ops]);
    }

    proptest! {
        #[test]
        fn any_writes_round_trip(ops in proptest::collection::vec(
            (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..40),
             proptest::option::of(proptest::collection::vec(any::<u8>(), 0..80))), 0..20)) {
            let w = Writes { ops: ops.into_iter().map(|(t, key, value)| Op {
                tree: if t { Tree::Data } else { Tree::Registry }, key, value }).collect() };
            let bytes = w.encode().unwrap();
            let back = Writes::decode(&bytes[8..]).unwrap();
            prop_assert_eq!(back.ops, w.ops);
        }
    }
}
