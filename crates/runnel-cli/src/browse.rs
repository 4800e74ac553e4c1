//! Reading a bounded page of one partition's records from an offset or a time, keeping
//! those whose key or value contains a text: what a message browser shows.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::client::{self, Observer};
use crate::position::{self, Position};
use crate::{CliError, Connection};

/// Which records a page holds, and how much of them at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub topic: String,
    pub partition: i32,
    /// Where the page starts.
    pub start: Position,
    /// Only records whose key or value (as text) contains this.
    pub contains: Option<String>,
    /// At most this many records in the page.
    pub max_records: usize,
    /// The page ends once its keys and values hold this many bytes.
    pub max_bytes: usize,
    /// At most this many records are read to fill the page, matching or not.
    pub max_scanned: u64,
}

/// One record, its key, value and headers as text (invalid UTF-8 replaced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrowsedRecord {
    pub offset: i64,
    /// Milliseconds since the epoch, when the record has one.
    pub timestamp: Option<i64>,
    pub key: Option<String>,
    pub value: Option<String>,
    pub headers: Vec<(String, String)>,
}

/// A page of records and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    pub records: Vec<BrowsedRecord>,
    /// The offset after the last record read (matching or not): where to continue.
    pub next_offset: i64,
    /// The partition's log start and end when the page was read.
    pub log_start: i64,
    pub log_end: i64,
}

/// Reads one page. It ends at the log end, at a limit of `request`, or when the connection's
/// timeout has passed, whichever comes first.
pub fn read_page(connection: &Connection, request: &PageRequest) -> Result<Page, CliError> {
    let (_, metadata) = client::probe(connection)?;
    let topic = &request.topic;
    let partition = request.partition;
    if !client::partitions(&metadata, topic)?.contains(&partition) {
        return Err(CliError::BadArguments(format!(
            "topic {topic} has no partition {partition}"
        )));
    }
    // A group id only because librdkafka wants one to assign; nothing is committed.
    let consumer: BaseConsumer<Observer> = client::config(connection)?
        .set("group.id", "runnel-browse")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create_with_context(Observer::default())
        .map_err(|e| CliError::kafka("create a consumer", e))?;
    let action = || format!("read {topic}-{partition}");
    let (log_start, log_end) = consumer
        .fetch_watermarks(topic, partition, connection.timeout())
        .map_err(|e| CliError::kafka(action(), e))?;
    let first = position::resolve(
        &consumer,
        topic,
        &[(partition, request.start)],
        connection.timeout(),
    )?
    .first()
    .map_or(log_end, |&(_, offset)| offset);
    let mut page = Page {
        records: Vec::new(),
        next_offset: first,
        log_start,
        log_end,
    };
    if first >= log_end {
        return Ok(page);
    }
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, partition, Offset::Offset(first))
        .map_err(|e| CliError::kafka(action(), e))?;
    consumer
        .assign(&assignment)
        .map_err(|e| CliError::kafka(action(), e))?;
    let deadline = Instant::now() + connection.timeout();
    let mut bytes = 0;
    let mut scanned = 0;
    while page.next_offset < log_end
        && page.records.len() < request.max_records
        && bytes < request.max_bytes
        && scanned < request.max_scanned
    {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let Some(polled) = consumer.poll(left.min(Duration::from_millis(200))) else {
            continue;
        };
        let message = polled.map_err(|e| CliError::kafka(action(), e))?;
        scanned += 1;
        page.next_offset = message.offset() + 1;
        let text = |bytes: Option<&[u8]>| bytes.map(|b| String::from_utf8_lossy(b).into_owned());
        let key = text(message.key());
        let value = text(message.payload());
        let matches = request.contains.as_deref().is_none_or(|needle| {
            [&key, &value]
                .into_iter()
                .any(|field| field.as_deref().is_some_and(|f| f.contains(needle)))
        });
        if !matches {
            continue;
        }
        bytes += key.as_ref().map_or(0, String::len) + value.as_ref().map_or(0, String::len);
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| (h.key.to_owned(), text(h.value).unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        page.records.push(BrowsedRecord {
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key,
            value,
            headers,
        });
    }
    Ok(page)
}
