//! `bench produce`: one librdkafka producer, measured per record.
//!
//! The producer is a `ThreadedProducer`: the benchmark thread only calls `send`, and a
//! dedicated thread serves delivery reports as they arrive, so the time from `send` to the
//! delivery callback (taken with `Instant`) is the latency of each record. A record's send
//! time travels in its delivery opaque as nanoseconds since the start, so nothing is
//! allocated per record.
//!
//! The producer is plain, idempotent (`--idempotent`) or transactional
//! (`--transaction-ms`, see [`crate::transactions`]).

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use runnel_cli::settings::ClientSettings;

use crate::error::BenchError;
use crate::report::{ProduceMode, ProduceReport};
use crate::stats::LatencySummary;
use crate::transactions::{self, Transactions};
use crate::{parse_key_value, topic};

/// Distinct payloads the records cycle through (random alphanumerics, so compression sees
/// text-like data rather than one repeated record).
const PAYLOAD_POOL: usize = 256;

/// What the broker must do before acknowledging (`acks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Acks {
    /// No acknowledgement: a record counts as delivered once sent.
    #[value(name = "0")]
    None,
    /// The leader appended it.
    #[value(name = "1")]
    Leader,
    /// Every in-sync replica appended it (on a single node, the same as 1).
    #[value(name = "all", alias = "-1")]
    All,
}

impl Acks {
    fn as_config(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

/// Batch compression (`compression.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    fn as_config(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Options of `bench produce`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProduceArgs {
    /// Broker to connect to (HOST:PORT).
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub bootstrap_server: String,
    /// Topic to produce to; created first if it does not exist.
    #[arg(long, default_value = "runnel-bench")]
    pub topic: String,
    /// Records to send.
    #[arg(long, default_value_t = 500_000)]
    pub records: u64,
    /// Value size of each record in bytes (records have no key).
    #[arg(long, default_value_t = 1024)]
    pub record_size: usize,
    /// Acknowledgement required: 0, 1 or all.
    #[arg(long, value_enum, default_value_t = Acks::All)]
    pub acks: Acks,
    /// How long the producer waits to fill a batch (`linger.ms`).
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u64,
    /// Largest batch in bytes (`batch.size`).
    #[arg(long, default_value_t = 1_000_000)]
    pub batch_size: u64,
    /// Batch compression.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub compression: Compression,
    /// Target records per second; 0 sends as fast as the producer accepts them.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Partitions of the topic, if this run creates it.
    #[arg(long, default_value_t = 1)]
    pub partitions: i32,
    /// Topic setting (KEY=VALUE, repeatable), e.g. flush.messages=1. The topic must not exist.
    #[arg(long = "topic-config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub topic_config: Vec<(String, String)>,
    /// Client settings with librdkafka's names (security.protocol, ssl.*, sasl.*, ...), one
    /// KEY=VALUE a line, as kafka-topics --command-config; the options above and -X win.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<PathBuf>,
    /// Any other librdkafka producer setting (KEY=VALUE, repeatable).
    #[arg(short = 'X', long = "producer-config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub producer_config: Vec<(String, String)>,
    /// Give up on a record not acknowledged within this many milliseconds (`message.timeout.ms`).
    #[arg(long, default_value_t = 60_000)]
    pub timeout_ms: u64,
    /// Idempotent producer (`enable.idempotence=true`): retries neither duplicate nor
    /// reorder records. Needs --acks all.
    #[arg(long)]
    pub idempotent: bool,
    /// Send in transactions, committing every this many milliseconds and at the end; only
    /// records of committed transactions count. Idempotent too; needs --acks all.
    #[arg(long, value_name = "MS")]
    pub transaction_ms: Option<u64>,
}

impl ProduceArgs {
    /// What the options ask of the producer, or why they contradict each other.
    fn mode(&self) -> Result<ProduceMode, BenchError> {
        if self.records == 0 {
            return Err(BenchError::InvalidArgument(
                "--records must be at least 1".into(),
            ));
        }
        let mode = match self.transaction_ms {
            Some(0) => {
                return Err(BenchError::InvalidArgument(
                    "--transaction-ms must be at least 1".into(),
                ))
            }
            Some(interval_ms) => ProduceMode::Transactional {
                interval_ms,
                committed: 0,
            },
            None if self.idempotent => ProduceMode::Idempotent,
            None => ProduceMode::Plain,
        };
        // librdkafka refuses idempotence with fewer acks: a sequence number may only move
        // on once the record is safe.
        if mode != ProduceMode::Plain && self.acks != Acks::All {
            return Err(BenchError::InvalidArgument(
                "--idempotent and --transaction-ms need --acks all".into(),
            ));
        }
        Ok(mode)
    }
}

pub(crate) async fn run(args: ProduceArgs) -> Result<ProduceReport, BenchError> {
    let mode = args.mode()?;
    let client = ClientSettings::load(args.command_config.as_deref(), &args.producer_config)?;
    let created = topic::ensure(
        &args.bootstrap_server,
        &client,
        &args.topic,
        args.partitions,
        &args.topic_config,
    )
    .await?;
    tokio::task::spawn_blocking(move || produce(&args, &client, mode, created))
        .await
        .map_err(|e| BenchError::Thread(e.to_string()))?
}

/// Delivery reports, collected by the producer's polling thread.
#[derive(Debug, Default)]
struct Deliveries {
    /// Send-to-report latency of each acknowledged record, in nanoseconds.
    latencies: Vec<u64>,
    acknowledged: u64,
    acknowledged_bytes: u64,
    failed: u64,
    first_error: Option<String>,
    /// When the last report arrived, in nanoseconds since `BenchContext::start`.
    last_report: u64,
}

#[derive(Debug)]
struct BenchContext {
    start: Instant,
    deliveries: Mutex<Deliveries>,
}

impl BenchContext {
    fn now(&self) -> usize {
        usize::try_from(self.start.elapsed().as_nanos()).unwrap_or(usize::MAX)
    }

