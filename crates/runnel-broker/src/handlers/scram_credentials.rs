//! DescribeUserScramCredentials and AlterUserScramCredentials (KIP-554), with Kafka's error
//! codes and messages.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;
use runnel_acl::Operation;
use runnel_auth::credentials::MAX_USER_BYTES;
use runnel_auth::{CredentialTable, ScramCredential, ScramMechanism};

use super::access::Access;
use crate::broker::BrokerState;
use crate::scram_credentials::CredentialStoreError;

type Refusal = (ResponseError, String);

pub(super) fn describe(
    state: &BrokerState,
    access: &Access<'_>,
    request: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    if !access.cluster(Operation::Describe) {
        return DescribeUserScramCredentialsResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
            .with_error_message(Some(StrBytes::from_static_str(
                "describing SCRAM credentials needs DESCRIBE on the cluster",
            )));
    }
    let table = state.scram_credentials.table();
    let users: Vec<String> = match request.users {
        // Null or empty: every user.
        Some(users) if !users.is_empty() => users.iter().map(|u| u.name.to_string()).collect(),
        _ => table.users().map(str::to_owned).collect(),
    };
    let mut seen = HashSet::new();
    let duplicated: HashSet<&String> = users.iter().filter(|u| !seen.insert(*u)).collect();
    let mut answered = HashSet::new();
    let results = users
        .iter()
        .filter(|user| answered.insert(*user))
        .map(|user| {
            let result = DescribeUserScramCredentialsResult::default()
                .with_user(StrBytes::from_string(user.clone()));
            let (error, message) = if duplicated.contains(user) {
                (
                    ResponseError::DuplicateResource,
                    format!("Cannot describe SCRAM credentials for the same user twice in a single request: {user}"),
                )
            } else if let Some(infos) = table.describe(user) {
                return result.with_credential_infos(
                    infos
                        .into_iter()
                        .map(|(mechanism, iterations)| {
                            CredentialInfo::default()
                                .with_mechanism(mechanism.kafka_type())
                                .with_iterations(i32::try_from(iterations).unwrap_or(i32::MAX))
                        })
                        .collect(),
                );
            } else {
                (
                    ResponseError::ResourceNotFound,
                    format!("Attempt to describe a user credential that does not exist: {user}"),
                )
            };
            result
                .with_error_code(error.code())
                .with_error_message(Some(StrBytes::from_string(message)))
        })
        .collect();
    DescribeUserScramCredentialsResponse::default().with_results(results)
}

/// One requested change, as checked.
enum Change {
    Delete(ScramMechanism),
    Set(ScramMechanism, ScramCredential),
}

pub(super) async fn alter(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    // Per user, in the order users first appear: its changes, or why none applies. As in
    // Kafka, one bad change refuses all of that user's changes, and no other user's.
    let mut users: Vec<String> = Vec::new();
    let mut planned: BTreeMap<String, Result<Vec<Change>, Refusal>> = BTreeMap::new();
    let mut add = |user: &str, change: Result<Change, Refusal>| {
        if !planned.contains_key(user) {
            users.push(user.to_owned());
        }
        let entry = planned.entry(user.to_owned()).or_insert(Ok(Vec::new()));
        let Ok(changes) = entry else { return };
        match change {
            Ok(change)
                if changes
                    .iter()
                    .any(|c| mechanism_of(c) == mechanism_of(&change)) =>
            {
                *entry = Err((
                    ResponseError::DuplicateResource,
                    "A user credential cannot be altered twice in the same request".to_owned(),
                ))
            }
            Ok(change) => changes.push(change),
            Err(refusal) => *entry = Err(refusal),
        }
    };
    for deletion in &request.deletions {
        let change = checked_user(&deletion.name)
            .and_then(|()| mechanism(deletion.mechanism))
            .map(Change::Delete);
        add(&deletion.name, change);
    }
    for upsertion in &request.upsertions {
        let change = checked_user(&upsertion.name)
            .and_then(|()| mechanism(upsertion.mechanism))
            .and_then(|m| {
                credential(
                    m,
                    upsertion.iterations,
                    &upsertion.salt,
                    &upsertion.salted_password,
                )
                .map(|c| Change::Set(m, c))
            });
        add(&upsertion.name, change);
    }
    if !access.cluster(Operation::Alter) {
        // As Kafka: every user of the request refused, nothing changed.
        planned = users
            .iter()
            .map(|user| {
                let refusal = (
                    ResponseError::ClusterAuthorizationFailed,
                    "changing SCRAM credentials needs ALTER on the cluster".to_owned(),
                );
                (user.clone(), Err(refusal))
            })
            .collect();
    }
    let s = Arc::clone(state);
    let saved = tokio::task::spawn_blocking(move || {
        s.scram_credentials.alter(|table| apply(table, planned))
    })
    .await;
    let outcomes = match saved {
        Ok(Ok(outcomes)) => Ok(outcomes),
        Ok(Err(CredentialStoreError::TooMany)) => Err((
            ResponseError::PolicyViolation,
            CredentialStoreError::TooMany.to_string(),
        )),
        Ok(Err(error)) => Err((ResponseError::UnknownServerError, error.to_string())),
        Err(join) => Err((ResponseError::UnknownServerError, join.to_string())),
    };
    let results = users
        .into_iter()
        .map(|user| {
            let refusal = match &outcomes {
                Ok(outcomes) => outcomes.get(&user).cloned().flatten(),
                Err(refusal) => Some(refusal.clone()),
            };
            let (code, message) = refusal.map_or((0, None), |(e, m)| (e.code(), Some(m)));
            AlterUserScramCredentialsResult::default()
                .with_user(StrBytes::from_string(user))
                .with_error_code(code)
                .with_error_message(message.map(StrBytes::from_string))
        })
        .collect();
    if let Err((_, message)) = &outcomes {
        tracing::warn!(%message, "SCRAM credentials not changed");
    }
    AlterUserScramCredentialsResponse::default().with_results(results)
}

