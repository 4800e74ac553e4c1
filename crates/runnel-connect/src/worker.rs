//! The worker: the connectors declared in a directory, their tasks, and the operations of the
//! REST API (create, reconfigure, delete, pause, resume, stop, restart, offsets).
//!
//! The directory is the store of configurations: a connector created or reconfigured
//! through the API is written there as `<name>.json`, so a restarted worker runs the same
//! connectors; pausing and stopping are stored next to them (`target_state`), so they
//! outlast a restart too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use regex::Regex;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

use crate::config::{tasks_max, ConnectorConfig, SinkSettings, Topics};
use crate::error::{ConfigError, ConnectError};
use crate::kafka::{ClientRole, KafkaSettings, ADMIN_TIMEOUT};
use crate::sink;
use crate::source::offsets::OffsetsTopic;
use crate::source::runner::SourceTaskRunner;
use crate::source::settings::SourceSettings;
use crate::source::SourceClasses;
use crate::status::{State, StatusCell, TaskStatus};
use crate::target_state::{Target, TargetStates};
use crate::task::SinkTaskRunner;

/// The largest number of connector files a directory may hold.
const MAX_CONNECTORS: usize = 1_000;

/// Where the worker finds Kafka and its connectors.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub kafka: KafkaSettings,
    pub connectors_dir: PathBuf,
    /// How this worker is named in statuses (Kafka Connect uses host:port).
    pub worker_id: String,
    /// The source connector classes it runs (`SourceClasses::default()`: the file source).
    pub source_classes: SourceClasses,
}

struct Connector {
    config: ConnectorConfig,
    file: PathBuf,
    target: Target,
    /// Why the connector could not start its tasks (its settings).
    failure: Option<String>,
    tasks: Vec<RunningTask>,
}

struct RunningTask {
    status: StatusCell,
    stop: watch::Sender<bool>,
    /// `None` once the task has been waited for (a stopped connector keeps its tasks'
    /// statuses).
    handle: Option<JoinHandle<()>>,
}

/// A connector's name, settings and tasks, as `GET /connectors/{name}` shows them.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: BTreeMap<String, String>,
    pub tasks: Vec<TaskId>,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskId {
    pub connector: String,
    pub task: usize,
}

/// `GET /connectors/{name}/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorStatus {
    pub name: String,
    pub connector: ConnectorState,
    pub tasks: Vec<TaskStatus>,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectorState {
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// One partition's committed position, in Kafka Connect's offsets shape: for a sink
/// `{"kafka_topic", "kafka_partition"}` and `{"kafka_offset"}`, for a source its source
/// partition and source offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionOffset {
    pub partition: Map<String, Value>,
    pub offset: Map<String, Value>,
}

