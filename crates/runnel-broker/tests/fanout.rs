//! Fan-out: every consumer group receives every record, and reading deletes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Message, Offset, TopicPartitionList};

use common::members::{assignment_of, close, drive, group_member_at, GroupMember, Inbox, Received};
use common::{assigned_consumer, bootstrap, consume, create_topic_at, eventually, producer, start};

const WAIT: Duration = Duration::from_secs(30);
const TOPIC: &str = "fanout";
const PARTITIONS: i32 = 4;
const RECORDS: usize = 1000;

/// (key, payload) at each offset, by partition.
type Expected = Vec<Vec<(String, String)>>;

/// Asserts `records` hold each partition's records exactly once, in offset order.
fn assert_everything_once_in_order(group: &str, records: &[Received], expected: &Expected) {
    for (p, want) in expected.iter().enumerate() {
        let got: Vec<(i64, String, String)> = records
            .iter()
            .filter(|r| r.partition == p as i32)
            .map(|r| (r.offset, r.key.clone().unwrap(), r.payload.clone()))
            .collect();
        let want: Vec<(i64, String, String)> = want
            .iter()
            .enumerate()
            .map(|(o, (k, v))| (o as i64, k.clone(), v.clone()))
            .collect();
        assert_eq!(got, want, "group {group}, partition {p}");
    }
    assert_eq!(records.len(), RECORDS, "group {group}");
}

fn received_everything(records: &[Received], expected: &Expected) -> bool {
    let seen: BTreeSet<(i32, i64)> = records.iter().map(|r| (r.partition, r.offset)).collect();
    expected
        .iter()
        .enumerate()
        .all(|(p, want)| (0..want.len() as i64).all(|o| seen.contains(&(p as i32, o))))
}

