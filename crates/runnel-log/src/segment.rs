//! One segment: a log file of whole batches named by its base offset, with its sparse offset
//! and time indexes.
//!
//! Only the log's writer appends to a segment; readers use positioned reads on the same file
//! and see bytes only up to `size`, which the writer publishes after the bytes are written.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use rustix::buffer::spare_capacity;

use crate::batch::{self, BatchHeader, HEADER_LEN};
use crate::error::{BatchError, IoContext, LogError};
use crate::fsutil;
use crate::index::{OffsetIndex, TimeIndex};

pub(crate) const LOG_EXT: &str = "log";
pub(crate) const INDEX_EXT: &str = "index";
pub(crate) const TIME_INDEX_EXT: &str = "timeindex";
/// Files written by the cleaner before they replace the originals.
pub(crate) const CLEANED_SUFFIX: &str = ".cleaned";

/// Appends start the kernel's write-back of each full chunk of this many bytes behind them.
/// The `fdatasync` that seals a segment when it rolls, while appends wait, then finds at most
/// about this much still dirty instead of up to the whole segment (a 1 GiB segment written
/// faster than the kernel's own write-back took half a second to seal).
const WRITE_BACK_CHUNK: u64 = 8 << 20;

/// Reads for recovery and cleaning go through a buffer of this size.
const SCAN_CHUNK: usize = 1 << 20;

pub(crate) fn file_name(base_offset: i64, ext: &str) -> String {
    format!("{base_offset:020}.{ext}")
}

pub(crate) fn path(dir: &Path, base_offset: i64, ext: &str) -> PathBuf {
    dir.join(file_name(base_offset, ext))
}

pub(crate) fn cleaned_path(dir: &Path, base_offset: i64, ext: &str) -> PathBuf {
    dir.join(format!("{}{CLEANED_SUFFIX}", file_name(base_offset, ext)))
}

/// What the log knows about a segment besides its bytes.
#[derive(Debug, Clone)]
pub(crate) struct SegmentMeta {
    pub(crate) offsets: OffsetIndex,
    pub(crate) times: TimeIndex,
    /// One past the last offset stored, or the base offset when empty.
    pub(crate) next_offset: i64,
    /// Largest batch max timestamp, -1 when the segment holds no batch.
    pub(crate) max_timestamp: i64,
    /// Base offset of the batch holding `max_timestamp`.
    pub(crate) max_timestamp_batch: i64,
    bytes_since_entry: u64,
    /// When this process first saw the segment; `segment.ms` counts from here.
    pub(crate) created_ms: i64,
}

impl SegmentMeta {
    fn new(base_offset: i64, now_ms: i64) -> Self {
        SegmentMeta {
            offsets: OffsetIndex::default(),
            times: TimeIndex::default(),
            next_offset: base_offset,
            max_timestamp: -1,
            max_timestamp_batch: -1,
            bytes_since_entry: 0,
            created_ms: now_ms,
        }
    }

    /// Accounts for a batch stored at `position`, adding index entries every
    /// `index_interval` bytes.
    fn observe(&mut self, base: i64, header: &BatchHeader, position: u64, index_interval: u64) {
        let relative = relative(base, header.base_offset);
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.max_timestamp_batch = header.base_offset;
        }
        if self.bytes_since_entry >= index_interval && position > 0 {
            self.offsets.push(relative, position as u32);
            self.times.push(self.max_timestamp, relative);
            self.bytes_since_entry = 0;
        }
        self.bytes_since_entry += header.total_len() as u64;
        self.next_offset = header.last_offset() + 1;
    }
}

fn relative(base: i64, offset: i64) -> u32 {
    u32::try_from((offset - base).max(0)).unwrap_or(u32::MAX)
}

#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) base_offset: i64,
    dir: PathBuf,
    /// Where the log file lives once in place (a cleaned segment is renamed here).
    log_path: PathBuf,
    file: File,
    /// Bytes of complete batches; readers never look past it.
    size: AtomicU64,
    /// Bytes known to be on stable storage.
    synced: AtomicU64,
    /// Bytes whose write-back appends have started; see [`WRITE_BACK_CHUNK`].
    written_back: AtomicU64,
    /// Whether an `fdatasync` is running; see [`Segment::sync_through`].
    syncing: Mutex<bool>,
    sync_done: Condvar,
    meta: RwLock<SegmentMeta>,
}

