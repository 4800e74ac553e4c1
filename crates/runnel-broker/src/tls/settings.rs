//! The `ssl.*` broker settings, with Kafka's names and the PEM subset of their values.

use std::fmt;
use std::path::{Path, PathBuf};

use rustls::{CipherSuite, SupportedProtocolVersion};

/// `ssl.client.auth`: whether clients are asked for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No certificate asked for: every client is `User:ANONYMOUS`.
    #[default]
    None,
    /// A certificate asked for; a client without one is anonymous, one with an untrusted
    /// certificate is refused.
    Requested,
    /// A trusted certificate needed: the handshake fails without one.
    Required,
}

impl fmt::Display for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientAuth::None => "none",
            ClientAuth::Requested => "requested",
            ClientAuth::Required => "required",
        })
    }
}

/// A value outside what a setting accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid value")]
pub struct InvalidValue;

/// A version of `ssl.enabled.protocols`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// The SSL listeners' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `ssl.keystore.location`: a PEM file with the certificate chain (leaf first) and the
    /// private key (PKCS#8, PKCS#1 or SEC1, unencrypted).
    pub keystore_location: Option<PathBuf>,
    /// `ssl.truststore.location`: a PEM file of the CA certificates client certificates must
    /// chain to.
    pub truststore_location: Option<PathBuf>,
    /// `ssl.client.auth`.
    pub client_auth: ClientAuth,
    /// `ssl.enabled.protocols`: TLSv1.2 and TLSv1.3 by default (nothing older is possible).
    pub enabled_protocols: Vec<TlsVersion>,
    /// `ssl.cipher.suites`, by IANA name (`TLS_AES_128_GCM_SHA256`,
    /// `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`, ...); empty means every suite rustls offers,
    /// all of them AEAD with forward secrecy.
    pub cipher_suites: Vec<String>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            keystore_location: None,
            truststore_location: None,
            client_auth: ClientAuth::None,
            enabled_protocols: vec![TlsVersion::Tls12, TlsVersion::Tls13],
            cipher_suites: Vec::new(),
        }
    }
}

impl TlsSettings {
    /// Applies one `ssl.*` setting: `Ok(false)` when the name is not one of them, `Err` when
    /// the value is not valid.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, InvalidValue> {
        let value = value.trim();
        let list = || {
            value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
        };
        match name {
            // Only PEM files: the JKS and PKCS12 stores are Java's.
            "ssl.keystore.type" | "ssl.truststore.type" => {
                if !value.eq_ignore_ascii_case("PEM") {
                    return Err(InvalidValue);
                }
            }
            "ssl.keystore.location" => self.keystore_location = Some(non_empty_path(value)?),
            "ssl.truststore.location" => self.truststore_location = Some(non_empty_path(value)?),
            "ssl.client.auth" => {
                self.client_auth = match value.to_ascii_lowercase().as_str() {
                    "none" => ClientAuth::None,
                    "requested" => ClientAuth::Requested,
                    "required" => ClientAuth::Required,
                    _ => return Err(InvalidValue),
                }
            }
            "ssl.enabled.protocols" => {
                let versions = list()
                    .map(|item| match item {
                        "TLSv1.2" => Ok(TlsVersion::Tls12),
                        "TLSv1.3" => Ok(TlsVersion::Tls13),
                        _ => Err(InvalidValue),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if versions.is_empty() {
                    return Err(InvalidValue);
                }
                self.enabled_protocols = versions;
            }
            "ssl.cipher.suites" => {
                let known = super::crypto_provider().cipher_suites;
                let suites: Vec<String> = list().map(normalise).collect();
                let all_known = suites
                    .iter()
                    .all(|name| known.iter().any(|s| suite_name(s.suite()) == *name));
                if !all_known {
                    return Err(InvalidValue);
                }
                self.cipher_suites = suites;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The files the configuration is built from.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.keystore_location
            .iter()
            .chain(&self.truststore_location)
            .map(PathBuf::as_path)
    }

    pub(crate) fn rustls_versions(&self) -> Vec<&'static SupportedProtocolVersion> {
        self.enabled_protocols
            .iter()
            .map(|v| match v {
                TlsVersion::Tls12 => &rustls::version::TLS12,
                TlsVersion::Tls13 => &rustls::version::TLS13,
            })
            .collect()
    }

    pub(crate) fn allows_cipher_suite(&self, suite: CipherSuite) -> bool {
        self.cipher_suites.is_empty() || self.cipher_suites.contains(&suite_name(suite))
    }
}

fn non_empty_path(value: &str) -> Result<PathBuf, InvalidValue> {
    if value.is_empty() {
        Err(InvalidValue)
    } else {
        Ok(PathBuf::from(value))
    }
}

/// The IANA name of a suite (rustls writes TLS 1.3's with a `TLS13_` prefix).
fn suite_name(suite: CipherSuite) -> String {
    normalise(suite.as_str().unwrap_or_default())
}

fn normalise(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    match upper.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => upper,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn kafka_names_and_values_are_read() {
        let mut settings = TlsSettings::default();
        for (name, value) in [
            ("ssl.keystore.type", "PEM"),
            ("ssl.truststore.type", "pem"),
            ("ssl.keystore.location", "/etc/runnel/broker.pem"),
            ("ssl.truststore.location", "/etc/runnel/ca.pem"),
            ("ssl.client.auth", "required"),
            ("ssl.enabled.protocols", "TLSv1.3"),
            (
                "ssl.cipher.suites",
                "TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256",
            ),
        ] {
            assert_eq!(settings.set(name, value), Ok(true), "{name}");
        }
        assert_eq!(settings.client_auth, ClientAuth::Required);
        assert_eq!(settings.enabled_protocols, [TlsVersion::Tls13]);
        assert_eq!(settings.files().count(), 2);
        assert!(settings.allows_cipher_suite(CipherSuite::TLS13_AES_256_GCM_SHA384));
        assert!(!settings.allows_cipher_suite(CipherSuite::TLS13_AES_128_GCM_SHA256));
        assert_eq!(settings.set("ssl.unknown", "x"), Ok(false));
    }

    #[test]
    fn values_outside_the_supported_subset_are_refused() {
        let mut settings = TlsSettings::default();
        for (name, value) in [
            ("ssl.keystore.type", "JKS"),
            ("ssl.client.auth", "optional"),
            ("ssl.enabled.protocols", "TLSv1.1"),
            ("ssl.enabled.protocols", ""),
            ("ssl.cipher.suites", "TLS_RSA_WITH_AES_128_CBC_SHA"),
            ("ssl.keystore.location", " "),
        ] {
            assert_eq!(
                settings.set(name, value),
                Err(InvalidValue),
                "{name}={value}"
            );
        }
        assert_eq!(settings, TlsSettings::default());
    }
}
