//! Limits on connections, with Kafka's setting names: how many may be open
//! (`max.connections`, `max.connections.per.ip`) and how long one may do nothing
//! (`connections.max.idle.ms`).
//!
//! A connection over a limit is closed as soon as it is accepted, before anything is read
//! from it, so the connections already open keep their share of the broker. Idleness is
//! counted from the last complete request received or response sent: a client that sends
//! part of a frame and stops is as idle as one that sends nothing, and a connection waiting
//! for the answer to a request (a long-polling fetch) is never idle.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// Why a new connection was closed at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{max} connections are open, the max.connections limit")]
    Total { max: usize },
    #[error("{max} connections from {ip} are open, the max.connections.per.ip limit")]
    PerIp { ip: IpAddr, max: usize },
}

/// Counts open connections, in total and per client address, against the limits.
#[derive(Debug)]
pub struct Admission {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<OpenConnections>,
    refused: AtomicU64,
}

#[derive(Debug, Default)]
struct OpenConnections {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

impl Admission {
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        Admission {
            max_total,
            max_per_ip,
            open: Mutex::new(OpenConnections::default()),
            refused: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, OpenConnections> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a connection from `ip`, which counts until the returned slot is dropped.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refusal> {
        let mut open = self.lock();
        let from_ip = open.per_ip.get(&ip).copied().unwrap_or(0);
        let refusal = if from_ip >= self.max_per_ip {
            Some(Refusal::PerIp {
                ip,
                max: self.max_per_ip,
            })
        } else if open.total >= self.max_total {
            Some(Refusal::Total {
                max: self.max_total,
            })
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.refused.fetch_add(1, Ordering::AcqRel);
            return Err(refusal);
        }
        open.total += 1;
        *open.per_ip.entry(ip).or_insert(0) += 1;
        Ok(Slot {
            admission: Arc::clone(self),
            ip,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    /// Connections closed at once since start because a limit was reached.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Acquire)
    }

    fn release(&self, ip: IpAddr) {
        let mut open = self.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_ip.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                open.per_ip.remove(&ip);
            }
        }
    }
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Slot {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admission.release(self.ip);
    }
}

/// When a connection last completed a request or a response, and how many of its requests
/// are still unanswered.
#[derive(Debug)]
pub struct Activity {
    opened: Instant,
    /// Milliseconds from `opened` to the last completed request or response.
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    pub fn new(now: Instant) -> Self {
        Activity {
            opened: now,
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self, now: Instant) {
        let ms = u64::try_from(now.saturating_duration_since(self.opened).as_millis())
            .unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::AcqRel);
    }

    /// A whole request arrived.
    pub fn request_received(&self, now: Instant) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch(now);
    }

    /// A request was answered (or needed no answer).
    pub fn request_done(&self, now: Instant) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.touch(now);
    }

    /// When the connection counts as idle if nothing more happens; `None` while a request
    /// is unanswered.
    pub fn idle_at(&self, max_idle: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let last = self.opened + Duration::from_millis(self.last_ms.load(Ordering::Acquire));
        Some(last + max_idle)
    }
}

/// Until when a connection's requests are left unread because its client went over a quota
/// (KIP-219: the response goes out at once, then the connection is muted for the throttle
/// time, so a client that ignores the throttle time is held back all the same).
#[derive(Debug)]
pub struct Mute {
    opened: Instant,
    /// Milliseconds from `opened` to the end of the mute.
    until_ms: AtomicU64,
}

impl Mute {
    pub fn new(now: Instant) -> Self {
        Mute {
            opened: now,
            until_ms: AtomicU64::new(0),
        }
    }

    /// Mutes the connection for `ms` from `now`, unless it already is for longer.
    pub fn hold(&self, now: Instant, ms: u64) {
        if ms == 0 {
            return;
        }
        let since_open = u64::try_from(now.saturating_duration_since(self.opened).as_millis())
            .unwrap_or(u64::MAX);
        self.until_ms
            .fetch_max(since_open.saturating_add(ms), Ordering::AcqRel);
    }

    /// When reading may resume; in the past when the connection is not muted.
    pub fn until(&self) -> Instant {
        self.opened + Duration::from_millis(self.until_ms.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn each_address_is_limited_and_a_closed_connection_frees_its_place() {
        let admission = Arc::new(Admission::new(10, 2));
        let a1 = admission.admit(A).unwrap();
        let _a2 = admission.admit(A).unwrap();
        assert_eq!(
            admission.admit(A).unwrap_err(),
            Refusal::PerIp { ip: A, max: 2 }
        );
        let _b1 = admission.admit(B).unwrap();
        drop(a1);
        let _a3 = admission.admit(A).unwrap();
        assert_eq!((admission.open(), admission.refused()), (3, 1));
    }

    #[test]
    fn the_total_is_limited_across_addresses() {
        let admission = Arc::new(Admission::new(2, 5));
        let _a = admission.admit(A).unwrap();
        let b = admission.admit(B).unwrap();
        assert_eq!(admission.admit(A).unwrap_err(), Refusal::Total { max: 2 });
        drop(b);
        assert!(admission.admit(A).is_ok());
        let message = Refusal::Total { max: 2 }.to_string();
        assert!(message.contains("max.connections"), "{message}");
    }

    #[test]
    fn a_mute_lasts_until_the_longest_throttle_given() {
        let opened = Instant::now();
        let mute = Mute::new(opened);
        assert_eq!(mute.until(), opened);
        mute.hold(opened + Duration::from_secs(1), 500);
        mute.hold(opened + Duration::from_secs(1), 200);
        assert_eq!(mute.until(), opened + Duration::from_millis(1500));
        mute.hold(opened + Duration::from_secs(1), 0);
        assert_eq!(mute.until(), opened + Duration::from_millis(1500));
    }

    #[test]
    fn idleness_counts_from_the_last_request_or_response_and_not_while_one_is_pending() {
        let opened = Instant::now();
        let idle = Duration::from_secs(10);
        let activity = Activity::new(opened);
        assert_eq!(activity.idle_at(idle), Some(opened + idle));
        activity.request_received(opened + Duration::from_secs(3));
        assert_eq!(activity.idle_at(idle), None, "a request is unanswered");
        activity.request_done(opened + Duration::from_secs(20));
        assert_eq!(
            activity.idle_at(idle),
            Some(opened + Duration::from_secs(30))
        );
        // Concurrent requests may complete out of order in time: the latest counts.
        activity.request_received(opened + Duration::from_secs(25));
        activity.request_done(opened + Duration::from_secs(24));
        assert_eq!(
            activity.idle_at(idle),
            Some(opened + Duration::from_secs(35))
        );
    }
}
