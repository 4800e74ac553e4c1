use rdkafka::error::KafkaError;
use runnel_streams::StreamsError;
use thiserror::Error;

/// Why a streams application stopped or could not start.
#[derive(Debug, Error)]
pub enum RunnerError {
    /// The graph failed: it could not be built, a record did not decode, a store could not
    /// be restored.
    #[error(transparent)]
    Streams(#[from] StreamsError),
    /// A Kafka client failed in a way the runner cannot work around.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The local state could not be read or written.
    #[error("local state: {0}")]
    Local(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The topics do not fit the graph (missing, or partitioned differently).
    #[error("topics: {0}")]
    Topics(String),
    /// Records could not be delivered to a topic.
    #[error("delivery: {0}")]
    Delivery(String),
    /// The metrics endpoint could not listen on its address.
    #[error("cannot listen on {address} for the metrics endpoint: {source}")]
    MetricsListen {
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// The processing thread ended without saying why (it panicked).
    #[error("the processing thread died")]
    ThreadDied,
}

macro_rules! local_error {
    ($($ty:ty),*) => {
        $(impl From<$ty> for RunnerError {
            fn from(error: $ty) -> Self {
                RunnerError::Local(error.to_string())
            }
        })*
    };
}

local_error!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
