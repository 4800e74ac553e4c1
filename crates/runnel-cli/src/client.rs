//! Client configuration shared by the commands, and a context that keeps librdkafka's
//! log lines off the terminal while remembering the last error for the error message.

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::KafkaError;
use rdkafka::metadata::Metadata;
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext};

use crate::{CliError, Connection};

/// Swallows librdkafka's log lines and error events, keeping the last error. A command
/// prints one line when it fails; librdkafka's own lines (one per reconnect attempt) would
/// bury it.
#[derive(Debug, Default)]
pub(crate) struct Observer {
    last_error: Mutex<Option<String>>,
}

impl Observer {
    fn note(&self, message: String) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(message);
        }
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|last| last.clone())
    }
}

impl ClientContext for Observer {
    fn log(&self, level: RDKafkaLogLevel, _facility: &str, message: &str) {
        if matches!(
            level,
            RDKafkaLogLevel::Emerg
                | RDKafkaLogLevel::Alert
                | RDKafkaLogLevel::Critical
                | RDKafkaLogLevel::Error
        ) {
            // Drop librdkafka's "[thrd:...]: " prefix; the rest names the broker anyway.
            let message = match message.strip_prefix("[thrd:") {
                Some(rest) => rest.split_once("]: ").map_or(message, |(_, text)| text),
                None => message,
            };
            self.note(message.to_owned());
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.note(if reason.is_empty() {
            error.to_string()
        } else {
            reason.to_owned()
        });
    }
}

/// Settings every client gets: where to connect, timeouts bounded by the connection's, then
/// the client settings (security and anything else of librdkafka's), which win.
pub(crate) fn config(connection: &Connection) -> Result<ClientConfig, CliError> {
    let timeout = connection.request_timeout_ms.to_string();
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &connection.bootstrap_server)
        .set("client.id", "runnel")
        .set("socket.timeout.ms", &timeout)
        .set(
            "socket.connection.setup.timeout.ms",
            connection.request_timeout_ms.max(1000).to_string(),
        )
        .set("log.connection.close", "false");
    connection.settings()?.apply(&mut config);
    Ok(config)
}

pub(crate) fn admin(connection: &Connection) -> Result<AdminClient<Observer>, CliError> {
    config(connection)?
        .create_with_context(Observer::default())
        .map_err(|e| CliError::kafka("create a client", e))
}

pub(crate) fn admin_options(connection: &Connection) -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(connection.timeout()))
        .operation_timeout(Some(connection.timeout()))
}

/// A client for cluster-wide requests (metadata, offsets, groups) and the metadata of every
/// topic. Every command starts here, so an unreachable broker is reported the same way,
/// within the request timeout, whatever the command. Asking for all topics (rather than one)
/// never makes the broker auto-create a topic. A producer is used because its `poll` serves
/// librdkafka's log events, which say why no connection could be made.
pub(crate) fn probe(
    connection: &Connection,
) -> Result<(BaseProducer<Observer>, Metadata), CliError> {
    let client: BaseProducer<Observer> = config(connection)?
        .create_with_context(Observer::default())
        .map_err(|e| CliError::kafka("create a client", e))?;
    match client.client().fetch_metadata(None, connection.timeout()) {
        Ok(metadata) => Ok((client, metadata)),
        Err(error) => {
            client.poll(Duration::ZERO);
            Err(CliError::Unreachable {
                bootstrap: connection.bootstrap_server.clone(),
                timeout_ms: connection.request_timeout_ms,
                detail: client
                    .context()
                    .last_error()
                    .unwrap_or_else(|| error.to_string()),
            })
        }
    }
}

/// The partitions of `topic`, in order, or `UnknownTopic`.
pub(crate) fn partitions(metadata: &Metadata, topic: &str) -> Result<Vec<i32>, CliError> {
    let found = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .ok_or_else(|| CliError::UnknownTopic(topic.to_owned()))?;
    let mut partitions: Vec<i32> = found.partitions().iter().map(|p| p.id()).collect();
    partitions.sort_unstable();
    Ok(partitions)
}

/// Internal topics (`__consumer_offsets`) are hidden unless asked for, as Kafka's tools do.
pub(crate) fn is_internal(topic: &str) -> bool {
    topic.starts_with("__")
}

impl rdkafka::consumer::ConsumerContext for Observer {}

impl ProducerContext for Observer {
    type DeliveryOpaque = ();

    fn delivery(&self, _result: &DeliveryResult<'_>, _opaque: ()) {}
}
