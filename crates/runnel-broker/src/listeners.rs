//! Listeners, with Kafka's settings: `listeners` (`NAME://HOST:PORT,...`),
//! `listener.security.protocol.map` (`NAME:PROTOCOL,...`) and `advertised.listeners`.
//!
//! Each listener is bound to its own address, has its own accept loop and its own security
//! protocol, and advertises its own endpoint: Metadata, FindCoordinator and DescribeCluster
//! answer with the endpoint of the listener the request came in on, so a client that
//! bootstrapped through the SSL listener keeps using it. The zero-config default is one
//! PLAINTEXT listener on `--listen`/`listen` (plain `HOST:PORT`), advertised as `advertise`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use crate::broker::parse_host_port;

/// How a listener's connections are secured: Kafka's four security protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];

    /// Kafka's name, as in `listener.security.protocol.map` and `security.protocol`.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether connections are encrypted with TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether a client must authenticate with SASL before its requests are served.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SecurityProtocol {
    type Err = ();

    /// Case-insensitive, as Kafka and librdkafka read it.
    fn from_str(text: &str) -> Result<Self, ()> {
        SecurityProtocol::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text.trim()))
            .ok_or(())
    }
}

/// Why a listener setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenerError {
    #[error("{0:?} is not a listener: expected NAME://HOST:PORT (HOST may be empty)")]
    Endpoint(String),
    #[error("{0:?} is not a listener.security.protocol.map entry: expected NAME:PROTOCOL with PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL")]
    MapEntry(String),
    #[error("listener {0} is defined twice")]
    DuplicateName(String),
    #[error("listeners {0} and {1} both bind port {2}")]
    DuplicatePort(String, String, u16),
    #[error("no security protocol for listener {0}: add it to listener.security.protocol.map")]
    NoProtocol(String),
    #[error("advertised listener {0} is not one of the listeners")]
    UnknownAdvertised(String),
    #[error("advertise {0:?} is a single HOST:PORT but there are several listeners: use advertised.listeners NAME://HOST:PORT,...")]
    AmbiguousAdvertise(String),
    #[error("invalid advertised address {0:?} (expected HOST:PORT)")]
    Advertise(String),
    #[error("advertised listener {0} needs a host and a non-zero port")]
    IncompleteAdvertised(String),
    #[error("listener {0} is {1} but enables no SASL mechanism: set sasl.enabled.mechanisms or listener.name.{2}.sasl.enabled.mechanisms")]
    NoSaslMechanism(String, SecurityProtocol, String),
}

/// One `NAME://HOST:PORT` entry; an empty host means every interface when bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// The address to bind: an empty host is every interface.
    pub fn bind_address(&self) -> String {
        match self.host.as_str() {
            "" => format!("0.0.0.0:{}", self.port),
            host if host.contains(':') => format!("[{host}]:{}", self.port),
            host => format!("{host}:{}", self.port),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.name, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.name, self.host, self.port)
        }
    }
}

/// Whether a `listen`/`advertise` value is a listener list rather than a plain `HOST:PORT`.
pub fn is_listener_list(value: &str) -> bool {
    value.contains("://")
}

/// Parses `NAME://HOST:PORT,...`; listener names are upper-cased, as Kafka does.
pub fn parse_endpoints(value: &str) -> Result<Vec<Endpoint>, ListenerError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let bad = || ListenerError::Endpoint(entry.to_owned());
            let (name, address) = entry.split_once("://").ok_or_else(bad)?;
            let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
            let valid_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid_name {
                return Err(bad());
            }
            let host = host.trim_start_matches('[').trim_end_matches(']');
            Ok(Endpoint {
                name: name.to_ascii_uppercase(),
                host: host.to_owned(),
                port: port.parse().map_err(|_| bad())?,
            })
        })
        .collect()
}

/// Parses `NAME:PROTOCOL,...`.
pub fn parse_protocol_map(
    value: &str,
) -> Result<BTreeMap<String, SecurityProtocol>, ListenerError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let bad = || ListenerError::MapEntry(entry.to_owned());
            let (name, protocol) = entry.split_once(':').ok_or_else(bad)?;
            let protocol = protocol.parse().map_err(|()| bad())?;
            Ok((name.trim().to_ascii_uppercase(), protocol))
        })
        .collect()
}

