//! IoT Analytics sink: one `BatchPutMessage` per call (≤100 messages, packed upstream), the
//! REST-JSON request aws-sdk-iotanalytics sent, signed and sent without the SDK
//! ([`super::signed_http`]), with the per-message `batchPutMessageErrorEntries` mapped back to
//! entries by messageId. The `BatchPutMessage` call and its answer are shared with IoT Events.

use std::collections::HashMap;

use aws_config::SdkConfig;
use futures::future::BoxFuture;
use serde::Deserialize;

use super::aws::{
    Target, construction_failure, entry_code_retryable, service_error, short, wrong_destination,
};
use super::outbox::request_body;
use super::signed_http::{SignedHttp, Unsigned};
use super::{Call, CallError, CallReport, EntryFailure, Sink};
use crate::destination::Destination;

#[derive(Debug)]
pub struct AnalyticsSink {
    /// IoT Analytics, or why it cannot be reached (no region, no credentials provider, endpoint
    /// settings its rules refuse): then every call fails with that reason.
    service: Result<SignedHttp, String>,
}

impl AnalyticsSink {
    /// Reaches IoT Analytics as an `aws_sdk_iotanalytics::Client` built from `config` did.
    pub fn new(config: &SdkConfig) -> Self {
        AnalyticsSink {
            service: SignedHttp::iot_analytics(config),
        }
    }
}

impl Sink for AnalyticsSink {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(async move {
            let Destination::Analytics { channel } = &call.destination else {
                return Err(wrong_destination("IoT Analytics", call));
            };
            let target = Target {
                action: "iotanalytics:BatchPutMessage",
                what: "IoT Analytics channel",
                name: channel,
            };
            let path = "/messages/batch";
            batch_put_message(&self.service, path, ErrorList::Analytics, call, target).await
        })
    }
}

/// The member of a `BatchPutMessage` answer that lists the messages the service did not take.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ErrorList {
    /// IoT Analytics: `batchPutMessageErrorEntries`.
    Analytics,
    /// IoT Events Data: `BatchPutMessageErrorEntries`.
    Events,
}

/// The answer of either service's `BatchPutMessage`. Each SDK read only the member of its own
/// model and ignored any other. aws-sdk-iotanalytics 1.94 skipped `null` in the list, where
/// aws-sdk-ioteventsdata 1.103 refused the answer.
#[derive(Deserialize)]
struct BatchPutAnswer {
    #[serde(rename = "batchPutMessageErrorEntries")]
    analytics: Option<Vec<Option<ErrorEntry>>>,
    #[serde(rename = "BatchPutMessageErrorEntries")]
    events: Option<Vec<ErrorEntry>>,
}

/// One message the service did not take; every member may be missing, as in the SDKs' models.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorEntry {
    message_id: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
}

/// Sends the call's messages with `BatchPutMessage` (`POST path`, the request body the outbox
/// records for the call) and reports the messages the answer's `list` names.
pub(crate) async fn batch_put_message(
    service: &Result<SignedHttp, String>,
    path: &'static str,
    list: ErrorList,
    call: &Call,
    target: Target<'_>,
) -> Result<CallReport, CallError> {
    // The API rejects an empty message list; nothing to send is nothing failed.
    if call.entries.is_empty() {
        return Ok(CallReport::default());
    }
    let service = service
        .as_ref()
        .map_err(|reason| construction_failure(reason, target))?;
    let request = Unsigned::post(
        path.to_owned(),
        "application/json",
        request_body(call).into(),
    );
    let answer = service.call_json(request, target).await?;
    // The SDKs' parsers read an empty body as an empty object. A body they could not parse was
    // an unhandled error: the answer's status, without a code or message.
    let parsed = if answer.body().is_empty() {
        Ok(None)
    } else {
        serde_json::from_slice(answer.body()).map(|a: BatchPutAnswer| match list {
            ErrorList::Analytics => a.analytics.map(|l| l.into_iter().flatten().collect()),
            ErrorList::Events => a.events,
        })
    };
    let entries = parsed
        .map_err(|e| service_error(None, None, answer.status, target).with_source(e))?
        .unwrap_or_default();
    Ok(CallReport {
        failed: map_errors(call, &entries),
    })
}

