//! SASL authentication for Runnel, without I/O: each mechanism is a state machine that takes
//! the client's messages and gives the server's answers, the client side of PLAIN and SCRAM
//! (for Runnel's own clients), the SCRAM credential store's file format, and the validation
//! of OAUTHBEARER's JSON Web Tokens.
//!
//! The broker moves the bytes (SaslHandshake, SaslAuthenticate) and keeps the credentials
//! on disk; everything that decides whether a client is who it says lives here, where it is
//! tested byte for byte and fuzzed without a socket. Randomness (nonces, the decoy key) and
//! the clock are the caller's, so exchanges are deterministic under test.

use std::time::SystemTime;

pub mod credentials;
pub mod jwt;
pub mod oauthbearer;
pub mod plain;
pub mod scram;
pub mod scram_client;

pub use credentials::{CredentialTable, FormatError};
pub use jwt::{TokenError, TokenRules, TokenValidator};
pub use oauthbearer::OAuthBearerServer;
pub use scram::{CredentialSource, ScramCredential, ScramMechanism, ScramServer};
pub use scram_client::{ScramClient, ScramClientError};

/// The longest client message any mechanism here accepts. SCRAM and PLAIN messages are a
/// few hundred bytes; the bound keeps a client from making the server parse megabytes.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// A SASL mechanism the broker can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    Plain,
    Scram(ScramMechanism),
    OAuthBearer,
}

impl Mechanism {
    pub const ALL: [Mechanism; 4] = [
        Mechanism::Plain,
        Mechanism::Scram(ScramMechanism::Sha256),
        Mechanism::Scram(ScramMechanism::Sha512),
        Mechanism::OAuthBearer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Scram(scram) => scram.name(),
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    pub fn from_name(name: &str) -> Option<Mechanism> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// What the server says after a client message.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes and wait for the client's next message.
    Challenge(Vec<u8>),
    /// The client is `user`; send `response` (possibly empty) as the last message.
    /// `expires_at` is when the credential itself ends (an OAUTHBEARER token's `exp`): the
    /// session must not outlive it (KIP-368). Passwords do not expire.
    Authenticated {
        user: String,
        response: Vec<u8>,
        expires_at: Option<SystemTime>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("malformed {mechanism} message: {reason}")]
    Malformed {
        mechanism: &'static str,
        reason: String,
    },
    #[error("invalid {mechanism} credentials for user {user:?}")]
    InvalidCredentials {
        mechanism: &'static str,
        user: String,
    },
    #[error("invalid OAUTHBEARER token: {reason}")]
    InvalidToken { reason: TokenError },
    #[error("the client asked for authorization id {requested:?} but the token's principal is {principal:?}")]
    AuthorizationIdMismatch {
        requested: String,
        principal: String,
    },
    #[error("the exchange is over")]
    Finished,
}

impl AuthError {
    /// The message the client gets in SaslAuthenticate, worded as Kafka's. It never says
    /// whether the user exists.
    pub fn client_message(&self, reauthenticating: bool) -> String {
        let during = if reauthenticating {
            "re-authentication"
        } else {
            "authentication"
        };
        match self {
            AuthError::InvalidCredentials {
                mechanism: "PLAIN", ..
            } => "Authentication failed: Invalid username or password".to_owned(),
            AuthError::InvalidCredentials { mechanism, .. } => format!(
                "Authentication failed during {during} due to invalid credentials with SASL mechanism {mechanism}"
            ),
            AuthError::Malformed { mechanism, reason } => {
                format!("Authentication failed during {during}: invalid {mechanism} message: {reason}")
            }
            // Kafka fails the exchange with the error document the client was sent, and
            // says nothing more about the token.
            AuthError::InvalidToken { .. } => oauthbearer::INVALID_TOKEN_RESPONSE.to_owned(),
            AuthError::AuthorizationIdMismatch { requested, principal } => format!(
                "Authentication failed: Client requested an authorization id ({requested}) that is different from the token's principal name ({principal})"
            ),
            AuthError::Finished => format!("Authentication failed during {during}: unexpected message after the exchange"),
        }
    }
}

/// The server side of one authentication, whatever the mechanism.
#[derive(Debug)]
pub enum Exchange {
    Plain { decoy_key: Vec<u8>, finished: bool },
    Scram(ScramServer),
    OAuthBearer(OAuthBearerServer),
}

/// What an exchange checks a client against: the SCRAM credentials (PLAIN and SCRAM), the
/// token validator (OAUTHBEARER; `None` when the broker has no OAUTHBEARER settings), and
/// the time tokens are checked at.
#[derive(Clone, Copy)]
pub struct Verifiers<'a> {
    pub credentials: &'a dyn CredentialSource,
    pub tokens: Option<&'a TokenValidator>,
    pub now: SystemTime,
}

