//! Conditional appends through the Kafka protocol: librdkafka producers stating the expected
//! offset of each key's latest record in a header, the refusal as a client sees it (and as
//! the wire carries it, with per-record errors), and the broker killed with SIGKILL under
//! conditional-append load: after the restart no append was ever accepted against a stale
//! expectation. The test binary re-executes itself to run the broker (`common::process`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::Consumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset};
use runnel_log::{
    BatchBuilder, Compression, COMPACT_EXPECTED_OFFSET_HEADER, EXPECTED_OFFSET_HEADER,
};

use common::process::{serve_if_asked, BrokerProcess};
use common::{assigned_consumer_at, client_config_at, consume, eventually, producer_at, Raw};

const BROKER_ENTRY: &str = "broker_process_entry";
const WAIT: Duration = Duration::from_secs(30);
const SETTING: &str = "runnel.conditional.append.enable";

/// Does nothing in a normal run; in a child started by `BrokerProcess::start` it is the broker.
#[test]
fn broker_process_entry() {
    serve_if_asked();
}

async fn create_conditional_topic(bootstrap: &str, name: &str, extra: &[(&str, &str)]) {
    let admin: AdminClient<DefaultClientContext> = client_config_at(bootstrap).create().unwrap();
    let mut topic = NewTopic::new(name, 1, TopicReplication::Fixed(1)).set(SETTING, "true");
    for (k, v) in extra {
        topic = topic.set(k, v);
    }
    let created = admin
        .create_topics(&[topic], &AdminOptions::new())
        .await
        .unwrap();
    assert!(created[0].is_ok(), "{created:?}");
}

/// Sends one record with an expectation in ASCII decimal; the offset it got, or the error
/// code.
async fn send_expecting(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    value: &str,
    expected: i64,
) -> Result<i64, RDKafkaErrorCode> {
    let expected = expected.to_string();
    let header = (EXPECTED_OFFSET_HEADER, expected.as_bytes());
    send_with_header(producer, topic, key, value, header).await
}

/// Sends one record with an expectation header of the compact form holding `expected`; the
/// offset it got, or the error code.
async fn send_compact(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    expected: &[u8],
) -> Result<i64, RDKafkaErrorCode> {
    let header = (COMPACT_EXPECTED_OFFSET_HEADER, expected);
    send_with_header(producer, topic, key, "v", header).await
}

