//! Matching a pattern per key in event-time order: records wait until the watermark passes
//! them, are matched in order of event time (then arrival), and partial matches that run
//! out of time are reported.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::rc::Rc;

use bytes::Bytes;

use super::codec::{decode, encode};
use super::nfa::{Event, Partial};
use super::pattern::{AfterMatchSkip, Pattern};
use crate::error::StreamsError;
use crate::record::{Record, Timestamp};
use crate::serdes::Serde;

/// Whether a partial match starting at an event (its event time and arrival number) is
/// ruled out by a match.
type SkipRule = Box<dyn Fn((Timestamp, u64)) -> bool>;

/// A match, or a partial match that timed out: the events, oldest first, each with the
/// stage that took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match<V> {
    pub events: Vec<MatchedEvent<V>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedEvent<V> {
    pub stage: Rc<str>,
    pub timestamp: Timestamp,
    pub value: V,
}

impl<V> Match<V> {
    /// The events the stage `name` took, oldest first.
    pub fn stage<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a V> + 'a {
        self.events
            .iter()
            .filter(move |e| &*e.stage == name)
            .map(|e| &e.value)
    }
}

/// What the matcher reports, per key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<V> {
    /// A complete match, at the event time of its last event.
    Matched(Match<V>),
    /// A partial match whose time (`within`) ran out, at the last millisecond it had.
    TimedOut(Match<V>),
}

/// One key's state: the records waiting for the watermark, keyed by event time and arrival
/// number, the partial matches in progress, and the next arrival number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyState<V> {
    pub waiting: BTreeMap<(Timestamp, u64), V>,
    pub partials: Vec<Partial<V>>,
    pub next_seq: u64,
}

impl<V> Default for KeyState<V> {
    fn default() -> Self {
        KeyState {
            waiting: BTreeMap::new(),
            partials: Vec::new(),
            next_seq: 0,
        }
    }
}

/// Matches a pattern over the records of each key. Records come with their event time; the
/// watermark is moved by the caller (`advance_watermark`). A record is matched once the
/// watermark has passed it; a record older than the watermark when it arrives is late,
/// dropped and counted.
pub struct PatternMatcher<K, V> {
    pattern: Pattern<V>,
    keys: BTreeMap<K, KeyState<V>>,
    /// Per key, the watermark at which it has work: a waiting record to match, or a partial
    /// match to time out.
    wake: BTreeSet<(Timestamp, K)>,
    watermark: Timestamp,
    late_records_dropped: u64,
    /// While tracking changes: the keys whose state changed since asked.
    changed: Option<BTreeSet<K>>,
}

impl<K, V> fmt::Debug for PatternMatcher<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PatternMatcher")
            .field("pattern", &self.pattern)
            .field("keys", &self.keys.len())
            .field("watermark", &self.watermark)
            .field("late_records_dropped", &self.late_records_dropped)
            .finish_non_exhaustive()
    }
}

impl<K: Ord + Clone, V: Clone> PatternMatcher<K, V> {
    pub fn new(pattern: Pattern<V>) -> Self {
        PatternMatcher {
            pattern,
            keys: BTreeMap::new(),
            wake: BTreeSet::new(),
            watermark: Timestamp::MIN,
            late_records_dropped: 0,
            changed: None,
        }
    }

    pub fn watermark(&self) -> Timestamp {
        self.watermark
    }

    pub fn late_records_dropped(&self) -> u64 {
        self.late_records_dropped
    }

    /// Takes a record: it waits for the watermark, or is dropped if the watermark already
    /// passed it.
    pub fn process(&mut self, record: Record<K, V>) {
        if record.timestamp < self.watermark {
            self.late_records_dropped += 1;
            return;
        }
        let before = self.wake_time(&record.key);
        let state = self.keys.entry(record.key.clone()).or_default();
        state
            .waiting
            .insert((record.timestamp, state.next_seq), record.value);
        state.next_seq += 1;
        self.mark_changed(&record.key);
        self.rewake(record.key, before);
    }

    /// Moves event time to `watermark`: matches the records it passed and times out the
    /// partial matches it ran out, in event-time order over all keys, appending what
    /// happened to `out`.
    pub fn advance_watermark(&mut self, watermark: Timestamp, out: &mut Vec<(K, Outcome<V>)>) {
        if watermark <= self.watermark {
            return;
        }
        self.watermark = watermark;
        while let Some((at, key)) = self.wake.first().cloned() {
            if at > watermark {
                break;
            }
            self.wake.remove(&(at, key.clone()));
            let Some(mut state) = self.keys.remove(&key) else {
                continue;
            };
            self.next_for_key(&key, &mut state, out);
            self.mark_changed(&key);
            if !state.waiting.is_empty() || !state.partials.is_empty() {
                self.keys.insert(key.clone(), state);
            }
            if let Some(at) = self.wake_time(&key) {
                self.wake.insert((at, key));
            }
        }
    }

    /// Does the key's earliest work: time out its partial matches whose deadline comes
    /// first (a record at the deadline is already too late for them), or else match its
    /// oldest waiting record.
    fn next_for_key(&self, key: &K, state: &mut KeyState<V>, out: &mut Vec<(K, Outcome<V>)>) {
        let deadline = self.deadline(state);
        let record_first = state
            .waiting
            .keys()
            .next()
            .is_some_and(|&(t, _)| deadline.is_none_or(|d| t < d));
        if record_first {
            if let Some(((timestamp, seq), value)) = state.waiting.pop_first() {
                let partials = std::mem::take(&mut state.partials);
                let event = Event {
                    value: &value,
                    timestamp,
                    seq,
                };
                let step = self.pattern.step(partials, event);
                state.partials = self.after_matches(key, step.partials, step.completed, out);
            }
        } else if let Some(deadline) = deadline {
            self.time_out(key, state, deadline, out);
        }
    }

