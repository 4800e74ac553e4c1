//! Share-group APIs (KIP-932): ShareGroupHeartbeat, ShareGroupDescribe, ShareFetch,
//! ShareAcknowledge, and the admin APIs on share-group offsets. Decoding and encoding
//! only; the behaviour is in [`crate::share`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use runnel_acl::{Operation, ResourceType};

use super::access::Access;
use crate::broker::BrokerState;
use crate::listeners::ListenerInfo;
use crate::share::fetch::{self, Budget, PartitionAcks};
use crate::share::store::{self, Change, ShareKey};
use crate::share::{self as shares, Heartbeat, Settled};

/// Extension tags (Runnel's own) on DescribeShareGroupOffsets partitions, read by
/// `runnel group describe`: in-flight, acquired and available records, the highest delivery
/// count in flight, and the dead-lettered count, each an i64 big-endian.
pub const TAG_IN_FLIGHT: i32 = 10_000;
pub const TAG_ACQUIRED: i32 = 10_001;
pub const TAG_AVAILABLE: i32 = 10_002;
pub const TAG_MAX_DELIVERIES: i32 = 10_003;
pub const TAG_DEAD_LETTERED: i32 = 10_004;

fn text(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

fn partitions_of(state: &BrokerState) -> impl Fn(&str) -> Option<i32> + '_ {
    |topic| state.topics.get(topic).map(|t| t.partitions().len() as i32)
}

/// Stores what a request settled; a failure there fails the request's acknowledgements.
async fn finish(state: &Arc<BrokerState>, settled: Settled) -> Result<(), i16> {
    fetch::finish(state, settled).await.map_err(|error| {
        tracing::warn!(%error, "storing share-group state failed");
        crate::error::log_error_code(&error)
    })
}

pub(crate) async fn heartbeat(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: ShareGroupHeartbeatRequest,
    client_id: &str,
    peer: SocketAddr,
) -> ShareGroupHeartbeatResponse {
    let group = request.group_id.0.to_string();
    let mut response = ShareGroupHeartbeatResponse::default();
    let refused = access.group_code(Operation::Read, &group);
    if refused != 0 {
        return response.with_error_code(refused);
    }
    let subscribed = request.subscribed_topic_names.iter().flatten();
    if let Some(message) = access.undescribable_topics(subscribed.map(|n| n.0.as_str())) {
        return response
            .with_error_code(ResponseError::TopicAuthorizationFailed.code())
            .with_error_message(Some(text(message)));
    }
    if state.groups.lock().contains_key(&group) {
        response.error_code = ResponseError::InconsistentGroupProtocol.code();
        response.error_message = Some(text("the group id belongs to a consumer group"));
        return response;
    }
    let mut settled = Settled::default();
    let outcome = state.shares.heartbeat(
        Heartbeat {
            group,
            member: request.member_id.to_string(),
            epoch: request.member_epoch,
            rack: request.rack_id.map(|r| r.to_string()),
            subscribed: request
                .subscribed_topic_names
                .map(|names| names.into_iter().map(|n| n.0.to_string()).collect()),
            client_id: client_id.to_owned(),
            client_host: peer.ip().to_string(),
        },
        partitions_of(state),
        &mut settled,
    );
    if let Err(code) = finish(state, settled).await {
        response.error_code = code;
        return response;
    }
    response.error_code = outcome.error;
    response.error_message = outcome.message.map(text);
    response.member_id = Some(request.member_id);
    response.member_epoch = outcome.epoch;
    response.heartbeat_interval_ms = outcome.heartbeat_interval_ms;
    response.assignment = outcome.assignment.map(|assignment| {
        share_group_heartbeat_response::Assignment::default().with_topic_partitions(
            assignment
                .into_iter()
                .filter_map(|(topic, partitions)| {
                    let id = state.topics.get(&topic)?.id;
                    Some(
                        share_group_heartbeat_response::TopicPartitions::default()
                            .with_topic_id(id)
                            .with_partitions(partitions),
                    )
                })
                .collect(),
        )
    });
    response
}

