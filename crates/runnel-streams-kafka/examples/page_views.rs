//! Page views per user per minute: reads page views from `--input` (key: the user, value: the
//! page, event time: the record's timestamp), counts each user's views in tumbling windows of
//! one minute, and writes each window's count to `--output` once the window has closed:
//!
//! ```text
//! key: ann    value: {"user":"ann","window_start":1700000040000,"window_end":1700000100000,"views":3}
//! ```
//!
//! A window `[start, end)` closes when the watermark (the newest event time seen on the input
//! partition, minus `--out-of-orderness-ms`) reaches `end` plus the grace period
//! (`--grace-ms`, 10 s by default). A view that arrives after its window closed is dropped,
//! and counted in the late-records metric. The counts of open windows are kept in the state
//! store `views` (changelog topic `<application id>-views-changelog`), so a restarted
//! instance goes on counting where it stopped.
//!
//! ```sh
//! cargo run -p runnel-streams-kafka --example page_views -- \
//!     --bootstrap-servers 127.0.0.1:9092 --input page-views --output views-per-minute
//! ```
//! It runs until interrupted (Ctrl-C or SIGTERM).

mod common;

use std::path::PathBuf;

use clap::Parser;
use runnel_streams::{
    EmitMode, JsonSerde, LatePolicy, StreamsError, StringSerde, Timestamp, TopologyBuilder,
    WindowSpec, WindowedConfig,
};
use serde::{Deserialize, Serialize};

/// The windows' length.
const WINDOW: Timestamp = 60_000;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "page-views")]
    application_id: String,
    #[arg(long, default_value = "page-views")]
    input: String,
    #[arg(long, default_value = "views-per-minute")]
    output: String,
    #[arg(long, default_value = "page-views-state")]
    state_dir: PathBuf,
    /// How long after its end a window still takes late views, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    grace_ms: Timestamp,
    #[command(flatten)]
    watermarks: common::WatermarkArgs,
    #[command(flatten)]
    app: common::AppArgs,
}

/// One user's views in one window `[window_start, window_end)` (milliseconds since the epoch).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UserViews {
    user: String,
    window_start: Timestamp,
    window_end: Timestamp,
    views: u64,
}

fn page_views(
    builder: &mut TopologyBuilder,
    input: &str,
    output: &str,
    grace: Timestamp,
) -> Result<(), StreamsError> {
    let windows = WindowedConfig::new(
        WindowSpec::tumbling(WINDOW)?.with_grace(grace)?,
        LatePolicy::Drop,
        EmitMode::Final,
    );
    builder
        // Keyed by user already: the views of one user are in one partition, so no
        // repartitioning is needed before grouping.
        .stream(input, StringSerde, StringSerde)
        .group_by_key()
        .windowed_by(windows)
        .count()?
        .stored("views", StringSerde, JsonSerde::<u64>::new())
        .finals()
        .map(|user: String, (window, views)| {
            let views = UserViews {
                user: user.clone(),
                window_start: window.start,
                window_end: window.end,
                views,
            };
            (user, views)
        })
        .to_topic(output, StringSerde, JsonSerde::<UserViews>::new());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = args
        .watermarks
        .apply(args.app.config(&args.application_id, &args.state_dir));
    let (input, output, grace) = (args.input, args.output, args.grace_ms);
    common::run(config, move |builder| {
        page_views(builder, &input, &output, grace)
    })
}
