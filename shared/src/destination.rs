//! Destinations and rendered targets: where one message goes, with the per-message parameters of that call.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;

use crate::validate::ContractLimits;

/// The kind of a destination; each kind has its own sink and its own call limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// IoT Analytics channel (`BatchPutMessage`).
    Analytics,
    /// IoT Events input (IoT Events Data `BatchPutMessage`).
    Events,
    /// SNS topic, standard or FIFO (`PublishBatch`).
    Sns,
    /// MQTT topic on IoT Core (`Publish`).
    Mqtt,
    /// One device of a fleet: an MQTT publish on the device's rendered topic, rate-capped.
    Fleet,
    /// Device shadow (`UpdateThingShadow`).
    Shadow,
    /// Amazon Data Firehose stream (`PutRecordBatch`), the IoT Analytics successor.
    Firehose,
    /// Kinesis data stream (`PutRecords`), the IoT Events successor.
    Kinesis,
    /// EventBridge event bus (`PutEvents`).
    #[serde(rename = "eventbridge")]
    EventBridge,
    /// SQS queue, standard or FIFO (`SendMessageBatch`).
    Sqs,
    /// Devices of a product on Alibaba Cloud IoT Platform (`BatchPub`, signed RPC over HTTPS).
    Alibaba,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Analytics,
        Kind::Events,
        Kind::Sns,
        Kind::Mqtt,
        Kind::Fleet,
        Kind::Shadow,
        Kind::Firehose,
        Kind::Kinesis,
        Kind::EventBridge,
        Kind::Sqs,
        Kind::Alibaba,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Analytics => "analytics",
            Kind::Events => "events",
            Kind::Sns => "sns",
            Kind::Mqtt => "mqtt",
            Kind::Fleet => "fleet",
            Kind::Shadow => "shadow",
            Kind::Firehose => "firehose",
            Kind::Kinesis => "kinesis",
            Kind::EventBridge => "eventbridge",
            Kind::Sqs => "sqs",
            Kind::Alibaba => "alibaba",
        }
    }

    /// How many entries one call may carry and how many bytes they may add up to.
    pub fn call_limits(self) -> CallLimits {
        match self {
            // IoT Analytics: 100 messages per BatchPutMessage (service quota, not adjustable).
            Kind::Analytics => CallLimits {
                max_entries: 100,
                max_bytes: None,
            },
            // IoT Events Data: 10 messages and 1 KiB of payload per BatchPutMessage.
            Kind::Events => CallLimits {
                max_entries: 10,
                max_bytes: Some(1024),
            },
            // SNS PublishBatch: 10 entries, 262,144 bytes in total including attributes.
            Kind::Sns => CallLimits {
                max_entries: 10,
                max_bytes: Some(262_144),
            },
            // IoT Core Publish and UpdateThingShadow take one message per call.
            Kind::Mqtt | Kind::Fleet | Kind::Shadow => CallLimits {
                max_entries: 1,
                max_bytes: None,
            },
            // Firehose PutRecordBatch: "Each PutRecordBatch request supports up to 500 records.
            // Each record in the request can be as large as 1,000 KB (before base64 encoding), up
            // to a limit of 4 MB for the entire request" (API reference, PutRecordBatch; the
            // quotas page says 4 MiB). Counted on the record data before base64, as the record cap.
            Kind::Firehose => CallLimits {
                max_entries: 500,
                max_bytes: Some(4 * 1024 * 1024),
            },
            // Kinesis PutRecords: "up to 500 records … up to a limit of 10 MiB for the entire
            // request, including partition keys" (API reference, PutRecords, since the October 2025
            // large-record launch; it was 5 MiB before).
            Kind::Kinesis => CallLimits {
                max_entries: 500,
                max_bytes: Some(10 * 1024 * 1024),
            },
            // EventBridge PutEvents: 10 entries, and "the total entry size must be less than 1MB"
            // (API reference, PutEvents, since the January 2026 payload increase from 256 KB),
            // entry sizes as "Calculating PutEvents event entry size" (User Guide) counts them.
            Kind::EventBridge => CallLimits {
                max_entries: 10,
                max_bytes: Some(1024 * 1024 - 1),
            },
            // SQS SendMessageBatch: "The maximum allowed individual message size and the maximum
            // total payload size (the sum of the individual lengths of all of the batched
            // messages) are both 1 MiB 1,048,576 bytes" (API reference, SendMessageBatch, since
            // August 2025). A queue may allow less (its MaximumMessageSize): packing lowers the
            // cap to the target's `maxMessageBytes`, see [`Entry::call_byte_cap`](crate::sink::Entry::call_byte_cap).
            Kind::Sqs => CallLimits {
                max_entries: 10,
                max_bytes: Some(1024 * 1024),
            },
            // BatchPub carries one message (MessageContent) to up to 100 devices: the devices
            // are the destination's, chunked when the target is rendered, so a call is one entry.
            Kind::Alibaba => CallLimits {
                max_entries: 1,
                max_bytes: None,
            },
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-call limits of a destination kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    pub max_entries: usize,
    pub max_bytes: Option<usize>,
}

/// One concrete destination: the unit calls are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Destination {
    Analytics {
        channel: String,
    },
    Events {
        input: String,
    },
    Sns {
        #[serde(rename = "topicArn")]
        topic_arn: String,
    },
    Mqtt {
        topic: String,
    },
    Fleet {
        topic: String,
    },
    Shadow {
        thing: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        shadow: Option<String>,
    },
    Firehose {
        #[serde(rename = "deliveryStream")]
        delivery_stream: String,
    },
    /// The stream by name or ARN, as the target names it.
    Kinesis {
        stream: String,
    },
    /// The event bus by name or ARN (`default` for the account's default bus).
    #[serde(rename = "eventbridge")]
    EventBridge {
        #[serde(rename = "eventBus")]
        event_bus: String,
    },
    Sqs {
        #[serde(rename = "queueUrl")]
        queue_url: String,
    },
    /// Up to 100 devices of one product on Alibaba Cloud IoT Platform: one BatchPub call.
    Alibaba(Arc<AlibabaDevices>),
}

