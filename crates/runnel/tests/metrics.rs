//! `runnel serve` with its admin server: after a known workload through librdkafka, the
//! Prometheus exposition scraped over HTTP says what happened; logs are JSON without
//! colour codes when asked; per-partition series can be turned off.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/serve.rs"]
mod serve;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

const TOPIC: &str = "metered";
const GROUP: &str = "metered-readers";
const RECORDS: usize = 100;
const VALUE_BYTES: usize = 200;
const WAIT: Duration = Duration::from_secs(30);

/// A `runnel serve` process, stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    bootstrap: String,
    admin: String,
    /// Lines the server wrote to stderr, as they come.
    log: mpsc::Receiver<String>,
}

impl Server {
    /// Starts the broker with JSON logs and waits for its admin server's log line.
    fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Server::start_with(data_dir, "", extra)
    }

    /// Starts the broker with broker settings (TOML lines) besides two partitions a topic.
    fn start_with(data_dir: &Path, settings: &str, extra: &[&str]) -> Server {
        let serve::Serve {
            mut command,
            bootstrap,
            admin,
        } = serve::serve(data_dir, settings);
        let mut child = command
            .args(["--log-format", "json"])
            .args(extra)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("runnel starts");
        let (lines, log) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                if lines.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        let server = Server {
            child,
            bootstrap,
            admin,
            log,
        };
        server.await_log("admin server listening");
        server
    }

    /// Waits for a log line containing `text`, checking every line on the way: one JSON
    /// object, no escape codes.
    fn await_log(&self, text: &str) -> String {
        loop {
            let line = self
                .log
                .recv_timeout(WAIT)
                .unwrap_or_else(|_| panic!("no log line with {text:?}"));
            assert!(!line.contains('\u{1b}'), "escape code in {line:?}");
            assert!(
                line.starts_with('{') && line.ends_with('}') && line.contains("\"level\":"),
                "not a JSON log line: {line:?}"
            );
            if line.contains(text) {
                return line;
            }
        }
    }

    fn get(&self, path: &str) -> (String, String) {
        let mut socket = TcpStream::connect(&self.admin).unwrap();
        write!(
            socket,
            "GET {path} HTTP/1.1\r\nHost: runnel\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        socket.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        (head.to_owned(), body.to_owned())
    }

    fn scrape(&self) -> Exposition {
        let (head, body) = self.get("/metrics");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{head}"
        );
        Exposition::parse(&body)
    }

    /// Stops the server with SIGTERM and waits for a clean exit.
    fn stop(mut self) {
        self.terminate();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
        self.await_log("broker stopped");
    }

    fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.terminate();
            let _ = self.child.wait();
        }
    }
}

/// Samples of a Prometheus text exposition: (name, labels, value).
struct Exposition(Vec<(String, BTreeMap<String, String>, f64)>);

impl Exposition {
    fn parse(text: &str) -> Exposition {
        let mut samples = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.strip_suffix('}').unwrap()),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|l| !l.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap();
                    (key.to_owned(), value.trim_matches('"').to_owned())
                })
                .collect();
            samples.push((name.to_owned(), labels, value.parse().unwrap()));
        }
        Exposition(samples)
    }

    /// The sum of the samples named `name` whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|(_, value)| value).sum()
    }

    fn count(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        self.matching(name, labels).count()
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = (&'a BTreeMap<String, String>, f64)> + 'a {
        self.0
            .iter()
            .filter(move |(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, l, v)| (l, *v))
    }
}

fn produce(bootstrap: &str, count: usize) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let value = vec![b'v'; VALUE_BYTES];
    for i in 0..count {
        let key = format!("key-{i}");
        producer
            .send(BaseRecord::to(TOPIC).key(&key).payload(&value))
            .unwrap();
    }
    producer.flush(WAIT).unwrap();
}

/// Reads every record of both partitions from the start, then commits where it stopped.
fn consume_and_commit(bootstrap: &str, expected: usize) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", GROUP)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..2 {
        assignment
            .add_partition_offset(TOPIC, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut read = 0;
    while read < expected {
        match consumer.poll(WAIT) {
            Some(Ok(message)) => {
                assert_eq!(message.payload().map(<[u8]>::len), Some(VALUE_BYTES));
                read += 1;
            }
            Some(Err(error)) => panic!("consume failed: {error}"),
            None => panic!("only {read} of {expected} records within {WAIT:?}"),
        }
    }
    consumer.commit_consumer_state(CommitMode::Sync).unwrap();
}

