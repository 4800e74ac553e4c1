//! An in-process dataflow over the event-time engine: sources, stateless operations,
//! grouping into tables, and sinks. Records are pushed through the graph one at a time on the
//! caller's thread; after each record the job watermark is recomputed and handed to every
//! windowed aggregation.

mod cep;
mod global;
mod join;
mod node;
mod search;
mod stores;
mod stream;
mod table;
mod table_join;
mod topics;
mod versioned;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use crate::error::StreamsError;
use crate::record::{Record, Timestamp};
use crate::skew::TimestampExtractor;
use crate::watermark::WatermarkTracker;
pub use cep::PatternStream;
pub use global::GlobalTable;
pub use join::StreamJoin;
use node::Node;
pub use search::StandingQueries;
pub use stores::{StateChange, StoreInfo};
pub use stream::{Predicate, Sink, Stream};
pub use table::{GroupedStream, Table, WindowedGroupedStream, WindowedTable};
pub use table_join::JoinedTable;
pub use topics::{Incoming, InternalTopic, Outgoing, TopicPurpose};
pub use versioned::VersionedTable;

type WatermarkListener = Box<dyn FnMut(Timestamp)>;

/// What the whole graph shares: watermark listeners (the windowed aggregations, in the order
/// they were built, which is upstream first), errors raised while it was built or while a
/// record was pushed, and what it exchanges with topics and state stores.
#[derive(Default)]
struct Context {
    /// Names the internal topics (repartition and changelog topics).
    application_id: String,
    watermark_listeners: RefCell<Vec<WatermarkListener>>,
    errors: RefCell<Vec<StreamsError>>,
    sources: Cell<usize>,
    topic_sources: RefCell<Vec<topics::TopicSource>>,
    internal_topics: RefCell<Vec<InternalTopic>>,
    outbox: RefCell<Vec<Outgoing>>,
    stores: RefCell<Vec<stores::StoreHandle>>,
    late_records_dropped: Cell<u64>,
    global_sources: RefCell<Vec<global::GlobalSource>>,
}

impl Context {
    fn fail(&self, error: StreamsError) {
        self.errors.borrow_mut().push(error);
    }
}

/// Builds a dataflow graph; `build` turns it into a `Topology` that records can be pushed
/// into.
pub struct TopologyBuilder {
    context: Rc<Context>,
}

impl fmt::Debug for TopologyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopologyBuilder")
            .field("sources", &self.context.sources.get())
            .finish_non_exhaustive()
    }
}

impl Default for TopologyBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TopologyBuilder {
    /// A builder for a graph run in process, whose internal topics (if any) are named after
    /// the application id `runnel-streams`.
    pub fn new() -> Self {
        Self::with_application_id("runnel-streams")
    }

    /// A builder for the application `application_id`, which names its internal topics
    /// (`<application id>-<name>-repartition`, `<application id>-<store>-changelog`).
    pub fn with_application_id(application_id: &str) -> Self {
        TopologyBuilder {
            context: Rc::new(Context {
                application_id: application_id.to_owned(),
                ..Context::default()
            }),
        }
    }

    /// A source whose records keep the event time they are pushed with. Returns the handle
    /// to push records through and the stream to build on.
    pub fn source<K: Clone + 'static, V: Clone + 'static>(
        &mut self,
    ) -> (Input<K, V>, Stream<K, V>) {
        self.source_with(None)
    }

    /// A source whose event time is chosen by `extractor`, such as `ClockSkewCorrection`.
    pub fn source_with_timestamps<K: Clone + 'static, V: Clone + 'static>(
        &mut self,
        extractor: impl TimestampExtractor<K, V> + 'static,
    ) -> (Input<K, V>, Stream<K, V>) {
        self.source_with(Some(Box::new(extractor)))
    }

    fn source_with<K: Clone + 'static, V: Clone + 'static>(
        &mut self,
        extractor: Option<Box<dyn TimestampExtractor<K, V>>>,
    ) -> (Input<K, V>, Stream<K, V>) {
        let node = Rc::new(Node::new());
        let id = self.context.sources.get();
        self.context.sources.set(id + 1);
        let input = Input {
            id,
            node: node.clone(),
            extractor,
        };
        (input, Stream::from_node(node, self.context.clone()))
    }

