//! The key index of a log with conditional appends: for every key, its latest record.
//!
//! What "latest" means (the rules every expectation is checked against):
//! - a record appended outside a transaction is the key's latest as soon as it is appended;
//! - a record in a transaction becomes the key's latest when the transaction commits (unless
//!   a later record of the key already is), and never if it aborts. While it is open, no
//!   other producer's expectation on that key holds (the transaction holds the key), and its
//!   own producer's expectations are checked against it (it reads its own writes);
//! - a tombstone (null value) makes the key have no record, as does retention or
//!   DeleteRecords removing the key's latest record. Compaction never removes a key's latest
//!   record other than a tombstone, so it changes nothing here.
//!
//! Durability: the index is a redb database in the partition directory. Changes since the
//! last checkpoint are kept in memory (at most [`DIRTY_MAX_BYTES`] of keys); a checkpoint
//! writes them with the log offset they cover, and is taken only once the log is durable up
//! to that offset (at every roll, at close, and whenever the changes outgrow their bound).
//! Opening replays the log from the checkpoint, so the index always describes exactly the
//! log that recovery kept: it can never hold an entry for a record the log lost.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::batch::BatchHeader;
use crate::conditions::{self, Conflict, KeyedRecord, EXPECT_NO_RECORD};
use crate::error::LogError;
use crate::fsutil;
use crate::producers::TxnMarker;
use crate::segment::Segment;

pub(crate) const FILE: &str = "key-offsets.redb";

/// Changes kept in memory between checkpoints, counted as key bytes plus
/// [`ENTRY_OVERHEAD`] each.
pub(crate) const DIRTY_MAX_BYTES: usize = 8 << 20;
/// What one in-memory entry costs beyond its key: the offset, the flag and the hash map's
/// own share.
const ENTRY_OVERHEAD: usize = 48;
/// redb's page cache for this index.
const CACHE_BYTES: usize = 4 << 20;

/// key → (offset, tombstone) of the key's latest record outside open transactions.
const LATEST: TableDefinition<&[u8], (i64, bool)> = TableDefinition::new("latest");
/// (producer id, key) → (offset, tombstone): the latest record of the key in that producer's
/// open transaction.
const PENDING: TableDefinition<(i64, &[u8]), (i64, bool)> = TableDefinition::new("pending");
/// `checkpoint`: the offset up to which the tables describe the log; `purged`: the log start
/// below which entries were removed.
const META: TableDefinition<&str, i64> = TableDefinition::new("meta");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Latest {
    offset: i64,
    tombstone: bool,
}

impl Latest {
    /// The offset an expectation must name: none for a tombstone or a deleted record.
    fn visible(self, log_start: i64) -> i64 {
        if self.tombstone || self.offset < log_start {
            EXPECT_NO_RECORD
        } else {
            self.offset
        }
    }
}

#[derive(Debug)]
pub(crate) struct KeyIndex {
    path: PathBuf,
    db: Database,
    /// The offset up to which the stored tables describe the log.
    checkpoint: i64,
    purged_below: i64,
    dirty: HashMap<Vec<u8>, Latest>,
    dirty_bytes: usize,
    /// Per producer with an open transaction, the keys it wrote in it.
    pending: HashMap<i64, HashMap<Vec<u8>, Latest>>,
}

/// What [`KeyIndex::stage`] replaced, one entry per record, to put back if the append is not
/// written.
#[derive(Debug)]
#[must_use]
pub(crate) struct Staged {
    replaced: Vec<Option<Latest>>,
}

fn db_error(path: &Path) -> impl Fn(redb::Error) -> LogError + '_ {
    move |source| LogError::KeyIndex {
        path: path.to_owned(),
        source: Box::new(source),
    }
}

macro_rules! at {
    ($path:expr, $result:expr) => {
        $result.map_err(|e| db_error($path)(e.into()))
    };
}

