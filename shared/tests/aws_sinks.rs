//! The AWS sinks over HTTP, through the real SDK clients and the signed calls: SNS, IoT Core,
//! Data Firehose, Kinesis, EventBridge and SQS against moto (arrival checked at the far end), IoT
//! Analytics and IoT Events Data against a wire-level stub that checks the service's limits, and
//! the per-entry failure paths of the live destinations against the same stub (moto does not fail
//! single entries).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fanout::batch;
use fanout::destination::{
    Destination, DetailMode, EntryParams, EventBridgeParams, FirehoseParams, KinesisParams,
    PayloadFormat, PublishParams, SnsAttribute, SnsParams, SqsParams,
};
use fanout::dispatch::dispatch;
use fanout::outcome::TargetStatus;
use fanout::sink::aws::aws_sinks;
use fanout::sink::{CallReport, ErrorClass};
use support::moto::moto;
use support::stub::{Behaviour, Stub};
use support::{call, dispatch_options, entry, sdk_config, unique};

fn analytics(channel: &str) -> Destination {
    Destination::Analytics {
        channel: channel.into(),
    }
}

fn events(input: &str) -> Destination {
    Destination::Events {
        input: input.into(),
    }
}

fn scripted(errors: &[(&str, &str, usize)]) -> HashMap<String, (String, usize)> {
    errors
        .iter()
        .map(|(id, code, times)| ((*id).to_owned(), ((*code).to_owned(), *times)))
        .collect()
}

// ---------------------------------------------------------------- IoT Analytics / Events (stub)

