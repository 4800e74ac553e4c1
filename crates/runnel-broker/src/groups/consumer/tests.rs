#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const ORDERS: u128 = 1;
const PAYMENTS: u128 = 2;

fn config() -> ConsumerConfig {
    ConsumerConfig {
        heartbeat_interval: Duration::from_millis(5000),
        session_timeout: Duration::from_millis(45_000),
        assignors: Assignor::ALL.to_vec(),
    }
}

fn image(topics: &[(&str, u128, i32)]) -> TopicImage {
    TopicImage::new(topics.iter().map(|&(name, id, partitions)| {
        (
            name.to_owned(),
            TopicInfo {
                id: Uuid::from_u128(id),
                partitions,
                internal: name.starts_with("__"),
            },
        )
    }))
}

fn orders(partitions: i32) -> TopicImage {
    image(&[("orders", ORDERS, partitions)])
}

fn tps(topic: u128, partitions: &[i32]) -> Assignment {
    partitions
        .iter()
        .map(|&p| (Uuid::from_u128(topic), p))
        .collect()
}

fn join(member: &str, topics: &[&str]) -> Heartbeat {
    Heartbeat {
        version: 1,
        group_id: "g".into(),
        member_id: member.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 20_000,
        subscribed_topic_names: Some(topics.iter().map(|t| t.to_string()).collect()),
        subscribed_topic_regex: Some(String::new()),
        owned: Some(Assignment::new()),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        ..Heartbeat::default()
    }
}

/// A plain heartbeat, reporting `owned` partitions (an acknowledgement) or nothing.
fn beat(member: &str, epoch: i32, owned: Option<Assignment>) -> Heartbeat {
    Heartbeat {
        version: 1,
        group_id: "g".into(),
        member_id: member.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: -1,
        owned,
        ..Heartbeat::default()
    }
}

struct Fixture {
    group: ConsumerGroup,
    image: TopicImage,
    now: Instant,
    config: ConsumerConfig,
}

impl Fixture {
    fn new(image: TopicImage) -> Fixture {
        Fixture {
            group: ConsumerGroup::new(),
            image,
            now: Instant::now(),
            config: config(),
        }
    }

    fn send(&mut self, request: Heartbeat) -> Result<HeartbeatOutcome, HeartbeatError> {
        request.validate()?;
        self.group
            .heartbeat(&request, &self.image, self.now, &self.config)
    }

    fn ok(&mut self, request: Heartbeat) -> HeartbeatOutcome {
        self.send(request).unwrap()
    }

    fn member(&self, id: &str) -> &ConsumerMember {
        self.group.members.get(id).unwrap()
    }
}

#[test]
fn a_lone_member_gets_every_partition_at_epoch_one() {
    let mut f = Fixture::new(orders(4));
    let joined = f.ok(join("a", &["orders"]));
    assert_eq!(joined.member_id, "a");
    assert_eq!(joined.member_epoch, 1);
    assert_eq!(joined.heartbeat_interval_ms, 5000);
    assert_eq!(joined.assignment, Some(tps(ORDERS, &[0, 1, 2, 3])));
    assert_eq!(f.group.state(), ConsumerGroupState::Stable);
    assert_eq!((f.group.group_epoch(), f.group.assignment_epoch()), (1, 1));

    // Unchanged: no assignment in the answer.
    let again = f.ok(beat("a", 1, None));
    assert_eq!(again.member_epoch, 1);
    assert_eq!(again.assignment, None);
    assert_eq!(f.group.group_epoch(), 1);
}

#[test]
fn a_v0_member_without_an_id_is_given_one() {
    let mut f = Fixture::new(orders(1));
    let mut request = join("", &["orders"]);
    request.version = 0;
    let joined = f.ok(request);
    assert!(!joined.member_id.is_empty());
    assert_eq!(
        f.send(join("", &["orders"])),
        Err(HeartbeatError::InvalidRequest(
            "the member id is empty (from version 1 the member picks it)"
        ))
    );
}

