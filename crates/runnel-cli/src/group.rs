//! `runnel group`: consumer groups, their members and assignments, committed offsets and lag.
//!
//! Classic groups are read through librdkafka (ListGroups and DescribeGroups). Consumer
//! groups of the next-generation protocol (KIP-848) are invisible to DescribeGroups, as in
//! Kafka; they are found with ListGroups' group type filter and described with
//! ConsumerGroupDescribe, over [`crate::wire`], where the broker offers those APIs.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::Instant;

use clap::{ArgGroup, Args, Subcommand};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::consumer_group_describe_response::{self, DescribedGroup};
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, GroupId,
    ListGroupsRequest, ListGroupsResponse,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::groups::GroupInfo;
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::admin::{self, KeyType};
use crate::client::{self, Observer};
use crate::format::{write_fields, Table};
use crate::lag;
use crate::position::{self, Position};
use crate::wire::BrokerConnection;
use crate::{CliError, Connection};

/// ListGroups v5 is the first with the group type filter.
const LIST_VERSIONS: VersionRange = VersionRange { min: 5, max: 5 };

/// ConsumerGroupDescribe v1 only adds the member type, not needed here.
const DESCRIBE_VERSIONS: VersionRange = VersionRange { min: 0, max: 1 };

#[derive(Debug, Args)]
pub struct GroupArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: GroupCommand,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    #[command(flatten)]
    Cluster(ClusterCommand),
    /// Each group's consumer lag status (OK, WARN, REWIND, STALL, STOP) per partition, as
    /// the broker's lag evaluation judges it from the group's recent commits.
    Lag(LagArgs),
}

/// The commands that ask the cluster itself.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// List groups (classic, consumer and share) with their state and member count.
    List,
    /// Show a group's members and assignments, and per partition the committed offset,
    /// the log end offset and the lag between them; for a share group, per share-partition
    /// the start offset, in-flight, acquired and available records, the highest delivery
    /// count and the dead-lettered count.
    Describe { group: String },
    /// Delete a group that has no members: its committed offsets go with it (as when a job
    /// under that id is retired).
    Delete { group: String },
    /// Move a group's committed offsets of a topic, as `kafka-consumer-groups
    /// --reset-offsets` does: printed only (--dry-run, the default), or committed with
    /// --execute, which needs a group without members.
    ResetOffsets(ResetArgs),
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("to")
        .required(true)
        .args(["to_earliest", "to_latest", "to_offset", "to_datetime", "shift_by"])
))]
pub struct ResetArgs {
    pub group: String,
    /// The topic whose partitions are reset (all of them).
    #[arg(long)]
    pub topic: String,
    /// To each partition's log start.
    #[arg(long)]
    pub to_earliest: bool,
    /// To each partition's log end.
    #[arg(long)]
    pub to_latest: bool,
    /// To this offset, clamped to each partition's retained range.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..))]
    pub to_offset: Option<i64>,
    /// To each partition's first record at or after this time (RFC 3339, e.g.
    /// 2026-12-07T09:30:00Z); the log end where there is none.
    #[arg(long, value_name = "TIME", value_parser = parse_datetime)]
    pub to_datetime: Option<i64>,
    /// By this many records from each committed offset (back when negative).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub shift_by: Option<i64>,
    /// Commit the new offsets.
    #[arg(long, conflicts_with = "dry_run")]
    pub execute: bool,
    /// Only print the new offsets (what happens without --execute too).
    #[arg(long)]
    pub dry_run: bool,
}

impl ResetArgs {
    fn target(&self) -> ResetTo {
        match (self.to_offset, self.to_datetime, self.shift_by) {
            (Some(offset), _, _) => ResetTo::Position(Position::Offset(offset)),
            (_, Some(ms), _) => ResetTo::Position(Position::Timestamp(ms)),
            (_, _, Some(shift)) => ResetTo::ShiftBy(shift),
            _ if self.to_latest => ResetTo::Position(Position::Latest),
            _ => ResetTo::Position(Position::Earliest),
        }
    }
}

/// An RFC 3339 time as milliseconds since the Unix epoch.
fn parse_datetime(text: &str) -> Result<i64, String> {
    let time = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("not an RFC 3339 time such as 2026-12-07T09:30:00Z: {e}"))?;
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| "a time too far from now".to_owned())
}

