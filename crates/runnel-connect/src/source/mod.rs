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

    /// The task ends (stopped, or failed): the source releases what it holds in its system
    /// (a replication session, so the next task can take the slot at once).
    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

/// Makes task `task` of a source connector from its settings.
pub type SourceFactory = fn(&ConnectorConfig, usize) -> Result<Box<dyn SourceTask>, ConfigError>;

/// The source connector classes a worker knows by `connector.class`: the file source, and
/// the ones registered by crates that implement sources (change data capture).
#[derive(Clone)]
pub struct SourceClasses {
    classes: Vec<(String, SourceFactory)>,
}

impl Default for SourceClasses {
    fn default() -> SourceClasses {
        let mut classes = SourceClasses {
            classes: Vec::new(),
        };
        for name in file::CLASS_NAMES {
            classes.register(name, |config, task| {
                Ok(Box::new(file::FileSource::new(config, task)?))
            });
        }
        classes
    }
}

impl std::fmt::Debug for SourceClasses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.classes.iter().map(|(name, _)| name))
            .finish()
    }
}

impl SourceClasses {
    /// Makes `class` a source whose tasks `factory` makes (replacing a class of that name).
    pub fn register(&mut self, class: &str, factory: SourceFactory) {
        self.classes.retain(|(name, _)| name != class);
        self.classes.push((class.to_owned(), factory));
    }

    /// Whether `class` names a source connector.
    pub fn is_source(&self, class: &str) -> bool {
        self.classes.iter().any(|(name, _)| name == class)
    }

    /// Task `task` of the source connector `config` declares.
    pub fn create(
        &self,
        config: &ConnectorConfig,
        task: usize,
    ) -> Result<Box<dyn SourceTask>, ConfigError> {
        let class = config.class();
        match self.classes.iter().find(|(name, _)| name == class) {
            Some((_, factory)) => factory(config, task),
            None => Err(ConfigError::UnknownClass(class.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(class: &str) -> ConnectorConfig {
        let settings = [
            ("name", "s"),
            ("connector.class", class),
            ("file", "/nowhere"),
            ("topic", "t"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        ConnectorConfig::new(settings).unwrap()
    }

    #[test]
    fn registered_classes_are_sources_and_others_are_not() {
        let mut classes = SourceClasses::default();
        assert!(classes.is_source("file") && classes.is_source("FileStreamSource"));
        assert!(!classes.is_source("postgres"));
        assert!(matches!(
            classes.create(&config("lines"), 0),
            Err(ConfigError::UnknownClass(class)) if class == "lines"
        ));
        classes.register("lines", |config, task| {
            Ok(Box::new(file::FileSource::new(config, task)?))
        });
        assert!(classes.is_source("lines"));
        assert!(classes.create(&config("lines"), 0).is_ok());
    }
}
