//! The producer state against a model: random operations of three producers (idempotent or
//! transactional appends with the next sequence, a retry, a gap or a stale epoch; commits,
//! aborts and epoch bumps), rolls, clean and crash restarts, retention and record deletion.
//! The model, a vector of records with their transaction status and what each producer has
//! written, predicts every outcome, the last stable offset and what a `read_committed`
//! reader sees.

use std::collections::VecDeque;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::FileFailurePersistence;
use runnel_log::{AppendInfo, Clock, Log, LogConfig, LogError, ManualClock, CACHED_BATCHES};

use crate::common::{read_committed, Rec};
use crate::{data, marker, TS};

/// The producer ids the operations choose from.
const PIDS: [i64; 3] = [101, 102, 103];

#[derive(Debug, Clone)]
enum Seq {
    Next,
    /// A retry of one of the batches the log remembers (by index, modulo their number).
    Retry(usize),
    /// The next sequence plus this much.
    Gap(i32),
    /// The next sequence, with the epoch before the one the log knows.
    StaleEpoch,
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        producer: usize,
        transactional: bool,
        count: i32,
        seq: Seq,
    },
    End {
        producer: usize,
        commit: bool,
    },
    /// A marker with the epoch before the one the log knows.
    StaleMarker {
        producer: usize,
    },
    /// The producer restarts with the next epoch; the coordinator aborts its open
    /// transaction with that epoch, fencing the old one.
    Bump {
        producer: usize,
    },
    Roll,
    Reopen {
        clean: bool,
    },
    DeleteRecords {
        at: u16,
    },
    Retention,
}

fn op() -> impl Strategy<Value = Op> {
    let seq = prop_oneof![
        6 => Just(Seq::Next),
        2 => (0..CACHED_BATCHES).prop_map(Seq::Retry),
        1 => (1i32..3).prop_map(Seq::Gap),
        1 => Just(Seq::StaleEpoch),
    ];
    prop_oneof![
        12 => (0..PIDS.len(), any::<bool>(), 1i32..4, seq).prop_map(
            |(producer, transactional, count, seq)| {
                Op::Append { producer, transactional, count, seq }
            }
        ),
        4 => (0..PIDS.len(), any::<bool>())
            .prop_map(|(producer, commit)| Op::End { producer, commit }),
        1 => (0..PIDS.len()).prop_map(|producer| Op::StaleMarker { producer }),
        1 => (0..PIDS.len()).prop_map(|producer| Op::Bump { producer }),
        1 => Just(Op::Roll),
        2 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
        1 => any::<u16>().prop_map(|at| Op::DeleteRecords { at }),
        1 => Just(Op::Retention),
    ]
}

fn config(retention: bool) -> LogConfig {
    LogConfig {
        segment_bytes: 500,
        retention_ms: -1,
        retention_bytes: if retention { 1_000 } else { -1 },
        ..LogConfig::default()
    }
}

/// A batch the log remembers for its producer.
#[derive(Debug, Clone, Copy)]
struct Sent {
    epoch: i16,
    seq: i32,
    count: i32,
    transactional: bool,
    first: i64,
}

#[derive(Debug, Default)]
struct Producer {
    /// The epoch the producer writes with.
    epoch: i16,
    /// The epoch the log knows, once it has seen the producer.
    known: Option<i16>,
    next_seq: i32,
    /// The last batches written in the known epoch, at most `CACHED_BATCHES`.
    sent: VecDeque<Sent>,
    /// First offset of its open transaction.
    open: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Plain,
    Open(usize),
    Committed,
    Aborted,
}

/// How an append ended, as the model predicts it.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Ok { first: i64, last: i64 },
    Fenced { epoch: i16, current: i16 },
    OutOfOrder { expected: i32, received: i32 },
    TxnState,
}

fn outcome(result: Result<AppendInfo, LogError>) -> Outcome {
    match result {
        Ok(info) => Outcome::Ok {
            first: info.base_offset,
            last: info.last_offset,
        },
        Err(LogError::InvalidProducerEpoch { epoch, current, .. }) => {
            Outcome::Fenced { epoch, current }
        }
        Err(LogError::OutOfOrderSequence {
            expected, received, ..
        }) => Outcome::OutOfOrder { expected, received },
        Err(LogError::InvalidTxnState(_)) => Outcome::TxnState,
        Err(other) => panic!("unexpected error {other}"),
    }
}

/// How often each kind of outcome came up, to check the generator reaches them all.
#[derive(Debug, Default)]
struct Tally {
    duplicates: u32,
    fenced: u32,
    out_of_order: u32,
    txn_state: u32,
    aborts: u32,
    crashes_with_open_transactions: u32,
    deletions_past_an_open_transaction: u32,
}

#[derive(Debug, Default)]
struct Model {
    producers: [Producer; 3],
    records: Vec<(Rec, Status)>,
    next_offset: i64,
    log_start: i64,
}