pub(crate) fn describe(
    state: &BrokerState,
    access: &Access<'_>,
    request: ShareGroupDescribeRequest,
) -> ShareGroupDescribeResponse {
    let mut response = ShareGroupDescribeResponse::default();
    for group_id in request.group_ids {
        let id = group_id.0.to_string();
        let mut described = share_group_describe_response::DescribedGroup::default()
            .with_group_id(group_id)
            .with_authorized_operations(access.operations(
                request.include_authorized_operations,
                ResourceType::Group,
                &id,
            ));
        let refused = access.group_code(Operation::Describe, &id);
        if refused != 0 {
            response.groups.push(
                described
                    .with_error_code(refused)
                    .with_authorized_operations(super::access::NOT_REQUESTED),
            );
            continue;
        }
        match state.shares.describe(&id) {
            None => {
                described.error_code = ResponseError::GroupIdNotFound.code();
                described.group_state = text("Dead");
            }
            Some(group) => {
                described.group_state = text(group.state());
                described.group_epoch = group.epoch;
                described.assignment_epoch = group.epoch;
                described.assignor_name = text("simple");
                described.members = group
                    .members
                    .iter()
                    .map(|(member_id, m)| {
                        share_group_describe_response::Member::default()
                            .with_member_id(text(member_id.clone()))
                            .with_rack_id(m.rack.clone().map(text))
                            .with_member_epoch(m.epoch)
                            .with_client_id(text(m.client_id.clone()))
                            .with_client_host(text(m.client_host.clone()))
                            .with_subscribed_topic_names(
                                m.subscribed
                                    .iter()
                                    .map(|t| TopicName(text(t.clone())))
                                    .collect(),
                            )
                            .with_assignment(
                                share_group_describe_response::Assignment::default()
                                    .with_topic_partitions(
                                    m.assignment
                                        .iter()
                                        .map(|(topic, partitions)| {
                                            share_group_describe_response::TopicPartitions::default(
                                            )
                                            .with_topic_id(
                                                state
                                                    .topics
                                                    .get(topic)
                                                    .map_or(Uuid::nil(), |t| t.id),
                                            )
                                            .with_topic_name(TopicName(text(topic.clone())))
                                            .with_partitions(partitions.clone())
                                        })
                                        .collect(),
                                ),
                            )
                    })
                    .collect();
            }
        }
        response.groups.push(described);
    }
    response
}

/// The topic name of `id`, if the topic exists.
fn topic_name(state: &BrokerState, id: Uuid) -> Option<String> {
    state.topics.by_id(id).map(|t| t.name.clone())
}

/// Group and member of a share request (null reads as empty, which no member has).
fn identity(group: &Option<GroupId>, member: &Option<StrBytes>) -> (String, String) {
    (
        group.as_ref().map(|g| g.0.to_string()).unwrap_or_default(),
        member.as_ref().map(|m| m.to_string()).unwrap_or_default(),
    )
}

fn leader(state: &BrokerState) -> (i32, i32) {
    (state.config.node_id, 0)
}

/// READ on each of these topics, as the code a partition of it is answered with (0 when
/// allowed). Without READ on the group the whole request is refused; without READ on a
/// topic, Kafka answers TOPIC_AUTHORIZATION_FAILED for that topic's partitions and serves
/// the others.
fn topic_read_codes<'n>(
    access: &Access<'_>,
    topics: impl Iterator<Item = &'n str>,
) -> BTreeMap<String, i16> {
    let mut codes = BTreeMap::new();
    for topic in topics {
        if !codes.contains_key(topic) {
            codes.insert(topic.to_owned(), access.topic_code(Operation::Read, topic));
        }
    }
    codes
}

/// The code of `topic` in `codes` (0 for a topic not looked up).
fn read_code(codes: &BTreeMap<String, i16>, topic: &str) -> i16 {
    codes.get(topic).copied().unwrap_or(0)
}

