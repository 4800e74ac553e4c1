//! Failed TLS handshakes, counted per listener and reason (the series
//! `runnel_tls_handshake_failures_total{listener,reason}`): an operator tells clients with
//! an expired or untrusted certificate from port scanners and plaintext clients.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

/// Why a handshake failed. The set is fixed, so the series stay few: listeners × reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HandshakeFailure {
    /// No client certificate where `ssl.client.auth=required`.
    NoCertificate,
    /// A client certificate that does not chain to the truststore, or is expired, revoked or
    /// otherwise invalid.
    BadCertificate,
    /// The client ended the handshake with an alert: typically it does not trust the
    /// broker's certificate.
    ClientAlert,
    /// Not TLS, or nothing the broker accepts: a plaintext client, garbage, no common
    /// protocol version or cipher suite.
    Protocol,
    /// The connection closed or failed in the middle of the handshake.
    Closed,
    /// The handshake was not completed in the time allowed.
    Timeout,
}

impl HandshakeFailure {
    /// The reason of a handshake that failed with `error` (what `tokio-rustls` returns: a
    /// rustls error inside an I/O error, or the socket's own error).
    pub fn of(error: &std::io::Error) -> HandshakeFailure {
        let tls = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match tls {
            None => HandshakeFailure::Closed,
            Some(rustls::Error::NoCertificatesPresented) => HandshakeFailure::NoCertificate,
            Some(rustls::Error::InvalidCertificate(_)) => HandshakeFailure::BadCertificate,
            Some(rustls::Error::AlertReceived(_)) => HandshakeFailure::ClientAlert,
            Some(_) => HandshakeFailure::Protocol,
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeFailure::NoCertificate => "no_certificate",
            HandshakeFailure::BadCertificate => "bad_certificate",
            HandshakeFailure::ClientAlert => "client_alert",
            HandshakeFailure::Protocol => "protocol",
            HandshakeFailure::Closed => "closed",
            HandshakeFailure::Timeout => "timeout",
        }
    }
}

impl fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The failed handshakes of every SSL listener since start.
#[derive(Debug, Default)]
pub struct HandshakeFailures {
    counts: Mutex<BTreeMap<(String, HandshakeFailure), u64>>,
}

impl HandshakeFailures {
    /// Counts one failed handshake on `listener`.
    pub fn count(&self, listener: &str, reason: HandshakeFailure) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry((listener.to_owned(), reason)).or_default() += 1;
    }

    /// Every (listener, reason) that failed at least once, with its count.
    pub fn snapshot(&self) -> Vec<(String, HandshakeFailure, u64)> {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts
            .iter()
            .map(|((listener, reason), count)| (listener.clone(), *reason, *count))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn io(error: rustls::Error) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, error)
    }

    #[test]
    fn rustls_errors_are_classified_by_what_the_operator_can_do_about_them() {
        let cases = [
            (
                io(rustls::Error::NoCertificatesPresented),
                HandshakeFailure::NoCertificate,
            ),
            (
                io(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer,
                )),
                HandshakeFailure::BadCertificate,
            ),
            (
                io(rustls::Error::AlertReceived(
                    rustls::AlertDescription::UnknownCA,
                )),
                HandshakeFailure::ClientAlert,
            ),
            (
                io(rustls::Error::InvalidMessage(
                    rustls::InvalidMessage::InvalidContentType,
                )),
                HandshakeFailure::Protocol,
            ),
            (
                std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
                HandshakeFailure::Closed,
            ),
        ];
        for (error, reason) in cases {
            assert_eq!(HandshakeFailure::of(&error), reason, "{error}");
        }
    }

    #[test]
    fn failures_are_counted_per_listener_and_reason() {
        let failures = HandshakeFailures::default();
        failures.count("SSL", HandshakeFailure::Protocol);
        failures.count("SSL", HandshakeFailure::Protocol);
        failures.count("EXTERNAL", HandshakeFailure::Timeout);
        assert_eq!(
            failures.snapshot(),
            [
                ("EXTERNAL".to_owned(), HandshakeFailure::Timeout, 1),
                ("SSL".to_owned(), HandshakeFailure::Protocol, 2),
            ]
        );
    }
}
