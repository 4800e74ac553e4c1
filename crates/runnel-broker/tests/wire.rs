//! Raw-protocol tests: framing limits, malformed input, version negotiation, ordering.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
    ProduceRequest, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{eventually, frame, frame_bytes, producer, start};

const WAIT: Duration = Duration::from_secs(10);

fn raw_frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// Reads one response: (correlation id, body after a header of `header_version`).
async fn read_response(stream: &mut TcpStream, header_version: i16) -> (i32, Bytes) {
    let size = tokio::time::timeout(WAIT, stream.read_i32())
        .await
        .unwrap()
        .unwrap();
    let mut buf = vec![0; size as usize];
    stream.read_exact(&mut buf).await.unwrap();
    let mut bytes = Bytes::from(buf);
    let header = ResponseHeader::decode(&mut bytes, header_version).unwrap();
    (header.correlation_id, bytes)
}

/// Asserts the broker closes the connection (EOF, or a reset) without answering.
async fn assert_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(WAIT, stream.read(&mut buf))
        .await
        .expect("closed in time")
    {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("expected the connection to close, got {n} bytes"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn garbage_closes_only_that_connection() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| c.max_request_bytes = 1024 * 1024).await;
    let addr = broker.local_addr();
    let bystander = producer(&broker, &[]);
    bystander
        .send(
            rdkafka::producer::FutureRecord::to("calm")
                .key("k")
                .payload("before"),
            WAIT,
        )
        .await
        .unwrap();

    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "oversized frame",
            (2 * 1024 * 1024i32).to_be_bytes().to_vec(),
        ),
        ("negative size", (-5i32).to_be_bytes().to_vec()),
        ("frame too short for a header", raw_frame(&[0, 3])),
        (
            "unknown api key",
            raw_frame(&[0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0, 0]),
        ),
        (
            "client id past the end",
            raw_frame(&[0, 3, 0, 1, 0, 0, 0, 1, 0x7f, 0x7f]),
        ),
        (
            "unsupported produce version",
            raw_frame(&[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]),
        ),
        (
            "metadata body cut short",
            raw_frame(&[0, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]),
        ),
        // Counts that claim billions of elements: must be refused, not preallocated.
        (
            "huge array count (v0)",
            raw_frame(&[0, 3, 0, 0, 0, 0, 0, 1, 0, 0, 0x7f, 0xff, 0xff, 0xff]),
        ),
        (
            "huge compact array count (v9)",
            raw_frame(&[
                0, 3, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f,
            ]),
        ),
    ];
    cases.push((
        "random bytes",
        raw_frame(
            &(0..200u32)
                .map(|i| (i * 7919 % 251) as u8)
                .collect::<Vec<_>>(),
        ),
    ));
    for (what, bytes) in cases {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
        assert_closed(&mut stream).await;
        eprintln!("closed on: {what}");
    }

    // The other client never noticed.
    let delivery = bystander
        .send(
            rdkafka::producer::FutureRecord::to("calm")
                .key("k")
                .payload("after"),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(delivery.offset, 1);
    assert_eq!(broker.state().handler_panics(), 0);
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_versions_negotiation() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let mut stream = TcpStream::connect(broker.local_addr()).await.unwrap();

    // v3 (flexible request header; the response header stays v0 for ApiVersions).
    let mut request = ApiVersionsRequest::default();
    request.client_software_name = StrBytes::from_static_str("wire-test");
    request.client_software_version = StrBytes::from_static_str("1");
    stream
        .write_all(&frame(ApiKey::ApiVersions, 3, 7, &request))
        .await
        .unwrap();
    let (id, mut body) = read_response(&mut stream, 0).await;
    assert_eq!(id, 7);
    let response = ApiVersionsResponse::decode(&mut body, 3).unwrap();
    assert_eq!(response.error_code, 0);
    let fetch = response
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::Fetch as i16)
        .unwrap();
    assert_eq!((fetch.min_version, fetch.max_version), (4, 16));

    // A version from the future: UNSUPPORTED_VERSION in a v0 body, with the range to use.
    stream
        .write_all(&frame(ApiKey::ApiVersions, 4, 8, &request))
        .await
        .unwrap();
    let (id, mut body) = read_response(&mut stream, 0).await;
    assert_eq!(id, 8);
    let response = ApiVersionsResponse::decode(&mut body, 0).unwrap();
    assert_eq!(response.error_code, 35);
    assert_eq!(response.api_keys.len(), 1);
    assert_eq!(response.api_keys[0].api_key, ApiKey::ApiVersions as i16);
    assert_eq!(
        (
            response.api_keys[0].min_version,
            response.api_keys[0].max_version
        ),
        (0, 3)
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_responses_keep_request_order_and_acks_zero_is_silent() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let mut stream = TcpStream::connect(broker.local_addr()).await.unwrap();

    let mut batch = runnel_log::BatchBuilder::new(runnel_log::Compression::None);
    batch.push(1, Some(b"k"), Some(b"v"), &[]);
    let records = Bytes::from(batch.build().unwrap());
    let mut produce = ProduceRequest::default();
    produce.acks = 0;
    produce.timeout_ms = 1000;
    let mut topic = kafka_protocol::messages::produce_request::TopicProduceData::default();
    topic.name = kafka_protocol::messages::TopicName(StrBytes::from_static_str("quiet"));
    let mut data = kafka_protocol::messages::produce_request::PartitionProduceData::default();
    data.records = Some(records);
    topic.partition_data.push(data);
    produce.topic_data.push(topic);

    let mut metadata = MetadataRequest::default();
    metadata.topics = Some(vec![
        kafka_protocol::messages::metadata_request::MetadataRequestTopic::default().with_name(
            Some(kafka_protocol::messages::TopicName(
                StrBytes::from_static_str("quiet"),
            )),
        ),
    ]);
    metadata.allow_auto_topic_creation = true;

    // Metadata creates the topic; then an acks=0 produce and several metadata requests are
    // all written before anything is read.
    stream
        .write_all(&frame(ApiKey::Metadata, 9, 1, &metadata))
        .await
        .unwrap();
    let (id, _) = read_response(&mut stream, 1).await;
    assert_eq!(id, 1);
    let mut out = frame(ApiKey::Produce, 9, 2, &produce);
    for id in 3..8 {
        out.extend(frame(ApiKey::Metadata, 9, id, &metadata));
    }
    stream.write_all(&out).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let (id, mut body) = read_response(&mut stream, 1).await;
        let response = MetadataResponse::decode(&mut body, 9).unwrap();
        assert_eq!(response.topics[0].error_code, 0);
        ids.push(id);
    }
    assert_eq!(
        ids,
        vec![3, 4, 5, 6, 7],
        "in request order, nothing for acks=0"
    );
    // acks=0 gets no answer, but the record is stored all the same.
    let partition = broker
        .state()
        .topics
        .get("quiet")
        .unwrap()
        .partition(0)
        .unwrap();
    eventually("the acks=0 record", WAIT, || {
        partition.log.high_watermark() == 1
    })
    .await;
    let mut rest = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stream.read(&mut rest))
            .await
            .is_err()
    );
    broker.shutdown().await.unwrap();
}

