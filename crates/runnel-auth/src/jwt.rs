//! Validation of the JSON Web Tokens that OAUTHBEARER clients present, as Kafka's broker
//! validator does (KIP-768): the signature against a configured JSON Web Key Set, then
//! `exp`, `nbf` and `iat` against the caller's clock with an allowed skew, the audience, the
//! issuer, and the claim that names the principal.
//!
//! `jsonwebtoken` checks the signature, the algorithm, the audience and the issuer. The time
//! claims are checked here instead, because `jsonwebtoken` reads the system clock and the
//! broker's clock must be injectable.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// A key set larger than this is refused: identity providers publish a handful of keys, and
/// every token may be tried against each key whose id and algorithm fit.
pub const MAX_JWKS_KEYS: usize = 64;

/// A JWKS document larger than this is refused before it is parsed.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Kafka's default for `sasl.oauthbearer.clock.skew.seconds`.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(30);

/// Kafka's default for `sasl.oauthbearer.sub.claim.name`.
pub const DEFAULT_SUB_CLAIM_NAME: &str = "sub";

/// The broker settings that shape token validation, named as Kafka names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRules {
    /// `sasl.oauthbearer.expected.audience`: the token's `aud` must contain one of these;
    /// empty means the audience is not checked.
    pub expected_audience: Vec<String>,
    /// `sasl.oauthbearer.expected.issuer`: the token's `iss` must be exactly this.
    pub expected_issuer: Option<String>,
    /// `sasl.oauthbearer.sub.claim.name`: the claim whose string value is the principal.
    pub sub_claim_name: String,
    /// `sasl.oauthbearer.clock.skew.seconds`: how far `exp`, `nbf` and `iat` may be off.
    pub clock_skew: Duration,
}

impl Default for TokenRules {
    fn default() -> Self {
        TokenRules {
            expected_audience: Vec::new(),
            expected_issuer: None,
            sub_claim_name: DEFAULT_SUB_CLAIM_NAME.to_owned(),
            clock_skew: DEFAULT_CLOCK_SKEW,
        }
    }
}

/// Why a key set or its location is refused when the broker starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("sasl.oauthbearer.jwks.endpoint.url {url:?}: fetching a key set over {scheme} is not supported; save the JWKS to a file and give its file:// URL")]
    UnsupportedScheme { url: String, scheme: String },
    #[error(
        "sasl.oauthbearer.jwks.endpoint.url {url:?} is not a file:// URL with an absolute path"
    )]
    NotAFileUrl { url: String },
    #[error("the JWKS is {size} bytes, more than the {MAX_JWKS_BYTES} accepted")]
    TooLarge { size: usize },
    #[error("the JWKS is not a valid JSON Web Key Set: {0}")]
    Invalid(String),
    #[error("the JWKS has {count} keys, more than the {MAX_JWKS_KEYS} accepted")]
    TooManyKeys { count: usize },
    #[error(
        "the JWKS has no public signature key Runnel can use (RSA, EC P-256 or P-384, Ed25519)"
    )]
    NoUsableKey,
}

/// The local file a `sasl.oauthbearer.jwks.endpoint.url` names. Only `file:` URLs are
/// supported: fetching over https needs a client and a refresh schedule the broker does not
/// have, so such a URL stops the start with a message saying what to do instead.
pub fn jwks_file_path(url: &str) -> Result<PathBuf, JwksError> {
    let not_a_file = || JwksError::NotAFileUrl {
        url: url.to_owned(),
    };
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(not_a_file());
    };
    if !scheme.eq_ignore_ascii_case("file") {
        return Err(JwksError::UnsupportedScheme {
            url: url.to_owned(),
            scheme: scheme.to_owned(),
        });
    }
    // `file:///path` (empty host), `file://localhost/path` and `file:/path` all name a
    // local absolute path.
    let path = match rest.strip_prefix("//") {
        Some(authority_and_path) => {
            let slash = authority_and_path.find('/').ok_or_else(not_a_file)?;
            let (host, path) = authority_and_path.split_at(slash);
            if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
                return Err(not_a_file());
            }
            path
        }
        None => rest,
    };
    if !path.starts_with('/') {
        return Err(not_a_file());
    }
    Ok(PathBuf::from(path))
}

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidToken {
    /// The value of the principal claim: Kafka's principal is `User:<principal>`.
    pub principal: String,
    /// The token's `exp`: the session must not outlive it.
    pub expires_at: SystemTime,
}

