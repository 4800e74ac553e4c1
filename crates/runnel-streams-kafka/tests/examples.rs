//! The windowed examples run as processes against a broker in the test process, fed records
//! with chosen timestamps, their exact results read back (read-committed); and, through the
//! runner in process, a table read from a compacted topic, and the metrics of a windowed job.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{
    create_topic, create_topic_with, eventually, hour_start, latest, produce, produce_optional,
    produce_to, read_until, Job, Read, TestBroker,
};
use runnel_streams::{
    EmitMode, JsonSerde, LatePolicy, StreamsError, StringSerde, TopologyBuilder, WindowSpec,
    WindowedConfig,
};
use runnel_streams_kafka::{Guarantee, RunningApp, StoreSize, StreamsApp, StreamsConfig};

const WAIT: Duration = Duration::from_secs(90);
const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;

/// A record of `user` at `base + offset`.
fn event(user: &str, base: i64, offset: i64) -> (String, String, i64) {
    (user.to_owned(), format!("/page/{offset}"), base + offset)
}

/// Starts an example on input topic `input` (one partition) writing to `output`.
fn start_example(
    name: &str,
    bootstrap: &str,
    (input, output): (&str, &str),
    state: &Path,
    more: &[&str],
) -> Job {
    let mut args = vec![
        "--bootstrap-servers",
        bootstrap,
        "--application-id",
        name,
        "--input",
        input,
        "--output",
        output,
        "--state-dir",
        state.to_str().unwrap(),
        "--out-of-orderness-ms",
        "0",
        "--idle-timeout-ms",
        "30000",
    ];
    args.extend_from_slice(more);
    Job::start(name, args)
}

/// Reads `topic` until it holds as many records as `expected` and checks they are exactly
/// `expected` (key and value), in order.
fn assert_output(bootstrap: &str, topic: &str, expected: &[(String, String)]) {
    let read = read_until(bootstrap, topic, WAIT, |read| read.len() >= expected.len());
    let read: Vec<(String, String)> = read.into_iter().map(|r| (r.key, r.value)).collect();
    assert_eq!(read, expected, "the records of {topic}");
}

fn views(user: &str, start: i64, views: u64) -> (String, String) {
    let end = start + MINUTE;
    (
        user.to_owned(),
        format!(r#"{{"user":"{user}","window_start":{start},"window_end":{end},"views":{views}}}"#),
    )
}

#[test]
fn page_views_counts_each_closed_minute_once_drops_late_views_and_survives_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    let bootstrap = &broker.bootstrap;
    create_topic(bootstrap, "views", 1);
    create_topic(bootstrap, "per-minute", 1);
    let state = dir.path().join("state");
    // Exactly-once, with a fixed identity: a restarted process fences the killed one and
    // takes its partition back at once.
    let once = [
        "--exactly-once",
        "--instance-id",
        "pv-1",
        "--property",
        "group.instance.id=pv-1",
    ];
    let mut job = start_example(
        "page_views",
        bootstrap,
        ("views", "per-minute"),
        &state,
        &once,
    );

    let b = hour_start();
    let s = |n: i64| n * SECOND;
    produce(
        bootstrap,
        "views",
        &[
            event("ann", b, s(1)),
            event("ann", b, s(30)),
            event("bob", b, s(45)),
            event("ann", b, 59_999),
            // The watermark passes the end of the first minute, but not its grace.
            event("ann", b, s(65)),
            event("bob", b, s(55)),
            // The watermark reaches the first minute's end plus grace: it closes.
            event("ann", b, s(75)),
            // Too late for the closed minute: dropped.
            event("bob", b, s(50)),
            event("bob", b, s(90)),
            event("ann", b, s(100)),
            // Closes the second minute and opens the third.
            event("ann", b, s(135)),
        ],
    );
    let mut expected = vec![
        views("ann", b, 3),
        views("bob", b, 2),
        views("ann", b + MINUTE, 3),
        views("bob", b + MINUTE, 1),
    ];
    assert_output(bootstrap, "per-minute", &expected);

    // The third minute's count so far (ann: 1) was committed with the second minute's
    // results, and the partition's newest event time with its offset. The process dies
    // without a word and a new one takes over from the changelog and the committed offset.
    job.kill();
    let job = start_example(
        "page_views",
        bootstrap,
        ("views", "per-minute"),
        &state,
        &once,
    );
    produce(
        bootstrap,
        "views",
        &[
            // Late only because the restarted job has its watermark back (135 s): otherwise
            // it would count as a second result for bob's second minute.
            event("bob", b, s(100)),
            event("ann", b, s(150)),
            event("bob", b, s(170)),
            event("ann", b, s(200)),
        ],
    );
    expected.extend([
        views("ann", b + 2 * MINUTE, 2),
        views("bob", b + 2 * MINUTE, 1),
    ]);
    assert_output(bootstrap, "per-minute", &expected);
    drop(job);
}

