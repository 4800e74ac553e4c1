//! Jobs run by the runner against a broker in the test process: results through a
//! repartition topic, state restored from the changelog, two instances sharing the work.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{create_topic, eventually, latest, produce, read_until, Read, TestBroker};
use runnel_streams::{
    DecimalSerde, EmitMode, LatePolicy, StreamsError, StringSerde, TopologyBuilder, WindowSpec,
    WindowedConfig,
};
use runnel_streams_kafka::{
    BadRecords, Guarantee, RunnerError, RunningApp, StoreSize, StreamsApp, StreamsConfig,
};

const PARTITIONS: i32 = 4;
const WAIT: Duration = Duration::from_secs(60);

/// Counts events per user. The events are keyed by event id, so the users' counts need a
/// repartition by user first.
fn views_per_user(builder: &mut TopologyBuilder) -> Result<(), StreamsError> {
    builder
        .stream("events", StringSerde, StringSerde)
        .map(|_id, user: String| (user.clone(), user))
        .repartition("by-user", StringSerde, StringSerde)
        .group_by_key()
        .count()
        .stored("views", StringSerde, DecimalSerde)
        .changes()
        .to_topic("views", StringSerde, DecimalSerde);
    Ok(())
}

fn start(
    bootstrap: &str,
    state: &std::path::Path,
    instance: &str,
    guarantee: Guarantee,
) -> RunningApp {
    StreamsApp::new(
        StreamsConfig::new("views-app", bootstrap)
            .state_dir(state)
            .instance_id(instance)
            .guarantee(guarantee),
        views_per_user,
    )
    .start()
    .unwrap()
}

/// Events `first..first + n`, spread over seven users.
fn events(first: u32, n: u32) -> Vec<(String, String, i64)> {
    (first..first + n)
        .map(|i| {
            (
                format!("event-{i}"),
                format!("user-{}", i % 7),
                1_000 + i64::from(i),
            )
        })
        .collect()
}

fn expected_counts(n: u32) -> BTreeMap<String, String> {
    let mut counts = BTreeMap::new();
    for i in 0..n {
        *counts.entry(format!("user-{}", i % 7)).or_insert(0u64) += 1;
    }
    counts
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
}

fn read_counts(bootstrap: &str, n: u32) -> Vec<Read> {
    let expected = expected_counts(n);
    read_until(bootstrap, "views", WAIT, |read| latest(read) == expected)
}

/// Under exactly-once, each user's committed outputs are 1, 2, 3, ... with no count
/// repeated or skipped: no update was lost or applied twice.
fn assert_each_count_once(read: &[Read]) {
    let mut per_user: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for r in read {
        per_user
            .entry(&r.key)
            .or_default()
            .push(r.value.parse().unwrap());
    }
    for (user, counts) in per_user {
        let expected: Vec<u64> = (1..=counts.len() as u64).collect();
        assert_eq!(counts, expected, "the counts sent for {user}");
    }
}

#[test]
fn counts_go_through_a_repartition_topic_at_least_once() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    create_topic(&broker.bootstrap, "events", PARTITIONS);
    let app = start(
        &broker.bootstrap,
        &dir.path().join("state"),
        "a",
        Guarantee::AtLeastOnce,
    );
    produce(&broker.bootstrap, "events", &events(0, 140));
    read_counts(&broker.bootstrap, 140);
    eventually("both topics' records processed and committed", WAIT, || {
        let metrics = app.metrics();
        metrics.records_committed >= 280 && metrics.records_in == metrics.records_committed
    });
    // The lag of every input partition, the repartition topic's included, comes down to 0.
    eventually("no lag on the 8 input partitions", WAIT, || {
        let lag = app.metrics().lag;
        lag.len() == 8 && lag.values().all(|&l| l == 0)
    });
    let metrics = app.metrics();
    assert_eq!(metrics.assigned_partitions, vec![0, 1, 2, 3]);
    assert!(metrics.records_out >= 280, "{metrics:?}");
    assert!(metrics.commits > 0, "{metrics:?}");
    app.stop().unwrap();
}

