use thiserror::Error;

/// Everything that can go wrong in this crate.
#[derive(Debug, Error)]
pub enum StreamsError {
    /// A window, grace period or timeout was given a length it cannot have.
    #[error("invalid window: {0}")]
    InvalidWindow(&'static str),
    /// Session windows merge partial results, so their aggregator must know how.
    #[error("session windows need an aggregator that can merge two results")]
    SessionNeedsMerge,
    /// Bytes could not be turned into a value, or a value into bytes.
    #[error("serde: {0}")]
    Serde(String),
    /// The graph cannot be built or run as described.
    #[error("topology: {0}")]
    Topology(String),
    /// Stored state could not be read back.
    #[error("state store {store}: {reason}")]
    State { store: String, reason: String },
    /// A complex-event pattern that cannot be matched as described.
    #[error("invalid pattern: {0}")]
    InvalidPattern(String),
    /// A standing search query that cannot be read or matched.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// A sink refused a record.
    #[error("sink: {0}")]
    Sink(String),
}
