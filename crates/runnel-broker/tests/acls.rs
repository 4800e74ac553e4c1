//! ACL authorization over the wire: CreateAcls, DescribeAcls and DeleteAcls with Kafka's
//! errors, ACLs kept across a restart, and the authorization matrix: for each API, the
//! connection's principal (`User:ANONYMOUS` from 127.0.0.1) without the right ACL gets
//! Kafka's error, and with it the answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use bytes::Bytes;
use common::{start, Raw};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use runnel_acl::{AclBinding, AclFilter, Operation, PatternType, Permission, ResourceType};
use runnel_broker::acls::STANDARD_AUTHORIZER;
use runnel_broker::Broker;

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

fn code(error: ResponseError) -> i16 {
    error.code()
}

async fn start_authorized(dir: &Path) -> Broker {
    start(dir, |c| {
        c.set("authorizer.class.name", STANDARD_AUTHORIZER).unwrap();
    })
    .await
}

fn binding(
    resource_type: ResourceType,
    name: &str,
    pattern_type: PatternType,
    operation: Operation,
    permission: Permission,
) -> AclBinding {
    AclBinding {
        pattern: runnel_acl::ResourcePattern {
            resource_type,
            pattern_type,
            name: name.to_owned(),
        },
        principal: "User:ANONYMOUS".to_owned(),
        host: "*".to_owned(),
        operation,
        permission,
    }
}

fn allow(resource_type: ResourceType, name: &str, operation: Operation) -> AclBinding {
    binding(
        resource_type,
        name,
        PatternType::Literal,
        operation,
        Permission::Allow,
    )
}

/// Grants (or, with `granted` false, takes back) `binding` behind the wire's back, so the
/// matrix toggles one right at a time.
fn set(broker: &Broker, binding: &AclBinding, granted: bool) {
    let acls = &broker.state().acls;
    if granted {
        acls.change(|a| a.add(binding.clone())).unwrap().unwrap();
    } else {
        let filter = AclFilter {
            resource_type: Some(binding.pattern.resource_type),
            name: Some(binding.pattern.name.clone()),
            pattern: runnel_acl::filter::PatternFilter::Only(binding.pattern.pattern_type),
            principal: Some(binding.principal.clone()),
            host: Some(binding.host.clone()),
            operation: Some(binding.operation),
            permission: Some(binding.permission),
        };
        acls.change(|a| a.remove_matching(&filter)).unwrap();
    }
}

fn creation(
    resource_type: i8,
    name: &str,
    pattern: i8,
    operation: i8,
    permission: i8,
) -> AclCreation {
    AclCreation::default()
        .with_resource_type(resource_type)
        .with_resource_name(s(name))
        .with_resource_pattern_type(pattern)
        .with_principal(s("User:alice"))
        .with_host(s("*"))
        .with_operation(operation)
        .with_permission_type(permission)
}

