//! Destinations and rendered targets: where one message goes, with the per-message parameters of that call.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

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
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Analytics,
        Kind::Events,
        Kind::Sns,
        Kind::Mqtt,
        Kind::Fleet,
        Kind::Shadow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Analytics => "analytics",
            Kind::Events => "events",
            Kind::Sns => "sns",
            Kind::Mqtt => "mqtt",
            Kind::Fleet => "fleet",
            Kind::Shadow => "shadow",
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
        }
    }

    /// The destination's name as a user would look it up (channel, input, topic ARN, topic, thing).
    pub fn name(&self) -> &str {
        match self {
            Destination::Analytics { channel } => channel,
            Destination::Events { input } => input,
            Destination::Sns { topic_arn } => topic_arn,
            Destination::Mqtt { topic } | Destination::Fleet { topic } => topic,
            Destination::Shadow { thing, .. } => thing,
        }
    }

    /// SNS FIFO topics end in `.fifo`; they need a message group and keep order within it.
    pub fn is_fifo(&self) -> bool {
        matches!(self, Destination::Sns { topic_arn } if topic_arn.ends_with(".fifo"))
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Shadow {
                thing,
                shadow: Some(name),
            } => write!(f, "shadow:{thing}/{name}"),
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
