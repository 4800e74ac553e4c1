//! A tiny produce and consume benchmark against an in-process broker: every record is
//! counted (no timing is asserted).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clap::Parser;
use runnel_bench::{BenchCommand, BenchError, ProduceMode, ProduceReport, Report};
use runnel_broker::{Broker, BrokerConfig};

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: BenchCommand,
}

fn command(args: &[&str]) -> BenchCommand {
    Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
        .expect("valid arguments")
        .command
}

async fn start(dir: &std::path::Path) -> Broker {
    let config = BrokerConfig::new(dir, "127.0.0.1:0");
    Broker::start(config).await.expect("broker starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_then_consume_counts_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let bootstrap = broker.local_addr().to_string();

    let report = runnel_bench::run(command(&[
        "produce",
        "--bootstrap-server",
        &bootstrap,
        "--topic",
        "bench",
        "--partitions",
        "2",
        "--records",
        "2000",
        "--record-size",
        "100",
        "--acks",
        "all",
        "--linger-ms",
        "1",
    ]))
    .await
    .expect("produce runs");
    let Report::Produce(produced) = report else {
        panic!("not a produce report")
    };
    println!("{produced}");
    assert!(produced.topic_created);
    assert_eq!(produced.sent, 2000);
    assert_eq!(produced.acknowledged, 2000, "{produced}");
    assert_eq!(produced.failed, 0);
    assert_eq!(produced.acknowledged_bytes, 200_000);
    let latency = produced.latency.expect("latencies");
    assert_eq!(latency.count, 2000);
    assert!(latency.min <= latency.p50 && latency.p50 <= latency.p99);
    assert!(latency.p99 <= latency.p999 && latency.p999 <= latency.max);

    // Everything in the topic (both partitions), then an explicit count.
    for records in [None, Some("1500")] {
        let mut args = vec![
            "consume",
            "--bootstrap-server",
            &bootstrap,
            "--topic",
            "bench",
            "--fetch-max-bytes",
            "1048576",
            "--max-partition-fetch-bytes",
            "16384",
        ];
        if let Some(records) = records {
            args.extend(["--records", records]);
        }
        let report = runnel_bench::run(command(&args))
            .await
            .expect("consume runs");
        let Report::Consume(consumed) = report else {
            panic!("not a consume report")
        };
        println!("{consumed}");
        assert_eq!(consumed.partitions, [0, 1]);
        let want = records.map_or(2000, |r| r.parse().unwrap());
        assert_eq!(consumed.expected, want);
        assert_eq!(consumed.records, want);
        assert_eq!(consumed.bytes, want * 100);
    }

    // A second produce run to the now existing topic appends to it; topic settings would not
    // apply to it, so asking for them is refused.
    let report = runnel_bench::run(command(&[
        "produce",
        "--bootstrap-server",
        &bootstrap,
        "--topic",
        "bench",
        "--records",
        "10",
        "--rate",
        "1000",
    ]))
    .await
    .expect("second produce runs");
    let Report::Produce(again) = report else {
        panic!("not a produce report")
    };
    assert!(!again.topic_created);
    assert_eq!(again.acknowledged, 10);
    let refused = runnel_bench::run(command(&[
        "produce",
        "--bootstrap-server",
        &bootstrap,
        "--topic",
        "bench",
        "--records",
        "10",
        "--topic-config",
        "flush.messages=1",
    ]))
    .await;
    assert!(
        matches!(refused, Err(BenchError::Topic { .. })),
        "{refused:?}"
    );

    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_settings_apply_to_a_created_topic() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let bootstrap = broker.local_addr().to_string();
    let report = runnel_bench::run(command(&[
        "produce",
        "--bootstrap-server",
        &bootstrap,
        "--topic",
        "synced",
        "--records",
        "50",
        "--linger-ms",
        "0",
        "--topic-config",
        "flush.messages=1",
    ]))
    .await
    .expect("produce runs");
    let Report::Produce(produced) = report else {
        panic!("not a produce report")
    };
    assert_eq!(produced.acknowledged, 50);
    let topic = broker.state().topics.get("synced").expect("topic exists");
    let partition = topic.partition(0).expect("partition 0");
    assert_eq!(partition.log.config().flush_messages, 1);
    broker.shutdown().await.unwrap();
}

/// Produces 1000 records to a new topic with `extra` options and returns the report.
async fn produce_in_mode(bootstrap: &str, topic: &str, extra: &[&str]) -> ProduceReport {
    let mut args = vec![
        "produce",
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--partitions",
        "2",
        "--records",
        "1000",
        "--record-size",
        "100",
        "--linger-ms",
        "1",
    ];
    args.extend_from_slice(extra);
    let Report::Produce(produced) = runnel_bench::run(command(&args))
        .await
        .expect("produce runs")
    else {
        panic!("not a produce report")
    };
    println!("{produced}");
    assert_eq!(produced.sent, 1000);
    assert_eq!(produced.acknowledged, 1000, "{produced}");
    assert_eq!(produced.failed, 0);
    assert_eq!(produced.acknowledged_bytes, 100_000);
    produced
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_produce_counts_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let bootstrap = broker.local_addr().to_string();
    let produced = produce_in_mode(&bootstrap, "once", &["--idempotent"]).await;
    assert_eq!(produced.mode, ProduceMode::Idempotent);
    assert!(produced
        .settings
        .contains(&("enable.idempotence".to_owned(), "true".to_owned())));
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_produce_commits_every_interval_and_the_rest_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let bootstrap = broker.local_addr().to_string();
    // 1000 records at 5000/s take 200 ms: 20 ms transactions, the last one partial, so about
    // 10 commits. A commit takes a while itself, so fewer is possible; but a commit that
    // waited a fixed 100 ms for its last acknowledgements (as rdkafka's own flush does) would
    // leave room for only 3 or 4.
    let produced = produce_in_mode(
        &bootstrap,
        "txn",
        &["--transaction-ms", "20", "--rate", "5000"],
    )
    .await;
    let ProduceMode::Transactional {
        interval_ms,
        committed,
    } = produced.mode
    else {
        panic!("not transactional: {produced}")
    };
    assert_eq!(interval_ms, 20);
    assert!(committed >= 6, "{produced}");
    assert!(produced.elapsed >= std::time::Duration::from_millis(190));

    // Every record is readable by a consumer that sees committed records only.
    let Report::Consume(consumed) = runnel_bench::run(command(&[
        "consume",
        "--bootstrap-server",
        &bootstrap,
        "--topic",
        "txn",
        "--records",
        "1000",
        "--timeout-ms",
        "10000",
        "-X",
        "isolation.level=read_committed",
    ]))
    .await
    .expect("consume runs") else {
        panic!("not a consume report")
    };
    assert_eq!(consumed.records, 1000);
    broker.shutdown().await.unwrap();
}
