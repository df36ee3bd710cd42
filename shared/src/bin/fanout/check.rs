//! `fanout check TABLE`: the checks every function runs on its routing table at cold start.

use serde::Serialize;

use crate::{Context, Verdict, fail, print_json};

#[derive(Serialize)]
struct Checked<'a> {
    table: &'a str,
    ok: bool,
    version: Option<&'a str>,
    routes: Vec<&'a str>,
    jobs: Vec<&'a str>,
}

pub(crate) fn run(context: &Context, table: &str) -> Verdict {
    let loaded = match context.load(table) {
        Ok(loaded) => loaded,
        Err(error) => return fail(context, table, &error),
    };
    let checked = Checked {
        table,
        ok: true,
        version: loaded.version.as_deref(),
        routes: loaded.table.route_names().collect(),
        jobs: loaded.table.jobs().iter().map(|j| j.name()).collect(),
    };
    if context.json {
        print_json(&checked);
    } else {
        println!(
            "{table}: ok, version {}: {} routes ({}), {} jobs ({})",
            checked.version.unwrap_or("-"),
            checked.routes.len(),
            list(&checked.routes),
            checked.jobs.len(),
            list(&checked.jobs),
        );
    }
    Verdict::Pass
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
