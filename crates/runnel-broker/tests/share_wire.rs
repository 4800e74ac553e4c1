//! Raw-protocol tests of share groups (ShareGroupHeartbeat, ShareFetch, ShareAcknowledge):
//! the share session's epochs, acquisition and redelivery, and the error codes a member
//! can meet. The behaviour with a real client is tested in `tests/smoke/test_share.py`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch as AckBatch,
};
use kafka_protocol::messages::share_fetch_request::{
    AcknowledgementBatch, FetchPartition, FetchTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::producer::{FutureProducer, FutureRecord};
use uuid::Uuid;

use common::{bootstrap, create_topic_at, producer, start, Raw};
use runnel_broker::metrics::Detail;
use runnel_broker::Broker;

const UNKNOWN_MEMBER_ID: i16 = 25;
const INVALID_REQUEST: i16 = 42;
const INVALID_RECORD_STATE: i16 = 121;
const SHARE_SESSION_NOT_FOUND: i16 = 122;
const INVALID_SHARE_SESSION_EPOCH: i16 = 123;
const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
const GROUP_ID_NOT_FOUND: i16 = 69;

const ACCEPT: i8 = 1;
const RELEASE: i8 = 2;
const RENEW: i8 = 4;

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

async fn join(
    raw: &mut Raw,
    group: &str,
    member: &str,
    topic: &str,
) -> ShareGroupHeartbeatResponse {
    let request = ShareGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(s(member))
        .with_member_epoch(0)
        .with_subscribed_topic_names(Some(vec![TopicName(s(topic))]));
    raw.call(ApiKey::ShareGroupHeartbeat, 1, &request).await
}

/// Creates the topic `jobs` with `partitions` partitions; returns its id.
async fn create_jobs(broker: &Broker, partitions: i32) -> Uuid {
    create_topic_at(&bootstrap(broker), "jobs", partitions).await;
    broker.state().topics.get("jobs").unwrap().id
}

/// Joins `workers` as `member` and opens its share session on `topic` (epoch 0).
async fn open_session(raw: &mut Raw, member: &str, topic: Uuid) {
    assert_eq!(join(raw, "workers", member, "jobs").await.error_code, 0);
    let response: ShareFetchResponse = raw
        .call(ApiKey::ShareFetch, 1, &fetch(member, 0, topic, vec![]))
        .await;
    assert_eq!(response.error_code, 0);
}

/// A ShareFetch of partition 0 of `topic`, with optional acknowledgements of it.
fn fetch(member: &str, epoch: i32, topic: Uuid, acks: Vec<(i64, i64, i8)>) -> ShareFetchRequest {
    ShareFetchRequest::default()
        .with_group_id(Some(GroupId(s("workers"))))
        .with_member_id(Some(s(member)))
        .with_share_session_epoch(epoch)
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_max_records(100)
        .with_batch_size(100)
        .with_topics(vec![FetchTopic::default()
            .with_topic_id(topic)
            .with_partitions(vec![FetchPartition::default()
                .with_acknowledgement_batches(
                    acks.into_iter()
                        .map(|(first, last, kind)| {
                            AcknowledgementBatch::default()
                                .with_first_offset(first)
                                .with_last_offset(last)
                                .with_acknowledge_types(vec![kind])
                        })
                        .collect(),
                )])])
}

/// (partition, first, last) of every acquired range in a response, by partition.
fn acquired_by_partition(response: &ShareFetchResponse) -> Vec<(i32, i64, i64)> {
    response
        .responses
        .iter()
        .flat_map(|t| &t.partitions)
        .flat_map(|p| {
            p.acquired_records
                .iter()
                .map(|r| (p.partition_index, r.first_offset, r.last_offset))
        })
        .collect()
}

/// (first, last, delivery count) of every acquired range in a response.
fn acquired(response: &ShareFetchResponse) -> Vec<(i64, i64, i16)> {
    response
        .responses
        .iter()
        .flat_map(|t| &t.partitions)
        .flat_map(|p| &p.acquired_records)
        .map(|r| (r.first_offset, r.last_offset, r.delivery_count))
        .collect()
}

fn ack_code(response: &ShareFetchResponse) -> i16 {
    response.responses[0].partitions[0].acknowledge_error_code
}

/// A ShareAcknowledge of partition 0 of `topic`: one batch per `(first, last, type)`.
fn acknowledge(
    member: &str,
    epoch: i32,
    topic: Uuid,
    batches: &[(i64, i64, i8)],
) -> ShareAcknowledgeRequest {
    ShareAcknowledgeRequest::default()
        .with_group_id(Some(GroupId(s("workers"))))
        .with_member_id(Some(s(member)))
        .with_share_session_epoch(epoch)
        .with_topics(vec![AcknowledgeTopic::default()
            .with_topic_id(topic)
            .with_partitions(vec![AcknowledgePartition::default()
                .with_acknowledgement_batches(
                    batches
                        .iter()
                        .map(|&(first, last, kind)| {
                            AckBatch::default()
                                .with_first_offset(first)
                                .with_last_offset(last)
                                .with_acknowledge_types(vec![kind])
                        })
                        .collect(),
                )])])
}

/// The heartbeat with which `member` leaves the `workers` group.
async fn leave(raw: &mut Raw, member: &str) -> ShareGroupHeartbeatResponse {
    let leave = ShareGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("workers")))
        .with_member_id(s(member))
        .with_member_epoch(-1);
    raw.call(ApiKey::ShareGroupHeartbeat, 1, &leave).await
}