#[test]
fn state_is_restored_from_the_changelog_after_the_local_state_directory_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    create_topic(&broker.bootstrap, "events", PARTITIONS);
    let state = dir.path().join("state");
    let app = start(&broker.bootstrap, &state, "a", Guarantee::ExactlyOnce);
    produce(&broker.bootstrap, "events", &events(0, 70));
    read_counts(&broker.bootstrap, 70);
    // Seven users with 10 views each: seven entries of "user-N" (6 bytes) and "10" (2).
    let sizes = committed_store_sizes(&app, (7, 56));
    app.stop().unwrap();

    std::fs::remove_dir_all(&state).unwrap();
    let app = start(&broker.bootstrap, &state, "a", Guarantee::ExactlyOnce);
    eventually("the restored tasks", WAIT, || {
        app.metrics().assigned_partitions.len() == 4
    });
    assert!(app.metrics().records_restored >= 7, "{:?}", app.metrics());
    // Restored from the changelog, the stores have the sizes they had.
    assert_eq!(app.metrics().store_sizes, sizes);
    produce(&broker.bootstrap, "events", &events(70, 70));
    // Counts that go on from the first run's are only possible with its state restored.
    let read = read_counts(&broker.bootstrap, 140);
    assert_each_count_once(&read);
    let sizes = committed_store_sizes(&app, (7, 56));
    app.stop().unwrap();

    // With the local copy kept, a restart restores from it, not from the changelog.
    let app = start(&broker.bootstrap, &state, "a", Guarantee::ExactlyOnce);
    eventually("the restored tasks", WAIT, || {
        app.metrics().assigned_partitions.len() == 4
    });
    assert_eq!(app.metrics().store_sizes, sizes);
    produce(&broker.bootstrap, "events", &events(140, 7));
    assert_each_count_once(&read_counts(&broker.bootstrap, 147));
    app.stop().unwrap();
}

/// Once every record processed is committed, the sizes of the `views` store, whose
/// entries and bytes over all partitions must add up to `total`.
fn committed_store_sizes(
    app: &RunningApp,
    total: (u64, u64),
) -> BTreeMap<(String, u32), StoreSize> {
    eventually("every record processed committed", WAIT, || {
        let metrics = app.metrics();
        metrics.records_in == metrics.records_committed
            && metrics.store_sizes.values().map(|s| s.entries).sum::<u64>() == total.0
    });
    let sizes = app.metrics().store_sizes;
    assert!(sizes.keys().all(|(store, _)| store == "views"), "{sizes:?}");
    let summed = sizes
        .values()
        .fold((0, 0), |(e, b), s| (e + s.entries, b + s.bytes));
    assert_eq!(summed, total, "{sizes:?}");
    sizes
}

#[test]
fn two_instances_split_the_partitions_and_keep_correct_results() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    create_topic(&broker.bootstrap, "events", PARTITIONS);
    let a = start(
        &broker.bootstrap,
        &dir.path().join("a"),
        "a",
        Guarantee::ExactlyOnce,
    );
    produce(&broker.bootstrap, "events", &events(0, 70));
    read_counts(&broker.bootstrap, 70);

    let b = start(
        &broker.bootstrap,
        &dir.path().join("b"),
        "b",
        Guarantee::ExactlyOnce,
    );
    eventually("the partitions to be split", WAIT, || {
        let (ma, mb) = (
            a.metrics().assigned_partitions,
            b.metrics().assigned_partitions,
        );
        let mut all: Vec<u32> = ma.iter().chain(&mb).copied().collect();
        all.sort_unstable();
        !ma.is_empty() && !mb.is_empty() && all == vec![0, 1, 2, 3]
    });
    produce(&broker.bootstrap, "events", &events(70, 70));
    read_counts(&broker.bootstrap, 140);

    a.stop().unwrap();
    eventually("b to take every partition", WAIT, || {
        b.metrics().assigned_partitions == vec![0, 1, 2, 3]
    });
    produce(&broker.bootstrap, "events", &events(140, 70));
    assert_each_count_once(&read_counts(&broker.bootstrap, 210));
    // Offsets committed in transactions: the lag still comes down to 0 everywhere.
    eventually("no lag on the 8 input partitions", WAIT, || {
        let lag = b.metrics().lag;
        lag.len() == 8 && lag.values().all(|&l| l == 0)
    });
    b.stop().unwrap();
}

/// Clicks per user in tumbling 10 s windows, each window's count sent once it closes.
fn clicks_per_window(builder: &mut TopologyBuilder) -> Result<(), StreamsError> {
    let config = WindowedConfig::new(
        WindowSpec::tumbling(10_000)?,
        LatePolicy::Drop,
        EmitMode::Final,
    );
    builder
        .stream("clicks", StringSerde, StringSerde)
        .group_by_key()
        .windowed_by(config)
        .count()?
        .stored("clicks-per-window", StringSerde, DecimalSerde)
        .finals()
        .map(|user, (window, count)| (format!("{user}@{}", window.start), count))
        .to_topic("clicks-per-window", StringSerde, DecimalSerde);
    Ok(())
}