/// A request body for `api` at `version` naming the topic `everything` where it can.
fn request_body(api: ApiKey, version: i16, topic_id: uuid::Uuid) -> Vec<u8> {
    use kafka_protocol::messages::*;
    let name = TopicName(StrBytes::from_static_str("everything"));
    let mut buf = BytesMut::new();
    let result = match api {
        ApiKey::Produce => {
            let mut batch = runnel_log::BatchBuilder::new(runnel_log::Compression::None);
            batch.push(1, Some(b"k"), Some(b"v"), &[]);
            let data = produce_request::PartitionProduceData::default()
                .with_records(Some(Bytes::from(batch.build().unwrap())));
            ProduceRequest::default()
                .with_acks(1)
                .with_topic_data(vec![produce_request::TopicProduceData::default()
                    .with_name(name)
                    .with_partition_data(vec![data])])
                .encode(&mut buf, version)
        }
        ApiKey::Fetch => FetchRequest::default()
            .with_min_bytes(0)
            .with_topics(vec![fetch_request::FetchTopic::default()
                .with_topic(name)
                .with_topic_id(topic_id)
                .with_partitions(vec![
                    fetch_request::FetchPartition::default().with_partition_max_bytes(1 << 20)
                ])])
            .encode(&mut buf, version),
        ApiKey::ListOffsets => ListOffsetsRequest::default()
            .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
                .with_name(name)
                .with_partitions(vec![
                    list_offsets_request::ListOffsetsPartition::default().with_timestamp(-1),
                    list_offsets_request::ListOffsetsPartition::default().with_timestamp(0),
                ])])
            .encode(&mut buf, version),
        ApiKey::Metadata => MetadataRequest::default()
            .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
            )
            .with_name(Some(name))]))
            .encode(&mut buf, version),
        ApiKey::OffsetFetch if version < 8 => OffsetFetchRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str("g")))
            .with_topics(Some(vec![
                offset_fetch_request::OffsetFetchRequestTopic::default()
                    .with_name(name)
                    .with_partition_indexes(vec![0]),
            ]))
            .encode(&mut buf, version),
        ApiKey::OffsetFetch => OffsetFetchRequest::default()
            .with_groups(vec![
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(GroupId(StrBytes::from_static_str("g")))
                    .with_topics(None),
            ])
            .encode(&mut buf, version),
        ApiKey::DescribeConfigs => DescribeConfigsRequest::default()
            .with_resources(vec![
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str("everything"))
                    .with_configuration_keys(None),
            ])
            .encode(&mut buf, version),
        ApiKey::OffsetForLeaderEpoch => OffsetForLeaderEpochRequest::default()
            .with_topics(vec![
                offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                    .with_topic(name)
                    .with_partitions(vec![
                        offset_for_leader_epoch_request::OffsetForLeaderPartition::default(),
                    ]),
            ])
            .encode(&mut buf, version),
        ApiKey::DescribeLogDirs => DescribeLogDirsRequest::default()
            .with_topics(None)
            .encode(&mut buf, version),
        ApiKey::OffsetCommit => OffsetCommitRequest::default().encode(&mut buf, version),
        ApiKey::FindCoordinator => FindCoordinatorRequest::default()
            .with_key(if version < 4 {
                StrBytes::from_static_str("g")
            } else {
                StrBytes::new()
            })
            .with_coordinator_keys(if version >= 4 {
                vec![StrBytes::from_static_str("g")]
            } else {
                vec![]
            })
            .encode(&mut buf, version),
        ApiKey::JoinGroup => JoinGroupRequest::default().encode(&mut buf, version),
        ApiKey::Heartbeat => HeartbeatRequest::default().encode(&mut buf, version),
        ApiKey::LeaveGroup => LeaveGroupRequest::default().encode(&mut buf, version),
        ApiKey::SyncGroup => SyncGroupRequest::default().encode(&mut buf, version),
        ApiKey::DescribeGroups => DescribeGroupsRequest::default()
            .with_groups(vec![GroupId(StrBytes::from_static_str("g"))])
            .encode(&mut buf, version),
        ApiKey::ListGroups => ListGroupsRequest::default().encode(&mut buf, version),
        ApiKey::CreateTopics => CreateTopicsRequest::default().encode(&mut buf, version),
        ApiKey::DeleteTopics => DeleteTopicsRequest::default().encode(&mut buf, version),
        ApiKey::DeleteRecords => DeleteRecordsRequest::default().encode(&mut buf, version),
        ApiKey::AlterConfigs => AlterConfigsRequest::default().encode(&mut buf, version),
        ApiKey::CreatePartitions => CreatePartitionsRequest::default().encode(&mut buf, version),
        ApiKey::DeleteGroups => DeleteGroupsRequest::default().encode(&mut buf, version),
        ApiKey::IncrementalAlterConfigs => {
            IncrementalAlterConfigsRequest::default().encode(&mut buf, version)
        }
        ApiKey::OffsetDelete => OffsetDeleteRequest::default().encode(&mut buf, version),
        ApiKey::DescribeCluster => DescribeClusterRequest::default().encode(&mut buf, version),
        ApiKey::InitProducerId => InitProducerIdRequest::default()
            .with_transaction_timeout_ms(60_000)
            .encode(&mut buf, version),
        ApiKey::AddPartitionsToTxn => AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(StrBytes::from_static_str("t")))
            .encode(&mut buf, version),
        ApiKey::AddOffsetsToTxn => AddOffsetsToTxnRequest::default().encode(&mut buf, version),
        ApiKey::EndTxn => EndTxnRequest::default().encode(&mut buf, version),
        ApiKey::TxnOffsetCommit => TxnOffsetCommitRequest::default().encode(&mut buf, version),
        ApiKey::DescribeTransactions => DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![TransactionalId(StrBytes::from_static_str("t"))])
            .encode(&mut buf, version),
        ApiKey::ListTransactions => ListTransactionsRequest::default().encode(&mut buf, version),
        ApiKey::DescribeProducers => DescribeProducersRequest::default()
            .with_topics(vec![describe_producers_request::TopicRequest::default()
                .with_name(name)
                .with_partition_indexes(vec![0])])
            .encode(&mut buf, version),
        ApiKey::ShareGroupHeartbeat => ShareGroupHeartbeatRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str("share")))
            .with_member_id(StrBytes::from_static_str("member"))
            .with_subscribed_topic_names(Some(vec![name]))
            .encode(&mut buf, version),
        ApiKey::ShareGroupDescribe => ShareGroupDescribeRequest::default()
            .with_group_ids(vec![GroupId(StrBytes::from_static_str("share"))])
            .encode(&mut buf, version),
        ApiKey::ShareFetch => ShareFetchRequest::default()
            .with_group_id(Some(GroupId(StrBytes::from_static_str("share"))))
            .with_member_id(Some(StrBytes::from_static_str("member")))
            .encode(&mut buf, version),
        ApiKey::ShareAcknowledge => {
            let request = ShareAcknowledgeRequest::default()
                .with_group_id(Some(GroupId(StrBytes::from_static_str("share"))))
                .with_member_id(Some(StrBytes::from_static_str("member")))
                .with_share_session_epoch(1);
            // v2 is v1 with IsRenewAck after the epoch; kafka-protocol encodes v1 only.
            let encoded = request.encode(&mut buf, version.min(1));
            if version >= 2 {
                let at = buf.len() - 2;
                let tail = buf.split_off(at);
                buf.extend_from_slice(&[0]);
                buf.unsplit(tail);
            }
            encoded
        }
        ApiKey::DescribeShareGroupOffsets => DescribeShareGroupOffsetsRequest::default()
            .with_groups(vec![
                describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup::default()
                    .with_group_id(GroupId(StrBytes::from_static_str("share")))
                    .with_topics(None),
            ])
            .encode(&mut buf, version),
        ApiKey::AlterShareGroupOffsets => AlterShareGroupOffsetsRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str("share")))
            .encode(&mut buf, version),
        ApiKey::DeleteShareGroupOffsets => DeleteShareGroupOffsetsRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str("share")))
            .encode(&mut buf, version),
        ApiKey::ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str("next")))
            .with_member_id(StrBytes::from_static_str("m"))
            .with_rebalance_timeout_ms(30_000)
            .with_subscribed_topic_names(Some(vec![name]))
            .with_topic_partitions(Some(vec![]))
            .encode(&mut buf, version),
        ApiKey::ConsumerGroupDescribe => ConsumerGroupDescribeRequest::default()
            .with_group_ids(vec![GroupId(StrBytes::from_static_str("next"))])
            .encode(&mut buf, version),
        ApiKey::DescribeClientQuotas => DescribeClientQuotasRequest::default()
            .with_components(vec![
                describe_client_quotas_request::ComponentData::default()
                    .with_entity_type(StrBytes::from_static_str("client-id"))
                    .with_match_type(2),
            ])
            .encode(&mut buf, version),
        ApiKey::AlterClientQuotas => AlterClientQuotasRequest::default()
            .with_entries(vec![alter_client_quotas_request::EntryData::default()
                .with_entity(vec![alter_client_quotas_request::EntityData::default()
                    .with_entity_type(StrBytes::from_static_str("client-id"))
                    .with_entity_name(Some(StrBytes::from_static_str("app")))])
                .with_ops(vec![alter_client_quotas_request::OpData::default()
                    .with_key(StrBytes::from_static_str("producer_byte_rate"))
                    .with_value(1e9)])])
            .with_validate_only(true)
            .encode(&mut buf, version),
        ApiKey::SaslHandshake => SaslHandshakeRequest::default()
            .with_mechanism(StrBytes::from_static_str("SCRAM-SHA-512"))
            .encode(&mut buf, version),
        ApiKey::SaslAuthenticate => SaslAuthenticateRequest::default()
            .with_auth_bytes(Bytes::from_static(b"n,,n=alice,r=nonce"))
            .encode(&mut buf, version),
        ApiKey::DescribeUserScramCredentials => DescribeUserScramCredentialsRequest::default()
            .with_users(None)
            .encode(&mut buf, version),
        ApiKey::AlterUserScramCredentials => AlterUserScramCredentialsRequest::default()
            .with_deletions(vec![
                alter_user_scram_credentials_request::ScramCredentialDeletion::default()
                    .with_name(StrBytes::from_static_str("nobody"))
                    .with_mechanism(1),
            ])
            .encode(&mut buf, version),
        ApiKey::CreateAcls => CreateAclsRequest::default()
            .with_creations(vec![create_acls_request::AclCreation::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("everything"))
                .with_resource_pattern_type(3)
                .with_principal(StrBytes::from_static_str("User:alice"))
                .with_host(StrBytes::from_static_str("*"))
                .with_operation(3)
                .with_permission_type(3)])
            .encode(&mut buf, version),
        ApiKey::DescribeAcls => DescribeAclsRequest::default()
            .with_resource_type_filter(1)
            .with_resource_name_filter(None)
            .with_pattern_type_filter(1)
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_operation(1)
            .with_permission_type(1)
            .encode(&mut buf, version),
        ApiKey::DeleteAcls => DeleteAclsRequest::default()
            .with_filters(vec![delete_acls_request::DeleteAclsFilter::default()
                .with_resource_type_filter(2)
                .with_resource_name_filter(Some(StrBytes::from_static_str("everything")))
                .with_pattern_type_filter(3)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_operation(1)
                .with_permission_type(1)])
            .encode(&mut buf, version),
        other => panic!("no test request for {other:?}"),
    };
    result.unwrap_or_else(|e| panic!("{api:?} v{version}: {e}"));
    buf.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_advertised_version_gets_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let producer = producer(&broker, &[]);
    producer
        .send(
            rdkafka::producer::FutureRecord::to("everything")
                .key("k")
                .payload("v"),
            WAIT,
        )
        .await
        .unwrap();
    let topic_id = broker.state().topics.get("everything").unwrap().id;
    let mut stream = TcpStream::connect(broker.local_addr()).await.unwrap();
    let mut correlation_id = 0;
    for &(api, min, max) in runnel_broker::SUPPORTED {
        if api == ApiKey::ApiVersions {
            continue;
        }
        for version in min..=max {
            correlation_id += 1;
            let body = request_body(api, version, topic_id);
            let buf = frame_bytes(api, version, correlation_id, &body);
            stream.write_all(&buf).await.unwrap();
            let (id, _) = read_response(&mut stream, api.response_header_version(version)).await;
            assert_eq!(id, correlation_id, "{api:?} v{version}");
        }
    }
    broker.shutdown().await.unwrap();
}

