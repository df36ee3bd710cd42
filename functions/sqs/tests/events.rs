//! The SQS function on every sample event in `events/`, through the local outbox.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

use harness::{Run, failures, run};
use serde_json::Value;

fn destinations(run: &Run) -> Vec<(&str, &str)> {
    let mut d: Vec<(&str, &str)> = run
        .calls
        .iter()
        .map(|(k, d, _)| (k.as_str(), d.as_str()))
        .collect();
    d.sort_unstable();
    d
}

#[tokio::test]
async fn telemetry_event_reaches_every_destination_kind() {
    let run = run(include_str!("../../../events/sqs-telemetry.json")).await;
    assert_eq!(failures(&run), Vec::<&str>::new());
    assert_eq!(
        destinations(&run),
        vec![
            ("analytics", "telemetry_line3"),
            ("analytics", "telemetry_line4"),
            ("eventbridge", "fanout-alarms"),
            ("events", "overheat_detector"),
            ("firehose", "fanout-telemetry"),
            ("fleet", "/a1BwAGV/gateway-1/user/command"),
            ("fleet", "/a1BwAGV/pump-3/user/command"),
            ("kinesis", "fanout-events"),
            ("mqtt", "dashboards/plant1/line3/sensor-42"),
            ("mqtt", "dashboards/plant1/line4/sensor-7"),
            ("shadow", "pump-3"),
            ("sns", "arn:aws:sns:us-east-1:123456789012:fanout-alerts"),
            (
                "sns",
                "arn:aws:sns:us-east-1:123456789012:fanout-audit.fifo"
            ),
            (
                "sqs",
                "https://sqs.us-east-1.amazonaws.com/123456789012/fanout-alarms.fifo"
            ),
        ]
    );
    let find = |dest: &str| &run.calls.iter().find(|(_, d, _)| d == dest).unwrap().2;

    // The record without an envelope id is named by its SQS messageId, deterministically.
    let line4 = &find("telemetry_line4")["messages"][0];
    assert!(
        line4["messageId"]
            .as_str()
            .unwrap()
            .starts_with("0f6b2d5e-0002-4a5e-9c1d-000000000002-")
    );
    assert_eq!(line4["payload"], "eyJ0ZW1wIjogMjEuMH0="); // {"temp": 21.0}, the bytes as sent

    let alert =
        &find("arn:aws:sns:us-east-1:123456789012:fanout-alerts")["PublishBatchRequestEntries"][0];
    assert_eq!(alert["Subject"], "Overheat on sensor-42");
    assert_eq!(alert["MessageAttributes"][0]["Value"], "sensor-42");
    assert!(
        alert.get("MessageDeduplicationId").is_none(),
        "standard topic: no dedup id"
    );

    let audit = &find("arn:aws:sns:us-east-1:123456789012:fanout-audit.fifo")["PublishBatchRequestEntries"]
        [0];
    assert_eq!(audit["MessageGroupId"], "sensor-7");
    assert!(audit["MessageDeduplicationId"].as_str().unwrap().len() <= 64);

    let events = &find("overheat_detector")["messages"][0];
    assert_eq!(events["timestamp"]["timeInMillis"], 1_732_270_000_000_i64);
    assert!(events["messageId"].as_str().unwrap().starts_with("m-0001-"));

    let fleet = find("/a1BwAGV/pump-3/user/command");
    assert_eq!(fleet["qos"], 1);
    assert_eq!(fleet["body"], "start");

    let shadow = find("pump-3");
    assert_eq!(shadow["shadowName"], "config");
    assert_eq!(shadow["body"], r#"{"state": {"desired": {"rpm": 1200}}}"#);

    // The telemetry archive: newline-delimited JSON into Firehose, and the ordered stream keyed
    // by device, where the two devices' records share one call.
    let archive = &find("fanout-telemetry")["Records"];
    assert_eq!(archive.as_array().unwrap().len(), 2);
    assert_eq!(archive[1]["Data"], "eyJ0ZW1wIjogMjEuMH0K"); // {"temp": 21.0}\n
    let stream = &find("fanout-events")["Records"];
    assert_eq!(stream[0]["PartitionKey"], "sensor-42");
    assert_eq!(stream[1]["PartitionKey"], "sensor-7");

    // The alarm: an event whose Detail is the message envelope, and a FIFO queue message
    // grouped by device with a deterministic deduplication id.
    let event = &find("fanout-alarms")["Entries"][0];
    assert_eq!(event["Source"], "iot.fanout");
    assert_eq!(event["Time"], 1_732_270_005_000_i64);
    let detail: Value = serde_json::from_str(event["Detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["id"], "m-0005");
    assert_eq!(detail["payload"]["alarm"], "vibration");
    let queued =
        &find("https://sqs.us-east-1.amazonaws.com/123456789012/fanout-alarms.fifo")["Entries"][0];
    assert_eq!(queued["MessageGroupId"], "pump-3");
    assert!(
        queued["MessageDeduplicationId"]
            .as_str()
            .unwrap()
            .starts_with("m-0005-")
    );
}

#[tokio::test]
async fn fifo_event_stops_a_group_at_its_first_failure() {
    let run = run(include_str!("../../../events/sqs-fifo.json")).await;
    // b-1 has no payload (invalid); b-2 is in the same message group, so it is not sent.
    assert_eq!(
        failures(&run),
        vec![
            "5a1c7e90-0003-4d3b-8f00-000000000003",
            "5a1c7e90-0004-4d3b-8f00-000000000004"
        ]
    );
    let sent: Vec<String> = run
        .calls
        .iter()
        .flat_map(|(_, _, req)| {
            req["PublishBatchRequestEntries"]
                .as_array()
                .unwrap()
                .clone()
        })
        .map(|e| e["Message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        sent,
        vec![r#"{"event": "door_open"}"#, r#"{"event": "door_closed"}"#],
        "group sensor-42 delivered in order; nothing of group sensor-7"
    );
}

#[tokio::test]
async fn invalid_records_are_reported_and_the_rest_delivered() {
    let run = run(include_str!("../../../events/sqs-invalid.json")).await;
    assert_eq!(
        failures(&run),
        vec![
            "9e3f1a22-0001-4b6c-a7d0-000000000001",
            "9e3f1a22-0002-4b6c-a7d0-000000000002",
            "9e3f1a22-0003-4b6c-a7d0-000000000003",
            "9e3f1a22-0004-4b6c-a7d0-000000000004",
        ]
    );
    assert_eq!(
        destinations(&run),
        vec![
            ("analytics", "telemetry_line9"),
            ("firehose", "fanout-telemetry"),
            ("kinesis", "fanout-events"),
            ("mqtt", "dashboards/plant1/line9/sensor-9")
        ]
    );
}
