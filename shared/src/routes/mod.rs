//! The routing table: which destinations each message goes to. Parsed and fully checked once at
//! cold start; per message it matches topics and content patterns and renders target templates.

mod index;
mod pattern;
mod target;
mod template;
pub(crate) mod topic;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::destination::{Destination, Target};
use crate::jobs::Job;
use crate::message::Message;
use crate::validate::ContractLimits;
use index::TopicIndex;

pub use pattern::{Pattern, PatternError};
pub(crate) use target::without_values;
pub use target::{
    FLEET_TOPIC, MAX_ALIBABA_DEVICES, MAX_FLEET_DEVICES, Redirect, SpecError, TargetSpec,
};
pub use template::{Extras, RenderError, Template, TemplateError};
pub use topic::TopicFilter;

/// EventBridge's quota on rules whose patterns hold a wildcard: 30 per event bus, not adjustable
/// (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html>). A table is one bus.
pub const MAX_WILDCARD_ROUTES: usize = 30;

/// Route and job names show up in logs, errors and metrics, so they stay short and plain.
const MAX_NAME: usize = 64;
pub const PLAIN_NAME_RULE: &str = "must be 1 to 64 characters of A-Z a-z 0-9 _ . -";

/// Route, job and error-destination names: what logs, errors and metrics can show as they are.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}
/// Targets of the table's default carry this route name.
pub const DEFAULT_ROUTE: &str = "default";

#[derive(Debug, Clone)]
pub struct RoutingTable {
    routes: Vec<Route>,
    index: TopicIndex,
    default: Fallback,
    jobs: Vec<Job>,
    errors: ErrorRouting,
    redirect: Redirect,
}

/// Where error records go: the table's `errors` target, each route's override, and whether
/// permanently failed messages go there too (`onFailure: "errors"`) or back to the trigger.
#[derive(Debug, Clone, Default)]
pub struct ErrorRouting {
    table: Option<Target>,
    routes: HashMap<Arc<str>, Target>,
    on_failure: OnFailure,
}

/// What happens to a message a destination refused for good (access denied, not found,
/// SenderFault) after the last attempt of the invocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnFailure {
    /// Reported to the trigger, which retries it and then dead-letters it.
    #[default]
    Retry,
    /// Sent to the error destination with its reason, then acknowledged.
    Errors,
}

impl ErrorRouting {
    /// The error destination for a message refused by `route` (or by no route).
    pub fn target_for(&self, route: Option<&str>) -> Option<&Target> {
        route
            .and_then(|r| self.routes.get(r))
            .or(self.table.as_ref())
    }

    pub fn on_failure(&self) -> OnFailure {
        self.on_failure
    }

    /// Whether any error destination is configured.
    pub fn is_configured(&self) -> bool {
        self.table.is_some() || !self.routes.is_empty()
    }
}

#[derive(Debug, Clone)]
struct Route {
    /// This route's own error destination, overriding the table's.
    errors: Option<Target>,
    name: Arc<str>,
    /// The filters as written, for the index; `topics` matches them.
    filters: Vec<String>,
    topics: Vec<TopicFilter>,
    attributes: Option<Pattern>,
    payload: Option<Pattern>,
    targets: Vec<TargetSpec>,
}

/// What happens to a message no route matches.
#[derive(Debug, Clone)]
enum Fallback {
    /// Reported invalid, so the trigger sees it (the safe default).
    Reject,
    /// Counted as handled with no targets, and logged.
    Drop,
    Targets(Arc<str>, Vec<TargetSpec>),
}

/// The routing decision for one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Routed {
    /// The union of the matched routes' targets, one per destination.
    Targets(Vec<Target>),
    /// No route matched and the default is `drop`.
    Dropped,
    /// No route matched and the default is `reject`.
    Rejected,
}

/// A routing table that cannot be used: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {reason}")]
pub struct TableError {
    /// e.g. `route "telemetry" target 2 (sns) field "groupId"`.
    pub location: String,
    pub reason: String,
}

