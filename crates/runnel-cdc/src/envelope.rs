//! Debezium's change event: the key (the primary key as a JSON object) and the value envelope
//! (`before`, `after`, `source`, `op`, `ts_ms`), each with or without its Kafka Connect
//! schema, as the JSON converter's `schemas.enable` setting writes them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{json, Map, Value};

use crate::config::CdcConfig;
use crate::offsets::OffsetMap;
use crate::types::ColumnKind;
use crate::ChangeRecord;

/// What Debezium writes for a TOASTed value an update did not change, which logical decoding
/// does not send again.
pub const UNAVAILABLE_VALUE: &str = "__debezium_unavailable_value";

/// The connector version reported in `source.version`.
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
    /// Part of the key: the primary key, or the replica identity's index.
    pub is_key: bool,
}

/// A captured table's columns, as the snapshot's catalog query or a Relation message gives
/// them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableSchema {
    pub schema: String,
    pub table: String,
    pub columns: Vec<Column>,
}

/// A row image: one JSON value per column of the table, in order.
pub type Row = Vec<Value>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    Create,
    Update,
    Delete,
    Truncate,
}

impl SnapshotMarker {
    fn text(self) -> &'static str {
        match self {
            SnapshotMarker::False => "false",
            SnapshotMarker::True => "true",
            SnapshotMarker::Last => "last",
        }
    }
}

impl Op {
    fn code(self) -> &'static str {
        match self {
            Op::Read => "r",
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Truncate => "t",
        }
    }
}

/// `source.snapshot`: whether the event comes from the snapshot, and from its last row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMarker {
    False,
    True,
    Last,
}

/// Where an event comes from in PostgreSQL, for its `source` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// When the change committed (for snapshot rows, when the snapshot read them).
    pub ts_ms: i64,
    pub snapshot: SnapshotMarker,
    pub tx_id: Option<u32>,
    pub lsn: u64,
    /// The commit LSN of the last transaction before this event's (`sequence[0]`).
    pub last_commit_lsn: Option<u64>,
}

/// Where an event comes from in a MariaDB/MySQL binary log, for its `source` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogPosition {
    /// When the change committed (for snapshot rows, when the snapshot read them).
    pub ts_ms: i64,
    pub snapshot: SnapshotMarker,
    /// The server that wrote the event (0 for snapshot rows, as with Debezium).
    pub server_id: u32,
    /// The transaction's GTID (`domain-server-sequence` on MariaDB).
    pub gtid: Option<String>,
    pub file: String,
    /// Where the transaction's events begin in `file`.
    pub pos: u64,
    /// The row's number within its rows event.
    pub row: u32,
}

/// The `source` block of an event, as the database it comes from describes positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourcePosition {
    Postgres(Position),
    Binlog(BinlogPosition),
}

/// Which connector's `source` block events carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Postgres,
    /// `connector` is `mysql` or `mariadb`, as the connector class says.
    Binlog {
        connector: &'static str,
    },
}

/// Which of a table's two schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Key = 0,
    Value = 1,
}

/// Builds the key and value of events for one connector.
#[derive(Debug)]
pub struct EventBuilder {
    server: String,
    /// The database `source.db` names for PostgreSQL; a binlog event's is the table's schema.
    db: String,
    flavor: Flavor,
    key_schemas: bool,
    value_schemas: bool,
    /// Each table's schemas, serialized once: they are the same for every event of a table
    /// (a changed table is a different key) and cost more to build than the payload. A mutex,
    /// not a cell, so that the source's futures can move between threads.
    schemas: Mutex<HashMap<TableSchema, [Option<Arc<str>>; 2]>>,
}

impl EventBuilder {
    pub fn new(config: &CdcConfig) -> EventBuilder {
        EventBuilder {
            server: config.topic_prefix.clone(),
            db: config.dbname.clone(),
            flavor: Flavor::Postgres,
            key_schemas: config.key_schemas,
            value_schemas: config.value_schemas,
            schemas: Mutex::new(HashMap::new()),
        }
    }

