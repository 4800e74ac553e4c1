//! The login-fraud example (a pattern per user) as a process against a broker in the test
//! process, under exactly-once, killed with SIGKILL while a user's partial match and a
//! login waiting for the watermark are only in its store: the restarted job finds them in
//! the changelog and each alert is written once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{create_topic, hour_start, produce, read_until, Job, TestBroker};

const WAIT: Duration = Duration::from_secs(90);
const SECOND: i64 = 1_000;

fn login(user: &str, success: bool, country: &str, at: i64) -> (String, String, i64) {
    (
        user.to_owned(),
        format!(r#"{{"success":{success},"country":"{country}"}}"#),
        at,
    )
}

fn start(bootstrap: &str, state: &std::path::Path) -> Job {
    Job::start(
        "login_fraud",
        [
            "--bootstrap-servers",
            bootstrap,
            "--state-dir",
            state.to_str().unwrap(),
            "--out-of-orderness-ms",
            "0",
            "--exactly-once",
            "--instance-id",
            "fraud-1",
            "--property",
            "group.instance.id=fraud-1",
        ],
    )
}

fn read_exactly(bootstrap: &str, topic: &str, expected: &[(String, String)]) {
    let read = read_until(bootstrap, topic, WAIT, |read| read.len() >= expected.len());
    let read: Vec<(String, String)> = read.into_iter().map(|r| (r.key, r.value)).collect();
    assert_eq!(read, expected, "the records of {topic}");
}

#[test]
fn login_fraud_alerts_once_across_a_kill_and_reports_unresolved_failures() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    let bootstrap = &broker.bootstrap;
    for topic in ["logins", "login-alerts", "login-timeouts"] {
        create_topic(bootstrap, topic, 1);
    }
    let state = dir.path().join("state");
    let mut job = start(bootstrap, &state);

    let b = hour_start();
    let s = |n: i64| b + n * SECOND;
    produce(
        bootstrap,
        "logins",
        &[
            login("ann", false, "FR", s(0)),
            login("ann", false, "FR", s(30)),
            login("ann", false, "DE", s(60)),
            login("dave", false, "SE", s(70)),
            login("dave", false, "SE", s(80)),
            login("dave", false, "SE", s(90)),
            login("dave", true, "JP", s(120)),
            // Moves the watermark past dave's success.
            login("erin", true, "IE", s(130)),
        ],
    );
    let dave = (
        "dave".to_owned(),
        format!(
            r#"{{"user":"dave","failed_from":["SE","SE","SE"],"succeeded_from":"JP","first":{},"last":{}}}"#,
            s(70),
            s(120)
        ),
    );
    read_exactly(bootstrap, "login-alerts", std::slice::from_ref(&dave));

    // Committed with dave's alert: ann's three failures (a partial match) and erin's login,
    // which waits for the watermark. The process dies without a word.
    job.kill();
    let job = start(bootstrap, &state);
    produce(
        bootstrap,
        "logins",
        &[
            login("ann", true, "BR", s(180)),
            login("bob", false, "US", s(190)),
            login("bob", false, "US", s(200)),
            login("bob", false, "US", s(210)),
            // From a country one of the failures came from: no alert.
            login("bob", true, "US", s(240)),
            login("carol", false, "NZ", s(250)),
            login("carol", false, "NZ", s(260)),
            login("carol", false, "NZ", s(270)),
            // 10 minutes and 10 seconds after carol's first failure: too late.
            login("carol", true, "AU", s(860)),
            // Moves the watermark past every deadline.
            login("erin", true, "IE", s(1_800)),
        ],
    );
    let ann = (
        "ann".to_owned(),
        format!(
            r#"{{"user":"ann","failed_from":["FR","FR","DE"],"succeeded_from":"BR","first":{},"last":{}}}"#,
            s(0),
            s(180)
        ),
    );
    read_exactly(bootstrap, "login-alerts", &[dave, ann]);
    let unresolved = |user: &str, country: &str, first: i64| {
        (
            user.to_owned(),
            format!(
                r#"{{"user":"{user}","failed_from":["{country}","{country}","{country}"],"first":{first}}}"#
            ),
        )
    };
    read_exactly(
        bootstrap,
        "login-timeouts",
        &[
            unresolved("bob", "US", s(190)),
            unresolved("carol", "NZ", s(250)),
        ],
    );
    drop(job);
}