    /// The earliest deadline of the key's partial matches.
    fn deadline(&self, state: &KeyState<V>) -> Option<Timestamp> {
        let within = self.pattern.within?;
        state
            .partials
            .iter()
            .map(|p| p.first().0.saturating_add(within))
            .min()
    }

    /// Reports and drops the partial matches whose time ran out by `now`.
    fn time_out(
        &self,
        key: &K,
        state: &mut KeyState<V>,
        now: Timestamp,
        out: &mut Vec<(K, Outcome<V>)>,
    ) {
        let Some(within) = self.pattern.within else {
            return;
        };
        state.partials.retain(|partial| {
            let deadline = partial.first().0.saturating_add(within);
            if deadline > now {
                return true;
            }
            if !self.pattern.is_complete(partial) {
                out.push((key.clone(), Outcome::TimedOut(self.to_match(partial))));
            }
            false
        });
    }

    /// Emits the completed matches in order, each dropping the partial matches (and later
    /// matches of the same event) its skip strategy rules out.
    fn after_matches(
        &self,
        key: &K,
        mut partials: Vec<Partial<V>>,
        completed: Vec<Partial<V>>,
        out: &mut Vec<(K, Outcome<V>)>,
    ) -> Vec<Partial<V>> {
        let mut skips: Vec<SkipRule> = Vec::new();
        for matched in completed {
            let first = matched.first();
            if skips.iter().any(|skipped| skipped(first)) {
                continue;
            }
            if let Some(skipped) = self.skip_rule(&matched) {
                skips.push(skipped);
            }
            out.push((key.clone(), Outcome::Matched(self.to_match(&matched))));
        }
        if !skips.is_empty() {
            partials.retain(|p| !skips.iter().any(|skipped| skipped(p.first())));
        }
        partials
    }

    /// Which partial matches (by their first event's place in the order events are
    /// matched) a match rules out.
    fn skip_rule(&self, matched: &Partial<V>) -> Option<SkipRule> {
        let places_of = |name: &str| {
            matched
                .events
                .iter()
                .zip(&matched.times)
                .filter(|((stage, _), _)| {
                    self.pattern.names.get(*stage).is_some_and(|n| &**n == name)
                })
                .map(|(_, &place)| place)
                .collect::<Vec<_>>()
        };
        match &self.pattern.skip {
            AfterMatchSkip::NoSkip => None,
            AfterMatchSkip::ToNext => {
                let first = matched.first();
                Some(Box::new(move |place| place == first))
            }
            AfterMatchSkip::PastLastEvent => {
                let last = *matched.times.last()?;
                Some(Box::new(move |place| place <= last))
            }
            AfterMatchSkip::ToFirst(name) => {
                let to = *places_of(name).first()?;
                Some(Box::new(move |place| place < to))
            }
            AfterMatchSkip::ToLast(name) => {
                let to = *places_of(name).last()?;
                Some(Box::new(move |place| place < to))
            }
        }
    }

    fn to_match(&self, partial: &Partial<V>) -> Match<V> {
        let events = partial
            .events
            .iter()
            .zip(&partial.times)
            .map(|((stage, value), &(timestamp, _))| MatchedEvent {
                stage: self
                    .pattern
                    .names
                    .get(*stage)
                    .cloned()
                    .unwrap_or_else(|| "".into()),
                timestamp,
                value: value.clone(),
            })
            .collect();
        Match { events }
    }

    /// The watermark at which the key has work: past its oldest waiting record, or at the
    /// earliest deadline of its partial matches.
    fn wake_time(&self, key: &K) -> Option<Timestamp> {
        let state = self.keys.get(key)?;
        let waiting = state
            .waiting
            .keys()
            .next()
            .map(|&(t, _)| t.saturating_add(1));
        match (waiting, self.deadline(state)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn rewake(&mut self, key: K, before: Option<Timestamp>) {
        if let Some(at) = before {
            self.wake.remove(&(at, key.clone()));
        }
        if let Some(at) = self.wake_time(&key) {
            self.wake.insert((at, key));
        }
    }

    fn mark_changed(&mut self, key: &K) {
        if let Some(changed) = &mut self.changed {
            changed.insert(key.clone());
        }
    }

    pub fn pattern(&self) -> &Pattern<V> {
        &self.pattern
    }

    /// From now on, remembers which keys' state changes, for `take_changed`.
    pub fn track_changes(&mut self) {
        self.changed.get_or_insert_with(BTreeSet::new);
    }

    /// The keys whose state changed since the last call, with that state encoded (see
    /// `codec.rs`; `None` once the key holds nothing).
    pub(crate) fn take_changed(
        &mut self,
        values: &dyn Serde<V>,
    ) -> Result<Vec<(K, Option<Bytes>)>, StreamsError> {
        let changed = self
            .changed
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        changed
            .into_iter()
            .map(|key| {
                let state = self.keys.get(&key).map(|s| encode(s, values)).transpose()?;
                Ok((key, state))
            })
            .collect()
    }

    /// Puts back a key's state as `take_changed` gave it (or forgets the key, for `None`).
    pub(crate) fn restore(
        &mut self,
        key: K,
        state: Option<&[u8]>,
        values: &dyn Serde<V>,
    ) -> Result<(), String> {
        let state = state
            .map(|bytes| decode(bytes, values, self.pattern.stages.len()))
            .transpose()?;
        let before = self.wake_time(&key);
        match state {
            Some(state) => {
                self.keys.insert(key.clone(), state);
            }
            None => {
                self.keys.remove(&key);
            }
        }
        self.rewake(key, before);
        Ok(())
    }
}
