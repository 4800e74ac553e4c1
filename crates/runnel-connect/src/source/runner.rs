//! One source task: polls its source, transforms the records, and writes them to Kafka with
//! their source offsets in one transaction, so a record is in Kafka exactly when its offset
//! is. A restarted task fences the producer it replaces (same `transactional.id`), whose
//! open transaction is aborted, and resumes from the offsets committed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use serde_json::Value;
use tokio::sync::watch;

use super::offsets::{self, OffsetsTopic};
use super::settings::{SourceSettings, TransactionBoundary};
use super::{SourceMap, SourceRecord, SourceTask};
use crate::config::Tolerance;
use crate::kafka::{ClientRole, KafkaSettings, ADMIN_TIMEOUT};
use crate::record::SinkRecord;
use crate::status::{State, StatusCell};

/// How long the task waits for a transactional request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the task waits before sending again when librdkafka's queue is full.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(10);

/// What one source task needs to run, besides its source.
pub(crate) struct SourceTaskRunner {
    pub connector: String,
    pub task_id: usize,
    pub settings: Arc<SourceSettings>,
    pub kafka: KafkaSettings,
    pub status: StatusCell,
}

/// The open transaction: what it wrote and the offsets it will commit.
#[derive(Default)]
struct Transaction {
    started: Option<Instant>,
    records: u64,
    /// The latest offset per source partition, by offset-record key.
    offsets: BTreeMap<Vec<u8>, (SourceMap, SourceMap)>,
    /// Records sent and not yet acknowledged.
    in_flight: VecDeque<DeliveryFuture>,
}

impl SourceTaskRunner {
    /// Runs until `stop` turns true (then commits the open transaction) or a failure
    /// (returned as the reason; the open transaction is aborted); the source is stopped
    /// either way.
    pub async fn run(
        self,
        mut source: Box<dyn SourceTask>,
        stop: watch::Receiver<bool>,
    ) -> Result<(), String> {
        let producer = Arc::new(self.producer()?);
        let result = self.produce(source.as_mut(), &producer, &stop).await;
        if result.is_err() {
            let aborting = Arc::clone(&producer);
            // Aborting may fail when nothing was begun; the broker aborts it anyway on
            // timeout or when the next instance fences this one.
            let _ = blocking(move || aborting.abort_transaction(REQUEST_TIMEOUT)).await;
        }
        if let Err(e) = source.stop().await {
            tracing::warn!(connector = %self.connector, task = self.task_id, error = %e,
                "the source did not stop cleanly");
        }
        result
    }

