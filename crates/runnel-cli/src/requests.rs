//! Requests over [`crate::wire`] with errors as the CLI reports them: for the commands that
//! use APIs librdkafka does not offer (transactions, share groups).

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable, VersionRange};

use crate::wire::{BrokerConnection, WireError};
use crate::{CliError, Connection};

/// Connects to the broker at `address`; one that does not answer is reported as every
/// command reports an unreachable broker.
pub fn open(connection: &Connection, address: &str) -> Result<BrokerConnection, CliError> {
    BrokerConnection::open(address, connection.timeout()).map_err(|error| {
        let detail = match error {
            WireError::Connect(source) => source.to_string(),
            WireError::TimedOut(_) => error.to_string(),
            other => return CliError::wire("negotiate API versions", address, other),
        };
        CliError::Unreachable {
            bootstrap: address.to_owned(),
            timeout_ms: connection.request_timeout_ms,
            detail,
        }
    })
}

pub fn version(
    broker: &BrokerConnection,
    api: ApiKey,
    ours: VersionRange,
    action: &str,
) -> Result<i16, CliError> {
    broker
        .version(api, ours)
        .map_err(|error| CliError::wire(action, broker.address(), error))
}

pub fn call<R: Decodable>(
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
pub fn check(action: &str, code: i16) -> Result<(), CliError> {
    match code {
        0 => Ok(()),
        code => Err(CliError::Broker {
            action: action.to_owned(),
            code,
        }),
    }
}
