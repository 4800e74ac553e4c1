//! What a benchmark run measured, and how it is printed.

use std::fmt;
use std::time::Duration;

use crate::stats::{megabytes_per_second, per_second, LatencySummary, Millis};

/// The outcome of `bench produce` or `bench consume`.
#[derive(Debug, Clone)]
pub enum Report {
    Produce(ProduceReport),
    Consume(ConsumeReport),
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Produce(report) => report.fmt(f),
            Report::Consume(report) => report.fmt(f),
        }
    }
}

/// What kind of producer a produce run used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProduceMode {
    /// Neither idempotent nor transactional: a retried send may duplicate a record.
    Plain,
    /// `enable.idempotence=true`.
    Idempotent,
    /// Records sent in transactions, one committed every `interval_ms`; only records of
    /// committed transactions count.
    Transactional { interval_ms: u64, committed: u64 },
}

impl fmt::Display for ProduceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProduceMode::Plain => write!(f, "plain (not idempotent)"),
            ProduceMode::Idempotent => write!(f, "idempotent"),
            ProduceMode::Transactional {
                interval_ms,
                committed,
            } => write!(
                f,
                "transactional, a commit every {interval_ms} ms: {committed} transactions \
                 committed, only their records count"
            ),
        }
    }
}

/// A produce run: what was sent, what the broker acknowledged, how fast and how late.
#[derive(Debug, Clone)]
pub struct ProduceReport {
    pub topic: String,
    /// Whether the run created the topic (false: it existed already).
    pub topic_created: bool,
    pub mode: ProduceMode,
    /// The producer settings that shaped the run, as librdkafka names them.
    pub settings: Vec<(String, String)>,
    /// Target rate in records per second; 0 for unthrottled.
    pub target_rate: u64,
    pub record_size: usize,
    /// Records handed to the producer.
    pub sent: u64,
    /// Records whose delivery report was a success.
    pub acknowledged: u64,
    /// Records whose delivery report was an error.
    pub failed: u64,
    /// The first delivery error, if any.
    pub first_error: Option<String>,
    /// Payload bytes of the acknowledged records.
    pub acknowledged_bytes: u64,
    /// From the first send to the last delivery report, or to the last commit of a
    /// transactional run.
    pub elapsed: Duration,
    /// Send to delivery report, per acknowledged record.
    pub latency: Option<LatencySummary>,
}

impl ProduceReport {
    pub fn records_per_second(&self) -> f64 {
        per_second(self.acknowledged, self.elapsed)
    }

    pub fn megabytes_per_second(&self) -> f64 {
        megabytes_per_second(self.acknowledged_bytes, self.elapsed)
    }
}

impl fmt::Display for ProduceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let created = if self.topic_created {
            "created"
        } else {
            "existing"
        };
        writeln!(
            f,
            "produce: {} records of {} bytes to topic {} ({created})",
            self.sent, self.record_size, self.topic
        )?;
        let settings: Vec<String> = self
            .settings
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        writeln!(f, "  settings:     {}", settings.join(", "))?;
        writeln!(f, "  mode:         {}", self.mode)?;
        if self.target_rate == 0 {
            writeln!(f, "  target rate:  unthrottled")?;
        } else {
            writeln!(f, "  target rate:  {} records/s", self.target_rate)?;
        }
        writeln!(
            f,
            "  acknowledged: {} records ({} bytes), failed: {}, in {:.3} s",
            self.acknowledged,
            self.acknowledged_bytes,
            self.failed,
            self.elapsed.as_secs_f64()
        )?;
        if let Some(error) = &self.first_error {
            writeln!(f, "  first error:  {error}")?;
        }
        writeln!(
            f,
            "  throughput:   {:.0} records/s, {:.1} MB/s (payload bytes; 1 MB = 10^6 bytes)",
            self.records_per_second(),
            self.megabytes_per_second()
        )?;
        match &self.latency {
            Some(latency) => write!(f, "  latency:      {latency}, send to delivery report"),
            None => write!(f, "  latency:      no acknowledged records"),
        }
    }
}

/// A consume run: how many records and bytes arrived, and how fast.
#[derive(Debug, Clone)]
pub struct ConsumeReport {
    pub topic: String,
    pub partitions: Vec<i32>,
    /// Records the run set out to read.
    pub expected: u64,
    pub records: u64,
    /// Key and value bytes of the records read.
    pub bytes: u64,
    /// From the assignment to the last record.
    pub elapsed: Duration,
    /// From the assignment to the first record.
    pub first_record_after: Option<Duration>,
    /// The consumer settings that shaped the run, as librdkafka names them.
    pub settings: Vec<(String, String)>,
}

impl ConsumeReport {
    pub fn records_per_second(&self) -> f64 {
        per_second(self.records, self.elapsed)
    }

    pub fn megabytes_per_second(&self) -> f64 {
        megabytes_per_second(self.bytes, self.elapsed)
    }
}

