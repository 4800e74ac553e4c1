//! The `runnel` command. Argument parsing and wiring only; the broker lives in
//! `runnel-broker`, its admin HTTP server in `runnel-admin`, the client commands in
//! `runnel-cli`, the web console in `runnel-console`, the connector runtime in
//! `runnel-connect`.

mod console_client;

use std::io::{BufWriter, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use runnel_admin::{AdminServer, LagReport, LagSettings, Observation};
use runnel_broker::metrics::Detail;
use runnel_broker::{Broker, BrokerConfig, BrokerState};
use runnel_cli::acl::AclArgs;
use runnel_cli::consume::ConsumeArgs;
use runnel_cli::group::GroupArgs;
use runnel_cli::produce::ProduceArgs;
use runnel_cli::quota::QuotaArgs;
use runnel_cli::topic::TopicArgs;
use runnel_cli::transactions::TransactionsArgs;
use runnel_cli::user::UserArgs;
use runnel_connect::cli::ConnectorArgs;
use runnel_connect::source::SourceClasses;
use runnel_connect::{ConnectRuntime, KafkaSettings, WorkerConfig};
use runnel_console::{ConsoleSettings, Url};
use runnel_lag::Limits;

#[derive(Debug, Parser)]
#[command(name = "runnel", version, about = "A Kafka-wire-compatible log broker")]
struct Cli {
    /// How log lines are written to standard error: `text` for people, `json` (one object
    /// a line) for log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the broker until SIGTERM or SIGINT.
    Serve {
        /// Directory holding topics and their logs.
        #[arg(long, default_value = "./runnel-data")]
        data_dir: PathBuf,
        /// Address to listen on, HOST:PORT (one PLAINTEXT listener), or listeners as Kafka's
        /// `listeners` setting, NAME://HOST:PORT,... [default: the config file's `listeners`,
        /// else 127.0.0.1:9092].
        #[arg(long)]
        listen: Option<String>,
        /// HOST:PORT clients are told to connect to, or NAME://HOST:PORT,... as Kafka's
        /// `advertised.listeners` (default: each listener's bound address).
        #[arg(long)]
        advertise: Option<String>,
        /// TOML file of Kafka-named broker settings (e.g. num.partitions, log.retention.ms).
        #[arg(long)]
        config: Option<PathBuf>,
        /// HOST:PORT of the admin HTTP server (/metrics, /health, the web console at /console/);
        /// an empty value turns it off, and with it the counting of requests for the metrics.
        #[arg(long, default_value = "127.0.0.1:9644")]
        admin_listen: String,
        /// Let the web console (served by the admin server under /console/) create, alter and
        /// delete topics, produce records and reset group offsets; it is read-only without.
        #[arg(long)]
        console_admin: bool,
        /// The REST API of the Kafka Connect worker whose connectors the web console shows
        /// (default: the connectors this process runs with --connectors).
        #[arg(long, value_name = "URL")]
        console_connect_url: Option<Url>,
        /// Client settings (librdkafka's names, one KEY=VALUE a line) the web console uses to
        /// connect to this broker, through the first listener of their security.protocol
        /// [default: a PLAINTEXT listener, else an SSL one with the broker's own truststore
        /// and keystore].
        #[arg(long, value_name = "FILE")]
        console_command_config: Option<PathBuf>,
        /// Whether /metrics has series per partition (log offsets and size, group offsets and
        /// lag); per-topic and per-group totals are always there.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        metrics_partition_series: bool,
        /// The consumer lag evaluation's sliding window (ms): a group lagging without a commit
        /// for longer is STOP.
        #[arg(long, default_value_t = 600_000, value_parser = clap::value_parser!(i64).range(1..))]
        lag_window_ms: i64,
        /// How often the lag evaluation looks at every group's committed offsets (ms).
        #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
        lag_interval_ms: u64,
        /// An http:// URL POSTed a JSON body whenever a group's lag status changes (repeatable).
        #[arg(long = "lag-webhook")]
        lag_webhooks: Vec<String>,
        /// Run the connectors declared in this directory inside the broker process.
        #[arg(long)]
        connectors: Option<PathBuf>,
        /// Address of the connectors' REST API (with --connectors).
        #[arg(long, default_value = "127.0.0.1:8083")]
        connect_listen: String,
    },
    /// Run the connectors declared in a directory against any Kafka cluster, with their REST API.
    Connect {
        /// The Kafka cluster to read from (host:port, comma-separated).
        #[arg(long, default_value = "127.0.0.1:9092")]
        bootstrap_server: String,
        /// Directory of connector files (TOML or JSON); connectors created through the API are written there.
        #[arg(long)]
        connectors: PathBuf,
        /// Address of the REST API.
        #[arg(long, default_value = "127.0.0.1:8083")]
        listen: String,
        /// A Kafka Connect worker properties file of librdkafka settings for the connectors'
        /// clients (security.protocol, ssl.*, sasl.*, ...; prefixed producer., consumer. or
        /// admin. for one kind of client only).
        #[arg(long, value_name = "FILE")]
        worker_config: Option<PathBuf>,
        /// One more such setting, KEY=VALUE (repeatable; wins over the file).
        #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = key_value)]
        setting: Vec<(String, String)>,
    },
    /// Manage the connectors of a running worker through its REST API.
    Connector(ConnectorArgs),
    /// Create, list, describe, alter and delete topics.
    Topic(TopicArgs),
    /// Send each line of standard input to a topic as one record.
    Produce(ProduceArgs),
    /// Print the records of a topic, one line each.
    Consume(ConsumeArgs),
    /// List consumer groups; show members, committed offsets and lag.
    Group(GroupArgs),
    /// List transactions; show one's producer, state and partitions.
    Transactions(TransactionsArgs),
    /// Show and change client quotas (byte rates and request time) per user and client id.
    Quota(QuotaArgs),
    /// List SASL/SCRAM users, set their passwords, delete them.
    User(UserArgs),
    /// List, add and remove ACLs (with an authorizer configured), as kafka-acls does.
    Acl(AclArgs),
    /// Measure produce or consume throughput and latency against a broker.
    #[command(subcommand)]
    Bench(runnel_bench::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("runnel: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// Logs to standard error, filtered by `RUST_LOG` (default `info`); colours only when
/// standard error is a terminal, so files and collectors get no escape codes.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().init(),
    }
}

/// The error and its causes on one line, skipping causes whose text the message before
/// already includes (many errors print their source as part of their own message).
fn one_line(error: &anyhow::Error) -> String {
    let mut line = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// The broker's address without `--listen` or `listeners`: one PLAINTEXT listener, local.
const DEFAULT_LISTEN: &str = "127.0.0.1:9092";

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            data_dir,
            listen,
            advertise,
            config,
            admin_listen,
            console_admin,
            console_connect_url,
            console_command_config,
            metrics_partition_series,
            lag_window_ms,
            lag_interval_ms,
            lag_webhooks,
            connectors,
            connect_listen,
        } => {
            let mut settings = BrokerConfig::new(data_dir, DEFAULT_LISTEN);
            if let Some(path) = config {
                settings.load_file(&path)?;
            }
            // Flags win over the config file.
            if let Some(listen) = listen {
                settings.listen = listen;
            }
            if let Some(advertise) = advertise {
                settings.advertise = Some(advertise);
            }
            // Metrics nobody can scrape are not worth counting on the request path.
            settings.count_requests = !admin_listen.is_empty();
            let admin = (!admin_listen.is_empty()).then_some(Admin {
                listen: admin_listen,
                detail: if metrics_partition_series {
                    Detail::Partitions
                } else {
                    Detail::Topics
                },
                lag: LagSettings {
                    limits: Limits {
                        window_ms: lag_window_ms,
                        ..Limits::default()
                    },
                    interval: Duration::from_millis(lag_interval_ms),
                    webhooks: lag_webhooks,
                    ..LagSettings::default()
                },
                console_admin,
                console_connect_url,
                console_command_config,
            });
            let connect = connectors.map(|dir| (dir, connect_listen));
            runtime()?.block_on(serve(settings, admin, connect))
        }
        Command::Connect {
            bootstrap_server,
            connectors,
            listen,
            worker_config: properties,
            setting,
        } => {
            let mut config = worker_config(&bootstrap_server, connectors, &listen);
            if let Some(path) = properties {
                config.kafka.read_properties(&path)?;
            }
            for (key, value) in setting {
                config.kafka.set(&key, &value);
            }
            runtime()?.block_on(connect(config, &listen))
        }
        Command::Connector(args) => {
            let mut out = std::io::stdout().lock();
            runtime()?.block_on(runnel_connect::cli::run(&args, &mut out))?;
            Ok(())
        }
        Command::Bench(command) => {
            let report = runtime()?.block_on(runnel_bench::run(command))?;
            println!("{report}");
            Ok(())
        }
        Command::Topic(args) => {
            let mut out = std::io::stdout().lock();
            runtime()?.block_on(runnel_cli::topic::run(&args, &mut out))?;
            Ok(())
        }
        Command::Produce(args) => {
            runnel_cli::produce::run(&args, std::io::stdin().lock())?;
            Ok(())
        }
        Command::Consume(args) => {
            // Records are printed in chunks; the command flushes whenever it waits.
            let mut out = BufWriter::new(std::io::stdout().lock());
            // A signal ends the command like --max does: printed records are committed.
            let stop = async {
                if wait_for_signal().await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            runtime()?.block_on(runnel_cli::consume::run(&args, &mut out, stop))?;
            Ok(())
        }
        Command::Group(args) => {
            let mut out = std::io::stdout().lock();
            runtime()?.block_on(runnel_cli::group::run(&args, &mut out))?;
            Ok(())
        }
        Command::Transactions(args) => {
            runnel_cli::transactions::run(&args, &mut std::io::stdout().lock())?;
            Ok(())
        }
        Command::Quota(args) => {
            runnel_cli::quota::run(&args, &mut std::io::stdout().lock())?;
            Ok(())
        }
        Command::User(args) => {
            let mut input = std::io::stdin().lock();
            runnel_cli::user::run(&args, &mut input, &mut std::io::stdout().lock())?;
            Ok(())
        }
        Command::Acl(args) => {
            runnel_cli::acl::run(&args, &mut std::io::stdout().lock())?;
            Ok(())
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

/// Where the admin server listens and what its metrics show.
#[derive(Debug)]
struct Admin {
    listen: String,
    detail: Detail,
    lag: LagSettings,
    /// Whether the web console may change the cluster.
    console_admin: bool,
    /// The Connect worker the console shows, when it is not this process's.
    console_connect_url: Option<Url>,
    /// The console's client settings, when the default listener choice does not do.
    console_command_config: Option<PathBuf>,
}

/// The broker as the admin server sees it.
#[derive(Debug)]
struct BrokerSource {
    state: Arc<BrokerState>,
    detail: Detail,
}

impl runnel_admin::Source for BrokerSource {
    fn metrics(&self, lag: &LagReport) -> Result<String, std::fmt::Error> {
        runnel_broker::metrics::render(&self.state, self.detail, lag)
    }

    fn lag_observations(&self) -> Vec<Observation> {
        runnel_broker::metrics::lag_observations(&self.state)
    }

    fn healthy(&self) -> bool {
        !self.state.is_shutting_down()
    }
}

/// Runs the broker, the connectors of a directory against it when one is given, and its
/// admin server when one is asked for.
async fn serve(
    settings: BrokerConfig,
    admin: Option<Admin>,
    connect: Option<(PathBuf, String)>,
) -> anyhow::Result<()> {
    // Before anything is announced: a signal sent once the log says "listening" stops the
    // broker cleanly.
    let signal = signals()?;
    let tls = settings.tls.clone();
    let broker = Broker::start(settings).await?;
    tracing::info!(address = %broker.local_addr(), "listening");
    let connectors = match connect {
        Some((dir, listen)) => {
            let config = worker_config(&broker.local_addr().to_string(), dir, &listen);
            match ConnectRuntime::start(config, &listen).await {
                Ok(runtime) => Some(runtime),
                Err(error) => {
                    broker.shutdown().await?;
                    return Err(error.into());
                }
            }
        }
        None => None,
    };
    let admin = match admin {
        Some(admin) => {
            let source = Arc::new(BrokerSource {
                state: Arc::clone(broker.state()),
                detail: admin.detail,
            });
            // The console is a Kafka client of this broker, like any other, and a REST
            // client of the connectors, those of this process unless told otherwise.
            let connect_url = admin.console_connect_url.or_else(|| {
                connectors
                    .as_ref()
                    .and_then(|c| Url::parse(&format!("http://{}", c.rest_address())).ok())
            });
            let console_client = console_client::console_client(
                broker.listeners(),
                &tls,
                admin.console_command_config.as_deref(),
            );
            let (bootstrap_server, client_settings) = match console_client {
                Ok(client) => client,
                Err(error) => {
                    if let Some(connectors) = connectors {
                        connectors.shutdown().await;
                    }
                    broker.shutdown().await?;
                    return Err(error);
                }
            };
            let console = runnel_console::router(ConsoleSettings {
                bootstrap_server,
                client_settings,
                admin_actions: admin.console_admin,
                request_timeout: Duration::from_secs(10),
                connect_url,
            });
            match AdminServer::start_with_routes(&admin.listen, source, admin.lag, console).await {
                Ok(server) => {
                    tracing::info!(address = %server.local_addr(), "admin server listening");
                    Some(server)
                }
                Err(error) => {
                    if let Some(connectors) = connectors {
                        connectors.shutdown().await;
                    }
                    broker.shutdown().await?;
                    return Err(error.into());
                }
            }
        }
        None => None,
    };
    let signal = signal.await;
    tracing::info!("received {signal}");
    // The connectors commit through the broker, so they stop first.
    if let Some(connectors) = connectors {
        connectors.shutdown().await;
    }
    if let Some(admin) = admin {
        admin.shutdown().await?;
    }
    broker.shutdown().await?;
    Ok(())
}

/// Runs a worker's connectors against a Kafka cluster until SIGTERM or SIGINT.
async fn connect(config: WorkerConfig, listen: &str) -> anyhow::Result<()> {
    let runtime = ConnectRuntime::start(config, listen).await?;
    let signal = wait_for_signal().await?;
    tracing::info!("received {signal}");
    runtime.shutdown().await;
    Ok(())
}

/// A worker is named after its REST address, as in Kafka Connect; it runs the file source and
/// PostgreSQL change data capture.
fn worker_config(bootstrap: &str, connectors_dir: PathBuf, listen: &str) -> WorkerConfig {
    let mut source_classes = SourceClasses::default();
    runnel_cdc::connector::register(&mut source_classes);
    WorkerConfig {
        kafka: KafkaSettings::new(bootstrap),
        connectors_dir,
        worker_id: listen.to_owned(),
        source_classes,
    }
}

/// Waits for SIGTERM or SIGINT and names the one that came.
async fn wait_for_signal() -> anyhow::Result<&'static str> {
    Ok(signals()?.await)
}

/// Catches SIGTERM and SIGINT from now on (one arriving before the future is awaited is kept,
/// not left to kill the process), and resolves to the name of the first that comes.
#[cfg(unix)]
fn signals() -> anyhow::Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

#[cfg(not(unix))]
fn signals() -> anyhow::Result<impl std::future::Future<Output = &'static str>> {
    Ok(async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            // Without a handler nothing can stop the broker but a kill.
            Err(_) => std::future::pending().await,
        }
    })
}

/// A `-X KEY=VALUE` argument.
fn key_value(argument: &str) -> Result<(String, String), String> {
    match argument.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected KEY=VALUE, got {argument:?}")),
    }
}
