//! The consumer group protocol (KIP-848) with librdkafka's `group.protocol=consumer`: the
//! broker assigns, members join and leave moving only the partitions that must move, a
//! classic group works next to a consumer group, and committed offsets carry over.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, DescribeGroupsRequest,
    DescribeGroupsResponse, GroupId, ListGroupsRequest, ListGroupsResponse,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use runnel_broker::groups::consumer::{ConsumerGroupState, MemberState};
use runnel_broker::Broker;
use tokio::net::TcpStream;

use common::members::{
    all_partitions, assignment_of, callbacks_caught_up, close, consumer_protocol_member_at, covers,
    drive, group_member_at, wait_for_split, GroupMember, Inbox, RebalanceEvent, Received,
};
use common::{bootstrap, create_topic_at, eventually, exchange, numbered, produce_numbered, start};

const WAIT: Duration = Duration::from_secs(30);

/// A broker whose consumer group members heartbeat every 200 ms, so hand-overs are quick.
async fn broker(dir: &std::path::Path) -> Broker {
    start(dir, |c| c.group_consumer_heartbeat_interval_ms = 200).await
}

/// The offsets of `partition` in `records`, in arrival order.
fn offsets_of(records: &[Received], partition: i32) -> Vec<i64> {
    records
        .iter()
        .filter(|r| r.partition == partition)
        .map(|r| r.offset)
        .collect()
}

fn assert_payloads(records: &[Received]) {
    for r in records {
        assert_eq!(r.payload, numbered(r.partition, r.offset));
    }
}

/// (state, group epoch, member count) of a consumer group as the broker holds it.
fn group_view(broker: &Broker, group: &str) -> Option<(ConsumerGroupState, i32, usize)> {
    let groups = broker.state().groups.lock();
    let consumer = groups.get(group)?.consumer.as_ref()?;
    Some((
        consumer.state(),
        consumer.group_epoch(),
        consumer.members().count(),
    ))
}

