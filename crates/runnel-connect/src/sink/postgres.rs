//! The PostgreSQL sink: each record upserts or deletes the row of its key, a batch per
//! transaction, and the positions the batch reaches are written in the same transaction to
//! an offsets table. A record below the stored position of its partition was applied
//! already and is skipped, so a restart after a crash applies nothing twice (exactly-once).
//!
//! Upserts are sent with `COPY ... FROM STDIN` (text format) into a temporary table shaped
//! like the target, then merged with `INSERT ... SELECT ... ON CONFLICT DO UPDATE` in the same
//! transaction: PostgreSQL parses each field once, as `COPY` does, instead of parsing a JSON
//! document and taking it apart again. A batch whose upserts are all new rows (an initial
//! load, an append-mostly topic) is first tried as one `COPY` straight into the table, under
//! a savepoint; a key that exists rolls the attempt back and the batch is merged (see
//! `DirectInserts`). The `COPY` text is written straight from the records' JSON, with no
//! row built in between.
//!
//! Settings: `connection.url` (a `postgres://` URL or libpq key=value string),
//! `connection.user`, `connection.password`, `table.name.format` (`${topic}` is replaced;
//! default `${topic}`), `pk.fields` (the key column when keys are not objects; default
//! `id`), `auto.create` (create a missing table from the first record), `delete.enabled`
//! (default true), `offsets.table.name` (default `runnel_connect_offsets`).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::SinkExt;
use serde_json::{Map, Value};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, Statement, Transaction};

use crate::config::ConnectorConfig;
use crate::error::{ConfigError, SinkError};
use crate::record::{Change, SinkRecord};
use crate::sink::{Positions, SinkTask};

pub struct PostgresSink {
    connector: String,
    task: usize,
    connection: tokio_postgres::Config,
    mapping: Mapping,
    offsets_table: String,
    /// The open connection and what was prepared on it; dropped after a transient error.
    session: Option<Session>,
}

/// How records map to tables and rows.
struct Mapping {
    table_format: String,
    pk_fields: Vec<String>,
    auto_create: bool,
    delete_enabled: bool,
}

struct Session {
    client: Client,
    tables: HashMap<String, Table>,
    lock_positions: Statement,
    write_positions: Statement,
}

/// The statements that write one table.
struct Table {
    /// The columns, in the order `copy` takes them.
    columns: Vec<String>,
    /// `COPY` into the session's staging table of this table.
    copy: Statement,
    /// `COPY` straight into the table, for batches of new rows only.
    copy_direct: Statement,
    direct: DirectInserts,
    /// Merges the staging table into the table.
    upsert: Statement,
    delete: Statement,
}

impl PostgresSink {
    pub fn new(config: &ConnectorConfig, task: usize) -> Result<PostgresSink, ConfigError> {
        let url = config.required("connection.url")?;
        let mut connection: tokio_postgres::Config = url
            .parse()
            .map_err(|e| ConfigError::invalid("connection.url", &error_text(&e)))?;
        if let Some(user) = config.get("connection.user") {
            connection.user(user);
        }
        if let Some(password) = config.get("connection.password") {
            connection.password(password);
        }
        let mut pk_fields = config.list("pk.fields");
        if pk_fields.is_empty() {
            pk_fields.push("id".to_owned());
        }
        Ok(PostgresSink {
            connector: config.name().to_owned(),
            task,
            connection,
            mapping: Mapping {
                table_format: config
                    .get("table.name.format")
                    .unwrap_or("${topic}")
                    .to_owned(),
                pk_fields,
                auto_create: config.parse("auto.create", false)?,
                delete_enabled: config.parse("delete.enabled", true)?,
            },
            offsets_table: config
                .get("offsets.table.name")
                .unwrap_or("runnel_connect_offsets")
                .to_owned(),
            session: None,
        })
    }

