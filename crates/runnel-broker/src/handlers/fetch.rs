//! Fetch: serve stored batches, long-polling until `min_bytes` arrive or `max_wait_ms` passes.
//!
//! Waiting is driven by the partitions' append notifications, never by a polling timer: the
//! request registers interest in every partition it reads, then re-reads when one changes.
//!
//! Incremental fetch sessions (KIP-227) are kept in [`crate::fetch_sessions`]; this module
//! reads whatever partitions the session (or the full request) names.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId, TopicName};
use tokio::time::Instant;
use uuid::Uuid;

use runnel_acl::Operation;

use super::access::Access;
use crate::broker::BrokerState;
use crate::error::log_error_code;
use crate::fetch_sessions::{self, Plan, SessionPartition};
use crate::response::ByReference;
use crate::topics::Partition;

/// Topic ids replace names from this version on.
const TOPIC_ID_VERSION: i16 = 13;

struct Wanted {
    index: i32,
    fetch_offset: i64,
    max_bytes: usize,
    target: Result<Arc<Partition>, i16>,
    /// Position in the session's partition list, and what the client was last told.
    session_index: usize,
    sent_high_watermark: i64,
    sent_log_start: i64,
}

struct WantedTopic {
    name: TopicName,
    /// The id the request named (nil before v13).
    requested_id: Uuid,
    id: Uuid,
    partitions: Vec<Wanted>,
}

pub(crate) async fn handle(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: FetchRequest,
    version: i16,
) -> (FetchResponse, ByReference) {
    let mut response = FetchResponse::default();
    let (session_id, incremental, entries) = match state.fetch_sessions.begin(&request, version) {
        Plan::Error(code) => {
            response.error_code = code;
            return (response, ByReference::default());
        }
        Plan::Full { session_id } => (session_id, false, fetch_sessions::partitions_of(&request)),
        Plan::Incremental {
            session_id,
            partitions,
        } => (session_id, true, partitions),
    };
    response.session_id = session_id;
    let topics = resolve(state, access, &entries, version);
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let max_bytes = usize::try_from(request.max_bytes).unwrap_or(0);
    let wait = Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0));
    let deadline = Instant::now() + wait;
    let targets: Vec<Arc<Partition>> = topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .filter_map(|w| w.target.as_ref().ok().cloned())
        .collect();
    let committed = request.isolation_level == 1;

    loop {
        // Interest is registered before reading, so an append that lands between the read
        // and the wait still wakes this request.
        let mut changes: Vec<_> = targets.iter().map(|p| Box::pin(p.changed())).collect();
        for change in &mut changes {
            change.as_mut().enable();
        }
        let read = read_all(&topics, max_bytes, version, committed, incremental);
        if read.bytes >= min_bytes
            || read.failed
            || Instant::now() >= deadline
            || state.is_shutting_down()
        {
            if session_id != 0 {
                state.fetch_sessions.sent(session_id, &read.sent);
            }
            count_fetched(state, &read.responses, version);
            response.responses = read.responses;
            return (response, read.by_reference);
        }
        let _parked = state.park_fetch();
        tokio::select! {
            _ = super::any_of(&mut changes) => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = state.shutting_down() => {}
        }
    }
}

/// The record bytes a response carries: what a consumer's byte rate counts.
pub(crate) fn records_bytes(response: &FetchResponse) -> usize {
    response
        .responses
        .iter()
        .flat_map(|topic| &topic.partitions)
        .filter_map(|partition| partition.records.as_ref())
        .map(|records| records.len())
        .sum()
}

/// Counts the batches a response carries in the per-topic metrics.
fn count_fetched(state: &BrokerState, responses: &[FetchableTopicResponse], version: i16) {
    for response in responses {
        // Responses name their topic by id from v13 on, by name before.
        let topic = if version >= TOPIC_ID_VERSION {
            match state.topics.by_id(response.topic_id) {
                Some(topic) => topic.name.clone(),
                None => continue,
            }
        } else {
            response.topic.0.to_string()
        };
        for partition in &response.partitions {
            if let Some(records) = partition.records.as_ref().filter(|r| !r.is_empty()) {
                state.metrics.fetched(&topic, records);
            }
        }
    }
}

