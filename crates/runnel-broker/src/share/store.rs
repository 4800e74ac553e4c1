//! Durable share-group state in the internal compacted topic `__share_group_state`.
//!
//! Two kinds of record, both keyed so that compaction keeps only the latest of each key:
//! the delivery state of one share-partition (a full snapshot each time it changes, so one
//! record is always enough to restore it), and a share group's config overrides. A null
//! value deletes the key. Runnel's own format, version byte first, integers big-endian:
//!
//! ```text
//! key, partition state: u8 kind=3 | u16 len | group | u16 len | topic | 16 bytes topic id
//!                       | i32 partition
//! key, group config:    u8 kind=2 | u16 len | group
//! key, partition state before topic ids (read, and deleted with the topic, never written):
//!                       u8 kind=1 | u16 len | group | u16 len | topic | i32 partition
//! value, partition state: u8 version=1 | i64 start offset | u64 dead-lettered count
//!                         | u32 runs | runs × (i64 first | i64 last | u8 state | u16 deliveries)
//!                         (state: 0 available, 2 acknowledged, 4 archived)
//! value, group config:    u8 version=1 | u32 count | count × (u16 len | name | u16 len | value)
//! ```
//!
//! Batch CRCs of the log cover these bytes; a record that does not decode is skipped with a
//! warning (its share-partition starts over from `share.auto.offset.reset`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::{Buf, BufMut};
use runnel_log::{BatchBuilder, Compression, LogError};
use uuid::Uuid;

use super::records::{DurableState, StateRun};
use crate::broker::BrokerState;
use crate::groups::store::{get_str, put_str, replay_records};
use crate::topics::{Topic, TopicError};

pub const STATE_TOPIC: &str = "__share_group_state";
const PARTITION_STATE_BY_NAME: u8 = 1;
const GROUP_CONFIG: u8 = 2;
const PARTITION_STATE: u8 = 3;
const VERSION: u8 = 1;
const RUN_BYTES: usize = 19;

/// Identifies a share-partition: group, topic, partition. The topic id is part of it, as in
/// Kafka, so a topic deleted and created again under the same name starts with new
/// share-partitions. A nil id marks state stored before topic ids were recorded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShareKey {
    pub group: String,
    pub topic: String,
    pub topic_id: Uuid,
    pub partition: i32,
}

/// The stored state of one share-partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPartition {
    pub start: i64,
    pub dead_lettered: u64,
    pub runs: Vec<StateRun>,
}

/// One change to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Partition(ShareKey, Option<StoredPartition>),
    Config(String, Option<BTreeMap<String, String>>),
}

/// Everything replay finds.
#[derive(Debug, Default)]
pub struct Loaded {
    pub partitions: HashMap<ShareKey, StoredPartition>,
    pub configs: HashMap<String, BTreeMap<String, String>>,
}

fn encode(change: &Change) -> (Vec<u8>, Option<Vec<u8>>) {
    match change {
        Change::Partition(key, value) => {
            let mut k = Vec::with_capacity(25 + key.group.len() + key.topic.len());
            let by_name = key.topic_id.is_nil();
            k.put_u8(if by_name {
                PARTITION_STATE_BY_NAME
            } else {
                PARTITION_STATE
            });
            put_str(&mut k, &key.group);
            put_str(&mut k, &key.topic);
            if !by_name {
                k.put_slice(key.topic_id.as_bytes());
            }
            k.put_i32(key.partition);
            (k, value.as_ref().map(encode_partition))
        }
        Change::Config(group, value) => {
            let mut k = Vec::with_capacity(3 + group.len());
            k.put_u8(GROUP_CONFIG);
            put_str(&mut k, group);
            (k, value.as_ref().map(encode_config))
        }
    }
}

fn encode_partition(state: &StoredPartition) -> Vec<u8> {
    let mut v = Vec::with_capacity(21 + RUN_BYTES * state.runs.len());
    v.put_u8(VERSION);
    v.put_i64(state.start);
    v.put_u64(state.dead_lettered);
    v.put_u32(u32::try_from(state.runs.len()).unwrap_or(u32::MAX));
    for run in &state.runs {
        v.put_i64(run.first);
        v.put_i64(run.last);
        v.put_u8(run.state as u8);
        v.put_u16(run.deliveries);
    }
    v
}

fn encode_config(config: &BTreeMap<String, String>) -> Vec<u8> {
    let mut v = Vec::new();
    v.put_u8(VERSION);
    v.put_u32(u32::try_from(config.len()).unwrap_or(u32::MAX));
    for (name, value) in config {
        put_str(&mut v, name);
        put_str(&mut v, value);
    }
    v
}

/// Decodes one record; `None` when it is not a record of this format.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Option<Change> {
    let (&kind, mut key) = key.split_first()?;
    match kind {
        PARTITION_STATE | PARTITION_STATE_BY_NAME => {
            let group = get_str(&mut key)?;
            let topic = get_str(&mut key)?;
            let id_bytes = if kind == PARTITION_STATE { 16 } else { 0 };
            if key.remaining() != id_bytes + 4 {
                return None;
            }
            let mut topic_id = Uuid::nil();
            if kind == PARTITION_STATE {
                let mut bytes = [0; 16];
                key.copy_to_slice(&mut bytes);
                topic_id = Uuid::from_bytes(bytes);
                if topic_id.is_nil() {
                    return None;
                }
            }
            let share_key = ShareKey {
                group,
                topic,
                topic_id,
                partition: key.get_i32(),
            };
            let state = match value {
                None => None,
                Some(v) => Some(decode_partition(v)?),
            };
            Some(Change::Partition(share_key, state))
        }
        GROUP_CONFIG => {
            let group = get_str(&mut key)?;
            if key.has_remaining() {
                return None;
            }
            let config = match value {
                None => None,
                Some(v) => Some(decode_config(v)?),
            };
            Some(Change::Config(group, config))
        }
        _ => None,
    }
}

