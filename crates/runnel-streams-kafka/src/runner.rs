//! The processing loop of one instance: poll the input, push each record into the task of
//! its partition, send what the task wrote, and commit every interval.
//!
//! A task is the graph built once per input partition number `p`: it reads partition `p` of
//! every source topic (inputs and repartition topics) and owns partition `p` of every
//! changelog. When the group moves partitions, every task is dropped with its uncommitted
//! work (the open transaction aborted, under exactly-once), and the tasks now assigned are
//! rebuilt from the local copy and the changelogs; the consumer resumes from the committed
//! offsets. A failed commit does the same and rewinds the consumer.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use runnel_streams::{Incoming, StoreInfo, StreamsError, Timestamp, Topology, TopologyBuilder};

use crate::clients::{self, Deliveries, GroupEvents, Restoring, REQUEST_TIMEOUT};
use crate::clock::Clock;
use crate::config::{BadRecords, Guarantee, StreamsConfig};
use crate::error::RunnerError;
use crate::global::GlobalTables;
use crate::local::{entry_bytes, LocalChange, LocalState};
use crate::metrics::{Metrics, StoreSize};
use crate::BuildFn;

/// How long one poll of the input waits for a record before the loop looks at the clock.
const POLL: Duration = Duration::from_millis(20);
/// Restored changelog entries written to the local copy at a time, which bounds the memory
/// a restore holds.
const RESTORE_BATCH: usize = 10_000;
/// How often tasks are told that processing time passed, for idle partitions (records
/// tell them as they come).
const IDLE_CHECK_MS: Timestamp = 10;

pub(crate) struct Runner {
    config: StreamsConfig,
    build: BuildFn,
    clock: Arc<dyn Clock>,
    /// Shared so a polled message (which borrows its consumer) can be processed by `&mut self`.
    consumer: Arc<BaseConsumer<GroupEvents>>,
    producer: ThreadedProducer<Deliveries>,
    restorer: BaseConsumer<Restoring>,
    local: LocalState,
    globals: GlobalTables,
    source_topics: Vec<String>,
    stores: Vec<StoreInfo>,
    tasks: BTreeMap<u32, Topology>,
    /// Per input topic and partition: the offset after the last record processed since the
    /// last commit. By topic first, so a record's lookup allocates nothing.
    positions: HashMap<String, HashMap<i32, i64>>,
    /// Counted here per record and published to `metrics` every `IDLE_CHECK_MS`, so a
    /// record takes no lock.
    records_in: u64,
    records_out: u64,
    in_transaction: bool,
    last_commit: Instant,
    last_idle_check: Timestamp,
    /// Late records counted by tasks since dropped.
    retired_late_records: u64,
    /// Stream-time punctuations counted by tasks since dropped.
    retired_stream_time_punctuations: u64,
    wall_clock_punctuations: u64,
    /// Per store and partition of the current tasks: its committed size.
    store_sizes: BTreeMap<(String, u32), StoreSize>,
    metrics: Arc<Mutex<Metrics>>,
    stop: Arc<AtomicBool>,
}

