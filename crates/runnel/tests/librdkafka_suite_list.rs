//! `tests/librdkafka/tests.tsv` names every broker test of librdkafka's own suite, in the
//! version Cargo.lock pins, exactly once: `scripts/librdkafka-suite.sh` runs what it marks `ci`
//! (CI) or `full` (the full run), so a test added by a librdkafka upgrade cannot go unrun
//! unnoticed, and a test the list names must exist.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The statuses a listed test may have.
const STATUSES: [&str; 3] = ["ci", "full", "skip"];

#[test]
fn the_list_names_every_broker_test_of_the_pinned_librdkafka_exactly_once() {
    let listed = listed_tests();
    let test_c = test_runner_source();
    let suite = broker_tests(&test_c);

    let names: BTreeSet<&str> = listed.keys().map(String::as_str).collect();
    let missing: Vec<&&str> = suite.difference(&names).collect();
    let unknown: Vec<&&str> = names.difference(&suite).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "tests/librdkafka/tests.tsv must list exactly the suite's broker tests; \
         not listed: {missing:?}; not in the suite: {unknown:?}"
    );
}

#[test]
fn every_test_ci_does_not_run_says_why() {
    for (name, (status, reason)) in listed_tests() {
        assert!(
            status == "ci" || !reason.is_empty(),
            "{name} is `{status}` without a reason"
        );
    }
}

/// name -> (status, reason), checked for shape as it is read.
fn listed_tests() -> BTreeMap<String, (String, String)> {
    let path = workspace_root().join("tests/librdkafka/tests.tsv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut tests = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        assert!(
            (2..=3).contains(&fields.len()),
            "line {}: name, status and reason separated by tabs: {line:?}",
            number + 1
        );
        let (name, status) = (fields[0], fields[1]);
        let reason = fields.get(2).copied().unwrap_or_default().trim();
        assert!(
            STATUSES.contains(&status),
            "line {}: status {status:?} is not one of {STATUSES:?}",
            number + 1
        );
        let previous = tests.insert(name.to_owned(), (status.to_owned(), reason.to_owned()));
        assert!(previous.is_none(), "{name} is listed twice");
    }
    assert!(!tests.is_empty(), "{} lists no test", path.display());
    tests
}

/// The names of the tests the runner's table declares without `TEST_F_LOCAL` (tests of the
/// client alone) or `TEST_F_MANUAL` (run only when named).
fn broker_tests(test_c: &str) -> BTreeSet<&str> {
    let start = test_c
        .find("struct test tests[] = {")
        .expect("the runner's test table");
    let table = &test_c[start..];
    let table = &table[..table.find("\n};").expect("the end of the test table")];
    let mut names = BTreeSet::new();
    let mut rest = table;
    while let Some(at) = rest.find("_TEST(") {
        let entry = &rest[at + "_TEST(".len()..];
        let end = closing_parenthesis(entry);
        let (name, arguments) = entry[..end].split_once(',').expect("_TEST(NAME, FLAGS...)");
        let flags = arguments.split(',').next().unwrap_or_default();
        if !flags.contains("TEST_F_LOCAL") && !flags.contains("TEST_F_MANUAL") {
            names.insert(name.trim());
        }
        rest = &entry[end..];
    }
    assert!(names.len() > 50, "the test table was read: {names:?}");
    names
}

/// Where the parenthesis opened just before `text` closes.
fn closing_parenthesis(text: &str) -> usize {
    let mut depth = 1;
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return at;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses in {text:?}");
}

/// `tests/test.c` of the librdkafka sources inside the `rdkafka-sys` package of Cargo.lock.
fn test_runner_source() -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--locked", "--format-version", "1"])
        .current_dir(workspace_root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let manifests: Vec<&str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|package| package["name"] == "rdkafka-sys")
        .map(|package| package["manifest_path"].as_str().unwrap())
        .collect();
    assert_eq!(manifests.len(), 1, "one rdkafka-sys in Cargo.lock");
    let package = Path::new(manifests[0]).parent().unwrap();
    std::fs::read_to_string(package.join("librdkafka/tests/test.c")).unwrap()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
