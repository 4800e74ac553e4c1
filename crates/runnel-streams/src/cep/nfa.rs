//! Matching one key's events, in order, against a pattern: the partial matches in
//! progress, and what each event does to them (take it, skip it, or end them).
//!
//! A partial match remembers, besides its events, what the events it skipped since its last
//! one rule out: the stages that would have taken one of them (relaxed contiguity forbids
//! entering those), the negations one of them satisfied, whether any was skipped at all
//! (strict contiguity), and whether a greedy stage could have repeated on one. A partial
//! match that no later event could extend any more is dropped at once.

use super::pattern::{Contiguity, Exits, Greed, Matched, Pattern, StageKind};
use crate::record::Timestamp;

/// What the events skipped since a partial match's last event rule out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Gap {
    pub skipped: bool,
    /// Stages (one bit per index) that would have taken a skipped event.
    pub blocked: u64,
    /// Negations (one bit per index) a skipped event satisfied.
    pub negated: u64,
    /// The current stage is greedy and could have repeated on a skipped event.
    pub greedy_blocked: bool,
}

/// A match in progress: its events (stage index and value, with event time and the key's
/// sequence number), the stage it is in and how many events that stage has taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Partial<V> {
    pub events: Vec<(usize, V)>,
    pub times: Vec<(Timestamp, u64)>,
    pub stage: usize,
    pub count: u32,
    pub gap: Gap,
}

impl<V> Partial<V> {
    pub fn first(&self) -> (Timestamp, u64) {
        self.times.first().copied().unwrap_or((Timestamp::MIN, 0))
    }
}

/// An event of the key, in the order events are matched: by event time, then arrival.
#[derive(Debug)]
pub(super) struct Event<'a, V> {
    pub value: &'a V,
    pub timestamp: Timestamp,
    pub seq: u64,
}

impl<V> Clone for Event<'_, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V> Copy for Event<'_, V> {}

/// What one event did to a key's partial matches.
#[derive(Debug)]
pub(super) struct Step<V> {
    /// The partial matches after the event (the new ones included), in a stable order.
    pub partials: Vec<Partial<V>>,
    /// The partial matches the event completed, ordered by first event, then events.
    pub completed: Vec<Partial<V>>,
}

fn bit(index: usize) -> u64 {
    1u64 << index
}

impl<V: Clone> Pattern<V> {
    fn accepts(&self, stage: usize, event: &V, partial: Option<&Partial<V>>) -> bool {
        let events = partial.map_or(&[][..], |p| &p.events[..]);
        let matched = Matched {
            names: &self.names,
            events,
        };
        self.condition(stage)
            .is_some_and(|condition| condition(event, &matched))
    }

    fn take_kind(&self, stage: usize) -> Option<(Contiguity, u32, u32, Contiguity, Greed)> {
        match self.stages.get(stage)?.kind {
            StageKind::Take {
                entry,
                min,
                max,
                inner,
                greed,
            } => Some((entry, min, max, inner, greed)),
            StageKind::NotNext | StageKind::NotFollowedBy => None,
        }
    }

    fn exits_of(&self, partial: &Partial<V>) -> Option<&Exits> {
        let (_, min, ..) = self.take_kind(partial.stage)?;
        if partial.count < min {
            return None;
        }
        self.exits.get(partial.stage)
    }

    /// Whether the partial match is a match: its stage has its minimum and the pattern may
    /// end after it.
    pub(super) fn is_complete(&self, partial: &Partial<V>) -> bool {
        self.exits_of(partial).is_some_and(|e| e.can_end)
    }

    /// Whether some later event could still be added to the partial match.
    fn may_grow(&self, partial: &Partial<V>) -> bool {
        let repeats = self
            .take_kind(partial.stage)
            .is_some_and(|(_, _, max, ..)| partial.count < max);
        repeats
            || self
                .exits_of(partial)
                .is_some_and(|e| !e.targets.is_empty())
    }

    /// Whether the stage of the partial match may take `event` as one more repetition.
    fn can_repeat(&self, partial: &Partial<V>, event: &V) -> bool {
        let Some((_, min, max, inner, greed)) = self.take_kind(partial.stage) else {
            return false;
        };
        if partial.count >= max
            || !self.contiguous(inner, partial.stage, &partial.gap)
            || !self.accepts(partial.stage, event, Some(partial))
        {
            return false;
        }
        if greed == Greed::Reluctant && partial.count >= min {
            let exits = self.exits_of(partial);
            let moves_on = exits.is_some_and(|e| {
                e.can_end
                    || e.targets
                        .iter()
                        .any(|&(target, negs)| self.can_enter(partial, target, negs, event))
            });
            return !moves_on;
        }
        true
    }

    /// Whether the partial match may go on to stage `target`, behind the negations `negs`,
    /// with `event`.
    fn can_enter(&self, partial: &Partial<V>, target: usize, negs: u64, event: &V) -> bool {
        let Some((entry, ..)) = self.take_kind(target) else {
            return false;
        };
        if !self.contiguous(entry, target, &partial.gap) {
            return false;
        }
        let negated = partial.gap.negated | self.negations_satisfied(negs, event, partial, false);
        if negated & negs != 0 {
            return false;
        }
        if self.is_greedy(partial.stage)
            && (partial.gap.greedy_blocked || self.can_repeat(partial, event))
        {
            return false;
        }
        self.accepts(target, event, Some(partial))
    }

