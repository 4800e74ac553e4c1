//! CreateAcls, DescribeAcls and DeleteAcls, answered as Kafka answers them: SECURITY_DISABLED
//! without an authorizer, CLUSTER_AUTHORIZATION_FAILED without ALTER (create, delete) or
//! DESCRIBE (describe) on the cluster, INVALID_REQUEST for a binding or filter Kafka refuses.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;
use runnel_acl::{AclBinding, AclError, AclFilter, Operation, ResourcePattern};

use super::access::Access;
use crate::broker::BrokerState;

/// Kafka's message when no authorizer is configured.
const NO_AUTHORIZER: &str = "No Authorizer is configured.";

fn text(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// The code and message refusing the whole request, if it is: no authorizer, or the
/// requester may not do `operation` on the cluster.
fn refusal(access: &Access<'_>, operation: Operation) -> Option<(i16, String)> {
    if !access.enabled() {
        return Some((
            ResponseError::SecurityDisabled.code(),
            NO_AUTHORIZER.to_owned(),
        ));
    }
    if !access.cluster(operation) {
        return Some((
            ResponseError::ClusterAuthorizationFailed.code(),
            format!("{operation} on the cluster is needed to manage ACLs"),
        ));
    }
    None
}

fn invalid(error: &AclError) -> (i16, String) {
    (ResponseError::InvalidRequest.code(), error.to_string())
}

/// Runs `change` on the ACLs off the async threads (it writes the ACL file).
async fn change<T: Send + 'static>(
    state: &Arc<BrokerState>,
    change: impl FnOnce(&mut runnel_acl::Authorizer) -> T + Send + 'static,
) -> Result<T, (i16, String)> {
    let s = Arc::clone(state);
    match tokio::task::spawn_blocking(move || s.acls.change(change)).await {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(error)) => {
            tracing::warn!(%error, "ACLs not changed");
            Err((ResponseError::UnknownServerError.code(), error.to_string()))
        }
        Err(join) => Err((ResponseError::UnknownServerError.code(), join.to_string())),
    }
}

