//! Behaviour of one partition log: offsets, reads, rolls, time lookups, retention, flush
//! policies, restarts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{batch, clock, decode, open, read_all, simple_batch};
use runnel_log::{BatchError, CleanupPolicy, Compression, LogConfig, LogError, TimestampType};

#[test]
fn appends_get_consecutive_offsets_and_read_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = open(dir.path(), LogConfig::default(), &clock);
    let first = log.append(&mut simple_batch(3, 10, 1_000), 7).unwrap();
    let second = log.append(&mut simple_batch(2, 10, 2_000), 7).unwrap();
    assert_eq!((first.base_offset, first.last_offset), (0, 2));
    assert_eq!((second.base_offset, second.last_offset), (3, 4));
    assert_eq!(log.high_watermark(), 5);

    let read = log.read(0, 1 << 20).unwrap();
    let headers: Vec<_> = runnel_log::Batches::new(&read.records)
        .map(|b| b.unwrap().0)
        .collect();
    assert_eq!(headers.len(), 2);
    assert_eq!(headers[1].base_offset, 3);
    assert_eq!(
        headers[1].leader_epoch, 7,
        "leader epoch is stamped into the header"
    );
    let records = decode(&read.records);
    assert_eq!(
        records.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(records[3].timestamp, 2_000);
    assert_eq!(records[4].key.as_deref(), Some(&b"k1"[..]));
}

#[test]
fn a_read_inside_a_batch_returns_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), &clock());
    log.append(&mut simple_batch(5, 10, 1_000), 0).unwrap();
    let records = decode(&log.read(3, 1 << 20).unwrap().records);
    assert_eq!(records.first().map(|r| r.offset), Some(0));
    assert_eq!(records.len(), 5);
}

#[test]
fn reading_at_the_end_is_empty_and_outside_the_log_is_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), &clock());
    log.append(&mut simple_batch(2, 10, 1_000), 0).unwrap();
    assert!(log.read(2, 1 << 20).unwrap().records.is_empty());
    assert!(matches!(
        log.read(3, 1 << 20),
        Err(LogError::OffsetOutOfRange {
            requested: 3,
            log_start: 0,
            high_watermark: 2
        })
    ));
    assert!(matches!(
        log.read(-1, 100),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn max_bytes_bounds_a_read_but_one_batch_always_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), &clock());
    for _ in 0..4 {
        log.append(&mut simple_batch(1, 1_000, 1_000), 0).unwrap();
    }
    let batch_len = log.size_bytes() as usize / 4;
    assert_eq!(
        decode(&log.read(0, 10).unwrap().records).len(),
        1,
        "larger than max_bytes"
    );
    assert_eq!(
        decode(&log.read(0, batch_len * 2 + 5).unwrap().records).len(),
        2
    );
    assert!(log.read(0, batch_len * 2 + 5).unwrap().records.len() <= batch_len * 2 + 5);
    assert!(
        log.read_at_most(0, 10).unwrap().records.is_empty(),
        "a strict limit returns nothing"
    );
    assert_eq!(
        decode(&log.read_at_most(0, batch_len).unwrap().records).len(),
        1
    );
}

#[test]
fn corrupt_oversized_and_malformed_batches_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        max_message_bytes: 2_000,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, &clock());

    let mut corrupt = simple_batch(2, 10, 1_000);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    assert!(matches!(
        log.append(&mut corrupt, 0),
        Err(LogError::InvalidBatch(BatchError::CrcMismatch { .. }))
    ));

    let mut large = simple_batch(1, 3_000, 1_000);
    assert!(matches!(
        log.append(&mut large, 0),
        Err(LogError::InvalidBatch(BatchError::TooLarge {
            limit: 2_000,
            ..
        }))
    ));

    let mut good_then_truncated = simple_batch(1, 10, 1_000);
    good_then_truncated.extend_from_slice(&simple_batch(1, 10, 1_000)[..30]);
    assert!(matches!(
        log.append(&mut good_then_truncated, 0),
        Err(LogError::InvalidBatch(BatchError::Truncated { .. }))
    ));

    let mut wrong_magic = simple_batch(1, 10, 1_000);
    wrong_magic[16] = 1;
    assert!(matches!(
        log.append(&mut wrong_magic, 0),
        Err(LogError::InvalidBatch(BatchError::UnsupportedMagic(1)))
    ));
    assert!(matches!(
        log.append(&mut [], 0),
        Err(LogError::InvalidBatch(BatchError::Empty))
    ));
    assert_eq!(log.high_watermark(), 0);
    assert_eq!(log.size_bytes(), 0);
}

