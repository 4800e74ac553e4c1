//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics (and a read-only view
//! of the broker's settings). Topic changes apply live to every partition's log.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest,
    AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use runnel_log::CONFIG_NAMES;

use crate::topic_settings::{self, Kind};

use runnel_acl::Operation;

use super::access::Access;
use crate::broker::BrokerState;
use crate::config::broker_name_for_topic_setting;
use crate::error::topic_error_code;

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const RESOURCE_GROUP: i8 = 32;
/// The broker's loggers, which Kafka authorizes as the cluster.
const RESOURCE_BROKER_LOGGER: i8 = 8;

/// The code refusing `operation` (DESCRIBE_CONFIGS or ALTER_CONFIGS) on a config resource,
/// or 0: as Kafka, on the topic or group itself, or on the cluster for a broker.
fn refusal(access: &Access<'_>, operation: Operation, resource_type: i8, name: &str) -> i16 {
    match resource_type {
        RESOURCE_TOPIC => access.topic_code(operation, name),
        RESOURCE_GROUP => access.group_code(operation, name),
        RESOURCE_BROKER | RESOURCE_BROKER_LOGGER => access.cluster_code(operation),
        _ => 0,
    }
}

// Kafka's ConfigSource values.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;
const SOURCE_GROUP: i8 = 8;

// Kafka's ConfigType values (DescribeConfigs v3+).
const TYPE_BOOLEAN: i8 = 1;
const TYPE_STRING: i8 = 2;
const TYPE_INT: i8 = 3;
const TYPE_LONG: i8 = 5;
const TYPE_DOUBLE: i8 = 6;
const TYPE_LIST: i8 = 7;

// IncrementalAlterConfigs operations.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

fn config_type(name: &str) -> i8 {
    if let Some(setting) = topic_settings::stored_only(name) {
        return match setting.kind {
            Kind::Long { .. } => TYPE_LONG,
            Kind::Int { .. } => TYPE_INT,
            Kind::Boolean => TYPE_BOOLEAN,
            Kind::ReplicaList => TYPE_LIST,
        };
    }
    match name {
        "cleanup.policy" => TYPE_LIST,
        "message.timestamp.type" | "compression.type" => TYPE_STRING,
        "runnel.conditional.append.enable" => TYPE_BOOLEAN,
        "min.cleanable.dirty.ratio" => TYPE_DOUBLE,
        "max.message.bytes" | "segment.bytes" | "segment.index.bytes" | "index.interval.bytes" => {
            TYPE_INT
        }
        _ => TYPE_LONG,
    }
}

fn text(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// Every topic setting (or the `keys` asked for), with its value and where it comes from.
pub(crate) fn describe_topic_configs(
    state: &BrokerState,
    overrides: &BTreeMap<String, String>,
    keys: Option<&[StrBytes]>,
) -> Vec<DescribeConfigsResourceResult> {
    let defaults = state.topics.defaults();
    let effective = state
        .topics
        .effective_config(overrides)
        .unwrap_or_else(|_| defaults.clone());
    topic_settings::all_names()
        .into_iter()
        .filter(|name| keys.is_none_or(|keys| keys.iter().any(|k| k.as_str() == *name)))
        .map(|name| {
            let broker_name = broker_name_for_topic_setting(name);
            let broker_value = broker_name.and_then(|b| state.config.explicit_log_settings.get(b));
            let mut synonyms = Vec::new();
            if let Some(value) = overrides.get(name) {
                synonyms.push((name.to_owned(), value.clone(), SOURCE_TOPIC));
            }
            if let (Some(b), Some(value)) = (broker_name, broker_value) {
                synonyms.push((b.to_owned(), value.clone(), SOURCE_STATIC_BROKER));
            }
            let source = synonyms.first().map_or(SOURCE_DEFAULT, |s| s.2);
            let value = match topic_settings::stored_only(name) {
                Some(setting) => Some(
                    overrides
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| setting.default.to_owned()),
                ),
                None => effective.get(name),
            };
            DescribeConfigsResourceResult::default()
                .with_name(text(name))
                .with_value(value.map(text))
                .with_read_only(false)
                .with_config_source(source)
                .with_config_type(config_type(name))
                .with_synonyms(
                    synonyms
                        .into_iter()
                        .map(|(n, v, s)| {
                            DescribeConfigsSynonym::default()
                                .with_name(text(n))
                                .with_value(Some(text(v)))
                                .with_source(s)
                        })
                        .collect(),
                )
        })
        .collect()
}

