//! One member of a consumer group, and how its assignment converges on its target.
//!
//! A member owns `assigned` at `epoch`. When the group's target assignment moves on, the
//! member reconciles at its next heartbeat ([`ConsumerMember::reconcile`]):
//!
//! * partitions it owns that its target no longer holds must be revoked first: the member
//!   keeps its epoch, is told to give them up (they leave `assigned`, wait in
//!   `pending_revocation`) and stays in [`MemberState::UnrevokedPartitions`] until a
//!   heartbeat's owned partitions no longer include any of them;
//! * then it moves to the target epoch and gets the target's partitions that nobody else
//!   holds; those another member still owns or is revoking wait
//!   ([`MemberState::UnreleasedPartitions`]) and are handed over at a later heartbeat, once
//!   released.
//!
//! So a partition never has two owners: it is handed to its new member only after the
//! previous one acknowledged the revocation.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use super::assignor::Assignor;
use super::{Assignment, TopicInfo, TopicPartition};

/// Where a member stands in reconciling with its target assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// It owns what its target gives it at the target's epoch (or is about to be told of a
    /// newer target).
    Stable,
    /// It was asked to revoke partitions and has not yet acknowledged.
    UnrevokedPartitions,
    /// It is at the target epoch but waits for partitions others have yet to release.
    UnreleasedPartitions,
}

impl MemberState {
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Stable => "stable",
            MemberState::UnrevokedPartitions => "unrevoked_partitions",
            MemberState::UnreleasedPartitions => "unreleased_partitions",
        }
    }
}

/// A compiled topic regular expression (matched against whole topic names), kept with its
/// source for comparison and display.
#[derive(Debug, Clone)]
pub struct TopicRegex {
    pub source: String,
    regex: regex::Regex,
}

/// The largest compiled form of a subscription's regular expression, in bytes.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl TopicRegex {
    pub fn new(source: &str) -> Result<TopicRegex, regex::Error> {
        let regex = regex::RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(REGEX_SIZE_LIMIT)
            .build()?;
        Ok(TopicRegex {
            source: source.to_owned(),
            regex,
        })
    }

    pub fn is_match(&self, topic: &str) -> bool {
        self.regex.is_match(topic)
    }
}

impl PartialEq for TopicRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

#[derive(Debug, Clone)]
pub struct ConsumerMember {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Topics subscribed by name (whether they exist or not).
    pub topic_names: BTreeSet<String>,
    /// Topics subscribed by pattern; internal topics never match.
    pub topic_regex: Option<TopicRegex>,
    /// The topics the pattern may match: those the member could DESCRIBE at its last
    /// heartbeat (`None`: no authorizer, any topic). A topic created since is left out until
    /// the member's next heartbeat.
    pub regex_visible: Option<BTreeSet<String>>,
    /// The assignor the member asked for, if any.
    pub assignor: Option<Assignor>,
    pub rebalance_timeout: Duration,
    /// 0 while joining; -2 for a static member that left for now.
    pub epoch: i32,
    pub previous_epoch: i32,
    pub state: MemberState,
    /// What the member owns (and was told it owns).
    pub assigned: Assignment,
    /// What it was asked to give up and has not yet acknowledged.
    pub pending_revocation: Assignment,
    pub last_heartbeat: Instant,
    /// When an unacknowledged revocation gets the member removed.
    pub revocation_deadline: Option<Instant>,
}

impl ConsumerMember {
    pub fn new(id: &str, now: Instant) -> ConsumerMember {
        ConsumerMember {
            id: id.to_owned(),
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            topic_names: BTreeSet::new(),
            topic_regex: None,
            regex_visible: None,
            assignor: None,
            rebalance_timeout: Duration::ZERO,
            epoch: 0,
            previous_epoch: -1,
            state: MemberState::Stable,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
            last_heartbeat: now,
            revocation_deadline: None,
        }
    }

    /// Whether the member subscribes to this existing topic.
    pub fn subscribes(&self, name: &str, topic: &TopicInfo) -> bool {
        self.topic_names.contains(name) || self.regex_subscribes(name, topic)
    }

    /// Whether the member's regular expression gives it this existing topic.
    fn regex_subscribes(&self, name: &str, topic: &TopicInfo) -> bool {
        !topic.internal
            && self.regex_visible.as_ref().is_none_or(|v| v.contains(name))
            && self.topic_regex.as_ref().is_some_and(|r| r.is_match(name))
    }

