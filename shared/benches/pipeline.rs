//! Routing pipeline without I/O: decode → route → validate → pack → serialize the request bodies,
//! for 1 KiB JSON messages with 4 targets each (IoT Analytics, IoT Events, SNS FIFO, MQTT), with
//! 1, 10, 100 and 1,000 routes in the table, with and without serializing the request bodies; the
//! same with 1,000 routes on one topic that differ by content pattern; the time to parse and
//! check those tables (the routing table's share of a cold start); and the floor: `serde_json`
//! parse + serialize of the same bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;

mod common;

use common::{BATCH, bodies, content_table, floor, pipeline, plan, plan_only, table};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fanout::engine::{Engine, EngineConfig};
use fanout::routes::RoutingTable;
use fanout::validate::ContractLimits;

fn bench(c: &mut Criterion) {
    let bodies = bodies();
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("serde_json floor", |b| b.iter(|| floor(black_box(&bodies))));
    let cases = [1, 10, 100, 1000]
        .map(|n| (n, "routes", "plan only", table(n)))
        .into_iter()
        .chain([(
            1000,
            "content routes",
            "content plan only",
            content_table(1000),
        )]);
    for (routes, name, plan_name, text) in cases {
        let table = RoutingTable::from_json(&text, &ContractLimits::default()).unwrap();
        let engine = Engine::new(table, EngineConfig::default());
        // Every message must reach its four targets, or the figure measures the wrong thing.
        let view = plan(&engine, &bodies).view();
        assert!(
            view.messages.iter().all(|m| m.targets.len() == 4),
            "{:?}",
            view.messages.first()
        );
        group.bench_with_input(BenchmarkId::new(name, routes), &engine, |b, engine| {
            b.iter(|| pipeline(engine, black_box(&bodies)))
        });
        // The same without writing the request bodies: what the engine does before the SDK (or
        // the outbox) serializes them.
        group.bench_with_input(BenchmarkId::new(plan_name, routes), &engine, |b, engine| {
            b.iter(|| plan_only(engine, black_box(&bodies)))
        });
    }
    group.finish();

    // Parsing and checking the table, as a function does once at cold start.
    let mut cold = c.benchmark_group("table");
    for (name, text) in [
        ("parse and check/100", table(100)),
        ("parse and check/1000", table(1000)),
        ("parse and check content/1000", content_table(1000)),
    ] {
        cold.bench_function(name, |b| {
            b.iter(|| {
                RoutingTable::from_json(black_box(&text), &ContractLimits::default()).unwrap()
            })
        });
    }
    cold.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