/// Sends one record with one header; the offset it got, or the error code.
async fn send_with_header(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    value: &str,
    (name, header_value): (&str, &[u8]),
) -> Result<i64, RDKafkaErrorCode> {
    let headers = OwnedHeaders::new().insert(Header {
        key: name,
        value: Some(header_value),
    });
    let record = FutureRecord::to(topic)
        .partition(0)
        .key(key)
        .payload(value)
        .headers(headers);
    match producer.send(record, WAIT).await {
        Ok(delivery) => Ok(delivery.offset),
        Err((KafkaError::MessageProduction(code), _)) => Err(code),
        Err((other, _)) => panic!("unexpected delivery error {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_librdkafka_producer_sees_a_stale_expectation_refused_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let broker = common::start(dir.path(), |_| {}).await;
    let bootstrap = common::bootstrap(&broker);
    create_conditional_topic(&bootstrap, "accounts", &[]).await;
    let producer = producer_at(&bootstrap, &[("enable.idempotence", "true")]);

    assert_eq!(
        send_expecting(&producer, "accounts", "a", "opened", -1).await,
        Ok(0)
    );
    assert_eq!(
        send_expecting(&producer, "accounts", "a", "opened again", -1).await,
        Err(RDKafkaErrorCode::InvalidRecord)
    );
    // The refusal cost the producer its sequence; librdkafka bumps its epoch and goes on.
    assert_eq!(
        send_expecting(&producer, "accounts", "a", "deposited", 0).await,
        Ok(1)
    );
    assert_eq!(
        send_expecting(&producer, "accounts", "b", "opened", -1).await,
        Ok(2)
    );
    assert_eq!(
        send_expecting(&producer, "accounts", "a", "withdrew", 0).await,
        Err(RDKafkaErrorCode::InvalidRecord)
    );
    assert_eq!(
        send_expecting(&producer, "accounts", "a", "withdrew", 1).await,
        Ok(3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compact_header_carries_the_same_expectations_and_a_malformed_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let broker = common::start(dir.path(), |_| {}).await;
    let bootstrap = common::bootstrap(&broker);
    create_conditional_topic(&bootstrap, "compact", &[]).await;
    let producer = producer_at(&bootstrap, &[("enable.idempotence", "true")]);
    let compact = |offset: i64| offset.to_be_bytes();
    assert_eq!(
        send_compact(&producer, "compact", "a", &compact(-1)).await,
        Ok(0)
    );
    assert_eq!(
        send_compact(&producer, "compact", "a", &compact(-1)).await,
        Err(RDKafkaErrorCode::InvalidRecord)
    );
    assert_eq!(
        send_compact(&producer, "compact", "a", &compact(0)).await,
        Ok(1)
    );
    // Either form names the same latest record.
    assert_eq!(
        send_expecting(&producer, "compact", "a", "v", 1).await,
        Ok(2)
    );
    assert_eq!(
        send_compact(&producer, "compact", "a", &compact(2)).await,
        Ok(3)
    );
    // Not 8 bytes (here the decimal text in the compact header), or below -1: refused.
    assert_eq!(
        send_compact(&producer, "compact", "a", b"3").await,
        Err(RDKafkaErrorCode::InvalidRecord)
    );
    assert_eq!(
        send_compact(&producer, "compact", "a", &compact(-2)).await,
        Err(RDKafkaErrorCode::InvalidRecord)
    );
    assert_eq!(
        send_compact(&producer, "compact", "a", &compact(3)).await,
        Ok(4)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_append_carries_a_message_and_an_error_for_each_failed_record() {
    let dir = tempfile::tempdir().unwrap();
    let broker = common::start(dir.path(), |_| {}).await;
    let bootstrap = common::bootstrap(&broker);
    create_conditional_topic(&bootstrap, "wire", &[]).await;
    let producer = producer_at(&bootstrap, &[]);
    assert_eq!(send_expecting(&producer, "wire", "a", "1", -1).await, Ok(0));
    assert_eq!(send_expecting(&producer, "wire", "b", "1", -1).await, Ok(1));

    let mut builder = BatchBuilder::new(Compression::None);
    for (key, expected) in [("a", "0"), ("b", "-1"), ("c", "-1"), ("a", "7")] {
        builder.push(
            0,
            Some(key.as_bytes()),
            Some(b"v"),
            &[(EXPECTED_OFFSET_HEADER.as_bytes(), Some(expected.as_bytes()))],
        );
    }
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("wire")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(builder.build().unwrap().into()))])]);
    let mut raw = Raw::connect(&broker).await;
    let response: ProduceResponse = raw.call(ApiKey::Produce, 9, &request).await;
    let partition = &response.responses[0].partition_responses[0];
    assert_eq!(partition.error_code, 87, "INVALID_RECORD");
    let message = partition.error_message.as_ref().unwrap().to_string();
    assert!(
        message.starts_with("conditional append refused"),
        "{message}"
    );
    let errors: Vec<(i32, String)> = partition
        .record_errors
        .iter()
        .map(|e| {
            (
                e.batch_index,
                e.batch_index_error_message.as_ref().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (
                1,
                "key \"b\" expected latest offset -1 but it is 1".to_owned()
            ),
            (
                3,
                // The batch's first record of "a" would be at offset 2.
                "key \"a\" expected latest offset 7 but it is 2".to_owned()
            ),
        ]
    );
    // Nothing of it was written.
    assert_eq!(send_expecting(&producer, "wire", "c", "1", -1).await, Ok(2));
}

/// One record as read back: its offset, key, the expectation it was appended with.
#[derive(Debug)]
struct Stored {
    offset: i64,
    key: String,
    expected: i64,
}

fn stored(message: &OwnedMessage) -> Stored {
    let text = |b: Option<&[u8]>| String::from_utf8(b.unwrap().to_vec()).unwrap();
    let headers = message.headers().expect("every record has its expectation");
    let expected = headers
        .iter()
        .find(|h| h.key == EXPECTED_OFFSET_HEADER)
        .and_then(|h| h.value)
        .map(|v| std::str::from_utf8(v).unwrap().parse().unwrap())
        .expect("an expectation");
    Stored {
        offset: message.offset(),
        key: text(message.key()),
        expected,
    }
}

/// Every record of the partition, after asserting that each one's expectation named the
/// offset of the previous record of its key (or "none" for the first): the history of every
/// key is one chain, never a fork, which a stale expectation accepted would make.
async fn read_and_check_chains(bootstrap: &str, topic: &str) -> Vec<Stored> {
    let consumer = assigned_consumer_at(bootstrap, topic, &[0], Offset::Beginning, &[]);
    let (_, high) = consumer.fetch_watermarks(topic, 0, WAIT).unwrap();
    let messages = consume(&consumer, high as usize, WAIT).await;
    assert_eq!(messages.len() as i64, high);
    let records: Vec<Stored> = messages.iter().map(stored).collect();
    let mut latest: HashMap<&str, i64> = HashMap::new();
    for record in &records {
        let previous = latest.insert(&record.key, record.offset).unwrap_or(-1);
        assert_eq!(
            record.expected, previous,
            "{record:?} was accepted though the latest record of its key was at {previous}"
        );
    }
    records
}

/// What writers know: the highest acknowledged offset of each key.
#[derive(Debug, Default)]
struct Known {
    latest: Mutex<HashMap<String, i64>>,
    acked: AtomicUsize,
    conflicts: AtomicUsize,
}

impl Known {
    fn expected(&self, key: &str) -> i64 {
        *self.latest.lock().unwrap().get(key).unwrap_or(&-1)
    }

    fn acknowledged(&self, key: &str, offset: i64) {
        let mut latest = self.latest.lock().unwrap();
        let entry = latest.entry(key.to_owned()).or_insert(-1);
        *entry = (*entry).max(offset);
        self.acked.fetch_add(1, Ordering::Release);
    }
}

const KEYS: usize = 6;
const WRITERS: usize = 4;

/// A writer with its own producer (so its records are batches of their own): appends to a
/// rotating key expecting the latest offset it knows, until `stop` or the broker fails.
fn spawn_writer(
    bootstrap: &str,
    topic: &'static str,
    writer: usize,
    known: Arc<Known>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let producer = producer_at(
        bootstrap,
        &[
            ("enable.idempotence", "false"),
            ("acks", "all"),
            ("linger.ms", "0"),
            ("message.send.max.retries", "0"),
            ("message.timeout.ms", "5000"),
        ],
    );
    tokio::spawn(async move {
        let mut n = 0usize;
        while !stop.load(Ordering::Acquire) {
            let key = format!("key-{}", (n * 5 + writer) % KEYS);
            let value = format!("writer-{writer}-{n}");
            n += 1;
            match send_expecting(&producer, topic, &key, &value, known.expected(&key)).await {
                Ok(offset) => known.acknowledged(&key, offset),
                Err(RDKafkaErrorCode::InvalidRecord) => {
                    known.conflicts.fetch_add(1, Ordering::Relaxed);
                    // Let the winner's acknowledgement arrive before trying again.
                    tokio::task::yield_now().await;
                }
                Err(_) => break, // the broker is gone
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_conditional_appends_never_accepts_a_stale_expectation() {
    const TOPIC: &str = "ledger";
    const BEFORE_KILL: usize = 600;
    // Small segments: the kill lands among rolls, so recovery replays the key index from a
    // checkpoint taken at one.
    let topic_settings = [("segment.bytes", "4096")];
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let broker = BrokerProcess::start(BROKER_ENTRY, &data, work.path(), &[]).await;
    let bootstrap = broker.bootstrap();
    create_conditional_topic(&bootstrap, TOPIC, &topic_settings).await;

    let known = Arc::new(Known::default());
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| spawn_writer(&bootstrap, TOPIC, w, Arc::clone(&known), Arc::clone(&stop)))
        .collect();
    let counter = Arc::clone(&known);
    eventually("hundreds of acknowledged conditional appends", WAIT, || {
        counter.acked.load(Ordering::Acquire) >= BEFORE_KILL
    })
    .await;
    broker.kill();
    stop.store(true, Ordering::Release);
    for writer in writers {
        tokio::time::timeout(WAIT, writer).await.unwrap().unwrap();
    }
    let conflicts_before = known.conflicts.load(Ordering::Relaxed);
    assert!(conflicts_before > 0, "writers raced on the same keys");

    let broker = BrokerProcess::start(BROKER_ENTRY, &data, work.path(), &[]).await;
    let bootstrap = broker.bootstrap();
    let recovered = read_and_check_chains(&bootstrap, TOPIC).await;
    assert!(recovered.len() >= BEFORE_KILL);
    let mut latest: HashMap<String, i64> = HashMap::new();
    let mut previous: HashMap<String, i64> = HashMap::new();
    for record in &recovered {
        if let Some(old) = latest.insert(record.key.clone(), record.offset) {
            previous.insert(record.key.clone(), old);
        }
    }

    // Straight after the restart: what the writers knew before the kill is accepted only
    // where it is still the truth (an append in flight at the kill may have landed), and an
    // expectation one record behind is refused.
    let probe = producer_at(&bootstrap, &[("enable.idempotence", "false")]);
    for (key, &stale) in &previous {
        let refused = send_expecting(&probe, TOPIC, key, "stale", stale).await;
        assert_eq!(refused, Err(RDKafkaErrorCode::InvalidRecord), "{key}");
    }
    for key in latest.keys() {
        let believed = known.expected(key);
        let outcome = send_expecting(&probe, TOPIC, key, "as believed", believed).await;
        assert_eq!(
            outcome.is_ok(),
            believed == latest[key],
            "{key}: {outcome:?}"
        );
        if let Ok(offset) = outcome {
            known.acknowledged(key, offset);
        } else {
            known.acknowledged(key, latest[key]);
        }
    }

    // And the writers go on against the restarted broker.
    let target = known.acked.load(Ordering::Acquire) + 200;
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| spawn_writer(&bootstrap, TOPIC, w, Arc::clone(&known), Arc::clone(&stop)))
        .collect();
    let counter = Arc::clone(&known);
    eventually("appends after the restart", WAIT, || {
        counter.acked.load(Ordering::Acquire) >= target
    })
    .await;
    stop.store(true, Ordering::Release);
    for writer in writers {
        tokio::time::timeout(WAIT, writer).await.unwrap().unwrap();
    }
    let all = read_and_check_chains(&bootstrap, TOPIC).await;
    assert!(all.len() >= target, "{} records", all.len());
    eprintln!(
        "{} records, {} before the kill; {} conflicts retried in all",
        all.len(),
        recovered.len(),
        known.conflicts.load(Ordering::Relaxed)
    );
    drop(broker);
}
