//! The error destination end to end against moto: an SQS batch with good, non-JSON,
//! contract-breaking and unroutable records through the real SDK clients. The good record is
//! delivered; the invalid ones arrive in the error queue with their reasons and are left out of
//! `batchItemFailures`; with the error queue unreachable they are in `batchItemFailures` again.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../../shared/tests/support/moto.rs"]
#[allow(dead_code, unreachable_pub)]
mod moto;

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_lambda_events::event::sqs::SqsEvent;
use fanout::app::App;
use fanout::engine::{Engine, EngineConfig};
use fanout::routes::RoutingTable;
use fanout::validate::ContractLimits;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

async fn sdk(url: &str) -> aws_config::SdkConfig {
    fanout::sink::aws::sdk_config_loader()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(url)
        .load()
        .await
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned()
}

async fn drain(sqs: &aws_sdk_sqs::Client, url: &str, n: usize) -> Vec<Value> {
    let mut got = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while got.len() < n && std::time::Instant::now() < until {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        got.extend(
            out.messages()
                .iter()
                .map(|m| serde_json::from_str(m.body().unwrap()).unwrap()),
        );
    }
    got
}

fn record(id: &str, body: &str) -> Value {
    json!({"messageId": id, "receiptHandle": "r", "body": body, "attributes": {},
           "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
           "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest", "awsRegion": "us-east-1"})
}

async fn run(url: &str, delivery: &str, errors: &str) -> (Vec<String>, App) {
    let table = json!({
        "routes": [{"name": "telemetry", "match": {"topic": "plant1/#"}, "targets": [
            {"type": "sqs", "queueUrl": delivery,
             "attributes": {"device": {"type": "String", "value": "${attributes.deviceId}"}}}
        ]}],
        "errors": {"type": "sqs", "queueUrl": errors}
    });
    let app = App {
        engine: Engine::new(
            RoutingTable::from_json(&table.to_string(), &ContractLimits::default()).unwrap(),
            EngineConfig::default(),
        ),
        sinks: fanout::sink::aws::aws_sinks(&sdk(url).await),
    };
    let event: SqsEvent = serde_json::from_value(json!({"Records": [
        record("good", r#"{"topic": "plant1/a", "attributes": {"deviceId": "d-1"}, "payload": {"t": 1}}"#),
        record("not-json", "hello, world"),
        record("contract", r#"{"topic": "plant1/a", "attributes": {"deviceId": ""}, "payload": 2}"#),
        record("unroutable", r#"{"topic": "elsewhere", "payload": 3}"#),
    ]}))
    .unwrap();
    let mut context = Context::default();
    context.request_id = "req-7".into();
    let response = fanout_sqs::handle(&app, LambdaEvent::new(event, context))
        .await
        .unwrap();
    let mut failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    failed.sort();
    (failed, app)
}

#[tokio::test]
async fn invalid_records_go_to_the_error_queue_with_their_reasons() {
    let moto = moto::moto();
    let sqs = aws_sdk_sqs::Client::new(&sdk(&moto.url).await);
    let delivery = queue(&sqs, &format!("delivery-{}", std::process::id())).await;
    let errors = queue(&sqs, &format!("errors-{}", std::process::id())).await;

    let (failed, _) = run(&moto.url, &delivery, &errors).await;
    assert!(failed.is_empty(), "acknowledged: {failed:?}");
    let delivered = drain(&sqs, &delivery, 1).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["t"], 1);

    let mut records = drain(&sqs, &errors, 3).await;
    records.sort_by_key(|r| r["sourceId"].as_str().unwrap().to_owned());
    let sources: Vec<&str> = records
        .iter()
        .map(|r| r["sourceId"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["contract", "not-json", "unroutable"]);
    assert!(
        records
            .iter()
            .all(|r| r["requestId"] == "req-7" && r["retryable"] == false)
    );
    assert_eq!(records[0]["original"]["attributes"]["deviceId"], "");
    assert_eq!(records[0]["route"], "telemetry");
    assert!(
        records[0]["rule"]
            .as_str()
            .unwrap()
            .contains("empty string")
    );
    assert_eq!(records[1]["originalText"], "hello, world");
    assert!(
        records[1]["rule"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    assert!(
        records[2]["rule"]
            .as_str()
            .unwrap()
            .contains("no route matches")
    );
}

#[tokio::test]
async fn with_the_error_queue_unreachable_invalid_records_go_back_to_the_queue() {
    let moto = moto::moto();
    let sqs = aws_sdk_sqs::Client::new(&sdk(&moto.url).await);
    let delivery = queue(&sqs, &format!("delivery-b-{}", std::process::id())).await;
    let missing = delivery.replace("delivery-b-", "no-such-queue-");
    let (failed, _) = run(&moto.url, &delivery, &missing).await;
    assert_eq!(failed, ["contract", "not-json", "unroutable"]);
    assert_eq!(drain(&sqs, &delivery, 1).await.len(), 1);
}

/// `events/error-record.json` is what the function writes: the sample table with the error queue
/// of a deployment (`FANOUT_ERRORS_QUEUE_URL`), `events/sqs-invalid.json` in, on the local outbox.
#[tokio::test]
async fn the_sample_error_record_is_what_the_function_writes() {
    const QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/fanout-errors";
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let config = fanout::config::Config::from_lookup(|k| match k {
        "FANOUT_ROUTES" => Some(include_str!("../../../events/routes.json").to_owned()),
        "FANOUT_OUTBOX_DIR" => Some(outbox.display().to_string()),
        "FANOUT_ERRORS_QUEUE_URL" => Some(QUEUE.to_owned()),
        "AWS_LAMBDA_FUNCTION_NAME" => Some("iot-fanout-SqsFunction-x1".to_owned()),
        "FANOUT_METRICS" => Some("off".to_owned()),
        _ => None,
    })
    .unwrap();
    let app = App::from_config(config).await.unwrap();
    let event: SqsEvent =
        serde_json::from_str(include_str!("../../../events/sqs-invalid.json")).unwrap();
    let mut context = Context::default();
    context.request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into();
    let response = fanout_sqs::handle(&app, LambdaEvent::new(event, context))
        .await
        .unwrap();
    assert!(
        response.batch_item_failures.is_empty(),
        "every invalid record is acknowledged once its record is in the error queue"
    );
    let lines = std::fs::read_to_string(outbox.join(fanout::sink::outbox::FILE_NAME)).unwrap();
    let records: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["destination"] == QUEUE)
        .flat_map(|l| l["request"]["Entries"].as_array().unwrap().clone())
        .map(|e| serde_json::from_str(e["MessageBody"].as_str().unwrap()).unwrap())
        .collect();
    let sample: Value =
        serde_json::from_str(include_str!("../../../events/error-record.json")).unwrap();
    let mut written = records
        .into_iter()
        .find(|r: &Value| r["sourceId"] == sample["sourceId"])
        .expect("a record for the sample's source");
    written["time"] = sample["time"].clone();
    assert_eq!(written, sample, "events/error-record.json is out of date");
}
