//! The pattern a key's events are matched against, and its builder.

use std::fmt;
use std::ops::RangeInclusive;
use std::rc::Rc;

use crate::error::StreamsError;
use crate::record::Timestamp;

/// How the event a stage takes may follow the event matched before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contiguity {
    /// The very next event of the key (`next`, `consecutive`).
    Strict,
    /// The first later event the stage's condition accepts: events in between may be
    /// skipped only if the stage would not take them (`followed_by`, and repetitions by
    /// default).
    Relaxed,
    /// Any later event the condition accepts, skipping any others (`followed_by_any`,
    /// `allow_combinations`).
    Any,
}

/// Whether a repeating stage prefers to repeat or to let the pattern go on, when an event
/// would do for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Greed {
    /// Both: every way of splitting the events between the stage and the next ones matches.
    Both,
    /// An event the stage could repeat on is never given to (or skipped for) a later stage.
    Greedy,
    /// Once the stage has its minimum, it does not repeat on an event a later stage could
    /// take, nor once the pattern could end.
    Reluctant,
}

/// What happens to the partial matches in progress when a match is emitted (Flink's
/// after-match skip strategies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterMatchSkip {
    /// Nothing: every match is emitted.
    NoSkip,
    /// Partial matches that started with the match's first event are dropped.
    ToNext,
    /// Partial matches that started at or before the match's last event are dropped: matches
    /// never share events.
    PastLastEvent,
    /// Partial matches that started before the first event the named stage took are
    /// dropped (nothing is, when the stage took no event).
    ToFirst(String),
    /// Partial matches that started before the last event the named stage took are dropped
    /// (nothing is, when the stage took no event).
    ToLast(String),
}

/// The events a partial match has taken so far, which conditions may look at.
#[derive(Debug)]
pub struct Matched<'a, V> {
    pub(super) names: &'a [Rc<str>],
    pub(super) events: &'a [(usize, V)],
}

impl<'a, V> Matched<'a, V> {
    /// The events taken by the stage `name`, oldest first.
    pub fn events<'b>(&'b self, name: &'b str) -> impl Iterator<Item = &'a V> + 'b {
        self.events
            .iter()
            .filter(move |(stage, _)| self.names.get(*stage).is_some_and(|n| &**n == name))
            .map(|(_, value)| value)
    }

    /// Every event taken so far with the name of its stage, oldest first.
    pub fn all(&self) -> impl Iterator<Item = (&'a str, &'a V)> + '_ {
        self.events.iter().map(|(stage, value)| {
            let name = self.names.get(*stage).map_or("", |n| &**n);
            (name, value)
        })
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// Whether a stage accepts an event, given what the partial match holds so far.
pub type Condition<V> = Rc<dyn Fn(&V, &Matched<'_, V>) -> bool>;

pub(super) enum StageKind {
    /// Takes between `min` and `max` events (`max` is `u32::MAX` for one-or-more).
    Take {
        entry: Contiguity,
        min: u32,
        max: u32,
        inner: Contiguity,
        greed: Greed,
    },
    /// The event right after the previous stage's last event must not be accepted.
    NotNext,
    /// No event between the previous stage's last event and the next stage's first may be
    /// accepted.
    NotFollowedBy,
}

pub(super) struct Stage<V> {
    pub condition: Condition<V>,
    pub kind: StageKind,
}

/// A sequence of stages matched per key in event-time order; built with `Pattern::begin`.
pub struct Pattern<V> {
    pub(super) names: Vec<Rc<str>>,
    pub(super) stages: Vec<Stage<V>>,
    pub(super) within: Option<Timestamp>,
    pub(super) skip: AfterMatchSkip,
    /// Per stage, where a partial match may go once the stage has its minimum.
    pub(super) exits: Vec<Exits>,
    /// Where a match may begin: the first stage and those after it while they are optional.
    pub(super) starts: Exits,
}

/// The stages a partial match may go on to from one stage (once that stage has taken its
/// minimum): each later stage up to and including the first that is not optional, with the
/// negations standing between (one bit per stage index); and whether the pattern may end
/// there.
#[derive(Debug, Clone, Default)]
pub(super) struct Exits {
    pub targets: Vec<(usize, u64)>,
    pub can_end: bool,
    /// Every negation that any target is behind.
    pub negations: u64,
}

impl<V> fmt::Debug for Pattern<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pattern")
            .field("stages", &self.names)
            .field("within", &self.within)
            .field("skip", &self.skip)
            .finish_non_exhaustive()
    }
}

/// A pattern being described: each call adds a stage or sets something on the last one.
/// Mistakes (a repeated name, an impossible quantifier...) are reported by `build`.
pub struct PatternBuilder<V> {
    pattern: Pattern<V>,
    errors: Vec<String>,
}

