//! `runnel group`: consumer groups, their members and assignments, committed offsets and lag.

use std::collections::BTreeMap;
use std::io::Write;

use clap::{Args, Subcommand};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::groups::GroupInfo;
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};

use crate::client::{self, Observer};
use crate::format::{write_fields, Table};
use crate::{CliError, Connection};

#[derive(Debug, Args)]
pub struct GroupArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: GroupCommand,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List groups with their state and member count.
    List,
    /// Show a group's members and assignments, and per partition the committed offset,
    /// the log end offset and the lag between them; for a share group, per share-partition
    /// the start offset, in-flight, acquired and available records, the highest delivery
    /// count and the dead-lettered count.
    Describe { group: String },
}

pub async fn run(args: &GroupArgs, out: &mut impl Write) -> Result<(), CliError> {
    let connection = &args.connection;
    let (probe, metadata) = client::probe(connection)?;
    match &args.command {
        GroupCommand::List => {
            let list = probe
                .client()
                .fetch_group_list(None, connection.timeout())
                .map_err(|e| CliError::kafka("list groups", e))?;
            let mut groups: Vec<&GroupInfo> = list.groups().iter().collect();
            groups.sort_by(|a, b| a.name().cmp(b.name()));
            let mut table = Table::new(&["GROUP", "STATE", "PROTOCOL", "ASSIGNOR", "MEMBERS"]);
            for group in groups {
                table.row(vec![
                    group.name().to_owned(),
                    group.state().to_owned(),
                    dash(group.protocol_type()),
                    dash(group.protocol()),
                    group.members().len().to_string(),
                ]);
            }
            table.write(out).map_err(CliError::Output)
        }
        GroupCommand::Describe { group } => {
            if crate::share_group::describe(connection, group, out)? {
                return Ok(());
            }
            let list = probe
                .client()
                .fetch_group_list(Some(group), connection.timeout())
                .map_err(|e| CliError::kafka(format!("describe group {group}"), e))?;
            let info = list
                .groups()
                .iter()
                .find(|g| g.name() == group)
                .ok_or_else(|| CliError::UnknownGroup(group.clone()))?;

            // Which member owns which partition, from the consumer protocol assignments.
            let mut owners: BTreeMap<(String, i32), String> = BTreeMap::new();
            let mut members = Table::new(&["MEMBER-ID", "CLIENT-ID", "HOST", "ASSIGNMENT"]);
            for member in info.members() {
                let assignment = if info.protocol_type() == "consumer" {
                    decode_assignment(member.assignment().unwrap_or_default())
                } else {
                    None
                };
                let text = match &assignment {
                    Some(topics) => assignment_text(topics),
                    None => "?".to_owned(),
                };
                for (topic, partitions) in assignment.unwrap_or_default() {
                    for partition in partitions {
                        owners.insert((topic.clone(), partition), member.id().to_owned());
                    }
                }
                members.row(vec![
                    member.id().to_owned(),
                    member.client_id().to_owned(),
                    member.client_host().to_owned(),
                    text,
                ]);
            }

            // librdkafka offers no "all offsets of a group" call: ask about every partition
            // of every topic and keep those with a committed offset or an owner.
            let reader: BaseConsumer<Observer> = client::config(connection)
                .set("group.id", group)
                .set("enable.auto.commit", "false")
                .create_with_context(Observer::default())
                .map_err(|e| CliError::kafka("create a consumer", e))?;
            let mut query = TopicPartitionList::new();
            for topic in metadata.topics() {
                if client::is_internal(topic.name()) || topic.error().is_some() {
                    continue;
                }
                for partition in topic.partitions() {
                    query
                        .add_partition_offset(topic.name(), partition.id(), Offset::Invalid)
                        .map_err(|e| CliError::kafka("read committed offsets", e))?;
                }
            }
            let committed = if query.count() == 0 {
                query
            } else {
                reader
                    .committed_offsets(query, connection.timeout())
                    .map_err(|e| CliError::kafka(format!("read committed offsets of {group}"), e))?
            };
            let mut rows: BTreeMap<(String, i32), Option<i64>> = BTreeMap::new();
            for element in committed.elements() {
                let key = (element.topic().to_owned(), element.partition());
                match element.offset() {
                    Offset::Offset(offset) => {
                        rows.insert(key, Some(offset));
                    }
                    _ if owners.contains_key(&key) => {
                        rows.insert(key, None);
                    }
                    _ => {}
                }
            }
            if info.state() == "Dead" && rows.is_empty() {
                return Err(CliError::UnknownGroup(group.clone()));
            }
            let mut lag = Table::new(&[
                "TOPIC",
                "PARTITION",
                "COMMITTED",
                "LOG-END",
                "LAG",
                "MEMBER-ID",
            ]);
            for ((topic, partition), committed) in &rows {
                let (_, end) = probe
                    .client()
                    .fetch_watermarks(topic, *partition, connection.timeout())
                    .map_err(|e| {
                        CliError::kafka(format!("read offsets of {topic}-{partition}"), e)
                    })?;
                lag.row(vec![
                    topic.clone(),
                    partition.to_string(),
                    committed.map_or_else(|| "-".to_owned(), |c| c.to_string()),
                    end.to_string(),
                    committed.map_or_else(|| "-".to_owned(), |c| (end - c).to_string()),
                    owners
                        .get(&(topic.clone(), *partition))
                        .cloned()
                        .unwrap_or_else(|| "-".to_owned()),
                ]);
            }
            write_fields(
                out,
                &[
                    ("Group", group.clone()),
                    ("State", info.state().to_owned()),
                    ("Protocol", dash(info.protocol_type())),
                    ("Assignor", dash(info.protocol())),
                    ("Members", info.members().len().to_string()),
                ],
            )
            .and_then(|()| writeln!(out))
            .and_then(|()| members.write(out))
            .and_then(|()| writeln!(out))
            .and_then(|()| lag.write(out))
            .map_err(CliError::Output)
        }
    }
}

