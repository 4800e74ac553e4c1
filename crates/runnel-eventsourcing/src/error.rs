//! Errors of the toolkit.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum EventStoreError {
    #[error("Kafka client: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("local event index {path}: {source}")]
    Index {
        path: PathBuf,
        #[source]
        source: Box<redb::Error>,
    },
    #[error("topic {0} does not exist")]
    UnknownTopic(String),
    #[error("topic {0} must have runnel.conditional.append.enable=true")]
    NotConditional(String),
    #[error("commit at offset {offset} of aggregate {id:?} cannot be read: {reason}")]
    Undecodable {
        id: String,
        offset: i64,
        reason: String,
    },
    #[error("the event index did not catch up with the topic within {0:?}")]
    CatchUpTimeout(Duration),
    #[error("the event index reader stopped: {0}")]
    ReaderStopped(String),
    #[error("gave up after {attempts} attempts, each refused by a conflicting append")]
    TooManyConflicts { attempts: u32 },
    #[error("could not start a task: {0}")]
    Thread(String),
    #[error("creating topic {topic}: {code}")]
    CreateTopic {
        topic: String,
        code: rdkafka::types::RDKafkaErrorCode,
    },
    #[error("projection: {0}")]
    Projection(#[from] runnel_streams_kafka::RunnerError),
    #[error("the personal data of {0} was forgotten: nothing more is sealed for it")]
    Forgotten(String),
    #[error("no secure random bytes: {0}")]
    Randomness(String),
    #[error("encryption failed")]
    Cipher,
    #[error("could not encode: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<R: std::fmt::Debug + std::fmt::Display> {
    /// The aggregate refused it: nothing was appended.
    #[error("refused: {0}")]
    Refused(R),
    #[error(transparent)]
    Store(#[from] EventStoreError),
}
