//! The local outbox: the embedded default sink. It records each call that would be made, with
//! the request the AWS API would receive, as one JSON line in `<dir>/calls.jsonl`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::value::RawValue;

use super::{Call, CallError, CallReport, Entry, ErrorClass, Sink};
use crate::destination::{Destination, EntryParams, PublishParams, SnsAttribute, SnsParams};

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
        let mut line = encode_line(call).map_err(|e| {
            CallError::new(
                ErrorClass::Permanent,
                "OutboxEncode",
                "could not encode the call",
            )
            .with_source(e)
        })?;
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

/// One outbox line without its newline: kind, destination and the API request body.
pub fn encode_line(call: &Call) -> serde_json::Result<Vec<u8>> {
    // Sized for the payloads (base64 takes 4 bytes per 3) plus the names around them, so a
    // 100-entry call is written without growing the buffer ten times.
    let payloads: usize = call.entries.iter().map(|e| e.payload.len()).sum();
    let mut line = Vec::with_capacity(payloads / 3 * 4 + call.entries.len() * 128 + 256);
    serde_json::to_writer(&mut line, &Record::of(call)?)?;
    Ok(line)
}

/// One outbox line.
#[derive(Serialize)]
struct Record<'a> {
    kind: &'static str,
    destination: &'a str,
    request: Request<'a>,
}

impl<'a> Record<'a> {
    fn of(call: &'a Call) -> serde_json::Result<Self> {
        Ok(Record {
            kind: call.destination.kind().as_str(),
            destination: call.destination.name(),
            request: Request::of(call)?,
        })
    }
}

/// The request each API receives, in the member names of its API reference. REST-JSON blobs
/// (IoT Analytics, IoT Events) and JSON-protocol blobs (Firehose, Kinesis) are base64 as on the
/// wire; SNS entries use the PublishBatch member names, EventBridge and SQS entries those of
/// PutEvents and SendMessageBatch; IoT Core publish and shadow requests show their HTTP body;
/// Alibaba BatchPub shows its endpoint and RPC parameters (`DeviceName.N`, base64 `MessageContent`).
#[derive(Serialize)]
#[serde(untagged)]
enum Request<'a> {
    Analytics {
        #[serde(rename = "channelName")]
        channel_name: &'a str,
        messages: Vec<AnalyticsMessage<'a>>,
    },
    Events {
        messages: Vec<EventsMessage<'a>>,
    },
    Sns {
        #[serde(rename = "TopicArn")]
        topic_arn: &'a str,
        #[serde(rename = "PublishBatchRequestEntries")]
        entries: Vec<SnsEntry<'a>>,
    },
    Publish {
        topic: &'a str,
        #[serde(flatten)]
        params: Option<&'a PublishParams>,
        #[serde(flatten)]
        body: Body<'a>,
    },
    Shadow {
        #[serde(rename = "thingName")]
        thing_name: &'a str,
        #[serde(rename = "shadowName", skip_serializing_if = "Option::is_none")]
        shadow_name: Option<&'a str>,
        #[serde(flatten)]
        body: Body<'a>,
    },
    #[serde(rename_all = "PascalCase")]
    Firehose {
        delivery_stream_name: &'a str,
        records: Vec<DataRecord<'a>>,
    },
    #[serde(rename_all = "PascalCase")]
    Kinesis {
        #[serde(skip_serializing_if = "Option::is_none")]
        stream_name: Option<&'a str>,
        #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
        stream_arn: Option<&'a str>,
        records: Vec<DataRecord<'a>>,
    },
    #[serde(rename_all = "PascalCase")]
    EventBridge {
        entries: Vec<EventView<'a>>,
    },
    #[serde(rename_all = "PascalCase")]
    Sqs {
        queue_url: &'a str,
        entries: Vec<SqsEntry<'a>>,
    },
    #[serde(rename_all = "PascalCase")]
    Alibaba {
        endpoint: String,
        action: &'static str,
        version: &'static str,
        #[serde(serialize_with = "in_order")]
        parameters: Vec<(String, String)>,
    },
}

/// Name-value pairs as a JSON object, in their order.
fn in_order<S: serde::Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(name, value)| (name, value)))
}

