//! `runnel-log` is Runnel's storage engine: one append-only, segmented, checksummed log per
//! partition, holding Kafka v2 record batches as producers sent them (recompressed only when
//! the log's `compression.type` names another codec).
//!
//! Architecture invariant: this crate knows nothing of networking, async runtimes or the
//! Kafka request framing. It reads and writes files with positioned I/O and takes time from
//! an injected [`Clock`]. The on-disk format is described in `docs/storage-format.md`.

mod batch;
mod checkpoint;
mod cleaner;
mod clock;
mod conditions;
mod config;
mod decompress;
mod error;
mod fsutil;
mod index;
mod key_index;
mod latency;
mod log;
mod producers;
mod records;
mod segment;
mod swap;
#[cfg(test)]
mod swap_crash_tests;
mod validate;

pub use batch::{
    validate as validate_batch, BatchHeader, Batches, Compression, HEADER_LEN, LOG_OVERHEAD,
};
pub use cleaner::{CleanerTotals, CompactionReport, LogCleaner, OFFSET_MAP_MAX_BYTES};
pub use clock::{Clock, ManualClock, SystemClock};
pub use conditions::{
    Conflict, COMPACT_EXPECTED_OFFSET_HEADER, EXPECTED_OFFSET_HEADER, EXPECT_NO_RECORD,
};
pub use config::{CleanupPolicy, CompressionType, LogConfig, TimestampType, CONFIG_NAMES};
pub use decompress::MAX_DECOMPRESSED_BYTES;
pub use error::{BatchError, LogError, RecordError, RecordFault};
pub use fsutil::{sync_dir, write_atomically};
pub use latency::{LatencySnapshot, LATENCY_BOUNDS_MICROS};
pub use log::{AppendInfo, Log, ReadResult, RetentionReport, TimestampOffset};
pub use producers::{AbortedTxn, ProducerEntry, TxnMarker, CACHED_BATCHES};
pub use records::{parse as parse_records, payload as batch_payload, BatchBuilder, Header, Record};
