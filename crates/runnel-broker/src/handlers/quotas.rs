//! AlterClientQuotas and DescribeClientQuotas (KIP-546).

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::{
    alter_client_quotas_response, describe_client_quotas_response, AlterClientQuotasRequest,
    AlterClientQuotasResponse, DescribeClientQuotasRequest, DescribeClientQuotasResponse,
};
use kafka_protocol::protocol::StrBytes;

use runnel_acl::Operation;

use super::access::Access;
use crate::broker::BrokerState;
use crate::quotas::entity::{CLIENT_ID, USER};
use crate::quotas::{Change, Entity, Name, QuotaError, QuotaKey};

/// DescribeClientQuotas match types.
const MATCH_EXACT: i8 = 0;
const MATCH_DEFAULT: i8 = 1;
const MATCH_SPECIFIED: i8 = 2;

fn invalid(message: String) -> (i16, String) {
    (ResponseError::InvalidRequest.code(), message)
}

pub(super) async fn alter(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: AlterClientQuotasRequest,
) -> AlterClientQuotasResponse {
    // As Kafka: ALTER_CONFIGS on the cluster, else every entry is refused.
    let checked: Vec<Result<Vec<Change>, (i16, String)>> =
        match access.cluster_code(Operation::AlterConfigs) {
            0 => request.entries.iter().map(changes_of).collect(),
            refused => request
                .entries
                .iter()
                .map(|_| {
                    Err((
                        refused,
                        "ALTER_CONFIGS on the cluster is needed to alter quotas".to_owned(),
                    ))
                })
                .collect(),
        };
    let mut outcome: Vec<Option<(i16, String)>> =
        checked.iter().map(|c| c.as_ref().err().cloned()).collect();
    if !request.validate_only {
        let changes: Vec<Change> = checked.into_iter().flatten().flatten().collect();
        if !changes.is_empty() {
            let s = Arc::clone(state);
            let saved = match tokio::task::spawn_blocking(move || s.quotas.alter(&changes)).await {
                Ok(Ok(())) => None,
                Ok(Err(QuotaError::TooMany)) => Some((
                    ResponseError::PolicyViolation.code(),
                    QuotaError::TooMany.to_string(),
                )),
                Ok(Err(error)) => {
                    Some((ResponseError::UnknownServerError.code(), error.to_string()))
                }
                Err(join) => Some((ResponseError::UnknownServerError.code(), join.to_string())),
            };
            if let Some((code, message)) = saved {
                tracing::warn!(%message, "client quotas not changed");
                for entry in outcome.iter_mut().filter(|o| o.is_none()) {
                    *entry = Some((code, message.clone()));
                }
            }
        }
    }
    let entries = request
        .entries
        .iter()
        .zip(outcome)
        .map(|(entry, outcome)| {
            let (code, message) = outcome.map_or((0, None), |(c, m)| (c, Some(m)));
            alter_client_quotas_response::EntryData::default()
                .with_error_code(code)
                .with_error_message(message.map(StrBytes::from_string))
                .with_entity(
                    entry
                        .entity
                        .iter()
                        .map(|e| {
                            alter_client_quotas_response::EntityData::default()
                                .with_entity_type(e.entity_type.clone())
                                .with_entity_name(e.entity_name.clone())
                        })
                        .collect(),
                )
        })
        .collect();
    AlterClientQuotasResponse::default().with_entries(entries)
}

/// The changes one entry asks for, or why it is refused.
fn changes_of(entry: &EntryData) -> Result<Vec<Change>, (i16, String)> {
    let entity = entity_of(&entry.entity)?;
    let mut seen = BTreeSet::new();
    let mut changes = Vec::with_capacity(entry.ops.len());
    for op in &entry.ops {
        let key = QuotaKey::from_name(&op.key).ok_or_else(|| {
            invalid(format!(
                "unknown quota key {:?}: expected producer_byte_rate, consumer_byte_rate or \
                 request_percentage",
                op.key.as_str()
            ))
        })?;
        if !seen.insert(key) {
            return Err(invalid(format!(
                "quota key {} given twice for {entity}",
                key.name()
            )));
        }
        let value = if op.remove {
            None
        } else {
            key.validate(op.value).map_err(invalid)?;
            Some(op.value)
        };
        changes.push((entity.clone(), key, value));
    }
    Ok(changes)
}

fn entity_of(components: &[EntityData]) -> Result<Entity, (i16, String)> {
    let mut entity = Entity {
        user: None,
        client_id: None,
    };
    for component in components {
        let slot = match component.entity_type.as_str() {
            USER => &mut entity.user,
            CLIENT_ID => &mut entity.client_id,
            other => {
                return Err(invalid(format!(
                    "unsupported entity type {other:?}: expected user or client-id"
                )))
            }
        };
        if slot.is_some() {
            return Err(invalid(format!(
                "entity type {} given twice",
                component.entity_type.as_str()
            )));
        }
        *slot = Some(Name::from_wire(component.entity_name.as_deref()));
    }
    if entity.user.is_none() && entity.client_id.is_none() {
        return Err(invalid("an entity needs a user or a client-id".to_owned()));
    }
    Ok(entity)
}

