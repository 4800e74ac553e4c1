//! Everything that stops the connector, each with what the user can do about it in its text.

use crate::config::ConfigError;
use crate::pgoutput::DecodeError;
use crate::types::ValueError;

#[derive(Debug, thiserror::Error)]
pub enum CdcError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("replication connection: {0}")]
    Replication(#[from] pgwire_replication::PgWireError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error("a change refers to relation {0}, which no Relation message described")]
    UnknownRelation(u32),
    #[error("unexpected answer from PostgreSQL to {command}: {detail}")]
    UnexpectedAnswer {
        command: &'static str,
        detail: String,
    },
    #[error(
        "replication slot {slot} is missing or has moved past the committed position \
         (LSN {committed}); use snapshot.mode when_needed to take a new snapshot"
    )]
    PositionLost { slot: String, committed: u64 },
    #[error(
        "replication slot {slot} is in use by another connection; stop the other connector \
         or raise slot.max.retries / slot.retry.delay.ms"
    )]
    SlotInUse { slot: String },
    #[error("MariaDB: {0}")]
    MariaDb(#[from] mysql_async::Error),
    #[error(transparent)]
    Gtid(#[from] crate::mariadb::gtid::GtidError),
    #[error("undecodable binlog event: {0}")]
    Binlog(std::io::Error),
    #[error("the server's {variable} is {actual:?}; the connector needs {needed} (set it in the server's configuration)")]
    ServerSetting {
        variable: &'static str,
        actual: String,
        needed: &'static str,
    },
    #[error(
        "binlog file {file} of the committed position is no longer on the server; use \
         snapshot.mode when_needed to take a new snapshot"
    )]
    BinlogLost { file: String },
    #[error("committed offset {0} is not one this connector wrote")]
    BadOffset(String),
}
