//! Commands per second on bank accounts under contention:
//!
//! ```sh
//! cargo run --release -p runnel-eventsourcing --example contention -- \
//!     --bootstrap 127.0.0.1:9092 --aggregates 10 --seconds 10
//! ```
//!
//! Creates the events topic (conditional appends on) and the snapshots topic, then runs
//! `--handlers` command handlers (each with its own event index, as separate processes
//! would have), each with `--tasks` concurrent tasks depositing into accounts chosen round
//! robin among `--aggregates`, for `--seconds`. Prints commands/s and conflicts retried.
//! The aggregate is the bank example's `Account` (opened before the clock starts), each
//! command a deposit with an id of its own.

// The bank example's aggregate, so the figures are those of its command handler.
#[allow(dead_code)]
#[path = "bank/account.rs"]
mod account;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;
use runnel_eventsourcing::{
    Cause, CommandHandler, EventIndex, HandlerConfig, Sealed, Topics, Upcasters,
};

use crate::account::{Account, AccountCommand};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap: String,
    #[arg(long, default_value_t = 10)]
    aggregates: usize,
    #[arg(long, default_value_t = 2)]
    handlers: usize,
    #[arg(long, default_value_t = 16)]
    tasks: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Topics are named after this, so each run starts from empty topics.
    #[arg(long, default_value = "contention")]
    prefix: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("contention: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("contention: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let topics = Topics {
        events: format!("{}-events", args.prefix),
        snapshots: format!("{}-snapshots", args.prefix),
    };
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &args.bootstrap)
        .create()
        .map_err(|e| e.to_string())?;
    let created = admin
        .create_topics(
            &[
                NewTopic::new(&topics.events, 1, TopicReplication::Fixed(1))
                    .set("runnel.conditional.append.enable", "true"),
                NewTopic::new(&topics.snapshots, 1, TopicReplication::Fixed(1))
                    .set("cleanup.policy", "compact"),
            ],
            &AdminOptions::new(),
        )
        .await
        .map_err(|e| e.to_string())?;
    if let Some(Err((name, code))) = created.into_iter().find(Result::is_err) {
        return Err(format!("creating {name}: {code}"));
    }
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut handlers = Vec::new();
    for h in 0..args.handlers {
        let index = EventIndex::start(
            &args.bootstrap,
            topics.clone(),
            &work.path().join(format!("index-{h}.redb")),
        )
        .map_err(|e| e.to_string())?;
        let handler = CommandHandler::<Account>::new(
            &args.bootstrap,
            Arc::new(index),
            Upcasters::new(),
            HandlerConfig {
                max_attempts: 1_000,
                ..HandlerConfig::default()
            },
        )
        .map_err(|e| e.to_string())?;
        handlers.push(Arc::new(handler));
    }
    open_accounts(&handlers, args.aggregates).await?;
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (h, handler) in handlers.iter().enumerate() {
        for t in 0..args.tasks {
            let (handler, done, stop) = (Arc::clone(handler), Arc::clone(&done), Arc::clone(&stop));
            let aggregates = args.aggregates;
            let first = h * args.tasks + t;
            tasks.push(tokio::spawn(async move {
                let mut n = first;
                while !stop.load(Ordering::Acquire) {
                    let id = format!("account-{}", n % aggregates);
                    let cause = Cause {
                        correlation_id: n.to_string(),
                        causation_id: n.to_string(),
                    };
                    let deposit = AccountCommand::Deposit {
                        deposit_id: format!("{first}-{n}"),
                        cents: 1,
                    };
                    handler
                        .execute(&id, &deposit, &cause)
                        .await
                        .map_err(|e| e.to_string())?;
                    done.fetch_add(1, Ordering::Relaxed);
                    n += 7;
                }
                Ok::<(), String>(())
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Release);
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let commands = done.load(Ordering::Relaxed);
    let conflicts: u64 = handlers.iter().map(|h| h.conflicts()).sum();
    println!(
        "{} aggregates, {} handlers x {} tasks: {:.0} commands/s ({commands} in {elapsed:.1} s), {conflicts} conflicts retried ({:.2} per command)",
        args.aggregates,
        args.handlers,
        args.tasks,
        commands as f64 / elapsed,
        conflicts as f64 / commands.max(1) as f64
    );
    Ok(())
}

/// Opens the accounts before the clock starts, spread over the handlers. The holder's data
/// is sealed elsewhere in the example: here it is a placeholder of the same shape.
async fn open_accounts(
    handlers: &[Arc<CommandHandler<Account>>],
    aggregates: usize,
) -> Result<(), String> {
    let mut opening = Vec::new();
    for a in 0..aggregates {
        let handler = Arc::clone(&handlers[a % handlers.len()]);
        opening.push(tokio::spawn(async move {
            let id = format!("account-{a}");
            let holder = Sealed {
                subject: id.clone(),
                nonce: "AAAAAAAAAAAAAAAA".into(),
                ciphertext: "c2VhbGVkIGhvbGRlciBkYXRhIG9mIHRoZSBzYW1lIHNpemU=".into(),
            };
            let cause = Cause {
                correlation_id: id.clone(),
                causation_id: id.clone(),
            };
            handler
                .execute(&id, &AccountCommand::Open { holder }, &cause)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }));
    }
    for opened in opening {
        opened.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}
