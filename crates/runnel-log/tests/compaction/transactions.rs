//! Compaction of transactional data: aborted batches are discarded and never hide a key's
//! committed value, nothing at or after the last stable offset is touched, and a marker goes
//! only once its transaction has no data left and it is older than `delete.retention.ms`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use runnel_log::{Clock, Compression, Log, ManualClock, TxnMarker};

use crate::common::{
    all_batches, batch, clock, open, producer_batch, read_all, read_committed, Rec,
};
use crate::compacted;

const PIDS: [i64; 2] = [201, 202];

fn marker(pid: i64, commit: bool) -> TxnMarker {
    TxnMarker {
        producer_id: pid,
        producer_epoch: 0,
        coordinator_epoch: 0,
        commit,
    }
}

fn plain(log: &Log, key: &str, value: &str, ts: i64) {
    let spec = [(Some(key.as_bytes()), Some(value.as_bytes()), ts)];
    log.append(&mut batch(&spec, Compression::None), 0).unwrap();
}

fn txn(log: &Log, pid: i64, seq: i32, key: &str, value: &str, ts: i64) {
    let spec = [(Some(key.as_bytes()), Some(value.as_bytes()), ts)];
    log.append(&mut producer_batch(pid, 0, seq, true, &spec), 0)
        .unwrap();
}

/// Key and value of each record, as text.
fn pairs(records: &[Rec]) -> Vec<(String, String)> {
    let text = |b: &Option<Vec<u8>>| String::from_utf8(b.clone().unwrap()).unwrap();
    records
        .iter()
        .map(|r| (text(&r.key), text(&r.value)))
        .collect()
}

fn control_offsets(log: &Log) -> Vec<i64> {
    all_batches(log)
        .into_iter()
        .filter(|(h, _)| h.is_control())
        .map(|(h, _)| h.base_offset)
        .collect()
}

#[test]
fn aborted_batches_are_discarded_and_never_hide_the_committed_value() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = open(dir.path(), compacted(i64::MAX), &clock);
    let now = clock.now_ms();
    plain(&log, "a", "committed", now); // 0
    txn(&log, PIDS[0], 0, "a", "aborted", now); // 1
    txn(&log, PIDS[0], 1, "b", "aborted", now); // 2
    log.append_marker(marker(PIDS[0], false), 0).unwrap(); // 3
    plain(&log, "c", "1", now); // 4
    log.roll().unwrap();

    let report = log.compact().unwrap().unwrap();
    assert_eq!(report.records_removed, 2);
    assert_eq!(
        pairs(&read_all(&log)),
        [("a", "committed"), ("c", "1")].map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert_eq!(read_committed(&log), read_all(&log));
    assert_eq!(
        control_offsets(&log),
        vec![3],
        "the pass that removed the transaction's batches keeps its marker"
    );
    assert_eq!(log.aborted_transactions(0, log.high_watermark()).len(), 1);
}

#[test]
fn records_at_or_after_the_last_stable_offset_are_never_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = open(dir.path(), compacted(0), &clock);
    let now = clock.now_ms();
    plain(&log, "k", "1", now); // 0
    plain(&log, "k", "2", now); // 1
    log.roll().unwrap();
    txn(&log, PIDS[0], 0, "k", "open", now); // 2
    plain(&log, "k", "3", now); // 3
    log.roll().unwrap();
    plain(&log, "k", "4", now); // 4
    log.roll().unwrap();
    assert_eq!(log.last_stable_offset(), 2);
    let unstable: Vec<Rec> = read_all(&log).into_iter().skip(2).collect();

    log.compact().unwrap().unwrap();
    let after = read_all(&log);
    assert_eq!(
        pairs(&after[..1]),
        vec![("k".to_owned(), "2".to_owned())],
        "below the last stable offset, the latest value there"
    );
    assert_eq!(after[1..], unstable[..], "the rest untouched");

    log.append_marker(marker(PIDS[0], true), 0).unwrap();
    log.roll().unwrap();
    log.compact().unwrap().unwrap();
    assert_eq!(
        pairs(&read_all(&log)),
        vec![("k".to_owned(), "4".to_owned())]
    );
}

