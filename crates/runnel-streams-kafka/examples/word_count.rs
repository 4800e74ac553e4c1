//! Word count: counts the words of the lines in `--input` and writes each word's new count
//! to `--output` (key: the word, value: the count in decimal) as it changes.
//!
//! ```sh
//! cargo run -p runnel-streams-kafka --example word_count -- \
//!     --bootstrap-servers 127.0.0.1:9092 --input text --output word-counts --exactly-once
//! ```
//! It runs until interrupted (Ctrl-C or SIGTERM); start it twice (with different
//! `--state-dir`s) and the two instances share the partitions.

mod common;

use std::path::PathBuf;

use clap::Parser;
use runnel_streams::{DecimalSerde, StringSerde, TopologyBuilder};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "word-count")]
    application_id: String,
    #[arg(long, default_value = "text")]
    input: String,
    #[arg(long, default_value = "word-counts")]
    output: String,
    #[arg(long, default_value = "word-count-state")]
    state_dir: PathBuf,
    #[command(flatten)]
    app: common::AppArgs,
}

fn word_count(builder: &mut TopologyBuilder, input: &str, output: &str) {
    builder
        .stream(input, StringSerde, StringSerde)
        .flat_map(|_, line: String| {
            line.split_whitespace()
                .map(|word| (word.to_lowercase(), String::new()))
                .collect::<Vec<_>>()
        })
        // The words of one partition's lines belong to every partition: each word's count
        // is kept by the task of the word's partition in the repartition topic.
        .repartition("words", StringSerde, StringSerde)
        .group_by_key()
        .count()
        .stored("counts", StringSerde, DecimalSerde)
        .changes()
        .to_topic(output, StringSerde, DecimalSerde);
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = args.app.config(&args.application_id, &args.state_dir);
    let (input, output) = (args.input, args.output);
    common::run(config, move |builder| {
        word_count(builder, &input, &output);
        Ok(())
    })
}
