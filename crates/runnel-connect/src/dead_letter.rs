//! The dead-letter topic: records that failed under `errors.tolerance=all`, written as they
//! were read, with Kafka Connect's `__connect.errors.*` context headers when enabled.

use futures_util::future::join_all;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

use crate::kafka::{ClientRole, KafkaSettings, ADMIN_TIMEOUT};
use crate::task::RawRecord;

/// Where in the pipeline a record failed, with Kafka Connect's stage names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    KeyConverter,
    ValueConverter,
    Transformation,
    TaskPut,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::Transformation => "TRANSFORMATION",
            Stage::TaskPut => "TASK_PUT",
        }
    }
}

/// Why a record failed: the stage, the component at that stage, and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub stage: Stage,
    pub class: String,
    pub message: String,
}

impl Failure {
    pub fn new(stage: Stage, class: &str, message: String) -> Failure {
        Failure {
            stage,
            class: class.to_owned(),
            message,
        }
    }
}

/// A producer to the dead-letter topic.
pub(crate) struct DeadLetters {
    producer: FutureProducer,
    topic: String,
    context_headers: bool,
}

impl DeadLetters {
    /// Creates the topic if it does not exist (one partition, as Kafka Connect does).
    pub async fn open(
        kafka: &KafkaSettings,
        topic: &str,
        replication_factor: i32,
        context_headers: bool,
    ) -> Result<DeadLetters, String> {
        let admin: AdminClient<DefaultClientContext> = kafka
            .client_config(ClientRole::Admin)
            .create()
            .map_err(|e| format!("cannot create an admin client: {e}"))?;
        let new_topic = NewTopic::new(topic, 1, TopicReplication::Fixed(replication_factor));
        let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
        let results = admin
            .create_topics([&new_topic], &options)
            .await
            .map_err(|e| format!("cannot create the dead-letter topic {topic}: {e}"))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(format!(
                        "cannot create the dead-letter topic {topic}: {code}"
                    ))
                }
            }
        }
        let producer = kafka
            .client_config(ClientRole::Producer)
            .set("enable.idempotence", "true")
            .create()
            .map_err(|e| format!("cannot create the dead-letter producer: {e}"))?;
        Ok(DeadLetters {
            producer,
            topic: topic.to_owned(),
            context_headers,
        })
    }

    /// Writes the failed records and waits until the broker has all of them.
    pub async fn send(
        &self,
        connector: &str,
        task: usize,
        failed: &[(RawRecord, Failure)],
    ) -> Result<(), String> {
        let deliveries = failed.iter().map(|(raw, failure)| {
            let mut headers = OwnedHeaders::new_with_capacity(raw.headers.len() + 8);
            for (key, value) in &raw.headers {
                headers = headers.insert(Header {
                    key,
                    value: value.as_deref(),
                });
            }
            if self.context_headers {
                let context = [
                    ("__connect.errors.topic", raw.topic.clone()),
                    ("__connect.errors.partition", raw.partition.to_string()),
                    ("__connect.errors.offset", raw.offset.to_string()),
                    ("__connect.errors.connector.name", connector.to_owned()),
                    ("__connect.errors.task.id", task.to_string()),
                    ("__connect.errors.stage", failure.stage.name().to_owned()),
                    ("__connect.errors.class.name", failure.class.clone()),
                    (
                        "__connect.errors.exception.message",
                        failure.message.clone(),
                    ),
                ];
                for (key, value) in &context {
                    headers = headers.insert(Header {
                        key,
                        value: Some(value.as_bytes()),
                    });
                }
            }
            let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).headers(headers);
            if let Some(key) = &raw.key {
                record = record.key(key.as_slice());
            }
            if let Some(value) = &raw.value {
                record = record.payload(value.as_slice());
            }
            if let Some(timestamp) = raw.timestamp {
                record = record.timestamp(timestamp);
            }
            self.producer.send(record, ADMIN_TIMEOUT)
        });
        for delivery in join_all(deliveries).await {
            delivery.map_err(|(e, _)| format!("cannot write to the dead-letter topic: {e}"))?;
        }
        Ok(())
    }
}