    /// The existing topics the member's regular expression gives it.
    pub fn regex_topics<'i>(&self, image: &'i super::TopicImage) -> BTreeSet<&'i str> {
        if self.topic_regex.is_none() {
            return BTreeSet::new();
        }
        image
            .by_name
            .iter()
            .filter(|(name, topic)| self.regex_subscribes(name, topic))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Whether the member holds the partition, assigned or still revoking.
    pub fn holds(&self, tp: &TopicPartition) -> bool {
        self.assigned.contains(tp) || self.pending_revocation.contains(tp)
    }

    /// Whether it owns what the target of `epoch` gives it.
    pub fn is_reconciled_to(&self, epoch: i32) -> bool {
        self.state == MemberState::Stable && self.epoch == epoch
    }

    /// Moves the member towards `target` (of `target_epoch`) as far as it can now. `owned` is
    /// what the heartbeat says the member owns (`None`: not said); `taken` what other members
    /// hold. Returns whether anything changed.
    pub fn reconcile(
        &mut self,
        target_epoch: i32,
        target: &Assignment,
        owned: Option<&Assignment>,
        taken: &BTreeSet<TopicPartition>,
        now: Instant,
    ) -> bool {
        let due = match self.state {
            MemberState::Stable => self.epoch != target_epoch,
            // Revoked partitions count as released once the member stops reporting them; a
            // heartbeat that does not report its partitions proves nothing.
            MemberState::UnrevokedPartitions => {
                owned.is_some_and(|o| o.is_disjoint(&self.pending_revocation))
            }
            MemberState::UnreleasedPartitions => true,
        };
        if !due {
            return false;
        }
        let before = (
            self.epoch,
            self.state,
            self.assigned.clone(),
            self.pending_revocation.clone(),
        );
        let keep: Assignment = self.assigned.intersection(target).copied().collect();
        let revoke: Assignment = self.assigned.difference(target).copied().collect();
        let still_owned = owned.is_none_or(|o| !o.is_disjoint(&revoke));
        if !revoke.is_empty() && still_owned {
            // Revoke first, at the current epoch.
            self.assigned = keep;
            self.pending_revocation = revoke;
            self.state = MemberState::UnrevokedPartitions;
            self.revocation_deadline = Some(now + self.rebalance_timeout);
        } else {
            let wanted: Vec<TopicPartition> = target.difference(&self.assigned).copied().collect();
            let free: Vec<TopicPartition> = wanted
                .iter()
                .filter(|tp| !taken.contains(tp))
                .copied()
                .collect();
            self.state = if free.len() < wanted.len() {
                MemberState::UnreleasedPartitions
            } else {
                MemberState::Stable
            };
            self.assigned = keep;
            self.assigned.extend(free);
            self.pending_revocation.clear();
            self.revocation_deadline = None;
            if self.epoch != target_epoch {
                self.previous_epoch = self.epoch;
                self.epoch = target_epoch;
            }
        }
        before
            != (
                self.epoch,
                self.state,
                self.assigned.clone(),
                self.pending_revocation.clone(),
            )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use uuid::Uuid;

    use super::*;

    fn tps(partitions: &[i32]) -> Assignment {
        partitions
            .iter()
            .map(|&p| (Uuid::from_u128(1), p))
            .collect()
    }

    #[test]
    fn revocation_comes_first_and_holds_until_acknowledged() {
        let now = Instant::now();
        let mut m = ConsumerMember::new("a", now);
        m.epoch = 1;
        m.assigned = tps(&[0, 1, 2, 3]);
        m.rebalance_timeout = Duration::from_secs(5);
        let target = tps(&[0, 1, 4]);
        let none = BTreeSet::new();

        assert!(m.reconcile(2, &target, None, &none, now));
        assert_eq!(m.state, MemberState::UnrevokedPartitions);
        assert_eq!(m.epoch, 1, "the epoch waits for the revocation");
        assert_eq!(m.assigned, tps(&[0, 1]));
        assert_eq!(m.pending_revocation, tps(&[2, 3]));
        assert_eq!(m.revocation_deadline, Some(now + Duration::from_secs(5)));

        // Not reported, or still reported: nothing moves.
        assert!(!m.reconcile(2, &target, None, &none, now));
        assert!(!m.reconcile(2, &target, Some(&tps(&[0, 1, 3])), &none, now));
        // Acknowledged, but partition 4 is still held by another member.
        let taken = tps(&[4]);
        assert!(m.reconcile(2, &target, Some(&tps(&[0, 1])), &taken, now));
        assert_eq!(m.state, MemberState::UnreleasedPartitions);
        assert_eq!((m.epoch, m.previous_epoch), (2, 1));
        assert_eq!(m.assigned, tps(&[0, 1]));
        assert!(m.pending_revocation.is_empty());
        // Released: the member gets it and is stable.
        assert!(m.reconcile(2, &target, None, &none, now));
        assert_eq!(m.state, MemberState::Stable);
        assert_eq!(m.assigned, target);
        assert!(m.is_reconciled_to(2));
        assert!(!m.reconcile(2, &target, None, &none, now));
    }

    #[test]
    fn partitions_already_given_up_need_no_revocation_round() {
        let now = Instant::now();
        let mut m = ConsumerMember::new("a", now);
        m.epoch = 3;
        m.assigned = tps(&[0, 1]);
        assert!(m.reconcile(4, &tps(&[0]), Some(&tps(&[0])), &BTreeSet::new(), now));
        assert_eq!((m.state, m.epoch), (MemberState::Stable, 4));
        assert_eq!(m.assigned, tps(&[0]));
    }

    #[test]
    fn regexes_match_whole_names_and_skip_internal_topics() {
        let regex = TopicRegex::new("orders-.*").unwrap();
        assert!(regex.is_match("orders-eu"));
        assert!(!regex.is_match("old-orders-eu"));
        assert!(TopicRegex::new("(unclosed").is_err());
        let mut m = ConsumerMember::new("a", Instant::now());
        m.topic_regex = Some(TopicRegex::new("_.*").unwrap());
        let internal = TopicInfo {
            id: Uuid::from_u128(1),
            partitions: 1,
            internal: true,
        };
        assert!(!m.subscribes("__consumer_offsets", &internal));
        m.topic_names.insert("__consumer_offsets".into());
        assert!(m.subscribes("__consumer_offsets", &internal));
    }
}
