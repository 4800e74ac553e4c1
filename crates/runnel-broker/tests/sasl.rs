//! SASL listeners with real clients: librdkafka produces and consumes over SASL_PLAINTEXT and
//! SASL_SSL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, as do kcat and confluent-kafka over
//! SASL_SSL; wrong passwords and unknown users are refused with Kafka's errors, after the
//! failed-authentication delay, and counted; nothing but ApiVersions and the exchange is
//! served before authentication; the first user is created over a local PLAINTEXT listener;
//! two principals meet the ACLs; librdkafka keeps working across re-authentications; and a
//! flood of failed logins does not slow an authenticated producer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialUpsertion;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ApiKey,
    ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Offset;
use runnel_acl::{AclBinding, Operation, PatternType, Permission, ResourcePattern, ResourceType};
use runnel_auth::{ScramCredential, ScramMechanism};
use runnel_broker::acls::STANDARD_AUTHORIZER;
use runnel_broker::metrics::{self, Detail};
use runnel_broker::Broker;

use common::certificates::Files;
use common::{
    assigned_consumer_at, client_config_at, consume, eventually, producer_at, start, Raw,
};

const WAIT: Duration = Duration::from_secs(20);
const MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];
const SASL_AUTHENTICATION_FAILED: i16 = 58;

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

/// A broker with an INTERNAL PLAINTEXT listener on 127.0.0.1 (the operator's, where the
/// first user is created), a SASL_PLAINTEXT listener, and with `files` a SASL_SSL one; every
/// mechanism enabled.
async fn broker(data: &Path, files: Option<&Files>, extra: &[(&str, &str)]) -> Broker {
    start(data, |c| {
        let mut listeners = "INTERNAL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0".to_owned();
        if let Some(files) = files {
            listeners.push_str(",SASL_SSL://127.0.0.1:0");
            c.set("ssl.keystore.location", &files.path("broker.pem"))
                .unwrap();
        }
        c.set("listeners", &listeners).unwrap();
        c.set(
            "listener.security.protocol.map",
            "INTERNAL:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
        )
        .unwrap();
        c.set("sasl.enabled.mechanisms", &MECHANISMS.join(","))
            .unwrap();
        for (name, value) in extra {
            c.set(name, value).unwrap();
        }
    })
    .await
}

fn address(broker: &Broker, listener: &str) -> String {
    broker.listener_addr(listener).unwrap().to_string()
}

/// Gives `user` both SCRAM credentials for `password` over the INTERNAL listener, with the
/// request `runnel user set-password` sends.
async fn set_password_over_the_wire(broker: &Broker, user: &str, password: &str) {
    let mut raw = Raw::connect_to(broker.listener_addr("INTERNAL").unwrap()).await;
    let upsertions = ScramMechanism::ALL
        .into_iter()
        .map(|mechanism| {
            let salt = format!("salt-of-{user}");
            let salted = mechanism.salted_password(password.as_bytes(), salt.as_bytes(), 4096);
            ScramCredentialUpsertion::default()
                .with_name(s(user))
                .with_mechanism(mechanism.kafka_type())
                .with_iterations(4096)
                .with_salt(Bytes::from(salt))
                .with_salted_password(salted.into())
        })
        .collect();
    let response: AlterUserScramCredentialsResponse = raw
        .call(
            ApiKey::AlterUserScramCredentials,
            0,
            &AlterUserScramCredentialsRequest::default().with_upsertions(upsertions),
        )
        .await;
    assert!(
        response.results.iter().all(|r| r.error_code == 0),
        "{response:?}"
    );
}

/// Gives `user` both SCRAM credentials for `password` behind the wire (where an authorizer
/// would refuse the INTERNAL listener's anonymous user).
fn add_user(broker: &Broker, user: &str, password: &str, iterations: u32) {
    broker
        .state()
        .scram_credentials
        .alter(|table| {
            for mechanism in ScramMechanism::ALL {
                let credential = ScramCredential::from_password(
                    mechanism,
                    password.as_bytes(),
                    b"salt",
                    iterations,
                );
                table.set(user, mechanism, credential);
            }
        })
        .unwrap();
}

