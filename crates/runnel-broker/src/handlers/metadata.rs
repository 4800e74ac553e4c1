//! Metadata: brokers, topics and partitions, with auto topic creation.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use runnel_acl::{Operation, ResourceType, CLUSTER_NAME};

use super::access::{Access, NOT_REQUESTED};
use crate::broker::BrokerState;
use crate::error::topic_error_code;
use crate::listeners::ListenerInfo;
use crate::topics::{valid_topic_name, Topic, TopicError};

pub(crate) async fn handle(
    state: &Arc<BrokerState>,
    listener: &ListenerInfo,
    access: &Access<'_>,
    request: MetadataRequest,
    version: i16,
) -> MetadataResponse {
    let node = BrokerId(state.config.node_id);
    let mut response = MetadataResponse::default();
    response.brokers = vec![MetadataResponseBroker::default()
        .with_node_id(node)
        .with_host(StrBytes::from_string(listener.advertised_host.clone()))
        .with_port(listener.advertised_port)];
    response.cluster_id = Some(StrBytes::from_string(state.cluster_id.clone()));
    response.controller_id = node;
    // Asked for in v8 to v10 (later versions dropped the cluster's).
    response.cluster_authorized_operations = access.operations(
        request.include_cluster_authorized_operations,
        ResourceType::Cluster,
        CLUSTER_NAME,
    );
    let with_operations = request.include_topic_authorized_operations;
    let operations = |name: &str| access.operations(with_operations, ResourceType::Topic, name);

    // v0: an empty list means all topics; v1+: null means all, empty means none.
    let all = match &request.topics {
        None => true,
        Some(list) => list.is_empty() && version == 0,
    };
    if all {
        // As Kafka: the topics the requester may not describe are left out.
        response.topics = state
            .topics
            .all()
            .iter()
            .filter(|t| access.topic(Operation::Describe, &t.name))
            .map(|t| describe(t, node).with_topic_authorized_operations(operations(&t.name)))
            .collect();
        return response;
    }
    // Before v4 there is no flag and Kafka always auto-creates.
    let may_create =
        state.config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
    for wanted in request.topics.unwrap_or_default() {
        let entry = match wanted.name {
            Some(name) if !access.topic(Operation::Describe, &name) => failed(
                Some(name),
                Uuid::nil(),
                ResponseError::TopicAuthorizationFailed.code(),
            ),
            // As Kafka: a topic that auto-creation would create needs CREATE on the cluster
            // or on the topic.
            Some(name)
                if may_create
                    && state.topics.get(name.0.as_str()).is_none()
                    && !access.may_create_topic(&name) =>
            {
                failed(
                    Some(name),
                    Uuid::nil(),
                    ResponseError::TopicAuthorizationFailed.code(),
                )
            }
            Some(name) => by_name(state, name, may_create, node).await,
            // An id the requester may not describe is answered as unknown, as Kafka does,
            // so ids do not reveal topics.
            None => match state.topics.by_id(wanted.topic_id) {
                Some(topic) if access.topic(Operation::Describe, &topic.name) => {
                    describe(&topic, node)
                }
                _ => failed(None, wanted.topic_id, ResponseError::UnknownTopicId.code()),
            },
        };
        // As in Kafka, only topics described without error carry their operations.
        let topic_operations = match (&entry.name, entry.error_code) {
            (Some(name), 0) => operations(name),
            _ => NOT_REQUESTED,
        };
        response
            .topics
            .push(entry.with_topic_authorized_operations(topic_operations));
    }
    response
}

async fn by_name(
    state: &Arc<BrokerState>,
    name: TopicName,
    may_create: bool,
    node: BrokerId,
) -> MetadataResponseTopic {
    let text = name.0.to_string();
    if let Some(topic) = state.topics.get(&text) {
        return describe(&topic, node);
    }
    if !valid_topic_name(&text) {
        return failed(
            Some(name),
            Uuid::nil(),
            ResponseError::InvalidTopicException.code(),
        );
    }
    if !may_create {
        return failed(
            Some(name),
            Uuid::nil(),
            ResponseError::UnknownTopicOrPartition.code(),
        );
    }
    let s = Arc::clone(state);
    let created = tokio::task::spawn_blocking(move || {
        let partitions = s.config.num_partitions;
        s.topics.create(&text, partitions, BTreeMap::new(), false)
    })
    .await;
    match created {
        Ok(Ok(topic)) => describe(&topic, node),
        // Another request created it meanwhile.
        Ok(Err(TopicError::Exists(existing))) => match state.topics.get(&existing) {
            Some(topic) => describe(&topic, node),
            None => failed(
                Some(name),
                Uuid::nil(),
                ResponseError::LeaderNotAvailable.code(),
            ),
        },
        Ok(Err(error)) => {
            tracing::warn!(%error, "auto topic creation failed");
            failed(Some(name), Uuid::nil(), topic_error_code(&error))
        }
        Err(_) => failed(
            Some(name),
            Uuid::nil(),
            ResponseError::UnknownServerError.code(),
        ),
    }
}

fn failed(name: Option<TopicName>, id: Uuid, code: i16) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_name(name)
        .with_topic_id(id)
        .with_error_code(code)
}

/// A topic as metadata shows it: this node leads every partition and is its only replica.
pub(crate) fn describe(topic: &Topic, node: BrokerId) -> MetadataResponseTopic {
    let partitions = topic
        .partitions()
        .iter()
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p.index)
                .with_leader_id(node)
                .with_leader_epoch(0)
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(topic.name.clone()))))
        .with_topic_id(topic.id)
        .with_is_internal(topic.internal)
        .with_partitions(partitions)
}
