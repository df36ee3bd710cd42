//! Device shadow sink: `UpdateThingShadow`, one thing per call, classic or named shadow.
//! 409 Conflict (version mismatch) and 413 (document over 8 KiB) are final; 429 is retried. The
//! request is the one `aws_sdk_iotdataplane`'s `UpdateThingShadow` sent, signed and sent without
//! the SDK ([`super::signed_http`]), as IoT Core publishes are.

use aws_config::SdkConfig;
use aws_smithy_http::label::{self, EncodingStrategy};
use aws_smithy_http::query;
use bytes::Bytes;
use futures::future::BoxFuture;

use super::aws::{Target, construction_failure, send_each, wrong_destination};
use super::signed_http::{SignedHttp, Unsigned};
use super::{Body, Call, CallError, CallReport, Entry, Sink};
use crate::destination::Destination;

#[derive(Debug)]
pub struct ShadowSink {
    /// The IoT data plane, or why it cannot be reached (no region, no credentials provider,
    /// endpoint settings its rules refuse): then every update fails with that reason.
    data_plane: Result<SignedHttp, String>,
}

impl ShadowSink {
    /// Reaches the IoT data plane as an `aws_sdk_iotdataplane::Client` built from `config` did.
    pub fn new(config: &SdkConfig) -> Self {
        ShadowSink {
            data_plane: SignedHttp::iot_data(config),
        }
    }

    async fn update(
        &self,
        thing: &str,
        shadow: Option<&str>,
        entry: &Entry,
    ) -> Result<(), CallError> {
        let target = Target {
            action: "iot:UpdateThingShadow",
            what: if shadow.is_some() {
                "thing (named shadow)"
            } else {
                "thing"
            },
            name: thing,
        };
        let data_plane = self
            .data_plane
            .as_ref()
            .map_err(|reason| construction_failure(reason, target))?;
        let request = update_request(thing, shadow, &entry.payload)
            .map_err(|reason| construction_failure(reason, target))?;
        // The answer is the shadow document as the service keeps it: nothing to read.
        data_plane.call_json(request, target).await?;
        Ok(())
    }
}

impl Sink for ShadowSink {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(async move {
            let Destination::Shadow { thing, shadow } = &call.destination else {
                return Err(wrong_destination("device shadow", call));
            };
            send_each(call, |entry| self.update(thing, shadow.as_deref(), entry)).await
        })
    }
}