    async fn session(&mut self) -> Result<&mut Session, SinkError> {
        if self.session.is_none() {
            let (client, connection) = self.connection.connect(NoTls).await.map_err(classify)?;
            let connector = self.connector.clone();
            let task = self.task;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(%connector, task, error = %error_text(&e), "PostgreSQL connection ended");
                }
            });
            let offsets = quote(&self.offsets_table);
            create_if_missing(
                &client,
                &format!(
                    "CREATE TABLE IF NOT EXISTS {offsets} (connector TEXT NOT NULL, \
                     topic TEXT NOT NULL, partition INT NOT NULL, next_offset BIGINT NOT NULL, \
                     PRIMARY KEY (connector, topic, partition))"
                ),
            )
            .await?;
            // Locks the position of every partition of the batch, creating the missing
            // ones, so that two tasks that both hold a partition for a moment during a
            // rebalance write its records one after the other, the second skipping what the
            // first applied.
            let lock_positions = client
                .prepare_typed(
                    &format!(
                        "INSERT INTO {offsets} AS stored (connector, topic, partition, next_offset) \
                         SELECT $1, *, 0 FROM unnest($2::text[], $3::int[]) \
                         ON CONFLICT (connector, topic, partition) \
                         DO UPDATE SET next_offset = stored.next_offset \
                         RETURNING topic, partition, next_offset"
                    ),
                    &[Type::TEXT, Type::TEXT_ARRAY, Type::INT4_ARRAY],
                )
                .await
                .map_err(classify)?;
            let write_positions = client
                .prepare_typed(
                    &format!(
                        "INSERT INTO {offsets} AS stored (connector, topic, partition, next_offset) \
                         SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[]) \
                         ON CONFLICT (connector, topic, partition) DO UPDATE \
                         SET next_offset = GREATEST(stored.next_offset, EXCLUDED.next_offset)"
                    ),
                    &[Type::TEXT, Type::TEXT_ARRAY, Type::INT4_ARRAY, Type::INT8_ARRAY],
                )
                .await
                .map_err(classify)?;
            self.session = Some(Session {
                client,
                tables: HashMap::new(),
                lock_positions,
                write_positions,
            });
        }
        self.session
            .as_mut()
            .ok_or_else(|| SinkError::Transient("no PostgreSQL session".to_owned()))
    }

    async fn write(
        &mut self,
        records: &[SinkRecord],
        positions: &Positions,
    ) -> Result<(), SinkError> {
        let connector = &self.connector;
        let mapping = &self.mapping;
        let (topics, partitions, nexts) = columns(positions);
        let session = match &mut self.session {
            Some(session) => session,
            None => return Err(SinkError::Transient("no PostgreSQL session".to_owned())),
        };
        let transaction = session.client.transaction().await.map_err(classify)?;
        // The rows to write are folded once the stored positions are locked.
        let stored = lock_positions(
            &transaction,
            &session.lock_positions,
            connector,
            &topics,
            &partitions,
        )
        .await?;
        let tables = mapping.fold(records, &stored)?;
        for (table, rows) in tables {
            let (upserts, deletes): (Vec<Folded>, Vec<Folded>) = rows
                .into_values()
                .partition(|r| matches!(r, Folded::Upsert { .. }));
            if !session.tables.contains_key(&table) {
                let Some(sample) = upserts.first().or(deletes.first()) else {
                    continue;
                };
                let sample = Value::Object(mapping.row(sample).map_err(SinkError::Fatal)?);
                let stage = format!("runnel_stage_{}", session.tables.len());
                let statements =
                    prepare_table(&transaction, &table, &stage, &sample, mapping).await?;
                session.tables.insert(table.clone(), statements);
            }
            let statements = session
                .tables
                .get_mut(&table)
                .ok_or_else(|| SinkError::Transient(format!("table {table} was not prepared")))?;
            if !deletes.is_empty() {
                let deletes = deletes
                    .iter()
                    .map(|folded| mapping.row(folded).map(Value::Object))
                    .collect::<Result<Vec<Value>, String>>()
                    .map_err(SinkError::Fatal)?;
                transaction
                    .execute(&statements.delete, &[&Value::Array(deletes)])
                    .await
                    .map_err(|e| in_table(&table, e))?;
            }
            if !upserts.is_empty() {
                let rows = mapping.copy_text(&statements.columns, &upserts);
                let inserted = statements.direct.should_try()
                    && insert_new_rows(&transaction, statements, rows.clone(), &table).await?;
                if !inserted {
                    copy_rows(&transaction, &statements.copy, rows)
                        .await
                        .map_err(|e| in_table(&table, e))?;
                    transaction
                        .execute(&statements.upsert, &[])
                        .await
                        .map_err(|e| in_table(&table, e))?;
                }
            }
        }
        transaction
            .execute(
                &session.write_positions,
                &[connector, &topics, &partitions, &nexts],
            )
            .await
            .map_err(classify)?;
        transaction.commit().await.map_err(classify)
    }
}

