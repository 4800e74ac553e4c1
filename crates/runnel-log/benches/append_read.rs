//! Append and read throughput of one partition log.
//!
//! Records carry 1 KiB values, 16 to an uncompressed batch (about 16 KiB per append). Every
//! append iteration writes 64 MiB into a fresh log; the read benchmark scans a 256 MiB log
//! that is in the page cache.
//!
//! Logs are written under `RUNNEL_BENCH_DIR` when it is set, else under the workspace's
//! `target/bench-logs`. Point it at the disk you want to measure: on a tmpfs (often `/tmp`)
//! an fsync costs nothing and the figures mean little.
//!
//! Run with `cargo bench -p runnel-log --bench append_read`.

// A benchmark that cannot set up or append has nothing useful to report: it stops loudly.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use runnel_log::{BatchBuilder, BatchHeader, Compression, Log, LogConfig, SystemClock};
use tempfile::TempDir;

const VALUE_LEN: usize = 1024;
const RECORDS_PER_BATCH: usize = 16;
/// Bytes appended per iteration of an append benchmark.
const APPEND_BYTES: usize = 64 << 20;
/// Size of the log the read benchmark scans.
const READ_LOG_BYTES: usize = 256 << 20;
/// `max_bytes` of each read, as a consumer's fetch would ask.
const READ_MAX_BYTES: usize = 1 << 20;
/// Threads appending to one log at once, as producers on many connections would.
const CONCURRENT_APPENDERS: [usize; 2] = [8, 64];

/// One batch as a producer would send it.
fn template_batch() -> Vec<u8> {
    let value = vec![0x5a_u8; VALUE_LEN];
    let mut builder = BatchBuilder::new(Compression::None);
    for i in 0..RECORDS_PER_BATCH {
        let key = format!("key-{i:04}");
        builder.push(
            1_700_000_000_000 + i as i64,
            Some(key.as_bytes()),
            Some(&value),
            &[],
        );
    }
    builder.build().expect("building the template batch")
}

fn bench_root() -> PathBuf {
    let root = std::env::var_os("RUNNEL_BENCH_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-logs"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&root).expect("creating the benchmark directory");
    root.canonicalize()
        .expect("resolving the benchmark directory")
}

fn fresh_log(config: LogConfig) -> (TempDir, Log) {
    let dir = tempfile::tempdir_in(bench_root()).expect("creating a log directory");
    let log = Log::open(dir.path(), config, Arc::new(SystemClock)).expect("opening the log");
    (dir, log)
}

/// Appends `count` copies of `template`, copying it into a fresh buffer each time because an
/// append writes offsets into the bytes it is given.
fn append_copies(log: &Log, template: &[u8], count: usize) {
    let mut buf = template.to_vec();
    for _ in 0..count {
        buf.copy_from_slice(template);
        black_box(log.append(&mut buf, 0).expect("append"));
    }
}

/// `count` appends shared between `threads` threads appending to the same log at once.
fn append_concurrently(log: &Log, template: &[u8], count: usize, threads: usize) {
    std::thread::scope(|scope| {
        for t in 0..threads {
            let share = count / threads + usize::from(t < count % threads);
            scope.spawn(move || append_copies(log, template, share));
        }
    });
}

/// Reads the whole log front to back in `READ_MAX_BYTES` steps; returns the bytes read.
fn read_all(log: &Log) -> u64 {
    let end = log.high_watermark();
    let mut offset = log.log_start_offset();
    let mut bytes = 0;
    while offset < end {
        let read = log.read(offset, READ_MAX_BYTES).expect("read");
        offset =
            offset_after(&read.records).expect("a read below the high watermark returns a batch");
        bytes += read.records.len() as u64;
        black_box(&read.records);
    }
    bytes
}

/// One past the last offset of the last batch in `records`.
fn offset_after(records: &[u8]) -> Option<i64> {
    let mut position = 0;
    let mut next = None;
    while position < records.len() {
        let header = BatchHeader::parse(&records[position..]).ok()?;
        next = Some(header.last_offset() + 1);
        position += header.total_len();
    }
    next
}

fn append(c: &mut Criterion) {
    let template = template_batch();
    let count = APPEND_BYTES / template.len();
    let bytes = (count * template.len()) as u64;
    eprintln!(
        "append: {count} batches of {} bytes per iteration, logs under {}",
        template.len(),
        bench_root().display()
    );

    let mut group = c.benchmark_group("append");
    group
        .throughput(Throughput::Bytes(bytes))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1));

    // Each iteration gets a fresh log; creating and deleting it is not timed.
    let timed_appends = |config: LogConfig, threads: usize| {
        let template = &template;
        move |iters: u64| {
            let mut total = Duration::ZERO;
            let mut syncs = 0;
            for _ in 0..iters {
                let (dir, log) = fresh_log(config.clone());
                let start = Instant::now();
                if threads == 1 {
                    append_copies(&log, template, count);
                } else {
                    append_concurrently(&log, template, count, threads);
                }
                total += start.elapsed();
                assert_eq!(log.size_bytes(), bytes);
                syncs += log.syncs();
                drop(log);
                drop(dir);
            }
            if threads > 1 && syncs > 0 {
                // Group commit at work: concurrent appenders share fdatasync calls.
                eprintln!(
                    "{threads} appenders: {syncs} fdatasync calls for {} appends",
                    iters as usize * count
                );
            }
            total
        }
    };

    group.measurement_time(Duration::from_secs(4));
    group.bench_function("os", |b| {
        b.iter_custom(timed_appends(LogConfig::default(), 1))
    });

    let fsync = LogConfig::default().with_flush_every_append();
    // Ten iterations of 64 MiB at tens of MB/s: the sample count, not the time, bounds these.
    group.measurement_time(Duration::from_secs(30));
    group.bench_function("fsync every batch", |b| {
        b.iter_custom(timed_appends(fsync.clone(), 1))
    });
    group.measurement_time(Duration::from_secs(10));
    for threads in CONCURRENT_APPENDERS {
        group.bench_function(
            format!("fsync every batch, {threads} concurrent appenders"),
            |b| b.iter_custom(timed_appends(fsync.clone(), threads)),
        );
    }
    group.finish();
}

fn read(c: &mut Criterion) {
    let template = template_batch();
    let count = READ_LOG_BYTES / template.len();
    let bytes = (count * template.len()) as u64;

    let mut group = c.benchmark_group("read");
    group
        .throughput(Throughput::Bytes(bytes))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    // Written on first use, so that it is only written when this benchmark is selected (the
    // closure runs once per sample).
    let mut written: Option<(TempDir, Log)> = None;
    group.bench_function("sequential, 1 MiB reads", |b| {
        let (_, log) = written.get_or_insert_with(|| {
            let (dir, log) = fresh_log(LogConfig::default());
            append_copies(&log, &template, count);
            // Written back once, so no writeback runs while reading; the pages stay cached.
            log.flush().expect("flush");
            assert_eq!(read_all(&log), bytes);
            (dir, log)
        });
        b.iter(|| read_all(log));
    });
    group.finish();
}

criterion_group!(benches, append, read);
criterion_main!(benches);
