//! The local outbox: the embedded default sink. It records each call that would be made, with
//! the request the AWS API would receive, as one JSON line in `<dir>/calls.jsonl`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures::future::BoxFuture;

use super::{Call, CallError, CallReport, ErrorClass, Sink};

mod json;
mod line;

pub use line::encode_line;
pub(crate) use line::request_body;

/// File name of the outbox inside its folder.
pub const FILE_NAME: &str = "calls.jsonl";

#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    file: Mutex<File>,
}

impl Outbox {
    /// Opens (creating the folder) `<dir>/calls.jsonl` for appending.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Outbox {
            path,
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn record(&self, call: &Call) -> Result<(), CallError> {
        let mut line = encode_line(call);
        line.push(b'\n');
        let io_error = |e: io::Error| {
            CallError::new(
                ErrorClass::Transient,
                "OutboxWrite",
                format!("could not write to the outbox {}", self.path.display()),
            )
            .with_source(e)
        };
        // One write per line under the lock keeps lines whole when calls run concurrently.
        // A blocking write is fine here: the outbox is for local runs, not for production.
        let mut file = self.file.lock().map_err(|_| {
            CallError::new(
                ErrorClass::Transient,
                "OutboxLock",
                "the outbox lock is poisoned",
            )
        })?;
        file.write_all(&line).map_err(io_error)?;
        file.flush().map_err(io_error)
    }
}

