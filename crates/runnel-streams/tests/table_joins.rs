//! Stream–table joins: with a table's latest values (tombstones delete, only stream records
//! produce results) and with a versioned table's values as of each record's event time,
//! against a model of each key's history, stored and restored midway.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use proptest::prelude::*;
use runnel_streams::{
    AsOf, DecimalSerde, Incoming, StringSerde, Timestamp, Topology, TopologyBuilder,
    VersionedHistory,
};

fn incoming<'a>(key: &'a str, value: Option<&'a str>, timestamp: Timestamp) -> Incoming<'a> {
    Incoming {
        key: Some(key.as_bytes()),
        value: value.map(str::as_bytes),
        timestamp,
        partition: 0,
    }
}

type Shared<T> = Rc<RefCell<Vec<T>>>;

#[test]
fn a_stream_joins_the_latest_table_values_and_tombstones_delete() {
    let mut builder = TopologyBuilder::new();
    let orders = builder.stream("orders", StringSerde, StringSerde);
    let customers = builder.table("customers", StringSerde, StringSerde);
    let inner: Shared<String> = Rc::default();
    let left: Shared<String> = Rc::default();
    let sink = inner.clone();
    orders
        .join_table(&customers, |id, order: &String, name: &String| {
            format!("{id} {order} by {name}")
        })
        .for_each(move |r| sink.borrow_mut().push(r.value.clone()));
    let sink = left.clone();
    orders
        .left_join_table(&customers, |id, order: &String, name: Option<&String>| {
            format!("{id} {order} by {}", name.map_or("?", String::as_str))
        })
        .for_each(move |r| sink.borrow_mut().push(r.value.clone()));
    let mut topology = builder.build(0, 1_000).unwrap();
    let mut push = |topic, key, value, t| {
        topology
            .push_from_topic(topic, incoming(key, value, t), 0)
            .unwrap()
    };
    push("orders", "c1", Some("tea"), 1);
    push("customers", "c1", Some("Ann"), 2);
    push("orders", "c1", Some("cake"), 3);
    push("customers", "c1", Some("Ann B."), 4);
    push("customers", "c2", Some("Bob"), 5);
    push("orders", "c1", Some("jam"), 6);
    push("customers", "c1", None, 7);
    push("orders", "c1", Some("milk"), 8);
    push("orders", "c2", Some("salt"), 9);
    assert_eq!(
        *inner.borrow(),
        vec!["c1 cake by Ann", "c1 jam by Ann B.", "c2 salt by Bob"]
    );
    assert_eq!(
        *left.borrow(),
        vec![
            "c1 tea by ?",
            "c1 cake by Ann",
            "c1 jam by Ann B.",
            "c1 milk by ?",
            "c2 salt by Bob"
        ]
    );
}

/// A step against a versioned history: a version (a value, or a deletion) of a key at a
/// time, or a lookup.
#[derive(Debug, Clone)]
enum Op {
    Put(u8, Timestamp, Option<u64>),
    Get(u8, Timestamp),
}

/// Every version ever put, and the newest time seen: what the history must answer from.
#[derive(Default)]
struct Model {
    versions: BTreeMap<u8, BTreeMap<Timestamp, Option<u64>>>,
    observed: Option<Timestamp>,
}

impl Model {
    /// Refuses a version older than the history kept.
    fn put(&mut self, key: u8, t: Timestamp, value: Option<u64>, retention: Timestamp) -> bool {
        if self.observed.is_some_and(|o| t < o - retention) {
            return false;
        }
        self.versions.entry(key).or_default().insert(t, value);
        self.observed = Some(self.observed.map_or(t, |o| o.max(t)));
        true
    }

    fn get(&self, key: u8, t: Timestamp, retention: Timestamp) -> Result<Option<u64>, ()> {
        if self.observed.is_some_and(|o| t < o - retention) {
            return Err(());
        }
        Ok(self
            .versions
            .get(&key)
            .and_then(|h| h.range(..=t).next_back())
            .and_then(|(_, v)| *v))
    }
}

