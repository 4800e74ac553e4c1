//! The broker's metrics, rendered in the Prometheus text format.
//!
//! Two kinds of series:
//! - **counted as requests are served**: requests per API and version, handling time per API,
//!   bytes and records produced and fetched per topic. Each request updates them once (per
//!   topic for the traffic counters), never once per record: the hot path takes one
//!   read-locked map lookup per series and an atomic add.
//! - **read at scrape time** from the broker's state: open connections, waiting fetches,
//!   log start, end and size per partition, committed offsets and lag per group. They cost
//!   nothing between scrapes, and a deleted topic or group leaves no stale series.
//! - **the lag evaluation's statuses** per group (and partition), from the report the admin
//!   server's evaluator hands in; [`lag_observations`] is what it is fed.
//!
//! Cardinality is bounded: labels are API keys and supported versions (a fixed table),
//! topics, partitions and groups that exist. Series per partition (logs, group offsets)
//! can be left out with [`Detail::Topics`] for brokers with many partitions; per-topic and
//! per-group totals remain.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use prometheus_client::encoding::{
    EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use runnel_lag::{LagReport, Observation, Status};
use runnel_log::{BatchHeader, LatencySnapshot, LATENCY_BOUNDS_MICROS};

use crate::broker::BrokerState;
use crate::handlers::{api_versions, supported};

/// The upper bounds of the request duration buckets, in seconds: 100 µs to 30 s.
const DURATION_BUCKETS: [f64; 17] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// How much detail a scrape carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Per-topic and per-group totals only.
    Topics,
    /// Also one series per partition: log offsets and size, committed offset and lag.
    Partitions,
}

/// An API key as a label value: its Kafka name (`Produce`, `Fetch`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ApiName(ApiKey);