impl KeyIndex {
    /// Opens the index of the log in `dir` (creating it if needed) and brings it up to the
    /// end of `segments` by replaying the log from its checkpoint.
    pub(crate) fn open(dir: &Path, segments: &[Arc<Segment>]) -> Result<KeyIndex, LogError> {
        let path = dir.join(FILE);
        let first = segments.first().map_or(0, |s| s.base_offset);
        let end = segments.last().map_or(first, |s| s.next_offset());
        let mut index = KeyIndex::load(&path)?;
        if index.checkpoint > end {
            // The checkpoint is taken only over durable data, so this means the log was
            // changed behind the index: rebuild it from the log rather than trust it.
            tracing::warn!(path = %path.display(), checkpoint = index.checkpoint, end, "key index is ahead of the log; rebuilding it");
            drop(index);
            fsutil::remove_if_exists(&path)?;
            index = KeyIndex::load(&path)?;
        }
        index.replay(segments, index.checkpoint.max(first))?;
        Ok(index)
    }

    fn load(path: &Path) -> Result<KeyIndex, LogError> {
        let db = at!(
            path,
            redb::Builder::new()
                .set_cache_size(CACHE_BYTES)
                .create(path)
        )?;
        let mut index = KeyIndex {
            path: path.to_owned(),
            db,
            checkpoint: 0,
            purged_below: 0,
            dirty: HashMap::new(),
            dirty_bytes: 0,
            pending: HashMap::new(),
        };
        let read = at!(path, index.db.begin_read())?;
        match read.open_table(META) {
            Ok(meta) => {
                let get = |name: &str| -> Result<i64, LogError> {
                    Ok(at!(path, meta.get(name))?.map_or(0, |v| v.value()))
                };
                index.checkpoint = get("checkpoint")?;
                index.purged_below = get("purged")?;
            }
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(index),
            Err(e) => return Err(db_error(path)(e.into())),
        }
        let pending = at!(path, read.open_table(PENDING))?;
        for entry in at!(path, pending.iter())? {
            let (key, value) = at!(path, entry)?;
            let (producer_id, key) = key.value();
            let (offset, tombstone) = value.value();
            index
                .pending
                .entry(producer_id)
                .or_default()
                .insert(key.to_vec(), Latest { offset, tombstone });
        }
        Ok(index)
    }

    /// Applies every batch of the log from `from` on, as appends did.
    fn replay(&mut self, segments: &[Arc<Segment>], from: i64) -> Result<(), LogError> {
        for segment in segments.iter().filter(|s| s.next_offset() > from) {
            let Some((position, _)) = segment.locate(from)? else {
                continue;
            };
            let mut reader = segment.batches_from(position);
            while let Some((_, header)) = reader.next_batch()? {
                if header.last_offset() < from {
                    continue;
                }
                if header.is_control() {
                    if let Some(marker) = TxnMarker::from_batch(&header, reader.batch())? {
                        self.complete(&marker)?;
                    }
                    continue;
                }
                let keyed = conditions::keyed_records(reader.batch(), &[(0, header)])
                    .unwrap_or_else(|error| {
                        // Stored before the setting was on: the expectations are not ours
                        // to judge any more, but the keys still count.
                        tracing::debug!(%error, offset = header.base_offset, "replaying a batch with an invalid expectation");
                        Vec::new()
                    });
                self.apply(&keyed, &[(0, header)]);
                if self.needs_checkpoint() {
                    segment.sync()?;
                    self.checkpoint(header.last_offset() + 1, 0)?;
                }
            }
        }
        Ok(())
    }

    /// Records the keys of an append about to be written (`records` of the batches
    /// `headers`, with their offsets assigned) and checks their expectations, in one lookup
    /// per record: each record replaces its key's entry and is checked against the entry it
    /// replaced, so records are checked in order, each against the log with the append's
    /// earlier records in it (two records of a key expecting the same offset cannot both
    /// pass, even when a client put them in one batch). If any expectation does not hold,
    /// the index is left as it was and the conflicts are returned; otherwise the caller
    /// writes the append and, if that fails, gives the returned [`Staged`] to
    /// [`KeyIndex::unstage`].
    pub(crate) fn stage(
        &mut self,
        records: &[KeyedRecord],
        headers: &[(usize, BatchHeader)],
        log_start: i64,
    ) -> Result<Result<Staged, Vec<Conflict>>, LogError> {
        let mut staged = Staged {
            replaced: Vec::with_capacity(records.len()),
        };
        let mut conflicts = Vec::new();
        let checked = records.iter().try_for_each(|record| {
            let header = &headers[record.batch].1;
            let replaced = self.put(record, header);
            staged.replaced.push(replaced);
            if let Some(conflict) = self.conflict(record, header, replaced, log_start)? {
                conflicts.push(conflict);
            }
            Ok(())
        });
        match checked {
            Ok(()) if conflicts.is_empty() => Ok(Ok(staged)),
            Ok(()) => {
                self.unstage(records, headers, staged);
                Ok(Err(conflicts))
            }
            Err(error) => {
                self.unstage(records, headers, staged);
                Err(error)
            }
        }
    }

