//! Turns the stream's decoded pgoutput messages into change records: the table descriptions
//! each Relation message gives, the transaction each change belongs to, and the events of each
//! change (a delete and its tombstone; a key change as delete, tombstone and create).

use std::collections::{HashMap, VecDeque};

use serde_json::{json, Value};

use crate::config::CdcConfig;
use crate::envelope::{
    Column, EventBuilder, Op, Position, Row, SnapshotMarker, SourcePosition, TableSchema,
    UNAVAILABLE_VALUE,
};
use crate::error::CdcError;
use crate::offsets::{partition, StreamOffset};
use crate::pgoutput::{ColumnValue, Message, OldRow, Relation};
use crate::types::ColumnKind;
use crate::ChangeRecord;

/// Microseconds between the Unix epoch and PostgreSQL's epoch, 2000-01-01.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

#[derive(Debug, Clone, Copy)]
struct Transaction {
    xid: u32,
    commit_lsn: u64,
    ts_ms: i64,
}

#[derive(Debug)]
pub struct ChangeDecoder {
    config: CdcConfig,
    builder: EventBuilder,
    relations: HashMap<u32, (TableSchema, bool)>,
    transaction: Option<Transaction>,
    last_commit_lsn: Option<u64>,
    /// Events at or before this position were delivered before a restart.
    resume_after: Option<StreamOffset>,
    /// The position of the last record emitted (or delivered before a restart): a heartbeat
    /// never goes back behind it, as keepalives and skipped transactions after a restart would.
    last_emitted: Option<(u64, u64, u32)>,
}

impl ChangeDecoder {
    pub fn new(config: &CdcConfig, resume_after: Option<StreamOffset>) -> ChangeDecoder {
        ChangeDecoder {
            config: config.clone(),
            builder: EventBuilder::new(config),
            relations: HashMap::new(),
            transaction: None,
            last_commit_lsn: resume_after.map(|r| r.lsn_commit),
            resume_after,
            last_emitted: resume_after.map(|r| r.order()),
        }
    }

    pub fn begin(&mut self, xid: u32, commit_lsn: u64, commit_time_micros: i64) {
        self.transaction = Some(Transaction {
            xid,
            commit_lsn,
            ts_ms: (commit_time_micros + POSTGRES_EPOCH_MICROS) / 1000,
        });
    }

    pub fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }

    /// A heartbeat: a record whose offset says every transaction committed before `lsn` was
    /// delivered, so committing it lets the slot move on while the captured tables are idle.
    pub fn heartbeat(&mut self, lsn: u64, now_ms: i64) -> Option<ChangeRecord> {
        let offset = StreamOffset {
            lsn_commit: lsn,
            // Below every change's LSN: a transaction committing at `lsn` itself is not
            // covered.
            lsn: 0,
            event: 0,
            tx_id: 0,
        };
        if self.last_emitted.is_some_and(|last| offset.order() <= last) {
            return None;
        }
        self.last_emitted = Some(offset.order());
        Some(self.builder.heartbeat(
            &self.config.heartbeats.topic(&self.config.topic_prefix),
            partition(&self.config),
            offset.to_map(),
            now_ms,
        ))
    }

    pub fn commit(&mut self, commit_lsn: u64) {
        self.transaction = None;
        self.last_commit_lsn = Some(commit_lsn);
    }

    /// Records a table's description. The key is the primary key, read from the catalog:
    /// the message's own key flags mark the replica identity, every column under FULL.
    pub fn relation(&mut self, relation: &Relation, primary_key: &[String]) {
        let captured = self.config.captures(&relation.schema, &relation.table);
        let table = TableSchema {
            schema: relation.schema.clone(),
            table: relation.table.clone(),
            columns: relation
                .columns
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    kind: ColumnKind::of(c.type_oid, self.config.decimal_handling),
                    is_key: primary_key.contains(&c.name),
                })
                .collect(),
        };
        self.relations.insert(relation.id, (table, captured));
    }

    /// Appends the events of the change `message` at `lsn` to `out`.
    pub fn change(
        &mut self,
        lsn: u64,
        message: Message,
        now_ms: i64,
        out: &mut VecDeque<ChangeRecord>,
    ) -> Result<(), CdcError> {
        let Some(transaction) = self.transaction else {
            // Changes only come inside a transaction; anything else changes no row.
            return Ok(());
        };
        let mut events = Events {
            decoder: self,
            transaction,
            lsn,
            now_ms,
            next_event: 0,
            out,
        };
        match message {
            Message::Insert { relation_id, new } => {
                let Some(table) = events.captured(relation_id)? else {
                    return Ok(());
                };
                let after = row(&table, &new)?;
                events.change(&table, Op::Create, None, Some(&after));
            }
            Message::Update {
                relation_id,
                old,
                new,
            } => {
                let Some(table) = events.captured(relation_id)? else {
                    return Ok(());
                };
                let after = row(&table, &new)?;
                let before = match &old {
                    Some(OldRow::Key(values) | OldRow::Full(values)) => Some(row(&table, values)?),
                    None => None,
                };
                let key_changed = before
                    .as_ref()
                    .is_some_and(|before| key_of(&table, before) != key_of(&table, &after));
                match before {
                    Some(before) if key_changed => {
                        events.delete(&table, &before);
                        events.change(&table, Op::Create, None, Some(&after));
                    }
                    Some(before) if matches!(old, Some(OldRow::Full(_))) => {
                        events.change(&table, Op::Update, Some(&before), Some(&after));
                    }
                    _ => events.change(&table, Op::Update, None, Some(&after)),
                }
            }
            Message::Delete { relation_id, old } => {
                let Some(table) = events.captured(relation_id)? else {
                    return Ok(());
                };
                let (OldRow::Key(values) | OldRow::Full(values)) = &old;
                let before = row(&table, values)?;
                events.delete(&table, &before);
            }
            Message::Truncate { relation_ids, .. } => {
                for relation_id in relation_ids {
                    if let Some(table) = events.captured(relation_id)? {
                        events.truncate(&table);
                    }
                }
            }
            Message::Relation(_) | Message::Other(_) => {}
        }
        Ok(())
    }
}