impl Mapping {
    /// Whether a key can identify a row: an object of key columns, or a primitive value of
    /// the one column `pk.fields` names.
    fn check_key(&self, key: &Value) -> Result<(), String> {
        match key {
            Value::Object(_) => Ok(()),
            Value::Array(_) => Err("a record key that is a list cannot name a row".to_owned()),
            _ if self.pk_fields.len() == 1 => Ok(()),
            _ => Err(format!(
                "a primitive record key needs exactly one pk.fields column, not {}",
                self.pk_fields.len()
            )),
        }
    }

    /// A column's field in a folded change: the key's field (a key column), else the
    /// value's. The key wins, as the key identifies the row the value is written to.
    fn field<'a>(&self, folded: &Folded<'a>, column: &str) -> Option<&'a Value> {
        let (key, value) = match *folded {
            Folded::Upsert { key, value } => (key, Some(value)),
            Folded::Delete { key } => (key, None),
        };
        let from_key = match key {
            Value::Object(fields) => fields.get(column),
            primitive => {
                (self.pk_fields.first().map(String::as_str) == Some(column)).then_some(primitive)
            }
        };
        from_key.or_else(|| value.and_then(|fields| fields.get(column)))
    }

    /// The whole row of a folded change, as JSON fields: the value's fields and the key
    /// columns (a delete has only the key columns).
    fn row(&self, folded: &Folded<'_>) -> Result<Map<String, Value>, String> {
        let (key, mut row) = match *folded {
            Folded::Upsert { key, value } => (key, value.clone()),
            Folded::Delete { key } => (key, Map::new()),
        };
        self.check_key(key)?;
        match key {
            Value::Object(fields) => row.extend(fields.clone()),
            primitive => {
                for column in &self.pk_fields {
                    row.insert(column.clone(), primitive.clone());
                }
            }
        }
        Ok(row)
    }

    /// Upserts in `COPY`'s text format, one field per column: a missing field or JSON null
    /// is NULL, a string is its text, a number or boolean its JSON text, an array or object
    /// its JSON text (for `json`, `jsonb` and text columns). PostgreSQL casts each to its
    /// column type, as it would cast the JSON field. Written straight from the records'
    /// data, with no row built in between.
    fn copy_text(&self, columns: &[String], upserts: &[Folded<'_>]) -> Bytes {
        let mut text = Vec::with_capacity(upserts.len() * 64);
        for folded in upserts {
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    text.push(b'\t');
                }
                match self.field(folded, column) {
                    None | Some(Value::Null) => text.extend_from_slice(b"\\N"),
                    Some(Value::String(field)) => escape_copy(&mut text, field),
                    Some(Value::Number(n)) => text.extend_from_slice(n.to_string().as_bytes()),
                    Some(Value::Bool(b)) => {
                        text.extend_from_slice(if *b { b"true" } else { b"false" })
                    }
                    Some(json) => escape_copy(&mut text, &json.to_string()),
                }
            }
            text.push(b'\n');
        }
        Bytes::from(text)
    }

    /// The final change of every key in the batch, per table, skipping records the stored
    /// positions cover. Keys are compared by their JSON text.
    fn fold<'a>(
        &self,
        records: &'a [SinkRecord],
        stored: &Positions,
    ) -> Result<BTreeMap<String, BTreeMap<String, Folded<'a>>>, SinkError> {
        let mut tables: BTreeMap<String, BTreeMap<String, Folded<'a>>> = BTreeMap::new();
        for record in records {
            let applied = stored
                .get(&(record.original_topic.clone(), record.partition))
                .is_some_and(|next| record.offset < *next);
            if applied {
                continue;
            }
            let table = self.table_format.replace("${topic}", &record.topic);
            let (key, row) = match record.change().map_err(SinkError::Fatal)? {
                Change::Upsert { key, value } => {
                    let Value::Object(value) = value else {
                        return Err(SinkError::Fatal(
                            "a record value is not an object".to_owned(),
                        ));
                    };
                    self.check_key(key).map_err(SinkError::Fatal)?;
                    (key, Folded::Upsert { key, value })
                }
                Change::Delete { key } if self.delete_enabled => {
                    self.check_key(key).map_err(SinkError::Fatal)?;
                    (key, Folded::Delete { key })
                }
                Change::Delete { .. } => continue,
            };
            tables
                .entry(table)
                .or_default()
                .insert(key.to_string(), row);
        }
        Ok(tables)
    }
}

