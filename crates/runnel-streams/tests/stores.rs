//! Topic I/O and state stores: a word count through a repartition topic into a stored table
//! and an output topic; windowed and plain aggregations restored from their state changes
//! midway, against a run that never stopped; a table read from a compacted topic; bad stored
//! bytes; and the mistakes `build` refuses.
#![allow(clippy::unwrap_used)]

mod common;

use common::{apply, keep_changes, restore, StoredState};

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use bytes::Bytes;
use proptest::prelude::*;
use runnel_streams::{
    Change, EmitMode, Incoming, InternalTopic, LatePolicy, Outgoing, Serde, StateChange, StoreInfo,
    StreamsError, StringSerde, Timestamp, TopicPurpose, Topology, TopologyBuilder, Window,
    WindowSpec, WindowedConfig,
};

/// A `u64` as eight big-endian bytes; anything else is refused.
#[derive(Debug, Clone, Copy)]
struct U64Serde;

impl Serde<u64> for U64Serde {
    fn serialize(&self, value: &u64) -> Result<Bytes, StreamsError> {
        Ok(Bytes::copy_from_slice(&value.to_be_bytes()))
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<u64, StreamsError> {
        let bytes: [u8; 8] = bytes
            .try_into()
            .map_err(|_| StreamsError::Serde(format!("{} bytes are not a u64", bytes.len())))?;
        Ok(u64::from_be_bytes(bytes))
    }
}

type Shared<T> = Rc<RefCell<Vec<T>>>;

fn shared<T>() -> Shared<T> {
    Rc::new(RefCell::new(Vec::new()))
}

fn incoming<'a>(
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    timestamp: Timestamp,
) -> Incoming<'a> {
    Incoming {
        key,
        value,
        timestamp,
        partition: 0,
    }
}

/// A record of `topic` as a runner would read it back, its partition picked from its key.
fn read_back<'a>(record: &'a Outgoing, partitions: u32) -> Incoming<'a> {
    let key = record.key.as_deref();
    let partition = key.map_or(0, |k| {
        k.iter().map(|&b| u32::from(b)).sum::<u32>() % partitions
    });
    Incoming {
        key,
        value: record.value.as_deref(),
        timestamp: record.timestamp,
        partition,
    }
}

fn text(bytes: &Option<Bytes>) -> String {
    String::from_utf8(bytes.as_ref().unwrap().to_vec()).unwrap()
}

fn number(bytes: &Option<Bytes>) -> u64 {
    U64Serde.deserialize(bytes.as_ref().unwrap()).unwrap()
}

fn change(store: &str, key: &str, value: Option<u64>) -> StateChange {
    StateChange {
        store: store.to_owned(),
        key: Bytes::copy_from_slice(key.as_bytes()),
        value: value.map(|v| U64Serde.serialize(&v).unwrap()),
    }
}

// ---------------------------------------------------------------------------------------
// 1. Word count through a repartition topic.
// ---------------------------------------------------------------------------------------

/// What a runner does with one line: reads it from the input topic, sends what goes to the
/// repartition topic back in (until nothing does), and returns what goes elsewhere.
fn run_line(
    topology: &mut Topology,
    repartition: &str,
    line: &str,
    timestamp: Timestamp,
) -> Vec<Outgoing> {
    let mut delivered = Vec::new();
    topology
        .push_from_topic("text", incoming(None, Some(line.as_bytes()), timestamp), 1)
        .unwrap();
    let mut pending = topology.take_outgoing();
    while !pending.is_empty() {
        let mut next = Vec::new();
        for record in pending {
            if &*record.topic == repartition {
                topology
                    .push_from_topic(repartition, read_back(&record, 2), 1)
                    .unwrap();
                next.extend(topology.take_outgoing());
            } else {
                delivered.push(record);
            }
        }
        pending = next;
    }
    delivered
}