/// What one BatchPub call publishes to: a product's devices on one custom topic, in one region
/// (and instance). Behind an `Arc`, so the 100 device names are not copied with each target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlibabaDevices {
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iot_instance_id: Option<String>,
    /// The host of the API endpoint, when the target names one (an instance's own endpoint);
    /// `None`: the region's, `iot.<region>.aliyuncs.com`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub product_key: String,
    pub topic_short_name: String,
    /// 1 to 100 distinct device names (BatchPub's DeviceName.N).
    pub devices: Vec<String>,
}

impl AlibabaDevices {
    /// The host BatchPub is sent to.
    pub fn host(&self) -> std::borrow::Cow<'_, str> {
        match &self.endpoint {
            Some(host) => std::borrow::Cow::Borrowed(host),
            None => std::borrow::Cow::Owned(format!("iot.{}.aliyuncs.com", self.region)),
        }
    }

    /// `<region>[/<instance>]/<productKey>/<topicShortName>`: how errors and allow-lists name it.
    pub fn path(&self) -> String {
        match &self.iot_instance_id {
            Some(instance) => format!(
                "{}/{instance}/{}/{}",
                self.region, self.product_key, self.topic_short_name
            ),
            None => format!(
                "{}/{}/{}",
                self.region, self.product_key, self.topic_short_name
            ),
        }
    }
}

impl Destination {
    pub fn kind(&self) -> Kind {
        match self {
            Destination::Analytics { .. } => Kind::Analytics,
            Destination::Events { .. } => Kind::Events,
            Destination::Sns { .. } => Kind::Sns,
            Destination::Mqtt { .. } => Kind::Mqtt,
            Destination::Fleet { .. } => Kind::Fleet,
            Destination::Shadow { .. } => Kind::Shadow,
            Destination::Firehose { .. } => Kind::Firehose,
            Destination::Kinesis { .. } => Kind::Kinesis,
            Destination::EventBridge { .. } => Kind::EventBridge,
            Destination::Sqs { .. } => Kind::Sqs,
            Destination::Alibaba(_) => Kind::Alibaba,
        }
    }

