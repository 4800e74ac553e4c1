//! Sliding windows: windows of `size` placed by the records themselves (one ending at each
//! record, one starting just after it when it holds any), recomputed from the buffered values
//! whenever a record lands in them.

use std::collections::BTreeSet;

use super::store::Slot;
use super::WindowedAggregation;
use crate::aggregate::Aggregator;
use crate::change::Change;
use crate::record::{Record, Timestamp};
use crate::window::Window;

/// The window of the records in `[t - size, t]`.
fn ending_at(t: Timestamp, size: Timestamp) -> Window {
    Window::new(t.saturating_sub(size), t.saturating_add(1))
}

/// The window of the records in `[t + 1, t + 1 + size]`.
fn starting_after(t: Timestamp, size: Timestamp) -> Window {
    Window::new(
        t.saturating_add(1),
        t.saturating_add(size).saturating_add(2),
    )
}

impl<K, V, G> WindowedAggregation<K, V, G>
where
    K: Ord + Clone,
    V: Clone,
    G: Aggregator<K, V>,
{
    /// Returns false if the record was too late.
    pub(super) fn process_sliding(
        &mut self,
        record: &Record<K, V>,
        size: Timestamp,
        out: &mut Vec<Change<K, G::Output>>,
    ) -> bool {
        let t = record.timestamp;
        let key = &record.key;
        if !self.accepts(t.saturating_add(1).saturating_add(self.config.spec.grace())) {
            return false;
        }
        if let Some(changed) = &mut self.buffers_changed {
            changed.insert((key.clone(), t));
        }
        let values = self.buffered.entry(key.clone()).or_default();
        values.entry(t).or_default().push(record.value.clone());
        self.buffered_by_time
            .entry(t)
            .or_default()
            .insert(key.clone());

        // Every window that holds `t`: its own two, those starting after an earlier record
        // within reach, and those ending at a later record within reach.
        let mut windows = BTreeSet::from([ending_at(t, size)]);
        if values
            .range(t.saturating_add(1)..=t.saturating_add(size).saturating_add(1))
            .next()
            .is_some()
        {
            windows.insert(starting_after(t, size));
        }
        for &earlier in values
            .range(t.saturating_sub(size).saturating_sub(1)..t)
            .map(|(ts, _)| ts)
        {
            windows.insert(starting_after(earlier, size));
        }
        for &later in values.range(t..=t.saturating_add(size)).map(|(ts, _)| ts) {
            windows.insert(ending_at(later, size));
        }

        for window in windows {
            let Some(value) = self.fold_buffered(key, window) else {
                continue;
            };
            let (retracted, emitted) = match self.results.take(window, key) {
                Some(slot) => {
                    let closed = self.is_closed(window);
                    (
                        slot.emitted.then_some(slot.value).filter(|_| closed),
                        slot.emitted,
                    )
                }
                None => (None, false),
            };
            let emitted = self.announce(key, window, retracted, &value, emitted, out);
            self.results
                .put(window, key.clone(), Slot { value, emitted });
        }
        true
    }

    fn fold_buffered(&self, key: &K, window: Window) -> Option<G::Output> {
        let values = self.buffered.get(key)?;
        values
            .range(window.start..window.end)
            .flat_map(|(_, vs)| vs)
            .fold(None, |acc, v| Some(self.aggregator.add(key, v, acc)))
    }

    /// Drops values no window could need any more: every window holding a record at `t`
    /// ends by `t + size + 1`, so it is forgotten once those windows are.
    pub(super) fn forget_buffered(&mut self, size: Timestamp) {
        let horizon = self
            .watermark
            .saturating_sub(self.config.spec.grace())
            .saturating_sub(self.config.retention())
            .saturating_sub(size)
            .saturating_sub(1);
        let kept = match horizon.checked_add(1) {
            Some(first_kept) => self.buffered_by_time.split_off(&first_kept),
            None => Default::default(),
        };
        let expired = std::mem::replace(&mut self.buffered_by_time, kept);
        for (t, keys) in expired {
            for key in keys {
                self.forget_buffer(&key, t);
                if let Some(changed) = &mut self.buffers_changed {
                    changed.insert((key, t));
                }
            }
        }
    }
}
