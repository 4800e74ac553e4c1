//! Topic administration: CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteRecordsRequest, DeleteRecordsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use runnel_acl::Operation;

use super::access::Access;
use super::configs::describe_topic_configs;
use crate::broker::BrokerState;
use crate::error::{log_error_code, topic_error_code};
use crate::topics::TopicError;

/// Version from which CreateTopics answers with the created topic's settings.
const CREATE_TOPICS_DETAILS_VERSION: i16 = 5;

/// Runs a blocking topic operation off the reactor; a failed task becomes an error code.
async fn blocking<T: Send + 'static>(
    state: &Arc<BrokerState>,
    work: impl FnOnce(&BrokerState) -> Result<T, TopicError> + Send + 'static,
) -> Result<T, (i16, String)> {
    let s = Arc::clone(state);
    match tokio::task::spawn_blocking(move || work(&s)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err((topic_error_code(&error), error.to_string())),
        Err(join) => Err((ResponseError::UnknownServerError.code(), join.to_string())),
    }
}

fn message(text: String) -> Option<StrBytes> {
    Some(StrBytes::from_string(text))
}

pub(crate) async fn create_topics(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut response = CreateTopicsResponse::default();
    for topic in request.topics {
        // As Kafka: CREATE on the cluster or on the topic.
        if !access.may_create_topic(&topic.name) {
            response.topics.push(
                CreatableTopicResult::default()
                    .with_name(topic.name)
                    .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                    .with_error_message(message(
                        "CREATE on the cluster or the topic is needed".to_owned(),
                    )),
            );
            continue;
        }
        let name = topic.name.0.to_string();
        let mut result = create_one(state, topic, request.validate_only, version).await;
        // As Kafka: the new topic's settings are shown only with DESCRIBE_CONFIGS on it.
        if result.error_code == 0
            && version >= CREATE_TOPICS_DETAILS_VERSION
            && !access.topic(Operation::DescribeConfigs, &name)
        {
            result.num_partitions = -1;
            result.replication_factor = -1;
            result.configs = None;
            result.topic_config_error_code = ResponseError::TopicAuthorizationFailed.code();
        }
        response.topics.push(result);
    }
    response
}

async fn create_one(
    state: &Arc<BrokerState>,
    topic: CreatableTopic,
    validate_only: bool,
    version: i16,
) -> CreatableTopicResult {
    let name = topic.name.0.to_string();
    let mut result = CreatableTopicResult::default().with_name(topic.name.clone());
    let node = state.config.node_id;
    let fail = |result: CreatableTopicResult, code: i16, text: String| {
        result
            .with_error_code(code)
            .with_error_message(message(text))
    };
    if !matches!(topic.replication_factor, -1 | 1) {
        return fail(
            result,
            ResponseError::InvalidReplicationFactor.code(),
            "a single node holds one replica: replication factor must be 1".to_owned(),
        );
    }
    let partitions = if !topic.assignments.is_empty() {
        if topic.num_partitions != -1 || topic.replication_factor != -1 {
            return fail(
                result,
                ResponseError::InvalidRequest.code(),
                "give either assignments or partitions and replication factor".to_owned(),
            );
        }
        let mut indexes: Vec<i32> = topic
            .assignments
            .iter()
            .map(|a| a.partition_index)
            .collect();
        indexes.sort_unstable();
        let dense = indexes.iter().enumerate().all(|(i, &p)| i as i32 == p);
        let local = topic
            .assignments
            .iter()
            .all(|a| a.broker_ids.len() == 1 && a.broker_ids[0].0 == node);
        if !dense || !local {
            return fail(
                result,
                ResponseError::InvalidReplicaAssignment.code(),
                format!("every partition 0..n must be assigned to broker {node} alone"),
            );
        }
        indexes.len() as i32
    } else if topic.num_partitions == -1 {
        state.config.num_partitions
    } else {
        topic.num_partitions
    };
    let mut overrides = BTreeMap::new();
    for config in &topic.configs {
        match &config.value {
            Some(value) => {
                overrides.insert(config.name.to_string(), value.to_string());
            }
            None => {
                return fail(
                    result,
                    ResponseError::InvalidConfig.code(),
                    format!("null value for {}", config.name.as_str()),
                )
            }
        }
    }
    let outcome = blocking(state, move |s| {
        if validate_only {
            s.topics.validate_new(&name, partitions, &overrides)?;
            Ok(None)
        } else {
            s.topics
                .create(&name, partitions, overrides, false)
                .map(Some)
        }
    })
    .await;
    match outcome {
        Err((code, text)) => fail(result, code, text),
        Ok(created) => {
            if version >= CREATE_TOPICS_DETAILS_VERSION {
                result.num_partitions = partitions;
                result.replication_factor = 1;
                if let Some(created) = &created {
                    let configs = describe_topic_configs(state, &created.overrides(), None)
                        .into_iter()
                        .map(|c| {
                            CreatableTopicConfigs::default()
                                .with_name(c.name)
                                .with_value(c.value)
                                .with_read_only(c.read_only)
                                .with_config_source(c.config_source)
                                .with_is_sensitive(false)
                        })
                        .collect();
                    result.configs = Some(configs);
                }
            }
            if let Some(created) = created {
                result.topic_id = created.id;
            }
            result
        }
    }
}

