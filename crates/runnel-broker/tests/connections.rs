//! Connection limits under a flood of half-open connections (each sends three bytes of a
//! frame's size and nothing more): `max.connections.per.ip` closes the excess at once,
//! `connections.max.idle.ms` closes the rest, and a producer connected before the flood
//! keeps producing throughout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::producer::FutureRecord;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use common::{bootstrap, create_topic_at, eventually, producer, start};

const FLOOD: usize = 2000;
const PER_IP: usize = 1500;
const IDLE: Duration = Duration::from_millis(5000);
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_half_open_connections_is_refused_then_closed_while_a_producer_keeps_working() {
    const TOPIC: &str = "flooded";
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| {
        c.connections_max_idle_ms = IDLE.as_millis() as u64;
        c.max_connections_per_ip = PER_IP;
    })
    .await;
    create_topic_at(&bootstrap(&broker), TOPIC, 1).await;
    let producer = producer(&broker, &[("acks", "all")]);
    let first = producer
        .send(FutureRecord::to(TOPIC).key("k").payload("0"), WAIT)
        .await
        .unwrap();
    assert_eq!(first.offset, 0);

    // One record after the other, each acknowledged before the next, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let producing = tokio::spawn(async move {
        let mut slowest = Duration::ZERO;
        let mut next: i64 = 1;
        while !stopping.load(Ordering::Acquire) {
            let started = Instant::now();
            let payload = next.to_string();
            let delivered = producer
                .send(FutureRecord::to(TOPIC).key("k").payload(&payload), WAIT)
                .await
                .unwrap_or_else(|(e, _)| panic!("record {next} failed during the flood: {e}"));
            assert_eq!(delivered.offset, next);
            slowest = slowest.max(started.elapsed());
            next += 1;
        }
        (next, slowest)
    });

    let address = broker.local_addr();
    let mut flood = JoinSet::new();
    for _ in 0..FLOOD {
        // Taken before connecting: the broker's idle time starts later, at its accept.
        let opened = Instant::now();
        let mut socket = TcpStream::connect(address).await.unwrap();
        // A refused connection may already be closed: the write may fail, which is fine.
        let _ = socket.write_all(&[0, 0, 0]).await;
        flood.spawn(async move {
            let mut byte = [0u8; 1];
            // The broker never answers a frame it has not received: the read ends when it
            // closes the connection (end of stream, or a reset).
            let closed = tokio::time::timeout(WAIT, socket.read(&mut byte)).await;
            assert!(
                matches!(closed, Ok(Ok(0) | Err(_))),
                "connection not closed: {closed:?}"
            );
            opened.elapsed()
        });
    }
    let state = Arc::clone(broker.state());
    eventually(
        "the connections over the per-address limit to be refused",
        WAIT,
        move || state.connections.refused() >= (FLOOD - PER_IP) as u64,
    )
    .await;

    let mut lifetimes = Vec::with_capacity(FLOOD);
    while let Some(lifetime) = flood.join_next().await {
        lifetimes.push(lifetime.unwrap());
    }
    let refused = broker.state().connections.refused() as usize;
    let admitted = FLOOD - refused;
    assert!(admitted > 1000, "{admitted} admitted of {FLOOD}");
    // Only refused connections were closed early: every admitted one lived out its idle
    // time (counted from its acceptance, which follows the client's connect).
    let closed_early = lifetimes.iter().filter(|&&l| l < IDLE).count();
    assert!(
        closed_early <= refused,
        "{closed_early} closed before {IDLE:?}, {refused} refused"
    );

    stop.store(true, Ordering::Release);
    let (produced, slowest) = producing.await.unwrap();
    assert!(
        produced > 10,
        "only {produced} records produced during the flood"
    );
    eprintln!(
        "{refused} refused, {admitted} closed when idle; the producer wrote {produced} records \
         meanwhile, slowest acknowledgement {slowest:?}"
    );

    // The flood left no trace: a new client connects and produces.
    let state = Arc::clone(broker.state());
    eventually("the flood's connections to be gone", WAIT, move || {
        state.connections.open() < 10
    })
    .await;
    let late = common::producer(&broker, &[]);
    let record = late
        .send(FutureRecord::to(TOPIC).key("k").payload("late"), WAIT)
        .await
        .unwrap();
    assert_eq!(record.offset, produced);
    drop(late);
    broker.shutdown().await.unwrap();
}
