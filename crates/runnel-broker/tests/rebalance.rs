//! Consumer group rebalances with librdkafka: a member leaving, a member dying (killed in
//! another process, so it stops heartbeating without leaving), and the cooperative-sticky
//! and roundrobin assignors; commits made while a rebalance is under way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, RebalanceProtocol,
    StreamConsumer,
};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::mpsc;

use common::members::{
    all_partitions, assignment_of, callbacks_caught_up, close, covers, drive, group_member_at,
    wait_for_split, GroupMember, Inbox, RebalanceEvent, Received,
};
use common::process::{exit_with_parent, ChildProcess};
use common::{bootstrap, client_config_at, create_topic_at, eventually, numbered};
use common::{produce_numbered, start};

const WAIT: Duration = Duration::from_secs(30);

fn commit(member: &GroupMember, topic: &str, offsets: &BTreeMap<i32, i64>) {
    let mut list = TopicPartitionList::new();
    for (&p, &o) in offsets {
        list.add_partition_offset(topic, p, Offset::Offset(o))
            .unwrap();
    }
    member.commit(&list, CommitMode::Sync).unwrap();
}

/// (state, protocol, member count) of a group, as ListGroups/DescribeGroups report it.
async fn describe(member: &Arc<GroupMember>, group: &str) -> (String, String, usize) {
    let member = Arc::clone(member);
    let group = group.to_owned();
    tokio::task::spawn_blocking(move || {
        let list = member.fetch_group_list(Some(&group), WAIT).unwrap();
        let g = &list.groups()[0];
        (
            g.state().to_owned(),
            g.protocol().to_owned(),
            g.members().len(),
        )
    })
    .await
    .unwrap()
}

/// Asserts every record came from the member that owned its partition, and its payload is
/// the one produced at that offset.
fn assert_from_owners(records: &[Received], owners: &[BTreeSet<i32>]) {
    for r in records {
        assert!(
            owners[r.member].contains(&r.partition),
            "member {} received partition {} it does not own ({owners:?})",
            r.member,
            r.partition
        );
        assert_eq!(r.payload, numbered(r.partition, r.offset));
    }
}

