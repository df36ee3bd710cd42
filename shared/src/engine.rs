//! The engine: decoded messages in, one outcome per message out. Strings the pipeline together:
//! route → validate for each target → pack → dispatch → report.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::time::Instant;

use crate::batch::{self, Lane};
use crate::destination::{Destination, EntryParams, FirehoseParams, Kind, Target};
use crate::dispatch::{self, DispatchOptions, RateLimiter, RetryPolicy};
use crate::error_records;
use crate::ids;
use crate::message::{Message, MessageError, Payload};
use crate::metrics;
use crate::outcome::{DROPPED, Outcome, Report, Status, TargetOutcome, TargetStatus};
use crate::routes::{Routed, RoutingTable};
use crate::routes_source::{LiveTable, LoadedTable};
use crate::sink::{Body, Entry, Sinks};
use crate::validate::{self, ContractLimits};

/// One message as the trigger delivered it.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The trigger's id: SQS messageId, HTTP array index, schedule job.
    pub source_id: String,
    /// Ordering group (an SQS FIFO MessageGroupId): once a message of a group is not delivered,
    /// the later messages of that group are not sent.
    pub group: Option<String>,
    pub message: Result<Message, MessageError>,
    /// Targets decided by the caller (a broadcast job, a BatchPub request, allowed explicit
    /// targets); `None` lets the routing table decide. They are checked like routed targets.
    pub targets: Option<Vec<Target>>,
    /// The message as the trigger delivered it (an SQS body, one HTTP message's JSON), kept only
    /// when the table has an error destination: it goes into the message's error record.
    pub original: Option<String>,
}

impl Inbound {
    /// A message for the routing table to route.
    pub fn routed(source_id: String, message: Result<Message, MessageError>) -> Self {
        Inbound {
            source_id,
            group: None,
            message,
            targets: None,
            original: None,
        }
    }
}

/// Tunables of the engine, read once at cold start.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub limits: ContractLimits,
    pub retry: RetryPolicy,
    pub concurrency: usize,
    pub safety_margin: Duration,
    /// Device fleet publishes per second; `None` for no cap.
    pub fleet_rate: Option<f64>,
    /// Alibaba BatchPub calls per second (`FANOUT_ALIBABA_RATE`).
    pub alibaba_rate: f64,
    /// Emit CloudWatch EMF metrics under this function name; `None`: no metrics.
    pub metrics_function: Option<String>,
    /// The Lambda function's name (`local` outside Lambda), written into error records.
    pub function_name: String,
    /// Where error records go when the routing table names no `errors` target: the error queue
    /// the deployment created (`FANOUT_ERRORS_QUEUE_URL`).
    pub default_errors: Option<Target>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            limits: ContractLimits::default(),
            retry: RetryPolicy::default(),
            concurrency: 16,
            safety_margin: Duration::from_millis(500),
            fleet_rate: None,
            alibaba_rate: DEFAULT_ALIBABA_RATE,
            metrics_function: None,
            function_name: "local".to_owned(),
            default_errors: None,
        }
    }
}

/// BatchPub's quota is 50 calls per second for a whole Alibaba Cloud account, shared by its RAM
/// users (BatchPub, API reference). Each function instance keeps its own cap, and the SQS
/// function alone may run 10 at once (the template's MaxConcurrency): 5 each keeps those within
/// the account's 50. Throttled calls are retried, so a cap set too high costs retries, not data.
pub const DEFAULT_ALIBABA_RATE: f64 = 5.0;

#[derive(Debug)]
pub struct Engine {
    routes: Arc<LiveTable>,
    config: EngineConfig,
    fleet_limiter: Option<Arc<RateLimiter>>,
    alibaba_limiter: Option<Arc<RateLimiter>>,
}

/// Where each destination's entries are in a plan being built. Its keys are names rendered from
/// message values, hashed four times per message with four targets: SipHash was 3 % of the
/// routing pipeline; foldhash (seeded per process, so callers cannot choose colliding names) is
/// a fraction of it (BENCHMARKS.md, section 9).
type DestinationIndex = HashMap<Destination, usize, foldhash::fast::RandomState>;

