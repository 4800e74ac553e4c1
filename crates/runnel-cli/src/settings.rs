//! Client settings with librdkafka's names, as Kafka's tools and kcat take them: a Java
//! properties file (`--command-config`, as `kafka-topics --command-config`) and repeated
//! `-X KEY=VALUE` (as kcat), the latter winning.
//!
//! The rdkafka clients get every setting as it is: librdkafka knows its own names and
//! refuses bad ones. The wire client ([`crate::wire`]) speaks the protocol itself, so it
//! reads the security settings into a [`WireSecurity`] and refuses any security setting it
//! cannot honour rather than connect with less protection than asked for.

use std::fmt;
use std::path::{Path, PathBuf};

use runnel_auth::{Mechanism, ScramMechanism};

/// The longest settings file read: a properties file of client settings is a few KiB.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The security settings the wire client honours; any other `ssl.*`, `sasl.*` or
/// `security.*` setting is refused by it.
const WIRE_SECURITY_KEYS: [&str; 9] = [
    "security.protocol",
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.endpoint.identification.algorithm",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
];

/// Why the client settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read client settings {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("client settings {path} are over {MAX_FILE_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("client settings {path} line {line}: expected KEY=VALUE, got {text:?}")]
    BadLine {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error("client setting bootstrap.servers is taken from --bootstrap-server only")]
    Bootstrap,
    #[error("invalid {key}={value:?}: expected {expected}")]
    InvalidValue {
        key: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{key} is needed with {needed_by}")]
    Missing {
        key: &'static str,
        needed_by: String,
    },
    #[error("this command speaks the Kafka protocol itself and cannot honour {key} ({reason})")]
    NotHonoured { key: String, reason: &'static str },
}

/// Client settings in the order given; a later value of a key replaces an earlier one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSettings {
    entries: Vec<(String, String)>,
}

impl ClientSettings {
    /// The settings of a `--command-config` file, then the `-X` pairs over them.
    pub fn load(
        command_config: Option<&Path>,
        overrides: &[(String, String)],
    ) -> Result<ClientSettings, SettingsError> {
        let mut settings = match command_config {
            Some(path) => ClientSettings::read(path)?,
            None => ClientSettings::default(),
        };
        for (key, value) in overrides {
            settings.set(key, value);
        }
        if settings.get("bootstrap.servers").is_some() {
            return Err(SettingsError::Bootstrap);
        }
        Ok(settings)
    }

