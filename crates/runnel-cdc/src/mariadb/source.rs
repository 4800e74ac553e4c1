//! The MariaDB source: reads the captured tables inside a consistent-snapshot transaction
//! tied to a binlog position, then streams the binlog from that position as a replica. A
//! reader task does both and hands records to `poll` through a bounded queue.

use futures_util::StreamExt;
use mysql_async::binlog::events::{EventData, RowsEventData};
use mysql_async::binlog::row::BinlogRow;
use mysql_async::binlog::value::BinlogValue;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, OptsBuilder};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::SnapshotMode;
use crate::envelope::{
    BinlogPosition, EventBuilder, Op, Row, SnapshotMarker, SourcePosition, TableSchema,
};
use crate::error::CdcError;
use crate::mariadb::config::MariaDbConfig;
use crate::mariadb::gtid::{decode_gtid, GTID_EVENT};
use crate::mariadb::offsets::{snapshot_offset, BinlogCoordinates, Committed, StreamOffset};
use crate::mariadb::values::{binlog_json, labels, table_schema, Kind};
use crate::offsets::{latest, server_partition, OffsetMap};
use crate::source::Clock;
use crate::ChangeRecord;

/// `MARIA_SLAVE_CAPABILITY_GTID`: the server sends its GTID events rather than turning them
/// into `BEGIN` query events, so each transaction carries its GTID.
const SLAVE_CAPABILITY: &str = "SET @mariadb_slave_capability = 4";

/// What the server must be configured with: rows with every column's value, name and key.
const REQUIRED_SETTINGS: &[(&str, &str)] = &[
    ("log_bin", "1"),
    ("binlog_format", "ROW"),
    ("binlog_row_image", "FULL"),
    ("binlog_row_metadata", "FULL"),
];

const SYSTEM_DATABASES: &str = "'mysql', 'information_schema', 'performance_schema', 'sys'";

type Sent = Result<ChangeRecord, CdcError>;

pub struct MariaDbSource {
    config: MariaDbConfig,
    clock: Clock,
    reader: Option<(mpsc::Receiver<Sent>, JoinHandle<()>)>,
}

impl std::fmt::Debug for MariaDbSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MariaDbSource")
            .field("server", &self.config.topic_prefix)
            .field("running", &self.reader.is_some())
            .finish_non_exhaustive()
    }
}

/// What the reader task does after `start` decided.
#[derive(Debug)]
enum Plan {
    /// Snapshot, then stream from the snapshot's position unless `initial_only`.
    Snapshot { then_stream: bool },
    /// Stream from a transaction's start, skipping its records up to `delivered`.
    Stream {
        from: BinlogCoordinates,
        delivered: Option<u64>,
    },
    /// `initial_only` after its snapshot.
    Nothing,
}

impl MariaDbSource {
    pub fn new(config: MariaDbConfig) -> MariaDbSource {
        MariaDbSource::with_clock(config, crate::source::system_clock())
    }

    pub fn with_clock(config: MariaDbConfig, clock: Clock) -> MariaDbSource {
        MariaDbSource {
            config,
            clock,
            reader: None,
        }
    }

