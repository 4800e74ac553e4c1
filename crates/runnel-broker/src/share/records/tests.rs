#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

const LIMITS: Limits = Limits {
    lock_ms: 100,
    delivery_count_limit: 3,
    max_in_flight: 8,
};

fn member(name: &str) -> MemberId {
    MemberId::from(name)
}

#[test]
fn two_members_split_records_and_accepts_advance_the_start() {
    let (a, b) = (member("a"), member("b"));
    let mut records = ShareRecords::new(0);
    let got_a = records.acquire_new(&a, 0, LIMITS, 3, &[(0, 9)], 10);
    let got_b = records.acquire_new(&b, 0, LIMITS, 3, &[(0, 9)], 10);
    assert_eq!(
        got_a,
        vec![AcquiredRange {
            first: 0,
            last: 2,
            deliveries: 1
        }]
    );
    assert_eq!(
        got_b,
        vec![AcquiredRange {
            first: 3,
            last: 5,
            deliveries: 1
        }]
    );
    // b cannot settle a's records; nothing is applied.
    assert_eq!(
        records.acknowledge("b", 2, 3, AckType::Accept, LIMITS),
        Err(AckError::NotAcquired(2))
    );
    records
        .acknowledge("b", 3, 5, AckType::Accept, LIMITS)
        .unwrap();
    assert_eq!(records.start(), 0, "a still holds 0..=2");
    records
        .acknowledge("a", 0, 2, AckType::Accept, LIMITS)
        .unwrap();
    assert_eq!(records.start(), 6);
    assert_eq!(records.end(), 6);
}

#[test]
fn release_redelivers_until_the_delivery_limit_then_archives() {
    let (a, b) = (member("a"), member("b"));
    let mut records = ShareRecords::new(10);
    records.acquire_new(&a, 0, LIMITS, 1, &[(10, 10)], 11);
    records
        .acknowledge("a", 10, 10, AckType::Release, LIMITS)
        .unwrap();
    let again = records.acquire_available(&b, 0, LIMITS, 10);
    assert_eq!(
        again,
        vec![AcquiredRange {
            first: 10,
            last: 10,
            deliveries: 2
        }]
    );
    records
        .acknowledge("b", 10, 10, AckType::Release, LIMITS)
        .unwrap();
    records.acquire_available(&a, 0, LIMITS, 10);
    let archived = records
        .acknowledge("a", 10, 10, AckType::Release, LIMITS)
        .unwrap();
    assert_eq!(
        archived,
        vec![Archived {
            offset: 10,
            deliveries: 3,
            reason: ArchiveReason::DeliveryCountExceeded
        }]
    );
    assert_eq!(records.start(), 11);
}

#[test]
fn reject_archives_at_once_and_locks_expire() {
    let a = member("a");
    let mut records = ShareRecords::new(0);
    records.acquire_new(&a, 1_000, LIMITS, 2, &[(0, 1)], 2);
    let archived = records
        .acknowledge("a", 0, 0, AckType::Reject, LIMITS)
        .unwrap();
    assert_eq!(archived[0].reason, ArchiveReason::Rejected);
    assert_eq!(records.next_deadline(), Some(1_100));
    assert!(records.expire_locks(1_099, LIMITS).is_empty());
    assert!(!records.has_available());
    records.expire_locks(1_100, LIMITS);
    assert!(records.has_available());
    assert_eq!(records.start(), 1);
}

#[test]
fn renewal_extends_only_the_holders_lock() {
    let (a, b) = (member("a"), member("b"));
    let mut records = ShareRecords::new(0);
    records.acquire_new(&a, 0, LIMITS, 2, &[(0, 1)], 2);
    assert_eq!(
        records.acknowledge("b", 0, 0, AckType::Renew { until_ms: 500 }, LIMITS),
        Err(AckError::NotAcquired(0))
    );
    records
        .acknowledge("a", 0, 0, AckType::Renew { until_ms: 500 }, LIMITS)
        .unwrap();
    // Offset 1 kept its first lock (until 100) and goes back; offset 0 stays with a.
    records.expire_locks(100, LIMITS);
    assert!(
        records.acquire_available(&b, 100, LIMITS, 10)
            == vec![AcquiredRange {
                first: 1,
                last: 1,
                deliveries: 2
            }]
    );
    assert_eq!(records.next_deadline(), Some(200), "b's new lock");
    records.expire_locks(499, LIMITS);
    assert_eq!(
        records.summary().acquired,
        1,
        "a still holds offset 0 at 499"
    );
    records.expire_locks(500, LIMITS);
    assert_eq!(records.summary().available, 2);
    assert_eq!(records.summary().max_deliveries, 2);
}

