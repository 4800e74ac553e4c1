//! Consumer groups with librdkafka: membership, assignment and committed offsets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::mpsc;

use common::{client_config, eventually, producer, start};

const WAIT: Duration = Duration::from_secs(30);

fn group_consumer(broker: &runnel_broker::Broker, group: &str) -> Arc<StreamConsumer> {
    let mut config = client_config(broker);
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "300")
        .set("partition.assignment.strategy", "range");
    Arc::new(config.create().expect("consumer"))
}

fn assigned(consumer: &StreamConsumer) -> BTreeSet<i32> {
    consumer
        .assignment()
        .map(|a| a.elements().iter().map(|e| e.partition()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_members_split_six_partitions_and_commits_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    // Members that arrive within the delay join the first rebalance together.
    let broker = start(dir.path(), |c| c.group_initial_rebalance_delay_ms = 1000).await;
    let admin: AdminClient<DefaultClientContext> = client_config(&broker).create().unwrap();
    let created = admin
        .create_topics(
            &[NewTopic::new("work", 6, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    assert!(created[0].is_ok(), "{created:?}");

    let consumers: Vec<_> = (0..3).map(|_| group_consumer(&broker, "workers")).collect();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    for (i, consumer) in consumers.iter().enumerate() {
        consumer.subscribe(&["work"]).unwrap();
        let consumer = Arc::clone(consumer);
        let seen_tx = seen_tx.clone();
        // Receiving also drives the consumer's rebalance callbacks.
        tokio::spawn(async move {
            while let Ok(message) = consumer.recv().await {
                if seen_tx
                    .send((i, message.partition(), message.offset()))
                    .is_err()
                {
                    break;
                }
            }
        });
    }
    let watched = consumers.clone();
    eventually("each member owning two partitions", WAIT, move || {
        let sets: Vec<_> = watched.iter().map(|c| assigned(c)).collect();
        let all: BTreeSet<i32> = sets.iter().flatten().copied().collect();
        sets.iter().all(|s| s.len() == 2) && all.len() == 6
    })
    .await;
    let owners: Vec<BTreeSet<i32>> = consumers.iter().map(|c| assigned(c)).collect();
    // ListGroups + DescribeGroups, as a client sees them.
    let asking = Arc::clone(&consumers[0]);
    let (summary, members) = tokio::task::spawn_blocking(move || {
        let list = asking.fetch_group_list(Some("workers"), WAIT).unwrap();
        let group = &list.groups()[0];
        let summary = (
            group.name().to_owned(),
            group.state().to_owned(),
            group.protocol().to_owned(),
        );
        let members: Vec<(String, usize)> = group
            .members()
            .iter()
            .map(|m| {
                (
                    m.client_host().to_owned(),
                    m.assignment().unwrap_or_default().len(),
                )
            })
            .collect();
        (summary, members)
    })
    .await
    .unwrap();
    assert_eq!(summary, ("workers".into(), "Stable".into(), "range".into()));
    assert_eq!(members.len(), 3);
    for (host, assignment_len) in members {
        assert_eq!(host, "/127.0.0.1");
        assert!(assignment_len > 0);
    }

    let producer = producer(&broker, &[]);
    for p in 0..6 {
        for n in 0..3 {
            producer
                .send(
                    FutureRecord::to("work")
                        .partition(p)
                        .key("k")
                        .payload(&format!("{p}-{n}")),
                    WAIT,
                )
                .await
                .unwrap();
        }
    }
    let mut received = 0;
    while received < 18 {
        let (member, partition, _) = tokio::time::timeout(WAIT, seen.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(
            owners[member].contains(&partition),
            "member {member} got partition {partition}"
        );
        received += 1;
    }

    // Commit a position for every partition through the member that owns it.
    for (member, consumer) in consumers.iter().enumerate() {
        let mut offsets = TopicPartitionList::new();
        for &p in &owners[member] {
            offsets
                .add_partition_offset("work", p, Offset::Offset(i64::from(p) % 3 + 1))
                .unwrap();
        }
        consumer.commit(&offsets, CommitMode::Sync).unwrap();
    }
    drop(consumers);
    drop(producer);
    broker.shutdown().await.unwrap();

    let broker = start(dir.path(), |_| {}).await;
    let reader = group_consumer(&broker, "workers");
    let mut wanted = TopicPartitionList::new();
    for p in 0..6 {
        wanted.add_partition("work", p);
    }
    let reader2 = Arc::clone(&reader);
    let committed = tokio::task::spawn_blocking(move || reader2.committed_offsets(wanted, WAIT))
        .await
        .unwrap()
        .unwrap();
    for p in 0..6 {
        let entry = committed.find_partition("work", p).unwrap();
        assert_eq!(
            entry.offset(),
            Offset::Offset(i64::from(p) % 3 + 1),
            "partition {p}"
        );
    }
    broker.shutdown().await.unwrap();
}
