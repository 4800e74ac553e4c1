//! The server-side assignors of the consumer group protocol.
//!
//! An assignor turns the members (with the topics each subscribes to and the partitions the
//! last target gave it) and the subscribed topics (with their partition counts) into a new
//! target assignment. It is a pure function: the same input always gives the same output.
//!
//! * `uniform` (the default): every partition to one member subscribed to its topic, as
//!   evenly as the subscriptions allow, moving as few partitions as it can. Members keep
//!   what they had (as long as it is still theirs to have), unowned partitions go to the
//!   least loaded eligible member, and then single partitions move from the most loaded to
//!   the least loaded member while their counts differ by two or more. With equal
//!   subscriptions the counts differ by at most one and a member that joins or leaves moves
//!   only the partitions it takes or gives up. With differing subscriptions the result is
//!   balanced as far as single moves can take it.
//! * `range`: per topic, the members subscribed to it, ordered by instance id (member id
//!   for members without one), get contiguous ranges of partitions, the first ones one more
//!   when the count does not divide. Members with the same subscription get the same
//!   partition numbers of every topic of the same size (co-partitioning). The result
//!   depends on membership only, not on the previous assignment.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::{Assignment, TopicPartition};

/// A server-side assignor, chosen by a member's `ServerAssignor` field
/// (`group.remote.assignor` in librdkafka, `group.remote.assignor` in the Java client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Assignor {
    Uniform,
    Range,
}

impl Assignor {
    /// Every assignor, the default first.
    pub const ALL: [Assignor; 2] = [Assignor::Uniform, Assignor::Range];

    pub fn name(self) -> &'static str {
        match self {
            Assignor::Uniform => "uniform",
            Assignor::Range => "range",
        }
    }

    pub fn from_name(name: &str) -> Option<Assignor> {
        Assignor::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The target assignment of every member (members without partitions included).
    pub fn assign(
        self,
        members: &[MemberSpec],
        topics: &BTreeMap<Uuid, i32>,
    ) -> BTreeMap<String, Assignment> {
        match self {
            Assignor::Uniform => uniform(members, topics),
            Assignor::Range => range(members, topics),
        }
    }
}

/// One member as an assignor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSpec {
    pub id: String,
    pub instance_id: Option<String>,
    /// The ids of the existing topics it subscribes to.
    pub topics: BTreeSet<Uuid>,
    /// Its partitions in the previous target assignment.
    pub current: Assignment,
}

impl MemberSpec {
    fn may_own(&self, (topic, partition): TopicPartition, topics: &BTreeMap<Uuid, i32>) -> bool {
        self.topics.contains(&topic)
            && topics
                .get(&topic)
                .is_some_and(|&count| (0..count).contains(&partition))
    }
}

fn uniform(members: &[MemberSpec], topics: &BTreeMap<Uuid, i32>) -> BTreeMap<String, Assignment> {
    let mut owned: Vec<Assignment> = vec![Assignment::new(); members.len()];
    let mut taken: BTreeSet<TopicPartition> = BTreeSet::new();
    // Members keep what they had and may still have; a partition two members claim (which
    // a consistent previous target never has) stays with the first.
    for (member, spec) in members.iter().enumerate() {
        for &tp in &spec.current {
            if spec.may_own(tp, topics) && taken.insert(tp) {
                owned[member].insert(tp);
            }
        }
    }
    // Every other partition to the least loaded member that may own it.
    for (&topic, &count) in topics {
        for partition in 0..count {
            let tp = (topic, partition);
            if taken.contains(&tp) {
                continue;
            }
            let least = (0..members.len())
                .filter(|&m| members[m].may_own(tp, topics))
                .min_by_key(|&m| (owned[m].len(), m));
            if let Some(m) = least {
                owned[m].insert(tp);
                taken.insert(tp);
            }
        }
    }
    // Single moves from a member to one holding at least two fewer, while there is one.
    // Each move lowers the sum of squared counts, so this ends.
    while let Some((from, to, tp)) = next_move(members, &owned, topics) {
        owned[from].remove(&tp);
        owned[to].insert(tp);
    }
    members
        .iter()
        .zip(owned)
        .map(|(spec, assignment)| (spec.id.clone(), assignment))
        .collect()
}

