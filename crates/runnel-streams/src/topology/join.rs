//! Joins in the graph: a stream with another stream within a time window, and a stream with
//! a table's latest values (versioned tables are in `versioned.rs`). The operators are in
//! `crate::join`; this wires them to their inputs, the watermark and their state stores.
//!
//! Store encoding of a stream–stream join, in the changelog record's key and value: one byte for the side (0 left, 1 right), the time (big-endian
//!   `i64`), then the key's bytes; the list of the records held for that key and time
//!   (`encode_values`), each one byte (1 if it has matched) then the value's bytes, or no
//!   value once the window closed.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use bytes::{BufMut, Bytes, BytesMut};

use super::node::Node;
use super::stores::{decode_values, encode_values, state_error, Changed, Restore};
use super::stream::{Keys, Stream};
use super::table::Table;
use super::Context;
use crate::error::StreamsError;
use crate::join::{Buffered, Delta, JoinKind, JoinWindows, Joined, Unmatched, WindowedJoin};
use crate::record::{Record, Timestamp};
use crate::serdes::Serde;

/// Refuses to join a stream whose records are no longer in the partitions of their keys:
/// run as one task per partition, each task would see only some of a key's records.
pub(super) fn require_partitioned<K, V>(stream: &Stream<K, V>, what: &str)
where
    K: Clone + 'static,
    V: Clone + 'static,
{
    if stream.keys() == Keys::Changed {
        stream.context().fail(StreamsError::Topology(format!(
            "{what} after keys changed on records read from a topic: \
             `repartition` the stream first"
        )));
    }
}

/// Refuses to join inputs whose keys were read with serdes of different types: the same key
/// written by each would be different bytes, hashed to different partitions.
pub(super) fn require_same_key_serde(context: &Context, left: Option<&str>, right: Option<&str>) {
    if let (Some(left), Some(right)) = (left, right) {
        if left != right {
            context.fail(StreamsError::Topology(format!(
                "the two inputs of a join read their keys with different serdes ({left} and                  {right}), so they are not partitioned alike: `repartition` one side with the                  other's key serde"
            )));
        }
    }
}

/// The serdes a stored stream–stream join writes its held records with.
struct JoinSerdes<K, L, R> {
    keys: Rc<dyn Serde<K>>,
    lefts: Rc<dyn Serde<L>>,
    rights: Rc<dyn Serde<R>>,
}

/// A stream–stream join being set up: `stored` names its state store, `unmatched` chooses
/// when padded results are sent, and `inner`, `left` or `outer` make the joined stream.
pub struct StreamJoin<K, L, R> {
    left: Stream<K, L>,
    right: Stream<K, R>,
    windows: JoinWindows,
    unmatched: Unmatched,
    store: Option<(String, JoinSerdes<K, L, R>)>,
}

impl<K, L, R> fmt::Debug for StreamJoin<K, L, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamJoin")
            .field("windows", &self.windows)
            .field("unmatched", &self.unmatched)
            .finish_non_exhaustive()
    }
}

impl<K: Ord + Clone + 'static, L: Clone + 'static> Stream<K, L> {
    /// Pairs this stream's records with those of `other` of the same key within `windows`
    /// (see `JoinWindows`). Unmatched records of a left or outer join are sent when their
    /// window closes, unless `StreamJoin::unmatched` says otherwise.
    pub fn join<R: Clone + 'static>(
        &self,
        other: &Stream<K, R>,
        windows: JoinWindows,
    ) -> StreamJoin<K, L, R> {
        require_partitioned(self, "a stream–stream join");
        require_partitioned(other, "a stream–stream join");
        require_same_key_serde(self.context(), self.key_serde(), other.key_serde());
        StreamJoin {
            left: self.clone(),
            right: other.clone(),
            windows,
            unmatched: Unmatched::WhenWindowCloses,
            store: None,
        }
    }

    /// Each record with the value `table` holds for its key when the record is processed;
    /// a record whose key is not in the table produces nothing. Only the stream's records
    /// produce results: a table change joins with no record that came before it.
    pub fn join_table<T: Clone + 'static, O: Clone + 'static>(
        &self,
        table: &Table<K, T>,
        joiner: impl Fn(&K, &L, &T) -> O + 'static,
    ) -> Stream<K, O> {
        self.left_join_table(table, move |key, value, found: Option<&T>| {
            found.map(|found| joiner(key, value, found))
        })
        .flat_map(|key, joined| joined.map(|joined| (key, joined)))
        .with_keys(self.keys())
    }

    /// `join_table`, where a record whose key is not in the table is joined with `None`.
    pub fn left_join_table<T: Clone + 'static, O: Clone + 'static>(
        &self,
        table: &Table<K, T>,
        joiner: impl Fn(&K, &L, Option<&T>) -> O + 'static,
    ) -> Stream<K, O> {
        require_partitioned(self, "a stream–table join");
        require_same_key_serde(self.context(), self.key_serde(), table.changes.key_serde());
        let values = table.values.clone();
        self.derive(move |record, next| {
            let joined = joiner(&record.key, &record.value, values.borrow().get(&record.key));
            next.push(Record::new(
                record.key,
                joined,
                record.timestamp,
                record.partition,
            ));
        })
    }
}

