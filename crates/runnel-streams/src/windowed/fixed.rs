//! Tumbling and hopping windows: fixed, epoch-aligned spans, each updated in place.

use super::store::Slot;
use super::WindowedAggregation;
use crate::aggregate::Aggregator;
use crate::change::Change;
use crate::record::{Record, Timestamp};
use crate::window::aligned_windows;

impl<K, V, G> WindowedAggregation<K, V, G>
where
    K: Ord + Clone,
    V: Clone,
    G: Aggregator<K, V>,
{
    /// Returns false if the record was too late for at least one of its windows.
    pub(super) fn process_aligned(
        &mut self,
        record: &Record<K, V>,
        size: Timestamp,
        advance: Timestamp,
        out: &mut Vec<Change<K, G::Output>>,
    ) -> bool {
        let mut applied_everywhere = true;
        for window in aligned_windows(record.timestamp, size, advance) {
            if !self.accepts(self.config.spec.closes_at(window)) {
                applied_everywhere = false;
                continue;
            }
            let (current, emitted) = match self.results.take(window, &record.key) {
                Some(slot) => (Some(slot.value), slot.emitted),
                None => (None, false),
            };
            let retracted = if emitted && self.is_closed(window) {
                current.clone()
            } else {
                None
            };
            let value = self.aggregator.add(&record.key, &record.value, current);
            let emitted = self.announce(&record.key, window, retracted, &value, emitted, out);
            self.results
                .put(window, record.key.clone(), Slot { value, emitted });
        }
        applied_everywhere
    }
}