/// When the member's callbacks first revoked (or assigned) `partition`, from event `from` on.
fn first_time(
    member: &GroupMember,
    from: usize,
    partition: i32,
    revoked: bool,
) -> Option<std::time::Instant> {
    member
        .context()
        .timed_events()
        .into_iter()
        .skip(from)
        .find(|(_, event)| match event {
            RebalanceEvent::Revoked(p) if revoked => p.contains(&partition),
            RebalanceEvent::Assigned(p) if !revoked => p.contains(&partition),
            _ => false,
        })
        .map(|(at, _)| at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lone_member_is_assigned_every_partition_and_reads_everything() {
    const TOPIC: &str = "next-lone";
    const GROUP: &str = "next-lone-group";
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path()).await;
    let bootstrap = bootstrap(&broker);
    create_topic_at(&bootstrap, TOPIC, 4).await;
    produce_numbered(&bootstrap, TOPIC, 4, 0..25).await;

    let (tx, mut inbox) = Inbox::new();
    let member = consumer_protocol_member_at(&bootstrap, GROUP, &[]);
    member.subscribe(&[TOPIC]).unwrap();
    let task = drive(0, Arc::clone(&member), tx.clone());
    inbox
        .until("every record", |all| covers(all, &all_partitions(4), 0..25))
        .await;
    assert_payloads(&inbox.all);
    for p in 0..4 {
        // One owner from the start: each partition read once, in order.
        assert_eq!(offsets_of(&inbox.all, p), (0..25).collect::<Vec<_>>());
    }
    assert_eq!(assignment_of(&member), all_partitions(4));
    assert_eq!(
        member.context().events(),
        [RebalanceEvent::Assigned(all_partitions(4))]
    );
    assert_eq!(
        group_view(&broker, GROUP),
        Some((ConsumerGroupState::Stable, 1, 1))
    );

    // Closing leaves the group (epoch -1) at once; the group stays, empty.
    close(vec![member], vec![task]).await;
    let b = &broker;
    eventually("the member to leave", WAIT, || {
        group_view(b, GROUP)
            .is_some_and(|(state, _, n)| state == ConsumerGroupState::Empty && n == 0)
    })
    .await;
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_joining_member_takes_only_its_share_and_only_once_it_is_released() {
    const TOPIC: &str = "next-join";
    const GROUP: &str = "next-join-group";
    const PARTITIONS: i32 = 6;
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path()).await;
    let bootstrap = bootstrap(&broker);
    create_topic_at(&bootstrap, TOPIC, PARTITIONS).await;
    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 0..20).await;

    let (tx, mut inbox) = Inbox::new();
    let first = consumer_protocol_member_at(&bootstrap, GROUP, &[]);
    first.subscribe(&[TOPIC]).unwrap();
    let mut tasks = vec![drive(0, Arc::clone(&first), tx.clone())];
    inbox
        .until("the first member to read everything", |all| {
            covers(all, &all_partitions(PARTITIONS), 0..20)
        })
        .await;
    assert_eq!(assignment_of(&first), all_partitions(PARTITIONS));
    let before = first.context().events().len();

    let second = consumer_protocol_member_at(&bootstrap, GROUP, &[]);
    second.subscribe(&[TOPIC]).unwrap();
    tasks.push(drive(1, Arc::clone(&second), tx.clone()));
    let members = vec![Arc::clone(&first), Arc::clone(&second)];
    wait_for_split(&members, &[3, 3], PARTITIONS).await;
    let kept = assignment_of(&first);
    let moved = assignment_of(&second);

    // The first member gave up exactly what the second took, and nothing else: no revoking
    // everything and getting some back, as an eager rebalance would.
    let recorder = first.context();
    assert_eq!(recorder.revoked_since(before), moved);
    assert!(recorder.assigned_since(before).is_empty());
    assert!(second.context().revoked_since(0).is_empty());
    assert_eq!(second.context().assigned_since(0), moved);
    // Each moved partition reached the second member only after the first revoked it.
    for &p in &moved {
        let revoked = first_time(&first, before, p, true).unwrap();
        let assigned = first_time(&second, 0, p, false).unwrap();
        assert!(
            revoked < assigned,
            "partition {p} assigned before it was revoked"
        );
    }
    let b = &broker;
    eventually("the group to settle", WAIT, || {
        group_view(b, GROUP).is_some_and(|(state, epoch, n)| {
            state == ConsumerGroupState::Stable && epoch == 2 && n == 2
        })
    })
    .await;

    // Everything produced from now on is read by the partition's owner; nothing is lost.
    let received_before = inbox.all.len();
    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 20..40).await;
    inbox
        .until("every record", |all| {
            covers(all, &all_partitions(PARTITIONS), 0..40)
        })
        .await;
    assert_payloads(&inbox.all);
    let owners = [kept, moved];
    for r in inbox.all[received_before..]
        .iter()
        .filter(|r| r.offset >= 20)
    {
        assert!(
            owners[r.member].contains(&r.partition),
            "member {} read partition {} it does not own",
            r.member,
            r.partition
        );
    }
    drop(tx);
    close(members, tasks).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_that_closes_hands_its_partitions_to_the_other() {
    const TOPIC: &str = "next-leave";
    const GROUP: &str = "next-leave-group";
    const PARTITIONS: i32 = 6;
    let dir = tempfile::tempdir().unwrap();
    // A long session: the hand-over below must come from the leave, not from an expiry.
    let broker = start(dir.path(), |c| {
        c.group_consumer_heartbeat_interval_ms = 200;
        c.group_consumer_session_timeout_ms = 120_000;
    })
    .await;
    let bootstrap = bootstrap(&broker);
    create_topic_at(&bootstrap, TOPIC, PARTITIONS).await;

    let (tx, mut inbox) = Inbox::new();
    let mut members = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..2 {
        let member = consumer_protocol_member_at(&bootstrap, GROUP, &[]);
        member.subscribe(&[TOPIC]).unwrap();
        tasks.push(drive(i, Arc::clone(&member), tx.clone()));
        members.push(member);
    }
    wait_for_split(&members, &[3, 3], PARTITIONS).await;
    let stays = Arc::clone(&members[0]);
    let kept = assignment_of(&stays);
    let before = stays.context().events().len();

    let leaver = members.pop().unwrap();
    let left = assignment_of(&leaver);
    let task = tasks.pop().unwrap();
    close(vec![leaver], vec![task]).await;
    let watched = Arc::clone(&stays);
    eventually(
        "the remaining member to own every partition",
        Duration::from_secs(20),
        move || {
            assignment_of(&watched) == all_partitions(PARTITIONS) && callbacks_caught_up(&watched)
        },
    )
    .await;
    // It kept its own partitions throughout and was given the leaver's.
    assert!(stays.context().revoked_since(before).is_empty());
    assert_eq!(stays.context().assigned_since(before), left);
    assert!(kept.is_disjoint(&left));
    assert_eq!(group_view(&broker, GROUP).map(|(_, _, n)| n), Some(1));

    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 0..15).await;
    inbox
        .until("every record", |all| {
            covers(all, &all_partitions(PARTITIONS), 0..15)
        })
        .await;
    assert!(inbox.all.iter().all(|r| r.member == 0));
    assert_payloads(&inbox.all);
    drop(tx);
    close(members, tasks).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_classic_group_and_a_consumer_group_read_the_same_topic_side_by_side() {
    const TOPIC: &str = "next-side";
    const CLASSIC: &str = "side-classic";
    const NEXT: &str = "side-next";
    const PARTITIONS: i32 = 3;
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path()).await;
    let bootstrap = bootstrap(&broker);
    create_topic_at(&bootstrap, TOPIC, PARTITIONS).await;
    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 0..15).await;

    let classic = group_member_at(
        &bootstrap,
        CLASSIC,
        &[("partition.assignment.strategy", "range")],
    );
    let next = consumer_protocol_member_at(&bootstrap, NEXT, &[("group.remote.assignor", "range")]);
    let (tx, mut inbox) = Inbox::new();
    let mut tasks = Vec::new();
    for (i, member) in [&classic, &next].into_iter().enumerate() {
        member.subscribe(&[TOPIC]).unwrap();
        tasks.push(drive(i, Arc::clone(member), tx.clone()));
    }
    inbox
        .until("both groups to read everything", |all| {
            let of = |m: usize| -> Vec<Received> {
                all.iter().filter(|r| r.member == m).cloned().collect()
            };
            covers(&of(0), &all_partitions(PARTITIONS), 0..15)
                && covers(&of(1), &all_partitions(PARTITIONS), 0..15)
        })
        .await;
    assert_payloads(&inbox.all);

    // Both commit, each by its own protocol's rules (OffsetCommit v9 with the member epoch
    // for the consumer group).
    let mut offsets = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        offsets
            .add_partition_offset(TOPIC, p, Offset::Offset(15))
            .unwrap();
    }
    classic.commit(&offsets, CommitMode::Sync).unwrap();
    next.commit(&offsets, CommitMode::Sync).unwrap();
    for group in [CLASSIC, NEXT] {
        let committed = broker.state().groups.committed(group);
        assert_eq!(committed.len(), 3, "{group}");
        assert!(committed.values().all(|c| c.offset == 15), "{group}");
    }

    // ListGroups shows both kinds; DescribeGroups knows only the classic one, as in Kafka;
    // ConsumerGroupDescribe describes the other.
    let mut stream = TcpStream::connect(broker.local_addr()).await.unwrap();
    let listed: ListGroupsResponse = exchange(
        &mut stream,
        ApiKey::ListGroups,
        5,
        1,
        &ListGroupsRequest::default(),
    )
    .await;
    let kinds: BTreeMap<String, (String, String, String)> = listed
        .groups
        .iter()
        .map(|g| {
            (
                g.group_id.0.to_string(),
                (
                    g.group_type.to_string(),
                    g.protocol_type.to_string(),
                    g.group_state.to_string(),
                ),
            )
        })
        .collect();
    assert_eq!(
        kinds[CLASSIC],
        ("classic".into(), "consumer".into(), "Stable".into())
    );
    assert_eq!(
        kinds[NEXT],
        ("consumer".into(), "consumer".into(), "Stable".into())
    );
    let only_consumer =
        ListGroupsRequest::default().with_types_filter(vec![StrBytes::from_static_str("Consumer")]);
    let listed: ListGroupsResponse =
        exchange(&mut stream, ApiKey::ListGroups, 5, 2, &only_consumer).await;
    let ids: Vec<String> = listed
        .groups
        .iter()
        .map(|g| g.group_id.0.to_string())
        .collect();
    assert_eq!(ids, [NEXT]);

    let described: DescribeGroupsResponse = exchange(
        &mut stream,
        ApiKey::DescribeGroups,
        5,
        3,
        &DescribeGroupsRequest::default().with_groups(vec![
            GroupId(StrBytes::from_static_str(CLASSIC)),
            GroupId(StrBytes::from_static_str(NEXT)),
        ]),
    )
    .await;
    assert_eq!(described.groups[0].group_state.as_str(), "Stable");
    assert_eq!(described.groups[0].members.len(), 1);
    assert_eq!(described.groups[1].group_state.as_str(), "Dead");
    assert!(described.groups[1].members.is_empty());

    let described: ConsumerGroupDescribeResponse = exchange(
        &mut stream,
        ApiKey::ConsumerGroupDescribe,
        1,
        4,
        &ConsumerGroupDescribeRequest::default().with_group_ids(vec![
            GroupId(StrBytes::from_static_str(NEXT)),
            GroupId(StrBytes::from_static_str(CLASSIC)),
        ]),
    )
    .await;
    let group = &described.groups[0];
    assert_eq!(group.error_code, 0);
    assert_eq!(group.group_state.as_str(), "Stable");
    assert_eq!(group.assignor_name.as_str(), "range");
    assert_eq!((group.group_epoch, group.assignment_epoch), (1, 1));
    let member = &group.members[0];
    assert_eq!(member.member_epoch, 1);
    assert_eq!(member.member_type, 1);
    assert_eq!(member.client_host.as_str(), "/127.0.0.1");
    assert_eq!(member.subscribed_topic_names[0].0.as_str(), TOPIC);
    let topics = &member.assignment.topic_partitions;
    assert_eq!(topics.len(), 1);
    assert_eq!(topics[0].topic_name.0.as_str(), TOPIC);
    assert_eq!(topics[0].partitions, [0, 1, 2]);
    assert_eq!(member.target_assignment, member.assignment);
    assert_eq!(
        described.groups[1].error_code, 69,
        "a classic group is not found"
    );
    {
        let groups = broker.state().groups.lock();
        let consumer = groups[NEXT].consumer.as_ref().unwrap();
        assert!(consumer
            .members()
            .all(|m| m.state == MemberState::Stable && m.epoch == 1));
    }

    drop(tx);
    close(vec![classic, next], tasks).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_consumer_resumes_from_the_committed_offsets() {
    const TOPIC: &str = "next-resume";
    const GROUP: &str = "next-resume-group";
    const PARTITIONS: i32 = 4;
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path()).await;
    let bootstrap = bootstrap(&broker);
    create_topic_at(&bootstrap, TOPIC, PARTITIONS).await;
    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 0..20).await;

    let (tx, mut inbox) = Inbox::new();
    let first = consumer_protocol_member_at(&bootstrap, GROUP, &[]);
    first.subscribe(&[TOPIC]).unwrap();
    let task = drive(0, Arc::clone(&first), tx.clone());
    inbox
        .until("every record", |all| {
            covers(all, &all_partitions(PARTITIONS), 0..20)
        })
        .await;
    // Commit a different position per partition, below what was read.
    let committed: BTreeMap<i32, i64> =
        (0..PARTITIONS).map(|p| (p, 5 + 3 * i64::from(p))).collect();
    let mut offsets = TopicPartitionList::new();
    for (&p, &o) in &committed {
        offsets
            .add_partition_offset(TOPIC, p, Offset::Offset(o))
            .unwrap();
    }
    first.commit(&offsets, CommitMode::Sync).unwrap();
    close(vec![first], vec![task]).await;
    drop(tx);

    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 20..30).await;
    let (tx, mut inbox) = Inbox::new();
    let second = consumer_protocol_member_at(&bootstrap, GROUP, &[]);
    second.subscribe(&[TOPIC]).unwrap();
    let task = drive(1, Arc::clone(&second), tx.clone());
    inbox
        .until("every partition from its committed offset", |all| {
            committed
                .iter()
                .all(|(&p, &from)| covers(all, &BTreeSet::from([p]), from..30))
        })
        .await;
    assert_payloads(&inbox.all);
    for (&p, &from) in &committed {
        assert_eq!(
            offsets_of(&inbox.all, p),
            (from..30).collect::<Vec<_>>(),
            "partition {p} resumes exactly at its committed offset {from}"
        );
    }
    drop(tx);
    close(vec![second], vec![task]).await;
    broker.shutdown().await.unwrap();
}

