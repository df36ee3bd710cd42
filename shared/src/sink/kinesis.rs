//! Kinesis Data Streams sink: one `PutRecords` per call (≤500 records, ≤10 MiB with partition
//! keys, packed upstream). `Records` answer in request order: a SequenceNumber means accepted,
//! an ErrorCode refused. `ProvisionedThroughputExceededException` and `InternalFailure` are
//! retried; KMS errors (access denied, disabled or missing key) are not, as resending cannot
//! help, except `KMSThrottlingException`, which is throttling. Ordered streams get at most one
//! record per partition key in a call (see `batch::pack`), so a retried record is never
//! overtaken by a later record of its key.

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use futures::future::BoxFuture;

use super::aws::{LazyClient, Target, call_error, entry_code_retryable, wrong_destination};
use super::results::{Answer, in_request_order, prepare, report};
use super::{Call, CallError, CallReport, Sink};
use crate::destination::{Destination, EntryParams};

#[derive(Debug)]
pub struct KinesisSink {
    client: LazyClient<Client>,
}

/// Per-record codes worth another attempt (API reference, PutRecords: ErrorCode).
pub(crate) fn record_code_retryable(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException" | "KMSThrottlingException"
    ) || entry_code_retryable(code)
}

impl KinesisSink {
    pub fn new(client: LazyClient<Client>) -> Self {
        KinesisSink { client }
    }

    async fn send_call(&self, call: &Call) -> Result<CallReport, CallError> {
        let Destination::Kinesis { stream } = &call.destination else {
            return Err(wrong_destination("Kinesis", call));
        };
        let prepared = prepare(call, |_, e| {
            let EntryParams::Kinesis(p) = &e.params else {
                return Err("the entry has no partition key".to_owned());
            };
            PutRecordsRequestEntry::builder()
                .data(Blob::new(e.payload.to_vec()))
                .partition_key(&p.partition_key)
                .set_explicit_hash_key(p.explicit_hash_key.clone())
                .build()
                .map_err(|e| format!("could not build the Kinesis record: {e}"))
        });
        let mut failed = prepared.failed;
        if prepared.requests.is_empty() {
            return Ok(CallReport { failed });
        }
        // A target names the stream by name or by ARN; the API takes either member.
        let request = self.client.get().put_records();
        let request = if stream.starts_with("arn:") {
            request.stream_arn(stream)
        } else {
            request.stream_name(stream)
        };
        let output = request
            .set_records(Some(prepared.requests))
            .send()
            .await
            .map_err(|e| {
                call_error(
                    e,
                    Target {
                        action: "kinesis:PutRecords",
                        what: "Kinesis stream",
                        name: stream,
                    },
                )
            })?;
        let answers = output.records().iter().map(|r| {
            Answer::of(
                r.error_code(),
                r.error_message(),
                r.sequence_number().is_some(),
            )
        });
        failed.extend(in_request_order(
            call,
            &prepared.sent,
            answers,
            record_code_retryable,
        ));
        Ok(report(failed))
    }
}

impl Sink for KinesisSink {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(self.send_call(call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_and_kms_throttling_are_retried_other_kms_errors_not() {
        for code in [
            "ProvisionedThroughputExceededException",
            "InternalFailure",
            "KMSThrottlingException",
        ] {
            assert!(record_code_retryable(code), "{code}");
        }
        for code in [
            "KMSAccessDeniedException",
            "KMSDisabledException",
            "KMSNotFoundException",
            "KMSInvalidStateException",
            "KMSOptInRequired",
            "ValidationException",
        ] {
            assert!(!record_code_retryable(code), "{code}");
        }
    }
}