/// The offsets of `partition` in `records`, in arrival order.
fn offsets_of(records: &[Received], partition: i32) -> Vec<i64> {
    records
        .iter()
        .filter(|r| r.partition == partition)
        .map(|r| r.offset)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_that_leaves_hands_its_partitions_over_from_the_committed_offsets() {
    const TOPIC: &str = "rebalance-leave";
    const GROUP: &str = "leave-group";
    const PARTITIONS: i32 = 6;
    let dir = tempfile::tempdir().unwrap();
    // Members that arrive within the delay join the first rebalance together.
    let broker = start(dir.path(), |c| c.group_initial_rebalance_delay_ms = 1000).await;
    let bootstrap = bootstrap(&broker);
    create_topic_at(&bootstrap, TOPIC, PARTITIONS).await;

    // A 30 s session: the hand-over below must come from the leave, not from an expiry.
    let settings = [
        ("partition.assignment.strategy", "range"),
        ("session.timeout.ms", "30000"),
    ];
    let (tx, mut inbox) = Inbox::new();
    let mut members = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..3 {
        let member = group_member_at(&bootstrap, GROUP, &settings);
        member.subscribe(&[TOPIC]).unwrap();
        tasks.push(drive(i, Arc::clone(&member), tx.clone()));
        members.push(member);
    }
    wait_for_split(&members, &[2, 2, 2], PARTITIONS).await;
    let owners: Vec<BTreeSet<i32>> = members.iter().map(|m| assignment_of(m)).collect();

    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 0..50).await;
    inbox
        .until("every record", |all| {
            covers(all, &all_partitions(PARTITIONS), 0..50)
        })
        .await;
    assert_from_owners(&inbox.all, &owners);

    // Members 0 and 1 commit everything they read; member 2 commits only offset 20 of its
    // partitions, so whoever takes them over must re-read 20..50 (at least once).
    let mut committed = BTreeMap::new();
    for (i, member) in members.iter().enumerate() {
        let offsets: BTreeMap<i32, i64> = owners[i]
            .iter()
            .map(|&p| (p, if i == 2 { 20 } else { 50 }))
            .collect();
        commit(member, TOPIC, &offsets);
        committed.extend(offsets);
    }
    let events_before: Vec<usize> = members.iter().map(|m| m.context().events().len()).collect();
    let received_before = inbox.all.len();

    // Member 2 stops receiving and closes, which leaves the group.
    let leaver = members.pop().unwrap();
    let task = tasks.pop().unwrap();
    task.abort();
    let _ = task.await;
    tokio::task::spawn_blocking(move || drop(leaver))
        .await
        .unwrap();
    let survivors = members.clone();
    let since = events_before.clone();
    // Well within the 30 s session timeout: only a LeaveGroup explains the hand-over. The
    // rebalance callbacks run on the consumers' own threads: wait until both recorded theirs.
    eventually(
        "the two remaining members to own all six partitions",
        Duration::from_secs(20),
        move || {
            let a = assignment_of(&survivors[0]);
            let b = assignment_of(&survivors[1]);
            let recorded = |i: usize, owned: &BTreeSet<i32>| {
                survivors[i]
                    .context()
                    .assigned_since(since[i])
                    .is_superset(owned)
            };
            a.len() == 3
                && b.len() == 3
                && a.union(&b).count() == 6
                && recorded(0, &a)
                && recorded(1, &b)
        },
    )
    .await;
    let new_owners: Vec<BTreeSet<i32>> = members.iter().map(|m| assignment_of(m)).collect();
    for (i, member) in members.iter().enumerate() {
        // Eager (range) rebalance: everything revoked, then the new share assigned.
        let recorder = member.context();
        assert_eq!(recorder.revoked_since(events_before[i]), owners[i]);
        assert!(recorder
            .assigned_since(events_before[i])
            .is_superset(&new_owners[i]));
    }
    assert_eq!(describe(&members[0], GROUP).await.2, 2);

    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 50..60).await;
    inbox
        .until("every partition from its committed offset", |all| {
            let after = &all[received_before..];
            committed
                .iter()
                .all(|(&p, &from)| covers(after, &BTreeSet::from([p]), from..60))
        })
        .await;
    let after = &inbox.all[received_before..];
    assert_from_owners(after, &new_owners);
    for (&p, &from) in &committed {
        // Consumption resumed exactly at the committed offset, in order, nothing skipped.
        assert_eq!(
            offsets_of(after, p),
            (from..60).collect::<Vec<_>>(),
            "partition {p} after the leave (committed {from})"
        );
    }
    // At least once over the whole run: no record of any partition was missed.
    assert!(covers(&inbox.all, &all_partitions(PARTITIONS), 0..60));
    drop(tx);
    close(members, tasks).await;
    broker.shutdown().await.unwrap();
}

/// The entry test a member child runs (see [`member_process_entry`]).
const MEMBER_ENTRY: &str = "member_process_entry";
const MEMBER_BOOTSTRAP_ENV: &str = "RUNNEL_TEST_MEMBER_BOOTSTRAP";
const MEMBER_GROUP_ENV: &str = "RUNNEL_TEST_MEMBER_GROUP";
const MEMBER_TOPIC_ENV: &str = "RUNNEL_TEST_MEMBER_TOPIC";
const MEMBER_SESSION_ENV: &str = "RUNNEL_TEST_MEMBER_SESSION_MS";
/// Heartbeat interval of the member child.
const MEMBER_HEARTBEAT_MS: u64 = 200;

/// Does nothing in a normal run. In a child started by the test below it is a group member
/// that reports on stdout, one line each, `assigned P,P,..`, `consumed P O` (before it
/// commits) and `committed P O` (after the commit succeeded), and runs until killed.
#[test]
fn member_process_entry() {
    let Ok(bootstrap) = std::env::var(MEMBER_BOOTSTRAP_ENV) else {
        return;
    };
    exit_with_parent();
    common::init_tracing();
    let var = |name: &str| std::env::var(name).unwrap();
    let consumer: BaseConsumer = client_config_at(&bootstrap)
        .set("group.id", var(MEMBER_GROUP_ENV))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "range")
        .set("session.timeout.ms", var(MEMBER_SESSION_ENV))
        .set("heartbeat.interval.ms", MEMBER_HEARTBEAT_MS.to_string())
        .create()
        .unwrap();
    consumer.subscribe(&[&var(MEMBER_TOPIC_ENV)]).unwrap();
    let report = |line: String| {
        let mut out = std::io::stdout().lock();
        writeln!(out, "@member {line}").unwrap();
        out.flush().unwrap();
    };
    let mut reported: Option<BTreeSet<i32>> = None;
    loop {
        if let Some(result) = consumer.poll(Duration::from_millis(20)) {
            match result {
                Ok(m) => {
                    report(format!("consumed {} {}", m.partition(), m.offset()));
                    consumer.commit_message(&m, CommitMode::Sync).unwrap();
                    report(format!("committed {} {}", m.partition(), m.offset() + 1));
                }
                Err(e) => report(format!("error {e}")),
            }
        }
        let now: BTreeSet<i32> = consumer
            .assignment()
            .map(|a| a.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default();
        if reported.as_ref() != Some(&now) {
            let list: Vec<String> = now.iter().map(i32::to_string).collect();
            report(format!("assigned {}", list.join(",")));
            reported = Some(now);
        }
    }
}