#[test]
fn a_partition_moves_only_after_its_owner_acknowledged_the_revocation() {
    let mut f = Fixture::new(orders(4));
    f.ok(join("a", &["orders"]));

    // b joins: the target splits the partitions, but a still owns them all.
    let b = f.ok(join("b", &["orders"]));
    assert_eq!(b.member_epoch, 2);
    assert_eq!(b.assignment, Some(Assignment::new()));
    assert_eq!(f.member("b").state, MemberState::UnreleasedPartitions);
    assert_eq!(f.group.state(), ConsumerGroupState::Reconciling);
    let b_target = f.group.target_of("b");
    assert_eq!(b_target.len(), 2);

    // a is told to revoke b's share, at its old epoch.
    let a = f.ok(beat("a", 1, None));
    assert_eq!(a.member_epoch, 1);
    let a_keeps: Assignment = tps(ORDERS, &[0, 1, 2, 3])
        .difference(&b_target)
        .copied()
        .collect();
    assert_eq!(a.assignment, Some(a_keeps.clone()));
    assert_eq!(f.member("a").pending_revocation, b_target);

    // Until a acknowledges, b gets nothing; a heartbeat that still reports them is no
    // acknowledgement.
    assert_eq!(f.ok(beat("b", 2, None)).assignment, None);
    let still = f.ok(beat("a", 1, Some(tps(ORDERS, &[0, 1, 2, 3]))));
    assert_eq!((still.member_epoch, still.assignment), (1, None));
    assert!(f.member("b").assigned.is_empty());

    // a acknowledges: it moves to epoch 2; b gets its partitions at its next heartbeat.
    let acked = f.ok(beat("a", 1, Some(a_keeps.clone())));
    assert_eq!(acked.member_epoch, 2);
    assert_eq!(f.member("a").state, MemberState::Stable);
    let b = f.ok(beat("b", 2, None));
    assert_eq!(b.assignment, Some(b_target));
    assert_eq!(f.group.state(), ConsumerGroupState::Stable);
    // a never lost what it kept.
    assert_eq!(f.member("a").assigned, a_keeps);
}

#[test]
fn epochs_other_than_the_members_are_fenced_except_a_lost_answer() {
    let mut f = Fixture::new(orders(2));
    f.ok(join("a", &["orders"]));
    f.ok(join("b", &["orders"]));
    assert_eq!(
        f.send(beat("a", 5, None)),
        Err(HeartbeatError::FencedEpoch {
            received: 5,
            current: 1
        })
    );
    // a revokes and acknowledges: epoch 2.
    let a = f.ok(beat("a", 1, None)).assignment.unwrap();
    assert_eq!(f.ok(beat("a", 1, Some(a.clone()))).member_epoch, 2);
    // The answer was lost: a retries at epoch 1 owning no more than it has now; accepted.
    assert_eq!(f.ok(beat("a", 1, Some(a.clone()))).member_epoch, 2);
    // But not without saying what it owns, nor from a later epoch.
    assert!(matches!(
        f.send(beat("a", 1, None)),
        Err(HeartbeatError::FencedEpoch { .. })
    ));
    assert!(matches!(
        f.send(beat("a", 3, Some(a))),
        Err(HeartbeatError::FencedEpoch { .. })
    ));
    let fenced = f.send(beat("a", 7, None)).unwrap_err();
    assert_eq!(fenced.code(), 110);
    // A fenced member rejoins with epoch 0 under its id and gets its partitions again.
    let rejoined = f.ok(join("a", &["orders"]));
    assert_eq!(rejoined.member_epoch, 2);
    assert_eq!(rejoined.assignment.map(|a| a.len()), Some(1));
}

