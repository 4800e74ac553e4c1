//! The connector's settings, with Debezium's PostgreSQL connector names, read from the flat
//! string map a connector file holds.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;

/// A setting that is missing, malformed or names something unsupported.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {0} is required")]
    Missing(&'static str),
    #[error("setting {name} = {value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// When the connector reads the tables' existing rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// A snapshot when there is no committed position, then streaming.
    Initial,
    /// Streaming only, from the slot's position.
    Never,
    /// A snapshot when there is no committed position, then no streaming.
    InitialOnly,
    /// Like `Initial`, and also when the committed position is no longer in the slot (the slot
    /// was dropped or moved past it).
    WhenNeeded,
}

/// How `numeric` and `decimal` columns appear in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecimalHandling {
    /// The exact decimal text, such as `"12.50"`.
    String,
    /// A JSON number (may lose precision).
    Double,
}

#[derive(Debug, Clone)]
pub struct CdcConfig {
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub dbname: String,
    /// The logical server name: first part of each topic, and `source.name`.
    pub topic_prefix: String,
    pub slot_name: String,
    pub publication_name: String,
    pub include: Vec<Regex>,
    pub exclude: Vec<Regex>,
    pub snapshot_mode: SnapshotMode,
    pub tombstones_on_delete: bool,
    pub decimal_handling: DecimalHandling,
    pub key_schemas: bool,
    pub value_schemas: bool,
    /// Most records one `poll` returns.
    pub max_batch_size: usize,
    /// Most replication messages buffered between the socket and `poll`.
    pub max_queue_size: usize,
    /// How long `poll` waits for a change before it returns an empty batch.
    pub poll_interval: Duration,
    /// Rows fetched per round trip while snapshotting.
    pub snapshot_fetch_size: usize,
    pub heartbeats: Heartbeats,
    /// Drop the slot when the connector stops (for tests and short-lived captures).
    pub slot_drop_on_stop: bool,
    /// How many times, and how long apart, `start` checks for a slot another session holds.
    pub slot_max_retries: u32,
    pub slot_retry_delay: Duration,
}

impl CdcConfig {
    pub fn from_settings(settings: &BTreeMap<String, String>) -> Result<CdcConfig, ConfigError> {
        let get = |name: &str| settings.get(name).map(String::as_str);
        let required = |name: &'static str| {
            get(name)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or(ConfigError::Missing(name))
        };
        if let Some(plugin) = get("plugin.name") {
            if plugin != "pgoutput" {
                return Err(invalid("plugin.name", plugin, "only pgoutput is supported"));
            }
        }
        Ok(CdcConfig {
            hostname: get("database.hostname").unwrap_or("127.0.0.1").to_owned(),
            port: parse(settings, "database.port", 5432)?,
            user: required("database.user")?,
            password: get("database.password").unwrap_or_default().to_owned(),
            dbname: required("database.dbname")?,
            topic_prefix: topic_prefix(required("topic.prefix")?)?,
            slot_name: identifier("slot.name", get("slot.name").unwrap_or("runnel"))?,
            publication_name: identifier(
                "publication.name",
                get("publication.name").unwrap_or("runnel_publication"),
            )?,
            include: patterns("table.include.list", get("table.include.list"))?,
            exclude: patterns("table.exclude.list", get("table.exclude.list"))?,
            snapshot_mode: snapshot_mode(get("snapshot.mode"))?,
            tombstones_on_delete: parse(settings, "tombstones.on.delete", true)?,
            decimal_handling: decimal_handling(get("decimal.handling.mode"))?,
            key_schemas: parse(settings, "key.converter.schemas.enable", true)?,
            value_schemas: parse(settings, "value.converter.schemas.enable", true)?,
            max_batch_size: positive(settings, "max.batch.size", 2048)?,
            max_queue_size: positive(settings, "max.queue.size", 8192)?,
            poll_interval: Duration::from_millis(positive(settings, "poll.interval.ms", 500)?),
            snapshot_fetch_size: positive(settings, "snapshot.fetch.size", 10_240)?,
            heartbeats: Heartbeats::from_settings(settings)?,
            slot_drop_on_stop: parse(settings, "slot.drop.on.stop", false)?,
            slot_max_retries: parse(settings, "slot.max.retries", 6)?,
            slot_retry_delay: Duration::from_millis(positive(
                settings,
                "slot.retry.delay.ms",
                10_000,
            )?),
        })
    }

    /// Whether changes of `schema.table` are captured.
    pub fn captures(&self, schema: &str, table: &str) -> bool {
        captured(&self.include, &self.exclude, schema, table)
    }

    pub fn topic(&self, schema: &str, table: &str) -> String {
        format!("{}.{schema}.{table}", self.topic_prefix)
    }
}

/// Heartbeat records, as Debezium's `heartbeat.interval.ms` and `topic.heartbeat.prefix`
/// set them: a record now and then while the captured tables are idle, whose offset lets the
/// source's position in the database move on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeats {
    /// How often, at most, an idle stream emits one (`None`: never).
    pub interval: Option<Duration>,
    /// `topic.heartbeat.prefix`.
    pub topic_prefix: String,
}

impl Heartbeats {
    pub fn from_settings(settings: &BTreeMap<String, String>) -> Result<Heartbeats, ConfigError> {
        Ok(Heartbeats {
            interval: match parse(settings, "heartbeat.interval.ms", 0u64)? {
                0 => None,
                ms => Some(Duration::from_millis(ms)),
            },
            topic_prefix: settings
                .get("topic.heartbeat.prefix")
                .map_or("__debezium-heartbeat", String::as_str)
                .to_owned(),
        })
    }