/// Produces `job-0` .. `job-{count - 1}` to partition `partition` of `jobs`, one
/// acknowledged record at a time (so one batch each, all of one size).
async fn produce_jobs(producer: &FutureProducer, partition: i32, count: usize) {
    for i in 0..count {
        producer
            .send(
                FutureRecord::to("jobs")
                    .partition(partition)
                    .key("k")
                    .payload(&format!("job-{i}")),
                std::time::Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
}

/// ShareAcknowledge at v2, which kafka-protocol 0.18 does not code: the v1 body with
/// IsRenewAck (true) inserted after the epoch; the v2 answer is v1's with
/// AcquisitionLockTimeoutMs after the error message. Returns that timeout and the rest.
async fn acknowledge_v2(
    raw: &mut Raw,
    request: &ShareAcknowledgeRequest,
) -> (i32, ShareAcknowledgeResponse) {
    use bytes::{Buf, BufMut};
    use kafka_protocol::protocol::{Decodable, Encodable};
    let mut v1 = bytes::BytesMut::new();
    request.encode(&mut v1, 1).unwrap();
    // Group and member are short compact strings (one length byte, holding length + 1).
    let group_end = v1[0] as usize;
    let member_end = group_end + v1[group_end] as usize;
    let at = member_end + 4;
    let mut body = bytes::BytesMut::new();
    body.put_slice(&v1[..at]);
    body.put_u8(1);
    body.put_slice(&v1[at..]);
    let answer = raw.call_bytes(ApiKey::ShareAcknowledge, 2, &body).await;
    // Throttle (4), error (2), then a null or short error message (1 length byte + text).
    let message_end = 6 + 1 + (answer[6] as usize).saturating_sub(1);
    let lock_ms = (&answer[message_end..message_end + 4]).get_i32();
    let mut v1 = bytes::BytesMut::new();
    v1.put_slice(&answer[..message_end]);
    v1.put_slice(&answer[message_end + 4..]);
    let response = ShareAcknowledgeResponse::decode(&mut v1.freeze(), 1).unwrap();
    (lock_ms, response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_sessions_acquire_redeliver_and_refuse_what_they_must() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let topic = create_jobs(&broker, 1).await;
    let mut a = Raw::connect(&broker).await;
    let mut b = Raw::connect(&broker).await;

    // Not a member yet.
    let response: ShareFetchResponse = a
        .call(ApiKey::ShareFetch, 1, &fetch("a", 0, topic, vec![]))
        .await;
    assert_eq!(response.error_code, UNKNOWN_MEMBER_ID);
    let joined = join(&mut a, "workers", "a", "jobs").await;
    assert_eq!((joined.error_code, joined.member_epoch), (0, 1));
    let assignment = joined.assignment.unwrap();
    assert_eq!(assignment.topic_partitions[0].partitions, vec![0]);
    assert_eq!(join(&mut b, "workers", "b", "jobs").await.error_code, 0);

    // No session yet; a new session carries no acknowledgements.
    let response: ShareFetchResponse = a
        .call(ApiKey::ShareFetch, 1, &fetch("a", 1, topic, vec![]))
        .await;
    assert_eq!(response.error_code, SHARE_SESSION_NOT_FOUND);
    let response: ShareFetchResponse = a
        .call(
            ApiKey::ShareFetch,
            1,
            &fetch("a", 0, topic, vec![(0, 0, ACCEPT)]),
        )
        .await;
    assert_eq!(response.error_code, INVALID_REQUEST);

    // The session starts the share-partition at the log end (share.auto.offset.reset=latest).
    let response: ShareFetchResponse = a
        .call(ApiKey::ShareFetch, 1, &fetch("a", 0, topic, vec![]))
        .await;
    assert_eq!(response.error_code, 0);
    assert!(acquired(&response).is_empty());
    let producer = producer(&broker, &[("acks", "all"), ("linger.ms", "0")]);
    produce_jobs(&producer, 0, 5).await;

    let response: ShareFetchResponse = a
        .call(ApiKey::ShareFetch, 1, &fetch("a", 1, topic, vec![]))
        .await;
    assert_eq!(acquired(&response), vec![(0, 4, 1)]);
    assert!(response.responses[0].partitions[0]
        .records
        .as_ref()
        .is_some_and(|r| !r.is_empty()));
    assert_eq!(response.acquisition_lock_timeout_ms, 30_000);

    // A wrong epoch is refused; b cannot settle what a holds, and nothing of it applies.
    let response: ShareFetchResponse = a
        .call(ApiKey::ShareFetch, 1, &fetch("a", 7, topic, vec![]))
        .await;
    assert_eq!(response.error_code, INVALID_SHARE_SESSION_EPOCH);
    let response: ShareFetchResponse = b
        .call(ApiKey::ShareFetch, 1, &fetch("b", 0, topic, vec![]))
        .await;
    assert!(acquired(&response).is_empty(), "everything is held by a");
    let response: ShareFetchResponse = b
        .call(
            ApiKey::ShareFetch,
            1,
            &fetch("b", 1, topic, vec![(0, 4, ACCEPT)]),
        )
        .await;
    assert_eq!(ack_code(&response), INVALID_RECORD_STATE);
    let response: ShareFetchResponse = b
        .call(
            ApiKey::ShareFetch,
            1,
            &fetch("b", 2, topic, vec![(0, 0, 9)]),
        )
        .await;
    assert_eq!(
        ack_code(&response),
        INVALID_REQUEST,
        "an unknown acknowledge type"
    );

    // a accepts 0..=2 and releases 3..=4 with ShareAcknowledge; b then gets 3..=4 again.
    let release = acknowledge("a", 2, topic, &[(0, 2, ACCEPT), (3, 4, RELEASE)]);
    let response: ShareAcknowledgeResponse = a.call(ApiKey::ShareAcknowledge, 1, &release).await;
    assert_eq!(response.error_code, 0);
    assert_eq!(response.responses[0].partitions[0].error_code, 0);
    let response: ShareFetchResponse = b
        .call(ApiKey::ShareFetch, 1, &fetch("b", 3, topic, vec![]))
        .await;
    assert_eq!(acquired(&response), vec![(3, 4, 2)]);

    // Renewal (ShareAcknowledge v2, RENEW): the holder may, another member may not, and v1
    // does not know the type.
    let renew = |member: &str, epoch: i32| acknowledge(member, epoch, topic, &[(3, 4, RENEW)]);
    let (lock_ms, response) = acknowledge_v2(&mut b, &renew("b", 4)).await;
    assert_eq!(lock_ms, 30_000);
    assert_eq!(response.responses[0].partitions[0].error_code, 0);
    let (_, response) = acknowledge_v2(&mut a, &renew("a", 3)).await;
    assert_eq!(
        response.responses[0].partitions[0].error_code,
        INVALID_RECORD_STATE
    );
    let response: ShareAcknowledgeResponse =
        b.call(ApiKey::ShareAcknowledge, 1, &renew("b", 5)).await;
    assert_eq!(
        response.responses[0].partitions[0].error_code,
        INVALID_REQUEST
    );
    // The renewed records are still b's: a third member gets nothing.
    let mut c = Raw::connect(&broker).await;
    assert_eq!(join(&mut c, "workers", "c", "jobs").await.error_code, 0);
    let response: ShareFetchResponse = c
        .call(ApiKey::ShareFetch, 1, &fetch("c", 0, topic, vec![]))
        .await;
    assert!(acquired(&response).is_empty());

    // A consumer group cannot take the share group's id, nor a classic one, nor the other
    // way round.
    let consumer = |group: &str| {
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_member_id(s("c"))
            .with_rebalance_timeout_ms(30_000)
            .with_subscribed_topic_names(Some(vec![TopicName(s("jobs"))]))
            .with_topic_partitions(Some(vec![]))
    };
    let response: ConsumerGroupHeartbeatResponse = a
        .call(ApiKey::ConsumerGroupHeartbeat, 1, &consumer("workers"))
        .await;
    assert_eq!(response.error_code, GROUP_ID_NOT_FOUND);
    let classic = JoinGroupRequest::default()
        .with_group_id(GroupId(s("workers")))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(s("consumer"));
    let response: JoinGroupResponse = a.call(ApiKey::JoinGroup, 9, &classic).await;
    assert_eq!(response.error_code, INCONSISTENT_GROUP_PROTOCOL);
    let response: ConsumerGroupHeartbeatResponse = a
        .call(ApiKey::ConsumerGroupHeartbeat, 1, &consumer("orders"))
        .await;
    assert_eq!(response.error_code, 0);
    let response = join(&mut a, "orders", "a", "jobs").await;
    assert_eq!(response.error_code, INCONSISTENT_GROUP_PROTOCOL);
    broker.shutdown().await.unwrap();
}

/// librdkafka's 0184: share-partition state belongs to the topic id, as in Kafka, so a topic
/// deleted and created again under its name starts clean (its first record is a first
/// delivery), and stays clean across a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_created_again_starts_with_new_share_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let old_topic = create_jobs(&broker, 1).await;
    let mut a = Raw::connect(&broker).await;
    open_session(&mut a, "a", old_topic).await;
    let producer = producer(&broker, &[("acks", "all"), ("linger.ms", "0")]);
    let send = |payload: &'static str| {
        producer.send(
            FutureRecord::to("jobs").key("k").payload(payload),
            std::time::Duration::from_secs(10),
        )
    };
    send("old").await.unwrap();
    let response: ShareFetchResponse = a
        .call(ApiKey::ShareFetch, 1, &fetch("a", 1, old_topic, vec![]))
        .await;
    assert_eq!(acquired(&response), vec![(0, 0, 1)]);
    // Leaving releases the record: the old topic's offset 0 has been delivered once.
    assert_eq!(leave(&mut a, "a").await.error_code, 0);

    let delete = DeleteTopicsRequest::default()
        .with_topic_names(vec![TopicName(s("jobs"))])
        .with_timeout_ms(10_000);
    let deleted: DeleteTopicsResponse = a.call(ApiKey::DeleteTopics, 5, &delete).await;
    assert_eq!(deleted.responses[0].error_code, 0);
    let new_topic = create_jobs(&broker, 1).await;
    assert_ne!(new_topic, old_topic);
    send("new").await.unwrap();

    // The new topic's share-partition starts from scratch: from the log end (the reset
    // policy), so the record produced before the first fetch is not there; the next is a
    // first delivery at offset 1.
    let mut b = Raw::connect(&broker).await;
    assert_eq!(join(&mut b, "workers", "b", "jobs").await.error_code, 0);
    let response: ShareFetchResponse = b
        .call(ApiKey::ShareFetch, 1, &fetch("b", 0, new_topic, vec![]))
        .await;
    assert!(acquired(&response).is_empty(), "{response:?}");
    send("newer").await.unwrap();
    let response: ShareFetchResponse = b
        .call(ApiKey::ShareFetch, 1, &fetch("b", 1, new_topic, vec![]))
        .await;
    assert_eq!(acquired(&response), vec![(1, 1, 1)]);
    let response: ShareFetchResponse = b
        .call(
            ApiKey::ShareFetch,
            1,
            &fetch("b", -1, new_topic, vec![(1, 1, RELEASE)]),
        )
        .await;
    assert_eq!(ack_code(&response), 0);
    drop(producer);
    broker.shutdown().await.unwrap();

    // After a restart only the new topic's state is back: offset 1, delivered once.
    let broker = start(dir.path(), |_| {}).await;
    let mut c = Raw::connect(&broker).await;
    assert_eq!(join(&mut c, "workers", "c", "jobs").await.error_code, 0);
    let response: ShareFetchResponse = c
        .call(ApiKey::ShareFetch, 1, &fetch("c", 0, new_topic, vec![]))
        .await;
    assert_eq!(acquired(&response), vec![(1, 1, 2)]);
    broker.shutdown().await.unwrap();
}

/// librdkafka's 0178: a closing consumer sends its leave heartbeat and its final
/// acknowledgements (the share session's close) at the same moment on two connections. When
/// the leave arrives first the acknowledgements still apply, as in Kafka, where leaving the
/// group does not release what an open share session holds: the close accepts what it names
/// and releases the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_acknowledgements_after_the_leave_heartbeat_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let topic = create_jobs(&broker, 1).await;
    let mut heartbeats = Raw::connect(&broker).await;
    let mut fetches = Raw::connect(&broker).await;
    assert_eq!(
        join(&mut heartbeats, "workers", "a", "jobs")
            .await
            .error_code,
        0
    );
    let response: ShareFetchResponse = fetches
        .call(ApiKey::ShareFetch, 1, &fetch("a", 0, topic, vec![]))
        .await;
    assert_eq!(response.error_code, 0);
    let producer = producer(&broker, &[("acks", "all"), ("linger.ms", "0")]);
    produce_jobs(&producer, 0, 5).await;
    let response: ShareFetchResponse = fetches
        .call(ApiKey::ShareFetch, 1, &fetch("a", 1, topic, vec![]))
        .await;
    assert_eq!(acquired(&response), vec![(0, 4, 1)]);

    assert_eq!(leave(&mut heartbeats, "a").await.error_code, 0);
    let close = acknowledge("a", -1, topic, &[(0, 2, ACCEPT)]);
    let closed: ShareAcknowledgeResponse = fetches.call(ApiKey::ShareAcknowledge, 1, &close).await;
    assert_eq!(closed.error_code, 0);
    assert_eq!(closed.responses[0].partitions[0].error_code, 0);

    // 0..=2 are accepted for good; 3..=4, not acknowledged, were released by the close.
    let mut b = Raw::connect(&broker).await;
    assert_eq!(join(&mut b, "workers", "b", "jobs").await.error_code, 0);
    let response: ShareFetchResponse = b
        .call(ApiKey::ShareFetch, 1, &fetch("b", 0, topic, vec![]))
        .await;
    assert_eq!(acquired(&response), vec![(3, 4, 2)]);
    drop(producer);
    broker.shutdown().await.unwrap();
}

