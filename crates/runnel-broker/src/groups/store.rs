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
use crate::topics::{Topic, TopicError};

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

pub fn encode_key(group: &str, topic: &str, partition: i32) -> Vec<u8> {
    let mut key = Vec::with_capacity(9 + group.len() + topic.len());
    key.put_u8(FORMAT);
    put_str(&mut key, group);
    put_str(&mut key, topic);
    key.put_i32(partition);
    key
}

fn put_str(out: &mut Vec<u8>, s: &str) {
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

fn get_str(buf: &mut &[u8]) -> Option<String> {
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
    if commits.is_empty() {
        return Ok(());
    }
    let topic = offsets_topic(state).map_err(unavailable)?;
    let partitions = topic.partitions();
    let partition = Arc::clone(&partitions[partition_for(group, partitions.len())]);
    let now = runnel_log::Clock::now_ms(&runnel_log::SystemClock);
    let mut builder = BatchBuilder::new(Compression::None);
    for ((topic_name, index), commit) in commits {
        let key = encode_key(group, topic_name, *index);
        let value = commit.as_ref().map(encode_value);
        builder.push(now, Some(&key), value.as_deref(), &[]);
    }
    let batch = builder.build()?;
    partition.append(batch).await.map(|_| ())
}

/// Replays the offsets topic into group → offsets. Blocking.
pub fn load(state: &BrokerState) -> Result<HashMap<String, GroupOffsets>, LogError> {
    let mut groups: HashMap<String, GroupOffsets> = HashMap::new();
    let topic = offsets_topic(state).map_err(unavailable)?;
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
                if !header.is_control() {
                    let payload = runnel_log::batch_payload(&header, bytes)?;
                    for record in runnel_log::parse_records(&header, &payload)? {
                        if record.offset < next {
                            continue; // the read starts at the batch holding `next`
                        }
                        apply(&mut groups, record.key, record.value);
                    }
                }
                next = next.max(header.last_offset() + 1);
            }
        }
    }
    groups.retain(|_, offsets| !offsets.is_empty());
    Ok(groups)
}

fn apply(groups: &mut HashMap<String, GroupOffsets>, key: Option<&[u8]>, value: Option<&[u8]>) {
    let Some((group, topic, partition)) = key.and_then(decode_key) else {
        tracing::warn!("skipping unreadable record in {OFFSETS_TOPIC}");
        return;
    };
    match value {
        None => {
            if let Some(offsets) = groups.get_mut(&group) {
                offsets.remove(&(topic, partition));
            }
        }
        Some(value) => match decode_value(value) {
            Some(commit) => {
                groups
                    .entry(group)
                    .or_default()
                    .insert((topic, partition), commit);
            }
            None => tracing::warn!(group, "skipping unreadable offset commit"),
        },
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