impl Model {
    /// What appending this batch must do. A retry is recognised first; then the epoch, the
    /// sequence and the transaction rules are checked, in Kafka's order.
    fn predict_data(&self, producer: usize, sent: Sent) -> Outcome {
        let p = &self.producers[producer];
        let last_seq = sent.seq + sent.count - 1;
        if p.known == Some(sent.epoch) {
            if let Some(original) = p
                .sent
                .iter()
                .find(|s| s.seq == sent.seq && s.seq + s.count - 1 == last_seq)
            {
                return Outcome::Ok {
                    first: original.first,
                    last: original.first + i64::from(original.count) - 1,
                };
            }
        }
        match p.known {
            Some(current) if sent.epoch < current => {
                return Outcome::Fenced {
                    epoch: sent.epoch,
                    current,
                }
            }
            Some(current) if sent.epoch > current => {
                if p.open.is_some() {
                    return Outcome::TxnState;
                }
                if sent.seq != 0 && !p.sent.is_empty() {
                    return Outcome::OutOfOrder {
                        expected: 0,
                        received: sent.seq,
                    };
                }
            }
            _ => {
                if let Some(last) = p.sent.back() {
                    let expected = last.seq + last.count;
                    if sent.seq != expected {
                        return Outcome::OutOfOrder {
                            expected,
                            received: sent.seq,
                        };
                    }
                }
            }
        }
        if !sent.transactional && p.open.is_some() {
            return Outcome::TxnState;
        }
        Outcome::Ok {
            first: self.next_offset,
            last: self.next_offset + i64::from(sent.count) - 1,
        }
    }

    /// Records a batch the log wrote.
    fn written(&mut self, producer: usize, mut sent: Sent) {
        sent.first = self.next_offset;
        let p = &mut self.producers[producer];
        if p.known != Some(sent.epoch) {
            p.sent.clear();
        }
        p.known = Some(sent.epoch);
        if p.sent.len() == CACHED_BATCHES {
            p.sent.pop_front();
        }
        p.sent.push_back(sent);
        p.next_seq = sent.seq + sent.count;
        let status = if sent.transactional {
            p.open.get_or_insert(self.next_offset);
            Status::Open(producer)
        } else {
            Status::Plain
        };
        for seq in sent.seq..sent.seq + sent.count {
            let key = format!("{}-{seq}", PIDS[producer]).into_bytes();
            let rec = Rec {
                offset: self.next_offset,
                timestamp: TS,
                key: Some(key),
                value: Some(b"v".to_vec()),
            };
            self.records.push((rec, status));
            self.next_offset += 1;
        }
    }

    /// Records a marker the log wrote with `epoch`.
    fn ended(&mut self, producer: usize, epoch: i16, commit: bool) {
        let p = &mut self.producers[producer];
        if p.known.is_none_or(|known| epoch > known) {
            p.known = Some(epoch);
            p.sent.clear();
        }
        if p.open.take().is_some() {
            let status = if commit {
                Status::Committed
            } else {
                Status::Aborted
            };
            for (_, s) in &mut self.records {
                if *s == Status::Open(producer) {
                    *s = status;
                }
            }
        }
        self.next_offset += 1;
    }

    fn last_stable_offset(&self) -> i64 {
        self.producers
            .iter()
            .filter_map(|p| p.open)
            .min()
            .map_or(self.next_offset, |first| {
                first.max(self.log_start).min(self.next_offset)
            })
    }

    fn committed(&self) -> Vec<Rec> {
        let stable = self.last_stable_offset();
        self.records
            .iter()
            .filter(|(r, s)| {
                r.offset >= self.log_start
                    && r.offset < stable
                    && matches!(s, Status::Plain | Status::Committed)
            })
            .map(|(r, _)| r.clone())
            .collect()
    }

    fn open_transactions(&self) -> Vec<(i64, i64)> {
        PIDS.iter()
            .zip(&self.producers)
            .filter_map(|(&pid, p)| p.open.map(|first| (pid, first)))
            .collect()
    }
}

fn check(log: &Log, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(log.high_watermark(), model.next_offset);
    prop_assert_eq!(log.log_start_offset(), model.log_start);
    prop_assert_eq!(log.last_stable_offset(), model.last_stable_offset());
    let mut open = log.open_transactions();
    open.sort_unstable();
    prop_assert_eq!(open, model.open_transactions());
    for (&pid, p) in PIDS.iter().zip(&model.producers) {
        let entry = log.producer(pid);
        prop_assert_eq!(
            entry.map(|e| (e.epoch, e.last_sequence())),
            p.known
                .map(|known| (known, p.sent.back().map(|s| s.seq + s.count - 1)))
        );
    }
    prop_assert_eq!(read_committed(log), model.committed());
    Ok(())
}

