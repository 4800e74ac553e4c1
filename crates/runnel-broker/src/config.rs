//! Broker settings, named as Kafka names its broker configs.
//!
//! A config file is TOML. Keys are Kafka's dotted names; TOML reads an unquoted dotted key
//! as nested tables, so both `"log.retention.ms" = 1000` and `log.retention.ms = 1000` work:
//! nested tables are flattened back into dotted names before they are applied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use runnel_log::LogConfig;

use crate::groups::consumer::Assignor;
use crate::listeners::{self, SecurityProtocol};
use crate::sasl::SaslSettings;
use crate::tls::TlsSettings;

/// Why a setting or a config file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value {value:?} for {name}")]
    InvalidValue { name: String, value: String },
    #[error("unknown setting {0:?}")]
    Unknown(String),
    #[error("{0}")]
    Log(#[from] runnel_log::LogError),
}

/// Broker-level `log.*` names and the topic-level names they set the default of.
const LOG_DEFAULTS: &[(&str, &str)] = &[
    ("log.cleanup.policy", "cleanup.policy"),
    ("log.cleaner.delete.retention.ms", "delete.retention.ms"),
    ("log.cleaner.max.compaction.lag.ms", "max.compaction.lag.ms"),
    (
        "log.cleaner.min.cleanable.ratio",
        "min.cleanable.dirty.ratio",
    ),
    ("log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms"),
    ("log.flush.interval.messages", "flush.messages"),
    ("log.flush.interval.ms", "flush.ms"),
    ("log.flush.interval.bytes", "flush.bytes"),
    ("log.index.interval.bytes", "index.interval.bytes"),
    ("log.index.size.max.bytes", "segment.index.bytes"),
    ("compression.type", "compression.type"),
    (
        "log.message.timestamp.after.max.ms",
        "message.timestamp.after.max.ms",
    ),
    (
        "log.message.timestamp.before.max.ms",
        "message.timestamp.before.max.ms",
    ),
    ("log.message.timestamp.type", "message.timestamp.type"),
    ("log.retention.bytes", "retention.bytes"),
    ("log.retention.ms", "retention.ms"),
    ("log.roll.ms", "segment.ms"),
    ("log.segment.bytes", "segment.bytes"),
    ("message.max.bytes", "max.message.bytes"),
];

/// Maps a broker-level log setting to the topic-level name it provides the default for.
pub fn topic_name_for_broker_setting(name: &str) -> Option<&'static str> {
    LOG_DEFAULTS
        .iter()
        .find(|(b, _)| *b == name)
        .map(|(_, t)| *t)
}

/// Maps a topic-level setting name to its broker-level default's name (for DescribeConfigs).
pub fn broker_name_for_topic_setting(name: &str) -> Option<&'static str> {
    LOG_DEFAULTS
        .iter()
        .find(|(_, t)| *t == name)
        .map(|(b, _)| *b)
}

