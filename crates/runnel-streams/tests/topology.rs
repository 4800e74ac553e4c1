//! The in-process dataflow: stateless operations, tables, windowed tables and their
//! changelogs, sinks, watermarks across partitions with an idle one, and event time from an
//! extractor.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::rc::Rc;

use runnel_streams::{
    Change, ClockSkewCorrection, DeviceTimes, EmitMode, Incoming, LatePolicy, Predicate, Record,
    StreamsError, StringSerde, TimestampExtractor, Topology, TopologyBuilder, Window, WindowSpec,
    WindowedConfig,
};

type Shared<T> = Rc<RefCell<Vec<T>>>;

fn collected<T: 'static>() -> (Shared<T>, Shared<T>) {
    let v = Rc::new(RefCell::new(Vec::new()));
    (v.clone(), v)
}

#[test]
fn word_count_through_flat_map_key_by_and_a_table() {
    let mut builder = TopologyBuilder::new();
    let (input, lines) = builder.source::<(), String>();
    let words = lines
        .flat_map(|_, line: String| {
            line.split_whitespace()
                .map(|w| (w.to_lowercase(), ()))
                .collect::<Vec<_>>()
        })
        .filter(|word, _| word.len() > 1)
        .key_by(|word, _| word.clone());
    let counts = words.group_by_key().count();
    let (changes, sink) = collected();
    counts
        .changes()
        .for_each(move |r| sink.borrow_mut().push((r.key.clone(), r.value)));
    let mut topology = builder.build(0, 1_000).unwrap();
    for (i, line) in ["the cat a", "The dog", "the end"].into_iter().enumerate() {
        topology
            .push(&input, Record::new((), line.to_string(), i as i64, 0), 0)
            .unwrap();
    }
    assert_eq!(counts.get(&"the".to_string()), Some(3));
    assert_eq!(counts.get(&"cat".to_string()), Some(1));
    assert_eq!(counts.get(&"a".to_string()), None);
    let changes = changes.borrow();
    assert_eq!(changes.len(), 6);
    assert_eq!(changes.last(), Some(&("end".to_string(), 1)));
    assert_eq!(topology.records_in(), 3);
}

#[test]
fn map_branch_merge_and_sinks() {
    let mut builder = TopologyBuilder::new();
    let (input, numbers) = builder.source::<u32, i64>();
    let predicates: Vec<Predicate<u32, i64>> =
        vec![Box::new(|_, v| *v < 0), Box::new(|_, v| *v % 20 == 0)];
    let branches = numbers.map_values(|v| v * 10).branch(predicates);
    let (negative, even) = (branches[0].clone(), branches[1].clone());
    let both = negative.map(|k, v| (k + 100, -v)).merge(&even);
    let (out, sink) = collected();
    both.to(move |r: Record<u32, i64>| {
        if r.value == 990 {
            return Err(StreamsError::Sink("refused".into()));
        }
        sink.borrow_mut().push((r.key, r.value, r.timestamp));
        Ok(())
    });
    let mut topology = builder.build(0, 1_000).unwrap();
    for (k, v) in [(1, -3), (2, 4), (3, 5), (4, 2)] {
        topology.push(&input, Record::new(k, v, 7, 0), 0).unwrap();
    }
    // -30 goes to the first branch only (it is also a multiple of 20), 50 to none.
    assert_eq!(*out.borrow(), vec![(101, 30, 7), (2, 40, 7), (4, 20, 7)]);
    let refused = topology.push(&input, Record::new(5, -99, 7, 0), 0);
    assert!(matches!(refused, Err(StreamsError::Sink(_))));
    // The error is reported once; the graph goes on.
    assert!(topology.push(&input, Record::new(6, 8, 7, 0), 0).is_ok());
}