/// Why a token is refused. The client is only told `invalid_token`, as Kafka tells it; this
/// reason is for the broker's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error(
        "OAUTHBEARER is not configured on this broker (no sasl.oauthbearer.jwks.endpoint.url)"
    )]
    NotConfigured,
    #[error("the token is not a signed JWT: {0}")]
    Malformed(String),
    #[error("the token's algorithm {0:?} is not accepted (only asymmetric signatures are)")]
    AlgorithmNotAllowed(Algorithm),
    #[error("no key of the JWKS matches the token's key id {kid:?} and algorithm {alg:?}")]
    UnknownKey { kid: Option<String>, alg: Algorithm },
    #[error("the token's signature does not verify with the JWKS key")]
    BadSignature,
    #[error("the token has no {0:?} claim")]
    MissingClaim(String),
    #[error("the token's {0:?} claim is not of the expected type")]
    InvalidClaim(String),
    #[error("the token expired at {exp} (now {now}, clock skew {skew}s)")]
    Expired { exp: i64, now: i64, skew: u64 },
    #[error("the token is not valid before {nbf} (now {now}, clock skew {skew}s)")]
    NotYetValid { nbf: i64, now: i64, skew: u64 },
    #[error("the token was issued in the future, at {iat} (now {now}, clock skew {skew}s)")]
    IssuedInFuture { iat: i64, now: i64, skew: u64 },
    #[error("the token's audience is not one of the expected audiences")]
    WrongAudience,
    #[error("the token's issuer is not the expected issuer")]
    WrongIssuer,
}

/// One verification key of the set, with the algorithms it may verify.
#[derive(Clone)]
struct VerificationKey {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

/// Validates tokens against one key set and one set of rules.
#[derive(Debug, Clone)]
pub struct TokenValidator {
    keys: Vec<VerificationKey>,
    rules: TokenRules,
}

impl TokenValidator {
    /// Parses a JWKS document (RFC 7517). Keys Runnel cannot verify with (encryption keys,
    /// symmetric keys, unknown curves) are left out; a set with none left is refused.
    /// Symmetric (`oct`) keys are never used: a key set is public, and a secret published in
    /// it would let anyone sign tokens.
    pub fn new(jwks: &[u8], rules: TokenRules) -> Result<TokenValidator, JwksError> {
        if jwks.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge { size: jwks.len() });
        }
        let set: JwkSet =
            serde_json::from_slice(jwks).map_err(|e| JwksError::Invalid(e.to_string()))?;
        if set.keys.len() > MAX_JWKS_KEYS {
            return Err(JwksError::TooManyKeys {
                count: set.keys.len(),
            });
        }
        let keys: Vec<VerificationKey> = set
            .keys
            .iter()
            .filter_map(|jwk| {
                if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature)
                {
                    return None;
                }
                let by_type = key_type_algorithms(&jwk.algorithm);
                let algorithms = match jwk.common.key_algorithm {
                    None => by_type,
                    Some(declared) => by_type
                        .into_iter()
                        .filter(|alg| same_algorithm(*alg, declared))
                        .collect(),
                };
                if algorithms.is_empty() {
                    return None;
                }
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some(VerificationKey {
                    kid: jwk.common.key_id.clone(),
                    algorithms,
                    key,
                })
            })
            .collect();
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        Ok(TokenValidator { keys, rules })
    }

    pub fn rules(&self) -> &TokenRules {
        &self.rules
    }

    /// Checks a compact JWS token at time `now`.
    pub fn validate(&self, token: &str, now: SystemTime) -> Result<ValidToken, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        if !is_asymmetric(header.alg) {
            return Err(TokenError::AlgorithmNotAllowed(header.alg));
        }
        let candidates = self.keys.iter().filter(|k| {
            k.algorithms.contains(&header.alg)
                && (header.kid.is_none() || k.kid.as_deref() == header.kid.as_deref())
        });
        let validation = self.signature_validation(header.alg);
        let mut outcome = Err(TokenError::UnknownKey {
            kid: header.kid.clone(),
            alg: header.alg,
        });
        for candidate in candidates {
            outcome =
                jsonwebtoken::decode::<Map<String, Value>>(token, &candidate.key, &validation)
                    .map(|data| data.claims)
                    .map_err(signature_error);
            if !matches!(outcome, Err(TokenError::BadSignature)) {
                break;
            }
        }
        self.check_claims(&outcome?, now)
    }

    /// What `jsonwebtoken` checks: the signature with the header's algorithm, the audience
    /// and the issuer. Its clock-based checks are off; [`Self::check_claims`] does them.
    fn signature_validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims = HashSet::new();
        validation.leeway = 0;
        if self.rules.expected_audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.rules.expected_audience);
            validation.required_spec_claims.insert("aud".to_owned());
        }
        if let Some(issuer) = &self.rules.expected_issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        validation
    }

    /// The time claims and the principal, as Kafka requires them: `exp` and `iat` present,
    /// `nbf` optional, each within the clock skew of `now`.
    fn check_claims(
        &self,
        claims: &Map<String, Value>,
        now: SystemTime,
    ) -> Result<ValidToken, TokenError> {
        let now = unix_seconds(now);
        let skew = self.rules.clock_skew.as_secs();
        let skew_signed = i64::try_from(skew).unwrap_or(i64::MAX);
        let exp = numeric_date(claims, "exp")?.ok_or_else(|| missing("exp"))?;
        let iat = numeric_date(claims, "iat")?.ok_or_else(|| missing("iat"))?;
        if exp.saturating_add(skew_signed) <= now {
            return Err(TokenError::Expired { exp, now, skew });
        }
        if let Some(nbf) = numeric_date(claims, "nbf")? {
            if nbf.saturating_sub(skew_signed) > now {
                return Err(TokenError::NotYetValid { nbf, now, skew });
            }
        }
        if iat.saturating_sub(skew_signed) > now {
            return Err(TokenError::IssuedInFuture { iat, now, skew });
        }
        let name = &self.rules.sub_claim_name;
        let principal = match claims.get(name) {
            None | Some(Value::Null) => return Err(missing(name)),
            Some(Value::String(value)) if !value.trim().is_empty() => value.clone(),
            Some(_) => return Err(TokenError::InvalidClaim(name.clone())),
        };
        let expires_at = UNIX_EPOCH + Duration::from_secs(u64::try_from(exp).unwrap_or(0));
        Ok(ValidToken {
            principal,
            expires_at,
        })
    }
}