/// How much of a segment's existing content to trust when opening it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenMode {
    /// The log was closed cleanly, or the segment was sealed: load the indexes, scan only
    /// past the last index entry. If the indexes are missing or don't fit the log file, fall
    /// back to validating every batch, truncating at the first invalid one, and rebuilding
    /// the indexes.
    Trusted,
    /// The active segment after a crash: validate every batch as above, and since batches
    /// there were appended one after another, require each to start exactly where the
    /// previous one ended. This catches a damaged base offset, which the CRC does not cover.
    RecoverTail,
}

impl Segment {
    /// Creates an empty segment file. The caller syncs the directory.
    pub(crate) fn create(dir: &Path, base_offset: i64, now_ms: i64) -> Result<Segment, LogError> {
        let log_path = path(dir, base_offset, LOG_EXT);
        Self::create_at(dir, &log_path, base_offset, now_ms)
    }

    /// Creates the cleaner's replacement for the segment at `base_offset`.
    pub(crate) fn create_cleaned(
        dir: &Path,
        base_offset: i64,
        now_ms: i64,
    ) -> Result<Segment, LogError> {
        let log_path = cleaned_path(dir, base_offset, LOG_EXT);
        Self::create_at(dir, &log_path, base_offset, now_ms)
    }

    fn create_at(
        dir: &Path,
        log_path: &Path,
        base_offset: i64,
        now_ms: i64,
    ) -> Result<Segment, LogError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(log_path)
            .at(log_path)?;
        Ok(Segment {
            base_offset,
            dir: dir.to_owned(),
            log_path: path(dir, base_offset, LOG_EXT),
            file,
            size: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            written_back: AtomicU64::new(0),
            syncing: Mutex::new(false),
            sync_done: Condvar::new(),
            meta: RwLock::new(SegmentMeta::new(base_offset, now_ms)),
        })
    }

    /// Opens an existing segment. Returns it with the number of bytes cut off its tail.
    pub(crate) fn open(
        dir: &Path,
        base_offset: i64,
        mode: OpenMode,
        index_interval: u64,
        now_ms: i64,
    ) -> Result<(Segment, u64), LogError> {
        let log_path = path(dir, base_offset, LOG_EXT);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&log_path)
            .at(&log_path)?;
        let len = file.metadata().at(&log_path)?.len();
        let segment = Segment {
            base_offset,
            dir: dir.to_owned(),
            log_path: log_path.clone(),
            file,
            size: AtomicU64::new(len),
            synced: AtomicU64::new(len),
            written_back: AtomicU64::new(len),
            syncing: Mutex::new(false),
            sync_done: Condvar::new(),
            meta: RwLock::new(SegmentMeta::new(base_offset, now_ms)),
        };
        if mode == OpenMode::Trusted {
            if let Some(meta) = segment.load_indexes(len, index_interval, now_ms)? {
                *segment.meta_mut() = meta;
                return Ok((segment, 0));
            }
            tracing::info!(segment = %log_path.display(), "indexes missing or invalid; rebuilding");
        }
        let truncated = segment.recover(index_interval, mode == OpenMode::RecoverTail)?;
        Ok((segment, truncated))
    }

    /// Loads the index files and scans the few batches past the last entry. `None` when the
    /// files are missing or do not describe this log file.
    fn load_indexes(
        &self,
        len: u64,
        index_interval: u64,
        now_ms: i64,
    ) -> Result<Option<SegmentMeta>, LogError> {
        let (Some(index_bytes), Some(time_bytes)) = (
            read_optional(&path(&self.dir, self.base_offset, INDEX_EXT))?,
            read_optional(&path(&self.dir, self.base_offset, TIME_INDEX_EXT))?,
        ) else {
            return Ok(None);
        };
        let (Some(offsets), Some(times)) = (
            OffsetIndex::decode(&index_bytes, len),
            TimeIndex::decode(&time_bytes),
        ) else {
            return Ok(None);
        };
        let mut meta = SegmentMeta::new(self.base_offset, now_ms);
        if let Some((t, r)) = times.last() {
            meta.max_timestamp = t;
            meta.max_timestamp_batch = self.base_offset + i64::from(r);
        }
        let start = offsets.last().map_or(0, |(_, p)| u64::from(p));
        meta.offsets = offsets;
        meta.times = times;
        let mut reader = BatchReader::new(&self.file, &self.log_path, start, len);
        while let Some((position, header)) = reader.next_batch()? {
            meta.observe(self.base_offset, &header, position, index_interval);
        }
        if reader.position() != len {
            return Ok(None);
        }
        Ok(Some(meta))
    }

    /// Validates every batch, truncates the file after the last valid one and rebuilds the
    /// indexes. Returns the bytes removed.
    fn recover(&self, index_interval: u64, contiguous: bool) -> Result<u64, LogError> {
        let len = self.size();
        let mut meta = SegmentMeta::new(self.base_offset, self.meta().created_ms);
        let mut reader = BatchReader::new(&self.file, &self.log_path, 0, len);
        while let Some((position, header)) = reader.next_batch()? {
            let in_order = if contiguous {
                header.base_offset == meta.next_offset
            } else {
                header.base_offset >= meta.next_offset
            };
            if !in_order {
                tracing::warn!(
                    segment = self.base_offset,
                    position,
                    "batch offset out of sequence; truncating"
                );
                reader.stop_at(position);
                break;
            }
            meta.observe(self.base_offset, &header, position, index_interval);
        }
        let valid = reader.position();
        if let Some(err) = reader.error() {
            tracing::warn!(segment = self.base_offset, valid, len, %err, "truncating invalid tail");
        }
        if valid < len {
            self.file.set_len(valid).at(&self.log_path)?;
            self.file.sync_all().at(&self.log_path)?;
        }
        self.size.store(valid, Ordering::Release);
        self.synced.store(valid, Ordering::Release);
        self.written_back.store(valid, Ordering::Relaxed);
        *self.meta_mut() = meta;
        Ok(len - valid)
    }

    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub(crate) fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    pub(crate) fn meta(&self) -> RwLockReadGuard<'_, SegmentMeta> {
        self.meta
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn meta_mut(&self) -> RwLockWriteGuard<'_, SegmentMeta> {
        self.meta
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn next_offset(&self) -> i64 {
        self.meta().next_offset
    }

    pub(crate) fn max_timestamp(&self) -> i64 {
        self.meta().max_timestamp
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.size() == 0
    }

    /// Appends whole, validated batches with their offsets already assigned. `batches`
    /// lists each batch's start within `bytes` and its header. Only the log's writer calls
    /// this. Returns the segment's size after the append.
    pub(crate) fn append(
        &self,
        bytes: &[u8],
        batches: &[(usize, BatchHeader)],
        index_interval: u64,
    ) -> Result<u64, LogError> {
        let position = self.size.load(Ordering::Acquire);
        self.file.write_all_at(bytes, position).at(&self.log_path)?;
        {
            let mut meta = self.meta_mut();
            for (start, header) in batches {
                meta.observe(
                    self.base_offset,
                    header,
                    position + *start as u64,
                    index_interval,
                );
            }
        }
        let end = position + bytes.len() as u64;
        self.size.store(end, Ordering::Release);
        self.start_write_back(end);
        Ok(end)
    }

    /// Starts the write-back of every full [`WRITE_BACK_CHUNK`] below `end` not yet started.
    fn start_write_back(&self, end: u64) {
        let from = self.written_back.load(Ordering::Relaxed);
        let upto = end - end % WRITE_BACK_CHUNK;
        if upto <= from {
            return;
        }
        self.written_back.store(upto, Ordering::Relaxed);
        // Under `flush.messages=1` syncs keep up with appends: nothing is left to start.
        let from = from.max(self.synced.load(Ordering::Acquire));
        if from >= upto {
            return;
        }
        if let Err(error) = fsutil::start_write_back(&self.file, from, upto - from) {
            // Only a head start: the fdatasync that makes these bytes durable reports any
            // real I/O error.
            tracing::debug!(path = %self.log_path.display(), %error, "cannot start write-back");
        }
    }

    /// Bytes whose write-back has been started; see [`WRITE_BACK_CHUNK`].
    #[cfg(test)]
    fn written_back_bytes(&self) -> u64 {
        self.written_back.load(Ordering::Relaxed)
    }

    /// Makes every byte written so far durable. Returns how long its `fdatasync` took, if
    /// it called one.
    pub(crate) fn sync(&self) -> Result<Option<Duration>, LogError> {
        self.sync_through(self.size())
    }

    /// Makes the first `upto` bytes durable. This is group commit: one `fdatasync` runs at a
    /// time, and it covers every byte written before it started. A caller waits while one
    /// runs; if that one did not cover its bytes, the first waiter to wake starts the next,
    /// for itself and everyone who wrote in the meantime. Returns how long the `fdatasync`
    /// this call issued took, if it issued one.
    ///
    /// Overlapping syncs (each appender its own unless one in flight covers it) were measured
    /// too: they leave the grouping to the file system, which shared far fewer of them, and
    /// appended 20 to 50 % less with 8 to 64 appenders (BENCHMARKS.md).
    pub(crate) fn sync_through(&self, upto: u64) -> Result<Option<Duration>, LogError> {
        if self.synced.load(Ordering::Acquire) >= upto {
            return Ok(None);
        }
        let mut syncing = self.syncing.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if self.synced.load(Ordering::Acquire) >= upto {
                return Ok(None);
            }
            if !*syncing {
                break;
            }
            syncing = self
                .sync_done
                .wait(syncing)
                .unwrap_or_else(|p| p.into_inner());
        }
        let target = self.size();
        *syncing = true;
        drop(syncing);

        let started = Instant::now();
        let result = self.file.sync_data();
        let took = started.elapsed();

        let mut syncing = self.syncing.lock().unwrap_or_else(|p| p.into_inner());
        if result.is_ok() {
            self.synced.fetch_max(target, Ordering::AcqRel);
        }
        // A failed sync made nothing durable: its waiters wake and try for themselves.
        *syncing = false;
        drop(syncing);
        self.sync_done.notify_all();
        result.at(&self.log_path)?;
        Ok(Some(took))
    }

    pub(crate) fn synced_bytes(&self) -> u64 {
        self.synced.load(Ordering::Acquire)
    }

    /// Syncs the log file and writes both index files, each replaced atomically. After this
    /// the segment can be opened in [`OpenMode::Trusted`].
    pub(crate) fn seal(&self) -> Result<(), LogError> {
        self.seal_as(false)
    }

    /// Seals the cleaner's replacement: its index files get the `.cleaned` suffix too.
    pub(crate) fn seal_cleaned(&self) -> Result<(), LogError> {
        self.seal_as(true)
    }

    fn seal_as(&self, cleaned: bool) -> Result<(), LogError> {
        let _synced = self.sync()?;
        let (offsets, times) = {
            let mut meta = self.meta_mut();
            let (max, batch) = (meta.max_timestamp, meta.max_timestamp_batch);
            if max >= 0 {
                meta.times.push(max, relative(self.base_offset, batch));
            }
            (meta.offsets.encode(), meta.times.encode())
        };
        let place = |ext| {
            if cleaned {
                cleaned_path(&self.dir, self.base_offset, ext)
            } else {
                path(&self.dir, self.base_offset, ext)
            }
        };
        fsutil::write_atomically(&place(INDEX_EXT), &offsets)?;
        fsutil::write_atomically(&place(TIME_INDEX_EXT), &times)
    }

    /// Cuts the log file back to `size` bytes: drops bytes a failed write may have left past
    /// the last complete batch, so the file can be trusted on the next open.
    pub(crate) fn trim_to_size(&self) -> Result<(), LogError> {
        let on_disk = self.file.metadata().at(&self.log_path)?.len();
        if on_disk > self.size() {
            self.file.set_len(self.size()).at(&self.log_path)?;
        }
        Ok(())
    }

    /// Removes the segment's files, the log file first so a crash leaves no log without its
    /// indexes being rebuildable. Open readers keep reading the unlinked file.
    pub(crate) fn delete_files(&self) -> Result<(), LogError> {
        for ext in [LOG_EXT, INDEX_EXT, TIME_INDEX_EXT] {
            fsutil::remove_if_exists(&path(&self.dir, self.base_offset, ext))?;
        }
        Ok(())
    }

    /// Position of the first batch whose last offset is at or past `offset`.
    pub(crate) fn locate(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let size = self.size();
        let mut position = u64::from(
            self.meta()
                .offsets
                .lookup(relative(self.base_offset, offset)),
        );
        while position + HEADER_LEN as u64 <= size {
            let header = self.header_at(position)?;
            if header.last_offset() >= offset {
                return Ok(Some((position, header)));
            }
            position += header.total_len() as u64;
        }
        Ok(None)
    }

    fn header_at(&self, position: u64) -> Result<BatchHeader, LogError> {
        let mut buf = [0u8; HEADER_LEN];
        self.file
            .read_exact_at(&mut buf, position)
            .at(&self.log_path)?;
        BatchHeader::parse(&buf).map_err(|e| self.corrupt(position, e))
    }

    fn corrupt(&self, position: u64, error: BatchError) -> LogError {
        LogError::Corrupt {
            segment: self.log_path.clone(),
            position,
            error,
        }
    }

    /// The whole batches starting at `position`, up to `max_bytes` and below offset `limit`.
    /// When `min_one` is set, the first batch counts even if it is larger than `max_bytes`, so
    /// a reader can always make progress. Only the headers are read, not the records.
    pub(crate) fn extent(
        &self,
        position: u64,
        max_bytes: usize,
        limit: i64,
        min_one: bool,
    ) -> Result<Option<Extent>, LogError> {
        let size = self.size();
        let mut headers = HeaderWindow::default();
        let mut end = position;
        let mut last_offset = None;
        while end + HEADER_LEN as u64 <= size {
            let header = headers.header_at(self, end, size)?;
            let next = end + header.total_len() as u64;
            let fits = next - position <= max_bytes as u64 || (min_one && last_offset.is_none());
            if header.base_offset >= limit || next > size || !fits {
                break;
            }
            last_offset = Some(header.last_offset());
            end = next;
        }
        Ok(last_offset.map(|last_offset| Extent {
            len: (end - position) as usize,
            last_offset,
        }))
    }

    /// The `len` bytes at `position`, read into memory that is not zeroed first (a fetch
    /// reads megabytes, and zeroing them cost as much as a tenth of serving them).
    pub(crate) fn read_range(&self, position: u64, len: usize) -> Result<Vec<u8>, LogError> {
        let mut bytes = Vec::with_capacity(len);
        while bytes.len() < len {
            let at = position + bytes.len() as u64;
            let read = rustix::io::pread(&self.file, spare_capacity(&mut bytes), at)
                .map_err(|e| LogError::io(&self.log_path, e.into()))?;
            if read == 0 {
                let eof = std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("log file ends inside the {len} bytes at {position}"),
                );
                return Err(LogError::io(&self.log_path, eof));
            }
        }
        // The allocation may have had room for more than was asked.
        bytes.truncate(len);
        Ok(bytes)
    }

    /// A reader over the validated batches from `position` to the current end.
    pub(crate) fn batches_from(&self, position: u64) -> BatchReader<'_> {
        BatchReader::new(&self.file, &self.log_path, position, self.size())
    }
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, LogError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LogError::io(path, e)),
    }
}

