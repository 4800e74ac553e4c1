//! Committed offsets in the internal compacted topic `__consumer_offsets`.
//!
//! Each commit is one record. Its key names group, topic and partition; its value holds the
//! offset, leader epoch, commit time and metadata; a null value (tombstone) deletes the
//! commit, and compaction eventually drops superseded records. The format is Runnel's own
//! (version byte first), not Kafka's:
//!
//! ```text
//! key:   u8 version=1 | u16 len | group | u16 len | topic | i32 partition
//! value: u8 version=1 | i64 offset | i32 leader epoch | i64 commit time | i32 len (-1 null) | metadata
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::{Buf, BufMut};
use runnel_log::{BatchBuilder, Compression, LogError};

use crate::broker::BrokerState;
use crate::topics::{Partition, Topic, TopicError};

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
const FORMAT: u8 = 1;
/// Kafka's `offset.metadata.max.bytes` default.
pub const MAX_METADATA_BYTES: usize = 4096;

/// One committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
    pub commit_time_ms: i64,
}

/// (topic, partition) → commit.
pub type GroupOffsets = BTreeMap<(String, i32), Committed>;

/// Commits of one group to store: (topic, partition) and the commit, or `None` to delete it.
pub type Commits = Vec<((String, i32), Option<Committed>)>;

pub fn encode_key(group: &str, topic: &str, partition: i32) -> Vec<u8> {
    let mut key = Vec::with_capacity(9 + group.len() + topic.len());
    key.put_u8(FORMAT);
    put_str(&mut key, group);
    put_str(&mut key, topic);
    key.put_i32(partition);
    key
}

pub fn put_str(out: &mut Vec<u8>, s: &str) {
    // Group ids and topic names are bounded well below u16 (checked by the callers).
    out.put_u16(u16::try_from(s.len()).unwrap_or(u16::MAX));
    out.put_slice(&s.as_bytes()[..s.len().min(usize::from(u16::MAX))]);
}

pub fn encode_value(c: &Committed) -> Vec<u8> {
    let mut value = Vec::with_capacity(25 + c.metadata.as_ref().map_or(0, String::len));
    value.put_u8(FORMAT);
    value.put_i64(c.offset);
    value.put_i32(c.leader_epoch);
    value.put_i64(c.commit_time_ms);
    match &c.metadata {
        None => value.put_i32(-1),
        Some(m) => {
            value.put_i32(i32::try_from(m.len()).unwrap_or(i32::MAX));
            value.put_slice(m.as_bytes());
        }
    }
    value
}

pub fn get_str(buf: &mut &[u8]) -> Option<String> {
    if buf.remaining() < 2 {
        return None;
    }
    let len = usize::from(buf.get_u16());
    if buf.remaining() < len {
        return None;
    }
    let s = std::str::from_utf8(&buf[..len]).ok()?.to_owned();
    buf.advance(len);
    Some(s)
}

pub fn decode_key(mut key: &[u8]) -> Option<(String, String, i32)> {
    if key.first() != Some(&FORMAT) {
        return None;
    }
    key.advance(1);
    let group = get_str(&mut key)?;
    let topic = get_str(&mut key)?;
    if key.remaining() != 4 {
        return None;
    }
    Some((group, topic, key.get_i32()))
}

pub fn decode_value(mut value: &[u8]) -> Option<Committed> {
    if value.first() != Some(&FORMAT) || value.len() < 25 {
        return None;
    }
    value.advance(1);
    let offset = value.get_i64();
    let leader_epoch = value.get_i32();
    let commit_time_ms = value.get_i64();
    let len = value.get_i32();
    let metadata = if len < 0 {
        None
    } else {
        let len = usize::try_from(len).ok()?;
        if value.remaining() != len {
            return None;
        }
        Some(std::str::from_utf8(value).ok()?.to_owned())
    };
    Some(Committed {
        offset,
        leader_epoch,
        metadata,
        commit_time_ms,
    })
}

