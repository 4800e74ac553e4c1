//! The Kafka clients of one instance and their settings: the group consumer that reads the
//! input, the producer of outputs and changelogs, the consumer that restores stores, and
//! topic administration.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;
use runnel_streams::{InternalTopic, TopicPurpose};

use crate::config::{Guarantee, StreamsConfig};
use crate::error::RunnerError;

/// How long a metadata or administration round trip may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the group consumer tells the processing loop from inside `poll`: that the group
/// moved partitions, and (from librdkafka's statistics, every `LAG_INTERVAL`) the lag per
/// partition, which asking the broker from the loop would cost a round trip per partition.
#[derive(Debug, Default)]
pub(crate) struct GroupEvents {
    rebalanced: AtomicBool,
    lag: Mutex<BTreeMap<(String, u32), i64>>,
}

/// How often librdkafka reports statistics, hence the lag.
const LAG_INTERVAL_MS: &str = "1000";

/// How long a consumer waits before fetching again once its local queue holds
/// `queued.min.messages` (100,000) records. librdkafka's default, 1 s, idles a loop that
/// processes records faster than 100,000 a second for most of every second: it capped a job
/// at about 120,000 records/s (BENCHMARKS.md, Nexmark through the broker).
const FETCH_QUEUE_BACKOFF_MS: &str = "10";

impl GroupEvents {
    /// Whether the group moved partitions since the last call.
    pub fn take_rebalanced(&self) -> bool {
        self.rebalanced.swap(false, Ordering::AcqRel)
    }

    pub fn lag(&self) -> BTreeMap<(String, u32), i64> {
        self.lag.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl ClientContext for GroupEvents {
    fn stats(&self, statistics: Statistics) {
        let mut lag = BTreeMap::new();
        for (topic, stats) in &statistics.topics {
            for (partition, p) in &stats.partitions {
                // The records between what the job was handed and the last stable offset (the
                // end a read_committed consumer can see). librdkafka's own `consumer_lag`
                // counts from the committed offset, which under exactly-once it does not see
                // (the producer commits), so it only stands in before the first record.
                let behind = if p.ls_offset >= 0 && p.app_offset >= 0 {
                    Some((p.ls_offset - p.app_offset).max(0))
                } else {
                    (p.consumer_lag >= 0).then_some(p.consumer_lag)
                };
                if let (Ok(partition), Some(behind)) = (u32::try_from(*partition), behind) {
                    lag.insert((topic.clone(), partition), behind);
                }
            }
        }
        if let Ok(mut current) = self.lag.lock() {
            *current = lag;
        }
    }
}

impl ConsumerContext for GroupEvents {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Error(error) = rebalance {
            tracing::warn!(%error, "rebalance failed");
        }
        self.rebalanced.store(true, Ordering::Release);
    }
}

/// What the producer's delivery reports said since the last commit: the last offset
/// written per partition (for changelog checkpoints) and the first failure.
#[derive(Debug, Default)]
pub(crate) struct Deliveries {
    last_offsets: Mutex<HashMap<(String, i32), i64>>,
    failure: Mutex<Option<String>>,
}

impl Deliveries {
    /// The last offset delivered per partition since the last call, and the first failure.
    pub fn take(&self) -> (HashMap<(String, i32), i64>, Option<String>) {
        let offsets = self
            .last_offsets
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default();
        let failure = self.failure.lock().map(|mut f| f.take()).unwrap_or(None);
        (offsets, failure)
    }
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(message) => {
                if let Ok(mut offsets) = self.last_offsets.lock() {
                    let slot = offsets
                        .entry((message.topic().to_owned(), message.partition()))
                        .or_insert(-1);
                    *slot = (*slot).max(message.offset());
                }
            }
            Err((error, message)) => {
                if let Ok(mut failure) = self.failure.lock() {
                    failure.get_or_insert_with(|| format!("{}: {error}", message.topic()));
                }
            }
        }
    }
}

