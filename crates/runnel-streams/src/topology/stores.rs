//! State stores: the state of an aggregation or a table, named, written out as changes (one
//! per key or window that changed) and read back from them. A runner keeps the changes in a
//! compacted changelog topic and a local copy, and restores a task's stores from them
//! before the task processes anything.
//!
//! Encodings, in the changelog record's key and value:
//! - a table: the key's bytes; the value's bytes, or no value once the key is gone;
//! - a windowed aggregation: window start and end (big-endian `i64`s), then the key's bytes;
//!   one byte (1 if the result has been sent downstream, else 0), then the result's bytes,
//!   or no value once the window expired.
//! - the input values a sliding-window aggregation buffers: the timestamp twice (big-endian
//!   `i64`s: an empty window, which no result has), then the key's bytes; the number of
//!   values (big-endian `u32`), then each value's length (big-endian `u32`) and bytes, or no
//!   value once forgotten.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use bytes::{BufMut, Bytes, BytesMut};

use super::table::{Table, WindowedTable};
use super::topics::{Incoming, TopicPurpose};
use super::{Context, TopologyBuilder};
use crate::error::StreamsError;
use crate::record::{Record, Timestamp};
use crate::serdes::Serde;
use crate::window::Window;

/// A change of one stored entry, for the store's changelog and local copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub store: String,
    pub key: Bytes,
    /// `None` when the entry is gone.
    pub value: Option<Bytes>,
}

/// A state store of the graph and its changelog topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInfo {
    pub name: String,
    pub changelog: String,
}

pub(super) type Changed = Box<dyn FnMut() -> Result<Vec<(Bytes, Option<Bytes>)>, StreamsError>>;
pub(super) type Restore = Box<dyn FnMut(&[u8], Option<&[u8]>) -> Result<(), StreamsError>>;

pub(super) struct StoreHandle {
    pub info: StoreInfo,
    pub changed: Changed,
    pub restore: Restore,
}

impl Context {
    pub(super) fn add_store(&self, name: &str, changed: Changed, restore: Restore) {
        let mut stores = self.stores.borrow_mut();
        if stores.iter().any(|s| s.info.name == name) {
            self.fail(StreamsError::Topology(format!(
                "two state stores are named {name}"
            )));
            return;
        }
        let changelog = format!("{}-{name}-changelog", self.application_id);
        self.add_internal_topic(changelog.clone(), TopicPurpose::Changelog);
        stores.push(StoreHandle {
            info: StoreInfo {
                name: name.to_owned(),
                changelog,
            },
            changed,
            restore,
        });
    }
}

pub(super) fn state_error(store: &str, reason: impl ToString) -> StreamsError {
    StreamsError::State {
        store: store.to_owned(),
        reason: reason.to_string(),
    }
}

/// Registers the store behind a table: its entries are the table's keys and values.
fn store_table<K: Ord + Clone + 'static, A: Clone + 'static>(
    context: &Context,
    name: &str,
    values: Rc<RefCell<BTreeMap<K, A>>>,
    changed: Rc<RefCell<Option<BTreeSet<K>>>>,
    key_serde: Rc<dyn Serde<K>>,
    value_serde: Rc<dyn Serde<A>>,
) {
    changed.borrow_mut().get_or_insert_with(BTreeSet::new);
    let take_changed = {
        let (values, key_serde, value_serde) =
            (values.clone(), key_serde.clone(), value_serde.clone());
        Box::new(move || {
            let keys = changed
                .borrow_mut()
                .as_mut()
                .map(std::mem::take)
                .unwrap_or_default();
            let values = values.borrow();
            keys.into_iter()
                .map(|key| {
                    let value = values
                        .get(&key)
                        .map(|v| value_serde.serialize(v))
                        .transpose()?;
                    Ok((key_serde.serialize(&key)?, value))
                })
                .collect()
        }) as Changed
    };
    let store = name.to_owned();
    let restore = Box::new(move |key: &[u8], value: Option<&[u8]>| {
        let key = key_serde
            .deserialize(key)
            .map_err(|e| state_error(&store, e))?;
        match value {
            Some(bytes) => {
                let value = value_serde
                    .deserialize(bytes)
                    .map_err(|e| state_error(&store, e))?;
                values.borrow_mut().insert(key, value);
            }
            None => {
                values.borrow_mut().remove(&key);
            }
        }
        Ok(())
    }) as Restore;
    context.add_store(name, take_changed, restore);
}

