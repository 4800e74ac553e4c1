//! Word count: counts the words of the lines in `--input` and writes each word's new count
//! to `--output` (key: the word, value: the count in decimal) as it changes.
//!
//! ```sh
//! cargo run -p runnel-streams-kafka --example word_count -- \
//!     --bootstrap-servers 127.0.0.1:9092 --input text --output word-counts --exactly-once
//! ```
//! It runs until interrupted (Ctrl-C or SIGTERM); start it twice (with different
//! `--state-dir`s) and the two instances share the partitions.

use clap::Parser;
use runnel_streams::{Serde, StreamsError, StringSerde, TopologyBuilder};
use runnel_streams_kafka::{Guarantee, StreamsApp, StreamsConfig};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap_servers: String,
    #[arg(long, default_value = "word-count")]
    application_id: String,
    #[arg(long, default_value = "text")]
    input: String,
    #[arg(long, default_value = "word-counts")]
    output: String,
    #[arg(long, default_value = "word-count-state")]
    state_dir: String,
    /// Names this instance (its transactional id); by default one kept in the state dir.
    #[arg(long)]
    instance_id: Option<String>,
    /// Commit outputs, state and input offsets in transactions.
    #[arg(long)]
    exactly_once: bool,
    /// A librdkafka setting for every client, such as `group.instance.id=wc-1` (static
    /// membership: a restarted instance takes its partitions back without a rebalance).
    #[arg(long = "property", value_parser = parse_property)]
    properties: Vec<(String, String)>,
}

fn parse_property(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text}"))
}

/// Counts as decimal text, so any consumer can read them.
#[derive(Clone, Copy)]
struct DecimalSerde;

impl Serde<u64> for DecimalSerde {
    fn serialize(&self, value: &u64) -> Result<bytes::Bytes, StreamsError> {
        Ok(value.to_string().into())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<u64, StreamsError> {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| StreamsError::Serde("not a decimal count".into()))
    }
}

fn word_count(builder: &mut TopologyBuilder, input: &str, output: &str) {
    builder
        .stream(input, StringSerde, StringSerde)
        .flat_map(|_, line: String| {
            line.split_whitespace()
                .map(|word| (word.to_lowercase(), String::new()))
                .collect::<Vec<_>>()
        })
        // The words of one partition's lines belong to every partition: each word's count
        // is kept by the task of the word's partition in the repartition topic.
        .repartition("words", StringSerde, StringSerde)
        .group_by_key()
        .count()
        .stored("counts", StringSerde, DecimalSerde)
        .changes()
        .to_topic(output, StringSerde, DecimalSerde);
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let mut config = StreamsConfig::new(&args.application_id, &args.bootstrap_servers)
        .state_dir(&args.state_dir)
        .guarantee(if args.exactly_once {
            Guarantee::ExactlyOnce
        } else {
            Guarantee::AtLeastOnce
        });
    config.instance_id = args.instance_id;
    config.client_properties = args.properties;
    let (input, output) = (args.input, args.output);
    StreamsApp::new(config, move |builder| {
        word_count(builder, &input, &output);
        Ok(())
    })
    .start()?
    .run_until_signalled()?;
    Ok(())
}
