#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::*;
use crate::handlers::SUPPORTED;

fn s(text: &'static str) -> StrBytes {
    StrBytes::from_static_str(text)
}

fn topic(name: &'static str) -> TopicName {
    TopicName(s(name))
}

/// The transaction APIs over every version kafka-protocol decodes, tested whether or not
/// `SUPPORTED` lists them yet: a walker must be right before requests are dispatched to it.
const TRANSACTION_APIS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::AddPartitionsToTxn, 0, 5),
    (ApiKey::AddOffsetsToTxn, 0, 4),
    (ApiKey::EndTxn, 0, 5),
    (ApiKey::TxnOffsetCommit, 0, 5),
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 2),
];

/// `SUPPORTED` and `TRANSACTION_APIS` together; an API in both gets the union of its ranges.
fn walked_apis() -> Vec<(ApiKey, i16, i16)> {
    let mut out = SUPPORTED.to_vec();
    for &(api, min, max) in TRANSACTION_APIS {
        match out.iter_mut().find(|(known, _, _)| *known == api) {
            Some(entry) => {
                entry.1 = entry.1.min(min);
                entry.2 = entry.2.max(max);
            }
            None => out.push((api, min, max)),
        }
    }
    out
}

/// Encodes a request at a version (None when the version cannot hold it).
type Sample = Box<dyn Fn(i16) -> Option<Vec<u8>>>;

