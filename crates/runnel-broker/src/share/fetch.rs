//! Acquiring and settling records against the partition logs, and what follows a
//! settlement: dead-lettering and storing the new state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use runnel_log::{AbortedTxn, BatchBuilder, BatchHeader, Batches, Compression, Log, LogError};
use tokio::time::Instant;

use super::config::{Isolation, OffsetReset};
use super::records::{
    AckError, AckType, AcquiredRange, Archived, MemberId, ShareRecords, RENEW_CODE,
};
use super::store::{self, ShareKey};
use super::{Settled, SharePartition};
use crate::broker::BrokerState;
use crate::topics::{Partition, TopicError};

/// Bytes read per step when collecting the batches of acquired records.
const READ_CHUNK: usize = 1 << 20;

/// Header names of a dead-lettered record.
pub const DLQ_HEADERS: [&str; 6] = [
    "__dlq.errors.group",
    "__dlq.errors.topic",
    "__dlq.errors.partition",
    "__dlq.errors.offset",
    "__dlq.errors.delivery.count",
    "__dlq.errors.reason",
];

/// Acknowledgements of one partition: `(first, last, types)`, where `types` holds one type
/// for the whole range or one per offset.
#[derive(Debug, Clone)]
pub struct PartitionAcks {
    pub topic: String,
    pub partition: i32,
    pub batches: Vec<(i64, i64, Vec<i8>)>,
}

/// Applies acknowledgements; returns the error code per partition (0 when all applied).
/// `renew_until` allows renewals (ShareAcknowledge v2), extending locks to that time; without
/// it a renewal is an unknown type.
pub fn acknowledge(
    state: &BrokerState,
    group: &str,
    member: &str,
    acks: &[PartitionAcks],
    renew_until: Option<i64>,
    settled: &mut Settled,
) -> Vec<((String, i32), i16)> {
    let limits = state.shares.settings(group).limits;
    let mut out = Vec::with_capacity(acks.len());
    for partition_acks in acks {
        let topic_id = state
            .topics
            .get(&partition_acks.topic)
            .filter(|t| t.partition(partition_acks.partition).is_some())
            .map(|t| t.id);
        let code = if let Some(topic_id) = topic_id {
            let key = ShareKey {
                group: group.to_owned(),
                topic: partition_acks.topic.clone(),
                topic_id,
                partition: partition_acks.partition,
            };
            let share = state.shares.partition(&key);
            let mut archived = Vec::new();
            let result = {
                let mut guard = share.lock();
                match guard.records.as_mut() {
                    None => Err(ResponseError::InvalidRecordState),
                    Some(records) => partition_acks.batches.iter().try_for_each(|(f, l, t)| {
                        let ack = Acknowledgement {
                            first: *f,
                            last: *l,
                            types: t,
                            renew_until,
                        };
                        apply(records, member, ack, limits, &mut archived)
                    }),
                }
            };
            settled.add(&share, archived);
            result.map_or_else(|e| e.code(), |()| 0)
        } else {
            ResponseError::UnknownTopicOrPartition.code()
        };
        out.push((
            (partition_acks.topic.clone(), partition_acks.partition),
            code,
        ));
    }
    out
}

/// One acknowledgement batch of a request.
struct Acknowledgement<'a> {
    first: i64,
    last: i64,
    /// One type for the whole range, or one per offset.
    types: &'a [i8],
    renew_until: Option<i64>,
}

