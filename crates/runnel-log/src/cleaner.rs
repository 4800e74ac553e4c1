//! Log compaction: keep only the latest record of each key in closed segments.
//!
//! A pass works like Kafka's cleaner. The *cleanable* range is the prefix of closed segments
//! whose records are all older than `min.compaction.lag.ms` and below the last stable offset
//! (records of open transactions are never touched); within it, records past the cleaner's
//! checkpoint are *dirty*. When dirty bytes reach `min.cleanable.dirty.ratio` of the range (or
//! the oldest dirty segment is older than `max.compaction.lag.ms`), the cleaner maps each key
//! of the dirty part to its latest offset, then rewrites the whole range in groups of up to
//! `segment.bytes`, keeping a record only if no later record has its key. Tombstones (null
//! values) go once older than `delete.retention.ms`. Batches of aborted transactions go, and
//! markers once their transaction has no data left (see `transactions`). Offsets never
//! change; the gaps the cleaner leaves are skipped by readers. The active segment is never
//! touched.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::batch::BatchHeader;
use crate::checkpoint;
use crate::error::LogError;
use crate::log::Log;
use crate::records;
use crate::segment::Segment;
use crate::swap::{self, Steps};

mod transactions;

use transactions::Transactions;

const CLEANER_CHECKPOINT_FILE: &str = "cleaner-offset";
/// Bound on the key bytes one pass holds in its offset map; a pass that would exceed it
/// cleans only the segments mapped so far and leaves the rest to the next pass.
pub const OFFSET_MAP_MAX_BYTES: usize = 64 << 20;
/// Cleaned batches are written to the new segment in chunks of about this size.
const WRITE_CHUNK: usize = 1 << 20;

/// What one compaction pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionReport {
    pub segments_cleaned: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub records_removed: u64,
}

#[derive(Debug)]
pub(crate) struct CleanerState {
    /// Offsets below this have been cleaned at least once.
    first_dirty: i64,
}

impl CleanerState {
    pub(crate) fn load(dir: &std::path::Path) -> Result<Self, LogError> {
        Ok(CleanerState {
            first_dirty: checkpoint::read(&dir.join(CLEANER_CHECKPOINT_FILE))?.unwrap_or(0),
        })
    }
}

impl Log {
    /// Runs one compaction pass if the log is compacted and dirty enough. Appends and reads
    /// go on meanwhile; only the final swap takes the writer lock.
    pub fn compact(&self) -> Result<Option<CompactionReport>, LogError> {
        self.compact_with(&mut Steps::unlimited())
    }

    pub(crate) fn compact_with(
        &self,
        steps: &mut Steps,
    ) -> Result<Option<CompactionReport>, LogError> {
        let config = self.config();
        if !config.cleanup_policy.compacts() {
            return Ok(None);
        }
        let mut state = self.cleaning.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now_ms();
        let segments = self.segments();
        let closed = &segments[..segments.len() - 1];
        let lag_horizon = now.saturating_sub(config.min_compaction_lag_ms);
        let stable = self.last_stable_offset();
        let cleanable = &closed[..closed
            .iter()
            .take_while(|s| s.max_timestamp() <= lag_horizon && s.next_offset() <= stable)
            .count()];
        let first_dirty = state.first_dirty.max(self.log_start_offset());
        let Some(dirty_from) = cleanable.iter().position(|s| s.next_offset() > first_dirty) else {
            return Ok(None);
        };
        let total: u64 = cleanable.iter().map(|s| s.size()).sum();
        let dirty: u64 = cleanable[dirty_from..].iter().map(|s| s.size()).sum();
        let overdue = cleanable[dirty_from].max_timestamp()
            < now.saturating_sub(config.max_compaction_lag_ms);
        if total == 0
            || ((dirty as f64) < config.min_cleanable_dirty_ratio * total as f64 && !overdue)
        {
            return Ok(None);
        }

        let delete_horizon = now.saturating_sub(config.delete_retention_ms);
        // Read after the last stable offset: every transaction with data below it has ended,
        // so its abort, if any, is listed.
        let aborted = self.aborted_transactions(cleanable[0].base_offset, stable);
        let txns = Transactions::new(&aborted, delete_horizon);
        let (latest, mapped) = build_offset_map(&cleanable[dirty_from..], &txns)?;
        let range = &cleanable[..dirty_from + mapped];
        let end_offset = segments[range.len()].base_offset;
        let mut policy = Retention {
            latest: &latest,
            delete_horizon,
            txns,
        };
        let mut report = CompactionReport::default();
        for group in group_by_size(range, config.segment_bytes) {
            let group_end = segments
                .iter()
                .find(|s| s.base_offset > group[group.len() - 1].base_offset)
                .map_or(end_offset, |s| s.base_offset);
            self.clean_group(
                group,
                group_end,
                &mut policy,
                config.index_interval_bytes,
                steps,
                &mut report,
            )?;
        }
        checkpoint::write(&self.dir.join(CLEANER_CHECKPOINT_FILE), end_offset)?;
        state.first_dirty = end_offset;
        tracing::info!(dir = %self.dir.display(), ?report, "compacted log");
        Ok(Some(report))
    }

