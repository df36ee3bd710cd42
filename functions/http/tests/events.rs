//! The HTTP function end to end on the sample events in `events/` and on edge cases, through the
//! local outbox (or a failing sink for the retryable path).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

use std::sync::Arc;

use base64::Engine as _;
use fanout::sink::{Call, CallError, CallReport, ErrorClass, Sink, Sinks};
use fanout_http::HttpSettings;
use futures::future::BoxFuture;
use harness::{call, destinations, harness, outbox, variant};
use serde_json::{Value, json};

const MESSAGES: &str = include_str!("../../../events/http-messages.json");

#[tokio::test]
async fn messages_event_is_delivered_everywhere() {
    let h = harness(HttpSettings::default()).await;
    let a = call(&h, MESSAGES).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let results = a.body["results"].as_array().unwrap();
    let ids: Vec<_> = results
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["id"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            (0, "h-1", "delivered"),
            (1, "h-2", "delivered"),
            (2, "h-3", "delivered")
        ]
    );
    assert_eq!(results[0]["targets"].as_array().unwrap().len(), 6);
    assert_eq!(a.body["summary"]["delivered"], 3);
    assert_eq!(
        destinations(&outbox(&h.outbox)),
        [
            "analytics:telemetry_line3",
            "analytics:telemetry_line4",
            "events:overheat_detector",
            "firehose:fanout-telemetry",
            "kinesis:fanout-events",
            "mqtt:dashboards/plant1/line3/sensor-42",
            "mqtt:dashboards/plant1/line4/sensor-7",
            "shadow:sensor-42",
            "sns:arn:aws:sns:us-east-1:123456789012:fanout-alerts",
        ]
    );
}

#[tokio::test]
async fn gzip_event_is_delivered_like_the_plain_one() {
    // API Gateway passes the compressed body base64-encoded, with isBase64Encoded.
    let plain = harness(HttpSettings::default()).await;
    let a = call(&plain, MESSAGES).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let gzip = harness(HttpSettings::default()).await;
    let g = call(&gzip, include_str!("../../../events/http-gzip.json")).await;
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(g.body["results"], a.body["results"]);
    assert_eq!(
        destinations(&outbox(&gzip.outbox)),
        destinations(&outbox(&plain.outbox))
    );
}

#[tokio::test]
async fn dry_run_returns_the_plan_and_sends_nothing() {
    let h = harness(HttpSettings::default()).await;
    let a = call(&h, include_str!("../../../events/http-dry-run.json")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["dryRun"], true);
    assert_eq!(a.body["messages"].as_array().unwrap().len(), 3);
    assert_eq!(
        a.body["messages"][0]["targets"].as_array().unwrap().len(),
        6
    );
    let calls = a.body["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 9);
    // The dry run shows the live destinations' calls: both telemetry messages share one
    // Firehose call, and one call of the ordered Kinesis stream (two devices, two keys).
    let kinesis = calls
        .iter()
        .find(|c| c["destination"]["kind"] == "kinesis")
        .unwrap();
    assert_eq!(kinesis["destination"]["stream"], "fanout-events");
    assert_eq!(kinesis["ordered"], true);
    assert_eq!(kinesis["messages"], serde_json::json!([0, 1]));
    let firehose = calls
        .iter()
        .find(|c| c["destination"]["kind"] == "firehose")
        .unwrap();
    assert_eq!(
        firehose["destination"]["deliveryStream"],
        "fanout-telemetry"
    );
    assert!(calls.iter().all(|c| c["bytes"].as_u64().unwrap() > 0));
    assert!(outbox(&h.outbox).is_empty(), "a dry run must not send");
}

#[tokio::test]
async fn invalid_messages_get_reasons_and_the_rest_is_delivered() {
    let h = harness(HttpSettings::default()).await;
    let a = call(
        &h,
        include_str!("../../../events/http-invalid-messages.json"),
    )
    .await;
    assert_eq!(a.status, 207, "{}", a.body);
    let results = a.body["results"].as_array().unwrap();
    let status: Vec<_> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        status,
        ["delivered", "invalid", "invalid", "invalid", "invalid"]
    );
    let error = |i: usize| results[i]["error"].as_str().unwrap().to_owned();
    assert!(
        error(1).contains("duplicates the id of message 0"),
        "{}",
        error(1)
    );
    assert!(error(2).contains("no attribute `deviceId`"), "{}", error(2));
    assert!(
        error(3).contains("exactly one of `payload` and `payloadBase64`"),
        "{}",
        error(3)
    );
    assert!(
        error(4).contains("explicit targets are not enabled"),
        "{}",
        error(4)
    );
    assert_eq!(
        outbox(&h.outbox).len(),
        4,
        "only message 0 is sent (analytics, mqtt, firehose, kinesis)"
    );
}