fn describe_broker_configs(
    state: &BrokerState,
    keys: Option<&[StrBytes]>,
) -> Vec<DescribeConfigsResourceResult> {
    let c = &state.config;
    let mut entries: Vec<(String, String, i8, i8)> = vec![
        (
            "node.id".into(),
            c.node_id.to_string(),
            SOURCE_STATIC_BROKER,
            TYPE_INT,
        ),
        (
            "num.partitions".into(),
            c.num_partitions.to_string(),
            SOURCE_STATIC_BROKER,
            TYPE_INT,
        ),
        (
            "auto.create.topics.enable".into(),
            c.auto_create_topics.to_string(),
            SOURCE_STATIC_BROKER,
            TYPE_BOOLEAN,
        ),
        (
            "socket.request.max.bytes".into(),
            c.max_request_bytes.to_string(),
            SOURCE_STATIC_BROKER,
            TYPE_INT,
        ),
    ];
    for &topic_name in CONFIG_NAMES {
        if let Some(broker_name) = broker_name_for_topic_setting(topic_name) {
            let explicit = c.explicit_log_settings.contains_key(broker_name);
            let value = state.topics.defaults().get(topic_name).unwrap_or_default();
            let source = if explicit {
                SOURCE_STATIC_BROKER
            } else {
                SOURCE_DEFAULT
            };
            entries.push((
                broker_name.to_owned(),
                value,
                source,
                config_type(topic_name),
            ));
        }
    }
    entries
        .into_iter()
        .filter(|(name, ..)| keys.is_none_or(|keys| keys.iter().any(|k| k.as_str() == name)))
        .map(|(name, value, source, kind)| {
            // Broker settings come from the config file at start-up; they are not alterable.
            DescribeConfigsResourceResult::default()
                .with_name(text(name))
                .with_value(Some(text(value)))
                .with_read_only(true)
                .with_config_source(source)
                .with_config_type(kind)
        })
        .collect()
}

pub(crate) fn describe(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let mut response = DescribeConfigsResponse::default();
    for resource in request.resources {
        let mut result = DescribeConfigsResult::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name.clone());
        let keys = resource.configuration_keys.as_deref();
        let refused = refusal(
            access,
            Operation::DescribeConfigs,
            resource.resource_type,
            &resource.resource_name,
        );
        match resource.resource_type {
            _ if refused != 0 => result.error_code = refused,
            RESOURCE_TOPIC => match state.topics.get(resource.resource_name.as_str()) {
                Some(topic) => {
                    result.configs = describe_topic_configs(state, &topic.overrides(), keys)
                }
                None => result.error_code = ResponseError::UnknownTopicOrPartition.code(),
            },
            RESOURCE_BROKER
                if resource.resource_name.is_empty()
                    || resource.resource_name.as_str() == state.config.node_id.to_string() =>
            {
                result.configs = describe_broker_configs(state, keys)
            }
            RESOURCE_GROUP => {
                result.configs =
                    describe_group_configs(state, resource.resource_name.as_str(), keys)
            }
            _ => {
                result.error_code = ResponseError::InvalidRequest.code();
                result.error_message = Some(text(
                    "only topic, group and this broker's configs can be described",
                ));
            }
        }
        if !request.include_synonyms {
            for config in &mut result.configs {
                config.synonyms.clear();
            }
        }
        if version < 3 {
            // config_type is not on the wire before v3; keep the default so encoding works.
            for config in &mut result.configs {
                config.config_type = 0;
            }
        }
        response.results.push(result);
    }
    response
}

/// A share group's settings: overrides where set, broker defaults otherwise.
fn describe_group_configs(
    state: &BrokerState,
    group: &str,
    keys: Option<&[StrBytes]>,
) -> Vec<DescribeConfigsResourceResult> {
    let settings = state.shares.settings(group);
    let overrides = state.shares.overrides(group);
    crate::share::config::GROUP_SETTINGS
        .iter()
        .filter(|(name, _)| keys.is_none_or(|k| k.iter().any(|k| k.as_str() == *name)))
        .filter_map(|(name, doc)| {
            let value = settings.value_of(name)?;
            let source = if overrides.contains_key(*name) {
                SOURCE_GROUP
            } else {
                SOURCE_DEFAULT
            };
            Some(
                DescribeConfigsResourceResult::default()
                    .with_name(text(*name))
                    .with_value(Some(text(value)))
                    .with_config_source(source)
                    .with_read_only(false)
                    .with_documentation(Some(text(*doc)))
                    .with_config_type(if name.ends_with(".ms") || name.ends_with(".limit") {
                        TYPE_INT
                    } else {
                        TYPE_STRING
                    }),
            )
        })
        .collect()
}