#[test]
fn a_compacted_log_refuses_records_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, &clock());
    let mut keyless = batch(
        &[(Some(b"k"), Some(b"v"), 1), (None, Some(b"v"), 1)],
        Compression::Lz4,
    );
    match log.append(&mut keyless, 0) {
        Err(LogError::InvalidBatch(BatchError::RecordsRefused { fault, records })) => {
            assert_eq!(fault, runnel_log::RecordFault::MissingKey);
            assert_eq!(records.iter().map(|r| r.index).collect::<Vec<_>>(), [1]);
        }
        other => panic!("expected the keyless record refused, got {other:?}"),
    }
    let mut keyed = batch(&[(Some(b"k"), None, 1)], Compression::Lz4);
    log.append(&mut keyed, 0).unwrap();
}

#[test]
fn every_codec_is_stored_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), &clock());
    let mut sent = Vec::new();
    for compression in Compression::ALL {
        let value = vec![b'x'; 500];
        let mut bytes = batch(
            &[(Some(b"k"), Some(&value), 5), (None, None, 6)],
            compression,
        );
        log.append(&mut bytes, 0).unwrap();
        sent.extend_from_slice(&bytes);
    }
    assert_eq!(
        log.read(0, 1 << 20).unwrap().records,
        sent,
        "bytes on disk are the bytes sent"
    );
    assert_eq!(read_all(&log).len(), 10);
}

#[test]
fn segments_roll_by_size_and_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = LogConfig {
        segment_bytes: 1_000,
        segment_ms: 60_000,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, &clock);
    for _ in 0..5 {
        log.append(&mut simple_batch(1, 400, 1_000), 0).unwrap();
    }
    // Two 470-byte batches fit in 1000 bytes, a third does not.
    assert_eq!(log.segment_base_offsets(), vec![0, 2, 4]);
    clock.advance(60_000);
    log.append(&mut simple_batch(1, 10, 1_000), 0).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2, 4, 5]);
    assert_eq!(read_all(&log).len(), 6, "reads cross segment boundaries");
}

#[test]
fn offset_for_timestamp_finds_the_first_record_at_or_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 300,
        index_interval_bytes: 1,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, &clock());
    // Timestamps are not monotonic: the first record at or after 150 in offset order is
    // offset 2 (timestamp 200), although offset 3 has 150.
    for (ts, compression) in [
        (100, Compression::None),
        (90, Compression::Zstd),
        (200, Compression::Gzip),
        (150, Compression::None),
        (300, Compression::Snappy),
    ] {
        log.append(&mut batch(&[(Some(b"k"), Some(b"v"), ts)], compression), 0)
            .unwrap();
    }
    let at = |t| {
        log.offset_for_timestamp(t)
            .unwrap()
            .map(|x| (x.offset, x.timestamp))
    };
    assert_eq!(at(0), Some((0, 100)));
    assert_eq!(at(95), Some((0, 100)));
    assert_eq!(at(101), Some((2, 200)));
    assert_eq!(at(150), Some((2, 200)));
    assert_eq!(at(201), Some((4, 300)));
    assert_eq!(at(301), None);
    let max = log.max_timestamp().unwrap().unwrap();
    assert_eq!((max.offset, max.timestamp), (4, 300));
}

#[test]
fn record_level_timestamps_inside_a_batch_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), &clock());
    log.append(
        &mut batch(
            &[
                (None, Some(b"a"), 10),
                (None, Some(b"b"), 30),
                (None, Some(b"c"), 20),
            ],
            Compression::Lz4,
        ),
        0,
    )
    .unwrap();
    let found = log.offset_for_timestamp(15).unwrap().unwrap();
    assert_eq!((found.offset, found.timestamp), (1, 30));
    let max = log.max_timestamp().unwrap().unwrap();
    assert_eq!((max.offset, max.timestamp), (1, 30));
}

#[test]
fn log_append_time_replaces_the_producer_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = LogConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, &clock);
    let info = log.append(&mut simple_batch(2, 5, 42), 0).unwrap();
    assert_eq!(
        info.log_append_time,
        runnel_log::Clock::now_ms(clock.as_ref())
    );
    let records = read_all(&log);
    assert!(records.iter().all(|r| r.timestamp == info.log_append_time));
}