#[derive(Debug, Args)]
pub struct LagArgs {
    /// One group (default: every group with committed offsets).
    pub group: Option<String>,
    /// The broker's admin server, which runs the evaluation.
    #[arg(long, default_value = "http://127.0.0.1:9644")]
    pub admin_url: String,
    /// Print again every interval until interrupted.
    #[arg(long)]
    pub watch: bool,
    /// The interval of --watch (ms).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval_ms: u64,
}

/// A topic's partitions, as assignments list them.
pub type TopicPartitions = Vec<(String, Vec<i32>)>;

/// A group, whichever API described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Described {
    /// `classic` or `consumer`.
    pub kind: &'static str,
    pub state: String,
    pub protocol: String,
    pub assignor: String,
    /// Consumer groups: the group epoch and the epoch of its target assignment.
    pub epochs: Option<(i32, i32)>,
    pub members: Vec<DescribedMember>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DescribedMember {
    pub id: String,
    pub client_id: String,
    pub host: String,
    /// Consumer groups only.
    pub epoch: Option<i32>,
    /// `None` when the assignment cannot be read (a classic group of another protocol).
    pub assignment: Option<TopicPartitions>,
    /// Consumer groups only: what the member is moving towards.
    pub target: Option<TopicPartitions>,
}

/// A group with its offsets, as `group describe` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupDescription {
    pub group: Described,
    /// By topic and partition: those with a committed offset or an owner.
    pub offsets: Vec<GroupOffset>,
}

/// A group's position in one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupOffset {
    pub topic: String,
    pub partition: i32,
    /// `None` for an owned partition with no commit yet.
    pub committed: Option<i64>,
    pub log_end: i64,
    pub lag: Option<i64>,
    /// The member the partition is assigned to.
    pub member: Option<String>,
}

impl Described {
    fn classic(info: &GroupInfo) -> Described {
        let members = info
            .members()
            .iter()
            .map(|member| DescribedMember {
                id: member.id().to_owned(),
                client_id: member.client_id().to_owned(),
                host: member.client_host().to_owned(),
                epoch: None,
                assignment: if info.protocol_type() == "consumer" {
                    decode_assignment(member.assignment().unwrap_or_default())
                } else {
                    None
                },
                target: None,
            })
            .collect();
        Described {
            kind: "classic",
            state: info.state().to_owned(),
            protocol: info.protocol_type().to_owned(),
            assignor: info.protocol().to_owned(),
            epochs: None,
            members,
        }
    }

    fn consumer(group: &DescribedGroup) -> Described {
        let partitions = |assignment: &consumer_group_describe_response::Assignment| {
            assignment
                .topic_partitions
                .iter()
                .filter(|t| !t.partitions.is_empty())
                .map(|t| {
                    let mut partitions = t.partitions.clone();
                    partitions.sort_unstable();
                    (t.topic_name.0.to_string(), partitions)
                })
                .collect::<TopicPartitions>()
        };
        let members = group
            .members
            .iter()
            .map(|m| DescribedMember {
                id: m.member_id.to_string(),
                client_id: m.client_id.to_string(),
                host: m.client_host.to_string(),
                epoch: Some(m.member_epoch),
                assignment: Some(partitions(&m.assignment)),
                target: Some(partitions(&m.target_assignment)),
            })
            .collect();
        Described {
            kind: "consumer",
            state: group.group_state.to_string(),
            protocol: "consumer".to_owned(),
            assignor: group.assignor_name.to_string(),
            epochs: Some((group.group_epoch, group.assignment_epoch)),
            members,
        }
    }

    /// Which member owns which partition.
    fn owners(&self) -> BTreeMap<(String, i32), String> {
        let mut owners = BTreeMap::new();
        for member in &self.members {
            for (topic, partitions) in member.assignment.iter().flatten() {
                for &partition in partitions {
                    owners.insert((topic.clone(), partition), member.id.clone());
                }
            }
        }
        owners
    }