#[async_trait]
impl SinkTask for PostgresSink {
    fn check(&self, record: &SinkRecord) -> Result<(), String> {
        match record.change()? {
            Change::Upsert { key, value } => {
                self.mapping.check_key(key)?;
                if value.is_object() {
                    Ok(())
                } else {
                    Err("the record value is not a JSON object of columns".to_owned())
                }
            }
            Change::Delete { key } => self.mapping.check_key(key),
        }
    }

    async fn put(
        &mut self,
        records: &[SinkRecord],
        positions: &Positions,
    ) -> Result<(), SinkError> {
        self.session().await?;
        let result = self.write(records, positions).await;
        if result.is_err() {
            // The connection may be broken, and a rolled-back transaction takes with it the
            // staging tables it created: the next write opens a new session.
            self.session = None;
        }
        result
    }

    async fn stored_positions(
        &mut self,
        partitions: &[(String, i32)],
    ) -> Result<Positions, SinkError> {
        let offsets = quote(&self.offsets_table);
        let connector = self.connector.clone();
        let (topics, numbers): (Vec<String>, Vec<i32>) = partitions.iter().cloned().unzip();
        let session = self.session().await?;
        let rows = session
            .client
            .query(
                &format!(
                    "SELECT topic, partition, next_offset FROM {offsets} \
                     WHERE connector = $1 AND (topic, partition) IN \
                     (SELECT * FROM unnest($2::text[], $3::int[]))"
                ),
                &[&connector, &topics, &numbers],
            )
            .await
            .map_err(classify)?;
        positions_of(&rows)
    }

    async fn reset_positions(&mut self) -> Result<(), SinkError> {
        let offsets = quote(&self.offsets_table);
        let connector = self.connector.clone();
        let session = self.session().await?;
        session
            .client
            .execute(
                &format!("DELETE FROM {offsets} WHERE connector = $1"),
                &[&connector],
            )
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// The last change of a key in a batch, borrowed from its record: the key and the fields
/// to write, or the key to delete.
#[derive(Debug, Clone, Copy)]
enum Folded<'a> {
    Upsert {
        key: &'a Value,
        value: &'a Map<String, Value>,
    },
    Delete {
        key: &'a Value,
    },
}

fn columns(positions: &Positions) -> (Vec<String>, Vec<i32>, Vec<i64>) {
    let mut topics = Vec::with_capacity(positions.len());
    let mut partitions = Vec::with_capacity(positions.len());
    let mut nexts = Vec::with_capacity(positions.len());
    for ((topic, partition), next) in positions {
        topics.push(topic.clone());
        partitions.push(*partition);
        nexts.push(*next);
    }
    (topics, partitions, nexts)
}

async fn lock_positions(
    transaction: &Transaction<'_>,
    statement: &Statement,
    connector: &str,
    topics: &[String],
    partitions: &[i32],
) -> Result<Positions, SinkError> {
    let rows = transaction
        .query(statement, &[&connector, &topics, &partitions])
        .await
        .map_err(classify)?;
    positions_of(&rows)
}

/// Sends rows in `COPY`'s text format to a prepared `COPY ... FROM STDIN`.
async fn copy_rows(
    transaction: &Transaction<'_>,
    statement: &Statement,
    rows: Bytes,
) -> Result<(), tokio_postgres::Error> {
    let sink = transaction.copy_in::<_, Bytes>(statement).await?;
    let mut sink = std::pin::pin!(sink);
    sink.send(rows).await?;
    sink.as_mut().finish().await.map(drop)
}

/// Upserts that are all new rows, written with `COPY` straight into the table. Returns
/// false, with nothing written, when a row's key exists (the attempt is rolled back to a
/// savepoint and the batch takes the upsert path).
async fn insert_new_rows(
    transaction: &Transaction<'_>,
    statements: &mut Table,
    rows: Bytes,
    table: &str,
) -> Result<bool, SinkError> {
    transaction
        .batch_execute("SAVEPOINT runnel_new_rows")
        .await
        .map_err(classify)?;
    match copy_rows(transaction, &statements.copy_direct, rows).await {
        Ok(()) => {
            statements.direct.succeeded();
            transaction
                .batch_execute("RELEASE SAVEPOINT runnel_new_rows")
                .await
                .map_err(classify)?;
            Ok(true)
        }
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            statements.direct.conflicted();
            transaction
                .batch_execute("ROLLBACK TO SAVEPOINT runnel_new_rows")
                .await
                .map_err(classify)?;
            Ok(false)
        }
        Err(e) => Err(in_table(table, e)),
    }
}

