//! Group APIs on the wire: FindCoordinator (for groups and transactional ids), JoinGroup,
//! SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListGroups, DescribeGroups,
//! DeleteGroups, OffsetDelete, and the consumer group protocol's ConsumerGroupHeartbeat and
//! ConsumerGroupDescribe. The state machines are in [`crate::groups`].

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    consumer_group_describe_response, consumer_group_heartbeat_response, BrokerId,
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse, DeleteGroupsRequest, DeleteGroupsResponse,
    DescribeGroupsRequest, DescribeGroupsResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    GroupId, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse,
    LeaveGroupRequest, LeaveGroupResponse, ListGroupsRequest, ListGroupsResponse,
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse,
    OffsetFetchRequest, OffsetFetchResponse, SyncGroupRequest, SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use runnel_acl::{Operation, ResourceType};

use super::access::{Access, NOT_REQUESTED};
use crate::broker::BrokerState;
use crate::error::log_error_code;
use crate::groups::consumer::{
    self, Assignment, CommitKind, ConsumerGroup, Heartbeat, TopicImage, TopicInfo,
};
use crate::groups::store::{self, Committed, MAX_METADATA_BYTES};
use crate::groups::{GroupState, JoinOutcome, JoinRequest, Reply, SyncOutcome, SyncRequest};
use crate::listeners::ListenerInfo;
use crate::topics::Topic;

const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

fn text(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

fn opt_text(s: Option<String>) -> Option<StrBytes> {
    s.map(text)
}

/// Waits for a deferred answer; shutdown answers NOT_COORDINATOR so clients look again.
async fn wait<T>(state: &BrokerState, reply: Reply<T>, on_error: impl FnOnce(i16) -> T) -> T {
    match reply {
        Reply::Now(outcome) => outcome,
        Reply::Later(rx) => tokio::select! {
            outcome = rx => outcome.unwrap_or_else(|_| on_error(ResponseError::UnknownMemberId.code())),
            _ = state.shutting_down() => on_error(ResponseError::NotCoordinator.code()),
        },
    }
}

pub(crate) fn find_coordinator(
    state: &Arc<BrokerState>,
    listener: &ListenerInfo,
    access: &Access<'_>,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let node = BrokerId(state.config.node_id);
    let host = text(listener.advertised_host.clone());
    let port = listener.advertised_port;
    // This node coordinates every group and every transactional id.
    let supported = matches!(request.key_type, KEY_TYPE_GROUP | KEY_TYPE_TRANSACTION);
    // As Kafka: DESCRIBE on the group or transactional id the key names.
    let refused = |key: &str| match request.key_type {
        KEY_TYPE_GROUP => access.group_code(Operation::Describe, key),
        KEY_TYPE_TRANSACTION => access.transactional_id_code(Operation::Describe, key),
        _ => 0,
    };
    let mut response = FindCoordinatorResponse::default();
    if version >= 4 {
        response.coordinators = request
            .coordinator_keys
            .iter()
            .map(|key| {
                let c = Coordinator::default().with_key(key.clone());
                let code = refused(key);
                if code != 0 {
                    c.with_node_id(BrokerId(-1)).with_error_code(code)
                } else if supported {
                    c.with_node_id(node).with_host(host.clone()).with_port(port)
                } else {
                    c.with_node_id(BrokerId(-1))
                        .with_error_code(ResponseError::CoordinatorNotAvailable.code())
                }
            })
            .collect();
    } else if let code @ 1.. = refused(&request.key) {
        response.error_code = code;
        response.node_id = BrokerId(-1);
    } else if supported {
        response.node_id = node;
        response.host = host;
        response.port = port;
    } else {
        response.error_code = ResponseError::CoordinatorNotAvailable.code();
        response.node_id = BrokerId(-1);
    }
    response
}

/// Who sent a request, as DescribeGroups shows members.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Client<'a> {
    pub id: &'a str,
    pub host: std::net::SocketAddr,
}

