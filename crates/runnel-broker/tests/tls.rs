//! SSL listeners with real clients: librdkafka and kcat produce and consume over TLS, mutual
//! TLS refuses clients without a trusted certificate, `ssl.client.auth=requested` names a
//! client by its certificate and admits one without as anonymous, failed handshakes are
//! counted by reason, a plaintext client or garbage on the
//! TLS port is closed without harm to others, a replaced certificate is served without a
//! restart, and the PLAINTEXT and SSL listeners each advertise their own endpoint;
//! confluent-kafka (Python) produces and consumes with a client certificate. Every
//! certificate is made by the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::{
    ApiKey, CreateAclsRequest, CreateAclsResponse, DescribeClusterRequest, DescribeClusterResponse,
    MetadataRequest, MetadataResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rdkafka::producer::FutureRecord;
use rdkafka::Offset;
use runnel_broker::metrics::Detail;
use runnel_broker::Broker;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use common::certificates::{Authority, Files};
use common::{assigned_consumer_at, consume, eventually, frame, producer_at, start};

const WAIT: Duration = Duration::from_secs(20);

/// A broker with a PLAINTEXT and an SSL listener.
async fn broker(data: &Path, files: &Files, extra: &[(&str, &str)]) -> Broker {
    let keystore = files.path("broker.pem");
    let truststore = files.path("ca.pem");
    start(data, |c| {
        c.set("listeners", "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0")
            .unwrap();
        c.set("ssl.keystore.type", "PEM").unwrap();
        c.set("ssl.keystore.location", &keystore).unwrap();
        c.set("ssl.truststore.location", &truststore).unwrap();
        for (name, value) in extra {
            c.set(name, value).unwrap();
        }
    })
    .await
}

fn ssl_address(broker: &Broker) -> SocketAddr {
    broker.listener_addr("SSL").unwrap()
}

fn rdkafka_ssl<'a>(files: &Files, extra: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
    let mut settings = vec![
        ("security.protocol".to_owned(), "ssl".to_owned()),
        ("ssl.ca.location".to_owned(), files.path("ca.pem")),
    ];
    settings.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    settings
}

