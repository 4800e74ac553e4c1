use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::record::Timestamp;

/// What a versioned table says about a key at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf<'a, V> {
    /// The value in force then.
    Value(&'a V),
    /// The key had no value then (never set yet, or deleted).
    Absent,
    /// The time is older than the history kept: the table cannot say.
    TooOld,
}

/// Each key's values over event time, kept for a retention: the table of a versioned
/// stream–table join, answering "what was this key's value at time t".
///
/// A version is a value (or a deletion) from its time until the key's next version. The
/// table's time is the newest version time it has seen; history is kept for `retention`
/// behind it. Versions may arrive out of order, each taking its place in the history; one
/// older than the history is refused (it could only change answers the table no longer
/// gives). A lookup older than the history (before the table's time minus the retention) is
/// `TooOld`. Pruning keeps, per key, the versions after that limit and the one in force at
/// it, unless that one is a deletion.
pub struct VersionedHistory<K, V> {
    retention: Timestamp,
    observed: Timestamp,
    versions: BTreeMap<K, BTreeMap<Timestamp, Option<V>>>,
    changed: Option<BTreeSet<(K, Timestamp)>>,
    /// Whether the table's time moved since the last `take_changed_time`. It is stored on
    /// its own: the versions it came from may all be pruned deletions.
    time_changed: bool,
}

impl<K, V> fmt::Debug for VersionedHistory<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VersionedHistory")
            .field("retention", &self.retention)
            .field("observed", &self.observed)
            .finish_non_exhaustive()
    }
}

impl<K: Ord + Clone, V> VersionedHistory<K, V> {
    /// History for `retention` milliseconds of event time (negative is taken as none).
    pub fn new(retention: Timestamp) -> Self {
        VersionedHistory {
            retention: retention.max(0),
            observed: Timestamp::MIN,
            versions: BTreeMap::new(),
            changed: None,
            time_changed: false,
        }
    }

    /// The oldest time a lookup is answered for.
    pub fn history_starts(&self) -> Timestamp {
        self.observed.saturating_sub(self.retention)
    }

    /// Records `value` (`None`: a deletion) as `key`'s version from `t` on. Returns false,
    /// keeping nothing, when `t` is older than the history.
    pub fn put(&mut self, key: K, t: Timestamp, value: Option<V>) -> bool {
        if t < self.history_starts() {
            return false;
        }
        if t > self.observed {
            self.observed = t;
            self.time_changed = true;
        }
        self.mark(&key, t);
        self.versions
            .entry(key.clone())
            .or_default()
            .insert(t, value);
        self.prune(&key);
        true
    }

    pub fn get(&self, key: &K, t: Timestamp) -> AsOf<'_, V> {
        if t < self.history_starts() {
            return AsOf::TooOld;
        }
        let in_force = self
            .versions
            .get(key)
            .and_then(|history| history.range(..=t).next_back());
        match in_force {
            Some((_, Some(value))) => AsOf::Value(value),
            Some((_, None)) | None => AsOf::Absent,
        }
    }

    /// Drops `key`'s versions that no answerable lookup can reach: those older than the one
    /// in force at the start of the history, and that one too if it is a deletion.
    fn prune(&mut self, key: &K) {
        let starts = self.history_starts();
        let Some(history) = self.versions.get_mut(key) else {
            return;
        };
        let Some((&in_force, value)) = history.range(..=starts).next_back() else {
            return;
        };
        let first_kept = if value.is_some() {
            in_force
        } else {
            in_force.saturating_add(1)
        };
        let kept = history.split_off(&first_kept);
        let dropped = std::mem::replace(history, kept);
        if history.is_empty() {
            self.versions.remove(key);
        }
        for t in dropped.into_keys() {
            self.mark(key, t);
        }
    }

    fn mark(&mut self, key: &K, t: Timestamp) {
        if let Some(changed) = &mut self.changed {
            changed.insert((key.clone(), t));
        }
    }

    pub(crate) fn track_changes(&mut self) {
        self.changed.get_or_insert_with(BTreeSet::new);
    }

    /// The versions changed since the last call: per key and time, `Some(version)` while
    /// kept (itself `None` for a deletion), `None` once pruned.
    pub(crate) fn take_changed(&mut self) -> Vec<(K, Timestamp, Option<Option<&V>>)> {
        let changed = self
            .changed
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        changed
            .into_iter()
            .map(|(key, t)| {
                let version = self.versions.get(&key).and_then(|h| h.get(&t));
                (key, t, version.map(Option::as_ref))
            })
            .collect()
    }

    /// The table's time, if it moved since the last call.
    pub(crate) fn take_changed_time(&mut self) -> Option<Timestamp> {
        std::mem::take(&mut self.time_changed).then_some(self.observed)
    }

    /// Gives back the table's time saved from `take_changed_time`.
    pub(crate) fn restore_time(&mut self, observed: Timestamp) {
        self.observed = self.observed.max(observed);
    }

    /// Puts back a version saved from `take_changed` (or forgets it, for `None`), without
    /// counting it as a change.
    pub(crate) fn restore(&mut self, key: K, t: Timestamp, version: Option<Option<V>>) {
        match version {
            Some(value) => {
                self.versions.entry(key).or_default().insert(t, value);
            }
            None => {
                if let Some(history) = self.versions.get_mut(&key) {
                    history.remove(&t);
                    if history.is_empty() {
                        self.versions.remove(&key);
                    }
                }
            }
        }
    }
}
