//! Starting the `runnel` executable from its tests: free ports, and the command line of a
//! broker with its admin server over a data directory of the test's own.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `runnel serve` command line, not started yet: the caller adds its own arguments.
pub struct Serve {
    pub command: Command,
    /// HOST:PORT of the Kafka listener.
    pub bootstrap: String,
    /// HOST:PORT of the admin server.
    pub admin: String,
}

/// `runnel serve` over `data_dir/data`, with two partitions a topic and the broker settings
/// `settings` (TOML lines, written to `data_dir/broker.toml`), its Kafka listener and its
/// admin server on free ports.
pub fn serve(data_dir: &Path, settings: &str) -> Serve {
    let config = data_dir.join("broker.toml");
    std::fs::write(&config, format!("num.partitions = 2\n{settings}")).unwrap();
    let bootstrap = format!("127.0.0.1:{}", free_port());
    let admin = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_runnel"));
    command
        .args(["serve", "--data-dir"])
        .arg(data_dir.join("data"))
        .args(["--listen", &bootstrap, "--admin-listen", &admin])
        .arg("--config")
        .arg(&config);
    Serve {
        command,
        bootstrap,
        admin,
    }
}
