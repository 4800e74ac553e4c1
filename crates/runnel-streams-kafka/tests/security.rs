//! A job against a broker whose only listener is SSL with mutual TLS: librdkafka's security
//! settings, passed through the job's config, reach every client the runner makes (group and
//! restore consumers, transactional producer, admin). Every certificate is made by the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use runnel_broker::{Broker, BrokerConfig};
use runnel_streams::{StreamsError, StringSerde, TopologyBuilder};
use runnel_streams_kafka::{Guarantee, StreamsApp, StreamsConfig};

const WAIT: Duration = Duration::from_secs(60);

/// A CA, the broker's certificate and key (one PEM file) and a client's (two), in `dir`.
fn make_certificates(dir: &Path) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Runnel streams test CA");
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
    let (client, client_key) = sign("job");
    std::fs::write(dir.join("client.crt"), client).unwrap();
    std::fs::write(dir.join("client.key"), client_key).unwrap();
}

/// The librdkafka settings of a client with the test's certificate.
fn security(certificates: &Path) -> Vec<(&'static str, String)> {
    let path = |name: &str| certificates.join(name).display().to_string();
    vec![
        ("security.protocol", "ssl".to_owned()),
        ("ssl.ca.location", path("ca.pem")),
        ("ssl.certificate.location", path("client.crt")),
        ("ssl.key.location", path("client.key")),
    ]
}

fn client(bootstrap: &str, certificates: &Path) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    for (key, value) in security(certificates) {
        config.set(key, value);
    }
    config
}

fn shout(builder: &mut TopologyBuilder) -> Result<(), StreamsError> {
    builder
        .stream("words", StringSerde, StringSerde)
        .map_values(|word: String| word.to_uppercase())
        .to_topic("shouted", StringSerde, StringSerde);
    Ok(())
}

#[test]
fn an_exactly_once_job_runs_against_a_mutual_tls_broker() {
    let dir = tempfile::tempdir().unwrap();
    let certificates = dir.path().join("certificates");
    std::fs::create_dir(&certificates).unwrap();
    make_certificates(&certificates);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = BrokerConfig::new(dir.path().join("broker"), "127.0.0.1:0");
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
    let broker = runtime.block_on(Broker::start(config)).unwrap();
    let bootstrap = broker.local_addr().to_string();

    let admin: AdminClient<DefaultClientContext> =
        client(&bootstrap, &certificates).create().unwrap();
    let words = NewTopic::new("words", 2, TopicReplication::Fixed(1));
    for result in runtime
        .block_on(admin.create_topics([&words], &AdminOptions::new()))
        .unwrap()
    {
        result.unwrap();
    }
    let producer: FutureProducer = client(&bootstrap, &certificates).create().unwrap();
    let sent = ["hello", "secure", "world"];
    for word in sent {
        runtime
            .block_on(producer.send(FutureRecord::to("words").key(word).payload(word), WAIT))
            .unwrap();
    }

    let mut job = StreamsConfig::new("shout-app", &bootstrap)
        .state_dir(dir.path().join("state"))
        .guarantee(Guarantee::ExactlyOnce);
    for (key, value) in security(&certificates) {
        job = job.client_property(key, &value);
    }
    let app = StreamsApp::new(job, shout).start().unwrap();

    let consumer: BaseConsumer = client(&bootstrap, &certificates)
        .set("group.id", "shouted-reader")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["shouted"]).unwrap();
    let mut shouted = Vec::new();
    let deadline = Instant::now() + WAIT;
    while shouted.len() < sent.len() {
        assert!(Instant::now() < deadline, "read only {shouted:?}");
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            shouted.push(String::from_utf8(message.payload().unwrap().to_vec()).unwrap());
        }
    }
    shouted.sort();
    assert_eq!(shouted, ["HELLO", "SECURE", "WORLD"]);
    app.stop().unwrap();
    runtime.block_on(broker.shutdown()).unwrap();
}
