//! The status of connectors and tasks, shaped like Kafka Connect's
//! `GET /connectors/{name}/status`.

use std::sync::{Arc, Mutex};

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
