//! The saved_searches example (standing queries) as a process against a broker in the test
//! process: queries from a compacted topic, a deleted query no longer matching, and the
//! queries restored from the store after a restart.
//!
//! The job reads the queries topic and the events topic side by side, in no set order. So
//! that the events of a step meet the queries produced before them, each step first sends a
//! new probe query, then probe events until one matches it: by then every query before the
//! probe has been read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{
    client, create_topic, create_topic_with, eventually, produce, produce_optional, read_until,
    Job, Read, TestBroker,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

const WAIT: Duration = Duration::from_secs(90);

fn start(bootstrap: &str, state: &std::path::Path) -> Job {
    Job::start(
        "saved_searches",
        [
            "--bootstrap-servers",
            bootstrap,
            "--state-dir",
            state.to_str().unwrap(),
            // A restarted process takes its partitions back at once.
            "--property",
            "group.instance.id=searches-1",
        ],
    )
}

fn query(id: &str, json: &str) -> (String, Option<String>, i64) {
    (id.to_owned(), Some(json.to_owned()), 1_000)
}

fn listing(id: &str, json: &str) -> (String, String, i64) {
    (id.to_owned(), json.to_owned(), 1_000)
}

/// Sends the query `probe` and then probe events until one is matched by it.
fn probe(bootstrap: &str, probe: &str) {
    let term = format!(r#"{{"term":{{"field":"title","term":"{probe}"}}}}"#);
    produce_optional(bootstrap, "saved-searches", &[query(probe, &term)]);
    let mut sent = 0;
    eventually(&format!("a match of {probe}"), WAIT, || {
        sent += 1;
        let event = format!(r#"{{"title":"{probe}"}}"#);
        produce(
            bootstrap,
            "listings",
            &[listing(&format!("{probe}-{sent}"), &event)],
        );
        std::thread::sleep(Duration::from_millis(200));
        hits_now(bootstrap).iter().any(|hit| hit.key == probe)
    });
}

/// What `search-hits` holds now: every record up to its high watermark (the job writes
/// without transactions, so offsets and records match one to one).
fn hits_now(bootstrap: &str) -> Vec<Read> {
    let consumer: BaseConsumer = client(bootstrap)
        .set("group.id", "test-hits")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let (_, high) = consumer
        .fetch_watermarks("search-hits", 0, Duration::from_secs(10))
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset("search-hits", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let mut read = Vec::new();
    while (read.len() as i64) < high {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.unwrap();
            let text =
                |b: Option<&[u8]>| String::from_utf8(b.unwrap_or_default().to_vec()).unwrap();
            read.push(Read {
                key: text(message.key()),
                value: text(message.payload()),
                partition: message.partition(),
            });
        }
    }
    read
}

/// The hits of real queries (not probes), once there are at least `at_least`, and whatever
/// more is there by then.
fn hits(bootstrap: &str, at_least: usize) -> Vec<Read> {
    read_until(bootstrap, "search-hits", WAIT, |read| {
        real_hits(read).len() >= at_least
    });
    hits_now(bootstrap)
}

fn real_hits(read: &[Read]) -> Vec<(String, String)> {
    read.iter()
        .filter(|r| !r.key.starts_with("probe"))
        .map(|r| (r.key.clone(), r.value.clone()))
        .collect()
}

fn hit(query: &str, key: &str, event: &str) -> (String, String) {
    (
        query.to_owned(),
        format!(r#"{{"query":"{query}","key":"{key}","event":{event}}}"#),
    )
}

#[test]
fn saved_searches_match_the_current_queries_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker"));
    let bootstrap = &broker.bootstrap;
    create_topic_with(
        bootstrap,
        "saved-searches",
        1,
        &[("cleanup.policy", "compact")],
    );
    create_topic(bootstrap, "listings", 1);
    create_topic(bootstrap, "search-hits", 1);
    let state = dir.path().join("state");
    let mut job = start(bootstrap, &state);

    produce_optional(
        bootstrap,
        "saved-searches",
        &[
            query(
                "ann",
                r#"{"all":[{"term":{"field":"title","term":"bike"}},{"range":{"field":"price","lt":200}}]}"#,
            ),
            query("bob", r#"{"equals":{"field":"city","value":"Lyon"}}"#),
        ],
    );
    probe(bootstrap, "probea");
    let l1 = r#"{"city":"Lyon","price":150,"title":"Road bike, barely used"}"#;
    let l2 = r#"{"city":"Paris","price":900,"title":"Racing bike"}"#;
    produce(
        bootstrap,
        "listings",
        &[listing("l1", l1), listing("l2", l2)],
    );
    let mut expected = vec![hit("ann", "l1", l1), hit("bob", "l1", l1)];
    assert_eq!(real_hits(&hits(bootstrap, expected.len())), expected);

    // Bob deletes his search; the job restarts and finds Ann's in its store.
    produce_optional(
        bootstrap,
        "saved-searches",
        &[("bob".to_owned(), None, 1_000)],
    );
    probe(bootstrap, "probeb");
    job.kill();
    let job = start(bootstrap, &state);
    probe(bootstrap, "probec");
    let l3 = r#"{"city":"Lyon","price":120,"title":"Mountain bike"}"#;
    produce(bootstrap, "listings", &[listing("l3", l3)]);
    expected.push(hit("ann", "l3", l3));
    assert_eq!(real_hits(&hits(bootstrap, expected.len())), expected);
    drop(job);
}
