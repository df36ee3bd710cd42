//! Logging set-up for the functions: JSON lines in Lambda (one per event, with the request id
//! from the runtime's span), readable text locally. Never logs payloads.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the global subscriber once; later calls do nothing. Levels from `RUST_LOG`
/// (`info` by default; `debug`, or per target: `info,fanout=debug,aws_smithy_runtime=warn`).
pub fn init() {
    let setting = std::env::var("RUST_LOG").ok();
    let parsed = setting.as_deref().map(str::parse::<Targets>);
    let filter = match &parsed {
        Some(Ok(targets)) => targets.clone(),
        None | Some(Err(_)) => Targets::new().with_default(tracing::Level::INFO),
    };
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_target(false);
    let result = if in_lambda {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            // CloudWatch stamps each line itself.
            .without_time()
            .finish()
            .with(filter)
            .try_init()
    } else {
        builder.compact().finish().with(filter).try_init()
    };
    // Already installed (e.g. by a test): keep the first one.
    drop(result);
    if let Some(Err(e)) = parsed {
        tracing::warn!(
            rust_log = setting.as_deref().unwrap_or(""),
            error = %e,
            "RUST_LOG is not a list of levels (e.g. `info,fanout=debug`); logging at info"
        );
    }
}
