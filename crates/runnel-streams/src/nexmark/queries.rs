//! Nexmark queries over the in-process topology. Each takes the stream of all events and
//! returns its output stream.
//!
//! q3 and q20 join a stream with a table, q5, q7 and q11 aggregate in windows, q8 joins two
//! windowed tables. They group or join
//! records after changing their keys without a repartition topic
//! (`assume_partitioned`): right in process and over an input topic of one partition, where
//! one task sees every event; over more partitions each task would aggregate only its share.

use super::{Auction, Bid, Event, Person};
use crate::aggregate::Count;
use crate::change::Change;
use crate::error::StreamsError;
use crate::join::Delta;
use crate::record::Timestamp;
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

/// The category q3 and q20 select: the first (0 here; Flink's generator numbers them from 10).
const CATEGORY: u64 = 0;

fn auctions(events: &Stream<(), Event>) -> Stream<(), Auction> {
    events.flat_map(|key, event: Event| match event {
        Event::Auction(auction) => Some((key, auction)),
        _ => None,
    })
}

/// q3, local item suggestion: auctions of the category by sellers living in Oregon or Idaho,
/// with the seller's name, city and state (a stream–table join of auctions with the people
/// table by seller id). Keyed by seller; the value is `(name, city, state, auction id)`.
pub fn q3(events: &Stream<(), Event>) -> Stream<u64, (String, &'static str, &'static str, u64)> {
    let sellers = events
        .flat_map(|_, event: Event| match event {
            Event::Person(person) if matches!(person.state, "OR" | "ID") => {
                Some((person.id, person))
            }
            _ => None,
        })
        .assume_partitioned()
        .group_by_key()
        .reduce(|_, latest: &Person| latest.clone());
    auctions(events)
        .filter(|_, auction| auction.category == CATEGORY)
        .key_by(|_, auction| auction.seller)
        .assume_partitioned()
        .join_table(&sellers, |_, auction: &Auction, person: &Person| {
            (person.name.clone(), person.city, person.state, auction.id)
        })
}

/// q20, expanded bids: each bid on an auction of the category, with the auction (a
/// stream–table join of bids with the auctions table by auction id).
pub fn q20(events: &Stream<(), Event>) -> Stream<u64, (Bid, Auction)> {
    let auctions = auctions(events)
        .filter(|_, auction| auction.category == CATEGORY)
        .key_by(|_, auction| auction.id)
        .assume_partitioned()
        .group_by_key()
        .reduce(|_, latest: &Auction| latest.clone());
    bids(events)
        .key_by(|_, bid| bid.auction)
        .assume_partitioned()
        .join_table(&auctions, |_, bid: &Bid, auction: &Auction| {
            (bid.clone(), auction.clone())
        })
}

/// q8, monitor new users: people who registered and opened an auction within the same 10 s
/// tumbling window. Each side is windowed per person (the name; the number of auctions),
/// its finals keyed by (person, window start) into a table, and the two tables joined.
/// Keyed by (person id, window start); the value is the person's name.
pub fn q8(events: &Stream<(), Event>) -> Result<Stream<(u64, Timestamp), String>, StreamsError> {
    let tumbling = WindowedConfig::new(
        WindowSpec::tumbling(10_000)?,
        LatePolicy::Drop,
        EmitMode::Final,
    );
    let registered = events
        .flat_map(|_, event: Event| match event {
            Event::Person(person) => Some((person.id, person.name)),
            _ => None,
        })
        .assume_partitioned()
        .group_by_key()
        .windowed_by(tumbling)
        .reduce(|_, latest: &String| latest.clone())?
        .finals()
        .map(|id, (window, name)| ((id, window.start), name))
        .assume_partitioned()
        .group_by_key()
        .reduce(|_, latest: &String| latest.clone());
    let selling = auctions(events)
        .key_by(|_, auction| auction.seller)
        .assume_partitioned()
        .group_by_key()
        .windowed_by(tumbling)
        .count()?
        .finals()
        .map(|seller, (window, count)| ((seller, window.start), count))
        .assume_partitioned()
        .group_by_key()
        .reduce(|_, latest: &u64| *latest);
    Ok(registered
        .join(&selling, |_, name: &String, _| name.clone())
        .changes()
        .flat_map(|key, delta| match delta {
            Delta::Add(name) => Some((key, name)),
            Delta::Retract(_) => None,
        }))
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