#[test]
fn holes_are_archived_undelivered_and_the_window_is_bounded() {
    let a = member("a");
    let mut records = ShareRecords::new(0);
    // Offsets 0..=1 and 5..=20 exist; 2..=4 were compacted away.
    let got = records.acquire_new(&a, 0, LIMITS, 100, &[(0, 1), (5, 20)], 21);
    assert_eq!(
        got,
        vec![
            AcquiredRange {
                first: 0,
                last: 1,
                deliveries: 1
            },
            AcquiredRange {
                first: 5,
                last: 7,
                deliveries: 1
            },
        ]
    );
    assert_eq!(
        records.end(),
        8,
        "the window holds at most 8 slots, holes included"
    );
    assert_eq!(records.room(LIMITS), 0);
    records
        .acknowledge("a", 0, 1, AckType::Accept, LIMITS)
        .unwrap();
    assert_eq!(
        records.start(),
        5,
        "the holes went with the accepted records"
    );
}

#[test]
fn durable_state_round_trips_and_acquisitions_come_back_available() {
    let a = member("a");
    let mut records = ShareRecords::new(0);
    records.acquire_new(&a, 0, LIMITS, 6, &[(0, 5)], 6);
    records
        .acknowledge("a", 1, 1, AckType::Accept, LIMITS)
        .unwrap();
    records
        .acknowledge("a", 2, 2, AckType::Reject, LIMITS)
        .unwrap();
    let runs = records.durable_runs();
    let restored = ShareRecords::restore(records.start(), &runs).unwrap();
    assert_eq!(restored.start(), 0);
    assert_eq!(restored.end(), 6);
    let summary = restored.summary();
    assert_eq!(
        (summary.acquired, summary.available, summary.max_deliveries),
        (0, 4, 1)
    );
    // Runs that do not tile the window are refused.
    let mut broken = runs.clone();
    broken[0].first += 1;
    assert_eq!(ShareRecords::restore(0, &broken), None);
    // A run claiming more than a window can hold is refused before anything is built.
    let huge = [StateRun {
        first: 0,
        last: i64::MAX - 1,
        state: DurableState::Archived,
        deliveries: 0,
    }];
    assert_eq!(ShareRecords::restore(0, &huge), None);
}

/// One offset of the model: holder and lock deadline, done, deliveries.
type ModelSlot = (Option<(String, i64)>, bool, u16);

/// A deliberately naive model: one entry per offset ever seen.
#[derive(Debug, Default)]
struct Model {
    slots: BTreeMap<i64, ModelSlot>,
}

#[derive(Debug, Clone)]
enum Op {
    AcquireNew {
        member: u8,
        max: usize,
    },
    AcquireAvailable {
        member: u8,
        max: usize,
    },
    Ack {
        member: u8,
        first: u8,
        len: u8,
        ack: u8,
    },
    Tick(i64),
    Leave(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3, 1usize..5).prop_map(|(member, max)| Op::AcquireNew { member, max }),
        (0u8..3, 1usize..5).prop_map(|(member, max)| Op::AcquireAvailable { member, max }),
        (0u8..3, 0u8..30, 0u8..3, 1u8..5).prop_map(|(member, first, len, ack)| Op::Ack {
            member,
            first,
            len,
            ack
        }),
        (1i64..150).prop_map(Op::Tick),
        (0u8..3).prop_map(Op::Leave),
    ]
}

