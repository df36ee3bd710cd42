//! Large device fleets: devices per second through the engine (route, render one topic per
//! device, check, pack, dispatch to a sink that accepts at once) for 1k, 10k and 100k devices,
//! and the time to parse and check a routing table that holds such a job (a cold-start cost
//! every function pays). Prints a table; `cargo bench -p fanout --bench fleet`.
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use fanout::engine::{Engine, EngineConfig};
use fanout::routes::RoutingTable;
use fanout::sink::{Call, CallError, CallReport, Sink, Sinks};
use fanout::validate::ContractLimits;
use futures::future::BoxFuture;

#[derive(Debug)]
struct Accept;

impl Sink for Accept {
    fn send<'a>(&'a self, _: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(async { Ok(CallReport::default()) })
    }
}

fn fleet_table(devices: usize) -> String {
    let names: Vec<String> = (0..devices).map(|i| format!("device-{i:06}")).collect();
    serde_json::json!({
        "routes": [],
        "jobs": [{
            "name": "broadcast",
            "messages": [{"id": "cmd", "payload": {"cmd": "reboot"}}],
            "targets": [{"type": "fleet", "productKey": "a1BwAGV", "devices": names, "topicShortName": "cmd"}]
        }]
    })
    .to_string()
}

fn best_of<T>(rounds: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let sinks = Sinks::all(Arc::new(Accept));
    println!("| devices | table size | parse + check (cold start) | run | devices/s |");
    println!("|---:|---:|---:|---:|---:|");
    for devices in [1_000, 10_000, 100_000] {
        let text = fleet_table(devices);
        let rounds = if devices >= 100_000 { 3 } else { 10 };
        let parse = best_of(rounds, || {
            RoutingTable::from_json(&text, &ContractLimits::default()).expect("a valid table")
        });
        let table = RoutingTable::from_json(&text, &ContractLimits::default()).expect("valid");
        let job = table.job("broadcast").expect("the job").clone();
        let engine = Engine::new(table, EngineConfig::default());
        let run = best_of(rounds, || {
            runtime.block_on(async {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
                let report = engine.run(job.inbound("bench"), &sinks, deadline).await;
                assert_eq!(report.summary.delivered, 1);
                report
            })
        });
        println!(
            "| {devices} | {:.1} MB | {:.1} ms | {:.1} ms | {:.0} |",
            text.len() as f64 / 1e6,
            parse.as_secs_f64() * 1e3,
            run.as_secs_f64() * 1e3,
            devices as f64 / run.as_secs_f64()
        );
    }
}
