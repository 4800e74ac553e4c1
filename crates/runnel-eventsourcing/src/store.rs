//! The local event index: a copy of the events and snapshots topics kept by key, so that
//! loading one aggregate reads only its own commits.
//!
//! A reader thread consumes every partition of both topics (`read_committed`, no consumer
//! group) and writes what it read to a redb database, with each partition's position, in
//! one transaction per poll; on restart it resumes from the stored positions. Cost: the disk
//! holds a second copy of the retained events (plus the latest snapshot of each
//! aggregate); memory is redb's cache ([`CACHE_BYTES`]); loading an aggregate is one B-tree
//! range read over its commits after its snapshot, whatever the partition's size.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::watch;

use crate::clients;
use crate::error::EventStoreError;
use crate::follow::partition_count;

/// redb's page cache for the index.
pub const CACHE_BYTES: usize = 16 << 20;
/// Records written to the index per transaction at most.
const MAX_BATCH: usize = 2_000;
const POLL: Duration = Duration::from_millis(50);

/// (aggregate id, offset) → the commit record's value.
const EVENTS: TableDefinition<(&str, i64), &[u8]> = TableDefinition::new("events");
/// aggregate id → its latest snapshot record's value.
const SNAPSHOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshots");
/// (topic, partition) → the next offset to read.
const POSITIONS: TableDefinition<(&str, i32), i64> = TableDefinition::new("positions");

type Positions = HashMap<(String, i32), i64>;

fn index_error(path: &Path) -> impl Fn(redb::Error) -> EventStoreError + '_ {
    move |source| EventStoreError::Index {
        path: path.to_owned(),
        source: Box::new(source),
    }
}

macro_rules! at {
    ($path:expr, $result:expr) => {
        $result.map_err(|e| index_error($path)(e.into()))
    };
}

/// The topics an event store uses.
#[derive(Debug, Clone)]
pub struct Topics {
    /// Conditional appends on (`runnel.conditional.append.enable=true`).
    pub events: String,
    /// Compacted (`cleanup.policy=compact`).
    pub snapshots: String,
}

pub struct EventIndex {
    path: PathBuf,
    db: Arc<Database>,
    topics: Topics,
    progress: watch::Receiver<Positions>,
    failure: Arc<std::sync::Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    watermarks: Arc<BaseConsumer>,
}

impl std::fmt::Debug for EventIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventIndex")
            .field("path", &self.path)
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

impl EventIndex {
    /// Opens (or creates) the index at `path` and starts following `topics` on the cluster
    /// at `bootstrap`.
    pub fn start(
        bootstrap: &str,
        topics: Topics,
        path: &Path,
    ) -> Result<EventIndex, EventStoreError> {
        let db = Arc::new(at!(
            path,
            redb::Builder::new()
                .set_cache_size(CACHE_BYTES)
                .create(path)
        )?);
        let mut positions = Positions::new();
        {
            let read = at!(path, db.begin_read())?;
            match read.open_table(POSITIONS) {
                Ok(table) => {
                    for entry in at!(path, table.iter())? {
                        let (k, v) = at!(path, entry)?;
                        let (topic, partition) = k.value();
                        positions.insert((topic.to_owned(), partition), v.value());
                    }
                }
                Err(redb::TableError::TableDoesNotExist(_)) => {}
                Err(e) => return Err(index_error(path)(e.into())),
            }
        }
        let config = clients::reader(bootstrap, "runnel-eventsourcing-index");
        let consumer: BaseConsumer = config.create()?;
        let watermarks: BaseConsumer = config.create()?;
        let mut assignment = TopicPartitionList::new();
        for topic in [&topics.events, &topics.snapshots] {
            for partition in 0..partition_count(&watermarks, topic)? {
                let offset = positions
                    .get(&(topic.clone(), partition))
                    .map_or(Offset::Beginning, |&o| Offset::Offset(o));
                assignment.add_partition_offset(topic, partition, offset)?;
                positions.entry((topic.clone(), partition)).or_insert(0);
            }
        }
        consumer.assign(&assignment)?;
        let (sender, progress) = watch::channel(positions);
        let stop = Arc::new(AtomicBool::new(false));
        let failure = Arc::new(std::sync::Mutex::new(None));
        let reader = Reader {
            path: path.to_owned(),
            db: Arc::clone(&db),
            consumer,
            snapshots_topic: topics.snapshots.clone(),
            progress: sender,
        };
        let (stop_flag, failed) = (Arc::clone(&stop), Arc::clone(&failure));
        let reader = std::thread::Builder::new()
            .name("event-index".into())
            .spawn(move || {
                if let Err(error) = reader.run(&stop_flag) {
                    tracing::error!(%error, "event index reader stopped");
                    *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
                }
            })
            .map_err(|e| EventStoreError::Thread(e.to_string()))?;
        Ok(EventIndex {
            path: path.to_owned(),
            db,
            topics,
            progress,
            failure,
            stop,
            reader: Some(reader),
            watermarks: Arc::new(watermarks),
        })
    }

    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// The commits of `id` after `after`, oldest first, as stored.
    pub fn commits(&self, id: &str, after: i64) -> Result<Vec<(i64, Vec<u8>)>, EventStoreError> {
        let read = at!(&self.path, self.db.begin_read())?;
        let table = match read.open_table(EVENTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(index_error(&self.path)(e.into())),
        };
        let from = after.saturating_add(1);
        let mut out = Vec::new();
        for entry in at!(&self.path, table.range((id, from)..=(id, i64::MAX)))? {
            let (k, v) = at!(&self.path, entry)?;
            out.push((k.value().1, v.value().to_vec()));
        }
        Ok(out)
    }

