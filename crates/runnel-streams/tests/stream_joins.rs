//! Stream–stream windowed joins (inner, left, outer; padded results when the window closes
//! or at once with retractions) against a brute-force model over random out-of-order
//! inputs with late records; a task restored midway from the join's changelog going on
//! exactly as one that never stopped; idle inputs; and the graphs `build` refuses.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use proptest::prelude::*;
use runnel_streams::{
    DecimalSerde, Delta, Incoming, JoinKind, JoinWindows, StateChange, Stream, StreamsError,
    StringSerde, Timestamp, Topology, TopologyBuilder, Unmatched,
};

const KEYS: [&str; 3] = ["a", "b", "c"];
const IDLE_TIMEOUT: Timestamp = 1_000_000;

/// A joined result: the ids of the left and right records (`None` for padding).
type Pair = (Option<u64>, Option<u64>);

/// What the join sent: the key, the delta and its time, and the step it was sent at
/// (`usize::MAX` for `finish`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent {
    key: String,
    delta: Delta<Pair>,
    timestamp: Timestamp,
    step: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

/// One input record; its id is its index in the case.
#[derive(Debug, Clone, Copy)]
struct Step {
    side: Side,
    key: u8,
    t: Timestamp,
}

#[derive(Debug, Clone)]
struct Case {
    kind: JoinKind,
    unmatched: Unmatched,
    before: Timestamp,
    after: Timestamp,
    grace: Timestamp,
    out_of_orderness: Timestamp,
    steps: Vec<Step>,
}

struct Run {
    topology: Topology,
    sent: Rc<RefCell<Vec<Sent>>>,
    step: Rc<RefCell<usize>>,
}

fn build(case: &Case) -> Run {
    let mut builder = TopologyBuilder::with_application_id("joins");
    let left = builder.stream("left", StringSerde, DecimalSerde);
    let right = builder.stream("right", StringSerde, DecimalSerde);
    let windows = JoinWindows::new(case.before, case.after)
        .unwrap()
        .with_grace(case.grace)
        .unwrap();
    let join = left.join(&right, windows).unmatched(case.unmatched).stored(
        "pairs",
        StringSerde,
        DecimalSerde,
        DecimalSerde,
    );
    let joined: Stream<String, Delta<Pair>> = match case.kind {
        JoinKind::Inner => join
            .inner(|_, l: &u64, r: &u64| (Some(*l), Some(*r)))
            .map_values(Delta::Add),
        JoinKind::Left => join.left(|_, l: &u64, r: Option<&u64>| (Some(*l), r.copied())),
        JoinKind::Outer => {
            join.outer(|_, l: Option<&u64>, r: Option<&u64>| (l.copied(), r.copied()))
        }
    };
    let sent = Rc::new(RefCell::new(Vec::new()));
    let step = Rc::new(RefCell::new(0));
    {
        let (sent, step) = (sent.clone(), step.clone());
        joined.for_each(move |r| {
            sent.borrow_mut().push(Sent {
                key: r.key.clone(),
                delta: r.value.clone(),
                timestamp: r.timestamp,
                step: *step.borrow(),
            })
        });
    }
    let mut topology = builder.build(case.out_of_orderness, IDLE_TIMEOUT).unwrap();
    topology.register_topic_partition("left", 0, 0);
    topology.register_topic_partition("right", 0, 0);
    Run {
        topology,
        sent,
        step,
    }
}

impl Run {
    fn push(&mut self, index: usize, step: Step) {
        *self.step.borrow_mut() = index;
        let topic = match step.side {
            Side::Left => "left",
            Side::Right => "right",
        };
        let key = KEYS[usize::from(step.key)].as_bytes();
        let value = index.to_string();
        let incoming = Incoming {
            key: Some(key),
            value: Some(value.as_bytes()),
            timestamp: step.t,
            partition: 0,
        };
        self.topology.push_from_topic(topic, incoming, 0).unwrap();
    }

