//! Errors as Lambda reports them: a cold-start failure is logged and posted to the Runtime API's
//! `/runtime/init/error` with its readable text and an `errorType` such as `Fanout.ConfigError`,
//! then the process exits; an invocation error becomes a [`Diagnostic`] with such a type.

use std::time::Duration;

use lambda_runtime::Diagnostic;
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{PooledClient, build_request};

use crate::app::InitError;
use crate::routes_source::LoadError;

/// Runtime API, "Initialization error": `POST /runtime/init/error` with the error type in this
/// header and `{"errorMessage", "errorType"}` as the body
/// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html#runtimes-api-initerror).
const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";
const ERROR_TYPE_HEADER: &str = "Lambda-Runtime-Function-Error-Type";
/// The Runtime API is local to the execution environment; a report that takes longer than this
/// is given up, and the process still exits with the error logged.
const REPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// An error with the `errorType` Lambda shows for it; its `Display` text is the `errorMessage`.
pub trait LambdaError: std::fmt::Display {
    /// `Fanout.<What>`: stable, for filtering logs and alarms.
    fn error_type(&self) -> &'static str;
}

impl LambdaError for InitError {
    fn error_type(&self) -> &'static str {
        match self {
            InitError::Routes {
                source: LoadError::Table { .. },
                ..
            } => "Fanout.RoutingTableError",
            InitError::Routes { .. } => "Fanout.RoutingSourceError",
            InitError::Config(_) => "Fanout.ConfigError",
            InitError::Outbox { .. } => "Fanout.OutboxError",
            InitError::Alibaba(_) => "Fanout.AlibabaError",
        }
    }
}

/// What lambda_runtime posts for a failed invocation.
pub fn diagnostic(error: &dyn LambdaError) -> Diagnostic {
    Diagnostic {
        error_type: error.error_type().to_owned(),
        error_message: error.to_string(),
    }
}

/// The value of a cold-start step; on an error, logs it, reports it to the Runtime API (when
/// `AWS_LAMBDA_RUNTIME_API` is set, as in Lambda and under `cargo lambda watch`) and exits with
/// status 1. Lambda then shows the error's text and type for the failed init.
pub async fn or_exit<T, E: LambdaError>(result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => {
            let diagnostic = diagnostic(&error);
            tracing::error!(
                error_type = %diagnostic.error_type,
                "cold start failed: {}",
                diagnostic.error_message
            );
            match std::env::var("AWS_LAMBDA_RUNTIME_API") {
                Ok(api) if !api.is_empty() => {
                    if let Err(why) = report_init_error(&api, &diagnostic).await {
                        tracing::error!(
                            "could not report the init error to the Lambda Runtime API at {api}: {why}"
                        );
                    }
                }
                _ => {}
            }
            std::process::exit(1)
        }
    }
}

/// Posts `diagnostic` to the init error endpoint of the Runtime API at `api`: `host:port` in
/// Lambda, a URL with a base path under `cargo lambda watch` (`http://127.0.0.1:9000/.rt/<fn>`).
pub async fn report_init_error(api: &str, diagnostic: &Diagnostic) -> Result<(), String> {
    let endpoint = if api.contains("://") {
        api.to_owned()
    } else {
        format!("http://{api}")
    }
    .parse()
    .map_err(|e| format!("AWS_LAMBDA_RUNTIME_API is neither host:port nor a URL: {e}"))?;
    let client = PooledClient::builder().with_endpoint(endpoint).build();
    let body = serde_json::to_vec(diagnostic).map_err(|e| e.to_string())?;
    let request = build_request()
        .method("POST")
        .uri(INIT_ERROR_PATH)
        .header(ERROR_TYPE_HEADER, diagnostic.error_type.as_str())
        .header("content-type", "application/json")
        .body(Body::from(body))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(REPORT_TIMEOUT, client.call(request))
        .await
        .map_err(|_| format!("no answer within {} s", REPORT_TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("it answered HTTP {}", response.status()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// The table is loaded (and refused) before the outbox is opened.
    async fn init_error(routes: &str) -> InitError {
        let config =
            Config::from_lookup(|k| (k == "FANOUT_ROUTES").then(|| routes.to_owned())).unwrap();
        crate::app::App::from_config(config).await.err().unwrap()
    }

    #[tokio::test]
    async fn init_errors_have_a_type_and_their_readable_text() {
        let table = init_error(
            r#"{"routes": [{"name": "a", "targets": [{"type": "mqtt", "topic": "x", "qos": 2}]}]}"#,
        )
        .await;
        let d = diagnostic(&table);
        assert_eq!(d.error_type, "Fanout.RoutingTableError");
        assert!(
            d.error_message
                .starts_with("configuration: FANOUT_ROUTES: bad routing table: route \"a\""),
            "{}",
            d.error_message
        );
        assert!(
            !d.error_message.contains("Table {"),
            "the Display text, not Debug"
        );
        let missing = InitError::Config(Config::from_lookup(|_| None).err().unwrap());
        assert_eq!(diagnostic(&missing).error_type, "Fanout.ConfigError");
    }
}
