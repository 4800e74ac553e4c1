use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::rc::Rc;

use super::node::Node;
use super::stores::{decode_values, encode_values};
use super::stream::{Keys, Stream};
use super::Context;
use crate::aggregate::{Aggregate, Aggregator, Count, Reduce};
use crate::change::Change;
use crate::error::StreamsError;
use crate::record::{Record, Timestamp};
use crate::serdes::Serde;
use crate::window::Window;
use crate::windowed::{SavedWindow, WindowedAggregation, WindowedConfig};
use bytes::Bytes;

/// What storing a windowed aggregation needs of it, whatever its value type and aggregator.
pub(super) trait StoredWindows<K, A> {
    fn track_changes(&mut self) -> Result<(), StreamsError>;
    fn take_changed(&mut self) -> Vec<SavedWindow<K, A>>;
    fn restore(&mut self, key: K, window: Window, state: Option<(A, bool)>);
    /// Sliding windows: the buffered input values changed, encoded (see `stores.rs`).
    fn take_changed_buffers(&mut self) -> Result<Vec<SavedBuffer<K>>, StreamsError>;
    fn restore_buffer(
        &mut self,
        key: K,
        t: Timestamp,
        encoded: Option<&[u8]>,
    ) -> Result<(), StreamsError>;
}

/// A key's buffered input values at one timestamp, encoded, or `None` once forgotten.
pub(super) type SavedBuffer<K> = (K, Timestamp, Option<Bytes>);

/// A windowed aggregation and, for sliding windows, how its input values are stored.
pub(super) struct WindowedOperator<K, V, G: Aggregator<K, V>> {
    aggregation: WindowedAggregation<K, V, G>,
    values: Option<Rc<dyn Serde<V>>>,
}

impl<K: Ord + Clone, V: Clone, G: Aggregator<K, V>> StoredWindows<K, G::Output>
    for WindowedOperator<K, V, G>
{
    fn track_changes(&mut self) -> Result<(), StreamsError> {
        if self.aggregation.is_sliding() && self.values.is_none() {
            return Err(StreamsError::Topology(
                "a stored sliding-window aggregation keeps its input values: name their serde \
                 with `WindowedGroupedStream::with_values`"
                    .into(),
            ));
        }
        self.aggregation.track_changes();
        Ok(())
    }

    fn take_changed(&mut self) -> Vec<SavedWindow<K, G::Output>> {
        self.aggregation.take_changed()
    }

    fn restore(&mut self, key: K, window: Window, state: Option<(G::Output, bool)>) {
        self.aggregation.restore(key, window, state)
    }

    fn take_changed_buffers(&mut self) -> Result<Vec<SavedBuffer<K>>, StreamsError> {
        let Some(serde) = self.values.clone() else {
            return Ok(Vec::new());
        };
        self.aggregation
            .take_changed_buffers()
            .into_iter()
            .map(|(key, t, values)| {
                let encoded = values
                    .map(|values| {
                        let encoded: Result<Vec<Bytes>, _> =
                            values.iter().map(|v| serde.serialize(v)).collect();
                        encoded.map(|e| encode_values(&e))
                    })
                    .transpose()?;
                Ok((key, t, encoded))
            })
            .collect()
    }

    fn restore_buffer(
        &mut self,
        key: K,
        t: Timestamp,
        encoded: Option<&[u8]>,
    ) -> Result<(), StreamsError> {
        let serde = match &self.values {
            Some(serde) if self.aggregation.is_sliding() => serde.clone(),
            _ => {
                return Err(StreamsError::Serde(
                    "buffered values for an aggregation that keeps none".into(),
                ))
            }
        };
        let values = match encoded {
            None => None,
            Some(bytes) => {
                let parts = decode_values(bytes).ok_or_else(|| {
                    StreamsError::Serde("a malformed list of buffered values".into())
                })?;
                Some(
                    parts
                        .into_iter()
                        .map(|p| serde.deserialize(p))
                        .collect::<Result<Vec<V>, _>>()?,
                )
            }
        };
        self.aggregation.restore_buffer(key, t, values);
        Ok(())
    }
}