fn base(config: &StreamsConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.bootstrap_servers);
    for (key, value) in &config.client_properties {
        client.set(key, value);
    }
    client
}

/// The group consumer: partition `p` of every input topic goes to one instance (the range
/// assignor does that for topics with equal partition counts), and only committed records
/// are read, since repartition topics are written in transactions.
pub(crate) fn group_consumer(
    config: &StreamsConfig,
) -> Result<BaseConsumer<GroupEvents>, RunnerError> {
    Ok(base(config)
        .set("group.id", &config.application_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set("partition.assignment.strategy", "range")
        .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS)
        .set("statistics.interval.ms", LAG_INTERVAL_MS)
        .create_with_context(GroupEvents::default())?)
}

/// The restore consumer's context: reaching the end of a changelog is how a restore ends,
/// not an error to log (librdkafka also reports it as a client error event).
#[derive(Debug, Default)]
pub(crate) struct Restoring;

impl ClientContext for Restoring {
    fn error(&self, error: KafkaError, reason: &str) {
        if !matches!(error, KafkaError::Global(RDKafkaErrorCode::PartitionEOF)) {
            tracing::error!(%error, reason, "restore consumer");
        }
    }
}

impl ConsumerContext for Restoring {}

/// A consumer outside the group, assigned one changelog partition at a time, that reports
/// reaching the end of it.
pub(crate) fn restore_consumer(
    config: &StreamsConfig,
) -> Result<BaseConsumer<Restoring>, RunnerError> {
    Ok(base(config)
        .set("group.id", format!("{}-restore", config.application_id))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        // Restoring reads to the end and stops: no reason to let the broker hold a fetch.
        .set("fetch.wait.max.ms", "10")
        .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS)
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .create_with_context(Restoring)?)
}

/// The producer settings. Records are partitioned like the Java client does (murmur2 of
/// the key), so a topic written by this job and one written by a Java program agree.
pub(crate) fn producer_config(config: &StreamsConfig, instance_id: &str) -> ClientConfig {
    let mut client = base(config);
    client
        .set("partitioner", "murmur2_random")
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5");
    if config.guarantee == Guarantee::ExactlyOnce {
        client
            .set(
                "transactional.id",
                format!("{}-{instance_id}", config.application_id),
            )
            .set(
                "transaction.timeout.ms",
                config.transaction_timeout.as_millis().to_string(),
            );
    }
    client
}

/// The number of partitions of each topic, or an error naming a topic that is missing.
pub(crate) fn partition_counts(
    consumer: &BaseConsumer<GroupEvents>,
    topics: &[String],
) -> Result<Vec<(String, i32)>, RunnerError> {
    let mut counts = Vec::new();
    for topic in topics {
        let metadata = consumer.fetch_metadata(Some(topic), REQUEST_TIMEOUT)?;
        let found = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
        match found {
            Some(t) => counts.push((
                topic.clone(),
                i32::try_from(t.partitions().len()).unwrap_or(i32::MAX),
            )),
            None => {
                return Err(RunnerError::Topics(format!(
                    "input topic {topic} does not exist"
                )))
            }
        }
    }
    Ok(counts)
}

/// Creates the internal topics that do not exist yet, each with `partitions` partitions:
/// changelogs compacted, repartition topics deleted by retention as usual.
pub(crate) fn create_internal_topics(
    config: &StreamsConfig,
    topics: &[InternalTopic],
    partitions: i32,
) -> Result<(), RunnerError> {
    if topics.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = base(config).create()?;
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|topic| {
            let new = NewTopic::new(&topic.name, partitions, TopicReplication::Fixed(-1));
            match topic.purpose {
                TopicPurpose::Changelog => new.set("cleanup.policy", "compact"),
                TopicPurpose::Repartition => new,
            }
        })
        .collect();
    let options = AdminOptions::new().request_timeout(Some(REQUEST_TIMEOUT));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let results = runtime.block_on(admin.create_topics(&new_topics, &options))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(RunnerError::Topics(format!("creating {topic}: {code}")));
            }
        }
    }
    Ok(())
}