fn session(user: &str, start: i64, end: i64, events: u64) -> (String, String) {
    (
        user.to_owned(),
        format!(r#"{{"user":"{user}","start":{start},"end":{end},"events":{events}}}"#),
    )
}

#[test]
fn sessions_merge_and_are_emitted_once_closed() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    let bootstrap = &broker.bootstrap;
    create_topic(bootstrap, "clicks", 1);
    create_topic(bootstrap, "user-sessions", 1);
    let job = start_example(
        "sessions",
        bootstrap,
        ("clicks", "user-sessions"),
        &dir.path().join("state"),
        &[],
    );

    let b = hour_start();
    let m = |n: i64| n * MINUTE;
    produce(
        bootstrap,
        "clicks",
        &[
            event("ann", b, m(0)),
            event("bob", b, m(5)),
            event("ann", b, m(10)),
            // 32 minutes after ann's last event: a session of its own. The watermark
            // passes bob's only event by the gap plus grace: bob's session closes.
            event("ann", b, m(42)),
            // 4 minutes behind the watermark, within the grace: it bridges ann's two
            // sessions, 28 and 4 minutes away, into one.
            event("ann", b, m(38)),
            // Closes ann's merged session.
            event("ann", b, m(100)),
            // Too late: it would be a session of its own, closed long ago.
            event("bob", b, m(6)),
            event("carol", b, m(101)),
            event("carol", b, m(120)),
            // Closes ann's and carol's sessions, in the order they end.
            event("ann", b, m(200)),
        ],
    );
    assert_output(
        bootstrap,
        "user-sessions",
        &[
            session("bob", b + m(5), b + m(5), 1),
            session("ann", b, b + m(42), 4),
            session("ann", b + m(100), b + m(100), 1),
            session("carol", b + m(101), b + m(120), 2),
        ],
    );
    drop(job);
}

/// A table of profiles read from a compacted topic, its changes written out, and looked up
/// by a stream of requests (key: the user, value: a request id) co-partitioned with it:
/// each request is answered (key: the request id) with the profile, or `none`.
fn profiles(builder: &mut TopologyBuilder) -> Result<(), StreamsError> {
    let table = builder.table("profiles", StringSerde, StringSerde);
    table
        .changes()
        .to_topic("profile-updates", StringSerde, StringSerde);
    builder
        .stream("lookups", StringSerde, StringSerde)
        .map(move |user: String, request: String| {
            (request, table.get(&user).unwrap_or_else(|| "none".into()))
        })
        .to_topic("answers", StringSerde, StringSerde);
    Ok(())
}

fn start_profiles(bootstrap: &str, state: &Path) -> RunningApp {
    StreamsApp::new(
        StreamsConfig::new("profiles-app", bootstrap)
            .state_dir(state)
            .guarantee(Guarantee::AtLeastOnce),
        profiles,
    )
    .start()
    .unwrap()
}

/// Asks for every user's profile under request ids `<round>-<user>` and checks the answers.
fn assert_lookups(bootstrap: &str, round: &str, expected: &[(&str, &str)]) {
    let requests: Vec<(String, String, i64)> = expected
        .iter()
        .map(|(user, _)| ((*user).to_owned(), format!("{round}-{user}"), 1_000))
        .collect();
    produce(bootstrap, "lookups", &requests);
    let answers: BTreeMap<String, String> = expected
        .iter()
        .map(|(user, profile)| (format!("{round}-{user}"), (*profile).to_owned()))
        .collect();
    let read = read_until(bootstrap, "answers", WAIT, |read| {
        let latest = latest(read);
        answers.keys().all(|k| latest.contains_key(k))
    });
    let got: BTreeMap<String, String> = latest(&read)
        .into_iter()
        .filter(|(k, _)| answers.contains_key(k))
        .collect();
    assert_eq!(got, answers, "the answers of round {round}");
}

/// Each user's values on `profile-updates`, in order.
fn updates_per_user(read: &[Read]) -> BTreeMap<String, Vec<String>> {
    let mut per_user: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in read {
        per_user
            .entry(r.key.clone())
            .or_default()
            .push(r.value.clone());
    }
    per_user
}