    /// Connects, checks the server's binlog settings, and decides from the committed offsets
    /// whether to snapshot and where to resume; then starts reading.
    pub async fn start(&mut self, committed: &[(OffsetMap, OffsetMap)]) -> Result<(), CdcError> {
        let committed = latest(&server_partition(&self.config.topic_prefix), committed)
            .map(Committed::parse)
            .transpose()?;
        let mut conn = connect(&self.config).await?;
        check_server(&mut conn).await?;
        let snapshot_done = committed.as_ref().is_some_and(Committed::snapshot_done);
        let resume = committed
            .as_ref()
            .filter(|c| c.snapshot_done())
            .map(Committed::resume);
        let position_lost = match &resume {
            Some((from, _)) => !binlog_files(&mut conn).await?.contains(&from.file),
            None => false,
        };
        let mode = self.config.snapshot_mode;
        let snapshot = match mode {
            SnapshotMode::Never => false,
            SnapshotMode::Initial | SnapshotMode::InitialOnly => !snapshot_done,
            SnapshotMode::WhenNeeded => !snapshot_done || position_lost,
        };
        let plan = if snapshot {
            Plan::Snapshot {
                then_stream: mode != SnapshotMode::InitialOnly,
            }
        } else if mode == SnapshotMode::InitialOnly {
            Plan::Nothing
        } else {
            match resume {
                Some((from, _)) if position_lost => {
                    return Err(CdcError::BinlogLost { file: from.file })
                }
                Some((from, delivered)) => Plan::Stream { from, delivered },
                None => Plan::Stream {
                    from: current_position(&mut conn).await?,
                    delivered: None,
                },
            }
        };
        let (sender, receiver) = mpsc::channel(self.config.max_queue_size);
        let reader = Reader {
            builder: EventBuilder::binlog(
                &self.config.topic_prefix,
                self.config.connector,
                self.config.key_schemas,
                self.config.value_schemas,
            ),
            partition: server_partition(&self.config.topic_prefix),
            config: self.config.clone(),
            clock: self.clock.clone(),
            sender,
        };
        let task = tokio::spawn(reader.run(conn, plan));
        self.reader = Some((receiver, task));
        Ok(())
    }

    /// Up to `max.batch.size` records; none if nothing arrived within `poll.interval.ms`.
    pub async fn poll(&mut self) -> Result<Vec<ChangeRecord>, CdcError> {
        let Some((receiver, _)) = &mut self.reader else {
            return Ok(Vec::new());
        };
        let mut records = Vec::new();
        let first = match tokio::time::timeout(self.config.poll_interval, receiver.recv()).await {
            Ok(Some(first)) => first?,
            // Timed out, or the reader finished (`initial_only`).
            Ok(None) | Err(_) => return Ok(records),
        };
        records.push(first);
        while records.len() < self.config.max_batch_size {
            match receiver.try_recv() {
                Ok(record) => records.push(record?),
                Err(_) => break,
            }
        }
        Ok(records)
    }

    /// Nothing to confirm to the server: a replica's position lives in the committed offsets.
    pub async fn commit(&mut self, _committed: &[(OffsetMap, OffsetMap)]) -> Result<(), CdcError> {
        Ok(())
    }

    /// Stops reading and closes the connection.
    pub async fn stop(&mut self) -> Result<(), CdcError> {
        if let Some((_, task)) = self.reader.take() {
            task.abort();
            // The task's end (cancelled) is what is awaited; its result says nothing more.
            let _ = task.await;
        }
        Ok(())
    }
}

impl Drop for MariaDbSource {
    fn drop(&mut self) {
        if let Some((_, task)) = &self.reader {
            task.abort();
        }
    }
}

async fn connect(config: &MariaDbConfig) -> Result<Conn, CdcError> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(config.hostname.clone())
        .tcp_port(config.port)
        .user(Some(config.user.clone()))
        .pass(Some(config.password.clone()))
        .prefer_socket(false);
    let mut conn = Conn::new(opts).await?;
    // Snapshot timestamps then come as UTC, as the binlog gives them, and text as UTF-8.
    conn.query_drop("SET SESSION time_zone = '+00:00', NAMES utf8mb4")
        .await?;
    Ok(conn)
}

/// Refuses a server whose binlog would not give full rows with column names.
async fn check_server(conn: &mut Conn) -> Result<(), CdcError> {
    for (variable, needed) in REQUIRED_SETTINGS {
        let actual: Option<String> = conn.query_first(format!("SELECT @@{variable}")).await?;
        let actual = actual.unwrap_or_default();
        if !actual.eq_ignore_ascii_case(needed) {
            return Err(CdcError::ServerSetting {
                variable,
                actual,
                needed,
            });
        }
    }
    Ok(())
}

async fn binlog_files(conn: &mut Conn) -> Result<Vec<String>, CdcError> {
    let rows: Vec<mysql_async::Row> = conn.query("SHOW BINARY LOGS").await?;
    Ok(rows
        .into_iter()
        .filter_map(|mut row| row.take::<String, _>(0))
        .collect())
}

