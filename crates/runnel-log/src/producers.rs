//! Producer state of one log: what idempotent producers have written (so a retried batch is
//! recognised and a gap refused), which transactions are open (so readers can be held at
//! the last stable offset), and which were aborted (so `read_committed` readers can skip
//! their records).
//!
//! The state is a pure function of the log's batches: it is updated on every append,
//! snapshotted to `producer-state` when a segment is rolled and when the log is closed, and
//! rebuilt on open from the snapshot plus a replay of the batches after it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;

use bytes::{Buf, BufMut};

use crate::batch::{BatchHeader, Compression};
use crate::error::{BatchError, LogError};
use crate::fsutil;
use crate::records::{self, BatchBuilder};

pub(crate) const SNAPSHOT_FILE: &str = "producer-state";
const SNAPSHOT_MAGIC: &[u8; 4] = b"RNPS";
const SNAPSHOT_VERSION: u8 = 1;
/// Kafka keeps the last five batches of each producer: a client never has more than five
/// requests in flight with idempotence on, so a retry is always of one of these.
pub const CACHED_BATCHES: usize = 5;

/// Metadata of one batch an idempotent producer wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BatchMeta {
    first_seq: i32,
    last_seq: i32,
    first_offset: i64,
    last_offset: i64,
}

/// What the log knows of one producer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub producer_id: i64,
    pub epoch: i16,
    pub coordinator_epoch: i32,
    /// Broker time of the last append or marker, for expiration.
    pub last_update_ms: i64,
    /// First offset of this producer's open transaction on this log.
    pub txn_first_offset: Option<i64>,
    batches: VecDeque<BatchMeta>,
}

impl ProducerEntry {
    fn new(producer_id: i64, epoch: i16) -> Self {
        ProducerEntry {
            producer_id,
            epoch,
            coordinator_epoch: -1,
            last_update_ms: 0,
            txn_first_offset: None,
            batches: VecDeque::new(),
        }
    }

    /// The last sequence number written, if any batch is remembered.
    pub fn last_sequence(&self) -> Option<i32> {
        self.batches.back().map(|b| b.last_seq)
    }

    /// The offsets of an already written batch with the same epoch and sequence range.
    fn duplicate_of(&self, header: &BatchHeader) -> Option<(i64, i64)> {
        if header.producer_epoch != self.epoch || header.base_sequence < 0 {
            return None;
        }
        let last_seq = last_sequence(header);
        self.batches
            .iter()
            .find(|b| b.first_seq == header.base_sequence && b.last_seq == last_seq)
            .map(|b| (b.first_offset, b.last_offset))
    }

    /// Checks a data batch (offsets already assigned) against this producer's state and
    /// records it.
    fn append_data(&mut self, header: &BatchHeader, now: i64) -> Result<(), LogError> {
        let (epoch, first_seq) = (header.producer_epoch, header.base_sequence);
        if epoch < self.epoch {
            return Err(LogError::InvalidProducerEpoch {
                producer_id: self.producer_id,
                epoch,
                current: self.epoch,
            });
        }
        // No sequence: written by a coordinator on the producer's behalf (transactional
        // offset commits), which takes part in the transaction but not in deduplication.
        let sequenced = first_seq >= 0;
        if epoch > self.epoch {
            if self.txn_first_offset.is_some() {
                return Err(LogError::InvalidTxnState(
                    "a new producer epoch wrote while a transaction of the old one is open",
                ));
            }
            // A new epoch restarts the sequence, unless nothing is known of the producer.
            if sequenced && first_seq != 0 && !self.batches.is_empty() {
                return Err(self.out_of_order(0, first_seq));
            }
            self.epoch = epoch;
            self.batches.clear();
        } else if let Some(last) = self.batches.back().filter(|_| sequenced) {
            let expected = next_sequence(last.last_seq);
            if first_seq != expected {
                return Err(self.out_of_order(expected, first_seq));
            }
        }
        // With no batch remembered (a new producer, or one whose batches were all removed),
        // any sequence is accepted, as Kafka does.
        if header.is_transactional() {
            self.txn_first_offset.get_or_insert(header.base_offset);
        } else if self.txn_first_offset.is_some() {
            return Err(LogError::InvalidTxnState(
                "a non-transactional batch was written inside an open transaction",
            ));
        }
        if sequenced {
            if self.batches.len() == CACHED_BATCHES {
                self.batches.pop_front();
            }
            self.batches.push_back(BatchMeta {
                first_seq,
                last_seq: last_sequence(header),
                first_offset: header.base_offset,
                last_offset: header.last_offset(),
            });
        }
        self.last_update_ms = now;
        Ok(())
    }

    fn out_of_order(&self, expected: i32, received: i32) -> LogError {
        LogError::OutOfOrderSequence {
            producer_id: self.producer_id,
            expected,
            received,
        }
    }
}

