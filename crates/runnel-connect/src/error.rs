//! The errors of the connector runtime.

/// A connector's settings are missing, malformed or contradictory.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing required setting {0}")]
    Missing(String),
    #[error("invalid value for {key}: {reason}")]
    Invalid { key: String, reason: String },
    #[error("cannot read connector file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("worker properties {path}: {reason}")]
    WorkerProperties { path: String, reason: String },
    #[error("unknown connector.class '{0}': neither a sink (postgres, redis, http, search) nor a source this worker registers (file, and postgres-cdc in the runnel binary)")]
    UnknownClass(String),
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, reason: &str) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_owned(),
            reason: reason.to_owned(),
        }
    }
}

/// Why a target did not take a batch.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The target is unreachable or busy: the batch is retried with backoff.
    #[error("{0}")]
    Transient(String),
    /// The target refused the batch for a reason a retry will not change.
    #[error("{0}")]
    Fatal(String),
}

/// Why the runtime could not start or carry out an operation.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("connector {0} not found")]
    NotFound(String),
    #[error("connector {0} already exists")]
    AlreadyExists(String),
    #[error("{0}")]
    Conflict(String),
    #[error("connector {0} is not a search sink")]
    NotSearchable(String),
    #[error("bad query: {0}")]
    BadQuery(String),
    #[error("cannot read the connectors directory {path}: {reason}")]
    Directory { path: String, reason: String },
    #[error("cannot write connector file {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("cannot listen on {address}: {reason}")]
    Listen { address: String, reason: String },
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// A source cannot read its system (the task fails with this reason).
    #[error("{0}")]
    Source(String),
}
