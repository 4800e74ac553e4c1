//! What the bank example's tests share: a broker in the test process, topics, raw reads.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use runnel_broker::{Broker, BrokerConfig};

pub const WAIT: Duration = Duration::from_secs(60);

pub struct TestBroker {
    pub dir: tempfile::TempDir,
    pub broker: Broker,
}

impl TestBroker {
    /// A broker whose log cleaner looks for work every 100 ms.
    pub async fn start() -> TestBroker {
        let dir = tempfile::tempdir().unwrap();
        let mut config = BrokerConfig::new(dir.path().join("data"), "127.0.0.1:0");
        config.cleaner_backoff_ms = 100;
        let broker = Broker::start(config).await.unwrap();
        TestBroker { dir, broker }
    }

    pub fn bootstrap(&self) -> String {
        self.broker.local_addr().to_string()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub async fn create_topic(&self, name: &str, partitions: i32, settings: &[(&str, &str)]) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .unwrap();
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        for (key, value) in settings {
            topic = topic.set(key, value);
        }
        let created = admin
            .create_topics(&[topic], &AdminOptions::new())
            .await
            .unwrap();
        assert!(created.iter().all(Result::is_ok), "{created:?}");
    }

    /// Every record of `topic` as a consumer reads it (read_uncommitted): (key, value).
    pub fn read_raw(&self, topic: &str) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("group.id", "raw-reader")
            .set("enable.partition.eof", "true")
            .create()
            .unwrap();
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .unwrap();
        let partitions = metadata.topics()[0].partitions().len();
        let mut assignment = TopicPartitionList::new();
        for p in 0..partitions {
            assignment
                .add_partition_offset(topic, p as i32, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&assignment).unwrap();
        let mut records = Vec::new();
        let mut at_end = 0;
        while at_end < partitions {
            match consumer.poll(WAIT) {
                Some(Ok(m)) => records.push((
                    m.key().unwrap_or_default().to_vec(),
                    m.payload().map(<[u8]>::to_vec),
                )),
                Some(Err(KafkaError::PartitionEOF(_))) => at_end += 1,
                other => panic!("reading {topic}: {other:?}"),
            }
        }
        records
    }
}

/// Whether `needle` occurs in any file under `dir`.
pub fn found_in_files(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(found_in_files(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(path);
            }
        }
    }
    found
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