fn decode_partition(mut v: &[u8]) -> Option<StoredPartition> {
    if v.remaining() < 21 || v.get_u8() != VERSION {
        return None;
    }
    let start = v.get_i64();
    let dead_lettered = v.get_u64();
    let count = usize::try_from(v.get_u32()).ok()?;
    if v.remaining() != count.checked_mul(RUN_BYTES)? {
        return None;
    }
    let mut runs = Vec::with_capacity(count);
    for _ in 0..count {
        let first = v.get_i64();
        let last = v.get_i64();
        let state = DurableState::from_code(v.get_u8())?;
        let deliveries = v.get_u16();
        runs.push(StateRun {
            first,
            last,
            state,
            deliveries,
        });
    }
    Some(StoredPartition {
        start,
        dead_lettered,
        runs,
    })
}

fn decode_config(mut v: &[u8]) -> Option<BTreeMap<String, String>> {
    if v.remaining() < 5 || v.get_u8() != VERSION {
        return None;
    }
    let count = v.get_u32();
    let mut config = BTreeMap::new();
    for _ in 0..count {
        let name = get_str(&mut v)?;
        let value = get_str(&mut v)?;
        config.insert(name, value);
    }
    if v.has_remaining() {
        return None;
    }
    Some(config)
}

/// The state topic, created (compacted, one partition) on first use.
pub fn state_topic(state: &BrokerState) -> Result<Arc<Topic>, TopicError> {
    if let Some(topic) = state.topics.get(STATE_TOPIC) {
        return Ok(topic);
    }
    let mut overrides = BTreeMap::new();
    overrides.insert("cleanup.policy".to_owned(), "compact".to_owned());
    overrides.insert("segment.bytes".to_owned(), (64 * 1024 * 1024).to_string());
    state.topics.create(STATE_TOPIC, 1, overrides, true)
}

fn unavailable(error: TopicError) -> LogError {
    LogError::Io {
        path: STATE_TOPIC.into(),
        source: std::io::Error::other(error.to_string()),
    }
}

/// Appends changes as one batch; returns once appended (durable per the topic's flush
/// settings).
pub async fn persist(state: &BrokerState, changes: &[Change]) -> Result<(), LogError> {
    if changes.is_empty() {
        return Ok(());
    }
    let topic = state_topic(state).map_err(unavailable)?;
    let Some(partition) = topic.partition(0) else {
        return Err(unavailable(TopicError::CorruptMetadata {
            path: STATE_TOPIC.into(),
            message: "no partition 0".to_owned(),
        }));
    };
    let now = runnel_log::Clock::now_ms(&runnel_log::SystemClock);
    let mut builder = BatchBuilder::new(Compression::None);
    for change in changes {
        let (key, value) = encode(change);
        builder.push(now, Some(&key), value.as_deref(), &[]);
    }
    partition.append(builder.build()?).await.map(|_| ())
}

/// Replays the state topic. Blocking.
pub fn load(state: &BrokerState) -> Result<Loaded, LogError> {
    let mut loaded = Loaded::default();
    let topic = state_topic(state).map_err(unavailable)?;
    replay_records(&topic, |record| {
        let Some(change) = record.key.and_then(|k| decode(k, record.value)) else {
            tracing::warn!(
                offset = record.offset,
                "skipping unreadable record in {STATE_TOPIC}"
            );
            return;
        };
        match change {
            Change::Partition(key, Some(value)) => {
                loaded.partitions.insert(key, value);
            }
            Change::Partition(key, None) => {
                loaded.partitions.remove(&key);
            }
            Change::Config(group, Some(config)) => {
                loaded.configs.insert(group, config);
            }
            Change::Config(group, None) => {
                loaded.configs.remove(&group);
            }
        }
    })?;
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn records_round_trip_and_every_truncation_is_refused() {
        let key = ShareKey {
            group: "g".into(),
            topic: "orders".into(),
            topic_id: Uuid::from_u128(0x3f0c_6c0e_8a7e_4c55_9d53_2f3f_9ad0_c1b4),
            partition: 3,
        };
        let by_name = ShareKey {
            topic_id: Uuid::nil(),
            ..key.clone()
        };
        let stored = StoredPartition {
            start: 40,
            dead_lettered: 2,
            runs: vec![StateRun {
                first: 40,
                last: 44,
                state: DurableState::Available,
                deliveries: 2,
            }],
        };
        let mut config = BTreeMap::new();
        config.insert("share.auto.offset.reset".to_owned(), "earliest".to_owned());
        for change in [
            Change::Partition(key.clone(), Some(stored.clone())),
            Change::Partition(key, None),
            Change::Partition(by_name.clone(), Some(stored)),
            Change::Partition(by_name, None),
            Change::Config("g".into(), Some(config)),
            Change::Config("g".into(), None),
        ] {
            let (k, v) = encode(&change);
            assert_eq!(decode(&k, v.as_deref()), Some(change.clone()));
            for cut in 0..k.len() {
                assert_eq!(decode(&k[..cut], v.as_deref()), None);
            }
            if let Some(v) = &v {
                for cut in 0..v.len() {
                    assert_eq!(decode(&k, Some(&v[..cut])), None, "cut at {cut}");
                }
            }
        }
    }
}
