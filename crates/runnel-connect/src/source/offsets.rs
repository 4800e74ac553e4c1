//! The offsets topic: a compacted topic where source offsets live, keyed as Kafka Connect
//! keys them, so that tools that read Kafka Connect's offsets read Runnel's. A record's key
//! is the JSON `["<connector>", {source partition}]`, its value the JSON `{source offset}`;
//! a tombstone forgets the partition's offset (a reset).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

use super::SourceMap;
use crate::kafka::{ClientRole, KafkaSettings, ADMIN_TIMEOUT};

/// Kafka Connect's default partition count of the offsets topic.
const PARTITIONS: i32 = 25;
/// How long reading the topic may go without progress.
const READ_STALL_LIMIT: Duration = Duration::from_secs(30);

/// The offsets topic of a connector.
#[derive(Debug, Clone)]
pub(crate) struct OffsetsTopic {
    kafka: KafkaSettings,
    topic: String,
}

/// The key of a source partition's offset record.
pub(crate) fn key(connector: &str, partition: &SourceMap) -> Vec<u8> {
    Value::Array(vec![
        Value::String(connector.to_owned()),
        Value::Object(partition.clone()),
    ])
    .to_string()
    .into_bytes()
}

/// The connector and source partition of a key, if it is one.
fn parse_key(key: &[u8]) -> Option<(String, SourceMap)> {
    match serde_json::from_slice(key).ok()? {
        Value::Array(mut parts) if parts.len() == 2 => match (parts.pop()?, parts.pop()?) {
            (Value::Object(partition), Value::String(connector)) => Some((connector, partition)),
            _ => None,
        },
        _ => None,
    }
}

impl OffsetsTopic {
    pub fn new(kafka: &KafkaSettings, topic: &str) -> OffsetsTopic {
        OffsetsTopic {
            kafka: kafka.clone(),
            topic: topic.to_owned(),
        }
    }

    pub fn name(&self) -> &str {
        &self.topic
    }

    /// Creates the topic, compacted, if it does not exist.
    pub async fn ensure(&self) -> Result<(), String> {
        let admin: AdminClient<DefaultClientContext> = self
            .kafka
            .client_config(ClientRole::Admin)
            .create()
            .map_err(|e| format!("cannot create an admin client: {e}"))?;
        let new_topic = NewTopic::new(&self.topic, PARTITIONS, TopicReplication::Fixed(1))
            .set("cleanup.policy", "compact");
        let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
        let results = admin
            .create_topics([&new_topic], &options)
            .await
            .map_err(|e| format!("cannot create the offsets topic {}: {e}", self.topic))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(format!(
                        "cannot create the offsets topic {}: {code}",
                        self.topic
                    ))
                }
            }
        }
        Ok(())
    }

    /// The committed offsets of `connector`'s source partitions: the topic read to its
    /// last stable offset, aborted transactions left out, the latest record per key kept.
    pub async fn read(&self, connector: &str) -> Result<Vec<(SourceMap, SourceMap)>, String> {
        let mut config = self.kafka.client_config(ClientRole::Consumer);
        // librdkafka wants a group to assign partitions; assigned, not subscribed, the
        // reader never joins it, and it commits nothing.
        config
            .set("group.id", format!("connect-offsets-reader-{connector}"))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("fetch.wait.max.ms", "10")
            .set("isolation.level", "read_committed");
        let consumer: BaseConsumer = config
            .create()
            .map_err(|e| format!("cannot create the offsets reader: {e}"))?;
        let topic = self.topic.clone();
        let connector = connector.to_owned();
        tokio::task::spawn_blocking(move || read_to_end(&consumer, &topic, &connector))
            .await
            .map_err(|e| format!("reading the offsets topic did not finish: {e}"))?
            .map_err(|e| format!("cannot read the offsets topic: {e}"))
    }

    /// Forgets `connector`'s offsets: a tombstone per source partition.
    pub async fn clear(&self, connector: &str) -> Result<(), String> {
        let partitions = self.read(connector).await?;
        let producer: FutureProducer = self
            .kafka
            .client_config(ClientRole::Producer)
            .set("enable.idempotence", "true")
            .set("partitioner", "murmur2_random")
            .create()
            .map_err(|e| format!("cannot create a producer: {e}"))?;
        let keys: Vec<Vec<u8>> = partitions
            .iter()
            .map(|(partition, _)| key(connector, partition))
            .collect();
        let sends = keys.iter().map(|key| {
            producer.send(
                FutureRecord::<[u8], [u8]>::to(&self.topic).key(key.as_slice()),
                ADMIN_TIMEOUT,
            )
        });
        for delivery in join_all(sends).await {
            delivery.map_err(|(e, _)| format!("cannot write to {}: {e}", self.topic))?;
        }
        Ok(())
    }
}

/// Reads every partition of `topic` from its start until librdkafka reports its end (the
/// last stable offset under `read_committed`).
fn read_to_end(
    consumer: &BaseConsumer,
    topic: &str,
    connector: &str,
) -> Result<Vec<(SourceMap, SourceMap)>, KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), ADMIN_TIMEOUT)?;
    let mut assignment = TopicPartitionList::new();
    let mut pending = BTreeSet::new();
    for partition in metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions())
    {
        assignment.add_partition_offset(topic, partition.id(), Offset::Beginning)?;
        pending.insert(partition.id());
    }
    consumer.assign(&assignment)?;
    let mut latest: BTreeMap<Vec<u8>, (SourceMap, Option<SourceMap>)> = BTreeMap::new();
    let mut deadline = Instant::now() + READ_STALL_LIMIT;
    while !pending.is_empty() {
        if Instant::now() > deadline {
            return Err(KafkaError::MessageConsumption(
                RDKafkaErrorCode::OperationTimedOut,
            ));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                deadline = Instant::now() + READ_STALL_LIMIT;
                let Some((owner, partition)) = message.key().and_then(parse_key) else {
                    continue;
                };
                if owner != connector {
                    continue;
                }
                let offset = message
                    .payload()
                    .and_then(|v| serde_json::from_slice::<SourceMap>(v).ok());
                let key = message.key().unwrap_or_default().to_vec();
                latest.insert(key, (partition, offset));
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                deadline = Instant::now() + READ_STALL_LIMIT;
                pending.remove(&partition);
            }
            Some(Err(error)) => return Err(error),
            None => {}
        }
    }
    Ok(latest
        .into_values()
        .filter_map(|(partition, offset)| Some((partition, offset?)))
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_kafka_connects_json_and_read_back() {
        let partition = json!({"filename": "/tmp/in.txt"})
            .as_object()
            .unwrap()
            .clone();
        let bytes = key("lines", &partition);
        assert_eq!(bytes, br#"["lines",{"filename":"/tmp/in.txt"}]"#);
        assert_eq!(parse_key(&bytes), Some(("lines".to_owned(), partition)));
        assert_eq!(parse_key(b"not json"), None);
        assert_eq!(parse_key(br#"[{"a":1},"lines"]"#), None);
    }
}
