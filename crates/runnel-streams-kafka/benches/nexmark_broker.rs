//! Nexmark queries through the broker: the events are in a topic of a Runnel broker running
//! in this process, and each iteration starts a new job (a new application id, so a new
//! consumer group reading from the first offset) that reads them, runs the query and writes
//! its results to a topic of their own. Timed from `StreamsApp::start` until the job has
//! processed every event and committed after the last one (its outputs acknowledged by the
//! broker, its offsets committed). Throughput is events in per second.
//!
//! The events are produced once, before anything is timed, each with its event time as the
//! record timestamp, to one topic of one partition, so one task does all the work. The
//! number of outputs each query must write is computed first by running the same graph in
//! process over the same bytes; every run is checked against it.
//!
//! With `NEXMARK_BROKER_DETAIL=1` each run also prints the time to its first event and the
//! CPU time its threads used: the processing loop, librdkafka's threads, the broker's.
//! `NEXMARK_BROKER_CLIENT=key=value,...` passes more librdkafka settings to the job's clients
//! (those the runner sets itself win).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use runnel_streams::nexmark::{
    queries, Bid, BidSerde, EventSerde, Generator, GeneratorConfig, SplitMix64,
};
use runnel_streams::{Change, Incoming, Serde, StreamsError, Timestamp, TopologyBuilder, Window};
use runnel_streams_kafka::{Guarantee, StreamsApp, StreamsConfig};

#[path = "../tests/common/mod.rs"]
mod common;

use common::client;

/// Events per run: 100 s of event time at 10,000 events/s, as in the in-process benchmark.
const EVENTS: u64 = 1_000_000;
const INPUT: &str = "nexmark-events";
/// How long one run may take before the benchmark gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy)]
enum Query {
    Q0,
    Q1,
    Q2,
    Q5,
    Q7,
}

/// The job: the query's graph between the input topic and `output`.
fn job(
    query: Query,
    output: String,
) -> impl Fn(&mut TopologyBuilder) -> Result<(), StreamsError> + Send + Sync + 'static {
    move |builder| {
        let events = builder.stream(INPUT, NoKey, EventSerde);
        match query {
            Query::Q0 => queries::q0(&events).to_topic(&output, NoKey, EventSerde),
            Query::Q1 => queries::q1(&events).to_topic(&output, NoKey, BidSerde),
            Query::Q2 => queries::q2(&events).to_topic(&output, U64, U64),
            Query::Q5 => queries::q5(&events)?.to_topic(&output, WindowSerde, U64Pair),
            Query::Q7 => queries::q7(&events)?.to_topic(&output, NoKey, ChangeSerde),
        }
        Ok(())
    }
}

/// The events as they are in the topic: encoded value and timestamp.
fn input() -> impl Iterator<Item = (Bytes, Timestamp)> {
    Generator::new(GeneratorConfig::default(), SplitMix64::new(1))
        .take(EVENTS as usize)
        .map(|event| (EventSerde.serialize(&event).unwrap(), event.date_time()))
}

fn now_ms() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The number of records the job must write: the same graph, with the runner's watermark
/// settings, fed the same bytes in process. Nothing ends the input, so windows still open
/// after the last event are not emitted, by the job or here.
fn expected_outputs(query: Query) -> u64 {
    let defaults = StreamsConfig::new("expected", "");
    let mut builder = TopologyBuilder::with_application_id("expected");
    job(query, "expected-output".into())(&mut builder).unwrap();
    let mut topology = builder
        .build(defaults.out_of_orderness, defaults.idle_timeout)
        .unwrap();
    topology.register_topic_partition(INPUT, 0, now_ms());
    let mut outputs = 0;
    for (value, timestamp) in input() {
        let incoming = Incoming {
            key: None,
            value: Some(&value),
            timestamp,
            partition: 0,
        };
        topology.push_from_topic(INPUT, incoming, now_ms()).unwrap();
        outputs += topology.take_outgoing().len() as u64;
    }
    outputs
}