    /// The conflict of `record`'s expectation, if it has one that does not hold; `replaced`
    /// is the entry the record replaced when it was staged.
    fn conflict(
        &self,
        record: &KeyedRecord,
        header: &BatchHeader,
        replaced: Option<Latest>,
        log_start: i64,
    ) -> Result<Option<Conflict>, LogError> {
        let Some(expected) = record.expected else {
            return Ok(None);
        };
        let (latest, open_transaction_of) = match self.held_by_other(record, header) {
            Some((producer_id, offset)) => (offset, Some(producer_id)),
            None => {
                let latest = self.latest_before(record, header, replaced)?;
                let visible = latest.map_or(EXPECT_NO_RECORD, |l| l.visible(log_start));
                if visible == expected {
                    return Ok(None);
                }
                (visible, None)
            }
        };
        Ok(Some(Conflict {
            record_index: record.index,
            key: record.key.clone(),
            expected,
            latest,
            open_transaction_of,
        }))
    }

    /// Puts back what [`KeyIndex::stage`] replaced, for an append that was not written.
    pub(crate) fn unstage(
        &mut self,
        records: &[KeyedRecord],
        headers: &[(usize, BatchHeader)],
        staged: Staged,
    ) {
        for (record, replaced) in records.iter().zip(staged.replaced).rev() {
            let header = &headers[record.batch].1;
            if header.is_transactional() {
                let Some(keys) = self.pending.get_mut(&header.producer_id) else {
                    continue;
                };
                match replaced {
                    Some(latest) => {
                        keys.insert(record.key.clone(), latest);
                    }
                    None => {
                        keys.remove(&record.key);
                    }
                }
                if keys.is_empty() {
                    self.pending.remove(&header.producer_id);
                }
            } else {
                match replaced {
                    Some(latest) => {
                        self.dirty.insert(record.key.clone(), latest);
                    }
                    None => {
                        if self.dirty.remove(&record.key).is_some() {
                            self.dirty_bytes -= record.key.len() + ENTRY_OVERHEAD;
                        }
                    }
                }
            }
        }
    }

    /// The latest record of the key in another producer's open transaction, if any.
    fn held_by_other(&self, record: &KeyedRecord, header: &BatchHeader) -> Option<(i64, i64)> {
        self.pending
            .iter()
            .filter(|(&producer_id, _)| {
                !(header.is_transactional() && producer_id == header.producer_id)
            })
            .filter_map(|(&producer_id, keys)| {
                keys.get(&record.key).map(|l| (producer_id, l.offset))
            })
            .max_by_key(|&(_, offset)| offset)
    }

    /// The key's latest record as the writer of `header` saw it before `record`, given the
    /// entry `record` replaced: for a record outside transactions, that entry (or the stored
    /// one when the key was not in memory); for a record in a transaction, its own open
    /// transaction's record unless a later one was written outside it (which a commit would
    /// not override either).
    fn latest_before(
        &self,
        record: &KeyedRecord,
        header: &BatchHeader,
        replaced: Option<Latest>,
    ) -> Result<Option<Latest>, LogError> {
        if !header.is_transactional() {
            return match replaced {
                Some(latest) => Ok(Some(latest)),
                None => self.stored_on_disk(&record.key),
            };
        }
        Ok(replaced
            .into_iter()
            .chain(self.stored(&record.key)?)
            .max_by_key(|l| l.offset))
    }

    /// Records the keys of appended batches (`headers`, with their assigned offsets).
    fn apply(&mut self, records: &[KeyedRecord], headers: &[(usize, BatchHeader)]) {
        for record in records {
            self.put(record, &headers[record.batch].1);
        }
    }