impl std::fmt::Debug for Verifiers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifiers")
            .field("tokens", &self.tokens)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl Exchange {
    /// Starts an exchange. `server_nonce` is fresh randomness (printable ASCII, no commas);
    /// `decoy_key` a secret fixed for the server's life (see [`ScramServer::new`]).
    pub fn new(mechanism: Mechanism, server_nonce: String, decoy_key: &[u8]) -> Exchange {
        match mechanism {
            Mechanism::Plain => Exchange::Plain {
                decoy_key: decoy_key.to_vec(),
                finished: false,
            },
            Mechanism::Scram(scram) => {
                Exchange::Scram(ScramServer::new(scram, server_nonce, decoy_key))
            }
            Mechanism::OAuthBearer => Exchange::OAuthBearer(OAuthBearerServer::default()),
        }
    }

    /// Takes the client's next message. After an error or success the exchange is over.
    /// Password messages longer than [`MAX_MESSAGE_BYTES`] are refused before any parsing;
    /// OAUTHBEARER bounds its own, larger (tokens carry claims), the same way.
    pub fn step(&mut self, message: &[u8], verifiers: &Verifiers<'_>) -> Result<Step, AuthError> {
        let too_long = |mechanism| AuthError::Malformed {
            mechanism,
            reason: format!("message longer than {MAX_MESSAGE_BYTES} bytes"),
        };
        match self {
            Exchange::Plain { finished: true, .. } => Err(AuthError::Finished),
            Exchange::Plain {
                decoy_key,
                finished,
            } => {
                *finished = true;
                if message.len() > MAX_MESSAGE_BYTES {
                    return Err(too_long(Mechanism::Plain.name()));
                }
                let user = plain::authenticate(message, verifiers.credentials, decoy_key)?;
                Ok(Step::Authenticated {
                    user,
                    response: Vec::new(),
                    expires_at: None,
                })
            }
            Exchange::Scram(server) if message.len() > MAX_MESSAGE_BYTES => {
                server.finish();
                Err(too_long(server.mechanism().name()))
            }
            Exchange::Scram(server) => server.step(message, verifiers.credentials),
            Exchange::OAuthBearer(server) => server.step(message, verifiers.tokens, verifiers.now),
        }
    }
}

/// Compares secrets in time that depends on their length only.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn every_mechanism_refuses_a_long_message_before_parsing_it() {
        let credentials = CredentialTable::default();
        let table = Verifiers {
            credentials: &credentials,
            tokens: None,
            now: SystemTime::UNIX_EPOCH,
        };
        // Mostly separators: PLAIN must not split all of them, SCRAM must not parse them.
        // (OAUTHBEARER's own, larger bound is tested with its state machine.)
        let long = vec![0u8; MAX_MESSAGE_BYTES + 1];
        let passwords = Mechanism::ALL
            .into_iter()
            .filter(|m| *m != Mechanism::OAuthBearer);
        for mechanism in passwords {
            let mut exchange = Exchange::new(mechanism, "nonce".into(), b"k");
            let error = exchange.step(&long, &table).unwrap_err();
            assert_eq!(
                error,
                AuthError::Malformed {
                    mechanism: mechanism.name(),
                    reason: format!("message longer than {MAX_MESSAGE_BYTES} bytes"),
                },
            );
            assert_eq!(
                exchange.step(b"\0alice\0secret", &table).unwrap_err(),
                AuthError::Finished,
                "{mechanism:?} goes on after a refused message",
            );
        }
        let mut plain = Exchange::new(Mechanism::Plain, String::new(), b"k");
        let at_bound = vec![0u8; MAX_MESSAGE_BYTES];
        let error = plain.step(&at_bound, &table).unwrap_err();
        assert!(error.to_string().contains("got more"), "{error}");
    }
}
