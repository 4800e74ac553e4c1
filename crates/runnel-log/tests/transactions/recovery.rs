//! Producer state across restarts: a clean close, a crash, a roll (snapshot plus replay of
//! the tail), a lost or damaged snapshot (replay of the whole log), and a tail cut anywhere
//! after the snapshot. After each, the log must report what it reported before, or exactly
//! what the surviving batches imply.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use runnel_log::{AbortedTxn, AppendInfo, Log, LogConfig, ManualClock, ProducerEntry};

use crate::common::{
    clock, copy_dir, last_segment_len, open, read_committed, truncate_last_segment, Rec,
};
use crate::{data, marker, P, Q, R};

const SNAPSHOT: &str = "producer-state";

#[derive(Debug, Clone, Copy)]
enum Step {
    Data {
        pid: i64,
        epoch: i16,
        seq: i32,
        count: i32,
        transactional: bool,
    },
    End {
        pid: i64,
        epoch: i16,
        commit: bool,
    },
}

use Step::{Data, End};

const fn plain(pid: i64, seq: i32, count: i32) -> Step {
    Data {
        pid,
        epoch: 0,
        seq,
        count,
        transactional: false,
    }
}

const fn txn(pid: i64, epoch: i16, seq: i32, count: i32) -> Step {
    Data {
        pid,
        epoch,
        seq,
        count,
        transactional: true,
    }
}

/// P writes idempotently throughout (more batches than the five remembered); Q aborts a
/// transaction, commits one and leaves a third open; R is fenced by an abort with a bumped
/// epoch and then opens a transaction with the new epoch.
const STEPS: [Step; 15] = [
    plain(P, 0, 2),
    txn(Q, 0, 0, 1),
    plain(P, 2, 1),
    txn(R, 0, 0, 2),
    txn(Q, 0, 1, 2),
    End {
        pid: Q,
        epoch: 0,
        commit: false,
    },
    End {
        pid: R,
        epoch: 1,
        commit: false,
    },
    txn(Q, 0, 3, 1),
    plain(P, 3, 3),
    End {
        pid: Q,
        epoch: 0,
        commit: true,
    },
    txn(R, 1, 0, 1),
    txn(Q, 0, 4, 2),
    plain(P, 6, 1),
    plain(P, 7, 1),
    plain(P, 8, 2),
];
/// Where the tests that roll do so: the last segment then holds both kinds of step.
const ROLL_AT: usize = 7;

fn apply(log: &Log, step: Step) -> AppendInfo {
    match step {
        Data {
            pid,
            epoch,
            seq,
            count,
            transactional,
        } => log
            .append(&mut data(pid, epoch, seq, count, transactional), 0)
            .unwrap(),
        End { pid, epoch, commit } => log.append_marker(marker(pid, epoch, commit), 0).unwrap(),
    }
}

/// Everything the log reports about its producers and transactions.
#[derive(Debug, PartialEq)]
struct Observed {
    high_watermark: i64,
    last_stable_offset: i64,
    open: Vec<(i64, i64)>,
    aborted: Vec<AbortedTxn>,
    producers: Vec<Option<ProducerEntry>>,
    committed: Vec<Rec>,
}

fn observe(log: &Log) -> Observed {
    let mut open = log.open_transactions();
    open.sort_unstable();
    Observed {
        high_watermark: log.high_watermark(),
        last_stable_offset: log.last_stable_offset(),
        open,
        aborted: log.aborted_transactions(log.log_start_offset(), log.high_watermark()),
        producers: [P, Q, R].iter().map(|&pid| log.producer(pid)).collect(),
        committed: read_committed(log),
    }
}

/// A log that went through every step, rolling before step `roll_at` if given.
fn written(dir: &Path, clock: &Arc<ManualClock>, roll_at: Option<usize>) -> Log {
    let log = open(dir, LogConfig::default(), clock);
    for (i, &step) in STEPS.iter().enumerate() {
        if roll_at == Some(i) {
            log.roll().unwrap();
        }
        apply(&log, step);
    }
    log
}

