//! Nexmark queries in process, single-threaded: events generated and pushed through the
//! topology one at a time, generation included. Throughput is events in per second.

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use runnel_streams::nexmark::{queries, Event, Generator, GeneratorConfig, SplitMix64};
use runnel_streams::{Record, Stream, StreamsError, TopologyBuilder};

/// Events per iteration: 100 s of event time at 10,000 events/s, enough for the 10 s
/// windows of q5 and q7 to open and close many times.
const EVENTS: u64 = 1_000_000;

type Query = fn(&Stream<(), Event>) -> Result<Rc<Cell<u64>>, StreamsError>;

fn counted<K: Clone + 'static, V: Clone + 'static>(stream: Stream<K, V>) -> Rc<Cell<u64>> {
    let outputs = Rc::new(Cell::new(0));
    let counter = outputs.clone();
    stream.for_each(move |r| {
        black_box(r);
        counter.set(counter.get() + 1);
    });
    outputs
}

fn run(query: Query) -> Result<Duration, StreamsError> {
    let mut builder = TopologyBuilder::new();
    let (input, events) = builder.source::<(), Event>();
    let outputs = query(&events)?;
    let mut topology = builder.build(0, i64::MAX)?;
    let generator = Generator::new(GeneratorConfig::default(), SplitMix64::new(1));
    let started = Instant::now();
    for event in generator.take(EVENTS as usize) {
        let t = event.date_time();
        topology.push(&input, Record::new((), event, t, 0), t)?;
    }
    topology.finish()?;
    let elapsed = started.elapsed();
    black_box(outputs.get());
    Ok(elapsed)
}

fn nexmark(c: &mut Criterion) {
    let mut group = c.benchmark_group("nexmark");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    let all: [(&str, Query); 10] = [
        ("generator", |_| Ok(Rc::new(Cell::new(0)))),
        ("q0", |s| Ok(counted(queries::q0(s)))),
        ("q1", |s| Ok(counted(queries::q1(s)))),
        ("q2", |s| Ok(counted(queries::q2(s)))),
        ("q5", |s| Ok(counted(queries::q5(s)?))),
        ("q7", |s| Ok(counted(queries::q7(s)?))),
        ("q3", |s| Ok(counted(queries::q3(s)))),
        ("q20", |s| Ok(counted(queries::q20(s)))),
        ("q8", |s| Ok(counted(queries::q8(s)?))),
        ("q11", |s| Ok(counted(queries::q11(s)?))),
    ];
    for (name, query) in all {
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                (0..iterations)
                    .map(|_| run(query).unwrap_or_else(|e| panic!("{name}: {e}")))
                    .sum()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, nexmark);
criterion_main!(benches);