/// A target that cannot be rendered for a message (a template refers to something it lacks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route \"{route}\" target {target} ({kind}) field `{field}`: {reason}")]
pub struct RouteError {
    pub route: String,
    /// 1-based position in the route's `targets`.
    pub target: usize,
    pub kind: &'static str,
    pub field: String,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTable {
    /// The table's JSON Schema, for editors (`shared/schema/routes.schema.json`); ignored here.
    #[serde(rename = "$schema")]
    _schema: Option<String>,
    routes: Vec<Value>,
    default: Option<RawDefault>,
    #[serde(default)]
    jobs: Vec<Value>,
    errors: Option<Value>,
    on_failure: Option<String>,
    /// Retired kinds (`analytics`, `events`) mapped to live targets.
    redirect: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: String,
    #[serde(rename = "match")]
    matcher: Option<RawMatch>,
    targets: Vec<Value>,
    #[serde(default)]
    ordered: bool,
    errors: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    topic: Option<OneOrMany>,
    attributes: Option<Value>,
    payload: Option<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefault {
    action: Option<String>,
    targets: Option<Vec<Value>>,
}

fn table_err(location: impl Into<String>, reason: impl std::fmt::Display) -> TableError {
    TableError {
        location: location.into(),
        reason: reason.to_string(),
    }
}

impl RoutingTable {
    /// Parses and checks a whole table; the first problem found is returned with its location.
    pub fn from_json(text: &str, limits: &ContractLimits) -> Result<RoutingTable, TableError> {
        // Editors on Windows save UTF-8 with a byte-order mark; JSON parsers refuse it (RFC 8259
        // §8.1 lets them ignore it instead), so it is dropped here.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let raw: RawTable =
            serde_json::from_str(text).map_err(|e| table_err("routing table", e))?;
        let redirect = match &raw.redirect {
            None => Redirect::default(),
            Some(value) => Redirect::parse(value, limits).map_err(|e| {
                let location = if e.field.is_empty() {
                    "redirect".to_owned()
                } else {
                    format!("redirect field \"{}\"", e.field)
                };
                table_err(location, e.reason)
            })?,
        };
        let mut names = HashSet::new();
        let mut routes = Vec::with_capacity(raw.routes.len());
        let mut wildcards = 0;
        for (i, value) in raw.routes.iter().enumerate() {
            let route = Route::parse(i, value, limits, &redirect)?;
            if !names.insert(Arc::clone(&route.name)) {
                return Err(table_err(
                    format!("route \"{}\"", route.name),
                    "route names must be unique",
                ));
            }
            if route.uses_wildcard() {
                wildcards += 1;
                if wildcards > MAX_WILDCARD_ROUTES {
                    return Err(table_err(
                        format!("route \"{}\" field \"match\"", route.name),
                        format!(
                            "more than {MAX_WILDCARD_ROUTES} routes use `wildcard`, EventBridge's limit for one event bus; use `prefix`/`suffix` where they do"
                        ),
                    ));
                }
            }
            routes.push(route);
        }
        let default = match raw.default {
            None => Fallback::Reject,
            Some(RawDefault {
                action: None,
                targets: Some(targets),
            }) => Fallback::Targets(
                Arc::from(DEFAULT_ROUTE),
                parse_targets(DEFAULT_ROUTE, &targets, false, limits, &redirect)?,
            ),
            Some(RawDefault {
                action: Some(action),
                targets: None,
            }) => match action.as_str() {
                "reject" => Fallback::Reject,
                "drop" => Fallback::Drop,
                other => {
                    return Err(table_err(
                        "default field \"action\"",
                        format!("must be \"reject\" or \"drop\", found \"{other}\""),
                    ));
                }
            },
            Some(_) => {
                return Err(table_err(
                    "default",
                    "set either \"action\" (\"reject\" or \"drop\") or \"targets\"",
                ));
            }
        };
        let on_failure = match raw.on_failure.as_deref() {
            None | Some("retry") => OnFailure::Retry,
            Some("errors") => OnFailure::Errors,
            Some(other) => {
                return Err(table_err(
                    "field \"onFailure\"",
                    format!("must be \"retry\" or \"errors\", found \"{other}\""),
                ));
            }
        };
        let table_errors = raw
            .errors
            .as_ref()
            .map(|v| error_target("errors", v, limits, &redirect))
            .transpose()?;
        if on_failure == OnFailure::Errors
            && table_errors.is_none()
            && routes.iter().all(|r| r.errors.is_none())
        {
            return Err(table_err(
                "field \"onFailure\"",
                "is \"errors\" but no `errors` target is set, at the table or on a route",
            ));
        }
        let errors = ErrorRouting {
            table: table_errors,
            routes: routes
                .iter()
                .filter_map(|r| Some((Arc::clone(&r.name), r.errors.clone()?)))
                .collect(),
            on_failure,
        };
        let mut jobs: Vec<Job> = Vec::with_capacity(raw.jobs.len());
        for (i, value) in raw.jobs.iter().enumerate() {
            let job = Job::parse(value, i + 1, limits, &redirect)?;
            if jobs.iter().any(|j| j.name() == job.name()) {
                return Err(table_err(
                    format!("job \"{}\"", job.name()),
                    "job names must be unique",
                ));
            }
            jobs.push(job);
        }
        Ok(RoutingTable {
            index: TopicIndex::new(routes.iter().map(|r| r.filters.as_slice())),
            routes,
            default,
            jobs,
            errors,
            redirect,
        })
    }

    /// Where error records go.
    pub fn errors(&self) -> &ErrorRouting {
        &self.errors
    }

    /// The broadcast job of that name.
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name() == name)
    }

    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// The table's `redirect` of retired kinds, for jobs defined outside it (inline jobs).
    pub fn redirect(&self) -> &Redirect {
        &self.redirect
    }