/// How one component of a DescribeClientQuotas filter matches an entity's component.
#[derive(Debug)]
enum Match {
    Exact(String),
    Default,
    Specified,
}

impl Match {
    fn accepts(&self, name: Option<&Name>) -> bool {
        match (self, name) {
            (Match::Exact(want), Some(Name::Named(name))) => want == name,
            (Match::Default, Some(Name::Default)) => true,
            (Match::Specified, Some(Name::Named(_))) => true,
            _ => false,
        }
    }
}

#[derive(Debug, Default)]
struct Filter {
    user: Option<Match>,
    client_id: Option<Match>,
    strict: bool,
}

impl Filter {
    fn accepts(&self, entity: &Entity) -> bool {
        let component = |filter: &Option<Match>, name: &Option<Name>| match filter {
            Some(m) => m.accepts(name.as_ref()),
            // Strict: only the entities with exactly the filtered components.
            None => !self.strict || name.is_none(),
        };
        component(&self.user, &entity.user) && component(&self.client_id, &entity.client_id)
    }
}

fn filter_of(components: &[ComponentData], strict: bool) -> Result<Filter, (i16, String)> {
    let mut filter = Filter {
        strict,
        ..Filter::default()
    };
    for component in components {
        let slot = match component.entity_type.as_str() {
            USER => &mut filter.user,
            CLIENT_ID => &mut filter.client_id,
            other => {
                return Err(invalid(format!(
                    "unsupported entity type {other:?}: expected user or client-id"
                )))
            }
        };
        if slot.is_some() {
            return Err(invalid(format!(
                "entity type {} filtered twice",
                component.entity_type.as_str()
            )));
        }
        let name = component._match.as_ref().map(|m| m.to_string());
        *slot = Some(match (component.match_type, name) {
            (MATCH_EXACT, Some(name)) => Match::Exact(name),
            (MATCH_DEFAULT, None) => Match::Default,
            (MATCH_SPECIFIED, None) => Match::Specified,
            (MATCH_EXACT, None) => {
                return Err(invalid("an exact match needs a name to match".to_owned()))
            }
            (MATCH_DEFAULT | MATCH_SPECIFIED, Some(_)) => {
                return Err(invalid(
                    "only an exact match (type 0) takes a name to match".to_owned(),
                ))
            }
            (other, _) => {
                return Err(invalid(format!(
                    "unknown match type {other}: expected 0 (exact), 1 (default) or 2 (any)"
                )))
            }
        });
    }
    Ok(filter)
}

pub(super) fn describe(
    state: &BrokerState,
    access: &Access<'_>,
    request: DescribeClientQuotasRequest,
) -> DescribeClientQuotasResponse {
    let refused = access.cluster_code(Operation::DescribeConfigs);
    let filter = match filter_of(&request.components, request.strict) {
        _ if refused != 0 => {
            return DescribeClientQuotasResponse::default()
                .with_error_code(refused)
                .with_error_message(Some(StrBytes::from_static_str(
                    "DESCRIBE_CONFIGS on the cluster is needed to describe quotas",
                )))
                .with_entries(None)
        }
        Ok(filter) => filter,
        Err((code, message)) => {
            return DescribeClientQuotasResponse::default()
                .with_error_code(code)
                .with_error_message(Some(StrBytes::from_string(message)))
                .with_entries(None)
        }
    };
    let table = state.quotas.table();
    let entries = table
        .entities()
        .filter(|(entity, _)| filter.accepts(entity))
        .map(|(entity, quotas)| {
            let component = |kind: &'static str, name: &Name| {
                describe_client_quotas_response::EntityData::default()
                    .with_entity_type(StrBytes::from_static_str(kind))
                    .with_entity_name(name.as_wire().map(|n| StrBytes::from_string(n.to_owned())))
            };
            let components = entity
                .user
                .iter()
                .map(|name| component(USER, name))
                .chain(
                    entity
                        .client_id
                        .iter()
                        .map(|name| component(CLIENT_ID, name)),
                )
                .collect();
            let values = quotas
                .iter()
                .map(|(key, value)| {
                    describe_client_quotas_response::ValueData::default()
                        .with_key(StrBytes::from_static_str(key.name()))
                        .with_value(*value)
                })
                .collect();
            describe_client_quotas_response::EntryData::default()
                .with_entity(components)
                .with_values(values)
        })
        .collect();
    DescribeClientQuotasResponse::default().with_entries(Some(entries))
}
