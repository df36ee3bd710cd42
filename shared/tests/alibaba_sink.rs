//! The `alibaba` destination end to end: routing table → engine → BatchPub over HTTP to a local
//! stand-in of IoT Platform's endpoint that recomputes every request's ACS3-HMAC-SHA256
//! signature with Alibaba's official Python SDK code, checks the common headers and BatchPub's
//! parameters, and answers with Alibaba's success and error shapes (throttling, 5xx,
//! `Success: false`, forbidden) as each test configures it. The AccessKey also comes from a
//! Secrets Manager secret in moto, read with the official client.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fanout::dispatch::RetryPolicy;
use fanout::engine::{Engine, EngineConfig, Inbound};
use fanout::message::Message;
use fanout::outcome::{Report, Status, TargetStatus};
use fanout::routes::RoutingTable;
use fanout::sink::Sinks;
use fanout::sink::alibaba::credentials::{self, AccessKey, CredentialsError};
use fanout::sink::alibaba::{AlibabaSink, Settings};
use serde_json::{Value, json};
use support::alibaba::{KEY_ID, KEY_SECRET, StandIn};
use support::moto::moto;
use support::{sdk_config, unique};
use tokio::time::Instant;

fn engine(targets: Value, rate: f64) -> Engine {
    let config = EngineConfig {
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(10),
        },
        alibaba_rate: rate,
        ..EngineConfig::default()
    };
    let table = json!({"routes": [{"name": "alibaba", "targets": targets}]});
    let routes = RoutingTable::from_json(&table.to_string(), &config.limits).unwrap();
    Engine::new(routes, config)
}

fn target(product_key: &str, devices: &[String]) -> Value {
    json!({"type": "alibaba", "region": "cn-shanghai", "productKey": product_key,
           "devices": devices, "topicShortName": "get", "qos": 1})
}

fn devices(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("dev-{i:03}")).collect()
}

fn sinks(stand_in: &StandIn, key: AccessKey) -> Sinks {
    Sinks::all(Arc::new(
        AlibabaSink::new(key, Some(stand_in.url.clone())).unwrap(),
    ))
}

fn key() -> AccessKey {
    AccessKey::new(KEY_ID.into(), KEY_SECRET.into(), None)
}

async fn run(engine: &Engine, sinks: &Sinks, messages: &[Value]) -> Report {
    let inbound = messages
        .iter()
        .enumerate()
        .map(|(i, m)| Inbound::routed(i.to_string(), Message::decode(&m.to_string(), None)))
        .collect();
    engine
        .run(inbound, sinks, Instant::now() + Duration::from_secs(30))
        .await
}

fn message(id: &str) -> Value {
    json!({"id": id, "payload": {"cmd": "reboot"}})
}

#[tokio::test]
async fn batchpub_is_signed_as_alibabas_own_sdk_signs_it() {
    let stand_in = StandIn::start(json!({"security_token": "STS.CAISrQJ1q6Ft5B2yfSjIr5"}));
    let key = AccessKey::new(
        KEY_ID.into(),
        KEY_SECRET.into(),
        Some("STS.CAISrQJ1q6Ft5B2yfSjIr5".into()),
    );
    let e = engine(
        json!([{"type": "alibaba", "region": "cn-shanghai", "iotInstanceId": "iot-06z00ax1o4qq0ts",
                "endpoint": "iot-06z00ax1o4qq0ts.iot.cn-shanghai.aliyuncs.com", "productKey": "a1BwAGV",
                "devices": ["line3@dev:1", "line3.dev-2"], "topicShortName": "cmd/${attributes.verb}"}]),
        50.0,
    );
    // Base64 of these bytes holds `+` and `/`, which the query string must percent-encode.
    let report = run(
        &e,
        &sinks(&stand_in, key),
        &[
            json!({"id": "m-1", "attributes": {"verb": "reboot"}, "payload": {"cmd": "reboot", "note": "é ~ &="}}),
            json!({"id": "m-2", "attributes": {"verb": "wipe"}, "payloadBase64": "+/+/+/8="}),
        ],
    )
    .await;
    assert_eq!(report.summary.delivered, 2, "{report:#?}");
    assert!(stand_in.with_outcome("rejected").is_empty());
    let mut accepted = stand_in.with_outcome("accepted");
    accepted.sort_by_key(|r| r["topic_short_name"].as_str().unwrap().to_owned());
    assert_eq!(accepted.len(), 2);
    let first = &accepted[0];
    assert_eq!(
        first["host"],
        "iot-06z00ax1o4qq0ts.iot.cn-shanghai.aliyuncs.com"
    );
    assert_eq!(first["iot_instance_id"], "iot-06z00ax1o4qq0ts");
    assert_eq!(first["product_key"], "a1BwAGV");
    assert_eq!(first["devices"], json!(["line3@dev:1", "line3.dev-2"]));
    assert_eq!(first["topic_short_name"], "cmd/reboot");
    assert_eq!(first["qos"], "0");
    assert_eq!(
        BASE64
            .decode(first["message_b64"].as_str().unwrap())
            .unwrap(),
        r#"{"cmd":"reboot","note":"é ~ &="}"#.as_bytes()
    );
    assert_eq!(accepted[1]["message_b64"], "+/+/+/8=");
}

