//! The snapshot/stream seam and restarts under concurrent writes: the topics folded by key
//! equal the tables, with no event lost and none delivered twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use common::{committed, json, Lcg, TestPostgres, PATIENCE};
use runnel_cdc::{ChangeRecord, OffsetMap, PostgresSource};
use serde_json::{json, Value};
use tokio_postgres::Client;

const TABLES: [&str; 2] = ["items", "tags"];

/// Random transactions against both tables: inserts, updates, deletes, primary-key changes,
/// multi-statement and rolled-back transactions, and a few truncates.
async fn workload(mut db: Client, seed: u64, transactions: usize) {
    let mut rng = Lcg(seed);
    for n in 0..transactions {
        let tx = db.transaction().await.unwrap();
        for _ in 0..=rng.below(3) {
            let table = TABLES[rng.below(2) as usize];
            let id = rng.below(400) as i32 + 1;
            let other = rng.below(400) as i32 + 1;
            let sql = match rng.below(10) {
                0..=2 => format!(
                    "INSERT INTO {table} VALUES ($1, 'new ' || $2::int, $2) ON CONFLICT DO NOTHING"
                ),
                3..=5 => format!("UPDATE {table} SET qty = qty + $2, name = 'upd' WHERE id = $1"),
                6..=7 => format!("DELETE FROM {table} WHERE id = $1 AND $2::int > 0"),
                _ => format!(
                    "UPDATE {table} SET id = $2 WHERE id = $1 \
                     AND NOT EXISTS (SELECT 1 FROM {table} WHERE id = $2)"
                ),
            };
            tx.execute(&sql, &[&id, &other]).await.unwrap();
        }
        if n % 97 == 96 {
            tx.batch_execute("TRUNCATE tags").await.unwrap();
        }
        if rng.below(8) == 0 {
            tx.rollback().await.unwrap();
        } else {
            tx.commit().await.unwrap();
        }
    }
}

/// Each table's rows as the `after` images a consumer would hold.
async fn table_contents(db: &Client) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut contents = BTreeMap::new();
    for table in TABLES {
        let rows = db
            .query(&format!("SELECT id, name, qty FROM {table}"), &[])
            .await
            .unwrap();
        let rows = rows
            .iter()
            .map(|r| {
                let id: i32 = r.get(0);
                let name: Option<String> = r.get(1);
                let qty: Option<i32> = r.get(2);
                (
                    json!({"id": id}).to_string(),
                    json!({"id": id, "name": name, "qty": qty}),
                )
            })
            .collect();
        contents.insert(format!("pg1.public.{table}"), rows);
    }
    contents
}

/// The topics read from the beginning and folded by key: the table a consumer rebuilds.
fn fold(records: &[ChangeRecord]) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut tables: BTreeMap<String, BTreeMap<String, Value>> = TABLES
        .iter()
        .map(|t| (format!("pg1.public.{t}"), BTreeMap::new()))
        .collect();
    for record in records {
        let Some(table) = tables.get_mut(&record.topic) else {
            assert_eq!(record.topic, "__debezium-heartbeat.pg1");
            continue;
        };
        let value = json(&record.value);
        match value["op"].as_str() {
            Some("t") => table.clear(),
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

fn stream_position(offset: &OffsetMap) -> Option<(u64, u64, u64)> {
    let field = |name: &str| offset.get(name).and_then(Value::as_u64);
    Some((field("lsn_commit")?, field("lsn")?, field("event")?))
}

fn is_last_snapshot_record(record: &ChangeRecord) -> bool {
    record.source_offset.get("last_snapshot_record") == Some(&json!(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_stream_fold_to_the_tables_across_restarts_without_loss_or_duplicate() {
    let pg = TestPostgres::start();
    let db = pg.client().await;
    db.batch_execute(
        "CREATE TABLE items (id int PRIMARY KEY, name text, qty int);
         CREATE TABLE tags (id int PRIMARY KEY, name text, qty int);
         CREATE TABLE ignored (id int PRIMARY KEY);
         INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, 300) g;
         INSERT INTO tags SELECT g, 'tag', 0 FROM generate_series(1, 30) g;",
    )
    .await
    .unwrap();
    let config = pg.config(&[
        ("key.converter.schemas.enable", "false"),
        ("value.converter.schemas.enable", "false"),
        ("table.exclude.list", "public\\.ign.*"),
        ("max.batch.size", "40"),
        ("snapshot.fetch.size", "64"),
        // Heartbeats between transactions; a restart may resume from one.
        ("heartbeat.interval.ms", "20"),
    ]);
    // Writes run from before the snapshot starts until after the last restart.
    let writer = tokio::spawn(workload(pg.client().await, 11, 600));
    let ignored_writer = pg.client().await;
    ignored_writer
        .batch_execute("INSERT INTO ignored SELECT generate_series(1, 50)")
        .await
        .unwrap();

    let mut rng = Lcg(5);
    let mut delivered: Vec<ChangeRecord> = Vec::new();
    let mut offsets = Vec::new();
    for round in 0..4 {
        let mut source = PostgresSource::new(config.clone());
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

    let expected = table_contents(&db).await;
    let mut source = PostgresSource::new(config.clone());
    source.start(&offsets).await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    while fold(&delivered) != expected {
        assert!(
            Instant::now() < deadline,
            "the folded topics never matched the tables"
        );
        delivered.extend(source.poll().await.unwrap());
    }

    assert!(delivered.iter().all(|r| r.topic != "pg1.public.ignored"));
    assert!(
        delivered
            .iter()
            .any(|r| r.topic == "__debezium-heartbeat.pg1"),
        "heartbeats were interleaved"
    );
    let snapshot: Vec<&ChangeRecord> = delivered
        .iter()
        .filter(|r| r.source_offset.get("snapshot") == Some(&json!(true)))
        .collect();
    let snapshot_keys: BTreeSet<(String, String)> = snapshot
        .iter()
        .map(|r| (r.topic.clone(), json(&r.key).to_string()))
        .collect();
    assert_eq!(snapshot_keys.len(), snapshot.len(), "a row read twice");
    // How many rows the snapshot saw depends on how far the concurrent workload got; the fold
    // above proves it read exactly the rows of its moment.
    assert!(!snapshot.is_empty());
    assert_eq!(
        json(&snapshot.last().unwrap().value)["source"]["snapshot"],
        "last"
    );
    assert_eq!(json(&snapshot[0].value)["op"], "r");
    let positions: Vec<(u64, u64, u64)> = delivered
        .iter()
        .filter_map(|r| stream_position(&r.source_offset))
        .collect();
    assert!(positions.len() > 300, "the stream carried the workload");
    for pair in positions.windows(2) {
        assert!(
            pair[0] < pair[1],
            "delivered twice or out of order: {pair:?}"
        );
    }
    source.stop().await.unwrap();
}