pub(crate) async fn share_fetch(
    state: &Arc<BrokerState>,
    listener: &ListenerInfo,
    access: &Access<'_>,
    request: ShareFetchRequest,
) -> ShareFetchResponse {
    let mut response = ShareFetchResponse::default();
    let (group, member) = identity(&request.group_id, &request.member_id);
    let refused = access.group_code(Operation::Read, &group);
    if refused != 0 {
        return response.with_error_code(refused);
    }
    let settings = state.shares.settings(&group);
    response.acquisition_lock_timeout_ms =
        i32::try_from(settings.limits.lock_ms).unwrap_or(i32::MAX);
    response.node_endpoints = vec![share_fetch_response::NodeEndpoint::default()
        .with_node_id(BrokerId(state.config.node_id))
        .with_host(text(listener.advertised_host.clone()))
        .with_port(listener.advertised_port)];
    if request.share_session_epoch != -1 && !state.shares.is_member(&group, &member) {
        response.error_code = ResponseError::UnknownMemberId.code();
        return response;
    }
    // Partitions named by the request (added to the session) and their acknowledgements.
    let mut add = Vec::new();
    let mut acks = Vec::new();
    let mut unknown = Vec::new();
    for topic in &request.topics {
        let Some(name) = topic_name(state, topic.topic_id) else {
            unknown.push((
                topic.topic_id,
                topic
                    .partitions
                    .iter()
                    .map(|p| p.partition_index)
                    .collect::<Vec<_>>(),
            ));
            continue;
        };
        for p in &topic.partitions {
            add.push((name.clone(), p.partition_index));
            if !p.acknowledgement_batches.is_empty() {
                acks.push(PartitionAcks {
                    topic: name.clone(),
                    partition: p.partition_index,
                    batches: p
                        .acknowledgement_batches
                        .iter()
                        .map(|b| (b.first_offset, b.last_offset, b.acknowledge_types.clone()))
                        .collect(),
                });
            }
        }
    }
    if request.share_session_epoch == 0 && !acks.is_empty() {
        response.error_code = ResponseError::InvalidRequest.code();
        response.error_message = Some(text("a new share session carries no acknowledgements"));
        return response;
    }
    let forget: Vec<(String, i32)> = request
        .forgotten_topics_data
        .iter()
        .filter_map(|t| Some((topic_name(state, t.topic_id)?, t.partitions.clone())))
        .flat_map(|(name, ps)| ps.into_iter().map(move |p| (name.clone(), p)))
        .collect();
    let session =
        match state
            .shares
            .session(&group, &member, request.share_session_epoch, &add, &forget)
        {
            Ok(session) => session,
            Err(code) => {
                response.error_code = code.code();
                return response;
            }
        };
    // Partitions of topics without READ stay in the session (the client asked for them) but
    // are neither acknowledged nor acquired while the right is missing.
    let codes = topic_read_codes(
        access,
        session
            .iter()
            .map(|(topic, _)| topic.as_str())
            .chain(acks.iter().map(|a| a.topic.as_str())),
    );
    let (acks, denied_acks): (Vec<PartitionAcks>, Vec<PartitionAcks>) = acks
        .into_iter()
        .partition(|a| read_code(&codes, &a.topic) == 0);
    let mut settled = Settled::default();
    let ack_codes = fetch::acknowledge(state, &group, &member, &acks, None, &mut settled);
    let forgotten: BTreeSet<(String, i32)> = forget.into_iter().collect();
    state
        .shares
        .release(&group, &member, &forgotten, &mut settled);
    let closing = request.share_session_epoch == -1;
    if closing {
        state
            .shares
            .close_session(&group, &member, &session, &mut settled);
    }
    let store_error = finish(state, settled).await.err();
    let mut acquired = Vec::new();
    if !closing && request.max_records > 0 {
        let partitions = fetch::in_fetch_order(
            session
                .iter()
                .filter(|(topic, _)| read_code(&codes, topic) == 0)
                .cloned()
                .collect(),
            request.share_session_epoch,
        );
        let budget = Budget {
            max_records: usize::try_from(request.max_records).unwrap_or(0),
            // MaxBytes 0 acquires nothing, as in Kafka (librdkafka's `fetch.max.bytes=0`);
            // above 0 it is split evenly over the partitions, and soft: the first partition
            // with records gives at least one whole batch.
            max_bytes: usize::try_from(request.max_bytes).unwrap_or(0),
            max_wait: Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0)),
        };
        acquired = fetch::acquire(state, &group, &member, &partitions, budget).await;
    }
    // One entry per partition with news: acknowledgement results, errors, records.
    let mut by_topic: BTreeMap<String, BTreeMap<i32, share_fetch_response::PartitionData>> =
        BTreeMap::new();
    let leader = leader(state);
    for ((topic, partition), code) in ack_codes {
        fetch_entry(&mut by_topic, &topic, partition, leader).acknowledge_error_code =
            store_error.unwrap_or(code);
    }
    for denied in &denied_acks {
        fetch_entry(&mut by_topic, &denied.topic, denied.partition, leader)
            .acknowledge_error_code = read_code(&codes, &denied.topic);
    }
    for (topic, partition) in session.iter() {
        let code = read_code(&codes, topic);
        if code != 0 {
            fetch_entry(&mut by_topic, topic, *partition, leader).error_code = code;
        }
    }
    for got in acquired {
        if got.error == 0 && got.ranges.is_empty() {
            continue;
        }
        let data = fetch_entry(&mut by_topic, &got.topic, got.partition, leader);
        data.error_code = got.error;
        if !got.records.is_empty() {
            data.records = Some(Bytes::from(got.records));
        }
        data.acquired_records = got
            .ranges
            .iter()
            .map(|r| {
                share_fetch_response::AcquiredRecords::default()
                    .with_first_offset(r.first)
                    .with_last_offset(r.last)
                    .with_delivery_count(i16::try_from(r.deliveries).unwrap_or(i16::MAX))
            })
            .collect();
    }
    for (topic, partitions) in by_topic {
        let Some(id) = state.topics.get(&topic).map(|t| t.id) else {
            continue;
        };
        response.responses.push(
            share_fetch_response::ShareFetchableTopicResponse::default()
                .with_topic_id(id)
                .with_partitions(partitions.into_values().collect()),
        );
    }
    for (id, partitions) in unknown {
        response.responses.push(
            share_fetch_response::ShareFetchableTopicResponse::default()
                .with_topic_id(id)
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|p| {
                            share_fetch_response::PartitionData::default()
                                .with_partition_index(p)
                                .with_error_code(ResponseError::UnknownTopicId.code())
                        })
                        .collect(),
                ),
        );
    }
    response
}