/// What the parent knows of the member child, from its reports.
#[derive(Debug, Default)]
struct ChildMember {
    assigned: BTreeSet<i32>,
    consumed: BTreeSet<(i32, i64)>,
    committed: BTreeMap<i32, i64>,
}

impl ChildMember {
    fn apply(&mut self, line: &str) {
        let words: Vec<&str> = line.split(' ').collect();
        let num = |i: usize| words[i].parse::<i64>().unwrap();
        match words[0] {
            "assigned" => {
                self.assigned = words
                    .get(1)
                    .filter(|w| !w.is_empty())
                    .map(|w| w.split(',').map(|p| p.parse().unwrap()).collect())
                    .unwrap_or_default();
            }
            "consumed" => {
                self.consumed.insert((num(1) as i32, num(2)));
            }
            "committed" => {
                self.committed.insert(num(1) as i32, num(2));
            }
            _ => eprintln!("member child: {line}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_that_stops_heartbeating_loses_its_partitions_after_its_session_timeout() {
    const TOPIC: &str = "rebalance-dead";
    const GROUP: &str = "dead-group";
    const PARTITIONS: i32 = 4;
    const SESSION_MS: u64 = 2000;
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| c.group_min_session_timeout_ms = 1000).await;
    let bootstrap = bootstrap(&broker);
    create_topic_at(&bootstrap, TOPIC, PARTITIONS).await;

    // The member that will die, in a child process with a short session. It joins first,
    // so it is the group's leader: its death also makes the survivor the new leader.
    let mut child = ChildProcess::spawn(
        MEMBER_ENTRY,
        &[
            (MEMBER_BOOTSTRAP_ENV, bootstrap.clone().into()),
            (MEMBER_GROUP_ENV, GROUP.into()),
            (MEMBER_TOPIC_ENV, TOPIC.into()),
            (MEMBER_SESSION_ENV, SESSION_MS.to_string().into()),
        ],
        dir.path(),
        true,
    );
    let stdout = child.take_stdout().unwrap();
    let (lines_tx, mut lines) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The test harness prints "test member_process_entry ... " without ending the
            // line, so a report may follow other text.
            match line.split_once("@member ") {
                Some((_, report)) => {
                    if lines_tx.send(report.to_owned()).is_err() {
                        break;
                    }
                }
                // The child's own log lines, shown with this test's output on failure.
                None => eprintln!("[member child] {line}"),
            }
        }
    });
    let mut dying = ChildMember::default();
    // Polls until `done` holds, taking in the child's reports (bounded by WAIT).
    macro_rules! wait_for {
        ($what:expr, $done:expr) => {{
            let deadline = Instant::now() + WAIT;
            loop {
                while let Ok(line) = lines.try_recv() {
                    dying.apply(&line);
                }
                if $done(&dying) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting for {}; child {dying:?}; its log:\n{}",
                    $what,
                    child.log()
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }};
    }

    wait_for!("the child alone to own everything", |d: &ChildMember| d
        .assigned
        == all_partitions(PARTITIONS));

    // The survivor, in this process, with a long session.
    let survivor = group_member_at(
        &bootstrap,
        GROUP,
        &[
            ("partition.assignment.strategy", "range"),
            ("session.timeout.ms", "30000"),
        ],
    );
    survivor.subscribe(&[TOPIC]).unwrap();
    let (tx, mut inbox) = Inbox::new();
    let task = drive(0, Arc::clone(&survivor), tx);
    wait_for!("a two-two split", |d: &ChildMember| {
        let mine = assignment_of(&survivor);
        mine.len() == 2
            && d.assigned.len() == 2
            && mine.union(&d.assigned).count() == PARTITIONS as usize
    });
    let owned_by_survivor = assignment_of(&survivor);
    let owned_by_child = dying.assigned.clone();

    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 0..10).await;
    inbox
        .until("the survivor's records", |all| {
            covers(all, &owned_by_survivor, 0..10)
        })
        .await;
    let done: BTreeMap<i32, i64> = owned_by_child.iter().map(|&p| (p, 10)).collect();
    wait_for!("the child to commit all it read", |d: &ChildMember| d
        .committed
        == done);
    assert_eq!(
        dying.consumed,
        owned_by_child
            .iter()
            .flat_map(|&p| (0..10).map(move |o| (p, o)))
            .collect::<BTreeSet<_>>()
    );
    commit(
        &survivor,
        TOPIC,
        &owned_by_survivor.iter().map(|&p| (p, 10)).collect(),
    );
    let events_before = survivor.context().events().len();
    let received_before = inbox.all.len();

    // SIGKILL: no LeaveGroup, no more heartbeats. Only the session timeout can tell.
    let killed_at = Instant::now();
    child.kill();
    let watched = Arc::clone(&survivor);
    eventually(
        "the survivor to own every partition",
        Duration::from_secs(20),
        move || assignment_of(&watched) == all_partitions(PARTITIONS),
    )
    .await;
    let moved_after = killed_at.elapsed();
    // Not on the kill itself (a closed connection is no leave), but once the session ran
    // out: the last heartbeat came about one interval before the kill, so allow for slack.
    let earliest = Duration::from_millis(SESSION_MS / 2);
    assert!(
        moved_after >= earliest,
        "partitions moved {moved_after:?} after the kill, before the {SESSION_MS} ms session ran out"
    );
    let recorder = survivor.context();
    assert_eq!(recorder.revoked_since(events_before), owned_by_survivor);
    assert!(recorder
        .assigned_since(events_before)
        .is_superset(&all_partitions(PARTITIONS)));
    assert_eq!(describe(&survivor, GROUP).await.2, 1);

    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 10..20).await;
    inbox
        .until("every partition's new records", |all| {
            covers(&all[received_before..], &all_partitions(PARTITIONS), 10..20)
        })
        .await;
    let after = &inbox.all[received_before..];
    for p in 0..PARTITIONS {
        // The dead member's partitions resume at what it committed; nothing is re-read
        // below it and nothing is skipped.
        assert_eq!(
            offsets_of(after, p),
            (10..20).collect::<Vec<_>>(),
            "partition {p}"
        );
    }
    let everything: BTreeSet<(i32, i64)> = inbox
        .all
        .iter()
        .map(|r| (r.partition, r.offset))
        .chain(dying.consumed.iter().copied())
        .collect();
    assert_eq!(everything.len(), PARTITIONS as usize * 20, "no record lost");
    close(vec![survivor], vec![task]).await;
    broker.shutdown().await.unwrap();
    eprintln!("partitions moved {moved_after:?} after the kill (session {SESSION_MS} ms)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cooperative_sticky_moves_only_the_partitions_a_new_member_takes() {
    const TOPIC: &str = "rebalance-cooperative";
    const GROUP: &str = "cooperative-group";
    const PARTITIONS: i32 = 6;
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| c.group_initial_rebalance_delay_ms = 1000).await;
    let bootstrap = bootstrap(&broker);
    create_topic_at(&bootstrap, TOPIC, PARTITIONS).await;
    let settings = [("partition.assignment.strategy", "cooperative-sticky")];

    let (tx, mut inbox) = Inbox::new();
    let mut members = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..2 {
        let member = group_member_at(&bootstrap, GROUP, &settings);
        member.subscribe(&[TOPIC]).unwrap();
        tasks.push(drive(i, Arc::clone(&member), tx.clone()));
        members.push(member);
    }
    wait_for_split(&members, &[3, 3], PARTITIONS).await;
    assert!(matches!(
        members[0].rebalance_protocol(),
        RebalanceProtocol::Cooperative
    ));
    let before: Vec<BTreeSet<i32>> = members.iter().map(|m| assignment_of(m)).collect();
    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 0..5).await;
    inbox
        .until("every record", |all| {
            covers(all, &all_partitions(PARTITIONS), 0..5)
        })
        .await;
    assert_from_owners(&inbox.all, &before);
    for (i, member) in members.iter().enumerate() {
        commit(member, TOPIC, &before[i].iter().map(|&p| (p, 5)).collect());
    }
    let events_before: Vec<usize> = members.iter().map(|m| m.context().events().len()).collect();
    let received_before = inbox.all.len();

    let newcomer = group_member_at(&bootstrap, GROUP, &settings);
    newcomer.subscribe(&[TOPIC]).unwrap();
    tasks.push(drive(2, Arc::clone(&newcomer), tx.clone()));
    members.push(newcomer);
    wait_for_split(&members, &[2, 2, 2], PARTITIONS).await;
    let after: Vec<BTreeSet<i32>> = members.iter().map(|m| assignment_of(m)).collect();
    let mut moved = BTreeSet::new();
    for i in 0..2 {
        let recorder = members[i].context();
        // Sticky: each old member kept two of its three partitions and gained none.
        assert!(after[i].is_subset(&before[i]), "{before:?} -> {after:?}");
        let lost: BTreeSet<i32> = before[i].difference(&after[i]).copied().collect();
        // Incremental: only the partition that moved was revoked; none was (re)assigned.
        assert_eq!(recorder.revoked_since(events_before[i]), lost, "member {i}");
        assert_eq!(
            recorder.assigned_since(events_before[i]),
            BTreeSet::new(),
            "member {i}"
        );
        moved.extend(lost);
    }
    assert_eq!(after[2], moved);
    assert_eq!(members[2].context().assigned_since(0), moved);
    assert_eq!(members[2].context().revoked_since(0), BTreeSet::new());
    let (state, protocol, count) = describe(&members[0], GROUP).await;
    assert_eq!(
        (state.as_str(), protocol.as_str(), count),
        ("Stable", "cooperative-sticky", 3)
    );

    // Kept partitions were never interrupted and moved ones resume at the commit: every
    // new record arrives exactly once, at its owner.
    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 5..10).await;
    inbox
        .until("every new record", |all| {
            covers(&all[received_before..], &all_partitions(PARTITIONS), 5..10)
        })
        .await;
    let later = &inbox.all[received_before..];
    assert_from_owners(later, &after);
    for p in 0..PARTITIONS {
        assert_eq!(
            offsets_of(later, p),
            (5..10).collect::<Vec<_>>(),
            "partition {p}"
        );
    }
    close(members, tasks).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn roundrobin_deals_partitions_in_turn() {
    const TOPIC: &str = "rebalance-roundrobin";
    const GROUP: &str = "roundrobin-group";
    const PARTITIONS: i32 = 6;
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |c| c.group_initial_rebalance_delay_ms = 1000).await;
    let bootstrap = bootstrap(&broker);
    create_topic_at(&bootstrap, TOPIC, PARTITIONS).await;

    let (tx, mut inbox) = Inbox::new();
    let mut members = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..3 {
        let member = group_member_at(
            &bootstrap,
            GROUP,
            &[("partition.assignment.strategy", "roundrobin")],
        );
        member.subscribe(&[TOPIC]).unwrap();
        tasks.push(drive(i, Arc::clone(&member), tx.clone()));
        members.push(member);
    }
    wait_for_split(&members, &[2, 2, 2], PARTITIONS).await;
    let owners: Vec<BTreeSet<i32>> = members.iter().map(|m| assignment_of(m)).collect();
    // Dealt in turn over the members (range would give {0,1} {2,3} {4,5}).
    let shares: BTreeSet<BTreeSet<i32>> = owners.iter().cloned().collect();
    let dealt: BTreeSet<BTreeSet<i32>> = [[0, 3], [1, 4], [2, 5]]
        .into_iter()
        .map(BTreeSet::from)
        .collect();
    assert_eq!(shares, dealt);
    let (state, protocol, count) = describe(&members[0], GROUP).await;
    assert_eq!(
        (state.as_str(), protocol.as_str(), count),
        ("Stable", "roundrobin", 3)
    );

    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 0..5).await;
    inbox
        .until("every record", |all| {
            covers(all, &all_partitions(PARTITIONS), 0..5)
        })
        .await;
    assert_from_owners(&inbox.all, &owners);
    for p in 0..PARTITIONS {
        assert_eq!(offsets_of(&inbox.all, p), (0..5).collect::<Vec<_>>());
    }
    close(members, tasks).await;
    broker.shutdown().await.unwrap();
}

