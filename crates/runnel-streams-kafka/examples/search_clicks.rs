//! Searches joined to the clicks that followed them: reads searches from `--searches` (key:
//! the session id, value: the query) and clicks from `--clicks` (key: the session id, value:
//! the URL clicked), and pairs each search with every click of its session at most an hour
//! (`--within-ms`) before or after it. Each pair is written to `--output`:
//!
//! ```text
//! key: s1    value: {"session":"s1","query":"rust streams","url":"https://example.com/a"}
//! ```
//!
//! A search no click followed is written with `"url":null` once its window has closed: when
//! the watermark has passed the search by the window plus the grace period (`--grace-ms`,
//! 5 minutes by default), so no click can still pair with it. With `--at-once`, it is
//! written as soon as it arrives instead, and retracted (`"retract":true`) when a click
//! pairs with it later. A record further behind the watermark than the grace period is
//! dropped and counted. The records waiting for a partner are kept in the state store
//! `pairs` (changelog topic `<application id>-pairs-changelog`).
//!
//! Both topics must have the same number of partitions, and be written with the same
//! partitioner, so that a session's searches and clicks meet in one task.
//!
//! ```sh
//! cargo run -p runnel-streams-kafka --example search_clicks -- \
//!     --bootstrap-servers 127.0.0.1:9092 --searches searches --clicks clicks --output search-clicks
//! ```
//! It runs until interrupted (Ctrl-C or SIGTERM).

mod common;

use std::path::PathBuf;

use clap::Parser;
use runnel_streams::{
    Delta, JoinWindows, JsonSerde, StreamsError, StringSerde, Timestamp, TopologyBuilder, Unmatched,
};
use serde::{Deserialize, Serialize};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "search-clicks")]
    application_id: String,
    #[arg(long, default_value = "searches")]
    searches: String,
    #[arg(long, default_value = "clicks")]
    clicks: String,
    #[arg(long, default_value = "search-clicks")]
    output: String,
    #[arg(long, default_value = "search-clicks-state")]
    state_dir: PathBuf,
    /// How far apart a search and a click may be, either way, in milliseconds (an hour by
    /// default).
    #[arg(long, default_value_t = 60 * 60_000)]
    within_ms: Timestamp,
    /// How far behind the watermark a record may be and still join, in milliseconds (5
    /// minutes by default).
    #[arg(long, default_value_t = 5 * 60_000)]
    grace_ms: Timestamp,
    /// Write a search without a click at once, and retract it if a click comes.
    #[arg(long)]
    at_once: bool,
    #[command(flatten)]
    watermarks: common::WatermarkArgs,
    #[command(flatten)]
    app: common::AppArgs,
}

/// A search and the click that followed it, if any.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SearchClick {
    session: String,
    query: String,
    url: Option<String>,
    /// Takes back the same result written before (only with `--at-once`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    retract: bool,
}

struct Topics {
    searches: String,
    clicks: String,
    output: String,
}

fn search_clicks(
    builder: &mut TopologyBuilder,
    topics: &Topics,
    windows: JoinWindows,
    unmatched: Unmatched,
) -> Result<(), StreamsError> {
    let searches = builder.stream(&topics.searches, StringSerde, StringSerde);
    let clicks = builder.stream(&topics.clicks, StringSerde, StringSerde);
    searches
        .join(&clicks, windows)
        .unmatched(unmatched)
        .stored("pairs", StringSerde, StringSerde, StringSerde)
        .left(
            |session, query: &String, url: Option<&String>| SearchClick {
                session: session.clone(),
                query: query.clone(),
                url: url.cloned(),
                retract: false,
            },
        )
        .map_values(|delta| match delta {
            Delta::Add(result) => result,
            Delta::Retract(result) => SearchClick {
                retract: true,
                ..result
            },
        })
        .to_topic(&topics.output, StringSerde, JsonSerde::<SearchClick>::new());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = args
        .watermarks
        .apply(args.app.config(&args.application_id, &args.state_dir));
    let windows = JoinWindows::within(args.within_ms)?.with_grace(args.grace_ms)?;
    let unmatched = if args.at_once {
        Unmatched::AtOnceThenRetract
    } else {
        Unmatched::WhenWindowCloses
    };
    let topics = Topics {
        searches: args.searches,
        clicks: args.clicks,
        output: args.output,
    };
    common::run(config, move |builder| {
        search_clicks(builder, &topics, windows, unmatched)
    })
}
