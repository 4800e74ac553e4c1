//! The delivery state of one share-partition: which records are acquired, by whom and until
//! when, how often each was delivered, and where the share-partition start offset is.
//!
//! The window `[start, end)` holds one slot per offset; every offset below `start` is done
//! (acknowledged or archived) and every offset from `end` on has never been delivered. The
//! start advances over done slots, so the window only holds records still in play plus the
//! done ones behind an older undecided record; its length is bounded by the caller
//! (`max_in_flight`). Time is passed in (milliseconds), never read here.

use std::collections::VecDeque;
use std::sync::Arc;

/// The largest window a share-partition may have (the upper bound of
/// `group.share.partition.max.record.locks`); stored state claiming more is refused.
pub const MAX_WINDOW: usize = 10_000;

/// A member id, shared by every slot the member holds.
pub type MemberId = Arc<str>;

/// How a consumer settles a delivered record (KIP-932 acknowledge types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckType {
    /// Not a record (a hole left by compaction or a control batch): done, not delivered.
    Gap,
    Accept,
    /// Give it back for redelivery, to this consumer or another.
    Release,
    /// Unprocessable: never deliver it again.
    Reject,
    /// Still working on it: keep the record and extend its lock to `until_ms` (KIP-1222).
    Renew {
        until_ms: i64,
    },
}

/// The wire code of a renewal, accepted only where the protocol version allows it.
pub const RENEW_CODE: i8 = 4;

impl AckType {
    /// The settling types every version knows (a renewal is decided by the caller).
    pub fn from_wire(code: i8) -> Option<AckType> {
        match code {
            0 => Some(AckType::Gap),
            1 => Some(AckType::Accept),
            2 => Some(AckType::Release),
            3 => Some(AckType::Reject),
            _ => None,
        }
    }
}

/// Why a record left the share-partition without being accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveReason {
    Rejected,
    DeliveryCountExceeded,
}

impl ArchiveReason {
    pub fn name(self) -> &'static str {
        match self {
            ArchiveReason::Rejected => "REJECTED",
            ArchiveReason::DeliveryCountExceeded => "DELIVERY_COUNT_EXCEEDED",
        }
    }
}

/// A record archived for a reason a dead-letter topic must hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Archived {
    pub offset: i64,
    pub deliveries: u16,
    pub reason: ArchiveReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Available,
    Acquired { member: MemberId, deadline_ms: i64 },
    Acknowledged,
    Archived,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot {
    state: State,
    deliveries: u16,
}

impl Slot {
    fn is_done(&self) -> bool {
        matches!(self.state, State::Acknowledged | State::Archived)
    }
}

/// A range of acquired offsets handed to a consumer, with their delivery count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquiredRange {
    pub first: i64,
    pub last: i64,
    pub deliveries: u16,
}

/// Why an acknowledgement was refused (nothing of it was applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    #[error("offset {0} is not acquired by this member")]
    NotAcquired(i64),
    #[error("acknowledgement range {first}..={last} is empty or inverted")]
    BadRange { first: i64, last: i64 },
}

/// The limits a share-partition works under (group configs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub lock_ms: i64,
    pub delivery_count_limit: u16,
    pub max_in_flight: usize,
}

/// One stretch of the durable state: consecutive offsets in the same state and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateRun {
    pub first: i64,
    pub last: i64,
    pub state: DurableState,
    pub deliveries: u16,
}

/// A slot's state as stored: an acquisition does not survive a restart (it becomes
/// available again, its delivery counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurableState {
    Available = 0,
    Acknowledged = 2,
    Archived = 4,
}

impl DurableState {
    pub fn from_code(code: u8) -> Option<DurableState> {
        match code {
            0 => Some(DurableState::Available),
            2 => Some(DurableState::Acknowledged),
            4 => Some(DurableState::Archived),
            _ => None,
        }
    }
}

/// Counts for describing a share-partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub start: i64,
    pub end: i64,
    pub acquired: usize,
    pub available: usize,
    pub max_deliveries: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRecords {
    start: i64,
    slots: VecDeque<Slot>,
}

impl ShareRecords {
    /// A share-partition whose first undelivered record is `start`.
    pub fn new(start: i64) -> Self {
        ShareRecords {
            start,
            slots: VecDeque::new(),
        }
    }

    /// The share-partition start offset: everything below is done.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// The first offset never delivered.
    pub fn end(&self) -> i64 {
        self.start + self.slots.len() as i64
    }