/// Commits a client sends one after the other take effect in that order, however many are
/// in flight: the last one sent is the one that stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipelined_commits_take_effect_in_the_order_they_were_sent() {
    const TOPIC: &str = "commit-order";
    const GROUP: &str = "commit-order-group";
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let bootstrap = bootstrap(&broker);
    create_topic_at(&bootstrap, TOPIC, 2).await;
    let member = group_member_at(&bootstrap, GROUP, &[]);
    let committing = Arc::clone(&member);
    tokio::task::spawn_blocking(move || {
        for round in 1..=20 {
            // Many asynchronous commits in flight, then a synchronous one: it is answered
            // after every earlier commit, and its offsets must be the ones that stay.
            for o in 1..100 {
                let mut list = TopicPartitionList::new();
                for p in 0..2 {
                    list.add_partition_offset(TOPIC, p, Offset::Offset(round * 1000 + o))
                        .unwrap();
                }
                committing.commit(&list, CommitMode::Async).unwrap();
            }
            let last = BTreeMap::from([(0, round * 1000 + 100), (1, round * 1000 + 100)]);
            commit(&committing, TOPIC, &last);
            let mut wanted = TopicPartitionList::new();
            wanted.add_partition(TOPIC, 0);
            wanted.add_partition(TOPIC, 1);
            let committed = committing.committed_offsets(wanted, WAIT).unwrap();
            for p in 0..2 {
                assert_eq!(
                    committed.find_partition(TOPIC, p).unwrap().offset(),
                    Offset::Offset(round * 1000 + 100),
                    "round {round}, partition {p}"
                );
            }
        }
    })
    .await
    .unwrap();
    close(vec![member], Vec::new()).await;
    broker.shutdown().await.unwrap();
}

