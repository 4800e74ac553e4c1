//! The connector runtime: sink connectors that keep other systems (PostgreSQL, Redis, a
//! full-text search index, HTTP endpoints) in sync with topics of any Kafka cluster,
//! configured with Kafka Connect's settings and managed through a REST API shaped like Kafka
//! Connect's.
//!
//! A [`Worker`] runs the connectors declared in a directory; each connector runs
//! `tasks.max` [sink tasks](sink::SinkTask) sharing the partitions of its topics in the
//! consumer group `connect-<name>`. The runtime owns reading, conversion, transforms, error
//! handling (dead-letter topic, retries) and offsets; a sink only writes batches.
//!
//! Source connectors run [source tasks](source::SourceTask) in the same worker: the runtime
//! writes what they poll to Kafka in transactions that also carry their offsets, in a
//! compacted offsets topic, so a restart neither loses nor repeats a record.

pub mod cli;
pub mod config;
pub mod convert;
mod dead_letter;
pub mod error;
mod kafka;
mod metrics;
pub mod record;
pub mod rest;
pub mod sink;
pub mod source;
pub mod status;
mod target_state;
mod task;
pub mod transform;
mod worker;

pub use dead_letter::{Failure, Stage};
pub use error::{ConfigError, ConnectError, SinkError};
pub use kafka::KafkaSettings;
pub use rest::ConnectRuntime;
pub use sink::http::{sign as http_signature, SIGNATURE_HEADER};
pub use worker::{
    ConnectorInfo, ConnectorState, ConnectorStatus, PartitionOffset, Worker, WorkerConfig,
};
