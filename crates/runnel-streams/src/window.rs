use crate::error::StreamsError;
use crate::record::Timestamp;

/// A span of event time, `start` included and `end` excluded. Sliding and session windows,
/// whose bounds are record timestamps, end one millisecond after their last record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window {
    pub fn new(start: Timestamp, end: Timestamp) -> Self {
        Window { start, end }
    }

    pub fn contains(&self, timestamp: Timestamp) -> bool {
        self.start <= timestamp && timestamp < self.end
    }
}

/// How records are grouped into windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Windows {
    /// Back-to-back windows of `size`, aligned to the epoch.
    Tumbling { size: Timestamp },
    /// Windows of `size` starting every `advance` (aligned to the epoch), so a record is in
    /// `size / advance` of them.
    Hopping { size: Timestamp, advance: Timestamp },
    /// Windows defined by the records themselves: for every record at `t`, the window of the
    /// records in `[t - size, t]`, and the window of those in `[t + 1, t + 1 + size]` when it
    /// holds any (the window just after the record leaves it).
    Sliding { size: Timestamp },
    /// Per key, records less than or exactly `gap` apart belong to one session; a record
    /// between two sessions merges them.
    Session { gap: Timestamp },
}

/// Windows with the grace period during which late records still update them. Built only
/// through its constructors, which refuse lengths the windows cannot have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    windows: Windows,
    grace: Timestamp,
}

impl WindowSpec {
    pub fn windows(&self) -> Windows {
        self.windows
    }

    pub fn grace(&self) -> Timestamp {
        self.grace
    }

    pub fn tumbling(size: Timestamp) -> Result<Self, StreamsError> {
        positive(size, "a tumbling window's size must be positive")?;
        Ok(Self::of(Windows::Tumbling { size }))
    }

    pub fn hopping(size: Timestamp, advance: Timestamp) -> Result<Self, StreamsError> {
        positive(size, "a hopping window's size must be positive")?;
        positive(advance, "a hopping window's advance must be positive")?;
        if advance > size {
            return Err(StreamsError::InvalidWindow(
                "a hopping window's advance must not exceed its size",
            ));
        }
        Ok(Self::of(Windows::Hopping { size, advance }))
    }

    pub fn sliding(size: Timestamp) -> Result<Self, StreamsError> {
        positive(size, "a sliding window's size must be positive")?;
        Ok(Self::of(Windows::Sliding { size }))
    }

    pub fn session(gap: Timestamp) -> Result<Self, StreamsError> {
        if gap < 0 {
            return Err(StreamsError::InvalidWindow(
                "a session gap must not be negative",
            ));
        }
        Ok(Self::of(Windows::Session { gap }))
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

    fn of(windows: Windows) -> Self {
        WindowSpec { windows, grace: 0 }
    }

    /// How long after a window's end it closes: the grace period, and for sessions also the
    /// gap, since a record up to `gap` later could still extend the session.
    pub fn close_delay(&self) -> Timestamp {
        match self.windows {
            Windows::Session { gap } => gap.saturating_add(self.grace),
            _ => self.grace,
        }
    }

    /// A window is closed once the watermark reaches this time.
    pub fn closes_at(&self, window: Window) -> Timestamp {
        window.end.saturating_add(self.close_delay())
    }
}

fn positive(length: Timestamp, message: &'static str) -> Result<(), StreamsError> {
    if length <= 0 {
        return Err(StreamsError::InvalidWindow(message));
    }
    Ok(())
}

/// The epoch-aligned windows of `size` every `advance` that contain `timestamp`, oldest first.
pub(crate) fn aligned_windows(
    timestamp: Timestamp,
    size: Timestamp,
    advance: Timestamp,
) -> impl Iterator<Item = Window> {
    // The newest window holding the record starts at the last multiple of `advance` at or
    // before it; older ones start `advance` earlier each, while they still reach the record.
    // Starts below the representable range are left out rather than clamped, so no window
    // is produced twice.
    let newest_start = timestamp.checked_sub(timestamp.rem_euclid(advance));
    let count = (size - 1) / advance + 1;
    (0..count)
        .rev()
        .filter_map(move |i| newest_start?.checked_sub(i.checked_mul(advance)?))
        .map(move |start| Window::new(start, start.saturating_add(size)))
        .filter(move |w| w.contains(timestamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tumbling_and_hopping_windows_hold_the_record() {
        let tumbling: Vec<_> = aligned_windows(25, 10, 10).collect();
        assert_eq!(tumbling, vec![Window::new(20, 30)]);
        let hopping: Vec<_> = aligned_windows(25, 10, 5).collect();
        assert_eq!(hopping, vec![Window::new(20, 30), Window::new(25, 35)]);
        let negative: Vec<_> = aligned_windows(-1, 10, 10).collect();
        assert_eq!(negative, vec![Window::new(-10, 0)]);
        // A size that is not a multiple of the advance.
        let uneven: Vec<_> = aligned_windows(10, 7, 3).collect();
        assert_eq!(uneven, vec![Window::new(6, 13), Window::new(9, 16)]);
        // At the ends of time nothing overflows; windows are cut at the representable range.
        assert_eq!(aligned_windows(i64::MAX - 1, 10, 10).count(), 1);
        let lowest: Vec<_> = aligned_windows(i64::MIN + 3, 10, 5).collect();
        // i64::MIN + 3 is a multiple of 5; the window before it would start below i64::MIN.
        assert_eq!(lowest, vec![Window::new(i64::MIN + 3, i64::MIN + 13)]);
    }

    #[test]
    fn bad_lengths_are_refused() {
        assert!(WindowSpec::tumbling(0).is_err());
        assert!(WindowSpec::hopping(10, 11).is_err());
        assert!(WindowSpec::hopping(10, 0).is_err());
        assert!(WindowSpec::sliding(-1).is_err());
        assert!(WindowSpec::session(-1).is_err());
        assert!(WindowSpec::session(0).unwrap().with_grace(-1).is_err());
    }
}