    /// Reads a Java properties file (see [`ClientSettings::parse`]).
    pub fn read(path: &Path) -> Result<ClientSettings, SettingsError> {
        let read_error = |source| SettingsError::Read {
            path: path.to_owned(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read_error)?.len();
        if size > MAX_FILE_BYTES {
            return Err(SettingsError::TooLarge {
                path: path.to_owned(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        ClientSettings::parse(&text, path)
    }

    /// Parses the part of the Java properties format client settings files use: one
    /// `KEY=VALUE` (or `KEY: VALUE`) a line, blanks around the key and separator ignored,
    /// `#` and `!` comment lines, and a line ending in a backslash continued on the next.
    /// Anything else is a bad line rather than a setting silently misread.
    pub fn parse(text: &str, path: &Path) -> Result<ClientSettings, SettingsError> {
        let mut settings = ClientSettings::default();
        let mut lines = text.lines().enumerate();
        while let Some((index, line)) = lines.next() {
            let mut logical = line.trim_start().to_owned();
            if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
                continue;
            }
            while ends_with_continuation(&logical) {
                logical.pop();
                match lines.next() {
                    Some((_, next)) => logical.push_str(next.trim_start()),
                    None => break,
                }
            }
            let bad_line = || SettingsError::BadLine {
                path: path.to_owned(),
                line: index + 1,
                text: logical.clone(),
            };
            let separator = logical.find(['=', ':']).ok_or_else(bad_line)?;
            let key = logical[..separator].trim();
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(bad_line());
            }
            let value = logical[separator + 1..].trim_start();
            settings.set(key, value);
        }
        Ok(settings)
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.entries.retain(|(k, _)| k != key);
        self.entries.push((key.to_owned(), value.to_owned()));
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every setting, in the order given.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every setting onto a librdkafka configuration.
    pub fn apply(&self, config: &mut rdkafka::ClientConfig) {
        for (key, value) in self.entries() {
            config.set(key, value);
        }
    }

    /// The security the wire client must use, or why it cannot honour these settings.
    pub fn wire_security(&self) -> Result<WireSecurity, SettingsError> {
        for (key, _) in self.entries() {
            let security_key = key.starts_with("ssl.")
                || key.starts_with("ssl_")
                || key.starts_with("sasl.")
                || key.starts_with("security.")
                || key == "enable.ssl.certificate.verification";
            if key == "ssl.key.password" {
                return Err(SettingsError::NotHonoured {
                    key: key.to_owned(),
                    reason: "encrypted private keys are not supported: give an unencrypted PKCS#8, PKCS#1 or SEC1 key, e.g. from `openssl pkey -in KEY -out PLAIN_KEY`",
                });
            }
            if security_key && !WIRE_SECURITY_KEYS.contains(&key) {
                return Err(SettingsError::NotHonoured {
                    key: key.to_owned(),
                    reason: "it honours security.protocol, ssl.ca.location, ssl.certificate.location, ssl.key.location, ssl.endpoint.identification.algorithm, sasl.mechanism, sasl.username and sasl.password",
                });
            }
        }
        let protocol = match self.get("security.protocol") {
            None => SecurityProtocol::Plaintext,
            Some(value) => {
                SecurityProtocol::parse(value).ok_or_else(|| SettingsError::InvalidValue {
                    key: "security.protocol",
                    value: value.to_owned(),
                    expected: "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
                })?
            }
        };
        let tls = protocol.uses_tls().then(|| self.tls()).transpose()?;
        let sasl = protocol
            .uses_sasl()
            .then(|| self.sasl(protocol))
            .transpose()?;
        Ok(WireSecurity {
            protocol,
            tls,
            sasl,
        })
    }

    fn tls(&self) -> Result<TlsClientSettings, SettingsError> {
        let path = |key: &'static str| {
            self.get(key)
                .map(|value| match value {
                    // librdkafka's own value: look for the system's CA store.
                    "probe" if key == "ssl.ca.location" => Err(SettingsError::NotHonoured {
                        key: format!("{key}=probe"),
                        reason: "leave ssl.ca.location out to use the system's CA bundle",
                    }),
                    "" => Err(SettingsError::InvalidValue {
                        key,
                        value: String::new(),
                        expected: "a PEM file",
                    }),
                    path => Ok(PathBuf::from(path)),
                })
                .transpose()
        };
        let certificate = path("ssl.certificate.location")?;
        let key = path("ssl.key.location")?;
        let client_certificate = match (certificate, key) {
            (Some(certificate), Some(key)) => Some(ClientCertificate { certificate, key }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(SettingsError::Missing {
                    key: "ssl.key.location",
                    needed_by: "ssl.certificate.location".to_owned(),
                })
            }
            (None, Some(_)) => {
                return Err(SettingsError::Missing {
                    key: "ssl.certificate.location",
                    needed_by: "ssl.key.location".to_owned(),
                })
            }
        };
        let verify_hostname = match self
            .get("ssl.endpoint.identification.algorithm")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("https") => true,
            Some("none") => false,
            Some(_) => {
                return Err(SettingsError::InvalidValue {
                    key: "ssl.endpoint.identification.algorithm",
                    value: self
                        .get("ssl.endpoint.identification.algorithm")
                        .unwrap_or_default()
                        .to_owned(),
                    expected: "https or none",
                })
            }
        };
        Ok(TlsClientSettings {
            ca_location: path("ssl.ca.location")?,
            client_certificate,
            verify_hostname,
        })
    }

    fn sasl(&self, protocol: SecurityProtocol) -> Result<SaslClientSettings, SettingsError> {
        // librdkafka's name is sasl.mechanisms, Kafka's sasl.mechanism; GSSAPI is both
        // defaults, which no Runnel broker offers.
        let name = self
            .get("sasl.mechanism")
            .or_else(|| self.get("sasl.mechanisms"))
            .unwrap_or("GSSAPI");
        let mechanism =
            ClientMechanism::from_name(name.trim()).ok_or_else(|| SettingsError::NotHonoured {
                key: format!("sasl.mechanism={name}"),
                reason: "it speaks PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512",
            })?;
        let needed = |key: &'static str| {
            self.get(key)
                .map(str::to_owned)
                .ok_or_else(|| SettingsError::Missing {
                    key,
                    needed_by: format!("security.protocol={protocol}"),
                })
        };
        Ok(SaslClientSettings {
            mechanism,
            username: needed("sasl.username")?,
            password: needed("sasl.password")?,
        })
    }
}

/// Whether a line ends in an odd number of backslashes: the last one continues the line.
fn ends_with_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// Kafka's four security protocols, as `security.protocol` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    /// Case-insensitive, as librdkafka reads it.
    pub fn parse(text: &str) -> Option<SecurityProtocol> {
        match text.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Some(SecurityProtocol::Plaintext),
            "SSL" => Some(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Some(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Some(SecurityProtocol::SaslSsl),
            _ => None,
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        })
    }
}

