//! Idempotent producers and transactions through the public API: retries, sequence gaps,
//! fencing, the last stable offset and aborted transactions. Producer state across restarts
//! and damage is in `transactions/recovery.rs`, the model test in `transactions/model.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "transactions/model.rs"]
mod model;
#[path = "transactions/recovery.rs"]
mod recovery;

use common::{clock, open, producer_batch, read_all, read_committed, Rec};
use runnel_log::{AbortedTxn, BatchError, Batches, LogConfig, LogError, TxnMarker};

/// Producer ids of the tests.
const P: i64 = 7;
const Q: i64 = 8;
const R: i64 = 9;
/// Record timestamp of every batch the tests write.
const TS: i64 = 1_000;

/// `count` records from producer `pid` from sequence `seq` on. Each key names its producer
/// and sequence number, so a batch written twice would show.
fn data(pid: i64, epoch: i16, seq: i32, count: i32, transactional: bool) -> Vec<u8> {
    let keys: Vec<Vec<u8>> = (seq..seq + count)
        .map(|s| format!("{pid}-{s}").into_bytes())
        .collect();
    let spec: Vec<_> = keys
        .iter()
        .map(|k| (Some(&k[..]), Some(&b"v"[..]), TS))
        .collect();
    producer_batch(pid, epoch, seq, transactional, &spec)
}

fn marker(pid: i64, epoch: i16, commit: bool) -> TxnMarker {
    TxnMarker {
        producer_id: pid,
        producer_epoch: epoch,
        coordinator_epoch: 3,
        commit,
    }
}

fn offsets(records: &[Rec]) -> Vec<i64> {
    records.iter().map(|r| r.offset).collect()
}

#[test]
fn a_retried_batch_gets_its_first_offsets_back_and_is_not_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = open(dir.path(), LogConfig::default(), &clock);
    log.append(&mut data(P, 0, 0, 2, false), 0).unwrap();
    let retry = data(P, 0, 2, 3, false);
    let first = log.append(&mut retry.clone(), 0).unwrap();
    log.append(&mut data(Q, 0, 0, 1, false), 0).unwrap();

    let again = log.append(&mut retry.clone(), 0).unwrap();
    assert_eq!((again.base_offset, again.last_offset), (2, 4));
    assert_eq!((first.base_offset, first.last_offset), (2, 4));
    assert_eq!(log.high_watermark(), 6);
    assert_eq!(offsets(&read_all(&log)), (0..6).collect::<Vec<_>>());

    log.close().unwrap();
    drop(log);
    let log = open(dir.path(), LogConfig::default(), &clock);
    let after_restart = log.append(&mut retry.clone(), 0).unwrap();
    assert_eq!(
        (after_restart.base_offset, after_restart.last_offset),
        (2, 4)
    );
    assert_eq!(log.high_watermark(), 6);
}

#[test]
fn a_retry_inside_a_request_of_several_batches_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), &clock());
    let written = data(P, 0, 0, 2, false);
    log.append(&mut written.clone(), 0).unwrap();
    let mut request = [written, data(P, 0, 2, 1, false)].concat();
    assert!(matches!(
        log.append(&mut request, 0),
        Err(LogError::DuplicateSequence)
    ));
    assert_eq!(log.high_watermark(), 2);
}

#[test]
fn a_sequence_gap_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), &clock());
    log.append(&mut data(P, 0, 0, 3, false), 0).unwrap();
    let gap = log.append(&mut data(P, 0, 5, 1, false), 0).unwrap_err();
    assert!(
        matches!(
            gap,
            LogError::OutOfOrderSequence {
                producer_id: P,
                expected: 3,
                received: 5
            }
        ),
        "{gap}"
    );
    assert_eq!(log.high_watermark(), 3);
    assert_eq!(log.producer(P).unwrap().last_sequence(), Some(2));
    let next = log.append(&mut data(P, 0, 3, 1, false), 0).unwrap();
    assert_eq!(next.base_offset, 3);
}

