//! The inbox snapshot: every row of a replica, its cursor and who it belongs to, in one
//! file beside the replica (`<replica dir>.inbox`), written when the desk closes and
//! deleted as soon as the replica is open.
//!
//! Opening a large sled replica takes a while (its log is replayed), so the desk draws its
//! first frame from this file and opens the replica behind it; the events after the
//! snapshot's cursor are then applied like any sync update. The file is only a cache: a
//! missing, damaged or older-format snapshot is ignored and the replica is read instead.
//! It holds customers' names and message previews, so it exists only between a clean exit
//! and the next open: a customer removed during a session, or a crash, leaves no stale
//! copy on disk.

use crate::model::mention::MentionRow;
use crate::model::summary::ThreadSummary;
use crate::replica::{Header, Identity, Replica, ReplicaError};
use protocol::Seq;
use protocol::codec;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bumped whenever [`ThreadSummary`] or [`MentionRow`] changes shape (2: mentions), so
/// an old file is not misread.
const FORMAT: u32 = 2;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InboxSnapshot {
    pub format: u32,
    /// The rows hold every event up to here.
    pub cursor: Seq,
    pub identity: Option<Identity>,
    pub header: Option<Header>,
    pub credits: Option<i64>,
    pub rows: Vec<ThreadSummary>,
    pub mentions: Vec<MentionRow>,
}

/// Why a snapshot could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error("cannot write the inbox snapshot {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the snapshot of the replica in `replica_dir` lives.
#[must_use]
pub fn path_for(replica_dir: &Path) -> PathBuf {
    let mut name = replica_dir.as_os_str().to_owned();
    name.push(".inbox");
    PathBuf::from(name)
}

/// Reads a snapshot; `None` when there is none or it cannot be used.
#[must_use]
pub fn read(path: &Path) -> Option<InboxSnapshot> {
    let bytes = std::fs::read(path).ok()?;
    let snapshot: InboxSnapshot = codec::decode_binary(&bytes).ok()?;
    (snapshot.format == FORMAT).then_some(snapshot)
}

/// Deletes the snapshot at `path`; none there is fine.
///
/// # Errors
/// The file exists and cannot be removed.
pub fn discard(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Writes the replica's rows as a snapshot, atomically (a crash leaves the old file or the
/// new one, never half of one).
///
/// # Errors
/// The replica cannot be read or the file cannot be written.
pub fn write(replica: &Replica, path: &Path) -> Result<(), SnapshotError> {
    let snapshot = InboxSnapshot {
        format: FORMAT,
        cursor: replica.cursor()?,
        identity: replica.identity()?,
        header: replica.header()?,
        credits: replica.credits()?,
        rows: replica.summaries()?,
        mentions: replica.mentions()?,
    };
    let bytes = codec::encode_binary(&snapshot).map_err(ReplicaError::from)?;
    let failed = |source| SnapshotError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    file.write_all(&bytes).map_err(failed)?;
    file.as_file().sync_all().map_err(failed)?;
    file.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::fixtures;

    #[test]
    fn a_snapshot_holds_the_rows_and_cursor_and_bad_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let replica_dir = dir.path().join("replica");
        let events = fixtures::showcase_with_mentions();
        let replica = fixtures::replica(&replica_dir, &events).unwrap();
        let path = path_for(&replica_dir);
        assert_eq!(read(&path), None, "no file yet");
        write(&replica, &path).unwrap();
        let snapshot = read(&path).unwrap();
        assert_eq!(snapshot.cursor, replica.cursor().unwrap());
        assert_eq!(snapshot.rows.len(), replica.summaries().unwrap().len());
        assert_eq!(snapshot.identity, replica.identity().unwrap());
        assert_eq!(snapshot.mentions.len(), 2, "the mention rows are in it");
        std::fs::write(&path, b"not a snapshot").unwrap();
        assert_eq!(read(&path), None);
    }

    #[test]
    fn discarding_removes_the_file_and_a_missing_one_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let replica_dir = dir.path().join("replica");
        let replica = fixtures::replica(&replica_dir, &fixtures::showcase()).unwrap();
        let path = path_for(&replica_dir);
        write(&replica, &path).unwrap();
        discard(&path).unwrap();
        assert!(!path.exists());
        assert_eq!(read(&path), None);
        discard(&path).unwrap();
        // Anything but "not there" is reported: here the path is a directory.
        std::fs::create_dir(&path).unwrap();
        assert!(discard(&path).is_err());
    }
}
