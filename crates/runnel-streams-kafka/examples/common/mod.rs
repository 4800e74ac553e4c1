//! What the examples share: the command-line options of a streams application, turning them
//! into a `StreamsConfig`, and running the application until it is signalled.
//!
//! Each example declares its own `--application-id`, `--input`, `--output` and `--state-dir`
//! (their defaults differ) and flattens `AppArgs` (and, if it has windows, `WatermarkArgs`)
//! into its arguments.

// Each example uses its own part of this module.
#![allow(dead_code)]

use std::path::Path;

use runnel_streams::{StreamsError, Timestamp, TopologyBuilder};
use runnel_streams_kafka::{BadRecords, Guarantee, StreamsApp, StreamsConfig};

/// The options every example takes besides its names and topics.
#[derive(clap::Args)]
pub struct AppArgs {
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub bootstrap_servers: String,
    /// Names this instance (its transactional id); by default one kept in the state dir.
    #[arg(long)]
    pub instance_id: Option<String>,
    /// Commit outputs, state and input offsets in transactions.
    #[arg(long)]
    pub exactly_once: bool,
    /// Skip (log and count) an input record that does not decode, instead of stopping.
    #[arg(long)]
    pub skip_bad_records: bool,
    /// A librdkafka setting for every client, such as `group.instance.id=wc-1` (static
    /// membership: a restarted instance takes its partitions back without a rebalance).
    #[arg(long = "property", value_parser = parse_property)]
    pub properties: Vec<(String, String)>,
}

impl AppArgs {
    /// The configuration of application `application_id`, its state under `state_dir`.
    pub fn config(self, application_id: &str, state_dir: &Path) -> StreamsConfig {
        let mut config = StreamsConfig::new(application_id, &self.bootstrap_servers)
            .state_dir(state_dir)
            .guarantee(if self.exactly_once {
                Guarantee::ExactlyOnce
            } else {
                Guarantee::AtLeastOnce
            })
            .bad_records(if self.skip_bad_records {
                BadRecords::Skip
            } else {
                BadRecords::Fail
            });
        config.instance_id = self.instance_id;
        config.client_properties = self.properties;
        config
    }
}

/// How event time moves, for the examples with windows.
#[derive(clap::Args)]
pub struct WatermarkArgs {
    /// How far behind the newest record of its partition a record may be and still count
    /// as on time, in milliseconds (the watermark is the newest event time minus this).
    #[arg(long, default_value_t = 0)]
    pub out_of_orderness_ms: Timestamp,
    /// After how long without records (processing time, in milliseconds) an input partition
    /// stops holding the watermark back.
    #[arg(long, default_value_t = 30_000)]
    pub idle_timeout_ms: Timestamp,
}

impl WatermarkArgs {
    pub fn apply(&self, config: StreamsConfig) -> StreamsConfig {
        config.watermarks(self.out_of_orderness_ms, self.idle_timeout_ms)
    }
}

fn parse_property(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text}"))
}

/// Logs to standard error (`RUST_LOG` filters, `info` by default), starts the application
/// and runs it until the process gets SIGINT or SIGTERM.
pub fn run(
    config: StreamsConfig,
    build: impl Fn(&mut TopologyBuilder) -> Result<(), StreamsError> + Send + Sync + 'static,
) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    StreamsApp::new(config, build)
        .start()?
        .run_until_signalled()?;
    Ok(())
}