#[test]
fn a_table_from_a_compacted_topic_forgets_tombstoned_keys_and_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    let bootstrap = &broker.bootstrap;
    create_topic_with(bootstrap, "profiles", 2, &[("cleanup.policy", "compact")]);
    create_topic(bootstrap, "lookups", 2);
    let state = dir.path().join("state");
    let app = start_profiles(bootstrap, &state);

    let put = |user: &str, profile: &str| (user.to_owned(), Some(profile.to_owned()), 1_000);
    produce_optional(
        bootstrap,
        "profiles",
        &[
            put("ann", "Ann A"),
            put("bob", "Bob B"),
            put("carol", "Carol C"),
            put("ann", "Ann Z"),
            ("bob".to_owned(), None, 1_000),
        ],
    );
    // The changes carry the new values; a tombstone only removes its key from the table.
    let expected_updates = BTreeMap::from([
        (
            "ann".to_owned(),
            vec!["Ann A".to_owned(), "Ann Z".to_owned()],
        ),
        ("bob".to_owned(), vec!["Bob B".to_owned()]),
        ("carol".to_owned(), vec!["Carol C".to_owned()]),
    ]);
    read_until(bootstrap, "profile-updates", WAIT, |read| {
        updates_per_user(read) == expected_updates
    });
    eventually("the tombstone to be processed", WAIT, || {
        app.metrics().records_in == 5
    });
    let current = [
        ("ann", "Ann Z"),
        ("bob", "none"),
        ("carol", "Carol C"),
        ("dave", "none"),
    ];
    assert_lookups(bootstrap, "first", &current);
    app.stop().unwrap();

    // Restarted on its local copy: the profiles are not read again (their offsets are
    // committed), so the answers come from the restored table.
    let app = start_profiles(bootstrap, &state);
    assert_lookups(bootstrap, "second", &current);
    app.stop().unwrap();

    // Restarted without it: the table comes back from its changelog, tombstone included.
    std::fs::remove_dir_all(&state).unwrap();
    let app = start_profiles(bootstrap, &state);
    eventually("the restored tasks", WAIT, || {
        app.metrics().assigned_partitions == vec![0, 1]
    });
    assert!(app.metrics().records_restored >= 3, "{:?}", app.metrics());
    assert_lookups(bootstrap, "third", &current);

    // It goes on from there; nothing restored was sent again as a change.
    produce_optional(bootstrap, "profiles", &[put("carol", "Carol Y")]);
    let mut expected_updates = expected_updates;
    expected_updates.insert(
        "carol".to_owned(),
        vec!["Carol C".to_owned(), "Carol Y".to_owned()],
    );
    read_until(bootstrap, "profile-updates", WAIT, |read| {
        updates_per_user(read) == expected_updates
    });
    assert_lookups(
        bootstrap,
        "fourth",
        &[("ann", "Ann Z"), ("bob", "none"), ("carol", "Carol Y")],
    );
    app.stop().unwrap();
}

/// Clicks per key and second, updates sent as they happen.
fn clicks_per_second(builder: &mut TopologyBuilder) -> Result<(), StreamsError> {
    builder
        .stream("clicks", StringSerde, StringSerde)
        .group_by_key()
        .windowed_by(WindowedConfig::new(
            WindowSpec::tumbling(SECOND)?,
            LatePolicy::Drop,
            EmitMode::Updates,
        ))
        .count()?
        .stored("clicks-per-second", StringSerde, JsonSerde::<u64>::new())
        .changes()
        .map(|key: String, change| (key, format!("{change:?}")))
        .to_topic("click-counts", StringSerde, StringSerde);
    Ok(())
}

