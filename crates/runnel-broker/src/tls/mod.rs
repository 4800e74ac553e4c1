//! TLS for SSL listeners, with rustls and Kafka's `ssl.*` settings (PEM files only).
//!
//! The server's certificate chain and key come from `ssl.keystore.location` (one PEM file
//! holding both), the CAs that client certificates must chain to from
//! `ssl.truststore.location`. Both files are watched: when a connection arrives and the last
//! look is more than [`RELOAD_CHECK_INTERVAL`] ago, their modification times and sizes are
//! compared with those loaded, and on a change the TLS configuration is rebuilt, so renewed
//! certificates are served without a restart. A new file that does not load (half-written,
//! a key that does not match) leaves the previous configuration in place, is logged and
//! counted ([`TlsContext::reload_failures`]), and is tried again at the next change.

mod handshake_failures;
pub mod principal;
mod settings;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::time::Instant;

pub use handshake_failures::{HandshakeFailure, HandshakeFailures};
pub use settings::{ClientAuth, InvalidValue, TlsSettings, TlsVersion};

/// How often, at most, the certificate files are looked at for changes.
pub const RELOAD_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("SSL listeners need ssl.keystore.location (a PEM file with the certificate chain and the private key)")]
    NoKeystore,
    #[error("ssl.client.auth={0} needs ssl.truststore.location (a PEM file of CA certificates)")]
    NoTruststore(ClientAuth),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("ssl.cipher.suites: no enabled protocol has any of the suites {0:?}")]
    NoCipherSuite(Vec<String>),
    #[error("TLS configuration refused: {0}")]
    Rustls(String),
}

/// The TLS configuration of the SSL listeners, rebuilt when its files change.
#[derive(Debug)]
pub struct TlsContext {
    settings: TlsSettings,
    loaded: Mutex<Loaded>,
    reload_failures: AtomicU64,
    reloads: AtomicU64,
    handshake_failures: HandshakeFailures,
}

#[derive(Debug)]
struct Loaded {
    config: Arc<ServerConfig>,
    /// The files' stamps the configuration was built from (or last failed to be).
    stamps: Vec<Option<FileStamp>>,
    checked_at: Instant,
}

/// What tells a file changed: its modification time and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: SystemTime,
    len: u64,
}

impl TlsContext {
    /// Loads the configuration; an error here stops the broker from starting.
    pub fn load(settings: TlsSettings, now: Instant) -> Result<TlsContext, TlsError> {
        let stamps = stamps(&settings);
        let config = build(&settings)?;
        Ok(TlsContext {
            settings,
            loaded: Mutex::new(Loaded {
                config,
                stamps,
                checked_at: now,
            }),
            reload_failures: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            handshake_failures: HandshakeFailures::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Loaded> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The configuration for a connection arriving `now`, rebuilt first if the files changed
    /// (looked at no more than once per [`RELOAD_CHECK_INTERVAL`]; the look is a `stat` of
    /// each file, and the rebuild reads them).
    pub fn config(&self, now: Instant) -> Arc<ServerConfig> {
        let mut loaded = self.lock();
        if now.saturating_duration_since(loaded.checked_at) < RELOAD_CHECK_INTERVAL {
            return Arc::clone(&loaded.config);
        }
        loaded.checked_at = now;
        let stamps = stamps(&self.settings);
        if stamps != loaded.stamps {
            loaded.stamps = stamps;
            match build(&self.settings) {
                Ok(config) => {
                    loaded.config = config;
                    self.reloads.fetch_add(1, Ordering::AcqRel);
                    tracing::info!("TLS certificates reloaded");
                }
                Err(error) => {
                    self.reload_failures.fetch_add(1, Ordering::AcqRel);
                    tracing::error!(%error, "TLS certificates not reloaded; the previous ones stay in use");
                }
            }
        }
        Arc::clone(&loaded.config)
    }

    /// Changed certificate files that were loaded since start.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Acquire)
    }

    /// Changed certificate files that did not load (the previous configuration stayed).
    pub fn reload_failures(&self) -> u64 {
        self.reload_failures.load(Ordering::Acquire)
    }

    /// The failed handshakes of the SSL listeners, per listener and reason.
    pub fn handshake_failures(&self) -> &HandshakeFailures {
        &self.handshake_failures
    }
}

fn stamps(settings: &TlsSettings) -> Vec<Option<FileStamp>> {
    settings
        .files()
        .map(|path| {
            let metadata = std::fs::metadata(path).ok()?;
            Some(FileStamp {
                modified: metadata.modified().ok()?,
                len: metadata.len(),
            })
        })
        .collect()
}

/// Builds the rustls configuration from the settings and the files they name.
fn build(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let keystore = settings
        .keystore_location
        .as_deref()
        .ok_or(TlsError::NoKeystore)?;
    let pem = read(keystore)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(keystore, &e.to_string()))?;
    if chain.is_empty() {
        return Err(pem_error(keystore, "no CERTIFICATE in the keystore"));
    }
    let key = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| pem_error(keystore, &format!("no usable PRIVATE KEY ({e})")))?;

    let provider = Arc::new(provider(settings)?);
    let rustls_error = |e: rustls::Error| TlsError::Rustls(e.to_string());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&settings.rustls_versions())
        .map_err(rustls_error)?;
    let builder = match settings.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        auth => {
            let truststore = settings
                .truststore_location
                .as_deref()
                .ok_or(TlsError::NoTruststore(auth))?;
            let pem = read(truststore)?;
            let mut roots = RootCertStore::empty();
            for certificate in CertificateDer::pem_slice_iter(&pem) {
                let certificate = certificate.map_err(|e| pem_error(truststore, &e.to_string()))?;
                roots
                    .add(certificate)
                    .map_err(|e| pem_error(truststore, &e.to_string()))?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
            let verifier = match auth {
                ClientAuth::Requested => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier
                .build()
                .map_err(|e| pem_error(truststore, &e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| pem_error(keystore, &e.to_string()))?;
    Ok(Arc::new(config))
}

/// ring's provider, with its suites narrowed to `ssl.cipher.suites` when given. Its defaults
/// are all AEAD suites with forward secrecy (AES-GCM and ChaCha20-Poly1305).
fn provider(settings: &TlsSettings) -> Result<CryptoProvider, TlsError> {
    let mut provider = crypto_provider();
    let versions = settings.rustls_versions();
    provider.cipher_suites.retain(|suite| {
        versions
            .iter()
            .any(|v| v.version == suite.version().version)
            && settings.allows_cipher_suite(suite.suite())
    });
    if provider.cipher_suites.is_empty() {
        return Err(TlsError::NoCipherSuite(settings.cipher_suites.clone()));
    }
    Ok(provider)
}

/// rustls with the ring provider: pure Rust and assembly, built without a C toolchain or
/// cmake (unlike aws-lc-rs). rustls marks it deprecated because ring has no post-quantum key
/// exchange (X25519MLKEM768); the classical groups (X25519, P-256, P-384) are offered.
#[allow(deprecated)]
pub fn crypto_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn pem_error(path: &Path, message: &str) -> TlsError {
    TlsError::Pem {
        path: path.to_owned(),
        message: message.to_owned(),
    }
}
