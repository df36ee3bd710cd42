//! Route targets: parsed and checked once at cold start, rendered into concrete [`Target`]s per message.

mod alibaba;
mod live;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::template::{Extras, RenderError, Slot, Template};
use crate::destination::{
    Destination, EntryParams, PayloadFormat, PublishParams, SnsAttribute, SnsParams, Target,
};
use crate::message::{Message, Payload};
use crate::validate::{self, ContractError, ContractLimits, NameSet};

pub use alibaba::MAX_ALIBABA_DEVICES;
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
    /// How errors name the targets this spec renders (see [`Target::label`]); `None` when the
    /// destination's name has no template.
    label: Option<Arc<str>>,
    /// The limits a destination name without templates was checked under at load (see
    /// [`Target::checked_under`]).
    checked_under: Option<ContractLimits>,
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
        /// Shared by every message's entries when no parameter is rendered per message.
        params: Arc<PublishParams>,
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
    /// Devices on Alibaba Cloud IoT Platform (`alibaba.rs`).
    Alibaba(alibaba::AlibabaSpec),
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
    Alibaba(alibaba::RawAlibaba),
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

fn template(field: &str, text: &str, slot: Slot) -> Result<Template, SpecError> {
    Template::parse(text, &[], slot).map_err(|e| spec_err(field, e))
}

fn optional(field: &str, text: Option<String>, slot: Slot) -> Result<Option<Template>, SpecError> {
    text.map(|t| template(field, &t, slot)).transpose()
}

/// A literal's contract error as a table error: the table's field, then the API's field and rule.
fn literal_err(field: &str, e: ContractError) -> SpecError {
    spec_err(field, format!("{}: {}", e.field, e.rule))
}

/// The field a serde error is about, when its message names one (`unknown field `chanel``,
/// `missing field `channel``); an unknown or missing `type` is about `type`.
fn serde_field(message: &str) -> &str {
    ["unknown field `", "missing field `"]
        .iter()
        .find_map(|lead| {
            let rest = message.split_once(lead)?.1;
            rest.split_once('`').map(|(field, _)| field)
        })
        .unwrap_or(if message.contains("variant") {
            "type"
        } else {
            ""
        })
}