/// A broker on an ephemeral port (two runtime threads named `broker`), and an
/// administration client.
struct Cluster {
    broker: common::TestBroker,
    admin: AdminClient<DefaultClientContext>,
    admin_runtime: tokio::runtime::Runtime,
    offsets: BaseConsumer,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let broker = common::TestBroker::start(&dir.path().join("broker"));
        let bootstrap = &broker.bootstrap;
        let admin = client(bootstrap).create().unwrap();
        let offsets = client(bootstrap)
            .set("group.id", "nexmark-bench")
            .create()
            .unwrap();
        Cluster {
            broker,
            admin,
            admin_runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            offsets,
            _dir: dir,
        }
    }

    /// A topic of one partition, kept whatever its records' timestamps (the events' times
    /// are in the past, so time-based retention could otherwise delete them).
    fn create_topic(&self, name: &str) {
        let topic = NewTopic::new(name, 1, TopicReplication::Fixed(1)).set("retention.ms", "-1");
        let results = self
            .admin_runtime
            .block_on(self.admin.create_topics([&topic], &AdminOptions::new()))
            .unwrap();
        for result in results {
            result.unwrap();
        }
    }

    fn delete_topic(&self, name: &str) {
        let results = self
            .admin_runtime
            .block_on(self.admin.delete_topics(&[name], &AdminOptions::new()))
            .unwrap();
        for result in results {
            result.unwrap();
        }
    }

    fn end_offset(&self, topic: &str) -> i64 {
        let (_, high) = self
            .offsets
            .fetch_watermarks(topic, 0, Duration::from_secs(10))
            .unwrap();
        high
    }

    /// Writes every event to the input topic and waits until the broker has them all.
    fn load(&self) -> Duration {
        self.create_topic(INPUT);
        let producer: ThreadedProducer<DefaultProducerContext> = client(&self.broker.bootstrap)
            .set("linger.ms", "5")
            .set("batch.size", "1000000")
            .create()
            .unwrap();
        let started = Instant::now();
        for (value, timestamp) in input() {
            let mut record = BaseRecord::<[u8], [u8]>::to(INPUT)
                .payload(&value[..])
                .timestamp(timestamp);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err((error, _)) => panic!("producing the events: {error}"),
                }
            }
        }
        producer.flush(Duration::from_secs(120)).unwrap();
        assert_eq!(self.end_offset(INPUT), EVENTS as i64);
        started.elapsed()
    }
}

/// CPU time used so far by each thread of this process: name and nanoseconds on a CPU.
fn thread_cpu() -> HashMap<u32, (String, u64)> {
    let mut threads = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return threads;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let on_cpu = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        threads.insert(tid, (name.trim().to_owned(), on_cpu));
    }
    threads
}

/// CPU seconds used between two snapshots, per group of threads.
fn cpu_by_group(
    before: &HashMap<u32, (String, u64)>,
    after: &HashMap<u32, (String, u64)>,
) -> String {
    let mut groups: Vec<(&str, u64)> = vec![
        ("processing loop", 0),
        ("librdkafka", 0),
        ("broker", 0),
        ("other", 0),
    ];
    for (tid, (name, ns)) in after {
        let used = ns.saturating_sub(before.get(tid).map_or(0, |(_, ns)| *ns));
        let group = if name.starts_with("streams-") {
            0
        } else if name.starts_with("rdk:") || name.starts_with("producer poll") {
            // librdkafka's own threads, and the one the rdkafka crate's `ThreadedProducer`
            // runs to serve delivery reports.
            1
        } else if name.starts_with("broker") {
            2
        } else {
            if used > 10_000_000 {
                eprintln!("  {name}: {:.2} s", used as f64 / 1e9);
            }
            3
        };
        groups[group].1 += used;
    }
    groups
        .iter()
        .map(|(group, ns)| format!("{group} {:.2} s", *ns as f64 / 1e9))
        .collect::<Vec<_>>()
        .join(", ")
}

