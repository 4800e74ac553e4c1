//! The rules that turn a partition's commit history into a status.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::history::{Commit, History, Limits, PartitionKey};

/// A partition's (or a group's) consumer status, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Caught up, or keeping up.
    Ok,
    /// The committed offsets move, but the lag grew at every commit of the window.
    Warn,
    /// A committed offset went back (offsets reset, or a consumer reprocessing).
    Rewind,
    /// Commits keep coming with the same offset while records wait.
    Stall,
    /// No commit for longer than the window while records wait.
    Stop,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Ok,
        Status::Warn,
        Status::Rewind,
        Status::Stall,
        Status::Stop,
    ];

    /// 0 (OK) to 4 (STOP), in the order of [`Status::ALL`]: the value of a status gauge.
    pub fn severity(self) -> u8 {
        self as u8
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Rewind => "REWIND",
            Status::Stall => "STALL",
            Status::Stop => "STOP",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One partition of a group, evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub status: Status,
    pub committed_offset: i64,
    pub log_end: i64,
    /// Records between the committed offset and the log end.
    pub lag: i64,
    pub last_commit_ms: i64,
    /// Commits within the window the status was decided on.
    pub commits_in_window: usize,
    /// The commits kept (within the window, the latest always), oldest first, each with
    /// the lag seen when it was made: only in a single group's report
    /// ([`crate::LagEvaluator::group_report`]), for a chart of the recent past.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<LagPoint>,
}

/// One commit of a partition's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LagPoint {
    /// When the group committed, in milliseconds since the Unix epoch.
    pub time_ms: i64,
    pub offset: i64,
    /// Records between the offset and the log end when the commit was first seen.
    pub lag: i64,
}

/// A group, evaluated: the worst status of its partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupLag {
    pub group: String,
    pub status: Status,
    pub total_lag: i64,
    pub partitions: Vec<PartitionLag>,
}

/// Every group, evaluated at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LagReport {
    /// The time the statuses are as of, in milliseconds since the Unix epoch.
    pub evaluated_at_ms: i64,
    pub window_ms: i64,
    /// Observations of partitions beyond `Limits::max_partitions`, not evaluated.
    pub untracked_observations: u64,
    pub groups: Vec<GroupLag>,
}

impl LagReport {
    pub fn group(&self, name: &str) -> Option<&GroupLag> {
        self.groups.iter().find(|g| g.group == name)
    }
}

/// Whether a group's evaluation carries each partition's commit history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WithHistory {
    Yes,
    No,
}

pub(crate) fn evaluate_group(
    group: &str,
    partitions: &BTreeMap<PartitionKey, History>,
    now_ms: i64,
    limits: &Limits,
    with_history: WithHistory,
) -> GroupLag {
    let partitions: Vec<PartitionLag> = partitions
        .iter()
        .filter_map(|((topic, partition), history)| {
            let last = history.commits.back()?;
            let (status, commits_in_window) = status(history, now_ms, limits.window_ms);
            Some(PartitionLag {
                topic: topic.clone(),
                partition: *partition,
                status,
                committed_offset: last.offset,
                log_end: history.log_end,
                lag: current_lag(history, last),
                last_commit_ms: last.time_ms,
                commits_in_window,
                history: match with_history {
                    WithHistory::Yes => history
                        .commits
                        .iter()
                        .map(|c| LagPoint {
                            time_ms: c.time_ms,
                            offset: c.offset,
                            lag: c.lag(),
                        })
                        .collect(),
                    WithHistory::No => Vec::new(),
                },
            })
        })
        .collect();
    GroupLag {
        group: group.to_owned(),
        status: partitions
            .iter()
            .map(|p| p.status)
            .max()
            .unwrap_or(Status::Ok),
        total_lag: partitions
            .iter()
            .fold(0i64, |sum, p| sum.saturating_add(p.lag)),
        partitions,
    }
}

fn current_lag(history: &History, last: &Commit) -> i64 {
    history.log_end.saturating_sub(last.offset).max(0)
}

/// The status of one partition, and how many commits of the window decided it. In order:
/// 1. nothing waits to be read: OK;
/// 2. the latest commit is older than the window: STOP;
/// 3. an offset went back within the window: REWIND;
/// 4. a commit of the window had nothing waiting: OK (the consumer caught up meanwhile);
/// 5. two commits or more, all of the same offset: STALL;
/// 6. two commits or more, offsets moving, the lag up at every commit: WARN;
/// 7. otherwise OK.
fn status(history: &History, now_ms: i64, window_ms: i64) -> (Status, usize) {
    let Some(last) = history.commits.back() else {
        return (Status::Ok, 0);
    };
    let since = now_ms.saturating_sub(window_ms);
    let window: Vec<&Commit> = history
        .commits
        .iter()
        .filter(|c| c.time_ms >= since)
        .collect();
    let status = if current_lag(history, last) == 0 {
        Status::Ok
    } else if last.time_ms < since {
        Status::Stop
    } else if window.windows(2).any(|w| w[1].offset < w[0].offset) {
        Status::Rewind
    } else if window.iter().any(|c| c.lag() == 0) {
        Status::Ok
    } else if window.len() >= 2 && window.iter().all(|c| c.offset == last.offset) {
        Status::Stall
    } else if window.len() >= 2 && window.windows(2).all(|w| w[1].lag() > w[0].lag()) {
        Status::Warn
    } else {
        Status::Ok
    };
    (status, window.len())
}