#[test]
fn unknown_members_and_invalid_requests_are_refused() {
    let mut f = Fixture::new(orders(2));
    let unknown = f.send(beat("ghost", 3, None)).unwrap_err();
    assert_eq!(unknown, HeartbeatError::UnknownMember("ghost".into()));
    assert_eq!(unknown.code(), 25);
    let mut no_timeout = join("a", &["orders"]);
    no_timeout.rebalance_timeout_ms = -1;
    assert_eq!(f.send(no_timeout).unwrap_err().code(), 42);
    let mut owning = join("a", &["orders"]);
    owning.owned = Some(tps(ORDERS, &[0]));
    assert_eq!(f.send(owning).unwrap_err().code(), 42);
    assert_eq!(f.send(join("a", &[])).unwrap_err().code(), 42);
    let mut static_leave = beat("a", STATIC_LEAVE_EPOCH, None);
    static_leave.instance_id = None;
    assert_eq!(f.send(static_leave).unwrap_err().code(), 42);
    assert_eq!(f.send(beat("a", -3, None)).unwrap_err().code(), 42);
    let mut assignor = join("a", &["orders"]);
    assignor.server_assignor = Some("sticky".into());
    assert_eq!(f.send(assignor).unwrap_err().code(), 112);
    let mut regex = join("a", &[]);
    regex.subscribed_topic_regex = Some("(".into());
    assert_eq!(f.send(regex).unwrap_err().code(), 128);
    assert!(f.group.members.is_empty(), "refused joins leave no member");
}

#[test]
fn a_leaving_members_partitions_go_to_the_others() {
    let mut f = Fixture::new(orders(4));
    f.ok(join("a", &["orders"]));
    f.ok(join("b", &["orders"]));
    let a = f.ok(beat("a", 1, None)).assignment.unwrap();
    f.ok(beat("a", 1, Some(a)));
    f.ok(beat("b", 2, None));
    assert_eq!(f.group.state(), ConsumerGroupState::Stable);

    let left = f.ok(beat("b", LEAVE_EPOCH, None));
    assert_eq!(left.member_epoch, LEAVE_EPOCH);
    assert!(!f.group.members.contains_key("b"));
    assert_eq!(f.group.group_epoch(), 3);
    let a = f.ok(beat("a", 2, None));
    assert_eq!(a.member_epoch, 3);
    assert_eq!(a.assignment, Some(tps(ORDERS, &[0, 1, 2, 3])));
    assert_eq!(
        f.send(beat("b", LEAVE_EPOCH, None)),
        Err(HeartbeatError::UnknownMember("b".into()))
    );
}

#[test]
fn a_static_member_keeps_its_partitions_while_away_and_takes_them_back() {
    let mut f = Fixture::new(orders(2));
    let mut a = join("a1", &["orders"]);
    a.instance_id = Some("host-a".into());
    f.ok(a.clone());
    f.ok(join("b", &["orders"]));
    let kept = f.ok(beat("a1", 1, None)).assignment.unwrap();
    let mut ack = beat("a1", 1, Some(kept.clone()));
    ack.instance_id = Some("host-a".into());
    f.ok(ack);
    f.ok(beat("b", 2, None));
    let epoch = f.group.group_epoch();

    let mut away = beat("a1", STATIC_LEAVE_EPOCH, None);
    away.instance_id = Some("host-a".into());
    assert_eq!(f.ok(away).member_epoch, STATIC_LEAVE_EPOCH);
    assert_eq!(
        f.group.group_epoch(),
        epoch,
        "no rebalance for a static member away"
    );
    assert_eq!(f.member("a1").assigned, kept);
    // b does not get a's partition meanwhile.
    assert_eq!(f.ok(beat("b", 2, None)).assignment, None);

    // Another process with the same instance id, while a1 is away: it takes over.
    let mut back = join("a2", &["orders"]);
    back.instance_id = Some("host-a".into());
    let back = f.ok(back);
    assert_eq!(back.member_id, "a2");
    assert_eq!(back.assignment, Some(kept));
    assert!(!f.group.members.contains_key("a1"));

    // But not while the instance is active.
    let mut intruder = join("a3", &["orders"]);
    intruder.instance_id = Some("host-a".into());
    assert_eq!(
        f.send(intruder),
        Err(HeartbeatError::UnreleasedInstance("host-a".into()))
    );
    let mut wrong = beat("b", 2, None);
    wrong.instance_id = Some("host-a".into());
    assert_eq!(
        f.send(wrong),
        Err(HeartbeatError::FencedInstance("host-a".into()))
    );
}

