//! Helpers shared by the integration tests: an in-process broker on an ephemeral port and
//! rdkafka clients pointed at it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::FutureProducer;
use rdkafka::{Offset, TopicPartitionList};
use runnel_broker::{Broker, BrokerConfig};

/// Starts a broker on 127.0.0.1:0 over `dir`, letting the test adjust the settings.
pub async fn start(dir: &Path, tweak: impl FnOnce(&mut BrokerConfig)) -> Broker {
    init_tracing();
    let mut config = BrokerConfig::new(dir, "127.0.0.1:0");
    config.group_initial_rebalance_delay_ms = 0;
    tweak(&mut config);
    Broker::start(config).await.expect("broker starts")
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

pub fn bootstrap(broker: &Broker) -> String {
    broker.local_addr().to_string()
}

pub fn client_config(broker: &Broker) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap(broker))
        .set("broker.address.family", "v4")
        .set("log_level", "4");
    config
}

pub fn producer(broker: &Broker, extra: &[(&str, &str)]) -> FutureProducer {
    let mut config = client_config(broker);
    config
        .set("message.timeout.ms", "20000")
        .set("linger.ms", "0");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    config.create().expect("producer")
}

/// A consumer without a group, reading the given partitions from `offset`.
pub fn assigned_consumer(
    broker: &Broker,
    topic: &str,
    partitions: &[i32],
    offset: Offset,
    extra: &[(&str, &str)],
) -> StreamConsumer {
    let mut config = client_config(broker);
    config
        // librdkafka wants a group id even for manual assignment; nothing is committed.
        .set("group.id", "runnel-tests-assign")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    let consumer: StreamConsumer = config.create().expect("consumer");
    let mut list = TopicPartitionList::new();
    for &p in partitions {
        list.add_partition_offset(topic, p, offset).unwrap();
    }
    consumer.assign(&list).unwrap();
    consumer
}

/// Receives until `count` messages arrived or `timeout` passed.
pub async fn consume(
    consumer: &StreamConsumer,
    count: usize,
    timeout: Duration,
) -> Vec<OwnedMessage> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < count {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(message) => out.push(message.expect("consume without error").detach()),
            Err(_) => break,
        }
    }
    out
}

/// Waits (without sleeping blindly) until `condition` holds, panicking after `timeout`.
pub async fn eventually(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