    /// Makes `record` its key's latest (in its producer's open transaction when it is in
    /// one); returns the entry it replaced there.
    fn put(&mut self, record: &KeyedRecord, header: &BatchHeader) -> Option<Latest> {
        let latest = Latest {
            offset: header.base_offset + record.delta,
            tombstone: record.tombstone,
        };
        if header.is_transactional() {
            self.pending
                .entry(header.producer_id)
                .or_default()
                .insert(record.key.clone(), latest)
        } else {
            self.set(record.key.clone(), latest)
        }
    }

    /// Ends the producer's open transaction: its keys become the latest on commit.
    pub(crate) fn complete(&mut self, marker: &TxnMarker) -> Result<(), LogError> {
        let Some(keys) = self.pending.remove(&marker.producer_id) else {
            return Ok(());
        };
        if !marker.commit {
            return Ok(());
        }
        for (key, latest) in keys {
            let superseded = self
                .stored(&key)?
                .is_some_and(|current| current.offset > latest.offset);
            if !superseded {
                self.set(key, latest);
            }
        }
        Ok(())
    }

    fn set(&mut self, key: Vec<u8>, latest: Latest) -> Option<Latest> {
        let added = key.len() + ENTRY_OVERHEAD;
        let replaced = self.dirty.insert(key, latest);
        if replaced.is_none() {
            self.dirty_bytes += added;
        }
        replaced
    }

    /// The key's latest record outside open transactions, tombstones included.
    fn stored(&self, key: &[u8]) -> Result<Option<Latest>, LogError> {
        match self.dirty.get(key) {
            Some(latest) => Ok(Some(*latest)),
            None => self.stored_on_disk(key),
        }
    }

    /// The key's entry as of the last checkpoint.
    fn stored_on_disk(&self, key: &[u8]) -> Result<Option<Latest>, LogError> {
        let read = at!(&self.path, self.db.begin_read())?;
        let table = match read.open_table(LATEST) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_error(&self.path)(e.into())),
        };
        Ok(at!(&self.path, table.get(key))?.map(|v| {
            let (offset, tombstone) = v.value();
            Latest { offset, tombstone }
        }))
    }

    pub(crate) fn needs_checkpoint(&self) -> bool {
        self.dirty_bytes >= DIRTY_MAX_BYTES
    }

    /// Stores the changes as describing the log up to `through`, which must be durable, and
    /// removes entries below `log_start` if it moved since the last purge (a scan of every
    /// stored key, so done only then).
    pub(crate) fn checkpoint(&mut self, through: i64, log_start: i64) -> Result<(), LogError> {
        let path = self.path.clone();
        let write = at!(&path, self.db.begin_write())?;
        {
            let mut latest = at!(&path, write.open_table(LATEST))?;
            for (key, value) in &self.dirty {
                at!(
                    &path,
                    latest.insert(key.as_slice(), (value.offset, value.tombstone))
                )?;
            }
            if log_start > self.purged_below {
                at!(&path, latest.retain(|_, (offset, _)| offset >= log_start))?;
            }
            let mut pending = at!(&path, write.open_table(PENDING))?;
            at!(&path, pending.retain(|_, _| false))?;
            for (&producer_id, keys) in &self.pending {
                for (key, value) in keys {
                    at!(
                        &path,
                        pending.insert(
                            (producer_id, key.as_slice()),
                            (value.offset, value.tombstone)
                        )
                    )?;
                }
            }
            let purged = log_start.max(self.purged_below);
            let mut meta = at!(&path, write.open_table(META))?;
            at!(&path, meta.insert("checkpoint", through))?;
            at!(&path, meta.insert("purged", purged))?;
        }
        at!(&path, write.commit())?;
        self.purged_below = self.purged_below.max(log_start);
        self.checkpoint = through;
        self.dirty.clear();
        self.dirty_bytes = 0;
        Ok(())
    }

    /// Deletes the index of the log in `dir`, for a log whose conditional appends were
    /// turned off: appends no longer maintain it, so it would go stale.
    pub(crate) fn remove(dir: &Path) -> Result<(), LogError> {
        fsutil::remove_if_exists(&dir.join(FILE))
    }
}
