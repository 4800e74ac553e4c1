//! A crash at every step of a compaction swap leaves a log that opens, reads in offset order,
//! and still holds every key's latest value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::swap::Steps;
use crate::{
    BatchBuilder, Batches, CleanupPolicy, Clock, Compression, Log, LogConfig, ManualClock,
};

fn config() -> LogConfig {
    LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        // Segments are rolled by hand at about 400 bytes, so the cleaner groups three or so
        // into one replacement and a swap also deletes segments.
        segment_bytes: 1_300,
        min_cleanable_dirty_ratio: 0.0,
        delete_retention_ms: 0,
        ..LogConfig::default()
    }
}

fn open(dir: &Path, clock: &Arc<ManualClock>) -> Log {
    Log::open(dir, config(), Arc::clone(clock) as Arc<dyn Clock>).unwrap()
}

/// (offset, key, value) of every record from the log start.
fn contents(log: &Log) -> Vec<(i64, Vec<u8>, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut next = log.log_start_offset();
    while next < log.high_watermark() {
        let bytes = log.read(next, 1 << 20).unwrap().records;
        let before = out.len();
        for item in Batches::new(&bytes) {
            let (header, batch) = item.unwrap();
            let payload = crate::records::payload(&header, batch).unwrap();
            for r in crate::records::parse(&header, &payload).unwrap() {
                if r.offset >= next {
                    out.push((
                        r.offset,
                        r.key.unwrap().to_vec(),
                        r.value.map(<[u8]>::to_vec),
                    ));
                }
            }
        }
        if out.len() == before {
            break;
        }
        next = out[out.len() - 1].0 + 1;
    }
    out
}

/// Writes several segments of updates and deletions; returns every record written.
fn populate(dir: &Path, clock: &Arc<ManualClock>) -> Vec<(i64, Vec<u8>, Option<Vec<u8>>)> {
    let log = open(dir, clock);
    for round in 0..6u8 {
        for key in 0..4u8 {
            let mut builder = BatchBuilder::new(if key % 2 == 0 {
                Compression::None
            } else {
                Compression::Lz4
            });
            let value = [round; 30];
            let deleted = key == 3 && round == 5;
            builder.push(
                clock.now_ms(),
                Some(&[b'k', key]),
                (!deleted).then_some(&value[..]),
                &[],
            );
            log.append(&mut builder.build().unwrap(), 0).unwrap();
        }
        log.roll().unwrap();
    }
    let all = contents(&log);
    log.close().unwrap();
    all
}

#[test]
fn a_crash_at_any_step_of_a_swap_keeps_every_latest_value() {
    let clock = Arc::new(ManualClock::new(1_000));
    let mut steps_survived = 0;
    for crash_after in 0.. {
        let dir = tempfile::tempdir().unwrap();
        let written = populate(dir.path(), &clock);
        clock.advance(1);
        let log = open(dir.path(), &clock);
        let finished = log
            .compact_with(&mut Steps::crash_after(crash_after))
            .is_ok();
        drop(log); // no clean close: the process died here

        let log = open(dir.path(), &clock);
        let got = contents(&log);
        assert!(
            got.windows(2).all(|w| w[0].0 < w[1].0),
            "offsets increase after a crash at step {crash_after}"
        );
        for record in &got {
            assert!(
                written.contains(record),
                "record {record:?} was never written (step {crash_after})"
            );
        }
        let mut latest = BTreeMap::new();
        for (offset, key, value) in &written {
            latest.insert(key.clone(), (*offset, value.clone()));
        }
        for (key, (offset, value)) in latest {
            let present = got.iter().any(|(o, k, _)| *o == offset && *k == key);
            assert!(
                present || value.is_none(),
                "latest value of {key:?} lost at step {crash_after}"
            );
        }
        // Whatever state the crash left, the next pass completes the job.
        log.compact().unwrap();
        let mut keys: Vec<_> = contents(&log).into_iter().map(|(_, k, _)| k).collect();
        keys.sort();
        assert_eq!(
            keys,
            vec![vec![b'k', 0], vec![b'k', 1], vec![b'k', 2]],
            "after recovery at step {crash_after}"
        );
        if finished {
            break;
        }
        steps_survived += 1;
    }
    assert!(
        steps_survived >= 8,
        "a swap has at least eight steps; saw {steps_survived}"
    );
}
