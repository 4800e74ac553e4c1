//! `runnel consume`: records of a topic to the output, one template line each.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{ErrorKind, Write};
use std::sync::Mutex;
use std::time::Duration;

use clap::Args;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};

use crate::client::{self, Observer};
use crate::format::Template;
use crate::position::{self, Position};
use crate::{CliError, Connection};

#[derive(Debug, Args)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub connection: Connection,
    pub topic: String,
    /// Join this consumer group and commit the offsets of the records printed. Without a
    /// group every partition is read and nothing is committed.
    #[arg(long, short = 'g')]
    pub group: Option<String>,
    /// The group protocol: `classic` (the client assigns) or `consumer` (KIP-848: the broker
    /// assigns, and partitions move one by one as members come and go).
    #[arg(long, value_name = "PROTOCOL", default_value = "classic", value_parser = ["classic", "consumer"], requires = "group")]
    pub group_protocol: String,
    /// Start at the first retained record (with a group: where the group has no committed
    /// offset). Default: only new records.
    #[arg(long, conflicts_with_all = ["offset", "timestamp"])]
    pub from_beginning: bool,
    /// Start every partition at this offset (clamped to the retained range).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..), conflicts_with = "timestamp")]
    pub offset: Option<i64>,
    /// Start every partition at its first record with a timestamp at or after MS
    /// (milliseconds since the epoch).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(i64).range(0..))]
    pub timestamp: Option<i64>,
    /// Exit after printing N records.
    #[arg(long, short = 'n', value_name = "N")]
    pub max: Option<u64>,
    /// Exit when no record arrives for this long (default: wait for ever).
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// How to print each record; fields: {topic} {partition} {offset} {timestamp} {key}
    /// {value} {headers}; escapes: \n \t \\ {{ }}.
    #[arg(long, short = 'f', default_value = "{value}")]
    pub format: String,
}

/// Where partitions start, and which offsets to commit; shared with the rebalance callback.
#[derive(Debug, Default)]
struct Reading {
    observer: Observer,
    /// Start offsets not yet applied, by partition. With a group a partition is positioned
    /// the first time it is assigned; later assignments resume from committed offsets.
    starts: Mutex<BTreeMap<i32, Offset>>,
    /// The next offset to commit, by partition, for the partitions currently assigned.
    positions: Mutex<BTreeMap<i32, i64>>,
}

impl ClientContext for Reading {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.observer.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.observer.error(error, reason);
    }
}

impl ConsumerContext for Reading {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        partitions: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                if let Ok(mut starts) = self.starts.lock() {
                    for mut element in partitions.elements() {
                        if let Some(offset) = starts.remove(&element.partition()) {
                            if let Err(error) = element.set_offset(offset) {
                                self.observer.error(error, "");
                            }
                        }
                    }
                }
                // The consumer group protocol hands partitions over a few at a time.
                let assigned = match consumer.rebalance_protocol() {
                    RebalanceProtocol::Cooperative => consumer.incremental_assign(partitions),
                    _ => consumer.assign(partitions),
                };
                if let Err(error) = assigned {
                    self.observer.error(error, "");
                }
            }
            _ => {
                // Revoked partitions may go to another member: committing them later would
                // overwrite its progress.
                if let Ok(mut positions) = self.positions.lock() {
                    for element in partitions.elements() {
                        positions.remove(&element.partition());
                    }
                }
                let unassigned = match consumer.rebalance_protocol() {
                    RebalanceProtocol::Cooperative => consumer.incremental_unassign(partitions),
                    _ => consumer.unassign(),
                };
                if let Err(error) = unassigned {
                    self.observer.error(error, "");
                }
            }
        }
    }
}

/// Prints records until `--max` records were printed, `--timeout-ms` passed without one,
/// the output was closed, or `stop` completes (a signal); then commits, with a group, the
/// offsets after the records printed. Returns how many records were printed.
pub async fn run(
    args: &ConsumeArgs,
    out: &mut impl Write,
    stop: impl Future<Output = ()>,
) -> Result<u64, CliError> {
    let connection = &args.connection;
    let template = Template::parse(&args.format)?;
    let (_, metadata) = client::probe(connection)?;
    let mut config = client::config(connection)?;
    config
        .set("enable.partition.eof", "false")
        .set("enable.auto.offset.store", "false")
        .set(
            "auto.offset.reset",
            if args.from_beginning {
                "earliest"
            } else {
                "latest"
            },
        );
    match &args.group {
        Some(group) => config
            .set("group.id", group)
            .set("group.protocol", &args.group_protocol)
            .set("enable.auto.commit", "true"),
        // librdkafka refuses to assign partitions to a consumer without a group id ("Local:
        // Unknown group"); nothing is committed under this one and it never joins.
        None => config
            .set("group.id", "runnel-cli-unassigned")
            .set("enable.auto.commit", "false"),
    };
    let consumer: StreamConsumer<Reading> = config
        .create_with_context(Reading::default())
        .map_err(|e| CliError::kafka("create a consumer", e))?;
    let context = consumer.context();
    let partitions = client::partitions(&metadata, &args.topic)?;
    let starts = start_offsets(args, &consumer, &partitions)?;

    if args.group.is_some() {
        if let Ok(mut pending) = context.starts.lock() {
            *pending = starts;
        }
        consumer
            .subscribe(&[&args.topic])
            .map_err(|e| CliError::kafka(format!("subscribe to {}", args.topic), e))?;
    } else {
        let mut assignment = TopicPartitionList::new();
        for partition in &partitions {
            let start = starts
                .get(partition)
                .copied()
                .unwrap_or(if args.from_beginning {
                    Offset::Beginning
                } else {
                    Offset::End
                });
            assignment
                .add_partition_offset(&args.topic, *partition, start)
                .map_err(|e| CliError::kafka("position the consumer", e))?;
        }
        consumer
            .assign(&assignment)
            .map_err(|e| CliError::kafka(format!("read {}", args.topic), e))?;
    }

    let printed = print_records(args, &consumer, &template, out, stop).await?;
    if args.group.is_some() {
        commit(args, &consumer)?;
    }
    Ok(printed)
}

