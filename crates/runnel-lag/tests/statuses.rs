//! Scripted commit histories, one per status, and the bounds the evaluator keeps to.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use runnel_lag::{LagEvaluator, LagPoint, Limits, Observation, Status};

const WINDOW_MS: i64 = 60_000;

fn evaluator() -> LagEvaluator {
    LagEvaluator::new(Limits {
        window_ms: WINDOW_MS,
        max_commits: 16,
        max_partitions: 1_000,
    })
}

fn seen(partition: i32, offset: i64, commit_time_ms: i64, log_end: i64) -> Observation {
    Observation {
        group: "g".into(),
        topic: "t".into(),
        partition,
        offset,
        commit_time_ms,
        log_end,
    }
}

/// Looks every 10 s from t = 0 at partition 0, whose commit and log end are `script(step)`
/// (offset, commit time, log end); the status at the last look.
fn status_after(steps: i64, script: impl Fn(i64) -> (i64, i64, i64)) -> Status {
    let mut lag = evaluator();
    let mut now = 0;
    for step in 0..steps {
        now = step * 10_000;
        let (offset, time, end) = script(step);
        lag.observe(now, [seen(0, offset, time, end)]);
    }
    let report = lag.report(now);
    let group = report.group("g").unwrap();
    assert_eq!(group.partitions.len(), 1);
    assert_eq!(group.status, group.partitions[0].status);
    group.status
}

#[test]
fn a_consumer_at_the_log_end_is_ok() {
    assert_eq!(
        status_after(10, |s| (s * 100, s * 10_000, s * 100)),
        Status::Ok
    );
}

#[test]
fn a_consumer_keeping_up_with_a_steady_lag_is_ok() {
    // 50 records behind at every commit, while both move.
    assert_eq!(
        status_after(10, |s| (s * 100, s * 10_000, s * 100 + 50)),
        Status::Ok
    );
}

#[test]
fn a_lag_that_grows_at_every_commit_while_offsets_move_is_warn() {
    assert_eq!(
        status_after(10, |s| (s * 100, s * 10_000, s * 150 + 10)),
        Status::Warn
    );
}

#[test]
fn a_lag_that_grew_but_came_back_to_zero_in_the_window_is_ok() {
    // Behind and falling back, except at 30 s when it had caught up: within the window.
    let script = |s: i64| {
        let end = s * 150 + 10;
        let offset = if s < 3 { s * 100 } else { 460 + (s - 3) * 100 };
        (offset, s * 10_000, end)
    };
    assert_eq!(status_after(3, script), Status::Warn);
    assert_eq!(status_after(10, script), Status::Ok);
}

#[test]
fn commits_of_the_same_offset_while_records_wait_are_stall() {
    assert_eq!(
        status_after(10, |s| (500, s * 10_000, 800 + s)),
        Status::Stall
    );
}

#[test]
fn no_commit_for_longer_than_the_window_while_records_wait_is_stop() {
    // One commit at 0 s; looks go on to 90 s, with 30 records waiting.
    assert_eq!(status_after(10, |_| (100, 0, 130)), Status::Stop);
    let mut lag = evaluator();
    lag.observe(0, [seen(0, 100, 0, 130)]);
    assert_eq!(lag.report(WINDOW_MS).groups[0].status, Status::Ok);
    assert_eq!(lag.report(WINDOW_MS + 1).groups[0].status, Status::Stop);
}

#[test]
fn a_quiet_consumer_with_nothing_to_read_is_ok_however_long_it_waits() {
    let mut lag = evaluator();
    lag.observe(0, [seen(0, 100, 0, 100)]);
    assert_eq!(lag.report(10 * WINDOW_MS).groups[0].status, Status::Ok);
}

#[test]
fn an_offset_that_went_back_is_rewind() {
    let script = |s: i64| {
        let offset = if s < 5 { s * 100 } else { (s - 5) * 100 };
        (offset, s * 10_000, 1_000)
    };
    assert_eq!(status_after(10, script), Status::Rewind);
}

#[test]
fn a_rewind_leaves_the_window_and_the_status_with_it() {
    // Offsets went back at 10 s, then moved on with a lag that shrinks.
    let script = |s: i64| {
        let offset = if s == 0 { 500 } else { s * 50 };
        (offset, s * 10_000, 1_000)
    };
    assert_eq!(status_after(5, script), Status::Rewind);
    assert_eq!(status_after(12, script), Status::Ok);
}

