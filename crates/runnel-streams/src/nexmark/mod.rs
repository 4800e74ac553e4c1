//! A Nexmark-style workload for benchmarks: an online auction where people register, open
//! auctions and bid. Deterministic: the same random source and configuration give the same
//! events, with event times spaced evenly at a chosen rate. `EventSerde` encodes the events
//! for a topic.

mod codec;
mod generator;
pub mod queries;

pub use codec::{BidSerde, EventSerde};
pub use generator::{Generator, GeneratorConfig, RandomSource, SplitMix64};

use crate::record::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub city: &'static str,
    pub state: &'static str,
    pub date_time: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auction {
    pub id: u64,
    pub item_name: String,
    pub initial_bid: u64,
    pub reserve: u64,
    pub date_time: Timestamp,
    pub expires: Timestamp,
    pub seller: u64,
    pub category: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bid {
    pub auction: u64,
    pub bidder: u64,
    /// In cents.
    pub price: u64,
    pub channel: &'static str,
    pub date_time: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Person(Person),
    Auction(Auction),
    Bid(Bid),
}

impl Event {
    pub fn date_time(&self) -> Timestamp {
        match self {
            Event::Person(p) => p.date_time,
            Event::Auction(a) => a.date_time,
            Event::Bid(b) => b.date_time,
        }
    }

    pub fn into_bid(self) -> Option<Bid> {
        match self {
            Event::Bid(bid) => Some(bid),
            _ => None,
        }
    }
}
