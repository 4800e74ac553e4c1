//! Starting local server processes the way the tests need them: a free port, Debian's
//! PostgreSQL binaries, and the `postgres` user to run them as when the tests run as root.
//! Shared by the connector tests and the change-data-capture tests.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `bin` directory of the newest PostgreSQL installed.
pub fn postgres_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (Debian package postgresql)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().expect("no PostgreSQL version has initdb")
}

/// The `postgres` user's ids when running as root.
pub fn postgres_owner() -> Option<(u32, u32)> {
    let output = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&output.stdout).trim() != "0" {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with("postgres:"))
        .expect("running as root needs the postgres user");
    let fields: Vec<&str> = line.split(':').collect();
    Some((fields[2].parse().unwrap(), fields[3].parse().unwrap()))
}

/// Runs `command` as `owner` (uid, gid), when there is one.
pub fn as_owner(command: &mut Command, owner: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = owner {
        command.gid(gid).uid(uid);
    }
}

/// A connect worker run by the test binary itself in a child process: `spawn` runs only the
/// test named `entry`, handing it `settings` through the environment variable `env`; that
/// test reads them (`child_settings`) and runs the worker until killed. Killed with SIGKILL
/// when dropped, also when a test fails, so no worker outlives its test.
pub struct ChildWorker(std::process::Child);

impl ChildWorker {
    pub fn spawn(entry: &str, env: &str, bootstrap: &str, dir: &std::path::Path) -> ChildWorker {
        ChildWorker(
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", entry, "--nocapture", "--test-threads=1"])
                .env(env, format!("{bootstrap}|{}", dir.display()))
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for ChildWorker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// In the child's entry test: the bootstrap servers and connectors directory `spawn` handed
/// over, or `None` when the test runs as an ordinary test.
pub fn child_settings(env: &str) -> Option<(String, PathBuf)> {
    let settings = std::env::var(env).ok()?;
    let (bootstrap, dir) = settings.split_once('|')?;
    Some((bootstrap.to_owned(), PathBuf::from(dir)))
}