#[test]
fn time_retention_deletes_only_whole_expired_closed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let now = runnel_log::Clock::now_ms(clock.as_ref());
    let config = LogConfig {
        segment_bytes: 500,
        retention_ms: 10_000,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, &clock);
    log.append(&mut simple_batch(1, 400, now - 20_000), 0)
        .unwrap(); // segment 0: expired
    log.append(&mut simple_batch(1, 400, now - 20_000), 0)
        .unwrap(); // segment 1: expired
    log.append(&mut simple_batch(1, 400, now - 5_000), 0)
        .unwrap(); // segment 2: live
    log.append(&mut simple_batch(1, 400, now - 20_000), 0)
        .unwrap(); // segment 3: active
    assert_eq!(log.segment_base_offsets(), vec![0, 1, 2, 3]);
    let report = log.enforce_retention().unwrap();
    assert_eq!(report.segments_deleted, 2);
    assert_eq!(log.segment_base_offsets(), vec![2, 3]);
    assert_eq!(log.log_start_offset(), 2);
    assert!(matches!(
        log.read(1, 100),
        Err(LogError::OffsetOutOfRange { log_start: 2, .. })
    ));
    clock.advance(10_000);
    log.enforce_retention().unwrap();
    assert_eq!(
        log.segment_base_offsets(),
        vec![3],
        "the active segment stays"
    );
}

#[test]
fn size_retention_deletes_the_oldest_segments_while_the_rest_still_reaches_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let now = runnel_log::Clock::now_ms(clock.as_ref());
    let config = LogConfig {
        segment_bytes: 500,
        retention_bytes: 1_000,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config.clone(), &clock);
    for _ in 0..5 {
        log.append(&mut simple_batch(1, 400, now), 0).unwrap();
    }
    let segment = log.size_bytes() / 5;
    log.enforce_retention().unwrap();
    // As in Kafka, retention.bytes is kept: a segment goes only if the rest still reaches it.
    assert!(
        log.size_bytes() >= 1_000 && log.size_bytes() - segment < 1_000,
        "size {}",
        log.size_bytes()
    );
    assert_eq!(log.log_start_offset(), 2);

    let compact_only = LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        retention_bytes: 0,
        ..config
    };
    log.set_config(compact_only);
    assert_eq!(
        log.enforce_retention().unwrap().segments_deleted,
        0,
        "compact-only logs keep everything"
    );
}

#[test]
fn delete_records_moves_the_log_start_and_it_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = LogConfig {
        segment_bytes: 500,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config.clone(), &clock);
    for _ in 0..4 {
        log.append(&mut simple_batch(1, 400, 1), 0).unwrap();
    }
    assert!(matches!(
        log.delete_records(5),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(log.delete_records(2).unwrap(), 2);
    assert_eq!(
        log.delete_records(1).unwrap(),
        2,
        "the log start never moves back"
    );
    assert_eq!(log.segment_base_offsets(), vec![2, 3]);
    drop(log);
    let log = open(dir.path(), config, &clock);
    assert_eq!(log.log_start_offset(), 2);
    assert_eq!(
        read_all(&log).iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![2, 3]
    );
    log.append(&mut simple_batch(1, 1, 1), 0).unwrap();
    assert_eq!(log.high_watermark(), 5);
}

#[test]
fn delete_records_inside_a_segment_hides_the_records_below() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), &clock());
    log.append(&mut simple_batch(4, 1, 1), 0).unwrap();
    assert_eq!(log.delete_records(2).unwrap(), 2);
    assert!(matches!(
        log.read(1, 100),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(
        read_all(&log).iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert_eq!(
        log.offset_for_timestamp(0).unwrap().map(|t| t.offset),
        Some(2)
    );
}

#[test]
fn flush_every_append_leaves_nothing_unflushed() {
    let dir = tempfile::tempdir().unwrap();
    let durable = open(
        dir.path().join("durable").as_path(),
        LogConfig::default().with_flush_every_append(),
        &clock(),
    );
    durable.append(&mut simple_batch(2, 100, 1), 0).unwrap();
    assert_eq!(durable.unflushed_bytes(), 0);

    let os = open(
        dir.path().join("os").as_path(),
        LogConfig::default(),
        &clock(),
    );
    os.append(&mut simple_batch(2, 100, 1), 0).unwrap();
    assert!(os.unflushed_bytes() > 0);
    os.flush().unwrap();
    assert_eq!(os.unflushed_bytes(), 0);
}

#[test]
fn flush_by_bytes_and_by_interval() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let by_bytes = LogConfig {
        flush_bytes: 1_000,
        ..LogConfig::default()
    };
    let log = open(dir.path().join("bytes").as_path(), by_bytes, &clock);
    log.append(&mut simple_batch(1, 400, 1), 0).unwrap();
    assert!(log.unflushed_bytes() > 0);
    log.append(&mut simple_batch(1, 700, 1), 0).unwrap();
    assert_eq!(log.unflushed_bytes(), 0);

    let by_time = LogConfig {
        flush_ms: 1_000,
        ..LogConfig::default()
    };
    let log = open(dir.path().join("time").as_path(), by_time, &clock);
    log.append(&mut simple_batch(1, 10, 1), 0).unwrap();
    assert!(!log.flush_if_due().unwrap());
    assert!(log.unflushed_bytes() > 0);
    clock.advance(1_000);
    assert!(log.flush_if_due().unwrap());
    assert_eq!(log.unflushed_bytes(), 0);
}

#[test]
fn a_clean_close_leaves_a_marker_that_the_next_open_consumes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let log = open(dir.path(), LogConfig::default(), &clock);
    log.append(&mut simple_batch(3, 10, 1), 0).unwrap();
    log.close().unwrap();
    assert!(matches!(
        log.append(&mut simple_batch(1, 1, 1), 0),
        Err(LogError::Closed)
    ));
    let marker = dir.path().join(".clean-shutdown");
    assert!(marker.exists());
    drop(log);
    let log = open(dir.path(), LogConfig::default(), &clock);
    assert!(
        !marker.exists(),
        "a crash after this open must not be mistaken for a clean stop"
    );
    assert_eq!(log.high_watermark(), 3);
    assert_eq!(read_all(&log).len(), 3);
}

