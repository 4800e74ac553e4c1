//! The Kafka wire protocol, for requests librdkafka has no API for (transactions): a
//! blocking TCP connection with one request in flight, the framing (a big-endian `i32` size
//! before every request and response), and version negotiation through ApiVersions. Bodies
//! and headers are encoded and decoded by `kafka-protocol`. A connection is secured as the
//! client settings say ([`WireSecurity`]): TLS first ([`tls`]), then ApiVersions, then SASL
//! ([`sasl`]), in the order Kafka's clients follow.
//!
//! A response is refused before it is read if its frame is over [`MAX_RESPONSE_BYTES`].
//! Inside a frame, kafka-protocol's decoders reserve memory for the element counts they
//! read, so a broker sending a corrupt count can make the process abort. The broker walks
//! every request before decoding it for that reason; this client trusts the broker it was
//! pointed at that far (ARCHITECTURE.md says why).

mod sasl;
mod tls;

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes, VersionRange};
use runnel_auth::ScramClientError;

use crate::settings::WireSecurity;
use tls::Stream;

/// The largest response frame read, about librdkafka's default limit
/// (`receive.message.max.bytes`, 10^8 bytes); the responses asked for here are far smaller.
pub const MAX_RESPONSE_BYTES: usize = 100 * 1024 * 1024;

const CLIENT_ID: &str = "runnel";

/// ApiVersions v3 is the first with a flexible header; every broker with the transaction
/// APIs (Kafka 3.0 and later) speaks it.
const API_VERSIONS_VERSION: i16 = 3;