    fn clean_group(
        &self,
        group: &[Arc<Segment>],
        end: i64,
        policy: &mut Retention<'_>,
        index_interval: u64,
        steps: &mut Steps,
        report: &mut CompactionReport,
    ) -> Result<(), LogError> {
        let base = group[0].base_offset;
        let cleaned = Segment::create_cleaned(&self.dir, base, self.clock.now_ms())?;
        let mut out = Vec::with_capacity(WRITE_CHUNK);
        let mut headers = Vec::new();
        for segment in group {
            report.bytes_before += segment.size();
            let mut reader = segment.batches_from(0);
            while let Some((_, header)) = reader.next_batch()? {
                let kept = policy.filter(&header, reader.batch(), &mut report.records_removed)?;
                if let Some(bytes) = kept {
                    let header = BatchHeader::parse(&bytes)?;
                    headers.push((out.len(), header));
                    out.extend_from_slice(&bytes);
                }
                if out.len() >= WRITE_CHUNK {
                    cleaned.append(&out, &headers, index_interval)?;
                    out.clear();
                    headers.clear();
                }
            }
            if let Some(error) = reader.error() {
                return Err(LogError::Corrupt {
                    segment: segment.log_path().to_owned(),
                    position: reader.position(),
                    error: error.clone(),
                });
            }
        }
        cleaned.append(&out, &headers, index_interval)?;
        cleaned.seal_cleaned()?;
        let removed_aborts = policy.txns.take_removed_aborts();
        report.bytes_after += cleaned.size();
        report.segments_cleaned += group.len();

        let _writer = self.lock_writer();
        let current = self.segments();
        let Some(at) = current.iter().position(|s| Arc::ptr_eq(s, &group[0])) else {
            return Ok(()); // retention removed the group meanwhile; the leftovers are tidied on open
        };
        if current.len() < at + group.len()
            || !group
                .iter()
                .zip(&current[at..])
                .all(|(a, b)| Arc::ptr_eq(a, b))
        {
            return Ok(());
        }
        // Before the swap: after a crash in between, the old segments hold these markers
        // but no batch of their transactions, so readers lose nothing by the missing entries.
        self.forget_aborted(&removed_aborts)?;
        let replaced: Vec<i64> = group.iter().map(|s| s.base_offset).collect();
        swap::commit(&self.dir, base, end, &replaced, steps)?;
        let mut next = current[..at].to_vec();
        next.push(Arc::new(cleaned));
        next.extend_from_slice(&current[at + group.len()..]);
        self.replace_segments(next);
        Ok(())
    }
}

/// Decides, record by record, what a pass keeps.
struct Retention<'a> {
    latest: &'a HashMap<Vec<u8>, i64>,
    delete_horizon: i64,
    txns: Transactions,
}

impl Retention<'_> {
    /// The batch to write in place of `batch`: itself, a rewrite with fewer records, or
    /// nothing. Batches must come in offset order.
    fn filter(
        &mut self,
        header: &BatchHeader,
        batch: &[u8],
        removed: &mut u64,
    ) -> Result<Option<Vec<u8>>, LogError> {
        let discard = if header.is_control() {
            !self.txns.keep_control(header, batch)?
        } else {
            self.txns.saw_data(header);
            self.txns.is_aborted(header)
        };
        if discard {
            *removed += u64::try_from(header.record_count).unwrap_or(0);
            return Ok(None);
        }
        if header.is_control() {
            return Ok(Some(batch.to_vec()));
        }
        let payload = records::payload(header, batch)?;
        let all = records::parse(header, &payload)?;
        let keep = |record: &records::Record<'_>| {
            let Some(key) = record.key else {
                return true; // written before the log was compacted; never dropped silently
            };
            let is_latest = self
                .latest
                .get(key)
                .is_none_or(|&latest| record.offset >= latest);
            let expired_tombstone =
                record.value.is_none() && record.timestamp < self.delete_horizon;
            is_latest && !expired_tombstone
        };
        let kept = all.iter().filter(|r| keep(r)).count();
        *removed += (all.len() - kept) as u64;
        if kept == all.len() {
            return Ok(Some(batch.to_vec()));
        }
        Ok(records::retain(header, &all, keep)?)
    }
}

/// Maps each key in `dirty` to its latest offset, leaving out records of aborted transactions
/// (a key's latest value must be one a `read_committed` reader sees). Returns the map and how
/// many segments it covers (at least one, so a pass always makes progress).
fn build_offset_map(
    dirty: &[Arc<Segment>],
    txns: &Transactions,
) -> Result<(HashMap<Vec<u8>, i64>, usize), LogError> {
    let mut latest: HashMap<Vec<u8>, i64> = HashMap::new();
    let mut key_bytes = 0usize;
    for (i, segment) in dirty.iter().enumerate() {
        if i > 0 && key_bytes > OFFSET_MAP_MAX_BYTES {
            return Ok((latest, i));
        }
        let mut reader = segment.batches_from(0);
        while let Some((_, header)) = reader.next_batch()? {
            if header.is_control() || txns.is_aborted(&header) {
                continue;
            }
            let payload = records::payload(&header, reader.batch())?;
            for record in records::parse(&header, &payload)? {
                if let Some(key) = record.key {
                    match latest.get_mut(key) {
                        Some(offset) => *offset = record.offset,
                        None => {
                            key_bytes += key.len();
                            latest.insert(key.to_vec(), record.offset);
                        }
                    }
                }
            }
        }
    }
    Ok((latest, dirty.len()))
}

