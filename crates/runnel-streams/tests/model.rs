//! Windowed aggregations against a brute-force reference model: the expected results are
//! recomputed from scratch, after every step, from the set of records the lateness rules
//! accept, for every window type, both late-event policies and both emit modes.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use runnel_streams::{
    Aggregate, Change, Count, EmitMode, LatePolicy, Record, Timestamp, Window, WindowSpec,
    WindowedAggregation, WindowedConfig, Windows,
};

#[derive(Debug, Clone)]
enum Step {
    Record { key: u8, timestamp: Timestamp },
    Watermark(Timestamp),
}

type Results = BTreeMap<(u8, Window), Vec<u32>>;

/// What the engine should hold: for each key and window, the ids of the records in it.
struct Reference {
    config: WindowedConfig,
    watermark: Timestamp,
    /// Tumbling and hopping: records per window, each window judged on its own.
    by_window: Results,
    /// Sliding and session: accepted records per key (timestamp, id).
    accepted: BTreeMap<u8, Vec<(Timestamp, u32)>>,
    dropped: u64,
}

impl Reference {
    fn new(config: WindowedConfig) -> Self {
        Reference {
            config,
            watermark: Timestamp::MIN,
            by_window: BTreeMap::new(),
            accepted: BTreeMap::new(),
            dropped: 0,
        }
    }

    fn retention(&self) -> Timestamp {
        match self.config.late {
            LatePolicy::Drop => 0,
            LatePolicy::Correct { retention } => retention,
        }
    }

    fn close(&self, window: Window) -> Timestamp {
        let extra = match self.config.spec.windows() {
            Windows::Session { gap } => gap,
            _ => 0,
        };
        window.end + extra + self.config.spec.grace()
    }

    fn record(&mut self, key: u8, t: Timestamp, id: u32) {
        let retention = self.retention();
        match self.config.spec.windows() {
            Windows::Tumbling { size } => self.fixed(key, t, id, size, size, retention),
            Windows::Hopping { size, advance } => self.fixed(key, t, id, size, advance, retention),
            Windows::Sliding { .. } | Windows::Session { .. } => {
                if self.watermark < t + 1 + self.config.spec.grace() + retention {
                    self.accepted.entry(key).or_default().push((t, id));
                } else {
                    self.dropped += 1;
                }
            }
        }
    }

    fn fixed(&mut self, key: u8, t: Timestamp, id: u32, size: i64, advance: i64, retention: i64) {
        let mut dropped = false;
        // Every start at a multiple of `advance` whose window reaches `t`.
        for start in (t - size + 1)..=t {
            if start.rem_euclid(advance) != 0 {
                continue;
            }
            let window = Window::new(start, start + size);
            if self.watermark < self.close(window) + retention {
                self.by_window.entry((key, window)).or_default().push(id);
            } else {
                dropped = true;
            }
        }
        if dropped {
            self.dropped += 1;
        }
    }

    fn results(&self) -> Results {
        let mut results = match self.config.spec.windows() {
            Windows::Tumbling { .. } | Windows::Hopping { .. } => self.by_window.clone(),
            Windows::Sliding { size } => self.sliding(size),
            Windows::Session { gap } => self.sessions(gap),
        };
        for ids in results.values_mut() {
            ids.sort_unstable();
        }
        results
    }

    fn sliding(&self, size: i64) -> Results {
        let mut results = Results::new();
        for (&key, records) in &self.accepted {
            let mut windows = Vec::new();
            for &(t, _) in records {
                windows.push(Window::new(t - size, t + 1));
                if records.iter().any(|&(u, _)| t < u && u <= t + size + 1) {
                    windows.push(Window::new(t + 1, t + size + 2));
                }
            }
            for window in windows {
                let ids = records
                    .iter()
                    .filter(|&&(u, _)| window.contains(u))
                    .map(|&(_, id)| id)
                    .collect();
                results.insert((key, window), ids);
            }
        }
        results
    }

