//! Requests over [`crate::wire`] shared by the commands that need them (`transactions`,
//! `group`): connecting with the command's timeout, choosing versions, finding brokers and
//! coordinators, turning error codes into [`CliError`]s, and retrying what the protocol
//! calls retriable.

use std::time::{Duration, Instant};

use kafka_protocol::messages::{
    ApiKey, FindCoordinatorRequest, FindCoordinatorResponse, MetadataRequest, MetadataResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes, VersionRange};

use crate::wire::{self, BrokerConnection, WireError};
use crate::{CliError, Connection};

/// How long to wait before asking again when a coordinator is loading or moving.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// What FindCoordinator looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    Group = 0,
    Transaction = 1,
}

/// The addresses of every broker in the cluster, from the metadata of no topic.
pub(crate) fn brokers(
    bootstrap: &mut BrokerConnection,
    action: &str,
) -> Result<Vec<String>, CliError> {
    // From v1 on an empty topic list means none; in v0 it meant all of them.
    let ours = VersionRange {
        min: 1,
        max: ApiKey::Metadata.valid_versions().max,
    };
    let version = version(bootstrap, ApiKey::Metadata, ours, action)?;
    let request = MetadataRequest::default()
        .with_topics(Some(Vec::new()))
        .with_allow_auto_topic_creation(false);
    let response: MetadataResponse = call(bootstrap, action, ApiKey::Metadata, version, &request)?;
    check(action, response.error_code)?;
    Ok(response
        .brokers
        .iter()
        .map(|b| wire::address(&b.host, b.port))
        .collect())
}

/// The node id and address of the coordinator of `id`, a group or a transactional id as
/// `key_type` says.
pub(crate) fn find_coordinator(
    bootstrap: &mut BrokerConnection,
    id: &str,
    key_type: KeyType,
    action: &str,
) -> Result<(i32, String), CliError> {
    // v0 has no key type: it can only find group coordinators.
    let ours = VersionRange {
        min: 1,
        max: ApiKey::FindCoordinator.valid_versions().max,
    };
    let version = version(bootstrap, ApiKey::FindCoordinator, ours, action)?;
    let key = StrBytes::from_string(id.to_owned());
    let mut request = FindCoordinatorRequest::default().with_key_type(key_type as i8);
    // v4 replaced the single key and answer with lists of them (to batch lookups).
    if version >= 4 {
        request.coordinator_keys = vec![key];
    } else {
        request.key = key;
    }
    let response: FindCoordinatorResponse = call(
        bootstrap,
        action,
        ApiKey::FindCoordinator,
        version,
        &request,
    )?;
    let (code, node, host, port) = if version >= 4 {
        let found = response
            .coordinators
            .into_iter()
            .find(|c| c.key.as_str() == id)
            .ok_or_else(|| CliError::Failed {
                action: action.to_owned(),
                reason: "FindCoordinator named no coordinator for it".to_owned(),
            })?;
        (found.error_code, found.node_id.0, found.host, found.port)
    } else {
        (
            response.error_code,
            response.node_id.0,
            response.host,
            response.port,
        )
    };
    check(action, code)?;
    Ok((node, wire::address(&host, port)))
}

/// Connects to the broker at `address`, secured as the client settings say; one that does
/// not answer is reported as every command reports an unreachable broker.
pub(crate) fn open(connection: &Connection, address: &str) -> Result<BrokerConnection, CliError> {
    let security = connection.settings()?.wire_security()?;
    BrokerConnection::open(address, connection.timeout(), &security).map_err(|error| {
        let detail = match error {
            WireError::Connect(source) => source.to_string(),
            WireError::TimedOut(_) => error.to_string(),
            WireError::TlsSettings(_) => return CliError::wire("set up TLS", address, error),
            WireError::TlsHandshake(_) => return CliError::wire("connect", address, error),
            WireError::SaslMechanism { .. }
            | WireError::SaslHandshake(_)
            | WireError::Authentication { .. }
            | WireError::Scram(_)
            | WireError::Random(_) => return CliError::wire("authenticate", address, error),
            other => return CliError::wire("negotiate API versions", address, other),
        };
        CliError::Unreachable {
            bootstrap: address.to_owned(),
            timeout_ms: connection.request_timeout_ms,
            detail,
        }
    })
}

pub(crate) fn version(
    broker: &BrokerConnection,
    api: ApiKey,
    ours: VersionRange,
    action: &str,
) -> Result<i16, CliError> {
    broker
        .version(api, ours)
        .map_err(|error| CliError::wire(action, broker.address(), error))
}

pub(crate) fn call<R: Decodable>(
    broker: &mut BrokerConnection,
    action: &str,
    api: ApiKey,
    version: i16,
    request: &impl Encodable,
) -> Result<R, CliError> {
    broker
        .call(api, version, request)
        .map_err(|error| CliError::wire(action, broker.address(), error))
}

/// A response's error code as a result.
pub(crate) fn check(action: &str, code: i16) -> Result<(), CliError> {
    match code {
        0 => Ok(()),
        code => Err(CliError::Broker {
            action: action.to_owned(),
            code,
        }),
    }
}

/// Like [`check`], but a refusal carries the broker's own message when it gave one.
pub(crate) fn check_with_message(
    action: &str,
    code: i16,
    message: Option<&str>,
) -> Result<(), CliError> {
    match message.filter(|m| !m.is_empty()) {
        Some(reason) if code != 0 => Err(CliError::Failed {
            action: action.to_owned(),
            reason: reason.to_owned(),
        }),
        _ => check(action, code),
    }
}

/// Runs `attempt` again while it fails with an error the protocol calls retriable (a
/// coordinator loading, moving or not yet available) and `deadline` allows another try.
pub(crate) fn with_retries<T>(
    deadline: Instant,
    mut attempt: impl FnMut() -> Result<T, CliError>,
) -> Result<T, CliError> {
    loop {
        match attempt() {
            Err(error) if error.is_retriable() && Instant::now() + RETRY_PAUSE < deadline => {
                std::thread::sleep(RETRY_PAUSE);
            }
            outcome => return outcome,
        }
    }
}