fn start_windowed(bootstrap: &str, state: &std::path::Path) -> RunningApp {
    StreamsApp::new(
        StreamsConfig::new("clicks-app", bootstrap)
            .state_dir(state)
            .instance_id("a")
            .guarantee(Guarantee::ExactlyOnce),
        clicks_per_window,
    )
    .start()
    .unwrap()
}

#[test]
fn a_restarted_windowed_job_keeps_its_watermark_and_reports_late_records() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    create_topic(&broker.bootstrap, "clicks", 1);
    let state = dir.path().join("state");
    let click = |user: &str, t: i64| (user.to_owned(), "/".to_owned(), t);

    let app = start_windowed(&broker.bootstrap, &state);
    produce(
        &broker.bootstrap,
        "clicks",
        &[
            click("ann", 1_000),
            click("bob", 2_000),
            click("ann", 9_999),
            click("ann", 25_000),
        ],
    );
    // 25 s moves the watermark past both first windows: each is sent once.
    let expected: BTreeMap<String, String> = [("ann@0", "2"), ("bob@0", "1")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    read_until(&broker.bootstrap, "clicks-per-window", WAIT, |read| {
        latest(read) == expected
    });
    eventually("the partition's watermark", WAIT, || {
        app.metrics().watermarks.get(&("clicks".to_owned(), 0)) == Some(&25_000)
    });
    produce(&broker.bootstrap, "clicks", &[click("bob", 3_000)]);
    eventually("the late record to be counted", WAIT, || {
        app.metrics().late_records_dropped == 1
    });
    app.stop().unwrap();

    // After a restart the partition's newest event time comes back with its offset, so a
    // record for the closed window is still late, and the open window goes on.
    let app = start_windowed(&broker.bootstrap, &state);
    produce(
        &broker.bootstrap,
        "clicks",
        &[
            click("bob", 4_000),
            click("ann", 26_000),
            click("ann", 40_000),
        ],
    );
    let mut expected = expected;
    expected.insert("ann@20000".to_owned(), "2".to_owned());
    let read = read_until(&broker.bootstrap, "clicks-per-window", WAIT, |read| {
        latest(read) == expected
    });
    assert_eq!(read.len(), 3, "each window sent once: {read:?}");
    eventually("the late record to be counted", WAIT, || {
        app.metrics().late_records_dropped == 1
    });
    app.stop().unwrap();
}

/// Amounts in JSON summed per account, into `output`.
fn balances(
    output: &'static str,
) -> impl Fn(&mut TopologyBuilder) -> Result<(), StreamsError> + Send + Sync + 'static {
    move |builder: &mut TopologyBuilder| {
        builder
            .stream(
                "payments",
                StringSerde,
                runnel_streams::JsonSerde::<u64>::new(),
            )
            .group_by_key()
            .reduce(|a, b| a + b)
            .changes()
            .to_topic(output, StringSerde, DecimalSerde);
        Ok(())
    }
}

#[test]
fn a_record_that_does_not_decode_stops_the_job_or_is_skipped_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    create_topic(&broker.bootstrap, "payments", 1);
    let payment = |account: &str, amount: &str| (account.to_owned(), amount.to_owned(), 1_000);
    produce(
        &broker.bootstrap,
        "payments",
        &[
            payment("a", "5"),
            payment("a", "not json"),
            payment("a", "7"),
        ],
    );
    let config =
        |id: &str| StreamsConfig::new(id, &broker.bootstrap).state_dir(dir.path().join(id));

    let failing = StreamsApp::new(config("strict"), balances("strict-balances"))
        .start()
        .unwrap();
    eventually("the job to stop", WAIT, || failing.is_finished());
    match failing.stop() {
        Err(RunnerError::Streams(StreamsError::Serde(_))) => {}
        other => panic!("expected a serde error, got {other:?}"),
    }

    let skipping = StreamsApp::new(
        config("lenient").bad_records(BadRecords::Skip),
        balances("balances"),
    )
    .start()
    .unwrap();
    let read = read_until(&broker.bootstrap, "balances", WAIT, |read| {
        read.iter().any(|r| r.value == "12")
    });
    assert_eq!(
        read.iter().map(|r| r.value.as_str()).collect::<Vec<_>>(),
        ["5", "12"]
    );
    eventually("the skipped record to be counted", WAIT, || {
        skipping.metrics().records_skipped == 1
    });
    skipping.stop().unwrap();
}
