//! fanout-schedule: an EventBridge rule's `Scheduled Event` or an EventBridge Scheduler input
//! names a broadcast job; the job's messages go through the fanout engine; a summary comes out.

use std::borrow::Cow;

use fanout::app::App;
use fanout::engine::deadline_from_epoch_ms;
use fanout::jobs::Job;
use fanout::lambda_init::{LambdaError, diagnostic};
use fanout::message::{MessageError, check_id};
use fanout::outcome::{Report, TargetStatus};
use fanout::routes::{PLAIN_NAME_RULE, RoutingTable, is_plain_name};
use fanout::validate::ContractLimits;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

/// The fields of an inline job (shared/src/jobs.rs).
const INLINE_JOB_FIELDS: [&str; 3] = ["name", "messages", "targets"];

/// What a run did, returned to the caller and logged.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    pub job: String,
    pub run: String,
    pub messages: usize,
    /// Message × destination pairs.
    pub targets: usize,
    pub delivered: usize,
    pub failed: usize,
    pub invalid: usize,
    pub calls: usize,
    pub retries: usize,
    pub failures: Vec<Failure>,
    /// The version of the routing table the job came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes_version: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    pub retryable: bool,
    pub reason: String,
}

/// Why a run did not happen or did not finish. No variant carries a value from the event other
/// than a job name that obeys the job-name rule.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScheduleError {
    #[error(
        "the event is neither an EventBridge `Scheduled Event` nor a Scheduler input like {{\"job\": \"name\"}}"
    )]
    UnknownShape,
    #[error("`job` must be a job name or an inline job object")]
    BadJobField,
    #[error("{field} is a job name, which {PLAIN_NAME_RULE}")]
    BadJobName { field: &'static str },
    #[error("unknown job `{name}`; the routing table defines: {known}")]
    UnknownJob { name: String, known: String },
    #[error("inline job: {0}")]
    InlineJob(String),
    #[error("`{field}` names the run in message ids and logs, so it follows the id rule: {rule}")]
    BadRunId { field: &'static str, rule: String },
    #[error(
        "job `{job}` run `{run}`: {failed} of {targets} targets failed for reasons a retry may fix; failing the invocation so EventBridge retries it"
    )]
    Retryable {
        job: String,
        run: String,
        failed: usize,
        targets: usize,
    },
}

/// Which job, and the run id that makes its downstream ids unique per run but stable across retries.
struct Request<'a> {
    job: Cow<'a, Job>,
    run: String,
}

impl LambdaError for ScheduleError {
    fn error_type(&self) -> &'static str {
        match self {
            ScheduleError::UnknownShape
            | ScheduleError::BadJobField
            | ScheduleError::BadJobName { .. }
            | ScheduleError::BadRunId { .. } => "Fanout.InvalidEvent",
            ScheduleError::UnknownJob { .. } => "Fanout.UnknownJob",
            ScheduleError::InlineJob(_) => "Fanout.InvalidJob",
            ScheduleError::Retryable { .. } => "Fanout.RetryableFailure",
        }
    }
}

impl From<ScheduleError> for Diagnostic {
    fn from(error: ScheduleError) -> Diagnostic {
        diagnostic(&error)
    }
}

pub async fn handle(app: &App, event: LambdaEvent<Value>) -> Result<RunSummary, ScheduleError> {
    let deadline = deadline_from_epoch_ms(event.context.deadline);
    // One table for the whole run: the job is looked up and reported with the same version.
    let routes = app.engine.routes();
    let limits = &app.engine.config().limits;
    let request = decode(
        &routes.table,
        limits,
        &event.payload,
        &event.context.request_id,
    )?;
    let job = request.job.as_ref();
    tracing::info!(job = job.name(), run = %request.run, messages = job.message_count(), "running job");
    let report = app
        .engine
        .run_with(
            &routes,
            job.inbound(&request.run),
            &app.sinks,
            deadline,
            &event.context.request_id,
        )
        .await;
    let summary = summarize(job.name(), &request.run, &report);
    tracing::info!(
        job = %summary.job,
        run = %summary.run,
        targets = summary.targets,
        delivered = summary.delivered,
        failed = summary.failed,
        invalid = summary.invalid,
        "job done"
    );
    if summary.failures.iter().any(|f| f.retryable) {
        return Err(ScheduleError::Retryable {
            job: summary.job,
            run: summary.run,
            failed: summary.failed,
            targets: summary.targets,
        });
    }
    Ok(summary)
}

