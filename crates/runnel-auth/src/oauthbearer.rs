//! SASL/OAUTHBEARER (RFC 7628) as Kafka's broker speaks it (KIP-255).
//!
//! The client's first message carries a bearer token:
//! `n,[a=authzid],` `\x01` `auth=Bearer <token>` `\x01` `[key=value\x01]...` `\x01`.
//! A valid token authenticates at once. An invalid one is answered, as RFC 7628 §3.2.2
//! says, with a JSON error (`{"status":"invalid_token"}`) as a challenge; the client then
//! sends a lone `\x01` and the exchange fails with that JSON as the message, which is what
//! Kafka's broker sends its clients.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::jwt::{TokenError, TokenValidator};
use crate::scram::decode_saslname;
use crate::{AuthError, Step};

const NAME: &str = "OAUTHBEARER";

/// RFC 7628's separator between key/value pairs.
const KVSEP: u8 = 0x01;

/// The longest OAUTHBEARER message accepted. Tokens carry claims (groups, scopes) and are
/// larger than password messages, yet 64 KiB is far above what identity providers issue.
pub const MAX_OAUTHBEARER_MESSAGE_BYTES: usize = 64 * 1024;

/// Extensions a client may send beside `auth`, as Kafka bounds them (KIP-342): the names are
/// letters, and there are few.
const MAX_EXTENSIONS: usize = 32;

/// The error document sent to a client whose token is refused (RFC 7628 §3.2.2).
pub const INVALID_TOKEN_RESPONSE: &str = r#"{"status":"invalid_token"}"#;

/// The client's initial response, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInitialResponse {
    /// The GS2 header's authorization id, if the client gave one.
    pub authorization_id: Option<String>,
    /// The bearer token (a compact JWS for Kafka's validator).
    pub token: String,
    /// SASL extensions (KIP-342): every pair except `auth`.
    pub extensions: BTreeMap<String, String>,
}

impl ClientInitialResponse {
    /// Parses RFC 7628's `client-resp` (with a GS2 header; the lone-`\x01` form only ever
    /// answers an error and is handled by the exchange).
    pub fn parse(message: &[u8]) -> Result<ClientInitialResponse, &'static str> {
        let text = std::str::from_utf8(message).map_err(|_| "not UTF-8")?;
        let (flag, rest) = text.split_once(',').ok_or("no GS2 header")?;
        match flag {
            "n" | "y" => {}
            f if f.starts_with("p=") => return Err("channel binding is not supported"),
            _ => return Err("bad GS2 channel binding flag"),
        }
        let (authzid, rest) = rest.split_once(',').ok_or("no GS2 header")?;
        let authorization_id = match authzid {
            "" => None,
            a => Some(decode_saslname(a.strip_prefix("a=").ok_or("bad authzid")?)?),
        };
        let kvsep = char::from(KVSEP);
        let pairs = rest
            .strip_prefix(kvsep)
            .and_then(|r| r.strip_suffix(kvsep))
            .ok_or("key/value pairs are not enclosed in \\x01")?;
        let mut token = None;
        let mut extensions = BTreeMap::new();
        if !pairs.is_empty() {
            let pairs = pairs
                .strip_suffix(kvsep)
                .ok_or("a key/value pair does not end with \\x01")?;
            for pair in pairs.split(kvsep) {
                let (key, value) = pair.split_once('=').ok_or("a pair has no '='")?;
                if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err("a key is not letters");
                }
                if !value.bytes().all(is_value_byte) {
                    return Err("a value has a forbidden character");
                }
                if key == "auth" {
                    if token.is_some() {
                        return Err("more than one auth pair");
                    }
                    token = Some(parse_bearer(value)?);
                } else {
                    if extensions.len() == MAX_EXTENSIONS {
                        return Err("too many extensions");
                    }
                    if extensions
                        .insert(key.to_owned(), value.to_owned())
                        .is_some()
                    {
                        return Err("an extension appears twice");
                    }
                }
            }
        }
        Ok(ClientInitialResponse {
            authorization_id,
            token: token.ok_or("no auth pair")?.to_owned(),
            extensions,
        })
    }

    /// The message a client sends for these values (the inverse of [`Self::parse`]).
    pub fn render(&self) -> Vec<u8> {
        let authzid = self
            .authorization_id
            .as_deref()
            .map(|a| format!("a={}", crate::scram::encode_saslname(a)))
            .unwrap_or_default();
        let mut message = format!("n,{authzid},\x01auth=Bearer {}\x01", self.token);
        for (key, value) in &self.extensions {
            message.push_str(&format!("{key}={value}\x01"));
        }
        message.push('\x01');
        message.into_bytes()
    }
}

