//! Runs `runnel-streams` graphs against a Kafka cluster (Runnel or any other) through
//! librdkafka, in the Kafka Streams model: a library inside the application, no cluster of
//! its own. Instances of one application (one `application_id`) share the input partitions
//! through a consumer group; each runs one task per partition it holds.
//!
//! ```no_run
//! use runnel_streams::*;
//! use runnel_streams_kafka::*;
//!
//! let config = StreamsConfig::new("word-count", "127.0.0.1:9092")
//!     .state_dir("/var/lib/word-count")
//!     .guarantee(Guarantee::ExactlyOnce);
//! let app = StreamsApp::new(config, |builder: &mut TopologyBuilder| {
//!     builder
//!         .stream("text", StringSerde, StringSerde)
//!         .flat_map(|_, line: String| {
//!             line.split_whitespace().map(|w| (w.to_lowercase(), String::new())).collect::<Vec<_>>()
//!         })
//!         .repartition("words", StringSerde, StringSerde)
//!         .group_by_key()
//!         .count()
//!         .stored("counts", StringSerde, JsonSerde::<u64>::new())
//!         .changes()
//!         .to_topic("word-counts", StringSerde, JsonSerde::<u64>::new());
//!     Ok(())
//! });
//! let running = app.start()?;
//! // ... later:
//! running.stop()?;
//! # Ok::<(), RunnerError>(())
//! ```

mod clients;
mod clock;
mod config;
mod error;
mod global;
mod local;
mod metrics;
mod runner;
mod serve;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use runnel_streams::{StreamsError, TopologyBuilder};

pub use clock::{Clock, SystemClock};
pub use config::{BadRecords, Guarantee, StreamsConfig};
pub use error::RunnerError;
pub use metrics::{CommitLatency, Metrics, Punctuations, StoreSize, COMMIT_LATENCY_BOUNDS};

/// Builds the graph of one task; called once per task, and once to learn the topics.
type BuildFn = Arc<dyn Fn(&mut TopologyBuilder) -> Result<(), StreamsError> + Send + Sync>;

/// A streams application, ready to start.
pub struct StreamsApp {
    config: StreamsConfig,
    build: BuildFn,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for StreamsApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamsApp")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl StreamsApp {
    /// `build` describes the graph on the builder it is given (sources with
    /// `TopologyBuilder::stream` or `table`, sinks with `Stream::to_topic`, stores with
    /// `stored`). It runs once per task, on the processing thread.
    pub fn new(
        config: StreamsConfig,
        build: impl Fn(&mut TopologyBuilder) -> Result<(), StreamsError> + Send + Sync + 'static,
    ) -> Self {
        StreamsApp {
            config,
            build: Arc::new(build),
            clock: Arc::new(SystemClock),
        }
    }

    /// Processing time from `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Connects, creates the internal topics, joins the group and starts processing on a
    /// thread of its own. Returns once started, or with the reason it could not start.
    /// With `StreamsConfig::metrics_listen`, also serves `/metrics` and `/health` there.
    pub fn start(self) -> Result<RunningApp, RunnerError> {
        let metrics = Arc::new(Mutex::new(Metrics::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let processing = Arc::new(AtomicBool::new(true));
        let server = match &self.config.metrics_listen {
            Some(listen) => Some(serve::MetricsServer::start(
                listen,
                &self.config.application_id,
                metrics.clone(),
                processing.clone(),
            )?),
            None => None,
        };
        let (started, outcome) = mpsc::channel();
        let thread = {
            let (metrics, stop) = (metrics.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("streams-{}", self.config.application_id))
                .spawn(move || {
                    let ended = match runner::Runner::start(
                        self.config,
                        self.build,
                        self.clock,
                        metrics,
                        stop,
                    ) {
                        Ok(runner) => {
                            let _ = started.send(Ok(()));
                            runner.run()
                        }
                        Err(error) => {
                            let _ = started.send(Err(error));
                            Ok(())
                        }
                    };
                    processing.store(false, Ordering::Release);
                    ended
                })?
        };
        match outcome.recv() {
            Ok(Ok(())) => Ok(RunningApp {
                metrics,
                stop,
                thread,
                server,
            }),
            Ok(Err(error)) => {
                if let Some(server) = server {
                    server.stop();
                }
                Err(error)
            }
            Err(_) => Err(RunnerError::ThreadDied),
        }
    }
}

/// A started application.
#[derive(Debug)]
pub struct RunningApp {
    metrics: Arc<Mutex<Metrics>>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<(), RunnerError>>,
    server: Option<serve::MetricsServer>,
}

impl RunningApp {
    pub fn metrics(&self) -> Metrics {
        self.metrics.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The address of the `/metrics` endpoint, if `StreamsConfig::metrics_listen` asked for
    /// one (with port 0, the port it took).
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(serve::MetricsServer::address)
    }

    /// Whether processing ended (after an error, which `stop` returns).
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Runs until the process gets SIGINT or SIGTERM, or processing ends on an error, then
    /// stops as `stop` does: for a program whose only work is this application.
    pub fn run_until_signalled(self) -> Result<(), RunnerError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let mut check = tokio::time::interval(std::time::Duration::from_millis(100));
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => break,
                    _ = terminate.recv() => break,
                    _ = check.tick() => if self.is_finished() { break },
                }
            }
            Ok::<(), RunnerError>(())
        })?;
        self.stop()
    }

    /// Commits what was processed, leaves the group and returns how processing ended.
    pub fn stop(self) -> Result<(), RunnerError> {
        self.stop.store(true, Ordering::Release);
        let ended = self.thread.join().map_err(|_| RunnerError::ThreadDied)?;
        if let Some(server) = self.server {
            server.stop();
        }
        ended
    }
}
