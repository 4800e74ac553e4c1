use std::collections::BTreeMap;

use crate::record::Timestamp;
use crate::window::Window;

/// The result of one key in one window, and whether it has been sent downstream.
#[derive(Debug, Clone)]
pub(super) struct Slot<A> {
    pub value: A,
    pub emitted: bool,
}

/// Results by window, ordered by window end first: windows close in the order of their ends
/// (every window of an operation has the same close delay), so closing and expiring are
/// range scans from the front.
#[derive(Debug)]
pub(super) struct WindowStore<K, A> {
    by_end: BTreeMap<(Timestamp, Timestamp), BTreeMap<K, Slot<A>>>,
}

impl<K: Ord + Clone, A> WindowStore<K, A> {
    pub fn new() -> Self {
        WindowStore {
            by_end: BTreeMap::new(),
        }
    }

    pub fn take(&mut self, window: Window, key: &K) -> Option<Slot<A>> {
        let slots = self.by_end.get_mut(&(window.end, window.start))?;
        let slot = slots.remove(key);
        if slots.is_empty() {
            self.by_end.remove(&(window.end, window.start));
        }
        slot
    }

    pub fn put(&mut self, window: Window, key: K, slot: Slot<A>) {
        self.by_end
            .entry((window.end, window.start))
            .or_default()
            .insert(key, slot);
    }

    /// Visits the windows with `after < end <= up_to`, in order of end, start and key.
    pub fn visit_ending(
        &mut self,
        after: Timestamp,
        up_to: Timestamp,
        mut visit: impl FnMut(Window, &K, &mut Slot<A>),
    ) {
        if after >= up_to {
            return;
        }
        let from = (after.saturating_add(1), Timestamp::MIN);
        let to = (up_to, Timestamp::MAX);
        for (&(end, start), slots) in self.by_end.range_mut(from..=to) {
            for (key, slot) in slots.iter_mut() {
                visit(Window::new(start, end), key, slot);
            }
        }
    }

    /// Removes the windows with `end <= up_to` and returns their keys.
    pub fn expire(&mut self, up_to: Timestamp) -> Vec<(Window, K)> {
        let kept = match up_to.checked_add(1) {
            Some(first_kept) => self.by_end.split_off(&(first_kept, Timestamp::MIN)),
            None => BTreeMap::new(),
        };
        let expired = std::mem::replace(&mut self.by_end, kept);
        expired
            .into_iter()
            .flat_map(|((end, start), slots)| {
                slots
                    .into_keys()
                    .map(move |key| (Window::new(start, end), key))
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.by_end.is_empty()
    }
}
