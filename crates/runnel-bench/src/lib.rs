//! Produce and consume benchmarks over the Kafka protocol, with librdkafka clients (the
//! `rdkafka` crate), against Runnel or any Kafka-compatible broker.
//!
//! [`BenchCommand`] is a `clap` subcommand; the `runnel` binary runs it as `runnel bench`.
//!
//! * `produce` sends `--records` records of `--record-size` bytes from one producer, as fast
//!   as it can or at `--rate` records per second, and reports records/s, MB/s and the latency
//!   from each send to its delivery report (exact p50, p99, p99.9). The producer may be
//!   idempotent (`--idempotent`) or commit a transaction every `--transaction-ms`.
//! * `consume` reads records from the start of every partition of the topic (manual
//!   assignment, no consumer group) and reports records/s and MB/s.
//!
//! Both run their client on a blocking thread of the tokio runtime, so [`run`] must be called
//! from within one.

mod consume;
mod error;
mod produce;
pub mod report;
pub mod stats;
mod topic;
mod transactions;

pub use consume::ConsumeArgs;
pub use error::BenchError;
pub use produce::{Acks, Compression, ProduceArgs};
pub use report::{ConsumeReport, ProduceMode, ProduceReport, Report};

/// `bench produce` and `bench consume`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum BenchCommand {
    /// Produce records from one producer and report throughput and send-to-ack latency.
    Produce(ProduceArgs),
    /// Read records from the beginning of a topic and report throughput.
    Consume(ConsumeArgs),
}

/// Runs one benchmark. Needs a tokio runtime (the client runs on a blocking thread).
pub async fn run(command: BenchCommand) -> Result<Report, BenchError> {
    match command {
        BenchCommand::Produce(args) => produce::run(args).await.map(Report::Produce),
        BenchCommand::Consume(args) => consume::run(args).await.map(Report::Consume),
    }
}

/// Parses `KEY=VALUE` (for the repeatable client and topic setting options).
fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: BenchCommand,
    }

    #[test]
    fn key_value() {
        assert_eq!(
            parse_key_value("flush.messages=1"),
            Ok(("flush.messages".into(), "1".into()))
        );
        assert_eq!(parse_key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_key_value("a="), Ok(("a".into(), String::new())));
        assert!(parse_key_value("=1").is_err());
        assert!(parse_key_value("novalue").is_err());
    }

    #[test]
    fn produce_defaults() {
        let cli = Cli::try_parse_from(["bench", "produce"]).unwrap();
        let BenchCommand::Produce(args) = cli.command else {
            panic!("not produce")
        };
        assert_eq!(args.bootstrap_server, "127.0.0.1:9092");
        assert_eq!(args.records, 500_000);
        assert_eq!(args.record_size, 1024);
        assert_eq!(args.acks, Acks::All);
        assert_eq!(args.linger_ms, 5);
        assert_eq!(args.compression, Compression::None);
        assert_eq!(args.rate, 0);
        assert!(!args.idempotent);
        assert_eq!(args.transaction_ms, None);
    }

    #[test]
    fn produce_options() {
        let cli = Cli::try_parse_from([
            "bench",
            "produce",
            "--bootstrap-server",
            "10.0.0.1:9093",
            "--topic",
            "t",
            "--records",
            "20000",
            "--record-size",
            "100",
            "--acks",
            "1",
            "--linger-ms",
            "0",
            "--batch-size",
            "65536",
            "--compression",
            "lz4",
            "--rate",
            "1000",
            "--topic-config",
            "flush.messages=1",
            "-X",
            "socket.nagle.disable=true",
            "--idempotent",
            "--transaction-ms",
            "250",
        ])
        .unwrap();
        let BenchCommand::Produce(args) = cli.command else {
            panic!("not produce")
        };
        assert_eq!(args.records, 20_000);
        assert_eq!(args.acks, Acks::Leader);
        assert_eq!(args.batch_size, 65_536);
        assert_eq!(args.compression, Compression::Lz4);
        assert_eq!(args.rate, 1000);
        assert!(args.idempotent);
        assert_eq!(args.transaction_ms, Some(250));
        assert_eq!(
            args.topic_config,
            [("flush.messages".to_owned(), "1".to_owned())]
        );
        assert_eq!(
            args.producer_config,
            [("socket.nagle.disable".to_owned(), "true".to_owned())]
        );
        for (given, acks) in [("0", Acks::None), ("all", Acks::All), ("-1", Acks::All)] {
            let cli = Cli::try_parse_from(["bench", "produce", &format!("--acks={given}")]);
            let BenchCommand::Produce(args) = cli.unwrap().command else {
                panic!("not produce")
            };
            assert_eq!(args.acks, acks);
        }
        assert!(Cli::try_parse_from(["bench", "produce", "--acks", "2"]).is_err());
    }

    #[test]
    fn consume_options() {
        let cli = Cli::try_parse_from(["bench", "consume", "--topic", "t"]).unwrap();
        let BenchCommand::Consume(args) = cli.command else {
            panic!("not consume")
        };
        assert_eq!(args.topic, "t");
        assert_eq!(args.records, None);
        let cli = Cli::try_parse_from([
            "bench",
            "consume",
            "--records",
            "10",
            "--fetch-max-bytes",
            "1000",
        ])
        .unwrap();
        let BenchCommand::Consume(args) = cli.command else {
            panic!("not consume")
        };
        assert_eq!(args.records, Some(10));
        assert_eq!(args.fetch_max_bytes, 1000);
    }

    #[test]
    fn client_settings_come_from_a_command_config_file_and_x() {
        for kind in ["produce", "consume"] {
            let cli = Cli::try_parse_from([
                "bench",
                kind,
                "--command-config",
                "client.properties",
                "-X",
                "security.protocol=SSL",
            ])
            .unwrap();
            let (file, x) = match cli.command {
                BenchCommand::Produce(args) => (args.command_config, args.producer_config),
                BenchCommand::Consume(args) => (args.command_config, args.consumer_config),
            };
            assert_eq!(file, Some("client.properties".into()));
            assert_eq!(x, [("security.protocol".to_owned(), "SSL".to_owned())]);
        }
    }
}
