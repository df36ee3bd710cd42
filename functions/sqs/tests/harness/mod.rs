//! What the SQS function's tests share: a run of the handler on the local outbox with
//! `events/routes.json`.
#![allow(dead_code, unreachable_pub)]

#[path = "../../../../shared/tests/support/local_app.rs"]
mod local_app;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use fanout_sqs::SqsError;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;

pub struct Run {
    pub response: Result<SqsBatchResponse, SqsError>,
    /// Outbox lines: (kind, destination, request).
    pub calls: Vec<(String, String, Value)>,
}

pub async fn run(event_json: &str) -> Run {
    let local = local_app::local_app().await;
    let event: SqsEvent = serde_json::from_str(event_json).unwrap();
    let response =
        fanout_sqs::handle(&local.app, LambdaEvent::new(event, Context::default())).await;
    let calls = local_app::recorded_calls(&local.outbox)
        .into_iter()
        .map(|v| {
            (
                v["kind"].as_str().unwrap().to_owned(),
                v["destination"].as_str().unwrap().to_owned(),
                v["request"].clone(),
            )
        })
        .collect();
    Run { response, calls }
}

/// The records reported for retry.
pub fn failures(run: &Run) -> Vec<&str> {
    run.response
        .as_ref()
        .unwrap()
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}
