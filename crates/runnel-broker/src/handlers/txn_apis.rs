//! Transaction APIs on the wire: InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
//! EndTxn, TxnOffsetCommit, DescribeTransactions, ListTransactions, DescribeProducers. The
//! state machine is in [`crate::txn`]; per-partition producer state in `runnel_log`.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::describe_transactions_response::{self, TopicData};
use kafka_protocol::messages::list_transactions_response;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, DescribeProducersRequest, DescribeProducersResponse,
    DescribeTransactionsRequest, DescribeTransactionsResponse, EndTxnRequest, EndTxnResponse,
    InitProducerIdRequest, InitProducerIdResponse, ListTransactionsRequest,
    ListTransactionsResponse, ProducerId, TopicName, TransactionalId, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
};
use kafka_protocol::protocol::StrBytes;

use runnel_acl::Operation;

use super::access::Access;
use crate::broker::BrokerState;
use crate::error::log_error_code;
use crate::groups::store::{self, PendingCommit};
use crate::handlers::group_apis::WantedCommit;
use crate::txn::{TxnMetadata, TxnState};

fn text(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

pub(crate) async fn init_producer_id(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let current =
        (request.producer_id.0 >= 0).then_some((request.producer_id.0, request.producer_epoch));
    let transactional_id = request.transactional_id.as_ref().map(|id| id.0.as_str());
    // As Kafka: WRITE on the transactional id; without one, idempotent writing.
    let refused = match transactional_id {
        Some(id) => access.transactional_id_code(Operation::Write, id),
        None if access.may_write_idempotently() => 0,
        None => ResponseError::ClusterAuthorizationFailed.code(),
    };
    let outcome = if refused != 0 {
        Err(refused)
    } else {
        state
            .transactions
            .init_producer_id(
                state,
                transactional_id,
                request.transaction_timeout_ms,
                current,
            )
            .await
    };
    match outcome {
        Ok((producer_id, epoch)) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(epoch),
        Err(code) => InitProducerIdResponse::default()
            .with_error_code(code)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    }
}

/// Clients send versions 0–3 (one transaction per request); 4 and up are broker-to-broker.
pub(crate) async fn add_partitions_to_txn(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let transactional_id = request.v3_and_below_transactional_id.0.as_str();
    let id_refused = access.transactional_id_code(Operation::Write, transactional_id);
    // Partitions refused outright (the code for each), and those to add.
    let mut refused = Vec::new();
    let mut wanted = Vec::new();
    for topic in &request.v3_and_below_topics {
        let found = state.topics.get(topic.name.0.as_str());
        let topic_refused = access.topic_code(Operation::Write, &topic.name);
        for &index in &topic.partitions {
            let key = (topic.name.0.to_string(), index);
            let valid = found
                .as_ref()
                .is_some_and(|t| !t.internal && t.partition(index).is_some());
            if id_refused != 0 {
                refused.push((key, id_refused));
            } else if topic_refused != 0 {
                refused.push((key, topic_refused));
            } else if valid {
                wanted.push(key);
            } else {
                refused.push((key, ResponseError::UnknownTopicOrPartition.code()));
            }
        }
    }
    // Like Kafka: one bad partition fails the request, and the others are not attempted.
    let outcome = if refused.is_empty() {
        state
            .transactions
            .add(
                state,
                request.v3_and_below_transactional_id.0.as_str(),
                request.v3_and_below_producer_id.0,
                request.v3_and_below_producer_epoch,
                &wanted,
                &[],
            )
            .await
    } else {
        Err(ResponseError::OperationNotAttempted.code())
    };
    let mut by_topic: BTreeMap<String, Vec<AddPartitionsToTxnPartitionResult>> = BTreeMap::new();
    for (topic, index) in &wanted {
        let code = outcome.err().unwrap_or(0);
        by_topic
            .entry(topic.clone())
            .or_default()
            .push(partition_result(*index, code));
    }
    for ((topic, index), code) in &refused {
        by_topic
            .entry(topic.clone())
            .or_default()
            .push(partition_result(*index, *code));
    }
    let results = by_topic
        .into_iter()
        .map(|(name, partitions)| {
            AddPartitionsToTxnTopicResult::default()
                .with_name(TopicName(text(name)))
                .with_results_by_partition(partitions)
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
}

fn partition_result(index: i32, code: i16) -> AddPartitionsToTxnPartitionResult {
    AddPartitionsToTxnPartitionResult::default()
        .with_partition_index(index)
        .with_partition_error_code(code)
}

pub(crate) async fn add_offsets_to_txn(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let group = request.group_id.0.to_string();
    let refused = match access.transactional_id_code(Operation::Write, &request.transactional_id) {
        0 => access.group_code(Operation::Read, &group),
        refused => refused,
    };
    let outcome = if refused != 0 {
        Err(refused)
    } else if group.is_empty() {
        Err(ResponseError::InvalidGroupId.code())
    } else {
        state
            .transactions
            .add(
                state,
                request.transactional_id.0.as_str(),
                request.producer_id.0,
                request.producer_epoch,
                &[],
                &[group],
            )
            .await
    };
    AddOffsetsToTxnResponse::default().with_error_code(outcome.err().unwrap_or(0))
}

pub(crate) async fn end_txn(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: EndTxnRequest,
) -> EndTxnResponse {
    let outcome = match access.transactional_id_code(Operation::Write, &request.transactional_id) {
        0 => {
            state
                .transactions
                .end_txn(
                    state,
                    request.transactional_id.0.as_str(),
                    request.producer_id.0,
                    request.producer_epoch,
                    request.committed,
                )
                .await
        }
        refused => Err(refused),
    };
    EndTxnResponse::default()
        .with_error_code(outcome.err().unwrap_or(0))
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}

/// Offsets committed inside a transaction: written to the group's offsets partition as part
/// of the producer's transaction, visible once its commit marker is written.
pub(crate) async fn txn_offset_commit(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let group = request.group_id.0.to_string();
    let (producer_id, epoch) = (request.producer_id.0, request.producer_epoch);
    // As Kafka: WRITE on the transactional id, READ on the group, then READ on each topic.
    let refused = match access.transactional_id_code(Operation::Write, &request.transactional_id) {
        0 => access.group_code(Operation::Read, &group),
        refused => refused,
    };
    let mut refusal = if refused != 0 {
        Some(refused)
    } else {
        state
            .transactions
            .verify_group(
                request.transactional_id.0.as_str(),
                producer_id,
                epoch,
                &group,
            )
            .await
            .err()
    };
    // From v3 the consumer's group membership is checked too (KIP-447), as OffsetCommit does.
    if refusal.is_none() && !request.member_id.is_empty() {
        refusal = state
            .groups
            .check_commit(
                &group,
                request.generation_id,
                request.member_id.as_str(),
                request.group_instance_id.as_deref(),
                crate::groups::consumer::CommitKind::Transactional,
            )
            .err();
    }
    let now = runnel_log::Clock::now_ms(&runnel_log::SystemClock);
    let mut commits = Vec::new();
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        let found = state.topics.get(topic.name.0.as_str());
        let topic_refused = access.topic_code(Operation::Read, &topic.name);
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let wanted = WantedCommit {
                topic: &topic.name,
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: p.committed_metadata.as_ref(),
            };
            let checked = match refusal {
                Some(code) => Err(code),
                None if topic_refused != 0 => Err(topic_refused),
                None => wanted.check(found.as_deref(), now),
            };
            let code = match checked {
                Err(code) => code,
                Ok(commit) => {
                    commits.push(commit);
                    0
                }
            };
            partitions.push(
                TxnOffsetCommitResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(code),
            );
        }
        topics.push(
            TxnOffsetCommitResponseTopic::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions),
        );
    }
    match store::persist_transactional(state, &group, &commits, producer_id, epoch).await {
        Ok(()) => {
            let pending = commits
                .into_iter()
                .map(|(key, commit)| PendingCommit {
                    group: group.clone(),
                    key,
                    commit,
                })
                .collect();
            state.groups.add_transactional(producer_id, pending);
        }
        Err(error) => {
            tracing::warn!(group = %group, %error, "storing transactional offsets failed");
            let code = log_error_code(&error);
            for p in topics.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
                if p.error_code == 0 {
                    p.error_code = code;
                }
            }
        }
    }
    TxnOffsetCommitResponse::default().with_topics(topics)
}