    fn finish(&mut self) {
        *self.step.borrow_mut() = usize::MAX;
        self.topology.finish().unwrap();
    }
}

/// Whether a left record at `l` and a right one at `r` pair.
fn pairs(case: &Case, l: Timestamp, r: Timestamp) -> bool {
    l - case.before <= r && r <= l + case.after
}

/// What the model expects once the input is over: every pair of accepted records, and the
/// accepted records that paired with nothing, padded as the join kind says; each once.
fn expected(case: &Case, accepted: &[bool]) -> BTreeMap<(String, Pair, Timestamp), i64> {
    let mut results = BTreeMap::new();
    let records: Vec<(usize, Step)> = case
        .steps
        .iter()
        .copied()
        .enumerate()
        .filter(|(i, _)| accepted[*i])
        .collect();
    let id = |i: usize| Some(i as u64);
    for &(i, a) in &records {
        let key = KEYS[usize::from(a.key)].to_string();
        let partners: Vec<&(usize, Step)> = records
            .iter()
            .filter(|(_, b)| b.key == a.key && b.side != a.side)
            .filter(|(_, b)| match a.side {
                Side::Left => pairs(case, a.t, b.t),
                Side::Right => pairs(case, b.t, a.t),
            })
            .collect();
        for &&(j, b) in &partners {
            if a.side == Side::Left {
                *results
                    .entry((key.clone(), (id(i), id(j)), a.t.max(b.t)))
                    .or_default() += 1;
            }
        }
        let padded = match (a.side, case.kind) {
            (Side::Left, JoinKind::Left | JoinKind::Outer) => Some((id(i), None)),
            (Side::Right, JoinKind::Outer) => Some((None, id(i))),
            _ => None,
        };
        if let (true, Some(pair)) = (partners.is_empty(), padded) {
            *results.entry((key.clone(), pair, a.t)).or_default() += 1;
        }
    }
    results
}

/// Runs the case against the model: returns the run, finished.
fn check_model(case: &Case) -> Run {
    let mut run = build(case);
    let mut accepted = Vec::new();
    let mut watermark_after = Vec::new();
    for (i, &step) in case.steps.iter().enumerate() {
        let watermark = run.topology.watermark();
        accepted.push(step.t + case.grace >= watermark);
        run.push(i, step);
        watermark_after.push(run.topology.watermark());
    }
    run.finish();
    let sent = run.sent.borrow().clone();

    // Replayed in order, no retraction takes back what was not sent; what stays is the
    // model's results.
    let mut current: BTreeMap<(String, Pair, Timestamp), i64> = BTreeMap::new();
    for s in &sent {
        let entry = (s.key.clone(), *s.delta.value(), s.timestamp);
        match s.delta {
            Delta::Add(_) => *current.entry(entry).or_default() += 1,
            Delta::Retract(_) => {
                let count = current.entry(entry).or_default();
                *count -= 1;
                assert!(*count >= 0, "retracted what was not sent: {s:?}");
            }
        }
    }
    current.retain(|_, count| *count != 0);
    assert_eq!(current, expected(case, &accepted), "{sent:#?}");
    let dropped = accepted.iter().filter(|a| !**a).count() as u64;
    assert_eq!(run.topology.late_records_dropped(), dropped);

    for s in &sent {
        match (s.delta.value(), &s.delta) {
            // A pair is sent when the second of its records arrives, never retracted.
            ((Some(l), Some(r)), Delta::Add(_)) => {
                assert_eq!(s.step, (*l).max(*r) as usize, "{s:?}")
            }
            ((Some(_), Some(_)), Delta::Retract(_)) => panic!("a pair retracted: {s:?}"),
            // Padded: under `WhenWindowCloses` only once the window closed, and never taken
            // back; under `AtOnceThenRetract` when the record arrives.
            ((l, r), delta) => {
                let (id, reach) = match (l, r) {
                    (Some(l), None) => (*l, case.after),
                    (None, Some(r)) => (*r, case.before),
                    _ => unreachable!(),
                };
                match (case.unmatched, delta) {
                    (Unmatched::WhenWindowCloses, Delta::Add(_)) => {
                        let closed = s.step == usize::MAX
                            || watermark_after[s.step] > s.timestamp + reach + case.grace;
                        assert!(closed, "padded before its window closed: {s:?}");
                    }
                    (Unmatched::WhenWindowCloses, Delta::Retract(_)) => {
                        panic!("a final padded result retracted: {s:?}")
                    }
                    (Unmatched::AtOnceThenRetract, Delta::Add(_)) => {
                        assert_eq!(s.step, id as usize, "{s:?}")
                    }
                    (Unmatched::AtOnceThenRetract, Delta::Retract(_)) => {
                        assert!(s.step > id as usize && s.step != usize::MAX, "{s:?}")
                    }
                }
            }
        }
    }
    run
}

