//! `runnel topic`: create, list, describe, alter and delete topics.

use std::collections::BTreeMap;
use std::io::Write;

use clap::{Args, Subcommand};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse, TopicName,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use rdkafka::admin::{AdminClient, ConfigSource, ResourceSpecifier};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::Producer;
use serde::Serialize;

use crate::admin;
use crate::client::{self, Observer};
use crate::format::{write_fields, Table};
use crate::{parse_key_value, CliError, Connection};

#[derive(Debug, Args)]
pub struct TopicArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: TopicCommand,
}

#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Create a topic.
    Create {
        name: String,
        /// Number of partitions (default: the broker's num.partitions).
        #[arg(long, short = 'p', value_parser = clap::value_parser!(i32).range(1..))]
        partitions: Option<i32>,
        /// A topic setting, e.g. retention.ms=86400000 (repeatable).
        #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
        configs: Vec<String>,
    },
    /// List topic names, one per line.
    List {
        /// Also list internal topics such as __consumer_offsets.
        #[arg(long)]
        include_internal: bool,
    },
    /// Show partitions, leaders, log start and end offsets, and settings with their source.
    Describe { name: String },
    /// Set or remove topic settings; settings not named keep their values.
    Alter {
        name: String,
        /// A setting to override (repeatable).
        #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
        configs: Vec<String>,
        /// A setting whose override to remove, returning it to the default (repeatable).
        #[arg(long = "delete-config", value_name = "KEY")]
        deletes: Vec<String>,
    },
    /// Delete a topic and all its records.
    Delete { name: String },
}

pub async fn run(args: &TopicArgs, out: &mut impl Write) -> Result<(), CliError> {
    let connection = &args.connection;
    match &args.command {
        TopicCommand::Create {
            name,
            partitions,
            configs,
        } => {
            // Argument mistakes are reported before any connection is attempted.
            let configs = parse_configs(configs)?;
            client::probe(connection)?;
            create(connection, name, *partitions, &configs)?;
            writeln!(out, "created topic {name}").map_err(CliError::Output)
        }
        TopicCommand::List { include_internal } => {
            for name in list(connection, *include_internal)? {
                writeln!(out, "{name}").map_err(CliError::Output)?;
            }
            Ok(())
        }
        TopicCommand::Describe { name } => {
            let described = describe(connection, name).await?;
            let mut table = Table::new(&["PARTITION", "LEADER", "LOG-START", "LOG-END"]);
            for p in &described.partitions {
                table.row(vec![
                    p.partition.to_string(),
                    p.leader.map_or_else(|| "-".to_owned(), |l| l.to_string()),
                    p.log_start.to_string(),
                    p.log_end.to_string(),
                ]);
            }
            let mut settings = Table::new(&["CONFIG", "VALUE", "SOURCE"]);
            for entry in described.configs {
                settings.row(vec![
                    entry.name,
                    entry.value.unwrap_or_else(|| "-".to_owned()),
                    entry.source,
                ]);
            }
            write_fields(
                out,
                &[
                    ("Topic", name.clone()),
                    ("Partitions", described.partitions.len().to_string()),
                ],
            )
            .and_then(|()| writeln!(out))
            .and_then(|()| table.write(out))
            .and_then(|()| writeln!(out))
            .and_then(|()| settings.write(out))
            .map_err(CliError::Output)
        }
        TopicCommand::Alter {
            name,
            configs,
            deletes,
        } => {
            let configs = parse_configs(configs)?;
            alter(connection, name, &configs, deletes).await?;
            writeln!(out, "altered topic {name}").map_err(CliError::Output)
        }
        TopicCommand::Delete { name } => {
            delete(connection, name).await?;
            writeln!(out, "deleted topic {name}").map_err(CliError::Output)
        }
    }
}

/// One partition of a topic: its leader and the offsets of its log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionOffsets {
    pub partition: i32,
    /// `None` while the partition has no leader.
    pub leader: Option<i32>,
    pub log_start: i64,
    pub log_end: i64,
}

/// One setting of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    /// `default`, `override` (set on the topic) or `broker` (the broker's configuration).
    pub source: String,
}

