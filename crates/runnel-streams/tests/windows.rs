//! Windowed aggregations step by step: session merges, grace, both late policies and
//! emit-final, with the exact changelog each step produces.
#![allow(clippy::unwrap_used)]

use runnel_streams::{
    Change, Count, EmitMode, LatePolicy, Record, Reduce, StreamsError, Window, WindowSpec,
    WindowedAggregation, WindowedConfig,
};

type Op = WindowedAggregation<&'static str, u64, Count>;

fn op(spec: WindowSpec, late: LatePolicy, emit: EmitMode) -> Op {
    WindowedAggregation::new(WindowedConfig::new(spec, late, emit), Count).unwrap()
}

fn record(op: &mut Op, key: &'static str, t: i64) -> Vec<Change<&'static str, u64>> {
    let mut out = Vec::new();
    op.process(&Record::new(key, 0, t, 0), &mut out);
    out
}

fn watermark(op: &mut Op, w: i64) -> Vec<Change<&'static str, u64>> {
    let mut out = Vec::new();
    op.advance_watermark(w, &mut out);
    out
}

fn update(key: &'static str, start: i64, end: i64, value: u64) -> Change<&'static str, u64> {
    Change::Update {
        key,
        window: Window::new(start, end),
        value,
    }
}

fn retract(key: &'static str, start: i64, end: i64, old_value: u64) -> Change<&'static str, u64> {
    Change::Retract {
        key,
        window: Window::new(start, end),
        old_value,
    }
}

fn final_(key: &'static str, start: i64, end: i64, value: u64) -> Change<&'static str, u64> {
    Change::Final {
        key,
        window: Window::new(start, end),
        value,
    }
}

#[test]
fn a_record_between_two_sessions_merges_them() {
    let mut s = op(
        WindowSpec::session(10).unwrap(),
        LatePolicy::Drop,
        EmitMode::Updates,
    );
    assert_eq!(record(&mut s, "a", 0), vec![update("a", 0, 1, 1)]);
    assert_eq!(record(&mut s, "a", 20), vec![update("a", 20, 21, 1)]);
    // Another key's sessions are its own.
    assert_eq!(record(&mut s, "b", 10), vec![update("b", 10, 11, 1)]);
    // 10 is within 10 of both: one session from 0 to 20.
    assert_eq!(
        record(&mut s, "a", 10),
        vec![
            retract("a", 0, 1, 1),
            retract("a", 20, 21, 1),
            update("a", 0, 21, 3)
        ]
    );
    // Inside the session: the same window, updated, nothing retracted.
    assert_eq!(record(&mut s, "a", 15), vec![update("a", 0, 21, 4)]);
    // Exactly `gap` after the end still extends it.
    assert_eq!(
        record(&mut s, "a", 30),
        vec![retract("a", 0, 21, 4), update("a", 0, 31, 5)]
    );
    // One more than the gap does not.
    assert_eq!(record(&mut s, "a", 41), vec![update("a", 41, 42, 1)]);
}

#[test]
fn a_session_closes_a_gap_and_a_grace_after_its_last_record() {
    let spec = WindowSpec::session(10).unwrap().with_grace(5).unwrap();
    let mut s = op(spec, LatePolicy::Drop, EmitMode::Final);
    assert!(record(&mut s, "a", 0).is_empty());
    assert!(record(&mut s, "a", 8).is_empty());
    // The session [0, 9) closes when the watermark reaches 9 + 10 + 5.
    assert!(watermark(&mut s, 23).is_empty());
    // Within grace (the watermark has passed 18 by less than 5): it joins the session.
    assert!(record(&mut s, "a", 18).is_empty());
    assert!(watermark(&mut s, 33).is_empty());
    assert_eq!(watermark(&mut s, 34), vec![final_("a", 0, 19, 3)]);
    // Past grace: dropped and counted, even though it is within the gap of the session.
    assert!(record(&mut s, "a", 28).is_empty());
    assert_eq!(s.late_records_dropped(), 1);
    assert!(s.is_empty());
}

#[test]
fn a_correction_merging_closed_sessions_retracts_their_finals() {
    let spec = WindowSpec::session(5).unwrap();
    let mut s = op(
        spec,
        LatePolicy::Correct { retention: 100 },
        EmitMode::Final,
    );
    record(&mut s, "a", 0);
    record(&mut s, "a", 10);
    assert_eq!(
        watermark(&mut s, 20),
        vec![final_("a", 0, 1, 1), final_("a", 10, 11, 1)]
    );
    // Far past grace, within retention: the merged result replaces both.
    assert_eq!(
        record(&mut s, "a", 5),
        vec![
            retract("a", 0, 1, 1),
            retract("a", 10, 11, 1),
            final_("a", 0, 11, 3)
        ]
    );
    assert_eq!(s.late_records_dropped(), 0);
}

#[test]
fn tumbling_windows_drop_after_grace_and_count_it() {
    let spec = WindowSpec::tumbling(10).unwrap().with_grace(3).unwrap();
    let mut t = op(spec, LatePolicy::Drop, EmitMode::Updates);
    assert_eq!(record(&mut t, "a", 4), vec![update("a", 0, 10, 1)]);
    assert!(watermark(&mut t, 12).is_empty());
    // The window ended at 10; with a grace of 3 it still takes records at watermark 12.
    assert_eq!(record(&mut t, "a", 9), vec![update("a", 0, 10, 2)]);
    watermark(&mut t, 13);
    assert!(record(&mut t, "a", 9).is_empty());
    assert_eq!(t.late_records_dropped(), 1);
    // A watermark going back changes nothing.
    assert!(watermark(&mut t, 0).is_empty());
    assert!(record(&mut t, "a", 1).is_empty());
    assert_eq!(t.late_records_dropped(), 2);
}

#[test]
fn tumbling_windows_correct_after_grace_until_retention() {
    let spec = WindowSpec::tumbling(10).unwrap();
    let mut t = op(
        spec,
        LatePolicy::Correct { retention: 20 },
        EmitMode::Updates,
    );
    record(&mut t, "a", 4);
    watermark(&mut t, 15);
    assert_eq!(
        record(&mut t, "a", 5),
        vec![retract("a", 0, 10, 1), update("a", 0, 10, 2)]
    );
    // A closed window nobody had a result for yet: nothing to retract.
    assert_eq!(record(&mut t, "b", 5), vec![update("b", 0, 10, 1)]);
    // Retention ends at 10 + 20: then the window is forgotten and the record dropped.
    watermark(&mut t, 30);
    assert!(record(&mut t, "a", 5).is_empty());
    assert_eq!(t.late_records_dropped(), 1);
}

#[test]
fn emit_final_sends_each_window_once_when_it_closes() {
    let spec = WindowSpec::hopping(10, 5).unwrap().with_grace(2).unwrap();
    let mut h = op(spec, LatePolicy::Drop, EmitMode::Final);
    for t in [1, 3, 6, 12] {
        assert!(record(&mut h, "a", t).is_empty());
    }
    // [-5, 5) closes at 5 + 2, [0, 10) at 10 + 2.
    assert!(watermark(&mut h, 6).is_empty());
    assert_eq!(watermark(&mut h, 7), vec![final_("a", -5, 5, 2)]);
    assert!(watermark(&mut h, 11).is_empty());
    assert_eq!(watermark(&mut h, 12), vec![final_("a", 0, 10, 3)]);
    // Late for [0, 10) but on time for [5, 15): applied there, counted as dropped.
    assert!(record(&mut h, "a", 7).is_empty());
    assert_eq!(h.late_records_dropped(), 1);
    assert_eq!(
        watermark(&mut h, 100),
        vec![final_("a", 5, 15, 3), final_("a", 10, 20, 1)]
    );
}

#[test]
fn emit_final_with_corrections_retracts_the_final() {
    let spec = WindowSpec::tumbling(10).unwrap();
    let mut t = op(spec, LatePolicy::Correct { retention: 50 }, EmitMode::Final);
    record(&mut t, "a", 1);
    assert_eq!(watermark(&mut t, 10), vec![final_("a", 0, 10, 1)]);
    assert_eq!(
        record(&mut t, "a", 2),
        vec![retract("a", 0, 10, 1), final_("a", 0, 10, 2)]
    );
}

#[test]
fn sliding_windows_follow_the_records() {
    let mut s = op(
        WindowSpec::sliding(10).unwrap(),
        LatePolicy::Drop,
        EmitMode::Updates,
    );
    // Left window of 5: [-5, 5].
    assert_eq!(record(&mut s, "a", 5), vec![update("a", -5, 6, 1)]);
    // 12 is within 10 of 5: the window after 5 ([6, 16]) now holds 12, and 12's own window
    // [2, 12] holds both.
    assert_eq!(
        record(&mut s, "a", 12),
        vec![update("a", 2, 13, 2), update("a", 6, 17, 1)]
    );
    // 30 is alone: the window after 12 would be [13, 23], which holds nothing.
    assert_eq!(record(&mut s, "a", 30), vec![update("a", 20, 31, 1)]);
}

#[test]
fn session_aggregations_need_a_merger() {
    let config = WindowedConfig::new(
        WindowSpec::session(1).unwrap(),
        LatePolicy::Drop,
        EmitMode::Updates,
    );
    let no_merge = runnel_streams::Aggregate::new(|| 0u64, |_: &&str, _: &u64, a: u64| a + 1);
    let refused = WindowedAggregation::<&str, u64, _>::new(config, no_merge);
    assert!(matches!(refused, Err(StreamsError::SessionNeedsMerge)));
    let reduce = Reduce::new(|a: &u64, b: &u64| a.max(b).to_owned());
    assert!(WindowedAggregation::<&str, u64, _>::new(config, reduce).is_ok());
}
