//! AWS wiring: the SDK configuration, one client per service, and how SDK errors become
//! [`CallError`]s the dispatcher can act on (throttled, transient or permanent).

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::analytics::AnalyticsSink;
use super::eventbridge::EventBridgeSink;
use super::events::EventsSink;
use super::firehose::FirehoseSink;
use super::kinesis::KinesisSink;
use super::publish::PublishSink;
use super::shadow::ShadowSink;
use super::sns::SnsSink;
use super::sqs::SqsSink;
use super::{Call, CallError, CallReport, Entry, EntryFailure, ErrorClass, Sinks};

/// Loads region, credentials and endpoints the standard way: environment, profile, then the
/// Lambda/container credential providers. `AWS_ENDPOINT_URL` and the per-service
/// `AWS_ENDPOINT_URL_SNS`, `AWS_ENDPOINT_URL_IOT_DATA_PLANE`, `AWS_ENDPOINT_URL_IOTANALYTICS`,
/// `AWS_ENDPOINT_URL_IOT_EVENTS_DATA`, `AWS_ENDPOINT_URL_FIREHOSE`, `AWS_ENDPOINT_URL_KINESIS`,
/// `AWS_ENDPOINT_URL_EVENTBRIDGE` and `AWS_ENDPOINT_URL_SQS` are applied by the SDK itself when
/// each client is built from this config (service ids "SNS", "Firehose", "Kinesis",
/// "EventBridge", "SQS"), and read under the same service ids by the signed calls
/// ("IoT Data Plane", "IoTAnalytics", "IoT Events Data"; `sink::signed_http`).
pub async fn load_sdk_config() -> SdkConfig {
    sdk_config_loader().load().await
}

/// The loader behind [`load_sdk_config`], for callers that set more (tests: region, endpoint).
pub fn sdk_config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        // Rustls on ring, HTTP/1.1 only, instead of the SDK's default client (rustls on aws-lc,
        // HTTP/2 as well): ring took 2.5 MB off each function binary, HTTP/1.1 only another
        // 1.06–1.07 MB (BENCHMARKS.md, binary size). The platform's root certificates are read
        // here, at cold start, so the first call does not pay for it.
        .http_client(super::https_client::sdk_client())
        // The dispatcher owns retries (jittered backoff within the invocation deadline);
        // SDK retries underneath would multiply attempts and hide throttling from it.
        .retry_config(RetryConfig::disabled())
}

/// The AWS sinks, each client built once (clients hold the connection pool; cloning is cheap).
pub fn aws_sinks(config: &SdkConfig) -> Sinks {
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(config)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let firehose = LazyClient::new(config, |c| {
        aws_sdk_firehose::Client::from_conf(
            aws_sdk_firehose::config::Builder::from(c)
                .retry_config(RetryConfig::disabled())
                .build(),
        )
    });
    let kinesis = LazyClient::new(config, |c| {
        aws_sdk_kinesis::Client::from_conf(
            aws_sdk_kinesis::config::Builder::from(c)
                .retry_config(RetryConfig::disabled())
                .build(),
        )
    });
    let eventbridge = LazyClient::new(config, |c| {
        aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(c)
                .retry_config(RetryConfig::disabled())
                .build(),
        )
    });
    let sqs = LazyClient::new(config, |c| {
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(c)
                .retry_config(RetryConfig::disabled())
                .build(),
        )
    });
    Sinks {
        // IoT Analytics, IoT Events Data, IoT Core Publish and device shadows are signed calls
        // without the SDK orchestrator (sink::signed_http), on the credentials and connection
        // pool the clients share.
        analytics: Arc::new(AnalyticsSink::new(config)),
        events: Arc::new(EventsSink::new(config)),
        sns: Arc::new(SnsSink::new(sns)),
        publish: Arc::new(PublishSink::new(config)),
        shadow: Arc::new(ShadowSink::new(config)),
        firehose: Arc::new(FirehoseSink::new(firehose)),
        kinesis: Arc::new(KinesisSink::new(kinesis)),
        eventbridge: Arc::new(EventBridgeSink::new(eventbridge)),
        sqs: Arc::new(SqsSink::new(sqs)),
        // Built at cold start when an AccessKey is configured (`App::from_config`).
        alibaba: Arc::new(super::alibaba::NoCredentials),
    }
}

