//! `bench consume`: one librdkafka consumer reading a topic from its start.
//!
//! The consumer is assigned every partition at its log start offset (no consumer group, no
//! offset lookups inside the timed part) with large fetches, and polls records one by one on
//! the benchmark thread until it has the number asked for.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use runnel_cli::settings::ClientSettings;

use crate::error::BenchError;
use crate::report::ConsumeReport;
use crate::{parse_key_value, topic};

/// Options of `bench consume`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConsumeArgs {
    /// Broker to connect to (HOST:PORT).
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub bootstrap_server: String,
    /// Topic to read, every partition from its start.
    #[arg(long, default_value = "runnel-bench")]
    pub topic: String,
    /// Records to read [default: all records in the topic when the run starts].
    #[arg(long)]
    pub records: Option<u64>,
    /// Most bytes one fetch response may carry (`fetch.max.bytes`).
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub fetch_max_bytes: u64,
    /// Most bytes of one partition in a fetch response (`max.partition.fetch.bytes`). A
    /// consumer has one fetch in flight per broker, so larger fetches are not always faster:
    /// see BENCHMARKS.md.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_partition_fetch_bytes: u64,
    /// Most data the consumer prefetches into its local queue, in KiB
    /// (`queued.max.messages.kbytes`).
    #[arg(long, default_value_t = 1024 * 1024)]
    pub queued_max_messages_kbytes: u64,
    /// Client settings with librdkafka's names (security.protocol, ssl.*, sasl.*, ...), one
    /// KEY=VALUE a line, as kafka-topics --command-config; the options above and -X win.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<PathBuf>,
    /// Any other librdkafka consumer setting (KEY=VALUE, repeatable).
    #[arg(short = 'X', long = "consumer-config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub consumer_config: Vec<(String, String)>,
    /// Give up after this many milliseconds without a record.
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
}

pub(crate) async fn run(args: ConsumeArgs) -> Result<ConsumeReport, BenchError> {
    tokio::task::spawn_blocking(move || consume(&args))
        .await
        .map_err(|e| BenchError::Thread(e.to_string()))?
}

fn settings(args: &ConsumeArgs) -> Vec<(String, String)> {
    // librdkafka refuses a fetch.max.bytes above receive.message.max.bytes - 512.
    let receive_max = args
        .fetch_max_bytes
        .saturating_add(1024 * 1024)
        .max(100_000_000);
    let mut settings: Vec<(String, String)> = [
        ("fetch.max.bytes", args.fetch_max_bytes.to_string()),
        (
            "max.partition.fetch.bytes",
            args.max_partition_fetch_bytes.to_string(),
        ),
        (
            "queued.max.messages.kbytes",
            args.queued_max_messages_kbytes.to_string(),
        ),
        ("receive.message.max.bytes", receive_max.to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    settings.extend(args.consumer_config.iter().cloned());
    settings
}

fn consume(args: &ConsumeArgs) -> Result<ConsumeReport, BenchError> {
    let client = ClientSettings::load(args.command_config.as_deref(), &[])?;
    let settings = settings(args);
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &args.bootstrap_server)
        .set("client.id", "runnel-bench")
        // librdkafka wants a group id even for manual assignment; nothing is committed.
        .set("group.id", "runnel-bench")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false");
    client.apply(&mut config);
    for (key, value) in &settings {
        config.set(key, value);
    }
    let consumer: BaseConsumer = config
        .create()
        .map_err(BenchError::kafka("cannot create the consumer"))?;
    let partitions = topic::wait_for_leaders(consumer.client(), &args.topic)?;
    let setup_timeout = Duration::from_secs(15);
    let mut assignment = TopicPartitionList::new();
    let mut available = 0u64;
    for &partition in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(&args.topic, partition, setup_timeout)
            .map_err(BenchError::kafka(format!(
                "cannot read the offsets of {}-{partition}",
                args.topic
            )))?;
        available += u64::try_from(high.saturating_sub(low)).unwrap_or(0);
        assignment
            .add_partition_offset(&args.topic, partition, Offset::Offset(low))
            .map_err(BenchError::kafka("cannot build the assignment"))?;
    }
    let expected = args.records.unwrap_or(available);
    let timeout = Duration::from_millis(args.timeout_ms);

    let start = Instant::now();
    consumer
        .assign(&assignment)
        .map_err(BenchError::kafka("cannot assign the partitions"))?;
    let mut records = 0u64;
    let mut bytes = 0u64;
    let mut first_record_after = None;
    // Progress is checked only when a poll comes back empty, so nothing is timed per record.
    let mut last_progress = (start, 0u64);
    while records < expected {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                records += 1;
                bytes += (message.payload_len() + message.key_len()) as u64;
                if first_record_after.is_none() {
                    first_record_after = Some(start.elapsed());
                }
            }
            Some(Err(error)) => {
                return Err(BenchError::Kafka {
                    context: format!("consume failed after {records} records"),
                    source: error,
                })
            }
            None => {
                if records != last_progress.1 {
                    last_progress = (Instant::now(), records);
                } else if last_progress.0.elapsed() >= timeout {
                    return Err(BenchError::Stalled {
                        received: records,
                        expected,
                        waited_ms: args.timeout_ms,
                    });
                }
            }
        }
    }
    let elapsed = start.elapsed();
    Ok(ConsumeReport {
        topic: args.topic.clone(),
        partitions,
        expected,
        records,
        bytes,
        elapsed,
        first_record_after,
        settings,
    })
}