#[test]
fn silent_members_and_unacknowledged_revocations_expire() {
    let mut f = Fixture::new(orders(2));
    f.ok(join("a", &["orders"]));
    let start = f.now;
    f.now += Duration::from_secs(30);
    f.ok(join("b", &["orders"]));
    // a never heartbeats again: its session ends 45 s after its last heartbeat.
    assert!(f
        .group
        .expire(start + Duration::from_secs(44), &f.config)
        .is_empty());
    let gone = f.group.expire(start + Duration::from_secs(46), &f.config);
    assert_eq!(gone, ["a"]);
    let b = f.ok(beat("b", 2, None));
    assert_eq!(b.member_epoch, 3);
    assert_eq!(b.assignment, Some(tps(ORDERS, &[0, 1])));

    // c joins; b is asked to revoke and never acknowledges within its rebalance timeout.
    f.ok(join("c", &["orders"]));
    f.ok(beat("b", 3, None));
    assert_eq!(f.member("b").state, MemberState::UnrevokedPartitions);
    let deadline = f.member("b").revocation_deadline.unwrap();
    assert_eq!(deadline, f.now + Duration::from_secs(20));
    assert_eq!(f.group.expire(deadline, &f.config), ["b"]);
    let c = f.ok(beat("c", 4, None));
    assert_eq!(c.assignment, Some(tps(ORDERS, &[0, 1])));
}

#[test]
fn new_topics_and_partitions_matching_a_subscription_are_assigned() {
    let mut f = Fixture::new(orders(1));
    let mut request = join("a", &["payments"]);
    request.subscribed_topic_regex = Some("ord.*".into());
    let joined = f.ok(request);
    assert_eq!(joined.assignment, Some(tps(ORDERS, &[0])));

    // orders grows and payments appears: one bump, everything assigned.
    f.image = image(&[
        ("orders", ORDERS, 2),
        ("payments", PAYMENTS, 1),
        ("__consumer_offsets", 9, 1),
        ("other", 7, 1),
    ]);
    let a = f.ok(beat("a", 1, None));
    assert_eq!(a.member_epoch, 2);
    let mut all = tps(ORDERS, &[0, 1]);
    all.extend(tps(PAYMENTS, &[0]));
    assert_eq!(a.assignment, Some(all));
    assert_eq!(
        f.group.subscribed_topics().collect::<Vec<_>>(),
        ["orders", "payments"]
    );

    // orders is deleted: its partitions are revoked.
    f.image = image(&[("payments", PAYMENTS, 1)]);
    let a = f.ok(beat("a", 2, None));
    assert_eq!(a.member_epoch, 2);
    assert_eq!(a.assignment, Some(tps(PAYMENTS, &[0])));
    let a = f.ok(beat("a", 2, Some(tps(PAYMENTS, &[0]))));
    assert_eq!(a.member_epoch, 3);

    // Dropping the regex (empty string) drops the topics it matched.
    let mut request = beat("a", 3, None);
    request.subscribed_topic_regex = Some(String::new());
    request.subscribed_topic_names = Some(vec!["orders".into()]);
    let a = f.ok(request);
    assert_eq!(a.assignment, Some(Assignment::new()));
}