    /// A table of one route that sends every message to `targets` (explicit targets).
    pub fn single(
        name: &str,
        targets: &[Value],
        limits: &ContractLimits,
    ) -> Result<RoutingTable, TableError> {
        RoutingTable::single_redirected(name, targets, limits, &Redirect::default())
    }

    /// [`RoutingTable::single`] under a table's `redirect` (a job's targets).
    pub fn single_redirected(
        name: &str,
        targets: &[Value],
        limits: &ContractLimits,
        redirect: &Redirect,
    ) -> Result<RoutingTable, TableError> {
        Ok(RoutingTable {
            routes: vec![Route {
                errors: None,
                name: Arc::from(name),
                filters: Vec::new(),
                topics: Vec::new(),
                attributes: None,
                payload: None,
                targets: parse_targets(name, targets, false, limits, redirect)?,
            }],
            index: TopicIndex::new([&[][..]]),
            default: Fallback::Reject,
            jobs: Vec::new(),
            errors: ErrorRouting::default(),
            redirect: redirect.clone(),
        })
    }

    /// Whether any target of the table (routes, default, error destinations, jobs) is `alibaba`:
    /// then the cold start needs an Alibaba Cloud AccessKey.
    pub fn has_alibaba_targets(&self) -> bool {
        let default = match &self.default {
            Fallback::Targets(_, specs) => specs.as_slice(),
            Fallback::Reject | Fallback::Drop => &[],
        };
        let errors = &self.errors;
        self.routes
            .iter()
            .flat_map(|r| r.targets.iter())
            .chain(default)
            .any(TargetSpec::is_alibaba)
            || errors
                .table
                .iter()
                .chain(errors.routes.values())
                .any(|t| t.destination.kind() == crate::destination::Kind::Alibaba)
            || self.jobs.iter().any(Job::has_alibaba_targets)
    }

    /// Route names in table order.
    pub fn route_names(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(|r| &*r.name)
    }

    /// Names of the routes whose `match` the message meets, in table order: the routes
    /// [`RoutingTable::route`] takes targets from.
    pub fn matching_routes<'a>(&'a self, msg: &'a Message) -> impl Iterator<Item = &'a str> {
        self.routes
            .iter()
            .filter(|r| r.topic_matches(msg) && r.content_matches(msg))
            .map(|r| &*r.name)
    }

    /// Renders for `msg` every target whose templates read the message, as `route` would, and
    /// reports the first that cannot be rendered. Targets the table fixes alone were checked
    /// when it loaded, so they are not rendered again.
    pub(crate) fn check_renders(&self, msg: &Message) -> Result<(), RouteError> {
        let mut scratch = Vec::new();
        for route in &self.routes {
            for (i, spec) in route.targets.iter().enumerate() {
                if !spec.reads_message() {
                    continue;
                }
                scratch.clear();
                spec.render(msg, &route.name, &mut scratch)
                    .map_err(|e| RouteError {
                        route: route.name.to_string(),
                        target: i + 1,
                        kind: spec.type_name(),
                        field: e.field,
                        reason: e.reason,
                    })?;
            }
        }
        Ok(())
    }

    /// Routes one message: the union of every matching route's targets, or the default.
    pub fn route(&self, msg: &Message) -> Result<Routed, RouteError> {
        let mut targets = Vec::new();
        let mut matched = false;
        let mut checks = self.index.checks();
        let candidates = self.index.candidates(msg.topic.as_deref());
        for route in candidates.filter_map(|i| {
            let route = self.routes.get(i)?;
            let topic = self
                .index
                .topic_matches(i, &mut checks, || route.topic_matches(msg));
            (topic && route.content_matches(msg)).then_some(route)
        }) {
            matched = true;
            render_all(&route.name, &route.targets, msg, &mut targets)?;
        }
        if !matched {
            match &self.default {
                Fallback::Reject => return Ok(Routed::Rejected),
                Fallback::Drop => return Ok(Routed::Dropped),
                Fallback::Targets(name, specs) => render_all(name, specs, msg, &mut targets)?,
            }
        }
        dedup_destinations(&mut targets);
        Ok(Routed::Targets(targets))
    }
}

