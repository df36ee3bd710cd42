//! The Rust side of the side-by-side comparison with the Python peer
//! (`../shared/bench/peer_pipeline.py`, run by `shared/benches/compare_pipeline.py`): the same
//! cases, measured the same way. Every case is timed `--runs` times, interleaved (run 1 of every
//! case, then run 2, …) so a burst of load from other processes hits all cases alike; each run
//! loops for at least `--min-time` seconds; the median is printed as messages per second, one
//! JSON object per case. `--only TEXT` keeps the cases whose name contains TEXT. `--dump FILE`
//! writes the 100 bodies and every outbox line for 1, 10 and 100 routes, which the peer compares
//! with its own byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::Write as _;
use std::time::{Duration, Instant};

use common::{BATCH, bodies, floor, lines, pipeline, plan_only, table};
use fanout::engine::{Engine, EngineConfig};
use fanout::routes::RoutingTable;
use fanout::validate::ContractLimits;

// The allocator the functions ship with (functions/*/src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Case<'a> = (String, Box<dyn Fn() -> usize + 'a>);

/// Loops per run so that one run lasts at least `min_time`.
fn calibrate(f: &dyn Fn() -> usize, min_time: Duration) -> u32 {
    std::hint::black_box(f());
    let mut loops = 1u32;
    loop {
        let start = Instant::now();
        for _ in 0..loops {
            std::hint::black_box(f());
        }
        if start.elapsed() >= min_time || loops >= 1 << 24 {
            return loops;
        }
        loops *= 2;
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let runs: usize = value("--runs").map_or(9, |v| v.parse().unwrap());
    let min_time =
        Duration::from_secs_f64(value("--min-time").map_or(0.25, |v| v.parse().unwrap()));
    let bodies = bodies();
    let engines: Vec<(usize, Engine)> = [1, 10, 100]
        .into_iter()
        .map(|routes| {
            let table =
                RoutingTable::from_json(&table(routes), &ContractLimits::default()).unwrap();
            (routes, Engine::new(table, EngineConfig::default()))
        })
        .collect();

    if let Some(path) = value("--dump") {
        let mut out = std::fs::File::create(path).unwrap();
        for body in &bodies {
            writeln!(out, "BODY\t{body}").unwrap();
        }
        for (routes, engine) in &engines {
            for line in lines(engine, &bodies) {
                writeln!(out, "LINE{routes}\t{line}").unwrap();
            }
        }
    }

    let bodies = &bodies;
    let mut cases: Vec<Case<'_>> = vec![(
        "floor (parse+serialize)".to_owned(),
        Box::new(move || floor(bodies)),
    )];
    for (routes, engine) in &engines {
        cases.push((
            format!("pipeline, {routes} routes"),
            Box::new(move || pipeline(engine, bodies)),
        ));
        cases.push((
            format!("plan only, {routes} routes"),
            Box::new(move || plan_only(engine, bodies)),
        ));
    }
    // `--only TEXT` keeps the cases whose name contains it (quick checks while profiling).
    if let Some(only) = value("--only") {
        cases.retain(|(name, _)| name.contains(&only));
    }
    let loops: Vec<u32> = cases.iter().map(|(_, f)| calibrate(f, min_time)).collect();
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..runs {
        for (k, (_, f)) in cases.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..loops[k] {
                std::hint::black_box(f());
            }
            times[k].push(start.elapsed().as_secs_f64() / f64::from(loops[k]));
        }
    }
    for ((name, _), mut t) in cases.iter().zip(times) {
        t.sort_by(f64::total_cmp);
        let median = t[t.len() / 2];
        println!(
            "{}",
            serde_json::json!({"case": name, "msgs_per_s": BATCH as f64 / median})
        );
    }
}
