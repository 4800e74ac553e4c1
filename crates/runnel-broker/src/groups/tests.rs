#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const COMMIT: consumer::CommitKind = consumer::CommitKind::OffsetCommit { version: 8 };

fn coordinator() -> GroupCoordinator {
    GroupCoordinator::new(&BrokerConfig {
        group_initial_rebalance_delay_ms: 0,
        ..BrokerConfig::default()
    })
}

fn join(member_id: &str, instance: Option<&str>, protocols: &[&str]) -> JoinRequest {
    JoinRequest {
        group_id: "g".into(),
        member_id: member_id.into(),
        instance_id: instance.map(str::to_owned),
        client_id: "client".into(),
        client_host: String::new(),
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|p| (p.to_string(), Bytes::from(format!("meta-{p}"))))
            .collect(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        require_known_member_id: true,
        skip_assignment_supported: false,
    }
}

fn now<T>(reply: Reply<T>) -> T {
    match reply {
        Reply::Now(value) => value,
        Reply::Later(mut rx) => rx.try_recv().expect("answered already"),
    }
}

fn pending<T: std::fmt::Debug>(reply: Reply<T>) -> oneshot::Receiver<T> {
    match reply {
        Reply::Later(rx) => rx,
        Reply::Now(value) => panic!("expected to wait, got {value:?}"),
    }
}

fn sync(
    c: &GroupCoordinator,
    member: &str,
    generation: i32,
    assignments: Vec<(String, Bytes)>,
) -> Reply<SyncOutcome> {
    c.sync(SyncRequest {
        group_id: "g".into(),
        generation,
        member_id: member.into(),
        instance_id: None,
        protocol_type: None,
        protocol_name: None,
        assignments,
    })
}

/// Joins a new dynamic member through MEMBER_ID_REQUIRED; returns its id and the reply.
fn join_new(c: &GroupCoordinator, protocols: &[&str]) -> (String, Reply<JoinOutcome>) {
    let first = now(c.join(join("", None, protocols)));
    assert_eq!(first.error, ResponseError::MemberIdRequired.code());
    let id = first.member_id;
    let reply = c.join(join(&id, None, protocols));
    (id, reply)
}

#[test]
fn two_members_rebalance_sync_and_heartbeat() {
    let c = coordinator();
    let (a, reply) = join_new(&c, &["range", "roundrobin"]);
    let joined = now(reply);
    assert_eq!(
        (joined.error, joined.generation, joined.leader.as_str()),
        (0, 1, a.as_str())
    );
    assert_eq!(joined.members.len(), 1);
    let synced = now(sync(
        &c,
        &a,
        1,
        vec![(a.clone(), Bytes::from_static(b"all"))],
    ));
    assert_eq!(synced.assignment, Bytes::from_static(b"all"));
    assert_eq!(c.heartbeat("g", 1, &a, None), 0);

    // A second member (preferring roundrobin, also speaking range) starts a rebalance.
    let (b, reply) = join_new(&c, &["roundrobin", "range"]);
    let mut b_join = pending(reply);
    assert_eq!(
        c.heartbeat("g", 1, &a, None),
        ResponseError::RebalanceInProgress.code()
    );
    let a_join = now(c.join(join(&a, None, &["range", "roundrobin"])));
    let b_join = b_join.try_recv().unwrap();
    assert_eq!(a_join.generation, 2);
    assert_eq!(a_join.members.len(), 2, "the leader gets the roster");
    assert!(b_join.members.is_empty());
    // Tie between the two first choices: the first member's preference wins.
    assert_eq!(a_join.protocol_name.as_deref(), Some("range"));

    let mut b_sync = pending(sync(&c, &b, 2, vec![]));
    let a_sync = now(sync(
        &c,
        &a,
        2,
        vec![
            (a.clone(), Bytes::from_static(b"A")),
            (b.clone(), Bytes::from_static(b"B")),
        ],
    ));
    assert_eq!(a_sync.assignment, Bytes::from_static(b"A"));
    assert_eq!(
        b_sync.try_recv().unwrap().assignment,
        Bytes::from_static(b"B")
    );
    assert_eq!(
        c.heartbeat("g", 1, &a, None),
        ResponseError::IllegalGeneration.code()
    );
    assert_eq!(
        c.heartbeat("g", 2, "nobody", None),
        ResponseError::UnknownMemberId.code()
    );

    // Leaving triggers a rebalance that completes with the one member left.
    assert_eq!(c.leave("g", &[(b.clone(), None)]).unwrap(), vec![0]);
    let rejoined = now(c.join(join(&a, None, &["range"])));
    assert_eq!((rejoined.generation, rejoined.members.len()), (3, 1));
}

