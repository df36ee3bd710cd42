//! What the schedule function's tests share: an app on the local outbox with
//! `events/routes.json`, and a run of the handler.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use fanout::app::App;
use fanout::config::Config;
use fanout_schedule::RunSummary;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;

const ROUTES: &str = include_str!("../../../../events/routes.json");

pub struct Harness {
    pub app: App,
    pub outbox: PathBuf,
    _dir: tempfile::TempDir,
}

pub async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let config = Config::from_lookup(|k| match k {
        "FANOUT_ROUTES" => Some(ROUTES.to_owned()),
        "FANOUT_OUTBOX_DIR" => Some(outbox.display().to_string()),
        _ => None,
    })
    .unwrap();
    Harness {
        app: App::from_config(config).await.unwrap(),
        outbox,
        _dir: dir,
    }
}

pub async fn run(h: &Harness, event: Value) -> Result<RunSummary, String> {
    let mut context = Context::default();
    context.request_id = "req-1".to_owned();
    fanout_schedule::handle(&h.app, LambdaEvent::new(event, context))
        .await
        .map_err(|e| e.to_string())
}

pub fn calls(h: &Harness) -> Vec<Value> {
    std::fs::read_to_string(h.outbox.join(fanout::sink::outbox::FILE_NAME))
        .map(|t| {
            t.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        })
        .unwrap_or_default()
}