#[test]
fn word_count_through_a_repartition_topic_into_a_stored_table() {
    let mut builder = TopologyBuilder::with_application_id("wc");
    let lines = builder.stream("text", StringSerde, StringSerde);
    let counts = lines
        .flat_map(|_, line: String| {
            line.split_whitespace()
                .map(|w| (w.to_lowercase(), w.to_lowercase()))
                .collect::<Vec<_>>()
        })
        .key_by(|word: &String, _| word.clone())
        .repartition("words", StringSerde, StringSerde)
        .group_by_key()
        .count()
        .stored("counts", StringSerde, U64Serde);
    counts
        .changes()
        .to_topic("counts-out", StringSerde, U64Serde);
    let mut topology = builder.build(5, 1_000).unwrap();

    let repartition = "wc-words-repartition".to_string();
    assert_eq!(
        topology.source_topics(),
        vec!["text".to_string(), repartition.clone()]
    );
    assert_eq!(
        topology.internal_topics(),
        vec![
            InternalTopic {
                name: repartition.clone(),
                purpose: TopicPurpose::Repartition,
            },
            InternalTopic {
                name: "wc-counts-changelog".into(),
                purpose: TopicPurpose::Changelog,
            },
        ]
    );
    assert_eq!(
        topology.stores(),
        vec![StoreInfo {
            name: "counts".into(),
            changelog: "wc-counts-changelog".into(),
        }]
    );
    for partition in 0..2 {
        topology.register_topic_partition(&repartition, partition, 0);
    }

    let delivered = run_line(&mut topology, &repartition, "the cat saw the dog", 100);
    let outputs: Vec<(String, u64, Timestamp)> = delivered
        .iter()
        .map(|r| {
            assert_eq!(&*r.topic, "counts-out");
            (text(&r.key), number(&r.value), r.timestamp)
        })
        .collect();
    assert_eq!(
        outputs,
        vec![
            ("the".into(), 1, 100),
            ("cat".into(), 1, 100),
            ("saw".into(), 1, 100),
            ("the".into(), 2, 100),
            ("dog".into(), 1, 100),
        ]
    );
    // One change per key however often it changed, in key order.
    assert_eq!(
        topology.take_state_changes().unwrap(),
        vec![
            change("counts", "cat", Some(1)),
            change("counts", "dog", Some(1)),
            change("counts", "saw", Some(1)),
            change("counts", "the", Some(2)),
        ]
    );
    assert_eq!(topology.take_state_changes().unwrap(), vec![]);

    let delivered = run_line(&mut topology, &repartition, "The End", 90);
    let outputs: Vec<(String, u64)> = delivered
        .iter()
        .map(|r| (text(&r.key), number(&r.value)))
        .collect();
    assert_eq!(outputs, vec![("the".into(), 3), ("end".into(), 1)]);
    assert_eq!(
        topology.take_state_changes().unwrap(),
        vec![
            change("counts", "end", Some(1)),
            change("counts", "the", Some(3)),
        ]
    );
    assert_eq!(counts.get(&"the".to_string()), Some(3));
    assert_eq!(counts.get(&"cat".to_string()), Some(1));
    // Two lines and eight words read back.
    assert_eq!(topology.records_in(), 2 + 7);
    assert_eq!(topology.topic_watermark("text", 0), Some(95));
    assert_eq!(topology.topic_watermark("nope", 0), None);

    // A tombstone in a stream's topic means nothing: no words, no changes.
    topology
        .push_from_topic("text", incoming(None, None, 120), 2)
        .unwrap();
    assert_eq!(topology.take_outgoing(), vec![]);
    assert_eq!(topology.take_state_changes().unwrap(), vec![]);

    // A record that does not decode is reported and skipped; an unknown topic is refused.
    let bad = topology.push_from_topic("text", incoming(None, Some(b"\xff"), 120), 2);
    assert!(matches!(bad, Err(StreamsError::Serde(_))), "{bad:?}");
    assert_eq!(topology.take_outgoing(), vec![]);
    let unknown = topology.push_from_topic("nope", incoming(None, Some(b"x"), 120), 2);
    assert!(
        matches!(unknown, Err(StreamsError::Topology(_))),
        "{unknown:?}"
    );

    // A fresh task restored from the changes goes on counting where the first one was.
    let mut builder = TopologyBuilder::with_application_id("wc");
    let words = builder.stream("wc-words-repartition", StringSerde, StringSerde);
    let restored = words
        .group_by_key()
        .count()
        .stored("counts", StringSerde, U64Serde);
    restored
        .changes()
        .to_topic("counts-out", StringSerde, U64Serde);
    let mut fresh = builder.build(5, 1_000).unwrap();
    for (word, count) in [("the", 3u64), ("cat", 1), ("end", 1)] {
        fresh
            .restore("counts", word.as_bytes(), Some(&count.to_be_bytes()))
            .unwrap();
    }
    assert_eq!(fresh.take_state_changes().unwrap(), vec![]);
    fresh
        .push_from_topic(&repartition, incoming(Some(b"the"), Some(b"the"), 130), 3)
        .unwrap();
    let out = fresh.take_outgoing();
    assert_eq!(out.len(), 1);
    assert_eq!(
        (text(&out[0].key), number(&out[0].value)),
        ("the".into(), 4)
    );
    assert_eq!(restored.get(&"cat".to_string()), Some(1));
    assert_eq!(
        fresh.take_state_changes().unwrap(),
        vec![change("counts", "the", Some(4))]
    );
}

// ---------------------------------------------------------------------------------------
// 2. Restoring midway, against a run that never stopped.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Tumbling,
    Hopping,
    Session,
    /// A plain count per key, over all time.
    Plain,
    Sliding,
}

#[derive(Debug, Clone)]
struct Case {
    shape: Shape,
    emit: EmitMode,
    late: LatePolicy,
    grace: Timestamp,
    out_of_orderness: Timestamp,
    /// Key and event time of each record.
    records: Vec<(u8, Timestamp)>,
    /// Records before the cut are processed by the first task, the rest by the restored one.
    cut: usize,
    /// The first task takes its state changes after every this many records.
    flush_every: usize,
    /// Restore by replaying every change taken, tombstones included, in order (as from an
    /// uncompacted changelog), instead of the latest value of each entry (a compacted one).
    replay_log: bool,
    /// Restore the latest values in reverse order.
    reverse: bool,
}