proptest! {
    #[test]
    fn matches_a_per_offset_model(ops in proptest::collection::vec(op(), 1..80)) {
        const LOG_END: i64 = 30;
        let names = ["m0", "m1", "m2"];
        let mut now = 0i64;
        let mut records = ShareRecords::new(0);
        let mut model = Model::default();
        let mut archived_real = 0usize;
        let mut archived_model = 0usize;
        for op in ops {
            match op {
                Op::AcquireNew { member, max } => {
                    let m = member_id(names[member as usize]);
                    let got = records.acquire_new(&m, now, LIMITS, max, &[(0, LOG_END - 1)], LOG_END);
                    let in_flight = model.slots.range(first_open(&model)..).count();
                    let mut want = max.min(LIMITS.max_in_flight.saturating_sub(in_flight));
                    let mut next = model.slots.keys().next_back().map_or(0, |k| k + 1);
                    let mut expected = 0;
                    while want > 0 && next < LOG_END {
                        model.slots.insert(next, (Some((names[member as usize].into(), now + LIMITS.lock_ms)), false, 1));
                        next += 1; want -= 1; expected += 1;
                    }
                    prop_assert_eq!(count(&got), expected);
                }
                Op::AcquireAvailable { member, max } => {
                    let m = member_id(names[member as usize]);
                    let got = records.acquire_available(&m, now, LIMITS, max);
                    let mut expected = 0;
                    for (_, slot) in model.slots.iter_mut() {
                        if expected == max { break; }
                        if slot.0.is_none() && !slot.1 {
                            slot.0 = Some((names[member as usize].into(), now + LIMITS.lock_ms));
                            slot.2 += 1;
                            expected += 1;
                        }
                    }
                    prop_assert_eq!(count(&got), expected);
                }
                Op::Ack { member, first, len, ack } => {
                    let (first, last) = (i64::from(first), i64::from(first) + i64::from(len));
                    let name = names[member as usize];
                    let held = (first..=last).all(|o| matches!(model.slots.get(&o), Some((Some((h, _)), false, _)) if h == name));
                    let ack = match ack as i8 {
                        RENEW_CODE => AckType::Renew { until_ms: now + LIMITS.lock_ms },
                        code => AckType::from_wire(code).unwrap(),
                    };
                    let result = records.acknowledge(name, first, last, ack, LIMITS);
                    prop_assert_eq!(result.is_ok(), held);
                    if let Ok(archived) = result {
                        archived_real += archived.len();
                        for o in first..=last {
                            let slot = model.slots.get_mut(&o).unwrap();
                            if let AckType::Renew { until_ms } = ack {
                                slot.0 = Some((name.into(), until_ms));
                                continue;
                            }
                            slot.0 = None;
                            match ack {
                                AckType::Renew { .. } => {}
                                AckType::Accept | AckType::Gap => slot.1 = true,
                                AckType::Reject => { slot.1 = true; archived_model += 1; }
                                AckType::Release => if slot.2 >= LIMITS.delivery_count_limit { slot.1 = true; archived_model += 1; },
                            }
                        }
                    }
                }
                Op::Tick(ms) => {
                    now += ms;
                    archived_real += records.expire_locks(now, LIMITS).len();
                    archived_model += release_model(&mut model, |h, d| { let _ = h; d <= now });
                }
                Op::Leave(member) => {
                    let name = names[member as usize];
                    archived_real += records.release_member(name, LIMITS).len();
                    archived_model += release_model(&mut model, |h, _| h == name);
                }
            }
            prop_assert_eq!(records.start(), first_open(&model));
            prop_assert_eq!(archived_real, archived_model);
            let summary = records.summary();
            let acquired = model.slots.values().filter(|s| s.0.is_some()).count();
            prop_assert_eq!(summary.acquired, acquired);
            let restored = ShareRecords::restore(records.start(), &records.durable_runs()).unwrap();
            prop_assert_eq!(restored.summary().available, summary.available + summary.acquired);
        }
    }
}

fn member_id(name: &str) -> MemberId {
    member(name)
}

fn count(ranges: &[AcquiredRange]) -> usize {
    ranges.iter().map(|r| (r.last - r.first + 1) as usize).sum()
}

fn first_open(model: &Model) -> i64 {
    model
        .slots
        .iter()
        .find(|(_, s)| !s.1)
        .map(|(o, _)| *o)
        .unwrap_or_else(|| model.slots.keys().next_back().map_or(0, |k| k + 1))
}

fn release_model(model: &mut Model, pick: impl Fn(&str, i64) -> bool) -> usize {
    let mut archived = 0;
    for slot in model.slots.values_mut() {
        if let Some((holder, deadline)) = &slot.0 {
            if pick(holder, *deadline) {
                slot.0 = None;
                if slot.2 >= LIMITS.delivery_count_limit {
                    slot.1 = true;
                    archived += 1;
                }
            }
        }
    }
    archived
}