#[test]
fn a_known_workload_shows_in_the_scraped_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (head, body) = server.get("/health");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, "ok\n");

    produce(&server.bootstrap, RECORDS);
    consume_and_commit(&server.bootstrap, RECORDS);
    let metrics = server.scrape();
    let topic = [("topic", TOPIC)];

    // Records and bytes in: every byte received is stored as sent (no recompression).
    assert_eq!(
        metrics.sum("runnel_topic_produced_records_total", &topic),
        RECORDS as f64
    );
    let produced = metrics.sum("runnel_topic_produced_bytes_total", &topic);
    assert!(produced >= (RECORDS * VALUE_BYTES) as f64, "{produced}");
    assert_eq!(metrics.sum("runnel_topic_log_size_bytes", &topic), produced);
    assert_eq!(
        metrics.sum("runnel_partition_log_size_bytes", &topic),
        produced
    );
    // Out: the consumer read each batch once, from its first record.
    assert_eq!(
        metrics.sum("runnel_topic_fetched_records_total", &topic),
        RECORDS as f64
    );
    assert_eq!(
        metrics.sum("runnel_topic_fetched_bytes_total", &topic),
        produced
    );

    // Logs and group offsets, per partition.
    assert_eq!(metrics.count("runnel_partition_log_end_offset", &topic), 2);
    assert_eq!(
        metrics.sum("runnel_partition_log_end_offset", &topic),
        RECORDS as f64
    );
    assert_eq!(
        metrics.sum("runnel_partition_log_start_offset", &topic),
        0.0
    );
    let group = [("group", GROUP), ("topic", TOPIC)];
    assert_eq!(metrics.count("runnel_group_committed_offset", &group), 2);
    assert_eq!(
        metrics.sum("runnel_group_committed_offset", &group),
        RECORDS as f64
    );
    assert_eq!(
        metrics.sum("runnel_group_partition_lag_records", &group),
        0.0
    );

    // Requests by API and version, and as many durations observed as requests counted.
    for api in [
        "Produce",
        "Fetch",
        "OffsetCommit",
        "Metadata",
        "ApiVersions",
    ] {
        let requests = metrics.sum("runnel_requests_total", &[("api", api)]);
        assert!(requests >= 1.0, "no {api} request counted");
        assert_eq!(
            metrics.sum("runnel_request_duration_seconds_count", &[("api", api)]),
            requests,
            "{api}"
        );
        assert_eq!(
            metrics.sum(
                "runnel_request_duration_seconds_bucket",
                &[("api", api), ("le", "+Inf")]
            ),
            requests,
            "{api}"
        );
    }
    let produce_versions = metrics.count("runnel_requests_total", &[("api", "Produce")]);
    assert_eq!(produce_versions, 1, "one client, one Produce version");
    assert_eq!(
        metrics.sum("runnel_requests_unsupported_version_total", &[]),
        0.0
    );
    assert_eq!(metrics.count("runnel_connections_open", &[]), 1);
    assert_eq!(metrics.sum("runnel_request_handler_panics_total", &[]), 0.0);

    // A transaction counts as open from its first write until its end.
    let transactional: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &server.bootstrap)
        .set("transactional.id", "metered-tx")
        .create()
        .unwrap();
    transactional.init_transactions(WAIT).unwrap();
    transactional.begin_transaction().unwrap();
    transactional
        .send(BaseRecord::to(TOPIC).key("tx").payload("in a transaction"))
        .unwrap();
    transactional.flush(WAIT).unwrap();
    assert_eq!(server.scrape().sum("runnel_transactions_open", &[]), 1.0);
    transactional.commit_transaction(WAIT).unwrap();
    assert_eq!(server.scrape().sum("runnel_transactions_open", &[]), 0.0);

    // Lag grows with records nobody has read: ten, the transaction's record and its marker.
    produce(&server.bootstrap, 10);
    let metrics = server.scrape();
    assert_eq!(
        metrics.sum("runnel_group_lag_records", &[("group", GROUP)]),
        12.0
    );
    assert_eq!(
        metrics.sum("runnel_group_partition_lag_records", &group),
        12.0
    );
    server.stop();

    // Restarted without per-partition series: the totals remain, from the stored state.
    let server = Server::start(dir.path(), &["--metrics-partition-series", "false"]);
    let metrics = server.scrape();
    assert_eq!(
        metrics.sum("runnel_group_lag_records", &[("group", GROUP)]),
        12.0
    );
    assert!(metrics.sum("runnel_topic_log_size_bytes", &topic) > produced);
    for name in [
        "runnel_partition_log_end_offset",
        "runnel_partition_log_start_offset",
        "runnel_partition_log_size_bytes",
        "runnel_group_committed_offset",
        "runnel_group_partition_lag_records",
    ] {
        assert_eq!(metrics.count(name, &[]), 0, "{name} is per partition");
    }
    server.stop();
}