#[tokio::test]
async fn explicit_targets_only_from_the_allow_list() {
    let settings = HttpSettings::from_lookup(|k| {
        (k == "FANOUT_HTTP_ALLOWED_TARGETS").then(|| r#"["mqtt:anywhere/*"]"#.to_owned())
    })
    .unwrap();
    let h = harness(settings).await;
    let body = |targets: Value| {
        variant(MESSAGES, |v| {
            v["body"] =
                json!({"messages": [{"id": "e-1", "payload": {"a": 1}, "targets": targets}]})
                    .to_string()
                    .into();
        })
    };
    let a = call(
        &h,
        &body(json!([{"type": "mqtt", "topic": "anywhere/${id}"}])),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(destinations(&outbox(&h.outbox)), ["mqtt:anywhere/e-1"]);
    let a = call(
        &h,
        &body(json!([{"type": "sns", "topicArn": "arn:aws:sns:us-east-1:123456789012:other"}])),
    )
    .await;
    assert_eq!(a.status, 422);
    assert!(
        a.body["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not on this endpoint's allow-list")
    );
    assert_eq!(
        outbox(&h.outbox).len(),
        1,
        "the refused target was not sent"
    );
}

#[tokio::test]
async fn batch_pub_publishes_once_per_device() {
    let h = harness(HttpSettings::default()).await;
    let a = call(&h, include_str!("../../../events/http-batch-pub.json")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["Success"], true);
    assert_eq!(a.body["RequestId"], "c6af9ac6-7b61-11e6-9a41-93e8deadbeef");
    assert_eq!(a.body["Results"].as_array().unwrap().len(), 3);
    let calls = outbox(&h.outbox);
    assert_eq!(
        destinations(&calls),
        [
            "fleet:/a1BwAGV/newdevice1/user/get",
            "fleet:/a1BwAGV/newdevice2/user/get",
            "fleet:/a1BwAGV/newdevice3/user/get"
        ]
    );
    assert_eq!(calls[0]["request"]["qos"], 1);
    assert_eq!(calls[0]["request"]["body"], "hello world");
}

#[tokio::test]
async fn batch_pub_limits_use_the_batchpub_shape() {
    let h = harness(HttpSettings::default()).await;
    let event = include_str!("../../../events/http-batch-pub.json");
    let with = |devices: Vec<String>, content: String| {
        variant(event, |v| {
            v["body"] = json!({"ProductKey": "pk", "DeviceName": devices, "TopicShortName": "get", "MessageContent": content}).to_string().into();
        })
    };
    let devices = |n: usize| (0..n).map(|i| format!("dev-{i}")).collect::<Vec<_>>();
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);

    let a = call(&h, &with(devices(101), b64(1))).await;
    assert_eq!(
        (a.status, a.body["Success"].clone(), a.body["Code"].clone()),
        (400, json!(false), json!("iot.common.InvalidParameter"))
    );
    assert!(
        a.body["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("1 to 100")
    );
    // It publishes through AWS IoT Core: 128 KiB, not BatchPub's own 256 KB.
    let a = call(&h, &with(devices(1), b64(128 * 1024 + 1))).await;
    assert_eq!(a.status, 400);
    assert!(
        a.body["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("at most 131072 bytes (128 KiB)"),
        "{}",
        a.body
    );
    assert!(outbox(&h.outbox).is_empty());

    let a = call(&h, &with(devices(100), b64(128 * 1024))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(outbox(&h.outbox).len(), 100);
    let a = call(
        &h,
        &variant(event, |v| {
            v["body"] = json!({"ProductKey": "pk"}).to_string().into()
        }),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(
        a.body["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("missing field `DeviceName`")
    );
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors() {
    let h = harness(HttpSettings::default()).await;
    let a = call(&h, include_str!("../../../events/http-bad-body.json")).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["error"]["code"], "InvalidJson");
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 1 column"),
        "{}",
        a.body
    );

    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, u16, &str)> = vec![
        (Box::new(|v| v["rawPath"] = "/nope".into()), 404, "NotFound"),
        (
            Box::new(|v| v["requestContext"]["http"]["method"] = "GET".into()),
            405,
            "MethodNotAllowed",
        ),
        (
            Box::new(|v| v["headers"]["content-type"] = "text/plain".into()),
            400,
            "UnsupportedContentType",
        ),
        (Box::new(|v| v["body"] = "".into()), 400, "EmptyBody"),
        (
            Box::new(|v| v["body"] = "[1, 2]".into()),
            400,
            "InvalidJson",
        ),
        (
            Box::new(|v| v["body"] = r#"{"messages": []}"#.into()),
            400,
            "NoMessages",
        ),
        (
            Box::new(|v| v["body"] = r#"{"messages": [], "extra": 1}"#.into()),
            400,
            "InvalidJson",
        ),
    ];
    for (edit, status, code) in cases {
        let a = call(&h, &variant(MESSAGES, edit)).await;
        assert_eq!(
            (a.status, a.body["error"]["code"].as_str().unwrap()),
            (status, code),
            "{}",
            a.body
        );
    }
    assert!(outbox(&h.outbox).is_empty());
}

#[tokio::test]
async fn size_and_count_limits_answer_413() {
    let settings = HttpSettings::from_lookup(|k| match k {
        "FANOUT_HTTP_MAX_MESSAGES" => Some("2".to_owned()),
        "FANOUT_HTTP_MAX_BYTES" => Some("2000".to_owned()),
        _ => None,
    })
    .unwrap();
    let h = harness(settings).await;
    let a = call(&h, MESSAGES).await;
    assert_eq!(
        (a.status, a.body["error"]["code"].as_str().unwrap()),
        (413, "TooManyMessages")
    );
    let big = variant(MESSAGES, |v| {
        v["body"] = json!({"messages": [{"id": "x", "payload": "y".repeat(3000)}]})
            .to_string()
            .into();
    });
    let a = call(&h, &big).await;
    assert_eq!(
        (a.status, a.body["error"]["code"].as_str().unwrap()),
        (413, "PayloadTooLarge")
    );
    assert!(outbox(&h.outbox).is_empty());
}

#[tokio::test]
async fn all_invalid_is_422() {
    let h = harness(HttpSettings::default()).await;
    let a = call(
        &h,
        &variant(MESSAGES, |v| {
            v["body"] = r#"{"messages": [{"payload": 1}, "text"]}"#.into()
        }),
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(
        a.body["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("field `id`: is required")
    );
    assert!(
        a.body["results"][1]["error"]
            .as_str()
            .unwrap()
            .contains("must be a JSON object")
    );
}

#[derive(Debug)]
struct Throttled;

impl Sink for Throttled {
    fn send<'a>(&'a self, _call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(async {
            Err(CallError::new(
                ErrorClass::Throttled,
                "ThrottlingException",
                "slow down",
            ))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn nothing_delivered_for_retryable_reasons_is_503_with_retry_after() {
    let mut h = harness(HttpSettings::default()).await;
    h.http.app.sinks = Sinks::all(Arc::new(Throttled));
    let a = call(&h, MESSAGES).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.retry_after.as_deref(), Some("2"));
    assert_eq!(a.body["results"][0]["status"], "failed");
    assert_eq!(a.body["results"][0]["retryable"], true);
    let a = call(&h, include_str!("../../../events/http-batch-pub.json")).await;
    assert_eq!((a.status, a.body["Success"].clone()), (503, json!(false)));
    assert_eq!(a.body["Results"][0]["Retryable"], true);
}