/// Produces three records and consumes them back over the SSL listener with librdkafka.
async fn round_trip(broker: &Broker, topic: &str, settings: &[(String, String)]) {
    let bootstrap = ssl_address(broker).to_string();
    let extra: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([("acks", "all")])
        .collect();
    let producer = producer_at(&bootstrap, &extra);
    for i in 0..3 {
        let delivered = producer
            .send(
                FutureRecord::to(topic)
                    .key("k")
                    .payload(&format!("secret-{i}")),
                WAIT,
            )
            .await
            .unwrap();
        assert_eq!(delivered.offset, i);
    }
    let consumer = assigned_consumer_at(&bootstrap, topic, &[0], Offset::Beginning, &extra);
    let got = consume(&consumer, 3, WAIT).await;
    let payloads: Vec<_> = got
        .iter()
        .map(|m| String::from_utf8(rdkafka::Message::payload(m).unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(payloads, ["secret-0", "secret-1", "secret-2"]);
}

/// A rustls client trusting the test CA, with a client certificate when given.
fn connector(files: &Files, client: Option<(&str, &str)>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(files.path("ca.pem")).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        runnel_broker::tls::crypto_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match client {
        Some((certificate, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(certificate)
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    TlsConnector::from(Arc::new(config))
}

async fn tls_connect(
    connector: &TlsConnector,
    address: SocketAddr,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(address).await?;
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// Sends a request over TLS and returns the response (or the I/O error: with TLS 1.3 a
/// refused client certificate shows at the first read, not in the handshake).
async fn call_over<R: Decodable>(
    stream: &mut TlsStream<TcpStream>,
    api: ApiKey,
    version: i16,
    request: &impl Encodable,
) -> std::io::Result<R> {
    stream.write_all(&frame(api, version, 1, request)).await?;
    let size = tokio::time::timeout(WAIT, stream.read_i32())
        .await
        .expect("an answer or a close in time")?;
    let mut buf = vec![0; size as usize];
    stream.read_exact(&mut buf).await?;
    let mut bytes = bytes::Bytes::from(buf);
    kafka_protocol::messages::ResponseHeader::decode(
        &mut bytes,
        api.response_header_version(version),
    )
    .unwrap();
    Ok(R::decode(&mut bytes, version).unwrap())
}

async fn metadata_over(stream: &mut TlsStream<TcpStream>) -> std::io::Result<MetadataResponse> {
    call_over(stream, ApiKey::Metadata, 12, &MetadataRequest::default()).await
}

/// Whether the broker closes `stream` (end of stream or a reset) within the wait.
async fn closed_by_broker(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(WAIT, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            // A TLS alert may come before the close.
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn librdkafka_produces_and_consumes_over_ssl() {
    let (data, files) = (tempfile::tempdir().unwrap(), Files::new());
    let broker = broker(data.path(), &files, &[]).await;
    round_trip(&broker, "over-ssl", &rdkafka_ssl(&files, &[])).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_plaintext_and_ssl_listeners_each_advertise_their_own_endpoint() {
    let (data, files) = (tempfile::tempdir().unwrap(), Files::new());
    let broker = broker(data.path(), &files, &[]).await;
    let mut stream = tls_connect(&connector(&files, None), ssl_address(&broker))
        .await
        .unwrap();
    let metadata = metadata_over(&mut stream).await.unwrap();
    assert_eq!(
        metadata.brokers[0].port,
        i32::from(ssl_address(&broker).port())
    );
    let mut raw = common::Raw::connect(&broker).await;
    let metadata: MetadataResponse = raw
        .call(ApiKey::Metadata, 12, &MetadataRequest::default())
        .await;
    assert_eq!(
        metadata.brokers[0].port,
        i32::from(broker.local_addr().port())
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn kcat_produces_and_consumes_over_ssl() {
    let (data, files) = (tempfile::tempdir().unwrap(), Files::new());
    let broker = broker(data.path(), &files, &[]).await;
    let address = ssl_address(&broker).to_string();
    let ca = files.path("ca.pem");
    let kcat = |args: &[&str], input: &'static [u8]| {
        let (address, ca) = (address.clone(), ca.clone());
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let mut child = std::process::Command::new("kcat")
                .args(["-b", &address, "-X", "security.protocol=ssl", "-X"])
                .arg(format!("ssl.ca.location={ca}"))
                .args(["-X", "broker.address.family=v4"])
                .args(&args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("kcat runs");
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), input).unwrap();
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "kcat {args:?}: {output:?}");
            String::from_utf8(output.stdout).unwrap()
        })
    };
    kcat(&["-P", "-t", "kcat-ssl"], b"one\ntwo\n")
        .await
        .unwrap();
    let consumed = kcat(
        &["-C", "-t", "kcat-ssl", "-o", "beginning", "-e", "-q"],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(consumed, "one\ntwo\n");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn mutual_tls_admits_trusted_certificates_only() {
    let (data, files) = (tempfile::tempdir().unwrap(), Files::new());
    let broker = broker(data.path(), &files, &[("ssl.client.auth", "required")]).await;
    let (certificate, key) = files.client(&files.authority, "alice");
    // librdkafka with a trusted client certificate.
    round_trip(
        &broker,
        "mutual",
        &rdkafka_ssl(
            &files,
            &[
                ("ssl.certificate.location", &certificate),
                ("ssl.key.location", &key),
            ],
        ),
    )
    .await;
    // Without a certificate, and with one from another authority: refused.
    let stranger = Authority::new("Somebody else's CA");
    let (untrusted, untrusted_key) = files.client(&stranger, "mallory");
    for client in [None, Some((untrusted.as_str(), untrusted_key.as_str()))] {
        let refused = match tls_connect(&connector(&files, client), ssl_address(&broker)).await {
            Err(_) => true,
            Ok(mut stream) => metadata_over(&mut stream).await.is_err(),
        };
        assert!(refused, "client {client:?} was served");
    }
    // The trusted one is served by a plain rustls client too.
    let mut stream = tls_connect(
        &connector(&files, Some((&certificate, &key))),
        ssl_address(&broker),
    )
    .await
    .unwrap();
    assert_eq!(metadata_over(&mut stream).await.unwrap().brokers.len(), 1);
    broker.shutdown().await.unwrap();
}

/// The rights a DescribeCluster over `stream` reports (Kafka's operation codes as bits), or
/// its error code.
async fn cluster_rights(stream: &mut TlsStream<TcpStream>) -> Result<i32, i16> {
    let request =
        DescribeClusterRequest::default().with_include_cluster_authorized_operations(true);
    let response: DescribeClusterResponse = call_over(stream, ApiKey::DescribeCluster, 1, &request)
        .await
        .unwrap();
    match response.error_code {
        0 => Ok(response.cluster_authorized_operations),
        code => Err(code),
    }
}

/// Kafka's ACL operation codes used below.
const ALTER: i32 = 7;
const DESCRIBE: i32 = 8;

#[tokio::test]
async fn requested_client_auth_names_certified_clients_and_admits_anonymous_ones() {
    let (data, files) = (tempfile::tempdir().unwrap(), Files::new());
    let broker = broker(
        data.path(),
        &files,
        &[
            ("ssl.client.auth", "requested"),
            (
                "authorizer.class.name",
                runnel_broker::acls::STANDARD_AUTHORIZER,
            ),
            ("super.users", "User:CN=alice,O=Runnel"),
        ],
    )
    .await;
    let (certificate, key) = files.client(&files.authority, "alice");
    let mut alice = tls_connect(
        &connector(&files, Some((&certificate, &key))),
        ssl_address(&broker),
    )
    .await
    .unwrap();
    // Alice is her certificate's subject, a super user: every right on the cluster.
    let rights = cluster_rights(&mut alice).await.unwrap();
    assert_ne!(rights & (1 << ALTER), 0, "{rights:b}");
    // She lets User:ANONYMOUS describe the cluster, and nothing more.
    let grant = AclCreation::default()
        .with_resource_type(4)
        .with_resource_name(StrBytes::from_static_str("kafka-cluster"))
        .with_resource_pattern_type(3)
        .with_principal(StrBytes::from_static_str("User:ANONYMOUS"))
        .with_host(StrBytes::from_static_str("*"))
        .with_operation(DESCRIBE as i8)
        .with_permission_type(3);
    let created: CreateAclsResponse = call_over(
        &mut alice,
        ApiKey::CreateAcls,
        3,
        &CreateAclsRequest::default().with_creations(vec![grant]),
    )
    .await
    .unwrap();
    assert_eq!(created.results[0].error_code, 0);

    // A client without a certificate is served, as User:ANONYMOUS.
    let mut anonymous = tls_connect(&connector(&files, None), ssl_address(&broker))
        .await
        .unwrap();
    assert_eq!(cluster_rights(&mut anonymous).await, Ok(1 << DESCRIBE));

    // One whose certificate the truststore does not vouch for is refused.
    let stranger = Authority::new("Somebody else's CA");
    let (untrusted, untrusted_key) = files.client(&stranger, "mallory");
    let refused = match tls_connect(
        &connector(&files, Some((&untrusted, &untrusted_key))),
        ssl_address(&broker),
    )
    .await
    {
        Err(_) => true,
        Ok(mut stream) => metadata_over(&mut stream).await.is_err(),
    };
    assert!(refused, "an untrusted certificate was served");
    broker.shutdown().await.unwrap();
}

/// The value of `runnel_tls_handshake_failures_total` for a listener and reason (0 without
/// the series).
fn handshake_failures(broker: &Broker, listener: &str, reason: &str) -> u64 {
    let lag = runnel_lag::LagReport {
        evaluated_at_ms: 0,
        window_ms: 0,
        untracked_observations: 0,
        groups: Vec::new(),
    };
    let text = runnel_broker::metrics::render(broker.state(), Detail::Topics, &lag).unwrap();
    let series = format!(
        "runnel_tls_handshake_failures_total{{listener=\"{listener}\",reason=\"{reason}\"}} "
    );
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |value| value.parse().unwrap())
}

#[tokio::test]
async fn failed_handshakes_are_counted_by_listener_and_reason() {
    let (data, files) = (tempfile::tempdir().unwrap(), Files::new());
    let broker = broker(
        data.path(),
        &files,
        &[
            ("ssl.client.auth", "required"),
            ("connections.max.idle.ms", "300"),
        ],
    )
    .await;
    let address = ssl_address(&broker);
    let expect = |reason: &'static str, count: u64| {
        let broker = &broker;
        async move {
            eventually(&format!("{count} {reason} failures"), WAIT, || {
                handshake_failures(broker, "SSL", reason) == count
            })
            .await
        }
    };
    let fails = |outcome: std::io::Result<TlsStream<TcpStream>>| async move {
        match outcome {
            Err(_) => true,
            Ok(mut stream) => metadata_over(&mut stream).await.is_err(),
        }
    };

    // No certificate where one is required.
    assert!(fails(tls_connect(&connector(&files, None), address).await).await);
    expect("no_certificate", 1).await;
    // A certificate from an authority the broker does not trust.
    let stranger = Authority::new("Somebody else's CA");
    let (untrusted, untrusted_key) = files.client(&stranger, "mallory");
    let mallory = connector(&files, Some((&untrusted, &untrusted_key)));
    assert!(fails(tls_connect(&mallory, address).await).await);
    expect("bad_certificate", 1).await;
    // A client that does not trust the broker's certificate ends the handshake itself.
    let strangers_roots = Files::new();
    let (certificate, key) = files.client(&files.authority, "alice");
    let doubting = connector(&strangers_roots, Some((&certificate, &key)));
    assert!(tls_connect(&doubting, address).await.is_err());
    expect("client_alert", 1).await;
    // A plaintext Kafka request.
    let mut plaintext = TcpStream::connect(address).await.unwrap();
    plaintext
        .write_all(&frame(ApiKey::Metadata, 12, 1, &MetadataRequest::default()))
        .await
        .unwrap();
    assert!(closed_by_broker(&mut plaintext).await);
    expect("protocol", 1).await;
    // Silence until the handshake's time is up.
    let mut silent = TcpStream::connect(address).await.unwrap();
    assert!(closed_by_broker(&mut silent).await);
    expect("timeout", 1).await;
    // Nothing counted twice or under another reason; a trusted client is still served.
    for (reason, count) in [
        ("no_certificate", 1),
        ("bad_certificate", 1),
        ("client_alert", 1),
        ("protocol", 1),
        ("timeout", 1),
        ("closed", 0),
    ] {
        assert_eq!(
            handshake_failures(&broker, "SSL", reason),
            count,
            "{reason}"
        );
    }
    let mut trusted = tls_connect(&connector(&files, Some((&certificate, &key))), address)
        .await
        .unwrap();
    metadata_over(&mut trusted).await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn plaintext_and_garbage_on_the_ssl_port_are_closed_without_harm_to_others() {
    let (data, files) = (tempfile::tempdir().unwrap(), Files::new());
    let broker = broker(data.path(), &files, &[]).await;
    let connector = connector(&files, None);
    let mut good = tls_connect(&connector, ssl_address(&broker)).await.unwrap();
    metadata_over(&mut good).await.unwrap();
    let mut garbage: Vec<Vec<u8>> = vec![
        // A Kafka request in clear text.
        frame(ApiKey::Metadata, 12, 1, &MetadataRequest::default()),
        // A TLS handshake record header announcing far more than it sends.
        vec![0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00],
        // An HTTP request.
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
    ];
    // And pseudo-random bytes, from a fixed seed.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for length in [1, 5, 64, 517, 4096] {
        garbage.push(
            (0..length)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect(),
        );
    }
    for bytes in garbage {
        let mut stream = TcpStream::connect(ssl_address(&broker)).await.unwrap();
        let _ = stream.write_all(&bytes).await;
        assert!(closed_by_broker(&mut stream).await, "{bytes:?} left open");
    }
    // The connection made before is still served, and so is a new one.
    metadata_over(&mut good).await.unwrap();
    let mut fresh = tls_connect(&connector, ssl_address(&broker)).await.unwrap();
    metadata_over(&mut fresh).await.unwrap();
    assert_eq!(broker.state().handler_panics(), 0);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_silent_client_is_closed_when_the_handshake_times_out() {
    let (data, files) = (tempfile::tempdir().unwrap(), Files::new());
    let broker = broker(data.path(), &files, &[("connections.max.idle.ms", "300")]).await;
    let mut silent = TcpStream::connect(ssl_address(&broker)).await.unwrap();
    assert!(closed_by_broker(&mut silent).await);
    let connections = &broker.state().connections;
    eventually("the connection's place freed", WAIT, || {
        connections.open() == 0
    })
    .await;
    broker.shutdown().await.unwrap();
}

/// The subject common name of the certificate the broker presents to a new connection.
async fn served_common_name(connector: &TlsConnector, address: SocketAddr) -> String {
    let stream = tls_connect(connector, address).await.unwrap();
    let certificate = stream.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (_, parsed) = x509_parser::parse_x509_certificate(&certificate).unwrap();
    let name = parsed
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    name
}

#[tokio::test]
async fn a_replaced_certificate_is_served_without_restart_and_a_broken_one_ignored() {
    let (data, files) = (tempfile::tempdir().unwrap(), Files::new());
    let broker = broker(data.path(), &files, &[]).await;
    let connector = connector(&files, None);
    let address = ssl_address(&broker);
    assert_eq!(served_common_name(&connector, address).await, "broker-1");
    let tls = Arc::clone(broker.state().tls.as_ref().unwrap());

    // Written aside and renamed, as certificate tools do.
    let keystore = files.root.join("broker.pem");
    let replace = |contents: String| {
        let aside = files.root.join("broker.pem.new");
        std::fs::write(&aside, contents).unwrap();
        std::fs::rename(&aside, &keystore).unwrap();
    };
    replace(files.authority.sign("broker-2", Some("Runnel")));
    let deadline = tokio::time::Instant::now() + WAIT;
    while served_common_name(&connector, address).await != "broker-2" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "new certificate never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!((tls.reloads(), tls.reload_failures()), (1, 0));

    // A broken file: the last good certificate stays, and the failure is counted.
    replace("-----BEGIN CERTIFICATE-----\nnot base64\n".to_owned());
    let deadline = tokio::time::Instant::now() + WAIT;
    while tls.reload_failures() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "broken file never looked at"
        );
        assert_eq!(served_common_name(&connector, address).await, "broker-2");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(served_common_name(&connector, address).await, "broker-2");
    assert_eq!(tls.reloads(), 1);
    broker.shutdown().await.unwrap();
}

/// confluent-kafka (Python, its own bundled librdkafka) with a client certificate.
const CONFLUENT_KAFKA_ROUND_TRIP: &str = r#"
import sys
from confluent_kafka import Consumer, Producer
bootstrap, ca, certificate, key = sys.argv[1:5]
tls = {"bootstrap.servers": bootstrap, "security.protocol": "SSL", "ssl.ca.location": ca,
       "ssl.certificate.location": certificate, "ssl.key.location": key,
       "broker.address.family": "v4"}
producer = Producer(tls)
for value in ("first", "second"):
    producer.produce("python-ssl", value=value.encode())
assert producer.flush(20) == 0, "undelivered records"
consumer = Consumer({**tls, "group.id": "python-ssl", "auto.offset.reset": "earliest"})
consumer.subscribe(["python-ssl"])
seen = []
while len(seen) < 2:
    message = consumer.poll(20)
    assert message is not None, "no record within 20 s"
    assert message.error() is None, message.error()
    seen.append(message.value().decode())
consumer.close()
print(",".join(seen))
"#;

#[tokio::test]
async fn confluent_kafka_produces_and_consumes_over_mutual_tls() {
    let (data, files) = (tempfile::tempdir().unwrap(), Files::new());
    let broker = broker(data.path(), &files, &[("ssl.client.auth", "required")]).await;
    let (certificate, key) = files.client(&files.authority, "python");
    let args = [
        ssl_address(&broker).to_string(),
        files.path("ca.pem"),
        certificate,
        key,
    ];
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg("-c")
            .arg(CONFLUENT_KAFKA_ROUND_TRIP)
            .args(&args)
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "first,second\n");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_ssl_listener_without_a_usable_keystore_stops_the_start() {
    let (data, files) = (tempfile::tempdir().unwrap(), Files::new());
    std::fs::write(files.root.join("empty.pem"), "").unwrap();
    for (keystore, expected) in [
        (None, "SSL listeners need ssl.keystore.location"),
        (Some(files.path("missing.pem")), "cannot read"),
        (
            Some(files.path("empty.pem")),
            "no CERTIFICATE in the keystore",
        ),
    ] {
        let mut config = runnel_broker::BrokerConfig::new(data.path(), "127.0.0.1:0");
        config.set("listeners", "SSL://127.0.0.1:0").unwrap();
        if let Some(keystore) = keystore {
            config.set("ssl.keystore.location", &keystore).unwrap();
        }
        let error = Broker::start(config).await.unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }
}
