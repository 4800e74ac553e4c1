//! How long `fdatasync` takes, as a histogram with fixed buckets. Recording is a few relaxed
//! atomic adds, cheap next to the sync it measures; whoever exports metrics reads a
//! [`LatencySnapshot`] when asked, so this crate needs no metrics library.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The buckets' upper bounds, in microseconds: 10 µs to 10 s. A sync slower than the last
/// lands in one more bucket above it.
pub const LATENCY_BOUNDS_MICROS: [u64; 18] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
    500_000, 1_000_000, 2_500_000, 10_000_000,
];
const BUCKETS: usize = LATENCY_BOUNDS_MICROS.len() + 1;

/// Durations counted per bucket, and their sum.
#[derive(Debug, Default)]
pub(crate) struct LatencyRecorder {
    counts: [AtomicU64; BUCKETS],
    sum_nanos: AtomicU64,
}

impl LatencyRecorder {
    pub(crate) fn record(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BOUNDS_MICROS.partition_point(|&bound| bound < micros);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Durations recorded so far.
    pub(crate) fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    pub(crate) fn snapshot(&self) -> LatencySnapshot {
        LatencySnapshot {
            counts: std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed)),
            sum: Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed)),
        }
    }
}

/// The histogram at one moment. Snapshots of several logs add up with [`merge`](Self::merge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySnapshot {
    /// Durations per bucket (not cumulative): `counts[i]` are those above bound `i - 1` and
    /// at most bound `i` of [`LATENCY_BOUNDS_MICROS`]; the last are above every bound.
    pub counts: [u64; BUCKETS],
    pub sum: Duration,
}

impl LatencySnapshot {
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn merge(&mut self, other: &LatencySnapshot) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine = mine.saturating_add(theirs);
        }
        self.sum = self.sum.saturating_add(other.sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_land_in_the_first_bucket_whose_bound_they_do_not_exceed() {
        let recorder = LatencyRecorder::default();
        for micros in [0, 10, 11, 250, 10_000_000, 10_000_001, 20_000_000] {
            recorder.record(Duration::from_micros(micros));
        }
        let snapshot = recorder.snapshot();
        let mut expected = [0u64; BUCKETS];
        expected[0] = 2; // 0 and 10 µs
        expected[1] = 1; // 11 µs
        expected[4] = 1; // 250 µs
        expected[17] = 1; // 10 s
        expected[18] = 2; // above 10 s
        assert_eq!(snapshot.counts, expected);
        assert_eq!(snapshot.count(), 7);
        assert_eq!(recorder.count(), 7);

        let mut total = snapshot;
        total.merge(&snapshot);
        assert_eq!(total.count(), 14);
        assert_eq!(total.counts[18], 4);
    }

    #[test]
    fn the_sum_adds_every_duration() {
        let recorder = LatencyRecorder::default();
        recorder.record(Duration::from_micros(1_500));
        recorder.record(Duration::from_micros(500));
        assert_eq!(recorder.snapshot().sum, Duration::from_millis(2));
    }
}
