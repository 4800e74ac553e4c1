//! Produce round trips on one raw connection, without a client library (only the framing
//! of `runnel_cli::wire`): each 1-record produce request is written, its response read,
//! then the next one is sent at the given rate. This separates the broker's latency from the client's (librdkafka hands each record
//! through several threads). `echo` mode measures the floor of the machine instead: a
//! blocking thread answering each message over loopback TCP.
//!
//! ```sh
//! cargo run --release -p runnel-bench --example roundtrip -- produce 127.0.0.1:9092 TOPIC 20000 1000
//! cargo run --release -p runnel-bench --example roundtrip -- echo 20000 1000
//! ```
//!
//! The topic must exist (for example from a `bench produce` run); records go to partition 0
//! with acks=all.

use std::error::Error;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use runnel_bench::stats::LatencySummary;
use runnel_cli::wire;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const VALUE_SIZE: usize = 1024;
const PRODUCE_VERSION: i16 = 9;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> Result<u64> {
        Ok(args
            .get(i)
            .ok_or("missing argument (see the example's doc comment)")?
            .parse()?)
    };
    let samples = match args.first().map(String::as_str) {
        Some("produce") => {
            let address = args.get(1).ok_or("missing ADDRESS")?;
            let topic = args.get(2).ok_or("missing TOPIC")?;
            produce(address, topic, number(3)?, number(4)?)?
        }
        Some("echo") => echo(number(1)?, number(2)?)?,
        _ => {
            return Err(
                "usage: roundtrip produce ADDRESS TOPIC COUNT RATE | echo COUNT RATE".into(),
            )
        }
    };
    let mut samples = samples;
    match LatencySummary::from_nanos(&mut samples) {
        Some(summary) => println!("round trip: {summary}"),
        None => println!("round trip: no samples"),
    }
    Ok(())
}

/// Sleeps until sample `i` is due at `rate` per second after `start`.
fn pace(start: Instant, i: u64, rate: u64) {
    let due = start + Duration::from_nanos(i.saturating_mul(1_000_000_000) / rate.max(1));
    let now = Instant::now();
    if due > now {
        std::thread::sleep(due - now);
    }
}

fn nanos(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn produce(address: &str, topic: &str, count: u64, rate: u64) -> Result<Vec<u64>> {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 0,
        key: None,
        value: Some(Bytes::from(vec![b'x'; VALUE_SIZE])),
        headers: Default::default(),
    };
    let mut batch = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut batch,
        [&record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )?;
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch.freeze()))])]);
    let mut stream = TcpStream::connect(address)?;
    stream.set_nodelay(true)?;
    let mut samples = Vec::new();
    let start = Instant::now();
    for i in 0..count {
        pace(start, i, rate);
        let correlation_id = i32::try_from(i % (i32::MAX as u64))?;
        let frame =
            wire::request_frame(ApiKey::Produce, PRODUCE_VERSION, correlation_id, &request)?;

        let sent = Instant::now();
        stream.write_all(&frame)?;
        let response = wire::read_frame(&mut stream, wire::MAX_RESPONSE_BYTES)?;
        samples.push(nanos(sent));

        let body = wire::response_body(response, ApiKey::Produce, PRODUCE_VERSION, correlation_id)?;
        let response: ProduceResponse = wire::decode(body, ApiKey::Produce, PRODUCE_VERSION)?;
        let code = response
            .responses
            .first()
            .and_then(|t| t.partition_responses.first())
            .map(|p| p.error_code)
            .ok_or("empty produce response")?;
        if code != 0 {
            return Err(format!("produce failed with error code {code}").into());
        }
    }
    Ok(samples)
}

fn echo(count: u64, rate: u64) -> Result<Vec<u64>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let mut message = vec![0u8; VALUE_SIZE];
        // Until the client hangs up.
        while stream.read_exact(&mut message).is_ok() {
            stream.write_all(&message[..64])?;
        }
        Ok(())
    });
    let mut stream = TcpStream::connect(address)?;
    stream.set_nodelay(true)?;
    let message = vec![b'x'; VALUE_SIZE];
    let mut answer = [0u8; 64];
    let mut samples = Vec::new();
    let start = Instant::now();
    for i in 0..count {
        pace(start, i, rate);
        let sent = Instant::now();
        stream.write_all(&message)?;
        stream.read_exact(&mut answer)?;
        samples.push(nanos(sent));
    }
    drop(stream);
    server.join().map_err(|_| "echo thread panicked")??;
    Ok(samples)
}
