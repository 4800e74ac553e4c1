//! `runnel topic`: create, list, describe, alter and delete topics.

use std::collections::BTreeMap;
use std::io::Write;

use clap::{Args, Subcommand};
use rdkafka::admin::{
    AdminClient, AlterConfig, ConfigSource, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::error::RDKafkaErrorCode;

use rdkafka::producer::Producer;

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
            let mut topic =
                NewTopic::new(name, partitions.unwrap_or(-1), TopicReplication::Fixed(-1));
            for (key, value) in &configs {
                topic = topic.set(key, value);
            }
            let results = admin
                .create_topics([&topic], &client::admin_options(connection))
                .await
                .map_err(|e| CliError::kafka(format!("create topic {name}"), e))?;
            for result in results {
                result.map_err(|(_, code)| CliError::Refused {
                    action: format!("create topic {name}"),
                    code,
                })?;
            }
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
            // AlterConfigs replaces every override of the topic (the rdkafka crate offers no
            // IncrementalAlterConfigs), so the current overrides are carried over. Another
            // client altering the same topic at the same moment could lose its change.
            let mut overrides = overrides_of(&current);
            for key in deletes {
                overrides.remove(key);
            }
            overrides.extend(configs);
            let mut alter = AlterConfig::new(ResourceSpecifier::Topic(name));
            for (key, value) in &overrides {
                alter = alter.set(key, value);
            }
            let results = admin
                .alter_configs([&alter], &client::admin_options(connection))
                .await
                .map_err(|e| CliError::kafka(format!("alter topic {name}"), e))?;
            for result in results {
                result.map_err(|(_, code)| refused("alter topic", name, code))?;
            }
            // The rdkafka crate (0.39) reports every AlterConfigs resource as a success,
            // dropping the broker's error code, so the outcome is read back. The broker
            // applies a change whole or not at all.
            let now = overrides_of(&describe_configs(&admin, connection, name).await?);
            if now != overrides {
                let refused: Vec<String> = overrides
                    .iter()
                    .filter(|(key, value)| now.get(*key) != Some(*value))
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect();
                return Err(CliError::Failed {
                    action: format!("alter topic {name}"),
                    reason: if refused.is_empty() {
                        "the broker did not apply the change".to_owned()
                    } else {
                        format!(
                            "the broker refused {} (an invalid value?)",
                            refused.join(" ")
                        )
                    },
                });
            }
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

fn overrides_of(entries: &[(String, Option<String>, String)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .filter(|(_, _, source)| source == "override")
        .filter_map(|(key, value, _)| Some((key.clone(), value.clone()?)))
        .collect()
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
