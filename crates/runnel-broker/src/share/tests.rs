#![allow(clippy::unwrap_used, clippy::expect_used)]

use runnel_log::ManualClock;

use super::*;

fn coordinator() -> (ShareCoordinator, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(0));
    (
        ShareCoordinator::new(ShareDefaults::default(), clock.clone()),
        clock,
    )
}

fn beat(group: &str, member: &str, epoch: i32, topics: Option<&[&str]>) -> Heartbeat {
    Heartbeat {
        group: group.into(),
        member: member.into(),
        epoch,
        rack: None,
        subscribed: topics.map(|t| t.iter().map(|s| s.to_string()).collect()),
        client_id: "test".into(),
        client_host: "127.0.0.1".into(),
    }
}

#[test]
fn members_join_are_fenced_on_stale_epochs_and_expire() {
    let (shares, clock) = coordinator();
    let partitions = |_: &str| Some(1);
    let mut settled = Settled::default();
    let a = shares.heartbeat(beat("g", "a", 0, Some(&["t"])), partitions, &mut settled);
    assert_eq!((a.error, a.epoch), (0, 1));
    assert_eq!(a.assignment.unwrap()["t"], vec![0]);
    let b = shares.heartbeat(beat("g", "b", 0, Some(&["t"])), partitions, &mut settled);
    assert_eq!(b.epoch, 2);
    assert_eq!(
        b.assignment.unwrap()["t"],
        vec![0],
        "both members read the one partition"
    );
    // a still holds epoch 1: it is told the new epoch, with its assignment.
    let a = shares.heartbeat(beat("g", "a", 1, None), partitions, &mut settled);
    assert_eq!((a.error, a.epoch), (0, 2));
    assert!(a.assignment.is_some());
    let stale = shares.heartbeat(beat("g", "a", 1, None), partitions, &mut settled);
    assert_eq!(stale.error, ResponseError::FencedMemberEpoch.code());
    let unknown = shares.heartbeat(beat("g", "zz", 3, None), partitions, &mut settled);
    assert_eq!(unknown.error, ResponseError::UnknownMemberId.code());
    let no_id = shares.heartbeat(beat("g", "", 0, Some(&["t"])), partitions, &mut settled);
    assert_eq!(no_id.error, ResponseError::InvalidRequest.code());

    clock.advance(ShareDefaults::default().session_timeout_ms);
    shares.heartbeat(beat("g", "b", 2, None), partitions, &mut settled);
    shares.expire(partitions);
    let group = shares.describe("g").unwrap();
    assert_eq!(
        group.members.keys().collect::<Vec<_>>(),
        vec!["b"],
        "a expired"
    );
}

#[test]
fn share_sessions_check_epochs_and_close() {
    let (shares, _) = coordinator();
    let t0 = vec![("t".to_owned(), 0)];
    assert_eq!(
        shares.session("g", "a", 1, &[], &[]),
        Err(ResponseError::ShareSessionNotFound)
    );
    assert_eq!(shares.session("g", "a", 0, &t0, &[]).unwrap().len(), 1);
    assert_eq!(
        shares.session("g", "a", 5, &[], &[]),
        Err(ResponseError::InvalidShareSessionEpoch)
    );
    assert_eq!(shares.session("g", "a", 1, &[], &[]).unwrap().len(), 1);
    assert!(shares.session("g", "a", 2, &[], &t0).unwrap().is_empty());
    shares.session("g", "a", -1, &[], &[]).unwrap();
    assert_eq!(
        shares.session("g", "a", 3, &[], &[]),
        Err(ResponseError::ShareSessionNotFound)
    );
}

#[test]
fn a_leaving_member_releases_its_records() {
    let (shares, _) = coordinator();
    let partitions = |_: &str| Some(1);
    let mut settled = Settled::default();
    shares.heartbeat(beat("g", "a", 0, Some(&["t"])), partitions, &mut settled);
    let key = ShareKey {
        group: "g".into(),
        topic: "t".into(),
        topic_id: uuid::Uuid::from_u128(1),
        partition: 0,
    };
    let partition = shares.partition(&key);
    let limits = shares.settings("g").limits;
    partition.lock().records = Some(ShareRecords::new(0));
    let got = partition.lock().records.as_mut().unwrap().acquire_new(
        &member_id("a"),
        0,
        limits,
        5,
        &[(0, 4)],
        5,
    );
    assert_eq!(got.len(), 1);
    let mut settled = Settled::default();
    shares.heartbeat(beat("g", "a", -1, None), partitions, &mut settled);
    assert_eq!(settled.changed.len(), 1);
    assert_eq!(summary(&partition).unwrap().0.available, 5);
    assert!(!shares.has_members("g"));
    assert_eq!(shares.delete_group("g").unwrap().len(), 1);
    assert!(!shares.is_share_group("g"));
}

#[test]
fn restore_keeps_only_state_of_topics_that_still_exist_under_that_id() {
    let (shares, _) = coordinator();
    let current = Uuid::from_u128(7);
    let key = |topic: &str, topic_id: Uuid, partition: i32| ShareKey {
        group: "g".into(),
        topic: topic.into(),
        topic_id,
        partition,
    };
    let stored = |start: i64| store::StoredPartition {
        start,
        dead_lettered: 0,
        runs: Vec::new(),
    };
    let mut loaded = store::Loaded::default();
    // Partition 0: stored before topic ids, and again since; the record with the id counts.
    loaded
        .partitions
        .insert(key("t", Uuid::nil(), 0), stored(5));
    loaded.partitions.insert(key("t", current, 0), stored(9));
    // Partition 1: stored before topic ids only; taken as the current topic's.
    loaded
        .partitions
        .insert(key("t", Uuid::nil(), 1), stored(3));
    // Partition 2: an earlier topic of the same name, deleted and created again.
    loaded
        .partitions
        .insert(key("t", Uuid::from_u128(6), 2), stored(4));
    // A topic that is gone.
    loaded
        .partitions
        .insert(key("gone", Uuid::from_u128(8), 0), stored(1));

    let restored = shares.restore(loaded, |name| (name == "t").then_some(current));
    assert_eq!(restored, 2);
    let starts: Vec<(ShareKey, i64)> = shares
        .partitions_of("g")
        .iter()
        .map(|p| (p.key.clone(), summary(p).unwrap().0.start))
        .collect();
    assert_eq!(
        starts,
        vec![(key("t", current, 0), 9), (key("t", current, 1), 3)]
    );

    // Deleting the topic forgets both and deletes their records under both key kinds.
    let changes = shares.forget_topic(current);
    assert_eq!(changes.len(), 4);
    assert!(changes.contains(&Change::Partition(key("t", Uuid::nil(), 1), None)));
    assert!(shares.partitions_of("g").is_empty());
}
