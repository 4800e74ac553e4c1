//! The MariaDB source's snapshot/stream seam and restarts under concurrent writes: the topics
//! folded by key equal the tables, with no event lost and none delivered twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use common::mariadb::TestMariaDb;
use common::{committed, json, Lcg, PATIENCE};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use runnel_cdc::{ChangeRecord, MariaDbSource, OffsetMap};
use serde_json::{json, Value};

const TABLES: [&str; 2] = ["items", "tags"];

/// Random transactions against both tables: inserts, updates, deletes, primary-key changes,
/// multi-statement and rolled-back transactions.
async fn workload(mut db: Conn, seed: u64, transactions: usize) {
    let mut rng = Lcg(seed);
    for _ in 0..transactions {
        db.query_drop("BEGIN").await.unwrap();
        for _ in 0..=rng.below(3) {
            let table = TABLES[rng.below(2) as usize];
            let id = rng.below(400) + 1;
            let other = rng.below(400) + 1;
            let sql = match rng.below(10) {
                0..=2 => {
                    format!("INSERT IGNORE INTO shop.{table} VALUES ({id}, 'new {other}', {other})")
                }
                3..=5 => {
                    format!(
                        "UPDATE shop.{table} SET qty = qty + {other}, name = 'upd' WHERE id = {id}"
                    )
                }
                6..=7 => format!("DELETE FROM shop.{table} WHERE id = {id}"),
                _ => format!("UPDATE IGNORE shop.{table} SET id = {other} WHERE id = {id}"),
            };
            db.query_drop(sql).await.unwrap();
        }
        let end = if rng.below(8) == 0 {
            "ROLLBACK"
        } else {
            "COMMIT"
        };
        db.query_drop(end).await.unwrap();
    }
}

/// Each table's rows as the `after` images a consumer would hold.
async fn table_contents(db: &mut Conn) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut contents = BTreeMap::new();
    for table in TABLES {
        let rows: Vec<(i64, Option<String>, Option<i64>)> = db
            .query(format!("SELECT id, name, qty FROM shop.{table}"))
            .await
            .unwrap();
        let rows = rows
            .into_iter()
            .map(|(id, name, qty)| {
                (
                    json!({"id": id}).to_string(),
                    json!({"id": id, "name": name, "qty": qty}),
                )
            })
            .collect();
        contents.insert(format!("shop.shop.{table}"), rows);
    }
    contents
}

/// The topics read from the beginning and folded by key: the table a consumer rebuilds.
fn fold(records: &[ChangeRecord]) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut tables: BTreeMap<String, BTreeMap<String, Value>> = TABLES
        .iter()
        .map(|t| (format!("shop.shop.{t}"), BTreeMap::new()))
        .collect();
    for record in records {
        let table = tables.get_mut(&record.topic).unwrap();
        let value = json(&record.value);
        match value["op"].as_str() {
            Some("d") | None => {
                table.remove(&json(&record.key).to_string());
            }
            Some(_) => {
                table.insert(json(&record.key).to_string(), value["after"].clone());
            }
        }
    }
    tables
}

/// A streamed record's place: (file, transaction start, number in the transaction).
fn stream_position(offset: &OffsetMap) -> Option<(String, u64, u64)> {
    Some((
        offset.get("file")?.as_str()?.to_owned(),
        offset.get("pos")?.as_u64()?,
        offset.get("event")?.as_u64()?,
    ))
}

fn is_last_snapshot_record(record: &ChangeRecord) -> bool {
    record.source_offset.get("last_snapshot_record") == Some(&json!(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_stream_fold_to_the_tables_across_restarts_without_loss_or_duplicate() {
    let db = TestMariaDb::start();
    db.execute(
        "CREATE DATABASE shop;
         CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40), qty INT);
         CREATE TABLE shop.tags (id INT PRIMARY KEY, name VARCHAR(40), qty INT);
         CREATE TABLE shop.ignored (id INT PRIMARY KEY);
         INSERT INTO shop.items SELECT seq, CONCAT('item ', seq), seq FROM shop.seq_1_to_300;
         INSERT INTO shop.tags SELECT seq, 'tag', 0 FROM shop.seq_1_to_30;",
    )
    .await;
    let config = db.config(&[
        ("key.converter.schemas.enable", "false"),
        ("value.converter.schemas.enable", "false"),
        ("table.exclude.list", "shop\\.ign.*"),
        ("max.batch.size", "40"),
        ("max.queue.size", "16"),
    ]);
    // Writes run from before the snapshot starts until after the last restart.
    let writer = tokio::spawn(workload(db.conn().await, 11, 600));
    db.execute("INSERT INTO shop.ignored SELECT seq FROM shop.seq_1_to_50")
        .await;

    let mut rng = Lcg(5);
    let mut delivered: Vec<ChangeRecord> = Vec::new();
    let mut offsets = Vec::new();
    for round in 0..4 {
        let mut source = MariaDbSource::new(config.clone());
        source.start(&offsets).await.unwrap();
        let mut received: Vec<ChangeRecord> = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        // The first round reads past the end of the snapshot; each round then stops after a
        // random number of records, of which the broker acknowledged a random prefix.
        let wanted = 40 + rng.below(200) as usize;
        loop {
            let done_snapshot = round > 0 || received.iter().any(is_last_snapshot_record);
            if done_snapshot && received.len() >= wanted {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round} received too little"
            );
            received.extend(source.poll().await.unwrap());
        }
        let at_least = received
            .iter()
            .position(is_last_snapshot_record)
            .map_or(0, |i| i + 1);
        let acknowledged = at_least + rng.below((received.len() - at_least + 1) as u64) as usize;
        delivered.extend(received.drain(..acknowledged));
        if let Some(last) = delivered.last() {
            offsets = committed(last);
            source.commit(&offsets).await.unwrap();
        }
        if round % 2 == 0 {
            // A crash: the connection just goes away.
            drop(source);
        } else {
            source.stop().await.unwrap();
        }
    }
    writer.await.unwrap();

    let expected = table_contents(&mut db.conn().await).await;
    let mut source = MariaDbSource::new(config.clone());
    source.start(&offsets).await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    while fold(&delivered) != expected {
        assert!(
            Instant::now() < deadline,
            "the folded topics never matched the tables"
        );
        delivered.extend(source.poll().await.unwrap());
    }

    let snapshot: Vec<&ChangeRecord> = delivered
        .iter()
        .filter(|r| r.source_offset.get("snapshot") == Some(&json!(true)))
        .collect();
    let snapshot_keys: BTreeSet<(String, String)> = snapshot
        .iter()
        .map(|r| (r.topic.clone(), json(&r.key).to_string()))
        .collect();
    assert_eq!(snapshot_keys.len(), snapshot.len(), "a row read twice");
    assert!(!snapshot.is_empty());
    assert_eq!(
        json(&snapshot.last().unwrap().value)["source"]["snapshot"],
        "last"
    );
    // Snapshot offsets have no `event`: these are the streamed records'.
    let streamed: Vec<(String, u64, u64)> = delivered
        .iter()
        .filter_map(|r| stream_position(&r.source_offset))
        .collect();
    assert!(streamed.len() > 300, "the stream carried the workload");
    for pair in streamed.windows(2) {
        assert!(
            pair[0] < pair[1],
            "delivered twice or out of order: {pair:?}"
        );
    }
    source.stop().await.unwrap();
}