/// The connectors of one worker.
pub struct Worker {
    config: WorkerConfig,
    targets: TargetStates,
    connectors: Mutex<BTreeMap<String, Connector>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Reads every `.toml` and `.json` file of the directory (creating it if needed) and
    /// starts the connectors they declare. A file that cannot be read is an error; a
    /// connector whose settings are wrong starts as FAILED with the reason.
    pub async fn start(config: WorkerConfig) -> Result<Arc<Worker>, ConnectError> {
        let dir = &config.connectors_dir;
        let dir_error = |e: std::io::Error| ConnectError::Directory {
            path: dir.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(dir_error)?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(dir_error)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| {
                matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("toml" | "json")
                )
            })
            .collect();
        files.sort();
        if files.len() > MAX_CONNECTORS {
            return Err(ConnectError::Directory {
                path: dir.display().to_string(),
                reason: format!("more than {MAX_CONNECTORS} connector files"),
            });
        }
        let targets = TargetStates::new(dir);
        let stored_targets = targets.load()?;
        let worker = Arc::new(Worker {
            config,
            targets,
            connectors: Mutex::new(BTreeMap::new()),
        });
        {
            let mut connectors = worker.connectors.lock().await;
            for file in files {
                let config = ConnectorConfig::read_file(&file)?;
                if connectors.contains_key(config.name()) {
                    return Err(ConnectError::AlreadyExists(format!(
                        "{} (declared again in {})",
                        config.name(),
                        file.display()
                    )));
                }
                let target = stored_targets
                    .get(config.name())
                    .copied()
                    .unwrap_or(Target::Running);
                let mut connector = Connector {
                    config,
                    file,
                    target,
                    failure: None,
                    tasks: Vec::new(),
                };
                match target {
                    Target::Running => worker.start_tasks(&mut connector),
                    Target::Paused => worker.idle_tasks(&mut connector, State::Paused),
                    Target::Stopped => worker.idle_tasks(&mut connector, State::Stopped),
                }
                connectors.insert(connector.config.name().to_owned(), connector);
            }
        }
        Ok(worker)
    }

    pub async fn names(&self) -> Vec<String> {
        self.connectors.lock().await.keys().cloned().collect()
    }

    pub async fn info(&self, name: &str) -> Result<ConnectorInfo, ConnectError> {
        let connectors = self.connectors.lock().await;
        let connector = connectors
            .get(name)
            .ok_or_else(|| ConnectError::NotFound(name.to_owned()))?;
        Ok(self.describe(connector))
    }

    pub async fn status(&self, name: &str) -> Result<ConnectorStatus, ConnectError> {
        let connectors = self.connectors.lock().await;
        let connector = connectors
            .get(name)
            .ok_or_else(|| ConnectError::NotFound(name.to_owned()))?;
        Ok(self.status_of(name, connector))
    }

    /// Every connector's status, by name.
    pub async fn statuses(&self) -> Vec<ConnectorStatus> {
        let connectors = self.connectors.lock().await;
        connectors
            .iter()
            .map(|(name, connector)| self.status_of(name, connector))
            .collect()
    }

    fn status_of(&self, name: &str, connector: &Connector) -> ConnectorStatus {
        let state = match (&connector.failure, connector.target) {
            (Some(_), _) => State::Failed,
            (None, Target::Running) => State::Running,
            (None, Target::Paused) => State::Paused,
            (None, Target::Stopped) => State::Stopped,
        };
        ConnectorStatus {
            name: name.to_owned(),
            connector: ConnectorState {
                state,
                worker_id: self.config.worker_id.clone(),
                trace: connector.failure.clone(),
            },
            tasks: connector.tasks.iter().map(|t| t.status.get()).collect(),
            kind: self.kind(&connector.config),
        }
    }

    /// Creates a connector; it must not exist yet.
    pub async fn create(&self, config: ConnectorConfig) -> Result<ConnectorInfo, ConnectError> {
        let mut connectors = self.connectors.lock().await;
        if connectors.contains_key(config.name()) {
            return Err(ConnectError::AlreadyExists(config.name().to_owned()));
        }
        if connectors.len() >= MAX_CONNECTORS {
            return Err(ConnectError::Conflict(format!(
                "a worker runs at most {MAX_CONNECTORS} connectors"
            )));
        }
        let file = self
            .config
            .connectors_dir
            .join(format!("{}.json", config.name()));
        write_config(&file, &config)?;
        let mut connector = Connector {
            config,
            file,
            target: Target::Running,
            failure: None,
            tasks: Vec::new(),
        };
        self.start_tasks(&mut connector);
        let created = self.describe(&connector);
        connectors.insert(created.name.clone(), connector);
        Ok(created)
    }

    /// Creates the connector or replaces its settings and restarts it. True if created.
    pub async fn put_config(
        &self,
        config: ConnectorConfig,
    ) -> Result<(bool, ConnectorInfo), ConnectError> {
        let existing = {
            let mut connectors = self.connectors.lock().await;
            connectors.remove(config.name())
        };
        let Some(mut connector) = existing else {
            return self.create(config).await.map(|info| (true, info));
        };
        stop_tasks(&mut connector, State::Unassigned).await;
        let file = self
            .config
            .connectors_dir
            .join(format!("{}.json", config.name()));
        write_config(&file, &config)?;
        if connector.file != file {
            // The settings now live in the JSON file; the file they came from would
            // declare the connector a second time.
            let _ = std::fs::remove_file(&connector.file);
        }
        connector.file = file;
        connector.config = config;
        connector.target = Target::Running;
        self.start_tasks(&mut connector);
        let updated = self.describe(&connector);
        let mut connectors = self.connectors.lock().await;
        connectors.insert(updated.name.clone(), connector);
        self.save_targets(&connectors)?;
        Ok((false, updated))
    }

    /// Stops the connector's tasks (each commits what its target has) and forgets it.
    pub async fn delete(&self, name: &str) -> Result<(), ConnectError> {
        let removed = {
            let mut connectors = self.connectors.lock().await;
            let removed = connectors.remove(name);
            self.save_targets(&connectors)?;
            removed
        };
        let mut connector = removed.ok_or_else(|| ConnectError::NotFound(name.to_owned()))?;
        stop_tasks(&mut connector, State::Unassigned).await;
        std::fs::remove_file(&connector.file).map_err(|e| ConnectError::Write {
            path: connector.file.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// Stops the tasks, which commit and leave the group; they resume where they stopped.
    pub async fn pause(&self, name: &str) -> Result<(), ConnectError> {
        self.halt(name, Target::Paused, State::Paused).await
    }

    /// As `pause`, under Kafka Connect's STOPPED state, in which offsets may be reset.
    pub async fn stop(&self, name: &str) -> Result<(), ConnectError> {
        self.halt(name, Target::Stopped, State::Stopped).await
    }

    async fn halt(&self, name: &str, target: Target, state: State) -> Result<(), ConnectError> {
        let mut connectors = self.connectors.lock().await;
        let connector = connectors
            .get_mut(name)
            .ok_or_else(|| ConnectError::NotFound(name.to_owned()))?;
        connector.target = target;
        stop_tasks(connector, state).await;
        self.save_targets(&connectors)
    }

    /// Stores which connectors are paused or stopped.
    fn save_targets(&self, connectors: &BTreeMap<String, Connector>) -> Result<(), ConnectError> {
        self.targets.save(
            connectors
                .iter()
                .map(|(name, connector)| (name.as_str(), connector.target)),
        )
    }

    /// Starts the tasks of a paused or stopped connector.
    pub async fn resume(&self, name: &str) -> Result<(), ConnectError> {
        let mut connectors = self.connectors.lock().await;
        let connector = connectors
            .get_mut(name)
            .ok_or_else(|| ConnectError::NotFound(name.to_owned()))?;
        if connector.target != Target::Running {
            connector.target = Target::Running;
            self.start_tasks(connector);
        }
        self.save_targets(&connectors)
    }

    /// Stops and starts every task, failed ones included.
    pub async fn restart(&self, name: &str) -> Result<(), ConnectError> {
        let mut connectors = self.connectors.lock().await;
        let connector = connectors
            .get_mut(name)
            .ok_or_else(|| ConnectError::NotFound(name.to_owned()))?;
        stop_tasks(connector, State::Unassigned).await;
        connector.target = Target::Running;
        self.start_tasks(connector);
        self.save_targets(&connectors)
    }

    /// A sink's positions committed by its consumer group; a source's offsets in its
    /// offsets topic.
    pub async fn offsets(&self, name: &str) -> Result<Vec<PartitionOffset>, ConnectError> {
        let config = {
            let connectors = self.connectors.lock().await;
            let connector = connectors
                .get(name)
                .ok_or_else(|| ConnectError::NotFound(name.to_owned()))?;
            connector.config.clone()
        };
        if self.is_source(&config) {
            let settings = SourceSettings::parse(&config)?;
            let topic = OffsetsTopic::new(&self.config.kafka, &settings.offsets_topic);
            let offsets = topic.read(name).await.map_err(ConnectError::Source)?;
            return Ok(offsets
                .into_iter()
                .map(|(partition, offset)| PartitionOffset { partition, offset })
                .collect());
        }
        let settings = SinkSettings::parse(&config)?;
        let mut config = self.config.kafka.client_config(ClientRole::Consumer);
        config.set("group.id", group_id(name));
        let consumer: BaseConsumer = config.create()?;
        let committed =
            tokio::task::spawn_blocking(move || committed_offsets(&consumer, &settings.topics))
                .await
                .map_err(|e| {
                    ConnectError::Conflict(format!("reading offsets did not finish: {e}"))
                })??;
        Ok(committed)
    }

    /// Forgets the connector's positions, in Kafka and in its target, so it starts over from
    /// the earliest records. The connector must be stopped or paused, as in Kafka Connect.
    pub async fn reset_offsets(&self, name: &str) -> Result<(), ConnectError> {
        let connectors = self.connectors.lock().await;
        let connector = connectors
            .get(name)
            .ok_or_else(|| ConnectError::NotFound(name.to_owned()))?;
        if connector.target == Target::Running {
            return Err(ConnectError::Conflict(format!(
                "connector {name} is running: stop or pause it before resetting its offsets"
            )));
        }
        if self.is_source(&connector.config) {
            let settings = SourceSettings::parse(&connector.config)?;
            let topic = OffsetsTopic::new(&self.config.kafka, &settings.offsets_topic);
            return topic.clear(name).await.map_err(ConnectError::Source);
        }
        let admin: AdminClient<DefaultClientContext> = self
            .config
            .kafka
            .client_config(ClientRole::Admin)
            .create()?;
        let options = AdminOptions::new().request_timeout(Some(ADMIN_TIMEOUT));
        for result in admin.delete_groups(&[&group_id(name)], &options).await? {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::GroupIdNotFound)) => {}
                Err((group, code)) => {
                    return Err(ConnectError::Conflict(format!(
                        "cannot delete the offsets of group {group}: {code}"
                    )))
                }
            }
        }
        let mut sink = sink::create(&connector.config, 0)?;
        sink.reset_positions().await?;
        Ok(())
    }

    /// Stops every connector: each task finishes its batch and commits.
    pub async fn shutdown(&self) {
        let mut connectors = self.connectors.lock().await;
        for connector in connectors.values_mut() {
            stop_tasks(connector, State::Unassigned).await;
        }
    }

    fn start_tasks(&self, connector: &mut Connector) {
        connector.failure = None;
        connector.tasks.clear();
        if self.is_source(&connector.config) {
            return self.start_source_tasks(connector);
        }
        let name = connector.config.name().to_owned();
        let prepared = SinkSettings::parse(&connector.config).and_then(|settings| {
            let settings = Arc::new(settings);
            (0..settings.tasks_max)
                .map(|id| Ok((id, sink::create(&connector.config, id)?)))
                .collect::<Result<Vec<_>, ConfigError>>()
                .map(|sinks| (settings, sinks))
        });
        let (settings, sinks) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                tracing::error!(connector = %name, error = %e, "cannot start the connector");
                connector.failure = Some(e.to_string());
                return;
            }
        };
        for (id, sink) in sinks {
            let status = StatusCell::new(id, &self.config.worker_id);
            let (stop, stopped) = watch::channel(false);
            let runner = SinkTaskRunner {
                connector: name.clone(),
                task_id: id,
                settings: Arc::clone(&settings),
                kafka: self.config.kafka.clone(),
                sink,
                status: status.clone(),
                stored: Default::default(),
            };
            let handle = tokio::spawn(fail_on_error(
                name.clone(),
                id,
                status.clone(),
                runner.run(stopped),
            ));
            connector.tasks.push(RunningTask {
                status,
                stop,
                handle: Some(handle),
            });
        }
    }
}

