//! Route targets: parsed and checked once at cold start, rendered into concrete [`Target`]s per message.

mod live;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::template::{Extras, RenderError, Template};
use crate::destination::{
    Destination, EntryParams, PayloadFormat, PublishParams, SnsAttribute, SnsParams, Target,
};
use crate::message::Message;
use crate::validate::{self, ContractLimits};

pub use live::Redirect;

/// Alibaba IoT BatchPub publishes to at most 100 devices per call; a fleet target keeps that cap.
pub const MAX_FLEET_DEVICES: usize = 100;
/// BatchPub's topic layout, the default for fleet targets.
pub const FLEET_TOPIC: &str = "/${productKey}/${deviceName}/user/${topicShortName}";
const FLEET_VARS: &[&str] = &["productKey", "deviceName", "topicShortName"];

/// A target as the routing table declares it, with its templates parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetSpec {
    kind: SpecKind,
    ordered: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum SpecKind {
    Analytics {
        channel: Template,
    },
    Events {
        input: Template,
    },
    Sns {
        topic_arn: Template,
        subject: Option<Template>,
        group_id: Option<Template>,
        content_based_deduplication: bool,
        message_structure_json: bool,
        /// Name, data type, value.
        attributes: Vec<(String, String, Template)>,
    },
    Mqtt {
        topic: Template,
        response_topic: Option<Template>,
        params: PublishParams,
    },
    Fleet {
        product_key: Template,
        devices: Vec<Template>,
        topic_short_name: Template,
        topic: Template,
        qos: u8,
    },
    Shadow {
        thing: Template,
        shadow: Option<Template>,
    },
    /// Data Firehose, Kinesis, EventBridge or SQS (`live.rs`).
    Live(live::LiveSpec),
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum RawTarget {
    Analytics {
        channel: String,
        #[serde(default)]
        ordered: bool,
    },
    Events {
        input: String,
        #[serde(default)]
        ordered: bool,
    },
    #[serde(rename_all = "camelCase")]
    Sns {
        topic_arn: String,
        subject: Option<String>,
        group_id: Option<String>,
        #[serde(default)]
        content_based_deduplication: bool,
        message_structure: Option<String>,
        #[serde(default)]
        attributes: BTreeMap<String, RawAttribute>,
        #[serde(default)]
        ordered: bool,
    },
    #[serde(rename_all = "camelCase")]
    Mqtt {
        topic: String,
        #[serde(default)]
        qos: u8,
        #[serde(default)]
        retain: bool,
        user_properties: Option<Value>,
        content_type: Option<String>,
        response_topic: Option<String>,
        correlation_data: Option<String>,
        message_expiry: Option<i64>,
        payload_format_indicator: Option<PayloadFormat>,
        #[serde(default)]
        ordered: bool,
    },
    #[serde(rename_all = "camelCase")]
    Fleet {
        product_key: String,
        devices: Vec<String>,
        topic_short_name: String,
        topic: Option<String>,
        #[serde(default)]
        qos: u8,
        #[serde(default)]
        ordered: bool,
    },
    Shadow {
        thing: String,
        shadow: Option<String>,
        #[serde(default)]
        ordered: bool,
    },
    Firehose(live::RawFirehose),
    Kinesis(live::RawKinesis),
    #[serde(rename = "eventbridge")]
    EventBridge(live::RawEventBridge),
    Sqs(live::RawSqs),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttribute {
    #[serde(rename = "type")]
    data_type: String,
    value: String,
}

/// A target field that is wrong in the table: the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub field: String,
    pub reason: String,
}

fn spec_err(field: &str, reason: impl std::fmt::Display) -> SpecError {
    SpecError {
        field: field.to_owned(),
        reason: reason.to_string(),
    }
}

fn template(field: &str, text: &str) -> Result<Template, SpecError> {
    Template::parse(text, &[]).map_err(|e| spec_err(field, e))
}

fn optional(field: &str, text: Option<String>) -> Result<Option<Template>, SpecError> {
    text.map(|t| template(field, &t)).transpose()
}

fn check_qos(qos: u8) -> Result<u8, SpecError> {
    if qos > 1 {
        return Err(spec_err(
            "qos",
            "must be 0 or 1 (AWS IoT Core does not support QoS 2)",
        ));
    }
    Ok(qos)
}

impl TargetSpec {
    /// Parses one target of the routing table and checks what can be checked before any message:
    /// field shapes, templates, and the names of destinations that have no templates.
    pub fn parse(
        value: &Value,
        route_ordered: bool,
        limits: &ContractLimits,
    ) -> Result<TargetSpec, SpecError> {
        let raw: RawTarget = RawTarget::deserialize(value).map_err(|e| spec_err("type", e))?;
        let (kind, ordered) = match raw {
            RawTarget::Analytics { channel, ordered } => (
                SpecKind::Analytics {
                    channel: template("channel", &channel)?,
                },
                ordered,
            ),
            RawTarget::Events { input, ordered } => (
                SpecKind::Events {
                    input: template("input", &input)?,
                },
                ordered,
            ),
            RawTarget::Sns {
                topic_arn,
                subject,
                group_id,
                content_based_deduplication,
                message_structure,
                attributes,
                ordered,
            } => {
                let topic = template("topicArn", &topic_arn)?;
                if let Some(arn) = topic.as_literal() {
                    let fifo = arn.ends_with(".fifo");
                    if fifo && group_id.is_none() {
                        return Err(spec_err(
                            "groupId",
                            "is required for a FIFO topic (.fifo): SNS needs a MessageGroupId on every message",
                        ));
                    }
                    if !fifo && content_based_deduplication {
                        return Err(spec_err(
                            "contentBasedDeduplication",
                            "applies only to FIFO topics (.fifo)",
                        ));
                    }
                }
                let message_structure_json = match message_structure.as_deref() {
                    None => false,
                    Some("json") => true,
                    Some(other) => {
                        return Err(spec_err(
                            "messageStructure",
                            format!("must be \"json\" when set, found \"{other}\""),
                        ));
                    }
                };
                let attributes = attributes
                    .into_iter()
                    .map(|(name, a)| {
                        let field = format!("attributes.{name}");
                        Ok((name, a.data_type, template(&field, &a.value)?))
                    })
                    .collect::<Result<_, SpecError>>()?;
                (
                    SpecKind::Sns {
                        topic_arn: topic,
                        subject: optional("subject", subject)?,
                        group_id: optional("groupId", group_id)?,
                        content_based_deduplication,
                        message_structure_json,
                        attributes,
                    },
                    ordered,
                )
            }
            RawTarget::Mqtt {
                topic,
                qos,
                retain,
                user_properties,
                content_type,
                response_topic,
                correlation_data,
                message_expiry,
                payload_format_indicator,
                ordered,
            } => {
                let user_properties = user_properties.map(check_user_properties).transpose()?;
                (
                    SpecKind::Mqtt {
                        topic: template("topic", &topic)?,
                        response_topic: optional("responseTopic", response_topic)?,
                        params: PublishParams {
                            qos: check_qos(qos)?,
                            retain,
                            user_properties,
                            content_type,
                            response_topic: None,
                            correlation_data,
                            message_expiry,
                            payload_format_indicator,
                        },
                    },
                    ordered,
                )
            }
            RawTarget::Fleet {
                product_key,
                devices,
                topic_short_name,
                topic,
                qos,
                ordered,
            } => {
                if devices.is_empty() || devices.len() > MAX_FLEET_DEVICES {
                    return Err(spec_err(
                        "devices",
                        format!(
                            "lists {} devices; a fleet target takes 1 to {MAX_FLEET_DEVICES} (BatchPub's per-call cap)",
                            devices.len()
                        ),
                    ));
                }
                let topic_text = topic.as_deref().unwrap_or(FLEET_TOPIC);
                (
                    SpecKind::Fleet {
                        product_key: template("productKey", &product_key)?,
                        devices: devices
                            .iter()
                            .enumerate()
                            .map(|(i, d)| template(&format!("devices[{i}]"), d))
                            .collect::<Result<_, _>>()?,
                        topic_short_name: template("topicShortName", &topic_short_name)?,
                        topic: Template::parse(topic_text, FLEET_VARS)
                            .map_err(|e| spec_err("topic", e))?,
                        qos: check_qos(qos)?,
                    },
                    ordered,
                )
            }
            RawTarget::Shadow {
                thing,
                shadow,
                ordered,
            } => (
                SpecKind::Shadow {
                    thing: template("thing", &thing)?,
                    shadow: optional("shadow", shadow)?,
                },
                ordered,
            ),
            RawTarget::Firehose(r) => live_spec(live::RawLive::Firehose(r))?,
            RawTarget::Kinesis(r) => live_spec(live::RawLive::Kinesis(r))?,
            RawTarget::EventBridge(r) => live_spec(live::RawLive::EventBridge(r))?,
            RawTarget::Sqs(r) => live_spec(live::RawLive::Sqs(r))?,
        };
        let spec = TargetSpec {
            kind,
            ordered: ordered || route_ordered,
        };
        if let Some(destination) = spec.literal_destination() {
            validate::check_destination(&destination, limits)
                .map_err(|e| spec_err(spec.name_field(), format!("{}: {}", e.field, e.rule)))?;
        }
        Ok(spec)
    }

    /// The destination, when no template is involved in naming it.
    fn literal_destination(&self) -> Option<Destination> {
        Some(match &self.kind {
            SpecKind::Analytics { channel } => Destination::Analytics {
                channel: channel.as_literal()?.to_owned(),
            },
            SpecKind::Events { input } => Destination::Events {
                input: input.as_literal()?.to_owned(),
            },
            SpecKind::Sns { topic_arn, .. } => Destination::Sns {
                topic_arn: topic_arn.as_literal()?.to_owned(),
            },
            SpecKind::Mqtt { topic, .. } => Destination::Mqtt {
                topic: topic.as_literal()?.to_owned(),
            },
            SpecKind::Fleet { .. } => return None,
            SpecKind::Shadow { thing, shadow } => Destination::Shadow {
                thing: thing.as_literal()?.to_owned(),
                shadow: match shadow {
                    Some(s) => Some(s.as_literal()?.to_owned()),
                    None => None,
                },
            },
            SpecKind::Live(spec) => spec.literal_destination()?,
        })
    }

    /// The table field that names the destination.
    fn name_field(&self) -> &'static str {
        match self.kind {
            SpecKind::Analytics { .. } => "channel",
            SpecKind::Events { .. } => "input",
            SpecKind::Sns { .. } => "topicArn",
            SpecKind::Mqtt { .. } | SpecKind::Fleet { .. } => "topic",
            SpecKind::Shadow { .. } => "thing",
            SpecKind::Live(ref spec) => spec.name_field(),
        }
    }

    /// The destination kind's name as the table spells it.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            SpecKind::Analytics { .. } => "analytics",
            SpecKind::Events { .. } => "events",
            SpecKind::Sns { .. } => "sns",
            SpecKind::Mqtt { .. } => "mqtt",
            SpecKind::Fleet { .. } => "fleet",
            SpecKind::Shadow { .. } => "shadow",
            SpecKind::Live(ref spec) => spec.type_name(),
        }
    }

    /// Renders the target for one message, appending one [`Target`] (one per device for fleets).
    pub fn render(
        &self,
        msg: &Message,
        route: &Arc<str>,
        out: &mut Vec<Target>,
    ) -> Result<(), SpecError> {
        let none = Extras::default();
        let render =
            |field: &str, t: &Template| t.render(msg, &none).map_err(|e| render_err(field, e));
        let render_opt =
            |field: &str, t: &Option<Template>| t.as_ref().map(|t| render(field, t)).transpose();
        let mut push = |destination: Destination, params: EntryParams| {
            let ordered = self.ordered || destination.is_fifo();
            out.push(Target {
                route: Arc::clone(route),
                destination,
                params,
                ordered,
            });
        };
        match &self.kind {
            SpecKind::Analytics { channel } => push(
                Destination::Analytics {
                    channel: render("channel", channel)?,
                },
                EntryParams::Analytics,
            ),
            SpecKind::Events { input } => push(
                Destination::Events {
                    input: render("input", input)?,
                },
                EntryParams::Events,
            ),
            SpecKind::Sns {
                topic_arn,
                subject,
                group_id,
                content_based_deduplication,
                message_structure_json,
                attributes,
            } => {
                let attributes = attributes
                    .iter()
                    .map(|(name, data_type, value)| {
                        Ok(SnsAttribute {
                            name: name.clone(),
                            data_type: data_type.clone(),
                            value: render(&format!("attributes.{name}"), value)?,
                        })
                    })
                    .collect::<Result<_, SpecError>>()?;
                push(
                    Destination::Sns {
                        topic_arn: render("topicArn", topic_arn)?,
                    },
                    EntryParams::Sns(Arc::new(SnsParams {
                        subject: render_opt("subject", subject)?,
                        group_id: render_opt("groupId", group_id)?,
                        content_based_deduplication: *content_based_deduplication,
                        message_structure_json: *message_structure_json,
                        attributes,
                    })),
                );
            }
            SpecKind::Mqtt {
                topic,
                response_topic,
                params,
            } => {
                let params = PublishParams {
                    response_topic: render_opt("responseTopic", response_topic)?,
                    ..params.clone()
                };
                push(
                    Destination::Mqtt {
                        topic: render("topic", topic)?,
                    },
                    EntryParams::Publish(Arc::new(params)),
                );
            }
            SpecKind::Fleet {
                product_key,
                devices,
                topic_short_name,
                topic,
                qos,
            } => {
                let product_key = render("productKey", product_key)?;
                let topic_short_name = render("topicShortName", topic_short_name)?;
                for (i, device) in devices.iter().enumerate() {
                    let device = render(&format!("devices[{i}]"), device)?;
                    let extras = Extras {
                        product_key: Some(&product_key),
                        device_name: Some(&device),
                        topic_short_name: Some(&topic_short_name),
                        ..Extras::default()
                    };
                    let topic = topic
                        .render(msg, &extras)
                        .map_err(|e| render_err("topic", e))?;
                    push(
                        Destination::Fleet { topic },
                        EntryParams::Publish(Arc::new(PublishParams {
                            qos: *qos,
                            ..PublishParams::default()
                        })),
                    );
                }
            }
            SpecKind::Shadow { thing, shadow } => push(
                Destination::Shadow {
                    thing: render("thing", thing)?,
                    shadow: render_opt("shadow", shadow)?,
                },
                EntryParams::Shadow,
            ),
            SpecKind::Live(spec) => {
                let (destination, params) = spec.render(msg)?;
                push(destination, params);
            }
        }
        Ok(())
    }
}

