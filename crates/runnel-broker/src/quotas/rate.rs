//! A rate sampled over a few windows, and the throttle time that brings it back to a quota,
//! as Kafka's client quotas measure them (`quota.window.num` samples of
//! `quota.window.size.seconds` each).
//!
//! No clock is read here: every call takes the time, so the arithmetic is tested exactly.

use std::collections::VecDeque;

/// How a rate is sampled: `samples` windows of `window_ms` each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub samples: u32,
    pub window_ms: u64,
}

impl Default for Windows {
    /// Kafka's defaults: 11 windows of one second.
    fn default() -> Self {
        Windows {
            samples: 11,
            window_ms: 1000,
        }
    }
}

/// An amount recorded over time (bytes, or milliseconds of request handling), kept as the
/// sums of at most `samples` consecutive windows.
#[derive(Debug, Clone, Default)]
pub struct SampledRate {
    /// (start of the window in ms, amount recorded in it), oldest first.
    windows: VecDeque<(u64, f64)>,
}

impl SampledRate {
    /// Adds `amount` at `now_ms`.
    pub fn record(&mut self, config: Windows, now_ms: u64, amount: f64) {
        self.expire(config, now_ms);
        match self.windows.back_mut() {
            Some((start, sum)) if now_ms < start.saturating_add(config.window_ms) => *sum += amount,
            _ => {
                self.windows.push_back((now_ms, amount));
                while self.windows.len() > config.samples.max(1) as usize {
                    self.windows.pop_front();
                }
            }
        }
    }

    /// Drops the windows that ended before the sampled span.
    fn expire(&mut self, config: Windows, now_ms: u64) {
        let span = config
            .window_ms
            .saturating_mul(u64::from(config.samples.max(1)));
        while self
            .windows
            .front()
            .is_some_and(|(start, _)| start.saturating_add(span) <= now_ms)
        {
            self.windows.pop_front();
        }
    }

    /// Whether nothing was recorded within the sampled span (the rate can be forgotten).
    pub fn is_stale(&self, config: Windows, now_ms: u64) -> bool {
        let span = config
            .window_ms
            .saturating_mul(u64::from(config.samples.max(1)));
        self.windows
            .back()
            .is_none_or(|(start, _)| start.saturating_add(span) <= now_ms)
    }

    /// The time the rate is measured over, in ms: from the oldest window's start to now, but
    /// never less than one window, so a client's first request is not measured against the
    /// few milliseconds since it connected.
    ///
    /// Kafka pads to all windows but one instead. That lets a new client send ten windows'
    /// worth at once, and again each time the window holding such a burst expires, so a
    /// client sending flat out is held to its quota only on average over many spans. One
    /// window of padding holds it to the quota over any span from its first second.
    fn elapsed_ms(&self, config: Windows, now_ms: u64) -> u64 {
        let since_oldest = self
            .windows
            .front()
            .map_or(0, |(start, _)| now_ms.saturating_sub(*start));
        since_oldest.max(config.window_ms)
    }

    fn total(&self) -> f64 {
        self.windows.iter().map(|(_, sum)| sum).sum()
    }

    /// How long, in ms, the client must stay silent for the rate to come down to `quota`
    /// per second: the time at which the recorded amount, spread over the span, is exactly
    /// the quota, minus the span already elapsed. Zero when within the quota. Quotas are
    /// positive (see `QuotaKey::validate`).
    pub fn throttle_ms(&self, config: Windows, now_ms: u64, quota: f64) -> u64 {
        let needed_ms = self.total() * 1000.0 / quota;
        let over = needed_ms - self.elapsed_ms(config, now_ms) as f64;
        if over > 0.0 {
            over.ceil() as u64
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    const KAFKA: Windows = Windows {
        samples: 11,
        window_ms: 1000,
    };

    #[test]
    fn a_first_burst_is_measured_against_one_window() {
        let mut rate = SampledRate::default();
        rate.record(KAFKA, 0, 1000.0);
        assert_eq!(rate.throttle_ms(KAFKA, 0, 1000.0), 0);
        rate.record(KAFKA, 0, 500.0);
        // 1500 bytes at 1000/s take 1.5 s, 1 s of which counts as elapsed.
        assert_eq!(rate.throttle_ms(KAFKA, 0, 1000.0), 500);
        // Waiting it out is enough: the next request is measured against 1.5 s.
        rate.record(KAFKA, 1500, 0.0);
        assert_eq!(rate.throttle_ms(KAFKA, 1500, 1000.0), 0);
    }

    #[test]
    fn a_client_sending_flat_out_is_held_to_the_quota_over_every_span() {
        // 100-byte requests against 1000 bytes/s, each sent as soon as the throttle ends.
        let mut rate = SampledRate::default();
        let mut now = 0;
        let mut sent_at = Vec::new();
        while now < 60_000 {
            rate.record(KAFKA, now, 100.0);
            sent_at.push(now);
            now += rate.throttle_ms(KAFKA, now, 1000.0).max(1);
        }
        // The first window's allowance (sent at once) is paid back by waiting in the first
        // second, and handed out again when that window expires: a few percent either way.
        for start in (1_000..50_000).step_by(700) {
            let sent = sent_at
                .iter()
                .filter(|t| (start..start + 10_000).contains(*t))
                .count();
            assert!(
                (95..=105).contains(&sent),
                "{sent} requests from {start} ms"
            );
        }
    }

    #[test]
    fn old_windows_stop_counting_after_the_span() {
        let mut rate = SampledRate::default();
        rate.record(KAFKA, 0, 50_000.0);
        assert_eq!(rate.throttle_ms(KAFKA, 0, 1000.0), 49_000);
        rate.record(KAFKA, 11_000, 100.0);
        // The 50 000 bytes are forgotten: 100 bytes in a fresh window is within 100 per second.
        assert_eq!(rate.throttle_ms(KAFKA, 11_000, 100.0), 0);
        rate.record(KAFKA, 11_000, 1.0);
        assert_eq!(rate.throttle_ms(KAFKA, 11_000, 100.0), 10);
        assert!(!rate.is_stale(KAFKA, 21_999));
        assert!(rate.is_stale(KAFKA, 22_000));
    }

    proptest! {
        /// A client that waits out every throttle it is given sends, by any moment, at most
        /// the quota times the time elapsed, plus the span's worth (a client idle within
        /// the span may use the idle time at once, as with Kafka's sampled rate) and one
        /// request: the property the broker's muting relies on, whatever the sizes and
        /// pauses of the requests.
        #[test]
        fn waiting_out_the_throttle_holds_the_rate_to_the_quota(
            quota in 100.0f64..100_000.0,
            requests in proptest::collection::vec((1.0f64..20_000.0, 0u64..3000), 1..400),
        ) {
            let mut rate = SampledRate::default();
            let mut now = 0u64;
            let mut sent = 0.0;
            let mut largest: f64 = 0.0;
            for (size, pause) in requests {
                rate.record(KAFKA, now, size);
                sent += size;
                largest = largest.max(size);
                let allowance = quota * (now + 11_000) as f64 / 1000.0 + largest;
                prop_assert!(sent <= allowance, "{sent} sent by {now} ms, allowance {allowance}");
                now += rate.throttle_ms(KAFKA, now, quota) + pause;
            }
        }
    }
}