    fn fields(&self, group: &str) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("Group", group.to_owned()),
            ("State", self.state.clone()),
            ("Protocol", dash(&self.protocol)),
            ("Assignor", dash(&self.assignor)),
            ("Members", self.members.len().to_string()),
            ("Type", self.kind.to_owned()),
        ];
        if let Some((group_epoch, assignment_epoch)) = self.epochs {
            fields.push((
                "Epoch",
                format!("{group_epoch} (assignment {assignment_epoch})"),
            ));
        }
        fields
    }

    fn member_table(&self) -> Table {
        let text = |a: &Option<TopicPartitions>| match a {
            Some(topics) => assignment_text(topics),
            None => "?".to_owned(),
        };
        if self.epochs.is_some() {
            let mut table = Table::new(&[
                "MEMBER-ID",
                "CLIENT-ID",
                "HOST",
                "EPOCH",
                "ASSIGNMENT",
                "TARGET",
            ]);
            for m in &self.members {
                table.row(vec![
                    m.id.clone(),
                    dash(&m.client_id),
                    dash(&m.host),
                    m.epoch.map_or_else(|| "-".to_owned(), |e| e.to_string()),
                    text(&m.assignment),
                    text(&m.target),
                ]);
            }
            table
        } else {
            let mut table = Table::new(&["MEMBER-ID", "CLIENT-ID", "HOST", "ASSIGNMENT"]);
            for m in &self.members {
                table.row(vec![
                    m.id.clone(),
                    m.client_id.clone(),
                    m.host.clone(),
                    text(&m.assignment),
                ]);
            }
            table
        }
    }
}

/// The protocol type ListGroups gives share groups.
const SHARE_PROTOCOL: &str = "share";

/// One line of `group list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub group: String,
    /// `classic`, `consumer` or `share`.
    pub kind: &'static str,
    pub state: String,
    pub protocol: String,
    pub assignor: String,
    pub members: usize,
}

pub async fn run(args: &GroupArgs, out: &mut impl Write) -> Result<(), CliError> {
    match &args.command {
        GroupCommand::Cluster(command) => run_on_cluster(&args.connection, command, out).await,
        GroupCommand::Lag(lag_args) => {
            let query = lag::LagQuery {
                admin_url: lag_args.admin_url.clone(),
                group: lag_args.group.clone(),
                watch: lag_args
                    .watch
                    .then(|| std::time::Duration::from_millis(lag_args.interval_ms)),
            };
            lag::run(&query, out).await
        }
    }
}

