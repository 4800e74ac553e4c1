//! The seam between the runtime and a target system: a sink task takes batches of records
//! and says when the target has them. The runtime owns reading, converting, transforming,
//! error handling, retries and offsets, so every sink gets them the same way.

pub(crate) mod http;
mod postgres;
mod redis;
pub mod search;

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::config::ConnectorConfig;
use crate::error::{ConfigError, SinkError};
use crate::record::SinkRecord;

/// The next offset to read per `(topic, partition)` (topics as read, before transforms).
pub type Positions = BTreeMap<(String, i32), i64>;

/// One task of a sink connector, writing to its target.
#[async_trait]
pub trait SinkTask: Send {
    /// Whether the sink can take `record`; a refusal sends the record down the error path
    /// (stage `TASK_PUT`) instead of failing the batch.
    fn check(&self, record: &SinkRecord) -> Result<(), String>;

    /// Writes `records` to the target and returns once it has them. `positions` covers
    /// the batch (including records skipped on the way): a target that stores its progress
    /// writes it with the records, atomically, and skips records below what it stored.
    async fn put(&mut self, records: &[SinkRecord], positions: &Positions)
        -> Result<(), SinkError>;

    /// The progress stored in the target for `partitions`, when it stores any: the task
    /// resumes each partition there rather than at Kafka's committed offset.
    async fn stored_positions(
        &mut self,
        _partitions: &[(String, i32)],
    ) -> Result<Positions, SinkError> {
        Ok(Positions::new())
    }

    /// Forgets the progress stored in the target, when it stores any (offset reset).
    async fn reset_positions(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// The connector classes and the task each makes.
pub fn create(config: &ConnectorConfig, task: usize) -> Result<Box<dyn SinkTask>, ConfigError> {
    match config.class() {
        "postgres" | "PostgresSink" => Ok(Box::new(postgres::PostgresSink::new(config, task)?)),
        "redis" | "RedisSink" => Ok(Box::new(redis::RedisSink::new(config)?)),
        "http" | "HttpSink" => Ok(Box::new(http::HttpSink::new(config)?)),
        class if search::CLASSES.contains(&class) => Ok(Box::new(search::SearchSink::new(config)?)),
        other => Err(ConfigError::UnknownClass(other.to_owned())),
    }
}
