//! Architecture invariant: the admin server knows nothing of the broker, the storage
//! engine or the metrics library; it serves what the binary hands it.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn the_admin_server_depends_on_no_broker_storage_or_metrics_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "runnel-admin",
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
        crates.iter().any(|c| c == "axum"),
        "the tree was read: {crates:?}"
    );
    for name in [
        "runnel-broker",
        "runnel-log",
        "prometheus-client",
        "kafka-protocol",
    ] {
        assert!(
            !crates.iter().any(|c| c == name),
            "runnel-admin depends on {name}"
        );
    }
}
