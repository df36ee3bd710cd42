//! Routing pipeline without I/O: decode → route → validate → pack → serialize the request bodies,
//! for 1 KiB JSON messages with 4 targets each (IoT Analytics, IoT Events, SNS FIFO, MQTT), with
//! 1, 10, 100 and 1,000 routes in the table, with and without serializing the request bodies; the
//! same with 1,000 routes on one topic that differ by content pattern; the time to parse and
//! check those tables (the routing table's share of a cold start); and the floor: `serde_json`
//! parse + serialize of the same bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fanout::engine::{Engine, EngineConfig, Inbound, Plan};
use fanout::message::Message;
use fanout::routes::RoutingTable;
use fanout::sink::outbox::encode_line;
use fanout::validate::ContractLimits;
use serde_json::{Value, json};

const BATCH: usize = 100;

/// `routes - 1` routes that do not match (other sites), then the one that does.
fn table(routes: usize) -> String {
    let mut list: Vec<Value> = (1..routes)
        .map(|i| {
            json!({"name": format!("site{i}"), "match": {"topic": format!("site{i}/+/telemetry")},
                   "targets": [{"type": "mqtt", "topic": format!("site{i}/${{topic(2)}}")}]})
        })
        .collect();
    list.push(json!({
        "name": "plant",
        "match": {"topic": "plant/+/telemetry", "attributes": {"deviceId": [{"prefix": "sensor-"}]}},
        "targets": [
            {"type": "analytics", "channel": "telemetry_${topic(2)}"},
            {"type": "events", "input": "telemetry_input"},
            {"type": "sns", "topicArn": "arn:aws:sns:us-east-1:123456789012:bench.fifo", "groupId": "${attributes.deviceId}"},
            {"type": "mqtt", "topic": "out/${topic(2)}/${attributes.deviceId}", "qos": 1}
        ]
    }));
    json!({"routes": list}).to_string()
}

/// `routes - 1` routes on the same topic as the one that matches, each with a content pattern that
/// does not match (a numeric bound on one of the readings, an attribute prefix, or an
/// `anything-but`), then the one that does: every route's patterns are evaluated.
fn content_table(routes: usize) -> String {
    let mut list: Vec<Value> = (1..routes)
        .map(|i| {
            let matcher = match i % 3 {
                0 => json!({"payload": {format!("reading_{}", i % 12): [{"numeric": [">", 1000 + i]}]}}),
                1 => json!({"attributes": {"deviceId": [{"prefix": format!("pump-{i}")}]}}),
                _ => json!({"payload": {"note": [{"anything-but": {"prefix": "x"}}]}}),
            };
            let mut matcher = matcher.as_object().unwrap().clone();
            matcher.insert("topic".into(), json!("plant/+/telemetry"));
            json!({"name": format!("rule{i}"), "match": matcher,
                   "targets": [{"type": "mqtt", "topic": format!("rule{i}/${{topic(2)}}")}]})
        })
        .collect();
    let plant: Value = serde_json::from_str(&table(1)).unwrap();
    list.extend(plant["routes"].as_array().unwrap().iter().cloned());
    json!({"routes": list}).to_string()
}

/// 100 envelopes of exactly 1,024 bytes (numeric readings plus padding; field names IoT
/// Analytics accepts).
fn bodies() -> Vec<String> {
    (0..BATCH)
        .map(|i| {
            let make = |pad: usize| {
                let mut payload = serde_json::Map::new();
                for n in 0..12 {
                    payload.insert(format!("reading_{n}"), json!(20.5 + f64::from(n)));
                }
                payload.insert("note".into(), json!("x".repeat(pad)));
                json!({"id": format!("m-{i}"), "topic": format!("plant/line{}/telemetry", i % 4),
                       "attributes": {"deviceId": format!("sensor-{}", i % 50)}, "payload": payload})
                .to_string()
            };
            make(1024 - make(0).len())
        })
        .collect()
}

/// Decode, route, validate and pack: the engine's work up to the packed calls.
fn plan(engine: &Engine, bodies: &[String]) -> Plan {
    let inbound = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| Inbound::routed(i.to_string(), Message::decode(b, None)))
        .collect();
    engine.plan(inbound)
}

/// The plan, then every call's request body written as the outbox writes it.
fn pipeline(engine: &Engine, bodies: &[String]) -> usize {
    let plan = plan(engine, bodies);
    let mut bytes = 0;
    for lane in plan.lanes() {
        for call in &lane.calls {
            bytes += encode_line(call).unwrap().len();
        }
    }
    bytes
}

fn plan_only(engine: &Engine, bodies: &[String]) -> usize {
    plan(engine, bodies)
        .lanes()
        .iter()
        .map(|lane| lane.calls.len())
        .sum()
}

fn bench(c: &mut Criterion) {
    let bodies = bodies();
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("serde_json floor", |b| {
        b.iter(|| {
            let mut n = 0;
            for body in &bodies {
                let v: Value = serde_json::from_str(black_box(body)).unwrap();
                n += serde_json::to_vec(&v).unwrap().len();
            }
            n
        })
    });
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