/// A partition that can move from a more loaded member to one holding at least two fewer:
/// the least loaded receiver first, the most loaded giver first, the giver's last partition.
fn next_move(
    members: &[MemberSpec],
    owned: &[Assignment],
    topics: &BTreeMap<Uuid, i32>,
) -> Option<(usize, usize, TopicPartition)> {
    let mut by_load: Vec<usize> = (0..members.len()).collect();
    by_load.sort_by_key(|&m| (owned[m].len(), m));
    for &to in &by_load {
        for &from in by_load.iter().rev() {
            if owned[from].len() < owned[to].len() + 2 {
                break;
            }
            let movable = owned[from]
                .iter()
                .rev()
                .find(|&&tp| members[to].may_own(tp, topics));
            if let Some(&tp) = movable {
                return Some((from, to, tp));
            }
        }
    }
    None
}

fn range(members: &[MemberSpec], topics: &BTreeMap<Uuid, i32>) -> BTreeMap<String, Assignment> {
    let mut ordered: Vec<&MemberSpec> = members.iter().collect();
    ordered.sort_by(|a, b| {
        let key = |m: &'_ MemberSpec| m.instance_id.as_deref().unwrap_or(&m.id).to_owned();
        key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id))
    });
    let mut result: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.id.clone(), Assignment::new()))
        .collect();
    for (&topic, &count) in topics {
        let subscribers: Vec<&&MemberSpec> = ordered
            .iter()
            .filter(|m| m.topics.contains(&topic))
            .collect();
        let Ok(n) = i32::try_from(subscribers.len()) else {
            continue;
        };
        if n == 0 || count <= 0 {
            continue;
        }
        let (quota, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, member) in (0..).zip(&subscribers) {
            let length = quota + i32::from(i < extra);
            if let Some(assignment) = result.get_mut(&member.id) {
                assignment.extend((next..next + length).map(|p| (topic, p)));
            }
            next += length;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use proptest::prelude::*;

    use super::*;

    fn topic(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn member(id: &str, topics: &[u128], current: &[(u128, i32)]) -> MemberSpec {
        MemberSpec {
            id: id.to_owned(),
            instance_id: None,
            topics: topics.iter().map(|&t| topic(t)).collect(),
            current: current.iter().map(|&(t, p)| (topic(t), p)).collect(),
        }
    }

    fn topics(counts: &[(u128, i32)]) -> BTreeMap<Uuid, i32> {
        counts.iter().map(|&(t, n)| (topic(t), n)).collect()
    }

    fn partitions(assignment: &Assignment) -> Vec<i32> {
        assignment.iter().map(|&(_, p)| p).collect()
    }

    /// Every partition of every topic someone subscribes to goes to exactly one member.
    fn assert_complete(
        result: &BTreeMap<String, Assignment>,
        members: &[MemberSpec],
        topics: &BTreeMap<Uuid, i32>,
    ) {
        let mut seen = BTreeSet::new();
        for (id, assignment) in result {
            let spec = members.iter().find(|m| &m.id == id).unwrap();
            for &tp in assignment {
                assert!(spec.may_own(tp, topics), "{id} got {tp:?}");
                assert!(seen.insert(tp), "{tp:?} assigned twice");
            }
        }
        for (&t, &count) in topics {
            if members.iter().any(|m| m.topics.contains(&t)) {
                for p in 0..count {
                    assert!(seen.contains(&(t, p)), "{t}-{p} unassigned");
                }
            }
        }
    }

    fn spread(result: &BTreeMap<String, Assignment>) -> usize {
        let counts: Vec<usize> = result.values().map(BTreeSet::len).collect();
        counts.iter().max().unwrap_or(&0) - counts.iter().min().unwrap_or(&0)
    }

    #[test]
    fn names_round_trip_and_uniform_is_the_default() {
        assert_eq!(Assignor::ALL[0], Assignor::Uniform);
        for a in Assignor::ALL {
            assert_eq!(Assignor::from_name(a.name()), Some(a));
        }
        assert_eq!(Assignor::from_name("roundrobin"), None);
    }

    #[test]
    fn uniform_balances_and_a_joining_member_takes_only_its_share() {
        let t = topics(&[(1, 6)]);
        let alone = [member("a", &[1], &[])];
        let first = Assignor::Uniform.assign(&alone, &t);
        assert_eq!(partitions(&first["a"]), [0, 1, 2, 3, 4, 5]);

        let two = [
            member(
                "a",
                &[1],
                &first["a"].iter().map(|&(_, p)| (1, p)).collect::<Vec<_>>(),
            ),
            member("b", &[1], &[]),
        ];
        let second = Assignor::Uniform.assign(&two, &t);
        assert_complete(&second, &two, &t);
        assert_eq!(second["a"].len(), 3);
        assert_eq!(second["b"].len(), 3);
        assert!(
            second["a"].is_subset(&first["a"]),
            "a only gives up partitions"
        );
    }

    #[test]
    fn uniform_hands_a_leaving_members_partitions_to_the_others() {
        let t = topics(&[(1, 3), (2, 3)]);
        let members = [
            member("a", &[1, 2], &[(1, 0), (2, 0)]),
            member("b", &[1, 2], &[(1, 1), (2, 1)]),
            member("c", &[1, 2], &[(1, 2), (2, 2)]),
        ];
        let before = Assignor::Uniform.assign(&members, &t);
        assert_eq!(before["a"], members[0].current, "a balanced target is kept");
        let remaining = [members[0].clone(), members[1].clone()];
        let after = Assignor::Uniform.assign(&remaining, &t);
        assert_complete(&after, &remaining, &t);
        assert_eq!(spread(&after), 0);
        for m in &remaining {
            assert!(m.current.is_subset(&after[&m.id]), "{} keeps its own", m.id);
        }
    }

    #[test]
    fn uniform_respects_differing_subscriptions() {
        // b can only take topic 2: a ends up with topic 1, b with topic 2.
        let t = topics(&[(1, 2), (2, 2)]);
        let members = [member("a", &[1, 2], &[]), member("b", &[2], &[])];
        let result = Assignor::Uniform.assign(&members, &t);
        assert_complete(&result, &members, &t);
        assert_eq!(result["a"].len(), 2);
        assert!(result["b"].iter().all(|&(t, _)| t == topic(2)));
        // A topic nobody subscribes to is assigned to no one.
        let t = topics(&[(1, 2), (3, 4)]);
        let members = [member("a", &[1], &[])];
        let result = Assignor::Uniform.assign(&members, &t);
        assert_eq!(result["a"].len(), 2);
    }

    #[test]
    fn uniform_drops_partitions_that_no_longer_exist_or_are_unsubscribed() {
        let t = topics(&[(1, 2)]);
        let members = [member("a", &[1], &[(1, 0), (1, 5), (2, 0)])];
        let result = Assignor::Uniform.assign(&members, &t);
        assert_eq!(partitions(&result["a"]), [0, 1]);
    }

    #[test]
    fn range_gives_contiguous_ranges_in_member_order_and_copartitions() {
        let t = topics(&[(1, 7), (2, 7), (3, 2)]);
        let members = [
            member("m2", &[1, 2, 3], &[]),
            member("m1", &[1, 2, 3], &[]),
            member("m3", &[1, 2], &[]),
        ];
        let result = Assignor::Range.assign(&members, &t);
        assert_complete(&result, &members, &t);
        let of = |m: &str, t: u128| -> Vec<i32> {
            result[m]
                .iter()
                .filter(|(id, _)| *id == topic(t))
                .map(|&(_, p)| p)
                .collect()
        };
        // 7 partitions over 3 members: 3, 2, 2 in member order.
        assert_eq!(of("m1", 1), [0, 1, 2]);
        assert_eq!(of("m2", 1), [3, 4]);
        assert_eq!(of("m3", 1), [5, 6]);
        // Same numbers of the topic of the same size.
        for m in ["m1", "m2", "m3"] {
            assert_eq!(of(m, 1), of(m, 2));
        }
        // Topic 3 only over its two subscribers.
        assert_eq!(of("m1", 3), [0]);
        assert_eq!(of("m2", 3), [1]);
        assert!(of("m3", 3).is_empty());
    }

    #[test]
    fn range_orders_by_instance_id_when_there_is_one() {
        let t = topics(&[(1, 4)]);
        let mut a = member("zz", &[1], &[]);
        a.instance_id = Some("i0".into());
        let mut b = member("aa", &[1], &[]);
        b.instance_id = Some("i1".into());
        let result = Assignor::Range.assign(&[a, b], &t);
        assert_eq!(partitions(&result["zz"]), [0, 1]);
        assert_eq!(partitions(&result["aa"]), [2, 3]);
    }

    #[test]
    fn members_without_topics_get_nothing() {
        let t = topics(&[(1, 3)]);
        for assignor in Assignor::ALL {
            let result = assignor.assign(&[member("a", &[], &[])], &t);
            assert!(result["a"].is_empty());
            assert!(assignor.assign(&[], &t).is_empty());
        }
    }

    fn homogeneous(members: usize, topic_counts: &[i32]) -> (Vec<MemberSpec>, BTreeMap<Uuid, i32>) {
        let ids: Vec<u128> = (1..=topic_counts.len() as u128).collect();
        let t = ids
            .iter()
            .zip(topic_counts)
            .map(|(&t, &n)| (topic(t), n))
            .collect();
        let specs = (0..members)
            .map(|i| member(&format!("m{i}"), &ids, &[]))
            .collect();
        (specs, t)
    }

    /// The previous target becomes each member's current assignment.
    fn carry(members: &mut [MemberSpec], result: &BTreeMap<String, Assignment>) {
        for m in members {
            m.current = result.get(&m.id).cloned().unwrap_or_default();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn uniform_is_balanced_complete_and_moves_only_what_must_move(
            n in 1usize..7,
            counts in proptest::collection::vec(1i32..9, 1..4),
            leaver in 0usize..7,
        ) {
            let (mut members, t) = homogeneous(n, &counts);
            let total: usize = counts.iter().map(|&c| c as usize).sum();
            let first = Assignor::Uniform.assign(&members, &t);
            assert_complete(&first, &members, &t);
            prop_assert!(spread(&first) <= 1);
            carry(&mut members, &first);

            // The same input again: nothing moves.
            prop_assert_eq!(&Assignor::Uniform.assign(&members, &t), &first);

            // A member joins: the old members only give up partitions, and only as many as
            // the newcomer takes.
            let ids: Vec<u128> = (1..=counts.len() as u128).collect();
            let mut grown = members.clone();
            grown.push(member("new", &ids, &[]));
            let joined = Assignor::Uniform.assign(&grown, &t);
            assert_complete(&joined, &grown, &t);
            prop_assert!(spread(&joined) <= 1);
            let mut moved = 0;
            for m in &members {
                prop_assert!(joined[&m.id].is_subset(&m.current));
                moved += m.current.len() - joined[&m.id].len();
            }
            prop_assert_eq!(moved, joined["new"].len());
            prop_assert_eq!(joined["new"].len(), total / (n + 1));

            // A member leaves: the others keep everything they had.
            if n > 1 {
                let gone = leaver % n;
                let remaining: Vec<MemberSpec> = members
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| i != gone)
                    .map(|(_, m)| m.clone())
                    .collect();
                let left = Assignor::Uniform.assign(&remaining, &t);
                assert_complete(&left, &remaining, &t);
                prop_assert!(spread(&left) <= 1);
                for m in &remaining {
                    prop_assert!(m.current.is_subset(&left[&m.id]));
                }
            }
        }

        #[test]
        fn uniform_keeps_as_much_of_any_previous_assignment_as_balance_allows(
            n in 1usize..6,
            count in 1i32..16,
            owners in proptest::collection::vec(0usize..8, 16),
        ) {
            // An arbitrary (possibly lopsided, possibly partial) previous assignment.
            let (mut members, t) = homogeneous(n, &[count]);
            for p in 0..count {
                let owner = owners[p as usize];
                if owner < n {
                    members[owner].current.insert((topic(1), p));
                }
            }
            let result = Assignor::Uniform.assign(&members, &t);
            assert_complete(&result, &members, &t);
            prop_assert!(spread(&result) <= 1);
            // Each member keeps min(what it had, its new share).
            for m in &members {
                let kept = m.current.intersection(&result[&m.id]).count();
                prop_assert_eq!(kept, m.current.len().min(result[&m.id].len()));
            }
        }

        #[test]
        fn range_is_complete_and_contiguous(
            n in 1usize..7,
            counts in proptest::collection::vec(1i32..12, 1..4),
        ) {
            let (members, t) = homogeneous(n, &counts);
            let result = Assignor::Range.assign(&members, &t);
            assert_complete(&result, &members, &t);
            for assignment in result.values() {
                for &id in t.keys() {
                    let ps: Vec<i32> = assignment.iter().filter(|(t, _)| *t == id).map(|&(_, p)| p).collect();
                    if let (Some(first), Some(last)) = (ps.first(), ps.last()) {
                        prop_assert_eq!(ps.len() as i32, last - first + 1);
                    }
                }
            }
        }
    }
}
