//! The client side of SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), as Kafka's and
//! librdkafka's clients run it: client-first, then client-final once the server's salt and
//! iteration count are known, then the server's signature checked.
//!
//! The server is not trusted: every message it sends is bounded and parsed strictly, its
//! iteration count must be within Kafka's bounds (a huge one would make the client spin),
//! its nonce must extend the client's, and its final signature must prove it holds the
//! user's credential. No message, however malformed, makes the client panic.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::scram::{encode_saslname, ScramCredential, ScramMechanism, MAX_SALT_BYTES};
use crate::{constant_time_eq, MAX_MESSAGE_BYTES};

/// Why the client gave up on an exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramClientError {
    #[error("malformed {mechanism} server message: {reason}")]
    Malformed {
        mechanism: &'static str,
        reason: &'static str,
    },
    #[error(
        "the {mechanism} server asks for {iterations} iterations, outside {}..={}",
        ScramMechanism::MIN_ITERATIONS,
        ScramMechanism::MAX_ITERATIONS
    )]
    Iterations {
        mechanism: &'static str,
        iterations: u32,
    },
    #[error("the {mechanism} server refused the proof: {message}")]
    ServerError {
        mechanism: &'static str,
        message: String,
    },
    #[error(
        "the {mechanism} server's signature is wrong: it does not hold this user's credential"
    )]
    ServerSignature { mechanism: &'static str },
    #[error("the {mechanism} exchange is over")]
    Finished { mechanism: &'static str },
}

/// One client exchange. [`ScramClient::new`] gives the client-first message;
/// [`ScramClient::server_first`] answers the server's challenge with the client-final
/// message; [`ScramClient::server_final`] checks the server's signature.
#[derive(Debug)]
pub struct ScramClient {
    mechanism: ScramMechanism,
    state: ClientState,
}

#[derive(Debug)]
enum ClientState {
    AwaitingServerFirst {
        password: Vec<u8>,
        client_nonce: String,
        /// client-first-message-bare: the start of AuthMessage.
        bare: String,
    },
    AwaitingServerFinal {
        expected_signature: Vec<u8>,
    },
    Finished,
}

impl ScramClient {
    /// Starts an exchange for `user`; returns the client and the client-first message.
    /// `client_nonce` must be fresh random printable ASCII without commas (base64 of random
    /// bytes will do).
    pub fn new(
        mechanism: ScramMechanism,
        user: &str,
        password: &[u8],
        client_nonce: String,
    ) -> (ScramClient, Vec<u8>) {
        let bare = format!("n={},r={client_nonce}", encode_saslname(user));
        let first = format!("n,,{bare}").into_bytes();
        let client = ScramClient {
            mechanism,
            state: ClientState::AwaitingServerFirst {
                password: password.to_vec(),
                client_nonce,
                bare,
            },
        };
        (client, first)
    }

    /// Takes the server-first message; returns the client-final message with the proof.
    pub fn server_first(&mut self, message: &[u8]) -> Result<Vec<u8>, ScramClientError> {
        let mechanism = self.mechanism;
        let ClientState::AwaitingServerFirst {
            password,
            client_nonce,
            bare,
        } = std::mem::replace(&mut self.state, ClientState::Finished)
        else {
            return Err(ScramClientError::Finished {
                mechanism: mechanism.name(),
            });
        };
        let server_first = text(mechanism, message)?;
        let challenge =
            parse_server_first(server_first).map_err(|reason| ScramClientError::Malformed {
                mechanism: mechanism.name(),
                reason,
            })?;
        if !challenge.nonce.starts_with(&client_nonce)
            || challenge.nonce.len() == client_nonce.len()
        {
            return Err(ScramClientError::Malformed {
                mechanism: mechanism.name(),
                reason: "the nonce does not extend the client's",
            });
        }
        if !(ScramMechanism::MIN_ITERATIONS..=ScramMechanism::MAX_ITERATIONS)
            .contains(&challenge.iterations)
        {
            return Err(ScramClientError::Iterations {
                mechanism: mechanism.name(),
                iterations: challenge.iterations,
            });
        }
        // "biws" is base64 of the GS2 header "n,,": no channel binding, no authzid.
        let without_proof = format!("c=biws,r={}", challenge.nonce);
        let auth_message = format!("{bare},{server_first},{without_proof}");
        let salted = mechanism.salted_password(&password, &challenge.salt, challenge.iterations);
        let credential = ScramCredential::from_salted_password(
            mechanism,
            &challenge.salt,
            challenge.iterations,
            &salted,
        );
        let client_key = mechanism.hmac(&salted, b"Client Key");
        let client_signature = mechanism.hmac(&credential.stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(key, signature)| key ^ signature)
            .collect();
        self.state = ClientState::AwaitingServerFinal {
            expected_signature: mechanism.hmac(&credential.server_key, auth_message.as_bytes()),
        };
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }

    /// Takes the server-final message: `Ok` when the server proved it holds the credential.
    pub fn server_final(&mut self, message: &[u8]) -> Result<(), ScramClientError> {
        let mechanism = self.mechanism;
        let malformed = |reason| ScramClientError::Malformed {
            mechanism: mechanism.name(),
            reason,
        };
        let ClientState::AwaitingServerFinal { expected_signature } =
            std::mem::replace(&mut self.state, ClientState::Finished)
        else {
            return Err(ScramClientError::Finished {
                mechanism: mechanism.name(),
            });
        };
        let server_final = text(mechanism, message)?;
        let first = server_final.split(',').next().unwrap_or_default();
        if let Some(error) = first.strip_prefix("e=") {
            return Err(ScramClientError::ServerError {
                mechanism: mechanism.name(),
                message: error.chars().filter(|c| !c.is_control()).collect(),
            });
        }
        let signature = first
            .strip_prefix("v=")
            .ok_or_else(|| malformed("neither a verifier nor an error"))?;
        let signature = BASE64
            .decode(signature)
            .map_err(|_| malformed("the verifier is not base64"))?;
        if constant_time_eq(&signature, &expected_signature) {
            Ok(())
        } else {
            Err(ScramClientError::ServerSignature {
                mechanism: mechanism.name(),
            })
        }
    }
}

fn text(mechanism: ScramMechanism, message: &[u8]) -> Result<&str, ScramClientError> {
    let malformed = |reason| ScramClientError::Malformed {
        mechanism: mechanism.name(),
        reason,
    };
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(malformed("message too long"));
    }
    std::str::from_utf8(message).map_err(|_| malformed("not UTF-8"))
}