/// The last sequence number of a batch; sequences wrap from `i32::MAX` to 0.
fn last_sequence(header: &BatchHeader) -> i32 {
    let last = i64::from(header.base_sequence) + i64::from(header.last_offset_delta);
    (last % (i64::from(i32::MAX) + 1)) as i32
}

fn next_sequence(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

/// A transaction marker: how a transaction ends on one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub coordinator_epoch: i32,
    pub commit: bool,
}

const MARKER_VERSION: i16 = 0;
const MARKER_ABORT: i16 = 0;
const MARKER_COMMIT: i16 = 1;

impl TxnMarker {
    /// The control batch carrying this marker, as Kafka encodes it: one record whose key is
    /// (version, type) and whose value is (version, coordinator epoch).
    pub(crate) fn to_batch(self, timestamp: i64) -> Result<Vec<u8>, BatchError> {
        let mut key = Vec::with_capacity(4);
        key.put_i16(MARKER_VERSION);
        key.put_i16(if self.commit {
            MARKER_COMMIT
        } else {
            MARKER_ABORT
        });
        let mut value = Vec::with_capacity(6);
        value.put_i16(MARKER_VERSION);
        value.put_i32(self.coordinator_epoch);
        let mut builder = BatchBuilder::new(Compression::None)
            .producer(self.producer_id, self.producer_epoch, -1)
            .transactional()
            .control();
        builder.push(timestamp, Some(&key), Some(&value), &[]);
        builder.build()
    }

    /// The marker in a control batch; `None` for a control batch of another kind.
    pub fn from_batch(header: &BatchHeader, batch: &[u8]) -> Result<Option<TxnMarker>, BatchError> {
        let payload = records::payload(header, batch)?;
        let records = records::parse(header, &payload)?;
        let Some(mut key) = records.first().and_then(|r| r.key) else {
            return Ok(None);
        };
        if key.remaining() < 4 {
            return Ok(None);
        }
        let _version = key.get_i16();
        let commit = match key.get_i16() {
            MARKER_COMMIT => true,
            MARKER_ABORT => false,
            _ => return Ok(None),
        };
        let coordinator_epoch = match records[0].value {
            Some(mut value) if value.remaining() >= 6 => {
                value.advance(2);
                value.get_i32()
            }
            _ => -1,
        };
        Ok(Some(TxnMarker {
            producer_id: header.producer_id,
            producer_epoch: header.producer_epoch,
            coordinator_epoch,
            commit,
        }))
    }
}

/// An aborted transaction's range on this log; `read_committed` readers drop the records of
/// `producer_id` between `first_offset` and `last_offset` (the abort marker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    /// The first offset of the earliest transaction still open after this one ended: once
    /// above a reader's upper bound, no later abort concerns that reader.
    pub last_stable_offset: i64,
}

/// Producer state of one log. See the module documentation.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ProducerState {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: first offset → producer id.
    ongoing: BTreeMap<i64, i64>,
    /// Aborted transactions by their marker's offset.
    aborted: BTreeMap<i64, AbortedTxn>,
}

/// Producer entries changed by an append, applied only once the append is written.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    entries: Vec<ProducerEntry>,
}

/// What the producer fields of an append amount to.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Write it; apply the staged state afterwards.
    Append,
    /// A retry of a batch already in the log at these offsets: acknowledge, do not write.
    Duplicate { first_offset: i64, last_offset: i64 },
}

impl ProducerState {
    pub(crate) fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = &ProducerEntry> {
        self.producers.values()
    }