#[test]
fn page_views_per_user_in_tumbling_windows_emit_final() {
    let mut builder = TopologyBuilder::new();
    let (input, views) = builder.source::<String, String>();
    let config = WindowedConfig::new(
        WindowSpec::tumbling(60_000)
            .unwrap()
            .with_grace(5_000)
            .unwrap(),
        LatePolicy::Drop,
        EmitMode::Final,
    );
    let per_user = views.group_by_key().windowed_by(config).count().unwrap();
    let (finals, sink) = collected();
    per_user
        .changes()
        .for_each(move |r| sink.borrow_mut().push(r.value.clone()));
    // Two partitions; 1 s of out-of-orderness; a partition quiet for 10 s is idle.
    let mut topology = builder.build(1_000, 10_000).unwrap();
    let view = |user: &str, t: i64, p: u32| Record::new(user.to_string(), "/".to_string(), t, p);
    topology.push(&input, view("ann", 1_000, 0), 0).unwrap();
    topology.push(&input, view("bob", 2_000, 1), 0).unwrap();
    topology.push(&input, view("ann", 59_000, 0), 1).unwrap();
    // Partition 0 is far ahead, but partition 1 holds the watermark back.
    topology.push(&input, view("ann", 70_000, 0), 2).unwrap();
    assert_eq!(topology.watermark(), 1_000);
    assert_eq!(topology.partition_watermark(&input, 0), Some(69_000));
    assert!(finals.borrow().is_empty());
    // Ten seconds of processing time later partition 1 is idle: the window closes.
    topology.advance_processing_time(10_000).unwrap();
    assert_eq!(topology.watermark(), 69_000);
    let window = Window::new(0, 60_000);
    assert_eq!(
        *finals.borrow(),
        vec![
            Change::Final {
                key: "ann".to_string(),
                window,
                value: 2
            },
            Change::Final {
                key: "bob".to_string(),
                window,
                value: 1
            },
        ]
    );
    // Partition 1 wakes up with a record for the closed window: dropped, counted.
    topology
        .push(&input, view("bob", 3_000, 1), 10_001)
        .unwrap();
    assert_eq!(per_user.late_records_dropped(), 1);
    assert_eq!(per_user.get(&"bob".to_string(), window), Some(1));
    topology.finish().unwrap();
    assert_eq!(
        per_user.get(&"ann".to_string(), Window::new(60_000, 120_000)),
        Some(1)
    );
}

#[test]
fn sessions_with_a_merging_aggregate_and_skew_corrected_time() {
    #[derive(Clone)]
    struct Click {
        times: DeviceTimes,
        page: &'static str,
    }
    let mut builder = TopologyBuilder::new();
    let (input, clicks) =
        builder.source_with_timestamps(ClockSkewCorrection::new(|c: &Click| c.times));
    let config = WindowedConfig::new(
        WindowSpec::session(30).unwrap(),
        LatePolicy::Drop,
        EmitMode::Updates,
    );
    let pages = clicks
        .group_by_key()
        .windowed_by(config)
        .aggregate_with(
            runnel_streams::Aggregate::new(Vec::new, |_: &u8, c: &Click, mut pages: Vec<_>| {
                pages.push(c.page);
                pages
            })
            .with_merger(|_: &u8, mut older: Vec<_>, newer: Vec<_>| {
                older.extend(newer);
                older
            }),
        )
        .unwrap();
    let mut topology = builder.build(100, 1_000).unwrap();
    // The device's clock is 1000 behind the server's: events land 1000 later.
    let click = |event, sent, received, page| Click {
        times: DeviceTimes {
            event,
            sent,
            received,
        },
        page,
    };
    topology
        .push(&input, Record::new(7, click(0, 5, 1_005, "home"), 0, 0), 0)
        .unwrap();
    topology
        .push(
            &input,
            Record::new(7, click(20, 25, 1_025, "cart"), 0, 0),
            0,
        )
        .unwrap();
    assert_eq!(
        pages.snapshot(),
        vec![(7, Window::new(1_000, 1_021), vec!["home", "cart"])]
    );
}

