//! The engine end to end with fake sinks: routing, packing, retries and outcomes per message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fanout::destination::Kind;
use fanout::dispatch::RetryPolicy;
use fanout::engine::{Engine, EngineConfig, Inbound};
use fanout::message::Message;
use fanout::outcome::{Status, TargetStatus};
use fanout::routes::RoutingTable;
use fanout::sink::{Call, CallError, CallReport, EntryFailure, ErrorClass, Sink, Sinks};
use fanout::validate::ContractLimits;
use futures::future::BoxFuture;
use tokio::time::Instant;

const TABLE: &str = r#"{
  "routes": [
    {"name": "all", "match": {"topic": "t/#"}, "targets": [
      {"type": "analytics", "channel": "ch"},
      {"type": "sns", "topicArn": "arn:aws:sns:us-east-1:123456789012:std"}
    ]},
    {"name": "audit", "match": {"attributes": {"audit": [true]}}, "targets": [
      {"type": "sns", "topicArn": "arn:aws:sns:us-east-1:123456789012:audit.fifo", "groupId": "${attributes.device}"}
    ]}
  ],
  "default": {"action": "drop"}
}"#;

/// What the fake does with an entry, chosen by the entry's message id prefix and call number.
type Rule = dyn Fn(&str, Kind, usize) -> Option<(bool, &'static str)> + Send + Sync;

struct Fake {
    rule: Box<Rule>,
    /// (kind, message ids) per call, in call order.
    calls: Mutex<Vec<(Kind, Vec<String>)>>,
    call_error: Option<ErrorClass>,
}

impl std::fmt::Debug for Fake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fake")
    }
}

impl Sink for Fake {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(async move {
            let n = {
                let mut calls = self.calls.lock().unwrap();
                calls.push((
                    call.destination.kind(),
                    call.entries.iter().map(|e| e.id.clone()).collect(),
                ));
                calls.len()
            };
            if let Some(class) = self.call_error {
                return Err(CallError::new(class, "Boom", "the whole call failed"));
            }
            let failed = call
                .entries
                .iter()
                .enumerate()
                .filter_map(|(index, e)| {
                    (self.rule)(&e.id, call.destination.kind(), n).map(|(retryable, code)| {
                        EntryFailure {
                            index,
                            code: code.into(),
                            reason: "refused".into(),
                            retryable,
                        }
                    })
                })
                .collect();
            Ok(CallReport { failed })
        })
    }
}

fn fake(
    rule: impl Fn(&str, Kind, usize) -> Option<(bool, &'static str)> + Send + Sync + 'static,
) -> Arc<Fake> {
    Arc::new(Fake {
        rule: Box::new(rule),
        calls: Mutex::new(Vec::new()),
        call_error: None,
    })
}

fn engine() -> Engine {
    Engine::new(
        RoutingTable::from_json(TABLE, &ContractLimits::default()).unwrap(),
        EngineConfig {
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
            },
            ..EngineConfig::default()
        },
    )
}

fn inbound(id: &str, body: &str) -> Inbound {
    Inbound::routed(format!("src-{id}"), Message::decode(body, Some(id)))
}