/// Keys whose entry changed since a store last asked; `None` while the table is not stored.
pub(super) type ChangedKeys<K> = Rc<RefCell<Option<BTreeSet<K>>>>;

/// A stream grouped by key, ready to be aggregated into a table.
pub struct GroupedStream<K, V> {
    stream: Stream<K, V>,
}

impl<K, V> fmt::Debug for GroupedStream<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupedStream").finish_non_exhaustive()
    }
}

impl<K: Ord + Clone + 'static, V: Clone + 'static> GroupedStream<K, V> {
    pub(super) fn new(stream: Stream<K, V>) -> Self {
        GroupedStream { stream }
    }

    pub fn count(&self) -> Table<K, u64> {
        self.aggregate_with(Count)
    }

    pub fn reduce(&self, combine: impl Fn(&V, &V) -> V + 'static) -> Table<K, V> {
        self.aggregate_with(Reduce::new(combine))
    }

    pub fn aggregate<A: Clone + 'static>(
        &self,
        initializer: impl Fn() -> A + 'static,
        adder: impl Fn(&K, &V, A) -> A + 'static,
    ) -> Table<K, A> {
        self.aggregate_with(Aggregate::new(initializer, adder))
    }

    /// The latest result per key, over all time.
    pub fn aggregate_with<G>(&self, aggregator: G) -> Table<K, G::Output>
    where
        G: Aggregator<K, V> + 'static,
        G::Output: 'static,
    {
        let values = Rc::new(RefCell::new(BTreeMap::new()));
        let changed: ChangedKeys<K> = Rc::new(RefCell::new(None));
        let (table_values, table_changed) = (values.clone(), changed.clone());
        let touched = Rc::new(Node::new());
        let touch = touched.clone();
        let changes = self.stream.derive(move |record: Record<K, V>, next| {
            if let Some(marks) = changed.borrow_mut().as_mut() {
                marks.insert(record.key.clone());
            }
            let current = values.borrow_mut().remove(&record.key);
            let value = aggregator.add(&record.key, &record.value, current);
            values
                .borrow_mut()
                .insert(record.key.clone(), value.clone());
            touch.push(Record::new(
                record.key.clone(),
                (),
                record.timestamp,
                record.partition,
            ));
            next.push(Record::new(
                record.key,
                value,
                record.timestamp,
                record.partition,
            ));
        });
        Table {
            values: table_values,
            changed: table_changed,
            changes,
            touched,
        }
    }

    /// Aggregation per key and window instead of per key.
    pub fn windowed_by(&self, config: WindowedConfig) -> WindowedGroupedStream<K, V> {
        WindowedGroupedStream {
            stream: self.stream.clone(),
            config,
            values: None,
        }
    }
}

/// The latest aggregate per key, and the stream of its changes (each new value).
pub struct Table<K, A> {
    pub(super) values: Rc<RefCell<BTreeMap<K, A>>>,
    pub(super) changed: ChangedKeys<K>,
    pub(super) changes: Stream<K, A>,
    /// Each key whose entry changed (set or removed), once the table holds the change.
    pub(super) touched: Rc<Node<K, ()>>,
}

impl<K, A> fmt::Debug for Table<K, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table").finish_non_exhaustive()
    }
}

impl<K: Ord + Clone + 'static, A: Clone + 'static> Table<K, A> {
    /// A table fed from outside the graph (a topic), with no entries yet.
    pub(super) fn empty(context: Rc<Context>) -> Self {
        Table {
            values: Rc::new(RefCell::new(BTreeMap::new())),
            changed: Rc::new(RefCell::new(None)),
            changes: Stream::from_node(Rc::new(Node::new()), context).with_keys(Keys::Partitioned),
            touched: Rc::new(Node::new()),
        }
    }

    pub(super) fn changes_node(&self) -> Rc<Node<K, A>> {
        self.changes.node().clone()
    }

    pub fn get(&self, key: &K) -> Option<A> {
        self.values.borrow().get(key).cloned()
    }

    pub fn changes(&self) -> Stream<K, A> {
        self.changes.clone()
    }
}

/// A grouped stream with windows chosen, ready to be aggregated.
pub struct WindowedGroupedStream<K, V> {
    stream: Stream<K, V>,
    config: WindowedConfig,
    values: Option<Rc<dyn Serde<V>>>,
}

