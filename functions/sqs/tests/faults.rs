//! The SQS function on 2,000 records against the wire stub with injected faults: throttling,
//! 5xx, per-entry failures, connection resets and answers slower than the deadline. Every record
//! ends delivered or in `batchItemFailures`; none is reported delivered that the endpoint did not
//! receive; retries stay bounded; the invocation returns before its deadline.
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

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use lambda_runtime::{Context, LambdaEvent};
use stub::{Behaviour, RandomFaults, Stub};

const N: usize = 2_000;

fn event() -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = (0..N)
        .map(|i| {
            let mut record = SqsMessage::default();
            record.message_id = Some(format!("rec-{i}"));
            record.body = Some(format!(r#"{{"id": "m-{i}", "payload": {{"v": {i}}}}}"#));
            record
        })
        .collect();
    event
}

/// Runs the handler with `budget` before the Lambda deadline; returns (message id, delivered).
async fn run(
    faults: RandomFaults,
    budget: Duration,
    margin_ms: u64,
) -> (Stub, Vec<(String, bool)>, Duration) {
    let stub = Stub::start(Behaviour {
        random: faults,
        ..Behaviour::default()
    })
    .await;
    let app = faults::app(&stub.url, margin_ms).await;
    let mut context = Context::default();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    context.deadline = now_ms + budget.as_millis() as u64;
    let started = Instant::now();
    let response = fanout_sqs::handle(&app, LambdaEvent::new(event(), context))
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let failed: HashSet<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert!(
        failed.iter().all(|id| id.starts_with("rec-")),
        "unknown itemIdentifier in {failed:?}"
    );
    let reported = (0..N)
        .map(|i| (format!("m-{i}"), !failed.contains(&format!("rec-{i}"))))
        .collect();
    (stub, reported, elapsed)
}

fn first_calls() -> usize {
    faults::first_calls(N)
}

async fn scenario(name: &str, faults: RandomFaults) {
    let (stub, reported, _) = run(faults, Duration::from_secs(60), 200).await;
    let a = faults::check(&stub, &reported, first_calls());
    let injected = stub.with(|s| s.injected.clone());
    eprintln!(
        "{name}: {} delivered, {} failed; injected {injected:?}",
        a.delivered, a.failed
    );
    assert!(
        injected.values().sum::<usize>() > 0,
        "{name}: no fault was injected"
    );
    assert!(
        a.delivered > N * 9 / 10,
        "{name}: retries should deliver most messages, got {}",
        a.delivered
    );
}

#[tokio::test]
async fn throttling_on_30_percent_of_calls() {
    scenario(
        "throttling",
        RandomFaults {
            throttle_rate: 0.3,
            seed: 1,
            ..RandomFaults::default()
        },
    )
    .await;
}

#[tokio::test]
async fn server_errors_on_30_percent_of_calls() {
    scenario(
        "5xx",
        RandomFaults {
            error_rate: 0.3,
            seed: 2,
            ..RandomFaults::default()
        },
    )
    .await;
}

#[tokio::test]
async fn per_entry_failures_on_20_percent_of_entries() {
    scenario(
        "entries",
        RandomFaults {
            entry_error_rate: 0.2,
            seed: 3,
            ..RandomFaults::default()
        },
    )
    .await;
}

#[tokio::test]
async fn connection_resets_on_20_percent_of_calls() {
    scenario(
        "resets",
        RandomFaults {
            reset_rate: 0.2,
            seed: 4,
            ..RandomFaults::default()
        },
    )
    .await;
}

#[tokio::test]
async fn all_faults_at_once() {
    scenario(
        "mixed",
        RandomFaults {
            throttle_rate: 0.1,
            error_rate: 0.1,
            reset_rate: 0.05,
            entry_error_rate: 0.1,
            seed: 5,
            ..RandomFaults::default()
        },
    )
    .await;
}

/// With the deployment's error queue (on the stub, under the same faults): every 20th record is
/// not JSON. Each record is reported once: a valid one as before; an invalid one acknowledged
/// exactly when its error record reached the error queue, and in `batchItemFailures` otherwise.
#[tokio::test]
async fn all_faults_with_an_error_queue_lose_nothing() {
    let stub = Stub::start(Behaviour {
        random: RandomFaults {
            throttle_rate: 0.1,
            error_rate: 0.1,
            reset_rate: 0.05,
            entry_error_rate: 0.1,
            seed: 7,
            ..RandomFaults::default()
        },
        ..Behaviour::default()
    })
    .await;
    let app = faults::app_with_error_queue(&stub.url, 200).await;
    let mut event = event();
    let invalid: HashSet<String> = (0..N).step_by(20).map(|i| format!("rec-{i}")).collect();
    for record in &mut event.records {
        if invalid.contains(record.message_id.as_deref().unwrap()) {
            record.body = Some("not JSON".to_owned());
        }
    }
    let response = fanout_sqs::handle(&app, LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    let failed: HashSet<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    let recorded: HashSet<String> = stub.with(|s| {
        s.accepted
            .iter()
            .filter(|a| a.destination == faults::ERROR_QUEUE)
            .filter_map(|a| serde_json::from_str::<serde_json::Value>(&a.message_id).ok())
            .filter_map(|r| r["sourceId"].as_str().map(str::to_owned))
            .collect()
    });
    for id in &invalid {
        assert_eq!(
            failed.contains(id),
            !recorded.contains(id),
            "{id}: acknowledged without its error record, or retried although it arrived"
        );
    }
    assert!(
        recorded.len() > invalid.len() / 2,
        "{} of {} records arrived",
        recorded.len(),
        invalid.len()
    );
    let valid: Vec<(String, bool)> = (0..N)
        .filter(|i| !invalid.contains(&format!("rec-{i}")))
        .map(|i| (format!("m-{i}"), !failed.contains(&format!("rec-{i}"))))
        .collect();
    let a = faults::check(&stub, &valid, first_calls() + invalid.len().div_ceil(10));
    eprintln!(
        "mixed with an error queue: {} delivered, {} failed; {} of {} error records arrived",
        a.delivered,
        a.failed,
        recorded.len(),
        invalid.len()
    );
}

#[tokio::test]
async fn slow_answers_past_the_deadline_are_reported_failed_in_time() {
    let budget = Duration::from_millis(1_500);
    let faults = RandomFaults {
        delay: Duration::from_millis(400),
        seed: 6,
        ..RandomFaults::default()
    };
    let (stub, reported, elapsed) = run(faults, budget, 300).await;
    assert!(
        elapsed < budget,
        "returned after {elapsed:?}, past the {budget:?} deadline"
    );
    let a = faults::check(&stub, &reported, first_calls());
    eprintln!(
        "deadline: {} delivered, {} failed in {elapsed:?}",
        a.delivered, a.failed
    );
    assert!(
        a.failed > 0,
        "with 400 ms answers and 1.5 s, some calls cannot finish"
    );
}