#[derive(Debug)]
struct ServerFirst<'a> {
    nonce: &'a str,
    salt: Vec<u8>,
    iterations: u32,
}

/// `r=NONCE,s=SALT,i=ITERATIONS[,extensions]`; a mandatory extension (`m=`) is refused as
/// RFC 5802 requires of a client that does not know it.
fn parse_server_first(text: &str) -> Result<ServerFirst<'_>, &'static str> {
    let mut fields = text.split(',');
    let nonce = match fields.next() {
        Some(f) if f.starts_with("m=") => return Err("mandatory extensions are not supported"),
        Some(f) => f.strip_prefix("r=").ok_or("no nonce")?,
        None => return Err("no nonce"),
    };
    if !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("bad nonce");
    }
    let salt = fields
        .next()
        .and_then(|f| f.strip_prefix("s="))
        .ok_or("no salt")?;
    let salt = BASE64.decode(salt).map_err(|_| "the salt is not base64")?;
    if salt.is_empty() || salt.len() > MAX_SALT_BYTES {
        return Err("the salt is empty or too long");
    }
    let iterations = fields
        .next()
        .and_then(|f| f.strip_prefix("i="))
        .ok_or("no iteration count")?;
    let iterations = iterations
        .parse()
        .map_err(|_| "the iteration count is not a number")?;
    Ok(ServerFirst {
        nonce,
        salt,
        iterations,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    // RFC 7677 section 3: user "user", password "pencil".
    const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_client() -> (ScramClient, Vec<u8>) {
        ScramClient::new(
            ScramMechanism::Sha256,
            "user",
            b"pencil",
            CLIENT_NONCE.into(),
        )
    }

    #[test]
    fn the_rfc_7677_exchange_is_sent_byte_for_byte_and_the_server_verified() {
        let (mut client, first) = rfc_client();
        assert_eq!(String::from_utf8(first).unwrap(), CLIENT_FIRST);
        let last = client.server_first(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(last).unwrap(), CLIENT_FINAL);
        assert_eq!(client.server_final(SERVER_FINAL.as_bytes()), Ok(()));
        assert!(matches!(
            client.server_final(SERVER_FINAL.as_bytes()),
            Err(ScramClientError::Finished { .. })
        ));
    }

    #[test]
    fn a_server_without_the_credential_is_caught_by_its_signature() {
        let (mut client, _) = rfc_client();
        client.server_first(SERVER_FIRST.as_bytes()).unwrap();
        let forged = SERVER_FINAL.replace("v=6rri", "v=6rrj");
        assert_eq!(
            client.server_final(forged.as_bytes()),
            Err(ScramClientError::ServerSignature {
                mechanism: "SCRAM-SHA-256"
            })
        );
    }

    #[test]
    fn a_server_error_is_reported_with_its_text() {
        let (mut client, _) = rfc_client();
        client.server_first(SERVER_FIRST.as_bytes()).unwrap();
        let error = client.server_final(b"e=invalid-proof").unwrap_err();
        assert_eq!(
            error.to_string(),
            "the SCRAM-SHA-256 server refused the proof: invalid-proof"
        );
    }

    #[test]
    fn server_first_messages_are_checked_before_any_hashing() {
        let cases: &[(&str, &str)] = &[
            ("", "malformed SCRAM-SHA-256 server message: no nonce"),
            (
                "m=x,r=rOprNGfwEbeRWgbNEkqOabc,s=c2FsdA==,i=4096",
                "malformed SCRAM-SHA-256 server message: mandatory extensions are not supported",
            ),
            (
                "r=other,s=c2FsdA==,i=4096",
                "malformed SCRAM-SHA-256 server message: the nonce does not extend the client's",
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqO,s=c2FsdA==,i=4096",
                "malformed SCRAM-SHA-256 server message: the nonce does not extend the client's",
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOabc,s=!!,i=4096",
                "malformed SCRAM-SHA-256 server message: the salt is not base64",
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOabc,s=,i=4096",
                "malformed SCRAM-SHA-256 server message: the salt is empty or too long",
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOabc,s=c2FsdA==",
                "malformed SCRAM-SHA-256 server message: no iteration count",
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOabc,s=c2FsdA==,i=-1",
                "malformed SCRAM-SHA-256 server message: the iteration count is not a number",
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOabc,s=c2FsdA==,i=4000000000",
                "the SCRAM-SHA-256 server asks for 4000000000 iterations, outside 4096..=16384",
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOabc,s=c2FsdA==,i=1",
                "the SCRAM-SHA-256 server asks for 1 iterations, outside 4096..=16384",
            ),
        ];
        for (message, expected) in cases {
            let (mut client, _) = rfc_client();
            let error = client.server_first(message.as_bytes()).unwrap_err();
            assert_eq!(error.to_string(), *expected, "{message}");
            // A refused exchange is over.
            assert!(matches!(
                client.server_first(SERVER_FIRST.as_bytes()),
                Err(ScramClientError::Finished { .. })
            ));
        }
    }

    #[test]
    fn user_names_are_escaped_in_the_client_first_message() {
        let (_, first) = ScramClient::new(ScramMechanism::Sha512, "a,b=c", b"p", "n".into());
        assert_eq!(first, b"n,,n=a=2Cb=3Dc,r=n");
    }
}
