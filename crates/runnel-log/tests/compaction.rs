//! Compaction against a model: after cleaning, reading from the start gives every key's
//! latest value, no deleted key, and strictly increasing offsets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "compaction/transactions.rs"]
mod transactions;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{batch, clock, open, read_all, Rec};
use proptest::prelude::*;
use runnel_log::{CleanupPolicy, Clock, Compression, LogCleaner, LogConfig};

fn compacted(delete_retention_ms: i64) -> LogConfig {
    LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        segment_bytes: 600,
        min_cleanable_dirty_ratio: 0.0,
        delete_retention_ms,
        ..LogConfig::default()
    }
}

/// Key -> (offset, value) of the latest record per key among `records`.
fn latest(records: &[Rec]) -> BTreeMap<Vec<u8>, (i64, Option<Vec<u8>>)> {
    let mut latest = BTreeMap::new();
    for r in records {
        latest.insert(r.key.clone().unwrap(), (r.offset, r.value.clone()));
    }
    latest
}

fn check_compacted(
    got: &[Rec],
    appended: &[Rec],
    tombstones_kept: bool,
) -> Result<(), TestCaseError> {
    prop_assert!(
        got.windows(2).all(|w| w[0].offset < w[1].offset),
        "offsets strictly increase"
    );
    let mut expected: BTreeMap<_, _> = latest(appended);
    if !tombstones_kept {
        expected.retain(|_, (_, value)| value.is_some());
    }
    let mut seen = BTreeMap::new();
    for r in got {
        let previous = seen.insert(r.key.clone().unwrap(), (r.offset, r.value.clone()));
        prop_assert!(previous.is_none(), "key {:?} appears twice", r.key);
    }
    prop_assert_eq!(seen, expected);
    Ok(())
}

type Writes = Vec<Vec<(u8, Option<u8>)>>;

fn writes() -> impl Strategy<Value = Writes> {
    prop::collection::vec(
        prop::collection::vec((0u8..12, prop::option::of(any::<u8>())), 1..5),
        1..40,
    )
}

fn append_all(
    log: &runnel_log::Log,
    writes: &Writes,
    now: i64,
    codec: Compression,
    appended: &mut Vec<Rec>,
) {
    for records in writes {
        let owned: Vec<(Vec<u8>, Option<Vec<u8>>)> = records
            .iter()
            .map(|(k, v)| (vec![b'k', *k], v.map(|v| vec![v; 40])))
            .collect();
        let spec: Vec<_> = owned
            .iter()
            .map(|(k, v)| (Some(&k[..]), v.as_deref(), now))
            .collect();
        let info = log.append(&mut batch(&spec, codec), 0).unwrap();
        for (i, (k, v)) in owned.into_iter().enumerate() {
            appended.push(Rec {
                offset: info.base_offset + i as i64,
                timestamp: now,
                key: Some(k),
                value: v,
            });
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn compaction_keeps_exactly_the_latest_value_of_each_key(
        first in writes(),
        second in writes(),
        keep_tombstones in any::<bool>(),
        codec in 0usize..5,
    ) {
        let codec = Compression::ALL[codec];
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let config = compacted(if keep_tombstones { i64::MAX } else { 0 });
        let log = open(dir.path(), config.clone(), &clock);
        let mut appended = Vec::new();

        append_all(&log, &first, clock.now_ms(), codec, &mut appended);
        log.roll().unwrap();
        clock.advance(1);
        log.compact().unwrap();
        check_compacted(&read_all(&log), &appended, keep_tombstones)?;

        // A second pass over old (clean) and new (dirty) segments, then a crash and restart.
        append_all(&log, &second, clock.now_ms(), codec, &mut appended);
        log.roll().unwrap();
        clock.advance(1);
        log.compact().unwrap();
        check_compacted(&read_all(&log), &appended, keep_tombstones)?;
        prop_assert_eq!(log.high_watermark(), appended.len() as i64);
        drop(log);
        let log = open(dir.path(), config, &clock);
        check_compacted(&read_all(&log), &appended, keep_tombstones)?;
        let info = log.append(&mut batch(&[(Some(b"after"), Some(b"v"), 0)], codec), 0).unwrap();
        prop_assert_eq!(info.base_offset, appended.len() as i64, "offsets continue after compaction");
    }
}

fn keyed(log: &runnel_log::Log, key: &str, value: Option<&str>, ts: i64) {
    log.append(
        &mut batch(
            &[(Some(key.as_bytes()), value.map(str::as_bytes), ts)],
            Compression::None,
        ),
        0,
    )
    .unwrap();
}

fn values(log: &runnel_log::Log) -> Vec<(String, Option<String>)> {
    read_all(log)
        .into_iter()
        .map(|r| {
            let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
            (text(r.key.unwrap()), r.value.map(text))
        })
        .collect()
}

#[test]
fn the_active_segment_is_never_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = open(dir.path(), compacted(0), &clock);
    for n in 0..5 {
        keyed(&log, "a", Some(&n.to_string()), clock.now_ms());
    }
    clock.advance(1);
    assert_eq!(log.compact().unwrap(), None);
    assert_eq!(values(&log).len(), 5);
}

#[test]
fn segments_younger_than_the_compaction_lag_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = LogConfig {
        min_compaction_lag_ms: 10_000,
        ..compacted(0)
    };
    let log = open(dir.path(), config, &clock);
    keyed(&log, "a", Some("1"), clock.now_ms());
    keyed(&log, "a", Some("2"), clock.now_ms());
    log.roll().unwrap();
    clock.advance(9_999);
    assert_eq!(log.compact().unwrap(), None);
    clock.advance(1);
    assert!(log.compact().unwrap().is_some());
    assert_eq!(values(&log), vec![("a".to_owned(), Some("2".to_owned()))]);
}

