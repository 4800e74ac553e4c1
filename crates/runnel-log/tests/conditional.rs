//! Conditional appends: expectations on a key's latest offset, checked atomically with the
//! append, and the key index behind them across restarts, crashes, retention and
//! compaction.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "conditional/model.rs"]
mod model;

use std::fs;
use std::sync::Arc;

use runnel_log::{
    AppendInfo, BatchBuilder, Compression, Conflict, Log, LogConfig, LogError, ManualClock,
    TxnMarker, COMPACT_EXPECTED_OFFSET_HEADER, EXPECTED_OFFSET_HEADER,
};

use common::{clock, open};

const TS: i64 = 1_700_000_000_000;

/// A record to append: key, value (None: tombstone), expected offset (None: unconditional).
pub type Cond<'a> = (&'a str, Option<&'a str>, Option<i64>);

pub fn conditional_config() -> LogConfig {
    let mut config = LogConfig::default();
    config
        .set("runnel.conditional.append.enable", "true")
        .unwrap();
    config
}

/// A batch of `records`, written by `producer` (id, sequence, transactional) if given.
pub fn cond_batch(records: &[Cond<'_>], producer: Option<(i64, i32, bool)>) -> Vec<u8> {
    let mut builder = BatchBuilder::new(Compression::Lz4);
    if let Some((pid, seq, transactional)) = producer {
        builder = builder.producer(pid, 0, seq);
        if transactional {
            builder = builder.transactional();
        }
    }
    for (i, (key, value, expected)) in records.iter().enumerate() {
        // The two forms of an expectation alternate with the record's position and the
        // expected offset, so every test, even of one-record batches, goes through both.
        let encoded = expected.map(|e| {
            if (i as i64 + e).rem_euclid(2) == 0 {
                (EXPECTED_OFFSET_HEADER, e.to_string().into_bytes())
            } else {
                (COMPACT_EXPECTED_OFFSET_HEADER, e.to_be_bytes().to_vec())
            }
        });
        let headers: Vec<(&[u8], Option<&[u8]>)> = encoded
            .iter()
            .map(|(name, value)| (name.as_bytes(), Some(value.as_slice())))
            .collect();
        builder.push(TS, Some(key.as_bytes()), value.map(str::as_bytes), &headers);
    }
    builder.build().unwrap()
}

pub fn append(log: &Log, records: &[Cond<'_>]) -> Result<AppendInfo, LogError> {
    log.append(&mut cond_batch(records, None), 0)
}

pub fn marker(pid: i64, commit: bool) -> TxnMarker {
    TxnMarker {
        producer_id: pid,
        producer_epoch: 0,
        coordinator_epoch: 0,
        commit,
    }
}

fn conflicts(result: Result<AppendInfo, LogError>) -> Vec<Conflict> {
    match result {
        Err(LogError::ConditionFailed(conflicts)) => conflicts,
        other => panic!("expected a refused conditional append, got {other:?}"),
    }
}

fn conflict(index: usize, key: &str, expected: i64, latest: i64) -> Conflict {
    Conflict {
        record_index: index,
        key: key.as_bytes().to_vec(),
        expected,
        latest,
        open_transaction_of: None,
    }
}

fn log_in(dir: &std::path::Path) -> (Log, Arc<ManualClock>) {
    let clock = clock();
    (open(dir, conditional_config(), &clock), clock)
}

#[test]
fn an_append_whose_expectations_hold_is_written_and_one_that_fails_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = log_in(dir.path());
    assert_eq!(
        append(&log, &[("a", Some("1"), Some(-1))])
            .unwrap()
            .base_offset,
        0
    );
    assert_eq!(
        append(&log, &[("b", Some("1"), None)]).unwrap().base_offset,
        1
    );
    assert_eq!(
        append(&log, &[("a", Some("2"), Some(0))])
            .unwrap()
            .base_offset,
        2
    );

    // One stale expectation refuses the whole batch, and every failed one is named.
    let refused = append(
        &log,
        &[
            ("b", Some("x"), Some(1)),
            ("a", Some("x"), Some(0)),
            ("c", Some("x"), Some(5)),
        ],
    );
    assert_eq!(
        conflicts(refused),
        vec![conflict(1, "a", 0, 2), conflict(2, "c", 5, -1)]
    );
    assert_eq!(
        log.high_watermark(),
        3,
        "nothing of the refused batch is written"
    );

    // Records are checked in order, each with the batch's earlier records in the log: two
    // records of a key expecting the same offset cannot both pass (a client batching two
    // writers' records together gets both refused, never both accepted).
    assert_eq!(
        conflicts(append(
            &log,
            &[("b", Some("2"), Some(1)), ("b", Some("3"), Some(1))]
        )),
        vec![conflict(1, "b", 1, 3)]
    );
    let info = append(&log, &[("b", Some("2"), Some(1)), ("b", Some("3"), None)]).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (3, 4));
    assert_eq!(
        conflicts(append(&log, &[("b", Some("4"), Some(3))])),
        vec![conflict(0, "b", 3, 4)]
    );
}