/// Applies every user's checked changes to `table`; each user's refusal, if any.
fn apply(
    table: &mut CredentialTable,
    planned: BTreeMap<String, Result<Vec<Change>, Refusal>>,
) -> BTreeMap<String, Option<Refusal>> {
    planned
        .into_iter()
        .map(|(user, changes)| {
            let refusal = changes.and_then(|changes| {
                let missing = changes
                    .iter()
                    .any(|c| matches!(c, Change::Delete(m) if table.get(&user, *m).is_none()));
                if missing {
                    return Err((
                        ResponseError::ResourceNotFound,
                        "Attempt to delete a user credential that does not exist".to_owned(),
                    ));
                }
                for change in changes {
                    match change {
                        Change::Delete(m) => {
                            table.remove(&user, m);
                        }
                        Change::Set(m, credential) => table.set(&user, m, credential),
                    }
                }
                Ok(())
            });
            (user, refusal.err())
        })
        .collect()
}

fn mechanism_of(change: &Change) -> ScramMechanism {
    match change {
        Change::Delete(m) | Change::Set(m, _) => *m,
    }
}

fn checked_user(name: &str) -> Result<(), Refusal> {
    if name.is_empty() {
        return Err((
            ResponseError::UnacceptableCredential,
            "Username must not be empty".to_owned(),
        ));
    }
    if name.len() > MAX_USER_BYTES {
        return Err((
            ResponseError::UnacceptableCredential,
            format!("Username must be at most {MAX_USER_BYTES} bytes"),
        ));
    }
    Ok(())
}

fn mechanism(value: i8) -> Result<ScramMechanism, Refusal> {
    ScramMechanism::from_kafka_type(value).ok_or_else(|| {
        (
            ResponseError::UnsupportedSaslMechanism,
            "Unknown SCRAM mechanism".to_owned(),
        )
    })
}

fn credential(
    mechanism: ScramMechanism,
    iterations: i32,
    salt: &[u8],
    salted_password: &[u8],
) -> Result<ScramCredential, Refusal> {
    let unacceptable = |message: String| (ResponseError::UnacceptableCredential, message);
    let iterations = u32::try_from(iterations).unwrap_or(0);
    if iterations < ScramMechanism::MIN_ITERATIONS {
        return Err(unacceptable("Too few iterations".to_owned()));
    }
    if iterations > ScramMechanism::MAX_ITERATIONS {
        return Err(unacceptable("Too many iterations".to_owned()));
    }
    if salted_password.len() != mechanism.key_len() {
        return Err(unacceptable(format!(
            "A {} salted password has {} bytes",
            mechanism.name(),
            mechanism.key_len()
        )));
    }
    let credential =
        ScramCredential::from_salted_password(mechanism, salt, iterations, salted_password);
    credential.check(mechanism).map_err(unacceptable)?;
    Ok(credential)
}
