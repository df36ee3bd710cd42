//! Data Firehose sink: one `PutRecordBatch` per call (≤500 records, ≤4 MiB, packed upstream).
//! `RequestResponses` answer in request order: a RecordId means accepted, an ErrorCode
//! (`ServiceUnavailableException`, `InternalFailure`: both retried) refused.

use aws_sdk_firehose::Client;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use futures::future::BoxFuture;

use super::aws::{LazyClient, Target, call_error, entry_code_retryable, wrong_destination};
use super::results::{Answer, in_request_order, prepare, report};
use super::{Call, CallError, CallReport, Sink};
use crate::destination::Destination;

#[derive(Debug)]
pub struct FirehoseSink {
    client: LazyClient<Client>,
}

impl FirehoseSink {
    pub fn new(client: LazyClient<Client>) -> Self {
        FirehoseSink { client }
    }

    async fn send_call(&self, call: &Call) -> Result<CallReport, CallError> {
        let Destination::Firehose { delivery_stream } = &call.destination else {
            return Err(wrong_destination("Firehose", call));
        };
        // Each record is the payload and its delimiter, built with the entry.
        let prepared = prepare(call, |_, e| {
            Record::builder()
                .data(Blob::new(e.payload.to_vec()))
                .build()
                .map_err(|e| format!("could not build the Firehose record: {e}"))
        });
        let mut failed = prepared.failed;
        // PutRecordBatch needs at least one record.
        if prepared.requests.is_empty() {
            return Ok(CallReport { failed });
        }
        let output = self
            .client
            .get()
            .put_record_batch()
            .delivery_stream_name(delivery_stream)
            .set_records(Some(prepared.requests))
            .send()
            .await
            .map_err(|e| {
                call_error(
                    e,
                    Target {
                        action: "firehose:PutRecordBatch",
                        what: "Firehose stream",
                        name: delivery_stream,
                    },
                )
            })?;
        let answers = output
            .request_responses()
            .iter()
            .map(|r| Answer::of(r.error_code(), r.error_message(), r.record_id().is_some()));
        failed.extend(in_request_order(
            call,
            &prepared.sent,
            answers,
            entry_code_retryable,
        ));
        let counted = usize::try_from(output.failed_put_count()).unwrap_or(0);
        let refused = failed.iter().filter(|f| f.code != "InvalidEntry").count();
        if counted > refused {
            tracing::warn!(destination = %call.destination, counted, refused, "Firehose counted more failed records than it answered for");
        }
        Ok(report(failed))
    }
}

impl Sink for FirehoseSink {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(self.send_call(call))
    }
}
