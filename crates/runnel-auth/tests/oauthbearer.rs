//! OAUTHBEARER with JWT validation, end to end without a socket: tokens signed by RSA and
//! EC keys generated here from a fixed seed, checked against a JWKS of their public halves
//! at an injected time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::EncodePrivateKey as _;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng as _;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use runnel_auth::jwt::{jwks_file_path, JwksError, ValidToken, MAX_JWKS_KEYS};
use runnel_auth::oauthbearer::{ClientInitialResponse, INVALID_TOKEN_RESPONSE};
use runnel_auth::{
    AuthError, CredentialTable, Exchange, Mechanism, Step, TokenError, TokenRules, TokenValidator,
    Verifiers,
};
use serde_json::{json, Value};

/// The broker's clock in every test: 2026-12-07T00:00:00Z.
const NOW: u64 = 1_796_601_600;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// A signing key with its public JWK.
struct SigningKey {
    alg: Algorithm,
    kid: &'static str,
    encoding: EncodingKey,
    jwk: Value,
}

impl SigningKey {
    fn rsa(kid: &'static str, seed: u64) -> SigningKey {
        let mut rng = StdRng::seed_from_u64(seed);
        let key = rsa::PrivateKey::new(&mut rng, 2048).unwrap();
        let der = key.to_pkcs1_der().unwrap();
        SigningKey {
            alg: Algorithm::RS256,
            kid,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk: json!({
                "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": B64URL.encode(key.n_bytes()), "e": B64URL.encode(key.e_bytes()),
            }),
        }
    }