    /// Recognises a retried batch: only a request of one batch (what clients send per
    /// partition) can be a duplicate.
    pub(crate) fn check_duplicate<'a>(
        &self,
        headers: impl IntoIterator<Item = &'a BatchHeader>,
    ) -> Verdict {
        let mut headers = headers.into_iter();
        if let (Some(header), None) = (headers.next(), headers.next()) {
            if header.producer_id >= 0 {
                if let Some((first_offset, last_offset)) = self
                    .producers
                    .get(&header.producer_id)
                    .and_then(|e| e.duplicate_of(header))
                {
                    return Verdict::Duplicate {
                        first_offset,
                        last_offset,
                    };
                }
            }
        }
        Verdict::Append
    }

    /// Validates data batches whose offsets are assigned, without changing the state. A
    /// retried batch inside a request of several cannot be acknowledged on its own, so the
    /// request is refused as a duplicate.
    pub(crate) fn stage<'a>(
        &self,
        headers: impl IntoIterator<Item = &'a BatchHeader, IntoIter: ExactSizeIterator>,
        now: i64,
    ) -> Result<Staged, LogError> {
        let headers = headers.into_iter();
        let several = headers.len() > 1;
        let mut staged = Staged::default();
        for header in headers.filter(|h| h.producer_id >= 0) {
            let position = staged
                .entries
                .iter()
                .position(|e| e.producer_id == header.producer_id);
            let entry = match position {
                Some(i) => &mut staged.entries[i],
                None => {
                    let current = self.producers.get(&header.producer_id).cloned();
                    staged.entries.push(current.unwrap_or_else(|| {
                        ProducerEntry::new(header.producer_id, header.producer_epoch)
                    }));
                    let last = staged.entries.len() - 1;
                    &mut staged.entries[last]
                }
            };
            if several && entry.duplicate_of(header).is_some() {
                return Err(LogError::DuplicateSequence);
            }
            entry.append_data(header, now)?;
        }
        Ok(staged)
    }

    /// Applies a data batch found in the log on recovery. The log is the truth: a batch that
    /// would now be refused (its predecessors removed by compaction) restarts the entry.
    pub(crate) fn replay_data(&mut self, header: &BatchHeader, now: i64) {
        let entry = self
            .producers
            .entry(header.producer_id)
            .or_insert_with(|| ProducerEntry::new(header.producer_id, header.producer_epoch));
        if entry.append_data(header, now).is_err() {
            entry.batches.clear();
            entry.epoch = entry.epoch.max(header.producer_epoch);
            if let Err(error) = entry.append_data(header, now) {
                tracing::warn!(%error, offset = header.base_offset, "producer state skips a batch on replay");
            }
        }
        if let Some(first) = entry.txn_first_offset {
            self.ongoing.insert(first, header.producer_id);
        }
    }

    pub(crate) fn apply(&mut self, staged: Staged) {
        for entry in staged.entries {
            if let Some(first) = entry.txn_first_offset {
                self.ongoing.insert(first, entry.producer_id);
            }
            self.producers.insert(entry.producer_id, entry);
        }
    }

    /// Checks that a marker may be written: not from an epoch older than the producer's.
    pub(crate) fn check_marker(&self, marker: &TxnMarker) -> Result<(), LogError> {
        match self.producers.get(&marker.producer_id) {
            Some(entry) if marker.producer_epoch < entry.epoch => {
                Err(LogError::InvalidProducerEpoch {
                    producer_id: marker.producer_id,
                    epoch: marker.producer_epoch,
                    current: entry.epoch,
                })
            }
            _ => Ok(()),
        }
    }

    /// Ends the producer's open transaction with the marker written at `offset`. Returns the
    /// transaction's first offset on this log, if it wrote anything here.
    pub(crate) fn complete(&mut self, marker: &TxnMarker, offset: i64, now: i64) -> Option<i64> {
        let entry = self
            .producers
            .entry(marker.producer_id)
            .or_insert_with(|| ProducerEntry::new(marker.producer_id, marker.producer_epoch));
        if marker.producer_epoch > entry.epoch {
            entry.epoch = marker.producer_epoch;
            entry.batches.clear();
        }
        entry.coordinator_epoch = marker.coordinator_epoch;
        entry.last_update_ms = now;
        // None: the partition was in the transaction but received no data.
        let first_offset = entry.txn_first_offset.take()?;
        self.ongoing.remove(&first_offset);
        if !marker.commit {
            let last_stable_offset = self.ongoing.keys().next().copied().unwrap_or(offset + 1);
            self.aborted.insert(
                offset,
                AbortedTxn {
                    producer_id: marker.producer_id,
                    first_offset,
                    last_offset: offset,
                    last_stable_offset,
                },
            );
        }
        Some(first_offset)
    }

    /// The first offset of the earliest open transaction.
    pub(crate) fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    /// Aborted transactions with records in `[from, upto)`.
    pub(crate) fn aborted_between(&self, from: i64, upto: i64) -> Vec<AbortedTxn> {
        let mut found = Vec::new();
        for txn in self.aborted.range(from..).map(|(_, t)| t) {
            if txn.first_offset < upto {
                found.push(*txn);
            }
            if txn.last_stable_offset > upto {
                break; // every later abort started at or after `upto`
            }
        }
        found
    }

    /// Forgets what lies wholly below the log start.
    pub(crate) fn truncate_below(&mut self, log_start: i64) {
        self.aborted = self.aborted.split_off(&log_start);
    }

    /// Forgets the aborted transactions ended by the markers at these offsets.
    pub(crate) fn forget_aborted(&mut self, markers: &[i64]) {
        for marker in markers {
            self.aborted.remove(marker);
        }
    }

    /// Removes producers idle for `max_idle_ms` with no open transaction. Returns how many.
    pub(crate) fn expire(&mut self, now: i64, max_idle_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.txn_first_offset.is_some() || now.saturating_sub(e.last_update_ms) < max_idle_ms
        });
        before - self.producers.len()
    }

    /// Encodes the state as of `offset` (every batch below it applied).
    pub(crate) fn encode_snapshot(&self, offset: i64) -> Vec<u8> {
        let mut body = Vec::new();
        body.put_i64(offset);
        body.put_u32(self.producers.len() as u32);
        let mut entries: Vec<_> = self.producers.values().collect();
        entries.sort_by_key(|e| e.producer_id);
        for e in entries {
            body.put_i64(e.producer_id);
            body.put_i16(e.epoch);
            body.put_i32(e.coordinator_epoch);
            body.put_i64(e.last_update_ms);
            body.put_i64(e.txn_first_offset.unwrap_or(-1));
            body.put_u8(e.batches.len() as u8);
            for b in &e.batches {
                body.put_i32(b.first_seq);
                body.put_i32(b.last_seq);
                body.put_i64(b.first_offset);
                body.put_i64(b.last_offset);
            }
        }
        body.put_u32(self.aborted.len() as u32);
        for t in self.aborted.values() {
            body.put_i64(t.producer_id);
            body.put_i64(t.first_offset);
            body.put_i64(t.last_offset);
            body.put_i64(t.last_stable_offset);
        }
        let mut out = Vec::with_capacity(body.len() + 9);
        out.put_slice(SNAPSHOT_MAGIC);
        out.put_u8(SNAPSHOT_VERSION);
        out.put_u32(crc32c::crc32c(&body));
        out.put_slice(&body);
        out
    }

    /// Decodes a snapshot: the state and the offset it is as of. `None` if the bytes are not
    /// a whole, intact snapshot.
    pub(crate) fn decode_snapshot(bytes: &[u8]) -> Option<(ProducerState, i64)> {
        let rest = bytes.strip_prefix(SNAPSHOT_MAGIC)?;
        let (&version, mut rest) = rest.split_first()?;
        if version != SNAPSHOT_VERSION || rest.remaining() < 4 {
            return None;
        }
        let crc = rest.get_u32();
        if crc32c::crc32c(rest) != crc {
            return None;
        }
        let mut buf = rest;
        let need = |buf: &&[u8], n: usize| (buf.remaining() >= n).then_some(());
        need(&buf, 12)?;
        let offset = buf.get_i64();
        let mut state = ProducerState::default();
        for _ in 0..buf.get_u32() {
            need(&buf, 31)?;
            let mut entry = ProducerEntry::new(buf.get_i64(), buf.get_i16());
            entry.coordinator_epoch = buf.get_i32();
            entry.last_update_ms = buf.get_i64();
            entry.txn_first_offset = Some(buf.get_i64()).filter(|&o| o >= 0);
            let batches = usize::from(buf.get_u8());
            if batches > CACHED_BATCHES {
                return None;
            }
            for _ in 0..batches {
                need(&buf, 24)?;
                entry.batches.push_back(BatchMeta {
                    first_seq: buf.get_i32(),
                    last_seq: buf.get_i32(),
                    first_offset: buf.get_i64(),
                    last_offset: buf.get_i64(),
                });
            }
            if let Some(first) = entry.txn_first_offset {
                state.ongoing.insert(first, entry.producer_id);
            }
            state.producers.insert(entry.producer_id, entry);
        }
        need(&buf, 4)?;
        for _ in 0..buf.get_u32() {
            need(&buf, 32)?;
            let txn = AbortedTxn {
                producer_id: buf.get_i64(),
                first_offset: buf.get_i64(),
                last_offset: buf.get_i64(),
                last_stable_offset: buf.get_i64(),
            };
            state.aborted.insert(txn.last_offset, txn);
        }
        buf.is_empty().then_some((state, offset))
    }

    pub(crate) fn write_snapshot(&self, dir: &Path, offset: i64) -> Result<(), LogError> {
        fsutil::write_atomically(&dir.join(SNAPSHOT_FILE), &self.encode_snapshot(offset))
    }

    pub(crate) fn remove_snapshot(dir: &Path) -> Result<(), LogError> {
        fsutil::remove_if_exists(&dir.join(SNAPSHOT_FILE))?;
        fsutil::sync_dir(dir)
    }

    /// The snapshot in `dir`, if there is an intact one.
    pub(crate) fn read_snapshot(dir: &Path) -> Result<Option<(ProducerState, i64)>, LogError> {
        let path = dir.join(SNAPSHOT_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let decoded = Self::decode_snapshot(&bytes);
                if decoded.is_none() {
                    tracing::warn!(path = %path.display(), "ignoring damaged producer state snapshot");
                }
                Ok(decoded)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LogError::io(path, e)),
        }
    }
}

#[cfg(test)]
mod tests;