pub(crate) async fn create(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: CreateAclsRequest,
) -> CreateAclsResponse {
    let outcomes: Vec<Result<AclBinding, (i16, String)>> = match refusal(access, Operation::Alter) {
        Some(refused) => request
            .creations
            .iter()
            .map(|_| Err(refused.clone()))
            .collect(),
        None => request
            .creations
            .iter()
            .map(|c| {
                AclBinding::from_wire(
                    c.resource_type,
                    &c.resource_name,
                    c.resource_pattern_type,
                    &c.principal,
                    &c.host,
                    c.operation,
                    c.permission_type,
                )
                .map_err(|e| invalid(&e))
            })
            .collect(),
    };
    let mut results: Vec<Result<(), (i16, String)>> = Vec::with_capacity(outcomes.len());
    let mut valid: Vec<(usize, AclBinding)> = Vec::new();
    for (index, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(binding) => {
                valid.push((index, binding));
                results.push(Ok(()));
            }
            Err(refused) => results.push(Err(refused)),
        }
    }
    if !valid.is_empty() {
        let indexes: Vec<usize> = valid.iter().map(|(i, _)| *i).collect();
        // Each binding is added on its own: one refused (too many ACLs) leaves the others
        // of the request added, as Kafka answers per creation.
        let added = change(state, move |authorizer| {
            valid
                .into_iter()
                .map(|(_, b)| authorizer.add(b).map_err(|e| invalid(&e)))
                .collect::<Vec<_>>()
        })
        .await;
        match added {
            Ok(added) => {
                for (index, outcome) in indexes.into_iter().zip(added) {
                    results[index] = outcome;
                }
            }
            Err(failed) => {
                for index in indexes {
                    results[index] = Err(failed.clone());
                }
            }
        }
    }
    let results = results
        .into_iter()
        .map(|outcome| match outcome {
            Ok(()) => AclCreationResult::default(),
            Err((code, message)) => AclCreationResult::default()
                .with_error_code(code)
                .with_error_message(Some(text(message))),
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

pub(crate) fn describe(
    state: &BrokerState,
    access: &Access<'_>,
    request: DescribeAclsRequest,
) -> DescribeAclsResponse {
    let failed = |(code, message): (i16, String)| {
        DescribeAclsResponse::default()
            .with_error_code(code)
            .with_error_message(Some(text(message)))
    };
    if let Some(refused) = refusal(access, Operation::Describe) {
        return failed(refused);
    }
    let filter = match AclFilter::from_wire(
        request.resource_type_filter,
        request.resource_name_filter.as_deref(),
        request.pattern_type_filter,
        request.principal_filter.as_deref(),
        request.host_filter.as_deref(),
        request.operation,
        request.permission_type,
    ) {
        Ok(filter) => filter,
        Err(error) => return failed(invalid(&error)),
    };
    let authorizer = state.acls.authorizer();
    let mut by_pattern: BTreeMap<&ResourcePattern, Vec<AclDescription>> = BTreeMap::new();
    for binding in authorizer.matching(&filter) {
        by_pattern
            .entry(&binding.pattern)
            .or_default()
            .push(description(binding));
    }
    let resources = by_pattern
        .into_iter()
        .map(|(pattern, acls)| {
            DescribeAclsResource::default()
                .with_resource_type(pattern.resource_type.code())
                .with_resource_name(text(pattern.name.clone()))
                .with_pattern_type(pattern.pattern_type.code())
                .with_acls(acls)
        })
        .collect();
    DescribeAclsResponse::default().with_resources(resources)
}

fn description(binding: &AclBinding) -> AclDescription {
    AclDescription::default()
        .with_principal(text(binding.principal.clone()))
        .with_host(text(binding.host.clone()))
        .with_operation(binding.operation.code())
        .with_permission_type(binding.permission.code())
}

fn filter_of(f: &DeleteAclsFilter) -> Result<AclFilter, AclError> {
    AclFilter::from_wire(
        f.resource_type_filter,
        f.resource_name_filter.as_deref(),
        f.pattern_type_filter,
        f.principal_filter.as_deref(),
        f.host_filter.as_deref(),
        f.operation,
        f.permission_type,
    )
}

pub(crate) async fn delete(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: DeleteAclsRequest,
) -> DeleteAclsResponse {
    let failed = |(code, message): (i16, String)| {
        DeleteAclsFilterResult::default()
            .with_error_code(code)
            .with_error_message(Some(text(message)))
    };
    if let Some(refused) = refusal(access, Operation::Alter) {
        let results = request
            .filters
            .iter()
            .map(|_| failed(refused.clone()))
            .collect();
        return DeleteAclsResponse::default().with_filter_results(results);
    }
    let filters: Vec<Result<AclFilter, AclError>> = request.filters.iter().map(filter_of).collect();
    let valid: Vec<AclFilter> = filters.iter().flatten().cloned().collect();
    let removed = change(state, move |authorizer| {
        valid
            .iter()
            .map(|f| authorizer.remove_matching(f))
            .collect::<Vec<_>>()
    })
    .await;
    let mut removed = match removed {
        Ok(per_filter) => per_filter.into_iter().map(Ok).collect::<Vec<_>>(),
        Err(error) => filters
            .iter()
            .filter(|f| f.is_ok())
            .map(|_| Err(error.clone()))
            .collect(),
    }
    .into_iter();
    let results = filters
        .iter()
        .map(|filter| match filter {
            Err(error) => failed(invalid(error)),
            Ok(_) => match removed.next() {
                Some(Ok(bindings)) => DeleteAclsFilterResult::default()
                    .with_matching_acls(bindings.iter().map(matching_acl).collect()),
                Some(Err(error)) => failed(error),
                None => failed((
                    ResponseError::UnknownServerError.code(),
                    "no outcome for the filter".to_owned(),
                )),
            },
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}

fn matching_acl(binding: &AclBinding) -> DeleteAclsMatchingAcl {
    DeleteAclsMatchingAcl::default()
        .with_resource_type(binding.pattern.resource_type.code())
        .with_resource_name(text(binding.pattern.name.clone()))
        .with_pattern_type(binding.pattern.pattern_type.code())
        .with_principal(text(binding.principal.clone()))
        .with_host(text(binding.host.clone()))
        .with_operation(binding.operation.code())
        .with_permission_type(binding.permission.code())
}
