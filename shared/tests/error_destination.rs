//! The error destination with fake sinks: invalid messages (and, on request, permanently failed
//! ones) reach the table's `errors` target once, as a record with their reason, and are then
//! acknowledged; when the error destination fails, they go back to the trigger as before.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Mutex;
use std::time::Duration;

use fanout::destination::Destination;
use fanout::engine::{Engine, EngineConfig, Inbound};
use fanout::message::Message;
use fanout::outcome::Status;
use fanout::routes::RoutingTable;
use fanout::sink::{Call, CallError, CallReport, EntryFailure, ErrorClass, Sink, Sinks};
use fanout::validate::ContractLimits;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::time::Instant;

const ERRORS_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:fanout-errors";
const AUDIT_ERRORS: &str = "arn:aws:sns:us-east-1:123456789012:audit-errors";

/// Records every call; refuses entries to `refuse` for good, and fails calls to `down`.
#[derive(Debug, Default)]
struct Fake {
    calls: Mutex<Vec<(Destination, Vec<Vec<u8>>)>>,
    refuse: Option<String>,
    down: Option<String>,
}

impl Sink for Fake {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(async move {
            self.calls.lock().unwrap().push((
                call.destination.clone(),
                call.entries.iter().map(|e| e.payload.to_vec()).collect(),
            ));
            let name = call.destination.name();
            if self.down.as_deref() == Some(name) {
                return Err(CallError::new(
                    ErrorClass::Transient,
                    "InternalError",
                    "down",
                ));
            }
            if self.refuse.as_deref() == Some(name) {
                return Ok(CallReport {
                    failed: (0..call.entries.len())
                        .map(|index| EntryFailure {
                            index,
                            code: "AuthorizationError".into(),
                            reason: "access denied".into(),
                            retryable: false,
                        })
                        .collect(),
                });
            }
            Ok(CallReport::default())
        })
    }
}

impl Fake {
    fn records_to(&self, topic: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(d, _)| d.name() == topic)
            .flat_map(|(_, bodies)| bodies.iter().map(|b| serde_json::from_slice(b).unwrap()))
            .collect()
    }
}

fn table(extra: Value) -> RoutingTable {
    let mut t = json!({
        "routes": [
            {"name": "telemetry", "match": {"topic": "plant1/#"}, "targets": [
                {"type": "mqtt", "topic": "dash/${attributes.deviceId}"},
                {"type": "sns", "topicArn": "arn:aws:sns:us-east-1:123456789012:alerts"}
            ]},
            {"name": "audit", "match": {"topic": "audit/#"}, "errors": {"type": "sns", "topicArn": AUDIT_ERRORS},
             "targets": [{"type": "sns", "topicArn": "arn:aws:sns:us-east-1:123456789012:audit"}]}
        ],
        "errors": {"type": "sns", "topicArn": ERRORS_TOPIC}
    });
    if let (Some(t), Some(extra)) = (t.as_object_mut(), extra.as_object()) {
        t.extend(extra.clone());
    }
    RoutingTable::from_json(&t.to_string(), &ContractLimits::default()).unwrap()
}

