use std::collections::BTreeMap;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
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
    /// Time those commits took, from writing the stores' changes to the offsets committed.
    pub commit_time: Duration,
    /// Changelog and local entries applied while restoring stores.
    pub records_restored: u64,
    /// The partitions (task ids) this instance processes.
    pub assigned_partitions: Vec<u32>,
    /// Per input topic and partition: the event-time watermark.
    pub watermarks: BTreeMap<(String, u32), Timestamp>,
    /// Per input topic and partition: records behind the end of the partition.
    pub lag: BTreeMap<(String, u32), i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AppLabels {
    application: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PartitionLabels {
    application: String,
    topic: String,
    partition: u32,
}

impl Metrics {
    /// These metrics in the Prometheus text format (version 0.0.4), each series labelled
    /// `application` (the application id), for the application to serve on its own `/metrics`. Series per
    /// input partition are bounded by the partitions this instance is assigned.
    pub fn render(&self, application_id: &str) -> Result<String, std::fmt::Error> {
        let app = AppLabels {
            application: application_id.to_owned(),
        };
        let mut registry = Registry::with_prefix("runnel_streams");
        let counters = [
            (
                "records_in",
                "Input records processed (again after a rebalance or an aborted commit)",
                self.records_in,
            ),
            (
                "records_committed",
                "Input records processed whose results and offsets are committed",
                self.records_committed,
            ),
            (
                "records_skipped",
                "Input records skipped because they did not decode",
                self.records_skipped,
            ),
            (
                "records_out",
                "Records written to output and repartition topics",
                self.records_out,
            ),
            (
                "late_records_dropped",
                "Records dropped as too late by windowed aggregations",
                self.late_records_dropped,
            ),
            (
                "commits",
                "Commits completed (transactions, under exactly-once)",
                self.commits,
            ),
            (
                "records_restored",
                "Changelog and local entries applied while restoring state stores",
                self.records_restored,
            ),
        ];
        for (name, help, value) in counters {
            let family: Family<AppLabels, Counter> = Family::default();
            family.get_or_create(&app).inc_by(value);
            registry.register(name, help, family);
        }
        let commit_time: Family<AppLabels, Counter<f64>> = Family::default();
        commit_time
            .get_or_create(&app)
            .inc_by(self.commit_time.as_secs_f64());
        registry.register_with_unit(
            "commit_time",
            "Time spent committing; divided by the commits, the mean commit latency",
            Unit::Seconds,
            commit_time,
        );
        let assigned: Family<AppLabels, Gauge> = Family::default();
        assigned
            .get_or_create(&app)
            .set(i64::try_from(self.assigned_partitions.len()).unwrap_or(i64::MAX));
        registry.register(
            "assigned_partitions",
            "Input partitions (tasks) this instance processes",
            assigned,
        );
        let per_partition = |(topic, partition): &(String, u32)| PartitionLabels {
            application: application_id.to_owned(),
            topic: topic.clone(),
            partition: *partition,
        };
        let lag: Family<PartitionLabels, Gauge> = Family::default();
        for (key, records) in &self.lag {
            lag.get_or_create(&per_partition(key)).set(*records);
        }
        registry.register(
            "lag_records",
            "Records behind the end of the input partition",
            lag,
        );
        let watermarks: Family<PartitionLabels, Gauge<f64, std::sync::atomic::AtomicU64>> =
            Family::default();
        for (key, watermark) in &self.watermarks {
            watermarks
                .get_or_create(&per_partition(key))
                .set(*watermark as f64 / 1000.0);
        }
        registry.register_with_unit(
            "watermark",
            "Event-time watermark of the input partition (since the Unix epoch)",
            Unit::Seconds,
            watermarks,
        );
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_figure_is_rendered_with_the_application_id() {
        let metrics = Metrics {
            records_in: 7,
            records_committed: 5,
            records_out: 3,
            commits: 2,
            commit_time: Duration::from_millis(250),
            assigned_partitions: vec![0, 1],
            watermarks: BTreeMap::from([(("clicks".to_owned(), 1), 1_500)]),
            lag: BTreeMap::from([(("clicks".to_owned(), 1), 4)]),
            ..Metrics::default()
        };
        let text = metrics.render("counter").unwrap();
        for line in [
            "runnel_streams_records_in_total{application=\"counter\"} 7",
            "runnel_streams_records_committed_total{application=\"counter\"} 5",
            "runnel_streams_records_out_total{application=\"counter\"} 3",
            "runnel_streams_records_skipped_total{application=\"counter\"} 0",
            "runnel_streams_commits_total{application=\"counter\"} 2",
            "runnel_streams_commit_time_seconds_total{application=\"counter\"} 0.25",
            "runnel_streams_assigned_partitions{application=\"counter\"} 2",
            "runnel_streams_lag_records{application=\"counter\",topic=\"clicks\",partition=\"1\"} 4",
            "runnel_streams_watermark_seconds{application=\"counter\",topic=\"clicks\",partition=\"1\"} 1.5",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