impl<K, V> fmt::Debug for WindowedGroupedStream<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowedGroupedStream")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<K: Ord + Clone + 'static, V: Clone + 'static> WindowedGroupedStream<K, V> {
    /// The serde of the input values. A sliding-window aggregation recomputes its windows from
    /// the values it buffers, so storing one (`WindowedTable::stored`) needs it.
    pub fn with_values(mut self, values: impl Serde<V> + 'static) -> Self {
        self.values = Some(Rc::new(values));
        self
    }

    pub fn count(&self) -> Result<WindowedTable<K, u64>, StreamsError> {
        self.aggregate_with(Count)
    }

    pub fn reduce(
        &self,
        combine: impl Fn(&V, &V) -> V + 'static,
    ) -> Result<WindowedTable<K, V>, StreamsError> {
        self.aggregate_with(Reduce::new(combine))
    }

    /// Session windows also need a merger: use `aggregate_with` and `Aggregate::with_merger`.
    pub fn aggregate<A: Clone + 'static>(
        &self,
        initializer: impl Fn() -> A + 'static,
        adder: impl Fn(&K, &V, A) -> A + 'static,
    ) -> Result<WindowedTable<K, A>, StreamsError> {
        self.aggregate_with(Aggregate::new(initializer, adder))
    }

    pub fn aggregate_with<G>(
        &self,
        aggregator: G,
    ) -> Result<WindowedTable<K, G::Output>, StreamsError>
    where
        G: Aggregator<K, V> + 'static,
        G::Output: 'static,
    {
        let operator = Rc::new(RefCell::new(WindowedOperator {
            aggregation: WindowedAggregation::new(self.config, aggregator)?,
            values: self.values.clone(),
        }));
        let results = Rc::new(RefCell::new(QueryResults::default()));
        let retention = Rc::new(Cell::new(DEFAULT_QUERY_RETENTION));
        let dropped = Rc::new(Cell::new(0));
        let context = self.stream.context().clone();
        let changes_node = Rc::new(Node::new());
        let publish = {
            let results = results.clone();
            let node = changes_node.clone();
            move |out: Vec<Change<K, G::Output>>| {
                for change in out {
                    results.borrow_mut().apply(&change);
                    let window = change.window();
                    let key = change.key().clone();
                    // The last millisecond the result covers is its event time downstream.
                    node.push(Record::new(key, change, window.end.saturating_sub(1), 0));
                }
            }
        };
        let publish = Rc::new(publish);
        {
            let operator = operator.clone();
            let dropped = dropped.clone();
            let publish = publish.clone();
            self.stream.subscribe(move |record| {
                let mut out = Vec::new();
                let mut guard = operator.borrow_mut();
                let op = &mut guard.aggregation;
                op.process(&record, &mut out);
                let newly_dropped = op.late_records_dropped() - dropped.get();
                context
                    .late_records_dropped
                    .set(context.late_records_dropped.get() + newly_dropped);
                dropped.set(op.late_records_dropped());
                drop(guard);
                publish(out);
            });
        }
        {
            let (operator, results, retention) =
                (operator.clone(), results.clone(), retention.clone());
            self.stream
                .context()
                .watermark_listeners
                .borrow_mut()
                .push(Box::new(move |watermark| {
                    let mut out = Vec::new();
                    let mut op = operator.borrow_mut();
                    op.aggregation.advance_watermark(watermark, &mut out);
                    // At the end of input every window expires; the table keeps them then,
                    // for whoever reads the results of a finished run.
                    if watermark < Timestamp::MAX {
                        let up_to = op.aggregation.expired_up_to();
                        results
                            .borrow_mut()
                            .expire(up_to.saturating_sub(retention.get()));
                    }
                    drop(op);
                    publish(out);
                }));
        }
        Ok(WindowedTable {
            operator,
            results,
            retention,
            dropped,
            changes: Stream::from_node(changes_node, self.stream.context().clone()),
        })
    }
}

/// How long a `WindowedTable` keeps a window that can no longer change: one day.
const DEFAULT_QUERY_RETENTION: Timestamp = 24 * 60 * 60 * 1_000;