fn missing(claim: &str) -> TokenError {
    TokenError::MissingClaim(claim.to_owned())
}

fn signature_error(error: jsonwebtoken::errors::Error) -> TokenError {
    match error.kind() {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_) => TokenError::BadSignature,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim.clone()),
        ErrorKind::InvalidClaimFormat(claim) => TokenError::InvalidClaim(claim.clone()),
        _ => TokenError::Malformed(error.to_string()),
    }
}

/// Seconds since the Unix epoch; a clock before 1970 reads as negative.
fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// A NumericDate claim (RFC 7519 §2): seconds since the epoch, possibly fractional.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, TokenError> {
    let invalid = || TokenError::InvalidClaim(name.to_owned());
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => {
            if let Some(seconds) = number.as_i64() {
                Ok(Some(seconds))
            } else {
                let seconds = number.as_f64().ok_or_else(invalid)?;
                if !seconds.is_finite() || seconds.abs() >= 9.0e15 {
                    return Err(invalid());
                }
                // In range just checked, so the conversion is exact after flooring.
                #[allow(clippy::cast_possible_truncation)]
                Ok(Some(seconds.floor() as i64))
            }
        }
        Some(_) => Err(invalid()),
    }
}

fn is_asymmetric(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// The signature algorithms a key of this type and curve can verify.
fn key_type_algorithms(parameters: &AlgorithmParameters) -> Vec<Algorithm> {
    match parameters {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => Vec::new(),
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            vec![Algorithm::EdDSA]
        }
        _ => Vec::new(),
    }
}

fn same_algorithm(alg: Algorithm, declared: KeyAlgorithm) -> bool {
    matches!(
        (alg, declared),
        (Algorithm::RS256, KeyAlgorithm::RS256)
            | (Algorithm::RS384, KeyAlgorithm::RS384)
            | (Algorithm::RS512, KeyAlgorithm::RS512)
            | (Algorithm::PS256, KeyAlgorithm::PS256)
            | (Algorithm::PS384, KeyAlgorithm::PS384)
            | (Algorithm::PS512, KeyAlgorithm::PS512)
            | (Algorithm::ES256, KeyAlgorithm::ES256)
            | (Algorithm::ES384, KeyAlgorithm::ES384)
            | (Algorithm::EdDSA, KeyAlgorithm::EdDSA)
    )
}
