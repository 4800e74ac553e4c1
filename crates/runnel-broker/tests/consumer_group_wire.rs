//! Raw-protocol tests of the consumer group protocol (ConsumerGroupHeartbeat,
//! ConsumerGroupDescribe, and commits by member epoch): the error codes a member can meet.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use common::{bootstrap, create_topic_at, start, Raw};

const FENCED_MEMBER_EPOCH: i16 = 110;
const UNKNOWN_MEMBER_ID: i16 = 25;
const STALE_MEMBER_EPOCH: i16 = 113;
const INVALID_REQUEST: i16 = 42;
const UNSUPPORTED_ASSIGNOR: i16 = 112;
const INVALID_REGULAR_EXPRESSION: i16 = 128;
const GROUP_ID_NOT_FOUND: i16 = 69;
const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
const UNRELEASED_INSTANCE_ID: i16 = 111;
const UNSUPPORTED_VERSION: i16 = 35;

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

/// A first heartbeat: epoch 0, subscribing to `topics`.
fn join(group: &str, member: &str, topics: &[&str]) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(s(member))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(topics.iter().map(|t| TopicName(s(t))).collect()))
        .with_topic_partitions(Some(vec![]))
}

fn beat(group: &str, member: &str, epoch: i32) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(s(member))
        .with_member_epoch(epoch)
}

/// Requests of this file on a [`Raw`] connection.
trait ConsumerGroupCalls {
    async fn heartbeat(
        &mut self,
        request: ConsumerGroupHeartbeatRequest,
    ) -> ConsumerGroupHeartbeatResponse;
    async fn commit(
        &mut self,
        version: i16,
        group: &str,
        member: &str,
        epoch: i32,
        topic: &str,
    ) -> i16;
}

impl ConsumerGroupCalls for Raw {
    async fn heartbeat(
        &mut self,
        request: ConsumerGroupHeartbeatRequest,
    ) -> ConsumerGroupHeartbeatResponse {
        self.call(ApiKey::ConsumerGroupHeartbeat, 1, &request).await
    }

