//! End-to-end tests with librdkafka (through the `rdkafka` crate) against an in-process
//! broker on an ephemeral port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, Timestamp, TopicPartitionList};
use runnel_log::Compression;

use common::{assigned_consumer, consume, eventually, producer, start};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keyed_records_keep_order_headers_and_timestamps_per_partition() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| c.num_partitions = 3).await;
    let producer = producer(&broker, &[]);
    let base_ts = 1_700_000_000_000i64;
    for i in 0..30i64 {
        let partition = (i % 3) as i32;
        let key = format!("key-{partition}");
        let value = format!("value-{i}");
        let headers = OwnedHeaders::new().insert(Header {
            key: "seq",
            value: Some(&i.to_be_bytes()),
        });
        let delivery = producer
            .send(
                FutureRecord::to("orders")
                    .partition(partition)
                    .key(&key)
                    .payload(&value)
                    .timestamp(base_ts + i)
                    .headers(headers),
                WAIT,
            )
            .await
            .expect("delivered");
        assert_eq!(delivery.partition, partition);
        assert_eq!(delivery.offset, i / 3, "offsets are dense per partition");
    }
    let topic = broker.state().topics.get("orders").expect("auto-created");
    assert_eq!(topic.partitions().len(), 3);

    let consumer = assigned_consumer(&broker, "orders", &[0, 1, 2], Offset::Beginning, &[]);
    let messages = consume(&consumer, 30, WAIT).await;
    assert_eq!(messages.len(), 30);
    let mut next_offset = [0i64; 3];
    for m in &messages {
        let p = m.partition() as usize;
        assert_eq!(m.offset(), next_offset[p], "in order within partition {p}");
        next_offset[p] += 1;
        let seq = i64::from_be_bytes(
            m.headers()
                .unwrap()
                .get(0)
                .value
                .unwrap()
                .try_into()
                .unwrap(),
        );
        assert_eq!(seq % 3, p as i64);
        assert_eq!(m.key(), Some(format!("key-{p}").as_bytes()));
        assert_eq!(m.payload(), Some(format!("value-{seq}").as_bytes()));
        assert_eq!(m.timestamp(), Timestamp::CreateTime(base_ts + seq));
    }
    broker.shutdown().await.unwrap();
}