impl<K: Ord + Clone + 'static, L: Clone + 'static, R: Clone + 'static> StreamJoin<K, L, R> {
    /// Keeps the records the join holds in the state store `name` (changelog topic
    /// `<application id>-<name>-changelog`), so a runner can persist and restore them.
    pub fn stored(
        mut self,
        name: &str,
        keys: impl Serde<K> + 'static,
        lefts: impl Serde<L> + 'static,
        rights: impl Serde<R> + 'static,
    ) -> Self {
        let serdes = JoinSerdes {
            keys: Rc::new(keys),
            lefts: Rc::new(lefts),
            rights: Rc::new(rights),
        };
        self.store = Some((name.to_owned(), serdes));
        self
    }

    /// When a left or outer join sends the records that matched nothing.
    pub fn unmatched(mut self, unmatched: Unmatched) -> Self {
        self.unmatched = unmatched;
        self
    }

    /// The pairs only, at the later of the two records' times. They are never retracted.
    pub fn inner<O: Clone + 'static>(
        self,
        joiner: impl Fn(&K, &L, &R) -> O + 'static,
    ) -> Stream<K, O> {
        let keys = self.left.keys();
        self.run(JoinKind::Inner, move |key, pair| match pair {
            (Some(left), Some(right)) => Some(joiner(key, left, right)),
            _ => None,
        })
        .flat_map(|key, delta| match delta {
            Delta::Add(joined) => Some((key, joined)),
            Delta::Retract(_) => None,
        })
        .with_keys(keys)
    }

    /// The pairs, and each left record that matched nothing, joined with `None` at its own
    /// time.
    pub fn left<O: Clone + 'static>(
        self,
        joiner: impl Fn(&K, &L, Option<&R>) -> O + 'static,
    ) -> Stream<K, Delta<O>> {
        self.run(JoinKind::Left, move |key, pair| match pair {
            (Some(left), right) => Some(joiner(key, left, right)),
            (None, _) => None,
        })
    }

    /// The pairs, and each record of either side that matched nothing, joined with `None` on
    /// the other side at its own time.
    pub fn outer<O: Clone + 'static>(
        self,
        joiner: impl Fn(&K, Option<&L>, Option<&R>) -> O + 'static,
    ) -> Stream<K, Delta<O>> {
        self.run(JoinKind::Outer, move |key, (left, right)| {
            Some(joiner(key, left, right))
        })
    }

    fn run<O: Clone + 'static>(
        self,
        kind: JoinKind,
        joiner: impl Fn(&K, (Option<&L>, Option<&R>)) -> Option<O> + 'static,
    ) -> Stream<K, Delta<O>> {
        let context = self.left.context().clone();
        let operator = Rc::new(RefCell::new(WindowedJoin::<K, L, R>::new(
            self.windows,
            kind,
            self.unmatched,
        )));
        let next = Rc::new(Node::new());
        let publish = {
            let next = next.clone();
            Rc::new(move |out: Vec<Joined<K, L, R>>| {
                for joined in out {
                    let key = joined.key;
                    let (left, right) = joined.delta.value();
                    if let Some(result) = joiner(&key, (left.as_ref(), right.as_ref())) {
                        let delta = match joined.delta {
                            Delta::Add(_) => Delta::Add(result),
                            Delta::Retract(_) => Delta::Retract(result),
                        };
                        next.push(Record::new(key, delta, joined.timestamp, 0));
                    }
                }
            })
        };
        let dropped = Rc::new(Cell::new(0));
        let count_dropped = {
            let (context, dropped) = (context.clone(), dropped.clone());
            move |now_dropped: u64| {
                let newly = now_dropped - dropped.get();
                dropped.set(now_dropped);
                context
                    .late_records_dropped
                    .set(context.late_records_dropped.get() + newly);
            }
        };
        let count_dropped = Rc::new(count_dropped);
        {
            let (operator, publish, count) =
                (operator.clone(), publish.clone(), count_dropped.clone());
            self.left.subscribe(move |record| {
                let mut out = Vec::new();
                let mut op = operator.borrow_mut();
                op.process_left(record.key, record.value, record.timestamp, &mut out);
                count(op.late_records_dropped());
                drop(op);
                publish(out);
            });
        }
        {
            let (operator, publish, count) = (operator.clone(), publish.clone(), count_dropped);
            self.right.subscribe(move |record| {
                let mut out = Vec::new();
                let mut op = operator.borrow_mut();
                op.process_right(record.key, record.value, record.timestamp, &mut out);
                count(op.late_records_dropped());
                drop(op);
                publish(out);
            });
        }
        {
            let operator = operator.clone();
            context
                .watermark_listeners
                .borrow_mut()
                .push(Box::new(move |watermark| {
                    let mut out = Vec::new();
                    operator.borrow_mut().advance_watermark(watermark, &mut out);
                    publish(out);
                }));
        }
        if let Some((name, serdes)) = self.store {
            store_join(&context, &name, operator, serdes);
        }
        let keys = self.left.keys().merged(self.right.keys());
        Stream::from_node(next, context).with_keys(keys)
    }
}

