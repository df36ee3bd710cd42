//! What the SQS function's tests share: a run of the handler on the local outbox with
//! `events/routes.json`.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use fanout::app::App;
use fanout::config::Config;
use fanout_sqs::SqsError;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;

const ROUTES: &str = include_str!("../../../../events/routes.json");

pub struct Run {
    pub response: Result<SqsBatchResponse, SqsError>,
    /// Outbox lines: (kind, destination, request).
    pub calls: Vec<(String, String, Value)>,
}

pub async fn run(event_json: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let config = Config::from_lookup(|k| match k {
        "FANOUT_ROUTES" => Some(ROUTES.to_owned()),
        "FANOUT_OUTBOX_DIR" => Some(outbox.display().to_string()),
        _ => None,
    })
    .unwrap();
    let app = App::from_config(config).await.unwrap();
    let event: SqsEvent = serde_json::from_str(event_json).unwrap();
    let response = fanout_sqs::handle(&app, LambdaEvent::new(event, Context::default())).await;
    Run {
        response,
        calls: read_outbox(&outbox),
    }
}

fn read_outbox(dir: &Path) -> Vec<(String, String, Value)> {
    let Ok(text) = std::fs::read_to_string(dir.join(fanout::sink::outbox::FILE_NAME)) else {
        return Vec::new();
    };
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["kind"].as_str().unwrap().to_owned(),
                v["destination"].as_str().unwrap().to_owned(),
                v["request"].clone(),
            )
        })
        .collect()
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