/// Requests with nested arrays filled in, so the walkers see every level.
fn samples(api: ApiKey) -> Vec<Sample> {
    fn enc<T: Encodable + 'static>(make: impl Fn() -> T + 'static) -> Sample {
        Box::new(move |version| {
            let mut buf = BytesMut::new();
            make().encode(&mut buf, version).ok()?;
            Some(buf.to_vec())
        })
    }
    let mut out: Vec<Sample> = Vec::new();
    match api {
        ApiKey::Produce => out.push(enc(|| {
            let partition = produce_request::PartitionProduceData::default()
                .with_index(3)
                .with_records(Some(Bytes::from_static(b"0123456789")));
            let t = produce_request::TopicProduceData::default()
                .with_name(topic("orders"))
                .with_partition_data(vec![partition.clone(), partition]);
            ProduceRequest::default()
                .with_acks(-1)
                .with_transactional_id(Some(TransactionalId(s("tx"))))
                .with_topic_data(vec![t.clone(), t])
        })),
        ApiKey::Fetch => out.push(enc(|| {
            let p = fetch_request::FetchPartition::default()
                .with_partition(1)
                .with_fetch_offset(9);
            let t = fetch_request::FetchTopic::default()
                .with_topic(topic("orders"))
                .with_partitions(vec![p.clone(), p]);
            let forgotten = fetch_request::ForgottenTopic::default()
                .with_topic(topic("old"))
                .with_partitions(vec![1, 2, 3]);
            FetchRequest::default()
                .with_max_wait_ms(500)
                .with_topics(vec![t.clone(), t])
                .with_forgotten_topics_data(vec![forgotten])
                .with_rack_id(s("rack"))
        })),
        ApiKey::Metadata => {
            out.push(enc(|| {
                MetadataRequest::default().with_topics(Some(vec![
                    metadata_request::MetadataRequestTopic::default().with_name(Some(topic("a"))),
                    metadata_request::MetadataRequestTopic::default().with_name(Some(topic("bb"))),
                ]))
            }));
            out.push(enc(|| MetadataRequest::default().with_topics(None)));
        }
        ApiKey::JoinGroup => out.push(enc(|| {
            JoinGroupRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_member_id(s("m"))
                .with_protocol_type(s("consumer"))
                .with_protocols(vec![
                    join_group_request::JoinGroupRequestProtocol::default()
                        .with_name(s("range"))
                        .with_metadata(Bytes::from_static(b"meta")),
                    join_group_request::JoinGroupRequestProtocol::default()
                        .with_name(s("roundrobin")),
                ])
        })),
        ApiKey::SyncGroup => out.push(enc(|| {
            SyncGroupRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_assignments(vec![
                    sync_group_request::SyncGroupRequestAssignment::default()
                        .with_member_id(s("m"))
                        .with_assignment(Bytes::from_static(b"assign")),
                ])
        })),
        ApiKey::OffsetCommit => out.push(enc(|| {
            let p = offset_commit_request::OffsetCommitRequestPartition::default()
                .with_partition_index(2)
                .with_committed_offset(10)
                .with_committed_metadata(Some(s("meta")));
            OffsetCommitRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_topics(vec![
                    offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(topic("orders"))
                        .with_partitions(vec![p.clone(), p]),
                ])
        })),
        ApiKey::OffsetFetch => {
            out.push(enc(|| {
                OffsetFetchRequest::default()
                    .with_group_id(GroupId(s("g")))
                    .with_topics(Some(vec![
                        offset_fetch_request::OffsetFetchRequestTopic::default()
                            .with_name(topic("orders"))
                            .with_partition_indexes(vec![0, 1, 2]),
                    ]))
            }));
            out.push(enc(|| {
                OffsetFetchRequest::default().with_groups(vec![
                    offset_fetch_request::OffsetFetchRequestGroup::default()
                        .with_group_id(GroupId(s("g")))
                        .with_topics(Some(vec![
                            offset_fetch_request::OffsetFetchRequestTopics::default()
                                .with_name(topic("orders"))
                                .with_partition_indexes(vec![0, 1]),
                        ])),
                ])
            }));
        }
        ApiKey::CreateTopics => out.push(enc(|| {
            CreateTopicsRequest::default().with_topics(vec![
                create_topics_request::CreatableTopic::default()
                    .with_name(topic("t"))
                    .with_num_partitions(3)
                    .with_assignments(vec![
                        create_topics_request::CreatableReplicaAssignment::default()
                            .with_partition_index(0)
                            .with_broker_ids(vec![BrokerId(0), BrokerId(1)]),
                    ])
                    .with_configs(vec![create_topics_request::CreatableTopicConfig::default()
                        .with_name(s("retention.ms"))
                        .with_value(Some(s("1")))]),
            ])
        })),
        ApiKey::IncrementalAlterConfigs => out.push(enc(|| {
            IncrementalAlterConfigsRequest::default().with_resources(vec![
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(s("t"))
                    .with_configs(vec![
                        incremental_alter_configs_request::AlterableConfig::default()
                            .with_name(s("retention.ms"))
                            .with_value(Some(s("5"))),
                    ]),
            ])
        })),
        ApiKey::DescribeConfigs => out.push(enc(|| {
            DescribeConfigsRequest::default().with_resources(vec![
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(s("t"))
                    .with_configuration_keys(Some(vec![s("retention.ms"), s("segment.bytes")])),
            ])
        })),
        ApiKey::ListOffsets => out.push(enc(|| {
            ListOffsetsRequest::default().with_topics(vec![
                list_offsets_request::ListOffsetsTopic::default()
                    .with_name(topic("t"))
                    .with_partitions(vec![
                        list_offsets_request::ListOffsetsPartition::default().with_timestamp(-1)
                    ]),
            ])
        })),
        ApiKey::InitProducerId => {
            out.push(enc(|| {
                InitProducerIdRequest::default()
                    .with_transactional_id(Some(TransactionalId(s("tx"))))
                    .with_transaction_timeout_ms(60_000)
            }));
            out.push(enc(|| {
                InitProducerIdRequest::default()
                    .with_transactional_id(None)
                    .with_producer_id(ProducerId(7))
                    .with_producer_epoch(2)
                    .with_unknown_tagged_field(5, Bytes::from_static(b"tag"))
            }));
        }
        ApiKey::AddPartitionsToTxn => {
            out.push(enc(|| {
                let t = add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                    .with_name(topic("orders"))
                    .with_partitions(vec![0, 1, 2]);
                AddPartitionsToTxnRequest::default()
                    .with_v3_and_below_transactional_id(TransactionalId(s("tx")))
                    .with_v3_and_below_producer_id(ProducerId(7))
                    .with_v3_and_below_producer_epoch(2)
                    .with_v3_and_below_topics(vec![t.clone(), t])
            }));
            out.push(enc(|| {
                let t = add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                    .with_name(topic("orders"))
                    .with_partitions(vec![0, 1])
                    .with_unknown_tagged_field(1, Bytes::from_static(b"t"));
                let txn = add_partitions_to_txn_request::AddPartitionsToTxnTransaction::default()
                    .with_transactional_id(TransactionalId(s("tx")))
                    .with_producer_id(ProducerId(7))
                    .with_producer_epoch(2)
                    .with_verify_only(true)
                    .with_topics(vec![t.clone(), t])
                    .with_unknown_tagged_field(3, Bytes::from_static(b"txn"));
                AddPartitionsToTxnRequest::default().with_transactions(vec![txn.clone(), txn])
            }));
        }
        ApiKey::AddOffsetsToTxn => out.push(enc(|| {
            AddOffsetsToTxnRequest::default()
                .with_transactional_id(TransactionalId(s("tx")))
                .with_producer_id(ProducerId(7))
                .with_producer_epoch(2)
                .with_group_id(GroupId(s("g")))
        })),
        ApiKey::EndTxn => out.push(enc(|| {
            EndTxnRequest::default()
                .with_transactional_id(TransactionalId(s("tx")))
                .with_producer_id(ProducerId(7))
                .with_producer_epoch(2)
                .with_committed(true)
        })),
        ApiKey::TxnOffsetCommit => {
            out.push(enc(|| {
                let p = txn_offset_commit_request::TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(2)
                    .with_committed_offset(10)
                    .with_committed_metadata(Some(s("meta")));
                TxnOffsetCommitRequest::default()
                    .with_transactional_id(TransactionalId(s("tx")))
                    .with_group_id(GroupId(s("g")))
                    .with_producer_id(ProducerId(7))
                    .with_producer_epoch(2)
                    .with_topics(vec![
                        txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                            .with_name(topic("orders"))
                            .with_partitions(vec![p.clone(), p.with_committed_metadata(None)]),
                    ])
            }));
            out.push(enc(|| {
                let p = txn_offset_commit_request::TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(2)
                    .with_committed_offset(10)
                    .with_committed_leader_epoch(4)
                    .with_unknown_tagged_field(0, Bytes::from_static(b"p"));
                let t = txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                    .with_name(topic("orders"))
                    .with_partitions(vec![p.clone(), p]);
                TxnOffsetCommitRequest::default()
                    .with_transactional_id(TransactionalId(s("tx")))
                    .with_group_id(GroupId(s("g")))
                    .with_generation_id(3)
                    .with_member_id(s("m"))
                    .with_group_instance_id(Some(s("i")))
                    .with_topics(vec![t.clone(), t])
            }));
        }
        ApiKey::DescribeProducers => out.push(enc(|| {
            let t = describe_producers_request::TopicRequest::default()
                .with_name(topic("orders"))
                .with_partition_indexes(vec![0, 1, 2])
                .with_unknown_tagged_field(2, Bytes::from_static(b"t"));
            DescribeProducersRequest::default().with_topics(vec![t.clone(), t])
        })),
        ApiKey::DescribeTransactions => out.push(enc(|| {
            DescribeTransactionsRequest::default()
                .with_transactional_ids(vec![TransactionalId(s("a")), TransactionalId(s("bb"))])
                .with_unknown_tagged_field(0, Bytes::from_static(b"tag"))
        })),
        ApiKey::ListTransactions => {
            out.push(enc(|| {
                ListTransactionsRequest::default()
                    .with_state_filters(vec![s("Ongoing"), s("PrepareCommit")])
                    .with_producer_id_filters(vec![ProducerId(7), ProducerId(8)])
            }));
            out.push(enc(|| {
                ListTransactionsRequest::default()
                    .with_state_filters(vec![s("Ongoing")])
                    .with_producer_id_filters(vec![ProducerId(7)])
                    .with_duration_filter(1_000)
            }));
            out.push(enc(|| {
                ListTransactionsRequest::default()
                    .with_duration_filter(1_000)
                    .with_transactional_id_pattern(Some(s("tx-.*")))
            }));
        }
        ApiKey::ShareGroupHeartbeat => out.push(enc(|| {
            ShareGroupHeartbeatRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_member_id(s("m"))
                .with_rack_id(Some(s("r")))
                .with_subscribed_topic_names(Some(vec![topic("a"), topic("b")]))
        })),
        ApiKey::ShareGroupDescribe => out.push(enc(|| {
            ShareGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("g"))])
        })),
        ApiKey::ShareFetch => out.push(enc(|| {
            use share_fetch_request::*;
            ShareFetchRequest::default()
                .with_group_id(Some(GroupId(s("g"))))
                .with_member_id(Some(s("m")))
                .with_topics(vec![FetchTopic::default().with_partitions(vec![
                    FetchPartition::default().with_acknowledgement_batches(vec![
                        AcknowledgementBatch::default().with_acknowledge_types(vec![1, 2]),
                    ]),
                ])])
                .with_forgotten_topics_data(vec![
                    ForgottenTopic::default().with_partitions(vec![1, 2])
                ])
        })),
        ApiKey::ShareAcknowledge => out.push(enc(|| {
            use share_acknowledge_request::*;
            ShareAcknowledgeRequest::default()
                .with_group_id(Some(GroupId(s("g"))))
                .with_topics(vec![AcknowledgeTopic::default().with_partitions(vec![
                    AcknowledgePartition::default().with_acknowledgement_batches(vec![
                        AcknowledgementBatch::default().with_acknowledge_types(vec![3]),
                    ]),
                ])])
        })),
        ApiKey::DescribeShareGroupOffsets => out.push(enc(|| {
            use describe_share_group_offsets_request::*;
            DescribeShareGroupOffsetsRequest::default().with_groups(vec![
                DescribeShareGroupOffsetsRequestGroup::default()
                    .with_group_id(GroupId(s("g")))
                    .with_topics(Some(vec![DescribeShareGroupOffsetsRequestTopic::default()
                        .with_topic_name(topic("t"))
                        .with_partitions(vec![0, 1])])),
            ])
        })),
        ApiKey::AlterShareGroupOffsets => out.push(enc(|| {
            use alter_share_group_offsets_request::*;
            AlterShareGroupOffsetsRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_topics(vec![AlterShareGroupOffsetsRequestTopic::default()
                    .with_topic_name(topic("t"))
                    .with_partitions(vec![
                        AlterShareGroupOffsetsRequestPartition::default().with_start_offset(5),
                    ])])
        })),
        ApiKey::DeleteShareGroupOffsets => out.push(enc(|| {
            use delete_share_group_offsets_request::*;
            DeleteShareGroupOffsetsRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_topics(vec![
                    DeleteShareGroupOffsetsRequestTopic::default().with_topic_name(topic("t"))
                ])
        })),
        ApiKey::ConsumerGroupHeartbeat => {
            out.push(enc(|| {
                let owned = consumer_group_heartbeat_request::TopicPartitions::default()
                    .with_topic_id(uuid::Uuid::from_u128(7))
                    .with_partitions(vec![0, 1, 2])
                    .with_unknown_tagged_field(3, Bytes::from_static(b"tp"));
                ConsumerGroupHeartbeatRequest::default()
                    .with_group_id(GroupId(s("g")))
                    .with_member_id(s("m"))
                    .with_member_epoch(4)
                    .with_instance_id(Some(s("i")))
                    .with_rack_id(Some(s("r")))
                    .with_rebalance_timeout_ms(300_000)
                    .with_subscribed_topic_names(Some(vec![topic("orders"), topic("pay")]))
                    .with_server_assignor(Some(s("uniform")))
                    .with_topic_partitions(Some(vec![owned.clone(), owned]))
            }));
            // v1 only: a regular expression subscription.
            out.push(enc(|| {
                ConsumerGroupHeartbeatRequest::default()
                    .with_group_id(GroupId(s("g")))
                    .with_member_id(s("m"))
                    .with_subscribed_topic_regex(Some(s("orders-.*")))
                    .with_topic_partitions(Some(vec![]))
                    .with_unknown_tagged_field(9, Bytes::from_static(b"tag"))
            }));
        }
        ApiKey::AlterClientQuotas => out.push(enc(|| {
            use alter_client_quotas_request::{EntityData, EntryData, OpData};
            let entity = EntityData::default()
                .with_entity_type(s("client-id"))
                .with_entity_name(Some(s("app")));
            let op = OpData::default()
                .with_key(s("producer_byte_rate"))
                .with_value(1024.0)
                .with_remove(false);
            AlterClientQuotasRequest::default()
                .with_entries(vec![EntryData::default()
                    .with_entity(vec![entity.clone(), entity.with_entity_name(None)])
                    .with_ops(vec![op.clone(), op.with_remove(true)])])
                .with_validate_only(true)
        })),
        ApiKey::DescribeClientQuotas => out.push(enc(|| {
            let component = describe_client_quotas_request::ComponentData::default()
                .with_entity_type(s("user"))
                .with_match_type(0)
                .with_match(Some(s("alice")));
            DescribeClientQuotasRequest::default()
                .with_components(vec![component.clone(), component.with_match_type(2)])
                .with_strict(true)
        })),
        ApiKey::SaslHandshake => out.push(enc(|| {
            SaslHandshakeRequest::default().with_mechanism(s("SCRAM-SHA-512"))
        })),
        ApiKey::SaslAuthenticate => out.push(enc(|| {
            SaslAuthenticateRequest::default()
                .with_auth_bytes(Bytes::from_static(b"n,,n=user,r=nonce"))
        })),
        ApiKey::DescribeUserScramCredentials => out.push(enc(|| {
            use describe_user_scram_credentials_request::UserName;
            DescribeUserScramCredentialsRequest::default().with_users(Some(vec![
                UserName::default().with_name(s("alice")),
                UserName::default().with_name(s("bob")),
            ]))
        })),
        ApiKey::AlterUserScramCredentials => out.push(enc(|| {
            use alter_user_scram_credentials_request::{
                ScramCredentialDeletion, ScramCredentialUpsertion,
            };
            AlterUserScramCredentialsRequest::default()
                .with_deletions(vec![ScramCredentialDeletion::default()
                    .with_name(s("bob"))
                    .with_mechanism(1)])
                .with_upsertions(vec![ScramCredentialUpsertion::default()
                    .with_name(s("alice"))
                    .with_mechanism(2)
                    .with_iterations(4096)
                    .with_salt(Bytes::from_static(b"salt"))
                    .with_salted_password(Bytes::from_static(b"salted"))])
        })),
        ApiKey::CreateAcls => out.push(enc(|| {
            let creation = create_acls_request::AclCreation::default()
                .with_resource_type(2)
                .with_resource_name(s("orders"))
                .with_resource_pattern_type(3)
                .with_principal(s("User:alice"))
                .with_host(s("*"))
                .with_operation(3)
                .with_permission_type(3);
            CreateAclsRequest::default().with_creations(vec![
                creation.clone(),
                creation.with_unknown_tagged_field(7, Bytes::from_static(b"tag")),
            ])
        })),
        ApiKey::DescribeAcls => out.push(enc(|| {
            DescribeAclsRequest::default()
                .with_resource_type_filter(2)
                .with_resource_name_filter(Some(s("orders")))
                .with_pattern_type_filter(2)
                .with_principal_filter(Some(s("User:alice")))
                .with_host_filter(None)
                .with_operation(1)
                .with_permission_type(1)
        })),
        ApiKey::DeleteAcls => out.push(enc(|| {
            let filter = delete_acls_request::DeleteAclsFilter::default()
                .with_resource_type_filter(1)
                .with_resource_name_filter(Some(s("orders")))
                .with_pattern_type_filter(1)
                .with_operation(1)
                .with_permission_type(1);
            DeleteAclsRequest::default().with_filters(vec![filter.clone(), filter])
        })),
        ApiKey::ConsumerGroupDescribe => out.push(enc(|| {
            ConsumerGroupDescribeRequest::default()
                .with_group_ids(vec![GroupId(s("a")), GroupId(s("bb"))])
                .with_include_authorized_operations(true)
        })),
        _ => {}
    }
    out
}