#[test]
fn a_tombstone_or_deleted_records_leave_the_key_with_no_record() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = log_in(dir.path());
    append(&log, &[("a", Some("1"), None), ("b", Some("1"), None)]).unwrap();
    append(&log, &[("a", None, Some(0))]).unwrap();
    assert_eq!(
        conflicts(append(&log, &[("a", Some("2"), Some(2))])),
        vec![conflict(0, "a", 2, -1)]
    );
    append(&log, &[("a", Some("2"), Some(-1))]).unwrap();

    log.roll().unwrap();
    append(&log, &[("c", Some("1"), None)]).unwrap();
    log.delete_records(4).unwrap();
    // "b" at offset 1 is gone with the records below 4; "a" at 3 too.
    append(
        &log,
        &[("b", Some("2"), Some(-1)), ("a", Some("3"), Some(-1))],
    )
    .unwrap();
    append(&log, &[("c", Some("2"), Some(4))]).unwrap();
}

#[test]
fn a_retried_batch_is_acknowledged_without_being_checked_again() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = log_in(dir.path());
    let batch = cond_batch(&[("a", Some("1"), Some(-1))], Some((7, 0, false)));
    let first = log.append(&mut batch.clone(), 0).unwrap();
    // Its expectation no longer holds ("a" is now at 0), but it is the same batch.
    let retry = log.append(&mut batch.clone(), 0).unwrap();
    assert_eq!(retry.base_offset, first.base_offset);
    assert_eq!(log.high_watermark(), 1);
    // A refused batch does not take its sequence: the next batch reuses it.
    let stale = cond_batch(&[("a", Some("2"), Some(-1))], Some((7, 1, false)));
    conflicts(log.append(&mut stale.clone(), 0));
    let next = cond_batch(&[("a", Some("2"), Some(0))], Some((7, 1, false)));
    assert_eq!(log.append(&mut next.clone(), 0).unwrap().base_offset, 1);
}

#[test]
fn an_open_transaction_holds_its_keys_and_only_a_commit_makes_them_latest() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = log_in(dir.path());
    append(&log, &[("a", Some("0"), None)]).unwrap();
    let txn =
        |seq, records: &[Cond<'_>]| log.append(&mut cond_batch(records, Some((9, seq, true))), 0);
    txn(0, &[("a", Some("t1"), Some(0))]).unwrap(); // offset 1
                                                    // The transaction reads its own write.
    txn(1, &[("a", Some("t2"), Some(1))]).unwrap(); // offset 2
                                                    // Others see the key held, whatever they expect.
    let held = conflicts(append(&log, &[("a", Some("x"), Some(0))]));
    assert_eq!(held[0].open_transaction_of, Some(9));
    assert_eq!(held[0].latest, 2);
    // An unconditional write is not blocked.
    append(&log, &[("b", Some("0"), None)]).unwrap(); // offset 3
    log.append_marker(marker(9, false), 0).unwrap(); // abort at 4
                                                     // Aborted: "a" is back at 0.
    append(&log, &[("a", Some("1"), Some(0))]).unwrap(); // offset 5

    txn(2, &[("a", Some("t3"), Some(5))]).unwrap(); // offset 6
    log.append_marker(marker(9, true), 0).unwrap(); // commit at 7
    conflicts(append(&log, &[("a", Some("x"), Some(5))]));
    append(&log, &[("a", Some("2"), Some(6))]).unwrap();
}

#[test]
fn the_index_survives_clean_and_crash_restarts_and_follows_a_lost_tail() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    {
        let log = open(dir.path(), conditional_config(), &clock);
        append(&log, &[("a", Some("1"), None)]).unwrap();
        log.roll().unwrap(); // a checkpoint at offset 1
        append(&log, &[("b", Some("1"), None)]).unwrap();
        log.close().unwrap();
    }
    {
        let log = open(dir.path(), conditional_config(), &clock);
        append(
            &log,
            &[("a", Some("2"), Some(0)), ("b", Some("2"), Some(1))],
        )
        .unwrap();
        // A crash: no close, the index checkpoint stays at 2.
    }
    let log = open(dir.path(), conditional_config(), &clock);
    conflicts(append(&log, &[("a", Some("3"), Some(0))]));
    append(
        &log,
        &[("a", Some("3"), Some(2)), ("b", Some("3"), Some(3))],
    )
    .unwrap();
    log.roll().unwrap();
    append(&log, &[("a", Some("4"), Some(4))]).unwrap(); // offset 6, never synced
    drop(log);
    // A power loss takes the unsynced tail: the active segment comes back empty.
    fs::OpenOptions::new()
        .write(true)
        .open(common::last_segment(dir.path()))
        .unwrap()
        .set_len(0)
        .unwrap();
    let log = open(dir.path(), conditional_config(), &clock);
    assert_eq!(log.high_watermark(), 6);
    // The record at 6 is lost, so an expectation built on it is stale.
    assert_eq!(
        conflicts(append(&log, &[("a", Some("5"), Some(6))])),
        vec![conflict(0, "a", 6, 4)]
    );
    append(&log, &[("a", Some("5"), Some(4))]).unwrap();
}