impl<'a> Request<'a> {
    fn of(call: &'a Call) -> serde_json::Result<Self> {
        Ok(match &call.destination {
            Destination::Analytics { channel } => Request::Analytics {
                channel_name: channel,
                messages: call
                    .entries
                    .iter()
                    .map(|e| {
                        Ok(AnalyticsMessage {
                            message_id: &e.id,
                            payload: base64_literal(&e.payload)?,
                        })
                    })
                    .collect::<serde_json::Result<_>>()?,
            },
            Destination::Events { input } => Request::Events {
                messages: call
                    .entries
                    .iter()
                    .map(|e| {
                        Ok(EventsMessage {
                            message_id: &e.id,
                            input_name: input,
                            payload: base64_literal(&e.payload)?,
                            timestamp: e.timestamp.map(|t| TimeInMillis { time_in_millis: t }),
                        })
                    })
                    .collect::<serde_json::Result<_>>()?,
            },
            Destination::Sns { topic_arn } => Request::Sns {
                topic_arn,
                entries: call
                    .entries
                    .iter()
                    .enumerate()
                    .map(|(i, e)| SnsEntry::of(i, e, &call.destination))
                    .collect(),
            },
            Destination::Mqtt { topic } | Destination::Fleet { topic } => {
                let entry = call.entries.first();
                Request::Publish {
                    topic,
                    params: entry.and_then(|e| match &e.params {
                        EntryParams::Publish(p) => Some(p.as_ref()),
                        _ => None,
                    }),
                    body: Body::of(entry)?,
                }
            }
            Destination::Shadow { thing, shadow } => Request::Shadow {
                thing_name: thing,
                shadow_name: shadow.as_deref(),
                body: Body::of(call.entries.first())?,
            },
            Destination::Firehose { delivery_stream } => Request::Firehose {
                delivery_stream_name: delivery_stream,
                records: DataRecord::all(call)?,
            },
            Destination::Kinesis { stream } => {
                let arn = stream.starts_with("arn:");
                Request::Kinesis {
                    stream_name: (!arn).then_some(stream.as_str()),
                    stream_arn: arn.then_some(stream.as_str()),
                    records: DataRecord::all(call)?,
                }
            }
            Destination::EventBridge { event_bus } => Request::EventBridge {
                entries: call
                    .entries
                    .iter()
                    .filter_map(|e| EventView::of(e, event_bus))
                    .collect(),
            },
            Destination::Sqs { queue_url } => Request::Sqs {
                queue_url,
                entries: call
                    .entries
                    .iter()
                    .enumerate()
                    .filter_map(|(i, e)| SqsEntry::of(i, e, &call.destination))
                    .collect(),
            },
            Destination::Alibaba(devices) => {
                let entry = call.entries.first();
                let qos = match entry.map(|e| &e.params) {
                    Some(EntryParams::Alibaba(p)) => p.qos,
                    _ => 0,
                };
                let message: &[u8] = entry.map_or(&[], |e| &e.payload);
                Request::Alibaba {
                    endpoint: format!("https://{}", devices.host()),
                    action: crate::sink::alibaba::ACTION,
                    version: crate::sink::alibaba::VERSION,
                    parameters: crate::sink::alibaba::parameters(devices, qos, message),
                }
            }
        })
    }
}

/// A Firehose or Kinesis record: its data in base64 (and a Kinesis record's keys).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DataRecord<'a> {
    data: Box<RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partition_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explicit_hash_key: Option<&'a str>,
}

impl<'a> DataRecord<'a> {
    fn all(call: &'a Call) -> serde_json::Result<Vec<Self>> {
        call.entries
            .iter()
            .map(|e| {
                let kinesis = match &e.params {
                    EntryParams::Kinesis(p) => Some(p.as_ref()),
                    _ => None,
                };
                Ok(DataRecord {
                    data: base64_literal(&e.payload)?,
                    partition_key: kinesis.map(|p| p.partition_key.as_str()),
                    explicit_hash_key: kinesis.and_then(|p| p.explicit_hash_key.as_deref()),
                })
            })
            .collect()
    }
}

/// One PutEvents entry; Time in milliseconds since the epoch, as the message carried it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EventView<'a> {
    event_bus_name: &'a str,
    source: &'a str,
    detail_type: &'a str,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    resources: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<i64>,
}

impl<'a> EventView<'a> {
    fn of(e: &'a Entry, event_bus: &'a str) -> Option<Self> {
        let EntryParams::EventBridge(p) = &e.params else {
            return None;
        };
        Some(EventView {
            event_bus_name: event_bus,
            source: &p.source,
            detail_type: &p.detail_type,
            // The Detail is JSON text, built with the entry.
            detail: std::str::from_utf8(&e.payload).unwrap_or(""),
            resources: &p.resources,
            time: e.timestamp,
        })
    }
}

