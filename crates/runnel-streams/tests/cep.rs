//! Complex event processing against a reference matcher that enumerates every labelling of
//! every subsequence of a key's events by brute force and keeps those the written rules
//! allow (contiguity, quantifiers, greedy and reluctant repetition, negations, `within`,
//! after-match skip strategies). Random patterns run over random out-of-order streams with
//! late records, through the topology; a task restored midway from its store must go on
//! exactly as the uninterrupted one.
#![allow(clippy::unwrap_used)]

mod common;

use common::{keep_changes, restore, stores, StoredState};

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use proptest::prelude::*;
use runnel_streams::cep::{AfterMatchSkip, Contiguity, Greed, Match, Pattern, PatternBuilder};
use runnel_streams::*;

/// An event: a letter the conditions look at, and a number telling events apart.
type Value = (u8, u32);

#[derive(Debug, Clone, Copy)]
enum Cond {
    Is(u8),
    OneOf(u8),
    /// Sees the partial match: a letter other than the last event's.
    DiffersFromLast,
    /// Sees the partial match: the first event's letter.
    SameAsFirst,
}

impl Cond {
    fn holds(self, value: &Value, so_far: &[Value]) -> bool {
        match self {
            Cond::Is(letter) => value.0 == letter,
            Cond::OneOf(mask) => mask & (1 << value.0) != 0,
            Cond::DiffersFromLast => so_far.last().is_none_or(|last| last.0 != value.0),
            Cond::SameAsFirst => so_far.first().is_none_or(|first| first.0 == value.0),
        }
    }

    fn condition(self) -> impl Fn(&Value, &cep::Matched<'_, Value>) -> bool + 'static {
        move |value, matched| {
            let so_far: Vec<Value> = matched.all().map(|(_, v)| *v).collect();
            self.holds(value, &so_far)
        }
    }
}

#[derive(Debug, Clone)]
enum StageSpec {
    Take {
        entry: Contiguity,
        min: u32,
        max: u32,
        inner: Contiguity,
        greed: Greed,
        cond: Cond,
    },
    NotNext(Cond),
    NotFollowedBy(Cond),
}

#[derive(Debug, Clone)]
enum SkipSpec {
    NoSkip,
    ToNext,
    PastLastEvent,
    ToFirst(usize),
    ToLast(usize),
}

#[derive(Debug, Clone)]
struct Spec {
    stages: Vec<StageSpec>,
    within: Option<Timestamp>,
    skip: SkipSpec,
}

fn name(stage: usize) -> String {
    format!("s{stage}")
}

impl Spec {
    fn pattern(&self) -> Pattern<Value> {
        let mut builder: Option<PatternBuilder<Value>> = None;
        for (index, stage) in self.stages.iter().enumerate() {
            let n = name(index);
            let b = match (builder.take(), stage) {
                (None, StageSpec::Take { cond, .. }) => Pattern::begin(&n, cond.condition()),
                (Some(b), StageSpec::Take { entry, cond, .. }) => match entry {
                    Contiguity::Strict => b.next(&n, cond.condition()),
                    Contiguity::Relaxed => b.followed_by(&n, cond.condition()),
                    Contiguity::Any => b.followed_by_any(&n, cond.condition()),
                },
                (Some(b), StageSpec::NotNext(cond)) => b.not_next(&n, cond.condition()),
                (Some(b), StageSpec::NotFollowedBy(cond)) => {
                    b.not_followed_by(&n, cond.condition())
                }
                (None, _) => unreachable!("the first stage takes events"),
            };
            let b = match stage {
                StageSpec::Take {
                    min,
                    max,
                    inner,
                    greed,
                    ..
                } => {
                    let mut b = b;
                    if *max == u32::MAX {
                        b = b.one_or_more();
                    } else if *max > 1 {
                        b = b.times((*min).max(1)..=*max);
                    }
                    if *min == 0 {
                        b = b.optional();
                    }
                    b = match inner {
                        Contiguity::Strict => b.consecutive(),
                        Contiguity::Relaxed => b,
                        Contiguity::Any => b.allow_combinations(),
                    };
                    match greed {
                        Greed::Both => b,
                        Greed::Greedy => b.greedy(),
                        Greed::Reluctant => b.reluctant(),
                    }
                }
                StageSpec::NotNext(_) | StageSpec::NotFollowedBy(_) => b,
            };
            builder = Some(b);
        }
        let mut builder = builder.unwrap().skip(match self.skip {
            SkipSpec::NoSkip => AfterMatchSkip::NoSkip,
            SkipSpec::ToNext => AfterMatchSkip::ToNext,
            SkipSpec::PastLastEvent => AfterMatchSkip::PastLastEvent,
            SkipSpec::ToFirst(stage) => AfterMatchSkip::ToFirst(name(stage)),
            SkipSpec::ToLast(stage) => AfterMatchSkip::ToLast(name(stage)),
        });
        if let Some(within) = self.within {
            builder = builder.within(within);
        }
        builder.build().unwrap()
    }

