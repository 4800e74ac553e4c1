//! TLS for the wire client, with rustls's blocking API (`StreamOwned` over the
//! `TcpStream`) and librdkafka's meaning of the `ssl.*` settings: the broker's certificate
//! must chain to `ssl.ca.location` (else to the system's CA bundle) and, unless
//! `ssl.endpoint.identification.algorithm=none`, name the host connected to; a client
//! certificate is presented when `ssl.certificate.location` and `ssl.key.location` are given.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, StreamOwned,
};

use super::WireError;
use crate::settings::TlsClientSettings;

/// Where OpenSSL-based clients (librdkafka among them) find the system's CA bundle on the
/// common Linux distributions, after `SSL_CERT_FILE`.
const SYSTEM_CA_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// A connection to a broker: plain TCP, or TLS over it.
#[derive(Debug)]
pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(stream) => stream.read(buf),
            Stream::Tls(stream) => stream.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(stream) => stream.write(buf),
            Stream::Tls(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(stream) => stream.flush(),
            Stream::Tls(stream) => stream.flush(),
        }
    }
}

/// The rustls configuration for `settings`, read from their files.
pub(super) fn client_config(settings: &TlsClientSettings) -> Result<Arc<ClientConfig>, WireError> {
    let provider = Arc::new(crypto_provider());
    let roots = Arc::new(roots(settings.ca_location.as_deref())?);
    let rustls_error = |e: rustls::Error| WireError::TlsSettings(e.to_string());
    let webpki = WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
        .build()
        .map_err(|e| WireError::TlsSettings(e.to_string()))?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(rustls_error)?;
    let builder = if settings.verify_hostname {
        builder.with_webpki_verifier(webpki)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyHostName(webpki)))
    };
    let config = match &settings.client_certificate {
        Some(client) => {
            let chain = certificates(&client.certificate, "ssl.certificate.location")?;
            let key = PrivateKeyDer::from_pem_file(&client.key).map_err(|e| {
                WireError::TlsSettings(format!(
                    "ssl.key.location {}: no usable unencrypted private key ({e})",
                    client.key.display()
                ))
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(rustls_error)?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Opens a TLS session over `tcp` to `host` and completes the handshake, so a certificate
/// refused on either side is reported here rather than at the first request.
pub(super) fn handshake(
    config: Arc<ClientConfig>,
    host: &str,
    mut tcp: TcpStream,
) -> Result<Stream, WireError> {
    let name = ServerName::try_from(host.to_owned()).map_err(|_| {
        WireError::TlsSettings(format!("{host:?} is neither a host name nor an IP address"))
    })?;
    let mut connection =
        ClientConnection::new(config, name).map_err(|e| WireError::TlsSettings(e.to_string()))?;
    while connection.is_handshaking() {
        connection
            .complete_io(&mut tcp)
            .map_err(WireError::TlsHandshake)?;
    }
    Ok(Stream::Tls(Box::new(StreamOwned::new(connection, tcp))))
}

/// rustls with ring's provider, the broker's: pure Rust and assembly, no C toolchain. rustls
/// marks it deprecated for its lack of a post-quantum key exchange; the classical groups are
/// offered.
#[allow(deprecated)]
fn crypto_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn roots(ca_location: Option<&Path>) -> Result<RootCertStore, WireError> {
    let (path, source) = match ca_location {
        Some(path) => (path.to_owned(), "ssl.ca.location"),
        None => (system_ca_bundle()?, "the system CA bundle"),
    };
    let mut roots = RootCertStore::empty();
    for certificate in certificates(&path, source)? {
        roots
            .add(certificate)
            .map_err(|e| WireError::TlsSettings(format!("{source} {}: {e}", path.display())))?;
    }
    Ok(roots)
}

/// `SSL_CERT_FILE` as OpenSSL reads it, else the first bundle of the usual places.
fn system_ca_bundle() -> Result<PathBuf, WireError> {
    std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .or_else(|| {
            SYSTEM_CA_BUNDLES
                .iter()
                .map(PathBuf::from)
                .find(|path| path.is_file())
        })
        .ok_or_else(|| {
            WireError::TlsSettings("no system CA bundle found: give ssl.ca.location".to_owned())
        })
}

/// Every certificate of a PEM file, at least one.
fn certificates(path: &Path, setting: &str) -> Result<Vec<CertificateDer<'static>>, WireError> {
    let bad =
        |reason: String| WireError::TlsSettings(format!("{setting} {}: {reason}", path.display()));
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if chain.is_empty() {
        return Err(bad("no CERTIFICATE in it".to_owned()));
    }
    Ok(chain)
}

/// `ssl.endpoint.identification.algorithm=none`: the chain is verified as usual, only the
/// name in the certificate is not compared with the host connected to.
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain first and the name last, so a name error means the chain
        // was good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
