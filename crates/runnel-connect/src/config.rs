//! A connector's configuration: Kafka Connect's flat map of string settings, read from a TOML
//! or JSON file, and the settings every sink connector shares, parsed once.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::convert::Converter;
use crate::error::ConfigError;
use crate::transform::Transform;

/// The largest configuration file read.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A connector's settings as Kafka Connect holds them: names to string values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<String, String>",
    into = "BTreeMap<String, String>"
)]
pub struct ConnectorConfig {
    settings: BTreeMap<String, String>,
}

impl ConnectorConfig {
    /// Checks that the settings name the connector and its class.
    pub fn new(settings: BTreeMap<String, String>) -> Result<ConnectorConfig, ConfigError> {
        let config = ConnectorConfig { settings };
        let name = config.required("name")?;
        if name.is_empty()
            || name.len() > 200
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(ConfigError::invalid(
                "name",
                "must be 1 to 200 characters among letters, digits, '.', '_' and '-'",
            ));
        }
        config.required("connector.class")?;
        Ok(config)
    }

    /// Reads a `.toml` or `.json` file. Nested tables or objects become dotted names
    /// (`[errors] tolerance = "all"` is `errors.tolerance`); numbers, booleans and lists
    /// (joined with commas) become strings. A JSON file may also have Kafka Connect's REST
    /// shape, `{"name": ..., "config": {...}}`.
    pub fn read_file(path: &Path) -> Result<ConnectorConfig, ConfigError> {
        let file_error = |reason: String| ConfigError::File {
            path: path.display().to_string(),
            reason,
        };
        let size = std::fs::metadata(path)
            .map_err(|e| file_error(e.to_string()))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(file_error(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        let tree: serde_json::Value = match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => {
                let table: toml::Table =
                    toml::from_str(&text).map_err(|e| file_error(e.to_string()))?;
                serde_json::to_value(table).map_err(|e| file_error(e.to_string()))?
            }
            Some("json") => serde_json::from_str(&text).map_err(|e| file_error(e.to_string()))?,
            _ => return Err(file_error("not a .toml or .json file".to_owned())),
        };
        ConnectorConfig::from_json(&tree).map_err(|e| file_error(e.to_string()))
    }

    /// Settings from a JSON object, flat or nested, or in the REST shape.
    pub fn from_json(tree: &serde_json::Value) -> Result<ConnectorConfig, ConfigError> {
        let mut settings = BTreeMap::new();
        match (tree.get("config"), tree.get("name")) {
            (Some(config @ serde_json::Value::Object(_)), name) => {
                flatten("", config, &mut settings)?;
                if let Some(serde_json::Value::String(name)) = name {
                    settings.insert("name".to_owned(), name.clone());
                }
            }
            _ => flatten("", tree, &mut settings)?,
        }
        ConnectorConfig::new(settings)
    }

    pub fn name(&self) -> &str {
        self.settings.get("name").map_or("", String::as_str)
    }

    pub fn class(&self) -> &str {
        self.settings
            .get("connector.class")
            .map_or("", String::as_str)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, key: &str) -> Result<&str, ConfigError> {
        self.get(key).ok_or(ConfigError::Missing(key.to_owned()))
    }

    /// A setting parsed as `T`, or `default` when it is absent.
    pub fn parse<T: FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::invalid(key, &e.to_string())),
        }
    }

    /// A comma-separated list; empty when absent.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The settings whose names start with `prefix`, with the prefix taken off.
    pub fn with_prefix(&self, prefix: &str) -> BTreeMap<String, String> {
        self.settings
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_owned(), v.clone())))
            .collect()
    }

    pub fn settings(&self) -> &BTreeMap<String, String> {
        &self.settings
    }
}

impl TryFrom<BTreeMap<String, String>> for ConnectorConfig {
    type Error = ConfigError;

    fn try_from(settings: BTreeMap<String, String>) -> Result<Self, Self::Error> {
        ConnectorConfig::new(settings)
    }
}