#[test]
fn inconsistent_protocols_and_bad_timeouts_are_refused() {
    let c = coordinator();
    let (_a, reply) = join_new(&c, &["range"]);
    assert_eq!(now(reply).error, 0);
    let other = now(c.join(join("", None, &["sticky"])));
    assert_eq!(other.error, ResponseError::InconsistentGroupProtocol.code());
    let mut short = join("", None, &["range"]);
    short.session_timeout_ms = 10;
    assert_eq!(
        now(c.join(short)).error,
        ResponseError::InvalidSessionTimeout.code()
    );
}

#[test]
fn a_static_member_restarting_keeps_its_assignment_without_a_rebalance() {
    let c = coordinator();
    let leader = now(c.join(join("", Some("i-1"), &["range"])));
    let follower_reply = c.join(join("", Some("i-2"), &["range"]));
    // The group was stable with one member; the second join starts generation 2.
    let mut follower_rx = pending(follower_reply);
    let leader2 = now(c.join(join(&leader.member_id, Some("i-1"), &["range"])));
    let follower = follower_rx.try_recv().unwrap();
    assert_eq!(leader2.generation, 2);
    let mut f_sync = pending(sync(&c, &follower.member_id, 2, vec![]));
    let _ = now(sync(
        &c,
        &leader2.member_id,
        2,
        vec![(follower.member_id.clone(), Bytes::from_static(b"F"))],
    ));
    assert_eq!(
        f_sync.try_recv().unwrap().assignment,
        Bytes::from_static(b"F")
    );

    // The follower restarts: same instance id, no member id. It gets a new id, the same
    // generation and its old assignment, and the leader is not disturbed.
    let restarted = now(c.join(join("", Some("i-2"), &["range"])));
    assert_eq!(restarted.error, 0);
    assert_eq!(restarted.generation, 2);
    assert_ne!(restarted.member_id, follower.member_id);
    let synced = now(sync(&c, &restarted.member_id, 2, vec![]));
    assert_eq!(synced.assignment, Bytes::from_static(b"F"));
    assert_eq!(c.heartbeat("g", 2, &leader2.member_id, Some("i-1")), 0);
    // The old incarnation is fenced.
    assert_eq!(
        c.heartbeat("g", 2, &follower.member_id, Some("i-2")),
        ResponseError::FencedInstanceId.code()
    );
}

#[test]
fn expired_sessions_leave_the_group() {
    let c = coordinator();
    let (a, reply) = join_new(&c, &["range"]);
    assert_eq!(now(reply).generation, 1);
    let _ = now(sync(&c, &a, 1, vec![]));
    c.expire(Instant::now() + Duration::from_secs(11));
    let groups = c.lock();
    let group = groups.get("g").unwrap();
    assert!(group.members.is_empty());
    assert_eq!(group.state, GroupState::Empty);
}

