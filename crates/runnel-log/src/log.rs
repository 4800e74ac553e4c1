//! A partition's log: an ordered list of segments, the last of which takes appends.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use crate::batch::{self, BatchHeader, Batches};
use crate::checkpoint;
use crate::clock::Clock;
use crate::conditions::{self, KeyedRecord};
use crate::config::{LogConfig, TimestampType};
use crate::error::{BatchError, IoContext, LogError};
use crate::fsutil;
use crate::key_index::KeyIndex;
use crate::latency::{LatencyRecorder, LatencySnapshot};
use crate::producers::{AbortedTxn, ProducerEntry, ProducerState, Staged, TxnMarker, Verdict};
use crate::records;
use crate::segment::{OpenMode, Segment, CLEANED_SUFFIX, INDEX_EXT, LOG_EXT, TIME_INDEX_EXT};
use crate::swap;
use crate::validate;

/// Present only between a clean close and the next open: the indexes on disk are complete
/// and the last segment needs no validation.
pub(crate) const CLEAN_SHUTDOWN_FILE: &str = ".clean-shutdown";
pub(crate) const LOG_START_FILE: &str = "log-start-offset";

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// The time stamped on the batches when the log uses `LogAppendTime`, else -1.
    pub log_append_time: i64,
    pub log_start_offset: i64,
}

/// Batches read from the log, with the bounds in force when they were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResult {
    /// Whole batches, as stored. The first may start before the requested offset.
    pub records: Vec<u8>,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

/// A record located by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampOffset {
    pub offset: i64,
    pub timestamp: i64,
}

/// What retention removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub segments_deleted: usize,
    pub bytes_deleted: u64,
}

#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) next_offset: i64,
    unflushed_messages: u64,
    unflushed_bytes: u64,
    last_flush_ms: i64,
    closed: bool,
    /// Set when a write or sync failed: what reached the disk is unknown until recovery
    /// (the next open) validates it, so no further append is accepted.
    offline: bool,
}

impl Writer {
    fn check_open(&self) -> Result<(), LogError> {
        if self.offline {
            Err(LogError::Offline)
        } else if self.closed {
            Err(LogError::Closed)
        } else {
            Ok(())
        }
    }
}

/// A partition log. `Send + Sync`: appends are serialized inside, and reads run concurrently
/// with them and with each other without waiting on I/O of the writer.
#[derive(Debug)]
pub struct Log {
    pub(crate) dir: PathBuf,
    pub(crate) clock: Arc<dyn Clock>,
    config: RwLock<LogConfig>,
    /// Sorted by base offset; the last is the active segment. Replaced, never mutated, so a
    /// reader's snapshot stays valid.
    segments: RwLock<Arc<Vec<Arc<Segment>>>>,
    writer: Mutex<Writer>,
    /// One past the last offset readers may see; on a single node, the log end offset once
    /// the append's durability requirement is met.
    high_watermark: AtomicI64,
    log_start: AtomicI64,
    /// How long the `fdatasync` calls made for appends and flushes took (not those for rolls
    /// or the cleaner); their count is [`Log::syncs`].
    sync_latency: LatencyRecorder,
    /// Serializes compactions of this log.
    pub(crate) cleaning: Mutex<crate::cleaner::CleanerState>,
    /// Idempotent producers and transactions. Locked after `writer` when both are held.
    producers: Mutex<ProducerState>,
    /// Transactions whose marker may not be below the high watermark yet (marker offset →
    /// first offset): they still hold the last stable offset, so no reader sees a commit
    /// that a crash could undo. Locked after `producers`.
    ending: Mutex<std::collections::BTreeMap<i64, i64>>,
    /// Every key's latest offset, while `runnel.conditional.append.enable` is on. Changed
    /// only by appends, under the writer lock; locked after `producers`, never with `ending`.
    keys: Mutex<Option<KeyIndex>>,
}

