//! Foreign-key table joins (orders ⋈ customers by the customer id in each order) against a
//! model, with orders changing customer, orders and customers deleted and added, and a task
//! restored midway (its stores restored, then the global table read again, as a runner
//! does) going on as the uninterrupted one.
#![allow(clippy::unwrap_used)]

mod common;

use common::{keep_changes, restore, StoredState};

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use proptest::prelude::*;
use runnel_streams::{
    DecimalSerde, Delta, Incoming, JoinedTable, JsonSerde, StreamsError, StringSerde, Topology,
    TopologyBuilder,
};

/// An order's customer, and the customer's name (`None`: no such customer).
type Result = (u64, Option<String>);
type Sent = Rc<RefCell<Vec<(String, Delta<Result>)>>>;

#[derive(Debug, Clone, Copy)]
enum Op {
    /// An order (0..4) now for a customer, or deleted.
    Order(u8, Option<u64>),
    /// A customer (0..3) now with a name, or deleted.
    Customer(u64, Option<u8>),
}

struct Run {
    topology: Topology,
    view: JoinedTable<String, Result>,
    sent: Sent,
}

fn build(inner: bool) -> Run {
    let mut builder = TopologyBuilder::with_application_id("fk");
    let orders = builder.table("orders", StringSerde, DecimalSerde);
    let customers = builder.global_table("customers", DecimalSerde, StringSerde);
    let view = if inner {
        orders.join_foreign_global(
            &customers,
            |customer: &u64| *customer,
            |_, customer: &u64, name: &String| (*customer, Some(name.clone())),
        )
    } else {
        orders.left_join_foreign_global(
            &customers,
            |customer: &u64| *customer,
            |_, customer: &u64, name: Option<&String>| (*customer, name.cloned()),
        )
    }
    .stored("view", StringSerde, JsonSerde::<Result>::new());
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

fn push(topology: &mut Topology, op: Op, t: i64) {
    let (key, value) = match op {
        Op::Order(order, customer) => (format!("o{order}"), customer.map(|c| c.to_string())),
        Op::Customer(customer, name) => (customer.to_string(), name.map(|n| format!("name-{n}"))),
    };
    let incoming = Incoming {
        key: Some(key.as_bytes()),
        value: value.as_deref().map(str::as_bytes),
        timestamp: t,
        partition: 0,
    };
    match op {
        Op::Order(..) => topology.push_from_topic("orders", incoming, 0).unwrap(),
        Op::Customer(..) => topology.push_global("customers", incoming).unwrap(),
    }
}

#[derive(Default, Clone)]
struct Model {
    orders: BTreeMap<String, u64>,
    customers: BTreeMap<u64, String>,
}

impl Model {
    fn apply(&mut self, op: Op) {
        match op {
            Op::Order(order, Some(customer)) => {
                self.orders.insert(format!("o{order}"), customer);
            }
            Op::Order(order, None) => {
                self.orders.remove(&format!("o{order}"));
            }
            Op::Customer(customer, Some(name)) => {
                self.customers.insert(customer, format!("name-{name}"));
            }
            Op::Customer(customer, None) => {
                self.customers.remove(&customer);
            }
        }
    }

    fn view(&self, inner: bool) -> BTreeMap<String, Result> {
        self.orders
            .iter()
            .filter_map(|(order, &customer)| {
                let name = self.customers.get(&customer).cloned();
                (!inner || name.is_some()).then(|| (order.clone(), (customer, name)))
            })
            .collect()
    }
}

fn check(inner: bool, ops: &[Op], cut: usize) {
    let mut model = Model::default();
    let mut at_cut = Model::default();
    let mut a = build(inner);
    let mut view = BTreeMap::new();
    let mut a_at_cut = 0;
    for (i, &op) in ops.iter().enumerate() {
        if i == cut {
            a_at_cut = a.sent.borrow().len();
            at_cut = model.clone();
        }
        let before = a.sent.borrow().len();
        push(&mut a.topology, op, i as i64);
        for (key, delta) in &a.sent.borrow()[before..] {
            match delta {
                Delta::Retract(old) => assert_eq!(view.remove(key).as_ref(), Some(old)),
                Delta::Add(new) => assert_eq!(view.insert(key.clone(), new.clone()), None),
            }
        }
        model.apply(op);
        assert_eq!(view, model.view(inner), "after {op:?}");
        assert_eq!(a.view.snapshot(), view);
    }
    if cut >= ops.len() {
        a_at_cut = a.sent.borrow().len();
        at_cut = model.clone();
    }

    let mut b = build(inner);
    let mut stored = StoredState::new();
    for (i, &op) in ops[..cut.min(ops.len())].iter().enumerate() {
        push(&mut b.topology, op, i as i64);
        keep_changes(&mut b.topology, &mut stored);
    }
    let mut c = build(inner);
    restore(&mut c.topology, &stored);
    for (&customer, name) in &at_cut.customers {
        let name: u8 = name["name-".len()..].parse().unwrap();
        push(&mut c.topology, Op::Customer(customer, Some(name)), 0);
    }
    assert!(
        c.sent.borrow().is_empty(),
        "reading the global table again changed results"
    );
    for (i, &op) in ops.iter().enumerate().skip(cut) {
        push(&mut c.topology, op, i as i64);
    }
    assert_eq!(c.sent.borrow()[..], a.sent.borrow()[a_at_cut..]);
    assert_eq!(c.view.snapshot(), a.view.snapshot());
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..4, prop::option::weighted(0.8, 0u64..3)).prop_map(|(o, c)| Op::Order(o, c)),
        (0u64..3, prop::option::weighted(0.7, 0u8..3)).prop_map(|(c, n)| Op::Customer(c, n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn foreign_key_joins_follow_both_sides_and_moving_keys(
        inner in any::<bool>(),
        ops in prop::collection::vec(op(), 0..50),
        cut in any::<prop::sample::Index>(),
    ) {
        let cut = cut.index(ops.len() + 1);
        check(inner, &ops, cut);
    }
}

#[test]
fn an_order_moving_to_another_customer_retracts_its_old_result() {
    let ops = [
        Op::Customer(1, Some(1)),
        Op::Customer(2, Some(2)),
        Op::Order(0, Some(1)),
        Op::Order(0, Some(2)),
        // The old customer changing no longer touches the order.
        Op::Customer(1, Some(0)),
        Op::Customer(2, None),
    ];
    check(false, &ops, 3);
    let mut run = build(false);
    for (i, op) in ops.iter().enumerate() {
        push(&mut run.topology, *op, i as i64);
    }
    let result = |customer, name: Option<&str>| (customer, name.map(str::to_owned));
    assert_eq!(
        *run.sent.borrow(),
        vec![
            ("o0".into(), Delta::Add(result(1, Some("name-1")))),
            ("o0".into(), Delta::Retract(result(1, Some("name-1")))),
            ("o0".into(), Delta::Add(result(2, Some("name-2")))),
            ("o0".into(), Delta::Retract(result(2, Some("name-2")))),
            ("o0".into(), Delta::Add(result(2, None))),
        ]
    );
}

#[test]
fn build_refuses_a_foreign_key_join_with_a_partitioned_table() {
    let mut builder = TopologyBuilder::new();
    let orders = builder.table("orders", StringSerde, DecimalSerde);
    let customers = builder.table("customers", DecimalSerde, StringSerde);
    let _ = orders.join_foreign(
        &customers,
        |customer: &u64| *customer,
        |_, _, name: &String| name.clone(),
    );
    let error = builder.build(0, 1_000).unwrap_err();
    assert!(
        matches!(&error, StreamsError::Topology(m) if m.contains("global_table")),
        "{error}"
    );
}
