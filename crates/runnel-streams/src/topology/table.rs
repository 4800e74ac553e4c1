use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::rc::Rc;

use super::node::Node;
use super::stream::Stream;
use super::Context;
use crate::aggregate::{Aggregate, Aggregator, Count, Reduce};
use crate::change::Change;
use crate::error::StreamsError;
use crate::record::Record;
use crate::window::Window;
use crate::windowed::{SavedWindow, WindowedAggregation, WindowedConfig};

/// What storing a windowed aggregation needs of it, whatever its value type and aggregator.
pub(super) trait StoredWindows<K, A> {
    fn track_changes(&mut self) -> Result<(), StreamsError>;
    fn take_changed(&mut self) -> Vec<SavedWindow<K, A>>;
    fn restore(&mut self, key: K, window: Window, state: Option<(A, bool)>);
}

impl<K: Ord + Clone, V: Clone, G: Aggregator<K, V>> StoredWindows<K, G::Output>
    for WindowedAggregation<K, V, G>
{
    fn track_changes(&mut self) -> Result<(), StreamsError> {
        WindowedAggregation::track_changes(self)
    }

    fn take_changed(&mut self) -> Vec<(K, Window, Option<(G::Output, bool)>)> {
        WindowedAggregation::take_changed(self)
    }

    fn restore(&mut self, key: K, window: Window, state: Option<(G::Output, bool)>) {
        WindowedAggregation::restore(self, key, window, state)
    }
}

/// Keys whose entry changed since a store last asked; `None` while the table is not stored.
type ChangedKeys<K> = Rc<RefCell<Option<BTreeSet<K>>>>;

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
        let changes = self.stream.derive(move |record: Record<K, V>, next| {
            if let Some(marks) = changed.borrow_mut().as_mut() {
                marks.insert(record.key.clone());
            }
            let current = values.borrow_mut().remove(&record.key);
            let value = aggregator.add(&record.key, &record.value, current);
            values
                .borrow_mut()
                .insert(record.key.clone(), value.clone());
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
        }
    }

    /// Aggregation per key and window instead of per key.
    pub fn windowed_by(&self, config: WindowedConfig) -> WindowedGroupedStream<K, V> {
        WindowedGroupedStream {
            stream: self.stream.clone(),
            config,
        }
    }
}

/// The latest aggregate per key, and the stream of its changes (each new value).
pub struct Table<K, A> {
    pub(super) values: Rc<RefCell<BTreeMap<K, A>>>,
    pub(super) changed: ChangedKeys<K>,
    pub(super) changes: Stream<K, A>,
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
            changes: Stream::from_node(Rc::new(Node::new()), context),
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
}

impl<K, V> fmt::Debug for WindowedGroupedStream<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowedGroupedStream")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<K: Ord + Clone + 'static, V: Clone + 'static> WindowedGroupedStream<K, V> {
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
        let operator = Rc::new(RefCell::new(WindowedAggregation::new(
            self.config,
            aggregator,
        )?));
        let results = Rc::new(RefCell::new(BTreeMap::new()));
        let dropped = Rc::new(Cell::new(0));
        let context = self.stream.context().clone();
        let changes_node = Rc::new(Node::new());
        let publish = {
            let results = results.clone();
            let node = changes_node.clone();
            move |out: Vec<Change<K, G::Output>>| {
                for change in out {
                    apply(&mut results.borrow_mut(), &change);
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
                let mut op = operator.borrow_mut();
                op.process(&record, &mut out);
                let newly_dropped = op.late_records_dropped() - dropped.get();
                context
                    .late_records_dropped
                    .set(context.late_records_dropped.get() + newly_dropped);
                dropped.set(op.late_records_dropped());
                drop(op);
                publish(out);
            });
        }
        {
            let operator = operator.clone();
            self.stream
                .context()
                .watermark_listeners
                .borrow_mut()
                .push(Box::new(move |watermark| {
                    let mut out = Vec::new();
                    operator.borrow_mut().advance_watermark(watermark, &mut out);
                    publish(out);
                }));
        }
        Ok(WindowedTable {
            operator,
            results,
            dropped,
            changes: Stream::from_node(changes_node, self.stream.context().clone()),
        })
    }
}

fn apply<K: Ord + Clone, A: Clone>(results: &mut BTreeMap<(K, Window), A>, change: &Change<K, A>) {
    match change {
        Change::Update { key, window, value } | Change::Final { key, window, value } => {
            results.insert((key.clone(), *window), value.clone());
        }
        Change::Retract { key, window, .. } => {
            results.remove(&(key.clone(), *window));
        }
    }
}

/// The current result per key and window (every window seen, retractions applied), and the
/// changelog that produced it.
pub struct WindowedTable<K, A> {
    pub(super) operator: Rc<RefCell<dyn StoredWindows<K, A>>>,
    pub(super) results: Rc<RefCell<BTreeMap<(K, Window), A>>>,
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
    pub fn get(&self, key: &K, window: Window) -> Option<A> {
        self.results.borrow().get(&(key.clone(), window)).cloned()
    }

    /// Every result, ordered by key and window.
    pub fn snapshot(&self) -> Vec<(K, Window, A)> {
        self.results
            .borrow()
            .iter()
            .map(|((k, w), a)| (k.clone(), *w, a.clone()))
            .collect()
    }

    pub fn changes(&self) -> Stream<K, Change<K, A>> {
        self.changes.clone()
    }

    /// The metric of records dropped as too late.
    pub fn late_records_dropped(&self) -> u64 {
        self.dropped.get()
    }
}