fn telemetry(n: usize) -> Vec<Inbound> {
    (0..n)
        .map(|i| inbound(&format!("m{i}"), r#"{"topic": "t/a", "payload": {"v": 1}}"#))
        .collect()
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

#[tokio::test]
async fn fifteen_messages_become_one_analytics_call_and_two_sns_calls() {
    let sink = fake(|_, _, _| None);
    let report = engine()
        .run(telemetry(15), &Sinks::all(sink.clone()), deadline())
        .await;
    assert_eq!(report.summary.delivered, 15);
    let calls = sink.calls.lock().unwrap();
    let count = |k: Kind| calls.iter().filter(|(kind, _)| *kind == k).count();
    assert_eq!(
        count(Kind::Analytics),
        1,
        "IoT Analytics takes 100 per call"
    );
    assert_eq!(count(Kind::Sns), 2, "SNS PublishBatch takes 10 per call");
    assert_eq!(report.calls, 3);
    assert!(report.outcomes.iter().all(|o| {
        o.targets.len() == 2
            && o.targets
                .iter()
                .all(|t| t.status == TargetStatus::Delivered)
    }));
}

#[tokio::test]
async fn a_permanent_failure_at_one_target_fails_only_that_message() {
    let sink = fake(|id, kind, _| {
        (id.starts_with("m3-") && kind == Kind::Sns).then_some((false, "InvalidParameter"))
    });
    let report = engine()
        .run(telemetry(5), &Sinks::all(sink.clone()), deadline())
        .await;
    let statuses: Vec<Status> = report.outcomes.iter().map(|o| o.status).collect();
    assert_eq!(
        statuses,
        vec![
            Status::Delivered,
            Status::Delivered,
            Status::Delivered,
            Status::Failed,
            Status::Delivered
        ]
    );
    let failed = &report.outcomes[3];
    assert!(!failed.retryable);
    assert_eq!(failed.source_id, "src-m3");
    let sns = failed
        .targets
        .iter()
        .find(|t| t.destination.kind() == Kind::Sns)
        .unwrap();
    assert_eq!(sns.status, TargetStatus::Failed);
    assert_eq!(sns.code.as_deref(), Some("InvalidParameter"));
    assert!(
        failed
            .error
            .as_deref()
            .unwrap()
            .contains("sns:arn:aws:sns:us-east-1:123456789012:std")
    );
    // Not retried: one SNS call only.
    assert_eq!(
        sink.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k == Kind::Sns)
            .count(),
        1
    );
}

#[tokio::test]
async fn a_retryable_entry_failure_is_resent_alone_and_delivered() {
    let sink = fake(|id, kind, n| {
        (id.starts_with("m1-") && kind == Kind::Analytics && n <= 2)
            .then_some((true, "InternalFailureException"))
    });
    let report = engine()
        .run(telemetry(3), &Sinks::all(sink.clone()), deadline())
        .await;
    assert_eq!(report.summary.delivered, 3, "{:?}", report.outcomes);
    let t = &report.outcomes[1].targets[0];
    assert_eq!(t.destination.kind(), Kind::Analytics);
    assert!(t.attempts >= 2);
    let calls = sink.calls.lock().unwrap();
    let analytics: Vec<&Vec<String>> = calls
        .iter()
        .filter(|(k, _)| *k == Kind::Analytics)
        .map(|(_, ids)| ids)
        .collect();
    assert_eq!(analytics[0].len(), 3);
    assert!(
        analytics[1..]
            .iter()
            .all(|ids| ids.len() == 1 && ids[0].starts_with("m1-"))
    );
    assert!(report.retries >= 1);
}

#[tokio::test]
async fn a_throttled_destination_is_reported_failed_and_retryable() {
    let sink = Arc::new(Fake {
        rule: Box::new(|_, _, _| None),
        calls: Mutex::new(Vec::new()),
        call_error: Some(ErrorClass::Throttled),
    });
    let report = engine()
        .run(telemetry(2), &Sinks::all(sink.clone()), deadline())
        .await;
    assert!(
        report
            .outcomes
            .iter()
            .all(|o| o.status == Status::Failed && o.retryable)
    );
    // 2 destinations × 3 attempts.
    assert_eq!(sink.calls.lock().unwrap().len(), 6);
    assert_eq!(report.throttles, 6);
}

#[tokio::test]
async fn invalid_messages_never_reach_a_sink() {
    let sink = fake(|_, _, _| None);
    let batch = vec![
        inbound("ok", r#"{"topic": "t/a", "payload": {"v": 1}}"#),
        inbound("bad-json", "{"),
        // IoT Analytics refuses the field name `temp-01`: invalid for every target.
        inbound(
            "bad-field",
            r#"{"topic": "t/a", "payload": {"temp-01": 1}}"#,
        ),
        // The FIFO target needs ${attributes.device}, which this message lacks.
        inbound(
            "no-group",
            r#"{"attributes": {"audit": true}, "payload": 1}"#,
        ),
    ];
    let report = engine()
        .run(batch, &Sinks::all(sink.clone()), deadline())
        .await;
    let statuses: Vec<Status> = report.outcomes.iter().map(|o| o.status).collect();
    assert_eq!(
        statuses,
        vec![
            Status::Delivered,
            Status::Invalid,
            Status::Invalid,
            Status::Invalid
        ]
    );
    assert!(
        report.outcomes[2]
            .error
            .as_deref()
            .unwrap()
            .contains("temp-01")
    );
    assert!(
        report.outcomes[3]
            .error
            .as_deref()
            .unwrap()
            .contains("device")
    );
    let sent: Vec<String> = sink
        .calls
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(_, ids)| ids.clone())
        .collect();
    assert!(sent.iter().all(|id| id.starts_with("ok-")), "{sent:?}");
}

#[tokio::test]
async fn unmatched_messages_follow_the_default() {
    let sink = fake(|_, _, _| None);
    let report = engine()
        .run(
            vec![inbound("x", r#"{"topic": "other", "payload": 1}"#)],
            &Sinks::all(sink.clone()),
            deadline(),
        )
        .await;
    // The table's default is `drop`: acknowledged, sent nowhere, and reported as dropped (never
    // as delivered), with the reason.
    assert_eq!(report.outcomes[0].status, Status::Dropped);
    assert!(report.outcomes[0].status.is_done());
    assert!(
        report.outcomes[0]
            .error
            .as_deref()
            .unwrap()
            .contains("default is `drop`")
    );
    assert!(report.outcomes[0].targets.is_empty());
    assert_eq!((report.summary.dropped, report.summary.delivered), (1, 0));
    assert!(sink.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_group_stops_at_its_first_undelivered_message() {
    let sink = fake(|id, _, _| {
        id.starts_with("g1b-")
            .then_some((false, "InvalidParameter"))
    });
    let msg = |id: &str, group: &str| Inbound {
        group: Some(group.to_owned()),
        ..Inbound::routed(
            id.to_owned(),
            Message::decode(
                r#"{"attributes": {"audit": true, "device": "d"}, "payload": 1}"#,
                Some(id),
            ),
        )
    };
    let batch = vec![
        msg("g1a", "g1"),
        msg("g2a", "g2"),
        msg("g1b", "g1"),
        msg("g2b", "g2"),
        msg("g1c", "g1"),
    ];
    let report = engine()
        .run(batch, &Sinks::all(sink.clone()), deadline())
        .await;
    let statuses: Vec<(&str, Status)> = report
        .outcomes
        .iter()
        .map(|o| (o.source_id.as_str(), o.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("g1a", Status::Delivered),
            ("g2a", Status::Delivered),
            ("g1b", Status::Failed),
            ("g2b", Status::Delivered),
            ("g1c", Status::Failed),
        ]
    );
    assert!(
        report.outcomes[4]
            .error
            .as_deref()
            .unwrap()
            .contains("not sent")
    );
    let sent: Vec<String> = sink
        .calls
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(_, ids)| ids.clone())
        .collect();
    assert!(
        !sent.iter().any(|id| id.starts_with("g1c-")),
        "g1c must not be sent: {sent:?}"
    );
}

#[tokio::test]
async fn a_redelivered_message_gets_the_same_downstream_ids() {
    let sink = fake(|_, _, _| None);
    let e = engine();
    e.run(telemetry(1), &Sinks::all(sink.clone()), deadline())
        .await;
    e.run(telemetry(1), &Sinks::all(sink.clone()), deadline())
        .await;
    let calls = sink.calls.lock().unwrap();
    assert_eq!(calls.len(), 4);
    let run_ids = |range: std::ops::Range<usize>| {
        let mut ids: Vec<(Kind, String)> = calls[range]
            .iter()
            .flat_map(|(k, ids)| ids.iter().map(move |id| (*k, id.clone())))
            .collect();
        ids.sort();
        ids
    };
    let (first, second) = (run_ids(0..2), run_ids(2..4));
    assert_eq!(first, second);
    assert_ne!(first[0].1, first[1].1, "ids differ per destination");
}