/// How the wire client secures its connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireSecurity {
    pub protocol: SecurityProtocol,
    /// With SSL and SASL_SSL.
    pub tls: Option<TlsClientSettings>,
    /// With SASL_PLAINTEXT and SASL_SSL.
    pub sasl: Option<SaslClientSettings>,
}

impl WireSecurity {
    pub const PLAINTEXT: WireSecurity = WireSecurity {
        protocol: SecurityProtocol::Plaintext,
        tls: None,
        sasl: None,
    };
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsClientSettings {
    /// `ssl.ca.location`: the CA certificates the broker's must chain to; without it, the
    /// system's CA bundle.
    pub ca_location: Option<PathBuf>,
    /// `ssl.certificate.location` and `ssl.key.location`, for mutual TLS.
    pub client_certificate: Option<ClientCertificate>,
    /// `ssl.endpoint.identification.algorithm`: `https` (the default) checks that the
    /// broker's certificate names the host connected to, `none` does not.
    pub verify_hostname: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// PEM certificate chain, leaf first.
    pub certificate: PathBuf,
    /// PEM private key, unencrypted.
    pub key: PathBuf,
}

/// The SASL mechanisms the wire client speaks: those with a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMechanism {
    Plain,
    Scram(ScramMechanism),
}

impl ClientMechanism {
    fn from_name(name: &str) -> Option<ClientMechanism> {
        match Mechanism::from_name(name)? {
            Mechanism::Plain => Some(ClientMechanism::Plain),
            Mechanism::Scram(scram) => Some(ClientMechanism::Scram(scram)),
            Mechanism::OAuthBearer => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ClientMechanism::Plain => Mechanism::Plain.name(),
            ClientMechanism::Scram(scram) => scram.name(),
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct SaslClientSettings {
    pub mechanism: ClientMechanism,
    pub username: String,
    pub password: String,
}

/// The password stays out of logs and error messages.
impl fmt::Debug for SaslClientSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslClientSettings")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(text: &str) -> Result<ClientSettings, SettingsError> {
        ClientSettings::parse(text, Path::new("client.properties"))
    }

    fn settings(pairs: &[(&str, &str)]) -> ClientSettings {
        let mut settings = ClientSettings::default();
        for (key, value) in pairs {
            settings.set(key, value);
        }
        settings
    }

    #[test]
    fn properties_files_are_read_as_kafkas_tools_read_them() {
        let text = "# a comment\n! another\n\n  security.protocol = SASL_SSL\nsasl.mechanism:SCRAM-SHA-512\nsasl.password=p=w:d \nssl.ca.location=/etc/\\\n  ca.pem\nsecurity.protocol=SSL\n";
        let parsed = parse(text).unwrap();
        let entries: Vec<_> = parsed.entries().collect();
        assert_eq!(
            entries,
            [
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.password", "p=w:d "),
                ("ssl.ca.location", "/etc/ca.pem"),
                ("security.protocol", "SSL"),
            ]
        );
    }

    #[test]
    fn a_bad_line_is_refused_with_its_number() {
        for (text, line) in [
            ("a=1\nno separator\n", 2),
            ("=value", 1),
            ("two words=1", 1),
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!(
                    "client settings client.properties line {line}: expected KEY=VALUE"
                )),
                "{error}"
            );
        }
    }

    #[test]
    fn x_settings_win_over_the_file_and_bootstrap_servers_is_refused() {
        let dir = std::env::temp_dir().join(format!("runnel-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("client.properties");
        std::fs::write(&file, "security.protocol=SSL\nclient.id=file\n").unwrap();
        let loaded =
            ClientSettings::load(Some(&file), &[("client.id".into(), "flag".into())]).unwrap();
        assert_eq!(loaded.get("client.id"), Some("flag"));
        assert_eq!(loaded.get("security.protocol"), Some("SSL"));
        let error =
            ClientSettings::load(None, &[("bootstrap.servers".into(), "x:1".into())]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "client setting bootstrap.servers is taken from --bootstrap-server only"
        );
        let missing = ClientSettings::load(Some(&dir.join("absent")), &[]).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("cannot read client settings "),
            "{missing}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_wire_client_reads_librdkafkas_security_settings() {
        assert_eq!(
            ClientSettings::default().wire_security().unwrap(),
            WireSecurity::PLAINTEXT
        );
        let security = settings(&[
            ("security.protocol", "sasl_ssl"),
            ("ssl.ca.location", "/ca.pem"),
            ("ssl.certificate.location", "/client.pem"),
            ("ssl.key.location", "/client.key"),
            ("ssl.endpoint.identification.algorithm", "none"),
            ("sasl.mechanisms", "SCRAM-SHA-512"),
            ("sasl.username", "alice"),
            ("sasl.password", "secret"),
            ("linger.ms", "5"),
        ])
        .wire_security()
        .unwrap();
        assert_eq!(security.protocol, SecurityProtocol::SaslSsl);
        assert_eq!(
            security.tls,
            Some(TlsClientSettings {
                ca_location: Some("/ca.pem".into()),
                client_certificate: Some(ClientCertificate {
                    certificate: "/client.pem".into(),
                    key: "/client.key".into()
                }),
                verify_hostname: false,
            })
        );
        let sasl = security.sasl.unwrap();
        assert_eq!(
            sasl.mechanism,
            ClientMechanism::Scram(ScramMechanism::Sha512)
        );
        assert_eq!(
            (sasl.username.as_str(), sasl.password.as_str()),
            ("alice", "secret")
        );
        assert!(!format!("{sasl:?}").contains("secret"));
    }

    #[test]
    fn security_settings_the_wire_client_cannot_honour_are_refused_on_one_line() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("security.protocol", "TLS")],
                "invalid security.protocol=\"TLS\": expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
            ),
            (
                &[("ssl.keystore.location", "/k.p12")],
                "this command speaks the Kafka protocol itself and cannot honour ssl.keystore.location",
            ),
            (
                &[("ssl.key.password", "x")],
                "cannot honour ssl.key.password (encrypted private keys are not supported",
            ),
            (
                &[("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "GSSAPI")],
                "cannot honour sasl.mechanism=GSSAPI (it speaks PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512)",
            ),
            (
                &[("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "OAUTHBEARER")],
                "cannot honour sasl.mechanism=OAUTHBEARER (it speaks PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512)",
            ),
            (
                &[("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "PLAIN")],
                "sasl.username is needed with security.protocol=SASL_PLAINTEXT",
            ),
            (
                &[("security.protocol", "SSL"), ("ssl.certificate.location", "/c")],
                "ssl.key.location is needed with ssl.certificate.location",
            ),
            (
                &[("security.protocol", "SSL"), ("ssl.endpoint.identification.algorithm", "x")],
                "invalid ssl.endpoint.identification.algorithm=\"x\": expected https or none",
            ),
            (
                &[("security.protocol", "SSL"), ("ssl.ca.location", "probe")],
                "cannot honour ssl.ca.location=probe",
            ),
        ];
        for (pairs, expected) in cases {
            let error = settings(pairs).wire_security().unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }
}
