//! A PostgreSQL server of the test's own, with logical decoding on: Debian's binaries,
//! `initdb` in a temporary directory, a free port, trusted local connections. As root, the
//! server runs as the `postgres` user (it refuses root), which the Debian package creates.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../../../runnel-connect/tests/common/processes.rs"]
pub mod processes;

pub mod mariadb;

pub use processes::free_port;
use processes::{as_owner, postgres_bin, postgres_owner};

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use runnel_cdc::{CdcConfig, ChangeRecord, PostgresSource};
use serde_json::Value;

/// How long a condition may take before a test gives up on it.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct TestPostgres {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl TestPostgres {
    pub fn start() -> TestPostgres {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let bin = postgres_bin();
        let owner = postgres_owner();
        std::fs::create_dir_all(&data).unwrap();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
            std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();
        }
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_owner(&mut initdb, owner);
        let output = initdb.output().unwrap();
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let port = free_port();
        let mut postgres = Command::new(bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&data)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "wal_level=logical", "-c", "max_replication_slots=4"])
            .args(["-c", "max_wal_senders=4", "-c", "synchronous_commit=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        as_owner(&mut postgres, owner);
        let child = postgres.spawn().unwrap();
        let deadline = Instant::now() + PATIENCE;
        let ready = || {
            Command::new(bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|s| s.success())
        };
        while !ready() {
            assert!(Instant::now() < deadline, "PostgreSQL did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        TestPostgres {
            port,
            child,
            _dir: dir,
        }
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }

    /// The connector's settings for this server, with `extra` added or overriding.
    pub fn config(&self, extra: &[(&str, &str)]) -> CdcConfig {
        let port = self.port.to_string();
        let mut settings: BTreeMap<String, String> = [
            ("database.hostname", "127.0.0.1"),
            ("database.port", port.as_str()),
            ("database.user", "postgres"),
            ("database.dbname", "postgres"),
            ("topic.prefix", "pg1"),
            ("poll.interval.ms", "50"),
            ("slot.retry.delay.ms", "50"),
            ("slot.max.retries", "600"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            settings.insert(k.to_string(), v.to_string());
        }
        CdcConfig::from_settings(&settings).unwrap()
    }
}

/// An immediate shutdown: the data directory is thrown away, and a fast one would wait for
/// the replication connections to confirm the last WAL.
impl Drop for TestPostgres {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Polls `source` until `condition` holds over everything received, which it returns.
pub async fn poll_until(
    source: &mut PostgresSource,
    received: &mut Vec<ChangeRecord>,
    what: &str,
    condition: impl Fn(&[ChangeRecord]) -> bool,
) {
    let deadline = Instant::now() + PATIENCE;
    while !condition(received) {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        received.extend(source.poll().await.unwrap());
    }
}

pub fn json(bytes: &Option<Vec<u8>>) -> Value {
    bytes
        .as_ref()
        .map_or(Value::Null, |b| serde_json::from_slice(b).unwrap())
}

/// The committed offsets after delivering `record` and everything before it.
pub fn committed(record: &ChangeRecord) -> Vec<(runnel_cdc::OffsetMap, runnel_cdc::OffsetMap)> {
    vec![(
        record.source_partition.clone(),
        record.source_offset.clone(),
    )]
}

/// A deterministic pseudo-random sequence (a 64-bit LCG), so a failing run can be replayed.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}