/// What a run would do: each message's targets (or why it is invalid) and the packed calls.
#[derive(Debug, Clone)]
pub struct Plan {
    messages: Vec<PlannedMessage>,
    lanes: Vec<Lane>,
    routes_version: Option<Arc<str>>,
}

#[derive(Debug, Clone)]
struct PlannedMessage {
    source_id: String,
    id: Option<String>,
    state: Planned,
}

#[derive(Debug, Clone)]
enum Planned {
    Invalid(Refusal),
    /// No route matched and the table's default is `drop`.
    Dropped,
    Routed(Vec<Target>),
}

/// Why a message is invalid, and where it was refused when a route's target refused it.
#[derive(Debug, Clone)]
struct Refusal {
    reason: String,
    route: Option<Arc<str>>,
    target: Option<String>,
}

impl Refusal {
    fn new(reason: String) -> Self {
        Refusal {
            reason,
            route: None,
            target: None,
        }
    }
}

/// A serializable view of a plan, for dry runs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes_version: Option<Arc<str>>,
    pub messages: Vec<PlannedMessageView>,
    pub calls: Vec<CallView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedMessageView {
    pub source_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub targets: Vec<Destination>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallView {
    pub destination: Destination,
    pub ordered: bool,
    pub entries: usize,
    pub bytes: usize,
    /// Indexes of the messages in the call, in call order.
    pub messages: Vec<usize>,
}

impl Plan {
    pub fn lanes(&self) -> &[Lane] {
        &self.lanes
    }

    pub fn view(&self) -> PlanView {
        PlanView {
            routes_version: self.routes_version.clone(),
            messages: self
                .messages
                .iter()
                .map(|m| {
                    let (status, error, targets) = match &m.state {
                        Planned::Invalid(r) => ("invalid", Some(r.reason.clone()), Vec::new()),
                        Planned::Dropped => ("dropped", Some(DROPPED.to_owned()), Vec::new()),
                        Planned::Routed(ts) => (
                            "planned",
                            None,
                            ts.iter().map(|t| t.destination.clone()).collect(),
                        ),
                    };
                    PlannedMessageView {
                        source_id: m.source_id.clone(),
                        id: m.id.clone(),
                        status,
                        error,
                        targets,
                    }
                })
                .collect(),
            calls: self
                .lanes
                .iter()
                .flat_map(|lane| {
                    lane.calls.iter().map(|call| CallView {
                        destination: call.destination.clone(),
                        ordered: lane.ordered,
                        entries: call.entries.len(),
                        bytes: call.entries.iter().map(|e| e.size).sum(),
                        messages: call.entries.iter().map(|e| e.message).collect(),
                    })
                })
                .collect(),
        }
    }
}

impl Engine {
    /// An engine on a table that never changes.
    pub fn new(routes: RoutingTable, config: EngineConfig) -> Self {
        let fixed = LoadedTable {
            table: routes,
            version: None,
        };
        Engine::with_routes(Arc::new(LiveTable::fixed(fixed)), config)
    }

    /// An engine on a table that a re-read may replace (see [`LiveTable`]).
    pub fn with_routes(routes: Arc<LiveTable>, config: EngineConfig) -> Self {
        let fleet_limiter = config
            .fleet_rate
            .and_then(RateLimiter::per_second)
            .map(Arc::new);
        let alibaba_limiter = RateLimiter::per_second(config.alibaba_rate).map(Arc::new);
        Engine {
            routes,
            config,
            fleet_limiter,
            alibaba_limiter,
        }
    }

    /// The routing table one invocation uses from start to end; see [`LiveTable::current`].
    pub fn routes(&self) -> Arc<LoadedTable> {
        self.routes.current()
    }

    /// Whether invalid messages have an error destination: the table's `errors`, a route's, or
    /// the deployment's default error queue (`FANOUT_ERRORS_QUEUE_URL`).
    pub fn has_error_destination(&self, routes: &RoutingTable) -> bool {
        routes.errors().is_configured() || self.config.default_errors.is_some()
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Routes, checks and packs, without sending anything (nor looking for a new table).
    pub fn plan(&self, inbound: Vec<Inbound>) -> Plan {
        self.plan_with(&self.routes.peek(), inbound)
    }

    /// [`Engine::plan`] with a table taken earlier in the invocation.
    pub fn plan_with(&self, routes: &LoadedTable, inbound: Vec<Inbound>) -> Plan {
        let mut messages = Vec::with_capacity(inbound.len());
        // Destinations in first-seen order, so calls (and the outbox) follow message order.
        let mut index: DestinationIndex = HashMap::default();
        // Each destination's entries, and whether its calls go in order; at the slot the
        // index gives it.
        let mut buckets: Vec<(bool, Vec<Entry>)> = Vec::new();

        for (i, item) in inbound.into_iter().enumerate() {
            let (id, state) = match item.message {
                Err(e) => (None, Planned::Invalid(Refusal::new(e.to_string()))),
                Ok(msg) => {
                    let state = self.plan_message(
                        &routes.table,
                        i,
                        &msg,
                        item.targets,
                        &mut index,
                        &mut buckets,
                    );
                    (Some(msg.id), state)
                }
            };
            messages.push(PlannedMessage {
                source_id: item.source_id,
                id,
                state,
            });
        }

        // The index owns the destinations (a copy per bucket was one more allocation per
        // destination); they go back to their slots, so calls keep first-seen order.
        let mut destinations: Vec<Option<Destination>> = vec![None; buckets.len()];
        for (destination, slot) in index {
            if let Some(place) = destinations.get_mut(slot) {
                *place = Some(destination);
            }
        }
        let lanes = destinations
            .into_iter()
            .zip(buckets)
            .filter_map(|(dest, (ordered, entries))| Some(batch::pack(&dest?, entries, ordered)))
            .flatten()
            .collect();
        Plan {
            messages,
            lanes,
            routes_version: routes.version.clone(),
        }
    }

    fn plan_message(
        &self,
        table: &RoutingTable,
        index_in_batch: usize,
        msg: &Message,
        explicit: Option<Vec<Target>>,
        index: &mut DestinationIndex,
        buckets: &mut Vec<(bool, Vec<Entry>)>,
    ) -> Planned {
        let routed = match explicit {
            Some(targets) => Ok(Routed::Targets(targets)),
            None => table.route(msg),
        };
        let targets = match routed {
            Err(e) => {
                return Planned::Invalid(Refusal {
                    reason: e.to_string(),
                    target: Some(format!(
                        "route \"{}\" target {} ({})",
                        e.route, e.target, e.kind
                    )),
                    route: Some(Arc::from(e.route)),
                });
            }
            Ok(Routed::Rejected) => {
                return Planned::Invalid(Refusal::new(
                    "no route matches this message, and the routing table's default is `reject`"
                        .to_owned(),
                ));
            }
            Ok(Routed::Dropped) => return Planned::Dropped,
            Ok(Routed::Targets(targets)) => targets,
        };
        // A message is checked against every target before any entry exists, so an invalid
        // message never reaches a destination.
        if let Some((target, err)) = targets.iter().find_map(|t| {
            validate::check(msg, t, &self.config.limits)
                .err()
                .map(|e| (t, e))
        }) {
            return Planned::Invalid(Refusal {
                reason: err.to_string(),
                route: Some(Arc::clone(&target.route)),
                target: Some(target.label().into_owned()),
            });
        }
        // The payload as one body for every target that sends it unchanged, so a form of it
        // written for one (its base64, its JSON string) is made once.
        let mut body = None;
        for (position, target) in targets.iter().enumerate() {
            let entry = build_entry(index_in_batch, position, msg, target, &mut body);
            let slot = match index.get(&target.destination) {
                Some(&slot) => slot,
                None => {
                    index.insert(target.destination.clone(), buckets.len());
                    buckets.push((false, Vec::new()));
                    buckets.len() - 1
                }
            };
            if let Some((ordered, entries)) = buckets.get_mut(slot) {
                *ordered |= target.ordered;
                entries.push(entry);
            }
        }
        Planned::Routed(targets)
    }

    /// Sends a plan and reports one outcome per planned message, in order.
    pub async fn execute(&self, plan: Plan, sinks: &Sinks, deadline: Instant) -> Report {
        let opts = DispatchOptions {
            retry: self.config.retry,
            concurrency: self.config.concurrency,
            deadline,
            safety_margin: self.config.safety_margin,
            fleet_rate: self.fleet_limiter.clone(),
            alibaba_rate: self.alibaba_limiter.clone(),
        };
        let results = dispatch::dispatch(plan.lanes, sinks, &opts).await;

        let mut per_message: Vec<Vec<Option<TargetOutcome>>> = plan
            .messages
            .iter()
            .map(|m| match &m.state {
                Planned::Routed(ts) => vec![None; ts.len()],
                Planned::Invalid(_) | Planned::Dropped => Vec::new(),
            })
            .collect();
        let (mut calls, mut retries, mut throttles) = (0, 0, 0);
        for lane in results {
            calls += lane.calls;
            retries += lane.retries;
            throttles += lane.throttles;
            for r in lane.entries {
                let (
                    Some(slots),
                    Some(PlannedMessage {
                        state: Planned::Routed(targets),
                        ..
                    }),
                ) = (per_message.get_mut(r.message), plan.messages.get(r.message))
                else {
                    continue;
                };
                if let Some(target) = targets.get(r.target)
                    && target.destination == lane.destination
                    && let Some(slot) = slots.get_mut(r.target)
                {
                    *slot = Some(TargetOutcome {
                        route: target.route.clone(),
                        destination: target.destination.clone(),
                        label: target.label.clone(),
                        status: r.status,
                        retryable: r.retryable,
                        attempts: r.attempts,
                        code: r.code,
                        reason: r.reason,
                    });
                }
            }
        }

        let outcomes = plan
            .messages
            .into_iter()
            .zip(per_message)
            .map(|(m, slots)| match m.state {
                Planned::Invalid(r) => Outcome {
                    route: r.route,
                    target: r.target,
                    ..Outcome::invalid(m.source_id, m.id, r.reason)
                },
                Planned::Dropped => Outcome::dropped(m.source_id, m.id),
                Planned::Routed(targets) => {
                    let targets = targets
                        .into_iter()
                        .zip(slots)
                        .map(|(t, slot)| {
                            // Every entry is reported by dispatch; this guards the accounting
                            // so a bug can only fail a message, never lose it.
                            slot.unwrap_or_else(|| TargetOutcome {
                                route: t.route,
                                destination: t.destination,
                                label: t.label,
                                status: TargetStatus::Failed,
                                retryable: true,
                                attempts: 0,
                                code: None,
                                reason: Some("no result was recorded for this target".to_owned()),
                            })
                        })
                        .collect();
                    Outcome::from_targets(m.source_id, m.id, targets)
                }
            })
            .collect();
        Report::new(outcomes, calls, retries, throttles)
    }

    /// Plans and sends a batch. Messages with an ordering group go in waves (the first message
    /// of each group, then the second, …) so a message is only sent after the earlier messages
    /// of its group were delivered. Logs each message that was not delivered, once.
    pub async fn run(&self, inbound: Vec<Inbound>, sinks: &Sinks, deadline: Instant) -> Report {
        self.run_with(&self.routes(), inbound, sinks, deadline, "")
            .await
    }

    /// [`Engine::run`] for one Lambda invocation, with the table taken at its start and its
    /// request id, which goes into error records. Invalid messages (and, with `onFailure:
    /// "errors"`, permanently failed ones) are then sent to the error destination; a message
    /// whose record arrived is acknowledged to its trigger.
    pub async fn run_with(
        &self,
        routes: &LoadedTable,
        mut inbound: Vec<Inbound>,
        sinks: &Sinks,
        deadline: Instant,
        request_id: &str,
    ) -> Report {
        let started = Instant::now();
        let originals = error_records::take_originals(self, &routes.table, &mut inbound);
        let mut report = if inbound.iter().all(|m| m.group.is_none()) {
            self.execute(self.plan_with(routes, inbound), sinks, deadline)
                .await
        } else {
            self.run_in_waves(routes, inbound, sinks, deadline).await
        };
        if self.has_error_destination(&routes.table) {
            error_records::route_errors(
                self,
                &routes.table,
                &mut report,
                &originals,
                sinks,
                deadline,
                request_id,
            )
            .await;
        }
        report.send_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        report.routes_version = routes.version.clone();
        log_outcomes(&report);
        if let Some(function) = &self.config.metrics_function {
            metrics::emit(&report, function);
        }
        let margin = self.config.safety_margin;
        self.routes
            .settle(deadline.checked_sub(margin).unwrap_or(deadline))
            .await;
        report
    }

    async fn run_in_waves(
        &self,
        routes: &LoadedTable,
        inbound: Vec<Inbound>,
        sinks: &Sinks,
        deadline: Instant,
    ) -> Report {
        let mut waves: Vec<Vec<(usize, Inbound)>> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, item) in inbound.into_iter().enumerate() {
            let wave = match &item.group {
                None => 0,
                Some(g) => {
                    let n = seen.entry(g.clone()).or_insert(0);
                    *n += 1;
                    *n - 1
                }
            };
            if waves.len() <= wave {
                waves.resize_with(wave + 1, Vec::new);
            }
            if let Some(w) = waves.get_mut(wave) {
                w.push((i, item));
            }
        }

        let total = waves.iter().map(Vec::len).sum();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; total];
        let mut failed_groups: HashSet<String> = HashSet::new();
        let (mut calls, mut retries, mut throttles) = (0, 0, 0);
        for wave in waves {
            let mut positions = Vec::with_capacity(wave.len());
            let mut batch = Vec::with_capacity(wave.len());
            let mut groups = Vec::with_capacity(wave.len());
            for (i, item) in wave {
                if item
                    .group
                    .as_ref()
                    .is_some_and(|g| failed_groups.contains(g))
                {
                    if let Some(slot) = outcomes.get_mut(i) {
                        *slot = Some(skipped_for_group(item));
                    }
                } else {
                    positions.push(i);
                    groups.push(item.group.clone());
                    batch.push(item);
                }
            }
            if batch.is_empty() {
                continue;
            }
            let report = self
                .execute(self.plan_with(routes, batch), sinks, deadline)
                .await;
            calls += report.calls;
            retries += report.retries;
            throttles += report.throttles;
            for ((outcome, i), group) in report.outcomes.into_iter().zip(positions).zip(groups) {
                if !outcome.status.is_done()
                    && let Some(g) = group
                {
                    failed_groups.insert(g);
                }
                if let Some(slot) = outcomes.get_mut(i) {
                    *slot = Some(outcome);
                }
            }
        }
        let outcomes = outcomes
            .into_iter()
            .enumerate()
            .map(|(i, o)| {
                o.unwrap_or_else(|| Outcome {
                    source_id: i.to_string(),
                    id: None,
                    status: Status::Failed,
                    retryable: true,
                    error: Some("no outcome was recorded for this message".to_owned()),
                    targets: Vec::new(),
                    route: None,
                    target: None,
                    error_destination: None,
                })
            })
            .collect();
        Report::new(outcomes, calls, retries, throttles)
    }
}