#[test]
fn the_group_takes_the_worst_status_of_its_partitions() {
    let mut lag = evaluator();
    for step in 0..10 {
        let now = step * 10_000;
        lag.observe(
            now,
            [
                seen(0, step * 100, now, step * 100),
                seen(1, 100, now, 200 + step),
                seen(2, step * 100, now, step * 150 + 10),
            ],
        );
    }
    let report = lag.report(90_000);
    let group = report.group("g").unwrap();
    let statuses: Vec<Status> = group.partitions.iter().map(|p| p.status).collect();
    assert_eq!(statuses, [Status::Ok, Status::Stall, Status::Warn]);
    assert_eq!(group.status, Status::Stall);
    let lags: i64 = group.partitions.iter().map(|p| p.lag).sum();
    assert_eq!(group.total_lag, lags);
    assert_eq!(group.partitions[1].lag, 209 - 100);
}

#[test]
fn partitions_whose_offsets_are_gone_are_forgotten() {
    let mut lag = evaluator();
    lag.observe(0, [seen(0, 1, 0, 5), seen(1, 1, 0, 5)]);
    lag.observe(1_000, [seen(1, 2, 1_000, 5)]);
    let report = lag.report(1_000);
    let partitions: Vec<i32> = report.groups[0]
        .partitions
        .iter()
        .map(|p| p.partition)
        .collect();
    assert_eq!(partitions, [1]);
    lag.observe(2_000, []);
    assert!(lag.report(2_000).groups.is_empty());
}

#[test]
fn partitions_beyond_the_limit_are_counted_not_tracked() {
    let mut lag = LagEvaluator::new(Limits {
        window_ms: WINDOW_MS,
        max_commits: 4,
        max_partitions: 2,
    });
    lag.observe(0, (0..5).map(|p| seen(p, 1, 0, 2)));
    let report = lag.report(0);
    assert_eq!(report.groups[0].partitions.len(), 2);
    assert_eq!(report.untracked_observations, 3);
}

#[test]
fn a_groups_own_report_carries_the_commits_kept_with_their_lag() {
    let mut lag = evaluator();
    // A commit every 10 s for 5 minutes: the window (60 s) keeps the last six or seven.
    for step in 0..30 {
        let now = step * 10_000;
        lag.observe(now, [seen(0, step * 10, now, step * 10 + step)]);
    }
    let now = 29 * 10_000;
    let group = lag.group_report(now, "g").unwrap();
    let history = &group.partitions[0].history;
    assert_eq!(history.len(), 7, "{history:?}");
    assert!(history.iter().all(|p| p.time_ms >= now - WINDOW_MS));
    assert_eq!(
        history.last().unwrap(),
        &LagPoint {
            time_ms: now,
            offset: 290,
            lag: 29
        }
    );
    assert!(history.windows(2).all(|w| w[0].time_ms < w[1].time_ms));
    // The same statuses as the report of every group, which leaves the history out.
    let report = lag.report(now);
    let everyone = report.group("g").unwrap();
    assert!(everyone.partitions[0].history.is_empty());
    assert_eq!(everyone.status, group.status);
    assert!(lag.group_report(now, "nobody").is_none());
}

proptest! {
    /// Whatever the looks, the evaluator keeps to its bounds, and every group's status is the
    /// worst of its partitions'.
    #[test]
    fn bounds_hold_and_groups_take_the_worst(
        looks in prop::collection::vec(
            prop::collection::vec((0u8..3, 0i32..4, 0i64..50, 0i64..8, 0i64..60), 0..8),
            1..40,
        ),
    ) {
        let limits = Limits { window_ms: 30_000, max_commits: 5, max_partitions: 6 };
        let mut lag = LagEvaluator::new(limits);
        for (i, look) in looks.iter().enumerate() {
            let now = i as i64 * 5_000;
            let observations = look.iter().map(|&(g, p, offset, age, ahead)| Observation {
                group: format!("g{g}"),
                topic: "t".into(),
                partition: p,
                offset,
                commit_time_ms: (now - age * 5_000).max(0),
                log_end: offset + ahead,
            });
            lag.observe(now, observations);
            let report = lag.report(now);
            let tracked: usize = report.groups.iter().map(|g| g.partitions.len()).sum();
            prop_assert!(tracked <= limits.max_partitions);
            for group in &report.groups {
                let worst = group.partitions.iter().map(|p| p.status).max().unwrap();
                prop_assert_eq!(group.status, worst);
                let own = lag.group_report(now, &group.group).unwrap();
                for (p, with_history) in group.partitions.iter().zip(&own.partitions) {
                    prop_assert!(p.commits_in_window <= limits.max_commits);
                    prop_assert!(!with_history.history.is_empty());
                    prop_assert!(with_history.history.len() <= limits.max_commits);
                    prop_assert_eq!(p.lag, (p.log_end - p.committed_offset).max(0));
                    if p.lag == 0 {
                        prop_assert_eq!(p.status, Status::Ok);
                    }
                }
            }
        }
    }
}