/// Whole batches found by [`Segment::extent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extent {
    pub(crate) len: usize,
    pub(crate) last_offset: i64,
}

/// Reads batch headers for [`Segment::extent`] with few system calls: small batches are
/// read a window at a time, and after a large batch only the next header is read, so the
/// records themselves are not copied.
#[derive(Debug)]
struct HeaderWindow {
    buf: [u8; HEADER_WINDOW],
    start: u64,
    len: usize,
    /// Whether the last batch was larger than the window.
    large: bool,
}

const HEADER_WINDOW: usize = 4096;

impl Default for HeaderWindow {
    fn default() -> Self {
        HeaderWindow {
            buf: [0; HEADER_WINDOW],
            start: 0,
            len: 0,
            large: false,
        }
    }
}

impl HeaderWindow {
    /// The header at `position`; the caller has checked that it lies below `size`.
    fn header_at(
        &mut self,
        segment: &Segment,
        position: u64,
        size: u64,
    ) -> Result<BatchHeader, LogError> {
        let inside =
            position >= self.start && position + HEADER_LEN as u64 <= self.start + self.len as u64;
        if !inside {
            let want = if self.large {
                HEADER_LEN
            } else {
                HEADER_WINDOW
            };
            let len = (want as u64).min(size - position) as usize;
            segment
                .file
                .read_exact_at(&mut self.buf[..len], position)
                .at(&segment.log_path)?;
            self.start = position;
            self.len = len;
        }
        let at = (position - self.start) as usize;
        let header = BatchHeader::parse(&self.buf[at..self.len])
            .map_err(|e| segment.corrupt(position, e))?;
        self.large = header.total_len() > HEADER_WINDOW;
        Ok(header)
    }
}

