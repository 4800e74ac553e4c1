//! Bank accounts behind an HTTP API, event-sourced on a Runnel log:
//!
//! ```sh
//! cargo run -p runnel-eventsourcing --example bank -- \
//!     --bootstrap-server 127.0.0.1:9092 --listen 127.0.0.1:8080
//! curl -X POST localhost:8080/accounts -H 'content-type: application/json' \
//!     -d '{"id":"alice","name":"Alice Martin","address":"1 rue de la Paix, Paris"}'
//! curl -X POST localhost:8080/accounts/alice/deposits -H 'content-type: application/json' -d '{"cents":1000}'
//! curl localhost:8080/accounts/alice/balance
//! ```
//!
//! Commands (open, deposit, withdraw, reverse a deposit, transfer) go through the command
//! handler; `GET .../balance` and `GET .../statement` read the two read models, projected
//! by streams jobs; `DELETE .../personal-data` shreds the holder's key. The topics
//! (`<prefix>-accounts`, `<prefix>-accounts-snapshots`, `<prefix>-keys`) are created if
//! missing. It prints `listening on ADDR` once it serves, and stops on Ctrl-C or SIGTERM.

mod account;
mod api;
mod read_models;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use runnel_eventsourcing::{
    system_randomness, CommandHandler, EventIndex, HandlerConfig, KeyVault, Projection,
    ProjectionConfig, ReadModelView, Topics, Upcasters,
};

use crate::api::Bank;
use crate::read_models::{Balance, Statement};

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap_server: String,
    /// Port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The event index and the projections' stores.
    #[arg(long, default_value = "bank-state")]
    state_dir: PathBuf,
    /// Names the topics and the projections.
    #[arg(long, default_value = "bank")]
    prefix: String,
    /// Partitions of the events topic when it is created.
    #[arg(long, default_value_t = 3)]
    partitions: i32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let topics = Topics {
        events: format!("{}-accounts", args.prefix),
        snapshots: format!("{}-accounts-snapshots", args.prefix),
    };
    let keys_topic = format!("{}-keys", args.prefix);
    create_topics(&args, &topics, &keys_topic).await?;
    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("creating {}", args.state_dir.display()))?;

    let index = EventIndex::start(
        &args.bootstrap_server,
        topics.clone(),
        &args.state_dir.join("index.redb"),
    )?;
    let handler = CommandHandler::new(
        &args.bootstrap_server,
        Arc::new(index),
        Upcasters::new(),
        HandlerConfig::default(),
    )?;
    let vault = KeyVault::start(
        &args.bootstrap_server,
        &keys_topic,
        system_randomness(),
        TIMEOUT,
    )
    .await?;
    let projection = |name: &str| ProjectionConfig {
        name: format!("{}-{name}", args.prefix),
        bootstrap: args.bootstrap_server.clone(),
        events_topic: topics.events.clone(),
        state_dir: args.state_dir.join("projections"),
        generation: 1,
    };
    let upcasters = Arc::new(Upcasters::new());
    let balances =
        Projection::<Balance>::start(projection("balances"), Arc::clone(&upcasters)).await?;
    let statements = Projection::<Statement>::start(projection("statements"), upcasters).await?;
    let bank = Arc::new(Bank {
        handler,
        vault,
        balances: ReadModelView::start(&args.bootstrap_server, &balances.output_topic())?,
        statements: ReadModelView::start(&args.bootstrap_server, &statements.output_topic())?,
        new_id: Arc::new(|| uuid::Uuid::new_v4().to_string()),
    });

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, api::router(bank))
        .with_graceful_shutdown(shutdown())
        .await?;
    balances.stop()?;
    statements.stop()?;
    Ok(())
}

async fn shutdown() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "SIGTERM not handled");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

/// Creates the events topic (conditional appends), the snapshots topic (compacted) and the
/// keys topic (compacted, conditional appends: the first key of a subject wins), leaving
/// existing ones as they are.
async fn create_topics(args: &Args, topics: &Topics, keys: &str) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &args.bootstrap_server)
        .create()?;
    let created = admin
        .create_topics(
            &[
                NewTopic::new(&topics.events, args.partitions, TopicReplication::Fixed(1))
                    .set("runnel.conditional.append.enable", "true"),
                NewTopic::new(&topics.snapshots, 1, TopicReplication::Fixed(1))
                    .set("cleanup.policy", "compact"),
                NewTopic::new(keys, 1, TopicReplication::Fixed(1))
                    .set("cleanup.policy", "compact")
                    .set("runnel.conditional.append.enable", "true"),
            ],
            &AdminOptions::new(),
        )
        .await?;
    for result in created {
        if let Err((topic, code)) = result {
            if code != RDKafkaErrorCode::TopicAlreadyExists {
                anyhow::bail!("creating topic {topic}: {code}");
            }
        }
    }
    Ok(())
}
