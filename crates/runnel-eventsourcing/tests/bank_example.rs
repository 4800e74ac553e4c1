//! The bank example end to end: its process against a broker in the test, driven over HTTP.
//! Commands, both read models, a deposit corrected by a compensating event, transfers (one
//! refunded), bad input, and crypto-shredding: once the holder's key is deleted and
//! compacted away, nothing on the broker's disk or in its topics yields the personal data,
//! and the account's events still replay.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{contains, found_in_files, TestBroker, WAIT};
use reqwest::StatusCode;
use runnel_eventsourcing::{system_randomness, KeyVault, Revealed, Sealed};
use serde_json::{json, Value};

const NAME: &str = "Alice Martin";
const ADDRESS: &str = "12 rue des Lilas, Lyon";

/// The example's process, killed when dropped.
struct Bank {
    child: Child,
    url: String,
}

impl Bank {
    fn start(bootstrap: &str, state: &Path) -> Bank {
        let exe = std::env::current_exe().unwrap();
        let example = exe
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("examples")
            .join("bank");
        assert!(example.exists(), "`cargo test` builds the examples");
        let mut child = Command::new(example)
            .args(["--bootstrap-server", bootstrap, "--listen", "127.0.0.1:0"])
            .args(["--partitions", "2", "--state-dir"])
            .arg(state)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Bank {
            child,
            url: format!("http://{address}"),
        }
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = reqwest::get(format!("{}{path}", self.url)).await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Reads `path` until `done` holds for its body: read models are eventually consistent.
    async fn get_until(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, body) = self.get(path).await;
            if status == StatusCode::OK && done(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: last read {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Bank {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn descriptions(statement: &Value) -> Vec<(String, i64)> {
    statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["description"].as_str().unwrap().to_owned(),
                l["cents"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bank_over_http_corrects_refunds_and_forgets() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    // The keys topic as the test wants it compacted: short segments, tombstones kept no
    // time, so the deleted key leaves the disk within seconds.
    broker
        .create_topic(
            "bank-keys",
            1,
            &[
                ("cleanup.policy", "compact"),
                ("runnel.conditional.append.enable", "true"),
                ("segment.ms", "100"),
                ("min.cleanable.dirty.ratio", "0.01"),
                ("delete.retention.ms", "0"),
            ],
        )
        .await;
    let state = tempfile::tempdir().unwrap();
    let bank = Bank::start(&bootstrap, &state.path().join("first"));

    for (id, name) in [("alice", NAME), ("bob", "Bob Durand")] {
        let (status, body) = bank
            .post(
                "/accounts",
                json!({"id": id, "name": name, "address": ADDRESS}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, _) = bank
        .post(
            "/accounts",
            json!({"id": "alice", "name": "Other", "address": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "opened twice");

    // The same deposit entered twice by mistake, then corrected by a compensating event.
    for deposit in ["d1", "d2"] {
        let (status, body) = bank
            .post(
                "/accounts/alice/deposits",
                json!({"cents": 1000, "deposit_id": deposit}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _) = bank
        .post("/accounts/alice/deposits/d2/reversal", json!(null))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = bank
        .post("/accounts/alice/deposits/d2/reversal", json!(null))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "reversed once only: {body}");

    let (status, _) = bank
        .post("/accounts/alice/withdrawals", json!({"cents": 300}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = bank
        .post("/accounts/alice/withdrawals", json!({"cents": 100_000}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body["error"].as_str().unwrap().contains("insufficient"),
        "{body}"
    );

    let (status, body) = bank
        .post(
            "/transfers",
            json!({"from": "alice", "to": "bob", "cents": 200}),
        )
        .await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("completed"))
    );
    // To an account never opened: out of alice, refused by the target, refunded.
    let (status, body) = bank
        .post(
            "/transfers",
            json!({"from": "alice", "to": "carol", "cents": 50}),
        )
        .await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::CONFLICT, &json!("refunded"))
    );

    // Bad input: clear errors, nothing appended.
    let (status, _) = bank
        .post("/accounts/alice/deposits", json!({"cents": -5}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = bank
        .post("/accounts/nobody/deposits", json!({"cents": 5}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = bank
        .post("/accounts/alice/deposits", json!({"amount": "x"}))
        .await;
    assert!(status.is_client_error());
    let (status, _) = bank
        .post(
            "/transfers",
            json!({"from": "alice", "to": "alice", "cents": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let balance = bank
        .get_until("/accounts/alice/balance", |b| b["cents"] == 500)
        .await;
    assert_eq!(balance["holder"], json!({"name": NAME, "address": ADDRESS}));
    bank.get_until("/accounts/bob/balance", |b| b["cents"] == 200)
        .await;
    let statement = bank
        .get_until("/accounts/alice/statement", |s| {
            s["lines"].as_array().is_some_and(|l| l.len() == 8)
        })
        .await;
    let transfer_to_carol = statement["lines"][6]["correlation_id"].as_str().unwrap();
    assert_eq!(
        descriptions(&statement),
        [
            ("account opened".to_owned(), 0),
            ("deposit d1".to_owned(), 1000),
            ("deposit d2".to_owned(), 1000),
            ("reversal of deposit d2".to_owned(), -1000),
            ("withdrawal".to_owned(), -300),
            (format!("transfer {} to bob", statement["lines"][5]["correlation_id"].as_str().unwrap()), -200),
            (format!("transfer {transfer_to_carol} to carol"), -50),
            (
                format!("refund of transfer {transfer_to_carol}: refused by carol: the account is not open"),
                50
            ),
        ]
    );
    assert_eq!(
        statement["lines"][3]["causation_id"], "d2",
        "the reversal names the deposit"
    );
    assert_eq!(statement["balance"], 500);

    // The personal data is in the topics only sealed.
    let name = NAME.as_bytes();
    let events = broker.read_raw("bank-accounts");
    assert!(events
        .iter()
        .all(|(_, v)| !contains(v.as_deref().unwrap_or_default(), name)));
    let opened: Value = events
        .iter()
        .find(|(k, _)| k == b"alice")
        .map(|(_, v)| serde_json::from_slice(v.as_deref().unwrap()).unwrap())
        .unwrap();
    let sealed: Sealed =
        serde_json::from_value(opened["events"][0]["data"]["holder"].clone()).unwrap();
    let keys = broker.read_raw("bank-keys");
    let (_, key) = keys.iter().find(|(k, _)| k == b"alice").unwrap();
    let key = key.clone().unwrap();
    assert_eq!(key.len(), 32);
    assert!(
        !found_in_files(&broker.data_dir(), &key).is_empty(),
        "the key is on disk before it is shredded"
    );

    // Shredding: the key's tombstone, then another subject's key rolls the segment, and
    // compaction removes the key from the disk.
    let response = reqwest::Client::new()
        .delete(format!("{}/accounts/alice/personal-data", bank.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let balance = bank.get("/accounts/alice/balance").await.1;
    assert_eq!(
        (balance["holder"].clone(), balance["cents"].clone()),
        (json!("forgotten"), json!(500))
    );
    let (status, _) = bank
        .post(
            "/accounts",
            json!({"id": "alice", "name": NAME, "address": ADDRESS}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "nothing is sealed again for a forgotten subject"
    );
    tokio::time::sleep(Duration::from_millis(150)).await; // past segment.ms: the next append rolls
    let (status, _) = bank
        .post(
            "/accounts",
            json!({"id": "dave", "name": "Dave", "address": ADDRESS}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let deadline = Instant::now() + WAIT;
    while !found_in_files(&broker.data_dir(), &key).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the key is still on disk: {:?}",
            found_in_files(&broker.data_dir(), &key)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        found_in_files(&broker.data_dir(), name).is_empty(),
        "no plaintext on disk"
    );
    assert!(broker
        .read_raw("bank-keys")
        .iter()
        .all(|(_, v)| v.as_deref() != Some(&key[..])));
    let vault = KeyVault::start(&bootstrap, "bank-keys", system_randomness(), WAIT)
        .await
        .unwrap();
    assert_eq!(
        vault.reveal(&sealed),
        Revealed::Forgotten,
        "old segments no longer yield it"
    );

    // The events still replay: a process with an empty event index rebuilds alice from the
    // topic and carries out her commands; the read models show the holder as forgotten.
    drop(bank);
    let bank = Bank::start(&bootstrap, &state.path().join("second"));
    let (status, body) = bank
        .post("/accounts/alice/withdrawals", json!({"cents": 500}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let balance = bank
        .get_until("/accounts/alice/balance", |b| b["cents"] == 0)
        .await;
    assert_eq!(balance["holder"], "forgotten");
}