/// The response entry of a partition, created on first use.
fn fetch_entry<'a>(
    by_topic: &'a mut BTreeMap<String, BTreeMap<i32, share_fetch_response::PartitionData>>,
    topic: &str,
    partition: i32,
    (leader_id, leader_epoch): (i32, i32),
) -> &'a mut share_fetch_response::PartitionData {
    by_topic
        .entry(topic.to_owned())
        .or_default()
        .entry(partition)
        .or_insert_with(|| {
            share_fetch_response::PartitionData::default()
                .with_partition_index(partition)
                .with_current_leader(
                    share_fetch_response::LeaderIdAndEpoch::default()
                        .with_leader_id(leader_id)
                        .with_leader_epoch(leader_epoch),
                )
        })
}

/// A ShareAcknowledge answer, and the lock duration v2 reports beside it.
#[derive(Debug)]
pub(crate) struct Acknowledged {
    pub body: ShareAcknowledgeResponse,
    pub lock_ms: i32,
}

/// ShareAcknowledge; `renew` (v2's IsRenewAck) allows RENEW acknowledgements, which extend
/// the member's locks by the group's lock duration from now.
pub(crate) async fn share_acknowledge(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: ShareAcknowledgeRequest,
    renew: bool,
) -> Acknowledged {
    let (group, _) = identity(&request.group_id, &request.member_id);
    let lock_ms = state.shares.settings(&group).limits.lock_ms;
    let refused = access.group_code(Operation::Read, &group);
    if refused != 0 {
        return Acknowledged {
            body: ShareAcknowledgeResponse::default().with_error_code(refused),
            lock_ms: i32::try_from(lock_ms).unwrap_or(i32::MAX),
        };
    }
    let renew_until = renew.then(|| state.shares.now_ms() + lock_ms);
    Acknowledged {
        body: acknowledge(state, access, request, renew_until).await,
        lock_ms: i32::try_from(lock_ms).unwrap_or(i32::MAX),
    }
}