    fn take(&self, stage: usize) -> Option<(Contiguity, u32, u32, Contiguity, Greed, Cond)> {
        match self.stages[stage] {
            StageSpec::Take {
                entry,
                min,
                max,
                inner,
                greed,
                cond,
            } => Some((entry, min, max, inner, greed, cond)),
            _ => None,
        }
    }

    /// From before stage `from`: the stages that may come next (each with the negations in
    /// front of it) and whether the pattern may end.
    fn exits(&self, from: usize) -> (Vec<(usize, Vec<usize>)>, bool) {
        let mut targets = Vec::new();
        let mut negations = Vec::new();
        for index in from..self.stages.len() {
            match self.take(index) {
                None => negations.push(index),
                Some((_, min, ..)) => {
                    targets.push((index, negations.clone()));
                    if min > 0 {
                        return (targets, false);
                    }
                }
            }
        }
        (targets, true)
    }
}

/// A labelled subsequence: positions in the key's ordered events, each with its stage.
type Prefix = Vec<(usize, usize)>;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    Repeat,
    Enter(usize),
}

struct Reference<'a> {
    spec: &'a Spec,
    events: &'a [(Timestamp, Value)],
}

impl Reference<'_> {
    fn so_far(&self, prefix: &Prefix) -> Vec<Value> {
        prefix.iter().map(|&(pos, _)| self.events[pos].1).collect()
    }

    fn accepts(&self, stage: usize, pos: usize, so_far: &[Value]) -> bool {
        let cond = match self.spec.stages[stage] {
            StageSpec::Take { cond, .. }
            | StageSpec::NotNext(cond)
            | StageSpec::NotFollowedBy(cond) => cond,
        };
        cond.holds(&self.events[pos].1, so_far)
    }

    fn current(&self, prefix: &Prefix) -> (usize, u32) {
        let stage = prefix.last().unwrap().1;
        let count = prefix.iter().filter(|&&(_, s)| s == stage).count();
        (stage, count as u32)
    }

    fn complete(&self, prefix: &Prefix) -> bool {
        let (stage, count) = self.current(prefix);
        let (_, min, ..) = self.spec.take(stage).unwrap();
        count >= min && self.spec.exits(stage + 1).1
    }

    /// The stages the prefix may go on to (with their negations), once its stage has its
    /// minimum.
    fn enters(&self, prefix: &Prefix) -> Vec<(usize, Vec<usize>)> {
        let (stage, count) = self.current(prefix);
        let (_, min, ..) = self.spec.take(stage).unwrap();
        if count < min {
            return Vec::new();
        }
        self.spec.exits(stage + 1).0
    }

    /// A greedy stage could have repeated on an event of the gap.
    fn greedy_could_repeat_in(&self, prefix: &Prefix, gap: &[usize]) -> bool {
        let (stage, count) = self.current(prefix);
        let (_, _, max, inner, greed, _) = self.spec.take(stage).unwrap();
        let so_far = self.so_far(prefix);
        greed == Greed::Greedy
            && count < max
            && gap.iter().enumerate().any(|(k, &pos)| {
                (inner != Contiguity::Strict || k == 0) && self.accepts(stage, pos, &so_far)
            })
    }

    /// Whether the gap's events (all skipped) allow the prefix to take `pos` for `target`.
    fn takes(&self, prefix: &Prefix, gap: &[usize], target: Target, pos: usize) -> bool {
        let (stage, count) = self.current(prefix);
        let (_, min, max, inner, greed, _) = self.spec.take(stage).unwrap();
        let so_far = self.so_far(prefix);
        let none_in_gap = |s: usize| !gap.iter().any(|&g| self.accepts(s, g, &so_far));
        match target {
            Target::Repeat => {
                let contiguous = match inner {
                    Contiguity::Strict => gap.is_empty(),
                    Contiguity::Relaxed => none_in_gap(stage),
                    Contiguity::Any => true,
                };
                if count >= max || !contiguous || !self.accepts(stage, pos, &so_far) {
                    return false;
                }
                if greed == Greed::Reluctant && count >= min {
                    let moves_on = self.complete(prefix)
                        || self
                            .enters(prefix)
                            .iter()
                            .any(|&(t, _)| self.takes(prefix, gap, Target::Enter(t), pos));
                    return !moves_on;
                }
                true
            }
            Target::Enter(target) => {
                let Some((entry, ..)) = self.spec.take(target) else {
                    return false;
                };
                let Some((_, negs)) = self.enters(prefix).into_iter().find(|(t, _)| *t == target)
                else {
                    return false;
                };
                let contiguous = match entry {
                    Contiguity::Strict => gap.is_empty(),
                    Contiguity::Relaxed => none_in_gap(target),
                    Contiguity::Any => true,
                };
                let right_after = gap.first().copied().unwrap_or(pos);
                let negated = negs.iter().any(|&n| match self.spec.stages[n] {
                    StageSpec::NotNext(_) => self.accepts(n, right_after, &so_far),
                    _ => !none_in_gap(n),
                });
                let greedy_blocks = greed == Greed::Greedy
                    && (self.greedy_could_repeat_in(prefix, gap)
                        || self.takes(prefix, gap, Target::Repeat, pos));
                contiguous && !negated && !greedy_blocks && self.accepts(target, pos, &so_far)
            }
        }
    }

    /// Whether some later event could still extend the prefix after it skipped the gap.
    fn survives(&self, prefix: &Prefix, gap: &[usize]) -> bool {
        if gap.is_empty() {
            return true;
        }
        let (stage, count) = self.current(prefix);
        let (_, _, max, inner, ..) = self.spec.take(stage).unwrap();
        let so_far = self.so_far(prefix);
        let none_in_gap = |s: usize| !gap.iter().any(|&g| self.accepts(s, g, &so_far));
        let may_repeat = count < max
            && match inner {
                Contiguity::Strict => false,
                Contiguity::Relaxed => none_in_gap(stage),
                Contiguity::Any => true,
            };
        let greedy_blocks = self.greedy_could_repeat_in(prefix, gap);
        let may_enter = !greedy_blocks
            && self.enters(prefix).iter().any(|(target, negs)| {
                let (entry, ..) = self.spec.take(*target).unwrap();
                let contiguous = match entry {
                    Contiguity::Strict => false,
                    Contiguity::Relaxed => none_in_gap(*target),
                    Contiguity::Any => true,
                };
                let negated = negs.iter().any(|&n| match self.spec.stages[n] {
                    StageSpec::NotNext(_) => self.accepts(n, gap[0], &so_far),
                    _ => !none_in_gap(n),
                });
                contiguous && !negated
            });
        may_repeat || may_enter
    }

    fn in_time(&self, prefix: &Prefix, pos: usize) -> bool {
        let first = self.events[prefix[0].0].0;
        self.spec
            .within
            .is_none_or(|within| self.events[pos].0 - first < within)
    }

    /// Every prefix a partial match could be, by brute force.
    fn prefixes(&self) -> Vec<Prefix> {
        let mut all = Vec::new();
        let mut stack: Vec<Prefix> = Vec::new();
        for pos in 0..self.events.len() {
            for (stage, _) in self.spec.exits(0).0 {
                if self.accepts(stage, pos, &[]) {
                    stack.push(vec![(pos, stage)]);
                }
            }
        }
        while let Some(prefix) = stack.pop() {
            let last = prefix.last().unwrap().0;
            for pos in last + 1..self.events.len() {
                if !self.in_time(&prefix, pos) {
                    break;
                }
                let gap: Vec<usize> = (last + 1..pos).collect();
                let (stage, _) = self.current(&prefix);
                let mut targets = vec![(Target::Repeat, stage)];
                for (t, _) in self.enters(&prefix) {
                    targets.push((Target::Enter(t), t));
                }
                for (target, label) in targets {
                    if self.takes(&prefix, &gap, target, pos) {
                        let mut longer = prefix.clone();
                        longer.push((pos, label));
                        stack.push(longer);
                    }
                }
            }
            all.push(prefix);
        }
        all
    }

    /// Which prefixes (by first position) a match rules out.
    fn rules_out(&self, matched: &Prefix, first: usize) -> bool {
        let places = |stage: usize| {
            matched
                .iter()
                .filter(move |&&(_, s)| s == stage)
                .map(|&(pos, _)| pos)
        };
        match self.spec.skip {
            SkipSpec::NoSkip => false,
            SkipSpec::ToNext => first == matched[0].0,
            SkipSpec::PastLastEvent => first <= matched.last().unwrap().0,
            SkipSpec::ToFirst(stage) => places(stage).next().is_some_and(|p| first < p),
            SkipSpec::ToLast(stage) => places(stage).next_back().is_some_and(|p| first < p),
        }
    }

    /// The matches in the order they are emitted, and the timed-out partial matches.
    fn run(&self) -> (Vec<Prefix>, Vec<Prefix>) {
        let all = self.prefixes();
        let mut by_last: BTreeMap<usize, Vec<&Prefix>> = BTreeMap::new();
        for prefix in all.iter().filter(|p| self.complete(p)) {
            by_last
                .entry(prefix.last().unwrap().0)
                .or_default()
                .push(prefix);
        }
        // Per first position, when it was ruled out (the position of the match).
        let mut ruled_out: BTreeMap<usize, usize> = BTreeMap::new();
        let mut matches = Vec::new();
        for (at, mut found) in by_last {
            found.sort_by_key(|p| {
                (
                    p.iter().map(|&(pos, _)| pos).collect::<Vec<_>>(),
                    p.iter().map(|&(_, s)| s).collect::<Vec<_>>(),
                )
            });
            for matched in found {
                if ruled_out.contains_key(&matched[0].0) {
                    continue;
                }
                for first in 0..=at {
                    if self.rules_out(matched, first) {
                        ruled_out.entry(first).or_insert(at);
                    }
                }
                matches.push(matched.clone());
            }
        }
        let mut timed_out = Vec::new();
        if let Some(within) = self.spec.within {
            for prefix in &all {
                let first = prefix[0].0;
                let deadline = self.events[first].0 + within;
                let last = prefix.last().unwrap().0;
                let gap: Vec<usize> = (last + 1..self.events.len())
                    .filter(|&pos| self.events[pos].0 < deadline)
                    .collect();
                let discarded = ruled_out
                    .get(&first)
                    .is_some_and(|&at| self.events[at].0 < deadline);
                if !self.complete(prefix) && self.survives(prefix, &gap) && !discarded {
                    timed_out.push(prefix.clone());
                }
            }
        }
        (matches, timed_out)
    }
}