fn skipped_for_group(item: Inbound) -> Outcome {
    let group = item.group.unwrap_or_default();
    Outcome {
        source_id: item.source_id,
        id: item.message.ok().map(|m| m.id),
        status: Status::Failed,
        retryable: true,
        error: Some(format!(
            "not sent: an earlier message of group `{group}` in this batch was not delivered"
        )),
        targets: Vec::new(),
        route: None,
        target: None,
        error_destination: None,
    }
}

fn log_outcomes(report: &Report) {
    for o in &report.outcomes {
        match o.status {
            Status::Delivered => {}
            Status::Dropped => tracing::info!(
                source_id = %o.source_id,
                id = o.id.as_deref().unwrap_or(""),
                reason = DROPPED,
                "message dropped"
            ),
            Status::Failed => tracing::warn!(
                source_id = %o.source_id,
                id = o.id.as_deref().unwrap_or(""),
                retryable = o.retryable,
                error_destination = o.error_destination.as_deref().unwrap_or(""),
                reason = o.error.as_deref().unwrap_or(""),
                "message failed"
            ),
            Status::Invalid => tracing::warn!(
                source_id = %o.source_id,
                id = o.id.as_deref().unwrap_or(""),
                reason = o.error.as_deref().unwrap_or(""),
                error_destination = o.error_destination.as_deref().unwrap_or(""),
                "message invalid"
            ),
        }
    }
    let s = &report.summary;
    tracing::info!(
        messages = s.messages,
        delivered = s.delivered,
        dropped = s.dropped,
        failed = s.failed,
        errors_routed = s.errors_routed,
        errors_failed = s.errors_failed,
        invalid = s.invalid,
        calls = report.calls,
        retries = report.retries,
        throttles = report.throttles,
        routes_version = report.routes_version.as_deref().unwrap_or(""),
        "batch done"
    );
}