async fn acknowledge(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: ShareAcknowledgeRequest,
    renew_until: Option<i64>,
) -> ShareAcknowledgeResponse {
    let mut response = ShareAcknowledgeResponse::default();
    let (group, member) = identity(&request.group_id, &request.member_id);
    if request.share_session_epoch == 0 {
        response.error_code = ResponseError::InvalidShareSessionEpoch.code();
        return response;
    }
    let mut acks = Vec::new();
    let mut unknown = Vec::new();
    for topic in &request.topics {
        let Some(name) = topic_name(state, topic.topic_id) else {
            unknown.push(topic.topic_id);
            continue;
        };
        for p in &topic.partitions {
            acks.push(PartitionAcks {
                topic: name.clone(),
                partition: p.partition_index,
                batches: p
                    .acknowledgement_batches
                    .iter()
                    .map(|b| (b.first_offset, b.last_offset, b.acknowledge_types.clone()))
                    .collect(),
            });
        }
    }
    let session = match state
        .shares
        .session(&group, &member, request.share_session_epoch, &[], &[])
    {
        Ok(session) => session,
        Err(code) => {
            response.error_code = code.code();
            return response;
        }
    };
    let read_codes = topic_read_codes(access, acks.iter().map(|a| a.topic.as_str()));
    let (acks, denied): (Vec<PartitionAcks>, Vec<PartitionAcks>) = acks
        .into_iter()
        .partition(|a| read_code(&read_codes, &a.topic) == 0);
    let mut settled = Settled::default();
    let codes = fetch::acknowledge(state, &group, &member, &acks, renew_until, &mut settled);
    if request.share_session_epoch == -1 {
        state
            .shares
            .close_session(&group, &member, &session, &mut settled);
    }
    let store_error = finish(state, settled).await.err();
    let codes = codes
        .into_iter()
        .map(|(at, code)| (at, store_error.unwrap_or(code)));
    let denied = denied.into_iter().map(|a| {
        let code = read_code(&read_codes, &a.topic);
        ((a.topic, a.partition), code)
    });
    let (leader_id, leader_epoch) = leader(state);
    let mut by_topic: BTreeMap<String, Vec<share_acknowledge_response::PartitionData>> =
        BTreeMap::new();
    for ((topic, partition), code) in codes.chain(denied) {
        by_topic.entry(topic).or_default().push(
            share_acknowledge_response::PartitionData::default()
                .with_partition_index(partition)
                .with_error_code(code)
                .with_current_leader(
                    share_acknowledge_response::LeaderIdAndEpoch::default()
                        .with_leader_id(leader_id)
                        .with_leader_epoch(leader_epoch),
                ),
        );
    }
    for (topic, partitions) in by_topic {
        let id = state.topics.get(&topic).map_or(Uuid::nil(), |t| t.id);
        response.responses.push(
            share_acknowledge_response::ShareAcknowledgeTopicResponse::default()
                .with_topic_id(id)
                .with_partitions(partitions),
        );
    }
    for id in unknown {
        response.responses.push(
            share_acknowledge_response::ShareAcknowledgeTopicResponse::default().with_topic_id(id),
        );
        response.error_code = ResponseError::UnknownTopicId.code();
    }
    response
}

/// A ShareAcknowledge response frame encoded at v1, made v2 by inserting
/// AcquisitionLockTimeoutMs after the top-level ErrorMessage (the only difference).
pub(crate) fn with_lock_timeout(frame: Bytes, version: i16, lock_ms: i32) -> Bytes {
    // Size, correlation id, empty header tags, throttle time, error code.
    const MESSAGE_AT: usize = 4 + 4 + 1 + 4 + 2;
    if version < 2 {
        return frame;
    }
    let Some(at) = compact_string_end(&frame, MESSAGE_AT) else {
        return frame;
    };
    let mut out = Vec::with_capacity(frame.len() + 4);
    out.extend_from_slice(&frame[..at]);
    out.extend_from_slice(&lock_ms.to_be_bytes());
    out.extend_from_slice(&frame[at..]);
    let size = i32::try_from(out.len() - 4).unwrap_or(i32::MAX);
    out[..4].copy_from_slice(&size.to_be_bytes());
    Bytes::from(out)
}

/// Where the compact (nullable) string starting at `at` ends.
fn compact_string_end(buf: &[u8], at: usize) -> Option<usize> {
    let mut length: usize = 0;
    for (i, byte) in buf.get(at..)?.iter().take(5).enumerate() {
        length |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // The varint holds length + 1; 0 is null.
            return Some(at + i + 1 + length.saturating_sub(1));
        }
    }
    None
}

fn be(value: i64) -> Bytes {
    Bytes::copy_from_slice(&value.to_be_bytes())
}