    /// A builder for binlog events: `server` is the topic prefix, `source.connector` is
    /// `connector`.
    pub fn binlog(
        server: &str,
        connector: &'static str,
        key_schemas: bool,
        value_schemas: bool,
    ) -> EventBuilder {
        EventBuilder {
            server: server.to_owned(),
            db: String::new(),
            flavor: Flavor::Binlog { connector },
            key_schemas,
            value_schemas,
            schemas: Mutex::new(HashMap::new()),
        }
    }

    /// A heartbeat record to `topic`: keyed by the server name, valued by the time, as
    /// Debezium's; its offset says how far the source has read.
    pub fn heartbeat(
        &self,
        topic: &str,
        source_partition: OffsetMap,
        source_offset: OffsetMap,
        now_ms: i64,
    ) -> ChangeRecord {
        let with_schema = |schemas: bool, name: &str, field: Value, payload: Value| {
            let document = if schemas {
                json!({"schema": {"type": "struct", "optional": false, "name": name,
                                  "fields": [field]}, "payload": payload})
            } else {
                payload
            };
            document.to_string().into_bytes()
        };
        ChangeRecord {
            source_partition,
            source_offset,
            topic: topic.to_owned(),
            key: Some(with_schema(
                self.key_schemas,
                "io.debezium.connector.common.ServerNameKey",
                json!({"type": "string", "optional": false, "field": "serverName"}),
                json!({"serverName": self.server}),
            )),
            value: Some(with_schema(
                self.value_schemas,
                "io.debezium.connector.common.Heartbeat",
                json!({"type": "int64", "optional": false, "field": "ts_ms"}),
                json!({"ts_ms": now_ms}),
            )),
            headers: Vec::new(),
            timestamp_ms: Some(now_ms),
        }
    }

    /// The key of a row's events: its key columns as an object, or `None` for a table without
    /// a key (Debezium then writes events with no key).
    pub fn key(&self, table: &TableSchema, row: &Row) -> Option<Vec<u8>> {
        let keys: Vec<(&Column, &Value)> = table
            .columns
            .iter()
            .zip(row)
            .filter(|(c, _)| c.is_key)
            .collect();
        if keys.is_empty() {
            return None;
        }
        let payload: Map<String, Value> = keys
            .iter()
            .map(|(c, v)| (c.name.clone(), (*v).clone()))
            .collect();
        let schema = || {
            let fields: Vec<Value> = keys
                .iter()
                .map(|(c, _)| c.kind.schema(&c.name, false))
                .collect();
            json!({"type": "struct", "fields": fields, "optional": false,
                   "name": format!("{}.Key", self.full_name(table))})
        };
        Some(self.document(
            self.key_schemas,
            (table, Part::Key),
            schema,
            Value::Object(payload),
        ))
    }

