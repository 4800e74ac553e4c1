//! ListOffsets: offsets by time, and the special earliest / latest / max-timestamp queries.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use runnel_log::{Log, LogError};

use runnel_acl::Operation;

use super::access::Access;
use crate::broker::BrokerState;
use crate::error::log_error_code;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;

/// Leader epochs are on the wire from this version on.
const LEADER_EPOCH_VERSION: i16 = 4;

pub(crate) async fn handle(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    let mut response = ListOffsetsResponse::default();
    let committed = request.isolation_level == 1;
    for topic in request.topics {
        let found = state.topics.get(topic.name.0.as_str());
        let refused = access.topic_code(Operation::Describe, &topic.name);
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for wanted in topic.partitions {
            let base = ListOffsetsPartitionResponse::default()
                .with_partition_index(wanted.partition_index);
            if refused != 0 {
                partitions.push(base.with_error_code(refused));
                continue;
            }
            let Some(partition) = found
                .as_ref()
                .and_then(|t| t.partition(wanted.partition_index))
            else {
                partitions
                    .push(base.with_error_code(ResponseError::UnknownTopicOrPartition.code()));
                continue;
            };
            let log = Arc::clone(&partition.log);
            let timestamp = wanted.timestamp;
            // Lookups by time read indexes and batches from disk.
            let found =
                tokio::task::spawn_blocking(move || lookup(&log, timestamp, committed)).await;
            partitions.push(match found {
                Ok(Ok(Some((offset, timestamp)))) => {
                    let found = base.with_offset(offset).with_timestamp(timestamp);
                    if version >= LEADER_EPOCH_VERSION {
                        found.with_leader_epoch(0)
                    } else {
                        found
                    }
                }
                Ok(Ok(None)) => base,
                Ok(Err(error)) => base.with_error_code(log_error_code(&error)),
                Err(_) => base.with_error_code(ResponseError::UnknownServerError.code()),
            });
        }
        response.topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    response
}

/// The (offset, timestamp) answering `timestamp`, or `None` when no record qualifies. The
/// latest offset of a `read_committed` reader is the last stable offset.
fn lookup(log: &Log, timestamp: i64, committed: bool) -> Result<Option<(i64, i64)>, LogError> {
    Ok(match timestamp {
        LATEST if committed => Some((log.last_stable_offset(), -1)),
        LATEST => Some((log.high_watermark(), -1)),
        EARLIEST | EARLIEST_LOCAL => Some((log.log_start_offset(), -1)),
        MAX_TIMESTAMP => log.max_timestamp()?.map(|t| (t.offset, t.timestamp)),
        t if t >= 0 => log
            .offset_for_timestamp(t)?
            .map(|t| (t.offset, t.timestamp)),
        // Other negative values (e.g. -5, earliest pending upload) have nothing to point to.
        _ => None,
    })
}
