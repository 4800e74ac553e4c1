//! The seam between the runtime and a system records come from: a source task turns a
//! position in its system into records, and is told when Kafka has them. The runtime owns
//! producing, transactions, the offsets topic, transforms and restarts, so every source gets
//! them the same way.

mod file;
pub(crate) mod offsets;
pub(crate) mod runner;
pub(crate) mod settings;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::config::ConnectorConfig;
use crate::error::{ConfigError, ConnectError};

/// A source partition (`{"filename": ...}`, `{"server": ...}`) or a position within one
/// (`{"position": 42}`, `{"lsn": 123}`), as Kafka Connect's sources describe them.
pub type SourceMap = Map<String, Value>;

/// Source partitions with their committed offsets.
pub type CommittedOffsets = [(SourceMap, SourceMap)];

/// A record a source task read from its system, ready to be written to Kafka.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    pub source_partition: SourceMap,
    /// The position in the source partition just after this record: where to resume once
    /// the record is in Kafka.
    pub source_offset: SourceMap,
    pub topic: String,
    /// Already converted bytes (the source picks its converter or envelope).
    pub key: Option<Vec<u8>>,
    /// `None` is a tombstone.
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub timestamp_ms: Option<i64>,
}

/// One task of a source connector, reading its system.
#[async_trait]
pub trait SourceTask: Send {
    /// Starts from the latest committed offsets of the connector's source partitions (empty
    /// on first start); each task picks its own partitions among them.
    async fn start(&mut self, committed: &CommittedOffsets) -> Result<(), ConnectError>;

    /// The next records; an empty Vec after a bounded wait when there is nothing new.
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError>;

    /// The records returned so far up to these offsets are committed in Kafka: the source
    /// may release them (confirm a replication slot's flush position, for instance).
    async fn commit(&mut self, _committed: &CommittedOffsets) -> Result<(), ConnectError> {
        Ok(())
    }
}

/// Whether `class` names a source connector.
pub fn is_source(class: &str) -> bool {
    file::CLASS_NAMES.contains(&class)
}

/// The source connector classes and the task each makes.
pub fn create(config: &ConnectorConfig, task: usize) -> Result<Box<dyn SourceTask>, ConfigError> {
    match config.class() {
        class if file::CLASS_NAMES.contains(&class) => {
            Ok(Box::new(file::FileSource::new(config, task)?))
        }
        other => Err(ConfigError::UnknownClass(other.to_owned())),
    }
}
