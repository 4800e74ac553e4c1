//! Conditional appends against plain appends, same producer, same partition, same run:
//!
//! ```sh
//! cargo run --release -p runnel-bench --example conditional -- --bootstrap 127.0.0.1:9092
//! ```
//!
//! Creates a one-partition topic with `runnel.conditional.append.enable=true` and sends
//! `--records` records of `--value-size` bytes over `--keys` keys (round robin) from one
//! idempotent producer, alternating phases: `plain` records carry no expectation,
//! `conditional` records carry the offset of their key's latest record, which the producer
//! knows from the delivery report of that key's previous record (at most `--window` records
//! are in flight, fewer than there are keys, so that report has always arrived), in the
//! compact header `runnel.eo` (8 bytes) or, with `--decimal`, `runnel.expected.offset`. Both
//! phases do the same bookkeeping (every delivery report updates its key's latest offset;
//! only the conditional phase builds headers from them), and odd rounds run the plain phase
//! first, even rounds the conditional one, so neither always runs on the warmer broker.
//! Prints records/s for each phase, and the CPU time per record the phase cost this client and,
//! with `--broker-pid`, the broker (read from `/proc`, Linux only): on a shared machine
//! records/s follows the other load, CPU time per record much less.

use std::collections::VecDeque;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

const EXPECTED_OFFSET_HEADER: &str = "runnel.expected.offset";
const COMPACT_EXPECTED_OFFSET_HEADER: &str = "runnel.eo";

#[derive(Debug, Parser)]
#[command(name = "conditional", about = "Conditional against plain appends")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap: String,
    #[arg(long, default_value = "bench-conditional")]
    topic: String,
    /// Records per phase.
    #[arg(long, default_value_t = 200_000)]
    records: usize,
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
    #[arg(long, default_value_t = 5_000)]
    window: usize,
    /// Plain and conditional phases each run this many times, alternating.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The broker's process id, to report the CPU time it spends per record.
    #[arg(long)]
    broker_pid: Option<u32>,
    /// Carry expectations in ASCII decimal (`runnel.expected.offset`) instead of 8 bytes
    /// (`runnel.eo`).
    #[arg(long)]
    decimal: bool,
}

/// The header of a record expecting its key's latest record at `offset`.
fn header(offset: i64, decimal: bool) -> OwnedHeaders {
    let headers = OwnedHeaders::new_with_capacity(1);
    if decimal {
        headers.insert(Header {
            key: EXPECTED_OFFSET_HEADER,
            value: Some(&offset.to_string()),
        })
    } else {
        headers.insert(Header {
            key: COMPACT_EXPECTED_OFFSET_HEADER,
            value: Some(&offset.to_be_bytes()),
        })
    }
}

/// The CPU time (user and system) process `pid` has used, in seconds, from `/proc/PID/stat`
/// (`self` for this process); `None` where that cannot be read.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name (in parentheses, which may hold spaces) come the state, then
    // fields 4 to 13, then utime and stime in clock ticks of 1/100 s (Linux's USER_HZ).
    let mut fields = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

/// Microseconds of CPU per record between two readings of [`cpu_seconds`].
fn micros_per_record(before: Option<f64>, after: Option<f64>, records: usize) -> String {
    match (before, after) {
        (Some(before), Some(after)) => format!("{:.2}", (after - before) * 1e6 / records as f64),
        _ => "-".to_owned(),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.window >= args.keys {
        eprintln!("conditional: --window must be below --keys");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("conditional: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("conditional: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &args.bootstrap);
    let admin: AdminClient<DefaultClientContext> = config.create().map_err(|e| e.to_string())?;
    let topic = NewTopic::new(&args.topic, 1, TopicReplication::Fixed(1))
        .set("runnel.conditional.append.enable", "true");
    let created = admin
        .create_topics(&[topic], &AdminOptions::new())
        .await
        .map_err(|e| e.to_string())?;
    if let Some(Err((name, code))) = created.into_iter().next() {
        return Err(format!("creating {name}: {code}"));
    }
    let producer: FutureProducer = config
        .clone()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .map_err(|e| e.to_string())?;
    let keys: Vec<String> = (0..args.keys).map(|k| format!("key-{k:08}")).collect();
    let mut latest = vec![-1i64; args.keys];
    let value = vec![b'v'; args.value_size];
    let broker = args.broker_pid.map(|pid| pid.to_string());
    let broker_cpu = || broker.as_deref().and_then(cpu_seconds);
    for round in 1..=args.rounds {
        let phases = if round % 2 == 1 {
            [false, true]
        } else {
            [true, false]
        };
        for conditional in phases {
            let cpu_before = (cpu_seconds("self"), broker_cpu());
            let started = Instant::now();
            let mut pending = VecDeque::with_capacity(args.window);
            for i in 0..args.records {
                let key = i % args.keys;
                let mut record = FutureRecord::to(&args.topic)
                    .partition(0)
                    .key(&keys[key])
                    .payload(&value);
                if conditional {
                    record = record.headers(header(latest[key], args.decimal));
                }
                let delivery = producer
                    .send_result(record)
                    .map_err(|(e, _)| e.to_string())?;
                pending.push_back((key, delivery));
                while pending.len() >= args.window {
                    settle(&mut pending, &mut latest).await?;
                }
            }
            while !pending.is_empty() {
                settle(&mut pending, &mut latest).await?;
            }
            let elapsed = started.elapsed();
            println!(
                "round {round} {:<11} {:>9.0} records/s ({} records in {:.2} s); \
                 CPU µs/record: client {}, broker {}",
                if conditional { "conditional" } else { "plain" },
                args.records as f64 / elapsed.as_secs_f64(),
                args.records,
                elapsed.as_secs_f64(),
                micros_per_record(cpu_before.0, cpu_seconds("self"), args.records),
                micros_per_record(cpu_before.1, broker_cpu(), args.records),
            );
        }
    }
    Ok(())
}

type Pending = VecDeque<(usize, rdkafka::producer::DeliveryFuture)>;

/// Waits for the oldest record's delivery report and remembers its key's offset.
async fn settle(pending: &mut Pending, latest: &mut [i64]) -> Result<(), String> {
    let Some((key, delivery)) = pending.pop_front() else {
        return Ok(());
    };
    match delivery.await {
        Ok(Ok(delivery)) => {
            latest[key] = delivery.offset;
            Ok(())
        }
        Ok(Err((error, _))) => Err(format!("delivery failed: {error}")),
        Err(_) => Err("delivery report dropped".to_owned()),
    }
}
