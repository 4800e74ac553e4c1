//! Topics and their partitions, on disk and in memory.
//!
//! Data directory layout (see also the crate README):
//!
//! ```text
//! DATA/
//!   meta.properties              cluster.id and node.id, written once at first start
//!   topic-metadata/<topic>.toml  topic id (UUID), partition count, config overrides
//!   <topic>-<partition>/         one runnel-log directory per partition, as Kafka names them
//! ```
//!
//! The metadata file is the commit point of every topic change: it is written (temp file,
//! fsync, rename, fsync of the directory) before partition directories are created, and
//! removed before they are deleted. So at start-up a partition directory without a topic
//! file, or beyond its partition count, is the remains of an interrupted delete and is removed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::topic_settings;
use runnel_log::{
    AppendInfo, CleanerTotals, Clock, Log, LogCleaner, LogConfig, LogError, RetentionReport,
    SystemClock, TxnMarker,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use uuid::Uuid;

pub const META_DIR: &str = "topic-metadata";
const META_EXT: &str = "toml";
const DELETE_SUFFIX: &str = "-delete";
/// Kafka's limit, which keeps `<topic>-<partition>` within a file name's 255 bytes.
const MAX_NAME_LEN: usize = 249;
/// A sanity bound on partitions per topic; each partition holds open files.
pub const MAX_PARTITIONS: i32 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("invalid topic name {0:?}: 1 to 249 of [a-zA-Z0-9._-], not . or ..")]
    InvalidName(String),
    #[error("topic {0:?} already exists")]
    Exists(String),
    #[error("unknown topic {0:?}")]
    Unknown(String),
    #[error("invalid partition count {0} (must be 1 to {MAX_PARTITIONS}, and not below the current count)")]
    InvalidPartitions(i32),
    /// Kafka's message: the value, the setting and the reason.
    #[error("{0}")]
    InvalidConfig(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("corrupt topic metadata {path}: {message}")]
    CorruptMetadata { path: PathBuf, message: String },
    #[error("data directory {0} is in use by another broker")]
    DataDirInUse(PathBuf),
    #[error(transparent)]
    Log(#[from] LogError),
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> TopicError + '_ {
    move |source| TopicError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Whether Kafka would accept `name` as a topic name.
pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// One partition: its log and the signal fetchers wait on for new data.
#[derive(Debug)]
pub struct Partition {
    pub index: i32,
    pub log: Arc<Log>,
    /// Notified (all waiters) after every append and when the log start moves.
    changed: Notify,
}

impl Partition {
    /// Appends, then wakes waiting fetches.
    ///
    /// An append that may fsync runs on the blocking pool, so a slow disk never stalls the
    /// reactor (and concurrent appenders share one fsync). One that cannot (every flush
    /// threshold unset, the default) runs inline: it only copies into the page cache, and a
    /// trip through the blocking pool costs ~30x the append itself (measured: ~2 µs inline,
    /// ~64 µs via `spawn_blocking`, ~270 µs with an fsync on this machine's disk).
    pub async fn append(self: &Arc<Self>, mut batches: Vec<u8>) -> Result<AppendInfo, LogError> {
        self.run_append(move |log| log.append(&mut batches, 0))
            .await
    }

    /// Writes a transaction marker, then wakes waiting fetches (the last stable offset may
    /// have moved).
    pub async fn append_marker(
        self: &Arc<Self>,
        marker: TxnMarker,
    ) -> Result<AppendInfo, LogError> {
        self.run_append(move |log| log.append_marker(marker, 0))
            .await
    }

    async fn run_append(
        self: &Arc<Self>,
        append: impl FnOnce(&Log) -> Result<AppendInfo, LogError> + Send + 'static,
    ) -> Result<AppendInfo, LogError> {
        let result = if self.log.config().may_flush_on_append() {
            let partition = Arc::clone(self);
            tokio::task::spawn_blocking(move || append(&partition.log))
                .await
                .unwrap_or_else(|join| {
                    Err(LogError::Io {
                        path: self.log.dir().to_owned(),
                        source: std::io::Error::other(format!("append task failed: {join}")),
                    })
                })
        } else {
            append(&self.log)
        };
        if result.is_ok() {
            self.changed.notify_waiters();
        }
        result
    }

    /// Wakes fetches waiting on this partition.
    pub fn notify(&self) {
        self.changed.notify_waiters();
    }

    /// A future completing at the next `notify`; enable it before checking the log, so an
    /// append between the check and the wait is not missed.
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }
}