fn decode<'a>(
    table: &'a RoutingTable,
    limits: &ContractLimits,
    event: &Value,
    request_id: &str,
) -> Result<Request<'a>, ScheduleError> {
    let named = |field: &'static str, name: &str| {
        if !is_plain_name(name) {
            return Err(ScheduleError::BadJobName { field });
        }
        table.job(name).map(Cow::Borrowed).ok_or_else(|| {
            let known: Vec<&str> = table.jobs().iter().map(Job::name).collect();
            ScheduleError::UnknownJob {
                name: name.to_owned(),
                known: if known.is_empty() {
                    "(no jobs)".to_owned()
                } else {
                    known.join(", ")
                },
            }
        })
    };
    let from_field = |field: &Value| match field {
        Value::String(name) => named("`job`", name),
        Value::Object(_) => {
            check_inline_job(field)?;
            Job::parse(field, 1, limits, table.redirect())
                .map(Cow::Owned)
                .map_err(|e| ScheduleError::InlineJob(e.to_string()))
        }
        _ => Err(ScheduleError::BadJobField),
    };

    if event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
        // A rule names its job in `detail.job`, or by its own name (the last segment of
        // `arn:aws:events:<region>:<account>:rule/[<bus>/]<name>`).
        let job = match event.get("detail").and_then(|d| d.get("job")) {
            Some(field) => from_field(field)?,
            None => {
                let rule = event
                    .get("resources")
                    .and_then(Value::as_array)
                    .and_then(|r| r.first())
                    .and_then(Value::as_str)
                    .and_then(|arn| arn.rsplit('/').next())
                    .ok_or(ScheduleError::UnknownShape)?;
                named("the rule name (the end of `resources[0]`)", rule)?
            }
        };
        let run = run_id(event, "id")?.unwrap_or_else(|| request_id.to_owned());
        return Ok(Request { job, run });
    }
    let field = event.get("job").ok_or(ScheduleError::UnknownShape)?;
    Ok(Request {
        job: from_field(field)?,
        // Scheduler fills `<aws.scheduler.execution-id>` into the input when asked to.
        run: run_id(event, "runId")?.unwrap_or_else(|| request_id.to_owned()),
    })
}

/// The run id in `field`, if the event has one (`null` is none). It becomes part of every message
/// id and log line of the run, so it follows the envelope's id rule.
fn run_id(event: &Value, field: &'static str) -> Result<Option<String>, ScheduleError> {
    let bad = |rule: String| ScheduleError::BadRunId { field, rule };
    match event.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(run)) => check_id(run.clone()).map(Some).map_err(|e| match e {
            MessageError::Field { rule, .. } => bad(rule),
            other => bad(other.to_string()),
        }),
        Some(_) => Err(bad("must be a string".to_owned())),
    }
}

/// The shape of an inline job, checked before the job is parsed so that no error quotes a value
/// of the event: serde's own messages would (`invalid type: string "…", expected a sequence`).
fn check_inline_job(job: &Value) -> Result<(), ScheduleError> {
    let bad = |rule: String| ScheduleError::InlineJob(rule);
    let Value::Object(fields) = job else {
        return Err(ScheduleError::BadJobField);
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !INLINE_JOB_FIELDS.contains(&k.as_str()))
    {
        let shown = if is_plain_name(unknown) {
            format!("`{unknown}`")
        } else {
            "with a name that is not shown".to_owned()
        };
        return Err(bad(format!(
            "unknown field {shown}; an inline job has `name`, `messages` and `targets`"
        )));
    }
    match fields.get("name") {
        Some(Value::String(name)) if is_plain_name(name) => {}
        _ => return Err(bad(format!("`name` {PLAIN_NAME_RULE}"))),
    }
    for field in ["messages", "targets"] {
        match fields.get(field) {
            Some(Value::Array(items)) if items.iter().all(Value::is_object) => {}
            _ => return Err(bad(format!("`{field}` must be an array of objects"))),
        }
    }
    Ok(())
}

fn summarize(job: &str, run: &str, report: &Report) -> RunSummary {
    let mut summary = RunSummary {
        job: job.to_owned(),
        run: run.to_owned(),
        messages: report.outcomes.len(),
        targets: 0,
        delivered: 0,
        failed: 0,
        invalid: report.summary.invalid,
        calls: report.calls,
        retries: report.retries,
        failures: Vec::new(),
        routes_version: report.routes_version.as_deref().map(str::to_owned),
    };
    for outcome in &report.outcomes {
        let message = outcome
            .id
            .clone()
            .unwrap_or_else(|| outcome.source_id.clone());
        if let Some(error) = &outcome.error
            && outcome.targets.is_empty()
        {
            summary.failures.push(Failure {
                message: message.clone(),
                destination: None,
                retryable: outcome.retryable,
                reason: error.clone(),
            });
        }
        for target in &outcome.targets {
            summary.targets += 1;
            match target.status {
                TargetStatus::Delivered => summary.delivered += 1,
                TargetStatus::Failed | TargetStatus::Skipped => {
                    summary.failed += 1;
                    summary.failures.push(Failure {
                        message: message.clone(),
                        destination: Some(target.destination.to_string()),
                        retryable: target.retryable,
                        reason: target.reason.clone().unwrap_or_default(),
                    });
                }
            }
        }
    }
    summary
}
