//! `runnel group describe` for share groups: members and assignments (ShareGroupDescribe),
//! and per share-partition the start offset and delivery state (DescribeShareGroupOffsets,
//! whose Runnel extension tags carry the in-flight counts).

use std::io::{self, Write};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup;
use kafka_protocol::messages::describe_share_group_offsets_response::DescribeShareGroupOffsetsResponsePartition;
use kafka_protocol::messages::{
    ApiKey, DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse, GroupId,
    ShareGroupDescribeRequest, ShareGroupDescribeResponse,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use serde::Serialize;

use crate::admin::{call, check, open, version};
use crate::format::{write_fields, Table};
use crate::group::{assignment_text, TopicPartitions};
use crate::{CliError, Connection};

const DESCRIBE_VERSIONS: VersionRange = VersionRange { min: 1, max: 1 };
const OFFSETS_VERSIONS: VersionRange = VersionRange { min: 0, max: 0 };

/// Runnel's extension tags on DescribeShareGroupOffsets partitions, in column order.
const COUNT_TAGS: [(i32, &str); 5] = [
    (10_000, "IN-FLIGHT"),
    (10_001, "ACQUIRED"),
    (10_002, "AVAILABLE"),
    (10_003, "MAX-DELIVERIES"),
    (10_004, "DEAD-LETTERED"),
];

/// A share group: its members and assignments, and per share-partition its delivery state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareGroupDescription {
    pub group: String,
    pub state: String,
    pub epoch: i32,
    pub assignor: String,
    pub members: Vec<ShareMember>,
    pub partitions: Vec<SharePartition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareMember {
    pub id: String,
    pub client_id: String,
    pub host: String,
    pub epoch: i32,
    pub assignment: TopicPartitions,
}

/// One share-partition; a count is `None` when the broker did not send it (a broker
/// without Runnel's extension tags).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharePartition {
    pub topic: String,
    pub partition: i32,
    pub start_offset: i64,
    pub in_flight: Option<i64>,
    pub acquired: Option<i64>,
    pub available: Option<i64>,
    /// The highest delivery count among the in-flight records.
    pub max_deliveries: Option<i64>,
    pub dead_lettered: Option<i64>,
}

impl SharePartition {
    fn counts(&self) -> [Option<i64>; 5] {
        [
            self.in_flight,
            self.acquired,
            self.available,
            self.max_deliveries,
            self.dead_lettered,
        ]
    }
}

/// Prints `group` if it is a share group; `Ok(false)` when it is not one.
pub fn write_description(
    connection: &Connection,
    group: &str,
    out: &mut impl Write,
) -> Result<bool, CliError> {
    let Some(described) = describe(connection, group)? else {
        return Ok(false);
    };
    write(&described, out).map_err(CliError::Output)?;
    Ok(true)
}

/// Describes `group` if it is a share group; `Ok(None)` when it is not one (or the broker
/// has no share groups).
pub fn describe(
    connection: &Connection,
    group: &str,
) -> Result<Option<ShareGroupDescription>, CliError> {
    let mut broker = open(connection, &connection.bootstrap_server)?;
    let action = format!("describe share group {group}");
    let Ok(describe_version) = broker.version(ApiKey::ShareGroupDescribe, DESCRIBE_VERSIONS) else {
        return Ok(None);
    };
    let id = GroupId(StrBytes::from_string(group.to_owned()));
    let request = ShareGroupDescribeRequest::default().with_group_ids(vec![id.clone()]);
    let response: ShareGroupDescribeResponse = call(
        &mut broker,
        &action,
        ApiKey::ShareGroupDescribe,
        describe_version,
        &request,
    )?;
    let Some(described) = response.groups.into_iter().next() else {
        return Ok(None);
    };
    if described.error_code == ResponseError::GroupIdNotFound.code() {
        return Ok(None);
    }
    check(&action, described.error_code)?;

    let members = described
        .members
        .iter()
        .map(|member| ShareMember {
            id: member.member_id.to_string(),
            client_id: member.client_id.to_string(),
            host: member.client_host.to_string(),
            epoch: member.member_epoch,
            assignment: member
                .assignment
                .topic_partitions
                .iter()
                .map(|t| {
                    let mut partitions = t.partitions.clone();
                    partitions.sort_unstable();
                    (t.topic_name.0.to_string(), partitions)
                })
                .collect(),
        })
        .collect();

    let offsets_version = version(
        &broker,
        ApiKey::DescribeShareGroupOffsets,
        OFFSETS_VERSIONS,
        &action,
    )?;
    let request = DescribeShareGroupOffsetsRequest::default().with_groups(vec![
        DescribeShareGroupOffsetsRequestGroup::default()
            .with_group_id(id)
            .with_topics(None),
    ]);
    let offsets: DescribeShareGroupOffsetsResponse = call(
        &mut broker,
        &action,
        ApiKey::DescribeShareGroupOffsets,
        offsets_version,
        &request,
    )?;
    let mut partitions = Vec::new();
    for group in offsets.groups {
        check(&action, group.error_code)?;
        for topic in group.topics {
            for p in topic.partitions {
                let [in_flight, acquired, available, max_deliveries, dead_lettered] =
                    COUNT_TAGS.map(|(tag, _)| count(&p, tag));
                partitions.push(SharePartition {
                    topic: topic.topic_name.0.to_string(),
                    partition: p.partition_index,
                    start_offset: p.start_offset,
                    in_flight,
                    acquired,
                    available,
                    max_deliveries,
                    dead_lettered,
                });
            }
        }
    }
    Ok(Some(ShareGroupDescription {
        group: group.to_owned(),
        state: described.group_state.to_string(),
        epoch: described.group_epoch,
        assignor: described.assignor_name.to_string(),
        members,
        partitions,
    }))
}

/// The group's fields, its members, then its share-partitions.
fn write(described: &ShareGroupDescription, out: &mut impl Write) -> io::Result<()> {
    let mut members = Table::new(&["MEMBER-ID", "CLIENT-ID", "HOST", "EPOCH", "ASSIGNMENT"]);
    for member in &described.members {
        members.row(vec![
            member.id.clone(),
            member.client_id.clone(),
            member.host.clone(),
            member.epoch.to_string(),
            assignment_text(&member.assignment),
        ]);
    }
    let mut header = vec!["TOPIC", "PARTITION", "START-OFFSET"];
    header.extend(COUNT_TAGS.iter().map(|(_, name)| *name));
    let mut partitions = Table::new(&header);
    for p in &described.partitions {
        let mut row = vec![
            p.topic.clone(),
            p.partition.to_string(),
            p.start_offset.to_string(),
        ];
        row.extend(
            p.counts()
                .iter()
                .map(|n| n.map_or_else(|| "-".to_owned(), |n| n.to_string())),
        );
        partitions.row(row);
    }
    write_fields(
        out,
        &[
            ("Group", described.group.clone()),
            ("Type", "share".to_owned()),
            ("State", described.state.clone()),
            ("Epoch", described.epoch.to_string()),
            ("Assignor", described.assignor.clone()),
            ("Members", described.members.len().to_string()),
        ],
    )?;
    writeln!(out)?;
    members.write(out)?;
    writeln!(out)?;
    partitions.write(out)
}

/// An extension count, or `None` when the broker did not send it.
fn count(partition: &DescribeShareGroupOffsetsResponsePartition, tag: i32) -> Option<i64> {
    partition
        .unknown_tagged_fields
        .get(&tag)
        .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
        .map(i64::from_be_bytes)
}
