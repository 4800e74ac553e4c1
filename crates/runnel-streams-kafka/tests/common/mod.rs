//! A Runnel broker in the test process and blocking Kafka clients to feed and read a job.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use runnel_broker::{Broker, BrokerConfig};

/// A broker on an ephemeral port, served by a runtime of its own (two worker threads named
/// `broker`, which the benchmarks account for) so that the blocking clients of the test do
/// not starve it.
pub struct TestBroker {
    runtime: Option<tokio::runtime::Runtime>,
    broker: Option<Broker>,
    pub bootstrap: String,
}

impl TestBroker {
    pub fn start(dir: &Path) -> TestBroker {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("broker")
            .enable_all()
            .build()
            .unwrap();
        let mut config = BrokerConfig::new(dir, "127.0.0.1:0");
        config.group_initial_rebalance_delay_ms = 0;
        let broker = runtime.block_on(Broker::start(config)).unwrap();
        let bootstrap = broker.local_addr().to_string();
        TestBroker {
            runtime: Some(runtime),
            broker: Some(broker),
            bootstrap,
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let (Some(runtime), Some(broker)) = (self.runtime.take(), self.broker.take()) {
            let _ = runtime.block_on(broker.shutdown());
        }
    }
}

pub fn client(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config
}

pub fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    create_topic_with(bootstrap, name, partitions, &[]);
}

/// Creates a topic with settings, such as `("cleanup.policy", "compact")`.
pub fn create_topic_with(bootstrap: &str, name: &str, partitions: i32, settings: &[(&str, &str)]) {
    let admin: AdminClient<DefaultClientContext> = client(bootstrap).create().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (key, value) in settings {
        topic = topic.set(key, value);
    }
    let results = runtime
        .block_on(admin.create_topics([&topic], &AdminOptions::new()))
        .unwrap();
    for result in results {
        result.unwrap();
    }
}

/// Produces keyed records `(key, value, timestamp)`, each to the partition its key hashes
/// to, and waits for them.
pub fn produce(bootstrap: &str, topic: &str, records: &[(String, String, i64)]) {
    let records: Vec<(String, Option<String>, i64)> = records
        .iter()
        .map(|(key, value, timestamp)| (key.clone(), Some(value.clone()), *timestamp))
        .collect();
    produce_optional(bootstrap, topic, &records);
}

/// `produce` for records that may have no value (tombstones).
pub fn produce_optional(bootstrap: &str, topic: &str, records: &[(String, Option<String>, i64)]) {
    send_all(bootstrap, topic, None, records);
}

/// `produce` to one partition, whatever the keys.
pub fn produce_to(bootstrap: &str, topic: &str, partition: i32, records: &[(String, String, i64)]) {
    let records: Vec<(String, Option<String>, i64)> = records
        .iter()
        .map(|(key, value, timestamp)| (key.clone(), Some(value.clone()), *timestamp))
        .collect();
    send_all(bootstrap, topic, Some(partition), &records);
}

fn send_all(
    bootstrap: &str,
    topic: &str,
    partition: Option<i32>,
    records: &[(String, Option<String>, i64)],
) {
    let producer: ThreadedProducer<DefaultProducerContext> = client(bootstrap)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "1")
        .create()
        .unwrap();
    for (key, value, timestamp) in records {
        let mut record = BaseRecord::<String, String>::to(topic)
            .key(key)
            .timestamp(*timestamp);
        if let Some(value) = value {
            record = record.payload(value);
        }
        if let Some(partition) = partition {
            record = record.partition(partition);
        }
        producer.send(record).map_err(|(error, _)| error).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// One record read back: key, value (as text, any bytes that are not UTF-8 replaced),
/// partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub key: String,
    pub value: String,
    pub partition: i32,
}

/// Reads every committed record of `topic` from the start until `done` holds of what was
/// read, or fails after `timeout` showing what was read.
pub fn read_until(
    bootstrap: &str,
    topic: &str,
    timeout: Duration,
    mut done: impl FnMut(&[Read]) -> bool,
) -> Vec<Read> {
    let consumer: BaseConsumer = client(bootstrap)
        .set("group.id", "test-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    let deadline = Instant::now() + timeout;
    // The job creates its output topic when it first writes to it.
    let mut partitions = 0;
    while partitions == 0 {
        assert!(Instant::now() < deadline, "{topic} was never created");
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .unwrap();
        partitions = metadata.topics()[0].partitions().len();
        if partitions == 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, i32::try_from(p).unwrap(), Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut read = Vec::new();
    while !done(&read) {
        assert!(
            Instant::now() < deadline,
            "gave up reading {topic}; read {} records, the latest per key {:?}",
            read.len(),
            latest(&read)
        );
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.unwrap();
            let text =
                |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
            read.push(Read {
                key: text(message.key()),
                value: text(message.payload()),
                partition: message.partition(),
            });
        }
    }
    read
}

/// The latest value per key.
pub fn latest(read: &[Read]) -> BTreeMap<String, String> {
    read.iter()
        .map(|r| (r.key.clone(), r.value.clone()))
        .collect()
}

/// Waits until `condition` holds, polling it, or fails naming `what`.
pub fn eventually(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An example binary, which `cargo test` builds next to the test binaries.
pub fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let path = deps
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples",
        path.display()
    );
    path
}

/// An example running as a process; killed (SIGKILL) when dropped, so a failing test leaves
/// none behind.
pub struct Job(pub Child);

impl Job {
    /// Starts example `name` with `args`, logging warnings and errors to the test's stderr.
    pub fn start<S: AsRef<std::ffi::OsStr>>(name: &str, args: impl IntoIterator<Item = S>) -> Job {
        let child = Command::new(example(name))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Job(child)
    }

    /// Kills the process (SIGKILL: no commit, no goodbye to the group) and waits for it.
    pub fn kill(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The start of the current hour: event times near the wall clock, so that no retention
/// deletes the records, and aligned to windows of up to an hour, so expected windows read
/// simply.
pub fn hour_start() -> i64 {
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    now - now % (60 * 60 * 1_000)
}