/// Why a request got no usable response.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("cannot connect: {0}")]
    Connect(#[source] io::Error),
    #[error("no response within {0} ms")]
    TimedOut(u128),
    #[error("connection failed: {0}")]
    Io(#[source] io::Error),
    #[error("a response of {size} bytes is over the limit of {limit} bytes")]
    FrameTooLarge { size: usize, limit: usize },
    #[error("a response frame of negative size {0}")]
    NegativeFrameSize(i32),
    #[error("cannot encode {api:?} v{version}: {reason}")]
    Encode {
        api: ApiKey,
        version: i16,
        reason: String,
    },
    #[error("malformed {api:?} v{version} response: {reason}")]
    Decode {
        api: ApiKey,
        version: i16,
        reason: String,
    },
    #[error("the response to request {got} came when {expected} was due")]
    Correlation { expected: i32, got: i32 },
    #[error("ApiVersions failed with error code {0}")]
    ApiVersions(i16),
    #[error("the broker does not support {api:?} (API key {key}) in versions {ours}", key = *api as i16)]
    Unsupported { api: ApiKey, ours: VersionRange },
    #[error("{0}")]
    TlsSettings(String),
    #[error("TLS handshake failed: {0}")]
    TlsHandshake(#[source] io::Error),
    #[error("the broker does not offer SASL mechanism {mechanism} (it offers {offered})")]
    SaslMechanism {
        mechanism: &'static str,
        offered: String,
    },
    #[error("SaslHandshake failed with error code {0}")]
    SaslHandshake(i16),
    #[error("SASL authentication failed: {message} (error code {code})")]
    Authentication { code: i16, message: String },
    #[error("SASL authentication failed: {0}")]
    Scram(#[from] ScramClientError),
    #[error("cannot draw a SCRAM nonce: {0}")]
    Random(String),
}

/// Encodes one request frame: size, header (in the version `api` and `version` call for)
/// and body.
pub fn request_frame(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &impl Encodable,
) -> Result<Bytes, WireError> {
    let encode_error = |reason: String| WireError::Encode {
        api,
        version,
        reason,
    };
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
    let mut frame = BytesMut::new();
    frame.extend_from_slice(&[0; 4]);
    header
        .encode(&mut frame, api.request_header_version(version))
        .map_err(|error| encode_error(error.to_string()))?;
    body.encode(&mut frame, version)
        .map_err(|error| encode_error(error.to_string()))?;
    let size = i32::try_from(frame.len() - 4)
        .map_err(|_| encode_error(format!("{} bytes do not fit a frame", frame.len())))?;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    Ok(frame.freeze())
}

/// Reads one frame and returns what follows its size, refusing a size over `limit` before
/// reading (or allocating for) the rest.
pub fn read_frame(reader: &mut impl Read, limit: usize) -> Result<Bytes, WireError> {
    let mut prefix = [0u8; 4];
    reader.read_exact(&mut prefix).map_err(WireError::Io)?;
    let size = i32::from_be_bytes(prefix);
    let size = usize::try_from(size).map_err(|_| WireError::NegativeFrameSize(size))?;
    if size > limit {
        return Err(WireError::FrameTooLarge { size, limit });
    }
    let mut frame = vec![0u8; size];
    reader.read_exact(&mut frame).map_err(WireError::Io)?;
    Ok(Bytes::from(frame))
}

/// The body of a response frame to the request `correlation_id` of `api` at `version`.
pub fn response_body(
    mut frame: Bytes,
    api: ApiKey,
    version: i16,
    correlation_id: i32,
) -> Result<Bytes, WireError> {
    let header = ResponseHeader::decode(&mut frame, api.response_header_version(version)).map_err(
        |error| WireError::Decode {
            api,
            version,
            reason: error.to_string(),
        },
    )?;
    if header.correlation_id != correlation_id {
        return Err(WireError::Correlation {
            expected: correlation_id,
            got: header.correlation_id,
        });
    }
    Ok(frame)
}

/// Decodes a response body of `api` at `version`; bytes left over mean the two sides
/// disagree about the layout, so they are an error too.
pub fn decode<R: Decodable>(mut body: Bytes, api: ApiKey, version: i16) -> Result<R, WireError> {
    let malformed = |reason: String| WireError::Decode {
        api,
        version,
        reason,
    };
    let response = R::decode(&mut body, version).map_err(|error| malformed(error.to_string()))?;
    if !body.is_empty() {
        return Err(malformed(format!("{} bytes left over", body.len())));
    }
    Ok(response)
}

/// The highest version in both `ours` and `theirs`.
pub fn negotiate(ours: VersionRange, theirs: VersionRange) -> Option<i16> {
    let common = ours.intersect(&theirs);
    (!common.is_empty()).then_some(common.max)
}

/// One connection to one broker, which has told us the API versions it speaks.
#[derive(Debug)]
pub struct BrokerConnection {
    address: String,
    stream: Stream,
    timeout: Duration,
    correlation_id: i32,
    api_versions: Vec<ApiVersion>,
}

impl BrokerConnection {
    /// Connects to `address` (`HOST:PORT`), secures the connection as `security` says
    /// (the TLS handshake, then SASL after ApiVersions) and asks for the broker's API
    /// versions. Every step, and every later request, waits at most `timeout`.
    pub fn open(
        address: &str,
        timeout: Duration,
        security: &WireSecurity,
    ) -> Result<BrokerConnection, WireError> {
        // The files are read before connecting: a bad setting is reported as such, even
        // when no broker listens.
        let tls_config = security.tls.as_ref().map(tls::client_config).transpose()?;
        let tcp = connect(address, timeout).map_err(WireError::Connect)?;
        tcp.set_read_timeout(Some(timeout))
            .and_then(|()| tcp.set_write_timeout(Some(timeout)))
            .and_then(|()| tcp.set_nodelay(true))
            .map_err(WireError::Connect)?;
        let stream = match tls_config {
            Some(config) => tls::handshake(config, host(address), tcp)?,
            None => Stream::Plain(tcp),
        };
        let mut connection = BrokerConnection {
            address: address.to_owned(),
            stream,
            timeout,
            correlation_id: 0,
            api_versions: Vec::new(),
        };
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str(CLIENT_ID))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let body = connection.exchange(ApiKey::ApiVersions, API_VERSIONS_VERSION, &request)?;
        // The error code leads every version of the body. A broker that does not speak v3
        // answers in v0, which would not decode as v3, so the code is read first.
        let code = match body.get(..2) {
            Some(&[high, low]) => i16::from_be_bytes([high, low]),
            _ => 0,
        };
        if code != 0 {
            return Err(WireError::ApiVersions(code));
        }
        let response: ApiVersionsResponse =
            decode(body, ApiKey::ApiVersions, API_VERSIONS_VERSION)?;
        connection.api_versions = response.api_keys;
        if let Some(settings) = &security.sasl {
            sasl::authenticate(&mut connection, settings, scram_nonce()?)?;
        }
        Ok(connection)
    }

    /// The `HOST:PORT` connected to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The version of `api` to use: the highest that this client (`ours`) and the broker
    /// both speak.
    pub fn version(&self, api: ApiKey, ours: VersionRange) -> Result<i16, WireError> {
        self.api_versions
            .iter()
            .find(|v| v.api_key == api as i16)
            .and_then(|v| {
                negotiate(
                    ours,
                    VersionRange {
                        min: v.min_version,
                        max: v.max_version,
                    },
                )
            })
            .ok_or(WireError::Unsupported { api, ours })
    }

    /// Sends one request and decodes its response.
    pub fn call<R: Decodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        request: &impl Encodable,
    ) -> Result<R, WireError> {
        let body = self.exchange(api, version, request)?;
        decode(body, api, version)
    }

    /// Sends one request and returns the body of its response, undecoded.
    fn exchange(
        &mut self,
        api: ApiKey,
        version: i16,
        request: &impl Encodable,
    ) -> Result<Bytes, WireError> {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let frame = request_frame(api, version, self.correlation_id, request)?;
        self.stream
            .write_all(&frame)
            .map_err(|error| self.io_error(error))?;
        let response =
            read_frame(&mut self.stream, MAX_RESPONSE_BYTES).map_err(|error| match error {
                WireError::Io(error) => self.io_error(error),
                other => other,
            })?;
        response_body(response, api, version, self.correlation_id)
    }

    fn io_error(&self, error: io::Error) -> WireError {
        // A socket timeout surfaces as WouldBlock on Unix and TimedOut on Windows.
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                WireError::TimedOut(self.timeout.as_millis())
            }
            _ => WireError::Io(error),
        }
    }
}

