//! Every topic setting Kafka 4 defines. Those the partition log acts on are
//! `runnel_log::CONFIG_NAMES`; the others are here: accepted, validated as Kafka validates
//! them, stored and described with Kafka's defaults, but without effect on a single node
//! (replication, tiered storage, preallocation, codec levels, file deletion delay). The
//! crate README lists them.

use runnel_log::CONFIG_NAMES;

/// How a stored-only setting's value is checked, and its DescribeConfigs type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A 64-bit integer of at least `min`.
    Long { min: i64 },
    /// A 32-bit integer within `min..=max`.
    Int { min: i32, max: i32 },
    /// `true` or `false`.
    Boolean,
    /// Throttled replicas: empty, `*`, or `partition:broker` pairs.
    ReplicaList,
}

/// A setting stored without effect: its name, Kafka's default and how values are checked.
#[derive(Debug, Clone, Copy)]
pub struct StoredSetting {
    pub name: &'static str,
    pub default: &'static str,
    pub kind: Kind,
}

const fn setting(name: &'static str, default: &'static str, kind: Kind) -> StoredSetting {
    StoredSetting {
        name,
        default,
        kind,
    }
}

/// Kafka 4's topic settings that Runnel stores without acting on them, sorted by name.
pub const STORED_ONLY: &[StoredSetting] = &[
    // gzip accepts -1 (the codec's default) or 1 to 9; checked below.
    setting(
        "compression.gzip.level",
        "-1",
        Kind::Int { min: -1, max: 9 },
    ),
    setting("compression.lz4.level", "9", Kind::Int { min: 1, max: 17 }),
    setting(
        "compression.zstd.level",
        "3",
        Kind::Int {
            min: -131_072,
            max: 22,
        },
    ),
    setting("file.delete.delay.ms", "60000", Kind::Long { min: 0 }),
    setting(
        "follower.replication.throttled.replicas",
        "",
        Kind::ReplicaList,
    ),
    setting(
        "leader.replication.throttled.replicas",
        "",
        Kind::ReplicaList,
    ),
    setting("local.retention.bytes", "-2", Kind::Long { min: -2 }),
    setting("local.retention.ms", "-2", Kind::Long { min: -2 }),
    setting(
        "min.insync.replicas",
        "1",
        Kind::Int {
            min: 1,
            max: i32::MAX,
        },
    ),
    setting("preallocate", "false", Kind::Boolean),
    setting("remote.copy.lag.bytes", "0", Kind::Long { min: -1 }),
    setting("remote.copy.lag.ms", "0", Kind::Long { min: -1 }),
    setting("remote.log.copy.disable", "false", Kind::Boolean),
    setting("remote.log.delete.on.disable", "false", Kind::Boolean),
    setting("remote.storage.enable", "false", Kind::Boolean),
    setting("segment.jitter.ms", "0", Kind::Long { min: 0 }),
    setting("unclean.leader.election.enable", "false", Kind::Boolean),
];

/// The stored-only setting of that name.
pub fn stored_only(name: &str) -> Option<&'static StoredSetting> {
    STORED_ONLY.iter().find(|s| s.name == name)
}

/// Every topic setting name, sorted: those the log acts on and the stored-only ones.
pub fn all_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = CONFIG_NAMES
        .iter()
        .copied()
        .chain(STORED_ONLY.iter().map(|s| s.name))
        .collect();
    names.sort_unstable();
    names
}

