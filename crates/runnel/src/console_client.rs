//! Which listener of its own broker the web console connects to, and with which client
//! settings: the console is a Kafka client of this broker like any other, so when every
//! listener needs TLS or SASL it must present what they ask for.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use runnel_broker::listeners::{ListenerInfo, SecurityProtocol};
use runnel_broker::tls::{ClientAuth, TlsSettings};
use runnel_cli::settings::ClientSettings;

/// The bootstrap address and client settings of the console:
///
/// * with `--console-command-config FILE`, those settings and the first listener of their
///   `security.protocol` (PLAINTEXT when they name none);
/// * else the first PLAINTEXT listener, with no settings;
/// * else the first SSL listener, trusting the broker's truststore (`ssl.truststore.location`,
///   which must hold the CA that signed the broker's certificate) and, when listeners ask for
///   client certificates, presenting the broker's own keystore. The host name is not
///   checked: the console connects to a socket its own process bound, by address.
///
/// SASL listeners alone need `--console-command-config` with credentials.
pub fn console_client(
    listeners: &[Arc<ListenerInfo>],
    tls: &TlsSettings,
    command_config: Option<&Path>,
) -> anyhow::Result<(String, ClientSettings)> {
    let first = |protocol: SecurityProtocol| {
        listeners
            .iter()
            .find(|l| l.protocol == protocol)
            .map(|l| reachable(l.local_addr).to_string())
    };
    if let Some(path) = command_config {
        let settings = ClientSettings::read(path).context("--console-command-config")?;
        let protocol = match settings.get("security.protocol") {
            None => SecurityProtocol::Plaintext,
            Some(name) => name.parse().map_err(|()| {
                anyhow!(
                    "--console-command-config {}: unknown security.protocol {name:?}",
                    path.display()
                )
            })?,
        };
        let address = first(protocol).ok_or_else(|| {
            anyhow!(
                "--console-command-config {} asks for security.protocol {protocol}, which no listener speaks",
                path.display()
            )
        })?;
        return Ok((address, settings));
    }
    if let Some(address) = first(SecurityProtocol::Plaintext) {
        return Ok((address, ClientSettings::default()));
    }
    let no_listener = || {
        anyhow!(
            "the web console has no listener it can use: give --console-command-config FILE with the client settings of one (e.g. SASL credentials), or turn the admin server off with --admin-listen ''"
        )
    };
    let address = first(SecurityProtocol::Ssl).ok_or_else(no_listener)?;
    let truststore = tls.truststore_location.as_deref().ok_or_else(no_listener)?;
    let mut settings = ClientSettings::default();
    settings.set("security.protocol", "SSL");
    settings.set("ssl.ca.location", &truststore.display().to_string());
    settings.set("ssl.endpoint.identification.algorithm", "none");
    if tls.client_auth != ClientAuth::None {
        if let Some(keystore) = &tls.keystore_location {
            let keystore = keystore.display().to_string();
            settings.set("ssl.certificate.location", &keystore);
            settings.set("ssl.key.location", &keystore);
        }
    }
    Ok((address, settings))
}

/// A listener bound to every interface is reached through the loopback address.
fn reachable(bound: SocketAddr) -> SocketAddr {
    match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), bound.port())
        }
        _ => bound,
    }
}