impl Runner {
    pub fn start(
        config: StreamsConfig,
        build: BuildFn,
        clock: Arc<dyn Clock>,
        metrics: Arc<Mutex<Metrics>>,
        stop: Arc<AtomicBool>,
    ) -> Result<Runner, RunnerError> {
        let probe = new_topology(&config, &build)?;
        let internal: Vec<String> = probe
            .internal_topics()
            .into_iter()
            .map(|t| t.name)
            .collect();
        let source_topics = probe.source_topics();
        let external: Vec<String> = source_topics
            .iter()
            .filter(|t| !internal.contains(t))
            .cloned()
            .collect();
        let consumer = clients::group_consumer(&config)?;
        let partitions = single_partition_count(&clients::partition_counts(&consumer, &external)?)?
            .unwrap_or(config.internal_topic_partitions);
        clients::create_internal_topics(&config, &probe.internal_topics(), partitions)?;
        single_partition_count(&clients::partition_counts(&consumer, &internal)?)?
            .filter(|&count| count != partitions)
            .map_or(Ok(()), |count| {
                Err(RunnerError::Topics(format!(
                    "the internal topics have {count} partitions, the input topics {partitions}"
                )))
            })?;

        let dir = config.application_dir();
        let local = LocalState::open(&dir)?;
        let instance_id = match &config.instance_id {
            Some(id) => id.clone(),
            None => instance_id(&dir)?,
        };
        let producer: ThreadedProducer<Deliveries> =
            clients::producer_config(&config, &instance_id)
                .create_with_context(Deliveries::default())?;
        if config.guarantee == Guarantee::ExactlyOnce {
            // Fences an earlier life of this instance and aborts what it left open.
            producer.init_transactions(config.transaction_timeout)?;
        }
        let restorer = clients::restore_consumer(&config)?;
        // Global tables are whole before any task processes a record.
        let global_topics = clients::partition_counts(&consumer, &probe.global_topics())?;
        let globals = GlobalTables::load(&config, &global_topics)?;
        let topics: Vec<&str> = source_topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        tracing::info!(application = %config.application_id, instance = %instance_id, ?source_topics, "streams application started");
        Ok(Runner {
            stores: probe.stores(),
            config,
            build,
            clock,
            consumer: Arc::new(consumer),
            producer,
            restorer,
            local,
            globals,
            source_topics,
            tasks: BTreeMap::new(),
            positions: HashMap::new(),
            records_in: 0,
            records_out: 0,
            in_transaction: false,
            last_commit: Instant::now(),
            last_idle_check: Timestamp::MIN,
            retired_late_records: 0,
            retired_stream_time_punctuations: 0,
            wall_clock_punctuations: 0,
            store_sizes: BTreeMap::new(),
            metrics,
            stop,
        })
    }

    /// Processes until asked to stop, then commits what was done.
    pub fn run(mut self) -> Result<(), RunnerError> {
        while !self.stop.load(Ordering::Acquire) {
            let consumer = self.consumer.clone();
            let polled = consumer.poll(POLL);
            if consumer.context().take_rebalanced() {
                self.reassign()?;
            }
            let now = self.clock.now_ms();
            match polled {
                Some(Ok(message)) => self.process(&message, now)?,
                Some(Err(error)) => tracing::warn!(%error, "consumer error"),
                None => {}
            }
            self.globals.follow(&mut self.tasks)?;
            if now >= self.last_idle_check.saturating_add(IDLE_CHECK_MS) {
                // Processing time passing may make partitions idle and move watermarks.
                self.last_idle_check = now;
                let (records_in, records_out) = (self.records_in, self.records_out);
                self.update_metrics(|m| {
                    m.records_in = records_in;
                    m.records_out = records_out;
                });
                for partition in self.tasks.keys().copied().collect::<Vec<_>>() {
                    if let Some(task) = self.tasks.get_mut(&partition) {
                        task.advance_processing_time(now)?;
                        self.wall_clock_punctuations += 1;
                    }
                    self.send_outgoing(partition)?;
                }
            }
            if self.last_commit.elapsed() >= self.config.commit_interval {
                self.commit()?;
            }
        }
        self.commit()?;
        if self.in_transaction {
            self.producer.abort_transaction(REQUEST_TIMEOUT)?;
        }
        self.consumer.unsubscribe();
        tracing::info!(application = %self.config.application_id, "streams application stopped");
        Ok(())
    }

    /// Pushes one record into its task at processing time `now`.
    fn process(
        &mut self,
        message: &BorrowedMessage<'_>,
        now: Timestamp,
    ) -> Result<(), RunnerError> {
        let Ok(partition) = u32::try_from(message.partition()) else {
            return Ok(());
        };
        let Some(task) = self.tasks.get_mut(&partition) else {
            // Read before this instance learnt it lost the partition.
            return Ok(());
        };
        let topic = message.topic();
        let incoming = Incoming {
            key: message.key(),
            value: message.payload(),
            timestamp: message.timestamp().to_millis().unwrap_or(now),
            partition,
        };
        match task.push_from_topic(topic, incoming, now) {
            Ok(()) => {}
            Err(StreamsError::Serde(error)) if self.config.bad_records == BadRecords::Skip => {
                tracing::warn!(topic, partition, offset = message.offset(), %error, "skipping a record that does not decode");
                self.update_metrics(|m| m.records_skipped += 1);
            }
            Err(error) => return Err(error.into()),
        }
        let next = message.offset() + 1;
        match self.positions.get_mut(topic) {
            Some(partitions) => {
                partitions.insert(message.partition(), next);
            }
            None => {
                self.positions.insert(
                    topic.to_owned(),
                    HashMap::from([(message.partition(), next)]),
                );
            }
        }
        self.records_in += 1;
        self.send_outgoing(partition)
    }

