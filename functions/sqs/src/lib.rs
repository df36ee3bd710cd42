//! fanout-sqs: an SQS batch in, one message per record through the fanout engine, and the records
//! that were not delivered out as `batchItemFailures` (so the queue retries or dead-letters them).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use fanout::app::App;
use fanout::engine::{Inbound, deadline_from_epoch_ms};
use fanout::message::{Message, MessageError};
use fanout::outcome::Report;
use lambda_runtime::{Error, LambdaEvent};

/// The handler: decode, run, encode.
pub async fn handle(app: &App, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let deadline = deadline_from_epoch_ms(event.context.deadline);
    let mut inbound = decode(&event.payload);
    if app.engine.routes().errors().is_configured() {
        for (item, record) in inbound.iter_mut().zip(&event.payload.records) {
            item.original = record.body.clone();
        }
    }
    let report = app
        .engine
        .run_invocation(inbound, &app.sinks, deadline, &event.context.request_id)
        .await;
    encode(&event.payload, &report)
}

/// One `Inbound` per record. The envelope `id` defaults to the record's messageId; on a FIFO
/// queue the record's MessageGroupId orders delivery within the batch.
pub fn decode(event: &SqsEvent) -> Vec<Inbound> {
    event
        .records
        .iter()
        .enumerate()
        .map(|(i, record)| Inbound {
            group: record.attributes.get("MessageGroupId").cloned(),
            ..Inbound::routed(
                record
                    .message_id
                    .clone()
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
    Message::decode(body, record.message_id.as_deref())
}

/// Every record not delivered (nor dropped, nor sent to the error destination) becomes a batch
/// item failure. A record without a messageId
/// cannot be named (an empty itemIdentifier fails the whole batch), so if such a record was
/// not delivered the invocation fails and the whole batch is retried.
pub fn encode(event: &SqsEvent, report: &Report) -> Result<SqsBatchResponse, Error> {
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
                return Err(format!(
                    "{} was not delivered and has no messageId to report; failing the whole batch so it is retried",
                    outcome.source_id
                )
                .into());
            }
        }
    }
    Ok(response)
}
