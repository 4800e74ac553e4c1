//! Topic administration through librdkafka's admin client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::Consumer;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};

use common::{assigned_consumer, client_config, consume, producer, start};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_configure_grow_trim_and_delete_topics() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| c.auto_create_topics = false).await;
    let admin: AdminClient<DefaultClientContext> = client_config(&broker).create().unwrap();
    let options = AdminOptions::new().operation_timeout(Some(WAIT));

    let created = admin
        .create_topics(
            &[
                NewTopic::new("admin-a", 2, TopicReplication::Fixed(1))
                    .set("retention.ms", "123456"),
                NewTopic::new("admin-bad", 1, TopicReplication::Fixed(3)),
                NewTopic::new("admin-cfg", 1, TopicReplication::Fixed(1))
                    .set("retention.ms", "soon"),
            ],
            &options,
        )
        .await
        .unwrap();
    assert!(created[0].is_ok());
    assert_eq!(
        created[1].as_ref().unwrap_err().1,
        RDKafkaErrorCode::InvalidReplicationFactor
    );
    assert_eq!(
        created[2].as_ref().unwrap_err().1,
        RDKafkaErrorCode::InvalidConfig
    );
    let again = admin
        .create_topics(
            &[NewTopic::new("admin-a", 1, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .unwrap();
    assert_eq!(
        again[0].as_ref().unwrap_err().1,
        RDKafkaErrorCode::TopicAlreadyExists
    );

    // DescribeConfigs shows the override and its source; AlterConfigs applies live.
    let described = admin
        .describe_configs(&[ResourceSpecifier::Topic("admin-a")], &options)
        .await
        .unwrap();
    let resource = described[0].as_ref().unwrap();
    let entry = resource.get("retention.ms").unwrap();
    assert_eq!(entry.value.as_deref(), Some("123456"));
    assert!(!entry.is_default);
    assert_eq!(
        resource.get("cleanup.policy").unwrap().value.as_deref(),
        Some("delete")
    );
    let altered = admin
        .alter_configs(
            &[AlterConfig::new(ResourceSpecifier::Topic("admin-a")).set("retention.ms", "999")],
            &options,
        )
        .await
        .unwrap();
    // rdkafka 0.39 reports every AlterConfigs resource as a success (it drops the error
    // code), so the outcome is read from the broker itself.
    assert_eq!(altered.len(), 1);
    let topic = broker.state().topics.get("admin-a").unwrap();
    assert_eq!(topic.partition(1).unwrap().log.config().retention_ms, 999);
    admin
        .alter_configs(
            &[AlterConfig::new(ResourceSpecifier::Topic("admin-a")).set("retention.ms", "soon")],
            &options,
        )
        .await
        .unwrap();
    assert_eq!(
        topic.partition(1).unwrap().log.config().retention_ms,
        999,
        "an invalid value changes nothing"
    );

    let grown = admin
        .create_partitions(&[NewPartitions::new("admin-a", 4)], &options)
        .await
        .unwrap();
    assert!(grown[0].is_ok(), "{grown:?}");
    assert_eq!(topic.partitions().len(), 4);
    let shrink = admin
        .create_partitions(&[NewPartitions::new("admin-a", 3)], &options)
        .await
        .unwrap();
    assert_eq!(
        shrink[0].as_ref().unwrap_err().1,
        RDKafkaErrorCode::InvalidPartitions
    );

    // DeleteRecords moves the log start; consumers then start there.
    let producer = producer(&broker, &[]);
    for i in 0..10 {
        producer
            .send(
                FutureRecord::to("admin-a")
                    .partition(3)
                    .key("k")
                    .payload(&format!("v{i}")),
                WAIT,
            )
            .await
            .unwrap();
    }
    let mut cut = TopicPartitionList::new();
    cut.add_partition_offset("admin-a", 3, Offset::Offset(6))
        .unwrap();
    let trimmed = admin.delete_records(&cut, &options).await.unwrap();
    assert_eq!(
        trimmed.find_partition("admin-a", 3).unwrap().offset(),
        Offset::Offset(6)
    );
    let consumer = assigned_consumer(&broker, "admin-a", &[3], Offset::Beginning, &[]);
    let messages = consume(&consumer, 4, WAIT).await;
    assert_eq!(rdkafka::Message::offset(&messages[0]), 6);
    let (low, high) = consumer.fetch_watermarks("admin-a", 3, WAIT).unwrap();
    assert_eq!((low, high), (6, 10));

    let deleted = admin
        .delete_topics(&["admin-a", "admin-missing"], &options)
        .await
        .unwrap();
    assert!(deleted[0].is_ok());
    assert_eq!(
        deleted[1].as_ref().unwrap_err().1,
        RDKafkaErrorCode::UnknownTopicOrPartition
    );
    assert!(broker.state().topics.get("admin-a").is_none());
    assert!(!dir.path().join("admin-a-0").exists());
    broker.shutdown().await.unwrap();
}

/// Every topic setting of Kafka 4 is accepted and described with Kafka's default; those
/// Runnel does not act on are kept as set; a refusal names the setting and the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_kafka_topic_setting_is_accepted_described_and_checked() {
    use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
    use kafka_protocol::messages::{ApiKey, CreateTopicsRequest, CreateTopicsResponse, TopicName};
    use kafka_protocol::protocol::StrBytes;
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let admin: AdminClient<DefaultClientContext> = client_config(&broker).create().unwrap();
    let options = AdminOptions::new().operation_timeout(Some(WAIT));
    let settings = [
        ("file.delete.delay.ms", "10000"),
        ("min.insync.replicas", "2"),
        ("compression.type", "lz4"),
        ("message.timestamp.after.max.ms", "60000"),
        ("unclean.leader.election.enable", "true"),
        ("segment.jitter.ms", "5"),
    ];
    let mut topic = NewTopic::new("every-setting", 1, TopicReplication::Fixed(1));
    for (key, value) in settings {
        topic = topic.set(key, value);
    }
    let created = admin.create_topics(&[topic], &options).await.unwrap();
    assert!(created[0].is_ok(), "{created:?}");

    let described = admin
        .describe_configs(&[ResourceSpecifier::Topic("every-setting")], &options)
        .await
        .unwrap();
    let resource = described[0].as_ref().unwrap();
    for (key, value) in settings {
        let entry = resource
            .get(key)
            .unwrap_or_else(|| panic!("{key} described"));
        assert_eq!(entry.value.as_deref(), Some(value), "{key}");
        assert!(!entry.is_default, "{key}");
    }
    for (key, default) in [
        ("preallocate", "false"),
        ("remote.storage.enable", "false"),
        ("local.retention.ms", "-2"),
        ("compression.zstd.level", "3"),
        ("leader.replication.throttled.replicas", ""),
        ("message.timestamp.before.max.ms", "9223372036854775807"),
    ] {
        let entry = resource
            .get(key)
            .unwrap_or_else(|| panic!("{key} described"));
        assert_eq!(entry.value.as_deref(), Some(default), "{key}");
        assert!(entry.is_default, "{key}");
    }
    let log_config = broker
        .state()
        .topics
        .get("every-setting")
        .unwrap()
        .partition(0)
        .unwrap()
        .log
        .config();
    assert_eq!(log_config.message_timestamp_after_max_ms, 60_000);

    // Refusals carry Kafka's reason, naming the setting.
    let mut raw = common::Raw::connect(&broker).await;
    for (key, value, reason) in [
        ("min.insync.replicas", "0", "Value must be at least 1"),
        ("remote.storage.enable", "true", "Tiered Storage"),
        (
            "no.such.setting",
            "1",
            "Unknown topic config name: no.such.setting",
        ),
        ("compression.type", "brotli", "compression.type"),
    ] {
        let request = CreateTopicsRequest::default()
            .with_timeout_ms(5000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("refused")))
                .with_num_partitions(1)
                .with_replication_factor(1)
                .with_configs(vec![CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str(key))
                    .with_value(Some(StrBytes::from_static_str(value)))])]);
        let response: CreateTopicsResponse = raw.call(ApiKey::CreateTopics, 5, &request).await;
        let result = &response.topics[0];
        assert_eq!(result.error_code, 40, "{key}={value}"); // INVALID_CONFIG
        let message = result.error_message.as_ref().unwrap().to_string();
        assert!(message.contains(reason), "{key}={value}: {message}");
    }
    assert!(broker.state().topics.get("refused").is_none());
    broker.shutdown().await.unwrap();
}
