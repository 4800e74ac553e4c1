//! The join examples run as processes against a broker in the test process: orders enriched
//! from a customers table and priced at the exchange rate in force at their time, read back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{create_topic, latest, produce, produce_optional, read_until, Job, TestBroker};

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
