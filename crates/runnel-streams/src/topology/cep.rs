//! Patterns in the graph: `Stream::pattern` matches a pattern per key and gives the matches
//! and the timed-out partial matches as two streams; `PatternStream::stored` keeps the
//! matching state (records waiting for the watermark, partial matches) in a store.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use super::node::Node;
use super::stores::{state_error, Changed, Restore};
use super::stream::{Keys, Stream};
use crate::cep::{Match, Outcome, Pattern, PatternMatcher};
use crate::error::StreamsError;
use crate::record::{Record, Timestamp};
use crate::serdes::Serde;

/// The matches of a pattern, and the partial matches that ran out of time.
pub struct PatternStream<K, V> {
    matcher: Rc<RefCell<PatternMatcher<K, V>>>,
    matches: Stream<K, Match<V>>,
    timed_out: Stream<K, Match<V>>,
}

impl<K, V> fmt::Debug for PatternStream<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PatternStream").finish_non_exhaustive()
    }
}

impl<K: Ord + Clone + 'static, V: Clone + 'static> Stream<K, V> {
    /// Matches `pattern` over each key's records in event-time order. A record waits until
    /// the watermark passes it; one the watermark already passed is late, dropped and
    /// counted (`Topology::late_records_dropped`). As for `group_by_key`, a stream read from
    /// a topic whose keys changed since must be `repartition`ed first.
    pub fn pattern(&self, pattern: Pattern<V>) -> PatternStream<K, V> {
        if self.keys == Keys::Changed {
            self.context().fail(StreamsError::Topology(
                "pattern after keys changed on records read from a topic: \
                 `repartition` the stream first"
                    .into(),
            ));
        }
        let matcher = Rc::new(RefCell::new(PatternMatcher::new(pattern)));
        let (matched, timed_out) = (Rc::new(Node::new()), Rc::new(Node::new()));
        let publish = {
            let (matched, timed_out) = (matched.clone(), timed_out.clone());
            let within = matcher.borrow().pattern().within();
            move |out: Vec<(K, Outcome<V>)>| {
                for (key, outcome) in out {
                    match outcome {
                        Outcome::Matched(m) => {
                            let at = m.events.last().map_or(Timestamp::MIN, |e| e.timestamp);
                            matched.push(Record::new(key, m, at, 0));
                        }
                        Outcome::TimedOut(m) => {
                            // The last millisecond the partial match had is its event time.
                            let first = m.events.first().map_or(Timestamp::MIN, |e| e.timestamp);
                            let at = first.saturating_add(within.unwrap_or(0)).saturating_sub(1);
                            timed_out.push(Record::new(key, m, at, 0));
                        }
                    }
                }
            }
        };
        {
            let (matcher, context) = (matcher.clone(), self.context().clone());
            self.subscribe(move |record| {
                let mut matcher = matcher.borrow_mut();
                let before = matcher.late_records_dropped();
                matcher.process(record);
                let dropped = matcher.late_records_dropped() - before;
                context
                    .late_records_dropped
                    .set(context.late_records_dropped.get() + dropped);
            });
        }
        {
            let matcher = matcher.clone();
            self.context()
                .watermark_listeners
                .borrow_mut()
                .push(Box::new(move |watermark| {
                    let mut out = Vec::new();
                    matcher.borrow_mut().advance_watermark(watermark, &mut out);
                    publish(out);
                }));
        }
        PatternStream {
            matcher,
            matches: Stream::from_node(matched, self.context().clone()).with_keys(self.keys),
            timed_out: Stream::from_node(timed_out, self.context().clone()).with_keys(self.keys),
        }
    }
}

impl<K: Ord + Clone + 'static, V: Clone + 'static> PatternStream<K, V> {
    /// Each match, at the event time of its last event.
    pub fn matches(&self) -> Stream<K, Match<V>> {
        self.matches.clone()
    }

    /// Each partial match that ran out of time (`Pattern::within`) without matching, at the
    /// last millisecond it had.
    pub fn timed_out(&self) -> Stream<K, Match<V>> {
        self.timed_out.clone()
    }

    /// The metric of records dropped as too late for this pattern.
    pub fn late_records_dropped(&self) -> u64 {
        self.matcher.borrow().late_records_dropped()
    }

    /// Keeps the matching state in the state store `name` (changelog topic
    /// `<application id>-<name>-changelog`): per key, the records waiting for the
    /// watermark and the partial matches in progress (layout in `src/cep/codec.rs`).
    pub fn stored(
        self,
        name: &str,
        keys: impl Serde<K> + 'static,
        values: impl Serde<V> + 'static,
    ) -> Self {
        self.matcher.borrow_mut().track_changes();
        let (keys, values): (Rc<dyn Serde<K>>, Rc<dyn Serde<V>>) = (Rc::new(keys), Rc::new(values));
        let take_changed = {
            let (matcher, keys, values) = (self.matcher.clone(), keys.clone(), values.clone());
            Box::new(move || {
                let changed = matcher.borrow_mut().take_changed(&*values)?;
                changed
                    .into_iter()
                    .map(|(key, state)| Ok((keys.serialize(&key)?, state)))
                    .collect()
            }) as Changed
        };
        let restore = {
            let (matcher, store) = (self.matcher.clone(), name.to_owned());
            Box::new(move |key: &[u8], value: Option<&[u8]>| {
                let key = keys.deserialize(key).map_err(|e| state_error(&store, e))?;
                matcher
                    .borrow_mut()
                    .restore(key, value, &*values)
                    .map_err(|e| state_error(&store, e))
            }) as Restore
        };
        self.matches
            .context()
            .add_store(name, take_changed, restore);
        self
    }
}