fn apply(
    records: &mut ShareRecords,
    member: &str,
    ack: Acknowledgement<'_>,
    limits: super::records::Limits,
    archived: &mut Vec<Archived>,
) -> Result<(), ResponseError> {
    let Acknowledgement {
        first,
        last,
        types,
        renew_until,
    } = ack;
    let span = last.checked_sub(first).and_then(|d| d.checked_add(1));
    let per_offset = span.is_some_and(|n| n > 1 && usize::try_from(n) == Ok(types.len()));
    let parse = |t: i8| match (t, renew_until) {
        (RENEW_CODE, Some(until_ms)) => Ok(AckType::Renew { until_ms }),
        _ => AckType::from_wire(t).ok_or(ResponseError::InvalidRequest),
    };
    let map = |e: AckError| match e {
        AckError::NotAcquired(_) => ResponseError::InvalidRecordState,
        AckError::BadRange { .. } => ResponseError::InvalidRequest,
    };
    if per_offset {
        for (offset, t) in (first..=last).zip(types) {
            archived.extend(
                records
                    .acknowledge(member, offset, offset, parse(*t)?, limits)
                    .map_err(map)?,
            );
        }
        return Ok(());
    }
    let [t] = types else {
        return Err(ResponseError::InvalidRequest);
    };
    archived.extend(
        records
            .acknowledge(member, first, last, parse(*t)?, limits)
            .map_err(map)?,
    );
    Ok(())
}

/// Records acquired from one partition: the batches holding them and the ranges.
#[derive(Debug, Clone)]
pub struct Acquired {
    pub topic: String,
    pub partition: i32,
    pub error: i16,
    pub records: Vec<u8>,
    pub ranges: Vec<AcquiredRange>,
}

/// What a fetch may take.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub max_records: usize,
    pub max_bytes: usize,
    pub max_wait: Duration,
}

/// A partition to acquire from: topic, index, and the topic's id and log when it exists.
type Target = (String, i32, Option<(uuid::Uuid, Arc<Partition>)>);

/// The partitions of a share session in the order a fetch serves them: rotated by the
/// session epoch, as Kafka's round-robin strategy does, so that when a fetch's records or
/// bytes run out before its last partition, the next fetch starts further on and no
/// partition is starved. The first fetch of a session (epoch 0) and the closing one (-1) keep
/// the session's order.
pub fn in_fetch_order(mut partitions: Vec<(String, i32)>, epoch: i32) -> Vec<(String, i32)> {
    if let (Ok(epoch), false) = (usize::try_from(epoch), partitions.is_empty()) {
        let at = epoch % partitions.len();
        partitions.rotate_left(at);
    }
    partitions
}

/// The bytes a fetch's partition may take, Kafka's uniform strategy: `max_bytes` split
/// evenly over the `partitions` of the fetch; when there are fewer bytes than partitions,
/// one byte each for the first `max_bytes` partitions in fetch order (Kafka picks them at
/// random; the rotation of [`in_fetch_order`] spreads them here) and none for the others.
fn partition_max_bytes(max_bytes: usize, partitions: usize, position: usize) -> usize {
    if partitions == 0 {
        0
    } else if max_bytes >= partitions {
        max_bytes / partitions
    } else {
        usize::from(position < max_bytes)
    }
}

/// Acquires records for `member` from `partitions`, waiting up to `max_wait` for some.
pub async fn acquire(
    state: &Arc<BrokerState>,
    group: &str,
    member: &str,
    partitions: &[(String, i32)],
    budget: Budget,
) -> Vec<Acquired> {
    let deadline = Instant::now() + budget.max_wait;
    let member = super::member_id(member);
    let targets: Vec<Target> = partitions
        .iter()
        .map(|(topic, index)| {
            let log = state
                .topics
                .get(topic)
                .and_then(|t| Some((t.id, t.partition(*index)?)));
            (topic.clone(), *index, log)
        })
        .collect();
    loop {
        let mut changes: Vec<_> = targets
            .iter()
            .filter_map(|(_, _, p)| p.as_ref().map(|(_, p)| Box::pin(p.changed())))
            .collect();
        for change in &mut changes {
            change.as_mut().enable();
        }
        let out = acquire_once(state, group, &member, &targets, budget);
        let got = out.iter().any(|a| !a.ranges.is_empty() || a.error != 0);
        if got || Instant::now() >= deadline || state.is_shutting_down() {
            return out;
        }
        let _parked = state.park_fetch();
        tokio::select! {
            _ = crate::handlers::any_of(&mut changes) => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = state.shutting_down() => {}
        }
    }
}

