use std::collections::BTreeMap;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use runnel_streams::Timestamp;

/// Upper bounds (seconds) of the commit latency buckets: a commit is a flush, a transaction
/// commit and a local write, from about a millisecond to the transaction timeout.
pub const COMMIT_LATENCY_BOUNDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A latency histogram: per bucket of `COMMIT_LATENCY_BOUNDS` (and a last one above them)
/// how many commits took that long, and their total time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitLatency {
    pub counts: [u64; COMMIT_LATENCY_BOUNDS.len() + 1],
    pub sum: Duration,
}

impl CommitLatency {
    pub fn observe(&mut self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = COMMIT_LATENCY_BOUNDS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(COMMIT_LATENCY_BOUNDS.len());
        self.counts[bucket] += 1;
        self.sum += took;
    }

    /// The commits observed.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// The size of one state store's partition as of the last commit: its entries, and the
/// bytes of their keys and values as its changelog holds them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreSize {
    pub entries: u64,
    pub bytes: u64,
}

/// Punctuations, as Kafka Streams calls the calls that let time-driven operators act
/// without a record for them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Punctuations {
    /// The watermark of a task moved forward, and its windows, joins and patterns were
    /// told (they close and emit what it passed).
    pub stream_time: u64,
    /// A task was told that processing time passed (every 10 ms), so a silent partition
    /// can become idle and stop holding its watermark back.
    pub wall_clock: u64,
}

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
    /// Records dropped as too late by windowed aggregations, joins and patterns.
    pub late_records_dropped: u64,
    /// Commits completed (transactions, under exactly-once).
    pub commits: u64,
    /// The time each of those commits took, from writing the stores' changes to the
    /// offsets committed.
    pub commit_latency: CommitLatency,
    /// Punctuations over this instance's tasks.
    pub punctuations: Punctuations,
    /// Per state store and partition of this instance's tasks: its size.
    pub store_sizes: BTreeMap<(String, u32), StoreSize>,
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
struct PunctuationLabels {
    application: String,
    kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StoreLabels {
    application: String,
    store: String,
    partition: u32,
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
        registry.register_with_unit(
            "commit_latency",
            "Time a commit took, from writing the stores' changes to the offsets committed",
            Unit::Seconds,
            LatencyByApp(app.clone(), self.commit_latency.clone()),
        );
        let punctuations: Family<PunctuationLabels, Counter> = Family::default();
        for (kind, count) in [
            ("stream_time", self.punctuations.stream_time),
            ("wall_clock", self.punctuations.wall_clock),
        ] {
            let labels = PunctuationLabels {
                application: application_id.to_owned(),
                kind,
            };
            punctuations.get_or_create(&labels).inc_by(count);
        }
        registry.register(
            "punctuations",
            "Punctuations of the tasks: the watermark moved (stream_time), processing time passed (wall_clock)",
            punctuations,
        );
        let store_entries: Family<StoreLabels, Gauge> = Family::default();
        let store_bytes: Family<StoreLabels, Gauge> = Family::default();
        for ((store, partition), size) in &self.store_sizes {
            let labels = StoreLabels {
                application: application_id.to_owned(),
                store: store.clone(),
                partition: *partition,
            };
            store_entries
                .get_or_create(&labels)
                .set(i64::try_from(size.entries).unwrap_or(i64::MAX));
            store_bytes
                .get_or_create(&labels)
                .set(i64::try_from(size.bytes).unwrap_or(i64::MAX));
        }
        registry.register(
            "state_store_entries",
            "Entries of the state store's partition, as of the last commit",
            store_entries,
        );
        registry.register_with_unit(
            "state_store",
            "Bytes of the keys and values of the state store's partition, as of the last commit",
            Unit::Bytes,
            store_bytes,
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

/// One application's commit latency as a Prometheus histogram.
#[derive(Debug)]
struct LatencyByApp(AppLabels, CommitLatency);

impl EncodeMetric for LatencyByApp {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let LatencyByApp(labels, latency) = self;
        // The last bucket is +Inf (an `f64::MAX` bound would be written as a bucket of its
        // own before the +Inf the encoder adds).
        let bounds = COMMIT_LATENCY_BOUNDS.iter().copied().chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = bounds.zip(latency.counts).collect();
        encoder
            .encode_family(labels)?
            .encode_histogram::<NoLabelSet>(
                latency.sum.as_secs_f64(),
                latency.count(),
                &buckets,
                None,
            )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn commit_latencies_fall_in_the_first_bucket_whose_bound_they_do_not_exceed() {
        let mut latency = CommitLatency::default();
        for millis in [0, 1, 2, 30, 30, 60_000] {
            latency.observe(Duration::from_millis(millis));
        }
        // <= 1 ms: 0 and 1; <= 2.5 ms: 2; <= 50 ms: both 30; above 10 s: the minute.
        assert_eq!(latency.counts, [2, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(latency.count(), 6);
        assert_eq!(latency.sum, Duration::from_millis(60_063));
    }

    #[test]
    fn every_figure_is_rendered_with_the_application_id() {
        let mut commit_latency = CommitLatency::default();
        commit_latency.observe(Duration::from_millis(4));
        commit_latency.observe(Duration::from_millis(246));
        let metrics = Metrics {
            records_in: 7,
            records_committed: 5,
            records_out: 3,
            commits: 2,
            commit_latency,
            punctuations: Punctuations {
                stream_time: 6,
                wall_clock: 40,
            },
            store_sizes: BTreeMap::from([(
                ("counts".to_owned(), 1),
                StoreSize {
                    entries: 3,
                    bytes: 42,
                },
            )]),
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
            "# TYPE runnel_streams_commit_latency_seconds histogram",
            "runnel_streams_commit_latency_seconds_sum{application=\"counter\"} 0.25",
            "runnel_streams_commit_latency_seconds_count{application=\"counter\"} 2",
            "runnel_streams_commit_latency_seconds_bucket{application=\"counter\",le=\"0.001\"} 0",
            "runnel_streams_commit_latency_seconds_bucket{application=\"counter\",le=\"0.005\"} 1",
            "runnel_streams_commit_latency_seconds_bucket{application=\"counter\",le=\"0.25\"} 2",
            "runnel_streams_commit_latency_seconds_bucket{application=\"counter\",le=\"+Inf\"} 2",
            "runnel_streams_punctuations_total{application=\"counter\",kind=\"stream_time\"} 6",
            "runnel_streams_punctuations_total{application=\"counter\",kind=\"wall_clock\"} 40",
            "runnel_streams_state_store_entries{application=\"counter\",store=\"counts\",partition=\"1\"} 3",
            "runnel_streams_state_store_bytes{application=\"counter\",store=\"counts\",partition=\"1\"} 42",
            "runnel_streams_assigned_partitions{application=\"counter\"} 2",
            "runnel_streams_lag_records{application=\"counter\",topic=\"clicks\",partition=\"1\"} 4",
            "runnel_streams_watermark_seconds{application=\"counter\",topic=\"clicks\",partition=\"1\"} 1.5",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        // Above the last bound is the +Inf bucket only.
        assert_eq!(text.matches("commit_latency_seconds_bucket").count(), 13);
    }
}