    fn ec(kid: &'static str, seed: u64) -> SigningKey {
        let mut rng = StdRng::seed_from_u64(seed);
        let key = p256::SecretKey::generate_from_rng(&mut rng);
        let point = key.public_key().to_sec1_bytes();
        assert_eq!(point.len(), 65, "an uncompressed P-256 point");
        SigningKey {
            alg: Algorithm::ES256,
            kid,
            encoding: EncodingKey::from_ec_der(key.to_pkcs8_der().unwrap().as_bytes()),
            jwk: json!({
                "kty": "EC", "kid": kid, "crv": "P-256",
                "x": B64URL.encode(&point[1..33]), "y": B64URL.encode(&point[33..]),
            }),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

struct Keys {
    rsa: SigningKey,
    ec: SigningKey,
    /// Not in the broker's JWKS.
    stranger: SigningKey,
    /// Not in the JWKS either, but claims the RSA key's id.
    impostor: SigningKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: SigningKey::rsa("rsa-1", 1),
        ec: SigningKey::ec("ec-1", 2),
        stranger: SigningKey::ec("ec-2", 3),
        impostor: SigningKey::rsa("rsa-1", 4),
    })
}

fn jwks() -> Vec<u8> {
    let keys = keys();
    serde_json::to_vec(&json!({ "keys": [keys.rsa.jwk, keys.ec.jwk] })).unwrap()
}

fn rules() -> TokenRules {
    TokenRules {
        expected_audience: vec!["runnel".into(), "kafka".into()],
        expected_issuer: Some("https://idp.example".into()),
        ..TokenRules::default()
    }
}

fn validator() -> TokenValidator {
    TokenValidator::new(&jwks(), rules()).unwrap()
}

/// Claims that pass every check at `NOW`.
fn good_claims() -> Value {
    json!({
        "sub": "alice", "aud": "runnel", "iss": "https://idp.example",
        "iat": NOW - 60, "exp": NOW + 3600,
    })
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

fn check(token: &str) -> Result<ValidToken, TokenError> {
    validator().validate(token, at(NOW))
}

#[test]
fn rs256_and_es256_tokens_name_their_subject_and_expiry() {
    for key in [&keys().rsa, &keys().ec] {
        let token = key.sign(&good_claims());
        assert_eq!(
            check(&token).unwrap(),
            ValidToken {
                principal: "alice".into(),
                expires_at: at(NOW + 3600),
            },
            "{:?}",
            key.alg
        );
    }
}

#[test]
fn time_claims_are_checked_against_the_injected_clock_with_the_skew() {
    let key = &keys().ec;
    let cases = [
        (json!({"exp": NOW - 31}), Some("expired")),
        (json!({"exp": NOW - 30}), Some("expired")),
        (json!({"exp": NOW - 29}), None),
        (json!({"nbf": NOW + 31}), Some("not valid before")),
        (json!({"nbf": NOW + 30}), None),
        (json!({"iat": NOW + 31}), Some("issued in the future")),
        (json!({"iat": NOW + 30}), None),
        (json!({"exp": null}), Some("no \"exp\" claim")),
        (json!({"iat": null}), Some("no \"iat\" claim")),
        (
            json!({"exp": "soon"}),
            Some("\"exp\" claim is not of the expected type"),
        ),
        (json!({"exp": (NOW + 10) as f64 + 0.5}), None),
    ];
    for (changes, refused) in cases {
        let outcome = check(&key.sign(&with(good_claims(), changes.clone())));
        match refused {
            None => assert!(outcome.is_ok(), "{changes}: {outcome:?}"),
            Some(reason) => {
                let error = outcome.unwrap_err().to_string();
                assert!(error.contains(reason), "{changes}: {error}");
            }
        }
    }
}

#[test]
fn the_configured_skew_applies() {
    let strict = TokenRules {
        clock_skew: Duration::ZERO,
        ..rules()
    };
    let validator = TokenValidator::new(&jwks(), strict).unwrap();
    let token = keys().ec.sign(&with(good_claims(), json!({"exp": NOW})));
    assert!(matches!(
        validator.validate(&token, at(NOW)),
        Err(TokenError::Expired { .. })
    ));
    assert!(validator.validate(&token, at(NOW - 1)).is_ok());
}

#[test]
fn audience_issuer_and_principal_claim_are_checked() {
    let key = &keys().rsa;
    let cases = [
        (json!({"aud": "other"}), Err(TokenError::WrongAudience)),
        (json!({"aud": ["other", "kafka"]}), Ok(())),
        (
            json!({"aud": null}),
            Err(TokenError::MissingClaim("aud".into())),
        ),
        (
            json!({"iss": "https://evil.example"}),
            Err(TokenError::WrongIssuer),
        ),
        (
            json!({"iss": null}),
            Err(TokenError::MissingClaim("iss".into())),
        ),
        (
            json!({"sub": null}),
            Err(TokenError::MissingClaim("sub".into())),
        ),
        (
            json!({"sub": 42}),
            Err(TokenError::InvalidClaim("sub".into())),
        ),
        (
            json!({"sub": "  "}),
            Err(TokenError::InvalidClaim("sub".into())),
        ),
    ];
    for (changes, expected) in cases {
        let outcome = check(&key.sign(&with(good_claims(), changes.clone()))).map(|_| ());
        assert_eq!(outcome, expected, "{changes}");
    }
}

#[test]
fn unset_audience_and_issuer_are_not_checked_and_the_principal_claim_is_configurable() {
    let open = TokenRules {
        sub_claim_name: "client_id".into(),
        ..TokenRules::default()
    };
    let validator = TokenValidator::new(&jwks(), open).unwrap();
    let claims = with(
        good_claims(),
        json!({"aud": "anyone", "iss": null, "client_id": "svc-orders"}),
    );
    let token = keys().ec.sign(&claims);
    assert_eq!(
        validator.validate(&token, at(NOW)).unwrap().principal,
        "svc-orders"
    );
}

#[test]
fn tokens_from_keys_outside_the_set_are_refused() {
    let keys = keys();
    assert_eq!(
        check(&keys.stranger.sign(&good_claims())),
        Err(TokenError::UnknownKey {
            kid: Some("ec-2".into()),
            alg: Algorithm::ES256
        })
    );
    assert_eq!(
        check(&keys.impostor.sign(&good_claims())),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn a_token_without_key_id_is_tried_against_every_key_of_its_algorithm() {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = None;
    let token = jsonwebtoken::encode(&header, &good_claims(), &keys().ec.encoding).unwrap();
    assert!(check(&token).is_ok());
    let token = jsonwebtoken::encode(&header, &good_claims(), &keys().stranger.encoding).unwrap();
    assert_eq!(check(&token), Err(TokenError::BadSignature));
}

#[test]
fn symmetric_algorithms_and_declared_algorithm_mismatches_are_refused() {
    let secret = EncodingKey::from_secret(b"anyone can read a public key set").unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    let token = jsonwebtoken::encode(&header, &good_claims(), &secret).unwrap();
    assert_eq!(
        check(&token),
        Err(TokenError::AlgorithmNotAllowed(Algorithm::HS256))
    );
    // The RSA key is declared RS256: a PS256 signature by the same key is not accepted.
    let mut header = Header::new(Algorithm::PS256);
    header.kid = Some("rsa-1".into());
    let token = jsonwebtoken::encode(&header, &good_claims(), &keys().rsa.encoding).unwrap();
    assert!(matches!(check(&token), Err(TokenError::UnknownKey { .. })));
}

#[test]
fn malformed_tokens_are_refused() {
    for token in ["", "a.b", "a.b.c", "e30.e30.", "not a token at all"] {
        assert!(
            matches!(check(token), Err(TokenError::Malformed(_))),
            "{token:?}"
        );
    }
}

#[test]
fn key_sets_without_a_usable_signature_key_are_refused() {
    let rsa = keys().rsa.jwk.clone();
    let cases = [
        (json!({"keys": []}), JwksError::NoUsableKey),
        (
            json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}),
            JwksError::NoUsableKey,
        ),
        (
            json!({"keys": [with(rsa.clone(), json!({"use": "enc"}))]}),
            JwksError::NoUsableKey,
        ),
        (
            json!({"keys": vec![rsa.clone(); MAX_JWKS_KEYS + 1]}),
            JwksError::TooManyKeys {
                count: MAX_JWKS_KEYS + 1,
            },
        ),
    ];
    for (set, expected) in cases {
        let bytes = serde_json::to_vec(&set).unwrap();
        assert_eq!(
            TokenValidator::new(&bytes, rules()).unwrap_err(),
            expected,
            "{set}"
        );
    }
    let error = TokenValidator::new(b"{\"keys\": 3}", rules()).unwrap_err();
    assert!(matches!(error, JwksError::Invalid(_)), "{error}");
    // Unusable keys beside a usable one are skipped, not fatal.
    let mixed = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}, keys().ec.jwk]});
    let validator = TokenValidator::new(&serde_json::to_vec(&mixed).unwrap(), rules()).unwrap();
    assert!(validator
        .validate(&keys().ec.sign(&good_claims()), at(NOW))
        .is_ok());
}

