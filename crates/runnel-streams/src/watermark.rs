use std::collections::BTreeMap;

use crate::error::StreamsError;
use crate::record::Timestamp;

/// Event-time progress of a job read from several partitions.
///
/// Each partition's watermark is the largest event time it has delivered minus the allowed
/// out-of-orderness: records up to that far behind the newest are expected, older ones are
/// late. The job's watermark is the smallest over the partitions, because a window may only
/// close once every input has moved past it. A partition that has delivered nothing for
/// `idle_timeout` of processing time is left out of that minimum (so one quiet partition does
/// not stall the job) until it delivers again. The job watermark never goes back: a partition
/// that wakes up behind it delivers late records.
#[derive(Debug, Clone)]
pub struct WatermarkTracker<P> {
    out_of_orderness: Timestamp,
    idle_timeout: Timestamp,
    partitions: BTreeMap<P, PartitionProgress>,
    current: Timestamp,
}

#[derive(Debug, Clone)]
struct PartitionProgress {
    max_event_time: Option<Timestamp>,
    last_record_at: Timestamp,
}

impl PartitionProgress {
    fn watermark(&self, out_of_orderness: Timestamp) -> Timestamp {
        self.max_event_time
            .map_or(Timestamp::MIN, |max| max.saturating_sub(out_of_orderness))
    }
}

impl<P: Ord + Clone> WatermarkTracker<P> {
    /// Both arguments are milliseconds; neither may be negative.
    pub fn new(out_of_orderness: Timestamp, idle_timeout: Timestamp) -> Result<Self, StreamsError> {
        if out_of_orderness < 0 || idle_timeout < 0 {
            return Err(StreamsError::InvalidWindow(
                "out-of-orderness and idle timeout must not be negative",
            ));
        }
        Ok(WatermarkTracker {
            out_of_orderness,
            idle_timeout,
            partitions: BTreeMap::new(),
            current: Timestamp::MIN,
        })
    }

    /// Declares a partition before its first record, so that the job waits for it (up to the
    /// idle timeout) instead of racing ahead on the partitions that spoke first.
    pub fn register(&mut self, partition: P, now: Timestamp) {
        self.partitions
            .entry(partition)
            .or_insert(PartitionProgress {
                max_event_time: None,
                last_record_at: now,
            });
    }

    /// A record with event time `event_time` arrived on `partition` at processing time `now`.
    pub fn observe(&mut self, partition: P, event_time: Timestamp, now: Timestamp) {
        let progress = self
            .partitions
            .entry(partition)
            .or_insert(PartitionProgress {
                max_event_time: None,
                last_record_at: now,
            });
        progress.max_event_time = Some(
            progress
                .max_event_time
                .map_or(event_time, |m| m.max(event_time)),
        );
        progress.last_record_at = progress.last_record_at.max(now);
    }

    /// The job watermark at processing time `now`, moving it forward if the partitions allow.
    /// When every partition is idle it stays where it is: nothing says how far time has gone.
    pub fn advance(&mut self, now: Timestamp) -> Timestamp {
        let active_min = self
            .partitions
            .values()
            .filter(|p| !self.is_idle(p, now))
            .map(|p| p.watermark(self.out_of_orderness))
            .min();
        if let Some(min) = active_min {
            self.current = self.current.max(min);
        }
        self.current
    }

    /// The job watermark as of the last `advance`.
    pub fn current(&self) -> Timestamp {
        self.current
    }

    /// One partition's own watermark, `None` for a partition never seen.
    pub fn partition_watermark(&self, partition: &P) -> Option<Timestamp> {
        self.partitions
            .get(partition)
            .map(|p| p.watermark(self.out_of_orderness))
    }

    /// The newest event time `partition` has delivered, `None` before its first record.
    /// Saved with the partition's committed offset, it is what `observe` needs to give a
    /// restarted job the partition's watermark back.
    pub fn max_event_time(&self, partition: &P) -> Option<Timestamp> {
        self.partitions.get(partition)?.max_event_time
    }

    /// Whether `partition` is left out of the job watermark at processing time `now`.
    pub fn partition_is_idle(&self, partition: &P, now: Timestamp) -> bool {
        self.partitions
            .get(partition)
            .is_some_and(|p| self.is_idle(p, now))
    }

