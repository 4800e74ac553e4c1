//! A MariaDB server of the test's own, with the binlog in ROW format and full row metadata:
//! Debian's `mariadbd`, `mariadb-install-db` in a temporary directory, a free port, root with
//! no password over TCP. As root, the server runs with `--user=root` (it refuses otherwise).

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use runnel_cdc::{ChangeRecord, MariaDbConfig, MariaDbSource};

use super::processes::free_port;
use super::PATIENCE;

pub struct TestMariaDb {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl TestMariaDb {
    pub fn start() -> TestMariaDb {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let user = format!("--user={}", whoami());
        let output = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .arg(format!("--tmpdir={}", dir.path().display()))
            .arg(&user)
            .output()
            .expect("mariadb-install-db is not installed (Debian package mariadb-server)");
        assert!(
            output.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let port = free_port();
        let child = Command::new("/usr/sbin/mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", dir.path().join("sock").display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .arg(format!(
                "--log-error={}",
                dir.path().join("error.log").display()
            ))
            .arg(format!(
                "--log-bin={}",
                dir.path().join("mariadb-bin").display()
            ))
            .arg(format!("--tmpdir={}", dir.path().display()))
            .arg(format!("--port={port}"))
            .args([
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
            ])
            .arg(&user)
            .args([
                "--bind-address=127.0.0.1",
                "--server-id=1",
                "--skip-name-resolve",
            ])
            .args(["--binlog-format=ROW", "--binlog-row-image=FULL"])
            .args([
                "--binlog-row-metadata=FULL",
                "--innodb-buffer-pool-size=16M",
            ])
            .args(["--innodb-flush-log-at-trx-commit=0", "--sync-binlog=0"])
            .args(["--innodb-log-file-size=16M", "--performance-schema=OFF"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        TestMariaDb {
            port,
            child,
            _dir: dir,
        }
    }

    /// A connection as root, once the server accepts one.
    pub async fn conn(&self) -> Conn {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let opts = OptsBuilder::default()
                .ip_or_hostname("127.0.0.1")
                .tcp_port(self.port)
                .user(Some("root"))
                .prefer_socket(false);
            match Conn::new(opts).await {
                Ok(mut conn) => {
                    conn.query_drop("SET NAMES utf8mb4").await.unwrap();
                    return conn;
                }
                Err(error) => {
                    assert!(Instant::now() < deadline, "MariaDB did not start: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Runs `sql` (several statements) on a new connection.
    pub async fn execute(&self, sql: &str) {
        let mut conn = self.conn().await;
        conn.query_drop(sql).await.unwrap();
        conn.disconnect().await.unwrap();
    }

    /// The connector's settings for this server, with `extra` added or overriding.
    pub fn config(&self, extra: &[(&str, &str)]) -> MariaDbConfig {
        let port = self.port.to_string();
        let mut settings: BTreeMap<String, String> = [
            ("database.hostname", "127.0.0.1"),
            ("database.port", port.as_str()),
            ("database.user", "root"),
            ("database.server.id", "5400"),
            ("topic.prefix", "shop"),
            ("poll.interval.ms", "50"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            settings.insert(k.to_string(), v.to_string());
        }
        MariaDbConfig::from_settings(&settings).unwrap()
    }
}

fn whoami() -> String {
    let output = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The data directory is thrown away: no shutdown to wait for.
impl Drop for TestMariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `source` until `condition` holds over everything received.
pub async fn poll_until(
    source: &mut MariaDbSource,
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