/// A topic's partitions and settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicDescription {
    pub name: String,
    pub partitions: Vec<PartitionOffsets>,
    /// Sorted by name.
    pub configs: Vec<ConfigEntry>,
}

/// The names of the cluster's topics, sorted; internal ones only when asked for.
pub fn list(connection: &Connection, include_internal: bool) -> Result<Vec<String>, CliError> {
    let (_, metadata) = client::probe(connection)?;
    let mut names: Vec<String> = metadata
        .topics()
        .iter()
        .map(|t| t.name())
        .filter(|name| include_internal || !client::is_internal(name))
        .map(str::to_owned)
        .collect();
    names.sort_unstable();
    Ok(names)
}

/// A topic's partitions with their offsets, and its settings.
pub async fn describe(connection: &Connection, name: &str) -> Result<TopicDescription, CliError> {
    let (probe, metadata) = client::probe(connection)?;
    let partitions = client::partitions(&metadata, name)?;
    let leaders: BTreeMap<i32, i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == name)
        .flat_map(|t| t.partitions())
        .map(|p| (p.id(), p.leader()))
        .collect();
    let mut described = Vec::with_capacity(partitions.len());
    for partition in partitions {
        let (log_start, log_end) = probe
            .client()
            .fetch_watermarks(name, partition, connection.timeout())
            .map_err(|e| CliError::kafka(format!("read offsets of {name}-{partition}"), e))?;
        described.push(PartitionOffsets {
            partition,
            leader: leaders.get(&partition).copied().filter(|l| *l >= 0),
            log_start,
            log_end,
        });
    }
    let admin = client::admin(connection)?;
    let mut configs = describe_configs(&admin, connection, name).await?;
    configs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(TopicDescription {
        name: name.to_owned(),
        partitions: described,
        configs,
    })
}

/// Sets the `configs` overrides of topic `name` and removes those named in `deletes`;
/// a setting to set that the topic does not have is refused before anything changes.
pub async fn alter(
    connection: &Connection,
    name: &str,
    configs: &[(String, String)],
    deletes: &[String],
) -> Result<(), CliError> {
    if configs.is_empty() && deletes.is_empty() {
        return Err(CliError::BadArguments(
            "nothing to alter: give --config KEY=VALUE or --delete-config KEY".to_owned(),
        ));
    }
    let (_, metadata) = client::probe(connection)?;
    client::partitions(&metadata, name)?;
    let admin = client::admin(connection)?;
    let current = describe_configs(&admin, connection, name).await?;
    if let Some((key, _)) = configs
        .iter()
        .find(|(key, _)| !current.iter().any(|known| &known.name == key))
    {
        return Err(CliError::UnknownSetting(key.clone()));
    }
    alter_configs(connection, name, configs, deletes)
}

/// Deletes topic `name` and its records.
pub async fn delete(connection: &Connection, name: &str) -> Result<(), CliError> {
    let (_, metadata) = client::probe(connection)?;
    client::partitions(&metadata, name)?;
    let results = client::admin(connection)?
        .delete_topics(&[name], &client::admin_options(connection))
        .await
        .map_err(|e| CliError::kafka(format!("delete topic {name}"), e))?;
    for result in results {
        result.map_err(|(_, code)| refused("delete topic", name, code))?;
    }
    Ok(())
}

fn parse_configs(configs: &[String]) -> Result<Vec<(String, String)>, CliError> {
    configs
        .iter()
        .map(|c| parse_key_value("--config", c))
        .collect()
}