impl Route {
    fn parse(
        index: usize,
        value: &Value,
        limits: &ContractLimits,
        redirect: &Redirect,
    ) -> Result<Route, TableError> {
        let label = match value.get("name").and_then(Value::as_str) {
            Some(name) => format!("route \"{name}\""),
            None => format!("route {}", index + 1),
        };
        let raw = RawRoute::deserialize(value).map_err(|e| table_err(&label, e))?;
        if !is_plain_name(&raw.name) || raw.name == DEFAULT_ROUTE {
            return Err(table_err(
                format!("{label} field \"name\""),
                format!("{PLAIN_NAME_RULE}, and not \"{DEFAULT_ROUTE}\""),
            ));
        }
        let (filters, topics, attributes, payload) = match raw.matcher {
            None => (Vec::new(), Vec::new(), None, None),
            Some(m) => {
                let filters = match m.topic {
                    None => Vec::new(),
                    Some(OneOrMany::One(f)) => vec![f],
                    Some(OneOrMany::Many(fs)) if fs.is_empty() => {
                        return Err(table_err(
                            format!("{label} field \"match.topic\""),
                            "an empty list matches nothing; leave `topic` out to match every topic",
                        ));
                    }
                    Some(OneOrMany::Many(fs)) => fs,
                };
                let topics = filters
                    .iter()
                    .map(|f| TopicFilter::parse(f))
                    .collect::<Result<_, _>>()
                    .map_err(|e| table_err(format!("{label} field \"match.topic\""), e))?;
                let pattern = |v: Option<Value>, path: &str| {
                    v.map(|v| Pattern::parse(&v, path))
                        .transpose()
                        .map_err(|e| table_err(format!("{label} field \"match.{path}\""), e))
                };
                (
                    filters,
                    topics,
                    pattern(m.attributes, "attributes")?,
                    pattern(m.payload, "payload")?,
                )
            }
        };
        let targets = parse_targets(&raw.name, &raw.targets, raw.ordered, limits, redirect)?;
        let errors = raw
            .errors
            .as_ref()
            .map(|v| error_target(&format!("{label} errors"), v, limits, redirect))
            .transpose()?;
        Ok(Route {
            errors,
            name: Arc::from(raw.name),
            filters,
            topics,
            attributes,
            payload,
            targets,
        })
    }

    fn uses_wildcard(&self) -> bool {
        [&self.attributes, &self.payload]
            .into_iter()
            .flatten()
            .any(Pattern::uses_wildcard)
    }

    fn topic_matches(&self, msg: &Message) -> bool {
        self.topics.is_empty()
            || msg
                .topic
                .as_deref()
                .is_some_and(|t| self.topics.iter().any(|f| f.matches(t)))
    }

    fn content_matches(&self, msg: &Message) -> bool {
        self.attributes
            .as_ref()
            .is_none_or(|p| p.matches(Some(&msg.attributes)))
            && self
                .payload
                .as_ref()
                .is_none_or(|p| p.matches(msg.payload.json().and_then(Value::as_object)))
    }
}

/// An error destination given outside a table (the deployment's error queue), checked as the
/// table's `errors` target is.
pub fn error_destination(
    at: &str,
    value: &Value,
    limits: &ContractLimits,
) -> Result<Target, TableError> {
    error_target(at, value, limits, &Redirect::default())
}

/// The route name error records carry as their own (they are routed by the error settings).
pub const ERRORS_ROUTE: &str = "errors";

/// An error destination: any target, named without templates (an invalid message may have no
/// field to fill one), rendered once here.
fn error_target(
    at: &str,
    value: &Value,
    limits: &ContractLimits,
    redirect: &Redirect,
) -> Result<Target, TableError> {
    let kind = value.get("type").and_then(Value::as_str).unwrap_or("?");
    let located = |e: target::SpecError| {
        if e.field.is_empty() {
            table_err(format!("{at} ({kind})"), e.reason)
        } else {
            table_err(format!("{at} ({kind}) field \"{}\"", e.field), e.reason)
        }
    };
    let spec = TargetSpec::parse_in_table(value, false, limits, redirect).map_err(located)?;
    if spec.reads_message() {
        return Err(table_err(
            format!("{at} ({kind})"),
            "must not use `${…}` templates: an invalid message may have no field to fill them",
        ));
    }
    let mut rendered = Vec::new();
    spec.render(
        &target::no_message(),
        &Arc::from(ERRORS_ROUTE),
        &mut rendered,
    )
    .map_err(located)?;
    match (rendered.pop(), rendered.is_empty()) {
        (Some(target), true) => Ok(target),
        _ => Err(table_err(
            format!("{at} ({kind})"),
            "must name exactly one destination (a fleet of one device at most)",
        )),
    }
}