pub(crate) async fn join_group(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: JoinGroupRequest,
    version: i16,
    client: Client<'_>,
) -> JoinGroupResponse {
    let refused = access.group_code(Operation::Read, &request.group_id);
    if refused != 0 {
        return JoinGroupResponse::default()
            .with_error_code(refused)
            .with_generation_id(-1)
            .with_member_id(request.member_id)
            .with_protocol_name((version < 7).then(StrBytes::new));
    }
    if state.shares.is_share_group(request.group_id.0.as_str()) {
        return JoinGroupResponse::default()
            .with_error_code(ResponseError::InconsistentGroupProtocol.code())
            .with_generation_id(-1)
            .with_member_id(request.member_id)
            .with_protocol_name((version < 7).then(StrBytes::new));
    }
    let join = JoinRequest {
        group_id: request.group_id.0.to_string(),
        member_id: request.member_id.to_string(),
        instance_id: request.group_instance_id.map(|s| s.to_string()),
        client_id: client.id.to_owned(),
        // Kafka shows the host as Java prints an InetAddress.
        client_host: format!("/{}", client.host.ip()),
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        session_timeout_ms: request.session_timeout_ms,
        rebalance_timeout_ms: if version >= 1 {
            request.rebalance_timeout_ms
        } else {
            request.session_timeout_ms
        },
        require_known_member_id: version >= 4,
        skip_assignment_supported: version >= 9,
    };
    let member_id = join.member_id.clone();
    let reply = state.groups.join(join);
    let outcome = wait(state, reply, |code| JoinOutcome {
        error: code,
        generation: -1,
        member_id: member_id.clone(),
        ..JoinOutcome::default()
    })
    .await;
    let mut response = JoinGroupResponse::default();
    response.error_code = outcome.error;
    response.generation_id = outcome.generation;
    response.member_id = text(outcome.member_id);
    response.leader = text(outcome.leader);
    // Before v7 the protocol name is not nullable: an empty string stands for "none".
    response.protocol_name = match (outcome.protocol_name, version >= 7) {
        (Some(name), _) => Some(text(name)),
        (None, true) => None,
        (None, false) => Some(StrBytes::new()),
    };
    if version >= 7 {
        response.protocol_type = opt_text(outcome.protocol_type);
    }
    response.skip_assignment = outcome.skip_assignment;
    response.members = outcome
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            JoinGroupResponseMember::default()
                .with_member_id(text(id))
                .with_group_instance_id(if version >= 5 {
                    opt_text(instance)
                } else {
                    None
                })
                .with_metadata(metadata)
        })
        .collect();
    response
}

pub(crate) async fn sync_group(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: SyncGroupRequest,
) -> SyncGroupResponse {
    let refused = access.group_code(Operation::Read, &request.group_id);
    if refused != 0 {
        return SyncGroupResponse::default().with_error_code(refused);
    }
    let reply = state.groups.sync(SyncRequest {
        group_id: request.group_id.0.to_string(),
        generation: request.generation_id,
        member_id: request.member_id.to_string(),
        instance_id: request.group_instance_id.map(|s| s.to_string()),
        protocol_type: request.protocol_type.map(|s| s.to_string()),
        protocol_name: request.protocol_name.map(|s| s.to_string()),
        assignments: request
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    });
    let outcome = wait(state, reply, |code| SyncOutcome {
        error: code,
        ..SyncOutcome::default()
    })
    .await;
    let mut response = SyncGroupResponse::default();
    response.error_code = outcome.error;
    response.assignment = outcome.assignment;
    response.protocol_type = opt_text(outcome.protocol_type);
    response.protocol_name = opt_text(outcome.protocol_name);
    response
}

pub(crate) fn heartbeat(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: HeartbeatRequest,
) -> HeartbeatResponse {
    let refused = access.group_code(Operation::Read, &request.group_id);
    if refused != 0 {
        return HeartbeatResponse::default().with_error_code(refused);
    }
    let code = state.groups.heartbeat(
        request.group_id.0.as_str(),
        request.generation_id,
        request.member_id.as_str(),
        request.group_instance_id.as_deref(),
    );
    HeartbeatResponse::default().with_error_code(code)
}