#[test]
fn waiting_for_the_leader_in_sync_group_does_not_count_against_the_session() {
    let c = coordinator();
    let (a, reply) = join_new(&c, &["range"]);
    let _ = now(reply);
    let _ = now(sync(&c, &a, 1, vec![]));
    let (b, reply) = join_new(&c, &["range"]);
    let mut b_join = pending(reply);
    let _ = now(c.join(join(&a, None, &["range"])));
    assert_eq!(b_join.try_recv().unwrap().generation, 2);
    let mut b_sync = pending(sync(&c, &b, 2, vec![]));
    // The leader takes 9 of b's 10 session seconds to send its assignment.
    let waited = Instant::now().checked_sub(Duration::from_secs(9)).unwrap();
    c.lock()
        .get_mut("g")
        .unwrap()
        .members
        .get_mut(&b)
        .unwrap()
        .last_heartbeat = waited;
    let _ = now(sync(&c, &a, 2, vec![(b.clone(), Bytes::from_static(b"B"))]));
    assert_eq!(b_sync.try_recv().unwrap().error, 0);
    // b heartbeats within its interval (3 s for librdkafka) of getting the assignment.
    c.expire(Instant::now() + Duration::from_secs(2));
    assert_eq!(c.heartbeat("g", 2, &b, None), 0, "b is still a member");
    assert_eq!(c.lock().get("g").unwrap().state, GroupState::Stable);
}

#[test]
fn simple_commits_need_an_empty_group() {
    let c = coordinator();
    assert_eq!(c.check_commit("solo", -1, "", None, COMMIT), Ok(()));
    assert_eq!(
        c.check_commit("", -1, "", None, COMMIT),
        Err(ResponseError::InvalidGroupId.code())
    );
    let (a, reply) = join_new(&c, &["range"]);
    assert_eq!(now(reply).generation, 1);
    assert_eq!(
        c.check_commit("g", -1, "", None, COMMIT),
        Err(ResponseError::UnknownMemberId.code())
    );
    let _ = now(sync(&c, &a, 1, vec![]));
    assert_eq!(c.check_commit("g", 1, &a, None, COMMIT), Ok(()));
    assert_eq!(
        c.check_commit("g", 0, &a, None, COMMIT),
        Err(ResponseError::IllegalGeneration.code())
    );
}

#[test]
fn commits_are_accepted_while_a_rebalance_is_prepared_and_refused_until_the_sync() {
    let c = coordinator();
    let (a, reply) = join_new(&c, &["range"]);
    assert_eq!(now(reply).generation, 1);
    let _ = now(sync(&c, &a, 1, vec![(a.clone(), Bytes::from_static(b"A"))]));
    // A second member joins: the group prepares a rebalance and `a`, still of generation
    // 1, commits what it read before giving its partitions up.
    let (b, reply) = join_new(&c, &["range"]);
    let mut b_join = pending(reply);
    assert_eq!(
        c.lock().get("g").unwrap().state,
        GroupState::PreparingRebalance
    );
    assert_eq!(c.check_commit("g", 1, &a, None, COMMIT), Ok(()));
    assert_eq!(
        c.check_commit("g", 0, &a, None, COMMIT),
        Err(ResponseError::IllegalGeneration.code())
    );
    // Both joined generation 2; until the leader's assignment arrives, commits wait.
    let _ = now(c.join(join(&a, None, &["range"])));
    assert_eq!(b_join.try_recv().unwrap().generation, 2);
    assert_eq!(
        c.check_commit("g", 2, &b, None, COMMIT),
        Err(ResponseError::RebalanceInProgress.code())
    );
    let mut b_sync = pending(sync(&c, &b, 2, vec![]));
    let _ = now(sync(&c, &a, 2, vec![(b.clone(), Bytes::from_static(b"B"))]));
    assert_eq!(b_sync.try_recv().unwrap().error, 0);
    assert_eq!(c.check_commit("g", 2, &b, None, COMMIT), Ok(()));
}

/// A stable group of two static members, `i-1` leading with assignment "L" and `i-2`
/// following with "F"; returns (leader id, follower id).
fn stable_static_pair(c: &GroupCoordinator) -> (String, String) {
    let leader = now(c.join(join("", Some("i-1"), &["range"])));
    let _ = now(sync(c, &leader.member_id, 1, vec![]));
    let mut follower_rx = pending(c.join(join("", Some("i-2"), &["range"])));
    let leader2 = now(c.join(join(&leader.member_id, Some("i-1"), &["range"])));
    let follower = follower_rx.try_recv().unwrap();
    let mut f_sync = pending(sync(c, &follower.member_id, 2, vec![]));
    let _ = now(sync(
        c,
        &leader2.member_id,
        2,
        vec![
            (leader2.member_id.clone(), Bytes::from_static(b"L")),
            (follower.member_id.clone(), Bytes::from_static(b"F")),
        ],
    ));
    assert_eq!(f_sync.try_recv().unwrap().error, 0);
    (leader2.member_id, follower.member_id)
}

