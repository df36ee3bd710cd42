//! `fanout plan TABLE MESSAGES.jsonl`: the packed calls a batch of envelopes (one per line)
//! would make, the dry-run view the HTTP function answers `?dryRun=true` with.

use std::sync::Arc;

use fanout::engine::{Engine, EngineConfig, Inbound, PlanView};
use fanout::message::Message;
use fanout::routes_source::LiveTable;
use serde::Serialize;

use crate::{Context, Verdict, fail, print_json, read};

#[derive(Serialize)]
struct Planned<'a> {
    table: &'a str,
    #[serde(flatten)]
    plan: &'a PlanView,
}

pub(crate) fn run(context: &Context, table: &str, messages_path: &str) -> Verdict {
    let loaded = match context.load(table) {
        Ok(loaded) => loaded,
        Err(error) => return fail(context, table, &error),
    };
    let text = match read(messages_path) {
        Ok(text) => text,
        Err(error) => return fail(context, table, &error),
    };
    // Each envelope is named by its line; one without an id gets `line-N`.
    let inbound: Vec<Inbound> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let number = i + 1;
            Inbound::routed(
                number.to_string(),
                Message::decode(line, Some(&format!("line-{number}"))),
            )
        })
        .collect();
    let engine = Engine::with_routes(
        Arc::new(LiveTable::fixed(loaded)),
        EngineConfig {
            limits: context.limits,
            ..EngineConfig::default()
        },
    );
    let plan = engine.plan(inbound).view();
    if context.json {
        print_json(&Planned { table, plan: &plan });
    } else {
        print_text(table, &plan);
    }
    if plan.messages.iter().any(|m| m.status == "invalid") {
        Verdict::Fail
    } else {
        Verdict::Pass
    }
}

fn print_text(table: &str, plan: &PlanView) {
    println!(
        "{} messages against {table} (version {})",
        plan.messages.len(),
        plan.routes_version.as_deref().unwrap_or("-")
    );
    for m in &plan.messages {
        let id = m.id.as_deref().unwrap_or("-");
        match &m.error {
            Some(error) => println!("  line {} {id}: {}: {error}", m.source_id, m.status),
            None => {
                let targets: Vec<String> = m.targets.iter().map(ToString::to_string).collect();
                println!(
                    "  line {} {id}: {} to {}",
                    m.source_id,
                    m.status,
                    targets.join(", ")
                );
            }
        }
    }
    println!("{} calls:", plan.calls.len());
    for call in &plan.calls {
        // Lines are 1-based; the plan counts messages from 0.
        let lines: Vec<String> = call
            .messages
            .iter()
            .filter_map(|&i| plan.messages.get(i))
            .map(|m| m.source_id.clone())
            .collect();
        println!(
            "  {}{}: {} entries, {} bytes, lines {}",
            call.destination,
            if call.ordered { " (ordered)" } else { "" },
            call.entries,
            call.bytes,
            lines.join(", ")
        );
    }
}
