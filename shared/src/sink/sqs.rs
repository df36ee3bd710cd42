//! SQS sink: one `SendMessageBatch` per call (≤10 entries, within the queue's maximum message
//! size in total, packed upstream). Entry Ids only need to be unique within a batch, so each
//! entry's Id is its position in the call; `Successful` and `Failed` map back through it, and
//! a `Failed` entry is retried unless `SenderFault` says the entry itself is wrong. FIFO queues
//! get the message group and the deterministic deduplication id.

use std::collections::HashMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use futures::future::BoxFuture;

use super::aws::{LazyClient, Target, call_error, wrong_destination};
use super::results::{IdFailure, by_entry_id, prepare, report};
use super::{Call, CallError, CallReport, Entry, Sink};
use crate::destination::{AttributeValue, Destination, EntryParams};

#[derive(Debug)]
pub struct SqsSink {
    client: LazyClient<Client>,
}

impl SqsSink {
    pub fn new(client: LazyClient<Client>) -> Self {
        SqsSink { client }
    }

    async fn send_call(&self, call: &Call) -> Result<CallReport, CallError> {
        let Destination::Sqs { queue_url } = &call.destination else {
            return Err(wrong_destination("SQS", call));
        };
        let prepared = prepare(call, |index, e| request_entry(index, e, &call.destination));
        let mut failed = prepared.failed;
        // SendMessageBatch needs at least one entry.
        if prepared.requests.is_empty() {
            return Ok(CallReport { failed });
        }
        let output = self
            .client
            .get()
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(prepared.requests))
            .send()
            .await
            .map_err(|e| {
                call_error(
                    e,
                    Target {
                        // SendMessageBatch is authorised by the sqs:SendMessage permission.
                        action: "sqs:SendMessage",
                        what: "SQS queue",
                        name: queue_url,
                    },
                )
            })?;
        failed.extend(by_entry_id(
            call,
            &prepared.sent,
            output.successful().iter().map(|s| s.id()),
            output.failed().iter().map(|f| IdFailure {
                id: f.id(),
                code: f.code(),
                message: f.message(),
                sender_fault: f.sender_fault(),
            }),
        ));
        Ok(report(failed))
    }
}

impl Sink for SqsSink {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(self.send_call(call))
    }
}

/// The `SendMessageBatchRequestEntry` for one entry, or why it cannot be sent.
fn request_entry(
    index: usize,
    entry: &Entry,
    destination: &Destination,
) -> Result<SendMessageBatchRequestEntry, String> {
    let EntryParams::Sqs(params) = &entry.params else {
        return Err("the entry has no SQS parameters".to_owned());
    };
    // SQS messages are text: validation turns binary payloads into base64 before this point.
    let body = entry
        .payload
        .text()
        .ok_or_else(|| "the SQS message body is not UTF-8 text".to_owned())?;
    let mut attributes = HashMap::with_capacity(params.attributes.len());
    for a in &params.attributes {
        let value = MessageAttributeValue::builder().data_type(&a.data_type);
        let value = match a.wire_value()? {
            AttributeValue::Binary(bytes) => value.binary_value(Blob::new(bytes)),
            AttributeValue::Text(text) => value.string_value(text),
        };
        let value = value
            .build()
            .map_err(|e| format!("message attribute `{}`: {e}", a.name))?;
        attributes.insert(a.name.clone(), value);
    }
    SendMessageBatchRequestEntry::builder()
        .id(index.to_string())
        .message_body(body)
        .set_delay_seconds(params.delay_seconds)
        .set_message_group_id(params.group_id.clone())
        .set_message_deduplication_id(entry.sqs_deduplication_id(destination).map(str::to_owned))
        .set_message_attributes((!attributes.is_empty()).then_some(attributes))
        .build()
        .map_err(|e| format!("could not build the SQS entry: {e}"))
}