/// Why a requested change was refused: (error code, message).
type Refusal = (i16, String);

fn invalid(message: String) -> Refusal {
    (ResponseError::InvalidConfig.code(), message)
}

/// Applies new overrides to a topic (or only validates them).
async fn apply(
    state: &Arc<BrokerState>,
    resource_type: i8,
    name: &StrBytes,
    validate_only: bool,
    change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), Refusal> + Send + 'static,
) -> Result<(), Refusal> {
    if resource_type == RESOURCE_GROUP {
        return apply_group(state, name.as_str(), validate_only, change).await;
    }
    if resource_type != RESOURCE_TOPIC {
        return Err((
            ResponseError::InvalidRequest.code(),
            "only topic and group configs can be altered; broker settings are static".to_owned(),
        ));
    }
    let Some(topic) = state.topics.get(name.as_str()) else {
        return Err((
            ResponseError::UnknownTopicOrPartition.code(),
            format!("unknown topic {name}"),
        ));
    };
    let s = Arc::clone(state);
    tokio::task::spawn_blocking(move || {
        let mut overrides = topic.overrides();
        change(&mut overrides)?;
        s.topics
            .set_overrides(&topic.name, overrides, validate_only)
            .map_err(|e| (topic_error_code(&e), e.to_string()))
    })
    .await
    .unwrap_or_else(|e| Err((ResponseError::UnknownServerError.code(), e.to_string())))
}

/// Applies new overrides to a share group's settings, storing them first.
async fn apply_group(
    state: &Arc<BrokerState>,
    group: &str,
    validate_only: bool,
    change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), Refusal>,
) -> Result<(), Refusal> {
    let mut overrides = state.shares.overrides(group);
    change(&mut overrides)?;
    let stored = state
        .shares
        .check_overrides(group, overrides.clone())
        .map_err(|e| invalid(e.to_string()))?;
    if validate_only {
        return Ok(());
    }
    crate::share::store::persist(state, &[stored])
        .await
        .map_err(|e| (crate::error::log_error_code(&e), e.to_string()))?;
    state
        .shares
        .set_overrides(group, (!overrides.is_empty()).then_some(overrides));
    Ok(())
}

pub(crate) async fn alter(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut response = AlterConfigsResponse::default();
    for resource in request.resources {
        let refused = refusal(
            access,
            Operation::AlterConfigs,
            resource.resource_type,
            &resource.resource_name,
        );
        if refused != 0 {
            response.responses.push(
                alter_configs_response::AlterConfigsResourceResponse::default()
                    .with_resource_type(resource.resource_type)
                    .with_resource_name(resource.resource_name)
                    .with_error_code(refused),
            );
            continue;
        }
        // AlterConfigs replaces the whole set of overrides.
        let configs: Vec<(String, Option<String>)> = resource
            .configs
            .iter()
            .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
            .collect();
        let outcome = apply(
            state,
            resource.resource_type,
            &resource.resource_name,
            request.validate_only,
            move |o| {
                o.clear();
                for (name, value) in configs {
                    if let Some(value) = value {
                        o.insert(name, value);
                    }
                }
                Ok(())
            },
        )
        .await;
        let mut result = alter_configs_response::AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name);
        if let Err((code, message)) = outcome {
            result.error_code = code;
            result.error_message = Some(text(message));
        }
        response.responses.push(result);
    }
    response
}

