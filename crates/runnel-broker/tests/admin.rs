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