/// Creates a topic with CreateTopics over the wire: the rdkafka crate drops the message a
/// broker gives with a refusal, and it is the one that says what was wrong. No
/// `partitions` means the broker's default.
pub fn create(
    connection: &Connection,
    name: &str,
    partitions: Option<i32>,
    configs: &[(String, String)],
) -> Result<(), CliError> {
    let action = format!("create topic {name}");
    let mut broker = admin::open(connection, &connection.bootstrap_server)?;
    // v2 and later carry the error message; v5 and later are what Kafka 4 still speaks.
    let ours = VersionRange { min: 2, max: 7 };
    let version = admin::version(&broker, ApiKey::CreateTopics, ours, &action)?;
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(timeout_ms(connection))
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.to_owned())))
            .with_num_partitions(partitions.unwrap_or(-1))
            .with_replication_factor(-1)
            .with_configs(
                configs
                    .iter()
                    .map(|(key, value)| {
                        CreatableTopicConfig::default()
                            .with_name(StrBytes::from_string(key.clone()))
                            .with_value(Some(StrBytes::from_string(value.clone())))
                    })
                    .collect(),
            )]);
    let response: CreateTopicsResponse = admin::call(
        &mut broker,
        &action,
        ApiKey::CreateTopics,
        version,
        &request,
    )?;
    match response.topics.first() {
        Some(result) => {
            admin::check_with_message(&action, result.error_code, result.error_message.as_deref())
        }
        None => Err(CliError::Failed {
            action,
            reason: "the broker answered for no topic".to_owned(),
        }),
    }
}

/// Sets and removes overrides with IncrementalAlterConfigs over the wire: only the named
/// settings change, and a refusal comes with the broker's message.
fn alter_configs(
    connection: &Connection,
    name: &str,
    configs: &[(String, String)],
    deletes: &[String],
) -> Result<(), CliError> {
    const SET: i8 = 0;
    const DELETE: i8 = 1;
    const TOPIC: i8 = 2;
    let action = format!("alter topic {name}");
    let mut broker = admin::open(connection, &connection.bootstrap_server)?;
    let ours = VersionRange { min: 0, max: 1 };
    let version = admin::version(&broker, ApiKey::IncrementalAlterConfigs, ours, &action)?;
    let text = |s: &str| StrBytes::from_string(s.to_owned());
    let changes = configs
        .iter()
        .map(|(key, value)| {
            AlterableConfig::default()
                .with_name(text(key))
                .with_config_operation(SET)
                .with_value(Some(text(value)))
        })
        .chain(deletes.iter().map(|key| {
            AlterableConfig::default()
                .with_name(text(key))
                .with_config_operation(DELETE)
        }))
        .collect();
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(TOPIC)
            .with_resource_name(text(name))
            .with_configs(changes),
    ]);
    let response: IncrementalAlterConfigsResponse = admin::call(
        &mut broker,
        &action,
        ApiKey::IncrementalAlterConfigs,
        version,
        &request,
    )?;
    match response.responses.first() {
        Some(result) => {
            admin::check_with_message(&action, result.error_code, result.error_message.as_deref())
        }
        None => Err(CliError::Failed {
            action,
            reason: "the broker answered for no topic".to_owned(),
        }),
    }
}

/// The request timeout the broker is given, within what the command waits itself.
fn timeout_ms(connection: &Connection) -> i32 {
    i32::try_from(connection.request_timeout_ms).unwrap_or(i32::MAX)
}

fn refused(action: &str, topic: &str, code: RDKafkaErrorCode) -> CliError {
    if code == RDKafkaErrorCode::UnknownTopicOrPartition {
        CliError::UnknownTopic(topic.to_owned())
    } else {
        CliError::Refused {
            action: format!("{action} {topic}"),
            code,
        }
    }
}

/// Every setting of `topic`.
async fn describe_configs(
    admin: &AdminClient<Observer>,
    connection: &Connection,
    topic: &str,
) -> Result<Vec<ConfigEntry>, CliError> {
    let resources = admin
        .describe_configs(
            [&ResourceSpecifier::Topic(topic)],
            &client::admin_options(connection),
        )
        .await
        .map_err(|e| CliError::kafka(format!("describe settings of {topic}"), e))?;
    let mut entries = Vec::new();
    for resource in resources {
        let resource = resource.map_err(|code| refused("describe settings of", topic, code))?;
        for entry in resource.entries {
            let source = match entry.source {
                ConfigSource::Default => "default",
                ConfigSource::DynamicTopic => "override",
                ConfigSource::StaticBroker
                | ConfigSource::DynamicBroker
                | ConfigSource::DynamicDefaultBroker => "broker",
                ConfigSource::Unknown => "unknown",
            };
            entries.push(ConfigEntry {
                name: entry.name,
                value: entry.value,
                source: source.to_owned(),
            });
        }
    }
    Ok(entries)
}
