//! SASL authentication for Runnel, without I/O: each mechanism is a state machine that takes
//! the client's messages and gives the server's answers, and the SCRAM credential store's
//! file format.
//!
//! The broker moves the bytes (SaslHandshake, SaslAuthenticate) and keeps the credentials
//! on disk; everything that decides whether a client is who it says lives here, where it is
//! tested byte for byte and fuzzed without a socket. Randomness (nonces, the decoy key) is
//! the caller's, so exchanges are deterministic under test.

pub mod credentials;
pub mod plain;
pub mod scram;

pub use credentials::{CredentialTable, FormatError};
pub use scram::{CredentialSource, ScramCredential, ScramMechanism, ScramServer};

/// The longest client message any mechanism here accepts. SCRAM and PLAIN messages are a
/// few hundred bytes; the bound keeps a client from making the server parse megabytes.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// A SASL mechanism the broker can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    Plain,
    Scram(ScramMechanism),
}

impl Mechanism {
    pub const ALL: [Mechanism; 3] = [
        Mechanism::Plain,
        Mechanism::Scram(ScramMechanism::Sha256),
        Mechanism::Scram(ScramMechanism::Sha512),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Scram(scram) => scram.name(),
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
    Authenticated { user: String, response: Vec<u8> },
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
            AuthError::Finished => format!("Authentication failed during {during}: unexpected message after the exchange"),
        }
    }
}

/// The server side of one authentication, whatever the mechanism.
#[derive(Debug)]
pub enum Exchange {
    Plain { decoy_key: Vec<u8>, finished: bool },
    Scram(ScramServer),
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
        }
    }

    /// Takes the client's next message. After an error or success the exchange is over.
    /// Messages longer than [`MAX_MESSAGE_BYTES`] are refused before any parsing, whatever
    /// the mechanism.
    pub fn step(
        &mut self,
        message: &[u8],
        credentials: &dyn CredentialSource,
    ) -> Result<Step, AuthError> {
        if message.len() > MAX_MESSAGE_BYTES {
            let mechanism = self.mechanism_name();
            self.finish();
            return Err(AuthError::Malformed {
                mechanism,
                reason: format!("message longer than {MAX_MESSAGE_BYTES} bytes"),
            });
        }
        match self {
            Exchange::Plain { finished: true, .. } => Err(AuthError::Finished),
            Exchange::Plain {
                decoy_key,
                finished,
            } => {
                *finished = true;
                let user = plain::authenticate(message, credentials, decoy_key)?;
                Ok(Step::Authenticated {
                    user,
                    response: Vec::new(),
                })
            }
            Exchange::Scram(server) => server.step(message, credentials),
        }
    }

    fn mechanism_name(&self) -> &'static str {
        match self {
            Exchange::Plain { .. } => Mechanism::Plain.name(),
            Exchange::Scram(server) => server.mechanism().name(),
        }
    }

    fn finish(&mut self) {
        match self {
            Exchange::Plain { finished, .. } => *finished = true,
            Exchange::Scram(server) => server.finish(),
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
        let table = CredentialTable::default();
        // Mostly separators: PLAIN must not split all of them, SCRAM must not parse them.
        let long = vec![0u8; MAX_MESSAGE_BYTES + 1];
        for mechanism in Mechanism::ALL {
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