    /// Redelivers available records in the window to `member`, oldest first, at most
    /// `max_records` of them.
    pub fn acquire_available(
        &mut self,
        member: &MemberId,
        now_ms: i64,
        limits: Limits,
        max_records: usize,
    ) -> Vec<AcquiredRange> {
        let mut out = Vec::new();
        let mut taken = 0;
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if taken == max_records {
                break;
            }
            if slot.state != State::Available {
                continue;
            }
            slot.state = State::Acquired {
                member: MemberId::clone(member),
                deadline_ms: now_ms + limits.lock_ms,
            };
            slot.deliveries = slot.deliveries.saturating_add(1);
            push_range(&mut out, self.start + i as i64, slot.deliveries);
            taken += 1;
        }
        out
    }

    /// How many new records the window has room for.
    pub fn room(&self, limits: Limits) -> usize {
        limits.max_in_flight.saturating_sub(self.slots.len())
    }

    /// Extends the window over `[end, upto)`: offsets inside `records` (sorted, disjoint,
    /// within the span) are acquired by `member` for their first delivery, at most
    /// `max_records` and no more than [`room`](Self::room) allows; the other offsets are
    /// holes (compacted away, control records) and are archived undelivered. Returns the
    /// acquired ranges.
    pub fn acquire_new(
        &mut self,
        member: &MemberId,
        now_ms: i64,
        limits: Limits,
        max_records: usize,
        records: &[(i64, i64)],
        upto: i64,
    ) -> Vec<AcquiredRange> {
        // Holes take window slots too, so the window bound is checked per slot.
        let full = |slots: &VecDeque<Slot>| slots.len() >= limits.max_in_flight;
        let mut out = Vec::new();
        let mut taken = 0;
        let mut next = self.end();
        for &(first, last) in records {
            let first = first.max(next);
            if last < first {
                continue;
            }
            while next < first && !full(&self.slots) {
                self.slots.push_back(Slot {
                    state: State::Archived,
                    deliveries: 0,
                });
                next += 1;
            }
            while next <= last && taken < max_records && !full(&self.slots) {
                self.slots.push_back(Slot {
                    state: State::Acquired {
                        member: MemberId::clone(member),
                        deadline_ms: now_ms + limits.lock_ms,
                    },
                    deliveries: 1,
                });
                push_range(&mut out, next, 1);
                next += 1;
                taken += 1;
            }
            if next <= last {
                break;
            }
        }
        // Trailing holes are skipped only when every record before them was taken.
        while next < upto && next > records.last().map_or(i64::MIN, |r| r.1) && !full(&self.slots) {
            self.slots.push_back(Slot {
                state: State::Archived,
                deliveries: 0,
            });
            next += 1;
        }
        self.advance();
        out
    }

    /// Settles `[first, last]` for `member`, every offset of which it must hold. Returns the
    /// records archived for a dead-letter reason.
    pub fn acknowledge(
        &mut self,
        member: &str,
        first: i64,
        last: i64,
        ack: AckType,
        limits: Limits,
    ) -> Result<Vec<Archived>, AckError> {
        if last < first {
            return Err(AckError::BadRange { first, last });
        }
        for offset in first..=last {
            match self.slot(offset).map(|s| &s.state) {
                Some(State::Acquired { member: holder, .. }) if &**holder == member => {}
                // A hole the consumer reports again is harmless.
                Some(State::Archived) if ack == AckType::Gap => {}
                None if ack == AckType::Gap && offset < self.start => {}
                _ => return Err(AckError::NotAcquired(offset)),
            }
        }
        let mut archived = Vec::new();
        for offset in first.max(self.start)..=last {
            let index = (offset - self.start) as usize;
            let slot = &mut self.slots[index];
            if slot.state == State::Archived {
                continue;
            }
            match ack {
                AckType::Renew { until_ms } => {
                    if let State::Acquired { deadline_ms, .. } = &mut slot.state {
                        *deadline_ms = until_ms;
                    }
                }
                AckType::Gap => slot.state = State::Archived,
                AckType::Accept => slot.state = State::Acknowledged,
                AckType::Reject => {
                    slot.state = State::Archived;
                    archived.push(Archived {
                        offset,
                        deliveries: slot.deliveries,
                        reason: ArchiveReason::Rejected,
                    });
                }
                AckType::Release => {
                    if let Some(a) = release(slot, offset, limits) {
                        archived.push(a);
                    }
                }
            }
        }
        self.advance();
        Ok(archived)
    }

    /// Releases every acquisition whose lock ran out by `now_ms`.
    pub fn expire_locks(&mut self, now_ms: i64, limits: Limits) -> Vec<Archived> {
        self.release_where(
            limits,
            |state| matches!(state, State::Acquired { deadline_ms, .. } if *deadline_ms <= now_ms),
        )
    }

    /// Releases every record `member` holds (it left, or closed its session).
    pub fn release_member(&mut self, member: &str, limits: Limits) -> Vec<Archived> {
        self.release_where(
            limits,
            |state| matches!(state, State::Acquired { member: holder, .. } if &**holder == member),
        )
    }

    /// The earliest lock deadline, if any record is acquired.
    pub fn next_deadline(&self) -> Option<i64> {
        self.slots
            .iter()
            .filter_map(|s| match s.state {
                State::Acquired { deadline_ms, .. } => Some(deadline_ms),
                _ => None,
            })
            .min()
    }

    /// Whether any record waits for redelivery.
    pub fn has_available(&self) -> bool {
        self.slots.iter().any(|s| s.state == State::Available)
    }

    /// Moves the start to `offset`, forgetting every delivery state (offset reset).
    pub fn reset(&mut self, offset: i64) {
        self.start = offset;
        self.slots.clear();
    }

    /// Moves the start up to `offset` when the log no longer holds the records below it.
    pub fn skip_to(&mut self, offset: i64) {
        while self.start < offset {
            if self.slots.pop_front().is_none() {
                self.start = offset;
                return;
            }
            self.start += 1;
        }
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            start: self.start,
            end: self.end(),
            ..Summary::default()
        };
        for slot in &self.slots {
            match slot.state {
                State::Acquired { .. } => summary.acquired += 1,
                State::Available => summary.available += 1,
                _ => {}
            }
            summary.max_deliveries = summary.max_deliveries.max(slot.deliveries);
        }
        summary
    }

    /// The state to store: runs of the window, acquisitions stored as available.
    pub fn durable_runs(&self) -> Vec<StateRun> {
        let mut runs: Vec<StateRun> = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let offset = self.start + i as i64;
            let state = match slot.state {
                State::Available | State::Acquired { .. } => DurableState::Available,
                State::Acknowledged => DurableState::Acknowledged,
                State::Archived => DurableState::Archived,
            };
            match runs.last_mut() {
                Some(run) if run.state == state && run.deliveries == slot.deliveries => {
                    run.last = offset
                }
                _ => runs.push(StateRun {
                    first: offset,
                    last: offset,
                    state,
                    deliveries: slot.deliveries,
                }),
            }
        }
        runs
    }

    /// Rebuilds a share-partition from stored state. Runs must be sorted, contiguous from
    /// `start`, and span at most [`MAX_WINDOW`] offsets; anything else is refused (`None`).
    pub fn restore(start: i64, runs: &[StateRun]) -> Option<Self> {
        let mut records = ShareRecords::new(start);
        for run in runs {
            if run.first != records.end() || run.last < run.first {
                return None;
            }
            let length = run.last.checked_sub(start)?.checked_add(1)?;
            if length > MAX_WINDOW as i64 {
                return None;
            }
            let state = match run.state {
                DurableState::Available => State::Available,
                DurableState::Acknowledged => State::Acknowledged,
                DurableState::Archived => State::Archived,
            };
            for _ in run.first..=run.last {
                records.slots.push_back(Slot {
                    state: state.clone(),
                    deliveries: run.deliveries,
                });
            }
        }
        records.advance();
        Some(records)
    }

    fn slot(&self, offset: i64) -> Option<&Slot> {
        if offset < self.start {
            return None;
        }
        self.slots.get(usize::try_from(offset - self.start).ok()?)
    }

    fn release_where(
        &mut self,
        limits: Limits,
        mut pick: impl FnMut(&State) -> bool,
    ) -> Vec<Archived> {
        let mut archived = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if pick(&slot.state) {
                if let Some(a) = release(slot, self.start + i as i64, limits) {
                    archived.push(a);
                }
            }
        }
        self.advance();
        archived
    }

    /// Drops done slots from the front.
    fn advance(&mut self) {
        while self.slots.front().is_some_and(Slot::is_done) {
            self.slots.pop_front();
            self.start += 1;
        }
    }
}

/// A released record becomes available again, unless its deliveries are used up.
fn release(slot: &mut Slot, offset: i64, limits: Limits) -> Option<Archived> {
    if slot.deliveries >= limits.delivery_count_limit {
        slot.state = State::Archived;
        Some(Archived {
            offset,
            deliveries: slot.deliveries,
            reason: ArchiveReason::DeliveryCountExceeded,
        })
    } else {
        slot.state = State::Available;
        None
    }
}

/// Appends `offset` to the last range when it continues it with the same count.
fn push_range(out: &mut Vec<AcquiredRange>, offset: i64, deliveries: u16) {
    match out.last_mut() {
        Some(range) if range.last + 1 == offset && range.deliveries == deliveries => {
            range.last = offset
        }
        _ => out.push(AcquiredRange {
            first: offset,
            last: offset,
            deliveries,
        }),
    }
}

#[cfg(test)]
mod tests;
