//! Event-time results do not depend on arrival order within the allowed lateness: records
//! shuffled by at most the watermark's out-of-orderness bound give the same windows, and the
//! same emitted finals, as the records in timestamp order. Driven through the topology, with
//! watermarks from several source partitions.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use proptest::prelude::*;
use runnel_streams::{
    Aggregate, Change, EmitMode, LatePolicy, Record, Timestamp, TopologyBuilder, Window,
    WindowSpec, WindowedConfig,
};

/// The results, the finals emitted, the records dropped, and the windows retracted after
/// they closed (a correction, which no record within the bound may cause).
type Outcome = (
    Vec<(u8, Window, Vec<u32>)>,
    Vec<Change<u8, Vec<u32>>>,
    u64,
    usize,
);

/// Runs `records` (key, timestamp, partition, id) in the given order through a topology.
fn run(config: WindowedConfig, bound: Timestamp, records: &[(u8, Timestamp, u32, u32)]) -> Outcome {
    let mut builder = TopologyBuilder::new();
    let (input, stream) = builder.source::<u8, u32>();
    let collect = Aggregate::new(Vec::new, |_: &u8, id: &u32, mut ids: Vec<u32>| {
        ids.push(*id);
        ids.sort_unstable();
        ids
    })
    .with_merger(|_: &u8, mut older: Vec<u32>, newer: Vec<u32>| {
        older.extend(newer);
        older.sort_unstable();
        older
    });
    let table = stream
        .group_by_key()
        .windowed_by(config)
        .aggregate_with(collect)
        .unwrap();
    let finals = Rc::new(RefCell::new(Vec::new()));
    let corrections = Rc::new(RefCell::new(0));
    let (sink, corrected) = (finals.clone(), corrections.clone());
    // Every window's latest result as sent downstream (the table forgets expired windows).
    let results = Rc::new(RefCell::new(BTreeMap::new()));
    let latest = results.clone();
    table.changes().for_each(move |r| match &r.value {
        Change::Update { key, window, value } | Change::Final { key, window, value } => {
            latest.borrow_mut().insert((*key, *window), value.clone());
        }
        Change::Retract { key, window, .. } => {
            latest.borrow_mut().remove(&(*key, *window));
        }
    });
    let close_delay = config.spec.close_delay();
    let watermark = Rc::new(RefCell::new(Timestamp::MIN));
    let seen_watermark = watermark.clone();
    table.changes().for_each(move |r| match &r.value {
        Change::Final { .. } => sink.borrow_mut().push(r.value.clone()),
        Change::Retract { window, .. } => {
            if *seen_watermark.borrow() >= window.end.saturating_add(close_delay) {
                *corrected.borrow_mut() += 1;
            }
        }
        Change::Update { .. } => {}
    });
    // Idle detection stays out of the way: processing time is the arrival index.
    let mut topology = builder.build(bound, Timestamp::MAX).unwrap();
    let partitions: std::collections::BTreeSet<u32> = records.iter().map(|r| r.2).collect();
    for &partition in &partitions {
        topology.register_partition(&input, partition, 0);
    }
    for (now, &(key, timestamp, partition, id)) in records.iter().enumerate() {
        // The watermark the record meets is the one left by the records before it.
        *watermark.borrow_mut() = topology.watermark();
        topology
            .push(
                &input,
                Record::new(key, id, timestamp, partition),
                now as Timestamp,
            )
            .unwrap();
    }
    topology.finish().unwrap();
    let mut finals = finals.take();
    finals.sort_by_key(|c| (*c.key(), c.window()));
    let corrections = *corrections.borrow();
    let results = results
        .take()
        .into_iter()
        .map(|((key, window), ids)| (key, window, ids))
        .collect();
    (results, finals, table.late_records_dropped(), corrections)
}

fn spec(kind: u8, length: i64, grace: i64) -> WindowSpec {
    let spec = match kind {
        0 => WindowSpec::tumbling(length),
        1 => WindowSpec::hopping(length, (length / 3).max(1)),
        2 => WindowSpec::sliding(length),
        _ => WindowSpec::session(length),
    };
    spec.and_then(|s| s.with_grace(grace)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn shuffling_within_the_bound_changes_nothing(
        kind in 0u8..4,
        length in 1i64..20,
        grace in 0i64..5,
        bound in 0i64..15,
        drop in any::<bool>(),
        final_only in any::<bool>(),
        partitions in 1u32..4,
        events in prop::collection::vec((0u8..3, 0i64..200, 0u32..3, 0i64..1_000), 1..80),
    ) {
        let late = if drop { LatePolicy::Drop } else { LatePolicy::Correct { retention: 10 } };
        let emit = if final_only { EmitMode::Final } else { EmitMode::Updates };
        let config = WindowedConfig::new(spec(kind, length, grace), late, emit);
        let records: Vec<(u8, Timestamp, u32, u32)> = events
            .iter()
            .enumerate()
            .map(|(id, &(key, t, partition, _))| (key, t, partition % partitions, id as u32))
            .collect();
        let mut in_order = records.clone();
        in_order.sort_by_key(|r| r.1);
        // Each record arrives as if it were up to `bound` later than it is: any record that
        // overtakes it is at most `bound` newer, so the watermark never passes it.
        let mut shuffled: Vec<_> = records
            .iter()
            .zip(&events)
            .map(|(&r, &(_, _, _, jitter))| (r.1 + jitter % (bound + 1), r))
            .collect();
        shuffled.sort_by_key(|&(arrival, _)| arrival);
        let shuffled: Vec<_> = shuffled.into_iter().map(|(_, r)| r).collect();

        let expected = run(config, bound, &in_order);
        let actual = run(config, bound, &shuffled);
        prop_assert_eq!(expected.2, 0);
        prop_assert_eq!(actual.2, 0);
        prop_assert_eq!(&actual.0, &expected.0);
        prop_assert_eq!(&actual.1, &expected.1);
        prop_assert_eq!(expected.3, 0);
        prop_assert_eq!(actual.3, 0);
        // Every record is in some window.
        let mut seen: Vec<u32> = actual.0.iter().flat_map(|(_, _, ids)| ids.clone()).collect();
        seen.sort_unstable();
        seen.dedup();
        prop_assert_eq!(seen.len(), records.len());
        if final_only {
            prop_assert_eq!(actual.1.len(), actual.0.len());
        }
    }
}