fn dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text.to_owned()
    }
}

/// `orders:0,1 payments:3`, topics in the order the assignment lists them.
fn assignment_text(topics: &[(String, Vec<i32>)]) -> String {
    if topics.is_empty() {
        return "-".to_owned();
    }
    topics
        .iter()
        .map(|(topic, partitions)| {
            let list: Vec<String> = partitions.iter().map(i32::to_string).collect();
            format!("{topic}:{}", list.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Decodes the topics and partitions of a consumer protocol assignment (Kafka's
/// `ConsumerProtocolAssignment`, versions 0 to 3 share this prefix): a version, then an
/// array of (topic, array of partition). The user data after it is not needed. Empty bytes
/// (a member between rebalances) are an empty assignment; anything malformed is `None`.
pub fn decode_assignment(bytes: &[u8]) -> Option<Vec<(String, Vec<i32>)>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let mut reader = Reader { bytes };
    let _version = reader.i16()?;
    let topics = reader.count()?;
    let mut assignment = Vec::new();
    for _ in 0..topics {
        let length = usize::try_from(reader.i16()?).ok()?;
        let topic = String::from_utf8(reader.take(length)?.to_vec()).ok()?;
        let count = reader.count()?;
        // Counts come from the wire: grow as elements actually arrive, never up front.
        let mut partitions = Vec::new();
        for _ in 0..count {
            partitions.push(reader.i32()?);
        }
        assignment.push((topic, partitions));
    }
    Some(assignment)
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn count(&mut self) -> Option<u32> {
        u32::try_from(self.i32()?).ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn encode(version: i16, topics: &[(&str, &[i32])], user_data: &[u8]) -> Vec<u8> {
        let mut out = version.to_be_bytes().to_vec();
        out.extend((topics.len() as i32).to_be_bytes());
        for (topic, partitions) in topics {
            out.extend((topic.len() as i16).to_be_bytes());
            out.extend(topic.as_bytes());
            out.extend((partitions.len() as i32).to_be_bytes());
            for p in *partitions {
                out.extend(p.to_be_bytes());
            }
        }
        out.extend((user_data.len() as i32).to_be_bytes());
        out.extend(user_data);
        out
    }

    #[test]
    fn assignments_decode_and_print() {
        let bytes = encode(3, &[("orders", &[0, 2]), ("payments", &[1])], b"xyz");
        let decoded = decode_assignment(&bytes).unwrap();
        assert_eq!(
            decoded,
            vec![
                ("orders".to_owned(), vec![0, 2]),
                ("payments".to_owned(), vec![1])
            ]
        );
        assert_eq!(assignment_text(&decoded), "orders:0,2 payments:1");
        assert_eq!(decode_assignment(&[]).unwrap(), vec![]);
        assert_eq!(assignment_text(&[]), "-");
    }

    #[test]
    fn malformed_assignments_are_refused_without_panicking() {
        let bytes = encode(0, &[("orders", &[0, 2])], b"");
        for cut in 1..bytes.len() - 4 {
            assert_eq!(decode_assignment(&bytes[..cut]), None, "cut at {cut}");
        }
        // A huge count with no bytes behind it must not allocate or loop for long.
        let mut huge = 0i16.to_be_bytes().to_vec();
        huge.extend(i32::MAX.to_be_bytes());
        assert_eq!(decode_assignment(&huge), None);
        let mut negative = 0i16.to_be_bytes().to_vec();
        negative.extend((-1i32).to_be_bytes());
        assert_eq!(decode_assignment(&negative), None);
    }
}
