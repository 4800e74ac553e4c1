//! The broker's error type, and how storage and topic errors become Kafka error codes.

use kafka_protocol::error::ResponseError;
use runnel_log::{BatchError, LogError, RecordFault};

use crate::codec::{EncodeError, FrameError};
use crate::config::ConfigError;
use crate::listeners::ListenerError;
use crate::tls::TlsError;
use crate::topics::TopicError;

/// Errors of starting, running or stopping the broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Listener(#[from] ListenerError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Topic(#[from] TopicError),
    #[error(transparent)]
    Quotas(#[from] crate::quotas::QuotaError),
    #[error(transparent)]
    ScramCredentials(#[from] crate::scram_credentials::CredentialStoreError),
    #[error(transparent)]
    Acls(#[from] crate::acls::AclStoreError),
    #[error("broker task failed: {0}")]
    Task(String),
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    #[error(transparent)]
    OAuthBearer(#[from] crate::sasl::OAuthBearerError),
}

/// Why a request was not answered; the connection is closed after the responses before it.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("undecodable {api:?} v{version} request: {message}")]
    Decode {
        api: kafka_protocol::messages::ApiKey,
        version: i16,
        message: String,
    },
    #[error("unsupported {api:?} version {version}")]
    UnsupportedVersion {
        api: kafka_protocol::messages::ApiKey,
        version: i16,
    },
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("{api:?} v{version}: the connection's SASL state was lost")]
    SaslStateLost {
        api: kafka_protocol::messages::ApiKey,
        version: i16,
    },
}

/// The Kafka error code for a failed append.
pub fn batch_error_code(error: &BatchError) -> i16 {
    match error {
        BatchError::TooLarge { .. } | BatchError::DecompressedTooLarge { .. } => {
            ResponseError::MessageTooLarge.code()
        }
        BatchError::RecordsRefused {
            fault: RecordFault::TimestampOutOfRange,
            ..
        } => ResponseError::InvalidTimestamp.code(),
        BatchError::RecordsRefused {
            fault: RecordFault::MissingKey,
            ..
        }
        | BatchError::ControlBatch
        | BatchError::InvalidExpectation(_) => ResponseError::InvalidRecord.code(),
        BatchError::UnknownCompression(_) => ResponseError::UnsupportedCompressionType.code(),
        BatchError::Compression(_) => ResponseError::UnknownServerError.code(),
        BatchError::Truncated { .. }
        | BatchError::BadLength(_)
        | BatchError::UnsupportedMagic(_)
        | BatchError::CrcMismatch { .. }
        | BatchError::MalformedRecord(_)
        | BatchError::RecordCountMismatch { .. }
        | BatchError::BadOffsetDelta(_)
        | BatchError::Decompression(_)
        | BatchError::Empty => ResponseError::CorruptMessage.code(),
    }
}

/// The Kafka error code for a failed log operation.
pub fn log_error_code(error: &LogError) -> i16 {
    match error {
        LogError::InvalidBatch(batch) => batch_error_code(batch),
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange.code(),
        // Offline: an append hit an I/O error; the log refuses writes until reopened.
        LogError::Io { .. } | LogError::Corrupt { .. } | LogError::Offline => {
            ResponseError::KafkaStorageError.code()
        }
        LogError::InvalidConfig(_) => ResponseError::InvalidConfig.code(),
        // Closed: the broker is shutting down or the topic was just deleted. A retriable
        // error that makes the client refresh its metadata.
        LogError::Closed => ResponseError::NotLeaderOrFollower.code(),
        LogError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch.code(),
        LogError::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber.code(),
        LogError::DuplicateSequence => ResponseError::DuplicateSequenceNumber.code(),
        LogError::InvalidTxnState(_) => ResponseError::InvalidTxnState.code(),
        // Kafka has no "precondition failed". INVALID_RECORD is the code whose responses carry
        // per-record errors (KIP-467), every client surfaces it with its message, and it is
        // not retriable: resending the same expectation cannot succeed, the producer must
        // read the key's latest record and decide again.
        LogError::ConditionFailed(_) => ResponseError::InvalidRecord.code(),
        LogError::KeyIndex { .. } => ResponseError::KafkaStorageError.code(),
    }
}

/// The Kafka error code for a failed topic operation.
pub fn topic_error_code(error: &TopicError) -> i16 {
    match error {
        TopicError::InvalidName(_) => ResponseError::InvalidTopicException.code(),
        TopicError::Exists(_) => ResponseError::TopicAlreadyExists.code(),
        TopicError::Unknown(_) => ResponseError::UnknownTopicOrPartition.code(),
        TopicError::InvalidPartitions(_) => ResponseError::InvalidPartitions.code(),
        TopicError::InvalidConfig(_) => ResponseError::InvalidConfig.code(),
        TopicError::Io { .. }
        | TopicError::CorruptMetadata { .. }
        | TopicError::DataDirInUse(_) => ResponseError::KafkaStorageError.code(),
        TopicError::Log(log) => log_error_code(log),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_errors_map_to_the_codes_clients_expect() {
        let too_large = LogError::InvalidBatch(BatchError::TooLarge { size: 2, limit: 1 });
        assert_eq!(log_error_code(&too_large), 10); // MESSAGE_TOO_LARGE
        let crc = LogError::InvalidBatch(BatchError::CrcMismatch {
            expected: 1,
            actual: 2,
        });
        assert_eq!(log_error_code(&crc), 2); // CORRUPT_MESSAGE
        let truncated = LogError::InvalidBatch(BatchError::Truncated {
            needed: 61,
            available: 3,
        });
        assert_eq!(log_error_code(&truncated), 2);
        let refused = |fault| {
            LogError::InvalidBatch(BatchError::RecordsRefused {
                fault,
                records: Vec::new(),
            })
        };
        assert_eq!(log_error_code(&refused(RecordFault::MissingKey)), 87); // INVALID_RECORD
        assert_eq!(
            log_error_code(&refused(RecordFault::TimestampOutOfRange)),
            32
        ); // INVALID_TIMESTAMP
        assert_eq!(
            log_error_code(&LogError::InvalidBatch(BatchError::UnknownCompression(7))),
            76
        );
        let out_of_range = LogError::OffsetOutOfRange {
            requested: 9,
            log_start: 0,
            high_watermark: 3,
        };
        assert_eq!(log_error_code(&out_of_range), 1); // OFFSET_OUT_OF_RANGE
        let io = LogError::Io {
            path: "x".into(),
            source: std::io::Error::other("disk"),
        };
        assert_eq!(log_error_code(&io), 56); // KAFKA_STORAGE_ERROR
        assert_eq!(log_error_code(&LogError::Closed), 6); // NOT_LEADER_OR_FOLLOWER
    }

    #[test]
    fn topic_errors_map_to_the_codes_clients_expect() {
        assert_eq!(topic_error_code(&TopicError::InvalidName("a b".into())), 17);
        assert_eq!(topic_error_code(&TopicError::Exists("t".into())), 36);
        assert_eq!(topic_error_code(&TopicError::Unknown("t".into())), 3);
        assert_eq!(topic_error_code(&TopicError::InvalidPartitions(0)), 37);
        assert_eq!(topic_error_code(&TopicError::InvalidConfig("x".into())), 40);
    }
}
