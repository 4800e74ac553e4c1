//! SASL on a connection of a SASL_PLAINTEXT or SASL_SSL listener, as Kafka's server
//! authenticator behaves: which requests may be served, the SaslHandshake and
//! SaslAuthenticate exchange, the session's lifetime and re-authentication (KIP-368).
//!
//! [`SaslConnection`] is a state machine without I/O: requests' API keys, the client's
//! bytes and the time go in, answers and decisions come out, so every case (expiry above
//! all) is a unit test with no socket. The server asks it about every request before
//! serving one; the SASL handlers feed it the two SASL requests.
//!
//! Mechanisms are dispatched in one place only, `runnel-auth`'s [`Mechanism`] and
//! [`Exchange`]: a new mechanism is a variant of each there, named in
//! `sasl.enabled.mechanisms`, and nothing here changes (a mechanism whose credential expires
//! would also cap the session lifetime computed in [`SaslConnection::authenticate`]).

mod oauthbearer;
mod settings;

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;
use runnel_auth::{Exchange, Mechanism, Step, TokenValidator, Verifiers};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::session::Principal;

pub use oauthbearer::{OAuthBearerError, OAuthBearerSettings};
pub use settings::{InvalidValue, SaslSettings};

/// What every SASL connection of a broker shares.
#[derive(Debug)]
pub struct SaslShared {
    /// The secret an unknown user's made-up SCRAM salt is derived from, fixed for the
    /// broker's life (see [`Exchange::new`]).
    pub(crate) decoy_key: Vec<u8>,
    /// Bounds the exchange steps computed at once: a PLAIN step hashes a password thousands
    /// of times, and a flood of logins must leave the other cores to authenticated clients.
    pub(crate) steps: Arc<Semaphore>,
    /// What OAUTHBEARER tokens are checked against; `None` when no listener offers it.
    pub(crate) tokens: Option<TokenValidator>,
}

impl SaslShared {
    pub fn new(decoy_key: Vec<u8>, parallel_steps: usize, tokens: Option<TokenValidator>) -> Self {
        SaslShared {
            decoy_key,
            steps: Arc::new(Semaphore::new(parallel_steps.max(1))),
            tokens,
        }
    }
}

/// What to do with a request, before it is read further than its header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Serve it as any request, as the session's principal.
    Serve,
    /// A SaslHandshake or SaslAuthenticate: the SASL handlers answer it.
    Exchange,
    /// Close the connection without answering, as Kafka does.
    Close(&'static str),
}

/// The answer to a SaslHandshake.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct HandshakeAnswer {
    pub(crate) error: Option<ResponseError>,
    /// The listener's mechanisms, listed in every answer as Kafka lists them.
    pub(crate) mechanisms: Vec<&'static str>,
    /// Whether the connection is closed after the answer (held back as a failed
    /// authentication).
    pub(crate) close: bool,
}

/// The answer to a SaslAuthenticate.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AuthenticateAnswer {
    /// The exchange goes on, or is over and succeeded: `principal` is then set (the same as
    /// before after a re-authentication) and `session_lifetime_ms` is how long it holds
    /// (0: forever).
    Continue {
        auth_bytes: Vec<u8>,
        principal: Option<Principal>,
        session_lifetime_ms: i64,
    },
    /// Refused with `error` and `message`; `close`: the connection is closed after the
    /// answer, held back as a failed authentication.
    Refused {
        error: ResponseError,
        message: String,
        close: bool,
    },
}

/// The SASL state of one connection.
#[derive(Debug)]
pub(crate) struct SaslConnection {
    mechanisms: Vec<Mechanism>,
    max_reauth: Option<Duration>,
    phase: Phase,
    /// Who authenticated first, and how: a re-authentication must keep both.
    identity: Option<(Principal, Mechanism)>,
    /// When the current authentication stops holding.
    expires_at: Option<Instant>,
    /// Whether ApiVersions was answered before authentication: as Kafka, only one is, so an
    /// unauthenticated client cannot hold its connection open by asking again and again.
    answered_api_versions: bool,
}

#[derive(Debug)]
enum Phase {
    /// No exchange under way: before the first authentication, or between two.
    Idle,
    /// After a SaslHandshake: only SaslAuthenticate may follow.
    Exchanging {
        mechanism: Mechanism,
        exchange: Exchange,
    },
}

