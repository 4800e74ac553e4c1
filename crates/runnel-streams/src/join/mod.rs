//! Joins: stream–stream within a time window, stream–table (latest or as of the record's
//! event time) and the settings they share. The operators here hold state and emit results;
//! `topology::join` wires them into the graph and its state stores.

mod buffer;
mod versioned;
mod windowed;

pub(crate) use buffer::Buffered;
pub use versioned::{AsOf, VersionedHistory};
pub use windowed::{Joined, WindowedJoin};

use crate::error::StreamsError;
use crate::record::Timestamp;

/// Which records of a join produce results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// Only pairs that match.
    Inner,
    /// Pairs, and each left record that matches nothing, padded with no right value.
    Left,
    /// Pairs, and each record of either side that matches nothing, padded on the other side.
    Outer,
}

impl JoinKind {
    fn pads_left(self) -> bool {
        matches!(self, JoinKind::Left | JoinKind::Outer)
    }

    fn pads_right(self) -> bool {
        self == JoinKind::Outer
    }
}

/// When a left or outer join reports a record that matched nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmatched {
    /// Once its join window has closed by the watermark, when no match can come any more:
    /// the padded result is final and never retracted.
    WhenWindowCloses,
    /// The correcting policy: at once, when the record arrives without a match; retracted
    /// (`Delta::Retract`) when a match arrives later, before the joined result.
    AtOnceThenRetract,
}

/// The time difference within which a stream–stream join pairs records, and how long a
/// record may be behind the watermark and still join.
///
/// A left record at `t` pairs with the right records of its key at `t - before ..= t + after`
/// (so a right record at `u` pairs with the left ones at `u - after ..= u + before`). A record
/// is late, dropped and counted, once the watermark has passed its own time by more than
/// `grace`. A left record's window closes when the watermark passes `t + after + grace` (no
/// right record that could match it can still be accepted), a right record's when it passes
/// `u + before + grace`; the record is then forgotten, and reported unmatched if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinWindows {
    before: Timestamp,
    after: Timestamp,
    grace: Timestamp,
}

impl JoinWindows {
    /// Records at most `difference` apart, either way, with no grace period.
    pub fn within(difference: Timestamp) -> Result<Self, StreamsError> {
        Self::new(difference, difference)
    }

    /// Right records from `before` earlier to `after` later than the left record.
    pub fn new(before: Timestamp, after: Timestamp) -> Result<Self, StreamsError> {
        if before < 0 || after < 0 {
            return Err(StreamsError::InvalidWindow(
                "a join window's before and after must not be negative",
            ));
        }
        Ok(JoinWindows {
            before,
            after,
            grace: 0,
        })
    }

    pub fn with_grace(mut self, grace: Timestamp) -> Result<Self, StreamsError> {
        if grace < 0 {
            return Err(StreamsError::InvalidWindow(
                "a grace period must not be negative",
            ));
        }
        self.grace = grace;
        Ok(self)
    }

    pub fn before(&self) -> Timestamp {
        self.before
    }

    pub fn after(&self) -> Timestamp {
        self.after
    }

    pub fn grace(&self) -> Timestamp {
        self.grace
    }
}

/// One entry of a changelog with retractions, as joins that can take back a result emit it.
/// Applying the entries in order to a multiset (add on `Add`, remove one on `Retract`) gives
/// the current results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta<V> {
    Add(V),
    /// A result emitted before no longer holds.
    Retract(V),
}

impl<V> Delta<V> {
    pub fn map<W>(self, f: impl FnOnce(V) -> W) -> Delta<W> {
        match self {
            Delta::Add(v) => Delta::Add(f(v)),
            Delta::Retract(v) => Delta::Retract(f(v)),
        }
    }

    pub fn value(&self) -> &V {
        match self {
            Delta::Add(v) | Delta::Retract(v) => v,
        }
    }
}