/// The entry one message contributes to one target's call.
fn build_entry(
    index_in_batch: usize,
    position: usize,
    msg: &Message,
    target: &Target,
    body: &mut Option<Body>,
) -> Entry {
    let kind = target.destination.kind();
    let id = match kind {
        Kind::Analytics | Kind::Events | Kind::Sns | Kind::Sqs => {
            ids::downstream_id(&msg.id, &target.destination)
        }
        Kind::Mqtt
        | Kind::Fleet
        | Kind::Shadow
        | Kind::Firehose
        | Kind::Kinesis
        | Kind::EventBridge
        | Kind::Alibaba => msg.id.clone(),
    };
    // SNS and SQS messages are text: JSON payloads go as they are (sharing the message's
    // buffer), binary ones as base64. Firehose records carry their delimiter, EventBridge
    // entries their Detail.
    let payload = match (&msg.payload, &target.params) {
        (Payload::Binary(_), EntryParams::Sns(_) | EntryParams::Sqs(_)) => {
            Body::from(validate::sns_body(&msg.payload).into_owned())
        }
        (_, EntryParams::Firehose(p)) => Body::from(firehose_record(&msg.payload, p)),
        (_, EntryParams::EventBridge(p)) => Body::from(validate::eventbridge_detail(msg, p.detail)),
        _ => body.get_or_insert_with(|| msg.payload.body()).clone(),
    };
    let size = match &target.params {
        EntryParams::Sns(p) => payload.len() + p.attributes.iter().map(|a| a.size()).sum::<usize>(),
        EntryParams::Sqs(p) => validate::sqs_message_len(&msg.payload, &p.attributes),
        EntryParams::Kinesis(p) => validate::kinesis_record_len(&msg.payload, p),
        EntryParams::Firehose(p) => validate::firehose_record_len(&msg.payload, p),
        EntryParams::EventBridge(p) => {
            validate::eventbridge_entry_size(p, msg.timestamp.is_some(), payload.len())
        }
        _ => payload.len(),
    };
    Entry {
        message: index_in_batch,
        target: position,
        id,
        payload,
        timestamp: msg.timestamp,
        params: target.params.clone(),
        size,
    }
}