fn render_err(field: &str, e: RenderError) -> SpecError {
    spec_err(field, e)
}

/// A live destination's target (see `live.rs`), with no variables besides the message's own.
fn live_spec(raw: live::RawLive) -> Result<(SpecKind, bool), SpecError> {
    live::parse(raw, &[]).map(|(spec, ordered)| (SpecKind::Live(spec), ordered))
}

/// MQTT 5 user properties: the IoT data plane takes them as a JSON array of objects with
/// string values (`[{"deviceName": "alpha"}]`), sent base64-encoded in a header.
fn check_user_properties(value: Value) -> Result<String, SpecError> {
    let ok = value.as_array().is_some_and(|items| {
        items.iter().all(|item| {
            item.as_object()
                .is_some_and(|o| !o.is_empty() && o.values().all(Value::is_string))
        })
    });
    if !ok {
        return Err(spec_err(
            "userProperties",
            "must be an array of objects with string values, e.g. [{\"source\": \"fanout\"}]",
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value) -> Result<TargetSpec, SpecError> {
        TargetSpec::parse(&v, false, &ContractLimits::default())
    }

    fn render(v: Value, msg: &str) -> Result<Vec<Target>, SpecError> {
        let msg = Message::decode(msg, None).unwrap();
        let mut out = Vec::new();
        parse(v).unwrap().render(&msg, &Arc::from("r"), &mut out)?;
        Ok(out)
    }

    #[test]
    fn fleet_fans_out_per_device_with_the_batchpub_topic() {
        let targets = render(
            json!({"type": "fleet", "productKey": "${attributes.pk}", "devices": ["a", "${attributes.dev}"], "topicShortName": "get", "qos": 1}),
            r#"{"id": "m", "attributes": {"pk": "a1B", "dev": "b"}, "payload": 1}"#,
        )
        .unwrap();
        let topics: Vec<_> = targets.iter().map(|t| t.destination.to_string()).collect();
        assert_eq!(topics, ["fleet:/a1B/a/user/get", "fleet:/a1B/b/user/get"]);
        assert_eq!(
            targets[0].params,
            EntryParams::Publish(Arc::new(PublishParams {
                qos: 1,
                ..Default::default()
            }))
        );
    }

    #[test]
    fn sns_fifo_is_ordered_and_renders_params() {
        let targets = render(
            json!({"type": "sns", "topicArn": "arn:aws:sns:us-east-1:123456789012:t.fifo", "groupId": "${attributes.d}",
                   "subject": "hi ${id}", "attributes": {"d": {"type": "String", "value": "${attributes.d}"}}}),
            r#"{"id": "m", "attributes": {"d": "x"}, "payload": 1}"#,
        )
        .unwrap();
        assert!(targets[0].ordered);
        let EntryParams::Sns(p) = &targets[0].params else {
            panic!()
        };
        assert_eq!(p.group_id.as_deref(), Some("x"));
        assert_eq!(p.subject.as_deref(), Some("hi m"));
        assert_eq!(p.attributes[0].value, "x");
    }

    #[test]
    fn mqtt_params_and_render_errors() {
        let targets = render(
            json!({"type": "mqtt", "topic": "out/${topic(2)}", "qos": 1, "retain": true, "userProperties": [{"a": "b"}],
                   "responseTopic": "reply/${id}", "payloadFormatIndicator": "UTF8_DATA"}),
            r#"{"id": "m", "topic": "a/b", "payload": 1}"#,
        )
        .unwrap();
        assert_eq!(
            targets[0].destination,
            Destination::Mqtt {
                topic: "out/b".into()
            }
        );
        let EntryParams::Publish(p) = &targets[0].params else {
            panic!()
        };
        assert_eq!(
            (p.qos, p.retain, p.response_topic.as_deref()),
            (1, true, Some("reply/m"))
        );
        assert_eq!(p.user_properties.as_deref(), Some(r#"[{"a":"b"}]"#));
        let err = render(
            json!({"type": "mqtt", "topic": "out/${attributes.x}"}),
            r#"{"id": "m", "payload": 1}"#,
        )
        .unwrap_err();
        assert_eq!(err.field, "topic");
        assert!(err.reason.contains("no attribute `x`"));
    }

    #[test]
    fn table_errors_name_the_field() {
        let e = |v: Value| parse(v).unwrap_err();
        assert!(
            e(json!({"type": "s3", "bucket": "b"}))
                .reason
                .contains("unknown variant `s3`")
        );
        assert!(
            e(json!({"type": "analytics", "chanel": "c"}))
                .reason
                .contains("unknown field `chanel`")
        );
        assert!(
            e(json!({"type": "analytics"}))
                .reason
                .contains("missing field `channel`")
        );
        assert_eq!(
            e(json!({"type": "mqtt", "topic": "a", "qos": 2})).field,
            "qos"
        );
        assert_eq!(
            e(json!({"type": "mqtt", "topic": "a", "userProperties": {"a": "b"}})).field,
            "userProperties"
        );
        assert_eq!(
            e(json!({"type": "sns", "topicArn": "arn:aws:sns:us-east-1:123456789012:t.fifo"}))
                .field,
            "groupId"
        );
        assert_eq!(
            e(json!({"type": "sns", "topicArn": "arn:aws:sns:us-east-1:123456789012:t", "contentBasedDeduplication": true})).field,
            "contentBasedDeduplication"
        );
        assert_eq!(e(json!({"type": "sns", "topicArn": "arn:aws:sns:us-east-1:123456789012:t", "messageStructure": "xml"})).field, "messageStructure");
        assert_eq!(
            e(json!({"type": "fleet", "productKey": "p", "devices": [], "topicShortName": "t"}))
                .field,
            "devices"
        );
        let many: Vec<String> = (0..101).map(|i| format!("d{i}")).collect();
        assert_eq!(
            e(json!({"type": "fleet", "productKey": "p", "devices": many, "topicShortName": "t"}))
                .field,
            "devices"
        );
        assert_eq!(e(json!({"type": "fleet", "productKey": "p", "devices": ["a"], "topicShortName": "t", "topic": "${nope}"})).field, "topic");
        assert_eq!(
            e(json!({"type": "mqtt", "topic": "${deviceName}"})).field,
            "topic"
        );
    }

    #[test]
    fn literal_destinations_are_checked_at_load() {
        let err = parse(json!({"type": "analytics", "channel": "bad-name"})).unwrap_err();
        assert_eq!(err.field, "channel");
        assert!(err.reason.starts_with("channelName: "));
        assert!(parse(json!({"type": "analytics", "channel": "ok_${topic(1)}"})).is_ok());
        assert!(parse(json!({"type": "mqtt", "topic": "a/+/b"})).is_err());
    }
}
