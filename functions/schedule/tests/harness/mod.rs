//! What the schedule function's tests share: an app on the local outbox with
//! `events/routes.json`, and a run of the handler.
#![allow(dead_code, unreachable_pub)]

#[path = "../../../../shared/tests/support/local_app.rs"]
mod local_app;

use fanout_schedule::RunSummary;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;

pub use local_app::{LocalApp as Harness, local_app as harness};

pub async fn run(h: &Harness, event: Value) -> Result<RunSummary, String> {
    let mut context = Context::default();
    context.request_id = "req-1".to_owned();
    fanout_schedule::handle(&h.app, LambdaEvent::new(event, context))
        .await
        .map_err(|e| e.to_string())
}

pub fn calls(h: &Harness) -> Vec<Value> {
    local_app::recorded_calls(&h.outbox)
}
