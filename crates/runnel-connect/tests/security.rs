//! The connector runtime against a broker whose only listener is SSL with mutual TLS: the
//! worker's clients take librdkafka's security settings from a Kafka Connect worker
//! properties file, a file source writes lines into a topic (its producer, admin client and
//! offsets reader all over TLS) and a webhook sink delivers them (its consumer over TLS).
//! Every certificate is made by the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use common::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use runnel_broker::{Broker, BrokerConfig};
use runnel_connect::status::State as TaskState;
use runnel_connect::{ConnectRuntime, KafkaSettings, WorkerConfig};
use serde_json::Value;

/// A CA, the broker's certificate and key (one PEM file) and a client's (two), in `dir`.
fn make_certificates(dir: &Path) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Runnel connect test CA");
    std::fs::write(dir.join("ca.pem"), ca.self_signed(&ca_key).unwrap().pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let sign = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        (
            params.signed_by(&key, &issuer).unwrap().pem(),
            key.serialize_pem(),
        )
    };
    let (broker, broker_key) = sign("broker");
    std::fs::write(dir.join("broker.pem"), broker + &broker_key).unwrap();
    let (client, client_key) = sign("connect");
    std::fs::write(dir.join("client.crt"), client).unwrap();
    std::fs::write(dir.join("client.key"), client_key).unwrap();
}

/// A broker whose one listener is SSL and requires a trusted client certificate.
async fn mutual_tls_broker(data: &Path, certificates: &Path) -> Broker {
    init_tracing();
    let mut config = BrokerConfig::new(data, "127.0.0.1:0");
    config.group_initial_rebalance_delay_ms = 0;
    let path = |name: &str| certificates.join(name).display().to_string();
    for (key, value) in [
        ("listeners", "SSL://127.0.0.1:0".to_owned()),
        ("ssl.keystore.location", path("broker.pem")),
        ("ssl.truststore.location", path("ca.pem")),
        ("ssl.client.auth", "required".to_owned()),
    ] {
        config.set(key, &value).unwrap();
    }
    Broker::start(config).await.unwrap()
}

async fn receive(
    State(values): State<Arc<Mutex<Vec<String>>>>,
    Json(records): Json<Vec<Value>>,
) -> StatusCode {
    let mut values = values.lock().unwrap();
    for record in records {
        values.push(record["value"].as_str().unwrap().to_owned());
    }
    StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connectors_run_against_a_mutual_tls_broker_with_worker_security_settings() {
    let dir = tempfile::tempdir().unwrap();
    let certificates = dir.path().join("certificates");
    std::fs::create_dir(&certificates).unwrap();
    make_certificates(&certificates);
    let broker = mutual_tls_broker(&dir.path().join("broker"), &certificates).await;
    let bootstrap = broker.local_addr().to_string();

    let values = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(Arc::clone(&values));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let input = dir.path().join("input.txt");
    let lines: Vec<String> = (0..50).map(|n| format!("line {n}")).collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let connectors = dir.path().join("connectors");
    write_connector(
        &connectors,
        &[
            ("name", "lines-in"),
            ("connector.class", "file"),
            ("file", input.to_str().unwrap()),
            ("topic", "lines"),
            ("value.converter", "string"),
        ],
    );
    write_connector(
        &connectors,
        &[
            ("name", "lines-out"),
            ("connector.class", "http"),
            ("topics", "lines"),
            ("http.url", &hook),
            ("value.converter", "string"),
        ],
    );

    // The security settings as a Kafka Connect worker takes them; a consumer-only setting
    // shows the prefixes reach their clients (librdkafka would refuse it on a producer).
    let properties = dir.path().join("worker.properties");
    let path = |name: &str| certificates.join(name).display().to_string();
    std::fs::write(
        &properties,
        format!(
            "security.protocol=SSL\nssl.ca.location={}\nssl.certificate.location={}\nssl.key.location={}\nconsumer.fetch.wait.max.ms=50\n",
            path("ca.pem"),
            path("client.crt"),
            path("client.key"),
        ),
    )
    .unwrap();
    let mut kafka = KafkaSettings::new(&bootstrap);
    kafka.read_properties(&properties).unwrap();
    let config = WorkerConfig {
        kafka,
        connectors_dir: connectors,
        worker_id: "secure-worker".to_owned(),
        source_classes: Default::default(),
    };
    let runtime = ConnectRuntime::start(config, "127.0.0.1:0").await.unwrap();

    wait_until("the sink delivered every line of the file", || async {
        values.lock().unwrap().len() >= lines.len()
    })
    .await;
    assert_eq!(*values.lock().unwrap(), lines);
    for name in ["lines-in", "lines-out"] {
        let status = status(&runtime, name).await;
        assert_eq!(
            status.tasks[0].state,
            TaskState::Running,
            "{name}: {status:?}"
        );
    }
    runtime.shutdown().await;
    server.abort();
    broker.shutdown().await.unwrap();
}
