//! SaslHandshake and SaslAuthenticate on a SASL listener: decoded as any request, answered
//! by the connection's [`SaslConnection`], counted in the metrics. (On other listeners
//! `dispatch` answers them ILLEGAL_SASL_STATE.)

use std::sync::Arc;
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, RequestHeader, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use runnel_auth::Verifiers;

use super::{decode, respond, supported};
use crate::broker::BrokerState;
use crate::error::RequestError;
use crate::response::Response;
use crate::sasl::{AuthenticateAnswer, SaslConnection};
use crate::session::Principal;
use crate::shape;

/// Bytes of randomness in a SCRAM server nonce (printable once in base64).
const NONCE_BYTES: usize = 24;

/// A SASL request's answer and what it changes on the connection.
#[derive(Debug)]
pub(crate) struct Exchanged {
    pub(crate) outcome: Result<Option<Response>, RequestError>,
    /// Set when the client (re-)authenticated.
    pub(crate) principal: Option<Principal>,
    /// The connection is closed after the answer, held back as a failed authentication.
    pub(crate) close: bool,
}

impl Exchanged {
    fn failed(error: RequestError) -> Self {
        Exchanged {
            outcome: Err(error),
            principal: None,
            close: true,
        }
    }
}

/// Answers a SaslHandshake or SaslAuthenticate of a connection whose SASL state is `sasl`
/// (taken while a step is computed off the async workers, and left empty if that failed:
/// the connection is then closed).
pub(crate) async fn exchange(
    state: &Arc<BrokerState>,
    sasl: &mut Option<SaslConnection>,
    listener: &str,
    api: ApiKey,
    header: RequestHeader,
    mut body: Bytes,
) -> Exchanged {
    let started = std::time::Instant::now();
    let version = header.request_api_version;
    let exchanged = match checked(api, version, &body) {
        Ok(walked) => match api {
            ApiKey::SaslHandshake => handshake(state, sasl, listener, &header, &mut body, walked),
            _ => authenticate(state, sasl, listener, &header, &mut body, walked).await,
        },
        Err(error) => Exchanged::failed(error),
    };
    state
        .metrics
        .request_handled(api, version, started.elapsed());
    exchanged
}

/// Checks the version and the shape of a SASL request, as `dispatch` does.
fn checked(api: ApiKey, version: i16, body: &Bytes) -> Result<usize, RequestError> {
    match supported(api) {
        Some((min, max)) if (min..=max).contains(&version) => {}
        _ => return Err(RequestError::UnsupportedVersion { api, version }),
    }
    shape::check(api, version, body).map_err(|e| RequestError::Decode {
        api,
        version,
        message: e.to_string(),
    })
}

fn handshake(
    state: &BrokerState,
    sasl: &mut Option<SaslConnection>,
    listener: &str,
    header: &RequestHeader,
    body: &mut Bytes,
    walked: usize,
) -> Exchanged {
    let (api, version) = (ApiKey::SaslHandshake, header.request_api_version);
    let request: SaslHandshakeRequest = match decode(api, body, version, walked) {
        Ok(request) => request,
        Err(error) => return Exchanged::failed(error),
    };
    let Some(connection) = sasl.as_mut() else {
        return Exchanged::failed(lost(api, version));
    };
    let mut random = [0u8; NONCE_BYTES];
    if let Err(error) = getrandom::fill(&mut random) {
        tracing::error!(%error, "no randomness for a SCRAM nonce; closing the connection");
        return Exchanged::failed(lost(api, version));
    }
    let answer = connection.handshake(
        request.mechanism.as_str(),
        BASE64.encode(random),
        &state.sasl.decoy_key,
    );
    if answer.close {
        let mechanism = connection.mechanism().map_or("none", |m| m.name());
        state.metrics.sasl_authenticated(listener, mechanism, false);
    }
    let response = SaslHandshakeResponse::default()
        .with_error_code(answer.error.map_or(0, |e| e.code()))
        .with_mechanisms(
            answer
                .mechanisms
                .into_iter()
                .map(StrBytes::from_static_str)
                .collect(),
        );
    Exchanged {
        outcome: respond(api, version, header.correlation_id, &response),
        principal: None,
        close: answer.close,
    }
}

async fn authenticate(
    state: &Arc<BrokerState>,
    sasl: &mut Option<SaslConnection>,
    listener: &str,
    header: &RequestHeader,
    body: &mut Bytes,
    walked: usize,
) -> Exchanged {
    let (api, version) = (ApiKey::SaslAuthenticate, header.request_api_version);
    let request: SaslAuthenticateRequest = match decode(api, body, version, walked) {
        Ok(request) => request,
        Err(error) => return Exchanged::failed(error),
    };
    let Some(mut connection) = sasl.take() else {
        return Exchanged::failed(lost(api, version));
    };
    let mechanism = connection.mechanism().map_or("none", |m| m.name());
    let Ok(_permit) = Arc::clone(&state.sasl.steps).acquire_owned().await else {
        return Exchanged::failed(lost(api, version));
    };
    let step_state = Arc::clone(state);
    let stepped = tokio::task::spawn_blocking(move || {
        let verifiers = Verifiers {
            credentials: &step_state.scram_credentials,
            tokens: step_state.sasl.tokens.as_ref(),
            now: SystemTime::now(),
        };
        let answer =
            connection.authenticate(&request.auth_bytes, &verifiers, tokio::time::Instant::now());
        (connection, answer)
    })
    .await;
    let Ok((connection, answer)) = stepped else {
        return Exchanged::failed(lost(api, version));
    };
    *sasl = Some(connection);
    let (response, principal, close) = match answer {
        AuthenticateAnswer::Continue {
            auth_bytes,
            principal,
            session_lifetime_ms,
        } => {
            let mut response =
                SaslAuthenticateResponse::default().with_auth_bytes(auth_bytes.into());
            // The field exists from version 1; version 0 clients cannot be told.
            if version >= 1 {
                response.session_lifetime_ms = session_lifetime_ms;
            }
            if principal.is_some() {
                state.metrics.sasl_authenticated(listener, mechanism, true);
            }
            (response, principal, false)
        }
        AuthenticateAnswer::Refused {
            error,
            message,
            close,
        } => {
            if close {
                state.metrics.sasl_authenticated(listener, mechanism, false);
            }
            let response = SaslAuthenticateResponse::default()
                .with_error_code(error.code())
                .with_error_message(Some(StrBytes::from_string(message)));
            (response, None, close)
        }
    };
    Exchanged {
        outcome: respond(api, version, header.correlation_id, &response),
        principal,
        close,
    }
}

/// The connection's SASL state is gone (a step panicked, no randomness): it must close.
fn lost(api: ApiKey, version: i16) -> RequestError {
    RequestError::SaslStateLost { api, version }
}