    fn is_greedy(&self, stage: usize) -> bool {
        matches!(self.take_kind(stage), Some((.., Greed::Greedy)))
    }

    /// Whether a stage with `contiguity` may take an event after the gap.
    fn contiguous(&self, contiguity: Contiguity, stage: usize, gap: &Gap) -> bool {
        match contiguity {
            Contiguity::Strict => !gap.skipped,
            Contiguity::Relaxed => gap.blocked & bit(stage) == 0,
            Contiguity::Any => true,
        }
    }

    /// The negations among `negs` that `event` satisfies, of the kinds that apply to it:
    /// `not_next` ones only when it comes right after the partial match's last event,
    /// `not_followed_by` ones only when it is skipped (never the event a stage takes).
    fn negations_satisfied(
        &self,
        negs: u64,
        event: &V,
        partial: &Partial<V>,
        skipped: bool,
    ) -> u64 {
        let right_after = !partial.gap.skipped;
        let mut satisfied = 0;
        for (index, stage) in self.stages.iter().enumerate() {
            let applies = match stage.kind {
                StageKind::NotNext => right_after,
                StageKind::NotFollowedBy => skipped,
                StageKind::Take { .. } => false,
            };
            if negs & bit(index) != 0 && applies && self.accepts(index, event, Some(partial)) {
                satisfied |= bit(index);
            }
        }
        satisfied
    }

    /// The partial match after skipping `event`, or `None` if no later event could extend
    /// it then.
    fn skip(&self, partial: &Partial<V>, event: &V) -> Option<Gap> {
        let mut gap = partial.gap;
        let repeats = self
            .take_kind(partial.stage)
            .is_some_and(|(_, _, max, ..)| partial.count < max);
        if repeats && self.accepts(partial.stage, event, Some(partial)) {
            gap.blocked |= bit(partial.stage);
        }
        if self.is_greedy(partial.stage) && self.can_repeat(partial, event) {
            gap.greedy_blocked = true;
        }
        let exits = self.exits_of(partial);
        if let Some(exits) = exits {
            for &(target, _) in &exits.targets {
                if self.accepts(target, event, Some(partial)) {
                    gap.blocked |= bit(target);
                }
            }
            gap.negated |= self.negations_satisfied(exits.negations, event, partial, true);
        }
        gap.skipped = true;
        let may_repeat = repeats
            && self
                .take_kind(partial.stage)
                .is_some_and(|(_, _, _, inner, _)| {
                    inner != Contiguity::Strict && self.contiguous(inner, partial.stage, &gap)
                });
        let may_enter = exits.is_some_and(|exits| {
            !(self.is_greedy(partial.stage) && gap.greedy_blocked)
                && exits.targets.iter().any(|&(target, negs)| {
                    self.take_kind(target).is_some_and(|(entry, ..)| {
                        entry != Contiguity::Strict
                            && self.contiguous(entry, target, &gap)
                            && gap.negated & negs == 0
                    })
                })
        });
        (may_repeat || may_enter).then_some(gap)
    }

    /// What `event` does to the partial matches of its key.
    pub(super) fn step(&self, partials: Vec<Partial<V>>, event: Event<'_, V>) -> Step<V> {
        let mut kept = Vec::with_capacity(partials.len());
        let mut grown = Vec::new();
        for partial in partials {
            if self.can_repeat(&partial, event.value) {
                grown.push(self.extend(&partial, partial.stage, partial.count + 1, event));
            }
            if let Some(exits) = self.exits_of(&partial) {
                for &(target, negs) in &exits.targets {
                    if self.can_enter(&partial, target, negs, event.value) {
                        grown.push(self.extend(&partial, target, 1, event));
                    }
                }
            }
            if let Some(gap) = self.skip(&partial, event.value) {
                kept.push(Partial { gap, ..partial });
            }
        }
        for &(target, _) in &self.starts.targets {
            if self.accepts(target, event.value, None) {
                grown.push(Partial {
                    events: vec![(target, event.value.clone())],
                    times: vec![(event.timestamp, event.seq)],
                    stage: target,
                    count: 1,
                    gap: Gap::default(),
                });
            }
        }
        let mut completed = Vec::new();
        for partial in grown {
            let complete = self.is_complete(&partial);
            let grows = self.may_grow(&partial);
            match (complete, grows) {
                (true, true) => {
                    completed.push(partial.clone());
                    kept.push(partial);
                }
                (true, false) => completed.push(partial),
                (false, _) => kept.push(partial),
            }
        }
        completed.sort_by_cached_key(order);
        kept.sort_by_cached_key(order);
        Step {
            partials: kept,
            completed,
        }
    }

    fn extend(
        &self,
        partial: &Partial<V>,
        stage: usize,
        count: u32,
        event: Event<'_, V>,
    ) -> Partial<V> {
        let mut events = partial.events.clone();
        events.push((stage, event.value.clone()));
        let mut times = partial.times.clone();
        times.push((event.timestamp, event.seq));
        Partial {
            events,
            times,
            stage,
            count,
            gap: Gap::default(),
        }
    }
}

/// Partial matches are ordered by their events' places in the order events are matched
/// (first event first), then by the stages that took them.
fn order<V>(partial: &Partial<V>) -> (Vec<(Timestamp, u64)>, Vec<usize>) {
    let seqs = partial.times.clone();
    let stages = partial.events.iter().map(|&(stage, _)| stage).collect();
    (seqs, stages)
}
