//! The web console served by `runnel serve` on its admin port: its JSON API over plain HTTP
//! (read-only refusal, input validation), and its pages in headless Chromium driven over
//! WebDriver: they show the broker's real data, the throughput chart moves as records are
//! produced, and the admin actions take effect on the broker, as a Kafka client sees it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/serve.rs"]
mod serve;
#[path = "support/webdriver.rs"]
mod webdriver;

use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

/// A `runnel serve` process, killed when dropped.
struct Server {
    child: Child,
    bootstrap: String,
    /// `http://HOST:PORT` of the admin server.
    admin: String,
}

impl Server {
    /// Starts the broker (two partitions a topic) and waits for its admin server's health.
    async fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let serve::Serve {
            mut command,
            bootstrap,
            admin,
        } = serve::serve(data_dir, "");
        let child = command
            .args(["--lag-interval-ms", "200"])
            .args(extra)
            .stderr(Stdio::null())
            .spawn()
            .expect("runnel starts");
        let server = Server {
            child,
            bootstrap,
            admin: format!("http://{admin}"),
        };
        let deadline = Instant::now() + WAIT;
        while !reqwest::get(format!("{}/health", server.admin))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "the admin server never answered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    fn client(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        config
    }

    /// Produces `count` records of `value` to `topic` and waits for their acknowledgement.
    fn produce(&self, topic: &str, count: usize, value: &str) {
        let producer: BaseProducer = self.client().create().unwrap();
        for i in 0..count {
            let key = format!("k{i}");
            producer
                .send(BaseRecord::to(topic).key(&key).payload(value))
                .unwrap();
        }
        producer.flush(WAIT).unwrap();
    }

    /// `group`'s committed offsets of `topic`'s partitions 0 and 1.
    fn committed(&self, group: &str, topic: &str) -> Vec<Offset> {
        let consumer: BaseConsumer = self.client().set("group.id", group).create().unwrap();
        let mut query = TopicPartitionList::new();
        query.add_partition(topic, 0);
        query.add_partition(topic, 1);
        let committed = consumer.committed_offsets(query, WAIT).unwrap();
        committed.elements().iter().map(|e| e.offset()).collect()
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let request = reqwest::Client::new().request(method, format!("{}{path}", self.admin));
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_read_only_console_shows_the_cluster_and_refuses_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]).await;
    server.produce("shown", 3, "v");

    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/", server.admin))
        .send()
        .await
        .unwrap();
    assert!(redirect.status().is_redirection());
    assert_eq!(redirect.headers()["location"], "/console/");
    let page = reqwest::get(format!("{}/console/", server.admin))
        .await
        .unwrap();
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("/console/console.js"), "{html}");
    assert!(
        !html.contains("http"),
        "nothing is fetched from elsewhere: {html}"
    );

    let (status, topics) = server
        .call(reqwest::Method::GET, "/console/api/topics", None)
        .await;
    assert_eq!((status, topics), (200, json!(["shown"])));
    let (status, settings) = server
        .call(reqwest::Method::GET, "/console/api/settings", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(settings["admin_actions"], false);

    let writes = [
        (
            reqwest::Method::POST,
            "/console/api/topics",
            json!({"name": "new"}),
        ),
        (
            reqwest::Method::DELETE,
            "/console/api/topics/shown",
            Value::Null,
        ),
        (
            reqwest::Method::PUT,
            "/console/api/topics/shown/configs",
            json!({"set": {"retention.ms": "1000"}}),
        ),
        (
            reqwest::Method::POST,
            "/console/api/topics/shown/records",
            json!({"value": "x"}),
        ),
        (
            reqwest::Method::POST,
            "/console/api/groups/g/offsets",
            json!({"topic": "shown", "to": "earliest"}),
        ),
    ];
    for (method, path, body) in writes {
        let body = (!body.is_null()).then_some(body);
        let (status, answer) = server.call(method.clone(), path, body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("--console-admin"),
            "{answer}"
        );
    }
    // Nothing changed.
    let (_, topics) = server
        .call(reqwest::Method::GET, "/console/api/topics", None)
        .await;
    assert_eq!(topics, json!(["shown"]));
    let (_, described) = server
        .call(reqwest::Method::GET, "/console/api/topics/shown", None)
        .await;
    let records: i64 = described["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["log_end"].as_i64().unwrap())
        .sum();
    assert_eq!(records, 3);
}

#[tokio::test]
async fn the_json_api_answers_bad_input_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--console-admin"]).await;
    server.produce("known", 1, "v");
    use reqwest::Method;
    let cases = [
        (
            Method::POST,
            "/console/api/topics",
            Some(json!({"name": "bad name"})),
            400,
            "bad topic name",
        ),
        (
            Method::POST,
            "/console/api/topics",
            Some(json!({"name": "x", "partitions": 0})),
            400,
            "bad partition count",
        ),
        (
            Method::POST,
            "/console/api/topics",
            Some(json!({"nme": "x"})),
            400,
            "nme",
        ),
        (
            Method::POST,
            "/console/api/topics",
            Some(json!({"name": "known"})),
            409,
            "already exists",
        ),
        (
            Method::GET,
            "/console/api/topics/missing",
            None,
            404,
            "unknown topic missing",
        ),
        (
            Method::GET,
            "/console/api/topics/known/records?partition=0&limit=0",
            None,
            400,
            "bad limit",
        ),
        (
            Method::GET,
            "/console/api/topics/known/records?partition=0&offset=1&timestamp=1",
            None,
            400,
            "not both",
        ),
        (
            Method::GET,
            "/console/api/topics/known/records?partition=7",
            None,
            400,
            "no partition 7",
        ),
        (
            Method::GET,
            "/console/api/topics/known/records?partition=x",
            None,
            400,
            "partition",
        ),
        (
            Method::PUT,
            "/console/api/topics/known/configs",
            Some(json!({"set": {"no.such.setting": "1"}})),
            400,
            "unknown topic setting no.such.setting",
        ),
        (
            Method::PUT,
            "/console/api/topics/known/configs",
            Some(json!({})),
            400,
            "nothing to alter",
        ),
        (
            Method::POST,
            "/console/api/topics/known/records",
            Some(json!({"value": "v", "partition": 9})),
            400,
            "no partition 9",
        ),
        (
            Method::POST,
            "/console/api/topics/missing/records",
            Some(json!({"value": "v"})),
            404,
            "unknown topic missing",
        ),
        (
            Method::GET,
            "/console/api/groups/nobody",
            None,
            404,
            "unknown group nobody",
        ),
        (
            Method::POST,
            "/console/api/groups/g/offsets",
            Some(json!({"topic": "known", "to": "offset"})),
            400,
            "reset to",
        ),
        (
            Method::POST,
            "/console/api/groups/g/offsets",
            Some(json!({"topic": "missing", "to": "latest"})),
            404,
            "unknown topic missing",
        ),
        (
            Method::GET,
            "/console/api/nothing",
            None,
            404,
            "no such console API",
        ),
    ];
    for (method, path, body, status, message) in cases {
        let (got, answer) = server.call(method.clone(), path, body).await;
        let error = answer["error"].as_str().unwrap_or_default();
        assert_eq!(got, status, "{method} {path}: {answer}");
        assert!(
            error.contains(message),
            "{method} {path}: {error:?} lacks {message:?}"
        );
    }
    // Reads of what exists work alongside.
    let (status, page) = server
        .call(
            Method::GET,
            "/console/api/topics/known/records?partition=0&limit=5",
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
}

#[tokio::test]
async fn the_console_in_a_browser_shows_the_cluster_and_its_admin_actions_take_effect() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--console-admin"]).await;
    server.produce("metered", 10, r#"{"n": 1}"#);
    let driver = webdriver::Driver::start(serve::free_port()).await;
    let browser = driver.session(&dir.path().join("chromium-profile")).await;
    let console = format!("{}/console/", server.admin);

    // Overview: real counts, and the throughput chart moves while records are produced.
    browser.goto(&format!("{console}#/overview")).await;
    browser
        .wait_for(
            "the topic count",
            "return document.querySelector('#topics-count .value')?.textContent === '1';",
        )
        .await;
    let producing = Arc::new(AtomicBool::new(true));
    let background = {
        let producing = Arc::clone(&producing);
        let producer: BaseProducer = server.client().create().unwrap();
        std::thread::spawn(move || {
            while producing.load(Ordering::Relaxed) {
                producer
                    .send(BaseRecord::<str, str>::to("metered").payload("tick"))
                    .unwrap();
                producer.flush(WAIT).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let rate = browser
        .wait_for(
            "a records-in rate above zero",
            "const s = document.querySelector('#throughput-chart .legend [data-series=\"records in\"]'); \
             return s && Number(s.dataset.value) > 0 ? Number(s.dataset.value) : null;",
        )
        .await;
    assert!(rate.as_f64().unwrap() > 0.0);
    browser
        .wait_for(
            "a request-rate line for Produce",
            "return !!document.querySelector('#request-chart polyline[data-series=\"Produce\"]');",
        )
        .await;
    producing.store(false, Ordering::Relaxed);
    background.join().unwrap();

    // Create a topic from the topics page; the broker has it with three partitions.
    browser.goto(&format!("{console}#/topics")).await;
    browser
        .wait_for(
            "the topic list",
            "return document.querySelector('#topics a')?.textContent === 'metered';",
        )
        .await;
    browser
        .type_into("#create-topic input[name=name]", "made-in-console")
        .await;
    browser
        .type_into("#create-topic input[name=partitions]", "3")
        .await;
    browser.click("#create-topic button").await;
    browser
        .wait_for("the creation notice", "return document.getElementById('notice').textContent.includes('created topic made-in-console');")
        .await;
    let consumer: BaseConsumer = server.client().set("group.id", "checker").create().unwrap();
    let metadata = consumer
        .fetch_metadata(Some("made-in-console"), WAIT)
        .unwrap();
    assert_eq!(metadata.topics()[0].partitions().len(), 3);

    // Produce a JSON record to partition 1 from the topic page; a Kafka client reads it back,
    // and the message browser shows it pretty-printed.
    browser
        .goto(&format!("{console}#/topics/made-in-console"))
        .await;
    browser
        .wait_for(
            "the partitions table",
            "return document.querySelectorAll('#partitions tbody tr').length === 3;",
        )
        .await;
    browser
        .select("#produce select[name=produce-partition]", "1")
        .await;
    browser
        .type_into("#produce input[name=key]", "order-7")
        .await;
    browser
        .type_into("#produce textarea[name=value]", r#"{"id":7,"total":12.5}"#)
        .await;
    browser.click("#produce button").await;
    browser
        .wait_for("the produce notice", "return document.getElementById('notice').textContent.includes('produced to partition 1 at offset 0');")
        .await;
    let reader: BaseConsumer = server
        .client()
        .set("group.id", "checker")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset("made-in-console", 1, Offset::Beginning)
        .unwrap();
    reader.assign(&assignment).unwrap();
    let message = reader.poll(WAIT).expect("a record").unwrap();
    assert_eq!(message.key(), Some(&b"order-7"[..]));
    assert_eq!(message.payload(), Some(&br#"{"id":7,"total":12.5}"#[..]));

    browser.select("#browse select[name=partition]", "1").await;
    browser
        .type_into("#browse input[name=contains]", "total")
        .await;
    browser.click("#browse button").await;
    let shown = browser
        .wait_for(
            "the browsed record",
            "return document.querySelector('#record-table pre.json')?.textContent;",
        )
        .await;
    assert_eq!(shown, json!("{\n  \"id\": 7,\n  \"total\": 12.5\n}"));

    // A group that read `metered` and left: its page shows its offsets and lag, and a reset
    // to the earliest offsets is what the group's committed offsets then are.
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset("metered", 0, Offset::Offset(2))
        .unwrap();
    offsets
        .add_partition_offset("metered", 1, Offset::Offset(1))
        .unwrap();
    let committer: BaseConsumer = server.client().set("group.id", "readers").create().unwrap();
    committer.commit(&offsets, CommitMode::Sync).unwrap();
    drop(committer);
    browser.goto(&format!("{console}#/groups")).await;
    browser
        .wait_for("the group list", "return [...document.querySelectorAll('#groups a')].some(a => a.textContent === 'readers');")
        .await;
    browser.goto(&format!("{console}#/groups/readers")).await;
    browser
        .wait_for(
            "the offsets table",
            "return document.querySelectorAll('#offsets tbody tr').length === 2;",
        )
        .await;
    browser
        .wait_for(
            "the lag chart",
            "return document.querySelectorAll('#lag-chart polyline').length === 2;",
        )
        .await;
    browser
        .select("#reset-offsets select[name=reset-to]", "earliest")
        .await;
    browser.click("#reset-offsets button").await;
    browser
        .wait_for(
            "the reset notice",
            "return document.getElementById('notice').textContent.includes('partition 0 at 0');",
        )
        .await;
    assert_eq!(
        server.committed("readers", "metered"),
        vec![Offset::Offset(0), Offset::Offset(0)]
    );
    browser.quit().await;
}
