//! The fanout-http binary under a stand-in of the Lambda Runtime API: a failed cold start (bad
//! settings or routing table) is posted to `/runtime/init/error` with a readable reason and a
//! `Fanout.*` error type.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../../shared/tests/support/runtime_api.rs"]
#[allow(dead_code, unreachable_pub)]
mod runtime_api;

const BINARY: &str = env!("CARGO_BIN_EXE_fanout-http");
const ROUTES: &str = include_str!("../../../events/routes.json");

#[tokio::test]
async fn bad_settings_and_tables_fail_the_init_with_their_reason() {
    runtime_api::assert_init_error(
        BINARY,
        &[("FANOUT_ROUTES", ROUTES), ("FANOUT_HTTP_MAX_BYTES", "lots")],
        "Fanout.ConfigError",
        "FANOUT_HTTP_MAX_BYTES: must be a whole number from 1 to 6291456",
    )
    .await;
    runtime_api::assert_init_error(
        BINARY,
        &[("FANOUT_ROUTES", "{\"routes\": [}")],
        "Fanout.RoutingTableError",
        "configuration: FANOUT_ROUTES: bad routing table:",
    )
    .await;
}

/// Events lambda_http's own conversion panics on (and so, with `panic = "abort"`, kill the
/// instance): each gets a 400 answer, and the same process goes on to serve the next event.
#[tokio::test]
async fn malformed_events_get_400_and_the_process_lives_on() {
    let sample: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/http-messages.json")).unwrap();
    let hostile = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut event = sample.clone();
        edit(&mut event);
        event
    };
    let events = vec![
        hostile(&|e| {
            e["isBase64Encoded"] = true.into();
            e["body"] = "not base64!".into();
        }),
        hostile(&|e| e["rawQueryString"] = "a=\"b c\"<>".into()),
        hostile(&|e| e["headers"]["host"] = "bad host<>".into()),
        sample.clone(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().to_str().unwrap();
    let run = runtime_api::run(
        BINARY,
        &[("FANOUT_ROUTES", ROUTES), ("FANOUT_OUTBOX_DIR", outbox)],
        events,
    )
    .await;
    let statuses: Vec<i64> = run
        .posts
        .iter()
        .filter(|p| p.path.ends_with("/response"))
        .map(|p| p.body["statusCode"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [400, 400, 400, 200], "{}", run.output);
    assert!(run.invocation_errors().is_empty());
}
