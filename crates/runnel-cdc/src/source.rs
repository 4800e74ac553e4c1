//! The PostgreSQL source: sets up the publication and the slot, runs the snapshot the slot
//! exported, then streams the slot's changes; `commit` confirms the flushed position to the
//! server so it can recycle WAL.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use pgwire_replication::{Lsn, ReplicationClient, ReplicationConfig, ReplicationEvent};
use tokio::time::Instant;
use tokio_postgres::{Client, NoTls};

use crate::changes::ChangeDecoder;
use crate::config::{CdcConfig, SnapshotMode};
use crate::envelope::{
    EventBuilder, Op, Position, Row, SnapshotMarker, SourcePosition, TableSchema,
};
use crate::error::CdcError;
use crate::offsets::{partition, snapshot_offset, Committed, OffsetMap};
use crate::pgoutput::{self, Message};
use crate::snapshot::{captured_tables, quote, SnapshotReader};
use crate::ChangeRecord;

/// Milliseconds since the epoch; injected so tests can fix the time events carry.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Session settings that make values' text output what the type mapping expects.
const SESSION_SETTINGS: &str = "-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3";

/// How often the confirmed position is reported to the server, at most.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// The wall clock, for sources not under test.
pub(crate) fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    })
}

pub struct PostgresSource {
    config: CdcConfig,
    clock: Clock,
    state: State,
    /// Events decoded but not yet returned (one message can give several).
    pending: VecDeque<ChangeRecord>,
}

impl std::fmt::Debug for PostgresSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSource")
            .field("slot", &self.config.slot_name)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

enum State {
    NotStarted,
    Snapshot(Box<Snapshot>),
    Streaming(Box<Stream>),
    /// `initial_only` after its snapshot: nothing more to read.
    Finished,
}

struct Snapshot {
    client: Client,
    reader: SnapshotReader,
    consistent_lsn: u64,
    /// The row read last, held back until the next one shows whether it is the last.
    held: Option<(TableSchema, Row)>,
    /// The replication session that created the slot, waiting to stream once the snapshot is
    /// read (`None` for `initial_only`).
    replication: Option<ReplicationClient>,
    decoder: ChangeDecoder,
}

struct Stream {
    /// When the last heartbeat was emitted (clock milliseconds).
    last_heartbeat_ms: i64,
    /// For the catalog: each table's primary key.
    client: Client,
    replication: ReplicationClient,
    decoder: ChangeDecoder,
}

impl PostgresSource {
    pub fn new(config: CdcConfig) -> PostgresSource {
        PostgresSource::with_clock(config, system_clock())
    }

    pub fn with_clock(config: CdcConfig, clock: Clock) -> PostgresSource {
        PostgresSource {
            config,
            clock,
            state: State::NotStarted,
            pending: VecDeque::new(),
        }
    }