pub(crate) async fn delete_topics(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    // v6 names topics by name or id; before, by name only.
    let wanted: Vec<(Option<TopicName>, uuid::Uuid)> = if version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n), uuid::Uuid::nil()))
            .collect()
    };
    let mut response = DeleteTopicsResponse::default();
    for (name, id) in wanted {
        let topic = match &name {
            Some(name) => state.topics.get(name.0.as_str()),
            None => state.topics.by_id(id),
        };
        let mut result = DeletableTopicResult::default()
            .with_name(name.clone())
            .with_topic_id(id);
        // As Kafka: DELETE on the topic, checked before its existence when named.
        let refused = match (&name, &topic) {
            (Some(name), _) => access.topic_code(Operation::Delete, name),
            (None, Some(topic)) => access.topic_code(Operation::Delete, &topic.name),
            (None, None) => 0,
        };
        if refused != 0 {
            response.responses.push(result.with_error_code(refused));
            continue;
        }
        let Some(topic) = topic else {
            let code = if name.is_some() {
                ResponseError::UnknownTopicOrPartition.code()
            } else {
                ResponseError::UnknownTopicId.code()
            };
            response.responses.push(result.with_error_code(code));
            continue;
        };
        result.name = Some(TopicName(StrBytes::from_string(topic.name.clone())));
        result.topic_id = topic.id;
        if topic.internal {
            response.responses.push(
                result
                    .with_error_code(ResponseError::InvalidTopicException.code())
                    .with_error_message(message(format!("{} is an internal topic", topic.name))),
            );
            continue;
        }
        let doomed = topic.name.clone();
        match blocking(state, move |s| s.topics.delete(&doomed)).await {
            Ok(()) => {
                // Share-partitions are keyed by topic id, so a topic created again under this
                // name starts clean whether or not this reaches the disk; deleting the stored
                // state only keeps the state topic from holding it for ever.
                let changes = state.shares.forget_topic(topic.id);
                if let Err(error) = crate::share::store::persist(state, &changes).await {
                    tracing::warn!(topic = %topic.name, %error,
                        "deleting the share-group state of a deleted topic failed");
                }
                state.metrics.topic_deleted(&topic.name);
                response.responses.push(result);
            }
            Err((code, text)) => response.responses.push(
                result
                    .with_error_code(code)
                    .with_error_message(message(text)),
            ),
        }
    }
    response
}

pub(crate) async fn create_partitions(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut response = CreatePartitionsResponse::default();
    let validate_only = request.validate_only;
    for topic in request.topics {
        let result = CreatePartitionsTopicResult::default().with_name(topic.name.clone());
        let refused = access.topic_code(Operation::Alter, &topic.name);
        if refused != 0 {
            response.results.push(result.with_error_code(refused));
            continue;
        }
        let node = state.config.node_id;
        if let Some(assignments) = &topic.assignments {
            if !assignments
                .iter()
                .all(|a| a.broker_ids.len() == 1 && a.broker_ids[0].0 == node)
            {
                response.results.push(
                    result
                        .with_error_code(ResponseError::InvalidReplicaAssignment.code())
                        .with_error_message(message(format!(
                            "new partitions must be assigned to broker {node} alone"
                        ))),
                );
                continue;
            }
        }
        let name = topic.name.0.to_string();
        let count = topic.count;
        let outcome = blocking(state, move |s| {
            s.topics.add_partitions(&name, count, validate_only)
        })
        .await;
        response.results.push(match outcome {
            Ok(()) => result,
            Err((code, text)) => result
                .with_error_code(code)
                .with_error_message(message(text)),
        });
    }
    response
}

pub(crate) async fn delete_records(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let mut response = DeleteRecordsResponse::default();
    for topic in request.topics {
        let found = state.topics.get(topic.name.0.as_str());
        let refused = access.topic_code(Operation::Delete, &topic.name);
        let mut result = DeleteRecordsTopicResult::default().with_name(topic.name);
        for wanted in topic.partitions {
            let base = DeleteRecordsPartitionResult::default()
                .with_partition_index(wanted.partition_index);
            if refused != 0 {
                result
                    .partitions
                    .push(base.with_error_code(refused).with_low_watermark(-1));
                continue;
            }
            let Some(partition) = found
                .as_ref()
                .and_then(|t| t.partition(wanted.partition_index))
            else {
                result.partitions.push(
                    base.with_error_code(ResponseError::UnknownTopicOrPartition.code())
                        .with_low_watermark(-1),
                );
                continue;
            };
            let p = Arc::clone(&partition);
            let offset = wanted.offset;
            let deleted = tokio::task::spawn_blocking(move || {
                // -1 means "up to the high watermark", as in Kafka.
                let offset = if offset == -1 {
                    p.log.high_watermark()
                } else {
                    offset
                };
                p.log.delete_records(offset)
            })
            .await;
            partition.notify();
            result.partitions.push(match deleted {
                Ok(Ok(low)) => base.with_low_watermark(low),
                Ok(Err(error)) => base
                    .with_error_code(log_error_code(&error))
                    .with_low_watermark(-1),
                Err(_) => base
                    .with_error_code(ResponseError::UnknownServerError.code())
                    .with_low_watermark(-1),
            });
        }
        response.topics.push(result);
    }
    response
}
