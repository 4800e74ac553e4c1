//! Architecture invariant: the storage engine knows nothing of networking or async runtimes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn the_storage_engine_depends_on_no_runtime_or_network_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "runnel-log",
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
    assert!(crates.contains(&"crc32c"), "the tree was read: {crates:?}");
    for forbidden in [
        "tokio",
        "mio",
        "socket2",
        "async-std",
        "futures",
        "rdkafka",
        "runnel-broker",
    ] {
        assert!(
            !crates.contains(&forbidden),
            "runnel-log depends on {forbidden}"
        );
    }
}
