//! One sink task: reads its share of the topics in the connector's consumer group, turns the
//! records into data (converters, transforms, the sink's checks), routes the ones that fail,
//! writes batches to the target with retries, and commits offsets only once the target has
//! the batch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::config::{SinkSettings, Tolerance, Topics};
use crate::dead_letter::{DeadLetters, Failure, Stage};
use crate::error::SinkError;
use crate::kafka::{ClientRole, KafkaSettings};
use crate::record::SinkRecord;
use crate::sink::{Positions, SinkTask};
use crate::status::{Retrying, StatusCell};

/// The first wait before retrying a target; it doubles up to `errors.retry.delay.max.ms`.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);

/// A record as read, before conversion: what the dead-letter topic receives.
#[derive(Debug, Clone)]
pub(crate) struct RawRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<i64>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

impl RawRecord {
    fn from_message(message: &BorrowedMessage<'_>) -> RawRecord {
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        RawRecord {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            headers,
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
        }
    }
}

/// What one sink task needs to run.
pub(crate) struct SinkTaskRunner {
    pub connector: String,
    pub task_id: usize,
    pub settings: Arc<SinkSettings>,
    pub kafka: KafkaSettings,
    pub sink: Box<dyn SinkTask>,
    pub status: StatusCell,
    /// The positions the target stored, per partition this task has read.
    pub stored: Positions,
}

/// How a task ended without failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// It was asked to stop and committed what the target had.
    Stopped,
}

impl SinkTaskRunner {
    /// Runs until `stop` turns true (then finishes the batch in hand, commits and leaves the
    /// group) or a failure that the settings do not tolerate (returned as the reason).
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Result<Ended, String> {
        let consumer = Arc::new(self.consumer()?);
        let dead_letters = match &self.settings.errors.dead_letter_topic {
            Some(topic) => Some(
                DeadLetters::open(
                    &self.kafka,
                    topic,
                    self.settings.errors.dead_letter_replication_factor,
                    self.settings.errors.context_headers,
                )
                .await?,
            ),
            None => None,
        };
        let result = self
            .consume(&consumer, dead_letters.as_ref(), &mut stop)
            .await;
        // Closing leaves the group at once, so the partitions move to the other tasks
        // without waiting for the session timeout. It blocks on the broker.
        let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
        result
    }

    fn consumer(&self) -> Result<StreamConsumer, String> {
        let mut config = self.kafka.client_config(ClientRole::Consumer);
        config
            .set("group.id", format!("connect-{}", self.connector))
            .set(
                "client.id",
                format!("connector-consumer-{}-{}", self.connector, self.task_id),
            )
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed");
        for (key, value) in &self.settings.consumer_overrides {
            config.set(key, value);
        }
        let consumer: StreamConsumer = config
            .create()
            .map_err(|e| format!("cannot create the consumer: {e}"))?;
        let subscription: Vec<String> = match &self.settings.topics {
            Topics::Names(names) => names.clone(),
            // librdkafka treats a subscription starting with ^ as a regular expression.
            Topics::Pattern(pattern) => vec![format!("^{pattern}")],
        };
        let subscription: Vec<&str> = subscription.iter().map(String::as_str).collect();
        consumer
            .subscribe(&subscription)
            .map_err(|e| format!("cannot subscribe to {subscription:?}: {e}"))?;
        Ok(consumer)
    }