pub(crate) fn leave_group(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let refused = access.group_code(Operation::Read, &request.group_id);
    if refused != 0 {
        return LeaveGroupResponse::default().with_error_code(refused);
    }
    let leaving: Vec<(String, Option<String>)> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|s| s.to_string()),
                )
            })
            .collect()
    } else {
        vec![(request.member_id.to_string(), None)]
    };
    let mut response = LeaveGroupResponse::default();
    match state.groups.leave(request.group_id.0.as_str(), &leaving) {
        Err(code) => response.error_code = code,
        Ok(codes) if version >= 3 => {
            response.members = request
                .members
                .into_iter()
                .zip(codes)
                .map(|(m, code)| {
                    MemberResponse::default()
                        .with_member_id(m.member_id)
                        .with_group_instance_id(m.group_instance_id)
                        .with_error_code(code)
                })
                .collect();
        }
        Ok(codes) => response.error_code = codes.first().copied().unwrap_or(0),
    }
    response
}

pub(crate) async fn offset_commit(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let group_id = request.group_id.0.to_string();
    // As Kafka: READ on the group, checked before membership; then READ on each topic.
    let membership = match access.group_code(Operation::Read, &group_id) {
        0 => state.groups.check_commit(
            &group_id,
            request.generation_id_or_member_epoch,
            request.member_id.as_str(),
            request.group_instance_id.as_deref(),
            CommitKind::OffsetCommit { version },
        ),
        refused => Err(refused),
    };
    let now = runnel_log::Clock::now_ms(&runnel_log::SystemClock);
    // (topic index, partition index within topic) → error, or a commit to store.
    let mut commits = Vec::new();
    let mut results: Vec<OffsetCommitResponseTopic> = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        let found = state.topics.get(topic.name.0.as_str());
        let allowed =
            membership.and_then(|()| match access.topic_code(Operation::Read, &topic.name) {
                0 => Ok(()),
                refused => Err(refused),
            });
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let wanted = WantedCommit {
                topic: &topic.name,
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: p.committed_metadata.as_ref(),
            };
            let code = match allowed.and_then(|()| wanted.check(found.as_deref(), now)) {
                Err(code) => code,
                Ok(commit) => {
                    commits.push(commit);
                    0
                }
            };
            partitions.push(
                OffsetCommitResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(code),
            );
        }
        results.push(
            OffsetCommitResponseTopic::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions),
        );
    }
    if let Err(error) = store::persist(state, &group_id, &commits).await {
        tracing::error!(group = %group_id, %error, "storing offsets failed");
        let code = log_error_code(&error);
        for p in results.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
            if p.error_code == 0 {
                p.error_code = code;
            }
        }
    } else {
        state.groups.record_commits(&group_id, &commits);
    }
    OffsetCommitResponse::default().with_topics(results)
}

/// One partition's offset commit as a request states it.
pub(crate) struct WantedCommit<'a> {
    pub topic: &'a TopicName,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<&'a StrBytes>,
}

impl WantedCommit<'_> {
    /// What to store for it, or the error code refusing it: the partition must exist in
    /// `topic` and the metadata fit.
    pub(crate) fn check(
        &self,
        topic: Option<&Topic>,
        now: i64,
    ) -> Result<((String, i32), Option<Committed>), i16> {
        if topic.and_then(|t| t.partition(self.partition)).is_none() {
            return Err(ResponseError::UnknownTopicOrPartition.code());
        }
        if self.metadata.is_some_and(|m| m.len() > MAX_METADATA_BYTES) {
            return Err(ResponseError::OffsetMetadataTooLarge.code());
        }
        Ok((
            (self.topic.0.to_string(), self.partition),
            Some(Committed {
                offset: self.offset,
                leader_epoch: self.leader_epoch,
                metadata: self.metadata.map(|m| m.to_string()),
                commit_time_ms: now,
            }),
        ))
    }
}

/// Per topic: (partition, its commit if any).
type TopicCommits = Vec<(TopicName, Vec<(i32, Option<Committed>)>)>;

