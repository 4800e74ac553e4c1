//! Stream processing in the Kafka Streams model: records in event time, watermarks, windows,
//! aggregations per key and window, joins (stream–stream within a window, stream–table,
//! versioned, global, table–table and by foreign key), and late events handled by a policy
//! chosen per operation.
//!
//! This crate is the deterministic core: nothing here reads a clock, spawns a task or talks
//! to a broker. Event time comes with each record; processing time (for idle partitions) is
//! passed in by the caller. Graphs read and write topics and keep state stores only through
//! the `Topology` (records in with `push_from_topic`, records out with `take_outgoing`,
//! state with `take_state_changes` and `restore`); `runnel-streams-kafka` runs them against
//! a Kafka cluster, with persistent stores and exactly-once processing.
//!
//! ```
//! use runnel_streams::*;
//!
//! let mut builder = TopologyBuilder::new();
//! let (input, views) = builder.source::<String, String>();
//! let per_minute = views
//!     .group_by_key()
//!     .windowed_by(WindowedConfig::new(
//!         WindowSpec::tumbling(60_000)?.with_grace(5_000)?,
//!         LatePolicy::Drop,
//!         EmitMode::Final,
//!     ))
//!     .count()?;
//! per_minute.changes().for_each(|r| println!("{:?}", r.value));
//! // 1 s of out-of-orderness; a partition silent for 10 s no longer holds the watermark.
//! let mut topology = builder.build(1_000, 10_000)?;
//! topology.push(&input, Record::new("ann".into(), "/".into(), 1_000, 0), 0)?;
//! topology.finish()?;
//! assert_eq!(per_minute.get(&"ann".to_string(), Window::new(0, 60_000)), Some(1));
//! # Ok::<(), StreamsError>(())
//! ```

mod aggregate;
pub mod cep;
mod change;
mod error;
mod join;
pub mod nexmark;
mod record;
pub mod search;
mod serdes;
mod skew;
mod topology;
mod watermark;
mod window;
mod windowed;

pub use aggregate::{Aggregate, Aggregator, Count, Reduce};
pub use change::Change;
pub use error::StreamsError;
pub use join::{
    AsOf, Delta, JoinKind, JoinWindows, Joined, Unmatched, VersionedHistory, WindowedJoin,
};
pub use record::{Record, Timestamp};
pub use serdes::{BytesSerde, DecimalSerde, JsonSerde, Serde, StringSerde};
pub use skew::{corrected_event_time, ClockSkewCorrection, DeviceTimes, TimestampExtractor};
pub use topology::{
    GlobalTable, GroupedStream, Incoming, Input, InternalTopic, JoinedTable, Outgoing,
    PatternStream, Predicate, Sink, StandingQueries, StateChange, StoreInfo, Stream, StreamJoin,
    Table, TopicPurpose, Topology, TopologyBuilder, VersionedTable, WindowedGroupedStream,
    WindowedTable,
};
pub use watermark::WatermarkTracker;
pub use window::{Window, WindowSpec, Windows};
pub use windowed::{EmitMode, LatePolicy, WindowedAggregation, WindowedConfig};
