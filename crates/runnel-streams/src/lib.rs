//! Stream processing in the Kafka Streams model: records in event time, watermarks, windows,
//! aggregations per key and window, and late events handled by a policy chosen per operation.
//!
//! This crate is the deterministic core: nothing here reads a clock, spawns a task or talks
//! to a broker. Event time comes with each record; processing time (for idle partitions) is
//! passed in by the caller. Kafka I/O, persistent state stores and exactly-once processing
//! will sit on top of it.

mod aggregate;
mod change;
mod error;
mod record;
mod serdes;
mod skew;
mod topology;
mod watermark;
mod window;
mod windowed;

pub use aggregate::{Aggregate, Aggregator, Count, Reduce};
pub use change::Change;
pub use error::StreamsError;
pub use record::{Record, Timestamp};
pub use serdes::{BytesSerde, JsonSerde, Serde, StringSerde};
pub use skew::{corrected_event_time, ClockSkewCorrection, DeviceTimes, TimestampExtractor};
pub use topology::{
    GroupedStream, Input, Predicate, Sink, Stream, Table, Topology, TopologyBuilder,
    WindowedGroupedStream, WindowedTable,
};
pub use watermark::WatermarkTracker;
pub use window::{Window, WindowSpec, Windows};
pub use windowed::{EmitMode, LatePolicy, WindowedAggregation, WindowedConfig};