/// A stable hash (FNV-1a) choosing the offsets partition of a group; stable across
/// restarts and platforms, unlike `DefaultHasher`.
pub fn partition_for(group: &str, partitions: usize) -> usize {
    let mut hash: u32 = 0x811c_9dc5;
    for b in group.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash as usize % partitions.max(1)
}

/// The offsets topic, created (compacted) on first start.
pub fn offsets_topic(state: &BrokerState) -> Result<Arc<Topic>, TopicError> {
    if let Some(topic) = state.topics.get(OFFSETS_TOPIC) {
        return Ok(topic);
    }
    let mut overrides = BTreeMap::new();
    overrides.insert("cleanup.policy".to_owned(), "compact".to_owned());
    // Small segments so compaction (which never touches the active segment) can run.
    overrides.insert("segment.bytes".to_owned(), (100 * 1024 * 1024).to_string());
    state.topics.create(
        OFFSETS_TOPIC,
        state.config.offsets_topic_partitions,
        overrides,
        true,
    )
}

/// The offsets topic could not be opened or created: a storage problem to the caller.
fn unavailable(error: TopicError) -> LogError {
    LogError::Io {
        path: OFFSETS_TOPIC.into(),
        source: std::io::Error::other(error.to_string()),
    }
}

/// Writes commits (or tombstones, for `None`) of one group as one batch, durably per the
/// topic's flush settings. Returns once appended.
pub async fn persist(
    state: &BrokerState,
    group: &str,
    commits: &[((String, i32), Option<Committed>)],
) -> Result<(), LogError> {
    persist_batch(state, group, commits, BatchBuilder::new(Compression::None)).await
}

/// As [`persist`], inside the transaction of `producer_id`: the commits stay invisible
/// until the transaction's commit marker reaches the group's offsets partition.
pub async fn persist_transactional(
    state: &BrokerState,
    group: &str,
    commits: &[((String, i32), Option<Committed>)],
    producer_id: i64,
    producer_epoch: i16,
) -> Result<(), LogError> {
    let builder = BatchBuilder::new(Compression::None)
        .producer(producer_id, producer_epoch, -1)
        .transactional();
    persist_batch(state, group, commits, builder).await
}

/// The offsets partition holding `group`'s commits.
pub fn partition_of(state: &BrokerState, group: &str) -> Result<Arc<Partition>, LogError> {
    let topic = offsets_topic(state).map_err(unavailable)?;
    let partitions = topic.partitions();
    Ok(Arc::clone(
        &partitions[partition_for(group, partitions.len())],
    ))
}

async fn persist_batch(
    state: &BrokerState,
    group: &str,
    commits: &[((String, i32), Option<Committed>)],
    mut builder: BatchBuilder,
) -> Result<(), LogError> {
    if commits.is_empty() {
        return Ok(());
    }
    let partition = partition_of(state, group)?;
    let now = runnel_log::Clock::now_ms(&runnel_log::SystemClock);
    for ((topic_name, index), commit) in commits {
        let key = encode_key(group, topic_name, *index);
        let value = commit.as_ref().map(encode_value);
        builder.push(now, Some(&key), value.as_deref(), &[]);
    }
    let batch = builder.build()?;
    partition.append(batch).await.map(|_| ())
}

/// What replaying the offsets topic finds: committed offsets, and the offsets of open
/// transactions (by producer id) that become visible only if their transaction commits.
#[derive(Debug, Default)]
pub struct Loaded {
    pub groups: HashMap<String, GroupOffsets>,
    pub pending: HashMap<i64, Vec<PendingCommit>>,
}

/// An offset committed inside a transaction, not yet visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCommit {
    pub group: String,
    pub key: (String, i32),
    pub commit: Option<Committed>,
}