    fn producer(&self) -> Result<FutureProducer, String> {
        let mut config = self.kafka.client_config(ClientRole::Producer);
        config
            .set(
                "transactional.id",
                format!("connect-{}-{}", self.connector, self.task_id),
            )
            .set(
                "client.id",
                format!("connector-producer-{}-{}", self.connector, self.task_id),
            )
            .set(
                "transaction.timeout.ms",
                self.settings.transaction_timeout().as_millis().to_string(),
            )
            // The Java client's partitioner, so keys land where Kafka Connect puts them.
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "5");
        for (key, value) in &self.settings.producer_overrides {
            config.set(key, value);
        }
        config
            .create()
            .map_err(|e| format!("cannot create the producer: {e}"))
    }

    async fn produce(
        &self,
        source: &mut dyn SourceTask,
        producer: &Arc<FutureProducer>,
        stop: &watch::Receiver<bool>,
    ) -> Result<(), String> {
        let initializing = Arc::clone(producer);
        blocking(move || initializing.init_transactions(REQUEST_TIMEOUT))
            .await
            .map_err(|e| format!("cannot initialize the transactional producer: {e}"))?;
        // Only now, with the previous instance fenced and its transaction aborted, are the
        // committed offsets final.
        let offsets_topic = OffsetsTopic::new(&self.kafka, &self.settings.offsets_topic);
        offsets_topic.ensure().await?;
        let committed = offsets_topic.read(&self.connector).await?;
        source
            .start(&committed)
            .await
            .map_err(|e| format!("the source cannot start: {e}"))?;
        self.status.update(|s| {
            s.state = State::Running;
            s.records_polled = Some(s.records_polled.unwrap_or(0));
        });
        let mut created = BTreeSet::new();
        let mut transaction = Transaction::default();
        while !*stop.borrow() {
            let started = Instant::now();
            let records = source
                .poll()
                .await
                .map_err(|e| format!("the source failed: {e}"))?;
            let elapsed = started.elapsed();
            let polled = records.len() as u64;
            self.status.update(|s| {
                s.records_polled = Some(s.records_polled.unwrap_or(0) + polled);
                s.batch_times.record(elapsed);
            });
            if !records.is_empty() && transaction.started.is_none() {
                let beginning = Arc::clone(producer);
                blocking(move || beginning.begin_transaction())
                    .await
                    .map_err(|e| format!("cannot begin a transaction: {e}"))?;
                transaction.started = Some(Instant::now());
            }
            for record in records {
                transaction.offsets.insert(
                    offsets::key(&self.connector, &record.source_partition),
                    (
                        record.source_partition.clone(),
                        record.source_offset.clone(),
                    ),
                );
                let Some(record) = self.transform(record)? else {
                    continue;
                };
                self.create_topic(&mut created, &record.topic).await?;
                self.send(producer, &mut transaction, &record).await?;
                transaction.records += 1;
            }
            let due = match (self.settings.boundary, transaction.started) {
                (_, None) => false,
                (TransactionBoundary::Poll, Some(_)) => true,
                (TransactionBoundary::Interval(interval), Some(started)) => {
                    started.elapsed() >= interval
                }
            };
            if due {
                self.commit(source, producer, &offsets_topic, &mut transaction)
                    .await?;
            }
        }
        if transaction.started.is_some() {
            self.commit(source, producer, &offsets_topic, &mut transaction)
                .await?;
        }
        Ok(())
    }

    /// Applies the transforms; `None` when one drops the record, or when it fails under
    /// `errors.tolerance=all` (counted).
    fn transform(&self, record: SourceRecord) -> Result<Option<SourceRecord>, String> {
        let settings = &self.settings;
        if settings.transforms.is_empty() {
            return Ok(Some(record));
        }
        match self.apply_transforms(&record) {
            Ok(transformed) => Ok(transformed),
            Err(reason) => match settings.tolerance {
                Tolerance::None => Err(format!(
                    "a record for {} failed its transforms: {reason}",
                    record.topic
                )),
                Tolerance::All => {
                    tracing::warn!(connector = %self.connector, topic = %record.topic,
                        error = %reason, "skipping a record");
                    self.status.update(|s| s.records_failed += 1);
                    Ok(None)
                }
            },
        }
    }

    /// The record as the transforms see it (its bytes as data, through the converters),
    /// transformed, and back to bytes.
    fn apply_transforms(&self, record: &SourceRecord) -> Result<Option<SourceRecord>, String> {
        let settings = &self.settings;
        let mut data = SinkRecord {
            original_topic: record.topic.clone(),
            topic: record.topic.clone(),
            // Not yet in Kafka: no partition or offset.
            partition: -1,
            offset: -1,
            timestamp: record.timestamp_ms,
            headers: record
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect(),
            key: settings.key_converter.to_data(record.key.as_deref())?,
            value: settings.value_converter.to_data(record.value.as_deref())?,
        };
        for transform in &settings.transforms {
            match transform.apply(data)? {
                Some(next) => data = next,
                None => return Ok(None),
            }
        }
        Ok(Some(SourceRecord {
            source_partition: record.source_partition.clone(),
            source_offset: record.source_offset.clone(),
            topic: data.topic,
            key: settings.key_converter.to_bytes(data.key.as_ref())?,
            value: settings.value_converter.to_bytes(data.value.as_ref())?,
            headers: data
                .headers
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect(),
            timestamp_ms: data.timestamp,
        }))
    }

    /// Creates `topic` before its first record when `topic.creation.default.*` is set.
    async fn create_topic(
        &self,
        created: &mut BTreeSet<String>,
        topic: &str,
    ) -> Result<(), String> {
        let Some((partitions, replication)) = self.settings.topic_creation else {
            return Ok(());
        };
        if created.contains(topic) {
            return Ok(());
        }
        let admin: AdminClient<DefaultClientContext> = self
            .kafka
            .client_config(ClientRole::Admin)
            .create()
            .map_err(|e| format!("cannot create an admin client: {e}"))?;
        let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication));
        let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
        let results = admin
            .create_topics([&new_topic], &options)
            .await
            .map_err(|e| format!("cannot create topic {topic}: {e}"))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(format!("cannot create topic {topic}: {code}")),
            }
        }
        created.insert(topic.to_owned());
        Ok(())
    }

    /// Sends a record in the transaction. When `max.in.flight.records` are unacknowledged,
    /// or librdkafka's queue is full, it waits for the oldest: backpressure on the source.
    async fn send(
        &self,
        producer: &FutureProducer,
        transaction: &mut Transaction,
        record: &SourceRecord,
    ) -> Result<(), String> {
        while transaction.in_flight.len() >= self.settings.max_in_flight {
            acknowledged(transaction.in_flight.pop_front()).await?;
        }
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (key, value) in &record.headers {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        loop {
            let mut message =
                FutureRecord::<[u8], [u8]>::to(&record.topic).headers(headers.clone());
            if let Some(key) = &record.key {
                message = message.key(key);
            }
            if let Some(value) = &record.value {
                message = message.payload(value);
            }
            if let Some(timestamp) = record.timestamp_ms {
                message = message.timestamp(timestamp);
            }
            match producer.send_result(message) {
                Ok(delivery) => {
                    transaction.in_flight.push_back(delivery);
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    match transaction.in_flight.pop_front() {
                        Some(oldest) => acknowledged(Some(oldest)).await?,
                        None => tokio::time::sleep(QUEUE_FULL_WAIT).await,
                    }
                }
                Err((e, _)) => return Err(format!("cannot send to {}: {e}", record.topic)),
            }
        }
    }

    /// Writes the transaction's offsets and commits it; then tells the source.
    async fn commit(
        &self,
        source: &mut dyn SourceTask,
        producer: &Arc<FutureProducer>,
        offsets_topic: &OffsetsTopic,
        transaction: &mut Transaction,
    ) -> Result<(), String> {
        let finished = std::mem::take(transaction);
        let mut in_flight = finished.in_flight;
        for (key, (_, offset)) in &finished.offsets {
            let value = Value::Object(offset.clone()).to_string();
            let message = FutureRecord::<[u8], [u8]>::to(offsets_topic.name())
                .key(key)
                .payload(value.as_bytes());
            let delivery = producer.send_result(message).map_err(|(e, _)| {
                format!("cannot send offsets to {}: {e}", offsets_topic.name())
            })?;
            in_flight.push_back(delivery);
        }
        while let Some(delivery) = in_flight.pop_front() {
            acknowledged(Some(delivery)).await?;
        }
        let committing = Arc::clone(producer);
        let committed = blocking(move || committing.commit_transaction(REQUEST_TIMEOUT)).await;
        if let Err(e) = committed {
            self.status.update(|s| s.offset_commit_failures += 1);
            return Err(format!("cannot commit a transaction: {e}"));
        }
        let written = finished.records;
        self.status.update(|s| {
            s.records_written += written;
            s.offset_commits += 1;
        });
        let committed: Vec<(SourceMap, SourceMap)> = finished.offsets.into_values().collect();
        source
            .commit(&committed)
            .await
            .map_err(|e| format!("the source failed to release committed records: {e}"))
    }
}

/// Waits for a record's acknowledgement.
async fn acknowledged(delivery: Option<DeliveryFuture>) -> Result<(), String> {
    let Some(delivery) = delivery else {
        return Ok(());
    };
    match delivery.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, _))) => Err(format!("Kafka refused a record: {e}")),
        Err(_) => Err("the producer dropped a record".to_owned()),
    }
}

/// Runs a blocking librdkafka call off the async workers.
async fn blocking(
    call: impl FnOnce() -> Result<(), KafkaError> + Send + 'static,
) -> Result<(), String> {
    match tokio::task::spawn_blocking(call).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(format!("did not finish: {e}")),
    }
}
