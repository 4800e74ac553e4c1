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
    // Argument mistakes are reported before any connection is attempted.
    let configs = match &args.command {
        TopicCommand::Create { configs, .. } => parse_configs(configs)?,
        TopicCommand::Alter {
            configs, deletes, ..
        } => {
            if configs.is_empty() && deletes.is_empty() {
                return Err(CliError::BadArguments(
                    "nothing to alter: give --config KEY=VALUE or --delete-config KEY".to_owned(),
                ));
            }
            parse_configs(configs)?
        }
        _ => Vec::new(),
    };
    let (probe, metadata) = client::probe(connection)?;
    let admin = client::admin(connection)?;
    match &args.command {
        TopicCommand::Create {
            name, partitions, ..
        } => {
            create(connection, name, *partitions, &configs)?;
            writeln!(out, "created topic {name}").map_err(CliError::Output)
        }
        TopicCommand::List { include_internal } => {
            let mut names: Vec<&str> = metadata
                .topics()
                .iter()
                .map(|t| t.name())
                .filter(|name| *include_internal || !client::is_internal(name))
                .collect();
            names.sort_unstable();
            for name in names {
                writeln!(out, "{name}").map_err(CliError::Output)?;
            }
            Ok(())
        }
        TopicCommand::Describe { name } => {
            let partitions = client::partitions(&metadata, name)?;
            let leaders: BTreeMap<i32, i32> = metadata
                .topics()
                .iter()
                .filter(|t| t.name() == name)
                .flat_map(|t| t.partitions())
                .map(|p| (p.id(), p.leader()))
                .collect();
            let mut table = Table::new(&["PARTITION", "LEADER", "LOG-START", "LOG-END"]);
            for partition in &partitions {
                let (start, end) = probe
                    .client()
                    .fetch_watermarks(name, *partition, connection.timeout())
                    .map_err(|e| {
                        CliError::kafka(format!("read offsets of {name}-{partition}"), e)
                    })?;
                let leader = leaders.get(partition).copied().unwrap_or(-1);
                table.row(vec![
                    partition.to_string(),
                    if leader < 0 {
                        "-".to_owned()
                    } else {
                        leader.to_string()
                    },
                    start.to_string(),
                    end.to_string(),
                ]);
            }
            let mut settings = Table::new(&["CONFIG", "VALUE", "SOURCE"]);
            let mut entries = describe_configs(&admin, connection, name).await?;
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, value, source) in entries {
                settings.row(vec![key, value.unwrap_or_else(|| "-".to_owned()), source]);
            }
            write_fields(
                out,
                &[
                    ("Topic", name.clone()),
                    ("Partitions", partitions.len().to_string()),
                ],
            )
            .and_then(|()| writeln!(out))
            .and_then(|()| table.write(out))
            .and_then(|()| writeln!(out))
            .and_then(|()| settings.write(out))
            .map_err(CliError::Output)
        }
        TopicCommand::Alter { name, deletes, .. } => {
            client::partitions(&metadata, name)?;
            let current = describe_configs(&admin, connection, name).await?;
            if let Some((key, _)) = configs
                .iter()
                .find(|(key, _)| !current.iter().any(|(known, ..)| known == key))
            {
                return Err(CliError::UnknownSetting(key.clone()));
            }
            alter(connection, name, &configs, deletes)?;
            writeln!(out, "altered topic {name}").map_err(CliError::Output)
        }
        TopicCommand::Delete { name } => {
            client::partitions(&metadata, name)?;
            let results = admin
                .delete_topics(&[name], &client::admin_options(connection))
                .await
                .map_err(|e| CliError::kafka(format!("delete topic {name}"), e))?;
            for result in results {
                result.map_err(|(_, code)| refused("delete topic", name, code))?;
            }
            writeln!(out, "deleted topic {name}").map_err(CliError::Output)
        }
    }
}

fn parse_configs(configs: &[String]) -> Result<Vec<(String, String)>, CliError> {
    configs
        .iter()
        .map(|c| parse_key_value("--config", c))
        .collect()
}

/// Creates a topic with CreateTopics over the wire: the rdkafka crate drops the message a
/// broker gives with a refusal, and it is the one that says what was wrong.
fn create(
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
        Some(result) => refusal(&action, result.error_code, result.error_message.as_ref()),
        None => Err(CliError::Failed {
            action,
            reason: "the broker answered for no topic".to_owned(),
        }),
    }
}

/// Sets and removes overrides with IncrementalAlterConfigs over the wire: only the named
/// settings change, and a refusal comes with the broker's message.
fn alter(
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
        Some(result) => refusal(&action, result.error_code, result.error_message.as_ref()),
        None => Err(CliError::Failed {
            action,
            reason: "the broker answered for no topic".to_owned(),
        }),
    }
}

/// A topic request's outcome: the broker's own message when it refused with one.
fn refusal(action: &str, code: i16, message: Option<&StrBytes>) -> Result<(), CliError> {
    match message.filter(|m| !m.is_empty()) {
        Some(message) if code != 0 => Err(CliError::Failed {
            action: action.to_owned(),
            reason: message.to_string(),
        }),
        _ => admin::check(action, code),
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

/// Every setting of `topic` as (name, value, source), the source being `default`,
/// `override` (set on the topic) or `broker` (from the broker's configuration file).
async fn describe_configs(
    admin: &AdminClient<Observer>,
    connection: &Connection,
    topic: &str,
) -> Result<Vec<(String, Option<String>, String)>, CliError> {
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
            entries.push((entry.name, entry.value, source.to_owned()));
        }
    }
    Ok(entries)
}
