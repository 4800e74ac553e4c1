//! The PostgreSQL sink's rows/s for 1 KiB JSON records, against `COPY` of the same rows and
//! against batched INSERTs from `psql`, in the same run and on the same server.
//!
//! `cargo run --release -p runnel-connect --example postgres_sink_bench -- [ROWS] [TASKS] [BATCH]`
//!
//! It starts a broker in the process and a PostgreSQL server of its own (as the tests do),
//! fills a topic of TASKS partitions with ROWS records, then times (the sink with `batch.size`
//! BATCH), each into an empty table
//! of the same shape: the sink reading the whole topic (from the connector's start until the
//! offsets table covers every record), `\copy` of a file holding the same rows, and `psql`
//! running the same rows as INSERT statements of 1,000 rows each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// The filler that makes each record's value 1 KiB of JSON.
fn payload(id: u64) -> String {
    let filler = "x".repeat(1024 - 48);
    format!("{filler}{id:016}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args.next().map_or(200_000, |a| a.parse().unwrap());
    let tasks: i32 = args.next().map_or(2, |a| a.parse().unwrap());
    let batch = args.next().unwrap_or_else(|| "2000".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    let postgres = TestPostgres::start(&dir.path().join("pg"));
    let client = postgres.client().await;
    for table in ["sink", "copied", "inserted"] {
        client
            .batch_execute(&format!(
                "CREATE TABLE {table} (id BIGINT PRIMARY KEY, version BIGINT, payload TEXT)"
            ))
            .await
            .unwrap();
    }

    broker.create_topic("rows", tasks).await;
    let producer = broker.producer();
    let records: Records = (0..rows)
        .map(|id| {
            let value = serde_json::json!({"id": id, "version": 1, "payload": payload(id)});
            (
                serde_json::json!({ "id": id }).to_string(),
                Some(value.to_string()),
            )
        })
        .collect();
    let value_bytes = records[0].1.as_ref().unwrap().len();
    for chunk in records.chunks(10_000) {
        produce(&producer, "rows", chunk).await;
    }

    let connectors = dir.path().join("connectors");
    let url = postgres.url();
    let tasks_text = tasks.to_string();
    write_connector(
        &connectors,
        &[
            ("name", "bench"),
            ("connector.class", "postgres"),
            ("topics", "rows"),
            ("connection.url", &url),
            ("table.name.format", "sink"),
            ("tasks.max", &tasks_text),
            ("batch.size", &batch),
        ],
    );
    let started = Instant::now();
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    // The first batch stored: the start cost (group join, first fetch, table lookup) lies
    // before it, the steady state after it.
    let mut first_stored: Option<(Duration, i64)> = None;
    loop {
        let covered: Option<i64> = client
            .query_one(
                "SELECT sum(next_offset)::bigint FROM runnel_connect_offsets WHERE connector = 'bench'",
                &[],
            )
            .await
            .map(|row| row.get(0))
            .unwrap_or(None);
        if let (None, Some(covered)) = (first_stored, covered.filter(|c| *c > 0)) {
            first_stored = Some((started.elapsed(), covered));
        }
        if covered == Some(rows as i64) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sink = started.elapsed();
    let (start_cost, first_rows) = first_stored.unwrap();
    let steady = (rows as i64 - first_rows) as f64 / (sink - start_cost).as_secs_f64();
    runtime.shutdown().await;
    let count: i64 = client
        .query_one("SELECT count(*) FROM sink", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, rows as i64);

    // The same rows for COPY (text format) and as INSERT statements.
    let copy_file = dir.path().join("rows.tsv");
    let insert_file = dir.path().join("rows.sql");
    {
        let mut copy = std::io::BufWriter::new(std::fs::File::create(&copy_file).unwrap());
        let mut insert = std::io::BufWriter::new(std::fs::File::create(&insert_file).unwrap());
        for id in 0..rows {
            writeln!(copy, "{id}\t1\t{}", payload(id)).unwrap();
            if id % 1_000 == 0 {
                if id > 0 {
                    writeln!(insert, ";").unwrap();
                }
                write!(insert, "INSERT INTO inserted VALUES ").unwrap();
            } else {
                write!(insert, ",").unwrap();
            }
            write!(insert, "({id},1,'{}')", payload(id)).unwrap();
        }
        writeln!(insert, ";").unwrap();
    }
    let psql = |args: &[&str]| {
        let started = Instant::now();
        let status = Command::new(psql_path())
            .args(["-q", "-v", "ON_ERROR_STOP=1", &url])
            .args(args)
            .status()
            .unwrap();
        assert!(status.success());
        started.elapsed()
    };
    let copy = psql(&[
        "-c",
        &format!("\\copy copied FROM '{}'", copy_file.display()),
    ]);
    let insert = psql(&["-f", insert_file.to_str().unwrap()]);
    for table in ["copied", "inserted"] {
        let count: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(count, rows as i64);
    }

    let rate = |elapsed: Duration| rows as f64 / elapsed.as_secs_f64();
    println!(
        "rows {rows}, value {value_bytes} bytes of JSON, {tasks} partitions and tasks, batch.size {batch}"
    );
    println!(
        "sink    {:>8.0} rows/s ({:.2} s)",
        rate(sink),
        sink.as_secs_f64()
    );
    println!(
        "  first batch of {first_rows} rows stored after {:.2} s; after it {steady:>8.0} rows/s",
        start_cost.as_secs_f64()
    );
    println!(
        "copy    {:>8.0} rows/s ({:.2} s)",
        rate(copy),
        copy.as_secs_f64()
    );
    println!(
        "insert  {:>8.0} rows/s ({:.2} s)",
        rate(insert),
        insert.as_secs_f64()
    );
    println!(
        "sink / copy {:.2} end to end, {:.2} after the first batch",
        copy.as_secs_f64() / sink.as_secs_f64(),
        steady / rate(copy)
    );
    broker.stop().await;
}

fn psql_path() -> std::path::PathBuf {
    let mut versions: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path().join("bin/psql")))
        .filter(|p| p.exists())
        .collect();
    versions.sort();
    versions.pop().unwrap()
}