/// The results a `WindowedTable` answers with, ordered by window end so that expired windows
/// are dropped from the front.
pub(super) struct QueryResults<K, A> {
    by_end: BTreeMap<(Timestamp, Timestamp), BTreeMap<K, A>>,
}

impl<K, A> Default for QueryResults<K, A> {
    fn default() -> Self {
        QueryResults {
            by_end: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone, A: Clone> QueryResults<K, A> {
    pub fn insert(&mut self, key: K, window: Window, value: A) {
        self.by_end
            .entry((window.end, window.start))
            .or_default()
            .insert(key, value);
    }

    pub fn remove(&mut self, key: &K, window: Window) {
        if let Some(results) = self.by_end.get_mut(&(window.end, window.start)) {
            results.remove(key);
            if results.is_empty() {
                self.by_end.remove(&(window.end, window.start));
            }
        }
    }

    fn get(&self, key: &K, window: Window) -> Option<&A> {
        self.by_end.get(&(window.end, window.start))?.get(key)
    }

    fn apply(&mut self, change: &Change<K, A>) {
        match change {
            Change::Update { key, window, value } | Change::Final { key, window, value } => {
                self.insert(key.clone(), *window, value.clone());
            }
            Change::Retract { key, window, .. } => self.remove(key, *window),
        }
    }

    /// Drops the windows ending at or before `up_to`.
    fn expire(&mut self, up_to: Timestamp) {
        self.by_end = match up_to.checked_add(1) {
            Some(first_kept) => self.by_end.split_off(&(first_kept, Timestamp::MIN)),
            None => BTreeMap::new(),
        };
    }
}

/// The current result per key and window (retractions applied), and the changelog that
/// produced them. A window stays in the table for a retention (`retained_for`, by default
/// one day of event time, as in Kafka Streams' window stores) after it can no longer change;
/// once the input ended (`Topology::finish`), the table keeps every window it holds.
pub struct WindowedTable<K, A> {
    pub(super) operator: Rc<RefCell<dyn StoredWindows<K, A>>>,
    pub(super) results: Rc<RefCell<QueryResults<K, A>>>,
    retention: Rc<Cell<Timestamp>>,
    dropped: Rc<Cell<u64>>,
    pub(super) changes: Stream<K, Change<K, A>>,
}

impl<K, A> fmt::Debug for WindowedTable<K, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowedTable")
            .field("late_records_dropped", &self.dropped.get())
            .finish_non_exhaustive()
    }
}

impl<K: Ord + Clone + 'static, A: Clone + 'static> WindowedTable<K, A> {
    /// Keeps each window queryable for `retention` milliseconds of event time after it can
    /// no longer change (it closed, and a correcting late policy's retention passed).
    pub fn retained_for(self, retention: Timestamp) -> Self {
        self.retention.set(retention.max(0));
        self
    }

    pub fn get(&self, key: &K, window: Window) -> Option<A> {
        self.results.borrow().get(key, window).cloned()
    }

    /// Every result, ordered by key and window.
    pub fn snapshot(&self) -> Vec<(K, Window, A)> {
        let mut all: Vec<(K, Window, A)> = self
            .results
            .borrow()
            .by_end
            .iter()
            .flat_map(|(&(end, start), results)| {
                results
                    .iter()
                    .map(move |(k, a)| (k.clone(), Window::new(start, end), a.clone()))
            })
            .collect();
        all.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        all
    }

    pub fn changes(&self) -> Stream<K, Change<K, A>> {
        self.changes.clone()
    }

    /// The `Final` changes only, as `(window, result)` per key: each window's result once it
    /// closes (emit-final mode), and each correction of it after (`LatePolicy::Correct`).
    pub fn finals(&self) -> Stream<K, (Window, A)> {
        self.changes.flat_map(|key, change| match change {
            Change::Final { window, value, .. } => Some((key, (window, value))),
            Change::Update { .. } | Change::Retract { .. } => None,
        })
    }

    /// The metric of records dropped as too late.
    pub fn late_records_dropped(&self) -> u64 {
        self.dropped.get()
    }
}