    /// The latest snapshot record of `id`, as stored.
    pub fn snapshot(&self, id: &str) -> Result<Option<Vec<u8>>, EventStoreError> {
        let read = at!(&self.path, self.db.begin_read())?;
        let table = match read.open_table(SNAPSHOTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(index_error(&self.path)(e.into())),
        };
        Ok(at!(&self.path, table.get(id))?.map(|v| v.value().to_vec()))
    }

    /// Waits until the index has read `topic`'s `partition` past `offset`.
    pub async fn wait_past(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        timeout: Duration,
    ) -> Result<(), EventStoreError> {
        let mut progress = self.progress.clone();
        let key = (topic.to_owned(), partition);
        let reached = tokio::time::timeout(
            timeout,
            progress.wait_for(|p| p.get(&key).is_some_and(|&next| next > offset)),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        if reached {
            Ok(())
        } else {
            Err(self.stopped_or(EventStoreError::CatchUpTimeout(timeout)))
        }
    }

    /// Waits until the index has read every partition of the events topic up to the high
    /// watermark it has now: after a conflict, what the winner wrote is then loaded.
    pub async fn catch_up(&self, timeout: Duration) -> Result<(), EventStoreError> {
        let consumer = Arc::clone(&self.watermarks);
        let topic = self.topics.events.clone();
        let ends = tokio::task::spawn_blocking(move || -> Result<Vec<i64>, EventStoreError> {
            (0..partition_count(&consumer, &topic)?)
                .map(|p| {
                    Ok(consumer
                        .fetch_watermarks(&topic, p, Duration::from_secs(10))?
                        .1)
                })
                .collect()
        })
        .await
        .map_err(|e| EventStoreError::Thread(e.to_string()))??;
        for (partition, end) in ends.into_iter().enumerate() {
            if end > 0 {
                self.wait_past(&self.topics.events, partition as i32, end - 1, timeout)
                    .await?;
            }
        }
        Ok(())
    }

    fn stopped_or(&self, otherwise: EventStoreError) -> EventStoreError {
        match self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            Some(reason) => EventStoreError::ReaderStopped(reason),
            None => otherwise,
        }
    }
}

impl Drop for EventIndex {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// The thread copying the topics into the index.
struct Reader {
    path: PathBuf,
    db: Arc<Database>,
    consumer: BaseConsumer,
    snapshots_topic: String,
    progress: watch::Sender<Positions>,
}

impl Reader {
    fn run(&self, stop: &AtomicBool) -> Result<(), EventStoreError> {
        while !stop.load(Ordering::Acquire) {
            let mut batch = Vec::new();
            let mut wait = POLL;
            while batch.len() < MAX_BATCH {
                match self.consumer.poll(wait) {
                    Some(Ok(message)) => batch.push(message.detach()),
                    Some(Err(error)) => return Err(error.into()),
                    None => break,
                }
                wait = Duration::ZERO;
            }
            if !batch.is_empty() {
                self.store(&batch)?;
            }
        }
        Ok(())
    }

    fn store(&self, batch: &[rdkafka::message::OwnedMessage]) -> Result<(), EventStoreError> {
        let path = &self.path;
        let mut moved = Positions::new();
        let write = at!(path, self.db.begin_write())?;
        {
            let mut events = at!(path, write.open_table(EVENTS))?;
            let mut snapshots = at!(path, write.open_table(SNAPSHOTS))?;
            let mut positions = at!(path, write.open_table(POSITIONS))?;
            for message in batch {
                moved.insert(
                    (message.topic().to_owned(), message.partition()),
                    message.offset() + 1,
                );
                let Some(id) = message.key().and_then(|k| std::str::from_utf8(k).ok()) else {
                    tracing::warn!(
                        topic = message.topic(),
                        offset = message.offset(),
                        "record without a UTF-8 key skipped"
                    );
                    continue;
                };
                match (message.topic() == self.snapshots_topic, message.payload()) {
                    (true, Some(value)) => {
                        at!(path, snapshots.insert(id, value))?;
                    }
                    (true, None) => {
                        at!(path, snapshots.remove(id))?;
                    }
                    (false, Some(value)) => {
                        at!(path, events.insert((id, message.offset()), value))?;
                    }
                    (false, None) => {
                        // A tombstone on the events topic closes the aggregate's history.
                        at!(
                            path,
                            events.retain_in((id, 0)..=(id, i64::MAX), |_, _| false)
                        )?;
                    }
                }
            }
            for ((topic, partition), next) in &moved {
                at!(path, positions.insert((topic.as_str(), *partition), *next))?;
            }
        }
        at!(path, write.commit())?;
        self.progress
            .send_modify(|positions| positions.extend(moved));
        Ok(())
    }
}