#[test]
fn the_metrics_report_late_records_and_the_watermark_of_every_partition() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    let bootstrap = &broker.bootstrap;
    create_topic(bootstrap, "clicks", 2);
    let app = StreamsApp::new(
        StreamsConfig::new("clicks-app", bootstrap)
            .state_dir(dir.path().join("state"))
            .guarantee(Guarantee::ExactlyOnce)
            .watermarks(100, 30_000)
            .metrics_listen("127.0.0.1:0"),
        clicks_per_second,
    )
    .start()
    .unwrap();
    let click = |key: &str, timestamp: i64| (key.to_owned(), "/".to_owned(), timestamp);
    // Partition 0's watermark ends at 5000 - 100, so its second [1000, 2000) has closed
    // when the click at 1500 comes: dropped.
    produce_to(
        bootstrap,
        "clicks",
        0,
        &[click("a", 1_000), click("a", 5_000), click("a", 1_500)],
    );
    // Partition 1's ends at 7000 - 100: the click at 3000 is dropped, the one at 6950 is
    // within the out-of-orderness and counted.
    produce_to(
        bootstrap,
        "clicks",
        1,
        &[click("b", 7_000), click("b", 3_000), click("b", 6_950)],
    );
    let expected_watermarks = BTreeMap::from([
        (("clicks".to_owned(), 0), 4_900),
        (("clicks".to_owned(), 1), 6_900),
    ]);
    eventually("the metrics of all six clicks", WAIT, || {
        let metrics = app.metrics();
        metrics.records_in == 6
            && metrics.late_records_dropped == 2
            && metrics.watermarks == expected_watermarks
    });
    // The four clicks counted, each an update of its second.
    let read = read_until(bootstrap, "click-counts", WAIT, |read| read.len() >= 4);
    assert_eq!(read.len(), 4, "{read:?}");
    let metrics = app.metrics();
    assert_eq!(metrics.assigned_partitions, vec![0, 1]);
    assert_eq!(metrics.late_records_dropped, 2, "{metrics:?}");
    assert_eq!(metrics.watermarks, expected_watermarks, "{metrics:?}");
    // Each commit is in the latency histogram.
    assert!(metrics.commits >= 1, "{metrics:?}");
    assert_eq!(metrics.commit_latency.count(), metrics.commits);
    assert!(metrics.commit_latency.sum > Duration::ZERO, "{metrics:?}");
    // The watermark moved twice on partition 0 (to 900, then 4900) and once on
    // partition 1 (to 6900); late records move nothing.
    assert_eq!(metrics.punctuations.stream_time, 3, "{metrics:?}");
    assert!(metrics.punctuations.wall_clock > 0, "{metrics:?}");
    // The open windows: [5000, 6000) of a (its [1000, 2000) closed at 4900 and was
    // forgotten), [6000, 7000) and [7000, 8000) of b. An entry is 16 bytes of window and
    // the key, then the sent flag and the count as JSON: 17 + 2 bytes.
    let size = |entries, bytes| StoreSize { entries, bytes };
    assert_eq!(
        metrics.store_sizes,
        BTreeMap::from([
            (("clicks-per-second".to_owned(), 0), size(1, 19)),
            (("clicks-per-second".to_owned(), 1), size(2, 38)),
        ]),
    );
    // The same figures, scraped from the application's own endpoint.
    let address = app.metrics_address().unwrap();
    let (status, text) = http_get(address, "/metrics");
    assert_eq!(status, 200, "{text}");
    let app_label = "{application=\"clicks-app\"}";
    let store_label = |partition| {
        format!(
            "{{application=\"clicks-app\",store=\"clicks-per-second\",partition=\"{partition}\"}}"
        )
    };
    for line in [
        format!("runnel_streams_records_in_total{app_label} 6"),
        format!("runnel_streams_late_records_dropped_total{app_label} 2"),
        format!("runnel_streams_commits_total{app_label} {}", metrics.commits),
        format!("runnel_streams_commit_latency_seconds_count{app_label} {}", metrics.commits),
        format!(
            "runnel_streams_commit_latency_seconds_bucket{{application=\"clicks-app\",le=\"+Inf\"}} {}",
            metrics.commits
        ),
        "runnel_streams_punctuations_total{application=\"clicks-app\",kind=\"stream_time\"} 3".to_owned(),
        format!("runnel_streams_state_store_entries{} 1", store_label(0)),
        format!("runnel_streams_state_store_entries{} 2", store_label(1)),
        format!("runnel_streams_state_store_bytes{} 38", store_label(1)),
        format!("runnel_streams_assigned_partitions{app_label} 2"),
        "runnel_streams_watermark_seconds{application=\"clicks-app\",topic=\"clicks\",partition=\"1\"} 6.9".to_owned(),
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    assert_eq!(http_get(address, "/health"), (200, "ok\n".to_owned()));
    app.stop().unwrap();
    // Stopped, the application serves nothing more.
    assert!(std::net::TcpStream::connect(address).is_err());
}

#[test]
fn a_metrics_address_that_is_taken_stops_the_start_with_the_address_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    create_topic(&broker.bootstrap, "clicks", 1);
    let error = StreamsApp::new(
        StreamsConfig::new("clicks-app", &broker.bootstrap)
            .state_dir(dir.path().join("state"))
            .metrics_listen(&address),
        clicks_per_second,
    )
    .start()
    .unwrap_err();
    assert!(
        error.to_string().starts_with(&format!(
            "cannot listen on {address} for the metrics endpoint"
        )),
        "{error}"
    );
}

/// One HTTP/1.1 GET: the status code and the body.
fn http_get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}