/// Produces `count` records of `VALUE_BYTES` to `topic` under one key, each acknowledged
/// before the next is sent: one Produce request, one batch and one append each.
fn produce_one_by_one(bootstrap: &str, topic: &str, count: usize) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "0")
        .create()
        .unwrap();
    let value = vec![b'v'; VALUE_BYTES];
    for _ in 0..count {
        producer
            .send(BaseRecord::to(topic).key("same").payload(&value))
            .unwrap();
        producer.flush(WAIT).unwrap();
    }
}

fn create_topic(bootstrap: &str, name: &str, configs: &[&str]) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runnel"));
    command.args(["topic", "create", name, "-p", "1", "-b", bootstrap]);
    for config in configs {
        command.args(["--config", config]);
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn fsyncs_compaction_retention_and_transactions_show_in_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        dir.path(),
        "log.flush.interval.messages = 1\n\
         log.cleaner.backoff.ms = 50\n\
         log.retention.check.interval.ms = 50\n",
        &[],
    );

    // Every append is made durable before it is acknowledged: one timed fdatasync each.
    create_topic(&server.bootstrap, "synced", &[]);
    produce_one_by_one(&server.bootstrap, "synced", 5);
    let metrics = server.scrape();
    let fsyncs = "runnel_log_fsync_duration_seconds";
    assert_eq!(metrics.sum(&format!("{fsyncs}_count"), &[]), 5.0);
    assert_eq!(
        metrics.sum(&format!("{fsyncs}_bucket"), &[("le", "+Inf")]),
        5.0
    );
    assert!(metrics.sum(&format!("{fsyncs}_sum"), &[]) > 0.0);
    assert_eq!(
        metrics.sum("runnel_log_cleaner_compactions_total", &[]),
        0.0
    );
    assert_eq!(
        metrics.sum("runnel_log_retention_deleted_segments_total", &[]),
        0.0
    );

    // Twenty values of one key in segments of about two batches: compaction keeps the last
    // of the closed segments, and what it reclaimed is what the topic's log lost.
    let small_segments = "segment.bytes=600";
    create_topic(
        &server.bootstrap,
        "compacted",
        &[
            "cleanup.policy=compact",
            small_segments,
            "min.cleanable.dirty.ratio=0.01",
        ],
    );
    produce_one_by_one(&server.bootstrap, "compacted", 20);
    let compacted = [("topic", "compacted")];
    let metrics = await_metrics(&server, |m| {
        let shrunk = m.sum("runnel_topic_produced_bytes_total", &compacted)
            - m.sum("runnel_topic_log_size_bytes", &compacted);
        m.sum("runnel_log_cleaner_compactions_total", &[]) >= 1.0
            && m.sum("runnel_log_cleaner_reclaimed_bytes_total", &[]) == shrunk
    });
    assert!(metrics.sum("runnel_log_cleaner_reclaimed_bytes_total", &[]) > 0.0);
    let removed = metrics.sum("runnel_log_cleaner_removed_records_total", &[]);
    assert!((1.0..20.0).contains(&removed), "{removed}");
    assert!(metrics.sum("runnel_log_cleaner_passes_total", &[]) >= 1.0);

    // Retention keeps about two batches: the segments it deleted are what the log lost.
    create_topic(
        &server.bootstrap,
        "expiring",
        &[
            "cleanup.policy=delete",
            small_segments,
            "retention.bytes=600",
        ],
    );
    produce_one_by_one(&server.bootstrap, "expiring", 20);
    let expiring = [("topic", "expiring")];
    let metrics = await_metrics(&server, |m| {
        let shrunk = m.sum("runnel_topic_produced_bytes_total", &expiring)
            - m.sum("runnel_topic_log_size_bytes", &expiring);
        shrunk > 0.0 && m.sum("runnel_log_retention_deleted_bytes_total", &[]) == shrunk
    });
    assert!(metrics.sum("runnel_log_retention_deleted_segments_total", &[]) >= 1.0);
    assert!(metrics.sum("runnel_partition_log_start_offset", &expiring) > 0.0);

    // A transactional id through its states: initialized, open, committed.
    let ids = |state: &str| {
        server
            .scrape()
            .sum("runnel_transactional_ids", &[("state", state)])
    };
    assert_eq!(server.scrape().count("runnel_transactional_ids", &[]), 6);
    let transactional: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &server.bootstrap)
        .set("transactional.id", "metered-states")
        .create()
        .unwrap();
    transactional.init_transactions(WAIT).unwrap();
    assert_eq!(ids("Empty"), 1.0);
    transactional.begin_transaction().unwrap();
    transactional
        .send(
            BaseRecord::to("synced")
                .key("tx")
                .payload("in a transaction"),
        )
        .unwrap();
    transactional.flush(WAIT).unwrap();
    assert_eq!((ids("Empty"), ids("Ongoing")), (0.0, 1.0));
    transactional.commit_transaction(WAIT).unwrap();
    assert_eq!((ids("Ongoing"), ids("CompleteCommit")), (0.0, 1.0));
    server.stop();
}

