//! What each `snapshot.mode` reads, the names of the slot and publication the connector
//! creates, and the include list, against a real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{committed, json, poll_until, TestPostgres};
use runnel_cdc::{CdcError, ChangeRecord, PostgresSource};

const PLAIN: [(&str, &str); 2] = [
    ("key.converter.schemas.enable", "false"),
    ("value.converter.schemas.enable", "false"),
];

fn ops(records: &[ChangeRecord]) -> Vec<(String, String)> {
    records
        .iter()
        .map(|r| {
            let value = json(&r.value);
            (
                r.topic.clone(),
                format!("{}{}", value["op"].as_str().unwrap_or("-"), json(&r.key)),
            )
        })
        .collect()
}

fn is_last(records: &[ChangeRecord]) -> bool {
    records
        .last()
        .is_some_and(|r| json(&r.value)["source"]["snapshot"] == "last")
}

#[tokio::test]
async fn initial_only_reads_the_included_tables_then_nothing_more() {
    let pg = TestPostgres::start();
    let db = pg.client().await;
    db.batch_execute(
        "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY);
         INSERT INTO a VALUES (1), (2); INSERT INTO b VALUES (1);",
    )
    .await
    .unwrap();
    let mut settings = PLAIN.to_vec();
    settings.extend([
        ("snapshot.mode", "initial_only"),
        ("table.include.list", "public.a"),
    ]);
    let mut source = PostgresSource::new(pg.config(&settings));
    source.start(&[]).await.unwrap();
    let mut records = Vec::new();
    poll_until(&mut source, &mut records, "the snapshot ends", is_last).await;
    assert_eq!(
        ops(&records),
        [
            ("pg1.public.a".to_owned(), "r{\"id\":1}".to_owned()),
            ("pg1.public.a".to_owned(), "r{\"id\":2}".to_owned()),
        ]
    );
    assert_eq!(json(&records[0].value)["source"]["snapshot"], "true");
    db.batch_execute("INSERT INTO a VALUES (3)").await.unwrap();
    for _ in 0..3 {
        assert!(source.poll().await.unwrap().is_empty());
    }
    source.stop().await.unwrap();

    // Started again after its snapshot, it reads nothing.
    let mut again = PostgresSource::new(pg.config(&settings));
    again.start(&committed(&records[1])).await.unwrap();
    assert!(again.poll().await.unwrap().is_empty());
}

#[tokio::test]
async fn never_streams_from_the_slot_it_creates_under_the_configured_names_and_drops_on_stop() {
    let pg = TestPostgres::start();
    let db = pg.client().await;
    db.batch_execute("CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1);")
        .await
        .unwrap();
    let mut settings = PLAIN.to_vec();
    settings.extend([
        ("snapshot.mode", "never"),
        ("slot.name", "orders_slot"),
        ("publication.name", "orders_pub"),
        ("slot.drop.on.stop", "true"),
    ]);
    let mut source = PostgresSource::new(pg.config(&settings));
    source.start(&[]).await.unwrap();
    let slot = db
        .query_one(
            "SELECT plugin::text FROM pg_replication_slots WHERE slot_name = 'orders_slot'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(slot.get::<_, String>(0), "pgoutput");
    let publication = db
        .query_one(
            "SELECT puballtables FROM pg_publication WHERE pubname = 'orders_pub'",
            &[],
        )
        .await
        .unwrap();
    assert!(publication.get::<_, bool>(0));
    db.batch_execute("INSERT INTO a VALUES (2)").await.unwrap();
    let mut records = Vec::new();
    poll_until(&mut source, &mut records, "the insert arrives", |r| {
        !r.is_empty()
    })
    .await;
    assert_eq!(
        ops(&records),
        [("pg1.public.a".to_owned(), "c{\"id\":2}".to_owned())]
    );
    source.stop().await.unwrap();
    let slots = db
        .query("SELECT 1 FROM pg_replication_slots", &[])
        .await
        .unwrap();
    assert!(slots.is_empty(), "slot.drop.on.stop dropped the slot");
}

#[tokio::test]
async fn when_needed_snapshots_again_once_the_slot_has_lost_the_committed_position() {
    let pg = TestPostgres::start();
    let db = pg.client().await;
    db.batch_execute("CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1);")
        .await
        .unwrap();
    let mut source = PostgresSource::new(pg.config(&PLAIN));
    source.start(&[]).await.unwrap();
    db.batch_execute("INSERT INTO a VALUES (2)").await.unwrap();
    let mut records = Vec::new();
    poll_until(&mut source, &mut records, "the insert arrives", |r| {
        r.len() >= 2
    })
    .await;
    assert_eq!(
        ops(&records)
            .into_iter()
            .map(|(_, op)| op)
            .collect::<Vec<_>>(),
        ["r{\"id\":1}", "c{\"id\":2}"]
    );
    let offsets = committed(&records[1]);
    source.commit(&offsets).await.unwrap();
    source.stop().await.unwrap();

    // The server releases the slot once it has seen the session end.
    let deadline = std::time::Instant::now() + common::PATIENCE;
    while db
        .query_one(
            "SELECT active FROM pg_replication_slots WHERE slot_name = 'runnel'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, bool>(0)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the slot stays active"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    db.batch_execute("SELECT pg_drop_replication_slot('runnel'); INSERT INTO a VALUES (3);")
        .await
        .unwrap();
    let mut initial = PostgresSource::new(pg.config(&PLAIN));
    let error = initial.start(&offsets).await.unwrap_err();
    assert!(matches!(error, CdcError::PositionLost { .. }), "{error}");

    let mut settings = PLAIN.to_vec();
    settings.push(("snapshot.mode", "when_needed"));
    let mut when_needed = PostgresSource::new(pg.config(&settings));
    when_needed.start(&offsets).await.unwrap();
    let mut records = Vec::new();
    poll_until(
        &mut when_needed,
        &mut records,
        "the new snapshot ends",
        is_last,
    )
    .await;
    assert_eq!(
        ops(&records)
            .into_iter()
            .map(|(_, op)| op)
            .collect::<Vec<_>>(),
        ["r{\"id\":1}", "r{\"id\":2}", "r{\"id\":3}"]
    );
    when_needed.stop().await.unwrap();
}