impl Sink for Outbox {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(async move {
            self.record(call)?;
            Ok(CallReport::default())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use crate::sink::Body;
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::destination::{
        Destination, DetailMode, EntryParams, EventBridgeParams, FirehoseParams, KinesisParams,
        PublishParams, SnsAttribute, SnsParams, SqsParams,
    };
    use crate::sink::Entry;

    fn entry(id: &str, payload: &[u8], params: EntryParams) -> Entry {
        Entry {
            message: 0,
            target: 0,
            id: id.into(),
            payload: Body::from(payload),
            timestamp: Some(5),
            params,
            size: payload.len(),
        }
    }

    fn lines(dir: &Path) -> Vec<Value> {
        std::fs::read_to_string(dir.join(FILE_NAME))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn records_each_call_as_the_api_request() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let calls = [
            Call {
                destination: Destination::Analytics {
                    channel: "telemetry".into(),
                },
                entries: vec![entry("m1-abc", br#"{"t":1}"#, EntryParams::Analytics)],
            },
            Call {
                destination: Destination::Events {
                    input: "overheat".into(),
                },
                entries: vec![entry("m1-def", br#"{"t":1}"#, EntryParams::Events)],
            },
            Call {
                destination: Destination::Sns {
                    topic_arn: "arn:aws:sns:us-east-1:123456789012:a.fifo".into(),
                },
                entries: vec![entry(
                    "m1-123",
                    br#"{"t":1}"#,
                    EntryParams::Sns(Arc::new(SnsParams {
                        group_id: Some("g".into()),
                        attributes: vec![SnsAttribute {
                            name: "k".into(),
                            data_type: "String".into(),
                            value: "v".into(),
                        }],
                        ..SnsParams::default()
                    })),
                )],
            },
            Call {
                destination: Destination::Mqtt {
                    topic: "a/b".into(),
                },
                entries: vec![entry(
                    "m1",
                    &[0xff, 0x00],
                    EntryParams::Publish(Arc::new(PublishParams {
                        qos: 1,
                        ..PublishParams::default()
                    })),
                )],
            },
            Call {
                destination: Destination::Shadow {
                    thing: "pump-1".into(),
                    shadow: None,
                },
                entries: vec![entry("m1", br#"{"state":{}}"#, EntryParams::Shadow)],
            },
        ];
        for call in &calls {
            assert_eq!(outbox.send(call).await.unwrap(), CallReport::default());
        }
        let got = lines(dir.path());
        assert_eq!(
            got[0],
            json!({"kind":"analytics","destination":"telemetry","request":{"channelName":"telemetry","messages":[{"messageId":"m1-abc","payload":"eyJ0IjoxfQ=="}]}})
        );
        assert_eq!(
            got[1]["request"],
            json!({"messages":[{"messageId":"m1-def","inputName":"overheat","payload":"eyJ0IjoxfQ==","timestamp":{"timeInMillis":5}}]})
        );
        assert_eq!(
            got[2]["request"],
            json!({"TopicArn":"arn:aws:sns:us-east-1:123456789012:a.fifo","PublishBatchRequestEntries":[{"Id":"0","Message":"{\"t\":1}","MessageGroupId":"g","MessageDeduplicationId":"m1-123","MessageAttributes":[{"Name":"k","DataType":"String","Value":"v"}]}]})
        );
        assert_eq!(
            got[3],
            json!({"kind":"mqtt","destination":"a/b","request":{"topic":"a/b","qos":1,"bodyBase64":"/wA="}})
        );
        assert_eq!(
            got[4]["request"],
            json!({"thingName":"pump-1","body":"{\"state\":{}}"})
        );
    }

    /// One call of every kind with every optional field set, and one with none, with strings
    /// that need escaping: the lines are pinned byte for byte (the Python peer of the pipeline
    /// benchmark compares its bodies with these bytes).
    fn every_shape() -> Vec<Call> {
        use crate::destination::{AlibabaDevices, AlibabaParams, PayloadFormat};
        let tricky = "q\"b\\s/n\n\r\t\u{1}\u{8}\u{c}\u{1f}\u{7f}é€😀";
        let attribute = |name: &str| SnsAttribute {
            name: name.into(),
            data_type: "String".into(),
            value: tricky.into(),
        };
        let mut e2 = entry("m2-x", b"\x00\x01\xfe\xff", EntryParams::Events);
        e2.timestamp = None;
        vec![
            Call {
                destination: Destination::Analytics {
                    channel: "c_1".into(),
                },
                entries: vec![
                    entry("m1-a", tricky.as_bytes(), EntryParams::Analytics),
                    entry("m2-b", b"", EntryParams::Analytics),
                ],
            },
            Call {
                destination: Destination::Events { input: "in".into() },
                entries: vec![entry("m1-y", b"{}", EntryParams::Events), e2],
            },
            Call {
                destination: Destination::Sns {
                    topic_arn: "arn:aws:sns:us-east-1:123456789012:a.fifo".into(),
                },
                entries: vec![
                    entry(
                        "m1-s",
                        tricky.as_bytes(),
                        EntryParams::Sns(Arc::new(SnsParams {
                            subject: Some(tricky.into()),
                            group_id: Some("g".into()),
                            content_based_deduplication: false,
                            message_structure_json: true,
                            attributes: vec![attribute("a"), attribute("b")],
                        })),
                    ),
                    entry("m2-s", b"{}", EntryParams::Sns(Arc::default())),
                ],
            },
            Call {
                destination: Destination::Sns {
                    topic_arn: "arn:aws:sns:us-east-1:123456789012:a".into(),
                },
                entries: vec![entry("m1-s", b"x", EntryParams::Analytics)],
            },
            Call {
                destination: Destination::Mqtt {
                    topic: "a/é/\"".into(),
                },
                entries: vec![entry(
                    "m1",
                    tricky.as_bytes(),
                    EntryParams::Publish(Arc::new(PublishParams {
                        qos: 1,
                        retain: true,
                        user_properties: Some(r#"[{"k":"v"}]"#.into()),
                        content_type: Some("application/json".into()),
                        response_topic: Some("r/t".into()),
                        correlation_data: Some("AQI=".into()),
                        message_expiry: Some(-7),
                        payload_format_indicator: Some(PayloadFormat::Utf8Data),
                    })),
                )],
            },
            Call {
                destination: Destination::Fleet {
                    topic: "d/1".into(),
                },
                entries: vec![entry("m1", b"\xff", EntryParams::Shadow)],
            },
            Call {
                destination: Destination::Mqtt { topic: "e".into() },
                entries: Vec::new(),
            },
            Call {
                destination: Destination::Shadow {
                    thing: "t".into(),
                    shadow: Some("s".into()),
                },
                entries: vec![entry("m1", tricky.as_bytes(), EntryParams::Shadow)],
            },
            Call {
                destination: Destination::Firehose {
                    delivery_stream: "f".into(),
                },
                entries: vec![
                    entry("m1", b"a\n", EntryParams::Firehose(Arc::default())),
                    entry("m2", b"\xff", EntryParams::Firehose(Arc::default())),
                ],
            },
            Call {
                destination: Destination::Kinesis { stream: "k".into() },
                entries: vec![entry(
                    "m1",
                    b"z",
                    EntryParams::Kinesis(Arc::new(KinesisParams {
                        partition_key: tricky.into(),
                        explicit_hash_key: None,
                        max_record_bytes: 1,
                    })),
                )],
            },
            Call {
                destination: Destination::EventBridge {
                    event_bus: "b".into(),
                },
                entries: vec![
                    entry(
                        "m1",
                        tricky.as_bytes(),
                        EntryParams::EventBridge(Arc::new(EventBridgeParams {
                            source: "s".into(),
                            detail_type: tricky.into(),
                            resources: vec!["r1".into(), "r2".into()],
                            detail: DetailMode::Envelope,
                        })),
                    ),
                    {
                        let mut e = entry(
                            "m2",
                            b"{}",
                            EntryParams::EventBridge(Arc::new(EventBridgeParams {
                                source: "s".into(),
                                detail_type: "t".into(),
                                resources: Vec::new(),
                                detail: DetailMode::Payload,
                            })),
                        );
                        e.timestamp = None;
                        e
                    },
                    entry("m3", b"{}", EntryParams::Analytics),
                ],
            },
            Call {
                destination: Destination::Sqs {
                    queue_url: "https://sqs.us-east-1.amazonaws.com/1/q.fifo".into(),
                },
                entries: vec![entry(
                    "m1-q",
                    tricky.as_bytes(),
                    EntryParams::Sqs(Arc::new(SqsParams {
                        group_id: Some("g".into()),
                        delay_seconds: Some(3),
                        attributes: vec![attribute("a")],
                        max_message_bytes: 1,
                    })),
                )],
            },
            Call {
                destination: Destination::Sqs {
                    queue_url: "https://sqs.us-east-1.amazonaws.com/1/q".into(),
                },
                entries: vec![
                    entry(
                        "m1-q",
                        b"{}",
                        EntryParams::Sqs(Arc::new(SqsParams {
                            group_id: None,
                            delay_seconds: None,
                            attributes: Vec::new(),
                            max_message_bytes: 1,
                        })),
                    ),
                    entry("m2-q", b"{}", EntryParams::Analytics),
                ],
            },
            Call {
                destination: Destination::Alibaba(Arc::new(AlibabaDevices {
                    iot_instance_id: Some("iot-cn-0pp1n8t".into()),
                    ..crate::validate::testing::alibaba(&["dev-1", "dev-2"])
                })),
                entries: vec![entry(
                    "m1",
                    tricky.as_bytes(),
                    EntryParams::Alibaba(AlibabaParams { qos: 1 }),
                )],
            },
            Call {
                destination: Destination::Alibaba(Arc::new(crate::validate::testing::alibaba(&[
                    "dev-1",
                ]))),
                entries: vec![entry("m1", b"", EntryParams::Analytics)],
            },
        ]
    }

    #[test]
    fn every_shape_byte_for_byte() {
        let got: Vec<String> = every_shape()
            .iter()
            .map(|call| String::from_utf8(encode_line(call)).unwrap())
            .collect();
        let want: Vec<&str> = include_str!("../../../tests/fixtures/outbox_lines.jsonl")
            .lines()
            .collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn records_batchpub_as_its_rpc_parameters() {
        use crate::destination::{AlibabaDevices, AlibabaParams};
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let call = Call {
            destination: Destination::Alibaba(Arc::new(AlibabaDevices {
                iot_instance_id: Some("iot-cn-0pp1n8t".into()),
                ..crate::validate::testing::alibaba(&["dev-1", "dev-2"])
            })),
            entries: vec![entry(
                "m1",
                b"hello world",
                EntryParams::Alibaba(AlibabaParams { qos: 1 }),
            )],
        };
        assert_eq!(outbox.send(&call).await.unwrap(), CallReport::default());
        let line = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        // Parameters in the order the API reference lists them, not sorted.
        assert!(
            line.contains(r#""Parameters":{"ProductKey":"a1BwAGV","TopicShortName""#),
            "{line}"
        );
        assert_eq!(
            lines(dir.path())[0],
            json!({"kind": "alibaba", "destination": "a1BwAGV", "request": {
                "Endpoint": "https://iot.cn-shanghai.aliyuncs.com", "Action": "BatchPub", "Version": "2018-01-20",
                "Parameters": {"ProductKey": "a1BwAGV", "TopicShortName": "get", "Qos": "1",
                    "IotInstanceId": "iot-cn-0pp1n8t", "MessageContent": "aGVsbG8gd29ybGQ=",
                    "DeviceName.1": "dev-1", "DeviceName.2": "dev-2"}}})
        );
    }

    #[tokio::test]
    async fn records_the_live_destinations_requests() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let kinesis = |stream: &str| Call {
            destination: Destination::Kinesis {
                stream: stream.into(),
            },
            entries: vec![entry(
                "m1",
                b"\x01",
                EntryParams::Kinesis(Arc::new(KinesisParams {
                    partition_key: "sensor-42".into(),
                    explicit_hash_key: Some("7".into()),
                    max_record_bytes: 1_048_576,
                })),
            )],
        };
        let calls = [
            Call {
                destination: Destination::Firehose {
                    delivery_stream: "iot".into(),
                },
                entries: vec![entry(
                    "m1",
                    b"{\"t\":1}\n",
                    EntryParams::Firehose(Arc::new(FirehoseParams::default())),
                )],
            },
            kinesis("iot-events"),
            kinesis("arn:aws:kinesis:us-east-1:123456789012:stream/iot-events"),
            Call {
                destination: Destination::EventBridge {
                    event_bus: "default".into(),
                },
                entries: vec![entry(
                    "m1",
                    b"{\"t\":1}",
                    EntryParams::EventBridge(Arc::new(EventBridgeParams {
                        source: "iot".into(),
                        detail_type: "telemetry".into(),
                        resources: vec!["arn:r".into()],
                        detail: DetailMode::Payload,
                    })),
                )],
            },
            Call {
                destination: Destination::Sqs {
                    queue_url: "https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo".into(),
                },
                entries: vec![entry(
                    "m1-abc",
                    b"{}",
                    EntryParams::Sqs(Arc::new(SqsParams {
                        group_id: Some("g".into()),
                        delay_seconds: None,
                        attributes: vec![SnsAttribute {
                            name: "k".into(),
                            data_type: "String".into(),
                            value: "v".into(),
                        }],
                        max_message_bytes: 262_144,
                    })),
                )],
            },
        ];
        for call in &calls {
            assert_eq!(outbox.send(call).await.unwrap(), CallReport::default());
        }
        let got = lines(dir.path());
        assert_eq!(
            got[0],
            json!({"kind":"firehose","destination":"iot","request":{"DeliveryStreamName":"iot","Records":[{"Data":"eyJ0IjoxfQo="}]}})
        );
        assert_eq!(
            got[1]["request"],
            json!({"StreamName":"iot-events","Records":[{"Data":"AQ==","PartitionKey":"sensor-42","ExplicitHashKey":"7"}]})
        );
        assert_eq!(
            got[2]["request"]["StreamARN"],
            "arn:aws:kinesis:us-east-1:123456789012:stream/iot-events"
        );
        assert_eq!(
            got[3],
            json!({"kind":"eventbridge","destination":"default","request":{"Entries":[{"EventBusName":"default","Source":"iot","DetailType":"telemetry","Detail":"{\"t\":1}","Resources":["arn:r"],"Time":5}]}})
        );
        assert_eq!(
            got[4]["request"],
            json!({"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo","Entries":[{"Id":"0","MessageBody":"{}","MessageGroupId":"g","MessageDeduplicationId":"m1-abc","MessageAttributes":[{"Name":"k","DataType":"String","Value":"v"}]}]})
        );
    }
}