pub(crate) async fn describe_transactions(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let ids: Vec<String> = request
        .transactional_ids
        .iter()
        .map(|id| id.0.to_string())
        .collect();
    let described = state.transactions.describe(Some(&ids)).await;
    let states = described
        .into_iter()
        .map(|(id, meta)| match meta {
            // As Kafka: DESCRIBE on the id, and only the topics the requester may describe.
            _ if !access.transactional_id(Operation::Describe, &id) => {
                describe_transactions_response::TransactionState::default()
                    .with_transactional_id(TransactionalId(text(id)))
                    .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code())
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1)
            }
            Some(mut meta) => {
                meta.partitions
                    .retain(|(topic, _)| access.topic(Operation::Describe, topic));
                described_state(meta)
            }
            None => describe_transactions_response::TransactionState::default()
                .with_transactional_id(TransactionalId(text(id)))
                .with_error_code(ResponseError::TransactionalIdNotFound.code())
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

fn described_state(meta: TxnMetadata) -> describe_transactions_response::TransactionState {
    let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (topic, index) in meta.partitions {
        topics.entry(topic).or_default().push(index);
    }
    describe_transactions_response::TransactionState::default()
        .with_transactional_id(TransactionalId(text(meta.transactional_id)))
        .with_transaction_state(text(meta.state.name()))
        .with_transaction_timeout_ms(meta.timeout_ms)
        .with_transaction_start_time_ms(meta.start_ms)
        .with_producer_id(ProducerId(meta.producer_id))
        .with_producer_epoch(meta.epoch)
        .with_topics(
            topics
                .into_iter()
                .map(|(topic, partitions)| {
                    TopicData::default()
                        .with_topic(TopicName(text(topic)))
                        .with_partitions(partitions)
                })
                .collect(),
        )
}

pub(crate) async fn list_transactions(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let known = |name: &str| TxnState::ALL.iter().any(|s| s.name() == name);
    let unknown_state_filters: Vec<StrBytes> = request
        .state_filters
        .iter()
        .filter(|f| !known(f.as_str()))
        .cloned()
        .collect();
    let now = runnel_log::Clock::now_ms(&runnel_log::SystemClock);
    let listed = state
        .transactions
        .describe(None)
        .await
        .into_iter()
        .filter_map(|(_, meta)| meta)
        .filter(|m| access.transactional_id(Operation::Describe, &m.transactional_id))
        .filter(|m| {
            request.state_filters.is_empty()
                || request
                    .state_filters
                    .iter()
                    .any(|f| f.as_str() == m.state.name())
        })
        .filter(|m| {
            request.producer_id_filters.is_empty()
                || request
                    .producer_id_filters
                    .iter()
                    .any(|p| p.0 == m.producer_id)
        })
        // v1: only transactions open longer than the filter (-1: no filter).
        .filter(|m| {
            request.duration_filter < 0
                || (m.state == TxnState::Ongoing && now - m.start_ms > request.duration_filter)
        })
        .map(|m| {
            list_transactions_response::TransactionState::default()
                .with_transactional_id(TransactionalId(text(m.transactional_id)))
                .with_producer_id(ProducerId(m.producer_id))
                .with_transaction_state(text(m.state.name()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown_state_filters)
        .with_transaction_states(listed)
}

/// The producers each partition remembers (for `kafka-transactions.sh describe-producers`).
pub(crate) fn describe_producers(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let found = state.topics.get(topic.name.0.as_str());
            let refused = access.topic_code(Operation::Read, &topic.name);
            let partitions = topic
                .partition_indexes
                .iter()
                .map(|&index| {
                    let response = PartitionResponse::default().with_partition_index(index);
                    if refused != 0 {
                        return response.with_error_code(refused);
                    }
                    let Some(partition) = found.as_ref().and_then(|t| t.partition(index)) else {
                        return response
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    let producers = partition
                        .log
                        .producers()
                        .into_iter()
                        .map(|p| {
                            ProducerState::default()
                                .with_producer_id(ProducerId(p.producer_id))
                                .with_producer_epoch(i32::from(p.epoch))
                                .with_last_sequence(p.last_sequence().unwrap_or(-1))
                                .with_last_timestamp(p.last_update_ms)
                                .with_coordinator_epoch(p.coordinator_epoch)
                                .with_current_txn_start_offset(p.txn_first_offset.unwrap_or(-1))
                        })
                        .collect();
                    response.with_active_producers(producers)
                })
                .collect();
            TopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}