async fn run_on_cluster(
    connection: &Connection,
    command: &ClusterCommand,
    out: &mut impl Write,
) -> Result<(), CliError> {
    match command {
        ClusterCommand::List => {
            let mut table =
                Table::new(&["GROUP", "TYPE", "STATE", "PROTOCOL", "ASSIGNOR", "MEMBERS"]);
            for line in list(connection)? {
                table.row(vec![
                    line.group,
                    line.kind.to_owned(),
                    line.state,
                    dash(&line.protocol),
                    dash(&line.assignor),
                    line.members.to_string(),
                ]);
            }
            table.write(out).map_err(CliError::Output)
        }
        ClusterCommand::Delete { group } => {
            client::probe(connection)?;
            let results = client::admin(connection)?
                .delete_groups(&[group], &client::admin_options(connection))
                .await
                .map_err(|e| CliError::kafka(format!("delete group {group}"), e))?;
            for result in results {
                result.map_err(|(_, code)| CliError::Refused {
                    action: format!("delete group {group}"),
                    code,
                })?;
            }
            writeln!(out, "deleted group {group}").map_err(CliError::Output)
        }
        ClusterCommand::ResetOffsets(reset) => {
            let apply = if reset.execute {
                Apply::Execute
            } else {
                Apply::DryRun
            };
            let offsets = reset_offsets(
                connection,
                &reset.group,
                &reset.topic,
                reset.target(),
                apply,
            )?;
            let mut table = Table::new(&["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]);
            for (partition, offset) in offsets {
                table.row(vec![
                    reset.group.clone(),
                    reset.topic.clone(),
                    partition.to_string(),
                    offset.to_string(),
                ]);
            }
            table.write(out).map_err(CliError::Output)
        }
        ClusterCommand::Describe { group } => {
            if crate::share_group::write_description(connection, group, out)? {
                return Ok(());
            }
            let described = describe(connection, group)?;
            let mut lag = Table::new(&[
                "TOPIC",
                "PARTITION",
                "COMMITTED",
                "LOG-END",
                "LAG",
                "MEMBER-ID",
            ]);
            let text = |n: Option<i64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
            for row in &described.offsets {
                lag.row(vec![
                    row.topic.clone(),
                    row.partition.to_string(),
                    text(row.committed),
                    row.log_end.to_string(),
                    text(row.lag),
                    row.member.clone().unwrap_or_else(|| "-".to_owned()),
                ]);
            }
            write_fields(out, &described.group.fields(group))
                .and_then(|()| writeln!(out))
                .and_then(|()| described.group.member_table().write(out))
                .and_then(|()| writeln!(out))
                .and_then(|()| lag.write(out))
                .map_err(CliError::Output)
        }
    }
}

/// Every group of the cluster, classic, consumer and share, sorted by id.
pub fn list(connection: &Connection) -> Result<Vec<Listed>, CliError> {
    let (probe, _) = client::probe(connection)?;
    let list = probe
        .client()
        .fetch_group_list(None, connection.timeout())
        .map_err(|e| CliError::kafka("list groups", e))?;
    let mut listed: BTreeMap<String, Listed> = list
        .groups()
        .iter()
        .map(|group| {
            let line = Listed {
                group: group.name().to_owned(),
                kind: if group.protocol_type() == SHARE_PROTOCOL {
                    "share"
                } else {
                    "classic"
                },
                state: group.state().to_owned(),
                protocol: group.protocol_type().to_owned(),
                assignor: group.protocol().to_owned(),
                members: group.members().len(),
            };
            (line.group.clone(), line)
        })
        .collect();
    // DescribeGroups calls consumer groups dead; their own describe says otherwise.
    for (id, group) in consumer_groups(connection)? {
        let line = Listed {
            group: id.clone(),
            kind: group.kind,
            state: group.state,
            protocol: group.protocol,
            assignor: group.assignor,
            members: group.members.len(),
        };
        listed.insert(id, line);
    }
    Ok(listed.into_values().collect())
}

/// A group (classic or consumer; not a share group) with its members, and per partition
/// its committed offset, log end and lag.
pub fn describe(connection: &Connection, group: &str) -> Result<GroupDescription, CliError> {
    let (probe, metadata) = client::probe(connection)?;
    let consumer_group = {
        let mut bootstrap = admin::open(connection, &connection.bootstrap_server)?;
        describe_consumer_group(connection, &mut bootstrap, group)?
    };
    let (described, dead) = match consumer_group {
        Some(described) => (described, false),
        None => {
            let list = probe
                .client()
                .fetch_group_list(Some(group), connection.timeout())
                .map_err(|e| CliError::kafka(format!("describe group {group}"), e))?;
            let info = list
                .groups()
                .iter()
                .find(|g| g.name() == group)
                .ok_or_else(|| CliError::UnknownGroup(group.to_owned()))?;
            (Described::classic(info), info.state() == "Dead")
        }
    };
    let owners = described.owners();

    // librdkafka offers no "all offsets of a group" call: ask about every partition of every
    // topic and keep those with a committed offset or an owner.
    let reader: BaseConsumer<Observer> = client::config(connection)?
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
    if dead && rows.is_empty() {
        return Err(CliError::UnknownGroup(group.to_owned()));
    }
    let mut offsets = Vec::with_capacity(rows.len());
    for ((topic, partition), committed) in rows {
        let (_, log_end) = probe
            .client()
            .fetch_watermarks(&topic, partition, connection.timeout())
            .map_err(|e| CliError::kafka(format!("read offsets of {topic}-{partition}"), e))?;
        let member = owners.get(&(topic.clone(), partition)).cloned();
        offsets.push(GroupOffset {
            topic,
            partition,
            committed,
            log_end,
            lag: committed.map(|c| log_end - c),
            member,
        });
    }
    Ok(GroupDescription {
        group: described,
        offsets,
    })
}

/// Where [`reset_offsets`] moves a group's committed offsets, as Kafka's
/// `kafka-consumer-groups --reset-offsets` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTo {
    /// The same position in every partition.
    Position(Position),
    /// Each partition's committed offset moved by this many records (back when negative),
    /// clamped to the retained range; every partition needs a committed offset.
    ShiftBy(i64),
}

/// Whether [`reset_offsets`] commits the offsets it computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apply {
    Execute,
    DryRun,
}