    async fn consume(
        &mut self,
        consumer: &Arc<StreamConsumer>,
        dead_letters: Option<&DeadLetters>,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Ended, String> {
        self.status
            .update(|s| s.state = crate::status::State::Running);
        loop {
            let first = tokio::select! {
                message = consumer.recv() => message,
                _ = stop.wait_for(|stop| *stop) => return Ok(Ended::Stopped),
            };
            let first = match first {
                Ok(message) => message,
                Err(e) => {
                    passing(e)?;
                    continue;
                }
            };
            let mut read = vec![RawRecord::from_message(&first)];
            drop(first);
            // Take what librdkafka already fetched, without waiting, up to a batch.
            while read.len() < self.settings.batch_size {
                match consumer.recv().now_or_never() {
                    Some(Ok(message)) => read.push(RawRecord::from_message(&message)),
                    Some(Err(e)) => {
                        passing(e)?;
                        break;
                    }
                    None => break,
                }
            }
            let skipped = self.skip_stored(consumer, &mut read).await;
            if read.is_empty() {
                // Kafka's committed offsets catch up with the target's, for lag and for
                // any consumer of the group that does not ask the target.
                commit(consumer, &skipped, &self.status).await;
                continue;
            }
            let mut batch = Batch {
                positions: skipped,
                ..Batch::default()
            };
            for raw in read {
                self.add(&mut batch, raw)?;
            }
            if let Some(dead_letters) = dead_letters {
                let sent = batch.failed.len() as u64;
                dead_letters
                    .send(&self.connector, self.task_id, &batch.failed)
                    .await?;
                self.status.update(|s| s.records_dead_lettered += sent);
            }
            let started = Instant::now();
            let stored = self.put(&batch, dead_letters, stop).await?;
            let elapsed = started.elapsed();
            self.status.update(|s| s.batch_times.record(elapsed));
            if !stored {
                return Ok(Ended::Stopped);
            }
            commit(consumer, &batch.positions, &self.status).await;
        }
    }

    /// Drops the records below the positions the target stored, and moves the consumer to
    /// those positions, the first time each partition is read by this task: a target that
    /// stores its progress is where the task resumes, whatever Kafka's committed offset.
    /// Skipping is an economy, not the guarantee (the sink skips them in its transaction
    /// too), so a failure to read the positions only postpones it. Returns the positions
    /// of the partitions whose records were skipped.
    async fn skip_stored(
        &mut self,
        consumer: &StreamConsumer,
        read: &mut Vec<RawRecord>,
    ) -> Positions {
        let unknown: Vec<(String, i32)> = read
            .iter()
            .map(|raw| (raw.topic.clone(), raw.partition))
            .filter(|partition| !self.stored.contains_key(partition))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !unknown.is_empty() {
            match self.sink.stored_positions(&unknown).await {
                Ok(stored) => {
                    for partition in unknown {
                        let next = stored.get(&partition).copied().unwrap_or(0);
                        self.stored.insert(partition, next);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "cannot read the stored positions yet"),
            }
        }
        let mut skipped = Positions::new();
        read.retain(|raw| {
            let key = (raw.topic.clone(), raw.partition);
            let Some(&next) = self.stored.get(&key) else {
                return true;
            };
            if raw.offset >= next {
                return true;
            }
            if skipped.insert(key, next).is_none() {
                if let Err(e) = consumer.seek(
                    &raw.topic,
                    raw.partition,
                    Offset::Offset(next),
                    Duration::ZERO,
                ) {
                    tracing::debug!(topic = %raw.topic, partition = raw.partition, error = %e,
                        "cannot seek to the stored position");
                }
            }
            false
        });
        skipped
    }

    /// Converts and transforms one record into the batch, or routes its failure.
    fn add(&self, batch: &mut Batch, raw: RawRecord) -> Result<(), String> {
        batch.read += 1;
        batch
            .positions
            .insert((raw.topic.clone(), raw.partition), raw.offset + 1);
        match self.prepare(&raw) {
            Ok(Some(record)) => {
                batch.records.push(record);
                batch.sources.push(raw);
            }
            Ok(None) => {}
            Err(failure) => match self.settings.errors.tolerance {
                Tolerance::None => {
                    return Err(format!(
                        "{} failed on {}-{} at offset {} ({}): {}",
                        failure.stage.name(),
                        raw.topic,
                        raw.partition,
                        raw.offset,
                        failure.class,
                        failure.message
                    ))
                }
                Tolerance::All => {
                    tracing::warn!(connector = %self.connector, topic = %raw.topic,
                        partition = raw.partition, offset = raw.offset,
                        stage = failure.stage.name(), error = %failure.message,
                        "skipping a record");
                    self.status.update(|s| s.records_failed += 1);
                    batch.failed.push((raw, failure));
                }
            },
        }
        Ok(())
    }

    fn prepare(&self, raw: &RawRecord) -> Result<Option<SinkRecord>, Failure> {
        let settings = &self.settings;
        let key = settings
            .key_converter
            .to_data(raw.key.as_deref())
            .map_err(|e| Failure::new(Stage::KeyConverter, "key.converter", e))?;
        let value = settings
            .value_converter
            .to_data(raw.value.as_deref())
            .map_err(|e| Failure::new(Stage::ValueConverter, "value.converter", e))?;
        let mut record = SinkRecord {
            original_topic: raw.topic.clone(),
            topic: raw.topic.clone(),
            partition: raw.partition,
            offset: raw.offset,
            timestamp: raw.timestamp,
            headers: raw.headers.clone(),
            key,
            value,
        };
        for transform in &settings.transforms {
            match transform.apply(record) {
                Ok(Some(next)) => record = next,
                Ok(None) => return Ok(None),
                Err(e) => return Err(Failure::new(Stage::Transformation, transform.name(), e)),
            }
        }
        self.sink
            .check(&record)
            .map_err(|e| Failure::new(Stage::TaskPut, "sink", e))?;
        Ok(Some(record))
    }

    /// Hands the batch to the target. A part the target refuses for good fails the task
    /// under `errors.tolerance=none`; under `all` it is split in halves until each refused
    /// record stands alone, as Kafka Connect's errant record reporter isolates them in its
    /// JDBC sink: those take the error path (stage `TASK_PUT`, the target's message) and
    /// the rest is written, in order. Returns false when asked to stop while the target was
    /// failing (nothing is committed then).
    async fn put(
        &mut self,
        batch: &Batch,
        dead_letters: Option<&DeadLetters>,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<bool, String> {
        let records = &batch.records;
        // The parts still to write, the next one last; each is written with the positions
        // its last record reaches, so positions only move forward.
        let mut parts = Vec::new();
        parts.push(0..records.len());
        let mut stored_all = false;
        while let Some(part) = parts.pop() {
            let whole = part.end == records.len();
            let positions = if whole {
                batch.positions.clone()
            } else {
                positions_through(&records[..part.end])
            };
            match self
                .put_part(&records[part.clone()], &positions, stop)
                .await?
            {
                Put::Stopped => return Ok(false),
                Put::Written => stored_all = whole,
                Put::Refused(reason) => {
                    let isolating = self.settings.errors.tolerance == Tolerance::All;
                    match (isolating, batch.sources.get(part.start)) {
                        (true, Some(raw)) if part.len() == 1 => {
                            let failure = Failure::new(Stage::TaskPut, "sink", reason);
                            self.route_refused(raw, failure, dead_letters).await?;
                        }
                        (true, Some(_)) => {
                            let middle = part.start + part.len() / 2;
                            parts.push(middle..part.end);
                            parts.push(part.start..middle);
                        }
                        _ => return Err(format!("the target refused a batch: {reason}")),
                    }
                }
            }
        }
        if stored_all {
            return Ok(true);
        }
        // A refused last record leaves the batch's positions unwritten: a target that
        // stores them gets them with no records.
        match self.put_part(&[], &batch.positions, stop).await? {
            Put::Written => Ok(true),
            Put::Stopped => Ok(false),
            Put::Refused(reason) => Err(format!("the target refused a batch: {reason}")),
        }
    }

    /// A record the target refused under `errors.tolerance=all`: counted, logged, and sent
    /// to the dead-letter topic when there is one.
    async fn route_refused(
        &mut self,
        raw: &RawRecord,
        failure: Failure,
        dead_letters: Option<&DeadLetters>,
    ) -> Result<(), String> {
        tracing::warn!(connector = %self.connector, topic = %raw.topic,
            partition = raw.partition, offset = raw.offset, error = %failure.message,
            "the target refused a record; skipping it");
        self.status.update(|s| s.records_failed += 1);
        if let Some(dead_letters) = dead_letters {
            dead_letters
                .send(&self.connector, self.task_id, &[(raw.clone(), failure)])
                .await?;
            self.status.update(|s| s.records_dead_lettered += 1);
        }
        Ok(())
    }

    /// Hands records to the target until it takes or refuses them, retrying transient
    /// failures with backoff up to `errors.retry.timeout`.
    async fn put_part(
        &mut self,
        records: &[SinkRecord],
        positions: &Positions,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Put, String> {
        let errors = &self.settings.errors;
        let started = Instant::now();
        let mut delay = FIRST_RETRY_DELAY.min(errors.retry_delay_max);
        let mut attempts = 0;
        loop {
            match self.sink.put(records, positions).await {
                Ok(()) => {
                    let written = records.len() as u64;
                    self.status.update(|s| {
                        s.retrying = None;
                        s.records_written += written;
                    });
                    return Ok(Put::Written);
                }
                Err(SinkError::Fatal(reason)) => return Ok(Put::Refused(reason)),
                Err(SinkError::Transient(reason)) => {
                    attempts += 1;
                    if errors
                        .retry_timeout
                        .is_some_and(|timeout| started.elapsed() >= timeout)
                    {
                        return Err(format!(
                            "the target kept failing for longer than errors.retry.timeout \
                             ({attempts} attempts): {reason}"
                        ));
                    }
                    tracing::warn!(connector = %self.connector, task = self.task_id,
                        attempts, error = %reason, "the target failed; retrying");
                    self.status.update(|s| {
                        s.retrying = Some(Retrying {
                            attempts,
                            last_error: reason,
                        })
                    });
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.wait_for(|stop| *stop) => return Ok(Put::Stopped),
                    }
                    delay = (delay * 2).min(errors.retry_delay_max);
                }
            }
        }
    }
}

/// What became of records handed to the target.
enum Put {
    Written,
    /// Refused for a reason a retry will not change.
    Refused(String),
    /// Asked to stop while the target was failing.
    Stopped,
}

/// The positions just past `records` (topics as read).
fn positions_through(records: &[SinkRecord]) -> Positions {
    let mut positions = Positions::new();
    for record in records {
        let next = positions
            .entry((record.original_topic.clone(), record.partition))
            .or_insert(0);
        *next = (*next).max(record.offset + 1);
    }
    positions
}

/// The records of one poll, converted, with the failures and the positions they reach.
#[derive(Debug, Default)]
struct Batch {
    read: usize,
    records: Vec<SinkRecord>,
    /// The records as read, one for each of `records` (the dead-letter topic takes these).
    sources: Vec<RawRecord>,
    failed: Vec<(RawRecord, Failure)>,
    positions: Positions,
}

/// Whether a consumer error passes. Errors about one partition or topic (a topic that does
/// not exist yet, the end of a partition) are what librdkafka reports while it keeps
/// fetching, as Kafka Connect's consumer waits for a topic to appear; anything else stops
/// the task.
fn passing(error: KafkaError) -> Result<(), String> {
    match error {
        KafkaError::MessageConsumption(code) => {
            tracing::debug!(%code, "consumer notice");
            Ok(())
        }
        KafkaError::PartitionEOF(_) => Ok(()),
        other => Err(format!("cannot read from Kafka: {other}")),
    }
}

/// Commits the positions the target acknowledged. A failed commit only means these records
/// are read again (at-least-once), so it is logged and counted, not fatal.
async fn commit(consumer: &Arc<StreamConsumer>, positions: &Positions, status: &StatusCell) {
    if positions.is_empty() {
        return;
    }
    let mut offsets = TopicPartitionList::new();
    for ((topic, partition), next) in positions {
        if let Err(e) = offsets.add_partition_offset(topic, *partition, Offset::Offset(*next)) {
            tracing::warn!(%topic, partition, error = %e, "cannot list an offset to commit");
        }
    }
    let consumer = Arc::clone(consumer);
    // A synchronous commit waits for the broker: off the async workers.
    let committed =
        tokio::task::spawn_blocking(move || consumer.commit(&offsets, CommitMode::Sync)).await;
    let succeeded = match committed {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot commit offsets; records will be read again");
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "the commit did not finish");
            false
        }
    };
    status.update(|s| {
        if succeeded {
            s.offset_commits += 1;
        } else {
            s.offset_commit_failures += 1;
        }
    });
}
