//! The error destination: invalid messages (and, with `onFailure: "errors"`, messages a
//! destination refused for good) are sent once, as an error record with their reason, to the
//! routing table's `errors` target, and then acknowledged to their trigger. If that send fails,
//! the message is reported to its trigger exactly as without an error destination.

use std::time::SystemTime;

use serde::Serialize;
use serde_json::value::RawValue;
use tokio::time::Instant;

use crate::engine::{Engine, Inbound};
use crate::message::{JsonPayload, Message, Payload};
use crate::outcome::{Outcome, Report, Status};
use crate::routes::{OnFailure, RoutingTable};
use crate::sink::Sinks;

/// Bumped when a field changes meaning, so consumers of error queues can tell versions apart.
const RECORD_VERSION: u32 = 1;

/// One error record, as JSON. The original message travels verbatim when it is JSON, as text
/// otherwise; everything else says where and why it was refused.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    fanout_error: u32,
    source_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    function: &'a str,
    request_id: &'a str,
    /// RFC 3339, UTC, milliseconds.
    time: &'a str,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    /// The rule that was broken, or the destination's refusal.
    rule: &'a str,
    /// Whether sending the same message again could succeed.
    retryable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    original: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_text: Option<&'a str>,
}

/// Which outcomes get an error record under the table's settings, and where each goes.
fn wants_record(
    engine: &Engine,
    routes: &RoutingTable,
    outcome: &Outcome,
) -> Option<crate::destination::Target> {
    let errors = routes.errors();
    let route = match outcome.status {
        Status::Invalid => outcome.route.as_deref(),
        Status::Failed if errors.on_failure() == OnFailure::Errors && !outcome.retryable => outcome
            .targets
            .iter()
            .find(|t| t.status != crate::outcome::TargetStatus::Delivered)
            .map(|t| &*t.route),
        _ => return None,
    };
    errors
        .target_for(route)
        .or(engine.config().default_errors.as_ref())
        .cloned()
}

/// Sends the run's error records and marks each message whose record arrived.
pub(crate) async fn route_errors(
    engine: &Engine,
    routes: &RoutingTable,
    report: &mut Report,
    originals: &[Option<String>],
    sinks: &Sinks,
    deadline: Instant,
    request_id: &str,
) {
    let time = aws_smithy_types::DateTime::from(SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    let function = engine.config().function_name.as_str();
    let mut records = Vec::new();
    let mut positions = Vec::new();
    for (i, outcome) in report.outcomes.iter().enumerate() {
        let Some(target) = wants_record(engine, routes, outcome) else {
            continue;
        };
        let original = originals.get(i).and_then(Option::as_deref);
        let json = original.and_then(|text| serde_json::from_str::<&RawValue>(text).ok());
        let record = Record {
            fanout_error: RECORD_VERSION,
            source_id: &outcome.source_id,
            id: outcome.id.as_deref(),
            function,
            request_id,
            time: &time,
            status: outcome.status,
            route: outcome.route.as_deref().or_else(|| {
                outcome
                    .targets
                    .iter()
                    .find(|t| t.status != crate::outcome::TargetStatus::Delivered)
                    .map(|t| &*t.route)
            }),
            target: outcome.target.as_deref(),
            rule: outcome.error.as_deref().unwrap_or("not delivered"),
            retryable: outcome.retryable,
            original: json,
            original_text: if json.is_none() { original } else { None },
        };
        let Ok(text) = serde_json::to_string(&record) else {
            continue;
        };
        let Ok(payload) = JsonPayload::parse(&text) else {
            continue;
        };
        // The record's id derives from the message's, so a redelivered message produces the
        // same downstream ids (FIFO error queues deduplicate it).
        let id = format!(
            "{}:error",
            outcome.id.as_deref().unwrap_or(&outcome.source_id)
        );
        let message = Message {
            id,
            topic: None,
            attributes: serde_json::Map::new(),
            timestamp: None,
            payload: Payload::Json(payload),
        };
        records.push(Inbound {
            targets: Some(vec![target]),
            ..Inbound::routed(outcome.source_id.clone(), Ok(message))
        });
        positions.push(i);
    }
    if records.is_empty() {
        return;
    }
    let sent = engine.execute(engine.plan(records), sinks, deadline).await;
    report.calls += sent.calls;
    report.retries += sent.retries;
    report.throttles += sent.throttles;
    for (record, i) in sent.outcomes.into_iter().zip(positions) {
        let Some(outcome) = report.outcomes.get_mut(i) else {
            continue;
        };
        if record.status == Status::Delivered {
            outcome.error_destination = record.targets.first().map(|t| t.destination.to_string());
            report.summary.errors_routed += 1;
        } else {
            report.summary.errors_failed += 1;
            tracing::warn!(
                source_id = %outcome.source_id,
                id = outcome.id.as_deref().unwrap_or(""),
                reason = record.error.as_deref().unwrap_or(""),
                "error record not delivered; the message goes back to its trigger"
            );
        }
    }
}

/// Keeps the messages as delivered when an error destination may need them.
pub(crate) fn take_originals(
    engine: &Engine,
    routes: &RoutingTable,
    inbound: &mut [Inbound],
) -> Vec<Option<String>> {
    if !engine.has_error_destination(routes) {
        return Vec::new();
    }
    inbound.iter_mut().map(|i| i.original.take()).collect()
}