/// An SDK client built on its first call. Building a client takes about a millisecond (its
/// configuration layers and endpoint rules); the four clients of the live destinations built
/// at cold start took the functions from 6 to 11 ms to ready, past their 10 ms budget
/// (BENCHMARKS.md, cold start). Built later, each costs its first call that millisecond, once
/// per instance; they share the HTTPS client, whose root certificates are already loaded.
pub struct LazyClient<C> {
    config: SdkConfig,
    client: OnceLock<C>,
    build: fn(&SdkConfig) -> C,
}

impl<C> LazyClient<C> {
    pub fn new(config: &SdkConfig, build: fn(&SdkConfig) -> C) -> Self {
        LazyClient {
            config: config.clone(),
            client: OnceLock::new(),
            build,
        }
    }

    pub fn get(&self) -> &C {
        self.client.get_or_init(|| (self.build)(&self.config))
    }
}

impl<C> fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient")
            .field("built", &self.client.get().is_some())
            .finish()
    }
}

/// What a call does and to what, for messages a user can act on (IAM action, resource).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    /// The IAM action the call needs, e.g. `sns:Publish`.
    pub(crate) action: &'static str,
    /// What the resource is, e.g. `SNS topic`.
    pub(crate) what: &'static str,
    /// Its name: topic ARN, channel, input, MQTT topic, thing.
    pub(crate) name: &'a str,
}

/// Error codes that mean "slow down": retry after backing off. Kinesis throttles a whole
/// PutRecords with `ProvisionedThroughputExceededException` or `KMSThrottlingException`, SQS
/// with `RequestThrottled` or `KmsThrottled`, S3 (the routing table's reads) with HTTP 503
/// `SlowDown` (their API references).
const THROTTLED_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "Throttled",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "KMSThrottlingException",
    "RequestThrottled",
    "KmsThrottled",
    "SlowDown",
];

