//! fanout-sqs: an SQS batch in, one message per record through the fanout engine, and the records
//! that were not delivered out as `batchItemFailures` (so the queue retries or dead-letters them).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use fanout::app::App;
use fanout::engine::{Inbound, deadline_from_epoch_ms};
use fanout::lambda_init::{LambdaError, diagnostic};
use fanout::message::{Message, MessageError, check_id};
use fanout::outcome::Report;
use lambda_runtime::{Diagnostic, LambdaEvent};

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
    let mut inbound = decode(&event.payload);
    let routes = app.engine.routes();
    if app.engine.has_error_destination(&routes.table) {
        for (item, record) in inbound.iter_mut().zip(&event.payload.records) {
            item.original = record.body.clone();
        }
    }
    let report = app
        .engine
        .run_with(
            &routes,
            inbound,
            &app.sinks,
            deadline,
            &event.context.request_id,
        )
        .await;
    encode(&event.payload, &report)
}

/// One `Inbound` per record. The envelope `id` defaults to the record's messageId (under the
/// same id rule); on a FIFO queue the record's MessageGroupId orders delivery within the batch.
pub fn decode(event: &SqsEvent) -> Vec<Inbound> {
    event
        .records
        .iter()
        .enumerate()
        .map(|(i, record)| Inbound {
            group: record.attributes.get("MessageGroupId").cloned(),
            ..Inbound::routed(
                // The source id goes into logs and outcomes: a messageId that breaks the id rule
                // (empty, a control character) is replaced by the record's position.
                record
                    .message_id
                    .clone()
                    .and_then(|id| check_id(id).ok())
                    .unwrap_or_else(|| format!("record {i}")),
                decode_record(record),
            )
        })
        .collect()
}

fn decode_record(record: &SqsMessage) -> Result<Message, MessageError> {
    let body = record.body.as_deref().ok_or(MessageError::Field {
        field: "body",
        rule: "the SQS record has no body".to_owned(),
    })?;
    // The messageId stands in for a missing envelope `id` under the id rule, so an empty one
    // makes such a message invalid.
    Message::decode(body, record.message_id.as_deref())
}

/// Every record not delivered (nor dropped, nor sent to the error destination) becomes a batch
/// item failure. A record without a messageId
/// cannot be named (an empty itemIdentifier fails the whole batch), so if such a record was
/// not delivered the invocation fails and the whole batch is retried.
pub fn encode(event: &SqsEvent, report: &Report) -> Result<SqsBatchResponse, SqsError> {
    let mut response = SqsBatchResponse::default();
    for (record, outcome) in event.records.iter().zip(&report.outcomes) {
        if outcome.is_acknowledged() {
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
