//! The word-count example, run as a process under exactly-once, killed with SIGKILL while
//! it works through its input and started again: every count it ever committed is there
//! exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{create_topic, latest, produce, read_until, Job, TestBroker};

const WAIT: Duration = Duration::from_secs(90);
/// Lines waiting when the job starts; it is killed while working through them.
const BACKLOG: u32 = 3_000;
/// Lines written after the restart.
const MORE: u32 = 500;

fn start_job(bootstrap: &str, state: &Path) -> Job {
    Job::start(
        "word_count",
        [
            "--bootstrap-servers",
            bootstrap,
            "--application-id",
            "wc",
            "--input",
            "text",
            "--output",
            "word-counts",
            "--instance-id",
            "wc-1",
            "--exactly-once",
            "--property",
            "group.instance.id=wc-1",
            "--state-dir",
            state.to_str().unwrap(),
        ],
    )
}

fn line(i: u32) -> String {
    format!("w{} w{} W{}", i % 5, (i * 3) % 7, i % 3)
}

#[test]
fn an_exactly_once_job_killed_mid_stream_counts_every_word_once() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    create_topic(&broker.bootstrap, "text", 2);
    let state = dir.path().join("state");
    let lines = |range: std::ops::Range<u32>| -> Vec<(String, String, i64)> {
        range
            .map(|i| (format!("line-{i}"), line(i), i64::from(i)))
            .collect()
    };
    produce(&broker.bootstrap, "text", &lines(0..BACKLOG));
    let mut job = start_job(&broker.bootstrap, &state);
    // Kill it once it has committed some counts, with most of the backlog still to do.
    let seen = read_until(&broker.bootstrap, "word-counts", WAIT, |read| {
        read.len() >= 300
    });
    job.kill();
    assert!(
        seen.len() < 3 * BACKLOG as usize / 2,
        "killed too late: {} counts",
        seen.len()
    );
    job = start_job(&broker.bootstrap, &state);
    produce(&broker.bootstrap, "text", &lines(BACKLOG..BACKLOG + MORE));

    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..BACKLOG + MORE {
        for word in line(i).split_whitespace() {
            *counts.entry(word.to_lowercase()).or_default() += 1;
        }
    }
    for (word, count) in counts {
        expected.insert(word, count.to_string());
    }
    let read = read_until(&broker.bootstrap, "word-counts", WAIT, |read| {
        latest(read) == expected
    });
    let mut sent: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for r in &read {
        sent.entry(&r.key)
            .or_default()
            .push(r.value.parse().unwrap());
    }
    for (word, values) in sent {
        let once: Vec<u64> = (1..=values.len() as u64).collect();
        assert_eq!(values, once, "the counts committed for {word}");
    }
    drop(job);
}
