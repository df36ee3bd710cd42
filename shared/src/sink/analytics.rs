//! IoT Analytics sink: one `BatchPutMessage` per call (≤100 messages, packed upstream), with the
//! per-message `batchPutMessageErrorEntries` mapped back to entries by messageId.

use std::collections::HashMap;

use aws_sdk_iotanalytics::Client;
use aws_sdk_iotanalytics::primitives::Blob;
use aws_sdk_iotanalytics::types::Message;
use futures::future::BoxFuture;

use super::aws::{Target, call_error, entry_code_retryable, short, wrong_destination};
use super::{Call, CallError, CallReport, EntryFailure, ErrorClass, Sink};
use crate::destination::Destination;

#[derive(Debug, Clone)]
pub struct AnalyticsSink {
    client: Client,
}

impl AnalyticsSink {
    pub fn new(client: Client) -> Self {
        AnalyticsSink { client }
    }

    async fn send_call(&self, call: &Call) -> Result<CallReport, CallError> {
        let Destination::Analytics { channel } = &call.destination else {
            return Err(wrong_destination("IoT Analytics", call));
        };
        // The API rejects an empty message list; nothing to send is nothing failed.
        if call.entries.is_empty() {
            return Ok(CallReport::default());
        }
        let target = Target {
            action: "iotanalytics:BatchPutMessage",
            what: "IoT Analytics channel",
            name: channel,
        };
        let messages = call
            .entries
            .iter()
            .map(|e| {
                Message::builder()
                    .message_id(&e.id)
                    .payload(Blob::new(e.payload.to_vec()))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                CallError::new(
                    ErrorClass::Permanent,
                    "ConstructionFailure",
                    format!(
                        "could not build the messages for {} `{channel}`",
                        target.what
                    ),
                )
                .with_source(e)
            })?;
        let output = self
            .client
            .batch_put_message()
            .channel_name(channel)
            .set_messages(Some(messages))
            .send()
            .await
            .map_err(|e| call_error(e, target))?;
        let errors = output.batch_put_message_error_entries().iter().map(|e| {
            (
                e.message_id(),
                e.error_code().unwrap_or("Unknown"),
                e.error_message(),
            )
        });
        Ok(CallReport {
            failed: map_errors(call, errors),
        })
    }
}

impl Sink for AnalyticsSink {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(self.send_call(call))
    }
}

/// Maps per-message errors `(messageId, errorCode, errorMessage)` back to entry indices.
/// Shared with IoT Events, whose error entries have the same shape.
pub(crate) fn map_errors<'a>(
    call: &Call,
    errors: impl Iterator<Item = (Option<&'a str>, &'a str, Option<&'a str>)>,
) -> Vec<EntryFailure> {
    // messageIds are unique within a batch (the services require it), so one index per id.
    let by_id: HashMap<&str, usize> = call
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    let mut failed: Vec<EntryFailure> = Vec::new();
    for (id, code, message) in errors {
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
        let detail = message.map(short).unwrap_or_default();
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
