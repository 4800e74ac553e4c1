//! The MariaDB/MySQL connector's settings, with Debezium's MySQL connector names where Runnel
//! does the same thing; the settings both sources share are read by the same functions.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;

use crate::config::{
    captured, decimal_handling, parse, patterns, positive, snapshot_mode, topic_prefix,
    ConfigError, DecimalHandling, Heartbeats, SnapshotMode,
};

#[derive(Debug, Clone)]
pub struct MariaDbConfig {
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The replica id the connector registers with (`database.server.id`): unique among the
    /// server's replicas, and not the server's own.
    pub server_id: u32,
    /// `source.connector`: `mysql` or `mariadb`, after the connector class.
    pub connector: &'static str,
    /// The logical server name: first part of each topic, and `source.name`.
    pub topic_prefix: String,
    pub include: Vec<Regex>,
    pub exclude: Vec<Regex>,
    pub snapshot_mode: SnapshotMode,
    pub tombstones_on_delete: bool,
    pub decimal_handling: DecimalHandling,
    pub key_schemas: bool,
    pub value_schemas: bool,
    /// Most records one `poll` returns.
    pub max_batch_size: usize,
    /// Most records waiting between the database connection and `poll`.
    pub max_queue_size: usize,
    /// How long `poll` waits for a change before it returns an empty batch.
    pub poll_interval: Duration,
    pub heartbeats: Heartbeats,
}

impl MariaDbConfig {
    pub fn from_settings(
        settings: &BTreeMap<String, String>,
    ) -> Result<MariaDbConfig, ConfigError> {
        let get = |name: &str| settings.get(name).map(String::as_str);
        let required = |name: &'static str| {
            get(name)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or(ConfigError::Missing(name))
        };
        let connector = match get("connector.class") {
            Some(class) if class.contains(".mysql.") => "mysql",
            _ => "mariadb",
        };
        Ok(MariaDbConfig {
            hostname: get("database.hostname").unwrap_or("127.0.0.1").to_owned(),
            port: parse(settings, "database.port", 3306)?,
            user: required("database.user")?,
            password: get("database.password").unwrap_or_default().to_owned(),
            server_id: positive(settings, "database.server.id", 5400)?,
            connector,
            topic_prefix: topic_prefix(required("topic.prefix")?)?,
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
            heartbeats: Heartbeats::from_settings(settings)?,
        })
    }

    /// Whether changes of `database.table` are captured.
    pub fn captures(&self, database: &str, table: &str) -> bool {
        captured(&self.include, &self.exclude, database, table)
    }

    pub fn topic(&self, database: &str, table: &str) -> String {
        format!("{}.{database}.{table}", self.topic_prefix)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        [("database.user", "root"), ("topic.prefix", "shop")]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_follow_debezium_and_the_class_names_the_connector() {
        let config = MariaDbConfig::from_settings(&settings(&[])).unwrap();
        assert_eq!((config.port, config.server_id), (3306, 5400));
        assert_eq!(config.connector, "mariadb");
        assert_eq!(config.topic("inventory", "items"), "shop.inventory.items");
        let mysql = MariaDbConfig::from_settings(&settings(&[(
            "connector.class",
            "io.debezium.connector.mysql.MySqlConnector",
        )]))
        .unwrap();
        assert_eq!(mysql.connector, "mysql");
    }

    #[test]
    fn bad_settings_are_named_in_the_error() {
        let error = |extra: &[(&str, &str)]| {
            MariaDbConfig::from_settings(&settings(extra))
                .unwrap_err()
                .to_string()
        };
        assert!(error(&[("database.server.id", "0")]).contains("database.server.id"));
        assert!(error(&[("database.server.id", "-3")]).contains("database.server.id"));
        assert!(error(&[("snapshot.mode", "sometimes")]).contains("snapshot.mode"));
        assert!(error(&[("table.include.list", "(")]).contains("table.include.list"));
        let missing = MariaDbConfig::from_settings(&BTreeMap::new()).unwrap_err();
        assert!(missing.to_string().contains("database.user"));
    }
}
