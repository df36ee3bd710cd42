//! IoT Events Data sink: one `BatchPutMessage` per call (≤10 messages and ≤1 KiB of payload,
//! packed upstream), with `BatchPutMessageErrorEntries` mapped back to entries by messageId.
//! ResourceNotFound and InvalidRequest are final; InternalFailure, ServiceUnavailable and
//! Throttling are retried.

use aws_sdk_ioteventsdata::Client;
use aws_sdk_ioteventsdata::primitives::Blob;
use aws_sdk_ioteventsdata::types::{Message, TimestampValue};
use futures::future::BoxFuture;

use super::analytics::map_errors;
use super::aws::{Target, call_error, wrong_destination};
use super::{Call, CallError, CallReport, ErrorClass, Sink};
use crate::destination::Destination;

#[derive(Debug, Clone)]
pub struct EventsSink {
    client: Client,
}

impl EventsSink {
    pub fn new(client: Client) -> Self {
        EventsSink { client }
    }

    async fn send_call(&self, call: &Call) -> Result<CallReport, CallError> {
        let Destination::Events { input } = &call.destination else {
            return Err(wrong_destination("IoT Events", call));
        };
        // The API rejects an empty message list; nothing to send is nothing failed.
        if call.entries.is_empty() {
            return Ok(CallReport::default());
        }
        let target = Target {
            action: "iotevents:BatchPutMessage",
            what: "IoT Events input",
            name: input,
        };
        let messages = call
            .entries
            .iter()
            .map(|e| {
                Message::builder()
                    .message_id(&e.id)
                    .input_name(input)
                    .payload(Blob::new(e.payload.to_vec()))
                    .set_timestamp(
                        e.timestamp
                            .map(|t| TimestampValue::builder().time_in_millis(t).build()),
                    )
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                CallError::new(
                    ErrorClass::Permanent,
                    "ConstructionFailure",
                    format!("could not build the messages for {} `{input}`", target.what),
                )
                .with_source(e)
            })?;
        let output = self
            .client
            .batch_put_message()
            .set_messages(Some(messages))
            .send()
            .await
            .map_err(|e| call_error(e, target))?;
        let errors = output.batch_put_message_error_entries().iter().map(|e| {
            (
                e.message_id(),
                e.error_code().map_or("Unknown", |c| c.as_str()),
                e.error_message(),
            )
        });
        Ok(CallReport {
            failed: map_errors(call, errors),
        })
    }
}

impl Sink for EventsSink {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(self.send_call(call))
    }
}