/// An output as compared: key, timed out or not, and the events with their stages.
type Out = (String, bool, Vec<(String, Timestamp, Value)>);

fn describe(key: &str, timed_out: bool, m: &Match<Value>) -> Out {
    let events = m
        .events
        .iter()
        .map(|e| (e.stage.to_string(), e.timestamp, e.value))
        .collect();
    (key.to_owned(), timed_out, events)
}

/// The reference's outputs for the records, arriving in this order with `bound` of
/// out-of-orderness: per key, the matches in order, then the timed-out ones sorted.
fn expected(spec: &Spec, records: &[(u8, Timestamp, u8)], bound: Timestamp) -> Vec<Out> {
    let mut accepted: BTreeMap<u8, Vec<(Timestamp, usize, Value)>> = BTreeMap::new();
    let mut max_seen: Option<Timestamp> = None;
    for (id, &(key, t, letter)) in records.iter().enumerate() {
        let watermark = max_seen.map_or(Timestamp::MIN, |m| m - bound);
        if t >= watermark {
            accepted
                .entry(key)
                .or_default()
                .push((t, id, (letter, id as u32)));
        }
        max_seen = Some(max_seen.map_or(t, |m| m.max(t)));
    }
    let mut out = Vec::new();
    for (key, mut events) in accepted {
        events.sort();
        let events: Vec<(Timestamp, Value)> = events.into_iter().map(|(t, _, v)| (t, v)).collect();
        let reference = Reference {
            spec,
            events: &events,
        };
        let (matches, timed_out) = reference.run();
        let to_out = |timed: bool, prefix: &Prefix| {
            let events = prefix
                .iter()
                .map(|&(pos, stage)| (name(stage), events[pos].0, events[pos].1))
                .collect();
            (key.to_string(), timed, events)
        };
        out.extend(matches.iter().map(|p| to_out(false, p)));
        let mut timed: Vec<Out> = timed_out.iter().map(|p| to_out(true, p)).collect();
        timed.sort();
        out.extend(timed);
    }
    out
}

