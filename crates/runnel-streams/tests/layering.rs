//! Architecture invariant: the stream processing core knows nothing of the broker, the
//! storage engine, async runtimes or Kafka clients; it is driven by whoever feeds it.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn the_streams_core_depends_on_no_broker_runtime_or_client_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "runnel-streams",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).unwrap();
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"serde_json"),
        "the tree was read: {crates:?}"
    );
    for forbidden in ["runnel-log", "runnel-broker", "tokio", "rdkafka", "futures"] {
        assert!(
            !crates.contains(&forbidden),
            "runnel-streams depends on {forbidden}"
        );
    }
}