/// When a batch's upserts are first tried as plain inserts.
///
/// In an initial load or an append-mostly topic most rows are new, and `COPY` straight
/// into the table is all the work there is, where the upsert path writes each row twice
/// (into the staging table, then merged into the table, row by row). A batch holding a key
/// that exists fails the attempt on the primary key and takes the upsert path; after each
/// such failure the attempts are spaced out further (1, 2, 4 ... up to
/// `MAX_SKIPPED_BATCHES` batches), so a topic of updates wastes at most one attempt in
/// that many batches.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct DirectInserts {
    /// Batches to take the upsert path before the next attempt.
    skip: u32,
    /// The spacing after the last failure; 0 after a success.
    spacing: u32,
}

const MAX_SKIPPED_BATCHES: u32 = 64;

impl DirectInserts {
    /// Whether to attempt this batch; counts the batch either way.
    fn should_try(&mut self) -> bool {
        if self.skip == 0 {
            return true;
        }
        self.skip -= 1;
        false
    }

    fn succeeded(&mut self) {
        self.spacing = 0;
    }

    fn conflicted(&mut self) {
        self.spacing = (self.spacing * 2).clamp(1, MAX_SKIPPED_BATCHES);
        self.skip = self.spacing;
    }
}

/// Rows of `(topic, partition, next_offset)` as positions.
fn positions_of(rows: &[tokio_postgres::Row]) -> Result<Positions, SinkError> {
    let mut stored = Positions::new();
    for row in rows {
        let topic: String = row.try_get(0).map_err(classify)?;
        let partition: i32 = row.try_get(1).map_err(classify)?;
        let next: i64 = row.try_get(2).map_err(classify)?;
        stored.insert((topic, partition), next);
    }
    Ok(stored)
}