impl SaslConnection {
    /// A connection just accepted on a listener offering `mechanisms`; `max_reauth` is
    /// `connections.max.reauth.ms`, zero for no limit.
    pub(crate) fn new(mechanisms: Vec<Mechanism>, max_reauth: Duration) -> Self {
        SaslConnection {
            mechanisms,
            max_reauth: (!max_reauth.is_zero()).then_some(max_reauth),
            phase: Phase::Idle,
            identity: None,
            expires_at: None,
            answered_api_versions: false,
        }
    }

    /// The mechanism of the exchange under way, or of the last authentication.
    pub(crate) fn mechanism(&self) -> Option<Mechanism> {
        match &self.phase {
            Phase::Exchanging { mechanism, .. } => Some(*mechanism),
            Phase::Idle => self.identity.as_ref().map(|(_, m)| *m),
        }
    }

    /// Whether the client has authenticated and is not in an exchange: until then its frames
    /// are bounded by `sasl.server.max.receive.size`.
    pub(crate) fn authenticated(&self) -> bool {
        self.identity.is_some() && matches!(self.phase, Phase::Idle)
    }

    fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whether a request of `api` arriving at `now` is served, answered by the SASL
    /// handlers or ends the connection. Before authentication only ApiVersions and the
    /// exchange are served, and ApiVersions once; during an exchange only SaslAuthenticate;
    /// once the session has expired only a SaslHandshake starting a re-authentication.
    pub(crate) fn admit(&mut self, api: ApiKey, now: Instant) -> Admission {
        match (&self.phase, api) {
            (Phase::Exchanging { .. }, ApiKey::SaslAuthenticate) => Admission::Exchange,
            (Phase::Exchanging { .. }, _) => {
                Admission::Close("a request other than SaslAuthenticate during SASL authentication")
            }
            (Phase::Idle, ApiKey::SaslHandshake) => Admission::Exchange,
            (Phase::Idle, _) if self.identity.is_none() => match api {
                ApiKey::ApiVersions if self.answered_api_versions => {
                    Admission::Close("a second ApiVersions before SASL authentication")
                }
                ApiKey::ApiVersions => {
                    self.answered_api_versions = true;
                    Admission::Serve
                }
                ApiKey::SaslAuthenticate => Admission::Exchange,
                _ => Admission::Close("a request before SASL authentication"),
            },
            (Phase::Idle, _) if self.expired(now) => {
                Admission::Close("the SASL session expired and the client did not re-authenticate")
            }
            (Phase::Idle, ApiKey::SaslAuthenticate) => Admission::Exchange,
            (Phase::Idle, _) => Admission::Serve,
        }
    }

    /// Answers a SaslHandshake naming `mechanism`; `server_nonce` and `decoy_key` start the
    /// exchange (see [`Exchange::new`]).
    pub(crate) fn handshake(
        &mut self,
        mechanism: &str,
        server_nonce: String,
        decoy_key: &[u8],
    ) -> HandshakeAnswer {
        let answer = |error: Option<ResponseError>| HandshakeAnswer {
            close: error.is_some(),
            error,
            mechanisms: self.mechanisms.iter().map(|m| m.name()).collect(),
        };
        let refuse = |error| answer(Some(error));
        if matches!(self.phase, Phase::Exchanging { .. }) {
            return refuse(ResponseError::IllegalSaslState);
        }
        let Some(chosen) = self
            .mechanisms
            .iter()
            .copied()
            .find(|m| m.name() == mechanism)
        else {
            return refuse(ResponseError::UnsupportedSaslMechanism);
        };
        // As Kafka: a re-authentication uses the mechanism of the first authentication.
        if self.identity.as_ref().is_some_and(|(_, m)| *m != chosen) {
            return refuse(ResponseError::UnsupportedSaslMechanism);
        }
        let accepted = answer(None);
        self.phase = Phase::Exchanging {
            mechanism: chosen,
            exchange: Exchange::new(chosen, server_nonce, decoy_key),
        };
        accepted
    }

