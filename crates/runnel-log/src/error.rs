//! The one error type of the storage engine.

use std::io;
use std::path::PathBuf;

/// Why a batch handed to [`crate::Log::append`] was refused. Nothing of a refused append is
/// written.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("batch is truncated: {available} bytes where {needed} are needed")]
    Truncated { needed: usize, available: usize },
    #[error("batch length field {0} is out of range")]
    BadLength(i32),
    #[error("unsupported record batch magic {0} (only v2 is stored)")]
    UnsupportedMagic(i8),
    #[error("CRC-32C mismatch: header says {expected:#010x}, content gives {actual:#010x}")]
    CrcMismatch { expected: u32, actual: u32 },
    #[error("batch of {size} bytes exceeds max.message.bytes {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("unknown compression codec {0}")]
    UnknownCompression(i16),
    #[error("malformed record inside batch: {0}")]
    MalformedRecord(&'static str),
    #[error("record count {declared} in header but {found} records in the batch")]
    RecordCountMismatch { declared: i32, found: i32 },
    #[error("last offset delta {0} is negative or overflows the base offset")]
    BadOffsetDelta(i32),
    #[error("could not decompress batch: {0}")]
    Decompression(String),
    #[error("batch decompresses to more than {limit} bytes")]
    DecompressedTooLarge { limit: usize },
    #[error("could not compress batch: {0}")]
    Compression(String),
    /// Records refused one by one (Kafka's per-record errors); nothing of the append is
    /// written.
    #[error("{} record(s) refused: {fault}", records.len())]
    RecordsRefused {
        fault: RecordFault,
        records: Vec<RecordError>,
    },
    #[error("no batch given")]
    Empty,
    #[error("control batches are written by the transaction coordinator only")]
    ControlBatch,
    #[error("invalid conditional append: {0}")]
    InvalidExpectation(&'static str),
}

/// Why records of an append were refused one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordFault {
    #[error("a compacted log refuses records without a key")]
    MissingKey,
    #[error("record timestamps out of the range message.timestamp.before.max.ms and message.timestamp.after.max.ms allow")]
    TimestampOutOfRange,
}

/// One refused record: its index among the records of the append (in a single batch, its
/// index in the batch, Kafka's `batch_index`), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub index: i32,
    pub message: String,
}

/// Errors of the log as a whole.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    InvalidBatch(#[from] BatchError),
    #[error("offset {requested} is outside the log [{log_start}, {high_watermark}]")]
    OffsetOutOfRange {
        requested: i64,
        log_start: i64,
        high_watermark: i64,
    },
    #[error("corrupt batch in {segment} at position {position}: {error}")]
    Corrupt {
        segment: PathBuf,
        position: u64,
        error: BatchError,
    },
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("the log is closed")]
    Closed,
    #[error("producer {producer_id} wrote with epoch {epoch}, older than its current {current}")]
    InvalidProducerEpoch {
        producer_id: i64,
        epoch: i16,
        current: i16,
    },
    #[error("producer {producer_id} sent sequence {received} where {expected} was expected")]
    OutOfOrderSequence {
        producer_id: i64,
        expected: i32,
        received: i32,
    },
    #[error("a request of several batches repeats an already written one")]
    DuplicateSequence,
    #[error("invalid transaction state: {0}")]
    InvalidTxnState(&'static str),
    #[error("the log is offline after an I/O error on append; reopen it to recover")]
    Offline,
    /// A conditional append refused because expectations did not hold; nothing was written.
    #[error("conditional append refused: {}", describe_conflicts(.0))]
    ConditionFailed(Vec<crate::Conflict>),
    #[error("key index {path}: {source}")]
    KeyIndex {
        path: PathBuf,
        #[source]
        source: Box<redb::Error>,
    },
}

/// The first conflicts, one clause each, and how many more there are.
fn describe_conflicts(conflicts: &[crate::Conflict]) -> String {
    const SHOWN: usize = 3;
    let mut text = conflicts
        .iter()
        .take(SHOWN)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if conflicts.len() > SHOWN {
        text.push_str(&format!(" (and {} more)", conflicts.len() - SHOWN));
    }
    text
}

impl LogError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        LogError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Attaches the path to an `io::Result`, so every I/O error names the file it concerns.
pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T, LogError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T, LogError> {
        self.map_err(|e| LogError::io(path, e))
    }
}