/// A Firehose record: the payload, then its delimiter. A JSON payload can hold line breaks only
/// as whitespace between tokens (JSON strings cannot hold raw control characters), so with a
/// line-break delimiter they become spaces: each record stays one line of newline-delimited
/// JSON, and means the same.
fn firehose_record(payload: &Payload, params: &FirehoseParams) -> Vec<u8> {
    let json = matches!(payload, Payload::Json(_));
    let delimiter = params.delimiter_for(json).as_bytes();
    let breaks_lines = delimiter.iter().any(|b| matches!(b, b'\n' | b'\r'));
    let mut record = Vec::with_capacity(payload.len() + delimiter.len());
    record.extend(payload.bytes().iter().map(|&b| match b {
        b'\n' | b'\r' if json && breaks_lines => b' ',
        other => other,
    }));
    record.extend_from_slice(delimiter);
    record
}

/// Lambda's longest timeout (900 s): the budget when no usable deadline is given.
const MAX_LAMBDA_TIMEOUT_MS: u64 = 900_000;
/// Any real deadline is after this instant (2001-09-09); smaller values are durations.
const EPOCH_FLOOR_MS: u64 = 1_000_000_000_000;

/// Converts Lambda's deadline (milliseconds since the Unix epoch) to a monotonic instant.
/// 0 means "not given" (a hand-built context): then Lambda's longest timeout applies.
/// `cargo lambda watch` (1.9) sends the function timeout itself (e.g. 600000) instead of an
/// epoch time; such a value is read as the time remaining, so local runs are not starved.
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Instant {
    let remaining_ms = match deadline_ms {
        0 => MAX_LAMBDA_TIMEOUT_MS,
        relative if relative < EPOCH_FLOOR_MS => relative.min(MAX_LAMBDA_TIMEOUT_MS),
        epoch => {
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            epoch.saturating_sub(now_ms)
        }
    };
    tracing::debug!(deadline_ms, remaining_ms, "invocation deadline");
    Instant::now() + Duration::from_millis(remaining_ms)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn firehose_records_are_one_line_of_json_each() {
        let json =
            Message::decode("{\"id\": \"m\", \"payload\": {\"a\":\r\n [1,\n 2]}}", None).unwrap();
        let newline = FirehoseParams::default();
        assert_eq!(
            &*firehose_record(&json.payload, &newline),
            b"{\"a\":   [1,  2]}\n"
        );
        let bar = FirehoseParams {
            delimiter: Some("|".into()),
        };
        assert_eq!(
            &*firehose_record(&json.payload, &bar),
            b"{\"a\":\r\n [1,\n 2]}|",
            "kept as sent when the delimiter is no line break"
        );
        let binary = Message::decode(r#"{"id": "b", "payloadBase64": "Cg=="}"#, None).unwrap();
        assert_eq!(&*firehose_record(&binary.payload, &newline), b"\n");
    }

    #[test]
    fn dry_runs_show_each_batchpub_call_and_its_devices() {
        let devices: Vec<String> = (1..=250).map(|i| format!("dev-{i:03}")).collect();
        let table = serde_json::json!({"routes": [{"name": "cn", "targets": [{"type": "alibaba",
            "region": "cn-shanghai", "productKey": "a1BwAGV", "devices": devices, "topicShortName": "get"}]}]});
        let limits = ContractLimits::default();
        let engine = Engine::new(
            RoutingTable::from_json(&table.to_string(), &limits).unwrap(),
            EngineConfig::default(),
        );
        let plan = engine.plan(vec![Inbound::routed(
            "0".into(),
            Message::decode(r#"{"id": "m-1", "payload": {"a": 1}}"#, None),
        )]);
        let view = serde_json::to_value(plan.view()).unwrap();
        let calls = view["calls"].as_array().unwrap();
        let sizes: Vec<usize> = calls
            .iter()
            .map(|c| c["destination"]["devices"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!(
            calls[2]["destination"],
            serde_json::json!({"kind": "alibaba", "region": "cn-shanghai", "productKey": "a1BwAGV",
                "topicShortName": "get", "devices": devices[200..]})
        );
        assert!(calls.iter().all(|c| c["entries"] == 1 && c["bytes"] == 8));
        assert_eq!(view["messages"][0]["targets"].as_array().unwrap().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_from_lambda_and_from_local_emulators() {
        let now = Instant::now();
        assert_eq!(deadline_from_epoch_ms(0) - now, Duration::from_secs(900));
        // cargo lambda watch sends the timeout, not an epoch time.
        assert_eq!(
            deadline_from_epoch_ms(600_000) - now,
            Duration::from_secs(600)
        );
        assert_eq!(
            deadline_from_epoch_ms(5_000_000) - now,
            Duration::from_secs(900)
        );
        let epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = deadline_from_epoch_ms(epoch_ms + 30_000) - now;
        assert!(
            left <= Duration::from_secs(30) && left > Duration::from_secs(29),
            "{left:?}"
        );
        assert_eq!(
            deadline_from_epoch_ms(epoch_ms - 1_000),
            now,
            "a past deadline leaves no time"
        );
    }
}
