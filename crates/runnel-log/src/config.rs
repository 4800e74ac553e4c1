//! Per-log settings, named and defaulted as Kafka names and defaults its topic configs.

use crate::batch::Compression;
use crate::error::LogError;

/// `cleanup.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupPolicy {
    Delete,
    Compact,
    CompactDelete,
}

impl CleanupPolicy {
    pub fn compacts(self) -> bool {
        matches!(self, CleanupPolicy::Compact | CleanupPolicy::CompactDelete)
    }

    pub fn deletes(self) -> bool {
        matches!(self, CleanupPolicy::Delete | CleanupPolicy::CompactDelete)
    }

    fn parse(value: &str) -> Option<Self> {
        let mut parts: Vec<&str> = value.split(',').map(str::trim).collect();
        parts.sort_unstable();
        parts.dedup();
        match parts.as_slice() {
            ["delete"] => Some(CleanupPolicy::Delete),
            ["compact"] => Some(CleanupPolicy::Compact),
            ["compact", "delete"] => Some(CleanupPolicy::CompactDelete),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete => "compact,delete",
        }
    }
}

/// `compression.type`: the codec batches are stored with, or `producer` to keep each
/// batch's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionType {
    Producer,
    Codec(Compression),
}

impl CompressionType {
    fn parse(value: &str) -> Option<Self> {
        Some(match value.trim() {
            "producer" => CompressionType::Producer,
            "uncompressed" => CompressionType::Codec(Compression::None),
            "gzip" => CompressionType::Codec(Compression::Gzip),
            "snappy" => CompressionType::Codec(Compression::Snappy),
            "lz4" => CompressionType::Codec(Compression::Lz4),
            "zstd" => CompressionType::Codec(Compression::Zstd),
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            CompressionType::Producer => "producer",
            CompressionType::Codec(Compression::None) => "uncompressed",
            CompressionType::Codec(Compression::Gzip) => "gzip",
            CompressionType::Codec(Compression::Snappy) => "snappy",
            CompressionType::Codec(Compression::Lz4) => "lz4",
            CompressionType::Codec(Compression::Zstd) => "zstd",
        }
    }
}

/// `message.timestamp.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// The settings of one log. Field names are Kafka's topic config names with `.` as `_`.
///
/// Durability is set by the three `flush_*` thresholds: the log calls `fdatasync` when any
/// of them is reached. `flush_messages = 1` is "every append"; all at their maximum is "leave
/// it to the OS" (segments are still synced when they are rolled and when the log is closed).
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub segment_bytes: u64,
    pub segment_ms: i64,
    pub segment_index_bytes: u64,
    pub index_interval_bytes: u64,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub cleanup_policy: CleanupPolicy,
    pub min_compaction_lag_ms: i64,
    pub max_compaction_lag_ms: i64,
    pub delete_retention_ms: i64,
    pub min_cleanable_dirty_ratio: f64,
    pub max_message_bytes: u64,
    pub flush_messages: u64,
    pub flush_ms: i64,
    /// Runnel's own setting (Kafka has only the other two): sync after this many bytes.
    pub flush_bytes: u64,
    pub message_timestamp_type: TimestampType,
    /// Appended batches are recompressed to this codec unless it is `producer`.
    pub compression_type: CompressionType,
    /// A CreateTime record may be at most this much older than the broker's clock.
    pub message_timestamp_before_max_ms: i64,
    /// A CreateTime record may be at most this much ahead of the broker's clock.
    pub message_timestamp_after_max_ms: i64,
    /// Runnel's own setting `runnel.conditional.append.enable`: appends honour the
    /// expectations records carry (see [`crate::EXPECTED_OFFSET_HEADER`]) and the log keeps
    /// an index of every key's latest offset.
    pub conditional_append: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            segment_index_bytes: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            cleanup_policy: CleanupPolicy::Delete,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: 24 * 60 * 60 * 1000,
            min_cleanable_dirty_ratio: 0.5,
            max_message_bytes: 1_048_588,
            flush_messages: i64::MAX as u64,
            flush_ms: i64::MAX,
            flush_bytes: i64::MAX as u64,
            message_timestamp_type: TimestampType::CreateTime,
            compression_type: CompressionType::Producer,
            message_timestamp_before_max_ms: i64::MAX,
            // Kafka 4.0's default (later versions allow one hour).
            message_timestamp_after_max_ms: i64::MAX,
            conditional_append: false,
        }
    }
}

