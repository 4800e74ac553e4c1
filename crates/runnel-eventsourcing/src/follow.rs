//! A thread following every partition of one topic from its first offset, handing each
//! record to a function: how read-model views and the key vault keep their in-memory copy
//! of a compacted topic.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::clients;
use crate::error::EventStoreError;

const POLL: Duration = Duration::from_millis(50);
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Partition → the next offset to read.
type Positions = HashMap<i32, i64>;

pub(crate) struct Follower {
    topic: String,
    progress: watch::Receiver<Positions>,
    failure: Arc<std::sync::Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    watermarks: Arc<BaseConsumer>,
}

impl Follower {
    /// Starts reading `topic` (`read_committed`, no consumer group) from its beginning,
    /// calling `apply` for each record, in offset order per partition.
    pub(crate) fn start(
        bootstrap: &str,
        topic: &str,
        mut apply: impl FnMut(&BorrowedMessage<'_>) + Send + 'static,
    ) -> Result<Follower, EventStoreError> {
        let config = clients::reader(bootstrap, "runnel-eventsourcing-follower");
        let consumer: BaseConsumer = config.create()?;
        let watermarks: BaseConsumer = config.create()?;
        let mut assignment = TopicPartitionList::new();
        let mut positions = Positions::new();
        for partition in 0..partition_count(&watermarks, topic)? {
            assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
            positions.insert(partition, 0);
        }
        consumer.assign(&assignment)?;
        let (sender, progress) = watch::channel(positions);
        let stop = Arc::new(AtomicBool::new(false));
        let failure = Arc::new(std::sync::Mutex::new(None));
        let (stopping, failed) = (Arc::clone(&stop), Arc::clone(&failure));
        let thread = std::thread::Builder::new()
            .name(format!("follow-{topic}"))
            .spawn(move || {
                while !stopping.load(Ordering::Acquire) {
                    match consumer.poll(POLL) {
                        Some(Ok(message)) => {
                            apply(&message);
                            let next = message.offset() + 1;
                            sender.send_modify(|p| {
                                p.insert(message.partition(), next);
                            });
                        }
                        Some(Err(error)) => {
                            tracing::error!(%error, "topic follower stopped");
                            *failed.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some(error.to_string());
                            return;
                        }
                        None => {}
                    }
                }
            })
            .map_err(|e| EventStoreError::Thread(e.to_string()))?;
        Ok(Follower {
            topic: topic.to_owned(),
            progress,
            failure,
            stop,
            thread: Some(thread),
            watermarks: Arc::new(watermarks),
        })
    }

    /// Waits until every record the topic held when called has been applied (the topic is
    /// written without transactions, so its high watermark is the offset after its last
    /// record).
    pub(crate) async fn catch_up(&self, timeout: Duration) -> Result<(), EventStoreError> {
        let consumer = Arc::clone(&self.watermarks);
        let topic = self.topic.clone();
        let ends = tokio::task::spawn_blocking(move || -> Result<Vec<i64>, EventStoreError> {
            (0..partition_count(&consumer, &topic)?)
                .map(|p| Ok(consumer.fetch_watermarks(&topic, p, METADATA_TIMEOUT)?.1))
                .collect()
        })
        .await
        .map_err(|e| EventStoreError::Thread(e.to_string()))??;
        let mut progress = self.progress.clone();
        let reached = tokio::time::timeout(
            timeout,
            progress.wait_for(|positions| {
                ends.iter().enumerate().all(|(partition, &end)| {
                    positions
                        .get(&(partition as i32))
                        .is_some_and(|&next| next >= end)
                })
            }),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        if reached {
            return Ok(());
        }
        match self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            Some(reason) => Err(EventStoreError::ReaderStopped(reason)),
            None => Err(EventStoreError::CatchUpTimeout(timeout)),
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub(crate) fn partition_count(client: &BaseConsumer, topic: &str) -> Result<i32, EventStoreError> {
    let metadata = client.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
    let count = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len());
    if count == 0 {
        return Err(EventStoreError::UnknownTopic(topic.to_owned()));
    }
    Ok(i32::try_from(count).unwrap_or(i32::MAX))
}