impl<K: Ord + Clone + 'static, A: Clone + 'static> Table<K, A> {
    /// Keeps this table in the state store `name` (changelog topic
    /// `<application id>-<name>-changelog`), so a runner can persist it and restore it.
    pub fn stored(
        self,
        name: &str,
        keys: impl Serde<K> + 'static,
        values: impl Serde<A> + 'static,
    ) -> Self {
        store_table(
            self.changes.context(),
            name,
            self.values.clone(),
            self.changed.clone(),
            Rc::new(keys),
            Rc::new(values),
        );
        self
    }
}

impl TopologyBuilder {
    /// The table of `topic`: per key, the value of its latest record; a record without a
    /// value (a tombstone) removes the key. The topic is read like a compacted topic's
    /// changelog. The table is kept in the state store `<topic>-table`; its changes stream
    /// carries the new values (removals only change the table).
    pub fn table<K: Ord + Clone + 'static, V: Clone + 'static>(
        &mut self,
        topic: &str,
        keys: impl Serde<K> + 'static,
        values: impl Serde<V> + 'static,
    ) -> Table<K, V> {
        let (keys, values): (Rc<dyn Serde<K>>, Rc<dyn Serde<V>>) = (Rc::new(keys), Rc::new(values));
        let table = Table::empty(self.context.clone());
        let changes_node = table.changes_node();
        let (map, changed, context) = (
            table.values.clone(),
            table.changed.clone(),
            self.context.clone(),
        );
        let (key_serde, value_serde) = (keys.clone(), values.clone());
        let apply = move |incoming: Incoming<'_>| {
            let key = match key_serde.deserialize(incoming.key.unwrap_or_default()) {
                Ok(key) => key,
                Err(error) => return context.fail(error),
            };
            if let Some(marks) = changed.borrow_mut().as_mut() {
                marks.insert(key.clone());
            }
            let Some(bytes) = incoming.value else {
                map.borrow_mut().remove(&key);
                return;
            };
            match value_serde.deserialize(bytes) {
                Ok(value) => {
                    map.borrow_mut().insert(key.clone(), value.clone());
                    changes_node.push(Record::new(
                        key,
                        value,
                        incoming.timestamp,
                        incoming.partition,
                    ));
                }
                Err(error) => context.fail(error),
            }
        };
        self.context.add_topic_source(
            topic,
            Box::new(move |incoming: Incoming<'_>, _now| {
                apply(incoming);
                incoming.timestamp
            }),
        );
        store_table(
            &self.context,
            &format!("{topic}-table"),
            table.values.clone(),
            table.changed.clone(),
            keys,
            values,
        );
        table
    }
}

