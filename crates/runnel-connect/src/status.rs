//! The status of connectors and tasks, shaped like Kafka Connect's
//! `GET /connectors/{name}/status`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

/// The state of a connector or one of its tasks, with Kafka Connect's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Stopped,
    Failed,
}

impl State {
    /// Kafka Connect's name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unassigned => "UNASSIGNED",
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Stopped => "STOPPED",
            State::Failed => "FAILED",
        }
    }
}

/// A task that keeps retrying a target that fails transiently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retrying {
    pub attempts: u64,
    pub last_error: String,
}

/// One task's status and counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskStatus {
    pub id: usize,
    pub state: State,
    pub worker_id: String,
    /// Why the task failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrying: Option<Retrying>,
    /// Records a source task polled from its system (sources only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_polled: Option<u64>,
    /// Records the target acknowledged (for a source: written to Kafka in a committed
    /// transaction).
    pub records_written: u64,
    /// Records that failed conversion, a transform or the sink's checks and were skipped
    /// under `errors.tolerance=all`.
    pub records_failed: u64,
    /// Of those, the records written to the dead-letter topic.
    pub records_dead_lettered: u64,
    /// Offset commits that succeeded (a sink's to Kafka, a source's transactions), and
    /// those that failed; for `/metrics`, not the status answer (as in Kafka Connect).
    #[serde(skip)]
    pub offset_commits: u64,
    #[serde(skip)]
    pub offset_commit_failures: u64,
    /// How long each batch took: put to the target (sinks), polled (sources).
    #[serde(skip)]
    pub batch_times: BatchTimes,
}

/// A task's status, shared between the task and whoever reports it.
#[derive(Debug, Clone)]
pub struct StatusCell(Arc<Mutex<TaskStatus>>);

impl StatusCell {
    pub fn new(id: usize, worker_id: &str) -> StatusCell {
        StatusCell(Arc::new(Mutex::new(TaskStatus {
            id,
            state: State::Unassigned,
            worker_id: worker_id.to_owned(),
            trace: None,
            retrying: None,
            records_polled: None,
            records_written: 0,
            records_failed: 0,
            records_dead_lettered: 0,
            offset_commits: 0,
            offset_commit_failures: 0,
            batch_times: BatchTimes::default(),
        })))
    }

    pub fn get(&self) -> TaskStatus {
        match self.0.lock() {
            Ok(status) => status.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn update(&self, change: impl FnOnce(&mut TaskStatus)) {
        let mut status = match self.0.lock() {
            Ok(status) => status,
            Err(poisoned) => poisoned.into_inner(),
        };
        change(&mut status);
    }
}

/// Upper bounds of the batch time buckets, in seconds: 1 ms to 30 s (a batch put with
/// retries can take long).
pub const BATCH_SECONDS_BOUNDS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How long a task's batches took: a count per bucket of [`BATCH_SECONDS_BOUNDS`] and one
/// above them all, and the total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchTimes {
    pub counts: [u64; BATCH_SECONDS_BOUNDS.len() + 1],
    pub sum: Duration,
}

impl BatchTimes {
    pub fn record(&mut self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = BATCH_SECONDS_BOUNDS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(BATCH_SECONDS_BOUNDS.len());
        self.counts[bucket] += 1;
        self.sum = self.sum.saturating_add(elapsed);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}