/// Error codes of a service-side fault: retry.
const TRANSIENT_CODES: &[&str] = &[
    "ServiceUnavailableException",
    "ServiceUnavailable",
    "InternalFailureException",
    "InternalFailure",
    "InternalErrorException",
    "InternalError",
    "InternalServerError",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// The class of an answer with this error code and HTTP status. The code wins over the status
/// because query-protocol services (SNS) throttle with HTTP 400 and code `Throttling`.
pub fn classify(code: Option<&str>, status: Option<u16>) -> ErrorClass {
    if let Some(code) = code {
        if THROTTLED_CODES.contains(&code) {
            return ErrorClass::Throttled;
        }
        if TRANSIENT_CODES.contains(&code) {
            return ErrorClass::Transient;
        }
    }
    match status {
        Some(429) => ErrorClass::Throttled,
        Some(s) if s >= 500 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

/// Whether a per-entry error code (IoT Analytics/Events `errorCode`) is worth retrying.
/// IoT Events documents the codes with the `Exception` suffix; accept both spellings.
pub(crate) fn entry_code_retryable(code: &str) -> bool {
    let bare = code.strip_suffix("Exception").unwrap_or(code);
    matches!(
        bare,
        "InternalFailure" | "ServiceUnavailable" | "Throttling" | "Throttled" | "InternalError"
    )
}

/// Keeps a service's error message short: it is meant for people, and must never carry a
/// whole request back into logs and responses.
pub(crate) fn short(text: &str) -> String {
    const MAX_CHARS: usize = 300;
    let mut out: String = text.chars().take(MAX_CHARS).collect();
    if text.chars().nth(MAX_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Turns an SDK error into a [`CallError`]: classified for the dispatcher, with a message
/// naming the action and the resource. Payload bytes never appear in it.
pub(crate) fn call_error<E>(err: SdkError<E, HttpResponse>, target: Target<'_>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let Target { action, what, name } = target;
    let error = match &err {
        SdkError::ConstructionFailure(_) => construction_failure(&err, target),
        SdkError::TimeoutError(_) => CallError::new(
            ErrorClass::Transient,
            "Timeout",
            format!("{action} to {what} `{name}` timed out"),
        ),
        SdkError::DispatchFailure(failure) => {
            dispatch_failure(failure.is_timeout(), failure.is_io(), target)
        }
        SdkError::ResponseError(r) => unreadable_answer(r.raw().status().as_u16(), target),
        SdkError::ServiceError(service) => service_error(
            err.code(),
            err.message(),
            service.raw().status().as_u16(),
            target,
        ),
        // SdkError is non-exhaustive.
        _ => CallError::new(
            ErrorClass::Transient,
            "SdkError",
            format!("{action} to {what} `{name}` failed: {err}"),
        ),
    };
    error.with_source(err)
}

/// A request that could not be built (a parameter no HTTP request can carry): never retried.
pub(crate) fn construction_failure(
    detail: impl std::fmt::Display,
    target: Target<'_>,
) -> CallError {
    let Target { action, what, name } = target;
    CallError::new(
        ErrorClass::Permanent,
        "ConstructionFailure",
        format!("could not build the {action} request for {what} `{name}`: {detail}"),
    )
}

/// A request that did not reach the service, or got no answer: retried.
pub(crate) fn dispatch_failure(timeout: bool, io: bool, target: Target<'_>) -> CallError {
    let Target { action, what, name } = target;
    let kind = if timeout {
        "timed out"
    } else if io {
        "failed to connect or lost the connection"
    } else {
        "could not be sent"
    };
    CallError::new(
        ErrorClass::Transient,
        "DispatchFailure",
        format!("{action} to {what} `{name}` {kind}"),
    )
}

/// An answer that could not be read: a 5xx or a cut connection more often than not.
pub(crate) fn unreadable_answer(status: u16, target: Target<'_>) -> CallError {
    let Target { action, what, name } = target;
    let class = match classify(None, Some(status)) {
        ErrorClass::Permanent if (200..300).contains(&status) => ErrorClass::Transient,
        class => class,
    };
    CallError::new(
        class,
        format!("HTTP{status}"),
        format!("{action} to {what} `{name}`: unreadable answer (HTTP {status})"),
    )
}

/// An error the service answered with: its code (or the HTTP status), classified, and its
/// message kept short.
pub(crate) fn service_error(
    code: Option<&str>,
    message: Option<&str>,
    status: u16,
    target: Target<'_>,
) -> CallError {
    let class = classify(code, Some(status));
    // Without a code the SDK clients' error is an unhandled one, which keeps no message either
    // (`…Error::unhandled`): the signed calls, which read both from the answer, drop it alike.
    let detail = code.and(message).map(short).unwrap_or_default();
    let code = code.map_or_else(|| format!("HTTP{status}"), str::to_owned);
    let message = service_message(&code, status, &detail, target);
    CallError::new(class, code, message)
}

/// The message for an error the service answered with.
fn service_message(code: &str, status: u16, detail: &str, target: Target<'_>) -> String {
    let Target { action, what, name } = target;
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    };
    let denied = status == 403
        || code.contains("AccessDenied")
        || matches!(
            code,
            "AuthorizationError" | "UnauthorizedException" | "ForbiddenException"
        );
    // SQS says `QueueDoesNotExist` (and `AWS.SimpleQueueService.NonExistentQueue` on the query
    // protocol).
    let missing = status == 404
        || code.contains("NotFound")
        || code.contains("DoesNotExist")
        || code.contains("NonExistent");
    if denied {
        format!("access denied: the function's role needs `{action}` on {what} `{name}`{detail}")
    } else if missing {
        format!("{what} `{name}` does not exist in this account and region{detail}")
    } else {
        format!("{action} to {what} `{name}` failed: {code}{detail}")
    }
}

/// Sends the entries of a call one by one, for APIs that take one message per call (IoT Core
/// Publish, UpdateThingShadow). A single-entry call fails as a whole so the dispatcher sees the
/// class directly; with several entries each failure is reported for its entry, in order.
pub(crate) async fn send_each<'a, F, Fut>(
    call: &'a Call,
    mut send: F,
) -> Result<CallReport, CallError>
where
    F: FnMut(&'a Entry) -> Fut,
    Fut: Future<Output = Result<(), CallError>>,
{
    if let [only] = call.entries.as_slice() {
        send(only).await?;
        return Ok(CallReport::default());
    }
    let mut failed = Vec::new();
    for (index, entry) in call.entries.iter().enumerate() {
        if let Err(e) = send(entry).await {
            failed.push(EntryFailure {
                index,
                retryable: e.class.retryable(),
                code: e.code,
                reason: e.message,
            });
        }
    }
    Ok(CallReport { failed })
}

/// The error for a call routed to the wrong sink: a wiring bug, never retried.
pub(crate) fn wrong_destination(sink: &str, call: &Call) -> CallError {
    CallError::new(
        ErrorClass::Permanent,
        "WrongDestination",
        format!("the {sink} sink received a call for {}", call.destination),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_code_then_status() {
        assert_eq!(
            classify(Some("ThrottlingException"), Some(400)),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify(Some("Throttling"), Some(400)),
            ErrorClass::Throttled
        );
        assert_eq!(classify(None, Some(429)), ErrorClass::Throttled);
        assert_eq!(
            classify(Some("TooManyRequestsException"), Some(429)),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify(Some("InternalFailureException"), Some(500)),
            ErrorClass::Transient
        );
        assert_eq!(
            classify(Some("ServiceUnavailableException"), Some(503)),
            ErrorClass::Transient
        );
        assert_eq!(classify(None, Some(502)), ErrorClass::Transient);
        assert_eq!(
            classify(Some("ConflictException"), Some(409)),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify(Some("RequestEntityTooLargeException"), Some(413)),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify(Some("InvalidParameter"), Some(400)),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify(Some("AccessDeniedException"), Some(403)),
            ErrorClass::Permanent
        );
    }

    #[test]
    fn entry_codes_retry_only_service_faults() {
        for code in [
            "InternalFailureException",
            "ServiceUnavailable",
            "ThrottlingException",
        ] {
            assert!(entry_code_retryable(code), "{code}");
        }
        for code in ["ResourceNotFoundException", "InvalidRequest", "Whatever"] {
            assert!(!entry_code_retryable(code), "{code}");
        }
    }

    #[test]
    fn messages_name_action_and_resource() {
        let t = Target {
            action: "sns:Publish",
            what: "SNS topic",
            name: "arn:aws:sns:us-east-1:123456789012:alerts",
        };
        let m = service_message("AuthorizationError", 403, "not allowed", t);
        assert!(m.contains("sns:Publish") && m.contains(t.name), "{m}");
        let m = service_message("NotFound", 404, "", t);
        assert!(m.contains("does not exist") && m.contains(t.name), "{m}");
        assert!(short(&"x".repeat(1000)).chars().count() <= 301);
    }

    #[test]
    fn an_answer_without_a_code_shows_no_message() {
        let t = Target {
            action: "iot:Publish",
            what: "MQTT topic",
            name: "t",
        };
        let e = service_error(None, Some("Forbidden"), 403, t);
        assert_eq!(e.code, "HTTP403");
        assert!(!e.message.contains("Forbidden"), "{}", e.message);
        let e = service_error(Some("AccessDeniedException"), Some("Forbidden"), 403, t);
        assert!(e.message.ends_with("(Forbidden)"), "{}", e.message);
    }
}