/// The Kafka names this struct understands, in the order they are listed.
pub const CONFIG_NAMES: &[&str] = &[
    "cleanup.policy",
    "compression.type",
    "delete.retention.ms",
    "flush.bytes",
    "flush.messages",
    "flush.ms",
    "index.interval.bytes",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "retention.bytes",
    "retention.ms",
    "runnel.conditional.append.enable",
    "segment.bytes",
    "segment.index.bytes",
    "segment.ms",
];

impl LogConfig {
    /// Flush after every append: an append returns only once its bytes are on stable storage.
    pub fn with_flush_every_append(mut self) -> Self {
        self.flush_messages = 1;
        self
    }

    pub fn flushes_every_append(&self) -> bool {
        self.flush_messages <= 1
    }

    /// Whether an append may call fsync: some flush threshold is below its "never" value.
    pub fn may_flush_on_append(&self) -> bool {
        const NEVER: u64 = i64::MAX as u64;
        self.flush_messages < NEVER || self.flush_bytes < NEVER || self.flush_ms < i64::MAX
    }

    /// Sets one setting by its Kafka name, validating the value. A refusal says what Kafka
    /// says: the value, the setting and the reason.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), LogError> {
        let bad = |reason: &str| {
            LogError::InvalidConfig(format!(
                "Invalid value {} for configuration {name}: {reason}",
                value.trim()
            ))
        };
        let int = || {
            value
                .trim()
                .parse::<i64>()
                .map_err(|_| bad("Not a number of type LONG"))
        };
        let at_least = |min: i64| {
            int().and_then(|v| {
                if v >= min {
                    Ok(v)
                } else {
                    Err(bad(&format!("Value must be at least {min}")))
                }
            })
        };
        // Validated non-negative, so the conversions cannot fail.
        let non_negative = || at_least(0).map(|v| v.unsigned_abs());
        let positive = || at_least(1).map(|v| v.unsigned_abs());
        match name {
            "cleanup.policy" => {
                self.cleanup_policy = CleanupPolicy::parse(value)
                    .ok_or_else(|| bad("String must be one of: compact, delete"))?
            }
            "compression.type" => {
                self.compression_type = CompressionType::parse(value).ok_or_else(|| {
                    bad("String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer")
                })?
            }
            "delete.retention.ms" => self.delete_retention_ms = non_negative().map(saturate)?,
            "flush.bytes" => self.flush_bytes = positive()?,
            "flush.messages" => self.flush_messages = positive()?,
            "flush.ms" => self.flush_ms = non_negative().map(saturate)?,
            "index.interval.bytes" => self.index_interval_bytes = non_negative()?,
            "max.compaction.lag.ms" => self.max_compaction_lag_ms = positive().map(saturate)?,
            "max.message.bytes" => self.max_message_bytes = non_negative()?,
            "message.timestamp.after.max.ms" => {
                self.message_timestamp_after_max_ms = non_negative().map(saturate)?
            }
            "message.timestamp.before.max.ms" => {
                self.message_timestamp_before_max_ms = non_negative().map(saturate)?
            }
            "message.timestamp.type" => {
                self.message_timestamp_type = match value.trim() {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    _ => return Err(bad("String must be one of: CreateTime, LogAppendTime")),
                }
            }
            "min.cleanable.dirty.ratio" => {
                let between = || bad("Value must be between 0 and 1");
                let ratio: f64 = value.trim().parse().map_err(|_| between())?;
                if !(0.0..=1.0).contains(&ratio) {
                    return Err(between());
                }
                self.min_cleanable_dirty_ratio = ratio;
            }
            "min.compaction.lag.ms" => self.min_compaction_lag_ms = non_negative().map(saturate)?,
            "retention.bytes" => self.retention_bytes = at_least(-1)?,
            "retention.ms" => self.retention_ms = at_least(-1)?,
            "segment.bytes" => {
                let bytes = positive()?;
                // Positions inside a segment are 32-bit, as in Kafka.
                if bytes < 14 || bytes > i32::MAX as u64 {
                    return Err(bad(&format!("Value must be between 14 and {}", i32::MAX)));
                }
                self.segment_bytes = bytes;
            }
            "segment.index.bytes" => self.segment_index_bytes = positive()?,
            "segment.ms" => self.segment_ms = positive().map(saturate)?,
            "runnel.conditional.append.enable" => {
                self.conditional_append = match value.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad("Expected value to be either true or false")),
                }
            }
            _ => {
                return Err(LogError::InvalidConfig(format!(
                    "unknown log setting {name:?}"
                )))
            }
        }
        Ok(())
    }

    /// The current value of a setting by its Kafka name, as Kafka would print it.
    pub fn get(&self, name: &str) -> Option<String> {
        Some(match name {
            "cleanup.policy" => self.cleanup_policy.as_str().to_owned(),
            "compression.type" => self.compression_type.as_str().to_owned(),
            "delete.retention.ms" => self.delete_retention_ms.to_string(),
            "flush.bytes" => clamp_u64(self.flush_bytes),
            "flush.messages" => clamp_u64(self.flush_messages),
            "flush.ms" => self.flush_ms.to_string(),
            "index.interval.bytes" => self.index_interval_bytes.to_string(),
            "max.compaction.lag.ms" => self.max_compaction_lag_ms.to_string(),
            "max.message.bytes" => self.max_message_bytes.to_string(),
            "message.timestamp.after.max.ms" => self.message_timestamp_after_max_ms.to_string(),
            "message.timestamp.before.max.ms" => self.message_timestamp_before_max_ms.to_string(),
            "message.timestamp.type" => match self.message_timestamp_type {
                TimestampType::CreateTime => "CreateTime".to_owned(),
                TimestampType::LogAppendTime => "LogAppendTime".to_owned(),
            },
            "min.cleanable.dirty.ratio" => self.min_cleanable_dirty_ratio.to_string(),
            "min.compaction.lag.ms" => self.min_compaction_lag_ms.to_string(),
            "retention.bytes" => self.retention_bytes.to_string(),
            "retention.ms" => self.retention_ms.to_string(),
            "segment.bytes" => self.segment_bytes.to_string(),
            "segment.index.bytes" => self.segment_index_bytes.to_string(),
            "segment.ms" => self.segment_ms.to_string(),
            "runnel.conditional.append.enable" => self.conditional_append.to_string(),
            _ => return None,
        })
    }
}

