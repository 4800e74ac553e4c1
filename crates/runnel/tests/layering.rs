//! The workspace's layering, one check per crate: what each crate must not depend on to build
//! (its tests may use anything). ARCHITECTURE.md states each of these invariants.
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

/// `package` depends on `expected` (so the tree was really read) and on none of `forbidden`.
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

/// Those that make a crate a Kafka client like any other, runnable against any cluster.
const BROKER_INTERNALS: [&str; 2] = ["runnel-broker", "runnel-log"];

#[test]
fn the_storage_engine_depends_on_no_runtime_or_network_crate() {
    assert_layered(
        "runnel-log",
        "crc32c",
        &[
            "tokio",
            "mio",
            "socket2",
            "async-std",
            "futures",
            "rdkafka",
            "runnel-broker",
        ],
    );
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
    assert_layered("runnel-streams-kafka", "rdkafka", &BROKER_INTERNALS);
}

#[test]
fn the_connector_runtime_depends_on_no_broker_or_storage_crate() {
    assert_layered("runnel-connect", "rdkafka", &BROKER_INTERNALS);
}

#[test]
fn change_data_capture_depends_on_no_broker_or_storage_crate() {
    assert_layered("runnel-cdc", "runnel-connect", &BROKER_INTERNALS);
}

#[test]
fn the_event_sourcing_toolkit_depends_on_no_broker_or_storage_crate() {
    assert_layered("runnel-eventsourcing", "rdkafka", &BROKER_INTERNALS);
}

#[test]
fn the_admin_server_depends_on_no_broker_storage_or_metrics_crate() {
    assert_layered(
        "runnel-admin",
        "axum",
        &[
            "runnel-broker",
            "runnel-log",
            "prometheus-client",
            "kafka-protocol",
        ],
    );
}

#[test]
fn the_lag_evaluator_is_pure() {
    assert_layered(
        "runnel-lag",
        "serde",
        &["tokio", "rdkafka", "runnel-broker", "runnel-log", "reqwest"],
    );
}

#[test]
fn the_authorizer_is_pure() {
    assert_layered(
        "runnel-acl",
        "serde_json",
        &[
            "tokio",
            "rdkafka",
            "kafka-protocol",
            "runnel-broker",
            "runnel-log",
        ],
    );
}

/// The console is a Kafka client; the admin server serves its routes without knowing them.
#[test]
fn the_web_console_is_a_kafka_client_the_admin_server_does_not_know() {
    assert_layered(
        "runnel-console",
        "runnel-cli",
        &[
            "runnel-broker",
            "runnel-log",
            "runnel-admin",
            "runnel-connect",
        ],
    );
    assert_layered("runnel-admin", "axum", &["runnel-console", "runnel-cli"]);
}

#[test]
fn the_authentication_crate_depends_on_no_runtime_network_or_broker_crate() {
    assert_layered(
        "runnel-auth",
        "jsonwebtoken",
        &[
            "tokio",
            "mio",
            "socket2",
            "futures",
            "hyper",
            "reqwest",
            "rdkafka",
            "runnel-broker",
            "runnel-log",
        ],
    );
}

#[test]
fn the_walker_generator_is_a_build_tool_no_runnel_crate_depends_on() {
    assert_layered(
        "runnel-shapegen",
        "syn",
        &["runnel-broker", "runnel-log", "kafka-protocol", "tokio"],
    );
    // Only the generator: the broker's tree has `syn` anyway, through its derive macros.
    assert_layered("runnel-broker", "kafka-protocol", &["runnel-shapegen"]);
}
