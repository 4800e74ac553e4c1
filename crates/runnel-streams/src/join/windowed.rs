use std::fmt;

use super::buffer::{Buffered, HeldAt, SideBuffer};
use super::{Delta, JoinKind, JoinWindows, Unmatched};
use crate::record::Timestamp;

/// A result of a stream–stream join: a pair (or a record padded with nothing on the side it
/// did not match), added or retracted, at its event time: the later of the two records'
/// times for a pair, the record's own time for a padded one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined<K, L, R> {
    pub key: K,
    pub delta: Delta<(Option<L>, Option<R>)>,
    pub timestamp: Timestamp,
}

/// What a side's records are paired with and padded by, in the orientation of that side.
struct Rules {
    /// How far before (`.0`) and after (`.1`) a record the other side's matches lie.
    reach: (Timestamp, Timestamp),
    /// Whether this side's unmatched records are reported, and the other side's.
    pads: (bool, bool),
    eager: bool,
}

/// A stream–stream join over a time window, per key (see `JoinWindows` for which records
/// pair, when a record is late and when its window closes).
///
/// Each record is held until its window closes. A record that arrives pairs with every held
/// record of the other side in its window, at once; since both sides are held as long as a
/// record that could pair with them may still be accepted, every two accepted records that
/// should pair do, whichever came first. Records are fed with `process_left` and
/// `process_right`, and the watermark moved with `advance_watermark`.
pub struct WindowedJoin<K, L, R> {
    windows: JoinWindows,
    kind: JoinKind,
    unmatched: Unmatched,
    watermark: Timestamp,
    left: SideBuffer<K, L>,
    right: SideBuffer<K, R>,
    late_records_dropped: u64,
}

impl<K, L, R> fmt::Debug for WindowedJoin<K, L, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowedJoin")
            .field("windows", &self.windows)
            .field("kind", &self.kind)
            .field("unmatched", &self.unmatched)
            .field("watermark", &self.watermark)
            .field("late_records_dropped", &self.late_records_dropped)
            .finish_non_exhaustive()
    }
}

/// A record's results, in the orientation of its side (`A`) and the other (`B`).
type SideDelta<'a, A, B> = Delta<(Option<&'a A>, Option<&'a B>)>;

impl<K: Ord + Clone, L: Clone, R: Clone> WindowedJoin<K, L, R> {
    pub fn new(windows: JoinWindows, kind: JoinKind, unmatched: Unmatched) -> Self {
        WindowedJoin {
            windows,
            kind,
            unmatched,
            watermark: Timestamp::MIN,
            left: SideBuffer::new(),
            right: SideBuffer::new(),
            late_records_dropped: 0,
        }
    }

    pub fn watermark(&self) -> Timestamp {
        self.watermark
    }

    pub fn late_records_dropped(&self) -> u64 {
        self.late_records_dropped
    }

    /// Whether no record is held (every window closed).
    pub fn is_empty(&self) -> bool {
        self.left.is_empty() && self.right.is_empty()
    }

    fn is_late(&self, t: Timestamp) -> bool {
        t.saturating_add(self.windows.grace) < self.watermark
    }

    fn eager(&self) -> bool {
        self.unmatched == Unmatched::AtOnceThenRetract
    }

    pub fn process_left(&mut self, key: K, value: L, t: Timestamp, out: &mut Vec<Joined<K, L, R>>) {
        if self.is_late(t) {
            self.late_records_dropped += 1;
            return;
        }
        let rules = Rules {
            reach: (self.windows.before, self.windows.after),
            pads: (self.kind.pads_left(), self.kind.pads_right()),
            eager: self.eager(),
        };
        arrive(
            &mut self.left,
            &mut self.right,
            key.clone(),
            t,
            value,
            &rules,
            |delta, timestamp| {
                out.push(Joined {
                    key: key.clone(),
                    delta: delta.map(|(l, r)| (l.cloned(), r.cloned())),
                    timestamp,
                });
            },
        );
    }

