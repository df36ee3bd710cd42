//! Logging set-up for the functions: JSON lines in Lambda (one per event, with the request id
//! from the runtime's span), readable text locally. Never logs payloads.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls do nothing. Level from `RUST_LOG`
/// (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let result = if in_lambda {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            // CloudWatch stamps each line itself.
            .without_time()
            .try_init()
    } else {
        builder.compact().try_init()
    };
    // Already installed (e.g. by a test): keep the first one.
    drop(result);
}