pub(crate) fn describe_offsets(
    state: &BrokerState,
    access: &Access<'_>,
    request: DescribeShareGroupOffsetsRequest,
) -> DescribeShareGroupOffsetsResponse {
    let mut response = DescribeShareGroupOffsetsResponse::default();
    for wanted in request.groups {
        let id = wanted.group_id.0.to_string();
        let mut group =
            describe_share_group_offsets_response::DescribeShareGroupOffsetsResponseGroup::default(
            )
            .with_group_id(wanted.group_id);
        let refused = access.group_code(Operation::Describe, &id);
        if refused != 0 {
            response.groups.push(group.with_error_code(refused));
            continue;
        }
        let known = state.shares.partitions_of(&id);
        let topics: Vec<(String, Vec<i32>)> = match wanted.topics {
            Some(topics) => topics
                .into_iter()
                .map(|t| (t.topic_name.0.to_string(), t.partitions))
                .collect(),
            // Null topics: those the requester may describe, as Kafka filters them.
            None => {
                let mut all: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                let visible = known
                    .iter()
                    .filter(|p| access.topic(Operation::Describe, &p.key.topic));
                for p in visible {
                    all.entry(p.key.topic.clone())
                        .or_default()
                        .push(p.key.partition);
                }
                all.into_iter().collect()
            }
        };
        for (topic, partitions) in topics {
            let id_of = state.topics.get(&topic).map_or(Uuid::nil(), |t| t.id);
            let mut out = describe_share_group_offsets_response::DescribeShareGroupOffsetsResponseTopic::default()
                .with_topic_name(TopicName(text(topic.clone())))
                .with_topic_id(id_of);
            let denied = access.topic_code(Operation::Describe, &topic);
            for index in partitions {
                let mut p = describe_share_group_offsets_response::DescribeShareGroupOffsetsResponsePartition::default()
                    .with_partition_index(index)
                    .with_start_offset(-1)
                    .with_leader_epoch(-1);
                if denied != 0 {
                    out.partitions.push(p.with_error_code(denied));
                    continue;
                }
                let found = known
                    .iter()
                    .find(|s| s.key.topic_id == id_of && s.key.partition == index);
                if let Some((summary, dead_lettered)) = found.and_then(|s| shares::summary(s)) {
                    p.start_offset = summary.start;
                    p.leader_epoch = 0;
                    let fields = [
                        (TAG_IN_FLIGHT, summary.end - summary.start),
                        (TAG_ACQUIRED, summary.acquired as i64),
                        (TAG_AVAILABLE, summary.available as i64),
                        (TAG_MAX_DELIVERIES, i64::from(summary.max_deliveries)),
                        (TAG_DEAD_LETTERED, dead_lettered as i64),
                    ];
                    for (tag, value) in fields {
                        p.unknown_tagged_fields.insert(tag, be(value));
                    }
                }
                out.partitions.push(p);
            }
            group.topics.push(out);
        }
        response.groups.push(group);
    }
    response
}

/// Why a change to a share group's offsets is refused, if it is: `operation` on the group,
/// then READ on each topic named (0 when allowed).
fn offsets_refusal<'t>(
    access: &Access<'_>,
    operation: Operation,
    group: &str,
    topics: impl IntoIterator<Item = &'t str>,
) -> i16 {
    match access.group_code(operation, group) {
        0 => topics
            .into_iter()
            .map(|topic| access.topic_code(Operation::Read, topic))
            .find(|code| *code != 0)
            .unwrap_or(0),
        refused => refused,
    }
}

/// Offsets of a share group change only while it has no members (NON_EMPTY_GROUP otherwise).
fn without_members(state: &BrokerState, group: &str) -> Result<(), i16> {
    if state.shares.has_members(group) {
        return Err(ResponseError::NonEmptyGroup.code());
    }
    Ok(())
}