/// librdkafka's 0177: a share group with `share.isolation.level=read_committed` is delivered
/// records up to the last stable offset only, and never those of an aborted transaction
/// (archived undelivered, as Kafka does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_committed_share_groups_see_no_aborted_or_open_transaction() {
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    use rdkafka::producer::Producer;
    const GROUP_RESOURCE: i8 = 32;
    const SET: i8 = 0;
    let wait = std::time::Duration::from_secs(10);

    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let topic = create_jobs(&broker, 1).await;
    let mut a = Raw::connect(&broker).await;
    let set = |name: &str, value: &str| {
        AlterableConfig::default()
            .with_name(s(name))
            .with_config_operation(SET)
            .with_value(Some(s(value)))
    };
    let configure = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(GROUP_RESOURCE)
            .with_resource_name(s("workers"))
            .with_configs(vec![
                set("share.isolation.level", "read_committed"),
                set("share.auto.offset.reset", "earliest"),
            ]),
    ]);
    let configured: IncrementalAlterConfigsResponse =
        a.call(ApiKey::IncrementalAlterConfigs, 1, &configure).await;
    assert_eq!(configured.responses[0].error_code, 0, "{configured:?}");

    // Offsets: 0-1 aborted, 2 its marker, 3 committed, 4 its marker, 5 still open.
    let producer = producer(
        &broker,
        &[("transactional.id", "jobs-writer"), ("linger.ms", "0")],
    );
    let send = |payload: &'static str| {
        producer.send(FutureRecord::to("jobs").key("k").payload(payload), wait)
    };
    tokio::task::block_in_place(|| producer.init_transactions(wait)).unwrap();
    producer.begin_transaction().unwrap();
    send("aborted-1").await.unwrap();
    send("aborted-2").await.unwrap();
    tokio::task::block_in_place(|| producer.abort_transaction(wait)).unwrap();
    producer.begin_transaction().unwrap();
    send("committed").await.unwrap();
    tokio::task::block_in_place(|| producer.commit_transaction(wait)).unwrap();
    producer.begin_transaction().unwrap();
    send("open").await.unwrap();

    assert_eq!(join(&mut a, "workers", "a", "jobs").await.error_code, 0);
    let response: ShareFetchResponse = a
        .call(ApiKey::ShareFetch, 1, &fetch("a", 0, topic, vec![]))
        .await;
    assert_eq!(acquired(&response), vec![(3, 3, 1)]);

    // Once the open transaction commits, its record is delivered, and nothing before it.
    tokio::task::block_in_place(|| producer.commit_transaction(wait)).unwrap();
    let response: ShareFetchResponse = a
        .call(
            ApiKey::ShareFetch,
            1,
            &fetch("a", 1, topic, vec![(3, 3, ACCEPT)]),
        )
        .await;
    assert_eq!(ack_code(&response), 0);
    assert_eq!(acquired(&response), vec![(5, 5, 1)]);
    drop(producer);
    broker.shutdown().await.unwrap();
}

