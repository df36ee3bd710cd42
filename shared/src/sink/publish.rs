//! IoT Core publish sink: the data plane `Publish` API, one message per call, for MQTT topics
//! and device fleets alike. MQTT 5 properties travel as the API's headers. The request is the one
//! `aws_sdk_iotdataplane`'s `Publish` sends, signed and sent without the SDK's orchestrator
//! ([`super::signed_http`]: one call per message made the orchestrator most of the cost).

use std::borrow::Cow;

use aws_config::SdkConfig;
use aws_smithy_http::label::{self, EncodingStrategy};
use aws_smithy_http::query;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use futures::future::BoxFuture;

use super::aws::{Target, construction_failure, send_each, wrong_destination};
use super::signed_http::{SignedHttp, Unsigned};
use super::{Body, Call, CallError, CallReport, Entry, Sink};
use crate::destination::{Destination, EntryParams, PublishParams};

#[derive(Debug)]
pub struct PublishSink {
    /// The IoT data plane, or why it cannot be reached (no region, no credentials provider):
    /// then every publish fails with that reason.
    data_plane: Result<SignedHttp, String>,
}

impl PublishSink {
    /// Reaches the IoT data plane as an `aws_sdk_iotdataplane::Client` built from `config` would.
    pub fn new(config: &SdkConfig) -> Self {
        PublishSink {
            data_plane: SignedHttp::iot_data(config),
        }
    }

    async fn publish(&self, topic: &str, entry: &Entry) -> Result<(), CallError> {
        let target = Target {
            action: "iot:Publish",
            what: "MQTT topic",
            name: topic,
        };
        let data_plane = self
            .data_plane
            .as_ref()
            .map_err(|reason| construction_failure(reason, target))?;
        let default = PublishParams::default();
        let params = match &entry.params {
            EntryParams::Publish(p) => p,
            _ => &default,
        };
        let request = publish_request(topic, params, &entry.payload)
            .map_err(|reason| construction_failure(reason, target))?;
        data_plane.call_json(request, target).await?;
        Ok(())
    }
}

impl Sink for PublishSink {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(async move {
            let (Destination::Mqtt { topic } | Destination::Fleet { topic }) = &call.destination
            else {
                return Err(wrong_destination("IoT Core publish", call));
            };
            send_each(call, |entry| self.publish(topic, entry)).await
        })
    }
}

/// The request `aws_sdk_iotdataplane`'s `Publish` serializes for these parameters
/// (`POST /topics/{topic}?qos=&retain=&contentType=&responseTopic=&messageExpiry=`, MQTT 5
/// properties in `x-amz-mqtt5-*` headers, the payload as the body), with the same encodings.
fn publish_request(
    topic: &str,
    params: &PublishParams,
    payload: &Body,
) -> Result<Unsigned, &'static str> {
    if topic.is_empty() {
        return Err("the topic is empty");
    }
    let mut path = format!(
        "/topics/{}",
        label::fmt_string(topic, EncodingStrategy::Default)
    );
    let mut query = query::Writer::new(&mut path);
    query.push_kv("qos", &params.qos.to_string());
    query.push_kv("retain", if params.retain { "true" } else { "false" });
    if let Some(content_type) = &params.content_type {
        query.push_kv("contentType", &query::fmt_string(content_type));
    }
    if let Some(response_topic) = &params.response_topic {
        query.push_kv("responseTopic", &query::fmt_string(response_topic));
    }
    if let Some(expiry) = params.message_expiry {
        query.push_kv("messageExpiry", &expiry.to_string());
    }
    // Shares the entry's bytes: no copy per publish.
    let body = Bytes::from_owner(payload.clone());
    let mut request = Unsigned::post(path, "application/octet-stream", body);
    let header = |name: &'static str, value: String| (Cow::Borrowed(name), value);
    let headers = &mut request.headers;
    if let Some(properties) = &params.user_properties {
        headers.push(header(
            "x-amz-mqtt5-user-properties",
            BASE64.encode(properties),
        ));
    }
    if let Some(format) = params.payload_format_indicator {
        headers.push(header(
            "x-amz-mqtt5-payload-format-indicator",
            format.as_str().to_owned(),
        ));
    }
    // Already base64, as the header wants it.
    if let Some(correlation) = &params.correlation_data {
        headers.push(header("x-amz-mqtt5-correlation-data", correlation.clone()));
    }
    Ok(request)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::destination::PayloadFormat;

    #[test]
    fn the_topic_is_one_encoded_label_and_options_are_query_parameters() {
        let params = PublishParams {
            qos: 1,
            content_type: Some("application/json; charset=utf-8".into()),
            response_topic: Some("replies/a b".into()),
            message_expiry: Some(60),
            ..PublishParams::default()
        };
        let r = publish_request("plant1/line 3/temp+°C", &params, &Body::from(&b"{}"[..])).unwrap();
        assert_eq!(
            r.path,
            "/topics/plant1%2Fline%203%2Ftemp%2B%C2%B0C?qos=1&retain=false\
             &contentType=application%2Fjson%3B%20charset%3Dutf-8\
             &responseTopic=replies%2Fa%20b&messageExpiry=60"
        );
        assert_eq!(r.method, "POST");
        assert_eq!(r.body.as_ref(), b"{}");
    }

    #[test]
    fn mqtt5_properties_travel_as_headers() {
        let params = PublishParams {
            user_properties: Some(r#"[{"k":"v"}]"#.into()),
            payload_format_indicator: Some(PayloadFormat::Utf8Data),
            correlation_data: Some("Y29yci0x".into()),
            ..PublishParams::default()
        };
        let r = publish_request("t", &params, &Body::from(&b"hello"[..])).unwrap();
        let header = |name: &str| {
            r.headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            header("x-amz-mqtt5-user-properties"),
            Some(BASE64.encode(r#"[{"k":"v"}]"#).as_str())
        );
        assert_eq!(
            header("x-amz-mqtt5-payload-format-indicator"),
            Some("UTF8_DATA")
        );
        assert_eq!(header("x-amz-mqtt5-correlation-data"), Some("Y29yci0x"));
        assert_eq!(header("content-length"), Some("5"));
        assert_eq!(header("content-type"), Some("application/octet-stream"));
    }

    #[test]
    fn an_empty_topic_is_refused_before_sending() {
        let payload = Body::from(&b"x"[..]);
        assert!(publish_request("", &PublishParams::default(), &payload).is_err());
    }
}
