//! Crash tests: whatever a crash leaves at the tail of the active segment, reopening yields
//! exactly the longest valid prefix of what was appended.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::Path;

use common::{
    clock, copy_dir, last_segment, last_segment_len, open, read_all, simple_batch,
    truncate_last_segment, Rec,
};
use runnel_log::{LogConfig, ManualClock};

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 4_000,
        index_interval_bytes: 256,
        ..LogConfig::default()
    }
}

struct Fixture {
    /// The log as the crash found it (after the last append, without a clean close).
    pristine: tempfile::TempDir,
    all: Vec<Rec>,
    /// Records before the last batch: what must survive any damage to that batch.
    before_last: Vec<Rec>,
    /// Byte range of the last batch in the last segment file.
    last_batch: std::ops::Range<u64>,
    clock: std::sync::Arc<ManualClock>,
}

fn fixture(clean_close: bool) -> Fixture {
    let pristine = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = open(pristine.path(), config(), &clock);
    for n in 0..12 {
        log.append(&mut simple_batch(3, 150, 1_000 + n), 0).unwrap();
    }
    let before_last = read_all(&log);
    let start = log.size_bytes();
    log.append(&mut simple_batch(2, 200, 5_000), 0).unwrap();
    let all = read_all(&log);
    let segment_start = start - (log.size_bytes() - last_segment_len(pristine.path()));
    let end = last_segment_len(pristine.path());
    if clean_close {
        log.close().unwrap();
    }
    drop(log);
    Fixture {
        pristine,
        all,
        before_last,
        last_batch: segment_start..end,
        clock,
    }
}

/// Reopens a damaged copy and returns what it holds, checking it can take appends again.
fn reopen(dir: &Path, fixture: &Fixture) -> Vec<Rec> {
    let log = open(dir, config(), &fixture.clock);
    let records = read_all(&log);
    let next = log.high_watermark();
    let info = log.append(&mut simple_batch(1, 10, 9_000), 0).unwrap();
    assert_eq!(
        info.base_offset, next,
        "appends continue right after the recovered prefix"
    );
    records
}

#[test]
fn truncating_the_last_batch_at_every_byte_recovers_the_prefix() {
    for clean_close in [false, true] {
        let fixture = fixture(clean_close);
        for cut in fixture.last_batch.clone() {
            let copy = copy_dir(fixture.pristine.path());
            truncate_last_segment(copy.path(), cut);
            assert_eq!(
                reopen(copy.path(), &fixture),
                fixture.before_last,
                "cut at {cut}, clean {clean_close}"
            );
        }
        let copy = copy_dir(fixture.pristine.path());
        assert_eq!(
            reopen(copy.path(), &fixture),
            fixture.all,
            "untouched, clean {clean_close}"
        );
    }
}

#[test]
fn a_flipped_byte_in_the_last_batch_drops_exactly_that_batch() {
    let fixture = fixture(false);
    let range = fixture.last_batch.clone();
    // Every byte of the header, then every 7th byte of the records. The leader epoch (bytes
    // 12..16) lies outside the CRC, as in Kafka, and is metadata only.
    let positions = (range.start..range.start + 61)
        .chain((range.start + 61..range.end).step_by(7))
        .filter(|p| !(range.start + 12..range.start + 16).contains(p));
    for position in positions {
        let copy = copy_dir(fixture.pristine.path());
        let path = last_segment(copy.path());
        let mut bytes = fs::read(&path).unwrap();
        bytes[position as usize] ^= 0x5a;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(
            reopen(copy.path(), &fixture),
            fixture.before_last,
            "flip at {position}"
        );
    }
}

#[test]
fn damage_in_the_middle_of_the_last_segment_truncates_from_there() {
    let fixture = fixture(false);
    let copy = copy_dir(fixture.pristine.path());
    let path = last_segment(copy.path());
    let mut bytes = fs::read(&path).unwrap();
    let first_batch_len = 61 + 3 * 160; // approximately; anywhere inside the second batch will do
    bytes[first_batch_len + 100] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let records = reopen(copy.path(), &fixture);
    assert!(records.len() < fixture.all.len());
    assert_eq!(
        records[..],
        fixture.all[..records.len()],
        "what survives is a prefix"
    );
}

#[test]
fn garbage_after_the_last_batch_is_cut_off() {
    let fixture = fixture(true);
    let copy = copy_dir(fixture.pristine.path());
    let path = last_segment(copy.path());
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(&[0xab; 100]);
    fs::write(&path, &bytes).unwrap();
    assert_eq!(reopen(copy.path(), &fixture), fixture.all);
}

#[test]
fn damaged_index_files_are_rebuilt() {
    let fixture = fixture(true);
    let copy = copy_dir(fixture.pristine.path());
    for entry in fs::read_dir(copy.path()).unwrap() {
        let path = entry.unwrap().path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("index") => fs::write(&path, [0xff; 13]).unwrap(),
            Some("timeindex") => fs::write(&path, [0x01; 24]).unwrap(),
            _ => {}
        }
    }
    assert_eq!(reopen(copy.path(), &fixture), fixture.all);
}
