use std::fmt;
use std::rc::Rc;

use bytes::Bytes;

use super::node::Node;
use super::table::GroupedStream;
use super::Context;
use crate::error::StreamsError;
use crate::record::Record;
use crate::serdes::Serde;

/// A test on a record's key and value, for `Stream::branch`.
pub type Predicate<K, V> = Box<dyn Fn(&K, &V) -> bool>;

/// Where a stream's records leave the graph, such as a topic.
pub trait Sink<K, V> {
    fn send(&mut self, record: Record<K, V>) -> Result<(), StreamsError>;
}

impl<K, V, F: FnMut(Record<K, V>) -> Result<(), StreamsError>> Sink<K, V> for F {
    fn send(&mut self, record: Record<K, V>) -> Result<(), StreamsError> {
        self(record)
    }
}

/// A stream of records in the graph. Operations return new streams; a stream may feed any
/// number of them, each getting every record.
pub struct Stream<K, V> {
    node: Rc<Node<K, V>>,
    context: Rc<Context>,
    pub(super) keys: Keys,
    /// The type of the serde its keys were read from a topic with, while they are still
    /// those keys: two inputs of a join must have been partitioned by keys written alike.
    key_serde: Option<&'static str>,
}

/// Whether a stream's records are still in the partitions of their keys. A graph run as one
/// task per partition may only group records that are: the tasks see a partition's records
/// each, so a key's records must all be in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keys {
    /// From an in-process source: one task sees everything, any grouping is fine.
    InProcess,
    /// Read from a topic (or a repartition topic): partitioned by the key they have.
    Partitioned,
    /// Read from a topic and given new keys since (`map`, `flat_map`, `key_by`).
    Changed,
}

impl Keys {
    fn changed(self) -> Keys {
        match self {
            Keys::InProcess => Keys::InProcess,
            Keys::Partitioned | Keys::Changed => Keys::Changed,
        }
    }

    pub(super) fn merged(self, other: Keys) -> Keys {
        match (self, other) {
            (Keys::Changed, _) | (_, Keys::Changed) => Keys::Changed,
            (Keys::Partitioned, _) | (_, Keys::Partitioned) => Keys::Partitioned,
            (Keys::InProcess, Keys::InProcess) => Keys::InProcess,
        }
    }
}

impl<K, V> Clone for Stream<K, V> {
    fn clone(&self) -> Self {
        Stream {
            node: self.node.clone(),
            context: self.context.clone(),
            keys: self.keys,
            key_serde: self.key_serde,
        }
    }
}

impl<K, V> fmt::Debug for Stream<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream").finish_non_exhaustive()
    }
}

impl<K: Clone + 'static, V: Clone + 'static> Stream<K, V> {
    pub(super) fn from_node(node: Rc<Node<K, V>>, context: Rc<Context>) -> Self {
        Stream {
            node,
            context,
            keys: Keys::InProcess,
            key_serde: None,
        }
    }

    /// The same stream, said to be partitioned as `keys`.
    pub(super) fn with_keys(mut self, keys: Keys) -> Self {
        self.keys = keys;
        if keys == Keys::Changed {
            self.key_serde = None;
        }
        self
    }

    /// The same stream, its keys said to be read with a serde of type `serde`.
    pub(super) fn with_key_serde(mut self, serde: &'static str) -> Self {
        self.key_serde = Some(serde);
        self
    }