    /// The runnable graph. `out_of_orderness` and `idle_timeout` (milliseconds) configure the
    /// watermarks of every source partition. Fails with the first mistake made while
    /// building (two sources of one topic, two stores of one name, a store that cannot be).
    pub fn build(
        self,
        out_of_orderness: Timestamp,
        idle_timeout: Timestamp,
    ) -> Result<Topology, StreamsError> {
        if let Some(error) = self.context.errors.borrow_mut().drain(..).next() {
            return Err(error);
        }
        Ok(Topology {
            context: self.context,
            watermarks: WatermarkTracker::new(out_of_orderness, idle_timeout)?,
            records_in: 0,
            told_watermark: Timestamp::MIN,
            stream_time_punctuations: 0,
        })
    }
}

/// Where records of one source enter the graph.
pub struct Input<K, V> {
    id: usize,
    node: Rc<Node<K, V>>,
    extractor: Option<Box<dyn TimestampExtractor<K, V>>>,
}

impl<K, V> fmt::Debug for Input<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Input")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A built graph, driven by the caller with records and processing time.
pub struct Topology {
    context: Rc<Context>,
    watermarks: WatermarkTracker<(usize, u32)>,
    records_in: u64,
    /// The newest watermark the time-driven operators were told.
    told_watermark: Timestamp,
    stream_time_punctuations: u64,
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topology")
            .field("watermark", &self.watermarks.current())
            .field("records_in", &self.records_in)
            .finish_non_exhaustive()
    }
}

impl Topology {
    /// Declares a partition of a source before its first record, so the job watermark waits
    /// for it (up to the idle timeout).
    pub fn register_partition<K, V>(
        &mut self,
        input: &Input<K, V>,
        partition: u32,
        now: Timestamp,
    ) {
        self.watermarks.register((input.id, partition), now);
    }

    /// Pushes one record through the graph at processing time `now`, then moves the
    /// watermark. Returns the first error a sink raised on the way.
    pub fn push<K: Clone, V: Clone>(
        &mut self,
        input: &Input<K, V>,
        mut record: Record<K, V>,
        now: Timestamp,
    ) -> Result<(), StreamsError> {
        if let Some(extractor) = &input.extractor {
            record.timestamp = extractor.extract(&record.key, &record.value, record.timestamp);
        }
        self.records_in += 1;
        self.watermarks
            .observe((input.id, record.partition), record.timestamp, now);
        input.node.push(record);
        self.advance_processing_time(now)
    }

    /// Lets processing time pass without records: partitions may become idle, which can move
    /// the watermark and close windows.
    pub fn advance_processing_time(&mut self, now: Timestamp) -> Result<(), StreamsError> {
        let watermark = self.watermarks.advance(now);
        self.broadcast(watermark)
    }

    /// The input is over: event time jumps to the end, closing every window.
    pub fn finish(&mut self) -> Result<(), StreamsError> {
        self.broadcast(Timestamp::MAX)
    }

    pub fn watermark(&self) -> Timestamp {
        self.watermarks.current()
    }

    /// One source partition's watermark, for metrics.
    pub fn partition_watermark<K, V>(
        &self,
        input: &Input<K, V>,
        partition: u32,
    ) -> Option<Timestamp> {
        self.watermarks.partition_watermark(&(input.id, partition))
    }

    pub fn records_in(&self) -> u64 {
        self.records_in
    }

    /// Stream-time punctuations: how many times the watermark moved forward, each time
    /// letting every time-driven operator (windows, joins, patterns) close what it passed.
    pub fn stream_time_punctuations(&self) -> u64 {
        self.stream_time_punctuations
    }

    /// Records dropped as too late, over every windowed aggregation, join and pattern
    /// (records older than a versioned table's history included).
    pub fn late_records_dropped(&self) -> u64 {
        self.context.late_records_dropped.get()
    }

    /// The topics the graph reads, its internal repartition topics included.
    pub fn source_topics(&self) -> Vec<String> {
        let sources = self.context.topic_sources.borrow();
        sources.iter().map(|s| s.topic.clone()).collect()
    }