impl EncodeLabelValue for ApiName {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        use std::fmt::Write;
        write!(encoder, "{:?}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    api: ApiName,
    version: i16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ApiLabels {
    api: ApiName,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TopicLabels {
    topic: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PartitionLabels {
    topic: String,
    partition: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HandshakeLabels {
    listener: String,
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct GroupLabels {
    group: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct GroupPartitionLabels {
    group: String,
    topic: String,
    partition: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SaslLabels {
    listener: String,
    /// An enabled mechanism's name, or `none` when the client named no enabled one.
    mechanism: &'static str,
}

type DurationFamily = Family<ApiLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The series counted as requests are served. Cloning shares the counters.
#[derive(Debug, Clone)]
pub struct BrokerMetrics {
    /// Off, nothing is counted and these series stay at zero.
    counting: bool,
    requests: Family<RequestLabels, Counter>,
    unsupported_requests: Counter,
    request_duration: DurationFamily,
    produced_bytes: Family<TopicLabels, Counter>,
    produced_records: Family<TopicLabels, Counter>,
    fetched_bytes: Family<TopicLabels, Counter>,
    fetched_records: Family<TopicLabels, Counter>,
    throttle_time: DurationFamily,
    sasl_authentications: Family<SaslLabels, Counter>,
    sasl_authentication_failures: Family<SaslLabels, Counter>,
}

impl Default for BrokerMetrics {
    fn default() -> Self {
        BrokerMetrics::new(true)
    }
}

impl BrokerMetrics {
    /// Series that count requests if `counting`, else stay at zero at no cost.
    pub fn new(counting: bool) -> Self {
        BrokerMetrics {
            counting,
            requests: Family::default(),
            unsupported_requests: Counter::default(),
            request_duration: Family::new_with_constructor(duration_histogram),
            produced_bytes: Family::default(),
            produced_records: Family::default(),
            fetched_bytes: Family::default(),
            fetched_records: Family::default(),
            throttle_time: Family::new_with_constructor(duration_histogram),
            sasl_authentications: Family::default(),
            sasl_authentication_failures: Family::default(),
        }
    }

    /// Counts one request and how long it took to handle. Versions the broker does not
    /// support are counted together, so a client sending arbitrary versions cannot add series.
    pub(crate) fn request_handled(&self, api: ApiKey, version: i16, took: Duration) {
        if !self.counting {
            return;
        }
        let range = if api == ApiKey::ApiVersions {
            Some((0, api_versions::MAX_VERSION))
        } else {
            supported(api)
        };
        if !range.is_some_and(|(min, max)| (min..=max).contains(&version)) {
            self.unsupported_requests.inc();
            return;
        }
        let api = ApiName(api);
        self.requests
            .get_or_create(&RequestLabels { api, version })
            .inc();
        self.request_duration
            .get_or_create(&ApiLabels { api })
            .observe(took.as_secs_f64());
    }

    /// Counts a request whose client went over a quota, and the time it is held back for.
    pub(crate) fn throttled(&self, api: ApiKey, ms: u64) {
        if !self.counting {
            return;
        }
        self.throttle_time
            .get_or_create(&ApiLabels { api: ApiName(api) })
            .observe(Duration::from_millis(ms).as_secs_f64());
    }

    /// Counts a SASL authentication or re-authentication that succeeded, or one that failed
    /// and closes its connection.
    pub(crate) fn sasl_authenticated(&self, listener: &str, mechanism: &'static str, ok: bool) {
        if !self.counting {
            return;
        }
        let family = match ok {
            true => &self.sasl_authentications,
            false => &self.sasl_authentication_failures,
        };
        family
            .get_or_create(&SaslLabels {
                listener: listener.to_owned(),
                mechanism,
            })
            .inc();
    }

    /// Counts records appended to `topic`: `bytes` as received, `records` as offsets taken.
    pub(crate) fn produced(&self, topic: &str, bytes: usize, records: u64) {
        if !self.counting {
            return;
        }
        let labels = TopicLabels {
            topic: topic.to_owned(),
        };
        self.produced_bytes
            .get_or_create(&labels)
            .inc_by(u64::try_from(bytes).unwrap_or(u64::MAX));
        self.produced_records.get_or_create(&labels).inc_by(records);
    }

    /// Counts the batches of `topic` a fetch response carries.
    pub(crate) fn fetched(&self, topic: &str, batches: &[u8]) {
        if !self.counting {
            return;
        }
        let labels = TopicLabels {
            topic: topic.to_owned(),
        };
        self.fetched_bytes
            .get_or_create(&labels)
            .inc_by(u64::try_from(batches.len()).unwrap_or(u64::MAX));
        self.fetched_records
            .get_or_create(&labels)
            .inc_by(records_in(batches));
    }

    /// Forgets a deleted topic's traffic, so its series disappear with it.
    pub(crate) fn topic_deleted(&self, topic: &str) {
        let labels = TopicLabels {
            topic: topic.to_owned(),
        };
        for family in [
            &self.produced_bytes,
            &self.produced_records,
            &self.fetched_bytes,
            &self.fetched_records,
        ] {
            family.remove(&labels);
        }
    }

    /// Registers the counted series (shared, not copied) in `registry`.
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "requests",
            "Requests handled, by API and version",
            self.requests.clone(),
        );
        registry.register(
            "requests_unsupported_version",
            "Requests refused because the broker does not support their API version",
            self.unsupported_requests.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "Time from a request's arrival to its response being ready, by API (a fetch \
             includes its wait for data)",
            Unit::Seconds,
            self.request_duration.clone(),
        );
        registry.register_with_unit(
            "request_throttle_time",
            "Time a connection was muted after a request, by API, for requests whose client \
             went over a client quota (the count is the number of throttled requests)",
            Unit::Seconds,
            self.throttle_time.clone(),
        );
        registry.register(
            "sasl_authentications",
            "SASL authentications and re-authentications that succeeded, by listener and \
             mechanism",
            self.sasl_authentications.clone(),
        );
        registry.register(
            "sasl_authentication_failures",
            "SASL authentications refused (their connection closed), by listener and mechanism",
            self.sasl_authentication_failures.clone(),
        );
        registry.register_with_unit(
            "topic_produced",
            "Record batch bytes appended, as received, by topic",
            Unit::Bytes,
            self.produced_bytes.clone(),
        );
        registry.register(
            "topic_produced_records",
            "Records appended, by topic",
            self.produced_records.clone(),
        );
        registry.register_with_unit(
            "topic_fetched",
            "Record batch bytes sent to fetching clients, by topic",
            Unit::Bytes,
            self.fetched_bytes.clone(),
        );
        registry.register(
            "topic_fetched_records",
            "Records in the batches sent to fetching clients, by topic",
            self.fetched_records.clone(),
        );
    }
}

/// The records in a run of whole batches, from their headers alone: neither the records
/// nor the checksums are read, which would cost as much as the fetch itself.
fn records_in(mut batches: &[u8]) -> u64 {
    let mut records = 0u64;
    while let Ok(header) = BatchHeader::parse(batches) {
        records += u64::try_from(header.record_count).unwrap_or(0);
        match batches.get(header.total_len()..) {
            Some(rest) => batches = rest,
            None => break,
        }
    }
    records
}

/// The broker's metrics in the Prometheus text format (version 0.0.4), with the consumer
/// lag statuses of `lag`.
pub fn render(
    state: &BrokerState,
    detail: Detail,
    lag: &LagReport,
) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("runnel");
    state.metrics.register(&mut registry);
    register_state(state, detail, &mut registry);
    register_tls(state, &mut registry);
    register_lag_statuses(lag, detail, &mut registry);
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)?;
    Ok(text)
}

fn gauge(value: impl TryInto<i64>) -> Gauge {
    let gauge = Gauge::default();
    gauge.set(value.try_into().unwrap_or(i64::MAX));
    gauge
}

/// The SSL listeners' failed handshakes (no series without SSL listeners, and none for a
/// listener and reason that never failed).
fn register_tls(state: &BrokerState, registry: &mut Registry) {
    let Some(tls) = &state.tls else { return };
    let failures: Family<HandshakeLabels, Counter> = Family::default();
    for (listener, reason, count) in tls.handshake_failures().snapshot() {
        let labels = HandshakeLabels {
            listener,
            reason: reason.as_str(),
        };
        failures.get_or_create(&labels).inc_by(count);
    }
    registry.register(
        "tls_handshake_failures",
        "TLS handshakes of SSL listeners that failed, by listener and reason (no_certificate, bad_certificate, client_alert, protocol, closed, timeout)",
        failures,
    );
}

/// Registers the series read from the broker's state now.
fn register_state(state: &BrokerState, detail: Detail, registry: &mut Registry) {
    registry.register(
        "connections_open",
        "Client connections open",
        gauge(state.connections.open()),
    );
    registry.register(
        "connections_refused",
        "Connections closed as accepted because max.connections or max.connections.per.ip was reached",
        counter(state.connections.refused()),
    );
    registry.register(
        "fetches_waiting",
        "Fetch requests waiting for data",
        gauge(state.parked_fetches()),
    );
    registry.register(
        "request_handler_panics",
        "Request handlers that panicked, each closing its connection (a bug every time)",
        counter(state.handler_panics()),
    );

    let topic_size: Family<TopicLabels, Gauge> = Family::default();
    let log_start: Family<PartitionLabels, Gauge> = Family::default();
    let log_end: Family<PartitionLabels, Gauge> = Family::default();
    let log_size: Family<PartitionLabels, Gauge> = Family::default();
    // (topic, partition) -> log end offset, for the lag of committed offsets.
    let mut ends: BTreeMap<(String, i32), i64> = BTreeMap::new();
    // Producers with a transaction open on some partition.
    let mut transactions = BTreeSet::new();
    let mut sync_latency = LatencySnapshot::default();
    for topic in state.topics.all() {
        let mut size = 0u64;
        for partition in topic.partitions().iter() {
            let log = &partition.log;
            sync_latency.merge(&log.sync_latency());
            let (end, bytes) = (log.high_watermark(), log.size_bytes());
            size = size.saturating_add(bytes);
            transactions.extend(
                log.open_transactions()
                    .into_iter()
                    .map(|(producer, _)| producer),
            );
            ends.insert((topic.name.clone(), partition.index), end);
            if detail == Detail::Partitions {
                let labels = PartitionLabels {
                    topic: topic.name.clone(),
                    partition: partition.index,
                };
                log_start.get_or_create(&labels).set(log.log_start_offset());
                log_end.get_or_create(&labels).set(end);
                log_size
                    .get_or_create(&labels)
                    .set(i64::try_from(bytes).unwrap_or(i64::MAX));
            }
        }
        topic_size
            .get_or_create(&TopicLabels {
                topic: topic.name.clone(),
            })
            .set(i64::try_from(size).unwrap_or(i64::MAX));
    }
    registry.register_with_unit(
        "topic_log_size",
        "Bytes of log segments on disk, by topic",
        Unit::Bytes,
        topic_size,
    );
    registry.register(
        "transactions_open",
        "Producers with a transaction open (written to, neither committed nor aborted yet)",
        gauge(transactions.len()),
    );
    registry.register_with_unit(
        "log_fsync_duration",
        "Time fdatasync took to make appended records durable, over the logs of every topic \
         that exists (a deleted topic's syncs leave the totals)",
        Unit::Seconds,
        SyncLatency(sync_latency),
    );
    register_log_cleanup(state, registry);
    register_transaction_states(state, registry);
    register_share_groups(state, detail, registry);

    let group_lag: Family<GroupLabels, Gauge> = Family::default();
    let committed: Family<GroupPartitionLabels, Gauge> = Family::default();
    let partition_lag: Family<GroupPartitionLabels, Gauge> = Family::default();
    for (group, offsets) in committed_offsets(state) {
        let mut total = 0i64;
        for ((topic, partition), (offset, _)) in offsets {
            // A committed offset of a partition that no longer exists has no lag.
            let lag = ends
                .get(&(topic.clone(), partition))
                .map_or(0, |end| end.saturating_sub(offset).max(0));
            total = total.saturating_add(lag);
            if detail == Detail::Partitions {
                let labels = GroupPartitionLabels {
                    group: group.clone(),
                    topic,
                    partition,
                };
                committed.get_or_create(&labels).set(offset);
                partition_lag.get_or_create(&labels).set(lag);
            }
        }
        group_lag.get_or_create(&GroupLabels { group }).set(total);
    }
    registry.register(
        "group_lag_records",
        "Records between each committed offset and its partition's log end, summed by group",
        group_lag,
    );

    if detail == Detail::Partitions {
        registry.register(
            "partition_log_start_offset",
            "First offset retained in the partition's log",
            log_start,
        );
        registry.register(
            "partition_log_end_offset",
            "Offset the partition's next record will take (the high watermark)",
            log_end,
        );
        registry.register_with_unit(
            "partition_log_size",
            "Bytes of the partition's log segments on disk",
            Unit::Bytes,
            log_size,
        );
        registry.register(
            "group_committed_offset",
            "Offset committed by the group for the partition",
            committed,
        );
        registry.register(
            "group_partition_lag_records",
            "Records between the group's committed offset and the partition's log end",
            partition_lag,
        );
    }
}

fn counter(value: impl TryInto<u64>) -> Counter {
    let counter = Counter::<u64>::default();
    counter.inc_by(value.try_into().unwrap_or(u64::MAX));
    counter
}

/// The fdatasync latency of the logs as a Prometheus histogram.
#[derive(Debug)]
struct SyncLatency(LatencySnapshot);

impl EncodeMetric for SyncLatency {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let bounds = LATENCY_BOUNDS_MICROS
            .iter()
            .map(|&micros| micros as f64 / 1e6)
            .chain([f64::MAX]);
        let buckets: Vec<(f64, u64)> = bounds.zip(self.0.counts).collect();
        encoder.encode_histogram::<NoLabelSet>(
            self.0.sum.as_secs_f64(),
            self.0.count(),
            &buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// Compaction and retention: what the cleaner and the retention checks removed.
fn register_log_cleanup(state: &BrokerState, registry: &mut Registry) {
    let cleaner = state.topics.cleaner_totals();
    registry.register(
        "log_cleaner_passes",
        "Passes of the log cleaner over every compacted log",
        counter(cleaner.passes),
    );
    registry.register(
        "log_cleaner_compactions",
        "Compactions that rewrote segments of a log",
        counter(cleaner.compactions),
    );
    registry.register_with_unit(
        "log_cleaner_reclaimed",
        "Bytes of log segments compaction freed",
        Unit::Bytes,
        counter(cleaner.bytes_reclaimed),
    );
    registry.register(
        "log_cleaner_removed_records",
        "Records compaction removed (superseded values, expired tombstones, aborted data)",
        counter(cleaner.records_removed),
    );
    let retention = state.topics.retention_totals();
    registry.register(
        "log_retention_deleted_segments",
        "Segments deleted by retention (retention.ms, retention.bytes)",
        counter(retention.segments_deleted),
    );
    registry.register_with_unit(
        "log_retention_deleted",
        "Bytes of segments deleted by retention",
        Unit::Bytes,
        counter(retention.bytes_deleted),
    );
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TxnStateLabels {
    state: &'static str,
}

/// Transactional ids per state of the transaction coordinator: one series per state.
fn register_transaction_states(state: &BrokerState, registry: &mut Registry) {
    let ids: Family<TxnStateLabels, Gauge> = Family::default();
    for (txn_state, count) in state.transactions.state_counts() {
        ids.get_or_create(&TxnStateLabels {
            state: txn_state.name(),
        })
        .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
    registry.register(
        "transactional_ids",
        "Transactional ids known to the transaction coordinator, by the state of their \
         transaction (Ongoing: open; PrepareCommit, PrepareAbort: ending)",
        ids,
    );
}

/// In-flight (acquired) and dead-lettered records per share group, and per share-partition
/// with per-partition detail.
fn register_share_groups(state: &BrokerState, detail: Detail, registry: &mut Registry) {
    let in_flight: Family<GroupLabels, Gauge> = Family::default();
    let dead_lettered: Family<GroupLabels, Counter> = Family::default();
    let partition_in_flight: Family<GroupPartitionLabels, Gauge> = Family::default();
    let partition_dead_lettered: Family<GroupPartitionLabels, Counter> = Family::default();
    for partition in state.shares.all_partitions() {
        let (acquired, dead) = {
            let share = partition.lock();
            let acquired = share.records.as_ref().map_or(0, |r| r.summary().acquired);
            (acquired, share.dead_lettered)
        };
        let group = GroupLabels {
            group: partition.key.group.clone(),
        };
        in_flight
            .get_or_create(&group)
            .inc_by(i64::try_from(acquired).unwrap_or(i64::MAX));
        dead_lettered.get_or_create(&group).inc_by(dead);
        if detail == Detail::Partitions {
            let labels = GroupPartitionLabels {
                group: group.group,
                topic: partition.key.topic.clone(),
                partition: partition.key.partition,
            };
            partition_in_flight
                .get_or_create(&labels)
                .set(i64::try_from(acquired).unwrap_or(i64::MAX));
            partition_dead_lettered.get_or_create(&labels).inc_by(dead);
        }
    }
    registry.register(
        "share_group_in_flight_records",
        "Records acquired by share-group consumers and neither acknowledged nor released yet",
        in_flight,
    );
    registry.register(
        "share_group_dead_lettered_records",
        "Records archived by share groups for a dead-letter reason (delivery count exhausted \
         or rejected)",
        dead_lettered,
    );
    if detail == Detail::Partitions {
        registry.register(
            "share_partition_in_flight_records",
            "Records of the share-partition acquired and neither acknowledged nor released yet",
            partition_in_flight,
        );
        registry.register(
            "share_partition_dead_lettered_records",
            "Records of the share-partition archived for a dead-letter reason",
            partition_dead_lettered,
        );
    }
}

/// A group's id and its committed offset and commit time of each (topic, partition).
type GroupCommits = (String, Vec<((String, i32), (i64, i64))>);

/// Every group's committed offsets, copied out so the groups' lock is held only briefly.
fn committed_offsets(state: &BrokerState) -> Vec<GroupCommits> {
    state
        .groups
        .lock()
        .values()
        .filter(|group| !group.offsets.is_empty())
        .map(|group| {
            let offsets = group
                .offsets
                .iter()
                .map(|(key, commit)| (key.clone(), (commit.offset, commit.commit_time_ms)))
                .collect();
            (group.id.clone(), offsets)
        })
        .collect()
}

/// Every group's committed offsets with their commit times and their partitions' log ends
/// (high watermarks): what the lag evaluation looks at. Offsets of partitions that no
/// longer exist are left out.
pub fn lag_observations(state: &BrokerState) -> Vec<Observation> {
    let mut ends: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for topic in state.topics.all() {
        for partition in topic.partitions().iter() {
            ends.insert(
                (topic.name.clone(), partition.index),
                partition.log.high_watermark(),
            );
        }
    }
    committed_offsets(state)
        .into_iter()
        .flat_map(|(group, offsets)| {
            let ends = &ends;
            offsets
                .into_iter()
                .filter_map(move |(key, (offset, commit_time_ms))| {
                    let log_end = *ends.get(&key)?;
                    Some(Observation {
                        group: group.clone(),
                        topic: key.0,
                        partition: key.1,
                        offset,
                        commit_time_ms,
                        log_end,
                    })
                })
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct GroupStatusLabels {
    group: String,
    status: String,
}

/// One series per group and status (1 for the group's status, 0 for the others), and with
/// per-partition detail each partition's status as its severity.
fn register_lag_statuses(lag: &LagReport, detail: Detail, registry: &mut Registry) {
    let statuses: Family<GroupStatusLabels, Gauge> = Family::default();
    let partition_statuses: Family<GroupPartitionLabels, Gauge> = Family::default();
    for group in &lag.groups {
        for status in Status::ALL {
            let labels = GroupStatusLabels {
                group: group.group.clone(),
                status: status.as_str().to_owned(),
            };
            statuses
                .get_or_create(&labels)
                .set(i64::from(status == group.status));
        }
        if detail == Detail::Partitions {
            for partition in &group.partitions {
                let labels = GroupPartitionLabels {
                    group: group.group.clone(),
                    topic: partition.topic.clone(),
                    partition: partition.partition,
                };
                partition_statuses
                    .get_or_create(&labels)
                    .set(i64::from(partition.status.severity()));
            }
        }
    }
    registry.register(
        "group_lag_status",
        "The group's consumer lag status (1 for the current one): OK, WARN (lag growing while \
         offsets move), REWIND, STALL (offsets not moving while lagging) or STOP (no commit \
         within the evaluation window while lagging)",
        statuses,
    );
    if detail == Detail::Partitions {
        registry.register(
            "group_partition_lag_status",
            "The partition's consumer lag status: 0 OK, 1 WARN, 2 REWIND, 3 STALL, 4 STOP",
            partition_statuses,
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn unsupported_versions_share_one_series() {
        let metrics = BrokerMetrics::default();
        metrics.request_handled(ApiKey::Produce, 9, Duration::from_millis(2));
        metrics.request_handled(ApiKey::Produce, 999, Duration::from_millis(2));
        metrics.request_handled(ApiKey::Produce, -7, Duration::from_millis(2));
        let mut registry = Registry::with_prefix("runnel");
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("runnel_requests_total{api=\"Produce\",version=\"9\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("runnel_requests_unsupported_version_total 2\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "runnel_request_duration_seconds_bucket{api=\"Produce\",le=\"0.0025\"} 1\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn metrics_that_do_not_count_stay_at_zero() {
        let metrics = BrokerMetrics::new(false);
        metrics.request_handled(ApiKey::Produce, 9, Duration::from_millis(2));
        metrics.produced("t", 100, 3);
        let mut registry = Registry::with_prefix("runnel");
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        assert!(!text.contains("runnel_requests_total{"), "{text}");
        assert!(!text.contains("runnel_topic_produced"), "{text}");
        assert!(
            text.contains("runnel_requests_unsupported_version_total 0\n"),
            "{text}"
        );
    }

    #[test]
    fn records_are_counted_from_batch_headers_and_a_torn_tail_is_ignored() {
        let mut batches = Vec::new();
        for count in [3i32, 5] {
            let body_len = 61 - 12 + 10; // a header and ten bytes standing for records
            let mut batch = vec![0u8; 12 + body_len];
            batch[8..12].copy_from_slice(&(body_len as i32).to_be_bytes());
            batch[16] = 2; // magic
            batch[23..27].copy_from_slice(&(count - 1).to_be_bytes());
            batch[57..61].copy_from_slice(&count.to_be_bytes());
            batches.extend_from_slice(&batch);
        }
        assert_eq!(records_in(&batches), 8);
        assert_eq!(records_in(&batches[..batches.len() - 30]), 3);
        assert_eq!(records_in(&[]), 0);
    }
}
