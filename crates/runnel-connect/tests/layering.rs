//! Architecture invariant: the connector runtime is a Kafka client like any other. It knows
//! nothing of the broker or the storage engine, so it runs against any Kafka cluster (the
//! binary wires it next to the broker for `runnel serve --connectors`).
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn the_connector_runtime_depends_on_no_broker_or_storage_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "runnel-connect",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let crates: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    assert!(
        crates.iter().any(|c| c == "rdkafka"),
        "the tree was read: {crates:?}"
    );
    for forbidden in ["runnel-broker", "runnel-log"] {
        assert!(
            !crates.iter().any(|c| c == forbidden),
            "runnel-connect depends on {forbidden}"
        );
    }
}
