//! Joins against a broker in the test process: the orders_enriched example as a process
//! (orders enriched from a customers table and priced at the exchange rate in force at their
//! time), and a global table joined in process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{create_topic, latest, produce, produce_optional, read_until, Job, TestBroker};
use runnel_streams::{StringSerde, TopologyBuilder};
use runnel_streams_kafka::{Guarantee, StreamsApp, StreamsConfig};

const WAIT: Duration = Duration::from_secs(90);

#[test]
fn orders_are_priced_at_the_rate_in_force_when_they_were_placed() {
    let base = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    let bootstrap = &broker.bootstrap;
    for topic in ["orders", "customers", "rates"] {
        create_topic(bootstrap, topic, 1);
    }
    let record = |key: &str, value: &str, t: i64| (key.to_owned(), value.to_owned(), base + t);
    produce_optional(
        bootstrap,
        "customers",
        &[
            ("c1".into(), Some("Ann".into()), base),
            ("c2".into(), Some("Bob".into()), base),
            ("c3".into(), Some("Cy".into()), base),
            ("c3".into(), None, base + 1),
        ],
    );
    produce(
        bootstrap,
        "rates",
        &[
            record("EUR", "1100000", 0),
            record("EUR", "1200000", 1_000),
            record("GBP", "1300000", 0),
        ],
    );
    let state = dir.path().join("state");
    let _job = Job::start(
        "orders_enriched",
        [
            "--bootstrap-servers",
            bootstrap,
            "--state-dir",
            state.to_str().unwrap(),
        ],
    );
    // The tables are loaded once their changelogs hold them: only then do orders come.
    read_until(
        bootstrap,
        "orders-enriched-customers-table-changelog",
        WAIT,
        |read| {
            let tables = latest(read);
            tables.get("c2").is_some_and(|name| name == "Bob")
                && tables.get("c3").is_some_and(String::is_empty)
        },
    );
    read_until(
        bootstrap,
        "orders-enriched-rates-versioned-changelog",
        WAIT,
        |read| read.iter().filter(|r| !r.key.is_empty()).count() >= 3,
    );
    let order = |id: &str, cents: u64, currency: &str| {
        format!(r#"{{"order":"{id}","cents":{cents},"currency":"{currency}"}}"#)
    };
    produce(
        bootstrap,
        "orders",
        &[
            record("c1", &order("o1", 1_000, "EUR"), 500),
            record("c2", &order("o2", 1_000, "EUR"), 1_500),
            // A deleted customer: not written.
            record("c3", &order("o3", 1_000, "EUR"), 1_500),
            record("c1", &order("o4", 2_000, "GBP"), 2_000),
            // No rate for the currency: not written.
            record("c1", &order("o5", 2_000, "JPY"), 2_000),
        ],
    );
    let read = read_until(bootstrap, "orders-enriched", WAIT, |read| read.len() >= 3);
    let priced: BTreeMap<String, (String, String, u64)> = read
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.value).unwrap();
            (
                v["order"].as_str().unwrap().to_owned(),
                (
                    r.key.clone(),
                    v["name"].as_str().unwrap().to_owned(),
                    v["usd_cents"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    let expected: BTreeMap<String, (String, String, u64)> = [
        ("o1", ("EUR", "Ann", 1_100)),
        ("o2", ("EUR", "Bob", 1_200)),
        ("o4", ("GBP", "Ann", 2_600)),
    ]
    .into_iter()
    .map(|(o, (k, n, c))| (o.to_owned(), (k.to_owned(), n.to_owned(), c)))
    .collect();
    assert_eq!(priced, expected);
}

/// A global table is whole in every task, whatever the partitions: orders on two partitions
/// find customers written to any of three, loaded before the first order is processed and
/// followed as they change.
#[test]
fn every_task_joins_the_whole_global_table() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    let bootstrap = &broker.bootstrap;
    create_topic(bootstrap, "orders", 2);
    create_topic(bootstrap, "customers", 3);
    let customers: Vec<(String, String, i64)> = (0..30)
        .map(|i| (format!("c{i}"), format!("name-{i}"), 0))
        .collect();
    produce(bootstrap, "customers", &customers);
    // Orders keyed by order id, the customer id as the value: nothing co-partitions them.
    let orders: Vec<(String, String, i64)> = (0..30)
        .map(|i| (format!("o{i}"), format!("c{i}"), 0))
        .collect();
    produce(bootstrap, "orders", &orders);
    let app = StreamsApp::new(
        StreamsConfig::new("global-app", bootstrap)
            .state_dir(dir.path().join("state"))
            .guarantee(Guarantee::ExactlyOnce),
        |builder: &mut TopologyBuilder| {
            let customers = builder.global_table("customers", StringSerde, StringSerde);
            builder
                .stream("orders", StringSerde, StringSerde)
                .left_join_global(
                    &customers,
                    |_, customer: &String| customer.clone(),
                    |_, _, name: Option<&String>| name.cloned().unwrap_or_default(),
                )
                .to_topic("orders-named", StringSerde, StringSerde);
            Ok(())
        },
    )
    .start()
    .unwrap();
    let read = read_until(bootstrap, "orders-named", WAIT, |read| read.len() >= 30);
    let named = latest(&read);
    for i in 0..30 {
        assert_eq!(named[&format!("o{i}")], format!("name-{i}"));
    }
    // A customer added while the job runs is followed: an order for it, sent again each
    // time it finds no customer, joins once the table has it.
    produce(bootstrap, "customers", &[("c99".into(), "Zoe".into(), 0)]);
    let mut attempt = 0;
    let read = read_until(bootstrap, "orders-named", WAIT, |read| {
        if latest(read).get("late-order").is_some_and(|n| n == "Zoe") {
            return true;
        }
        if read.len() >= 30 + attempt {
            attempt += 1;
            produce(
                bootstrap,
                "orders",
                &[("late-order".into(), "c99".into(), 0)],
            );
        }
        false
    });
    assert_eq!(latest(&read)["late-order"], "Zoe");
    app.stop().unwrap();
}
