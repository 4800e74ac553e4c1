//! Architecture invariants: the stream processing core knows nothing of the broker, the
//! storage engine, async runtimes or Kafka clients; it is driven by whoever feeds it. Its
//! Kafka runner is a Kafka client like any other: it knows nothing of the broker or the
//! storage engine either, so a job runs against any Kafka cluster.
#![allow(clippy::unwrap_used)]

use std::process::Command;

/// The crates `package` depends on to build (not to test), as `cargo tree` names them.
fn normal_dependencies(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["tree", "-p", package, "-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

fn assert_layered(package: &str, expected: &str, forbidden: &[&str]) {
    let crates = normal_dependencies(package);
    assert!(
        crates.iter().any(|c| c == expected),
        "the tree was read: {crates:?}"
    );
    for name in forbidden {
        assert!(
            !crates.iter().any(|c| c == name),
            "{package} depends on {name}"
        );
    }
}

#[test]
fn the_streams_core_depends_on_no_broker_runtime_or_client_crate() {
    assert_layered(
        "runnel-streams",
        "serde_json",
        &["runnel-log", "runnel-broker", "tokio", "rdkafka", "futures"],
    );
}

#[test]
fn the_streams_runner_depends_on_no_broker_or_storage_crate() {
    assert_layered(
        "runnel-streams-kafka",
        "rdkafka",
        &["runnel-log", "runnel-broker"],
    );
}
