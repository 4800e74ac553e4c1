//! Change data capture from PostgreSQL: a consistent snapshot of the captured tables tied to a
//! logical replication slot, then every committed change decoded from `pgoutput`, as change
//! events in Debezium's envelope, each with the source offset to resume after.
//!
//! [`PostgresSource`] has the shape of a source task: `start` with the committed offsets,
//! `poll` for records, `commit` the offsets the broker acknowledged. [`connector`] makes it a
//! source task of the connector runtime; this crate knows nothing about the broker.

mod changes;
pub mod config;
pub mod connector;
pub mod envelope;
mod error;
pub mod mariadb;
mod offsets;
pub mod pgoutput;
mod snapshot;
mod source;
pub mod types;

pub use config::{CdcConfig, ConfigError, DecimalHandling, SnapshotMode};
pub use error::CdcError;
pub use mariadb::{MariaDbConfig, MariaDbSource};
pub use offsets::OffsetMap;
pub use source::{Clock, PostgresSource};

/// One record for a topic, with the source position it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord {
    /// Which stream of positions the offset belongs to: `{"server": <topic.prefix>}`.
    pub source_partition: OffsetMap,
    /// Where the record comes from: `{"lsn", "txId", "lsn_commit", "event"}` for a change,
    /// `{"lsn", "snapshot": true, "last_snapshot_record"}` for a snapshot row.
    pub source_offset: OffsetMap,
    pub topic: String,
    pub key: Option<Vec<u8>>,
    /// `None` is a tombstone.
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub timestamp_ms: Option<i64>,
}
