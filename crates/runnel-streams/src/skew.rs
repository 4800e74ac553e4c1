use crate::record::Timestamp;

/// Chooses the event time of a record from its content.
pub trait TimestampExtractor<K, V> {
    /// `record_timestamp` is the timestamp the record arrived with.
    fn extract(&self, key: &K, value: &V, record_timestamp: Timestamp) -> Timestamp;
}

/// The three clocks a device report carries: when the event happened and when the report
/// was sent, both by the device's clock, and when the server received it, by the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceTimes {
    pub event: Timestamp,
    pub sent: Timestamp,
    pub received: Timestamp,
}

/// The event time on the server's clock. The device's clock is off by roughly
/// `received - sent` (network delay is counted as skew; it is small next to the clock errors
/// this corrects), and that offset applies to every reading of the same clock.
pub fn corrected_event_time(times: DeviceTimes) -> Timestamp {
    times
        .event
        .saturating_add(times.received.saturating_sub(times.sent))
}

/// A ready extractor: reads the three times from a value and corrects the device's skew.
pub struct ClockSkewCorrection<F> {
    times_of: F,
}

impl<F> ClockSkewCorrection<F> {
    pub fn new(times_of: F) -> Self {
        ClockSkewCorrection { times_of }
    }
}

impl<F> std::fmt::Debug for ClockSkewCorrection<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClockSkewCorrection")
            .finish_non_exhaustive()
    }
}

impl<K, V, F: Fn(&V) -> DeviceTimes> TimestampExtractor<K, V> for ClockSkewCorrection<F> {
    fn extract(&self, _key: &K, value: &V, _record_timestamp: Timestamp) -> Timestamp {
        corrected_event_time((self.times_of)(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_clock_behind_the_server_moves_events_forward() {
        // The device thinks it is 1_000 when the server says 1_500 (minus nothing in transit).
        let times = DeviceTimes {
            event: 900,
            sent: 1_000,
            received: 1_500,
        };
        assert_eq!(corrected_event_time(times), 1_400);
        let ahead = DeviceTimes {
            event: 900,
            sent: 1_000,
            received: 700,
        };
        assert_eq!(corrected_event_time(ahead), 600);
        let extractor = ClockSkewCorrection::new(|v: &DeviceTimes| *v);
        assert_eq!(extractor.extract(&(), &times, 0), 1_400);
    }
}