    /// The heartbeat topic of the logical server `server` (`topic.prefix`).
    pub fn topic(&self, server: &str) -> String {
        format!("{}.{server}", self.topic_prefix)
    }

    /// Whether a heartbeat is due at `now_ms`, the last one sent at `last_ms`.
    pub fn due(&self, last_ms: i64, now_ms: i64) -> bool {
        self.interval.is_some_and(|interval| {
            let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
            now_ms.saturating_sub(last_ms) >= interval_ms
        })
    }
}

/// Whether `schema.table` passes an include list (empty: everything) and an exclude list.
pub(crate) fn captured(include: &[Regex], exclude: &[Regex], schema: &str, table: &str) -> bool {
    let name = format!("{schema}.{table}");
    let included = include.is_empty() || include.iter().any(|r| r.is_match(&name));
    included && !exclude.iter().any(|r| r.is_match(&name))
}

pub(crate) fn snapshot_mode(value: Option<&str>) -> Result<SnapshotMode, ConfigError> {
    Ok(match value.unwrap_or("initial") {
        "initial" => SnapshotMode::Initial,
        "never" | "no_data" => SnapshotMode::Never,
        "initial_only" => SnapshotMode::InitialOnly,
        "when_needed" => SnapshotMode::WhenNeeded,
        other => {
            return Err(invalid(
                "snapshot.mode",
                other,
                "expected initial, never, initial_only or when_needed",
            ))
        }
    })
}

pub(crate) fn decimal_handling(value: Option<&str>) -> Result<DecimalHandling, ConfigError> {
    match value.unwrap_or("string") {
        "string" => Ok(DecimalHandling::String),
        "double" => Ok(DecimalHandling::Double),
        other => Err(invalid(
            "decimal.handling.mode",
            other,
            "expected string or double",
        )),
    }
}

pub(crate) fn invalid(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

pub(crate) fn parse<T: std::str::FromStr>(
    settings: &BTreeMap<String, String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match settings.get(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|e: T::Err| invalid(name, value, &e.to_string())),
    }
}

pub(crate) fn positive<T>(
    settings: &BTreeMap<String, String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialEq + From<u8> + std::fmt::Display,
    T::Err: std::fmt::Display,
{
    let value = parse(settings, name, default)?;
    if value == T::from(0) {
        return Err(invalid(name, "0", "must be positive"));
    }
    Ok(value)
}

/// Slot and publication names go into replication commands unquoted, so they are held to the
/// characters PostgreSQL allows in a slot name.
fn identifier(name: &'static str, value: &str) -> Result<String, ConfigError> {
    let valid = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            name,
            value,
            "use 1 to 63 lower-case letters, digits and underscores",
        ))
    }
}

pub(crate) fn topic_prefix(value: String) -> Result<String, ConfigError> {
    let valid = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(value)
    } else {
        Err(invalid(
            "topic.prefix",
            &value,
            "use letters, digits, '.', '_' and '-'",
        ))
    }
}

/// Comma-separated regular expressions, each matched against the whole `schema.table`.
pub(crate) fn patterns(name: &'static str, value: Option<&str>) -> Result<Vec<Regex>, ConfigError> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| Regex::new(&format!("^(?:{p})$")).map_err(|e| invalid(name, p, &e.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        [
            ("database.user", "postgres"),
            ("database.dbname", "shop"),
            ("topic.prefix", "pg1"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn defaults_follow_debezium_where_runnel_supports_the_same_thing() {
        let config = CdcConfig::from_settings(&settings(&[])).unwrap();
        assert_eq!(config.snapshot_mode, SnapshotMode::Initial);
        assert!(config.tombstones_on_delete && config.value_schemas && config.key_schemas);
        assert_eq!(config.port, 5432);
        assert_eq!(config.topic("public", "orders"), "pg1.public.orders");
    }

    #[test]
    fn include_and_exclude_lists_match_the_whole_qualified_name() {
        let config = CdcConfig::from_settings(&settings(&[
            ("table.include.list", "public\\..*, audit.log"),
            ("table.exclude.list", "public.secret.*"),
        ]))
        .unwrap();
        assert!(config.captures("public", "orders"));
        assert!(config.captures("audit", "log"));
        assert!(!config.captures("audit", "logs"));
        assert!(!config.captures("public", "secrets"));
        assert!(!config.captures("other", "orders"));
    }

    #[test]
    fn bad_settings_are_named_in_the_error() {
        let error = |extra: &[(&str, &str)]| {
            CdcConfig::from_settings(&settings(extra))
                .unwrap_err()
                .to_string()
        };
        assert!(error(&[("snapshot.mode", "sometimes")]).contains("snapshot.mode"));
        assert!(error(&[("slot.name", "Bad Slot")]).contains("slot.name"));
        assert!(error(&[("table.include.list", "(")]).contains("table.include.list"));
        assert!(error(&[("max.batch.size", "0")]).contains("max.batch.size"));
        assert!(error(&[("plugin.name", "wal2json")]).contains("pgoutput"));
        let missing = CdcConfig::from_settings(&BTreeMap::new()).unwrap_err();
        assert!(missing.to_string().contains("database.user"));
    }
}