/// The topology's outputs grouped as `expected` gives them.
fn grouped(outputs: Vec<Out>) -> Vec<Out> {
    let mut by_key: BTreeMap<String, (Vec<Out>, Vec<Out>)> = BTreeMap::new();
    for out in outputs {
        let entry = by_key.entry(out.0.clone()).or_default();
        if out.1 {
            entry.1.push(out);
        } else {
            entry.0.push(out);
        }
    }
    by_key
        .into_values()
        .flat_map(|(matches, mut timed)| {
            timed.sort();
            matches.into_iter().chain(timed)
        })
        .collect()
}

/// A task reading the topic `events` and matching the spec's pattern, its state stored.
struct Task {
    topology: Topology,
    outputs: Rc<RefCell<Vec<Out>>>,
    now: Timestamp,
}

impl Task {
    fn new(spec: &Spec, bound: Timestamp) -> Task {
        let mut builder = TopologyBuilder::with_application_id("cep");
        let patterns = builder
            .stream("events", StringSerde, JsonSerde::<Value>::new())
            .pattern(spec.pattern())
            .stored("logins", StringSerde, JsonSerde::<Value>::new());
        let outputs = Rc::new(RefCell::new(Vec::new()));
        for (stream, timed_out) in [(patterns.matches(), false), (patterns.timed_out(), true)] {
            let outputs = outputs.clone();
            stream.for_each(move |r| {
                outputs
                    .borrow_mut()
                    .push(describe(&r.key, timed_out, &r.value))
            });
        }
        Task {
            topology: builder.build(bound, Timestamp::MAX / 2).unwrap(),
            outputs,
            now: 0,
        }
    }

