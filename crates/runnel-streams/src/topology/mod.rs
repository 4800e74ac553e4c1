//! An in-process dataflow over the event-time engine: sources, stateless operations,
//! grouping into tables, and sinks. Records are pushed through the graph one at a time on the
//! caller's thread; after each record the job watermark is recomputed and handed to every
//! windowed aggregation.

mod node;
mod stream;
mod table;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use crate::error::StreamsError;
use crate::record::{Record, Timestamp};
use crate::skew::TimestampExtractor;
use crate::watermark::WatermarkTracker;
use node::Node;
pub use stream::{Predicate, Sink, Stream};
pub use table::{GroupedStream, Table, WindowedGroupedStream, WindowedTable};

type WatermarkListener = Box<dyn FnMut(Timestamp)>;

/// What the whole graph shares: watermark listeners (the windowed aggregations, in the order
/// they were built, which is upstream first) and errors raised while a record was pushed.
#[derive(Default)]
struct Context {
    watermark_listeners: RefCell<Vec<WatermarkListener>>,
    errors: RefCell<Vec<StreamsError>>,
    sources: Cell<usize>,
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
    pub fn new() -> Self {
        TopologyBuilder {
            context: Rc::new(Context::default()),
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
    /// watermarks of every source partition.
    pub fn build(
        self,
        out_of_orderness: Timestamp,
        idle_timeout: Timestamp,
    ) -> Result<Topology, StreamsError> {
        Ok(Topology {
            context: self.context,
            watermarks: WatermarkTracker::new(out_of_orderness, idle_timeout)?,
            records_in: 0,
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

    fn broadcast(&mut self, watermark: Timestamp) -> Result<(), StreamsError> {
        for listener in self.context.watermark_listeners.borrow_mut().iter_mut() {
            listener(watermark);
        }
        match self.context.errors.borrow_mut().drain(..).next() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
