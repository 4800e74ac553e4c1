//! Exact percentiles and throughput arithmetic.
//!
//! Latencies are kept as one sample per record (nanoseconds) and sorted once at the end, so
//! the percentiles are exact rather than bucketed: 8 bytes per record, 4 MB per 500,000.

use std::fmt;
use std::time::Duration;

/// A quantile in parts per million, so that ranks are computed in integers (0.999 × 1000 is
/// not exactly 999 in floating point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantile(u32);

impl Quantile {
    pub const P50: Quantile = Quantile(500_000);
    pub const P99: Quantile = Quantile(990_000);
    pub const P999: Quantile = Quantile(999_000);
    pub const MAX: Quantile = Quantile(1_000_000);

    /// `ppm` parts per million, at most 1,000,000.
    pub fn from_ppm(ppm: u32) -> Option<Quantile> {
        (ppm <= 1_000_000).then_some(Quantile(ppm))
    }
}

/// The nearest-rank percentile of an ascending slice: the smallest sample such that at least
/// the quantile's share of the samples is at or below it. `None` for no samples.
pub fn percentile(sorted: &[u64], q: Quantile) -> Option<u64> {
    let n = sorted.len() as u64;
    if n == 0 {
        return None;
    }
    // rank = ceil(q × n), at least 1.
    let rank = (u64::from(q.0) * n).div_ceil(1_000_000).max(1);
    let index = usize::try_from(rank - 1).ok()?;
    sorted.get(index).copied()
}

/// Latency distribution of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencySummary {
    pub count: usize,
    pub min: Duration,
    pub mean: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
}

impl LatencySummary {
    /// Summarises samples in nanoseconds (sorting them in place). `None` for no samples.
    pub fn from_nanos(samples: &mut [u64]) -> Option<LatencySummary> {
        samples.sort_unstable();
        let at = |q| percentile(samples, q).map(Duration::from_nanos);
        let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
        let mean = sum / samples.len().max(1) as u128;
        Some(LatencySummary {
            count: samples.len(),
            min: Duration::from_nanos(*samples.first()?),
            mean: Duration::from_nanos(u64::try_from(mean).unwrap_or(u64::MAX)),
            p50: at(Quantile::P50)?,
            p99: at(Quantile::P99)?,
            p999: at(Quantile::P999)?,
            max: at(Quantile::MAX)?,
        })
    }
}

impl fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {}, p99 {}, p99.9 {}, max {} (min {}, mean {}, {} samples)",
            Millis(self.p50),
            Millis(self.p99),
            Millis(self.p999),
            Millis(self.max),
            Millis(self.min),
            Millis(self.mean),
            self.count
        )
    }
}

/// A duration printed in milliseconds with microsecond resolution: `0.412 ms`.
#[derive(Debug, Clone, Copy)]
pub struct Millis(pub Duration);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.0.as_micros();
        write!(f, "{}.{:03} ms", micros / 1000, micros % 1000)
    }
}

/// Events per second over `elapsed` (0 for an empty interval).
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

/// Megabytes (10^6 bytes) per second over `elapsed`.
pub fn megabytes_per_second(bytes: u64, elapsed: Duration) -> f64 {
    per_second(bytes, elapsed) / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_of_nothing_is_none() {
        assert_eq!(percentile(&[], Quantile::P50), None);
        assert_eq!(LatencySummary::from_nanos(&mut []), None);
    }

    #[test]
    fn percentile_of_one_sample_is_that_sample() {
        for q in [Quantile::P50, Quantile::P99, Quantile::P999, Quantile::MAX] {
            assert_eq!(percentile(&[7], q), Some(7));
        }
        assert_eq!(percentile(&[7], Quantile(0)), Some(7));
    }

    #[test]
    fn nearest_rank_on_1_to_1000() {
        let samples: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&samples, Quantile::P50), Some(500));
        assert_eq!(percentile(&samples, Quantile::P99), Some(990));
        // 0.999 × 1000 is exactly rank 999 (a float computation could round to 1000).
        assert_eq!(percentile(&samples, Quantile::P999), Some(999));
        assert_eq!(percentile(&samples, Quantile::MAX), Some(1000));
        assert_eq!(percentile(&samples, Quantile(0)), Some(1));
    }

    #[test]
    fn nearest_rank_rounds_up() {
        // 10 samples: p50 is rank 5, p99 is rank ceil(9.9) = 10, p99.9 is rank 10.
        let samples: Vec<u64> = (1..=10).map(|v| v * 10).collect();
        assert_eq!(percentile(&samples, Quantile::P50), Some(50));
        assert_eq!(percentile(&samples, Quantile::P99), Some(100));
        assert_eq!(percentile(&samples, Quantile::P999), Some(100));
        // 3 samples: p50 is rank ceil(1.5) = 2.
        assert_eq!(percentile(&[1, 2, 3], Quantile::P50), Some(2));
    }

    #[test]
    fn a_rare_outlier_shows_at_p999_but_not_p99() {
        // 10,000 samples of 100 µs and ten of 50 ms: the outliers are 0.1 % of the samples.
        let mut samples = vec![100_000u64; 10_000];
        samples.extend([50_000_000; 10]);
        let summary = LatencySummary::from_nanos(&mut samples).unwrap();
        assert_eq!(summary.p50, Duration::from_micros(100));
        assert_eq!(summary.p99, Duration::from_micros(100));
        assert_eq!(summary.p999, Duration::from_micros(100));
        assert_eq!(summary.max, Duration::from_millis(50));
        samples.extend([50_000_000; 2]);
        let summary = LatencySummary::from_nanos(&mut samples).unwrap();
        assert_eq!(summary.p999, Duration::from_millis(50));
    }

    #[test]
    fn summary_sorts_and_averages() {
        let mut samples = vec![3_000, 1_000, 2_000, 6_000];
        let summary = LatencySummary::from_nanos(&mut samples).unwrap();
        assert_eq!(samples, [1_000, 2_000, 3_000, 6_000]);
        assert_eq!(summary.count, 4);
        assert_eq!(summary.min, Duration::from_micros(1));
        assert_eq!(summary.mean, Duration::from_micros(3));
        assert_eq!(summary.p50, Duration::from_micros(2));
        assert_eq!(summary.max, Duration::from_micros(6));
    }

    #[test]
    fn quantile_bounds() {
        assert_eq!(Quantile::from_ppm(1_000_000), Some(Quantile::MAX));
        assert_eq!(Quantile::from_ppm(1_000_001), None);
    }

    #[test]
    fn throughput_arithmetic() {
        assert_eq!(per_second(1_000, Duration::from_millis(500)), 2_000.0);
        assert_eq!(megabytes_per_second(3_000_000, Duration::from_secs(2)), 1.5);
        assert_eq!(per_second(5, Duration::ZERO), 0.0);
    }

    #[test]
    fn millis_formatting() {
        assert_eq!(Millis(Duration::from_micros(412)).to_string(), "0.412 ms");
        assert_eq!(
            Millis(Duration::from_micros(12_345)).to_string(),
            "12.345 ms"
        );
        assert_eq!(Millis(Duration::from_nanos(999)).to_string(), "0.000 ms");
    }
}