/// librdkafka's 0180 (`fetch.max.bytes`): a ShareFetch with MaxBytes 0 acquires nothing, as
/// Kafka's broker does; any other MaxBytes is a soft limit, the first partition with records
/// giving one whole batch however small the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_fetch_max_bytes_zero_acquires_nothing_and_one_still_gives_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let topic = create_jobs(&broker, 1).await;
    let mut a = Raw::connect(&broker).await;
    open_session(&mut a, "a", topic).await;
    let producer = producer(&broker, &[("acks", "all"), ("linger.ms", "0")]);
    produce_jobs(&producer, 0, 3).await;

    let response: ShareFetchResponse = a
        .call(
            ApiKey::ShareFetch,
            1,
            &fetch("a", 1, topic, vec![]).with_max_bytes(0),
        )
        .await;
    assert_eq!(response.error_code, 0);
    assert!(acquired(&response).is_empty(), "{response:?}");

    // One record per batch (linger.ms=0, awaited one by one): a limit of one byte still
    // gives the first batch, and only it.
    let response: ShareFetchResponse = a
        .call(
            ApiKey::ShareFetch,
            1,
            &fetch("a", 2, topic, vec![]).with_max_bytes(1),
        )
        .await;
    assert_eq!(acquired(&response), vec![(0, 0, 1)]);
    drop(producer);
    broker.shutdown().await.unwrap();
}