/// Checks a value of a stored-only setting; the error is Kafka's message for it.
pub fn check(setting: &StoredSetting, value: &str) -> Result<(), String> {
    let name = setting.name;
    let value = value.trim();
    let invalid =
        |reason: &str| format!("Invalid value {value} for configuration {name}: {reason}");
    match setting.kind {
        Kind::Long { min } => match value.parse::<i64>() {
            Ok(v) if v >= min => Ok(()),
            Ok(_) => Err(invalid(&format!("Value must be at least {min}"))),
            Err(_) => Err(invalid("Not a number of type LONG")),
        },
        Kind::Int { min, max } => match value.parse::<i32>() {
            // gzip has no level 0: -1 stands for the codec's default.
            Ok(0) if name == "compression.gzip.level" => {
                Err(invalid("Value must be -1 or between 1 and 9"))
            }
            Ok(v) if (min..=max).contains(&v) => Ok(()),
            Ok(_) if max == i32::MAX => Err(invalid(&format!("Value must be at least {min}"))),
            Ok(_) => Err(invalid(&format!("Value must be between {min} and {max}"))),
            Err(_) => Err(invalid("Not a number of type INT")),
        },
        Kind::Boolean => match value {
            "false" => Ok(()),
            // Kafka refuses it the same way when tiered storage is off, as it is here.
            "true" if name == "remote.storage.enable" => Err(
                "Tiered Storage functionality is disabled in the broker. Topic cannot be \
                 configured with remote log storage."
                    .to_owned(),
            ),
            "true" => Ok(()),
            _ => Err(invalid("Expected value to be either true or false")),
        },
        Kind::ReplicaList => {
            let well_formed = |item: &str| {
                item.split_once(':').is_some_and(|(p, b)| {
                    p.trim().parse::<u32>().is_ok() && b.trim().parse::<u32>().is_ok()
                })
            };
            if value.is_empty() || value == "*" || value.split(',').all(well_formed) {
                Ok(())
            } else {
                Err(invalid(
                    "must be the literal '*' or a list of replicas in the following format: \
                     [partitionId]:[brokerId],[partitionId]:[brokerId],...",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn kafka_4s_topic_settings_are_all_known_once() {
        let names = all_names();
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(names, unique, "a setting is both acted on and stored-only");
        for name in [
            "cleanup.policy",
            "compression.type",
            "compression.zstd.level",
            "delete.retention.ms",
            "file.delete.delay.ms",
            "flush.messages",
            "flush.ms",
            "follower.replication.throttled.replicas",
            "index.interval.bytes",
            "leader.replication.throttled.replicas",
            "local.retention.bytes",
            "local.retention.ms",
            "max.compaction.lag.ms",
            "max.message.bytes",
            "message.timestamp.after.max.ms",
            "message.timestamp.before.max.ms",
            "message.timestamp.type",
            "min.cleanable.dirty.ratio",
            "min.compaction.lag.ms",
            "min.insync.replicas",
            "preallocate",
            "remote.storage.enable",
            "retention.bytes",
            "retention.ms",
            "segment.bytes",
            "segment.index.bytes",
            "segment.jitter.ms",
            "segment.ms",
            "unclean.leader.election.enable",
        ] {
            assert!(names.contains(&name), "{name}");
        }
        for setting in STORED_ONLY {
            assert_eq!(check(setting, setting.default), Ok(()), "{}", setting.name);
        }
    }

    #[test]
    fn refusals_name_the_setting_and_the_reason() {
        let cases = [
            ("min.insync.replicas", "0", "Value must be at least 1"),
            ("file.delete.delay.ms", "-1", "Value must be at least 0"),
            ("compression.gzip.level", "0", "-1 or between 1 and 9"),
            ("compression.lz4.level", "18", "between 1 and 17"),
            ("preallocate", "yes", "either true or false"),
            ("segment.jitter.ms", "soon", "LONG"),
            (
                "leader.replication.throttled.replicas",
                "0-1",
                "[partitionId]:[brokerId]",
            ),
        ];
        for (name, value, reason) in cases {
            let error = check(stored_only(name).unwrap(), value).unwrap_err();
            assert!(error.contains(name), "{error}");
            assert!(error.contains(reason), "{error}");
        }
        let tiered = check(stored_only("remote.storage.enable").unwrap(), "true").unwrap_err();
        assert!(tiered.contains("Tiered Storage"), "{tiered}");
        assert_eq!(
            check(
                stored_only("follower.replication.throttled.replicas").unwrap(),
                "0:1, 1:1"
            ),
            Ok(())
        );
        assert_eq!(
            check(stored_only("compression.zstd.level").unwrap(), "-5"),
            Ok(())
        );
    }
}
