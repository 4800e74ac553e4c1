use std::collections::BTreeMap;

use runnel_streams::Timestamp;

/// What a running application reports about itself, refreshed after every commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Input records processed (again after a rebalance or an aborted commit).
    pub records_in: u64,
    /// Input records processed whose offsets are committed, with all they caused: a
    /// commit after the last of them completed (under exactly-once, its transaction).
    pub records_committed: u64,
    /// Input records skipped because they did not decode (`BadRecords::Skip`).
    pub records_skipped: u64,
    /// Records written to output and repartition topics.
    pub records_out: u64,
    /// Records dropped as too late by windowed aggregations.
    pub late_records_dropped: u64,
    /// Commits completed (transactions, under exactly-once).
    pub commits: u64,
    /// Changelog and local entries applied while restoring stores.
    pub records_restored: u64,
    /// The partitions (task ids) this instance processes.
    pub assigned_partitions: Vec<u32>,
    /// Per input topic and partition: the event-time watermark.
    pub watermarks: BTreeMap<(String, u32), Timestamp>,
    /// Per input topic and partition: records behind the end of the partition.
    pub lag: BTreeMap<(String, u32), i64>,
}
