use super::{Auction, Bid, Event, Person};
use crate::record::Timestamp;

/// Where the generator's randomness comes from; pass a seeded one for repeatable runs.
pub trait RandomSource {
    fn next_u64(&mut self) -> u64;

    /// Uniform enough in `0..bound` for a workload (`bound` must be positive).
    fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

/// A small, fast generator (SplitMix64), good for workloads, not for secrets.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }
}

impl RandomSource for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Shape of the workload.
#[derive(Debug, Clone, Copy)]
pub struct GeneratorConfig {
    /// Event time of the first event.
    pub start: Timestamp,
    /// Events per second of event time.
    pub events_per_second: u64,
    /// Out of every 50 events, how many are people and auctions (the rest are bids).
    pub persons_per_50: u64,
    pub auctions_per_50: u64,
    /// Bids go to one of this many most recent auctions (the hot ones) half of the time.
    pub hot_auctions: u64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            start: 1_700_000_000_000,
            events_per_second: 10_000,
            persons_per_50: 1,
            auctions_per_50: 3,
            hot_auctions: 100,
        }
    }
}

/// The places people live in: a city and its state.
pub(super) const CITIES: [(&str, &str); 6] = [
    ("Phoenix", "AZ"),
    ("Boise", "ID"),
    ("Portland", "OR"),
    ("Bend", "OR"),
    ("Seattle", "WA"),
    ("Redmond", "WA"),
];
const FIRST_NAMES: [&str; 6] = ["Ada", "Bo", "Cy", "Di", "Ed", "Flo"];
const LAST_NAMES: [&str; 5] = ["Ames", "Birch", "Cole", "Dunn", "Eyre"];
/// Where bids come from.
pub(super) const CHANNELS: [&str; 4] = ["web", "app", "phone", "partner"];

/// An endless, deterministic sequence of events.
#[derive(Debug)]
pub struct Generator<R> {
    config: GeneratorConfig,
    random: R,
    index: u64,
    persons: u64,
    auctions: u64,
}

impl<R: RandomSource> Generator<R> {
    pub fn new(config: GeneratorConfig, random: R) -> Self {
        Generator {
            config,
            random,
            index: 0,
            persons: 0,
            auctions: 0,
        }
    }

    fn date_time(&self) -> Timestamp {
        let millis = self.index.saturating_mul(1_000) / self.config.events_per_second.max(1);
        self.config.start.saturating_add_unsigned(millis)
    }

    fn person(&mut self, date_time: Timestamp) -> Person {
        let id = self.persons;
        self.persons += 1;
        let first = FIRST_NAMES[self.random.below(FIRST_NAMES.len() as u64) as usize];
        let last = LAST_NAMES[self.random.below(LAST_NAMES.len() as u64) as usize];
        let (city, state) = CITIES[self.random.below(CITIES.len() as u64) as usize];
        Person {
            id,
            name: format!("{first} {last}"),
            email: format!("{first}.{id}@example.com"),
            city,
            state,
            date_time,
        }
    }

    fn auction(&mut self, date_time: Timestamp) -> Auction {
        let id = self.auctions;
        self.auctions += 1;
        let initial_bid = 100 + self.random.below(10_000);
        Auction {
            id,
            item_name: format!("item-{}", self.random.below(100_000)),
            initial_bid,
            reserve: initial_bid + self.random.below(10_000),
            date_time,
            expires: date_time + 10_000 + self.random.below(50_000) as Timestamp,
            seller: self.random.below(self.persons.max(1)),
            category: self.random.below(10),
        }
    }

    fn bid(&mut self, date_time: Timestamp) -> Bid {
        let auctions = self.auctions.max(1);
        let hot = self.config.hot_auctions.clamp(1, auctions);
        let auction = if self.random.below(2) == 0 {
            auctions - 1 - self.random.below(hot)
        } else {
            self.random.below(auctions)
        };
        Bid {
            auction,
            bidder: self.random.below(self.persons.max(1)),
            price: 100 + self.random.below(100_000),
            channel: CHANNELS[self.random.below(CHANNELS.len() as u64) as usize],
            date_time,
        }
    }
}

impl<R: RandomSource> Iterator for Generator<R> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        let date_time = self.date_time();
        // The first two events are a person and an auction, so bids always have both.
        let slot = self.index % 50;
        let event = if self.index == 0 || slot < self.config.persons_per_50 {
            Event::Person(self.person(date_time))
        } else if self.index == 1 || slot < self.config.persons_per_50 + self.config.auctions_per_50
        {
            Event::Auction(self.auction(date_time))
        } else {
            Event::Bid(self.bid(date_time))
        };
        self.index += 1;
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_events() {
        let a: Vec<Event> = Generator::new(GeneratorConfig::default(), SplitMix64::new(7))
            .take(500)
            .collect();
        let b: Vec<Event> = Generator::new(GeneratorConfig::default(), SplitMix64::new(7))
            .take(500)
            .collect();
        let c: Vec<Event> = Generator::new(GeneratorConfig::default(), SplitMix64::new(8))
            .take(500)
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn proportions_times_and_references_hold() {
        let config = GeneratorConfig::default();
        let events: Vec<Event> = Generator::new(config, SplitMix64::new(1))
            .take(5_000)
            .collect();
        let bids = events.iter().filter(|e| matches!(e, Event::Bid(_))).count();
        let persons = events
            .iter()
            .filter(|e| matches!(e, Event::Person(_)))
            .count();
        assert_eq!(persons, 100);
        assert_eq!(bids, 4_600);
        // 10,000 events per second: the 5,000th is half a second after the first.
        assert_eq!(events[4_999].date_time() - events[0].date_time(), 499);
        let mut auctions = 0;
        for event in &events {
            match event {
                Event::Auction(a) => auctions = a.id + 1,
                Event::Bid(b) => assert!(b.auction < auctions),
                Event::Person(_) => {}
            }
        }
    }
}
