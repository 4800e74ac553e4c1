//! Table–table joins (inner, left, outer) over tables read from topics with upserts and
//! tombstones: after every change, the view rebuilt from the changelog the join sent (each
//! retraction taking back exactly the result in place) is the join of the two tables as a
//! model holds them; and a task restored midway from the stores sends what the
//! uninterrupted one sent.
#![allow(clippy::unwrap_used)]

mod common;

use common::{keep_changes, restore, StoredState};

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use proptest::prelude::*;
use runnel_streams::{
    DecimalSerde, Delta, Incoming, JoinKind, JoinedTable, JsonSerde, StringSerde, Topology,
    TopologyBuilder,
};

/// A result: the left and right values (`None` where the key is missing).
type Pair = (Option<u64>, Option<u64>);

/// What the join sent: key and delta.
type Sent = Rc<RefCell<Vec<(String, Delta<Pair>)>>>;

/// A change to one table: side (true: left), key, new value or tombstone.
type Op = (bool, u8, Option<u64>);

struct Run {
    topology: Topology,
    view: JoinedTable<String, Pair>,
    sent: Sent,
}

fn build(kind: JoinKind) -> Run {
    let mut builder = TopologyBuilder::with_application_id("tt");
    let left = builder.table("left", StringSerde, DecimalSerde);
    let right = builder.table("right", StringSerde, DecimalSerde);
    let view = match kind {
        JoinKind::Inner => left.join(&right, |_, a: &u64, b: &u64| (Some(*a), Some(*b))),
        JoinKind::Left => {
            left.left_join(&right, |_, a: &u64, b: Option<&u64>| (Some(*a), b.copied()))
        }
        JoinKind::Outer => left.outer_join(&right, |_, a: Option<&u64>, b: Option<&u64>| {
            (a.copied(), b.copied())
        }),
    }
    .stored("view", StringSerde, JsonSerde::<Pair>::new());
    let sent: Sent = Rc::default();
    let sink = sent.clone();
    view.changes()
        .for_each(move |r| sink.borrow_mut().push((r.key.clone(), r.value.clone())));
    Run {
        topology: builder.build(0, 1_000).unwrap(),
        view,
        sent,
    }
}

fn push(topology: &mut Topology, (left, key, value): Op, t: i64) {
    let key = key.to_string();
    let value = value.map(|v| v.to_string());
    let incoming = Incoming {
        key: Some(key.as_bytes()),
        value: value.as_deref().map(str::as_bytes),
        timestamp: t,
        partition: 0,
    };
    let topic = if left { "left" } else { "right" };
    topology.push_from_topic(topic, incoming, 0).unwrap();
}

fn model_join(
    kind: JoinKind,
    lefts: &BTreeMap<String, u64>,
    rights: &BTreeMap<String, u64>,
) -> BTreeMap<String, Pair> {
    let mut keys: Vec<&String> = lefts.keys().chain(rights.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| {
            let (a, b) = (lefts.get(key).copied(), rights.get(key).copied());
            let keep = match kind {
                JoinKind::Inner => a.is_some() && b.is_some(),
                JoinKind::Left => a.is_some(),
                JoinKind::Outer => true,
            };
            keep.then(|| (key.clone(), (a, b)))
        })
        .collect()
}

/// Applies what was sent to `view`: each retraction must take back the result in place.
fn apply(view: &mut BTreeMap<String, Pair>, sent: &[(String, Delta<Pair>)]) {
    for (key, delta) in sent {
        match delta {
            Delta::Retract(old) => assert_eq!(view.remove(key).as_ref(), Some(old), "{key}"),
            Delta::Add(new) => assert_eq!(view.insert(key.clone(), *new), None, "{key}"),
        }
    }
}

fn check(kind: JoinKind, ops: &[Op], cut: usize) {
    let mut lefts = BTreeMap::new();
    let mut rights = BTreeMap::new();
    let mut a = build(kind);
    let mut view = BTreeMap::new();
    let mut a_at_cut = 0;
    for (i, &op) in ops.iter().enumerate() {
        if i == cut {
            a_at_cut = a.sent.borrow().len();
        }
        let before = a.sent.borrow().len();
        push(&mut a.topology, op, i as i64);
        apply(&mut view, &a.sent.borrow()[before..]);
        let (side, key, value) = op;
        let table = if side { &mut lefts } else { &mut rights };
        match value {
            Some(v) => table.insert(key.to_string(), v),
            None => table.remove(&key.to_string()),
        };
        let expected = model_join(kind, &lefts, &rights);
        assert_eq!(view, expected, "after {op:?}");
        assert_eq!(a.view.snapshot(), expected);
    }
    if cut >= ops.len() {
        a_at_cut = a.sent.borrow().len();
    }

    let mut b = build(kind);
    let mut stored = StoredState::new();
    for (i, &op) in ops[..cut.min(ops.len())].iter().enumerate() {
        push(&mut b.topology, op, i as i64);
        keep_changes(&mut b.topology, &mut stored);
    }
    let mut c = build(kind);
    restore(&mut c.topology, &stored);
    for (i, &op) in ops.iter().enumerate().skip(cut) {
        push(&mut c.topology, op, i as i64);
    }
    assert_eq!(c.sent.borrow()[..], a.sent.borrow()[a_at_cut..]);
    assert_eq!(c.view.snapshot(), a.view.snapshot());
}

fn kind() -> impl Strategy<Value = JoinKind> {
    prop_oneof![
        Just(JoinKind::Inner),
        Just(JoinKind::Left),
        Just(JoinKind::Outer)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn table_joins_keep_the_view_of_the_model_tables(
        kind in kind(),
        ops in prop::collection::vec(
            (any::<bool>(), 0u8..4, prop::option::weighted(0.7, 0u64..5)),
            0..50,
        ),
        cut in any::<prop::sample::Index>(),
    ) {
        let cut = cut.index(ops.len() + 1);
        check(kind, &ops, cut);
    }
}

#[test]
fn follows_joined_to_posts_retract_and_add_as_either_side_changes() {
    let ops = [
        (true, 1, Some(10)),
        (false, 1, Some(20)),
        (false, 1, Some(21)),
        (true, 1, None),
        (false, 1, None),
        (false, 2, Some(5)),
        (true, 2, Some(6)),
    ];
    for kind in [JoinKind::Inner, JoinKind::Left, JoinKind::Outer] {
        check(kind, &ops, 3);
    }
    let run = build(JoinKind::Inner);
    let mut topology = run.topology;
    for (i, op) in ops.iter().take(4).enumerate() {
        push(&mut topology, *op, i as i64);
    }
    let key = "1".to_string();
    assert_eq!(
        *run.sent.borrow(),
        vec![
            (key.clone(), Delta::Add((Some(10), Some(20)))),
            (key.clone(), Delta::Retract((Some(10), Some(20)))),
            (key.clone(), Delta::Add((Some(10), Some(21)))),
            (key, Delta::Retract((Some(10), Some(21)))),
        ]
    );
}