/// serde's message without the value it quotes: targets also come from callers (HTTP explicit
/// targets, inline jobs), and their values stay out of errors and logs. Field and type names
/// (`unknown field `chanel``, `expected u8`) are kept.
pub(crate) fn without_values(message: &str) -> String {
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .or_else(|| message.strip_prefix("invalid length "))
    {
        return match rest.split_once(", expected ") {
            Some((_, expected)) => format!("has the wrong type or value, expected {expected}"),
            None => "has the wrong type or value".to_owned(),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        return match rest.split_once("`, expected ") {
            Some((_, expected)) => format!("is not a known target type, expected {expected}"),
            None => "is not a known target type".to_owned(),
        };
    }
    message.to_owned()
}

/// Stands in for the message when a literal template is rendered at cold start: a template with
/// no message variables never reads it.
pub(crate) fn no_message() -> Message {
    Message {
        id: String::new(),
        topic: None,
        attributes: serde_json::Map::new(),
        timestamp: None,
        payload: Payload::Binary(Arc::from([])),
    }
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
        let raw: RawTarget = RawTarget::deserialize(value).map_err(|e| {
            let message = e.to_string();
            spec_err(serde_field(&message), without_values(&message))
        })?;
        let (kind, ordered) = match raw {
            RawTarget::Analytics { channel, ordered } => (
                SpecKind::Analytics {
                    channel: template("channel", &channel, Slot::Name(NameSet::Channel))?,
                },
                ordered,
            ),
            RawTarget::Events { input, ordered } => (
                SpecKind::Events {
                    input: template("input", &input, Slot::Name(NameSet::Input))?,
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
                let topic = template("topicArn", &topic_arn, Slot::ArnField(NameSet::SnsTopic))?;
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
                        Ok((name, a.data_type, template(&field, &a.value, Slot::Text)?))
                    })
                    .collect::<Result<_, SpecError>>()?;
                (
                    SpecKind::Sns {
                        topic_arn: topic,
                        subject: optional("subject", subject, Slot::Text)?,
                        group_id: optional("groupId", group_id, Slot::Name(NameSet::GroupId))?,
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
                // Checked with the other publish parameters below, as every message's are.
                let user_properties = user_properties.map(|v| v.to_string());
                (
                    SpecKind::Mqtt {
                        topic: template("topic", &topic, Slot::Topic)?,
                        response_topic: optional("responseTopic", response_topic, Slot::Topic)?,
                        params: Arc::new(PublishParams {
                            qos: check_qos(qos)?,
                            retain,
                            user_properties,
                            content_type,
                            response_topic: None,
                            correlation_data,
                            message_expiry,
                            payload_format_indicator,
                        }),
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
                        product_key: template(
                            "productKey",
                            &product_key,
                            Slot::Name(NameSet::ProductKey),
                        )?,
                        devices: devices
                            .iter()
                            .enumerate()
                            .map(|(i, d)| {
                                template(
                                    &format!("devices[{i}]"),
                                    d,
                                    Slot::Name(NameSet::DeviceName),
                                )
                            })
                            .collect::<Result<_, _>>()?,
                        topic_short_name: template(
                            "topicShortName",
                            &topic_short_name,
                            Slot::Topic,
                        )?,
                        topic: Template::parse(topic_text, FLEET_VARS, Slot::Topic)
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
                    thing: template("thing", &thing, Slot::Name(NameSet::Thing))?,
                    shadow: optional("shadow", shadow, Slot::Name(NameSet::Shadow))?,
                },
                ordered,
            ),
            RawTarget::Firehose(r) => live_spec(live::RawLive::Firehose(r))?,
            RawTarget::Kinesis(r) => live_spec(live::RawLive::Kinesis(r))?,
            RawTarget::EventBridge(r) => live_spec(live::RawLive::EventBridge(r))?,
            RawTarget::Sqs(r) => live_spec(live::RawLive::Sqs(r))?,
            RawTarget::Alibaba(r) => {
                let ordered = r.ordered;
                (SpecKind::Alibaba(alibaba::AlibabaSpec::parse(r)?), ordered)
            }
        };
        let mut spec = TargetSpec {
            kind,
            ordered: ordered || route_ordered,
            label: None,
            checked_under: None,
        };
        if let Some(destination) = spec.literal_destination() {
            validate::check_destination(&destination, limits)
                .map_err(|e| literal_err(spec.name_field(), e))?;
            spec.checked_under = Some(*limits);
        }
        spec.check_literals(limits)?;
        Ok(spec)
    }

    /// Names the spec by its place in the table (`route "r" target 2 (mqtt)`) for errors about
    /// targets whose destination is rendered from a template.
    pub(crate) fn with_label(mut self, route: &str, position: usize) -> Self {
        if self.literal_destination().is_none() {
            self.label = Some(Arc::from(format!(
                "route \"{route}\" target {position} ({})",
                self.type_name()
            )));
        }
        self
    }

    /// Holds every literal the table fixes to the rules each message's rendered values meet, so
    /// a target that could never be sent fails the cold start, not every message.
    fn check_literals(&self, limits: &ContractLimits) -> Result<(), SpecError> {
        const HERE: &str = "the routing table";
        fn literal(t: &Option<Template>) -> Option<&str> {
            t.as_ref().and_then(Template::as_literal)
        }
        match &self.kind {
            SpecKind::Sns {
                subject,
                group_id,
                attributes,
                ..
            } => {
                let declared: Vec<(&str, &str, Option<&str>)> = attributes
                    .iter()
                    .map(|(name, data_type, value)| {
                        (name.as_str(), data_type.as_str(), value.as_literal())
                    })
                    .collect();
                validate::check_sns_literals(HERE, literal(subject), literal(group_id), &declared)
                    .map_err(|e| {
                        let field = match e.field.as_str() {
                            "Subject" => "subject",
                            "MessageGroupId" => "groupId",
                            _ => "attributes",
                        };
                        literal_err(field, e)
                    })
            }
            SpecKind::Mqtt {
                response_topic,
                params,
                ..
            } => {
                let fixed = PublishParams {
                    response_topic: literal(response_topic).map(str::to_owned),
                    ..PublishParams::clone(params)
                };
                // The publish checks name each field as the table does (`qos`, `contentType`, …).
                validate::check_publish_params(HERE, &fixed, limits)
                    .map_err(|e| spec_err(&e.field.clone(), e.rule))
            }
            SpecKind::Fleet {
                product_key,
                devices,
                topic_short_name,
                topic,
                ..
            } => {
                if let Some(key) = product_key.as_literal() {
                    validate::check_product_key(HERE, key)
                        .map_err(|e| literal_err("productKey", e))?;
                }
                for (i, device) in devices.iter().enumerate() {
                    if let Some(name) = device.as_literal() {
                        validate::check_device_name(HERE, name)
                            .map_err(|e| literal_err(&format!("devices[{i}]"), e))?;
                    }
                }
                // With every part fixed, each device's topic is known now: check it whole.
                if let (Some(key), Some(short), false) = (
                    product_key.as_literal(),
                    topic_short_name.as_literal(),
                    topic.reads_message(),
                ) {
                    let nobody = no_message();
                    for device in devices.iter().filter_map(Template::as_literal) {
                        let extras = Extras {
                            product_key: Some(key),
                            device_name: Some(device),
                            topic_short_name: Some(short),
                            ..Extras::default()
                        };
                        let rendered = topic
                            .render(&nobody, &extras)
                            .map_err(|e| spec_err("topic", e))?;
                        validate::check_destination(
                            &Destination::Fleet { topic: rendered },
                            limits,
                        )
                        .map_err(|e| literal_err("topic", e))?;
                    }
                }
                Ok(())
            }
            SpecKind::Live(live) => live.check_literals(),
            SpecKind::Alibaba(spec) => spec.check_literals(limits),
            SpecKind::Analytics { .. } | SpecKind::Events { .. } | SpecKind::Shadow { .. } => {
                Ok(())
            }
        }
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
            SpecKind::Fleet { .. } | SpecKind::Alibaba(_) => return None,
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

    /// Whether rendering reads the message: any of the spec's templates uses a message variable.
    pub fn reads_message(&self) -> bool {
        let reads = |t: &Template| t.reads_message();
        let reads_opt = |t: &Option<Template>| t.as_ref().is_some_and(Template::reads_message);
        match &self.kind {
            SpecKind::Analytics { channel } => reads(channel),
            SpecKind::Events { input } => reads(input),
            SpecKind::Sns {
                topic_arn,
                subject,
                group_id,
                attributes,
                ..
            } => {
                reads(topic_arn)
                    || reads_opt(subject)
                    || reads_opt(group_id)
                    || attributes.iter().any(|(_, _, v)| reads(v))
            }
            SpecKind::Mqtt {
                topic,
                response_topic,
                ..
            } => reads(topic) || reads_opt(response_topic),
            SpecKind::Fleet {
                product_key,
                devices,
                topic_short_name,
                topic,
                ..
            } => {
                reads(product_key)
                    || reads(topic_short_name)
                    || reads(topic)
                    || devices.iter().any(reads)
            }
            SpecKind::Shadow { thing, shadow } => reads(thing) || reads_opt(shadow),
            SpecKind::Live(live) => live.reads_message(),
            SpecKind::Alibaba(spec) => spec.reads_message(),
        }
    }

    /// Whether the target is `alibaba` (it needs the AccessKey).
    pub fn is_alibaba(&self) -> bool {
        matches!(self.kind, SpecKind::Alibaba(_))
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
            SpecKind::Alibaba(_) => "productKey",
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
            SpecKind::Alibaba(_) => "alibaba",
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
                label: self.label.clone(),
                checked_under: self.checked_under,
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
                let params = match render_opt("responseTopic", response_topic)? {
                    None => Arc::clone(params),
                    Some(rendered) => Arc::new(PublishParams {
                        response_topic: Some(rendered),
                        ..PublishParams::clone(params)
                    }),
                };
                push(
                    Destination::Mqtt {
                        topic: render("topic", topic)?,
                    },
                    EntryParams::Publish(params),
                );
            }
            SpecKind::Fleet {
                product_key,
                devices,
                topic_short_name,
                topic,
                qos,
            } => {
                let key = render("productKey", product_key)?;
                if product_key.as_literal().is_none() {
                    validate::check_product_key(FLEET, &key)
                        .map_err(|e| spec_err("productKey", e.rule))?;
                }
                let topic_short_name = render("topicShortName", topic_short_name)?;
                for (i, template) in devices.iter().enumerate() {
                    let field = || format!("devices[{i}]");
                    let device = render(&field(), template)?;
                    if template.as_literal().is_none() {
                        validate::check_device_name(FLEET, &device)
                            .map_err(|e| spec_err(&field(), e.rule))?;
                    }
                    let extras = Extras {
                        product_key: Some(&key),
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
            SpecKind::Alibaba(spec) => spec.render(msg, &mut push)?,
        }
        Ok(())
    }
}

fn render_err(field: &str, e: RenderError) -> SpecError {
    spec_err(field, e)
}

/// Names a fleet's rendered product key or device in an error without quoting it.
const FLEET: &str = "the fleet target";

/// A live destination's target (see `live.rs`), with no variables besides the message's own.
fn live_spec(raw: live::RawLive) -> Result<(SpecKind, bool), SpecError> {
    live::parse(raw, &[]).map(|(spec, ordered)| (SpecKind::Live(spec), ordered))
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
            json!({"type": "fleet", "productKey": "${attributes.pk}", "devices": ["dev-a", "${attributes.dev}"], "topicShortName": "get", "qos": 1}),
            r#"{"id": "m", "attributes": {"pk": "a1B", "dev": "dev-b"}, "payload": 1}"#,
        )
        .unwrap();
        let topics: Vec<_> = targets.iter().map(|t| t.destination.to_string()).collect();
        assert_eq!(
            topics,
            ["fleet:/a1B/dev-a/user/get", "fleet:/a1B/dev-b/user/get"]
        );
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
                .contains("is not a known target type")
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
    fn every_literal_is_checked_at_load_with_the_per_message_rules() {
        let arn = "arn:aws:sns:us-east-1:123456789012:t";
        let fifo = "arn:aws:sns:us-east-1:123456789012:t.fifo";
        let many: serde_json::Map<String, Value> = (0..11)
            .map(|i| (format!("a{i}"), json!({"type": "String", "value": "v"})))
            .collect();
        let cases = [
            (
                json!({"type": "sns", "topicArn": arn, "attributes": {"a": {"type": "Strin", "value": "v"}}}),
                "attributes",
                "DataType",
            ),
            (
                json!({"type": "sns", "topicArn": arn, "attributes": many}),
                "attributes",
                "11 attributes",
            ),
            (
                json!({"type": "sns", "topicArn": arn, "attributes": {"n": {"type": "Number", "value": "ten"}}}),
                "attributes",
                "must be a number",
            ),
            (
                json!({"type": "sns", "topicArn": arn, "attributes": {"s": {"type": "String", "value": "a\tb"}}}),
                "attributes",
                "control character",
            ),
            (
                json!({"type": "sns", "topicArn": arn, "attributes": {"AWS.x": {"type": "String", "value": "v"}}}),
                "attributes",
                "reserved",
            ),
            (
                json!({"type": "sns", "topicArn": arn, "subject": "s".repeat(150)}),
                "subject",
                "at most 100",
            ),
            (
                json!({"type": "sns", "topicArn": fifo, "groupId": "a b"}),
                "groupId",
                "character 2",
            ),
            (
                json!({"type": "mqtt", "topic": "a", "responseTopic": "r/+"}),
                "responseTopic",
                "wildcard",
            ),
            (
                json!({"type": "mqtt", "topic": "a", "messageExpiry": -1}),
                "messageExpiry",
                "0 …",
            ),
            (
                json!({"type": "mqtt", "topic": "a", "contentType": ""}),
                "contentType",
                "empty",
            ),
            (
                json!({"type": "mqtt", "topic": "a", "correlationData": "not base64"}),
                "correlationData",
                "base64",
            ),
            (
                json!({"type": "mqtt", "topic": "a", "userProperties": [{"a": 1}]}),
                "userProperties",
                "string values",
            ),
            (
                json!({"type": "fleet", "productKey": "a1B-x", "devices": ["dev-1"], "topicShortName": "get"}),
                "productKey",
                "character 4",
            ),
            (
                json!({"type": "fleet", "productKey": "a1B", "devices": ["d"], "topicShortName": "get"}),
                "devices[0]",
                "4 to 32",
            ),
            (
                json!({"type": "fleet", "productKey": "a1B", "devices": ["dev/x"], "topicShortName": "get"}),
                "devices[0]",
                "character 4",
            ),
            (
                json!({"type": "fleet", "productKey": "a1B", "devices": ["dev-1"], "topicShortName": "a/b/c/d/e/f"}),
                "topic",
                "over the AWS IoT limit of 7",
            ),
        ];
        for (target, field, rule) in cases {
            let err = parse(target.clone()).unwrap_err();
            assert_eq!(err.field, field, "{target}: {err:?}");
            assert!(err.reason.contains(rule), "{target}: {err:?}");
        }
    }

    #[test]
    fn serde_errors_never_quote_a_value() {
        let marker = "SECRET-MARKER-7f3a";
        for target in [
            json!({"type": "mqtt", "topic": "a", "qos": marker}),
            json!({"type": marker, "topic": "a"}),
            json!({"type": "mqtt", "topic": "a", "retain": marker}),
            json!({"type": "sns", "topicArn": "arn:aws:sns:us-east-1:123456789012:t", "attributes": {"a": {"type": "String", "value": [marker]}}}),
        ] {
            let err = parse(target.clone()).unwrap_err();
            assert!(!err.reason.contains(marker), "{target}: {err:?}");
            assert!(!err.field.contains(marker), "{target}: {err:?}");
        }
        let err = parse(json!({"type": "mqtt", "topic": "a", "qos": "x"})).unwrap_err();
        assert_eq!(err.reason, "has the wrong type or value, expected u8");
        let err = parse(json!({"type": "kafka"})).unwrap_err();
        assert!(
            err.reason
                .starts_with("is not a known target type, expected"),
            "{err:?}"
        );
    }

    #[test]
    fn serde_errors_are_located_at_their_field() {
        let err = parse(json!({"type": "analytics", "chanel": "c"})).unwrap_err();
        assert_eq!(err.field, "chanel");
        let err = parse(json!({"type": "analytics"})).unwrap_err();
        assert_eq!(err.field, "channel");
        let err = parse(json!({"type": "s3"})).unwrap_err();
        assert_eq!(err.field, "type");
        let err = parse(json!({"topic": "a"})).unwrap_err();
        assert_eq!(err.field, "type");
    }

    #[test]
    fn targets_named_by_templates_carry_their_table_label() {
        let specs = super::super::parse_targets(
            "r",
            &[
                json!({"type": "mqtt", "topic": "a"}),
                json!({"type": "mqtt", "topic": "d/${attributes.d}"}),
            ],
            false,
            &ContractLimits::default(),
            &Redirect::default(),
        )
        .unwrap();
        let msg = Message::decode(
            r#"{"id": "m", "attributes": {"d": "x"}, "payload": 1}"#,
            None,
        )
        .unwrap();
        let mut out = Vec::new();
        for spec in &specs {
            spec.render(&msg, &Arc::from("r"), &mut out).unwrap();
        }
        assert_eq!(out[0].label, None);
        assert_eq!(out[1].label.as_deref(), Some("route \"r\" target 2 (mqtt)"));
        assert_eq!(out[1].label(), "route \"r\" target 2 (mqtt)");
        assert_eq!(out[0].label(), "mqtt:a");
    }

    #[test]
    fn only_names_without_templates_count_as_checked_at_load() {
        let msg = r#"{"id": "m", "topic": "a/b", "payload": 1}"#;
        let checked = |v: Value| render(v, msg).unwrap()[0].checked_under;
        let limits = Some(ContractLimits::default());
        assert_eq!(checked(json!({"type": "mqtt", "topic": "out/x"})), limits);
        assert_eq!(
            checked(json!({"type": "sns", "topicArn": "arn:aws:sns:us-east-1:123456789012:t"})),
            limits
        );
        assert_eq!(
            checked(json!({"type": "mqtt", "topic": "out/${topic(2)}"})),
            None
        );
        assert_eq!(
            checked(
                json!({"type": "fleet", "productKey": "a1B", "devices": ["dev-a"], "topicShortName": "get"})
            ),
            None
        );
    }

    #[test]
    fn literal_destinations_are_checked_at_load() {
        let err = parse(json!({"type": "analytics", "channel": "bad-name"})).unwrap_err();
        assert_eq!(err.field, "channel");
        assert!(
            err.reason.starts_with("character 4 is not allowed"),
            "{err:?}"
        );
        let err = parse(json!({"type": "analytics", "channel": "__reserved"})).unwrap_err();
        assert!(err.reason.starts_with("channelName: "), "{err:?}");
        assert!(parse(json!({"type": "analytics", "channel": "ok_${topic(1)}"})).is_ok());
        assert!(parse(json!({"type": "mqtt", "topic": "a/+/b"})).is_err());
    }
}
