//! Crash recovery against arbitrary damage to the active segment.
//!
//! Each run writes a small log of several segments, drops it without `close()` (as a crash
//! would leave it), then writes the fuzz input into the last `.log` file and reopens the log.
//! Recovery must succeed and leave a valid prefix:
//!
//! - every batch readable between the log start offset and the high watermark passes
//!   `validate_batch`, and reads make progress up to the high watermark;
//! - the high watermark is at most what was appended (unless the damage itself is a valid
//!   continuation of the log, as a completed append would be), and at least the end of the
//!   last batch the damage did not touch;
//! - the recovered log accepts a new append at the high watermark.
//!
//! Input layout: the first 4 bytes (little-endian u32) choose where the rest is written. Its
//! low 31 bits, modulo the file length + 1, give the position; when the top bit is set the
//! file is first truncated there (a torn write), otherwise the bytes overwrite the file from
//! there on, extending it if they run past the end.

#![no_main]

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use runnel_log::{validate_batch, BatchBuilder, Batches, Compression, Log, LogConfig, ManualClock};

const START_MS: i64 = 1_700_000_000_000;
const TRUNCATE_FLAG: u32 = 1 << 31;

/// Batches appended before the damage, one per append. Small segments make the log roll a
/// few times, so the damaged segment does not start at offset 0.
fn batches() -> &'static [Vec<u8>] {
    static BATCHES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    BATCHES.get_or_init(|| {
        let codecs = [
            Compression::None,
            Compression::None,
            Compression::Gzip,
            Compression::None,
        ];
        (0..8u8)
            .map(|i| {
                let mut builder = BatchBuilder::new(codecs[usize::from(i) % codecs.len()]);
                for r in 0..=i % 3 {
                    let key = [b'k', i, r];
                    let value = vec![i ^ r; 16 + 8 * usize::from(r)];
                    let headers: &[(&[u8], Option<&[u8]>)] =
                        if r == 1 { &[(b"h", Some(b"v"))] } else { &[] };
                    builder.push(
                        START_MS + i64::from(i) * 10 + i64::from(r),
                        Some(&key),
                        Some(&value),
                        headers,
                    );
                }
                builder.build().expect("building a batch")
            })
            .collect()
    })
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 400,
        index_interval_bytes: 128,
        ..LogConfig::default()
    }
}

/// Where scratch logs go: `RUNNEL_FUZZ_DIR` if set, else `/dev/shm` when present (the target
/// syncs files and directories, which costs nothing there), else the system temp dir.
fn scratch_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("RUNNEL_FUZZ_DIR") {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        return shm.to_owned();
    }
    std::env::temp_dir()
}

fn last_log_file(dir: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = fs::read_dir(dir)
        .expect("listing the log directory")
        .map(|entry| entry.expect("reading a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .collect();
    logs.sort();
    logs.pop().expect("the log has a segment")
}

fn segment_base(path: &Path) -> i64 {
    path.file_stem()
        .and_then(|stem| stem.to_str())
        .and_then(|stem| stem.parse().ok())
        .expect("segment files are named by their base offset")
}

/// One past the last offset of the chain of valid batches at the start of `segment` whose
/// offsets follow on from `base` without gaps.
fn contiguous_end(segment: &[u8], base: i64) -> i64 {
    let mut next = base;
    for item in Batches::new(segment) {
        let Ok((header, _)) = item else { break };
        if header.base_offset != next {
            break;
        }
        match header
            .base_offset
            .checked_add(i64::from(header.last_offset_delta) + 1)
        {
            Some(end) => next = end,
            None => break,
        }
    }
    next
}

fuzz_target!(|data: &[u8]| {
    let Some((selector, damage)) = data.split_first_chunk::<4>() else {
        return;
    };
    let selector = u32::from_le_bytes(*selector);

    let dir = tempfile::tempdir_in(scratch_root()).expect("creating a scratch directory");
    let clock = Arc::new(ManualClock::new(START_MS));

    // A valid log, left as a crash leaves it: no close(), so no clean-shutdown marker.
    let appended_end = {
        let log = Log::open(dir.path(), config(), clock.clone()).expect("opening a new log");
        for batch in batches() {
            let mut bytes = batch.clone();
            log.append(&mut bytes, 3).expect("appending a valid batch");
            clock.advance(5);
        }
        let end = log.high_watermark();
        drop(log);
        end
    };

    // Damage the active segment.
    let last = last_log_file(dir.path());
    let base = segment_base(&last);
    let original = fs::read(&last).expect("reading the last segment");
    let position = (selector & !TRUNCATE_FLAG) as usize % (original.len() + 1);
    {
        let file = OpenOptions::new()
            .write(true)
            .open(&last)
            .expect("opening the last segment");
        if selector & TRUNCATE_FLAG != 0 {
            file.set_len(position as u64)
                .expect("truncating the last segment");
        }
        file.write_all_at(damage, position as u64)
            .expect("writing the damage");
    }

    // Batches that end at or before the damage are untouched and must survive recovery.
    let mut intact_end = base;
    let mut end_position = 0;
    for item in Batches::new(&original) {
        let (header, bytes) = item.expect("the undamaged segment is valid");
        end_position += bytes.len();
        if end_position > position {
            break;
        }
        intact_end = header.last_offset() + 1;
    }

    // The damage may itself hold whole valid batches that continue the offsets exactly, as
    // an append that reached the disk before the crash would; recovery may keep those.
    let damaged = fs::read(&last).expect("reading the damaged segment");
    let upper_bound = appended_end.max(contiguous_end(&damaged, base));

    clock.advance(1_000);
    let log = match Log::open(dir.path(), config(), clock.clone()) {
        Ok(log) => log,
        Err(e) => panic!("recovery failed: {e}"),
    };
    let high_watermark = log.high_watermark();
    let log_start = log.log_start_offset();
    assert!(
        high_watermark <= upper_bound,
        "high watermark {high_watermark} is past the {appended_end} offsets appended \
         (and the {upper_bound} the damaged file could hold)"
    );
    assert!(
        high_watermark >= intact_end,
        "high watermark {high_watermark} lost undamaged batches below {intact_end}"
    );

    let mut offset = log_start;
    while offset < high_watermark {
        let read = match log.read(offset, 256) {
            Ok(read) => read,
            Err(e) => panic!("read at {offset} failed after recovery: {e}"),
        };
        assert!(
            !read.records.is_empty(),
            "read at {offset} returned nothing below {high_watermark}"
        );
        let mut next = offset;
        let mut rest = &read.records[..];
        while !rest.is_empty() {
            let header = match validate_batch(rest) {
                Ok(header) => header,
                Err(e) => panic!("read at {offset} returned an invalid batch: {e}"),
            };
            assert!(
                header.base_offset < high_watermark,
                "read returned a batch at {} past the high watermark {high_watermark}",
                header.base_offset
            );
            next = next.max(
                header
                    .base_offset
                    .saturating_add(i64::from(header.last_offset_delta))
                    + 1,
            );
            rest = &rest[header.total_len()..];
        }
        assert!(next > offset, "read at {offset} made no progress");
        offset = next;
    }

    let mut bytes = batches()[0].clone();
    match log.append(&mut bytes, 4) {
        Ok(info) => assert_eq!(info.base_offset, high_watermark, "append after recovery"),
        Err(e) => panic!("append after recovery failed: {e}"),
    }
    drop(log);
});