const LEFT: u8 = 0;
const RIGHT: u8 = 1;

fn join_key(side: u8, t: Timestamp, key: &[u8]) -> Bytes {
    let mut stored = BytesMut::with_capacity(9 + key.len());
    stored.put_u8(side);
    stored.put_i64(t);
    stored.put_slice(key);
    stored.freeze()
}

fn encode_held<V>(records: &[Buffered<V>], serde: &dyn Serde<V>) -> Result<Bytes, StreamsError> {
    let encoded = records
        .iter()
        .map(|record| {
            let mut bytes = BytesMut::new();
            bytes.put_u8(u8::from(record.matched));
            bytes.put_slice(&serde.serialize(&record.value)?);
            Ok(bytes.freeze())
        })
        .collect::<Result<Vec<Bytes>, StreamsError>>()?;
    Ok(encode_values(&encoded))
}

fn decode_held<V>(bytes: &[u8], serde: &dyn Serde<V>) -> Result<Vec<Buffered<V>>, StreamsError> {
    let parts = decode_values(bytes)
        .ok_or_else(|| StreamsError::Serde("a malformed list of held records".into()))?;
    parts
        .into_iter()
        .map(|part| match part {
            [matched @ (0 | 1), value @ ..] => Ok(Buffered {
                value: serde.deserialize(value)?,
                matched: *matched == 1,
            }),
            _ => Err(StreamsError::Serde(
                "a held record without its matched flag".into(),
            )),
        })
        .collect()
}

/// Registers the store of a stream–stream join: the records it holds, per side, key and time.
fn store_join<K: Ord + Clone + 'static, L: Clone + 'static, R: Clone + 'static>(
    context: &Context,
    name: &str,
    operator: Rc<RefCell<WindowedJoin<K, L, R>>>,
    serdes: JoinSerdes<K, L, R>,
) {
    operator.borrow_mut().track_changes();
    let serdes = Rc::new(serdes);
    let changed = {
        let (operator, serdes) = (operator.clone(), serdes.clone());
        Box::new(move || {
            let mut op = operator.borrow_mut();
            let mut changes = Vec::new();
            for (key, t, held) in op.take_changed_left() {
                let value = held
                    .map(|held| encode_held(held, serdes.lefts.as_ref()))
                    .transpose()?;
                changes.push((join_key(LEFT, t, &serdes.keys.serialize(&key)?), value));
            }
            for (key, t, held) in op.take_changed_right() {
                let value = held
                    .map(|held| encode_held(held, serdes.rights.as_ref()))
                    .transpose()?;
                changes.push((join_key(RIGHT, t, &serdes.keys.serialize(&key)?), value));
            }
            Ok(changes)
        }) as Changed
    };
    let store = name.to_owned();
    let restore = Box::new(move |stored: &[u8], value: Option<&[u8]>| {
        let Some((&side, rest)) = stored.split_first() else {
            return Err(state_error(&store, "an empty join key"));
        };
        let Some((t, key)) = rest.split_first_chunk::<8>() else {
            return Err(state_error(&store, "a join key without its time"));
        };
        let t = i64::from_be_bytes(*t);
        let key = serdes
            .keys
            .deserialize(key)
            .map_err(|e| state_error(&store, e))?;
        let mut op = operator.borrow_mut();
        match side {
            LEFT => {
                let held = value
                    .map(|v| decode_held(v, serdes.lefts.as_ref()))
                    .transpose()
                    .map_err(|e| state_error(&store, e))?;
                op.restore_left(key, t, held);
            }
            RIGHT => {
                let held = value
                    .map(|v| decode_held(v, serdes.rights.as_ref()))
                    .transpose()
                    .map_err(|e| state_error(&store, e))?;
                op.restore_right(key, t, held);
            }
            _ => return Err(state_error(&store, "a join key of no side")),
        }
        Ok(())
    }) as Restore;
    context.add_store(name, changed, restore);
}