/// Kafka's default map: each protocol is a listener name of its own.
pub fn default_protocol_map() -> BTreeMap<String, SecurityProtocol> {
    SecurityProtocol::ALL
        .into_iter()
        .map(|p| (p.name().to_owned(), p))
        .collect()
}

/// A listener as configured: what to bind, how it is secured, what it advertises (`None`:
/// the bound address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    pub name: String,
    pub protocol: SecurityProtocol,
    pub bind: String,
    pub advertised: Option<(String, i32)>,
}

/// Resolves the listeners from `listen` (a plain `HOST:PORT` or a listener list), `advertise`
/// (plain or a list) and the protocol map. The first listener is the broker's main one (its
/// address is [`crate::Broker::local_addr`]).
pub fn resolve(
    listen: &str,
    advertise: Option<&str>,
    protocol_map: &BTreeMap<String, SecurityProtocol>,
) -> Result<Vec<ListenerSpec>, ListenerError> {
    let endpoints = if is_listener_list(listen) {
        parse_endpoints(listen)?
    } else {
        // The zero-config listener keeps its address exactly as given.
        let mut specs = vec![ListenerSpec {
            name: SecurityProtocol::Plaintext.name().to_owned(),
            protocol: SecurityProtocol::Plaintext,
            bind: listen.to_owned(),
            advertised: None,
        }];
        apply_advertised(&mut specs, advertise)?;
        return Ok(specs);
    };
    if endpoints.is_empty() {
        return Err(ListenerError::Endpoint(listen.to_owned()));
    }
    let mut specs: Vec<ListenerSpec> = Vec::with_capacity(endpoints.len());
    for (index, endpoint) in endpoints.iter().enumerate() {
        if specs.iter().any(|s| s.name == endpoint.name) {
            return Err(ListenerError::DuplicateName(endpoint.name.clone()));
        }
        if let Some(other) = endpoints[..index]
            .iter()
            .find(|o| endpoint.port != 0 && o.port == endpoint.port)
        {
            return Err(ListenerError::DuplicatePort(
                other.name.clone(),
                endpoint.name.clone(),
                endpoint.port,
            ));
        }
        let protocol = *protocol_map
            .get(&endpoint.name)
            .ok_or_else(|| ListenerError::NoProtocol(endpoint.name.clone()))?;
        specs.push(ListenerSpec {
            name: endpoint.name.clone(),
            protocol,
            bind: endpoint.bind_address(),
            advertised: None,
        });
    }
    apply_advertised(&mut specs, advertise)?;
    Ok(specs)
}

fn apply_advertised(
    specs: &mut [ListenerSpec],
    advertise: Option<&str>,
) -> Result<(), ListenerError> {
    let Some(advertise) = advertise else {
        return Ok(());
    };
    if !is_listener_list(advertise) {
        let [only] = specs else {
            return Err(ListenerError::AmbiguousAdvertise(advertise.to_owned()));
        };
        let address = parse_host_port(advertise)
            .ok_or_else(|| ListenerError::Advertise(advertise.to_owned()))?;
        only.advertised = Some(address);
        return Ok(());
    }
    for endpoint in parse_endpoints(advertise)? {
        let spec = specs
            .iter_mut()
            .find(|s| s.name == endpoint.name)
            .ok_or_else(|| ListenerError::UnknownAdvertised(endpoint.name.clone()))?;
        if endpoint.host.is_empty() || endpoint.port == 0 {
            return Err(ListenerError::IncompleteAdvertised(endpoint.to_string()));
        }
        spec.advertised = Some((endpoint.host, i32::from(endpoint.port)));
    }
    Ok(())
}

/// A listener once bound: what a connection knows of the listener it came in on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInfo {
    pub name: String,
    pub protocol: SecurityProtocol,
    pub local_addr: SocketAddr,
    /// The endpoint given to clients of this listener in Metadata, FindCoordinator and
    /// DescribeCluster.
    pub advertised_host: String,
    pub advertised_port: i32,
}