#[test]
fn a_marker_goes_once_its_transaction_has_no_data_and_delete_retention_passed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = open(dir.path(), compacted(60_000), &clock);
    let pass = |key: &str| {
        plain(&log, key, "x", clock.now_ms());
        log.roll().unwrap();
        log.compact().unwrap().unwrap();
    };
    let now = clock.now_ms();
    txn(&log, PIDS[0], 0, "a", "1", now); // 0
    log.append_marker(marker(PIDS[0], true), 0).unwrap(); // 1
    txn(&log, PIDS[1], 0, "b", "1", now); // 2
    log.append_marker(marker(PIDS[1], false), 0).unwrap(); // 3
    txn(&log, PIDS[1], 1, "c", "1", now); // 4
    log.append_marker(marker(PIDS[1], true), 0).unwrap(); // 5
    plain(&log, "a", "2", now); // 6

    // The committed "a" is superseded and the aborted "b" discarded, but each pass that
    // removes a transaction's batches keeps its marker; "c" keeps its marker by itself.
    pass("z");
    assert_eq!(control_offsets(&log), vec![1, 3, 5]);
    clock.advance(30_000);
    pass("z");
    assert_eq!(control_offsets(&log), vec![1, 3, 5], "younger than 60 s");
    assert_eq!(log.aborted_transactions(0, log.high_watermark()).len(), 1);

    clock.advance(30_001);
    pass("z");
    assert_eq!(
        control_offsets(&log),
        vec![5],
        "only the marker with data left"
    );
    assert!(log.aborted_transactions(0, log.high_watermark()).is_empty());

    // The entry does not come back from the snapshot after a crash.
    let dir = log.dir().to_owned();
    drop(log);
    let log = open(&dir, compacted(60_000), &clock);
    assert!(log.aborted_transactions(0, log.high_watermark()).is_empty());
    assert_eq!(control_offsets(&log), vec![5]);
}

