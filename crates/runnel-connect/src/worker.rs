//! The worker: the connectors declared in a directory, their tasks, and the operations of the
//! REST API (create, reconfigure, delete, pause, resume, stop, restart, offsets).
//!
//! The directory is the store of configurations: a connector created or reconfigured
//! through the API is written there as `<name>.json`, so a restarted worker runs the same
//! connectors. Pause and stop are not stored: a restarted worker runs every connector.

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
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

use crate::config::{ConnectorConfig, SinkSettings, Topics};
use crate::error::{ConfigError, ConnectError};
use crate::kafka::{KafkaSettings, ADMIN_TIMEOUT};
use crate::sink;
use crate::status::{State, StatusCell, TaskStatus};
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
}

/// What the user asked a connector to be doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Running,
    Paused,
    Stopped,
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

/// One partition's committed position, in Kafka Connect's offsets shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionOffset {
    pub partition: SinkPartition,
    pub offset: SinkOffset,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinkPartition {
    pub kafka_topic: String,
    pub kafka_partition: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinkOffset {
    pub kafka_offset: i64,
}

/// The connectors of one worker.
pub struct Worker {
    config: WorkerConfig,
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
        let worker = Arc::new(Worker {
            config,
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
                let mut connector = Connector {
                    config,
                    file,
                    target: Target::Running,
                    failure: None,
                    tasks: Vec::new(),
                };
                worker.start_tasks(&mut connector);
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
        Ok(info(connector))
    }

    pub async fn status(&self, name: &str) -> Result<ConnectorStatus, ConnectError> {
        let connectors = self.connectors.lock().await;
        let connector = connectors
            .get(name)
            .ok_or_else(|| ConnectError::NotFound(name.to_owned()))?;
        let state = match (&connector.failure, connector.target) {
            (Some(_), _) => State::Failed,
            (None, Target::Running) => State::Running,
            (None, Target::Paused) => State::Paused,
            (None, Target::Stopped) => State::Stopped,
        };
        Ok(ConnectorStatus {
            name: name.to_owned(),
            connector: ConnectorState {
                state,
                worker_id: self.config.worker_id.clone(),
                trace: connector.failure.clone(),
            },
            tasks: connector.tasks.iter().map(|t| t.status.get()).collect(),
            kind: "sink",
        })
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
        let created = info(&connector);
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
        let updated = info(&connector);
        self.connectors
            .lock()
            .await
            .insert(updated.name.clone(), connector);
        Ok((false, updated))
    }

    /// Stops the connector's tasks (each commits what its target has) and forgets it.
    pub async fn delete(&self, name: &str) -> Result<(), ConnectError> {
        let removed = self.connectors.lock().await.remove(name);
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
        Ok(())
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
        Ok(())
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
        Ok(())
    }

    /// The positions committed by the connector's consumer group.
    pub async fn offsets(&self, name: &str) -> Result<Vec<PartitionOffset>, ConnectError> {
        let settings = {
            let connectors = self.connectors.lock().await;
            let connector = connectors
                .get(name)
                .ok_or_else(|| ConnectError::NotFound(name.to_owned()))?;
            SinkSettings::parse(&connector.config)?
        };
        let mut config = self.config.kafka.client_config();
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
        let admin: AdminClient<DefaultClientContext> =
            self.config.kafka.client_config().create()?;
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
            let task_status = status.clone();
            let task_name = name.clone();
            let handle = tokio::spawn(async move {
                if let Err(reason) = runner.run(stopped).await {
                    tracing::error!(connector = %task_name, task = id, %reason, "task failed");
                    task_status.update(|s| {
                        s.state = State::Failed;
                        s.trace = Some(reason);
                        s.retrying = None;
                    });
                }
            });
            connector.tasks.push(RunningTask {
                status,
                stop,
                handle: Some(handle),
            });
        }
    }
}

fn group_id(connector: &str) -> String {
    format!("connect-{connector}")
}

fn info(connector: &Connector) -> ConnectorInfo {
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
        kind: "sink",
    }
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
                partition: SinkPartition {
                    kafka_topic: element.topic().to_owned(),
                    kafka_partition: element.partition(),
                },
                offset: SinkOffset {
                    kafka_offset: offset,
                },
            }),
            _ => None,
        })
        .collect();
    offsets.sort_by(|a, b| {
        (&a.partition.kafka_topic, a.partition.kafka_partition)
            .cmp(&(&b.partition.kafka_topic, b.partition.kafka_partition))
    });
    Ok(offsets)
}