fn acquire_once(
    state: &BrokerState,
    group: &str,
    member: &MemberId,
    targets: &[Target],
    budget: Budget,
) -> Vec<Acquired> {
    let settings = state.shares.settings(group);
    let now = state.shares.now_ms();
    let mut records_left = budget.max_records;
    // Only the first partition to give records may go over its share, by one batch (Kafka's
    // `minOneMessage`): a fetch always makes progress, and is never much over MaxBytes.
    let mut may_exceed = true;
    let mut out = Vec::with_capacity(targets.len());
    for (position, (topic, index, log)) in targets.iter().enumerate() {
        let mut acquired = Acquired {
            topic: topic.clone(),
            partition: *index,
            error: 0,
            records: Vec::new(),
            ranges: Vec::new(),
        };
        let Some((topic_id, log)) = log else {
            acquired.error = ResponseError::UnknownTopicOrPartition.code();
            out.push(acquired);
            continue;
        };
        let bytes = ByteLimit {
            max: partition_max_bytes(budget.max_bytes, targets.len(), position),
            may_exceed,
        };
        if records_left == 0 || bytes.max == 0 {
            out.push(acquired);
            continue;
        }
        let key = ShareKey {
            group: group.to_owned(),
            topic: topic.clone(),
            topic_id: *topic_id,
            partition: *index,
        };
        let share = state.shares.partition(&key);
        match acquire_partition(
            &share,
            &log.log,
            member,
            now,
            &settings,
            records_left,
            bytes,
        ) {
            Ok((ranges, batches)) => {
                records_left -= ranges
                    .iter()
                    .map(|r| (r.last - r.first + 1) as usize)
                    .sum::<usize>()
                    .min(records_left);
                may_exceed &= batches.is_empty();
                acquired.ranges = ranges;
                acquired.records = batches;
            }
            Err(error) => acquired.error = crate::error::log_error_code(&error),
        }
        out.push(acquired);
    }
    out
}

/// How many bytes of new records one partition of a fetch may give.
#[derive(Debug, Clone, Copy)]
struct ByteLimit {
    max: usize,
    /// Whether one batch larger than `max` may still be given.
    may_exceed: bool,
}

/// Acquires from one share-partition: redeliveries first, then new records.
fn acquire_partition(
    share: &SharePartition,
    log: &Log,
    member: &MemberId,
    now: i64,
    settings: &super::config::GroupSettings,
    max_records: usize,
    bytes: ByteLimit,
) -> Result<(Vec<AcquiredRange>, Vec<u8>), LogError> {
    let limits = settings.limits;
    let mut guard = share.lock();
    let log_start = log.log_start_offset();
    let high_watermark = log.high_watermark();
    let records = guard.records.get_or_insert_with(|| {
        ShareRecords::new(match settings.offset_reset {
            OffsetReset::Earliest => log_start,
            OffsetReset::Latest => high_watermark,
        })
    });
    if records.start() > high_watermark {
        // The log is shorter than the state remembers (the topic was recreated).
        records.reset(high_watermark);
    }
    records.skip_to(log_start);
    let mut ranges = records.acquire_available(member, now, limits, max_records);
    let taken: usize = ranges.iter().map(|r| (r.last - r.first + 1) as usize).sum();
    let readable_end = match settings.isolation {
        Isolation::ReadUncommitted => high_watermark,
        Isolation::ReadCommitted => log.last_stable_offset(),
    };
    let mut fresh = Vec::new();
    if taken < max_records && records.room(limits) > 0 && records.end() < readable_end {
        let from = records.end();
        let read = log.read(from, bytes.max)?;
        // The read goes over its limit only with a single batch larger than it.
        let batches: &[u8] = if read.records.len() > bytes.max && !bytes.may_exceed {
            &[]
        } else {
            &read.records
        };
        // Asked after the read, so it covers every aborted batch the read returned.
        let aborted = match settings.isolation {
            Isolation::ReadUncommitted => Vec::new(),
            Isolation::ReadCommitted => log.aborted_transactions(from, readable_end),
        };
        let mut spans = Vec::new();
        let mut upto = from;
        for item in Batches::new(batches) {
            let (header, _) = item?;
            if header.base_offset >= readable_end {
                break;
            }
            // Control batches and, for read_committed, aborted ones become holes: archived
            // undelivered, as Kafka archives them.
            if !header.is_control() && !aborted_batch(&header, &aborted) {
                spans.push((header.base_offset, header.last_offset()));
            }
            upto = upto.max(header.last_offset() + 1);
        }
        let new = records.acquire_new(member, now, limits, max_records - taken, &spans, upto);
        if ranges.is_empty() {
            fresh = keep_overlapping(batches, &new);
        }
        ranges.extend(new);
    }
    drop(guard);
    if ranges.is_empty() || !fresh.is_empty() {
        return Ok((ranges, fresh));
    }
    ranges.sort_by_key(|r| r.first);
    let bytes = collect_batches(log, &ranges)?;
    Ok((ranges, bytes))
}

