use std::collections::{BTreeMap, BTreeSet};

use crate::record::Timestamp;

/// A record held by a stream–stream join while its window is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buffered<V> {
    pub value: V,
    /// Whether a record of the other side has paired with it.
    pub matched: bool,
}

/// One side's records by key and event time, with an index by time so that closing windows
/// is a scan from the front. Records of one key at one time keep their arrival order.
///
/// When tracking is on, every key and time whose records changed since the last
/// `take_changed` is remembered, so a stored copy is brought up to date with one write each.
#[derive(Debug)]
pub(super) struct SideBuffer<K, V> {
    by_key: BTreeMap<K, BTreeMap<Timestamp, Vec<Buffered<V>>>>,
    by_time: BTreeMap<Timestamp, BTreeSet<K>>,
    changed: Option<BTreeSet<(K, Timestamp)>>,
}

/// The records of one key at one time as they are now, `None` once gone.
pub(crate) type HeldAt<'a, K, V> = (K, Timestamp, Option<&'a [Buffered<V>]>);

/// The records of one key at one time, taken out of a buffer.
pub(super) type Expired<K, V> = (K, Timestamp, Vec<Buffered<V>>);

impl<K: Ord + Clone, V> SideBuffer<K, V> {
    pub fn new() -> Self {
        SideBuffer {
            by_key: BTreeMap::new(),
            by_time: BTreeMap::new(),
            changed: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn track_changes(&mut self) {
        self.changed.get_or_insert_with(BTreeSet::new);
    }

    fn mark(&mut self, key: &K, t: Timestamp) {
        if let Some(changed) = &mut self.changed {
            changed.insert((key.clone(), t));
        }
    }

    pub fn insert(&mut self, key: K, t: Timestamp, record: Buffered<V>) {
        self.mark(&key, t);
        self.by_time.entry(t).or_default().insert(key.clone());
        self.by_key
            .entry(key)
            .or_default()
            .entry(t)
            .or_default()
            .push(record);
    }

    /// Calls `visit` on each record of `key` at `from..=to`, in time then arrival order; a
    /// visit that returns true changed the record.
    pub fn visit_range(
        &mut self,
        key: &K,
        from: Timestamp,
        to: Timestamp,
        mut visit: impl FnMut(Timestamp, &mut Buffered<V>) -> bool,
    ) {
        let Some(by_time) = self.by_key.get_mut(key) else {
            return;
        };
        let mut changed = Vec::new();
        for (&t, records) in by_time.range_mut(from..=to) {
            let mut any = false;
            for record in records.iter_mut() {
                any |= visit(t, record);
            }
            if any {
                changed.push(t);
            }
        }
        for t in changed {
            self.mark(key, t);
        }
    }

    /// Takes out every record before `before`, in time then key order.
    pub fn expire(&mut self, before: Timestamp) -> Vec<Expired<K, V>> {
        let kept = self.by_time.split_off(&before);
        let expired = std::mem::replace(&mut self.by_time, kept);
        let mut out = Vec::new();
        for (t, keys) in expired {
            for key in keys {
                self.mark(&key, t);
                if let Some(records) = self.take(&key, t) {
                    out.push((key, t, records));
                }
            }
        }
        out
    }

    fn take(&mut self, key: &K, t: Timestamp) -> Option<Vec<Buffered<V>>> {
        let by_time = self.by_key.get_mut(key)?;
        let records = by_time.remove(&t);
        if by_time.is_empty() {
            self.by_key.remove(key);
        }
        records
    }

    /// The records changed since the last call, per key and time (`None` once gone).
    pub fn take_changed(&mut self) -> Vec<HeldAt<'_, K, V>> {
        let changed = self
            .changed
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        changed
            .into_iter()
            .map(|(key, t)| {
                let records = self.by_key.get(&key).and_then(|by_time| by_time.get(&t));
                (key, t, records.map(Vec::as_slice))
            })
            .collect()
    }

    /// Puts back the records of `key` at `t` saved from `take_changed` (or forgets them, for
    /// `None`), without counting it as a change.
    pub fn restore(&mut self, key: K, t: Timestamp, records: Option<Vec<Buffered<V>>>) {
        match records {
            Some(records) => {
                self.by_time.entry(t).or_default().insert(key.clone());
                self.by_key.entry(key).or_default().insert(t, records);
            }
            None => {
                self.take(&key, t);
                if let Some(keys) = self.by_time.get_mut(&t) {
                    keys.remove(&key);
                    if keys.is_empty() {
                        self.by_time.remove(&t);
                    }
                }
            }
        }
    }
}