#[test]
fn a_stale_epoch_is_fenced_for_data_and_markers() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), &clock());
    log.append(&mut data(P, 1, 0, 1, true), 0).unwrap();
    let stale = log.append(&mut data(P, 0, 1, 1, true), 0).unwrap_err();
    assert!(
        matches!(
            stale,
            LogError::InvalidProducerEpoch {
                producer_id: P,
                epoch: 0,
                current: 1
            }
        ),
        "{stale}"
    );
    assert!(matches!(
        log.append_marker(marker(P, 0, true), 0),
        Err(LogError::InvalidProducerEpoch { current: 1, .. })
    ));
    assert_eq!(log.high_watermark(), 1);
    assert_eq!(log.open_transactions(), vec![(P, 0)]);

    // The coordinator aborts with a bumped epoch; the producer restarts at sequence 0.
    log.append_marker(marker(P, 2, false), 0).unwrap();
    assert!(matches!(
        log.append(&mut data(P, 1, 1, 1, true), 0),
        Err(LogError::InvalidProducerEpoch { current: 2, .. })
    ));
    log.append(&mut data(P, 2, 0, 1, false), 0).unwrap();
    assert_eq!(log.producer(P).unwrap().epoch, 2);
    assert_eq!(log.high_watermark(), 3);
}

#[test]
fn a_control_batch_is_refused_by_append() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), &clock());
    log.append(&mut data(Q, 0, 0, 1, true), 0).unwrap();
    let info = log.append_marker(marker(Q, 0, true), 0).unwrap();
    let read = log.read(info.base_offset, 1 << 20).unwrap();
    let (header, _) = Batches::new(&read.records).next().unwrap().unwrap();
    assert!(header.is_control());

    let mut control = read.records.clone();
    assert!(matches!(
        log.append(&mut control, 0),
        Err(LogError::InvalidBatch(BatchError::ControlBatch))
    ));
    assert_eq!(log.high_watermark(), 2);
}

#[test]
fn an_open_transaction_holds_the_last_stable_offset_until_it_commits() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), &clock());
    log.append(&mut data(P, 0, 0, 2, false), 0).unwrap();
    log.append(&mut data(Q, 0, 0, 2, true), 0).unwrap();
    assert_eq!(log.last_stable_offset(), 2);
    log.append(&mut data(P, 0, 2, 1, false), 0).unwrap();
    log.append(&mut data(Q, 0, 2, 1, true), 0).unwrap();
    assert_eq!(log.high_watermark(), 6);
    assert_eq!(
        log.last_stable_offset(),
        2,
        "held at the transaction's start"
    );
    assert_eq!(log.open_transactions(), vec![(Q, 2)]);
    assert_eq!(offsets(&read_committed(&log)), vec![0, 1]);

    log.append_marker(marker(Q, 0, true), 0).unwrap();
    assert_eq!(log.last_stable_offset(), 7);
    assert_eq!(log.high_watermark(), 7);
    assert!(log.open_transactions().is_empty());
    assert!(log.aborted_transactions(0, 7).is_empty());
    assert_eq!(offsets(&read_committed(&log)), vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn an_aborted_transaction_is_listed_and_hidden_from_read_committed_readers() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), &clock());
    log.append(&mut data(Q, 0, 0, 2, true), 0).unwrap(); // 0-1
    log.append(&mut data(P, 0, 0, 1, false), 0).unwrap(); // 2
    log.append(&mut data(R, 0, 0, 1, true), 0).unwrap(); // 3
    log.append(&mut data(Q, 0, 2, 1, true), 0).unwrap(); // 4
    log.append_marker(marker(Q, 0, false), 0).unwrap(); // 5
    let q_aborted = AbortedTxn {
        producer_id: Q,
        first_offset: 0,
        last_offset: 5,
        last_stable_offset: 3,
    };
    assert_eq!(log.last_stable_offset(), 3, "R's transaction is open");
    assert_eq!(log.aborted_transactions(0, 3), vec![q_aborted]);
    assert_eq!(offsets(&read_committed(&log)), vec![2]);

    // A marker for a producer with nothing open on this log lists nothing.
    log.append_marker(marker(P, 0, false), 0).unwrap(); // 6
    log.append_marker(marker(R, 0, true), 0).unwrap(); // 7
    assert_eq!(log.last_stable_offset(), 8);
    assert_eq!(log.aborted_transactions(0, 8), vec![q_aborted]);
    assert!(log.aborted_transactions(6, 8).is_empty());
    assert_eq!(offsets(&read_committed(&log)), vec![2, 3]);
    assert_eq!(
        offsets(&read_all(&log)),
        vec![0, 1, 2, 3, 4],
        "read_uncommitted sees everything"
    );
}