/// RFC 7628 `value`: VCHAR, space, tab, CR, LF.
fn is_value_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) || matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `auth-value = "Bearer" 1*SP b64token` (the scheme is case-insensitive, RFC 6750).
fn parse_bearer(value: &str) -> Result<&str, &'static str> {
    let (scheme, token) = value
        .split_once(' ')
        .ok_or("auth is not \"Bearer <token>\"")?;
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err("auth scheme is not Bearer");
    }
    let token = token.trim_start_matches(' ');
    let body = token.trim_end_matches('=');
    let b64token_byte =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
    if body.is_empty() || !body.bytes().all(b64token_byte) {
        return Err("the token is not a b64token");
    }
    Ok(token)
}

#[derive(Debug)]
enum State {
    AwaitingToken,
    /// The JSON error was sent; the client must acknowledge with `\x01`.
    ErrorSent(TokenError),
    Finished,
}

/// The server side of one OAUTHBEARER exchange.
#[derive(Debug)]
pub struct OAuthBearerServer {
    state: State,
}

impl Default for OAuthBearerServer {
    fn default() -> Self {
        OAuthBearerServer {
            state: State::AwaitingToken,
        }
    }
}

impl OAuthBearerServer {
    /// Takes the client's next message. `validator` is `None` when the broker has no
    /// OAUTHBEARER settings: every token is then refused. `now` is the broker's clock.
    pub fn step(
        &mut self,
        message: &[u8],
        validator: Option<&TokenValidator>,
        now: SystemTime,
    ) -> Result<Step, AuthError> {
        let malformed = |reason: &str| AuthError::Malformed {
            mechanism: NAME,
            reason: reason.to_owned(),
        };
        if message.len() > MAX_OAUTHBEARER_MESSAGE_BYTES {
            self.state = State::Finished;
            return Err(malformed("message too long"));
        }
        match std::mem::replace(&mut self.state, State::Finished) {
            State::AwaitingToken => {
                let response = ClientInitialResponse::parse(message).map_err(malformed)?;
                let checked = match validator {
                    Some(validator) => validator.validate(&response.token, now),
                    None => Err(TokenError::NotConfigured),
                };
                let token = match checked {
                    Ok(token) => token,
                    Err(reason) => {
                        self.state = State::ErrorSent(reason);
                        return Ok(Step::Challenge(INVALID_TOKEN_RESPONSE.as_bytes().to_vec()));
                    }
                };
                if let Some(requested) = response.authorization_id {
                    if requested != token.principal {
                        return Err(AuthError::AuthorizationIdMismatch {
                            requested,
                            principal: token.principal,
                        });
                    }
                }
                Ok(Step::Authenticated {
                    user: token.principal,
                    response: Vec::new(),
                    expires_at: Some(token.expires_at),
                })
            }
            State::ErrorSent(reason) if message == [KVSEP] => {
                Err(AuthError::InvalidToken { reason })
            }
            State::ErrorSent(_) => Err(malformed("expected \\x01 after the error response")),
            State::Finished => Err(AuthError::Finished),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn parse(message: &str) -> Result<ClientInitialResponse, &'static str> {
        ClientInitialResponse::parse(message.as_bytes())
    }

    #[test]
    fn the_kafka_client_message_parses() {
        let parsed = parse("n,,\x01auth=Bearer eyJ.eyJ.sig\x01\x01").unwrap();
        assert_eq!(parsed.token, "eyJ.eyJ.sig");
        assert_eq!(parsed.authorization_id, None);
        assert!(parsed.extensions.is_empty());

        let parsed =
            parse("n,a=us=2Cer,\x01auth=bearer  a-b_c~d+e/f==\x01traceId=1 2\x01x=\x01\x01")
                .unwrap();
        assert_eq!(parsed.authorization_id.as_deref(), Some("us,er"));
        assert_eq!(parsed.token, "a-b_c~d+e/f==");
        assert_eq!(
            parsed.extensions.into_iter().collect::<Vec<_>>(),
            [("traceId".into(), "1 2".into()), ("x".into(), "".into())]
        );
    }

    #[test]
    fn render_is_the_inverse_of_parse() {
        let response = ClientInitialResponse {
            authorization_id: Some("a=b,c".into()),
            token: "t.o.k".into(),
            extensions: [("ext".to_owned(), "v v".to_owned())].into(),
        };
        assert_eq!(
            ClientInitialResponse::parse(&response.render()).unwrap(),
            response
        );
    }

    #[test]
    fn malformed_messages_say_why() {
        let cases = [
            ("", "no GS2 header"),
            (
                "x,,\x01auth=Bearer t\x01\x01",
                "bad GS2 channel binding flag",
            ),
            ("p=tls-unique,,\x01auth=Bearer t\x01\x01", "channel binding"),
            ("n,u,\x01auth=Bearer t\x01\x01", "bad authzid"),
            ("n,a=b=2,\x01auth=Bearer t\x01\x01", "bad escape"),
            ("n,,auth=Bearer t\x01\x01", "not enclosed"),
            ("n,,\x01auth=Bearer t\x01", "does not end with"),
            ("n,,\x01auth=Bearer t\x01x\x01", "does not end with"),
            ("n,,\x01auth=Bearer t\x01x\x01\x01", "has no '='"),
            ("n,,\x01auth=Bearer t\x01x1=y\x01\x01", "not letters"),
            (
                "n,,\x01auth=Bearer t\x01x=\x7f\x01\x01",
                "forbidden character",
            ),
            ("n,,\x01auth=Basic t\x01\x01", "not Bearer"),
            ("n,,\x01auth=Bearert\x01\x01", "not \"Bearer <token>\""),
            ("n,,\x01auth=Bearer t!\x01\x01", "not a b64token"),
            ("n,,\x01auth=Bearer ==\x01\x01", "not a b64token"),
            (
                "n,,\x01auth=Bearer t\x01auth=Bearer u\x01\x01",
                "more than one auth",
            ),
            (
                "n,,\x01auth=Bearer t\x01x=1\x01x=2\x01\x01",
                "appears twice",
            ),
            ("n,,\x01x=1\x01\x01", "no auth pair"),
        ];
        for (message, expected) in cases {
            let error = parse(message).unwrap_err();
            assert!(error.contains(expected), "{message:?}: {error}");
        }
        assert_eq!(
            ClientInitialResponse::parse(b"n,,\x01auth=Bearer \xff\x01\x01"),
            Err("not UTF-8")
        );
    }

    #[test]
    fn an_invalid_token_gets_the_json_error_then_fails_on_the_acknowledgement() {
        let mut server = OAuthBearerServer::default();
        let first = server
            .step(
                b"n,,\x01auth=Bearer a.b.c\x01\x01",
                None,
                SystemTime::UNIX_EPOCH,
            )
            .unwrap();
        assert_eq!(
            first,
            Step::Challenge(br#"{"status":"invalid_token"}"#.to_vec())
        );
        let error = server
            .step(b"\x01", None, SystemTime::UNIX_EPOCH)
            .unwrap_err();
        assert_eq!(
            error,
            AuthError::InvalidToken {
                reason: TokenError::NotConfigured
            }
        );
        assert_eq!(error.client_message(false), INVALID_TOKEN_RESPONSE);
        assert_eq!(
            server.step(b"\x01", None, SystemTime::UNIX_EPOCH),
            Err(AuthError::Finished)
        );
    }

    #[test]
    fn anything_but_the_acknowledgement_after_the_error_is_malformed() {
        let mut server = OAuthBearerServer::default();
        server
            .step(
                b"n,,\x01auth=Bearer a.b.c\x01\x01",
                None,
                SystemTime::UNIX_EPOCH,
            )
            .unwrap();
        let error = server
            .step(
                b"n,,\x01auth=Bearer a.b.c\x01\x01",
                None,
                SystemTime::UNIX_EPOCH,
            )
            .unwrap_err();
        assert!(error.to_string().contains("expected \\x01"), "{error}");
    }

    #[test]
    fn an_oversized_message_is_refused_before_parsing() {
        let mut server = OAuthBearerServer::default();
        let huge = vec![b'a'; MAX_OAUTHBEARER_MESSAGE_BYTES + 1];
        let error = server
            .step(&huge, None, SystemTime::UNIX_EPOCH)
            .unwrap_err();
        assert!(error.to_string().contains("too long"), "{error}");
    }
}
