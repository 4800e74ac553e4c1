//! Where a graph meets topics: sources that decode a topic's records, sinks that encode
//! records for a topic, and repartitioning through an internal topic. Nothing here does
//! I/O: records arrive through `Topology::push_from_topic` and leave through
//! `Topology::take_outgoing`, and whoever runs the graph moves them to and from a broker.

use std::rc::Rc;

use bytes::Bytes;

use super::node::Node;
use super::stream::{Keys, Stream};
use super::{Context, TopologyBuilder};
use crate::record::{Record, Timestamp};
use crate::serdes::Serde;
use crate::skew::TimestampExtractor;

/// A record bound for a topic. The partition is left to the producer, which must pick it
/// from the key (so records of one key stay together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Shared by every record a sink writes, so that sending one allocates no name.
    pub topic: Rc<str>,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub timestamp: Timestamp,
}

/// A record read from a topic, as a runner hands it to the graph.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub timestamp: Timestamp,
    pub partition: u32,
}

/// Why a topic the graph needs belongs to the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicPurpose {
    /// Carries records between two parts of the graph, partitioned by a new key.
    Repartition,
    /// The compacted log of a state store, from which the store is rebuilt.
    Changelog,
}

/// A topic named after the application, which its runner creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalTopic {
    pub name: String,
    pub purpose: TopicPurpose,
}

/// Hands a record read from a topic at processing time `now` to the graph; returns the time
/// the graph gave it, which moves its partition's watermark.
type Deliver = Box<dyn FnMut(Incoming<'_>, Timestamp) -> Timestamp>;

/// A topic the graph reads, and how its records enter the graph.
pub(super) struct TopicSource {
    pub topic: String,
    /// Identifies the source in the watermark tracker.
    pub id: usize,
    pub deliver: Deliver,
}

/// Where the records of a topic stream get their time from.
enum SourceTime<K, V> {
    /// The record's timestamp (Kafka's `CreateTime` or `LogAppendTime`).
    Record,
    /// An extractor's choice, from the record's key, value and timestamp.
    Extracted(Box<dyn TimestampExtractor<K, V>>),
    /// The processing time at which the record is read.
    Processing,
}

impl TopologyBuilder {
    /// The records of `topic`, decoded, in event time: each record's time is its timestamp.
    /// A record without a key is decoded from no bytes; a record without a value (a
    /// tombstone) means nothing to a stream and is skipped.
    pub fn stream<K: Clone + 'static, V: Clone + 'static>(
        &mut self,
        topic: &str,
        keys: impl Serde<K> + 'static,
        values: impl Serde<V> + 'static,
    ) -> Stream<K, V> {
        self.topic_stream(topic, keys, values, SourceTime::Record)
    }

    /// `stream`, with each record's event time chosen by `extractor` (such as
    /// `ClockSkewCorrection`, or a time field of the value).
    pub fn stream_with_timestamps<K: Clone + 'static, V: Clone + 'static>(
        &mut self,
        topic: &str,
        keys: impl Serde<K> + 'static,
        values: impl Serde<V> + 'static,
        extractor: impl TimestampExtractor<K, V> + 'static,
    ) -> Stream<K, V> {
        let time = SourceTime::Extracted(Box::new(extractor));
        self.topic_stream(topic, keys, values, time)
    }

    /// `stream`, in processing time: each record's time is when it is read, so windows
    /// group records by arrival and no record is ever late.
    pub fn stream_in_processing_time<K: Clone + 'static, V: Clone + 'static>(
        &mut self,
        topic: &str,
        keys: impl Serde<K> + 'static,
        values: impl Serde<V> + 'static,
    ) -> Stream<K, V> {
        self.topic_stream(topic, keys, values, SourceTime::Processing)
    }

    fn topic_stream<K: Clone + 'static, V: Clone + 'static>(
        &mut self,
        topic: &str,
        keys: impl Serde<K> + 'static,
        values: impl Serde<V> + 'static,
        time: SourceTime<K, V>,
    ) -> Stream<K, V> {
        let key_serde = std::any::type_name_of_val(&keys);
        let node = Rc::new(Node::new());
        let target = node.clone();
        let context = self.context.clone();
        self.context.add_topic_source(
            topic,
            Box::new(move |incoming, now| {
                let Some(value) = incoming.value else {
                    return incoming.timestamp;
                };
                let key = keys.deserialize(incoming.key.unwrap_or_default());
                match (key, values.deserialize(value)) {
                    (Ok(key), Ok(value)) => {
                        let timestamp = match &time {
                            SourceTime::Record => incoming.timestamp,
                            SourceTime::Extracted(extractor) => {
                                extractor.extract(&key, &value, incoming.timestamp)
                            }
                            SourceTime::Processing => now,
                        };
                        target.push(Record::new(key, value, timestamp, incoming.partition));
                        timestamp
                    }
                    (Err(error), _) | (_, Err(error)) => {
                        context.fail(error);
                        incoming.timestamp
                    }
                }
            }),
        );
        Stream::from_node(node, self.context.clone())
            .with_keys(Keys::Partitioned)
            .with_key_serde(key_serde)
    }
}

impl Context {
    pub(super) fn add_topic_source(&self, topic: &str, deliver: Deliver) {
        let mut sources = self.topic_sources.borrow_mut();
        if sources.iter().any(|s| s.topic == topic) {
            self.fail(crate::StreamsError::Topology(format!(
                "topic {topic} is read by two sources"
            )));
            return;
        }
        let id = self.sources.get();
        self.sources.set(id + 1);
        sources.push(TopicSource {
            topic: topic.to_owned(),
            id,
            deliver,
        });
    }

    pub(super) fn add_internal_topic(&self, name: String, purpose: TopicPurpose) {
        self.internal_topics
            .borrow_mut()
            .push(InternalTopic { name, purpose });
    }

    fn send(&self, topic: &Rc<str>, key: Bytes, value: Bytes, timestamp: Timestamp) {
        self.outbox.borrow_mut().push(Outgoing {
            topic: topic.clone(),
            key: Some(key),
            value: Some(value),
            timestamp,
        });
    }
}

impl<K: Clone + 'static, V: Clone + 'static> Stream<K, V> {
    /// Writes every record to `topic`, keeping its event time as the record timestamp.
    pub fn to_topic(
        &self,
        topic: &str,
        keys: impl Serde<K> + 'static,
        values: impl Serde<V> + 'static,
    ) {
        let context = self.context().clone();
        let topic: Rc<str> = Rc::from(topic);
        self.subscribe(
            move |r| match (keys.serialize(&r.key), values.serialize(&r.value)) {
                (Ok(key), Ok(value)) => context.send(&topic, key, value, r.timestamp),
                (Err(error), _) | (_, Err(error)) => context.fail(error),
            },
        );
    }

    /// Sends the records through the internal topic `<application id>-<name>-repartition`,
    /// partitioned by their (new) key, and continues with the records read back from it.
    /// Run by a runner over several partitions, this is what brings every record of one key
    /// to the one task that aggregates it, after `key_by` or `map` changed the keys.
    pub fn repartition(
        &self,
        name: &str,
        keys: impl Serde<K> + Clone + 'static,
        values: impl Serde<V> + Clone + 'static,
    ) -> Stream<K, V> {
        let context = self.context().clone();
        let topic = format!("{}-{name}-repartition", context.application_id);
        context.add_internal_topic(topic.clone(), TopicPurpose::Repartition);
        self.to_topic(&topic, keys.clone(), values.clone());
        let mut builder = TopologyBuilder { context };
        builder.stream(&topic, keys, values)
    }
}