/// Whether a batch belongs to one of the aborted transactions (those overlapping the read).
fn aborted_batch(header: &BatchHeader, aborted: &[AbortedTxn]) -> bool {
    header.is_transactional()
        && aborted.iter().any(|txn| {
            txn.producer_id == header.producer_id
                && (txn.first_offset..=txn.last_offset).contains(&header.base_offset)
        })
}

/// The batches of `buf` holding any acquired offset.
fn keep_overlapping(buf: &[u8], ranges: &[AcquiredRange]) -> Vec<u8> {
    let mut out = Vec::new();
    for (header, bytes) in Batches::new(buf).map_while(Result::ok) {
        let (first, last) = (header.base_offset, header.last_offset());
        if ranges.iter().any(|r| r.first <= last && first <= r.last) {
            out.extend_from_slice(bytes);
        }
    }
    out
}

/// Reads the batches holding the acquired offsets (sorted ranges), each batch once.
fn collect_batches(log: &Log, ranges: &[AcquiredRange]) -> Result<Vec<u8>, LogError> {
    let mut out = Vec::new();
    let Some(end) = ranges.last().map(|r| r.last) else {
        return Ok(out);
    };
    let mut next = ranges[0].first;
    while next <= end {
        let read = log.read(next, READ_CHUNK)?;
        if read.records.is_empty() {
            break;
        }
        for item in Batches::new(&read.records) {
            let (header, bytes) = item?;
            let (first, last) = (header.base_offset, header.last_offset());
            if last >= next && ranges.iter().any(|r| r.first <= last && first <= r.last) {
                out.extend_from_slice(bytes);
            }
            next = next.max(last + 1);
        }
    }
    Ok(out)
}

/// After a settlement: writes dead letters, then stores the changed share-partitions, then
/// wakes fetches waiting on them (released records may be redelivered).
pub async fn finish(state: &Arc<BrokerState>, settled: Settled) -> Result<(), LogError> {
    if settled.is_empty() {
        return Ok(());
    }
    for (partition, archived) in &settled.archived {
        dead_letter(state, partition, archived).await?;
    }
    let changes: Vec<_> = settled
        .changed
        .iter()
        .filter_map(|p| p.snapshot())
        .collect();
    store::persist(state, &changes).await?;
    for partition in &settled.changed {
        if let Some(log) = state
            .topics
            .get(&partition.key.topic)
            .filter(|t| t.id == partition.key.topic_id)
            .and_then(|t| t.partition(partition.key.partition))
        {
            log.notify();
        }
    }
    Ok(())
}

