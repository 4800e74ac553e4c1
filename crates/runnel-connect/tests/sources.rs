//! Source connectors: the file source end to end, exactly once through a worker killed with
//! SIGKILL, offsets read and reset over the REST API, a missing file, and paused or stopped
//! connectors that stay so across a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::processes::{child_settings, ChildWorker};
use common::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use reqwest::Method;
use serde_json::{json, Value};

const CHILD_ENV: &str = "RUNNEL_CONNECT_SOURCE_CHILD";

fn append(path: &Path, lines: std::ops::Range<u64>) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    let text: String = lines.map(|n| format!("line {n}\n")).collect();
    file.write_all(text.as_bytes()).unwrap();
}

fn expected(lines: std::ops::Range<u64>) -> Vec<String> {
    lines.map(|n| format!("line {n}")).collect()
}

fn file_connector(name: &str, file: &Path, topic: &str) -> Vec<(String, String)> {
    [
        ("name", name),
        ("connector.class", "file"),
        ("file", file.to_str().unwrap()),
        ("topic", topic),
        ("value.converter", "string"),
        ("batch.size", "7"),
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

/// Every record of `topic` a `read_committed` consumer sees, partition after partition, in
/// order within each.
fn read_committed(bootstrap: &str, topic: &str) -> Vec<String> {
    let consumer: BaseConsumer = client(bootstrap)
        .set("group.id", "sources-test-reader")
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
    let mut values = Vec::new();
    for partition in 0..partitions {
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
        consumer.assign(&assignment).unwrap();
        loop {
            match consumer.poll(Duration::from_secs(10)) {
                Some(Ok(message)) => values.push(
                    String::from_utf8(message.payload().unwrap_or_default().to_vec()).unwrap(),
                ),
                Some(Err(KafkaError::PartitionEOF(_))) => break,
                Some(Err(e)) => panic!("cannot read {topic}: {e}"),
                None => panic!("no end of {topic} reported"),
            }
        }
    }
    values
}

async fn read_committed_async(bootstrap: &str, topic: &str) -> Vec<String> {
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || read_committed(&bootstrap, &topic))
        .await
        .unwrap()
}

async fn call(base: &str, method: Method, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .send()
        .await
        .unwrap();
    let code = response.status().as_u16();
    let text = response.text().await.unwrap();
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appended_lines_arrive_once_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    broker.create_topic("lines", 1).await;
    let file = dir.path().join("input.txt");
    append(&file, 0..100);
    let connectors = dir.path().join("connectors");
    write(&connectors, &file_connector("lines-in", &file, "lines"));
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    for round in 1..5 {
        append(&file, round * 100..(round + 1) * 100);
    }
    wait_until("500 lines are in the topic", || async {
        read_committed_async(&broker.bootstrap, "lines").await.len() >= 500
    })
    .await;
    assert_eq!(
        read_committed_async(&broker.bootstrap, "lines").await,
        expected(0..500)
    );
    let status = status(&runtime, "lines-in").await;
    assert_eq!(status.kind, "source");
    wait_until("the task counts 500 lines written", || async {
        let task = &common::status(&runtime, "lines-in").await.tasks[0];
        task.records_written == 500
    })
    .await;
    assert_eq!(status.tasks[0].records_polled.map(|p| p >= 500), Some(true));
    let offsets = runtime.worker().offsets("lines-in").await.unwrap();
    assert_eq!(offsets.len(), 1);
    assert_eq!(offsets[0].partition["filename"], file.display().to_string());
    assert_eq!(
        offsets[0].offset["position"].as_u64(),
        Some(std::fs::metadata(&file).unwrap().len())
    );
    runtime.shutdown().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interval_transactions_carry_transformed_records_to_a_created_topic() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    let file = dir.path().join("input.txt");
    append(&file, 0..50);
    let connectors = dir.path().join("connectors");
    let mut settings = file_connector("routed", &file, "raw");
    settings.extend(
        [
            ("transaction.boundary", "interval"),
            ("transaction.boundary.interval.ms", "200"),
            ("topic.creation.default.partitions", "2"),
            ("topic.creation.default.replication.factor", "1"),
            ("transforms", "route"),
            ("transforms.route.type", "RegexRouter"),
            ("transforms.route.regex", "raw"),
            ("transforms.route.replacement", "routed-lines"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    write(&connectors, &settings);
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    wait_until("the lines are in the routed topic", || async {
        read_committed_async(&broker.bootstrap, "routed-lines")
            .await
            .len()
            == 50
    })
    .await;
    let mut lines = read_committed_async(&broker.bootstrap, "routed-lines").await;
    lines.sort_by_key(|line| line[5..].parse::<u64>().unwrap());
    assert_eq!(lines, expected(0..50));
    let admin: BaseConsumer = client(&broker.bootstrap).create().unwrap();
    let metadata = admin
        .fetch_metadata(Some("routed-lines"), Duration::from_secs(10))
        .unwrap();
    assert_eq!(metadata.topics()[0].partitions().len(), 2, "created as set");
    runtime.shutdown().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_child() {
    let Some((bootstrap, dir)) = child_settings(CHILD_ENV) else {
        return;
    };
    let _runtime = start_connect(&bootstrap, &dir).await;
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_worker_restarts_without_losing_or_repeating_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    broker.create_topic("events", 1).await;
    let file = dir.path().join("events.log");
    append(&file, 0..0);
    let connectors = dir.path().join("connectors");
    write(&connectors, &file_connector("events-in", &file, "events"));
    let mut child = Some(ChildWorker::spawn(
        "source_child",
        CHILD_ENV,
        &broker.bootstrap,
        &connectors,
    ));
    let mut written = 0;
    for _ in 0..4 {
        // Lines keep coming while the worker runs, in small appends, so that the kill
        // lands between a transaction's records and its commit as often as not.
        let seen_before = read_committed_async(&broker.bootstrap, "events")
            .await
            .len();
        for _ in 0..20 {
            append(&file, written..written + 50);
            written += 50;
        }
        wait_until("the worker is mid-stream", || async {
            read_committed_async(&broker.bootstrap, "events")
                .await
                .len()
                > seen_before + 100
        })
        .await;
        append(&file, written..written + 500);
        written += 500;
        drop(child.take());
        child = Some(ChildWorker::spawn(
            "source_child",
            CHILD_ENV,
            &broker.bootstrap,
            &connectors,
        ));
    }
    wait_until("every line is in the topic", || async {
        read_committed_async(&broker.bootstrap, "events")
            .await
            .len() as u64
            >= written
    })
    .await;
    let lines = read_committed_async(&broker.bootstrap, "events").await;
    drop(child);
    assert_eq!(lines.len() as u64, written, "lines lost or repeated");
    assert_eq!(lines, expected(0..written));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn source_offsets_are_read_and_reset_over_the_rest_api() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    broker.create_topic("notes", 1).await;
    let file = dir.path().join("notes.txt");
    append(&file, 0..30);
    let connectors = dir.path().join("connectors");
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    let base = format!("http://{}", runtime.rest_address());
    let config: serde_json::Map<String, Value> = file_connector("notes-in", &file, "notes")
        .into_iter()
        .filter(|(k, _)| k != "name")
        .map(|(k, v)| (k, Value::String(v)))
        .chain([("offsets.storage.topic".to_owned(), json!("notes-offsets"))])
        .collect();
    let response = reqwest::Client::new()
        .post(format!("{base}/connectors"))
        .json(&json!({"name": "notes-in", "config": config}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let (_, info) = call(&base, Method::GET, "/connectors/notes-in").await;
    assert_eq!(info["type"], "source");
    wait_until("30 lines are in the topic", || async {
        read_committed_async(&broker.bootstrap, "notes").await.len() == 30
    })
    .await;
    let size = std::fs::metadata(&file).unwrap().len();
    wait_until("the offsets reach the end of the file", || async {
        let (_, offsets) = call(&base, Method::GET, "/connectors/notes-in/offsets").await;
        offsets
            == json!({"offsets": [{
                "partition": {"filename": file.display().to_string()},
                "offset": {"position": size}
            }]})
    })
    .await;

    let (code, refused) = call(&base, Method::DELETE, "/connectors/notes-in/offsets").await;
    assert_eq!(code, 409, "{refused}");
    let (code, _) = call(&base, Method::PUT, "/connectors/notes-in/stop").await;
    assert_eq!(code, 204);
    let (code, reset) = call(&base, Method::DELETE, "/connectors/notes-in/offsets").await;
    assert_eq!(code, 200, "{reset}");
    let (_, offsets) = call(&base, Method::GET, "/connectors/notes-in/offsets").await;
    assert_eq!(offsets, json!({"offsets": []}));
    // Resumed without offsets, the source reads the file from its start again.
    let (code, _) = call(&base, Method::PUT, "/connectors/notes-in/resume").await;
    assert_eq!(code, 202);
    wait_until("the file is read a second time", || async {
        read_committed_async(&broker.bootstrap, "notes").await.len() == 60
    })
    .await;
    let mut twice = expected(0..30);
    twice.extend(expected(0..30));
    assert_eq!(
        read_committed_async(&broker.bootstrap, "notes").await,
        twice
    );
    runtime.shutdown().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_source_whose_file_is_missing_fails_with_a_clear_status() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    let connectors = dir.path().join("connectors");
    let missing = dir.path().join("nowhere.txt");
    write(&connectors, &file_connector("absent", &missing, "absent"));
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    wait_until("the task fails", || async {
        status(&runtime, "absent").await.tasks[0].state == runnel_connect::status::State::Failed
    })
    .await;
    let trace = status(&runtime, "absent").await.tasks[0]
        .trace
        .clone()
        .unwrap();
    assert!(
        trace.contains("cannot open") && trace.contains("nowhere.txt"),
        "{trace}"
    );
    runtime.shutdown().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paused_and_stopped_connectors_stay_so_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    broker.create_topic("paused", 1).await;
    broker.create_topic("stopped", 1).await;
    let connectors = dir.path().join("connectors");
    let paused_file = dir.path().join("paused.txt");
    let stopped_file = dir.path().join("stopped.txt");
    append(&paused_file, 0..10);
    append(&stopped_file, 0..10);
    write(&connectors, &file_connector("p", &paused_file, "paused"));
    write(&connectors, &file_connector("s", &stopped_file, "stopped"));
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    let base = format!("http://{}", runtime.rest_address());
    wait_until("both files are in their topics", || async {
        read_committed_async(&broker.bootstrap, "paused")
            .await
            .len()
            == 10
            && read_committed_async(&broker.bootstrap, "stopped")
                .await
                .len()
                == 10
    })
    .await;
    assert_eq!(call(&base, Method::PUT, "/connectors/p/pause").await.0, 202);
    assert_eq!(call(&base, Method::PUT, "/connectors/s/stop").await.0, 204);
    runtime.shutdown().await;

    let halted_at = std::fs::metadata(&paused_file).unwrap().len();
    append(&paused_file, 10..20);
    append(&stopped_file, 10..20);
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    let base = format!("http://{}", runtime.rest_address());
    let (_, paused) = call(&base, Method::GET, "/connectors/p/status").await;
    assert_eq!(paused["connector"]["state"], "PAUSED", "{paused}");
    assert_eq!(paused["tasks"][0]["state"], "PAUSED", "{paused}");
    let (_, stopped) = call(&base, Method::GET, "/connectors/s/status").await;
    assert_eq!(stopped["connector"]["state"], "STOPPED", "{stopped}");
    assert_eq!(stopped["tasks"][0]["state"], "STOPPED", "{stopped}");
    // Nothing runs them: the offsets still end where they were halted.
    let (_, offsets) = call(&base, Method::GET, "/connectors/p/offsets").await;
    assert_eq!(
        offsets["offsets"][0]["offset"]["position"],
        json!(halted_at)
    );
    assert_eq!(
        call(&base, Method::PUT, "/connectors/p/resume").await.0,
        202
    );
    wait_until("the paused connector, resumed, reads the rest", || async {
        read_committed_async(&broker.bootstrap, "paused")
            .await
            .len()
            == 20
    })
    .await;
    assert_eq!(
        read_committed_async(&broker.bootstrap, "stopped")
            .await
            .len(),
        10
    );
    runtime.shutdown().await;

    // Resumed is stored too: the next start runs it, and still not the stopped one.
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    assert_eq!(
        status(&runtime, "p").await.connector.state,
        runnel_connect::status::State::Running
    );
    assert_eq!(
        status(&runtime, "s").await.connector.state,
        runnel_connect::status::State::Stopped
    );
    runtime.shutdown().await;
    broker.stop().await;
}