async fn create_acls(raw: &mut Raw, creations: Vec<AclCreation>) -> Vec<(i16, String)> {
    let response: CreateAclsResponse = raw
        .call(
            ApiKey::CreateAcls,
            3,
            &CreateAclsRequest::default().with_creations(creations),
        )
        .await;
    response
        .results
        .into_iter()
        .map(|r| {
            (
                r.error_code,
                r.error_message.map(|m| m.to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

fn describe_filter(resource_type: i8, name: Option<&str>, pattern: i8) -> DescribeAclsRequest {
    DescribeAclsRequest::default()
        .with_resource_type_filter(resource_type)
        .with_resource_name_filter(name.map(s))
        .with_pattern_type_filter(pattern)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_operation(1)
        .with_permission_type(1)
}

/// (resource type, name, pattern type, principal, operation) of every ACL described.
async fn describe_acls(
    raw: &mut Raw,
    request: DescribeAclsRequest,
) -> (i16, Vec<(i8, String, i8, String, i8)>) {
    let response: DescribeAclsResponse = raw.call(ApiKey::DescribeAcls, 3, &request).await;
    let acls = response
        .resources
        .iter()
        .flat_map(|r| {
            r.acls.iter().map(|a| {
                (
                    r.resource_type,
                    r.resource_name.to_string(),
                    r.pattern_type,
                    a.principal.to_string(),
                    a.operation,
                )
            })
        })
        .collect();
    (response.error_code, acls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_authorizer_acl_apis_answer_security_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let mut raw = Raw::connect(&broker).await;
    let created = create_acls(&mut raw, vec![creation(2, "t", 3, 3, 3)]).await;
    assert_eq!(
        created,
        [(
            code(ResponseError::SecurityDisabled),
            "No Authorizer is configured.".to_owned()
        )]
    );
    let (error, _) = describe_acls(&mut raw, describe_filter(1, None, 1)).await;
    assert_eq!(error, code(ResponseError::SecurityDisabled));
    let deleted: DeleteAclsResponse = raw
        .call(
            ApiKey::DeleteAcls,
            3,
            &DeleteAclsRequest::default().with_filters(vec![DeleteAclsFilter::default()
                .with_resource_name_filter(None)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_resource_type_filter(1)
                .with_pattern_type_filter(1)
                .with_operation(1)
                .with_permission_type(1)]),
        )
        .await;
    assert_eq!(
        deleted.filter_results[0].error_code,
        code(ResponseError::SecurityDisabled)
    );
    // The zero-config broker allows everything: a topic is described with every right.
    let metadata: MetadataResponse = raw
        .call(
            ApiKey::Metadata,
            12,
            &MetadataRequest::default()
                .with_topics(Some(vec![
                    MetadataRequestTopic::default().with_name(Some(TopicName(s("open"))))
                ]))
                .with_allow_auto_topic_creation(true)
                .with_include_topic_authorized_operations(true),
        )
        .await;
    assert_eq!(metadata.topics[0].error_code, 0);
    assert_eq!(metadata.topics[0].topic_authorized_operations, 3576);
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_apis_need_cluster_rights_validate_and_match_as_kafka() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_authorized(dir.path()).await;
    let mut raw = Raw::connect(&broker).await;
    let created = create_acls(&mut raw, vec![creation(2, "t", 3, 3, 3)]).await;
    assert_eq!(
        created[0].0,
        code(ResponseError::ClusterAuthorizationFailed)
    );
    let (error, _) = describe_acls(&mut raw, describe_filter(1, None, 1)).await;
    assert_eq!(error, code(ResponseError::ClusterAuthorizationFailed));

    // ALTER on the cluster allows creating and deleting, and implies DESCRIBE.
    set(
        &broker,
        &allow(ResourceType::Cluster, "kafka-cluster", Operation::Alter),
        true,
    );
    let created = create_acls(
        &mut raw,
        vec![
            creation(2, "orders", 3, 3, 3),
            creation(2, "orders-", 4, 4, 3),
            creation(2, "*", 3, 8, 2),
            creation(2, "orders", 2, 3, 3), // MATCH is a filter's pattern type only
            creation(4, "other", 3, 7, 3),  // the cluster is named kafka-cluster
            creation(2, "orders", 3, 1, 3), // ANY is a filter's operation only
            creation(3, "", 3, 3, 3),       // no name
        ],
    )
    .await;
    let codes: Vec<i16> = created.iter().map(|(c, _)| *c).collect();
    let invalid = code(ResponseError::InvalidRequest);
    assert_eq!(codes, [0, 0, 0, invalid, invalid, invalid, invalid]);
    assert_eq!(created[3].1, "Invalid patternType 2");
    assert!(created[4].1.contains("kafka-cluster"), "{}", created[4].1);

    // MATCH on a name: the literal, the literal wildcard and the prefixes it starts with.
    let (error, acls) = describe_acls(&mut raw, describe_filter(2, Some("orders-eu"), 2)).await;
    assert_eq!(error, 0);
    let names: Vec<&str> = acls.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(names, ["*", "orders-"]);
    // ANY compares names exactly, whatever the pattern type.
    let (_, acls) = describe_acls(&mut raw, describe_filter(2, Some("orders"), 1)).await;
    assert_eq!(
        acls,
        [(2, "orders".to_owned(), 3, "User:alice".to_owned(), 3)]
    );
    // An UNKNOWN pattern type is a bad filter.
    let (error, _) = describe_acls(&mut raw, describe_filter(1, None, 0)).await;
    assert_eq!(error, invalid);

    let deleted: DeleteAclsResponse = raw
        .call(
            ApiKey::DeleteAcls,
            3,
            &DeleteAclsRequest::default().with_filters(vec![
                DeleteAclsFilter::default()
                    .with_resource_name_filter(None)
                    .with_host_filter(None)
                    .with_resource_type_filter(2)
                    .with_pattern_type_filter(4)
                    .with_principal_filter(Some(s("User:alice")))
                    .with_operation(1)
                    .with_permission_type(1),
                DeleteAclsFilter::default()
                    .with_resource_name_filter(None)
                    .with_principal_filter(None)
                    .with_host_filter(None)
                    .with_resource_type_filter(0)
                    .with_pattern_type_filter(1)
                    .with_operation(1)
                    .with_permission_type(1),
            ]),
        )
        .await;
    let first = &deleted.filter_results[0];
    assert_eq!(first.error_code, 0);
    assert_eq!(first.matching_acls.len(), 1);
    assert_eq!(first.matching_acls[0].resource_name.as_str(), "orders-");
    assert_eq!(first.matching_acls[0].operation, 4);
    assert_eq!(deleted.filter_results[1].error_code, invalid);
    let (_, left) = describe_acls(&mut raw, describe_filter(2, None, 1)).await;
    let names: Vec<&str> = left.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(names, ["*", "orders"]);
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_authorized(dir.path()).await;
    set(
        &broker,
        &allow(ResourceType::Cluster, "kafka-cluster", Operation::Alter),
        true,
    );
    let mut raw = Raw::connect(&broker).await;
    let created = create_acls(&mut raw, vec![creation(3, "payments", 3, 3, 2)]).await;
    assert_eq!(created[0].0, 0);
    broker.shutdown().await.unwrap();

    let broker = start_authorized(dir.path()).await;
    let mut raw = Raw::connect(&broker).await;
    let (error, acls) = describe_acls(&mut raw, describe_filter(3, None, 1)).await;
    assert_eq!(error, 0);
    assert_eq!(
        acls,
        [(3, "payments".to_owned(), 3, "User:alice".to_owned(), 3)]
    );
    broker.shutdown().await.unwrap();
    let file = std::fs::read_to_string(dir.path().join("acls.json")).unwrap();
    assert!(file.contains("\"name\": \"payments\""), "{file}");
}

fn metadata_of(topic: &str) -> MetadataRequest {
    MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(TopicName(s(topic))))
        ]))
        .with_allow_auto_topic_creation(true)
        .with_include_topic_authorized_operations(true)
}

fn produce_to(topic: &str) -> ProduceRequest {
    let mut batch = runnel_log::BatchBuilder::new(runnel_log::Compression::None);
    batch.push(1, Some(b"k"), Some(b"v"), &[]);
    let records = Bytes::from(batch.build().unwrap());
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_apis_answer_kafkas_errors_without_the_right_and_succeed_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_authorized(dir.path()).await;
    let mut raw = Raw::connect(&broker).await;
    let denied = code(ResponseError::TopicAuthorizationFailed);

    // Metadata: DESCRIBE to see it, CREATE (cluster or topic) to auto-create it.
    let m: MetadataResponse = raw.call(ApiKey::Metadata, 12, &metadata_of("orders")).await;
    assert_eq!(m.topics[0].error_code, denied);
    let describe = allow(ResourceType::Topic, "orders", Operation::Describe);
    set(&broker, &describe, true);
    let m: MetadataResponse = raw.call(ApiKey::Metadata, 12, &metadata_of("orders")).await;
    assert_eq!(
        m.topics[0].error_code, denied,
        "no CREATE: not auto-created"
    );
    let create = binding(
        ResourceType::Topic,
        "ord",
        PatternType::Prefixed,
        Operation::Create,
        Permission::Allow,
    );
    set(&broker, &create, true);
    let m: MetadataResponse = raw.call(ApiKey::Metadata, 12, &metadata_of("orders")).await;
    assert_eq!(m.topics[0].error_code, 0);
    // DESCRIBE, and CREATE from the prefixed ACL.
    assert_eq!(m.topics[0].topic_authorized_operations, 1 << 8 | 1 << 5);

    // An all-topics request leaves out what the requester may not describe.
    set(&broker, &describe, false);
    let all: MetadataResponse = raw
        .call(
            ApiKey::Metadata,
            12,
            &MetadataRequest::default().with_topics(None),
        )
        .await;
    assert!(all.topics.is_empty());
    set(&broker, &describe, true);
    let all: MetadataResponse = raw
        .call(
            ApiKey::Metadata,
            12,
            &MetadataRequest::default().with_topics(None),
        )
        .await;
    assert_eq!(all.topics.len(), 1);

    // Produce: WRITE.
    let p: ProduceResponse = raw.call(ApiKey::Produce, 9, &produce_to("orders")).await;
    assert_eq!(p.responses[0].partition_responses[0].error_code, denied);
    let write = allow(ResourceType::Topic, "orders", Operation::Write);
    set(&broker, &write, true);
    let p: ProduceResponse = raw.call(ApiKey::Produce, 9, &produce_to("orders")).await;
    assert_eq!(p.responses[0].partition_responses[0].error_code, 0);

    // DENY wins over the ALLOW, and WRITE does not give READ.
    let deny_write = binding(
        ResourceType::Topic,
        "*",
        PatternType::Literal,
        Operation::Write,
        Permission::Deny,
    );
    set(&broker, &deny_write, true);
    let p: ProduceResponse = raw.call(ApiKey::Produce, 9, &produce_to("orders")).await;
    assert_eq!(p.responses[0].partition_responses[0].error_code, denied);
    set(&broker, &deny_write, false);

    // Fetch: READ.
    let fetch = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![fetch_request::FetchTopic::default()
            .with_topic(TopicName(s("orders")))
            .with_partitions(vec![fetch_request::FetchPartition::default()
                .with_partition(0)
                .with_partition_max_bytes(1 << 20)])]);
    let f: FetchResponse = raw.call(ApiKey::Fetch, 12, &fetch).await;
    assert_eq!(f.responses[0].partitions[0].error_code, denied);
    set(
        &broker,
        &allow(ResourceType::Topic, "orders", Operation::Read),
        true,
    );
    let f: FetchResponse = raw.call(ApiKey::Fetch, 12, &fetch).await;
    assert_eq!(f.responses[0].partitions[0].error_code, 0);
    assert_eq!(f.responses[0].partitions[0].high_watermark, 1);

    // ListOffsets: DESCRIBE (which READ implies).
    let list = ListOffsetsRequest::default().with_topics(vec![
        list_offsets_request::ListOffsetsTopic::default()
            .with_name(TopicName(s("orders")))
            .with_partitions(vec![list_offsets_request::ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1)]),
    ]);
    set(&broker, &describe, false);
    let l: ListOffsetsResponse = raw.call(ApiKey::ListOffsets, 7, &list).await;
    assert_eq!(
        l.topics[0].partitions[0].error_code, 0,
        "READ implies DESCRIBE"
    );
    assert_eq!(l.topics[0].partitions[0].offset, 1);

    // DeleteTopics: DELETE; CreateTopics: CREATE.
    let delete = DeleteTopicsRequest::default()
        .with_topic_names(vec![TopicName(s("orders"))])
        .with_timeout_ms(5000);
    let d: DeleteTopicsResponse = raw.call(ApiKey::DeleteTopics, 5, &delete).await;
    assert_eq!(d.responses[0].error_code, denied);
    set(
        &broker,
        &allow(ResourceType::Topic, "orders", Operation::Delete),
        true,
    );
    let d: DeleteTopicsResponse = raw.call(ApiKey::DeleteTopics, 5, &delete).await;
    assert_eq!(d.responses[0].error_code, 0);
    let create_topic = |name: &str| {
        CreateTopicsRequest::default()
            .with_topics(vec![create_topics_request::CreatableTopic::default()
                .with_name(TopicName(s(name)))
                .with_num_partitions(1)
                .with_replication_factor(1)])
            .with_timeout_ms(5000)
    };
    let c: CreateTopicsResponse = raw
        .call(ApiKey::CreateTopics, 5, &create_topic("payments"))
        .await;
    assert_eq!(c.topics[0].error_code, denied);
    let c: CreateTopicsResponse = raw
        .call(ApiKey::CreateTopics, 5, &create_topic("orders-2"))
        .await;
    assert_eq!(c.topics[0].error_code, 0, "the prefixed CREATE covers it");
    // Its settings are shown only with DESCRIBE_CONFIGS on it.
    assert_eq!(c.topics[0].topic_config_error_code, denied);
    assert_eq!(
        (c.topics[0].num_partitions, c.topics[0].configs.is_none()),
        (-1, true)
    );
    set(
        &broker,
        &binding(
            ResourceType::Topic,
            "orders-",
            PatternType::Prefixed,
            Operation::DescribeConfigs,
            Permission::Allow,
        ),
        true,
    );
    let c: CreateTopicsResponse = raw
        .call(ApiKey::CreateTopics, 5, &create_topic("orders-3"))
        .await;
    assert_eq!(c.topics[0].topic_config_error_code, 0);
    assert_eq!(c.topics[0].num_partitions, 1);
    assert!(c.topics[0].configs.as_ref().is_some_and(|c| !c.is_empty()));
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_apis_answer_kafkas_errors_without_the_right_and_succeed_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_authorized(dir.path()).await;
    let mut raw = Raw::connect(&broker).await;
    let denied = code(ResponseError::GroupAuthorizationFailed);

    // FindCoordinator: DESCRIBE on the group.
    let find = FindCoordinatorRequest::default()
        .with_key_type(0)
        .with_coordinator_keys(vec![s("app")]);
    let f: FindCoordinatorResponse = raw.call(ApiKey::FindCoordinator, 4, &find).await;
    assert_eq!(f.coordinators[0].error_code, denied);
    let read = allow(ResourceType::Group, "app", Operation::Read);
    set(&broker, &read, true);
    let f: FindCoordinatorResponse = raw.call(ApiKey::FindCoordinator, 4, &find).await;
    assert_eq!(f.coordinators[0].error_code, 0, "READ implies DESCRIBE");

    // OffsetCommit: READ on the group, then READ on the topic.
    set(
        &broker,
        &allow(ResourceType::Cluster, "kafka-cluster", Operation::Create),
        true,
    );
    let m: MetadataResponse = raw.call(ApiKey::Metadata, 12, &metadata_of("events")).await;
    assert_eq!(
        m.topics[0].error_code,
        code(ResponseError::TopicAuthorizationFailed)
    );
    set(
        &broker,
        &allow(ResourceType::Topic, "events", Operation::Describe),
        true,
    );
    let m: MetadataResponse = raw.call(ApiKey::Metadata, 12, &metadata_of("events")).await;
    assert_eq!(m.topics[0].error_code, 0);
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(s("app")))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![
            offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name(TopicName(s("events")))
                .with_partitions(vec![
                    offset_commit_request::OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(0),
                ]),
        ]);
    let c: OffsetCommitResponse = raw.call(ApiKey::OffsetCommit, 8, &commit).await;
    assert_eq!(
        c.topics[0].partitions[0].error_code,
        code(ResponseError::TopicAuthorizationFailed)
    );
    set(
        &broker,
        &allow(ResourceType::Topic, "events", Operation::Read),
        true,
    );
    let c: OffsetCommitResponse = raw.call(ApiKey::OffsetCommit, 8, &commit).await;
    assert_eq!(c.topics[0].partitions[0].error_code, 0);

    // DescribeGroups: DESCRIBE, and the operations the requester has on the group.
    let describe = DescribeGroupsRequest::default()
        .with_groups(vec![GroupId(s("app")), GroupId(s("other"))])
        .with_include_authorized_operations(true);
    let d: DescribeGroupsResponse = raw.call(ApiKey::DescribeGroups, 5, &describe).await;
    assert_eq!(d.groups[0].error_code, 0);
    assert_eq!(d.groups[0].authorized_operations, 1 << 3 | 1 << 8);
    assert_eq!(d.groups[1].error_code, denied);

    // ListGroups: the groups the requester may describe, every group with DESCRIBE on the
    // cluster.
    let l: ListGroupsResponse = raw
        .call(ApiKey::ListGroups, 4, &ListGroupsRequest::default())
        .await;
    assert_eq!(l.groups.len(), 1);
    set(&broker, &read, false);
    let l: ListGroupsResponse = raw
        .call(ApiKey::ListGroups, 4, &ListGroupsRequest::default())
        .await;
    assert!(l.groups.is_empty());

    // OffsetFetch without the group's DESCRIBE; DeleteGroups needs DELETE.
    let fetch = OffsetFetchRequest::default().with_groups(vec![
        offset_fetch_request::OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(s("app")))
            .with_topics(None),
    ]);
    let o: OffsetFetchResponse = raw.call(ApiKey::OffsetFetch, 8, &fetch).await;
    assert_eq!(o.groups[0].error_code, denied);
    set(
        &broker,
        &allow(ResourceType::Group, "app", Operation::Describe),
        true,
    );
    let o: OffsetFetchResponse = raw.call(ApiKey::OffsetFetch, 8, &fetch).await;
    assert_eq!(o.groups[0].error_code, 0);
    assert_eq!(o.groups[0].topics[0].partitions[0].committed_offset, 0);
    let delete = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("app"))]);
    let d: DeleteGroupsResponse = raw.call(ApiKey::DeleteGroups, 2, &delete).await;
    assert_eq!(d.results[0].error_code, denied);
    set(
        &broker,
        &allow(ResourceType::Group, "app", Operation::Delete),
        true,
    );
    let d: DeleteGroupsResponse = raw.call(ApiKey::DeleteGroups, 2, &delete).await;
    assert_eq!(d.results[0].error_code, 0);
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_and_transaction_apis_answer_kafkas_errors_and_super_users_pass() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_authorized(dir.path()).await;
    let mut raw = Raw::connect(&broker).await;

    // DescribeCluster answers, with the rights the requester has on the cluster.
    let cluster =
        DescribeClusterRequest::default().with_include_cluster_authorized_operations(true);
    let c: DescribeClusterResponse = raw.call(ApiKey::DescribeCluster, 1, &cluster).await;
    assert_eq!(c.cluster_authorized_operations, 0);
    // DescribeConfigs on the broker: DESCRIBE_CONFIGS on the cluster (ALTER_CONFIGS implies it).
    let configs = DescribeConfigsRequest::default().with_resources(vec![
        describe_configs_request::DescribeConfigsResource::default()
            .with_resource_type(4)
            .with_resource_name(s("0"))
            .with_configuration_keys(None),
    ]);
    let d: DescribeConfigsResponse = raw.call(ApiKey::DescribeConfigs, 4, &configs).await;
    assert_eq!(
        d.results[0].error_code,
        code(ResponseError::ClusterAuthorizationFailed)
    );
    set(
        &broker,
        &allow(
            ResourceType::Cluster,
            "kafka-cluster",
            Operation::AlterConfigs,
        ),
        true,
    );
    let d: DescribeConfigsResponse = raw.call(ApiKey::DescribeConfigs, 4, &configs).await;
    assert_eq!(d.results[0].error_code, 0);
    assert!(!d.results[0].configs.is_empty());
    let c: DescribeClusterResponse = raw.call(ApiKey::DescribeCluster, 1, &cluster).await;
    assert_eq!(c.cluster_authorized_operations, 1 << 10 | 1 << 11);

    // InitProducerId: WRITE on the transactional id; an idempotent producer needs
    // IDEMPOTENT_WRITE on the cluster or WRITE on some topic.
    let init = |id: Option<&str>| {
        InitProducerIdRequest::default()
            .with_transactional_id(id.map(|id| TransactionalId(s(id))))
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    let i: InitProducerIdResponse = raw.call(ApiKey::InitProducerId, 4, &init(Some("tx"))).await;
    assert_eq!(
        i.error_code,
        code(ResponseError::TransactionalIdAuthorizationFailed)
    );
    let i: InitProducerIdResponse = raw.call(ApiKey::InitProducerId, 4, &init(None)).await;
    assert_eq!(
        i.error_code,
        code(ResponseError::ClusterAuthorizationFailed)
    );
    set(
        &broker,
        &binding(
            ResourceType::Topic,
            "logs-",
            PatternType::Prefixed,
            Operation::Write,
            Permission::Allow,
        ),
        true,
    );
    let i: InitProducerIdResponse = raw.call(ApiKey::InitProducerId, 4, &init(None)).await;
    assert_eq!(i.error_code, 0);
    set(
        &broker,
        &allow(ResourceType::TransactionalId, "tx", Operation::Write),
        true,
    );
    let i: InitProducerIdResponse = raw.call(ApiKey::InitProducerId, 4, &init(Some("tx"))).await;
    assert_eq!(i.error_code, 0);
    broker.shutdown().await.unwrap();

    // A super user may do everything, with no ACL at all.
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| {
        c.set("authorizer.class.name", STANDARD_AUTHORIZER).unwrap();
        c.set("super.users", "User:admin;User:ANONYMOUS").unwrap();
    })
    .await;
    let mut raw = Raw::connect(&broker).await;
    let m: MetadataResponse = raw.call(ApiKey::Metadata, 12, &metadata_of("any")).await;
    assert_eq!(m.topics[0].error_code, 0);
    assert_eq!(m.topics[0].topic_authorized_operations, 3576);
    broker.shutdown().await.unwrap();

    // allow.everyone.if.no.acl.found opens what no ACL covers, and only that.
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| {
        c.set("authorizer.class.name", STANDARD_AUTHORIZER).unwrap();
        c.set("allow.everyone.if.no.acl.found", "true").unwrap();
    })
    .await;
    let mut raw = Raw::connect(&broker).await;
    let m: MetadataResponse = raw.call(ApiKey::Metadata, 12, &metadata_of("free")).await;
    assert_eq!(m.topics[0].error_code, 0);
    let other = binding(
        ResourceType::Topic,
        "guarded",
        PatternType::Literal,
        Operation::Read,
        Permission::Allow,
    );
    let other = AclBinding {
        principal: "User:alice".to_owned(),
        ..other
    };
    set(&broker, &other, true);
    let m: MetadataResponse = raw
        .call(ApiKey::Metadata, 12, &metadata_of("guarded"))
        .await;
    assert_eq!(
        m.topics[0].error_code,
        code(ResponseError::TopicAuthorizationFailed)
    );
    broker.shutdown().await.unwrap();
}

