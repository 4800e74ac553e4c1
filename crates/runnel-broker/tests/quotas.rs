//! Client quotas over the wire: AlterClientQuotas and DescribeClientQuotas with Kafka's
//! errors, quotas kept across a restart, and byte rates enforced on real librdkafka clients.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{assigned_consumer, producer, start, Raw};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, ApiKey, DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureRecord;
use rdkafka::{Message, Offset};
use runnel_broker::metrics::{self, Detail};
use runnel_broker::Broker;

const INVALID_REQUEST: i16 = 42;

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

fn component(kind: &str, name: Option<&str>) -> EntityData {
    EntityData::default()
        .with_entity_type(s(kind))
        .with_entity_name(name.map(s))
}

fn set(key: &str, value: f64) -> OpData {
    OpData::default().with_key(s(key)).with_value(value)
}

fn entry(entity: Vec<EntityData>, ops: Vec<OpData>) -> EntryData {
    EntryData::default().with_entity(entity).with_ops(ops)
}

async fn alter(raw: &mut Raw, entries: Vec<EntryData>, validate_only: bool) -> Vec<(i16, String)> {
    let request = AlterClientQuotasRequest::default()
        .with_entries(entries)
        .with_validate_only(validate_only);
    let response: AlterClientQuotasResponse =
        raw.call(ApiKey::AlterClientQuotas, 1, &request).await;
    response
        .entries
        .into_iter()
        .map(|e| {
            (
                e.error_code,
                e.error_message.map(|m| m.to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

/// Each described entity as `user/client-id` (`-` absent, `*` default) with its quotas.
async fn describe(
    raw: &mut Raw,
    components: Vec<(&str, i8, Option<&str>)>,
    strict: bool,
) -> Result<Vec<String>, (i16, String)> {
    let request = DescribeClientQuotasRequest::default()
        .with_components(
            components
                .into_iter()
                .map(|(kind, match_type, name)| {
                    ComponentData::default()
                        .with_entity_type(s(kind))
                        .with_match_type(match_type)
                        .with_match(name.map(s))
                })
                .collect(),
        )
        .with_strict(strict);
    let response: DescribeClientQuotasResponse =
        raw.call(ApiKey::DescribeClientQuotas, 1, &request).await;
    if response.error_code != 0 {
        return Err((
            response.error_code,
            response.error_message.unwrap().to_string(),
        ));
    }
    let mut out: Vec<String> = response
        .entries
        .unwrap()
        .into_iter()
        .map(|entry| {
            let name = |kind: &str| {
                entry
                    .entity
                    .iter()
                    .find(|c| c.entity_type.as_str() == kind)
                    .map_or("-".to_owned(), |c| {
                        c.entity_name
                            .as_ref()
                            .map_or("*".to_owned(), |n| n.to_string())
                    })
            };
            let values: Vec<String> = entry
                .values
                .iter()
                .map(|v| format!("{}={}", v.key.as_str(), v.value))
                .collect();
            format!(
                "{}/{} {}",
                name("user"),
                name("client-id"),
                values.join(",")
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

#[tokio::test]
async fn alter_refuses_bad_entries_one_by_one_and_validate_only_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let mut raw = Raw::connect(&broker).await;
    let app = || vec![component("client-id", Some("app"))];
    let outcome = alter(
        &mut raw,
        vec![
            entry(app(), vec![set("producer_byte_rate", 1024.0)]),
            entry(app(), vec![set("bytes_per_fortnight", 1.0)]),
            entry(app(), vec![set("consumer_byte_rate", -5.0)]),
            entry(app(), vec![set("consumer_byte_rate", 10.5)]),
            entry(
                vec![component("ip", Some("10.0.0.1"))],
                vec![set("producer_byte_rate", 1.0)],
            ),
            entry(vec![], vec![set("producer_byte_rate", 1.0)]),
            entry(
                vec![component("user", None), component("user", Some("a"))],
                vec![set("producer_byte_rate", 1.0)],
            ),
            entry(
                app(),
                vec![
                    set("request_percentage", 5.0),
                    set("request_percentage", 6.0),
                ],
            ),
        ],
        false,
    )
    .await;
    let codes: Vec<i16> = outcome.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes, [0, 42, 42, 42, 42, 42, 42, 42], "{outcome:?}");
    for (expected, (_, message)) in [
        "unknown quota key \"bytes_per_fortnight\"",
        "consumer_byte_rate must be a positive number",
        "consumer_byte_rate must be a whole number",
        "unsupported entity type \"ip\"",
        "an entity needs a user or a client-id",
        "entity type user given twice",
        "quota key request_percentage given twice",
    ]
    .iter()
    .zip(&outcome[1..])
    {
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
    assert_eq!(
        ResponseError::try_from_code(INVALID_REQUEST),
        Some(ResponseError::InvalidRequest)
    );

    // Validate only: accepted, not stored.
    let validated = alter(
        &mut raw,
        vec![entry(
            vec![component("user", None)],
            vec![set("consumer_byte_rate", 2048.0)],
        )],
        true,
    )
    .await;
    assert_eq!(validated, [(0, String::new())]);
    assert_eq!(
        describe(&mut raw, vec![], false).await.unwrap(),
        ["-/app producer_byte_rate=1024"]
    );

    // Removing the last quota of an entity removes the entity.
    let removed = alter(
        &mut raw,
        vec![entry(
            app(),
            vec![OpData::default()
                .with_key(s("producer_byte_rate"))
                .with_remove(true)],
        )],
        false,
    )
    .await;
    assert_eq!(removed, [(0, String::new())]);
    assert!(describe(&mut raw, vec![], false).await.unwrap().is_empty());
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn describe_matches_exact_default_and_any_names_strictly_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let mut raw = Raw::connect(&broker).await;
    let rate = || vec![set("producer_byte_rate", 100.0)];
    let outcome = alter(
        &mut raw,
        vec![
            entry(vec![component("user", Some("alice"))], rate()),
            entry(vec![component("user", None)], rate()),
            entry(
                vec![
                    component("user", Some("alice")),
                    component("client-id", Some("app")),
                ],
                rate(),
            ),
            entry(vec![component("client-id", None)], rate()),
        ],
        false,
    )
    .await;
    assert!(outcome.iter().all(|(code, _)| *code == 0), "{outcome:?}");

    let all = describe(&mut raw, vec![], false).await.unwrap();
    assert_eq!(all.len(), 4, "{all:?}");
    let exact_user = describe(&mut raw, vec![("user", 0, Some("alice"))], false)
        .await
        .unwrap();
    assert_eq!(
        exact_user,
        [
            "alice/- producer_byte_rate=100",
            "alice/app producer_byte_rate=100"
        ]
    );
    let strict = describe(&mut raw, vec![("user", 0, Some("alice"))], true)
        .await
        .unwrap();
    assert_eq!(strict, ["alice/- producer_byte_rate=100"]);
    let default_user = describe(&mut raw, vec![("user", 1, None)], true)
        .await
        .unwrap();
    assert_eq!(default_user, ["*/- producer_byte_rate=100"]);
    let any_client = describe(&mut raw, vec![("client-id", 2, None)], false)
        .await
        .unwrap();
    assert_eq!(any_client, ["alice/app producer_byte_rate=100"]);

    for (components, expected) in [
        (vec![("user", 3, None)], "unknown match type 3"),
        (vec![("user", 0, None)], "an exact match needs a name"),
        (vec![("user", 1, Some("x"))], "only an exact match"),
        (
            vec![("group", 2, None)],
            "unsupported entity type \"group\"",
        ),
        (
            vec![("user", 2, None), ("user", 1, None)],
            "entity type user filtered twice",
        ),
    ] {
        let (code, message) = describe(&mut raw, components, false).await.unwrap_err();
        assert_eq!(code, INVALID_REQUEST);
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn quotas_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let mut raw = Raw::connect(&broker).await;
    let outcome = alter(
        &mut raw,
        vec![entry(
            vec![component("user", None), component("client-id", Some("app"))],
            vec![
                set("producer_byte_rate", 4096.0),
                set("request_percentage", 12.5),
            ],
        )],
        false,
    )
    .await;
    assert_eq!(outcome, [(0, String::new())]);
    drop(raw);
    broker.shutdown().await.unwrap();

    let broker = start(dir.path(), |_| {}).await;
    let mut raw = Raw::connect(&broker).await;
    assert_eq!(
        describe(&mut raw, vec![], false).await.unwrap(),
        ["*/app producer_byte_rate=4096,request_percentage=12.5"]
    );
    broker.shutdown().await.unwrap();
}

/// Sets `key` for the client id `client`.
async fn set_client_quota(broker: &Broker, client: &str, key: &str, value: f64) {
    let mut raw = Raw::connect(broker).await;
    let outcome = alter(
        &mut raw,
        vec![entry(
            vec![component("client-id", Some(client))],
            vec![set(key, value)],
        )],
        false,
    )
    .await;
    assert_eq!(outcome, [(0, String::new())]);
}

/// A series' value in the broker's metrics exposition.
fn metric(broker: &Broker, series: &str) -> f64 {
    let lag = runnel_lag::LagReport {
        evaluated_at_ms: 0,
        window_ms: 1,
        untracked_observations: 0,
        groups: Vec::new(),
    };
    let text = metrics::render(broker.state(), Detail::Topics, &lag).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Record batch bytes in the log of `topic`'s partition 0.
fn log_bytes(broker: &Broker, topic: &str) -> f64 {
    let topic = broker.state().topics.get(topic).unwrap();
    topic.partition(0).unwrap().log.size_bytes() as f64
}

const QUOTA: f64 = 1024.0 * 1024.0;
/// The measure: the rate over a 10 s window, after the first seconds.
const WARM_UP: Duration = Duration::from_secs(2);
const WINDOW: Duration = Duration::from_secs(10);

/// Waits until `WARM_UP` after `started`, reads `measure`, waits `WINDOW` more, and returns
/// the rate per second in between.
async fn rate_over_window(started: Instant, mut measure: impl FnMut() -> f64) -> f64 {
    tokio::time::sleep_until((started + WARM_UP).into()).await;
    let before = measure();
    tokio::time::sleep(WINDOW).await;
    (measure() - before) / WINDOW.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_over_its_quota_is_held_to_it_while_another_is_not_slowed() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    set_client_quota(&broker, "greedy", "producer_byte_rate", QUOTA).await;

    let greedy = producer(
        &broker,
        &[
            ("client.id", "greedy"),
            ("batch.size", "16384"),
            ("linger.ms", "1"),
        ],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let payload = Arc::new(vec![b'g'; 1000]);
    let mut senders = Vec::new();
    for _ in 0..64 {
        let (greedy, stop, payload) = (greedy.clone(), Arc::clone(&stop), Arc::clone(&payload));
        senders.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let record = FutureRecord::<(), _>::to("greedy").payload(payload.as_slice());
                greedy
                    .send(record, Duration::from_secs(60))
                    .await
                    .expect("delivered");
            }
        }));
    }
    let started = Instant::now();

    // Meanwhile another client without a quota produces one record at a time.
    let polite = producer(&broker, &[("client.id", "polite"), ("linger.ms", "0")]);
    let polite_stop = Arc::clone(&stop);
    let latencies = tokio::spawn(async move {
        let mut latencies = Vec::new();
        while !polite_stop.load(Ordering::Relaxed) {
            let sent = Instant::now();
            let record = FutureRecord::<(), _>::to("polite").payload("p");
            polite
                .send(record, Duration::from_secs(10))
                .await
                .expect("delivered");
            latencies.push(sent.elapsed());
        }
        latencies
    });

    let rate = rate_over_window(started, || log_bytes(&broker, "greedy")).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = latencies.await.unwrap();
    for sender in senders {
        sender.await.unwrap();
    }
    assert!(
        (rate - QUOTA).abs() <= QUOTA * 0.1,
        "greedy produced {rate:.0} bytes/s against a quota of {QUOTA}"
    );
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let worst = latencies[latencies.len() - 1];
    assert!(
        latencies.len() > 100
            && median < Duration::from_millis(50)
            && worst < Duration::from_secs(1),
        "polite producer: {} records, median {median:?}, worst {worst:?}",
        latencies.len()
    );
    let throttled = metric(
        &broker,
        "runnel_request_throttle_time_seconds_count{api=\"Produce\"}",
    );
    assert!(throttled > 0.0, "no throttled produce request counted");
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_over_its_quota_is_held_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    set_client_quota(&broker, "reader", "consumer_byte_rate", QUOTA).await;

    // More than the consumer may read in the test: its quota for 12 s and some.
    let filler = producer(&broker, &[("client.id", "filler")]);
    let payload = vec![b'c'; 10_000];
    let total = (QUOTA * 16.0 / payload.len() as f64) as usize;
    let mut deliveries = Vec::with_capacity(total);
    for _ in 0..total {
        let record = FutureRecord::<(), _>::to("held").payload(payload.as_slice());
        deliveries.push(filler.send(record, Duration::from_secs(60)));
    }
    for delivery in deliveries {
        delivery.await.expect("delivered");
    }

    let consumer = assigned_consumer(
        &broker,
        "held",
        &[0],
        Offset::Beginning,
        &[
            ("client.id", "reader"),
            ("fetch.max.bytes", "65536"),
            ("message.max.bytes", "65536"),
            ("max.partition.fetch.bytes", "65536"),
            ("queued.max.messages.kbytes", "256"),
        ],
    );
    let started = Instant::now();
    // The consumer reads flat out; the broker's count of fetched bytes is the measure.
    let reading = tokio::spawn(async move {
        loop {
            consumer.recv().await.expect("consume without error");
        }
    });
    let series = "runnel_topic_fetched_bytes_total{topic=\"held\"}";
    let rate = rate_over_window(started, || metric(&broker, series)).await;
    assert!(
        (rate - QUOTA).abs() <= QUOTA * 0.1,
        "reader fetched {rate:.0} bytes/s against a quota of {QUOTA}"
    );
    reading.abort();
    broker.shutdown().await.unwrap();
}

/// A consumer whose JoinGroup waits out the group's initial rebalance delay is not held back
/// for that wait: it is the group's time, not work done for the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_rebalance_is_not_charged_to_request_percentage() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |config| {
        config.group_initial_rebalance_delay_ms = 1500;
    })
    .await;
    // 1 % of a thread is 10 ms a second: a 1.5 s JoinGroup alone would be 14 % over 11 s.
    set_client_quota(&broker, "patient", "request_percentage", 1.0).await;
    let filler = producer(&broker, &[]);
    filler
        .send(
            FutureRecord::<(), _>::to("waits").payload("one"),
            Duration::from_secs(10),
        )
        .await
        .expect("delivered");

    let member = common::members::group_member_at(
        &common::bootstrap(&broker),
        "patient-group",
        &[("client.id", "patient")],
    );
    member.subscribe(&["waits"]).unwrap();
    let joined = Instant::now();
    let message = tokio::time::timeout(Duration::from_secs(30), member.recv())
        .await
        .expect("a record within 30 s")
        .expect("consume without error");
    assert_eq!(message.payload(), Some(&b"one"[..]));
    assert!(
        joined.elapsed() >= Duration::from_millis(1500),
        "the join waited for the initial rebalance delay"
    );
    for api in ["JoinGroup", "SyncGroup"] {
        let waited = metric(
            &broker,
            &format!("runnel_request_duration_seconds_sum{{api=\"{api}\"}}"),
        );
        let throttled = metric(
            &broker,
            &format!("runnel_request_throttle_time_seconds_count{{api=\"{api}\"}}"),
        );
        assert_eq!(throttled, 0.0, "{api} throttled after waiting {waited} s");
    }
    assert!(
        metric(
            &broker,
            "runnel_request_duration_seconds_sum{api=\"JoinGroup\"}"
        ) >= 1.4,
        "JoinGroup's time includes the rebalance delay"
    );
    broker.shutdown().await.unwrap();
}