/// Splits consecutive segments into runs whose total size stays within `max_bytes`.
fn group_by_size(segments: &[Arc<Segment>], max_bytes: u64) -> Vec<&[Arc<Segment>]> {
    let mut groups = Vec::new();
    let mut start = 0;
    let mut size = 0u64;
    for (i, segment) in segments.iter().enumerate() {
        if i > start && size + segment.size() > max_bytes {
            groups.push(&segments[start..i]);
            start = i;
            size = 0;
        }
        size += segment.size();
    }
    if start < segments.len() {
        groups.push(&segments[start..]);
    }
    groups
}

/// Compacts registered logs from a background thread every `interval`.
#[derive(Debug)]
pub struct LogCleaner {
    shared: Arc<CleanerShared>,
    thread: Option<JoinHandle<()>>,
}

/// What the cleaner has done since it started: read at any time, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanerTotals {
    /// Completed passes over all registered logs.
    pub passes: u64,
    /// Compactions of one log that rewrote segments.
    pub compactions: u64,
    /// Bytes of log segments the compactions freed.
    pub bytes_reclaimed: u64,
    pub records_removed: u64,
}

#[derive(Debug, Default)]
struct CleanerShared {
    logs: Mutex<Vec<Weak<Log>>>,
    stopping: Mutex<bool>,
    wake: Condvar,
    compactions: AtomicU64,
    bytes_reclaimed: AtomicU64,
    records_removed: AtomicU64,
    passes: AtomicU64,
    passes_done: Condvar,
    passes_lock: Mutex<()>,
}

impl LogCleaner {
    pub fn start(interval: Duration) -> std::io::Result<LogCleaner> {
        let shared = Arc::new(CleanerShared::default());
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("runnel-log-cleaner".to_owned())
            .spawn(move || worker.run(interval))?;
        Ok(LogCleaner {
            shared,
            thread: Some(thread),
        })
    }

    /// Adds a log; it is dropped from the cleaner's list once the log itself is dropped.
    pub fn register(&self, log: &Arc<Log>) {
        self.shared
            .logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::downgrade(log));
    }

    /// Completed passes over all registered logs.
    pub fn passes(&self) -> u64 {
        self.shared.passes.load(Ordering::Acquire)
    }

    pub fn totals(&self) -> CleanerTotals {
        let shared = &self.shared;
        CleanerTotals {
            passes: self.passes(),
            compactions: shared.compactions.load(Ordering::Relaxed),
            bytes_reclaimed: shared.bytes_reclaimed.load(Ordering::Relaxed),
            records_removed: shared.records_removed.load(Ordering::Relaxed),
        }
    }

    /// Waits until `passes()` reaches `count` or `timeout` elapses; returns whether it did.
    pub fn wait_for_passes(&self, count: u64, timeout: Duration) -> bool {
        let guard = self
            .shared
            .passes_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let (_guard, result) = self
            .shared
            .passes_done
            .wait_timeout_while(guard, timeout, |_| self.passes() < count)
            .unwrap_or_else(|p| p.into_inner());
        !result.timed_out()
    }
}

impl Drop for LogCleaner {
    fn drop(&mut self) {
        *self
            .shared
            .stopping
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("log cleaner thread panicked");
            }
        }
    }
}

impl CleanerShared {
    fn count(&self, report: &CompactionReport) {
        self.compactions.fetch_add(1, Ordering::Relaxed);
        let reclaimed = report.bytes_before.saturating_sub(report.bytes_after);
        self.bytes_reclaimed.fetch_add(reclaimed, Ordering::Relaxed);
        self.records_removed
            .fetch_add(report.records_removed, Ordering::Relaxed);
    }

    fn run(&self, interval: Duration) {
        loop {
            let stopping = self.stopping.lock().unwrap_or_else(|p| p.into_inner());
            let (stopping, _) = self
                .wake
                .wait_timeout_while(stopping, interval, |stop| !*stop)
                .unwrap_or_else(|p| p.into_inner());
            if *stopping {
                return;
            }
            drop(stopping);
            let logs: Vec<Arc<Log>> = {
                let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
                logs.retain(|log| log.strong_count() > 0);
                logs.iter().filter_map(Weak::upgrade).collect()
            };
            for log in logs {
                match log.compact() {
                    Ok(Some(report)) => self.count(&report),
                    Ok(None) => {}
                    Err(error) => {
                        tracing::error!(dir = %log.dir().display(), %error, "compaction failed")
                    }
                }
            }
            let _guard = self.passes_lock.lock().unwrap_or_else(|p| p.into_inner());
            self.passes.fetch_add(1, Ordering::AcqRel);
            self.passes_done.notify_all();
        }
    }
}