/// A ShareFetch of `a` at `epoch` with the given MaxBytes and MaxRecords.
async fn limited(
    raw: &mut Raw,
    topic: Uuid,
    epoch: i32,
    max_bytes: i32,
    max_records: i32,
) -> ShareFetchResponse {
    let request = fetch("a", epoch, topic, vec![])
        .with_max_bytes(max_bytes)
        .with_max_records(max_records);
    let response: ShareFetchResponse = raw.call(ApiKey::ShareFetch, 1, &request).await;
    assert_eq!(response.error_code, 0);
    response
}

/// Kafka's per-partition limits of a ShareFetch: MaxBytes is split evenly over the session's
/// partitions, only the first partition to give records may exceed its share (by one batch),
/// MaxRecords counts across partitions, and each fetch starts one partition further on (the
/// share session epoch rotates the order), so a small limit starves no partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_fetch_limits_are_shared_between_partitions_in_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let topic = create_jobs(&broker, 3).await;
    let mut a = Raw::connect(&broker).await;
    assert_eq!(join(&mut a, "workers", "a", "jobs").await.error_code, 0);
    let all_partitions = fetch("a", 0, topic, vec![]).with_topics(vec![FetchTopic::default()
        .with_topic_id(topic)
        .with_partitions(
            (0..3)
                .map(|p| FetchPartition::default().with_partition_index(p))
                .collect(),
        )]);
    let response: ShareFetchResponse = a.call(ApiKey::ShareFetch, 1, &all_partitions).await;
    assert_eq!(response.error_code, 0);
    let producer = producer(&broker, &[("acks", "all"), ("linger.ms", "0")]);
    for partition in 0..3 {
        produce_jobs(&producer, partition, 3).await;
    }
    // Epoch 1 serves partitions 1, 2, 0: one byte each, and only partition 1 may go over.
    let response = limited(&mut a, topic, 1, 3, 100).await;
    assert_eq!(acquired_by_partition(&response), vec![(1, 0, 0)]);
    let batch = response.responses[0].partitions[0]
        .records
        .as_ref()
        .unwrap()
        .len();
    // Room for one batch per partition, not two: each gives one, where a first partition
    // taking all the bytes would give three.
    let response = limited(
        &mut a,
        topic,
        2,
        i32::try_from(3 * batch + batch / 2).unwrap(),
        100,
    )
    .await;
    assert_eq!(
        acquired_by_partition(&response),
        vec![(0, 0, 0), (1, 1, 1), (2, 0, 0)]
    );
    // One record per fetch: partitions 0, then 1, then 2 come first.
    let response = limited(&mut a, topic, 3, 1 << 20, 1).await;
    assert_eq!(acquired_by_partition(&response), vec![(0, 1, 1)]);
    let response = limited(&mut a, topic, 4, 1 << 20, 1).await;
    assert_eq!(acquired_by_partition(&response), vec![(1, 2, 2)]);
    let response = limited(&mut a, topic, 5, 1 << 20, 1).await;
    assert_eq!(acquired_by_partition(&response), vec![(2, 1, 1)]);
    drop(producer);
    broker.shutdown().await.unwrap();
}

