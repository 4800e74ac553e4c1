use std::path::PathBuf;
use std::time::Duration;

use runnel_streams::Timestamp;

/// What a job promises about its results when it crashes or its partitions move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarantee {
    /// Every input record affects the results at least once: work done since the last
    /// commit is done again after a crash, so outputs may repeat.
    AtLeastOnce,
    /// Outputs, changelog writes and input offsets are committed in one Kafka transaction:
    /// after a crash, readers with `isolation.level=read_committed` see every result once.
    ExactlyOnce,
}

/// What happens to an input record that does not decode (or a result that does not encode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRecords {
    /// Processing stops with the error (Kafka Streams' `LogAndFailExceptionHandler`).
    Fail,
    /// The record is skipped, logged and counted in `Metrics::records_skipped`
    /// (`LogAndContinueExceptionHandler`).
    Skip,
}

/// The settings of a streams application, with Kafka Streams' names in the docs.
#[derive(Debug, Clone)]
pub struct StreamsConfig {
    /// `application.id`: the consumer group, the prefix of internal topics and of the
    /// transactional id, and the directory under `state_dir`.
    pub application_id: String,
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// `state.dir`: local copies of the state stores live in
    /// `<state_dir>/<application_id>/`.
    pub state_dir: PathBuf,
    /// `processing.guarantee`.
    pub guarantee: Guarantee,
    /// `commit.interval.ms`: how often results are committed. Kafka Streams defaults to
    /// 100 ms under exactly-once and 30 s otherwise; here both default to 100 ms, so
    /// at-least-once repeats little after a crash.
    pub commit_interval: Duration,
    /// Bounded out-of-orderness of event time per input partition, in milliseconds.
    pub out_of_orderness: Timestamp,
    /// Processing time after which a silent input partition stops holding the watermark.
    pub idle_timeout: Timestamp,
    /// Names this instance among the application's instances: its transactional id is
    /// `<application_id>-<instance_id>`, so a restarted instance fences and aborts what its
    /// previous life left open. By default a random id kept in the state directory.
    pub instance_id: Option<String>,
    /// `transaction.timeout.ms`: how long the broker keeps a transaction of a crashed
    /// instance open (holding back read-committed readers) before it aborts it.
    pub transaction_timeout: Duration,
    /// `default.deserialization.exception.handler`: a record whose key or value does not
    /// decode either stops the job (the default) or is skipped.
    pub bad_records: BadRecords,
    /// Partitions of the internal topics when the input topics do not say (no input).
    pub internal_topic_partitions: i32,
    /// More librdkafka settings for every client (security settings, for example).
    pub client_properties: Vec<(String, String)>,
    /// HOST:PORT on which the application serves `/metrics` (Prometheus) and `/health`;
    /// none by default. Port 0 takes any free port (`RunningApp::metrics_address`).
    pub metrics_listen: Option<String>,
}

impl StreamsConfig {
    pub fn new(application_id: &str, bootstrap_servers: &str) -> Self {
        StreamsConfig {
            application_id: application_id.to_owned(),
            bootstrap_servers: bootstrap_servers.to_owned(),
            state_dir: std::env::temp_dir().join("runnel-streams"),
            guarantee: Guarantee::AtLeastOnce,
            commit_interval: Duration::from_millis(100),
            out_of_orderness: 0,
            idle_timeout: 30_000,
            instance_id: None,
            transaction_timeout: Duration::from_secs(10),
            bad_records: BadRecords::Fail,
            internal_topic_partitions: 1,
            client_properties: Vec::new(),
            metrics_listen: None,
        }
    }

    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = dir.into();
        self
    }

    pub fn guarantee(mut self, guarantee: Guarantee) -> Self {
        self.guarantee = guarantee;
        self
    }

    pub fn commit_interval(mut self, interval: Duration) -> Self {
        self.commit_interval = interval;
        self
    }

    /// Watermark settings: allowed out-of-orderness and idle timeout, in milliseconds.
    pub fn watermarks(mut self, out_of_orderness: Timestamp, idle_timeout: Timestamp) -> Self {
        self.out_of_orderness = out_of_orderness;
        self.idle_timeout = idle_timeout;
        self
    }

    pub fn bad_records(mut self, policy: BadRecords) -> Self {
        self.bad_records = policy;
        self
    }

    pub fn instance_id(mut self, id: &str) -> Self {
        self.instance_id = Some(id.to_owned());
        self
    }

    pub fn client_property(mut self, key: &str, value: &str) -> Self {
        self.client_properties
            .push((key.to_owned(), value.to_owned()));
        self
    }

    /// Serves `/metrics` and `/health` on `address` (HOST:PORT) while the application runs.
    pub fn metrics_listen(mut self, address: &str) -> Self {
        self.metrics_listen = Some(address.to_owned());
        self
    }

    /// This application's directory of local state.
    pub fn application_dir(&self) -> PathBuf {
        self.state_dir.join(&self.application_id)
    }
}