/// A tiny deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mangled_requests_of_every_api_never_take_the_broker_down() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let producer = producer(&broker, &[]);
    producer
        .send(
            rdkafka::producer::FutureRecord::to("everything")
                .key("k")
                .payload("v"),
            WAIT,
        )
        .await
        .unwrap();
    let topic_id = broker.state().topics.get("everything").unwrap().id;
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut answered = 0;
    for &(api, min, max) in runnel_broker::SUPPORTED {
        if api == ApiKey::ApiVersions {
            continue;
        }
        for version in min..=max {
            let valid = request_body(api, version, topic_id);
            for round in 0..6 {
                // Half: a valid body with a few bytes overwritten; half: random bytes.
                let body: Vec<u8> = if round % 2 == 0 && !valid.is_empty() {
                    let mut body = valid.clone();
                    for _ in 0..3 {
                        let i = (rng.next() as usize) % body.len();
                        body[i] = rng.next() as u8;
                    }
                    body
                } else {
                    (0..rng.next() % 48).map(|_| rng.next() as u8).collect()
                };
                let buf = frame_bytes(api, version, round, &body);
                let mut stream = TcpStream::connect(broker.local_addr()).await.unwrap();
                stream.write_all(&buf).await.unwrap();
                // Either an answer or a closed connection, promptly; mangled group
                // requests may also wait for a rebalance, which a short timeout cuts off.
                let mut prefix = [0u8; 4];
                match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut prefix)).await {
                    Ok(Ok(n)) if n > 0 => answered += 1,
                    _ => {}
                }
            }
        }
    }
    assert!(answered > 0);
    assert_eq!(broker.state().handler_panics(), 0, "no handler panicked");
    // Still serving.
    let delivery = producer
        .send(
            rdkafka::producer::FutureRecord::to("everything")
                .key("k")
                .payload("after"),
            WAIT,
        )
        .await
        .unwrap();
    assert!(delivery.offset >= 1);
    broker.shutdown().await.unwrap();
}

