//! CloudWatch Embedded Metric Format: one JSON line per invocation on stdout, which CloudWatch
//! Logs turns into metrics without any API call (and so without adding latency or failures).
//!
//! Format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use serde_json::{Value, json};

use crate::outcome::Report;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "IotFanout";

/// Per invocation, dimension `Function`.
const INVOCATION_METRICS: [(&str, &str); 11] = [
    ("MessagesIn", "Count"),
    ("Delivered", "Count"),
    ("Dropped", "Count"),
    ("ErrorsRouted", "Count"),
    ("ErrorsFailed", "Count"),
    ("Failed", "Count"),
    ("Invalid", "Count"),
    ("Calls", "Count"),
    ("Retries", "Count"),
    ("Throttles", "Count"),
    ("SendLatency", "Milliseconds"),
];

/// Per destination kind, dimensions `Function` and `Kind`.
const KIND_METRICS: [(&str, &str); 3] = [
    ("TargetsDelivered", "Count"),
    ("TargetsFailed", "Count"),
    ("TargetsSkipped", "Count"),
];

/// When a new routing table version is refused, dimension `Function`.
const REJECTED_METRICS: [(&str, &str); 1] = [("RoutesRejected", "Count")];

fn directive(timestamp_ms: u64, dimensions: Value, metrics: &[(&str, &str)]) -> Value {
    json!({
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": [{
            "Namespace": NAMESPACE,
            "Dimensions": [dimensions],
            "Metrics": metrics.iter().map(|(name, unit)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
        }],
    })
}

/// The EMF documents for one run: one for the invocation, one per destination kind it touched.
/// The routing table's version rides along as `RoutesVersion`, a property (searchable in Logs
/// Insights) rather than a dimension, which would make a new metric of every version.
pub fn documents(report: &Report, function: &str, timestamp_ms: u64) -> Vec<Value> {
    let s = &report.summary;
    let mut invocation = json!({
        "_aws": directive(timestamp_ms, json!(["Function"]), &INVOCATION_METRICS),
        "Function": function,
        "MessagesIn": s.messages,
        "Delivered": s.delivered,
        "Dropped": s.dropped,
        "ErrorsRouted": s.errors_routed,
        "ErrorsFailed": s.errors_failed,
        "Failed": s.failed,
        "Invalid": s.invalid,
        "Calls": report.calls,
        "Retries": report.retries,
        "Throttles": report.throttles,
        "SendLatency": report.send_ms,
    });
    if let (Some(version), Some(doc)) = (&report.routes_version, invocation.as_object_mut()) {
        doc.insert("RoutesVersion".to_owned(), json!(version));
    }
    let mut docs = vec![invocation];
    for (kind, counts) in &s.by_kind {
        docs.push(json!({
            "_aws": directive(timestamp_ms, json!(["Function", "Kind"]), &KIND_METRICS),
            "Function": function,
            "Kind": kind.as_str(),
            "TargetsDelivered": counts.delivered,
            "TargetsFailed": counts.failed,
            "TargetsSkipped": counts.skipped,
        }));
    }
    docs
}

/// The EMF document for a routing table version that failed its checks.
pub fn rejected_document(function: &str, version: &str, timestamp_ms: u64) -> Value {
    json!({
        "_aws": directive(timestamp_ms, json!(["Function"]), &REJECTED_METRICS),
        "Function": function,
        "RoutesRejected": 1,
        "RoutesVersion": version,
    })
}

/// Prints the run's EMF lines when metrics are on (`function` is the Lambda function's name).
pub fn emit(report: &Report, function: &str) {
    for doc in documents(report, function, now_ms()) {
        // EMF is read from the function's log stream: each document must be a line of its own.
        println!("{doc}");
    }
}

/// Prints the `RoutesRejected` line for a refused routing table version.
pub fn emit_rejected(function: &str, version: &str) {
    println!("{}", rejected_document(function, version, now_ms()));
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::destination::Destination;
    use crate::outcome::{Outcome, TargetOutcome, TargetStatus};

    #[test]
    fn one_document_per_invocation_and_per_kind() {
        let delivered = TargetOutcome {
            route: Arc::from("r"),
            destination: Destination::Mqtt { topic: "t".into() },
            label: None,
            status: TargetStatus::Delivered,
            retryable: false,
            attempts: 1,
            code: None,
            reason: None,
        };
        let mut report = Report::new(
            vec![
                Outcome::from_targets("a".into(), None, vec![delivered]),
                Outcome::invalid("b".into(), None, "bad".into()),
            ],
            1,
            2,
            1,
        );
        report.send_ms = 12;
        report.routes_version = Some(Arc::from("sha256:0123456789abcdef"));
        let docs = documents(&report, "fanout-sqs", 1_700_000_000_000);
        assert_eq!(docs.len(), 2);
        let inv = &docs[0];
        assert_eq!(inv["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            inv["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"]])
        );
        assert_eq!(inv["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let values: Vec<_> = [
            "MessagesIn",
            "Delivered",
            "Invalid",
            "Calls",
            "Retries",
            "Throttles",
            "SendLatency",
        ]
        .iter()
        .map(|k| inv[*k].as_u64().unwrap())
        .collect();
        assert_eq!(values, [2, 1, 1, 1, 2, 1, 12]);
        assert_eq!(inv["RoutesVersion"], "sha256:0123456789abcdef");
        // Every metric declared has a value in the document, as EMF requires.
        for doc in &docs {
            for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
            {
                assert!(doc[m["Name"].as_str().unwrap()].is_number(), "{doc}");
            }
        }
        assert_eq!(
            (
                docs[1]["Kind"].as_str(),
                docs[1]["TargetsDelivered"].as_u64()
            ),
            (Some("mqtt"), Some(1))
        );
    }

    #[test]
    fn every_destination_kind_has_its_own_dimension() {
        let outcome = |destination: Destination| TargetOutcome {
            route: Arc::from("r"),
            destination,
            label: None,
            status: TargetStatus::Failed,
            retryable: true,
            attempts: 1,
            code: None,
            reason: None,
        };
        let report = Report::new(
            vec![Outcome::from_targets(
                "a".into(),
                None,
                vec![
                    outcome(Destination::Firehose {
                        delivery_stream: "f".into(),
                    }),
                    outcome(Destination::Kinesis { stream: "k".into() }),
                    outcome(Destination::EventBridge {
                        event_bus: "default".into(),
                    }),
                    outcome(Destination::Sqs {
                        queue_url: "https://sqs.us-east-1.amazonaws.com/123456789012/q".into(),
                    }),
                ],
            )],
            4,
            0,
            0,
        );
        let docs = documents(&report, "fanout-sqs", 0);
        let kinds: Vec<&str> = docs.iter().filter_map(|d| d["Kind"].as_str()).collect();
        assert_eq!(kinds, ["firehose", "kinesis", "eventbridge", "sqs"]);
        assert!(docs.iter().skip(1).all(|d| d["TargetsFailed"] == 1));
    }

    #[test]
    fn a_rejected_table_version_is_one_count() {
        let doc = rejected_document("fanout-sqs", "7", 1_700_000_000_000);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "RoutesRejected"
        );
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            (
                doc["RoutesRejected"].as_u64(),
                doc["RoutesVersion"].as_str()
            ),
            (Some(1), Some("7"))
        );
    }
}
