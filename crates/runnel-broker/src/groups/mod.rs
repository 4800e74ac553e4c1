//! Consumer groups: this broker is the coordinator of every group.
//!
//! A group id names either a classic group or a consumer group (the next-generation
//! protocol of KIP-848, in [`consumer`]): a [`Group`] with consumer state is a consumer
//! group. An empty group (committed offsets, no members) becomes whichever kind its next
//! member joins as; a group with members refuses members of the other kind.
//!
//! Classic protocol: the broker only relays: members send their protocols (assignor names with opaque
//! metadata), the leader computes the assignment client-side and hands it back in SyncGroup.
//! State per group follows Kafka's: Empty → PreparingRebalance → CompletingRebalance →
//! Stable. Join and sync requests wait on oneshot channels completed by the state machine;
//! session expiry and rebalance deadlines are checked by [`sweep`].
//!
//! Committed offsets live in memory and in `__consumer_offsets` ([`store`]), replayed at
//! start-up.

pub mod consumer;
mod member;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::broker::BrokerState;
use crate::config::BrokerConfig;
use crate::error::BrokerError;
pub use member::Member;
use store::{Committed, GroupOffsets};

/// How often session timeouts and rebalance deadlines are checked.
pub const SWEEP_INTERVAL_MS: u64 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// What a JoinGroup gets back.
#[derive(Debug, Clone, Default)]
pub struct JoinOutcome {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// For the leader only: every member with its metadata for the chosen protocol.
    pub members: Vec<(String, Option<String>, Bytes)>,
    /// JoinGroup v9+: the leader must not compute an assignment (a static leader that
    /// restarted into a stable group gets the roster for its own information only).
    pub skip_assignment: bool,
}

impl JoinOutcome {
    fn error(code: i16, member_id: &str) -> Self {
        JoinOutcome {
            error: code,
            generation: -1,
            member_id: member_id.to_owned(),
            ..JoinOutcome::default()
        }
    }
}

/// What a SyncGroup gets back.
#[derive(Debug, Clone, Default)]
pub struct SyncOutcome {
    pub error: i16,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

/// Either an answer now, or one to wait for.
#[derive(Debug)]
pub enum Reply<T> {
    Now(T),
    Later(oneshot::Receiver<T>),
}

#[derive(Debug)]
pub struct Group {
    pub id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// By member id, in join order (the first becomes leader).
    pub members: BTreeMap<String, Member>,
    join_order: Vec<String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, not yet joined.
    pending: HashMap<String, Instant>,
    /// group.instance.id → member id.
    static_members: HashMap<String, String>,
    rebalance_deadline: Option<Instant>,
    /// The initial rebalance of an empty group waits at least until then for more members.
    initial_delay_until: Option<Instant>,
    pub offsets: GroupOffsets,
    /// Present for a consumer group (next-generation protocol); the classic fields are
    /// then unused.
    pub consumer: Option<consumer::ConsumerGroup>,
}

impl Group {
    fn new(id: &str) -> Self {
        Group {
            id: id.to_owned(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            join_order: Vec::new(),
            pending: HashMap::new(),
            static_members: HashMap::new(),
            rebalance_deadline: None,
            initial_delay_until: None,
            offsets: GroupOffsets::new(),
            consumer: None,
        }
    }

    /// Whether the group has members, of either kind.
    pub fn has_members(&self) -> bool {
        !self.members.is_empty() || self.consumer.as_ref().is_some_and(|c| c.has_members())
    }

    /// `consumer` for a consumer group, `classic` otherwise (ListGroups' group type).
    pub fn group_type(&self) -> &'static str {
        if self.consumer.is_some() {
            "consumer"
        } else {
            "classic"
        }
    }

    fn add_member(&mut self, member: Member) {
        if let Some(instance) = &member.instance_id {
            self.static_members
                .insert(instance.clone(), member.id.clone());
        }
        self.join_order.push(member.id.clone());
        self.members.insert(member.id.clone(), member);
    }

    fn remove_member(&mut self, id: &str) -> Option<Member> {
        let member = self.members.remove(id)?;
        self.join_order.retain(|m| m != id);
        if let Some(instance) = &member.instance_id {
            if self.static_members.get(instance).is_some_and(|m| m == id) {
                self.static_members.remove(instance);
            }
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = None;
        }
        Some(member)
    }