/// Computes new offsets for every partition of `topic` for `group` and, to execute, commits
/// them; the group must then have no members (a running consumer would overwrite them).
/// Returns them by partition.
pub fn reset_offsets(
    connection: &Connection,
    group: &str,
    topic: &str,
    to: ResetTo,
    apply: Apply,
) -> Result<Vec<(i32, i64)>, CliError> {
    let action = format!("reset the offsets of {group}");
    let (_, metadata) = client::probe(connection)?;
    let partitions = client::partitions(&metadata, topic)?;
    if apply == Apply::Execute {
        let members = match describe(connection, group) {
            Ok(described) => described.group.members.len(),
            // A group that never committed is created by the commit.
            Err(CliError::UnknownGroup(_)) => 0,
            Err(error) => return Err(error),
        };
        if members > 0 {
            return Err(CliError::Failed {
                action,
                reason: format!("it has {members} active members; stop them first"),
            });
        }
    }
    let committer: BaseConsumer<Observer> = client::config(connection)?
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create_with_context(Observer::default())
        .map_err(|e| CliError::kafka("create a consumer", e))?;
    let positions: Vec<(i32, Position)> = match to {
        ResetTo::Position(position) => partitions.iter().map(|&p| (p, position)).collect(),
        ResetTo::ShiftBy(shift) => {
            let mut query = TopicPartitionList::new();
            for &partition in &partitions {
                query
                    .add_partition_offset(topic, partition, Offset::Invalid)
                    .map_err(|e| CliError::kafka(action.as_str(), e))?;
            }
            let committed = committer
                .committed_offsets(query, connection.timeout())
                .map_err(|e| CliError::kafka(action.as_str(), e))?;
            committed
                .elements()
                .iter()
                .map(|element| match element.offset() {
                    Offset::Offset(offset) => Ok((
                        element.partition(),
                        Position::Offset(offset.saturating_add(shift)),
                    )),
                    _ => Err(CliError::Failed {
                        action: action.clone(),
                        reason: format!(
                            "it has no committed offset in {topic}-{} to shift",
                            element.partition()
                        ),
                    }),
                })
                .collect::<Result<_, _>>()?
        }
    };
    let reset = position::resolve(&committer, topic, &positions, connection.timeout())?;
    if apply == Apply::Execute {
        let mut offsets = TopicPartitionList::new();
        for &(partition, offset) in &reset {
            offsets
                .add_partition_offset(topic, partition, Offset::Offset(offset))
                .map_err(|e| CliError::kafka(action.as_str(), e))?;
        }
        committer
            .commit(&offsets, CommitMode::Sync)
            .map_err(|e| CliError::kafka(action, e))?;
    }
    Ok(reset)
}

/// Every consumer group (next-generation protocol) of the cluster, described; none when
/// the cluster does not offer ConsumerGroupDescribe and ListGroups' type filter.
fn consumer_groups(connection: &Connection) -> Result<BTreeMap<String, Described>, CliError> {
    let action = "list consumer groups";
    let deadline = Instant::now() + connection.timeout();
    let mut bootstrap = admin::open(connection, &connection.bootstrap_server)?;
    if bootstrap
        .version(ApiKey::ConsumerGroupDescribe, DESCRIBE_VERSIONS)
        .is_err()
        || bootstrap
            .version(ApiKey::ListGroups, LIST_VERSIONS)
            .is_err()
    {
        return Ok(BTreeMap::new());
    }
    let request =
        ListGroupsRequest::default().with_types_filter(vec![StrBytes::from_static_str("consumer")]);
    let mut ids = BTreeSet::new();
    // Each broker lists the groups it coordinates.
    for address in admin::brokers(&mut bootstrap, action)? {
        let mut broker = admin::open(connection, &address)?;
        let version = admin::version(&broker, ApiKey::ListGroups, LIST_VERSIONS, action)?;
        let response = admin::with_retries(deadline, || {
            let response: ListGroupsResponse =
                admin::call(&mut broker, action, ApiKey::ListGroups, version, &request)?;
            admin::check(action, response.error_code).map(|()| response)
        })?;
        ids.extend(
            response
                .groups
                .into_iter()
                .map(|g| g.group_id.0.to_string()),
        );
    }
    let mut groups = BTreeMap::new();
    for id in ids {
        // A group deleted since it was listed is simply left out.
        if let Some(described) = describe_consumer_group(connection, &mut bootstrap, &id)? {
            groups.insert(id, described);
        }
    }
    Ok(groups)
}