    /// Sends what a task wrote to topics since last asked.
    fn send_outgoing(&mut self, partition: u32) -> Result<(), RunnerError> {
        let Some(task) = self.tasks.get_mut(&partition) else {
            return Ok(());
        };
        let outgoing = task.take_outgoing();
        if outgoing.is_empty() {
            return Ok(());
        }
        self.begin_transaction()?;
        let sent = outgoing.len() as u64;
        for record in outgoing {
            let mut base = BaseRecord::<[u8], [u8]>::to(&record.topic);
            if record.timestamp >= 0 {
                base = base.timestamp(record.timestamp);
            }
            if let Some(key) = &record.key {
                base = base.key(&key[..]);
            }
            if let Some(value) = &record.value {
                base = base.payload(&value[..]);
            }
            self.send(base)?;
        }
        self.records_out += sent;
        Ok(())
    }

    /// Sends one record, waiting while the producer's queue is full (backpressure: the loop
    /// reads no more input until the producer catches up).
    fn send(&self, mut record: BaseRecord<'_, [u8], [u8]>) -> Result<(), RunnerError> {
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((error, _)) => return Err(error.into()),
            }
        }
    }

    fn begin_transaction(&mut self) -> Result<(), RunnerError> {
        if self.config.guarantee == Guarantee::ExactlyOnce && !self.in_transaction {
            self.producer.begin_transaction()?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// Writes the stores' changes to their changelogs and commits them with the outputs and
    /// the input offsets; then updates the local copy.
    fn commit(&mut self) -> Result<(), RunnerError> {
        self.last_commit = Instant::now();
        // Every record processed so far is covered once this commit succeeds.
        let records_in = self.records_in;
        // Published every interval, work or not: the lag comes from the consumer's
        // statistics, which arrive on their own schedule.
        let lag = self.consumer.context().lag();
        self.update_metrics(|m| m.lag = lag);
        let mut local_changes = Vec::new();
        for (&partition, task) in &mut self.tasks {
            for change in task.take_state_changes()? {
                local_changes.push(LocalChange {
                    store: change.store,
                    partition,
                    key: change.key.to_vec(),
                    value: change.value.map(|v| v.to_vec()),
                });
            }
        }
        if local_changes.is_empty() && self.positions.is_empty() && !self.in_transaction {
            self.update_metrics(|m| m.records_committed = records_in);
            return Ok(());
        }
        self.begin_transaction()?;
        let changelogs: HashMap<String, String> = self
            .stores
            .iter()
            .map(|s| (s.name.clone(), s.changelog.clone()))
            .collect();
        for change in &local_changes {
            let topic = changelogs.get(&change.store).map_or("", String::as_str);
            let mut record = BaseRecord::<[u8], [u8]>::to(topic)
                .partition(i32::try_from(change.partition).unwrap_or(i32::MAX))
                .key(&change.key[..]);
            if let Some(value) = &change.value {
                record = record.payload(&value[..]);
            }
            self.send(record)?;
        }
        self.await_acknowledgements();
        let (delivered, failure) = self.producer.context().take();
        let committed = match failure {
            Some(failure) => Err(RunnerError::Delivery(failure)),
            None => self.commit_offsets(),
        };
        match committed {
            Ok(()) => {}
            Err(error)
                if self.config.guarantee == Guarantee::ExactlyOnce && is_abortable(&error) =>
            {
                tracing::warn!(%error, "commit failed; aborting and resuming from the last commit");
                return self.abort_and_rewind();
            }
            Err(error) => return Err(error),
        }
        let checkpoints: Vec<(String, u32, i64)> = delivered
            .into_iter()
            .filter(|((topic, _), _)| changelogs.values().any(|c| c == topic))
            .filter_map(|((topic, partition), offset)| {
                Some((topic, u32::try_from(partition).ok()?, offset + 1))
            })
            .collect();
        self.local
            .apply(&local_changes, &checkpoints, &mut self.store_sizes)?;
        self.positions.clear();
        let took = self.last_commit.elapsed();
        self.update_metrics(|m| {
            m.commits += 1;
            m.commit_latency.observe(took);
            m.records_committed = records_in;
        });
        self.refresh_metrics();
        Ok(())
    }

    fn commit_offsets(&mut self) -> Result<(), RunnerError> {
        let mut offsets = TopicPartitionList::new();
        for (topic, partition, offset) in self
            .positions
            .iter()
            .flat_map(|(topic, offsets)| offsets.iter().map(move |(p, o)| (topic, *p, *o)))
        {
            offsets.add_partition_offset(topic, partition, Offset::Offset(offset))?;
            let newest = u32::try_from(partition)
                .ok()
                .and_then(|p| self.tasks.get(&p)?.topic_max_event_time(topic, p));
            if let (Some(newest), Some(mut element)) =
                (newest, offsets.find_partition(topic, partition))
            {
                element.set_metadata(encode_event_time(newest));
            }
        }
        match self.config.guarantee {
            Guarantee::ExactlyOnce => {
                if offsets.count() > 0 {
                    let group = self.consumer.group_metadata().ok_or_else(|| {
                        RunnerError::Delivery("no group metadata to commit offsets with".into())
                    })?;
                    self.producer
                        .send_offsets_to_transaction(&offsets, &group, REQUEST_TIMEOUT)?;
                }
                self.producer
                    .commit_transaction(self.config.transaction_timeout)?;
                self.in_transaction = false;
            }
            Guarantee::AtLeastOnce => {
                if offsets.count() > 0 {
                    self.consumer
                        .commit(&offsets, rdkafka::consumer::CommitMode::Sync)?;
                }
            }
        }
        Ok(())
    }

    /// Waits until the producer has an answer for every record sent, so its own flush inside
    /// `commit_transaction` has nothing left to wait for (it would poll in 100 ms steps).
    fn await_acknowledgements(&self) {
        let started = Instant::now();
        while self.producer.in_flight_count() > 0
            && started.elapsed() < self.config.transaction_timeout
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Drops the uncommitted work: aborts the transaction, rebuilds the tasks from their
    /// stores and moves the consumer back to the committed offsets.
    fn abort_and_rewind(&mut self) -> Result<(), RunnerError> {
        self.reassign()?;
        let assignment = self.consumer.assignment()?;
        if assignment.count() == 0 {
            return Ok(());
        }
        let committed = self
            .consumer
            .committed_offsets(assignment, REQUEST_TIMEOUT)?;
        for mut element in committed.elements() {
            if !matches!(element.offset(), Offset::Offset(_)) {
                element.set_offset(Offset::Beginning)?;
            }
        }
        self.consumer.seek_partitions(committed, REQUEST_TIMEOUT)?;
        Ok(())
    }

    /// Drops every task with its uncommitted work and builds those of the current
    /// assignment, each restored before it processes anything.
    fn reassign(&mut self) -> Result<(), RunnerError> {
        if self.in_transaction {
            self.in_transaction = false;
            self.producer
                .abort_transaction(self.config.transaction_timeout)?;
        }
        self.producer.context().take();
        self.retired_late_records += self
            .tasks
            .values()
            .map(Topology::late_records_dropped)
            .sum::<u64>();
        self.retired_stream_time_punctuations += self
            .tasks
            .values()
            .map(Topology::stream_time_punctuations)
            .sum::<u64>();
        self.tasks.clear();
        self.store_sizes.clear();
        self.positions.clear();
        let assignment = self.consumer.assignment()?;
        let mut partitions: Vec<u32> = assignment
            .elements()
            .iter()
            .filter_map(|e| u32::try_from(e.partition()).ok())
            .collect();
        partitions.sort_unstable();
        partitions.dedup();
        for partition in &partitions {
            let task = self.restore_task(*partition)?;
            self.tasks.insert(*partition, task);
        }
        if !partitions.is_empty() {
            self.restore_event_times(assignment)?;
        }
        tracing::info!(?partitions, "tasks assigned");
        self.update_metrics(|m| m.assigned_partitions = partitions.clone());
        self.refresh_metrics();
        Ok(())
    }

    /// Gives each task's input partitions the newest event time saved with their committed
    /// offsets, so windows close, and records count as late, as they would have without the
    /// restart.
    fn restore_event_times(&mut self, assignment: TopicPartitionList) -> Result<(), RunnerError> {
        let committed = self
            .consumer
            .committed_offsets(assignment, REQUEST_TIMEOUT)?;
        let now = self.clock.now_ms();
        for element in committed.elements() {
            let (Ok(partition), Some(newest)) = (
                u32::try_from(element.partition()),
                decode_event_time(element.metadata()),
            ) else {
                continue;
            };
            if let Some(task) = self.tasks.get_mut(&partition) {
                task.restore_max_event_time(element.topic(), partition, newest, now);
            }
        }
        // The operators learn the restored watermark before the first record is judged.
        for task in self.tasks.values_mut() {
            task.advance_processing_time(now)?;
        }
        Ok(())
    }

    /// A fresh task for `partition`, its stores filled from the local copy and then from the
    /// changelog past the copy's checkpoint.
    fn restore_task(&mut self, partition: u32) -> Result<Topology, RunnerError> {
        let mut task = new_topology(&self.config, &self.build)?;
        let now = self.clock.now_ms();
        for topic in &self.source_topics {
            task.register_topic_partition(topic, partition, now);
        }
        let kafka_partition = i32::try_from(partition).unwrap_or(i32::MAX);
        let mut restored = 0;
        for store in self.stores.clone() {
            let (low, high) = self.restorer.fetch_watermarks(
                &store.changelog,
                kafka_partition,
                REQUEST_TIMEOUT,
            )?;
            let mut checkpoint = self.local.checkpoint(&store.changelog, partition)?;
            if checkpoint.is_some_and(|c| c < low || c > high) {
                // The changelog was recreated or truncated under the copy: start over.
                self.local.wipe(&store.name, &store.changelog, partition)?;
                checkpoint = None;
            }
            let size = self
                .store_sizes
                .entry((store.name.clone(), partition))
                .or_default();
            *size = StoreSize::default();
            if checkpoint.is_some() {
                for (key, value) in self.local.entries(&store.name, partition)? {
                    task.restore(&store.name, &key, Some(&value))?;
                    restored += 1;
                    size.entries += 1;
                    size.bytes += entry_bytes(&key, value.len());
                }
            }
            let from = checkpoint.unwrap_or(low);
            if from < high {
                restored += self.replay_changelog(&mut task, &store, partition, from)?;
            }
        }
        // After the stores: what joins with the global tables derived from them sees them
        // whole, and a row unchanged since the commit changes no result.
        self.globals.fill(&mut task)?;
        self.update_metrics(|m| m.records_restored += restored);
        Ok(task)
    }

    /// Applies a changelog partition from `from` to its end to the task and to the local
    /// copy. Returns the number of entries applied.
    fn replay_changelog(
        &mut self,
        task: &mut Topology,
        store: &StoreInfo,
        partition: u32,
        from: i64,
    ) -> Result<u64, RunnerError> {
        let kafka_partition = i32::try_from(partition).unwrap_or(i32::MAX);
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(&store.changelog, kafka_partition, Offset::Offset(from))?;
        self.restorer.assign(&assignment)?;
        // A changelog may take long to read; what must not happen is no progress for longer
        // than an open transaction of a dead instance can hold the end back.
        let stall_limit = self.config.transaction_timeout * 3 + REQUEST_TIMEOUT;
        let mut deadline = Instant::now() + stall_limit;
        let mut changes = Vec::new();
        let mut applied = 0;
        let mut next = from;
        loop {
            if Instant::now() > deadline {
                return Err(RunnerError::Topics(format!(
                    "restoring {} partition {partition} made no progress for {stall_limit:?}",
                    store.changelog
                )));
            }
            match self.restorer.poll(POLL) {
                Some(Ok(message)) => {
                    deadline = Instant::now() + stall_limit;
                    next = message.offset() + 1;
                    let Some(key) = message.key() else { continue };
                    task.restore(&store.name, key, message.payload())?;
                    changes.push(LocalChange {
                        store: store.name.clone(),
                        partition,
                        key: key.to_vec(),
                        value: message.payload().map(<[u8]>::to_vec),
                    });
                    if changes.len() >= RESTORE_BATCH {
                        applied += self.save_restored(&mut changes, store, partition, next)?;
                    }
                }
                Some(Err(KafkaError::PartitionEOF(_))) => break,
                Some(Err(error)) => return Err(error.into()),
                None => {}
            }
        }
        self.restorer.unassign()?;
        applied += self.save_restored(&mut changes, store, partition, next)?;
        Ok(applied)
    }

    /// Writes restored entries to the local copy with the offset they are current to.
    fn save_restored(
        &mut self,
        changes: &mut Vec<LocalChange>,
        store: &StoreInfo,
        partition: u32,
        next: i64,
    ) -> Result<u64, RunnerError> {
        self.local.apply(
            changes,
            &[(store.changelog.clone(), partition, next)],
            &mut self.store_sizes,
        )?;
        let saved = changes.len() as u64;
        changes.clear();
        Ok(saved)
    }

    fn update_metrics(&self, update: impl FnOnce(&mut Metrics)) {
        if let Ok(mut metrics) = self.metrics.lock() {
            update(&mut metrics);
        }
    }

    /// Watermarks, late records, punctuations and store sizes, after a commit or a
    /// rebalance.
    fn refresh_metrics(&mut self) {
        let mut watermarks = BTreeMap::new();
        for (&partition, task) in &self.tasks {
            for topic in &self.source_topics {
                // A partition with no record yet has no watermark to report.
                if let Some(watermark) = task
                    .topic_watermark(topic, partition)
                    .filter(|&w| w > Timestamp::MIN)
                {
                    watermarks.insert((topic.clone(), partition), watermark);
                }
            }
        }
        let late = self.retired_late_records
            + self
                .tasks
                .values()
                .map(Topology::late_records_dropped)
                .sum::<u64>();
        let stream_time = self.retired_stream_time_punctuations
            + self
                .tasks
                .values()
                .map(Topology::stream_time_punctuations)
                .sum::<u64>();
        let wall_clock = self.wall_clock_punctuations;
        let store_sizes = self.store_sizes.clone();
        self.update_metrics(|m| {
            m.watermarks = watermarks;
            m.late_records_dropped = late;
            m.punctuations.stream_time = stream_time;
            m.punctuations.wall_clock = wall_clock;
            m.store_sizes = store_sizes;
        });
    }
}

/// The commit metadata holding an input partition's newest event time.
const EVENT_TIME_PREFIX: &str = "runnel-streams/1 max-event-time=";

fn encode_event_time(newest: Timestamp) -> String {
    format!("{EVENT_TIME_PREFIX}{newest}")
}

/// The newest event time in commit metadata written by `encode_event_time`; `None` for any
/// other metadata (another client's, or none).
fn decode_event_time(metadata: &str) -> Option<Timestamp> {
    metadata.strip_prefix(EVENT_TIME_PREFIX)?.parse().ok()
}

fn is_abortable(error: &RunnerError) -> bool {
    match error {
        RunnerError::Kafka(KafkaError::Transaction(e)) => e.txn_requires_abort(),
        RunnerError::Kafka(_) | RunnerError::Delivery(_) => true,
        _ => false,
    }
}

fn new_topology(config: &StreamsConfig, build: &BuildFn) -> Result<Topology, RunnerError> {
    let mut builder = TopologyBuilder::with_application_id(&config.application_id);
    build(&mut builder)?;
    Ok(builder.build(config.out_of_orderness, config.idle_timeout)?)
}

/// The partition count shared by `topics`, or an error if they differ: tasks pair partition
/// `p` of every topic.
fn single_partition_count(counts: &[(String, i32)]) -> Result<Option<i32>, RunnerError> {
    let Some((first, count)) = counts.first() else {
        return Ok(None);
    };
    match counts.iter().find(|(_, c)| c != count) {
        None => Ok(Some(*count)),
        Some((other, c)) => Err(RunnerError::Topics(format!(
            "{first} has {count} partitions but {other} has {c}: every topic a job reads must have as many"
        ))),
    }
}

/// The id of this instance, made up once and kept in its state directory.
fn instance_id(dir: &std::path::Path) -> Result<String, RunnerError> {
    let path = dir.join("instance-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        _ => {
            let id = uuid::Uuid::new_v4().to_string();
            std::fs::write(&path, &id)?;
            Ok(id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_times_round_trip_through_commit_metadata_and_foreign_metadata_is_ignored() {
        for t in [0, 1_700_000_000_000, -5, Timestamp::MAX] {
            assert_eq!(decode_event_time(&encode_event_time(t)), Some(t));
        }
        for foreign in [
            "",
            "my metadata",
            "runnel-streams/1 max-event-time=x",
            "runnel-streams/2 max-event-time=5",
        ] {
            assert_eq!(decode_event_time(foreign), None, "{foreign}");
        }
    }
}