impl From<ConnectorConfig> for BTreeMap<String, String> {
    fn from(config: ConnectorConfig) -> Self {
        config.settings
    }
}

fn flatten(
    prefix: &str,
    value: &serde_json::Value,
    out: &mut BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    use serde_json::Value;
    let text = match value {
        Value::Object(fields) => {
            for (key, value) in fields {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, value, out)?;
            }
            return Ok(());
        }
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => parts.push(s.clone()),
                    Value::Number(n) => parts.push(n.to_string()),
                    Value::Bool(b) => parts.push(b.to_string()),
                    _ => return Err(ConfigError::invalid(prefix, "a list of nested values")),
                }
            }
            parts.join(",")
        }
    };
    out.insert(prefix.to_owned(), text);
    Ok(())
}

/// Which topics a sink reads.
#[derive(Debug, Clone)]
pub enum Topics {
    Names(Vec<String>),
    /// A regular expression the whole topic name must match.
    Pattern(String),
}

/// What happens to a record that cannot be converted, transformed or accepted by the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    /// The task fails and says why in its status.
    None,
    /// The record is skipped (sent to the dead-letter topic when one is set) and counted.
    All,
}

impl Tolerance {
    /// `errors.tolerance`, `none` by default.
    pub fn parse(config: &ConnectorConfig) -> Result<Tolerance, ConfigError> {
        match config.get("errors.tolerance").unwrap_or("none") {
            "none" => Ok(Tolerance::None),
            "all" => Ok(Tolerance::All),
            other => Err(ConfigError::invalid(
                "errors.tolerance",
                &format!("'{other}' is neither none nor all"),
            )),
        }
    }
}

/// Kafka Connect's `errors.*` settings.
#[derive(Debug, Clone)]
pub struct ErrorSettings {
    pub tolerance: Tolerance,
    pub dead_letter_topic: Option<String>,
    pub context_headers: bool,
    pub dead_letter_replication_factor: i32,
    /// How long a target that keeps failing transiently is retried; `None` is forever.
    pub retry_timeout: Option<Duration>,
    pub retry_delay_max: Duration,
}

/// The settings every sink connector shares.
#[derive(Debug, Clone)]
pub struct SinkSettings {
    pub tasks_max: usize,
    pub topics: Topics,
    pub key_converter: Converter,
    pub value_converter: Converter,
    pub transforms: Vec<Transform>,
    pub errors: ErrorSettings,
    /// The most records handed to the target at once.
    pub batch_size: usize,
    /// librdkafka settings for the task consumers (`consumer.override.*`).
    pub consumer_overrides: BTreeMap<String, String>,
}

/// The most tasks a connector may ask for.
const MAX_TASKS: usize = 64;
/// The largest batch a sink may be handed.
const MAX_BATCH: usize = 100_000;

/// `tasks.max`, 1 by default.
pub(crate) fn tasks_max(config: &ConnectorConfig) -> Result<usize, ConfigError> {
    let tasks_max = config.parse("tasks.max", 1usize)?;
    if !(1..=MAX_TASKS).contains(&tasks_max) {
        return Err(ConfigError::invalid(
            "tasks.max",
            &format!("must be between 1 and {MAX_TASKS}"),
        ));
    }
    Ok(tasks_max)
}

