//! The schedule function on every sample event in `events/`, through the local outbox.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

use harness::{calls, harness, run};
use serde_json::{Value, json};

fn event(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn rule_event_runs_the_job_named_by_the_rule() {
    let h = harness().await;
    let s = run(
        &h,
        event(include_str!("../../../events/schedule-rule.json")),
    )
    .await
    .unwrap();
    assert_eq!(
        (s.job.as_str(), s.run.as_str()),
        ("firmware-notice", "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa")
    );
    assert_eq!(
        (s.messages, s.targets, s.delivered, s.failed, s.invalid),
        (1, 4, 4, 0, 0)
    );
    let calls = calls(&h);
    let kinds: Vec<_> = calls.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["fleet", "fleet", "fleet", "sns"]);
    let sns = &calls[3]["request"]["PublishBatchRequestEntries"][0];
    assert_eq!(sns["Subject"], "Firmware 2.4.1 announced");
}

#[tokio::test]
async fn rule_detail_names_the_job_too() {
    let h = harness().await;
    let mut e = event(include_str!("../../../events/schedule-rule.json"));
    e["detail"] = json!({"job": "nightly-config"});
    let s = run(&h, e).await.unwrap();
    assert_eq!((s.job.as_str(), s.targets), ("nightly-config", 3));
}

#[tokio::test]
async fn scheduler_input_names_a_job_and_its_run() {
    let h = harness().await;
    let s = run(
        &h,
        event(include_str!("../../../events/schedule-scheduler.json")),
    )
    .await
    .unwrap();
    assert_eq!(s.run, "c8f6e7a2-1b3d-4c5e-9f00-2026112203");
    assert_eq!((s.targets, s.delivered), (3, 3));
    let destinations: Vec<_> = calls(&h)
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["kind"].as_str().unwrap(),
                c["destination"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        destinations,
        [
            "shadow:sensor-42",
            "shadow:sensor-7",
            "mqtt:plant1/broadcast/config"
        ]
    );
    // Without a runId the Lambda request id keeps retries of one invocation on the same ids.
    let s = run(&h, json!({"job": "nightly-config"})).await.unwrap();
    assert_eq!(s.run, "req-1");
}

#[tokio::test]
async fn inline_jobs_chunk_large_fleets() {
    let h = harness().await;
    let s = run(
        &h,
        event(include_str!("../../../events/schedule-inline-job.json")),
    )
    .await
    .unwrap();
    assert_eq!(
        (s.job.as_str(), s.targets, s.delivered),
        ("reboot-line3", 150, 150)
    );
    let calls = calls(&h);
    assert_eq!(calls.len(), 150, "one IoT Core publish per device");
    assert_eq!(
        calls[149]["destination"],
        "/a1BwAGV/line3-dev-150/user/command"
    );
}

#[tokio::test]
async fn inline_jobs_reach_alibaba_devices_in_batchpub_calls_of_100() {
    let h = harness().await;
    let s = run(
        &h,
        event(include_str!("../../../events/schedule-alibaba-job.json")),
    )
    .await
    .unwrap();
    assert_eq!(
        (s.job.as_str(), s.targets, s.delivered),
        ("firmware-cn", 3, 3)
    );
    let calls = calls(&h);
    let sizes: Vec<usize> = calls
        .iter()
        .map(|c| {
            assert_eq!(c["kind"], "alibaba");
            c["request"]["Parameters"]
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| k.starts_with("DeviceName."))
                .count()
        })
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
    let last = &calls[2]["request"];
    assert_eq!(last["Endpoint"], "https://iot.cn-shanghai.aliyuncs.com");
    assert_eq!(last["Parameters"]["DeviceName.50"], "cn-line1-dev-250");
    assert_eq!(last["Parameters"]["Qos"], "1");
}

#[tokio::test]
async fn unknown_jobs_and_shapes_are_clear_errors() {
    let h = harness().await;
    let err = run(&h, json!({"job": "nope"})).await.unwrap_err();
    assert_eq!(
        err,
        "unknown job `nope`; the routing table defines: firmware-notice, nightly-config"
    );
    let mut e = event(include_str!("../../../events/schedule-rule.json"));
    e["resources"] = json!(["arn:aws:events:us-east-1:123456789012:rule/other-rule"]);
    assert!(
        run(&h, e)
            .await
            .unwrap_err()
            .contains("unknown job `other-rule`")
    );
    assert!(
        run(&h, json!({"hello": 1}))
            .await
            .unwrap_err()
            .contains("neither an EventBridge")
    );
    assert!(
        run(&h, json!({"job": 5}))
            .await
            .unwrap_err()
            .contains("job name or an inline job")
    );
    let err = run(&h, json!({"job": {"name": "x", "messages": [{"payload": 1}], "targets": [{"type": "mqtt", "topic": "a/#"}]}})).await.unwrap_err();
    assert!(
        err.starts_with("inline job: job \"x\" route \"x\" target 1 (mqtt) field \"topic\""),
        "{err}"
    );
    assert!(calls(&h).is_empty());
}