    /// The topics named after the application: repartition and changelog topics.
    pub fn internal_topics(&self) -> Vec<InternalTopic> {
        self.context.internal_topics.borrow().clone()
    }

    /// Declares a partition of a source topic before its first record, so the job
    /// watermark waits for it (up to the idle timeout).
    pub fn register_topic_partition(&mut self, topic: &str, partition: u32, now: Timestamp) {
        let id = self.topic_source_id(topic);
        if let Some(id) = id {
            self.watermarks.register((id, partition), now);
        }
    }

    /// Pushes one record read from `topic` through the graph at processing time `now`, as
    /// `push` does. Returns the first error on the way: a record that does not decode, a
    /// sink that refused, or a topic the graph does not read.
    pub fn push_from_topic(
        &mut self,
        topic: &str,
        incoming: Incoming<'_>,
        now: Timestamp,
    ) -> Result<(), StreamsError> {
        let delivered = {
            let mut sources = self.context.topic_sources.borrow_mut();
            match sources.iter_mut().find(|s| s.topic == topic) {
                Some(source) => Some((source.id, (source.deliver)(incoming, now))),
                None => None,
            }
        };
        let Some((id, timestamp)) = delivered else {
            return Err(StreamsError::Topology(format!("no source reads {topic}")));
        };
        self.records_in += 1;
        self.watermarks
            .observe((id, incoming.partition), timestamp, now);
        self.advance_processing_time(now)
    }

    /// The newest event time read from a source topic partition, to save with its offset.
    pub fn topic_max_event_time(&self, topic: &str, partition: u32) -> Option<Timestamp> {
        let id = self.topic_source_id(topic)?;
        self.watermarks.max_event_time(&(id, partition))
    }

    /// Gives a source topic partition back the newest event time it had delivered before a
    /// restart, so its watermark, and what counts as late, carry on from there.
    pub fn restore_max_event_time(
        &mut self,
        topic: &str,
        partition: u32,
        max_event_time: Timestamp,
        now: Timestamp,
    ) {
        if let Some(id) = self.topic_source_id(topic) {
            self.watermarks
                .observe((id, partition), max_event_time, now);
        }
    }

    /// One source topic partition's watermark, for metrics.
    pub fn topic_watermark(&self, topic: &str, partition: u32) -> Option<Timestamp> {
        let id = self.topic_source_id(topic)?;
        self.watermarks.partition_watermark(&(id, partition))
    }

    /// The records written to topics since the last call, in order.
    pub fn take_outgoing(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut *self.context.outbox.borrow_mut())
    }

    /// The state stores of the graph.
    pub fn stores(&self) -> Vec<StoreInfo> {
        let stores = self.context.stores.borrow();
        stores.iter().map(|s| s.info.clone()).collect()
    }

    /// The stored entries changed since the last call, one change per entry (its latest
    /// state), store by store.
    pub fn take_state_changes(&mut self) -> Result<Vec<StateChange>, StreamsError> {
        let mut changes = Vec::new();
        for store in self.context.stores.borrow_mut().iter_mut() {
            for (key, value) in (store.changed)()? {
                changes.push(StateChange {
                    store: store.info.name.clone(),
                    key,
                    value,
                });
            }
        }
        Ok(changes)
    }

    /// Applies one entry of a store's changelog (or local copy), before processing starts.
    pub fn restore(
        &mut self,
        store: &str,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), StreamsError> {
        let mut stores = self.context.stores.borrow_mut();
        let handle = stores
            .iter_mut()
            .find(|s| s.info.name == store)
            .ok_or_else(|| StreamsError::Topology(format!("no state store is named {store}")))?;
        (handle.restore)(key, value)
    }

    fn topic_source_id(&self, topic: &str) -> Option<usize> {
        let sources = self.context.topic_sources.borrow();
        sources.iter().find(|s| s.topic == topic).map(|s| s.id)
    }

    fn broadcast(&mut self, watermark: Timestamp) -> Result<(), StreamsError> {
        if watermark > self.told_watermark {
            self.told_watermark = watermark;
            self.stream_time_punctuations += 1;
        }
        for listener in self.context.watermark_listeners.borrow_mut().iter_mut() {
            listener(watermark);
        }
        match self.context.errors.borrow_mut().drain(..).next() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