/// SCRAM credentials are the cluster's: DESCRIBE on it to list them, ALTER to change them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_credentials_need_cluster_rights() {
    use kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialUpsertion;
    let dir = tempfile::tempdir().unwrap();
    let broker = start_authorized(dir.path()).await;
    let mut raw = Raw::connect(&broker).await;
    let describe = DescribeUserScramCredentialsRequest::default().with_users(None);
    let alter = AlterUserScramCredentialsRequest::default().with_upsertions(vec![
        ScramCredentialUpsertion::default()
            .with_name(s("alice"))
            .with_mechanism(2)
            .with_iterations(4096)
            .with_salt(Bytes::from_static(b"salt"))
            .with_salted_password(Bytes::from(vec![7u8; 64])),
    ]);

    let d: DescribeUserScramCredentialsResponse = raw
        .call(ApiKey::DescribeUserScramCredentials, 0, &describe)
        .await;
    assert_eq!(
        d.error_code,
        code(ResponseError::ClusterAuthorizationFailed)
    );
    let a: AlterUserScramCredentialsResponse =
        raw.call(ApiKey::AlterUserScramCredentials, 0, &alter).await;
    assert_eq!(a.results.len(), 1);
    assert_eq!(
        a.results[0].error_code,
        code(ResponseError::ClusterAuthorizationFailed)
    );
    assert!(broker
        .state()
        .scram_credentials
        .table()
        .describe("alice")
        .is_none());

    // ALTER on the cluster changes them, and implies DESCRIBE.
    set(
        &broker,
        &allow(ResourceType::Cluster, "kafka-cluster", Operation::Alter),
        true,
    );
    let a: AlterUserScramCredentialsResponse =
        raw.call(ApiKey::AlterUserScramCredentials, 0, &alter).await;
    assert_eq!(
        a.results[0].error_code, 0,
        "{:?}",
        a.results[0].error_message
    );
    let d: DescribeUserScramCredentialsResponse = raw
        .call(ApiKey::DescribeUserScramCredentials, 0, &describe)
        .await;
    assert_eq!(d.error_code, 0);
    let users: Vec<String> = d.results.iter().map(|r| r.user.to_string()).collect();
    assert_eq!(users, ["alice"]);
    broker.shutdown().await.unwrap();
}