impl Worker {
    fn is_source(&self, config: &ConnectorConfig) -> bool {
        self.config.source_classes.is_source(config.class())
    }

    /// Whether a connector reads from a system into Kafka (`source`) or the other way.
    fn kind(&self, config: &ConnectorConfig) -> &'static str {
        if self.is_source(config) {
            "source"
        } else {
            "sink"
        }
    }

    /// A connector's name, settings and tasks.
    fn describe(&self, connector: &Connector) -> ConnectorInfo {
        let name = connector.config.name().to_owned();
        ConnectorInfo {
            config: connector.config.settings().clone(),
            tasks: (0..connector.tasks.len())
                .map(|task| TaskId {
                    connector: name.clone(),
                    task,
                })
                .collect(),
            name,
            kind: self.kind(&connector.config),
        }
    }

    /// The tasks of a connector restored paused or stopped: their statuses, nothing running.
    fn idle_tasks(&self, connector: &mut Connector, state: State) {
        // Settings that fail to parse show once the connector is resumed.
        let count = tasks_max(&connector.config).unwrap_or(0);
        connector.tasks = (0..count)
            .map(|id| {
                let status = StatusCell::new(id, &self.config.worker_id);
                status.update(|s| s.state = state);
                RunningTask {
                    status,
                    stop: watch::channel(false).0,
                    handle: None,
                }
            })
            .collect();
    }

    fn start_source_tasks(&self, connector: &mut Connector) {
        let name = connector.config.name().to_owned();
        let prepared = SourceSettings::parse(&connector.config).and_then(|settings| {
            let settings = Arc::new(settings);
            (0..settings.tasks_max)
                .map(|id| {
                    let task = self.config.source_classes.create(&connector.config, id)?;
                    Ok((id, task))
                })
                .collect::<Result<Vec<_>, ConfigError>>()
                .map(|sources| (settings, sources))
        });
        let (settings, sources) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                tracing::error!(connector = %name, error = %e, "cannot start the connector");
                connector.failure = Some(e.to_string());
                return;
            }
        };
        for (id, source) in sources {
            let status = StatusCell::new(id, &self.config.worker_id);
            let (stop, stopped) = watch::channel(false);
            let runner = SourceTaskRunner {
                connector: name.clone(),
                task_id: id,
                settings: Arc::clone(&settings),
                kafka: self.config.kafka.clone(),
                status: status.clone(),
            };
            let handle = tokio::spawn(fail_on_error(
                name.clone(),
                id,
                status.clone(),
                runner.run(source, stopped),
            ));
            connector.tasks.push(RunningTask {
                status,
                stop,
                handle: Some(handle),
            });
        }
    }
}