/// A consumer context that, when partitions are revoked, synchronously commits the
/// position of every partition it consumed from, as an application that processes each
/// record as it arrives does, and records each commit's outcome.
#[derive(Debug, Default)]
struct CommitOnRevoke {
    commits: Mutex<Vec<Result<BTreeMap<i32, i64>, String>>>,
}

impl ClientContext for CommitOnRevoke {}

impl ConsumerContext for CommitOnRevoke {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if !matches!(rebalance, Rebalance::Revoke(_)) {
            return;
        }
        let mut list = TopicPartitionList::new();
        let mut offsets = BTreeMap::new();
        for e in consumer.position().unwrap().elements() {
            if let Offset::Offset(o) = e.offset() {
                list.add_partition_offset(e.topic(), e.partition(), Offset::Offset(o))
                    .unwrap();
                offsets.insert(e.partition(), o);
            }
        }
        let outcome = consumer
            .commit(&list, CommitMode::Sync)
            .map(|()| offsets)
            .map_err(|e| e.to_string());
        self.commits.lock().unwrap().push(outcome);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_in_the_revocation_callback_while_a_member_joins_loses_and_repeats_nothing() {
    const TOPIC: &str = "commit-on-revoke";
    const GROUP: &str = "commit-on-revoke-group";
    const PARTITIONS: i32 = 4;
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let bootstrap = bootstrap(&broker);
    create_topic_at(&bootstrap, TOPIC, PARTITIONS).await;
    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 0..50).await;