/// Reads whole batches sequentially through a large buffer, validating each (structure and
/// CRC). Stops at the end or at the first invalid or incomplete batch; [`Self::position`] is
/// then the end of the valid prefix and [`Self::error`] says why it stopped early.
#[derive(Debug)]
pub(crate) struct BatchReader<'a> {
    file: &'a File,
    path: &'a Path,
    position: u64,
    end: u64,
    buf: Vec<u8>,
    buf_start: u64,
    current: std::ops::Range<usize>,
    error: Option<BatchError>,
    done: bool,
}

impl<'a> BatchReader<'a> {
    fn new(file: &'a File, path: &'a Path, position: u64, end: u64) -> Self {
        BatchReader {
            file,
            path,
            position,
            end,
            buf: Vec::new(),
            buf_start: position,
            current: 0..0,
            error: None,
            done: false,
        }
    }

    pub(crate) fn position(&self) -> u64 {
        self.position
    }

    pub(crate) fn error(&self) -> Option<&BatchError> {
        self.error.as_ref()
    }

    fn stop_at(&mut self, position: u64) {
        self.position = position;
        self.done = true;
    }

    /// The bytes of the batch last returned by [`Self::next_batch`].
    pub(crate) fn batch(&self) -> &[u8] {
        &self.buf[self.current.clone()]
    }