/// A consumer-group or share-group member may subscribe only to topics it may describe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_need_describe_on_every_subscribed_topic() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_authorized(dir.path()).await;
    let mut raw = Raw::connect(&broker).await;
    let denied = code(ResponseError::TopicAuthorizationFailed);
    for group in ["next", "share"] {
        set(
            &broker,
            &allow(ResourceType::Group, group, Operation::Read),
            true,
        );
    }
    let consumer = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("next")))
        .with_member_id(s("m"))
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![TopicName(s("secret"))]))
        .with_topic_partitions(Some(vec![]));
    let share = ShareGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("share")))
        .with_member_id(s("m"))
        .with_subscribed_topic_names(Some(vec![TopicName(s("secret"))]));

    let c: ConsumerGroupHeartbeatResponse =
        raw.call(ApiKey::ConsumerGroupHeartbeat, 0, &consumer).await;
    assert_eq!(c.error_code, denied);
    assert!(c.error_message.unwrap().contains("secret"));
    let h: ShareGroupHeartbeatResponse = raw.call(ApiKey::ShareGroupHeartbeat, 1, &share).await;
    assert_eq!(h.error_code, denied);

    set(
        &broker,
        &allow(ResourceType::Topic, "secret", Operation::Describe),
        true,
    );
    let c: ConsumerGroupHeartbeatResponse =
        raw.call(ApiKey::ConsumerGroupHeartbeat, 0, &consumer).await;
    assert_eq!(c.error_code, 0, "{:?}", c.error_message);
    let h: ShareGroupHeartbeatResponse = raw.call(ApiKey::ShareGroupHeartbeat, 1, &share).await;
    assert_eq!(h.error_code, 0, "{:?}", h.error_message);
    broker.shutdown().await.unwrap();
}

