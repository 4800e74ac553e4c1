//! The broker as a separate process, killed with SIGKILL: nothing acknowledged is lost, and a
//! torn segment tail is cut off on restart. The test binary re-executes itself to run the
//! broker (see `common::process`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer, PurgeConfig};
use rdkafka::{Message, Offset, TopicPartitionList};

use common::process::{serve_if_asked, BrokerProcess};
use common::{
    assigned_consumer_at, client_config_at, consume, create_topic_at, eventually, producer_at,
};

/// The entry test the broker children run.
const BROKER_ENTRY: &str = "broker_process_entry";
const WAIT: Duration = Duration::from_secs(30);

/// Does nothing in a normal run; in a child started by `BrokerProcess::start` it is the broker.
#[test]
fn broker_process_entry() {
    serve_if_asked();
}

/// High watermark of each partition, as a client sees it.
async fn high_watermarks(consumer: &Arc<StreamConsumer>, topic: &str, partitions: i32) -> Vec<i64> {
    let consumer = Arc::clone(consumer);
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        (0..partitions)
            .map(|p| {
                let (low, high) = consumer.fetch_watermarks(&topic, p, WAIT).unwrap();
                assert_eq!(low, 0, "partition {p}: nothing was deleted");
                high
            })
            .collect()
    })
    .await
    .unwrap()
}

