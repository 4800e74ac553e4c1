//! Saved searches: standing queries read from the compacted topic `--queries` (key: the
//! query id, value: the query as JSON, a tombstone deletes it), and every event of
//! `--input` (a JSON object) matched against the queries current when it is read. Each
//! match is written to `--output`, keyed by the query id:
//!
//! ```text
//! key: ann    value: {"query":"ann","key":"l1","event":{"title":"Road bike","price":150}}
//! ```
//!
//! A query is, for instance,
//! `{"all":[{"term":{"field":"title","term":"bike"}},{"range":{"field":"price","lt":200}}]}`;
//! the language is in `crates/runnel-streams/README.md`. A query that does not parse stops
//! the job, or with `--skip-bad-records` is skipped and counted. The queries are kept in the
//! state store `<queries topic>-queries`.
//!
//! Every query must reach the task matching the events: give both topics one partition.
//!
//! ```sh
//! cargo run -p runnel-streams-kafka --example saved_searches -- \
//!     --bootstrap-servers 127.0.0.1:9092 --queries saved-searches --input listings --output search-hits
//! ```
//! It runs until interrupted (Ctrl-C or SIGTERM).

mod common;

use std::path::PathBuf;

use clap::Parser;
use runnel_streams::{JsonSerde, StreamsError, StringSerde, TopologyBuilder};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "saved-searches")]
    application_id: String,
    #[arg(long, default_value = "saved-searches")]
    queries: String,
    #[arg(long, default_value = "listings")]
    input: String,
    #[arg(long, default_value = "search-hits")]
    output: String,
    #[arg(long, default_value = "saved-searches-state")]
    state_dir: PathBuf,
    #[command(flatten)]
    app: common::AppArgs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Hit {
    query: String,
    key: String,
    event: Value,
}

fn saved_searches(
    builder: &mut TopologyBuilder,
    (queries, input, output): (&str, &str, &str),
) -> Result<(), StreamsError> {
    let queries = builder.standing_queries(queries);
    builder
        .stream(input, StringSerde, JsonSerde::<Value>::new())
        .search(&queries)
        .map(|query: String, (key, event)| {
            let hit = Hit {
                query: query.clone(),
                key,
                event,
            };
            (query, hit)
        })
        .to_topic(output, StringSerde, JsonSerde::<Hit>::new());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = args.app.config(&args.application_id, &args.state_dir);
    let (queries, input, output) = (args.queries, args.input, args.output);
    common::run(config, move |builder| {
        saved_searches(builder, (&queries, &input, &output))
    })
}