impl Log {
    /// Opens the log in `dir`, creating it if needed, and recovers it: completes or rolls
    /// back an interrupted compaction swap, validates the last segment unless the previous
    /// close was clean, truncates an invalid tail, and rebuilds missing indexes.
    pub fn open(
        dir: impl AsRef<Path>,
        config: LogConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Log, LogError> {
        let dir = dir.as_ref().to_owned();
        fs::create_dir_all(&dir).at(&dir)?;
        swap::recover(&dir)?;
        let bases = tidy_and_list(&dir)?;
        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let clean = marker.exists();
        let now = clock.now_ms();

        let mut segments = Vec::with_capacity(bases.len().max(1));
        for (i, &base) in bases.iter().enumerate() {
            let mode = if clean || i + 1 < bases.len() {
                OpenMode::Trusted
            } else {
                OpenMode::RecoverTail
            };
            let (segment, truncated) =
                Segment::open(&dir, base, mode, config.index_interval_bytes, now)?;
            if truncated > 0 {
                tracing::warn!(dir = %dir.display(), base, truncated, "recovered log by truncating its tail");
            }
            segments.push(Arc::new(segment));
        }

        let stored_start = checkpoint::read(&dir.join(LOG_START_FILE))?;
        let first_base = segments.first().map(|s| s.base_offset);
        let mut log_start = stored_start
            .or(first_base)
            .unwrap_or(0)
            .max(first_base.unwrap_or(0));
        let end = segments.last().map_or(log_start, |s| s.next_offset());
        if segments.is_empty() || end < log_start {
            // Nothing stored, or the tail lost below a log start that was already promised:
            // start afresh at the log start so no offset below it is ever handed out again.
            for segment in &segments {
                segment.delete_files()?;
            }
            segments = vec![Arc::new(Segment::create(&dir, log_start, now)?)];
        }
        while segments.len() > 1 && segments[1].base_offset <= log_start {
            segments.remove(0).delete_files()?;
        }
        log_start = log_start.max(segments[0].base_offset);
        if clean {
            fs::remove_file(&marker).at(&marker)?;
        }
        fsutil::sync_dir(&dir)?;

        let next_offset = segments.last().map_or(log_start, |s| s.next_offset());
        let cleaner_state = crate::cleaner::CleanerState::load(&dir)?;
        let producers = recover_producers(&dir, &segments, log_start, now)?;
        let keys = if config.conditional_append {
            Some(KeyIndex::open(&dir, &segments)?)
        } else {
            KeyIndex::remove(&dir)?;
            None
        };
        Ok(Log {
            dir,
            clock,
            config: RwLock::new(config),
            segments: RwLock::new(Arc::new(segments)),
            writer: Mutex::new(Writer {
                next_offset,
                unflushed_messages: 0,
                unflushed_bytes: 0,
                last_flush_ms: now,
                closed: false,
                offline: false,
            }),
            high_watermark: AtomicI64::new(next_offset),
            log_start: AtomicI64::new(log_start),
            sync_latency: LatencyRecorder::default(),
            cleaning: Mutex::new(cleaner_state),
            producers: Mutex::new(producers),
            ending: Mutex::new(std::collections::BTreeMap::new()),
            keys: Mutex::new(keys),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> LogConfig {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the settings; they apply from the next operation on.
    pub fn set_config(&self, config: LogConfig) {
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = config;
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start.load(Ordering::Acquire)
    }

    /// Bytes in all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments().iter().map(|s| s.size()).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments().len()
    }

    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments().iter().map(|s| s.base_offset).collect()
    }

    pub(crate) fn segments(&self) -> Arc<Vec<Arc<Segment>>> {
        Arc::clone(&self.segments.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub(crate) fn replace_segments(&self, segments: Vec<Arc<Segment>>) {
        debug_assert!(segments
            .windows(2)
            .all(|w| w[0].base_offset < w[1].base_offset));
        *self.segments.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(segments);
    }

    fn active(&self) -> Arc<Segment> {
        let segments = self.segments();
        Arc::clone(&segments[segments.len() - 1])
    }

    pub(crate) fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_producers(&self) -> MutexGuard<'_, ProducerState> {
        self.producers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_keys(&self) -> MutexGuard<'_, Option<KeyIndex>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_ending(&self) -> MutexGuard<'_, std::collections::BTreeMap<i64, i64>> {
        self.ending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Validates `batches` (one or more v2 batches back to back), assigns their offsets and
    /// leader epoch, and appends them. Either every batch is appended or none is. Returns
    /// once the flush policy is satisfied: with `flush.messages=1`, once the bytes are on
    /// stable storage; concurrent appenders then share one `fdatasync` (group commit).
    ///
    /// Batches with a producer id are checked against that producer's state: a retry of one
    /// of its last five batches is acknowledged with the original offsets and not written
    /// again (in a request of several batches, it refuses the request); a sequence gap, a
    /// stale epoch or a batch breaking transaction rules is refused.
    /// Control batches are refused: markers are written with [`Log::append_marker`].
    ///
    /// With `runnel.conditional.append.enable`, records may carry the expected offset of
    /// their key's latest record ([`crate::EXPECTED_OFFSET_HEADER`]); if any expectation
    /// does not hold when the append runs, nothing is written and the append fails with
    /// [`LogError::ConditionFailed`]. A retried batch is acknowledged as above, not checked
    /// again. What "latest" means inside transactions is described in `key_index.rs`.
    pub fn append(&self, batches: &mut [u8], leader_epoch: i32) -> Result<AppendInfo, LogError> {
        let config = self.config();
        let headers = validate_for_append(batches, &config)?;
        if headers.iter().any(|(_, h)| h.is_control()) {
            return Err(BatchError::ControlBatch.into());
        }
        validate::check_records(batches, &headers, &config, self.clock.now_ms())?;
        match validate::recompress(batches, &headers, config.compression_type)? {
            Some(mut rewritten) => {
                // Checked again: the limits apply to what is stored.
                let headers = validate_for_append(&rewritten, &config)?;
                let keyed = keyed_records_if_conditional(&rewritten, &headers, &config)?;
                self.append_checked(
                    &mut rewritten,
                    headers,
                    leader_epoch,
                    &config,
                    Append::Data(keyed),
                )
            }
            None => {
                let keyed = keyed_records_if_conditional(batches, &headers, &config)?;
                self.append_checked(batches, headers, leader_epoch, &config, Append::Data(keyed))
            }
        }
    }

    /// Writes a transaction marker ending `marker.producer_id`'s open transaction on this
    /// log (a commit or an abort), with the same durability as any append.
    pub fn append_marker(
        &self,
        marker: TxnMarker,
        leader_epoch: i32,
    ) -> Result<AppendInfo, LogError> {
        let config = self.config();
        let mut batch = marker.to_batch(self.clock.now_ms())?;
        let headers = validate_for_append(&batch, &config)?;
        self.append_checked(
            &mut batch,
            headers,
            leader_epoch,
            &config,
            Append::Marker(marker),
        )
    }

    fn append_checked(
        &self,
        batches: &mut [u8],
        mut headers: Vec<(usize, BatchHeader)>,
        leader_epoch: i32,
        config: &LogConfig,
        append: Append,
    ) -> Result<AppendInfo, LogError> {
        let now = self.clock.now_ms();
        let mut writer = self.lock_writer();
        writer.check_open()?;
        let mut producers = self.lock_producers();
        match &append {
            Append::Marker(marker) => producers.check_marker(marker)?,
            Append::Data(_) => {
                if let Verdict::Duplicate {
                    first_offset,
                    last_offset,
                } = producers.check_duplicate(headers.iter().map(|(_, h)| h))
                {
                    drop(producers);
                    drop(writer);
                    return self.acknowledge_duplicate(first_offset, last_offset);
                }
            }
        }
        let records: i64 = headers
            .iter()
            .map(|(_, h)| i64::from(h.last_offset_delta) + 1)
            .sum();
        let mut active = self.active();
        if should_roll(
            &active,
            batches.len() as u64,
            writer.next_offset + records,
            now,
            config,
        ) {
            active = self
                .roll_locked(&mut writer, &producers, now)
                .inspect_err(|e| self.take_offline(&mut writer, e))?;
        }
        let base_offset = writer.next_offset;
        let log_append_time = match config.message_timestamp_type {
            TimestampType::LogAppendTime => now,
            TimestampType::CreateTime => -1,
        };
        let mut next = base_offset;
        for (start, header) in &mut headers {
            let bytes = &mut batches[*start..*start + header.total_len()];
            batch::set_base_offset(bytes, next);
            batch::set_leader_epoch(bytes, leader_epoch);
            if log_append_time >= 0 {
                batch::set_log_append_time(bytes, log_append_time);
            }
            *header = BatchHeader::parse(bytes)?;
            next = header.last_offset() + 1;
        }
        let change = match &append {
            Append::Data(_) => {
                ProducerChange::Data(producers.stage(headers.iter().map(|(_, h)| h), now)?)
            }
            Append::Marker(marker) => ProducerChange::Marker(*marker),
        };
        let mut keys = self.lock_keys();
        self.follow_conditional_setting(&mut keys, config)?;
        let staged = match (keys.as_mut(), &append) {
            (Some(index), Append::Data(keyed)) => {
                match index.stage(keyed, &headers, self.log_start_offset())? {
                    Ok(staged) => Some(staged),
                    Err(conflicts) => return Err(LogError::ConditionFailed(conflicts)),
                }
            }
            _ => None,
        };
        let end = match active.append(batches, &headers, config.index_interval_bytes) {
            Ok(end) => end,
            Err(error) => {
                if let (Some(index), Some(staged), Append::Data(keyed)) =
                    (keys.as_mut(), staged, &append)
                {
                    index.unstage(keyed, &headers, staged);
                }
                self.take_offline(&mut writer, &error);
                return Err(error);
            }
        };
        match change {
            ProducerChange::Data(staged) => producers.apply(staged),
            ProducerChange::Marker(marker) => {
                if let Some(first) = producers.complete(&marker, base_offset, now) {
                    self.lock_ending().insert(base_offset, first);
                }
            }
        }
        drop(producers);
        if let Some(index) = keys.as_mut() {
            if let Append::Marker(marker) = &append {
                index
                    .complete(marker)
                    .inspect_err(|e| self.take_offline(&mut writer, e))?;
            }
            if index.needs_checkpoint() {
                active
                    .sync()
                    .and_then(|_| index.checkpoint(next, self.log_start_offset()))
                    .inspect_err(|e| self.take_offline(&mut writer, e))?;
            }
        }
        drop(keys);
        writer.next_offset = next;
        writer.unflushed_messages += records as u64;
        writer.unflushed_bytes += batches.len() as u64;
        let must_sync = writer.unflushed_messages >= config.flush_messages
            || writer.unflushed_bytes >= config.flush_bytes
            || now.saturating_sub(writer.last_flush_ms) >= config.flush_ms;
        if must_sync {
            writer.unflushed_messages = 0;
            writer.unflushed_bytes = 0;
            writer.last_flush_ms = now;
        } else {
            self.high_watermark.store(next, Ordering::Release);
        }
        drop(writer);
        if must_sync {
            // Outside the writer lock, so appends go on while this one waits for its sync,
            // and one sync then covers many of them (see `Segment::sync_through`).
            // After a failed fdatasync the kernel may have dropped the dirty pages, so a later
            // sync could succeed over lost data: the log must not take more appends.
            let synced = active
                .sync_through(end)
                .inspect_err(|e| self.take_offline(&mut self.lock_writer(), e))?;
            self.record_sync(synced);
            self.high_watermark.fetch_max(next, Ordering::AcqRel);
        }
        Ok(AppendInfo {
            base_offset,
            last_offset: next - 1,
            log_append_time,
            log_start_offset: self.log_start_offset(),
        })
    }

    /// Answers a retried batch with the offsets it was first written at, once those are
    /// as durable as the flush policy promises.
    fn acknowledge_duplicate(
        &self,
        first_offset: i64,
        last_offset: i64,
    ) -> Result<AppendInfo, LogError> {
        if last_offset >= self.high_watermark() {
            // The original append may still be waiting for its sync.
            self.flush()?;
            self.high_watermark
                .fetch_max(last_offset + 1, Ordering::AcqRel);
        }
        Ok(AppendInfo {
            base_offset: first_offset,
            last_offset,
            log_append_time: -1,
            log_start_offset: self.log_start_offset(),
        })
    }

    /// Opens the key index when conditional appends were turned on since the last append
    /// (building it from the log), or deletes it when they were turned off: appends without
    /// the setting do not maintain it. The caller holds the writer lock.
    fn follow_conditional_setting(
        &self,
        keys: &mut Option<KeyIndex>,
        config: &LogConfig,
    ) -> Result<(), LogError> {
        match (config.conditional_append, keys.is_some()) {
            (true, false) => *keys = Some(KeyIndex::open(&self.dir, &self.segments())?),
            (false, true) => {
                *keys = None;
                KeyIndex::remove(&self.dir)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn take_offline(&self, writer: &mut Writer, error: &LogError) {
        tracing::error!(dir = %self.dir.display(), %error, "append failed; taking the log offline");
        writer.offline = true;
    }

    /// Seals the active segment and starts a new one at the next offset. Does nothing when the
    /// active segment is empty.
    pub fn roll(&self) -> Result<(), LogError> {
        let mut writer = self.lock_writer();
        writer.check_open()?;
        if !self.active().is_empty() {
            let producers = self.lock_producers();
            self.roll_locked(&mut writer, &producers, self.clock.now_ms())?;
        }
        Ok(())
    }

    /// Seals the active segment, snapshots the producer state at its end, and starts a new
    /// segment. The caller holds the writer and producer locks.
    fn roll_locked(
        &self,
        writer: &mut Writer,
        producers: &ProducerState,
        now: i64,
    ) -> Result<Arc<Segment>, LogError> {
        let old = self.active();
        old.seal()?;
        // After the seal, so the snapshot never covers batches that are not yet durable.
        producers.write_snapshot(&self.dir, writer.next_offset)?;
        if let Some(index) = self.lock_keys().as_mut() {
            index.checkpoint(writer.next_offset, self.log_start_offset())?;
        }
        let new = Arc::new(Segment::create(&self.dir, writer.next_offset, now)?);
        fsutil::sync_dir(&self.dir)?;
        let mut segments = self.segments().as_ref().clone();
        segments.push(Arc::clone(&new));
        self.replace_segments(segments);
        tracing::debug!(dir = %self.dir.display(), base = new.base_offset, "rolled segment");
        Ok(new)
    }

    /// Reads whole batches from the one containing `offset`, up to `max_bytes` (but at least
    /// one batch when there is one), never past the high watermark.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, LogError> {
        self.read_below(offset, max_bytes, i64::MAX, true)
    }

    /// As [`Log::read`], but never returns more than `max_bytes`, even if that means returning
    /// nothing: for the later partitions of a fetch, once the first has had its one batch.
    pub fn read_at_most(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, LogError> {
        self.read_below(offset, max_bytes, i64::MAX, false)
    }

    /// As [`Log::read`] (`min_one`) or [`Log::read_at_most`], returning only batches that
    /// start below `limit`: a `read_committed` reader passes the last stable offset.
    pub fn read_below(
        &self,
        offset: i64,
        max_bytes: usize,
        limit: i64,
        min_one: bool,
    ) -> Result<ReadResult, LogError> {
        let high_watermark = self.high_watermark();
        let log_start_offset = self.log_start_offset();
        if offset < log_start_offset || offset > high_watermark {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                log_start: log_start_offset,
                high_watermark,
            });
        }
        let segments = self.segments();
        let first = segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1);
        let mut records: Vec<u8> = Vec::new();
        let mut next = offset;
        let limit = limit.min(high_watermark);
        for segment in &segments[first..] {
            if next >= limit || records.len() >= max_bytes {
                break;
            }
            let Some((position, _)) = segment.locate(next)? else {
                continue; // `next` falls in a gap the cleaner left at this segment's end
            };
            let budget = max_bytes - records.len();
            let min_one = min_one && records.is_empty();
            let Some(extent) = segment.extent(position, budget, limit, min_one)? else {
                break; // the next batch does not fit in what is left of `max_bytes`
            };
            let bytes = segment.read_range(position, extent.len)?;
            if records.is_empty() {
                records = bytes;
            } else {
                records.extend_from_slice(&bytes);
            }
            next = extent.last_offset + 1;
            if next < segment.next_offset() {
                break;
            }
        }
        Ok(ReadResult {
            records,
            high_watermark,
            log_start_offset,
        })
    }

    /// The first record (in offset order) whose timestamp is at or after `timestamp`.
    pub fn offset_for_timestamp(
        &self,
        timestamp: i64,
    ) -> Result<Option<TimestampOffset>, LogError> {
        let log_start = self.log_start_offset();
        let high_watermark = self.high_watermark();
        for segment in self.segments().iter() {
            if segment.max_timestamp() < timestamp || segment.next_offset() <= log_start {
                continue;
            }
            let position = {
                let meta = segment.meta();
                u64::from(meta.offsets.lookup(meta.times.lookup(timestamp)))
            };
            let found = first_record_in(segment, position, |header, record| {
                header.base_offset < high_watermark
                    && record.offset >= log_start
                    && record.timestamp >= timestamp
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The record with the largest timestamp (the first such, if several share it).
    pub fn max_timestamp(&self) -> Result<Option<TimestampOffset>, LogError> {
        let log_start = self.log_start_offset();
        let segments = self.segments();
        let Some(segment) = segments
            .iter()
            .filter(|s| s.next_offset() > log_start && s.max_timestamp() >= 0)
            .max_by_key(|s| (s.max_timestamp(), std::cmp::Reverse(s.base_offset)))
        else {
            return Ok(None);
        };
        let (max, batch_offset) = {
            let meta = segment.meta();
            (meta.max_timestamp, meta.max_timestamp_batch)
        };
        let Some((position, _)) = segment.locate(batch_offset)? else {
            return Ok(None);
        };
        first_record_in(segment, position, |_, record| {
            record.timestamp == max && record.offset >= log_start
        })
    }

    /// Syncs the active segment to stable storage.
    pub fn flush(&self) -> Result<(), LogError> {
        let active = {
            let mut writer = self.lock_writer();
            writer.unflushed_messages = 0;
            writer.unflushed_bytes = 0;
            writer.last_flush_ms = self.clock.now_ms();
            self.active()
        };
        let synced = active.sync()?;
        self.record_sync(synced);
        Ok(())
    }

    fn record_sync(&self, took: Option<Duration>) {
        if let Some(took) = took {
            self.sync_latency.record(took);
        }
    }

    /// How many `fdatasync` calls appends and flushes have made since the log was opened.
    /// Below the number of durable appends when concurrent appenders share syncs.
    pub fn syncs(&self) -> u64 {
        self.sync_latency.count()
    }

    /// How long those `fdatasync` calls took.
    pub fn sync_latency(&self) -> LatencySnapshot {
        self.sync_latency.snapshot()
    }

    /// Flushes if `flush.ms` has passed since the last flush and something is unflushed; for
    /// a caller's timer. Returns whether it flushed.
    pub fn flush_if_due(&self) -> Result<bool, LogError> {
        let flush_ms = self.config().flush_ms;
        let due = {
            let writer = self.lock_writer();
            writer.unflushed_messages > 0
                && self.clock.now_ms().saturating_sub(writer.last_flush_ms) >= flush_ms
        };
        if due {
            self.flush()?;
        }
        Ok(due)
    }

    /// Bytes of the active segment not yet known to be on stable storage.
    pub fn unflushed_bytes(&self) -> u64 {
        let active = self.active();
        active.size().saturating_sub(active.synced_bytes())
    }

    /// Deletes whole closed segments past `retention.ms` (by their largest timestamp) or
    /// beyond `retention.bytes`, oldest first. The active segment is never deleted.
    pub fn enforce_retention(&self) -> Result<RetentionReport, LogError> {
        let config = self.config();
        if !config.cleanup_policy.deletes() {
            return Ok(RetentionReport::default());
        }
        let now = self.clock.now_ms();
        let _writer = self.lock_writer();
        let segments = self.segments();
        let closed = &segments[..segments.len() - 1];
        let mut count = 0;
        if config.retention_ms >= 0 {
            let horizon = now.saturating_sub(config.retention_ms);
            count = closed
                .iter()
                .take_while(|s| s.max_timestamp() < horizon)
                .count();
        }
        if config.retention_bytes >= 0 {
            let limit = config.retention_bytes as u64;
            let mut remaining: u64 = segments[count..].iter().map(|s| s.size()).sum();
            for segment in &closed[count..] {
                if remaining < limit + segment.size() {
                    break;
                }
                remaining -= segment.size();
                count += 1;
            }
        }
        self.delete_prefix(&segments, count, segments[count].base_offset)
    }

    /// Moves the log start offset to `offset` (Kafka's DeleteRecords) and deletes segments
    /// wholly below it. Returns the new log start offset.
    pub fn delete_records(&self, offset: i64) -> Result<i64, LogError> {
        let _writer = self.lock_writer();
        let high_watermark = self.high_watermark();
        let log_start = self.log_start_offset();
        if offset < 0 || offset > high_watermark {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                log_start,
                high_watermark,
            });
        }
        if offset <= log_start {
            return Ok(log_start);
        }
        let segments = self.segments();
        let count = segments
            .windows(2)
            .take_while(|pair| pair[1].base_offset <= offset)
            .count();
        self.delete_prefix(&segments, count, offset)?;
        Ok(self.log_start_offset())
    }

    /// Raises the log start offset to at least `new_start`, persists it, then drops the first
    /// `count` segments. The caller holds the writer lock.
    fn delete_prefix(
        &self,
        segments: &[Arc<Segment>],
        count: usize,
        new_start: i64,
    ) -> Result<RetentionReport, LogError> {
        let new_start = new_start.max(self.log_start_offset());
        if new_start > self.log_start_offset() {
            // Persisted before any file goes, so a crash never resurrects deleted records.
            checkpoint::write(&self.dir.join(LOG_START_FILE), new_start)?;
            self.log_start.store(new_start, Ordering::Release);
            self.lock_producers().truncate_below(new_start);
        }
        if count == 0 {
            return Ok(RetentionReport::default());
        }
        self.replace_segments(segments[count..].to_vec());
        let mut report = RetentionReport::default();
        for segment in &segments[..count] {
            report.bytes_deleted += segment.size();
            report.segments_deleted += 1;
            segment.delete_files()?;
        }
        fsutil::sync_dir(&self.dir)?;
        tracing::info!(dir = %self.dir.display(), deleted = count, log_start = new_start, "deleted old segments");
        Ok(report)
    }

    /// Flushes everything, writes the indexes and the clean-shutdown marker. Later appends
    /// fail with [`LogError::Closed`]; reads keep working.
    pub fn close(&self) -> Result<(), LogError> {
        let mut writer = self.lock_writer();
        if writer.closed {
            return Ok(());
        }
        writer.closed = true;
        let active = self.active();
        active.trim_to_size()?;
        active.seal()?;
        self.lock_producers()
            .write_snapshot(&self.dir, writer.next_offset)?;
        if let Some(index) = self.lock_keys().as_mut() {
            index.checkpoint(writer.next_offset, self.log_start_offset())?;
        }
        fsutil::write_atomically(&self.dir.join(CLEAN_SHUTDOWN_FILE), &[])
    }

    /// One past the last offset `read_committed` readers may see: the high watermark, or the
    /// first offset of the earliest open transaction if that is lower.
    pub fn last_stable_offset(&self) -> i64 {
        // The high watermark first: a transaction starting below it is already in the state.
        let high_watermark = self.high_watermark();
        let producers = self.lock_producers();
        let mut ending = self.lock_ending();
        // Markers below the high watermark are as durable as the flush policy promises.
        *ending = ending.split_off(&high_watermark);
        let first_unstable = producers
            .first_unstable_offset()
            .into_iter()
            .chain(ending.values().copied())
            .min();
        drop(ending);
        drop(producers);
        first_unstable
            .map_or(high_watermark, |first| first.min(high_watermark))
            .max(self.log_start_offset())
    }

    /// Aborted transactions with records in `[from, upto)`, for a `read_committed` fetch.
    /// Ask after reading the batches: compaction may remove a marker and its entry meanwhile,
    /// but never while batches of that transaction remain, so the list then covers every
    /// aborted batch read.
    pub fn aborted_transactions(&self, from: i64, upto: i64) -> Vec<AbortedTxn> {
        self.lock_producers().aborted_between(from, upto)
    }

    /// Forgets the aborted transactions whose markers (at `markers`) compaction removes, in
    /// memory and in the snapshot, which would otherwise bring them back on the next open.
    /// A reader handed such an entry without the marker that closes it would skip every
    /// later transactional batch of that producer. The caller holds the writer lock, so no
    /// roll or close rewrites the snapshot meanwhile.
    pub(crate) fn forget_aborted(&self, markers: &[i64]) -> Result<(), LogError> {
        if markers.is_empty() {
            return Ok(());
        }
        self.lock_producers().forget_aborted(markers);
        if let Some((mut snapshot, offset)) = ProducerState::read_snapshot(&self.dir)? {
            snapshot.forget_aborted(markers);
            snapshot.write_snapshot(&self.dir, offset)?;
        }
        Ok(())
    }

    /// What the log knows of a producer id.
    pub fn producer(&self, producer_id: i64) -> Option<ProducerEntry> {
        self.lock_producers().entry(producer_id).cloned()
    }

    /// Every producer the log remembers, by producer id.
    pub fn producers(&self) -> Vec<ProducerEntry> {
        let mut all: Vec<ProducerEntry> = self.lock_producers().entries().cloned().collect();
        all.sort_by_key(|e| e.producer_id);
        all
    }

    /// Producer ids with an open transaction on this log, with its first offset.
    pub fn open_transactions(&self) -> Vec<(i64, i64)> {
        self.lock_producers()
            .entries()
            .filter_map(|e| e.txn_first_offset.map(|first| (e.producer_id, first)))
            .collect()
    }

    /// Forgets producers idle for `max_idle_ms` (Kafka's `producer.id.expiration.ms`) that
    /// have no open transaction. Returns how many were removed.
    pub fn expire_producers(&self, max_idle_ms: i64) -> usize {
        let now = self.clock.now_ms();
        self.lock_producers().expire(now, max_idle_ms)
    }
}

/// What is appended: records (with their keys when the log checks expectations) or a
/// transaction marker.
enum Append {
    Data(Vec<KeyedRecord>),
    Marker(TxnMarker),
}

/// What an append does to the producer state once it is written.
enum ProducerChange {
    Data(Staged),
    Marker(TxnMarker),
}

/// Rebuilds the producer state: the snapshot, then every batch after it. The replay starts at
/// the snapshot even when the log start is past it: batches below the log start that are
/// still on disk changed the state when they were appended (they may open a transaction or
/// carry a producer's last sequence), so the state is the same as before the restart.
fn recover_producers(
    dir: &Path,
    segments: &[Arc<Segment>],
    log_start: i64,
    now: i64,
) -> Result<ProducerState, LogError> {
    let first = segments.first().map_or(log_start, |s| s.base_offset);
    let end = segments.last().map_or(log_start, |s| s.next_offset());
    let (mut state, from) = match ProducerState::read_snapshot(dir)? {
        Some((state, offset)) if offset <= end => (state, offset),
        Some((_, offset)) => {
            tracing::warn!(dir = %dir.display(), offset, end, "producer state snapshot is past the recovered log end; rebuilding from the log");
            // Once the log grows past `offset` again, the snapshot would pass for a
            // description of batches that are no longer there.
            ProducerState::remove_snapshot(dir)?;
            (ProducerState::default(), first)
        }
        None => (ProducerState::default(), first),
    };
    for segment in segments.iter().filter(|s| s.next_offset() > from) {
        let Some((position, _)) = segment.locate(from)? else {
            continue;
        };
        let mut reader = segment.batches_from(position);
        while let Some((_, header)) = reader.next_batch()? {
            if header.last_offset() < from || header.producer_id < 0 {
                continue;
            }
            if header.is_control() {
                if let Some(marker) = TxnMarker::from_batch(&header, reader.batch())? {
                    state.complete(&marker, header.base_offset, now);
                }
            } else {
                state.replay_data(&header, now);
            }
        }
    }
    state.truncate_below(log_start);
    Ok(state)
}

/// The keyed records whose expectations an append checks: none unless the topic has
/// conditional appends on. Read outside the writer lock: only the check and the index update
/// run under it.
fn keyed_records_if_conditional(
    batches: &[u8],
    headers: &[(usize, BatchHeader)],
    config: &LogConfig,
) -> Result<Vec<conditions::KeyedRecord>, BatchError> {
    if config.conditional_append {
        conditions::keyed_records(batches, headers)
    } else {
        Ok(Vec::new())
    }
}

/// Validates every batch before anything is written; returns each batch's start and header.
fn validate_for_append(
    batches: &[u8],
    config: &LogConfig,
) -> Result<Vec<(usize, BatchHeader)>, LogError> {
    if batches.is_empty() {
        return Err(BatchError::Empty.into());
    }
    let mut headers = Vec::new();
    let mut start = 0;
    for item in Batches::new(batches) {
        let (header, _) = item?;
        if header.total_len() as u64 > config.max_message_bytes {
            return Err(BatchError::TooLarge {
                size: header.total_len(),
                limit: config.max_message_bytes as usize,
            }
            .into());
        }
        if header.record_count <= 0
            || i64::from(header.record_count) != i64::from(header.last_offset_delta) + 1
        {
            return Err(BatchError::RecordCountMismatch {
                declared: header.record_count,
                found: header.last_offset_delta.saturating_add(1),
            }
            .into());
        }
        header.compression()?;
        headers.push((start, header));
        start += header.total_len();
    }
    Ok(headers)
}

fn should_roll(
    active: &Segment,
    incoming: u64,
    next_offset_after: i64,
    now: i64,
    config: &LogConfig,
) -> bool {
    if active.is_empty() {
        return false;
    }
    let size_after = active.size() + incoming;
    let meta = active.meta();
    size_after > config.segment_bytes
        || size_after > u64::from(u32::MAX)
        || now.saturating_sub(meta.created_ms) >= config.segment_ms
        || (meta.offsets.len() as u64 + 1) * crate::index::OFFSET_ENTRY_LEN as u64
            > config.segment_index_bytes
        || next_offset_after - active.base_offset > i64::from(u32::MAX)
}

/// Scans the segment's batches from `position` for the first data record `wanted` accepts.
fn first_record_in(
    segment: &Segment,
    position: u64,
    mut wanted: impl FnMut(&BatchHeader, &records::Record<'_>) -> bool,
) -> Result<Option<TimestampOffset>, LogError> {
    let mut reader = segment.batches_from(position);
    while let Some((_, header)) = reader.next_batch()? {
        if header.is_control() {
            continue;
        }
        let payload = records::payload(&header, reader.batch())?;
        let found = records::parse(&header, &payload)?
            .into_iter()
            .find(|record| wanted(&header, record))
            .map(|record| TimestampOffset {
                offset: record.offset,
                timestamp: record.timestamp,
            });
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// Removes leftovers of interrupted operations (temporary files, uncommitted cleaner output,
/// indexes without a log) and returns the base offsets of the segments, sorted.
fn tidy_and_list(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut bases = Vec::new();
    let mut indexes = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") || name.ends_with(CLEANED_SUFFIX) {
            fsutil::remove_if_exists(&entry.path())?;
            continue;
        }
        let Some((stem, ext)) = name.split_once('.') else {
            continue;
        };
        let Ok(base) = stem.parse::<i64>() else {
            continue;
        };
        match ext {
            LOG_EXT => bases.push(base),
            INDEX_EXT | TIME_INDEX_EXT => indexes.push((base, entry.path())),
            _ => {}
        }
    }
    bases.sort_unstable();
    for (base, path) in indexes {
        if bases.binary_search(&base).is_err() {
            fsutil::remove_if_exists(&path)?;
        }
    }
    Ok(bases)
}
