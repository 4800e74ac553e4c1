//! Produce: append record batches, stored as sent (offsets aside; recompressed when the
//! topic's `compression.type` names another codec).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use runnel_log::{AppendInfo, BatchError, BatchHeader, LogError};

use runnel_acl::Operation;

use super::access::Access;
use crate::broker::BrokerState;
use crate::error::log_error_code;

/// A transactional write must come with its transactional id and go to a partition the
/// producer added to its open transaction; other checks (epoch, sequence) are the log's.
async fn check_transaction(
    state: &BrokerState,
    transactional_id: Option<&str>,
    topic: &TopicName,
    partition: i32,
    records: &[u8],
) -> Result<(), i16> {
    let Ok(header) = BatchHeader::parse(records) else {
        return Ok(()); // the log refuses it with the precise error
    };
    if !header.is_transactional() {
        return Ok(());
    }
    let Some(transactional_id) = transactional_id else {
        return Err(ResponseError::InvalidRecord.code());
    };
    state
        .transactions
        .verify_partition(
            transactional_id,
            header.producer_id,
            header.producer_epoch,
            (topic.0.as_str(), partition),
        )
        .await
}

/// Why a partition's append was refused: the code, and where the log says why, the message
/// and the record errors (Produce v8+) naming each refused record by its index in the batch.
struct Refusal {
    code: i16,
    message: Option<String>,
    record_errors: Vec<BatchIndexAndErrorMessage>,
}

impl From<i16> for Refusal {
    fn from(code: i16) -> Self {
        Refusal {
            code,
            message: None,
            record_errors: Vec::new(),
        }
    }
}

impl From<&LogError> for Refusal {
    fn from(error: &LogError) -> Self {
        let (message, record_errors) = match error {
            LogError::ConditionFailed(conflicts) => (
                error.to_string(),
                conflicts
                    .iter()
                    .map(|c| {
                        record_error(
                            i32::try_from(c.record_index).unwrap_or(i32::MAX),
                            c.to_string(),
                        )
                    })
                    .collect(),
            ),
            LogError::InvalidBatch(BatchError::RecordsRefused { fault, records }) => {
                let message = match records.first() {
                    Some(first) => format!(
                        "One or more records have been rejected: {} record error(s) ({fault}); \
                         the first, at batch index {}: {}",
                        records.len(),
                        first.index,
                        first.message
                    ),
                    None => fault.to_string(),
                };
                let errors = records
                    .iter()
                    .map(|r| record_error(r.index, r.message.clone()))
                    .collect();
                (message, errors)
            }
            _ => (error.to_string(), Vec::new()),
        };
        Refusal {
            code: log_error_code(error),
            message: Some(message),
            record_errors,
        }
    }
}

fn record_error(batch_index: i32, message: String) -> BatchIndexAndErrorMessage {
    BatchIndexAndErrorMessage::default()
        .with_batch_index(batch_index)
        .with_batch_index_error_message(Some(StrBytes::from_string(message)))
}

/// Answers a produce request; `None` for acks=0, which gets no response at all.
pub(crate) async fn handle(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: ProduceRequest,
    _version: i16,
) -> Option<ProduceResponse> {
    let acks = request.acks;
    let transactional_id = request.transactional_id.as_ref().map(|id| id.0.to_string());
    // Refusals that apply to every partition of the request.
    let refusal = if let Some(code @ 1..) = transactional_id
        .as_deref()
        .map(|id| access.transactional_id_code(Operation::Write, id))
    {
        Some(code)
    } else if !matches!(acks, -1..=1) {
        Some(ResponseError::InvalidRequiredAcks.code())
    } else {
        None
    };
    let mut response = ProduceResponse::default();
    // Appends to different partitions run concurrently (each waits for its own fsync).
    let mut pending = Vec::new();
    for topic in request.topic_data {
        let found = state.topics.get(topic.name.0.as_str());
        let refusal = refusal.or(match access.topic_code(Operation::Write, &topic.name) {
            0 => None,
            refused => Some(refused),
        });
        let mut partitions = Vec::with_capacity(topic.partition_data.len());
        for data in topic.partition_data {
            let index = data.index;
            let task = match (refusal, found.as_ref().and_then(|t| t.partition(index))) {
                (Some(code), _) => Err(code),
                (None, None) => Err(ResponseError::UnknownTopicOrPartition.code()),
                (None, Some(_)) if found.as_ref().is_some_and(|t| t.internal) => {
                    Err(ResponseError::InvalidTopicException.code())
                }
                (None, Some(partition)) => {
                    let records = data.records.map(|b| b.to_vec()).unwrap_or_default();
                    match check_transaction(
                        state,
                        transactional_id.as_deref(),
                        &topic.name,
                        index,
                        &records,
                    )
                    .await
                    {
                        Err(code) => Err(code),
                        Ok(()) => {
                            let metrics = state.metrics.clone();
                            let topic = topic.name.0.clone();
                            Ok(tokio::spawn(async move {
                                let bytes = records.len();
                                let appended = partition.append(records).await;
                                if let Ok(info) = &appended {
                                    let offsets = info.last_offset - info.base_offset + 1;
                                    metrics.produced(&topic, bytes, offsets.unsigned_abs());
                                }
                                appended
                            }))
                        }
                    }
                }
            };
            partitions.push((index, task));
        }
        pending.push((topic.name, partitions));
    }
    for (name, partitions) in pending {
        let mut topic_response = TopicProduceResponse::default().with_name(name);
        for (index, task) in partitions {
            let outcome: Result<AppendInfo, Refusal> = match task {
                Err(code) => Err(code.into()),
                Ok(handle) => match handle.await {
                    Ok(Ok(info)) => Ok(info),
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "append refused");
                        Err((&error).into())
                    }
                    Err(_) => Err(ResponseError::UnknownServerError.code().into()),
                },
            };
            let partition = match outcome {
                Ok(info) => PartitionProduceResponse::default()
                    .with_index(index)
                    .with_base_offset(info.base_offset)
                    .with_log_append_time_ms(info.log_append_time)
                    .with_log_start_offset(info.log_start_offset),
                // The message and record errors exist from Produce v8 on; older versions'
                // encoders leave them out.
                Err(refusal) => PartitionProduceResponse::default()
                    .with_index(index)
                    .with_error_code(refusal.code)
                    .with_error_message(refusal.message.map(StrBytes::from_string))
                    .with_record_errors(refusal.record_errors)
                    .with_base_offset(-1),
            };
            topic_response.partition_responses.push(partition);
        }
        response.responses.push(topic_response);
    }
    (acks != 0).then_some(response)
}