#[test]
fn only_file_urls_name_a_key_set() {
    assert_eq!(
        jwks_file_path("file:///etc/runnel/jwks.json").unwrap(),
        std::path::Path::new("/etc/runnel/jwks.json")
    );
    assert_eq!(
        jwks_file_path("file://localhost/jwks.json").unwrap(),
        std::path::Path::new("/jwks.json")
    );
    assert_eq!(
        jwks_file_path("file:/jwks.json").unwrap(),
        std::path::Path::new("/jwks.json")
    );
    let https = jwks_file_path("https://idp.example/keys").unwrap_err();
    assert!(
        https.to_string().contains("over https is not supported"),
        "{https}"
    );
    for url in ["file://host/jwks.json", "file:jwks.json", "jwks.json", ""] {
        assert!(
            matches!(jwks_file_path(url), Err(JwksError::NotAFileUrl { .. })),
            "{url}"
        );
    }
}

fn exchange(message: &[u8], validator: &TokenValidator) -> (Exchange, Result<Step, AuthError>) {
    let mut exchange = Exchange::new(Mechanism::OAuthBearer, String::new(), b"k");
    let table = CredentialTable::default();
    let verifiers = Verifiers {
        credentials: &table,
        tokens: Some(validator),
        now: at(NOW),
    };
    let step = exchange.step(message, &verifiers);
    (exchange, step)
}

fn client_message(token: String, authorization_id: Option<&str>) -> Vec<u8> {
    ClientInitialResponse {
        authorization_id: authorization_id.map(str::to_owned),
        token,
        extensions: [("traceId".to_owned(), "abc".to_owned())].into(),
    }
    .render()
}