/// Every supported request, in every supported version: default and populated encodings.
fn encodings() -> Vec<(ApiKey, i16, Vec<u8>)> {
    fn default_encoding<T: Encodable + Default>(version: i16) -> Option<Vec<u8>> {
        let mut buf = BytesMut::new();
        T::default().encode(&mut buf, version).ok()?;
        Some(buf.to_vec())
    }
    let mut out = Vec::new();
    for (api, min, max) in walked_apis() {
        for version in min..=max {
            let default = match api {
                ApiKey::Produce => default_encoding::<ProduceRequest>(version),
                ApiKey::Fetch => default_encoding::<FetchRequest>(version),
                ApiKey::ListOffsets => default_encoding::<ListOffsetsRequest>(version),
                ApiKey::Metadata => default_encoding::<MetadataRequest>(version),
                ApiKey::OffsetCommit => default_encoding::<OffsetCommitRequest>(version),
                ApiKey::OffsetFetch => default_encoding::<OffsetFetchRequest>(version),
                ApiKey::FindCoordinator => default_encoding::<FindCoordinatorRequest>(version),
                ApiKey::JoinGroup => default_encoding::<JoinGroupRequest>(version),
                ApiKey::Heartbeat => default_encoding::<HeartbeatRequest>(version),
                ApiKey::LeaveGroup => default_encoding::<LeaveGroupRequest>(version),
                ApiKey::SyncGroup => default_encoding::<SyncGroupRequest>(version),
                ApiKey::DescribeGroups => default_encoding::<DescribeGroupsRequest>(version),
                ApiKey::ListGroups => default_encoding::<ListGroupsRequest>(version),
                ApiKey::CreateTopics => default_encoding::<CreateTopicsRequest>(version),
                ApiKey::DeleteTopics => default_encoding::<DeleteTopicsRequest>(version),
                ApiKey::DeleteRecords => default_encoding::<DeleteRecordsRequest>(version),
                ApiKey::InitProducerId => default_encoding::<InitProducerIdRequest>(version),
                ApiKey::OffsetForLeaderEpoch => {
                    default_encoding::<OffsetForLeaderEpochRequest>(version)
                }
                ApiKey::AddPartitionsToTxn => {
                    default_encoding::<AddPartitionsToTxnRequest>(version)
                }
                ApiKey::AddOffsetsToTxn => default_encoding::<AddOffsetsToTxnRequest>(version),
                ApiKey::EndTxn => default_encoding::<EndTxnRequest>(version),
                ApiKey::TxnOffsetCommit => default_encoding::<TxnOffsetCommitRequest>(version),
                ApiKey::DescribeConfigs => default_encoding::<DescribeConfigsRequest>(version),
                ApiKey::AlterConfigs => default_encoding::<AlterConfigsRequest>(version),
                ApiKey::DescribeLogDirs => default_encoding::<DescribeLogDirsRequest>(version),
                ApiKey::CreatePartitions => default_encoding::<CreatePartitionsRequest>(version),
                ApiKey::DeleteGroups => default_encoding::<DeleteGroupsRequest>(version),
                ApiKey::IncrementalAlterConfigs => {
                    default_encoding::<IncrementalAlterConfigsRequest>(version)
                }
                ApiKey::OffsetDelete => default_encoding::<OffsetDeleteRequest>(version),
                ApiKey::DescribeCluster => default_encoding::<DescribeClusterRequest>(version),
                ApiKey::DescribeProducers => default_encoding::<DescribeProducersRequest>(version),
                ApiKey::DescribeTransactions => {
                    default_encoding::<DescribeTransactionsRequest>(version)
                }
                ApiKey::ListTransactions => default_encoding::<ListTransactionsRequest>(version),
                ApiKey::ShareGroupHeartbeat => {
                    default_encoding::<ShareGroupHeartbeatRequest>(version)
                }
                ApiKey::ShareGroupDescribe => {
                    default_encoding::<ShareGroupDescribeRequest>(version)
                }
                ApiKey::ShareFetch => default_encoding::<ShareFetchRequest>(version),
                ApiKey::ShareAcknowledge if version == 2 => {
                    // v1 plus IsRenewAck after ShareSessionEpoch (kafka-protocol codes v1 only).
                    default_encoding::<ShareAcknowledgeRequest>(1).map(|mut v1| {
                        let at = v1.len() - 2; // before the empty topics array and tags
                        v1.insert(at, 1);
                        v1
                    })
                }
                ApiKey::ShareAcknowledge => default_encoding::<ShareAcknowledgeRequest>(version),
                ApiKey::DescribeShareGroupOffsets => {
                    default_encoding::<DescribeShareGroupOffsetsRequest>(version)
                }
                ApiKey::AlterShareGroupOffsets => {
                    default_encoding::<AlterShareGroupOffsetsRequest>(version)
                }
                ApiKey::DeleteShareGroupOffsets => {
                    default_encoding::<DeleteShareGroupOffsetsRequest>(version)
                }
                ApiKey::ConsumerGroupHeartbeat => {
                    default_encoding::<ConsumerGroupHeartbeatRequest>(version)
                }
                ApiKey::ConsumerGroupDescribe => {
                    default_encoding::<ConsumerGroupDescribeRequest>(version)
                }
                ApiKey::AlterClientQuotas => default_encoding::<AlterClientQuotasRequest>(version),
                ApiKey::DescribeClientQuotas => {
                    default_encoding::<DescribeClientQuotasRequest>(version)
                }
                ApiKey::SaslHandshake => default_encoding::<SaslHandshakeRequest>(version),
                ApiKey::SaslAuthenticate => default_encoding::<SaslAuthenticateRequest>(version),
                ApiKey::DescribeUserScramCredentials => {
                    default_encoding::<DescribeUserScramCredentialsRequest>(version)
                }
                ApiKey::AlterUserScramCredentials => {
                    default_encoding::<AlterUserScramCredentialsRequest>(version)
                }
                ApiKey::CreateAcls => default_encoding::<CreateAclsRequest>(version),
                ApiKey::DescribeAcls => default_encoding::<DescribeAclsRequest>(version),
                ApiKey::DeleteAcls => default_encoding::<DeleteAclsRequest>(version),
                ApiKey::ApiVersions => continue, // no arrays; decoded directly
                other => panic!("{other:?} is supported but has no test encoding"),
            };
            out.push((
                api,
                version,
                default.unwrap_or_else(|| panic!("{api:?} v{version} default encodes")),
            ));
            for sample in samples(api) {
                if let Some(bytes) = sample(version) {
                    out.push((api, version, bytes));
                }
            }
        }
    }
    out
}