/// The value of the exposition's sample `series` (name and labels exactly as rendered).
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

fn share_metrics(broker: &Broker, detail: Detail) -> String {
    let no_lag = runnel_lag::LagReport {
        evaluated_at_ms: 0,
        window_ms: 0,
        untracked_observations: 0,
        groups: Vec::new(),
    };
    runnel_broker::metrics::render(broker.state(), detail, &no_lag).unwrap()
}

#[tokio::test]
async fn in_flight_and_dead_lettered_records_show_in_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let topic = create_jobs(&broker, 1).await;
    let mut a = Raw::connect(&broker).await;
    open_session(&mut a, "a", topic).await;
    let producer = producer(&broker, &[("acks", "all"), ("linger.ms", "0")]);
    produce_jobs(&producer, 0, 5).await;
    let response: ShareFetchResponse = a
        .call(ApiKey::ShareFetch, 1, &fetch("a", 1, topic, vec![]))
        .await;
    assert_eq!(acquired(&response), vec![(0, 4, 1)]);

    let group = "{group=\"workers\"}";
    let partition = "{group=\"workers\",topic=\"jobs\",partition=\"0\"}";
    let metrics = share_metrics(&broker, Detail::Partitions);
    let value = |name: &str, labels: &str| sample(&metrics, &format!("{name}{labels}"));
    assert_eq!(
        value("runnel_share_group_in_flight_records", group),
        Some(5.0)
    );
    assert_eq!(
        value("runnel_share_partition_in_flight_records", partition),
        Some(5.0)
    );
    assert_eq!(
        value("runnel_share_group_dead_lettered_records_total", group),
        Some(0.0)
    );

    // Two rejected (dead-lettered), one accepted, two still held.
    const REJECT: i8 = 3;
    let settle = acknowledge("a", 2, topic, &[(0, 1, REJECT), (2, 2, ACCEPT)]);
    let response: ShareAcknowledgeResponse = a.call(ApiKey::ShareAcknowledge, 1, &settle).await;
    assert_eq!(response.responses[0].partitions[0].error_code, 0);
    let metrics = share_metrics(&broker, Detail::Partitions);
    let value = |name: &str, labels: &str| sample(&metrics, &format!("{name}{labels}"));
    assert_eq!(
        value("runnel_share_group_in_flight_records", group),
        Some(2.0)
    );
    assert_eq!(
        value("runnel_share_group_dead_lettered_records_total", group),
        Some(2.0)
    );
    assert_eq!(
        value(
            "runnel_share_partition_dead_lettered_records_total",
            partition
        ),
        Some(2.0)
    );

    // Without per-partition detail, the group's totals only.
    let totals = share_metrics(&broker, Detail::Topics);
    assert_eq!(
        sample(
            &totals,
            &format!("runnel_share_group_in_flight_records{group}")
        ),
        Some(2.0)
    );
    assert!(!totals.contains("runnel_share_partition_"), "{totals}");
}