    fn deliveries(&self) -> std::sync::MutexGuard<'_, Deliveries> {
        self.deliveries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl ClientContext for BenchContext {}

impl ProducerContext for BenchContext {
    /// When the record was sent, in nanoseconds since `start`.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: usize) {
        let now = self.now();
        let mut deliveries = self.deliveries();
        deliveries.last_report = now as u64;
        match result {
            Ok(message) => {
                deliveries.acknowledged += 1;
                deliveries.acknowledged_bytes += message.payload_len() as u64;
                deliveries.latencies.push(now.saturating_sub(sent) as u64);
            }
            Err((error, _)) => {
                deliveries.failed += 1;
                if deliveries.first_error.is_none() {
                    deliveries.first_error = Some(error.to_string());
                }
            }
        }
    }
}

/// The producer settings of a run; `transactional_id` for a transactional one.
fn settings(args: &ProduceArgs, transactional_id: Option<String>) -> Vec<(String, String)> {
    let mut settings: Vec<(String, String)> = [
        ("acks", args.acks.as_config().to_owned()),
        ("linger.ms", args.linger_ms.to_string()),
        ("batch.size", args.batch_size.to_string()),
        ("compression.type", args.compression.as_config().to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    if args.idempotent {
        settings.push(("enable.idempotence".into(), "true".into()));
    }
    if let (Some(id), Some(interval_ms)) = (transactional_id, args.transaction_ms) {
        settings.push(("transactional.id".into(), id));
        // A transaction stays open for the interval, then waits for its last records to be
        // acknowledged; librdkafka also wants it to outlast `message.timeout.ms`.
        settings.push((
            "transaction.timeout.ms".into(),
            interval_ms.saturating_add(args.timeout_ms).to_string(),
        ));
    }
    settings.extend(args.producer_config.iter().cloned());
    settings
}

fn produce(
    args: &ProduceArgs,
    client: &ClientSettings,
    mut mode: ProduceMode,
    created: bool,
) -> Result<ProduceReport, BenchError> {
    let transactional_id = match mode {
        ProduceMode::Transactional { .. } => Some(transactions::transactional_id()),
        ProduceMode::Plain | ProduceMode::Idempotent => None,
    };
    let settings = settings(args, transactional_id);
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &args.bootstrap_server)
        .set("client.id", "runnel-bench")
        .set("message.timeout.ms", args.timeout_ms.to_string());
    client.apply(&mut config);
    for (key, value) in &settings {
        config.set(key, value);
    }
    let context = BenchContext {
        start: Instant::now(),
        deliveries: Mutex::new(Deliveries {
            latencies: Vec::with_capacity(usize::try_from(args.records).unwrap_or(0)),
            ..Deliveries::default()
        }),
    };
    let producer: ThreadedProducer<BenchContext> = config
        .create_with_context(context)
        .map_err(BenchError::kafka("cannot create the producer"))?;
    topic::wait_for_leaders(producer.client(), &args.topic)?;
    let payloads = payloads(args.record_size, args.records);
    let context = producer.context();
    // Beyond a record's own timeout, room for the request carrying it to come back.
    let wait = Duration::from_millis(args.timeout_ms.saturating_add(10_000));
    let mut transactions = match args.transaction_ms {
        Some(interval_ms) => Some(Transactions::start(
            &producer,
            Duration::from_millis(interval_ms),
            wait,
        )?),
        None => None,
    };

    let first_send = context.now();
    let paced_start = Instant::now();
    for i in 0..args.records {
        if args.rate > 0 {
            let due = paced_start + pace_offset(i, args.rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        if let Some(transactions) = &mut transactions {
            transactions.commit_if_due()?;
        }
        let payload = payloads[(i % payloads.len() as u64) as usize].as_slice();
        let mut record = BaseRecord::<(), [u8], usize>::with_opaque_to(&args.topic, context.now())
            .payload(payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The local queue is full: wait for deliveries to make room.
                    std::thread::sleep(Duration::from_micros(200));
                    record = back;
                    record.delivery_opaque = context.now();
                }
                Err((error, _)) => {
                    return Err(BenchError::Kafka {
                        context: format!("cannot send record {i}"),
                        source: error,
                    })
                }
            }
        }
    }
    // A transactional run is measured up to its last commit, which also waits for every
    // acknowledgement; a plain or idempotent one up to its last delivery report.
    let end = match transactions {
        Some(transactions) => {
            let committed = transactions.finish()?;
            if let ProduceMode::Transactional {
                committed: count, ..
            } = &mut mode
            {
                *count = committed;
            }
            context.now() as u64
        }
        None => {
            producer.flush(wait).map_err(BenchError::kafka(
                "records still unacknowledged after the timeout",
            ))?;
            context.deliveries().last_report
        }
    };

    let mut deliveries = std::mem::take(&mut *context.deliveries());
    let elapsed = Duration::from_nanos(end.saturating_sub(first_send as u64));
    Ok(ProduceReport {
        topic: args.topic.clone(),
        topic_created: created,
        mode,
        settings,
        target_rate: args.rate,
        record_size: args.record_size,
        sent: args.records,
        acknowledged: deliveries.acknowledged,
        failed: deliveries.failed,
        first_error: deliveries.first_error,
        acknowledged_bytes: deliveries.acknowledged_bytes,
        elapsed,
        latency: LatencySummary::from_nanos(&mut deliveries.latencies),
    })
}

/// When record `i` is due at `rate` records per second, after the first.
fn pace_offset(i: u64, rate: u64) -> Duration {
    let nanos = u128::from(i) * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// `min(records, PAYLOAD_POOL)` distinct payloads of `size` random alphanumerics.
fn payloads(size: usize, records: u64) -> Vec<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let count = usize::try_from(records.min(PAYLOAD_POOL as u64)).unwrap_or(PAYLOAD_POOL);
    // xorshift64*: deterministic, so every run sends the same bytes.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    (0..count.max(1))
        .map(|_| {
            (0..size)
                .map(|_| ALPHABET[(next() >> 58) as usize % ALPHABET.len()])
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing() {
        assert_eq!(pace_offset(0, 1000), Duration::ZERO);
        assert_eq!(pace_offset(1, 1000), Duration::from_millis(1));
        assert_eq!(pace_offset(20_000, 1000), Duration::from_secs(20));
        assert_eq!(pace_offset(1, 3), Duration::from_nanos(333_333_333));
    }

    #[test]
    fn payload_pool() {
        let pool = payloads(1024, 1_000_000);
        assert_eq!(pool.len(), PAYLOAD_POOL);
        assert!(pool.iter().all(|p| p.len() == 1024));
        assert!(pool.iter().all(|p| p.iter().all(u8::is_ascii_alphanumeric)));
        assert_ne!(pool[0], pool[1]);
        assert_eq!(payloads(10, 3).len(), 3);
        assert_eq!(payloads(0, 3)[0], Vec::<u8>::new());
        assert_eq!(payloads(16, 1), payloads(16, 1), "deterministic");
    }

    fn args() -> ProduceArgs {
        ProduceArgs {
            bootstrap_server: "b:1".into(),
            topic: "t".into(),
            records: 1,
            record_size: 1,
            acks: Acks::Leader,
            linger_ms: 5,
            batch_size: 100,
            compression: Compression::Zstd,
            rate: 0,
            partitions: 1,
            topic_config: Vec::new(),
            command_config: None,
            producer_config: vec![("queue.buffering.max.kbytes".into(), "1".into())],
            timeout_ms: 1,
            idempotent: false,
            transaction_ms: None,
        }
    }

    fn pairs(settings: Vec<(String, String)>) -> Vec<String> {
        settings
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    #[test]
    fn effective_settings() {
        assert_eq!(
            pairs(settings(&args(), None)),
            [
                "acks=1",
                "linger.ms=5",
                "batch.size=100",
                "compression.type=zstd",
                "queue.buffering.max.kbytes=1"
            ]
        );
        let transactional = ProduceArgs {
            acks: Acks::All,
            idempotent: true,
            transaction_ms: Some(100),
            timeout_ms: 30_000,
            ..args()
        };
        assert_eq!(
            pairs(settings(&transactional, Some("tx-1".into())))[4..],
            [
                "enable.idempotence=true",
                "transactional.id=tx-1",
                "transaction.timeout.ms=30100",
                "queue.buffering.max.kbytes=1"
            ]
        );
    }

    #[test]
    fn modes_follow_the_options() {
        let all = ProduceArgs {
            acks: Acks::All,
            ..args()
        };
        assert_eq!(all.mode().unwrap(), ProduceMode::Plain);
        let idempotent = ProduceArgs {
            idempotent: true,
            ..all.clone()
        };
        assert_eq!(idempotent.mode().unwrap(), ProduceMode::Idempotent);
        for idempotent in [false, true] {
            let transactional = ProduceArgs {
                idempotent,
                transaction_ms: Some(250),
                ..all.clone()
            };
            assert_eq!(
                transactional.mode().unwrap(),
                ProduceMode::Transactional {
                    interval_ms: 250,
                    committed: 0
                }
            );
        }
    }

    #[test]
    fn contradictory_options_are_refused_with_a_reason() {
        let all = ProduceArgs {
            acks: Acks::All,
            ..args()
        };
        let cases = [
            (
                ProduceArgs {
                    transaction_ms: Some(0),
                    ..all.clone()
                },
                "--transaction-ms must be at least 1",
            ),
            (
                ProduceArgs {
                    records: 0,
                    ..all.clone()
                },
                "--records must be at least 1",
            ),
            (
                ProduceArgs {
                    idempotent: true,
                    acks: Acks::Leader,
                    ..all.clone()
                },
                "--idempotent and --transaction-ms need --acks all",
            ),
            (
                ProduceArgs {
                    transaction_ms: Some(10),
                    acks: Acks::None,
                    ..all.clone()
                },
                "--idempotent and --transaction-ms need --acks all",
            ),
        ];
        for (args, message) in cases {
            let error = args.mode().unwrap_err();
            assert!(matches!(error, BenchError::InvalidArgument(_)), "{error:?}");
            assert_eq!(error.to_string(), message);
        }
    }
}
