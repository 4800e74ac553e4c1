//! User sessions: reads events from `--input` (key: the user, value: anything, such as the
//! page viewed; event time: the record's timestamp) and groups each user's events into
//! sessions, runs of events at most 30 minutes apart (`--gap-ms`). Each session is written
//! to `--output` once, when it has closed:
//!
//! ```text
//! key: ann    value: {"user":"ann","start":1700000000000,"end":1700002520000,"events":4}
//! ```
//!
//! `start` and `end` are the times of the session's first and last event. An event that
//! falls between two sessions of its user merges them into one. A session closes when the
//! watermark (the newest event time seen on the input partition, minus
//! `--out-of-orderness-ms`) has passed its last event by the gap plus the grace period
//! (`--grace-ms`, 5 minutes by default): an event up to that far behind the watermark still
//! joins (or bridges) sessions, and a later one is dropped and counted in the late-records
//! metric. Open sessions are kept in the state store `sessions` (changelog topic
//! `<application id>-sessions-changelog`).
//!
//! ```sh
//! cargo run -p runnel-streams-kafka --example sessions -- \
//!     --bootstrap-servers 127.0.0.1:9092 --input page-views --output sessions
//! ```
//! It runs until interrupted (Ctrl-C or SIGTERM).

mod common;

use std::path::PathBuf;

use clap::Parser;
use runnel_streams::{
    Count, EmitMode, JsonSerde, LatePolicy, StreamsError, StringSerde, Timestamp, TopologyBuilder,
    WindowSpec, WindowedConfig,
};
use serde::{Deserialize, Serialize};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "sessions")]
    application_id: String,
    #[arg(long, default_value = "page-views")]
    input: String,
    #[arg(long, default_value = "sessions")]
    output: String,
    #[arg(long, default_value = "sessions-state")]
    state_dir: PathBuf,
    /// The inactivity that ends a session, in milliseconds (30 minutes by default).
    #[arg(long, default_value_t = 30 * 60_000)]
    gap_ms: Timestamp,
    /// How far behind the watermark an event may be and still count, in milliseconds
    /// (5 minutes by default).
    #[arg(long, default_value_t = 5 * 60_000)]
    grace_ms: Timestamp,
    #[command(flatten)]
    watermarks: common::WatermarkArgs,
    #[command(flatten)]
    app: common::AppArgs,
}

/// One closed session: the times of its first and last event (milliseconds since the
/// epoch) and how many events it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Session {
    user: String,
    start: Timestamp,
    end: Timestamp,
    events: u64,
}

fn sessions(
    builder: &mut TopologyBuilder,
    input: &str,
    output: &str,
    (gap, grace): (Timestamp, Timestamp),
) -> Result<(), StreamsError> {
    let windows = WindowedConfig::new(
        WindowSpec::session(gap)?.with_grace(grace)?,
        LatePolicy::Drop,
        EmitMode::Final,
    );
    builder
        .stream(input, StringSerde, StringSerde)
        .group_by_key()
        .windowed_by(windows)
        // Counts merge by adding up, as sessions need: `Aggregate::with_merger` says how for
        // other results.
        .aggregate_with(Count)?
        .stored("sessions", StringSerde, JsonSerde::<u64>::new())
        .finals()
        .map(|user: String, (window, events)| {
            let session = Session {
                user: user.clone(),
                start: window.start,
                // A session window ends one millisecond after its last event.
                end: window.end - 1,
                events,
            };
            (user, session)
        })
        .to_topic(output, StringSerde, JsonSerde::<Session>::new());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = args
        .watermarks
        .apply(args.app.config(&args.application_id, &args.state_dir));
    let (input, output) = (args.input, args.output);
    let times = (args.gap_ms, args.grace_ms);
    common::run(config, move |builder| {
        sessions(builder, &input, &output, times)
    })
}
