//! `runnel produce`: one record per line of input.

use std::io::BufRead;
use std::sync::Mutex;
use std::time::Duration;

use clap::{Args, ValueEnum};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, FutureProducer, FutureRecord, Producer,
    ProducerContext,
};

use crate::client::{self, Observer};
use crate::{parse_key_value, CliError, Connection};

#[derive(Debug, Args)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub connection: Connection,
    pub topic: String,
    /// Split each line at the first SEP into key and value (lines without SEP fail).
    #[arg(long, value_name = "SEP")]
    pub key_separator: Option<String>,
    /// A header for every record (repeatable).
    #[arg(long = "header", short = 'H', value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// Send every record to this partition (default: by key hash, or spread when keyless).
    #[arg(long, short = 'p', value_parser = clap::value_parser!(i32).range(0..))]
    pub partition: Option<i32>,
    /// Acknowledgements to wait for.
    #[arg(long, value_enum, default_value_t = Acks::All)]
    pub acks: Acks,
    /// Compression of the record batches.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub compression: Compression,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Acks {
    #[value(name = "0")]
    None,
    #[value(name = "1")]
    Leader,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

/// What happened to the records of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Produced {
    /// Lines read.
    pub lines: u64,
    /// Records the broker acknowledged (or, with `--acks 0`, that were sent).
    pub delivered: u64,
}

#[derive(Debug, Default)]
struct Failures {
    count: u64,
    first: Option<(u64, String)>,
}

/// Counts deliveries and remembers the first failure with its line number.
#[derive(Debug, Default)]
struct Deliveries {
    observer: Observer,
    delivered: Mutex<u64>,
    failures: Mutex<Failures>,
}

impl Deliveries {
    fn fail(&self, line: u64, reason: String) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.count += 1;
            failures.first.get_or_insert((line, reason));
        }
    }
}

impl ClientContext for Deliveries {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.observer.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.observer.error(error, reason);
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, line: usize) {
        match result {
            Ok(_) => {
                if let Ok(mut delivered) = self.delivered.lock() {
                    *delivered += 1;
                }
            }
            Err((error, _)) => self.fail(line as u64, error.to_string()),
        }
    }
}