#[derive(Debug, Clone)]
enum Op {
    Plain {
        key: u8,
        value: Option<u8>,
    },
    Txn {
        producer: usize,
        key: u8,
        value: Option<u8>,
    },
    End {
        producer: usize,
        commit: bool,
    },
    Roll,
    Advance {
        ms: i64,
    },
    Compact,
    Reopen {
        clean: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..6;
    let value = prop::option::weighted(0.85, any::<u8>());
    prop_oneof![
        5 => (key.clone(), value.clone()).prop_map(|(key, value)| Op::Plain { key, value }),
        6 => (0..PIDS.len(), key, value)
            .prop_map(|(producer, key, value)| Op::Txn { producer, key, value }),
        3 => (0..PIDS.len(), any::<bool>())
            .prop_map(|(producer, commit)| Op::End { producer, commit }),
        2 => Just(Op::Roll),
        1 => (0i64..4_000).prop_map(|ms| Op::Advance { ms }),
        3 => Just(Op::Compact),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Plain,
    Open,
    Committed,
    Aborted,
}

#[derive(Debug, Clone)]
struct Written {
    rec: Rec,
    status: Status,
    /// The transaction it belongs to, by index into `Model::txns`.
    txn: Option<usize>,
}

#[derive(Debug, Default)]
struct Txn {
    first: i64,
    marker: Option<i64>,
}

#[derive(Debug, Default)]
struct Model {
    written: Vec<Written>,
    txns: Vec<Txn>,
    /// Each producer's open transaction.
    open: [Option<usize>; 2],
    /// Each producer's next sequence number.
    next_seq: [i32; 2],
    next_offset: i64,
}

impl Model {
    fn last_stable_offset(&self) -> i64 {
        self.open
            .iter()
            .flatten()
            .map(|&t| self.txns[t].first)
            .min()
            .unwrap_or(self.next_offset)
    }

    fn record(&self, offset: i64) -> &Written {
        &self.written[self
            .written
            .binary_search_by_key(&offset, |w| w.rec.offset)
            .unwrap()]
    }
}

/// Key to value of the latest record of each key, tombstones counting as absent.
fn latest(records: &[Rec]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut latest = BTreeMap::new();
    for r in records {
        match &r.value {
            Some(value) => latest.insert(r.key.clone().unwrap(), value.clone()),
            None => latest.remove(r.key.as_ref().unwrap()),
        };
    }
    latest
}

/// What a compaction pass did, for the check that the generator reaches every case.
#[derive(Debug, Default)]
struct Tally {
    aborted_discarded: u32,
    markers_removed: u32,
    held_by_open_transactions: u32,
}

fn check(log: &Log, model: &Model, just_compacted: bool) -> Result<(), TestCaseError> {
    prop_assert_eq!(log.high_watermark(), model.next_offset);
    let stable = log.last_stable_offset();
    prop_assert_eq!(stable, model.last_stable_offset());
    let all = read_all(log);
    prop_assert!(all.windows(2).all(|w| w[0].offset < w[1].offset));

    // A read_committed reader sees only committed or plain records, each as written, and
    // every key's latest value.
    let committed = read_committed(log);
    for r in &committed {
        let w = model.record(r.offset);
        prop_assert_eq!(r, &w.rec);
        prop_assert!(matches!(w.status, Status::Plain | Status::Committed));
    }
    let expected: Vec<Rec> = model
        .written
        .iter()
        .filter(|w| w.rec.offset < stable && matches!(w.status, Status::Plain | Status::Committed))
        .map(|w| w.rec.clone())
        .collect();
    prop_assert_eq!(latest(&committed), latest(&expected));

    // Nothing at or after the last stable offset changes.
    let unstable: Vec<&Rec> = all.iter().filter(|r| r.offset >= stable).collect();
    let written: Vec<&Rec> = model
        .written
        .iter()
        .filter(|w| w.rec.offset >= stable)
        .map(|w| &w.rec)
        .collect();
    prop_assert_eq!(unstable, written);

    // A marker stays while its transaction has data; a listed abort has its marker.
    let markers: BTreeSet<i64> = control_offsets(log).into_iter().collect();
    for r in &all {
        if let Some(marker) = model
            .record(r.offset)
            .txn
            .and_then(|t| model.txns[t].marker)
        {
            prop_assert!(markers.contains(&marker), "marker {} of {:?}", marker, r);
        }
    }
    for aborted in log.aborted_transactions(0, log.high_watermark()) {
        prop_assert!(markers.contains(&aborted.last_offset), "{:?}", aborted);
    }

    if just_compacted {
        // Every closed segment below the last stable offset has now been cleaned: no
        // aborted record and no key twice there.
        let bases = log.segment_base_offsets();
        let cleaned = bases
            .windows(2)
            .take_while(|w| w[1] <= stable)
            .last()
            .map_or(bases[0], |w| w[1]);
        let mut keys = BTreeSet::new();
        for r in all.iter().filter(|r| r.offset < cleaned) {
            prop_assert!(model.record(r.offset).status != Status::Aborted, "{:?}", r);
            prop_assert!(keys.insert(r.key.clone()), "key twice: {:?}", r);
        }
    }
    Ok(())
}

fn run(ops: Vec<Op>, delete_retention_ms: i64) -> Result<Tally, TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let config = runnel_log::LogConfig {
        segment_bytes: 300,
        ..compacted(delete_retention_ms)
    };
    let open = || {
        Log::open(
            dir.path(),
            config.clone(),
            Arc::clone(&clock) as Arc<dyn Clock>,
        )
        .unwrap()
    };
    let mut log = open();
    let mut model = Model::default();
    let mut tally = Tally::default();
    for op in ops {
        let mut just_compacted = false;
        match op {
            Op::Plain { key, value } => {
                let value = value.map(|v| vec![v; 8]);
                let spec = [(Some(&[key][..]), value.as_deref(), clock.now_ms())];
                let info = log.append(&mut batch(&spec, Compression::None), 0).unwrap();
                prop_assert_eq!(info.base_offset, model.next_offset);
                model.written.push(Written {
                    rec: Rec {
                        offset: info.base_offset,
                        timestamp: clock.now_ms(),
                        key: Some(vec![key]),
                        value,
                    },
                    status: Status::Plain,
                    txn: None,
                });
                model.next_offset += 1;
            }
            Op::Txn {
                producer,
                key,
                value,
            } => {
                let value = value.map(|v| vec![v; 8]);
                let spec = [(Some(&[key][..]), value.as_deref(), clock.now_ms())];
                let seq = model.next_seq[producer];
                let mut bytes = producer_batch(PIDS[producer], 0, seq, true, &spec);
                let info = log.append(&mut bytes, 0).unwrap();
                prop_assert_eq!(info.base_offset, model.next_offset);
                model.next_seq[producer] += 1;
                let txn = *model.open[producer].get_or_insert_with(|| {
                    model.txns.push(Txn {
                        first: info.base_offset,
                        marker: None,
                    });
                    model.txns.len() - 1
                });
                model.written.push(Written {
                    rec: Rec {
                        offset: info.base_offset,
                        timestamp: clock.now_ms(),
                        key: Some(vec![key]),
                        value,
                    },
                    status: Status::Open,
                    txn: Some(txn),
                });
                model.next_offset += 1;
            }
            Op::End { producer, commit } => {
                let info = log
                    .append_marker(marker(PIDS[producer], commit), 0)
                    .unwrap();
                prop_assert_eq!(info.base_offset, model.next_offset);
                model.next_offset += 1;
                if let Some(t) = model.open[producer].take() {
                    model.txns[t].marker = Some(info.base_offset);
                    let status = if commit {
                        Status::Committed
                    } else {
                        Status::Aborted
                    };
                    for w in model.written.iter_mut().filter(|w| w.txn == Some(t)) {
                        w.status = status;
                    }
                }
            }
            Op::Roll => log.roll().unwrap(),
            Op::Advance { ms } => clock.advance(ms),
            Op::Compact => {
                let markers_before = control_offsets(&log).len();
                let aborted_before = aborted_present(&log, &model);
                let closed_beyond_stable = log
                    .segment_base_offsets()
                    .iter()
                    .rev()
                    .skip(1)
                    .any(|&base| base >= log.last_stable_offset());
                if log.compact().unwrap().is_some() {
                    tally.markers_removed +=
                        u32::from(control_offsets(&log).len() < markers_before);
                    tally.aborted_discarded +=
                        u32::from(aborted_present(&log, &model) < aborted_before);
                    tally.held_by_open_transactions += u32::from(closed_beyond_stable);
                }
                just_compacted = true;
            }
            Op::Reopen { clean } => {
                if clean {
                    log.close().unwrap();
                }
                drop(log);
                log = open();
            }
        }
        check(&log, &model, just_compacted)?;
    }
    Ok(tally)
}

fn aborted_present(log: &Log, model: &Model) -> usize {
    read_all(log)
        .iter()
        .filter(|r| model.record(r.offset).status == Status::Aborted)
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        // Next to this file: proptest cannot find it from outside the crate root's directory.
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn compacting_transactional_data_agrees_with_the_model(
        ops in prop::collection::vec(op(), 1..80),
        keep_markers in any::<bool>(),
    ) {
        run(ops, if keep_markers { i64::MAX } else { 5_000 })?;
    }
}

#[test]
fn the_generated_sequences_reach_every_case() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut total = Tally::default();
    for _ in 0..20 {
        let ops = prop::collection::vec(op(), 60..80)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let tally = run(ops, 5_000).unwrap();
        total.aborted_discarded += tally.aborted_discarded;
        total.markers_removed += tally.markers_removed;
        total.held_by_open_transactions += tally.held_by_open_transactions;
    }
    assert!(total.aborted_discarded > 0, "{total:?}");
    assert!(total.markers_removed > 0, "{total:?}");
    assert!(total.held_by_open_transactions > 0, "{total:?}");
}