/// The events of one message, numbered so a restart can resume between two of them.
struct Events<'a> {
    decoder: &'a mut ChangeDecoder,
    transaction: Transaction,
    lsn: u64,
    now_ms: i64,
    next_event: u32,
    out: &'a mut VecDeque<ChangeRecord>,
}

impl Events<'_> {
    fn captured(&self, relation_id: u32) -> Result<Option<TableSchema>, CdcError> {
        match self.decoder.relations.get(&relation_id) {
            None => Err(CdcError::UnknownRelation(relation_id)),
            Some((table, captured)) => Ok(captured.then(|| table.clone())),
        }
    }

    fn delete(&mut self, table: &TableSchema, before: &Row) {
        self.change(table, Op::Delete, Some(before), None);
        if self.decoder.config.tombstones_on_delete {
            let key = self.decoder.builder.key(table, before);
            self.push(table, key, None);
        }
    }

    fn change(&mut self, table: &TableSchema, op: Op, before: Option<&Row>, after: Option<&Row>) {
        let key = after
            .or(before)
            .and_then(|row| self.decoder.builder.key(table, row));
        let value =
            self.decoder
                .builder
                .value(table, op, before, after, &self.position(), self.now_ms);
        self.push(table, key, Some(value));
    }

    fn truncate(&mut self, table: &TableSchema) {
        let value = self.decoder.builder.value(
            table,
            Op::Truncate,
            None,
            None,
            &self.position(),
            self.now_ms,
        );
        self.push(table, None, Some(value));
    }

    fn position(&self) -> SourcePosition {
        SourcePosition::Postgres(Position {
            ts_ms: self.transaction.ts_ms,
            snapshot: SnapshotMarker::False,
            tx_id: Some(self.transaction.xid),
            lsn: self.lsn,
            last_commit_lsn: self.decoder.last_commit_lsn,
        })
    }

    fn push(&mut self, table: &TableSchema, key: Option<Vec<u8>>, value: Option<Vec<u8>>) {
        let offset = StreamOffset {
            lsn_commit: self.transaction.commit_lsn,
            lsn: self.lsn,
            event: self.next_event,
            tx_id: self.transaction.xid,
        };
        self.next_event += 1;
        if self
            .decoder
            .resume_after
            .is_some_and(|delivered| offset.order() <= delivered.order())
        {
            return;
        }
        self.decoder.last_emitted = Some(offset.order());
        self.out.push_back(ChangeRecord {
            source_partition: partition(&self.decoder.config),
            source_offset: offset.to_map(),
            topic: self.decoder.config.topic(&table.schema, &table.table),
            key,
            value,
            headers: Vec::new(),
            timestamp_ms: Some(self.transaction.ts_ms),
        });
    }
}

/// A row image from the message's column values: text converted per the column's type, an
/// untouched TOASTed value as Debezium's placeholder.
fn row(table: &TableSchema, values: &[ColumnValue]) -> Result<Row, CdcError> {
    if values.len() != table.columns.len() {
        return Err(CdcError::UnexpectedAnswer {
            command: "START_REPLICATION",
            detail: format!(
                "a row of {}.{} has {} columns, its relation {}",
                table.schema,
                table.table,
                values.len(),
                table.columns.len()
            ),
        });
    }
    table
        .columns
        .iter()
        .zip(values)
        .map(|(column, value)| match value {
            ColumnValue::Null => Ok(Value::Null),
            ColumnValue::UnchangedToast => Ok(json!(UNAVAILABLE_VALUE)),
            ColumnValue::Text(text) => {
                let text = std::str::from_utf8(text).map_err(|_| CdcError::UnexpectedAnswer {
                    command: "START_REPLICATION",
                    detail: format!("column {} is not UTF-8 text", column.name),
                })?;
                Ok(column.kind.value(text)?)
            }
            ColumnValue::Binary(_) => Err(CdcError::UnexpectedAnswer {
                command: "START_REPLICATION",
                detail: format!(
                    "column {} came in binary format, which was not asked for",
                    column.name
                ),
            }),
        })
        .collect()
}

fn key_of<'r>(table: &TableSchema, row: &'r Row) -> Vec<&'r Value> {
    table
        .columns
        .iter()
        .zip(row)
        .filter(|(c, _)| c.is_key)
        .map(|(_, v)| v)
        .collect()
}
