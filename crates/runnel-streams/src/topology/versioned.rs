//! Versioned tables in the graph: each key's history read from a topic, kept in a store, and
//! the joins of a stream with it as of each record's event time.
//!
//! Store encoding, in the changelog record's key and value: the time (big-endian `i64`), then
//! the key's bytes; one byte (1 for a value, 0 for a deletion) then the value's bytes, or no
//! value once pruned. The empty key holds the table's time (big-endian `i64`), the newest
//! version time it has seen.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use bytes::{BufMut, Bytes, BytesMut};

use super::join::{require_partitioned, require_same_key_serde};
use super::stores::{state_error, Changed, Restore};
use super::stream::Stream;
use super::topics::Incoming;
use super::{Context, TopologyBuilder};
use crate::error::StreamsError;
use crate::join::{AsOf, VersionedHistory};
use crate::record::{Record, Timestamp};
use crate::serdes::Serde;

impl<K: Ord + Clone + 'static, L: Clone + 'static> Stream<K, L> {
    /// Each record with the value `table` held for its key at the record's event time; a
    /// record whose key had no value then produces nothing. A record older than the table's
    /// history is dropped and counted in `Topology::late_records_dropped`.
    pub fn join_versioned<T: Clone + 'static, O: Clone + 'static>(
        &self,
        table: &VersionedTable<K, T>,
        joiner: impl Fn(&K, &L, &T) -> O + 'static,
    ) -> Stream<K, O> {
        self.left_join_versioned(table, move |key, value, found: Option<&T>| {
            found.map(|found| joiner(key, value, found))
        })
        .flat_map(|key, joined| joined.map(|joined| (key, joined)))
        .with_keys(self.keys())
    }

    /// `join_versioned`, where a record whose key had no value at its time is joined with
    /// `None`.
    pub fn left_join_versioned<T: Clone + 'static, O: Clone + 'static>(
        &self,
        table: &VersionedTable<K, T>,
        joiner: impl Fn(&K, &L, Option<&T>) -> O + 'static,
    ) -> Stream<K, O> {
        require_partitioned(self, "a stream–table join");
        require_same_key_serde(self.context(), self.key_serde(), Some(table.key_serde));
        let (history, dropped) = (table.history.clone(), table.dropped.clone());
        let context = self.context().clone();
        self.derive(move |record, next| {
            let joined = match history.borrow().get(&record.key, record.timestamp) {
                AsOf::Value(found) => joiner(&record.key, &record.value, Some(found)),
                AsOf::Absent => joiner(&record.key, &record.value, None),
                AsOf::TooOld => {
                    dropped.set(dropped.get() + 1);
                    context
                        .late_records_dropped
                        .set(context.late_records_dropped.get() + 1);
                    return;
                }
            };
            next.push(Record::new(
                record.key,
                joined,
                record.timestamp,
                record.partition,
            ));
        })
    }
}

/// A table that keeps each key's history for a retention (`TopologyBuilder::versioned_table`),
/// for joins as of a stream record's event time.
pub struct VersionedTable<K, V> {
    history: Rc<RefCell<VersionedHistory<K, V>>>,
    dropped: Rc<Cell<u64>>,
    key_serde: &'static str,
}

impl<K, V> fmt::Debug for VersionedTable<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VersionedTable")
            .field("history", &*self.history.borrow())
            .finish_non_exhaustive()
    }
}

impl<K: Ord + Clone + 'static, V: Clone + 'static> VersionedTable<K, V> {
    /// The value `key` had at `t`: `None` if it had none then, or if `t` is older than the
    /// history kept.
    pub fn get_as_of(&self, key: &K, t: Timestamp) -> Option<V> {
        match self.history.borrow().get(key, t) {
            AsOf::Value(value) => Some(value.clone()),
            AsOf::Absent | AsOf::TooOld => None,
        }
    }

    /// Records older than this table's history: stream records its joins dropped, and
    /// table records it refused.
    pub fn late_records_dropped(&self) -> u64 {
        self.dropped.get()
    }
}

