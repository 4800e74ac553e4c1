//! Login fraud: reads logins from `--input` (key: the user, value:
//! `{"success":false,"country":"FR"}`, event time: the record's timestamp) and writes an
//! alert to `--output` whenever a user has three failed logins in a row followed by a
//! successful one from a country none of those failures came from, all within 10 minutes
//! (`--within-ms`):
//!
//! ```text
//! key: ann    value: {"user":"ann","failed_from":["FR","FR","DE"],"succeeded_from":"BR","first":1700000000000,"last":1700000180000}
//! ```
//!
//! Three failures that see no such success within the time are written to `--timed-out`
//! (the pattern's timed-out partial matches, fewer failures left out):
//!
//! ```text
//! key: bob    value: {"user":"bob","failed_from":["US","US","US"],"first":1700000190000}
//! ```
//!
//! Logins are matched per user in event-time order, once the watermark (the newest event
//! time on the input partition minus `--out-of-orderness-ms`) has passed them; a login older
//! than the watermark when it arrives is dropped and counted in the late-records metric.
//! After an alert, its logins start no other match (skip past the last event). The logins
//! waiting for the watermark and the partial matches are kept in the state store `logins`
//! (changelog topic `<application id>-logins-changelog`).
//!
//! ```sh
//! cargo run -p runnel-streams-kafka --example login_fraud -- \
//!     --bootstrap-servers 127.0.0.1:9092 --input logins --output login-alerts
//! ```
//! It runs until interrupted (Ctrl-C or SIGTERM).

mod common;

use std::path::PathBuf;

use clap::Parser;
use runnel_streams::cep::{AfterMatchSkip, Match, Pattern};
use runnel_streams::{JsonSerde, StreamsError, StringSerde, Timestamp, TopologyBuilder};
use serde::{Deserialize, Serialize};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "login-fraud")]
    application_id: String,
    #[arg(long, default_value = "logins")]
    input: String,
    #[arg(long, default_value = "login-alerts")]
    output: String,
    #[arg(long, default_value = "login-timeouts")]
    timed_out: String,
    #[arg(long, default_value = "login-fraud-state")]
    state_dir: PathBuf,
    /// How long the failures and the success may span, in milliseconds (10 minutes).
    #[arg(long, default_value_t = 10 * 60_000)]
    within_ms: Timestamp,
    #[command(flatten)]
    watermarks: common::WatermarkArgs,
    #[command(flatten)]
    app: common::AppArgs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Login {
    success: bool,
    country: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Alert {
    user: String,
    failed_from: Vec<String>,
    succeeded_from: String,
    first: Timestamp,
    last: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Unresolved {
    user: String,
    failed_from: Vec<String>,
    first: Timestamp,
}

fn failed_from(logins: &Match<Login>) -> Vec<String> {
    logins.stage("failed").map(|l| l.country.clone()).collect()
}

fn login_fraud(
    builder: &mut TopologyBuilder,
    (input, output, timed_out): (&str, &str, &str),
    within: Timestamp,
) -> Result<(), StreamsError> {
    let pattern = Pattern::begin("failed", |login: &Login, _| !login.success)
        .times(3..=3)
        .consecutive()
        .followed_by("success", |login: &Login, so_far| {
            login.success && so_far.events("failed").all(|f| f.country != login.country)
        })
        .within(within)
        .skip(AfterMatchSkip::PastLastEvent)
        .build()?;
    let matches = builder
        .stream(input, StringSerde, JsonSerde::<Login>::new())
        .pattern(pattern)
        .stored("logins", StringSerde, JsonSerde::<Login>::new());
    matches
        .matches()
        .map(|user: String, logins| {
            let alert = Alert {
                user: user.clone(),
                failed_from: failed_from(&logins),
                succeeded_from: logins.stage("success").map(|l| l.country.clone()).collect(),
                first: logins.events.first().map_or(0, |e| e.timestamp),
                last: logins.events.last().map_or(0, |e| e.timestamp),
            };
            (user, alert)
        })
        .to_topic(output, StringSerde, JsonSerde::<Alert>::new());
    matches
        .timed_out()
        .filter(|_, logins| logins.stage("failed").count() == 3)
        .map(|user: String, logins| {
            let unresolved = Unresolved {
                user: user.clone(),
                failed_from: failed_from(&logins),
                first: logins.events.first().map_or(0, |e| e.timestamp),
            };
            (user, unresolved)
        })
        .to_topic(timed_out, StringSerde, JsonSerde::<Unresolved>::new());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = args
        .watermarks
        .apply(args.app.config(&args.application_id, &args.state_dir));
    let (input, output, timed_out) = (args.input, args.output, args.timed_out);
    let within = args.within_ms;
    common::run(config, move |builder| {
        login_fraud(builder, (&input, &output, &timed_out), within)
    })
}
