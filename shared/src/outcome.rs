//! Outcomes: one per source message (delivered, failed or invalid), with per-target detail and totals.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::destination::{Destination, Kind};

/// Why a dropped message went nowhere (its outcome's `error`, and its log line).
pub const DROPPED: &str =
    "no route matches this message, and the routing table's default is `drop`";

/// Where a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every target accepted it.
    Delivered,
    /// No route matched and the table's default is `drop`: acknowledged, sent nowhere, logged.
    Dropped,
    /// At least one target did not accept it; `retryable` says whether a retry may succeed.
    Failed,
    /// It can never be delivered as sent: bad envelope, no route, or a destination contract broken.
    Invalid,
}

impl Status {
    /// Whether the trigger may forget the message: it was delivered, or the table drops it.
    pub fn is_done(self) -> bool {
        matches!(self, Status::Delivered | Status::Dropped)
    }
}

/// What happened at one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetStatus {
    Delivered,
    Failed,
    /// Not sent, because an earlier message of the same ordered group failed or the deadline came.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetOutcome {
    pub route: Arc<str>,
    pub destination: Destination,
    /// How errors and logs name the target (see [`crate::destination::Target::label`]).
    #[serde(skip)]
    pub label: Option<Arc<str>>,
    pub status: TargetStatus,
    pub retryable: bool,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// The trigger's id for this message (SQS messageId, HTTP index, job name).
    pub source_id: String,
    /// The envelope id, when the envelope could be decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub status: Status,
    pub retryable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The route whose target refused an invalid message, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<Arc<str>>,
    /// That target, as errors name it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Where the message's error record was delivered: the message is then acknowledged to its
    /// trigger (not retried), its reason kept at that destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_destination: Option<String>,
    pub targets: Vec<TargetOutcome>,
}

impl Outcome {
    pub fn invalid(source_id: String, id: Option<String>, error: String) -> Self {
        Outcome {
            source_id,
            id,
            status: Status::Invalid,
            retryable: false,
            error: Some(error),
            route: None,
            target: None,
            error_destination: None,
            targets: Vec::new(),
        }
    }

    /// Whether the trigger may forget the message: it was delivered or dropped, or its error
    /// record reached the error destination.
    pub fn is_acknowledged(&self) -> bool {
        self.status.is_done() || self.error_destination.is_some()
    }

    /// A message no route matched, acknowledged because the table's default is `drop`.
    pub fn dropped(source_id: String, id: Option<String>) -> Self {
        Outcome {
            source_id,
            id,
            status: Status::Dropped,
            retryable: false,
            error: Some(DROPPED.to_owned()),
            route: None,
            target: None,
            error_destination: None,
            targets: Vec::new(),
        }
    }

    /// Builds the message's status from its targets: delivered only when every target delivered.
    pub fn from_targets(
        source_id: String,
        id: Option<String>,
        targets: Vec<TargetOutcome>,
    ) -> Self {
        let not_delivered: Vec<&TargetOutcome> = targets
            .iter()
            .filter(|t| t.status != TargetStatus::Delivered)
            .collect();
        if not_delivered.is_empty() {
            return Outcome {
                source_id,
                id,
                status: Status::Delivered,
                retryable: false,
                error: None,
                route: None,
                target: None,
                error_destination: None,
                targets,
            };
        }
        let retryable = not_delivered.iter().all(|t| t.retryable);
        let error = not_delivered
            .iter()
            .map(|t| {
                let reason = t.reason.as_deref().unwrap_or("not delivered");
                match &t.label {
                    Some(label) => format!("{label}: {reason}"),
                    None => format!("{}: {reason}", t.destination),
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        Outcome {
            source_id,
            id,
            status: Status::Failed,
            retryable,
            error: Some(error),
            route: None,
            target: None,
            error_destination: None,
            targets,
        }
    }
}

/// Counts for logs, responses and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub messages: usize,
    pub delivered: usize,
    pub dropped: usize,
    /// Invalid or permanently failed messages whose error record reached the error destination.
    pub errors_routed: usize,
    /// Error records the error destination did not take (those messages went back to the trigger).
    pub errors_failed: usize,
    pub failed: usize,
    pub invalid: usize,
    /// Per destination kind: entries delivered / failed / skipped.
    pub by_kind: BTreeMap<Kind, KindCounts>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KindCounts {
    pub delivered: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// The result of one engine run: outcomes in input order, the totals, and what the calls cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub outcomes: Vec<Outcome>,
    pub summary: Summary,
    pub calls: usize,
    pub retries: usize,
    pub throttles: usize,
    /// Wall time from the start of the run to its report, in milliseconds.
    pub send_ms: u64,
    /// The version of the routing table that routed the run (see
    /// [`crate::routes_source::LoadedTable::version`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes_version: Option<Arc<str>>,
}

impl Report {
    pub fn new(outcomes: Vec<Outcome>, calls: usize, retries: usize, throttles: usize) -> Self {
        let mut summary = Summary {
            messages: outcomes.len(),
            ..Summary::default()
        };
        for o in &outcomes {
            match o.status {
                Status::Delivered => summary.delivered += 1,
                Status::Dropped => summary.dropped += 1,
                Status::Failed => summary.failed += 1,
                Status::Invalid => summary.invalid += 1,
            }
            for t in &o.targets {
                let counts = summary.by_kind.entry(t.destination.kind()).or_default();
                match t.status {
                    TargetStatus::Delivered => counts.delivered += 1,
                    TargetStatus::Failed => counts.failed += 1,
                    TargetStatus::Skipped => counts.skipped += 1,
                }
            }
        }
        Report {
            outcomes,
            summary,
            calls,
            retries,
            throttles,
            send_ms: 0,
            routes_version: None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn target(status: TargetStatus, retryable: bool) -> TargetOutcome {
        TargetOutcome {
            route: Arc::from("r"),
            destination: Destination::Mqtt { topic: "t".into() },
            label: None,
            status,
            retryable,
            attempts: 1,
            code: None,
            reason: (status != TargetStatus::Delivered).then(|| "boom".to_owned()),
        }
    }

    #[test]
    fn delivered_only_when_every_target_delivered() {
        let o = Outcome::from_targets(
            "s".into(),
            None,
            vec![target(TargetStatus::Delivered, false)],
        );
        assert_eq!(o.status, Status::Delivered);
        let o = Outcome::from_targets(
            "s".into(),
            None,
            vec![
                target(TargetStatus::Delivered, false),
                target(TargetStatus::Failed, true),
            ],
        );
        assert_eq!(o.status, Status::Failed);
        assert!(o.retryable);
        assert_eq!(o.error.as_deref(), Some("mqtt:t: boom"));
        let o = Outcome::from_targets(
            "s".into(),
            None,
            vec![
                target(TargetStatus::Failed, true),
                target(TargetStatus::Failed, false),
            ],
        );
        assert!(
            !o.retryable,
            "one permanent failure makes the message non-retryable"
        );
    }

    #[test]
    fn summary_counts_statuses_and_kinds() {
        let r = Report::new(
            vec![
                Outcome::from_targets(
                    "a".into(),
                    None,
                    vec![target(TargetStatus::Delivered, false)],
                ),
                Outcome::invalid("b".into(), None, "bad".into()),
            ],
            1,
            0,
            0,
        );
        assert_eq!(r.summary.delivered, 1);
        assert_eq!(r.summary.invalid, 1);
        assert_eq!(r.summary.by_kind.get(&Kind::Mqtt).unwrap().delivered, 1);
    }
}