/// Committed offsets of one group for the wanted topics (None: every committed topic). As
/// Kafka: topics the requester may not describe are left out of "every topic", and named
/// ones show no offset (their partitions answer TOPIC_AUTHORIZATION_FAILED).
fn committed_for(
    state: &BrokerState,
    access: &Access<'_>,
    group: &str,
    topics: Option<Vec<(TopicName, Vec<i32>)>>,
) -> TopicCommits {
    let mut offsets = state.groups.committed(group);
    offsets.retain(|(topic, _), _| access.topic(Operation::Describe, topic));
    match topics {
        Some(topics) => topics
            .into_iter()
            .map(|(name, partitions)| {
                let found = partitions
                    .into_iter()
                    .map(|p| (p, offsets.get(&(name.0.to_string(), p)).cloned()))
                    .collect();
                (name, found)
            })
            .collect(),
        None => {
            let mut by_topic: BTreeMap<String, Vec<(i32, Option<Committed>)>> = BTreeMap::new();
            for ((topic, partition), commit) in offsets {
                by_topic
                    .entry(topic)
                    .or_default()
                    .push((partition, Some(commit)));
            }
            by_topic
                .into_iter()
                .map(|(t, p)| (TopicName(text(t)), p))
                .collect()
        }
    }
}

pub(crate) fn offset_fetch(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    let mut response = OffsetFetchResponse::default();
    let (epoch_of, metadata_of) = (
        |c: &Option<Committed>| c.as_ref().map_or(-1, |c| c.leader_epoch),
        |c: &Option<Committed>| {
            Some(text(
                c.as_ref()
                    .and_then(|c| c.metadata.clone())
                    .unwrap_or_default(),
            ))
        },
    );
    // KIP-447: a read_committed consumer asks not to be given an offset an open transaction
    // is about to replace, and retries on UNSTABLE_OFFSET_COMMIT.
    let unstable = |group: &str, topic: &TopicName, partition: i32| {
        if !access.topic(Operation::Describe, topic) {
            ResponseError::TopicAuthorizationFailed.code()
        } else if request.require_stable
            && state
                .groups
                .has_transactional(group, &(topic.0.to_string(), partition))
        {
            ResponseError::UnstableOffsetCommit.code()
        } else {
            0
        }
    };
    if version >= 8 {
        for group in &request.groups {
            let group_id = group.group_id.0.as_str();
            // v9: a consumer group member reads at its member epoch (Kafka checks it).
            let member = (version >= 9)
                .then_some(group.member_id.as_deref())
                .flatten();
            let allowed = match access.group_code(Operation::Describe, group_id) {
                0 => state
                    .groups
                    .check_fetch(group_id, member, group.member_epoch),
                refused => Err(refused),
            };
            if let Err(code) = allowed {
                response.groups.push(
                    OffsetFetchResponseGroup::default()
                        .with_group_id(group.group_id.clone())
                        .with_error_code(code),
                );
                continue;
            }
            let wanted = group.topics.as_ref().map(|ts| {
                ts.iter()
                    .map(|t| (t.name.clone(), t.partition_indexes.clone()))
                    .collect()
            });
            let topics = committed_for(state, access, group_id, wanted)
                .into_iter()
                .map(|(name, partitions)| {
                    OffsetFetchResponseTopics::default()
                        .with_partitions(
                            partitions
                                .into_iter()
                                .map(|(p, c)| {
                                    OffsetFetchResponsePartitions::default()
                                        .with_error_code(unstable(group_id, &name, p))
                                        .with_partition_index(p)
                                        .with_committed_offset(c.as_ref().map_or(-1, |c| c.offset))
                                        .with_committed_leader_epoch(epoch_of(&c))
                                        .with_metadata(metadata_of(&c))
                                })
                                .collect(),
                        )
                        .with_name(name)
                })
                .collect();
            response.groups.push(
                OffsetFetchResponseGroup::default()
                    .with_group_id(group.group_id.clone())
                    .with_topics(topics),
            );
        }
        return response;
    }
    let group_id = request.group_id.0.as_str();
    let refused = access.group_code(Operation::Describe, group_id);
    if refused != 0 {
        return response.with_error_code(refused);
    }
    let wanted = request.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.name.clone(), t.partition_indexes.clone()))
            .collect()
    });
    response.topics = committed_for(state, access, group_id, wanted)
        .into_iter()
        .map(|(name, partitions)| {
            OffsetFetchResponseTopic::default()
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|(p, c)| {
                            let mut partition = OffsetFetchResponsePartition::default()
                                .with_error_code(unstable(group_id, &name, p))
                                .with_partition_index(p)
                                .with_committed_offset(c.as_ref().map_or(-1, |c| c.offset))
                                .with_metadata(metadata_of(&c));
                            if version >= 5 {
                                partition.committed_leader_epoch = epoch_of(&c);
                            }
                            partition
                        })
                        .collect(),
                )
                .with_name(name)
        })
        .collect();
    response
}