#[test]
fn unwindowed_reduce_and_aggregate() {
    let mut builder = TopologyBuilder::new();
    let (input, amounts) = builder.source::<&'static str, u64>();
    let grouped = amounts.group_by_key();
    let max = grouped.reduce(|a, b| *a.max(b));
    let spent = grouped.aggregate(|| (0u64, 0u32), |_, v, (sum, n)| (sum + v, n + 1));
    let mut topology = builder.build(0, 1_000).unwrap();
    for (k, v) in [("x", 5), ("x", 9), ("y", 1), ("x", 2)] {
        topology.push(&input, Record::new(k, v, 0, 0), 0).unwrap();
    }
    assert_eq!(max.get(&"x"), Some(9));
    assert_eq!(spent.get(&"x"), Some((16, 3)));
    assert_eq!(spent.get(&"y"), Some((1, 1)));
}

#[test]
fn bytes_in_json_through_and_bytes_out() {
    use bytes::Bytes;
    use runnel_streams::{JsonSerde, StringSerde};

    let mut builder = TopologyBuilder::new();
    let (input, raw) = builder.source::<Bytes, Bytes>();
    let scores = raw.deserialize(StringSerde, JsonSerde::<Vec<u32>>::new());
    let (out, sink) = collected();
    scores
        .map_values(|v: Vec<u32>| v.iter().sum::<u32>())
        .serialize(StringSerde, JsonSerde::<u32>::new())
        .for_each(move |r| sink.borrow_mut().push((r.key.clone(), r.value.clone())));
    let mut topology = builder.build(0, 1_000).unwrap();
    let record = |k: &'static [u8], v: &'static [u8]| {
        Record::new(Bytes::from_static(k), Bytes::from_static(v), 0, 0)
    };
    topology
        .push(&input, record(b"ann", b"[1,2,3]"), 0)
        .unwrap();
    let bad = topology.push(&input, record(b"bob", b"[1,"), 0);
    assert!(matches!(bad, Err(StreamsError::Serde(_))));
    let bad_key = topology.push(&input, record(b"\xff", b"[]"), 0);
    assert!(matches!(bad_key, Err(StreamsError::Serde(_))));
    assert_eq!(
        *out.borrow(),
        vec![(Bytes::from_static(b"ann"), Bytes::from_static(b"6"))]
    );
}

#[test]
fn a_windowed_table_forgets_expired_windows_while_running_and_keeps_all_at_the_end() {
    let mut builder = TopologyBuilder::new();
    let (input, clicks) = builder.source::<String, ()>();
    let config = WindowedConfig::new(
        WindowSpec::tumbling(10).unwrap().with_grace(5).unwrap(),
        LatePolicy::Correct { retention: 20 },
        EmitMode::Updates,
    );
    let counts = clicks
        .group_by_key()
        .windowed_by(config)
        .count()
        .unwrap()
        .retained_for(10);
    let mut topology = builder.build(0, 1_000).unwrap();
    let ann = "ann".to_string();
    let click = |t| Record::new(ann.clone(), (), t, 0);
    topology.push(&input, click(1), 0).unwrap();
    topology.push(&input, click(34), 0).unwrap();
    // [0, 10) closed at 15, may still be corrected until 35, and is kept 10 more.
    assert_eq!(counts.get(&ann, Window::new(0, 10)), Some(1));
    topology.push(&input, click(44), 0).unwrap();
    assert_eq!(counts.get(&ann, Window::new(0, 10)), Some(1));
    topology.push(&input, click(45), 0).unwrap();
    assert_eq!(counts.get(&ann, Window::new(0, 10)), None);
    assert_eq!(counts.get(&ann, Window::new(40, 50)), Some(2));
    // At 60 the table keeps what ends after 60 - 5 - 20 - 10 = 25.
    topology.push(&input, click(60), 0).unwrap();
    topology.finish().unwrap();
    assert_eq!(
        counts.snapshot(),
        vec![
            (ann.clone(), Window::new(30, 40), 1),
            (ann.clone(), Window::new(40, 50), 2),
            (ann.clone(), Window::new(60, 70), 1)
        ]
    );
}