impl fmt::Display for ConsumeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let partitions: Vec<String> = self.partitions.iter().map(i32::to_string).collect();
        writeln!(
            f,
            "consume: {} of {} records ({} bytes) from topic {} partitions [{}]",
            self.records,
            self.expected,
            self.bytes,
            self.topic,
            partitions.join(", ")
        )?;
        let settings: Vec<String> = self
            .settings
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        writeln!(f, "  settings:     {}", settings.join(", "))?;
        if let Some(first) = self.first_record_after {
            writeln!(f, "  first record: after {}", Millis(first))?;
        }
        write!(
            f,
            "  throughput:   {:.0} records/s, {:.1} MB/s in {:.3} s (key and value bytes; 1 MB = 10^6 bytes)",
            self.records_per_second(),
            self.megabytes_per_second(),
            self.elapsed.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn produce_report() -> ProduceReport {
        let mut samples: Vec<u64> = (1..=1000).map(|v| v * 1_000).collect();
        ProduceReport {
            topic: "t".into(),
            topic_created: true,
            mode: ProduceMode::Plain,
            settings: vec![
                ("acks".into(), "all".into()),
                ("linger.ms".into(), "5".into()),
            ],
            target_rate: 0,
            record_size: 1000,
            sent: 1000,
            acknowledged: 1000,
            failed: 0,
            first_error: None,
            acknowledged_bytes: 1_000_000,
            elapsed: Duration::from_millis(250),
            latency: LatencySummary::from_nanos(&mut samples),
        }
    }

    #[test]
    fn produce_throughput() {
        let report = produce_report();
        assert_eq!(report.records_per_second(), 4_000.0);
        assert_eq!(report.megabytes_per_second(), 4.0);
    }

    #[test]
    fn produce_display() {
        let text = Report::Produce(produce_report()).to_string();
        assert!(
            text.starts_with("produce: 1000 records of 1000 bytes to topic t (created)\n"),
            "{text}"
        );
        assert!(
            text.contains("settings:     acks=all, linger.ms=5\n"),
            "{text}"
        );
        assert!(
            text.contains("mode:         plain (not idempotent)\n"),
            "{text}"
        );
        assert!(text.contains("target rate:  unthrottled\n"), "{text}");
        assert!(
            text.contains("acknowledged: 1000 records (1000000 bytes), failed: 0, in 0.250 s\n"),
            "{text}"
        );
        assert!(text.contains("4000 records/s, 4.0 MB/s"), "{text}");
        assert!(
            text.contains("p50 0.500 ms, p99 0.990 ms, p99.9 0.999 ms, max 1.000 ms"),
            "{text}"
        );
    }

    #[test]
    fn produce_display_with_failures_and_rate() {
        let mut report = produce_report();
        report.target_rate = 1000;
        report.acknowledged = 0;
        report.acknowledged_bytes = 0;
        report.failed = 1000;
        report.first_error = Some("Message production error: MessageTimedOut".into());
        report.latency = None;
        let text = report.to_string();
        assert!(text.contains("target rate:  1000 records/s\n"), "{text}");
        assert!(text.contains("failed: 1000"), "{text}");
        assert!(
            text.contains("first error:  Message production error"),
            "{text}"
        );
        assert!(
            text.contains("latency:      no acknowledged records"),
            "{text}"
        );
        assert!(text.contains("0 records/s, 0.0 MB/s"), "{text}");
    }

    #[test]
    fn produce_display_names_the_mode() {
        let mut report = produce_report();
        report.mode = ProduceMode::Idempotent;
        assert!(report.to_string().contains("  mode:         idempotent\n"));
        report.mode = ProduceMode::Transactional {
            interval_ms: 100,
            committed: 12,
        };
        let text = report.to_string();
        assert!(
            text.contains(
                "  mode:         transactional, a commit every 100 ms: 12 transactions \
                 committed, only their records count\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn consume_display() {
        let report = ConsumeReport {
            topic: "t".into(),
            partitions: vec![0, 1],
            expected: 2_000,
            records: 2_000,
            bytes: 3_000_000,
            elapsed: Duration::from_secs(2),
            first_record_after: Some(Duration::from_micros(1_500)),
            settings: vec![("fetch.max.bytes".into(), "1024".into())],
        };
        assert_eq!(report.records_per_second(), 1_000.0);
        assert_eq!(report.megabytes_per_second(), 1.5);
        let text = Report::Consume(report).to_string();
        assert!(
            text.starts_with(
                "consume: 2000 of 2000 records (3000000 bytes) from topic t partitions [0, 1]\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("settings:     fetch.max.bytes=1024\n"),
            "{text}"
        );
        assert!(text.contains("first record: after 1.500 ms\n"), "{text}");
        assert!(
            text.contains("1000 records/s, 1.5 MB/s in 2.000 s"),
            "{text}"
        );
    }
}
