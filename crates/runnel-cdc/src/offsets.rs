//! The source partition and offsets the connector writes with each record and reads back on
//! `start` and `commit`.

use serde_json::{json, Map, Value};

use crate::config::CdcConfig;
use crate::error::CdcError;

pub type OffsetMap = Map<String, Value>;

/// The one partition of a connector: its logical server name.
pub fn partition(config: &CdcConfig) -> OffsetMap {
    server_partition(&config.topic_prefix)
}

/// The partition of a connector whose logical server name is `topic_prefix`.
pub fn server_partition(topic_prefix: &str) -> OffsetMap {
    let mut map = Map::new();
    map.insert("server".to_owned(), json!(topic_prefix));
    map
}

/// The latest offset committed for `partition` among (partition, offset) pairs.
pub fn latest<'a>(
    partition: &OffsetMap,
    committed: &'a [(OffsetMap, OffsetMap)],
) -> Option<&'a OffsetMap> {
    committed
        .iter()
        .rev()
        .find(|(p, _)| p == partition)
        .map(|(_, offset)| offset)
}

/// Where a streamed event sits: its transaction's commit LSN, its own LSN, and its number
/// among the events of its message (a key change gives three events at one LSN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOffset {
    pub lsn_commit: u64,
    pub lsn: u64,
    pub event: u32,
    pub tx_id: u32,
}

impl StreamOffset {
    /// Events stream in this order: transactions by commit, changes by LSN within one.
    pub fn order(&self) -> (u64, u64, u32) {
        (self.lsn_commit, self.lsn, self.event)
    }

    pub fn to_map(self) -> OffsetMap {
        let mut map = Map::new();
        map.insert("lsn".to_owned(), json!(self.lsn));
        map.insert("txId".to_owned(), json!(self.tx_id));
        map.insert("lsn_commit".to_owned(), json!(self.lsn_commit));
        map.insert("event".to_owned(), json!(self.event));
        map
    }
}

/// What a committed offset says about the connector's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// A snapshot row; `last` when it was the snapshot's last row.
    Snapshot {
        lsn: u64,
        last: bool,
    },
    Stream(StreamOffset),
}

pub fn snapshot_offset(lsn: u64, last: bool) -> OffsetMap {
    let mut map = Map::new();
    map.insert("lsn".to_owned(), json!(lsn));
    map.insert("snapshot".to_owned(), json!(true));
    map.insert("last_snapshot_record".to_owned(), json!(last));
    map
}

impl Committed {
    /// This connector's offset among `committed` (partition, offset) pairs, if any.
    pub fn find(
        config: &CdcConfig,
        committed: &[(OffsetMap, OffsetMap)],
    ) -> Result<Option<Committed>, CdcError> {
        latest(&partition(config), committed)
            .map(Committed::parse)
            .transpose()
    }

    fn parse(offset: &OffsetMap) -> Result<Committed, CdcError> {
        let bad = || CdcError::BadOffset(Value::Object(offset.clone()).to_string());
        let number = |name: &str| offset.get(name).and_then(Value::as_u64).ok_or_else(bad);
        if offset.get("snapshot").and_then(Value::as_bool) == Some(true) {
            return Ok(Committed::Snapshot {
                lsn: number("lsn")?,
                last: offset
                    .get("last_snapshot_record")
                    .and_then(Value::as_bool)
                    .ok_or_else(bad)?,
            });
        }
        Ok(Committed::Stream(StreamOffset {
            lsn_commit: number("lsn_commit")?,
            lsn: number("lsn")?,
            event: u32::try_from(number("event")?).map_err(|_| bad())?,
            tx_id: u32::try_from(number("txId")?).map_err(|_| bad())?,
        }))
    }

    /// Whether the initial snapshot finished and was delivered.
    pub fn snapshot_done(&self) -> bool {
        !matches!(self, Committed::Snapshot { last: false, .. })
    }
}
