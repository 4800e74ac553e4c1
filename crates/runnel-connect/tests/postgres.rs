//! The PostgreSQL sink end to end: a real broker, a real PostgreSQL, the connect runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};

use common::*;
use runnel_connect::status::State;

/// The table's rows as `id -> version`.
async fn rows(client: &tokio_postgres::Client, table: &str) -> BTreeMap<i64, i64> {
    client
        .query(&format!("SELECT id, version FROM {table}"), &[])
        .await
        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        .unwrap_or_default()
}

fn postgres_connector(name: &str, topic: &str, url: &str) -> Vec<(String, String)> {
    [
        ("name", name),
        ("connector.class", "postgres"),
        ("topics", topic),
        ("connection.url", url),
        ("auto.create", "true"),
        ("tasks.max", "2"),
        ("batch.size", "50"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn write(dir: &Path, settings: &[(String, String)]) {
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    write_connector(dir, &pairs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_table_ends_equal_to_the_fold_of_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    let postgres = TestPostgres::start(&dir.path().join("pg"));
    broker.create_topic("users", 3).await;
    let (records, fold) = random_changes(&mut Random::new(7), 0..2_000, 100);
    produce(&broker.producer(), "users", &records).await;

    let connectors = dir.path().join("connectors");
    write(
        &connectors,
        &postgres_connector("users-pg", "users", &postgres.url()),
    );
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    let client = postgres.client().await;
    wait_until("the table holds the fold of the topic", || async {
        rows(&client, "users").await == fold
    })
    .await;
    // A task counts a batch once its transaction has committed, so the count may follow the
    // rows by a moment.
    wait_until("the tasks count every record written", || async {
        let tasks = status(&runtime, "users-pg").await.tasks;
        tasks.iter().map(|t| t.records_written).sum::<u64>() == 2_000
    })
    .await;
    let first = status(&runtime, "users-pg").await;
    assert_eq!(first.connector.state, State::Running);
    assert_eq!(first.tasks.len(), 2);

    // The positions stored with the rows cover the whole topic.
    let stored: i64 = client
        .query_one(
            "SELECT sum(next_offset)::bigint FROM runnel_connect_offsets WHERE connector = 'users-pg'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 2_000);
    runtime.shutdown().await;

    // Restarted without its Kafka offsets, the connector resumes at the positions stored in
    // PostgreSQL instead of handing the whole topic to the sink again.
    forget_group_offsets(&broker.bootstrap, "connect-users-pg").await;
    let (more, _) = random_changes(&mut Random::new(8), 2_000..2_010, 100);
    produce(&broker.producer(), "users", &more).await;
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    let mut all = records.clone();
    all.extend(more);
    let fold = fold_of(&all);
    wait_until("the new records are applied", || async {
        rows(&client, "users").await == fold
    })
    .await;
    let written = || async {
        status(&runtime, "users-pg")
            .await
            .tasks
            .iter()
            .map(|t| t.records_written)
            .sum::<u64>()
    };
    wait_until("the tasks count the new records", || async {
        written().await >= 10
    })
    .await;
    let written = written().await;
    assert!(
        (10..100).contains(&written),
        "{written} records were handed to the sink"
    );
    runtime.shutdown().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn debezium_change_events_upsert_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    let postgres = TestPostgres::start(&dir.path().join("pg"));
    broker.create_topic("dbserver.inventory.customers", 1).await;
    let envelope = |op: &str, before: serde_json::Value, after: serde_json::Value| {
        let event = serde_json::json!({"before": before, "after": after, "op": op, "source": {}});
        // Debezium with the JSON converter's schema envelope.
        Some(serde_json::json!({"schema": {}, "payload": event}).to_string())
    };
    let key = |id: i64| serde_json::json!({"schema": {}, "payload": {"id": id}}).to_string();
    let customer = |id: i64, version: i64| serde_json::json!({"id": id, "version": version});
    let events = vec![
        (
            key(1),
            envelope("r", serde_json::Value::Null, customer(1, 1)),
        ),
        (
            key(2),
            envelope("c", serde_json::Value::Null, customer(2, 1)),
        ),
        (key(1), envelope("u", customer(1, 1), customer(1, 2))),
        (
            key(2),
            envelope("d", customer(2, 1), serde_json::Value::Null),
        ),
        (key(2), None),
        (
            key(3),
            envelope("c", serde_json::Value::Null, customer(3, 1)),
        ),
    ];
    produce(&broker.producer(), "dbserver.inventory.customers", &events).await;
    let connectors = dir.path().join("connectors");
    let url = postgres.url();
    write_connector(
        &connectors,
        &[
            ("name", "customers"),
            ("connector.class", "postgres"),
            ("topics", "dbserver.inventory.customers"),
            ("connection.url", &url),
            ("auto.create", "true"),
            ("table.name.format", "customers"),
            ("key.converter.schemas.enable", "true"),
            ("value.converter.schemas.enable", "true"),
        ],
    );
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    let client = postgres.client().await;
    let expected = BTreeMap::from([(1, 2), (3, 1)]);
    wait_until("the table follows the change events", || async {
        rows(&client, "customers").await == expected
    })
    .await;
    runtime.shutdown().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_target_down_is_retried_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    let mut postgres = TestPostgres::start(&dir.path().join("pg"));
    broker.create_topic("orders", 2).await;
    let producer = broker.producer();
    let mut random = Random::new(11);
    let (first, _) = random_changes(&mut random, 0..300, 50);
    produce(&producer, "orders", &first).await;

    let connectors = dir.path().join("connectors");
    let mut settings = postgres_connector("orders-pg", "orders", &postgres.url());
    settings.push(("errors.retry.delay.max.ms".to_owned(), "200".to_owned()));
    write(&connectors, &settings);
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    wait_until("the first records are written", || async {
        status(&runtime, "orders-pg")
            .await
            .tasks
            .iter()
            .map(|t| t.records_written)
            .sum::<u64>()
            == 300
    })
    .await;

    postgres.pause();
    let (second, _) = random_changes(&mut random, 300..600, 50);
    produce(&producer, "orders", &second).await;
    wait_until("a task reports that it is retrying", || async {
        status(&runtime, "orders-pg").await.tasks.iter().any(|t| {
            t.state == State::Running && t.retrying.as_ref().is_some_and(|r| r.attempts >= 2)
        })
    })
    .await;
    // Nothing read while the target was down was committed.
    let committed = runtime.worker().offsets("orders-pg").await.unwrap();
    let committed: i64 = committed
        .iter()
        .map(|o| o.offset["kafka_offset"].as_i64().unwrap())
        .sum();
    assert_eq!(committed, 300);

    postgres.resume();
    let mut all = first.clone();
    all.extend(second);
    let fold = fold_of(&all);
    let client = postgres.client().await;
    wait_until("the table catches up once the target is back", || async {
        rows(&client, "orders").await == fold
    })
    .await;
    wait_until("the retrying is over", || async {
        status(&runtime, "orders-pg")
            .await
            .tasks
            .iter()
            .all(|t| t.retrying.is_none() && t.state == State::Running)
    })
    .await;
    runtime.shutdown().await;
    broker.stop().await;
}

/// The latest version per id of records made by `random_changes`.
fn fold_of(records: &[(String, Option<String>)]) -> BTreeMap<i64, i64> {
    let mut fold = BTreeMap::new();
    for (key, value) in records {
        let id = serde_json::from_str::<serde_json::Value>(key).unwrap()["id"]
            .as_i64()
            .unwrap();
        match value {
            Some(value) => {
                let version = serde_json::from_str::<serde_json::Value>(value).unwrap()["version"]
                    .as_i64()
                    .unwrap();
                fold.insert(id, version);
            }
            None => {
                fold.remove(&id);
            }
        }
    }
    fold
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_records_go_to_the_dead_letter_topic_or_fail_the_task() {
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::message::{Headers, Message};

    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    let postgres = TestPostgres::start(&dir.path().join("pg"));
    broker.create_topic("events", 1).await;
    let good = |id: i64| {
        (
            serde_json::json!({"id": id}).to_string(),
            Some(serde_json::json!({"id": id, "version": id}).to_string()),
        )
    };
    let records = vec![
        good(1),
        (r#"{"id": 2}"#.to_owned(), Some("{not json".to_owned())),
        good(3),
    ];
    produce(&broker.producer(), "events", &records).await;
    let url = postgres.url();
    let connectors = dir.path().join("connectors");
    write_connector(
        &connectors,
        &[
            ("name", "tolerant"),
            ("connector.class", "postgres"),
            ("topics", "events"),
            ("connection.url", &url),
            ("auto.create", "true"),
            ("table.name.format", "tolerant"),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", "dlq-events"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ],
    );
    write_connector(
        &connectors,
        &[
            ("name", "strict"),
            ("connector.class", "postgres"),
            ("topics", "events"),
            ("connection.url", &url),
            ("auto.create", "true"),
            ("table.name.format", "strict"),
        ],
    );
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    let client = postgres.client().await;
    wait_until("the tolerant connector writes the good records", || async {
        rows(&client, "tolerant").await == BTreeMap::from([(1, 1), (3, 3)])
    })
    .await;
    let tolerant = status(&runtime, "tolerant").await;
    assert_eq!(tolerant.tasks[0].state, State::Running);
    assert_eq!(tolerant.tasks[0].records_failed, 1);
    assert_eq!(tolerant.tasks[0].records_dead_lettered, 1);

    // The dead letter is the record as it was, with its context.
    let consumer: StreamConsumer = client_config(&broker.bootstrap)
        .set("group.id", "dlq-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["dlq-events"]).unwrap();
    let message = tokio::time::timeout(PATIENCE, consumer.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.payload(), Some(&b"{not json"[..]));
    assert_eq!(message.key(), Some(&br#"{"id": 2}"#[..]));
    let headers: BTreeMap<String, String> = message
        .headers()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h.key.to_owned(),
                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
            )
        })
        .collect();
    assert_eq!(headers["__connect.errors.topic"], "events");
    assert_eq!(headers["__connect.errors.partition"], "0");
    assert_eq!(headers["__connect.errors.offset"], "1");
    assert_eq!(headers["__connect.errors.connector.name"], "tolerant");
    assert_eq!(headers["__connect.errors.stage"], "VALUE_CONVERTER");
    assert!(headers["__connect.errors.exception.message"].contains("not valid JSON"));

    // Under errors.tolerance=none the task stops at the record and says why.
    wait_until("the strict connector's task fails", || async {
        status(&runtime, "strict").await.tasks[0].state == State::Failed
    })
    .await;
    let strict = status(&runtime, "strict").await;
    let trace = strict.tasks[0].trace.clone().unwrap();
    assert!(
        trace.contains("VALUE_CONVERTER") && trace.contains("events-0 at offset 1"),
        "{trace}"
    );
    assert_eq!(rows(&client, "strict").await, BTreeMap::new());
    runtime.shutdown().await;
    broker.stop().await;
}

fn client_config(bootstrap: &str) -> rdkafka::config::ClientConfig {
    client(bootstrap)
}

/// The connect runtime of the crash test runs in a child process: this test binary again,
/// running only `crash_child` with the settings in the environment.
const CHILD_ENV: &str = "RUNNEL_CONNECT_CRASH_CHILD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(settings) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (bootstrap, dir) = settings.split_once('|').unwrap();
    let _runtime = start_connect(bootstrap, Path::new(dir)).await;
    std::future::pending::<()>().await;
}

fn spawn_child(bootstrap: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{bootstrap}|{}", dir.display()))
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_worker_restarts_without_losing_or_repeating_anything() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    let postgres = TestPostgres::start(&dir.path().join("pg"));
    broker.create_topic("accounts", 2).await;
    let client = postgres.client().await;
    // Every application of a record to the table leaves a row in `applied`: a record
    // applied twice leaves two.
    client
        .batch_execute(
            "CREATE TABLE accounts (id BIGINT PRIMARY KEY, version BIGINT, note TEXT);
             CREATE TABLE applied (id BIGINT, version BIGINT);
             CREATE FUNCTION record_apply() RETURNS trigger AS $$
               BEGIN INSERT INTO applied VALUES (NEW.id, NEW.version); RETURN NEW; END
             $$ LANGUAGE plpgsql;
             CREATE TRIGGER accounts_applied AFTER INSERT OR UPDATE ON accounts
               FOR EACH ROW EXECUTE FUNCTION record_apply();",
        )
        .await
        .unwrap();
    let connectors = dir.path().join("connectors");
    let mut settings = postgres_connector("accounts-pg", "accounts", &postgres.url());
    settings.retain(|(k, _)| k != "batch.size");
    settings.push(("batch.size".to_owned(), "7".to_owned()));
    // A killed worker's consumers stay in the group until their session times out.
    settings.push((
        "consumer.override.session.timeout.ms".to_owned(),
        "6000".to_owned(),
    ));
    settings.push((
        "consumer.override.heartbeat.interval.ms".to_owned(),
        "500".to_owned(),
    ));
    write(&connectors, &settings);

    let producer = broker.producer();
    let mut random = Random::new(23);
    let mut all = Vec::new();
    let mut child = spawn_child(&broker.bootstrap, &connectors);
    for round in 0..3 {
        let (records, _) = random_changes(&mut random, round * 1_000..(round + 1) * 1_000, 200);
        produce(&producer, "accounts", &records).await;
        all.extend(records);
        let applied_before: i64 = count(&client, "applied").await;
        wait_until("the worker is mid-stream", || async {
            count(&client, "applied").await > applied_before + 50
        })
        .await;
        child.kill().unwrap();
        child.wait().unwrap();
        // The widest window a crash can hit: every offset committed to Kafka is lost, so
        // the restarted worker reads the topic again from the start, and only the
        // positions stored in PostgreSQL keep it from applying records a second time.
        forget_group_offsets(&broker.bootstrap, "connect-accounts-pg").await;
        child = spawn_child(&broker.bootstrap, &connectors);
    }
    let fold = fold_of(&all);
    wait_until("the table holds the fold of the topic", || async {
        rows(&client, "accounts").await == fold
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let twice: Vec<(i64, i64, i64)> = client
        .query(
            "SELECT id, version, count(*) FROM applied GROUP BY id, version HAVING count(*) > 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(
        twice.is_empty(),
        "records applied twice (id, version, times): {twice:?}"
    );
    broker.stop().await;
}

async fn count(client: &tokio_postgres::Client, table: &str) -> i64 {
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}