pub(crate) fn list_groups(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: ListGroupsRequest,
) -> ListGroupsResponse {
    // As Kafka: DESCRIBE on the cluster lists every group, else those the requester may
    // describe.
    let every_group = access.cluster(Operation::Describe);
    let visible = |id: &str| every_group || access.group(Operation::Describe, id);
    let groups = state.groups.lock();
    // Kafka compares both filters without regard to case.
    let wanted = |filter: &[StrBytes], value: &str| {
        filter.is_empty() || filter.iter().any(|f| f.eq_ignore_ascii_case(value))
    };
    let listed = groups
        .values()
        .filter(|g| g.has_members() || !g.offsets.is_empty() || g.consumer.is_some())
        .filter(|g| visible(&g.id))
        .map(|g| {
            let (state_name, protocol_type) = match &g.consumer {
                Some(c) => (c.state().name(), "consumer".to_owned()),
                None => (g.state.name(), g.protocol_type.clone().unwrap_or_default()),
            };
            (g, state_name, protocol_type)
        })
        .filter(|(g, state_name, _)| {
            wanted(&request.states_filter, state_name)
                && wanted(&request.types_filter, g.group_type())
        })
        .map(|(g, state_name, protocol_type)| {
            ListedGroup::default()
                .with_group_id(GroupId(text(g.id.clone())))
                .with_protocol_type(text(protocol_type))
                .with_group_state(text(state_name))
                .with_group_type(text(g.group_type()))
        })
        .collect::<Vec<_>>();
    drop(groups);
    let mut listed = listed;
    listed.extend(
        list_share_groups(state, &request)
            .into_iter()
            .filter(|g| visible(&g.group_id)),
    );
    ListGroupsResponse::default().with_groups(listed)
}

/// Share groups, filtered like the others; their protocol type is "share".
fn list_share_groups(state: &BrokerState, request: &ListGroupsRequest) -> Vec<ListedGroup> {
    let wanted_type = request.types_filter.is_empty()
        || request.types_filter.iter().any(|t| t.as_str() == "share");
    if !wanted_type {
        return Vec::new();
    }
    state
        .shares
        .list()
        .into_iter()
        .filter(|(_, group_state)| {
            request.states_filter.is_empty()
                || request
                    .states_filter
                    .iter()
                    .any(|s| s.as_str() == *group_state)
        })
        .map(|(id, group_state)| {
            ListedGroup::default()
                .with_group_id(GroupId(text(id)))
                .with_protocol_type(text("share"))
                .with_group_state(text(group_state))
                .with_group_type(text("share"))
        })
        .collect()
}

