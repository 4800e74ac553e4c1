//! The log against a model: random sequences of appends, reads, time lookups, rolls,
//! retention, record deletion and restarts (clean or crash) must always agree with a plain
//! vector of records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{batch, decode, read_all, Rec};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use runnel_log::{Clock, Compression, Log, LogConfig, ManualClock};

#[derive(Debug, Clone)]
enum Op {
    /// Records as (key, value length, timestamp relative to the clock).
    Append {
        records: Vec<(Option<u8>, Option<u16>, i64)>,
        codec: u8,
    },
    Read {
        at: u16,
        max_bytes: u16,
    },
    ReadByTime {
        ts: i64,
    },
    Roll,
    Advance {
        ms: i64,
    },
    Retention,
    DeleteRecords {
        at: u16,
    },
    Reopen {
        clean: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop::collection::vec((prop::option::of(0u8..8), prop::option::of(0u16..300), -1_000i64..1_000), 1..6), 0u8..5)
            .prop_map(|(records, codec)| Op::Append { records, codec }),
        4 => (any::<u16>(), 1u16..3_000).prop_map(|(at, max_bytes)| Op::Read { at, max_bytes }),
        2 => (-2_000i64..30_000).prop_map(|ts| Op::ReadByTime { ts }),
        1 => Just(Op::Roll),
        2 => (0i64..3_000).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Retention),
        1 => any::<u16>().prop_map(|at| Op::DeleteRecords { at }),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

fn codec(n: u8) -> Compression {
    Compression::ALL[n as usize % 5]
}

fn config(retention: u8) -> LogConfig {
    LogConfig {
        segment_bytes: 1_500,
        index_interval_bytes: 200,
        // Records are stamped within a second of the clock, which moves forward in steps of
        // up to 3 s, so time retention keeps removing segments as the clock passes them.
        retention_ms: if retention.is_multiple_of(2) {
            1_500
        } else {
            -1
        },
        retention_bytes: if retention.is_multiple_of(3) {
            3_000
        } else {
            -1
        },
        ..LogConfig::default()
    }
}

struct Model {
    records: Vec<Rec>,
    log_start: i64,
    next_offset: i64,
}

impl Model {
    fn live(&self) -> Vec<Rec> {
        self.records
            .iter()
            .filter(|r| r.offset >= self.log_start)
            .cloned()
            .collect()
    }
}

/// Runs the operations; returns whether retention deleted anything.
fn run(ops: Vec<Op>, retention: u8) -> Result<bool, TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(0));
    let config = config(retention);
    let open = |clock: &Arc<ManualClock>| {
        Log::open(
            dir.path(),
            config.clone(),
            Arc::clone(clock) as Arc<dyn Clock>,
        )
        .unwrap()
    };
    let mut log = open(&clock);
    let mut model = Model {
        records: Vec::new(),
        log_start: 0,
        next_offset: 0,
    };
    let mut retention_ran = false;

    for op in ops {
        match op {
            Op::Append { records, codec: c } => {
                let values: Vec<Option<Vec<u8>>> = records
                    .iter()
                    .map(|(_, v, _)| v.map(|n| vec![b'x'; n as usize]))
                    .collect();
                let keys: Vec<Option<Vec<u8>>> =
                    records.iter().map(|(k, _, _)| k.map(|k| vec![k])).collect();
                let spec: Vec<_> = records
                    .iter()
                    .enumerate()
                    .map(|(i, (_, _, ts))| {
                        (
                            keys[i].as_deref(),
                            values[i].as_deref(),
                            clock.now_ms() + ts,
                        )
                    })
                    .collect();
                let info = log.append(&mut batch(&spec, codec(c)), 0).unwrap();
                prop_assert_eq!(info.base_offset, model.next_offset);
                for (i, (_, _, ts)) in records.iter().enumerate() {
                    model.records.push(Rec {
                        offset: model.next_offset,
                        timestamp: clock.now_ms() + ts,
                        key: keys[i].clone(),
                        value: values[i].clone(),
                    });
                    model.next_offset += 1;
                }
            }
            Op::Read { at, max_bytes } => {
                let span = model.next_offset - model.log_start + 1;
                let offset = model.log_start + i64::from(at) % span;
                let result = log.read(offset, max_bytes as usize).unwrap();
                prop_assert_eq!(result.high_watermark, model.next_offset);
                let got: Vec<Rec> = decode(&result.records)
                    .into_iter()
                    .filter(|r| r.offset >= offset)
                    .collect();
                let expected: Vec<Rec> = model
                    .live()
                    .into_iter()
                    .filter(|r| r.offset >= offset)
                    .take(got.len())
                    .collect();
                prop_assert_eq!(&got, &expected);
                if offset < model.next_offset {
                    prop_assert!(
                        !got.is_empty(),
                        "a read below the end returns at least one batch"
                    );
                }
            }
            Op::ReadByTime { ts } => {
                let expected = model
                    .live()
                    .into_iter()
                    .find(|r| r.timestamp >= ts)
                    .map(|r| (r.offset, r.timestamp));
                let got = log
                    .offset_for_timestamp(ts)
                    .unwrap()
                    .map(|t| (t.offset, t.timestamp));
                prop_assert_eq!(got, expected);
            }
            Op::Roll => log.roll().unwrap(),
            Op::Advance { ms } => clock.advance(ms),
            Op::Retention => {
                let before = log.log_start_offset();
                let report = log.enforce_retention().unwrap();
                retention_ran |= report.segments_deleted > 0;
                let after = log.log_start_offset();
                prop_assert!(after >= before);
                let horizon = clock.now_ms() - config.retention_ms;
                if config.retention_ms >= 0 && config.retention_bytes < 0 {
                    // Time retention alone deletes only segments whose every record expired.
                    for r in model
                        .records
                        .iter()
                        .filter(|r| r.offset >= before && r.offset < after)
                    {
                        prop_assert!(r.timestamp < horizon, "deleted live record {:?}", r);
                    }
                }
                model.log_start = after;
            }
            Op::DeleteRecords { at } => {
                let span = model.next_offset - model.log_start + 1;
                let offset = model.log_start + i64::from(at) % span;
                prop_assert_eq!(
                    log.delete_records(offset).unwrap(),
                    offset.max(model.log_start)
                );
                model.log_start = offset.max(model.log_start);
            }
            Op::Reopen { clean } => {
                if clean {
                    log.close().unwrap();
                }
                drop(log);
                log = open(&clock);
            }
        }
        prop_assert_eq!(log.high_watermark(), model.next_offset);
        prop_assert_eq!(log.log_start_offset(), model.log_start);
    }
    prop_assert_eq!(read_all(&log), model.live());
    Ok(retention_ran)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_log_agrees_with_the_model(ops in prop::collection::vec(op(), 1..60), retention in any::<u8>()) {
        run(ops, retention)?;
    }
}

#[test]
fn the_generated_sequences_exercise_retention() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut deleted = 0;
    for _ in 0..40 {
        let ops = prop::collection::vec(op(), 40..60)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        deleted += u32::from(run(ops, 0).unwrap());
    }
    assert!(
        deleted >= 10,
        "retention deleted segments in only {deleted} of 40 runs"
    );
}
