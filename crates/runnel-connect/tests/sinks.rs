//! The Redis and HTTP webhook sinks end to end: a real broker, a real `redis-server`, an HTTP
//! receiver in the test, and the connect runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::*;
use runnel_connect::status::State as TaskState;
use serde_json::Value;

/// The id and version of each key Redis holds, for ids below `keys`.
async fn redis_fold(url: &str, keys: u64) -> BTreeMap<i64, i64> {
    let client = redis::Client::open(url).unwrap();
    let Ok(mut connection) = client.get_multiplexed_async_connection().await else {
        return BTreeMap::new();
    };
    let mut fold = BTreeMap::new();
    for id in 0..keys as i64 {
        let key = format!("user:{}", serde_json::json!({ "id": id }));
        let value: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .unwrap();
        if let Some(value) = value {
            let value: Value = serde_json::from_str(&value).unwrap();
            fold.insert(id, value["version"].as_i64().unwrap());
        }
    }
    fold
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_ends_equal_to_the_fold_of_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    let redis = TestRedis::start(&dir.path().join("redis"));
    broker.create_topic("users", 3).await;
    let (records, fold) = random_changes(&mut Random::new(5), 0..2_000, 100);
    produce(&broker.producer(), "users", &records).await;
    let connectors = dir.path().join("connectors");
    let url = redis.url();
    write_connector(
        &connectors,
        &[
            ("name", "users-cache"),
            ("connector.class", "redis"),
            ("topics", "users"),
            ("tasks.max", "2"),
            ("redis.url", &url),
            ("redis.key.prefix", "user:"),
            ("redis.ttl.seconds", "3600"),
        ],
    );
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    wait_until("Redis holds the fold of the topic", || async {
        redis_fold(&url, 100).await == fold
    })
    .await;
    // Every key expires.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let some_key = format!(
        "user:{}",
        serde_json::json!({ "id": fold.keys().next().unwrap() })
    );
    let ttl: i64 = redis::cmd("TTL")
        .arg(some_key)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((1..=3600).contains(&ttl), "ttl {ttl}");
    runtime.shutdown().await;
    broker.stop().await;
}

/// What the webhook receiver saw: the records applied once per idempotency key, how many
/// deliveries repeated a key, and the requests it refused.
#[derive(Default)]
struct Received {
    applied: BTreeMap<i64, Option<i64>>,
    seen: BTreeSet<String>,
    refusals_left: usize,
    refused: usize,
    bad_signatures: usize,
}

async fn receive(
    State(received): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut received = received.lock().unwrap();
    let signature = headers
        .get(runnel_connect::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if signature
        != format!(
            "sha256={}",
            runnel_connect::http_signature(b"s3cret", &body)
        )
    {
        received.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    if received.refusals_left > 0 {
        received.refusals_left -= 1;
        received.refused += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let records: Vec<Value> = serde_json::from_slice(&body).unwrap();
    for record in records {
        let idempotency_key = record["idempotency_key"].as_str().unwrap().to_owned();
        if !received.seen.insert(idempotency_key) {
            continue;
        }
        let id = record["key"]["id"].as_i64().unwrap();
        let version = record["value"]["version"].as_i64();
        received.applied.insert(id, version);
    }
    StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_batches_are_signed_retried_and_end_equal_to_the_fold() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    broker.create_topic("orders", 2).await;
    let received = Arc::new(Mutex::new(Received {
        refusals_left: 3,
        ..Received::default()
    }));
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(Arc::clone(&received));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (records, fold) = random_changes(&mut Random::new(9), 0..1_000, 60);
    produce(&broker.producer(), "orders", &records).await;
    let connectors = dir.path().join("connectors");
    let url = format!("http://{address}/hook");
    write_connector(
        &connectors,
        &[
            ("name", "orders-hook"),
            ("connector.class", "http"),
            ("topics", "orders"),
            ("http.url", &url),
            ("http.hmac.secret", "s3cret"),
            ("batch.size", "100"),
            ("errors.retry.delay.max.ms", "50"),
        ],
    );
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    let expected: BTreeMap<i64, Option<i64>> = {
        let ids: BTreeSet<i64> = records
            .iter()
            .map(|(key, _)| {
                serde_json::from_str::<Value>(key).unwrap()["id"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        ids.into_iter()
            .map(|id| (id, fold.get(&id).copied()))
            .collect()
    };
    wait_until("the receiver holds the fold of the topic", || async {
        received.lock().unwrap().applied == expected
    })
    .await;
    {
        let received = received.lock().unwrap();
        assert_eq!(received.refused, 3, "the refused batches were retried");
        assert_eq!(received.bad_signatures, 0);
        assert_eq!(received.seen.len(), 1_000);
    }
    // The task counts a batch once the receiver has answered it, so the count may follow
    // the receiver's last write by a moment.
    wait_until("the task counts every record written", || async {
        status(&runtime, "orders-hook").await.tasks[0].records_written == 1_000
    })
    .await;
    let status = status(&runtime, "orders-hook").await;
    assert_eq!(status.tasks[0].state, TaskState::Running);
    runtime.shutdown().await;
    server.abort();
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_that_rejects_a_batch_fails_the_task_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    broker.create_topic("orders", 1).await;
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { StatusCode::UNPROCESSABLE_ENTITY }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    produce(
        &broker.producer(),
        "orders",
        &[("1".to_owned(), Some("{}".to_owned()))],
    )
    .await;
    let connectors = dir.path().join("connectors");
    let url = format!("http://{address}/hook");
    write_connector(
        &connectors,
        &[
            ("name", "hook"),
            ("connector.class", "http"),
            ("topics", "orders"),
            ("http.url", &url),
        ],
    );
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    wait_until("the task fails", || async {
        status(&runtime, "hook").await.tasks[0].state == TaskState::Failed
    })
    .await;
    let trace = status(&runtime, "hook").await.tasks[0]
        .trace
        .clone()
        .unwrap();
    assert!(trace.contains("422"), "{trace}");
    runtime.shutdown().await;
    server.abort();
    broker.stop().await;
}
