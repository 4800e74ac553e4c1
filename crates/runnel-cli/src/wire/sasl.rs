//! SASL for the wire client, as Kafka's clients do it after ApiVersions: SaslHandshake v1
//! names the mechanism, then SaslAuthenticate carries the mechanism's messages, built and
//! checked by `runnel-auth` (PLAIN, and SCRAM whose last step verifies the broker).

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use runnel_auth::{plain, ScramClient};

use super::{BrokerConnection, WireError};
use crate::settings::{ClientMechanism, SaslClientSettings};

/// Kafka's UNSUPPORTED_SASL_MECHANISM.
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;

/// Authenticates the connection as `settings` say; `client_nonce` is the SCRAM client's
/// fresh randomness.
pub(super) fn authenticate(
    connection: &mut BrokerConnection,
    settings: &SaslClientSettings,
    client_nonce: String,
) -> Result<(), WireError> {
    let mechanism = settings.mechanism;
    // v0 sent the mechanism's bytes raw after the handshake; v1 wraps them in
    // SaslAuthenticate, the only form this client speaks.
    let version = connection.version(ApiKey::SaslHandshake, VersionRange { min: 1, max: 1 })?;
    let request =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism.name()));
    let response: SaslHandshakeResponse =
        connection.call(ApiKey::SaslHandshake, version, &request)?;
    match response.error_code {
        0 => {}
        UNSUPPORTED_SASL_MECHANISM => {
            return Err(WireError::SaslMechanism {
                mechanism: mechanism.name(),
                offered: response
                    .mechanisms
                    .iter()
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
        code => return Err(WireError::SaslHandshake(code)),
    }
    match mechanism {
        ClientMechanism::Plain => {
            let message = plain::client_message(&settings.username, &settings.password);
            send(connection, message)?;
            Ok(())
        }
        ClientMechanism::Scram(scram) => {
            let (mut client, first) = ScramClient::new(
                scram,
                &settings.username,
                settings.password.as_bytes(),
                client_nonce,
            );
            let server_first = send(connection, first)?;
            let last = client.server_first(&server_first)?;
            let server_final = send(connection, last)?;
            client.server_final(&server_final)?;
            Ok(())
        }
    }
}

/// One SaslAuthenticate round trip: the broker's bytes, or its refusal.
fn send(connection: &mut BrokerConnection, message: Vec<u8>) -> Result<Bytes, WireError> {
    let version = connection.version(ApiKey::SaslAuthenticate, VersionRange { min: 0, max: 2 })?;
    let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(message));
    let response: SaslAuthenticateResponse =
        connection.call(ApiKey::SaslAuthenticate, version, &request)?;
    if response.error_code != 0 {
        return Err(WireError::Authentication {
            code: response.error_code,
            message: response
                .error_message
                .map(|m| m.to_string())
                .unwrap_or_default(),
        });
    }
    Ok(response.auth_bytes)
}
