//! Global tables: every partition of their topics, read by each instance outside the group
//! and given whole to every task. The topics are read to their end before processing starts,
//! then followed as the loop runs. An instance keeps the latest value of each key it has
//! read, so that a task built later (after a rebalance) is loaded without reading the
//! topics again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use runnel_streams::{Incoming, Timestamp, Topology};

use crate::clients::{self, Restoring, REQUEST_TIMEOUT};
use crate::config::StreamsConfig;
use crate::error::RunnerError;

/// Records of the global topics applied per turn of the processing loop, so following them
/// never holds the input back for long.
const PER_TURN: usize = 1_000;

/// The latest value per global topic and key, with its record's timestamp.
type Mirror = BTreeMap<(String, Vec<u8>), (Vec<u8>, Timestamp)>;

pub(crate) struct GlobalTables {
    /// `None` when the graph has no global table.
    consumer: Option<BaseConsumer<Restoring>>,
    mirror: Mirror,
}

impl GlobalTables {
    /// Assigns every partition of `topics` (with their partition counts) from the start and
    /// reads them to the end they had when asked.
    pub fn load(config: &StreamsConfig, topics: &[(String, i32)]) -> Result<Self, RunnerError> {
        let mut tables = GlobalTables {
            consumer: None,
            mirror: Mirror::new(),
        };
        if topics.is_empty() {
            return Ok(tables);
        }
        let consumer = clients::restore_consumer(config)?;
        let mut assignment = TopicPartitionList::new();
        // Per partition, the offset it must be read up to.
        let mut pending = BTreeMap::new();
        for (topic, partitions) in topics {
            for partition in 0..*partitions {
                assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
                let (low, high) = consumer.fetch_watermarks(topic, partition, REQUEST_TIMEOUT)?;
                if high > low {
                    pending.insert((topic.clone(), partition), high);
                }
            }
        }
        consumer.assign(&assignment)?;
        let stall_limit = config.transaction_timeout * 3 + REQUEST_TIMEOUT;
        let mut deadline = Instant::now() + stall_limit;
        while !pending.is_empty() {
            if Instant::now() > deadline {
                let waiting: BTreeSet<_> = pending.keys().collect();
                return Err(RunnerError::Topics(format!(
                    "loading the global tables made no progress for {stall_limit:?}; \
                     waiting for {waiting:?}"
                )));
            }
            match consumer.poll(Duration::from_millis(20)) {
                Some(Ok(message)) => {
                    deadline = Instant::now() + stall_limit;
                    let at = (message.topic().to_owned(), message.partition());
                    if pending
                        .get(&at)
                        .is_some_and(|&end| message.offset() + 1 >= end)
                    {
                        pending.remove(&at);
                    }
                    tables.remember(&message);
                }
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    // The event names no topic: each pending topic's partition of that number
                    // is done once its position reached the end it had.
                    let positions = consumer.position()?;
                    pending.retain(|(topic, p), end| {
                        let at = positions.find_partition(topic, *p).map(|e| e.offset());
                        *p != partition || !matches!(at, Some(Offset::Offset(at)) if at >= *end)
                    });
                }
                Some(Err(error)) => return Err(error.into()),
                None => {}
            }
        }
        tables.consumer = Some(consumer);
        Ok(tables)
    }

    fn remember(&mut self, message: &BorrowedMessage<'_>) {
        let entry = (
            message.topic().to_owned(),
            message.key().unwrap_or_default().to_vec(),
        );
        match message.payload() {
            Some(value) => {
                self.mirror
                    .insert(entry, (value.to_vec(), timestamp(message)));
            }
            None => {
                self.mirror.remove(&entry);
            }
        }
    }

    /// Fills a new task's global tables.
    pub fn fill(&self, task: &mut Topology) -> Result<(), RunnerError> {
        for ((topic, key), (value, timestamp)) in &self.mirror {
            task.push_global(topic, incoming(Some(key), Some(value), *timestamp))?;
        }
        Ok(())
    }

    /// Applies what the global topics received since the last call (up to `PER_TURN`
    /// records) to every task.
    pub fn follow(&mut self, tasks: &mut BTreeMap<u32, Topology>) -> Result<(), RunnerError> {
        let Some(consumer) = self.consumer.take() else {
            return Ok(());
        };
        let followed = self.follow_with(&consumer, tasks);
        self.consumer = Some(consumer);
        followed
    }

    fn follow_with(
        &mut self,
        consumer: &BaseConsumer<Restoring>,
        tasks: &mut BTreeMap<u32, Topology>,
    ) -> Result<(), RunnerError> {
        for _ in 0..PER_TURN {
            match consumer.poll(Duration::ZERO) {
                Some(Ok(message)) => {
                    let record = incoming(message.key(), message.payload(), timestamp(&message));
                    for task in tasks.values_mut() {
                        task.push_global(message.topic(), record)?;
                    }
                    self.remember(&message);
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {}
                Some(Err(error)) => return Err(error.into()),
                None => break,
            }
        }
        Ok(())
    }
}

/// The time results caused by a global table's change carry.
fn timestamp(message: &BorrowedMessage<'_>) -> Timestamp {
    message.timestamp().to_millis().unwrap_or(0)
}

fn incoming<'a>(
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    timestamp: Timestamp,
) -> Incoming<'a> {
    Incoming {
        key,
        value,
        timestamp,
        partition: 0,
    }
}
