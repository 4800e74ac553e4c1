//! Row changes per second from PostgreSQL into change records, against `pg_recvlogical`
//! decoding the same changes with `pgoutput` (the server's own decoding rate); snapshot rows
//! per second against `COPY ... TO STDOUT` of the same table.
//!
//! `cargo run --release -p runnel-cdc --example cdc_bench -- PORT ROWS` against a PostgreSQL
//! on 127.0.0.1:PORT with `wal_level=logical`, user `postgres` trusted, and `pg_recvlogical` on
//! the PATH. It creates and drops its own table and slots.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use runnel_cdc::{CdcConfig, PostgresSource};

fn config(port: u16, slot: &str, mode: &str) -> CdcConfig {
    let settings: BTreeMap<String, String> = [
        ("database.port", port.to_string()),
        ("database.user", "postgres".to_owned()),
        ("database.dbname", "postgres".to_owned()),
        ("topic.prefix", "bench".to_owned()),
        ("slot.name", slot.to_owned()),
        ("snapshot.mode", mode.to_owned()),
        ("slot.drop.on.stop", "true".to_owned()),
        ("poll.interval.ms", "100".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    CdcConfig::from_settings(&settings).unwrap()
}

/// Polls until `rows` records arrived.
async fn drain(source: &mut PostgresSource, rows: usize) {
    let mut received = 0;
    while received < rows {
        received += source.poll().await.unwrap().len();
    }
}

fn rate(rows: usize, took: Duration) -> f64 {
    rows as f64 / took.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).expect("PORT ROWS").parse().unwrap();
    let rows: usize = args.get(2).expect("PORT ROWS").parse().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    db.batch_execute(&format!(
        "DROP TABLE IF EXISTS bench;
         CREATE TABLE bench (id int PRIMARY KEY, name text, qty int, price numeric(10,2),
                             at timestamptz);
         INSERT INTO bench SELECT g, 'item ' || g, g % 100, g / 100.0, now()
             FROM generate_series(1, {rows}) g;"
    ))
    .await
    .unwrap();

    // Snapshot against COPY.
    let started = Instant::now();
    let copy = db
        .copy_out("COPY bench TO STDOUT")
        .await
        .unwrap()
        .fold(0usize, |n, chunk| async move { n + chunk.unwrap().len() })
        .await;
    let copy_took = started.elapsed();
    let mut snapshot = PostgresSource::new(config(port, "bench_snapshot", "initial_only"));
    let started = Instant::now();
    snapshot.start(&[]).await.unwrap();
    let snapshot_started = started.elapsed();
    drain(&mut snapshot, rows).await;
    let snapshot_took = started.elapsed();
    snapshot.stop().await.unwrap();
    println!("snapshot: start (slot creation) took {snapshot_started:?}");
    println!(
        "snapshot: {rows} rows in {snapshot_took:?} = {:.0} rows/s; COPY TO: {copy_took:?} \
         = {:.0} rows/s ({copy} bytes); ratio {:.2}",
        rate(rows, snapshot_took),
        rate(rows, copy_took),
        copy_took.as_secs_f64() / snapshot_took.as_secs_f64()
    );

    // Streaming against pg_recvlogical: both slots exist before the changes, and both readers
    // start after the changes committed, so each decodes the same WAL from the same point.
    let mut kept = config(port, "bench_stream", "never");
    kept.slot_drop_on_stop = false;
    let mut creator = PostgresSource::new(kept);
    creator.start(&[]).await.unwrap();
    creator.stop().await.unwrap();
    db.batch_execute("SELECT pg_create_logical_replication_slot('bench_recvlogical', 'pgoutput')")
        .await
        .unwrap();
    for part in 0..10 {
        db.batch_execute(&format!(
            "UPDATE bench SET qty = qty + 1 WHERE id % 10 = {part}"
        ))
        .await
        .unwrap();
    }
    let end: String = db
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .unwrap()
        .get(0);

    let mut stream = PostgresSource::new(config(port, "bench_stream", "never"));
    let started = Instant::now();
    stream.start(&[]).await.unwrap();
    println!("stream: start took {:?}", started.elapsed());
    drain(&mut stream, rows).await;
    let stream_took = started.elapsed();
    stream.stop().await.unwrap();

    let started = Instant::now();
    let status = Command::new("pg_recvlogical")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(["-d", "postgres", "--slot", "bench_recvlogical", "--start"])
        .args(["--endpos", &end, "-f", "/dev/null", "--no-loop"])
        .args([
            "-o",
            "proto_version=1",
            "-o",
            "publication_names=runnel_publication",
        ])
        .status()
        .unwrap();
    let recvlogical_took = started.elapsed();
    assert!(status.success());
    db.batch_execute("SELECT pg_drop_replication_slot('bench_recvlogical'); DROP TABLE bench;")
        .await
        .unwrap();
    println!(
        "stream: {rows} updates in {stream_took:?} = {:.0} changes/s; pg_recvlogical: \
         {recvlogical_took:?} = {:.0} changes/s; ratio {:.2}",
        rate(rows, stream_took),
        rate(rows, recvlogical_took),
        recvlogical_took.as_secs_f64() / stream_took.as_secs_f64()
    );
}