async fn fetch(
    stream: &mut TcpStream,
    request: &kafka_protocol::messages::FetchRequest,
    id: i32,
) -> kafka_protocol::messages::FetchResponse {
    const VERSION: i16 = 12;
    stream
        .write_all(&frame(ApiKey::Fetch, VERSION, id, request))
        .await
        .unwrap();
    let (got, mut body) =
        read_response(stream, ApiKey::Fetch.response_header_version(VERSION)).await;
    assert_eq!(got, id);
    kafka_protocol::messages::FetchResponse::decode(&mut body, VERSION).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_fetch_sessions() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
    use kafka_protocol::messages::{FetchRequest, TopicName};
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| c.num_partitions = 2).await;
    let producer = producer(&broker, &[]);
    for p in 0..2 {
        producer
            .send(
                rdkafka::producer::FutureRecord::to("sess")
                    .partition(p)
                    .key("k")
                    .payload("one"),
                WAIT,
            )
            .await
            .unwrap();
    }
    let name = TopicName(StrBytes::from_static_str("sess"));
    let partition = |p: i32, offset: i64| {
        FetchPartition::default()
            .with_partition(p)
            .with_fetch_offset(offset)
            .with_partition_max_bytes(1 << 20)
    };
    let mut stream = TcpStream::connect(broker.local_addr()).await.unwrap();

    // Epoch 0: a full fetch that opens a session.
    let open = FetchRequest::default()
        .with_session_id(0)
        .with_session_epoch(0)
        .with_max_wait_ms(0)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name.clone())
            .with_partitions(vec![partition(0, 0), partition(1, 0)])]);
    let response = fetch(&mut stream, &open, 1).await;
    let session = response.session_id;
    assert!(session > 0);
    assert_eq!(response.responses[0].partitions.len(), 2);

    // Epoch 1: the client moved both positions to 1; nothing new, so nothing listed.
    let moved = FetchRequest::default()
        .with_session_id(session)
        .with_session_epoch(1)
        .with_max_wait_ms(0)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name.clone())
            .with_partitions(vec![partition(0, 1), partition(1, 1)])]);
    let response = fetch(&mut stream, &moved, 2).await;
    assert_eq!(response.error_code, 0);
    assert!(response.responses.is_empty(), "{:?}", response.responses);

    // Epoch 2 names no partitions and waits: an append to partition 1 ends the wait, and
    // only partition 1 is listed.
    let idle = FetchRequest::default()
        .with_session_id(session)
        .with_session_epoch(2)
        .with_max_wait_ms(10_000)
        .with_min_bytes(1);
    let waiting = tokio::spawn(async move {
        let response = fetch(&mut stream, &idle, 3).await;
        (stream, response)
    });
    let state = broker.state().clone();
    eventually("the session fetch to park", WAIT, || {
        state.parked_fetches() > 0
    })
    .await;
    producer
        .send(
            rdkafka::producer::FutureRecord::to("sess")
                .partition(1)
                .key("k")
                .payload("two"),
            WAIT,
        )
        .await
        .unwrap();
    let (mut stream, response) = waiting.await.unwrap();
    let listed: Vec<i32> = response.responses[0]
        .partitions
        .iter()
        .map(|p| p.partition_index)
        .collect();
    assert_eq!(listed, vec![1]);
    assert_eq!(response.responses[0].partitions[0].high_watermark, 2);

    // Forgetting partition 1 and reusing an old epoch.
    let forget = FetchRequest::default()
        .with_session_id(session)
        .with_session_epoch(3)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name.clone())
            .with_partitions(vec![partition(1, 2)])])
        .with_forgotten_topics_data(vec![ForgottenTopic::default()
            .with_topic(name.clone())
            .with_partitions(vec![1])]);
    assert_eq!(fetch(&mut stream, &forget, 4).await.error_code, 0);
    let stale = FetchRequest::default()
        .with_session_id(session)
        .with_session_epoch(3);
    assert_eq!(fetch(&mut stream, &stale, 5).await.error_code, 71); // INVALID_FETCH_SESSION_EPOCH
    let unknown = FetchRequest::default()
        .with_session_id(session + 1000)
        .with_session_epoch(1);
    assert_eq!(fetch(&mut stream, &unknown, 6).await.error_code, 70); // FETCH_SESSION_ID_NOT_FOUND

    // Epoch -1 closes the session.
    let close = FetchRequest::default()
        .with_session_id(session)
        .with_session_epoch(-1);
    let response = fetch(&mut stream, &close, 7).await;
    assert_eq!((response.error_code, response.session_id), (0, 0));
    assert!(broker.state().fetch_sessions.is_empty());
    broker.shutdown().await.unwrap();
}