fn inbound(source: &str, body: &str) -> Inbound {
    Inbound {
        original: Some(body.to_owned()),
        ..Inbound::routed(source.to_owned(), Message::decode(body, Some(source)))
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

#[tokio::test]
async fn invalid_messages_reach_the_error_destination_with_their_reason_and_are_acknowledged() {
    let sink = std::sync::Arc::new(Fake::default());
    let engine = Engine::new(table(json!({})), EngineConfig::default());
    let batch = vec![
        inbound(
            "good",
            r#"{"topic": "plant1/a", "attributes": {"deviceId": "d-1"}, "payload": 1}"#,
        ),
        inbound("not-json", "hello, world"),
        inbound(
            "bad-value",
            r#"{"topic": "plant1/a", "attributes": {"deviceId": "a/b"}, "payload": 2}"#,
        ),
        inbound("unroutable", r#"{"topic": "elsewhere", "payload": 3}"#),
        inbound(
            "audit-bad",
            r#"{"topic": "audit/x", "payload": 4, "payloadBase64": "AA=="}"#,
        ),
    ];
    let report = engine
        .run_with(
            &engine.routes(),
            batch,
            &Sinks::all(sink.clone()),
            deadline(),
            "req-1",
        )
        .await;
    let statuses: Vec<(Status, bool)> = report
        .outcomes
        .iter()
        .map(|o| (o.status, o.is_acknowledged()))
        .collect();
    assert_eq!(
        statuses,
        [
            (Status::Delivered, true),
            (Status::Invalid, true),
            (Status::Invalid, true),
            (Status::Invalid, true),
            (Status::Invalid, true),
        ]
    );
    assert_eq!(
        (report.summary.errors_routed, report.summary.errors_failed),
        (4, 0)
    );
    let records = sink.records_to(ERRORS_TOPIC);
    assert_eq!(records.len(), 4, "{records:?}");
    let by_source = |s: &str| records.iter().find(|r| r["sourceId"] == s).unwrap().clone();

    let r = by_source("not-json");
    assert_eq!(r["fanoutError"], 1);
    assert_eq!(r["originalText"], "hello, world");
    assert!(r.get("original").is_none());
    assert_eq!(
        (r["function"].as_str(), r["requestId"].as_str()),
        (Some("local"), Some("req-1"))
    );
    assert!(r["rule"].as_str().unwrap().contains("not valid JSON"));
    assert_eq!(r["retryable"], false);
    assert_eq!(r["status"], "invalid");
    assert!(r["time"].as_str().unwrap().ends_with('Z'));

    let r = by_source("bad-value");
    assert_eq!(
        r["original"]["attributes"]["deviceId"], "a/b",
        "the envelope as received"
    );
    assert_eq!(r["route"], "telemetry");
    assert_eq!(r["target"], "route \"telemetry\" target 1 (mqtt)");
    assert!(r["rule"].as_str().unwrap().contains("may not add levels"));

    let r = by_source("unroutable");
    assert!(r["rule"].as_str().unwrap().contains("no route matches"));

    // A route's own error destination wins over the table's. (This envelope names no route, so
    // the table's takes it: it is refused before routing.)
    assert_eq!(sink.records_to(AUDIT_ERRORS).len(), 0);
    assert_eq!(
        report.outcomes[4].error_destination.as_deref(),
        Some(format!("sns:{ERRORS_TOPIC}").as_str())
    );
}

#[tokio::test]
async fn a_route_can_send_its_refusals_to_its_own_error_destination() {
    let sink = std::sync::Arc::new(Fake::default());
    let engine = Engine::new(table(json!({})), EngineConfig::default());
    // SNS refuses an empty body: the audit route's target refuses the message.
    let batch = vec![inbound(
        "audit-empty",
        r#"{"topic": "audit/x", "payloadBase64": ""}"#,
    )];
    let report = engine
        .run(batch, &Sinks::all(sink.clone()), deadline())
        .await;
    assert_eq!(report.outcomes[0].status, Status::Invalid);
    let records = sink.records_to(AUDIT_ERRORS);
    assert_eq!(records.len(), 1, "{:?}", report.outcomes[0]);
    assert_eq!(records[0]["route"], "audit");
}

#[tokio::test]
async fn when_the_error_destination_fails_the_message_goes_back_to_its_trigger() {
    let sink = std::sync::Arc::new(Fake {
        down: Some(ERRORS_TOPIC.to_owned()),
        ..Fake::default()
    });
    let engine = Engine::new(
        table(json!({})),
        EngineConfig {
            retry: fanout::dispatch::RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
            },
            ..EngineConfig::default()
        },
    );
    let report = engine
        .run(
            vec![inbound("not-json", "{")],
            &Sinks::all(sink.clone()),
            deadline(),
        )
        .await;
    assert_eq!(report.outcomes[0].status, Status::Invalid);
    assert!(!report.outcomes[0].is_acknowledged());
    assert_eq!(report.outcomes[0].error_destination, None);
    assert_eq!(
        (report.summary.errors_routed, report.summary.errors_failed),
        (0, 1)
    );
}

#[tokio::test]
async fn permanent_failures_follow_the_on_failure_policy() {
    let alerts = "arn:aws:sns:us-east-1:123456789012:alerts";
    let body = r#"{"topic": "plant1/a", "attributes": {"deviceId": "d-1"}, "payload": 1}"#;
    for (policy, acknowledged) in [("retry", false), ("errors", true)] {
        let sink = std::sync::Arc::new(Fake {
            refuse: Some(alerts.to_owned()),
            ..Fake::default()
        });
        let engine = Engine::new(table(json!({"onFailure": policy})), EngineConfig::default());
        let report = engine
            .run(
                vec![inbound("m", body)],
                &Sinks::all(sink.clone()),
                deadline(),
            )
            .await;
        let o = &report.outcomes[0];
        assert_eq!((o.status, o.retryable), (Status::Failed, false));
        assert_eq!(o.is_acknowledged(), acknowledged, "{policy}");
        let records = sink.records_to(ERRORS_TOPIC);
        assert_eq!(records.len(), usize::from(acknowledged), "{policy}");
        if acknowledged {
            assert_eq!(records[0]["status"], "failed");
            assert_eq!(records[0]["route"], "telemetry");
            assert!(
                records[0]["rule"]
                    .as_str()
                    .unwrap()
                    .contains("access denied")
            );
        }
    }
}

#[tokio::test]
async fn without_an_errors_target_the_deployments_error_queue_takes_the_records() {
    let queue = "https://sqs.us-east-1.amazonaws.com/123456789012/fanout-errors";
    let table = RoutingTable::from_json(
        r#"{"routes": [{"name": "r", "match": {"topic": "t"}, "targets": [{"type": "mqtt", "topic": "out"}]}]}"#,
        &ContractLimits::default(),
    )
    .unwrap();
    let default_errors = fanout::routes::error_destination(
        "FANOUT_ERRORS_QUEUE_URL",
        &json!({"type": "sqs", "queueUrl": queue}),
        &ContractLimits::default(),
    )
    .unwrap();
    let engine = Engine::new(
        table,
        EngineConfig {
            default_errors: Some(default_errors),
            ..EngineConfig::default()
        },
    );
    assert!(engine.has_error_destination(&engine.routes().table));
    let sink = std::sync::Arc::new(Fake::default());
    let report = engine
        .run(
            vec![inbound("x", "not json")],
            &Sinks::all(sink.clone()),
            deadline(),
        )
        .await;
    assert!(report.outcomes[0].is_acknowledged());
    assert_eq!(sink.records_to(queue).len(), 1);
}

#[test]
fn error_settings_are_checked_when_the_table_loads() {
    let load = |t: Value| RoutingTable::from_json(&t.to_string(), &ContractLimits::default());
    let route = json!({"name": "r", "targets": [{"type": "mqtt", "topic": "a"}]});
    let err = load(json!({"routes": [route], "onFailure": "errors"})).unwrap_err();
    assert!(err.to_string().contains("no `errors` target"), "{err}");
    let err = load(json!({"routes": [route], "onFailure": "later"})).unwrap_err();
    assert!(err.to_string().contains("\"retry\" or \"errors\""), "{err}");
    let err = load(json!({"routes": [route], "errors": {"type": "mqtt", "topic": "e/${id}"}}))
        .unwrap_err();
    assert!(err.to_string().contains("must not use"), "{err}");
    let err = load(json!({"routes": [route], "errors": {"type": "sns", "topicArn": "nope"}}))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("errors (sns) field \"topicArn\""),
        "{err}"
    );
}