#[tokio::test]
async fn two_hundred_fifty_devices_go_out_as_three_calls() {
    let stand_in = StandIn::start(json!({}));
    let all = devices(250);
    let e = engine(json!([target("a1BwAGV", &all)]), 50.0);
    let report = run(&e, &sinks(&stand_in, key()), &[message("m-1")]).await;
    assert_eq!(report.outcomes[0].status, Status::Delivered, "{report:#?}");
    assert_eq!(report.outcomes[0].targets.len(), 3);
    assert_eq!(report.calls, 3);
    let accepted = stand_in.with_outcome("accepted");
    let mut sizes: Vec<usize> = accepted
        .iter()
        .map(|r| r["devices"].as_array().unwrap().len())
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [50, 100, 100]);
    let mut seen: Vec<String> = accepted
        .iter()
        .flat_map(|r| r["devices"].as_array().unwrap().clone())
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    assert_eq!(seen, all);
    assert!(
        accepted
            .iter()
            .all(|r| r["host"] == "iot.cn-shanghai.aliyuncs.com")
    );
    assert!(accepted.iter().all(|r| r["qos"] == "1"));
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_and_counted() {
    let stand_in = StandIn::start(json!({"throttle_first": 2}));
    let e = engine(json!([target("a1BwAGV", &devices(3))]), 50.0);
    let report = run(&e, &sinks(&stand_in, key()), &[message("m-1")]).await;
    let target = &report.outcomes[0].targets[0];
    assert_eq!(target.status, TargetStatus::Delivered, "{report:#?}");
    assert_eq!(target.attempts, 3);
    assert_eq!(report.throttles, 2);
    let outcomes: Vec<Value> = stand_in
        .records()
        .iter()
        .map(|r| r["outcome"].clone())
        .collect();
    assert_eq!(
        outcomes,
        [json!("throttled"), json!("throttled"), json!("accepted")]
    );
}

#[tokio::test]
async fn server_errors_are_retried() {
    let stand_in = StandIn::start(json!({"fail_first": 1}));
    let e = engine(json!([target("a1BwAGV", &devices(1))]), 50.0);
    let report = run(&e, &sinks(&stand_in, key()), &[message("m-1")]).await;
    let target = &report.outcomes[0].targets[0];
    assert_eq!(target.status, TargetStatus::Delivered, "{report:#?}");
    assert_eq!(target.attempts, 2);
    assert_eq!(report.throttles, 0);
}

#[tokio::test]
async fn success_false_is_a_failure_with_alibabas_code_and_message() {
    let stand_in = StandIn::start(json!({"unsuccessful": {"a1Missing": [
        "iot.prod.NotExistedProduct", "The specified product does not exist."]}}));
    let e = engine(json!([target("a1Missing", &devices(2))]), 50.0);
    let report = run(&e, &sinks(&stand_in, key()), &[message("m-1")]).await;
    let outcome = &report.outcomes[0];
    assert_eq!(outcome.status, Status::Failed);
    assert!(!outcome.retryable, "an unknown product is not retried");
    let target = &outcome.targets[0];
    assert_eq!(target.code.as_deref(), Some("iot.prod.NotExistedProduct"));
    let reason = target.reason.as_deref().unwrap();
    assert!(
        reason.contains("The specified product does not exist.")
            && reason.contains("alibaba:cn-shanghai/a1Missing/get"),
        "{reason}"
    );
    assert_eq!(stand_in.with_outcome("unsuccessful").len(), 1, "sent once");
}

#[tokio::test]
async fn a_forbidden_ram_user_is_told_what_to_grant() {
    let stand_in = StandIn::start(json!({"forbidden": ["a1BwAGV"]}));
    let e = engine(json!([target("a1BwAGV", &devices(1))]), 50.0);
    let report = run(&e, &sinks(&stand_in, key()), &[message("m-1")]).await;
    let target = &report.outcomes[0].targets[0];
    assert_eq!(target.status, TargetStatus::Failed);
    assert!(!target.retryable);
    assert_eq!(target.code.as_deref(), Some("Forbidden.RAM"));
    assert!(
        target.reason.as_deref().unwrap().starts_with(
            "access denied: the AccessKey's RAM user needs iot:BatchPub on product `a1BwAGV`"
        ),
        "{target:?}"
    );
    assert_eq!(stand_in.records().len(), 1);
}

