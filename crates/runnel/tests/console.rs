//! The web console served by `runnel serve` on its admin port: its JSON API over plain HTTP
//! (read-only refusal, input validation), and its pages in headless Chromium driven over
//! WebDriver: they show the broker's real data, the throughput chart moves as records are
//! produced, and the admin actions take effect on the broker, as a Kafka client sees it; a
//! running stream job appears on the stream jobs page with its internal topics.
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

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::share_fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{
    ApiKey, GroupId, MetadataRequest, MetadataResponse, ShareFetchRequest, ShareFetchResponse,
    ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse, TopicName,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use runnel_cli::settings::WireSecurity;
use runnel_cli::wire::BrokerConnection;
use serde_json::{json, Value};
use uuid::Uuid;

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
        (
            reqwest::Method::POST,
            "/console/api/connectors/any/pause",
            Value::Null,
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
    let (status, transactions) = server
        .call(reqwest::Method::GET, "/console/api/transactions", None)
        .await;
    assert_eq!((status, transactions), (200, json!([])));
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
            "/console/api/share-groups/nobody",
            None,
            404,
            "unknown share group nobody",
        ),
        (
            Method::GET,
            "/console/api/transactions/nobody",
            None,
            404,
            "transactional id 'nobody' not found",
        ),
        (
            Method::GET,
            "/console/api/connectors",
            None,
            404,
            "no Connect worker",
        ),
        (
            Method::POST,
            "/console/api/connectors/hook/pause",
            None,
            404,
            "no Connect worker",
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

/// A share-group member speaking the Kafka protocol itself (librdkafka's Rust binding has
/// no share consumer): it joins `group`, opens its share session and acquires records.
struct ShareMember {
    connection: BrokerConnection,
    group: String,
    topic_id: Uuid,
    epoch: i32,
}

impl ShareMember {
    const ID: &'static str = "console-share-member";

    /// Joins `group` subscribed to `topic` and opens the share session: records produced
    /// from now on are delivered to it.
    fn join(bootstrap: &str, group: &str, topic: &str) -> ShareMember {
        let mut connection =
            BrokerConnection::open(bootstrap, WAIT, &WireSecurity::PLAINTEXT).unwrap();
        // Topic ids are in Metadata from version 10.
        let version = connection
            .version(ApiKey::Metadata, VersionRange { min: 10, max: 12 })
            .unwrap();
        let metadata: MetadataResponse = connection
            .call(
                ApiKey::Metadata,
                version,
                &MetadataRequest::default().with_topics(Some(vec![MetadataRequestTopic::default(
                )
                .with_name(Some(TopicName(StrBytes::from_string(topic.to_owned()))))])),
            )
            .unwrap();
        let topic_id = metadata.topics[0].topic_id;
        let heartbeat: ShareGroupHeartbeatResponse = connection
            .call(
                ApiKey::ShareGroupHeartbeat,
                1,
                &ShareGroupHeartbeatRequest::default()
                    .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
                    .with_member_id(StrBytes::from_static_str(Self::ID))
                    .with_member_epoch(0)
                    .with_subscribed_topic_names(Some(vec![TopicName(StrBytes::from_string(
                        topic.to_owned(),
                    ))])),
            )
            .unwrap();
        assert_eq!(heartbeat.error_code, 0, "{heartbeat:?}");
        let mut member = ShareMember {
            connection,
            group: group.to_owned(),
            topic_id,
            epoch: 0,
        };
        member.fetch(0);
        member
    }

    /// A ShareFetch of partition 0 waiting up to `wait_ms`; the records it acquires stay
    /// in flight, as nothing acknowledges them. Returns how many it acquired.
    fn fetch(&mut self, wait_ms: i32) -> i64 {
        let request = ShareFetchRequest::default()
            .with_group_id(Some(GroupId(StrBytes::from_string(self.group.clone()))))
            .with_member_id(Some(StrBytes::from_static_str(Self::ID)))
            .with_share_session_epoch(self.epoch)
            .with_max_wait_ms(wait_ms)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_max_records(100)
            .with_batch_size(100)
            .with_topics(vec![FetchTopic::default()
                .with_topic_id(self.topic_id)
                .with_partitions(vec![FetchPartition::default()])]);
        let response: ShareFetchResponse = self
            .connection
            .call(ApiKey::ShareFetch, 1, &request)
            .unwrap();
        assert_eq!(response.error_code, 0, "{response:?}");
        self.epoch += 1;
        response
            .responses
            .iter()
            .flat_map(|t| &t.partitions)
            .flat_map(|p| &p.acquired_records)
            .map(|r| r.last_offset - r.first_offset + 1)
            .sum()
    }
}

#[tokio::test]
async fn the_share_group_transaction_and_connector_pages_show_what_the_broker_holds() {
    let dir = tempfile::tempdir().unwrap();
    // A connector run by the broker's process, reading records whose keys are not the JSON
    // its converter expects: its task fails, with the reason.
    let connectors = dir.path().join("connectors");
    std::fs::create_dir_all(&connectors).unwrap();
    let closed = format!("http://127.0.0.1:{}/hook", serve::free_port());
    std::fs::write(
        connectors.join("hook.toml"),
        format!(
            "name = \"hook\"\n\"connector.class\" = \"http\"\ntopics = \"orders\"\n\
             http.url = \"{closed}\"\n[errors.retry]\n\"delay.max.ms\" = 100\n"
        ),
    )
    .unwrap();
    let connect = format!("127.0.0.1:{}", serve::free_port());
    let server = Server::start(
        dir.path(),
        &[
            "--console-admin",
            "--connectors",
            connectors.to_str().unwrap(),
            "--connect-listen",
            &connect,
        ],
    )
    .await;
    server.produce("orders", 1, r#"{"n": 1}"#);
    server.produce("jobs", 1, "before the group");
    let producer: BaseProducer = server.client().create().unwrap();

    // A share group with one member holding three records in flight (acquired, never
    // acknowledged).
    let mut member = ShareMember::join(&server.bootstrap, "workers", "jobs");
    for i in 0..3 {
        producer
            .send(
                BaseRecord::to("jobs")
                    .partition(0)
                    .key("k")
                    .payload(&format!("job-{i}")),
            )
            .unwrap();
    }
    producer.flush(WAIT).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut acquired = 0;
    while acquired < 3 {
        assert!(
            Instant::now() < deadline,
            "the member acquired {acquired} records"
        );
        acquired += member.fetch(1_000);
    }

    // A transaction left open over two partitions of `ledger`.
    server.produce("ledger", 1, "created");
    let transactional: BaseProducer = server
        .client()
        .set("transactional.id", "console-tx")
        .create()
        .unwrap();
    transactional.init_transactions(WAIT).unwrap();
    transactional.begin_transaction().unwrap();
    for partition in [0, 1] {
        transactional
            .send(
                BaseRecord::to("ledger")
                    .partition(partition)
                    .key("k")
                    .payload("entry"),
            )
            .unwrap();
    }
    transactional.flush(WAIT).unwrap();

    use reqwest::Method;
    let (status, share) = server
        .call(Method::GET, "/console/api/share-groups/workers", None)
        .await;
    assert_eq!(status, 200, "{share}");
    assert_eq!(share["members"][0]["id"], ShareMember::ID);
    let partition_0 = share["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["topic"] == "jobs" && p["partition"] == 0)
        .unwrap();
    assert_eq!(partition_0["in_flight"], 3, "{share}");
    assert_eq!(partition_0["dead_lettered"], 0, "{share}");
    let (status, listed) = server
        .call(Method::GET, "/console/api/transactions", None)
        .await;
    assert_eq!(status, 200);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["transactional_id"] == "console-tx" && t["state"] == "Ongoing"),
        "{listed}"
    );
    let (status, described) = server
        .call(Method::GET, "/console/api/transactions/console-tx", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        described["partitions"],
        json!([["ledger", 0], ["ledger", 1]])
    );
    // The worker's refusals come through with their status.
    for (path, status, message) in [
        (
            "/console/api/connectors/hook/explode",
            400,
            "unknown connector action",
        ),
        (
            "/console/api/connectors/nobody/pause",
            404,
            "connector nobody not found",
        ),
    ] {
        let (got, answer) = server.call(Method::POST, path, None).await;
        assert_eq!(got, status, "{path}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(message),
            "{path}: {answer}"
        );
    }

    let driver = webdriver::Driver::start(serve::free_port()).await;
    let browser = driver.session(&dir.path().join("chromium-profile")).await;
    let console = format!("{}/console/", server.admin);

    // The group list leads to the share group's page: its member, and per partition the
    // records in flight, also from the broker's metrics.
    browser.goto(&format!("{console}#/groups")).await;
    browser
        .wait_for(
            "the share group in the group list",
            "return [...document.querySelectorAll('#groups a')].some(a => a.textContent === 'workers' \
             && a.getAttribute('href') === '#/share-groups/workers');",
        )
        .await;
    browser
        .goto(&format!("{console}#/share-groups/workers"))
        .await;
    browser
        .wait_for(
            "the member",
            &format!(
                "return document.querySelector('#share-members tbody td')?.textContent === '{}';",
                ShareMember::ID
            ),
        )
        .await;
    let in_flight = browser
        .wait_for(
            "three records in flight on partition 0",
            "const row = [...document.querySelectorAll('#share-partitions tbody tr')] \
               .find(r => r.cells[0].textContent === 'jobs' && r.cells[1].textContent === '0'); \
             return row && row.cells[3].textContent === '3' ? \
               document.getElementById('share-in-flight').textContent : null;",
        )
        .await;
    assert_eq!(in_flight, json!("3"));
    browser
        .wait_for(
            "the in-flight chart",
            "return !!document.querySelector('#in-flight-chart polyline[data-series=\"jobs-0\"]');",
        )
        .await;

    // The transactions page lists the open transaction; its page shows its partitions.
    browser.goto(&format!("{console}#/transactions")).await;
    browser
        .wait_for(
            "the open transaction",
            "return [...document.querySelectorAll('#transactions tbody tr')].some(r => \
               r.cells[0].textContent === 'console-tx' && r.cells[2].textContent === 'Ongoing');",
        )
        .await;
    browser.click("#transactions a").await;
    browser
        .wait_for(
            "the transaction's partitions",
            "return [...document.querySelectorAll('#transaction-partitions tbody tr')] \
               .map(r => r.cells[0].textContent + ':' + r.cells[1].textContent).join(' ') \
               === 'ledger:0 ledger:1';",
        )
        .await;

    // Once committed, the page says so (drawn again: away and back).
    transactional.commit_transaction(WAIT).unwrap();
    browser.goto(&format!("{console}#/transactions")).await;
    browser
        .goto(&format!("{console}#/transactions/console-tx"))
        .await;
    browser
        .wait_for(
            "the committed state",
            "return [...document.querySelectorAll('#transaction-fields tbody tr')].some(r => \
               r.cells[0].textContent === 'State' && r.cells[1].textContent === 'CompleteCommit');",
        )
        .await;

    // The connectors page shows the connector and its failed task, and pauses it.
    browser.goto(&format!("{console}#/connectors")).await;
    browser
        .wait_for(
            "the running connector",
            "return document.querySelector('#connectors tr[data-connector=hook] .status')?.textContent \
             === 'RUNNING';",
        )
        .await;
    let error = browser
        .wait_for(
            "the failed task and its reason",
            "const row = document.querySelector('[data-tasks=hook] tbody tr'); \
             return row && row.cells[1].textContent === 'FAILED' ? row.cells[6].textContent : null;",
        )
        .await;
    assert!(
        error
            .as_str()
            .unwrap()
            .contains("KEY_CONVERTER failed on orders-"),
        "{error}"
    );
    browser
        .click("#connectors tr[data-connector=hook] button[data-action=pause]")
        .await;
    browser
        .wait_for(
            "the pause notice",
            "return document.getElementById('notice').textContent === 'paused connector hook';",
        )
        .await;
    let status: Value = reqwest::get(format!("http://{connect}/connectors/hook/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["connector"]["state"], "PAUSED", "{status}");
    browser
        .wait_for(
            "the paused connector",
            "return document.querySelector('#connectors tr[data-connector=hook] .status')?.textContent \
             === 'PAUSED';",
        )
        .await;
    browser.quit().await;
}

#[tokio::test]
async fn the_stream_jobs_page_shows_a_running_job_with_its_internal_topics() {
    use runnel_streams::{DecimalSerde, StringSerde, TopologyBuilder};
    use runnel_streams_kafka::{StreamsApp, StreamsConfig};

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]).await;
    server.produce("events", 10, "ann");
    // Counts per user, re-keyed through a repartition topic: a job with both kinds of
    // internal topic. A plain consumer group beside it is no stream job.
    let job = StreamsApp::new(
        StreamsConfig::new("views-app", &server.bootstrap).state_dir(dir.path().join("state")),
        |builder: &mut TopologyBuilder| {
            builder
                .stream("events", StringSerde, StringSerde)
                .map(|_, user: String| (user.clone(), user))
                .repartition("by-user", StringSerde, StringSerde)
                .group_by_key()
                .count()
                .stored("views", StringSerde, DecimalSerde)
                .changes()
                .to_topic("views", StringSerde, DecimalSerde);
            Ok(())
        },
    )
    .start()
    .unwrap();
    let deadline = Instant::now() + WAIT;
    while job.metrics().records_committed < 20 {
        assert!(Instant::now() < deadline, "{:?}", job.metrics());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let plain: BaseConsumer = server.client().set("group.id", "plain").create().unwrap();
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset("events", 0, Offset::Offset(1))
        .unwrap();
    plain.commit(&offsets, CommitMode::Sync).unwrap();

    let driver = webdriver::Driver::start(serve::free_port()).await;
    let browser = driver.session(&dir.path().join("chromium-profile")).await;
    browser
        .goto(&format!("{}/console/#/stream-jobs", server.admin))
        .await;
    let shown = browser
        .wait_for(
            "the job and its internal topics",
            "const row = document.querySelector('#stream-jobs tr[data-job=\"views-app\"]'); \
             return row && row.cells[2].textContent === '1' ? \
               [...row.querySelectorAll('a.internal-topic')].map(a => a.textContent).join(' ') : null;",
        )
        .await;
    assert_eq!(
        shown,
        json!("views-app-by-user-repartition views-app-views-changelog")
    );
    let jobs = browser
        .wait_for(
            "the list of jobs",
            "return [...document.querySelectorAll('#stream-jobs tbody tr')].map(r => r.dataset.job).join(' ');",
        )
        .await;
    assert_eq!(jobs, json!("views-app"));
    // The application's name leads to its group page.
    browser
        .click("#stream-jobs tr[data-job=\"views-app\"] a")
        .await;
    browser
        .wait_for(
            "the group page",
            "return location.hash === '#/groups/views-app';",
        )
        .await;
    browser.quit().await;
    tokio::task::spawn_blocking(move || job.stop())
        .await
        .unwrap()
        .unwrap();
}
