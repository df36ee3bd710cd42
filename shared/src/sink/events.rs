//! IoT Events Data sink: one `BatchPutMessage` per call (≤10 messages and ≤1 KiB of payload,
//! packed upstream), the REST-JSON request aws-sdk-ioteventsdata sent (with
//! `timestamp.timeInMillis`), signed and sent without the SDK ([`super::signed_http`]), with
//! `BatchPutMessageErrorEntries` mapped back to entries by messageId. ResourceNotFound and
//! InvalidRequest are final; InternalFailure, ServiceUnavailable and Throttling are retried.

use aws_config::SdkConfig;
use futures::future::BoxFuture;

use super::analytics::{ErrorList, batch_put_message};
use super::aws::{Target, wrong_destination};
use super::signed_http::SignedHttp;
use super::{Call, CallError, CallReport, Sink};
use crate::destination::Destination;

#[derive(Debug)]
pub struct EventsSink {
    /// IoT Events Data, or why it cannot be reached (no region, no credentials provider,
    /// endpoint settings its rules refuse): then every call fails with that reason.
    service: Result<SignedHttp, String>,
}

impl EventsSink {
    /// Reaches IoT Events Data as an `aws_sdk_ioteventsdata::Client` built from `config` did.
    pub fn new(config: &SdkConfig) -> Self {
        EventsSink {
            service: SignedHttp::iot_events_data(config),
        }
    }
}

impl Sink for EventsSink {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(async move {
            let Destination::Events { input } = &call.destination else {
                return Err(wrong_destination("IoT Events", call));
            };
            let target = Target {
                action: "iotevents:BatchPutMessage",
                what: "IoT Events input",
                name: input,
            };
            let path = "/inputs/messages";
            batch_put_message(&self.service, path, ErrorList::Events, call, target).await
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use crate::sink::Body;

    use super::*;
    use crate::destination::EntryParams;
    use crate::sink::Entry;
    use crate::sink::signed_http::testing::{Reply, StandIn};

    fn entry(id: &str, payload: &[u8], timestamp: Option<i64>) -> Entry {
        Entry {
            message: 0,
            target: 0,
            id: id.to_owned(),
            payload: Body::from(payload),
            timestamp,
            params: EntryParams::Events,
            size: payload.len(),
        }
    }

    /// With and without timestamps, binary and escaped payloads.
    fn call() -> Call {
        Call {
            destination: Destination::Events {
                input: "overheat.detector-1".into(),
            },
            entries: vec![
                entry("m0", br#"{"t":1}"#, Some(1_732_270_000_000)),
                entry("m1", b"\x00\xff", None),
                entry("m2", br#"{"t":"\u00e9"}"#, Some(1)),
            ],
        }
    }

    /// The body aws-sdk-ioteventsdata 1.103 serialized for [`call`], taken from the SDK client
    /// before the crate was removed.
    const SDK_BODY: &str = r#"{"messages":[{"messageId":"m0","inputName":"overheat.detector-1","payload":"eyJ0IjoxfQ==","timestamp":{"timeInMillis":1732270000000}},{"messageId":"m1","inputName":"overheat.detector-1","payload":"AP8="},{"messageId":"m2","inputName":"overheat.detector-1","payload":"eyJ0IjoiXHUwMGU5In0=","timestamp":{"timeInMillis":1}}]}"#;

    #[tokio::test]
    async fn the_request_is_the_one_the_sdk_sent() {
        let stand_in = StandIn::new([Reply::status(200, "{}")]);
        let sink = EventsSink::new(&stand_in.sdk_config("eu-west-1", None));
        assert_eq!(sink.send(&call()).await.unwrap(), CallReport::default());
        let seen = &stand_in.seen()[0];
        assert_eq!(
            (seen.method.as_str(), seen.uri.as_str()),
            (
                "POST",
                "https://data.iotevents.eu-west-1.amazonaws.com/inputs/messages"
            )
        );
        assert_eq!(String::from_utf8_lossy(&seen.body), SDK_BODY);
        assert_eq!(seen.header("content-type"), Some("application/json"));
        assert_eq!(seen.header("content-length"), Some("322"));
        // The SDK's request signed the same headers, and `x-amz-user-agent`, which is not sent.
        assert_eq!(
            seen.header("authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/ioteventsdata/aws4_request, \
                 SignedHeaders=content-length;content-type;host;x-amz-date, \
                 Signature=920108ca2bce1a43aa2e65744166be028f9d30aaf7da5aa30039e14b9c9f16f8"
            )
        );
    }

    /// IoT Events Data's list is `BatchPutMessageErrorEntries`; IoT Analytics' member name is not
    /// read, and `null` in the list made the SDK refuse the answer.
    #[tokio::test]
    async fn its_own_error_list_is_read() {
        let body = r#"{"batchPutMessageErrorEntries": [{"messageId": "m0", "errorCode": "X"}],
            "BatchPutMessageErrorEntries": [{"messageId": "m1", "errorCode": "ThrottlingException"}]}"#;
        let stand_in = StandIn::new([
            Reply::status(200, body),
            Reply::status(200, r#"{"BatchPutMessageErrorEntries": [null]}"#),
        ]);
        let sink = EventsSink::new(&stand_in.sdk_config("us-east-1", None));
        let report = sink.send(&call()).await.unwrap();
        let got: Vec<(usize, &str, bool)> = report
            .failed
            .iter()
            .map(|f| (f.index, f.code.as_str(), f.retryable))
            .collect();
        assert_eq!(got, vec![(1, "ThrottlingException", true)]);
        let e = sink.send(&call()).await.unwrap_err();
        assert_eq!(e.code, "HTTP200");
    }
}
