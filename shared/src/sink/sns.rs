//! SNS sink: one `PublishBatch` per call (1–10 entries, ≤262,144 bytes in total, packed
//! upstream). Entry Ids only need to be unique within a batch, so each entry's Id is its index
//! in the call ("0".."9"); `Successful` and `Failed` are mapped back through it.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use aws_sdk_sns::Client;
use aws_sdk_sns::primitives::Blob;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use futures::future::BoxFuture;

use super::aws::{Target, call_error, short, wrong_destination};
use super::{Call, CallError, CallReport, Entry, EntryFailure, Sink};
use crate::destination::{AttributeValue, Destination, EntryParams, SnsParams};

#[derive(Debug)]
pub struct SnsSink {
    client: Client,
    /// Whether each FIFO topic deduplicates by content, read once per topic (GetTopicAttributes)
    /// the first time a target asks to rely on it.
    content_dedup: Mutex<HashMap<String, bool>>,
}

impl SnsSink {
    pub fn new(client: Client) -> Self {
        SnsSink {
            client,
            content_dedup: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the topic has `ContentBasedDeduplication` on. Unknown (the lookup failed, e.g. no
    /// `sns:GetTopicAttributes` grant) counts as off: the entries then carry their deterministic
    /// deduplication ids, which every FIFO topic accepts.
    async fn dedups_by_content(&self, topic_arn: &str) -> bool {
        if let Some(&known) = self
            .content_dedup
            .lock()
            .ok()
            .as_ref()
            .and_then(|m| m.get(topic_arn))
        {
            return known;
        }
        let on = match self
            .client
            .get_topic_attributes()
            .topic_arn(topic_arn)
            .send()
            .await
        {
            Ok(out) => out
                .attributes()
                .and_then(|a| a.get("ContentBasedDeduplication"))
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            Err(e) => {
                tracing::warn!(
                    topic = topic_arn,
                    error = %call_error(e, Target { action: "sns:GetTopicAttributes", what: "SNS topic", name: topic_arn }),
                    "cannot read the topic's ContentBasedDeduplication; sending deduplication ids"
                );
                false
            }
        };
        if let Ok(mut cache) = self.content_dedup.lock() {
            cache.insert(topic_arn.to_owned(), on);
        }
        on
    }

    async fn send_call(&self, call: &Call) -> Result<CallReport, CallError> {
        let Destination::Sns { topic_arn } = &call.destination else {
            return Err(wrong_destination("SNS", call));
        };
        let content_dedup = call.destination.is_fifo()
            && call.entries.iter().any(Entry::wants_content_deduplication)
            && self.dedups_by_content(topic_arn).await;
        let mut failed = Vec::new();
        let mut entries = Vec::with_capacity(call.entries.len());
        for (index, entry) in call.entries.iter().enumerate() {
            match request_entry(index, entry, &call.destination, content_dedup) {
                Ok(e) => entries.push(e),
                Err(reason) => failed.push(EntryFailure {
                    index,
                    code: "InvalidEntry".to_owned(),
                    reason,
                    retryable: false,
                }),
            }
        }
        // PublishBatch needs at least one entry.
        if entries.is_empty() {
            return Ok(CallReport { failed });
        }
        let sent: HashSet<usize> = (0..call.entries.len())
            .filter(|i| !failed.iter().any(|f| f.index == *i))
            .collect();
        let output = self
            .client
            .publish_batch()
            .topic_arn(topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                call_error(
                    e,
                    Target {
                        // PublishBatch is authorised by the sns:Publish permission.
                        action: "sns:Publish",
                        what: "SNS topic",
                        name: topic_arn,
                    },
                )
            })?;
        let mut answered: HashSet<usize> = output
            .successful()
            .iter()
            .filter_map(|s| s.id().and_then(|id| id.parse().ok()))
            .collect();
        let mut refused: HashMap<usize, EntryFailure> = HashMap::new();
        for f in output.failed() {
            let Ok(index) = f.id().parse::<usize>() else {
                tracing::warn!(destination = %call.destination, id = f.id(), "SNS reported a failure for an Id that was not sent");
                continue;
            };
            if !sent.contains(&index) {
                continue;
            }
            answered.insert(index);
            refused.entry(index).or_insert_with(|| EntryFailure {
                index,
                code: f.code().to_owned(),
                reason: f
                    .message()
                    .map_or_else(|| format!("refused by {}", call.destination), short),
                // SenderFault=true: the entry itself is wrong; resending cannot help.
                retryable: !f.sender_fault(),
            });
        }
        failed.extend(refused.into_values());
        // An entry in neither list was not confirmed: report it so it is retried, never lost.
        failed.extend(
            sent.iter()
                .filter(|i| !answered.contains(i))
                .map(|&index| EntryFailure {
                    index,
                    code: "NoResult".to_owned(),
                    reason: format!(
                        "{} answered neither success nor failure for this entry",
                        call.destination
                    ),
                    retryable: true,
                }),
        );
        failed.sort_by_key(|f| f.index);
        Ok(CallReport { failed })
    }
}

impl Sink for SnsSink {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(self.send_call(call))
    }
}

/// The `PublishBatchRequestEntry` for one entry, or why it cannot be sent.
fn request_entry(
    index: usize,
    entry: &Entry,
    destination: &Destination,
    topic_dedups_by_content: bool,
) -> Result<PublishBatchRequestEntry, String> {
    let default = const { &SnsParams::EMPTY };
    let params = match &entry.params {
        EntryParams::Sns(p) => p,
        _ => default,
    };
    // SNS messages are text: validation turns binary payloads into base64 before this point.
    let message = entry
        .payload
        .text()
        .ok_or_else(|| "the SNS message is not UTF-8 text".to_owned())?;
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
    PublishBatchRequestEntry::builder()
        .id(index.to_string())
        .message(message)
        .set_subject(params.subject.clone())
        .set_message_group_id(params.group_id.clone())
        .set_message_deduplication_id(
            entry
                .sns_deduplication_id(destination, topic_dedups_by_content)
                .map(str::to_owned),
        )
        .set_message_structure(params.message_structure_json.then(|| "json".to_owned()))
        .set_message_attributes((!attributes.is_empty()).then_some(attributes))
        .build()
        .map_err(|e| format!("could not build the SNS entry: {e}"))
}