/// Reads every partition from offset 0 up to its high watermark; asserts offsets are dense
/// and in order from 0. Returns the records by partition, indexed by offset.
async fn read_everything(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> (Arc<StreamConsumer>, Vec<Vec<OwnedMessage>>) {
    let all: Vec<i32> = (0..partitions).collect();
    let consumer = Arc::new(assigned_consumer_at(
        bootstrap,
        topic,
        &all,
        Offset::Beginning,
        &[],
    ));
    let highs = high_watermarks(&consumer, topic, partitions).await;
    let total: i64 = highs.iter().sum();
    let messages = consume(&consumer, total as usize, WAIT).await;
    assert_eq!(
        messages.len() as i64,
        total,
        "every record below the high watermarks {highs:?} is readable"
    );
    let mut by_partition: Vec<Vec<OwnedMessage>> = vec![Vec::new(); partitions as usize];
    for m in messages {
        let p = m.partition() as usize;
        assert_eq!(
            m.offset(),
            by_partition[p].len() as i64,
            "partition {p}: offsets are contiguous from 0 and in order"
        );
        by_partition[p].push(m);
    }
    for (p, records) in by_partition.iter().enumerate() {
        assert_eq!(records.len() as i64, highs[p], "partition {p}");
    }
    (consumer, by_partition)
}

fn text(bytes: Option<&[u8]>) -> String {
    String::from_utf8(bytes.expect("present").to_vec()).unwrap()
}

/// Produces one record to each partition; asserts it lands at `expected[p]` and that a
/// reader positioned there receives it.
async fn produce_after(
    bootstrap: &str,
    topic: &str,
    expected: &[i64],
    reader: &StreamConsumer,
    payload: &str,
) {
    let producer = producer_at(bootstrap, &[("acks", "all")]);
    for (p, &next) in expected.iter().enumerate() {
        let delivery = producer
            .send(
                FutureRecord::to(topic)
                    .partition(p as i32)
                    .key("after")
                    .payload(payload),
                WAIT,
            )
            .await
            .unwrap();
        assert_eq!(
            (delivery.partition, delivery.offset),
            (p as i32, next),
            "partition {p}: the next offset after the recovered end"
        );
    }
    let more = consume(reader, expected.len(), WAIT).await;
    assert_eq!(more.len(), expected.len());
    for m in more {
        assert_eq!(m.offset(), expected[m.partition() as usize]);
        assert_eq!(m.payload(), Some(payload.as_bytes()));
    }
}

/// What the producer was told about one record.
#[derive(Debug, Clone)]
struct Acked {
    partition: i32,
    offset: i64,
    key: String,
    value: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_acks_all_load_loses_no_acknowledged_record() {
    kill_9_under_load(&[]).await;
}

/// The same with `flush.messages=1`: appends go through the blocking pool and share
/// fdatasyncs, and the high watermark moves only after each sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_with_a_sync_per_append_loses_no_acknowledged_record() {
    kill_9_under_load(&[("log.flush.interval.messages", "1")]).await;
}

/// Offsets a group commits (simple commits, outside any membership) while `broker` is busy.
fn commit_offsets(bootstrap: &str, group: &str, topic: &str, offsets: &[i64]) {
    let consumer: StreamConsumer = client_config_at(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for (p, &o) in offsets.iter().enumerate() {
        list.add_partition_offset(topic, p as i32, Offset::Offset(o))
            .unwrap();
    }
    consumer.commit(&list, CommitMode::Sync).unwrap();
}

fn committed_offsets(bootstrap: &str, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let consumer: StreamConsumer = client_config_at(bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition(topic, p);
    }
    let committed = consumer.committed_offsets(list, WAIT).unwrap();
    (0..partitions)
        .map(
            |p| match committed.find_partition(topic, p).unwrap().offset() {
                Offset::Offset(o) => o,
                other => panic!("partition {p}: no committed offset ({other:?})"),
            },
        )
        .collect()
}

async fn kill_9_under_load(extra_settings: &[(&str, &str)]) {
    const TOPIC: &str = "crash-load";
    const GROUP: &str = "crash-commits";
    const PARTITIONS: i32 = 3;
    const TOTAL: usize = 20_000;
    const KILL_AFTER: usize = 4_000;
    // Records awaiting their delivery report at any time: enough that the producer always
    // has requests in flight, few enough that the kill lands long before the end.
    const WINDOW: usize = 256;

    // Small segments and a dense index: the kill may land in a roll, and recovery has many
    // sealed segments and their indexes to trust or rebuild.
    let mut settings = vec![
        ("log.segment.bytes", "32768"),
        ("log.index.interval.bytes", "1024"),
    ];
    settings.extend_from_slice(extra_settings);

    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let broker = BrokerProcess::start(BROKER_ENTRY, &data, work.path(), &settings).await;
    let bootstrap = broker.bootstrap();
    create_topic_at(&bootstrap, TOPIC, PARTITIONS).await;

    let producer: FutureProducer = producer_at(
        &bootstrap,
        &[
            ("acks", "all"),
            ("enable.idempotence", "false"),
            ("linger.ms", "0"),
            ("message.timeout.ms", "15000"),
        ],
    );
    let acked_count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let producing = {
        let producer = producer.clone();
        let acked_count = Arc::clone(&acked_count);
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut failed = 0usize;
            let mut pending = VecDeque::new();
            // `None`: the report was dropped (cancelled), which is no acknowledgement either.
            let mut settle = |delivery: Option<OwnedDeliveryResult>, key, value| match delivery {
                Some(Ok(d)) => {
                    acked.push(Acked {
                        partition: d.partition,
                        offset: d.offset,
                        key,
                        value,
                    });
                    acked_count.fetch_add(1, Ordering::Release);
                }
                Some(Err(_)) | None => failed += 1,
            };
            for i in 0..TOTAL {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let key = format!("key-{i}");
                let value = format!("value-{i}");
                let future = producer
                    .send_result(
                        FutureRecord::to(TOPIC)
                            .partition((i % PARTITIONS as usize) as i32)
                            .key(&key)
                            .payload(&value),
                    )
                    .map_err(|(e, _)| e)
                    .expect("enqueued");
                pending.push_back((key, value, future));
                while pending.len() >= WINDOW {
                    let (key, value, future) = pending.pop_front().unwrap();
                    settle(future.await.ok(), key, value);
                }
            }
            // Whatever is still queued or in flight can no longer be acknowledged by the
            // killed broker: fail it now rather than after message.timeout.ms.
            producer.purge(PurgeConfig::default().queue().inflight());
            for (key, value, future) in pending {
                settle(future.await.ok(), key, value);
            }
            (acked, failed)
        })
    };

    // A group commits while the load runs; an acknowledged commit must survive too.
    let counter = Arc::clone(&acked_count);
    eventually("the first acknowledged records", WAIT, || {
        counter.load(Ordering::Acquire) >= KILL_AFTER / 2
    })
    .await;
    let commits = vec![11, 22, 33];
    let (b, c) = (bootstrap.clone(), commits.clone());
    tokio::task::spawn_blocking(move || commit_offsets(&b, GROUP, TOPIC, &c))
        .await
        .unwrap();
    let counter = Arc::clone(&acked_count);
    eventually("thousands of acknowledged records", WAIT, || {
        counter.load(Ordering::Acquire) >= KILL_AFTER
    })
    .await;
    let pid = broker.pid();
    broker.kill();
    stop.store(true, Ordering::Release);
    producer.purge(PurgeConfig::default().queue().inflight());
    let (acked, failed) = tokio::time::timeout(WAIT, producing)
        .await
        .expect("the producer settles every record after the kill")
        .unwrap();
    drop(producer);
    assert!(acked.len() >= KILL_AFTER, "{} acknowledged", acked.len());
    assert!(
        acked.len() < TOTAL && failed > 0,
        "the kill landed mid-stream: {} acknowledged, {failed} not",
        acked.len()
    );

    for p in 0..PARTITIONS {
        let segments = fs::read_dir(data.join(format!("{TOPIC}-{p}")))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "log")
            })
            .count();
        assert!(segments > 1, "partition {p} rolled segments ({segments})");
    }
    let broker = BrokerProcess::start(BROKER_ENTRY, &data, work.path(), &settings).await;
    assert_ne!(broker.pid(), pid);
    let bootstrap = broker.bootstrap();
    let b = bootstrap.clone();
    let recovered_commits =
        tokio::task::spawn_blocking(move || committed_offsets(&b, GROUP, TOPIC, PARTITIONS))
            .await
            .unwrap();
    assert_eq!(recovered_commits, commits, "acknowledged commits survive");
    let (reader, recovered) = read_everything(&bootstrap, TOPIC, PARTITIONS).await;
    // Every record in the log is one the producer sent, in its partition (records in flight
    // at the kill may be there or not, and a retried one may be there twice).
    for (p, records) in recovered.iter().enumerate() {
        for m in records {
            let key = text(m.key());
            let i: usize = key.strip_prefix("key-").unwrap().parse().unwrap();
            assert_eq!(i % PARTITIONS as usize, p, "{key} in partition {p}");
            assert_eq!(text(m.payload()), format!("value-{i}"));
        }
    }
    // Nothing acknowledged is missing or moved.
    for a in &acked {
        let found = recovered[a.partition as usize]
            .get(a.offset as usize)
            .unwrap_or_else(|| panic!("acknowledged {a:?} is missing after the restart"));
        assert_eq!(
            (text(found.key()), text(found.payload())),
            (a.key.clone(), a.value.clone()),
            "acknowledged at partition {} offset {}",
            a.partition,
            a.offset
        );
    }
    let ends: Vec<i64> = recovered.iter().map(|r| r.len() as i64).collect();
    produce_after(&bootstrap, TOPIC, &ends, &reader, "after the crash").await;
    eprintln!(
        "{extra_settings:?}: acknowledged {} of {TOTAL} before the kill ({failed} unacknowledged); recovered ends {ends:?}",
        acked.len()
    );
}