    fn sessions(&self, gap: i64) -> Results {
        let mut results = Results::new();
        for (&key, records) in &self.accepted {
            let mut sorted = records.clone();
            sorted.sort_unstable();
            let mut session: Vec<(Timestamp, u32)> = Vec::new();
            let mut flush = |session: &mut Vec<(Timestamp, u32)>| {
                if let (Some(first), Some(last)) = (session.first(), session.last()) {
                    let window = Window::new(first.0, last.0 + 1);
                    results.insert((key, window), session.iter().map(|&(_, id)| id).collect());
                }
                session.clear();
            };
            for record in sorted {
                if session.last().is_some_and(|last| record.0 - last.0 > gap) {
                    flush(&mut session);
                }
                session.push(record);
            }
            flush(&mut session);
        }
        results
    }
}

fn collect_ids() -> impl runnel_streams::Aggregator<u8, u32, Output = Vec<u32>> {
    Aggregate::new(Vec::new, |_: &u8, id: &u32, mut ids: Vec<u32>| {
        ids.push(*id);
        ids.sort_unstable();
        ids
    })
    .with_merger(|_: &u8, mut older: Vec<u32>, newer: Vec<u32>| {
        older.extend(newer);
        older.sort_unstable();
        older
    })
}

/// The changelog replayed into a table, checking each entry against what came before.
struct Replay<A> {
    config: WindowedConfig,
    table: BTreeMap<(u8, Window), A>,
    /// Windows retracted while open in the last step: they must be gone (merged sessions).
    retracted_open: Vec<(u8, Window)>,
}

impl<A: Clone + PartialEq + std::fmt::Debug> Replay<A> {
    fn apply(&mut self, change: Change<u8, A>, watermark: Timestamp, close: Timestamp) {
        let drop_policy = self.config.late == LatePolicy::Drop;
        match change {
            Change::Update { key, window, value } => {
                assert_eq!(
                    self.config.emit,
                    EmitMode::Updates,
                    "update in emit-final mode"
                );
                if drop_policy {
                    assert!(
                        watermark < close,
                        "update of closed window {window:?} under Drop"
                    );
                }
                self.table.insert((key, window), value);
            }
            Change::Final { key, window, value } => {
                assert_eq!(self.config.emit, EmitMode::Final, "final in updates mode");
                assert!(watermark >= close, "final for {window:?} before it closed");
                assert!(
                    !self.table.contains_key(&(key, window)),
                    "second final for {window:?} without a retraction"
                );
                self.table.insert((key, window), value);
            }
            Change::Retract {
                key,
                window,
                old_value,
            } => {
                if drop_policy {
                    // Only a session merged while still open is retracted under Drop.
                    assert!(matches!(
                        self.config.spec.windows(),
                        Windows::Session { .. }
                    ));
                    assert!(watermark < close);
                }
                if watermark < close {
                    self.retracted_open.push((key, window));
                }
                let current = self.table.remove(&(key, window));
                assert_eq!(
                    current,
                    Some(old_value),
                    "retraction of {window:?} is not what was sent"
                );
            }
        }
    }
}

fn close_of(config: &WindowedConfig, window: Window) -> Timestamp {
    config.spec.closes_at(window)
}

fn check_against_reference(config: WindowedConfig, steps: Vec<Step>) {
    let mut ids = WindowedAggregation::new(config, collect_ids()).unwrap();
    let mut counts = WindowedAggregation::new(config, Count).unwrap();
    let mut reference = Reference::new(config);
    let mut replay_ids = Replay {
        config,
        table: BTreeMap::new(),
        retracted_open: Vec::new(),
    };
    let mut replay_counts = Replay {
        config,
        table: BTreeMap::new(),
        retracted_open: Vec::new(),
    };

    let last = Step::Watermark(Timestamp::MAX);
    for (id, step) in steps.iter().chain([&last]).enumerate() {
        let id = id as u32;
        let mut out_ids = Vec::new();
        let mut out_counts = Vec::new();
        match *step {
            Step::Record { key, timestamp } => {
                reference.record(key, timestamp, id);
                ids.process(&Record::new(key, id, timestamp, 0), &mut out_ids);
                counts.process(&Record::new(key, id, timestamp, 0), &mut out_counts);
            }
            Step::Watermark(w) => {
                reference.watermark = reference.watermark.max(w);
                ids.advance_watermark(w, &mut out_ids);
                counts.advance_watermark(w, &mut out_counts);
            }
        }
        let watermark = ids.watermark();
        for change in out_ids {
            replay_ids.apply(
                change.clone(),
                watermark,
                close_of(&config, change.window()),
            );
        }
        for change in out_counts {
            replay_counts.apply(
                change.clone(),
                watermark,
                close_of(&config, change.window()),
            );
        }

        // Every result is visible at once in updates mode, and once closed in final mode.
        let expected: Results = reference
            .results()
            .into_iter()
            .filter(|&((_, window), _)| {
                config.emit == EmitMode::Updates || watermark >= close_of(&config, window)
            })
            .collect();
        assert_eq!(replay_ids.table, expected, "after step {id}: {step:?}");
        for replay in [&replay_ids.retracted_open, &replay_counts.retracted_open] {
            for open in replay {
                assert!(
                    !expected.contains_key(open),
                    "open window {open:?} retracted yet kept"
                );
            }
        }
        replay_ids.retracted_open.clear();
        replay_counts.retracted_open.clear();
        let expected_counts: BTreeMap<_, _> = expected
            .iter()
            .map(|(k, ids)| (*k, ids.len() as u64))
            .collect();
        assert_eq!(
            replay_counts.table, expected_counts,
            "after step {id}: {step:?}"
        );
        assert_eq!(ids.late_records_dropped(), reference.dropped);
        assert_eq!(counts.late_records_dropped(), reference.dropped);
    }
    // At the end of time every window has closed and expired.
    assert!(ids.is_empty());
    assert!(counts.is_empty());
}

