//! `POST /messages`: a JSON batch of envelopes in, one result per message out (or, with
//! `?dryRun=true`, the plan: targets per message and the calls that would be made).

use std::collections::HashMap;

use fanout::engine::Inbound;
use fanout::message::{Message, MessageError};
use fanout::outcome::{Outcome, Report, Status, Summary};
use fanout::routes::RoutingTable;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::json::Fields;
use crate::query::{self, Accepted};
use crate::reply::{self, Refusal};
use crate::{HttpApp, body, deadline, request_id};

/// `?dryRun=true` (or `1`) plans instead of sending; `false`/`0` or no parameter sends.
const QUERY: Accepted = Accepted {
    flags: &["dryRun"],
    ignored: &[],
};
const DRY_RUN: &str = "dryRun";

/// Seconds a caller should wait before retrying a batch that failed only for retryable reasons.
const RETRY_AFTER_SECONDS: u32 = 2;

/// The fields of an HTTP message besides the envelope.
#[derive(Deserialize)]
struct Extra<'a> {
    #[serde(default, borrow)]
    targets: Option<&'a RawValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Results<'a> {
    request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    routes_version: Option<&'a str>,
    summary: &'a Summary,
    results: Vec<Result_<'a>>,
}

/// One message's result, in the spirit of BatchPutMessage's error entries.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Result_<'a> {
    /// Position in the request's `messages`, from 0.
    index: usize,
    #[serde(flatten)]
    outcome: &'a Outcome,
}

pub(crate) async fn handle(http: &HttpApp, req: &Request) -> Response<Body> {
    let flags = match query::read(req, &QUERY) {
        Ok(flags) => flags,
        Err(refusal) => return refusal.into_response(),
    };
    // One table for the whole request: planned, sent and reported with the same version.
    let routes = http.app.engine.routes();
    match parse(http, req, &routes.table) {
        Err(refusal) => refusal.into_response(),
        Ok(inbound) if flags.is_set(DRY_RUN) => {
            let plan = http.app.engine.plan_with(&routes, inbound);
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct DryRun {
                request_id: String,
                dry_run: bool,
                #[serde(flatten)]
                plan: fanout::engine::PlanView,
            }
            reply::json(
                200,
                &DryRun {
                    request_id: request_id(req),
                    dry_run: true,
                    plan: plan.view(),
                },
            )
        }
        Ok(inbound) => {
            let id = request_id(req);
            let report = http
                .app
                .engine
                .run_with(&routes, inbound, &http.app.sinks, deadline(req), &id)
                .await;
            respond(id, &report)
        }
    }
}

/// Size limits first (before parsing), then the batch shape; per-message problems become
/// invalid outcomes, not request errors.
fn parse(http: &HttpApp, req: &Request, routes: &RoutingTable) -> Result<Vec<Inbound>, Refusal> {
    let limits = &http.settings;
    let text = body::json_text(req, limits.max_bytes)?;
    let shape = |rule: String| {
        Refusal::new(
            400,
            "InvalidJson",
            format!("the body must be {{\"messages\": [envelope, …]}}: {rule}"),
        )
    };
    let fields = Fields::parse(&text).map_err(shape)?;
    fields.only(&["messages"], &[]).map_err(shape)?;
    let messages: Vec<&RawValue> = fields
        .required("messages", "must be an array of message envelopes")
        .map_err(shape)?;
    if messages.is_empty() {
        return Err(Refusal::new(
            400,
            "NoMessages",
            "`messages` must list at least one message",
        ));
    }
    if messages.len() > limits.max_messages {
        return Err(Refusal::new(
            413,
            "TooManyMessages",
            format!(
                "`messages` lists {} messages; this endpoint accepts at most {} per request (FANOUT_HTTP_MAX_MESSAGES)",
                messages.len(),
                limits.max_messages
            ),
        ));
    }

    let mut first_seen: HashMap<String, usize> = HashMap::with_capacity(messages.len());
    let engine_limits = &http.app.engine.config().limits;
    let keep_originals = http.app.engine.has_error_destination(routes);
    let inbound = messages
        .iter()
        .enumerate()
        .map(|(index, raw)| {
            let message = Message::decode(raw.get(), None).and_then(|msg| {
                match first_seen.get(&msg.id) {
                    Some(first) => Err(MessageError::Field {
                        field: "id",
                        rule: format!("duplicates the id of message {first} in this request; ids must be unique per request"),
                    }),
                    None => {
                        first_seen.insert(msg.id.clone(), index);
                        Ok(msg)
                    }
                }
            });
            let mut item = Inbound::routed(index.to_string(), message);
            if keep_originals {
                item.original = Some(raw.get().to_owned());
            }
            if let Ok(msg) = &item.message {
                let extra: Option<&RawValue> = serde_json::from_str::<Extra<'_>>(raw.get())
                    .ok()
                    .and_then(|e| e.targets);
                if let Some(targets) = extra {
                    match http.settings.allowed_targets.explicit_targets(targets, msg, engine_limits) {
                        Ok(targets) => item.targets = Some(targets),
                        Err(rule) => {
                            item.message = Err(MessageError::Field {
                                field: "targets",
                                rule,
                            });
                        }
                    }
                }
            }
            item
        })
        .collect();
    Ok(inbound)
}

/// 200 all delivered (or dropped by the table's default); 422 all invalid; 503 + Retry-After when nothing was delivered and every
/// failure may succeed on retry; 207 otherwise.
fn respond(request_id: String, report: &Report) -> Response<Body> {
    let s = &report.summary;
    let body = Results {
        request_id,
        routes_version: report.routes_version.as_deref(),
        summary: s,
        results: report
            .outcomes
            .iter()
            .enumerate()
            .map(|(index, outcome)| Result_ { index, outcome })
            .collect(),
    };
    let all_retryable = report
        .outcomes
        .iter()
        .filter(|o| o.status == Status::Failed)
        .all(|o| o.retryable);
    if s.delivered + s.dropped == s.messages {
        reply::json(200, &body)
    } else if s.invalid == s.messages {
        reply::json(422, &body)
    } else if s.delivered == 0 && s.invalid == 0 && all_retryable {
        reply::json_retry_after(503, &body, RETRY_AFTER_SECONDS)
    } else {
        reply::json(207, &body)
    }
}
