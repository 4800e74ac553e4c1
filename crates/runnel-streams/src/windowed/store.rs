use std::collections::{BTreeMap, BTreeSet};

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
///
/// When tracking is on, every window and key whose slot changed since the last
/// `take_changed` is remembered, so a persistent copy can be brought up to date with one
/// write per slot however often it changed in between.
#[derive(Debug)]
pub(super) struct WindowStore<K, A> {
    by_end: BTreeMap<(Timestamp, Timestamp), BTreeMap<K, Slot<A>>>,
    changed: Option<BTreeSet<(Window, K)>>,
}

impl<K: Ord + Clone, A> WindowStore<K, A> {
    pub fn new() -> Self {
        WindowStore {
            by_end: BTreeMap::new(),
            changed: None,
        }
    }

    pub fn track_changes(&mut self) {
        self.changed.get_or_insert_with(BTreeSet::new);
    }

    fn mark(&mut self, window: Window, key: &K) {
        if let Some(changed) = &mut self.changed {
            changed.insert((window, key.clone()));
        }
    }

    /// The slots changed since the last call, each with its current content (`None` once
    /// removed).
    pub fn take_changed(&mut self) -> Vec<(Window, K, Option<&Slot<A>>)> {
        let changed = self
            .changed
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        changed
            .into_iter()
            .map(|(window, key)| {
                let slot = self.get(window, &key);
                (window, key, slot)
            })
            .collect()
    }

    pub fn get(&self, window: Window, key: &K) -> Option<&Slot<A>> {
        self.by_end.get(&(window.end, window.start))?.get(key)
    }

    pub fn take(&mut self, window: Window, key: &K) -> Option<Slot<A>> {
        let slot = self.take_untracked(window, key);
        if slot.is_some() {
            self.mark(window, key);
        }
        slot
    }

    /// `take` for restoring from a persistent copy, which needs no write back.
    pub fn take_untracked(&mut self, window: Window, key: &K) -> Option<Slot<A>> {
        let slots = self.by_end.get_mut(&(window.end, window.start))?;
        let slot = slots.remove(key);
        if slots.is_empty() {
            self.by_end.remove(&(window.end, window.start));
        }
        slot
    }

    pub fn put(&mut self, window: Window, key: K, slot: Slot<A>) {
        self.mark(window, &key);
        self.put_untracked(window, key, slot);
    }

    pub fn put_untracked(&mut self, window: Window, key: K, slot: Slot<A>) {
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
                let window = Window::new(start, end);
                let emitted = slot.emitted;
                visit(window, key, slot);
                // This cannot reuse `mark` while `by_end` is borrowed.
                if let Some(changed) = self.changed.as_mut().filter(|_| slot.emitted != emitted) {
                    changed.insert((window, key.clone()));
                }
            }
        }
    }

    /// Removes the windows with `end <= up_to` and returns their keys.
    pub fn expire(&mut self, up_to: Timestamp) -> Vec<(Window, K)> {
        let kept = match up_to.checked_add(1) {
            Some(first_kept) => self.by_end.split_off(&(first_kept, Timestamp::MIN)),
            None => BTreeMap::new(),
        };
        let expired: Vec<(Window, K)> = std::mem::replace(&mut self.by_end, kept)
            .into_iter()
            .flat_map(|((end, start), slots)| {
                slots
                    .into_keys()
                    .map(move |key| (Window::new(start, end), key))
            })
            .collect();
        for (window, key) in &expired {
            self.mark(*window, key);
        }
        expired
    }

    pub fn is_empty(&self) -> bool {
        self.by_end.is_empty()
    }
}