/// librdkafka settings for `user` over a SASL listener (SASL_SSL when `files` is given).
fn sasl(
    files: Option<&Files>,
    mechanism: &str,
    user: &str,
    password: &str,
) -> Vec<(String, String)> {
    let protocol = if files.is_some() {
        "sasl_ssl"
    } else {
        "sasl_plaintext"
    };
    let mut settings: Vec<(String, String)> = [
        ("security.protocol", protocol),
        ("sasl.mechanism", mechanism),
        ("sasl.username", user),
        ("sasl.password", password),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(files) = files {
        settings.push(("ssl.ca.location".to_owned(), files.path("ca.pem")));
    }
    settings
}

fn borrowed(settings: &[(String, String)]) -> Vec<(&str, &str)> {
    settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Produces three records and consumes them back with librdkafka.
async fn round_trip(bootstrap: &str, topic: &str, settings: &[(String, String)]) {
    let mut extra = borrowed(settings);
    extra.push(("acks", "all"));
    let producer = producer_at(bootstrap, &extra);
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
    let consumer = assigned_consumer_at(bootstrap, topic, &[0], Offset::Beginning, &extra);
    let got = consume(&consumer, 3, WAIT).await;
    let payloads: Vec<_> = got
        .iter()
        .map(|m| String::from_utf8(rdkafka::Message::payload(m).unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(payloads, ["secret-0", "secret-1", "secret-2"]);
}

/// The value of one series of the broker's metrics, 0 when absent.
fn metric(broker: &Broker, series: &str) -> f64 {
    let lag = runnel_lag::LagReport {
        evaluated_at_ms: 0,
        window_ms: 1,
        untracked_observations: 0,
        groups: Vec::new(),
    };
    let text = metrics::render(broker.state(), Detail::Topics, &lag).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn authentications(broker: &Broker, outcome: &str, listener: &str, mechanism: &str) -> f64 {
    metric(
        broker,
        &format!(
            "runnel_sasl_{outcome}_total{{listener=\"{listener}\",mechanism=\"{mechanism}\"}}"
        ),
    )
}

async fn handshake(raw: &mut Raw, mechanism: &str) -> SaslHandshakeResponse {
    raw.call(
        ApiKey::SaslHandshake,
        1,
        &SaslHandshakeRequest::default().with_mechanism(s(mechanism)),
    )
    .await
}

async fn authenticate(raw: &mut Raw, version: i16, message: &[u8]) -> SaslAuthenticateResponse {
    raw.call(
        ApiKey::SaslAuthenticate,
        version,
        &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(message)),
    )
    .await
}

/// A PLAIN login on a raw connection; the SaslAuthenticate answer.
async fn plain_login(raw: &mut Raw, user: &str, password: &str) -> SaslAuthenticateResponse {
    assert_eq!(handshake(raw, "PLAIN").await.error_code, 0);
    authenticate(raw, 2, format!("\0{user}\0{password}").as_bytes()).await
}

#[tokio::test]
async fn librdkafka_produces_and_consumes_over_sasl_plaintext_with_each_mechanism() {
    let data = tempfile::tempdir().unwrap();
    let broker = broker(data.path(), None, &[]).await;
    add_user(&broker, "alice", "alice-secret", 4096);
    let bootstrap = address(&broker, "SASL_PLAINTEXT");
    for mechanism in MECHANISMS {
        let topic = format!("plaintext-{mechanism}");
        round_trip(
            &bootstrap,
            &topic,
            &sasl(None, mechanism, "alice", "alice-secret"),
        )
        .await;
        assert!(authentications(&broker, "authentications", "SASL_PLAINTEXT", mechanism) >= 2.0);
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn librdkafka_produces_and_consumes_over_sasl_ssl_with_each_mechanism() {
    let (data, files) = (tempfile::tempdir().unwrap(), Files::new());
    let broker = broker(data.path(), Some(&files), &[]).await;
    add_user(&broker, "alice", "alice-secret", 4096);
    let bootstrap = address(&broker, "SASL_SSL");
    for mechanism in MECHANISMS {
        let topic = format!("ssl-{mechanism}");
        let settings = sasl(Some(&files), mechanism, "alice", "alice-secret");
        round_trip(&bootstrap, &topic, &settings).await;
        assert!(authentications(&broker, "authentications", "SASL_SSL", mechanism) >= 2.0);
    }
    broker.shutdown().await.unwrap();
}

/// Records the errors librdkafka reports.
#[derive(Clone, Default)]
struct Errors(Arc<Mutex<Vec<(KafkaError, String)>>>);

impl ClientContext for Errors {
    fn error(&self, error: KafkaError, reason: &str) {
        self.0.lock().unwrap().push((error, reason.to_owned()));
    }
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_are_refused_with_kafkas_error() {
    let data = tempfile::tempdir().unwrap();
    let broker = broker(data.path(), None, &[]).await;
    add_user(&broker, "alice", "alice-secret", 4096);
    let bootstrap = address(&broker, "SASL_PLAINTEXT");
    let cases = [
        ("SCRAM-SHA-512", "alice", "wrong", "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"),
        ("SCRAM-SHA-256", "mallory", "alice-secret", "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"),
        ("PLAIN", "alice", "wrong", "Authentication failed: Invalid username or password"),
        ("PLAIN", "mallory", "alice-secret", "Authentication failed: Invalid username or password"),
    ];
    for (mechanism, user, password, expected) in cases {
        let mut config = client_config_at(&bootstrap);
        for (k, v) in sasl(None, mechanism, user, password) {
            config.set(k, v);
        }
        let errors = Errors::default();
        let _producer: FutureProducer<Errors> = config.create_with_context(errors.clone()).unwrap();
        let refused = || {
            errors.0.lock().unwrap().iter().any(|(error, reason)| {
                matches!(error, KafkaError::Global(RDKafkaErrorCode::Authentication))
                    && reason.contains(expected)
            })
        };
        eventually(&format!("{mechanism} {user}: {expected}"), WAIT, refused).await;
        assert!(
            authentications(
                &broker,
                "authentication_failures",
                "SASL_PLAINTEXT",
                mechanism
            ) >= 1.0
        );
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_failed_authentication_is_answered_after_the_delay_then_closed() {
    let data = tempfile::tempdir().unwrap();
    let broker = broker(
        data.path(),
        None,
        &[("connection.failed.authentication.delay.ms", "300")],
    )
    .await;
    add_user(&broker, "alice", "alice-secret", 4096);
    let mut raw = Raw::connect_to(broker.listener_addr("SASL_PLAINTEXT").unwrap()).await;
    let sent = Instant::now();
    let answer = plain_login(&mut raw, "alice", "wrong").await;
    assert!(
        sent.elapsed() >= Duration::from_millis(300),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(answer.error_code, SASL_AUTHENTICATION_FAILED);
    assert_eq!(
        answer.error_message.as_deref(),
        Some("Authentication failed: Invalid username or password")
    );
    assert!(raw.closed_by_broker().await);

    // A good login is answered at once, with the session lifetime (none here).
    let mut raw = Raw::connect_to(broker.listener_addr("SASL_PLAINTEXT").unwrap()).await;
    let sent = Instant::now();
    let answer = plain_login(&mut raw, "alice", "alice-secret").await;
    assert!(
        sent.elapsed() < Duration::from_millis(300),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!((answer.error_code, answer.session_lifetime_ms), (0, 0));
    let metadata: MetadataResponse = raw
        .call(ApiKey::Metadata, 12, &MetadataRequest::default())
        .await;
    assert_eq!(metadata.brokers.len(), 1);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn nothing_but_api_versions_and_the_exchange_is_served_before_authentication() {
    let data = tempfile::tempdir().unwrap();
    let broker = broker(
        data.path(),
        None,
        &[
            ("connection.failed.authentication.delay.ms", "0"),
            (
                "listener.name.sasl_plaintext.sasl.enabled.mechanisms",
                "SCRAM-SHA-512,PLAIN",
            ),
        ],
    )
    .await;
    let sasl_address = broker.listener_addr("SASL_PLAINTEXT").unwrap();

    // ApiVersions is answered; any other request closes the connection unanswered.
    let mut raw = Raw::connect_to(sasl_address).await;
    let versions: ApiVersionsResponse = raw
        .call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default())
        .await;
    assert_eq!(versions.error_code, 0);
    raw.send(ApiKey::Metadata, 12, &MetadataRequest::default())
        .await;
    assert!(raw.closed_by_broker().await);

    // Only once: a second ApiVersions closes the connection, as in Kafka.
    let mut raw = Raw::connect_to(sasl_address).await;
    let versions: ApiVersionsResponse = raw
        .call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default())
        .await;
    assert_eq!(versions.error_code, 0);
    raw.send(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default())
        .await;
    assert!(raw.closed_by_broker().await);

    // A mechanism the listener does not enable: UNSUPPORTED_SASL_MECHANISM with the list.
    let mut raw = Raw::connect_to(sasl_address).await;
    let refused = handshake(&mut raw, "SCRAM-SHA-256").await;
    assert_eq!(
        refused.error_code,
        ResponseError::UnsupportedSaslMechanism.code()
    );
    let listed: Vec<&str> = refused.mechanisms.iter().map(|m| m.as_str()).collect();
    assert_eq!(listed, ["SCRAM-SHA-512", "PLAIN"]);
    assert!(raw.closed_by_broker().await);

    // SaslAuthenticate before SaslHandshake: ILLEGAL_SASL_STATE, then closed.
    let mut raw = Raw::connect_to(sasl_address).await;
    let answer = authenticate(&mut raw, 1, b"\0alice\0alice-secret").await;
    assert_eq!(answer.error_code, ResponseError::IllegalSaslState.code());
    assert!(raw.closed_by_broker().await);

    // After the handshake, only SaslAuthenticate.
    let mut raw = Raw::connect_to(sasl_address).await;
    assert_eq!(handshake(&mut raw, "PLAIN").await.error_code, 0);
    raw.send(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default())
        .await;
    assert!(raw.closed_by_broker().await);

    // The PLAINTEXT listener still answers the SASL requests ILLEGAL_SASL_STATE.
    let mut raw = Raw::connect_to(broker.listener_addr("INTERNAL").unwrap()).await;
    assert_eq!(
        handshake(&mut raw, "PLAIN").await.error_code,
        ResponseError::IllegalSaslState.code()
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_large_frame_before_authentication_closes_the_connection_unread() {
    let data = tempfile::tempdir().unwrap();
    let broker = broker(data.path(), None, &[]).await;
    let sasl_address = broker.listener_addr("SASL_PLAINTEXT").unwrap();
    let one_mib: i32 = 1024 * 1024;
    // Only the size prefix and a header's worth of bytes: the broker must close on the
    // prefix alone, not wait for the MiB it announces.
    let mut raw = Raw::connect_to(sasl_address).await;
    let mut start = one_mib.to_be_bytes().to_vec();
    start.extend_from_slice(&[0, 18, 0, 3, 0, 0, 0, 1]);
    raw.send_bytes(&start).await;
    assert!(raw.closed_by_broker().await);

    // Mid-exchange too.
    let mut raw = Raw::connect_to(sasl_address).await;
    assert_eq!(handshake(&mut raw, "PLAIN").await.error_code, 0);
    raw.send_bytes(&start).await;
    assert!(raw.closed_by_broker().await);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_first_user_is_created_over_the_local_plaintext_listener() {
    let data = tempfile::tempdir().unwrap();
    let broker = broker(data.path(), None, &[]).await;
    let bootstrap = address(&broker, "SASL_PLAINTEXT");
    set_password_over_the_wire(&broker, "admin", "admin-secret").await;
    round_trip(
        &bootstrap,
        "first-user",
        &sasl(None, "SCRAM-SHA-512", "admin", "admin-secret"),
    )
    .await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_expired_session_is_closed_at_its_next_request_unless_it_re_authenticates() {
    let data = tempfile::tempdir().unwrap();
    let broker = broker(data.path(), None, &[("connections.max.reauth.ms", "300")]).await;
    add_user(&broker, "alice", "alice-secret", 4096);
    add_user(&broker, "bob", "bob-secret", 4096);
    let sasl_address = broker.listener_addr("SASL_PLAINTEXT").unwrap();
    let expire = || tokio::time::sleep(Duration::from_millis(400));

    let mut raw = Raw::connect_to(sasl_address).await;
    let answer = plain_login(&mut raw, "alice", "alice-secret").await;
    assert_eq!((answer.error_code, answer.session_lifetime_ms), (0, 300));
    expire().await;
    raw.send(ApiKey::Metadata, 12, &MetadataRequest::default())
        .await;
    assert!(raw.closed_by_broker().await);

    // Re-authenticating after expiry renews the session.
    let mut raw = Raw::connect_to(sasl_address).await;
    plain_login(&mut raw, "alice", "alice-secret").await;
    expire().await;
    let again = plain_login(&mut raw, "alice", "alice-secret").await;
    assert_eq!((again.error_code, again.session_lifetime_ms), (0, 300));
    let metadata: MetadataResponse = raw
        .call(ApiKey::Metadata, 12, &MetadataRequest::default())
        .await;
    assert_eq!(metadata.brokers.len(), 1);

    // Another principal cannot take the connection over.
    let changed = plain_login(&mut raw, "bob", "bob-secret").await;
    assert_eq!(changed.error_code, SASL_AUTHENTICATION_FAILED);
    assert_eq!(
        changed.error_message.as_deref(),
        Some("Cannot change principals during re-authentication from User:alice: User:bob")
    );
    assert!(raw.closed_by_broker().await);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn librdkafka_keeps_producing_across_re_authentications() {
    let data = tempfile::tempdir().unwrap();
    let broker = broker(data.path(), None, &[("connections.max.reauth.ms", "1000")]).await;
    add_user(&broker, "alice", "alice-secret", 4096);
    let bootstrap = address(&broker, "SASL_PLAINTEXT");
    let settings = sasl(None, "SCRAM-SHA-256", "alice", "alice-secret");
    let producer = producer_at(&bootstrap, &borrowed(&settings));
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(3500) {
        producer
            .send(FutureRecord::to("reauth").key("k").payload("v"), WAIT)
            .await
            .unwrap();
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sent > 20, "{sent} records in 3.5 s");
    // A first authentication per connection, then one at least every second.
    let logins = authentications(
        &broker,
        "authentications",
        "SASL_PLAINTEXT",
        "SCRAM-SHA-256",
    );
    assert!(logins >= 4.0, "{logins} authentications");
    let failures = authentications(
        &broker,
        "authentication_failures",
        "SASL_PLAINTEXT",
        "SCRAM-SHA-256",
    );
    assert_eq!(failures, 0.0);
    broker.shutdown().await.unwrap();
}

fn acl(principal: &str, topic: &str, operation: Operation) -> AclBinding {
    AclBinding {
        pattern: ResourcePattern {
            resource_type: ResourceType::Topic,
            pattern_type: PatternType::Literal,
            name: topic.to_owned(),
        },
        principal: principal.to_owned(),
        host: "*".to_owned(),
        operation,
        permission: Permission::Allow,
    }
}

#[tokio::test]
async fn two_principals_over_the_wire_get_what_their_acls_allow() {
    let data = tempfile::tempdir().unwrap();
    let broker = broker(
        data.path(),
        None,
        &[
            ("authorizer.class.name", STANDARD_AUTHORIZER),
            ("super.users", "User:admin"),
        ],
    )
    .await;
    for user in ["admin", "alice", "bob"] {
        add_user(&broker, user, &format!("{user}-secret"), 4096);
    }
    let bootstrap = address(&broker, "SASL_PLAINTEXT");
    let login = |user: &str| sasl(None, "SCRAM-SHA-512", user, &format!("{user}-secret"));

    let mut admin_config = client_config_at(&bootstrap);
    for (k, v) in login("admin") {
        admin_config.set(k, v);
    }
    let admin: AdminClient<DefaultClientContext> = admin_config.create().unwrap();
    let created = admin
        .create_topics(
            &[NewTopic::new("orders", 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(WAIT)),
        )
        .await
        .unwrap();
    assert!(created[0].is_ok(), "{created:?}");
    broker
        .state()
        .acls
        .change(|acls| acls.add(acl("User:alice", "orders", Operation::Write)))
        .unwrap()
        .unwrap();

    let alice = producer_at(&bootstrap, &borrowed(&login("alice")));
    let delivered = alice
        .send(
            FutureRecord::to("orders").key("k").payload("from alice"),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(delivered.offset, 0);

    let bob = producer_at(&bootstrap, &borrowed(&login("bob")));
    let (error, _) = bob
        .send(
            FutureRecord::to("orders").key("k").payload("from bob"),
            WAIT,
        )
        .await
        .unwrap_err();
    assert_eq!(
        error,
        KafkaError::MessageProduction(RDKafkaErrorCode::TopicAuthorizationFailed)
    );
    broker.shutdown().await.unwrap();
}

/// kcat over SASL_SSL with SCRAM-SHA-512: `args` after the connection settings, `input` on
/// its standard input; its standard output.
async fn kcat(bootstrap: String, ca: String, args: &[&str], input: &'static [u8]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new("kcat");
        command.args(["-b", &bootstrap]);
        for setting in [
            "security.protocol=sasl_ssl".to_owned(),
            "sasl.mechanisms=SCRAM-SHA-512".to_owned(),
            "sasl.username=alice".to_owned(),
            "sasl.password=alice-secret".to_owned(),
            format!("ssl.ca.location={ca}"),
            "broker.address.family=v4".to_owned(),
        ] {
            command.arg("-X").arg(setting);
        }
        let mut child = command
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
    .await
    .unwrap()
}

#[tokio::test]
async fn kcat_produces_and_consumes_over_sasl_ssl_with_scram_sha_512() {
    let (data, files) = (tempfile::tempdir().unwrap(), Files::new());
    let broker = broker(data.path(), Some(&files), &[]).await;
    add_user(&broker, "alice", "alice-secret", 4096);
    let (bootstrap, ca) = (address(&broker, "SASL_SSL"), files.path("ca.pem"));
    kcat(
        bootstrap.clone(),
        ca.clone(),
        &["-P", "-t", "kcat-sasl"],
        b"one\ntwo\n",
    )
    .await;
    let consumed = kcat(
        bootstrap,
        ca,
        &["-C", "-t", "kcat-sasl", "-o", "beginning", "-e", "-q"],
        b"",
    )
    .await;
    assert_eq!(consumed, "one\ntwo\n");
    assert!(authentications(&broker, "authentications", "SASL_SSL", "SCRAM-SHA-512") >= 2.0);
    broker.shutdown().await.unwrap();
}

/// confluent-kafka (Python, its own bundled librdkafka) over SASL_SSL.
const CONFLUENT_KAFKA_ROUND_TRIP: &str = r#"
import sys
from confluent_kafka import Consumer, Producer
bootstrap, ca = sys.argv[1:3]
sasl = {"bootstrap.servers": bootstrap, "security.protocol": "SASL_SSL", "ssl.ca.location": ca,
        "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "alice",
        "sasl.password": "alice-secret", "broker.address.family": "v4"}
producer = Producer(sasl)
for value in ("first", "second"):
    producer.produce("python-sasl", value=value.encode())
assert producer.flush(20) == 0, "undelivered records"
consumer = Consumer({**sasl, "group.id": "python-sasl", "auto.offset.reset": "earliest"})
consumer.subscribe(["python-sasl"])
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
async fn confluent_kafka_produces_and_consumes_over_sasl_ssl_with_scram_sha_512() {
    let (data, files) = (tempfile::tempdir().unwrap(), Files::new());
    let broker = broker(data.path(), Some(&files), &[]).await;
    add_user(&broker, "alice", "alice-secret", 4096);
    let args = [address(&broker, "SASL_SSL"), files.path("ca.pem")];
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_failed_logins_does_not_slow_an_authenticated_producer() {
    let data = tempfile::tempdir().unwrap();
    // No delay: the flood is as fast as the attackers can send it, and every PLAIN attempt
    // costs the broker a password hash of the most iterations Kafka allows.
    let broker = broker(
        data.path(),
        None,
        &[("connection.failed.authentication.delay.ms", "0")],
    )
    .await;
    add_user(
        &broker,
        "alice",
        "alice-secret",
        ScramMechanism::MAX_ITERATIONS,
    );
    let sasl_address = broker.listener_addr("SASL_PLAINTEXT").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut attackers = Vec::new();
    for _ in 0..16 {
        let stop = Arc::clone(&stop);
        attackers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let mut raw = Raw::connect_to(sasl_address).await;
                let answer = plain_login(&mut raw, "alice", "guess").await;
                assert_eq!(answer.error_code, SASL_AUTHENTICATION_FAILED);
            }
        }));
    }
    let settings = sasl(None, "SCRAM-SHA-512", "alice", "alice-secret");
    let producer = producer_at(&address(&broker, "SASL_PLAINTEXT"), &borrowed(&settings));
    // The producer's own login waits its turn with the flood; then its records must not.
    producer
        .send(FutureRecord::<(), _>::to("flooded").payload("first"), WAIT)
        .await
        .unwrap();
    let started = Instant::now();
    let mut latencies = Vec::new();
    while started.elapsed() < Duration::from_secs(3) {
        let sent = Instant::now();
        producer
            .send(FutureRecord::<(), _>::to("flooded").payload("p"), WAIT)
            .await
            .unwrap();
        latencies.push(sent.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.await.unwrap();
    }
    let failures = authentications(
        &broker,
        "authentication_failures",
        "SASL_PLAINTEXT",
        "PLAIN",
    );
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let worst = latencies[latencies.len() - 1];
    assert!(failures >= 50.0, "only {failures} failed logins");
    assert!(
        latencies.len() > 50
            && median < Duration::from_millis(50)
            && worst < Duration::from_secs(1),
        "producer during {failures} failed logins: {} records, median {median:?}, worst {worst:?}",
        latencies.len()
    );
    broker.shutdown().await.unwrap();
}

/// A SASL listener left without mechanisms stops the start with a one-line error.
#[tokio::test]
async fn a_sasl_listener_without_mechanisms_stops_the_start() {
    let data = tempfile::tempdir().unwrap();
    let mut config = runnel_broker::BrokerConfig::new(data.path(), "127.0.0.1:0");
    config
        .set(
            "listeners",
            "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
        )
        .unwrap();
    config
        .set("listener.name.sasl_plaintext.sasl.enabled.mechanisms", "")
        .unwrap();
    let error = Broker::start(config).await.unwrap_err().to_string();
    assert_eq!(
        error,
        "listener SASL_PLAINTEXT is SASL_PLAINTEXT but enables no SASL mechanism: set \
         sasl.enabled.mechanisms or listener.name.sasl_plaintext.sasl.enabled.mechanisms"
    );
    let mut config = runnel_broker::BrokerConfig::new(data.path(), "127.0.0.1:0");
    assert!(config.set("sasl.enabled.mechanisms", "GSSAPI").is_err());
}