fn answer(found: AsOf<'_, u64>) -> Result<Option<u64>, ()> {
    match found {
        AsOf::Value(v) => Ok(Some(*v)),
        AsOf::Absent => Ok(None),
        AsOf::TooOld => Err(()),
    }
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        (0u8..3, 0i64..100, prop::option::weighted(0.8, 0u64..1_000))
            .prop_map(|(k, t, v)| Op::Put(k, t, v)),
        (0u8..3, -10i64..110).prop_map(|(k, t)| Op::Get(k, t)),
    ];
    prop::collection::vec(op, 0..80)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn versioned_lookups_agree_with_each_keys_history(ops in ops(), retention in 0i64..60) {
        let mut history = VersionedHistory::new(retention);
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Put(k, t, v) => {
                    prop_assert_eq!(history.put(k, t, v), model.put(k, t, v, retention));
                }
                Op::Get(k, t) => {
                    prop_assert_eq!(answer(history.get(&k, t)), model.get(k, t, retention));
                }
            }
        }
    }

    /// Through the graph: orders joined with the rate in force at their time, the rates
    /// table stored, and a fresh task restored from its changelog at `cut` answering as the
    /// uninterrupted one.
    #[test]
    fn a_versioned_join_restored_midway_answers_as_before(
        ops in ops(),
        retention in 0i64..60,
        cut in any::<prop::sample::Index>(),
    ) {
        let cut = cut.index(ops.len() + 1);
        let mut model = Model::default();
        let mut expected = Vec::new();
        let mut dropped = 0;
        for op in &ops {
            match *op {
                Op::Put(k, t, v) => {
                    if !model.put(k, t, v, retention) {
                        dropped += 1;
                    }
                }
                Op::Get(k, t) => match model.get(k, t, retention) {
                    Ok(Some(rate)) => expected.push((k, t, rate)),
                    Ok(None) => {}
                    Err(()) => dropped += 1,
                },
            }
        }

        let (mut a, a_out) = rates_job(retention);
        for op in &ops {
            push_op(&mut a, op);
        }
        prop_assert_eq!(&*a_out.borrow(), &expected);
        prop_assert_eq!(a.late_records_dropped(), dropped);

        let (mut b, b_out) = rates_job(retention);
        let mut stored = BTreeMap::new();
        for op in &ops[..cut] {
            push_op(&mut b, op);
            for change in b.take_state_changes().unwrap() {
                match change.value {
                    Some(value) => stored.insert(change.key, value),
                    None => stored.remove(&change.key),
                };
            }
        }
        let (mut c, c_out) = rates_job(retention);
        for (key, value) in &stored {
            c.restore("rates-versioned", key, Some(value)).unwrap();
        }
        for op in &ops[cut..] {
            push_op(&mut c, op);
        }
        let mut both = b_out.borrow().clone();
        both.extend(c_out.borrow().iter().copied());
        prop_assert_eq!(both, expected);
        prop_assert_eq!(b.late_records_dropped() + c.late_records_dropped(), dropped);
    }
}

/// Orders (key: currency, value: amount) joined with the exchange rate of their currency
/// at their time; sends (currency, time, rate).
fn rates_job(retention: Timestamp) -> (Topology, Shared<(u8, Timestamp, u64)>) {
    let mut builder = TopologyBuilder::new();
    let orders = builder.stream("orders", DecimalSerde, DecimalSerde);
    let rates = builder.versioned_table("rates", DecimalSerde, DecimalSerde, retention);
    let out: Shared<(u8, Timestamp, u64)> = Rc::default();
    let sink = out.clone();
    orders
        .join_versioned(&rates, |_, _amount: &u64, rate: &u64| *rate)
        .for_each(move |r| {
            let key = u8::try_from(r.key).unwrap();
            sink.borrow_mut().push((key, r.timestamp, r.value))
        });
    (builder.build(0, 1_000).unwrap(), out)
}

fn push_op(topology: &mut Topology, op: &Op) {
    let (topic, key, value, t) = match *op {
        Op::Put(k, t, v) => ("rates", k, v, t),
        Op::Get(k, t) => ("orders", k, Some(1), t),
    };
    let key = key.to_string();
    let value = value.map(|v| v.to_string());
    let incoming = Incoming {
        key: Some(key.as_bytes()),
        value: value.as_deref().map(str::as_bytes),
        timestamp: t,
        partition: 0,
    };
    topology.push_from_topic(topic, incoming, 0).unwrap();
}

#[test]
fn a_sale_takes_the_rate_in_force_when_it_happened() {
    let mut builder = TopologyBuilder::new();
    let sales = builder.stream("sales", StringSerde, DecimalSerde);
    let rates = builder.versioned_table("rates", StringSerde, DecimalSerde, 1_000);
    let out: Shared<(String, u64)> = Rc::default();
    let sink = out.clone();
    sales
        .left_join_versioned(&rates, |currency, cents: &u64, rate: Option<&u64>| {
            rate.map(|rate| format!("{} {currency}", cents * rate))
        })
        .for_each(move |r| {
            sink.borrow_mut()
                .push((r.value.clone().unwrap_or_default(), r.timestamp as u64))
        });
    let mut topology = builder.build(0, 1_000).unwrap();
    let mut push = |topic, key, value: Option<&str>, t| {
        topology
            .push_from_topic(topic, incoming(key, value, t), 0)
            .unwrap()
    };
    push("rates", "EUR", Some("2"), 100);
    push("rates", "EUR", Some("3"), 200);
    // Out of order: the rate from 150 on arrives after the one from 200.
    push("rates", "EUR", Some("5"), 150);
    push("sales", "EUR", Some("10"), 120);
    push("sales", "EUR", Some("10"), 160);
    push("sales", "EUR", Some("10"), 250);
    push("sales", "EUR", Some("10"), 50);
    push("rates", "EUR", None, 300);
    push("sales", "EUR", Some("10"), 310);
    push("rates", "EUR", Some("7"), 2_000);
    // Older than the history kept (1 s behind 2000): dropped and counted.
    push("sales", "EUR", Some("10"), 900);
    assert_eq!(
        *out.borrow(),
        vec![
            ("20 EUR".to_string(), 120),
            ("50 EUR".to_string(), 160),
            ("30 EUR".to_string(), 250),
            (String::new(), 50),
            (String::new(), 310),
        ]
    );
    assert_eq!(topology.late_records_dropped(), 1);
}