    /// The value envelope of a change.
    pub fn value(
        &self,
        table: &TableSchema,
        op: Op,
        before: Option<&Row>,
        after: Option<&Row>,
        position: &SourcePosition,
        now_ms: i64,
    ) -> Vec<u8> {
        let image = |row: Option<&Row>| match row {
            None => Value::Null,
            Some(row) => Value::Object(
                table
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| (c.name.clone(), v.clone()))
                    .collect(),
            ),
        };
        let payload = json!({
            "before": image(before),
            "after": image(after),
            "source": self.source(table, position),
            "op": op.code(),
            "ts_ms": now_ms,
            "transaction": null,
        });
        self.document(
            self.value_schemas,
            (table, Part::Value),
            || self.value_schema(table),
            payload,
        )
    }

    fn source(&self, table: &TableSchema, position: &SourcePosition) -> Value {
        match position {
            SourcePosition::Postgres(position) => self.postgres_source(table, position),
            SourcePosition::Binlog(position) => self.binlog_source(table, position),
        }
    }

    fn binlog_source(&self, table: &TableSchema, position: &BinlogPosition) -> Value {
        let connector = match self.flavor {
            Flavor::Binlog { connector } => connector,
            Flavor::Postgres => "postgresql",
        };
        json!({
            "version": VERSION,
            "connector": connector,
            "name": self.server,
            "ts_ms": position.ts_ms,
            "snapshot": position.snapshot.text(),
            "db": table.schema,
            "sequence": null,
            "table": table.table,
            "server_id": position.server_id,
            "gtid": position.gtid,
            "file": position.file,
            "pos": position.pos,
            "row": position.row,
            "thread": null,
            "query": null,
        })
    }

    fn postgres_source(&self, table: &TableSchema, position: &Position) -> Value {
        let snapshot = position.snapshot.text();
        let sequence = json!([
            position.last_commit_lsn.map(|l| l.to_string()),
            position.lsn.to_string()
        ]);
        json!({
            "version": VERSION,
            "connector": "postgresql",
            "name": self.server,
            "ts_ms": position.ts_ms,
            "snapshot": snapshot,
            "db": self.db,
            "sequence": sequence.to_string(),
            "schema": table.schema,
            "table": table.table,
            "txId": position.tx_id,
            "lsn": position.lsn,
            "xmin": null,
        })
    }

    fn full_name(&self, table: &TableSchema) -> String {
        format!("{}.{}.{}", self.server, table.schema, table.table)
    }

    fn value_schema(&self, table: &TableSchema) -> Value {
        let columns: Vec<Value> = table
            .columns
            .iter()
            .map(|c| c.kind.schema(&c.name, !c.is_key))
            .collect();
        let image = |field: &str| {
            json!({"type": "struct", "fields": columns, "optional": true,
                   "name": format!("{}.Value", self.full_name(table)), "field": field})
        };
        let string = |field: &str, optional: bool| json!({"type": "string", "optional": optional, "field": field});
        let int64 = |field: &str, optional: bool| json!({"type": "int64", "optional": optional, "field": field});
        let mut fields = vec![
            string("version", false),
            string("connector", false),
            string("name", false),
            int64("ts_ms", false),
            json!({"type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
                   "parameters": {"allowed": "true,last,false,incremental"}, "default": "false",
                   "field": "snapshot"}),
            string("db", false),
            string("sequence", true),
        ];
        let name = match self.flavor {
            Flavor::Postgres => {
                fields.extend([
                    string("schema", false),
                    string("table", false),
                    int64("txId", true),
                    int64("lsn", true),
                    int64("xmin", true),
                ]);
                "io.debezium.connector.postgresql.Source".to_owned()
            }
            Flavor::Binlog { connector } => {
                fields.extend([
                    string("table", true),
                    int64("server_id", false),
                    string("gtid", true),
                    string("file", false),
                    int64("pos", false),
                    json!({"type": "int32", "optional": false, "field": "row"}),
                    int64("thread", true),
                    string("query", true),
                ]);
                format!("io.debezium.connector.{connector}.Source")
            }
        };
        let source = json!({
            "type": "struct", "fields": fields, "optional": false, "name": name, "field": "source",
        });
        let transaction = json!({
            "type": "struct",
            "fields": [string("id", false), int64("total_order", false),
                       int64("data_collection_order", false)],
            "optional": true, "name": "event.block", "version": 1, "field": "transaction",
        });
        json!({
            "type": "struct",
            "fields": [image("before"), image("after"), source, string("op", false),
                       int64("ts_ms", true), transaction],
            "optional": false,
            "name": format!("{}.Envelope", self.full_name(table)),
            "version": 1,
        })
    }

    fn document(
        &self,
        with_schema: bool,
        (table, part): (&TableSchema, Part),
        schema: impl FnOnce() -> Value,
        payload: Value,
    ) -> Vec<u8> {
        if !with_schema {
            return payload.to_string().into_bytes();
        }
        // A poisoned cache still holds whole entries: each is written in one assignment.
        let mut schemas = self.schemas.lock().unwrap_or_else(PoisonError::into_inner);
        let cached = schemas
            .get(table)
            .and_then(|parts| parts[part as usize].clone());
        let schema = cached.unwrap_or_else(|| {
            let text: Arc<str> = schema().to_string().into();
            schemas.entry(table.clone()).or_default()[part as usize] = Some(Arc::clone(&text));
            text
        });
        drop(schemas);
        format!("{{\"schema\":{schema},\"payload\":{payload}}}").into_bytes()
    }
}
