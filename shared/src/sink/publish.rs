//! IoT Core publish sink: the data plane `Publish` API, one message per call, for MQTT topics
//! and device fleets alike. MQTT 5 properties travel as the API's headers.

use aws_sdk_iotdataplane::Client;
use aws_sdk_iotdataplane::primitives::Blob;
use aws_sdk_iotdataplane::types::PayloadFormatIndicator;
use futures::future::BoxFuture;

use super::aws::{Target, call_error, send_each, wrong_destination};
use super::{Call, CallError, CallReport, Entry, Sink};
use crate::destination::{Destination, EntryParams, PublishParams};

#[derive(Debug, Clone)]
pub struct PublishSink {
    client: Client,
}

impl PublishSink {
    pub fn new(client: Client) -> Self {
        PublishSink { client }
    }

    async fn publish(&self, topic: &str, entry: &Entry) -> Result<(), CallError> {
        let default = PublishParams::default();
        let p = match &entry.params {
            EntryParams::Publish(p) => p,
            _ => &default,
        };
        self.client
            .publish()
            .topic(topic)
            .qos(i32::from(p.qos))
            .retain(p.retain)
            .payload(Blob::new(entry.payload.to_vec()))
            // The SDK base64-encodes userProperties into the x-amz-mqtt5-user-properties header.
            .set_user_properties(p.user_properties.clone())
            .set_content_type(p.content_type.clone())
            .set_response_topic(p.response_topic.clone())
            // Already base64, as the x-amz-mqtt5-correlation-data header wants it.
            .set_correlation_data(p.correlation_data.clone())
            .set_message_expiry(p.message_expiry)
            .set_payload_format_indicator(
                p.payload_format_indicator
                    .map(|f| PayloadFormatIndicator::from(f.as_str())),
            )
            .send()
            .await
            .map_err(|e| {
                call_error(
                    e,
                    Target {
                        action: "iot:Publish",
                        what: "MQTT topic",
                        name: topic,
                    },
                )
            })?;
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