impl<K: Ord + Clone + 'static, A: Clone + 'static> WindowedTable<K, A> {
    /// Keeps this aggregation's windows in the state store `name` (changelog topic
    /// `<application id>-<name>-changelog`). A sliding-window aggregation also keeps the
    /// input values it buffers, so it needs their serde (`WindowedGroupedStream::with_values`).
    pub fn stored(
        self,
        name: &str,
        keys: impl Serde<K> + 'static,
        values: impl Serde<A> + 'static,
    ) -> Self {
        let context = self.changes.context().clone();
        let tracking = self.operator.borrow_mut().track_changes();
        if let Err(error) = tracking {
            context.fail(error);
            return self;
        }
        let (keys, values): (Rc<dyn Serde<K>>, Rc<dyn Serde<A>>) = (Rc::new(keys), Rc::new(values));
        let take_changed = {
            let (operator, keys, values) = (self.operator.clone(), keys.clone(), values.clone());
            Box::new(move || {
                let mut operator = operator.borrow_mut();
                let mut changes = Vec::new();
                for (key, window, state) in operator.take_changed() {
                    let stored_key = windowed_key(window.start, window.end, &keys.serialize(&key)?);
                    let stored_value = match state {
                        None => None,
                        Some((value, emitted)) => {
                            let mut bytes = BytesMut::new();
                            bytes.put_u8(u8::from(emitted));
                            bytes.put_slice(&values.serialize(&value)?);
                            Some(bytes.freeze())
                        }
                    };
                    changes.push((stored_key, stored_value));
                }
                for (key, t, buffered) in operator.take_changed_buffers()? {
                    changes.push((windowed_key(t, t, &keys.serialize(&key)?), buffered));
                }
                Ok(changes)
            }) as Changed
        };
        let restore = {
            let (operator, results, store) =
                (self.operator.clone(), self.results.clone(), name.to_owned());
            Box::new(move |key: &[u8], value: Option<&[u8]>| {
                let (window, key) = match decode_window_key(key) {
                    Some(WindowedEntry::Result(window, key)) => (window, key),
                    Some(WindowedEntry::Buffer(t, key)) => {
                        let key = keys.deserialize(key).map_err(|e| state_error(&store, e))?;
                        return operator
                            .borrow_mut()
                            .restore_buffer(key, t, value)
                            .map_err(|e| state_error(&store, e));
                    }
                    None => {
                        return Err(state_error(&store, "a windowed key without a valid window"))
                    }
                };
                let key = keys.deserialize(key).map_err(|e| state_error(&store, e))?;
                let state = match value {
                    None => None,
                    Some([emitted @ (0 | 1), value @ ..]) => Some((
                        values
                            .deserialize(value)
                            .map_err(|e| state_error(&store, e))?,
                        *emitted == 1,
                    )),
                    Some(_) => {
                        return Err(state_error(
                            &store,
                            "a windowed value without its emitted flag",
                        ))
                    }
                };
                // The table holds what was sent downstream: a result not sent yet (emit-final,
                // window still open) is not in it, as it would not be without the restart.
                match &state {
                    Some((value, true)) => {
                        results
                            .borrow_mut()
                            .insert(key.clone(), window, value.clone());
                    }
                    Some((_, false)) | None => results.borrow_mut().remove(&key, window),
                }
                operator.borrow_mut().restore(key, window, state);
                Ok(())
            }) as Restore
        };
        context.add_store(name, take_changed, restore);
        self
    }
}

/// What a windowed store's key names: a window's result, or the values buffered at a time.
enum WindowedEntry<'a> {
    Result(Window, &'a [u8]),
    Buffer(Timestamp, &'a [u8]),
}

fn decode_window_key(bytes: &[u8]) -> Option<WindowedEntry<'_>> {
    let (start, rest) = bytes.split_first_chunk::<8>()?;
    let (end, key) = rest.split_first_chunk::<8>()?;
    let (start, end) = (i64::from_be_bytes(*start), i64::from_be_bytes(*end));
    match start.cmp(&end) {
        Ordering::Less => Some(WindowedEntry::Result(Window::new(start, end), key)),
        Ordering::Equal => Some(WindowedEntry::Buffer(start, key)),
        Ordering::Greater => None,
    }
}

fn windowed_key(start: Timestamp, end: Timestamp, key: &[u8]) -> Bytes {
    let mut stored = BytesMut::with_capacity(16 + key.len());
    stored.put_i64(start);
    stored.put_i64(end);
    stored.put_slice(key);
    stored.freeze()
}

/// A list of encoded values, as a sliding-window store keeps a key's values at one time.
pub(super) fn encode_values(values: &[Bytes]) -> Bytes {
    let mut encoded = BytesMut::new();
    encoded.put_u32(u32::try_from(values.len()).unwrap_or(u32::MAX));
    for value in values {
        encoded.put_u32(u32::try_from(value.len()).unwrap_or(u32::MAX));
        encoded.put_slice(value);
    }
    encoded.freeze()
}

/// The values of `encode_values`, or `None` if the bytes are not such a list.
pub(super) fn decode_values(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let (count, rest) = bytes.split_first_chunk::<4>()?;
    bytes = rest;
    let count = u32::from_be_bytes(*count);
    // Each value takes at least its 4-byte length, which bounds what a bad count allocates.
    let mut values = Vec::with_capacity(usize::try_from(count).ok()?.min(bytes.len() / 4));
    for _ in 0..count {
        let (length, rest) = bytes.split_first_chunk::<4>()?;
        let length = usize::try_from(u32::from_be_bytes(*length)).ok()?;
        let (value, rest) = (rest.get(..length)?, rest.get(length..)?);
        values.push(value);
        bytes = rest;
    }
    bytes.is_empty().then_some(values)
}
