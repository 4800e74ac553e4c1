//! Several listeners: each answers Metadata, FindCoordinator and DescribeCluster with its own
//! advertised endpoint, real clients stay on the listener they bootstrapped from, connection
//! limits count across listeners, and listeners the broker cannot serve are refused at start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, DescribeClusterRequest,
    DescribeClusterResponse, FindCoordinatorRequest, FindCoordinatorResponse, MetadataRequest,
    MetadataResponse,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::producer::FutureRecord;
use rdkafka::Offset;
use runnel_broker::{Broker, BrokerConfig, SecurityProtocol};
use tokio::io::AsyncReadExt;

use common::{assigned_consumer_at, consume, create_topic_at, producer_at, start, Raw};

/// The host and port each endpoint-answering API gives on a connection to `address`.
async fn endpoints_seen(address: std::net::SocketAddr) -> Vec<(String, i32)> {
    let mut raw = Raw::connect_to(address).await;
    let metadata: MetadataResponse = raw
        .call(ApiKey::Metadata, 12, &MetadataRequest::default())
        .await;
    let coordinator: FindCoordinatorResponse = raw
        .call(
            ApiKey::FindCoordinator,
            4,
            &FindCoordinatorRequest::default()
                .with_coordinator_keys(vec![StrBytes::from_static_str("g")]),
        )
        .await;
    let cluster: DescribeClusterResponse = raw
        .call(
            ApiKey::DescribeCluster,
            0,
            &DescribeClusterRequest::default(),
        )
        .await;
    vec![
        (
            metadata.brokers[0].host.to_string(),
            metadata.brokers[0].port,
        ),
        (
            coordinator.coordinators[0].host.to_string(),
            coordinator.coordinators[0].port,
        ),
        (cluster.brokers[0].host.to_string(), cluster.brokers[0].port),
    ]
}

#[tokio::test]
async fn each_listener_advertises_its_own_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| {
        c.set(
            "listeners",
            "PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0",
        )
        .unwrap();
        c.set(
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
        )
        .unwrap();
        c.set("advertised.listeners", "INTERNAL://internal.example:19092")
            .unwrap();
    })
    .await;
    let names: Vec<_> = broker
        .listeners()
        .iter()
        .map(|l| (l.name.as_str(), l.protocol))
        .collect();
    assert_eq!(
        names,
        [
            ("PLAINTEXT", SecurityProtocol::Plaintext),
            ("INTERNAL", SecurityProtocol::Plaintext)
        ]
    );
    let plaintext = broker.listener_addr("plaintext").unwrap();
    assert_eq!(plaintext, broker.local_addr());
    let own = ("127.0.0.1".to_owned(), i32::from(plaintext.port()));
    assert_eq!(endpoints_seen(plaintext).await, vec![own; 3]);
    let internal = broker.listener_addr("INTERNAL").unwrap();
    let advertised = ("internal.example".to_owned(), 19092);
    assert_eq!(endpoints_seen(internal).await, vec![advertised; 3]);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn clients_produce_and_consume_through_a_second_listener() {
    const TOPIC: &str = "second-listener";
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| {
        c.set("listeners", "FIRST://127.0.0.1:0,SECOND://127.0.0.1:0")
            .unwrap();
        c.set(
            "listener.security.protocol.map",
            "FIRST:PLAINTEXT,SECOND:PLAINTEXT",
        )
        .unwrap();
    })
    .await;
    let second = broker.listener_addr("SECOND").unwrap().to_string();
    create_topic_at(&second, TOPIC, 1).await;
    let producer = producer_at(&second, &[("acks", "all")]);
    let delivered = producer
        .send(
            FutureRecord::to(TOPIC).key("k").payload("over the second"),
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert_eq!(delivered.offset, 0);
    let consumer = assigned_consumer_at(&second, TOPIC, &[0], Offset::Beginning, &[]);
    let got = consume(&consumer, 1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        rdkafka::Message::payload(&got[0]),
        Some(&b"over the second"[..])
    );
    drop((producer, consumer));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn connection_limits_count_across_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| {
        c.set("listeners", "PLAINTEXT://127.0.0.1:0,OTHER://127.0.0.1:0")
            .unwrap();
        c.set(
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT",
        )
        .unwrap();
        c.max_connections = 1;
    })
    .await;
    let mut first = Raw::connect(&broker).await;
    // Answered, so admitted: it holds the only place.
    let _: ApiVersionsResponse = first
        .call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default())
        .await;
    let mut second = tokio::net::TcpStream::connect(broker.listener_addr("OTHER").unwrap())
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(10), second.read(&mut byte)).await;
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "connection over max.connections on the other listener not closed: {closed:?}"
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn listeners_the_broker_cannot_serve_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = BrokerConfig::new(dir.path(), "127.0.0.1:0");
    config.set("listeners", "CLIENTS://127.0.0.1:0").unwrap();
    let error = Broker::start(config).await.unwrap_err().to_string();
    assert!(
        error.starts_with("no security protocol for listener CLIENTS"),
        "{error}"
    );
    assert!(!error.contains('\n'), "{error}");
}