    /// The protocol every member supports, chosen by vote (each member's first choice
    /// among the common ones), ties to the first member's preference.
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.get(self.join_order.first()?)?;
        let common: Vec<&String> = first
            .protocols
            .iter()
            .map(|(name, _)| name)
            .filter(|name| self.members.values().all(|m| m.supports(name)))
            .collect();
        let mut votes: Vec<(usize, &String)> = common.iter().map(|&c| (0, c)).collect();
        for member in self.members.values() {
            if let Some(choice) = member.protocols.iter().find(|(n, _)| common.contains(&n)) {
                if let Some(v) = votes.iter_mut().find(|(_, n)| *n == &choice.0) {
                    v.0 += 1;
                }
            }
        }
        // max_by_key keeps the last maximum; iterate reversed to prefer the first.
        votes
            .iter()
            .rev()
            .max_by_key(|(count, _)| *count)
            .map(|(_, n)| (*n).clone())
    }

    /// Moves to PreparingRebalance: every member must rejoin before the deadline.
    fn prepare_rebalance(&mut self, initial_delay: Duration, why: &str) {
        if self.state == GroupState::CompletingRebalance {
            // Members waiting in SyncGroup must rejoin.
            for member in self.members.values_mut() {
                member.answer_sync(SyncOutcome {
                    error: ResponseError::RebalanceInProgress.code(),
                    ..SyncOutcome::default()
                });
            }
        }
        let now = Instant::now();
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(Duration::ZERO);
        if self.state == GroupState::Empty && !initial_delay.is_zero() {
            self.initial_delay_until = Some(now + initial_delay.min(timeout.max(initial_delay)));
        }
        if self.state != GroupState::PreparingRebalance {
            self.rebalance_deadline = Some(now + timeout);
        }
        self.state = GroupState::PreparingRebalance;
        tracing::debug!(group = %self.id, why, "preparing rebalance");
    }

