//! Helpers shared by the integration tests of the storage engine.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use runnel_log::{BatchBuilder, BatchHeader, Batches, Compression, Log, LogConfig, ManualClock};

/// A record as the tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// A record to build: key, value, timestamp.
pub type Spec<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, i64);

pub fn batch(records: &[Spec<'_>], compression: Compression) -> Vec<u8> {
    let mut builder = BatchBuilder::new(compression);
    for (key, value, timestamp) in records {
        builder.push(*timestamp, *key, *value, &[]);
    }
    builder.build().unwrap()
}

/// A batch of `count` records with `value_len`-byte values, keys `k{n}`, timestamps `ts`.
pub fn simple_batch(count: usize, value_len: usize, ts: i64) -> Vec<u8> {
    let value = vec![b'v'; value_len];
    let keys: Vec<Vec<u8>> = (0..count).map(|n| format!("k{n}").into_bytes()).collect();
    let records: Vec<_> = keys
        .iter()
        .map(|k| (Some(&k[..]), Some(&value[..]), ts))
        .collect();
    batch(&records, Compression::None)
}

/// A batch written by producer `pid` with `epoch` from sequence number `seq` on, part of the
/// producer's transaction if `transactional`.
pub fn producer_batch(
    pid: i64,
    epoch: i16,
    seq: i32,
    transactional: bool,
    records: &[Spec<'_>],
) -> Vec<u8> {
    let mut builder = BatchBuilder::new(Compression::None).producer(pid, epoch, seq);
    if transactional {
        builder = builder.transactional();
    }
    for (key, value, timestamp) in records {
        builder.push(*timestamp, *key, *value, &[]);
    }
    builder.build().unwrap()
}

/// The records of one batch.
pub fn records_of(header: &BatchHeader, batch: &[u8]) -> Vec<Rec> {
    let payload = runnel_log::batch_payload(header, batch).unwrap();
    runnel_log::parse_records(header, &payload)
        .unwrap()
        .into_iter()
        .map(|record| Rec {
            offset: record.offset,
            timestamp: record.timestamp,
            key: record.key.map(<[u8]>::to_vec),
            value: record.value.map(<[u8]>::to_vec),
        })
        .collect()
}

/// Every record in `bytes` (whole batches), control batches skipped.
pub fn decode(bytes: &[u8]) -> Vec<Rec> {
    Batches::new(bytes)
        .map(|item| item.expect("read returned an invalid batch"))
        .filter(|(header, _)| !header.is_control())
        .flat_map(|(header, batch)| records_of(&header, batch))
        .collect()
}

/// Whether a control batch holds an abort marker: its record's key is (version, type) and
/// type 0 is an abort.
pub fn is_abort_marker(header: &BatchHeader, batch: &[u8]) -> bool {
    let records = records_of(header, batch);
    let key = records[0].key.as_deref().unwrap();
    key[2..4] == [0, 0]
}

/// What a `read_committed` consumer sees of the whole log, filtering as Kafka's client does:
/// batches below the last stable offset only, control batches dropped, and a producer's
/// transactional batches skipped from the first offset of one of its aborted transactions
/// until its abort marker.
pub fn read_committed(log: &Log) -> Vec<Rec> {
    let start = log.log_start_offset();
    let stable = log.last_stable_offset();
    let mut aborted = log.aborted_transactions(start, stable);
    aborted.sort_by_key(|t| t.first_offset);
    let mut aborted = aborted.into_iter().peekable();
    let mut aborting = HashSet::new();
    let mut out = Vec::new();
    let mut next = start;
    while next < stable {
        let result = log.read(next, 1 << 20).unwrap();
        let before = next;
        for item in Batches::new(&result.records) {
            let (header, batch) = item.unwrap();
            if header.base_offset >= stable {
                break;
            }
            next = header.last_offset() + 1;
            if header.producer_id >= 0 {
                while let Some(txn) = aborted.next_if(|t| t.first_offset <= header.last_offset()) {
                    aborting.insert(txn.producer_id);
                }
            }
            if header.is_control() {
                if is_abort_marker(&header, batch) {
                    aborting.remove(&header.producer_id);
                }
                continue;
            }
            if header.is_transactional() && aborting.contains(&header.producer_id) {
                continue;
            }
            out.extend(
                records_of(&header, batch)
                    .into_iter()
                    .filter(|r| r.offset >= start && r.offset < stable),
            );
        }
        if next == before {
            break; // a gap the cleaner left at the end of the readable log
        }
    }
    out
}

/// Every record from `from` to the high watermark, read in chunks of `chunk` bytes. A read
/// that comes back empty below the high watermark ends it: the cleaner may have removed the
/// records at the end of the log, leaving a gap.
pub fn read_all_from(log: &Log, from: i64, chunk: usize) -> Vec<Rec> {
    let mut out: Vec<Rec> = Vec::new();
    let mut next = from;
    while next < log.high_watermark() {
        let result = log.read(next, chunk).unwrap();
        let records: Vec<Rec> = decode(&result.records)
            .into_iter()
            .filter(|r| r.offset >= next)
            .collect();
        let Some(last) = records.last() else {
            break;
        };
        next = last.offset + 1;
        out.extend(records);
    }
    out
}

/// Every batch from the log start to the high watermark, control batches included.
pub fn all_batches(log: &Log) -> Vec<(BatchHeader, Vec<u8>)> {
    let mut out = Vec::new();
    let mut next = log.log_start_offset();
    while next < log.high_watermark() {
        let result = log.read(next, 1 << 20).unwrap();
        let before = next;
        for item in Batches::new(&result.records) {
            let (header, batch) = item.unwrap();
            if header.last_offset() >= next {
                next = header.last_offset() + 1;
                out.push((header, batch.to_vec()));
            }
        }
        if next == before {
            break; // a gap the cleaner left at the end of the readable log
        }
    }
    out
}

pub fn read_all(log: &Log) -> Vec<Rec> {
    read_all_from(log, log.log_start_offset(), 1 << 20)
}

pub fn open(dir: &std::path::Path, config: LogConfig, clock: &Arc<ManualClock>) -> Log {
    Log::open(dir, config, Arc::clone(clock) as Arc<dyn runnel_log::Clock>).unwrap()
}

pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(1_700_000_000_000))
}

/// The log file of the last segment in `dir`.
pub fn last_segment(dir: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

pub fn last_segment_len(dir: &Path) -> u64 {
    fs::metadata(last_segment(dir)).unwrap().len()
}

/// A copy of the files of `from` in a new temporary directory.
pub fn copy_dir(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(&path, to.path().join(path.file_name().unwrap())).unwrap();
    }
    to
}

/// Cuts the last segment of `dir` to `len` bytes, as a crash might.
pub fn truncate_last_segment(dir: &Path, len: u64) {
    let file = fs::OpenOptions::new()
        .write(true)
        .open(last_segment(dir))
        .unwrap();
    file.set_len(len).unwrap();
}
