//! The worker's metrics in the Prometheus text format (`GET /metrics` of the REST API),
//! per connector and per task, as Kafka Connect's JMX metrics give them: states, records
//! polled, written, failed and dead-lettered, the time of each batch and the offset
//! commits that succeeded or failed.
//!
//! Everything is read from the tasks' statuses at scrape time: nothing is counted twice,
//! and a deleted connector leaves no stale series. Cardinality is bounded by the
//! connectors and tasks that exist (times five states for the state series).

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::status::{BatchTimes, State, TaskStatus, BATCH_SECONDS_BOUNDS};
use crate::worker::ConnectorStatus;

/// The states a state series has one line for, 1 for the current one.
const STATES: [State; 5] = [
    State::Unassigned,
    State::Running,
    State::Paused,
    State::Stopped,
    State::Failed,
];

/// A counter per task, read from its status (`None`: not for this kind of task).
struct TaskCounter {
    name: &'static str,
    help: &'static str,
    value: fn(&TaskStatus) -> Option<u64>,
}

const TASK_COUNTERS: [TaskCounter; 6] = [
    TaskCounter {
        name: "task_records_polled",
        help: "Records a source task polled from its system",
        value: |t| t.records_polled,
    },
    TaskCounter {
        name: "task_records_written",
        help: "Records the target acknowledged (a source's: committed to Kafka)",
        value: |t| Some(t.records_written),
    },
    TaskCounter {
        name: "task_records_failed",
        help: "Records skipped after a failure under errors.tolerance=all",
        value: |t| Some(t.records_failed),
    },
    TaskCounter {
        name: "task_records_dead_lettered",
        help: "Failed records written to the dead-letter topic",
        value: |t| Some(t.records_dead_lettered),
    },
    TaskCounter {
        name: "task_offset_commits",
        help: "Offset commits that succeeded",
        value: |t| Some(t.offset_commits),
    },
    TaskCounter {
        name: "task_offset_commit_failures",
        help: "Offset commits that failed (a sink's records are then read again)",
        value: |t| Some(t.offset_commit_failures),
    },
];

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ConnectorLabels {
    connector: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ConnectorStateLabels {
    connector: String,
    state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TaskLabels {
    connector: String,
    task: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TaskStateLabels {
    connector: String,
    task: usize,
    state: &'static str,
}

/// Renders the statuses of every connector (with their tasks' counters).
pub fn render(connectors: &[ConnectorStatus]) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("runnel_connect");
    let connector_state: Family<ConnectorStateLabels, Gauge> = Family::default();
    let connector_tasks: Family<ConnectorLabels, Gauge> = Family::default();
    let task_state: Family<TaskStateLabels, Gauge> = Family::default();
    let counters: Vec<Family<TaskLabels, Counter>> =
        TASK_COUNTERS.iter().map(|_| Family::default()).collect();
    let retries: Family<TaskLabels, Gauge> = Family::default();
    let mut batch_times = BatchTimesByTask::default();
    for connector in connectors {
        let name = connector.name.clone();
        for state in STATES {
            connector_state
                .get_or_create(&ConnectorStateLabels {
                    connector: name.clone(),
                    state: state.as_str(),
                })
                .set(i64::from(connector.connector.state == state));
        }
        connector_tasks
            .get_or_create(&ConnectorLabels {
                connector: name.clone(),
            })
            .set(i64::try_from(connector.tasks.len()).unwrap_or(i64::MAX));
        for task in &connector.tasks {
            let labels = TaskLabels {
                connector: name.clone(),
                task: task.id,
            };
            for state in STATES {
                task_state
                    .get_or_create(&TaskStateLabels {
                        connector: name.clone(),
                        task: task.id,
                        state: state.as_str(),
                    })
                    .set(i64::from(task.state == state));
            }
            for (counter, family) in TASK_COUNTERS.iter().zip(&counters) {
                if let Some(value) = (counter.value)(task) {
                    family.get_or_create(&labels).inc_by(value);
                }
            }
            retries.get_or_create(&labels).set(
                task.retrying
                    .as_ref()
                    .map_or(0, |r| i64::try_from(r.attempts).unwrap_or(i64::MAX)),
            );
            batch_times.0.push((labels, task.batch_times.clone()));
        }
    }
    registry.register(
        "connector_status",
        "1 for the connector's state (UNASSIGNED, RUNNING, PAUSED, STOPPED, FAILED), 0 for the others",
        connector_state,
    );
    registry.register("connector_tasks", "Tasks of the connector", connector_tasks);
    registry.register(
        "task_status",
        "1 for the task's state, 0 for the others",
        task_state,
    );
    for (counter, family) in TASK_COUNTERS.iter().zip(counters) {
        registry.register(counter.name, counter.help, family);
    }
    registry.register(
        "task_retry_attempts",
        "Attempts of the retry under way against a failing target (0 when none)",
        retries,
    );
    registry.register_with_unit(
        "task_batch_time",
        "Time to put a batch to the target (sinks, retries included) or to poll one (sources)",
        Unit::Seconds,
        batch_times,
    );
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)?;
    Ok(text)
}

/// Each task's batch times, as one Prometheus histogram per task.
#[derive(Debug, Default)]
struct BatchTimesByTask(Vec<(TaskLabels, BatchTimes)>);

impl EncodeMetric for BatchTimesByTask {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, times) in &self.0 {
            let bounds = BATCH_SECONDS_BOUNDS.iter().copied().chain([f64::MAX]);
            let buckets: Vec<(f64, u64)> = bounds.zip(times.counts).collect();
            encoder
                .encode_family(labels)?
                .encode_histogram::<NoLabelSet>(
                    times.sum.as_secs_f64(),
                    times.count(),
                    &buckets,
                    None,
                )?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}