#[test]
fn walkers_consume_exactly_what_the_encoder_wrote() {
    let all = encodings();
    assert!(all.len() > 150, "{} encodings", all.len());
    for (api, version, bytes) in all {
        assert_eq!(
            check(api, version, &bytes),
            Ok(bytes.len()),
            "{api:?} v{version}"
        );
        assert_eq!(
            super::decoded_len(api, version, &bytes),
            Some(bytes.len()),
            "{api:?} v{version}"
        );
    }
}

#[test]
fn mutated_requests_that_pass_the_walker_decode_identically() {
    // Every truncation, and every byte replaced by values that make large counts and lengths.
    for (api, version, bytes) in encodings() {
        let mut variants: Vec<Vec<u8>> = (0..bytes.len()).map(|n| bytes[..n].to_vec()).collect();
        for i in 0..bytes.len() {
            for v in [0x00, 0x7f, 0x80, 0xff] {
                let mut m = bytes.clone();
                m[i] = v;
                variants.push(m);
            }
        }
        for variant in variants {
            // Only what passes the walker may reach the decoder: that is the guarantee.
            if let Ok(walked) = check(api, version, &variant) {
                if let Some(decoded) = super::decoded_len(api, version, &variant) {
                    assert_eq!(walked, decoded, "{api:?} v{version} {variant:?}");
                }
            }
        }
    }
}

