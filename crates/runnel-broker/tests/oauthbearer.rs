//! OAUTHBEARER over a real socket with librdkafka: a client whose token callback hands a JWT
//! signed by a key of the broker's JWKS produces as the token's subject; an
//! expired token and a token signed by a key outside the set are refused with
//! SASL_AUTHENTICATION_FAILED, which librdkafka reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::EncodePrivateKey as _;
use rand::rngs::StdRng;
use rand::SeedableRng as _;
use rdkafka::client::OAuthToken;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientContext;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{json, Value};

use common::{bootstrap, start};
use runnel_broker::Broker;

/// A signing key and its public JWK.
struct Signer {
    alg: Algorithm,
    kid: &'static str,
    key: EncodingKey,
    jwk: Value,
}

impl Signer {
    fn rsa(kid: &'static str, seed: u64) -> Signer {
        let key = rsa::PrivateKey::new(&mut StdRng::seed_from_u64(seed), 2048).unwrap();
        Signer {
            alg: Algorithm::RS256,
            kid,
            key: EncodingKey::from_rsa_der(key.to_pkcs1_der().unwrap().as_bytes()),
            jwk: json!({"kty": "RSA", "kid": kid, "alg": "RS256",
                "n": B64URL.encode(key.n_bytes()), "e": B64URL.encode(key.e_bytes())}),
        }
    }

    fn ec(kid: &'static str, seed: u64) -> Signer {
        let key = p256::SecretKey::generate_from_rng(&mut StdRng::seed_from_u64(seed));
        let point = key.public_key().to_sec1_bytes();
        Signer {
            alg: Algorithm::ES256,
            kid,
            key: EncodingKey::from_ec_der(key.to_pkcs8_der().unwrap().as_bytes()),
            jwk: json!({"kty": "EC", "kid": kid, "crv": "P-256",
                "x": B64URL.encode(&point[1..33]), "y": B64URL.encode(&point[33..])}),
        }
    }

    /// A token for `sub` that expires `expires_in` seconds from now (negative: expired).
    fn token(&self, sub: &str, expires_in: i64) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.to_owned());
        let claims = json!({"sub": sub, "aud": "runnel", "iat": now - 60, "exp": now + expires_in});
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }
}

/// librdkafka's token callback: hands out one fixed token, and keeps the errors the client
/// reports.
#[derive(Clone)]
struct Token {
    jwt: String,
    errors: Arc<Mutex<Vec<(KafkaError, String)>>>,
}

impl Token {
    fn new(jwt: String) -> Token {
        Token {
            jwt,
            errors: Arc::default(),
        }
    }

    fn errors(&self) -> Vec<(KafkaError, String)> {
        self.errors.lock().unwrap().clone()
    }
}

impl ClientContext for Token {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(&self, _config: Option<&str>) -> Result<OAuthToken, Box<dyn Error>> {
        // librdkafka wants the lifetime as a time since the epoch, in the future; the
        // broker reads the token's own `exp`.
        let lifetime = SystemTime::now() + Duration::from_secs(3600);
        Ok(OAuthToken {
            token: self.jwt.clone(),
            principal_name: "client".to_owned(),
            lifetime_ms: lifetime.duration_since(UNIX_EPOCH)?.as_millis() as i64,
        })
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.errors.lock().unwrap().push((error, reason.to_owned()));
    }
}

fn config(broker: &Broker) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap(broker))
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "OAUTHBEARER")
        .set("message.timeout.ms", "20000");
    config
}

async fn start_oauth(dir: &std::path::Path, jwks: &Value) -> Broker {
    let keys = dir.join("jwks.json");
    std::fs::write(&keys, serde_json::to_vec(jwks).unwrap()).unwrap();
    let data = dir.join("data");
    start(&data, |c| {
        for (name, value) in [
            ("listeners", "SASL_PLAINTEXT://127.0.0.1:0".to_owned()),
            ("sasl.enabled.mechanisms", "OAUTHBEARER".to_owned()),
            (
                "sasl.oauthbearer.jwks.endpoint.url",
                format!("file://{}", keys.display()),
            ),
            ("sasl.oauthbearer.expected.audience", "runnel".to_owned()),
            // Only alice may do anything: the produce below proves the principal is the
            // token's subject.
            (
                "authorizer.class.name",
                runnel_broker::acls::STANDARD_AUTHORIZER.to_owned(),
            ),
            ("super.users", "User:alice".to_owned()),
        ] {
            c.set(name, &value).unwrap();
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_produces_with_a_signed_token_as_its_subject() {
    let dir = tempfile::tempdir().unwrap();
    let (rsa, ec) = (Signer::rsa("rsa-1", 1), Signer::ec("ec-1", 2));
    let broker = start_oauth(dir.path(), &json!({"keys": [rsa.jwk, ec.jwk]})).await;

    for jwt in [rsa.token("alice", 3600), ec.token("alice", 3600)] {
        let token = Token::new(jwt);
        let producer: FutureProducer<Token> =
            config(&broker).create_with_context(token.clone()).unwrap();
        let sent = producer
            .send(
                FutureRecord::to("orders").key("k").payload("paid"),
                Duration::from_secs(20),
            )
            .await;
        assert!(sent.is_ok(), "{sent:?}: {:?}", token.errors());
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_and_tokens_of_unknown_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (trusted, stranger) = (Signer::ec("ec-1", 2), Signer::ec("ec-2", 3));
    let broker = start_oauth(dir.path(), &json!({"keys": [trusted.jwk]})).await;

    for (what, jwt) in [
        ("expired", trusted.token("alice", -3600)),
        ("unknown key", stranger.token("alice", 3600)),
    ] {
        let token = Token::new(jwt);
        let producer: FutureProducer<Token> =
            config(&broker).create_with_context(token.clone()).unwrap();
        let refused = producer.send(
            FutureRecord::to("orders").key("k").payload("x"),
            Duration::from_secs(0),
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let reported = loop {
            let errors = token.errors();
            if let Some(found) = errors.iter().find(|(error, _)| {
                error.rdkafka_error_code() == Some(RDKafkaErrorCode::Authentication)
            }) {
                break found.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: no authentication error reported: {errors:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // librdkafka turns the broker's SASL_AUTHENTICATION_FAILED into its local
        // authentication error, with the broker's message.
        let reason = reported.1;
        assert!(
            reason.contains("SASL authentication error")
                && reason.contains(r#"{"status":"invalid_token"}"#),
            "{what}: {reason}"
        );
        drop(refused);
        drop(producer);
    }
    broker.shutdown().await.unwrap();
}
