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
