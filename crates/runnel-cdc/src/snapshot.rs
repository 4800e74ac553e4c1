//! The initial snapshot: the captured tables' rows read inside one `REPEATABLE READ`
//! transaction that imported the snapshot the replication slot exported when it was created,
//! so the rows are exactly the database as of the slot's consistent point. Rows come through
//! a cursor, a bounded number per round trip.

use std::collections::VecDeque;

use serde_json::Value;
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::config::CdcConfig;
use crate::envelope::{Column, Row, TableSchema};
use crate::error::CdcError;
use crate::types::ColumnKind;

/// Every column of every ordinary table outside the system schemas, with whether it belongs
/// to the primary key, in column order.
const CATALOG: &str = "\
    SELECT n.nspname::text, c.relname::text, a.attname::text, a.atttypid::int8, \
           COALESCE(a.attnum = ANY(i.indkey), false) \
    FROM pg_class c \
    JOIN pg_namespace n ON n.oid = c.relnamespace \
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
    LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary \
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
      AND n.nspname NOT LIKE 'pg_toast%' \
    ORDER BY n.nspname, c.relname, a.attnum";

/// The captured tables, as the transaction's snapshot sees them.
pub async fn captured_tables(
    client: &Client,
    config: &CdcConfig,
) -> Result<Vec<TableSchema>, CdcError> {
    let mut tables: Vec<TableSchema> = Vec::new();
    for row in client.query(CATALOG, &[]).await? {
        let (schema, table): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        if !config.captures(&schema, &table) {
            continue;
        }
        let type_oid: i64 = row.try_get(3)?;
        let column = Column {
            name: row.try_get(2)?,
            kind: ColumnKind::of(
                u32::try_from(type_oid).unwrap_or_default(),
                config.decimal_handling,
            ),
            is_key: row.try_get(4)?,
        };
        match tables.last_mut() {
            Some(last) if last.schema == schema && last.table == table => last.columns.push(column),
            _ => tables.push(TableSchema {
                schema,
                table,
                columns: vec![column],
            }),
        }
    }
    Ok(tables)
}

/// Reads the tables one after another, `fetch_size` rows at a time.
#[derive(Debug)]
pub struct SnapshotReader {
    tables: VecDeque<TableSchema>,
    /// The table the open cursor reads.
    current: Option<TableSchema>,
    fetch_size: usize,
}

impl SnapshotReader {
    pub fn new(tables: Vec<TableSchema>, fetch_size: usize) -> SnapshotReader {
        SnapshotReader {
            tables: tables.into(),
            current: None,
            fetch_size,
        }
    }

    /// The next rows and their table, or `None` once every table has been read.
    pub async fn next_rows(
        &mut self,
        client: &Client,
    ) -> Result<Option<(TableSchema, Vec<Row>)>, CdcError> {
        loop {
            let Some(table) = self.current.clone() else {
                let Some(next) = self.tables.pop_front() else {
                    return Ok(None);
                };
                let columns: Vec<String> = next.columns.iter().map(|c| quote(&c.name)).collect();
                client
                    .batch_execute(&format!(
                        "DECLARE runnel_snapshot NO SCROLL CURSOR FOR SELECT {} FROM {}.{}",
                        columns.join(", "),
                        quote(&next.schema),
                        quote(&next.table)
                    ))
                    .await?;
                self.current = Some(next);
                continue;
            };
            let messages = client
                .simple_query(&format!("FETCH {} FROM runnel_snapshot", self.fetch_size))
                .await?;
            let mut rows = Vec::new();
            for message in messages {
                if let SimpleQueryMessage::Row(row) = message {
                    let mut values = Vec::with_capacity(table.columns.len());
                    for (i, column) in table.columns.iter().enumerate() {
                        values.push(match row.try_get(i)? {
                            None => Value::Null,
                            Some(text) => column.kind.value(text)?,
                        });
                    }
                    rows.push(values);
                }
            }
            if rows.is_empty() {
                client.batch_execute("CLOSE runnel_snapshot").await?;
                self.current = None;
                continue;
            }
            return Ok(Some((table, rows)));
        }
    }
}

/// An identifier quoted for SQL.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}
