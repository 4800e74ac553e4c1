//! `runnel serve --connectors` runs the connectors of a directory inside the broker process,
//! and `runnel connector` manages them through the REST API: the real executable, checked
//! by its output and exit status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/serve.rs"]
mod serve;

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a condition may take before the test gives up on it.
const PATIENCE: Duration = Duration::from_secs(60);

fn runnel(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_runnel"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs a command that must succeed and returns its standard output.
fn ok(args: &[&str]) -> String {
    let output = runnel(args, "");
    assert!(
        output.status.success(),
        "runnel {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The serving process, stopped with SIGTERM when the test ends.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

#[test]
fn connectors_run_inside_serve_and_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let connectors = dir.path().join("connectors");
    std::fs::create_dir_all(&connectors).unwrap();
    // A webhook nobody listens on: the task keeps retrying.
    let closed = format!("http://127.0.0.1:{}/hook", serve::free_port());
    std::fs::write(
        connectors.join("hook.toml"),
        format!(
            "name = \"hook\"\n\"connector.class\" = \"http\"\ntopics = \"orders\"\n\
             http.url = \"{closed}\"\n[errors.retry]\n\"delay.max.ms\" = 100\n"
        ),
    )
    .unwrap();
    let bootstrap = format!("127.0.0.1:{}", serve::free_port());
    let url = format!("http://127.0.0.1:{}", serve::free_port());
    let rest = url.trim_start_matches("http://").to_owned();
    let data = dir.path().join("data");
    let _serve = Serve(
        Command::new(env!("CARGO_BIN_EXE_runnel"))
            .args([
                "serve",
                "--data-dir",
                data.to_str().unwrap(),
                "--listen",
                &bootstrap,
                "--admin-listen",
                "",
            ])
            .args([
                "--connectors",
                connectors.to_str().unwrap(),
                "--connect-listen",
                &rest,
            ])
            .env("RUST_LOG", "error")
            .spawn()
            .unwrap(),
    );
    wait_until("the REST API answers", || {
        runnel(&["connector", "--url", &url, "list"], "")
            .status
            .success()
    });
    assert_eq!(ok(&["connector", "--url", &url, "list"]), "hook\n");
    ok(&["topic", "create", "orders", "-b", &bootstrap]);
    ok_with_input(&["produce", "orders", "-b", &bootstrap], "{\"n\": 1}\n");
    wait_until("the status shows the task retrying", || {
        ok(&["connector", "--url", &url, "status", "hook"]).contains("retrying (attempt")
    });
    let status = ok(&["connector", "--url", &url, "status", "hook"]);
    assert!(status.starts_with("connector hook: RUNNING"), "{status}");

    assert_eq!(
        ok(&["connector", "--url", &url, "pause", "hook"]),
        "paused connector hook\n"
    );
    let paused = ok(&["connector", "--url", &url, "status", "hook"]);
    assert!(
        paused.contains("connector hook: PAUSED") && paused.contains("task 0: PAUSED"),
        "{paused}"
    );
    ok(&["connector", "--url", &url, "resume", "hook"]);
    ok(&["connector", "--url", &url, "restart", "hook"]);
    assert!(ok(&["connector", "--url", &url, "status", "hook"]).contains("RUNNING"));

    // A second connector from a file; offsets reset once stopped; then deleted.
    let file = dir.path().join("second.json");
    std::fs::write(
        &file,
        format!(
            r#"{{"name": "second", "config": {{"connector.class": "http", "topics": "orders", "http.url": "{closed}"}}}}"#
        ),
    )
    .unwrap();
    assert_eq!(
        ok(&["connector", "--url", &url, "create", file.to_str().unwrap()]),
        "created connector second\n"
    );
    assert_eq!(ok(&["connector", "--url", &url, "list"]), "hook\nsecond\n");
    let refused = runnel(
        &["connector", "--url", &url, "offsets", "second", "--reset"],
        "",
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("stop or pause it") && stderr.contains("HTTP 409"),
        "{stderr}"
    );
    ok(&["connector", "--url", &url, "stop", "second"]);
    assert_eq!(
        ok(&["connector", "--url", &url, "offsets", "second", "--reset"]),
        "reset the offsets of connector second\n"
    );
    assert_eq!(
        ok(&["connector", "--url", &url, "offsets", "second"]),
        "TOPIC\tPARTITION\tOFFSET\n"
    );
    ok(&["connector", "--url", &url, "delete", "second"]);
    assert_eq!(ok(&["connector", "--url", &url, "list"]), "hook\n");
    let missing = runnel(&["connector", "--url", &url, "status", "second"], "");
    assert!(!missing.status.success());
    assert_eq!(
        String::from_utf8(missing.stderr).unwrap(),
        "runnel: connector second not found (HTTP 404)\n"
    );
}

fn ok_with_input(args: &[&str], input: &str) {
    let output = runnel(args, input);
    assert!(
        output.status.success(),
        "runnel {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
