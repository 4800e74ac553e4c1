//! Consumer groups, next-generation protocol (KIP-848): the broker assigns partitions.
//!
//! Members send ConsumerGroupHeartbeat requests: their subscription (topic names and/or a
//! regular expression, an optional server assignor) when it changes, the partitions they
//! own when they acknowledge an assignment, and their member epoch. There is no join or
//! sync round and no group-wide barrier; each heartbeat is answered at once.
//!
//! Three epochs order everything:
//!
//! * the **group epoch** goes up whenever the input of the assignment changes: a member
//!   joins or leaves, a subscription or requested assignor changes, a subscribed topic is
//!   created, deleted or gains partitions;
//! * the **assignment epoch** is the group epoch the current target assignment was computed
//!   for; a heartbeat that finds it behind recomputes the target with the group's assignor
//!   ([`assignor`]), keeping the previous target as the assignor's starting point;
//! * each member's **member epoch** is the assignment epoch it has reconciled to
//!   ([`member`]): partitions it must give up are revoked first, at its old epoch, and a
//!   partition reaches its new member only once the previous owner's heartbeat no longer
//!   reports it.
//!
//! Heartbeats carry the member epoch; one the broker does not expect is fenced
//! (FENCED_MEMBER_EPOCH) and the member rejoins with epoch 0. OffsetCommit (v9+) carries it
//! too, and a commit at another epoch is refused (STALE_MEMBER_EPOCH).
//!
//! Time is passed in: the coordinator calls [`ConsumerGroup::heartbeat`] and
//! [`ConsumerGroup::expire`] with the current instant, so tests decide what time it is.
//! Group state is kept in memory only; committed offsets are stored as for classic groups.

pub mod assignor;
mod heartbeat;
pub mod member;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

pub use assignor::Assignor;
use assignor::MemberSpec;
pub use heartbeat::{Heartbeat, HeartbeatError, HeartbeatOutcome};
pub use member::{ConsumerMember, MemberState, TopicRegex};

/// A partition by topic id.
pub type TopicPartition = (Uuid, i32);

/// A set of partitions.
pub type Assignment = BTreeSet<TopicPartition>;

/// The epoch of a heartbeat that leaves the group.
pub const LEAVE_EPOCH: i32 = -1;
/// The epoch of a heartbeat by which a static member leaves for now, keeping its partitions
/// until it rejoins under the same instance id or its session expires.
pub const STATIC_LEAVE_EPOCH: i32 = -2;

/// A topic as the assignment sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicInfo {
    pub id: Uuid,
    pub partitions: i32,
    pub internal: bool,
}

/// The topics that exist, by name: what subscriptions resolve against.
#[derive(Debug, Clone, Default)]
pub struct TopicImage {
    by_name: BTreeMap<String, TopicInfo>,
    names: BTreeMap<Uuid, String>,
}

impl TopicImage {
    pub fn new(topics: impl IntoIterator<Item = (String, TopicInfo)>) -> TopicImage {
        let by_name: BTreeMap<String, TopicInfo> = topics.into_iter().collect();
        let names = by_name
            .iter()
            .map(|(name, info)| (info.id, name.clone()))
            .collect();
        TopicImage { by_name, names }
    }

    pub fn get(&self, name: &str) -> Option<&TopicInfo> {
        self.by_name.get(name)
    }

    pub fn name_of(&self, id: Uuid) -> Option<&str> {
        self.names.get(&id).map(String::as_str)
    }
}

/// The broker settings of consumer groups.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// `group.consumer.heartbeat.interval.ms`: how often members heartbeat.
    pub heartbeat_interval: Duration,
    /// `group.consumer.session.timeout.ms`: a member silent this long is removed.
    pub session_timeout: Duration,
    /// `group.consumer.assignors`: the assignors members may ask for, the default first.
    pub assignors: Vec<Assignor>,
}

impl ConsumerConfig {
    fn default_assignor(&self) -> Assignor {
        self.assignors.first().copied().unwrap_or(Assignor::Uniform)
    }
}

/// The state of a consumer group, as ListGroups and ConsumerGroupDescribe name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    Empty,
    /// The target assignment is behind the group epoch.
    Assigning,
    /// Some member has not reconciled to the target yet.
    Reconciling,
    Stable,
}

