//! Idempotent producers and transactions, driven by librdkafka's transactional producer and
//! `read_committed` consumers (and, for retries, by raw requests) against a real broker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::{
    ApiKey, DescribeProducersRequest, DescribeProducersResponse, InitProducerIdRequest,
    InitProducerIdResponse, ProduceRequest, ProduceResponse, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::process::{exit_with_parent, serve_if_asked, BrokerProcess, ChildProcess};
use common::{assigned_consumer_at, bootstrap, create_topic_at, frame, producer_at, start};

const WAIT: Duration = Duration::from_secs(30);

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking call")
}

/// A transactional producer, initialised (which fences earlier producers of the id).
async fn transactional(bootstrap: &str, id: &str, timeout_ms: &str) -> Arc<FutureProducer> {
    let producer = Arc::new(producer_at(
        bootstrap,
        &[
            ("transactional.id", id),
            ("transaction.timeout.ms", timeout_ms),
            // librdkafka requires a message timeout no longer than the transaction's.
            ("message.timeout.ms", timeout_ms),
        ],
    ));
    let p = Arc::clone(&producer);
    blocking(move || p.init_transactions(WAIT))
        .await
        .expect("init_transactions");
    producer
}

async fn send(producer: &FutureProducer, topic: &str, partition: i32, payload: &str) -> i64 {
    producer
        .send(
            FutureRecord::to(topic)
                .partition(partition)
                .key("k")
                .payload(payload),
            WAIT,
        )
        .await
        .map_err(|(e, _)| e)
        .expect("delivered")
        .offset
}

async fn commit(producer: &Arc<FutureProducer>) -> Result<(), KafkaError> {
    let p = Arc::clone(producer);
    blocking(move || p.commit_transaction(WAIT)).await
}

async fn abort(producer: &Arc<FutureProducer>) -> Result<(), KafkaError> {
    let p = Arc::clone(producer);
    blocking(move || p.abort_transaction(WAIT)).await
}

fn text(message: &impl Message) -> String {
    String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned()
}

/// A consumer of partitions `0..partitions` from the start, with the given isolation level,
/// that reports the end of each partition.
fn reader(bootstrap: &str, topic: &str, partitions: i32, isolation: &str) -> StreamConsumer {
    let all: Vec<i32> = (0..partitions).collect();
    assigned_consumer_at(
        bootstrap,
        topic,
        &all,
        Offset::Beginning,
        &[
            ("isolation.level", isolation),
            ("enable.partition.eof", "true"),
        ],
    )
}

/// Receives until every one of `partitions` partitions reported its end (for
/// `read_committed`: the last stable offset).
async fn until_end(consumer: &StreamConsumer, partitions: i32) -> Vec<String> {
    let mut ended = BTreeSet::new();
    let mut out = Vec::new();
    while ended.len() < partitions as usize {
        match tokio::time::timeout(WAIT, consumer.recv())
            .await
            .expect("the consumer reaches the end")
        {
            Ok(message) => {
                ended.remove(&message.partition());
                out.push(text(&message));
            }
            Err(KafkaError::PartitionEOF(p)) => {
                ended.insert(p);
            }
            Err(e) => panic!("consume failed: {e}"),
        }
    }
    out
}