fn kind() -> impl Strategy<Value = JoinKind> {
    prop_oneof![
        Just(JoinKind::Inner),
        Just(JoinKind::Left),
        Just(JoinKind::Outer)
    ]
}

fn unmatched() -> impl Strategy<Value = Unmatched> {
    prop_oneof![
        Just(Unmatched::WhenWindowCloses),
        Just(Unmatched::AtOnceThenRetract)
    ]
}

fn case() -> impl Strategy<Value = Case> {
    // Mostly moving forward by 2 ms, up to 8 ms out of order, and now and then a record
    // 40 ms behind (late unless the grace covers it).
    let steps = prop::collection::vec(
        (any::<bool>(), 0u8..3, -8i64..6, prop::bool::weighted(0.1)),
        0..40,
    )
    .prop_map(|steps| {
        steps
            .into_iter()
            .enumerate()
            .map(|(i, (left, key, jitter, late))| Step {
                side: if left { Side::Left } else { Side::Right },
                key,
                t: 100 + 2 * i as i64 + jitter - if late { 40 } else { 0 },
            })
            .collect::<Vec<_>>()
    });
    (
        kind(),
        unmatched(),
        0i64..8,
        0i64..8,
        0i64..6,
        0i64..5,
        steps,
    )
        .prop_map(
            |(kind, unmatched, before, after, grace, out_of_orderness, steps)| Case {
                kind,
                unmatched,
                before,
                after,
                grace,
                out_of_orderness,
                steps,
            },
        )
}

/// The latest value of each stored entry, as a compacted changelog keeps it.
type Stored = BTreeMap<Vec<u8>, Vec<u8>>;

fn apply(stored: &mut Stored, changes: &[StateChange]) {
    for change in changes {
        assert_eq!(change.store, "pairs");
        match &change.value {
            Some(value) => stored.insert(change.key.to_vec(), value.to_vec()),
            None => stored.remove(&change.key[..]),
        };
    }
}

