//! What the evaluator remembers: the commits of each partition seen within the window.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::evaluate::{evaluate_group, GroupLag, LagReport, WithHistory};

/// A partition's committed offset as seen at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    /// The committed offset (the next record the group will read).
    pub offset: i64,
    /// When the group committed it, in milliseconds since the Unix epoch. A commit of the
    /// same offset at a later time is a new commit.
    pub commit_time_ms: i64,
    /// The partition's log end (high watermark) when this was observed.
    pub log_end: i64,
}

/// How much the evaluator keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The sliding window, in milliseconds: commits older than this are forgotten (except
    /// the latest), and a partition without a commit for longer is STOP.
    pub window_ms: i64,
    /// Commits kept per partition; older ones go first.
    pub max_commits: usize,
    /// Partitions tracked in all; observations of more are not evaluated, and counted.
    pub max_partitions: usize,
}

impl Default for Limits {
    /// A ten-minute window of at most 64 commits, for up to 100,000 partitions: about 4 KiB
    /// per partition at most.
    fn default() -> Self {
        Limits {
            window_ms: 10 * 60 * 1000,
            max_commits: 64,
            max_partitions: 100_000,
        }
    }
}

/// One commit, with the partition's log end when it was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Commit {
    pub offset: i64,
    pub time_ms: i64,
    pub log_end: i64,
}

impl Commit {
    pub fn lag(&self) -> i64 {
        self.log_end.saturating_sub(self.offset).max(0)
    }
}

/// A partition's recent commits, oldest first, and its log end when last observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct History {
    pub commits: VecDeque<Commit>,
    pub log_end: i64,
}

pub(crate) type PartitionKey = (String, i32);

/// The commit histories of every group's partitions.
#[derive(Debug, Clone)]
pub struct LagEvaluator {
    limits: Limits,
    groups: BTreeMap<String, BTreeMap<PartitionKey, History>>,
    partitions: usize,
    untracked: u64,
}

impl LagEvaluator {
    pub fn new(limits: Limits) -> Self {
        LagEvaluator {
            limits,
            groups: BTreeMap::new(),
            partitions: 0,
            untracked: 0,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Takes one look at every group's committed offsets, made at `now_ms`. A partition
    /// missing from `observations` is forgotten (its offsets were deleted, or its group).
    pub fn observe(&mut self, now_ms: i64, observations: impl IntoIterator<Item = Observation>) {
        let mut seen: BTreeSet<(String, PartitionKey)> = BTreeSet::new();
        for o in observations {
            let key = (o.topic.clone(), o.partition);
            let known = self
                .groups
                .get(&o.group)
                .is_some_and(|group| group.contains_key(&key));
            if !known && self.partitions >= self.limits.max_partitions {
                self.untracked += 1;
                continue;
            }
            if !known {
                self.partitions += 1;
            }
            let history = self
                .groups
                .entry(o.group.clone())
                .or_default()
                .entry(key.clone())
                .or_insert_with(|| History {
                    commits: VecDeque::new(),
                    log_end: o.log_end,
                });
            history.log_end = o.log_end;
            let commit = Commit {
                offset: o.offset,
                time_ms: o.commit_time_ms,
                log_end: o.log_end,
            };
            if history.commits.back().map(|c| c.time_ms) != Some(commit.time_ms) {
                history.commits.push_back(commit);
            }
            self.trim(now_ms, &o.group, &key);
            seen.insert((o.group, key));
        }
        self.forget_unseen(&seen);
    }

    /// Drops commits outside the window or beyond the limit, always keeping the latest.
    fn trim(&mut self, now_ms: i64, group: &str, key: &PartitionKey) {
        let Some(history) = self.groups.get_mut(group).and_then(|g| g.get_mut(key)) else {
            return;
        };
        let oldest_kept = now_ms.saturating_sub(self.limits.window_ms);
        while history.commits.len() > 1
            && (history.commits.len() > self.limits.max_commits.max(1)
                || history
                    .commits
                    .front()
                    .is_some_and(|c| c.time_ms < oldest_kept))
        {
            history.commits.pop_front();
        }
    }

    fn forget_unseen(&mut self, seen: &BTreeSet<(String, PartitionKey)>) {
        let mut forgotten = 0;
        self.groups.retain(|group, partitions| {
            partitions.retain(|key, _| {
                let keep = seen.contains(&(group.clone(), key.clone()));
                forgotten += usize::from(!keep);
                keep
            });
            !partitions.is_empty()
        });
        self.partitions -= forgotten;
    }

    /// Every group's status at `now_ms`, groups by name.
    pub fn report(&self, now_ms: i64) -> LagReport {
        LagReport {
            evaluated_at_ms: now_ms,
            window_ms: self.limits.window_ms,
            untracked_observations: self.untracked,
            groups: self
                .groups
                .iter()
                .map(|(group, partitions)| {
                    evaluate_group(group, partitions, now_ms, &self.limits, WithHistory::No)
                })
                .collect(),
        }
    }

    /// One group's status at `now_ms`, each partition with the commits kept of it; `None`
    /// for a group with no committed offsets.
    pub fn group_report(&self, now_ms: i64, group: &str) -> Option<GroupLag> {
        let partitions = self.groups.get(group)?;
        Some(evaluate_group(
            group,
            partitions,
            now_ms,
            &self.limits,
            WithHistory::Yes,
        ))
    }
}