/// Finds each partition's log, grouping consecutive partitions of a topic as the response
/// lists them.
fn resolve(
    state: &BrokerState,
    access: &Access<'_>,
    entries: &[SessionPartition],
    version: i16,
) -> Vec<WantedTopic> {
    let by_id = version >= TOPIC_ID_VERSION;
    let mut topics: Vec<WantedTopic> = Vec::new();
    let mut found = None;
    for (session_index, entry) in entries.iter().enumerate() {
        let same_topic = topics.last().is_some_and(|t: &WantedTopic| {
            if by_id {
                t.requested_id == entry.topic_id
            } else {
                t.name == entry.topic
            }
        });
        if !same_topic {
            found = if by_id {
                state.topics.by_id(entry.topic_id)
            } else {
                state.topics.get(entry.topic.0.as_str())
            };
            topics.push(WantedTopic {
                name: entry.topic.clone(),
                requested_id: entry.topic_id,
                id: found.as_ref().map_or(entry.topic_id, |t| t.id),
                partitions: Vec::new(),
            });
        }
        let missing = if by_id {
            ResponseError::UnknownTopicId.code()
        } else {
            ResponseError::UnknownTopicOrPartition.code()
        };
        // As Kafka: READ on the topic is checked before its existence (by name; an id
        // names nothing until found).
        let name = found
            .as_ref()
            .map_or(entry.topic.0.as_str(), |t| t.name.as_str());
        let allowed = (by_id && found.is_none()) || access.topic(Operation::Read, name);
        let target = match &found {
            _ if !allowed => Err(ResponseError::TopicAuthorizationFailed.code()),
            None => Err(missing),
            Some(t) => t
                .partition(entry.partition)
                .ok_or(ResponseError::UnknownTopicOrPartition.code()),
        };
        if let Some(topic) = topics.last_mut() {
            topic.partitions.push(Wanted {
                index: entry.partition,
                fetch_offset: entry.fetch_offset,
                max_bytes: usize::try_from(entry.max_bytes).unwrap_or(0),
                target,
                session_index,
                sent_high_watermark: entry.sent_high_watermark,
                sent_log_start: entry.sent_log_start,
            });
        }
    }
    topics
}

/// What one pass over the wanted partitions produced.
struct Read {
    responses: Vec<FetchableTopicResponse>,
    /// Record bytes in the responses.
    bytes: usize,
    /// Whether any partition failed (which ends the wait).
    failed: bool,
    /// (session index, high watermark, log start) of every partition in the responses.
    sent: Vec<(usize, i64, i64)>,
    /// The records the responses carry by reference.
    by_reference: ByReference,
}

/// Reads every wanted partition within the byte limits. An incremental response leaves out
/// partitions with nothing new for the client.
fn read_all(
    topics: &[WantedTopic],
    max_bytes: usize,
    version: i16,
    committed: bool,
    incremental: bool,
) -> Read {
    let mut total = 0usize;
    let mut failed = false;
    let mut sent = Vec::new();
    let mut by_reference = ByReference::default();
    let mut responses = Vec::with_capacity(topics.len());
    for topic in topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for wanted in &topic.partitions {
            let mut data = PartitionData::default()
                .with_partition_index(wanted.index)
                .with_aborted_transactions(committed.then(Vec::new));
            match &wanted.target {
                Err(code) => {
                    failed = true;
                    data = data.with_error_code(*code).with_high_watermark(-1);
                }
                Ok(partition) => {
                    let log = &partition.log;
                    let last_stable = log.last_stable_offset();
                    // A read_committed reader stops at the last stable offset.
                    let limit = if committed { last_stable } else { i64::MAX };
                    data = data
                        .with_high_watermark(log.high_watermark())
                        .with_last_stable_offset(last_stable)
                        .with_log_start_offset(log.log_start_offset());
                    let budget = wanted.max_bytes.min(max_bytes.saturating_sub(total));
                    // KIP-74: the first batch of the first partition with data is returned
                    // even past the limits, so a large batch never blocks a consumer;
                    // later partitions only get what fits.
                    if budget > 0 || total == 0 {
                        let read = log.read_below(
                            wanted.fetch_offset,
                            if total == 0 { budget.max(1) } else { budget },
                            limit,
                            total == 0,
                        );
                        match read {
                            Ok(read) => {
                                data = data
                                    .with_high_watermark(read.high_watermark)
                                    .with_log_start_offset(read.log_start_offset);
                                if !read.records.is_empty() {
                                    if committed {
                                        // The client drops the records of these ranges.
                                        let aborted = log
                                            .aborted_transactions(wanted.fetch_offset, last_stable)
                                            .into_iter()
                                            .map(|t| {
                                                AbortedTransaction::default()
                                                    .with_producer_id(ProducerId(t.producer_id))
                                                    .with_first_offset(t.first_offset)
                                            })
                                            .collect();
                                        data = data.with_aborted_transactions(Some(aborted));
                                    }
                                    total += read.records.len();
                                    let records = Bytes::from(read.records);
                                    by_reference.add(&records);
                                    data = data.with_records(Some(records));
                                }
                            }
                            Err(error) => {
                                failed = true;
                                data = data.with_error_code(log_error_code(&error));
                            }
                        }
                    }
                }
            }
            let news = data.error_code != 0
                || data.records.as_ref().is_some_and(|r| !r.is_empty())
                || data.high_watermark != wanted.sent_high_watermark
                || data.log_start_offset != wanted.sent_log_start;
            if !incremental || news {
                sent.push((
                    wanted.session_index,
                    data.high_watermark,
                    data.log_start_offset,
                ));
                partitions.push(data);
            }
        }
        if incremental && partitions.is_empty() {
            continue;
        }
        let mut response = FetchableTopicResponse::default().with_partitions(partitions);
        if version >= TOPIC_ID_VERSION {
            response.topic_id = topic.id;
        } else {
            response.topic = topic.name.clone();
        }
        responses.push(response);
    }
    Read {
        responses,
        bytes: total,
        failed,
        sent,
        by_reference,
    }
}