#[test]
fn a_stream_joins_a_global_table_through_a_key_taken_from_each_record() {
    let mut builder = TopologyBuilder::new();
    // Orders keyed by order id; the customer id is in the value.
    let orders = builder.stream("orders", StringSerde, StringSerde);
    let customers = builder.global_table("customers", StringSerde, StringSerde);
    let out: Shared<String> = Rc::default();
    let sink = out.clone();
    orders
        .left_join_global(
            &customers,
            |_, customer: &String| customer.clone(),
            |order, _, name: Option<&String>| {
                format!("{order} {}", name.map_or("?", String::as_str))
            },
        )
        .for_each(move |r| sink.borrow_mut().push(r.value.clone()));
    let inner: Shared<String> = Rc::default();
    let sink = inner.clone();
    orders
        .join_global(
            &customers,
            |_, customer: &String| customer.clone(),
            |order, _, name: &String| format!("{order} {name}"),
        )
        .for_each(move |r| sink.borrow_mut().push(r.value.clone()));
    let mut topology = builder.build(0, 1_000).unwrap();
    assert_eq!(topology.global_topics(), vec!["customers".to_string()]);
    assert_eq!(topology.source_topics(), vec!["orders".to_string()]);
    // Records of any partition of the table's topic.
    for (key, value, partition) in [
        ("c1", Some("Ann"), 0),
        ("c2", Some("Bob"), 3),
        ("c1", None, 1),
    ] {
        let record = Incoming {
            key: Some(key.as_bytes()),
            value: value.map(str::as_bytes),
            timestamp: 0,
            partition,
        };
        topology.push_global("customers", record).unwrap();
    }
    assert_eq!(customers.get(&"c2".to_string()), Some("Bob".to_string()));
    for (order, customer) in [("o1", "c1"), ("o2", "c2")] {
        topology
            .push_from_topic("orders", incoming(order, Some(customer), 5), 0)
            .unwrap();
    }
    assert_eq!(*out.borrow(), vec!["o1 ?", "o2 Bob"]);
    assert_eq!(*inner.borrow(), vec!["o2 Bob"]);
    assert!(topology
        .push_global("orders", incoming("x", None, 0))
        .is_err());
}

/// A step of a stream–table join: a table upsert or tombstone, or a stream record.
#[derive(Debug, Clone, Copy)]
enum Step {
    Table(u8, Option<u64>),
    Stream(u8, u64),
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Each stream record is joined with the table as it stands when the record arrives
    /// (tombstones deleting), for the inner and the left join; table changes send nothing.
    #[test]
    fn stream_table_joins_agree_with_the_table_at_each_record(
        steps in prop::collection::vec(
            prop_oneof![
                (0u8..3, prop::option::weighted(0.7, 0u64..100))
                    .prop_map(|(k, v)| Step::Table(k, v)),
                (0u8..3, 0u64..100).prop_map(|(k, v)| Step::Stream(k, v)),
            ],
            0..60,
        )
    ) {
        let mut builder = TopologyBuilder::new();
        let stream = builder.stream("s", DecimalSerde, DecimalSerde);
        let table = builder.table("t", DecimalSerde, DecimalSerde);
        let inner: Shared<(u64, u64, u64)> = Rc::default();
        let left: Shared<(u64, u64, Option<u64>)> = Rc::default();
        let sink = inner.clone();
        stream
            .join_table(&table, |k, v: &u64, t: &u64| (*k, *v, *t))
            .for_each(move |r| sink.borrow_mut().push(r.value));
        let sink = left.clone();
        stream
            .left_join_table(&table, |k, v: &u64, t: Option<&u64>| (*k, *v, t.copied()))
            .for_each(move |r| sink.borrow_mut().push(r.value));
        let mut topology = builder.build(0, 1_000).unwrap();
        let mut model = BTreeMap::new();
        let (mut expected_inner, mut expected_left) = (Vec::new(), Vec::new());
        for (i, step) in steps.iter().enumerate() {
            let (topic, key, value) = match *step {
                Step::Table(k, v) => {
                    match v {
                        Some(v) => model.insert(u64::from(k), v),
                        None => model.remove(&u64::from(k)),
                    };
                    ("t", k, v)
                }
                Step::Stream(k, v) => {
                    let found = model.get(&u64::from(k)).copied();
                    if let Some(t) = found {
                        expected_inner.push((u64::from(k), v, t));
                    }
                    expected_left.push((u64::from(k), v, found));
                    ("s", k, Some(v))
                }
            };
            let key = key.to_string();
            let value = value.map(|v| v.to_string());
            let record = Incoming {
                key: Some(key.as_bytes()),
                value: value.as_deref().map(str::as_bytes),
                timestamp: i as Timestamp,
                partition: 0,
            };
            topology.push_from_topic(topic, record, 0).unwrap();
        }
        prop_assert_eq!(&*inner.borrow(), &expected_inner);
        prop_assert_eq!(&*left.borrow(), &expected_left);
    }
}