/// Runs a task; a failure becomes its FAILED status with the reason.
async fn fail_on_error<T>(
    connector: String,
    task: usize,
    status: StatusCell,
    run: impl std::future::Future<Output = Result<T, String>>,
) {
    if let Err(reason) = run.await {
        tracing::error!(%connector, task, %reason, "task failed");
        status.update(|s| {
            s.state = State::Failed;
            s.trace = Some(reason);
            s.retrying = None;
        });
    }
}

fn group_id(connector: &str) -> String {
    format!("connect-{connector}")
}

/// Asks every task to stop and waits for them; tasks that did not fail take `state`.
async fn stop_tasks(connector: &mut Connector, state: State) {
    for task in &connector.tasks {
        let _ = task.stop.send(true);
    }
    for task in &mut connector.tasks {
        if let Some(handle) = task.handle.take() {
            if let Err(e) = handle.await {
                tracing::error!(error = %e, "a task ended abnormally");
            }
        }
        task.status.update(|s| {
            if s.state != State::Failed {
                s.state = state;
                s.retrying = None;
            }
        });
    }
}

fn write_config(path: &Path, config: &ConnectorConfig) -> Result<(), ConnectError> {
    let document = serde_json::json!({ "name": config.name(), "config": config.settings() });
    let write_error = |reason: String| ConnectError::Write {
        path: path.display().to_string(),
        reason,
    };
    let text = serde_json::to_string_pretty(&document).map_err(|e| write_error(e.to_string()))?;
    // Written aside and renamed, so a crash leaves the old file or the new one.
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, text).map_err(|e| write_error(e.to_string()))?;
    std::fs::rename(&partial, path).map_err(|e| write_error(e.to_string()))
}