/// The request `aws_sdk_iotdataplane`'s `UpdateThingShadow` serializes
/// (`POST /things/{thingName}/shadow?name={shadowName}`, the document as the body), with the same
/// encodings: the thing name one label, the shadow name a query value.
fn update_request(
    thing: &str,
    shadow: Option<&str>,
    payload: &Body,
) -> Result<Unsigned, &'static str> {
    // The SDK refused an empty label before sending ("cannot be empty or unset").
    if thing.is_empty() {
        return Err("the thing name is empty");
    }
    let mut path = format!(
        "/things/{}/shadow",
        label::fmt_string(thing, EncodingStrategy::Default)
    );
    if let Some(shadow) = shadow {
        query::Writer::new(&mut path).push_kv("name", &query::fmt_string(shadow));
    }
    // Shares the entry's bytes: no copy per update.
    let body = Bytes::from_owner(payload.clone());
    Ok(Unsigned::post(path, "application/octet-stream", body))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::destination::EntryParams;
    use crate::sink::ErrorClass;
    use crate::sink::signed_http::testing::{Reply, StandIn};

    fn call(thing: &str, shadow: Option<&str>, payload: &[u8]) -> Call {
        Call {
            destination: Destination::Shadow {
                thing: thing.to_owned(),
                shadow: shadow.map(str::to_owned),
            },
            entries: vec![Entry {
                message: 0,
                target: 0,
                id: "m0".into(),
                payload: Body::from(payload),
                timestamp: None,
                params: EntryParams::Shadow,
                size: payload.len(),
            }],
        }
    }

    /// The URIs aws-sdk-iotdataplane 1.120 sent for these updates (thing, shadow, payload),
    /// taken from the SDK client on the same stand-in before the crate was removed: the thing
    /// name one label (`/`, `%` and non-ASCII encoded), the shadow name a query value.
    const SDK_REQUESTS: [(&str, Option<&str>, &[u8], &str); 6] = [
        (
            "pump-3",
            None,
            br#"{"state":{"desired":{"rpm":1200}}}"#,
            "/things/pump-3/shadow",
        ),
        (
            "pump-3",
            Some("config"),
            b"{}",
            "/things/pump-3/shadow?name=config",
        ),
        (
            "plant 1/pump#3?\u{fc}:x",
            Some("a b/c?d=e&f+\u{fc}~*'()!$,;@%"),
            b"\x00\xff",
            "/things/plant%201%2Fpump%233%3F%C3%BC%3Ax/shadow\
             ?name=a%20b%2Fc%3Fd%3De%26f%2B%C3%BC~%2A%27%28%29%21%24%2C%3B%40%25",
        ),
        ("t", Some(""), b"", "/things/t/shadow?name="),
        (
            "a.b_c-d~e",
            Some("$aws"),
            b"x",
            "/things/a.b_c-d~e/shadow?name=%24aws",
        ),
        (
            "%41%2F",
            Some("%41"),
            b"y",
            "/things/%2541%252F/shadow?name=%2541",
        ),
    ];

    #[tokio::test]
    async fn the_request_is_the_one_the_sdk_sent() {
        for (thing, shadow, payload, path) in SDK_REQUESTS {
            let stand_in = StandIn::new([Reply::status(200, "{}")]);
            let sink = ShadowSink::new(&stand_in.sdk_config("eu-west-1", None));
            let report = sink.send(&call(thing, shadow, payload)).await.unwrap();
            assert_eq!(report, CallReport::default());
            let seen = &stand_in.seen()[0];
            assert_eq!(seen.method, "POST");
            assert_eq!(
                seen.uri,
                format!("https://data-ats.iot.eu-west-1.amazonaws.com{path}")
            );
            assert_eq!(seen.body, payload);
            assert_eq!(
                seen.header("content-type"),
                Some("application/octet-stream")
            );
            assert_eq!(
                seen.header("content-length"),
                Some(payload.len().to_string().as_str())
            );
            // The SDK's request signed the same headers, and `x-amz-user-agent`, not sent here.
            let authorization = seen.header("authorization").unwrap();
            assert!(
                authorization.starts_with(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/iotdata/aws4_request, \
                     SignedHeaders=content-length;content-type;host;x-amz-date, Signature="
                ),
                "{authorization}"
            );
        }
    }

    async fn answer_to(reply: Reply) -> Result<CallReport, CallError> {
        let stand_in = StandIn::new([reply]);
        let sink = ShadowSink::new(&stand_in.sdk_config("eu-west-1", None));
        sink.send(&call("pump-3", Some("config"), b"{}")).await
    }

    /// What the SDK client gave for these answers (31 were compared before the crate was
    /// removed): class, code, and the service's message only with a code.
    #[tokio::test]
    async fn errors_are_classified_as_the_sdk_classified_them() {
        let typed = |status, code: &str, body: &str| {
            Reply::status(status, body).with_header("x-amzn-errortype", code)
        };
        let cases = [
            (
                typed(
                    409,
                    "ConflictException",
                    r#"{"message":"Version conflict"}"#,
                ),
                ErrorClass::Permanent,
                "ConflictException",
                "failed: ConflictException (Version conflict)",
            ),
            (
                typed(
                    413,
                    "RequestEntityTooLargeException",
                    r#"{"message":"too large"}"#,
                ),
                ErrorClass::Permanent,
                "RequestEntityTooLargeException",
                "(too large)",
            ),
            (
                typed(429, "ThrottlingException", r#"{"message":"Rate exceeded"}"#),
                ErrorClass::Throttled,
                "ThrottlingException",
                "(Rate exceeded)",
            ),
            (
                Reply::status(429, ""),
                ErrorClass::Throttled,
                "HTTP429",
                "failed: HTTP429",
            ),
            (
                typed(503, "ServiceUnavailableException", r#"{"message":"u"}"#),
                ErrorClass::Transient,
                "ServiceUnavailableException",
                "(u)",
            ),
            (
                Reply::status(502, "<html>bad gateway</html>"),
                ErrorClass::Transient,
                "HTTP502",
                "failed: HTTP502",
            ),
            (
                typed(
                    404,
                    "ResourceNotFoundException",
                    r#"{"message":"No shadow"}"#,
                ),
                ErrorClass::Permanent,
                "ResourceNotFoundException",
                "thing (named shadow) `pump-3` does not exist in this account and region (No shadow)",
            ),
            // Without a code the SDK kept no message.
            (
                Reply::status(403, r#"{"message":"Forbidden"}"#),
                ErrorClass::Permanent,
                "HTTP403",
                "needs `iot:UpdateThingShadow` on thing (named shadow) `pump-3`",
            ),
            (
                typed(400, "InvalidRequestException", "{\"message\": "),
                ErrorClass::Permanent,
                "HTTP400",
                "failed: HTTP400",
            ),
            (
                Reply::Drop,
                ErrorClass::Transient,
                "DispatchFailure",
                "lost the connection",
            ),
        ];
        for (reply, class, code, message) in cases {
            let e = answer_to(reply.clone()).await.unwrap_err();
            assert_eq!((e.class, e.code.as_str()), (class, code), "{reply:?}");
            assert!(e.message.ends_with(message), "{reply:?}: {}", e.message);
        }
        for body in ["", "{}", "garbage"] {
            assert_eq!(
                answer_to(Reply::status(200, body)).await.unwrap(),
                CallReport::default()
            );
        }
    }

    #[tokio::test]
    async fn updates_that_cannot_be_sent_fail_before_sending() {
        let stand_in = StandIn::new([]);
        let sink = ShadowSink::new(&stand_in.sdk_config("eu-west-1", None));
        let e = sink.send(&call("", None, b"{}")).await.unwrap_err();
        assert_eq!(
            (e.class, e.code.as_str()),
            (ErrorClass::Permanent, "ConstructionFailure")
        );
        assert!(stand_in.seen().is_empty());
        let sink = ShadowSink::new(&SdkConfig::builder().build());
        let e = sink.send(&call("pump-3", None, b"{}")).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(e.message.contains("AWS_REGION"), "{}", e.message);
    }
}
