//! The schedule function's bad-input corpus: events that cannot name a job or a run are refused
//! with an error that says what to fix, nothing is sent, and a marker planted in the event's
//! values (run ids, job names, inline messages) never appears in an error or a log line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

#[path = "../../../shared/tests/support/logs.rs"]
#[allow(dead_code, unreachable_pub)]
mod logs;

use harness::{calls, harness, run};
use serde_json::{Value, json};

const MARKER: &str = "MARKER-5ec7e7";
const RULE: &str = include_str!("../../../events/schedule-rule.json");

fn rule_event(edit: impl FnOnce(&mut Value)) -> Value {
    let mut event: Value = serde_json::from_str(RULE).unwrap();
    edit(&mut event);
    event
}

fn inline(job: Value) -> Value {
    json!({"job": job, "runId": "r-1"})
}

#[tokio::test]
async fn every_bad_event_is_refused_without_echoing_a_value() {
    let logs = logs::Logs::capture();
    let h = harness().await;
    let message = json!({"id": "m", "attributes": {"note": MARKER}, "payload": MARKER});
    let cases: Vec<(&str, Value, &str)> = vec![
        // Run ids follow the id rule: they go into every message id and log line of the run.
        (
            "runId of 100,000 characters",
            json!({"job": "nightly-config", "runId": MARKER.repeat(100_000 / MARKER.len())}),
            "`runId` names the run in message ids and logs, so it follows the id rule: must be at most 256 characters",
        ),
        (
            "runId with a newline",
            json!({"job": "nightly-config", "runId": format!("{MARKER}\n")}),
            "must not contain control characters",
        ),
        (
            "runId with NUL",
            json!({"job": "nightly-config", "runId": format!("{MARKER}\u{0}")}),
            "must not contain control characters",
        ),
        (
            "empty runId",
            json!({"job": "nightly-config", "runId": ""}),
            "must not be empty",
        ),
        (
            "runId is a number",
            json!({"job": "nightly-config", "runId": 7}),
            "`runId` names the run in message ids and logs, so it follows the id rule: must be a string",
        ),
        (
            "rule event id with a newline",
            rule_event(|e| e["id"] = format!("{MARKER}\n").into()),
            "`id` names the run",
        ),
        // Job names: checked against the job-name rule before they are shown.
        (
            "job name with a newline",
            json!({"job": format!("{MARKER}\nforged log line")}),
            "`job` is a job name, which must be 1 to 64 characters of A-Z a-z 0-9 _ . -",
        ),
        (
            "rule name that is not a job name",
            rule_event(|e| {
                e["resources"] = json!([format!(
                    "arn:aws:events:us-east-1:123456789012:rule/{MARKER} x"
                )])
            }),
            "the rule name (the end of `resources[0]`) is a job name, which must be 1 to 64",
        ),
        (
            "job is a list",
            json!({"job": [MARKER]}),
            "`job` must be a job name or an inline job object",
        ),
        // Inline jobs: the shape is checked before parsing, so serde never quotes a value.
        (
            "messages is a string",
            inline(json!({"name": "x", "messages": MARKER, "targets": []})),
            "inline job: `messages` must be an array of objects",
        ),
        (
            "targets hold a string",
            inline(json!({"name": "x", "messages": [message], "targets": [MARKER]})),
            "inline job: `targets` must be an array of objects",
        ),
        (
            "name with a slash",
            inline(json!({"name": format!("{MARKER}/x"), "messages": [message], "targets": []})),
            "inline job: `name` must be 1 to 64 characters",
        ),
        (
            "an unknown field with a long name",
            inline(
                json!({"name": "x", "messages": [message], "targets": [], (MARKER.repeat(6)): 1}),
            ),
            "inline job: unknown field with a name that is not shown",
        ),
        (
            "a message with two payloads",
            inline(
                json!({"name": "x", "messages": [{"payload": MARKER, "payloadBase64": "aGk=", "attributes": {"note": MARKER}}],
                          "targets": [{"type": "mqtt", "topic": "a/b"}]}),
            ),
            "exactly one of `payload` and `payloadBase64` is required, found both",
        ),
    ];
    for (name, event, expected) in &cases {
        let error = run(&h, event.clone()).await.unwrap_err();
        assert!(
            error.contains(expected),
            "{name}: `{error}` lacks `{expected}`"
        );
        assert!(
            !error.contains(MARKER),
            "{name}: the error echoes a value: {error}"
        );
        assert!(error.len() < 600, "{name}: {} bytes of error", error.len());
    }
    assert!(calls(&h).is_empty(), "a refused event sent something");
    let logged = logs.text();
    assert!(
        !logged.contains(MARKER),
        "a log line holds a value:\n{logged}"
    );
}