    fn push(&mut self, (key, t, letter): (u8, Timestamp, u8), id: usize) {
        self.now += 1;
        let key = key.to_string();
        let value = serde_json::to_vec(&(letter, id as u32)).unwrap();
        let incoming = Incoming {
            key: Some(key.as_bytes()),
            value: Some(&value),
            timestamp: t,
            partition: 0,
        };
        self.topology
            .push_from_topic("events", incoming, self.now)
            .unwrap();
    }
}

fn stage_spec() -> impl Strategy<Value = StageSpec> {
    let contiguity = prop_oneof![
        Just(Contiguity::Strict),
        Just(Contiguity::Relaxed),
        Just(Contiguity::Any)
    ];
    let cond = prop_oneof![
        (0u8..3).prop_map(Cond::Is),
        (1u8..8).prop_map(Cond::OneOf),
        Just(Cond::DiffersFromLast),
        Just(Cond::SameAsFirst),
    ];
    let quantifier = prop_oneof![
        3 => Just((1, 1)),
        1 => Just((0, 1)),
        1 => (1u32..3, 0u32..2).prop_map(|(min, extra)| (min, min + extra + 1)),
        1 => Just((1, u32::MAX)),
        1 => Just((0, u32::MAX)),
    ];
    let greed = prop_oneof![
        2 => Just(Greed::Both),
        1 => Just(Greed::Greedy),
        1 => Just(Greed::Reluctant)
    ];
    prop_oneof![
        5 => (contiguity.clone(), quantifier, contiguity, greed, cond.clone()).prop_map(
            |(entry, (min, max), inner, greed, cond)| StageSpec::Take {
                entry,
                min,
                max,
                inner,
                greed: if max > 1 { greed } else { Greed::Both },
                cond,
            }
        ),
        1 => cond.clone().prop_map(StageSpec::NotNext),
        1 => cond.prop_map(StageSpec::NotFollowedBy),
    ]
}

