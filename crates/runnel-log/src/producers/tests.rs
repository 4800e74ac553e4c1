#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::batch::TRANSACTIONAL_BIT;

/// A data batch of `records` records at `base_offset` from producer `pid`.
fn header(pid: i64, epoch: i16, seq: i32, records: i32, base_offset: i64) -> BatchHeader {
    BatchHeader {
        base_offset,
        batch_length: 100,
        leader_epoch: 0,
        crc: 0,
        attributes: 0,
        last_offset_delta: records - 1,
        base_timestamp: 0,
        max_timestamp: 0,
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        record_count: records,
    }
}

fn txn(mut h: BatchHeader) -> BatchHeader {
    h.attributes |= TRANSACTIONAL_BIT;
    h
}

fn append(state: &mut ProducerState, h: BatchHeader) -> Result<(), LogError> {
    let staged = state.stage(&[h], 0)?;
    state.apply(staged);
    Ok(())
}

fn marker(pid: i64, epoch: i16, commit: bool) -> TxnMarker {
    TxnMarker {
        producer_id: pid,
        producer_epoch: epoch,
        coordinator_epoch: 0,
        commit,
    }
}

#[test]
fn sequences_must_follow_on_and_retries_are_recognised() {
    let mut state = ProducerState::default();
    append(&mut state, header(7, 0, 0, 3, 0)).unwrap();
    append(&mut state, header(7, 0, 3, 2, 3)).unwrap();
    assert!(matches!(
        state.check_duplicate(&[header(7, 0, 0, 3, 99)]),
        Verdict::Duplicate {
            first_offset: 0,
            last_offset: 2
        }
    ));
    let gap = append(&mut state, header(7, 0, 6, 1, 5)).unwrap_err();
    assert!(matches!(
        gap,
        LogError::OutOfOrderSequence {
            expected: 5,
            received: 6,
            ..
        }
    ));
    append(&mut state, header(7, 0, 5, 1, 5)).unwrap();
    assert_eq!(state.entry(7).unwrap().last_sequence(), Some(5));
}

#[test]
fn only_the_last_five_batches_are_remembered() {
    let mut state = ProducerState::default();
    for i in 0..6 {
        append(&mut state, header(1, 0, i, 1, i64::from(i))).unwrap();
    }
    assert!(matches!(
        state.check_duplicate(&[header(1, 0, 0, 1, 0)]),
        Verdict::Append
    ));
    assert!(matches!(
        state.check_duplicate(&[header(1, 0, 1, 1, 0)]),
        Verdict::Duplicate { .. }
    ));
}

#[test]
fn stale_epochs_are_fenced_and_a_new_epoch_restarts_at_zero() {
    let mut state = ProducerState::default();
    append(&mut state, header(1, 3, 0, 1, 0)).unwrap();
    assert!(matches!(
        append(&mut state, header(1, 2, 1, 1, 1)),
        Err(LogError::InvalidProducerEpoch { current: 3, .. })
    ));
    assert!(matches!(
        append(&mut state, header(1, 4, 7, 1, 1)),
        Err(LogError::OutOfOrderSequence { .. })
    ));
    append(&mut state, header(1, 4, 0, 1, 1)).unwrap();
}

#[test]
fn sequences_wrap_at_the_top_of_the_range() {
    let mut state = ProducerState::default();
    append(&mut state, header(1, 0, i32::MAX - 1, 2, 0)).unwrap();
    assert_eq!(state.entry(1).unwrap().last_sequence(), Some(i32::MAX));
    append(&mut state, header(1, 0, 0, 1, 2)).unwrap();
}

#[test]
fn a_failed_stage_changes_nothing() {
    let mut state = ProducerState::default();
    append(&mut state, header(1, 0, 0, 1, 0)).unwrap();
    let before = state.clone();
    let two = [header(1, 0, 1, 1, 1), header(1, 0, 9, 1, 2)];
    assert!(state.stage(&two, 0).is_err());
    assert_eq!(state, before);
}

