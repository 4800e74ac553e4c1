//! Share-group membership (ShareGroupHeartbeat) and the server-side assignor.
//!
//! Unlike a consumer group, a share group does not give partitions exclusively: records are
//! handed out one acquisition at a time, so several members may read one partition and an
//! assignment can change at once, with no revocation handshake. Each member's epoch is the
//! group epoch it was last told; a heartbeat carrying any other epoch is fenced.

use std::collections::{BTreeMap, BTreeSet};

/// A member of a share group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareMember {
    pub epoch: i32,
    pub client_id: String,
    pub client_host: String,
    pub rack: Option<String>,
    pub subscribed: BTreeSet<String>,
    /// Topic → partitions, as last computed.
    pub assignment: BTreeMap<String, Vec<i32>>,
    pub last_heartbeat_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShareGroup {
    pub epoch: i32,
    pub members: BTreeMap<String, ShareMember>,
}

impl ShareGroup {
    pub fn state(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else {
            "Stable"
        }
    }

    /// Recomputes every member's assignment from subscriptions and partition counts; bumps
    /// the group epoch when anything changed, or when `membership_changed` (a member joined,
    /// left or changed its subscription). Returns whether it did.
    pub fn reassign(
        &mut self,
        membership_changed: bool,
        partitions_of: impl Fn(&str) -> Option<i32>,
    ) -> bool {
        let target = assign(&self.members, partitions_of);
        let changed = membership_changed
            || self
                .members
                .iter()
                .any(|(id, m)| target.get(id) != Some(&m.assignment));
        if changed {
            self.epoch += 1;
            for (id, member) in &mut self.members {
                member.assignment = target.get(id).cloned().unwrap_or_default();
            }
        }
        changed
    }
}

/// The simple share assignor: for each subscribed topic, with `m` subscribed members and
/// `p` partitions, every partition gets at least one member and every member at least one
/// partition; when members outnumber partitions, partitions are shared round-robin.
/// Deterministic: members in id order, partitions in index order.
pub fn assign(
    members: &BTreeMap<String, ShareMember>,
    partitions_of: impl Fn(&str) -> Option<i32>,
) -> BTreeMap<String, BTreeMap<String, Vec<i32>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<i32>>> = members
        .keys()
        .map(|id| (id.clone(), BTreeMap::new()))
        .collect();
    let topics: BTreeSet<&String> = members.values().flat_map(|m| &m.subscribed).collect();
    for topic in topics {
        let Some(count) = partitions_of(topic).filter(|&c| c > 0) else {
            continue;
        };
        let subscribers: Vec<&String> = members
            .iter()
            .filter(|(_, m)| m.subscribed.contains(topic))
            .map(|(id, _)| id)
            .collect();
        let pairs: Vec<(usize, i32)> = if subscribers.len() >= count as usize {
            (0..subscribers.len())
                .map(|i| (i, (i % count as usize) as i32))
                .collect()
        } else {
            (0..count)
                .map(|p| (p as usize % subscribers.len(), p))
                .collect()
        };
        for (member, partition) in pairs {
            out.entry(subscribers[member].clone())
                .or_default()
                .entry(topic.clone())
                .or_default()
                .push(partition);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn member(topics: &[&str]) -> ShareMember {
        ShareMember {
            epoch: 0,
            client_id: String::new(),
            client_host: String::new(),
            rack: None,
            subscribed: topics.iter().map(|t| t.to_string()).collect(),
            assignment: BTreeMap::new(),
            last_heartbeat_ms: 0,
        }
    }

    #[test]
    fn members_share_a_single_partition_and_split_many() {
        let mut members = BTreeMap::new();
        members.insert("a".to_owned(), member(&["one", "six"]));
        members.insert("b".to_owned(), member(&["one", "six"]));
        let partitions = |t: &str| match t {
            "one" => Some(1),
            "six" => Some(6),
            _ => None,
        };
        let out = assign(&members, partitions);
        assert_eq!(out["a"]["one"], vec![0]);
        assert_eq!(out["b"]["one"], vec![0]);
        assert_eq!(out["a"]["six"], vec![0, 2, 4]);
        assert_eq!(out["b"]["six"], vec![1, 3, 5]);
    }

    #[test]
    fn reassignment_bumps_the_epoch_only_on_change() {
        let mut group = ShareGroup::default();
        group.members.insert("a".to_owned(), member(&["t"]));
        assert!(group.reassign(true, |_| Some(2)));
        assert_eq!(group.epoch, 1);
        assert!(!group.reassign(false, |_| Some(2)));
        assert_eq!(group.epoch, 1);
        assert!(
            group.reassign(false, |_| Some(3)),
            "new partitions are assigned"
        );
        assert_eq!(group.members["a"].assignment["t"], vec![0, 1, 2]);
        group.members.insert("b".to_owned(), member(&["t"]));
        assert!(group.reassign(false, |_| Some(3)));
        assert_eq!(group.members["b"].assignment["t"], vec![1]);
    }
}