/// Base offset, position and length of every batch of a segment file.
fn batches_in(segment: &[u8]) -> Vec<(i64, usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 12 <= segment.len() {
        let base = i64::from_be_bytes(segment[pos..pos + 8].try_into().unwrap());
        let len = 12 + i32::from_be_bytes(segment[pos + 8..pos + 12].try_into().unwrap()) as usize;
        assert!(
            pos + len <= segment.len(),
            "the broker left a whole segment"
        );
        out.push((base, pos, len));
        pos += len;
    }
    assert_eq!(pos, segment.len());
    out
}

/// The active (highest named) segment file of a partition directory.
fn last_segment(partition_dir: &Path) -> PathBuf {
    fs::read_dir(partition_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .max()
        .expect("a segment file")
}

/// Bytes no batch parser accepts as a whole batch (deterministic, no RNG needed).
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn torn_tail_is_truncated_on_restart() {
    const TOPIC: &str = "torn-tail";
    const PARTITIONS: i32 = 3;

    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let broker = BrokerProcess::start(BROKER_ENTRY, &data, work.path(), &[]).await;
    let bootstrap = broker.bootstrap();
    create_topic_at(&bootstrap, TOPIC, PARTITIONS).await;

    // Per partition: 20 single-record batches, then 5 records enqueued together so that
    // they share the last batch.
    let single = producer_at(&bootstrap, &[("acks", "all")]);
    let batching = producer_at(&bootstrap, &[("acks", "all"), ("linger.ms", "200")]);
    let mut sent: Vec<BTreeMap<i64, String>> = vec![BTreeMap::new(); PARTITIONS as usize];
    for p in 0..PARTITIONS {
        for i in 0..20 {
            let value = format!("p{p}-single-{i}");
            let d = single
                .send(
                    FutureRecord::to(TOPIC)
                        .partition(p)
                        .key("k")
                        .payload(&value),
                    WAIT,
                )
                .await
                .unwrap();
            sent[p as usize].insert(d.offset, value);
        }
        let values: Vec<String> = (0..5).map(|i| format!("p{p}-batched-{i}")).collect();
        let futures: Vec<_> = values
            .iter()
            .map(|v| {
                batching
                    .send_result(FutureRecord::to(TOPIC).partition(p).key("k").payload(v))
                    .map_err(|(e, _)| e)
                    .unwrap()
            })
            .collect();
        for (v, f) in values.into_iter().zip(futures) {
            let d = f.await.unwrap().unwrap();
            sent[p as usize].insert(d.offset, v);
        }
    }
    drop((single, batching));
    broker.kill();

    // Damage the tail of each partition's active segment, the way an interrupted write can.
    let mut valid_ends = Vec::new();
    let mut valid_sizes = Vec::new();
    for p in 0..PARTITIONS {
        let path = last_segment(&data.join(format!("{TOPIC}-{p}")));
        let mut bytes = fs::read(&path).unwrap();
        let batches = batches_in(&bytes);
        let &(last_base, last_pos, last_len) = batches.last().unwrap();
        let end = sent[p as usize].len() as i64;
        assert_eq!(
            batches.first().map(|b| b.0),
            Some(0),
            "partition {p}: one segment"
        );
        let (valid_end, valid_size) = match p {
            // Cut mid-batch: the whole last batch (several records) goes.
            0 => {
                bytes.truncate(last_pos + last_len / 2);
                (last_base, last_pos)
            }
            // Whole batches followed by garbage: a batch that looks right (next offset, a
            // plausible length) but fails its CRC, then noise. Every record stays.
            1 => {
                let mut forged = bytes[last_pos..last_pos + last_len].to_vec();
                forged[..8].copy_from_slice(&end.to_be_bytes());
                let n = forged.len();
                forged[n - 1] ^= 0xff;
                bytes.extend_from_slice(&forged);
                bytes.extend_from_slice(&garbage(300, 7));
                (end, bytes.len() - forged.len() - 300)
            }
            // Cut mid-batch, then garbage where the rest of the batch was.
            _ => {
                bytes.truncate(last_pos + 20);
                bytes.extend_from_slice(&garbage(4096, 11));
                (last_base, last_pos)
            }
        };
        assert!(
            valid_end < end || p == 1,
            "partition {p}: the last batch held records"
        );
        fs::write(&path, &bytes).unwrap();
        valid_ends.push(valid_end);
        valid_sizes.push((path, valid_size as u64));
    }

    let broker = BrokerProcess::start(BROKER_ENTRY, &data, work.path(), &[]).await;
    // Recovery cut each file back to its last whole, valid batch.
    for (path, size) in &valid_sizes {
        assert_eq!(
            fs::metadata(path).unwrap().len(),
            *size,
            "{}",
            path.display()
        );
    }
    let bootstrap = broker.bootstrap();
    let (reader, recovered) = read_everything(&bootstrap, TOPIC, PARTITIONS).await;
    for p in 0..PARTITIONS as usize {
        assert_eq!(
            recovered[p].len() as i64,
            valid_ends[p],
            "partition {p}: exactly the valid prefix"
        );
        for m in &recovered[p] {
            assert_eq!(text(m.payload()), sent[p][&m.offset()], "partition {p}");
        }
    }
    produce_after(&bootstrap, TOPIC, &valid_ends, &reader, "after the tear").await;
    drop(reader);

    // The new records went where the valid prefix ends: another crash keeps them.
    broker.kill();
    let broker = BrokerProcess::start(BROKER_ENTRY, &data, work.path(), &[]).await;
    let (_reader, again) = read_everything(&broker.bootstrap(), TOPIC, PARTITIONS).await;
    for p in 0..PARTITIONS as usize {
        assert_eq!(again[p].len() as i64, valid_ends[p] + 1, "partition {p}");
        let last = again[p].last().unwrap();
        assert_eq!(text(last.payload()), "after the tear");
        for m in &again[p][..again[p].len() - 1] {
            assert_eq!(text(m.payload()), sent[p][&m.offset()], "partition {p}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_torn_batch_alone_in_the_active_segment_leaves_it_empty() {
    const TOPIC: &str = "torn-roll";
    // Every batch rolls a segment: the torn one is the only batch of the active segment.
    const SETTINGS: &[(&str, &str)] = &[("log.segment.bytes", "100")];

    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let broker = BrokerProcess::start(BROKER_ENTRY, &data, work.path(), SETTINGS).await;
    let bootstrap = broker.bootstrap();
    create_topic_at(&bootstrap, TOPIC, 1).await;
    let producer = producer_at(&bootstrap, &[("acks", "all")]);
    for i in 0..10 {
        let d = producer
            .send(
                FutureRecord::to(TOPIC)
                    .partition(0)
                    .key("k")
                    .payload(&format!("r{i}")),
                WAIT,
            )
            .await
            .unwrap();
        assert_eq!(d.offset, i);
    }
    drop(producer);
    broker.kill();

    let dir = data.join(format!("{TOPIC}-0"));
    let path = last_segment(&dir);
    assert!(path.ends_with("00000000000000000009.log"), "{path:?}");
    let bytes = fs::read(&path).unwrap();
    assert_eq!(batches_in(&bytes).len(), 1);
    fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();

    let broker = BrokerProcess::start(BROKER_ENTRY, &data, work.path(), SETTINGS).await;
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        0,
        "the torn batch is gone"
    );
    let bootstrap = broker.bootstrap();
    let (reader, recovered) = read_everything(&bootstrap, TOPIC, 1).await;
    let values: Vec<String> = recovered[0].iter().map(|m| text(m.payload())).collect();
    assert_eq!(values, (0..9).map(|i| format!("r{i}")).collect::<Vec<_>>());
    produce_after(&bootstrap, TOPIC, &[9], &reader, "after the tear").await;
    drop(reader);

    broker.kill();
    let broker = BrokerProcess::start(BROKER_ENTRY, &data, work.path(), SETTINGS).await;
    let (_reader, again) = read_everything(&broker.bootstrap(), TOPIC, 1).await;
    assert_eq!(again[0].len(), 10);
    assert_eq!(text(again[0][9].payload()), "after the tear");
}
