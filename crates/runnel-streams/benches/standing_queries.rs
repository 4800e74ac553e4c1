//! Standing search queries: events matched against 10,000 stored queries, through the
//! index and, for comparison, by evaluating every query on every event. Throughput is
//! events per second, on one thread.
//!
//! The queries: 60 % a word of the title and a price range (`all`), 25 % one of two words
//! (`any`), 14 % a country and a word, 1 % a negation (checked against every event). Words
//! come from a vocabulary of 5,000; an event's title has 8 of them.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use runnel_streams::nexmark::{RandomSource, SplitMix64};
use runnel_streams::search::{Query, QueryIndex};
use serde_json::{json, Value};

const QUERIES: usize = 10_000;
const EVENTS: usize = 1_000;
const VOCABULARY: u64 = 5_000;
const COUNTRIES: [&str; 5] = ["FR", "DE", "US", "JP", "BR"];

fn word(random: &mut SplitMix64) -> String {
    format!("w{}", random.next_u64() % VOCABULARY)
}

fn term(word: String) -> Query {
    Query::Term {
        field: "title".into(),
        term: word,
    }
}

fn query(random: &mut SplitMix64) -> Query {
    let low = (random.next_u64() % 100) as f64;
    match random.next_u64() % 100 {
        0..60 => Query::All(vec![
            term(word(random)),
            Query::Range {
                field: "price".into(),
                gt: None,
                gte: Some(low),
                lt: Some(low + 20.0),
                lte: None,
            },
        ]),
        60..85 => Query::Any(vec![term(word(random)), term(word(random))]),
        85..99 => Query::All(vec![
            Query::Equals {
                field: "country".into(),
                value: COUNTRIES[(random.next_u64() % 5) as usize].into(),
            },
            term(word(random)),
        ]),
        _ => Query::Not(Box::new(term(word(random)))),
    }
}

fn event(random: &mut SplitMix64) -> Value {
    let title: Vec<String> = (0..8).map(|_| word(random)).collect();
    json!({
        "title": title.join(" "),
        "price": random.next_u64() % 120,
        "country": COUNTRIES[(random.next_u64() % 5) as usize],
    })
}

fn standing_queries(c: &mut Criterion) {
    let mut random = SplitMix64::new(7);
    let queries: Vec<(String, Query)> = (0..QUERIES)
        .map(|i| (format!("q{i}"), query(&mut random)))
        .collect();
    let events: Vec<Value> = (0..EVENTS).map(|_| event(&mut random)).collect();
    let mut index = QueryIndex::new();
    for (id, query) in &queries {
        index.insert(id, query.clone());
    }
    // Both ways find the same matches.
    let indexed: usize = events.iter().map(|e| index.matching(e).len()).sum();
    let direct: usize = events
        .iter()
        .map(|e| queries.iter().filter(|(_, q)| q.matches(e)).count())
        .sum();
    assert_eq!(indexed, direct);

    let mut group = c.benchmark_group("standing_queries_10k");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(10);
    group.bench_function("indexed", |b| {
        b.iter(|| {
            for event in &events {
                black_box(index.matching(event));
            }
        })
    });
    group.bench_function("every_query", |b| {
        b.iter(|| {
            for event in &events {
                let hits: Vec<&str> = queries
                    .iter()
                    .filter(|(_, q)| q.matches(event))
                    .map(|(id, _)| id.as_str())
                    .collect();
                black_box(hits);
            }
        })
    });
    group.bench_function("insert_and_remove", |b| {
        b.iter(|| {
            for (id, query) in queries.iter().take(1_000) {
                index.remove(id);
                index.insert(id, query.clone());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, standing_queries);
criterion_main!(benches);
