//! The PostgreSQL source as a source connector of the connector runtime: a connector file
//! naming one of [`CLASS_NAMES`] runs a [`PostgresSource`] as its task, and the runtime writes
//! its events to Kafka in transactions that carry their offsets.

use async_trait::async_trait;
use runnel_connect::config::ConnectorConfig;
use runnel_connect::source::{CommittedOffsets, SourceClasses, SourceRecord, SourceTask};
use runnel_connect::{ConfigError, ConnectError};

use crate::config::{CdcConfig, ConfigError as CdcConfigError};
use crate::error::CdcError;
use crate::source::PostgresSource;
use crate::ChangeRecord;

/// The `connector.class` names of the PostgreSQL source: Debezium's, so its connector files
/// work unchanged, and a short one.
pub const CLASS_NAMES: &[&str] = &[
    "io.debezium.connector.postgresql.PostgresConnector",
    "postgres-cdc",
];

/// Makes the PostgreSQL source known to a worker under its class names.
pub fn register(classes: &mut SourceClasses) {
    for name in CLASS_NAMES {
        classes.register(name, create_task);
    }
}

fn create_task(config: &ConnectorConfig, _task: usize) -> Result<Box<dyn SourceTask>, ConfigError> {
    // One replication slot streams to one reader: a second task would have nothing to read.
    if config.parse("tasks.max", 1usize)? != 1 {
        return Err(ConfigError::Invalid {
            key: "tasks.max".to_owned(),
            reason:
                "a PostgreSQL source reads one replication slot with one task: set tasks.max to 1"
                    .to_owned(),
        });
    }
    let cdc = CdcConfig::from_settings(config.settings()).map_err(config_error)?;
    Ok(Box::new(PostgresTask(PostgresSource::new(cdc))))
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

struct PostgresTask(PostgresSource);

#[async_trait]
impl SourceTask for PostgresTask {
    async fn start(&mut self, committed: &CommittedOffsets) -> Result<(), ConnectError> {
        self.0.start(committed).await.map_err(source_error)
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let changes = self.0.poll().await.map_err(source_error)?;
        Ok(changes.into_iter().map(source_record).collect())
    }

    async fn commit(&mut self, committed: &CommittedOffsets) -> Result<(), ConnectError> {
        self.0.commit(committed).await.map_err(source_error)
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        self.0.stop().await.map_err(source_error)
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
    fn more_than_one_task_is_refused_with_the_reason() {
        let Err(error) = create_task(&config(&[("tasks.max", "2")]), 0) else {
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
        let Err(error) = create_task(&config(&[("snapshot.mode", "sometimes")]), 0) else {
            panic!("a bad snapshot.mode accepted");
        };
        let message = error.to_string();
        assert!(
            message.contains("snapshot.mode") && message.contains("sometimes"),
            "{message}"
        );
        let mut settings = config(&[]).settings().clone();
        settings.remove("topic.prefix");
        let Err(error) = create_task(&ConnectorConfig::new(settings).unwrap(), 0) else {
            panic!("no topic.prefix accepted");
        };
        assert!(error.to_string().contains("topic.prefix"), "{error}");
    }
}
