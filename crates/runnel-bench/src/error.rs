use rdkafka::error::KafkaError;
use runnel_cli::settings::SettingsError;

/// Why a benchmark could not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{context}: {source}")]
    Kafka {
        context: String,
        #[source]
        source: KafkaError,
    },
    #[error("topic {topic}: {message}")]
    Topic { topic: String, message: String },
    #[error("no progress for {waited_ms} ms: {received} of {expected} records")]
    Stalled {
        received: u64,
        expected: u64,
        waited_ms: u64,
    },
    #[error("benchmark thread failed: {0}")]
    Thread(String),
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

impl BenchError {
    pub(crate) fn kafka(context: impl Into<String>) -> impl FnOnce(KafkaError) -> BenchError {
        let context = context.into();
        move |source| BenchError::Kafka { context, source }
    }
}