impl ListenerInfo {
    pub fn new(spec: &ListenerSpec, local_addr: SocketAddr) -> Self {
        let (advertised_host, advertised_port) = spec
            .advertised
            .clone()
            .unwrap_or_else(|| (local_addr.ip().to_string(), i32::from(local_addr.port())));
        ListenerInfo {
            name: spec.name.clone(),
            protocol: spec.protocol,
            local_addr,
            advertised_host,
            advertised_port,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn spec(name: &str, protocol: SecurityProtocol, bind: &str) -> ListenerSpec {
        ListenerSpec {
            name: name.to_owned(),
            protocol,
            bind: bind.to_owned(),
            advertised: None,
        }
    }

    #[test]
    fn a_plain_address_is_one_plaintext_listener() {
        let specs = resolve("127.0.0.1:0", None, &default_protocol_map()).unwrap();
        assert_eq!(
            specs,
            [spec(
                "PLAINTEXT",
                SecurityProtocol::Plaintext,
                "127.0.0.1:0"
            )]
        );
        let specs = resolve(
            "127.0.0.1:0",
            Some("kafka.example:9092"),
            &default_protocol_map(),
        )
        .unwrap();
        assert_eq!(
            specs[0].advertised,
            Some(("kafka.example".to_owned(), 9092))
        );
    }

    #[test]
    fn listeners_take_their_protocol_from_the_map_and_their_advertised_endpoint() {
        let mut map = default_protocol_map();
        map.extend(parse_protocol_map("INTERNAL:PLAINTEXT, external:ssl").unwrap());
        let specs = resolve(
            "INTERNAL://127.0.0.1:9092,EXTERNAL://:9093,SSL://[::1]:9094",
            Some("EXTERNAL://kafka.example:443"),
            &map,
        )
        .unwrap();
        let mut external = spec("EXTERNAL", SecurityProtocol::Ssl, "0.0.0.0:9093");
        external.advertised = Some(("kafka.example".to_owned(), 443));
        assert_eq!(
            specs,
            [
                spec("INTERNAL", SecurityProtocol::Plaintext, "127.0.0.1:9092"),
                external,
                spec("SSL", SecurityProtocol::Ssl, "[::1]:9094"),
            ]
        );
    }

    #[test]
    fn inconsistent_listeners_are_refused_with_the_reason() {
        let map = default_protocol_map();
        let refused = |listen: &str, advertise: Option<&str>| {
            resolve(listen, advertise, &map).unwrap_err().to_string()
        };
        assert!(refused("PLAINTEXT://h:1,PLAINTEXT://h:2", None).contains("defined twice"));
        assert!(refused("PLAINTEXT://h:1,SSL://h:1", None).contains("both bind port 1"));
        assert!(refused("CLIENT://h:1", None).contains("listener.security.protocol.map"));
        assert!(refused("PLAINTEXT://h", None).contains("NAME://HOST:PORT"));
        assert!(refused("PLAINTEXT://h:1", Some("SSL://a:2")).contains("not one of"));
        assert!(refused("PLAINTEXT://h:1", Some("PLAINTEXT://:2")).contains("needs a host"));
        assert!(refused("PLAINTEXT://h:1,SSL://h:2", Some("a:3")).contains("advertised.listeners"));
        // Port 0 (a free port each) may repeat.
        assert_eq!(
            resolve("PLAINTEXT://h:0,SSL://h:0", None, &map)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn protocols_and_map_entries_parse_as_kafka_writes_them() {
        assert_eq!("sasl_ssl".parse(), Ok(SecurityProtocol::SaslSsl));
        assert!("TLS".parse::<SecurityProtocol>().is_err());
        assert!(parse_protocol_map("A:TLS").is_err());
        assert!(parse_protocol_map("A").is_err());
        for protocol in SecurityProtocol::ALL {
            assert_eq!(default_protocol_map()[protocol.name()], protocol);
            assert_eq!(protocol.to_string().parse(), Ok(protocol));
        }
        assert!(SecurityProtocol::SaslSsl.uses_tls() && SecurityProtocol::SaslSsl.uses_sasl());
        assert!(!SecurityProtocol::Plaintext.uses_tls() && !SecurityProtocol::Ssl.uses_sasl());
    }
}
