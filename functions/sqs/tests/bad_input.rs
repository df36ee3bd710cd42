//! The SQS function's bad-input corpus: records that can never be delivered are each reported
//! in `batchItemFailures` (or, when a record cannot be named, the whole batch fails), nothing is
//! sent, and a marker planted in payloads and attribute values never appears in a log line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

#[path = "../../../shared/tests/support/logs.rs"]
#[allow(dead_code, unreachable_pub)]
mod logs;

use fanout_sqs::SqsError;
use harness::{failures, run};
use serde_json::{Value, json};

const MARKER: &str = "MARKER-5ec7e7";

fn record(message_id: &str, body: Value) -> Value {
    json!({"messageId": message_id, "body": body, "eventSource": "aws:sqs", "attributes": {}})
}

fn envelope(envelope: Value) -> Value {
    Value::String(envelope.to_string())
}

#[tokio::test]
async fn every_bad_record_is_reported_without_logging_a_value() {
    let logs = logs::Logs::capture();
    let long_id = "x".repeat(257);
    let records = vec![
        // A messageId the id rule refuses does not stand in for the envelope's id.
        record(
            &long_id,
            envelope(json!({"attributes": {"note": MARKER}, "payload": MARKER})),
        ),
        record(
            "id\nwith a newline",
            envelope(json!({"attributes": {"note": MARKER}, "payload": MARKER})),
        ),
        record("r-3", Value::String(format!("{MARKER} is not JSON"))),
        record("r-4", envelope(json!([MARKER]))),
        record(
            "r-5",
            envelope(json!({"id": "x".repeat(257), "payload": MARKER})),
        ),
        record(
            "r-6",
            envelope(
                json!({"topic": "nowhere", "attributes": {"note": MARKER}, "payload": MARKER}),
            ),
        ),
        record(
            "r-7",
            envelope(
                json!({"topic": "plant1/line3/telemetry", "attributes": {"deviceId": "sensor-42", "note": MARKER}, "payload": {"bad-key": MARKER}}),
            ),
        ),
        record(
            "r-8",
            envelope(
                json!({"attributes": {"note": MARKER}, "payloadBase64": format!("{MARKER}!!")}),
            ),
        ),
        record(
            "r-9",
            envelope(json!({"timestamp": MARKER, "attributes": {"note": MARKER}, "payload": 1})),
        ),
        record("r-10", Value::Null),
    ];
    let ids: Vec<String> = records
        .iter()
        .map(|r| r["messageId"].as_str().unwrap().to_owned())
        .collect();
    let r = run(&json!({"Records": records}).to_string()).await;
    assert_eq!(failures(&r), ids, "every record is reported, in order");
    assert!(r.calls.is_empty(), "an invalid record was sent");
    let logged = logs.text();
    assert_eq!(
        logged.matches("message invalid").count(),
        ids.len(),
        "{logged}"
    );
    assert!(
        !logged.contains(MARKER),
        "a log line holds a value:\n{logged}"
    );
    assert!(
        !logged.contains("xxxxxxxxxx"),
        "an invalid messageId is logged:\n{logged}"
    );
    assert!(logged.contains("source_id=record 0") && logged.contains("source_id=record 1"));
}

#[tokio::test]
async fn a_record_without_any_id_fails_the_batch() {
    let logs = logs::Logs::capture();
    for message_id in [json!(""), Value::Null] {
        let event = json!({"Records": [
            record("r-1", envelope(json!({"id": "ok", "topic": "plant1/line3/config", "attributes": {"deviceId": "sensor-42"}, "payload": {"state": {}}}))),
            {"messageId": message_id, "body": envelope(json!({"attributes": {"note": MARKER}, "payload": MARKER})), "attributes": {}},
        ]});
        let r = run(&event.to_string()).await;
        assert_eq!(
            r.response.unwrap_err(),
            SqsError::Unreportable {
                source_id: "record 1".to_owned()
            }
        );
    }
    let logged = logs.text();
    for reason in [
        "field `id`: is required",
        "field `id`: is absent, and the trigger's id that stands in for it must not be empty",
    ] {
        assert!(
            logged.contains(reason),
            "the record is invalid for want of an id: {logged}"
        );
    }
    assert!(
        !logged.contains(MARKER),
        "a log line holds a value:\n{logged}"
    );
}
