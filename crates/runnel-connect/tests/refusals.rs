//! Records a target refuses for good (a row PostgreSQL rejects, a webhook's 4xx): under
//! `errors.tolerance=all` they are isolated from their batch and sent to the dead-letter topic
//! while the rest is written; under `none` the task fails with the target's reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use common::*;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use runnel_connect::status::State as TaskState;
use serde_json::{json, Value};

/// A dead letter: the offset it was read at and its context headers.
#[derive(Debug)]
struct DeadLetter {
    offset: i64,
    headers: BTreeMap<String, String>,
}

/// Reads `count` records of a dead-letter topic.
async fn dead_letters(bootstrap: &str, topic: &str, count: usize) -> Vec<DeadLetter> {
    let consumer: StreamConsumer = client(bootstrap)
        .set("group.id", format!("reader-{topic}"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut letters = Vec::new();
    while letters.len() < count {
        let message = tokio::time::timeout(PATIENCE, consumer.recv())
            .await
            .unwrap()
            .unwrap();
        let headers: BTreeMap<String, String> = message
            .headers()
            .unwrap()
            .iter()
            .map(|h| {
                let value = String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned();
                (h.key.to_owned(), value)
            })
            .collect();
        letters.push(DeadLetter {
            offset: headers["__connect.errors.offset"].parse().unwrap(),
            headers,
        });
    }
    letters
}

async fn rows(client: &tokio_postgres::Client, table: &str) -> BTreeSet<i64> {
    client
        .query(&format!("SELECT id FROM {table}"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_postgres_rejects_are_dead_lettered_or_fail_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    let postgres = TestPostgres::start(&dir.path().join("pg"));
    broker.create_topic("accounts", 1).await;
    let client = postgres.client().await;
    for table in ["tolerant", "strict"] {
        client
            .batch_execute(&format!(
                "CREATE TABLE {table} (id BIGINT PRIMARY KEY, balance BIGINT CHECK (balance >= 0))"
            ))
            .await
            .unwrap();
    }
    // 3 and 19 break the check constraint, 7 and 11 are not numbers: 19 is the batch's
    // last record, so the positions must be stored without it.
    let balance = |id: i64| match id {
        3 | 19 => json!(-1),
        7 | 11 => json!("lots"),
        _ => json!(id),
    };
    let records: Records = (0..20)
        .map(|id| {
            let value = json!({"id": id, "balance": balance(id)});
            (json!({"id": id}).to_string(), Some(value.to_string()))
        })
        .collect();
    produce(&broker.producer(), "accounts", &records).await;
    let url = postgres.url();
    let connectors = dir.path().join("connectors");
    for (name, tolerance) in [("tolerant", "all"), ("strict", "none")] {
        write_connector(
            &connectors,
            &[
                ("name", name),
                ("connector.class", "postgres"),
                ("topics", "accounts"),
                ("connection.url", &url),
                ("table.name.format", name),
                ("errors.tolerance", tolerance),
                ("errors.deadletterqueue.topic.name", "dlq-accounts"),
                ("errors.deadletterqueue.context.headers.enable", "true"),
            ],
        );
    }
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    wait_until(
        "the tolerant connector routes the four refused rows",
        || async { status(&runtime, "tolerant").await.tasks[0].records_dead_lettered == 4 },
    )
    .await;
    let accepted: BTreeSet<i64> = (0..20).filter(|id| ![3, 7, 11, 19].contains(id)).collect();
    assert_eq!(rows(&client, "tolerant").await, accepted);
    let tolerant = status(&runtime, "tolerant").await;
    assert_eq!(tolerant.tasks[0].state, TaskState::Running);
    assert_eq!(tolerant.tasks[0].records_failed, 4);
    // The batch's positions are written after its refused last record is dead-lettered.
    wait_until(
        "the stored position covers the refused last record",
        || async {
            client
                .query_opt(
                    "SELECT next_offset FROM runnel_connect_offsets WHERE connector = 'tolerant'",
                    &[],
                )
                .await
                .unwrap()
                .is_some_and(|row| row.get::<_, i64>(0) == 20)
        },
    )
    .await;

    let mut letters = dead_letters(&broker.bootstrap, "dlq-accounts", 4).await;
    letters.sort_by_key(|l| l.offset);
    assert_eq!(
        letters.iter().map(|l| l.offset).collect::<Vec<_>>(),
        [3, 7, 11, 19]
    );
    for letter in &letters {
        assert_eq!(letter.headers["__connect.errors.stage"], "TASK_PUT");
        assert_eq!(
            letter.headers["__connect.errors.connector.name"],
            "tolerant"
        );
        let message = &letter.headers["__connect.errors.exception.message"];
        let expected = if [3, 19].contains(&letter.offset) {
            "violates check constraint"
        } else {
            "invalid input syntax for type bigint"
        };
        assert!(message.contains(expected), "{}: {message}", letter.offset);
    }

    wait_until("the strict connector's task fails", || async {
        status(&runtime, "strict").await.tasks[0].state == TaskState::Failed
    })
    .await;
    let trace = status(&runtime, "strict").await.tasks[0]
        .trace
        .clone()
        .unwrap();
    assert!(trace.contains("the target refused a batch"), "{trace}");
    assert!(rows(&client, "strict").await.is_empty());
    runtime.shutdown().await;
    broker.stop().await;
}

/// A receiver that answers 400 to any batch holding a poisoned record, and keeps the ids of
/// the batches it takes.
async fn picky(State(taken): State<Arc<Mutex<BTreeSet<i64>>>>, body: Bytes) -> StatusCode {
    let records: Vec<Value> = serde_json::from_slice(&body).unwrap();
    if records.iter().any(|r| r["value"]["poison"] == json!(true)) {
        return StatusCode::BAD_REQUEST;
    }
    let mut taken = taken.lock().unwrap();
    taken.extend(records.iter().map(|r| r["key"].as_i64().unwrap()));
    StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_a_webhook_refuses_are_isolated_and_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    broker.create_topic("orders", 1).await;
    let taken = Arc::new(Mutex::new(BTreeSet::new()));
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(picky))
        .with_state(Arc::clone(&taken));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let poisoned = [5, 6, 29];
    let records: Records = (0..30)
        .map(|id| {
            let value = json!({"poison": poisoned.contains(&id)});
            (id.to_string(), Some(value.to_string()))
        })
        .collect();
    produce(&broker.producer(), "orders", &records).await;
    let connectors = dir.path().join("connectors");
    let url = format!("http://{address}/hook");
    write_connector(
        &connectors,
        &[
            ("name", "hook"),
            ("connector.class", "http"),
            ("topics", "orders"),
            ("http.url", &url),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", "dlq-orders"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ],
    );
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    wait_until("the refused records are dead-lettered", || async {
        status(&runtime, "hook").await.tasks[0].records_dead_lettered == 3
    })
    .await;
    let expected: BTreeSet<i64> = (0..30).filter(|id| !poisoned.contains(id)).collect();
    assert_eq!(*taken.lock().unwrap(), expected);
    let hook = status(&runtime, "hook").await;
    assert_eq!(hook.tasks[0].state, TaskState::Running);
    assert_eq!(hook.tasks[0].records_written, 27);
    let mut letters = dead_letters(&broker.bootstrap, "dlq-orders", 3).await;
    letters.sort_by_key(|l| l.offset);
    assert_eq!(
        letters.iter().map(|l| l.offset).collect::<Vec<_>>(),
        poisoned
    );
    for letter in &letters {
        assert_eq!(letter.headers["__connect.errors.stage"], "TASK_PUT");
        assert!(letter.headers["__connect.errors.exception.message"].contains("400"));
    }
    runtime.shutdown().await;
    server.abort();
    broker.stop().await;
}