/// Prepares the upsert and delete of a table, creating it from `sample` when it is missing
/// and `auto.create` is set.
async fn prepare_table(
    transaction: &Transaction<'_>,
    table: &str,
    stage: &str,
    sample: &Value,
    mapping: &Mapping,
) -> Result<Table, SinkError> {
    let mut columns = table_columns(transaction, table).await?;
    if columns.is_empty() {
        if !mapping.auto_create {
            return Err(SinkError::Fatal(format!(
                "table {table} does not exist (set auto.create=true to create it)"
            )));
        }
        create_table(transaction, table, sample, &mapping.pk_fields).await?;
        columns = table_columns(transaction, table).await?;
    }
    let keys: Vec<&str> = columns
        .iter()
        .filter(|(_, primary)| *primary)
        .map(|(name, _)| name.as_str())
        .collect();
    if keys.is_empty() {
        return Err(SinkError::Fatal(format!(
            "table {table} has no primary key"
        )));
    }
    let all: Vec<String> = columns.iter().map(|(name, _)| quote(name)).collect();
    let all = all.join(", ");
    let name = quote(table);
    let key_list: Vec<String> = keys.iter().map(|k| quote(k)).collect();
    let updates: Vec<String> = columns
        .iter()
        .filter(|(_, primary)| !primary)
        .map(|(column, _)| format!("{0} = EXCLUDED.{0}", quote(column)))
        .collect();
    let on_conflict = if updates.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        format!("DO UPDATE SET {}", updates.join(", "))
    };
    // The staging table lives as long as the session and is emptied by every commit.
    transaction
        .batch_execute(&format!(
            "CREATE TEMPORARY TABLE {stage} (LIKE {name}) ON COMMIT DELETE ROWS"
        ))
        .await
        .map_err(|e| in_table(table, e))?;
    let upsert = format!(
        "INSERT INTO {name} ({all}) SELECT {all} FROM {stage} ON CONFLICT ({}) {on_conflict}",
        key_list.join(", ")
    );
    let matching: Vec<String> = keys
        .iter()
        .map(|k| format!("target.{0} = gone.{0}", quote(k)))
        .collect();
    let delete = format!(
        "DELETE FROM {name} AS target USING jsonb_populate_recordset(NULL::{name}, $1) AS gone \
         WHERE {}",
        matching.join(" AND ")
    );
    Ok(Table {
        copy: transaction
            .prepare(&format!("COPY {stage} ({all}) FROM STDIN"))
            .await
            .map_err(|e| in_table(table, e))?,
        copy_direct: transaction
            .prepare(&format!("COPY {name} ({all}) FROM STDIN"))
            .await
            .map_err(|e| in_table(table, e))?,
        direct: DirectInserts::default(),
        upsert: transaction
            .prepare(&upsert)
            .await
            .map_err(|e| in_table(table, e))?,
        delete: transaction
            .prepare_typed(&delete, &[Type::JSONB])
            .await
            .map_err(|e| in_table(table, e))?,
        columns: columns.into_iter().map(|(name, _)| name).collect(),
    })
}

/// Appends `field` escaped for `COPY`'s text format: the runs between the four characters
/// that need a backslash are copied whole.
fn escape_copy(text: &mut Vec<u8>, field: &str) {
    let bytes = field.as_bytes();
    let mut run = 0;
    for (i, byte) in bytes.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            _ => continue,
        };
        text.extend_from_slice(&bytes[run..i]);
        text.extend_from_slice(escaped);
        run = i + 1;
    }
    text.extend_from_slice(&bytes[run..]);
}

/// The columns of a table and whether each is part of its primary key; empty when the
/// table does not exist.
async fn table_columns(
    transaction: &Transaction<'_>,
    table: &str,
) -> Result<Vec<(String, bool)>, SinkError> {
    let rows = transaction
        .query(
            "SELECT a.attname::text, COALESCE(i.indisprimary, false) \
             FROM pg_attribute a LEFT JOIN pg_index i \
             ON i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY(i.indkey) \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&quote(table)],
        )
        .await
        .map_err(classify)?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get(0).map_err(classify)?,
                row.try_get(1).map_err(classify)?,
            ))
        })
        .collect()
}

async fn create_table(
    transaction: &Transaction<'_>,
    table: &str,
    sample: &Value,
    pk_fields: &[String],
) -> Result<(), SinkError> {
    let Value::Object(fields) = sample else {
        return Err(SinkError::Fatal(format!(
            "cannot create table {table} from a non-object"
        )));
    };
    let keys: Vec<&String> = pk_fields
        .iter()
        .filter(|k| fields.contains_key(*k))
        .collect();
    if keys.is_empty() {
        return Err(SinkError::Fatal(format!(
            "cannot create table {table}: the first record has none of the key columns {pk_fields:?}"
        )));
    }
    let columns: Vec<String> = fields
        .iter()
        .map(|(name, value)| {
            let not_null = if keys.contains(&name) {
                " NOT NULL"
            } else {
                ""
            };
            format!("{} {}{not_null}", quote(name), column_type(value))
        })
        .collect();
    let key_list: Vec<String> = keys.iter().map(|k| quote(k)).collect();
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({}))",
        quote(table),
        columns.join(", "),
        key_list.join(", ")
    );
    transaction
        .batch_execute(&sql)
        .await
        .map_err(|e| match e.code().map(|c| c.code()) {
            // Another task created the table at the same moment: the batch is retried and
            // finds it.
            Some("23505" | "42P07") => SinkError::Transient(format!(
                "table {table} was being created: {}",
                error_text(&e)
            )),
            _ => in_table(table, e),
        })
}