/// Sends every line of `input` to the topic, waits until each was acknowledged or failed,
/// and fails if any did.
pub fn run(args: &ProduceArgs, mut input: impl BufRead) -> Result<Produced, CliError> {
    let connection = &args.connection;
    let separator = match &args.key_separator {
        Some(s) if s.is_empty() => {
            return Err(CliError::BadArguments(
                "--key-separator must not be empty".to_owned(),
            ))
        }
        Some(s) => Some(s.as_bytes()),
        None => None,
    };
    let mut headers = None;
    for header in &args.headers {
        let (key, value) = parse_key_value("--header", header)?;
        headers = Some(headers.unwrap_or_else(OwnedHeaders::new).insert(Header {
            key: &key,
            value: Some(&value),
        }));
    }
    let mut config = client::config(connection)?;
    config
        .set(
            "acks",
            match args.acks {
                Acks::None => "0",
                Acks::Leader => "1",
                Acks::All => "all",
            },
        )
        .set(
            "compression.type",
            match args.compression {
                Compression::None => "none",
                Compression::Gzip => "gzip",
                Compression::Snappy => "snappy",
                Compression::Lz4 => "lz4",
                Compression::Zstd => "zstd",
            },
        )
        .set(
            "message.timeout.ms",
            connection.request_timeout_ms.to_string(),
        );
    client::probe(connection)?;
    let producer: BaseProducer<Deliveries> = config
        .create_with_context(Deliveries::default())
        .map_err(|e| CliError::kafka("create a producer", e))?;

    let mut lines = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .map_err(CliError::Input)?
            == 0
        {
            break;
        }
        lines += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let (key, value) = match separator {
            None => (None, line.as_slice()),
            Some(separator) => match split(&line, separator) {
                Some((key, value)) => (Some(key), value),
                None => {
                    producer
                        .context()
                        .fail(lines, "no key separator in the line".to_owned());
                    continue;
                }
            },
        };
        let mut record =
            BaseRecord::<[u8], [u8], usize>::with_opaque_to(&args.topic, lines as usize)
                .payload(value);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(partition) = args.partition {
            record = record.partition(partition);
        }
        if let Some(headers) = &headers {
            record = record.headers(headers.clone());
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The local queue drains as deliveries are acknowledged; serving
                    // their callbacks is what makes room.
                    record = back;
                    producer.poll(Duration::from_millis(100));
                }
                Err((error, _)) => {
                    producer.context().fail(lines, error.to_string());
                    break;
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    // Every record times out after message.timeout.ms, so a flush of twice that ends.
    let flushed = producer.flush(connection.timeout() * 2);
    let context = producer.context();
    let delivered = context.delivered.lock().map(|d| *d).unwrap_or(0);
    if let Ok(failures) = context.failures.lock() {
        if let Some((line, reason)) = &failures.first {
            return Err(CliError::Undelivered {
                failed: failures.count,
                total: lines,
                line: *line,
                reason: reason.clone(),
            });
        }
    }
    if let Err(error) = flushed {
        return Err(CliError::kafka("deliver every record", error));
    }
    Ok(Produced { lines, delivered })
}

/// Splits at the first occurrence of `separator`.
fn split<'a>(line: &'a [u8], separator: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    line.windows(separator.len())
        .position(|w| w == separator)
        .map(|at| (&line[..at], &line[at + separator.len()..]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn lines_split_at_the_first_separator() {
        assert_eq!(split(b"k::v::w", b"::"), Some((&b"k"[..], &b"v::w"[..])));
        assert_eq!(split(b"::v", b"::"), Some((&b""[..], &b"v"[..])));
        assert_eq!(split(b"k:", b":"), Some((&b"k"[..], &b""[..])));
        assert_eq!(split(b"kv", b":"), None);
        assert_eq!(split(b"", b":"), None);
    }
}

/// Where a record sent by [`send_one`] was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    pub partition: i32,
    pub offset: i64,
}

/// Sends one record (to `partition`, or as the key decides) and waits for the broker's
/// acknowledgement from every in-sync replica.
pub async fn send_one(
    connection: &Connection,
    topic: &str,
    partition: Option<i32>,
    key: Option<&str>,
    value: &str,
    headers: &[(String, String)],
) -> Result<Written, CliError> {
    let (_, metadata) = client::probe(connection)?;
    let partitions = client::partitions(&metadata, topic)?;
    if let Some(partition) = partition.filter(|p| !partitions.contains(p)) {
        return Err(CliError::BadArguments(format!(
            "topic {topic} has no partition {partition}"
        )));
    }
    let producer: FutureProducer<Observer> = client::config(connection)?
        .set("acks", "all")
        .set(
            "message.timeout.ms",
            connection.request_timeout_ms.to_string(),
        )
        .create_with_context(Observer::default())
        .map_err(|e| CliError::kafka("create a producer", e))?;
    let mut record = FutureRecord::<str, str>::to(topic).payload(value);
    if let Some(key) = key {
        record = record.key(key);
    }
    if let Some(partition) = partition {
        record = record.partition(partition);
    }
    if !headers.is_empty() {
        let mut owned = OwnedHeaders::new_with_capacity(headers.len());
        for (key, value) in headers {
            owned = owned.insert(Header {
                key,
                value: Some(value),
            });
        }
        record = record.headers(owned);
    }
    match producer.send(record, connection.timeout()).await {
        Ok(delivery) => Ok(Written {
            partition: delivery.partition,
            offset: delivery.offset,
        }),
        Err((error, _)) => Err(CliError::kafka(format!("produce to {topic}"), error)),
    }
}