#[test]
fn a_valid_token_authenticates_in_one_message_with_the_token_expiry() {
    let validator = validator();
    let token = keys().rsa.sign(&good_claims());
    for authorization_id in [None, Some("alice")] {
        let (_, step) = exchange(&client_message(token.clone(), authorization_id), &validator);
        assert_eq!(
            step.unwrap(),
            Step::Authenticated {
                user: "alice".into(),
                response: Vec::new(),
                expires_at: Some(at(NOW + 3600)),
            }
        );
    }
    let (_, step) = exchange(&client_message(token, Some("bob")), &validator);
    let error = step.unwrap_err();
    assert!(
        error.client_message(false).contains(
            "Client requested an authorization id (bob) that is different from the token's principal name (alice)"
        ),
        "{error}"
    );
}

#[test]
fn an_expired_token_is_answered_with_invalid_token_then_refused() {
    let validator = validator();
    let token = keys()
        .ec
        .sign(&with(good_claims(), json!({"exp": NOW - 3600})));
    let (mut server, step) = exchange(&client_message(token, None), &validator);
    assert_eq!(
        step.unwrap(),
        Step::Challenge(INVALID_TOKEN_RESPONSE.as_bytes().to_vec())
    );
    let table = CredentialTable::default();
    let verifiers = Verifiers {
        credentials: &table,
        tokens: Some(&validator),
        now: at(NOW),
    };
    let error = server.step(b"\x01", &verifiers).unwrap_err();
    assert!(
        matches!(
            &error,
            AuthError::InvalidToken {
                reason: TokenError::Expired { .. }
            }
        ),
        "{error}"
    );
    assert_eq!(error.client_message(false), r#"{"status":"invalid_token"}"#);
}

/// Whether a token with these time claims (seconds relative to `NOW`) is valid with a 30 s
/// skew: the model the validator must agree with.
fn model_accepts(exp: i64, nbf: Option<i64>, iat: i64) -> bool {
    exp + 30 > 0 && nbf.is_none_or(|nbf| nbf - 30 <= 0) && iat - 30 <= 0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn time_claims_agree_with_the_model(
        exp in -120i64..120,
        nbf in proptest::option::of(-120i64..120),
        iat in -120i64..120,
        rsa in any::<bool>(),
    ) {
        let key = if rsa { &keys().rsa } else { &keys().ec };
        let absolute = |offset: i64| NOW.checked_add_signed(offset).unwrap();
        let mut claims = with(good_claims(), json!({"exp": absolute(exp), "iat": absolute(iat)}));
        if let Some(nbf) = nbf {
            claims["nbf"] = json!(absolute(nbf));
        }
        let outcome = check(&key.sign(&claims));
        prop_assert_eq!(outcome.is_ok(), model_accepts(exp, nbf, iat), "{:?}", outcome);
    }

    #[test]
    fn a_changed_byte_never_passes(position in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let token = keys().ec.sign(&good_claims());
        let mut bytes = token.clone().into_bytes();
        let at_index = position.index(bytes.len());
        prop_assume!(bytes[at_index] != byte);
        bytes[at_index] = byte;
        let changed = String::from_utf8_lossy(&bytes).into_owned();
        // A base64url character can carry unused bits: a change there may decode to the same
        // bytes, and then the token is the same token.
        let decoded = |t: &str| t.split('.').map(|s| B64URL.decode(s).ok()).collect::<Vec<_>>();
        prop_assume!(decoded(&changed) != decoded(&token));
        prop_assert!(check(&changed).is_err());
    }

    #[test]
    fn arbitrary_client_messages_never_authenticate(
        message in proptest::collection::vec(any::<u8>(), 0..400),
        acknowledgement in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        let validator = validator();
        let (mut server, step) = exchange(&message, &validator);
        let table = CredentialTable::default();
        let verifiers = Verifiers { credentials: &table, tokens: Some(&validator), now: at(NOW) };
        let authenticated = match step {
            Ok(Step::Challenge(_)) => matches!(
                server.step(&acknowledgement, &verifiers),
                Ok(Step::Authenticated { .. })
            ),
            Ok(Step::Authenticated { .. }) => true,
            Err(_) => false,
        };
        prop_assert!(!authenticated);
    }
}