    fn is_idle(&self, progress: &PartitionProgress, now: Timestamp) -> bool {
        now.saturating_sub(progress.last_record_at) >= self.idle_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> WatermarkTracker<u32> {
        // 5 ms out of order allowed; a partition is idle after 100 ms without records.
        WatermarkTracker::new(5, 100).unwrap()
    }

    #[test]
    fn one_partition_trails_its_newest_event_by_the_bound() {
        let mut t = tracker();
        t.observe(0, 50, 0);
        assert_eq!(t.advance(0), 45);
        // An older record does not pull the watermark back.
        t.observe(0, 30, 1);
        assert_eq!(t.advance(1), 45);
        t.observe(0, 70, 2);
        assert_eq!(t.advance(2), 65);
        assert_eq!(t.partition_watermark(&0), Some(65));
        assert_eq!(t.partition_watermark(&1), None);
    }

    #[test]
    fn the_job_watermark_is_the_minimum_over_partitions() {
        let mut t = tracker();
        t.observe(0, 100, 0);
        t.observe(1, 40, 0);
        assert_eq!(t.advance(0), 35);
        t.observe(1, 200, 1);
        assert_eq!(t.advance(1), 95);
    }

    #[test]
    fn a_registered_silent_partition_holds_the_job_until_it_is_idle() {
        let mut t = tracker();
        t.register(1, 0);
        t.observe(0, 100, 0);
        assert_eq!(t.advance(0), Timestamp::MIN);
        t.observe(0, 120, 99);
        assert_eq!(t.advance(99), Timestamp::MIN);
        assert!(!t.partition_is_idle(&1, 99));
        // 100 ms of processing time without a record on partition 1.
        assert!(t.partition_is_idle(&1, 100));
        assert_eq!(t.advance(100), 115);
    }

    #[test]
    fn an_idle_partition_rejoins_when_it_speaks_and_the_job_never_goes_back() {
        let mut t = tracker();
        t.observe(0, 10, 0);
        t.observe(1, 10, 0);
        assert_eq!(t.advance(0), 5);
        // Partition 0 keeps going, partition 1 falls silent.
        t.observe(0, 500, 150);
        assert_eq!(t.advance(150), 495);
        // Partition 1 comes back far behind: the job does not go back, but it waits for 1 now.
        t.observe(1, 300, 160);
        assert!(!t.partition_is_idle(&1, 160));
        assert_eq!(t.advance(160), 495);
        t.observe(0, 900, 170);
        assert_eq!(t.advance(170), 495);
        t.observe(1, 700, 180);
        assert_eq!(t.advance(180), 695);
    }

    #[test]
    fn when_every_partition_is_idle_the_watermark_stays() {
        let mut t = tracker();
        t.observe(0, 10, 0);
        t.observe(1, 20, 0);
        assert_eq!(t.advance(0), 5);
        assert_eq!(t.advance(1_000), 5);
        assert_eq!(t.current(), 5);
    }

    proptest::proptest! {
        /// Against a recomputation from the whole history: after every step the job watermark
        /// is the largest, over the steps so far, of the minimum over the partitions that had
        /// a record within the idle timeout, each at its newest event time minus the bound.
        #[test]
        fn the_job_watermark_matches_a_recomputation_from_history(
            bound in 0i64..20,
            idle in 1i64..50,
            steps in proptest::collection::vec((0u32..3, 0i64..200, 0i64..30, proptest::bool::ANY), 1..100),
        ) {
            let mut tracker = WatermarkTracker::new(bound, idle).unwrap();
            let mut history: Vec<(u32, i64, i64)> = Vec::new();
            let mut now = 0;
            let mut expected = Timestamp::MIN;
            for (partition, event_time, pause, record) in steps {
                now += pause;
                if record {
                    tracker.observe(partition, event_time, now);
                    history.push((partition, event_time, now));
                }
                let mut active_min: Option<i64> = None;
                for p in 0..3 {
                    let seen: Vec<_> = history.iter().filter(|h| h.0 == p).collect();
                    let Some(last) = seen.iter().map(|h| h.2).max() else { continue };
                    if now - last >= idle {
                        continue;
                    }
                    let watermark = seen.iter().map(|h| h.1).max().unwrap_or(i64::MIN) - bound;
                    active_min = Some(active_min.map_or(watermark, |m: i64| m.min(watermark)));
                }
                if let Some(min) = active_min {
                    expected = expected.max(min);
                }
                proptest::prop_assert_eq!(tracker.advance(now), expected);
            }
        }
    }

    #[test]
    fn negative_settings_are_refused() {
        assert!(WatermarkTracker::<u32>::new(-1, 0).is_err());
        assert!(WatermarkTracker::<u32>::new(0, -1).is_err());
    }
}
