//! Global tables: the whole of a topic's table in every task, whatever partitions the task
//! reads, so a stream joins it through a key taken from each record, with no
//! co-partitioning. A runner loads every partition of the topic before processing starts
//! and keeps the table current (`Topology::global_topics`, `Topology::push_global`); the
//! topic itself is the table's changelog, so it has no store.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use super::node::Node;
use super::stream::Stream;
use super::topics::Incoming;
use super::{Topology, TopologyBuilder};
use crate::error::StreamsError;
use crate::record::Record;
use crate::serdes::Serde;

type Apply = Box<dyn FnMut(Incoming<'_>) -> Result<(), StreamsError>>;

/// A topic read whole into a global table.
pub(super) struct GlobalSource {
    topic: String,
    apply: Apply,
}

/// Per key, the value of the latest record of a topic (all its partitions); a tombstone
/// removes the key.
pub struct GlobalTable<K, V> {
    pub(super) values: Rc<RefCell<BTreeMap<K, V>>>,
    /// Each key whose entry changed, once the table holds the change.
    pub(super) touched: Rc<Node<K, ()>>,
}

impl<K, V> fmt::Debug for GlobalTable<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlobalTable")
            .field("keys", &self.values.borrow().len())
            .finish()
    }
}

impl<K: Ord + Clone + 'static, V: Clone> GlobalTable<K, V> {
    pub fn get(&self, key: &K) -> Option<V> {
        self.values.borrow().get(key).cloned()
    }
}

impl TopologyBuilder {
    /// The global table of `topic`: every partition of it, in every task. Records come in
    /// through `Topology::push_global`, not as the graph's input: they move no watermark and
    /// produce nothing by themselves.
    pub fn global_table<K: Ord + Clone + 'static, V: Clone + 'static>(
        &mut self,
        topic: &str,
        keys: impl Serde<K> + 'static,
        values: impl Serde<V> + 'static,
    ) -> GlobalTable<K, V> {
        let table = GlobalTable {
            values: Rc::default(),
            touched: Rc::new(Node::new()),
        };
        let (map, touched) = (table.values.clone(), table.touched.clone());
        let apply = Box::new(move |incoming: Incoming<'_>| {
            let key = keys.deserialize(incoming.key.unwrap_or_default())?;
            match incoming.value {
                Some(bytes) => {
                    map.borrow_mut()
                        .insert(key.clone(), values.deserialize(bytes)?);
                }
                None => {
                    map.borrow_mut().remove(&key);
                }
            }
            touched.push(Record::new(key, (), incoming.timestamp, incoming.partition));
            Ok(())
        });
        let mut sources = self.context.global_sources.borrow_mut();
        if sources.iter().any(|s| s.topic == topic) {
            self.context.fail(StreamsError::Topology(format!(
                "topic {topic} is read by two global tables"
            )));
        } else {
            sources.push(GlobalSource {
                topic: topic.to_owned(),
                apply,
            });
        }
        table
    }
}

impl Topology {
    /// The topics of the global tables, which a runner reads whole into every task.
    pub fn global_topics(&self) -> Vec<String> {
        let sources = self.context.global_sources.borrow();
        sources.iter().map(|s| s.topic.clone()).collect()
    }

    /// Applies one record of a global table's topic (any partition).
    pub fn push_global(&mut self, topic: &str, incoming: Incoming<'_>) -> Result<(), StreamsError> {
        let mut sources = self.context.global_sources.borrow_mut();
        let source = sources
            .iter_mut()
            .find(|s| s.topic == topic)
            .ok_or_else(|| StreamsError::Topology(format!("no global table reads {topic}")))?;
        (source.apply)(incoming)
    }
}

impl<K: Clone + 'static, V: Clone + 'static> Stream<K, V> {
    /// Each record with the value `table` holds for the key `key_of` takes from the record;
    /// a record whose key is not in the table produces nothing. The stream keeps its keys
    /// and partitions: a global table needs no co-partitioning.
    pub fn join_global<G: Ord + 'static, T: Clone + 'static, O: Clone + 'static>(
        &self,
        table: &GlobalTable<G, T>,
        key_of: impl Fn(&K, &V) -> G + 'static,
        joiner: impl Fn(&K, &V, &T) -> O + 'static,
    ) -> Stream<K, O> {
        self.left_join_global(table, key_of, move |key, value, found: Option<&T>| {
            found.map(|found| joiner(key, value, found))
        })
        .flat_map(|key, joined| joined.map(|joined| (key, joined)))
        .with_keys(self.keys())
    }

    /// `join_global`, where a record whose key is not in the table is joined with `None`.
    pub fn left_join_global<G: Ord + 'static, T: Clone + 'static, O: Clone + 'static>(
        &self,
        table: &GlobalTable<G, T>,
        key_of: impl Fn(&K, &V) -> G + 'static,
        joiner: impl Fn(&K, &V, Option<&T>) -> O + 'static,
    ) -> Stream<K, O> {
        let values = table.values.clone();
        self.derive(move |record: Record<K, V>, next| {
            let lookup = key_of(&record.key, &record.value);
            let joined = joiner(&record.key, &record.value, values.borrow().get(&lookup));
            next.push(Record::new(
                record.key,
                joined,
                record.timestamp,
                record.partition,
            ));
        })
    }
}
