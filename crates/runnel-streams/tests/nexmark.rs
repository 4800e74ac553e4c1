//! The Nexmark queries give what a direct computation over the generated events gives.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use runnel_streams::nexmark::{queries, Bid, Event, Generator, GeneratorConfig, SplitMix64};
use runnel_streams::{Change, Record, Stream, TopologyBuilder, Window};

fn events(n: usize) -> Vec<Event> {
    Generator::new(GeneratorConfig::default(), SplitMix64::new(42))
        .take(n)
        .collect()
}

fn bids(events: &[Event]) -> Vec<Bid> {
    events.iter().cloned().filter_map(Event::into_bid).collect()
}

/// Builds a query, pushes the events in order, ends the input and returns every output.
fn run<K: Clone + 'static, V: Clone + 'static>(
    events: &[Event],
    query: impl FnOnce(&Stream<(), Event>) -> Stream<K, V>,
) -> Vec<(K, V)> {
    let mut builder = TopologyBuilder::new();
    let (input, stream) = builder.source::<(), Event>();
    let outputs = Rc::new(RefCell::new(Vec::new()));
    let sink = outputs.clone();
    query(&stream).for_each(move |r| sink.borrow_mut().push((r.key.clone(), r.value.clone())));
    let mut topology = builder.build(0, i64::MAX).unwrap();
    for event in events {
        let t = event.date_time();
        topology
            .push(&input, Record::new((), event.clone(), t, 0), t)
            .unwrap();
    }
    topology.finish().unwrap();
    outputs.take()
}

#[test]
fn q0_q1_q2_pass_project_and_select() {
    let events = events(20_000);
    assert_eq!(run(&events, queries::q0).len(), events.len());
    let q1 = run(&events, queries::q1);
    let bids = bids(&events);
    assert_eq!(q1.len(), bids.len());
    assert_eq!(q1[0].1.price, bids[0].price * 908 / 1000);
    let q2: Vec<(u64, u64)> = run(&events, queries::q2);
    let expected: Vec<(u64, u64)> = bids
        .iter()
        .filter(|b| b.auction % 123 == 0)
        .map(|b| (b.auction, b.price))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(q2, expected);
}

#[test]
fn q5_finds_the_hottest_auction_of_each_window() {
    // 60,000 events at 10,000/s: six seconds, so every window is covered and some are partial.
    let events = events(60_000);
    let mut counts: BTreeMap<Window, BTreeMap<u64, u64>> = BTreeMap::new();
    for bid in bids(&events) {
        let t = bid.date_time;
        let newest = t - t.rem_euclid(2_000);
        for start in (0..5).map(|i| newest - i * 2_000) {
            *counts
                .entry(Window::new(start, start + 10_000))
                .or_default()
                .entry(bid.auction)
                .or_default() += 1;
        }
    }
    let expected: BTreeMap<Window, (u64, u64)> = counts
        .into_iter()
        .map(|(w, by_auction)| {
            let best = by_auction
                .into_iter()
                .max_by_key(|&(auction, n)| (n, std::cmp::Reverse(auction)))
                .unwrap();
            (w, best)
        })
        .collect();
    let mut leaders = BTreeMap::new();
    for (window, leader) in run(&events, |s| queries::q5(s).unwrap()) {
        leaders.insert(window, leader);
    }
    assert_eq!(leaders, expected);
}

#[test]
fn q7_finds_the_highest_bid_of_each_window() {
    let events = events(60_000);
    let mut expected: BTreeMap<Window, Bid> = BTreeMap::new();
    for bid in bids(&events) {
        let start = bid.date_time - bid.date_time.rem_euclid(10_000);
        let best = expected
            .entry(Window::new(start, start + 10_000))
            .or_insert_with(|| bid.clone());
        if bid.price > best.price {
            *best = bid;
        }
    }
    let outputs = run(&events, |s| queries::q7(s).unwrap());
    let mut highest = BTreeMap::new();
    for (_, change) in outputs {
        match change {
            Change::Final { window, value, .. } => {
                assert!(
                    highest.insert(window, value).is_none(),
                    "one final per window"
                );
            }
            other => panic!("only finals expected, got {other:?}"),
        }
    }
    assert_eq!(highest, expected);
}

#[test]
fn q3_and_q20_join_with_what_came_before() {
    let events = events(50_000);
    // Direct: the people and auctions seen so far, at each auction and bid.
    let mut people = BTreeMap::new();
    let mut auctions = BTreeMap::new();
    let (mut q3, mut q20) = (Vec::new(), Vec::new());
    for event in &events {
        match event {
            Event::Person(p) => {
                people.insert(p.id, p.clone());
            }
            Event::Auction(a) => {
                if a.category == 0 {
                    auctions.insert(a.id, a.clone());
                    if let Some(p) = people
                        .get(&a.seller)
                        .filter(|p| matches!(p.state, "OR" | "ID"))
                    {
                        q3.push((a.seller, (p.name.clone(), p.city, p.state, a.id)));
                    }
                }
            }
            Event::Bid(b) => {
                if let Some(a) = auctions.get(&b.auction) {
                    q20.push((b.auction, (b.clone(), a.clone())));
                }
            }
        }
    }
    assert!(!q3.is_empty() && !q20.is_empty());
    assert_eq!(run(&events, queries::q3), q3);
    assert_eq!(run(&events, queries::q20), q20);
}

#[test]
fn q8_finds_people_who_sold_in_the_window_they_registered() {
    let events = events(50_000);
    let window = |t: i64| t - t.rem_euclid(10_000);
    let mut registered = BTreeMap::new();
    let mut sold = std::collections::BTreeSet::new();
    for event in &events {
        match event {
            Event::Person(p) => {
                registered.insert((p.id, window(p.date_time)), p.name.clone());
            }
            Event::Auction(a) => {
                sold.insert((a.seller, window(a.date_time)));
            }
            Event::Bid(_) => {}
        }
    }
    let expected: BTreeMap<(u64, i64), String> = registered
        .into_iter()
        .filter(|(key, _)| sold.contains(key))
        .collect();
    assert!(!expected.is_empty());
    let found = run(&events, |s| queries::q8(s).unwrap());
    assert_eq!(found.len(), expected.len(), "each pair found once");
    assert_eq!(found.into_iter().collect::<BTreeMap<_, _>>(), expected);
}

#[test]
fn q11_counts_each_bidders_bids_per_session() {
    let events = events(60_000);
    // Each bidder's bid times in order, cut where two are more than 10 s apart.
    let mut times: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for bid in bids(&events) {
        times.entry(bid.bidder).or_default().push(bid.date_time);
    }
    let mut expected: Vec<(u64, (Window, u64))> = Vec::new();
    for (bidder, mut times) in times {
        times.sort_unstable();
        let mut start = 0;
        for i in 1..=times.len() {
            if i == times.len() || times[i] - times[i - 1] > 10_000 {
                let window = Window::new(times[start], times[i - 1] + 1);
                expected.push((bidder, (window, (i - start) as u64)));
                start = i;
            }
        }
    }
    let mut sessions = run(&events, |s| queries::q11(s).unwrap());
    assert!(sessions.iter().any(|(_, (_, bids))| *bids > 1));
    sessions.sort();
    expected.sort();
    assert_eq!(sessions, expected);
}