fn windows() -> impl Strategy<Value = Windows> {
    prop_oneof![
        (1i64..20).prop_map(|size| Windows::Tumbling { size }),
        (1i64..20)
            .prop_flat_map(|size| (Just(size), 1..=size))
            .prop_map(|(size, advance)| Windows::Hopping { size, advance }),
        (0i64..15).prop_map(|size| Windows::Sliding { size: size + 1 }),
        (0i64..12).prop_map(|gap| Windows::Session { gap }),
    ]
}

fn spec(windows: Windows, grace: i64) -> WindowSpec {
    let spec = match windows {
        Windows::Tumbling { size } => WindowSpec::tumbling(size),
        Windows::Hopping { size, advance } => WindowSpec::hopping(size, advance),
        Windows::Sliding { size } => WindowSpec::sliding(size),
        Windows::Session { gap } => WindowSpec::session(gap),
    };
    spec.and_then(|s| s.with_grace(grace)).unwrap()
}

fn config() -> impl Strategy<Value = WindowedConfig> {
    (
        windows(),
        0i64..10,
        prop_oneof![
            Just(LatePolicy::Drop),
            (0i64..30).prop_map(|retention| LatePolicy::Correct { retention }),
        ],
        prop_oneof![Just(EmitMode::Updates), Just(EmitMode::Final)],
    )
        .prop_map(|(windows, grace, late, emit)| {
            WindowedConfig::new(spec(windows, grace), late, emit)
        })
}

/// Records out of order around a watermark that mostly moves forward, so that some records
/// are on time, some within grace, some within retention and some past everything.
fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            4 => (0u8..3, 0i64..120).prop_map(|(key, timestamp)| Step::Record { key, timestamp }),
            1 => (0i64..130).prop_map(Step::Watermark),
        ],
        0..60,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn windowed_aggregations_match_the_reference(config in config(), steps in steps()) {
        check_against_reference(config, steps);
    }
}

/// Each window type with each policy and mode at least once, whatever the random choice.
#[test]
fn every_combination_against_a_fixed_stream() {
    let steps: Vec<Step> = [
        (0, 5),
        (0, 3),
        (1, 12),
        (0, 40),
        (0, 14),
        (1, 41),
        (0, 2),
        (0, 61),
        (1, 30),
        (0, 44),
    ]
    .into_iter()
    .enumerate()
    .flat_map(|(i, (key, timestamp))| {
        [
            Step::Record { key, timestamp },
            Step::Watermark(i as i64 * 8),
        ]
    })
    .collect();
    let all_windows = [
        Windows::Tumbling { size: 10 },
        Windows::Hopping {
            size: 10,
            advance: 3,
        },
        Windows::Sliding { size: 10 },
        Windows::Session { gap: 10 },
    ];
    for windows in all_windows {
        for late in [LatePolicy::Drop, LatePolicy::Correct { retention: 20 }] {
            for emit in [EmitMode::Updates, EmitMode::Final] {
                let config = WindowedConfig::new(spec(windows, 5), late, emit);
                check_against_reference(config, steps.clone());
            }
        }
    }
}
