//! Aggregation per key and window, with watermarks deciding when windows close and a policy
//! for records that arrive after that.

mod fixed;
mod session;
mod sliding;
mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::aggregate::Aggregator;
use crate::change::Change;
use crate::error::StreamsError;
use crate::record::{Record, Timestamp};
use crate::window::{Window, WindowSpec, Windows};
use store::{Slot, WindowStore};

/// One window's saved state, as `take_changed` gives it and `restore` takes it back: the key,
/// the window, and the result with whether it has been sent (`None` once the window is gone).
pub type SavedWindow<K, A> = (K, Window, Option<(A, bool)>);

/// What happens to a record that arrives after its window closed (watermark past the
/// window's end plus the grace period).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatePolicy {
    /// Ignore it and count it in `late_records_dropped`. Closed windows are forgotten.
    Drop,
    /// Update the window anyway, retracting the result sent before. Closed windows are kept
    /// for `retention` more milliseconds of event time; records later than that are dropped
    /// and counted.
    Correct { retention: Timestamp },
}

/// When results are sent downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitMode {
    /// An `Update` after every record.
    Updates,
    /// One `Final` per window when it closes (and a correction after, under
    /// `LatePolicy::Correct`).
    Final,
}

/// How a windowed aggregation groups, closes and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowedConfig {
    pub spec: WindowSpec,
    pub late: LatePolicy,
    pub emit: EmitMode,
}

impl WindowedConfig {
    pub fn new(spec: WindowSpec, late: LatePolicy, emit: EmitMode) -> Self {
        WindowedConfig { spec, late, emit }
    }

    fn retention(&self) -> Timestamp {
        match self.late {
            LatePolicy::Drop => 0,
            LatePolicy::Correct { retention } => retention,
        }
    }
}

/// Aggregates records per key and window and emits a changelog of results.
///
/// Records come with their event time; the watermark is moved by the caller
/// (`advance_watermark`), usually from a `WatermarkTracker`. A record is late for a window
/// once the watermark has reached the window's close (end plus grace, plus the gap for
/// sessions). For sliding and session windows, whose windows come from the records, a record
/// is late once the watermark has passed its own timestamp by more than the grace; such a
/// record could only land in windows that are closed.
pub struct WindowedAggregation<K, V, G: Aggregator<K, V>> {
    config: WindowedConfig,
    aggregator: G,
    watermark: Timestamp,
    results: WindowStore<K, G::Output>,
    /// Session windows only: per key, the open sessions by start, with their ends.
    sessions: BTreeMap<K, BTreeMap<Timestamp, Timestamp>>,
    /// Sliding windows only: per key, the values by timestamp, kept while a window could
    /// still need them, since a new record can create a window holding older ones.
    buffered: BTreeMap<K, BTreeMap<Timestamp, Vec<V>>>,
    buffered_by_time: BTreeMap<Timestamp, BTreeSet<K>>,
    /// Sliding windows, while tracking changes: the buffered values changed since asked.
    buffers_changed: Option<BTreeSet<(K, Timestamp)>>,
    late_records_dropped: u64,
}

impl<K, V, G: Aggregator<K, V>> fmt::Debug for WindowedAggregation<K, V, G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowedAggregation")
            .field("config", &self.config)
            .field("watermark", &self.watermark)
            .field("late_records_dropped", &self.late_records_dropped)
            .finish_non_exhaustive()
    }
}