/// Scrapes until `done` holds of the exposition, or fails after `WAIT`.
fn await_metrics(server: &Server, done: impl Fn(&Exposition) -> bool) -> Exposition {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let metrics = server.scrape();
        if done(&metrics) {
            return metrics;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the metrics never got there"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn lag_statuses_show_in_the_metrics_and_in_runnel_group_lag() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &["--lag-interval-ms", "50", "--lag-window-ms", "1500"],
    );
    produce(&server.bootstrap, RECORDS);
    consume_and_commit(&server.bootstrap, RECORDS);
    let status = |metrics: &Exposition, status: &str| {
        metrics.sum(
            "runnel_group_lag_status",
            &[("group", GROUP), ("status", status)],
        )
    };
    // Caught up: OK, one series per status.
    let metrics = await_metrics(&server, |m| status(m, "OK") == 1.0);
    assert_eq!(
        metrics.count("runnel_group_lag_status", &[("group", GROUP)]),
        5
    );
    assert_eq!(
        metrics.sum("runnel_group_partition_lag_status", &[("group", GROUP)]),
        0.0
    );

    // Ten records nobody reads, and no commit for longer than the window: STOP.
    produce(&server.bootstrap, 10);
    let metrics = await_metrics(&server, |m| status(m, "STOP") == 1.0);
    assert_eq!(status(&metrics, "OK"), 0.0);
    let lagging = metrics.count("runnel_group_partition_lag_status", &[("group", GROUP)]);
    assert_eq!(lagging, 2);

    let admin_url = format!("http://{}", server.admin);
    let output = Command::new(env!("CARGO_BIN_EXE_runnel"))
        .args(["group", "lag", GROUP, "--admin-url", &admin_url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let table = String::from_utf8(output.stdout).unwrap();
    let rows: Vec<Vec<&str>> = table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{table}");
    let mut lag = 0;
    for row in &rows {
        // GROUP STATUS TOPIC PARTITION PARTITION-STATUS COMMITTED LOG-END LAG
        assert_eq!(&row[..3], [GROUP, "STOP", TOPIC], "{table}");
        lag += row[7].parse::<i64>().unwrap();
    }
    assert_eq!(lag, 10, "{table}");

    let unknown = Command::new(env!("CARGO_BIN_EXE_runnel"))
        .args(["group", "lag", "nobody", "--admin-url", &admin_url])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert_eq!(
        String::from_utf8_lossy(&unknown.stderr).trim(),
        "runnel: unknown group nobody"
    );
    server.stop();
}

#[test]
fn an_empty_admin_address_turns_the_admin_server_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_runnel"))
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-listen", ""])
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    while !log.contains("listening") {
        assert!(stderr.read_line(&mut log).unwrap() > 0, "{log}");
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    stderr.read_to_string(&mut log).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(log.contains("broker stopped"), "{log}");
    assert!(!log.contains("admin server"), "{log}");
    // Written to a pipe: plain text, no colour codes.
    assert!(!log.contains('\u{1b}'), "{log}");
    assert!(!log.starts_with('{'), "{log}");
}