/// The committed offsets of every partition of the topics a connector reads.
fn committed_offsets(
    consumer: &BaseConsumer,
    topics: &Topics,
) -> Result<Vec<PartitionOffset>, ConnectError> {
    let metadata = consumer.fetch_metadata(None, ADMIN_TIMEOUT)?;
    let pattern = match topics {
        Topics::Pattern(pattern) => Some(
            Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| ConfigError::invalid("topics.regex", &e.to_string()))?,
        ),
        Topics::Names(_) => None,
    };
    let wanted = |topic: &str| match (topics, &pattern) {
        (Topics::Names(names), _) => names.iter().any(|n| n == topic),
        (Topics::Pattern(_), Some(regex)) => regex.is_match(topic),
        (Topics::Pattern(_), None) => false,
    };
    let mut partitions = TopicPartitionList::new();
    for topic in metadata.topics().iter().filter(|t| wanted(t.name())) {
        for partition in topic.partitions() {
            partitions.add_partition(topic.name(), partition.id());
        }
    }
    let committed = consumer.committed_offsets(partitions, ADMIN_TIMEOUT)?;
    let mut offsets: Vec<PartitionOffset> = committed
        .elements()
        .iter()
        .filter_map(|element| match element.offset() {
            Offset::Offset(offset) => Some(PartitionOffset {
                partition: Map::from_iter([
                    ("kafka_topic".to_owned(), Value::from(element.topic())),
                    (
                        "kafka_partition".to_owned(),
                        Value::from(element.partition()),
                    ),
                ]),
                offset: Map::from_iter([("kafka_offset".to_owned(), Value::from(offset))]),
            }),
            _ => None,
        })
        .collect();
    offsets.sort_by_key(|entry| {
        (
            entry.partition["kafka_topic"].as_str().map(str::to_owned),
            entry.partition["kafka_partition"].as_i64(),
        )
    });
    Ok(offsets)
}
