//! The key index against a model: random conditional and plain appends (some in
//! transactions that commit or abort), rolls, retention, record deletion, compaction, and
//! clean or crash restarts. The model keeps the whole history of appended records and
//! derives every key's latest offset from it by a scan, a different computation from the
//! index's incremental one; it predicts whether each append is accepted and, if refused,
//! exactly which expectations failed and what each key's latest offset is.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use runnel_log::{Clock, Conflict, Log, LogConfig, LogError, ManualClock, EXPECT_NO_RECORD};

use crate::{cond_batch, conditional_config, marker, Cond};

const KEYS: [&str; 4] = ["k0", "k1", "k2", "k3"];
const PIDS: [i64; 2] = [501, 502];

#[derive(Debug, Clone)]
enum Expect {
    None,
    /// What the model says is the latest offset: the append should pass (unless a
    /// transaction holds the key).
    Latest,
    NoRecord,
    /// The model's latest offset shifted by this much (0 is skipped): stale or made up.
    Off(i64),
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        /// Writes in the open transaction of this producer, else outside transactions.
        txn: Option<usize>,
        records: Vec<(usize, bool, Expect)>,
    },
    End {
        producer: usize,
        commit: bool,
    },
    Roll,
    Reopen {
        clean: bool,
    },
    DeleteRecords {
        at: u16,
    },
    Retention,
    Compact,
}