    /// Answers a SaslAuthenticate carrying `message`, checked against `verifiers` (whose
    /// `now` is the wall clock tokens are checked at), at the monotonic `now`. May cost a
    /// password hash (PLAIN): run it off the async workers.
    pub(crate) fn authenticate(
        &mut self,
        message: &[u8],
        verifiers: &Verifiers<'_>,
        now: Instant,
    ) -> AuthenticateAnswer {
        let Phase::Exchanging {
            exchange,
            mechanism,
        } = &mut self.phase
        else {
            let (message, close) = match self.identity {
                Some(_) => (
                    "SaslAuthenticate request received after successful authentication",
                    false,
                ),
                None => (
                    "SaslAuthenticate request received before SaslHandshake",
                    true,
                ),
            };
            return AuthenticateAnswer::Refused {
                error: ResponseError::IllegalSaslState,
                message: message.to_owned(),
                close,
            };
        };
        let mechanism = *mechanism;
        let reauthenticating = self.identity.is_some();
        let (user, auth_bytes, credential_expiry) = match exchange.step(message, verifiers) {
            Ok(Step::Challenge(auth_bytes)) => {
                return AuthenticateAnswer::Continue {
                    auth_bytes,
                    principal: None,
                    session_lifetime_ms: 0,
                }
            }
            Ok(Step::Authenticated {
                user,
                response,
                expires_at,
            }) => (user, response, expires_at),
            Err(error) => {
                self.phase = Phase::Idle;
                return refused(error.client_message(reauthenticating));
            }
        };
        self.phase = Phase::Idle;
        let principal = Principal::user(user);
        if let Some((previous, _)) = &self.identity {
            if *previous != principal {
                return refused(format!(
                    "Cannot change principals during re-authentication from {previous}: {principal}"
                ));
            }
        }
        self.identity = Some((principal.clone(), mechanism));
        // KIP-368: the session ends with the credential (an OAUTHBEARER token's `exp`) when
        // that comes before `connections.max.reauth.ms`, even when re-authentication is
        // otherwise off. A token accepted within the clock skew after its `exp` gets the
        // shortest lifetime, so the client re-authenticates at once.
        let credential_left = credential_expiry.map(|at| {
            at.duration_since(verifiers.now)
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_millis(1))
        });
        let lifetime = match (self.max_reauth, credential_left) {
            (Some(reauth), Some(left)) => Some(reauth.min(left)),
            (reauth, left) => reauth.or(left),
        };
        self.expires_at = lifetime.map(|lifetime| now + lifetime);
        AuthenticateAnswer::Continue {
            auth_bytes,
            principal: Some(principal),
            session_lifetime_ms: lifetime
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        }
    }
}