    /// Completes the join phase when every member rejoined (after any initial delay) or
    /// the deadline passed: members that did not rejoin are dropped.
    fn maybe_complete_join(&mut self, now: Instant) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let all_joined = self.members.values().all(Member::is_joining);
        let deadline_passed = self.rebalance_deadline.is_some_and(|d| now >= d);
        let delayed = self.initial_delay_until.is_some_and(|d| now < d);
        if !(deadline_passed || (all_joined && !delayed)) {
            return;
        }
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.is_joining())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            tracing::info!(group = %self.id, member = %id, "member did not rejoin in time; removed");
            self.remove_member(&id);
        }
        self.initial_delay_until = None;
        self.rebalance_deadline = None;
        self.generation += 1;
        if self.members.is_empty() {
            // The protocol type stays, as in Kafka: an empty group is still listed and
            // described as the consumer group it was.
            self.state = GroupState::Empty;
            self.protocol = None;
            self.leader = None;
            return;
        }
        self.protocol = self.select_protocol();
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self.join_order.first().cloned();
        }
        self.state = GroupState::CompletingRebalance;
        let leader = self.leader.clone().unwrap_or_default();
        let protocol = self.protocol.clone().unwrap_or_default();
        let roster: Vec<(String, Option<String>, Bytes)> = self
            .join_order
            .iter()
            .filter_map(|id| self.members.get(id))
            .map(|m| {
                (
                    m.id.clone(),
                    m.instance_id.clone(),
                    m.metadata_for(&protocol),
                )
            })
            .collect();
        for member in self.members.values_mut() {
            member.assignment = Bytes::new();
            let outcome = JoinOutcome {
                error: 0,
                generation: self.generation,
                protocol_type: self.protocol_type.clone(),
                protocol_name: self.protocol.clone(),
                leader: leader.clone(),
                member_id: member.id.clone(),
                members: if member.id == leader {
                    roster.clone()
                } else {
                    Vec::new()
                },
                skip_assignment: false,
            };
            member.answer_join(outcome);
        }
        tracing::info!(group = %self.id, generation = self.generation, members = self.members.len(), "rebalance completed join phase");
    }

    fn current_join_outcome(&self, member_id: &str) -> JoinOutcome {
        let leader = self.leader.clone().unwrap_or_default();
        let protocol = self.protocol.clone().unwrap_or_default();
        let members = if member_id == leader {
            self.join_order
                .iter()
                .filter_map(|id| self.members.get(id))
                .map(|m| {
                    (
                        m.id.clone(),
                        m.instance_id.clone(),
                        m.metadata_for(&protocol),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinOutcome {
            error: 0,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader,
            member_id: member_id.to_owned(),
            members,
            skip_assignment: false,
        }
    }

    /// What a static member that restarted into a stable group is told. A restarted
    /// leader that cannot be told to skip the assignment (JoinGroup before v9) is given
    /// its old member id as the leader's, so it does not compute an assignment that a
    /// stable group would never hand out.
    fn static_rejoin_outcome(
        &self,
        member_id: &str,
        old_leader_id: Option<&str>,
        skip_assignment_supported: bool,
    ) -> JoinOutcome {
        let mut outcome = self.current_join_outcome(member_id);
        if let Some(old_id) = old_leader_id {
            if skip_assignment_supported {
                outcome.skip_assignment = true;
            } else {
                outcome.leader = old_id.to_owned();
                outcome.members = Vec::new();
            }
        }
        outcome
    }

    /// The member id a request names, resolving static members: Err(code) when the
    /// instance id is held by another member id (fenced) or the member is unknown.
    fn check_member(&self, member_id: &str, instance_id: Option<&str>) -> Result<(), i16> {
        if let Some(instance) = instance_id {
            match self.static_members.get(instance) {
                Some(current) if current != member_id => {
                    return Err(ResponseError::FencedInstanceId.code())
                }
                _ => {}
            }
        }
        if self.members.contains_key(member_id) {
            Ok(())
        } else {
            Err(ResponseError::UnknownMemberId.code())
        }
    }
}

/// A join request, as the coordinator needs it.
#[derive(Debug)]
pub struct JoinRequest {
    pub group_id: String,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    /// JoinGroup v4+: a new dynamic member must first obtain its id (MEMBER_ID_REQUIRED).
    pub require_known_member_id: bool,
    /// JoinGroup v9+: the response can tell a leader to skip the assignment.
    pub skip_assignment_supported: bool,
}

/// A sync request, as the coordinator needs it.
#[derive(Debug)]
pub struct SyncRequest {
    pub group_id: String,
    pub generation: i32,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// From the leader: (member id, assignment).
    pub assignments: Vec<(String, Bytes)>,
}

#[derive(Debug)]
pub struct GroupCoordinator {
    groups: Mutex<HashMap<String, Group>>,
    /// Offsets committed inside open transactions, by producer id.
    transactional: Mutex<HashMap<i64, Vec<store::PendingCommit>>>,
    min_session_timeout_ms: i32,
    max_session_timeout_ms: i32,
    initial_delay: Duration,
    consumer_config: consumer::ConsumerConfig,
}

impl GroupCoordinator {
    pub fn new(config: &BrokerConfig) -> Self {
        GroupCoordinator {
            groups: Mutex::new(HashMap::new()),
            transactional: Mutex::new(HashMap::new()),
            min_session_timeout_ms: config.group_min_session_timeout_ms,
            max_session_timeout_ms: config.group_max_session_timeout_ms,
            initial_delay: Duration::from_millis(config.group_initial_rebalance_delay_ms),
            consumer_config: consumer::ConsumerConfig {
                heartbeat_interval: Duration::from_millis(
                    config.group_consumer_heartbeat_interval_ms,
                ),
                session_timeout: Duration::from_millis(config.group_consumer_session_timeout_ms),
                assignors: config.group_consumer_assignors.clone(),
            },
        }
    }

    /// The settings of consumer groups.
    pub fn consumer_config(&self) -> &consumer::ConsumerConfig {
        &self.consumer_config
    }

    pub fn lock(&self) -> MutexGuard<'_, HashMap<String, Group>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn join(&self, request: JoinRequest) -> Reply<JoinOutcome> {
        let fail = |code: i16| Reply::Now(JoinOutcome::error(code, &request.member_id));
        if request.group_id.is_empty() {
            return fail(ResponseError::InvalidGroupId.code());
        }
        if request.session_timeout_ms < self.min_session_timeout_ms
            || request.session_timeout_ms > self.max_session_timeout_ms
        {
            return fail(ResponseError::InvalidSessionTimeout.code());
        }
        if request.protocols.is_empty() || request.protocol_type.is_empty() {
            return fail(ResponseError::InconsistentGroupProtocol.code());
        }
        let mut groups = self.lock();
        if !request.member_id.is_empty() && !groups.contains_key(&request.group_id) {
            return fail(ResponseError::UnknownMemberId.code());
        }
        let group = groups
            .entry(request.group_id.clone())
            .or_insert_with(|| Group::new(&request.group_id));
        // Classic members do not join a consumer group with members (Kafka lets them in
        // through its protocol migration, which Runnel does not have); an empty one becomes
        // a classic group.
        if let Some(consumer) = &group.consumer {
            if consumer.has_members() {
                return fail(ResponseError::InconsistentGroupProtocol.code());
            }
            tracing::info!(group = %group.id, "empty consumer group becomes a classic group");
            group.consumer = None;
        }
        if !group.members.is_empty() {
            let same_type = group.protocol_type.as_deref() == Some(request.protocol_type.as_str());
            let shares = group
                .members
                .values()
                .all(|m| request.protocols.iter().any(|(name, _)| m.supports(name)));
            if !same_type || !shares {
                return fail(ResponseError::InconsistentGroupProtocol.code());
            }
        }
        let now = Instant::now();
        let (tx, rx) = oneshot::channel();

        let member_id = if request.member_id.is_empty() {
            if let Some(existing) = request
                .instance_id
                .as_ref()
                .and_then(|i| group.static_members.get(i))
                .cloned()
            {
                // A static member restarting: it takes over its old slot under a new id.
                let was_leader = group.leader.as_deref() == Some(existing.as_str());
                let mut old = group
                    .remove_member(&existing)
                    .unwrap_or_else(|| Member::placeholder(&existing));
                old.cancel_waiters(ResponseError::FencedInstanceId);
                let new_id = member::new_member_id(&request.client_id);
                let mut member = Member::from_request(&new_id, &request, now);
                member.assignment = old.assignment.clone();
                group.add_member(member);
                if was_leader {
                    group.leader = Some(new_id.clone());
                }
                // KIP-345: a stable group whose protocol would not change keeps its
                // generation and assignment; only a change of protocol rebalances.
                if group.state == GroupState::Stable && group.select_protocol() == group.protocol {
                    return Reply::Now(group.static_rejoin_outcome(
                        &new_id,
                        was_leader.then_some(existing.as_str()),
                        request.skip_assignment_supported,
                    ));
                }
                new_id
            } else if request.require_known_member_id && request.instance_id.is_none() {
                let new_id = member::new_member_id(&request.client_id);
                group.pending.insert(new_id.clone(), now);
                return Reply::Now(JoinOutcome::error(
                    ResponseError::MemberIdRequired.code(),
                    &new_id,
                ));
            } else {
                let new_id = member::new_member_id(&request.client_id);
                group.add_member(Member::from_request(&new_id, &request, now));
                new_id
            }
        } else if group.pending.remove(&request.member_id).is_some() {
            group.add_member(Member::from_request(&request.member_id, &request, now));
            request.member_id.clone()
        } else {
            if let Err(code) =
                group.check_member(&request.member_id, request.instance_id.as_deref())
            {
                return fail(code);
            }
            let unchanged = group
                .members
                .get(&request.member_id)
                .is_some_and(|m| m.protocols == request.protocols);
            let is_leader = group.leader.as_deref() == Some(request.member_id.as_str());
            if let Some(member) = group.members.get_mut(&request.member_id) {
                member.update(&request, now);
            }
            // A follower rejoining an unchanged, settled group just gets the current state.
            if unchanged
                && !is_leader
                && matches!(
                    group.state,
                    GroupState::Stable | GroupState::CompletingRebalance
                )
            {
                return Reply::Now(group.current_join_outcome(&request.member_id));
            }
            request.member_id.clone()
        };

        // The first member of an empty group decides its type (later ones must match it).
        if group.members.len() == 1 {
            group.protocol_type = Some(request.protocol_type.clone());
        }
        if let Some(member) = group.members.get_mut(&member_id) {
            member.join_waiter = Some(tx);
        }
        if group.state != GroupState::PreparingRebalance {
            group.prepare_rebalance(self.initial_delay, "member joined");
        }
        group.maybe_complete_join(now);
        Reply::Later(rx)
    }

    pub fn sync(&self, request: SyncRequest) -> Reply<SyncOutcome> {
        let SyncRequest {
            group_id,
            generation,
            member_id,
            instance_id,
            protocol_type,
            protocol_name,
            assignments,
        } = request;
        let (group_id, member_id) = (group_id.as_str(), member_id.as_str());
        let (instance_id, protocol_type, protocol_name) = (
            instance_id.as_deref(),
            protocol_type.as_deref(),
            protocol_name.as_deref(),
        );
        let fail = |code: i16| {
            Reply::Now(SyncOutcome {
                error: code,
                ..SyncOutcome::default()
            })
        };
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return fail(ResponseError::UnknownMemberId.code());
        };
        if let Err(code) = group.check_member(member_id, instance_id) {
            return fail(code);
        }
        if generation != group.generation {
            return fail(ResponseError::IllegalGeneration.code());
        }
        if protocol_type.is_some_and(|t| Some(t) != group.protocol_type.as_deref())
            || protocol_name.is_some_and(|n| Some(n) != group.protocol.as_deref())
        {
            return fail(ResponseError::InconsistentGroupProtocol.code());
        }
        let done = |group: &Group, assignment: Bytes| SyncOutcome {
            error: 0,
            protocol_type: group.protocol_type.clone(),
            protocol_name: group.protocol.clone(),
            assignment,
        };
        match group.state {
            GroupState::Empty => fail(ResponseError::UnknownMemberId.code()),
            GroupState::PreparingRebalance => fail(ResponseError::RebalanceInProgress.code()),
            GroupState::Stable => {
                let assignment = group
                    .members
                    .get(member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                Reply::Now(done(group, assignment))
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(member) = group.members.get_mut(member_id) {
                    member.sync_waiter = Some(tx);
                    member.last_heartbeat = Instant::now();
                }
                if group.leader.as_deref() == Some(member_id) {
                    let mut assigned: HashMap<String, Bytes> = assignments.into_iter().collect();
                    let protocol_type = group.protocol_type.clone();
                    let protocol_name = group.protocol.clone();
                    for member in group.members.values_mut() {
                        member.assignment = assigned.remove(&member.id).unwrap_or_default();
                        member.answer_sync(SyncOutcome {
                            error: 0,
                            protocol_type: protocol_type.clone(),
                            protocol_name: protocol_name.clone(),
                            assignment: member.assignment.clone(),
                        });
                    }
                    group.state = GroupState::Stable;
                    tracing::info!(group = %group.id, generation = group.generation, "group stable");
                }
                Reply::Later(rx)
            }
        }
    }

    pub fn heartbeat(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> i16 {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return ResponseError::UnknownMemberId.code();
        };
        if let Err(code) = group.check_member(member_id, instance_id) {
            return code;
        }
        if let Some(member) = group.members.get_mut(member_id) {
            member.last_heartbeat = Instant::now();
        }
        match group.state {
            GroupState::Empty => ResponseError::UnknownMemberId.code(),
            GroupState::PreparingRebalance => ResponseError::RebalanceInProgress.code(),
            _ if generation != group.generation => ResponseError::IllegalGeneration.code(),
            _ => 0,
        }
    }

    /// Removes the given (member id, instance id) pairs; returns an error code per member.
    pub fn leave(
        &self,
        group_id: &str,
        leaving: &[(String, Option<String>)],
    ) -> Result<Vec<i16>, i16> {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return Err(ResponseError::UnknownMemberId.code());
        };
        let mut codes = Vec::with_capacity(leaving.len());
        let mut removed = false;
        for (member_id, instance_id) in leaving {
            // A static member may leave by instance id alone.
            let id = match (member_id.is_empty(), instance_id) {
                (true, Some(instance)) => group
                    .static_members
                    .get(instance)
                    .cloned()
                    .unwrap_or_default(),
                _ => member_id.clone(),
            };
            let code = match group.check_member(&id, instance_id.as_deref()) {
                Ok(()) => {
                    if let Some(mut member) = group.remove_member(&id) {
                        member.cancel_waiters(ResponseError::UnknownMemberId);
                        removed = true;
                    }
                    0
                }
                Err(code) => code,
            };
            codes.push(code);
        }
        if removed {
            group.prepare_rebalance(Duration::ZERO, "member left");
            group.maybe_complete_join(Instant::now());
        }
        Ok(codes)
    }

    /// Validates a commit's membership; `Ok` means the offsets may be stored. In a consumer
    /// group `generation` is the member epoch.
    pub fn check_commit(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        kind: consumer::CommitKind,
    ) -> Result<(), i16> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId.code());
        }
        let mut groups = self.lock();
        if let Some(consumer) = groups.get(group_id).and_then(|g| g.consumer.as_ref()) {
            return consumer
                .check_commit(member_id, generation, kind)
                .map_err(|e| e.code());
        }
        // generation -1 with no member: a "simple" commit by a client outside any group.
        if generation < 0 && member_id.is_empty() {
            let group = groups
                .entry(group_id.to_owned())
                .or_insert_with(|| Group::new(group_id));
            return if group.members.is_empty() {
                Ok(())
            } else {
                Err(ResponseError::UnknownMemberId.code())
            };
        }
        let Some(group) = groups.get_mut(group_id) else {
            return Err(ResponseError::UnknownMemberId.code());
        };
        group.check_member(member_id, instance_id)?;
        if generation != group.generation {
            return Err(ResponseError::IllegalGeneration.code());
        }
        // As in Kafka: a member of the current generation may commit while the group is
        // stable and while it prepares a rebalance (the commits made when partitions are
        // revoked arrive then); only between the join and the new assignment are its
        // partitions in doubt.
        if group.state == GroupState::CompletingRebalance {
            return Err(ResponseError::RebalanceInProgress.code());
        }
        if let Some(member) = group.members.get_mut(member_id) {
            member.last_heartbeat = Instant::now();
        }
        Ok(())
    }

    /// Validates the member an OffsetFetch (v9+) names, for consumer groups (Kafka checks
    /// the member epoch there); classic groups are not checked.
    pub fn check_fetch(
        &self,
        group_id: &str,
        member_id: Option<&str>,
        epoch: i32,
    ) -> Result<(), i16> {
        let groups = self.lock();
        match groups.get(group_id).and_then(|g| g.consumer.as_ref()) {
            Some(consumer) => consumer.check_fetch(member_id, epoch).map_err(|e| e.code()),
            None => Ok(()),
        }
    }

    /// Handles a ConsumerGroupHeartbeat. `image` holds the topics that exist now.
    pub fn consumer_heartbeat(
        &self,
        request: &consumer::Heartbeat,
        image: &consumer::TopicImage,
        now: Instant,
    ) -> Result<consumer::HeartbeatOutcome, consumer::HeartbeatError> {
        use consumer::HeartbeatError;
        request.validate()?;
        let joining = request.member_epoch == 0;
        let mut groups = self.lock();
        if !groups.contains_key(&request.group_id) {
            if !joining {
                // Also what a member hears after a broker restart (group state is not
                // stored): it rejoins.
                return Err(HeartbeatError::UnknownMember(request.member_id.clone()));
            }
            groups.insert(request.group_id.clone(), Group::new(&request.group_id));
        }
        let Some(group) = groups.get_mut(&request.group_id) else {
            return Err(HeartbeatError::UnknownMember(request.member_id.clone()));
        };
        if group.consumer.is_none() {
            if !group.members.is_empty() {
                return Err(HeartbeatError::NotConsumerGroup(group.id.clone()));
            }
            if !joining {
                return Err(HeartbeatError::UnknownMember(request.member_id.clone()));
            }
            tracing::info!(group = %group.id, "consumer group created");
            group.consumer = Some(consumer::ConsumerGroup::new());
        }
        let Some(consumer) = group.consumer.as_mut() else {
            return Err(HeartbeatError::UnknownMember(request.member_id.clone()));
        };
        consumer.heartbeat(request, image, now, &self.consumer_config)
    }

    /// Records stored commits (after they are durable in the offsets topic).
    pub fn record_commits(&self, group_id: &str, commits: &[((String, i32), Option<Committed>)]) {
        let mut groups = self.lock();
        let group = groups
            .entry(group_id.to_owned())
            .or_insert_with(|| Group::new(group_id));
        for (key, commit) in commits {
            match commit {
                Some(c) => {
                    group.offsets.insert(key.clone(), c.clone());
                }
                None => {
                    group.offsets.remove(key);
                }
            }
        }
    }

    fn lock_transactional(&self) -> MutexGuard<'_, HashMap<i64, Vec<store::PendingCommit>>> {
        self.transactional.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds commits written inside `producer_id`'s transaction until it ends.
    pub fn add_transactional(&self, producer_id: i64, commits: Vec<store::PendingCommit>) {
        self.lock_transactional()
            .entry(producer_id)
            .or_default()
            .extend(commits);
    }

    /// Ends `producer_id`'s transaction: its commits become visible, or are dropped.
    pub fn end_transaction(&self, producer_id: i64, commit: bool) {
        let Some(pending) = self.lock_transactional().remove(&producer_id) else {
            return;
        };
        if !commit {
            return;
        }
        let mut by_group: HashMap<String, store::Commits> = HashMap::new();
        for p in pending {
            by_group.entry(p.group).or_default().push((p.key, p.commit));
        }
        for (group, commits) in by_group {
            self.record_commits(&group, &commits);
        }
    }

    /// Whether an open transaction holds an offset of `group` for the partition
    /// (OffsetFetch's `require_stable` answers UNSTABLE_OFFSET_COMMIT for it).
    pub fn has_transactional(&self, group: &str, key: &(String, i32)) -> bool {
        self.lock_transactional()
            .values()
            .flatten()
            .any(|p| p.group == group && &p.key == key)
    }

    pub fn committed(&self, group_id: &str) -> GroupOffsets {
        self.lock()
            .get(group_id)
            .map(|g| g.offsets.clone())
            .unwrap_or_default()
    }

    /// Drops members whose session expired and completes overdue rebalances.
    pub fn expire(&self, now: Instant) {
        let mut groups = self.lock();
        for group in groups.values_mut() {
            let expired: Vec<String> = group
                .members
                .values()
                .filter(|m| {
                    !m.is_joining()
                        && !m.is_syncing()
                        && now.duration_since(m.last_heartbeat) > m.session_timeout
                })
                .map(|m| m.id.clone())
                .collect();
            for id in &expired {
                tracing::info!(group = %group.id, member = %id, "session expired");
                group.remove_member(id);
            }
            if !expired.is_empty() {
                group.prepare_rebalance(Duration::ZERO, "session expired");
            }
            if let Some(consumer) = &mut group.consumer {
                for id in consumer.expire(now, &self.consumer_config) {
                    tracing::info!(group = %group.id, member = %id, "consumer group member removed");
                }
            }
            group
                .pending
                .retain(|_, since| now.duration_since(*since) < Duration::from_secs(300));
            group.maybe_complete_join(now);
        }
    }
}

/// Rebuilds committed offsets from `__consumer_offsets`.
pub(crate) async fn load(state: &Arc<BrokerState>) -> Result<(), BrokerError> {
    let loaded = crate::broker::replay(state, store::load).await?;
    for (producer_id, commits) in loaded.pending {
        state.groups.add_transactional(producer_id, commits);
    }
    let mut groups = state.groups.lock();
    let count = loaded.groups.len();
    for (id, offsets) in loaded.groups {
        groups
            .entry(id.clone())
            .or_insert_with(|| Group::new(&id))
            .offsets = offsets;
    }
    if count > 0 {
        tracing::info!(groups = count, "loaded committed offsets");
    }
    Ok(())
}

pub(crate) async fn sweep(state: &Arc<BrokerState>) {
    state.groups.expire(Instant::now());
}

#[cfg(test)]
mod tests;