fn run(ops: Vec<Op>, retention: bool) -> Result<Tally, TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let open = || {
        Log::open(
            dir.path(),
            config(retention),
            Arc::clone(&clock) as Arc<dyn Clock>,
        )
        .unwrap()
    };
    let mut log = open();
    let mut model = Model::default();
    let mut tally = Tally::default();

    for op in ops {
        match op {
            Op::Append {
                producer,
                transactional,
                count,
                seq,
            } => {
                let p = &model.producers[producer];
                let fresh = |epoch, seq| Sent {
                    epoch,
                    seq,
                    count,
                    transactional,
                    first: -1,
                };
                let sent = match seq {
                    Seq::Next => Some(fresh(p.epoch, p.next_seq)),
                    Seq::Gap(gap) => Some(fresh(p.epoch, p.next_seq + gap)),
                    Seq::StaleEpoch => p
                        .known
                        .filter(|&known| known > 0)
                        .map(|known| fresh(known - 1, p.next_seq)),
                    Seq::Retry(i) => (!p.sent.is_empty()).then(|| p.sent[i % p.sent.len()]),
                };
                let Some(sent) = sent else {
                    continue;
                };
                let expected = model.predict_data(producer, sent);
                let mut batch = data(
                    PIDS[producer],
                    sent.epoch,
                    sent.seq,
                    sent.count,
                    sent.transactional,
                );
                let got = outcome(log.append(&mut batch, 0));
                prop_assert_eq!(&got, &expected, "{:?} of producer {}", sent, producer);
                match got {
                    Outcome::Ok { first, .. } if first < model.next_offset => {
                        tally.duplicates += 1;
                    }
                    Outcome::Ok { .. } => model.written(producer, sent),
                    Outcome::Fenced { .. } => tally.fenced += 1,
                    Outcome::OutOfOrder { .. } => tally.out_of_order += 1,
                    Outcome::TxnState => tally.txn_state += 1,
                }
            }
            Op::End { producer, commit } => {
                let epoch = model.producers[producer].epoch;
                let info = log
                    .append_marker(marker(PIDS[producer], epoch, commit), 0)
                    .unwrap();
                prop_assert_eq!(info.base_offset, model.next_offset);
                tally.aborts += u32::from(!commit && model.producers[producer].open.is_some());
                model.ended(producer, epoch, commit);
            }
            Op::StaleMarker { producer } => {
                let Some(current) = model.producers[producer].known.filter(|&k| k > 0) else {
                    continue;
                };
                let result = log.append_marker(marker(PIDS[producer], current - 1, true), 0);
                prop_assert_eq!(
                    outcome(result),
                    Outcome::Fenced {
                        epoch: current - 1,
                        current
                    }
                );
                tally.fenced += 1;
            }
            Op::Bump { producer } => {
                let p = &mut model.producers[producer];
                p.epoch += 1;
                p.next_seq = 0;
                if p.open.is_some() {
                    let epoch = p.epoch;
                    log.append_marker(marker(PIDS[producer], epoch, false), 0)
                        .unwrap();
                    tally.aborts += 1;
                    model.ended(producer, epoch, false);
                }
            }
            Op::Roll => log.roll().unwrap(),
            Op::Reopen { clean } => {
                if clean {
                    log.close().unwrap();
                } else if !model.open_transactions().is_empty() {
                    tally.crashes_with_open_transactions += 1;
                }
                drop(log);
                log = open();
            }
            Op::DeleteRecords { at } => {
                let span = model.next_offset - model.log_start + 1;
                let offset = model.log_start + i64::from(at) % span;
                prop_assert_eq!(log.delete_records(offset).unwrap(), offset);
                model.log_start = offset;
                if model
                    .open_transactions()
                    .iter()
                    .any(|&(_, first)| first < offset)
                {
                    tally.deletions_past_an_open_transaction += 1;
                }
            }
            Op::Retention => {
                log.enforce_retention().unwrap();
                let start = log.log_start_offset();
                prop_assert!(start >= model.log_start && start <= model.next_offset);
                model.log_start = start;
            }
        }
        check(&log, &model)?;
    }
    Ok(tally)
}

proptest! {
    // The regressions file goes next to this file: proptest cannot find it from a module
    // outside the test crate's root directory.
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: Some(Box::new(
            FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn producer_state_agrees_with_the_model(
        ops in prop::collection::vec(op(), 1..80),
        retention in any::<bool>(),
    ) {
        run(ops, retention)?;
    }
}

#[test]
fn the_generated_sequences_reach_every_outcome() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut total = Tally::default();
    for _ in 0..20 {
        let ops = prop::collection::vec(op(), 60..80)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let tally = run(ops, true).unwrap();
        total.duplicates += tally.duplicates;
        total.fenced += tally.fenced;
        total.out_of_order += tally.out_of_order;
        total.txn_state += tally.txn_state;
        total.aborts += tally.aborts;
        total.crashes_with_open_transactions += tally.crashes_with_open_transactions;
        total.deletions_past_an_open_transaction += tally.deletions_past_an_open_transaction;
    }
    assert!(total.duplicates > 0, "{total:?}");
    assert!(total.fenced > 0, "{total:?}");
    assert!(total.out_of_order > 0, "{total:?}");
    assert!(total.txn_state > 0, "{total:?}");
    assert!(total.aborts > 0, "{total:?}");
    assert!(total.crashes_with_open_transactions > 0, "{total:?}");
    assert!(total.deletions_past_an_open_transaction > 0, "{total:?}");
}
