//! The REST API over HTTP: create, read, pause, resume, restart, stop, offsets and their
//! reset, delete, and the errors of bad requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn status(&self, name: &str) -> Value {
        self.call(
            reqwest::Method::GET,
            &format!("/connectors/{name}/status"),
            None,
        )
        .await
        .1
    }

    async fn committed(&self, name: &str) -> i64 {
        let (_, offsets) = self
            .call(
                reqwest::Method::GET,
                &format!("/connectors/{name}/offsets"),
                None,
            )
            .await;
        offsets["offsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["offset"]["kafka_offset"].as_i64().unwrap())
            .sum()
    }

    async fn written(&self, name: &str) -> u64 {
        self.status(name).await["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["records_written"].as_u64().unwrap())
            .sum()
    }
}

async fn cached_versions(url: &str) -> usize {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut connection)
        .await
        .unwrap();
    keys.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connectors_are_managed_through_the_rest_api() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    let redis = TestRedis::start(&dir.path().join("redis"));
    broker.create_topic("items", 2).await;
    let producer = broker.producer();
    let records = |range: std::ops::Range<i64>| -> Records {
        range
            .map(|id| (id.to_string(), Some(json!({ "id": id }).to_string())))
            .collect()
    };
    produce(&producer, "items", &records(0..100)).await;
    let connectors = dir.path().join("connectors");
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    let api = Api {
        client: reqwest::Client::new(),
        base: format!("http://{}", runtime.rest_address()),
    };

    let config = json!({
        "connector.class": "redis",
        "topics": "items",
        "tasks.max": "2",
        "redis.url": redis.url(),
    });
    let (code, created) = api
        .call(
            Method::POST,
            "/connectors",
            Some(json!({"name": "items-cache", "config": config})),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["name"], "items-cache");
    assert_eq!(created["tasks"].as_array().unwrap().len(), 2);
    assert!(connectors.join("items-cache.json").exists());
    let (code, again) = api
        .call(
            Method::POST,
            "/connectors",
            Some(json!({"name": "items-cache", "config": config})),
        )
        .await;
    assert_eq!((code, again["error_code"].as_u64()), (409, Some(409)));
    let (code, bad) = api
        .call(
            Method::POST,
            "/connectors",
            Some(json!({"name": "bad", "config": {"connector.class": "redis", "topics": "items"}})),
        )
        .await;
    assert_eq!(
        code, 201,
        "a connector with bad settings is created, and FAILED: {bad}"
    );
    let failed = api.status("bad").await;
    assert_eq!(failed["connector"]["state"], "FAILED");
    assert!(failed["connector"]["trace"]
        .as_str()
        .unwrap()
        .contains("redis.url"));
    let malformed = api
        .client
        .post(format!("{}/connectors", api.base))
        .header("Content-Type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status().as_u16(), 400);
    let malformed: Value = malformed.json().await.unwrap();
    assert!(malformed["message"]
        .as_str()
        .unwrap()
        .contains("request body"));
    let (code, listed) = api.call(Method::GET, "/connectors", None).await;
    assert_eq!((code, listed), (200, json!(["bad", "items-cache"])));

    wait_until("the first records are cached and committed", || async {
        cached_versions(&redis.url()).await == 100 && api.committed("items-cache").await == 100
    })
    .await;
    assert_eq!(
        api.status("items-cache").await["connector"]["state"],
        "RUNNING"
    );

    // Paused: the tasks commit and stop reading.
    let (code, _) = api
        .call(Method::PUT, "/connectors/items-cache/pause", None)
        .await;
    assert_eq!(code, 202);
    let paused = api.status("items-cache").await;
    assert_eq!(paused["connector"]["state"], "PAUSED");
    assert!(paused["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["state"] == "PAUSED"));
    produce(&producer, "items", &records(100..150)).await;
    assert_eq!(
        api.committed("items-cache").await,
        100,
        "nothing is read while paused"
    );
    let (_, offsets) = api
        .call(Method::GET, "/connectors/items-cache/offsets", None)
        .await;
    assert_eq!(offsets["offsets"][0]["partition"]["kafka_topic"], "items");

    let (code, _) = api
        .call(Method::PUT, "/connectors/items-cache/resume", None)
        .await;
    assert_eq!(code, 202);
    wait_until("the records produced while paused are cached", || async {
        cached_versions(&redis.url()).await == 150
    })
    .await;

    let (code, _) = api
        .call(Method::POST, "/connectors/items-cache/restart", None)
        .await;
    assert_eq!(code, 204);
    assert_eq!(
        api.status("items-cache").await["connector"]["state"],
        "RUNNING"
    );

    // Offsets are reset only when the connector is stopped; it then reads from the start.
    let (code, refused) = api
        .call(Method::DELETE, "/connectors/items-cache/offsets", None)
        .await;
    assert_eq!(code, 409, "{refused}");
    let (code, _) = api
        .call(Method::PUT, "/connectors/items-cache/stop", None)
        .await;
    assert_eq!(code, 204);
    assert_eq!(
        api.status("items-cache").await["connector"]["state"],
        "STOPPED"
    );
    let (code, _) = api
        .call(Method::DELETE, "/connectors/items-cache/offsets", None)
        .await;
    assert_eq!(code, 200);
    let (_, offsets) = api
        .call(Method::GET, "/connectors/items-cache/offsets", None)
        .await;
    assert_eq!(offsets["offsets"], json!([]));
    let (code, _) = api
        .call(Method::PUT, "/connectors/items-cache/resume", None)
        .await;
    assert_eq!(code, 202);
    wait_until("the whole topic is read again", || async {
        api.written("items-cache").await >= 150
    })
    .await;

    // Reconfiguring restarts the connector with the new settings.
    let mut changed = config.clone();
    changed["tasks.max"] = json!("1");
    let (code, updated) = api
        .call(Method::PUT, "/connectors/items-cache/config", Some(changed))
        .await;
    assert_eq!(code, 200, "{updated}");
    assert_eq!(updated["tasks"].as_array().unwrap().len(), 1);
    let (_, read_back) = api
        .call(Method::GET, "/connectors/items-cache/config", None)
        .await;
    assert_eq!(read_back["tasks.max"], "1");

    let (code, _) = api
        .call(Method::DELETE, "/connectors/items-cache", None)
        .await;
    assert_eq!(code, 204);
    assert!(!connectors.join("items-cache.json").exists());
    let (code, missing) = api
        .call(Method::GET, "/connectors/items-cache/status", None)
        .await;
    assert_eq!(code, 404);
    assert_eq!(missing["message"], "connector items-cache not found");
    runtime.shutdown().await;
    broker.stop().await;
}

/// The value of the sample `name{labels}` in a Prometheus text exposition.
fn sample(exposition: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|value| value.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_worker_serves_metrics_per_connector_and_task() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    let redis = TestRedis::start(&dir.path().join("redis"));
    broker.create_topic("items", 1).await;
    let producer = broker.producer();
    let records: Records = (0..50)
        .map(|id| (id.to_string(), Some(json!({ "id": id }).to_string())))
        .collect();
    produce(&producer, "items", &records).await;
    let connectors = dir.path().join("connectors");
    write_connector(
        &connectors,
        &[
            ("name", "items-cache"),
            ("connector.class", "redis"),
            ("topics", "items"),
            ("redis.url", &redis.url()),
        ],
    );
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    let url = format!("http://{}/metrics", runtime.rest_address());
    let scrape = || async {
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        response.text().await.unwrap()
    };
    let task = r#"connector="items-cache",task="0""#;
    wait_until("the 50 records are written and committed", || async {
        let metrics = scrape().await;
        sample(&metrics, "runnel_connect_task_records_written_total", task) == Some(50.0)
            && sample(&metrics, "runnel_connect_task_offset_commits_total", task)
                .is_some_and(|n| n >= 1.0)
    })
    .await;
    let metrics = scrape().await;
    let state = |labels: &str| sample(&metrics, "runnel_connect_connector_status", labels);
    assert_eq!(
        state(r#"connector="items-cache",state="RUNNING""#),
        Some(1.0)
    );
    assert_eq!(
        state(r#"connector="items-cache",state="FAILED""#),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "runnel_connect_task_status",
            r#"connector="items-cache",task="0",state="RUNNING""#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "runnel_connect_connector_tasks",
            r#"connector="items-cache""#
        ),
        Some(1.0)
    );
    for counter in [
        "records_failed",
        "records_dead_lettered",
        "offset_commit_failures",
    ] {
        assert_eq!(
            sample(
                &metrics,
                &format!("runnel_connect_task_{counter}_total"),
                task
            ),
            Some(0.0),
            "{counter}"
        );
    }
    // Every batch put is timed: as many as the commits that followed them at least.
    let batches = sample(
        &metrics,
        "runnel_connect_task_batch_time_seconds_count",
        task,
    )
    .unwrap();
    assert!(batches >= 1.0, "{metrics}");
    assert_eq!(
        sample(
            &metrics,
            "runnel_connect_task_batch_time_seconds_bucket",
            &format!(r#"{task},le="+Inf""#)
        ),
        Some(batches)
    );
    assert!(sample(&metrics, "runnel_connect_task_batch_time_seconds_sum", task).unwrap() > 0.0);

    // Paused, the state series say so.
    let paused = reqwest::Client::new()
        .put(format!(
            "http://{}/connectors/items-cache/pause",
            runtime.rest_address()
        ))
        .send()
        .await
        .unwrap();
    assert!(paused.status().is_success());
    let metrics = scrape().await;
    let state = |labels: &str| sample(&metrics, "runnel_connect_connector_status", labels);
    assert_eq!(
        state(r#"connector="items-cache",state="PAUSED""#),
        Some(1.0)
    );
    assert_eq!(
        state(r#"connector="items-cache",state="RUNNING""#),
        Some(0.0)
    );
    runtime.shutdown().await;
    broker.stop().await;
}
