//! Share groups (KIP-932): queue semantics on the log.
//!
//! Members of a share group read the same partitions; each record is *acquired* by one
//! member at a time under a lock, and settled by acknowledgement: accepted, released for
//! redelivery, or rejected. A lock that runs out releases the record; every acquisition
//! counts as a delivery, and past the group's delivery limit a record is archived. Rejected
//! and exhausted records go to the group's dead-letter topic when one is set.
//!
//! - [`records`]: the delivery state machine of one share-partition (pure, time passed in).
//! - [`group`]: membership and the server-side assignor.
//! - [`store`]: the durable state in `__share_group_state`.
//! - [`config`]: broker defaults and per-group overrides.
//! - [`fetch`]: acquiring and settling records against the logs, dead-lettering.
//!
//! Locking: the coordinator's maps each have their own mutex, taken briefly and never two at
//! once; a share-partition's state has its own mutex, never held across an await.

pub mod config;
pub mod fetch;
pub mod group;
pub mod records;
pub mod store;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use kafka_protocol::error::ResponseError;
use runnel_log::Clock;
use uuid::Uuid;

use crate::broker::BrokerState;
use crate::error::BrokerError;
use config::{GroupSettings, InvalidSetting, ShareDefaults};
use group::{ShareGroup, ShareMember};
use records::{Archived, MemberId, ShareRecords, Summary};
use store::{Change, ShareKey, StoredPartition};

/// How often locks and member sessions are checked for expiry.
pub const SWEEP_INTERVAL_MS: u64 = 100;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// One share-partition: its delivery state, created at first fetch or restored at start-up.
#[derive(Debug)]
pub struct SharePartition {
    pub key: ShareKey,
    state: Mutex<PartitionState>,
}

#[derive(Debug, Default)]
pub struct PartitionState {
    /// `None` until the share-partition starts (at its first fetch, from the reset policy).
    pub records: Option<ShareRecords>,
    /// Records archived for a dead-letter reason, ever.
    pub dead_lettered: u64,
}

impl SharePartition {
    pub fn lock(&self) -> MutexGuard<'_, PartitionState> {
        lock(&self.state)
    }

    /// What to store for it now.
    pub fn snapshot(&self) -> Option<Change> {
        let state = self.lock();
        let records = state.records.as_ref()?;
        Some(Change::Partition(
            self.key.clone(),
            Some(StoredPartition {
                start: records.start(),
                dead_lettered: state.dead_lettered,
                runs: records.durable_runs(),
            }),
        ))
    }
}

/// Records that left share-partitions for a dead-letter reason, and the share-partitions
/// whose stored state is out of date.
#[derive(Debug, Default)]
pub struct Settled {
    pub archived: Vec<(Arc<SharePartition>, Vec<Archived>)>,
    pub changed: Vec<Arc<SharePartition>>,
}

impl Settled {
    pub fn add(&mut self, partition: &Arc<SharePartition>, archived: Vec<Archived>) {
        if !self.changed.iter().any(|p| Arc::ptr_eq(p, partition)) {
            self.changed.push(Arc::clone(partition));
        }
        if !archived.is_empty() {
            partition.lock().dead_lettered += archived.len() as u64;
            self.archived.push((Arc::clone(partition), archived));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }
}

/// A member's share session (per broker): the partitions it fetches, and the epoch its next
/// request must carry.
#[derive(Debug, Clone, Default)]
pub struct ShareSession {
    pub next_epoch: i32,
    pub partitions: BTreeSet<(String, i32)>,
}

/// What ShareGroupHeartbeat asks.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    pub group: String,
    pub member: String,
    pub epoch: i32,
    pub rack: Option<String>,
    pub subscribed: Option<Vec<String>>,
    pub client_id: String,
    pub client_host: String,
}

/// What ShareGroupHeartbeat answers.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatOutcome {
    pub error: i16,
    pub message: Option<String>,
    pub epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// The member's assignment, when it changed or the member just joined.
    pub assignment: Option<BTreeMap<String, Vec<i32>>>,
}

impl HeartbeatOutcome {
    fn error(code: ResponseError, message: &str) -> Self {
        HeartbeatOutcome {
            error: code.code(),
            message: Some(message.to_owned()),
            epoch: -1,
            ..HeartbeatOutcome::default()
        }
    }
}

