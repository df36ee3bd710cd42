//! EventBridge sink: one `PutEvents` per call (≤10 entries, under 1 MiB as EventBridge counts
//! entry sizes, packed upstream). `Entries` answer in request order: an EventId means accepted,
//! an ErrorCode refused (`InternalFailure` and `ThrottlingException` are retried). The entries of
//! a call go in message order, and an ordered target sends its calls one after another.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use futures::future::BoxFuture;

use super::aws::{LazyClient, Target, call_error, entry_code_retryable, wrong_destination};
use super::results::{Answer, in_request_order, prepare, report};
use super::{Call, CallError, CallReport, Sink};
use crate::destination::{Destination, EntryParams};

#[derive(Debug)]
pub struct EventBridgeSink {
    client: LazyClient<Client>,
}

impl EventBridgeSink {
    pub fn new(client: LazyClient<Client>) -> Self {
        EventBridgeSink { client }
    }

    async fn send_call(&self, call: &Call) -> Result<CallReport, CallError> {
        let Destination::EventBridge { event_bus } = &call.destination else {
            return Err(wrong_destination("EventBridge", call));
        };
        let prepared = prepare(call, |_, e| {
            let EntryParams::EventBridge(p) = &e.params else {
                return Err("the entry has no Source or DetailType".to_owned());
            };
            // The Detail is built as JSON text when the entry is.
            let detail = e
                .payload
                .text()
                .ok_or_else(|| "the event Detail is not UTF-8 text".to_owned())?;
            Ok(PutEventsRequestEntry::builder()
                .event_bus_name(event_bus)
                .source(&p.source)
                .detail_type(&p.detail_type)
                .detail(detail)
                .set_resources((!p.resources.is_empty()).then(|| p.resources.clone()))
                .set_time(e.timestamp.map(DateTime::from_millis))
                .build())
        });
        let mut failed = prepared.failed;
        if prepared.requests.is_empty() {
            return Ok(CallReport { failed });
        }
        let output = self
            .client
            .get()
            .put_events()
            .set_entries(Some(prepared.requests))
            .send()
            .await
            .map_err(|e| {
                call_error(
                    e,
                    Target {
                        action: "events:PutEvents",
                        what: "event bus",
                        name: event_bus,
                    },
                )
            })?;
        let answers = output
            .entries()
            .iter()
            .map(|r| Answer::of(r.error_code(), r.error_message(), r.event_id().is_some()));
        failed.extend(in_request_order(
            call,
            &prepared.sent,
            answers,
            entry_code_retryable,
        ));
        Ok(report(failed))
    }
}

impl Sink for EventBridgeSink {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(self.send_call(call))
    }
}