/// The (topic, partition) pairs a consumer holds right now.
fn holdings(member: &GroupMember) -> BTreeSet<(String, i32)> {
    member
        .assignment()
        .map(|a| {
            a.elements()
                .iter()
                .map(|e| (e.topic().to_owned(), e.partition()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn new_partitions_and_new_topics_matching_a_regex_are_assigned() {
    use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
    use rdkafka::client::DefaultClientContext;
    const GROUP: &str = "next-grow-group";
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path()).await;
    let bootstrap = bootstrap(&broker);
    create_topic_at(&bootstrap, "grow-a", 1).await;
    create_topic_at(&bootstrap, "other", 1).await;

    // librdkafka sends subscriptions starting with ^ as a regular expression.
    let member = consumer_protocol_member_at(&bootstrap, GROUP, &[]);
    member.subscribe(&["^grow-.*"]).unwrap();
    let (tx, mut inbox) = Inbox::new();
    let task = drive(0, Arc::clone(&member), tx.clone());
    let watched = Arc::clone(&member);
    eventually("grow-a to be assigned", WAIT, move || {
        holdings(&watched) == BTreeSet::from([("grow-a".to_owned(), 0)])
    })
    .await;

    let admin: AdminClient<DefaultClientContext> =
        common::client_config_at(&bootstrap).create().unwrap();
    let options = AdminOptions::new().operation_timeout(Some(WAIT));
    let grown = admin
        .create_partitions(&[NewPartitions::new("grow-a", 3)], &options)
        .await
        .unwrap();
    assert!(grown[0].is_ok(), "{grown:?}");
    create_topic_at(&bootstrap, "grow-b", 2).await;
    let watched = Arc::clone(&member);
    let wanted: BTreeSet<(String, i32)> = [
        ("grow-a", 0),
        ("grow-a", 1),
        ("grow-a", 2),
        ("grow-b", 0),
        ("grow-b", 1),
    ]
    .into_iter()
    .map(|(t, p)| (t.to_owned(), p))
    .collect();
    let expected = wanted.clone();
    eventually(
        "the new partitions and topic to be assigned",
        WAIT,
        move || holdings(&watched) == expected,
    )
    .await;

    // The new partitions are read like the old.
    produce_numbered(&bootstrap, "grow-b", 2, 0..5).await;
    inbox
        .until("grow-b's records", |all| {
            covers(all, &all_partitions(2), 0..5)
        })
        .await;
    assert_payloads(&inbox.all);
    drop(tx);
    close(vec![member], vec![task]).await;
    broker.shutdown().await.unwrap();
}