impl SinkSettings {
    pub fn parse(config: &ConnectorConfig) -> Result<SinkSettings, ConfigError> {
        let tasks_max = tasks_max(config)?;
        let topics = match (config.get("topics"), config.get("topics.regex")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "topics",
                    "set either topics or topics.regex, not both",
                ))
            }
            (Some(_), None) => Topics::Names(config.list("topics")),
            (None, Some(pattern)) => {
                Regex::new(pattern)
                    .map_err(|e| ConfigError::invalid("topics.regex", &e.to_string()))?;
                Topics::Pattern(pattern.to_owned())
            }
            (None, None) => return Err(ConfigError::Missing("topics".to_owned())),
        };
        let tolerance = Tolerance::parse(config)?;
        let retry_timeout_ms: i64 = config.parse("errors.retry.timeout", -1)?;
        let retry_delay_max_ms: u64 = config.parse("errors.retry.delay.max.ms", 60_000)?;
        let batch_size = config.parse("batch.size", 2_000usize)?;
        if !(1..=MAX_BATCH).contains(&batch_size) {
            return Err(ConfigError::invalid(
                "batch.size",
                &format!("must be between 1 and {MAX_BATCH}"),
            ));
        }
        Ok(SinkSettings {
            tasks_max,
            topics,
            key_converter: Converter::parse(config, "key.converter")?,
            value_converter: Converter::parse(config, "value.converter")?,
            transforms: Transform::parse_all(config)?,
            errors: ErrorSettings {
                tolerance,
                dead_letter_topic: config
                    .get("errors.deadletterqueue.topic.name")
                    .map(str::to_owned),
                context_headers: config
                    .parse("errors.deadletterqueue.context.headers.enable", false)?,
                dead_letter_replication_factor: config
                    .parse("errors.deadletterqueue.topic.replication.factor", 1)?,
                retry_timeout: u64::try_from(retry_timeout_ms)
                    .ok()
                    .map(Duration::from_millis),
                retry_delay_max: Duration::from_millis(retry_delay_max_ms.max(1)),
            },
            batch_size,
            consumer_overrides: config.with_prefix("consumer.override."),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn toml_tables_become_dotted_kafka_connect_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "orders.toml",
            r#"
name = "orders"
"connector.class" = "postgres"
tasks.max = 2
topics = ["a", "b"]
[errors]
tolerance = "all"
deadletterqueue.topic.name = "dlq"
"#,
        );
        let config = ConnectorConfig::read_file(&path).unwrap();
        assert_eq!(config.name(), "orders");
        assert_eq!(config.get("tasks.max"), Some("2"));
        assert_eq!(config.list("topics"), ["a", "b"]);
        assert_eq!(config.get("errors.tolerance"), Some("all"));
        let settings = SinkSettings::parse(&config).unwrap();
        assert_eq!(settings.tasks_max, 2);
        assert_eq!(settings.errors.tolerance, Tolerance::All);
        assert_eq!(settings.errors.dead_letter_topic.as_deref(), Some("dlq"));
    }

    #[test]
    fn json_in_the_rest_shape_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "c.json",
            r#"{"name": "c", "config": {"connector.class": "redis", "topics.regex": "t-.*"}}"#,
        );
        let config = ConnectorConfig::read_file(&path).unwrap();
        assert_eq!(config.name(), "c");
        let settings = SinkSettings::parse(&config).unwrap();
        match settings.topics {
            Topics::Pattern(pattern) => assert_eq!(pattern, "t-.*"),
            Topics::Names(_) => panic!("a pattern was expected"),
        }
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let config = |pairs: &[(&str, &str)]| {
            ConnectorConfig::new(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        };
        assert!(matches!(
            config(&[("connector.class", "redis")]),
            Err(ConfigError::Missing(k)) if k == "name"
        ));
        assert!(config(&[("name", "a b"), ("connector.class", "redis")]).is_err());
        let no_topics = config(&[("name", "a"), ("connector.class", "redis")]).unwrap();
        assert!(SinkSettings::parse(&no_topics)
            .unwrap_err()
            .to_string()
            .contains("topics"));
        let bad_tolerance = config(&[
            ("name", "a"),
            ("connector.class", "redis"),
            ("topics", "t"),
            ("errors.tolerance", "some"),
        ])
        .unwrap();
        assert!(SinkSettings::parse(&bad_tolerance)
            .unwrap_err()
            .to_string()
            .contains("errors.tolerance"));
    }
}