    pub fn process_right(
        &mut self,
        key: K,
        value: R,
        t: Timestamp,
        out: &mut Vec<Joined<K, L, R>>,
    ) {
        if self.is_late(t) {
            self.late_records_dropped += 1;
            return;
        }
        let rules = Rules {
            reach: (self.windows.after, self.windows.before),
            pads: (self.kind.pads_right(), self.kind.pads_left()),
            eager: self.eager(),
        };
        arrive(
            &mut self.right,
            &mut self.left,
            key.clone(),
            t,
            value,
            &rules,
            |delta, timestamp| {
                out.push(Joined {
                    key: key.clone(),
                    delta: delta.map(|(r, l)| (l.cloned(), r.cloned())),
                    timestamp,
                });
            },
        );
    }

    /// Moves event time to `watermark` (an older one is ignored): forgets the records whose
    /// window closed, reporting those that matched nothing when that is when they are due.
    pub fn advance_watermark(&mut self, watermark: Timestamp, out: &mut Vec<Joined<K, L, R>>) {
        if watermark <= self.watermark {
            return;
        }
        self.watermark = watermark;
        let closing = !self.eager();
        // A left record at t is open while t + after + grace >= watermark.
        let left_open_from = self.first_open(self.windows.after);
        for (key, t, records) in self.left.expire(left_open_from) {
            for record in records {
                if closing && self.kind.pads_left() && !record.matched {
                    out.push(Joined {
                        key: key.clone(),
                        delta: Delta::Add((Some(record.value), None)),
                        timestamp: t,
                    });
                }
            }
        }
        let right_open_from = self.first_open(self.windows.before);
        for (key, t, records) in self.right.expire(right_open_from) {
            for record in records {
                if closing && self.kind.pads_right() && !record.matched {
                    out.push(Joined {
                        key: key.clone(),
                        delta: Delta::Add((None, Some(record.value))),
                        timestamp: t,
                    });
                }
            }
        }
    }

    /// The earliest time a record whose matches reach `reach` ahead of it is still open at.
    fn first_open(&self, reach: Timestamp) -> Timestamp {
        self.watermark
            .saturating_sub(reach)
            .saturating_sub(self.windows.grace)
    }

    pub(crate) fn track_changes(&mut self) {
        self.left.track_changes();
        self.right.track_changes();
    }

    /// The left records changed since the last call, per key and time (`None` once gone).
    pub(crate) fn take_changed_left(&mut self) -> Vec<HeldAt<'_, K, L>> {
        self.left.take_changed()
    }

    pub(crate) fn take_changed_right(&mut self) -> Vec<HeldAt<'_, K, R>> {
        self.right.take_changed()
    }

    pub(crate) fn restore_left(&mut self, key: K, t: Timestamp, records: Option<Vec<Buffered<L>>>) {
        self.left.restore(key, t, records);
    }

    pub(crate) fn restore_right(
        &mut self,
        key: K,
        t: Timestamp,
        records: Option<Vec<Buffered<R>>>,
    ) {
        self.right.restore(key, t, records);
    }
}

/// A record of side `A` arrives: it pairs with the held records of side `B` in its reach,
/// reporting through `emit`, and is held in turn.
fn arrive<K: Ord + Clone, A, B>(
    this: &mut SideBuffer<K, A>,
    other: &mut SideBuffer<K, B>,
    key: K,
    t: Timestamp,
    value: A,
    rules: &Rules,
    mut emit: impl FnMut(SideDelta<'_, A, B>, Timestamp),
) {
    let (before, after) = rules.reach;
    let (pads_this, pads_other) = rules.pads;
    let mut matched = false;
    other.visit_range(
        &key,
        t.saturating_sub(before),
        t.saturating_add(after),
        |u, held| {
            matched = true;
            let first_match = !held.matched;
            if first_match && rules.eager && pads_other {
                emit(Delta::Retract((None, Some(&held.value))), u);
            }
            emit(Delta::Add((Some(&value), Some(&held.value))), t.max(u));
            held.matched = true;
            first_match
        },
    );
    if !matched && rules.eager && pads_this {
        emit(Delta::Add((Some(&value), None)), t);
    }
    this.insert(key, t, Buffered { value, matched });
}
