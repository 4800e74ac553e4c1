//! The OAUTHBEARER settings, named as Kafka names them (KIP-768), and the token validator
//! built from them when the broker starts.

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use runnel_auth::jwt::{self, JwksError, MAX_JWKS_BYTES};
use runnel_auth::{TokenRules, TokenValidator};

use super::InvalidValue;

/// `sasl.oauthbearer.*`: where the keys that sign tokens are, and what a token must say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OAuthBearerSettings {
    /// `sasl.oauthbearer.jwks.endpoint.url`: a `file:` URL of the JSON Web Key Set.
    pub jwks_endpoint_url: Option<String>,
    /// Audience, issuer, principal claim and clock skew.
    pub rules: TokenRules,
}

/// Why OAUTHBEARER cannot be offered; the broker does not start.
#[derive(Debug, thiserror::Error)]
pub enum OAuthBearerError {
    #[error("OAUTHBEARER is enabled but sasl.oauthbearer.jwks.endpoint.url is not set")]
    NoKeySet,
    #[error("{0}")]
    Url(JwksError),
    #[error("cannot read the JWKS {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the JWKS {path}: {source}")]
    KeySet { path: PathBuf, source: JwksError },
}

impl OAuthBearerSettings {
    /// Sets `name` if it is an OAUTHBEARER setting; `Ok(false)` if it is not one.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, InvalidValue> {
        let value = value.trim();
        match name {
            "sasl.oauthbearer.jwks.endpoint.url" => {
                self.jwks_endpoint_url = (!value.is_empty()).then(|| value.to_owned());
            }
            "sasl.oauthbearer.expected.audience" => {
                self.rules.expected_audience = value
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "sasl.oauthbearer.expected.issuer" => {
                self.rules.expected_issuer = (!value.is_empty()).then(|| value.to_owned());
            }
            "sasl.oauthbearer.sub.claim.name" => {
                if value.is_empty() {
                    return Err(InvalidValue);
                }
                self.rules.sub_claim_name = value.to_owned();
            }
            "sasl.oauthbearer.clock.skew.seconds" => {
                let seconds = value.parse::<u64>().map_err(|_| InvalidValue)?;
                self.rules.clock_skew = Duration::from_secs(seconds);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Reads the key set the settings name (at most `MAX_JWKS_BYTES`) and builds the
    /// validator. Only `file:` URLs are read: the broker has no HTTP client to fetch and
    /// refresh a remote key set.
    pub fn load(&self) -> Result<TokenValidator, OAuthBearerError> {
        let url = self
            .jwks_endpoint_url
            .as_deref()
            .ok_or(OAuthBearerError::NoKeySet)?;
        let path = jwt::jwks_file_path(url).map_err(OAuthBearerError::Url)?;
        let read_error = |source| OAuthBearerError::Read {
            path: path.clone(),
            source,
        };
        let file = std::fs::File::open(&path).map_err(read_error)?;
        let mut bytes = Vec::new();
        let limit = u64::try_from(MAX_JWKS_BYTES).unwrap_or(u64::MAX) + 1;
        file.take(limit)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        TokenValidator::new(&bytes, self.rules.clone()).map_err(|source| OAuthBearerError::KeySet {
            path: path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn settings_take_kafka_names_and_defaults() {
        let mut settings = OAuthBearerSettings::default();
        assert_eq!(settings.rules.sub_claim_name, "sub");
        assert_eq!(settings.rules.clock_skew, Duration::from_secs(30));
        for (name, value) in [
            ("sasl.oauthbearer.jwks.endpoint.url", "file:///keys.json"),
            ("sasl.oauthbearer.expected.audience", "runnel, kafka"),
            ("sasl.oauthbearer.expected.issuer", "https://idp.example"),
            ("sasl.oauthbearer.sub.claim.name", "client_id"),
            ("sasl.oauthbearer.clock.skew.seconds", "5"),
        ] {
            assert_eq!(settings.set(name, value), Ok(true), "{name}");
        }
        assert_eq!(
            settings.jwks_endpoint_url.as_deref(),
            Some("file:///keys.json")
        );
        assert_eq!(settings.rules.expected_audience, ["runnel", "kafka"]);
        assert_eq!(
            settings.rules.expected_issuer.as_deref(),
            Some("https://idp.example")
        );
        assert_eq!(settings.rules.sub_claim_name, "client_id");
        assert_eq!(settings.rules.clock_skew, Duration::from_secs(5));
        assert_eq!(settings.set("sasl.oauthbearer.other", "x"), Ok(false));
        assert_eq!(
            settings.set("sasl.oauthbearer.clock.skew.seconds", "-1"),
            Err(InvalidValue)
        );
        assert_eq!(
            settings.set("sasl.oauthbearer.sub.claim.name", " "),
            Err(InvalidValue)
        );
    }

    #[test]
    fn a_missing_or_remote_or_unreadable_key_set_stops_the_start() {
        let mut settings = OAuthBearerSettings::default();
        assert!(matches!(settings.load(), Err(OAuthBearerError::NoKeySet)));
        settings.jwks_endpoint_url = Some("https://idp.example/keys".into());
        let error = settings.load().unwrap_err().to_string();
        assert!(error.contains("over https is not supported"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        settings.jwks_endpoint_url = Some(format!("file://{}", missing.display()));
        let error = settings.load().unwrap_err().to_string();
        assert!(error.starts_with("cannot read the JWKS"), "{error}");
        let empty = dir.path().join("empty.json");
        std::fs::write(&empty, br#"{"keys": []}"#).unwrap();
        settings.jwks_endpoint_url = Some(format!("file://{}", empty.display()));
        let error = settings.load().unwrap_err().to_string();
        assert!(error.contains("no public signature key"), "{error}");
    }
}
