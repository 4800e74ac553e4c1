//! Session windows: per key, runs of records at most `gap` apart, merged as records bridge
//! them.

use super::store::Slot;
use super::WindowedAggregation;
use crate::aggregate::Aggregator;
use crate::change::Change;
use crate::record::{Record, Timestamp};
use crate::window::Window;

impl<K, V, G> WindowedAggregation<K, V, G>
where
    K: Ord + Clone,
    V: Clone,
    G: Aggregator<K, V>,
{
    /// Returns false if the record was too late.
    pub(super) fn process_session(
        &mut self,
        record: &Record<K, V>,
        gap: Timestamp,
        out: &mut Vec<Change<K, G::Output>>,
    ) -> bool {
        let t = record.timestamp;
        let key = &record.key;
        if !self.accepts(t.saturating_add(1).saturating_add(self.config.spec.grace())) {
            return false;
        }
        // Sessions never overlap and are more than `gap` apart, so those the record reaches
        // are the last few starting no later than `t + gap`.
        let mut touched: Vec<Window> = self
            .sessions
            .get(key)
            .into_iter()
            .flat_map(|by_start| by_start.range(..=t.saturating_add(gap)).rev())
            .take_while(|&(_, &end)| end > t.saturating_sub(gap))
            .map(|(&start, &end)| Window::new(start, end))
            .collect();
        touched.reverse();
        let merged = touched
            .iter()
            .fold(Window::new(t, t.saturating_add(1)), |acc, w| {
                Window::new(acc.start.min(w.start), acc.end.max(w.end))
            });

        let mut current: Option<G::Output> = None;
        let mut retracted = None;
        let mut emitted = false;
        for window in touched {
            if let Some(by_start) = self.sessions.get_mut(key) {
                by_start.remove(&window.start);
            }
            let Some(slot) = self.results.take(window, key) else {
                continue;
            };
            if window == merged {
                // The record falls inside this session: an update of the same window.
                emitted = slot.emitted;
                if slot.emitted && self.is_closed(window) {
                    retracted = Some(slot.value.clone());
                }
            } else if slot.emitted {
                out.push(Change::Retract {
                    key: key.clone(),
                    window,
                    old_value: slot.value.clone(),
                });
            }
            current = Some(match current {
                None => slot.value,
                // `new` refuses aggregators that cannot merge, so this always merges; keeping
                // the newer result is only what a refusing aggregator would leave.
                Some(older) => self
                    .aggregator
                    .merge(key, older, slot.value.clone())
                    .unwrap_or(slot.value),
            });
        }
        let value = self.aggregator.add(key, &record.value, current);
        let emitted = self.announce(key, merged, retracted, &value, emitted, out);
        self.results
            .put(merged, key.clone(), Slot { value, emitted });
        self.sessions
            .entry(key.clone())
            .or_default()
            .insert(merged.start, merged.end);
        true
    }

    pub(super) fn forget_sessions(&mut self, expired: Vec<(Window, K)>) {
        for (window, key) in expired {
            if let Some(by_start) = self.sessions.get_mut(&key) {
                by_start.remove(&window.start);
                if by_start.is_empty() {
                    self.sessions.remove(&key);
                }
            }
        }
    }
}