/// Committed offsets of `group`, by partition, as a fresh client of that group reads them.
async fn committed_of(broker: &runnel_broker::Broker, group: &str) -> Vec<Offset> {
    let reader = group_member_at(&bootstrap(broker), group, &[]);
    tokio::task::spawn_blocking(move || {
        let mut wanted = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            wanted.add_partition(TOPIC, p);
        }
        let committed = reader.committed_offsets(wanted, WAIT).unwrap();
        (0..PARTITIONS)
            .map(|p| committed.find_partition(TOPIC, p).unwrap().offset())
            .collect()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_groups_each_receive_everything_and_reading_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| c.group_initial_rebalance_delay_ms = 1000).await;
    let bootstrap = bootstrap(&broker);
    create_topic_at(&bootstrap, TOPIC, PARTITIONS).await;

    // Group "fanout-a" has two members, group "fanout-b" one; both settle before any record
    // exists, so neither has a reason to read anything twice.
    let (tx_a, mut inbox_a) = Inbox::new();
    let (tx_b, mut inbox_b) = Inbox::new();
    let group_a: Vec<Arc<GroupMember>> = (0..2)
        .map(|_| group_member_at(&bootstrap, "fanout-a", &[]))
        .collect();
    let group_b = vec![group_member_at(&bootstrap, "fanout-b", &[])];
    let mut tasks = Vec::new();
    for (i, member) in group_a.iter().enumerate() {
        member.subscribe(&[TOPIC]).unwrap();
        tasks.push(drive(i, Arc::clone(member), tx_a.clone()));
    }
    group_b[0].subscribe(&[TOPIC]).unwrap();
    tasks.push(drive(0, Arc::clone(&group_b[0]), tx_b));
    let watched: Vec<_> = group_a.iter().chain(&group_b).cloned().collect();
    eventually("both groups to settle", WAIT, move || {
        let a0 = assignment_of(&watched[0]);
        let a1 = assignment_of(&watched[1]);
        let b = assignment_of(&watched[2]);
        a0.len() == 2 && a1.len() == 2 && a0.union(&a1).count() == 4 && b.len() == 4
    })
    .await;
    let owners_a: Vec<BTreeSet<i32>> = group_a.iter().map(|m| assignment_of(m)).collect();

    // Keyed records: the producer's partitioner spreads them over the four partitions.
    let producer = producer(&broker, &[("acks", "all")]);
    let pending: Vec<_> = (0..RECORDS)
        .map(|i| {
            let (key, value) = (format!("key-{i}"), format!("value-{i}"));
            let future = producer
                .send_result(FutureRecord::to(TOPIC).key(&key).payload(&value))
                .map_err(|(e, _)| e)
                .unwrap();
            (key, value, future)
        })
        .collect();
    let mut delivered = Vec::new();
    for (key, value, future) in pending {
        let d = future.await.unwrap().unwrap();
        delivered.push((d.partition, d.offset, key, value));
    }
    delivered.sort_by_key(|(p, o, _, _)| (*p, *o));
    let mut expected: Expected = vec![Vec::new(); PARTITIONS as usize];
    for (p, o, key, value) in delivered {
        assert_eq!(o, expected[p as usize].len() as i64, "dense offsets");
        expected[p as usize].push((key, value));
    }
    assert!(
        expected.iter().all(|records| !records.is_empty()),
        "every partition got records: {:?}",
        expected.iter().map(Vec::len).collect::<Vec<_>>()
    );

    inbox_a
        .until("group a to receive everything", |all| {
            received_everything(all, &expected)
        })
        .await;
    inbox_b
        .until("group b to receive everything", |all| {
            received_everything(all, &expected)
        })
        .await;
    assert_everything_once_in_order("fanout-a", &inbox_a.all, &expected);
    assert_everything_once_in_order("fanout-b", &inbox_b.all, &expected);
    for r in &inbox_a.all {
        assert!(
            owners_a[r.member].contains(&r.partition),
            "split within group a"
        );
    }

    // Each group keeps its own position: a commits the end, b half-way.
    let ends: Vec<i64> = expected.iter().map(|r| r.len() as i64).collect();
    for (i, member) in group_a.iter().enumerate() {
        let mut list = TopicPartitionList::new();
        for &p in &owners_a[i] {
            list.add_partition_offset(TOPIC, p, Offset::Offset(ends[p as usize]))
                .unwrap();
        }
        member.commit(&list, CommitMode::Sync).unwrap();
    }
    let mut list = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        list.add_partition_offset(TOPIC, p, Offset::Offset(ends[p as usize] / 2))
            .unwrap();
    }
    group_b[0].commit(&list, CommitMode::Sync).unwrap();
    close(group_a.into_iter().chain(group_b).collect(), tasks).await;
    assert_eq!(
        committed_of(&broker, "fanout-a").await,
        ends.iter().map(|&e| Offset::Offset(e)).collect::<Vec<_>>()
    );
    assert_eq!(
        committed_of(&broker, "fanout-b").await,
        ends.iter()
            .map(|&e| Offset::Offset(e / 2))
            .collect::<Vec<_>>()
    );

    // Reading deleted nothing: a consumer outside any group, assigned every partition from
    // offset 0, still gets every record.
    let all: Vec<i32> = (0..PARTITIONS).collect();
    let reader = assigned_consumer(&broker, TOPIC, &all, Offset::Offset(0), &[]);
    let messages = consume(&reader, RECORDS, WAIT).await;
    let records: Vec<Received> = messages
        .iter()
        .map(|m| Received {
            member: 0,
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            payload: String::from_utf8_lossy(m.payload().unwrap()).into_owned(),
        })
        .collect();
    assert_everything_once_in_order("manual assignment", &records, &expected);
    for p in 0..PARTITIONS {
        let (low, high) = reader.fetch_watermarks(TOPIC, p, WAIT).unwrap();
        assert_eq!((low, high), (0, ends[p as usize]), "partition {p}");
    }
    drop(reader);
    broker.shutdown().await.unwrap();
}

/// Kafka appends the produce requests of one connection in the order they were sent, which
/// is what keeps a pipelining producer's records in order within a partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipelined_produce_requests_keep_their_order_in_a_partition() {
    const TOPIC: &str = "pipelined";
    const COUNT: i64 = 3000;
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    create_topic_at(&bootstrap(&broker), TOPIC, 1).await;
    // Small batches and many requests in flight on the one connection.
    let producer = producer(
        &broker,
        &[
            ("acks", "all"),
            ("batch.num.messages", "10"),
            ("max.in.flight.requests.per.connection", "64"),
        ],
    );
    let pending: Vec<_> = (0..COUNT)
        .map(|i| {
            producer
                .send_result(
                    FutureRecord::to(TOPIC)
                        .partition(0)
                        .key("k")
                        .payload(&i.to_string()),
                )
                .map_err(|(e, _)| e)
                .unwrap()
        })
        .collect();
    for (i, future) in pending.into_iter().enumerate() {
        let delivery = future.await.unwrap().unwrap();
        assert_eq!(delivery.offset, i as i64, "record {i}");
    }
    let reader = assigned_consumer(&broker, TOPIC, &[0], Offset::Beginning, &[]);
    let messages = consume(&reader, COUNT as usize, WAIT).await;
    let values: Vec<i64> = messages
        .iter()
        .map(|m| {
            std::str::from_utf8(m.payload().unwrap())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(values, (0..COUNT).collect::<Vec<_>>());
    drop((reader, producer));
    broker.shutdown().await.unwrap();
}
