//! A broadcast job to a very large fleet: every device is reported (delivered, or failed when the
//! invocation deadline comes first), and the cost grows with the number of devices, not its square.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fanout::engine::{Engine, EngineConfig};
use fanout::outcome::{Status, TargetStatus};
use fanout::routes::RoutingTable;
use fanout::sink::{Call, CallError, CallReport, Sink, Sinks};
use fanout::validate::ContractLimits;
use futures::future::BoxFuture;
use tokio::time::Instant;

/// Accepts every publish after a fixed (virtual) latency.
#[derive(Debug, Default)]
struct SlowSink(AtomicUsize);

impl Sink for SlowSink {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            self.0.fetch_add(call.entries.len(), Ordering::Relaxed);
            Ok(CallReport::default())
        })
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

/// 100,000 devices at 16 publishes in flight and 10 ms each need about 63 s; with a 20 s deadline
/// the run stops in time, and every device is still reported: delivered or failed (retryable).
#[tokio::test(start_paused = true)]
async fn a_job_of_100_000_devices_reports_every_device_before_the_deadline() {
    let devices = 100_000;
    let table = RoutingTable::from_json(&fleet_table(devices), &ContractLimits::default()).unwrap();
    let job = table.job("broadcast").unwrap().clone();
    let engine = Engine::new(table, EngineConfig::default());
    let sink = std::sync::Arc::new(SlowSink::default());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    let report = engine
        .run(job.inbound("run-1"), &Sinks::all(sink.clone()), deadline)
        .await;
    assert!(Instant::now() <= deadline, "the run overran its deadline");
    assert_eq!(report.outcomes.len(), 1);
    let outcome = &report.outcomes[0];
    assert_eq!(outcome.targets.len(), devices);
    let delivered = outcome
        .targets
        .iter()
        .filter(|t| t.status == TargetStatus::Delivered)
        .count();
    let failed = outcome
        .targets
        .iter()
        .filter(|t| t.status == TargetStatus::Failed && t.retryable)
        .count();
    assert_eq!(delivered + failed, devices, "a device went unreported");
    assert_eq!(delivered, sink.0.load(Ordering::Relaxed));
    assert!(
        delivered > 10_000 && failed > 10_000,
        "{delivered} / {failed}"
    );
    assert_eq!(outcome.status, Status::Failed);
    assert!(outcome.retryable);
}