/// Runs the case with and without a restart after `cut` records: the restarted task,
/// restored from the changelog (compacted, or replayed as written) and given back each
/// input's newest event time as a runner does, sends exactly what the uninterrupted one
/// sent after the cut.
fn check_restore(case: &Case, cut: usize, flush_every: usize, replay_log: bool) {
    let mut a = build(case);
    let mut a_at_cut = 0;
    for (i, &step) in case.steps.iter().enumerate() {
        if i == cut {
            a_at_cut = a.sent.borrow().len();
        }
        a.push(i, step);
    }
    if cut >= case.steps.len() {
        a_at_cut = a.sent.borrow().len();
    }
    let mut a_stored = Stored::new();
    apply(&mut a_stored, &a.topology.take_state_changes().unwrap());
    a.finish();
    let a_sent = a.sent.borrow().clone();

    let cut = cut.min(case.steps.len());
    let mut b = build(case);
    let mut b_stored = Stored::new();
    let mut b_log = Vec::new();
    for (i, &step) in case.steps[..cut].iter().enumerate() {
        b.push(i, step);
        if (i + 1) % flush_every == 0 {
            let changes = b.topology.take_state_changes().unwrap();
            apply(&mut b_stored, &changes);
            b_log.extend(changes);
        }
    }
    let changes = b.topology.take_state_changes().unwrap();
    apply(&mut b_stored, &changes);
    b_log.extend(changes);
    assert_eq!(
        b.sent.borrow()[..],
        a_sent[..a_at_cut],
        "the prefixes differ"
    );

    let mut c = build(case);
    if replay_log {
        for change in &b_log {
            c.topology
                .restore(&change.store, &change.key, change.value.as_deref())
                .unwrap();
        }
    } else {
        for (key, value) in &b_stored {
            c.topology.restore("pairs", key, Some(value)).unwrap();
        }
    }
    assert_eq!(c.topology.take_state_changes().unwrap(), vec![]);
    for topic in ["left", "right"] {
        if let Some(newest) = b.topology.topic_max_event_time(topic, 0) {
            c.topology.restore_max_event_time(topic, 0, newest, 0);
        }
    }
    c.topology.advance_processing_time(0).unwrap();
    for (i, &step) in case.steps.iter().enumerate().skip(cut) {
        c.push(i, step);
    }
    apply(&mut b_stored, &c.topology.take_state_changes().unwrap());
    assert_eq!(b_stored, a_stored, "the stored state differs");
    c.finish();
    assert_eq!(
        c.sent.borrow()[..],
        a_sent[a_at_cut..],
        "the results after the cut differ"
    );
    assert_eq!(
        b.topology.late_records_dropped() + c.topology.late_records_dropped(),
        a.topology.late_records_dropped()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn every_join_agrees_with_the_model(case in case()) {
        check_model(&case);
    }

    #[test]
    fn a_restored_join_goes_on_as_if_it_never_stopped(
        case in case(),
        cut in any::<prop::sample::Index>(),
        flush_every in 1usize..5,
        replay_log in any::<bool>(),
    ) {
        let cut = cut.index(case.steps.len() + 1);
        check_restore(&case, cut, flush_every, replay_log);
    }
}

/// Every kind in both modes on one stream: a pair, a record matched only after it was
/// padded, one that never matches, a late one, and a restart in the middle.
#[test]
fn every_kind_and_mode_on_one_stream() {
    let step = |side, key, t| Step { side, key, t };
    let steps = vec![
        step(Side::Left, 0, 100),
        step(Side::Right, 0, 103),
        step(Side::Left, 1, 104),
        step(Side::Right, 2, 106),
        step(Side::Left, 0, 120),
        step(Side::Right, 1, 108),
        step(Side::Left, 1, 80),
        step(Side::Right, 0, 140),
    ];
    for kind in [JoinKind::Inner, JoinKind::Left, JoinKind::Outer] {
        for unmatched in [Unmatched::WhenWindowCloses, Unmatched::AtOnceThenRetract] {
            let case = Case {
                kind,
                unmatched,
                before: 5,
                after: 5,
                grace: 2,
                out_of_orderness: 1,
                steps: steps.clone(),
            };
            let run = check_model(&case);
            assert_eq!(run.topology.late_records_dropped(), 1, "{kind:?}");
            let sent = run.sent.borrow();
            // The left record at 104 ("b") pairs with the right one at 108, sent late.
            let pair = (Some(2), Some(5));
            assert!(sent.iter().any(|s| s.delta == Delta::Add(pair)));
            let padded_then_retracted = sent
                .iter()
                .any(|s| s.delta == Delta::Retract((Some(2), None)));
            assert_eq!(
                padded_then_retracted,
                unmatched == Unmatched::AtOnceThenRetract && kind != JoinKind::Inner,
                "{kind:?} {unmatched:?}"
            );
            drop(sent);
            for replay_log in [false, true] {
                check_restore(&case, 4, 2, replay_log);
            }
        }
    }
}

/// A silent input holds the watermark, so a left join's padded results wait; once it has
/// been idle for the timeout, the other input's time closes the windows.
#[test]
fn an_idle_input_does_not_hold_padded_results_back_for_ever() {
    let mut builder = TopologyBuilder::new();
    let left = builder.stream("searches", StringSerde, StringSerde);
    let right = builder.stream("clicks", StringSerde, StringSerde);
    let out = Rc::new(RefCell::new(Vec::new()));
    let sink = out.clone();
    left.join(&right, JoinWindows::within(10).unwrap())
        .left(|_, s: &String, c: Option<&String>| (s.clone(), c.cloned()))
        .for_each(move |r| sink.borrow_mut().push(r.value.clone()));
    let mut topology = builder.build(0, 100).unwrap();
    topology.register_topic_partition("clicks", 0, 0);
    let search = |t| Incoming {
        key: Some(b"s1"),
        value: Some(b"q"),
        timestamp: t,
        partition: 0,
    };
    topology.push_from_topic("searches", search(0), 0).unwrap();
    topology
        .push_from_topic("searches", search(50), 10)
        .unwrap();
    assert!(out.borrow().is_empty());
    topology.advance_processing_time(99).unwrap();
    assert!(out.borrow().is_empty(), "clicks is not idle yet");
    topology.advance_processing_time(100).unwrap();
    assert_eq!(
        *out.borrow(),
        vec![Delta::Add(("q".to_string(), None))],
        "the search at 0 had no click by 10"
    );
}

#[test]
fn join_windows_refuse_negative_lengths() {
    assert!(matches!(
        JoinWindows::new(-1, 0),
        Err(StreamsError::InvalidWindow(_))
    ));
    assert!(matches!(
        JoinWindows::within(5).unwrap().with_grace(-1),
        Err(StreamsError::InvalidWindow(_))
    ));
}

#[test]
fn build_refuses_joining_records_whose_keys_changed_without_a_repartition() {
    let mut builder = TopologyBuilder::new();
    let searches = builder
        .stream("searches", StringSerde, StringSerde)
        .key_by(|_, query: &String| query.clone());
    let clicks = builder.stream("clicks", StringSerde, StringSerde);
    let _ = searches
        .join(&clicks, JoinWindows::within(10).unwrap())
        .inner(|_, s: &String, c: &String| format!("{s} {c}"));
    let error = builder.build(0, 100).unwrap_err();
    assert!(error.to_string().contains("repartition"), "{error}");

    let mut builder = TopologyBuilder::new();
    let searches = builder
        .stream("searches", StringSerde, StringSerde)
        .key_by(|_, query: &String| query.clone())
        .repartition("by-query", StringSerde, StringSerde);
    let clicks = builder.stream("clicks", StringSerde, StringSerde);
    let _ = searches
        .join(&clicks, JoinWindows::within(10).unwrap())
        .inner(|_, s: &String, c: &String| format!("{s} {c}"));
    builder.build(0, 100).unwrap();
}

#[test]
fn build_refuses_joining_inputs_whose_keys_were_read_with_different_serdes() {
    let mut builder = TopologyBuilder::new();
    let searches = builder.stream("searches", StringSerde, StringSerde);
    let clicks = builder.stream(
        "clicks",
        runnel_streams::JsonSerde::<String>::new(),
        StringSerde,
    );
    let _ = searches
        .join(&clicks, JoinWindows::within(10).unwrap())
        .inner(|_, s: &String, c: &String| format!("{s} {c}"));
    let error = builder.build(0, 100).unwrap_err();
    assert!(error.to_string().contains("different serdes"), "{error}");

    let mut builder = TopologyBuilder::new();
    let orders = builder.stream("orders", StringSerde, StringSerde);
    let customers = builder.table(
        "customers",
        runnel_streams::JsonSerde::<String>::new(),
        StringSerde,
    );
    let _ = orders.join_table(&customers, |_, o: &String, c: &String| format!("{o} {c}"));
    let error = builder.build(0, 100).unwrap_err();
    assert!(error.to_string().contains("different serdes"), "{error}");
}
