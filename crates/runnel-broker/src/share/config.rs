//! Share-group settings: broker-wide defaults (`group.share.*`) and per-group overrides set
//! with IncrementalAlterConfigs on the group resource (`share.*`, and the dead-letter topic).

use std::collections::BTreeMap;

use super::records::{Limits, MAX_WINDOW};

/// Broker-level share-group settings, named as Kafka names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareDefaults {
    /// `group.share.record.lock.duration.ms`: how long an acquired record stays locked.
    pub record_lock_duration_ms: i64,
    /// `group.share.delivery.count.limit`: deliveries before a record is archived.
    pub delivery_count_limit: u16,
    /// `group.share.partition.max.record.locks`: in-flight records per share-partition.
    pub partition_max_record_locks: usize,
    /// `group.share.session.timeout.ms`: a member silent this long is removed.
    pub session_timeout_ms: i64,
    /// `group.share.heartbeat.interval.ms`: how often members are told to heartbeat.
    pub heartbeat_interval_ms: i32,
    /// `group.share.max.size`: members per share group.
    pub max_size: usize,
    /// `group.share.max.share.sessions`: share sessions the broker keeps.
    pub max_share_sessions: usize,
}

impl Default for ShareDefaults {
    fn default() -> Self {
        ShareDefaults {
            record_lock_duration_ms: 30_000,
            delivery_count_limit: 5,
            partition_max_record_locks: 2_000,
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 5_000,
            max_size: 200,
            max_share_sessions: 2_000,
        }
    }
}

/// Why a share setting was refused; the message names the setting and the accepted range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} = {value:?}: {expected}")]
pub struct InvalidSetting {
    pub name: String,
    pub value: String,
    pub expected: &'static str,
}

fn parse_in(
    name: &str,
    value: &str,
    range: std::ops::RangeInclusive<i64>,
    expected: &'static str,
) -> Result<i64, InvalidSetting> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|v| range.contains(v))
        .ok_or_else(|| InvalidSetting {
            name: name.to_owned(),
            value: value.to_owned(),
            expected,
        })
}

impl ShareDefaults {
    /// Sets one `group.share.*` setting; `Ok(false)` when the name is not one of them.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, InvalidSetting> {
        match name {
            "group.share.record.lock.duration.ms" => {
                self.record_lock_duration_ms =
                    parse_in(name, value, 1_000..=3_600_000, "1000 to 3600000")?
            }
            "group.share.delivery.count.limit" => {
                self.delivery_count_limit = parse_in(name, value, 2..=10, "2 to 10")? as u16
            }
            "group.share.partition.max.record.locks" => {
                self.partition_max_record_locks =
                    parse_in(name, value, 100..=MAX_WINDOW as i64, "100 to 10000")? as usize
            }
            "group.share.session.timeout.ms" => {
                self.session_timeout_ms = parse_in(name, value, 1..=i64::from(i32::MAX), "> 0")?
            }
            "group.share.heartbeat.interval.ms" => {
                self.heartbeat_interval_ms =
                    parse_in(name, value, 1..=i64::from(i32::MAX), "> 0")? as i32
            }
            "group.share.max.size" => {
                self.max_size = parse_in(name, value, 1..=1_000, "1 to 1000")? as usize
            }
            "group.share.max.share.sessions" => {
                self.max_share_sessions =
                    parse_in(name, value, 1..=1_000_000, "1 to 1000000")? as usize
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Where a new share-partition starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
}

/// Which records a share group delivers (`share.isolation.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Every record up to the high watermark, those of open and aborted transactions too.
    ReadUncommitted,
    /// Records up to the last stable offset; those of aborted transactions are archived
    /// undelivered.
    ReadCommitted,
}

/// The group-level settings a share group may override, with their meaning.
pub const GROUP_SETTINGS: &[(&str, &str)] = &[
    (
        "share.auto.offset.reset",
        "where a share-partition without state starts: latest (default) or earliest",
    ),
    (
        "share.isolation.level",
        "read_uncommitted (default) or read_committed: records up to the last stable offset, \
         none of an aborted transaction",
    ),
    (
        "share.record.lock.duration.ms",
        "acquisition lock of this group's records (default group.share.record.lock.duration.ms)",
    ),
    (
        "share.delivery.count.limit",
        "deliveries before a record is archived (default group.share.delivery.count.limit)",
    ),
    (
        "errors.deadletterqueue.topic.name",
        "topic that receives rejected and exhausted records (none by default)",
    ),
];

/// One group's effective settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSettings {
    pub offset_reset: OffsetReset,
    pub isolation: Isolation,
    pub limits: Limits,
    pub dead_letter_topic: Option<String>,
}