/// A pattern `build` accepts: it begins and ends with a stage taking events, does not end
/// greedy, and not every stage is optional.
fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::collection::vec(stage_spec(), 1..5),
        prop::option::of(1i64..25),
        0usize..5,
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut stages, within, skip, named)| {
            stages.retain({
                let mut first = true;
                move |s| {
                    let keep = !first || matches!(s, StageSpec::Take { .. });
                    first &= !keep;
                    keep
                }
            });
            while matches!(
                stages.last(),
                Some(StageSpec::NotNext(_) | StageSpec::NotFollowedBy(_))
            ) {
                stages.pop();
            }
            if stages.is_empty() {
                stages.push(StageSpec::Take {
                    entry: Contiguity::Relaxed,
                    min: 1,
                    max: 1,
                    inner: Contiguity::Relaxed,
                    greed: Greed::Both,
                    cond: Cond::Is(0),
                });
            }
            if let Some(StageSpec::Take { greed, .. }) = stages.last_mut() {
                if *greed == Greed::Greedy {
                    *greed = Greed::Both;
                }
            }
            if let Some(StageSpec::Take { min, .. }) = stages.first_mut() {
                *min = (*min).max(1);
            }
            let takers: Vec<usize> = (0..stages.len())
                .filter(|&i| matches!(stages[i], StageSpec::Take { .. }))
                .collect();
            let named = takers[named.index(takers.len())];
            let skip = match skip {
                0 => SkipSpec::NoSkip,
                1 => SkipSpec::ToNext,
                2 => SkipSpec::PastLastEvent,
                3 => SkipSpec::ToFirst(named),
                _ => SkipSpec::ToLast(named),
            };
            Spec {
                stages,
                within,
                skip,
            }
        })
}

fn records() -> impl Strategy<Value = Vec<(u8, Timestamp, u8)>> {
    prop::collection::vec((0u8..2, 0i64..30, 0u8..3), 0..14)
}