#[test]
fn counts_without_bytes_behind_them_are_refused() {
    // Metadata v0: topics array of 2^31-1 elements, nothing after.
    let err = check(ApiKey::Metadata, 0, &[0x7f, 0xff, 0xff, 0xff]).unwrap_err();
    assert!(matches!(err, ShapeError::CountTooLarge { .. }), "{err}");
    // Metadata v9: compact array count 2^32-2.
    let err = check(ApiKey::Metadata, 9, &[0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap_err();
    assert!(matches!(err, ShapeError::CountTooLarge { .. }), "{err}");
    // A negative length.
    let err = check(ApiKey::Metadata, 1, &[0xff, 0xff, 0xff, 0xfe]).unwrap_err();
    assert_eq!(err, ShapeError::NegativeLength(-2));
    // Tagged fields that claim more than is there.
    let err = check(ApiKey::Metadata, 9, &[0x01, 0x00, 0x00, 0x00, 0x7f]).unwrap_err();
    assert!(matches!(err, ShapeError::CountTooLarge { .. }), "{err}");
}

/// Every API kafka-protocol knows, at every version it decodes, on bodies of zeros (empty or
/// null everything) and of 0x01 bytes (one-element arrays and one-byte strings throughout):
/// wherever the decoder accepts, the walker accepts and reads the same bytes.
#[test]
fn every_api_has_a_walker_that_agrees_with_its_decoder() {
    let mut agreed = 0;
    for key in 0..=i16::MAX {
        let Ok(api) = ApiKey::try_from(key) else {
            if key > 200 {
                break;
            }
            continue;
        };
        let versions = api.valid_versions();
        for version in versions.min..=versions.max {
            for body in [vec![0u8; 512], vec![1u8; 512]] {
                // A walker may accept what its decoder then refuses (a null where the field
                // is not nullable): the decoder's error is the answer. Never the reverse.
                let walked = check(api, version, &body).ok();
                if let Some(decoded) = super::decoded_len(api, version, &body) {
                    assert_eq!(walked, Some(decoded), "{api:?} v{version}");
                    agreed += 1;
                }
            }
        }
        // ShareAcknowledge v2 is walked as v1 plus its flag byte (see `check`).
        let above = versions.max + 1 + i16::from(api == ApiKey::ShareAcknowledge);
        assert_eq!(
            check(api, above, &[0; 64]),
            Err(ShapeError::Version(above)),
            "{api:?}"
        );
    }
    assert!(agreed > 300, "only {agreed} bodies decoded");
}

#[test]
fn transaction_apis_have_a_populated_sample_at_every_version() {
    for &(api, min, max) in TRANSACTION_APIS {
        for version in min..=max {
            let populated = samples(api)
                .iter()
                .filter_map(|sample| sample(version))
                .count();
            assert!(populated > 0, "{api:?} v{version} has no populated sample");
        }
    }
}

#[test]
fn transaction_walkers_refuse_the_versions_the_decoders_refuse() {
    for &(api, min, max) in TRANSACTION_APIS {
        for version in [min - 1, max + 1] {
            assert_eq!(
                check(api, version, &[0; 64]),
                Err(ShapeError::Version(version)),
                "{api:?}"
            );
            // Safe to decode unchecked: the decoder refuses the version before reading.
            assert_eq!(
                super::decoded_len(api, version, &[0; 64]),
                None,
                "{api:?} v{version}"
            );
        }
    }
}