/// A KIP-848 regular-expression subscription is given only the topics the member may
/// describe: an unauthorized topic the pattern matches is never assigned, and is once
/// DESCRIBE on it is granted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regex_subscriptions_see_only_describable_topics() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_authorized(dir.path()).await;
    let mut raw = Raw::connect(&broker).await;
    set(
        &broker,
        &allow(
            ResourceType::Cluster,
            runnel_acl::CLUSTER_NAME,
            Operation::Create,
        ),
        true,
    );
    for name in ["orders-eu", "orders-us"] {
        let create = CreateTopicsRequest::default()
            .with_topics(vec![create_topics_request::CreatableTopic::default()
                .with_name(TopicName(s(name)))
                .with_num_partitions(1)
                .with_replication_factor(1)])
            .with_timeout_ms(5_000);
        let created: CreateTopicsResponse = raw.call(ApiKey::CreateTopics, 5, &create).await;
        assert_eq!(created.topics[0].error_code, 0, "{name}");
    }
    let id_of = |name: &str| broker.state().topics.get(name).unwrap().id;
    set(
        &broker,
        &allow(ResourceType::Group, "next", Operation::Read),
        true,
    );
    set(
        &broker,
        &allow(ResourceType::Topic, "orders-eu", Operation::Describe),
        true,
    );
    let assigned = |response: &ConsumerGroupHeartbeatResponse| -> Vec<uuid::Uuid> {
        let mut ids: Vec<_> = response
            .assignment
            .iter()
            .flat_map(|a| a.topic_partitions.iter().map(|t| t.topic_id))
            .collect();
        ids.sort();
        ids
    };
    let join = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("next")))
        .with_member_id(s("m"))
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_regex(Some(s("orders-.*")))
        .with_topic_partitions(Some(vec![]));
    let joined: ConsumerGroupHeartbeatResponse =
        raw.call(ApiKey::ConsumerGroupHeartbeat, 1, &join).await;
    assert_eq!(joined.error_code, 0, "{:?}", joined.error_message);
    assert_eq!(assigned(&joined), [id_of("orders-eu")]);

    set(
        &broker,
        &allow(ResourceType::Topic, "orders-us", Operation::Describe),
        true,
    );
    let beat = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("next")))
        .with_member_id(s("m"))
        .with_member_epoch(joined.member_epoch)
        .with_rebalance_timeout_ms(-1);
    let next: ConsumerGroupHeartbeatResponse =
        raw.call(ApiKey::ConsumerGroupHeartbeat, 1, &beat).await;
    assert_eq!(next.error_code, 0, "{:?}", next.error_message);
    assert!(next.member_epoch > joined.member_epoch);
    let mut both = vec![id_of("orders-eu"), id_of("orders-us")];
    both.sort();
    assert_eq!(assigned(&next), both);
    broker.shutdown().await.unwrap();
}