impl ConsumerGroupState {
    pub fn name(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
        }
    }
}

/// Who may commit offsets, and how, for [`ConsumerGroup::check_commit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitKind {
    OffsetCommit { version: i16 },
    Transactional,
}

#[derive(Debug, Clone, Default)]
pub struct ConsumerGroup {
    group_epoch: i32,
    assignment_epoch: i32,
    members: BTreeMap<String, ConsumerMember>,
    /// The target assignment of every member, as of `assignment_epoch`.
    targets: BTreeMap<String, Assignment>,
    /// instance id → member id.
    static_members: BTreeMap<String, String>,
    /// The existing topics some member subscribes to, as of the group epoch.
    subscribed: BTreeMap<String, TopicInfo>,
    /// The assignor of the current target.
    assignor: Option<Assignor>,
}

impl ConsumerGroup {
    pub fn new() -> ConsumerGroup {
        ConsumerGroup::default()
    }

    pub fn group_epoch(&self) -> i32 {
        self.group_epoch
    }

    pub fn assignment_epoch(&self) -> i32 {
        self.assignment_epoch
    }

    pub fn members(&self) -> impl Iterator<Item = &ConsumerMember> {
        self.members.values()
    }

    pub fn has_members(&self) -> bool {
        !self.members.is_empty()
    }

    pub fn target_of(&self, member_id: &str) -> Assignment {
        self.targets.get(member_id).cloned().unwrap_or_default()
    }

    /// The names of the existing topics the members subscribe to.
    pub fn subscribed_topics(&self) -> impl Iterator<Item = &str> {
        self.subscribed.keys().map(String::as_str)
    }

