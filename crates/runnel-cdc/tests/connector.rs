//! The PostgreSQL source as a connector of a worker: a connector file with Debezium's class,
//! the snapshot and then live changes in `<prefix>.<schema>.<table>` as Debezium envelopes,
//! the offsets in the offsets topic, and a worker killed with SIGKILL mid-stream and restarted
//! without losing or repeating an event.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use common::processes::{child_settings, ChildWorker};
use common::{Lcg, TestPostgres, PATIENCE};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use runnel_broker::{Broker, BrokerConfig};
use runnel_connect::source::SourceClasses;
use runnel_connect::{ConnectRuntime, KafkaSettings, WorkerConfig};
use serde_json::{json, Value};
use tokio_postgres::Client;

const CHILD_ENV: &str = "RUNNEL_CDC_WORKER_CHILD";
const CONNECTOR: &str = "shop-cdc";
const TOPIC: &str = "shop.public.items";
const SNAPSHOT_ROWS: i32 = 200;

/// A worker that runs the PostgreSQL source, as the binary's is.
async fn start_worker(bootstrap: &str, dir: &Path) -> ConnectRuntime {
    let mut source_classes = SourceClasses::default();
    runnel_cdc::connector::register(&mut source_classes);
    let config = WorkerConfig {
        kafka: KafkaSettings::new(bootstrap),
        connectors_dir: dir.to_owned(),
        worker_id: "cdc-test-worker".to_owned(),
        source_classes,
    };
    ConnectRuntime::start(config, "127.0.0.1:0").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_child() {
    let Some((bootstrap, dir)) = child_settings(CHILD_ENV) else {
        return;
    };
    let _runtime = start_worker(&bootstrap, &dir).await;
    std::future::pending::<()>().await;
}

/// The connector file a Debezium user would write, with Debezium's class name.
fn write_connector(dir: &Path, postgres: &TestPostgres) {
    let settings = json!({
        "name": CONNECTOR,
        "config": {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "tasks.max": "1",
            "database.hostname": "127.0.0.1",
            "database.port": postgres.port.to_string(),
            "database.user": "postgres",
            "database.dbname": "postgres",
            "topic.prefix": "shop",
            "table.include.list": "public.items",
            "slot.name": "shop_slot",
            "key.converter.schemas.enable": "false",
            "value.converter.schemas.enable": "false",
            "poll.interval.ms": "50",
            "slot.retry.delay.ms": "50",
            "slot.max.retries": "600",
            "topic.creation.default.partitions": "2",
            "topic.creation.default.replication.factor": "1",
        }
    });
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join(format!("{CONNECTOR}.json")),
        serde_json::to_string_pretty(&settings).unwrap(),
    )
    .unwrap();
}

/// One record of the topic: its key and value as JSON (`None` for a tombstone).
type Event = (Value, Option<Value>);

/// Every record of `topic` a `read_committed` consumer sees, partition after partition, in
/// order within each; empty while the topic does not exist.
fn read_committed(bootstrap: &str, topic: &str) -> Vec<Event> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "cdc-connector-test-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "10")
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let partitions = metadata.topics()[0].partitions().len() as i32;
    let mut events = Vec::new();
    for partition in 0..partitions {
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
        consumer.assign(&assignment).unwrap();
        loop {
            match consumer.poll(Duration::from_secs(10)) {
                Some(Ok(message)) => events.push((
                    serde_json::from_slice(message.key().unwrap()).unwrap(),
                    message
                        .payload()
                        .map(|v| serde_json::from_slice(v).unwrap()),
                )),
                Some(Err(KafkaError::PartitionEOF(_))) => break,
                Some(Err(e)) => panic!("cannot read {topic}: {e}"),
                None => panic!("no end of {topic} reported"),
            }
        }
    }
    events
}

async fn read_topic(bootstrap: &str) -> Vec<Event> {
    let bootstrap = bootstrap.to_owned();
    tokio::task::spawn_blocking(move || read_committed(&bootstrap, TOPIC))
        .await
        .unwrap()
}

/// Waits until the topic holds at least `count` records, and returns them.
async fn wait_for_events(bootstrap: &str, count: usize, what: &str) -> Vec<Event> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let events = read_topic(bootstrap).await;
        if events.len() >= count {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what} ({} of {count} records)",
            events.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The rows a consumer holds after applying every event in order: id to its `after` image.
fn fold(events: &[Event]) -> BTreeMap<i64, Value> {
    let mut rows = BTreeMap::new();
    for (key, value) in events {
        let id = key["id"].as_i64().unwrap();
        match value.as_ref().map(|v| &v["after"]) {
            Some(after) if !after.is_null() => rows.insert(id, after.clone()),
            _ => rows.remove(&id),
        };
    }
    rows
}

async fn table(db: &Client) -> BTreeMap<i64, Value> {
    db.query("SELECT id, name, qty FROM items", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let id: i32 = row.get(0);
            let name: String = row.get(1);
            let qty: i32 = row.get(2);
            (i64::from(id), json!({"id": id, "name": name, "qty": qty}))
        })
        .collect()
}

/// How many records the changes made so far give, by operation.
#[derive(Default)]
struct Expected {
    inserts: usize,
    updates: usize,
    deletes: usize,
}

impl Expected {
    /// Snapshot reads, then one event per insert and update, a delete and a tombstone per
    /// delete.
    fn records(&self) -> usize {
        SNAPSHOT_ROWS as usize + self.inserts + self.updates + 2 * self.deletes
    }
}