#[test]
fn a_static_leader_restarting_keeps_its_assignment_without_a_rebalance() {
    let c = coordinator();
    let (old_leader, follower) = stable_static_pair(&c);

    // Before JoinGroup v9 the restarted leader is named by its old id, so it does not
    // think itself the leader and only syncs; it gets its old assignment back.
    let restarted = now(c.join(join("", Some("i-1"), &["range"])));
    assert_eq!(restarted.error, 0);
    assert_eq!(restarted.generation, 2);
    assert_ne!(restarted.member_id, old_leader);
    assert_eq!(restarted.leader, old_leader);
    assert!(restarted.members.is_empty());
    assert!(!restarted.skip_assignment);
    let synced = now(sync(&c, &restarted.member_id, 2, vec![]));
    assert_eq!(synced.assignment, Bytes::from_static(b"L"));
    // No rebalance: the follower's heartbeat is answered without error, the group stays
    // at generation 2, and the new incarnation now leads it.
    assert_eq!(c.heartbeat("g", 2, &follower, Some("i-2")), 0);
    let groups = c.lock();
    let group = groups.get("g").unwrap();
    assert_eq!((group.state, group.generation), (GroupState::Stable, 2));
    assert_eq!(group.leader.as_deref(), Some(restarted.member_id.as_str()));
}

#[test]
fn a_static_leader_restarting_with_join_group_v9_is_told_to_skip_the_assignment() {
    let c = coordinator();
    let (_, follower) = stable_static_pair(&c);
    let mut request = join("", Some("i-1"), &["range"]);
    request.skip_assignment_supported = true;
    let restarted = now(c.join(request));
    assert_eq!(restarted.leader, restarted.member_id);
    assert!(restarted.skip_assignment);
    assert_eq!(restarted.members.len(), 2, "the roster, for information");
    let synced = now(sync(&c, &restarted.member_id, 2, vec![]));
    assert_eq!(synced.assignment, Bytes::from_static(b"L"));
    assert_eq!(c.heartbeat("g", 2, &follower, Some("i-2")), 0);
}

#[test]
fn an_empty_group_keeps_its_protocol_type_until_a_member_of_another_type_joins() {
    let c = coordinator();
    let (a, reply) = join_new(&c, &["range"]);
    assert_eq!(now(reply).generation, 1);
    assert_eq!(c.leave("g", &[(a, None)]).unwrap(), vec![0]);
    {
        let groups = c.lock();
        let group = groups.get("g").unwrap();
        assert_eq!(group.state, GroupState::Empty);
        assert_eq!(group.protocol_type.as_deref(), Some("consumer"));
        assert_eq!(group.protocol, None);
    }
    let mut connect = join("", Some("worker-1"), &["sessioned"]);
    connect.protocol_type = "connect".into();
    assert_eq!(now(c.join(connect)).error, 0);
    assert_eq!(
        c.lock().get("g").unwrap().protocol_type.as_deref(),
        Some("connect")
    );
}

#[test]
fn a_static_member_replaced_while_waiting_is_fenced() {
    let c = coordinator();
    let (_, follower) = stable_static_pair(&c);
    // The follower rejoins with other protocols, which starts a rebalance, and waits...
    let mut waiting = pending(c.join(join(&follower, Some("i-2"), &["range", "roundrobin"])));
    // ...when a new process with the same instance id takes its place.
    let _replacement = c.join(join("", Some("i-2"), &["range"]));
    assert_eq!(
        waiting.try_recv().unwrap().error,
        ResponseError::FencedInstanceId.code()
    );
}