/// Replays the offsets topic: records outside transactions apply at once, records of a
/// transaction when its commit marker is reached. Blocking.
pub fn load(state: &BrokerState) -> Result<Loaded, LogError> {
    let mut loaded = Loaded::default();
    let topic = offsets_topic(state).map_err(unavailable)?;
    replay_batches(&topic, |header, batch, from| {
        if header.is_control() {
            if let Some(marker) = runnel_log::TxnMarker::from_batch(header, batch)? {
                let pending = loaded.pending.remove(&marker.producer_id);
                if marker.commit {
                    for p in pending.into_iter().flatten() {
                        apply(&mut loaded.groups, p);
                    }
                }
            }
            return Ok(());
        }
        let payload = runnel_log::batch_payload(header, batch)?;
        for record in runnel_log::parse_records(header, &payload)? {
            if record.offset < from {
                continue;
            }
            let Some(commit) = decode_record(record.key, record.value) else {
                tracing::warn!("skipping unreadable record in {OFFSETS_TOPIC}");
                continue;
            };
            if header.is_transactional() {
                loaded
                    .pending
                    .entry(header.producer_id)
                    .or_default()
                    .push(commit);
            } else {
                apply(&mut loaded.groups, commit);
            }
        }
        Ok(())
    })?;
    loaded.groups.retain(|_, offsets| !offsets.is_empty());
    Ok(loaded)
}

/// Hands every batch of `topic`, partition by partition in offset order from the log start,
/// to `visit` with its header, its bytes and the offset below which its records are gone.
pub fn replay_batches(
    topic: &Topic,
    mut visit: impl FnMut(&runnel_log::BatchHeader, &[u8], i64) -> Result<(), LogError>,
) -> Result<(), LogError> {
    for partition in topic.partitions().iter() {
        let log = &partition.log;
        let mut next = log.log_start_offset();
        while next < log.high_watermark() {
            let read = log.read(next, 1 << 20)?;
            if read.records.is_empty() {
                break;
            }
            for item in runnel_log::Batches::new(&read.records) {
                let (header, bytes) = item?;
                if header.last_offset() >= next {
                    visit(&header, bytes, next)?;
                }
                next = next.max(header.last_offset() + 1);
            }
        }
    }
    Ok(())
}

/// Hands every data record of `topic` to `visit`, in offset order per partition.
pub fn replay_records(
    topic: &Topic,
    mut visit: impl FnMut(runnel_log::Record<'_>),
) -> Result<(), LogError> {
    replay_batches(topic, |header, batch, from| {
        if header.is_control() {
            return Ok(());
        }
        let payload = runnel_log::batch_payload(header, batch)?;
        for record in runnel_log::parse_records(header, &payload)? {
            if record.offset >= from {
                visit(record);
            }
        }
        Ok(())
    })
}

fn decode_record(key: Option<&[u8]>, value: Option<&[u8]>) -> Option<PendingCommit> {
    let (group, topic, partition) = key.and_then(decode_key)?;
    let commit = match value {
        None => None,
        Some(value) => Some(decode_value(value)?),
    };
    Some(PendingCommit {
        group,
        key: (topic, partition),
        commit,
    })
}

fn apply(groups: &mut HashMap<String, GroupOffsets>, pending: PendingCommit) {
    match pending.commit {
        None => {
            if let Some(offsets) = groups.get_mut(&pending.group) {
                offsets.remove(&pending.key);
            }
        }
        Some(commit) => {
            groups
                .entry(pending.group)
                .or_default()
                .insert(pending.key, commit);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn keys_and_values_round_trip_and_garbage_is_refused() {
        let key = encode_key("g", "orders", 7);
        assert_eq!(decode_key(&key), Some(("g".into(), "orders".into(), 7)));
        let commit = Committed {
            offset: 42,
            leader_epoch: 0,
            metadata: Some("meta".into()),
            commit_time_ms: 5,
        };
        assert_eq!(decode_value(&encode_value(&commit)), Some(commit.clone()));
        let none = Committed {
            metadata: None,
            ..commit
        };
        assert_eq!(decode_value(&encode_value(&none)), Some(none));
        for cut in 0..key.len() {
            assert_eq!(decode_key(&key[..cut]), None);
        }
        assert_eq!(decode_value(&[1, 2, 3]), None);
    }

    #[test]
    fn partition_choice_is_stable() {
        assert_eq!(partition_for("group-a", 50), partition_for("group-a", 50));
        assert!(partition_for("anything", 3) < 3);
        assert_eq!(partition_for("x", 1), 0);
    }
}