pub(crate) fn describe_groups(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let groups = state.groups.lock();
    let with_operations = request.include_authorized_operations;
    let described = request
        .groups
        .into_iter()
        .map(|id| {
            let base = DescribedGroup::default().with_group_id(id.clone());
            let refused = access.group_code(Operation::Describe, &id);
            if refused != 0 {
                return base
                    .with_error_code(refused)
                    .with_authorized_operations(NOT_REQUESTED);
            }
            let base = base.with_authorized_operations(access.operations(
                with_operations,
                ResourceType::Group,
                &id,
            ));
            // As in Kafka, DescribeGroups knows classic groups only: a consumer group is
            // described by ConsumerGroupDescribe.
            let Some(group) = groups.get(id.0.as_str()).filter(|g| g.consumer.is_none()) else {
                return super::share_apis::describe_as_classic(state, base);
            };
            let protocol = group.protocol.clone().unwrap_or_default();
            let stable = group.state == GroupState::Stable;
            let members = group
                .members
                .values()
                .map(|m| {
                    DescribedGroupMember::default()
                        .with_member_id(text(m.id.clone()))
                        .with_group_instance_id(if version >= 4 {
                            opt_text(m.instance_id.clone())
                        } else {
                            None
                        })
                        .with_client_id(text(m.client_id.clone()))
                        .with_client_host(text(m.client_host.clone()))
                        .with_member_metadata(m.metadata_for(&protocol))
                        .with_member_assignment(if stable {
                            m.assignment.clone()
                        } else {
                            Bytes::new()
                        })
                })
                .collect();
            base.with_group_state(text(group.state.name()))
                .with_protocol_type(text(group.protocol_type.clone().unwrap_or_default()))
                .with_protocol_data(text(protocol))
                .with_members(members)
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(described)
}

pub(crate) async fn delete_groups(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let mut response = DeleteGroupsResponse::default();
    for id in request.groups_names {
        let name = id.0.to_string();
        let refused = access.group_code(Operation::Delete, &name);
        let doomed: Result<Vec<(String, i32)>, i16> = {
            let groups = state.groups.lock();
            match groups.get(&name) {
                _ if refused != 0 => Err(refused),
                None if state.shares.is_share_group(&name) => Err(0),
                None => Err(ResponseError::GroupIdNotFound.code()),
                Some(g) if g.has_members() => Err(ResponseError::NonEmptyGroup.code()),
                Some(g) => Ok(g.offsets.keys().cloned().collect()),
            }
        };
        let code = match doomed {
            // Not a consumer group, but a share group.
            Err(0) => super::share_apis::delete_group(state, &name).await,
            Err(code) => code,
            Ok(keys) => {
                let tombstones: Vec<_> = keys.into_iter().map(|k| (k, None)).collect();
                match store::persist(state, &name, &tombstones).await {
                    Ok(()) => {
                        let mut groups = state.groups.lock();
                        if groups.get(&name).is_some_and(|g| !g.has_members()) {
                            groups.remove(&name);
                        }
                        0
                    }
                    Err(error) => log_error_code(&error),
                }
            }
        };
        response.results.push(
            kafka_protocol::messages::delete_groups_response::DeletableGroupResult::default()
                .with_group_id(id)
                .with_error_code(code),
        );
    }
    response
}

/// The topics in a consumer-protocol subscription (version, then an array of strings);
/// read defensively since it is client data.
fn subscribed_topics(mut metadata: &[u8]) -> Vec<String> {
    let mut topics = Vec::new();
    if metadata.remaining() < 6 {
        return topics;
    }
    metadata.advance(2);
    let count = metadata.get_i32();
    for _ in 0..count.max(0) {
        if metadata.remaining() < 2 {
            break;
        }
        let len = usize::try_from(metadata.get_i16()).unwrap_or(0);
        if metadata.remaining() < len {
            break;
        }
        topics.push(String::from_utf8_lossy(&metadata[..len]).into_owned());
        metadata.advance(len);
    }
    topics
}

pub(crate) async fn offset_delete(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let group_id = request.group_id.0.to_string();
    let refused = access.group_code(Operation::Delete, &group_id);
    if refused != 0 {
        return OffsetDeleteResponse::default().with_error_code(refused);
    }
    let subscribed: Option<Vec<String>> = {
        let groups = state.groups.lock();
        groups.get(&group_id).map(|g| {
            let protocol = g.protocol.clone().unwrap_or_default();
            if let Some(consumer) = &g.consumer {
                consumer.subscribed_topics().map(str::to_owned).collect()
            } else if g.protocol_type.as_deref() == Some("consumer") {
                g.members
                    .values()
                    .flat_map(|m| subscribed_topics(&m.metadata_for(&protocol)))
                    .collect()
            } else {
                Vec::new()
            }
        })
    };
    let mut response = OffsetDeleteResponse::default();
    let Some(subscribed) = subscribed else {
        response.error_code = ResponseError::GroupIdNotFound.code();
        return response;
    };
    let mut tombstones = Vec::new();
    for topic in request.topics {
        let name = topic.name.0.to_string();
        let busy = subscribed.contains(&name);
        let refused = access.topic_code(Operation::Read, &name);
        let partitions = topic
            .partitions
            .into_iter()
            .map(|p| {
                let code = if refused != 0 {
                    refused
                } else if busy {
                    ResponseError::GroupSubscribedToTopic.code()
                } else {
                    tombstones.push(((name.clone(), p.partition_index), None));
                    0
                };
                OffsetDeleteResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(code)
            })
            .collect();
        response.topics.push(
            OffsetDeleteResponseTopic::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    match store::persist(state, &group_id, &tombstones).await {
        Ok(()) => state.groups.record_commits(&group_id, &tombstones),
        Err(error) => response.error_code = log_error_code(&error),
    }
    response
}

/// The topics that exist now, as consumer group subscriptions resolve against them.
fn topic_image(state: &BrokerState) -> TopicImage {
    TopicImage::new(state.topics.all().iter().map(|t| {
        let info = TopicInfo {
            id: t.id,
            partitions: i32::try_from(t.partitions().len()).unwrap_or(i32::MAX),
            internal: t.internal,
        };
        (t.name.clone(), info)
    }))
}

pub(crate) fn consumer_group_heartbeat(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: ConsumerGroupHeartbeatRequest,
    version: i16,
    client: Client<'_>,
) -> ConsumerGroupHeartbeatResponse {
    let refused = access.group_code(Operation::Read, &request.group_id);
    if refused != 0 {
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(refused)
            .with_error_message(Some(text("READ on the group is needed to join it")));
    }
    let subscribed = request.subscribed_topic_names.iter().flatten();
    if let Some(message) = access.undescribable_topics(subscribed.map(|n| n.0.as_str())) {
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(ResponseError::TopicAuthorizationFailed.code())
            .with_error_message(Some(text(message)));
    }
    if state.shares.is_share_group(request.group_id.0.as_str()) {
        // As Kafka: the id names a group of another type.
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(ResponseError::GroupIdNotFound.code())
            .with_error_message(Some(text("the group id belongs to a share group")));
    }
    let heartbeat = Heartbeat {
        version,
        group_id: request.group_id.0.to_string(),
        member_id: request.member_id.to_string(),
        member_epoch: request.member_epoch,
        instance_id: request.instance_id.map(|s| s.to_string()),
        rack_id: request.rack_id.map(|s| s.to_string()),
        rebalance_timeout_ms: request.rebalance_timeout_ms,
        subscribed_topic_names: request
            .subscribed_topic_names
            .map(|names| names.into_iter().map(|n| n.0.to_string()).collect()),
        subscribed_topic_regex: request.subscribed_topic_regex.map(|s| s.to_string()),
        server_assignor: request.server_assignor.map(|s| s.to_string()),
        owned: request.topic_partitions.map(|topics| {
            topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(move |&p| (t.topic_id, p)))
                .collect()
        }),
        client_id: client.id.to_owned(),
        client_host: format!("/{}", client.host.ip()),
        describable: access.enabled().then(|| {
            state
                .topics
                .all()
                .iter()
                .filter(|t| !t.internal && access.topic(Operation::Describe, &t.name))
                .map(|t| t.name.clone())
                .collect()
        }),
    };
    let image = topic_image(state);
    let outcome = state
        .groups
        .consumer_heartbeat(&heartbeat, &image, tokio::time::Instant::now());
    let mut response = ConsumerGroupHeartbeatResponse::default();
    match outcome {
        Ok(outcome) => {
            response.member_id = Some(text(outcome.member_id));
            response.member_epoch = outcome.member_epoch;
            response.heartbeat_interval_ms = outcome.heartbeat_interval_ms;
            response.assignment = outcome.assignment.map(|a| {
                consumer_group_heartbeat_response::Assignment::default().with_topic_partitions(
                    by_topic(&a)
                        .into_iter()
                        .map(|(id, partitions)| {
                            consumer_group_heartbeat_response::TopicPartitions::default()
                                .with_topic_id(id)
                                .with_partitions(partitions)
                        })
                        .collect(),
                )
            });
        }
        Err(error) => {
            tracing::debug!(group = %heartbeat.group_id, member = %heartbeat.member_id, %error, "consumer group heartbeat refused");
            response.error_code = error.code();
            response.error_message = Some(text(error.to_string()));
        }
    }
    response
}

/// An assignment as the protocol lists it: per topic id, its partitions.
fn by_topic(assignment: &Assignment) -> BTreeMap<uuid::Uuid, Vec<i32>> {
    let mut topics: BTreeMap<uuid::Uuid, Vec<i32>> = BTreeMap::new();
    for &(id, partition) in assignment {
        topics.entry(id).or_default().push(partition);
    }
    topics
}

pub(crate) fn consumer_group_describe(
    state: &Arc<BrokerState>,
    access: &Access<'_>,
    request: ConsumerGroupDescribeRequest,
    version: i16,
) -> ConsumerGroupDescribeResponse {
    let image = topic_image(state);
    let config = state.groups.consumer_config().clone();
    let groups = state.groups.lock();
    let with_operations = request.include_authorized_operations;
    let described = request
        .group_ids
        .into_iter()
        .map(|id| {
            let base = consumer_group_describe_response::DescribedGroup::default()
                .with_group_id(id.clone());
            let refused = access.group_code(Operation::Describe, &id);
            if refused != 0 {
                return base.with_error_code(refused);
            }
            let operations = access.operations(with_operations, ResourceType::Group, &id);
            match groups.get(id.0.as_str()) {
                Some(group) => match &group.consumer {
                    Some(consumer) => describe_consumer_group(consumer, &config, &image, version)
                        .with_group_id(id)
                        .with_authorized_operations(operations),
                    None => base
                        .with_error_code(ResponseError::GroupIdNotFound.code())
                        .with_error_message(Some(text(format!(
                            "group {} is a classic group",
                            id.0
                        )))),
                },
                None => base
                    .with_error_code(ResponseError::GroupIdNotFound.code())
                    .with_error_message(Some(text(format!("no group {}", id.0)))),
            }
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(described)
}

fn describe_consumer_group(
    group: &ConsumerGroup,
    config: &consumer::ConsumerConfig,
    image: &TopicImage,
    version: i16,
) -> consumer_group_describe_response::DescribedGroup {
    let assignment = |a: &Assignment| {
        consumer_group_describe_response::Assignment::default().with_topic_partitions(
            by_topic(a)
                .into_iter()
                .map(|(id, partitions)| {
                    consumer_group_describe_response::TopicPartitions::default()
                        .with_topic_id(id)
                        .with_topic_name(TopicName(text(
                            image.name_of(id).unwrap_or_default().to_owned(),
                        )))
                        .with_partitions(partitions)
                })
                .collect(),
        )
    };
    let members = group
        .members()
        .map(|m| {
            let mut member = consumer_group_describe_response::Member::default()
                .with_member_id(text(m.id.clone()))
                .with_instance_id(opt_text(m.instance_id.clone()))
                .with_rack_id(opt_text(m.rack_id.clone()))
                .with_member_epoch(m.epoch)
                .with_client_id(text(m.client_id.clone()))
                .with_client_host(text(m.client_host.clone()))
                .with_subscribed_topic_names(
                    m.topic_names
                        .iter()
                        .map(|n| TopicName(text(n.clone())))
                        .collect(),
                )
                .with_subscribed_topic_regex(opt_text(
                    m.topic_regex.as_ref().map(|r| r.source.clone()),
                ))
                .with_assignment(assignment(&m.assigned))
                .with_target_assignment(assignment(&group.target_of(&m.id)));
            if version >= 1 {
                // 1: a member speaking the consumer group protocol (0 would be classic).
                member.member_type = 1;
            }
            member
        })
        .collect();
    consumer_group_describe_response::DescribedGroup::default()
        .with_group_state(text(group.state().name()))
        .with_group_epoch(group.group_epoch())
        .with_assignment_epoch(group.assignment_epoch())
        .with_assignor_name(text(group.assignor(config).name()))
        .with_members(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_are_read_defensively() {
        let mut m = vec![0, 1, 0, 0, 0, 2, 0, 1, b'a', 0, 2, b'b', b'c'];
        assert_eq!(subscribed_topics(&m), vec!["a".to_owned(), "bc".to_owned()]);
        m.truncate(10);
        assert_eq!(subscribed_topics(&m), vec!["a".to_owned()]);
        assert!(subscribed_topics(&[0, 0, 0x7f, 0xff, 0xff, 0xff]).is_empty());
    }
}