/// A topic: its identity, partitions and config overrides.
#[derive(Debug)]
pub struct Topic {
    pub name: String,
    pub id: Uuid,
    pub internal: bool,
    partitions: RwLock<Arc<Vec<Arc<Partition>>>>,
    overrides: RwLock<BTreeMap<String, String>>,
}

impl Topic {
    pub fn partitions(&self) -> Arc<Vec<Arc<Partition>>> {
        Arc::clone(&self.partitions.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn partition(&self, index: i32) -> Option<Arc<Partition>> {
        let index = usize::try_from(index).ok()?;
        self.partitions().get(index).cloned()
    }

    pub fn overrides(&self) -> BTreeMap<String, String> {
        self.overrides
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// What a topic file holds.
#[derive(Debug, Serialize, Deserialize)]
struct TopicFile {
    id: String,
    partitions: i32,
    #[serde(default)]
    internal: bool,
    #[serde(default)]
    config: BTreeMap<String, String>,
}

/// All topics of the broker.
#[derive(Debug)]
pub struct Topics {
    data_dir: PathBuf,
    defaults: LogConfig,
    clock: Arc<dyn Clock>,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    /// Serializes changes (create, delete, alter, add partitions) so metadata files and the
    /// map never disagree.
    changes: Mutex<()>,
    cleaner: LogCleaner,
    /// What retention has deleted since the broker started, for metrics.
    retention_deleted_segments: AtomicU64,
    retention_deleted_bytes: AtomicU64,
    /// An exclusive lock on `DATA/.lock`, held while the broker runs: two brokers writing
    /// the same logs would corrupt them.
    _lock: fs::File,
}

impl Topics {
    /// Opens every topic in `data_dir` (creating the directory if needed) and removes what
    /// interrupted deletes left behind.
    pub fn open(
        data_dir: &Path,
        defaults: LogConfig,
        cleaner_interval: Duration,
    ) -> Result<Topics, TopicError> {
        let meta_dir = data_dir.join(META_DIR);
        fs::create_dir_all(&meta_dir).map_err(io_at(&meta_dir))?;
        let lock = lock_data_dir(data_dir)?;
        let cleaner = LogCleaner::start(cleaner_interval).map_err(io_at(data_dir))?;
        let topics = Topics {
            data_dir: data_dir.to_owned(),
            defaults,
            clock: Arc::new(SystemClock),
            topics: RwLock::new(BTreeMap::new()),
            changes: Mutex::new(()),
            cleaner,
            retention_deleted_segments: AtomicU64::new(0),
            retention_deleted_bytes: AtomicU64::new(0),
            _lock: lock,
        };
        let mut loaded = BTreeMap::new();
        for entry in fs::read_dir(&meta_dir).map_err(io_at(&meta_dir))? {
            let path = entry.map_err(io_at(&meta_dir))?.path();
            let name = match (path.file_stem(), path.extension()) {
                (Some(stem), Some(ext)) if ext == META_EXT => stem.to_string_lossy().into_owned(),
                _ => {
                    // Temporary files of an interrupted write; the rename never happened.
                    if path.extension().is_some_and(|e| e == "tmp") {
                        fs::remove_file(&path).map_err(io_at(&path))?;
                    }
                    continue;
                }
            };
            if !valid_topic_name(&name) {
                continue;
            }
            let topic = topics.load(&name, &path)?;
            loaded.insert(name, Arc::new(topic));
        }
        topics.remove_leftovers(&loaded)?;
        tracing::info!(topics = loaded.len(), dir = %data_dir.display(), "opened topics");
        *topics.topics.write().unwrap_or_else(|p| p.into_inner()) = loaded;
        Ok(topics)
    }

    fn load(&self, name: &str, path: &Path) -> Result<Topic, TopicError> {
        let corrupt = |message: String| TopicError::CorruptMetadata {
            path: path.to_owned(),
            message,
        };
        let text = fs::read_to_string(path).map_err(io_at(path))?;
        let file: TopicFile = toml::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        let id = Uuid::parse_str(&file.id).map_err(|e| corrupt(e.to_string()))?;
        if !(1..=MAX_PARTITIONS).contains(&file.partitions) {
            return Err(corrupt(format!("partition count {}", file.partitions)));
        }
        let config = self
            .effective_config(&file.config)
            .map_err(|e| corrupt(e.to_string()))?;
        let partitions = (0..file.partitions)
            .map(|i| self.open_partition(name, i, &config))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Topic {
            name: name.to_owned(),
            id,
            internal: file.internal,
            partitions: RwLock::new(Arc::new(partitions)),
            overrides: RwLock::new(file.config),
        })
    }

    fn remove_leftovers(&self, topics: &BTreeMap<String, Arc<Topic>>) -> Result<(), TopicError> {
        for entry in fs::read_dir(&self.data_dir).map_err(io_at(&self.data_dir))? {
            let entry = entry.map_err(io_at(&self.data_dir))?;
            if !entry.file_type().map_err(io_at(&entry.path()))?.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = if name.ends_with(DELETE_SUFFIX) {
                true
            } else if let Some((topic, index)) = name.rsplit_once('-') {
                match (index.parse::<i32>(), topics.get(topic)) {
                    (Ok(index), Some(t)) => index as usize >= t.partitions().len(),
                    (Ok(_), None) => valid_topic_name(topic),
                    _ => false,
                }
            } else {
                false
            };
            if stale {
                tracing::warn!(dir = %entry.path().display(), "removing partition directory of a deleted topic");
                fs::remove_dir_all(entry.path()).map_err(io_at(&entry.path()))?;
            }
        }
        Ok(())
    }

    fn partition_dir(&self, topic: &str, index: i32) -> PathBuf {
        self.data_dir.join(format!("{topic}-{index}"))
    }

    fn meta_path(&self, topic: &str) -> PathBuf {
        self.data_dir
            .join(META_DIR)
            .join(format!("{topic}.{META_EXT}"))
    }

    fn open_partition(
        &self,
        topic: &str,
        index: i32,
        config: &LogConfig,
    ) -> Result<Arc<Partition>, TopicError> {
        let log = Arc::new(Log::open(
            self.partition_dir(topic, index),
            config.clone(),
            Arc::clone(&self.clock),
        )?);
        // Every log is registered: compaction checks the live policy on each pass, so a
        // topic altered to `cleanup.policy=compact` is picked up without re-registering.
        self.cleaner.register(&log);
        Ok(Arc::new(Partition {
            index,
            log,
            changed: Notify::new(),
        }))
    }

    /// Broker defaults with `overrides` applied, validating each (settings stored without
    /// effect, see [`topic_settings`], are validated and left out of the log's config).
    pub fn effective_config(
        &self,
        overrides: &BTreeMap<String, String>,
    ) -> Result<LogConfig, TopicError> {
        let mut config = self.defaults.clone();
        for (name, value) in overrides {
            if let Some(setting) = topic_settings::stored_only(name) {
                topic_settings::check(setting, value).map_err(TopicError::InvalidConfig)?;
            } else if runnel_log::CONFIG_NAMES.contains(&name.as_str()) {
                config.set(name, value).map_err(|e| match e {
                    // The message already names the setting and the reason.
                    LogError::InvalidConfig(message) => TopicError::InvalidConfig(message),
                    other => TopicError::InvalidConfig(other.to_string()),
                })?;
            } else {
                return Err(TopicError::InvalidConfig(format!(
                    "Unknown topic config name: {name}"
                )));
            }
        }
        Ok(config)
    }

    pub fn defaults(&self) -> &LogConfig {
        &self.defaults
    }

    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub fn by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|t| t.id == id)
            .cloned()
    }

    pub fn all(&self) -> Vec<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn lock_changes(&self) -> std::sync::MutexGuard<'_, ()> {
        self.changes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks what `create` would check, without creating anything (CreateTopics validate_only).
    pub fn validate_new(
        &self,
        name: &str,
        partitions: i32,
        overrides: &BTreeMap<String, String>,
    ) -> Result<(), TopicError> {
        if !valid_topic_name(name) {
            return Err(TopicError::InvalidName(name.to_owned()));
        }
        if self.get(name).is_some() {
            return Err(TopicError::Exists(name.to_owned()));
        }
        if !(1..=MAX_PARTITIONS).contains(&partitions) {
            return Err(TopicError::InvalidPartitions(partitions));
        }
        self.effective_config(overrides).map(|_| ())
    }

    /// Creates a topic. Blocking: writes files.
    pub fn create(
        &self,
        name: &str,
        partitions: i32,
        overrides: BTreeMap<String, String>,
        internal: bool,
    ) -> Result<Arc<Topic>, TopicError> {
        let _guard = self.lock_changes();
        self.validate_new(name, partitions, &overrides)?;
        let config = self.effective_config(&overrides)?;
        let id = Uuid::new_v4();
        let file = TopicFile {
            id: id.to_string(),
            partitions,
            internal,
            config: overrides.clone(),
        };
        self.write_meta(name, &file)?;
        let opened = (0..partitions)
            .map(|i| self.open_partition(name, i, &config))
            .collect::<Result<Vec<_>, _>>()?;
        let topic = Arc::new(Topic {
            name: name.to_owned(),
            id,
            internal,
            partitions: RwLock::new(Arc::new(opened)),
            overrides: RwLock::new(overrides),
        });
        self.topics
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), Arc::clone(&topic));
        tracing::info!(topic = name, partitions, %id, "created topic");
        Ok(topic)
    }

    /// Deletes a topic and its data. Blocking.
    pub fn delete(&self, name: &str) -> Result<(), TopicError> {
        let _guard = self.lock_changes();
        let topic = self
            .topics
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
            .ok_or_else(|| TopicError::Unknown(name.to_owned()))?;
        let meta = self.meta_path(name);
        fs::remove_file(&meta).map_err(io_at(&meta))?;
        sync_dir(&self.data_dir.join(META_DIR))?;
        for partition in topic.partitions().iter() {
            // Wake long polls so they notice the topic is gone rather than wait it out.
            partition.notify();
            if let Err(error) = partition.log.close() {
                tracing::warn!(topic = name, partition = partition.index, %error, "closing deleted log failed");
            }
            let dir = self.partition_dir(name, partition.index);
            let doomed = self.data_dir.join(format!(
                "{name}-{}.{}{DELETE_SUFFIX}",
                partition.index,
                topic.id.simple()
            ));
            fs::rename(&dir, &doomed).map_err(io_at(&dir))?;
            fs::remove_dir_all(&doomed).map_err(io_at(&doomed))?;
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(())
    }

    /// Raises the partition count. Blocking.
    pub fn add_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _guard = self.lock_changes();
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_owned()))?;
        let current = topic.partitions();
        if count <= current.len() as i32 || count > MAX_PARTITIONS {
            return Err(TopicError::InvalidPartitions(count));
        }
        if validate_only {
            return Ok(());
        }
        let overrides = topic.overrides();
        let config = self.effective_config(&overrides)?;
        self.write_meta(
            name,
            &TopicFile {
                id: topic.id.to_string(),
                partitions: count,
                internal: topic.internal,
                config: overrides,
            },
        )?;
        let mut partitions = current.as_ref().clone();
        for i in current.len() as i32..count {
            partitions.push(self.open_partition(name, i, &config)?);
        }
        *topic.partitions.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(partitions);
        tracing::info!(topic = name, partitions = count, "added partitions");
        Ok(())
    }

    /// Replaces a topic's config overrides and applies them to its logs. Blocking.
    pub fn set_overrides(
        &self,
        name: &str,
        overrides: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _guard = self.lock_changes();
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_owned()))?;
        let config = self.effective_config(&overrides)?;
        if validate_only {
            return Ok(());
        }
        self.write_meta(
            name,
            &TopicFile {
                id: topic.id.to_string(),
                partitions: topic.partitions().len() as i32,
                internal: topic.internal,
                config: overrides.clone(),
            },
        )?;
        for partition in topic.partitions().iter() {
            partition.log.set_config(config.clone());
        }
        *topic.overrides.write().unwrap_or_else(|p| p.into_inner()) = overrides;
        tracing::info!(topic = name, "altered topic config");
        Ok(())
    }

    fn write_meta(&self, name: &str, file: &TopicFile) -> Result<(), TopicError> {
        let text = toml::to_string(file).map_err(|e| TopicError::CorruptMetadata {
            path: self.meta_path(name),
            message: e.to_string(),
        })?;
        write_atomically(&self.meta_path(name), text.as_bytes())
    }

    /// Runs retention on every log; returns the number of segments deleted. Blocking.
    pub fn enforce_retention(&self) -> usize {
        let mut deleted = 0;
        for topic in self.all() {
            for partition in topic.partitions().iter() {
                match partition.log.enforce_retention() {
                    Ok(report) => {
                        deleted += report.segments_deleted;
                        if report.segments_deleted > 0 {
                            self.count_retention(&report);
                            partition.notify();
                        }
                    }
                    Err(error) => {
                        tracing::error!(topic = %topic.name, partition = partition.index, %error, "retention failed")
                    }
                }
            }
        }
        deleted
    }

    fn count_retention(&self, report: &RetentionReport) {
        let segments = u64::try_from(report.segments_deleted).unwrap_or(u64::MAX);
        self.retention_deleted_segments
            .fetch_add(segments, Ordering::Relaxed);
        self.retention_deleted_bytes
            .fetch_add(report.bytes_deleted, Ordering::Relaxed);
    }

    /// Segments and bytes retention has deleted since the broker started.
    pub fn retention_totals(&self) -> RetentionReport {
        RetentionReport {
            segments_deleted: usize::try_from(
                self.retention_deleted_segments.load(Ordering::Relaxed),
            )
            .unwrap_or(usize::MAX),
            bytes_deleted: self.retention_deleted_bytes.load(Ordering::Relaxed),
        }
    }

    /// What the log cleaner (compaction) has done since the broker started.
    pub fn cleaner_totals(&self) -> CleanerTotals {
        self.cleaner.totals()
    }

    /// Flushes logs whose `flush.ms` has passed. Blocking.
    pub fn flush_due(&self) {
        for topic in self.all() {
            for partition in topic.partitions().iter() {
                if let Err(error) = partition.log.flush_if_due() {
                    tracing::error!(topic = %topic.name, partition = partition.index, %error, "flush failed");
                }
            }
        }
    }

    /// Forgets producers idle for `max_idle_ms` in every partition. Blocking.
    pub fn expire_producers(&self, max_idle_ms: i64) {
        for topic in self.all() {
            for partition in topic.partitions().iter() {
                let expired = partition.log.expire_producers(max_idle_ms);
                if expired > 0 {
                    tracing::debug!(topic = %topic.name, partition = partition.index, expired, "expired idle producers");
                }
            }
        }
    }

    /// Closes every log, writing its clean-shutdown marker. Blocking.
    pub fn close_all(&self) -> Result<(), TopicError> {
        let mut first_error = None;
        for topic in self.all() {
            for partition in topic.partitions().iter() {
                partition.notify();
                if let Err(error) = partition.log.close() {
                    tracing::error!(topic = %topic.name, partition = partition.index, %error, "close failed");
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error.into()),
            None => Ok(()),
        }
    }
}