fn run_whole(spec: &Spec, records: &[(u8, Timestamp, u8)], bound: Timestamp) -> Vec<Out> {
    let mut task = Task::new(spec, bound);
    for (id, &record) in records.iter().enumerate() {
        task.push(record, id);
    }
    task.topology.finish().unwrap();
    let outputs = task.outputs.borrow().clone();
    outputs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn matches_and_timeouts_agree_with_the_reference(
        spec in spec(),
        records in records(),
        bound in 0i64..8,
    ) {
        let outputs = run_whole(&spec, &records, bound);
        prop_assert_eq!(grouped(outputs), expected(&spec, &records, bound));
    }

    #[test]
    fn a_task_restored_midway_goes_on_as_if_it_never_stopped(
        spec in spec(),
        records in records(),
        bound in 0i64..8,
        cut in any::<prop::sample::Index>(),
    ) {
        let whole = run_whole(&spec, &records, bound);
        let cut = cut.index(records.len() + 1);
        let mut first = Task::new(&spec, bound);
        let mut stored = StoredState::new();
        let mut max_event_time = None;
        for (id, &record) in records[..cut].iter().enumerate() {
            first.push(record, id);
            max_event_time = Some(max_event_time.map_or(record.1, |m: Timestamp| m.max(record.1)));
            keep_changes(&mut first.topology, &mut stored);
        }
        prop_assert!(stores(&stored).iter().all(|&store| store == "logins"));
        let mut second = Task::new(&spec, bound);
        restore(&mut second.topology, &stored);
        second.now = first.now;
        if let Some(max) = max_event_time {
            second.topology.restore_max_event_time("events", 0, max, second.now);
            second.topology.advance_processing_time(second.now).unwrap();
        }
        for (id, &record) in records.iter().enumerate().skip(cut) {
            second.push(record, id);
        }
        second.topology.finish().unwrap();
        let mut resumed = first.outputs.borrow().clone();
        resumed.extend(second.outputs.borrow().iter().cloned());
        prop_assert_eq!(resumed, whole);
    }
}

fn any_letter() -> impl Fn(&Value, &cep::Matched<'_, Value>) -> bool + 'static {
    |_, _| true
}

#[test]
fn patterns_that_cannot_be_matched_are_refused_with_the_reason() {
    let refused = |builder: PatternBuilder<Value>, reason: &str| {
        let error = builder.build().unwrap_err().to_string();
        assert!(error.contains(reason), "{error:?} should say {reason:?}");
    };
    let begin = || Pattern::begin("a", any_letter());
    refused(
        begin().not_next("n", any_letter()),
        "cannot end with a negation",
    );
    refused(begin().one_or_more().greedy(), "greedy stage cannot end");
    refused(
        begin().greedy().followed_by("b", any_letter()),
        "does not repeat",
    );
    refused(begin().times(0..=0), "takes no event");
    let (low, high) = (3, 2);
    refused(begin().times(low..=high), "takes no event");
    refused(
        begin().followed_by("a", any_letter()),
        "two stages are named a",
    );
    refused(begin().optional(), "every stage is optional");
    refused(begin().skip(AfterMatchSkip::ToFirst("z".into())), "names z");
    refused(begin().within(0), "must be positive");
    refused(
        begin().not_followed_by("n", any_letter()).optional(),
        "not a negation",
    );
}

#[test]
fn a_pattern_after_keys_changed_on_a_topic_needs_a_repartition() {
    let mut builder = TopologyBuilder::new();
    builder
        .stream("events", StringSerde, JsonSerde::<Value>::new())
        .key_by(|_, v| v.0.to_string())
        .pattern(Pattern::begin("a", any_letter()).build().unwrap());
    let error = builder.build(0, 0).unwrap_err().to_string();
    assert!(error.contains("repartition"), "{error}");
}

#[test]
fn late_records_are_dropped_and_counted_and_corrupt_state_is_refused() {
    let spec = Spec {
        stages: vec![StageSpec::Take {
            entry: Contiguity::Relaxed,
            min: 1,
            max: 1,
            inner: Contiguity::Relaxed,
            greed: Greed::Both,
            cond: Cond::Is(0),
        }],
        within: None,
        skip: SkipSpec::NoSkip,
    };
    let mut task = Task::new(&spec, 0);
    task.push((0, 10, 0), 0);
    task.push((0, 20, 0), 1);
    // The watermark is at 20: a record at 19 is late.
    task.push((0, 19, 0), 2);
    assert_eq!(task.topology.late_records_dropped(), 1);
    task.topology.finish().unwrap();
    let matched: Vec<Timestamp> = task.outputs.borrow().iter().map(|o| o.2[0].1).collect();
    assert_eq!(matched, vec![10, 20]);

    let mut fresh = Task::new(&spec, 0);
    let error = fresh
        .topology
        .restore("logins", b"0", Some(&[0, 0, 1]))
        .unwrap_err();
    assert!(
        matches!(&error, StreamsError::State { store, .. } if store == "logins"),
        "{error}"
    );
}

/// Records from a small linear congruential generator, so the sweep below is the same on
/// every run.
fn seeded_records(seed: u64) -> Vec<(u8, Timestamp, u8)> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = |bound: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % bound
    };
    let len = 6 + next(6) as usize;
    (0..len)
        .map(|_| (next(2) as u8, next(20) as Timestamp, next(3) as u8))
        .collect()
}