fn parse_targets(
    route: &str,
    targets: &[Value],
    ordered: bool,
    limits: &ContractLimits,
    redirect: &Redirect,
) -> Result<Vec<TargetSpec>, TableError> {
    if targets.is_empty() {
        return Err(table_err(
            format!("route \"{route}\" field \"targets\""),
            "must list at least one target",
        ));
    }
    targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let spec = TargetSpec::parse_in_table(t, ordered, limits, redirect).map_err(|e| {
                let kind = t.get("type").and_then(Value::as_str).unwrap_or("?");
                let at = format!("route \"{route}\" target {} ({kind})", i + 1);
                if e.field.is_empty() {
                    table_err(at, e.reason)
                } else {
                    table_err(format!("{at} field \"{}\"", e.field), e.reason)
                }
            })?;
            Ok(spec.with_label(route, i + 1))
        })
        .collect()
}

fn render_all(
    route: &Arc<str>,
    specs: &[TargetSpec],
    msg: &Message,
    out: &mut Vec<Target>,
) -> Result<(), RouteError> {
    for (i, spec) in specs.iter().enumerate() {
        spec.render(msg, route, out).map_err(|e| RouteError {
            route: route.to_string(),
            target: i + 1,
            kind: spec.type_name(),
            field: e.field,
            reason: e.reason,
        })?;
    }
    Ok(())
}

