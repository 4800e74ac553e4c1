//! The PostgreSQL and MariaDB sources as source connectors of the connector runtime: a
//! connector file naming one of [`CLASS_NAMES`] runs a [`PostgresSource`] as its task, one
//! naming one of [`MARIADB_CLASS_NAMES`] a [`MariaDbSource`], and the runtime writes their
//! events to Kafka in transactions that carry their offsets.

use async_trait::async_trait;
use runnel_connect::config::ConnectorConfig;
use runnel_connect::source::{CommittedOffsets, SourceClasses, SourceRecord, SourceTask};
use runnel_connect::{ConfigError, ConnectError};

use crate::config::{CdcConfig, ConfigError as CdcConfigError};
use crate::error::CdcError;
use crate::mariadb::{MariaDbConfig, MariaDbSource};
use crate::source::PostgresSource;
use crate::ChangeRecord;

/// The `connector.class` names of the PostgreSQL source: Debezium's, so its connector files
/// work unchanged, and a short one.
pub const CLASS_NAMES: &[&str] = &[
    "io.debezium.connector.postgresql.PostgresConnector",
    "postgres-cdc",
];

/// The `connector.class` names of the MariaDB source: Debezium's MySQL and MariaDB
/// connectors', and a short one.
pub const MARIADB_CLASS_NAMES: &[&str] = &[
    "io.debezium.connector.mysql.MySqlConnector",
    "io.debezium.connector.mariadb.MariaDbConnector",
    "mariadb-cdc",
];

/// Makes the PostgreSQL and MariaDB sources known to a worker under their class names.
pub fn register(classes: &mut SourceClasses) {
    for name in CLASS_NAMES {
        classes.register(name, create_postgres_task);
    }
    for name in MARIADB_CLASS_NAMES {
        classes.register(name, create_mariadb_task);
    }
}

fn create_postgres_task(
    config: &ConnectorConfig,
    _task: usize,
) -> Result<Box<dyn SourceTask>, ConfigError> {
    one_task(config, "a PostgreSQL source reads one replication slot")?;
    let cdc = CdcConfig::from_settings(config.settings()).map_err(config_error)?;
    Ok(Box::new(CdcTask::Postgres(PostgresSource::new(cdc))))
}

fn create_mariadb_task(
    config: &ConnectorConfig,
    _task: usize,
) -> Result<Box<dyn SourceTask>, ConfigError> {
    one_task(config, "a MariaDB source reads one binlog")?;
    let cdc = MariaDbConfig::from_settings(config.settings()).map_err(config_error)?;
    Ok(Box::new(CdcTask::MariaDb(MariaDbSource::new(cdc))))
}

/// One log streams to one reader: a second task would have nothing to read.
fn one_task(config: &ConnectorConfig, why: &str) -> Result<(), ConfigError> {
    if config.parse("tasks.max", 1usize)? != 1 {
        return Err(ConfigError::Invalid {
            key: "tasks.max".to_owned(),
            reason: format!("{why} with one task: set tasks.max to 1"),
        });
    }
    Ok(())
}

fn config_error(error: CdcConfigError) -> ConfigError {
    match error {
        CdcConfigError::Missing(name) => ConfigError::Missing(name.to_owned()),
        CdcConfigError::Invalid {
            name,
            value,
            reason,
        } => ConfigError::Invalid {
            key: name.to_owned(),
            reason: format!("{value:?} {reason}"),
        },
    }
}

/// Fails the task with the reason and its causes, each once: the PostgreSQL driver's error
/// says only "db error" or "error connecting to server", the server's message or the socket's
/// error being its cause.
fn source_error(error: CdcError) -> ConnectError {
    let mut reason = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(error) = cause {
        let text = error.to_string();
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        cause = error.source();
    }
    ConnectError::Source(reason)
}

enum CdcTask {
    Postgres(PostgresSource),
    MariaDb(MariaDbSource),
}

