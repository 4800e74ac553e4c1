//! Each operation's change event, field by field, against what Debezium's PostgreSQL connector
//! writes for the same change: a real PostgreSQL, streaming through a real replication slot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{json, poll_until, TestPostgres};
use runnel_cdc::PostgresSource;
use serde_json::{json, Value};

const NOW_MS: i64 = 1_700_000_000_000;

async fn streaming_source(pg: &TestPostgres, extra: &[(&str, &str)]) -> PostgresSource {
    let mut settings = vec![("snapshot.mode", "never")];
    settings.extend_from_slice(extra);
    let mut source = PostgresSource::with_clock(pg.config(&settings), Arc::new(|| NOW_MS));
    source.start(&[]).await.unwrap();
    source
}

#[tokio::test]
async fn each_operation_gives_debeziums_envelope() {
    let pg = TestPostgres::start();
    let db = pg.client().await;
    db.batch_execute(
        "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, balance numeric(10,2),
             active boolean, born date, seen timestamp, at timestamptz, data jsonb, photo bytea,
             uid uuid, big bigint, score double precision)",
    )
    .await
    .unwrap();
    let mut source = streaming_source(&pg, &[("value.converter.schemas.enable", "false")]).await;

    db.batch_execute(
        "INSERT INTO customers VALUES (1, 'Ada', 12.50, true, '1990-01-02', '2024-03-01 12:00:00.5',
             '2024-03-01 12:00:00+00', '{\"tier\": 2}', '\\x0102', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
             9000000000, 0.25);
         UPDATE customers SET name = 'Ada L' WHERE id = 1;
         UPDATE customers SET id = 2 WHERE id = 1;
         DELETE FROM customers WHERE id = 2;
         TRUNCATE customers;",
    )
    .await
    .unwrap();
    let mut records = Vec::new();
    poll_until(&mut source, &mut records, "the truncate arrives", |r| {
        r.len() >= 8
    })
    .await;
    let ops: Vec<(String, Value, Option<String>)> = records
        .iter()
        .take(7)
        .map(|r| {
            let op = json(&r.value)["op"].as_str().map(str::to_owned);
            (r.topic.clone(), json(&r.key), op)
        })
        .collect();
    let topic = "pg1.public.customers".to_owned();
    let key = |id: i32| {
        json!({"schema": {"type": "struct", "optional": false, "name": "pg1.public.customers.Key",
                          "fields": [{"type": "int32", "optional": false, "field": "id"}]},
               "payload": {"id": id}})
    };
    assert_eq!(
        ops,
        vec![
            (topic.clone(), key(1), Some("c".into())),
            (topic.clone(), key(1), Some("u".into())),
            (topic.clone(), key(1), Some("d".into())),
            (topic.clone(), key(1), None),
            (topic.clone(), key(2), Some("c".into())),
            (topic.clone(), key(2), Some("d".into())),
            (topic.clone(), key(2), None),
        ],
        "insert, update, key change as delete + tombstone + create, delete + tombstone"
    );

    let insert = json(&records[0].value);
    assert_eq!(insert["before"], Value::Null);
    assert_eq!(
        insert["after"],
        json!({"id": 1, "name": "Ada", "balance": "12.50", "active": true, "born": 7306,
               "seen": 1_709_294_400_500_000i64, "at": "2024-03-01T12:00:00Z",
               "data": "{\"tier\": 2}", "photo": "AQI=",
               "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "big": 9_000_000_000i64,
               "score": 0.25})
    );
    assert_eq!(insert["ts_ms"], json!(NOW_MS));
    assert_eq!(insert["transaction"], Value::Null);
    let source = &insert["source"];
    assert_eq!(source["connector"], "postgresql");
    assert_eq!(source["name"], "pg1");
    assert_eq!(source["db"], "postgres");
    assert_eq!(source["schema"], "public");
    assert_eq!(source["table"], "customers");
    assert_eq!(source["snapshot"], "false");
    assert!(source["txId"].as_u64().is_some());
    let lsn = source["lsn"].as_u64().unwrap();
    assert_eq!(records[0].source_offset["lsn"], json!(lsn));
    let sequence: Vec<Option<String>> =
        serde_json::from_str(source["sequence"].as_str().unwrap()).unwrap();
    assert_eq!(sequence[1], Some(lsn.to_string()));
    let commit_ms = source["ts_ms"].as_i64().unwrap();
    let wall_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        (wall_ms - commit_ms).abs() < 60_000,
        "ts_ms is the commit time"
    );
    assert_eq!(records[0].timestamp_ms, Some(commit_ms));

    let update = json(&records[1].value);
    assert_eq!(
        update["before"],
        Value::Null,
        "no before without REPLICA IDENTITY FULL"
    );
    assert_eq!(update["after"]["name"], "Ada L");

    let key_change_delete = json(&records[2].value);
    assert_eq!(key_change_delete["before"]["id"], 1);
    assert_eq!(key_change_delete["before"]["name"], Value::Null);
    assert_eq!(key_change_delete["after"], Value::Null);
    assert_eq!(records[3].value, None, "the tombstone");
    assert_eq!(json(&records[4].value)["after"]["id"], 2);
    assert_eq!(json(&records[4].value)["before"], Value::Null);

    let delete = json(&records[5].value);
    assert_eq!(delete["before"]["id"], 2);
    assert_eq!(delete["after"], Value::Null);

    let truncate = &records[7];
    assert_eq!(truncate.key, None);
    let value = json(&truncate.value);
    assert_eq!(value["op"], "t");
    assert_eq!(
        (value["before"].clone(), value["after"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(value["source"]["table"], "customers");
}

#[tokio::test]
async fn full_replica_identity_gives_before_and_unchanged_toast_gives_the_placeholder() {
    let pg = TestPostgres::start();
    let db = pg.client().await;
    db.batch_execute(
        "CREATE TABLE docs (id int PRIMARY KEY, title text, body text);
         ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
         CREATE TABLE notes (id int PRIMARY KEY, body text);
         ALTER TABLE notes REPLICA IDENTITY FULL;",
    )
    .await
    .unwrap();
    let mut source = streaming_source(
        &pg,
        &[
            ("value.converter.schemas.enable", "false"),
            ("key.converter.schemas.enable", "false"),
            ("tombstones.on.delete", "false"),
        ],
    )
    .await;
    // Long enough to be stored out of line (TOAST); EXTERNAL storage keeps it uncompressed.
    let body = "x".repeat(20_000);
    db.execute("INSERT INTO docs VALUES (1, 'first', $1)", &[&body])
        .await
        .unwrap();
    db.batch_execute(
        "UPDATE docs SET title = 'second' WHERE id = 1;
         INSERT INTO notes VALUES (1, 'old');
         UPDATE notes SET body = 'new' WHERE id = 1;
         DELETE FROM notes WHERE id = 1;",
    )
    .await
    .unwrap();
    let mut records = Vec::new();
    poll_until(&mut source, &mut records, "five changes arrive", |r| {
        r.len() >= 5
    })
    .await;
    assert_eq!(
        records.len(),
        5,
        "no tombstones with tombstones.on.delete=false"
    );
    assert_eq!(json(&records[0].key), json!({"id": 1}));
    assert_eq!(json(&records[0].value)["after"]["body"], json!(body));
    let update = json(&records[1].value);
    assert_eq!(update["after"]["title"], "second");
    assert_eq!(update["after"]["body"], "__debezium_unavailable_value");

    let full_update = json(&records[3].value);
    assert_eq!(full_update["op"], "u");
    assert_eq!(full_update["before"], json!({"id": 1, "body": "old"}));
    assert_eq!(full_update["after"], json!({"id": 1, "body": "new"}));
    let full_delete = json(&records[4].value);
    assert_eq!(full_delete["before"], json!({"id": 1, "body": "new"}));
}

#[tokio::test]
async fn the_value_schema_describes_the_envelope_as_debezium_does() {
    let pg = TestPostgres::start();
    let db = pg.client().await;
    db.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY, at timestamp, amount numeric)")
        .await
        .unwrap();
    let mut source = streaming_source(&pg, &[("decimal.handling.mode", "double")]).await;
    db.batch_execute("INSERT INTO t VALUES (5, '1970-01-01 00:00:01', 2.5)")
        .await
        .unwrap();
    let mut records = Vec::new();
    poll_until(&mut source, &mut records, "the insert arrives", |r| {
        !r.is_empty()
    })
    .await;
    let value = json(&records[0].value);
    assert_eq!(
        value["payload"]["after"],
        json!({"id": 5, "at": 1_000_000, "amount": 2.5})
    );
    let schema = &value["schema"];
    assert_eq!(schema["name"], "pg1.public.t.Envelope");
    let fields: Vec<&str> = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["before", "after", "source", "op", "ts_ms", "transaction"]
    );
    let after = &schema["fields"][1];
    assert_eq!(after["name"], "pg1.public.t.Value");
    assert_eq!(
        after["fields"],
        json!([
            {"type": "int64", "optional": false, "field": "id"},
            {"type": "int64", "optional": true, "field": "at",
             "name": "io.debezium.time.MicroTimestamp", "version": 1},
            {"type": "double", "optional": true, "field": "amount"},
        ])
    );
    assert_eq!(
        schema["fields"][2]["name"],
        "io.debezium.connector.postgresql.Source"
    );
}