#[test]
fn open_transactions_hold_the_stable_offset_and_aborts_are_listed() {
    let mut state = ProducerState::default();
    append(&mut state, txn(header(1, 0, 0, 2, 10))).unwrap();
    append(&mut state, txn(header(2, 0, 0, 1, 12))).unwrap();
    append(&mut state, txn(header(1, 0, 2, 1, 13))).unwrap();
    assert_eq!(state.first_unstable_offset(), Some(10));
    state.complete(&marker(1, 0, false), 14, 0);
    assert_eq!(state.first_unstable_offset(), Some(12));
    state.complete(&marker(2, 0, true), 15, 0);
    assert_eq!(state.first_unstable_offset(), None);
    let aborted = state.aborted_between(0, 100);
    assert_eq!(
        aborted,
        vec![AbortedTxn {
            producer_id: 1,
            first_offset: 10,
            last_offset: 14,
            last_stable_offset: 12,
        }]
    );
    assert!(state.aborted_between(15, 100).is_empty());
    assert!(state.aborted_between(0, 10).is_empty());
    state.truncate_below(15);
    assert!(state.aborted_between(0, 100).is_empty());
}

#[test]
fn transaction_rules_are_enforced() {
    let mut state = ProducerState::default();
    append(&mut state, txn(header(1, 0, 0, 1, 0))).unwrap();
    assert!(matches!(
        append(&mut state, header(1, 0, 1, 1, 1)),
        Err(LogError::InvalidTxnState(_))
    ));
    assert!(matches!(
        append(&mut state, txn(header(1, 1, 0, 1, 1))),
        Err(LogError::InvalidTxnState(_))
    ));
    // An abort with a bumped epoch (a timeout) fences the old epoch.
    state.complete(&marker(1, 1, false), 1, 0);
    assert!(matches!(
        append(&mut state, txn(header(1, 0, 1, 1, 2))),
        Err(LogError::InvalidProducerEpoch { .. })
    ));
    assert!(state.check_marker(&marker(1, 0, true)).is_err());
}

#[test]
fn idle_producers_expire_unless_a_transaction_is_open() {
    let mut state = ProducerState::default();
    let staged = state.stage(&[header(1, 0, 0, 1, 0)], 1_000).unwrap();
    state.apply(staged);
    let staged = state.stage(&[txn(header(2, 0, 0, 1, 1))], 1_000).unwrap();
    state.apply(staged);
    assert_eq!(state.expire(5_000, 10_000), 0);
    assert_eq!(state.expire(20_000, 10_000), 1);
    assert!(state.entry(1).is_none());
    assert!(state.entry(2).is_some());
}

#[test]
fn snapshots_round_trip_and_damage_is_detected() {
    let mut state = ProducerState::default();
    append(&mut state, header(1, 0, 0, 3, 0)).unwrap();
    append(&mut state, txn(header(2, 5, 0, 1, 3))).unwrap();
    append(&mut state, txn(header(3, 0, 0, 1, 4))).unwrap();
    state.complete(&marker(3, 0, false), 5, 0);
    let bytes = state.encode_snapshot(6);
    assert_eq!(
        ProducerState::decode_snapshot(&bytes),
        Some((state.clone(), 6))
    );
    for cut in 0..bytes.len() {
        assert_eq!(ProducerState::decode_snapshot(&bytes[..cut]), None);
    }
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x40;
        assert_eq!(ProducerState::decode_snapshot(&flipped), None, "byte {i}");
    }
}

#[test]
fn markers_round_trip_through_control_batches() {
    for commit in [true, false] {
        let m = TxnMarker {
            producer_id: 42,
            producer_epoch: 3,
            coordinator_epoch: 9,
            commit,
        };
        let batch = m.to_batch(1_000).unwrap();
        let header = crate::batch::validate(&batch).unwrap();
        assert!(header.is_control() && header.is_transactional());
        assert_eq!(TxnMarker::from_batch(&header, &batch).unwrap(), Some(m));
    }
}

#[test]
fn unsequenced_coordinator_batches_join_the_transaction_without_deduplication() {
    let mut state = ProducerState::default();
    append(&mut state, txn(header(1, 0, -1, 1, 0))).unwrap();
    append(&mut state, txn(header(1, 0, -1, 1, 1))).unwrap();
    assert!(matches!(
        state.check_duplicate(&[txn(header(1, 0, -1, 1, 0))]),
        Verdict::Append
    ));
    assert_eq!(state.first_unstable_offset(), Some(0));
    assert_eq!(state.entry(1).unwrap().last_sequence(), None);
}