impl<K, V, G> WindowedAggregation<K, V, G>
where
    K: Ord + Clone,
    V: Clone,
    G: Aggregator<K, V>,
{
    pub fn new(config: WindowedConfig, aggregator: G) -> Result<Self, StreamsError> {
        if matches!(config.spec.windows(), Windows::Session { .. }) && !aggregator.can_merge() {
            return Err(StreamsError::SessionNeedsMerge);
        }
        if config.retention() < 0 {
            return Err(StreamsError::InvalidWindow(
                "a retention must not be negative",
            ));
        }
        Ok(WindowedAggregation {
            config,
            aggregator,
            watermark: Timestamp::MIN,
            results: WindowStore::new(),
            sessions: BTreeMap::new(),
            buffered: BTreeMap::new(),
            buffered_by_time: BTreeMap::new(),
            buffers_changed: None,
            late_records_dropped: 0,
        })
    }

    pub fn watermark(&self) -> Timestamp {
        self.watermark
    }

    /// Records dropped as too late from at least one of their windows.
    pub fn late_records_dropped(&self) -> u64 {
        self.late_records_dropped
    }

    /// Whether the operation holds no state (every window expired).
    pub fn is_empty(&self) -> bool {
        self.results.is_empty() && self.sessions.is_empty() && self.buffered.is_empty()
    }

    /// From now on, remembers which results change, for `take_changed`, and for sliding
    /// windows which buffered values change, for `take_changed_buffers`.
    pub fn track_changes(&mut self) {
        self.results.track_changes();
        if self.is_sliding() {
            self.buffers_changed.get_or_insert_with(BTreeSet::new);
        }
    }

    pub fn is_sliding(&self) -> bool {
        matches!(self.config.spec.windows(), Windows::Sliding { .. })
    }

    /// Sliding windows only: the buffered values changed since the last call, per key and
    /// timestamp (all the values of that key at that time, or `None` once forgotten).
    pub fn take_changed_buffers(&mut self) -> Vec<(K, Timestamp, Option<&[V]>)> {
        let changed = self
            .buffers_changed
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        changed
            .into_iter()
            .map(|(key, t)| {
                let values = self.buffered.get(&key).and_then(|by_time| by_time.get(&t));
                (key, t, values.map(Vec::as_slice))
            })
            .collect()
    }

    /// Sliding windows only: puts back the values buffered for `key` at `t` (or forgets
    /// them, for `None`), as saved from `take_changed_buffers`.
    pub fn restore_buffer(&mut self, key: K, t: Timestamp, values: Option<Vec<V>>) {
        match values {
            Some(values) => {
                self.buffered
                    .entry(key.clone())
                    .or_default()
                    .insert(t, values);
                self.buffered_by_time.entry(t).or_default().insert(key);
            }
            None => {
                self.forget_buffer(&key, t);
                if let Some(keys) = self.buffered_by_time.get_mut(&t) {
                    keys.remove(&key);
                    if keys.is_empty() {
                        self.buffered_by_time.remove(&t);
                    }
                }
            }
        }
    }

    /// Drops the values of `key` at `t` (not their entry in `buffered_by_time`).
    fn forget_buffer(&mut self, key: &K, t: Timestamp) {
        if let Some(values) = self.buffered.get_mut(key) {
            values.remove(&t);
            if values.is_empty() {
                self.buffered.remove(key);
            }
        }
    }

    /// The results changed since the last call: per key and window, the result and whether
    /// it has been sent downstream, or `None` once the window is gone. Applying them to a
    /// copy, and that copy to `restore`, rebuilds this operation's windows.
    pub fn take_changed(&mut self) -> Vec<SavedWindow<K, G::Output>> {
        self.results
            .take_changed()
            .into_iter()
            .map(|(window, key, slot)| {
                let state = slot.map(|slot| (slot.value.clone(), slot.emitted));
                (key, window, state)
            })
            .collect()
    }

    /// Puts back one window's state saved from `take_changed` (or removes it, for `None`).
    pub fn restore(&mut self, key: K, window: Window, state: Option<(G::Output, bool)>) {
        let is_session = matches!(self.config.spec.windows(), Windows::Session { .. });
        match state {
            Some((value, emitted)) => {
                if is_session {
                    self.sessions
                        .entry(key.clone())
                        .or_default()
                        .insert(window.start, window.end);
                }
                self.results
                    .put_untracked(window, key, Slot { value, emitted });
            }
            None => {
                // Sessions are indexed by start only; a tombstone of an older window of the
                // same start (a session that has grown since) must not forget the grown one.
                let indexed = self.sessions.get(&key).and_then(|s| s.get(&window.start));
                if is_session && indexed == Some(&window.end) {
                    self.forget_sessions(vec![(window, key.clone())]);
                }
                self.results.take_untracked(window, &key);
            }
        }
    }

    /// Adds one record, appending the resulting changes to `out`.
    pub fn process(&mut self, record: &Record<K, V>, out: &mut Vec<Change<K, G::Output>>) {
        let applied = match self.config.spec.windows() {
            Windows::Tumbling { size } => self.process_aligned(record, size, size, out),
            Windows::Hopping { size, advance } => self.process_aligned(record, size, advance, out),
            Windows::Sliding { size } => self.process_sliding(record, size, out),
            Windows::Session { gap } => self.process_session(record, gap, out),
        };
        if !applied {
            self.late_records_dropped += 1;
        }
    }

    /// Moves event time forward to `watermark` (an older one is ignored): closes windows,
    /// emitting their results in emit-final mode, and forgets those past retention.
    pub fn advance_watermark(&mut self, watermark: Timestamp, out: &mut Vec<Change<K, G::Output>>) {
        if watermark <= self.watermark {
            return;
        }
        let previous = self.watermark;
        self.watermark = watermark;
        let delay = self.config.spec.close_delay();
        if self.config.emit == EmitMode::Final {
            self.results.visit_ending(
                previous.saturating_sub(delay),
                watermark.saturating_sub(delay),
                |window, key, slot| {
                    if !slot.emitted {
                        slot.emitted = true;
                        out.push(Change::Final {
                            key: key.clone(),
                            window,
                            value: slot.value.clone(),
                        });
                    }
                },
            );
        }
        let expired = self.results.expire(self.expired_up_to());
        match self.config.spec.windows() {
            Windows::Session { .. } => self.forget_sessions(expired),
            Windows::Sliding { size } => self.forget_buffered(size),
            Windows::Tumbling { .. } | Windows::Hopping { .. } => {}
        }
    }

    /// Windows ending at or before this are forgotten: closed, and past the retention in
    /// which late records may still correct them.
    pub fn expired_up_to(&self) -> Timestamp {
        self.watermark
            .saturating_sub(self.config.spec.close_delay())
            .saturating_sub(self.config.retention())
    }

    /// Whether a record may still change a window that closes at `close`.
    fn accepts(&self, close: Timestamp) -> bool {
        self.watermark < close.saturating_add(self.config.retention())
    }

    fn is_closed(&self, window: Window) -> bool {
        self.watermark >= self.config.spec.closes_at(window)
    }

    /// Reports a window's new result as the emit mode wants it. `retracted` is the result sent
    /// before, given when the window is closed and had been sent. Returns whether the window's
    /// result has now been sent.
    fn announce(
        &self,
        key: &K,
        window: Window,
        retracted: Option<G::Output>,
        value: &G::Output,
        emitted: bool,
        out: &mut Vec<Change<K, G::Output>>,
    ) -> bool {
        let closed = self.is_closed(window);
        if self.config.emit == EmitMode::Final && !closed {
            // Sent once the watermark closes it.
            return emitted;
        }
        if let Some(old_value) = retracted {
            out.push(Change::Retract {
                key: key.clone(),
                window,
                old_value,
            });
        }
        let value = value.clone();
        let key = key.clone();
        out.push(match self.config.emit {
            EmitMode::Updates => Change::Update { key, window, value },
            EmitMode::Final => Change::Final { key, window, value },
        });
        true
    }
}