/// Asked for, the authorized operations are the full sets Kafka answers without an
/// authorizer; not asked for, Kafka's "not requested" value.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn authorized_operations_are_answered_when_asked_for() {
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::{
        DescribeClusterRequest, DescribeClusterResponse, DescribeGroupsRequest,
        DescribeGroupsResponse, GroupId, TopicName,
    };
    const TOPIC_OPERATIONS: i32 = 0b1101_1111_1000; // read..describe, describe/alter configs
    const GROUP_OPERATIONS: i32 = 0b1101_0100_1000; // read, delete, describe, configs
    const CLUSTER_OPERATIONS: i32 = 0b1_1111_1010_0000; // create, alter..idempotent write
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    common::create_topic_at(&common::bootstrap(&broker), "ops", 1).await;
    let mut raw = common::Raw::connect(&broker).await;

    for asked in [true, false] {
        let wanted = |ops: i32| if asked { ops } else { i32::MIN };
        let request = MetadataRequest::default()
            .with_topics(Some(vec![MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("ops"))))]))
            .with_include_cluster_authorized_operations(asked)
            .with_include_topic_authorized_operations(asked);
        let metadata: MetadataResponse = raw.call(ApiKey::Metadata, 10, &request).await;
        assert_eq!(
            metadata.topics[0].topic_authorized_operations,
            wanted(TOPIC_OPERATIONS)
        );
        assert_eq!(
            metadata.cluster_authorized_operations,
            wanted(CLUSTER_OPERATIONS)
        );

        let request =
            DescribeClusterRequest::default().with_include_cluster_authorized_operations(asked);
        let cluster: DescribeClusterResponse = raw.call(ApiKey::DescribeCluster, 1, &request).await;
        assert_eq!(
            cluster.cluster_authorized_operations,
            wanted(CLUSTER_OPERATIONS)
        );

        let request = DescribeGroupsRequest::default()
            .with_groups(vec![GroupId(StrBytes::from_static_str("some-group"))])
            .with_include_authorized_operations(asked);
        let groups: DescribeGroupsResponse = raw.call(ApiKey::DescribeGroups, 5, &request).await;
        assert_eq!(
            groups.groups[0].authorized_operations,
            wanted(GROUP_OPERATIONS)
        );
    }
    broker.shutdown().await.unwrap();
}