/// Connects to the first address `address` resolves to that accepts within `timeout`.
fn connect(address: &str, timeout: Duration) -> io::Result<TcpStream> {
    let mut last_error = None;
    for resolved in address.to_socket_addrs()? {
        match TcpStream::connect_timeout(&resolved, timeout) {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{address} resolves to no address"),
        )
    }))
}

/// The host of `HOST:PORT` (or `[IPV6]:PORT`), the name a broker's certificate must carry.
fn host(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// A SCRAM client nonce: 24 random bytes in base64 (printable, no commas).
fn scram_nonce() -> Result<String, WireError> {
    use base64::Engine as _;
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| WireError::Random(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// `HOST:PORT` for a host and port a broker advertised, bracketing IPv6 literals.
pub fn address(host: &str, port: i32) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use kafka_protocol::messages::{ListTransactionsRequest, ListTransactionsResponse};

    use super::*;

    fn range(min: i16, max: i16) -> VersionRange {
        VersionRange { min, max }
    }

    #[test]
    fn the_highest_common_version_is_chosen() {
        assert_eq!(negotiate(range(0, 1), range(0, 2)), Some(1));
        assert_eq!(negotiate(range(0, 1), range(0, 0)), Some(0));
        assert_eq!(negotiate(range(1, 4), range(0, 6)), Some(4));
        assert_eq!(negotiate(range(1, 4), range(0, 0)), None);
        assert_eq!(negotiate(range(0, 1), range(2, 3)), None);
    }

    #[test]
    fn frames_carry_their_size_and_a_flexible_header_when_the_version_is_flexible() {
        let request = ListTransactionsRequest::default();
        let frame = request_frame(ApiKey::ListTransactions, 0, 7, &request).unwrap();
        let size = i32::from_be_bytes(frame[..4].try_into().unwrap());
        assert_eq!(usize::try_from(size).unwrap(), frame.len() - 4);
        // Header v2: key, version, correlation id, client id, then an empty tag buffer.
        let mut expected = vec![0, 66, 0, 0, 0, 0, 0, 7, 0, 6];
        expected.extend_from_slice(b"runnel");
        expected.push(0);
        assert_eq!(frame[4..4 + expected.len()], expected[..]);
    }

    #[test]
    fn oversized_and_negative_frames_are_refused_before_reading_them() {
        let mut huge: &[u8] = &200_000_000i32.to_be_bytes();
        let error = read_frame(&mut huge, MAX_RESPONSE_BYTES).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a response of 200000000 bytes is over the limit of 104857600 bytes"
        );
        let mut negative: &[u8] = &(-1i32).to_be_bytes();
        assert!(read_frame(&mut negative, MAX_RESPONSE_BYTES)
            .unwrap_err()
            .to_string()
            .contains("negative size -1"));
        let mut short: &[u8] = &[0, 0, 0, 5, 1, 2];
        assert!(matches!(
            read_frame(&mut short, MAX_RESPONSE_BYTES),
            Err(WireError::Io(_))
        ));
        let mut exact: &[u8] = &[0, 0, 0, 2, 1, 2, 3];
        assert_eq!(&read_frame(&mut exact, 2).unwrap()[..], [1, 2]);
    }

    #[test]
    fn responses_must_answer_the_request_and_decode_completely() {
        // A v1 response (flexible): header of correlation id and tags, then the body.
        let mut body = BytesMut::new();
        ListTransactionsResponse::default()
            .encode(&mut body, 1)
            .unwrap();
        let mut frame = BytesMut::from(&[0, 0, 0, 9, 0][..]);
        frame.extend_from_slice(&body);
        let frame = frame.freeze();

        let wrong = response_body(frame.clone(), ApiKey::ListTransactions, 1, 8).unwrap_err();
        assert_eq!(
            wrong.to_string(),
            "the response to request 9 came when 8 was due"
        );
        let body = response_body(frame, ApiKey::ListTransactions, 1, 9).unwrap();
        let mut trailing = BytesMut::from(&body[..]);
        trailing.extend_from_slice(&[0]);
        let _: ListTransactionsResponse = decode(body, ApiKey::ListTransactions, 1).unwrap();
        let error =
            decode::<ListTransactionsResponse>(trailing.freeze(), ApiKey::ListTransactions, 1)
                .unwrap_err();
        assert_eq!(
            error.to_string(),
            "malformed ListTransactions v1 response: 1 bytes left over"
        );
    }

    #[test]
    fn advertised_hosts_become_addresses_and_back() {
        assert_eq!(address("localhost", 9092), "localhost:9092");
        assert_eq!(address("::1", 9092), "[::1]:9092");
        assert_eq!(host("localhost:9092"), "localhost");
        assert_eq!(host("[::1]:9092"), "::1");
        assert_eq!(host("127.0.0.1:9092"), "127.0.0.1");
    }
}