impl TopologyBuilder {
    /// The versioned table of `topic`: each record is the value of its key from its
    /// timestamp on, a record without a value (a tombstone) a deletion from then on.
    /// History is kept for `history_retention` milliseconds of event time behind the newest
    /// record's time (see `VersionedHistory`), in the state store `<topic>-versioned`; a
    /// record older than that is dropped and counted in `Topology::late_records_dropped`.
    pub fn versioned_table<K: Ord + Clone + 'static, V: Clone + 'static>(
        &mut self,
        topic: &str,
        keys: impl Serde<K> + 'static,
        values: impl Serde<V> + 'static,
        history_retention: Timestamp,
    ) -> VersionedTable<K, V> {
        let key_serde = std::any::type_name_of_val(&keys);
        let history = Rc::new(RefCell::new(VersionedHistory::new(history_retention)));
        history.borrow_mut().track_changes();
        let dropped = Rc::new(Cell::new(0));
        let (keys, values): (Rc<dyn Serde<K>>, Rc<dyn Serde<V>>) = (Rc::new(keys), Rc::new(values));
        {
            let (history, keys, values) = (history.clone(), keys.clone(), values.clone());
            let (context, dropped) = (self.context.clone(), dropped.clone());
            let counter = context.clone();
            let apply = move |incoming: Incoming<'_>| -> Result<(), StreamsError> {
                let key = keys.deserialize(incoming.key.unwrap_or_default())?;
                let value = incoming.value.map(|v| values.deserialize(v)).transpose()?;
                if !history.borrow_mut().put(key, incoming.timestamp, value) {
                    dropped.set(dropped.get() + 1);
                    counter
                        .late_records_dropped
                        .set(counter.late_records_dropped.get() + 1);
                }
                Ok(())
            };
            self.context.add_topic_source(
                topic,
                Box::new(move |incoming: Incoming<'_>, _now| {
                    if let Err(error) = apply(incoming) {
                        context.fail(error);
                    }
                    incoming.timestamp
                }),
            );
        }
        store_versioned(
            &self.context,
            &format!("{topic}-versioned"),
            history.clone(),
            keys,
            values,
        );
        VersionedTable {
            history,
            dropped,
            key_serde,
        }
    }
}

fn store_versioned<K: Ord + Clone + 'static, V: Clone + 'static>(
    context: &Context,
    name: &str,
    history: Rc<RefCell<VersionedHistory<K, V>>>,
    keys: Rc<dyn Serde<K>>,
    values: Rc<dyn Serde<V>>,
) {
    let changed = {
        let (history, keys, values) = (history.clone(), keys.clone(), values.clone());
        Box::new(move || {
            let mut history = history.borrow_mut();
            let mut changes = Vec::new();
            if let Some(time) = history.take_changed_time() {
                changes.push((
                    Bytes::new(),
                    Some(Bytes::copy_from_slice(&time.to_be_bytes())),
                ));
            }
            for (key, t, version) in history.take_changed() {
                let mut stored = BytesMut::new();
                stored.put_i64(t);
                stored.put_slice(&keys.serialize(&key)?);
                let value = match version {
                    None => None,
                    Some(version) => {
                        let mut bytes = BytesMut::new();
                        match version {
                            Some(value) => {
                                bytes.put_u8(1);
                                bytes.put_slice(&values.serialize(value)?);
                            }
                            None => bytes.put_u8(0),
                        }
                        Some(bytes.freeze())
                    }
                };
                changes.push((stored.freeze(), value));
            }
            Ok(changes)
        }) as Changed
    };
    let store = name.to_owned();
    let restore = Box::new(move |stored: &[u8], value: Option<&[u8]>| {
        if stored.is_empty() {
            let time = value
                .and_then(|v| <[u8; 8]>::try_from(v).ok())
                .ok_or_else(|| state_error(&store, "a versioned table's time of no 8 bytes"))?;
            history.borrow_mut().restore_time(i64::from_be_bytes(time));
            return Ok(());
        }
        let Some((t, key)) = stored.split_first_chunk::<8>() else {
            return Err(state_error(&store, "a versioned key without its time"));
        };
        let key = keys.deserialize(key).map_err(|e| state_error(&store, e))?;
        let version = match value {
            None => None,
            Some([1, value @ ..]) => Some(Some(
                values
                    .deserialize(value)
                    .map_err(|e| state_error(&store, e))?,
            )),
            Some([0]) => Some(None),
            Some(_) => return Err(state_error(&store, "a malformed version")),
        };
        history
            .borrow_mut()
            .restore(key, i64::from_be_bytes(*t), version);
        Ok(())
    }) as Restore;
    context.add_store(name, changed, restore);
}