/// Describes `group` with ConsumerGroupDescribe at its coordinator: `None` when it is not
/// a consumer group (or the cluster does not know the API).
fn describe_consumer_group(
    connection: &Connection,
    bootstrap: &mut BrokerConnection,
    group: &str,
) -> Result<Option<Described>, CliError> {
    if bootstrap
        .version(ApiKey::ConsumerGroupDescribe, DESCRIBE_VERSIONS)
        .is_err()
    {
        return Ok(None);
    }
    let action = format!("describe group {group}");
    let deadline = Instant::now() + connection.timeout();
    let request = ConsumerGroupDescribeRequest::default()
        .with_group_ids(vec![GroupId(StrBytes::from_string(group.to_owned()))]);
    admin::with_retries(deadline, || {
        let (_, address) = admin::find_coordinator(bootstrap, group, KeyType::Group, &action)?;
        let mut coordinator = admin::open(connection, &address)?;
        let version = admin::version(
            &coordinator,
            ApiKey::ConsumerGroupDescribe,
            DESCRIBE_VERSIONS,
            &action,
        )?;
        let response: ConsumerGroupDescribeResponse = admin::call(
            &mut coordinator,
            &action,
            ApiKey::ConsumerGroupDescribe,
            version,
            &request,
        )?;
        let Some(described) = response
            .groups
            .iter()
            .find(|g| g.group_id.0.as_str() == group)
        else {
            return Err(CliError::Failed {
                action: action.clone(),
                reason: "the coordinator's answer leaves it out".to_owned(),
            });
        };
        if described.error_code == ResponseError::GroupIdNotFound.code() {
            return Ok(None);
        }
        admin::check(&action, described.error_code)?;
        Ok(Some(Described::consumer(described)))
    })
}

fn dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text.to_owned()
    }
}

/// `orders:0,1 payments:3`, topics in the order the assignment lists them.
pub(crate) fn assignment_text(topics: &[(String, Vec<i32>)]) -> String {
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

    use kafka_protocol::messages::consumer_group_describe_response::{
        Assignment, Member, TopicPartitions as Partitions,
    };
    use kafka_protocol::messages::TopicName;

    use super::*;

    fn partitions(topic: &str, partitions: &[i32]) -> Assignment {
        Assignment::default().with_topic_partitions(vec![Partitions::default()
            .with_topic_name(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_partitions(partitions.to_vec())])
    }

    #[test]
    fn consumer_groups_print_epochs_and_each_members_target() {
        let member = |id: &str, epoch: i32, owned: &[i32], target: &[i32]| {
            Member::default()
                .with_member_id(StrBytes::from_string(id.to_owned()))
                .with_client_id(StrBytes::from_static_str("app"))
                .with_client_host(StrBytes::from_static_str("/10.0.0.1"))
                .with_member_epoch(epoch)
                .with_assignment(partitions("orders", owned))
                .with_target_assignment(partitions("orders", target))
        };
        let group = DescribedGroup::default()
            .with_group_state(StrBytes::from_static_str("Reconciling"))
            .with_group_epoch(3)
            .with_assignment_epoch(3)
            .with_assignor_name(StrBytes::from_static_str("uniform"))
            .with_members(vec![
                member("m-1", 2, &[2, 0], &[0]),
                member("m-2", 3, &[], &[1, 2]),
            ]);
        let described = Described::consumer(&group);
        let mut out = Vec::new();
        write_fields(&mut out, &described.fields("orders-app")).unwrap();
        described.member_table().write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Group:     orders-app\n\
             State:     Reconciling\n\
             Protocol:  consumer\n\
             Assignor:  uniform\n\
             Members:   2\n\
             Type:      consumer\n\
             Epoch:     3 (assignment 3)\n\
             MEMBER-ID  CLIENT-ID  HOST       EPOCH  ASSIGNMENT  TARGET\n\
             m-1        app        /10.0.0.1  2      orders:0,2  orders:0\n\
             m-2        app        /10.0.0.1  3      -           orders:1,2\n"
        );
        // The lag table names the owner of what a member holds now, not of its target.
        let owners = described.owners();
        assert_eq!(owners[&("orders".to_owned(), 2)], "m-1");
        assert!(!owners.contains_key(&("orders".to_owned(), 1)));
    }

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