#[tokio::test]
async fn a_column_added_while_streaming_appears_without_a_restart() {
    let pg = TestPostgres::start();
    let db = pg.client().await;
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    let mut source = streaming_source(&pg, &[("value.converter.schemas.enable", "false")]).await;
    db.batch_execute(
        "INSERT INTO t VALUES (1);
         ALTER TABLE t ADD COLUMN note text;
         INSERT INTO t VALUES (2, 'added');",
    )
    .await
    .unwrap();
    let mut records = Vec::new();
    poll_until(&mut source, &mut records, "both inserts arrive", |r| {
        r.len() >= 2
    })
    .await;
    assert_eq!(json(&records[0].value)["after"], json!({"id": 1}));
    assert_eq!(
        json(&records[1].value)["after"],
        json!({"id": 2, "note": "added"})
    );
}

#[tokio::test]
async fn a_large_transaction_streams_in_bounded_batches() {
    let pg = TestPostgres::start();
    let db = pg.client().await;
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    let mut source = streaming_source(
        &pg,
        &[
            ("max.batch.size", "100"),
            ("max.queue.size", "16"),
            ("value.converter.schemas.enable", "false"),
        ],
    )
    .await;
    db.batch_execute("INSERT INTO t SELECT generate_series(1, 5000)")
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + common::PATIENCE;
    let mut ids = Vec::new();
    while ids.len() < 5000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the transaction never arrived whole"
        );
        let batch = source.poll().await.unwrap();
        assert!(batch.len() <= 100, "a batch of {}", batch.len());
        ids.extend(
            batch
                .iter()
                .map(|r| json(&r.value)["after"]["id"].as_i64().unwrap()),
        );
    }
    assert_eq!(ids, (1..=5000).collect::<Vec<i64>>());
}
