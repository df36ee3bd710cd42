//! fanout-sqs: an SQS batch in, one message per record through the fanout engine, and the records
//! that were not delivered out as `batchItemFailures` (so the queue retries or dead-letters them).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use fanout::app::App;
use fanout::engine::{Inbound, deadline_from_epoch_ms};
use fanout::lambda_init::{LambdaError, diagnostic};
use fanout::message::{Message, MessageError};
use fanout::outcome::{Report, Status};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::json;

/// Why the whole batch fails instead of reporting batch item failures.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SqsError {
    /// An empty or unknown `itemIdentifier` fails the whole batch anyway (Lambda, partial batch
    /// responses), so the invocation fails on purpose and every record is retried.
    #[error(
        "{source_id} was not delivered and has no messageId to report; failing the whole batch so it is retried"
    )]
    Unreportable { source_id: String },
}

impl LambdaError for SqsError {
    fn error_type(&self) -> &'static str {
        match self {
            SqsError::Unreportable { .. } => "Fanout.UnreportableRecord",
        }
    }
}

impl From<SqsError> for Diagnostic {
    fn from(error: SqsError) -> Diagnostic {
        diagnostic(&error)
    }
}

/// The handler: decode, run, encode.
pub async fn handle(app: &App, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, SqsError> {
    let deadline = deadline_from_epoch_ms(event.context.deadline);
    let inbound = decode(&event.payload);
    let report = app.engine.run(inbound, &app.sinks, deadline).await;
    encode(&event.payload, &report)
}

/// One `Inbound` per record. The envelope `id` defaults to the record's messageId; on a FIFO
/// queue the record's MessageGroupId orders delivery within the batch.
pub fn decode(event: &SqsEvent) -> Vec<Inbound> {
    event
        .records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            // A messageId that breaks the id rule (empty, a control character) names nothing:
            // the message then needs its own envelope `id`, and the record is known in logs and
            // outcomes by its position.
            let message_id = record.message_id.as_deref().filter(|id| is_valid_id(id));
            Inbound {
                group: record.attributes.get("MessageGroupId").cloned(),
                ..Inbound::routed(
                    message_id.map_or_else(|| format!("record {i}"), str::to_owned),
                    decode_record(record, message_id),
                )
            }
        })
        .collect()
}

fn decode_record(record: &SqsMessage, message_id: Option<&str>) -> Result<Message, MessageError> {
    let body = record.body.as_deref().ok_or(MessageError::Field {
        field: "body",
        rule: "the SQS record has no body".to_owned(),
    })?;
    Message::decode(body, message_id)
}

/// Whether a messageId obeys the envelope's id rule (shared/src/message.rs), checked by decoding
/// it as an envelope id: only then does it stand in for a missing envelope `id`.
fn is_valid_id(id: &str) -> bool {
    Message::decode(&json!({"id": id, "payload": 0}).to_string(), None).is_ok()
}

/// Every record not delivered becomes a batch item failure. A record without a messageId
/// cannot be named (an empty itemIdentifier fails the whole batch), so if such a record was
/// not delivered the invocation fails and the whole batch is retried.
pub fn encode(event: &SqsEvent, report: &Report) -> Result<SqsBatchResponse, SqsError> {
    let mut response = SqsBatchResponse::default();
    for (record, outcome) in event.records.iter().zip(&report.outcomes) {
        if outcome.status == Status::Delivered {
            continue;
        }
        match record.message_id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id.to_owned();
                response.batch_item_failures.push(failure);
            }
            None => {
                return Err(SqsError::Unreportable {
                    source_id: outcome.source_id.clone(),
                });
            }
        }
    }
    Ok(response)
}
