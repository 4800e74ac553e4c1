//! Retention and compaction run in the background of a live broker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureRecord;
use rdkafka::{Message, Offset};

use common::{assigned_consumer, client_config, consume, eventually, producer, start};

const WAIT: Duration = Duration::from_secs(20);

async fn create(broker: &runnel_broker::Broker, topic: NewTopic<'_>) {
    let admin: AdminClient<DefaultClientContext> = client_config(broker).create().unwrap();
    let created = admin
        .create_topics(&[topic], &AdminOptions::new())
        .await
        .unwrap();
    assert!(created[0].is_ok(), "{created:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retention_deletes_expired_segments() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| c.retention_check_interval_ms = 50).await;
    create(
        &broker,
        NewTopic::new("expiring", 1, TopicReplication::Fixed(1))
            .set("segment.bytes", "1024")
            .set("retention.ms", "1"),
    )
    .await;
    let producer = producer(&broker, &[]);
    for i in 0..20 {
        producer
            .send(
                FutureRecord::to("expiring")
                    .key("k")
                    .payload(&format!("{i:0>300}")),
                WAIT,
            )
            .await
            .unwrap();
    }
    let partition = broker
        .state()
        .topics
        .get("expiring")
        .unwrap()
        .partition(0)
        .unwrap();
    eventually("retention to move the log start", WAIT, || {
        partition.log.log_start_offset() > 0
    })
    .await;
    // The active segment is never deleted: the newest record survives.
    assert!(partition.log.log_start_offset() < 20);
    let consumer = assigned_consumer(&broker, "expiring", &[0], Offset::Beginning, &[]);
    let messages = consume(&consumer, 1, WAIT).await;
    assert_eq!(messages[0].offset(), partition.log.log_start_offset());
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compacted_topics_refuse_keyless_records_and_keep_the_latest_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| c.cleaner_backoff_ms = 50).await;
    create(
        &broker,
        NewTopic::new("table", 1, TopicReplication::Fixed(1))
            .set("cleanup.policy", "compact")
            .set("segment.bytes", "1024")
            .set("min.cleanable.dirty.ratio", "0.01")
            // No pass may clean while the records are still being written: `before` below must
            // be the uncleaned size, or a slow run measures an already compacted log and waits
            // in vain for it to halve.
            .set("min.compaction.lag.ms", "3000"),
    )
    .await;
    let producer = producer(&broker, &[]);
    let refused = producer
        .send(
            FutureRecord::<str, str>::to("table").payload("no key"),
            WAIT,
        )
        .await
        .unwrap_err()
        .0;
    assert_eq!(
        refused,
        KafkaError::MessageProduction(RDKafkaErrorCode::InvalidRecord)
    );

    for round in 0..10 {
        for key in ["a", "b", "c"] {
            producer
                .send(
                    FutureRecord::to("table")
                        .key(key)
                        .payload(&format!("{key}{round}{}", "x".repeat(100))),
                    WAIT,
                )
                .await
                .unwrap();
        }
    }
    let partition = broker
        .state()
        .topics
        .get("table")
        .unwrap()
        .partition(0)
        .unwrap();
    let before = partition.log.size_bytes();
    eventually("the cleaner to shrink the log", WAIT, || {
        partition.log.size_bytes() < before / 2
    })
    .await;

    let consumer = assigned_consumer(&broker, "table", &[0], Offset::Beginning, &[]);
    let high = partition.log.high_watermark();
    let mut latest: HashMap<String, String> = HashMap::new();
    let mut seen = 0;
    while let Some(m) = consume(&consumer, 1, Duration::from_secs(2)).await.pop() {
        latest.insert(
            String::from_utf8(m.key().unwrap().to_vec()).unwrap(),
            String::from_utf8(m.payload().unwrap().to_vec()).unwrap(),
        );
        seen += 1;
        if m.offset() == high - 1 {
            break;
        }
    }
    assert!(
        seen < 30,
        "compaction removed superseded records ({seen} read)"
    );
    for key in ["a", "b", "c"] {
        assert!(
            latest[key].starts_with(&format!("{key}9")),
            "{key}: {}",
            latest[key]
        );
    }
    broker.shutdown().await.unwrap();
}