#[test]
fn an_index_ahead_of_its_log_is_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    {
        let log = open(dir.path(), conditional_config(), &clock);
        append(&log, &[("a", Some("1"), None)]).unwrap();
        append(&log, &[("a", Some("2"), Some(0))]).unwrap();
        log.close().unwrap(); // checkpoint at 2
    }
    // The log loses its last batch behind the index's back (a torn tail, found at open).
    fs::remove_file(dir.path().join(".clean-shutdown")).unwrap();
    let segment = common::last_segment(dir.path());
    let len = fs::metadata(&segment).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    let log = open(dir.path(), conditional_config(), &clock);
    assert_eq!(log.high_watermark(), 1);
    conflicts(append(&log, &[("a", Some("3"), Some(1))]));
    append(&log, &[("a", Some("3"), Some(0))]).unwrap();
}

#[test]
fn turning_the_setting_on_builds_the_index_and_turning_it_off_deletes_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = open(dir.path(), LogConfig::default(), &clock);
    // Not enabled: the header is not read.
    append(&log, &[("a", Some("1"), Some(42))]).unwrap();
    log.set_config(conditional_config());
    assert_eq!(
        conflicts(append(&log, &[("a", Some("2"), Some(42))])),
        vec![conflict(0, "a", 42, 0)]
    );
    append(&log, &[("a", Some("2"), Some(0))]).unwrap();
    assert!(dir.path().join("key-offsets.redb").exists());
    log.set_config(LogConfig::default());
    append(&log, &[("a", Some("3"), None)]).unwrap();
    assert!(!dir.path().join("key-offsets.redb").exists());
    // On again: rebuilt from the whole log, so it knows the write made while it was off.
    log.set_config(conditional_config());
    append(&log, &[("a", Some("4"), Some(2))]).unwrap();
}

#[test]
fn malformed_expectations_are_refused_as_invalid_records() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = log_in(dir.path());
    let mut builder = BatchBuilder::new(Compression::None);
    builder.push(
        TS,
        Some(b"a"),
        Some(b"1"),
        &[(EXPECTED_OFFSET_HEADER.as_bytes(), Some(b"soon"))],
    );
    let err = log.append(&mut builder.build().unwrap(), 0).unwrap_err();
    assert!(matches!(
        err,
        LogError::InvalidBatch(runnel_log::BatchError::InvalidExpectation(_))
    ));
    assert_eq!(log.high_watermark(), 0);
}

#[test]
fn keys_outgrowing_memory_are_checkpointed_mid_segment_and_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let key_of = |n: usize| format!("{n:04}{}", "k".repeat(4092));
    {
        let log = open(dir.path(), conditional_config(), &clock);
        // 2,100 keys of 4 KiB: past the 8 MiB the index keeps in memory, in one segment.
        for chunk in 0..21 {
            let keys: Vec<String> = (chunk * 100..chunk * 100 + 100).map(key_of).collect();
            let records: Vec<Cond<'_>> = keys
                .iter()
                .map(|k| (k.as_str(), Some("v"), Some(-1)))
                .collect();
            append(&log, &records).unwrap();
        }
        assert_eq!(log.segment_count(), 1);
        let stored = fs::metadata(dir.path().join("key-offsets.redb"))
            .unwrap()
            .len();
        assert!(
            stored > 8 << 20,
            "checkpointed before any roll: {stored} bytes"
        );
        // A crash: the keys after the checkpoint are replayed from the log.
    }
    let log = open(dir.path(), conditional_config(), &clock);
    for n in [0, 1_000, 2_099] {
        let key = key_of(n);
        assert_eq!(
            conflicts(append(&log, &[(key.as_str(), Some("w"), Some(-1))])),
            vec![conflict(0, &key, -1, n as i64)]
        );
    }
    let key = key_of(2_099);
    append(&log, &[(key.as_str(), Some("w"), Some(2_099))]).unwrap();
}
