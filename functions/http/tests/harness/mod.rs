//! What the HTTP function's tests share: an app on the local outbox built from
//! `events/routes.json`, API Gateway events in and JSON answers out.
#![allow(dead_code, unreachable_pub)]

#[path = "../../../../shared/tests/support/local_app.rs"]
mod local_app;

use std::path::{Path, PathBuf};

use fanout_http::{HttpApp, HttpSettings};
use lambda_http::{Body, Request};
use serde_json::Value;

pub struct Harness {
    pub http: HttpApp,
    pub outbox: PathBuf,
    _dir: tempfile::TempDir,
}

pub async fn harness(settings: HttpSettings) -> Harness {
    let local = local_app::local_app().await;
    Harness {
        http: HttpApp {
            app: local.app,
            settings,
        },
        outbox: local.outbox,
        _dir: local.dir,
    }
}

pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Value,
}

/// Sends a sample event the way Lambda does: through the function's own event conversion.
pub async fn call(h: &Harness, event_json: &str) -> Answer {
    let event = serde_json::from_str(event_json).unwrap();
    let req = fanout_http::to_request(event).unwrap();
    send(&h.http, req).await
}

pub async fn send(http: &HttpApp, req: Request) -> Answer {
    let response = fanout_http::handle(http, req).await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("expected a text body, found {other:?}"),
    };
    Answer {
        status: response.status().as_u16(),
        retry_after: response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned()),
        body,
    }
}

/// A request like API Gateway's, built from a sample event with another body / path / method.
pub fn variant(event_json: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(event_json).unwrap();
    edit(&mut v);
    v.to_string()
}

pub fn outbox(dir: &Path) -> Vec<Value> {
    local_app::recorded_calls(dir)
}

pub fn destinations(calls: &[Value]) -> Vec<String> {
    let mut d: Vec<String> = calls
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["kind"].as_str().unwrap(),
                c["destination"].as_str().unwrap()
            )
        })
        .collect();
    d.sort();
    d
}