    /// The destination's name as a user would look it up (channel, input, topic ARN, topic, thing,
    /// delivery stream, stream, event bus, queue URL, Alibaba product key).
    pub fn name(&self) -> &str {
        match self {
            Destination::Analytics { channel } => channel,
            Destination::Events { input } => input,
            Destination::Sns { topic_arn } => topic_arn,
            Destination::Mqtt { topic } | Destination::Fleet { topic } => topic,
            Destination::Shadow { thing, .. } => thing,
            Destination::Firehose { delivery_stream } => delivery_stream,
            Destination::Kinesis { stream } => stream,
            Destination::EventBridge { event_bus } => event_bus,
            Destination::Sqs { queue_url } => queue_url,
            Destination::Alibaba(d) => &d.product_key,
        }
    }

    /// SNS FIFO topics and SQS FIFO queues end in `.fifo`; they need a message group and keep
    /// order within it.
    pub fn is_fifo(&self) -> bool {
        match self {
            Destination::Sns { topic_arn } => topic_arn.ends_with(".fifo"),
            Destination::Sqs { queue_url } => queue_url.ends_with(".fifo"),
            _ => false,
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Shadow {
                thing,
                shadow: Some(name),
            } => write!(f, "shadow:{thing}/{name}"),
            Destination::Alibaba(d) => write!(f, "alibaba:{}", d.path()),
            other => write!(f, "{}:{}", other.kind(), other.name()),
        }
    }
}

/// A route target rendered for one message: the destination and the parameters of its entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Name of the route that produced it (or `default`, or `explicit`).
    pub route: Arc<str>,
    pub destination: Destination,
    pub params: EntryParams,
    /// Calls to this destination go one after another in message order
    /// (always for SNS FIFO; on request for other kinds).
    pub ordered: bool,
    /// How errors name this target when its destination was rendered from a template: its place
    /// in the routing table (`route "r" target 2 (mqtt)`), so a name built from a message's
    /// values never reaches a log line or an error. `None`: the destination is named as written.
    pub label: Option<Arc<str>>,
    /// The contract limits the destination's name was checked under when the routing table was
    /// loaded (a name without templates); `None`: it is checked with every message.
    pub checked_under: Option<ContractLimits>,
}

impl Target {
    /// The target as errors and logs name it.
    pub fn label(&self) -> std::borrow::Cow<'_, str> {
        match &self.label {
            Some(label) => std::borrow::Cow::Borrowed(label),
            None => std::borrow::Cow::Owned(self.destination.to_string()),
        }
    }
}

/// Per-entry parameters, one variant per destination kind. Rendered once per message and target,
/// then shared by the target and its entry: behind an `Arc` each is 16 bytes instead of 120, and a
/// batch holds two per message and destination (BENCHMARKS.md, peak RSS).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum EntryParams {
    #[default]
    Analytics,
    Events,
    Sns(Arc<SnsParams>),
    Publish(Arc<PublishParams>),
    Shadow,
    Firehose(Arc<FirehoseParams>),
    Kinesis(Arc<KinesisParams>),
    EventBridge(Arc<EventBridgeParams>),
    Sqs(Arc<SqsParams>),
    Alibaba(AlibabaParams),
}

/// SNS `PublishBatchRequestEntry` fields other than Id and Message.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnsParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// The topic deduplicates by content (SHA-256 of the body): send no deduplication id.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub content_based_deduplication: bool,
    /// `MessageStructure=json`: the body is a JSON object with per-protocol messages.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub message_structure_json: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<SnsAttribute>,
}

impl SnsParams {
    pub const EMPTY: SnsParams = SnsParams {
        subject: None,
        group_id: None,
        content_based_deduplication: false,
        message_structure_json: false,
        attributes: Vec::new(),
    };
}

/// One SNS message attribute.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnsAttribute {
    pub name: String,
    /// `String`, `String.Array`, `Number` or `Binary` (optionally with a `.custom` suffix).
    pub data_type: String,
    /// The value as text; for `Binary`, base64 of the bytes.
    pub value: String,
}

