//! The MariaDB source's change events field by field: the snapshot row and each kind of change,
//! every mapped type read by the snapshot and by the stream alike, and a table altered while
//! streaming decoded with its new columns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::json;
use common::mariadb::{poll_until, TestMariaDb};
use runnel_cdc::{ChangeRecord, MariaDbSource};
use serde_json::{json, Value};

const NOW_MS: i64 = 1_733_570_000_150;

fn source(db: &TestMariaDb, extra: &[(&str, &str)]) -> MariaDbSource {
    MariaDbSource::with_clock(db.config(extra), Arc::new(|| NOW_MS))
}

fn values(records: &[ChangeRecord]) -> Vec<Value> {
    records.iter().map(|r| json(&r.value)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_change_has_debeziums_envelope_and_key() {
    let db = TestMariaDb::start();
    db.execute(
        "CREATE DATABASE shop;
         CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(8,2));
         INSERT INTO shop.items VALUES (1, 'pen', 1.50);",
    )
    .await;
    let mut source = source(&db, &[("value.converter.schemas.enable", "false")]);
    source.start(&[]).await.unwrap();
    let mut received = Vec::new();
    poll_until(&mut source, &mut received, "the snapshot row", |r| {
        !r.is_empty()
    })
    .await;
    let read = &received[0];
    assert_eq!(read.topic, "shop.shop.items");
    assert_eq!(
        read.source_partition,
        serde_json::from_value(json!({"server": "shop"})).unwrap()
    );
    assert_eq!(read.source_offset["snapshot"], json!(true));
    assert_eq!(read.source_offset["last_snapshot_record"], json!(true));
    assert_eq!(
        json(&read.key),
        json!({"schema": {"type": "struct", "optional": false, "name": "shop.shop.items.Key",
                          "fields": [{"type": "int32", "optional": false, "field": "id"}]},
               "payload": {"id": 1}})
    );
    let value = json(&read.value);
    assert_eq!(value["op"], "r");
    assert_eq!(
        value["after"],
        json!({"id": 1, "name": "pen", "price": "1.50"})
    );
    assert_eq!(value["before"], Value::Null);
    assert_eq!(value["ts_ms"], NOW_MS);
    let source_block = &value["source"];
    assert_eq!(source_block["connector"], "mariadb");
    assert_eq!(source_block["name"], "shop");
    assert_eq!(source_block["snapshot"], "last");
    assert_eq!(
        (&source_block["db"], &source_block["table"]),
        (&json!("shop"), &json!("items"))
    );
    assert_eq!(source_block["server_id"], 0);
    assert!(source_block["file"]
        .as_str()
        .unwrap()
        .starts_with("mariadb-bin."));

    db.execute(
        "INSERT INTO shop.items VALUES (2, 'ink', 3.25);
         BEGIN; UPDATE shop.items SET price = 1.75 WHERE id = 1;
                UPDATE shop.items SET id = 3 WHERE id = 2; COMMIT;
         DELETE FROM shop.items WHERE id = 1;",
    )
    .await;
    received.clear();
    poll_until(&mut source, &mut received, "every change", |r| r.len() == 7).await;
    let keys: Vec<Value> = received
        .iter()
        .map(|r| json(&r.key)["payload"].clone())
        .collect();
    let events = values(&received);
    let ops: Vec<&Value> = events.iter().map(|v| &v["op"]).collect();
    assert_eq!(
        ops,
        [
            &json!("c"),
            &json!("u"),
            &json!("d"),
            &Value::Null,
            &json!("c"),
            &json!("d"),
            &Value::Null
        ]
    );
    assert_eq!(
        keys,
        [
            json!({"id": 2}),
            json!({"id": 1}),
            json!({"id": 2}),
            json!({"id": 2}),
            json!({"id": 3}),
            json!({"id": 1}),
            json!({"id": 1})
        ]
    );
    assert_eq!(
        events[1]["before"],
        json!({"id": 1, "name": "pen", "price": "1.50"})
    );
    assert_eq!(
        events[1]["after"],
        json!({"id": 1, "name": "pen", "price": "1.75"})
    );
    assert_eq!(
        events[2]["before"],
        json!({"id": 2, "name": "ink", "price": "3.25"})
    );
    assert_eq!(events[2]["after"], Value::Null);
    assert_eq!(
        events[4]["after"],
        json!({"id": 3, "name": "ink", "price": "3.25"})
    );
    assert_eq!(events[5]["before"]["price"], "1.75");
    let insert = &events[0]["source"];
    assert_eq!(insert["snapshot"], "false");
    assert_eq!(insert["server_id"], 1);
    assert_eq!(insert["row"], 0);
    assert!(
        insert["gtid"].as_str().unwrap().starts_with("0-1-"),
        "{insert}"
    );
    assert!(insert["ts_ms"].as_i64().unwrap() > 1_700_000_000_000);
    // The update and the key change share one transaction: one GTID and start position.
    let update = &events[1]["source"];
    assert_eq!(update["gtid"], events[2]["source"]["gtid"]);
    assert_eq!(update["pos"], events[4]["source"]["pos"]);
    assert_ne!(update["gtid"], insert["gtid"]);
    let offsets: Vec<u64> = received
        .iter()
        .map(|r| r.source_offset["event"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [0, 0, 1, 2, 3, 0, 1]);
    assert!(
        received[6].value.is_none(),
        "a delete is followed by a tombstone"
    );
    source.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_map_as_debezium_maps_them_in_the_snapshot_and_the_stream() {
    let db = TestMariaDb::start();
    let columns = "id BIGINT UNSIGNED PRIMARY KEY, t TINYINT, s SMALLINT UNSIGNED,
         m MEDIUMINT, i INT, iu INT UNSIGNED, f FLOAT, d DOUBLE, n DECIMAL(10,3),
         dt DATE, dtm DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME(6), y YEAR,
         c CHAR(3), v VARCHAR(20), tx TEXT, b VARBINARY(4), bl BLOB, j JSON, nul INT,
         e ENUM('small', 'médium', 'large'), e0 ENUM('x', 'y'),
         st SET('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'), st0 SET('p', 'q')";
    let row = "(18446744073709551615, -7, 65535, -8388608, -2147483648, 4294967295, 1.5,
         2.25, -12.345, '2024-03-01', '2024-03-01 12:00:00.250000', '2024-03-01 12:00:00.250',
         '-26:00:00.000005', 2024, 'abc', 'héllo', 'long text', x'00ff', x'0102', '{\"a\": 1}', NULL,
         'médium', 'y', 'i,a,c', '')";
    db.execute(&format!(
        "CREATE DATABASE shop; CREATE TABLE shop.kinds ({columns});
         CREATE TABLE shop.streamed ({columns}); INSERT INTO shop.kinds VALUES {row};"
    ))
    .await;
    let mut source = source(&db, &[]);
    source.start(&[]).await.unwrap();
    let mut received = Vec::new();
    poll_until(&mut source, &mut received, "the snapshot row", |r| {
        !r.is_empty()
    })
    .await;
    db.execute(&format!("INSERT INTO shop.streamed VALUES {row}"))
        .await;
    poll_until(&mut source, &mut received, "the streamed row", |r| {
        r.len() == 2
    })
    .await;
    let expected = json!({
        "id": 18_446_744_073_709_551_615u64, "t": -7, "s": 65535, "m": -8_388_608,
        "i": -2_147_483_648i64, "iu": 4_294_967_295u64, "f": 1.5, "d": 2.25, "n": "-12.345",
        "dt": 19_783, "dtm": 1_709_294_400_250_000i64, "ts": "2024-03-01T12:00:00.25Z",
        "tm": -93_600_000_005i64, "y": 2024, "c": "abc", "v": "héllo", "tx": "long text",
        "b": "AP8=", "bl": "AQI=", "j": "{\"a\": 1}", "nul": null,
        "e": "médium", "e0": "y", "st": "a,c,i", "st0": "",
    });
    let snapshot = json(&received[0].value);
    let streamed = json(&received[1].value);
    assert_eq!(snapshot["payload"]["after"], expected);
    assert_eq!(streamed["payload"]["after"], expected);
    let schema = |value: &Value| {
        value["schema"]["fields"][1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["field"].as_str().unwrap().to_owned(),
                    f["type"].clone(),
                    f["name"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(schema(&snapshot), schema(&streamed));
    let types: Vec<(String, Value, Value)> = schema(&snapshot);
    let expected_types = [
        ("id", "int64", None),
        ("t", "int16", None),
        ("s", "int32", None),
        ("m", "int32", None),
        ("i", "int32", None),
        ("iu", "int64", None),
        ("f", "float", None),
        ("d", "double", None),
        ("n", "string", None),
        ("dt", "int32", Some("io.debezium.time.Date")),
        ("dtm", "int64", Some("io.debezium.time.MicroTimestamp")),
        ("ts", "string", Some("io.debezium.time.ZonedTimestamp")),
        ("tm", "int64", Some("io.debezium.time.MicroTime")),
        ("y", "int32", None),
        ("c", "string", None),
        ("v", "string", None),
        ("tx", "string", None),
        ("b", "bytes", None),
        ("bl", "bytes", None),
        ("j", "string", None),
        ("nul", "int32", None),
        ("e", "string", Some("io.debezium.data.Enum")),
        ("e0", "string", Some("io.debezium.data.Enum")),
        ("st", "string", Some("io.debezium.data.EnumSet")),
        ("st0", "string", Some("io.debezium.data.EnumSet")),
    ];
    let expected_types: Vec<(String, Value, Value)> = expected_types
        .iter()
        .map(|(f, t, n)| (f.to_string(), json!(t), n.map_or(Value::Null, |n| json!(n))))
        .collect();
    assert_eq!(types, expected_types);
    assert_eq!(
        streamed["schema"]["fields"][2]["name"],
        "io.debezium.connector.mariadb.Source"
    );
    source.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_altered_while_streaming_is_decoded_with_its_new_columns() {
    let db = TestMariaDb::start();
    db.execute(
        "CREATE DATABASE shop;
         CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40), qty INT);",
    )
    .await;
    let mut source = source(
        &db,
        &[
            ("value.converter.schemas.enable", "false"),
            ("key.converter.schemas.enable", "false"),
        ],
    );
    source.start(&[]).await.unwrap();
    db.execute(
        "INSERT INTO shop.items VALUES (1, 'pen', 5);
         ALTER TABLE shop.items ADD COLUMN color VARCHAR(10) DEFAULT 'red' AFTER id;
         INSERT INTO shop.items (id, name, qty, color) VALUES (2, 'ink', 6, 'blue');
         ALTER TABLE shop.items DROP COLUMN name;
         UPDATE shop.items SET qty = 7 WHERE id = 1;",
    )
    .await;
    let mut received = Vec::new();
    poll_until(&mut source, &mut received, "three changes", |r| {
        r.len() == 3
    })
    .await;
    let after: Vec<Value> = values(&received)
        .iter()
        .map(|v| v["after"].clone())
        .collect();
    assert_eq!(
        after,
        [
            json!({"id": 1, "name": "pen", "qty": 5}),
            json!({"id": 2, "color": "blue", "name": "ink", "qty": 6}),
            json!({"id": 1, "color": "red", "qty": 7}),
        ]
    );
    let before = json(&received[2].value)["before"].clone();
    assert_eq!(before, json!({"id": 1, "color": "red", "qty": 5}));
    source.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_full_row_metadata_is_refused_with_the_setting_named() {
    let db = TestMariaDb::start();
    db.execute("SET GLOBAL binlog_row_metadata = 'MINIMAL'")
        .await;
    let mut source = source(&db, &[]);
    let error = source.start(&[]).await.unwrap_err().to_string();
    assert!(
        error.contains("binlog_row_metadata") && error.contains("FULL"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_carry_the_position_past_changes_of_other_tables_and_idle_time() {
    let db = TestMariaDb::start();
    db.execute(
        "CREATE DATABASE shop;
         CREATE TABLE shop.items (id INT PRIMARY KEY);
         CREATE TABLE shop.audit (id INT PRIMARY KEY);",
    )
    .await;
    // Each reading of the clock is a second later, so every chance to send one is taken.
    let clock = Arc::new(std::sync::atomic::AtomicI64::new(NOW_MS));
    let settings = [
        ("table.exclude.list", "shop\\.audit"),
        ("heartbeat.interval.ms", "1000"),
        ("value.converter.schemas.enable", "false"),
        ("key.converter.schemas.enable", "false"),
    ];
    let start = |clock: Arc<std::sync::atomic::AtomicI64>| {
        MariaDbSource::with_clock(
            db.config(&settings),
            Arc::new(move || clock.fetch_add(1000, std::sync::atomic::Ordering::Relaxed)),
        )
    };
    let is_heartbeat = |r: &ChangeRecord| r.topic == "__debezium-heartbeat.shop";
    let mut source = start(clock.clone());
    source.start(&[]).await.unwrap();
    db.execute("INSERT INTO shop.audit VALUES (1); INSERT INTO shop.audit VALUES (2);")
        .await;
    let mut received = Vec::new();
    poll_until(
        &mut source,
        &mut received,
        "a heartbeat after the audit rows",
        |r| r.iter().filter(|r| is_heartbeat(r)).count() >= 2,
    )
    .await;
    assert!(
        received.iter().all(is_heartbeat),
        "only heartbeats: {received:?}"
    );
    let heartbeat = &received[1];
    assert_eq!(json(&heartbeat.key), json!({"serverName": "shop"}));
    assert!(json(&heartbeat.value)["ts_ms"].as_i64().unwrap() > NOW_MS);
    assert_eq!(heartbeat.source_offset.get("event"), None);
    let pos = |r: &ChangeRecord| r.source_offset["pos"].as_u64().unwrap();
    assert!(pos(&received[1]) > pos(&received[0]), "{received:?}");

    // Idle: the server's own heartbeat events keep them coming, at the same position.
    let before_idle = received.len();
    poll_until(&mut source, &mut received, "a heartbeat while idle", |r| {
        r.len() > before_idle + 1
    })
    .await;
    let last = received.last().unwrap().clone();
    assert!(is_heartbeat(&last));
    assert_eq!(pos(&last), pos(&received[before_idle - 1]));
    source.stop().await.unwrap();

    // Resumed from the last heartbeat: nothing is read again, the next change comes first.
    let mut source = start(clock);
    source
        .start(&[(last.source_partition.clone(), last.source_offset.clone())])
        .await
        .unwrap();
    db.execute("INSERT INTO shop.items VALUES (7)").await;
    let mut resumed = Vec::new();
    poll_until(&mut source, &mut resumed, "the new row", |r| {
        r.iter().any(|r| !is_heartbeat(r))
    })
    .await;
    let changes: Vec<Value> = resumed
        .iter()
        .filter(|r| !is_heartbeat(r))
        .map(|r| json(&r.value))
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["op"], "c");
    assert_eq!(changes[0]["after"], json!({"id": 7}));
    source.stop().await.unwrap();
}
