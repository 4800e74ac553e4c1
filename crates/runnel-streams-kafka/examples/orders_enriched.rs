//! Orders enriched from a customers table and priced in dollars at the exchange rate in force
//! when each order was placed. Reads:
//!
//! - `--orders`, a stream (key: the customer id, value: `{"order":"o1","cents":1250,"currency":"EUR"}`,
//!   event time: the record's timestamp);
//! - `--customers`, a table, such as a compacted change-data-capture topic (key: the customer
//!   id, value: the customer's name; a tombstone deletes the customer);
//! - `--rates`, a versioned table (key: the currency, value: dollars per unit in millionths,
//!   such as `1085000` for 1.085, from the record's timestamp on), whose history is kept for
//!   a day (`--rate-history-ms`).
//!
//! Each order of a known customer is joined with the customer's current name, re-keyed by
//! currency through the repartition topic `<application id>-by-currency-repartition`, and
//! joined with the rate its currency had at the order's time. Each priced order is written
//! to `--output`:
//!
//! ```text
//! key: EUR    value: {"order":"o1","customer":"c1","name":"Ann","cents":1250,"currency":"EUR","usd_cents":1356}
//! ```
//!
//! An order of an unknown customer, or in a currency without a rate at its time, is not
//! written; one older than the rate history is dropped and counted.
//!
//! ```sh
//! cargo run -p runnel-streams-kafka --example orders_enriched -- \
//!     --bootstrap-servers 127.0.0.1:9092 --orders orders --customers customers --rates rates
//! ```
//! It runs until interrupted (Ctrl-C or SIGTERM).

mod common;

use std::path::PathBuf;

use clap::Parser;
use runnel_streams::{
    DecimalSerde, JsonSerde, StreamsError, StringSerde, Timestamp, TopologyBuilder,
};
use serde::{Deserialize, Serialize};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "orders-enriched")]
    application_id: String,
    #[arg(long, default_value = "orders")]
    orders: String,
    #[arg(long, default_value = "customers")]
    customers: String,
    #[arg(long, default_value = "rates")]
    rates: String,
    #[arg(long, default_value = "orders-enriched")]
    output: String,
    #[arg(long, default_value = "orders-enriched-state")]
    state_dir: PathBuf,
    /// How long each currency's rate history is kept, in milliseconds of event time (a day
    /// by default).
    #[arg(long, default_value_t = 24 * 60 * 60_000)]
    rate_history_ms: Timestamp,
    #[command(flatten)]
    app: common::AppArgs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    order: String,
    cents: u64,
    currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Enriched {
    order: String,
    customer: String,
    name: String,
    cents: u64,
    currency: String,
    #[serde(default)]
    usd_cents: u64,
}

struct Topics {
    orders: String,
    customers: String,
    rates: String,
    output: String,
}

fn orders_enriched(
    builder: &mut TopologyBuilder,
    topics: &Topics,
    rate_history: Timestamp,
) -> Result<(), StreamsError> {
    let orders = builder.stream(&topics.orders, StringSerde, JsonSerde::<Order>::new());
    let customers = builder.table(&topics.customers, StringSerde, StringSerde);
    let rates = builder.versioned_table(&topics.rates, StringSerde, DecimalSerde, rate_history);
    orders
        .join_table(&customers, |customer, order: &Order, name: &String| {
            Enriched {
                order: order.order.clone(),
                customer: customer.clone(),
                name: name.clone(),
                cents: order.cents,
                currency: order.currency.clone(),
                usd_cents: 0,
            }
        })
        .key_by(|_, enriched: &Enriched| enriched.currency.clone())
        .repartition("by-currency", StringSerde, JsonSerde::<Enriched>::new())
        .join_versioned(&rates, |_, enriched: &Enriched, millionths: &u64| {
            Enriched {
                usd_cents: enriched.cents.saturating_mul(*millionths) / 1_000_000,
                ..enriched.clone()
            }
        })
        .to_topic(&topics.output, StringSerde, JsonSerde::<Enriched>::new());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = args.app.config(&args.application_id, &args.state_dir);
    let topics = Topics {
        orders: args.orders,
        customers: args.customers,
        rates: args.rates,
        output: args.output,
    };
    let history = args.rate_history_ms;
    common::run(config, move |builder| {
        orders_enriched(builder, &topics, history)
    })
}
