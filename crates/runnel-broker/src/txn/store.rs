//! Transaction state in the internal compacted topic `__transaction_state`.
//!
//! Every state change of a transactional id is one record; its key is the id, its value the
//! whole metadata; a tombstone removes an expired id. The format is Runnel's own:
//!
//! ```text
//! key:   u8 version=1 | u16 len | transactional id
//! value: u8 version=1 | i64 producer id | i16 epoch | i32 timeout ms | u8 state
//!        | i64 start ms | i64 last update ms
//!        | u32 count | count × (u16 len | topic | i32 partition)
//!        | u32 count | count × (u16 len | group)
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use bytes::{Buf, BufMut};
use runnel_log::{BatchBuilder, Compression, LogError};

use super::{TxnMetadata, TxnState};
use crate::broker::BrokerState;
use crate::groups::store::{get_str, put_str};
use crate::topics::Topic;

pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";
const FORMAT: u8 = 1;

pub fn encode_key(transactional_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(3 + transactional_id.len());
    key.put_u8(FORMAT);
    put_str(&mut key, transactional_id);
    key
}

pub fn decode_key(mut key: &[u8]) -> Option<String> {
    if key.first() != Some(&FORMAT) {
        return None;
    }
    key.advance(1);
    let id = get_str(&mut key)?;
    key.is_empty().then_some(id)
}

pub fn encode_value(meta: &TxnMetadata) -> Vec<u8> {
    let mut value = Vec::with_capacity(64);
    value.put_u8(FORMAT);
    value.put_i64(meta.producer_id);
    value.put_i16(meta.epoch);
    value.put_i32(meta.timeout_ms);
    value.put_u8(meta.state as u8);
    value.put_i64(meta.start_ms);
    value.put_i64(meta.last_update_ms);
    value.put_u32(meta.partitions.len() as u32);
    for (topic, partition) in &meta.partitions {
        put_str(&mut value, topic);
        value.put_i32(*partition);
    }
    value.put_u32(meta.groups.len() as u32);
    for group in &meta.groups {
        put_str(&mut value, group);
    }
    value
}

pub fn decode_value(transactional_id: &str, mut value: &[u8]) -> Option<TxnMetadata> {
    if value.first() != Some(&FORMAT) || value.remaining() < 40 {
        return None;
    }
    value.advance(1);
    let producer_id = value.get_i64();
    let epoch = value.get_i16();
    let timeout_ms = value.get_i32();
    let state = TxnState::from_u8(value.get_u8())?;
    let start_ms = value.get_i64();
    let last_update_ms = value.get_i64();
    let mut partitions = BTreeSet::new();
    for _ in 0..value.get_u32() {
        let topic = get_str(&mut value)?;
        if value.remaining() < 4 {
            return None;
        }
        partitions.insert((topic, value.get_i32()));
    }
    if value.remaining() < 4 {
        return None;
    }
    let mut groups = BTreeSet::new();
    for _ in 0..value.get_u32() {
        groups.insert(get_str(&mut value)?);
    }
    value.is_empty().then(|| TxnMetadata {
        transactional_id: transactional_id.to_owned(),
        producer_id,
        epoch,
        timeout_ms,
        state,
        start_ms,
        last_update_ms,
        partitions,
        groups,
    })
}

/// The transaction state topic, created (compacted) on first use.
pub fn state_topic(state: &BrokerState) -> Result<Arc<Topic>, LogError> {
    if let Some(topic) = state.topics.get(TRANSACTION_STATE_TOPIC) {
        return Ok(topic);
    }
    let mut overrides = BTreeMap::new();
    overrides.insert("cleanup.policy".to_owned(), "compact".to_owned());
    overrides.insert("segment.bytes".to_owned(), (100 * 1024 * 1024).to_string());
    state
        .topics
        .create(
            TRANSACTION_STATE_TOPIC,
            state.config.transaction_state_partitions,
            overrides,
            true,
        )
        .map_err(|error| LogError::Io {
            path: TRANSACTION_STATE_TOPIC.into(),
            source: std::io::Error::other(error.to_string()),
        })
}

/// Writes the metadata of one id (or a tombstone for `None`). Returns once appended.
pub async fn persist(
    state: &BrokerState,
    transactional_id: &str,
    meta: Option<&TxnMetadata>,
) -> Result<(), LogError> {
    let topic = state_topic(state)?;
    let partitions = topic.partitions();
    let index = crate::groups::store::partition_for(transactional_id, partitions.len());
    let partition = Arc::clone(&partitions[index]);
    let now = runnel_log::Clock::now_ms(&runnel_log::SystemClock);
    let mut builder = BatchBuilder::new(Compression::None);
    let key = encode_key(transactional_id);
    let value = meta.map(encode_value);
    builder.push(now, Some(&key), value.as_deref(), &[]);
    partition.append(builder.build()?).await?;
    state
        .transactions
        .stored(transactional_id, meta.map(|m| m.state));
    Ok(())
}

/// Replays the state topic: the latest metadata of every live transactional id. Blocking.
pub fn load(state: &BrokerState) -> Result<HashMap<String, TxnMetadata>, LogError> {
    let mut ids: HashMap<String, TxnMetadata> = HashMap::new();
    let topic = state_topic(state)?;
    crate::groups::store::replay_records(&topic, |record| {
        let Some(id) = record.key.and_then(decode_key) else {
            tracing::warn!("skipping unreadable record in {TRANSACTION_STATE_TOPIC}");
            return;
        };
        match record.value {
            None => {
                ids.remove(&id);
            }
            Some(value) => match decode_value(&id, value) {
                Some(meta) => {
                    ids.insert(id, meta);
                }
                None => tracing::warn!(transactional_id = id, "skipping unreadable state"),
            },
        }
    })?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn metadata_round_trips_and_truncation_is_refused() {
        let meta = TxnMetadata {
            transactional_id: "tx-1".into(),
            producer_id: 7,
            epoch: 3,
            timeout_ms: 60_000,
            state: TxnState::Ongoing,
            start_ms: 100,
            last_update_ms: 200,
            partitions: [("orders".to_owned(), 2), ("audit".to_owned(), 0)].into(),
            groups: ["billing".to_owned()].into(),
        };
        let value = encode_value(&meta);
        assert_eq!(decode_value("tx-1", &value), Some(meta));
        for cut in 0..value.len() {
            assert_eq!(decode_value("tx-1", &value[..cut]), None);
        }
        let key = encode_key("tx-1");
        assert_eq!(decode_key(&key).as_deref(), Some("tx-1"));
        assert_eq!(decode_key(&key[..2]), None);
    }
}
