//! Helpers shared by the integration tests of the storage engine.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use runnel_log::{BatchBuilder, Batches, Compression, Log, LogConfig, ManualClock};

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

/// Every record in `bytes` (whole batches), control batches skipped.
pub fn decode(bytes: &[u8]) -> Vec<Rec> {
    let mut out = Vec::new();
    for item in Batches::new(bytes) {
        let (header, batch) = item.expect("read returned an invalid batch");
        if header.is_control() {
            continue;
        }
        let payload = runnel_log::batch_payload(&header, batch).unwrap();
        for record in runnel_log::parse_records(&header, &payload).unwrap() {
            out.push(Rec {
                offset: record.offset,
                timestamp: record.timestamp,
                key: record.key.map(<[u8]>::to_vec),
                value: record.value.map(<[u8]>::to_vec),
            });
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

pub fn read_all(log: &Log) -> Vec<Rec> {
    read_all_from(log, log.log_start_offset(), 1 << 20)
}

pub fn open(dir: &std::path::Path, config: LogConfig, clock: &Arc<ManualClock>) -> Log {
    Log::open(dir, config, Arc::clone(clock) as Arc<dyn runnel_log::Clock>).unwrap()
}

pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(1_700_000_000_000))
}