    /// Connects, creates the publication and the slot if missing, and decides from the
    /// committed offsets whether to snapshot and where to resume.
    pub async fn start(&mut self, committed: &[(OffsetMap, OffsetMap)]) -> Result<(), CdcError> {
        let committed = Committed::find(&self.config, committed)?;
        let client = self.connect().await?;
        self.ensure_publication(&client).await?;
        let slot_lsn = self.slot_position(&client).await?;
        let snapshot_done = committed.is_some_and(|c| c.snapshot_done());
        let resume_after = match committed {
            Some(Committed::Stream(offset)) => Some(offset),
            _ => None,
        };
        // The position the stream must resume from, if anything was delivered: the slot must
        // still exist and not have moved past it.
        let committed_lsn = match committed {
            Some(Committed::Stream(offset)) => Some(offset.lsn_commit),
            Some(Committed::Snapshot { lsn, last: true }) => Some(lsn),
            Some(Committed::Snapshot { last: false, .. }) | None => None,
        };
        let position_lost = self.config.snapshot_mode != SnapshotMode::InitialOnly
            && committed_lsn.is_some_and(|lsn| slot_lsn.is_none_or(|slot| slot > lsn));
        let snapshot = match self.config.snapshot_mode {
            SnapshotMode::Never => false,
            SnapshotMode::Initial | SnapshotMode::InitialOnly => !snapshot_done,
            SnapshotMode::WhenNeeded => !snapshot_done || position_lost,
        };
        if !snapshot && position_lost {
            return Err(CdcError::PositionLost {
                slot: self.config.slot_name.clone(),
                committed: committed_lsn.unwrap_or_default(),
            });
        }
        let decoder = ChangeDecoder::new(&self.config, resume_after.filter(|_| !snapshot));
        if !snapshot {
            if self.config.snapshot_mode == SnapshotMode::InitialOnly {
                self.state = State::Finished;
                return Ok(());
            }
            let mut replication = self.replication_session().await?;
            if slot_lsn.is_none() {
                self.create_slot(&mut replication, "NOEXPORT_SNAPSHOT")
                    .await?;
            }
            replication.start().await?;
            replication.wait_started().await?;
            self.state = State::Streaming(Box::new(Stream {
                last_heartbeat_ms: (self.clock)(),
                client,
                replication,
                decoder,
            }));
            return Ok(());
        }
        // A new snapshot needs the snapshot a new slot exports, so that the stream starts
        // exactly where the snapshot's view of the tables ends.
        if slot_lsn.is_some() {
            client
                .execute(
                    "SELECT pg_drop_replication_slot($1)",
                    &[&self.config.slot_name],
                )
                .await?;
        }
        let mut replication = self.replication_session().await?;
        let (consistent_lsn, snapshot_name) = self
            .create_slot(&mut replication, "EXPORT_SNAPSHOT")
            .await?;
        client
            .batch_execute(&format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}",
                quote_literal(&snapshot_name)
            ))
            .await?;
        let tables = captured_tables(&client, &self.config).await?;
        tracing::info!(
            slot = %self.config.slot_name,
            tables = tables.len(),
            lsn = %Lsn::from_u64(consistent_lsn),
            "snapshot started"
        );
        let streams = self.config.snapshot_mode != SnapshotMode::InitialOnly;
        self.state = State::Snapshot(Box::new(Snapshot {
            client,
            reader: SnapshotReader::new(tables, self.config.snapshot_fetch_size),
            consistent_lsn,
            held: None,
            replication: streams.then_some(replication),
            decoder,
        }));
        Ok(())
    }

    /// The next records: up to `max.batch.size`, or none after `poll.interval.ms` without a
    /// change.
    pub async fn poll(&mut self) -> Result<Vec<ChangeRecord>, CdcError> {
        let deadline = Instant::now() + self.config.poll_interval;
        loop {
            if !self.pending.is_empty() {
                let take = self.pending.len().min(self.config.max_batch_size);
                // Drain what is ready without waiting, up to the batch size.
                if take < self.config.max_batch_size
                    && matches!(self.state, State::Streaming(_))
                    && self.read_stream(Duration::ZERO).await?
                {
                    continue;
                }
                return Ok(self.pending.drain(..take).collect());
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            match &self.state {
                State::NotStarted => {
                    return Err(CdcError::UnexpectedAnswer {
                        command: "poll",
                        detail: "the source was not started".to_owned(),
                    })
                }
                State::Snapshot(_) => self.read_snapshot().await?,
                State::Streaming(_) => {
                    self.read_stream(deadline - now).await?;
                }
                State::Finished => {
                    tokio::time::sleep_until(deadline).await;
                    return Ok(Vec::new());
                }
            }
        }
    }

    /// Confirms to PostgreSQL that everything up to the committed offsets is delivered, so the
    /// slot's WAL before it can be recycled.
    pub async fn commit(&mut self, committed: &[(OffsetMap, OffsetMap)]) -> Result<(), CdcError> {
        let Some(Committed::Stream(offset)) = Committed::find(&self.config, committed)? else {
            return Ok(());
        };
        if let State::Streaming(stream) = &self.state {
            // The transaction holding the offset may be only partly delivered: confirming its
            // commit LSN (not its end) makes the server send it again after a restart, and the
            // events already delivered are then skipped by their offsets.
            stream
                .replication
                .update_applied_lsn(Lsn::from_u64(offset.lsn_commit));
        }
        Ok(())
    }

    /// Ends the replication session cleanly, so the slot is free for the next `start` at once;
    /// with `slot.drop.on.stop`, drops the slot too (and with it the position).
    pub async fn stop(&mut self) -> Result<(), CdcError> {
        match std::mem::replace(&mut self.state, State::NotStarted) {
            State::Streaming(mut stream) => stream.replication.shutdown().await?,
            State::Snapshot(snapshot) => {
                if let Some(mut replication) = snapshot.replication {
                    replication.shutdown().await?;
                }
            }
            State::NotStarted | State::Finished => {}
        }
        if self.config.slot_drop_on_stop {
            let client = self.connect().await?;
            // Waits until the server has seen the session end and released the slot.
            if self.slot_position(&client).await?.is_some() {
                client
                    .execute(
                        "SELECT pg_drop_replication_slot($1)",
                        &[&self.config.slot_name],
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn read_snapshot(&mut self) -> Result<(), CdcError> {
        let State::Snapshot(snapshot) = &mut self.state else {
            return Ok(());
        };
        let builder = EventBuilder::new(&self.config);
        let now_ms = (self.clock)();
        let record = |table: &TableSchema, row: &Row, marker, lsn| ChangeRecord {
            source_partition: partition(&self.config),
            source_offset: snapshot_offset(lsn, marker == SnapshotMarker::Last),
            topic: self.config.topic(&table.schema, &table.table),
            key: builder.key(table, row),
            value: Some(builder.value(
                table,
                Op::Read,
                None,
                Some(row),
                &SourcePosition::Postgres(Position {
                    ts_ms: now_ms,
                    snapshot: marker,
                    tx_id: None,
                    lsn,
                    last_commit_lsn: None,
                }),
                now_ms,
            )),
            headers: Vec::new(),
            timestamp_ms: Some(now_ms),
        };
        match snapshot.reader.next_rows(&snapshot.client).await? {
            Some((table, rows)) => {
                for row in rows {
                    if let Some((held_table, held_row)) =
                        snapshot.held.replace((table.clone(), row))
                    {
                        self.pending.push_back(record(
                            &held_table,
                            &held_row,
                            SnapshotMarker::True,
                            snapshot.consistent_lsn,
                        ));
                    }
                }
                Ok(())
            }
            None => {
                if let Some((table, row)) = snapshot.held.take() {
                    self.pending.push_back(record(
                        &table,
                        &row,
                        SnapshotMarker::Last,
                        snapshot.consistent_lsn,
                    ));
                }
                snapshot.client.batch_execute("COMMIT").await?;
                tracing::info!(slot = %self.config.slot_name, "snapshot finished");
                let State::Snapshot(snapshot) = std::mem::replace(&mut self.state, State::Finished)
                else {
                    return Ok(());
                };
                if let Some(mut replication) = snapshot.replication {
                    replication.start().await?;
                    replication.wait_started().await?;
                    self.state = State::Streaming(Box::new(Stream {
                        last_heartbeat_ms: (self.clock)(),
                        client: snapshot.client,
                        replication,
                        decoder: snapshot.decoder,
                    }));
                }
                Ok(())
            }
        }
    }

    /// Reads replication events for up to `wait`; returns whether any arrived.
    async fn read_stream(&mut self, wait: Duration) -> Result<bool, CdcError> {
        let State::Streaming(stream) = &mut self.state else {
            return Ok(false);
        };
        let event = match tokio::time::timeout(wait, stream.replication.recv()).await {
            Err(_elapsed) => return Ok(false),
            Ok(event) => event?,
        };
        let Some(event) = event else {
            return Err(CdcError::UnexpectedAnswer {
                command: "START_REPLICATION",
                detail: "the replication stream ended".to_owned(),
            });
        };
        match event {
            ReplicationEvent::Begin {
                final_lsn,
                xid,
                commit_time_micros,
            } => stream
                .decoder
                .begin(xid, final_lsn.as_u64(), commit_time_micros),
            ReplicationEvent::Commit { lsn, end_lsn, .. } => {
                stream.decoder.commit(lsn.as_u64());
                self.heartbeat_if_due(end_lsn.as_u64());
            }
            ReplicationEvent::KeepAlive { wal_end, .. } => self.heartbeat_if_due(wal_end.as_u64()),
            ReplicationEvent::XLogData {
                wal_start, data, ..
            } => match pgoutput::decode(&data)? {
                Message::Relation(relation) => {
                    let key = primary_key(&stream.client, relation.id).await?;
                    stream.decoder.relation(&relation, &key);
                }
                change => {
                    let now_ms = (self.clock)();
                    stream
                        .decoder
                        .change(wal_start.as_u64(), change, now_ms, &mut self.pending)?;
                }
            },
            _ => {}
        }
        Ok(true)
    }

    /// Emits a heartbeat at `lsn` (every transaction committed before it was sent) when
    /// `heartbeat.interval.ms` has passed since the last one and no transaction is open.
    fn heartbeat_if_due(&mut self, lsn: u64) {
        let State::Streaming(stream) = &mut self.state else {
            return;
        };
        let now_ms = (self.clock)();
        if stream.decoder.in_transaction()
            || !self.config.heartbeats.due(stream.last_heartbeat_ms, now_ms)
        {
            return;
        }
        if let Some(heartbeat) = stream.decoder.heartbeat(lsn, now_ms) {
            stream.last_heartbeat_ms = now_ms;
            self.pending.push_back(heartbeat);
        }
    }

    async fn connect(&self) -> Result<Client, CdcError> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.config.hostname)
            .port(self.config.port)
            .user(&self.config.user)
            .password(&self.config.password)
            .dbname(&self.config.dbname)
            .options(SESSION_SETTINGS)
            .application_name("runnel-cdc");
        let (client, connection) = config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "PostgreSQL connection ended");
            }
        });
        Ok(client)
    }

    async fn replication_session(&self) -> Result<ReplicationClient, CdcError> {
        let config = ReplicationConfig::new(
            self.config.hostname.clone(),
            self.config.user.clone(),
            self.config.password.clone(),
            self.config.dbname.clone(),
            self.config.slot_name.clone(),
            self.config.publication_name.clone(),
        )
        .with_port(self.config.port)
        .with_buffer_size(self.config.max_queue_size)
        .with_options(SESSION_SETTINGS)
        .with_application_name("runnel-cdc")
        .with_status_interval(STATUS_INTERVAL)
        .with_start_lsn(Lsn::ZERO);
        Ok(ReplicationClient::connect_gated(config).await?)
    }

    /// `CREATE_REPLICATION_SLOT`; returns the slot's consistent point and exported snapshot.
    async fn create_slot(
        &self,
        replication: &mut ReplicationClient,
        snapshot_action: &str,
    ) -> Result<(u64, String), CdcError> {
        let rows = replication
            .simple_query(&format!(
                "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput {snapshot_action}",
                self.config.slot_name
            ))
            .await?;
        let bad = |detail: &str| CdcError::UnexpectedAnswer {
            command: "CREATE_REPLICATION_SLOT",
            detail: detail.to_owned(),
        };
        let row = rows.first().ok_or_else(|| bad("no row"))?;
        let text = |i: usize| {
            row.get(i)
                .and_then(Option::as_ref)
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let consistent = text(1).ok_or_else(|| bad("no consistent_point"))?;
        let lsn = Lsn::parse(&consistent).map_err(|e| bad(&e.to_string()))?;
        Ok((lsn.as_u64(), text(2).unwrap_or_default()))
    }

    async fn ensure_publication(&self, client: &Client) -> Result<(), CdcError> {
        let exists = client
            .query_opt(
                "SELECT 1 FROM pg_publication WHERE pubname = $1",
                &[&self.config.publication_name],
            )
            .await?
            .is_some();
        if !exists {
            // Every table, so tables created later are captured without a restart; the
            // include and exclude lists filter on the connector's side.
            client
                .batch_execute(&format!(
                    "CREATE PUBLICATION {} FOR ALL TABLES",
                    quote(&self.config.publication_name)
                ))
                .await?;
        }
        Ok(())
    }

    /// The slot's confirmed flush position, or `None` if it does not exist. A slot another
    /// session still holds (a connector that just stopped or crashed, whose connection the
    /// server has not yet closed) is waited for, `slot.max.retries` times
    /// `slot.retry.delay.ms` at most.
    async fn slot_position(&self, client: &Client) -> Result<Option<u64>, CdcError> {
        let mut retries = 0;
        loop {
            let row = client
                .query_opt(
                    "SELECT confirmed_flush_lsn::text, active FROM pg_replication_slots \
                     WHERE slot_name = $1",
                    &[&self.config.slot_name],
                )
                .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            let active: bool = row.try_get(1)?;
            if active {
                if retries == self.config.slot_max_retries {
                    return Err(CdcError::SlotInUse {
                        slot: self.config.slot_name.clone(),
                    });
                }
                retries += 1;
                tokio::time::sleep(self.config.slot_retry_delay).await;
                continue;
            }
            let text: Option<String> = row.try_get(0)?;
            return text
                .map(|t| {
                    Lsn::parse(&t)
                        .map(Lsn::as_u64)
                        .map_err(|e| CdcError::UnexpectedAnswer {
                            command: "pg_replication_slots",
                            detail: e.to_string(),
                        })
                })
                .transpose();
        }
    }
}

/// The primary key's columns of the table with `relation_id`, in key order.
async fn primary_key(client: &Client, relation_id: u32) -> Result<Vec<String>, CdcError> {
    let rows = client
        .query(
            "SELECT a.attname::text FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = $1 AND i.indisprimary \
             ORDER BY array_position(i.indkey::int2[], a.attnum)",
            &[&relation_id],
        )
        .await?;
    rows.iter()
        .map(|row| row.try_get(0).map_err(CdcError::from))
        .collect()
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::PostgresSource;

    fn assert_send<T: Send>() {}

    #[test]
    fn the_source_can_move_between_threads_as_a_source_task_must() {
        assert_send::<PostgresSource>();
    }
}