impl GroupSettings {
    /// The defaults with a group's overrides applied; overrides were validated when set.
    pub fn resolve(defaults: &ShareDefaults, overrides: &BTreeMap<String, String>) -> Self {
        let mut settings = GroupSettings {
            offset_reset: OffsetReset::Latest,
            isolation: Isolation::ReadUncommitted,
            limits: Limits {
                lock_ms: defaults.record_lock_duration_ms,
                delivery_count_limit: defaults.delivery_count_limit,
                max_in_flight: defaults.partition_max_record_locks,
            },
            dead_letter_topic: None,
        };
        for (name, value) in overrides {
            // Stored overrides passed validation; one that no longer parses keeps the default.
            let _ = settings.apply(name, value);
        }
        settings
    }

    /// Checks and applies one group-level override.
    pub fn apply(&mut self, name: &str, value: &str) -> Result<(), InvalidSetting> {
        match name {
            "share.auto.offset.reset" => {
                self.offset_reset = match value.trim() {
                    "earliest" => OffsetReset::Earliest,
                    "latest" => OffsetReset::Latest,
                    _ => {
                        return Err(InvalidSetting {
                            name: name.to_owned(),
                            value: value.to_owned(),
                            expected: "earliest or latest",
                        })
                    }
                }
            }
            "share.isolation.level" => {
                self.isolation = match value.trim() {
                    "read_uncommitted" => Isolation::ReadUncommitted,
                    "read_committed" => Isolation::ReadCommitted,
                    _ => {
                        return Err(InvalidSetting {
                            name: name.to_owned(),
                            value: value.to_owned(),
                            expected: "read_committed or read_uncommitted",
                        })
                    }
                }
            }
            "share.record.lock.duration.ms" => {
                self.limits.lock_ms = parse_in(name, value, 1_000..=3_600_000, "1000 to 3600000")?
            }
            "share.delivery.count.limit" => {
                self.limits.delivery_count_limit = parse_in(name, value, 2..=10, "2 to 10")? as u16
            }
            "errors.deadletterqueue.topic.name" => {
                let topic = value.trim();
                if !crate::topics::valid_topic_name(topic) || topic.starts_with("__") {
                    return Err(InvalidSetting {
                        name: name.to_owned(),
                        value: value.to_owned(),
                        expected: "a valid, non-internal topic name",
                    });
                }
                self.dead_letter_topic = Some(topic.to_owned());
            }
            _ => {
                return Err(InvalidSetting {
                    name: name.to_owned(),
                    value: value.to_owned(),
                    expected: "a share group setting",
                })
            }
        }
        Ok(())
    }

    /// The value a group setting has, as text (DescribeConfigs).
    pub fn value_of(&self, name: &str) -> Option<String> {
        Some(match name {
            "share.auto.offset.reset" => match self.offset_reset {
                OffsetReset::Earliest => "earliest".to_owned(),
                OffsetReset::Latest => "latest".to_owned(),
            },
            "share.isolation.level" => match self.isolation {
                Isolation::ReadUncommitted => "read_uncommitted".to_owned(),
                Isolation::ReadCommitted => "read_committed".to_owned(),
            },
            "share.record.lock.duration.ms" => self.limits.lock_ms.to_string(),
            "share.delivery.count.limit" => self.limits.delivery_count_limit.to_string(),
            "errors.deadletterqueue.topic.name" => self.dead_letter_topic.clone()?,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn overrides_apply_over_defaults_and_bad_values_are_named() {
        let mut defaults = ShareDefaults::default();
        assert_eq!(
            defaults.set("group.share.delivery.count.limit", "3"),
            Ok(true)
        );
        assert_eq!(defaults.set("not.share", "3"), Ok(false));
        let err = defaults
            .set("group.share.delivery.count.limit", "1")
            .unwrap_err();
        assert!(err.to_string().contains("2 to 10"), "{err}");

        let mut overrides = BTreeMap::new();
        overrides.insert("share.auto.offset.reset".to_owned(), "earliest".to_owned());
        overrides.insert(
            "errors.deadletterqueue.topic.name".to_owned(),
            "dlq.orders".to_owned(),
        );
        let settings = GroupSettings::resolve(&defaults, &overrides);
        assert_eq!(settings.offset_reset, OffsetReset::Earliest);
        assert_eq!(settings.limits.delivery_count_limit, 3);
        assert_eq!(settings.dead_letter_topic.as_deref(), Some("dlq.orders"));
        assert_eq!(
            settings.value_of("share.delivery.count.limit").as_deref(),
            Some("3")
        );

        let mut check = settings.clone();
        assert!(check.apply("share.record.lock.duration.ms", "10").is_err());
        assert!(check
            .apply("errors.deadletterqueue.topic.name", "__consumer_offsets")
            .is_err());
        assert!(check.apply("share.auto.offset.reset", "middle").is_err());
        assert_eq!(settings.isolation, Isolation::ReadUncommitted);
        check
            .apply("share.isolation.level", "read_committed")
            .unwrap();
        assert_eq!(check.isolation, Isolation::ReadCommitted);
        assert_eq!(
            check.value_of("share.isolation.level").as_deref(),
            Some("read_committed")
        );
        let err = check
            .apply("share.isolation.level", "serializable")
            .unwrap_err();
        assert!(err.to_string().contains("read_committed"), "{err}");
    }
}