/// Start offsets by partition for `--offset` and `--timestamp`; empty otherwise.
fn start_offsets(
    args: &ConsumeArgs,
    consumer: &StreamConsumer<Reading>,
    partitions: &[i32],
) -> Result<BTreeMap<i32, Offset>, CliError> {
    let start = match (args.offset, args.timestamp) {
        (Some(offset), _) => Position::Offset(offset),
        (None, Some(ms)) => Position::Timestamp(ms),
        (None, None) => return Ok(BTreeMap::new()),
    };
    let positions: Vec<(i32, Position)> = partitions.iter().map(|&p| (p, start)).collect();
    let resolved = position::resolve(consumer, &args.topic, &positions, args.connection.timeout())?;
    Ok(resolved
        .into_iter()
        .map(|(partition, offset)| (partition, Offset::Offset(offset)))
        .collect())
}

async fn print_records(
    args: &ConsumeArgs,
    consumer: &StreamConsumer<Reading>,
    template: &Template,
    out: &mut impl Write,
    stop: impl Future<Output = ()>,
) -> Result<u64, CliError> {
    let idle = args.timeout_ms.map(Duration::from_millis);
    let mut printed = 0u64;
    let mut line = Vec::new();
    let mut last_warning = None;
    tokio::pin!(stop);
    while args.max.is_none_or(|max| printed < max) {
        // Output is flushed only when no record is waiting, so a backlog is written in
        // large chunks while a live tail still appears at once.
        let received = match tokio::time::timeout(Duration::ZERO, consumer.recv()).await {
            Ok(received) => received,
            Err(_) => {
                if !flush(out)? {
                    break;
                }
                let next = async {
                    match idle {
                        Some(idle) => tokio::time::timeout(idle, consumer.recv()).await.ok(),
                        None => Some(consumer.recv().await),
                    }
                };
                tokio::select! {
                    () = &mut stop => break,
                    received = next => match received {
                        Some(received) => received,
                        None => break,
                    },
                }
            }
        };
        let message = match received {
            Ok(message) => message,
            Err(error) => {
                handle_error(&args.topic, error, &mut last_warning)?;
                continue;
            }
        };
        line.clear();
        template.render(&message, &mut line);
        match out.write_all(&line) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::BrokenPipe => break,
            Err(error) => return Err(CliError::Output(error)),
        }
        printed += 1;
        if args.group.is_some() {
            remember(consumer, &message);
        }
    }
    flush(out)?;
    Ok(printed)
}

/// Flushes the output; `false` when its reader has gone away.
fn flush(out: &mut impl Write) -> Result<bool, CliError> {
    match out.flush() {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == ErrorKind::BrokenPipe => Ok(false),
        Err(error) => Err(CliError::Output(error)),
    }
}

/// Marks a printed record as consumed: the periodic auto-commit and the final commit cover it.
fn remember(consumer: &StreamConsumer<Reading>, message: &BorrowedMessage<'_>) {
    let context = consumer.context();
    if let Err(error) = consumer.store_offset_from_message(message) {
        context.observer.error(error, "");
    }
    if let Ok(mut positions) = context.positions.lock() {
        positions.insert(message.partition(), message.offset() + 1);
    }
}

/// Errors while consuming are mostly passing (a broker restarting); librdkafka retries on its
/// own. They are reported once each, except a topic that went away, which ends the command.
fn handle_error(
    topic: &str,
    error: KafkaError,
    last_warning: &mut Option<String>,
) -> Result<(), CliError> {
    if matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic)
    ) {
        return Err(CliError::UnknownTopic(topic.to_owned()));
    }
    let text = error.to_string();
    if last_warning.as_deref() != Some(text.as_str()) {
        eprintln!("runnel: warning: {text}");
        *last_warning = Some(text);
    }
    Ok(())
}

/// Commits, synchronously, the offsets after the last records printed.
fn commit(args: &ConsumeArgs, consumer: &StreamConsumer<Reading>) -> Result<(), CliError> {
    let positions = consumer
        .context()
        .positions
        .lock()
        .map(|p| p.clone())
        .unwrap_or_default();
    if positions.is_empty() {
        return Ok(());
    }
    let mut offsets = TopicPartitionList::new();
    for (partition, offset) in &positions {
        offsets
            .add_partition_offset(&args.topic, *partition, Offset::Offset(*offset))
            .map_err(|e| CliError::kafka("commit offsets", e))?;
    }
    consumer
        .commit(&offsets, CommitMode::Sync)
        .map_err(|e| CliError::kafka("commit offsets", e))
}