    /// The next valid batch's position and header, or `None` at the end of the valid prefix.
    pub(crate) fn next_batch(&mut self) -> Result<Option<(u64, BatchHeader)>, LogError> {
        if self.done || self.position >= self.end {
            return Ok(None);
        }
        let remaining = self.end - self.position;
        if remaining < HEADER_LEN as u64 {
            return Ok(self.fail(BatchError::Truncated {
                needed: HEADER_LEN,
                available: remaining as usize,
            }));
        }
        self.fill(HEADER_LEN)?;
        let header = match BatchHeader::parse(&self.buf[self.window_start()..]) {
            Ok(header) => header,
            Err(e) => return Ok(self.fail(e)),
        };
        let total = header.total_len();
        if total as u64 > remaining {
            return Ok(self.fail(BatchError::Truncated {
                needed: total,
                available: remaining as usize,
            }));
        }
        self.fill(total)?;
        let start = self.window_start();
        if let Err(e) = batch::validate(&self.buf[start..start + total]) {
            return Ok(self.fail(e));
        }
        self.current = start..start + total;
        let position = self.position;
        self.position += total as u64;
        Ok(Some((position, header)))
    }

    fn window_start(&self) -> usize {
        (self.position - self.buf_start) as usize
    }

    /// Ensures the buffer holds `len` bytes from the current position.
    fn fill(&mut self, len: usize) -> Result<(), LogError> {
        let have = (self.buf_start + self.buf.len() as u64).saturating_sub(self.position);
        if self.position >= self.buf_start && have >= len as u64 {
            return Ok(());
        }
        let want = (len.max(SCAN_CHUNK) as u64).min(self.end - self.position) as usize;
        self.buf.resize(want, 0);
        self.file
            .read_exact_at(&mut self.buf, self.position)
            .at(self.path)?;
        self.buf_start = self.position;
        Ok(())
    }