    pub(super) fn key_serde(&self) -> Option<&'static str> {
        self.key_serde
    }

    pub(super) fn keys(&self) -> Keys {
        self.keys
    }

    pub(super) fn context(&self) -> &Rc<Context> {
        &self.context
    }

    pub(super) fn node(&self) -> &Rc<Node<K, V>> {
        &self.node
    }

    /// A new stream fed by `forward`, which gets each record of this one and the new stream's
    /// node to push results into.
    pub(super) fn derive<K2: Clone + 'static, V2: Clone + 'static>(
        &self,
        mut forward: impl FnMut(Record<K, V>, &Node<K2, V2>) + 'static,
    ) -> Stream<K2, V2> {
        let next = Rc::new(Node::new());
        let target = next.clone();
        self.node.subscribe(move |record| forward(record, &target));
        let mut derived = Stream::from_node(next, self.context.clone()).with_keys(self.keys);
        derived.key_serde = self.key_serde;
        derived
    }

    /// Subscribes a terminal step.
    pub(super) fn subscribe(&self, subscriber: impl FnMut(Record<K, V>) + 'static) {
        self.node.subscribe(subscriber);
    }

    /// New key and value for every record; event time and partition stay.
    pub fn map<K2: Clone + 'static, V2: Clone + 'static>(
        &self,
        mut f: impl FnMut(K, V) -> (K2, V2) + 'static,
    ) -> Stream<K2, V2> {
        let mapped = self.derive(move |r, next| {
            let (key, value) = f(r.key, r.value);
            next.push(Record::new(key, value, r.timestamp, r.partition));
        });
        mapped.with_keys(self.keys.changed())
    }

    pub fn map_values<V2: Clone + 'static>(
        &self,
        mut f: impl FnMut(V) -> V2 + 'static,
    ) -> Stream<K, V2> {
        self.derive(move |r, next| {
            next.push(Record::new(r.key, f(r.value), r.timestamp, r.partition));
        })
    }

    pub fn filter(&self, mut keep: impl FnMut(&K, &V) -> bool + 'static) -> Stream<K, V> {
        self.derive(move |r, next| {
            if keep(&r.key, &r.value) {
                next.push(r);
            }
        })
    }

    /// Zero or more records for each one, all with its event time and partition.
    pub fn flat_map<K2: Clone + 'static, V2: Clone + 'static, I>(
        &self,
        mut f: impl FnMut(K, V) -> I + 'static,
    ) -> Stream<K2, V2>
    where
        I: IntoIterator<Item = (K2, V2)>,
    {
        let mapped = self.derive(move |r, next| {
            for (key, value) in f(r.key, r.value) {
                next.push(Record::new(key, value, r.timestamp, r.partition));
            }
        });
        mapped.with_keys(self.keys.changed())
    }

    /// One stream per predicate; each record goes to the first whose predicate holds, or
    /// nowhere.
    pub fn branch(&self, predicates: Vec<Predicate<K, V>>) -> Vec<Stream<K, V>> {
        let branches: Vec<Rc<Node<K, V>>> =
            predicates.iter().map(|_| Rc::new(Node::new())).collect();
        let targets = branches.clone();
        self.node.subscribe(move |record| {
            if let Some(index) = predicates
                .iter()
                .position(|p| p(&record.key, &record.value))
            {
                if let Some(target) = targets.get(index) {
                    target.push(record);
                }
            }
        });
        branches
            .into_iter()
            .map(|node| Stream::from_node(node, self.context.clone()).with_keys(self.keys))
            .collect()
    }

    /// The records of both streams, in the order they arrive.
    pub fn merge(&self, other: &Stream<K, V>) -> Stream<K, V> {
        let merged = Rc::new(Node::new());
        for source in [self, other] {
            let target = merged.clone();
            source.node.subscribe(move |record| target.push(record));
        }
        Stream::from_node(merged, self.context.clone()).with_keys(self.keys.merged(other.keys))
    }

    /// A new key from each record. This only rekeys: where the graph runs as one task per
    /// input partition, follow it with `repartition` before grouping, so that each key's
    /// records meet in one task.
    pub fn key_by<K2: Clone + 'static>(
        &self,
        mut f: impl FnMut(&K, &V) -> K2 + 'static,
    ) -> Stream<K2, V> {
        let rekeyed = self.derive(move |r, next| {
            let key = f(&r.key, &r.value);
            next.push(Record::new(key, r.value, r.timestamp, r.partition));
        });
        rekeyed.with_keys(self.keys.changed())
    }

    /// A side effect per record.
    pub fn for_each(&self, mut f: impl FnMut(&Record<K, V>) + 'static) {
        self.subscribe(move |r| f(&r));
    }

    /// Sends every record to `sink`; an error is returned by the `Topology` call that pushed
    /// the record.
    pub fn to(&self, mut sink: impl Sink<K, V> + 'static) {
        let context = self.context.clone();
        self.subscribe(move |r| {
            if let Err(error) = sink.send(r) {
                context.fail(error);
            }
        });
    }

    /// Keys and values as bytes, as a topic holds them. A record that does not serialize is
    /// skipped and its error returned by the `Topology` call that pushed it.
    pub fn serialize(
        &self,
        keys: impl Serde<K> + 'static,
        values: impl Serde<V> + 'static,
    ) -> Stream<Bytes, Bytes> {
        let context = self.context.clone();
        self.derive(
            move |r, next| match (keys.serialize(&r.key), values.serialize(&r.value)) {
                (Ok(key), Ok(value)) => {
                    next.push(Record::new(key, value, r.timestamp, r.partition))
                }
                (Err(error), _) | (_, Err(error)) => context.fail(error),
            },
        )
    }

    /// The same stream, declared to be in the partitions of its current keys without a
    /// `repartition`: right when the input topics have one partition, or when the new key
    /// determines the old one's partition (as Flink's `reinterpretAsKeyedStream`). Wrong
    /// otherwise: each task would aggregate only its share of a key.
    pub fn assume_partitioned(&self) -> Stream<K, V> {
        self.clone().with_keys(match self.keys {
            Keys::InProcess => Keys::InProcess,
            Keys::Partitioned | Keys::Changed => Keys::Partitioned,
        })
    }

    /// Groups records by key, for aggregations. A stream read from a topic whose keys changed
    /// since (`map`, `flat_map`, `key_by`) must go through `repartition` first; `build`
    /// refuses the graph otherwise, since its tasks would each count a share of a key.
    pub fn group_by_key(&self) -> GroupedStream<K, V>
    where
        K: Ord,
    {
        if self.keys == Keys::Changed {
            self.context.fail(StreamsError::Topology(
                "group_by_key after keys changed on records read from a topic: \
                 `repartition` the stream first"
                    .into(),
            ));
        }
        GroupedStream::new(self.clone())
    }
}

impl Stream<Bytes, Bytes> {
    /// Keys and values decoded from bytes. A record that does not decode is skipped and its
    /// error returned by the `Topology` call that pushed it.
    pub fn deserialize<K: Clone + 'static, V: Clone + 'static>(
        &self,
        keys: impl Serde<K> + 'static,
        values: impl Serde<V> + 'static,
    ) -> Stream<K, V> {
        let context = self.context.clone();
        self.derive(
            move |r, next| match (keys.deserialize(&r.key), values.deserialize(&r.value)) {
                (Ok(key), Ok(value)) => {
                    next.push(Record::new(key, value, r.timestamp, r.partition))
                }
                (Err(error), _) | (_, Err(error)) => context.fail(error),
            },
        )
    }
}