/// One target per destination: a message matching several routes that name the same
/// destination is sent there once (the first route's parameters win; ordering is kept if any asked).
/// A few targets are compared pairwise; a fleet's hundreds or thousands go through a hash map, so
/// the cost grows with the number of targets, not its square.
fn dedup_destinations(targets: &mut Vec<Target>) {
    const PAIRWISE: usize = 16;
    if targets.len() <= PAIRWISE {
        let mut at = 1;
        while let Some(target) = targets.get(at) {
            let earlier = targets
                .iter()
                .take(at)
                .position(|k| k.destination == target.destination);
            match earlier {
                Some(first) => {
                    let ordered = targets.remove(at).ordered;
                    if let Some(kept) = targets.get_mut(first) {
                        kept.ordered |= ordered;
                    }
                }
                None => at += 1,
            }
        }
        return;
    }
    let mut first: HashMap<Destination, usize> = HashMap::with_capacity(targets.len());
    let mut kept: Vec<Target> = Vec::with_capacity(targets.len());
    for target in targets.drain(..) {
        match first.get(&target.destination) {
            Some(&at) => {
                if let Some(k) = kept.get_mut(at) {
                    k.ordered |= target.ordered;
                }
            }
            None => {
                first.insert(target.destination.clone(), kept.len());
                kept.push(target);
            }
        }
    }
    *targets = kept;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::destination::Destination;

    const TABLE: &str = include_str!("../../../events/routes.json");

    fn table(v: Value) -> Result<RoutingTable, TableError> {
        RoutingTable::from_json(&v.to_string(), &ContractLimits::default())
    }

    fn msg(text: &str) -> Message {
        Message::decode(text, None).unwrap()
    }

    fn destinations(routed: Routed) -> Vec<String> {
        match routed {
            Routed::Targets(ts) => ts
                .iter()
                .map(|t| format!("{}@{}", t.destination, t.route))
                .collect(),
            other => vec![format!("{other:?}")],
        }
    }

    #[test]
    fn tables_say_whether_they_need_an_alibaba_access_key() {
        let alibaba = json!({"type": "alibaba", "region": "cn-shanghai", "productKey": "a1BwAGV",
            "devices": ["dev-1"], "topicShortName": "get"});
        let mqtt = json!({"type": "mqtt", "topic": "a"});
        let route = |t: &Value| json!([{"name": "r", "targets": [t]}]);
        let cases = [
            (json!({"routes": route(&mqtt)}), false),
            (json!({"routes": route(&alibaba)}), true),
            (
                json!({"routes": route(&mqtt), "default": {"targets": [alibaba]}}),
                true,
            ),
            (json!({"routes": route(&mqtt), "errors": alibaba}), true),
            (
                json!({"routes": route(&mqtt), "jobs": [{"name": "j", "messages": [{"payload": 1}], "targets": [alibaba]}]}),
                true,
            ),
        ];
        for (t, needs) in cases {
            assert_eq!(
                table(t.clone()).unwrap().has_alibaba_targets(),
                needs,
                "{t}"
            );
        }
    }

    #[test]
    fn sample_table_routes_by_topic_and_content() {
        let t = RoutingTable::from_json(TABLE, &ContractLimits::default()).unwrap();
        let hot = msg(
            r#"{"id": "m1", "topic": "plant1/line3/telemetry", "attributes": {"deviceId": "s-42"}, "payload": {"temp": 81.5}}"#,
        );
        assert_eq!(
            destinations(t.route(&hot).unwrap()),
            [
                "analytics:telemetry_line3@telemetry",
                "mqtt:dashboards/plant1/line3/s-42@telemetry",
                "events:overheat_detector@overheat",
                "sns:arn:aws:sns:us-east-1:123456789012:fanout-alerts@overheat",
                "firehose:fanout-telemetry@archive",
                "kinesis:fanout-events@archive",
            ]
        );
        let cool = msg(
            r#"{"id": "m2", "topic": "plant1/line3/telemetry", "attributes": {"deviceId": "s-42"}, "payload": {"temp": 20}}"#,
        );
        assert_eq!(destinations(t.route(&cool).unwrap()).len(), 4);
        let alarm = msg(
            r#"{"id": "m4", "topic": "plant1/line3/alarms", "attributes": {"deviceId": "s-42"}, "payload": {"level": 3}}"#,
        );
        assert_eq!(
            destinations(t.route(&alarm).unwrap()),
            [
                "eventbridge:fanout-alarms@alarms",
                "sqs:https://sqs.us-east-1.amazonaws.com/123456789012/fanout-alarms.fifo@alarms",
            ]
        );
        assert_eq!(
            t.matching_routes(&hot).collect::<Vec<_>>(),
            ["telemetry", "overheat", "archive"]
        );
        let other = msg(r#"{"id": "m3", "topic": "plant2/x", "payload": 1}"#);
        assert_eq!(t.route(&other).unwrap(), Routed::Rejected);
        assert_eq!(t.route_names().count(), 7);
    }

    /// The sample table, written for IoT Analytics and IoT Events, moves to Firehose and Kinesis
    /// with one added line: its analytics and events targets follow the redirect.
    #[test]
    fn one_redirect_line_moves_the_sample_table_off_the_retired_services() {
        let mut sample: Value = serde_json::from_str(TABLE).unwrap();
        sample["redirect"] = json!({
            "analytics": {"type": "firehose", "deliveryStream": "iot-${channel}"},
            "events": {"type": "kinesis", "stream": "iot-events", "partitionKey": "${input}"}
        });
        let t = RoutingTable::from_json(&sample.to_string(), &ContractLimits::default()).unwrap();
        let hot = msg(
            r#"{"id": "m1", "topic": "plant1/line3/telemetry", "attributes": {"deviceId": "s-42"}, "payload": {"temp": 81.5}}"#,
        );
        let got = destinations(t.route(&hot).unwrap());
        assert_eq!(got[0], "firehose:iot-telemetry_line3@telemetry");
        assert_eq!(got[2], "kinesis:iot-events@overheat");
        assert!(
            !got.iter()
                .any(|d| d.starts_with("analytics:") || d.starts_with("events:")),
            "{got:?}"
        );
        let err = |v: Value| table(v).unwrap_err().to_string();
        assert!(
            err(json!({"routes": [], "redirect": {"analytics": {"type": "mqtt", "topic": "x"}}}))
                .starts_with(
                    "redirect field \"analytics.type\": a redirect leads to a live destination"
                )
        );
        assert!(
            err(json!({"routes": [], "redirect": {"sns": {"type": "sqs", "queueUrl": "x"}}}))
                .starts_with("redirect field \"sns\": only the retired kinds")
        );
        // Jobs follow the redirect too.
        let jobs = table(json!({"routes": [], "redirect": {"events": {"type": "sqs",
            "queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/${input}"}},
            "jobs": [{"name": "j", "messages": [{"payload": 1}], "targets": [{"type": "events", "input": "alarms"}]}]}))
        .unwrap();
        let ts = jobs
            .job("j")
            .unwrap()
            .inbound("run-1")
            .remove(0)
            .targets
            .unwrap();
        assert_eq!(
            ts[0].destination.to_string(),
            "sqs:https://sqs.us-east-1.amazonaws.com/123456789012/alarms"
        );
    }

    #[test]
    fn union_keeps_one_target_per_destination() {
        let t = table(json!({"routes": [
            {"name": "a", "targets": [{"type": "mqtt", "topic": "x"}]},
            {"name": "b", "ordered": true, "targets": [{"type": "mqtt", "topic": "x"}, {"type": "mqtt", "topic": "y"}]}
        ]}))
        .unwrap();
        let Routed::Targets(ts) = t.route(&msg(r#"{"id": "m", "payload": 1}"#)).unwrap() else {
            panic!()
        };
        assert_eq!(ts.len(), 2);
        assert_eq!(&*ts[0].route, "a");
        assert!(ts[0].ordered, "ordering requested by any route is kept");
        assert_eq!(ts[1].destination, Destination::Mqtt { topic: "y".into() });
    }

    #[test]
    fn defaults() {
        let m = msg(r#"{"id": "m", "topic": "a", "payload": 1}"#);
        let drop = table(json!({"routes": [], "default": {"action": "drop"}})).unwrap();
        assert_eq!(drop.route(&m).unwrap(), Routed::Dropped);
        let reject = table(json!({"routes": []})).unwrap();
        assert_eq!(reject.route(&m).unwrap(), Routed::Rejected);
        let to = table(json!({"routes": [], "default": {"targets": [{"type": "mqtt", "topic": "unrouted/${topic}"}]}})).unwrap();
        assert_eq!(
            destinations(to.route(&m).unwrap()),
            ["mqtt:unrouted/a@default"]
        );
    }

    #[test]
    fn render_errors_name_route_target_and_variable() {
        let t = table(json!({"routes": [{"name": "r", "targets": [
            {"type": "mqtt", "topic": "ok"}, {"type": "shadow", "thing": "${attributes.deviceId}"}
        ]}]}))
        .unwrap();
        let err = t.route(&msg(r#"{"id": "m", "payload": 1}"#)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "route \"r\" target 2 (shadow) field `thing`: `${attributes.deviceId}`: the message has no attribute `deviceId`"
        );
    }

    #[test]
    fn match_combines_topic_attributes_and_payload() {
        let t = table(json!({"routes": [{"name": "r",
            "match": {"topic": ["a/#", "b/+"], "attributes": {"kind": ["x"]}, "payload": {"v": [{"exists": true}]}},
            "targets": [{"type": "mqtt", "topic": "out"}]}], "default": {"action": "drop"}}))
        .unwrap();
        let routed = |text: &str| t.route(&msg(text)).unwrap() != Routed::Dropped;
        assert!(routed(
            r#"{"id": "m", "topic": "a/1/2", "attributes": {"kind": "x"}, "payload": {"v": 0}}"#
        ));
        assert!(routed(
            r#"{"id": "m", "topic": "b/1", "attributes": {"kind": "x"}, "payload": {"v": 0}}"#
        ));
        assert!(!routed(
            r#"{"id": "m", "topic": "b/1/2", "attributes": {"kind": "x"}, "payload": {"v": 0}}"#
        ));
        assert!(
            !routed(r#"{"id": "m", "attributes": {"kind": "x"}, "payload": {"v": 0}}"#),
            "no topic, topic filter set"
        );
        assert!(!routed(
            r#"{"id": "m", "topic": "a", "attributes": {"kind": "y"}, "payload": {"v": 0}}"#
        ));
        assert!(!routed(
            r#"{"id": "m", "topic": "a", "attributes": {"kind": "x"}, "payload": {"w": 0}}"#
        ));
        assert!(!routed(
            r#"{"id": "m", "topic": "a", "attributes": {"kind": "x"}, "payloadBase64": "AA=="}"#
        ));
    }

    #[test]
    fn table_errors_name_the_route_and_field() {
        let err = |v: Value| table(v).unwrap_err().to_string();
        assert!(err(json!({"routez": []})).starts_with("routing table: unknown field `routez`"));
        assert!(
            table(json!({"$schema": "./shared/schema/routes.schema.json", "routes": []})).is_ok(),
            "`$schema` names the schema for editors"
        );
        assert!(
            RoutingTable::from_json("{", &ContractLimits::default())
                .unwrap_err()
                .to_string()
                .contains("EOF")
        );
        assert_eq!(
            err(
                json!({"routes": [{"name": "a", "targets": [{"type": "mqtt", "topic": "x"}]}, {"name": "a", "targets": [{"type": "mqtt", "topic": "x"}]}]})
            ),
            "route \"a\": route names must be unique"
        );
        assert!(
            err(json!({"routes": [{"name": "bad name", "targets": []}]}))
                .starts_with("route \"bad name\" field \"name\"")
        );
        assert!(
            err(json!({"routes": [{"name": "default", "targets": []}]}))
                .contains("not \"default\"")
        );
        assert!(
            err(json!({"routes": [{"targets": []}]})).starts_with("route 1: missing field `name`")
        );
        assert_eq!(
            err(json!({"routes": [{"name": "r", "targets": []}]})),
            "route \"r\" field \"targets\": must list at least one target"
        );
        assert!(err(json!({"routes": [{"name": "r", "match": {"topic": "a/#/b"}, "targets": [{"type": "mqtt", "topic": "x"}]}]}))
            .starts_with("route \"r\" field \"match.topic\""));
        assert!(err(json!({"routes": [{"name": "r", "match": {"payload": {"t": 5}}, "targets": [{"type": "mqtt", "topic": "x"}]}]}))
            .starts_with("route \"r\" field \"match.payload\": `payload.t`: must be a list"));
        assert!(
            err(json!({"routes": [{"name": "r", "match": {"tpoic": "a"}, "targets": []}]}))
                .contains("unknown field `tpoic`")
        );
        assert!(err(json!({"routes": [{"name": "r", "targets": [{"type": "mqtt", "topic": "x"}, {"type": "sns", "topicArn": "${id}", "subject": "${nope}"}]}]}))
            .starts_with("route \"r\" target 2 (sns) field \"subject\": unknown variable `${nope}`"));
        assert!(
            err(json!({"routes": [], "default": {"action": "ignore"}}))
                .starts_with("default field \"action\"")
        );
        assert!(
            err(json!({"routes": [], "default": {"action": "drop", "targets": []}}))
                .starts_with("default: set either")
        );
    }

    #[test]
    fn pattern_errors_name_the_route_and_the_pattern_path() {
        let err = |payload: Value| {
            table(
                json!({"routes": [{"name": "r", "match": {"payload": payload},
                "targets": [{"type": "mqtt", "topic": "x"}]}]}),
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            err(json!({"a": {"$or": [{"b": [1]}]}})),
            "route \"r\" field \"match.payload\": `payload.a.$or`: `$or` takes a list of two or more alternative pattern objects, e.g. \"$or\": [{\"a\": [1]}, {\"b\": [2]}]"
        );
        assert!(err(json!({"s": [{"anything-but": null}]})).starts_with(
            "route \"r\" field \"match.payload\": `payload.s`: `anything-but` cannot exclude null"
        ));
        assert!(err(json!({"f": [{"wildcard": "a**"}]})).starts_with(
            "route \"r\" field \"match.payload\": `payload.f`: `wildcard`: consecutive `*`"
        ));
    }

    #[test]
    fn at_most_thirty_routes_use_wildcards() {
        let routes = |n: usize| {
            let list: Vec<Value> = (0..n)
                .map(|i| {
                    json!({"name": format!("w{i}"), "match": {"attributes": {"f": [{"anything-but": {"wildcard": "*.tmp"}}]}},
                           "targets": [{"type": "mqtt", "topic": "x"}]})
                })
                .chain([json!({"name": "plain", "match": {"payload": {"f": [{"prefix": "a"}]}},
                               "targets": [{"type": "mqtt", "topic": "x"}]})])
                .collect();
            table(json!({"routes": list}))
        };
        assert!(routes(MAX_WILDCARD_ROUTES).is_ok());
        assert_eq!(
            routes(MAX_WILDCARD_ROUTES + 1).unwrap_err().location,
            "route \"w30\" field \"match\""
        );
    }

    #[test]
    fn the_topic_index_finds_every_route_a_scan_finds() {
        let filters = [
            json!("a/+/x"),
            json!(null),
            json!(["b/#", "a/y"]),
            json!("+/z"),
            json!(["a", "a/#"]),
            json!("#"),
            json!(["c/d", "/lead"]),
            json!("$SYS/#"),
            json!("+"),
            json!("a/+/x"),
            json!(["b/#", "a/y"]),
            json!("+"),
        ];
        let routes: Vec<Value> = filters
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let matcher = if f.is_null() { json!({}) } else { json!({"topic": f}) };
                json!({"name": format!("r{i}"), "match": matcher, "targets": [{"type": "mqtt", "topic": format!("t{i}")}]})
            })
            .collect();
        let t = table(json!({"routes": routes, "default": {"action": "drop"}})).unwrap();
        for topic in [
            None,
            Some("a"),
            Some("a/1/x"),
            Some("a/y"),
            Some("b"),
            Some("q/z"),
            Some("/lead"),
            Some("c/d"),
            Some("$SYS/uptime"),
            Some("$SYS"),
            Some("x"),
        ] {
            let text = json!({"id": "m", "topic": topic, "payload": 1}).to_string();
            let m = msg(&text);
            let scanned: Vec<&str> = t
                .routes
                .iter()
                .filter(|r| r.topic_matches(&m) && r.content_matches(&m))
                .map(|r| &*r.name)
                .collect();
            let routed = match t.route(&m).unwrap() {
                Routed::Targets(ts) => ts.iter().map(|t| t.route.to_string()).collect(),
                _ => Vec::new(),
            };
            assert_eq!(routed, scanned, "{topic:?}");
        }
    }

    #[test]
    fn single_route_tables_send_everything() {
        let t = RoutingTable::single(
            "explicit",
            &[json!({"type": "mqtt", "topic": "x/${id}"})],
            &ContractLimits::default(),
        )
        .unwrap();
        assert_eq!(
            destinations(t.route(&msg(r#"{"id": "q", "payload": 1}"#)).unwrap()),
            ["mqtt:x/q@explicit"]
        );
    }
}