    let first: Arc<StreamConsumer<CommitOnRevoke>> = Arc::new(
        client_config_at(&bootstrap)
            .set("group.id", GROUP)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "range")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "300")
            .create_with_context(CommitOnRevoke::default())
            .unwrap(),
    );
    first.subscribe(&[TOPIC]).unwrap();
    let (tx, mut inbox) = Inbox::new();
    let mut tasks = vec![drive(0, Arc::clone(&first), tx.clone())];
    inbox
        .until("the first member to read everything", |all| {
            covers(all, &all_partitions(PARTITIONS), 0..50)
        })
        .await;

    // The second member's join makes the group prepare a rebalance; the first member,
    // told so by its heartbeat, commits from its revocation callback before rejoining.
    let second = group_member_at(
        &bootstrap,
        GROUP,
        &[("partition.assignment.strategy", "range")],
    );
    second.subscribe(&[TOPIC]).unwrap();
    tasks.push(drive(1, Arc::clone(&second), tx.clone()));
    let (a, b) = (Arc::clone(&first), Arc::clone(&second));
    eventually("a two-two split", WAIT, move || {
        let (mine, theirs) = (assignment_of(&a), assignment_of(&b));
        mine.len() == 2 && theirs.len() == 2 && mine.union(&theirs).count() == 4
    })
    .await;
    let commits = first.context().commits.lock().unwrap().clone();
    let everything_read: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 50)).collect();
    assert_eq!(commits.first(), Some(&Ok(everything_read)), "{commits:?}");

    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 50..60).await;
    inbox
        .until("the records produced after the rebalance", |all| {
            covers(all, &all_partitions(PARTITIONS), 0..60)
        })
        .await;
    let distinct: BTreeSet<(i32, i64)> =
        inbox.all.iter().map(|r| (r.partition, r.offset)).collect();
    assert_eq!(
        inbox.all.len(),
        distinct.len(),
        "records delivered twice: the second member did not start at the commit"
    );
    for r in &inbox.all {
        assert_eq!(r.payload, numbered(r.partition, r.offset));
    }
    drop(tx);
    for task in tasks {
        task.abort();
        let _ = task.await;
    }
    tokio::task::spawn_blocking(move || drop((first, second)))
        .await
        .unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_static_leader_that_restarts_gets_its_partitions_back_without_a_rebalance() {
    const TOPIC: &str = "static-restart";
    const GROUP: &str = "static-restart-group";
    const PARTITIONS: i32 = 4;
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let bootstrap = bootstrap(&broker);
    create_topic_at(&bootstrap, TOPIC, PARTITIONS).await;
    // A 30 s session: a restart noticed only by the session running out would take that long.
    let static_member = |instance: &str| {
        group_member_at(
            &bootstrap,
            GROUP,
            &[
                ("partition.assignment.strategy", "range"),
                ("session.timeout.ms", "30000"),
                ("group.instance.id", instance),
            ],
        )
    };

    // Alone first, so it leads the group; the second member's join keeps it leader.
    let (tx, mut inbox) = Inbox::new();
    let leader = static_member("static-leader");
    leader.subscribe(&[TOPIC]).unwrap();
    let leader_task = drive(0, Arc::clone(&leader), tx.clone());
    wait_for_split(&[Arc::clone(&leader)], &[4], PARTITIONS).await;
    let follower = static_member("static-follower");
    follower.subscribe(&[TOPIC]).unwrap();
    let follower_task = drive(1, Arc::clone(&follower), tx.clone());
    wait_for_split(
        &[Arc::clone(&leader), Arc::clone(&follower)],
        &[2, 2],
        PARTITIONS,
    )
    .await;
    let leader_owned = assignment_of(&leader);
    let follower_owned = assignment_of(&follower);
    let follower_events = follower.context().events();

    // The leader stops (a static member sends no LeaveGroup) and starts again.
    leader_task.abort();
    let _ = leader_task.await;
    tokio::task::spawn_blocking(move || drop(leader))
        .await
        .unwrap();
    let restarted_at = Instant::now();
    let restarted = static_member("static-leader");
    restarted.subscribe(&[TOPIC]).unwrap();
    let restarted_task = drive(2, Arc::clone(&restarted), tx.clone());
    let watched = Arc::clone(&restarted);
    let wanted = leader_owned.clone();
    eventually("the restarted leader's assignment", WAIT, move || {
        assignment_of(&watched) == wanted && callbacks_caught_up(&watched)
    })
    .await;
    let took = restarted_at.elapsed();
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_eq!(
        restarted.context().events(),
        vec![RebalanceEvent::Assigned(leader_owned.clone())]
    );
    // The follower saw nothing happen, and keeps its partitions.
    assert_eq!(follower.context().events(), follower_events);
    assert_eq!(assignment_of(&follower), follower_owned);
    assert_eq!(
        describe(&follower, GROUP).await,
        ("Stable".into(), "range".into(), 2)
    );

    // Each owner receives its partitions' new records.
    produce_numbered(&bootstrap, TOPIC, PARTITIONS, 0..5).await;
    inbox
        .until("every record", |all| {
            covers(all, &all_partitions(PARTITIONS), 0..5)
        })
        .await;
    for r in &inbox.all {
        let owner = if leader_owned.contains(&r.partition) {
            2
        } else {
            1
        };
        assert_eq!(r.member, owner, "{r:?}");
    }
    drop(tx);
    close(
        vec![follower, restarted],
        vec![follower_task, restarted_task],
    )
    .await;
    broker.shutdown().await.unwrap();
}
