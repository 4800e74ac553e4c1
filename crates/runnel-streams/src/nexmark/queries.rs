//! Nexmark queries over the in-process topology. Each takes the stream of all events and
//! returns its output stream.
//!
//! q5, q7 and q11 group records after changing their keys without a repartition topic
//! (`assume_partitioned`): right in process and over an input topic of one partition, where
//! one task sees every event; over more partitions each task would aggregate only its share.

use super::{Bid, Event};
use crate::aggregate::Count;
use crate::change::Change;
use crate::error::StreamsError;
use crate::topology::Stream;
use crate::window::{Window, WindowSpec};
use crate::windowed::{EmitMode, LatePolicy, WindowedConfig};

/// Dollars to euros, at a fixed rate in thousandths.
const EUROS_PER_1000_DOLLARS: u64 = 908;

/// q0, pass-through: every event, untouched, through one operation.
pub fn q0(events: &Stream<(), Event>) -> Stream<(), Event> {
    events.map_values(|event| event)
}

fn bids(events: &Stream<(), Event>) -> Stream<(), Bid> {
    events.flat_map(|key, event: Event| event.into_bid().map(|bid| (key, bid)))
}

/// q1, projection: bids with their price in euros.
pub fn q1(events: &Stream<(), Event>) -> Stream<(), Bid> {
    bids(events).map_values(|mut bid| {
        bid.price = bid.price * EUROS_PER_1000_DOLLARS / 1_000;
        bid
    })
}

/// q2, selection: auction and price of the bids on a few auctions.
pub fn q2(events: &Stream<(), Event>) -> Stream<u64, u64> {
    bids(events)
        .filter(|_, bid| bid.auction % 123 == 0)
        .map(|_, bid| (bid.auction, bid.price))
}

/// q5, hot items: for each 10 s window, sliding every 2 s, the auction with the most bids
/// (ties go to the lower auction id). Each improvement of a window's leader is an output.
pub fn q5(events: &Stream<(), Event>) -> Result<Stream<Window, (u64, u64)>, StreamsError> {
    let config = WindowedConfig::new(
        WindowSpec::hopping(10_000, 2_000)?,
        LatePolicy::Drop,
        EmitMode::Final,
    );
    let counts = bids(events)
        .key_by(|_, bid| bid.auction)
        .assume_partitioned()
        .group_by_key()
        .windowed_by(config)
        .count()?;
    let leaders = counts
        .finals()
        .map(|auction, (window, count)| (window, (auction, count)))
        .group_by_key()
        .reduce(|leader, challenger| {
            let better = (challenger.1, std::cmp::Reverse(challenger.0))
                > (leader.1, std::cmp::Reverse(leader.0));
            if better {
                *challenger
            } else {
                *leader
            }
        });
    Ok(leaders.changes())
}

/// q7, highest bid: for each 10 s tumbling window, the highest bid (ties go to the earlier).
pub fn q7(events: &Stream<(), Event>) -> Result<Stream<(), Change<(), Bid>>, StreamsError> {
    let config = WindowedConfig::new(
        WindowSpec::tumbling(10_000)?,
        LatePolicy::Drop,
        EmitMode::Final,
    );
    let highest = bids(events)
        .assume_partitioned()
        .group_by_key()
        .windowed_by(config)
        .reduce(|best: &Bid, bid: &Bid| {
            if bid.price > best.price {
                bid.clone()
            } else {
                best.clone()
            }
        })?;
    Ok(highest.changes())
}

/// q11, user sessions: for each bidder, the bids of each session (bids at most 10 s apart),
/// once the session has closed, as (session window, bids).
pub fn q11(events: &Stream<(), Event>) -> Result<Stream<u64, (Window, u64)>, StreamsError> {
    let config = WindowedConfig::new(
        WindowSpec::session(10_000)?,
        LatePolicy::Drop,
        EmitMode::Final,
    );
    let sessions = bids(events)
        .key_by(|_, bid| bid.bidder)
        .assume_partitioned()
        .group_by_key()
        .windowed_by(config)
        .aggregate_with(Count)?;
    Ok(sessions.finals())
}