#[test]
fn the_assignor_most_members_ask_for_is_used() {
    let mut f = Fixture::new(orders(4));
    let mut a = join("m1", &["orders"]);
    a.server_assignor = Some("range".into());
    f.ok(a);
    f.ok(join("m2", &["orders"]));
    assert_eq!(f.group.assignor(&f.config), Assignor::Range);
    assert_eq!(f.group.target_of("m1"), tps(ORDERS, &[0, 1]));
    assert_eq!(f.group.target_of("m2"), tps(ORDERS, &[2, 3]));
    // With no preference the first configured assignor is the default.
    let mut g = Fixture::new(orders(1));
    g.config.assignors = vec![Assignor::Range, Assignor::Uniform];
    g.ok(join("x", &["orders"]));
    assert_eq!(g.group.assignor(&g.config), Assignor::Range);
    // An assignor left out of the configuration is refused.
    g.config.assignors = vec![Assignor::Uniform];
    let mut range = join("y", &["orders"]);
    range.server_assignor = Some("range".into());
    assert_eq!(
        g.send(range),
        Err(HeartbeatError::UnsupportedAssignor(
            "range".into(),
            "uniform".into()
        ))
    );
}

#[test]
fn commits_need_a_member_at_its_current_epoch() {
    let mut f = Fixture::new(orders(2));
    let kind = CommitKind::OffsetCommit { version: 9 };
    // No members yet: anyone may commit as an outsider.
    assert_eq!(f.group.check_commit("", -1, kind), Ok(()));
    f.ok(join("a", &["orders"]));
    assert_eq!(
        f.group.check_commit("", -1, kind),
        Err(HeartbeatError::UnknownMember(String::new()))
    );
    assert_eq!(f.group.check_commit("a", 1, kind), Ok(()));
    let stale = f.group.check_commit("a", 0, kind).unwrap_err();
    assert_eq!(stale.code(), 113);
    assert_eq!(
        f.group
            .check_commit("a", 1, CommitKind::OffsetCommit { version: 8 })
            .unwrap_err()
            .code(),
        35
    );
    assert_eq!(
        f.group.check_commit("a", 1, CommitKind::Transactional),
        Ok(())
    );
    assert_eq!(f.group.check_fetch(None, -1), Ok(()));
    assert_eq!(f.group.check_fetch(Some("a"), 1), Ok(()));
    assert_eq!(f.group.check_fetch(Some("a"), 2).unwrap_err().code(), 113);
    assert_eq!(f.group.check_fetch(Some("z"), 1).unwrap_err().code(), 25);
}

#[test]
fn a_regex_subscription_sees_only_the_topics_the_member_may_describe() {
    let mut f = Fixture::new(image(&[("orders", ORDERS, 1), ("payments", PAYMENTS, 1)]));
    let mut request = join("a", &[]);
    request.subscribed_topic_regex = Some(".*".into());
    request.describable = Some(["orders".to_owned()].into());
    let joined = f.ok(request);
    assert_eq!(joined.assignment, Some(tps(ORDERS, &[0])));
    assert_eq!(f.group.subscribed_topics().collect::<Vec<_>>(), ["orders"]);

    // A heartbeat with the same rights changes nothing.
    let mut request = beat("a", 1, Some(tps(ORDERS, &[0])));
    request.describable = Some(["orders".to_owned()].into());
    assert_eq!(f.ok(request).member_epoch, 1);

    // DESCRIBE on payments granted: the next heartbeat brings it, with one epoch bump.
    let mut request = beat("a", 1, Some(tps(ORDERS, &[0])));
    request.describable = Some(["orders".to_owned(), "payments".to_owned()].into());
    let a = f.ok(request);
    assert_eq!(a.member_epoch, 2);
    let mut all = tps(ORDERS, &[0]);
    all.extend(tps(PAYMENTS, &[0]));
    assert_eq!(a.assignment, Some(all));

    // And taken back: payments is revoked.
    let mut request = beat("a", 2, None);
    request.describable = Some(["orders".to_owned()].into());
    let a = f.ok(request);
    assert_eq!(a.assignment, Some(tps(ORDERS, &[0])));
}