    /// OffsetCommit of offset 1 on partition 0 of `topic`; the partition's error code.
    async fn commit(
        &mut self,
        version: i16,
        group: &str,
        member: &str,
        epoch: i32,
        topic: &str,
    ) -> i16 {
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_member_id(s(member))
            .with_generation_id_or_member_epoch(epoch)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s(topic)))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(1)])]);
        let response: OffsetCommitResponse =
            self.call(ApiKey::OffsetCommit, version, &request).await;
        response.topics[0].partitions[0].error_code
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_epochs_are_enforced_on_heartbeats_commits_and_fetches() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    create_topic_at(&bootstrap(&broker), "raw-next", 2).await;
    let topic_id = broker.state().topics.get("raw-next").unwrap().id;
    let mut raw = Raw::connect(&broker).await;

    let versions: ApiVersionsResponse = raw
        .call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default())
        .await;
    for api in [
        ApiKey::ConsumerGroupHeartbeat,
        ApiKey::ConsumerGroupDescribe,
    ] {
        let advertised = versions
            .api_keys
            .iter()
            .find(|k| k.api_key == api as i16)
            .unwrap();
        assert_eq!(
            (advertised.min_version, advertised.max_version),
            (0, 1),
            "{api:?}"
        );
    }

    let joined = raw.heartbeat(join("g", "m1", &["raw-next"])).await;
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.member_id.as_deref(), Some("m1"));
    assert_eq!(joined.member_epoch, 1);
    assert_eq!(joined.heartbeat_interval_ms, 5000);
    let assignment = joined.assignment.unwrap();
    assert_eq!(assignment.topic_partitions.len(), 1);
    assert_eq!(assignment.topic_partitions[0].topic_id, topic_id);
    assert_eq!(assignment.topic_partitions[0].partitions, [0, 1]);

    // Epochs the member does not have are fenced; it must rejoin.
    let fenced = raw.heartbeat(beat("g", "m1", 5)).await;
    assert_eq!(fenced.error_code, FENCED_MEMBER_EPOCH);
    assert!(fenced.error_message.unwrap().contains("epoch 5"));
    // An acknowledgement at the current epoch is fine, and carries no assignment when
    // nothing changed.
    let acked = raw
        .heartbeat(
            beat("g", "m1", 1).with_topic_partitions(Some(vec![TopicPartitions::default()
                .with_topic_id(topic_id)
                .with_partitions(vec![0, 1])])),
        )
        .await;
    assert_eq!((acked.error_code, acked.member_epoch), (0, 1));
    assert!(acked.assignment.is_none());

    // Members and groups the broker does not know.
    assert_eq!(
        raw.heartbeat(beat("g", "ghost", 1)).await.error_code,
        UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        raw.heartbeat(beat("nowhere", "m1", 1)).await.error_code,
        UNKNOWN_MEMBER_ID
    );

    // OffsetCommit v9 carries the member epoch: only the current one commits.
    assert_eq!(
        raw.commit(9, "g", "m1", 0, "raw-next").await,
        STALE_MEMBER_EPOCH
    );
    assert_eq!(
        raw.commit(9, "g", "ghost", 1, "raw-next").await,
        UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        raw.commit(8, "g", "m1", 1, "raw-next").await,
        UNSUPPORTED_VERSION
    );
    assert_eq!(raw.commit(9, "g", "m1", 1, "raw-next").await, 0);
    // An outsider's commit (epoch -1, no member) is refused while the group has members.
    assert_eq!(
        raw.commit(9, "g", "", -1, "raw-next").await,
        UNKNOWN_MEMBER_ID
    );

    // OffsetFetch v9 checks the member epoch when it names a member.
    let fetch = |member: Option<&str>, epoch: i32| {
        OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(s("g")))
            .with_member_id(member.map(s))
            .with_member_epoch(epoch)
            .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                .with_name(TopicName(s("raw-next")))
                .with_partition_indexes(vec![0])]))])
    };
    let stale: OffsetFetchResponse = raw
        .call(ApiKey::OffsetFetch, 9, &fetch(Some("m1"), 2))
        .await;
    assert_eq!(stale.groups[0].error_code, STALE_MEMBER_EPOCH);
    for (member, epoch) in [(Some("m1"), 1), (None, -1)] {
        let fetched: OffsetFetchResponse = raw
            .call(ApiKey::OffsetFetch, 9, &fetch(member, epoch))
            .await;
        assert_eq!(fetched.groups[0].error_code, 0);
        assert_eq!(
            fetched.groups[0].topics[0].partitions[0].committed_offset,
            1
        );
    }

    // Leaving (epoch -1): the member is gone, and so are its heartbeats.
    let left = raw.heartbeat(beat("g", "m1", -1)).await;
    assert_eq!((left.error_code, left.member_epoch), (0, -1));
    assert_eq!(
        raw.heartbeat(beat("g", "m1", 1)).await.error_code,
        UNKNOWN_MEMBER_ID
    );
    // An empty group takes outsiders' commits again.
    assert_eq!(raw.commit(9, "g", "", -1, "raw-next").await, 0);
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_joins_and_the_wrong_kind_of_group_get_kafkas_error_codes() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    create_topic_at(&bootstrap(&broker), "raw-kinds", 1).await;
    let mut raw = Raw::connect(&broker).await;

    let no_subscription = join("k", "m", &[]);
    assert_eq!(
        raw.heartbeat(no_subscription).await.error_code,
        INVALID_REQUEST
    );
    let no_member_id = join("k", "", &["raw-kinds"]);
    let refused = raw.heartbeat(no_member_id).await;
    assert_eq!(refused.error_code, INVALID_REQUEST);
    assert_eq!(
        refused.error_message.as_deref(),
        Some("the member id is empty (from version 1 the member picks it)")
    );
    // Version 0 predates client-chosen member ids: the broker names the member.
    let named: ConsumerGroupHeartbeatResponse = raw
        .call(
            ApiKey::ConsumerGroupHeartbeat,
            0,
            &join("k0", "", &["raw-kinds"]),
        )
        .await;
    assert_eq!(named.error_code, 0);
    assert!(!named.member_id.unwrap().is_empty());
    let sticky = join("k", "m", &["raw-kinds"]).with_server_assignor(Some(s("cooperative-sticky")));
    assert_eq!(raw.heartbeat(sticky).await.error_code, UNSUPPORTED_ASSIGNOR);
    let bad_regex = join("k", "m", &[]).with_subscribed_topic_regex(Some(s("raw-(")));
    assert_eq!(
        raw.heartbeat(bad_regex).await.error_code,
        INVALID_REGULAR_EXPRESSION
    );
    // A regular expression alone subscribes (whole names match).
    let by_regex = raw
        .heartbeat(join("k", "m", &[]).with_subscribed_topic_regex(Some(s("raw-k.*"))))
        .await;
    assert_eq!(by_regex.error_code, 0);
    assert_eq!(by_regex.assignment.unwrap().topic_partitions.len(), 1);

    // A classic group with a member refuses consumer group members...
    let classic = JoinGroupRequest::default()
        .with_group_id(GroupId(s("classic")))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(Bytes::new())]);
    let joined: JoinGroupResponse = raw.call(ApiKey::JoinGroup, 3, &classic).await;
    assert_eq!(joined.error_code, 0);
    let refused = raw.heartbeat(join("classic", "m", &["raw-kinds"])).await;
    assert_eq!(refused.error_code, GROUP_ID_NOT_FOUND);
    // ...and a consumer group with a member refuses classic members.
    let refused: JoinGroupResponse = raw
        .call(
            ApiKey::JoinGroup,
            3,
            &classic.clone().with_group_id(GroupId(s("k"))),
        )
        .await;
    assert_eq!(refused.error_code, INCONSISTENT_GROUP_PROTOCOL);

    // Each describe API knows its own kind only.
    let described: ConsumerGroupDescribeResponse = raw
        .call(
            ApiKey::ConsumerGroupDescribe,
            0,
            &ConsumerGroupDescribeRequest::default().with_group_ids(vec![
                GroupId(s("k")),
                GroupId(s("classic")),
                GroupId(s("nobody")),
            ]),
        )
        .await;
    let codes: Vec<i16> = described.groups.iter().map(|g| g.error_code).collect();
    assert_eq!(codes, [0, GROUP_ID_NOT_FOUND, GROUP_ID_NOT_FOUND]);
    assert_eq!(
        described.groups[0].members[0]
            .subscribed_topic_regex
            .as_deref(),
        Some("raw-k.*")
    );
    let described: DescribeGroupsResponse = raw
        .call(
            ApiKey::DescribeGroups,
            5,
            &DescribeGroupsRequest::default().with_groups(vec![GroupId(s("k"))]),
        )
        .await;
    assert_eq!(described.groups[0].group_state.as_str(), "Dead");

    // Once the consumer group is empty a classic member may take the group id over.
    assert_eq!(raw.heartbeat(beat("k", "m", -1)).await.error_code, 0);
    let joined: JoinGroupResponse = raw
        .call(
            ApiKey::JoinGroup,
            3,
            &classic.with_group_id(GroupId(s("k"))),
        )
        .await;
    assert_eq!(joined.error_code, 0);
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_away_keeps_its_partitions_for_its_successor() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    create_topic_at(&bootstrap(&broker), "raw-static", 2).await;
    let mut raw = Raw::connect(&broker).await;
    let with_instance = |r: ConsumerGroupHeartbeatRequest| r.with_instance_id(Some(s("host-1")));

    let first = raw
        .heartbeat(with_instance(join("st", "a1", &["raw-static"])))
        .await;
    assert_eq!(first.member_epoch, 1);
    // Another member id with the same instance id, while the first is active.
    let clash = raw
        .heartbeat(with_instance(join("st", "a2", &["raw-static"])))
        .await;
    assert_eq!(clash.error_code, UNRELEASED_INSTANCE_ID);

    // Away for now (epoch -2): no rebalance, the partitions wait for the instance.
    let away = raw.heartbeat(with_instance(beat("st", "a1", -2))).await;
    assert_eq!((away.error_code, away.member_epoch), (0, -2));
    // A newcomer's share is still held by the member away: it waits.
    let other = raw.heartbeat(join("st", "b", &["raw-static"])).await;
    assert_eq!(other.member_epoch, 2);
    assert!(other.assignment.unwrap().topic_partitions.is_empty());
    // The instance comes back under a new member id: it takes over, gives up the newcomer's
    // share (it reports owning nothing), and the newcomer gets it.
    let back = raw
        .heartbeat(with_instance(join("st", "a2", &["raw-static"])))
        .await;
    assert_eq!((back.error_code, back.member_epoch), (0, 2));
    assert_eq!(back.assignment.unwrap().topic_partitions[0].partitions, [0]);
    let other = raw.heartbeat(beat("st", "b", 2)).await;
    assert_eq!(
        other.assignment.unwrap().topic_partitions[0].partitions,
        [1]
    );
    assert_eq!(
        raw.heartbeat(beat("st", "a1", 1)).await.error_code,
        UNKNOWN_MEMBER_ID
    );
    broker.shutdown().await.unwrap();
}