/// One SendMessageBatch entry.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SqsEntry<'a> {
    id: String,
    message_body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_seconds: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_group_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_deduplication_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    message_attributes: Vec<SnsAttributeView<'a>>,
}

impl<'a> SqsEntry<'a> {
    fn of(index: usize, e: &'a Entry, destination: &Destination) -> Option<Self> {
        let EntryParams::Sqs(p) = &e.params else {
            return None;
        };
        Some(SqsEntry {
            id: index.to_string(),
            // Entries for SQS carry UTF-8 text (JSON, or base64 of a binary payload).
            message_body: std::str::from_utf8(&e.payload).unwrap_or(""),
            delay_seconds: p.delay_seconds,
            message_group_id: p.group_id.as_deref(),
            message_deduplication_id: e.sqs_deduplication_id(destination),
            message_attributes: p.attributes.iter().map(SnsAttributeView::of).collect(),
        })
    }
}

#[derive(Serialize)]
struct AnalyticsMessage<'a> {
    #[serde(rename = "messageId")]
    message_id: &'a str,
    payload: Box<RawValue>,
}

#[derive(Serialize)]
struct EventsMessage<'a> {
    #[serde(rename = "messageId")]
    message_id: &'a str,
    #[serde(rename = "inputName")]
    input_name: &'a str,
    payload: Box<RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<TimeInMillis>,
}

#[derive(Serialize)]
struct TimeInMillis {
    #[serde(rename = "timeInMillis")]
    time_in_millis: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SnsEntry<'a> {
    id: String,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_group_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_deduplication_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_structure: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    message_attributes: Vec<SnsAttributeView<'a>>,
}

impl<'a> SnsEntry<'a> {
    fn of(index: usize, e: &'a Entry, destination: &Destination) -> Self {
        let default = const { &SnsParams::EMPTY };
        let p = match &e.params {
            EntryParams::Sns(p) => p,
            _ => default,
        };
        SnsEntry {
            id: index.to_string(),
            // Entries for SNS carry UTF-8 text (JSON, or base64 of a binary payload).
            message: std::str::from_utf8(&e.payload).unwrap_or(""),
            subject: p.subject.as_deref(),
            message_group_id: p.group_id.as_deref(),
            // The outbox cannot ask the topic whether it deduplicates by content, so it records
            // the id the SNS sink sends whenever that is not known.
            message_deduplication_id: e.sns_deduplication_id(destination, false),
            message_structure: p.message_structure_json.then_some("json"),
            message_attributes: p.attributes.iter().map(SnsAttributeView::of).collect(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SnsAttributeView<'a> {
    name: &'a str,
    data_type: &'a str,
    /// Binary attributes carry base64 text, as the CLI shows them.
    value: &'a str,
}

impl<'a> SnsAttributeView<'a> {
    fn of(a: &'a SnsAttribute) -> Self {
        SnsAttributeView {
            name: &a.name,
            data_type: &a.data_type,
            value: &a.value,
        }
    }
}

/// An HTTP body: text when it is UTF-8, base64 otherwise.
#[derive(Serialize)]
enum Body<'a> {
    #[serde(rename = "body")]
    Text(&'a str),
    #[serde(rename = "bodyBase64")]
    Base64(Box<RawValue>),
}

impl<'a> Body<'a> {
    fn of(entry: Option<&'a Entry>) -> serde_json::Result<Self> {
        let bytes: &[u8] = entry.map_or(&[], |e| &e.payload);
        Ok(match std::str::from_utf8(bytes) {
            Ok(text) => Body::Text(text),
            Err(_) => Body::Base64(base64_literal(bytes)?),
        })
    }
}

/// `bytes` in standard base64 as a JSON string literal. Base64 holds nothing to escape, and
/// `serde_json` would still scan a string for escapes a byte at a time (most of an IoT Analytics
/// or IoT Events line); a raw value is only checked, eight bytes at a time, and copied.
fn base64_literal(bytes: &[u8]) -> serde_json::Result<Box<RawValue>> {
    let mut literal = String::with_capacity(bytes.len().div_ceil(3) * 4 + 2);
    literal.push('"');
    base64_simd::STANDARD.encode_append(bytes, &mut literal);
    literal.push('"');
    RawValue::from_string(literal)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::destination::{
        DetailMode, EventBridgeParams, FirehoseParams, KinesisParams, SqsParams,
    };

    fn entry(id: &str, payload: &[u8], params: EntryParams) -> Entry {
        Entry {
            message: 0,
            target: 0,
            id: id.into(),
            payload: Arc::from(payload),
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