#[test]
fn restarts_after_a_crash_keep_every_record_and_rebuild_missing_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = LogConfig {
        segment_bytes: 2_000,
        index_interval_bytes: 100,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config.clone(), &clock);
    for n in 0..30 {
        log.append(&mut simple_batch(2, 100, n), 0).unwrap();
    }
    let before = read_all(&log);
    drop(log); // no close: as after a crash
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "index") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let log = open(dir.path(), config, &clock);
    assert_eq!(read_all(&log), before);
    assert_eq!(
        log.offset_for_timestamp(20).unwrap().map(|t| t.offset),
        Some(40)
    );
}

#[test]
fn readers_on_other_threads_only_ever_see_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 20_000,
        ..LogConfig::default()
    };
    let log = Arc::new(open(dir.path(), config, &clock()));
    let total = 400;
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut seen = 0;
                while seen < total {
                    let read = log.read(seen, 4_096).unwrap();
                    let records = decode(&read.records); // panics on a partial batch
                    assert!(records.iter().all(|r| r.offset < read.high_watermark));
                    if let Some(last) = records.last() {
                        assert!(last.offset >= seen);
                        seen = last.offset + 1;
                    }
                }
                seen
            })
        })
        .collect();
    for n in 0..total {
        log.append(&mut simple_batch(1, 100 + (n as usize % 50), n), 0)
            .unwrap();
    }
    for reader in readers {
        assert_eq!(reader.join().unwrap(), total);
    }
}

#[test]
fn concurrent_durable_appenders_share_syncs_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open(
        dir.path(),
        LogConfig::default().with_flush_every_append(),
        &clock(),
    ));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for _ in 0..25 {
                    let info = log.append(&mut simple_batch(2, 50, 1), 0).unwrap();
                    assert!(
                        log.high_watermark() > info.last_offset,
                        "acknowledged means visible"
                    );
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let offsets: Vec<i64> = read_all(&log).iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (0..200).collect::<Vec<_>>());
    assert_eq!(log.unflushed_bytes(), 0);
    // Each fdatasync takes a while, so appenders queue behind it and share the next one.
    assert!(log.syncs() < 100, "{} syncs for 100 appends", log.syncs());
}

#[test]
fn a_lone_durable_appender_syncs_once_per_append_and_each_sync_is_timed() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        LogConfig::default().with_flush_every_append(),
        &clock(),
    );
    for _ in 0..5 {
        log.append(&mut simple_batch(1, 10, 1), 0).unwrap();
    }
    assert_eq!(log.syncs(), 5);
    let latency = log.sync_latency();
    assert_eq!(latency.count(), 5, "{latency:?}");
    assert!(latency.sum > std::time::Duration::ZERO, "{latency:?}");
    log.flush().unwrap();
    // Nothing was left to make durable: no fdatasync, nothing timed.
    assert_eq!(log.sync_latency(), latency);
}

#[test]
fn an_io_error_on_append_takes_the_log_offline() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("partition");
    let config = LogConfig {
        segment_bytes: 500,
        ..LogConfig::default()
    };
    let log = open(&dir, config, &clock());
    log.append(&mut simple_batch(1, 400, 1), 0).unwrap();
    std::fs::remove_dir_all(&dir).unwrap(); // the next roll cannot create its segment
    assert!(matches!(
        log.append(&mut simple_batch(1, 400, 1), 0),
        Err(LogError::Io { .. })
    ));
    let third = log.append(&mut simple_batch(1, 1, 1), 0);
    assert!(matches!(third, Err(LogError::Offline)), "{third:?}");
    assert_eq!(
        log.high_watermark(),
        1,
        "nothing past the failure became visible"
    );
}
