//! What the pipeline benchmarks share: the routing tables, the 100 envelopes of 1 KiB and the
//! work measured (plan, and plan plus every call's request body), so the criterion benchmark and
//! the side-by-side comparison with the Python peer measure the same thing.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use fanout::engine::{Engine, Inbound, Plan};
use fanout::message::Message;
use fanout::sink::outbox::encode_line;
use serde_json::{Value, json};

pub const BATCH: usize = 100;

/// `routes - 1` routes that do not match (other sites), then the one that does.
pub fn table(routes: usize) -> String {
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
pub fn content_table(routes: usize) -> String {
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
pub fn bodies() -> Vec<String> {
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
pub fn plan(engine: &Engine, bodies: &[String]) -> Plan {
    let inbound = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| Inbound::routed(i.to_string(), Message::decode(b, None)))
        .collect();
    engine.plan(inbound)
}

/// The plan, then every call's request body written as the outbox writes it.
pub fn pipeline(engine: &Engine, bodies: &[String]) -> usize {
    let plan = plan(engine, bodies);
    let mut bytes = 0;
    for lane in plan.lanes() {
        for call in &lane.calls {
            bytes += encode_line(call).len();
        }
    }
    bytes
}

pub fn plan_only(engine: &Engine, bodies: &[String]) -> usize {
    plan(engine, bodies)
        .lanes()
        .iter()
        .map(|lane| lane.calls.len())
        .sum()
}

/// The floor: `serde_json` parses each body into a `Value` and writes it back once.
pub fn floor(bodies: &[String]) -> usize {
    let mut n = 0;
    for body in bodies {
        let v: Value = serde_json::from_str(std::hint::black_box(body)).unwrap();
        n += serde_json::to_vec(&v).unwrap().len();
    }
    n
}

/// Every call's outbox line, in plan order: what the Python peer compares byte for byte.
pub fn lines(engine: &Engine, bodies: &[String]) -> Vec<String> {
    plan(engine, bodies)
        .lanes()
        .iter()
        .flat_map(|lane| lane.calls.iter())
        .map(|call| String::from_utf8(encode_line(call)).unwrap())
        .collect()
}
