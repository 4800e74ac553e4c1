//! The settings every source connector shares, with Kafka Connect's names.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::{tasks_max, ConnectorConfig, Tolerance};
use crate::convert::Converter;
use crate::error::ConfigError;
use crate::transform::Transform;

/// The offsets topic of connectors that do not name one (`offsets.storage.topic`).
pub const DEFAULT_OFFSETS_TOPIC: &str = "connect-offsets";

/// The most records a task may have sent to Kafka without their acknowledgement.
const MAX_IN_FLIGHT: usize = 1_000_000;
/// The longest `transaction.boundary.interval.ms`: with the margin below, a transaction's
/// timeout stays under the broker's default `transaction.max.timeout.ms` (15 minutes).
const MAX_INTERVAL_MS: u64 = 600_000;
/// How long a transaction may outlast its boundary before the broker aborts it.
const TRANSACTION_MARGIN: Duration = Duration::from_secs(60);

/// When a source task commits its transaction (`transaction.boundary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionBoundary {
    /// After every non-empty poll.
    Poll,
    /// Every `transaction.boundary.interval.ms`.
    Interval(Duration),
}

/// The settings every source connector shares.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    pub tasks_max: usize,
    pub boundary: TransactionBoundary,
    pub offsets_topic: String,
    /// `topic.creation.default.partitions` and `.replication.factor`: create a missing
    /// topic before the first record to it.
    pub topic_creation: Option<(i32, i32)>,
    /// Used only around transforms: a record's bytes become data for them, and back.
    pub key_converter: Converter,
    pub value_converter: Converter,
    pub transforms: Vec<Transform>,
    pub tolerance: Tolerance,
    /// Records sent and not yet acknowledged by Kafka before the task waits.
    pub max_in_flight: usize,
    /// librdkafka settings for the task producers (`producer.override.*`).
    pub producer_overrides: BTreeMap<String, String>,
}

impl SourceSettings {
    /// The producer's `transaction.timeout.ms`: the boundary's interval and a margin, so
    /// the broker never aborts a transaction the task is about to commit.
    pub fn transaction_timeout(&self) -> Duration {
        match self.boundary {
            TransactionBoundary::Poll => TRANSACTION_MARGIN,
            TransactionBoundary::Interval(interval) => interval + TRANSACTION_MARGIN,
        }
    }

    pub fn parse(config: &ConnectorConfig) -> Result<SourceSettings, ConfigError> {
        match config.get("exactly.once.support").unwrap_or("requested") {
            "requested" | "required" => {}
            other => {
                return Err(ConfigError::invalid(
                    "exactly.once.support",
                    &format!("'{other}' is neither requested nor required"),
                ))
            }
        }
        let boundary = match config.get("transaction.boundary").unwrap_or("poll") {
            "poll" => TransactionBoundary::Poll,
            "interval" => {
                let ms: u64 = config.parse("transaction.boundary.interval.ms", 60_000)?;
                if !(1..=MAX_INTERVAL_MS).contains(&ms) {
                    return Err(ConfigError::invalid(
                        "transaction.boundary.interval.ms",
                        &format!("must be between 1 and {MAX_INTERVAL_MS}"),
                    ));
                }
                TransactionBoundary::Interval(Duration::from_millis(ms))
            }
            "connector" => {
                return Err(ConfigError::invalid(
                    "transaction.boundary",
                    "connector-defined transactions are not supported: use poll or interval",
                ))
            }
            other => {
                return Err(ConfigError::invalid(
                    "transaction.boundary",
                    &format!("'{other}' is neither poll nor interval"),
                ))
            }
        };
        let partitions = config.get("topic.creation.default.partitions");
        let replication = config.get("topic.creation.default.replication.factor");
        let topic_creation = match (partitions, replication) {
            (None, None) => None,
            _ => {
                let partitions: i32 = config.parse("topic.creation.default.partitions", -1)?;
                let replication: i32 =
                    config.parse("topic.creation.default.replication.factor", -1)?;
                if partitions < 1 || replication < 1 {
                    return Err(ConfigError::invalid(
                        "topic.creation.default.partitions",
                        "topic creation needs both topic.creation.default.partitions and \
                         topic.creation.default.replication.factor, positive",
                    ));
                }
                Some((partitions, replication))
            }
        };
        let max_in_flight = config.parse("max.in.flight.records", 10_000usize)?;
        if !(1..=MAX_IN_FLIGHT).contains(&max_in_flight) {
            return Err(ConfigError::invalid(
                "max.in.flight.records",
                &format!("must be between 1 and {MAX_IN_FLIGHT}"),
            ));
        }
        Ok(SourceSettings {
            tasks_max: tasks_max(config)?,
            boundary,
            offsets_topic: config
                .get("offsets.storage.topic")
                .unwrap_or(DEFAULT_OFFSETS_TOPIC)
                .to_owned(),
            topic_creation,
            key_converter: Converter::parse(config, "key.converter")?,
            value_converter: Converter::parse(config, "value.converter")?,
            transforms: Transform::parse_all(config)?,
            tolerance: Tolerance::parse(config)?,
            max_in_flight,
            producer_overrides: config.with_prefix("producer.override."),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ConnectorConfig {
        let mut settings: BTreeMap<String, String> = [("name", "s"), ("connector.class", "file")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        for (k, v) in pairs {
            settings.insert((*k).to_owned(), (*v).to_owned());
        }
        ConnectorConfig::new(settings).unwrap()
    }

    #[test]
    fn defaults_follow_kafka_connect() {
        let settings = SourceSettings::parse(&config(&[])).unwrap();
        assert_eq!(settings.boundary, TransactionBoundary::Poll);
        assert_eq!(settings.offsets_topic, "connect-offsets");
        assert_eq!(settings.topic_creation, None);
        assert_eq!(settings.tolerance, Tolerance::None);
    }

    #[test]
    fn interval_boundaries_and_topic_creation_are_read() {
        let settings = SourceSettings::parse(&config(&[
            ("transaction.boundary", "interval"),
            ("transaction.boundary.interval.ms", "250"),
            ("offsets.storage.topic", "my-offsets"),
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.replication.factor", "1"),
            ("producer.override.linger.ms", "1"),
        ]))
        .unwrap();
        assert_eq!(
            settings.boundary,
            TransactionBoundary::Interval(Duration::from_millis(250))
        );
        assert_eq!(settings.offsets_topic, "my-offsets");
        assert_eq!(settings.topic_creation, Some((3, 1)));
        assert_eq!(settings.producer_overrides["linger.ms"], "1");
    }

    #[test]
    fn unsupported_settings_name_the_setting() {
        let cases: [&[(&str, &str)]; 5] = [
            &[("transaction.boundary", "connector")],
            &[("exactly.once.support", "never")],
            &[("topic.creation.default.partitions", "3")],
            &[("max.in.flight.records", "0")],
            &[
                ("transaction.boundary", "interval"),
                ("transaction.boundary.interval.ms", "600001"),
            ],
        ];
        for pairs in cases {
            let error = SourceSettings::parse(&config(pairs)).unwrap_err();
            let (key, _) = pairs[pairs.len() - 1];
            assert!(
                error.to_string().contains(key.split('.').next().unwrap()),
                "{key}: {error}"
            );
        }
    }

    #[test]
    fn a_transaction_may_outlast_its_interval() {
        let settings = SourceSettings::parse(&config(&[
            ("transaction.boundary", "interval"),
            ("transaction.boundary.interval.ms", "600000"),
        ]))
        .unwrap();
        assert_eq!(settings.transaction_timeout(), Duration::from_secs(660));
    }
}