    fn fail(&mut self, error: BatchError) -> Option<(u64, BatchHeader)> {
        self.error = Some(error);
        self.done = true;
        None
    }
}

#[cfg(test)]
mod write_back_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn appends_start_the_write_back_of_each_full_chunk_behind_them() {
        let dir = tempfile::tempdir().unwrap();
        let segment = Segment::create(dir.path(), 0, 0).unwrap();
        let half_chunk = vec![7u8; (WRITE_BACK_CHUNK / 2) as usize];
        segment.append(&half_chunk, &[], 4096).unwrap();
        assert_eq!(segment.written_back_bytes(), 0, "no full chunk yet");
        for _ in 0..4 {
            segment.append(&half_chunk, &[], 4096).unwrap();
        }
        assert_eq!(segment.written_back_bytes(), 2 * WRITE_BACK_CHUNK);
        assert_eq!(
            segment.synced_bytes(),
            0,
            "starting write-back is not a sync"
        );
        segment.sync().unwrap();
        assert_eq!(segment.synced_bytes(), 5 * WRITE_BACK_CHUNK / 2);

        let (reopened, cut) = Segment::open(dir.path(), 0, OpenMode::RecoverTail, 4096, 0).unwrap();
        assert_eq!(
            cut,
            segment.size(),
            "the bytes were no batches, so recovery cut them"
        );
        assert_eq!(reopened.written_back_bytes(), 0, "the mark follows the cut");
    }
}