/// Fetches of hundreds of KiB per partition, whose records the broker sends without copying
/// them into the response, crossing segment boundaries, for several partitions at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_backlog_over_many_segments_reads_back_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| {
        c.num_partitions = 3;
        c.log_defaults.segment_bytes = 256 * 1024;
    })
    .await;
    let producer = producer(&broker, &[("linger.ms", "20"), ("batch.size", "200000")]);
    let per_partition = 1_500usize;
    let value = |partition: usize, n: usize| -> Vec<u8> {
        let mut value = format!("{partition}/{n}/").into_bytes();
        value.resize(1_000, b'a' + (n % 26) as u8);
        value
    };
    let mut deliveries = Vec::new();
    for n in 0..per_partition {
        for partition in 0..3 {
            let payload = value(partition, n);
            let record = FutureRecord::<(), _>::to("backlog")
                .partition(partition as i32)
                .payload(&payload);
            deliveries.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
        }
    }
    for delivery in deliveries {
        delivery.await.unwrap().expect("delivered");
    }
    let topic = broker.state().topics.get("backlog").unwrap();
    assert!(
        topic.partition(0).unwrap().log.segment_base_offsets().len() > 4,
        "the backlog spans several segments"
    );

    let consumer = assigned_consumer(
        &broker,
        "backlog",
        &[0, 1, 2],
        Offset::Beginning,
        &[("max.partition.fetch.bytes", "400000")],
    );
    let messages = consume(&consumer, 3 * per_partition, WAIT).await;
    assert_eq!(messages.len(), 3 * per_partition);
    let mut next = [0usize; 3];
    for m in &messages {
        let partition = m.partition() as usize;
        assert_eq!(m.offset(), next[partition] as i64);
        assert_eq!(m.payload().unwrap(), value(partition, next[partition]));
        next[partition] += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_compression_codec_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("compressed-{codec}");
        // A linger lets several records share one compressed batch.
        let producer = producer(&broker, &[("compression.type", codec), ("linger.ms", "50")]);
        // Enqueue everything before waiting, so the records share batches.
        let values: Vec<String> = (0..50)
            .map(|i| format!("{codec} record {i} {}", "x".repeat(200)))
            .collect();
        let deliveries: Vec<_> = values
            .iter()
            .map(|value| {
                producer
                    .send_result(FutureRecord::to(&topic).key("k").payload(value))
                    .map_err(|(e, _)| e)
                    .expect("enqueued")
            })
            .collect();
        for delivery in deliveries {
            delivery.await.expect("not cancelled").expect("delivered");
        }
        let consumer = assigned_consumer(&broker, &topic, &[0], Offset::Beginning, &[]);
        let messages = consume(&consumer, 50, WAIT).await;
        assert_eq!(messages.len(), 50, "{codec}");
        let mut values: Vec<String> = messages
            .iter()
            .map(|m| String::from_utf8(m.payload().unwrap().to_vec()).unwrap())
            .collect();
        values.sort_by_key(|v| v.split(' ').nth(2).unwrap().parse::<u32>().unwrap());
        for (i, v) in values.iter().enumerate() {
            assert!(v.starts_with(&format!("{codec} record {i} ")), "{v}");
        }
        let log = &broker
            .state()
            .topics
            .get(&topic)
            .unwrap()
            .partition(0)
            .unwrap()
            .log;
        // The batches are stored as sent: compressed with the producer's codec.
        let expected = match codec {
            "gzip" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            "lz4" => Compression::Lz4,
            _ => Compression::Zstd,
        };
        let stored = log.read(0, 1 << 20).unwrap().records;
        let headers: Vec<_> = runnel_log::Batches::new(&stored)
            .map(|b| b.unwrap().0)
            .collect();
        assert!(headers.len() < 50, "{codec}: records share batches");
        assert_eq!(headers.iter().map(|h| h.record_count).sum::<i32>(), 50);
        for header in &headers {
            assert_eq!(header.compression().unwrap(), expected, "{codec}");
        }
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiting_consumer_gets_a_new_record_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let producer = producer(&broker, &[]);
    producer
        .send(FutureRecord::to("live").key("k").payload("first"), WAIT)
        .await
        .unwrap();
    let max_wait_ms = 10_000;
    let consumer = assigned_consumer(
        &broker,
        "live",
        &[0],
        Offset::End,
        &[("fetch.wait.max.ms", &max_wait_ms.to_string())],
    );
    let receiving = tokio::spawn(async move {
        let m = consumer.recv().await.expect("a record").detach();
        (Instant::now(), m)
    });
    // The consumer's fetch is parked at the broker, waiting for data.
    let state = broker.state().clone();
    eventually("a parked fetch", WAIT, || state.parked_fetches() > 0).await;
    let sent = Instant::now();
    producer
        .send(FutureRecord::to("live").key("k").payload("second"), WAIT)
        .await
        .unwrap();
    let (received, message) = receiving.await.unwrap();
    assert_eq!(message.payload(), Some(&b"second"[..]));
    let latency = received.duration_since(sent);
    assert!(
        latency < Duration::from_millis(max_wait_ms / 10),
        "long poll took {latency:?}, max wait is {max_wait_ms} ms"
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn offsets_for_times_and_seek() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let producer = producer(&broker, &[]);
    let base_ts = 1_600_000_000_000i64;
    for i in 0..10i64 {
        producer
            .send(
                FutureRecord::to("timed")
                    .key("k")
                    .payload(&format!("v{i}"))
                    .timestamp(base_ts + i * 1000),
                WAIT,
            )
            .await
            .unwrap();
    }
    let consumer = assigned_consumer(&broker, "timed", &[0], Offset::Beginning, &[]);
    let mut query = TopicPartitionList::new();
    query
        .add_partition_offset("timed", 0, Offset::Offset(base_ts + 4500))
        .unwrap();
    let found = consumer.offsets_for_times(query, WAIT).unwrap();
    assert_eq!(
        found.find_partition("timed", 0).unwrap().offset(),
        Offset::Offset(5)
    );
    let mut beyond = TopicPartitionList::new();
    beyond
        .add_partition_offset("timed", 0, Offset::Offset(base_ts + 99_000))
        .unwrap();
    let found = consumer.offsets_for_times(beyond, WAIT).unwrap();
    assert_eq!(
        found.find_partition("timed", 0).unwrap().offset(),
        Offset::End
    );

    let (low, high) = consumer.fetch_watermarks("timed", 0, WAIT).unwrap();
    assert_eq!((low, high), (0, 10));

    let mut from_five = TopicPartitionList::new();
    from_five
        .add_partition_offset("timed", 0, Offset::Offset(5))
        .unwrap();
    consumer.assign(&from_five).unwrap();
    let messages = consume(&consumer, 5, WAIT).await;
    let offsets: Vec<i64> = messages.iter().map(|m| m.offset()).collect();
    assert_eq!(offsets, vec![5, 6, 7, 8, 9]);
    assert_eq!(
        messages[0].timestamp(),
        Timestamp::CreateTime(base_ts + 5000)
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| c.num_partitions = 2).await;
    {
        let producer = producer(&broker, &[]);
        for i in 0..20 {
            producer
                .send(
                    FutureRecord::to("durable")
                        .partition(i % 2)
                        .key("k")
                        .payload(&format!("v{i}")),
                    WAIT,
                )
                .await
                .unwrap();
        }
    }
    let id = broker.state().topics.get("durable").unwrap().id;
    broker.shutdown().await.unwrap();
    // A graceful shutdown closed every log: each left its clean-shutdown marker.
    assert!(dir.path().join("durable-0/.clean-shutdown").exists());
    assert!(dir.path().join("durable-1/.clean-shutdown").exists());

    let broker = start(dir.path(), |c| c.auto_create_topics = false).await;
    let topic = broker
        .state()
        .topics
        .get("durable")
        .expect("topic reloaded");
    assert_eq!(topic.id, id);
    assert_eq!(topic.partitions().len(), 2);
    let consumer = assigned_consumer(&broker, "durable", &[0, 1], Offset::Beginning, &[]);
    let messages = consume(&consumer, 20, WAIT).await;
    assert_eq!(messages.len(), 20);
    let producer = producer(&broker, &[]);
    let delivery = producer
        .send(
            FutureRecord::to("durable")
                .partition(0)
                .key("k")
                .payload("after"),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(delivery.offset, 10, "offsets continue after the restart");
    broker.shutdown().await.unwrap();
}

/// A topic's `compression.type` decides how its batches are stored: an idempotent
/// producer's lz4 batches land recompressed with zstd, readers see every record once and in
/// order, and `uncompressed` stores gzip batches without compression.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_are_stored_with_the_topics_compression_type() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let bootstrap = common::bootstrap(&broker);
    for (topic_codec, producer_codec, stored) in [
        ("zstd", "lz4", Compression::Zstd),
        ("uncompressed", "gzip", Compression::None),
    ] {
        let topic = format!("recompressed-{topic_codec}");
        create_topic_with(&bootstrap, &topic, &[("compression.type", topic_codec)]).await;
        let producer = producer(
            &broker,
            &[
                ("compression.type", producer_codec),
                ("linger.ms", "50"),
                ("enable.idempotence", "true"),
            ],
        );
        let values: Vec<String> = (0..50).map(|i| format!("record {i}")).collect();
        let deliveries: Vec<_> = values
            .iter()
            .map(|value| {
                producer
                    .send_result(FutureRecord::to(&topic).key("k").payload(value))
                    .map_err(|(e, _)| e)
                    .expect("enqueued")
            })
            .collect();
        for (i, delivery) in deliveries.into_iter().enumerate() {
            let delivered = delivery.await.unwrap().unwrap();
            assert_eq!(delivered.offset, i as i64, "{topic}");
        }
        let consumer = assigned_consumer(&broker, &topic, &[0], Offset::Beginning, &[]);
        let messages = consume(&consumer, 50, WAIT).await;
        let read: Vec<String> = messages
            .iter()
            .map(|m| String::from_utf8(m.payload().unwrap().to_vec()).unwrap())
            .collect();
        assert_eq!(read, values, "{topic}");
        let log = &broker
            .state()
            .topics
            .get(&topic)
            .unwrap()
            .partition(0)
            .unwrap()
            .log;
        let stored_batches = log.read(0, 1 << 20).unwrap().records;
        let headers: Vec<_> = runnel_log::Batches::new(&stored_batches)
            .map(|b| b.unwrap().0)
            .collect();
        assert!(headers.len() < 50, "{topic}: records share batches");
        for header in &headers {
            assert_eq!(header.compression().unwrap(), stored, "{topic}");
            assert!(header.producer_id >= 0, "{topic}: producer fields kept");
        }
    }
    broker.shutdown().await.unwrap();
}

/// Creates a topic of one partition with the given settings.
async fn create_topic_with(bootstrap: &str, name: &str, configs: &[(&str, &str)]) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> =
        common::client_config_at(bootstrap).create().unwrap();
    let mut topic = NewTopic::new(name, 1, TopicReplication::Fixed(1));
    for (key, value) in configs {
        topic = topic.set(key, value);
    }
    let created = admin
        .create_topics(&[topic], &AdminOptions::new())
        .await
        .unwrap();
    assert!(created[0].is_ok(), "{created:?}");
}
