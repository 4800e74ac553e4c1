//! Runs `bench produce|consume` until the `runnel` binary wires them as `runnel bench`:
//!
//! ```sh
//! cargo run --release -p runnel-bench --example bench -- produce --topic t --records 500000
//! cargo run --release -p runnel-bench --example bench -- consume --topic t
//! ```

use std::process::ExitCode;

use clap::Parser;
use runnel_bench::BenchCommand;

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "Produce and consume benchmarks over the Kafka protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: BenchCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bench: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(runnel_bench::run(cli.command)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}