impl SnsAttribute {
    /// Bytes SNS counts toward the message size: name, type and value.
    pub fn size(&self) -> usize {
        self.name.len() + self.data_type.len() + self.value.len()
    }

    /// The value as SNS and SQS take it: `Binary` (and `Binary.custom`) as bytes, decoded from
    /// its base64; every other type as text.
    pub fn wire_value(&self) -> Result<AttributeValue<'_>, String> {
        if self.data_type == "Binary" || self.data_type.starts_with("Binary.") {
            BASE64
                .decode(&self.value)
                .map(AttributeValue::Binary)
                .map_err(|_| {
                    format!(
                        "message attribute `{}` of type Binary is not valid base64",
                        self.name
                    )
                })
        } else {
            Ok(AttributeValue::Text(&self.value))
        }
    }
}

/// A message attribute's value on the wire (see [`SnsAttribute::wire_value`]).
#[derive(Debug, PartialEq)]
pub enum AttributeValue<'a> {
    Binary(Vec<u8>),
    Text(&'a str),
}

/// IoT Core `Publish` parameters (MQTT 3.1.1 and MQTT 5 properties).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishParams {
    pub qos: u8,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retain: bool,
    /// JSON array of single-key objects, e.g. `[{"deviceName":"alpha"}]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_properties: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_topic: Option<String>,
    /// Base64-encoded binary data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_data: Option<String>,
    /// Seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_expiry: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_format_indicator: Option<PayloadFormat>,
}

/// MQTT 5 payload format indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum PayloadFormat {
    #[serde(rename = "UNSPECIFIED_BYTES")]
    UnspecifiedBytes,
    #[serde(rename = "UTF8_DATA")]
    Utf8Data,
}

impl PayloadFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::UnspecifiedBytes => "UNSPECIFIED_BYTES",
            PayloadFormat::Utf8Data => "UTF8_DATA",
        }
    }
}

/// A Firehose record's framing: what follows each payload in the delivered objects.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct FirehoseParams {
    /// Appended to each record; `None`: a newline after JSON payloads (newline-delimited JSON,
    /// which Athena reads), nothing after binary ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
}

impl FirehoseParams {
    /// The delimiter for a payload of this kind.
    pub fn delimiter_for(&self, json: bool) -> &str {
        match &self.delimiter {
            Some(d) => d,
            None if json => "\n",
            None => "",
        }
    }
}

/// Kinesis `PutRecordsRequestEntry` fields besides Data.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisParams {
    pub partition_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explicit_hash_key: Option<String>,
    /// The stream's maximum record size (data and partition key): 1 MiB unless the stream was
    /// raised, up to 10 MiB.
    pub max_record_bytes: usize,
}

/// What an EventBridge event's `Detail` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetailMode {
    /// The payload itself, which must be a JSON object.
    Payload,
    /// An object with the message's id, topic, attributes, timestamp and payload.
    Envelope,
}

/// EventBridge `PutEventsRequestEntry` fields besides Detail and EventBusName.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBridgeParams {
    pub source: String,
    pub detail_type: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    pub detail: DetailMode,
}

/// SQS `SendMessageBatchRequestEntry` fields besides Id and MessageBody.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<i32>,
    /// SQS message attributes have the shape of SNS's (name, data type, value as text).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<SnsAttribute>,
    /// The queue's MaximumMessageSize: the most one message, and one batch, may hold.
    pub max_message_bytes: usize,
}

/// BatchPub's Qos (0 or 1); the rest of the call is the destination's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct AlibabaParams {
    pub qos: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_kind_and_destination() {
        let d = Destination::Shadow {
            thing: "pump-1".into(),
            shadow: Some("config".into()),
        };
        assert_eq!(d.to_string(), "shadow:pump-1/config");
        let d = Destination::Sns {
            topic_arn: "arn:aws:sns:eu-west-1:123456789012:alerts.fifo".into(),
        };
        assert!(d.is_fifo());
        assert_eq!(
            d.to_string(),
            "sns:arn:aws:sns:eu-west-1:123456789012:alerts.fifo"
        );
    }
}