/// Clicks read from a topic, counted per user in tumbling windows of 10 ms.
fn windowed_clicks(
    time: impl FnOnce(&mut TopologyBuilder) -> runnel_streams::Stream<String, String>,
) -> (Topology, runnel_streams::WindowedTable<String, u64>) {
    let mut builder = TopologyBuilder::new();
    let config = WindowedConfig::new(
        WindowSpec::tumbling(10).unwrap(),
        LatePolicy::Drop,
        EmitMode::Updates,
    );
    let counts = time(&mut builder)
        .group_by_key()
        .windowed_by(config)
        .count()
        .unwrap();
    (builder.build(0, 1_000).unwrap(), counts)
}

fn click(value: &[u8], timestamp: i64) -> Incoming<'_> {
    Incoming {
        key: Some(b"ann"),
        value: Some(value),
        timestamp,
        partition: 0,
    }
}

/// Event time from a field of the value instead of the record timestamp.
struct TimeInValue;

impl TimestampExtractor<String, String> for TimeInValue {
    fn extract(&self, _key: &String, value: &String, record_timestamp: i64) -> i64 {
        value.parse().unwrap_or(record_timestamp)
    }
}

#[test]
fn a_topic_stream_takes_its_time_from_the_record_an_extractor_or_processing_time() {
    let ann = "ann".to_string();
    // Record timestamps 1 and 25; the values say 15 and 17; they are read at 40 and 43.
    let push = |topology: &mut Topology| {
        topology
            .push_from_topic("clicks", click(b"15", 1), 40)
            .unwrap();
        topology
            .push_from_topic("clicks", click(b"17", 25), 43)
            .unwrap();
    };

    let (mut topology, counts) = windowed_clicks(|b| b.stream("clicks", StringSerde, StringSerde));
    push(&mut topology);
    assert_eq!(counts.get(&ann, Window::new(0, 10)), Some(1));
    assert_eq!(counts.get(&ann, Window::new(20, 30)), Some(1));
    assert_eq!(topology.topic_watermark("clicks", 0), Some(25));

    let (mut topology, counts) = windowed_clicks(|b| {
        b.stream_with_timestamps("clicks", StringSerde, StringSerde, TimeInValue)
    });
    push(&mut topology);
    assert_eq!(counts.get(&ann, Window::new(10, 20)), Some(2));
    assert_eq!(topology.topic_watermark("clicks", 0), Some(17));

    let (mut topology, counts) =
        windowed_clicks(|b| b.stream_in_processing_time("clicks", StringSerde, StringSerde));
    push(&mut topology);
    assert_eq!(counts.get(&ann, Window::new(40, 50)), Some(2));
    assert_eq!(topology.topic_watermark("clicks", 0), Some(43));
    // A record whose own timestamp is far behind is not late in processing time.
    topology
        .push_from_topic("clicks", click(b"0", 0), 51)
        .unwrap();
    assert_eq!(counts.get(&ann, Window::new(50, 60)), Some(1));
    assert_eq!(counts.late_records_dropped(), 0);
}

#[test]
fn a_stream_time_punctuation_is_counted_each_time_the_watermark_moves_forward() {
    let mut builder = TopologyBuilder::new();
    let (input, events) = builder.source::<(), ()>();
    events.for_each(|_| {});
    let mut topology = builder.build(0, 1_000).unwrap();
    // Event times 10, 10 (no move), 5 (late: no move), 20, 30.
    for timestamp in [10, 10, 5, 20, 30] {
        topology
            .push(&input, Record::new((), (), timestamp, 0), 0)
            .unwrap();
    }
    assert_eq!(topology.stream_time_punctuations(), 3);
    // Processing time passing moves no watermark of a single partition.
    topology.advance_processing_time(5_000).unwrap();
    assert_eq!(topology.stream_time_punctuations(), 3);
    // The end of the input is the last move.
    topology.finish().unwrap();
    topology.finish().unwrap();
    assert_eq!(topology.stream_time_punctuations(), 4);
}
