//! Fault runs for the functions' tests: an app whose sinks are the real SDK clients talking to
//! the wire stub (IoT Analytics, IoT Events, Data Firehose, Kinesis, EventBridge, SQS), and the
//! accounting every run must satisfy.

use std::collections::HashSet;

use aws_config::Region;
use fanout::app::App;
use fanout::config::Config;
use fanout::destination::Destination;
use fanout::engine::Engine;
use fanout::ids::downstream_id;
use fanout::routes::RoutingTable;

use super::stub::Stub;

/// Every message goes to one destination of each batch API: an IoT Analytics channel, an IoT
/// Events input, a Firehose stream, a Kinesis stream (keyed by message id, in order), an event
/// bus and an SQS queue (the URL's host is not used: the SDK sends to the stub's endpoint).
pub const ROUTES: &str = r#"{"routes": [{"name": "all", "targets": [
    {"type": "analytics", "channel": "telemetry"},
    {"type": "events", "input": "detector"},
    {"type": "firehose", "deliveryStream": "telemetry"},
    {"type": "kinesis", "stream": "detector", "partitionKey": "${id}", "ordered": true},
    {"type": "eventbridge", "eventBus": "alarms", "source": "iot.fanout", "detailType": "telemetry"},
    {"type": "sqs", "queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/telemetry"}]}]}"#;
pub const MAX_ATTEMPTS: usize = 5;

pub fn destinations() -> [Destination; 6] {
    [
        Destination::Analytics {
            channel: "telemetry".into(),
        },
        Destination::Events {
            input: "detector".into(),
        },
        Destination::Firehose {
            delivery_stream: "telemetry".into(),
        },
        Destination::Kinesis {
            stream: "detector".into(),
        },
        Destination::EventBridge {
            event_bus: "alarms".into(),
        },
        Destination::Sqs {
            queue_url: "https://sqs.us-east-1.amazonaws.com/123456789012/telemetry".into(),
        },
    ]
}

/// The first calls of a run of `n` small messages: 100 per IoT Analytics call, 10 per IoT
/// Events, EventBridge and SQS call, 500 per Firehose and Kinesis call (one record per key and
/// call on the ordered stream, and every message has its own key).
pub fn first_calls(n: usize) -> usize {
    n.div_ceil(100) + 3 * n.div_ceil(10) + 2 * n.div_ceil(500)
}

/// How the stub names message `m-<i>` (payload `{"v": i}`) at a destination (see
/// `stub::Accepted::message_id`).
fn downstream_key(d: &Destination, id: &str) -> String {
    match d {
        Destination::Analytics { .. } | Destination::Events { .. } => downstream_id(id, d),
        Destination::Kinesis { .. } | Destination::EventBridge { .. } => id.to_owned(),
        _ => {
            let i: u64 = id.trim_start_matches("m-").parse().unwrap_or(u64::MAX);
            serde_json::json!({"v": i}).to_string()
        }
    }
}

/// The error queue of [`app_with_error_queue`].
pub const ERROR_QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/fanout-errors";

/// The app as `main` builds it, with fast backoff and the SDK pointed at the stub's `url`.
pub async fn app(url: &str, margin_ms: u64) -> App {
    app_with(url, margin_ms, None).await
}

/// [`app`] with the deployment's error queue ([`ERROR_QUEUE`], on the stub) set.
pub async fn app_with_error_queue(url: &str, margin_ms: u64) -> App {
    app_with(url, margin_ms, Some(ERROR_QUEUE)).await
}

async fn app_with(url: &str, margin_ms: u64, error_queue: Option<&str>) -> App {
    let sdk = fanout::sink::aws::sdk_config_loader()
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .endpoint_url(url)
        .load()
        .await;
    let margin = margin_ms.to_string();
    let attempts = MAX_ATTEMPTS.to_string();
    let config = Config::from_lookup(|k| match k {
        "FANOUT_ROUTES" => Some(ROUTES.to_owned()),
        "FANOUT_MAX_ATTEMPTS" => Some(attempts.clone()),
        "FANOUT_BACKOFF_BASE_MS" => Some("1".to_owned()),
        "FANOUT_BACKOFF_MAX_MS" => Some("8".to_owned()),
        "FANOUT_DEADLINE_MARGIN_MS" => Some(margin.clone()),
        "FANOUT_ERRORS_QUEUE_URL" => error_queue.map(str::to_owned),
        _ => None,
    })
    .unwrap_or_else(|e| panic!("config: {e}"));
    let routes = RoutingTable::from_json(ROUTES, &config.engine.limits)
        .unwrap_or_else(|e| panic!("routes: {e}"));
    App {
        engine: Engine::new(routes, config.engine),
        sinks: fanout::sink::aws::aws_sinks(&sdk),
    }
}

/// What a run reported, per message id: delivered or not.
pub struct Accounting {
    pub delivered: usize,
    pub failed: usize,
}

/// Checks a run: each message is reported exactly once; a message reported delivered reached
/// every destination; the stub saw no request that breaks a documented limit; attempts per
/// first call stay within `MAX_ATTEMPTS`.
pub fn check(stub: &Stub, reported: &[(String, bool)], first_calls: usize) -> Accounting {
    let ids: HashSet<&str> = reported.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), reported.len(), "a message was reported twice");
    let (accepted, calls, injected, violations) = stub.with(|s| {
        let accepted: HashSet<(String, String)> = s
            .accepted
            .iter()
            .map(|a| (a.destination.clone(), a.message_id.clone()))
            .collect();
        // Per-entry failures are answers to counted calls, not requests of their own.
        let whole_call_faults: usize = s
            .injected
            .iter()
            .filter(|(kind, _)| **kind != "entry")
            .map(|(_, n)| n)
            .sum();
        (
            accepted,
            s.calls.len(),
            whole_call_faults,
            s.violations.clone(),
        )
    });
    assert!(
        violations.is_empty(),
        "requests broke documented limits: {violations:?}"
    );
    let mut delivered = 0;
    for (id, ok) in reported {
        if *ok {
            delivered += 1;
            for d in destinations() {
                let key = (d.name().to_owned(), downstream_key(&d, id));
                assert!(
                    accepted.contains(&key),
                    "{id} reported delivered but {d} never accepted it"
                );
            }
        }
    }
    let attempts = calls + injected;
    assert!(
        attempts <= first_calls * MAX_ATTEMPTS,
        "{attempts} requests for {first_calls} calls: retries not bounded by {MAX_ATTEMPTS} attempts"
    );
    Accounting {
        delivered,
        failed: reported.len() - delivered,
    }
}
