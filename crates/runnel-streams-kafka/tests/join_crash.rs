//! The searches ⋈ clicks example, run as a process under exactly-once, killed with SIGKILL
//! while it works through its input and started again: every joined result it committed is
//! there exactly once, and all of them are.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{create_topic, produce, read_until, Job, TestBroker};

const WAIT: Duration = Duration::from_secs(90);
/// Searches (and as many clicks) waiting when the job starts; it is killed while working
/// through them.
const BACKLOG: u32 = 2_000;
/// Searches and clicks written after the restart.
const MORE: u32 = 400;
const SESSIONS: u32 = 100;

fn start_job(bootstrap: &str, state: &Path) -> Job {
    Job::start(
        "search_clicks",
        [
            "--bootstrap-servers",
            bootstrap,
            "--application-id",
            "sc",
            "--instance-id",
            "sc-1",
            "--exactly-once",
            "--property",
            "group.instance.id=sc-1",
            "--state-dir",
            state.to_str().unwrap(),
            // Session `i % SESSIONS` searches at `10 i` and clicks at `10 i + 3`: within
            // 100 ms, search i pairs with click i only. The grace period covers the whole
            // run, so however the two topics interleave, no record is late.
            "--within-ms",
            "100",
            "--grace-ms",
            "3600000",
        ],
    )
}

/// Search `i` and click `i`, at times near the wall clock (so no retention deletes them).
fn records(range: std::ops::Range<u32>, base: i64) -> [Vec<(String, String, i64)>; 2] {
    let session = |i: u32| format!("s{}", i % SESSIONS);
    let searches = range
        .clone()
        .map(|i| (session(i), format!("q{i}"), base + 10 * i64::from(i)))
        .collect();
    let clicks = range
        .map(|i| (session(i), format!("u{i}"), base + 10 * i64::from(i) + 3))
        .collect();
    [searches, clicks]
}

fn write(bootstrap: &str, range: std::ops::Range<u32>, base: i64) {
    let [searches, clicks] = records(range, base);
    produce(bootstrap, "searches", &searches);
    produce(bootstrap, "clicks", &clicks);
}

/// The `(query, url)` of each result read.
fn pairs(read: &[common::Read]) -> BTreeMap<(String, String), usize> {
    let mut pairs = BTreeMap::new();
    for r in read {
        let result: serde_json::Value = serde_json::from_str(&r.value).unwrap();
        let query = result["query"].as_str().unwrap().to_owned();
        let url = result["url"].as_str().unwrap_or("none").to_owned();
        *pairs.entry((query, url)).or_default() += 1;
    }
    pairs
}

#[test]
fn an_exactly_once_join_killed_mid_stream_sends_each_pair_once() {
    let base = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    create_topic(&broker.bootstrap, "searches", 2);
    create_topic(&broker.bootstrap, "clicks", 2);
    let state = dir.path().join("state");
    write(&broker.bootstrap, 0..BACKLOG, base);
    let mut job = start_job(&broker.bootstrap, &state);
    // Kill it once it has committed some results, with most of the backlog still to do.
    let seen = read_until(&broker.bootstrap, "search-clicks", WAIT, |read| {
        read.len() >= 200
    });
    job.kill();
    assert!(
        seen.len() < BACKLOG as usize,
        "killed too late: {} results",
        seen.len()
    );
    job = start_job(&broker.bootstrap, &state);
    write(&broker.bootstrap, BACKLOG..BACKLOG + MORE, base);

    let total = (BACKLOG + MORE) as usize;
    let read = read_until(&broker.bootstrap, "search-clicks", WAIT, |read| {
        read.len() >= total && pairs(read).len() >= total
    });
    let expected: BTreeMap<(String, String), usize> = (0..BACKLOG + MORE)
        .map(|i| ((format!("q{i}"), format!("u{i}")), 1))
        .collect();
    assert_eq!(pairs(&read), expected);
    drop(job);
}