#[test]
fn a_pass_waits_for_the_dirty_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = LogConfig {
        min_cleanable_dirty_ratio: 0.5,
        segment_bytes: 10_000,
        ..compacted(0)
    };
    let log = open(dir.path(), config, &clock);
    for n in 0..20 {
        keyed(&log, &format!("k{n}"), Some("v"), clock.now_ms());
    }
    log.roll().unwrap();
    assert!(log.compact().unwrap().is_some(), "all dirty: ratio 1.0");
    keyed(&log, "k0", Some("new"), clock.now_ms());
    log.roll().unwrap();
    assert_eq!(
        log.compact().unwrap(),
        None,
        "one dirty record among twenty clean ones"
    );
    for n in 1..20 {
        keyed(&log, &format!("k{n}"), Some("new"), clock.now_ms());
    }
    log.roll().unwrap();
    let report = log.compact().unwrap().expect("now mostly dirty");
    assert_eq!(report.records_removed, 20);
    assert!(values(&log)
        .iter()
        .all(|(_, v)| v.as_deref() == Some("new")));
}

#[test]
fn tombstones_stay_for_delete_retention_then_go() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = open(dir.path(), compacted(60_000), &clock);
    keyed(&log, "a", Some("1"), clock.now_ms());
    keyed(&log, "b", Some("1"), clock.now_ms());
    keyed(&log, "a", None, clock.now_ms());
    log.roll().unwrap();
    log.compact().unwrap();
    assert_eq!(
        values(&log),
        vec![
            ("b".to_owned(), Some("1".to_owned())),
            ("a".to_owned(), None)
        ]
    );
    clock.advance(60_001);
    keyed(&log, "c", Some("1"), clock.now_ms());
    log.roll().unwrap();
    log.compact().unwrap();
    assert_eq!(
        values(&log),
        vec![
            ("b".to_owned(), Some("1".to_owned())),
            ("c".to_owned(), Some("1".to_owned()))
        ]
    );
}

#[test]
fn the_background_cleaner_compacts_registered_logs_and_counts_what_it_reclaimed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = Arc::new(open(dir.path(), compacted(0), &clock));
    for n in 0..10 {
        keyed(&log, "a", Some(&n.to_string()), clock.now_ms());
    }
    log.roll().unwrap();
    let before = log.size_bytes();
    let cleaner = LogCleaner::start(Duration::from_millis(10)).unwrap();
    cleaner.register(&log);
    assert!(
        cleaner.wait_for_passes(2, Duration::from_secs(30)),
        "cleaner made no pass"
    );
    assert_eq!(values(&log), vec![("a".to_owned(), Some("9".to_owned()))]);
    let totals = cleaner.totals();
    assert!(totals.passes >= 2, "{totals:?}");
    assert_eq!(totals.compactions, 1, "{totals:?}");
    assert_eq!(totals.records_removed, 9, "{totals:?}");
    assert_eq!(
        totals.bytes_reclaimed,
        before - log.size_bytes(),
        "{totals:?}"
    );
    assert!(totals.bytes_reclaimed > 0, "{totals:?}");
    drop(cleaner);
}