/// Everything the broker is configured with.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub data_dir: PathBuf,
    /// Address to bind, `HOST:PORT` (one PLAINTEXT listener), or `listeners`: a list of
    /// `NAME://HOST:PORT` (see [`crate::listeners`]); port 0 picks a free one.
    pub listen: String,
    /// `HOST:PORT` given to clients in metadata, or `advertised.listeners` (`NAME://HOST:PORT`
    /// for some of the listeners); a listener without one advertises its bound address.
    pub advertise: Option<String>,
    /// `listener.security.protocol.map`: each listener name's security protocol.
    pub protocol_map: BTreeMap<String, SecurityProtocol>,
    /// `ssl.*`: the certificates and protocols of SSL listeners.
    pub tls: TlsSettings,
    /// `sasl.enabled.mechanisms`, re-authentication and the failed-authentication delay of
    /// SASL listeners.
    pub sasl: SaslSettings,
    /// `node.id` (alias `broker.id`).
    pub node_id: i32,
    /// `num.partitions`: partitions of an auto-created topic, and of a created one that asks
    /// for the default (-1).
    pub num_partitions: i32,
    /// `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// Defaults for every topic, from the broker's `log.*` settings.
    pub log_defaults: LogConfig,
    /// Broker-level `log.*` settings given explicitly, by broker name (DescribeConfigs source).
    pub explicit_log_settings: BTreeMap<String, String>,
    /// `socket.request.max.bytes`: the largest request frame accepted.
    pub max_request_bytes: usize,
    /// `max.in.flight.requests.per.connection` (Runnel's own): requests of one connection
    /// accepted before the broker stops reading from it. Reads among them run concurrently,
    /// state changes one after another; responses go out in request order.
    pub max_in_flight_per_connection: usize,
    /// `connections.max.idle.ms`: a connection that completes no request and gets no
    /// response for this long is closed (a half-sent frame does not count as activity).
    pub connections_max_idle_ms: u64,
    /// `max.connections`: connections open at once; more are closed as they are accepted.
    pub max_connections: usize,
    /// `max.connections.per.ip`: connections open at once from one client address.
    pub max_connections_per_ip: usize,
    /// `log.retention.check.interval.ms`.
    pub retention_check_interval_ms: u64,
    /// `log.cleaner.backoff.ms`: how often the cleaner looks for compactable logs.
    pub cleaner_backoff_ms: u64,
    /// `log.flush.scheduler.interval.ms`: how often `flush.ms` is checked.
    pub flush_scheduler_interval_ms: u64,
    /// `offsets.topic.num.partitions`.
    pub offsets_topic_partitions: i32,
    /// `group.initial.rebalance.delay.ms`.
    pub group_initial_rebalance_delay_ms: u64,
    /// `group.min.session.timeout.ms`.
    pub group_min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub group_max_session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms`: how often consumer group members heartbeat.
    pub group_consumer_heartbeat_interval_ms: u64,
    /// `group.consumer.session.timeout.ms`: a consumer group member silent this long is
    /// removed.
    pub group_consumer_session_timeout_ms: u64,
    /// `group.consumer.assignors`: the server-side assignors offered, the default first.
    pub group_consumer_assignors: Vec<Assignor>,
    /// `transaction.state.log.num.partitions`.
    pub transaction_state_partitions: i32,
    /// `transaction.max.timeout.ms`: the longest timeout a transactional producer may ask for.
    pub transaction_max_timeout_ms: i64,
    /// `transactional.id.expiration.ms`: an id idle this long (no open transaction) is forgotten.
    pub transactional_id_expiration_ms: i64,
    /// `producer.id.expiration.ms`: a partition forgets an idle producer's sequence state.
    pub producer_id_expiration_ms: i64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often timed-out
    /// transactions are looked for.
    pub transaction_cleanup_interval_ms: u64,
    /// `group.share.*`: share-group defaults.
    pub share: crate::share::config::ShareDefaults,
    /// Whether requests are counted for the metrics as they are served. Off, the counting
    /// costs nothing: for a broker whose metrics nobody scrapes.
    pub count_requests: bool,
    /// How client quotas sample rates: `quota.window.num` windows of
    /// `quota.window.size.seconds` each.
    pub quota_windows: crate::quotas::Windows,
    /// Authorization (`authorizer.class.name`, `super.users`,
    /// `allow.everyone.if.no.acl.found`); off by default.
    pub authorization: crate::acls::AuthorizationConfig,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            data_dir: PathBuf::from("./runnel-data"),
            listen: "127.0.0.1:9092".to_owned(),
            advertise: None,
            protocol_map: listeners::default_protocol_map(),
            tls: TlsSettings::default(),
            sasl: SaslSettings::default(),
            node_id: 0,
            num_partitions: 1,
            auto_create_topics: true,
            log_defaults: LogConfig::default(),
            explicit_log_settings: BTreeMap::new(),
            max_request_bytes: 100 * 1024 * 1024,
            max_in_flight_per_connection: 16,
            connections_max_idle_ms: 600_000,
            max_connections: i32::MAX as usize,
            max_connections_per_ip: i32::MAX as usize,
            retention_check_interval_ms: 300_000,
            cleaner_backoff_ms: 15_000,
            flush_scheduler_interval_ms: 1_000,
            offsets_topic_partitions: 1,
            group_initial_rebalance_delay_ms: 3_000,
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_consumer_heartbeat_interval_ms: 5_000,
            group_consumer_session_timeout_ms: 45_000,
            group_consumer_assignors: Assignor::ALL.to_vec(),
            transaction_state_partitions: 1,
            transaction_max_timeout_ms: 900_000,
            transactional_id_expiration_ms: 7 * 24 * 60 * 60 * 1000,
            producer_id_expiration_ms: 24 * 60 * 60 * 1000,
            transaction_cleanup_interval_ms: 10_000,
            share: crate::share::config::ShareDefaults::default(),
            count_requests: true,
            quota_windows: crate::quotas::Windows::default(),
            authorization: crate::acls::AuthorizationConfig::default(),
        }
    }
}

impl BrokerConfig {
    /// Defaults with the given data directory and listen address.
    pub fn new(data_dir: impl Into<PathBuf>, listen: impl Into<String>) -> Self {
        BrokerConfig {
            data_dir: data_dir.into(),
            listen: listen.into(),
            ..BrokerConfig::default()
        }
    }

    /// Applies the settings of a TOML file over the current ones.
    pub fn load_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: path.to_owned(),
                message: e.message().to_owned(),
            })?;
        let mut settings = BTreeMap::new();
        flatten("", &table, &mut settings).map_err(|name| ConfigError::Parse {
            path: path.to_owned(),
            message: format!("{name}: only strings, numbers and booleans are settings"),
        })?;
        for (name, value) in settings {
            self.set(&name, &value)?;
        }
        Ok(())
    }

    /// Sets one setting by its Kafka name.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let bad = || ConfigError::InvalidValue {
            name: name.to_owned(),
            value: value.to_owned(),
        };
        let int = || value.trim().parse::<i64>().map_err(|_| bad());
        let positive = || int().and_then(|v| if v > 0 { Ok(v) } else { Err(bad()) });
        let non_negative = || int().and_then(|v| u64::try_from(v).map_err(|_| bad()));
        let small = |v: i64| i32::try_from(v).map_err(|_| bad());
        match name {
            "node.id" | "broker.id" => {
                self.node_id =
                    small(int()?).and_then(|v| if v >= 0 { Ok(v) } else { Err(bad()) })?
            }
            "listeners" => {
                listeners::parse_endpoints(value).map_err(|_| bad())?;
                self.listen = value.trim().to_owned();
            }
            "advertised.listeners" => {
                listeners::parse_endpoints(value).map_err(|_| bad())?;
                self.advertise = Some(value.trim().to_owned());
            }
            "listener.security.protocol.map" => {
                self.protocol_map = listeners::parse_protocol_map(value).map_err(|_| bad())?
            }
            "num.partitions" => self.num_partitions = small(positive()?)?,
            "auto.create.topics.enable" => {
                self.auto_create_topics = match value.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad()),
                }
            }
            "socket.request.max.bytes" => {
                // At least room for a request header; at most what the i32 size prefix holds.
                let bytes = positive()?;
                if !(64..=i64::from(i32::MAX)).contains(&bytes) {
                    return Err(bad());
                }
                self.max_request_bytes = usize::try_from(bytes).map_err(|_| bad())?;
            }
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight_per_connection =
                    usize::try_from(small(positive()?)?).map_err(|_| bad())?
            }
            "connections.max.idle.ms" => self.connections_max_idle_ms = positive()? as u64,
            "max.connections" => {
                self.max_connections = usize::try_from(small(int()?)?).map_err(|_| bad())?
            }
            "max.connections.per.ip" => {
                self.max_connections_per_ip = usize::try_from(small(int()?)?).map_err(|_| bad())?
            }
            "log.retention.check.interval.ms" => {
                self.retention_check_interval_ms = positive()? as u64
            }
            "log.cleaner.backoff.ms" => self.cleaner_backoff_ms = positive()? as u64,
            "log.flush.scheduler.interval.ms" => {
                self.flush_scheduler_interval_ms = positive()? as u64
            }
            "offsets.topic.num.partitions" => self.offsets_topic_partitions = small(positive()?)?,
            "group.initial.rebalance.delay.ms" => {
                self.group_initial_rebalance_delay_ms = non_negative()?
            }
            "group.min.session.timeout.ms" => {
                self.group_min_session_timeout_ms = small(positive()?)?
            }
            "group.max.session.timeout.ms" => {
                self.group_max_session_timeout_ms = small(positive()?)?
            }
            "group.consumer.heartbeat.interval.ms" => {
                self.group_consumer_heartbeat_interval_ms = small(positive()?)? as u64
            }
            "group.consumer.session.timeout.ms" => {
                self.group_consumer_session_timeout_ms = small(positive()?)? as u64
            }
            "group.consumer.assignors" => {
                let assignors: Option<Vec<Assignor>> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(Assignor::from_name)
                    .collect();
                match assignors {
                    Some(list) if !list.is_empty() => self.group_consumer_assignors = list,
                    _ => return Err(bad()),
                }
            }
            "transaction.state.log.num.partitions" => {
                self.transaction_state_partitions = small(positive()?)?
            }
            "transaction.max.timeout.ms" => self.transaction_max_timeout_ms = positive()?,
            "transactional.id.expiration.ms" => self.transactional_id_expiration_ms = positive()?,
            "producer.id.expiration.ms" => self.producer_id_expiration_ms = positive()?,
            "quota.window.num" => {
                self.quota_windows.samples =
                    u32::try_from(small(positive()?)?).map_err(|_| bad())?
            }
            "quota.window.size.seconds" => {
                self.quota_windows.window_ms = u64::try_from(small(positive()?)?)
                    .map_err(|_| bad())?
                    .saturating_mul(1000)
            }
            "transaction.abort.timed.out.transaction.cleanup.interval.ms" => {
                self.transaction_cleanup_interval_ms = positive()? as u64
            }
            ssl if ssl.starts_with("ssl.") => {
                if !self.tls.set(ssl, value).map_err(|_| bad())? {
                    return Err(ConfigError::Unknown(name.to_owned()));
                }
            }
            "sasl.enabled.mechanisms"
            | "connections.max.reauth.ms"
            | "connection.failed.authentication.delay.ms"
            | "sasl.server.max.receive.size" => {
                self.sasl.set(name, value).map_err(|_| bad())?;
            }
            sasl if sasl.starts_with("listener.name.") || sasl.starts_with("sasl.oauthbearer.") => {
                if !self.sasl.set(sasl, value).map_err(|_| bad())? {
                    return Err(ConfigError::Unknown(name.to_owned()));
                }
            }
            "authorizer.class.name" | "super.users" | "allow.everyone.if.no.acl.found" => {
                self.authorization.set(name, value).map_err(|_| bad())?
            }
            share if share.starts_with("group.share.") => {
                if !self.share.set(share, value).map_err(|_| bad())? {
                    return Err(ConfigError::Unknown(name.to_owned()));
                }
            }
            // Accepted for compatibility with Kafka config files; a single node has one replica.
            "default.replication.factor"
            | "offsets.topic.replication.factor"
            | "transaction.state.log.replication.factor" => {
                if int()? != 1 {
                    return Err(bad());
                }
            }
            _ => {
                let Some(topic_name) = topic_name_for_broker_setting(name) else {
                    return Err(ConfigError::Unknown(name.to_owned()));
                };
                self.log_defaults.set(topic_name, value)?;
                self.explicit_log_settings
                    .insert(name.to_owned(), value.trim().to_owned());
            }
        }
        Ok(())
    }
}

/// Flattens nested tables into dotted names; returns the name of a value that is not a scalar.
fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    for (key, value) in table {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&name, inner, out)?,
            toml::Value::String(s) => {
                out.insert(name, s.clone());
            }
            toml::Value::Integer(i) => {
                out.insert(name, i.to_string());
            }
            toml::Value::Float(f) => {
                out.insert(name, f.to_string());
            }
            toml::Value::Boolean(b) => {
                out.insert(name, b.to_string());
            }
            _ => return Err(name),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn dotted_and_quoted_keys_both_apply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runnel.toml");
        std::fs::write(
            &path,
            "num.partitions = 3\n\"log.retention.ms\" = 1000\nauto.create.topics.enable = false\n\
             [log.segment]\nbytes = 4096\n",
        )
        .unwrap();
        let mut config = BrokerConfig::default();
        config.load_file(&path).unwrap();
        assert_eq!(config.num_partitions, 3);
        assert!(!config.auto_create_topics);
        assert_eq!(config.log_defaults.retention_ms, 1000);
        assert_eq!(config.log_defaults.segment_bytes, 4096);
        assert_eq!(
            config
                .explicit_log_settings
                .get("log.retention.ms")
                .unwrap(),
            "1000"
        );
    }

    #[test]
    fn unknown_and_invalid_settings_are_named() {
        let mut config = BrokerConfig::default();
        let err = config.set("no.such.thing", "1").unwrap_err().to_string();
        assert!(err.contains("no.such.thing"), "{err}");
        let err = config.set("num.partitions", "0").unwrap_err().to_string();
        assert!(err.contains("num.partitions"), "{err}");
        let err = config
            .set("log.retention.ms", "-7")
            .unwrap_err()
            .to_string();
        assert!(err.contains("retention.ms"), "{err}");
    }

    #[test]
    fn connection_limits_take_kafka_names_and_defaults() {
        let mut config = BrokerConfig::default();
        assert_eq!(config.connections_max_idle_ms, 600_000);
        assert_eq!(config.max_connections, 2_147_483_647);
        assert_eq!(config.max_connections_per_ip, 2_147_483_647);
        config.set("connections.max.idle.ms", "5000").unwrap();
        config.set("max.connections", "1000").unwrap();
        config.set("max.connections.per.ip", "0").unwrap();
        assert_eq!(
            (
                config.connections_max_idle_ms,
                config.max_connections,
                config.max_connections_per_ip
            ),
            (5000, 1000, 0)
        );
        assert!(config.set("max.connections", "-1").is_err());
        assert!(config.set("connections.max.idle.ms", "0").is_err());
    }

    #[test]
    fn listeners_take_kafka_names() {
        let mut config = BrokerConfig::default();
        config
            .set("listeners", "PLAINTEXT://127.0.0.1:9092,CLIENT://:9093")
            .unwrap();
        config
            .set("advertised.listeners", "CLIENT://kafka.example:9093")
            .unwrap();
        config
            .set(
                "listener.security.protocol.map",
                "PLAINTEXT:PLAINTEXT,CLIENT:SSL",
            )
            .unwrap();
        assert_eq!(config.listen, "PLAINTEXT://127.0.0.1:9092,CLIENT://:9093");
        assert_eq!(
            config.advertise.as_deref(),
            Some("CLIENT://kafka.example:9093")
        );
        assert_eq!(config.protocol_map["CLIENT"], SecurityProtocol::Ssl);
        assert!(
            !config.protocol_map.contains_key("SSL"),
            "the map replaces the default"
        );
        for (name, value) in [
            ("listeners", "127.0.0.1:9092"),
            ("advertised.listeners", "CLIENT:9093"),
            ("listener.security.protocol.map", "CLIENT:TLS"),
        ] {
            let err = config.set(name, value).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn consumer_group_settings() {
        let mut config = BrokerConfig::default();
        assert_eq!(config.group_consumer_heartbeat_interval_ms, 5_000);
        assert_eq!(config.group_consumer_session_timeout_ms, 45_000);
        assert_eq!(config.group_consumer_assignors, Assignor::ALL);
        config
            .set("group.consumer.heartbeat.interval.ms", "250")
            .unwrap();
        config
            .set("group.consumer.session.timeout.ms", "6000")
            .unwrap();
        config
            .set("group.consumer.assignors", "range, uniform")
            .unwrap();
        assert_eq!(config.group_consumer_heartbeat_interval_ms, 250);
        assert_eq!(config.group_consumer_session_timeout_ms, 6_000);
        assert_eq!(
            config.group_consumer_assignors,
            [Assignor::Range, Assignor::Uniform]
        );
        assert!(config.set("group.consumer.assignors", "sticky").is_err());
        assert!(config.set("group.consumer.assignors", "").is_err());
        assert!(config
            .set("group.consumer.heartbeat.interval.ms", "0")
            .is_err());
    }
}
