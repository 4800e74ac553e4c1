//! Consumer lag evaluation, where Kafka users run Burrow: each (group, topic, partition) gets
//! a status from the history of its commits over a sliding window, and each group the worst
//! status of its partitions.
//!
//! The evaluator is a pure state machine: whoever owns it feeds it [`Observation`]s (a
//! partition's committed offset with its commit time, and the partition's log end when it
//! was looked at) and the current time, and asks for a [`LagReport`]. It reads no clock,
//! does no I/O and holds a bounded amount of memory ([`Limits`]).

mod evaluate;
mod history;

pub use evaluate::{GroupLag, LagPoint, LagReport, PartitionLag, Status};
pub use history::{LagEvaluator, Limits, Observation};