/// With an authorizer, DescribeShareGroupOffsets shows only the topics the requester may
/// describe: left out of an all-topics answer, TOPIC_AUTHORIZATION_FAILED when named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_group_offsets_show_only_describable_topics() {
    use runnel_acl::{AclBinding, AclFilter, Operation, PatternType, Permission, ResourcePattern};
    use runnel_acl::{ResourceType, CLUSTER_NAME};
    const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
    let all_on = |resource_type, name: &str| AclBinding {
        pattern: ResourcePattern {
            resource_type,
            pattern_type: PatternType::Literal,
            name: name.to_owned(),
        },
        principal: "User:ANONYMOUS".to_owned(),
        host: "*".to_owned(),
        operation: Operation::All,
        permission: Permission::Allow,
    };
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| {
        c.set(
            "authorizer.class.name",
            runnel_broker::acls::STANDARD_AUTHORIZER,
        )
        .unwrap();
    })
    .await;
    let acls = &broker.state().acls;
    for (resource_type, name) in [
        (ResourceType::Cluster, CLUSTER_NAME),
        (ResourceType::Topic, "jobs"),
        (ResourceType::Group, "workers"),
    ] {
        acls.change(|a| a.add(all_on(resource_type, name)))
            .unwrap()
            .unwrap();
    }
    let topic = create_jobs(&broker, 1).await;
    let mut a = Raw::connect(&broker).await;
    open_session(&mut a, "a", topic).await;
    let producer = producer(&broker, &[("acks", "all"), ("linger.ms", "0")]);
    produce_jobs(&producer, 0, 2).await;
    let response: ShareFetchResponse = a
        .call(ApiKey::ShareFetch, 1, &fetch("a", 1, topic, vec![]))
        .await;
    assert_eq!(acquired(&response), vec![(0, 1, 1)]);

    let describe = |topics: Option<Vec<&str>>| {
        DescribeShareGroupOffsetsRequest::default().with_groups(vec![
            describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup::default()
                .with_group_id(GroupId(s("workers")))
                .with_topics(topics.map(|names| {
                    names
                        .into_iter()
                        .map(|name| {
                            describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestTopic::default()
                                .with_topic_name(TopicName(s(name)))
                                .with_partitions(vec![0])
                        })
                        .collect()
                })),
        ])
    };
    let topics_of = |response: &DescribeShareGroupOffsetsResponse| -> Vec<(String, i16)> {
        response.groups[0]
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (t.topic_name.0.to_string(), p.error_code))
            })
            .collect()
    };
    let r: DescribeShareGroupOffsetsResponse = a
        .call(ApiKey::DescribeShareGroupOffsets, 0, &describe(None))
        .await;
    assert_eq!(topics_of(&r), [("jobs".to_owned(), 0)]);

    let topic_acls = AclFilter {
        resource_type: Some(ResourceType::Topic),
        name: None,
        pattern: runnel_acl::filter::PatternFilter::Any,
        principal: None,
        host: None,
        operation: None,
        permission: None,
    };
    acls.change(|a| a.remove_matching(&topic_acls)).unwrap();
    let r: DescribeShareGroupOffsetsResponse = a
        .call(ApiKey::DescribeShareGroupOffsets, 0, &describe(None))
        .await;
    assert_eq!(r.groups[0].error_code, 0);
    assert_eq!(topics_of(&r), []);
    let r: DescribeShareGroupOffsetsResponse = a
        .call(
            ApiKey::DescribeShareGroupOffsets,
            0,
            &describe(Some(vec!["jobs"])),
        )
        .await;
    assert_eq!(
        topics_of(&r),
        [("jobs".to_owned(), TOPIC_AUTHORIZATION_FAILED)]
    );
    drop(producer);
    broker.shutdown().await.unwrap();
}