/// Every entry contiguity, quantifier, repetition contiguity and greed of a middle stage,
/// with each negation (or none) after it, with and without `within`, under every skip
/// strategy, on the same streams.
#[test]
fn every_option_against_the_reference() {
    let contiguities = [Contiguity::Strict, Contiguity::Relaxed, Contiguity::Any];
    let quantifiers = [(1, 1), (0, 1), (2, 3), (1, u32::MAX)];
    let mut checked = 0;
    for entry in contiguities {
        for (min, max) in quantifiers {
            for inner in contiguities {
                for greed in [Greed::Both, Greed::Greedy, Greed::Reluctant] {
                    if max == 1 && greed != Greed::Both {
                        continue;
                    }
                    for negation in 0..3 {
                        for within in [None, Some(8)] {
                            for skip in 0..5 {
                                let mut stages = vec![
                                    StageSpec::Take {
                                        entry: Contiguity::Relaxed,
                                        min: 1,
                                        max: 1,
                                        inner: Contiguity::Relaxed,
                                        greed: Greed::Both,
                                        cond: Cond::Is(0),
                                    },
                                    StageSpec::Take {
                                        entry,
                                        min,
                                        max,
                                        inner,
                                        greed,
                                        cond: Cond::OneOf(0b011),
                                    },
                                ];
                                match negation {
                                    1 => stages.push(StageSpec::NotNext(Cond::Is(2))),
                                    2 => stages.push(StageSpec::NotFollowedBy(Cond::Is(2))),
                                    _ => {}
                                }
                                stages.push(StageSpec::Take {
                                    entry: Contiguity::Relaxed,
                                    min: 1,
                                    max: 1,
                                    inner: Contiguity::Relaxed,
                                    greed: Greed::Both,
                                    cond: Cond::DiffersFromLast,
                                });
                                let skip = match skip {
                                    0 => SkipSpec::NoSkip,
                                    1 => SkipSpec::ToNext,
                                    2 => SkipSpec::PastLastEvent,
                                    3 => SkipSpec::ToFirst(1),
                                    _ => SkipSpec::ToLast(1),
                                };
                                let spec = Spec {
                                    stages,
                                    within,
                                    skip,
                                };
                                for seed in 0..3 {
                                    let records = seeded_records(seed);
                                    let outputs = run_whole(&spec, &records, 3);
                                    checked += usize::from(!outputs.is_empty());
                                    assert_eq!(
                                        grouped(outputs),
                                        expected(&spec, &records, 3),
                                        "{spec:?} on {records:?}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 1_000, "only {checked} runs produced anything");
}