fn refused(message: String) -> AuthenticateAnswer {
    AuthenticateAnswer::Refused {
        error: ResponseError::SaslAuthenticationFailed,
        message,
        close: true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use runnel_auth::{CredentialTable, ScramCredential, ScramMechanism};

    const PLAIN: Mechanism = Mechanism::Plain;
    const SCRAM: Mechanism = Mechanism::Scram(ScramMechanism::Sha256);

    fn users() -> CredentialTable {
        let mut table = CredentialTable::default();
        for (user, password) in [("alice", "alice-secret"), ("bob", "bob-secret")] {
            let credential = ScramCredential::from_password(
                ScramMechanism::Sha256,
                password.as_bytes(),
                b"salt",
                4096,
            );
            table.set(user, ScramMechanism::Sha256, credential);
        }
        table
    }

    /// Password checks only: no token validator.
    fn passwords(table: &CredentialTable) -> Verifiers<'_> {
        Verifiers {
            credentials: table,
            tokens: None,
            now: std::time::SystemTime::UNIX_EPOCH,
        }
    }

    fn connection(max_reauth_ms: u64) -> SaslConnection {
        SaslConnection::new(vec![SCRAM, PLAIN], Duration::from_millis(max_reauth_ms))
    }

    /// A whole PLAIN authentication; the principal on success, the refusal otherwise.
    fn plain(
        sasl: &mut SaslConnection,
        user: &str,
        password: &str,
        now: Instant,
    ) -> Result<(Principal, i64), (ResponseError, String)> {
        let answer = sasl.handshake("PLAIN", "nonce".to_owned(), b"key");
        assert_eq!(answer.error, None);
        let message = format!("\0{user}\0{password}");
        match sasl.authenticate(message.as_bytes(), &passwords(&users()), now) {
            AuthenticateAnswer::Continue {
                principal: Some(principal),
                session_lifetime_ms,
                ..
            } => Ok((principal, session_lifetime_ms)),
            AuthenticateAnswer::Refused { error, message, .. } => Err((error, message)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn before_authentication_only_api_versions_and_the_exchange_are_admitted() {
        let now = Instant::now();
        let mut sasl = connection(0);
        assert_eq!(sasl.admit(ApiKey::ApiVersions, now), Admission::Serve);
        assert_eq!(sasl.admit(ApiKey::SaslHandshake, now), Admission::Exchange);
        assert!(matches!(
            sasl.admit(ApiKey::Metadata, now),
            Admission::Close(_)
        ));
        assert_eq!(
            sasl.admit(ApiKey::ApiVersions, now),
            Admission::Close("a second ApiVersions before SASL authentication")
        );
        sasl.handshake("SCRAM-SHA-256", "nonce".to_owned(), b"key");
        assert_eq!(
            sasl.admit(ApiKey::SaslAuthenticate, now),
            Admission::Exchange
        );
        for api in [ApiKey::ApiVersions, ApiKey::Produce, ApiKey::SaslHandshake] {
            assert!(
                matches!(sasl.admit(api, now), Admission::Close(_)),
                "{api:?}"
            );
        }
    }

    #[test]
    fn the_handshake_lists_the_enabled_mechanisms_and_refuses_others() {
        let mut sasl = connection(0);
        let answer = sasl.handshake("GSSAPI", "n".to_owned(), b"k");
        assert_eq!(
            answer,
            HandshakeAnswer {
                error: Some(ResponseError::UnsupportedSaslMechanism),
                mechanisms: vec!["SCRAM-SHA-256", "PLAIN"],
                close: true,
            }
        );
        let answer = sasl.handshake("SCRAM-SHA-256", "n".to_owned(), b"k");
        assert_eq!(answer.error, None);
        assert_eq!(answer.mechanisms, ["SCRAM-SHA-256", "PLAIN"]);
        let again = sasl.handshake("SCRAM-SHA-256", "n".to_owned(), b"k");
        assert_eq!(again.error, Some(ResponseError::IllegalSaslState));
    }

    #[test]
    fn authenticate_before_the_handshake_is_an_illegal_state() {
        let mut sasl = connection(0);
        let answer = sasl.authenticate(
            b"\0alice\0alice-secret",
            &passwords(&users()),
            Instant::now(),
        );
        assert!(matches!(
            answer,
            AuthenticateAnswer::Refused {
                error: ResponseError::IllegalSaslState,
                close: true,
                ..
            }
        ));
    }

    #[test]
    fn a_wrong_password_is_refused_with_kafkas_message() {
        let mut sasl = connection(0);
        let refused = plain(&mut sasl, "alice", "wrong", Instant::now()).unwrap_err();
        assert_eq!(
            refused,
            (
                ResponseError::SaslAuthenticationFailed,
                "Authentication failed: Invalid username or password".to_owned()
            )
        );
    }

    #[test]
    fn authentication_sets_the_principal_and_serves_requests_until_the_session_expires() {
        let start = Instant::now();
        let mut sasl = connection(1_000);
        let (principal, lifetime) = plain(&mut sasl, "alice", "alice-secret", start).unwrap();
        assert_eq!(principal.to_string(), "User:alice");
        assert_eq!(lifetime, 1_000);
        let before = start + Duration::from_millis(999);
        let at = start + Duration::from_millis(1_000);
        assert_eq!(sasl.admit(ApiKey::Produce, before), Admission::Serve);
        // Once authenticated, ApiVersions is served as often as asked.
        for _ in 0..2 {
            assert_eq!(sasl.admit(ApiKey::ApiVersions, before), Admission::Serve);
        }
        assert!(matches!(
            sasl.admit(ApiKey::Produce, at),
            Admission::Close(_)
        ));
        assert!(matches!(
            sasl.admit(ApiKey::ApiVersions, at),
            Admission::Close(_)
        ));
        // Re-authenticating renews the session from its end.
        assert_eq!(sasl.admit(ApiKey::SaslHandshake, at), Admission::Exchange);
        let (again, _) = plain(&mut sasl, "alice", "alice-secret", at).unwrap();
        assert_eq!(again, principal);
        assert_eq!(
            sasl.admit(ApiKey::Produce, at + Duration::from_millis(999)),
            Admission::Serve
        );
    }

    #[test]
    fn without_max_reauth_a_session_never_expires() {
        let start = Instant::now();
        let mut sasl = connection(0);
        let (_, lifetime) = plain(&mut sasl, "alice", "alice-secret", start).unwrap();
        assert_eq!(lifetime, 0);
        let much_later = start + Duration::from_secs(365 * 24 * 3600);
        assert_eq!(sasl.admit(ApiKey::Fetch, much_later), Admission::Serve);
    }

    #[test]
    fn re_authentication_keeps_the_principal_and_the_mechanism() {
        let now = Instant::now();
        let mut sasl = connection(0);
        plain(&mut sasl, "alice", "alice-secret", now).unwrap();
        let refused = plain(&mut sasl, "bob", "bob-secret", now).unwrap_err();
        assert_eq!(
            refused,
            (
                ResponseError::SaslAuthenticationFailed,
                "Cannot change principals during re-authentication from User:alice: User:bob"
                    .to_owned()
            )
        );
        let mut sasl = connection(0);
        plain(&mut sasl, "alice", "alice-secret", now).unwrap();
        let answer = sasl.handshake("SCRAM-SHA-256", "n".to_owned(), b"k");
        assert_eq!(answer.error, Some(ResponseError::UnsupportedSaslMechanism));
        assert!(answer.close);
    }

    #[test]
    fn a_wrong_scram_proof_is_refused_at_the_last_message() {
        let now = Instant::now();
        let mut sasl = SaslConnection::new(vec![SCRAM], Duration::ZERO);
        let exchange = |sasl: &mut SaslConnection, message: &[u8]| {
            sasl.authenticate(message, &passwords(&users()), now)
        };
        sasl.handshake("SCRAM-SHA-256", "server".to_owned(), b"k");
        let first = exchange(&mut sasl, b"n,,n=alice,r=client");
        assert!(matches!(
            first,
            AuthenticateAnswer::Continue {
                principal: None,
                ..
            }
        ));
        let last = exchange(&mut sasl, b"c=biws,r=clientserver,p=AAAA");
        let AuthenticateAnswer::Refused { message, .. } = last else {
            panic!("{last:?}")
        };
        assert_eq!(
            message,
            "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"
        );
    }
    /// An OAUTHBEARER login with an ES256 token for alice that expires `expires_in` seconds
    /// after `wall`, on a connection with `max_reauth_ms`; the session lifetime it is given.
    fn token_login(max_reauth_ms: u64, wall: std::time::SystemTime, expires_in: u64) -> i64 {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
        use base64::Engine as _;
        use p256::elliptic_curve::Generate as _;
        use p256::pkcs8::EncodePrivateKey as _;
        use rand::SeedableRng as _;
        let key = p256::SecretKey::generate_from_rng(&mut rand::rngs::StdRng::seed_from_u64(7));
        let point = key.public_key().to_sec1_bytes();
        let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256",
            "x": B64URL.encode(&point[1..33]), "y": B64URL.encode(&point[33..])}]});
        let validator = TokenValidator::new(
            &serde_json::to_vec(&jwks).unwrap(),
            runnel_auth::TokenRules::default(),
        )
        .unwrap();
        let now = wall
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = serde_json::json!({"sub": "alice", "iat": now, "exp": now + expires_in});
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_der(key.to_pkcs8_der().unwrap().as_bytes()),
        )
        .unwrap();
        let mut sasl = SaslConnection::new(
            vec![Mechanism::OAuthBearer],
            Duration::from_millis(max_reauth_ms),
        );
        assert_eq!(
            sasl.handshake("OAUTHBEARER", String::new(), b"k").error,
            None
        );
        let table = CredentialTable::default();
        let verifiers = Verifiers {
            credentials: &table,
            tokens: Some(&validator),
            now: wall,
        };
        let message = format!("n,,\x01auth=Bearer {token}\x01\x01");
        match sasl.authenticate(message.as_bytes(), &verifiers, Instant::now()) {
            AuthenticateAnswer::Continue {
                principal: Some(principal),
                session_lifetime_ms,
                ..
            } => {
                assert_eq!(principal, Principal::user("alice".to_owned()));
                session_lifetime_ms
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_token_session_ends_with_the_token_even_without_reauthentication() {
        let wall = std::time::UNIX_EPOCH + Duration::from_secs(1_796_601_600);
        // Re-authentication off: the token's 60 s are the session.
        assert_eq!(token_login(0, wall, 60), 60_000);
        // The shorter of the two wins.
        assert_eq!(token_login(3_600_000, wall, 60), 60_000);
        assert_eq!(token_login(10_000, wall, 60), 10_000);
    }
}