const KEYS: [&str; 4] = ["a", "b", "c", "d"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Out {
    Windowed(Change<String, u64>),
    Plain(String, u64),
}

type Snapshot = BTreeMap<(String, Window), u64>;

struct Run {
    topology: Topology,
    out: Shared<Out>,
    snapshot: Box<dyn Fn() -> Snapshot>,
    store: &'static str,
}

impl Run {
    fn new(case: &Case) -> Run {
        let mut builder = TopologyBuilder::with_application_id("restore");
        let grouped = builder.stream("in", StringSerde, U64Serde).group_by_key();
        let out = shared();
        let sink = out.clone();
        let (snapshot, store): (Box<dyn Fn() -> Snapshot>, _) = match case.shape {
            Shape::Plain => {
                let table = grouped.count().stored("counts", StringSerde, U64Serde);
                table
                    .changes()
                    .for_each(move |r| sink.borrow_mut().push(Out::Plain(r.key.clone(), r.value)));
                let snapshot = move || {
                    KEYS.iter()
                        .filter_map(|k| {
                            let k = k.to_string();
                            table.get(&k).map(|v| ((k, Window::new(0, 1)), v))
                        })
                        .collect()
                };
                (Box::new(snapshot), "counts")
            }
            shape => {
                let spec = match shape {
                    Shape::Tumbling => WindowSpec::tumbling(10),
                    Shape::Hopping => WindowSpec::hopping(20, 5),
                    Shape::Sliding => WindowSpec::sliding(10),
                    _ => WindowSpec::session(6),
                };
                let spec = spec.unwrap().with_grace(case.grace).unwrap();
                let table = grouped
                    .windowed_by(WindowedConfig::new(spec, case.late, case.emit))
                    .with_values(U64Serde)
                    .count()
                    .unwrap()
                    .stored("windows", StringSerde, U64Serde);
                table
                    .changes()
                    .for_each(move |r| sink.borrow_mut().push(Out::Windowed(r.value.clone())));
                let snapshot = move || {
                    table
                        .snapshot()
                        .into_iter()
                        .map(|(k, w, v)| ((k, w), v))
                        .collect()
                };
                (Box::new(snapshot), "windows")
            }
        };
        let topology = builder.build(case.out_of_orderness, 1_000_000).unwrap();
        Run {
            topology,
            out,
            snapshot,
            store,
        }
    }

    fn push(&mut self, (key, timestamp): (u8, Timestamp)) {
        let key = KEYS[usize::from(key)].as_bytes();
        let value = 1u64.to_be_bytes();
        self.topology
            .push_from_topic("in", incoming(Some(key), Some(&value), timestamp), 0)
            .unwrap();
    }

    fn outputs(&self) -> Vec<Out> {
        self.out.borrow().clone()
    }
}

fn finals(outputs: &[Out]) -> BTreeMap<(String, Window), usize> {
    let mut counts = BTreeMap::new();
    for out in outputs {
        if let Out::Windowed(Change::Final { key, window, .. }) = out {
            *counts.entry((key.clone(), *window)).or_default() += 1;
        }
    }
    counts
}

/// The last state each output leaves an entry of the table in (present with a value, or
/// retracted).
fn last_states(outputs: &[Out]) -> BTreeMap<(String, Window), Option<u64>> {
    let mut states = BTreeMap::new();
    for out in outputs {
        let (entry, state) = match out {
            Out::Plain(key, value) => ((key.clone(), Window::new(0, 1)), Some(*value)),
            Out::Windowed(Change::Update { key, window, value })
            | Out::Windowed(Change::Final { key, window, value }) => {
                ((key.clone(), *window), Some(*value))
            }
            Out::Windowed(Change::Retract { key, window, .. }) => ((key.clone(), *window), None),
        };
        states.insert(entry, state);
    }
    states
}

/// Runs `case` with and without a restart at the cut; returns how many entries the
/// restarted task restored.
fn check_restore(mut case: Case) -> usize {
    // The watermark is not stored: a restored task starts from `Timestamp::MIN`. So that
    // both runs judge lateness alike, the first record after the cut is no older than any
    // before it; from then on both tasks have the same watermark, and every later record is
    // as early, late or dropped in one run as in the other.
    if let Some(max_before) = case.records[..case.cut].iter().map(|r| r.1).max() {
        if let Some(first_after) = case.records.get_mut(case.cut) {
            first_after.1 = first_after.1.max(max_before);
        }
    }

    // Run A never stops.
    let mut a = Run::new(&case);
    let mut a_at_cut = 0;
    for (i, &record) in case.records.iter().enumerate() {
        if i == case.cut {
            a_at_cut = a.out.borrow().len();
        }
        a.push(record);
    }
    if case.cut == case.records.len() {
        a_at_cut = a.out.borrow().len();
    }
    let mut a_state = StoredState::new();
    apply(&mut a_state, &a.topology.take_state_changes().unwrap());
    let a_state_before_end = a_state.clone();
    a.topology.finish().unwrap();
    apply(&mut a_state, &a.topology.take_state_changes().unwrap());
    let a_out = a.outputs();
    let a_dropped = a.topology.late_records_dropped();

    // Run B processes the prefix and keeps its state changes as a runner would.
    let mut b = Run::new(&case);
    let mut b_state = StoredState::new();
    let mut b_log: Vec<StateChange> = Vec::new();
    for (i, &record) in case.records[..case.cut].iter().enumerate() {
        b.push(record);
        if (i + 1) % case.flush_every == 0 {
            let changes = b.topology.take_state_changes().unwrap();
            apply(&mut b_state, &changes);
            b_log.extend(changes);
        }
    }
    let changes = b.topology.take_state_changes().unwrap();
    apply(&mut b_state, &changes);
    b_log.extend(changes);
    let b_out = b.outputs();
    assert_eq!(b_out, a_out[..a_at_cut], "the prefixes differ");
    // Nothing of the prefix is stored twice: every change is of this graph's one store.
    assert!(b_log.iter().all(|c| c.store == b.store));

    // A fresh task, restored from what B stored, processes the rest.
    let mut c = Run::new(&case);
    let restored = if case.replay_log {
        b_log.len()
    } else {
        b_state.len()
    };
    if case.replay_log {
        for change in &b_log {
            c.topology
                .restore(&change.store, &change.key, change.value.as_deref())
                .unwrap();
        }
    } else {
        let mut entries: Vec<_> = b_state.iter().collect();
        if case.reverse {
            entries.reverse();
        }
        for ((store, key), value) in entries {
            c.topology.restore(store, key, Some(value)).unwrap();
        }
    }
    // Restoring is not a change to write back.
    assert_eq!(c.topology.take_state_changes().unwrap(), vec![]);
    assert_eq!(c.topology.watermark(), Timestamp::MIN);
    for &record in &case.records[case.cut..] {
        c.push(record);
    }
    let changes = c.topology.take_state_changes().unwrap();
    apply(&mut b_state, &changes);
    assert_eq!(
        b_state, a_state_before_end,
        "the stored state before the end differs from the uninterrupted run's"
    );
    c.topology.finish().unwrap();
    apply(&mut b_state, &c.topology.take_state_changes().unwrap());
    assert_eq!(b_state, a_state, "the stored state at the end differs");
    let c_out = c.outputs();

    // After the cut, the restored task says exactly what the uninterrupted one said.
    assert_eq!(c_out, a_out[a_at_cut..], "the outputs after the cut differ");
    assert_eq!(
        b.topology.late_records_dropped() + c.topology.late_records_dropped(),
        a_dropped
    );

    // Each window's final result is sent as often overall as without the restart: once,
    // when nothing can correct it.
    if case.emit == EmitMode::Final && case.shape != Shape::Plain {
        let mut both = b_out.clone();
        both.extend(c_out.iter().cloned());
        let split = finals(&both);
        assert_eq!(split, finals(&a_out));
        if case.late == LatePolicy::Drop {
            assert!(split.values().all(|&n| n == 1), "{split:?}");
        }
    }

    // The table at the cut, brought up to date by what the restored task sent, is the
    // uninterrupted task's table.
    let mut expected = (b.snapshot)();
    for (entry, state) in last_states(&c_out) {
        match state {
            Some(value) => expected.insert(entry, value),
            None => expected.remove(&entry),
        };
    }
    assert_eq!(expected, (a.snapshot)());

    // The restored table holds only results that were sent, the same as the uninterrupted
    // one's, and agrees with it on everything it changed after the cut.
    let a_table = (a.snapshot)();
    let c_table = (c.snapshot)();
    for (entry, value) in &c_table {
        assert_eq!(a_table.get(entry), Some(value), "{entry:?}");
    }
    for (entry, state) in last_states(&c_out) {
        assert_eq!(c_table.get(&entry).copied(), state, "{entry:?}");
        assert_eq!(a_table.get(&entry).copied(), state, "{entry:?}");
    }
    restored
}

fn case() -> impl Strategy<Value = Case> {
    let shape = prop_oneof![
        Just(Shape::Tumbling),
        Just(Shape::Hopping),
        Just(Shape::Session),
        Just(Shape::Sliding),
        Just(Shape::Plain),
    ];
    let emit = prop_oneof![Just(EmitMode::Updates), Just(EmitMode::Final)];
    let late = prop_oneof![
        Just(LatePolicy::Drop),
        (0i64..40).prop_map(|retention| LatePolicy::Correct { retention }),
    ];
    // Mostly moving forward by 3 ms, up to 15 ms out of order, and now and then a record
    // 60 ms behind (late for most windows).
    let records = prop::collection::vec((0u8..4, -15i64..10, prop::bool::weighted(0.1)), 0..40)
        .prop_map(|steps| {
            steps
                .into_iter()
                .enumerate()
                .map(|(i, (key, jitter, late))| {
                    let behind = if late { 60 } else { 0 };
                    (key, 100 + 3 * i as i64 + jitter - behind)
                })
                .collect::<Vec<_>>()
        });
    (
        shape,
        emit,
        late,
        0i64..8,
        0i64..6,
        records,
        any::<prop::sample::Index>(),
        1usize..5,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                shape,
                emit,
                late,
                grace,
                out_of_orderness,
                records,
                cut,
                flush_every,
                replay_log,
                reverse,
            )| {
                let cut = cut.index(records.len() + 1);
                Case {
                    shape,
                    emit,
                    late,
                    grace,
                    out_of_orderness,
                    records,
                    cut,
                    flush_every,
                    replay_log,
                    reverse,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn a_restored_task_goes_on_as_if_it_never_stopped(case in case()) {
        check_restore(case);
    }
}

/// Every shape, mode and policy at least once, on one stream with a late record after the
/// cut and sessions that merge across it.
#[test]
fn every_combination_restores_midway() {
    let records = vec![
        (0, 100),
        (1, 104),
        (0, 107),
        (0, 103),
        (1, 120),
        (0, 112),
        (2, 90),
        // The cut: no older than anything before it.
        (0, 125),
        (0, 119),
        (1, 118),
        (0, 60),
        (2, 140),
        (0, 131),
        (1, 126),
    ];
    for shape in [
        Shape::Tumbling,
        Shape::Hopping,
        Shape::Session,
        Shape::Sliding,
        Shape::Plain,
    ] {
        for emit in [EmitMode::Updates, EmitMode::Final] {
            for late in [LatePolicy::Drop, LatePolicy::Correct { retention: 30 }] {
                for (replay_log, reverse) in [(false, false), (false, true), (true, false)] {
                    let restored = check_restore(Case {
                        shape,
                        emit,
                        late,
                        grace: 2,
                        out_of_orderness: 3,
                        records: records.clone(),
                        cut: 7,
                        flush_every: 2,
                        replay_log,
                        reverse,
                    });
                    assert!(
                        restored > 0,
                        "{shape:?} {emit:?} {late:?}: nothing restored"
                    );
                }
            }
        }
    }
}

/// What a restored task does not know: the watermark. A record after the cut that the
/// uninterrupted task finds late, the restored one (whose watermark starts over) accepts.
#[test]
fn the_watermark_is_not_restored() {
    let case = Case {
        shape: Shape::Tumbling,
        emit: EmitMode::Updates,
        late: LatePolicy::Drop,
        grace: 0,
        out_of_orderness: 0,
        records: vec![(0, 100), (0, 150)],
        cut: 2,
        flush_every: 1,
        replay_log: false,
        reverse: false,
    };
    let mut first = Run::new(&case);
    first.push((0, 100));
    first.push((0, 150));
    let mut state = StoredState::new();
    keep_changes(&mut first.topology, &mut state);
    // The window [100, 110) is closed and, under `Drop`, forgotten.
    assert_eq!(state.len(), 1);
    first.push((0, 105));
    assert_eq!(first.topology.late_records_dropped(), 1);

    let mut restored = Run::new(&case);
    restore(&mut restored.topology, &state);
    restored.push((0, 105));
    assert_eq!(restored.topology.late_records_dropped(), 0);
    assert_eq!(
        restored.outputs(),
        vec![Out::Windowed(Change::Update {
            key: "a".into(),
            window: Window::new(100, 110),
            value: 1,
        })]
    );
    // The window the state did hold goes on from its stored count.
    restored.push((0, 151));
    assert_eq!(
        restored.outputs().last(),
        Some(&Out::Windowed(Change::Update {
            key: "a".into(),
            window: Window::new(150, 160),
            value: 2,
        }))
    );
}

// ---------------------------------------------------------------------------------------
// 3. A table read from a compacted topic.
// ---------------------------------------------------------------------------------------

#[test]
fn a_table_from_a_topic_upserts_deletes_and_restores() {
    let build = || {
        let mut builder = TopologyBuilder::with_application_id("app");
        let users = builder.table("users", StringSerde, U64Serde);
        users.changes().to_topic("users-out", StringSerde, U64Serde);
        let topology = builder.build(0, 1_000).unwrap();
        (topology, users)
    };
    let (mut topology, users) = build();
    assert_eq!(topology.source_topics(), vec!["users".to_string()]);
    assert_eq!(
        topology.stores(),
        vec![StoreInfo {
            name: "users-table".into(),
            changelog: "app-users-table-changelog".into(),
        }]
    );
    assert_eq!(
        topology.internal_topics(),
        vec![InternalTopic {
            name: "app-users-table-changelog".into(),
            purpose: TopicPurpose::Changelog,
        }]
    );

    let put = |topology: &mut Topology, key: &str, value: Option<u64>, timestamp| {
        let bytes = value.map(u64::to_be_bytes);
        topology
            .push_from_topic(
                "users",
                incoming(
                    Some(key.as_bytes()),
                    bytes.as_ref().map(|b| &b[..]),
                    timestamp,
                ),
                0,
            )
            .unwrap();
    };
    put(&mut topology, "ann", Some(1), 10);
    put(&mut topology, "bob", Some(2), 11);
    put(&mut topology, "ann", Some(3), 12);
    assert_eq!(users.get(&"ann".to_string()), Some(3));
    assert_eq!(users.get(&"bob".to_string()), Some(2));
    assert_eq!(
        topology.take_state_changes().unwrap(),
        vec![
            change("users-table", "ann", Some(3)),
            change("users-table", "bob", Some(2)),
        ]
    );
    let out: Vec<(String, u64, Timestamp)> = topology
        .take_outgoing()
        .iter()
        .map(|r| (text(&r.key), number(&r.value), r.timestamp))
        .collect();
    assert_eq!(
        out,
        vec![
            ("ann".into(), 1, 10),
            ("bob".into(), 2, 11),
            ("ann".into(), 3, 12)
        ]
    );

    // Tombstones delete, also of keys never seen; the changes stream carries no deletes.
    put(&mut topology, "bob", None, 13);
    put(&mut topology, "cid", None, 14);
    put(&mut topology, "dee", Some(4), 15);
    assert_eq!(users.get(&"bob".to_string()), None);
    let changes = topology.take_state_changes().unwrap();
    assert_eq!(
        changes,
        vec![
            change("users-table", "bob", None),
            change("users-table", "cid", None),
            change("users-table", "dee", Some(4)),
        ]
    );
    let out: Vec<String> = topology
        .take_outgoing()
        .iter()
        .map(|r| text(&r.key))
        .collect();
    assert_eq!(out, vec!["dee".to_string()]);

    // A key put back after its delete is stored again.
    put(&mut topology, "bob", Some(5), 16);
    put(&mut topology, "dee", None, 17);
    let later = topology.take_state_changes().unwrap();
    assert_eq!(
        later,
        vec![
            change("users-table", "bob", Some(5)),
            change("users-table", "dee", None),
        ]
    );

    // A fresh task rebuilt from every change in order, tombstones included.
    let (mut fresh, restored) = build();
    let log = [
        vec![
            change("users-table", "ann", Some(3)),
            change("users-table", "bob", Some(2)),
        ],
        changes,
        later,
    ]
    .concat();
    for c in &log {
        fresh.restore(&c.store, &c.key, c.value.as_deref()).unwrap();
    }
    for (key, value) in [
        ("ann", Some(3)),
        ("bob", Some(5)),
        ("cid", None),
        ("dee", None),
    ] {
        assert_eq!(restored.get(&key.to_string()), value, "{key}");
        assert_eq!(users.get(&key.to_string()), value, "{key}");
    }
    assert_eq!(fresh.take_state_changes().unwrap(), vec![]);
    assert_eq!(fresh.take_outgoing(), vec![]);
    put(&mut fresh, "ann", None, 20);
    assert_eq!(restored.get(&"ann".to_string()), None);
    assert_eq!(
        fresh.take_state_changes().unwrap(),
        vec![change("users-table", "ann", None)]
    );

    // A record whose value does not decode changes nothing and is reported.
    let bad = fresh.push_from_topic("users", incoming(Some(b"bob"), Some(b"xx"), 21), 0);
    assert!(matches!(bad, Err(StreamsError::Serde(_))), "{bad:?}");
    assert_eq!(restored.get(&"bob".to_string()), Some(5));
}

// ---------------------------------------------------------------------------------------
// 4. Bad stored bytes.
// ---------------------------------------------------------------------------------------

fn window_key(start: i64, end: i64, key: &[u8]) -> Vec<u8> {
    [&start.to_be_bytes()[..], &end.to_be_bytes()[..], key].concat()
}

fn assert_state_error(result: Result<(), StreamsError>, store: &str) {
    match result {
        Err(StreamsError::State { store: named, .. }) => assert_eq!(named, store),
        other => panic!("expected a state error of {store}, got {other:?}"),
    }
}

#[test]
fn bad_stored_bytes_are_errors_not_panics() {
    let mut builder = TopologyBuilder::new();
    let grouped = builder.stream("in", StringSerde, U64Serde).group_by_key();
    let windows = grouped
        .windowed_by(WindowedConfig::new(
            WindowSpec::tumbling(10).unwrap(),
            LatePolicy::Drop,
            EmitMode::Final,
        ))
        .count()
        .unwrap()
        .stored("windows", StringSerde, U64Serde);
    let sessions = grouped
        .windowed_by(WindowedConfig::new(
            WindowSpec::session(5).unwrap(),
            LatePolicy::Drop,
            EmitMode::Updates,
        ))
        .count()
        .unwrap()
        .stored("sessions", StringSerde, U64Serde);
    let counts = grouped.count().stored("counts", StringSerde, U64Serde);
    let _sliding = grouped
        .windowed_by(WindowedConfig::new(
            WindowSpec::sliding(5).unwrap(),
            LatePolicy::Drop,
            EmitMode::Updates,
        ))
        .with_values(U64Serde)
        .count()
        .unwrap()
        .stored("sliding", StringSerde, U64Serde);
    let mut topology = builder.build(0, 1_000).unwrap();
    let value = |emitted: u8, count: u64| [&[emitted][..], &count.to_be_bytes()[..]].concat();

    for store in ["windows", "sessions"] {
        // Keys: too short for a window, an empty window, a key that does not decode.
        for key in [
            Vec::new(),
            vec![0; 7],
            vec![0; 15],
            window_key(10, 10, b"a"),
            window_key(20, 10, b"a"),
            window_key(0, 10, b"\xff"),
        ] {
            assert_state_error(topology.restore(store, &key, Some(&value(1, 1))), store);
            assert_state_error(topology.restore(store, &key, None), store);
        }
        // Values: no emitted flag, a flag that is neither 0 nor 1, a count that is not one.
        let key = window_key(0, 10, b"a");
        for bad in [Vec::new(), value(2, 1), vec![1, 0, 0, 1], vec![0]] {
            assert_state_error(topology.restore(store, &key, Some(&bad)), store);
        }
    }
    // Buffered values of a sliding window: a list whose count, lengths or values are wrong.
    let buffer = window_key(7, 7, b"a");
    let list = |parts: &[&[u8]]| {
        let mut bytes = (parts.len() as u32).to_be_bytes().to_vec();
        for part in parts {
            bytes.extend_from_slice(&(part.len() as u32).to_be_bytes());
            bytes.extend_from_slice(part);
        }
        bytes
    };
    let good = list(&[&5u64.to_be_bytes()]);
    for bad in [
        Vec::new(),
        vec![0, 0, 0, 2, 0, 0, 0, 8],
        [&good[..], &[0][..]].concat(),
        list(&[&[1, 2, 3]]),
        vec![0xff; 4],
    ] {
        assert_state_error(topology.restore("sliding", &buffer, Some(&bad)), "sliding");
    }
    assert_state_error(
        topology.restore("sliding", &window_key(7, 7, b"\xff"), Some(&good)),
        "sliding",
    );
    topology.restore("sliding", &buffer, Some(&good)).unwrap();
    assert_state_error(topology.restore("counts", b"\xff", Some(&[0; 8])), "counts");
    assert_state_error(topology.restore("counts", b"a", Some(&[0; 3])), "counts");
    assert_state_error(topology.restore("counts", b"\xff", None), "counts");
    let unknown = topology.restore("nope", b"a", None);
    assert!(
        matches!(unknown, Err(StreamsError::Topology(_))),
        "{unknown:?}"
    );

    // Nothing bad was applied, and good bytes still are.
    assert_eq!(windows.snapshot(), vec![]);
    assert_eq!(sessions.snapshot(), vec![]);
    assert_eq!(counts.get(&"a".to_string()), None);
    topology
        .restore("windows", &window_key(0, 10, b"a"), Some(&value(0, 4)))
        .unwrap();
    topology
        .restore("sessions", &window_key(3, 4, b"a"), Some(&value(1, 2)))
        .unwrap();
    topology
        .restore("counts", b"a", Some(&7u64.to_be_bytes()))
        .unwrap();
    assert_eq!(counts.get(&"a".to_string()), Some(7));
    // A restored result not sent yet (emit-final, window open) is not in the table, as it
    // would not be without the restart; one that was sent is.
    assert_eq!(windows.snapshot(), vec![]);
    assert_eq!(
        sessions.snapshot(),
        vec![("a".to_string(), Window::new(3, 4), 2)]
    );
    // The session [3, 4) is extended by a record within its gap.
    topology
        .push_from_topic("in", incoming(Some(b"a"), Some(&[0; 8]), 8), 0)
        .unwrap();
    assert_eq!(
        sessions.snapshot(),
        vec![("a".to_string(), Window::new(3, 9), 3)]
    );
    assert_eq!(counts.get(&"a".to_string()), Some(8));
    topology.finish().unwrap();
    // The restored window of 4, not yet sent, now closes with the new record in it.
    assert_eq!(
        windows.snapshot(),
        vec![("a".to_string(), Window::new(0, 10), 5)]
    );
}

// ---------------------------------------------------------------------------------------
// 5. Build mistakes.
// ---------------------------------------------------------------------------------------

fn build_error(builder: TopologyBuilder) -> StreamsError {
    match builder.build(0, 1_000) {
        Ok(_) => panic!("the build should have failed"),
        Err(error) => error,
    }
}

#[test]
fn build_refuses_two_sources_of_one_topic() {
    let mut builder = TopologyBuilder::new();
    let _first = builder.stream("t", StringSerde, StringSerde);
    let _second = builder.stream("t", StringSerde, U64Serde);
    let error = build_error(builder);
    assert!(
        matches!(&error, StreamsError::Topology(m) if m.contains("t")),
        "{error:?}"
    );

    let mut builder = TopologyBuilder::new();
    let _stream = builder.stream("t", StringSerde, StringSerde);
    let _table = builder.table("t", StringSerde, StringSerde);
    assert!(matches!(build_error(builder), StreamsError::Topology(_)));

    // Repartitioning under a name that is already read as a topic.
    let mut builder = TopologyBuilder::with_application_id("app");
    let _read = builder.stream("app-x-repartition", StringSerde, StringSerde);
    let _again =
        builder
            .stream("in", StringSerde, StringSerde)
            .repartition("x", StringSerde, StringSerde);
    assert!(matches!(build_error(builder), StreamsError::Topology(_)));
}

#[test]
fn build_refuses_two_stores_of_one_name() {
    let mut builder = TopologyBuilder::new();
    let grouped = builder.stream("t", StringSerde, StringSerde).group_by_key();
    let _counts = grouped.count().stored("s", StringSerde, U64Serde);
    let _windows = grouped
        .windowed_by(WindowedConfig::new(
            WindowSpec::tumbling(10).unwrap(),
            LatePolicy::Drop,
            EmitMode::Updates,
        ))
        .count()
        .unwrap()
        .stored("s", StringSerde, U64Serde);
    let error = build_error(builder);
    assert!(
        matches!(&error, StreamsError::Topology(m) if m.contains("named s")),
        "{error:?}"
    );

    // A table of topic `x` is kept in the store `x-table`.
    let mut builder = TopologyBuilder::new();
    let _table = builder.table("x", StringSerde, U64Serde);
    let _counts = builder
        .stream("y", StringSerde, StringSerde)
        .group_by_key()
        .count()
        .stored("x-table", StringSerde, U64Serde);
    assert!(matches!(build_error(builder), StreamsError::Topology(_)));
}

#[test]
fn build_refuses_a_stored_sliding_window_aggregation_without_the_serde_of_its_values() {
    let sliding = |builder: &mut TopologyBuilder, with_values: bool| {
        let grouped = builder
            .stream("t", StringSerde, StringSerde)
            .group_by_key()
            .windowed_by(WindowedConfig::new(
                WindowSpec::sliding(10).unwrap(),
                LatePolicy::Drop,
                EmitMode::Updates,
            ));
        let grouped = if with_values {
            grouped.with_values(StringSerde)
        } else {
            grouped
        };
        let _table = grouped
            .count()
            .unwrap()
            .stored("sliding", StringSerde, U64Serde);
    };
    let mut builder = TopologyBuilder::new();
    sliding(&mut builder, false);
    let error = build_error(builder);
    assert!(
        matches!(&error, StreamsError::Topology(m) if m.contains("with_values")),
        "{error:?}"
    );

    let mut builder = TopologyBuilder::new();
    sliding(&mut builder, true);
    assert!(builder.build(0, 1_000).is_ok());
}

/// A local copy may hand back a session's old tombstone after the session that grew from it
/// (same start, later end): the tombstone must not take the grown session with it.
#[test]
fn a_session_tombstone_leaves_the_grown_session_of_the_same_start() {
    let mut builder = TopologyBuilder::new();
    let sessions = builder
        .stream("in", StringSerde, U64Serde)
        .group_by_key()
        .windowed_by(WindowedConfig::new(
            WindowSpec::session(6).unwrap(),
            LatePolicy::Drop,
            EmitMode::Updates,
        ))
        .count()
        .unwrap()
        .stored("sessions", StringSerde, U64Serde);
    let mut topology = builder.build(0, 1_000).unwrap();
    let sent = |count: u64| [&[1][..], &count.to_be_bytes()[..]].concat();
    topology
        .restore("sessions", &window_key(10, 20, b"a"), Some(&sent(3)))
        .unwrap();
    topology
        .restore("sessions", &window_key(10, 11, b"a"), None)
        .unwrap();
    // Within the gap of the session [10, 20): it grows to [10, 24).
    topology
        .push_from_topic("in", incoming(Some(b"a"), Some(&[0; 8]), 23), 0)
        .unwrap();
    assert_eq!(
        sessions.snapshot(),
        vec![("a".to_string(), Window::new(10, 24), 4)]
    );
}

#[test]
fn build_refuses_grouping_records_from_a_topic_whose_keys_changed_without_a_repartition() {
    let words = |builder: &mut TopologyBuilder| {
        builder
            .stream("lines", StringSerde, StringSerde)
            .flat_map(|_, line: String| {
                line.split(' ')
                    .map(|w| (w.to_owned(), ()))
                    .collect::<Vec<_>>()
            })
    };
    let mut builder = TopologyBuilder::new();
    let _counts = words(&mut builder).group_by_key().count();
    let error = build_error(builder);
    assert!(
        matches!(&error, StreamsError::Topology(m) if m.contains("repartition")),
        "{error:?}"
    );

    // Filtering and value changes keep the keys; a merge with a changed stream does not.
    let mut builder = TopologyBuilder::new();
    let lines = builder.stream("a", StringSerde, StringSerde);
    let _kept = lines
        .filter(|_, v| !v.is_empty())
        .map_values(|v| v.len())
        .group_by_key()
        .count();
    let rekeyed = lines.key_by(|_, v| v.clone());
    let _merged = lines.merge(&rekeyed).group_by_key().count();
    assert!(matches!(build_error(builder), StreamsError::Topology(_)));

    // Repartitioned, or declared partitioned, or in process: fine.
    let mut builder = TopologyBuilder::new();
    let _through = words(&mut builder)
        .map_values(|()| String::new())
        .repartition("words", StringSerde, StringSerde)
        .group_by_key()
        .count();
    let _assumed = builder
        .stream("b", StringSerde, StringSerde)
        .key_by(|_, v| v.clone())
        .assume_partitioned()
        .group_by_key()
        .count();
    let (_input, in_process) = builder.source::<String, String>();
    let _local = in_process.key_by(|_, v| v.clone()).group_by_key().count();
    assert!(builder.build(0, 1_000).is_ok());
}