/// Produce v8+ names the records refused one by one (Kafka's record errors): keyless
/// records in a compacted topic (INVALID_RECORD), timestamps outside the topic's window
/// (INVALID_TIMESTAMP); earlier versions get the error code alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_records_are_named_in_the_produce_response() {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceResponse, TopicName};
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let admin: AdminClient<DefaultClientContext> = common::client_config(&broker).create().unwrap();
    let topics = [
        NewTopic::new("compacted", 1, TopicReplication::Fixed(1)).set("cleanup.policy", "compact"),
        NewTopic::new("recent", 1, TopicReplication::Fixed(1))
            .set("message.timestamp.before.max.ms", "3600000"),
    ];
    for created in admin
        .create_topics(&topics, &AdminOptions::new())
        .await
        .unwrap()
    {
        created.unwrap();
    }
    let produce = |topic: &'static str, records: &[(Option<&[u8]>, i64)]| {
        let mut batch = runnel_log::BatchBuilder::new(runnel_log::Compression::Lz4);
        for (key, timestamp) in records {
            batch.push(*timestamp, *key, Some(b"v"), &[]);
        }
        ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(topic)))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(Bytes::from(batch.build().unwrap())))])])
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut raw = common::Raw::connect(&broker).await;

    let keyless = produce("compacted", &[(Some(b"k"), now), (None, now), (None, now)]);
    let response: ProduceResponse = raw.call(ApiKey::Produce, 9, &keyless).await;
    let partition = &response.responses[0].partition_responses[0];
    assert_eq!(partition.error_code, 87); // INVALID_RECORD
    let indexes: Vec<i32> = partition
        .record_errors
        .iter()
        .map(|e| e.batch_index)
        .collect();
    assert_eq!(indexes, [1, 2]);
    let message = partition.error_message.as_ref().unwrap().to_string();
    assert!(message.contains("without a key"), "{message}");
    let response: ProduceResponse = raw.call(ApiKey::Produce, 7, &keyless).await;
    let partition = &response.responses[0].partition_responses[0];
    assert_eq!(partition.error_code, 87);
    assert!(partition.record_errors.is_empty());

    let stale = produce("recent", &[(Some(b"k"), now), (Some(b"k"), 1_000)]);
    let response: ProduceResponse = raw.call(ApiKey::Produce, 9, &stale).await;
    let partition = &response.responses[0].partition_responses[0];
    assert_eq!(partition.error_code, 32); // INVALID_TIMESTAMP
    assert_eq!(partition.record_errors.len(), 1);
    assert_eq!(partition.record_errors[0].batch_index, 1);
    let fresh = produce("recent", &[(Some(b"k"), now)]);
    let response: ProduceResponse = raw.call(ApiKey::Produce, 9, &fresh).await;
    assert_eq!(response.responses[0].partition_responses[0].error_code, 0);
    // Nothing of a refused batch was written.
    let log = &broker
        .state()
        .topics
        .get("recent")
        .unwrap()
        .partition(0)
        .unwrap()
        .log;
    assert_eq!(log.high_watermark(), 1);
    broker.shutdown().await.unwrap();
}
