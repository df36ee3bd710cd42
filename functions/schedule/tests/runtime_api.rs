//! The fanout-schedule binary under a stand-in of the Lambda Runtime API: a failed cold start is
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

const BINARY: &str = env!("CARGO_BIN_EXE_fanout-schedule");
const ROUTES: &str = include_str!("../../../events/routes.json");

#[tokio::test]
async fn a_bad_routing_table_fails_the_init_with_its_reason() {
    runtime_api::assert_init_error(
        BINARY,
        &[(
            "FANOUT_ROUTES",
            r#"{"routes": [], "jobs": [{"name": "j"}]}"#,
        )],
        "Fanout.RoutingTableError",
        "configuration: FANOUT_ROUTES: bad routing table: job \"j\"",
    )
    .await;
}

#[tokio::test]
async fn invocation_errors_carry_their_type() {
    let run = runtime_api::run(
        BINARY,
        &[
            ("FANOUT_ROUTES", ROUTES),
            ("FANOUT_SINK", "local"),
            ("FANOUT_OUTBOX_DIR", env!("CARGO_TARGET_TMPDIR")),
        ],
        vec![
            json!({"job": "no-such-job"}),
            json!({"job": "nightly-config", "runId": "run\nwith a newline"}),
        ],
    )
    .await;
    let types: Vec<_> = run
        .invocation_errors()
        .iter()
        .map(|e| e.body["errorType"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        ["Fanout.UnknownJob", "Fanout.InvalidEvent"],
        "{:?}\n{}",
        run.posts,
        run.output
    );
}