/// The column type a JSON value suggests.
fn column_type(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "BOOLEAN",
        Value::Number(n) if n.is_i64() || n.is_u64() => "BIGINT",
        Value::Number(_) => "DOUBLE PRECISION",
        Value::String(_) | Value::Null => "TEXT",
        Value::Array(_) | Value::Object(_) => "JSONB",
    }
}

/// Runs a `CREATE ... IF NOT EXISTS`; two tasks racing to create the same table make one
/// fail on the catalog's unique index, which means the table exists.
async fn create_if_missing(client: &Client, sql: &str) -> Result<(), SinkError> {
    match client.batch_execute(sql).await {
        Ok(()) => Ok(()),
        Err(e)
            if e.code()
                .is_some_and(|c| c.code() == "23505" || c.code() == "42P07") =>
        {
            Ok(())
        }
        Err(e) => Err(classify(e)),
    }
}

/// A double-quoted SQL identifier.
fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

fn in_table(table: &str, error: tokio_postgres::Error) -> SinkError {
    match classify(error) {
        SinkError::Fatal(reason) => SinkError::Fatal(format!("table {table}: {reason}")),
        transient => transient,
    }
}

/// Connection failures, shutdowns, lack of resources, serialization failures and deadlocks
/// pass; anything else the server said will not.
fn classify(error: tokio_postgres::Error) -> SinkError {
    let text = error_text(&error);
    match error.code().map(|c| c.code()) {
        Some(code)
            if code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57")
                || code == "40001"
                || code == "40P01" =>
        {
            SinkError::Transient(text)
        }
        Some(_) => SinkError::Fatal(text),
        None if error.is_closed() || std::error::Error::source(&error).is_some() => {
            SinkError::Transient(text)
        }
        None => SinkError::Fatal(text),
    }
}

/// The error with the server's message or the underlying cause.
fn error_text(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("db.orders"), "\"db.orders\"");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn copy_text_escapes_fields_and_writes_missing_ones_as_null() {
        let columns = [
            "id".to_owned(),
            "note".to_owned(),
            "doc".to_owned(),
            "ok".to_owned(),
        ];
        let keys = [json!({"id": 1}), json!(2)];
        let values = [
            json!({"id": 0, "note": "a\tb\nc\\d", "doc": {"k": [1]}, "ok": true}),
            json!({"note": null}),
        ];
        let upserts: Vec<Folded> = keys
            .iter()
            .zip(&values)
            .map(|(key, value)| Folded::Upsert {
                key,
                value: value.as_object().unwrap(),
            })
            .collect();
        let mapping = Mapping {
            table_format: "${topic}".to_owned(),
            pk_fields: vec!["id".to_owned()],
            auto_create: false,
            delete_enabled: true,
        };
        assert_eq!(
            mapping.copy_text(&columns, &upserts),
            "1\ta\\tb\\nc\\\\d\t{\"k\":[1]}\ttrue\n2\t\\N\t\\N\t\\N\n"
        );
    }

    #[test]
    fn direct_inserts_are_spaced_out_after_each_conflict_and_resume_after_a_success() {
        let mut direct = DirectInserts::default();
        assert!(direct.should_try());
        direct.conflicted();
        // One batch skipped, then two, then four...
        let mut pattern = Vec::new();
        for _ in 0..4 {
            let mut skipped = 0;
            while !direct.should_try() {
                skipped += 1;
            }
            pattern.push(skipped);
            direct.conflicted();
        }
        assert_eq!(pattern, [1, 2, 4, 8]);
        for _ in 0..10 {
            while !direct.should_try() {}
            direct.conflicted();
        }
        assert_eq!(direct.spacing, MAX_SKIPPED_BATCHES);
        while !direct.should_try() {}
        direct.succeeded();
        assert!(direct.should_try());
        direct.conflicted();
        assert_eq!(direct.skip, 1);
    }

    #[test]
    fn column_types_follow_json() {
        assert_eq!(column_type(&json!(1)), "BIGINT");
        assert_eq!(column_type(&json!(1.5)), "DOUBLE PRECISION");
        assert_eq!(column_type(&json!("x")), "TEXT");
        assert_eq!(column_type(&json!({"a": 1})), "JSONB");
    }
}
