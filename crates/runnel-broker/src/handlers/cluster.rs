//! DescribeCluster, DescribeLogDirs and OffsetForLeaderEpoch: the single-node answers.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, DescribeLogDirsRequest,
    DescribeLogDirsResponse, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use runnel_acl::{Operation, ResourceType, CLUSTER_NAME};

use super::access::Access;
use crate::broker::BrokerState;
use crate::listeners::ListenerInfo;

/// Every batch is stamped with this leader epoch: a single node never changes leader.
const LEADER_EPOCH: i32 = 0;

pub(crate) fn describe_cluster(
    state: &Arc<BrokerState>,
    listener: &ListenerInfo,
    access: &Access<'_>,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let mut response = DescribeClusterResponse::default();
    // Endpoint type 1 is "brokers"; 2 ("controllers") has no separate listener here.
    if request.endpoint_type > 1 {
        response.error_code = ResponseError::UnsupportedEndpointType.code();
        return response;
    }
    response.cluster_id = StrBytes::from_string(state.cluster_id.clone());
    response.controller_id = BrokerId(state.config.node_id);
    response.brokers = vec![DescribeClusterBroker::default()
        .with_broker_id(BrokerId(state.config.node_id))
        .with_host(StrBytes::from_string(listener.advertised_host.clone()))
        .with_port(listener.advertised_port)];
    response.cluster_authorized_operations = access.operations(
        request.include_cluster_authorized_operations,
        ResourceType::Cluster,
        CLUSTER_NAME,
    );
    response
}

pub(crate) fn describe_log_dirs(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    // As Kafka: DESCRIBE on the cluster, else no directories and the error (from v3).
    let refused = access.cluster_code(Operation::Describe);
    if refused != 0 {
        return DescribeLogDirsResponse::default().with_error_code(refused);
    }
    let topics = match request.topics {
        None => state
            .topics
            .all()
            .into_iter()
            .map(|t| {
                let partitions = t.partitions().iter().map(|p| p.index).collect();
                (
                    TopicName(StrBytes::from_string(t.name.clone())),
                    Some(t),
                    partitions,
                )
            })
            .collect::<Vec<_>>(),
        Some(list) => list
            .into_iter()
            .map(|t| {
                let found = state.topics.get(t.topic.0.as_str());
                (t.topic, found, t.partitions)
            })
            .collect(),
    };
    let mut result = DescribeLogDirsResult::default()
        .with_log_dir(StrBytes::from_string(
            state.config.data_dir.display().to_string(),
        ))
        .with_total_bytes(-1)
        .with_usable_bytes(-1);
    for (name, topic, partitions) in topics {
        let Some(topic) = topic else { continue };
        let partitions = partitions
            .into_iter()
            .filter_map(|index| topic.partition(index))
            .map(|p| {
                DescribeLogDirsPartition::default()
                    .with_partition_index(p.index)
                    .with_partition_size(i64::try_from(p.log.size_bytes()).unwrap_or(i64::MAX))
                    .with_offset_lag(0)
            })
            .collect();
        result.topics.push(
            DescribeLogDirsTopic::default()
                .with_name(name)
                .with_partitions(partitions),
        );
    }
    let mut response = DescribeLogDirsResponse::default();
    response.results = vec![result];
    response
}

pub(crate) fn offset_for_leader_epoch(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: OffsetForLeaderEpochRequest,
    _version: i16,
) -> OffsetForLeaderEpochResponse {
    let mut response = OffsetForLeaderEpochResponse::default();
    for topic in request.topics {
        let found = state.topics.get(topic.topic.0.as_str());
        let refused = access.topic_code(Operation::Describe, &topic.topic);
        let partitions = topic
            .partitions
            .into_iter()
            .map(|wanted| {
                let base = EpochEndOffset::default().with_partition(wanted.partition);
                if refused != 0 {
                    return base.with_error_code(refused);
                }
                let Some(partition) = found.as_ref().and_then(|t| t.partition(wanted.partition))
                else {
                    return base.with_error_code(ResponseError::UnknownTopicOrPartition.code());
                };
                if wanted.current_leader_epoch > LEADER_EPOCH {
                    return base.with_error_code(ResponseError::UnknownLeaderEpoch.code());
                }
                if wanted.leader_epoch > LEADER_EPOCH {
                    // An epoch this log never had: Kafka's "undefined" answer.
                    return base.with_leader_epoch(-1).with_end_offset(-1);
                }
                base.with_leader_epoch(LEADER_EPOCH)
                    .with_end_offset(partition.log.high_watermark())
            })
            .collect();
        response.topics.push(
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic)
                .with_partitions(partitions),
        );
    }
    response
}
