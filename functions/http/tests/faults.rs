//! The HTTP function on a 2,000-message request against the wire stub with injected faults:
//! every message gets a result, `delivered` only when the endpoint received it, retries stay
//! bounded, the answer comes before the deadline, and the status code matches the results.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../../shared/tests/support/stub.rs"]
#[allow(dead_code, unreachable_pub)]
mod stub;

#[path = "../../../shared/tests/support/faults.rs"]
#[allow(dead_code, unreachable_pub)]
mod faults;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fanout_http::{HttpApp, HttpSettings};
use lambda_http::Context;
use lambda_http::{Body, RequestExt};
use serde_json::{Value, json};
use stub::{Behaviour, RandomFaults, Stub};

const N: usize = 2_000;

async fn run(
    faults: RandomFaults,
    budget: Duration,
    margin_ms: u64,
) -> (Stub, u16, Value, Duration) {
    let stub = Stub::start(Behaviour {
        random: faults,
        ..Behaviour::default()
    })
    .await;
    let http = HttpApp {
        app: faults::app(&stub.url, margin_ms).await,
        settings: HttpSettings::from_lookup(|k| {
            (k == "FANOUT_HTTP_MAX_MESSAGES").then(|| N.to_string())
        })
        .unwrap(),
    };
    let messages: Vec<Value> = (0..N)
        .map(|i| json!({"id": format!("m-{i}"), "payload": {"v": i}}))
        .collect();
    let mut context = Context::default();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    context.deadline = now_ms + budget.as_millis() as u64;
    let req = lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://api.example.com/messages")
        .header("content-type", "application/json")
        .body(Body::Text(json!({"messages": messages}).to_string()))
        .unwrap()
        .with_lambda_context(context);
    let started = Instant::now();
    let response = fanout_http::handle(&http, req).await.unwrap();
    let elapsed = started.elapsed();
    let body: Value = match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("expected text, found {other:?}"),
    };
    (stub, response.status().as_u16(), body, elapsed)
}

fn reported(body: &Value) -> Vec<(String, bool)> {
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), N, "one result per message");
    results
        .iter()
        .map(|r| {
            let status = r["status"].as_str().unwrap();
            assert!(
                status == "delivered" || status == "failed",
                "unexpected {status}"
            );
            (r["id"].as_str().unwrap().to_owned(), status == "delivered")
        })
        .collect()
}

fn first_calls() -> usize {
    faults::first_calls(N)
}

#[tokio::test]
async fn mixed_faults_are_retried_and_accounted() {
    let faults = RandomFaults {
        throttle_rate: 0.2,
        error_rate: 0.1,
        reset_rate: 0.05,
        entry_error_rate: 0.1,
        seed: 11,
        ..RandomFaults::default()
    };
    let (stub, status, body, _) = run(faults, Duration::from_secs(60), 200).await;
    let a = faults::check(&stub, &reported(&body), first_calls());
    eprintln!(
        "http mixed: {} delivered, {} failed, status {status}",
        a.delivered, a.failed
    );
    assert_eq!(status, if a.failed == 0 { 200 } else { 207 });
    assert!(a.delivered > N * 9 / 10);
}

#[tokio::test]
async fn slow_answers_past_the_deadline_are_reported_failed_in_time() {
    let budget = Duration::from_millis(2_000);
    let faults = RandomFaults {
        delay: Duration::from_millis(400),
        seed: 12,
        ..RandomFaults::default()
    };
    // The margin is the time kept for reporting: this answer lists six targets for each of
    // 2,000 messages, which a debug build on a loaded machine needs more than 500 ms to write.
    let (stub, status, body, elapsed) = run(faults, budget, 800).await;
    assert!(
        elapsed < budget,
        "answered after {elapsed:?}, past the {budget:?} deadline"
    );
    let a = faults::check(&stub, &reported(&body), first_calls());
    eprintln!(
        "http deadline: {} delivered, {} failed in {elapsed:?}, status {status}",
        a.delivered, a.failed
    );
    assert!(a.failed > 0);
    let failed_retryable = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "failed")
        .all(|r| r["retryable"] == true);
    assert!(failed_retryable, "deadline failures may succeed on retry");
    assert_eq!(status, if a.delivered == 0 { 503 } else { 207 });
}
