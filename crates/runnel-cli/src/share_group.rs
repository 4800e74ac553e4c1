//! `runnel group describe` for share groups: members and assignments (ShareGroupDescribe),
//! and per share-partition the start offset and delivery state (DescribeShareGroupOffsets,
//! whose Runnel extension tags carry the in-flight counts).

use std::io::Write;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup;
use kafka_protocol::messages::describe_share_group_offsets_response::DescribeShareGroupOffsetsResponsePartition;
use kafka_protocol::messages::{
    ApiKey, DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse, GroupId,
    ShareGroupDescribeRequest, ShareGroupDescribeResponse,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use crate::admin::{call, check, open, version};
use crate::format::{write_fields, Table};
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

/// Describes `group` if it is a share group; `Ok(false)` when it is not one (or the broker
/// has no share groups).
pub fn describe(
    connection: &Connection,
    group: &str,
    out: &mut impl Write,
) -> Result<bool, CliError> {
    let mut broker = open(connection, &connection.bootstrap_server)?;
    let action = format!("describe share group {group}");
    let Ok(describe_version) = broker.version(ApiKey::ShareGroupDescribe, DESCRIBE_VERSIONS) else {
        return Ok(false);
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
        return Ok(false);
    };
    if described.error_code == ResponseError::GroupIdNotFound.code() {
        return Ok(false);
    }
    check(&action, described.error_code)?;

    let mut members = Table::new(&["MEMBER-ID", "CLIENT-ID", "HOST", "EPOCH", "ASSIGNMENT"]);
    for member in &described.members {
        let assignment: Vec<String> = member
            .assignment
            .topic_partitions
            .iter()
            .map(|t| {
                let partitions: Vec<String> = t.partitions.iter().map(i32::to_string).collect();
                format!("{}:{}", t.topic_name.0, partitions.join(","))
            })
            .collect();
        members.row(vec![
            member.member_id.to_string(),
            member.client_id.to_string(),
            member.client_host.to_string(),
            member.member_epoch.to_string(),
            if assignment.is_empty() {
                "-".to_owned()
            } else {
                assignment.join(" ")
            },
        ]);
    }

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
    let mut header = vec!["TOPIC", "PARTITION", "START-OFFSET"];
    header.extend(COUNT_TAGS.iter().map(|(_, name)| *name));
    let mut partitions = Table::new(&header);
    for group in offsets.groups {
        check(&action, group.error_code)?;
        for topic in group.topics {
            for p in topic.partitions {
                let mut row = vec![
                    topic.topic_name.0.to_string(),
                    p.partition_index.to_string(),
                    p.start_offset.to_string(),
                ];
                row.extend(COUNT_TAGS.iter().map(|(tag, _)| count(&p, *tag)));
                partitions.row(row);
            }
        }
    }
    write_fields(
        out,
        &[
            ("Group", group.to_owned()),
            ("Type", "share".to_owned()),
            ("State", described.group_state.to_string()),
            ("Epoch", described.group_epoch.to_string()),
            ("Assignor", described.assignor_name.to_string()),
            ("Members", described.members.len().to_string()),
        ],
    )
    .and_then(|()| writeln!(out))
    .and_then(|()| members.write(out))
    .and_then(|()| writeln!(out))
    .and_then(|()| partitions.write(out))
    .map_err(CliError::Output)?;
    Ok(true)
}

/// An extension count, or "-" when the broker did not send it.
fn count(partition: &DescribeShareGroupOffsetsResponsePartition, tag: i32) -> String {
    partition
        .unknown_tagged_fields
        .get(&tag)
        .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
        .map_or_else(|| "-".to_owned(), |b| i64::from_be_bytes(b).to_string())
}