fn expect() -> impl Strategy<Value = Expect> {
    prop_oneof![
        2 => Just(Expect::None),
        4 => Just(Expect::Latest),
        1 => Just(Expect::NoRecord),
        2 => (-3i64..3).prop_filter("a shift", |d| *d != 0).prop_map(Expect::Off),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let record = (0..KEYS.len(), prop::bool::weighted(0.1), expect());
    prop_oneof![
        12 => (prop::option::weighted(0.3, 0..PIDS.len()), prop::collection::vec(record, 1..4))
            .prop_map(|(txn, records)| Op::Append { txn, records }),
        2 => (0..PIDS.len(), any::<bool>()).prop_map(|(producer, commit)| Op::End { producer, commit }),
        2 => Just(Op::Roll),
        2 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
        1 => any::<u16>().prop_map(|at| Op::DeleteRecords { at }),
        1 => Just(Op::Retention),
        1 => Just(Op::Compact),
    ]
}

/// One appended record as the model remembers it.
#[derive(Debug, Clone)]
struct Appended {
    offset: i64,
    key: usize,
    tombstone: bool,
    /// The transaction it was written in: (producer, that producer's transaction number).
    txn: Option<(usize, u32)>,
}

#[derive(Debug, Default)]
struct Model {
    history: Vec<Appended>,
    /// Per producer: its open transaction's number, if one is open, and the next number.
    open: [Option<u32>; 2],
    next_txn: [u32; 2],
    committed: Vec<(usize, u32)>,
    sequence: [i32; 2],
    log_start: i64,
}

impl Model {
    fn counts(&self, record: &Appended, writer: Option<usize>) -> bool {
        match record.txn {
            None => true,
            Some((producer, number)) => {
                self.committed.contains(&(producer, number))
                    || (writer == Some(producer) && self.open[producer] == Some(number))
            }
        }
    }

    /// The offset an expectation on `key` by `writer` must name, or the producer whose open
    /// transaction holds the key.
    fn latest(&self, key: usize, writer: Option<usize>) -> (i64, Option<usize>) {
        let held = self.history.iter().rev().find(|r| {
            r.key == key
                && r.txn.is_some_and(|(producer, number)| {
                    Some(producer) != writer && self.open[producer] == Some(number)
                })
        });
        if let Some(record) = held {
            return (record.offset, record.txn.map(|(producer, _)| producer));
        }
        let latest = self
            .history
            .iter()
            .filter(|r| r.key == key && self.counts(r, writer))
            .max_by_key(|r| r.offset);
        let offset = match latest {
            Some(r) if !r.tombstone && r.offset >= self.log_start => r.offset,
            _ => EXPECT_NO_RECORD,
        };
        (offset, None)
    }
}

fn config() -> LogConfig {
    let mut config = conditional_config();
    for (name, value) in [
        ("cleanup.policy", "compact,delete"),
        ("min.cleanable.dirty.ratio", "0"),
        ("delete.retention.ms", "0"),
        ("retention.bytes", "1500"),
        ("segment.bytes", "1000"),
    ] {
        config.set(name, value).unwrap();
    }
    config
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(crate::TS));
    let open = || Log::open(dir.path(), config(), Arc::clone(&clock) as Arc<dyn Clock>).unwrap();
    let mut log = open();
    let mut model = Model::default();
    for op in ops {
        clock.advance(1);
        match op {
            Op::Append { txn, records } => {
                let expectations: Vec<Option<i64>> = records
                    .iter()
                    .map(|(key, _, expect)| {
                        let (latest, _) = model.latest(*key, txn);
                        match expect {
                            Expect::None => None,
                            Expect::Latest => Some(latest),
                            Expect::NoRecord => Some(EXPECT_NO_RECORD),
                            Expect::Off(d) => Some((latest + d).max(EXPECT_NO_RECORD)),
                        }
                    })
                    .collect();
                let specs: Vec<Cond<'_>> = records
                    .iter()
                    .zip(&expectations)
                    .map(|((key, tombstone, _), expected)| {
                        (KEYS[*key], (!tombstone).then_some("v"), *expected)
                    })
                    .collect();
                let producer = txn.map(|p| (PIDS[p], model.sequence[p], true));
                let mut batch = cond_batch(&specs, producer);
                // Each record is judged with the batch's earlier records in the log.
                let mut earlier: HashMap<usize, (i64, bool)> = HashMap::new();
                let next = log.high_watermark();
                let mut predicted = Vec::new();
                for (index, ((key, tombstone, _), expected)) in
                    records.iter().zip(&expectations).enumerate()
                {
                    if let Some(expected) = *expected {
                        let (latest, held) = match (model.latest(*key, txn), earlier.get(key)) {
                            ((offset, Some(p)), _) => (offset, Some(p)),
                            (_, Some(&(offset, tombstone))) => {
                                (if tombstone { EXPECT_NO_RECORD } else { offset }, None)
                            }
                            (found, None) => found,
                        };
                        if held.is_some() || latest != expected {
                            predicted.push(Conflict {
                                record_index: index,
                                key: KEYS[*key].as_bytes().to_vec(),
                                expected,
                                latest,
                                open_transaction_of: held.map(|p| PIDS[p]),
                            });
                        }
                    }
                    earlier.insert(*key, (next + index as i64, *tombstone));
                }
                match log.append(&mut batch, 0) {
                    Ok(info) => {
                        prop_assert!(predicted.is_empty(), "accepted despite {predicted:?}");
                        let txn = txn.map(|p| {
                            model.sequence[p] += records.len() as i32;
                            let number = *model.open[p].get_or_insert_with(|| {
                                model.next_txn[p] += 1;
                                model.next_txn[p]
                            });
                            (p, number)
                        });
                        for (i, (key, tombstone, _)) in records.iter().enumerate() {
                            model.history.push(Appended {
                                offset: info.base_offset + i as i64,
                                key: *key,
                                tombstone: *tombstone,
                                txn,
                            });
                        }
                    }
                    Err(LogError::ConditionFailed(conflicts)) => {
                        prop_assert_eq!(conflicts, predicted);
                    }
                    Err(other) => return Err(TestCaseError::fail(format!("append: {other}"))),
                }
            }
            Op::End { producer, commit } => {
                if let Some(number) = model.open[producer].take() {
                    log.append_marker(marker(PIDS[producer], commit), 0)
                        .unwrap();
                    if commit {
                        model.committed.push((producer, number));
                    }
                }
            }
            Op::Roll => log.roll().unwrap(),
            Op::Reopen { clean } => {
                if clean {
                    log.close().unwrap();
                }
                drop(log);
                log = open();
            }
            Op::DeleteRecords { at } => {
                let target = log.high_watermark() * i64::from(at) / i64::from(u16::MAX);
                log.delete_records(target.min(log.last_stable_offset()))
                    .unwrap();
            }
            Op::Retention => {
                log.enforce_retention().unwrap();
            }
            Op::Compact => {
                log.compact().unwrap();
            }
        }
        model.log_start = log.log_start_offset();
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_key_index_matches_a_model(ops in prop::collection::vec(op(), 1..80)) {
        run(ops)?;
    }
}