impl<V> fmt::Debug for PatternBuilder<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PatternBuilder")
            .field("pattern", &self.pattern)
            .field("errors", &self.errors)
            .finish()
    }
}

/// The most stages a pattern may have (partial matches keep per-stage flags in a word).
pub const MAX_STAGES: usize = 64;

impl<V> Pattern<V> {
    /// A pattern whose first stage, `name`, takes one event accepted by `condition`.
    pub fn begin(
        name: &str,
        condition: impl Fn(&V, &Matched<'_, V>) -> bool + 'static,
    ) -> PatternBuilder<V> {
        let builder = PatternBuilder {
            pattern: Pattern {
                names: Vec::new(),
                stages: Vec::new(),
                within: None,
                skip: AfterMatchSkip::NoSkip,
                exits: Vec::new(),
                starts: Exits::default(),
            },
            errors: Vec::new(),
        };
        builder.take(name, Contiguity::Relaxed, condition)
    }

    pub fn within(&self) -> Option<Timestamp> {
        self.within
    }

    pub(super) fn condition(&self, stage: usize) -> Option<&Condition<V>> {
        self.stages.get(stage).map(|s| &s.condition)
    }
}

impl<V> PatternBuilder<V> {
    /// A stage taking the very next event of the key.
    pub fn next(
        self,
        name: &str,
        condition: impl Fn(&V, &Matched<'_, V>) -> bool + 'static,
    ) -> Self {
        self.take(name, Contiguity::Strict, condition)
    }

    /// A stage taking the first later event its condition accepts.
    pub fn followed_by(
        self,
        name: &str,
        condition: impl Fn(&V, &Matched<'_, V>) -> bool + 'static,
    ) -> Self {
        self.take(name, Contiguity::Relaxed, condition)
    }

    /// A stage taking any later event its condition accepts (each one a separate match).
    pub fn followed_by_any(
        self,
        name: &str,
        condition: impl Fn(&V, &Matched<'_, V>) -> bool + 'static,
    ) -> Self {
        self.take(name, Contiguity::Any, condition)
    }

    /// The event right after the previous stage's last one must not be accepted by
    /// `condition`.
    pub fn not_next(
        self,
        name: &str,
        condition: impl Fn(&V, &Matched<'_, V>) -> bool + 'static,
    ) -> Self {
        self.push(name, StageKind::NotNext, condition)
    }

    /// No event between the previous stage's last one and the next stage's first may be
    /// accepted by `condition`. It cannot end a pattern.
    pub fn not_followed_by(
        self,
        name: &str,
        condition: impl Fn(&V, &Matched<'_, V>) -> bool + 'static,
    ) -> Self {
        self.push(name, StageKind::NotFollowedBy, condition)
    }

    /// The last stage may take no event.
    pub fn optional(self) -> Self {
        self.quantify("optional", |min, _, _, _| *min = 0)
    }

    /// The last stage takes between `range.start()` and `range.end()` events; an end of 0 is
    /// refused. Repetitions follow each other with relaxed contiguity unless
    /// `consecutive` or `allow_combinations` says otherwise.
    pub fn times(self, range: RangeInclusive<u32>) -> Self {
        let (low, high) = (*range.start(), *range.end());
        let builder = self.quantify("times", |min, max, _, _| {
            *min = low;
            *max = high;
        });
        if high == 0 || low > high {
            return builder.refuse(format!("times({low}..={high}) takes no event"));
        }
        builder
    }

    /// The last stage takes one event or more.
    pub fn one_or_more(self) -> Self {
        self.quantify("one_or_more", |min, max, _, _| {
            *min = 1;
            *max = u32::MAX;
        })
    }

    /// The last stage's repetitions must be consecutive events.
    pub fn consecutive(self) -> Self {
        self.quantify("consecutive", |_, _, inner, _| *inner = Contiguity::Strict)
    }

    /// The last stage's repetitions may skip any events (every combination matches).
    pub fn allow_combinations(self) -> Self {
        self.quantify("allow_combinations", |_, _, inner, _| {
            *inner = Contiguity::Any
        })
    }

    /// The last (repeating) stage repeats whenever it can. It cannot end a pattern.
    pub fn greedy(self) -> Self {
        self.quantify("greedy", |_, _, _, greed| *greed = Greed::Greedy)
    }

    /// The last (repeating) stage repeats only while nothing else can take the event.
    pub fn reluctant(self) -> Self {
        self.quantify("reluctant", |_, _, _, greed| *greed = Greed::Reluctant)
    }

    /// A match spans less than `duration` milliseconds of event time, from its first event
    /// to its last. Partial matches that run out of time are reported as timed out.
    pub fn within(mut self, duration: Timestamp) -> Self {
        if duration <= 0 {
            return self.refuse(format!("within({duration}) must be positive"));
        }
        self.pattern.within = Some(duration);
        self
    }

    /// What a match does to the partial matches in progress; `NoSkip` by default.
    pub fn skip(mut self, strategy: AfterMatchSkip) -> Self {
        self.pattern.skip = strategy;
        self
    }

    /// The pattern, or what is wrong with it.
    pub fn build(self) -> Result<Pattern<V>, StreamsError> {
        let mut errors = self.errors;
        let pattern = self.pattern;
        let stages = &pattern.stages;
        if stages.len() > MAX_STAGES {
            errors.push(format!("more than {MAX_STAGES} stages"));
        }
        if let Some(last) = stages.last() {
            match last.kind {
                StageKind::NotNext | StageKind::NotFollowedBy => {
                    errors.push("a pattern cannot end with a negation".into())
                }
                StageKind::Take {
                    greed: Greed::Greedy,
                    ..
                } => errors.push("a greedy stage cannot end a pattern".into()),
                StageKind::Take { .. } => {}
            }
        }
        if stages
            .iter()
            .all(|s| matches!(s.kind, StageKind::Take { min: 0, .. }))
        {
            errors.push("every stage is optional: the pattern would match nothing".into());
        }
        for (stage, name) in stages.iter().zip(&pattern.names) {
            if let StageKind::Take {
                max: 1,
                greed: Greed::Greedy | Greed::Reluctant,
                ..
            } = stage.kind
            {
                errors.push(format!(
                    "stage {name} is greedy or reluctant but does not repeat"
                ));
            }
        }
        if let AfterMatchSkip::ToFirst(name) | AfterMatchSkip::ToLast(name) = &pattern.skip {
            let takes = pattern
                .names
                .iter()
                .zip(stages)
                .any(|(n, s)| &**n == name && matches!(s.kind, StageKind::Take { .. }));
            if !takes {
                errors.push(format!(
                    "the skip strategy names {name}, no stage taking events"
                ));
            }
        }
        if let Some(error) = errors.into_iter().next() {
            return Err(StreamsError::InvalidPattern(error));
        }
        let mut pattern = pattern;
        pattern.exits = (0..pattern.stages.len())
            .map(|stage| exits_from(&pattern.stages, stage + 1))
            .collect();
        pattern.starts = exits_from(&pattern.stages, 0);
        Ok(pattern)
    }

    fn take(
        self,
        name: &str,
        entry: Contiguity,
        condition: impl Fn(&V, &Matched<'_, V>) -> bool + 'static,
    ) -> Self {
        let kind = StageKind::Take {
            entry,
            min: 1,
            max: 1,
            inner: Contiguity::Relaxed,
            greed: Greed::Both,
        };
        self.push(name, kind, condition)
    }

    fn push(
        mut self,
        name: &str,
        kind: StageKind,
        condition: impl Fn(&V, &Matched<'_, V>) -> bool + 'static,
    ) -> Self {
        if self.pattern.names.iter().any(|n| &**n == name) {
            self = self.refuse(format!("two stages are named {name}"));
        }
        let negation = !matches!(kind, StageKind::Take { .. });
        if negation && self.pattern.stages.is_empty() {
            self = self.refuse(format!("{name}: a pattern cannot begin with a negation"));
        }
        self.pattern.names.push(name.into());
        self.pattern.stages.push(Stage {
            condition: Rc::new(condition),
            kind,
        });
        self
    }

    fn quantify(
        mut self,
        what: &str,
        change: impl FnOnce(&mut u32, &mut u32, &mut Contiguity, &mut Greed),
    ) -> Self {
        match self.pattern.stages.last_mut().map(|s| &mut s.kind) {
            Some(StageKind::Take {
                min,
                max,
                inner,
                greed,
                ..
            }) => {
                change(min, max, inner, greed);
                self
            }
            _ => self.refuse(format!(
                "{what} applies to a stage taking events, not a negation"
            )),
        }
    }

    fn refuse(mut self, error: String) -> Self {
        self.errors.push(error);
        self
    }
}

/// The exits of a partial match standing before stage `from`.
fn exits_from<V>(stages: &[Stage<V>], from: usize) -> Exits {
    let mut exits = Exits::default();
    let mut negations = 0u64;
    for (index, stage) in stages.iter().enumerate().skip(from) {
        match stage.kind {
            StageKind::NotNext | StageKind::NotFollowedBy => negations |= 1 << index,
            StageKind::Take { min, .. } => {
                exits.targets.push((index, negations));
                exits.negations |= negations;
                if min > 0 {
                    return exits;
                }
            }
        }
    }
    exits.can_end = true;
    exits
}