async fn current_position(conn: &mut Conn) -> Result<BinlogCoordinates, CdcError> {
    let status: Option<mysql_async::Row> = conn.query_first("SHOW MASTER STATUS").await?;
    let mut status = status.ok_or(CdcError::ServerSetting {
        variable: "log_bin",
        actual: "OFF".to_owned(),
        needed: "1",
    })?;
    Ok(BinlogCoordinates {
        file: status.take(0).unwrap_or_default(),
        pos: status.take(1).unwrap_or_default(),
    })
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Everything the reader task needs to turn rows into records.
struct Reader {
    config: MariaDbConfig,
    clock: Clock,
    builder: EventBuilder,
    partition: OffsetMap,
    sender: mpsc::Sender<Sent>,
}

/// An open transaction of the binlog stream.
struct Transaction {
    start: BinlogCoordinates,
    gtid: String,
    server_id: u32,
    ts_ms: i64,
    /// Records emitted so far.
    records: u64,
}

/// A row, converted, with its table.
type TableRow = (TableSchema, Row);

impl Reader {
    async fn run(self, mut conn: Conn, plan: Plan) {
        let result = match plan {
            Plan::Snapshot { then_stream } => match self.snapshot(&mut conn).await {
                Ok(Some(at)) if then_stream => self.stream(conn, at, None).await,
                Ok(_) => Ok(()),
                Err(error) => Err(error),
            },
            Plan::Stream { from, delivered } => self.stream(conn, from, delivered).await,
            Plan::Nothing => Ok(()),
        };
        if let Err(error) = result {
            // A closed queue means the source stopped: nobody is left to tell.
            let _ = self.sender.send(Err(error)).await;
        }
    }

    /// Sends a record; `false` once the source stopped listening.
    async fn send(&self, record: ChangeRecord) -> bool {
        self.sender.send(Ok(record)).await.is_ok()
    }

    /// Reads every captured table in one consistent-snapshot transaction, and returns the
    /// binlog position that snapshot corresponds to (`None` if the source stopped meanwhile).
    async fn snapshot(&self, conn: &mut Conn) -> Result<Option<BinlogCoordinates>, CdcError> {
        conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .await?;
        conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            .await?;
        // MariaDB reports the binlog position of the snapshot itself, with no lock taken.
        let status: Vec<(String, String)> =
            conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'").await?;
        let value = |name: &str| {
            status
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let at = BinlogCoordinates {
            file: value("binlog_snapshot_file"),
            pos: value("binlog_snapshot_position")
                .parse()
                .unwrap_or_default(),
        };
        let tables: Vec<(String, String)> = conn
            .query(format!(
                "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ({SYSTEM_DATABASES}) \
                 ORDER BY TABLE_SCHEMA, TABLE_NAME"
            ))
            .await?;
        let now_ms = (self.clock)();
        let mut held: Option<TableRow> = None;
        for (database, table) in tables {
            if !self.config.captures(&database, &table) {
                continue;
            }
            let mut rows = conn
                .exec_iter(
                    format!("SELECT * FROM {}.{}", quote(&database), quote(&table)),
                    (),
                )
                .await?;
            let columns = rows.columns().unwrap_or_else(|| Vec::new().into());
            let (schema, kinds) =
                table_schema(&database, &table, &columns, self.config.decimal_handling);
            while let Some(row) = rows.next().await? {
                let values = row
                    .unwrap()
                    .iter()
                    .zip(&kinds)
                    .map(|(value, kind)| kind.json(value))
                    .collect::<Result<Row, _>>()?;
                if let Some(previous) = held.replace((schema.clone(), values)) {
                    if !self
                        .send(self.snapshot_record(previous, &at, false, now_ms))
                        .await
                    {
                        return Ok(None);
                    }
                }
            }
        }
        if let Some(last) = held.take() {
            if !self
                .send(self.snapshot_record(last, &at, true, now_ms))
                .await
            {
                return Ok(None);
            }
        }
        conn.query_drop("COMMIT").await?;
        Ok(Some(at))
    }

    fn snapshot_record(
        &self,
        (table, row): TableRow,
        at: &BinlogCoordinates,
        last: bool,
        now_ms: i64,
    ) -> ChangeRecord {
        let position = BinlogPosition {
            ts_ms: now_ms,
            snapshot: if last {
                SnapshotMarker::Last
            } else {
                SnapshotMarker::True
            },
            server_id: 0,
            gtid: None,
            file: at.file.clone(),
            pos: at.pos,
            row: 0,
        };
        ChangeRecord {
            source_partition: self.partition.clone(),
            source_offset: snapshot_offset(at, last),
            topic: self.config.topic(&table.schema, &table.table),
            key: self.builder.key(&table, &row),
            value: Some(self.builder.value(
                &table,
                Op::Read,
                None,
                Some(&row),
                &SourcePosition::Binlog(position),
                now_ms,
            )),
            headers: Vec::new(),
            timestamp_ms: Some(now_ms),
        }
    }

    /// Streams the binlog as a replica from `from`, which is the start of a transaction;
    /// that transaction's first `delivered + 1` records are skipped.
    async fn stream(
        &self,
        mut conn: Conn,
        from: BinlogCoordinates,
        delivered: Option<u64>,
    ) -> Result<(), CdcError> {
        conn.query_drop(SLAVE_CAPABILITY).await?;
        if let Some(interval) = self.config.heartbeats.interval {
            // The server then sends a heartbeat event whenever its binlog is idle that long,
            // so an idle server's position still reaches the offsets.
            let nanos = interval.as_nanos().max(1_000_000);
            conn.query_drop(format!("SET @master_heartbeat_period = {nanos}"))
                .await?;
        }
        let mut last_heartbeat_ms = (self.clock)();
        let request = BinlogStreamRequest::new(self.config.server_id)
            .with_filename(from.file.as_bytes())
            .with_pos(from.pos);
        let mut stream = conn.get_binlog_stream(request).await?;
        let mut file = from.file.clone();
        let mut transaction: Option<Transaction> = None;
        while let Some(event) = stream.next().await {
            let event = event?;
            let header = event.header();
            if header.event_type_raw() == GTID_EVENT {
                let gtid = decode_gtid(header.server_id(), event.data())?;
                transaction = Some(Transaction {
                    start: BinlogCoordinates {
                        file: file.clone(),
                        pos: u64::from(header.log_pos().saturating_sub(header.event_size())),
                    },
                    gtid: gtid.to_string(),
                    server_id: header.server_id(),
                    ts_ms: i64::from(header.timestamp()) * 1000,
                    records: 0,
                });
                continue;
            }
            match event.read_data().map_err(CdcError::Binlog)? {
                // The artificial rotate that opens the stream (position 0) comes before the
                // format description, so its name would carry the checksum; it names the file
                // asked for anyway.
                Some(EventData::RotateEvent(rotate)) if header.log_pos() != 0 => {
                    file = rotate.name().into_owned();
                }
                // Between transactions: a committed one ends, or the server is idle.
                Some(EventData::XidEvent(_) | EventData::HeartbeatEvent) => {
                    let now_ms = (self.clock)();
                    if self.config.heartbeats.due(last_heartbeat_ms, now_ms) {
                        last_heartbeat_ms = now_ms;
                        let offset = StreamOffset {
                            at: BinlogCoordinates {
                                file: file.clone(),
                                pos: u64::from(header.log_pos()),
                            },
                            event: None,
                            gtid: transaction.as_ref().map(|t| t.gtid.clone()),
                        };
                        let heartbeat = self.builder.heartbeat(
                            &self.config.heartbeats.topic(&self.config.topic_prefix),
                            self.partition.clone(),
                            offset.to_map(),
                            now_ms,
                        );
                        if !self.send(heartbeat).await {
                            return Ok(());
                        }
                    }
                }
                Some(EventData::RowsEvent(rows)) => {
                    let Some(transaction) = transaction.as_mut() else {
                        continue;
                    };
                    let skip = (transaction.start == from).then_some(delivered).flatten();
                    let records = self.rows(&stream, &rows, transaction, skip)?;
                    for record in records {
                        if !self.send(record).await {
                            return Ok(());
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The records of one rows event, each numbered in its transaction; those numbered up
    /// to `skip` were delivered before a restart and are left out.
    fn rows(
        &self,
        stream: &BinlogStream,
        rows: &RowsEventData<'_>,
        transaction: &mut Transaction,
        skip: Option<u64>,
    ) -> Result<Vec<ChangeRecord>, CdcError> {
        let Some(map) = stream.get_tme(rows.table_id()) else {
            return Err(CdcError::Binlog(std::io::Error::other(format!(
                "rows event for table id {} without its table map",
                rows.table_id()
            ))));
        };
        let (database, table) = (map.database_name(), map.table_name());
        if !self.config.captures(&database, &table) {
            return Ok(Vec::new());
        }
        let labels = labels(map).map_err(CdcError::Binlog)?;
        let op = match rows {
            RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => Op::Create,
            RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => Op::Delete,
            _ => Op::Update,
        };
        let now_ms = (self.clock)();
        let mut records = Vec::new();
        let mut schema: Option<(TableSchema, Vec<Kind>)> = None;
        for (index, images) in rows.rows(map).enumerate() {
            let (before, after) = images.map_err(CdcError::Binlog)?;
            let (table_schema_now, kinds) = schema.get_or_insert_with(|| {
                let columns = after
                    .as_ref()
                    .or(before.as_ref())
                    .map(BinlogRow::columns_ref);
                table_schema(
                    &database,
                    &table,
                    columns.unwrap_or_default(),
                    self.config.decimal_handling,
                )
            });
            let before = before
                .map(|row| convert(&row, kinds, &labels))
                .transpose()?;
            let after = after.map(|row| convert(&row, kinds, &labels)).transpose()?;
            let position = BinlogPosition {
                ts_ms: transaction.ts_ms,
                snapshot: SnapshotMarker::False,
                server_id: transaction.server_id,
                gtid: Some(transaction.gtid.clone()),
                file: transaction.start.file.clone(),
                pos: transaction.start.pos,
                row: u32::try_from(index).unwrap_or(u32::MAX),
            };
            let mut emit = |key: Option<Vec<u8>>, value: Option<Vec<u8>>| {
                let number = transaction.records;
                transaction.records += 1;
                if skip.is_some_and(|delivered| number <= delivered) {
                    return;
                }
                let offset = StreamOffset {
                    at: transaction.start.clone(),
                    event: Some(number),
                    gtid: Some(transaction.gtid.clone()),
                };
                records.push(ChangeRecord {
                    source_partition: self.partition.clone(),
                    source_offset: offset.to_map(),
                    topic: self.config.topic(&database, &table),
                    key,
                    value,
                    headers: Vec::new(),
                    timestamp_ms: Some(transaction.ts_ms),
                });
            };
            let table = &*table_schema_now;
            let value = |op, before: Option<&Row>, after: Option<&Row>| {
                let source = SourcePosition::Binlog(position.clone());
                Some(
                    self.builder
                        .value(table, op, before, after, &source, now_ms),
                )
            };
            let old_key = before.as_ref().and_then(|row| self.builder.key(table, row));
            let new_key = after.as_ref().and_then(|row| self.builder.key(table, row));
            let tombstones = self.config.tombstones_on_delete;
            match op {
                Op::Update if old_key != new_key => {
                    emit(old_key.clone(), value(Op::Delete, before.as_ref(), None));
                    if tombstones {
                        emit(old_key, None);
                    }
                    emit(new_key, value(Op::Create, None, after.as_ref()));
                }
                Op::Delete => {
                    emit(old_key.clone(), value(Op::Delete, before.as_ref(), None));
                    if tombstones && old_key.is_some() {
                        emit(old_key, None);
                    }
                }
                _ => emit(new_key, value(op, before.as_ref(), after.as_ref())),
            }
        }
        Ok(records)
    }
}

fn convert(row: &BinlogRow, kinds: &[Kind], labels: &[Vec<String>]) -> Result<Row, CdcError> {
    (0..row.len())
        .zip(kinds)
        .map(|(index, kind)| match row.as_ref(index) {
            Some(BinlogValue::Value(value)) => {
                let labels = labels.get(index).map_or(&[][..], Vec::as_slice);
                Ok(binlog_json(*kind, value, labels)?)
            }
            None => Ok(Value::Null),
            Some(BinlogValue::Jsonb(_) | BinlogValue::JsonDiff(_)) => Err(CdcError::Binlog(
                std::io::Error::other("MySQL's binary JSON columns are not supported"),
            )),
        })
        .collect()
}
