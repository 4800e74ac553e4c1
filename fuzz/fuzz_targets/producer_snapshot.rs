//! Opening a log whose producer-state snapshot holds arbitrary bytes.
//!
//! Each run writes a small log with idempotent and transactional producers, closes it cleanly
//! (which writes the snapshot), replaces the snapshot with the fuzz input and reopens the log.
//! The open must succeed whatever the bytes: a damaged snapshot is ignored and the state
//! rebuilt from the log, a well-formed one is trusted. Afterwards the last stable offset must
//! lie within the log, and the log must take a new append at its end.

#![no_main]

use std::path::PathBuf;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use runnel_log::{BatchBuilder, Compression, Log, LogConfig, ManualClock, TxnMarker};

const START_MS: i64 = 1_700_000_000_000;

fn scratch_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("RUNNEL_FUZZ_DIR") {
        return PathBuf::from(dir);
    }
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
}

fn batch(producer_id: i64, sequence: i32, transactional: bool) -> Vec<u8> {
    let mut builder = BatchBuilder::new(Compression::None).producer(producer_id, 0, sequence);
    if transactional {
        builder = builder.transactional();
    }
    builder.push(START_MS, Some(b"k"), Some(b"v"), &[]);
    builder.build().expect("a batch")
}

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir_in(scratch_root()).expect("scratch directory");
    let clock = Arc::new(ManualClock::new(START_MS));
    {
        let log = Log::open(dir.path(), LogConfig::default(), clock.clone()).expect("open");
        log.append(&mut batch(1, 0, false), 0).expect("append");
        log.append(&mut batch(2, 0, true), 0).expect("append");
        log.append(&mut batch(3, 0, true), 0).expect("append");
        let abort = TxnMarker {
            producer_id: 3,
            producer_epoch: 0,
            coordinator_epoch: 0,
            commit: false,
        };
        log.append_marker(abort, 0).expect("marker");
        log.close().expect("close");
    }
    std::fs::write(dir.path().join("producer-state"), data).expect("write the snapshot");
    let log = Log::open(dir.path(), LogConfig::default(), clock).expect("reopen");
    let stable = log.last_stable_offset();
    assert!(stable >= log.log_start_offset() && stable <= log.high_watermark());
    // A plain batch: a trusted snapshot may say anything about a producer id.
    let mut plain = BatchBuilder::new(Compression::None);
    plain.push(START_MS, Some(b"k"), Some(b"v"), &[]);
    let info = log
        .append(&mut plain.build().expect("a batch"), 0)
        .expect("append after reopen");
    assert_eq!(info.base_offset, 4);
});