#[tokio::test]
async fn analytics_partial_failure_is_mapped_by_message_id() {
    let stub = Stub::start(Behaviour {
        entry_errors: scripted(&[
            ("m1", "InvalidRequestException", 9),
            ("m2", "InternalFailureException", 9),
        ]),
        ..Behaviour::default()
    })
    .await;
    let sinks = aws_sinks(&sdk_config(&stub.url).await);
    let c = call(
        analytics("telemetry"),
        vec![
            entry(0, "m0", br#"{"temp_01":1}"#, EntryParams::Analytics),
            entry(1, "m1", br#"{"temp_01":2}"#, EntryParams::Analytics),
            entry(2, "m2", br#"{"temp_01":3}"#, EntryParams::Analytics),
        ],
    );
    let report = sinks.analytics.send(&c).await.unwrap();
    let got: Vec<(usize, &str, bool)> = report
        .failed
        .iter()
        .map(|f| (f.index, f.code.as_str(), f.retryable))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "InvalidRequestException", false),
            (2, "InternalFailureException", true)
        ]
    );
    stub.with(|s| {
        assert!(s.violations.is_empty(), "{:?}", s.violations);
        assert_eq!(s.accepted.len(), 1);
        assert_eq!(s.accepted[0].message_id, "m0");
        assert_eq!(s.accepted[0].destination, "telemetry");
        assert_eq!(s.accepted[0].payload, br#"{"temp_01":1}"#);
    });
}

#[tokio::test]
async fn analytics_throttled_then_delivered_through_dispatch() {
    let stub = Stub::start(Behaviour {
        throttle_first: 2,
        ..Behaviour::default()
    })
    .await;
    let sinks = aws_sinks(&sdk_config(&stub.url).await);
    let entries = (0..3)
        .map(|i| entry(i, &format!("m{i}"), br#"{"v":1}"#, EntryParams::Analytics))
        .collect();
    let lanes = batch::pack(&analytics("telemetry"), entries, false);
    let out = dispatch(lanes, &sinks, &dispatch_options(4)).await;
    let results: Vec<_> = out.iter().flat_map(|l| l.entries.clone()).collect();
    assert_eq!(results.len(), 3);
    assert!(
        results
            .iter()
            .all(|r| r.status == TargetStatus::Delivered && r.attempts == 3),
        "{results:?}"
    );
    assert_eq!(out[0].throttles, 2);
    assert_eq!(out[0].calls, 3);
    stub.with(|s| assert_eq!(s.accepted.len(), 3));
}

#[tokio::test]
async fn throttling_is_classified_throttled_by_the_sink() {
    let stub = Stub::start(Behaviour {
        throttle_first: 1,
        ..Behaviour::default()
    })
    .await;
    let sinks = aws_sinks(&sdk_config(&stub.url).await);
    let c = call(
        events("overheat"),
        vec![entry(0, "m0", br#"{"t":1}"#, EntryParams::Events)],
    );
    let err = sinks.events.send(&c).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Throttled);
    assert_eq!(err.code, "ThrottlingException");
    // Nothing retried underneath: one call reached the stub.
    stub.with(|s| assert_eq!(s.calls.len(), 1));
}

#[tokio::test]
async fn server_errors_are_transient() {
    let stub = Stub::start(Behaviour {
        fail_first: 1,
        ..Behaviour::default()
    })
    .await;
    let sinks = aws_sinks(&sdk_config(&stub.url).await);
    let c = call(
        analytics("telemetry"),
        vec![entry(0, "m0", br#"{"v":1}"#, EntryParams::Analytics)],
    );
    let err = sinks.analytics.send(&c).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient);
    assert_eq!(err.code, "InternalFailureException");
    assert!(err.message.contains("telemetry"), "{}", err.message);
    // The next call goes through.
    assert_eq!(
        sinks.analytics.send(&c).await.unwrap(),
        CallReport::default()
    );
}

#[tokio::test]
async fn access_denied_and_missing_resources_name_action_and_resource() {
    let mut call_errors = HashMap::new();
    call_errors.insert(
        "locked".to_owned(),
        (403, "AccessDeniedException".to_owned()),
    );
    call_errors.insert(
        "gone".to_owned(),
        (404, "ResourceNotFoundException".to_owned()),
    );
    let stub = Stub::start(Behaviour {
        call_errors,
        ..Behaviour::default()
    })
    .await;
    let sinks = aws_sinks(&sdk_config(&stub.url).await);
    let secret = br#"{"secret_value":"do-not-log-me"}"#;
    let err = sinks
        .analytics
        .send(&call(
            analytics("locked"),
            vec![entry(0, "m0", secret, EntryParams::Analytics)],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(
        err.message.contains("iotanalytics:BatchPutMessage") && err.message.contains("`locked`"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("do-not-log-me"));
    let err = sinks
        .events
        .send(&call(
            events("gone"),
            vec![entry(0, "m0", secret, EntryParams::Events)],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert_eq!(err.code, "ResourceNotFoundException");
    assert!(
        err.message
            .contains("IoT Events input `gone` does not exist"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("do-not-log-me"));
}

#[tokio::test]
async fn events_entry_errors_retry_only_what_may_succeed() {
    let stub = Stub::start(Behaviour {
        entry_errors: scripted(&[
            ("gone", "ResourceNotFoundException", 9),
            ("bad", "InvalidRequestException", 9),
            ("busy", "ServiceUnavailableException", 1),
            ("slow", "ThrottlingException", 1),
        ]),
        ..Behaviour::default()
    })
    .await;
    let sinks = aws_sinks(&sdk_config(&stub.url).await);
    let mut ok = entry(0, "ok", br#"{"t":1}"#, EntryParams::Events);
    ok.timestamp = Some(1_732_270_000_000);
    let entries = vec![
        ok,
        entry(1, "gone", br#"{"t":2}"#, EntryParams::Events),
        entry(2, "bad", br#"{"t":3}"#, EntryParams::Events),
        entry(3, "busy", br#"{"t":4}"#, EntryParams::Events),
        entry(4, "slow", br#"{"t":5}"#, EntryParams::Events),
    ];
    let lanes = batch::pack(&events("overheat"), entries, false);
    let out = dispatch(lanes, &sinks, &dispatch_options(4)).await;
    let mut results: Vec<_> = out.iter().flat_map(|l| l.entries.clone()).collect();
    results.sort_by_key(|r| r.message);
    let got: Vec<(TargetStatus, bool, u32)> = results
        .iter()
        .map(|r| (r.status, r.retryable, r.attempts))
        .collect();
    assert_eq!(
        got,
        vec![
            (TargetStatus::Delivered, false, 1),
            (TargetStatus::Failed, false, 1),
            (TargetStatus::Failed, false, 1),
            (TargetStatus::Delivered, false, 2),
            (TargetStatus::Delivered, false, 2),
        ]
    );
    assert_eq!(
        results[1].code.as_deref(),
        Some("ResourceNotFoundException")
    );
    assert!(
        results[1]
            .reason
            .as_deref()
            .unwrap()
            .contains("events:overheat does not exist"),
        "{:?}",
        results[1].reason
    );
    stub.with(|s| {
        assert!(s.violations.is_empty(), "{:?}", s.violations);
        let calls: Vec<Vec<String>> = s.calls.iter().map(|c| c.message_ids.clone()).collect();
        assert_eq!(
            calls,
            vec![
                vec!["ok", "gone", "bad", "busy", "slow"],
                vec!["busy", "slow"],
            ]
        );
        let ok = s.accepted.iter().find(|a| a.message_id == "ok").unwrap();
        assert_eq!(ok.timestamp, Some(1_732_270_000_000));
        assert_eq!(ok.destination, "overheat");
    });
}

#[tokio::test]
async fn packed_calls_never_exceed_the_documented_limits() {
    let stub = Stub::start(Behaviour::default()).await;
    let sinks = aws_sinks(&sdk_config(&stub.url).await);
    // 250 analytics messages: 3 calls of at most 100.
    let a: Vec<_> = (0..250)
        .map(|i| entry(i, &format!("a{i}"), br#"{"v":1}"#, EntryParams::Analytics))
        .collect();
    // 25 events messages of 300 bytes: at most 3 per call under the 1 KiB cap.
    let body = format!(r#"{{"pad":"{}"}}"#, "x".repeat(290));
    let e: Vec<_> = (0..25)
        .map(|i| entry(i, &format!("e{i}"), body.as_bytes(), EntryParams::Events))
        .collect();
    let mut lanes = batch::pack(&analytics("telemetry"), a, false);
    lanes.extend(batch::pack(&events("overheat"), e, false));
    let out = dispatch(lanes, &sinks, &dispatch_options(2)).await;
    assert!(
        out.iter()
            .flat_map(|l| &l.entries)
            .all(|r| r.status == TargetStatus::Delivered)
    );
    stub.with(|s| {
        assert!(s.violations.is_empty(), "{:?}", s.violations);
        assert_eq!(s.accepted.len(), 275);
        for c in &s.calls {
            match c.path {
                "/messages/batch" => assert!(c.message_ids.len() <= 100),
                _ => assert!(
                    c.message_ids.len() <= 10 && c.payload_bytes <= 1024,
                    "{c:?}"
                ),
            }
        }
        assert_eq!(
            s.calls
                .iter()
                .filter(|c| c.path == "/messages/batch")
                .count(),
            3
        );
    });
}

// ---------------------------------------------------------------- SNS (moto)

struct SnsFixture {
    sns: aws_sdk_sns::Client,
    sqs: aws_sdk_sqs::Client,
    topic_arn: String,
    queue_url: String,
}

/// A topic with an SQS queue subscribed to it with raw delivery.
async fn sns_fixture(url: &str, fifo: bool) -> SnsFixture {
    let config = sdk_config(url).await;
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let suffix = if fifo { ".fifo" } else { "" };
    let name = unique("fanout");
    let mut topic = sns.create_topic().name(format!("{name}{suffix}"));
    let mut queue = sqs.create_queue().queue_name(format!("{name}{suffix}"));
    if fifo {
        topic = topic.attributes("FifoTopic", "true");
        queue = queue.attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true");
    }
    let topic_arn = topic.send().await.unwrap().topic_arn().unwrap().to_owned();
    let queue_url = queue.send().await.unwrap().queue_url().unwrap().to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()
        .get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .unwrap()
        .clone();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    SnsFixture {
        sns,
        sqs,
        topic_arn,
        queue_url,
    }
}

/// Receives until `n` messages arrived (or 5 s passed).
async fn receive(f: &SnsFixture, n: usize) -> Vec<aws_sdk_sqs::types::Message> {
    let mut got = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while got.len() < n && std::time::Instant::now() < until {
        let out = f
            .sqs
            .receive_message()
            .queue_url(&f.queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        got.extend(out.messages().iter().cloned());
        if got.len() < n {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    got
}

#[tokio::test]
async fn sns_standard_topic_delivers_a_batch_with_attributes() {
    let moto = moto();
    let f = sns_fixture(&moto.url, false).await;
    let sinks = aws_sinks(&sdk_config(&moto.url).await);
    let params = SnsParams {
        subject: Some("overheat".into()),
        attributes: vec![
            SnsAttribute {
                name: "device".into(),
                data_type: "String".into(),
                value: "sensor-42".into(),
            },
            SnsAttribute {
                name: "level".into(),
                data_type: "Number".into(),
                value: "3".into(),
            },
        ],
        ..SnsParams::default()
    };
    let entries = (0..3)
        .map(|i| {
            entry(
                i,
                &format!("m{i}"),
                format!(r#"{{"n":{i}}}"#).as_bytes(),
                EntryParams::Sns(Arc::new(params.clone())),
            )
        })
        .collect();
    let c = call(
        Destination::Sns {
            topic_arn: f.topic_arn.clone(),
        },
        entries,
    );
    assert_eq!(sinks.sns.send(&c).await.unwrap(), CallReport::default());
    let mut got = receive(&f, 3).await;
    got.sort_by_key(|m| m.body().unwrap_or_default().to_owned());
    let bodies: Vec<&str> = got.iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, vec![r#"{"n":0}"#, r#"{"n":1}"#, r#"{"n":2}"#]);
    let attrs = got[0].message_attributes().unwrap();
    assert_eq!(attrs["device"].string_value(), Some("sensor-42"));
    assert_eq!(attrs["level"].string_value(), Some("3"));
    let _ = f.sns;
}

/// moto 5.2 cannot hand a Binary attribute over to SQS (ReceiveMessage answers 500), so the
/// Binary attribute is checked on the PublishBatch request moto recorded instead.
#[tokio::test]
async fn sns_binary_attributes_are_sent_as_bytes() {
    let moto = moto();
    support::moto::start_recording(&moto.url).await;
    let config = sdk_config(&moto.url).await;
    let topic_arn = aws_sdk_sns::Client::new(&config)
        .create_topic()
        .name(unique("binary"))
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    let params = SnsParams {
        attributes: vec![SnsAttribute {
            name: "raw".into(),
            data_type: "Binary".into(),
            value: BASE64.encode([0xde, 0xad]),
        }],
        ..SnsParams::default()
    };
    let c = call(
        Destination::Sns {
            topic_arn: topic_arn.clone(),
        },
        vec![entry(0, "m0", b"{}", EntryParams::Sns(Arc::new(params)))],
    );
    assert_eq!(
        aws_sinks(&config).sns.send(&c).await.unwrap(),
        CallReport::default()
    );
    let rec = support::moto::recording(&moto.url).await;
    let bodies: Vec<String> = rec
        .iter()
        .filter_map(|r| {
            let body = r["body"].as_str()?;
            let bytes = if r["body_encoded"] == serde_json::Value::Bool(true) {
                BASE64.decode(body).ok()?
            } else {
                body.as_bytes().to_vec()
            };
            Some(String::from_utf8_lossy(&bytes).into_owned())
        })
        .filter(|b| b.contains(topic_arn.rsplit(':').next().unwrap_or_default()))
        .filter(|b| b.contains("PublishBatch") || b.contains("PublishBatchRequestEntries"))
        .collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    // Query protocol (form-encoded) or JSON: either way the bytes travel as base64 "3q0=".
    assert!(
        bodies[0].contains("BinaryValue")
            && (bodies[0].contains("3q0=") || bodies[0].contains("3q0%3D")),
        "{}",
        bodies[0]
    );
}

#[tokio::test]
async fn sns_fifo_topic_gets_group_and_deduplication_ids() {
    let moto = moto();
    let f = sns_fixture(&moto.url, true).await;
    let sinks = aws_sinks(&sdk_config(&moto.url).await);
    let params = SnsParams {
        group_id: Some("sensor-42".into()),
        ..SnsParams::default()
    };
    let entries = (0..10)
        .map(|i| {
            entry(
                i,
                &format!("m{i}-dedup"),
                format!(r#"{{"n":{i}}}"#).as_bytes(),
                EntryParams::Sns(Arc::new(params.clone())),
            )
        })
        .collect();
    let c = call(
        Destination::Sns {
            topic_arn: f.topic_arn.clone(),
        },
        entries,
    );
    assert_eq!(sinks.sns.send(&c).await.unwrap(), CallReport::default());
    let got = receive(&f, 10).await;
    let bodies: Vec<String> = got
        .iter()
        .filter_map(|m| m.body().map(str::to_owned))
        .collect();
    let expected: Vec<String> = (0..10).map(|i| format!(r#"{{"n":{i}}}"#)).collect();
    assert_eq!(bodies, expected, "FIFO order within the group");
}

/// A table that says `contentBasedDeduplication` for a topic that does not have it must not fail
/// the batch: the sink reads the topic's own setting (once) and sends deduplication ids unless
/// the topic really deduplicates by content.
#[tokio::test]
async fn sns_fifo_content_deduplication_follows_the_topic_not_the_table() {
    let moto = moto();
    let config = sdk_config(&moto.url).await;
    let sns = aws_sdk_sns::Client::new(&config);
    let sinks = aws_sinks(&config);
    let params = EntryParams::Sns(Arc::new(SnsParams {
        group_id: Some("g".into()),
        content_based_deduplication: true,
        ..SnsParams::default()
    }));
    for topic_has_it in [false, true] {
        let mut topic = sns
            .create_topic()
            .name(format!("{}.fifo", unique("cbd")))
            .attributes("FifoTopic", "true");
        if topic_has_it {
            topic = topic.attributes("ContentBasedDeduplication", "true");
        }
        let topic_arn = topic.send().await.unwrap().topic_arn().unwrap().to_owned();
        let entries = (0..3)
            .map(|i| entry(i, &format!("m{i}"), b"{\"same\":1}", params.clone()))
            .collect();
        let c = call(Destination::Sns { topic_arn }, entries);
        assert_eq!(
            sinks.sns.send(&c).await.unwrap(),
            CallReport::default(),
            "topic with content-based deduplication: {topic_has_it}"
        );
    }
}

#[tokio::test]
async fn sns_entry_refused_by_the_service_is_reported_for_its_index() {
    let moto = moto();
    let f = sns_fixture(&moto.url, false).await;
    let sinks = aws_sinks(&sdk_config(&moto.url).await);
    // Entry 1 is over SNS's 262,144-byte message limit: SNS answers 200 with it in `Failed`
    // (SenderFault=true) and delivers the others.
    let huge = vec![b'x'; 262_145];
    let params = EntryParams::Sns(Arc::new(SnsParams::default()));
    let c = call(
        Destination::Sns {
            topic_arn: f.topic_arn.clone(),
        },
        vec![
            entry(0, "m0", br#"{"n":0}"#, params.clone()),
            entry(1, "m1", &huge, params.clone()),
            entry(2, "m2", br#"{"n":2}"#, params),
        ],
    );
    let report = sinks.sns.send(&c).await.unwrap();
    let failed: Vec<(usize, &str, bool)> = report
        .failed
        .iter()
        .map(|f| (f.index, f.code.as_str(), f.retryable))
        .collect();
    assert_eq!(failed, vec![(1, "InvalidParameter", false)], "{report:?}");
    assert_eq!(receive(&f, 2).await.len(), 2);
}

#[tokio::test]
async fn sns_missing_topic_is_permanent_and_named() {
    let moto = moto();
    let sinks = aws_sinks(&sdk_config(&moto.url).await);
    let arn = format!("arn:aws:sns:us-east-1:123456789012:{}", unique("missing"));
    let err = sinks
        .sns
        .send(&call(
            Destination::Sns {
                topic_arn: arn.clone(),
            },
            vec![entry(
                0,
                "m0",
                b"{}",
                EntryParams::Sns(Arc::new(SnsParams::default())),
            )],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent, "{err:?}");
    assert!(err.message.contains(&arn), "{}", err.message);
}

// ---------------------------------------------------------------- IoT Core (moto)

fn recorded_for<'a>(rec: &'a [serde_json::Value], path: &str) -> Vec<&'a serde_json::Value> {
    rec.iter()
        .filter(|r| {
            r["url"]
                .as_str()
                .is_some_and(|u| u.split('?').next().is_some_and(|p| p.ends_with(path)))
        })
        .collect()
}

#[tokio::test]
async fn publish_sends_topic_qos_payload_and_mqtt5_properties() {
    let moto = moto();
    support::moto::start_recording(&moto.url).await;
    let sinks = aws_sinks(&sdk_config(&moto.url).await);
    let leaf = unique("line3");
    let topic = format!("plant1/{leaf}/telemetry");
    let params = PublishParams {
        qos: 1,
        user_properties: Some(r#"[{"deviceName":"alpha"}]"#.into()),
        content_type: Some("application/json".into()),
        response_topic: Some("plant1/replies".into()),
        correlation_data: Some(BASE64.encode("corr-1")),
        message_expiry: Some(60),
        payload_format_indicator: Some(PayloadFormat::Utf8Data),
        ..PublishParams::default()
    };
    let c = call(
        Destination::Mqtt {
            topic: topic.clone(),
        },
        vec![entry(
            0,
            "m0",
            br#"{"temp":81.5}"#,
            EntryParams::Publish(Arc::new(params)),
        )],
    );
    assert_eq!(sinks.publish.send(&c).await.unwrap(), CallReport::default());
    let rec = support::moto::recording(&moto.url).await;
    let hits = recorded_for(&rec, &format!("{leaf}/telemetry"));
    assert_eq!(hits.len(), 1, "{rec:?}");
    let r = hits[0];
    let url = r["url"].as_str().unwrap();
    assert!(url.contains("qos=1"), "{url}");
    let body = r["body"].as_str().unwrap();
    let body = if r["body_encoded"] == serde_json::Value::Bool(true) {
        BASE64.decode(body).unwrap()
    } else {
        body.as_bytes().to_vec()
    };
    assert_eq!(body, br#"{"temp":81.5}"#);
    let headers: HashMap<String, String> = r["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    assert_eq!(
        headers["x-amz-mqtt5-user-properties"],
        BASE64.encode(r#"[{"deviceName":"alpha"}]"#)
    );
    assert_eq!(
        headers["x-amz-mqtt5-correlation-data"],
        BASE64.encode("corr-1")
    );
    assert_eq!(headers["x-amz-mqtt5-payload-format-indicator"], "UTF8_DATA");
}

#[tokio::test]
async fn a_multi_entry_publish_call_sends_each_entry() {
    let moto = moto();
    support::moto::start_recording(&moto.url).await;
    let sinks = aws_sinks(&sdk_config(&moto.url).await);
    let topic = unique("fleet");
    let entries = (0..3)
        .map(|i| {
            entry(
                i,
                &format!("m{i}"),
                format!("payload-{i}").as_bytes(),
                EntryParams::Publish(Arc::new(PublishParams::default())),
            )
        })
        .collect();
    let c = call(
        Destination::Fleet {
            topic: topic.clone(),
        },
        entries,
    );
    assert_eq!(sinks.publish.send(&c).await.unwrap(), CallReport::default());
    let rec = support::moto::recording(&moto.url).await;
    assert_eq!(recorded_for(&rec, &format!("/topics/{topic}")).len(), 3);
}

#[tokio::test]
async fn shadow_update_is_readable_back() {
    let moto = moto();
    let thing = unique("pump");
    support::moto::create_thing(&moto.url, &thing).await;
    let config = sdk_config(&moto.url).await;
    let sinks = aws_sinks(&config);
    let doc = br#"{"state":{"desired":{"speed":3}}}"#;
    for shadow in [None, Some("config".to_owned())] {
        let c = call(
            Destination::Shadow {
                thing: thing.clone(),
                shadow: shadow.clone(),
            },
            vec![entry(0, "m0", doc, EntryParams::Shadow)],
        );
        assert_eq!(sinks.shadow.send(&c).await.unwrap(), CallReport::default());
        let v = support::moto::get_shadow(&moto.url, &thing, shadow.as_deref()).await;
        assert_eq!(v["state"]["desired"]["speed"], 3, "{v}");
    }
}

#[tokio::test]
async fn shadow_of_a_missing_thing_is_permanent_and_named() {
    let moto = moto();
    let sinks = aws_sinks(&sdk_config(&moto.url).await);
    let thing = unique("ghost");
    let err = sinks
        .shadow
        .send(&call(
            Destination::Shadow {
                thing: thing.clone(),
                shadow: None,
            },
            vec![entry(0, "m0", br#"{"state":{}}"#, EntryParams::Shadow)],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent, "{err:?}");
    assert!(err.message.contains(&thing), "{}", err.message);
}

// ---------------------------------------------------------------- IoT Core Publish (stub)

fn mqtt(topic: &str) -> Destination {
    Destination::Mqtt {
        topic: topic.into(),
    }
}

fn publish_entry(payload: &[u8], params: PublishParams) -> fanout::sink::Entry {
    entry(0, "m0", payload, EntryParams::Publish(Arc::new(params)))
}

/// The sink publishes without the SDK's orchestrator; what reaches the service must be what
/// `aws_sdk_iotdataplane`'s `Publish` sent: same path and query (the topic one encoded label),
/// body, content and MQTT 5 headers, signed for the same region and service. The SDK's request
/// for this publish, taken from the SDK client on the same stub before the crate was removed:
const SDK_PUBLISH_PATH_AND_QUERY: &str = "/topics/plant1%2Fline%203%2Ftemp%C3%A9rature?qos=1\
    &retain=true&contentType=application%2Fjson%3B%20charset%3Dutf-8\
    &responseTopic=plant1%2Freplies%2Ftemp%C3%A9rature&messageExpiry=60";
const SDK_PUBLISH_HEADERS: [(&str, &str); 5] = [
    ("content-type", "application/octet-stream"),
    ("content-length", "13"),
    (
        "x-amz-mqtt5-user-properties",
        "W3siZGV2aWNlTmFtZSI6ImFscGhhIn1d",
    ),
    ("x-amz-mqtt5-payload-format-indicator", "UTF8_DATA"),
    ("x-amz-mqtt5-correlation-data", "Y29yci0x"),
];

#[tokio::test]
async fn publish_sends_the_request_the_sdk_sends() {
    let stub = Stub::start(Behaviour::default()).await;
    let config = sdk_config(&stub.url).await;
    let topic = "plant1/line 3/température";
    let payload = br#"{"temp":81.5}"#;
    let params = PublishParams {
        qos: 1,
        retain: true,
        user_properties: Some(r#"[{"deviceName":"alpha"}]"#.into()),
        content_type: Some("application/json; charset=utf-8".into()),
        response_topic: Some("plant1/replies/température".into()),
        correlation_data: Some(BASE64.encode("corr-1")),
        message_expiry: Some(60),
        payload_format_indicator: Some(PayloadFormat::Utf8Data),
    };
    let sinks = aws_sinks(&config);
    let c = call(mqtt(topic), vec![publish_entry(payload, params)]);
    assert_eq!(sinks.publish.send(&c).await.unwrap(), CallReport::default());
    stub.with(|s| {
        assert!(s.violations.is_empty(), "{:?}", s.violations);
        let [ours] = s.published.as_slice() else {
            panic!("{:?}", s.published)
        };
        assert_eq!(ours.topic, topic);
        assert_eq!(ours.path_and_query, SDK_PUBLISH_PATH_AND_QUERY);
        assert_eq!(ours.body, payload);
        for (header, value) in SDK_PUBLISH_HEADERS {
            assert_eq!(
                ours.headers.get(header).map(String::as_str),
                Some(value),
                "{header}"
            );
        }
        // `Credential=testing/<date>/us-east-1/iotdata/aws4_request, SignedHeaders=…`
        let auth = &ours.headers["authorization"];
        let credential = auth.split(", ").next().unwrap_or_default();
        let scope = credential.splitn(3, '/').nth(2).unwrap_or_default();
        assert_eq!(scope, "us-east-1/iotdata/aws4_request");
    });
}

#[tokio::test]
async fn publish_errors_are_classified_and_name_action_and_topic() {
    let mut call_errors = HashMap::new();
    call_errors.insert(
        "locked".to_owned(),
        (403, "UnauthorizedException".to_owned()),
    );
    call_errors.insert(
        "bad".to_owned(),
        (400, "InvalidRequestException".to_owned()),
    );
    let stub = Stub::start(Behaviour {
        throttle_first: 1,
        fail_first: 1,
        call_errors,
        ..Behaviour::default()
    })
    .await;
    let sinks = aws_sinks(&sdk_config(&stub.url).await);
    let secret = br#"{"secret_value":"do-not-log-me"}"#;
    let send = |topic: &str| {
        let c = call(
            mqtt(topic),
            vec![publish_entry(secret, PublishParams::default())],
        );
        let sinks = sinks.clone();
        async move { sinks.publish.send(&c).await }
    };
    let err = send("locked").await.unwrap_err();
    assert_eq!(
        (err.class, err.code.as_str()),
        (ErrorClass::Permanent, "UnauthorizedException")
    );
    assert!(
        err.message.contains("access denied")
            && err.message.contains("iot:Publish")
            && err.message.contains("`locked`"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("do-not-log-me"));
    let err = send("bad").await.unwrap_err();
    assert_eq!(
        (err.class, err.code.as_str()),
        (ErrorClass::Permanent, "InvalidRequestException")
    );
    let err = send("plant1/t").await.unwrap_err();
    assert_eq!(
        (err.class, err.code.as_str()),
        (ErrorClass::Throttled, "ThrottlingException")
    );
    let err = send("plant1/t").await.unwrap_err();
    assert_eq!(
        (err.class, err.code.as_str()),
        (ErrorClass::Transient, "InternalFailureException")
    );
    assert_eq!(send("plant1/t").await.unwrap(), CallReport::default());
    stub.with(|s| assert_eq!(s.published.len(), 5));
}

#[tokio::test]
async fn publish_to_an_endpoint_that_does_not_answer_is_transient() {
    // Port 9 (discard) is closed here: the connection is refused.
    let sinks = aws_sinks(&sdk_config("http://127.0.0.1:9").await);
    let c = call(
        mqtt("plant1/t"),
        vec![publish_entry(b"{}", PublishParams::default())],
    );
    let err = sinks.publish.send(&c).await.unwrap_err();
    assert_eq!(
        (err.class, err.code.as_str()),
        (ErrorClass::Transient, "DispatchFailure")
    );
    assert!(err.message.contains("`plant1/t`"), "{}", err.message);
}

#[tokio::test]
async fn publish_without_a_region_fails_every_call_and_says_what_to_set() {
    let sinks = aws_sinks(&aws_config::SdkConfig::builder().build());
    let c = call(
        mqtt("plant1/t"),
        vec![publish_entry(b"{}", PublishParams::default())],
    );
    let err = sinks.publish.send(&c).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("AWS_REGION"), "{}", err.message);
}

// ---------------------------------------------------------------- configuration

/// `load_sdk_config` reads the environment; setting variables in-process is unsafe (and racy
/// across test threads), so a child process of this test binary runs the check.
#[tokio::test]
async fn load_sdk_config_honours_per_service_endpoint_variables() {
    let moto = moto();
    let f = sns_fixture(&moto.url, false).await;
    support::moto::start_recording(&moto.url).await;
    let mqtt_topic = unique("env");
    // The cold-start reads (signed calls without SDK clients) honour their variables too.
    let bucket = unique("env").to_lowercase();
    support::moto::create_bucket(&moto.url, &bucket).await;
    let etag =
        support::moto::put_object(&moto.url, &bucket, "routes.json", br#"{"routes": []}"#).await;
    let secret = unique("fanout-env");
    support::moto::create_secret(
        &moto.url,
        &secret,
        r#"{"AccessKeyId": "LTAIenv", "AccessKeySecret": "s"}"#,
    )
    .await;
    // IoT Analytics and IoT Events Data read their variables without SDK clients too.
    let stub = Stub::start(Behaviour::default()).await;
    let status = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "env_child_publishes_via_env_endpoints",
            "--ignored",
            "--nocapture",
        ])
        .env("FANOUT_TEST_TOPIC", &f.topic_arn)
        .env("FANOUT_TEST_MQTT_TOPIC", &mqtt_topic)
        // A dead global endpoint: only the per-service variables can make the publishes work
        // (IoT Core Publish reads its own without the SDK client: sink::signed_http).
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ENDPOINT_URL_SNS", &moto.url)
        .env("AWS_ENDPOINT_URL_IOT_DATA_PLANE", &moto.url)
        .env("AWS_ENDPOINT_URL_S3", &moto.url)
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &moto.url)
        .env("AWS_ENDPOINT_URL_IOTANALYTICS", &stub.url)
        .env("AWS_ENDPOINT_URL_IOT_EVENTS_DATA", &stub.url)
        .env("FANOUT_TEST_BUCKET", &bucket)
        .env("FANOUT_TEST_ETAG", &etag)
        .env("FANOUT_TEST_SECRET", &secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("MOTO_URL")
        .status()
        .await
        .unwrap();
    assert!(status.success());
    assert_eq!(receive(&f, 1).await.len(), 1);
    let rec = support::moto::recording(&moto.url).await;
    assert_eq!(
        recorded_for(&rec, &format!("/topics/{mqtt_topic}")).len(),
        1
    );
    stub.with(|s| {
        assert!(s.violations.is_empty(), "{:?}", s.violations);
        let paths: Vec<&str> = s.calls.iter().map(|c| c.path).collect();
        assert_eq!(paths, ["/messages/batch", "/inputs/messages"]);
    });
}

#[tokio::test]
#[ignore = "run as a child process by load_sdk_config_honours_per_service_endpoint_variables"]
async fn env_child_publishes_via_env_endpoints() {
    let topic_arn = std::env::var("FANOUT_TEST_TOPIC").unwrap();
    let report = publish_one_as_main_does(topic_arn, b"via env").await;
    assert_eq!(report.unwrap(), CallReport::default());
    let mqtt_topic = std::env::var("FANOUT_TEST_MQTT_TOPIC").unwrap();
    let sinks = aws_sinks(&fanout::sink::aws::load_sdk_config().await);
    let c = call(
        mqtt(&mqtt_topic),
        vec![publish_entry(b"via env", PublishParams::default())],
    );
    assert_eq!(sinks.publish.send(&c).await.unwrap(), CallReport::default());
    let c = call(
        analytics("telemetry"),
        vec![entry(0, "m0", br#"{"v":1}"#, EntryParams::Analytics)],
    );
    assert_eq!(
        sinks.analytics.send(&c).await.unwrap(),
        CallReport::default()
    );
    let c = call(
        events("overheat"),
        vec![entry(0, "m0", br#"{"v":1}"#, EntryParams::Events)],
    );
    assert_eq!(sinks.events.send(&c).await.unwrap(), CallReport::default());

    let sdk = fanout::sink::aws::load_sdk_config().await;
    let source = fanout::routes_source::RoutesSource::S3 {
        bucket: std::env::var("FANOUT_TEST_BUCKET").unwrap(),
        key: "routes.json".into(),
    };
    let limits = fanout::validate::ContractLimits::default();
    let loaded = fanout::routes_source::load_once(&source, &limits, Some(&sdk))
        .await
        .unwrap();
    assert_eq!(
        loaded.version.as_deref(),
        Some(std::env::var("FANOUT_TEST_ETAG").unwrap().as_str())
    );
    let secret = std::env::var("FANOUT_TEST_SECRET").unwrap();
    fanout::sink::alibaba::credentials::read_secret(&sdk, &secret)
        .await
        .unwrap();
}

/// One SNS entry through the sinks as `main` builds them, from the process's environment.
async fn publish_one_as_main_does(
    topic_arn: String,
    body: &[u8],
) -> Result<CallReport, fanout::sink::CallError> {
    let sinks = aws_sinks(&fanout::sink::aws::load_sdk_config().await);
    let params = EntryParams::Sns(Arc::new(SnsParams::default()));
    let c = call(
        Destination::Sns { topic_arn },
        vec![entry(0, "m0", body, params)],
    );
    sinks.sns.send(&c).await
}

// ---------------------------------------------------------------- TLS

/// Runs `openssl` in `dir` with the words of `command` (test certificates only; no word holds a
/// space).
fn openssl(dir: &std::path::Path, command: &str) {
    let out = std::process::Command::new("openssl")
        .args(command.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("openssl, to make the test certificates");
    assert!(
        out.status.success(),
        "openssl {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new P-256 key, not encrypted.
const NEW_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

/// A CA named `name` in `dir`: `<name>.pem` and `<name>.key`.
fn test_ca(dir: &std::path::Path, name: &str) {
    openssl(
        dir,
        &format!("req -x509 {NEW_KEY} -keyout {name}.key -out {name}.pem -days 1 -subj /CN={name}"),
    );
}

/// The functions reach AWS over HTTPS through the one shared client (`sink::https_client`: rustls
/// on ring): a real TLS handshake to a local server, which is trusted only when its CA is among the
/// platform's root certificates. Those are read from `SSL_CERT_FILE` here, which a test cannot set
/// for itself alone, so a child process of this test binary makes each call.
#[tokio::test]
async fn https_client_verifies_the_endpoint_against_the_platform_roots() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    test_ca(path, "ca");
    test_ca(path, "other-ca");
    std::fs::write(
        path.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        path,
        &format!("req {NEW_KEY} -keyout leaf.key -out leaf.csr -subj /CN=127.0.0.1"),
    );
    openssl(
        path,
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem -days 1 \
         -extfile leaf.ext",
    );

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tls_sns_server.py"
    );
    let mut command = std::process::Command::new("python3");
    command
        .args([script, "leaf.pem", "leaf.key"])
        .current_dir(path);
    let server = TlsServer::start(command);
    let port = server.port;

    let run = |roots: &str, expect: &str| {
        tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "tls_child_publishes_over_https",
                "--ignored",
                "--nocapture",
            ])
            .env("AWS_ENDPOINT_URL_SNS", format!("https://127.0.0.1:{port}"))
            .env("SSL_CERT_FILE", path.join(roots))
            .env("FANOUT_TEST_EXPECT", expect)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_PROFILE")
            .status()
    };
    assert!(
        run("ca.pem", "delivered").await.unwrap().success(),
        "trusted CA"
    );
    assert!(
        run("other-ca.pem", "refused").await.unwrap().success(),
        "unknown issuer"
    );
}

/// The TLS test's server process: it prints its port; it is killed when dropped.
struct TlsServer {
    child: std::process::Child,
    port: u16,
}

impl TlsServer {
    fn start(mut command: std::process::Command) -> TlsServer {
        use std::io::BufRead as _;
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3, to serve the TLS test");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the server's port");
        TlsServer { child, port }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
#[ignore = "run as a child process by https_client_verifies_the_endpoint_against_the_platform_roots"]
async fn tls_child_publishes_over_https() {
    let expect = std::env::var("FANOUT_TEST_EXPECT").unwrap();
    let topic_arn = "arn:aws:sns:us-east-1:123456789012:over-tls".to_owned();
    let result = publish_one_as_main_does(topic_arn, b"over tls").await;
    match expect.as_str() {
        "delivered" => assert_eq!(result.unwrap(), CallReport::default()),
        _ => {
            let err = result.unwrap_err();
            assert!(format!("{err:?}").contains("UnknownIssuer"), "{err:?}");
        }
    }
}

// ---------------------------------------------------------------- live destinations (moto)

fn firehose_entry(message: usize, record: &[u8]) -> fanout::sink::Entry {
    entry(
        message,
        &format!("m{message}"),
        record,
        EntryParams::Firehose(Arc::new(FirehoseParams::default())),
    )
}

fn kinesis_entry(message: usize, key: &str, data: &[u8]) -> fanout::sink::Entry {
    let mut e = entry(
        message,
        &format!("m{message}"),
        data,
        EntryParams::Kinesis(Arc::new(KinesisParams {
            partition_key: key.to_owned(),
            explicit_hash_key: None,
            max_record_bytes: 1 << 20,
        })),
    );
    e.size += key.len();
    e
}

fn event_params(source: &str) -> EntryParams {
    EntryParams::EventBridge(Arc::new(EventBridgeParams {
        source: source.to_owned(),
        detail_type: "telemetry".to_owned(),
        resources: vec!["arn:aws:iot:us-east-1:123456789012:thing/sensor-42".to_owned()],
        detail: DetailMode::Envelope,
    }))
}

fn sqs_params(group: Option<&str>) -> EntryParams {
    EntryParams::Sqs(Arc::new(SqsParams {
        group_id: group.map(str::to_owned),
        delay_seconds: None,
        attributes: vec![SnsAttribute {
            name: "device".into(),
            data_type: "String".into(),
            value: "sensor-42".into(),
        }],
        max_message_bytes: 262_144,
    }))
}

/// Receives from `queue_url` until `n` messages arrived (or 5 s passed).
async fn receive_from(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    n: usize,
) -> Vec<aws_sdk_sqs::types::Message> {
    let mut got = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while got.len() < n && std::time::Instant::now() < until {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        got.extend(out.messages().iter().cloned());
        if got.len() < n {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    got
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()
        .get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .unwrap()
        .clone()
}

/// Firehose PutRecordBatch through the SDK client; moto delivers the records as an object in
/// the stream's S3 bucket, where the newline-delimited JSON is read back.
#[tokio::test]
async fn firehose_records_arrive_in_s3_as_newline_delimited_json() {
    let moto = moto();
    let config = sdk_config(&moto.url).await;
    let bucket = unique("fanout-archive").to_lowercase();
    let (status, body) =
        support::moto::http(&moto.url, "PUT", &format!("/{bucket}"), Some("s3"), b"").await;
    assert_eq!(status, 200, "CreateBucket: {body}");
    let stream = unique("iot-telemetry");
    aws_sdk_firehose::Client::new(&config)
        .create_delivery_stream()
        .delivery_stream_name(&stream)
        .extended_s3_destination_configuration(
            aws_sdk_firehose::types::ExtendedS3DestinationConfiguration::builder()
                .bucket_arn(format!("arn:aws:s3:::{bucket}"))
                .role_arn("arn:aws:iam::123456789012:role/firehose-delivery")
                .prefix("telemetry/")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let sinks = aws_sinks(&config);
    let c = call(
        Destination::Firehose {
            delivery_stream: stream.clone(),
        },
        (0..3)
            .map(|i| firehose_entry(i, format!("{{\"n\":{i}}}\n").as_bytes()))
            .collect(),
    );
    assert_eq!(
        sinks.firehose.send(&c).await.unwrap(),
        CallReport::default()
    );

    let (status, listing) = support::moto::http(
        &moto.url,
        "GET",
        &format!("/{bucket}?list-type=2"),
        Some("s3"),
        b"",
    )
    .await;
    assert_eq!(status, 200, "{listing}");
    let keys: Vec<String> = regex::Regex::new("<Key>([^<]+)</Key>")
        .unwrap()
        .captures_iter(&listing)
        .map(|c| c[1].to_owned())
        .collect();
    assert!(!keys.is_empty(), "no object in {bucket}: {listing}");
    let mut text = String::new();
    for key in &keys {
        assert!(key.starts_with("telemetry/"), "{key}");
        let (status, body) = support::moto::http(
            &moto.url,
            "GET",
            &format!("/{bucket}/{key}"),
            Some("s3"),
            b"",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        text.push_str(&body);
    }
    assert_eq!(text, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
}

/// Kinesis PutRecords, then GetRecords from the stream's shard: the records are there, in
/// order, with their partition keys.
#[tokio::test]
async fn kinesis_records_can_be_read_back_in_order() {
    let moto = moto();
    let config = sdk_config(&moto.url).await;
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    let stream = unique("iot-events");
    kinesis
        .create_stream()
        .stream_name(&stream)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let sinks = aws_sinks(&config);
    let entries = ["a", "b", "a"]
        .iter()
        .enumerate()
        .map(|(i, key)| kinesis_entry(i, key, format!("{{\"n\":{i}}}").as_bytes()))
        .collect();
    let lanes = batch::pack(
        &Destination::Kinesis {
            stream: stream.clone(),
        },
        entries,
        true,
    );
    let out = dispatch(lanes, &sinks, &dispatch_options(2)).await;
    assert!(
        out.iter()
            .flat_map(|l| &l.entries)
            .all(|r| r.status == TargetStatus::Delivered)
    );
    // The ARN form reaches the same stream.
    let arn = kinesis
        .describe_stream_summary()
        .stream_name(&stream)
        .send()
        .await
        .unwrap()
        .stream_description_summary()
        .unwrap()
        .stream_arn()
        .to_owned();
    let by_arn = call(
        Destination::Kinesis { stream: arn },
        vec![kinesis_entry(3, "c", b"{\"n\":3}")],
    );
    assert_eq!(
        sinks.kinesis.send(&by_arn).await.unwrap(),
        CallReport::default()
    );

    let shard = kinesis
        .list_shards()
        .stream_name(&stream)
        .send()
        .await
        .unwrap()
        .shards()[0]
        .shard_id()
        .to_owned();
    let iterator = kinesis
        .get_shard_iterator()
        .stream_name(&stream)
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_owned();
    let records = kinesis
        .get_records()
        .shard_iterator(iterator)
        .send()
        .await
        .unwrap();
    let got: Vec<(String, String)> = records
        .records()
        .iter()
        .map(|r| {
            (
                r.partition_key().unwrap_or_default().to_owned(),
                String::from_utf8(r.data().as_ref().to_vec()).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("a".into(), "{\"n\":0}".into()),
            ("b".into(), "{\"n\":1}".into()),
            ("a".into(), "{\"n\":2}".into()),
            ("c".into(), "{\"n\":3}".into()),
        ]
    );
}

/// EventBridge PutEvents to a custom bus whose rule targets an SQS queue: the event arrives in
/// the queue with its source, detail type, resources and the message envelope as detail.
#[tokio::test]
async fn eventbridge_events_reach_a_queue_through_a_rule() {
    let moto = moto();
    let config = sdk_config(&moto.url).await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let bus = unique("iot-alarms");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(unique("alarms"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let rule = unique("to-queue");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(r#"{"source": ["iot.fanout"]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(queue_arn(&sqs, &queue_url).await)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let sinks = aws_sinks(&config);
    // The Detail is built with the entry: here, the envelope of message m-7.
    let detail = br#"{"id":"m-7","topic":"plant1/line3/telemetry","attributes":{"deviceId":"sensor-42"},"payload":{"temp": 81.5}}"#;
    let mut e = entry(0, "m-7", detail, event_params("iot.fanout"));
    e.timestamp = Some(1_732_270_000_000);
    let c = call(
        Destination::EventBridge {
            event_bus: bus.clone(),
        },
        vec![e],
    );
    assert_eq!(
        sinks.eventbridge.send(&c).await.unwrap(),
        CallReport::default()
    );

    let got = receive_from(&sqs, &queue_url, 1).await;
    assert_eq!(got.len(), 1, "the event did not reach the queue");
    let event: serde_json::Value = serde_json::from_str(got[0].body().unwrap()).unwrap();
    assert_eq!(event["source"], "iot.fanout");
    assert_eq!(event["detail-type"], "telemetry");
    assert_eq!(event["detail"]["id"], "m-7");
    assert_eq!(event["detail"]["payload"]["temp"], 81.5);
    assert_eq!(
        event["resources"][0],
        "arn:aws:iot:us-east-1:123456789012:thing/sensor-42"
    );
}

/// SQS SendMessageBatch, then ReceiveMessage: standard and FIFO queues get the bodies and
/// attributes; the FIFO queue keeps the group's order and gets the deduplication ids.
#[tokio::test]
async fn sqs_batches_can_be_received() {
    let moto = moto();
    let config = sdk_config(&moto.url).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let sinks = aws_sinks(&config);
    for fifo in [false, true] {
        let mut create = sqs.create_queue().queue_name(format!(
            "{}{}",
            unique("fanout-out"),
            if fifo { ".fifo" } else { "" }
        ));
        if fifo {
            create = create.attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true");
        }
        let queue_url = create.send().await.unwrap().queue_url().unwrap().to_owned();
        let entries = (0..10)
            .map(|i| {
                entry(
                    i,
                    &format!("m{i}-dedup"),
                    format!("{{\"n\":{i}}}").as_bytes(),
                    sqs_params(fifo.then_some("sensor-42")),
                )
            })
            .collect();
        let c = call(
            Destination::Sqs {
                queue_url: queue_url.clone(),
            },
            entries,
        );
        assert_eq!(sinks.sqs.send(&c).await.unwrap(), CallReport::default());
        let got = receive_from(&sqs, &queue_url, 10).await;
        let mut bodies: Vec<String> = got
            .iter()
            .filter_map(|m| m.body().map(str::to_owned))
            .collect();
        let expected: Vec<String> = (0..10).map(|i| format!("{{\"n\":{i}}}")).collect();
        if fifo {
            assert_eq!(bodies, expected, "FIFO order within the group");
            let dedup = got[0]
                .attributes()
                .unwrap()
                .get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageDeduplicationId)
                .unwrap();
            assert_eq!(dedup, "m0-dedup");
        } else {
            bodies.sort();
            assert_eq!(bodies, expected);
        }
        let attrs = got[0].message_attributes().unwrap();
        assert_eq!(attrs["device"].string_value(), Some("sensor-42"));
    }
}

#[tokio::test]
async fn sqs_missing_queue_is_permanent_and_named() {
    let moto = moto();
    let sinks = aws_sinks(&sdk_config(&moto.url).await);
    let url = format!("{}/123456789012/{}", moto.url, unique("missing"));
    let err = sinks
        .sqs
        .send(&call(
            Destination::Sqs {
                queue_url: url.clone(),
            },
            vec![entry(0, "m0", b"{}", sqs_params(None))],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent, "{err:?}");
    assert!(
        err.message.contains(&url) && err.message.contains("does not exist"),
        "{}",
        err.message
    );
}

// ---------------------------------------------------------------- live destinations (stub)

fn outcomes(
    out: &[fanout::dispatch::LaneResult],
) -> Vec<(TargetStatus, bool, u32, Option<String>)> {
    let mut all: Vec<_> = out.iter().flat_map(|l| l.entries.clone()).collect();
    all.sort_by_key(|r| r.message);
    all.into_iter()
        .map(|r| (r.status, r.retryable, r.attempts, r.code))
        .collect()
}

#[tokio::test]
async fn firehose_failed_records_are_mapped_by_position_and_retried() {
    let stub = Stub::start(Behaviour {
        entry_errors: scripted(&[
            (r#"{"n":1}"#, "ServiceUnavailableException", 1),
            (r#"{"n":2}"#, "InvalidArgumentException", 9),
        ]),
        ..Behaviour::default()
    })
    .await;
    let sinks = aws_sinks(&sdk_config(&stub.url).await);
    let entries = (0..4)
        .map(|i| firehose_entry(i, format!("{{\"n\":{i}}}\n").as_bytes()))
        .collect();
    let d = Destination::Firehose {
        delivery_stream: "telemetry".into(),
    };
    let out = dispatch(
        batch::pack(&d, entries, false),
        &sinks,
        &dispatch_options(4),
    )
    .await;
    assert_eq!(
        outcomes(&out),
        vec![
            (TargetStatus::Delivered, false, 1, None),
            (TargetStatus::Delivered, false, 2, None),
            (
                TargetStatus::Failed,
                false,
                1,
                Some("InvalidArgumentException".into())
            ),
            (TargetStatus::Delivered, false, 1, None),
        ]
    );
    stub.with(|s| {
        assert!(s.violations.is_empty(), "{:?}", s.violations);
        let calls: Vec<usize> = s.calls.iter().map(|c| c.message_ids.len()).collect();
        assert_eq!(calls, vec![4, 1], "only the retryable record was resent");
    });
}

/// An ordered stream: the first record of key `a` fails with ProvisionedThroughputExceeded and is
/// retried; the later `a` records must not reach the stream before it. Key `b`'s first record
/// fails with a KMS error, which is final: `b`'s later record is not sent at all.
#[tokio::test]
async fn kinesis_keeps_each_partition_keys_order_across_a_failed_record() {
    let stub = Stub::start(Behaviour {
        entry_errors: scripted(&[
            ("a", "ProvisionedThroughputExceededException", 1),
            ("b", "KMSAccessDeniedException", 9),
        ]),
        ..Behaviour::default()
    })
    .await;
    let sinks = aws_sinks(&sdk_config(&stub.url).await);
    let keys = ["a", "a", "b", "c", "a", "b"];
    let entries = keys
        .iter()
        .enumerate()
        .map(|(i, k)| kinesis_entry(i, k, format!("{k}-{i}").as_bytes()))
        .collect();
    let d = Destination::Kinesis {
        stream: "detector".into(),
    };
    let out = dispatch(batch::pack(&d, entries, true), &sinks, &dispatch_options(4)).await;
    let got = outcomes(&out);
    assert_eq!(got[0], (TargetStatus::Delivered, false, 2, None));
    assert_eq!(
        got[2],
        (
            TargetStatus::Failed,
            false,
            1,
            Some("KMSAccessDeniedException".into())
        )
    );
    assert_eq!(
        got[5].0,
        TargetStatus::Skipped,
        "b's later record waits for b-2"
    );
    for i in [1, 3, 4] {
        assert_eq!(got[i].0, TargetStatus::Delivered, "record {i}");
    }
    stub.with(|s| {
        assert!(s.violations.is_empty(), "{:?}", s.violations);
        let order = |key: &str| -> Vec<String> {
            s.accepted
                .iter()
                .filter(|a| a.message_id == key)
                .map(|a| String::from_utf8(a.payload.clone()).unwrap())
                .collect()
        };
        assert_eq!(order("a"), ["a-0", "a-1", "a-4"]);
        assert_eq!(order("b"), Vec::<String>::new());
        // No call held two records of one key.
        for c in &s.calls {
            let mut seen = std::collections::HashSet::new();
            assert!(c.message_ids.iter().all(|k| seen.insert(k)), "{c:?}");
        }
    });
}

#[tokio::test]
async fn eventbridge_failed_entries_are_mapped_by_position() {
    let stub = Stub::start(Behaviour {
        entry_errors: scripted(&[("m-1", "InternalFailure", 1), ("m-2", "MalformedDetail", 9)]),
        ..Behaviour::default()
    })
    .await;
    let sinks = aws_sinks(&sdk_config(&stub.url).await);
    let entries = (0..3)
        .map(|i| {
            let detail = format!(r#"{{"id":"m-{i}","attributes":{{}},"payload":{{"n":{i}}}}}"#);
            let mut e = entry(
                i,
                &format!("m-{i}"),
                detail.as_bytes(),
                event_params("iot.fanout"),
            );
            e.timestamp = Some(1_732_270_000_000);
            e
        })
        .collect();
    let d = Destination::EventBridge {
        event_bus: "alarms".into(),
    };
    let out = dispatch(batch::pack(&d, entries, true), &sinks, &dispatch_options(4)).await;
    assert_eq!(
        outcomes(&out),
        vec![
            (TargetStatus::Delivered, false, 1, None),
            (TargetStatus::Delivered, false, 2, None),
            (
                TargetStatus::Failed,
                false,
                1,
                Some("MalformedDetail".into())
            ),
        ]
    );
    stub.with(|s| {
        assert!(s.violations.is_empty(), "{:?}", s.violations);
        let m0 = s.accepted.iter().find(|a| a.message_id == "m-0").unwrap();
        assert_eq!(m0.destination, "alarms");
        assert_eq!(
            m0.timestamp,
            Some(1_732_270_000_000),
            "Time travels with the event"
        );
    });
}

#[tokio::test]
async fn sqs_failed_entries_retry_unless_the_sender_is_at_fault() {
    let stub = Stub::start(Behaviour {
        entry_errors: scripted(&[
            (r#"{"n":1}"#, "InternalError", 1),
            (r#"{"n":2}"#, "InvalidMessageContents", 9),
        ]),
        ..Behaviour::default()
    })
    .await;
    let sinks = aws_sinks(&sdk_config(&stub.url).await);
    let entries = (0..3)
        .map(|i| {
            entry(
                i,
                &format!("m{i}"),
                format!("{{\"n\":{i}}}").as_bytes(),
                sqs_params(Some("sensor-42")),
            )
        })
        .collect();
    let d = Destination::Sqs {
        queue_url: format!("{}/123456789012/telemetry.fifo", stub.url),
    };
    let out = dispatch(batch::pack(&d, entries, true), &sinks, &dispatch_options(4)).await;
    let got = outcomes(&out);
    assert_eq!(got[0], (TargetStatus::Delivered, false, 1, None));
    assert_eq!(got[1], (TargetStatus::Delivered, false, 2, None));
    assert_eq!(
        got[2],
        (
            TargetStatus::Failed,
            false,
            1,
            Some("InvalidMessageContents".into())
        )
    );
    stub.with(|s| {
        assert!(s.violations.is_empty(), "{:?}", s.violations);
        // One message of the group per call: each waited for the one before it.
        assert!(
            s.calls.iter().all(|c| c.message_ids.len() == 1),
            "{:?}",
            s.calls
        );
    });
}

#[tokio::test]
async fn live_destinations_classify_whole_call_errors() {
    let mut call_errors = HashMap::new();
    call_errors.insert(
        "hot".to_owned(),
        (400, "ProvisionedThroughputExceededException".to_owned()),
    );
    call_errors.insert(
        "gone".to_owned(),
        (400, "ResourceNotFoundException".to_owned()),
    );
    call_errors.insert(
        "locked".to_owned(),
        (400, "AccessDeniedException".to_owned()),
    );
    let stub = Stub::start(Behaviour {
        call_errors,
        ..Behaviour::default()
    })
    .await;
    let sinks = aws_sinks(&sdk_config(&stub.url).await);
    let err = sinks
        .kinesis
        .send(&call(
            Destination::Kinesis {
                stream: "hot".into(),
            },
            vec![kinesis_entry(0, "k", b"x")],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Throttled, "{err:?}");
    let err = sinks
        .firehose
        .send(&call(
            Destination::Firehose {
                delivery_stream: "gone".into(),
            },
            vec![firehose_entry(0, b"{}\n")],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(
        err.message
            .contains("Firehose stream `gone` does not exist"),
        "{}",
        err.message
    );
    let err = sinks
        .eventbridge
        .send(&call(
            Destination::EventBridge {
                event_bus: "locked".into(),
            },
            vec![entry(0, "m", br#"{"id":"m"}"#, event_params("iot"))],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(
        err.message.contains("events:PutEvents") && err.message.contains("`locked`"),
        "{}",
        err.message
    );
}