/// Copies archived records to the group's dead-letter topic, with headers saying where they
/// came from and why. Without a dead-letter topic they are only counted.
async fn dead_letter(
    state: &Arc<BrokerState>,
    partition: &SharePartition,
    archived: &[Archived],
) -> Result<(), LogError> {
    let key = &partition.key;
    let Some(topic_name) = state.shares.settings(&key.group).dead_letter_topic else {
        return Ok(());
    };
    let Some(source) = state
        .topics
        .get(&key.topic)
        .filter(|t| t.id == key.topic_id)
        .and_then(|t| t.partition(key.partition))
    else {
        return Ok(());
    };
    let target = dead_letter_topic(state, &topic_name).await?;
    let partitions = target.partitions();
    let Some(out) = partitions
        .get(key.partition as usize % partitions.len().max(1))
        .cloned()
    else {
        return Ok(());
    };
    let wanted: BTreeMap<i64, &Archived> = archived.iter().map(|a| (a.offset, a)).collect();
    let mut builder = BatchBuilder::new(Compression::None);
    let (Some(&first), Some(&last)) = (wanted.keys().next(), wanted.keys().next_back()) else {
        return Ok(());
    };
    let mut next = first;
    while next <= last {
        let read = source.log.read(next, READ_CHUNK)?;
        if read.records.is_empty() {
            break;
        }
        for item in Batches::new(&read.records) {
            let (header, bytes) = item?;
            next = next.max(header.last_offset() + 1);
            if header.is_control() {
                continue;
            }
            let payload = runnel_log::batch_payload(&header, bytes)?;
            for record in runnel_log::parse_records(&header, &payload)? {
                let Some(a) = wanted.get(&record.offset) else {
                    continue;
                };
                let values = [
                    key.group.clone(),
                    key.topic.clone(),
                    key.partition.to_string(),
                    a.offset.to_string(),
                    a.deliveries.to_string(),
                    a.reason.name().to_owned(),
                ];
                let mut headers: Vec<(&[u8], Option<&[u8]>)> =
                    record.headers.iter().map(|h| (h.key, h.value)).collect();
                for (name, value) in DLQ_HEADERS.iter().zip(&values) {
                    headers.push((name.as_bytes(), Some(value.as_bytes())));
                }
                builder.push(record.timestamp, record.key, record.value, &headers);
            }
        }
    }
    if builder.is_empty() {
        return Ok(());
    }
    out.append(builder.build()?).await?;
    Ok(())
}

/// The dead-letter topic, created with the broker's default partition count if missing.
async fn dead_letter_topic(
    state: &Arc<BrokerState>,
    name: &str,
) -> Result<Arc<crate::topics::Topic>, LogError> {
    if let Some(topic) = state.topics.get(name) {
        return Ok(topic);
    }
    let s = Arc::clone(state);
    let owned = name.to_owned();
    let created = tokio::task::spawn_blocking(move || {
        s.topics
            .create(&owned, s.config.num_partitions, BTreeMap::new(), false)
    })
    .await
    .map_err(|e| LogError::Io {
        path: name.into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    match created {
        Ok(topic) => Ok(topic),
        Err(TopicError::Exists(_)) => state.topics.get(name).ok_or_else(|| LogError::Io {
            path: name.into(),
            source: std::io::Error::other("dead-letter topic vanished"),
        }),
        Err(e) => Err(LogError::Io {
            path: name.into(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partitions(n: i32) -> Vec<(String, i32)> {
        (0..n).map(|p| ("jobs".to_owned(), p)).collect()
    }

    fn order(n: i32, epoch: i32) -> Vec<i32> {
        in_fetch_order(partitions(n), epoch)
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    #[test]
    fn fetches_start_one_partition_further_at_each_epoch() {
        assert_eq!(order(3, 0), vec![0, 1, 2], "a new session");
        assert_eq!(order(3, -1), vec![0, 1, 2], "a closing session");
        assert_eq!(order(3, 1), vec![1, 2, 0]);
        assert_eq!(order(3, 2), vec![2, 0, 1]);
        assert_eq!(order(3, 3), vec![0, 1, 2]);
        assert_eq!(order(1, 7), vec![0]);
        assert!(order(0, 5).is_empty());
    }

    #[test]
    fn max_bytes_is_split_evenly_and_below_one_byte_each_goes_to_the_first() {
        let shares = |max_bytes: usize, n: usize| -> Vec<usize> {
            (0..n)
                .map(|p| partition_max_bytes(max_bytes, n, p))
                .collect()
        };
        assert_eq!(shares(3_000, 3), vec![1_000; 3]);
        assert_eq!(shares(1_001, 2), vec![500, 500]);
        assert_eq!(shares(3, 3), vec![1, 1, 1]);
        assert_eq!(shares(2, 3), vec![1, 1, 0]);
        assert_eq!(shares(0, 3), vec![0, 0, 0]);
        assert!(shares(10, 0).is_empty());
    }
}
