//! Heartbeats keep the slot moving while the captured tables are idle and the server's WAL
//! grows from other databases: WAL must not pile up behind an idle slot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{committed, json, TestPostgres, PATIENCE};
use pgwire_replication::Lsn;
use runnel_cdc::PostgresSource;
use serde_json::json;

async fn lsn(db: &tokio_postgres::Client, sql: &str) -> u64 {
    let text: String = db.query_one(sql, &[]).await.unwrap().get(0);
    Lsn::parse(&text).unwrap().as_u64()
}

#[tokio::test]
async fn heartbeats_move_the_slot_while_only_another_database_is_written() {
    let pg = TestPostgres::start();
    let db = pg.client().await;
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    db.batch_execute("CREATE DATABASE other").await.unwrap();
    let mut source = PostgresSource::new(pg.config(&[
        ("snapshot.mode", "never"),
        ("heartbeat.interval.ms", "10"),
        ("key.converter.schemas.enable", "false"),
        ("value.converter.schemas.enable", "false"),
    ]));
    source.start(&[]).await.unwrap();
    let slot_position = "SELECT confirmed_flush_lsn::text FROM pg_replication_slots";
    let start = lsn(&db, slot_position).await;

    let url = format!("postgres://postgres@127.0.0.1:{}/other", pg.port);
    let (other, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    other
        .batch_execute(
            "CREATE TABLE busy (id int); INSERT INTO busy SELECT generate_series(1, 10000);",
        )
        .await
        .unwrap();
    let written = lsn(&db, "SELECT pg_current_wal_lsn()::text").await;
    assert!(written > start);

    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(
            Instant::now() < deadline,
            "the slot never moved past {written}"
        );
        for record in source.poll().await.unwrap() {
            assert_eq!(record.topic, "__debezium-heartbeat.pg1");
            assert_eq!(json(&record.key), json!({"serverName": "pg1"}));
            assert!(json(&record.value)["ts_ms"].as_i64().is_some());
            source.commit(&committed(&record)).await.unwrap();
        }
        if lsn(&db, slot_position).await >= written {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The captured table still streams after the heartbeats.
    db.batch_execute("INSERT INTO t VALUES (1)").await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(Instant::now() < deadline, "the insert never arrived");
        let records = source.poll().await.unwrap();
        if let Some(insert) = records.iter().find(|r| r.topic == "pg1.public.t") {
            assert_eq!(json(&insert.value)["op"], "c");
            break;
        }
    }
    source.stop().await.unwrap();
}