/// With an authorizer, ShareFetch and ShareAcknowledge answer TOPIC_AUTHORIZATION_FAILED for
/// the partitions of a topic the member may not read and serve the others, as Kafka does;
/// the refused partitions stay in the share session and are served once READ is granted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_requests_refuse_only_the_topics_without_read() {
    use runnel_acl::{AclBinding, Operation, PatternType, Permission, ResourcePattern};
    use runnel_acl::{ResourceType, CLUSTER_NAME};
    const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
    let grant = |resource_type, name: &str, operation| AclBinding {
        pattern: ResourcePattern {
            resource_type,
            pattern_type: PatternType::Literal,
            name: name.to_owned(),
        },
        principal: "User:ANONYMOUS".to_owned(),
        host: "*".to_owned(),
        operation,
        permission: Permission::Allow,
    };
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| {
        c.set(
            "authorizer.class.name",
            runnel_broker::acls::STANDARD_AUTHORIZER,
        )
        .unwrap();
    })
    .await;
    let acls = &broker.state().acls;
    for binding in [
        grant(ResourceType::Cluster, CLUSTER_NAME, Operation::All),
        grant(ResourceType::Group, "workers", Operation::All),
        grant(ResourceType::Topic, "jobs", Operation::All),
        grant(ResourceType::Topic, "secret", Operation::Describe),
        grant(ResourceType::Topic, "secret", Operation::Write),
    ] {
        acls.change(|a| a.add(binding)).unwrap().unwrap();
    }
    let jobs = create_jobs(&broker, 1).await;
    create_topic_at(&bootstrap(&broker), "secret", 1).await;
    let secret = broker.state().topics.get("secret").unwrap().id;
    let mut a = Raw::connect(&broker).await;
    assert_eq!(join(&mut a, "workers", "a", "jobs").await.error_code, 0);

    let both = |epoch: i32, acks: Vec<(i64, i64, i8)>| {
        let mut request = fetch("a", epoch, jobs, acks.clone());
        let mut other = request.topics[0].clone();
        other.topic_id = secret;
        request.topics.push(other);
        request
    };
    // (topic, partition error, acknowledgement error, acquired ranges) of each partition.
    let by_topic = |response: &ShareFetchResponse| -> Vec<(Uuid, i16, i16, usize)> {
        let mut rows: Vec<_> = response
            .responses
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    (
                        t.topic_id,
                        p.error_code,
                        p.acknowledge_error_code,
                        p.acquired_records.len(),
                    )
                })
            })
            .collect();
        rows.sort_by_key(|row| row.0 != jobs);
        rows
    };
    let response: ShareFetchResponse = a.call(ApiKey::ShareFetch, 1, &both(0, vec![])).await;
    assert_eq!(response.error_code, 0);
    // A share group starts at the log end: records come after the session opened.
    let producer = producer(&broker, &[("acks", "all"), ("linger.ms", "0")]);
    produce_jobs(&producer, 0, 2).await;
    for i in 0..2 {
        producer
            .send(
                FutureRecord::to("secret")
                    .partition(0)
                    .key("k")
                    .payload(&format!("secret-{i}")),
                std::time::Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    let response: ShareFetchResponse = a.call(ApiKey::ShareFetch, 1, &both(1, vec![])).await;
    assert_eq!(response.error_code, 0);
    assert_eq!(acquired(&response), vec![(0, 1, 1)]);
    assert_eq!(
        by_topic(&response),
        [(jobs, 0, 0, 1), (secret, TOPIC_AUTHORIZATION_FAILED, 0, 0)]
    );

    // Acknowledgements: those of `jobs` apply, those of `secret` are refused.
    let response: ShareFetchResponse = a
        .call(ApiKey::ShareFetch, 1, &both(2, vec![(0, 0, ACCEPT)]))
        .await;
    assert_eq!(response.error_code, 0);
    assert_eq!(
        by_topic(&response),
        [
            (jobs, 0, 0, 0),
            (
                secret,
                TOPIC_AUTHORIZATION_FAILED,
                TOPIC_AUTHORIZATION_FAILED,
                0
            )
        ]
    );
    let mut ack = acknowledge("a", 3, jobs, &[(1, 1, ACCEPT)]);
    let mut other = ack.topics[0].clone();
    other.topic_id = secret;
    ack.topics.push(other);
    let response: ShareAcknowledgeResponse = a.call(ApiKey::ShareAcknowledge, 1, &ack).await;
    assert_eq!(response.error_code, 0);
    let mut codes: Vec<(Uuid, i16)> = response
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.topic_id, p.error_code)))
        .collect();
    codes.sort_by_key(|row| row.0 != jobs);
    assert_eq!(codes, [(jobs, 0), (secret, TOPIC_AUTHORIZATION_FAILED)]);

    // Once READ is granted, the session's `secret` partition is served: it starts at the
    // log end when first read, as any share partition.
    acls.change(|a| a.add(grant(ResourceType::Topic, "secret", Operation::Read)))
        .unwrap()
        .unwrap();
    let incremental = |epoch: i32| {
        ShareFetchRequest::default()
            .with_group_id(Some(GroupId(s("workers"))))
            .with_member_id(Some(s("a")))
            .with_share_session_epoch(epoch)
            .with_max_wait_ms(0)
            .with_max_bytes(1 << 20)
            .with_max_records(100)
            .with_batch_size(100)
    };
    let response: ShareFetchResponse = a.call(ApiKey::ShareFetch, 1, &incremental(4)).await;
    assert_eq!((response.error_code, by_topic(&response)), (0, vec![]));
    producer
        .send(
            FutureRecord::to("secret")
                .partition(0)
                .key("k")
                .payload("secret-2"),
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    let response: ShareFetchResponse = a.call(ApiKey::ShareFetch, 1, &incremental(5)).await;
    assert_eq!(response.error_code, 0);
    assert_eq!(by_topic(&response), [(secret, 0, 0, 1)]);
    drop(producer);
    broker.shutdown().await.unwrap();
}