pub(crate) async fn incremental_alter(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut response = IncrementalAlterConfigsResponse::default();
    for resource in request.resources {
        let refused = refusal(
            access,
            Operation::AlterConfigs,
            resource.resource_type,
            &resource.resource_name,
        );
        if refused != 0 {
            response.responses.push(
                incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                    .with_resource_type(resource.resource_type)
                    .with_resource_name(resource.resource_name)
                    .with_error_code(refused),
            );
            continue;
        }
        let ops: Vec<(String, i8, Option<String>)> = resource
            .configs
            .iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    c.config_operation,
                    c.value.as_ref().map(|v| v.to_string()),
                )
            })
            .collect();
        let resource_type = resource.resource_type;
        let outcome = apply(
            state,
            resource_type,
            &resource.resource_name,
            request.validate_only,
            move |o| {
                for (name, op, value) in ops {
                    apply_op(o, resource_type, &name, op, value)?;
                }
                Ok(())
            },
        )
        .await;
        let mut result =
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name);
        if let Err((code, message)) = outcome {
            result.error_code = code;
            result.error_message = Some(text(message));
        }
        response.responses.push(result);
    }
    response
}

/// One IncrementalAlterConfigs operation on a topic's overrides.
fn apply_op(
    overrides: &mut BTreeMap<String, String>,
    resource_type: i8,
    name: &str,
    op: i8,
    value: Option<String>,
) -> Result<(), Refusal> {
    if resource_type == RESOURCE_GROUP {
        if !crate::share::config::GROUP_SETTINGS
            .iter()
            .any(|(n, _)| *n == name)
        {
            return Err(invalid(format!("unknown group config {name:?}")));
        }
    } else if !topic_settings::all_names().contains(&name) {
        return Err(invalid(format!("Unknown topic config name: {name}")));
    }
    match op {
        OP_SET => {
            let value = value.ok_or_else(|| invalid(format!("SET {name} needs a value")))?;
            overrides.insert(name.to_owned(), value);
        }
        OP_DELETE => {
            overrides.remove(name);
        }
        OP_APPEND | OP_SUBTRACT => {
            if config_type(name) != TYPE_LIST {
                return Err(invalid(format!("{name} is not a list")));
            }
            let value =
                value.ok_or_else(|| invalid(format!("APPEND/SUBTRACT {name} needs a value")))?;
            let current = overrides.get(name).cloned().unwrap_or_default();
            let mut items: Vec<String> = current
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if op == OP_APPEND {
                    if !items.iter().any(|i| i == item) {
                        items.push(item.to_owned());
                    }
                } else {
                    items.retain(|i| i != item);
                }
            }
            if items.is_empty() {
                overrides.remove(name);
            } else {
                overrides.insert(name.to_owned(), items.join(","));
            }
        }
        other => return Err(invalid(format!("unknown config operation {other}"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn incremental_operations() {
        let mut o = BTreeMap::new();
        apply_op(
            &mut o,
            RESOURCE_TOPIC,
            "retention.ms",
            OP_SET,
            Some("5".into()),
        )
        .unwrap();
        apply_op(
            &mut o,
            RESOURCE_TOPIC,
            "cleanup.policy",
            OP_APPEND,
            Some("compact".into()),
        )
        .unwrap();
        apply_op(
            &mut o,
            RESOURCE_TOPIC,
            "cleanup.policy",
            OP_APPEND,
            Some("delete".into()),
        )
        .unwrap();
        assert_eq!(o["cleanup.policy"], "compact,delete");
        apply_op(
            &mut o,
            RESOURCE_TOPIC,
            "cleanup.policy",
            OP_SUBTRACT,
            Some("compact".into()),
        )
        .unwrap();
        assert_eq!(o["cleanup.policy"], "delete");
        apply_op(&mut o, RESOURCE_TOPIC, "retention.ms", OP_DELETE, None).unwrap();
        assert!(!o.contains_key("retention.ms"));
        assert!(apply_op(
            &mut o,
            RESOURCE_TOPIC,
            "retention.ms",
            OP_APPEND,
            Some("1".into())
        )
        .is_err());
        assert!(apply_op(&mut o, RESOURCE_TOPIC, "no.such", OP_SET, Some("1".into())).is_err());
        assert!(apply_op(&mut o, RESOURCE_TOPIC, "retention.ms", 9, Some("1".into())).is_err());
        // Group resources take share-group settings, not topic ones.
        apply_op(
            &mut o,
            RESOURCE_GROUP,
            "share.delivery.count.limit",
            OP_SET,
            Some("3".into()),
        )
        .unwrap();
        assert!(apply_op(
            &mut o,
            RESOURCE_GROUP,
            "retention.ms",
            OP_SET,
            Some("1".into())
        )
        .is_err());
    }
}
