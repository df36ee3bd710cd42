//! `fanout test TABLE MESSAGE.json`: how the table routes one message, as `aws events
//! test-event-pattern` answers for one pattern: the routes that match, the targets with their
//! rendered names, each destination contract's verdict, and what the engine would do.

use std::sync::Arc;

use fanout::destination::Destination;
use fanout::engine::{Engine, EngineConfig, Inbound};
use fanout::message::Message;
use fanout::routes::Routed;
use fanout::routes_source::LiveTable;
use fanout::validate;
use serde::Serialize;

use crate::{Context, Verdict, fail, print_json, read};

/// The id a message without one gets, as an SQS record's messageId would stand in.
const DEFAULT_ID: &str = "message";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Probe<'a> {
    table: &'a str,
    version: Option<&'a str>,
    id: &'a str,
    routes: Vec<RouteMatch<'a>>,
    /// No route matched, so the table's `default` decided.
    default_applies: bool,
    targets: Vec<TargetVerdict>,
    /// What the engine would do: `planned` (sent to every target), `dropped` or `invalid`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct RouteMatch<'a> {
    name: &'a str,
    matches: bool,
}

#[derive(Serialize)]
struct TargetVerdict {
    route: String,
    destination: Destination,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub(crate) fn run(context: &Context, table: &str, message_path: &str) -> Verdict {
    let loaded = match context.load(table) {
        Ok(loaded) => loaded,
        Err(error) => return fail(context, table, &error),
    };
    let text = match read(message_path) {
        Ok(text) => text,
        Err(error) => return fail(context, table, &error),
    };
    let msg = match Message::decode(&text, Some(DEFAULT_ID)) {
        Ok(msg) => msg,
        Err(e) => return fail(context, table, &format!("{message_path}: {e}")),
    };
    let engine = Engine::with_routes(
        Arc::new(LiveTable::fixed(loaded)),
        EngineConfig {
            limits: context.limits,
            ..EngineConfig::default()
        },
    );
    let routes = engine.routes();
    let matching: Vec<&str> = routes.table.matching_routes(&msg).collect();
    let route_matches = routes
        .table
        .route_names()
        .map(|name| RouteMatch {
            name,
            matches: matching.contains(&name),
        })
        .collect();
    let targets = match routes.table.route(&msg) {
        Ok(Routed::Targets(targets)) => targets
            .iter()
            .map(|t| {
                let verdict = validate::check(&msg, t, &context.limits);
                TargetVerdict {
                    route: t.route.to_string(),
                    destination: t.destination.clone(),
                    ok: verdict.is_ok(),
                    error: verdict.err().map(|e| e.to_string()),
                }
            })
            .collect(),
        Ok(Routed::Dropped | Routed::Rejected) | Err(_) => Vec::new(),
    };
    // The engine's own verdict, so `status` is what a function would report.
    let id = msg.id.clone();
    let plan = engine
        .plan_with(
            &routes,
            vec![Inbound::routed(DEFAULT_ID.to_owned(), Ok(msg.clone()))],
        )
        .view();
    let (status, error) = plan
        .messages
        .into_iter()
        .next()
        .map_or(("invalid", Some("no plan".to_owned())), |m| {
            (m.status, m.error)
        });
    let probe = Probe {
        table,
        version: routes.version.as_deref(),
        id: &id,
        routes: route_matches,
        default_applies: matching.is_empty(),
        targets,
        status,
        error,
    };
    if context.json {
        print_json(&probe);
    } else {
        print_text(&probe);
    }
    if probe.status == "invalid" {
        Verdict::Fail
    } else {
        Verdict::Pass
    }
}

fn print_text(probe: &Probe<'_>) {
    println!(
        "message {} against {} (version {})",
        probe.id,
        probe.table,
        probe.version.unwrap_or("-")
    );
    println!("routes:");
    let width = probe.routes.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for r in &probe.routes {
        let verdict = if r.matches { "matches" } else { "-" };
        println!("  {:<width$}  {verdict}", r.name);
    }
    if probe.default_applies {
        println!("  (no route matches: the table's default decides)");
    }
    if !probe.targets.is_empty() {
        println!("targets:");
        for (i, t) in probe.targets.iter().enumerate() {
            let verdict = match &t.error {
                None => "ok".to_owned(),
                Some(e) => format!("refused: {e}"),
            };
            println!(
                "  {}. {} (route {}): {verdict}",
                i + 1,
                t.destination,
                t.route
            );
        }
    }
    match &probe.error {
        None => println!("result: {}", probe.status),
        Some(error) => println!("result: {}: {error}", probe.status),
    }
}
