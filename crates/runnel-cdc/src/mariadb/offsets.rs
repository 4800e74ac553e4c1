//! The offsets the MariaDB source writes with each record: a binlog position to resume from,
//! as Debezium's MySQL connector writes them (`file`, `pos`, `gtids`, `event`, `snapshot`).

use serde_json::{json, Map, Value};

use crate::error::CdcError;
use crate::offsets::OffsetMap;

/// A place in the binlog: a file and the offset of a transaction's first event in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BinlogCoordinates {
    /// Binlog files are numbered with a fixed-width suffix, so their names sort in order.
    pub file: String,
    pub pos: u64,
}

/// A streamed record's place: its transaction's start, and its number among the records of
/// that transaction, so a restart inside a transaction skips what was delivered. A heartbeat
/// has no number: its place is between transactions, and nothing at it was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOffset {
    pub at: BinlogCoordinates,
    pub event: Option<u64>,
    pub gtid: Option<String>,
}

impl StreamOffset {
    pub fn to_map(&self) -> OffsetMap {
        let mut map = Map::new();
        map.insert("file".to_owned(), json!(self.at.file));
        map.insert("pos".to_owned(), json!(self.at.pos));
        if let Some(event) = self.event {
            map.insert("event".to_owned(), json!(event));
        }
        map.insert("gtids".to_owned(), json!(self.gtid));
        map
    }
}

pub fn snapshot_offset(at: &BinlogCoordinates, last: bool) -> OffsetMap {
    let mut map = Map::new();
    map.insert("file".to_owned(), json!(at.file));
    map.insert("pos".to_owned(), json!(at.pos));
    map.insert("snapshot".to_owned(), json!(true));
    map.insert("last_snapshot_record".to_owned(), json!(last));
    map
}

/// What a committed offset says about the connector's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// A snapshot row, taken at `at`; `last` when it was the snapshot's last row.
    Snapshot {
        at: BinlogCoordinates,
        last: bool,
    },
    Stream(StreamOffset),
}

impl Committed {
    pub fn parse(offset: &OffsetMap) -> Result<Committed, CdcError> {
        let bad = || CdcError::BadOffset(Value::Object(offset.clone()).to_string());
        let at = BinlogCoordinates {
            file: offset
                .get("file")
                .and_then(Value::as_str)
                .ok_or_else(bad)?
                .to_owned(),
            pos: offset.get("pos").and_then(Value::as_u64).ok_or_else(bad)?,
        };
        if offset.get("snapshot").and_then(Value::as_bool) == Some(true) {
            let last = offset
                .get("last_snapshot_record")
                .and_then(Value::as_bool)
                .ok_or_else(bad)?;
            return Ok(Committed::Snapshot { at, last });
        }
        Ok(Committed::Stream(StreamOffset {
            at,
            event: match offset.get("event") {
                None => None,
                Some(event) => Some(event.as_u64().ok_or_else(bad)?),
            },
            gtid: offset
                .get("gtids")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }))
    }

    /// Whether the initial snapshot finished and was delivered.
    pub fn snapshot_done(&self) -> bool {
        !matches!(self, Committed::Snapshot { last: false, .. })
    }

    /// Where streaming resumes: the transaction to read again, and how many of its records
    /// were delivered (`None` after a snapshot: nothing of that transaction was).
    pub fn resume(&self) -> (BinlogCoordinates, Option<u64>) {
        match self {
            Committed::Snapshot { at, .. } => (at.clone(), None),
            Committed::Stream(offset) => (offset.at.clone(), offset.event),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn offsets_read_back_as_written() {
        let at = BinlogCoordinates {
            file: "mariadb-bin.000002".to_owned(),
            pos: 1234,
        };
        let stream = StreamOffset {
            at: at.clone(),
            event: Some(3),
            gtid: Some("0-1-17".to_owned()),
        };
        assert_eq!(
            Committed::parse(&stream.to_map()).unwrap(),
            Committed::Stream(stream)
        );
        let heartbeat = StreamOffset {
            at: at.clone(),
            event: None,
            gtid: None,
        };
        let heartbeat = Committed::parse(&heartbeat.to_map()).unwrap();
        assert_eq!(heartbeat.resume(), (at.clone(), None));
        let snapshot = Committed::parse(&snapshot_offset(&at, false)).unwrap();
        assert!(!snapshot.snapshot_done());
        assert_eq!(snapshot.resume(), (at, None));
        assert!(Committed::parse(&Map::new()).is_err());
    }
}