/// Maps the answer's error entries back to entry indices by messageId.
fn map_errors(call: &Call, errors: &[ErrorEntry]) -> Vec<EntryFailure> {
    // messageIds are unique within a batch (the services require it), so one index per id.
    let by_id: HashMap<&str, usize> = call
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    let mut failed: Vec<EntryFailure> = Vec::new();
    for error in errors {
        let id = error.message_id.as_deref();
        let code = error.error_code.as_deref().unwrap_or("Unknown");
        let Some(&index) = id.and_then(|id| by_id.get(id)) else {
            tracing::warn!(
                destination = %call.destination,
                message_id = id.unwrap_or(""),
                code,
                "the service reported an error for a messageId that was not sent"
            );
            continue;
        };
        if failed.iter().any(|f| f.index == index) {
            continue;
        }
        let detail = error
            .error_message
            .as_deref()
            .map(short)
            .unwrap_or_default();
        let reason = if code.contains("NotFound") {
            format!("{} does not exist: {detail}", call.destination)
        } else if detail.is_empty() {
            format!("refused by {}", call.destination)
        } else {
            detail
        };
        failed.push(EntryFailure {
            index,
            code: code.to_owned(),
            reason,
            retryable: entry_code_retryable(code),
        });
    }
    failed.sort_by_key(|f| f.index);
    failed
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use crate::sink::Body;

    use super::*;
    use crate::destination::EntryParams;
    use crate::sink::signed_http::testing::{Reply, StandIn};
    use crate::sink::{Entry, ErrorClass};

    fn entry(id: &str, payload: &[u8]) -> Entry {
        Entry {
            message: 0,
            target: 0,
            id: id.to_owned(),
            payload: Body::from(payload),
            timestamp: None,
            params: EntryParams::Analytics,
            size: payload.len(),
        }
    }

    /// Escapes, binary and empty payloads.
    fn call() -> Call {
        Call {
            destination: Destination::Analytics {
                channel: "telemetry_1".into(),
            },
            entries: vec![
                entry("m0", br#"{"temp_01":1,"s":"\u00e9\"\\ x"}"#),
                entry("m1", b"\x00\x01\xfe\xff"),
                entry("m2", b""),
            ],
        }
    }

    /// The body aws-sdk-iotanalytics 1.94 serialized for [`call`], taken from the SDK client
    /// before the crate was removed.
    const SDK_BODY: &str = r#"{"channelName":"telemetry_1","messages":[{"messageId":"m0","payload":"eyJ0ZW1wXzAxIjoxLCJzIjoiXHUwMGU5XCJcXCB4In0="},{"messageId":"m1","payload":"AAH+/w=="},{"messageId":"m2","payload":""}]}"#;

    #[tokio::test]
    async fn the_request_is_the_one_the_sdk_sent() {
        let stand_in = StandIn::new([Reply::status(200, "{}")]);
        let sink = AnalyticsSink::new(&stand_in.sdk_config("eu-west-1", None));
        assert_eq!(sink.send(&call()).await.unwrap(), CallReport::default());
        let seen = &stand_in.seen()[0];
        assert_eq!(
            (seen.method.as_str(), seen.uri.as_str()),
            (
                "POST",
                "https://iotanalytics.eu-west-1.amazonaws.com/messages/batch"
            )
        );
        assert_eq!(String::from_utf8_lossy(&seen.body), SDK_BODY);
        assert_eq!(seen.header("content-type"), Some("application/json"));
        assert_eq!(seen.header("content-length"), Some("190"));
        // The SDK's request signed the same headers, and `x-amz-user-agent`, which is not sent.
        assert_eq!(
            seen.header("authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/iotanalytics/aws4_request, \
                 SignedHeaders=content-length;content-type;host;x-amz-date, \
                 Signature=ac9bba1a4b31e5dcd9c26403f60f6ea8749ef60b8f750f5382f0971fccbc2e95"
            )
        );
    }

    async fn answer_to(reply: Reply) -> Result<CallReport, CallError> {
        let stand_in = StandIn::new([reply]);
        let sink = AnalyticsSink::new(&stand_in.sdk_config("us-east-1", None));
        sink.send(&call()).await
    }

    #[tokio::test]
    async fn error_entries_are_mapped_to_their_messages() {
        // An escaped id, an unknown one, one without a code, a repeated one, and `null`, which
        // the SDK skipped.
        let body = r#"{"batchPutMessageErrorEntries": [
            {"messageId": "m\u0032", "errorCode": "InternalFailureException"},
            {"messageId": "nope", "errorCode": "InvalidRequestException"},
            null,
            {"messageId": "m0", "errorMessage": "bad field"},
            {"messageId": "m2", "errorCode": "InvalidRequestException", "extra": [1]}
        ], "BatchPutMessageErrorEntries": [{"messageId": "m1", "errorCode": "X"}]}"#;
        let report = answer_to(Reply::status(200, body)).await.unwrap();
        let got: Vec<(usize, &str, &str, bool)> = report
            .failed
            .iter()
            .map(|f| (f.index, f.code.as_str(), f.reason.as_str(), f.retryable))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, "Unknown", "bad field", false),
                (
                    2,
                    "InternalFailureException",
                    "refused by analytics:telemetry_1",
                    true
                ),
            ]
        );
    }

    #[tokio::test]
    async fn answers_without_a_list_are_success_and_unreadable_ones_fail() {
        for body in ["", "{}", r#"{"batchPutMessageErrorEntries": null}"#] {
            assert_eq!(
                answer_to(Reply::status(200, body)).await.unwrap(),
                CallReport::default(),
                "{body}"
            );
        }
        for body in [
            "garbage",
            "null",
            r#"{"batchPutMessageErrorEntries": [{"messageId": 5}]}"#,
        ] {
            let e = answer_to(Reply::status(200, body)).await.unwrap_err();
            assert_eq!(
                (e.class, e.code.as_str()),
                (ErrorClass::Permanent, "HTTP200")
            );
            assert!(e.source.is_some(), "{body}");
        }
    }

    #[tokio::test]
    async fn call_errors_are_classified_from_the_answer() {
        let throttled = Reply::status(400, r#"{"__type": "ThrottlingException"}"#);
        let e = answer_to(throttled).await.unwrap_err();
        assert_eq!(
            (e.class, e.code.as_str()),
            (ErrorClass::Throttled, "ThrottlingException")
        );
        let e = answer_to(Reply::status(503, "<html/>")).await.unwrap_err();
        assert_eq!(
            (e.class, e.code.as_str()),
            (ErrorClass::Transient, "HTTP503")
        );
        let e = answer_to(Reply::Drop).await.unwrap_err();
        assert_eq!(
            (e.class, e.code.as_str()),
            (ErrorClass::Transient, "DispatchFailure")
        );
    }

    #[tokio::test]
    async fn without_a_region_every_call_fails_and_says_what_to_set() {
        let sink = AnalyticsSink::new(&SdkConfig::builder().build());
        let e = sink.send(&call()).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(e.message.contains("AWS_REGION"), "{}", e.message);
        let empty = Call {
            entries: Vec::new(),
            ..call()
        };
        assert_eq!(sink.send(&empty).await.unwrap(), CallReport::default());
    }
}