#[test]
fn producer_state_survives_a_clean_close() {
    for roll_at in [None, Some(ROLL_AT)] {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let log = written(dir.path(), &clock, roll_at);
        let before = observe(&log);
        log.close().unwrap();
        drop(log);
        let log = open(dir.path(), LogConfig::default(), &clock);
        assert_eq!(observe(&log), before, "roll at {roll_at:?}");

        // The open transactions go on where they were.
        log.append(&mut data(Q, 0, 6, 1, true), 0).unwrap();
        log.append_marker(marker(Q, 0, true), 0).unwrap();
        log.append_marker(marker(R, 1, true), 0).unwrap();
        assert_eq!(log.last_stable_offset(), log.high_watermark());
    }
}

#[test]
fn producer_state_survives_a_crash_by_replaying_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = written(dir.path(), &clock, None);
    let before = observe(&log);
    drop(log);
    assert!(
        !dir.path().join(SNAPSHOT).exists(),
        "no roll and no close: nothing but the log to recover from"
    );
    let log = open(dir.path(), LogConfig::default(), &clock);
    assert_eq!(observe(&log), before);
}

#[test]
fn producer_state_survives_a_crash_after_a_roll_from_the_snapshot_and_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = written(dir.path(), &clock, Some(ROLL_AT));
    let before = observe(&log);
    drop(log);
    assert!(dir.path().join(SNAPSHOT).exists());
    let log = open(dir.path(), LogConfig::default(), &clock);
    assert_eq!(observe(&log), before);
}

#[test]
fn a_lost_or_damaged_snapshot_is_rebuilt_from_the_whole_log() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = written(dir.path(), &clock, Some(ROLL_AT));
    let before = observe(&log);
    drop(log);
    let snapshot = fs::read(dir.path().join(SNAPSHOT)).unwrap();
    let mut damaged: Vec<(String, Option<Vec<u8>>)> = vec![
        ("deleted".to_owned(), None),
        ("empty".to_owned(), Some(Vec::new())),
        (
            "cut in half".to_owned(),
            Some(snapshot[..snapshot.len() / 2].to_vec()),
        ),
    ];
    for position in (0..snapshot.len()).step_by(5) {
        let mut flipped = snapshot.clone();
        flipped[position] ^= 0x10;
        damaged.push((format!("flip at {position}"), Some(flipped)));
    }
    for (damage, bytes) in damaged {
        let copy = copy_dir(dir.path());
        let path = copy.path().join(SNAPSHOT);
        match bytes {
            None => fs::remove_file(&path).unwrap(),
            Some(bytes) => fs::write(&path, bytes).unwrap(),
        }
        let log = open(copy.path(), LogConfig::default(), &clock);
        assert_eq!(observe(&log), before, "snapshot {damage}");
    }
}

#[test]
fn the_snapshot_remembers_producers_whose_batches_were_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = open(dir.path(), LogConfig::default(), &clock);
    let mut retry = data(P, 0, 0, 2, false);
    log.append(&mut retry.clone(), 0).unwrap();
    log.append(&mut data(Q, 0, 0, 1, true), 0).unwrap();
    log.roll().unwrap();
    log.append(&mut data(R, 0, 0, 1, false), 0).unwrap();
    log.delete_records(log.high_watermark()).unwrap();
    assert_eq!(log.segment_count(), 1, "the first segment is gone");
    let before = observe(&log);
    assert_eq!(before.open, vec![(Q, 2)]);
    assert_eq!(before.last_stable_offset, 4, "held at the log start");
    drop(log);

    let log = open(dir.path(), LogConfig::default(), &clock);
    assert_eq!(observe(&log), before);
    let again = log.append(&mut retry, 0).unwrap();
    assert_eq!((again.base_offset, again.last_offset), (0, 1));
    log.append_marker(marker(Q, 0, true), 0).unwrap();
    assert_eq!(log.last_stable_offset(), 5);
}