#[derive(Debug)]
pub struct ShareCoordinator {
    pub defaults: ShareDefaults,
    clock: Arc<dyn Clock>,
    groups: Mutex<HashMap<String, ShareGroup>>,
    configs: Mutex<HashMap<String, BTreeMap<String, String>>>,
    sessions: Mutex<HashMap<(String, String), ShareSession>>,
    partitions: Mutex<HashMap<ShareKey, Arc<SharePartition>>>,
}

impl ShareCoordinator {
    pub fn new(defaults: ShareDefaults, clock: Arc<dyn Clock>) -> Self {
        ShareCoordinator {
            defaults,
            clock,
            groups: Mutex::default(),
            configs: Mutex::default(),
            sessions: Mutex::default(),
            partitions: Mutex::default(),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Installs what the state topic held. `topic_id` gives the id of a topic that exists now:
    /// state of a topic since deleted (or deleted and created again) is left out, and state
    /// stored before topic ids were recorded is taken as the current topic's of that name
    /// unless state stored with its id exists.
    pub fn restore(&self, loaded: store::Loaded, topic_id: impl Fn(&str) -> Option<Uuid>) -> usize {
        let (with_id, by_name): (Vec<_>, Vec<_>) = loaded
            .partitions
            .into_iter()
            .partition(|(key, _)| !key.topic_id.is_nil());
        let mut partitions = lock(&self.partitions);
        for (mut key, stored) in by_name.into_iter().chain(with_id) {
            let Some(current) = topic_id(&key.topic) else {
                continue;
            };
            if key.topic_id.is_nil() {
                key.topic_id = current;
            } else if key.topic_id != current {
                continue;
            }
            let Some(records) = ShareRecords::restore(stored.start, &stored.runs) else {
                tracing::warn!(group = %key.group, topic = %key.topic, partition = key.partition,
                    "stored share-partition state does not tile; starting it over");
                continue;
            };
            partitions.insert(
                key.clone(),
                Arc::new(SharePartition {
                    key,
                    state: Mutex::new(PartitionState {
                        records: Some(records),
                        dead_lettered: stored.dead_lettered,
                    }),
                }),
            );
        }
        let restored = partitions.len();
        let groups: Vec<String> = partitions.keys().map(|k| k.group.clone()).collect();
        drop(partitions);
        let mut known = lock(&self.groups);
        for group in groups {
            known.entry(group).or_default();
        }
        drop(known);
        *lock(&self.configs) = loaded.configs;
        restored
    }

    /// The settings `group` works under.
    pub fn settings(&self, group: &str) -> GroupSettings {
        let configs = lock(&self.configs);
        let empty = BTreeMap::new();
        GroupSettings::resolve(&self.defaults, configs.get(group).unwrap_or(&empty))
    }

    /// The overrides set on `group`.
    pub fn overrides(&self, group: &str) -> BTreeMap<String, String> {
        lock(&self.configs).get(group).cloned().unwrap_or_default()
    }

    /// Validates new overrides for `group` (all or nothing); returns the change to store.
    pub fn check_overrides(
        &self,
        group: &str,
        overrides: BTreeMap<String, String>,
    ) -> Result<Change, InvalidSetting> {
        let mut settings = GroupSettings::resolve(&self.defaults, &BTreeMap::new());
        for (name, value) in &overrides {
            settings.apply(name, value)?;
        }
        let value = (!overrides.is_empty()).then_some(overrides);
        Ok(Change::Config(group.to_owned(), value))
    }

    /// Applies stored overrides (after they were persisted).
    pub fn set_overrides(&self, group: &str, overrides: Option<BTreeMap<String, String>>) {
        let mut configs = lock(&self.configs);
        match overrides {
            Some(o) => configs.insert(group.to_owned(), o),
            None => configs.remove(group),
        };
    }

    /// Whether `group` is a share group: one a member joined or that has share-partition
    /// state, until it is deleted.
    pub fn is_share_group(&self, group: &str) -> bool {
        lock(&self.groups).contains_key(group)
    }

    /// Group ids with their state (ListGroups), in id order.
    pub fn list(&self) -> Vec<(String, &'static str)> {
        let groups = lock(&self.groups);
        let mut ids: Vec<_> = groups
            .iter()
            .map(|(id, g)| (id.clone(), g.state()))
            .collect();
        ids.sort();
        ids
    }

    pub fn describe(&self, group: &str) -> Option<ShareGroup> {
        lock(&self.groups).get(group).cloned()
    }

    /// Every share-partition of `group`, in key order.
    pub fn partitions_of(&self, group: &str) -> Vec<Arc<SharePartition>> {
        let mut out = self.all_partitions();
        out.retain(|p| p.key.group == group);
        out
    }

    /// Every share-partition, in key order.
    pub fn all_partitions(&self) -> Vec<Arc<SharePartition>> {
        let mut out: Vec<_> = lock(&self.partitions).values().cloned().collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// The share-partition, created (not yet started) on first use; its group becomes a
    /// share group if it was not one.
    pub fn partition(&self, key: &ShareKey) -> Arc<SharePartition> {
        lock(&self.groups).entry(key.group.clone()).or_default();
        let mut partitions = lock(&self.partitions);
        Arc::clone(partitions.entry(key.clone()).or_insert_with(|| {
            Arc::new(SharePartition {
                key: key.clone(),
                state: Mutex::new(PartitionState::default()),
            })
        }))
    }

    /// Forgets share-partitions (offsets deleted, group deleted).
    pub fn remove_partitions(&self, keys: &[ShareKey]) {
        let mut partitions = lock(&self.partitions);
        for key in keys {
            partitions.remove(key);
        }
    }

    /// Forgets every share-partition of a deleted topic; returns the changes that delete their
    /// stored state (also any stored before topic ids were recorded).
    pub fn forget_topic(&self, topic_id: Uuid) -> Vec<Change> {
        let mut partitions = lock(&self.partitions);
        let doomed: Vec<ShareKey> = partitions
            .keys()
            .filter(|key| key.topic_id == topic_id)
            .cloned()
            .collect();
        let mut changes = Vec::with_capacity(doomed.len() * 2);
        for key in doomed {
            partitions.remove(&key);
            let by_name = ShareKey {
                topic_id: Uuid::nil(),
                ..key.clone()
            };
            changes.push(Change::Partition(key, None));
            changes.push(Change::Partition(by_name, None));
        }
        changes
    }

    pub fn has_members(&self, group: &str) -> bool {
        lock(&self.groups)
            .get(group)
            .is_some_and(|g| !g.members.is_empty())
    }

    pub fn is_member(&self, group: &str, member: &str) -> bool {
        lock(&self.groups)
            .get(group)
            .is_some_and(|g| g.members.contains_key(member))
    }

    /// ShareGroupHeartbeat: join (epoch 0), stay (current epoch) or leave (epoch -1).
    pub fn heartbeat(
        &self,
        request: Heartbeat,
        partitions_of: impl Fn(&str) -> Option<i32>,
        settled: &mut Settled,
    ) -> HeartbeatOutcome {
        let now = self.now_ms();
        if request.member.is_empty() {
            return HeartbeatOutcome::error(ResponseError::InvalidRequest, "MemberId is required");
        }
        let mut groups = lock(&self.groups);
        if request.epoch == -1 {
            if let Some(group) = groups.get_mut(&request.group) {
                if group.members.remove(&request.member).is_some() {
                    group.reassign(true, &partitions_of);
                }
            }
            drop(groups);
            // A closing client sends its leave heartbeat and its last acknowledgements (the
            // share session's close) at the same moment, on different connections. As in
            // Kafka, leaving does not release what it holds under an open share session: the
            // session's close applies the acknowledgements and then releases the rest (see
            // `close_session`), and a client that never closes it has its locks run out.
            let had_session = lock(&self.sessions)
                .remove(&(request.group.clone(), request.member.clone()))
                .is_some();
            if !had_session {
                self.member_gone(&request.group, &request.member, settled);
            }
            return HeartbeatOutcome {
                epoch: -1,
                heartbeat_interval_ms: self.defaults.heartbeat_interval_ms,
                ..HeartbeatOutcome::default()
            };
        }
        let group = groups.entry(request.group.clone()).or_default();
        let joining = request.epoch == 0;
        let mut membership_changed = false;
        match group.members.get_mut(&request.member) {
            Some(member) if joining || member.epoch == request.epoch => {
                member.last_heartbeat_ms = now;
                if let Some(topics) = &request.subscribed {
                    let topics: BTreeSet<String> = topics.iter().cloned().collect();
                    membership_changed = topics != member.subscribed;
                    member.subscribed = topics;
                }
            }
            Some(_) => {
                return HeartbeatOutcome::error(
                    ResponseError::FencedMemberEpoch,
                    "the member epoch is not the one the group gave it",
                )
            }
            None if !joining => {
                return HeartbeatOutcome::error(
                    ResponseError::UnknownMemberId,
                    "the member is not in the share group",
                )
            }
            None => {
                let Some(topics) = &request.subscribed else {
                    return HeartbeatOutcome::error(
                        ResponseError::InvalidRequest,
                        "a joining member must name its subscription",
                    );
                };
                if group.members.len() >= self.defaults.max_size {
                    return HeartbeatOutcome::error(
                        ResponseError::GroupMaxSizeReached,
                        "the share group is full (group.share.max.size)",
                    );
                }
                group.members.insert(
                    request.member.clone(),
                    ShareMember {
                        epoch: 0,
                        client_id: request.client_id.clone(),
                        client_host: request.client_host.clone(),
                        rack: request.rack.clone(),
                        subscribed: topics.iter().cloned().collect(),
                        assignment: BTreeMap::new(),
                        last_heartbeat_ms: now,
                    },
                );
                membership_changed = true;
            }
        }
        group.reassign(membership_changed, &partitions_of);
        let epoch = group.epoch;
        let Some(member) = group.members.get_mut(&request.member) else {
            return HeartbeatOutcome::error(ResponseError::UnknownMemberId, "member vanished");
        };
        let assignment = (joining || member.epoch != epoch).then(|| member.assignment.clone());
        member.epoch = epoch;
        HeartbeatOutcome {
            error: 0,
            message: None,
            epoch,
            heartbeat_interval_ms: self.defaults.heartbeat_interval_ms,
            assignment,
        }
    }

    /// A member left or was removed: its sessions close and its records are released.
    fn member_gone(&self, group: &str, member: &str, settled: &mut Settled) {
        lock(&self.sessions).remove(&(group.to_owned(), member.to_owned()));
        let limits = self.settings(group).limits;
        for partition in self.partitions_of(group) {
            let archived = match partition.lock().records.as_mut() {
                Some(records) => records.release_member(member, limits),
                None => continue,
            };
            settled.add(&partition, archived);
        }
    }

    /// Opens, continues or closes a member's share session for a request carrying `epoch`;
    /// adds and forgets partitions. Returns the session's partitions after the request.
    pub fn session(
        &self,
        group: &str,
        member: &str,
        epoch: i32,
        add: &[(String, i32)],
        forget: &[(String, i32)],
    ) -> Result<BTreeSet<(String, i32)>, ResponseError> {
        let key = (group.to_owned(), member.to_owned());
        let mut sessions = lock(&self.sessions);
        let session = match epoch {
            0 => {
                if !sessions.contains_key(&key)
                    && sessions.len() >= self.defaults.max_share_sessions
                {
                    return Err(ResponseError::ShareSessionLimitReached);
                }
                sessions.insert(key.clone(), ShareSession::default());
                sessions.get_mut(&key)
            }
            -1 => sessions.get_mut(&key),
            _ => match sessions.get_mut(&key) {
                None => return Err(ResponseError::ShareSessionNotFound),
                Some(s) if s.next_epoch != epoch => {
                    return Err(ResponseError::InvalidShareSessionEpoch)
                }
                found => found,
            },
        };
        let Some(session) = session else {
            // Closing a session that is already gone: only the acknowledgements matter.
            return Ok(add.iter().cloned().collect());
        };
        session.next_epoch = if epoch == i32::MAX { 1 } else { epoch + 1 };
        session.partitions.extend(add.iter().cloned());
        for f in forget {
            session.partitions.remove(f);
        }
        let partitions = session.partitions.clone();
        if epoch == -1 {
            sessions.remove(&key);
        }
        Ok(partitions)
    }

    /// Releases `member`'s records in the named share-partitions (session closed, or
    /// partitions forgotten).
    pub fn release(
        &self,
        group: &str,
        member: &str,
        partitions: &BTreeSet<(String, i32)>,
        settled: &mut Settled,
    ) {
        let limits = self.settings(group).limits;
        let held: Vec<Arc<SharePartition>> = lock(&self.partitions)
            .values()
            .filter(|p| {
                p.key.group == group && partitions.contains(&(p.key.topic.clone(), p.key.partition))
            })
            .cloned()
            .collect();
        for partition in held {
            let archived = match partition.lock().records.as_mut() {
                Some(records) => records.release_member(member, limits),
                None => continue,
            };
            settled.add(&partition, archived);
        }
    }

    /// A share session closed (epoch -1), after its acknowledgements were applied: releases
    /// what `member` still holds in the session's partitions, and everywhere in the group when
    /// the member has already left it (its leave heartbeat came first and left its records to
    /// this close).
    pub fn close_session(
        &self,
        group: &str,
        member: &str,
        partitions: &BTreeSet<(String, i32)>,
        settled: &mut Settled,
    ) {
        if self.is_member(group, member) {
            self.release(group, member, partitions, settled);
        } else {
            self.member_gone(group, member, settled);
        }
    }

    /// Removes members whose session ran out and releases expired locks.
    pub fn expire(&self, partitions_of: impl Fn(&str) -> Option<i32>) -> Settled {
        let now = self.now_ms();
        let timeout = self.defaults.session_timeout_ms;
        let mut gone = Vec::new();
        {
            let mut groups = lock(&self.groups);
            for (id, group) in groups.iter_mut() {
                let before = group.members.len();
                group.members.retain(|member_id, m| {
                    let alive = now - m.last_heartbeat_ms < timeout;
                    if !alive {
                        tracing::info!(group = %id, member = %member_id, "share member session expired");
                        gone.push((id.clone(), member_id.clone()));
                    }
                    alive
                });
                if group.members.len() != before {
                    group.reassign(true, &partitions_of);
                }
            }
        }
        let mut settled = Settled::default();
        for (group, member) in gone {
            self.member_gone(&group, &member, &mut settled);
        }
        let partitions: Vec<_> = lock(&self.partitions).values().cloned().collect();
        for partition in partitions {
            let limits = self.settings(&partition.key.group).limits;
            let archived = {
                let mut state = partition.lock();
                let Some(records) = state.records.as_mut() else {
                    continue;
                };
                if records.next_deadline().is_none_or(|d| d > now) {
                    continue;
                }
                records.expire_locks(now, limits)
            };
            settled.add(&partition, archived);
        }
        settled
    }

    /// Deletes a share group with no members: its state and overrides.
    pub fn delete_group(&self, group: &str) -> Result<Vec<Change>, ResponseError> {
        if self.has_members(group) {
            return Err(ResponseError::NonEmptyGroup);
        }
        if !self.is_share_group(group) {
            return Err(ResponseError::GroupIdNotFound);
        }
        lock(&self.groups).remove(group);
        let keys: Vec<ShareKey> = self
            .partitions_of(group)
            .iter()
            .map(|p| p.key.clone())
            .collect();
        self.remove_partitions(&keys);
        let mut changes: Vec<Change> = keys
            .into_iter()
            .map(|k| Change::Partition(k, None))
            .collect();
        if lock(&self.configs).remove(group).is_some() {
            changes.push(Change::Config(group.to_owned(), None));
        }
        Ok(changes)
    }
}

/// A member id as share-partitions hold it.
pub fn member_id(member: &str) -> MemberId {
    MemberId::from(member)
}

/// Counts of one share-partition for describing it.
pub fn summary(partition: &SharePartition) -> Option<(Summary, u64)> {
    let state = partition.lock();
    Some((state.records.as_ref()?.summary(), state.dead_lettered))
}

/// Loads `__share_group_state` at start-up.
pub(crate) async fn load(state: &Arc<BrokerState>) -> Result<(), BrokerError> {
    let loaded = crate::broker::replay(state, store::load).await?;
    let restored = state
        .shares
        .restore(loaded, |name| state.topics.get(name).map(|t| t.id));
    if restored > 0 {
        tracing::info!(share_partitions = restored, "loaded share-group state");
    }
    Ok(())
}

/// Expires members and locks; dead-letters and stores what that settled.
pub(crate) async fn sweep(state: &Arc<BrokerState>) {
    let settled = state
        .shares
        .expire(|topic| state.topics.get(topic).map(|t| t.partitions().len() as i32));
    if let Err(error) = fetch::finish(state, settled).await {
        tracing::warn!(%error, "storing share-group state after lock expiry failed");
    }
}

#[cfg(test)]
mod tests;