fn saturate(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Kafka prints "no limit" as Long.MAX_VALUE, whose text is the same as i64::MAX's.
fn clamp_u64(v: u64) -> String {
    saturate(v).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_through_set_and_get() {
        let defaults = LogConfig::default();
        let mut config = LogConfig::default();
        for name in CONFIG_NAMES {
            let value = defaults
                .get(name)
                .unwrap_or_else(|| panic!("{name} has no value"));
            config
                .set(name, &value)
                .unwrap_or_else(|e| panic!("{name}={value}: {e}"));
        }
        assert_eq!(config, defaults);
    }

    #[test]
    fn only_a_set_flush_threshold_makes_appends_flush() {
        assert!(!LogConfig::default().may_flush_on_append());
        for name in ["flush.messages", "flush.ms", "flush.bytes"] {
            let mut config = LogConfig::default();
            config.set(name, "1000").unwrap();
            assert!(config.may_flush_on_append(), "{name}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_the_name() {
        let mut config = LogConfig::default();
        for (name, value) in [
            ("cleanup.policy", "shred"),
            ("retention.ms", "-2"),
            ("segment.bytes", "0"),
            ("min.cleanable.dirty.ratio", "1.5"),
            ("flush.messages", "zero"),
            ("no.such.setting", "1"),
        ] {
            let err = config.set(name, value).expect_err(name).to_string();
            assert!(err.contains(name), "{err}");
        }
        assert_eq!(config, LogConfig::default());
    }

    #[test]
    fn cleanup_policy_accepts_both_orders() {
        let mut config = LogConfig::default();
        config.set("cleanup.policy", "delete, compact").unwrap();
        assert_eq!(config.cleanup_policy, CleanupPolicy::CompactDelete);
        assert_eq!(config.get("cleanup.policy").unwrap(), "compact,delete");
    }
}