pub(crate) async fn alter_offsets(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: AlterShareGroupOffsetsRequest,
) -> AlterShareGroupOffsetsResponse {
    let mut response = AlterShareGroupOffsetsResponse::default();
    let group = request.group_id.0.to_string();
    let topics = request.topics.iter().map(|t| t.topic_name.0.as_str());
    let refused = offsets_refusal(access, Operation::Read, &group, topics);
    if refused != 0 {
        return response.with_error_code(refused);
    }
    if let Err(code) = without_members(state, &group) {
        response.error_code = code;
        return response;
    }
    let mut changed = Vec::new();
    for topic in request.topics {
        let name = topic.topic_name.0.to_string();
        let log_topic = state.topics.get(&name);
        let mut out =
            alter_share_group_offsets_response::AlterShareGroupOffsetsResponseTopic::default()
                .with_topic_name(topic.topic_name.clone())
                .with_topic_id(log_topic.as_ref().map_or(Uuid::nil(), |t| t.id));
        for p in topic.partitions {
            let mut result = alter_share_group_offsets_response::AlterShareGroupOffsetsResponsePartition::default()
                .with_partition_index(p.partition_index);
            match log_topic
                .as_ref()
                .and_then(|t| t.partition(p.partition_index))
            {
                None => result.error_code = ResponseError::UnknownTopicOrPartition.code(),
                Some(log) => {
                    let key = ShareKey {
                        group: group.clone(),
                        topic: name.clone(),
                        topic_id: log_topic.as_ref().map_or(Uuid::nil(), |t| t.id),
                        partition: p.partition_index,
                    };
                    // -1 and -2 name the log end and start, as with consumer offsets.
                    let offset = match p.start_offset {
                        -1 => log.log.high_watermark(),
                        -2 => log.log.log_start_offset(),
                        o => o.clamp(log.log.log_start_offset(), log.log.high_watermark()),
                    };
                    let share = state.shares.partition(&key);
                    {
                        let mut guard = share.lock();
                        match guard.records.as_mut() {
                            Some(records) => records.reset(offset),
                            None => {
                                guard.records = Some(shares::records::ShareRecords::new(offset))
                            }
                        }
                    }
                    changed.push(share);
                }
            }
            out.partitions.push(result);
        }
        response.responses.push(out);
    }
    let settled = Settled {
        archived: Vec::new(),
        changed,
    };
    if let Err(code) = finish(state, settled).await {
        response.error_code = code;
    }
    response
}

pub(crate) async fn delete_offsets(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: DeleteShareGroupOffsetsRequest,
) -> DeleteShareGroupOffsetsResponse {
    let mut response = DeleteShareGroupOffsetsResponse::default();
    let group = request.group_id.0.to_string();
    let topics = request.topics.iter().map(|t| t.topic_name.0.as_str());
    let refused = offsets_refusal(access, Operation::Delete, &group, topics);
    if refused != 0 {
        return response.with_error_code(refused);
    }
    if let Err(code) = without_members(state, &group) {
        response.error_code = code;
        return response;
    }
    if !state.shares.is_share_group(&group) {
        response.error_code = ResponseError::GroupIdNotFound.code();
        return response;
    }
    let mut keys = Vec::new();
    for topic in request.topics {
        let name = topic.topic_name.0.to_string();
        let mut out =
            delete_share_group_offsets_response::DeleteShareGroupOffsetsResponseTopic::default()
                .with_topic_name(topic.topic_name.clone());
        match state.topics.get(&name) {
            None => out.error_code = ResponseError::UnknownTopicOrPartition.code(),
            Some(t) => {
                out.topic_id = t.id;
                keys.extend(
                    state
                        .shares
                        .partitions_of(&group)
                        .into_iter()
                        .filter(|p| p.key.topic_id == t.id)
                        .map(|p| p.key.clone()),
                );
            }
        }
        response.responses.push(out);
    }
    let changes: Vec<Change> = keys
        .iter()
        .map(|k| Change::Partition(k.clone(), None))
        .collect();
    if let Err(error) = store::persist(state, &changes).await {
        response.error_code = crate::error::log_error_code(&error);
        return response;
    }
    state.shares.remove_partitions(&keys);
    response
}

/// DescribeGroups of a share group, so classic tools see it: state, protocol type "share",
/// members without metadata. An unknown group is reported Dead, as for consumer groups.
pub(crate) fn describe_as_classic(
    state: &BrokerState,
    base: describe_groups_response::DescribedGroup,
) -> describe_groups_response::DescribedGroup {
    let Some(group) = state.shares.describe(base.group_id.0.as_str()) else {
        return base.with_group_state(text("Dead"));
    };
    let members = group
        .members
        .iter()
        .map(|(id, m)| {
            describe_groups_response::DescribedGroupMember::default()
                .with_member_id(text(id.clone()))
                .with_client_id(text(m.client_id.clone()))
                .with_client_host(text(m.client_host.clone()))
        })
        .collect();
    base.with_group_state(text(group.state()))
        .with_protocol_type(text("share"))
        .with_protocol_data(text("simple"))
        .with_members(members)
}

/// DeleteGroups of a share group: only without members; its state and overrides go.
pub(crate) async fn delete_group(state: &Arc<BrokerState>, group: &str) -> i16 {
    match state.shares.delete_group(group) {
        Err(code) => code.code(),
        Ok(changes) => match store::persist(state, &changes).await {
            Ok(()) => 0,
            Err(error) => crate::error::log_error_code(&error),
        },
    }
}