#[async_trait]
impl SourceTask for CdcTask {
    async fn start(&mut self, committed: &CommittedOffsets) -> Result<(), ConnectError> {
        match self {
            CdcTask::Postgres(source) => source.start(committed).await,
            CdcTask::MariaDb(source) => source.start(committed).await,
        }
        .map_err(source_error)
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let changes = match self {
            CdcTask::Postgres(source) => source.poll().await,
            CdcTask::MariaDb(source) => source.poll().await,
        }
        .map_err(source_error)?;
        Ok(changes.into_iter().map(source_record).collect())
    }

    async fn commit(&mut self, committed: &CommittedOffsets) -> Result<(), ConnectError> {
        match self {
            CdcTask::Postgres(source) => source.commit(committed).await,
            CdcTask::MariaDb(source) => source.commit(committed).await,
        }
        .map_err(source_error)
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        match self {
            CdcTask::Postgres(source) => source.stop().await,
            CdcTask::MariaDb(source) => source.stop().await,
        }
        .map_err(source_error)
    }
}

fn source_record(change: ChangeRecord) -> SourceRecord {
    SourceRecord {
        source_partition: change.source_partition,
        source_offset: change.source_offset,
        topic: change.topic,
        key: change.key,
        value: change.value,
        headers: change.headers,
        timestamp_ms: change.timestamp_ms,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(extra: &[(&str, &str)]) -> ConnectorConfig {
        let mut settings: std::collections::BTreeMap<String, String> = [
            ("name", "pg"),
            ("connector.class", "postgres-cdc"),
            ("database.user", "postgres"),
            ("database.dbname", "shop"),
            ("topic.prefix", "shop"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        settings.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        ConnectorConfig::new(settings).unwrap()
    }

    #[test]
    fn both_class_names_make_postgres_tasks() {
        let mut classes = SourceClasses::default();
        register(&mut classes);
        for name in CLASS_NAMES {
            assert!(classes.is_source(name));
            let config = config(&[("connector.class", name)]);
            assert!(classes.create(&config, 0).is_ok());
        }
    }

    #[test]
    fn every_mariadb_class_name_makes_a_task() {
        let mut classes = SourceClasses::default();
        register(&mut classes);
        for name in MARIADB_CLASS_NAMES {
            assert!(classes.is_source(name));
            let config = config(&[("connector.class", name), ("database.server.id", "7")]);
            assert!(classes.create(&config, 0).is_ok());
        }
        let bad = config(&[
            ("connector.class", "mariadb-cdc"),
            ("database.server.id", "x"),
        ]);
        let Err(error) = classes.create(&bad, 0) else {
            panic!("a bad database.server.id accepted");
        };
        assert!(error.to_string().contains("database.server.id"), "{error}");
    }

    #[test]
    fn more_than_one_task_is_refused_with_the_reason() {
        let Err(error) = create_postgres_task(&config(&[("tasks.max", "2")]), 0) else {
            panic!("two tasks accepted");
        };
        let message = error.to_string();
        assert!(
            message.contains("tasks.max") && message.contains("one replication slot"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_failure_names_its_cause() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let url = format!("host=127.0.0.1 port={port} user=postgres");
        let Err(error) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await else {
            panic!("connected to a closed port");
        };
        let message = source_error(CdcError::Postgres(error)).to_string();
        assert!(
            message.starts_with("PostgreSQL: error connecting to server: ")
                && message.contains("refused"),
            "{message}"
        );
    }

    #[test]
    fn settings_errors_name_the_setting() {
        let Err(error) = create_postgres_task(&config(&[("snapshot.mode", "sometimes")]), 0) else {
            panic!("a bad snapshot.mode accepted");
        };
        let message = error.to_string();
        assert!(
            message.contains("snapshot.mode") && message.contains("sometimes"),
            "{message}"
        );
        let mut settings = config(&[]).settings().clone();
        settings.remove("topic.prefix");
        let Err(error) = create_postgres_task(&ConnectorConfig::new(settings).unwrap(), 0) else {
            panic!("no topic.prefix accepted");
        };
        assert!(error.to_string().contains("topic.prefix"), "{error}");
    }
}