/// Transactions of a few random inserts, updates and deletes of the rows in `ids`.
async fn changes(
    db: &mut Client,
    rng: &mut Lcg,
    ids: &mut Vec<i32>,
    next_id: &mut i32,
    transactions: usize,
    expected: &mut Expected,
) {
    for _ in 0..transactions {
        let tx = db.transaction().await.unwrap();
        for _ in 0..=rng.below(5) {
            match rng.below(3) {
                0 => {
                    tx.execute(
                        "INSERT INTO items VALUES ($1, 'item ' || $1::int, 1)",
                        &[&*next_id],
                    )
                    .await
                    .unwrap();
                    ids.push(*next_id);
                    *next_id += 1;
                    expected.inserts += 1;
                }
                1 if !ids.is_empty() => {
                    let id = ids[rng.below(ids.len() as u64) as usize];
                    tx.execute(
                        "UPDATE items SET qty = qty + 1, name = 'updated' WHERE id = $1",
                        &[&id],
                    )
                    .await
                    .unwrap();
                    expected.updates += 1;
                }
                _ if !ids.is_empty() => {
                    let id = ids.swap_remove(rng.below(ids.len() as u64) as usize);
                    tx.execute("DELETE FROM items WHERE id = $1", &[&id])
                        .await
                        .unwrap();
                    expected.deletes += 1;
                }
                _ => {}
            }
        }
        tx.commit().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snapshot_and_changes_arrive_once_through_a_killed_worker() {
    let dir = tempfile::tempdir().unwrap();
    let postgres = TestPostgres::start();
    let mut db = postgres.client().await;
    db.batch_execute(&format!(
        "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL);
         INSERT INTO items SELECT n, 'item ' || n, n FROM generate_series(1, {SNAPSHOT_ROWS}) n;"
    ))
    .await
    .unwrap();
    let mut config = BrokerConfig::new(dir.path().join("broker"), "127.0.0.1:0");
    config.group_initial_rebalance_delay_ms = 0;
    let broker = Broker::start(config).await.unwrap();
    let bootstrap = broker.local_addr().to_string();
    let connectors = dir.path().join("connectors");
    write_connector(&connectors, &postgres);

    let mut child = Some(ChildWorker::spawn(
        "worker_child",
        CHILD_ENV,
        &bootstrap,
        &connectors,
    ));
    let snapshot = wait_for_events(&bootstrap, SNAPSHOT_ROWS as usize, "the snapshot is in").await;
    assert_eq!(snapshot.len(), SNAPSHOT_ROWS as usize);
    let first = snapshot.iter().find(|(key, _)| key["id"] == 1).unwrap();
    let value = first.1.as_ref().unwrap();
    assert_eq!(value["op"], "r");
    assert_eq!(value["after"], json!({"id": 1, "name": "item 1", "qty": 1}));
    assert_eq!(value["source"]["table"], "items");
    assert_eq!(value["source"]["name"], "shop");

    let mut rng = Lcg(16);
    let mut ids: Vec<i32> = (1..=SNAPSHOT_ROWS).collect();
    let mut next_id = SNAPSHOT_ROWS + 1;
    let mut expected = Expected::default();
    for _ in 0..3 {
        // The kill lands while the worker is writing this round's changes.
        let before = read_topic(&bootstrap).await.len();
        changes(&mut db, &mut rng, &mut ids, &mut next_id, 60, &mut expected).await;
        wait_for_events(&bootstrap, before + 20, "the worker is mid-stream").await;
        drop(child.take());
        changes(&mut db, &mut rng, &mut ids, &mut next_id, 20, &mut expected).await;
        child = Some(ChildWorker::spawn(
            "worker_child",
            CHILD_ENV,
            &bootstrap,
            &connectors,
        ));
    }
    drop(child);

    // The last worker runs here, to read its offsets.
    let runtime = start_worker(&bootstrap, &connectors).await;
    changes(&mut db, &mut rng, &mut ids, &mut next_id, 20, &mut expected).await;
    let events = wait_for_events(&bootstrap, expected.records(), "every change is in").await;
    assert_eq!(events.len(), expected.records(), "events lost or repeated");
    let ops = |op: &str| {
        events
            .iter()
            .filter(|(_, v)| v.as_ref().is_some_and(|v| v["op"] == op))
            .count()
    };
    assert_eq!(
        [ops("r"), ops("c"), ops("u"), ops("d")],
        [
            SNAPSHOT_ROWS as usize,
            expected.inserts,
            expected.updates,
            expected.deletes
        ]
    );
    let streamed: Vec<&Value> = events
        .iter()
        .filter_map(|(_, v)| v.as_ref())
        .filter(|v| v["op"] != "r")
        .collect();
    let distinct: BTreeSet<String> = streamed
        .iter()
        .map(|v| format!("{} {} {}", v["source"]["lsn"], v["op"], v["after"]))
        .collect();
    assert_eq!(distinct.len(), streamed.len(), "an event appears twice");
    assert_eq!(fold(&events), table(&db).await);

    let offsets = runtime.worker().offsets(CONNECTOR).await.unwrap();
    assert_eq!(offsets.len(), 1);
    assert_eq!(
        Value::Object(offsets[0].partition.clone()),
        json!({"server": "shop"})
    );
    let last_lsn = streamed
        .iter()
        .filter_map(|v| v["source"]["lsn"].as_u64())
        .max()
        .unwrap();
    assert_eq!(offsets[0].offset["lsn"].as_u64(), Some(last_lsn));
    assert!(offsets[0].offset["lsn_commit"].as_u64() >= Some(last_lsn));
    runtime.shutdown().await;
    broker.shutdown().await.unwrap();
}