static RUNS: AtomicU32 = AtomicU32::new(0);

/// One timed run of a new job over every event.
fn run(cluster: &Cluster, query: Query, guarantee: Guarantee, expected: u64) -> Duration {
    let id = format!(
        "nexmark-{query:?}-{guarantee:?}-{}",
        RUNS.fetch_add(1, Ordering::Relaxed)
    )
    .to_lowercase();
    let output = format!("{id}-output");
    cluster.create_topic(&output);
    let state = tempfile::tempdir().unwrap();
    let mut config = StreamsConfig::new(&id, &cluster.broker.bootstrap)
        .state_dir(state.path())
        .guarantee(guarantee);
    // More client settings for experiments: `NEXMARK_BROKER_CLIENT=key=value,key=value`.
    for setting in std::env::var("NEXMARK_BROKER_CLIENT")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
    {
        let (key, value) = setting.split_once('=').expect("key=value");
        config = config.client_property(key, value);
    }
    let detail = std::env::var_os("NEXMARK_BROKER_DETAIL").is_some();
    let cpu_before = if detail { thread_cpu() } else { HashMap::new() };

    let started = Instant::now();
    let app = StreamsApp::new(config, job(query, output.clone()))
        .start()
        .unwrap();
    let mut first_event = None;
    loop {
        let metrics = app.metrics();
        if first_event.is_none() && metrics.records_in > 0 {
            first_event = Some(started.elapsed());
        }
        // Every event processed, and a commit completed after the last one: every output
        // acknowledged and every offset committed.
        if metrics.records_committed >= EVENTS {
            break;
        }
        if app.is_finished() || started.elapsed() > RUN_TIMEOUT {
            let error = app.stop().err();
            panic!("{id} stopped at {metrics:?}: {error:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();

    if detail {
        let cpu = cpu_by_group(&cpu_before, &thread_cpu());
        eprintln!(
            "{id}: {:.2} s, first event after {:.3} s; CPU: {cpu}",
            elapsed.as_secs_f64(),
            first_event.unwrap_or_default().as_secs_f64()
        );
    }
    let metrics = app.metrics();
    app.stop().unwrap();
    assert_eq!(metrics.records_in, EVENTS, "{id}: {metrics:?}");
    assert_eq!(metrics.records_out, expected, "{id}: {metrics:?}");
    if guarantee == Guarantee::AtLeastOnce {
        // Under exactly-once the topic also holds a commit marker per transaction.
        assert_eq!(cluster.end_offset(&output), expected as i64, "{id}");
    }
    cluster.delete_topic(&output);
    elapsed
}

fn nexmark_broker(c: &mut Criterion) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
    let cluster = Cluster::start();
    let loaded = cluster.load();
    eprintln!("{EVENTS} events produced in {:.2} s", loaded.as_secs_f64());

    let mut group = c.benchmark_group("nexmark_broker");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    // One run per sample: a run is long enough on its own (criterion warns that it cannot fit
    // ten samples in the time, which is expected).
    group.measurement_time(Duration::from_secs(1));
    let all = [
        ("q0", Query::Q0, Guarantee::AtLeastOnce),
        ("q1", Query::Q1, Guarantee::AtLeastOnce),
        ("q2", Query::Q2, Guarantee::AtLeastOnce),
        ("q5", Query::Q5, Guarantee::AtLeastOnce),
        ("q7", Query::Q7, Guarantee::AtLeastOnce),
        ("q0-exactly-once", Query::Q0, Guarantee::ExactlyOnce),
        ("q7-exactly-once", Query::Q7, Guarantee::ExactlyOnce),
    ];
    // Computed when a query is first run, so a filtered run computes only what it needs.
    let mut expected: HashMap<String, u64> = HashMap::new();
    for (name, query, guarantee) in all {
        group.bench_function(name, |b| {
            let query_name = format!("{query:?}");
            let expected = *expected.entry(query_name.clone()).or_insert_with(|| {
                let outputs = expected_outputs(query);
                eprintln!("{query_name}: {outputs} outputs expected");
                outputs
            });
            b.iter_custom(|iterations| {
                (0..iterations)
                    .map(|_| run(&cluster, query, guarantee, expected))
                    .sum()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, nexmark_broker);
criterion_main!(benches);

/// Records without a key.
#[derive(Clone, Copy)]
struct NoKey;

impl Serde<()> for NoKey {
    fn serialize(&self, _: &()) -> Result<Bytes, StreamsError> {
        Ok(Bytes::new())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<(), StreamsError> {
        if bytes.is_empty() {
            Ok(())
        } else {
            Err(StreamsError::Serde("a key where none was expected".into()))
        }
    }
}

fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], StreamsError> {
    bytes
        .try_into()
        .map_err(|_| StreamsError::Serde(format!("{} bytes, not {N}", bytes.len())))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(word)
}

/// Big-endian, eight bytes.
#[derive(Clone, Copy)]
struct U64;

impl Serde<u64> for U64 {
    fn serialize(&self, value: &u64) -> Result<Bytes, StreamsError> {
        Ok(Bytes::copy_from_slice(&value.to_be_bytes()))
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<u64, StreamsError> {
        Ok(u64::from_be_bytes(fixed(bytes)?))
    }
}

/// Two big-endian u64s.
#[derive(Clone, Copy)]
struct U64Pair;

impl Serde<(u64, u64)> for U64Pair {
    fn serialize(&self, value: &(u64, u64)) -> Result<Bytes, StreamsError> {
        let mut out = Vec::with_capacity(16);
        out.extend(value.0.to_be_bytes());
        out.extend(value.1.to_be_bytes());
        Ok(out.into())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<(u64, u64), StreamsError> {
        let bytes: [u8; 16] = fixed(bytes)?;
        Ok((u64_at(&bytes, 0), u64_at(&bytes, 8)))
    }
}

/// A window's start and end, as two big-endian i64s.
#[derive(Clone, Copy)]
struct WindowSerde;

impl Serde<Window> for WindowSerde {
    fn serialize(&self, window: &Window) -> Result<Bytes, StreamsError> {
        U64Pair.serialize(&(window.start as u64, window.end as u64))
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Window, StreamsError> {
        let (start, end) = U64Pair.deserialize(bytes)?;
        Ok(Window::new(start as i64, end as i64))
    }
}

/// A change of q7's highest bid: the kind (0 update, 1 retraction, 2 final), the window,
/// and the bid.
#[derive(Clone, Copy)]
struct ChangeSerde;

impl Serde<Change<(), Bid>> for ChangeSerde {
    fn serialize(&self, change: &Change<(), Bid>) -> Result<Bytes, StreamsError> {
        let (kind, bid) = match change {
            Change::Update { value, .. } => (0, value),
            Change::Retract { old_value, .. } => (1, old_value),
            Change::Final { value, .. } => (2, value),
        };
        let mut out = vec![kind];
        out.extend_from_slice(&WindowSerde.serialize(&change.window())?);
        out.extend_from_slice(&BidSerde.serialize(bid)?);
        Ok(out.into())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Change<(), Bid>, StreamsError> {
        let short = || StreamsError::Serde("a change shorter than its header".into());
        let (&kind, rest) = bytes.split_first().ok_or_else(short)?;
        let window = WindowSerde.deserialize(rest.get(..16).ok_or_else(short)?)?;
        let value = BidSerde.deserialize(&rest[16..])?;
        match kind {
            0 => Ok(Change::Update {
                key: (),
                window,
                value,
            }),
            1 => Ok(Change::Retract {
                key: (),
                window,
                old_value: value,
            }),
            2 => Ok(Change::Final {
                key: (),
                window,
                value,
            }),
            _ => Err(StreamsError::Serde(format!("no change is of kind {kind}"))),
        }
    }
}