fn lock_data_dir(data_dir: &Path) -> Result<fs::File, TopicError> {
    let path = data_dir.join(".lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_at(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(TopicError::DataDirInUse(data_dir.to_owned())),
        Err(fs::TryLockError::Error(source)) => Err(TopicError::Io { path, source }),
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new content.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TopicError> {
    Ok(runnel_log::write_atomically(path, bytes)?)
}

fn sync_dir(dir: &Path) -> Result<(), TopicError> {
    Ok(runnel_log::sync_dir(dir)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn open(dir: &Path) -> Topics {
        Topics::open(dir, LogConfig::default(), Duration::from_secs(3600)).unwrap()
    }

    #[test]
    fn a_second_broker_on_the_same_data_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = open(dir.path());
        let second = Topics::open(dir.path(), LogConfig::default(), Duration::from_secs(3600));
        assert!(matches!(second, Err(TopicError::DataDirInUse(_))));
        drop(first);
        open(dir.path()); // the lock goes with the broker that held it
    }

    #[test]
    fn names_follow_kafka_rules() {
        assert!(valid_topic_name("orders.v1_x-2"));
        for bad in ["", ".", "..", "a/b", "a b", "ü", &"x".repeat(250)] {
            assert!(!valid_topic_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn topics_survive_reopen_and_deletes_do_not_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let (id, kept_id);
        {
            let topics = open(dir.path());
            let mut overrides = BTreeMap::new();
            overrides.insert("retention.ms".to_owned(), "1234".to_owned());
            id = topics.create("gone", 2, BTreeMap::new(), false).unwrap().id;
            kept_id = topics.create("kept", 1, overrides, false).unwrap().id;
            topics.add_partitions("kept", 3, false).unwrap();
            assert!(matches!(
                topics.create("kept", 1, BTreeMap::new(), false),
                Err(TopicError::Exists(_))
            ));
            topics.delete("gone").unwrap();
            topics.close_all().unwrap();
        }
        // An interrupted delete: the metadata is gone but a partition directory is left.
        fs::create_dir_all(dir.path().join("gone-1")).unwrap();
        let topics = open(dir.path());
        assert!(topics.get("gone").is_none());
        assert!(!dir.path().join("gone-1").exists());
        let kept = topics.get("kept").unwrap();
        assert_eq!(kept.id, kept_id);
        assert_ne!(kept.id, id);
        assert_eq!(kept.partitions().len(), 3);
        assert_eq!(kept.partition(2).unwrap().log.config().retention_ms, 1234);
        assert_eq!(topics.by_id(kept_id).unwrap().name, "kept");
    }

    #[test]
    fn bad_overrides_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let topics = open(dir.path());
        let mut overrides = BTreeMap::new();
        overrides.insert("retention.ms".to_owned(), "soon".to_owned());
        assert!(matches!(
            topics.create("t", 1, overrides, false),
            Err(TopicError::InvalidConfig(_))
        ));
        assert!(!topics.meta_path("t").exists());
        assert!(!dir.path().join("t-0").exists());
    }
}
