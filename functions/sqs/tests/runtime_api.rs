//! The fanout-sqs binary under a stand-in of the Lambda Runtime API: a failed cold start is
//! posted to `/runtime/init/error` with a readable reason and a `Fanout.*` error type, and an
//! invocation error carries its own type.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../../shared/tests/support/runtime_api.rs"]
#[allow(dead_code, unreachable_pub)]
mod runtime_api;

use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_fanout-sqs");
const ROUTES: &str = include_str!("../../../events/routes.json");

#[tokio::test]
async fn a_bad_routing_table_fails_the_init_with_its_reason() {
    runtime_api::assert_init_error(
        BINARY,
        &[(
            "FANOUT_ROUTES",
            r#"{"routes": [{"name": "r", "targets": [{"type": "mqtt", "topic": "a", "qos": 2}]}]}"#,
        )],
        "Fanout.RoutingTableError",
        "configuration: FANOUT_ROUTES: bad routing table: route \"r\" target 1 (mqtt) field \"qos\"",
    )
    .await;
    runtime_api::assert_init_error(
        BINARY,
        &[],
        "Fanout.ConfigError",
        "configuration: set FANOUT_ROUTES",
    )
    .await;
}

#[tokio::test]
async fn an_unreportable_record_fails_the_invocation_with_its_type() {
    // No messageId and no envelope id: invalid, and it cannot be named in batchItemFailures.
    let event = json!({"Records": [{"messageId": "", "body": "{\"payload\": 1}", "eventSource": "aws:sqs"}]});
    let run = runtime_api::run(
        BINARY,
        &[
            ("FANOUT_ROUTES", ROUTES),
            ("FANOUT_SINK", "local"),
            ("FANOUT_OUTBOX_DIR", env!("CARGO_TARGET_TMPDIR")),
        ],
        vec![event],
    )
    .await;
    let errors = run.invocation_errors();
    assert_eq!(errors.len(), 1, "{:?}\n{}", run.posts, run.output);
    assert_eq!(errors[0].body["errorType"], "Fanout.UnreportableRecord");
    assert!(
        errors[0].body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("has no messageId to report")
    );
}