/// The stand-in's check is real: a request signed with another secret is refused by Alibaba's
/// own signing code, and reported as a permanent failure.
#[tokio::test]
async fn a_request_signed_with_another_secret_is_refused() {
    let stand_in = StandIn::start(json!({}));
    let wrong = AccessKey::new(KEY_ID.into(), "AnotherSecret".into(), None);
    let e = engine(json!([target("a1BwAGV", &devices(1))]), 50.0);
    let report = run(&e, &sinks(&stand_in, wrong), &[message("m-1")]).await;
    let target = &report.outcomes[0].targets[0];
    assert_eq!(target.code.as_deref(), Some("SignatureDoesNotMatch"));
    assert!(!target.retryable);
    let rejected = stand_in.with_outcome("rejected");
    assert_eq!(rejected.len(), 1);
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("official SDK")
    );
}

/// FANOUT_ALIBABA_RATE spaces the calls of one instance: at 20 per second, six calls span at
/// least five intervals (250 ms) at the stand-in. Only a lower bound is asserted.
#[tokio::test]
async fn the_rate_cap_spaces_the_calls() {
    let stand_in = StandIn::start(json!({}));
    let e = engine(json!([target("a1BwAGV", &devices(1))]), 20.0);
    let messages: Vec<Value> = (0..6).map(|i| message(&format!("m-{i}"))).collect();
    let report = run(&e, &sinks(&stand_in, key()), &messages).await;
    assert_eq!(report.summary.delivered, 6, "{report:#?}");
    let times: Vec<f64> = stand_in
        .with_outcome("accepted")
        .iter()
        .map(|r| r["time"].as_f64().unwrap())
        .collect();
    assert_eq!(times.len(), 6);
    let span = times[5] - times[0];
    assert!(span >= 0.2, "six calls at 20/s arrived within {span:.3} s");
}

#[tokio::test]
async fn the_access_key_can_live_in_a_secrets_manager_secret() {
    let moto = moto();
    let config = sdk_config(&moto.url).await;
    let name = unique("fanout-alibaba");
    support::moto::create_secret(
        &moto.url,
        &name,
        &json!({"AccessKeyId": KEY_ID, "AccessKeySecret": KEY_SECRET}).to_string(),
    )
    .await;
    let key = credentials::read_secret(&config, &name).await.unwrap();

    let stand_in = StandIn::start(json!({}));
    let e = engine(json!([target("a1BwAGV", &devices(1))]), 50.0);
    let report = run(&e, &sinks(&stand_in, key), &[message("m-1")]).await;
    assert_eq!(report.summary.delivered, 1, "{report:#?}");

    // A secret that is not the documented JSON is named, its text never shown.
    let bad = unique("fanout-alibaba-bad");
    support::moto::create_secret(&moto.url, &bad, "LTAI-SECRET-MARKER").await;
    let e = credentials::read_secret(&config, &bad).await.unwrap_err();
    assert!(matches!(e, CredentialsError::Malformed(_)), "{e}");
    assert!(!e.to_string().contains("MARKER"), "{e}");
    let e = credentials::read_secret(&config, &unique("fanout-alibaba-missing"))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("ResourceNotFoundException")
            && e.to_string().contains("secretsmanager:GetSecretValue"),
        "{e}"
    );
}

#[tokio::test]
async fn a_table_with_alibaba_targets_needs_an_access_key() {
    // The SDK configuration is never used here: no secret is named.
    let config = sdk_config("http://127.0.0.1:9").await;
    let none = Settings::default();
    let err = fanout::sink::alibaba::sink(&none, &config, true)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "the routing table has alibaba targets, but no Alibaba Cloud AccessKey is configured"
        ),
        "{err}"
    );
    assert!(
        fanout::sink::alibaba::sink(&none, &config, false)
            .await
            .unwrap()
            .is_none(),
        "no alibaba targets and no key: the sink is not built"
    );
    let from_env = Settings {
        credentials: credentials::CredentialSource::Environment(key()),
        endpoint_override: None,
    };
    assert!(
        fanout::sink::alibaba::sink(&from_env, &config, false)
            .await
            .unwrap()
            .is_some(),
        "a configured key builds the sink for callers' explicit targets"
    );
}