#[test]
fn a_transaction_open_below_the_log_start_is_still_open_after_a_crash() {
    // The snapshot of the roll predates the transaction and the log start moves past its
    // first batch inside the active segment: recovery must replay the batches below the log
    // start that are still on disk.
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = open(dir.path(), LogConfig::default(), &clock);
    log.append(&mut data(P, 0, 0, 1, false), 0).unwrap();
    log.roll().unwrap();
    log.append(&mut data(Q, 0, 0, 2, true), 0).unwrap(); // 1-2
    log.append(&mut data(P, 0, 1, 2, false), 0).unwrap(); // 3-4
    log.delete_records(4).unwrap();
    let before = observe(&log);
    assert_eq!(before.open, vec![(Q, 1)]);
    assert_eq!(before.last_stable_offset, 4);
    drop(log);

    let log = open(dir.path(), LogConfig::default(), &clock);
    assert_eq!(observe(&log), before);
}

/// The last segment's length after each step of a log rolled before `ROLL_AT`, with what the
/// log reported at that point, and each step's append.
struct Tail {
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    ends: Vec<u64>,
    states: Vec<Observed>,
    appends: Vec<AppendInfo>,
}

fn tail(clean_close: bool) -> Tail {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = open(dir.path(), LogConfig::default(), &clock);
    for &step in &STEPS[..ROLL_AT] {
        apply(&log, step);
    }
    log.roll().unwrap();
    let mut ends = vec![0];
    let mut states = vec![observe(&log)];
    let mut appends = Vec::new();
    for &step in &STEPS[ROLL_AT..] {
        appends.push(apply(&log, step));
        ends.push(last_segment_len(dir.path()));
        states.push(observe(&log));
    }
    if clean_close {
        log.close().unwrap();
    }
    Tail {
        dir,
        clock,
        ends,
        states,
        appends,
    }
}

impl Tail {
    /// A copy with the last segment cut to `len` bytes, opened, and how many steps of the
    /// tail survive the cut.
    fn cut(&self, len: u64) -> (tempfile::TempDir, Log, usize) {
        let copy = copy_dir(self.dir.path());
        truncate_last_segment(copy.path(), len);
        let log = open(copy.path(), LogConfig::default(), &self.clock);
        let survived = self.ends.iter().rposition(|&end| end <= len).unwrap();
        (copy, log, survived)
    }
}

#[test]
fn a_tail_cut_anywhere_after_the_snapshot_leaves_the_state_of_the_surviving_batches() {
    let tail = tail(false);
    let steps = &STEPS[ROLL_AT..];
    for len in 0..=tail.ends[tail.ends.len() - 1] {
        let (_copy, log, survived) = tail.cut(len);
        assert_eq!(observe(&log), tail.states[survived], "cut at {len}");

        // A producer retrying its last batch that survived gets the first offsets back...
        let high_watermark = log.high_watermark();
        for pid in [P, Q, R] {
            let last = (0..survived)
                .rev()
                .find(|&i| matches!(steps[i], Data { pid: p, .. } if p == pid));
            if let Some(i) = last {
                let info = apply(&log, steps[i]);
                assert_eq!(
                    info.base_offset, tail.appends[i].base_offset,
                    "cut at {len}"
                );
                assert_eq!(log.high_watermark(), high_watermark, "cut at {len}");
            }
        }
        // ...and what was lost is written anew when sent again.
        if let Some(&lost) = steps.get(survived) {
            assert_eq!(
                apply(&log, lost).base_offset,
                high_watermark,
                "cut at {len}"
            );
        }
    }
}

#[test]
fn a_snapshot_beyond_a_cut_tail_is_never_used() {
    // The close wrote a snapshot at the log end; the tail is then lost. The log rebuilt from
    // the surviving batches grows past the old end with other batches, and crashes: its
    // state must come from those batches, not from the old snapshot.
    let tail = tail(true);
    let (_copy, log, survived) = tail.cut(tail.ends[3]);
    assert_eq!(survived, 3);
    assert_eq!(observe(&log), tail.states[3]);
    let old_end = tail.states[tail.states.len() - 1].high_watermark;
    let mut seq = 0;
    while log.high_watermark() <= old_end {
        log.append(&mut data(77, 0, seq, 2, false), 0).unwrap();
        seq += 2;
    }
    let before = observe(&log);
    let dir = log.dir().to_owned();
    drop(log);
    let log = open(&dir, LogConfig::default(), &tail.clock);
    assert_eq!(observe(&log), before);
}