    /// The assignor of the current target, or the one the next target would use.
    pub fn assignor(&self, config: &ConsumerConfig) -> Assignor {
        self.assignor
            .unwrap_or_else(|| self.preferred_assignor(config))
    }

    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch > self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self
            .members
            .values()
            .all(|m| m.is_reconciled_to(self.assignment_epoch))
        {
            ConsumerGroupState::Stable
        } else {
            ConsumerGroupState::Reconciling
        }
    }

    /// Handles a validated heartbeat (joining, heartbeating, acknowledging or leaving).
    pub fn heartbeat(
        &mut self,
        request: &Heartbeat,
        image: &TopicImage,
        now: Instant,
        config: &ConsumerConfig,
    ) -> Result<HeartbeatOutcome, HeartbeatError> {
        if request.is_leave() {
            return self.leave(request, config);
        }
        let assignor = match request.server_assignor.as_deref() {
            None | Some("") => None,
            Some(name) => Some(
                Assignor::from_name(name)
                    .filter(|a| config.assignors.contains(a))
                    .ok_or_else(|| {
                        let offered: Vec<&str> =
                            config.assignors.iter().map(|a| a.name()).collect();
                        HeartbeatError::UnsupportedAssignor(name.to_owned(), offered.join(", "))
                    })?,
            ),
        };
        let regex = match request.subscribed_topic_regex.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(source) => Some(Some(TopicRegex::new(source).map_err(|e| {
                HeartbeatError::InvalidRegex(source.to_owned(), e.to_string())
            })?)),
        };
        let (member_id, mut changed) = self.member_for(request, now)?;
        let Some(member) = self.members.get_mut(&member_id) else {
            return Err(HeartbeatError::UnknownMember(member_id));
        };
        if let Some(names) = &request.subscribed_topic_names {
            let names: BTreeSet<String> = names.iter().cloned().collect();
            if member.topic_names != names {
                member.topic_names = names;
                changed = true;
            }
        }
        if let Some(regex) = regex {
            if member.topic_regex != regex {
                member.topic_regex = regex;
                changed = true;
            }
        }
        if member.regex_visible != request.describable {
            let before = member.regex_topics(image);
            member.regex_visible.clone_from(&request.describable);
            if member.regex_topics(image) != before {
                changed = true;
            }
        }
        if assignor.is_some() && member.assignor != assignor {
            member.assignor = assignor;
            changed = true;
        }
        if let Ok(ms) = u64::try_from(request.rebalance_timeout_ms) {
            member.rebalance_timeout = Duration::from_millis(ms);
        }
        if request.rack_id.is_some() {
            member.rack_id.clone_from(&request.rack_id);
        }
        member.client_id.clone_from(&request.client_id);
        member.client_host.clone_from(&request.client_host);
        member.last_heartbeat = now;
        let before = member.assigned.clone();

        if self.refresh_subscriptions(image) {
            changed = true;
        }
        if changed {
            self.group_epoch += 1;
            tracing::info!(
                member = %member_id,
                epoch = self.group_epoch,
                "consumer group epoch bumped"
            );
        }
        self.update_target(config);
        self.reconcile(&member_id, request.owned.as_ref(), now);

        let Some(member) = self.members.get(&member_id) else {
            return Err(HeartbeatError::UnknownMember(member_id));
        };
        let assignment =
            (request.is_full() || member.assigned != before).then(|| member.assigned.clone());
        Ok(HeartbeatOutcome {
            member_id: member_id.clone(),
            member_epoch: member.epoch,
            heartbeat_interval_ms: millis(config.heartbeat_interval),
            assignment,
        })
    }

    /// The member a heartbeat is from, joining or replacing one as the request asks; and
    /// whether that changes the group (a new member).
    fn member_for(
        &mut self,
        request: &Heartbeat,
        now: Instant,
    ) -> Result<(String, bool), HeartbeatError> {
        if request.member_epoch != 0 {
            let member = self
                .members
                .get(&request.member_id)
                .ok_or_else(|| HeartbeatError::UnknownMember(request.member_id.clone()))?;
            if let Some(instance) = &request.instance_id {
                match self.static_members.get(instance) {
                    None => return Err(HeartbeatError::UnknownMember(request.member_id.clone())),
                    Some(id) if id != &request.member_id => {
                        return Err(HeartbeatError::FencedInstance(instance.clone()))
                    }
                    Some(_) => {}
                }
            }
            check_epoch(member, request.member_epoch, request.owned.as_ref())?;
            return Ok((member.id.clone(), false));
        }
        let id = if request.member_id.is_empty() {
            Uuid::new_v4().to_string()
        } else {
            request.member_id.clone()
        };
        if let Some(instance) = &request.instance_id {
            if let Some(existing) = self.static_members.get(instance).cloned() {
                if existing != id {
                    self.replace_static(instance, &existing, &id)?;
                    return Ok((id, false));
                }
            }
        }
        if let Some(member) = self.members.get_mut(&id) {
            // A member rejoining (after being fenced, or a static member coming back under
            // its id): its partitions are reconciled again from epoch 0 if it had left.
            if member.epoch == STATIC_LEAVE_EPOCH {
                member.epoch = 0;
            }
            return Ok((id, false));
        }
        let mut member = ConsumerMember::new(&id, now);
        member.instance_id.clone_from(&request.instance_id);
        if let Some(instance) = &request.instance_id {
            self.static_members.insert(instance.clone(), id.clone());
        }
        tracing::info!(member = %id, "member joins consumer group");
        self.members.insert(id.clone(), member);
        Ok((id, true))
    }

    /// A static member rejoining under a new member id takes over the old one's partitions
    /// and target, if the old one left (epoch -2); otherwise the instance id is in use.
    fn replace_static(
        &mut self,
        instance: &str,
        old_id: &str,
        new_id: &str,
    ) -> Result<(), HeartbeatError> {
        let left = self
            .members
            .get(old_id)
            .is_some_and(|m| m.epoch == STATIC_LEAVE_EPOCH);
        if !left {
            return Err(HeartbeatError::UnreleasedInstance(instance.to_owned()));
        }
        let Some(mut member) = self.members.remove(old_id) else {
            return Err(HeartbeatError::UnreleasedInstance(instance.to_owned()));
        };
        member.id = new_id.to_owned();
        member.epoch = 0;
        member.previous_epoch = -1;
        member.state = MemberState::Stable;
        if let Some(target) = self.targets.remove(old_id) {
            self.targets.insert(new_id.to_owned(), target);
        }
        self.members.insert(new_id.to_owned(), member);
        self.static_members
            .insert(instance.to_owned(), new_id.to_owned());
        tracing::info!(old = %old_id, new = %new_id, instance, "static member rejoins");
        Ok(())
    }

    fn leave(
        &mut self,
        request: &Heartbeat,
        config: &ConsumerConfig,
    ) -> Result<HeartbeatOutcome, HeartbeatError> {
        let id = match &request.instance_id {
            Some(instance) => {
                let id = self
                    .static_members
                    .get(instance)
                    .cloned()
                    .ok_or_else(|| HeartbeatError::UnknownMember(request.member_id.clone()))?;
                if id != request.member_id {
                    return Err(HeartbeatError::FencedInstance(instance.clone()));
                }
                id
            }
            None => request.member_id.clone(),
        };
        if !self.members.contains_key(&id) {
            return Err(HeartbeatError::UnknownMember(id));
        }
        if request.member_epoch == STATIC_LEAVE_EPOCH {
            // Gone for now: the partitions stay with it (nobody else gets them) until it
            // rejoins or its session expires; what it was revoking is released.
            if let Some(member) = self.members.get_mut(&id) {
                member.epoch = STATIC_LEAVE_EPOCH;
                member.pending_revocation.clear();
                member.revocation_deadline = None;
                member.state = MemberState::Stable;
            }
            tracing::info!(member = %id, "static member leaves for now");
        } else {
            self.remove(&id, config, "left");
        }
        Ok(HeartbeatOutcome {
            member_id: id,
            member_epoch: request.member_epoch,
            heartbeat_interval_ms: 0,
            assignment: None,
        })
    }

    /// Removes a member; its partitions are free at once and the target is recomputed.
    fn remove(&mut self, id: &str, config: &ConsumerConfig, why: &str) {
        let Some(member) = self.members.remove(id) else {
            return;
        };
        if let Some(instance) = &member.instance_id {
            if self.static_members.get(instance).is_some_and(|m| m == id) {
                self.static_members.remove(instance);
            }
        }
        self.targets.remove(id);
        // Topics only the removed member subscribed to drop out of the subscription.
        let members = &self.members;
        self.subscribed
            .retain(|name, topic| members.values().any(|m| m.subscribes(name, topic)));
        self.group_epoch += 1;
        tracing::info!(member = %id, why, epoch = self.group_epoch, "member removed from consumer group");
        self.update_target(config);
    }

    /// Resolves the members' subscriptions against the topics that exist now; returns
    /// whether that changed what the group subscribes to.
    fn refresh_subscriptions(&mut self, image: &TopicImage) -> bool {
        let resolved: BTreeMap<String, TopicInfo> = image
            .by_name
            .iter()
            .filter(|(name, topic)| self.members.values().any(|m| m.subscribes(name, topic)))
            .map(|(name, topic)| (name.clone(), *topic))
            .collect();
        if resolved == self.subscribed {
            return false;
        }
        self.subscribed = resolved;
        true
    }

    /// The assignor most members ask for (ties to the order of `group.consumer.assignors`),
    /// or the default when none asks.
    fn preferred_assignor(&self, config: &ConsumerConfig) -> Assignor {
        config
            .assignors
            .iter()
            .copied()
            .map(|a| {
                let votes = self
                    .members
                    .values()
                    .filter(|m| m.assignor == Some(a))
                    .count();
                (a, votes)
            })
            .filter(|&(_, votes)| votes > 0)
            .fold(
                None,
                |best: Option<(Assignor, usize)>, (a, votes)| match best {
                    Some((_, most)) if most >= votes => best,
                    _ => Some((a, votes)),
                },
            )
            .map_or_else(|| config.default_assignor(), |(a, _)| a)
    }

    /// Recomputes the target assignment if the group epoch moved past it.
    fn update_target(&mut self, config: &ConsumerConfig) {
        if self.assignment_epoch >= self.group_epoch {
            return;
        }
        let assignor = self.preferred_assignor(config);
        let specs: Vec<MemberSpec> = self
            .members
            .values()
            .map(|m| MemberSpec {
                id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                topics: self
                    .subscribed
                    .iter()
                    .filter(|(name, topic)| m.subscribes(name, topic))
                    .map(|(_, topic)| topic.id)
                    .collect(),
                current: self.target_of(&m.id),
            })
            .collect();
        let topics: BTreeMap<Uuid, i32> = self
            .subscribed
            .values()
            .map(|t| (t.id, t.partitions))
            .collect();
        self.targets = assignor.assign(&specs, &topics);
        self.assignment_epoch = self.group_epoch;
        self.assignor = Some(assignor);
        tracing::debug!(
            epoch = self.assignment_epoch,
            assignor = assignor.name(),
            "consumer group target assignment computed"
        );
    }

    fn reconcile(&mut self, id: &str, owned: Option<&Assignment>, now: Instant) {
        let target = self.target_of(id);
        let taken: BTreeSet<TopicPartition> = self
            .members
            .values()
            .filter(|m| m.id != id)
            .flat_map(|m| m.assigned.iter().chain(&m.pending_revocation))
            .copied()
            .collect();
        let epoch = self.assignment_epoch;
        if let Some(member) = self.members.get_mut(id) {
            if member.epoch == STATIC_LEAVE_EPOCH {
                return;
            }
            if member.reconcile(epoch, &target, owned, &taken, now) {
                tracing::debug!(
                    member = %id,
                    epoch = member.epoch,
                    state = member.state.name(),
                    assigned = member.assigned.len(),
                    revoking = member.pending_revocation.len(),
                    "member reconciled"
                );
            }
        }
    }

    /// Removes members whose session expired, or who did not acknowledge a revocation
    /// within their rebalance timeout; returns their ids.
    pub fn expire(&mut self, now: Instant, config: &ConsumerConfig) -> Vec<String> {
        let gone: Vec<(String, &'static str)> = self
            .members
            .values()
            .filter_map(|m| {
                if now.saturating_duration_since(m.last_heartbeat) > config.session_timeout {
                    Some((m.id.clone(), "session expired"))
                } else if m.revocation_deadline.is_some_and(|d| now >= d) {
                    Some((m.id.clone(), "revocation not acknowledged in time"))
                } else {
                    None
                }
            })
            .collect();
        for (id, why) in &gone {
            self.remove(id, config, why);
        }
        gone.into_iter().map(|(id, _)| id).collect()
    }

    /// Whether `member_id` at `epoch` may commit offsets (Kafka's rules for consumer groups).
    pub fn check_commit(
        &self,
        member_id: &str,
        epoch: i32,
        kind: CommitKind,
    ) -> Result<(), HeartbeatError> {
        // Outside the group (an admin client, or a consumer assigning itself partitions):
        // allowed while the group has no members.
        if epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        let member = self
            .members
            .get(member_id)
            .ok_or_else(|| HeartbeatError::UnknownMember(member_id.to_owned()))?;
        if matches!(kind, CommitKind::OffsetCommit { version } if version < 9) {
            return Err(HeartbeatError::OldCommitVersion);
        }
        if epoch != member.epoch {
            return Err(HeartbeatError::StaleEpoch {
                received: epoch,
                current: member.epoch,
            });
        }
        Ok(())
    }

    /// Whether OffsetFetch (v9+) may read for `member_id` at `epoch`; a request naming no
    /// member reads as an outsider.
    pub fn check_fetch(&self, member_id: Option<&str>, epoch: i32) -> Result<(), HeartbeatError> {
        let Some(member_id) = member_id else {
            return Ok(());
        };
        if epoch < 0 && member_id.is_empty() {
            return Ok(());
        }
        let member = self
            .members
            .get(member_id)
            .ok_or_else(|| HeartbeatError::UnknownMember(member_id.to_owned()))?;
        if epoch != member.epoch {
            return Err(HeartbeatError::StaleEpoch {
                received: epoch,
                current: member.epoch,
            });
        }
        Ok(())
    }
}

/// Kafka's epoch check: the member's epoch, or its previous one if the heartbeat reports
/// owning no more than the member has now (the answer that moved it on was lost).
fn check_epoch(
    member: &ConsumerMember,
    received: i32,
    owned: Option<&Assignment>,
) -> Result<(), HeartbeatError> {
    let fenced = || HeartbeatError::FencedEpoch {
        received,
        current: member.epoch,
    };
    if received > member.epoch {
        return Err(fenced());
    }
    if received < member.epoch {
        let lost_answer = received == member.previous_epoch
            && owned.is_some_and(|o| o.is_subset(&member.assigned));
        if !lost_answer {
            return Err(fenced());
        }
    }
    Ok(())
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests;