async fn read_all(bootstrap: &str, topic: &str, partitions: i32, isolation: &str) -> Vec<String> {
    until_end(&reader(bootstrap, topic, partitions, isolation), partitions).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_records_are_invisible_to_read_committed_readers() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let at = bootstrap(&broker);
    create_topic_at(&at, "orders", 1).await;
    let producer = transactional(&at, "tx-abort", "10000").await;

    producer.begin_transaction().unwrap();
    send(&producer, "orders", 0, "aborted-1").await;
    send(&producer, "orders", 0, "aborted-2").await;
    abort(&producer).await.unwrap();
    producer.begin_transaction().unwrap();
    send(&producer, "orders", 0, "committed").await;
    commit(&producer).await.unwrap();

    assert_eq!(
        read_all(&at, "orders", 1, "read_committed").await,
        ["committed"]
    );
    // Uncommitted readers see every data record; control markers reach no application.
    assert_eq!(
        read_all(&at, "orders", 1, "read_uncommitted").await,
        ["aborted-1", "aborted-2", "committed"]
    );
    let log = &broker
        .state()
        .topics
        .get("orders")
        .unwrap()
        .partition(0)
        .unwrap()
        .log;
    assert_eq!(log.high_watermark(), 5, "three records and two markers");
    assert_eq!(log.last_stable_offset(), 5);
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_transaction_holds_read_committed_readers_until_it_commits() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let at = bootstrap(&broker);
    create_topic_at(&at, "events", 1).await;
    let producer = transactional(&at, "tx-open", "60000").await;
    producer.begin_transaction().unwrap();
    let first = send(&producer, "events", 0, "in-transaction").await;
    // A record outside any transaction, after the open one: also held back.
    let plain = producer_at(&at, &[]);
    send(&plain, "events", 0, "plain").await;

    let log = Arc::clone(
        &broker
            .state()
            .topics
            .get("events")
            .unwrap()
            .partition(0)
            .unwrap()
            .log,
    );
    assert_eq!(log.last_stable_offset(), first);
    assert_eq!(log.high_watermark(), first + 2);
    let committed_reader = reader(&at, "events", 1, "read_committed");
    assert!(until_end(&committed_reader, 1).await.is_empty());
    assert_eq!(
        read_all(&at, "events", 1, "read_uncommitted").await,
        ["in-transaction", "plain"]
    );

    commit(&producer).await.unwrap();
    let mut after = Vec::new();
    while after.len() < 2 {
        match tokio::time::timeout(WAIT, committed_reader.recv())
            .await
            .unwrap()
        {
            Ok(message) => after.push(text(&message)),
            Err(KafkaError::PartitionEOF(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(after, ["in-transaction", "plain"]);
    assert_eq!(log.last_stable_offset(), log.high_watermark());
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_producer_with_the_same_id_fences_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let at = bootstrap(&broker);
    create_topic_at(&at, "fenced", 1).await;
    let zombie = transactional(&at, "tx-fence", "60000").await;
    zombie.begin_transaction().unwrap();
    send(&zombie, "fenced", 0, "from-zombie").await;

    // Taking over the id aborts the zombie's open transaction and bumps the epoch.
    let successor = transactional(&at, "tx-fence", "60000").await;
    let refused = commit(&zombie).await.expect_err("the zombie is fenced");
    match &refused {
        KafkaError::Transaction(e) => assert!(e.is_fatal(), "{e}"),
        other => panic!("unexpected error {other}"),
    }
    successor.begin_transaction().unwrap();
    send(&successor, "fenced", 0, "from-successor").await;
    commit(&successor).await.unwrap();

    assert_eq!(
        read_all(&at, "fenced", 1, "read_committed").await,
        ["from-successor"]
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_committed_in_a_transaction_appear_only_when_it_commits() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let at = bootstrap(&broker);
    create_topic_at(&at, "source", 1).await;
    create_topic_at(&at, "sink", 1).await;
    let consumer = assigned_consumer_at(
        &at,
        "source",
        &[0],
        Offset::Beginning,
        &[("group.id", "tx-offsets")],
    );
    let producer = transactional(&at, "tx-offsets-job", "60000").await;
    let groups = &broker.state().groups;

    for (round, commit_it) in [(1, false), (2, true)] {
        producer.begin_transaction().unwrap();
        send(&producer, "sink", 0, "derived").await;
        let mut offsets = TopicPartitionList::new();
        offsets
            .add_partition_offset("source", 0, Offset::Offset(round * 10))
            .unwrap();
        let metadata = consumer.group_metadata().unwrap();
        let p = Arc::clone(&producer);
        blocking(move || p.send_offsets_to_transaction(&offsets, &metadata, WAIT))
            .await
            .unwrap();
        assert!(
            groups.committed("tx-offsets").is_empty(),
            "invisible while the transaction is open"
        );
        if commit_it {
            commit(&producer).await.unwrap();
        } else {
            abort(&producer).await.unwrap();
        }
    }
    let committed = groups.committed("tx-offsets");
    assert_eq!(
        committed[&("source".to_owned(), 0)].offset,
        20,
        "{committed:?}"
    );
    // And after a restart, replayed from __consumer_offsets with the markers.
    broker.shutdown().await.unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let committed = broker.state().groups.committed("tx-offsets");
    assert_eq!(committed[&("source".to_owned(), 0)].offset, 20);
    broker.shutdown().await.unwrap();
}

/// The state ListTransactions reports for `id`, if it lists it.
async fn listed_state(bootstrap: &str, id: &str) -> Option<String> {
    use kafka_protocol::messages::{ListTransactionsRequest, ListTransactionsResponse};
    let listed: ListTransactionsResponse = Raw::connect(bootstrap)
        .await
        .call(
            ApiKey::ListTransactions,
            0,
            &ListTransactionsRequest::default(),
        )
        .await;
    listed
        .transaction_states
        .iter()
        .find(|t| t.transactional_id.0.as_str() == id)
        .map(|t| t.transaction_state.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_past_its_timeout_is_aborted_and_an_idle_id_expires() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| {
        c.transaction_cleanup_interval_ms = 50;
        c.transactional_id_expiration_ms = 1_500;
    })
    .await;
    let at = bootstrap(&broker);
    create_topic_at(&at, "slow", 1).await;
    let producer = transactional(&at, "tx-slow", "1000").await;
    producer.begin_transaction().unwrap();
    send(&producer, "slow", 0, "too-late").await;
    assert_eq!(
        listed_state(&at, "tx-slow").await.as_deref(),
        Some("Ongoing")
    );

    let deadline = Instant::now() + WAIT;
    while listed_state(&at, "tx-slow").await.as_deref() != Some("CompleteAbort") {
        assert!(
            Instant::now() < deadline,
            "the timed-out transaction was not aborted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The abort bumped the epoch: the producer is fenced, and its record never shows.
    assert!(commit(&producer).await.is_err());
    assert!(read_all(&at, "slow", 1, "read_committed").await.is_empty());
    // Idle past transactional.id.expiration.ms, the id is forgotten.
    while listed_state(&at, "tx-slow").await.is_some() {
        assert!(
            Instant::now() < deadline,
            "the idle transactional id did not expire"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    broker.shutdown().await.unwrap();
}

/// Raw requests, so a batch can be sent twice exactly as a client retry does.
struct Raw {
    stream: TcpStream,
    correlation: i32,
}

impl Raw {
    async fn connect(address: &str) -> Raw {
        Raw {
            stream: TcpStream::connect(address).await.unwrap(),
            correlation: 0,
        }
    }

    async fn call<R: Decodable>(&mut self, api: ApiKey, version: i16, body: &impl Encodable) -> R {
        self.correlation += 1;
        let buf = frame(api, version, self.correlation, body);
        self.stream.write_all(&buf).await.unwrap();
        let size = self.stream.read_i32().await.unwrap();
        let mut response = vec![0; size as usize];
        self.stream.read_exact(&mut response).await.unwrap();
        let mut bytes = Bytes::from(response);
        let header =
            ResponseHeader::decode(&mut bytes, api.response_header_version(version)).unwrap();
        assert_eq!(header.correlation_id, self.correlation);
        R::decode(&mut bytes, version).unwrap()
    }

    /// Produces one batch of `records` records from the producer; (error code, base offset).
    async fn produce(&mut self, producer: (i64, i16), sequence: i32, records: usize) -> (i16, i64) {
        use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
        let mut builder = runnel_log::BatchBuilder::new(runnel_log::Compression::None)
            .producer(producer.0, producer.1, sequence);
        for i in 0..records {
            builder.push(1, Some(b"k"), Some(format!("v{i}").as_bytes()), &[]);
        }
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(10_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("retried")))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(Bytes::from(builder.build().unwrap())))])]);
        let response: ProduceResponse = self.call(ApiKey::Produce, 9, &request).await;
        let partition = &response.responses[0].partition_responses[0];
        (partition.error_code, partition.base_offset)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_batch_is_acknowledged_once_and_a_gap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    create_topic_at(&bootstrap(&broker), "retried", 1).await;
    let mut raw = Raw::connect(&bootstrap(&broker)).await;
    let init: InitProducerIdResponse = raw
        .call(
            ApiKey::InitProducerId,
            4,
            &InitProducerIdRequest::default()
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(kafka_protocol::messages::ProducerId(-1))
                .with_producer_epoch(-1),
        )
        .await;
    assert_eq!(init.error_code, 0);
    let producer = (init.producer_id.0, init.producer_epoch);

    assert_eq!(raw.produce(producer, 0, 3).await, (0, 0));
    assert_eq!(raw.produce(producer, 3, 2).await, (0, 3));
    // The same two batches again, as a client retries after a lost response.
    assert_eq!(raw.produce(producer, 0, 3).await, (0, 0));
    assert_eq!(raw.produce(producer, 3, 2).await, (0, 3));
    let log = &broker
        .state()
        .topics
        .get("retried")
        .unwrap()
        .partition(0)
        .unwrap()
        .log;
    assert_eq!(log.high_watermark(), 5, "nothing written twice");
    // Sequence 6 skips 5: OUT_OF_ORDER_SEQUENCE_NUMBER.
    assert_eq!(raw.produce(producer, 6, 1).await.0, 45);
    // An older epoch: INVALID_PRODUCER_EPOCH once a newer one has written.
    assert_eq!(raw.produce((producer.0, 1), 0, 1).await, (0, 5));
    assert_eq!(raw.produce(producer, 5, 1).await.0, 47);
    assert_eq!(log.high_watermark(), 6);
    let described: DescribeProducersResponse = raw
        .call(
            ApiKey::DescribeProducers,
            0,
            &DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
                .with_name(TopicName(StrBytes::from_static_str("retried")))
                .with_partition_indexes(vec![0])]),
        )
        .await;
    let producers = &described.topics[0].partitions[0].active_producers;
    assert_eq!(producers.len(), 1);
    assert_eq!(
        (
            producers[0].producer_id.0,
            producers[0].producer_epoch,
            producers[0].last_sequence
        ),
        (producer.0, 1, 0)
    );

    // A second InitProducerId never hands out the same id.
    let again: InitProducerIdResponse = raw
        .call(ApiKey::InitProducerId, 4, &InitProducerIdRequest::default())
        .await;
    assert_ne!(again.producer_id.0, producer.0);
    broker.shutdown().await.unwrap();
}

// ---- consume-transform-produce, killed and restarted ----

const CTP_BOOTSTRAP_ENV: &str = "RUNNEL_TEST_CTP_BOOTSTRAP";
const CTP_RECORDS: i64 = 40;

/// Does nothing in a normal run; in a child it is one instance of a consume-transform-produce
/// job: each input record becomes one output record, written in the same transaction as the
/// input offset. It exits once the whole input is consumed.
#[test]
fn ctp_worker_entry() {
    let Some(bootstrap) = std::env::var_os(CTP_BOOTSTRAP_ENV) else {
        return;
    };
    exit_with_parent();
    let bootstrap = bootstrap.into_string().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let consumer = assigned_consumer_at(
            &bootstrap,
            "ctp-in",
            &[0],
            Offset::Stored,
            &[
                ("group.id", "ctp-job"),
                ("isolation.level", "read_committed"),
                ("auto.offset.reset", "earliest"),
            ],
        );
        let producer = transactional(&bootstrap, "ctp-job-0", "60000").await;
        loop {
            let message = consumer.recv().await.expect("input");
            let input = text(&message);
            let next = message.offset() + 1;
            producer.begin_transaction().unwrap();
            send(&producer, "ctp-out", 0, &format!("out-{input}")).await;
            let mut offsets = TopicPartitionList::new();
            offsets
                .add_partition_offset("ctp-in", 0, Offset::Offset(next))
                .unwrap();
            let metadata = consumer.group_metadata().expect("group metadata");
            let p = Arc::clone(&producer);
            blocking(move || p.send_offsets_to_transaction(&offsets, &metadata, WAIT))
                .await
                .expect("offsets added");
            commit(&producer).await.expect("committed");
            println!("committed {next}");
            if next == CTP_RECORDS {
                std::process::exit(0);
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consume_transform_produce_job_killed_and_restarted_outputs_each_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let at = bootstrap(&broker);
    create_topic_at(&at, "ctp-in", 1).await;
    create_topic_at(&at, "ctp-out", 1).await;
    let input = producer_at(&at, &[("acks", "all")]);
    for i in 0..CTP_RECORDS {
        send(&input, "ctp-in", 0, &i.to_string()).await;
    }
    let env = [(CTP_BOOTSTRAP_ENV, OsString::from(&at))];
    let out_log = Arc::clone(
        &broker
            .state()
            .topics
            .get("ctp-out")
            .unwrap()
            .partition(0)
            .unwrap()
            .log,
    );

    // Kill the first instance mid-stream: some transactions committed, one maybe open.
    let mut first = ChildProcess::spawn("ctp_worker_entry", &env, run.path(), false);
    let deadline = Instant::now() + WAIT;
    while out_log.high_watermark() < 15 {
        assert!(
            Instant::now() < deadline,
            "no progress; worker log:\n{}",
            first.log()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.kill();

    let mut second = ChildProcess::spawn("ctp_worker_entry", &env, run.path(), false);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = second.exited() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "restarted worker did not finish:\n{}",
            second.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "worker failed:\n{}", second.log());

    let mut outputs = read_all(&at, "ctp-out", 1, "read_committed").await;
    outputs.sort_by_key(|o| o.trim_start_matches("out-").parse::<i64>().unwrap());
    let expected: Vec<String> = (0..CTP_RECORDS).map(|i| format!("out-{i}")).collect();
    assert_eq!(outputs, expected, "every input exactly once in the output");
    broker.shutdown().await.unwrap();
}

// ---- the broker killed with -9 in the middle of transactions ----

const BROKER_ENTRY: &str = "txn_broker_entry";

/// Does nothing in a normal run; in a child started by `BrokerProcess::start` it is the broker.
#[test]
fn txn_broker_entry() {
    serve_if_asked();
}

const RECORDS_PER_TXN: usize = 4;

/// Runs transactions of `RECORDS_PER_TXN` records spread over two partitions until an error
/// (the broker gone), recording each acknowledged commit.
async fn run_transactions(bootstrap: String, id: String, acked: Arc<Mutex<BTreeSet<String>>>) {
    let producer = transactional(&bootstrap, &id, "3000").await;
    for n in 0.. {
        let tag = format!("{id}/{n}");
        if producer.begin_transaction().is_err() {
            return;
        }
        for i in 0..RECORDS_PER_TXN {
            let sent = producer
                .send(
                    FutureRecord::to("crashy")
                        .partition((i % 2) as i32)
                        .key("k")
                        .payload(&tag),
                    Duration::from_secs(5),
                )
                .await;
            if sent.is_err() {
                return;
            }
        }
        let p = Arc::clone(&producer);
        if blocking(move || p.commit_transaction(Duration::from_secs(5)))
            .await
            .is_err()
        {
            return;
        }
        acked.lock().unwrap().insert(tag);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_mid_transaction_restarts_with_each_transaction_whole_or_absent() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let settings = [(
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        "200",
    )];
    let broker = BrokerProcess::start(BROKER_ENTRY, &data, work.path(), &settings).await;
    let at = broker.bootstrap();
    create_topic_at(&at, "crashy", 2).await;
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            tokio::spawn(run_transactions(
                at.clone(),
                format!("crash-{w}"),
                Arc::clone(&acked),
            ))
        })
        .collect();
    // Every writer past init_transactions (whose blocking call would otherwise outlive the
    // kill by its whole timeout) and a dozen commits in all.
    let all_committing = |acked: &BTreeSet<String>| {
        acked.len() >= 12
            && (0..3).all(|w| acked.iter().any(|t| t.starts_with(&format!("crash-{w}/"))))
    };
    let deadline = Instant::now() + WAIT;
    while !all_committing(&acked.lock().unwrap()) {
        assert!(
            Instant::now() < deadline,
            "no commits; broker log:\n{}",
            broker.log()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    broker.kill();
    for writer in writers {
        writer.abort();
    }

    let broker = BrokerProcess::start(BROKER_ENTRY, &data, work.path(), &settings).await;
    let at = broker.bootstrap();
    // Transactions left open time out (3 s) and are aborted; until then readers wait at the
    // last stable offset. Read again until everything written is resolved.
    let deadline = Instant::now() + Duration::from_secs(60);
    // Wait for the coordinator to end every transaction first, then read: a read taken
    // while one is still open stops at its first offset and misses later commits.
    loop {
        let open = describe_open(&at).await;
        if open == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{open} transactions still open");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seen = read_all(&at, "crashy", 2, "read_committed").await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for tag in seen {
        *counts.entry(tag).or_default() += 1;
    }
    for (tag, count) in &counts {
        assert_eq!(
            *count, RECORDS_PER_TXN,
            "transaction {tag} is partly visible"
        );
    }
    for tag in acked.lock().unwrap().iter() {
        assert_eq!(
            counts.get(tag),
            Some(&RECORDS_PER_TXN),
            "acknowledged {tag} lost"
        );
    }
    broker.kill();
}

/// How many transactions the broker at `bootstrap` reports as not yet ended.
async fn describe_open(bootstrap: &str) -> usize {
    use kafka_protocol::messages::{ListTransactionsRequest, ListTransactionsResponse};
    let listed: ListTransactionsResponse = Raw::connect(bootstrap)
        .await
        .call(
            ApiKey::ListTransactions,
            0,
            &ListTransactionsRequest::default().with_state_filters(
                ["Ongoing", "PrepareCommit", "PrepareAbort"]
                    .map(StrBytes::from_static_str)
                    .to_vec(),
            ),
        )
        .await;
    listed.transaction_states.len()
}
